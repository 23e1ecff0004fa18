/* The sampler, the model's inference path and the training loop: weighted
 * and uniform sampling, reproducible inference samples, no NaN on empty
 * neighbourhoods, training that learns an isomorphic pair of graphs, and
 * bit-identical parameters for a seed. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gnn/adam.h"
#include "gnn/gnn.h"
#include "train/gnn_train.h"
#include "store/graph_builder.h"
#include "base/rng.h"
#include "gnn/sampler.h"
#include "store/store.h"

#include "testutil.h"

/* ------------------------------------------------------------------------
 * Sampler
 * ------------------------------------------------------------------------ */

enum { ACTORS = 50 };

/* Entity 0 (a film) has one director (entity 1, relation 0, weight 1) and
 * fifty actors (entities 2.., relation 1, weight 1/50). */
static kga_neighbours_t *film_graph(void)
{
    kga_neighbour_edge_t e[1 + ACTORS];
    e[0] = (kga_neighbour_edge_t){0, 1, 0, 1.0f};
    for (int a = 0; a < ACTORS; a++)
        e[1 + a] = (kga_neighbour_edge_t){0, 2 + (uint32_t)a, 1, 1.0f / ACTORS};
    kga_neighbours_t *g;
    ck_assert_int_eq(
        kga_neighbours_from_edges(2 + ACTORS, 2, e, 1 + ACTORS, NULL, &g), 0);
    return g;
}

/* Frequency of the director and mean frequency of an actor over many
 * seeds. */
static void film_freq(const kga_neighbours_t *g, kga_sample_mode_t mode,
                      uint32_t max, double *director, double *actor)
{
    enum { RUNS = 2000 };
    uint32_t nbr[KGA_SAMPLE_MAX], rel[KGA_SAMPLE_MAX];
    long dir = 0, act = 0;
    for (uint64_t s = 0; s < RUNS; s++) {
        uint32_t n = kga_sample_neighbours(
            g, 0, kga_sample_seed(7, (uint32_t)s, 0), mode, max, nbr, rel);
        ck_assert_uint_eq(n, max);
        for (uint32_t k = 0; k < n; k++) {
            for (uint32_t j = 0; j < k; j++)
                ck_assert_uint_ne(nbr[j], nbr[k]); /* without replacement */
            ck_assert_uint_eq(rel[k], nbr[k] == 1 ? 0u : 1u);
            if (nbr[k] == 1)
                dir++;
            else
                act++;
        }
    }
    *director = (double)dir / RUNS;
    *actor = (double)act / RUNS / ACTORS;
}

START_TEST(sampler_weights)
{
    kga_neighbours_t *g = film_graph();
    double d, a;
    /* One draw: the director weighs as much as all actors together. */
    film_freq(g, KGA_SAMPLE_WEIGHTED, 1, &d, &a);
    ck_assert_msg(fabs(d - 0.5) < 0.04, "director drawn %.3f", d);
    ck_assert_msg(fabs(a - 0.01) < 0.004, "actor drawn %.4f", a);
    /* Ten draws: the director is nearly always in, an actor rarely. */
    film_freq(g, KGA_SAMPLE_WEIGHTED, 10, &d, &a);
    ck_assert_msg(d > 0.9 && d > 4 * a, "director %.3f, actor %.3f", d, a);
    /* Uniform: all alike, 10 of 51. */
    film_freq(g, KGA_SAMPLE_UNIFORM, 10, &d, &a);
    ck_assert_msg(fabs(d - 10.0 / 51) < 0.03 && fabs(a - 10.0 / 51) < 0.01,
                  "uniform: director %.3f, actor %.3f", d, a);
    kga_neighbours_free(g);
}
END_TEST

START_TEST(sampler_limits)
{
    kga_neighbours_t *g = film_graph();
    uint32_t nbr[KGA_SAMPLE_MAX], rel[KGA_SAMPLE_MAX];
    /* At most S, all when fewer. */
    ck_assert_uint_eq(
        kga_sample_neighbours(g, 0, 1, KGA_SAMPLE_WEIGHTED, 10, nbr, rel), 10);
    ck_assert_uint_eq(
        kga_sample_neighbours(g, 0, 1, KGA_SAMPLE_WEIGHTED, 1000, nbr, rel),
        1 + ACTORS);
    ck_assert_uint_eq(
        kga_sample_neighbours(g, 1, 1, KGA_SAMPLE_WEIGHTED, 10, nbr, rel), 0);
    ck_assert_uint_eq(
        kga_sample_neighbours(g, 0, 1, KGA_SAMPLE_WEIGHTED, 0, nbr, rel), 0);
    ck_assert_uint_eq(kga_neighbours_degree(g, 0), 1 + ACTORS);
    ck_assert_uint_eq(kga_neighbours_edge_count(g), 1 + ACTORS);
    /* Bad input is refused. */
    kga_neighbour_edge_t bad = {0, 9, 0, 1.0f};
    kga_neighbours_t *h;
    ck_assert_int_eq(kga_neighbours_from_edges(3, 1, &bad, 1, NULL, &h),
                     KGA_EINVAL);
    bad = (kga_neighbour_edge_t){0, 1, 0, 0.0f};
    ck_assert_int_eq(kga_neighbours_from_edges(3, 1, &bad, 1, NULL, &h),
                     KGA_EINVAL);
    kga_neighbours_free(g);
}
END_TEST

