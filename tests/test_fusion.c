/* Sparse Sinkhorn against a dense reference, and the fused aligner on
 * synthetic graph pairs: alignment quality, name usability, the log P
 * formula, exact rebuilding, candidate search, determinism. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "align/fusion.h"
#include "gnn/gnn_ops.h"
#include "store/graph_builder.h"
#include "base/hash.h"
#include "stats/metrics.h"
#include "base/rng.h"
#include "align/sinkhorn.h"
#include "store/store.h"

#include "testutil.h"

#define REQUIRE(cond, ...)             \
    do {                               \
        if (!(cond))                   \
            ck_abort_msg(__VA_ARGS__); \
    } while (0)

/* ---- Sinkhorn ----------------------------------------------------------- */

/* Dense Sinkhorn in double on K = exp((S - rowmax) / tau), zero where
 * mask is 0: iters times columns then rows. P is rows x cols. */
static void dense_sinkhorn(const double *S, const uint8_t *mask, int rows,
                           int cols, double tau, int iters, double *P)
{
    for (int i = 0; i < rows; i++) {
        double m = -INFINITY;
        for (int j = 0; j < cols; j++)
            if (mask[i * cols + j] && S[i * cols + j] > m)
                m = S[i * cols + j];
        for (int j = 0; j < cols; j++)
            P[i * cols + j] =
                mask[i * cols + j] ? exp((S[i * cols + j] - m) / tau) : 0.0;
    }
    for (int t = 0; t < iters; t++) {
        for (int j = 0; j < cols; j++) {
            double s = 0.0;
            for (int i = 0; i < rows; i++)
                s += P[i * cols + j];
            for (int i = 0; i < rows && s > 0.0; i++)
                P[i * cols + j] /= s;
        }
        for (int i = 0; i < rows; i++) {
            double s = 0.0;
            for (int j = 0; j < cols; j++)
                s += P[i * cols + j];
            for (int j = 0; j < cols && s > 0.0; j++)
                P[i * cols + j] /= s;
        }
    }
}

/* Random scores on a random support of k slots per row (some left empty),
 * run both implementations, compare every entry of P. */
static void check_against_dense(int rows, int cols, int k, double tau,
                                int iters, uint64_t seed)
{
    kga_rng_t r;
    kga_rng_init(&r, seed, 0);
    uint32_t *col = malloc((size_t)rows * k * sizeof *col);
    float *sc = malloc((size_t)rows * k * sizeof *sc);
    double *S = calloc((size_t)rows * cols, sizeof *S);
    uint8_t *mask = calloc((size_t)rows * cols, 1);
    double *P = malloc((size_t)rows * cols * sizeof *P);
    double *lu = malloc(rows * sizeof *lu), *lv = malloc(cols * sizeof *lv);
    uint32_t *perm = malloc(cols * sizeof *perm);
    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++)
            perm[j] = (uint32_t)j;
        kga_rng_shuffle_u32(&r, perm, (size_t)cols);
        for (int s = 0; s < k; s++) {
            size_t x = (size_t)i * k + s;
            if (k < cols && kga_rng_chance(&r, 0.2)) {
                col[x] = KGA_SINKHORN_EMPTY;
                sc[x] = 0.0f;
                continue;
            }
            col[x] = perm[s];
            sc[x] = (float)kga_rng_unit(&r);
            S[i * cols + perm[s]] = sc[x];
            mask[i * cols + perm[s]] = 1;
        }
    }
    kga_err_t err;
    ck_assert_msg(kga_sinkhorn(col, sc, (uint32_t)rows, (uint32_t)cols,
                               (size_t)k, tau, (uint32_t)iters, NULL, NULL, lu, lv,
                               &err) == 0,
                  "%s", err.msg);
    dense_sinkhorn(S, mask, rows, cols, tau, iters, P);
    for (int i = 0; i < rows; i++) {
        int any = 0;
        for (int j = 0; j < cols; j++)
            any |= mask[i * cols + j];
        REQUIRE(any ? isfinite(lu[i]) : isnan(lu[i]), "row %d: lu %g", i,
                lu[i]);
    }
    for (int j = 0; j < cols; j++) {
        int any = 0;
        for (int i = 0; i < rows; i++)
            any |= mask[i * cols + j];
        REQUIRE(any ? isfinite(lv[j]) : isnan(lv[j]), "column %d: lv %g", j,
                lv[j]);
    }
    for (int i = 0; i < rows; i++)
        for (int s = 0; s < k; s++) {
            size_t x = (size_t)i * k + s;
            if (col[x] == KGA_SINKHORN_EMPTY)
                continue;
            double p = exp(kga_sinkhorn_log_p(sc[x], tau, lu[i], lv[col[x]]));
            double want = P[i * cols + col[x]];
            REQUIRE(fabs(p - want) <= 1e-9 + 1e-9 * want,
                    "P[%d][%u] = %.12g, dense reference %.12g", i, col[x], p,
                    want);
        }
    free(perm);
    free(lv);
    free(lu);
    free(P);
    free(mask);
    free(S);
    free(sc);
    free(col);
}

START_TEST(sinkhorn_matches_dense_reference)
{
    check_against_dense(6, 7, 7, 0.1, 20, 1);  /* full support */
    check_against_dense(6, 7, 7, 0.02, 0, 2);  /* the row-max shift only */
    check_against_dense(30, 40, 5, 0.05, 20, 3); /* sparse, empty slots */
    check_against_dense(40, 25, 6, 0.02, 7, 4);
    check_against_dense(20, 20, 1, 0.02, 20, 5); /* rows of one entry */
}
END_TEST

