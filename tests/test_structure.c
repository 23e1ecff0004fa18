/* Seed-anchored structural features: edge weights and propagation on a
 * hand-made graph, anchors keyed by external ids, relation alignment,
 * determinism in the thread count, and alignment of isomorphic graphs. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gnn/gnn_ops.h"
#include "store/graph_builder.h"
#include "base/rng.h"
#include "store/store.h"
#include "features/structure.h"

#include "testutil.h"

#define REQUIRE(cond, ...)             \
    do {                               \
        if (!(cond))                   \
            ck_abort_msg(__VA_ARGS__); \
    } while (0)

/* ---- fixtures ----------------------------------------------------------- */

static uint32_t lookup(const kga_store_t *s, const char *prefix, uint32_t k)
{
    char id[64];
    snprintf(id, sizeof id, "%s%u", prefix, k);
    int64_t x = kga_store_lookup(s, id);
    REQUIRE(x >= 0, "unknown id %s", id);
    return (uint32_t)x;
}

/* A random connected graph of n entities and about m triples over nrel
 * relations, and an isomorphic copy on the right with other entity ids
 * (a permutation) and, unless same_rel_names, other relation names; the
 * copy loses each triple with probability drop (0: isomorphic).
 * left[k] / right[k] receive the internal ids of the k-th pair. */
typedef struct {
    kga_test_stores_t st;
    uint32_t n;
    uint32_t *left, *right;
} iso_t;

static void iso_make(iso_t *x, uint32_t n, uint32_t m, uint32_t nrel,
                     uint64_t seed, int same_rel_names, double drop)
{
    kga_rng_t r;
    kga_rng_init(&r, seed, 1);
    uint32_t *perm = malloc(n * sizeof *perm);
    for (uint32_t k = 0; k < n; k++)
        perm[k] = k;
    kga_rng_shuffle_u32(&r, perm, n);
    kga_graph_builder_t *b[2] = {kga_graph_builder_new(),
                                 kga_graph_builder_new()};
    uint32_t *ent[2] = {malloc(n * sizeof(uint32_t)),
                        malloc(n * sizeof(uint32_t))};
    uint32_t rel[2][64];
    char id[64];
    for (int s = 0; s < 2; s++) {
        for (uint32_t k = 0; k < n; k++) {
            snprintf(id, sizeof id, s ? "right/x%u" : "left/e%u",
                     s ? perm[k] : k);
            ck_assert_int_eq(
                kga_graph_builder_entity(b[s], id, &ent[s][k], NULL), 0);
        }
        for (uint32_t q = 0; q < nrel; q++) {
            snprintf(id, sizeof id, s && !same_rel_names ? "rrel%u" : "lrel%u",
                     q);
            ck_assert_int_eq(kga_graph_builder_relation(b[s], id, &rel[s][q]),
                             0);
        }
    }
    for (uint32_t t = 0; t < m; t++) {
        uint32_t h, tl;
        if (t + 1 < n) { /* a spanning tree first */
            h = t + 1;
            tl = kga_rng_below(&r, t + 1);
        } else {
            h = kga_rng_below(&r, n);
            tl = kga_rng_below(&r, n);
            if (h == tl)
                continue;
        }
        /* Skewed relation use, so that relations differ in fan-out. */
        uint32_t q = kga_rng_below(&r, nrel);
        q = q * (1 + kga_rng_below(&r, nrel)) / nrel;
        if (kga_rng_chance(&r, 0.5)) {
            uint32_t z = h;
            h = tl;
            tl = z;
        }
        int keep_right = !kga_rng_chance(&r, drop);
        for (int s = 0; s < 1 + keep_right; s++)
            ck_assert_int_eq(kga_graph_builder_triple(b[s], ent[s][h],
                                                      rel[s][q], ent[s][tl]),
                             0);
    }
    kga_test_stores_write(&x->st, "structure", b);
    x->n = n;
    x->left = malloc(n * sizeof *x->left);
    x->right = malloc(n * sizeof *x->right);
    for (uint32_t k = 0; k < n; k++) {
        x->left[k] = lookup(x->st.s[0], "left/e", k);
        x->right[k] = lookup(x->st.s[1], "right/x", perm[k]);
    }
    for (int s = 0; s < 2; s++) {
        kga_graph_builder_free(b[s]);
        free(ent[s]);
    }
    free(perm);
}

