/* Operators of the alignment GNN with their hand-written gradients (the
 * vector kernels underneath them are base/vec.c, the thread pool is
 * pool.c). The derivations are in the comments next to each backward
 * function. */
#include "gnn/gnn_ops.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/vec.h"

/* Blocks of eight independent lanes, as in the kernels of vec.h; the hot
 * operators are cloned for AVX2 the same way (KGA_CLONES). */
#define LANES KGA_VEC_LANES

/* ------------------------------------------------------------------------
 * Linear map
 * ------------------------------------------------------------------------ */

void kga_op_linear_fwd(const float *X, size_t ldx, size_t n, size_t din,
                       const float *W, size_t dout, float *Y, size_t ldy,
                       int accumulate)
{
    if (n == 0 || dout == 0)
        return;
    if (din == 0) {
        if (!accumulate)
            for (size_t i = 0; i < n; i++)
                memset(Y + i * ldy, 0, dout * sizeof *Y);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)dout,
                (int)din, 1.0f, X, (int)ldx, W, (int)din,
                accumulate ? 1.0f : 0.0f, Y, (int)ldy);
}

/* Y = X W^T gives dX = dY W and dW = dY^T X. */
void kga_op_linear_bwd(const float *X, size_t ldx, size_t n, size_t din,
                       const float *W, size_t dout, const float *dY,
                       size_t ldy, float *dX, size_t lddx, int accumulate,
                       float *dW)
{
    if (n == 0 || din == 0)
        return;
    if (dX != NULL) {
        if (dout == 0) {
            if (!accumulate)
                for (size_t i = 0; i < n; i++)
                    memset(dX + i * lddx, 0, din * sizeof *dX);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n,
                        (int)din, (int)dout, 1.0f, dY, (int)ldy, W, (int)din,
                        accumulate ? 1.0f : 0.0f, dX, (int)lddx);
        }
    }
    if (dW != NULL && dout > 0)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)dout,
                    (int)din, (int)n, 1.0f, dY, (int)ldy, X, (int)ldx, 1.0f,
                    dW, (int)din);
}

KGA_CLONES
void kga_op_matvec_fwd(const float *W, size_t dout, size_t din,
                       const float *x, float *y)
{
    size_t o = 0;
    /* Four rows at a time share the loads of x. */
    for (; o + 4 <= dout; o += 4) {
        const float *w0 = W + o * din, *w1 = w0 + din, *w2 = w1 + din,
                    *w3 = w2 + din;
        float a0[LANES] = {0}, a1[LANES] = {0}, a2[LANES] = {0},
              a3[LANES] = {0};
        size_t i = 0;
        for (; i + LANES <= din; i += LANES)
            for (int u = 0; u < LANES; u++) {
                float xv = x[i + u];
                a0[u] += w0[i + u] * xv;
                a1[u] += w1[i + u] * xv;
                a2[u] += w2[i + u] * xv;
                a3[u] += w3[i + u] * xv;
            }
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        for (; i < din; i++) {
            s0 += w0[i] * x[i];
            s1 += w1[i] * x[i];
            s2 += w2[i] * x[i];
            s3 += w3[i] * x[i];
        }
        for (int u = 0; u < LANES; u++) {
            s0 += a0[u];
            s1 += a1[u];
            s2 += a2[u];
            s3 += a3[u];
        }
        y[o] = s0;
        y[o + 1] = s1;
        y[o + 2] = s2;
        y[o + 3] = s3;
    }
    for (; o < dout; o++)
        y[o] = kga_vdot(W + o * din, x, din);
}

void kga_op_matvec_bwd(const float *W, size_t dout, size_t din,
                       const float *x, const float *dy, float *dx, float *dW)
{
    for (size_t o = 0; o < dout; o++) {
        if (dy[o] == 0.0f)
            continue;
        if (dx != NULL)
            kga_vaxpy(dx, dy[o], W + o * din, din);
        if (dW != NULL)
            kga_vaxpy(dW + o * din, dy[o], x, din);
    }
}

/* ------------------------------------------------------------------------
 * Basis decomposition
 * ------------------------------------------------------------------------ */

void kga_op_basis_fwd(const float *c, const float *Y, uint32_t nb,
                      uint32_t d, float *z)
{
    memset(z, 0, d * sizeof *z);
    for (uint32_t b = 0; b < nb; b++)
        kga_vaxpy(z, c[b], Y + (size_t)b * d, d);
}

