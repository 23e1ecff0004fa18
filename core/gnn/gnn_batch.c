/* The forward and backward passes of the GNN over a batch of pairs: the
 * forward stages (level 0, layer 1, the layer-2 messages), the last layer
 * of each pair, the backward stages into the parameter gradients, and
 * kga_gnn_batch_run() that strings them together with the margin loss. The
 * node set they run on is built by gnn_work.c.
 *
 * Cost: layer 1 aggregates the neighbours' level-0 rows per basis (M_b)
 * before one product with the bases, since level-0 nodes outnumber layer-1
 * nodes about fivefold; layer 2 builds W_r for the relations in the batch
 * and applies it per message, which beats applying every basis to every
 * layer-1 node.
 *
 * Threads and determinism: every parallel stage writes per-item outputs
 * only. Where several items feed one value (a neighbour used by several
 * nodes, a centre in several pairs, a parameter row) the backward pass
 * gathers the contributions in a fixed order through reverse indices, or
 * sums per-item results sequentially, or (embedding tables) lets each worker
 * own a fixed residue class of rows and walk the nodes in order. Matrix
 * products are split into fixed blocks. No sum depends on which thread did
 * what, so a seed gives the same parameters with any number of threads (as
 * long as OpenBLAS picks the same kernels). */
#include "gnn/gnn_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "base/vec.h"

/* Columns per block of the parameter-gradient products. */
#define COL_BLOCK 32

static float *worker_scratch(const kga_gnn_work_t *w, int worker)
{
    return F(w->scratch) + (size_t)worker * w->scratch_per;
}

/* ------------------------------------------------------------------------
 * Forward stages
 * ------------------------------------------------------------------------ */

void kga_gnn_level0_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    const uint32_t *side = U(w->side), *ent = U(w->ent);
    float *H0 = F(w->H0);
    uint32_t d0 = m->d0;
    if (m->dp > 0) {
        float *xf = r->keep ? F(w->Xf) + b * m->dfix
                            : worker_scratch(w, worker);
        for (size_t i = b; i < e; i++)
            memcpy(xf + (i - b) * m->dfix,
                   r->d->side[side[i]].fixed + (size_t)ent[i] * m->dfix,
                   m->dfix * sizeof(float));
        kga_op_linear_fwd(xf, m->dfix, e - b, m->dfix, m->p.t[T_PROJ], m->dp,
                          H0 + b * d0, d0, 0);
    }
    for (size_t i = b; i < e; i++) {
        float *h = H0 + i * d0;
        if (m->dn > 0) {
            const kga_gnn_side_t *sd = &r->d->side[side[i]];
            uint64_t o = sd->name_off[ent[i]];
            size_t count = (size_t)(sd->name_off[ent[i] + 1] - o);
            const float *wt =
                sd->name_weight != NULL ? sd->name_weight + o : NULL;
            kga_op_name_fwd(m->p.t[T_NAME], sd->name_bucket + o, wt, count,
                            m->dn, h + m->dp);
            float total = 0.0f;
            for (size_t k = 0; k < count; k++)
                total += wt != NULL ? wt[k] : 1.0f;
            F(w->winv)[i] = count > 0 && fabsf(total) > KGA_OPS_EPS
                                ? 1.0f / total
                                : 0.0f;
        }
        if (m->de > 0) {
            uint32_t row = m->slot[side[i]][ent[i]];
            if (row == KGA_GNN_NO_ROW)
                memset(h + m->dp + m->dn, 0, m->de * sizeof(float));
            else
                memcpy(h + m->dp + m->dn,
                       m->p.t[T_ENT] + (size_t)row * m->de,
                       m->de * sizeof(float));
        }
    }
}

/* Layer 1 of nodes [b, e) (all below n1):
 * h1 = ReLU([W_self h0 || sum_b V_b M_b]). */
