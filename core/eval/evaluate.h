#ifndef KGA_EVALUATE_H
#define KGA_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "align/aligner.h"
#include "store/dataset.h"
#include "base/error.h"
#include "stats/metrics.h"

/* Evaluation of a trained aligner on gold links, left to right (the OpenEA /
 * DBP15K protocol): every left entity of the links is a query, and the
 * candidate domain is the set of the links' right entities. The aligner
 * returns the k best candidates of each query; then
 *   ranking         the rank of the true match among its query's candidates,
 *                   by distance, ties counted against the true match; a true
 *                   match outside the candidates (or with a NaN distance) is
 *                   a miss. Hits@1/5/10 and MRR over all queries, misses
 *                   included, overall and per entity type of the query;
 *   candidate recall the fraction of queries whose true match is among their
 *                   candidates (it caps Hits@k);
 *   classification  every (query, candidate) pair, labelled by whether the
 *                   candidate is the true match, scored by its probability;
 *                   a true match outside the candidates is added as a
 *                   positive without a score (NaN), so it counts as missed
 *                   and cannot inflate PRAUC. kga_pairs_evaluate() gives
 *                   PRAUC, best F1, recall at precision 0.95, the PR curve
 *                   and the score histograms.
 * All of it is in a kga_eval_result_t, which owns its memory:
 * kga_eval_result_destroy(). Functions return 0 or a negative KGA_E* code
 * with a message in err; on failure the result holds nothing (destroy is
 * still safe). */

#define KGA_EVAL_DEFAULT_K 50

/* The ranking of the queries of one entity type. */
typedef struct {
    uint32_t group;   /* group index: the type id in the left store */
    char *name;       /* owned copy of the group's name */
    kga_ranking_result_t ranking;
    double candidate_recall;
} kga_eval_group_t;

typedef struct {
    size_t k;          /* candidate slots per query actually used */
    uint64_t queries;  /* = links evaluated */
    uint64_t pairs;    /* (query, candidate) pairs with a candidate */
    uint64_t positives; /* = queries: each has one true match */
    uint64_t found;    /* queries whose true match is among the candidates */

    kga_ranking_result_t ranking;
    double candidate_recall; /* found / queries; 0 when there is no query */
    /* Over pairs + (queries - found) pairs: the missed positives enter
     * with a NaN score. */
    kga_pairs_result_t classification;

    /* Groups with at least one query, in increasing group index. */
    kga_eval_group_t *groups;
    size_t n_groups;

    /* The candidates, queries * k, query q at [q * k ..], best first, unused
     * slots with entity UINT32_MAX; queries in the order of the links.
     * Filled by kga_evaluate() only (NULL otherwise). */
    kga_candidate_t *candidates;

    double eval_seconds; /* wall time of the call that filled the result */
} kga_eval_result_t;

/* The metrics over candidate lists already computed: cands holds n * k
 * candidates (query q at [q * k ..], slots with entity UINT32_MAX are
 * empty), true_right[q] is the true match of query q. group (NULL: no
 * groups) gives the group of each query below n_groups, or KGA_GROUP_NONE;
 * group_names (NULL: "group N") names the n_groups groups. Everything is
 * borrowed; *out is filled (out->candidates stays NULL). KGA_EINVAL for
 * k == 0 with n > 0 or NULL arrays, KGA_ERANGE for a group out of range,
 * KGA_ELIMIT for too many pairs or groups, KGA_ENOMEM. */
int kga_evaluate_candidates(const kga_candidate_t *cands, size_t k,
                            const uint32_t *true_right, size_t n,
                            const uint32_t *group,
                            const char *const *group_names,
                            uint32_t n_groups, kga_eval_result_t *out,
                            kga_err_t *err);

/* Evaluates a on links (internal ids of a's stores; a 1:1 set, as
 * kga_pairs_read gives it) with k candidates per query (clamped to the
 * number of links): candidates by kga_aligner_rank() against the links'
 * right entities, groups by the entity type of the left entity (untyped
 * queries count overall only). out->candidates keeps the candidate lists
 * (they are needed during the call anyway). Same errors as
 * kga_evaluate_candidates() and kga_aligner_rank(); k == 0 is KGA_EINVAL.
 * Uses the aligner's threads: not to be called on one aligner from two
 * threads at once. */
int kga_evaluate(const kga_aligner_t *a, const kga_pairs_t *links, size_t k,
                 kga_eval_result_t *out, kga_err_t *err);

/* Frees what the result owns and zeroes it. */
void kga_eval_result_destroy(kga_eval_result_t *r);

#endif
