/* The alignment metrics (see metrics.h): ranks with ties counted against the
 * true match, Hits@k and MRR, and pair classification (PRAUC, best F1,
 * recall at precision 0.95, the PR curve, histograms) from one radix sort of
 * the scores. Pure computation over the caller's scores, so evaluation,
 * training's validation and the tests all count the same way. */
#include "stats/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Ranking ---------------------------------------------------------- */

uint32_t kga_rank_with_ties(float true_score, const float *other_scores,
                            size_t n_other)
{
    if (isnan(true_score))
        return KGA_RANK_MISS;
    /* A NaN compares false, so NaN candidates are never counted. */
    size_t at_least = 0;
    for (size_t i = 0; i < n_other; i++)
        at_least += other_scores[i] >= true_score;
    if (at_least >= UINT32_MAX)
        return UINT32_MAX;
    return (uint32_t)at_least + 1;
}

static void counts_add(kga_rank_counts_t *c, uint32_t rank)
{
    c->queries++;
    if (rank == KGA_RANK_MISS) {
        c->misses++;
        return;
    }
    c->hits1 += rank <= 1;
    c->hits5 += rank <= 5;
    c->hits10 += rank <= 10;
    c->rr_sum += 1.0 / (double)rank;
}

static void counts_merge(kga_rank_counts_t *dst, const kga_rank_counts_t *src)
{
    dst->queries += src->queries;
    dst->misses += src->misses;
    dst->hits1 += src->hits1;
    dst->hits5 += src->hits5;
    dst->hits10 += src->hits10;
    dst->rr_sum += src->rr_sum;
}

static void counts_result(const kga_rank_counts_t *c,
                          kga_ranking_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->queries = c->queries;
    out->misses = c->misses;
    if (c->queries == 0)
        return;
    double q = (double)c->queries;
    out->hits_at_1 = (double)c->hits1 / q;
    out->hits_at_5 = (double)c->hits5 / q;
    out->hits_at_10 = (double)c->hits10 / q;
    out->mrr = c->rr_sum / q;
}

int kga_ranking_init(kga_ranking_t *r, uint32_t n_groups)
{
    memset(r, 0, sizeof *r);
    if (n_groups > KGA_RANKING_GROUPS_MAX)
        return KGA_ELIMIT;
    if (n_groups == 0)
        return 0;
    r->group = calloc(n_groups, sizeof *r->group);
    if (r->group == NULL)
        return KGA_ENOMEM;
    r->n_groups = n_groups;
    return 0;
}

int kga_ranking_add(kga_ranking_t *r, uint32_t rank, uint32_t group)
{
    if (group != KGA_GROUP_NONE && group >= r->n_groups)
        return KGA_ERANGE;
    counts_add(&r->all, rank);
    if (group != KGA_GROUP_NONE)
        counts_add(&r->group[group], rank);
    return 0;
}

int kga_ranking_merge(kga_ranking_t *dst, const kga_ranking_t *src)
{
    if (dst->n_groups != src->n_groups)
        return KGA_EINVAL;
    counts_merge(&dst->all, &src->all);
    for (uint32_t g = 0; g < src->n_groups; g++)
        counts_merge(&dst->group[g], &src->group[g]);
    return 0;
}

void kga_ranking_result(const kga_ranking_t *r, kga_ranking_result_t *out)
{
    counts_result(&r->all, out);
}

int kga_ranking_group_result(const kga_ranking_t *r, uint32_t group,
                             kga_ranking_result_t *out)
{
    if (group >= r->n_groups) {
        memset(out, 0, sizeof *out);
        return KGA_ERANGE;
    }
    counts_result(&r->group[group], out);
    return 0;
}

void kga_ranking_destroy(kga_ranking_t *r)
{
    free(r->group);
    memset(r, 0, sizeof *r);
}

/* ---- Pair classification ---------------------------------------------- */

/* An order-preserving map of non-NaN floats to unsigned integers: the sign
 * bit is flipped for positives, every bit for negatives. -0 is folded into
 * +0 first so that equal scores always share one key. */
static uint32_t score_key(float f)
{
    uint32_t u;
    if (f == 0.0f)
        f = 0.0f;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static float key_score(uint32_t k)
{
    uint32_t u = (k & 0x80000000u) ? (k ^ 0x80000000u) : ~k;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Sorts v[0..n) ascending on its low `bits` bits (LSD radix, 11 bits a
 * pass); tmp has room for n values. Returns the array holding the result
 * (v or tmp). A pass where every value has the same digit is skipped. */
static uint64_t *radix_sort(uint64_t *v, uint64_t *tmp, size_t n,
                            unsigned bits)
{
    enum { DIGIT = 11, BUCKETS = 1 << DIGIT };
    size_t count[BUCKETS];
    for (unsigned shift = 0; shift < bits; shift += DIGIT) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(v[i] >> shift) & (BUCKETS - 1)]++;
        if (n == 0 || count[(v[0] >> shift) & (BUCKETS - 1)] == n)
            continue;
        size_t sum = 0;
        for (size_t b = 0; b < BUCKETS; b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[(v[i] >> shift) & (BUCKETS - 1)]++] = v[i];
        uint64_t *t = v;
        v = tmp;
        tmp = t;
    }
    return v;
}