void kga_gnn_layer1_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t S = m->S, nb = m->nb, d0 = m->d0, dh = m->dh, d1 = m->d1;
    size_t wide = (size_t)nb * d0;
    const float *H0 = F(w->H0);
    float *M = r->keep ? F(w->M) + b * wide : worker_scratch(w, worker);
    float *H1 = F(w->H1);
    const float *hp[KGA_SAMPLE_MAX], *cp[KGA_SAMPLE_MAX];
    for (size_t i = b; i < e; i++) {
        uint32_t c = U(w->cnt)[i];
        /* The neighbours' rows are scattered: fetch the next node's early. */
        if (i + 1 < e)
            for (uint32_t k = 0; k < U(w->cnt)[i + 1]; k++)
                kga_prefetch_row(H0 + (size_t)U(w->nbr)[(i + 1) * S + k] * d0,
                                 d0);
        for (uint32_t k = 0; k < c; k++) {
            hp[k] = H0 + (size_t)U(w->nbr)[i * S + k] * d0;
            cp[k] = m->p.t[T_COEF1] + (size_t)U(w->rel)[i * S + k] * nb;
        }
        kga_op_basis_mean_fwd(hp, cp, c, nb, d0, M + (i - b) * wide);
    }
    size_t n = e - b;
    kga_op_linear_fwd(H0 + b * d0, d0, n, d0, m->p.t[T_SELF1], dh,
                      H1 + b * d1, d1, 0);
    kga_op_linear_fwd(M, wide, n, wide, m->p.t[T_BASES1], dh,
                      H1 + b * d1 + dh, d1, 0);
    kga_op_relu_fwd(H1 + b * d1, n * d1, H1 + b * d1);
}

/* Layer 2 materialises W_r = sum_b c[r][b] V_b for the relations the
 * centres' samples use: one dh x d1 matrix per relation is cheaper than
 * applying all bases to every layer-1 node. */
void kga_gnn_relation_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    size_t mat = (size_t)m->dh * m->d1;
    (void)worker;
    for (size_t i = b; i < e; i++) {
        uint32_t rel = U(w->ulist)[i];
        kga_op_basis_fwd(m->p.t[T_COEF2] + (size_t)rel * m->nb,
                         m->p.t[T_BASES2], m->nb, (uint32_t)mat,
                         F(w->Wr) + rel * mat);
    }
}

/* Per centre: the self half s2 = W_self2 h1, the messages z_k = W_r h1_p
 * and beta. */
void kga_gnn_centre_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t S = m->S, dh = m->dh, d1 = m->d1;
    size_t mat = (size_t)dh * d1;
    const float *H1 = F(w->H1);
    (void)worker;
    kga_op_linear_fwd(H1 + b * d1, d1, e - b, d1, m->p.t[T_SELF2], dh,
                      r->S2 + b * dh, dh, 0);
    for (size_t c = b; c < e; c++) {
        uint32_t cnt = U(w->cnt)[c];
        const float *s2 = r->S2 + c * dh;
        float *Z = r->Z + c * S * dh, *T = r->T + c * S;
        float *beta = r->beta + c * S;
        for (uint32_t k = 0; k < cnt; k++) {
            uint32_t j = U(w->nbr)[c * S + k], rel = U(w->rel)[c * S + k];
            kga_op_matvec_fwd(F(w->Wr) + rel * mat, dh, d1,
                              H1 + (size_t)j * d1, Z + k * dh);
            T[k] = kga_op_attn_logit_fwd(m->p.t[T_ATT] + (size_t)rel * 2 * dh,
                                         s2, Z + k * dh, dh);
        }
        if (cnt == 0)
            continue;
        if (m->cfg.self_attention) {
            kga_op_leaky_fwd(T, cnt, m->cfg.leaky_slope, beta);
            kga_op_softmax_fwd(beta, cnt, beta);
        } else {
            for (uint32_t k = 0; k < cnt; k++)
                beta[k] = 1.0f / (float)cnt;
        }
    }
}

/* ------------------------------------------------------------------------
 * The last layer of one pair
 * ------------------------------------------------------------------------ */

int kga_gnn_pair_cross(const kga_gnn_t *m, const view_t v[2])
{
    return m->cfg.cross_attention && v[0].m > 0 && v[1].m > 0;
}

/* h2 of both sides and their distance. Without cross attention (switched
 * off, or a side without neighbours, where alpha is undefined) w = beta. */
