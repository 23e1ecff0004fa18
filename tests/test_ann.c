/* The inverted-file nearest-neighbour index (core/features/ann.h): exact
 * when every cell is probed (ties by key), a high recall with few probes,
 * the same answer for any number of threads, the allowed set, padding, the
 * L2 metric, a subset of rows, and bad input refused. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "features/ann.h"
#include "testutil.h"

/* Vectors with small integer components: every product and sum of them is
 * exact in float, whatever the order, so the index's scores (sgemm) and
 * the brute force's are equal bit for bit and ties are real ties. */
static float *integer_vectors(size_t n, uint32_t d, uint64_t seed)
{
    float *v = malloc(n * d * sizeof *v);
    kga_rng_t r;
    kga_rng_init(&r, seed, 1);
    for (size_t i = 0; i < n * d; i++)
        v[i] = (float)((int)kga_rng_below(&r, 7) - 3);
    return v;
}

/* Points around 40 centres, unit length: what the fusion's features look
 * like to the index. */
static float *clustered(size_t n, uint32_t d, uint64_t seed)
{
    enum { CENTRES = 40 };
    float *c = malloc(CENTRES * d * sizeof *c), *v = malloc(n * d * sizeof *v);
    kga_rng_t r;
    kga_rng_init(&r, seed, 2);
    for (size_t i = 0; i < CENTRES * d; i++)
        c[i] = (float)(2 * kga_rng_unit(&r) - 1);
    for (size_t i = 0; i < n; i++) {
        const float *ci = c + kga_rng_below(&r, CENTRES) * d;
        double s = 0;
        for (uint32_t k = 0; k < d; k++) {
            v[i * d + k] = ci[k] + (float)(0.6 * (kga_rng_unit(&r) - 0.5));
            s += (double)v[i * d + k] * v[i * d + k];
        }
        for (uint32_t k = 0; k < d; k++)
            v[i * d + k] = (float)(v[i * d + k] / sqrt(s));
    }
    free(c);
    return v;
}

static uint64_t *keys_of(size_t n)
{
    uint64_t *k = malloc(n * sizeof *k);
    for (size_t i = 0; i < n; i++)
        k[i] = kga_rng_hash(i * 31 + 7) % 5; /* many equal keys: rows decide */
    return k;
}

/* The k best rows of base for query q by brute force, ties by key then
 * row. */
static void brute(const float *base, size_t n, uint32_t d, const float *q,
                  const uint64_t *key, const uint8_t *allowed,
                  kga_ann_metric_t metric, size_t k, uint32_t *idx,
                  float *score)
{
    size_t have = 0;
    for (size_t i = 0; i < n; i++) {
        if (allowed != NULL && !allowed[i])
            continue;
        float s = 0;
        for (uint32_t x = 0; x < d; x++)
            s += metric == KGA_ANN_DOT ? q[x] * base[i * d + x]
                                       : -(q[x] - base[i * d + x]) *
                                             (q[x] - base[i * d + x]);
        size_t at = have < k ? have++ : k;
        if (at == k) {
            at = k - 1;
            int better = s > score[at] ||
                         (s == score[at] &&
                          (key[i] < key[idx[at]] ||
                           (key[i] == key[idx[at]] && i < idx[at])));
            if (!better)
                continue;
        }
        while (at > 0 &&
               (s > score[at - 1] ||
                (s == score[at - 1] &&
                 (key[i] < key[idx[at - 1]] ||
                  (key[i] == key[idx[at - 1]] && i < idx[at - 1]))))) {
            idx[at] = idx[at - 1];
            score[at] = score[at - 1];
            at--;
        }
        idx[at] = (uint32_t)i;
        score[at] = s;
    }
    for (size_t x = have; x < k; x++) {
        idx[x] = UINT32_MAX;
        score[x] = -INFINITY;
    }
}

static kga_ann_t *build(const float *v, size_t n, uint32_t d,
                        const uint64_t *key, kga_ann_metric_t metric,
                        kga_pool_t *pool)
{
    kga_ann_params_t p;
    kga_ann_params_init(&p);
    p.metric = metric;
    kga_ann_t *ix;
    kga_err_t err;
    ck_assert_msg(kga_ann_new(v, d, NULL, n, key, &p, pool, NULL, &ix, &err) ==
                      0,
                  "%s", err.msg);
    return ix;
}

/* An index over n base vectors (keyed by keys_of(n)) and its top k
 * answers to nq queries, all of dimension d, found by probing `probes`
 * cells (0: the default). The vectors are the caller's, taken over:
 * searched_free() frees them with the rest. */
typedef struct {
    float *base, *q;
    uint64_t *key;
    kga_ann_t *ix;
    uint32_t *idx; /* nq x k */
    float *sc;     /* nq x k */
} searched_t;

