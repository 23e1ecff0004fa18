/* Probes (gnn.h): the last-layer view of an entity that is not in the
 * graph, for entities described in a request. The cache computes the same
 * quantities for every graph entity at once with batched stages over node
 * sets; a probe is one entity with at most S neighbours, so it runs the
 * same operators on a handful of rows directly, reading its neighbours'
 * layer-1 outputs from the cache. Kept apart from gnn_cache.c because it
 * works on inputs from outside the graph and must not change it. */
#include "gnn/gnn_internal.h"

#include <stdlib.h>
#include <string.h>

struct kga_gnn_probe {
    uint32_t m;
    float *Z, *beta, *s2; /* S x dh, S, dh */
};

void kga_gnn_probe_free(kga_gnn_probe_t *p)
{
    if (p == NULL)
        return;
    free(p->Z);
    free(p->beta);
    free(p->s2);
    free(p);
}

void kga_gnn_probe_view(const kga_gnn_probe_t *p, kga_gnn_view_t *out)
{
    out->Z = p->Z;
    out->beta = p->beta;
    out->s2 = p->s2;
    out->m = p->m;
}

/* Level 0 of one entity from its parts, as kga_gnn_level0_chunk() builds
 * a node's: the projected fixed row, the name buckets' mean, the entity
 * vector (entity_row NULL: zero). */
static void level0(const kga_gnn_t *m, const float *fixed,
                   const uint32_t *bucket, const float *weight, size_t count,
                   const float *entity_row, float *h)
{
    if (m->dp > 0)
        kga_op_linear_fwd(fixed, m->dfix, 1, m->dfix, m->p.t[T_PROJ], m->dp,
                          h, m->d0, 0);
    if (m->dn > 0)
        kga_op_name_fwd(m->p.t[T_NAME], bucket, weight, count, m->dn,
                        h + m->dp);
    if (m->de > 0) {
        if (entity_row != NULL)
            memcpy(h + m->dp + m->dn, entity_row, m->de * sizeof(float));
        else
            memset(h + m->dp + m->dn, 0, m->de * sizeof(float));
    }
}

/* Level 0 of graph entity ent of side. */
static void level0_of(const kga_gnn_t *m, const kga_gnn_data_t *d, int side,
                      uint32_t ent, float *h)
{
    const kga_gnn_side_t *sd = &d->side[side];
    const uint32_t *bucket = NULL;
    const float *weight = NULL;
    size_t count = 0;
    if (m->dn > 0) {
        uint64_t o = sd->name_off[ent];
        bucket = sd->name_bucket + o;
        weight = sd->name_weight != NULL ? sd->name_weight + o : NULL;
        count = (size_t)(sd->name_off[ent + 1] - o);
    }
    uint32_t row = m->de > 0 ? m->slot[side][ent] : KGA_GNN_NO_ROW;
    level0(m, sd->fixed != NULL ? sd->fixed + (size_t)ent * m->dfix : NULL,
           bucket, weight, count,
           row != KGA_GNN_NO_ROW ? m->p.t[T_ENT] + (size_t)row * m->de
                                 : NULL,
           h);
}

/* The probe's sample: the neighbours of a one-entity table (entity 0 the
 * probe, 1.. its edges' ends), so that kga_sample_neighbours() draws it as
 * it would draw a graph entity with these edges. */
static uint32_t draw(const kga_gnn_t *m, const kga_neighbours_t *g,
                     uint64_t key, const kga_gnn_probe_edge_t *edges,
                     size_t n, uint32_t *nbr, uint32_t *rel)
{
    uint64_t off[2] = {0, n};
    uint32_t *local = malloc((n + 1) * sizeof *local);
    uint32_t *lrel = malloc((n + 1) * sizeof *lrel);
    float *fan = malloc((n + 1) * sizeof *fan);
    uint64_t *keys = malloc((n + 2) * sizeof *keys);
    uint32_t count = 0;
    if (local != NULL && lrel != NULL && fan != NULL && keys != NULL) {
        keys[0] = key;
        for (size_t i = 0; i < n; i++) {
            local[i] = (uint32_t)i + 1;
            lrel[i] = edges[i].rel;
            fan[i] = edges[i].fanout >= 1.0f ? edges[i].fanout : 1.0f;
            keys[i + 1] = g->key[edges[i].nbr];
        }
        kga_neighbours_t one = {
            .entities = (uint32_t)n + 1, .relations = m->R, .off = off,
            .nbr = local, .rel = lrel, .fanout = fan, .key = keys};
        kga_sample_mode_t mode = m->cfg.uniform_sampling
                                     ? KGA_SAMPLE_UNIFORM
                                     : KGA_SAMPLE_WEIGHTED;
        count = kga_sample_neighbours(&one, 0, KGA_SAMPLE_INFERENCE, mode,
                                      m->S, nbr, rel);
        for (uint32_t k = 0; k < count; k++)
            nbr[k] = edges[nbr[k] - 1].nbr;
    } else {
        count = UINT32_MAX;
    }
    free(keys);
    free(fan);
    free(lrel);
    free(local);
    return count;
}

/* Layer 1, then the last layer's per-entity half, as the cache's stages
 * compute them for a centre (kga_gnn_layer1_chunk(),
 * kga_gnn_centre_chunk()). */
