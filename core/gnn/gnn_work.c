/* The workspace of the GNN's passes and the node set of a batch: which
 * entities a batch touches (the pairs' entities, their sampled neighbours
 * and the neighbours' samples), with the samples remembered for an epoch,
 * and the reverse indices through which the backward pass gathers. No
 * arithmetic happens here: gnn_batch.c computes on what this builds.
 *
 * A batch is laid out as one list of nodes (side, entity), each distinct
 * entity once: first the centres (entities of the pairs), then the other
 * layer-1 nodes (the centres' sampled neighbours), then the other layer-0
 * nodes (their sampled neighbours). So node i < n1 has its own level-0 row
 * at index i and its layer-1 row at index i, and the matrix products run on
 * contiguous row ranges. Each lower layer is computed once per node. */
#include "gnn/gnn_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Workspace
 * ------------------------------------------------------------------------ */

void kga_gnn_work_free(kga_gnn_work_t *w)
{
    if (w == NULL)
        return;
    free(w->idx[0]);
    free(w->idx[1]);
    free(w->umap);
    for (int s = 0; s < 2; s++) {
        free(w->mcnt[s]);
        free(w->mnbr[s]);
        free(w->mrel[s]);
    }
    buf_t *bufs[] = {&w->side,   &w->ent,      &w->cnt,    &w->nbr,
                     &w->rel,    &w->rev1_off, &w->rev1,   &w->rev2_off,
                     &w->rev2,   &w->revp_off, &w->revp,   &w->revr_off,
                     &w->revr,   &w->ulist,    &w->pl,     &w->pr,     &w->tmp,
                     &w->H0,     &w->Xf,       &w->winv,   &w->M,
                     &w->H1,     &w->Wr,       &w->S2,     &w->Z,
                     &w->T,      &w->beta,     &w->pD,     &w->pA,
                     &w->palpha, &w->pw,       &w->ph2,    &w->pdist,
                     &w->pdd,    &w->pdZ,      &w->pdbeta, &w->pds2,
                     &w->dZ,     &w->dT,       &w->ds2,    &w->dWr,
                     &w->dH1,    &w->dH0,      &w->U1,     &w->dC1e,
                     &w->scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]->p);
    free(w);
}

int kga_gnn_work_new(const kga_gnn_t *m, kga_pool_t *pool,
                     kga_gnn_work_t **out)
{
    *out = NULL;
    kga_gnn_work_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return KGA_ENOMEM;
    w->m = m;
    w->pool = pool;
    for (int s = 0; s < 2; s++) {
        uint32_t n = m->shape.entities[s];
        w->idx[s] = malloc((n > 0 ? n : 1) * sizeof(int32_t));
        if (w->idx[s] == NULL) {
            kga_gnn_work_free(w);
            return KGA_ENOMEM;
        }
        memset(w->idx[s], 0xff, (size_t)n * sizeof(int32_t));
    }
    w->umap = calloc(m->R, sizeof *w->umap);
    if (w->umap == NULL) {
        kga_gnn_work_free(w);
        return KGA_ENOMEM;
    }
    /* Per worker: a chunk of gathered fixed features or aggregated
     * layer-1 inputs, and the per-pair backward temporaries. */
    size_t a = (size_t)ROW_GRAIN * (m->dfix > (size_t)m->nb * m->d0
                                        ? m->dfix
                                        : (size_t)m->nb * m->d0);
    size_t b = 4 * (size_t)m->d1 + 6 * (size_t)KGA_SAMPLE_MAX +
               (size_t)KGA_SAMPLE_MAX * KGA_SAMPLE_MAX * 2;
    w->scratch_per = (a > b ? a : b) + 16;
    int threads = kga_pool_threads(pool);
    if (buf_ensure(&w->scratch,
                   w->scratch_per * (size_t)threads * sizeof(float)) != 0) {
        kga_gnn_work_free(w);
        return KGA_ENOMEM;
    }
    *out = w;
    return 0;
}

/* ------------------------------------------------------------------------
 * Node sets
 * ------------------------------------------------------------------------ */

typedef struct {
    kga_gnn_work_t *w;
    const kga_gnn_t *m;
    const kga_gnn_data_t *d;
    const uint64_t *seed;
    size_t from;
} sample_ctx_t;

