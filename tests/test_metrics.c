/* Evaluation metrics: ranks with ties, Hits@k and MRR, per-group counts,
 * PRAUC / best F1 / recall at precision 0.95 against hand computations and a
 * brute-force reference, and the HTML report. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/report.h"
#include "stats/metrics.h"

#include "testutil.h"

#define EPS 1e-12

/* A small deterministic generator so that failures reproduce. */
static uint64_t lcg_state;

static uint32_t lcg_next(void)
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(lcg_state >> 33);
}

static double lcg_unit(void)
{
    return lcg_next() / 2147483648.0;
}

/* ---- Ranking ---------------------------------------------------------- */

START_TEST(rank_counts_ties_against_true_match)
{
    const float others[] = {0.1f, 0.5f, 0.9f};
    ck_assert_uint_eq(kga_rank_with_ties(0.5f, others, 3), 3);
    ck_assert_uint_eq(kga_rank_with_ties(0.95f, others, 3), 1);
    ck_assert_uint_eq(kga_rank_with_ties(0.0f, others, 3), 4);
    ck_assert_uint_eq(kga_rank_with_ties(0.3f, NULL, 0), 1);

    /* Every pair scored alike: the true match is last of n. */
    const float same[] = {1.0f, 1.0f, 1.0f, 1.0f};
    ck_assert_uint_eq(kga_rank_with_ties(1.0f, same, 4), 5);

    /* -0 equals +0; +inf ties with +inf. */
    const float negzero[] = {-0.0f};
    ck_assert_uint_eq(kga_rank_with_ties(0.0f, negzero, 1), 2);
    const float inf[] = {INFINITY, -INFINITY};
    ck_assert_uint_eq(kga_rank_with_ties(INFINITY, inf, 2), 2);
}
END_TEST

START_TEST(all_equal_scorer_gets_no_hits)
{
    enum { N = 100 };
    float others[N - 1];
    for (int i = 0; i < N - 1; i++)
        others[i] = 0.25f;
    kga_ranking_t r;
    ck_assert_int_eq(kga_ranking_init(&r, 0), 0);
    for (int q = 0; q < N; q++) {
        uint32_t rank = kga_rank_with_ties(0.25f, others, N - 1);
        ck_assert_uint_eq(rank, N);
        ck_assert_int_eq(kga_ranking_add(&r, rank, KGA_GROUP_NONE), 0);
    }
    kga_ranking_result_t res;
    kga_ranking_result(&r, &res);
    ck_assert_uint_eq(res.queries, N);
    ck_assert_double_eq(res.hits_at_1, 0.0);
    ck_assert_double_eq(res.hits_at_10, 0.0);
    ck_assert_double_eq_tol(res.mrr, 1.0 / N, EPS);
    kga_ranking_destroy(&r);
}
END_TEST

START_TEST(nan_scores_never_rank_above)
{
    const float others[] = {NAN, 0.6f, NAN, 0.4f};
    ck_assert_uint_eq(kga_rank_with_ties(0.5f, others, 4), 2);
    ck_assert_uint_eq(kga_rank_with_ties(NAN, others, 4), KGA_RANK_MISS);
    const float nans[] = {NAN, NAN};
    ck_assert_uint_eq(kga_rank_with_ties(-INFINITY, nans, 2), 1);
}
END_TEST