static int forward(const kga_gnn_t *m, const kga_gnn_cache_t *c,
                   const kga_gnn_data_t *d, int side, const float *h0,
                   const uint32_t *nbr, const uint32_t *rel, uint32_t cnt,
                   kga_gnn_probe_t *p)
{
    uint32_t nb = m->nb, d0 = m->d0, dh = m->dh, d1 = m->d1;
    size_t wide = (size_t)nb * d0, mat = (size_t)dh * d1;
    float *H0n = malloc(((size_t)cnt * d0 + 1) * sizeof *H0n);
    float *M = malloc(wide * sizeof *M);
    float *h1 = malloc(d1 * sizeof *h1);
    float *Wr = malloc(mat * sizeof *Wr);
    float *T = malloc((m->S + 1) * sizeof *T);
    int rc = KGA_ENOMEM;
    if (H0n == NULL || M == NULL || h1 == NULL || Wr == NULL || T == NULL)
        goto out;
    const float *hp[KGA_SAMPLE_MAX], *cp[KGA_SAMPLE_MAX];
    for (uint32_t k = 0; k < cnt; k++) {
        level0_of(m, d, side, nbr[k], H0n + (size_t)k * d0);
        hp[k] = H0n + (size_t)k * d0;
        cp[k] = m->p.t[T_COEF1] + (size_t)rel[k] * nb;
    }
    kga_op_basis_mean_fwd(hp, cp, cnt, nb, d0, M);
    kga_op_linear_fwd(h0, d0, 1, d0, m->p.t[T_SELF1], dh, h1, d1, 0);
    kga_op_linear_fwd(M, wide, 1, wide, m->p.t[T_BASES1], dh, h1 + dh, d1,
                      0);
    kga_op_relu_fwd(h1, d1, h1);

    kga_op_linear_fwd(h1, d1, 1, d1, m->p.t[T_SELF2], dh, p->s2, dh, 0);
    size_t base = side ? (size_t)c->n[0] : 0;
    for (uint32_t k = 0; k < cnt; k++) {
        kga_op_basis_fwd(m->p.t[T_COEF2] + (size_t)rel[k] * nb,
                         m->p.t[T_BASES2], nb, (uint32_t)mat, Wr);
        kga_op_matvec_fwd(Wr, dh, d1, c->h1 + (base + nbr[k]) * d1,
                          p->Z + (size_t)k * dh);
        T[k] = kga_op_attn_logit_fwd(m->p.t[T_ATT] + (size_t)rel[k] * 2 * dh,
                                     p->s2, p->Z + (size_t)k * dh, dh);
    }
    if (cnt > 0 && m->cfg.self_attention) {
        kga_op_leaky_fwd(T, cnt, m->cfg.leaky_slope, p->beta);
        kga_op_softmax_fwd(p->beta, cnt, p->beta);
    } else {
        for (uint32_t k = 0; k < cnt; k++)
            p->beta[k] = 1.0f / (float)cnt;
    }
    p->m = cnt;
    rc = 0;
out:
    free(T);
    free(Wr);
    free(h1);
    free(M);
    free(H0n);
    return rc;
}

int kga_gnn_probe_new(const kga_gnn_t *m, const kga_gnn_cache_t *c,
                      const kga_gnn_data_t *d, int side, const float *fixed,
                      const uint32_t *name_bucket, const float *name_weight,
                      size_t name_count, uint64_t key,
                      const kga_gnn_probe_edge_t *edges, size_t n_edges,
                      kga_gnn_probe_t **out)
{
    *out = NULL;
    side = side != 0;
    const kga_neighbours_t *g = d->side[side].nbrs;
    if (c->S != m->S || c->dh != m->dh || (m->dp > 0 && fixed == NULL))
        return KGA_EINVAL;
    for (size_t i = 0; i < n_edges; i++)
        if (edges[i].nbr >= c->n[side] || edges[i].rel >= m->R)
            return KGA_EINVAL;
    for (size_t i = 0; m->dn > 0 && i < name_count; i++)
        if (name_bucket[i] >= m->B)
            return KGA_EINVAL;
    kga_gnn_probe_t *p = calloc(1, sizeof *p);
    float *h0 = malloc(m->d0 * sizeof *h0);
    int rc = KGA_ENOMEM;
    if (p == NULL || h0 == NULL)
        goto fail;
    p->Z = malloc(((size_t)m->S * m->dh + 1) * sizeof *p->Z);
    p->beta = malloc(((size_t)m->S + 1) * sizeof *p->beta);
    p->s2 = malloc(m->dh * sizeof *p->s2);
    if (p->Z == NULL || p->beta == NULL || p->s2 == NULL)
        goto fail;
    uint32_t nbr[KGA_SAMPLE_MAX], rel[KGA_SAMPLE_MAX];
    uint32_t cnt = draw(m, g, key, edges, n_edges, nbr, rel);
    if (cnt == UINT32_MAX)
        goto fail;
    level0(m, fixed, name_bucket, name_weight, name_count, NULL, h0);
    if ((rc = forward(m, c, d, side, h0, nbr, rel, cnt, p)) != 0)
        goto fail;
    free(h0);
    *out = p;
    return 0;
fail:
    free(h0);
    kga_gnn_probe_free(p);
    return rc;
}
