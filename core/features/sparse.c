/* CSR matrices and the exact sparse top-K search. The search builds an
 * inverted index over the candidate rows (column -> (candidate, value)
 * postings), then for each query accumulates dot products into a dense
 * per-thread array, remembers which candidates it touched, and keeps the k
 * best in a small heap. Every posting is visited: the result is exact.
 *
 * Skipping the postings of frequent columns exactly (MaxScore: stop once
 * the bounds of the columns left cannot lift an unseen candidate into the
 * top k, then rescore the survivors) was measured on DBP15K fr_en names
 * (10,500 x 10,500, top 50) and lost: the skipped columns carry about half
 * of the postings, but their summed bound stays close to the k-th score, so
 * some 3,000 of the 4,600 candidates a query touches would need rescoring. */
#include "features/sparse.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "features/topk_heap.h"

/* The search keeps one offset per column of the candidate matrix. */
#define TOPK_MAX_COLS (UINT32_C(1) << 26)
/* Queries handed to a thread at a time. */
#define TOPK_CHUNK 32u

int kga_csr_init(kga_csr_t *m, uint32_t rows, uint32_t cols, uint64_t nnz)
{
    memset(m, 0, sizeof *m);
    if (rows > KGA_CSR_MAX_ROWS || nnz > KGA_CSR_MAX_NNZ)
        return KGA_ELIMIT;
    uint64_t *indptr = calloc((size_t)rows + 1, sizeof *indptr);
    uint32_t *indices = malloc((size_t)(nnz ? nnz : 1) * sizeof *indices);
    float *data = malloc((size_t)(nnz ? nnz : 1) * sizeof *data);
    if (indptr == NULL || indices == NULL || data == NULL) {
        free(data);
        free(indices);
        free(indptr);
        return KGA_ENOMEM;
    }
    m->rows = rows;
    m->cols = cols;
    m->indptr = indptr;
    m->indices = indices;
    m->data = data;
    return 0;
}

int kga_csr_validate(const kga_csr_t *m, kga_err_t *err)
{
    if (m->indptr == NULL)
        return kga_err_set(err, KGA_EFORMAT, "sparse matrix: no row offsets");
    if (m->indptr[0] != 0)
        return kga_err_set(err, KGA_EFORMAT,
                           "sparse matrix: first row offset is not 0");
    /* Offsets first, so that no row is read past the last offset. */
    for (uint32_t r = 0; r < m->rows; r++) {
        uint64_t b = m->indptr[r], e = m->indptr[r + 1];
        if (e < b || e > KGA_CSR_MAX_NNZ)
            return kga_err_set(err, KGA_EFORMAT,
                               "sparse matrix: row %u: offsets %llu..%llu",
                               r, (unsigned long long)b,
                               (unsigned long long)e);
    }
    for (uint32_t r = 0; r < m->rows; r++) {
        uint64_t b = m->indptr[r], e = m->indptr[r + 1];
        for (uint64_t x = b; x < e; x++) {
            if (m->indices[x] >= m->cols ||
                (x > b && m->indices[x] <= m->indices[x - 1]))
                return kga_err_set(
                    err, KGA_EFORMAT,
                    "sparse matrix: row %u: column %u out of order or >= %u",
                    r, m->indices[x], m->cols);
            if (!isfinite(m->data[x]))
                return kga_err_set(err, KGA_EFORMAT,
                                   "sparse matrix: row %u: value not finite",
                                   r);
        }
    }
    return 0;
}

uint64_t kga_csr_nnz(const kga_csr_t *m)
{
    return m->indptr == NULL ? 0 : m->indptr[m->rows];
}

void kga_csr_normalize_rows(kga_csr_t *m)
{
    for (uint32_t r = 0; r < m->rows; r++) {
        double ss = 0;
        for (uint64_t x = m->indptr[r]; x < m->indptr[r + 1]; x++)
            ss += (double)m->data[x] * m->data[x];
        if (ss <= 0)
            continue;
        double inv = 1.0 / sqrt(ss);
        for (uint64_t x = m->indptr[r]; x < m->indptr[r + 1]; x++)
            m->data[x] = (float)(m->data[x] * inv);
    }
}

kga_sparse_vec_t kga_csr_row(const kga_csr_t *m, uint32_t r)
{
    uint64_t o = m->indptr[r];
    kga_sparse_vec_t v = {m->indices + o, m->data + o,
                          (uint32_t)(m->indptr[r + 1] - o)};
    return v;
}

