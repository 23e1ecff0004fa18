/* The inverted-file nearest-neighbour index (see ann.h): k-means cells,
 * then a batch search that groups the queries of a block by the cells they
 * probe, so that each cell's vectors meet all of its queries in one matrix
 * product. It is separate from the exact sparse search (sparse.c) and from
 * the fusion that uses it: the GNN's hard negatives search with it too. */
#include "features/ann.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "features/topk_heap.h"

/* Rows assigned to centroids per product; fewer when the scores of a block
 * would pass ASSIGN_FLOATS. */
#define ASSIGN_ROWS 256u
#define ASSIGN_FLOATS ((size_t)4 << 20)
/* Queries one pool task searches together (sorted by their nearest cell,
 * so that they share most of the cells they probe). */
#define QUERY_BLOCK 1024u
/* The largest product of one cell: queries x vectors. */
#define SCAN_ROWS 256u
#define SCAN_COLS 2048u

struct kga_ann {
    kga_ann_metric_t metric;
    uint32_t dim, cells, probes;
    size_t n;
    float *centroid; /* cells x dim */
    float *cnorm;    /* cells: ||c||^2 */
    size_t *off;     /* cells + 1: the positions of cell c */
    uint32_t *row;   /* n: row id at each position (cell order) */
    uint64_t *key;   /* n: tie key at each position */
    float *vec;      /* n x dim, cell order */
    float *vnorm;    /* n: ||x||^2 (L2) */
};

void kga_ann_params_init(kga_ann_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->metric = KGA_ANN_DOT;
    p->cells = 0;
    p->probes = 16;
    p->iters = 8;
    p->sample = 32;
    p->seed = 1;
}

int kga_ann_params_check(const kga_ann_params_t *p, kga_err_t *err)
{
    if (p->metric != KGA_ANN_DOT && p->metric != KGA_ANN_L2)
        return kga_err_set(err, KGA_EINVAL, "ann: unknown metric %d",
                           (int)p->metric);
    if (p->cells > KGA_ANN_MAX_CELLS)
        return kga_err_set(err, KGA_EINVAL,
                           "ann: cells must be at most %u, not %u",
                           KGA_ANN_MAX_CELLS, p->cells);
    if (p->probes < 1 || p->probes > KGA_ANN_MAX_PROBES)
        return kga_err_set(err, KGA_EINVAL,
                           "ann: probes must be in [1, %u], not %u",
                           KGA_ANN_MAX_PROBES, p->probes);
    if (p->iters > 100)
        return kga_err_set(err, KGA_EINVAL,
                           "ann: iters must be at most 100, not %u", p->iters);
    if (p->sample < 1 || p->sample > 4096)
        return kga_err_set(err, KGA_EINVAL,
                           "ann: sample must be in [1, 4096], not %u",
                           p->sample);
    return 0;
}

uint32_t kga_ann_dim(const kga_ann_t *ix)
{
    return ix->dim;
}

size_t kga_ann_size(const kga_ann_t *ix)
{
    return ix->n;
}

uint32_t kga_ann_cells(const kga_ann_t *ix)
{
    return ix->cells;
}

size_t kga_ann_bytes(const kga_ann_t *ix)
{
    size_t b = sizeof *ix;
    b += (size_t)ix->cells * ((size_t)ix->dim + 1) * sizeof(float);
    b += ((size_t)ix->cells + 1) * sizeof(size_t);
    b += ix->n * (sizeof(uint32_t) + sizeof(uint64_t));
    b += ix->n * (size_t)ix->dim * sizeof(float);
    if (ix->vnorm != NULL)
        b += ix->n * sizeof(float);
    return b;
}

void kga_ann_free(kga_ann_t *ix)
{
    if (ix == NULL)
        return;
    free(ix->vnorm);
    free(ix->vec);
    free(ix->key);
    free(ix->row);
    free(ix->off);
    free(ix->cnorm);
    free(ix->centroid);
    free(ix);
}

/* ---- the nearest cells of a set of vectors ------------------------------ */

/* Rows per assignment product for `cells` centroids. */
static size_t assign_rows(uint32_t cells)
{
    size_t r = ASSIGN_FLOATS / cells;
    return r < 16 ? 16 : r > ASSIGN_ROWS ? ASSIGN_ROWS : r;
}