START_TEST(hits_and_mrr_with_misses)
{
    kga_ranking_t r;
    ck_assert_int_eq(kga_ranking_init(&r, 0), 0);
    const uint32_t ranks[] = {1, 3, KGA_RANK_MISS, 10, 11};
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(kga_ranking_add(&r, ranks[i], KGA_GROUP_NONE), 0);
    kga_ranking_result_t res;
    kga_ranking_result(&r, &res);
    ck_assert_uint_eq(res.queries, 5);
    ck_assert_uint_eq(res.misses, 1);
    ck_assert_double_eq_tol(res.hits_at_1, 0.2, EPS);
    ck_assert_double_eq_tol(res.hits_at_5, 0.4, EPS);
    ck_assert_double_eq_tol(res.hits_at_10, 0.6, EPS);
    ck_assert_double_eq_tol(res.mrr, (1.0 + 1.0 / 3 + 0.1 + 1.0 / 11) / 5,
                            EPS);
    kga_ranking_destroy(&r);

    /* The boundaries of Hits@5 and Hits@10. */
    ck_assert_int_eq(kga_ranking_init(&r, 0), 0);
    const uint32_t edges[] = {5, 6, 10, 11};
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(kga_ranking_add(&r, edges[i], KGA_GROUP_NONE), 0);
    kga_ranking_result(&r, &res);
    ck_assert_double_eq_tol(res.hits_at_5, 0.25, EPS);
    ck_assert_double_eq_tol(res.hits_at_10, 0.75, EPS);
    kga_ranking_destroy(&r);

    /* No queries at all: defined zeros. */
    ck_assert_int_eq(kga_ranking_init(&r, 0), 0);
    kga_ranking_result(&r, &res);
    ck_assert_uint_eq(res.queries, 0);
    ck_assert_double_eq(res.mrr, 0.0);
    ck_assert_double_eq(res.hits_at_1, 0.0);
    kga_ranking_destroy(&r);
}
END_TEST

START_TEST(per_group_accumulation)
{
    kga_ranking_t r;
    ck_assert_int_eq(kga_ranking_init(&r, 2), 0);
    ck_assert_int_eq(kga_ranking_add(&r, 1, 0), 0);
    ck_assert_int_eq(kga_ranking_add(&r, 2, 1), 0);
    ck_assert_int_eq(kga_ranking_add(&r, KGA_RANK_MISS, 1), 0);
    ck_assert_int_eq(kga_ranking_add(&r, 1, KGA_GROUP_NONE), 0);
    ck_assert_int_eq(kga_ranking_add(&r, 1, 2), KGA_ERANGE);

    kga_ranking_result_t all, g0, g1, bad;
    kga_ranking_result(&r, &all);
    ck_assert_uint_eq(all.queries, 4);
    ck_assert_uint_eq(all.misses, 1);
    ck_assert_double_eq_tol(all.hits_at_1, 0.5, EPS);
    ck_assert_double_eq_tol(all.mrr, (1 + 0.5 + 0 + 1) / 4.0, EPS);

    ck_assert_int_eq(kga_ranking_group_result(&r, 0, &g0), 0);
    ck_assert_uint_eq(g0.queries, 1);
    ck_assert_double_eq_tol(g0.hits_at_1, 1.0, EPS);
    ck_assert_int_eq(kga_ranking_group_result(&r, 1, &g1), 0);
    ck_assert_uint_eq(g1.queries, 2);
    ck_assert_uint_eq(g1.misses, 1);
    ck_assert_double_eq(g1.hits_at_1, 0.0);
    ck_assert_double_eq_tol(g1.hits_at_5, 0.5, EPS);
    ck_assert_double_eq_tol(g1.mrr, 0.25, EPS);
    ck_assert_int_eq(kga_ranking_group_result(&r, 2, &bad), KGA_ERANGE);
    ck_assert_uint_eq(bad.queries, 0);

    /* Two per-thread accumulators merged give the sum. */
    kga_ranking_t other, wrong;
    ck_assert_int_eq(kga_ranking_init(&other, 2), 0);
    ck_assert_int_eq(kga_ranking_add(&other, 1, 1), 0);
    ck_assert_int_eq(kga_ranking_merge(&r, &other), 0);
    kga_ranking_result(&r, &all);
    ck_assert_uint_eq(all.queries, 5);
    ck_assert_int_eq(kga_ranking_group_result(&r, 1, &g1), 0);
    ck_assert_uint_eq(g1.queries, 3);
    ck_assert_double_eq_tol(g1.hits_at_1, 1.0 / 3, EPS);
    ck_assert_int_eq(kga_ranking_init(&wrong, 3), 0);
    ck_assert_int_eq(kga_ranking_merge(&r, &wrong), KGA_EINVAL);
    kga_ranking_destroy(&wrong);

    ck_assert_int_eq(kga_ranking_init(&wrong, KGA_RANKING_GROUPS_MAX + 1),
                     KGA_ELIMIT);
    kga_ranking_destroy(&wrong);
    kga_ranking_destroy(&other);
    kga_ranking_destroy(&r);
}
END_TEST

/* ---- Pair classification ---------------------------------------------- */

