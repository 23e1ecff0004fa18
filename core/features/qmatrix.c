/* Block-quantized matrices (see qmatrix.h): the storage of the fusion's
 * structural features and their dot product, apart from the propagation
 * that fills them (structure.c) and the scorer that reads them. */
#include "features/qmatrix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/vec.h"

int kga_qmatrix_init(kga_qmatrix_t *m, uint32_t rows, uint32_t blocks,
                     uint32_t dim)
{
    memset(m, 0, sizeof *m);
    if (dim > KGA_QMATRIX_MAX_DIM || blocks > KGA_QMATRIX_MAX_DIM)
        return KGA_ELIMIT;
    size_t width = (size_t)blocks * dim;
    if (width > 0 && rows > SIZE_MAX / width / 2)
        return KGA_ELIMIT;
    m->code = calloc((size_t)rows * width + 1, 1);
    m->scale = calloc((size_t)rows * blocks + 1, sizeof *m->scale);
    if (m->code == NULL || m->scale == NULL) {
        kga_qmatrix_destroy(m);
        return KGA_ENOMEM;
    }
    m->rows = rows;
    m->blocks = blocks;
    m->dim = dim;
    return 0;
}

void kga_qmatrix_set(kga_qmatrix_t *m, uint32_t r, uint32_t b,
                     const float *x)
{
    size_t at = (size_t)r * m->blocks + b;
    int8_t *c = m->code + at * m->dim;
    float big = 0.0f;
    for (uint32_t k = 0; k < m->dim; k++)
        if (fabsf(x[k]) > big)
            big = fabsf(x[k]);
    if (big == 0.0f) {
        memset(c, 0, m->dim);
        m->scale[at] = 0.0f;
        return;
    }
    float s = big / 127.0f, inv = 127.0f / big;
    for (uint32_t k = 0; k < m->dim; k++) {
        long q = lrintf(x[k] * inv);
        c[k] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
    m->scale[at] = s;
}

void kga_qmatrix_normalize_row(kga_qmatrix_t *m, uint32_t r)
{
    float *s = m->scale + (size_t)r * m->blocks;
    const int8_t *c = m->code + (size_t)r * m->blocks * m->dim;
    double nn = 0.0;
    for (uint32_t b = 0; b < m->blocks; b++)
        nn += (double)s[b] * s[b] *
              (double)kga_i8dot(c + (size_t)b * m->dim,
                                c + (size_t)b * m->dim, m->dim);
    if (nn <= 0.0)
        return;
    double f = 1.0 / sqrt(nn);
    for (uint32_t b = 0; b < m->blocks; b++)
        s[b] = (float)(s[b] * f);
}

void kga_qmatrix_block(const kga_qmatrix_t *m, uint32_t r, uint32_t b,
                       float *out)
{
    size_t at = (size_t)r * m->blocks + b;
    const int8_t *c = m->code + at * m->dim;
    for (uint32_t k = 0; k < m->dim; k++)
        out[k] = m->scale[at] * (float)c[k];
}

void kga_qmatrix_row(const kga_qmatrix_t *m, uint32_t r, float *out)
{
    const float *s = m->scale + (size_t)r * m->blocks;
    const int8_t *c = m->code + (size_t)r * m->blocks * m->dim;
    for (uint32_t b = 0; b < m->blocks; b++)
        for (uint32_t k = 0; k < m->dim; k++)
            out[(size_t)b * m->dim + k] =
                s[b] * (float)c[(size_t)b * m->dim + k];
}

float kga_qmatrix_dot(const kga_qmatrix_t *a, uint32_t i,
                      const kga_qmatrix_t *b, uint32_t j)
{
    uint32_t nb = a->blocks, d = a->dim;
    const float *sa = a->scale + (size_t)i * nb, *sb = b->scale + (size_t)j * nb;
    const int8_t *ca = a->code + (size_t)i * nb * d;
    const int8_t *cb = b->code + (size_t)j * nb * d;
    float s = 0.0f;
    for (uint32_t x = 0; x < nb; x++) {
        float w = sa[x] * sb[x];
        if (w != 0.0f)
            s += w * (float)kga_i8dot(ca + (size_t)x * d, cb + (size_t)x * d,
                                      d);
    }
    return s;
}

size_t kga_qmatrix_bytes(const kga_qmatrix_t *m)
{
    return (size_t)m->rows * m->blocks * (m->dim + sizeof(float));
}

void kga_qmatrix_destroy(kga_qmatrix_t *m)
{
    free(m->scale);
    free(m->code);
    memset(m, 0, sizeof *m);
}