/* z = sum_b c_b y_b: dc_b = dz . y_b, dy_b = c_b dz. */
void kga_op_basis_bwd(const float *c, const float *Y, uint32_t nb,
                      uint32_t d, const float *dz, float *dc, float *dY)
{
    for (uint32_t b = 0; b < nb; b++) {
        if (dc != NULL)
            dc[b] += kga_vdot(dz, Y + (size_t)b * d, d);
        if (dY != NULL)
            kga_vaxpy(dY + (size_t)b * d, c[b], dz, d);
    }
}

KGA_CLONES
void kga_op_basis_mean_fwd(const float *const *h, const float *const *c,
                           uint32_t m, uint32_t nb, uint32_t d, float *M)
{
    memset(M, 0, (size_t)nb * d * sizeof *M);
    if (m == 0)
        return;
    float inv = 1.0f / (float)m;
    for (uint32_t k = 0; k < m; k++)
        for (uint32_t b = 0; b < nb; b++)
            kga_vaxpy_inline(M + (size_t)b * d, c[k][b] * inv, h[k], d);
}

/* M_b = (1/m) sum_k c_k[b] h_k: dh_k = (1/m) sum_b c_k[b] dM_b and
 * dc_k[b] = (1/m) dM_b . h_k. (A one-pass form over all bases measured
 * slower than these two vector passes per basis.) */
KGA_CLONES
void kga_op_basis_mean_bwd(const float *h, const float *c, uint32_t m,
                           uint32_t nb, uint32_t d, const float *dM,
                           float *dh, float *dc)
{
    if (m == 0)
        return;
    float inv = 1.0f / (float)m;
    for (uint32_t b = 0; b < nb; b++) {
        const float *g = dM + (size_t)b * d;
        if (dh != NULL)
            kga_vaxpy_inline(dh, c[b] * inv, g, d);
        if (dc != NULL)
            dc[b] += inv * kga_vdot_inline(g, h, d);
    }
}

/* ------------------------------------------------------------------------
 * Level-0 parts
 * ------------------------------------------------------------------------ */

/* Rows ahead to prefetch when walking the buckets of a name. */
#define NAME_PREFETCH 4

static void prefetch_row(const float *row, size_t n)
{
    kga_prefetch_row(row, n);
}

static float weight_sum(const float *w, size_t count)
{
    if (w == NULL)
        return (float)count;
    float s = 0.0f;
    for (size_t k = 0; k < count; k++)
        s += w[k];
    return s;
}

void kga_op_name_fwd(const float *E, const uint32_t *buckets,
                     const float *w, size_t count, uint32_t d, float *out)
{
    memset(out, 0, d * sizeof *out);
    float total = weight_sum(w, count);
    if (count == 0 || !(fabsf(total) > KGA_OPS_EPS))
        return;
    float inv = 1.0f / total;
    for (size_t k = 0; k < count; k++) {
        /* The rows are scattered over a large table: ask for a later one
         * while this one is added. */
        if (k + NAME_PREFETCH < count)
            prefetch_row(E + (size_t)buckets[k + NAME_PREFETCH] * d, d);
        kga_vaxpy(out, (w != NULL ? w[k] : 1.0f) * inv,
                  E + (size_t)buckets[k] * d, d);
    }
}

void kga_op_name_bwd(const uint32_t *buckets, const float *w, size_t count,
                     uint32_t d, const float *dout, float *dE)
{
    float total = weight_sum(w, count);
    if (count == 0 || !(fabsf(total) > KGA_OPS_EPS))
        return;
    float inv = 1.0f / total;
    for (size_t k = 0; k < count; k++)
        kga_vaxpy(dE + (size_t)buckets[k] * d,
                  (w != NULL ? w[k] : 1.0f) * inv, dout, d);
}

void kga_op_concat_fwd(const float *const *parts, const uint32_t *dims,
                       int nparts, float *out)
{
    for (int i = 0; i < nparts; i++) {
        memcpy(out, parts[i], dims[i] * sizeof *out);
        out += dims[i];
    }
}

void kga_op_concat_bwd(const float *dout, const uint32_t *dims, int nparts,
                       float *const *dparts)
{
    for (int i = 0; i < nparts; i++) {
        if (dparts[i] != NULL)
            for (uint32_t k = 0; k < dims[i]; k++)
                dparts[i][k] += dout[k];
        dout += dims[i];
    }
}

