#ifndef KGA_EXPLAIN_H
#define KGA_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "align/aligner.h"
#include "align/scorer.h"
#include "base/error.h"

/* Explanations of a pair for a reviewer (kga_aligner_explain()): the
 * neighbour pairs the model believes are the same entity, and the name
 * similarity of the pair itself.
 *
 * A neighbour p of the left entity and a neighbour q of the right entity
 * are evidence when the model holds (p, q) to be one entity: a known link
 * (the training and validation links, kga_aligner_known_partner()), a
 * pseudo-seed (a mutual-argmax pair the fusion bootstrapped from, in the
 * model's seeds, unless a known link overrules it), or a mutual best match
 * (two neighbours in neither whose fused probability P is at least one
 * half, so each is the other's likeliest match: the pseudo-seeds' test,
 * made on the spot, for the models whose kept fusion round has none).
 * Pairing every neighbour with every other, as the GNN's cross attention
 * does, put the label of a song against its genre; only a believed-same
 * pair says "both are connected to the same thing". Of several relations
 * that reach a pair, the one in the same direction on both sides and then
 * the rarer (lower fan-out) is shown.
 *
 * Weight: 1 for a known link, the pair probability of (p, q) otherwise.
 * Ties go to known links, then to the rarer neighbour pair (fewer edges on
 * both sides: sharing a record label says more than sharing a country),
 * then to the rarer relations, then to the external ids; never to internal
 * ids.
 *
 * The explainer is built once at open and read-only afterwards. */

typedef struct kga_explainer kga_explainer_t;

/* Neighbour pairs collected per pair before the best are chosen, a bound
 * on the stack: a hub with more believed-same neighbour pairs keeps those
 * that rank best by kind and rarity (known links first), and only those are
 * weighed. */
#define KGA_EXPLAIN_COLLECT 256u

/* Neighbours of each entity in no known link and no pseudo-seed that are
 * tried as mutual best matches (the rarest). */
#define KGA_EXPLAIN_FREE 32u

/* Builds the pseudo-seed table of an opened aligner: every seed of its
 * fusion (fusion.h) of which neither entity is in a known link. Called by
 * kga_aligner_open() once the scorer and the known links are loaded. The
 * result is owned by the caller (kga_explainer_free). Returns 0 or
 * KGA_ENOMEM / KGA_EFORMAT (a seed out of range) with err set. */
int kga_explainer_new(const kga_aligner_t *a, kga_explainer_t **out,
                      kga_err_t *err);

void kga_explainer_free(kga_explainer_t *x);

/* The evidence for the pair (left, right), given by their views
 * (scorer.h: stored entities, or entities described inline, whose
 * neighbours are stored), strongest first: the name item first when the
 * model uses names, then the neighbour pairs by weight. Writes at most cap
 * items and returns their number. Runs on the calling thread without
 * allocating. */
size_t kga_explainer_explain(const kga_explainer_t *x, const kga_aligner_t *a,
                             const kga_scorer_entity_t *left,
                             const kga_scorer_entity_t *right,
                             kga_evidence_t *out, size_t cap);

#endif