/* The last half-step normalises rows: every non-empty row sums to 1, even
 * where a dense computation in float would underflow (scores far apart at
 * a small tau). */
START_TEST(sinkhorn_rows_sum_to_one_without_underflow)
{
    uint32_t col[] = {0, 1, 2, 1, 2, KGA_SINKHORN_EMPTY, 2, 0, 1};
    float sc[] = {1.0f, -3.0f, 0.5f, 2.0f, -2.0f, 0.0f, 0.9f, 0.1f, -1.0f};
    double lu[3], lv[4];
    kga_err_t err;
    ck_assert_int_eq(kga_sinkhorn(col, sc, 3, 4, 3, 0.001, 20, NULL, NULL, lu, lv,
                                  &err),
                     0);
    ck_assert(isnan(lv[3]));
    for (int i = 0; i < 3; i++) {
        double s = 0.0;
        for (int x = 0; x < 3; x++)
            if (col[3 * i + x] != KGA_SINKHORN_EMPTY)
                s += exp(kga_sinkhorn_log_p(sc[3 * i + x], 0.001, lu[i],
                                            lv[col[3 * i + x]]));
        ck_assert_double_eq_tol(s, 1.0, 1e-12);
    }
}
END_TEST

START_TEST(sinkhorn_same_for_any_thread_count)
{
    const uint32_t rows = 3000, cols = 2000, k = 12;
    kga_rng_t r;
    kga_rng_init(&r, 9, 0);
    uint32_t *col = malloc((size_t)rows * k * sizeof *col);
    float *sc = malloc((size_t)rows * k * sizeof *sc);
    for (uint32_t i = 0; i < rows; i++)
        for (uint32_t s = 0; s < k; s++) {
            col[i * k + s] = (i * 7 + s * 131) % cols;
            sc[i * k + s] = (float)kga_rng_unit(&r);
        }
    double *lu[3], *lv[3];
    kga_err_t err;
    for (int t = 0; t < 3; t++) {
        kga_pool_t *pool = NULL;
        if (t > 0)
            ck_assert_int_eq(kga_pool_new(t + 1, &pool), 0);
        lu[t] = malloc(rows * sizeof(double));
        lv[t] = malloc(cols * sizeof(double));
        ck_assert_int_eq(kga_sinkhorn(col, sc, rows, cols, k, 0.02, 20, pool, NULL,
                                      lu[t], lv[t], &err),
                         0);
        kga_pool_free(pool);
    }
    for (int t = 1; t < 3; t++) {
        ck_assert_int_eq(memcmp(lu[0], lu[t], rows * sizeof(double)), 0);
        ck_assert_int_eq(memcmp(lv[0], lv[t], cols * sizeof(double)), 0);
    }
    for (int t = 0; t < 3; t++) {
        free(lu[t]);
        free(lv[t]);
    }
    free(sc);
    free(col);
}
END_TEST

START_TEST(sinkhorn_rejects_bad_input)
{
    uint32_t col[] = {0, 0};
    float sc[] = {1.0f, 2.0f};
    double lu[1], lv[2];
    kga_err_t err;
    ck_assert_int_eq(kga_sinkhorn(col, sc, 1, 2, 2, 0.02, 5, NULL, NULL, lu, lv,
                                  &err),
                     KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "repeated"));
    col[1] = 2;
    ck_assert_int_eq(kga_sinkhorn(col, sc, 1, 2, 2, 0.02, 5, NULL, NULL, lu, lv,
                                  &err),
                     KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    col[1] = 1;
    sc[1] = NAN;
    ck_assert_int_eq(kga_sinkhorn(col, sc, 1, 2, 2, 0.02, 5, NULL, NULL, lu, lv,
                                  &err),
                     KGA_EINVAL);
    sc[1] = 2.0f;
    ck_assert_int_eq(kga_sinkhorn(col, sc, 1, 2, 2, 0.0, 5, NULL, NULL, lu, lv,
                                  &err),
                     KGA_EINVAL);
    ck_assert_int_eq(kga_sinkhorn(col, sc, 1, 2, 2, 0.02, 5, NULL, NULL, lu, lv,
                                  &err),
                     0);
}
END_TEST

/* ---- synthetic graph pairs ---------------------------------------------- */

typedef enum { NAMES_MATCH, NAMES_OPAQUE } names_t;

/* Two stores with an isomorphic core: n pairs (left[k], right[k]), the
 * right copy losing 10% of the triples, with other relation names. Names
 * either match (two words from a small vocabulary, so some collide; 20%
 * of the right names with a typo) or are opaque codes. Pairs k % 10 < 3
 * train, == 3 validation, the rest test. The right side has `extra`
 * unmatched entities. */
typedef struct {
    kga_test_stores_t st;
    uint32_t n;
    uint32_t *left, *right;
    kga_pair_t *train, *valid, *test;
    size_t ntrain, nvalid, ntest;
} synth_t;

static void word(kga_rng_t *r, char *out)
{
    static const char *syl[] = {"ka", "lo", "mi", "ne", "ru", "sa", "to",
                                "vi", "ber", "dan", "gor", "hel", "mar"};
    int n = 2 + (int)kga_rng_below(r, 2);
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        strcat(out, syl[kga_rng_below(r, sizeof syl / sizeof syl[0])]);
}