typedef struct {
    const float *centroid, *cnorm;
    uint32_t cells, dim, np;
    const float *x;        /* source matrix */
    const uint32_t *rows;  /* rows of x, NULL: 0 .. n-1 */
    size_t n, block;
    float **A, **C;        /* per worker: block x dim, block x cells */
    uint32_t *out;         /* n x np */
} assign_ctx_t;

/* The np cells nearest to each row of a block (by 2 x.c - ||c||^2, ties
 * to the lower cell), nearest first. */
static void assign_chunk(void *vctx, size_t b, size_t e, int worker)
{
    const assign_ctx_t *c = vctx;
    float *A = c->A[worker], *C = c->C[worker];
    uint32_t d = c->dim, np = c->np;
    for (size_t blk = b; blk < e; blk++) {
        size_t r0 = blk * c->block;
        size_t m = c->n - r0 < c->block ? c->n - r0 : c->block;
        for (size_t r = 0; r < m; r++) {
            size_t src = c->rows != NULL ? c->rows[r0 + r] : r0 + r;
            memcpy(A + r * d, c->x + src * d, (size_t)d * sizeof *A);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m,
                    (int)c->cells, (int)d, 2.0f, A, (int)d, c->centroid,
                    (int)d, 0.0f, C, (int)c->cells);
        for (size_t r = 0; r < m; r++) {
            const float *row = C + r * c->cells;
            uint32_t *best = c->out + (r0 + r) * np;
            float bs[KGA_ANN_MAX_PROBES];
            uint32_t nb = 0;
            for (uint32_t j = 0; j < c->cells; j++) {
                float s = row[j] - c->cnorm[j];
                if (nb == np && !(s > bs[np - 1]))
                    continue;
                uint32_t at = nb < np ? nb++ : np - 1;
                while (at > 0 && s > bs[at - 1]) {
                    bs[at] = bs[at - 1];
                    best[at] = best[at - 1];
                    at--;
                }
                bs[at] = s;
                best[at] = j;
            }
        }
    }
}

/* Per-worker buffers of an assignment. */
static int assign_alloc(assign_ctx_t *c, int nw)
{
    c->A = calloc((size_t)nw, sizeof *c->A);
    c->C = calloc((size_t)nw, sizeof *c->C);
    if (c->A == NULL || c->C == NULL)
        return KGA_ENOMEM;
    for (int t = 0; t < nw; t++) {
        c->A[t] = malloc(c->block * c->dim * sizeof(float) + 1);
        c->C[t] = malloc(c->block * c->cells * sizeof(float) + 1);
        if (c->A[t] == NULL || c->C[t] == NULL)
            return KGA_ENOMEM;
    }
    return 0;
}

static void assign_free(assign_ctx_t *c, int nw)
{
    for (int t = 0; t < nw; t++) {
        if (c->A != NULL)
            free(c->A[t]);
        if (c->C != NULL)
            free(c->C[t]);
    }
    free(c->A);
    free(c->C);
    c->A = c->C = NULL;
}

/* out[r * np ..] = the np nearest cells of rows[r] of x. */
static int nearest_cells(const kga_ann_t *ix, const float *x,
                         const uint32_t *rows, size_t n, uint32_t np,
                         kga_pool_t *pool, uint32_t *out)
{
    if (n == 0)
        return 0;
    int nw = kga_pool_threads(pool);
    assign_ctx_t c = {.centroid = ix->centroid, .cnorm = ix->cnorm,
                      .cells = ix->cells, .dim = ix->dim, .np = np, .x = x,
                      .rows = rows, .n = n, .out = out};
    c.block = assign_rows(ix->cells);
    if (c.block > n)
        c.block = n;
    int rc = assign_alloc(&c, nw);
    if (rc == 0)
        kga_pool_run(pool, (n + c.block - 1) / c.block, 1, assign_chunk, &c);
    assign_free(&c, nw);
    return rc;
}

/* ---- building ----------------------------------------------------------- */

static void set_cnorm(kga_ann_t *ix)
{
    for (uint32_t c = 0; c < ix->cells; c++) {
        const float *v = ix->centroid + (size_t)c * ix->dim;
        double s = 0.0;
        for (uint32_t k = 0; k < ix->dim; k++)
            s += (double)v[k] * v[k];
        ix->cnorm[c] = (float)s;
    }
}