float kga_sparse_dot(kga_sparse_vec_t a, kga_sparse_vec_t b)
{
    uint32_t x = 0, y = 0;
    float s = 0.0f;
    while (x < a.n && y < b.n) {
        uint32_t ca = a.indices[x], cb = b.indices[y];
        if (ca < cb) {
            x++;
        } else if (cb < ca) {
            y++;
        } else {
            s += a.data[x] * b.data[y];
            x++;
            y++;
        }
    }
    return s;
}

float kga_csr_row_dot(const kga_csr_t *a, uint32_t i, const kga_csr_t *b,
                      uint32_t j)
{
    return kga_sparse_dot(kga_csr_row(a, i), kga_csr_row(b, j));
}

void kga_csr_destroy(kga_csr_t *m)
{
    free(m->data);
    free(m->indices);
    free(m->indptr);
    memset(m, 0, sizeof *m);
}

/* ---- top-K ---------------------------------------------------------------- */

typedef struct {
    uint32_t pos; /* position in the candidate list */
    float val;
} posting_t;

typedef struct {
    const kga_csr_t *queries;
    const uint32_t *query_rows;
    size_t nq;
    const uint32_t *cand_row; /* position -> row of cands */
    const uint64_t *key;      /* position -> tie key */
    const uint64_t *post_off; /* column -> first posting, cols + 1 */
    const posting_t *post;
    const uint8_t *skip;      /* row of cands -> 1: never a hit; or NULL */
    size_t k;
    uint32_t *out_idx;
    float *out_score;
    atomic_size_t next; /* first query of the next unclaimed chunk */
    /* Blocking (budget > 0): the candidate matrix for exact rescoring, the
     * allowed candidates, the postings a query may read. */
    const kga_csr_t *cands;
    const uint8_t *allowed;
    uint64_t budget;
    size_t pool;        /* hits rescored exactly */
} topk_job_t;

typedef struct {
    topk_job_t *job;
    float *acc;        /* nc, all zero between queries */
    uint8_t *seen;     /* nc, all zero between queries */
    uint32_t *touched; /* nc + 1 */
    kga_hit_t *heap;   /* min(k, nc), or the rescoring pool when blocking */
    uint64_t *cols;    /* blocking: a query's columns by posting count */
    pthread_t thread;
} topk_worker_t;

/* A meaning-free key for callers without ext ids: splitmix64's output for
 * state x (its increment, then its finaliser). */