static void synth_make(synth_t *x, uint32_t n, uint32_t extra, names_t names,
                       uint64_t seed)
{
    kga_rng_t r;
    kga_rng_init(&r, seed, 0);
    enum { VOCAB = 200 };
    char vocab[VOCAB][16];
    for (int v = 0; v < VOCAB; v++)
        word(&r, vocab[v]);
    kga_graph_builder_t *b[2] = {kga_graph_builder_new(),
                                 kga_graph_builder_new()};
    uint32_t *ent[2] = {malloc(n * sizeof(uint32_t)),
                        malloc(n * sizeof(uint32_t))};
    uint32_t rel[2][8];
    char id[64], name[64];
    for (uint32_t k = 0; k < n; k++) {
        snprintf(name, sizeof name, "%s %s", vocab[kga_rng_below(&r, VOCAB)],
                 vocab[kga_rng_below(&r, VOCAB)]);
        for (int s = 0; s < 2; s++) {
            snprintf(id, sizeof id, "%s/%u", s ? "R" : "L",
                     (uint32_t)(kga_rng_hash(k * 2 + (uint32_t)s) % 1000000));
            snprintf(id + strlen(id), sizeof id - strlen(id), "_%u", k);
            ck_assert_int_eq(
                kga_graph_builder_entity(b[s], id, &ent[s][k], NULL), 0);
            char nm[64];
            if (names == NAMES_OPAQUE) {
                snprintf(nm, sizeof nm, "%c%08llx", s ? 'Y' : 'Q',
                         (unsigned long long)(kga_rng_next(&r) >> 32));
            } else {
                snprintf(nm, sizeof nm, "%s", name);
                if (s == 1 && kga_rng_chance(&r, 0.2))
                    nm[kga_rng_below(&r, (uint32_t)strlen(nm))] = 'z';
            }
            ck_assert_int_eq(kga_graph_builder_set_name(b[s], ent[s][k], nm),
                             0);
        }
    }
    for (uint32_t e = 0; e < extra; e++) {
        uint32_t u;
        snprintf(id, sizeof id, "R/extra%u", e);
        ck_assert_int_eq(kga_graph_builder_entity(b[1], id, &u, NULL), 0);
        snprintf(name, sizeof name, "%s", vocab[kga_rng_below(&r, VOCAB)]);
        ck_assert_int_eq(kga_graph_builder_set_name(b[1], u, name), 0);
    }
    for (int s = 0; s < 2; s++)
        for (uint32_t q = 0; q < 8; q++) {
            snprintf(id, sizeof id, "%s%u", s ? "prop" : "rel", q);
            ck_assert_int_eq(kga_graph_builder_relation(b[s], id, &rel[s][q]),
                             0);
        }
    for (uint32_t t = 0; t < 3 * n; t++) {
        uint32_t h = t + 1 < n ? t + 1 : kga_rng_below(&r, n);
        uint32_t tl = kga_rng_below(&r, t + 1 < n ? t + 1 : n);
        uint32_t q = kga_rng_below(&r, 8);
        q = q * (1 + kga_rng_below(&r, 8)) / 8;
        if (h == tl)
            continue;
        int both = !kga_rng_chance(&r, 0.4);
        for (int s = 0; s < 1 + both; s++)
            ck_assert_int_eq(kga_graph_builder_triple(b[s], ent[s][h],
                                                      rel[s][q], ent[s][tl]),
                             0);
    }
    kga_test_stores_write(&x->st, "fusion", b);
    x->n = n;
    x->left = malloc(n * sizeof *x->left);
    x->right = malloc(n * sizeof *x->right);
    x->train = malloc(n * sizeof *x->train);
    x->valid = malloc(n * sizeof *x->valid);
    x->test = malloc(n * sizeof *x->test);
    x->ntrain = x->nvalid = x->ntest = 0;
    for (uint32_t k = 0; k < n; k++) {
        for (int s = 0; s < 2; s++) {
            const char *ext = kga_graph_builder_entity_ext_id(b[s], ent[s][k]);
            int64_t v = kga_store_lookup(x->st.s[s], ext);
            ck_assert_int_ge(v, 0);
            (s ? x->right : x->left)[k] = (uint32_t)v;
        }
        kga_pair_t p = {x->left[k], x->right[k]};
        if (k % 10 < 3)
            x->train[x->ntrain++] = p;
        else if (k % 10 == 3)
            x->valid[x->nvalid++] = p;
        else
            x->test[x->ntest++] = p;
    }
    for (int s = 0; s < 2; s++) {
        kga_graph_builder_free(b[s]);
        free(ent[s]);
    }
}

static void synth_free(synth_t *x)
{
    kga_test_stores_close(&x->st);
    free(x->test);
    free(x->valid);
    free(x->train);
    free(x->right);
    free(x->left);
}

static void small_params(kga_fusion_params_t *p, int threads)
{
    kga_fusion_params_init(p);
    p->structure.dim = 32;
    p->topk = 20;
    p->threads = threads;
}

static kga_fusion_t *train(const synth_t *x, const kga_fusion_params_t *p,
                           kga_fusion_report_t *rep)
{
    kga_fusion_t *f;
    kga_err_t err;
    ck_assert_msg(kga_fusion_train(x->st.s[0], x->st.s[1], x->train, x->ntrain,
                                   x->valid, x->nvalid, p, NULL, &f, rep,
                                   &err) == 0,
                  "%s", err.msg);
    return f;
}

/* The set-up most fusion tests share: the synthetic pair x (synth_make),
 * small parameters p for threads threads, and the fusion trained on them
 * (rep may be NULL). The caller frees both. */
