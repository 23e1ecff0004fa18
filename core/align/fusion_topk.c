/* Candidate search of the fused aligner: the k best right entities of
 * each query by the fused score, from one matrix product of the feature
 * blocks (sgemm, split over the pool) unioned with the name candidates and
 * rescored exactly. Ties go to the lower external-id hash, and each query
 * is scored on its own, so the result does not depend on the threads. */
#include "align/fusion_internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows of one sgemm block, at most; fewer when a block of scores would
 * exceed BLOCK_BYTES (one such block per worker). */
#define BLOCK_ROWS 512u
#define BLOCK_BYTES ((size_t)64 << 20)

/* Blocks of fewer rows use one sgemv per row instead of sgemm. */
#define GEMV_ROWS 4u

/* Scores tested at once when scanning a row of the product. */
#define SCAN_CHUNK 32

/* ---- candidates --------------------------------------------------------- */

typedef struct {
    float s;
    uint32_t ent; /* right entity, or a position in the right list */
    uint64_t key;
} cand_t;

/* Higher score first, then the lower external-id hash (then the lower id,
 * which only a 64-bit hash collision can reach). */
static inline int cand_better(const cand_t *a, const cand_t *b)
{
    if (a->s != b->s)
        return a->s > b->s;
    if (a->key != b->key)
        return a->key < b->key;
    return a->ent < b->ent;
}

/* Inserts c into best[0 .. *n), sorted best first, keeping at most k. */
static void cand_insert(cand_t *best, size_t *n, size_t k, cand_t c)
{
    size_t i;
    if (*n < k)
        i = (*n)++;
    else if (cand_better(&c, &best[k - 1]))
        i = k - 1;
    else
        return;
    while (i > 0 && cand_better(&c, &best[i - 1])) {
        best[i] = best[i - 1];
        i--;
    }
    best[i] = c;
}

typedef struct {
    const kga_fusion_t *f;
    const uint32_t *lefts;
    size_t nl;
    const uint32_t *rights; /* NULL: all right entities */
    size_t nr;
    const float *B;         /* nr x width, the rights' features */
    const uint64_t *rkey;   /* nr: the rights' keys */
    const uint32_t *name_idx; /* nl x k, or NULL when wn == 0 */
    const float *name_cos;
    size_t k;
    size_t block;
    float **A, **C;         /* per worker: block x width, block x nr */
    cand_t **work;          /* per worker: 3 k */
    uint32_t *out_idx;
    float *out_score;
} topk_ctx_t;

/* A query: an entity of `side`, stored (ent) or from outside the stores
 * (ent NONE, its rows given). */
typedef struct {
    int side;
    uint32_t ent;
    const float *row;      /* its feature row */
    kga_sparse_vec_t name; /* its TF-IDF row, when ent is NONE */
} query_t;

/* S of the query and entity j of the other side, given the cosine. */
static float query_score(const kga_fusion_t *f, const query_t *q, uint32_t j,
                         float cosine)
{
    const float *o = f->F[!q->side] + (size_t)j * f->width;
    return q->side == 0 ? rows_score(f, q->row, o, cosine)
                        : rows_score(f, o, q->row, cosine);
}

static float query_cosine(const kga_fusion_t *f, const query_t *q, uint32_t j)
{
    if (q->ent != NONE)
        return q->side == 0 ? kga_tfidf_cosine(f->names, q->ent, j)
                            : kga_tfidf_cosine(f->names, j, q->ent);
    return kga_sparse_dot(q->name, kga_tfidf_row(f->names, !q->side, j));
}

/* The k best of the union of st[0 .. ns) (entities of the other side,
 * ranked by the feature product) and the name candidates ni / nc (NULL when
 * wn is 0), each scored exactly, into oi / os; un and best hold k each. */
static void union_exact(const kga_fusion_t *f, const query_t *q,
                        const cand_t *st, size_t ns, const uint32_t *ni,
                        const float *nc, size_t k, cand_t *un, cand_t *best,
                        uint32_t *oi, float *os)
{
    size_t nu = 0, nb = 0;
    const uint64_t *okey = f->key[!q->side];
    for (size_t x = 0; x < ns; x++) {
        uint32_t j = st[x].ent;
        float cosine = 0.0f;
        int named = 0;
        for (size_t y = 0; ni != NULL && y < k && ni[y] != NONE; y++)
            if (ni[y] == j) {
                cosine = nc[y];
                named = 1;
                break;
            }
        if (!named && f->wn > 0.0f)
            cosine = query_cosine(f, q, j);
        un[nu++] = (cand_t){query_score(f, q, j, cosine), j, st[x].key};
    }
    for (size_t y = 0; ni != NULL && y < k && ni[y] != NONE; y++) {
        uint32_t j = ni[y];
        int seen = 0;
        for (size_t x = 0; x < ns && !seen; x++)
            seen = un[x].ent == j;
        if (!seen)
            cand_insert(best, &nb, k,
                        (cand_t){query_score(f, q, j, nc[y]), j, okey[j]});
    }
    for (size_t x = 0; x < nu; x++)
        cand_insert(best, &nb, k, un[x]);
    for (size_t x = 0; x < k; x++) {
        oi[x] = x < nb ? best[x].ent : NONE;
        os[x] = x < nb ? best[x].s : -INFINITY;
    }
}

