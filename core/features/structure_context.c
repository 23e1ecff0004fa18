/* The relational context blocks of the structural features: what an
 * entity's neighbours are, seen through the relations that reach them, as
 * one sketch of (relation feature) x (neighbour feature). LightEA's
 * "triple view"; separate from structure.c because it is a second kind of
 * computation (matrix products over every entity, then an edge pass) on
 * the blocks that propagation wrote. */
#include "features/structure_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/vec.h"

/* Random streams of the two projections, apart from every other stream. */
#define RELATION_PROJ_SALT 0x9B05688C2B3E6C1Full
#define ENTITY_PROJ_SALT 0x1F83D9ABFB41BD6Bull

/* Each relation coordinate pairs with this many coordinates of its own
 * projection of the neighbour: a block of dim values holds dim / 16
 * relation coordinates. */
#define MINI 16u

/* Rows per matrix product and per pool task. */
#define CHUNK 256u

/* Fills a with n Gaussian values / sqrt(scale_n), from (seed, stream). */
static void gaussian(uint64_t seed, uint64_t stream, float *a, size_t n,
                     double scale_n)
{
    kga_rng_t r;
    kga_rng_init(&r, seed, stream);
    kga_rng_gaussians(&r, a, n, 1.0 / sqrt(scale_n));
}

typedef struct {
    const side_graph_t *s;
    kga_qmatrix_t *Q;
    uint32_t d, lw, levels, block, first;
    const float *W;   /* lw x d: this block's neighbour projections */
    const float *rp;  /* 2 nrel x R: projected relation features */
    uint32_t R;
    float *Y;         /* n x d */
    float *E;         /* per worker: CHUNK x lw */
    float *y;         /* per worker: d */
    double *norm2;    /* n */
    int pass;         /* 0: Y = E W, 1: the edge pass */
} ctx_t;

/* One edge's share of a block: each of its per relation coordinates a[k]
 * times its MINI values of the neighbour's projection yj. */
static void add_edge(float *out, const float *a, const float *yj,
                     uint32_t per)
{
    for (uint32_t k = 0; k < per; k++) {
        float ak = a[k];
        for (uint32_t u = 0; u < MINI; u++)
            out[k * MINI + u] += ak * yj[k * MINI + u];
    }
}

static void context_chunk(void *arg, size_t begin, size_t end, int worker)
{
    const ctx_t *c = arg;
    uint32_t d = c->d;
    if (c->pass == 0) {
        float *E = c->E + (size_t)worker * CHUNK * c->lw;
        for (size_t i = begin; i < end; i++)
            kga_context_input(c->Q, (uint32_t)i, c->levels,
                              E + (i - begin) * c->lw);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                    (int)(end - begin), (int)d, (int)c->lw, 1.0f, E,
                    (int)c->lw, c->W, (int)d, 0.0f, c->Y + begin * d,
                    (int)d);
        return;
    }
    float *y = c->y + (size_t)worker * d;
    uint32_t per = d / MINI, k0 = c->block * per;
    for (size_t i = begin; i < end; i++) {
        memset(y, 0, (size_t)d * sizeof *y);
        for (uint64_t x = c->s->off[i]; x < c->s->off[i + 1]; x++) {
            uint32_t j = c->s->nbr[x];
            if (j == i)
                continue;
            add_edge(y, c->rp + (size_t)c->s->drel[x] * c->R + k0,
                     c->Y + (size_t)j * d, per);
        }
        double s = 0.0;
        for (uint32_t u = 0; u < d; u++)
            s += (double)y[u] * y[u];
        c->norm2[i] += s;
        kga_qmatrix_set(c->Q, (uint32_t)i, c->first + c->block, y);
    }
}

void kga_context_input(const kga_qmatrix_t *Q, uint32_t e, uint32_t levels,
                       float *x)
{
    for (uint32_t l = 0; l <= levels; l++) {
        kga_qmatrix_block(Q, e, l, x + (size_t)l * Q->dim);
        kga_vnormalize(x + (size_t)l * Q->dim, Q->dim);
    }
}

void kga_context_projection(const kga_structure_params_t *p, uint32_t b,
                            float *W)
{
    gaussian(p->seed ^ ENTITY_PROJ_SALT, b,
             W, (size_t)(p->context_levels + 1) * p->dim * p->dim, MINI);
}

uint32_t kga_context_relation_width(const kga_structure_params_t *p)
{
    return p->context_blocks * (p->dim / MINI);
}