static uint64_t mix64(uint64_t x)
{
    return kga_rng_hash(x + 0x9E3779B97F4A7C15ull);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Keeps the best k of touched positions by acc into heap (worst at the
 * root), leaving out candidates the job skips; returns how many. Clears
 * acc and seen of every touched one. */
static size_t heap_select(const topk_job_t *j, float *restrict acc,
                          uint8_t *restrict seen, const uint32_t *touched,
                          size_t ntouched, kga_hit_t *heap, size_t k)
{
    const kga_hit_order_t order = {j->key, j->cand_row};
    size_t n = 0;
    for (size_t t = 0; t < ntouched; t++) {
        uint32_t pos = touched[t];
        kga_hit_t h = {acc[pos], pos};
        acc[pos] = 0.0f;
        seen[pos] = 0;
        if (j->skip != NULL && j->skip[j->cand_row[pos]])
            continue;
        kga_hit_heap_offer(&order, heap, &n, k, h);
    }
    return n;
}

/* The n hits of heap, best first, into query q's output slots, padded. */
static void heap_emit(const topk_job_t *j, kga_hit_t *heap, size_t n,
                      size_t q)
{
    const kga_hit_order_t order = {j->key, j->cand_row};
    kga_hit_heap_emit(&order, heap, n, j->k, 0.0f, j->out_idx + q * j->k,
                      j->out_score + q * j->k);
}

/* Adds qv times each posting of [p, pe) to its candidate's accumulator,
 * listing the candidate in touched on its first touch; with allowed, skips
 * the candidates whose row it marks 0. Returns the new count of touched.
 * The arrays are the worker's, passed in (restrict) so that the stores
 * into them do not make the compiler reload anything inside the loop. */
static inline size_t accumulate(const topk_job_t *j, const uint8_t *allowed,
                                const posting_t *p, const posting_t *pe,
                                float qv, float *restrict acc,
                                uint8_t *restrict seen,
                                uint32_t *restrict touched, size_t ntouched)
{
    for (; p < pe; p++) {
        uint32_t pos = p->pos;
        if (allowed != NULL && !allowed[j->cand_row[pos]])
            continue;
        touched[ntouched] = pos; /* kept only on the first touch */
        ntouched += seen[pos] ^ 1u;
        seen[pos] = 1;
        acc[pos] += qv * p->val;
    }
    return ntouched;
}

static void topk_one(topk_worker_t *w, size_t q)
{
    const topk_job_t *j = w->job;
    const kga_csr_t *Q = j->queries;
    const posting_t *post = j->post;
    const uint64_t *post_off = j->post_off;
    uint32_t row = j->query_rows != NULL ? j->query_rows[q] : (uint32_t)q;
    size_t ntouched = 0;

    /* Query columns in increasing order, postings in candidate order: each
     * accumulator is the kga_csr_row_dot() sum bit for bit. */
    for (uint64_t x = Q->indptr[row]; x < Q->indptr[row + 1]; x++) {
        uint32_t col = Q->indices[x];
        ntouched = accumulate(j, NULL, post + post_off[col],
                              post + post_off[col + 1], Q->data[x], w->acc,
                              w->seen, w->touched, ntouched);
    }

    size_t n = heap_select(j, w->acc, w->seen, w->touched, ntouched, w->heap,
                           j->k);
    heap_emit(j, w->heap, n, q);
}

/* Blocking: the query's columns from the one with the fewest postings,
 * as long as their postings fit the budget, give partial scores; the best
 * `pool` of those are rescored exactly (kga_csr_row_dot) and the best k of
 * them kept. A candidate that shares only frequent columns with the query
 * is not found: that is the approximation. */
static void topk_one_blocked(topk_worker_t *w, size_t q)
{
    const topk_job_t *j = w->job;
    const kga_csr_t *Q = j->queries;
    const posting_t *post = j->post;
    const uint64_t *post_off = j->post_off;
    float *restrict acc = w->acc;
    uint8_t *restrict seen = w->seen;
    uint32_t *restrict touched = w->touched;
    uint32_t row = j->query_rows != NULL ? j->query_rows[q] : (uint32_t)q;
    uint64_t b = Q->indptr[row], e = Q->indptr[row + 1];
    size_t nc = 0, ntouched = 0;

    for (uint64_t x = b; x < e; x++) {
        uint32_t col = Q->indices[x];
        uint64_t df = post_off[col + 1] - post_off[col];
        /* posting count in the high bits, entry in the low 24 */
        w->cols[nc++] = df << 24 | (x - b);
    }
    qsort(w->cols, nc, sizeof *w->cols, cmp_u64);
    uint64_t used = 0;
    for (size_t c = 0; c < nc; c++) {
        uint64_t df = w->cols[c] >> 24;
        if (used + df > j->budget)
            break;
        used += df;
        uint64_t x = b + (w->cols[c] & 0xFFFFFFu);
        const posting_t *p = post + post_off[Q->indices[x]];
        ntouched = accumulate(j, j->allowed, p, p + df, Q->data[x], acc, seen,
                              touched, ntouched);
    }
    kga_hit_t *heap = w->heap;
    size_t n = heap_select(j, acc, seen, touched, ntouched, heap, j->pool);
    /* Exact scores of the pool, then its best k. */
    for (size_t t = 0; t < n; t++) {
        uint32_t pos = heap[t].pos;
        touched[t] = pos;
        acc[pos] = kga_csr_row_dot(Q, row, j->cands, j->cand_row[pos]);
        seen[pos] = 1;
    }
    n = heap_select(j, acc, seen, touched, n, heap, j->k);
    heap_emit(j, heap, n, q);
}

static void *topk_run(void *arg)
{
    topk_worker_t *w = arg;
    topk_job_t *j = w->job;
    for (;;) {
        size_t q0 = atomic_fetch_add(&j->next, TOPK_CHUNK);
        if (q0 >= j->nq)
            break;
        size_t q1 = q0 + TOPK_CHUNK < j->nq ? q0 + TOPK_CHUNK : j->nq;
        for (size_t q = q0; q < q1; q++) {
            if (j->budget > 0)
                topk_one_blocked(w, q);
            else
                topk_one(w, q);
        }
    }
    return NULL;
}

/* Inverted index of the candidate rows: postings of each column in
 * candidate position order. */
static int topk_index(const kga_csr_t *C, const uint32_t *cand_row, size_t nc,
                      uint64_t **off_out, posting_t **post_out)
{
    uint64_t *off = calloc((size_t)C->cols + 1, sizeof *off);
    if (off == NULL)
        return KGA_ENOMEM;
    uint64_t total = 0;
    for (size_t p = 0; p < nc; p++) {
        uint32_t r = cand_row[p];
        for (uint64_t x = C->indptr[r]; x < C->indptr[r + 1]; x++)
            off[C->indices[x] + 1]++;
        total += C->indptr[r + 1] - C->indptr[r];
    }
    for (uint32_t c = 0; c < C->cols; c++)
        off[c + 1] += off[c];
    posting_t *post = malloc((size_t)(total ? total : 1) * sizeof *post);
    uint64_t *fill = malloc((size_t)(C->cols ? C->cols : 1) * sizeof *fill);
    if (post == NULL || fill == NULL) {
        free(fill);
        free(post);
        free(off);
        return KGA_ENOMEM;
    }
    memcpy(fill, off, (size_t)C->cols * sizeof *fill);
    for (size_t p = 0; p < nc; p++) {
        uint32_t r = cand_row[p];
        for (uint64_t x = C->indptr[r]; x < C->indptr[r + 1]; x++) {
            posting_t *e = &post[fill[C->indices[x]]++];
            e->pos = (uint32_t)p;
            e->val = C->data[x];
        }
    }
    free(fill);
    *off_out = off;
    *post_out = post;
    return 0;
}

/* The per-thread search over a ready job (candidates, keys, postings). */
static int topk_search(topk_job_t *job, size_t nc, int threads,
                       kga_err_t *err)
{
    int rc = 0, nw, started = 0;
    size_t nq = job->nq, k = job->k;
    topk_worker_t *w;

    atomic_init(&job->next, 0);
    nw = threads < 1 ? 1 : threads;
    if (nw > KGA_SPARSE_MAX_THREADS)
        nw = KGA_SPARSE_MAX_THREADS;
    if ((size_t)nw > (nq + TOPK_CHUNK - 1) / TOPK_CHUNK)
        nw = (int)((nq + TOPK_CHUNK - 1) / TOPK_CHUNK);
    w = calloc((size_t)nw, sizeof *w);
    if (w == NULL)
        return kga_err_set(err, KGA_ENOMEM, "top-K: out of memory");
    size_t heap_n = job->budget > 0 ? job->pool : k;
    if (heap_n > nc)
        heap_n = nc;
    for (int t = 0; t < nw; t++) {
        w[t].job = job;
        w[t].acc = calloc(nc + 1, sizeof *w[t].acc);
        w[t].seen = calloc(nc + 1, 1);
        w[t].touched = malloc((nc + 1) * sizeof *w[t].touched);
        w[t].heap = malloc((heap_n + 1) * sizeof *w[t].heap);
        w[t].cols = job->budget > 0 ? malloc(((size_t)job->queries->cols + 1) *
                                             sizeof *w[t].cols)
                                    : NULL;
        if (!w[t].acc || !w[t].seen || !w[t].touched || !w[t].heap ||
            (job->budget > 0 && !w[t].cols)) {
            rc = kga_err_set(err, KGA_ENOMEM, "top-K: out of memory");
            goto out;
        }
    }
    /* Worker 0 is this thread. A thread that cannot be started only makes
     * the others claim more chunks: the result does not change. */
    for (started = 1; started < nw; started++)
        if (pthread_create(&w[started].thread, NULL, topk_run, &w[started]))
            break;
    topk_run(&w[0]);
    for (int t = 1; t < started; t++)
        pthread_join(w[t].thread, NULL);

out:
    for (int t = 0; t < nw; t++) {
        free(w[t].cols);
        free(w[t].heap);
        free(w[t].touched);
        free(w[t].seen);
        free(w[t].acc);
    }
    free(w);
    return rc;
}

static int topk_check_queries(const kga_csr_t *queries,
                              const uint32_t *query_rows, size_t nq,
                              uint32_t cand_cols, kga_err_t *err)
{
    if (queries->cols != cand_cols)
        return kga_err_set(err, KGA_EINVAL,
                           "top-K: query and candidate columns differ (%u, %u)",
                           queries->cols, cand_cols);
    if (cand_cols > TOPK_MAX_COLS)
        return kga_err_set(err, KGA_ELIMIT, "top-K: %u columns (limit %u)",
                           cand_cols, TOPK_MAX_COLS);
    if (query_rows != NULL)
        for (size_t q = 0; q < nq; q++)
            if (query_rows[q] >= queries->rows)
                return kga_err_set(err, KGA_EINVAL,
                                   "top-K: query %zu: row %u out of range", q,
                                   query_rows[q]);
    return 0;
}

int kga_sparse_topk(const kga_csr_t *queries, const uint32_t *query_rows,
                    size_t nq, const kga_csr_t *cands,
                    const uint32_t *cand_rows, size_t nc,
                    const uint64_t *cand_keys, size_t k, int threads,
                    uint32_t *out_idx, float *out_score, kga_err_t *err)
{
    int rc;
    uint32_t *cand_row = NULL;
    uint64_t *key = NULL, *post_off = NULL;
    uint8_t *mark = NULL;
    posting_t *post = NULL;

    if (query_rows == NULL)
        nq = queries->rows;
    if (cand_rows == NULL)
        nc = cands->rows;
    if ((rc = topk_check_queries(queries, query_rows, nq, cands->cols, err)))
        return rc;
    if (nc >= UINT32_MAX || (k != 0 && nq > SIZE_MAX / k))
        return kga_err_set(err, KGA_ELIMIT, "top-K: too many rows");
    if (k == 0 || nq == 0)
        return 0;

    cand_row = malloc((nc ? nc : 1) * sizeof *cand_row);
    key = malloc((nc ? nc : 1) * sizeof *key);
    mark = calloc((size_t)cands->rows + 1, 1);
    if (cand_row == NULL || key == NULL || mark == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "top-K: out of memory");
        goto out;
    }
    for (size_t p = 0; p < nc; p++) {
        uint32_t r = cand_rows != NULL ? cand_rows[p] : (uint32_t)p;
        if (r >= cands->rows || mark[r]) {
            rc = kga_err_set(err, KGA_EINVAL,
                             "top-K: candidate %zu: row %u %s", p, r,
                             r >= cands->rows ? "out of range" : "repeated");
            goto out;
        }
        mark[r] = 1;
        cand_row[p] = r;
        key[p] = cand_keys != NULL ? cand_keys[r] : mix64(r);
    }
    free(mark);
    mark = NULL;

    if (topk_index(cands, cand_row, nc, &post_off, &post) != 0) {
        rc = kga_err_set(err, KGA_ENOMEM, "top-K: out of memory (index)");
        goto out;
    }
    topk_job_t job = {
        .queries = queries, .query_rows = query_rows, .nq = nq,
        .cand_row = cand_row, .key = key, .post_off = post_off, .post = post,
        .k = k, .out_idx = out_idx, .out_score = out_score,
    };
    rc = topk_search(&job, nc, threads, err);

out:
    free(post);
    free(post_off);
    free(mark);
    free(key);
    free(cand_row);
    return rc;
}

