/* Inference with a trained GNN: the cache of every entity's layer-2
 * messages, self-attention and output vector (one forward pass over all
 * entities, with the inference samples), pair distances scored from it, and
 * explanations (which neighbour pairs a distance rests on). Separate from
 * gnn_batch.c because nothing here trains: it only reuses the forward
 * stages and the last layer of a pair. */
#include "gnn/gnn_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Inference cache
 * ------------------------------------------------------------------------ */

void kga_gnn_cache_free(kga_gnn_cache_t *c)
{
    if (c == NULL)
        return;
    free(c->cnt);
    free(c->nbr);
    free(c->rel);
    free(c->Z);
    free(c->beta);
    free(c->s2);
    free(c->vec);
    free(c->h1);
    free(c);
}

typedef struct {
    run_t *r;
    kga_gnn_cache_t *c;
} finish_ctx_t;

static void cache_finish_chunk(void *ctx, size_t b, size_t e, int worker)
{
    finish_ctx_t *f = ctx;
    kga_gnn_work_t *w = f->r->w;
    const kga_gnn_t *m = f->r->m;
    kga_gnn_cache_t *c = f->c;
    size_t S = m->S, dh = m->dh;
    (void)worker;
    for (size_t i = b; i < e; i++) {
        uint32_t cnt = U(w->cnt)[i];
        c->cnt[i] = cnt;
        for (uint32_t k = 0; k < cnt; k++) {
            c->nbr[i * S + k] = U(w->ent)[U(w->nbr)[i * S + k]];
            c->rel[i * S + k] = U(w->rel)[i * S + k];
        }
        /* Centres are the first nodes, one per entity, in entity order. */
        memcpy(c->h1 + i * m->d1, F(w->H1) + i * m->d1,
               m->d1 * sizeof(float));
        float *v = c->vec + i * m->d1;
        memcpy(v, c->s2 + i * dh, dh * sizeof(float));
        kga_op_wsum_fwd(c->beta + i * S, c->Z + i * S * dh, cnt, m->dh,
                        v + dh);
        kga_op_relu_fwd(v, m->d1, v);
    }
}

int kga_gnn_cache_build(const kga_gnn_t *m, const kga_gnn_data_t *d,
                        int threads, kga_gnn_cache_t **out)
{
    *out = NULL;
    int rc = kga_gnn_data_check(m, d, NULL);
    if (rc != 0)
        return rc;
    kga_pool_t *pool = NULL;
    kga_gnn_work_t *w = NULL;
    kga_gnn_cache_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KGA_ENOMEM;
    size_t N = (size_t)m->shape.entities[0] + m->shape.entities[1];
    size_t S = m->S, n1 = N > 0 ? N : 1;
    c->n[0] = m->shape.entities[0];
    c->n[1] = m->shape.entities[1];
    c->S = m->S;
    c->dh = m->dh;
    c->d1 = m->d1;
    c->cnt = malloc(n1 * sizeof *c->cnt);
    c->nbr = malloc(n1 * S * sizeof *c->nbr);
    c->rel = malloc(n1 * S * sizeof *c->rel);
    c->Z = malloc(n1 * S * m->dh * sizeof *c->Z);
    c->beta = malloc(n1 * S * sizeof *c->beta);
    c->s2 = malloc(n1 * m->dh * sizeof *c->s2);
    c->vec = malloc(n1 * m->d1 * sizeof *c->vec);
    c->h1 = malloc(n1 * m->d1 * sizeof *c->h1);
    rc = KGA_ENOMEM;
    if (c->cnt == NULL || c->nbr == NULL || c->rel == NULL || c->Z == NULL ||
        c->beta == NULL || c->s2 == NULL || c->vec == NULL || c->h1 == NULL)
        goto fail;
    if ((rc = kga_pool_new(threads, &pool)) != 0 ||
        (rc = kga_gnn_work_new(m, pool, &w)) != 0)
        goto fail;
    int prev = kga_blas_serial_enter();
    const uint64_t seeds[2] = {KGA_SAMPLE_INFERENCE, KGA_SAMPLE_INFERENCE};
    rc = kga_gnn_build_nodes(w, m, d, NULL, 0, seeds);
    if (rc == 0)
        rc = kga_gnn_prepare_relations(w, m, 0);
    if (rc == 0)
        rc = kga_gnn_ensure_forward(w, m, 0);
    if (rc == 0) {
        run_t r = {.w = w, .m = m, .d = d, .Z = c->Z, .T = F(w->T),
                   .beta = c->beta, .S2 = c->s2, .parts = 1};
        kga_pool_run(pool, w->n0, ROW_GRAIN, kga_gnn_level0_chunk, &r);
        kga_pool_run(pool, w->n1, ROW_GRAIN, kga_gnn_layer1_chunk, &r);
        kga_pool_run(pool, w->nused, 4, kga_gnn_relation_chunk, &r);
        kga_pool_run(pool, w->nc, ITEM_GRAIN, kga_gnn_centre_chunk, &r);
        finish_ctx_t f = {&r, c};
        kga_pool_run(pool, N, ROW_GRAIN, cache_finish_chunk, &f);
    }
    kga_blas_serial_leave(prev);
    if (rc != 0)
        goto fail;
    kga_gnn_work_free(w);
    kga_pool_free(pool);
    *out = c;
    return 0;
fail:
    kga_gnn_work_free(w);
    kga_pool_free(pool);
    kga_gnn_cache_free(c);
    return rc;
}