static kga_pairs_result_t *eval(const float *score, const uint8_t *label,
                                size_t n)
{
    kga_pairs_result_t *res = malloc(sizeof *res);
    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(kga_pairs_evaluate(score, label, n, res), 0);
    return res;
}

START_TEST(perfect_ranking)
{
    const float s[] = {0.2f, 0.9f, 0.3f, 0.8f};
    const uint8_t l[] = {0, 1, 0, 1};
    kga_pairs_result_t *r = eval(s, l, 4);
    ck_assert_double_eq_tol(r->prauc, 1.0, EPS);
    ck_assert_double_eq_tol(r->best_f1, 1.0, EPS);
    ck_assert_float_eq(r->best_threshold, 0.8f);
    ck_assert_double_eq_tol(r->recall_at_p95, 1.0, EPS);
    ck_assert_float_eq(r->p95_threshold, 0.8f);
    ck_assert_uint_eq(r->n_pos, 2);
    ck_assert_uint_eq(r->n_neg, 2);
    free(r);
}
END_TEST

START_TEST(small_example_by_hand)
{
    /* In score order: + - + - +, P = 3.
     * AP = (1/1 + 2/3 + 3/5) / 3 = 0.755555...
     * F1 by threshold: 2/4, 2/5, 4/6, 4/7, 6/8 -> best 0.75 at 0.5.
     * Precision >= 0.95 only at the top: recall 1/3 at 0.9. */
    const float s[] = {0.7f, 0.5f, 0.9f, 0.6f, 0.8f};
    const uint8_t l[] = {1, 1, 1, 0, 0};
    kga_pairs_result_t *r = eval(s, l, 5);
    ck_assert_double_eq_tol(r->prauc, (1.0 + 2.0 / 3 + 3.0 / 5) / 3, EPS);
    ck_assert_double_eq_tol(r->best_f1, 0.75, EPS);
    ck_assert_float_eq(r->best_threshold, 0.5f);
    ck_assert_double_eq_tol(r->best_precision, 0.6, EPS);
    ck_assert_double_eq_tol(r->best_recall, 1.0, EPS);
    ck_assert_double_eq_tol(r->recall_at_p95, 1.0 / 3, EPS);
    ck_assert_float_eq(r->p95_threshold, 0.9f);
    /* The curve keeps the groups where recall grows. */
    ck_assert_uint_eq(r->n_curve, 3);
    ck_assert_float_eq(r->curve[0].threshold, 0.9f);
    ck_assert_float_eq(r->curve[1].threshold, 0.7f);
    ck_assert_double_eq_tol(r->curve[1].precision, 2.0 / 3, EPS);
    ck_assert_double_eq_tol(r->curve[1].recall, 2.0 / 3, EPS);
    ck_assert_double_eq_tol(r->curve[2].precision, 0.6, EPS);
    free(r);

    /* + - - +: F1 is 2/3 at the top and again at the bottom; the highest
     * threshold is reported. */
    const float s2[] = {4, 3, 2, 1};
    const uint8_t l2[] = {1, 0, 0, 1};
    r = eval(s2, l2, 4);
    ck_assert_double_eq_tol(r->best_f1, 2.0 / 3, EPS);
    ck_assert_float_eq(r->best_threshold, 4.0f);
    ck_assert_double_eq_tol(r->prauc, (1.0 + 0.5) / 2, EPS);
    free(r);
}
END_TEST

START_TEST(tied_scores_are_one_threshold)
{
    /* Four tied pairs, two true: one threshold with precision 1/2 at
     * recall 1. Positives first would give 1, negatives first 5/12. */
    const float s[] = {0.5f, 0.5f, 0.5f, 0.5f};
    const uint8_t a[] = {1, 1, 0, 0}, b[] = {0, 0, 1, 1};
    kga_pairs_result_t *ra = eval(s, a, 4), *rb = eval(s, b, 4);
    ck_assert_double_eq_tol(ra->prauc, 0.5, EPS);
    ck_assert_double_eq_tol(rb->prauc, 0.5, EPS);
    ck_assert_double_eq_tol(ra->best_f1, 2.0 * 2 / (4 + 2), EPS);
    ck_assert_double_eq(ra->recall_at_p95, 0.0);
    ck_assert(isinf(ra->p95_threshold));
    ck_assert_uint_eq(ra->n_groups, 1);
    ck_assert_uint_eq(ra->n_curve, 1);
    free(ra);
    free(rb);

    /* -0 and +0 are one score. */
    const float z[] = {0.0f, -0.0f};
    const uint8_t zl[] = {0, 1};
    ra = eval(z, zl, 2);
    ck_assert_uint_eq(ra->n_groups, 1);
    ck_assert_double_eq_tol(ra->prauc, 0.5, EPS);
    free(ra);
}
END_TEST