/* k-means (Lloyd) on m sample vectors S (m x dim): centroids start at the
 * first `cells` samples; sums in double, in sample order; a cell left
 * empty takes a sample vector, chosen by the pass and the cell. */
static int kmeans(kga_ann_t *ix, const float *S, size_t m, uint32_t iters,
                  kga_pool_t *pool, const kga_progress_t *progress,
                  uint32_t passes)
{
    uint32_t d = ix->dim, K = ix->cells;
    uint32_t *a = malloc((m + 1) * sizeof *a);
    double *sum = malloc(((size_t)K * d + 1) * sizeof *sum);
    size_t *count = malloc(((size_t)K + 1) * sizeof *count);
    int rc = KGA_ENOMEM;
    if (a == NULL || sum == NULL || count == NULL)
        goto out;
    for (uint32_t c = 0; c < K; c++)
        memcpy(ix->centroid + (size_t)c * d, S + (size_t)c * d,
               (size_t)d * sizeof(float));
    set_cnorm(ix);
    for (uint32_t it = 0; it < iters; it++) {
        if ((rc = nearest_cells(ix, S, NULL, m, 1, pool, a)) != 0)
            goto out;
        memset(sum, 0, (size_t)K * d * sizeof *sum);
        memset(count, 0, (size_t)K * sizeof *count);
        for (size_t i = 0; i < m; i++) {
            double *s = sum + (size_t)a[i] * d;
            const float *x = S + i * d;
            for (uint32_t k = 0; k < d; k++)
                s[k] += x[k];
            count[a[i]]++;
        }
        for (uint32_t c = 0; c < K; c++) {
            float *v = ix->centroid + (size_t)c * d;
            if (count[c] == 0) {
                size_t pick = ((size_t)it * K + c) % m;
                memcpy(v, S + pick * d, (size_t)d * sizeof *v);
                continue;
            }
            for (uint32_t k = 0; k < d; k++)
                v[k] = (float)(sum[(size_t)c * d + k] / (double)count[c]);
        }
        set_cnorm(ix);
        kga_progress_report(progress, "nearest-neighbour index: k-means",
                            "passes", it + 1, passes);
    }
    rc = 0;
out:
    free(count);
    free(sum);
    free(a);
    return rc;
}