static kga_fusion_t *trained_pair(synth_t *x, kga_fusion_params_t *p,
                                  kga_fusion_report_t *rep, uint32_t n,
                                  uint32_t extra, names_t names, uint64_t seed,
                                  int threads)
{
    synth_make(x, n, extra, names, seed);
    small_params(p, threads);
    return train(x, p, rep);
}

/* Test Hits@1 by log P over each test left entity's top-k candidates
 * among the test right entities (a true match outside them is a miss). */
static double test_hits1(const kga_fusion_t *f, const synth_t *x, size_t k)
{
    uint32_t *q = malloc(x->ntest * sizeof *q);
    uint32_t *c = malloc(x->ntest * sizeof *c);
    uint32_t *idx = malloc(x->ntest * k * sizeof *idx);
    float *sc = malloc(x->ntest * k * sizeof *sc);
    for (size_t i = 0; i < x->ntest; i++) {
        q[i] = x->test[i].left;
        c[i] = x->test[i].right;
    }
    kga_err_t err;
    ck_assert_msg(kga_fusion_topk(f, q, x->ntest, c, x->ntest, k, NULL, NULL, idx,
                                  sc, &err) == 0,
                  "%s", err.msg);
    kga_ranking_t rk;
    ck_assert_int_eq(kga_ranking_init(&rk, 0), 0);
    float *others = malloc(k * sizeof *others);
    for (size_t i = 0; i < x->ntest; i++) {
        size_t no = 0;
        float t = NAN;
        for (size_t s = 0; s < k && idx[i * k + s] != UINT32_MAX; s++) {
            float lp = (float)kga_fusion_log_p(f, q[i], idx[i * k + s]);
            if (idx[i * k + s] == x->test[i].right)
                t = lp;
            else
                others[no++] = lp;
        }
        kga_ranking_add(&rk, kga_rank_with_ties(t, others, no),
                        KGA_GROUP_NONE);
    }
    kga_ranking_result_t res;
    kga_ranking_result(&rk, &res);
    kga_ranking_destroy(&rk);
    free(others);
    free(sc);
    free(idx);
    free(c);
    free(q);
    return res.hits_at_1;
}

/* ---- fusion ------------------------------------------------------------- */

/* The context blocks stay where the search is exact and go where it is
 * approximate (a forced mode counts as chosen). */
START_TEST(context_blocks_follow_the_search)
{
    static const struct {
        kga_search_t search;
        uint32_t n_left, n_right, blocks;
    } cases[] = {
        {KGA_SEARCH_AUTO, 15000, 15000, 16},
        {KGA_SEARCH_AUTO, 70000, 70000, 0},
        {KGA_SEARCH_EXACT, 70000, 70000, 16},
        {KGA_SEARCH_APPROX, 100, 100, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        kga_fusion_params_t p;
        kga_fusion_params_init(&p);
        ck_assert_uint_eq(p.structure.context_blocks, 16);
        p.search = cases[c].search;
        kga_fusion_params_for(&p, cases[c].n_left, cases[c].n_right);
        ck_assert_msg(p.structure.context_blocks == cases[c].blocks,
                      "case %zu: %u blocks", c, p.structure.context_blocks);
    }
}
END_TEST

START_TEST(params_defaults_and_checks)
{
    kga_fusion_params_t p;
    kga_err_t err;
    kga_fusion_params_init(&p);
    ck_assert_uint_eq(p.topk, 50);
    ck_assert_double_eq(p.tau, 0.02);
    ck_assert_uint_eq(p.sinkhorn_iters, 20);
    ck_assert_uint_eq(p.rounds, 3);
    ck_assert_double_eq(p.min_gain, 0.003);
    ck_assert_double_eq(p.name_threshold, 0.2);
    ck_assert_int_eq(kga_fusion_params_check(&p, &err), 0);
    p.tau = 0.0;
    ck_assert_int_eq(kga_fusion_params_check(&p, &err), KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "tau"));
    kga_fusion_params_init(&p);
    p.topk = 0;
    ck_assert_int_eq(kga_fusion_params_check(&p, &err), KGA_EINVAL);
    kga_fusion_params_init(&p);
    p.rounds = KGA_FUSION_MAX_ROUNDS;
    ck_assert_int_eq(kga_fusion_params_check(&p, &err), KGA_EINVAL);
    kga_fusion_params_init(&p);
    p.structure.dim = 3;
    ck_assert_int_eq(kga_fusion_params_check(&p, &err), KGA_EINVAL);
}
END_TEST

