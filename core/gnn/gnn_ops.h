#ifndef KGA_GNN_OPS_H
#define KGA_GNN_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "base/pool.h"

/* The differentiable operators of the alignment GNN (docs/model.md), each a
 * forward and a hand-written backward (the vector kernels under them are
 * base/vec.h, the thread pool they run on is pool.h). Every operator has a
 * finite-difference test in tests/test_gnn_ops.c.
 *
 * Conventions: all buffers belong to the caller; nothing here allocates. Matrices are row-major. A backward function adds
 * (`+=`) into the gradients of its inputs unless its comment says that it
 * overwrites, so that a value used twice collects both contributions.
 * Nothing fails and nothing returns NaN for finite inputs: norms are guarded
 * at zero (their gradient there is 0, the value central differences give),
 * normalisations carry an epsilon. */

/* Divisors are guarded with this; far below any value the model produces. */
#define KGA_OPS_EPS 1e-12f

/* ------------------------------------------------------------------------
 * Linear map (batched matrix-vector products)
 * ------------------------------------------------------------------------ */

/* Y[n x dout] (+)= X[n x din] W^T, W being dout x din; accumulate selects
 * `+=` instead of `=`. ldx, ldy are the row strides of X and Y. */
void kga_op_linear_fwd(const float *X, size_t ldx, size_t n, size_t din,
                       const float *W, size_t dout, float *Y, size_t ldy,
                       int accumulate);

/* dW += dY^T X; dX (+)= dY W (overwrite unless accumulate). Either output
 * may be NULL. */
void kga_op_linear_bwd(const float *X, size_t ldx, size_t n, size_t din,
                       const float *W, size_t dout, const float *dY,
                       size_t ldy, float *dX, size_t lddx, int accumulate,
                       float *dW);

/* One matrix-vector product y = W x (W is dout x din), overwritten. */
void kga_op_matvec_fwd(const float *W, size_t dout, size_t din,
                       const float *x, float *y);
/* dx += W^T dy, dW += dy x^T; either output may be NULL. */
void kga_op_matvec_bwd(const float *W, size_t dout, size_t din,
                       const float *x, const float *dy, float *dx, float *dW);

/* ------------------------------------------------------------------------
 * Basis-decomposed relation transforms: W_r = sum_b c[r][b] V_b
 * ------------------------------------------------------------------------ */

/* z = sum_b c[b] y_b over nb consecutive blocks of length d in Y: with
 * y_b = V_b h it is W_r h; with the bases themselves as blocks (d = rows x
 * columns) it is the matrix W_r, which is how layer 2 uses it. z is
 * overwritten. */
void kga_op_basis_fwd(const float *c, const float *Y, uint32_t nb,
                      uint32_t d, float *z);
void kga_op_basis_bwd(const float *c, const float *Y, uint32_t nb,
                      uint32_t d, const float *dz, float *dc, float *dY);

/* Layer 1, aggregate first: the mean of W_{r_k} h_k over m neighbours is
 * sum_b V_b M_b with M_b = (1/m) sum_k c_k[b] h_k. Writes M (nb x d); all
 * zero when m is 0. h[k] and c[k] point at neighbour k's input row and its
 * relation's nb coefficients. */
void kga_op_basis_mean_fwd(const float *const *h, const float *const *c,
                           uint32_t m, uint32_t nb, uint32_t d, float *M);
/* The contribution of neighbour k (of m) to the gradients of its input row
 * and its coefficients, given dM: dh += (1/m) sum_b c[b] dM_b,
 * dc[b] += (1/m) dM_b . h. */
void kga_op_basis_mean_bwd(const float *h, const float *c, uint32_t m,
                           uint32_t nb, uint32_t d, const float *dM,
                           float *dh, float *dc);

/* ------------------------------------------------------------------------
 * Level-0 parts
 * ------------------------------------------------------------------------ */

/* out = sum_k w_k E[b_k] / sum_k w_k over k < count (w NULL: all 1); a zero
 * vector when count is 0 or the weights sum to 0. E has rows of length d. */
void kga_op_name_fwd(const float *E, const uint32_t *buckets,
                     const float *w, size_t count, uint32_t d, float *out);
/* dE[b_k] += w_k / sum(w) * dout. */
void kga_op_name_bwd(const uint32_t *buckets, const float *w, size_t count,
                     uint32_t d, const float *dout, float *dE);

/* out = [parts[0] || parts[1] || ...] with lengths dims[]. */
void kga_op_concat_fwd(const float *const *parts, const uint32_t *dims,
                       int nparts, float *out);