static void sample_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    sample_ctx_t *c = ctx;
    kga_gnn_work_t *w = c->w;
    const kga_gnn_t *m = c->m;
    size_t S = m->S;
    kga_sample_mode_t mode =
        m->cfg.uniform_sampling ? KGA_SAMPLE_UNIFORM : KGA_SAMPLE_WEIGHTED;
    (void)worker;
    for (size_t i = c->from + begin; i < c->from + end; i++) {
        uint32_t s = U(w->side)[i], e = U(w->ent)[i];
        uint32_t *nbr = U(w->nbr) + i * S, *rel = U(w->rel) + i * S;
        if (w->mcnt[s] != NULL && w->mcnt[s][e] != UINT32_MAX) {
            uint32_t n = w->mcnt[s][e];
            U(w->cnt)[i] = n;
            memcpy(nbr, w->mnbr[s] + e * S, n * sizeof *nbr);
            memcpy(rel, w->mrel[s] + e * S, n * sizeof *rel);
            continue;
        }
        uint32_t n = kga_sample_neighbours(c->d->side[s].nbrs, e, c->seed[s],
                                           mode, m->S, nbr, rel);
        U(w->cnt)[i] = n;
        if (w->mcnt[s] != NULL) {
            memcpy(w->mnbr[s] + e * S, nbr, n * sizeof *nbr);
            memcpy(w->mrel[s] + e * S, rel, n * sizeof *rel);
            w->mcnt[s][e] = n;
        }
    }
}

/* Keeps the memo of a side when the table and seed are those it holds,
 * clears it otherwise. Without memory for it, samples are drawn each
 * time. */
static void memo_prepare(kga_gnn_work_t *w, const kga_gnn_t *m,
                         const kga_gnn_data_t *d, const uint64_t seed[2])
{
    for (int s = 0; s < 2; s++) {
        size_t n = m->shape.entities[s];
        if (w->mcnt[s] == NULL) {
            w->mcnt[s] = malloc((n > 0 ? n : 1) * sizeof(uint32_t));
            w->mnbr[s] = malloc((n > 0 ? n : 1) * m->S * sizeof(uint32_t));
            w->mrel[s] = malloc((n > 0 ? n : 1) * m->S * sizeof(uint32_t));
            if (w->mcnt[s] == NULL || w->mnbr[s] == NULL ||
                w->mrel[s] == NULL) {
                free(w->mcnt[s]);
                free(w->mnbr[s]);
                free(w->mrel[s]);
                w->mcnt[s] = w->mnbr[s] = w->mrel[s] = NULL;
                continue;
            }
            w->mg[s] = NULL;
        }
        if (w->mg[s] != d->side[s].nbrs || w->mseed[s] != seed[s]) {
            memset(w->mcnt[s], 0xff, n * sizeof(uint32_t));
            w->mg[s] = d->side[s].nbrs;
            w->mseed[s] = seed[s];
        }
    }
}

static uint32_t node_add(kga_gnn_work_t *w, uint32_t side, uint32_t ent)
{
    int32_t k = w->idx[side][ent];
    if (k >= 0)
        return (uint32_t)k;
    size_t n = w->n0++;
    U(w->side)[n] = side;
    U(w->ent)[n] = ent;
    w->idx[side][ent] = (int32_t)n;
    return (uint32_t)n;
}

/* Samples nodes [from, to) in parallel, then adds their neighbours as nodes
 * in order, replacing the sampled entity ids by node indices. */