/* Inference samples are a function of the seed and of the entities' keys:
 * the same graph under other internal ids and another adjacency order
 * gives the same sample, and training seeds differ by epoch. */
START_TEST(sampler_deterministic)
{
    enum { N = 40, M = 300 };
    kga_rng_t r;
    kga_rng_init(&r, 3, 0);
    kga_neighbour_edge_t a[M], b[M];
    uint64_t ka[N], kb[N];
    uint32_t perm[N];
    for (uint32_t i = 0; i < N; i++) {
        perm[i] = i;
        ka[i] = kga_rng_next(&r);
    }
    kga_rng_shuffle_u32(&r, perm, N);
    for (uint32_t i = 0; i < N; i++)
        kb[perm[i]] = ka[i];
    for (int k = 0; k < M; k++) {
        a[k] = (kga_neighbour_edge_t){
            kga_rng_below(&r, N), kga_rng_below(&r, N), kga_rng_below(&r, 3),
            0.1f + (float)kga_rng_unit(&r)};
        b[k] = (kga_neighbour_edge_t){perm[a[k].ent], perm[a[k].nbr], a[k].rel,
                                      a[k].weight};
    }
    /* another order of the edges */
    for (int k = M - 1; k > 0; k--) {
        int j = (int)kga_rng_below(&r, (uint32_t)k + 1);
        kga_neighbour_edge_t t = b[k];
        b[k] = b[j];
        b[j] = t;
    }
    kga_neighbours_t *ga, *gb;
    ck_assert_int_eq(kga_neighbours_from_edges(N, 3, a, M, ka, &ga), 0);
    ck_assert_int_eq(kga_neighbours_from_edges(N, 3, b, M, kb, &gb), 0);
    int differs = 0;
    for (uint32_t e = 0; e < N; e++) {
        uint32_t na[10], ra[10], nb[10], rb[10], nc[10], rc[10];
        uint32_t ca = kga_sample_neighbours(ga, e, KGA_SAMPLE_INFERENCE,
                                            KGA_SAMPLE_WEIGHTED, 5, na, ra);
        uint32_t cb = kga_sample_neighbours(gb, perm[e], KGA_SAMPLE_INFERENCE,
                                            KGA_SAMPLE_WEIGHTED, 5, nb, rb);
        ck_assert_uint_eq(ca, cb);
        for (uint32_t k = 0; k < ca; k++) {
            ck_assert_uint_eq(perm[na[k]], nb[k]);
            ck_assert_uint_eq(ra[k], rb[k]);
        }
        /* the same call again */
        uint32_t ca2 = kga_sample_neighbours(ga, e, KGA_SAMPLE_INFERENCE,
                                             KGA_SAMPLE_WEIGHTED, 5, nc, rc);
        ck_assert_uint_eq(ca2, ca);
        ck_assert(memcmp(na, nc, ca * sizeof *na) == 0);
        /* another epoch: another sample somewhere */
        uint32_t c1 = kga_sample_neighbours(ga, e, kga_sample_seed(1, 0, 0),
                                            KGA_SAMPLE_WEIGHTED, 5, na, ra);
        uint32_t c2 = kga_sample_neighbours(ga, e, kga_sample_seed(1, 1, 0),
                                            KGA_SAMPLE_WEIGHTED, 5, nc, rc);
        if (c1 != c2 || memcmp(na, nc, c1 * sizeof *na) != 0)
            differs = 1;
    }
    ck_assert(differs);
    kga_neighbours_free(ga);
    kga_neighbours_free(gb);
}
END_TEST

/* From a store: weights come from kga_store_fanout of the entity's type,
 * and the relation map keeps directions apart. */