START_TEST(aligns_a_synthetic_pair)
{
    synth_t x;
    kga_fusion_params_t p;
    kga_fusion_report_t rep;
    kga_fusion_t *f =
        trained_pair(&x, &p, &rep, 1000, 100, NAMES_MATCH, 1, 2);
    ck_assert_float_eq(rep.name_weight, 1.0f);
    ck_assert_double_ge(rep.name_valid_hits1, 0.2);
    ck_assert_uint_eq(rep.valid_used, x.nvalid);
    ck_assert_uint_eq(rep.domain_left, 1000 - x.ntrain);
    ck_assert_uint_eq(rep.domain_right, 1100 - x.ntrain);
    ck_assert_uint_ge(rep.n_rounds, 2);
    ck_assert_uint_lt(rep.best_round, rep.n_rounds);
    /* Bootstrapping found pseudo-seeds, and the kept state is the best. */
    ck_assert_uint_gt(rep.round[0].pseudo_seeds, x.ntest / 2);
    for (uint32_t r = 0; r < rep.n_rounds; r++)
        ck_assert_double_le(rep.round[r].valid_hits1,
                            rep.round[rep.best_round].valid_hits1);
    kga_fusion_state_t st;
    kga_fusion_get_state(f, &st);
    ck_assert_uint_eq(st.n_seeds, rep.round[rep.best_round].seeds);
    ck_assert_double_eq(st.tau, 0.02);
    double h1 = test_hits1(f, &x, p.topk);
    ck_assert_msg(h1 >= 0.95, "test Hits@1 %.3f", h1);

    /* One query at a time (the service's /match, by sgemv) finds what a
     * block of queries (sgemm) finds: the candidates' scores are exact
     * either way, so only the preselection could differ. */
    enum { NQ = 40, K = 10 };
    uint32_t q[NQ], bi[NQ * K], si[K];
    float bs[NQ * K], ss[K];
    for (size_t i = 0; i < NQ; i++)
        q[i] = x.test[i].left;
    ck_assert_int_eq(kga_fusion_topk(f, q, NQ, NULL, 0, K, NULL, NULL, bi, bs, NULL),
                     0);
    for (size_t i = 0; i < NQ; i++) {
        ck_assert_int_eq(kga_fusion_topk(f, &q[i], 1, NULL, 0, K, NULL, NULL, si, ss,
                                         NULL),
                         0);
        ck_assert(memcmp(si, bi + i * K, sizeof si) == 0);
        ck_assert(memcmp(ss, bs + i * K, sizeof ss) == 0);
    }

    /* Names alone, and structure alone, do worse than the fusion. */
    ck_assert_double_lt(rep.name_valid_hits1,
                        rep.round[rep.best_round].valid_hits1);
    kga_fusion_params_t ps = p;
    ps.name_threshold = 2.0; /* never usable */
    kga_fusion_report_t rs;
    kga_fusion_t *fs = train(&x, &ps, &rs);
    ck_assert_float_eq(rs.name_weight, 0.0f);
    ck_assert_double_lt(test_hits1(fs, &x, p.topk), h1);
    kga_fusion_free(fs);
    kga_fusion_free(f);
    synth_free(&x);
}
END_TEST

START_TEST(opaque_names_are_switched_off)
{
    synth_t x;
    kga_fusion_params_t p;
    kga_fusion_report_t rep;
    kga_fusion_t *f =
        trained_pair(&x, &p, &rep, 600, 0, NAMES_OPAQUE, 2, 2);
    ck_assert_double_lt(rep.name_valid_hits1, 0.2);
    ck_assert_float_eq(rep.name_weight, 0.0f);
    kga_fusion_state_t st;
    kga_fusion_get_state(f, &st);
    ck_assert_float_eq(st.name_weight, 0.0f);
    /* Without names the structural features keep their context blocks. */
    ck_assert_uint_eq(rep.context_blocks, p.structure.context_blocks);
    ck_assert_uint_eq(kga_fusion_structure(f)->context_blocks, 16);
    /* Structure alone still aligns most of it. */
    double h1 = test_hits1(f, &x, p.topk);
    ck_assert_msg(h1 >= 0.8, "test Hits@1 %.3f", h1);
    kga_fusion_free(f);
    synth_free(&x);
}
END_TEST

/* lu and lv exist for every entity; on the support (each domain left
 * entity's candidates over the domain R) P is the Sinkhorn plan: its rows
 * sum to 1. Pair scores are the candidate scores bit for bit. */
START_TEST(log_p_reproduces_the_support)
{
    synth_t x;
    kga_fusion_params_t p;
    kga_fusion_t *f =
        trained_pair(&x, &p, NULL, 800, 50, NAMES_MATCH, 3, 2);
    kga_fusion_state_t st;
    kga_fusion_get_state(f, &st);
    uint32_t n0 = kga_fusion_entities(f, 0), n1 = kga_fusion_entities(f, 1);
    for (uint32_t i = 0; i < n0; i++)
        REQUIRE(isfinite(st.lu[i]), "lu[%u] = %g", i, st.lu[i]);
    for (uint32_t j = 0; j < n1; j++)
        REQUIRE(isfinite(st.lv[j]), "lv[%u] = %g", j, st.lv[j]);
    /* Training pairs all score like a typical confident match. */
    double lp0 = kga_fusion_log_p(f, x.train[0].left, x.train[0].right);
    ck_assert_double_gt(exp(lp0), 0.5);
    ck_assert_double_lt(exp(lp0), 2.0);
    for (size_t t = 1; t < x.ntrain; t++)
        REQUIRE(fabs(kga_fusion_log_p(f, x.train[t].left, x.train[t].right) -
                     lp0) < 1e-9,
                "training pair %zu", t);

    uint8_t *trained[2] = {calloc(n0, 1), calloc(n1, 1)};
    for (size_t t = 0; t < x.ntrain; t++) {
        trained[0][x.train[t].left] = 1;
        trained[1][x.train[t].right] = 1;
    }
    uint32_t *L = malloc(n0 * sizeof *L), *R = malloc(n1 * sizeof *R);
    size_t nL = 0, nR = 0;
    for (uint32_t i = 0; i < n0; i++)
        if (!trained[0][i])
            L[nL++] = i;
    for (uint32_t j = 0; j < n1; j++)
        if (!trained[1][j])
            R[nR++] = j;
    size_t k = p.topk;
    uint32_t *idx = malloc(nL * k * sizeof *idx);
    float *sc = malloc(nL * k * sizeof *sc);
    kga_err_t err;
    ck_assert_int_eq(kga_fusion_topk(f, L, nL, R, nR, k, NULL, NULL, idx, sc, &err),
                     0);
    for (size_t q = 0; q < nL; q++) {
        double sum = 0.0;
        for (size_t s = 0; s < k; s++) {
            uint32_t j = idx[q * k + s];
            REQUIRE(j != UINT32_MAX, "row %zu: only %zu candidates", q, s);
            float S = kga_fusion_score(f, L[q], j);
            REQUIRE(S == sc[q * k + s], "S(%u, %u) = %.9g, top-K %.9g", L[q],
                    j, S, sc[q * k + s]);
            double lp = kga_fusion_log_p(f, L[q], j);
            REQUIRE(lp == kga_sinkhorn_log_p(S, st.tau, st.lu[L[q]], st.lv[j]),
                    "log P formula");
            sum += exp(lp);
        }
        REQUIRE(fabs(sum - 1.0) < 1e-9, "row %zu: P sums to %.12g", q, sum);
    }
    free(sc);
    free(idx);
    free(R);
    free(L);
    free(trained[0]);
    free(trained[1]);
    kga_fusion_free(f);
    synth_free(&x);
}
END_TEST

