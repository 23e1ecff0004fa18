#ifndef KGA_QMATRIX_H
#define KGA_QMATRIX_H

#include <stddef.h>
#include <stdint.h>

/* A matrix whose rows are cut into blocks, each block stored as int8
 * codes and one float scale (its largest magnitude / 127): the fusion's
 * structural features at a little over a quarter of their float size,
 * which is what lets a graph of millions of entities keep them in memory.
 * Rounding moves a unit block's dot products by about 1e-3.
 *
 * The dot product of two rows is sum_b s_a[b] s_b[b] sum_k a_k b_k: the
 * inner sums are exact integers and the blocks are added in order, so a
 * pair scores the same bit for bit wherever and however often it is
 * computed.
 *
 * The caller owns the struct: init allocates (all zero), destroy frees.
 * Row and block indices are the caller's to keep in range. */

typedef struct {
    uint32_t rows, blocks, dim; /* a row is blocks x dim values */
    int8_t *code;               /* rows x blocks x dim */
    float *scale;               /* rows x blocks */
} kga_qmatrix_t;

#define KGA_QMATRIX_MAX_DIM 4096u

/* Allocates a zero matrix. Returns 0, KGA_ELIMIT (dim above
 * KGA_QMATRIX_MAX_DIM, or a size past size_t) or KGA_ENOMEM; on failure
 * *m owns nothing. */
int kga_qmatrix_init(kga_qmatrix_t *m, uint32_t rows, uint32_t blocks,
                     uint32_t dim);

/* Stores the dim floats x (finite) as block b of row r. */
void kga_qmatrix_set(kga_qmatrix_t *m, uint32_t r, uint32_t b,
                     const float *x);

/* Scales row r to unit length (as stored), unless it is zero. */
void kga_qmatrix_normalize_row(kga_qmatrix_t *m, uint32_t r);

/* Block b of row r as dim floats into out. */
void kga_qmatrix_block(const kga_qmatrix_t *m, uint32_t r, uint32_t b,
                       float *out);

/* Row r as blocks x dim floats into out. */
void kga_qmatrix_row(const kga_qmatrix_t *m, uint32_t r, float *out);

/* The dot product of row i of a and row j of b (same shape). */
float kga_qmatrix_dot(const kga_qmatrix_t *a, uint32_t i,
                      const kga_qmatrix_t *b, uint32_t j);

/* Bytes the matrix holds. */
size_t kga_qmatrix_bytes(const kga_qmatrix_t *m);

/* Frees the arrays; *m is left empty and may be destroyed again. */
void kga_qmatrix_destroy(kga_qmatrix_t *m);

#endif