START_TEST(recall_at_precision_95)
{
    /* In score order: 18 true, 1 false, 1 true, 2 false, 1 true, 7 false;
     * P = 20. At the 20th pair precision is exactly 19/20 = 0.95 and
     * recall grows to 19/20 there. */
    enum { N = 30 };
    float s[N];
    uint8_t l[N];
    for (int i = 0; i < N; i++) {
        s[i] = (float)(N - i);
        l[i] = i < 18 || i == 19 || i == 22;
    }
    kga_pairs_result_t *r = eval(s, l, N);
    ck_assert_double_eq_tol(r->recall_at_p95, 0.95, EPS);
    ck_assert_float_eq(r->p95_threshold, s[19]);
    free(r);

    /* 19 true, 2 false, 1 true: recall 0.95 is first reached at the 19th
     * pair, the highest threshold reaching it. */
    for (int i = 0; i < N; i++)
        l[i] = i < 19 || i == 21;
    r = eval(s, l, N);
    ck_assert_double_eq_tol(r->recall_at_p95, 0.95, EPS);
    ck_assert_float_eq(r->p95_threshold, s[18]);
    free(r);

    /* With one more true pair right after, 20/21 stays above 0.95. */
    l[20] = 1;
    l[21] = 0;
    r = eval(s, l, N);
    ck_assert_double_eq_tol(r->recall_at_p95, 20.0 / 20, EPS);
    ck_assert_float_eq(r->p95_threshold, s[20]);
    free(r);

    /* Never precise enough: 0. */
    const float s2[] = {0.9f, 0.8f, 0.7f};
    const uint8_t l2[] = {0, 1, 1};
    r = eval(s2, l2, 3);
    ck_assert_double_eq(r->recall_at_p95, 0.0);
    ck_assert(isinf(r->p95_threshold));
    free(r);
}
END_TEST

START_TEST(degenerate_inputs)
{
    kga_pairs_result_t *r = eval(NULL, NULL, 0);
    ck_assert_uint_eq(r->n, 0);
    ck_assert_double_eq(r->prauc, 0.0);
    ck_assert_double_eq(r->best_f1, 0.0);
    ck_assert_double_eq(r->recall_at_p95, 0.0);
    ck_assert(isinf(r->best_threshold) && r->best_threshold > 0);
    ck_assert_uint_eq(r->n_curve, 0);
    free(r);

    const float s[] = {0.1f, 0.4f, 0.4f};
    const uint8_t neg[] = {0, 0, 0}, pos[] = {1, 1, 1};
    r = eval(s, neg, 3);
    ck_assert_double_eq(r->prauc, 0.0);
    ck_assert_double_eq(r->best_f1, 0.0);
    ck_assert_double_eq(r->recall_at_p95, 0.0);
    ck_assert_uint_eq(r->n_curve, 0);
    ck_assert_uint_eq(r->n_groups, 2);
    free(r);

    r = eval(s, pos, 3);
    ck_assert_double_eq_tol(r->prauc, 1.0, EPS);
    ck_assert_double_eq_tol(r->best_f1, 1.0, EPS);
    ck_assert_double_eq_tol(r->recall_at_p95, 1.0, EPS);
    ck_assert_float_eq(r->best_threshold, 0.1f);
    free(r);
}
END_TEST