/* ---- prebuilt index ------------------------------------------------------- */

struct kga_sparse_index {
    uint32_t rows, cols;
    uint32_t *cand_row; /* the identity: every row is a candidate */
    uint64_t *key;
    uint64_t *post_off;
    posting_t *post;
};

int kga_sparse_index_new(const kga_csr_t *cands, const uint64_t *cand_keys,
                         kga_sparse_index_t **out, kga_err_t *err)
{
    *out = NULL;
    if (cands->cols > TOPK_MAX_COLS)
        return kga_err_set(err, KGA_ELIMIT, "top-K: %u columns (limit %u)",
                           cands->cols, TOPK_MAX_COLS);
    kga_sparse_index_t *ix = calloc(1, sizeof *ix);
    size_t nc = cands->rows;
    if (ix == NULL)
        return kga_err_set(err, KGA_ENOMEM, "top-K: out of memory (index)");
    ix->rows = cands->rows;
    ix->cols = cands->cols;
    ix->cand_row = malloc((nc ? nc : 1) * sizeof *ix->cand_row);
    ix->key = malloc((nc ? nc : 1) * sizeof *ix->key);
    if (ix->cand_row == NULL || ix->key == NULL)
        goto nomem;
    for (size_t r = 0; r < nc; r++) {
        ix->cand_row[r] = (uint32_t)r;
        ix->key[r] = cand_keys != NULL ? cand_keys[r] : mix64(r);
    }
    if (topk_index(cands, ix->cand_row, nc, &ix->post_off, &ix->post) != 0)
        goto nomem;
    *out = ix;
    return 0;
nomem:
    kga_sparse_index_free(ix);
    return kga_err_set(err, KGA_ENOMEM, "top-K: out of memory (index)");
}