START_TEST(sampler_from_store)
{
    kga_graph_builder_t *bs[2];
    for (int s = 0; s < 2; s++) {
        kga_graph_builder_t *b = bs[s] = kga_graph_builder_new();
        uint32_t film, director, actor, f, p;
        kga_graph_builder_relation(b, s == 0 ? "directedBy" : "director",
                                   &director);
        kga_graph_builder_relation(b, "starring", &actor);
        for (int k = 0; k < 3; k++) {
            char id[32];
            snprintf(id, sizeof id, "film%d", k);
            kga_graph_builder_entity(b, id, &f, NULL);
            kga_graph_builder_set_type(b, f, "Film");
            snprintf(id, sizeof id, "dir%d", k);
            kga_graph_builder_entity(b, id, &p, NULL);
            kga_graph_builder_triple(b, f, director, p);
            for (int a = 0; a < ACTORS; a++) {
                snprintf(id, sizeof id, "actor%d", (a + k) % 60);
                kga_graph_builder_entity(b, id, &p, NULL);
                kga_graph_builder_triple(b, f, actor, p);
            }
        }
        (void)film;
    }
    kga_test_stores_t stores;
    kga_test_stores_write(&stores, "gnn", bs);
    kga_graph_builder_free(bs[0]);
    kga_graph_builder_free(bs[1]);
    kga_store_t *const *st = stores.s;
    uint32_t ml[4], mr[4], R;
    /* shared names: "starring" aligned, the director relations not */
    ck_assert_int_eq(kga_relation_map_build(st[0], st[1], 1, ml, mr, &R), 0);
    ck_assert_uint_eq(R, 6);
    int64_t s0 = -1, s1 = -1;
    for (uint32_t r = 0; r < 2; r++) {
        if (strcmp(kga_store_relation_name(st[0], r), "starring") == 0)
            s0 = r;
        if (strcmp(kga_store_relation_name(st[1], r), "starring") == 0)
            s1 = r;
    }
    ck_assert(s0 >= 0 && s1 >= 0);
    ck_assert_uint_eq(ml[2 * s0], mr[2 * s1]);
    ck_assert_uint_eq(ml[2 * s0 + 1], mr[2 * s1 + 1]);
    ck_assert_uint_ne(ml[2 * s0], ml[2 * s0 + 1]);
    ck_assert_uint_ne(ml[2 * (1 - s0)], mr[2 * (1 - s1)]);
    ck_assert_int_eq(kga_relation_map_build(st[0], st[1], 0, ml, mr, &R), 0);
    ck_assert_uint_eq(R, 8);

    kga_neighbours_t *g;
    ck_assert_int_eq(kga_neighbours_from_store(st[0], ml, R, &g), 0);
    int64_t film = kga_store_lookup(st[0], "film1");
    int64_t director = kga_store_lookup(st[0], "dir1");
    ck_assert(film >= 0 && director >= 0);
    ck_assert_uint_eq(kga_neighbours_degree(g, (uint32_t)film), 1 + ACTORS);
    ck_assert_uint_eq(kga_neighbours_key(g, (uint32_t)film),
                      kga_neighbours_key(g, (uint32_t)film));
    uint32_t nbr[KGA_SAMPLE_MAX], rel[KGA_SAMPLE_MAX];
    int hits = 0;
    for (uint32_t e = 0; e < 1000; e++) {
        uint32_t n =
            kga_sample_neighbours(g, (uint32_t)film, kga_sample_seed(5, e, 0),
                                  KGA_SAMPLE_WEIGHTED, 1, nbr, rel);
        ck_assert_uint_eq(n, 1);
        hits += nbr[0] == (uint32_t)director;
    }
    ck_assert_msg(hits > 400 && hits < 600, "director drawn %d / 1000", hits);
    /* a relation dropped by the map disappears */
    for (int k = 0; k < 4; k++)
        if (k / 2 != s0)
            ml[k] = KGA_RELATION_NONE;
    kga_neighbours_t *g2;
    ck_assert_int_eq(kga_neighbours_from_store(st[0], ml, R, &g2), 0);
    ck_assert_uint_eq(kga_neighbours_degree(g2, (uint32_t)film), ACTORS);
    kga_neighbours_free(g2);
    ml[0] = R;
    ck_assert_int_eq(kga_neighbours_from_store(st[0], ml, R, &g2), KGA_EINVAL);
    kga_neighbours_free(g);
    kga_test_stores_close(&stores);
}
END_TEST

/* ------------------------------------------------------------------------
 * A synthetic pair: two isomorphic random graphs, the right one under a
 * permutation of the ids (and other keys), relations aligned.
 * ------------------------------------------------------------------------ */

typedef struct {
    uint32_t n, rels;
    kga_neighbours_t *nbrs[2];
    uint32_t *perm; /* left id -> right id */
    kga_gnn_data_t data;
} synth_t;