static void iso_free(iso_t *x)
{
    kga_test_stores_close(&x->st);
    free(x->right);
    free(x->left);
}

typedef struct {
    uint32_t width;
    float *F[2];
} feats_t;

static void feats_compute(feats_t *f, const kga_structure_t *g,
                          const kga_structure_params_t *p,
                          const kga_pair_t *seeds, size_t n, kga_pool_t *pool,
                          kga_structure_stats_t *stats)
{
    kga_err_t err;
    kga_qmatrix_t q[2];
    f->width = kga_structure_width(p);
    for (int s = 0; s < 2; s++)
        ck_assert_int_eq(kga_qmatrix_init(&q[s],
                                          kga_structure_entities(g, s),
                                          f->width / p->dim, p->dim),
                         0);
    ck_assert_msg(kga_structure_features(g, seeds, n, pool, NULL, &q[0],
                                         &q[1], stats, &err) == 0,
                  "%s", err.msg);
    /* The tests read the features as floats (the stored values). */
    for (int s = 0; s < 2; s++) {
        uint32_t ne = kga_structure_entities(g, s);
        f->F[s] = malloc(((size_t)ne * f->width + 1) * sizeof(float));
        for (uint32_t i = 0; i < ne; i++)
            kga_qmatrix_row(&q[s], i, f->F[s] + (size_t)i * f->width);
        kga_qmatrix_destroy(&q[s]);
    }
}

static void feats_free(feats_t *f)
{
    free(f->F[0]);
    free(f->F[1]);
}

static const float *row(const feats_t *f, int side, uint32_t i)
{
    return f->F[side] + (size_t)i * f->width;
}

static double dot(const float *a, const float *b, uint32_t n)
{
    double s = 0.0;
    for (uint32_t k = 0; k < n; k++)
        s += (double)a[k] * b[k];
    return s;
}

/* ---- parameters --------------------------------------------------------- */

START_TEST(params_defaults_and_checks)
{
    kga_structure_params_t p;
    kga_err_t err;
    kga_structure_params_init(&p);
    ck_assert_uint_eq(p.dim, 128);
    ck_assert_uint_eq(p.hops, 6);
    ck_assert_uint_eq(p.typed_hops, 2);
    ck_assert_int_eq(p.signature, 1);
    ck_assert_uint_eq(p.context_blocks, 16);
    ck_assert_uint_eq(p.context_levels, 2);
    ck_assert_uint_eq(kga_structure_width(&p), (10 + 16) * 128);
    ck_assert_int_eq(kga_structure_params_check(&p, &err), 0);
    static const struct {
        uint32_t blocks, levels, dim;
        float weight;
        const char *names;
    } bad[] = {
        {KGA_STRUCTURE_MAX_CONTEXT + 1, 2, 128, 1.0f, "context_blocks"},
        {16, 7, 128, 1.0f, "context_levels"},
        {16, 2, 24, 1.0f, "multiple of 16"},
        {16, 2, 128, -1.0f, "context_weight"},
        {16, 2, 128, NAN, "context_weight"},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        kga_structure_params_init(&p);
        p.context_blocks = bad[c].blocks;
        p.context_levels = bad[c].levels;
        p.dim = bad[c].dim;
        p.context_weight = bad[c].weight;
        ck_assert_int_eq(kga_structure_params_check(&p, &err), KGA_EINVAL);
        ck_assert_msg(strstr(err.msg, bad[c].names) != NULL, "case %zu: %s",
                      c, err.msg);
    }
    kga_structure_params_init(&p);
    p.dim = 7;
    ck_assert_int_eq(kga_structure_params_check(&p, &err), KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "dim"));
    kga_structure_params_init(&p);
    p.typed_hops = p.hops + 2;
    ck_assert_int_eq(kga_structure_params_check(&p, &err), KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "typed_hops"));
    kga_structure_params_init(&p);
    p.hops = KGA_STRUCTURE_MAX_HOPS + 1;
    ck_assert_int_eq(kga_structure_params_check(&p, &err), KGA_EINVAL);
    kga_structure_params_init(&p);
    p.signature = 0;
    p.typed_hops = 0;
    p.hops = 2;
    p.context_blocks = 0;
    ck_assert_uint_eq(kga_structure_width(&p), 3 * 128);
}
END_TEST

