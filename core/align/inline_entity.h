#ifndef KGA_INLINE_ENTITY_H
#define KGA_INLINE_ENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "align/aligner.h"
#include "align/scorer.h"
#include "base/error.h"

/* An entity that a request describes instead of naming (the model is
 * inductive: it reads an entity's names and neighbours, not its id). Its
 * description is what an import would have read about it: attribute
 * triples and relation triples to entities of the store. From it come
 * what the trained model reads of a stored entity, computed as at
 * training:
 *   the name   the best label attribute, else the id's last segment, as
 *              the importer names entities (store/names.h); its TF-IDF row
 *              with the model's n-gram buckets and idf;
 *   the type   a type attribute (or an rdf:type edge), the bytewise
 *              smallest, when the store knows it;
 *   structure  each propagation step from its neighbours' rows
 *              (kga_structure_row());
 *   the GNN    a probe: its own sample of neighbours, layer 1 from their
 *              level 0, the last layer from their cached layer 1
 *              (kga_gnn_probe_new()); no learned entity vector;
 *   scaling    a left entity: one more Sinkhorn row step over its
 *              candidates (kga_fusion_row_scale()); a right entity: the
 *              median of the others' (kga_fusion_outside_lv()).
 * The stores are not changed: no stored entity hears from it.
 *
 * Neighbours and relations the store does not have are skipped and
 * counted. An entity with no attribute and no neighbour in the store has
 * nothing the model can compare, and is refused. */

typedef struct {
    const char *key, *value;
} kga_inline_attr_t;

/* dir: KGA_DIR_IN when the neighbour is the head of the triple (neighbour
 * -relation-> entity), KGA_DIR_OUT when it is the tail. */
typedef struct {
    const char *relation, *neighbour;
    kga_dir_t dir;
} kga_inline_edge_t;

typedef struct {
    const char *id; /* not empty; need not be new to the store */
    const kga_inline_attr_t *attrs;
    size_t n_attrs;
    const kga_inline_edge_t *edges;
    size_t n_edges;
} kga_inline_desc_t;

typedef struct kga_inline_entity kga_inline_entity_t;

/* Most attributes and edges a description may have. */
#define KGA_INLINE_MAX_ATTRS 4096u
#define KGA_INLINE_MAX_EDGES 65536u

/* Builds the entity of `side` that d describes, for aligner a (which it
 * reads while it lives; the strings of d are copied as needed). Returns
 * 0, KGA_EINVAL (an empty id, too many attributes or edges, or nothing to
 * compare: the message says which, naming the entity) or KGA_ENOMEM.
 * Thread-safe; the result is the caller's (kga_inline_entity_free). */
int kga_inline_entity_new(const kga_aligner_t *a, kga_side_t side,
                          const kga_inline_desc_t *d,
                          kga_inline_entity_t **out, kga_err_t *err);

void kga_inline_entity_free(kga_inline_entity_t *e);

/* The entity as the scorer reads it (valid while e lives). */
const kga_scorer_entity_t *kga_inline_entity_view(
    const kga_inline_entity_t *e);

kga_side_t kga_inline_entity_side(const kga_inline_entity_t *e);
const char *kga_inline_entity_id(const kga_inline_entity_t *e);
/* The display name it was given ("" when none). */
const char *kga_inline_entity_name(const kga_inline_entity_t *e);
/* Edges skipped: the neighbour, or the relation, is not in the store. */
uint32_t kga_inline_entity_unknown_neighbours(const kga_inline_entity_t *e);
uint32_t kga_inline_entity_unknown_relations(const kga_inline_entity_t *e);

/* The candidates found when it was built, or NULL for a right entity:
 * the *n best right entities in no known link by fused score
 * (kga_fusion_topk_row()), what kga_aligner_match_ref() reuses instead of
 * searching again. */
const uint32_t *kga_inline_entity_candidates(const kga_inline_entity_t *e,
                                             size_t *n);

#endif