size_t kga_sparse_index_bytes(const kga_sparse_index_t *ix)
{
    if (ix == NULL)
        return 0;
    return sizeof *ix + (size_t)ix->rows * (sizeof(uint32_t) + sizeof(uint64_t)) +
           ((size_t)ix->cols + 1) * sizeof(uint64_t) +
           (size_t)ix->post_off[ix->cols] * sizeof(posting_t);
}

void kga_sparse_index_free(kga_sparse_index_t *ix)
{
    if (ix == NULL)
        return;
    free(ix->post);
    free(ix->post_off);
    free(ix->key);
    free(ix->cand_row);
    free(ix);
}

int kga_sparse_topk_indexed(const kga_csr_t *queries,
                            const uint32_t *query_rows, size_t nq,
                            const kga_sparse_index_t *ix, size_t k,
                            int threads, uint32_t *out_idx, float *out_score,
                            kga_err_t *err)
{
    return kga_sparse_topk_indexed_skip(queries, query_rows, nq, ix, NULL, k,
                                        threads, out_idx, out_score, err);
}

int kga_sparse_topk_indexed_skip(const kga_csr_t *queries,
                                 const uint32_t *query_rows, size_t nq,
                                 const kga_sparse_index_t *ix,
                                 const uint8_t *skip, size_t k, int threads,
                                 uint32_t *out_idx, float *out_score,
                                 kga_err_t *err)
{
    int rc;
    if (query_rows == NULL)
        nq = queries->rows;
    if ((rc = topk_check_queries(queries, query_rows, nq, ix->cols, err)))
        return rc;
    if (k != 0 && nq > SIZE_MAX / k)
        return kga_err_set(err, KGA_ELIMIT, "top-K: too many rows");
    if (k == 0 || nq == 0)
        return 0;
    topk_job_t job = {
        .queries = queries, .query_rows = query_rows, .nq = nq,
        .cand_row = ix->cand_row, .key = ix->key, .post_off = ix->post_off,
        .post = ix->post, .skip = skip, .k = k, .out_idx = out_idx,
        .out_score = out_score,
    };
    return topk_search(&job, ix->rows, threads, err);
}