/* ---- weights and propagation -------------------------------------------- */

/* Relation r: h -> t1, t2, t3 (3 distinct tails over 3 triples: weight 1
 * for h <- t); relation p: h -> t4 and x -> t4 (1 distinct tail over 2
 * triples: weight 1/2 for h <- t4). Seeds t1..t4. */
START_TEST(one_hop_follows_relation_weights)
{
    const char *names[] = {"h", "t1", "t2", "t3", "t4", "x"};
    kga_graph_builder_t *b[2];
    for (int s = 0; s < 2; s++) {
        b[s] = kga_graph_builder_new();
        uint32_t e[6], r, p;
        char id[32];
        for (int k = 0; k < 6; k++) {
            snprintf(id, sizeof id, "%s:%s", s ? "R" : "L", names[k]);
            ck_assert_int_eq(kga_graph_builder_entity(b[s], id, &e[k], NULL),
                             0);
        }
        ck_assert_int_eq(kga_graph_builder_relation(b[s], s ? "r'" : "r", &r),
                         0);
        ck_assert_int_eq(kga_graph_builder_relation(b[s], s ? "p'" : "p", &p),
                         0);
        for (int k = 1; k <= 3; k++)
            ck_assert_int_eq(kga_graph_builder_triple(b[s], e[0], r, e[k]), 0);
        ck_assert_int_eq(kga_graph_builder_triple(b[s], e[0], p, e[4]), 0);
        ck_assert_int_eq(kga_graph_builder_triple(b[s], e[5], p, e[4]), 0);
    }
    kga_test_stores_t st;
    kga_test_stores_write(&st, "structure", b);
    kga_graph_builder_free(b[0]);
    kga_graph_builder_free(b[1]);

    kga_structure_params_t p;
    kga_structure_params_init(&p);
    p.dim = 16;
    p.hops = 1;
    p.typed_hops = 0;
    p.context_blocks = 0;
    p.signature = 0;
    kga_structure_t *g;
    kga_err_t err;
    ck_assert_msg(kga_structure_new(st.s[0], st.s[1], &p, &g, &err) == 0, "%s",
                  err.msg);
    uint32_t id[2][6];
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 6; k++) {
            char x[32];
            snprintf(x, sizeof x, "%s:%s", s ? "R" : "L", names[k]);
            id[s][k] = (uint32_t)kga_store_lookup(st.s[s], x);
        }
    kga_pair_t seeds[4];
    for (int k = 0; k < 4; k++)
        seeds[k] = (kga_pair_t){id[0][k + 1], id[1][k + 1]};
    feats_t f;
    feats_compute(&f, g, &p, seeds, 4, NULL, NULL);
    ck_assert_uint_eq(f.width, 32);

    for (int s = 0; s < 2; s++) {
        /* X1[h] = rownorm(x1 + x2 + x3 + 0.5 x4); X0[h] = 0. */
        float want[16];
        double nn = 0.0;
        for (int k = 0; k < 16; k++) {
            want[k] = 0.0f;
            for (int t = 1; t <= 4; t++)
                want[k] += (t == 4 ? 0.5f : 1.0f) * row(&f, s, id[s][t])[k];
            nn += (double)want[k] * want[k];
        }
        const float *h = row(&f, s, id[s][0]);
        for (int k = 0; k < 16; k++) {
            ck_assert_float_eq(h[k], 0.0f);
            /* Each block is stored in steps of its largest value / 127. */
            ck_assert_float_eq_tol(h[16 + k], (float)(want[k] / sqrt(nn)),
                                   5e-3f);
        }
        /* t1 hears only from h (weight 1/3), which is no seed: X1 = 0;
         * its row is its anchor alone, of norm 1. */
        const float *t1 = row(&f, s, id[s][1]);
        for (int k = 0; k < 16; k++)
            ck_assert_float_eq(t1[16 + k], 0.0f);
        ck_assert_double_eq_tol(dot(t1, t1, 32), 1.0, 1e-6);
        /* x: not a seed, its only neighbour t4 is: X1[x] = x4. */
        const float *x = row(&f, s, id[s][5]);
        const float *t4 = row(&f, s, id[s][4]);
        for (int k = 0; k < 16; k++)
            ck_assert_float_eq_tol(x[16 + k], t4[k], 1e-6f);
    }
    feats_free(&f);
    kga_structure_free(g);
    kga_test_stores_close(&st);
}
END_TEST