static searched_t searched(float *base, size_t n, float *q, size_t nq,
                           uint32_t d, size_t k, kga_ann_metric_t metric,
                           uint32_t probes)
{
    searched_t r = {base, q, keys_of(n), NULL, malloc(nq * k * sizeof *r.idx),
                    malloc(nq * k * sizeof *r.sc)};
    r.ix = build(base, n, d, r.key, metric, NULL);
    kga_err_t err;
    ck_assert_msg(kga_ann_search(r.ix, q, NULL, nq, NULL, k, probes, NULL,
                                 NULL, r.idx, r.sc, &err) == 0,
                  "%s", err.msg);
    return r;
}

static void searched_free(searched_t *r)
{
    free(r->sc);
    free(r->idx);
    kga_ann_free(r->ix);
    free(r->key);
    free(r->q);
    free(r->base);
}

static void exact_case(kga_ann_metric_t metric)
{
    enum { N = 3000, NQ = 200, D = 12, K = 15 };
    searched_t r = searched(integer_vectors(N, D, 1), N,
                            integer_vectors(NQ, D, 2), NQ, D, K, metric,
                            KGA_ANN_MAX_PROBES);
    ck_assert_uint_gt(kga_ann_cells(r.ix), 50);
    /* Every cell probed: the brute force's answer, ties and all. */
    ck_assert_uint_le(kga_ann_cells(r.ix), KGA_ANN_MAX_PROBES);
    uint32_t bi[K];
    float bs[K];
    for (size_t i = 0; i < NQ; i++) {
        brute(r.base, N, D, r.q + i * D, r.key, NULL, metric, K, bi, bs);
        ck_assert_int_eq(memcmp(bi, r.idx + i * K, sizeof bi), 0);
        for (size_t x = 0; x < K; x++)
            ck_assert_float_eq(bs[x], r.sc[i * K + x]);
    }
    searched_free(&r);
}

START_TEST(exact_when_every_cell_is_probed)
{
    exact_case(KGA_ANN_DOT);
}
END_TEST

START_TEST(l2_exact_when_every_cell_is_probed)
{
    exact_case(KGA_ANN_L2);
}
END_TEST

START_TEST(high_recall_with_few_probes)
{
    enum { N = 20000, NQ = 500, D = 32, K = 10 };
    searched_t r = searched(clustered(N, D, 3), N, clustered(NQ, D, 4), NQ, D,
                            K, KGA_ANN_DOT, 0);
    uint32_t bi[K];
    float bs[K];
    size_t found = 0, first = 0;
    for (size_t i = 0; i < NQ; i++) {
        brute(r.base, N, D, r.q + i * D, r.key, NULL, KGA_ANN_DOT, K, bi, bs);
        for (size_t a = 0; a < K; a++)
            for (size_t b = 0; b < K; b++)
                if (bi[a] == r.idx[i * K + b]) {
                    found++;
                    first += a == 0;
                    break;
                }
    }
    /* 16 of about 280 cells searched: a few per cent of the vectors. */
    double recall = (double)found / (NQ * K);
    ck_assert_msg(recall >= 0.9, "recall@%d %.3f", K, recall);
    ck_assert_msg(first >= NQ * 0.97, "nearest found for %zu of %d", first,
                  NQ);
    searched_free(&r);
}
END_TEST

START_TEST(same_for_any_thread_count)
{
    enum { N = 8000, NQ = 3000, D = 16, K = 12 };
    float *base = clustered(N, D, 5), *q = clustered(NQ, D, 6);
    uint64_t *key = keys_of(N);
    uint32_t *idx[2];
    float *sc[2];
    for (int t = 0; t < 2; t++) {
        kga_pool_t *pool;
        ck_assert_int_eq(kga_pool_new(t == 0 ? 1 : 3, &pool), 0);
        kga_ann_t *ix = build(base, N, D, key, KGA_ANN_L2, pool);
        idx[t] = malloc(NQ * K * sizeof *idx[t]);
        sc[t] = malloc(NQ * K * sizeof *sc[t]);
        ck_assert_int_eq(kga_ann_search(ix, q, NULL, NQ, NULL, K, 0, pool,
                                        NULL, idx[t], sc[t], NULL),
                         0);
        kga_ann_free(ix);
        kga_pool_free(pool);
    }
    ck_assert_int_eq(memcmp(idx[0], idx[1], NQ * K * sizeof *idx[0]), 0);
    ck_assert_int_eq(memcmp(sc[0], sc[1], NQ * K * sizeof *sc[0]), 0);
    for (int t = 0; t < 2; t++) {
        free(idx[t]);
        free(sc[t]);
    }
    free(key);
    free(q);
    free(base);
}
END_TEST