const float *kga_gnn_cache_vectors(const kga_gnn_cache_t *c, int side,
                                   uint32_t *dim)
{
    if (dim != NULL)
        *dim = c->d1;
    return c->vec + (side ? (size_t)c->n[0] * c->d1 : 0);
}

static view_t cache_view(const kga_gnn_cache_t *c, int side, uint32_t ent)
{
    size_t i = (side ? (size_t)c->n[0] : 0) + ent;
    view_t v = {
        .Z = c->Z + i * c->S * c->dh,
        .beta = c->beta + i * c->S,
        .s2 = c->s2 + i * c->dh,
        .m = c->cnt[i],
    };
    return v;
}

void kga_gnn_cache_view(const kga_gnn_cache_t *c, int side, uint32_t ent,
                        kga_gnn_view_t *out)
{
    *out = cache_view(c, side, ent);
}

/* ------------------------------------------------------------------------
 * Scoring and explanations
 * ------------------------------------------------------------------------ */

static size_t pairbuf_floats(const kga_gnn_t *m)
{
    return 2 * (size_t)m->S * m->S + 4 * (size_t)m->S + 2 * (size_t)m->d1;
}

static pairbuf_t pairbuf_at(const kga_gnn_t *m, float *p)
{
    size_t S = m->S, SS = S * S;
    pairbuf_t pb = {
        .D = p,
        .A = p + SS,
        .alpha = {p + 2 * SS, p + 2 * SS + S},
        .w = {p + 2 * SS + 2 * S, p + 2 * SS + 3 * S},
        .h2 = {p + 2 * SS + 4 * S, p + 2 * SS + 4 * S + m->d1},
    };
    return pb;
}

size_t kga_gnn_pair_scratch(const kga_gnn_t *m)
{
    return pairbuf_floats(m);
}

float kga_gnn_view_distance(const kga_gnn_t *m, const kga_gnn_view_t *left,
                            const kga_gnn_view_t *right, float *scratch)
{
    pairbuf_t pb = pairbuf_at(m, scratch);
    view_t v[2] = {*left, *right};
    return kga_gnn_pair_forward(m, v, &pb);
}

typedef struct {
    const kga_gnn_t *m;
    const kga_gnn_cache_t *c;
    const uint32_t *left, *right;
    float *dist;
    float *scratch;
} score_ctx_t;