/* The structure model of x's two stores with parameters p, asserted to
 * build (the caller frees it). */
static kga_structure_t *structure_of(const iso_t *x,
                                     const kga_structure_params_t *p)
{
    kga_structure_t *g;
    kga_err_t err;
    ck_assert_msg(kga_structure_new(x->st.s[0], x->st.s[1], p, &g, &err) == 0,
                  "%s", err.msg);
    return g;
}

/* ---- anchors ------------------------------------------------------------ */

START_TEST(seed_pairs_share_their_anchor)
{
    iso_t x;
    iso_make(&x, 200, 700, 5, 11, 0, 0.0);
    kga_structure_params_t p;
    kga_structure_params_init(&p);
    kga_structure_t *g = structure_of(&x, &p);
    kga_pair_t seeds[50];
    uint8_t seeded[200] = {0};
    for (uint32_t k = 0; k < 50; k++) {
        seeds[k] = (kga_pair_t){x.left[4 * k], x.right[4 * k]};
        seeded[4 * k] = 1;
    }
    feats_t f;
    feats_compute(&f, g, &p, seeds, 50, NULL, NULL);
    for (uint32_t k = 0; k < 200; k++) {
        const float *a = row(&f, 0, x.left[k]), *b = row(&f, 1, x.right[k]);
        ck_assert_double_eq_tol(dot(a, a, f.width), 1.0, 1e-5);
        if (seeded[k]) {
            /* The same anchor; the rows' scales may differ by rounding. */
            double ab = dot(a, b, p.dim);
            REQUIRE(ab / sqrt(dot(a, a, p.dim) * dot(b, b, p.dim)) > 0.99999,
                    "pair %u: X0 differs", k);
            REQUIRE(dot(a, a, p.dim) > 0.01, "pair %u: empty anchor", k);
        } else {
            for (uint32_t c = 0; c < p.dim; c++)
                REQUIRE(a[c] == 0.0f && b[c] == 0.0f, "pair %u: X0 set", k);
        }
    }
    /* Distinct seeds get (nearly) orthogonal anchors. */
    const float *a0 = row(&f, 0, x.left[0]), *a1 = row(&f, 0, x.left[4]);
    double n0 = dot(a0, a0, p.dim), n1 = dot(a1, a1, p.dim);
    ck_assert_double_lt(fabs(dot(a0, a1, p.dim)) / sqrt(n0 * n1), 0.5);

    /* The anchor is keyed by the LEFT external id: pairing left[0] with
     * another right entity, in another order, keeps its X0. */
    kga_pair_t other[2] = {{x.left[4], x.right[4]}, {x.left[0], x.right[1]}};
    feats_t f2;
    feats_compute(&f2, g, &p, other, 2, NULL, NULL);
    /* (Rows are normalised as a whole, so compare the blocks' directions.) */
    const float *u = row(&f, 0, x.left[0]);
    for (int side = 0; side < 2; side++) {
        const float *v = row(&f2, side, side ? x.right[1] : x.left[0]);
        double nu = sqrt(dot(u, u, p.dim)), nv = sqrt(dot(v, v, p.dim));
        for (uint32_t c = 0; c < p.dim; c++)
            ck_assert_float_eq_tol(u[c] / (float)nu, v[c] / (float)nv, 1e-6f);
    }

    /* The order of the seed list does not matter at all. */
    kga_pair_t rev[50];
    for (uint32_t k = 0; k < 50; k++)
        rev[k] = seeds[49 - k];
    feats_t f3;
    feats_compute(&f3, g, &p, rev, 50, NULL, NULL);
    for (int s = 0; s < 2; s++)
        ck_assert_int_eq(memcmp(f.F[s], f3.F[s],
                                (size_t)kga_structure_entities(g, s) *
                                    f.width * sizeof(float)),
                         0);
    feats_free(&f3);
    feats_free(&f2);
    feats_free(&f);
    kga_structure_free(g);
    iso_free(&x);
}
END_TEST