int kga_ann_new(const float *vectors, uint32_t dim, const uint32_t *rows,
                size_t n, const uint64_t *keys, const kga_ann_params_t *p,
                kga_pool_t *pool, const kga_progress_t *progress,
                kga_ann_t **out, kga_err_t *err)
{
    int rc;
    *out = NULL;
    if ((rc = kga_ann_params_check(p, err)) != 0)
        return rc;
    if (dim < 1 || dim > KGA_ANN_MAX_DIM)
        return kga_err_set(err, KGA_EINVAL, "ann: dim must be in [1, %u]",
                           KGA_ANN_MAX_DIM);
    if (n >= UINT32_MAX || n > SIZE_MAX / sizeof(float) / dim)
        return kga_err_set(err, KGA_ELIMIT, "ann: %zu vectors", n);
    kga_ann_t *ix = calloc(1, sizeof *ix);
    uint32_t *perm = NULL, *cell = NULL;
    float *S = NULL;
    if (ix == NULL)
        return kga_err_set(err, KGA_ENOMEM, "ann: out of memory");
    ix->metric = p->metric;
    ix->dim = dim;
    ix->n = n;
    ix->probes = p->probes;
    uint32_t K = p->cells;
    if (K == 0)
        K = (uint32_t)lround(2.0 * sqrt((double)n));
    if (K > KGA_ANN_MAX_CELLS)
        K = KGA_ANN_MAX_CELLS;
    if ((size_t)K > n)
        K = (uint32_t)n;
    if (K == 0)
        K = 1;
    ix->cells = K;
    ix->centroid = calloc((size_t)K * dim + 1, sizeof(float));
    ix->cnorm = calloc((size_t)K + 1, sizeof(float));
    ix->off = calloc((size_t)K + 1, sizeof *ix->off);
    ix->row = malloc((n + 1) * sizeof *ix->row);
    ix->key = malloc((n + 1) * sizeof *ix->key);
    ix->vec = malloc((n * dim + 1) * sizeof *ix->vec);
    if (p->metric == KGA_ANN_L2)
        ix->vnorm = malloc((n + 1) * sizeof *ix->vnorm);
    perm = malloc((n + 1) * sizeof *perm);
    cell = malloc((n + 1) * sizeof *cell);
    if (!ix->centroid || !ix->cnorm || !ix->off || !ix->row || !ix->key ||
        !ix->vec || (p->metric == KGA_ANN_L2 && !ix->vnorm) || !perm ||
        !cell) {
        rc = kga_err_set(err, KGA_ENOMEM, "ann: out of memory (%zu vectors)",
                         n);
        goto fail;
    }
    if (n == 0) {
        *out = ix;
        ix = NULL;
        rc = 0;
        goto fail;
    }
    int blas = kga_blas_serial_enter();

    /* The training sample: the first m of a seeded shuffle of the rows. */
    size_t m = (size_t)K * p->sample < n ? (size_t)K * p->sample : n;
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    kga_rng_t rng;
    kga_rng_init(&rng, p->seed, 0x616e6e);
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)kga_rng_below64(&rng, n - i);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    S = malloc((m * dim + 1) * sizeof *S);
    if (S == NULL) {
        kga_blas_serial_leave(blas);
        rc = kga_err_set(err, KGA_ENOMEM, "ann: out of memory (sample)");
        goto fail;
    }
    for (size_t i = 0; i < m; i++) {
        size_t src = rows != NULL ? rows[perm[i]] : perm[i];
        memcpy(S + i * dim, vectors + src * dim, (size_t)dim * sizeof *S);
    }
    uint32_t passes = p->iters + 1;
    rc = kmeans(ix, S, m, p->iters, pool, progress, passes);
    if (rc == 0)
        rc = nearest_cells(ix, vectors, rows, n, 1, pool, cell);
    kga_blas_serial_leave(blas);
    if (rc != 0) {
        rc = kga_err_set(err, rc, "ann: out of memory (k-means)");
        goto fail;
    }

    /* Positions in cell order, rows in input order within a cell. */
    for (size_t i = 0; i < n; i++)
        ix->off[cell[i] + 1]++;
    for (uint32_t c = 0; c < K; c++)
        ix->off[c + 1] += ix->off[c];
    size_t *fill = malloc(((size_t)K + 1) * sizeof *fill);
    if (fill == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "ann: out of memory");
        goto fail;
    }
    memcpy(fill, ix->off, (size_t)K * sizeof *fill);
    for (size_t i = 0; i < n; i++) {
        size_t at = fill[cell[i]]++;
        uint32_t r = rows != NULL ? rows[i] : (uint32_t)i;
        ix->row[at] = r;
        ix->key[at] = keys != NULL ? keys[r] : 0;
        const float *x = vectors + (size_t)r * dim;
        memcpy(ix->vec + at * dim, x, (size_t)dim * sizeof *x);
        if (ix->vnorm != NULL) {
            double s = 0.0;
            for (uint32_t k = 0; k < dim; k++)
                s += (double)x[k] * x[k];
            ix->vnorm[at] = (float)s;
        }
    }
    free(fill);
    kga_progress_report(progress, "nearest-neighbour index: k-means",
                        "passes", passes, passes);
    *out = ix;
    ix = NULL;
    rc = 0;
fail:
    free(S);
    free(cell);
    free(perm);
    kga_ann_free(ix);
    return rc;
}

/* ---- searching ---------------------------------------------------------- */