/* ------------------------------------------------------------------------
 * Element-wise and normalising operators
 * ------------------------------------------------------------------------ */

void kga_op_relu_fwd(const float *x, size_t n, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void kga_op_relu_bwd(const float *y, const float *dy, size_t n, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void kga_op_leaky_fwd(const float *x, size_t n, float slope, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

void kga_op_leaky_bwd(const float *x, const float *dy, size_t n, float slope,
                      float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
}

void kga_op_softmax_fwd(const float *x, size_t n, float *y)
{
    float mx = x[0];
    for (size_t i = 1; i < n; i++)
        if (x[i] > mx)
            mx = x[i];
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        y[i] = expf(x[i] - mx);
        s += y[i];
    }
    float inv = 1.0f / s; /* s >= 1: the maximum contributes exp(0) */
    for (size_t i = 0; i < n; i++)
        y[i] *= inv;
}

/* dy_i/dx_j = y_i (delta_ij - y_j). */
void kga_op_softmax_bwd(const float *y, const float *dy, size_t n, float *dx)
{
    float dot = 0.0f;
    for (size_t i = 0; i < n; i++)
        dot += y[i] * dy[i];
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] * (dy[i] - dot);
}

/* ------------------------------------------------------------------------
 * Attention
 * ------------------------------------------------------------------------ */

float kga_op_attn_logit_fwd(const float *a, const float *s, const float *z,
                            uint32_t d)
{
    return kga_vdot(a, s, d) + kga_vdot(a + d, z, d);
}

void kga_op_attn_logit_bwd(const float *a, const float *s, const float *z,
                           uint32_t d, float dt, float *da, float *ds,
                           float *dz)
{
    if (da != NULL) {
        kga_vaxpy(da, dt, s, d);
        kga_vaxpy(da + d, dt, z, d);
    }
    if (ds != NULL)
        kga_vaxpy(ds, dt, a, d);
    if (dz != NULL)
        kga_vaxpy(dz, dt, a + d, d);
}

void kga_op_cross_fwd(const float *Zl, uint32_t m, const float *Zr,
                      uint32_t n, uint32_t d, float *D, float *A,
                      float *alpha_l, float *alpha_r)
{
    float dmin = INFINITY;
    for (uint32_t k = 0; k < m; k++)
        for (uint32_t l = 0; l < n; l++) {
            float v = sqrtf(kga_vsqdist(Zl + (size_t)k * d,
                                        Zr + (size_t)l * d, d));
            D[(size_t)k * n + l] = v;
            if (v < dmin)
                dmin = v;
        }
    memset(alpha_r, 0, n * sizeof *alpha_r);
    float total = 0.0f;
    for (uint32_t k = 0; k < m; k++) {
        float row = 0.0f;
        for (uint32_t l = 0; l < n; l++) {
            float a = expf(dmin - D[(size_t)k * n + l]);
            A[(size_t)k * n + l] = a;
            row += a;
            alpha_r[l] += a;
        }
        alpha_l[k] = row;
        total += row;
    }
    float inv = 1.0f / total; /* total >= 1 */
    for (uint32_t k = 0; k < m; k++)
        alpha_l[k] *= inv;
    for (uint32_t l = 0; l < n; l++)
        alpha_r[l] *= inv;
}

/* With T = sum A, alpha_k = R_k / T and alpha'_l = C_l / T:
 * dA_kl = (dalpha_k + dalpha'_l - sum_j dalpha_j alpha_j
 *          - sum_j dalpha'_j alpha'_j) / T.
 * The shift by min D scales A and leaves alpha unchanged, so it carries no
 * gradient: A_kl = c exp(-D_kl) gives dD_kl = -A_kl dA_kl, and
 * dz_k = dD_kl (z_k - z'_l) / D_kl (0 where D_kl = 0), dz'_l the opposite. */
void kga_op_cross_bwd(const float *Zl, uint32_t m, const float *Zr,
                      uint32_t n, uint32_t d, const float *D, const float *A,
                      const float *alpha_l, const float *alpha_r,
                      const float *dalpha_l, const float *dalpha_r,
                      float *dZl, float *dZr)
{
    float total = 0.0f, base = 0.0f;
    for (uint32_t k = 0; k < m; k++) {
        base += dalpha_l[k] * alpha_l[k];
        for (uint32_t l = 0; l < n; l++)
            total += A[(size_t)k * n + l];
    }
    for (uint32_t l = 0; l < n; l++)
        base += dalpha_r[l] * alpha_r[l];
    float inv = 1.0f / total;
    for (uint32_t k = 0; k < m; k++) {
        const float *zk = Zl + (size_t)k * d;
        for (uint32_t l = 0; l < n; l++) {
            size_t kl = (size_t)k * n + l;
            if (!(D[kl] > 0.0f))
                continue;
            float dA = (dalpha_l[k] + dalpha_r[l] - base) * inv;
            float g = -A[kl] * dA / D[kl];
            if (g == 0.0f)
                continue;
            const float *zl = Zr + (size_t)l * d;
            float *gk = dZl != NULL ? dZl + (size_t)k * d : NULL;
            float *gl = dZr != NULL ? dZr + (size_t)l * d : NULL;
            for (uint32_t i = 0; i < d; i++) {
                float t = g * (zk[i] - zl[i]);
                if (gk != NULL)
                    gk[i] += t;
                if (gl != NULL)
                    gl[i] -= t;
            }
        }
    }
}

void kga_op_renorm_fwd(const float *alpha, const float *beta, uint32_t m,
                       float *w)
{
    float s = 0.0f;
    for (uint32_t k = 0; k < m; k++) {
        w[k] = alpha[k] * beta[k];
        s += w[k];
    }
    float inv = 1.0f / (s + KGA_OPS_EPS);
    for (uint32_t k = 0; k < m; k++)
        w[k] *= inv;
}

/* q_k = alpha_k beta_k, Q = sum q + eps, w = q / Q:
 * dq_j = (dw_j - sum_k dw_k w_k) / Q. */
void kga_op_renorm_bwd(const float *alpha, const float *beta, const float *w,
                       uint32_t m, const float *dw, float *dalpha,
                       float *dbeta)
{
    float s = 0.0f, dot = 0.0f;
    for (uint32_t k = 0; k < m; k++) {
        s += alpha[k] * beta[k];
        dot += dw[k] * w[k];
    }
    float inv = 1.0f / (s + KGA_OPS_EPS);
    for (uint32_t k = 0; k < m; k++) {
        float dq = (dw[k] - dot) * inv;
        if (dalpha != NULL)
            dalpha[k] += dq * beta[k];
        if (dbeta != NULL)
            dbeta[k] += dq * alpha[k];
    }
}

void kga_op_wsum_fwd(const float *w, const float *Z, uint32_t m, uint32_t d,
                     float *out)
{
    memset(out, 0, d * sizeof *out);
    for (uint32_t k = 0; k < m; k++)
        kga_vaxpy(out, w[k], Z + (size_t)k * d, d);
}

void kga_op_wsum_bwd(const float *w, const float *Z, uint32_t m, uint32_t d,
                     const float *dout, float *dw, float *dZ)
{
    for (uint32_t k = 0; k < m; k++) {
        if (dw != NULL)
            dw[k] += kga_vdot(dout, Z + (size_t)k * d, d);
        if (dZ != NULL)
            kga_vaxpy(dZ + (size_t)k * d, w[k], dout, d);
    }
}

/* ------------------------------------------------------------------------
 * Distance and loss
 * ------------------------------------------------------------------------ */

float kga_op_l2_fwd(const float *x, const float *y, size_t n)
{
    return sqrtf(kga_vsqdist(x, y, n));
}

void kga_op_l2_bwd(const float *x, const float *y, size_t n, float dist,
                   float dd, float *dx, float *dy)
{
    if (!(dist > 0.0f) || dd == 0.0f)
        return;
    float g = dd / dist;
    for (size_t i = 0; i < n; i++) {
        float t = g * (x[i] - y[i]);
        if (dx != NULL)
            dx[i] += t;
        if (dy != NULL)
            dy[i] -= t;
    }
}

float kga_op_hinge_fwd(float dpos, float dneg, float margin)
{
    float v = dpos - dneg + margin;
    return v > 0.0f ? v : 0.0f;
}

void kga_op_hinge_bwd(float dpos, float dneg, float margin, float dloss,
                      float *ddpos, float *ddneg)
{
    if (dpos - dneg + margin > 0.0f) {
        *ddpos += dloss;
        *ddneg -= dloss;
    }
}
