#ifndef KGA_ALIGNER_H
#define KGA_ALIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

/* A trained aligner ready to answer: the two graph stores, the model file,
 * and every per-entity quantity that does not depend on the pair (the lower
 * GNN layers, the candidate vectors, the name features), computed once at
 * open. After kga_aligner_open() returns, the aligner is immutable: every
 * function below may be called from any number of threads at once. It is
 * what the server's snapshot holds and what `kgalign eval` and `align` use,
 * so the service scores a pair exactly as the offline tools do. */

typedef struct kga_aligner kga_aligner_t;

typedef enum { KGA_SIDE_LEFT = 0, KGA_SIDE_RIGHT = 1 } kga_side_t;

typedef struct {
    float distance;    /* model distance, lower = more alike */
    float probability; /* calibrated probability that the pair matches */
    int match;         /* probability >= the decision threshold */
} kga_pair_score_t;

typedef struct {
    uint32_t entity; /* internal id on the other side */
    kga_pair_score_t score;
} kga_candidate_t;

/* One piece of evidence for a pair: a neighbour of the left entity and a
 * neighbour of the right entity that the cross-graph attention paired, the
 * relations that reach them, and their weight (alpha * beta). */
typedef struct {
    uint32_t left_neighbour, right_neighbour;
    uint32_t left_relation, right_relation; /* store relation ids */
    kga_dir_t left_dir, right_dir;
    float weight;
} kga_evidence_t;

typedef struct {
    int threads;     /* for the work done at open (0 = all cores) */
    float threshold; /* decision threshold; < 0 = the model's default */
} kga_aligner_options_t;

/* Opens left_store, right_store and model_path and prepares the caches.
 * Fails (KGA_EMISMATCH) when the model was trained on other stores. On
 * failure *out is NULL and err names the file and what was wrong. */
int kga_aligner_open(const char *left_store, const char *right_store,
                     const char *model_path,
                     const kga_aligner_options_t *options,
                     kga_aligner_t **out, kga_err_t *err);

void kga_aligner_close(kga_aligner_t *a);

/* The stores (owned by the aligner). */
const kga_store_t *kga_aligner_store(const kga_aligner_t *a, kga_side_t side);

/* Identifies the model: the model file's checksum as 16 hex digits. */
const char *kga_aligner_model_version(const kga_aligner_t *a);
float kga_aligner_threshold(const kga_aligner_t *a);

/* Scores n pairs (internal ids, left[i] with right[i]) into out[i]. Ids must
 * be in range (callers resolve external ids with kga_store_lookup). Runs on
 * the calling thread; allocation-free. */
void kga_aligner_score(const kga_aligner_t *a, const uint32_t *left,
                       const uint32_t *right, size_t n,
                       kga_pair_score_t *out);

/* The k best candidates on the other side for entity `ent` of `side`,
 * generated and reranked by the full model, best first. Returns the number
 * written to out (at most k). */
size_t kga_aligner_match(const kga_aligner_t *a, kga_side_t side,
                         uint32_t ent, size_t k, kga_candidate_t *out);

/* The evidence with the largest weights for a pair, best first. Returns the
 * number written (at most cap). */
size_t kga_aligner_explain(const kga_aligner_t *a, uint32_t left,
                           uint32_t right, kga_evidence_t *out, size_t cap);

#endif