static void synth_make(synth_t *s, uint32_t n, uint32_t triples,
                       uint32_t rels, uint64_t seed)
{
    kga_rng_t r;
    kga_rng_init(&r, seed, 0);
    s->n = n;
    s->rels = 2 * rels;
    s->perm = malloc(n * sizeof *s->perm);
    for (uint32_t i = 0; i < n; i++)
        s->perm[i] = i;
    kga_rng_shuffle_u32(&r, s->perm, n);
    kga_neighbour_edge_t *e[2];
    for (int side = 0; side < 2; side++)
        e[side] = malloc(2 * (size_t)triples * sizeof *e[side]);
    for (uint32_t k = 0; k < triples; k++) {
        /* a skewed head choice gives hubs and leaves */
        uint32_t h = (uint32_t)(n * kga_rng_unit(&r) * kga_rng_unit(&r));
        uint32_t t = kga_rng_below(&r, n);
        uint32_t rel = kga_rng_below(&r, rels);
        for (int side = 0; side < 2; side++) {
            uint32_t a = side ? s->perm[h] : h, b = side ? s->perm[t] : t;
            e[side][2 * k] = (kga_neighbour_edge_t){a, b, 2 * rel, 1.0f};
            e[side][2 * k + 1] =
                (kga_neighbour_edge_t){b, a, 2 * rel + 1, 1.0f};
        }
    }
    for (int side = 0; side < 2; side++) {
        uint64_t *keys = malloc(n * sizeof *keys);
        for (uint32_t i = 0; i < n; i++)
            keys[i] = kga_rng_hash(((uint64_t)side << 40) + i);
        ck_assert_int_eq(kga_neighbours_from_edges(n, s->rels, e[side],
                                                   2 * (size_t)triples, keys,
                                                   &s->nbrs[side]),
                         0);
        free(keys);
        free(e[side]);
        s->data.side[side] = (kga_gnn_side_t){s->nbrs[side], NULL, NULL,
                                              NULL, NULL};
    }
}

static void synth_free(synth_t *s)
{
    kga_neighbours_free(s->nbrs[0]);
    kga_neighbours_free(s->nbrs[1]);
    free(s->perm);
}