float kga_gnn_pair_forward(const kga_gnn_t *m, const view_t v[2],
                           const pairbuf_t *pb)
{
    uint32_t dh = m->dh;
    int cross = kga_gnn_pair_cross(m, v);
    if (cross)
        kga_op_cross_fwd(v[0].Z, v[0].m, v[1].Z, v[1].m, dh, pb->D, pb->A,
                         pb->alpha[0], pb->alpha[1]);
    for (int s = 0; s < 2; s++) {
        float *h = pb->h2[s];
        if (cross)
            kga_op_renorm_fwd(pb->alpha[s], v[s].beta, v[s].m, pb->w[s]);
        else
            memcpy(pb->w[s], v[s].beta, v[s].m * sizeof(float));
        kga_op_wsum_fwd(pb->w[s], v[s].Z, v[s].m, dh, h + dh);
        /* h = relu([s2, weighted sum]), s2 read in place. */
        kga_op_relu_fwd(v[s].s2, dh, h);
        kga_op_relu_fwd(h + dh, m->d1 - dh, h + dh);
    }
    return kga_op_l2_fwd(pb->h2[0], pb->h2[1], m->d1);
}

/* Backward of kga_gnn_pair_forward for d(loss)/d(dist) = dd. Overwrites
 * dZ[s] (S x dh), dbeta[s] (S), ds2[s] (dh). tmp holds 2 d1 + 4 S floats. */
static void pair_backward(const kga_gnn_t *m, const view_t v[2],
                          const pairbuf_t *pb, float dist, float dd,
                          float *tmp, float *const dZ[2],
                          float *const dbeta[2], float *const ds2[2])
{
    uint32_t dh = m->dh, d1 = m->d1, S = m->S;
    float *dh2[2] = {tmp, tmp + d1};
    float *dw[2] = {tmp + 2 * d1, tmp + 2 * d1 + S};
    float *dal[2] = {tmp + 2 * d1 + 2 * S, tmp + 2 * d1 + 3 * S};
    memset(tmp, 0, (2 * (size_t)d1 + 4 * (size_t)S) * sizeof *tmp);
    for (int s = 0; s < 2; s++) {
        memset(dZ[s], 0, (size_t)S * dh * sizeof(float));
        memset(dbeta[s], 0, S * sizeof(float));
    }
    kga_op_l2_bwd(pb->h2[0], pb->h2[1], d1, dist, dd, dh2[0], dh2[1]);
    int cross = kga_gnn_pair_cross(m, v);
    for (int s = 0; s < 2; s++) {
        kga_op_relu_bwd(pb->h2[s], dh2[s], d1, dh2[s]);
        memcpy(ds2[s], dh2[s], dh * sizeof(float));
        kga_op_wsum_bwd(pb->w[s], v[s].Z, v[s].m, dh, dh2[s] + dh, dw[s],
                        dZ[s]);
        if (cross)
            kga_op_renorm_bwd(pb->alpha[s], v[s].beta, pb->w[s], v[s].m,
                              dw[s], dal[s], dbeta[s]);
        else
            memcpy(dbeta[s], dw[s], v[s].m * sizeof(float));
    }
    if (cross)
        kga_op_cross_bwd(v[0].Z, v[0].m, v[1].Z, v[1].m, dh, pb->D, pb->A,
                         pb->alpha[0], pb->alpha[1], dal[0], dal[1], dZ[0],
                         dZ[1]);
}

static view_t centre_view(const run_t *r, uint32_t c)
{
    const kga_gnn_t *m = r->m;
    view_t v = {
        .Z = r->Z + (size_t)c * m->S * m->dh,
        .beta = r->beta + (size_t)c * m->S,
        .s2 = r->S2 + (size_t)c * m->dh,
        .m = U(r->w->cnt)[c],
    };
    return v;
}

static pairbuf_t pair_slot(const kga_gnn_work_t *w, const kga_gnn_t *m,
                           size_t p)
{
    size_t S = m->S;
    pairbuf_t pb = {
        .D = F(w->pD) + p * S * S,
        .A = F(w->pA) + p * S * S,
        .alpha = {F(w->palpha) + 2 * p * S, F(w->palpha) + (2 * p + 1) * S},
        .w = {F(w->pw) + 2 * p * S, F(w->pw) + (2 * p + 1) * S},
        .h2 = {F(w->ph2) + 2 * p * m->d1, F(w->ph2) + (2 * p + 1) * m->d1},
    };
    return pb;
}

static void pair_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    (void)worker;
    for (size_t p = b; p < e; p++) {
        view_t v[2] = {centre_view(r, U(r->w->pl)[p]),
                       centre_view(r, U(r->w->pr)[p])};
        pairbuf_t pb = pair_slot(r->w, r->m, p);
        F(r->w->pdist)[p] = kga_gnn_pair_forward(r->m, v, &pb);
    }
}

