#ifndef KGA_OPEN_WORLD_H
#define KGA_OPEN_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/pair.h"
#include "base/pool.h"
#include "base/progress.h"
#include "stats/calibrate.h"
#include "align/scorer.h"

/* Open-world decisions: real catalogues overlap only in part, so the best
 * candidate of a query is often not its counterpart because it has none.
 * The pair scorer (scorer.h) says how alike two entities are; this says
 * how likely a candidate is THE counterpart, from three facts about it:
 *
 *   a  its pair logit (scorer.h);
 *   m  its margin over the query's best other candidate;
 *   v  its margin over its rival: the best pair logit any other query
 *      reaches with the same right entity (a candidate another entity
 *      matches better is probably that one's counterpart).
 *
 * Four more say whether the neighbourhoods agree: how many neighbours of
 * the left entity have a seed partner (fusion.h) among the neighbours of
 * the right one, as a count and as a share of the smaller degree, and how
 * many could have (the smaller of the two sides' counts of neighbours in
 * a seed), with the count's share of that: a namesake without counterpart
 * has other neighbours, and two neighbourhoods full of seeds that share
 * none say more than two without seeds.
 *
 * A logistic regression over (a, m, log sigmoid(v), log sigmoid(min(m, v)),
 * [best by a], the agreement) and the pair's own features (scorer.h: names
 * count for more here than in ranking, where every candidate has a similar
 * name) gives the probability; the rival margins saturate, so that an
 * unrivalled candidate is not a match on that alone. It is fitted on every
 * candidate of the first KGA_OW_TOPK of each validation link's list, then
 * its logit rescaled (Platt) on the best row of each, the one a decision
 * keeps, in a simulated open world: the
 * right entities of a share of them are hidden from the candidates, so
 * their left entities have no counterpart, as many queries will have. The
 * share of queries with a counterpart differs between that simulation and
 * the real graph, so the intercept is then moved to the share estimated on
 * the real queries (EM over the classifier's own probabilities, Saerens,
 * Latinne and Decaestecker 2002): nothing reads a test link. With too few
 * validation links for rows of both kinds (a handful of labelled pairs)
 * the decision falls back to the sigmoid of the pair logit.
 *
 * Queries are the left entities in no known link (training or validation);
 * candidates the right entities in no known link: a right entity already
 * linked is taken. The rival of each right entity is computed once, at
 * training, over all queries, and stored in the model, so that `align`,
 * `eval` and the service's /match give one entity the same answer. */

/* The decision's own features, before the pair scorer's. */
#define KGA_OW_OWN_FEATURES 9u
#define KGA_OW_FEATURES (KGA_OW_OWN_FEATURES + KGA_SCORER_FEATURES)

/* Candidates per query when the rivals are computed and the decision fitted. */
#define KGA_OW_TOPK 20u

/* Candidates the fusion proposes per query before the pair scorer reranks
 * them, at training and when answering alike: the rival table is only
 * right for lists made the same way. */
#define KGA_OW_PROPOSALS 64u

/* Margins are clipped to this many logit units; a query with one candidate
 * or a right entity without a rival gets the clip. */
#define KGA_OW_CLIP 30.0f

typedef struct {
    kga_logreg_t logreg; /* over kga_ow_features(); intercept prior-shifted */
    uint32_t n_right;
    float *rival_best;    /* per right entity: best logit of a query */
    float *rival_second;  /* the second best, of another query */
    uint32_t *rival_left; /* the query of rival_best, UINT32_MAX: none */
    /* Per left entity: its partner among the fusion's seeds (training
     * links and bootstrapped pairs), UINT32_MAX: none. Derived from the
     * scorer (kga_ow_partners_init), never stored. */
    uint32_t *partner;
    /* Per right entity: 1 when it is in a seed; same origin. */
    uint8_t *right_seeded;
    uint32_t n_right_seeded;
} kga_ow_t;

/* What fitting did, for logs and reports. */
typedef struct {
    uint32_t queries;          /* left entities in no known link */
    uint32_t sim_queries;      /* validation queries of the simulation */
    uint32_t sim_hidden;       /* of which with the counterpart hidden */
    uint32_t sim_rows;         /* rows fitted (best and runner-up) */
    double sim_prior;          /* share of simulated best rows correct */
    double real_prior;         /* share estimated on the real queries */
    double sim_ece;            /* calibration error on the fitted rows */
    int fallback;              /* the rows held one class only: the
                                  decision is the pair logit's sigmoid */
    double seconds;
} kga_ow_report_t;