/* Only allowed rows come back; k past them is padding. A subset of rows
 * indexed gives only those rows. */
START_TEST(allowed_rows_subset_and_padding)
{
    enum { N = 2000, D = 8, K = 20 };
    float *base = integer_vectors(N, D, 7);
    uint64_t *key = keys_of(N);
    uint8_t *allowed = calloc(N, 1);
    for (size_t i = 0; i < N; i += 250)
        allowed[i] = 1; /* 8 rows */
    kga_ann_t *ix = build(base, N, D, key, KGA_ANN_DOT, NULL);
    uint32_t idx[K];
    float sc[K];
    ck_assert_int_eq(kga_ann_search(ix, base + 3 * D, NULL, 1, allowed, K,
                                    KGA_ANN_MAX_PROBES, NULL, NULL, idx, sc,
                                    NULL),
                     0);
    for (size_t x = 0; x < 8; x++) {
        ck_assert_uint_lt(idx[x], N);
        ck_assert(allowed[idx[x]]);
    }
    for (size_t x = 8; x < K; x++) {
        ck_assert_uint_eq(idx[x], UINT32_MAX);
        ck_assert(isinf(sc[x]) && sc[x] < 0);
    }
    kga_ann_free(ix);

    uint32_t rows[100];
    for (uint32_t i = 0; i < 100; i++)
        rows[i] = 7 + 13 * i;
    kga_ann_params_t p;
    kga_ann_params_init(&p);
    ck_assert_int_eq(kga_ann_new(base, D, rows, 100, key, &p, NULL, NULL, &ix,
                                 NULL),
                     0);
    ck_assert_uint_eq(kga_ann_size(ix), 100);
    ck_assert_int_eq(kga_ann_search(ix, base, NULL, 1, NULL, K, 0, NULL, NULL,
                                    idx, sc, NULL),
                     0);
    for (size_t x = 0; x < K; x++)
        if (idx[x] != UINT32_MAX)
            ck_assert_uint_eq((idx[x] - 7) % 13, 0);
    kga_ann_free(ix);

    /* An empty index pads everything. */
    ck_assert_int_eq(kga_ann_new(base, D, NULL, 0, NULL, &p, NULL, NULL, &ix,
                                 NULL),
                     0);
    ck_assert_int_eq(kga_ann_search(ix, base, NULL, 1, NULL, 3, 0, NULL, NULL,
                                    idx, sc, NULL),
                     0);
    ck_assert_uint_eq(idx[0], UINT32_MAX);
    kga_ann_free(ix);
    free(allowed);
    free(key);
    free(base);
}
END_TEST

START_TEST(rejects_bad_input)
{
    float v[8] = {0};
    kga_ann_params_t p;
    kga_ann_t *ix = NULL;
    kga_err_t err;
    kga_ann_params_init(&p);
    p.probes = 0;
    ck_assert_int_eq(kga_ann_new(v, 2, NULL, 4, NULL, &p, NULL, NULL, &ix,
                                 &err),
                     KGA_EINVAL);
    ck_assert_ptr_null(ix);
    ck_assert_ptr_nonnull(strstr(err.msg, "probes"));
    kga_ann_params_init(&p);
    p.metric = (kga_ann_metric_t)7;
    ck_assert_int_eq(kga_ann_params_check(&p, &err), KGA_EINVAL);
    kga_ann_params_init(&p);
    ck_assert_int_eq(kga_ann_new(v, 0, NULL, 4, NULL, &p, NULL, NULL, &ix,
                                 &err),
                     KGA_EINVAL);
    ck_assert_int_eq(kga_ann_new(v, 2, NULL, 4, NULL, &p, NULL, NULL, &ix,
                                 &err),
                     0);
    uint32_t idx[1];
    float sc[1];
    ck_assert_int_eq(kga_ann_search(ix, v, NULL, 1, NULL, KGA_ANN_MAX_K + 1,
                                    0, NULL, NULL, idx, sc, &err),
                     KGA_EINVAL);
    kga_ann_free(ix);
}
END_TEST

static Suite *ann_suite(void)
{
    Suite *s = suite_create("ann");
    TCase *tc = kga_test_tcase(s, "ann", 120);
    tcase_add_test(tc, exact_when_every_cell_is_probed);
    tcase_add_test(tc, l2_exact_when_every_cell_is_probed);
    tcase_add_test(tc, high_recall_with_few_probes);
    tcase_add_test(tc, same_for_any_thread_count);
    tcase_add_test(tc, allowed_rows_subset_and_padding);
    tcase_add_test(tc, rejects_bad_input);
    return s;
}

int main(void)
{
    return kga_test_run(ann_suite);
}