typedef struct {
    const kga_ann_t *ix;
    const float *queries;
    const uint32_t *qrows;
    size_t nq, k;
    uint32_t np;
    const uint32_t *probe; /* nq x np */
    const uint32_t *order; /* queries by nearest cell */
    const uint8_t *allowed;
    size_t block;
    kga_progress_ticker_t *ticker;
    /* per worker */
    uint64_t **pairs; /* block x np: cell << 32 | local query */
    kga_hit_t **heap; /* block x k */
    size_t **fill;    /* block: hits held */
    float **A, **C;   /* SCAN_ROWS x dim, SCAN_ROWS x SCAN_COLS */
    uint32_t *out_idx;
    float *out_score;
} search_ctx_t;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Scores the queries local[0 .. m) of a block against cell c. */
static void scan_cell(const search_ctx_t *c, int worker, uint32_t cell,
                      const uint32_t *local, size_t m, const uint32_t *qs)
{
    const kga_ann_t *ix = c->ix;
    uint32_t d = ix->dim;
    float *A = c->A[worker], *C = c->C[worker];
    const kga_hit_order_t order = {ix->key, ix->row};
    kga_hit_t *heap = c->heap[worker];
    size_t *fill = c->fill[worker];
    size_t c0 = ix->off[cell], c1 = ix->off[cell + 1];
    for (size_t r0 = 0; r0 < m; r0 += SCAN_ROWS) {
        size_t mr = m - r0 < SCAN_ROWS ? m - r0 : SCAN_ROWS;
        for (size_t r = 0; r < mr; r++) {
            size_t q = qs[local[r0 + r]];
            size_t src = c->qrows != NULL ? c->qrows[q] : q;
            memcpy(A + r * d, c->queries + src * d, (size_t)d * sizeof *A);
        }
        for (size_t p0 = c0; p0 < c1; p0 += SCAN_COLS) {
            size_t nc = c1 - p0 < SCAN_COLS ? c1 - p0 : SCAN_COLS;
            float alpha = ix->metric == KGA_ANN_L2 ? 2.0f : 1.0f;
            if (mr == 1)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nc, (int)d,
                            alpha, ix->vec + p0 * d, (int)d, A, 1, 0.0f, C,
                            1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mr,
                            (int)nc, (int)d, alpha, A, (int)d,
                            ix->vec + p0 * d, (int)d, 0.0f, C, (int)nc);
            for (size_t r = 0; r < mr; r++) {
                uint32_t l = local[r0 + r];
                kga_hit_t *h = heap + (size_t)l * c->k;
                const float *row = C + r * nc;
                for (size_t j = 0; j < nc; j++) {
                    size_t pos = p0 + j;
                    float s = row[j];
                    if (ix->vnorm != NULL)
                        s -= ix->vnorm[pos];
                    if (fill[l] == c->k && s < h[0].score)
                        continue;
                    if (c->allowed != NULL && !c->allowed[ix->row[pos]])
                        continue;
                    kga_hit_heap_offer(&order, h, &fill[l], c->k,
                                       (kga_hit_t){s, (uint32_t)pos});
                }
            }
        }
    }
}

static void search_chunk(void *vctx, size_t b, size_t e, int worker)
{
    const search_ctx_t *c = vctx;
    const kga_ann_t *ix = c->ix;
    uint64_t *pairs = c->pairs[worker];
    const kga_hit_order_t order = {ix->key, ix->row};
    kga_hit_t *heap = c->heap[worker];
    size_t *fill = c->fill[worker];
    uint32_t local[QUERY_BLOCK];
    for (size_t blk = b; blk < e; blk++) {
        size_t q0 = blk * c->block;
        size_t m = c->nq - q0 < c->block ? c->nq - q0 : c->block;
        const uint32_t *qs = c->order + q0;
        size_t np = 0;
        for (size_t l = 0; l < m; l++) {
            const uint32_t *pr = c->probe + (size_t)qs[l] * c->np;
            for (uint32_t x = 0; x < c->np; x++)
                pairs[np++] = (uint64_t)pr[x] << 32 | l;
            fill[l] = 0;
        }
        qsort(pairs, np, sizeof *pairs, cmp_u64);
        for (size_t x = 0; x < np;) {
            uint32_t cell = (uint32_t)(pairs[x] >> 32);
            size_t y = x, nl = 0;
            for (; y < np && (uint32_t)(pairs[y] >> 32) == cell; y++)
                local[nl++] = (uint32_t)pairs[y];
            scan_cell(c, worker, cell, local, nl, qs);
            x = y;
        }
        for (size_t l = 0; l < m; l++) {
            size_t q = qs[l];
            float qn = 0.0f;
            if (ix->vnorm != NULL) {
                size_t src = c->qrows != NULL ? c->qrows[q] : q;
                const float *v = c->queries + src * ix->dim;
                double s2 = 0.0;
                for (uint32_t k = 0; k < ix->dim; k++)
                    s2 += (double)v[k] * v[k];
                qn = (float)s2;
            }
            kga_hit_heap_emit(&order, heap + l * c->k, fill[l], c->k, qn,
                              c->out_idx + q * c->k,
                              c->out_score + q * c->k);
        }
        kga_progress_tick(c->ticker, m, worker);
    }
}