/* ------------------------------------------------------------------------
 * Backward stages
 * ------------------------------------------------------------------------ */

static void pair_bwd_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    size_t S = m->S, dh = m->dh;
    float *tmp = worker_scratch(w, worker);
    for (size_t p = b; p < e; p++) {
        view_t v[2] = {centre_view(r, U(w->pl)[p]),
                       centre_view(r, U(w->pr)[p])};
        pairbuf_t pb = pair_slot(w, m, p);
        float *dZ[2] = {F(w->pdZ) + 2 * p * S * dh,
                        F(w->pdZ) + (2 * p + 1) * S * dh};
        float *db[2] = {F(w->pdbeta) + 2 * p * S,
                        F(w->pdbeta) + (2 * p + 1) * S};
        float *ds[2] = {F(w->pds2) + 2 * p * dh,
                        F(w->pds2) + (2 * p + 1) * dh};
        pair_backward(m, v, &pb, F(w->pdist)[p], F(w->pdd)[p], tmp, dZ, db,
                      ds);
    }
}

/* Per centre: gathers the pair gradients and backpropagates through beta
 * into dz, ds2 and the logit gradients dT. */
static void centre_bwd_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t S = m->S, dh = m->dh;
    float *tmp = worker_scratch(w, worker);
    float *dbeta = tmp, *de = tmp + S;
    for (size_t c = b; c < e; c++) {
        uint32_t cnt = U(w->cnt)[c];
        float *dZ = F(w->dZ) + c * S * dh, *ds2 = F(w->ds2) + c * dh;
        float *dT = F(w->dT) + c * S;
        memset(dZ, 0, (size_t)S * dh * sizeof(float));
        memset(ds2, 0, dh * sizeof(float));
        memset(dT, 0, S * sizeof(float));
        memset(dbeta, 0, S * sizeof(float));
        for (uint32_t q = U(w->revp_off)[c]; q < U(w->revp_off)[c + 1];
             q++) {
            size_t slot = U(w->revp)[q]; /* 2 * pair + side */
            const float *pz = F(w->pdZ) + slot * S * dh;
            for (size_t i = 0; i < (size_t)cnt * dh; i++)
                dZ[i] += pz[i];
            for (uint32_t k = 0; k < cnt; k++)
                dbeta[k] += F(w->pdbeta)[slot * S + k];
            for (uint32_t i = 0; i < dh; i++)
                ds2[i] += F(w->pds2)[slot * dh + i];
        }
        if (cnt > 0 && m->cfg.self_attention) {
            const float *Z = r->Z + c * S * dh, *s2 = r->S2 + c * dh;
            kga_op_softmax_bwd(r->beta + c * S, dbeta, cnt, de);
            kga_op_leaky_bwd(r->T + c * S, de, cnt, m->cfg.leaky_slope, dT);
            for (uint32_t k = 0; k < cnt; k++) {
                uint32_t rel = U(w->rel)[c * S + k];
                kga_op_attn_logit_bwd(m->p.t[T_ATT] + (size_t)rel * 2 * dh,
                                      s2, Z + (size_t)k * dh, dh, dT[k], NULL,
                                      ds2, dZ + (size_t)k * dh);
            }
        }
    }
}

/* Per used relation: dW_r = sum over its messages of dz h1_p^T, in entry
 * order. */
static void relation_bwd_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t dh = m->dh, d1 = m->d1;
    size_t mat = (size_t)dh * d1;
    (void)worker;
    for (size_t i = b; i < e; i++) {
        uint32_t rel = U(w->ulist)[i];
        float *dW = F(w->dWr) + rel * mat;
        memset(dW, 0, mat * sizeof(float));
        for (uint32_t q = U(w->revr_off)[i]; q < U(w->revr_off)[i + 1]; q++) {
            uint32_t en = U(w->revr)[q];
            kga_op_matvec_bwd(NULL, dh, d1,
                              F(w->H1) + (size_t)U(w->nbr)[en] * d1,
                              F(w->dZ) + (size_t)en * dh, NULL, dW);
        }
    }
}

/* Per layer-1 node: dh1 gathered from the messages it sent to centres
 * (W_r^T dz) and, for a centre, from its self half (W_self2^T ds2). */