static void assert_same_scorer(const kga_fusion_t *a, const kga_fusion_t *b)
{
    kga_fusion_state_t sa, sb;
    kga_fusion_get_state(a, &sa);
    kga_fusion_get_state(b, &sb);
    ck_assert_float_eq(sa.name_weight, sb.name_weight);
    ck_assert_double_eq(sa.tau, sb.tau);
    ck_assert_uint_eq(sa.n_seeds, sb.n_seeds);
    ck_assert_int_eq(memcmp(sa.seeds, sb.seeds, sa.n_seeds * sizeof *sa.seeds),
                     0);
    for (int s = 0; s < 2; s++) {
        uint32_t n = kga_fusion_entities(a, s);
        const kga_qmatrix_t *fa = kga_fusion_features(a, s);
        const kga_qmatrix_t *fb = kga_fusion_features(b, s);
        ck_assert_uint_eq(n, kga_fusion_entities(b, s));
        ck_assert_uint_eq(fa->rows, n);
        ck_assert_int_eq(memcmp(fa->code, fb->code,
                                (size_t)n * fa->blocks * fa->dim),
                         0);
        ck_assert_int_eq(memcmp(fa->scale, fb->scale,
                                (size_t)n * fa->blocks * sizeof *fa->scale),
                         0);
        ck_assert_int_eq(memcmp(s ? sa.lv : sa.lu, s ? sb.lv : sb.lu,
                                n * sizeof(double)),
                         0);
    }
}

START_TEST(rebuild_gives_the_same_scorer)
{
    synth_t x;
    kga_fusion_params_t p;
    kga_fusion_t *f =
        trained_pair(&x, &p, NULL, 800, 30, NAMES_MATCH, 4, 2);
    kga_fusion_state_t st;
    kga_fusion_get_state(f, &st);
    kga_fusion_params_t p1 = p;
    p1.threads = 1;
    /* The names carry this pair: training dropped the context blocks, and
     * a model records the parameters as used. */
    ck_assert_uint_eq(kga_fusion_structure(f)->context_blocks, 0);
    p1.structure = *kga_fusion_structure(f);
    kga_fusion_t *g;
    kga_err_t err;
    ck_assert_msg(
        kga_fusion_rebuild(x.st.s[0], x.st.s[1], &p1, &st, NULL, &g, &err) == 0,
        "%s", err.msg);
    assert_same_scorer(f, g);
    for (size_t t = 0; t < x.ntest; t++) {
        uint32_t i = x.test[t].left, j = x.right[(t * 7) % x.n];
        ck_assert_float_eq(kga_fusion_score(f, i, j),
                           kga_fusion_score(g, i, j));
        ck_assert_double_eq(kga_fusion_log_p(f, i, j),
                            kga_fusion_log_p(g, i, j));
    }
    /* A state with a non-finite scaling is refused. */
    double *lu = malloc(kga_fusion_entities(f, 0) * sizeof *lu);
    memcpy(lu, st.lu, kga_fusion_entities(f, 0) * sizeof *lu);
    lu[3] = NAN;
    kga_fusion_state_t bad = st;
    bad.lu = lu;
    kga_fusion_t *h;
    ck_assert_int_eq(
        kga_fusion_rebuild(x.st.s[0], x.st.s[1], &p1, &bad, NULL, &h, &err),
        KGA_EINVAL);
    ck_assert_ptr_null(h);
    free(lu);
    kga_fusion_free(g);
    kga_fusion_free(f);
    synth_free(&x);
}
END_TEST

/* An entity from outside the stores brings its row as a one-row int8
 * matrix: with a stored entity's row it is projected, scored and searched
 * exactly as that entity, by the exact and by the approximate search, with
 * and without entities left out. */
static void copy_row(const kga_qmatrix_t *F, uint32_t i, kga_qmatrix_t *m)
{
    ck_assert_int_eq(kga_qmatrix_init(m, 1, F->blocks, F->dim), 0);
    memcpy(m->code, F->code + (size_t)i * F->blocks * F->dim,
           (size_t)F->blocks * F->dim);
    memcpy(m->scale, F->scale + (size_t)i * F->blocks,
           F->blocks * sizeof *m->scale);
}