START_TEST(nan_pairs_are_never_predicted)
{
    /* P = 2 with one true pair unscored: recall never passes 1/2. */
    const float s[] = {0.9f, NAN, 0.8f, NAN};
    const uint8_t l[] = {1, 1, 0, 0};
    kga_pairs_result_t *r = eval(s, l, 4);
    ck_assert_uint_eq(r->n_nan, 2);
    ck_assert_uint_eq(r->n_pos, 2);
    ck_assert_double_eq_tol(r->prauc, 0.5, EPS);
    ck_assert_double_eq_tol(r->best_f1, 2.0 / 3, EPS);
    ck_assert_double_eq_tol(r->recall_at_p95, 0.5, EPS);
    uint64_t hp = 0, hn = 0;
    for (int b = 0; b < KGA_HIST_BINS; b++) {
        hp += r->hist_pos[b];
        hn += r->hist_neg[b];
    }
    ck_assert_uint_eq(hp, 1);
    ck_assert_uint_eq(hn, 1);
    free(r);

    const float all_nan[] = {NAN, NAN};
    const uint8_t l2[] = {1, 0};
    r = eval(all_nan, l2, 2);
    ck_assert_double_eq(r->prauc, 0.0);
    ck_assert_uint_eq(r->n_groups, 0);
    free(r);
}
END_TEST

START_TEST(histogram_bins)
{
    const float p[] = {0.0f, 0.5f, 1.0f, 0.99f};
    const uint8_t l[] = {1, 0, 1, 0};
    kga_pairs_result_t *r = eval(p, l, 4);
    ck_assert_double_eq(r->hist_lo, 0.0);
    ck_assert_double_eq(r->hist_hi, 1.0);
    ck_assert_uint_eq(r->hist_pos[0], 1);
    ck_assert_uint_eq(r->hist_pos[KGA_HIST_BINS - 1], 1);
    ck_assert_uint_eq(r->hist_neg[KGA_HIST_BINS / 2], 1);
    ck_assert_uint_eq(r->hist_neg[KGA_HIST_BINS - 1], 1);
    free(r);

    /* Not probabilities: the range of the finite scores. */
    const float d[] = {-2.0f, 2.0f, INFINITY, 0.0f};
    r = eval(d, l, 4);
    ck_assert_double_eq(r->hist_lo, -2.0);
    ck_assert_double_eq(r->hist_hi, 2.0);
    ck_assert_uint_eq(r->hist_pos[0], 1);
    ck_assert_uint_eq(r->hist_pos[KGA_HIST_BINS - 1], 1);
    ck_assert_uint_eq(r->hist_neg[KGA_HIST_BINS - 1], 1);
    ck_assert_uint_eq(r->hist_neg[KGA_HIST_BINS / 2], 1);
    free(r);
}
END_TEST

/* Brute force over the distinct scores, quadratic; the definitions exactly
 * as written in metrics.h. */
static void reference(const float *s, const uint8_t *l, size_t n,
                      double *ap, double *f1, double *r95)
{
    uint64_t P = 0;
    for (size_t i = 0; i < n; i++)
        P += l[i] != 0;
    *ap = *f1 = *r95 = 0;
    float prev = INFINITY;
    uint64_t prev_tp = 0;
    for (;;) {
        /* The next lower distinct score. */
        float t = -INFINITY;
        int found = 0;
        for (size_t i = 0; i < n; i++)
            if (s[i] < prev && (!found || s[i] > t)) {
                t = s[i];
                found = 1;
            }
        if (!found)
            break;
        uint64_t tp = 0, fp = 0;
        for (size_t i = 0; i < n; i++)
            if (s[i] >= t) {
                tp += l[i] != 0;
                fp += l[i] == 0;
            }
        double prec = (double)tp / (double)(tp + fp);
        *ap += (double)(tp - prev_tp) / (double)P * prec;
        *f1 = fmax(*f1, 2.0 * (double)tp / (double)(tp + fp + P));
        if (100 * tp >= 95 * (tp + fp))
            *r95 = fmax(*r95, (double)tp / (double)P);
        prev = t;
        prev_tp = tp;
    }
}