/* Fills ow->partner from the scorer's fusion seeds. Returns 0 or
 * KGA_ENOMEM. */
int kga_ow_partners_init(kga_ow_t *ow, const kga_scorer_t *s);

/* The feature vector of the candidate at `rank` (0: the best by pair
 * logit) of a list (f has KGA_OW_FEATURES floats). */
void kga_ow_features(const kga_ow_t *ow, const kga_scorer_t *s,
                     uint32_t left, uint32_t right, float logit,
                     float margin, float rival_margin, size_t rank, float *f);

/* kga_ow_features() for a pair given by views (scorer.h), the query
 * possibly an entity described inline; scratch holds
 * kga_scorer_scratch() floats. The same values for stored entities. */
void kga_ow_features_view(const kga_ow_t *ow, const kga_scorer_t *s,
                          const kga_scorer_entity_t *left,
                          const kga_scorer_entity_t *right, float logit,
                          float margin, float rival_margin, size_t rank,
                          float *scratch, float *f);

/* The rival margin of candidate `right` of query `left` with pair logit
 * `logit` (a rival that is the query itself does not count). */
float kga_ow_rival_margin(const kga_ow_t *ow, uint32_t left, uint32_t right,
                          float logit);

/* The open-world probability of candidate r of one query whose candidates
 * ent[0..n) have pair logits logit[0..n), best first; 0 past the first
 * KGA_OW_TOPK, which the rivals do not cover. */
double kga_ow_prob(const kga_ow_t *ow, const kga_scorer_t *s,
                   uint32_t query, const uint32_t *ent, const float *logit,
                   size_t n, size_t r);

/* kga_ow_prob() for a query given by its view (stored candidates ent). An
 * inline query is no stored query, so every rival counts against it. */
double kga_ow_prob_view(const kga_ow_t *ow, const kga_scorer_t *s,
                        const kga_scorer_entity_t *query,
                        const uint32_t *ent, const float *logit, size_t n,
                        size_t r, float *scratch);

/* Candidates by the full pair scorer: for each query lefts[q], its k best
 * right entities among rights[0..nr) (NULL: all), best first by pair logit
 * (ties by external id), in ent[q * k ..] and logit[q * k ..]; unused
 * slots UINT32_MAX / -inf. The fusion proposes max(k, KGA_OW_PROPOSALS)
 * of them. Runs on pool; progress (may be NULL) gets the two passes as
 * "<what>: candidate search" and "<what>: scoring the candidates".
 * Returns 0 or a KGA_E* code with a message. */
int kga_ow_rank(const kga_scorer_t *s, const uint32_t *lefts, size_t nl,
                const uint32_t *rights, size_t nr, size_t k,
                kga_pool_t *pool, const kga_progress_t *progress,
                const char *what, uint32_t *ent, float *logit,
                kga_err_t *err);

/* Marks (hide[r] = 1, hide zeroed by the caller, one byte per right
 * entity) the right entities of the validation links that the simulation
 * hides, a share chosen by seed and by external ids, never internal ids.
 * The fusion keeps them out of its domain too (exclude_right), so that a
 * hidden counterpart is as absent as a real one. Returns how many. */
size_t kga_ow_hidden_mark(const kga_store_t *right, const kga_pair_t *valid,
                          size_t nv, uint64_t seed, uint8_t *hide);

/* Fits *out (kga_ow_destroy) for the scorer s, whose pair logistic
 * regression is complete, from the training and validation links
 * (internal ids); hide as kga_ow_hidden_mark() marked it. sim scores the
 * simulation (s itself, or s with another fusion). s's fusion must have
 * been trained with the hidden right entities out of its domain
 * (kga_fusion_params_t.exclude_right). progress (may be NULL) gets the
 * two rankings. */
int kga_ow_fit(const kga_scorer_t *s, const kga_scorer_t *sim,
               const kga_pair_t *train, size_t nt,
               const kga_pair_t *valid, size_t nv, const uint8_t *hide,
               kga_pool_t *pool, const kga_progress_t *progress,
               kga_ow_t *out, kga_ow_report_t *report, kga_err_t *err);

void kga_ow_destroy(kga_ow_t *ow);

#endif
