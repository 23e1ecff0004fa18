#ifndef KGA_SINKHORN_H
#define KGA_SINKHORN_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/pool.h"
#include "base/progress.h"

/* Sparse Sinkhorn normalisation of a score matrix, in the log domain.
 *
 * Input: `rows` rows of k slots each; slot (i, s) holds a column col[i*k+s]
 * (below `cols`) and a score S[i*k+s], or col = KGA_SINKHORN_EMPTY for an
 * unused slot. The columns of a row must be distinct. The kernel is
 * K_ij = exp((S_ij - max_j S_ij) / tau) on these entries (0 elsewhere);
 * each iteration normalises the columns to sum 1, then the rows. The
 * result is given by scalings, not by the matrix:
 *
 *     log P_ij = S_ij / tau + lu[i] + lv[j]
 *
 * for every entry of the support (kga_sinkhorn_log_p), so a caller can
 * evaluate P for a pair without keeping the entries. Everything runs in
 * double precision with log-sum-exp, so nothing underflows whatever tau
 * and the score range. A row without entries gets lu = NAN, a column
 * without entries lv = NAN: the caller chooses their fallback.
 *
 * Rows and columns are processed in parallel, each sum in a fixed order
 * (slot order within a row, row order within a column): the result does
 * not depend on the number of threads. */

#define KGA_SINKHORN_EMPTY UINT32_MAX

/* log P for an entry with score s: the one formula every caller uses. */
static inline double kga_sinkhorn_log_p(float s, double tau, double lu,
                                        double lv)
{
    return (double)s / tau + lu + lv;
}

/* Runs `iters` iterations (0: only the row-max shift, lu = -rowmax / tau,
 * lv = 0). lu has `rows` entries, lv `cols` (caller-owned, overwritten).
 * Row and column loops run on pool (NULL: the calling thread); ticker
 * (may be NULL) counts the iterations. Returns 0,
 * KGA_EINVAL (tau not positive and finite, a column out of range, a
 * non-finite score), KGA_ELIMIT or KGA_ENOMEM. */
int kga_sinkhorn(const uint32_t *col, const float *score, uint32_t rows,
                 uint32_t cols, size_t k, double tau, uint32_t iters,
                 kga_pool_t *pool, kga_progress_ticker_t *ticker, double *lu,
                 double *lv, kga_err_t *err);

#endif