START_TEST(rows_from_outside_score_as_stored)
{
    synth_t x;
    kga_fusion_params_t p;
    kga_fusion_t *f =
        trained_pair(&x, &p, NULL, 700, 30, NAMES_MATCH, 6, 2);
    kga_fusion_state_t st;
    kga_fusion_get_state(f, &st);
    enum { K = 8 };
    for (int approx = 0; approx < 2; approx++) {
        kga_fusion_params_t pr = p;
        pr.search = approx ? KGA_SEARCH_APPROX : KGA_SEARCH_EXACT;
        kga_fusion_t *g;
        kga_err_t err;
        ck_assert_msg(kga_fusion_rebuild(x.st.s[0], x.st.s[1], &pr, &st, NULL,
                                         &g, &err) == 0,
                      "%s", err.msg);
        ck_assert_int_eq(kga_fusion_approx(g), approx);
        const kga_qmatrix_t *F0 = kga_fusion_features(g, 0);
        const kga_qmatrix_t *F1 = kga_fusion_features(g, 1);
        const kga_tfidf_t *names = kga_fusion_names(g);
        uint32_t nr = kga_fusion_entities(g, 1);
        uint8_t *skip = calloc(nr, 1);
        for (size_t t = 0; t < 25; t++) {
            uint32_t i = x.test[t].left;
            kga_qmatrix_t m;
            copy_row(F0, i, &m);
            float proj[KGA_FUSION_COARSE_DIM];
            kga_fusion_project_row(g, &m, 0, proj);
            ck_assert(memcmp(proj,
                             kga_fusion_coarse(g, 0) +
                                 (size_t)i * KGA_FUSION_COARSE_DIM,
                             sizeof proj) == 0);
            uint32_t j = x.right[(t * 11) % x.n];
            float c = kga_tfidf_cosine(names, i, j);
            ck_assert_float_eq(kga_fusion_score_rows(g, &m, 0, F1, j, c),
                               kga_fusion_score(g, i, j));
            kga_sparse_vec_t name = kga_tfidf_row(names, 0, i);
            uint32_t oi[K], ri[K];
            float os[K], rs[K];
            for (int skipping = 0; skipping < 2; skipping++) {
                ck_assert_int_eq(kga_fusion_topk_one(g, 0, i,
                                                     skipping ? skip : NULL,
                                                     K, oi, os, NULL),
                                 0);
                ck_assert_int_eq(kga_fusion_topk_row(g, 0, &m, 0, name,
                                                     skipping ? skip : NULL,
                                                     K, ri, rs, NULL),
                                 0);
                ck_assert(memcmp(oi, ri, sizeof oi) == 0);
                ck_assert(memcmp(os, rs, sizeof os) == 0);
                for (size_t r = 0; skipping && r < K; r++)
                    ck_assert(oi[r] == UINT32_MAX || !skip[oi[r]]);
                /* Leave the best two out next time. */
                skip[oi[0]] = skip[oi[1]] = 1;
            }
            memset(skip, 0, nr);
            kga_qmatrix_destroy(&m);
        }
        /* A row of another shape is refused. */
        kga_qmatrix_t bad;
        ck_assert_int_eq(kga_qmatrix_init(&bad, 1, F0->blocks + 1, F0->dim),
                         0);
        uint32_t oi[K];
        float os[K];
        ck_assert_int_eq(kga_fusion_topk_row(g, 0, &bad, 0,
                                             kga_tfidf_row(names, 0, 0), NULL,
                                             K, oi, os, &err),
                         KGA_EINVAL);
        kga_qmatrix_destroy(&bad);
        free(skip);
        kga_fusion_free(g);
    }
    kga_fusion_free(f);
    synth_free(&x);
}
END_TEST

START_TEST(training_does_not_depend_on_threads)
{
    synth_t x;
    kga_fusion_params_t p;
    kga_fusion_t *a =
        trained_pair(&x, &p, NULL, 700, 40, NAMES_MATCH, 5, 1);
    p.threads = 3;
    kga_fusion_t *b = train(&x, &p, NULL);
    assert_same_scorer(a, b);
    kga_fusion_free(b);
    kga_fusion_free(a);
    synth_free(&x);
}
END_TEST

/* Candidates come from the allowed list only, padded when it is short;
 * equal scores are ordered by the hash of the right external id. */