int kga_sparse_topk_blocked(const kga_csr_t *queries,
                            const uint32_t *query_rows, size_t nq,
                            const kga_sparse_index_t *ix,
                            const kga_csr_t *cands,
                            const kga_sparse_options_t *opt, size_t k,
                            int threads, uint32_t *out_idx, float *out_score,
                            kga_err_t *err)
{
    if (opt == NULL || opt->budget == 0) {
        if (opt != NULL && opt->allowed != NULL)
            return kga_err_set(err, KGA_EINVAL,
                               "top-K: an allowed set needs a budget");
        return kga_sparse_topk_indexed(queries, query_rows, nq, ix, k,
                                       threads, out_idx, out_score, err);
    }
    int rc;
    if (query_rows == NULL)
        nq = queries->rows;
    if ((rc = topk_check_queries(queries, query_rows, nq, ix->cols, err)))
        return rc;
    if (cands->rows != ix->rows || cands->cols != ix->cols)
        return kga_err_set(err, KGA_EINVAL,
                           "top-K: the candidate matrix is not the indexed "
                           "one");
    if (k != 0 && nq > SIZE_MAX / k)
        return kga_err_set(err, KGA_ELIMIT, "top-K: too many rows");
    if (k == 0 || nq == 0)
        return 0;
    size_t pool = opt->pool > k ? opt->pool : k;
    topk_job_t job = {
        .queries = queries, .query_rows = query_rows, .nq = nq,
        .cand_row = ix->cand_row, .key = ix->key, .post_off = ix->post_off,
        .post = ix->post, .k = k, .out_idx = out_idx, .out_score = out_score,
        .cands = cands, .allowed = opt->allowed, .budget = opt->budget,
        .pool = pool,
    };
    return topk_search(&job, ix->rows, threads, err);
}
