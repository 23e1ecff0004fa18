#ifndef KGA_METRICS_H
#define KGA_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Evaluation metrics of entity alignment, as pure computations over scores
 * the caller provides: no I/O, no allocation beyond what a call documents.
 *
 * Scores: HIGHER IS BETTER everywhere (a similarity or a match probability).
 * Callers holding distances pass their negation. A NaN score never ranks
 * above anything: it is treated as "no score at all" (see each function).
 *
 * Ranking follows the OpenEA / DBP15K convention. The direction is the
 * caller's: kgalign ranks left to right, each test left entity being a query
 * against the right candidates. Ties count AGAINST the true match, so a
 * scorer that gives every pair the same score gets Hits@1 = 0 and ids can
 * never leak through tie order. */

/* ---- Ranking ---------------------------------------------------------- */

/* The rank of a query whose true match is not among the candidates (or has
 * a NaN score): it counts in the query total and adds 0 to Hits@k and MRR. */
#define KGA_RANK_MISS 0u

/* Group index for a query that belongs to no group (e.g. an entity without
 * a type): it counts in the overall result only. */
#define KGA_GROUP_NONE UINT32_MAX

/* Upper bound on the number of groups an accumulator accepts. */
#define KGA_RANKING_GROUPS_MAX (1u << 20)

/* Rank of the true match: 1 + the number of OTHER candidates whose score is
 * >= true_score. NaN entries of other_scores are not counted; a NaN
 * true_score gives KGA_RANK_MISS. other_scores may be NULL when n_other is
 * 0. Saturates at UINT32_MAX. */
uint32_t kga_rank_with_ties(float true_score, const float *other_scores,
                            size_t n_other);

/* Raw counts of one set of queries. */
typedef struct {
    uint64_t queries; /* ranks added, misses included */
    uint64_t misses;
    uint64_t hits1, hits5, hits10; /* ranks 1 <= r <= k */
    double rr_sum;                  /* sum of 1/rank; misses add 0 */
} kga_rank_counts_t;

/* Final values. All fractions of `queries` (misses included in the
 * denominator), in [0, 1]; all 0 when queries is 0. */
typedef struct {
    uint64_t queries;
    uint64_t misses;
    double hits_at_1, hits_at_5, hits_at_10, mrr;
} kga_ranking_result_t;

/* An accumulator of ranks, overall and per group (per entity type). The
 * caller owns the struct; its fields are private. One accumulator per
 * thread; kga_ranking_merge() combines them. */
typedef struct {
    kga_rank_counts_t all;
    kga_rank_counts_t *group; /* n_groups entries, owned */
    uint32_t n_groups;
} kga_ranking_t;

/* Prepares *r with n_groups groups (0 is allowed). Returns 0, KGA_ELIMIT
 * when n_groups exceeds KGA_RANKING_GROUPS_MAX, or KGA_ENOMEM; on failure
 * *r is left so that kga_ranking_destroy() is still safe. */
int kga_ranking_init(kga_ranking_t *r, uint32_t n_groups);

/* Adds one query's rank (KGA_RANK_MISS for a miss) to the overall counts
 * and, unless group is KGA_GROUP_NONE, to that group's. Returns 0, or
 * KGA_ERANGE when group is neither KGA_GROUP_NONE nor below n_groups; then
 * nothing is counted. */
int kga_ranking_add(kga_ranking_t *r, uint32_t rank, uint32_t group);

/* Adds src's counts to dst's. Returns 0, or KGA_EINVAL when the group
 * counts differ (then dst is unchanged). */
int kga_ranking_merge(kga_ranking_t *dst, const kga_ranking_t *src);

/* The overall result. */
void kga_ranking_result(const kga_ranking_t *r, kga_ranking_result_t *out);

/* The result of one group. Returns 0, or KGA_ERANGE for group >= n_groups
 * (then *out is zeroed). */
int kga_ranking_group_result(const kga_ranking_t *r, uint32_t group,
                             kga_ranking_result_t *out);