/* The k best of row[0 .. n) (ties: the lower key[x]) into st, best first,
 * leaving out x where skip[x] (skip NULL: none; the caller has set their
 * scores to -INFINITY); returns how many. ent of each is its position x. */
static size_t scan_row(const float *row, size_t n, const uint64_t *key,
                       const uint8_t *skip, size_t k, cand_t *st)
{
    size_t ns = 0;
    for (size_t x = 0; x < n;) {
        /* Once k are held, most chunks have nothing at or above the k-th
         * score: one branch-free test per chunk skips them. */
        if (ns == k && x + SCAN_CHUNK <= n) {
            float th = st[k - 1].s;
            int any = 0;
            for (size_t z = 0; z < SCAN_CHUNK; z++)
                any |= row[x + z] >= th;
            if (!any) {
                x += SCAN_CHUNK;
                continue;
            }
        }
        size_t end = x + SCAN_CHUNK < n ? x + SCAN_CHUNK : n;
        for (; x < end; x++) {
            if ((ns == k && row[x] < st[k - 1].s) ||
                (skip != NULL && skip[x]))
                continue;
            cand_t cd = {row[x], (uint32_t)x, key[x]};
            cand_insert(st, &ns, k, cd);
        }
    }
    return ns;
}

/* The candidates of one query row, given its sgemm row. */
static void topk_row(const topk_ctx_t *c, size_t q, const float *row,
                     cand_t *work)
{
    size_t k = c->k;
    cand_t *st = work, *un = work + k, *best = work + 2 * k;
    size_t ns = scan_row(row, c->nr, c->rkey, NULL, k, st);
    for (size_t x = 0; x < ns; x++)
        if (c->rights != NULL)
            st[x].ent = c->rights[st[x].ent];
    const uint32_t *ni = c->name_idx != NULL ? c->name_idx + q * k : NULL;
    const float *nc = c->name_idx != NULL ? c->name_cos + q * k : NULL;
    uint32_t ent = c->lefts[q];
    query_t query = {0, ent, c->f->F[0] + (size_t)ent * c->f->width,
                     {NULL, NULL, 0}};
    union_exact(c->f, &query, st, ns, ni, nc, k, un, best,
                c->out_idx + q * k, c->out_score + q * k);
}

static void topk_blocks(void *ctx, size_t begin, size_t end, int worker)
{
    const topk_ctx_t *c = ctx;
    uint32_t w = c->f->width;
    float *A = c->A[worker], *C = c->C[worker];
    for (size_t b = begin; b < end; b++) {
        size_t q0 = b * c->block;
        size_t m = c->nl - q0 < c->block ? c->nl - q0 : c->block;
        for (size_t r = 0; r < m; r++)
            memcpy(A + r * w, c->f->F[0] + (size_t)c->lefts[q0 + r] * w,
                   (size_t)w * sizeof *A);
        /* A few rows (the service's one-entity queries) go by sgemv: sgemm
         * would first pack all of B, nr x width floats, for each call. */
        if (m < GEMV_ROWS)
            for (size_t r = 0; r < m; r++)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)c->nr, (int)w,
                            1.0f, c->B, (int)w, A + r * w, 1, 0.0f,
                            C + r * c->nr, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m,
                        (int)c->nr, (int)w, 1.0f, A, (int)w, c->B, (int)w,
                        0.0f, C, (int)c->nr);
        for (size_t r = 0; r < m; r++)
            topk_row(c, q0 + r, C + r * c->nr, c->work[worker]);
    }
}