START_TEST(rejects_bad_seeds)
{
    iso_t x;
    iso_make(&x, 30, 60, 3, 5, 0, 0.0);
    kga_structure_params_t p;
    kga_structure_params_init(&p);
    p.dim = 8;
    p.context_blocks = 0;
    kga_structure_t *g = structure_of(&x, &p);
    kga_err_t err;
    uint32_t w = kga_structure_width(&p);
    kga_qmatrix_t qa, qb;
    ck_assert_int_eq(kga_qmatrix_init(&qa, 30, w / p.dim, p.dim), 0);
    ck_assert_int_eq(kga_qmatrix_init(&qb, 30, w / p.dim, p.dim), 0);
    kga_qmatrix_t *a = &qa, *b = &qb;
    kga_pair_t s1[] = {{x.left[0], 30}};
    ck_assert_int_eq(kga_structure_features(g, s1, 1, NULL, NULL, a, b, NULL,
                                            &err),
                     KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    kga_pair_t s2[] = {{x.left[0], x.right[0]}, {x.left[0], x.right[1]}};
    ck_assert_int_eq(kga_structure_features(g, s2, 2, NULL, NULL, a, b, NULL,
                                            &err),
                     KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "left"));
    kga_pair_t s3[] = {{x.left[0], x.right[0]}, {x.left[1], x.right[0]}};
    ck_assert_int_eq(kga_structure_features(g, s3, 2, NULL, NULL, a, b, NULL,
                                            &err),
                     KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "right"));
    ck_assert_int_eq(kga_structure_features(g, NULL, 0, NULL, NULL, a, b, NULL,
                                            &err),
                     0);
    /* Output matrices of another shape are refused. */
    kga_qmatrix_t small;
    ck_assert_int_eq(kga_qmatrix_init(&small, 29, w / p.dim, p.dim), 0);
    ck_assert_int_eq(kga_structure_features(g, NULL, 0, NULL, NULL, &small, b,
                                            NULL, &err),
                     KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "left output"));
    kga_qmatrix_destroy(&small);
    kga_qmatrix_destroy(&qa);
    kga_qmatrix_destroy(&qb);
    kga_structure_free(g);
    iso_free(&x);
}
END_TEST

/* ---- determinism -------------------------------------------------------- */

START_TEST(features_do_not_depend_on_threads)
{
    iso_t x;
    iso_make(&x, 1500, 6000, 8, 3, 0, 0.1);
    kga_structure_params_t p;
    kga_structure_params_init(&p);
    p.dim = 32;
    kga_structure_t *g = structure_of(&x, &p);
    kga_pair_t seeds[500];
    for (uint32_t k = 0; k < 500; k++)
        seeds[k] = (kga_pair_t){x.left[3 * k], x.right[3 * k]};
    feats_t base;
    feats_compute(&base, g, &p, seeds, 500, NULL, NULL);
    for (int threads = 2; threads <= 3; threads++) {
        kga_pool_t *pool;
        ck_assert_int_eq(kga_pool_new(threads, &pool), 0);
        feats_t f;
        feats_compute(&f, g, &p, seeds, 500, pool, NULL);
        for (int s = 0; s < 2; s++)
            REQUIRE(memcmp(base.F[s], f.F[s],
                           (size_t)kga_structure_entities(g, s) * f.width *
                               sizeof(float)) == 0,
                    "%d threads: side %d differs", threads, s);
        feats_free(&f);
        kga_pool_free(pool);
    }
    feats_free(&base);
    kga_structure_free(g);
    iso_free(&x);
}
END_TEST

/* ---- alignment ---------------------------------------------------------- */

/* Hits@1 of the held-out pairs (k % 10 >= 3) by F . F against every
 * held-out right entity; ties count against. */