static void score_chunk(void *ctx, size_t b, size_t e, int worker)
{
    score_ctx_t *s = ctx;
    pairbuf_t pb =
        pairbuf_at(s->m, s->scratch + (size_t)worker * pairbuf_floats(s->m));
    for (size_t k = b; k < e; k++) {
        view_t v[2] = {cache_view(s->c, 0, s->left[k]),
                       cache_view(s->c, 1, s->right[k])};
        s->dist[k] = kga_gnn_pair_forward(s->m, v, &pb);
    }
}

/* Below this many pairs, starting threads costs more than it saves. */
#define SCORE_PARALLEL_MIN 4096

int kga_gnn_score_pairs(const kga_gnn_t *m, const kga_gnn_cache_t *c,
                        const uint32_t *left, const uint32_t *right, size_t n,
                        float *dist, int threads)
{
    if (c->S != m->S || c->dh != m->dh)
        return KGA_EINVAL;
    for (size_t k = 0; k < n; k++)
        if (left[k] >= c->n[0] || right[k] >= c->n[1])
            return KGA_EINVAL;
    kga_pool_t *pool = NULL;
    if (n >= SCORE_PARALLEL_MIN && threads != 1 &&
        kga_pool_new(threads, &pool) != 0)
        pool = NULL; /* run in the caller instead */
    int t = kga_pool_threads(pool);
    float *scratch = malloc((size_t)t * pairbuf_floats(m) * sizeof *scratch);
    if (scratch == NULL) {
        kga_pool_free(pool);
        return KGA_ENOMEM;
    }
    score_ctx_t s = {m, c, left, right, dist, scratch};
    kga_pool_run(pool, n, 1024, score_chunk, &s);
    free(scratch);
    kga_pool_free(pool);
    return 0;
}

static int cmp_evidence(const void *a, const void *b)
{
    const kga_gnn_evidence_t *x = a, *y = b;
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    if (x->left_nbr != y->left_nbr)
        return x->left_nbr < y->left_nbr ? -1 : 1;
    return x->right_nbr < y->right_nbr ? -1 : x->right_nbr > y->right_nbr;
}

int kga_gnn_explain(const kga_gnn_t *m, const kga_gnn_cache_t *c,
                    uint32_t left, uint32_t right, kga_gnn_evidence_t *out,
                    size_t max, size_t *count, float *dist)
{
    *count = 0;
    if (left >= c->n[0] || right >= c->n[1] || c->S != m->S)
        return KGA_EINVAL;
    float *buf = malloc(pairbuf_floats(m) * sizeof *buf);
    kga_gnn_evidence_t *all =
        malloc((size_t)m->S * m->S * sizeof *all + sizeof *all);
    if (buf == NULL || all == NULL) {
        free(buf);
        free(all);
        return KGA_ENOMEM;
    }
    pairbuf_t pb = pairbuf_at(m, buf);
    view_t v[2] = {cache_view(c, 0, left), cache_view(c, 1, right)};
    float dv = kga_gnn_pair_forward(m, v, &pb);
    if (dist != NULL)
        *dist = dv;
    size_t il = left, ir = (size_t)c->n[0] + right;
    uint32_t ml = v[0].m, mr = v[1].m;
    int cross = kga_gnn_pair_cross(m, v);
    float total = 0.0f;
    size_t n = 0;
    for (uint32_t k = 0; k < ml; k++)
        for (uint32_t l = 0; l < mr; l++) {
            float wgt = v[0].beta[k] * v[1].beta[l];
            if (cross)
                wgt *= pb.A[(size_t)k * mr + l];
            kga_gnn_evidence_t ev = {
                .left_nbr = c->nbr[il * c->S + k],
                .left_rel = c->rel[il * c->S + k],
                .right_nbr = c->nbr[ir * c->S + l],
                .right_rel = c->rel[ir * c->S + l],
                .weight = wgt,
            };
            all[n++] = ev;
            total += wgt;
        }
    for (size_t i = 0; i < n; i++)
        all[i].weight = total > 0.0f ? all[i].weight / total : 0.0f;
    qsort(all, n, sizeof *all, cmp_evidence);
    *count = n < max ? n : max;
    memcpy(out, all, *count * sizeof *out);
    free(buf);
    free(all);
    return 0;
}
