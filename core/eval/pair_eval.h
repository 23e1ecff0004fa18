#ifndef KGA_PAIR_EVAL_H
#define KGA_PAIR_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "align/aligner.h"
#include "base/error.h"
#include "stats/metrics.h"
#include "store/dataset.h"

/* Evaluation on labelled candidate pairs: the protocol of record matching
 * (Magellan, DeepMatcher, and the CG-MuAlign paper's comparison with
 * them). Every labelled row of the split is scored alone by the model
 * (kga_aligner_score), exactly these rows and no others, repeats counted as
 * often as they occur:
 *   precision, recall, F1   of the model's decisions: a row is called a
 *                           match when its probability is at least the
 *                           pair threshold (kga_aligner_pair_threshold)
 *   PRAUC, recall@P95,      over the rows ranked by probability
 *   best F1                 (kga_pairs_evaluate)
 * overall and per type of the left entity where the left store has types
 * (untyped rows count overall only). */

typedef struct {
    uint64_t pairs, positives;
    uint64_t predicted;      /* rows called a match */
    uint64_t true_positives; /* ... that are matches */
    double precision, recall, f1; /* 0 where undefined (nothing called or
                                     no positive) */
    kga_pairs_result_t ranked;    /* PRAUC, recall@P95, best F1, curve */
} kga_pair_metrics_t;

typedef struct {
    uint32_t type; /* the type id in the left store */
    char *name;    /* owned copy */
    kga_pair_metrics_t metrics;
} kga_pair_eval_group_t;

typedef struct {
    double threshold;
    kga_pair_metrics_t all;
    kga_pair_eval_group_t *groups; /* rows' left types, by type id */
    size_t n_groups;
    float *probability; /* per row, in the order of the rows */
    double eval_seconds;
} kga_pair_eval_result_t;

/* Scores rows (internal ids of a's stores) and fills *out (owned:
 * kga_pair_eval_result_destroy). Returns 0, KGA_EINVAL (an id out of
 * range), KGA_ELIMIT or KGA_ENOMEM with a message. */
int kga_pair_evaluate(const kga_aligner_t *a, const kga_labelled_t *rows,
                      kga_pair_eval_result_t *out, kga_err_t *err);

/* The metrics of n rows with probabilities and labels at threshold (no
 * aligner needed; kga_pair_evaluate() uses it). Returns 0 or KGA_ENOMEM /
 * KGA_ELIMIT. */
int kga_pair_metrics(const float *probability, const uint8_t *label,
                     size_t n, double threshold, kga_pair_metrics_t *out);

void kga_pair_eval_result_destroy(kga_pair_eval_result_t *r);

#endif