static double heldout_hits1(const iso_t *x, const feats_t *f)
{
    uint32_t hits = 0, total = 0;
    for (uint32_t k = 0; k < x->n; k++) {
        if (k % 10 < 3)
            continue;
        const float *a = row(f, 0, x->left[k]);
        double t = dot(a, row(f, 1, x->right[k]), f->width);
        int best = 1;
        for (uint32_t j = 0; j < x->n && best; j++)
            if (j % 10 >= 3 && j != k &&
                dot(a, row(f, 1, x->right[j]), f->width) >= t)
                best = 0;
        hits += (uint32_t)best;
        total++;
    }
    return (double)hits / total;
}

/* 30% of the pairs as seeds; the rest are found by F . F alone. */
START_TEST(isomorphic_graphs_align_from_few_seeds)
{
    static const struct {
        double drop, min_hits1;
    } cases[] = {{0.0, 0.95}, {0.3, 0.8}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        iso_t x;
        iso_make(&x, 600, 2400, 6, 21, 0, cases[c].drop);
        kga_structure_params_t p;
        kga_structure_params_init(&p);
        kga_structure_t *g = structure_of(&x, &p);
        kga_pair_t *seeds = malloc(x.n * sizeof *seeds);
        size_t ns = 0;
        for (uint32_t k = 0; k < x.n; k++)
            if (k % 10 < 3)
                seeds[ns++] = (kga_pair_t){x.left[k], x.right[k]};
        kga_structure_stats_t stats;
        feats_t f;
        feats_compute(&f, g, &p, seeds, ns, NULL, &stats);
        /* Relation names differ on the two sides: every right relation is
         * aligned through the seeds alone. */
        ck_assert_uint_eq(stats.right_relations, 12);
        ck_assert_uint_eq(stats.right_relations_aligned, 12);
        ck_assert_uint_gt(stats.matched_triples, 0);
        double h1 = heldout_hits1(&x, &f);
        ck_assert_msg(h1 >= cases[c].min_hits1, "drop %.2f: Hits@1 %.3f",
                      cases[c].drop, h1);

        /* Without seeds there is nothing to propagate: far worse. */
        feats_t none;
        feats_compute(&none, g, &p, NULL, 0, NULL, NULL);
        ck_assert_double_lt(heldout_hits1(&x, &none), 0.5 * h1);
        feats_free(&none);
        feats_free(&f);
        free(seeds);
        kga_structure_free(g);
        iso_free(&x);
    }
}
END_TEST

/* The context blocks see the same relations and neighbours on both sides
 * of an isomorphic pair (relation names differ: only the seeds align
 * them), so matching entities get the same blocks; and an entity outside
 * the graph with a graph entity's edges gets that entity's whole row. */