START_TEST(order_independent_and_matches_reference)
{
    enum { N = 4000 };
    float *s = malloc(N * sizeof *s);
    uint8_t *l = malloc(N);
    lcg_state = 42;
    for (size_t i = 0; i < N; i++) {
        /* 40 score levels: many ties; true pairs lean high. */
        s[i] = (float)(lcg_next() % 40) / 40.0f;
        l[i] = lcg_unit() < 0.05 + 0.9 * s[i] * s[i] * s[i];
    }
    /* A precise top so that recall at P 0.95 is not trivially 0. */
    for (size_t i = 0; i < 30; i++) {
        s[i] = 2.0f + (float)i;
        l[i] = 1;
    }
    kga_pairs_result_t *a = eval(s, l, N);
    double ap, f1, r95;
    reference(s, l, N, &ap, &f1, &r95);
    ck_assert_double_eq_tol(a->prauc, ap, 1e-9);
    ck_assert_double_eq_tol(a->best_f1, f1, 1e-12);
    ck_assert_double_eq_tol(a->recall_at_p95, r95, 1e-12);
    ck_assert(a->recall_at_p95 > 0);
    ck_assert(a->prauc > 0.3 && a->prauc < 1.0);

    for (size_t i = N - 1; i > 0; i--) {
        size_t j = lcg_next() % (i + 1);
        float ts = s[i];
        s[i] = s[j];
        s[j] = ts;
        uint8_t tl = l[i];
        l[i] = l[j];
        l[j] = tl;
    }
    kga_pairs_result_t *b = eval(s, l, N);
    ck_assert_double_eq(a->prauc, b->prauc);
    ck_assert_double_eq(a->best_f1, b->best_f1);
    ck_assert_float_eq(a->best_threshold, b->best_threshold);
    ck_assert_double_eq(a->recall_at_p95, b->recall_at_p95);
    ck_assert_float_eq(a->p95_threshold, b->p95_threshold);
    ck_assert_uint_eq(a->n_curve, b->n_curve);
    ck_assert_int_eq(memcmp(a->curve, b->curve,
                            a->n_curve * sizeof a->curve[0]), 0);
    ck_assert_int_eq(memcmp(a->hist_pos, b->hist_pos, sizeof a->hist_pos), 0);
    free(b);
    free(a);
    free(l);
    free(s);
}
END_TEST

START_TEST(million_pairs_fast_and_curve_bounded)
{
    enum { N = 1000000 };
    float *s = malloc(N * sizeof *s);
    uint8_t *l = malloc(N);
    lcg_state = 7;
    uint64_t P = 0;
    for (size_t i = 0; i < N; i++) {
        l[i] = lcg_unit() < 0.01;
        P += l[i];
        s[i] = (float)(lcg_unit() * 0.7 + (l[i] ? 0.3 : 0.0));
    }
    /* Speed is for benchmarks; this checks the result at this size. */
    kga_pairs_result_t *r = eval(s, l, N);
    ck_assert_uint_eq(r->n_pos, P);
    ck_assert_uint_le(r->n_curve, KGA_PR_CURVE_MAX);
    ck_assert_uint_ge(r->n_curve, KGA_PR_CURVE_MAX / 2);
    for (size_t i = 1; i < r->n_curve; i++) {
        ck_assert(r->curve[i].recall >= r->curve[i - 1].recall);
        ck_assert(r->curve[i].threshold < r->curve[i - 1].threshold);
    }
    const kga_pr_point_t *last = &r->curve[r->n_curve - 1];
    ck_assert_double_eq_tol(last->recall, 1.0, EPS);
    ck_assert_double_eq_tol(last->precision, (double)P / N, EPS);
    free(r);
    free(l);
    free(s);
}
END_TEST

/* ---- Report ----------------------------------------------------------- */

static int count_of(const char *hay, const char *needle)
{
    int c = 0;
    for (const char *p = strstr(hay, needle); p != NULL;
         p = strstr(p + 1, needle))
        c++;
    return c;
}