static void h1_gather_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t dh = m->dh, d1 = m->d1;
    size_t mat = (size_t)dh * d1;
    (void)worker;
    for (size_t j = b; j < e; j++) {
        float *dh1 = F(w->dH1) + j * d1;
        memset(dh1, 0, d1 * sizeof(float));
        for (uint32_t q = U(w->rev2_off)[j]; q < U(w->rev2_off)[j + 1];
             q++) {
            uint32_t en = U(w->rev2)[q];
            kga_op_matvec_bwd(F(w->Wr) + (size_t)U(w->rel)[en] * mat, dh, d1,
                              NULL, F(w->dZ) + (size_t)en * dh, dh1, NULL);
        }
    }
    if (b < w->nc) {
        size_t end = e < w->nc ? e : w->nc;
        kga_op_linear_bwd(NULL, 0, end - b, d1, m->p.t[T_SELF2], dh,
                          F(w->ds2) + b * dh, dh, F(w->dH1) + b * d1, d1, 1,
                          NULL);
    }
}

/* Rows [b, e) of the layer-1 nodes: through the ReLU, the level-0 self
 * gradient (overwriting dH0 rows b..e), dM into scratch, and per sampled
 * neighbour k its share of dh0 (U1) and of the coefficients (dC1e). */
static void layer1_bwd_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t S = m->S, nb = m->nb, d0 = m->d0, dh = m->dh, d1 = m->d1;
    size_t wide = (size_t)nb * d0;
    size_t n = e - b;
    float *dH1 = F(w->dH1) + b * d1;
    float *dM = worker_scratch(w, worker);
    kga_op_relu_bwd(F(w->H1) + b * d1, dH1, n * d1, dH1);
    kga_op_linear_bwd(NULL, 0, n, d0, m->p.t[T_SELF1], dh, dH1, d1,
                      F(w->dH0) + b * d0, d0, 0, NULL);
    kga_op_linear_bwd(NULL, 0, n, wide, m->p.t[T_BASES1], dh, dH1 + dh, d1,
                      dM, wide, 0, NULL);
    for (size_t i = b; i < e; i++) {
        uint32_t cnt = U(w->cnt)[i];
        if (i + 1 < e)
            for (uint32_t k = 0; k < U(w->cnt)[i + 1]; k++)
                kga_prefetch_row(F(w->H0) +
                                     (size_t)U(w->nbr)[(i + 1) * S + k] * d0,
                                 d0);
        for (uint32_t k = 0; k < cnt; k++) {
            size_t en = i * S + k;
            float *u = F(w->U1) + en * d0, *dc = F(w->dC1e) + en * nb;
            memset(u, 0, d0 * sizeof(float));
            memset(dc, 0, nb * sizeof(float));
            kga_op_basis_mean_bwd(F(w->H0) + (size_t)U(w->nbr)[en] * d0,
                                  m->p.t[T_COEF1] +
                                      (size_t)U(w->rel)[en] * nb,
                                  cnt, nb, d0, dM + (i - b) * wide, u, dc);
        }
    }
}

/* Per level-0 node: its gradient from the layer-1 nodes that sampled it
 * (and from its own layer-1 row, already in place for nodes below n1);
 * the coefficient gradient of each (node, slot) goes to dC1e. */
/* Per level-0 node: its gradient from the layer-1 nodes that sampled it
 * (and from its own layer-1 row, already in place for nodes below n1). */
static void h0_gather_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    uint32_t d0 = r->m->d0;
    (void)worker;
    for (size_t j = b; j < e; j++) {
        float *dh0 = F(w->dH0) + j * d0;
        if (j >= w->n1)
            memset(dh0, 0, d0 * sizeof(float));
        uint32_t last = U(w->rev1_off)[j + 1];
        for (uint32_t q = U(w->rev1_off)[j]; q < last; q++) {
            if (q + 2 < U(w->rev1_off)[e])
                kga_prefetch_row(F(w->U1) + (size_t)U(w->rev1)[q + 2] * d0,
                                 d0);
            kga_vaxpy(dh0, 1.0f, F(w->U1) + (size_t)U(w->rev1)[q] * d0, d0);
        }
    }
}

/* Embedding rows: worker `part` owns the rows whose index is part modulo
 * parts and walks the nodes in order, so each row's sum has one order. */