/* dparts[i] += the matching slice of dout (NULL entries are skipped). */
void kga_op_concat_bwd(const float *dout, const uint32_t *dims, int nparts,
                       float *const *dparts);

/* ------------------------------------------------------------------------
 * Element-wise and normalising operators (in place allowed: y == x)
 * ------------------------------------------------------------------------ */

void kga_op_relu_fwd(const float *x, size_t n, float *y);
/* dx = dy * [y > 0], overwritten (dx == dy allowed). */
void kga_op_relu_bwd(const float *y, const float *dy, size_t n, float *dx);

void kga_op_leaky_fwd(const float *x, size_t n, float slope, float *y);
/* dx = dy * (x > 0 ? 1 : slope), overwritten. */
void kga_op_leaky_bwd(const float *x, const float *dy, size_t n, float slope,
                      float *dx);

/* Numerically stable softmax; n >= 1. */
void kga_op_softmax_fwd(const float *x, size_t n, float *y);
/* dx = y * (dy - sum_j y_j dy_j), overwritten. */
void kga_op_softmax_bwd(const float *y, const float *dy, size_t n,
                        float *dx);

/* ------------------------------------------------------------------------
 * Attention
 * ------------------------------------------------------------------------ */

/* Relation-aware self-attention logit before the LeakyReLU:
 * t = a[0:d] . s + a[d:2d] . z. */
float kga_op_attn_logit_fwd(const float *a, const float *s, const float *z,
                            uint32_t d);
void kga_op_attn_logit_bwd(const float *a, const float *s, const float *z,
                           uint32_t d, float dt, float *da, float *ds,
                           float *dz);

/* Cross-graph attention between the neighbour messages Zl (m x d) of the
 * left entity and Zr (n x d) of the right one: D[k][l] = ||z_k - z'_l||,
 * A[k][l] = exp(min D - D[k][l]) (alpha does not change when A is scaled,
 * and the shift keeps the largest entry at 1, so nothing underflows to an
 * all-zero matrix), alpha_l[k] = row sum / total, alpha_r[l] = column sum /
 * total. D and A (m x n) are kept for the backward pass. m, n >= 1. */
void kga_op_cross_fwd(const float *Zl, uint32_t m, const float *Zr,
                      uint32_t n, uint32_t d, float *D, float *A,
                      float *alpha_l, float *alpha_r);
void kga_op_cross_bwd(const float *Zl, uint32_t m, const float *Zr,
                      uint32_t n, uint32_t d, const float *D, const float *A,
                      const float *alpha_l, const float *alpha_r,
                      const float *dalpha_l, const float *dalpha_r,
                      float *dZl, float *dZr);

/* w_k = alpha_k beta_k / (sum_j alpha_j beta_j + eps). */
void kga_op_renorm_fwd(const float *alpha, const float *beta, uint32_t m,
                       float *w);
/* dalpha, dbeta += ...; either may be NULL. */
void kga_op_renorm_bwd(const float *alpha, const float *beta, const float *w,
                       uint32_t m, const float *dw, float *dalpha,
                       float *dbeta);

/* out = sum_k w_k Z[k] (Z is m x d), overwritten. */
void kga_op_wsum_fwd(const float *w, const float *Z, uint32_t m, uint32_t d,
                     float *out);
/* dw += dout . Z[k]; dZ[k] += w_k dout; either may be NULL. */
void kga_op_wsum_bwd(const float *w, const float *Z, uint32_t m, uint32_t d,
                     const float *dout, float *dw, float *dZ);

/* ------------------------------------------------------------------------
 * Distance and loss
 * ------------------------------------------------------------------------ */

/* ||x - y||_2. */
float kga_op_l2_fwd(const float *x, const float *y, size_t n);
/* dx += dd (x - y) / dist, dy -= the same; nothing when dist is 0 (the
 * subgradient 0). Either output may be NULL. */
void kga_op_l2_bwd(const float *x, const float *y, size_t n, float dist,
                   float dd, float *dx, float *dy);

/* max(0, dpos - dneg + margin). */
float kga_op_hinge_fwd(float dpos, float dneg, float margin);
/* Adds dloss times the derivative: +dloss to *ddpos and -dloss to *ddneg
 * when the term is active (> 0), nothing otherwise. */
void kga_op_hinge_bwd(float dpos, float dneg, float margin, float dloss,
                      float *ddpos, float *ddneg);

#endif