int kga_ann_search(const kga_ann_t *ix, const float *queries,
                   const uint32_t *qrows, size_t nq, const uint8_t *allowed,
                   size_t k, uint32_t probes, kga_pool_t *pool,
                   kga_progress_ticker_t *ticker, uint32_t *out_idx,
                   float *out_score, kga_err_t *err)
{
    if (k > KGA_ANN_MAX_K)
        return kga_err_set(err, KGA_EINVAL, "ann: k = %zu (limit %u)", k,
                           KGA_ANN_MAX_K);
    if (nq == 0 || k == 0)
        return 0;
    if (ix->n == 0) {
        for (size_t x = 0; x < nq * k; x++) {
            out_idx[x] = UINT32_MAX;
            out_score[x] = -INFINITY;
        }
        return 0;
    }
    uint32_t np = probes != 0 ? probes : ix->probes;
    if (np > KGA_ANN_MAX_PROBES)
        np = KGA_ANN_MAX_PROBES;
    if (np > ix->cells)
        np = ix->cells;
    int nw = kga_pool_threads(pool);
    size_t block = nq < QUERY_BLOCK ? nq : QUERY_BLOCK;
    size_t maxcell = 0;
    for (uint32_t c = 0; c < ix->cells; c++)
        if (ix->off[c + 1] - ix->off[c] > maxcell)
            maxcell = ix->off[c + 1] - ix->off[c];
    size_t rows = block < SCAN_ROWS ? block : SCAN_ROWS;
    size_t cols = maxcell < SCAN_COLS ? maxcell : SCAN_COLS;
    search_ctx_t c = {.ix = ix, .queries = queries, .qrows = qrows, .nq = nq,
                      .k = k, .np = np, .allowed = allowed, .block = block,
                      .ticker = ticker, .out_idx = out_idx,
                      .out_score = out_score};
    uint32_t *probe = malloc((nq * np + 1) * sizeof *probe);
    uint32_t *order = malloc((nq + 1) * sizeof *order);
    size_t *start = calloc((size_t)ix->cells + 1, sizeof *start);
    c.pairs = calloc((size_t)nw, sizeof *c.pairs);
    c.heap = calloc((size_t)nw, sizeof *c.heap);
    c.fill = calloc((size_t)nw, sizeof *c.fill);
    c.A = calloc((size_t)nw, sizeof *c.A);
    c.C = calloc((size_t)nw, sizeof *c.C);
    int rc = KGA_ENOMEM;
    if (!probe || !order || !start || !c.pairs || !c.heap || !c.fill ||
        !c.A || !c.C)
        goto out;
    for (int t = 0; t < nw; t++) {
        c.pairs[t] = malloc(block * np * sizeof **c.pairs + 1);
        c.heap[t] = malloc(block * k * sizeof **c.heap + 1);
        c.fill[t] = malloc(block * sizeof **c.fill + 1);
        c.A[t] = malloc(rows * ix->dim * sizeof(float) + 1);
        c.C[t] = malloc(rows * cols * sizeof(float) + 1);
        if (!c.pairs[t] || !c.heap[t] || !c.fill[t] || !c.A[t] || !c.C[t])
            goto out;
    }
    int blas = kga_blas_serial_enter();
    rc = nearest_cells(ix, queries, qrows, nq, np, pool, probe);
    if (rc == 0) {
        /* Queries in the order of their nearest cell (then their own). */
        for (size_t q = 0; q < nq; q++)
            start[probe[q * np] + 1]++;
        for (uint32_t x = 0; x < ix->cells; x++)
            start[x + 1] += start[x];
        for (size_t q = 0; q < nq; q++)
            order[start[probe[q * np]]++] = (uint32_t)q;
        c.probe = probe;
        c.order = order;
        kga_pool_run(pool, (nq + block - 1) / block, 1, search_chunk, &c);
    }
    kga_blas_serial_leave(blas);
out:
    for (int t = 0; t < nw; t++) {
        if (c.pairs != NULL)
            free(c.pairs[t]);
        if (c.heap != NULL)
            free(c.heap[t]);
        if (c.fill != NULL)
            free(c.fill[t]);
        if (c.A != NULL)
            free(c.A[t]);
        if (c.C != NULL)
            free(c.C[t]);
    }
    free(c.pairs);
    free(c.heap);
    free(c.fill);
    free(c.A);
    free(c.C);
    free(start);
    free(order);
    free(probe);
    if (rc != 0)
        return kga_err_set(err, rc, "ann: out of memory (%zu queries)", nq);
    return 0;
}