static void table_scatter(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t mask = (uint32_t)r->parts - 1, d0 = m->d0;
    float *dE = r->g->p.t[T_NAME], *dEnt = r->g->p.t[T_ENT];
    uint8_t *tn = r->g->touched[T_NAME], *te = r->g->touched[T_ENT];
    (void)worker;
    for (size_t part = b; part < e; part++) {
        for (size_t j = 0; j < w->n0; j++) {
            uint32_t s = U(w->side)[j], ent = U(w->ent)[j];
            const float *dh0 = F(w->dH0) + j * d0;
            if (m->dn > 0 && F(w->winv)[j] != 0.0f) {
                const kga_gnn_side_t *sd = &r->d->side[s];
                float inv = F(w->winv)[j];
                uint64_t end = sd->name_off[ent + 1];
                for (uint64_t k = sd->name_off[ent]; k < end; k++) {
                    uint32_t bk = sd->name_bucket[k];
                    if ((bk & mask) != part)
                        continue;
                    for (uint64_t a = k + 1; a < end && a < k + 8; a++)
                        if ((sd->name_bucket[a] & mask) == part) {
                            kga_prefetch_row(dE + (size_t)sd->name_bucket[a] *
                                                      m->dn,
                                             m->dn);
                            break;
                        }
                    float wk = sd->name_weight != NULL ? sd->name_weight[k]
                                                       : 1.0f;
                    kga_vaxpy(dE + (size_t)bk * m->dn, wk * inv, dh0 + m->dp,
                              m->dn);
                    tn[bk] = 1;
                }
            }
            if (m->de > 0) {
                uint32_t row = m->slot[s][ent];
                if (row != KGA_GNN_NO_ROW && (row & mask) == part) {
                    kga_vaxpy(dEnt + (size_t)row * m->de, 1.0f,
                              dh0 + m->dp + m->dn, m->de);
                    te[row] = 1;
                }
            }
        }
    }
}

/* Parameter gradients dW += dY^T X, split into fixed column blocks. */
typedef struct {
    const float *dY;
    size_t ldy, n, dout;
    const float *X;
    size_t ldx, din;
    float *dW;
} wgrad_job_t;

typedef struct {
    wgrad_job_t job[4];
    size_t first[5]; /* first block of each job; first[4] = total */
    int count;
} wgrad_t;

static void wgrad_add(wgrad_t *wg, const float *dY, size_t ldy, size_t n,
                      size_t dout, const float *X, size_t ldx, size_t din,
                      float *dW)
{
    if (dW == NULL || n == 0 || din == 0 || dout == 0)
        return;
    wgrad_job_t j = {dY, ldy, n, dout, X, ldx, din, dW};
    size_t start = wg->first[wg->count];
    wg->job[wg->count++] = j;
    wg->first[wg->count] = start + (din + COL_BLOCK - 1) / COL_BLOCK;
}

static void wgrad_chunk(void *ctx, size_t b, size_t e, int worker)
{
    wgrad_t *wg = ctx;
    (void)worker;
    for (size_t blk = b; blk < e; blk++) {
        int k = 0;
        while (blk >= wg->first[k + 1])
            k++;
        const wgrad_job_t *j = &wg->job[k];
        size_t c0 = (blk - wg->first[k]) * COL_BLOCK;
        size_t cols = j->din - c0 < COL_BLOCK ? j->din - c0 : COL_BLOCK;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)j->dout,
                    (int)cols, (int)j->n, 1.0f, j->dY, (int)j->ldy,
                    j->X + c0, (int)j->ldx, 1.0f, j->dW + c0, (int)j->din);
    }
}

static void wgrad_run(kga_pool_t *pool, wgrad_t *wg)
{
    kga_pool_run(pool, wg->first[wg->count], 1, wgrad_chunk, wg);
}

/* ------------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------------ */

static int ensure_f(buf_t *b, size_t n)
{
    return buf_ensure(b, (n > 0 ? n : 1) * sizeof(float));
}