static void expand(kga_gnn_work_t *w, const kga_gnn_t *m,
                   const kga_gnn_data_t *d, const uint64_t seed[2],
                   size_t from, size_t to)
{
    sample_ctx_t c = {w, m, d, seed, from};
    kga_pool_run(w->pool, to - from, 64, sample_chunk, &c);
    for (size_t i = from; i < to; i++) {
        uint32_t s = U(w->side)[i];
        uint32_t *nb = U(w->nbr) + i * m->S;
        for (uint32_t k = 0; k < U(w->cnt)[i]; k++)
            nb[k] = node_add(w, s, nb[k]);
    }
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Builds the node set of a batch: centres of the pairs (all entities of
 * both sides when pairs is NULL), their samples, and the samples of those.
 * Returns 0 or KGA_ENOMEM. */
int kga_gnn_build_nodes(kga_gnn_work_t *w, const kga_gnn_t *m,
                        const kga_gnn_data_t *d, const kga_pair_t *pairs,
                        size_t np, const uint64_t seed[2])
{
    size_t N = (size_t)m->shape.entities[0] + m->shape.entities[1];
    size_t S = m->S;
    size_t cap_c = pairs != NULL ? min_size(2 * np, N) : N;
    size_t cap1 = min_size(cap_c * (S + 1), N);
    size_t cap0 = min_size(cap1 * (S + 1), N);
    if (buf_ensure(&w->side, cap0 * 4) || buf_ensure(&w->ent, cap0 * 4) ||
        buf_ensure(&w->cnt, cap1 * 4) || buf_ensure(&w->nbr, cap1 * S * 4) ||
        buf_ensure(&w->rel, cap1 * S * 4) || buf_ensure(&w->pl, np * 4) ||
        buf_ensure(&w->pr, np * 4))
        return KGA_ENOMEM;
    w->n0 = 0;
    w->np = np;
    if (pairs != NULL)
        memo_prepare(w, m, d, seed);
    if (pairs != NULL) {
        for (size_t p = 0; p < np; p++) {
            U(w->pl)[p] = node_add(w, 0, pairs[p].left);
            U(w->pr)[p] = node_add(w, 1, pairs[p].right);
        }
    } else {
        for (int s = 0; s < 2; s++)
            for (uint32_t e = 0; e < m->shape.entities[s]; e++)
                node_add(w, (uint32_t)s, e);
    }
    w->nc = w->n0;
    expand(w, m, d, seed, 0, w->nc);
    w->n1 = w->n0;
    expand(w, m, d, seed, w->nc, w->n1);
    for (size_t i = 0; i < w->n0; i++)
        w->idx[U(w->side)[i]][U(w->ent)[i]] = -1;
    return 0;
}

/* Counting sort of entries by target: list gets, per target, its entries in
 * increasing order. target(e) == UINT32_MAX skips e. */
static int build_reverse(buf_t *off_buf, buf_t *list_buf, size_t targets,
                         const uint32_t *target, size_t entries)
{
    if (buf_ensure(off_buf, (targets + 1) * 4) ||
        buf_ensure(list_buf, (entries > 0 ? entries : 1) * 4))
        return KGA_ENOMEM;
    uint32_t *off = U(*off_buf), *list = U(*list_buf);
    memset(off, 0, (targets + 1) * 4);
    for (size_t e = 0; e < entries; e++)
        if (target[e] != UINT32_MAX)
            off[target[e] + 1]++;
    for (size_t t = 0; t < targets; t++)
        off[t + 1] += off[t];
    for (size_t e = 0; e < entries; e++)
        if (target[e] != UINT32_MAX)
            list[off[target[e]]++] = (uint32_t)e;
    for (size_t t = targets; t > 0; t--)
        off[t] = off[t - 1];
    off[0] = 0;
    return 0;
}

/* The three reverse indices of the backward pass. Uses dC1e's storage as
 * temporary target arrays (it is sized later). */
int kga_gnn_build_reverses(kga_gnn_work_t *w, const kga_gnn_t *m)
{
    size_t S = m->S;
    size_t e1 = w->n1 * S, ep = 2 * w->np;
    size_t big = e1 > ep ? e1 : ep;
    if (buf_ensure(&w->tmp, (big > 0 ? big : 1) * 4))
        return KGA_ENOMEM;
    uint32_t *t = U(w->tmp);
    const uint32_t *cnt = U(w->cnt), *nbr = U(w->nbr);
    int rc = 0;
    /* Layer-1 node <- (centre, slot). */
    for (size_t e = 0; e < w->nc * S; e++)
        t[e] = e % S < cnt[e / S] ? nbr[e] : UINT32_MAX;
    rc = build_reverse(&w->rev2_off, &w->rev2, w->n1, t, w->nc * S);
    /* Level-0 node <- (layer-1 node, slot). */
    for (size_t e = 0; rc == 0 && e < e1; e++)
        t[e] = e % S < cnt[e / S] ? nbr[e] : UINT32_MAX;
    if (rc == 0)
        rc = build_reverse(&w->rev1_off, &w->rev1, w->n0, t, e1);
    /* Centre <- (pair, side). */
    for (size_t p = 0; rc == 0 && p < w->np; p++) {
        t[2 * p] = U(w->pl)[p];
        t[2 * p + 1] = U(w->pr)[p];
    }
    if (rc == 0)
        rc = build_reverse(&w->revp_off, &w->revp, w->nc, t, ep);
    return rc;
}

/* The relations used by the centres' samples, increasing, and (for the
 * backward pass) their messages grouped by relation. */
int kga_gnn_prepare_relations(kga_gnn_work_t *w, const kga_gnn_t *m,
                              int reverse)
{
    size_t S = m->S, entries = w->nc * S;
    const uint32_t *cnt = U(w->cnt), *rel = U(w->rel);
    for (size_t e = 0; e < entries; e++)
        if (e % S < cnt[e / S])
            w->umap[rel[e]] = 1;
    if (buf_ensure(&w->ulist, ((size_t)m->R + 1) * 4))
        return KGA_ENOMEM;
    w->nused = 0;
    for (uint32_t r = 0; r < m->R; r++)
        if (w->umap[r]) {
            U(w->ulist)[w->nused] = r;
            w->umap[r] = (uint32_t)++w->nused;
        }
    int rc = 0;
    if (reverse) {
        if (buf_ensure(&w->tmp, (entries > 0 ? entries : 1) * 4)) {
            rc = KGA_ENOMEM;
        } else {
            uint32_t *t = U(w->tmp);
            for (size_t e = 0; e < entries; e++)
                t[e] = e % S < cnt[e / S] ? w->umap[rel[e]] - 1 : UINT32_MAX;
            rc = build_reverse(&w->revr_off, &w->revr, w->nused, t, entries);
        }
    }
    for (size_t i = 0; i < w->nused; i++)
        w->umap[U(w->ulist)[i]] = 0;
    return rc;
}
