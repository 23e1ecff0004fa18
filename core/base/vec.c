/* The plain float vector kernels (vec.h): the inner loops of the
 * structural features, the fused aligner's scores and the GNN operators.
 * They live apart from gnn_ops.c because they know nothing about the GNN,
 * and the layers below it (features/) use them without depending on gnn/.
 *
 * Blocks of eight independent lanes let the compiler turn each loop into
 * whole vectors; the clones give AVX2 machines 8-wide code while the
 * baseline build stays x86-64-v2. */
#include "base/vec.h"

#include <math.h>

#define LANES KGA_VEC_LANES

KGA_CLONES
float kga_vdot(const float *x, const float *y, size_t n)
{
    return kga_vdot_inline(x, y, n);
}

KGA_CLONES
float kga_vsqdist(const float *x, const float *y, size_t n)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int u = 0; u < LANES; u++) {
            float t = x[i + u] - y[i + u];
            acc[u] += t * t;
        }
    float s = 0.0f;
    for (; i < n; i++) {
        float t = x[i] - y[i];
        s += t * t;
    }
    for (int u = 0; u < LANES; u++)
        s += acc[u];
    return s;
}

KGA_CLONES
void kga_vnormalize(float *x, size_t n)
{
    double s = 0.0;
    for (size_t k = 0; k < n; k++)
        s += (double)x[k] * x[k];
    if (s > 0.0) {
        float f = (float)(1.0 / sqrt(s));
        for (size_t k = 0; k < n; k++)
            x[k] *= f;
    }
}

void kga_vaxpy(float *restrict y, float a, const float *restrict x, size_t n)
{
    kga_vaxpy_inline(y, a, x, n);
}

/* Sixteen lanes of 16-bit products summed in 32 bits: the compiler makes
 * them sign extensions and multiplies of whole vectors. */
KGA_CLONES
int32_t kga_i8dot(const int8_t *x, const int8_t *y, size_t n)
{
    int32_t acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int u = 0; u < 16; u++)
            acc[u] += (int16_t)x[i + u] * (int16_t)y[i + u];
    int32_t s = 0;
    for (; i < n; i++)
        s += (int32_t)x[i] * y[i];
    for (int u = 0; u < 16; u++)
        s += acc[u];
    return s;
}

void kga_prefetch_row(const float *row, size_t n)
{
    for (size_t i = 0; i < n; i += 16)
        __builtin_prefetch(row + i);
}