int kga_gnn_ensure_forward(kga_gnn_work_t *w, const kga_gnn_t *m, int keep)
{
    size_t S = m->S, wide = (size_t)m->nb * m->d0;
    size_t n0 = w->n0, n1 = w->n1, nc = w->nc, np = w->np;
    if (ensure_f(&w->H0, n0 * m->d0) || ensure_f(&w->winv, n0) ||
        ensure_f(&w->H1, n1 * m->d1) || ensure_f(&w->T, nc * S) ||
        ensure_f(&w->Wr, (size_t)m->R * m->dh * m->d1))
        return KGA_ENOMEM;
    if (keep && (ensure_f(&w->Xf, n0 * m->dfix) ||
                 ensure_f(&w->M, n1 * wide)))
        return KGA_ENOMEM;
    if (np > 0 &&
        (ensure_f(&w->Z, nc * S * m->dh) || ensure_f(&w->beta, nc * S) ||
         ensure_f(&w->S2, nc * m->dh) || ensure_f(&w->pD, np * S * S) ||
         ensure_f(&w->pA, np * S * S) || ensure_f(&w->palpha, np * 2 * S) ||
         ensure_f(&w->pw, np * 2 * S) || ensure_f(&w->ph2, np * 2 * m->d1) ||
         ensure_f(&w->pdist, np) || ensure_f(&w->pdd, np)))
        return KGA_ENOMEM;
    return 0;
}

static int ensure_backward(kga_gnn_work_t *w, const kga_gnn_t *m)
{
    size_t S = m->S, dh = m->dh, nb = m->nb;
    size_t n0 = w->n0, n1 = w->n1, nc = w->nc, np = w->np;
    if (ensure_f(&w->pdZ, np * 2 * S * dh) ||
        ensure_f(&w->pdbeta, np * 2 * S) || ensure_f(&w->pds2, np * 2 * dh) ||
        ensure_f(&w->dZ, nc * S * dh) || ensure_f(&w->dT, nc * S) ||
        ensure_f(&w->ds2, nc * dh) ||
        ensure_f(&w->dWr, (size_t)m->R * dh * m->d1) ||
        ensure_f(&w->dH1, n1 * m->d1) || ensure_f(&w->dH0, n0 * m->d0) ||
        ensure_f(&w->U1, n1 * S * m->d0) || ensure_f(&w->dC1e, n1 * S * nb))
        return KGA_ENOMEM;
    return 0;
}

static void backward(run_t *r)
{
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    kga_gnn_grad_t *g = r->g;
    kga_pool_t *pool = w->pool;
    uint32_t S = m->S, nb = m->nb, dh = m->dh, d0 = m->d0, d1 = m->d1;
    size_t wide = (size_t)nb * d0, mat = (size_t)dh * d1;

    kga_pool_run(pool, w->np, ITEM_GRAIN, pair_bwd_chunk, r);
    kga_pool_run(pool, w->nc, ITEM_GRAIN, centre_bwd_chunk, r);

    /* Attention vectors, in entry order. */
    float *dAtt = g->p.t[T_ATT];
    if (m->cfg.self_attention)
        for (size_t c = 0; c < w->nc; c++)
            for (uint32_t k = 0; k < U(w->cnt)[c]; k++) {
                size_t en = c * S + k;
                float dt = F(w->dT)[en];
                if (dt == 0.0f)
                    continue;
                kga_op_attn_logit_bwd(NULL, r->S2 + c * dh, r->Z + en * dh, dh,
                                      dt,
                                      dAtt + (size_t)U(w->rel)[en] * 2 * dh,
                                      NULL, NULL);
            }

    /* Layer-2 relation matrices, then their bases and coefficients in
     * relation order. */
    kga_pool_run(pool, w->nused, 1, relation_bwd_chunk, r);
    for (size_t i = 0; i < w->nused; i++) {
        uint32_t rel = U(w->ulist)[i];
        kga_op_basis_bwd(m->p.t[T_COEF2] + (size_t)rel * nb, m->p.t[T_BASES2],
                         nb, (uint32_t)mat, F(w->dWr) + rel * mat,
                         g->p.t[T_COEF2] + (size_t)rel * nb,
                         g->p.t[T_BASES2]);
    }

    kga_pool_run(pool, w->n1, ROW_GRAIN, h1_gather_chunk, r);
    wgrad_t wg = {0};
    wgrad_add(&wg, F(w->ds2), dh, w->nc, dh, F(w->H1), d1, d1,
              g->p.t[T_SELF2]);
    wgrad_run(pool, &wg);
    kga_pool_run(pool, w->n1, ROW_GRAIN, layer1_bwd_chunk, r);
    wgrad_t w1 = {0};
    wgrad_add(&w1, F(w->dH1), d1, w->n1, dh, F(w->H0), d0, d0,
              g->p.t[T_SELF1]);
    wgrad_add(&w1, F(w->dH1) + dh, d1, w->n1, dh, F(w->M), wide, wide,
              g->p.t[T_BASES1]);
    wgrad_run(pool, &w1);

    kga_pool_run(pool, w->n0, ROW_GRAIN, h0_gather_chunk, r);
    float *dC1 = g->p.t[T_COEF1];
    for (size_t i = 0; i < w->n1; i++)
        for (uint32_t k = 0; k < U(w->cnt)[i]; k++) {
            size_t en = i * S + k;
            uint32_t rel = U(w->rel)[en];
            for (uint32_t b = 0; b < nb; b++)
                dC1[(size_t)rel * nb + b] += F(w->dC1e)[en * nb + b];
        }

    if (m->dp > 0) {
        wgrad_t wp = {0};
        wgrad_add(&wp, F(w->dH0), d0, w->n0, m->dp, F(w->Xf), m->dfix,
                  m->dfix, g->p.t[T_PROJ]);
        wgrad_run(pool, &wp);
    }
    if (m->dn > 0 || m->de > 0)
        kga_pool_run(pool, (size_t)r->parts, 1, table_scatter, r);
}