static kga_gnn_config_t small_config(void)
{
    kga_gnn_config_t c = kga_gnn_config_default();
    c.dim_entity = 32;
    c.dim_hidden = 16;
    c.bases = 4;
    return c;
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* Isolated entities and one-sided empty neighbourhoods give finite
 * distances and gradients, in the batch path and the cached path. */
START_TEST(no_nan_on_empty_neighbourhoods)
{
    /* left: 0 isolated, 1-2-3 a path; right: 0 isolated, 1-2 an edge */
    kga_neighbour_edge_t el[4] = {
        {1, 2, 0, 1}, {2, 1, 1, 1}, {2, 3, 0, 1}, {3, 2, 1, 1}};
    kga_neighbour_edge_t er[2] = {{1, 2, 0, 1}, {2, 1, 1, 1}};
    kga_neighbours_t *gl, *gr;
    ck_assert_int_eq(kga_neighbours_from_edges(4, 2, el, 4, NULL, &gl), 0);
    ck_assert_int_eq(kga_neighbours_from_edges(3, 2, er, 2, NULL, &gr), 0);
    for (int variant = 0; variant < 3; variant++) {
        kga_gnn_config_t cfg = small_config();
        cfg.cross_attention = variant != 1;
        cfg.self_attention = variant != 2;
        kga_gnn_shape_t shape = {{4, 3}, 2, 0, 0, {0, 0}};
        kga_pair_t anchor = {1, 1};
        kga_gnn_t *m;
        ck_assert_int_eq(kga_gnn_new(&cfg, &shape, &anchor, 1, &m), 0);
        kga_gnn_data_t d = {{{gl, NULL, NULL, NULL, NULL},
                             {gr, NULL, NULL, NULL, NULL}}};
        /* positives with negatives that hit every combination */
        kga_pair_t pairs[8] = {{0, 0}, {0, 1}, {1, 0}, {2, 2},
                                   {3, 1}, {3, 0}, {0, 2}, {1, 1}};
        kga_gnn_batch_t b = {pairs, 2, 3, {1, 2}};
        kga_gnn_work_t *w;
        kga_gnn_grad_t *g;
        ck_assert_int_eq(kga_gnn_work_new(m, NULL, &w), 0);
        ck_assert_int_eq(kga_gnn_grad_new(m, &g), 0);
        double loss;
        float dist[8];
        ck_assert_int_eq(kga_gnn_batch_run(w, m, &d, &b, g, &loss, dist), 0);
        ck_assert(isfinite(loss));
        ck_assert(all_finite(dist, 8));
        for (size_t i = 0; i < kga_gnn_tensor_count(m); i++) {
            kga_gnn_tensor_t t;
            kga_gnn_grad_tensor(g, i, &t);
            if (t.data != NULL)
                ck_assert_msg(all_finite(t.data, t.count), "%s", t.name);
        }
        kga_gnn_cache_t *c;
        ck_assert_int_eq(kga_gnn_cache_build(m, &d, 2, &c), 0);
        uint32_t left[12], right[12];
        float sd[12];
        for (uint32_t k = 0; k < 12; k++) {
            left[k] = k / 3;
            right[k] = k % 3;
        }
        ck_assert_int_eq(kga_gnn_score_pairs(m, c, left, right, 12, sd, 1),
                         0);
        ck_assert(all_finite(sd, 12));
        uint32_t dim;
        const float *vec = kga_gnn_cache_vectors(c, 0, &dim);
        ck_assert_uint_eq(dim, 2 * cfg.dim_hidden);
        ck_assert(all_finite(vec, 4 * dim));
        /* an isolated pair has no evidence */
        kga_gnn_evidence_t ev[4];
        size_t count;
        float dv;
        ck_assert_int_eq(kga_gnn_explain(m, c, 0, 0, ev, 4, &count, &dv), 0);
        ck_assert_uint_eq(count, 0);
        ck_assert(isfinite(dv));
        /* out of range */
        left[0] = 4;
        ck_assert_int_eq(kga_gnn_score_pairs(m, c, left, right, 1, sd, 1),
                         KGA_EINVAL);
        kga_gnn_cache_free(c);
        kga_gnn_grad_free(g);
        kga_gnn_work_free(w);
        kga_gnn_free(m);
    }
    kga_neighbours_free(gl);
    kga_neighbours_free(gr);
}
END_TEST

/* The cached path gives the same distances as the batch path with
 * inference samples, and the explanation sums to 1. */
START_TEST(cache_matches_batch)
{
    synth_t s;
    synth_make(&s, 60, 200, 3, 11);
    kga_gnn_config_t cfg = small_config();
    kga_gnn_shape_t shape = {{s.n, s.n}, s.rels, 0, 0, {0, 0}};
    kga_gnn_t *m;
    ck_assert_int_eq(kga_gnn_new(&cfg, &shape, NULL, 0, &m), 0);
    kga_pair_t pairs[20];
    uint32_t left[20], right[20];
    for (uint32_t k = 0; k < 20; k++) {
        pairs[k] = (kga_pair_t){k, s.perm[(k * 7) % s.n]};
        left[k] = pairs[k].left;
        right[k] = pairs[k].right;
    }
    kga_gnn_batch_t b = {pairs, 1, 19,
                         {KGA_SAMPLE_INFERENCE, KGA_SAMPLE_INFERENCE}};
    kga_gnn_work_t *w;
    ck_assert_int_eq(kga_gnn_work_new(m, NULL, &w), 0);
    float d1[20], d2[20];
    double loss;
    ck_assert_int_eq(kga_gnn_batch_run(w, m, &s.data, &b, NULL, &loss, d1),
                     0);
    kga_gnn_cache_t *c;
    ck_assert_int_eq(kga_gnn_cache_build(m, &s.data, 2, &c), 0);
    ck_assert_int_eq(kga_gnn_score_pairs(m, c, left, right, 20, d2, 2), 0);
    for (int k = 0; k < 20; k++)
        ck_assert_float_eq_tol(d1[k], d2[k], 1e-5f * (1 + d1[k]));
    kga_gnn_evidence_t ev[200];
    size_t count;
    float dv;
    ck_assert_int_eq(kga_gnn_explain(m, c, left[3], right[3], ev, 200, &count,
                                     &dv),
                     0);
    ck_assert_float_eq(dv, d2[3]);
    ck_assert_uint_gt(count, 0);
    double sum = 0;
    for (size_t k = 0; k < count; k++) {
        sum += ev[k].weight;
        ck_assert_uint_lt(ev[k].left_rel, s.rels);
        if (k > 0)
            ck_assert(ev[k].weight <= ev[k - 1].weight);
    }
    ck_assert_double_eq_tol(sum, 1.0, 1e-4);
    kga_gnn_cache_free(c);
    kga_gnn_work_free(w);
    kga_gnn_free(m);
    synth_free(&s);
}
END_TEST

/* Hits@1 of test left entities against all test right entities. */
static double hits_at_1(const kga_gnn_t *m, const kga_gnn_cache_t *c,
                        const synth_t *s, const uint32_t *test, uint32_t nt)
{
    uint32_t *left = malloc((size_t)nt * nt * sizeof *left);
    uint32_t *right = malloc((size_t)nt * nt * sizeof *right);
    float *d = malloc((size_t)nt * nt * sizeof *d);
    for (uint32_t i = 0; i < nt; i++)
        for (uint32_t j = 0; j < nt; j++) {
            left[(size_t)i * nt + j] = test[i];
            right[(size_t)i * nt + j] = s->perm[test[j]];
        }
    ck_assert_int_eq(kga_gnn_score_pairs(m, c, left, right, (size_t)nt * nt,
                                         d, 2),
                     0);
    uint32_t hits = 0;
    for (uint32_t i = 0; i < nt; i++) {
        const float *row = d + (size_t)i * nt;
        uint32_t better = 0; /* ties count against the true match */
        for (uint32_t j = 0; j < nt; j++)
            better += j != i && row[j] <= row[i];
        hits += better == 0;
    }
    free(left);
    free(right);
    free(d);
    return (double)hits / nt;
}

enum { TN = 300, TTRIPLES = 1500, TRELS = 4, TEPOCHS = 20 };

static kga_gnn_t *train_synth(const synth_t *s, int threads, uint32_t epochs,
                              double *first_loss, double *last_loss)
{
    kga_gnn_config_t cfg = small_config();
    cfg.seed = 3;
    /* 40% of the links train, the rest test */
    uint32_t ntrain = s->n * 2 / 5;
    kga_pair_t *links = malloc(ntrain * sizeof *links);
    for (uint32_t i = 0; i < ntrain; i++)
        links[i] = (kga_pair_t){i, s->perm[i]};
    kga_gnn_shape_t shape = {{s->n, s->n}, s->rels, 0, 0, {0, 0}};
    kga_gnn_t *m;
    ck_assert_int_eq(kga_gnn_new(&cfg, &shape, links, ntrain, &m), 0);
    kga_gnn_trainer_t *t;
    ck_assert_int_eq(
        kga_gnn_trainer_new(m, &s->data, links, ntrain, threads, &t), 0);
    for (uint32_t e = 0; e < epochs; e++) {
        kga_gnn_epoch_stats_t st;
        ck_assert_int_eq(kga_gnn_trainer_epoch(t, NULL, &st), 0);
        ck_assert_uint_eq(st.epoch, e);
        ck_assert(isfinite(st.loss));
        if (e == 0 && first_loss != NULL)
            *first_loss = st.loss;
        if (last_loss != NULL)
            *last_loss = st.loss;
    }
    kga_gnn_trainer_free(t);
    free(links);
    return m;
}

START_TEST(training_learns)
{
    synth_t s;
    synth_make(&s, TN, TTRIPLES, TRELS, 5);
    uint32_t ntest = TN - TN * 2 / 5;
    uint32_t *test = malloc(ntest * sizeof *test);
    for (uint32_t i = 0; i < ntest; i++)
        test[i] = TN * 2 / 5 + i;

    /* untrained model */
    kga_gnn_config_t cfg = small_config();
    cfg.seed = 3;
    kga_gnn_shape_t shape = {{s.n, s.n}, s.rels, 0, 0, {0, 0}};
    kga_gnn_t *m0;
    ck_assert_int_eq(kga_gnn_new(&cfg, &shape, NULL, 0, &m0), 0);
    kga_gnn_cache_t *c0;
    ck_assert_int_eq(kga_gnn_cache_build(m0, &s.data, 2, &c0), 0);
    double h0 = hits_at_1(m0, c0, &s, test, ntest);

    double first, last;
    kga_gnn_t *m = train_synth(&s, 2, TEPOCHS, &first, &last);
    kga_gnn_cache_t *c;
    ck_assert_int_eq(kga_gnn_cache_build(m, &s.data, 2, &c), 0);
    double h1 = hits_at_1(m, c, &s, test, ntest);
    fprintf(stderr,
            "training: loss %.3f -> %.3f, test Hits@1 %.3f (untrained %.3f, "
            "chance %.4f)\n",
            first, last, h1, h0, 1.0 / ntest);
    ck_assert_msg(last < 0.6 * first, "loss %.3f -> %.3f", first, last);
    /* Held-out entities have their own (unanchored) random vectors: what
     * they learn comes through their anchored neighbours only. About 0.2
     * here, against 1/180 by chance. */
    ck_assert_msg(h1 > 0.1 && h1 > 5 * (h0 + 1.0 / ntest), "Hits@1 %.3f", h1);
    kga_gnn_cache_free(c);
    kga_gnn_cache_free(c0);
    kga_gnn_free(m);
    kga_gnn_free(m0);
    free(test);
    synth_free(&s);
}
END_TEST

static int same_parameters(kga_gnn_t *a, kga_gnn_t *b)
{
    ck_assert_uint_eq(kga_gnn_tensor_count(a), kga_gnn_tensor_count(b));
    for (size_t i = 0; i < kga_gnn_tensor_count(a); i++) {
        kga_gnn_tensor_t x, y;
        kga_gnn_tensor(a, i, &x);
        kga_gnn_tensor(b, i, &y);
        ck_assert_str_eq(x.name, y.name);
        ck_assert_uint_eq(x.count, y.count);
        if (memcmp(x.data, y.data, x.count * 4) != 0)
            return 0;
    }
    return 1;
}

START_TEST(training_deterministic)
{
    synth_t s;
    synth_make(&s, 150, 700, 3, 8);
    kga_gnn_t *a = train_synth(&s, 2, 3, NULL, NULL);
    kga_gnn_t *b = train_synth(&s, 2, 3, NULL, NULL);
    kga_gnn_t *c = train_synth(&s, 1, 3, NULL, NULL);
    ck_assert_msg(same_parameters(a, b), "same seed, same threads differ");
    ck_assert_msg(same_parameters(a, c), "1 and 2 threads differ");
    /* and training did change them */
    kga_gnn_config_t cfg = small_config();
    cfg.seed = 3;
    kga_gnn_shape_t shape = {{s.n, s.n}, s.rels, 0, 0, {0, 0}};
    kga_gnn_t *fresh;
    uint32_t ntrain = s.n * 2 / 5;
    kga_pair_t *links = malloc(ntrain * sizeof *links);
    for (uint32_t i = 0; i < ntrain; i++)
        links[i] = (kga_pair_t){i, s.perm[i]};
    ck_assert_int_eq(kga_gnn_new(&cfg, &shape, links, ntrain, &fresh), 0);
    ck_assert(!same_parameters(a, fresh));
    free(links);
    kga_gnn_free(fresh);
    kga_gnn_free(a);
    kga_gnn_free(b);
    kga_gnn_free(c);
    synth_free(&s);
}
END_TEST

/* A limited epoch walks that many links, and a limit past the links
 * changes nothing: the same parameters as no limit at all. */
START_TEST(epoch_limit_samples_links)
{
    synth_t s;
    synth_make(&s, 150, 700, 3, 9);
    kga_gnn_config_t cfg = small_config();
    cfg.seed = 3;
    uint32_t ntrain = s.n * 2 / 5;
    kga_pair_t *links = malloc(ntrain * sizeof *links);
    for (uint32_t i = 0; i < ntrain; i++)
        links[i] = (kga_pair_t){i, s.perm[i]};
    kga_gnn_shape_t shape = {{s.n, s.n}, s.rels, 0, 0, {0, 0}};
    kga_gnn_t *m[3];
    size_t limit[3] = {0, ntrain + 5, 17};
    for (int v = 0; v < 3; v++) {
        ck_assert_int_eq(kga_gnn_new(&cfg, &shape, links, ntrain, &m[v]), 0);
        kga_gnn_trainer_t *t;
        ck_assert_int_eq(
            kga_gnn_trainer_new(m[v], &s.data, links, ntrain, 2, &t), 0);
        kga_gnn_trainer_limit(t, limit[v]);
        for (int e = 0; e < 3; e++) {
            kga_gnn_epoch_stats_t st;
            ck_assert_int_eq(kga_gnn_trainer_epoch(t, NULL, &st), 0);
            ck_assert_uint_eq(st.positives, v == 2 ? 17 : ntrain);
        }
        kga_gnn_trainer_free(t);
    }
    ck_assert_msg(same_parameters(m[0], m[1]), "a limit past the links");
    ck_assert_msg(!same_parameters(m[0], m[2]), "a limit of 17 links");
    for (int v = 0; v < 3; v++)
        kga_gnn_free(m[v]);
    free(links);
    synth_free(&s);
}
END_TEST

/* Anchored entities share one vector; the tensor list names every part. */
START_TEST(model_tensors)
{
    kga_gnn_config_t cfg = kga_gnn_config_default();
    kga_gnn_shape_t shape = {{5, 4}, 6, 7, 32, {0, 0}};
    kga_pair_t anchors[3] = {{0, 3}, {2, 3}, {4, 0}};
    kga_gnn_t *m;
    ck_assert_int_eq(kga_gnn_new(&cfg, &shape, anchors, 3, &m), 0);
    const char *expect[] = {"input.proj",   "input.name",   "input.entity",
                            "layer1.bases", "layer1.self",  "layer1.coef",
                            "layer2.bases", "layer2.self",  "layer2.coef",
                            "layer2.attention", "anchor.left", "anchor.right"};
    ck_assert_uint_eq(kga_gnn_tensor_count(m), 12);
    for (size_t i = 0; i < 12; i++) {
        kga_gnn_tensor_t t;
        ck_assert_int_eq(kga_gnn_tensor(m, i, &t), 0);
        ck_assert_str_eq(t.name, expect[i]);
    }
    kga_gnn_tensor_t ent, al, ar;
    kga_gnn_tensor(m, 2, &ent);
    kga_gnn_tensor(m, 10, &al);
    kga_gnn_tensor(m, 11, &ar);
    /* 9 entities, 3 links joining 0-3'-2 and 4-0': 6 rows */
    ck_assert_uint_eq(ent.dims[0], 6);
    const uint32_t *l = al.data, *r = ar.data;
    ck_assert_uint_eq(l[0], r[3]);
    ck_assert_uint_eq(l[2], r[3]);
    ck_assert_uint_eq(l[4], r[0]);
    ck_assert_uint_ne(l[1], l[0]);
    ck_assert_uint_ne(r[1], r[2]);
    ck_assert_int_eq(kga_gnn_tensor(m, 12, &ent), KGA_EINVAL);
    kga_gnn_free(m);
    /* nothing at level 0 */
    cfg.dim_entity = 0;
    shape.fixed_dim = 0;
    shape.name_buckets = 0;
    ck_assert_int_eq(kga_gnn_new(&cfg, &shape, NULL, 0, &m), KGA_EINVAL);
    anchors[0].left = 9;
    cfg.dim_entity = 8;
    ck_assert_int_eq(kga_gnn_new(&cfg, &shape, anchors, 1, &m), KGA_EINVAL);
}
END_TEST

/* Adam: the first step moves every parameter by lr against its gradient's
 * sign (bias correction), blocks and single elements give the same bits,
 * it minimises a quadratic, and weight decay shrinks. */
START_TEST(adam_steps)
{
    enum { N = 37 };
    float p[N], m[N] = {0}, v[N] = {0}, g[N], q[N], mq[N] = {0}, vq[N] = {0};
    for (int i = 0; i < N; i++) {
        p[i] = q[i] = (float)i / N - 0.5f;
        g[i] = (i % 3 == 0 ? -1.0f : 1.0f) * (0.01f + (float)i);
    }
    kga_adam_t a;
    kga_adam_init(&a, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f);
    kga_adam_begin_step(&a);
    kga_adam_update(&a, p, m, v, g, N);
    for (int i = 0; i < N; i++) {
        kga_adam_update(&a, q + i, mq + i, vq + i, g + i, 1);
        float expect = (float)i / N - 0.5f - (g[i] > 0 ? 0.01f : -0.01f);
        ck_assert_float_eq_tol(p[i], expect, 1e-6f);
    }
    ck_assert(memcmp(p, q, sizeof p) == 0);
    /* minimise sum (x - 3)^2 */
    float x[N], mx[N] = {0}, vx[N] = {0}, gx[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)i;
    kga_adam_init(&a, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f);
    for (int step = 0; step < 2000; step++) {
        for (int i = 0; i < N; i++)
            gx[i] = 2.0f * (x[i] - 3.0f);
        kga_adam_begin_step(&a);
        kga_adam_update(&a, x, mx, vx, gx, N);
    }
    for (int i = 0; i < N; i++)
        ck_assert_float_eq_tol(x[i], 3.0f, 0.05f);
    /* decay alone (zero gradient) shrinks towards 0 */
    float y = 1.0f, my = 0, vy = 0, gy = 0;
    kga_adam_init(&a, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f);
    kga_adam_begin_step(&a);
    kga_adam_update(&a, &y, &my, &vy, &gy, 1);
    ck_assert_float_eq_tol(y, 0.95f, 1e-6f);
}
END_TEST

static Suite *gnn_suite(void)
{
    Suite *s = suite_create("gnn");
    TCase *samp = kga_test_tcase(s, "sampler", 30);
    tcase_add_test(samp, sampler_weights);
    tcase_add_test(samp, sampler_limits);
    tcase_add_test(samp, sampler_deterministic);
    tcase_add_test(samp, sampler_from_store);
    TCase *model = kga_test_tcase(s, "model", 60);
    tcase_add_test(model, model_tensors);
    tcase_add_test(model, adam_steps);
    tcase_add_test(model, no_nan_on_empty_neighbourhoods);
    tcase_add_test(model, cache_matches_batch);
    tcase_add_test(model, training_learns);
    tcase_add_test(model, training_deterministic);
    tcase_add_test(model, epoch_limit_samples_links);
    return s;
}

int main(void)
{
    return kga_test_run(gnn_suite);
}
