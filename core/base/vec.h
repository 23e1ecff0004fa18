#ifndef KGA_VEC_H
#define KGA_VEC_H

#include <stddef.h>
#include <stdint.h>

/* Plain float vector kernels shared by the structural features, the fused
 * aligner and the GNN: dot product, squared distance, axpy and a prefetch
 * hint. The caller owns every buffer; nothing allocates and nothing fails.
 * Each kernel sums in one fixed order (eight independent lanes, then the
 * tail, then the lanes), whatever the length and the machine. */

/* Compiles a function twice, for x86-64-v3 (AVX2, FMA) and the baseline,
 * and picks one at load time; for the kernels here and the GNN operators
 * built the same way (gnn_ops.c). Not under ThreadSanitizer: the clones'
 * resolvers run while the dynamic loader relocates, before its runtime is
 * up, and their instrumented code crashes there. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__)
#define KGA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define KGA_CLONES
#endif

/* Lanes of the kernels' partial sums. */
#define KGA_VEC_LANES 8

/* The dot product and axpy kernels themselves, inline for other kernels
 * built with KGA_CLONES (the GNN operators): inlined, they take the
 * caller's instruction set, where a call would run the baseline code. The
 * functions below are these, out of line, for everyone else. */
static inline float kga_vdot_inline(const float *x, const float *y,
                                    size_t n)
{
    float acc[KGA_VEC_LANES] = {0};
    size_t i = 0;
    for (; i + KGA_VEC_LANES <= n; i += KGA_VEC_LANES)
        for (int u = 0; u < KGA_VEC_LANES; u++)
            acc[u] += x[i + u] * y[i + u];
    float s = 0.0f;
    for (; i < n; i++)
        s += x[i] * y[i];
    for (int u = 0; u < KGA_VEC_LANES; u++)
        s += acc[u];
    return s;
}

static inline void kga_vaxpy_inline(float *restrict y, float a,
                                    const float *restrict x, size_t n)
{
    size_t i = 0;
    for (; i + KGA_VEC_LANES <= n; i += KGA_VEC_LANES)
        for (int u = 0; u < KGA_VEC_LANES; u++)
            y[i + u] += a * x[i + u];
    for (; i < n; i++)
        y[i] += a * x[i];
}

float kga_vdot(const float *x, const float *y, size_t n);
/* sum_k (x_k - y_k)^2 */
float kga_vsqdist(const float *x, const float *y, size_t n);
/* y += a * x; x and y must not overlap. */
void kga_vaxpy(float *restrict y, float a, const float *restrict x, size_t n);

/* Scales x to unit L2 norm (a zero vector stays zero). The sum runs in
 * double and in index order, so the result does not depend on the CPU's
 * vector width. */
void kga_vnormalize(float *x, size_t n);

/* sum_k x_k y_k of int8 vectors, exact in int32 for n up to 2^17. */
int32_t kga_i8dot(const int8_t *x, const int8_t *y, size_t n);

/* Hints the cache to fetch the n floats at row (no effect on results). */
void kga_prefetch_row(const float *row, size_t n);

#endif