int kga_context_relations(const kga_structure_t *g, int side,
                          const kga_qmatrix_t *Q, float *rp)
{
    const side_graph_t *s = &g->side[side];
    uint32_t d = g->p.dim, nq = 2 * s->nrel;
    uint32_t lw = (g->p.context_levels + 1) * d;
    uint32_t R = kga_context_relation_width(&g->p);
    float *acc = calloc((size_t)nq * lw + 1, sizeof *acc);
    float *x = malloc((size_t)lw * sizeof *x);
    float *G = malloc((size_t)lw * R * sizeof *G);
    if (!acc || !x || !G) {
        free(G);
        free(x);
        free(acc);
        return KGA_ENOMEM;
    }
    gaussian(g->p.seed ^ RELATION_PROJ_SALT, 0, G, (size_t)lw * R, R);
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->off[i] == s->off[i + 1])
            continue;
        kga_context_input(Q, i, g->p.context_levels, x);
        for (uint64_t e = s->off[i]; e < s->off[i + 1]; e++) {
            float *a = acc + (size_t)s->drel[e] * lw;
            for (uint32_t k = 0; k < lw; k++)
                a[k] += x[k];
        }
    }
    for (uint32_t q = 0; q < nq; q++) {
        float *a = acc + (size_t)q * lw;
        for (uint32_t l = 0; l <= g->p.context_levels; l++)
            kga_vnormalize(a + (size_t)l * d, d);
        kga_vnormalize(a, lw);
    }
    if (nq > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq,
                    (int)R, (int)lw, 1.0f, acc, (int)lw, G, (int)R, 0.0f, rp,
                    (int)R);
    free(G);
    free(x);
    free(acc);
    return 0;
}

void kga_context_scale(const kga_structure_params_t *p, kga_qmatrix_t *Q,
                       uint32_t row, uint32_t first, double norm2)
{
    if (norm2 <= 0.0)
        return;
    /* The blocks together get weight w against the blocks before them,
     * each of which is unit or zero. */
    float f = (float)sqrt((double)p->context_weight * first / norm2);
    for (uint32_t b = 0; b < p->context_blocks; b++)
        Q->scale[(size_t)row * Q->blocks + first + b] *= f;
}

int kga_structure_context(const kga_structure_t *g, int side,
                          kga_qmatrix_t *Q, uint32_t first, float *Y,
                          kga_pool_t *pool)
{
    const kga_structure_params_t *p = &g->p;
    const side_graph_t *s = &g->side[side];
    uint32_t d = p->dim, lw = (p->context_levels + 1) * d;
    uint32_t R = kga_context_relation_width(p);
    int nw = kga_pool_threads(pool);
    int rc = KGA_ENOMEM;
    float *rp = malloc(((size_t)2 * s->nrel * R + 1) * sizeof *rp);
    float *W = malloc((size_t)lw * d * sizeof *W);
    float *E = malloc((size_t)nw * CHUNK * lw * sizeof *E);
    float *y = malloc((size_t)nw * d * sizeof *y);
    double *norm2 = calloc((size_t)s->n + 1, sizeof *norm2);
    if (!rp || !W || !E || !y || !norm2)
        goto out;
    if ((rc = kga_context_relations(g, side, Q, rp)) != 0)
        goto out;
    ctx_t c = {.s = s, .Q = Q, .d = d, .lw = lw,
               .levels = p->context_levels, .first = first, .W = W,
               .rp = rp, .R = R, .Y = Y, .E = E, .y = y, .norm2 = norm2};
    for (uint32_t b = 0; b < p->context_blocks; b++) {
        kga_context_projection(p, b, W);
        c.block = b;
        c.pass = 0;
        kga_pool_run(pool, s->n, CHUNK, context_chunk, &c);
        c.pass = 1;
        kga_pool_run(pool, s->n, CHUNK, context_chunk, &c);
    }
    for (uint32_t i = 0; i < s->n; i++)
        kga_context_scale(p, Q, i, first, norm2[i]);
    rc = 0;
out:
    free(norm2);
    free(y);
    free(E);
    free(W);
    free(rp);
    return rc;
}

void kga_context_row(const kga_structure_params_t *p, const float *rp,
                     const float *W, const kga_structure_edge_t *edges,
                     size_t n, const kga_qmatrix_t *F, float *work,
                     kga_qmatrix_t *out, uint32_t row, uint32_t first)
{
    uint32_t d = p->dim, lw = (p->context_levels + 1) * d;
    uint32_t R = kga_context_relation_width(p), per = d / MINI;
    uint32_t blocks = p->context_blocks;
    float *x = work, *y = work + lw, *acc = work + lw + d;
    memset(acc, 0, (size_t)blocks * d * sizeof *acc);
    for (size_t e = 0; e < n; e++) {
        uint32_t q = 2 * edges[e].rel + (edges[e].dir != 0);
        kga_context_input(F, edges[e].nbr, p->context_levels, x);
        for (uint32_t b = 0; b < blocks; b++) {
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)lw, (int)d, 1.0f,
                        W + (size_t)b * lw * d, (int)d, x, 1, 0.0f, y, 1);
            add_edge(acc + (size_t)b * d, rp + (size_t)q * R + (size_t)b * per,
                     y, per);
        }
    }
    double norm2 = 0.0;
    for (uint32_t b = 0; b < blocks; b++) {
        const float *o = acc + (size_t)b * d;
        for (uint32_t u = 0; u < d; u++)
            norm2 += (double)o[u] * o[u];
        kga_qmatrix_set(out, row, first + b, o);
    }
    kga_context_scale(p, out, row, first, norm2);
}