/* Releases the group counts; *r may then be initialised again. */
void kga_ranking_destroy(kga_ranking_t *r);

/* ---- Pair classification ---------------------------------------------- */

/* Precision floor of kga_pairs_result_t.recall_at_p95. */
#define KGA_RECALL_PRECISION_NUM 95u
#define KGA_RECALL_PRECISION_DEN 100u

/* Most points kept of the precision-recall curve, and histogram bins. */
#define KGA_PR_CURVE_MAX 256
#define KGA_HIST_BINS 40

/* Upper bound on the number of pairs of one evaluation. */
#define KGA_PAIRS_MAX ((size_t)1 << 32)

/* One point of the precision-recall curve: predicting "match" for every
 * pair with score >= threshold gives this precision and recall. */
typedef struct {
    float threshold;
    double precision, recall;
} kga_pr_point_t;

/* Classification of (left, candidate) pairs with binary labels.
 *
 * Pairs with equal scores form one threshold group: they are predicted
 * positive together, so no result depends on the order of the input.
 * A pair with a NaN score is never predicted positive: a NaN positive still
 * counts among the positives (it lowers recall), a NaN negative changes
 * nothing.
 *
 * Definitions with P positives and, at each threshold group in decreasing
 * score order, tp / fp the positives / negatives at or above it:
 *   prauc          average precision: sum over groups of
 *                  (new tp of the group / P) * precision at the group;
 *   best_f1        max over groups of 2 tp / (tp + fp + P), reached first
 *                  (at the highest threshold) at best_threshold;
 *                  below_best is the score of the next group down
 *                  (-INFINITY when there is none), so that a threshold
 *                  between the two splits the pairs the same way;
 *   recall_at_p95  the largest recall over groups whose precision is >=
 *                  0.95 (exactly: 100 tp >= 95 (tp + fp)), 0 if none;
 *                  p95_threshold is the highest threshold reaching it.
 * Degenerate inputs: with no positives (n = 0, all negative, all NaN
 * positives) prauc, best_f1 and recall_at_p95 are 0 and the thresholds are
 * +INFINITY (predict nothing). All-positive input gives 1, 1, 1.
 *
 * The curve keeps at most KGA_PR_CURVE_MAX points in decreasing threshold
 * (increasing recall) order: the first group, the last, and the first group
 * of each recall step of 1 / (KGA_PR_CURVE_MAX - 2).
 *
 * Histograms count non-NaN scores of positive and negative pairs in
 * KGA_HIST_BINS equal bins over [hist_lo, hist_hi]: [0, 1] when every finite
 * score lies in it (probabilities), otherwise [min, max] of the finite
 * scores (width 1 when they are all equal). Infinite scores go to the end
 * bins. */
typedef struct {
    uint64_t n;      /* pairs */
    uint64_t n_pos;  /* label != 0, NaN scores included */
    uint64_t n_neg;  /* label == 0, NaN scores included */
    uint64_t n_nan;  /* pairs with a NaN score */
    uint64_t n_groups; /* distinct non-NaN scores */

    double prauc;
    double best_f1, best_precision, best_recall;
    float best_threshold;
    float below_best;
    double recall_at_p95;
    float p95_threshold;

    size_t n_curve;
    kga_pr_point_t curve[KGA_PR_CURVE_MAX];

    double hist_lo, hist_hi;
    uint64_t hist_pos[KGA_HIST_BINS];
    uint64_t hist_neg[KGA_HIST_BINS];
} kga_pairs_result_t;

/* Evaluates n pairs: score[i] (higher = more likely a match) and label[i]
 * (nonzero = a true match). score and label may be NULL when n is 0. Uses
 * 16 n bytes of temporary memory; O(n) time (radix sort). Fills *out and
 * returns 0, or KGA_ELIMIT for n > KGA_PAIRS_MAX, KGA_ENOMEM; on failure
 * *out is zeroed. */
int kga_pairs_evaluate(const float *score, const uint8_t *label, size_t n,
                       kga_pairs_result_t *out);

#endif