static int topk_check(const kga_fusion_t *f, const uint32_t *lefts, size_t nl,
                      const uint32_t *rights, size_t nr, size_t k,
                      kga_err_t *err)
{
    if (k > KGA_FUSION_MAX_TOPK)
        return kga_err_set(err, KGA_EINVAL, "fusion: k = %zu (limit %u)", k,
                           KGA_FUSION_MAX_TOPK);
    if (nr > INT_MAX || f->width > INT_MAX / BLOCK_ROWS ||
        (k > 0 && nl > SIZE_MAX / sizeof(float) / k))
        return kga_err_set(err, KGA_ELIMIT, "fusion: %zu x %zu candidates",
                           nl, nr);
    for (size_t q = 0; q < nl; q++)
        if (lefts[q] >= f->n[0])
            return kga_err_set(err, KGA_EINVAL,
                               "fusion: query %zu: left id %u out of range", q,
                               lefts[q]);
    if (rights == NULL)
        return 0;
    uint8_t *mark = calloc((size_t)f->n[1] + 1, 1);
    if (mark == NULL)
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    int rc = 0;
    for (size_t x = 0; x < nr && rc == 0; x++) {
        if (rights[x] >= f->n[1] || mark[rights[x]])
            rc = kga_err_set(err, KGA_EINVAL,
                             "fusion: candidate %zu: right id %u %s", x,
                             rights[x],
                             rights[x] >= f->n[1] ? "out of range"
                                                  : "repeated");
        else
            mark[rights[x]] = 1;
    }
    free(mark);
    return rc;
}

/* The name candidates of the queries (wn > 0 only): nl x k right entities
 * and cosines, allocated here. */
int kga_fusion_name_topk(const kga_fusion_t *f, const uint32_t *lefts,
                         size_t nl, const uint32_t *rights, size_t nr,
                         size_t k, int threads, uint32_t **idx, float **cosine,
                         kga_err_t *err)
{
    *idx = malloc((nl * k + 1) * sizeof **idx);
    *cosine = malloc((nl * k + 1) * sizeof **cosine);
    if (*idx == NULL || *cosine == NULL) {
        free(*cosine);
        free(*idx);
        *idx = NULL;
        *cosine = NULL;
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory (names)");
    }
    return kga_tfidf_topk(f->names, KGA_TFIDF_LEFT, lefts, nl, rights, nr, k,
                          threads, *idx, *cosine, err);
}

/* kga_fusion_topk() on checked input, the name candidates given (NULL
 * when wn is 0). */
int kga_fusion_topk_run(const kga_fusion_t *f, const uint32_t *lefts,
                        size_t nl, const uint32_t *rights, size_t nr, size_t k,
                        const uint32_t *name_idx, const float *name_cos,
                        kga_pool_t *pool, uint32_t *out_idx, float *out_score,
                        kga_err_t *err)
{
    int rc = 0;
    int nw = kga_pool_threads(pool);
    size_t w = f->width;
    size_t block = BLOCK_BYTES / (nr * sizeof(float));
    block = block < 16 ? 16 : block > BLOCK_ROWS ? BLOCK_ROWS : block;
    if (block > nl)
        block = nl;
    topk_ctx_t c = {.f = f, .lefts = lefts, .nl = nl, .rights = rights,
                    .nr = nr, .name_idx = name_idx, .name_cos = name_cos,
                    .k = k, .block = block, .out_idx = out_idx,
                    .out_score = out_score};
    float *B = NULL;
    uint64_t *rkey = NULL;
    c.A = calloc((size_t)nw, sizeof *c.A);
    c.C = calloc((size_t)nw, sizeof *c.C);
    c.work = calloc((size_t)nw, sizeof *c.work);
    if (!c.A || !c.C || !c.work)
        goto nomem;
    for (int t = 0; t < nw; t++) {
        c.A[t] = malloc(block * w * sizeof(float));
        c.C[t] = malloc(block * nr * sizeof(float));
        c.work[t] = malloc(3 * k * sizeof(cand_t));
        if (!c.A[t] || !c.C[t] || !c.work[t])
            goto nomem;
    }
    if (rights != NULL) {
        B = malloc(nr * w * sizeof *B);
        rkey = malloc(nr * sizeof *rkey);
        if (!B || !rkey)
            goto nomem;
        for (size_t x = 0; x < nr; x++) {
            memcpy(B + x * w, f->F[1] + (size_t)rights[x] * w, w * sizeof *B);
            rkey[x] = f->key[1][rights[x]];
        }
    }
    c.B = rights != NULL ? B : f->F[1];
    c.rkey = rights != NULL ? rkey : f->key[1];

    /* One BLAS thread per pool worker: the blocks are the parallel unit
     * (measured: as fast as OpenBLAS threads, and the candidate selection
     * of one block overlaps the product of the next). */
    int blas = kga_blas_serial_enter();
    kga_pool_run(pool, (nl + block - 1) / block, 1, topk_blocks, &c);
    kga_blas_serial_leave(blas);
    goto out;
nomem:
    rc = kga_err_set(err, KGA_ENOMEM, "fusion: out of memory (candidates)");
out:
    for (int t = 0; t < nw; t++) {
        if (c.work != NULL)
            free(c.work[t]);
        if (c.C != NULL)
            free(c.C[t]);
        if (c.A != NULL)
            free(c.A[t]);
    }
    free(c.work);
    free(c.C);
    free(c.A);
    free(rkey);
    free(B);
    return rc;
}