static void histogram(const float *score, const uint8_t *label, size_t n,
                      kga_pairs_result_t *out)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(score[i]))
            continue;
        if (score[i] < lo)
            lo = score[i];
        if (score[i] > hi)
            hi = score[i];
    }
    if (lo > hi || (lo >= 0.0 && hi <= 1.0)) {
        lo = 0.0;
        hi = 1.0;
    } else if (lo == hi) {
        hi = lo + 1.0;
    }
    out->hist_lo = lo;
    out->hist_hi = hi;
    double scale = KGA_HIST_BINS / (hi - lo);
    for (size_t i = 0; i < n; i++) {
        if (isnan(score[i]))
            continue;
        double x = ((double)score[i] - lo) * scale;
        size_t bin = x <= 0.0 ? 0
                     : x >= KGA_HIST_BINS ? KGA_HIST_BINS - 1
                                          : (size_t)x;
        if (label[i])
            out->hist_pos[bin]++;
        else
            out->hist_neg[bin]++;
    }
}

/* Walks the sorted pairs from the highest score down, one threshold group
 * at a time, and computes every value of the curve. */
static void sweep(const uint64_t *v, size_t m, kga_pairs_result_t *out)
{
    const uint64_t P = out->n_pos;
    const size_t K = KGA_PR_CURVE_MAX - 2;
    uint64_t tp = 0, fp = 0, best_tp = 0;
    long last_bucket = -1;
    kga_pr_point_t pt = {0};

    out->best_threshold = INFINITY;
    out->below_best = -INFINITY;
    out->p95_threshold = INFINITY;
    int want_next = 0;
    for (size_t i = m; i > 0;) {
        uint64_t key = v[i - 1] >> 1;
        uint64_t group_tp = 0;
        do {
            i--;
            group_tp += v[i] & 1;
            fp += !(v[i] & 1);
        } while (i > 0 && v[i - 1] >> 1 == key);
        tp += group_tp;
        out->n_groups++;
        if (P == 0)
            continue;

        pt.threshold = key_score((uint32_t)key);
        if (want_next) {
            out->below_best = pt.threshold;
            want_next = 0;
        }
        pt.precision = (double)tp / (double)(tp + fp);
        pt.recall = (double)tp / (double)P;
        out->prauc += (double)group_tp / (double)P * pt.precision;

        double f1 = 2.0 * (double)tp / (double)(tp + fp + P);
        if (f1 > out->best_f1) {
            out->best_f1 = f1;
            out->best_precision = pt.precision;
            out->best_recall = pt.recall;
            out->best_threshold = pt.threshold;
            out->below_best = -INFINITY;
            want_next = 1;
        }
        if (tp > best_tp && KGA_RECALL_PRECISION_DEN * tp >=
                                KGA_RECALL_PRECISION_NUM * (tp + fp)) {
            best_tp = tp;
            out->recall_at_p95 = pt.recall;
            out->p95_threshold = pt.threshold;
        }

        long bucket = (long)(pt.recall * (double)K);
        if (bucket > last_bucket) {
            last_bucket = bucket;
            out->curve[out->n_curve++] = pt;
        } else if (i == 0) {
            out->curve[out->n_curve++] = pt;
        }
    }
}

int kga_pairs_evaluate(const float *score, const uint8_t *label, size_t n,
                       kga_pairs_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (n > KGA_PAIRS_MAX)
        return KGA_ELIMIT;

    uint64_t *v = NULL, *tmp = NULL;
    if (n > 0) {
        v = malloc(n * sizeof *v);
        tmp = malloc(n * sizeof *tmp);
        if (v == NULL || tmp == NULL) {
            free(tmp);
            free(v);
            return KGA_ENOMEM;
        }
    }

    /* Key in bits 1..32, label in bit 0: sorting ascending puts each
     * threshold group in one run. NaN scores are left out of the sort. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t positive = label[i] != 0;
        out->n_pos += positive;
        if (isnan(score[i])) {
            out->n_nan++;
            continue;
        }
        v[m++] = (uint64_t)score_key(score[i]) << 1 | positive;
    }
    out->n = n;
    out->n_neg = n - out->n_pos;

    const uint64_t *sorted = radix_sort(v, tmp, m, 33);
    sweep(sorted, m, out);
    if (n > 0)
        histogram(score, label, n, out);

    free(tmp);
    free(v);
    return 0;
}
