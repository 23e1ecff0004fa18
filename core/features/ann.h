#ifndef KGA_ANN_H
#define KGA_ANN_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/pool.h"
#include "base/progress.h"

/* Approximate nearest neighbours of dense vectors: an inverted file (IVF,
 * Jegou, Douze and Schmid 2011; FAISS's IndexIVFFlat). k-means on a
 * sample cuts the base vectors into cells around centroids; a query is
 * compared with every centroid and then, exactly, with every vector of its
 * `probes` nearest cells. A search costs about nq * (cells + probes * n /
 * cells) products instead of nq * n: with cells ~ 2 sqrt(n), the work per
 * query grows with sqrt(n), and with `probes` fixed the share of the base
 * a query sees shrinks as the base grows.
 *
 * Why an IVF and not a graph (HNSW): the callers search in batches (every
 * left entity of a graph at once), and queries that share a cell share its
 * vectors, so a batch is a series of matrix products (sgemm, cells x their
 * queries), the one kernel this code base already runs fast; the build is
 * one k-means (seconds), which matters because the fusion's features
 * change every round; and every step has a fixed order, so the results do
 * not depend on the number of threads, which a concurrent HNSW build does.
 *
 * Metrics: KGA_ANN_DOT ranks by the inner product q . x (the fusion's
 * features, whose rows have unit norm); KGA_ANN_L2 by -||q - x||^2 (the
 * GNN's hard negatives). Cells are always made and probed by L2 distance
 * to the centroids.
 *
 * Ties: equal scores are ordered by keys[row] ascending, then by row, so
 * that internal ids decide nothing when the keys are hashes of external
 * ids. Everything is deterministic, also in the number of threads. */

typedef enum { KGA_ANN_DOT = 0, KGA_ANN_L2 = 1 } kga_ann_metric_t;

#define KGA_ANN_MAX_DIM 4096u
#define KGA_ANN_MAX_K 4096u
#define KGA_ANN_MAX_CELLS 65536u
#define KGA_ANN_MAX_PROBES 256u

typedef struct {
    kga_ann_metric_t metric;
    uint32_t cells;  /* 0: about 2 sqrt(n), at least 1 */
    uint32_t probes; /* cells a query searches (16) */
    uint32_t iters;  /* k-means iterations (8) */
    uint32_t sample; /* training vectors per cell (32) */
    uint64_t seed;   /* picks the training sample (1) */
} kga_ann_params_t;

typedef struct kga_ann kga_ann_t;

void kga_ann_params_init(kga_ann_params_t *p);

/* 0 when *p is usable, else KGA_EINVAL with a message naming the field. */
int kga_ann_params_check(const kga_ann_params_t *p, kga_err_t *err);

/* Indexes the n rows rows[0 .. n) (NULL: rows 0 .. n-1) of the row-major
 * matrix `vectors` (dim floats a row, finite). keys (NULL: none, ties go
 * by row) has an entry for every row id used. The index copies what it
 * needs: vectors and keys may be freed afterwards. The rows must be
 * distinct. Work runs on pool
 * (NULL: the calling thread); progress, when given, counts k-means passes.
 * Returns 0, KGA_EINVAL (parameters, dim), KGA_ELIMIT or
 * KGA_ENOMEM; *out is NULL on failure. */
int kga_ann_new(const float *vectors, uint32_t dim, const uint32_t *rows,
                size_t n, const uint64_t *keys, const kga_ann_params_t *p,
                kga_pool_t *pool, const kga_progress_t *progress,
                kga_ann_t **out, kga_err_t *err);

uint32_t kga_ann_dim(const kga_ann_t *ix);
size_t kga_ann_size(const kga_ann_t *ix);
uint32_t kga_ann_cells(const kga_ann_t *ix);

/* Bytes the index holds (for the memory accounts of docs/scale.md). */
size_t kga_ann_bytes(const kga_ann_t *ix);

/* For each of the nq rows qrows[q] (NULL: rows 0 .. nq-1) of the row-major
 * matrix `queries` (kga_ann_dim() floats a row), the k best indexed rows
 * whose allowed[row] is non-zero (allowed NULL: all), best first: row ids
 * in out_idx[q * k ..], scores (q . x, or -||q - x||^2) in
 * out_score[q * k ..]; slots past the hits are UINT32_MAX / -INFINITY.
 * probes 0 uses the index's. Runs on pool; ticker (may be NULL) counts
 * queries. Not safe to call from several threads at once with a pool;
 * with pool NULL it is (the service's one-entity queries), when OpenBLAS
 * runs single-threaded. Returns 0, KGA_EINVAL (k > KGA_ANN_MAX_K) or
 * KGA_ENOMEM. */
int kga_ann_search(const kga_ann_t *ix, const float *queries,
                   const uint32_t *qrows, size_t nq, const uint8_t *allowed,
                   size_t k, uint32_t probes, kga_pool_t *pool,
                   kga_progress_ticker_t *ticker, uint32_t *out_idx,
                   float *out_score, kga_err_t *err);

void kga_ann_free(kga_ann_t *ix);

#endif