int kga_fusion_topk(const kga_fusion_t *f, const uint32_t *lefts, size_t nl,
                    const uint32_t *rights, size_t nr, size_t k,
                    kga_pool_t *pool, uint32_t *out_idx, float *out_score,
                    kga_err_t *err)
{
    int rc;
    if (rights == NULL)
        nr = f->n[1];
    if ((rc = topk_check(f, lefts, nl, rights, nr, k, err)) != 0)
        return rc;
    if (nl == 0 || k == 0)
        return 0;
    if (nr == 0) {
        for (size_t x = 0; x < nl * k; x++) {
            out_idx[x] = NONE;
            out_score[x] = -INFINITY;
        }
        return 0;
    }
    uint32_t *name_idx = NULL;
    float *name_cos = NULL;
    if (f->wn > 0.0f)
        rc = kga_fusion_name_topk(f, lefts, nl, rights, nr, k,
                                  kga_pool_threads(pool), &name_idx, &name_cos,
                                  err);
    if (rc == 0)
        rc = kga_fusion_topk_run(f, lefts, nl, rights, nr, k, name_idx,
                                 name_cos, pool, out_idx, out_score, err);
    free(name_cos);
    free(name_idx);
    return rc;
}

/* One query against every entity of the other side but those marked in
 * skip (NULL: none), on the calling thread: one sgemv, the scan, the name
 * candidates, the union; as kga_fusion_topk() finds them with the others
 * as `rights`. */
static int topk_query(const kga_fusion_t *f, const query_t *query,
                      const uint8_t *skip, size_t k, uint32_t *out_idx,
                      float *out_score, kga_err_t *err)
{
    int q = query->side, o = !q;
    int rc = 0;
    size_t no = f->n[o], w = f->width;
    float *row = malloc((no + 1) * sizeof *row);
    cand_t *work = malloc(3 * k * sizeof *work);
    uint32_t *ni = NULL;
    float *nc = NULL;
    if (f->wn > 0.0f) {
        ni = malloc(k * sizeof *ni);
        nc = malloc(k * sizeof *nc);
    }
    if (!row || !work || (f->wn > 0.0f && (!ni || !nc))) {
        rc = kga_err_set(err, KGA_ENOMEM, "fusion: out of memory (candidates)");
        goto out;
    }
    if (ni != NULL) {
        kga_sparse_vec_t name = query->ent != NONE
                                    ? kga_tfidf_row(f->names, q, query->ent)
                                    : query->name;
        rc = kga_tfidf_topk_vec(f->names, name, o, skip, k, ni, nc, err);
    }
    if (rc != 0)
        goto out;
    if (no > 0 && no <= INT_MAX) {
        int blas = kga_blas_serial_enter();
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)no, (int)w, 1.0f,
                    f->F[o], (int)w, query->row, 1, 0.0f, row, 1);
        kga_blas_serial_leave(blas);
        for (size_t x = 0; skip != NULL && x < no; x++)
            if (skip[x])
                row[x] = -INFINITY;
    }
    size_t ns =
        no <= INT_MAX ? scan_row(row, no, f->key[o], skip, k, work) : 0;
    union_exact(f, query, work, ns, ni, nc, k, work + k, work + 2 * k,
                out_idx, out_score);
out:
    free(nc);
    free(ni);
    free(work);
    free(row);
    return rc;
}

int kga_fusion_topk_one(const kga_fusion_t *f, int side, uint32_t ent,
                        const uint8_t *skip, size_t k, uint32_t *out_idx,
                        float *out_score, kga_err_t *err)
{
    int q = side != 0;
    if (k > KGA_FUSION_MAX_TOPK)
        return kga_err_set(err, KGA_EINVAL, "fusion: k = %zu (limit %u)", k,
                           KGA_FUSION_MAX_TOPK);
    if (ent >= f->n[q])
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: query: %s id %u out of range",
                           q ? "right" : "left", ent);
    if (k == 0)
        return 0;
    query_t query = {q, ent, f->F[q] + (size_t)ent * f->width,
                     {NULL, NULL, 0}};
    return topk_query(f, &query, skip, k, out_idx, out_score, err);
}

int kga_fusion_topk_row(const kga_fusion_t *f, int side, const float *row,
                        kga_sparse_vec_t name, const uint8_t *skip, size_t k,
                        uint32_t *out_idx, float *out_score, kga_err_t *err)
{
    if (k > KGA_FUSION_MAX_TOPK)
        return kga_err_set(err, KGA_EINVAL, "fusion: k = %zu (limit %u)", k,
                           KGA_FUSION_MAX_TOPK);
    if (k == 0)
        return 0;
    query_t query = {side != 0, NONE, row, name};
    return topk_query(f, &query, skip, k, out_idx, out_score, err);
}
