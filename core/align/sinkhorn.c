/* Sparse Sinkhorn in the log domain (see sinkhorn.h). The columns are
 * reached through a column index built once (entries of each column in row
 * order), so both half-steps are per-item loops without shared sums. */
#include "align/sinkhorn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows or columns per pool task. */
#define GRAIN 512

typedef struct {
    const uint32_t *col;
    const double *x;      /* S / tau per slot */
    size_t k;
    const uint64_t *coff; /* cols + 1 */
    const uint64_t *cent; /* slot ids, column by column, rows increasing */
    double *lu, *lv;
} sk_ctx_t;

/* A running log-sum-exp: the sum is kept relative to the largest value
 * seen so far, so no term overflows or underflows to a zero total. */
typedef struct {
    double m, s;
} lse_t;

static inline void lse_add(lse_t *a, double v)
{
    if (v > a->m) {
        a->s = a->s * exp(a->m - v) + 1.0;
        a->m = v;
    } else {
        a->s += exp(v - a->m);
    }
}

/* -log of the sum, NAN when nothing was added. */
static inline double lse_neg(const lse_t *a)
{
    return a->m == -INFINITY ? NAN : -(a->m + log(a->s));
}

static void row_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    const sk_ctx_t *c = ctx;
    (void)worker;
    for (size_t i = begin; i < end; i++) {
        lse_t a = {-INFINITY, 0.0};
        for (size_t s = i * c->k; s < (i + 1) * c->k; s++)
            if (c->col[s] != KGA_SINKHORN_EMPTY)
                lse_add(&a, c->x[s] + c->lv[c->col[s]]);
        c->lu[i] = lse_neg(&a);
    }
}

static void col_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    const sk_ctx_t *c = ctx;
    (void)worker;
    for (size_t j = begin; j < end; j++) {
        lse_t a = {-INFINITY, 0.0};
        for (uint64_t e = c->coff[j]; e < c->coff[j + 1]; e++) {
            uint64_t slot = c->cent[e];
            lse_add(&a, c->x[slot] + c->lu[slot / c->k]);
        }
        c->lv[j] = lse_neg(&a);
    }
}

int kga_sinkhorn(const uint32_t *col, const float *score, uint32_t rows,
                 uint32_t cols, size_t k, double tau, uint32_t iters,
                 kga_pool_t *pool, kga_progress_ticker_t *ticker, double *lu,
                 double *lv, kga_err_t *err)
{
    if (!(tau > 0.0 && isfinite(tau)))
        return kga_err_set(err, KGA_EINVAL,
                           "sinkhorn: tau must be positive, not %g", tau);
    if (k == 0 || rows == 0) {
        for (uint32_t i = 0; i < rows; i++)
            lu[i] = NAN;
        for (uint32_t j = 0; j < cols; j++)
            lv[j] = NAN;
        return 0;
    }
    if (k > 4096 || rows > SIZE_MAX / sizeof(double) / k)
        return kga_err_set(err, KGA_ELIMIT,
                           "sinkhorn: %u rows of %zu slots", rows, k);
    size_t ns = (size_t)rows * k;
    int rc = 0;
    double *x = malloc(ns * sizeof *x);
    uint64_t *coff = calloc((size_t)cols + 2, sizeof *coff);
    uint64_t *cent = malloc((ns + 1) * sizeof *cent);
    uint32_t *stamp = calloc((size_t)cols + 1, sizeof *stamp);
    if (!x || !coff || !cent || !stamp) {
        rc = kga_err_set(err, KGA_ENOMEM, "sinkhorn: out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < rows; i++) {
        for (size_t s = (size_t)i * k; s < (size_t)(i + 1) * k; s++) {
            uint32_t j = col[s];
            if (j == KGA_SINKHORN_EMPTY)
                continue;
            if (j >= cols || stamp[j] == i + 1 || !isfinite(score[s])) {
                rc = kga_err_set(err, KGA_EINVAL,
                                 "sinkhorn: row %u slot %zu: %s", i,
                                 s - (size_t)i * k,
                                 j >= cols ? "column out of range"
                                 : stamp[j] == i + 1 ? "repeated column"
                                                     : "score not finite");
                goto out;
            }
            stamp[j] = i + 1;
            x[s] = (double)score[s] / tau;
            coff[j + 2]++;
        }
    }
    /* Counting sort of the slots by column; row order is kept. */
    for (uint32_t j = 0; j < cols; j++)
        coff[j + 2] += coff[j + 1];
    for (size_t s = 0; s < ns; s++)
        if (col[s] != KGA_SINKHORN_EMPTY)
            cent[coff[col[s] + 1]++] = s;

    /* Start: K_ij = exp(x_ij - max_j x_ij), v = 1. */
    for (uint32_t i = 0; i < rows; i++) {
        double m = -INFINITY;
        for (size_t s = (size_t)i * k; s < (size_t)(i + 1) * k; s++)
            if (col[s] != KGA_SINKHORN_EMPTY && x[s] > m)
                m = x[s];
        lu[i] = m == -INFINITY ? NAN : -m;
    }
    for (uint32_t j = 0; j < cols; j++)
        lv[j] = coff[j] == coff[j + 1] ? NAN : 0.0;

    sk_ctx_t c = {.col = col, .x = x, .k = k, .coff = coff, .cent = cent,
                  .lu = lu, .lv = lv};
    for (uint32_t t = 0; t < iters; t++) {
        kga_pool_run(pool, cols, GRAIN, col_chunk, &c);
        kga_pool_run(pool, rows, GRAIN, row_chunk, &c);
        kga_progress_tick(ticker, 1, 0);
    }
out:
    free(stamp);
    free(cent);
    free(coff);
    free(x);
    return rc;
}