int kga_gnn_batch_run(kga_gnn_work_t *w, const kga_gnn_t *m,
                      const kga_gnn_data_t *d, const kga_gnn_batch_t *b,
                      kga_gnn_grad_t *grad, double *loss, float *dist)
{
    size_t per = 1 + (size_t)b->negatives;
    size_t np = b->groups * per;
    for (size_t p = 0; p < np; p++)
        if (b->pairs[p].left >= m->shape.entities[0] ||
            b->pairs[p].right >= m->shape.entities[1])
            return KGA_EINVAL;
    if (w->m != m || (grad != NULL && grad->m != m))
        return KGA_EINVAL;
    int prev = kga_blas_serial_enter();
    int rc = kga_gnn_build_nodes(w, m, d, b->pairs, np, b->seed);
    if (rc == 0 && grad != NULL)
        rc = kga_gnn_build_reverses(w, m);
    if (rc == 0)
        rc = kga_gnn_prepare_relations(w, m, grad != NULL);
    if (rc == 0)
        rc = kga_gnn_ensure_forward(w, m, grad != NULL);
    if (rc == 0 && grad != NULL)
        rc = ensure_backward(w, m);
    if (rc != 0) {
        kga_blas_serial_leave(prev);
        return rc;
    }
    int parts = 1;
    while (parts < kga_pool_threads(w->pool) && parts < 64)
        parts *= 2;
    run_t r = {
        .w = w, .m = m, .d = d, .g = grad, .keep = grad != NULL,
        .Z = F(w->Z), .T = F(w->T), .beta = F(w->beta), .S2 = F(w->S2),
        .parts = parts,
    };
    kga_pool_run(w->pool, w->n0, ROW_GRAIN, kga_gnn_level0_chunk, &r);
    kga_pool_run(w->pool, w->n1, ROW_GRAIN, kga_gnn_layer1_chunk, &r);
    kga_pool_run(w->pool, w->nused, 4, kga_gnn_relation_chunk, &r);
    kga_pool_run(w->pool, w->nc, ITEM_GRAIN, kga_gnn_centre_chunk, &r);
    kga_pool_run(w->pool, np, ITEM_GRAIN, pair_chunk, &r);

    const float *pd = F(w->pdist);
    float *dd = F(w->pdd);
    if (np > 0)
        memset(dd, 0, np * sizeof *dd);
    float scale = b->groups > 0 ? 1.0f / (float)b->groups : 0.0f;
    double total = 0.0;
    for (size_t gi = 0; gi < b->groups; gi++) {
        size_t p0 = gi * per;
        for (size_t k = 1; k < per; k++) {
            total += kga_op_hinge_fwd(pd[p0], pd[p0 + k], m->cfg.margin);
            kga_op_hinge_bwd(pd[p0], pd[p0 + k], m->cfg.margin, scale,
                             &dd[p0], &dd[p0 + k]);
        }
    }
    if (loss != NULL)
        *loss = b->groups > 0 ? total / (double)b->groups : 0.0;
    if (dist != NULL && np > 0)
        memcpy(dist, pd, np * sizeof *dist);
    if (grad != NULL)
        backward(&r);
    kga_blas_serial_leave(prev);
    return 0;
}