START_TEST(context_blocks_agree_and_extend_to_new_entities)
{
    iso_t x;
    iso_make(&x, 200, 800, 5, 13, 0, 0.0);
    kga_structure_params_t p;
    kga_structure_params_init(&p);
    p.context_blocks = 4;
    kga_structure_t *g = structure_of(&x, &p);
    kga_pair_t seeds[60];
    kga_err_t err;
    for (uint32_t k = 0; k < 60; k++)
        seeds[k] = (kga_pair_t){x.left[k], x.right[k]};
    uint32_t w = kga_structure_width(&p), first = w / p.dim - 4;
    kga_qmatrix_t q[2];
    for (int s = 0; s < 2; s++)
        ck_assert_int_eq(kga_qmatrix_init(&q[s], kga_structure_entities(g, s),
                                          w / p.dim, p.dim),
                         0);
    ck_assert_msg(kga_structure_features(g, seeds, 60, NULL, NULL, &q[0], &q[1],
                                         NULL, &err) == 0,
                  "%s", err.msg);
    float *a = malloc(w * sizeof *a), *b = malloc(w * sizeof *b);
    uint32_t agreed = 0, with_context = 0;
    for (uint32_t k = 60; k < 200; k++) {
        kga_qmatrix_row(&q[0], x.left[k], a);
        kga_qmatrix_row(&q[1], x.right[k], b);
        const float *ca = a + (size_t)first * p.dim,
                    *cb = b + (size_t)first * p.dim;
        uint32_t cw = 4 * p.dim;
        double nab = dot(ca, cb, cw), naa = dot(ca, ca, cw),
               nbb = dot(cb, cb, cw);
        if (naa == 0.0)
            continue;
        with_context++;
        agreed += nab / sqrt(naa * nbb) > 0.99;
    }
    ck_assert_uint_gt(with_context, 100);
    ck_assert_uint_eq(agreed, with_context);

    kga_structure_relations_t *rel;
    ck_assert_msg(kga_structure_relations_new(g, seeds, 60, &q[0], &q[1], &rel,
                                              &err) == 0,
                  "%s", err.msg);
    float *work = malloc(kga_structure_row_work(rel) * sizeof *work);
    for (uint32_t k = 100; k < 110; k++) {
        uint32_t e = x.left[k];
        kga_structure_edge_t edges[256];
        size_t n = 0;
        for (int dir = 0; dir < 2; dir++) {
            const kga_edge_t *ed;
            uint32_t m = kga_store_edges(x.st.s[0], e, (kga_dir_t)dir, &ed);
            for (uint32_t y = 0; y < m && n < 256; y++)
                if (ed[y].ent != e)
                    edges[n++] = (kga_structure_edge_t){ed[y].ent, ed[y].rel,
                                                        (uint32_t)dir};
        }
        kga_qmatrix_t one;
        ck_assert_int_eq(kga_qmatrix_init(&one, 1, w / p.dim, p.dim), 0);
        kga_structure_row(rel, 0, edges, n, &q[0], work, &one, 0);
        kga_qmatrix_row(&one, 0, b);
        kga_qmatrix_row(&q[0], e, a);
        ck_assert_msg(dot(a, b, w) > 0.995, "entity %u: %f", k, dot(a, b, w));
        kga_qmatrix_destroy(&one);
    }
    free(work);
    kga_structure_relations_free(rel);
    free(b);
    free(a);
    kga_qmatrix_destroy(&q[1]);
    kga_qmatrix_destroy(&q[0]);
    kga_structure_free(g);
    iso_free(&x);
}
END_TEST

/* Without seeds, identical relation names give identical relation
 * vectors: the signatures of matching entities are equal. */
START_TEST(shared_relation_names_align_without_seeds)
{
    for (int same = 0; same < 2; same++) {
        iso_t x;
        iso_make(&x, 100, 400, 6, 8, same, 0.0);
        kga_structure_params_t p;
        kga_structure_params_init(&p);
        p.hops = 0;
        p.typed_hops = 0;
        p.context_blocks = 0;
        kga_structure_t *g = structure_of(&x, &p);
        kga_structure_stats_t stats;
        feats_t f;
        feats_compute(&f, g, &p, NULL, 0, NULL, &stats);
        ck_assert_uint_eq(stats.right_relations_aligned, 0);
        double worst = 1.0;
        for (uint32_t k = 0; k < x.n; k++) {
            double c = dot(row(&f, 0, x.left[k]), row(&f, 1, x.right[k]),
                           f.width);
            worst = c < worst ? c : worst;
        }
        if (same)
            ck_assert_double_gt(worst, 0.9999);
        else
            ck_assert_double_lt(worst, 0.9);
        feats_free(&f);
        kga_structure_free(g);
        iso_free(&x);
    }
}
END_TEST

static Suite *structure_suite(void)
{
    Suite *s = suite_create("structure");
    TCase *tc = kga_test_tcase(s, "features", 120);
    tcase_add_test(tc, params_defaults_and_checks);
    tcase_add_test(tc, one_hop_follows_relation_weights);
    tcase_add_test(tc, seed_pairs_share_their_anchor);
    tcase_add_test(tc, rejects_bad_seeds);
    tcase_add_test(tc, features_do_not_depend_on_threads);
    tcase_add_test(tc, isomorphic_graphs_align_from_few_seeds);
    tcase_add_test(tc, context_blocks_agree_and_extend_to_new_entities);
    tcase_add_test(tc, shared_relation_names_align_without_seeds);
    return s;
}

int main(void)
{
    return kga_test_run(structure_suite);
}