START_TEST(topk_allowed_rights_and_ties)
{
    kga_graph_builder_t *b[2] = {kga_graph_builder_new(),
                                 kga_graph_builder_new()};
    const char *twins[] = {"R:t1", "R:t2", "R:t3", "R:t4", "R:t5"};
    uint32_t e, r, u;
    ck_assert_int_eq(kga_graph_builder_entity(b[0], "L:a", &e, NULL), 0);
    ck_assert_int_eq(kga_graph_builder_set_name(b[0], e, "twin"), 0);
    ck_assert_int_eq(kga_graph_builder_entity(b[0], "L:b", &u, NULL), 0);
    ck_assert_int_eq(kga_graph_builder_relation(b[0], "rel", &r), 0);
    ck_assert_int_eq(kga_graph_builder_triple(b[0], u, r, e), 0);
    for (int t = 0; t < 5; t++) { /* no edges: identical all-zero features */
        ck_assert_int_eq(kga_graph_builder_entity(b[1], twins[t], &e, NULL), 0);
        ck_assert_int_eq(kga_graph_builder_set_name(b[1], e, "twin"), 0);
    }
    ck_assert_int_eq(kga_graph_builder_entity(b[1], "R:other", &e, NULL), 0);
    ck_assert_int_eq(kga_graph_builder_set_name(b[1], e, "something else"), 0);
    kga_test_stores_t st;
    kga_test_stores_write(&st, "fusion", b);
    kga_err_t err;
    kga_graph_builder_free(b[0]);
    kga_graph_builder_free(b[1]);

    kga_fusion_params_t p;
    small_params(&p, 1);
    p.rounds = 0;
    kga_fusion_t *f;
    ck_assert_msg(kga_fusion_train(st.s[0], st.s[1], NULL, 0, NULL, 0, &p, NULL,
                                   &f, NULL, &err) == 0,
                  "%s", err.msg);
    uint32_t a = (uint32_t)kga_store_lookup(st.s[0], "L:a");
    uint32_t idx[8];
    float sc[8];
    ck_assert_int_eq(kga_fusion_topk(f, &a, 1, NULL, 0, 8, NULL, NULL, idx, sc, &err),
                     0);
    const uint64_t *key = kga_tfidf_keys(kga_fusion_names(f), KGA_TFIDF_RIGHT);
    for (int t = 0; t < 5; t++) {
        const char *ext = kga_store_entity_ext_id(st.s[1], idx[t]);
        ck_assert_int_eq(strncmp(ext, "R:t", 3), 0);
        ck_assert_uint_eq(key[idx[t]], kga_hash64(ext, strlen(ext)));
        ck_assert_float_eq(sc[t], sc[0]);
        if (t > 0)
            ck_assert_uint_lt(key[idx[t - 1]], key[idx[t]]);
    }
    ck_assert_float_lt(sc[5], sc[0]);
    ck_assert_uint_eq(idx[6], UINT32_MAX);
    ck_assert(isinf(sc[7]) && sc[7] < 0);

    /* Only the allowed entities; slots beyond them are padding. */
    uint32_t allowed[2] = {(uint32_t)kga_store_lookup(st.s[1], "R:other"),
                           (uint32_t)kga_store_lookup(st.s[1], "R:t4")};
    ck_assert_int_eq(kga_fusion_topk(f, &a, 1, allowed, 2, 3, NULL, NULL, idx, sc,
                                     &err),
                     0);
    ck_assert_uint_eq(idx[0], allowed[1]);
    ck_assert_uint_eq(idx[1], allowed[0]);
    ck_assert_uint_eq(idx[2], UINT32_MAX);
    uint32_t repeated[2] = {allowed[0], allowed[0]};
    ck_assert_int_eq(kga_fusion_topk(f, &a, 1, repeated, 2, 3, NULL, NULL, idx, sc,
                                     &err),
                     KGA_EINVAL);
    uint32_t bad = 99;
    ck_assert_int_eq(kga_fusion_topk(f, &bad, 1, NULL, 0, 3, NULL, NULL, idx, sc,
                                     &err),
                     KGA_EINVAL);
    kga_fusion_free(f);
    kga_test_stores_close(&st);
}
END_TEST

START_TEST(train_rejects_bad_links)
{
    synth_t x;
    synth_make(&x, 100, 0, NAMES_MATCH, 6);
    kga_fusion_params_t p;
    small_params(&p, 1);
    kga_fusion_t *f;
    kga_err_t err;
    kga_pair_t out_of_range[] = {{x.left[0], 5000}};
    ck_assert_int_eq(kga_fusion_train(x.st.s[0], x.st.s[1], out_of_range, 1,
                                      NULL, 0, &p, NULL, &f, NULL, &err),
                     KGA_EINVAL);
    ck_assert_ptr_null(f);
    kga_pair_t twice[] = {{x.left[0], x.right[0]}, {x.left[1], x.right[0]}};
    ck_assert_int_eq(kga_fusion_train(x.st.s[0], x.st.s[1], twice, 2, NULL, 0,
                                      &p, NULL, &f, NULL, &err),
                     KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "right"));
    kga_pair_t bad_valid[] = {{7000, x.right[0]}};
    ck_assert_int_eq(kga_fusion_train(x.st.s[0], x.st.s[1], x.train, x.ntrain,
                                      bad_valid, 1, &p, NULL, &f, NULL, &err),
                     KGA_EINVAL);
    synth_free(&x);
}
END_TEST

static Suite *fusion_suite(void)
{
    Suite *s = suite_create("fusion");
    TCase *ts = kga_test_tcase(s, "sinkhorn", 60);
    tcase_add_test(ts, sinkhorn_matches_dense_reference);
    tcase_add_test(ts, sinkhorn_rows_sum_to_one_without_underflow);
    tcase_add_test(ts, sinkhorn_same_for_any_thread_count);
    tcase_add_test(ts, sinkhorn_rejects_bad_input);
    TCase *tf = kga_test_tcase(s, "fusion", 300);
    tcase_add_test(tf, params_defaults_and_checks);
    tcase_add_test(tf, context_blocks_follow_the_search);
    tcase_add_test(tf, aligns_a_synthetic_pair);
    tcase_add_test(tf, opaque_names_are_switched_off);
    tcase_add_test(tf, log_p_reproduces_the_support);
    tcase_add_test(tf, rebuild_gives_the_same_scorer);
    tcase_add_test(tf, rows_from_outside_score_as_stored);
    tcase_add_test(tf, training_does_not_depend_on_threads);
    tcase_add_test(tf, topk_allowed_rights_and_ties);
    tcase_add_test(tf, train_rejects_bad_links);
    return s;
}

int main(void)
{
    return kga_test_run(fusion_suite);
}