START_TEST(report_written_with_pictures_and_values)
{
    char dir[] = "/tmp/kga_report_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/report.html", dir);

    kga_ranking_t rk;
    ck_assert_int_eq(kga_ranking_init(&rk, 0), 0);
    const uint32_t ranks[] = {1, 3, KGA_RANK_MISS, 10, 11};
    for (size_t i = 0; i < 5; i++)
        kga_ranking_add(&rk, ranks[i], KGA_GROUP_NONE);
    kga_ranking_result_t rr;
    kga_ranking_result(&rk, &rr);
    kga_ranking_destroy(&rk);

    const float s[] = {0.7f, 0.5f, 0.9f, 0.6f, 0.8f};
    const uint8_t l[] = {1, 1, 1, 0, 0};
    kga_pairs_result_t *pr = eval(s, l, 5);

    kga_report_group_t groups[] = {
        {"<Person>", {.queries = 3, .hits_at_1 = 0.125}},
        {"Film", {.queries = 2, .hits_at_1 = 0.5}},
    };
    kga_report_note_t notes[] = {{"training time", "31 min"}};
    kga_report_input_t in = {
        .title = "D & Y",
        .dataset = "D-Y-15K",
        .model = "model-1",
        .ranking = &rr,
        .groups = groups,
        .n_groups = 2,
        .pairs = pr,
        .notes = notes,
        .n_notes = 1,
    };
    kga_err_t err;
    kga_err_clear(&err);
    ck_assert_int_eq(kga_report_write_html(path, &in, &err), 0);
    char *html = kga_test_slurp(path, NULL);
    ck_assert_ptr_nonnull(html);
    ck_assert_int_eq(count_of(html, "<svg"), 2);
    ck_assert_int_eq(count_of(html, "</svg>"), 2);
    KGA_TEST_EXPECT_CONTAINS(html, "<title>D &amp; Y</title>", "D-Y-15K",
                             "<td>0.2000</td>",  /* Hits@1 */
                             "<td>0.6000</td>",  /* Hits@10 */
                             "<td>0.8000</td>",  /* cand. rec. */
                             "<td>0.7556</td>",  /* PRAUC */
                             "<td>0.7500</td>",  /* best F1 */
                             "<td>0.3333</td>",  /* R@P95 */
                             "&lt;Person&gt;", "<td>0.1250</td>", "31 min",
                             "Recall", "true pairs", "false pairs");
    ck_assert_ptr_null(strstr(html, "<Person>"));
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_int_eq(count_of(html, "href="), 0);
    free(html);
    /* Only the report: the temporary file was renamed. */
    ck_assert_int_eq(kga_test_count_entries(dir, NULL), 1);

    /* Without pair results: no pictures. */
    in.pairs = NULL;
    ck_assert_int_eq(kga_report_write_html(path, &in, &err), 0);
    html = kga_test_slurp(path, NULL);
    ck_assert_int_eq(count_of(html, "<svg"), 0);
    ck_assert_ptr_null(strstr(html, "PRAUC"));
    free(html);
    ck_assert_int_eq(kga_test_count_entries(dir, NULL), 1);

    unlink(path);
    rmdir(dir);
    free(pr);
}
END_TEST

START_TEST(report_unwritable_path_names_it)
{
    const char *path = "/nonexistent-kga-dir/sub/report.html";
    kga_report_input_t in = {.title = "x"};
    kga_err_t err;
    kga_err_clear(&err);
    int rc = kga_report_write_html(path, &in, &err);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_eq(err.code, rc);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_int_eq(kga_report_write_html(NULL, &in, NULL), KGA_EINVAL);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *rank = kga_test_tcase(s, "ranking", 0);
    tcase_add_test(rank, rank_counts_ties_against_true_match);
    tcase_add_test(rank, all_equal_scorer_gets_no_hits);
    tcase_add_test(rank, nan_scores_never_rank_above);
    tcase_add_test(rank, hits_and_mrr_with_misses);
    tcase_add_test(rank, per_group_accumulation);

    TCase *pairs = kga_test_tcase(s, "pairs", 30);
    tcase_add_test(pairs, perfect_ranking);
    tcase_add_test(pairs, small_example_by_hand);
    tcase_add_test(pairs, tied_scores_are_one_threshold);
    tcase_add_test(pairs, recall_at_precision_95);
    tcase_add_test(pairs, degenerate_inputs);
    tcase_add_test(pairs, nan_pairs_are_never_predicted);
    tcase_add_test(pairs, histogram_bins);
    tcase_add_test(pairs, order_independent_and_matches_reference);
    tcase_add_test(pairs, million_pairs_fast_and_curve_bounded);

    TCase *report = kga_test_tcase(s, "report", 0);
    tcase_add_test(report, report_written_with_pictures_and_values);
    tcase_add_test(report, report_unwritable_path_names_it);
    return s;
}

int main(void)
{
    return kga_test_run(metrics_suite);
}
