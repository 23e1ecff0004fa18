#ifndef KGA_OPEN_WORLD_EVAL_H
#define KGA_OPEN_WORLD_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "align/aligner.h"
#include "base/error.h"
#include "store/dataset.h"

/* Open-world evaluation: the decisions `kgalign align` makes, judged
 * against gold links. Every left entity in no known link (the training and
 * validation links the model was trained with) is a query against all
 * right entities in no known link (kga_aligner_decide()). A query in a gold
 * link has that counterpart; a query in no gold link counts as having
 * none, which is true where the gold links are complete (synthetic pairs,
 * OpenEA's sets) and an assumption elsewhere (DBP15K leaves entities
 * unlinked that may have a counterpart): the counts say how many queries
 * were taken either way.
 *
 * A row is one query: its best candidate and that candidate's probability.
 * It is correct when the candidate is the query's counterpart (never for a
 * query without one). Precision and recall are those of the `match` rows;
 * the calibration table bins all rows, matched or not. */

#define KGA_OWE_BINS 5u

/* Calibration bin [lo, hi) (the last one includes 1). */
typedef struct {
    double lo, hi;
    uint64_t rows;
    double mean_probability; /* NaN when empty */
    double share_correct;    /* NaN when empty */
} kga_owe_bin_t;

typedef struct {
    uint32_t left;
    uint32_t right;  /* best candidate, UINT32_MAX: none */
    uint32_t truth;  /* gold counterpart, UINT32_MAX: none */
    uint32_t runner; /* runner-up, UINT32_MAX: none */
    float probability, runner_probability;
    int match;
} kga_owe_row_t;

typedef struct {
    uint64_t queries;             /* left entities in no known link */
    uint64_t with_counterpart;    /* queries in a gold link */
    uint64_t without_counterpart; /* queries in no gold link */
    uint64_t gold_skipped;        /* gold links of known-linked entities */
    uint64_t matches, correct_matches;
    uint64_t without_matched;     /* queries without counterpart matched */
    double threshold;
    double precision, recall, f1;
    double without_matched_share; /* NaN when there is no such query */
    double ece;                   /* over the bins, weighted by rows */
    kga_owe_bin_t bins[KGA_OWE_BINS];
    kga_owe_row_t *rows;          /* one per query, in left id order */
    size_t n_rows;
    double seconds;
} kga_owe_result_t;

/* Decides every query and scores the decisions against gold (internal ids,
 * one-to-one, resolved against the aligner's stores). *out owns its rows:
 * kga_owe_result_destroy(). Returns 0, KGA_ENOMEM, or what
 * kga_aligner_decide() returns, with a message. */
int kga_owe_evaluate(const kga_aligner_t *a, const kga_pairs_t *gold,
                     kga_owe_result_t *out, kga_err_t *err);

/* Indices of the at most cap rows that are most confidently wrong (a match
 * that is not the counterpart, by probability; then a counterpart missed,
 * by how low it was scored), worst first. Returns how many. */
size_t kga_owe_worst(const kga_owe_result_t *r, size_t *idx, size_t cap);

void kga_owe_result_destroy(kga_owe_result_t *r);

#endif
