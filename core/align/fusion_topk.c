/* Candidate search of the fused aligner: the k best right entities of
 * each query by the fused score. Exact: one matrix product of the feature
 * blocks (sgemm, split over the pool) unioned with the name candidates and
 * rescored exactly. Approximate: the nearest-neighbour index over the
 * projected features (features/ann.h) and the blocked name search propose,
 * the same union rescores exactly. Ties go to the lower external-id hash,
 * and each query is scored on its own, so the result does not depend on
 * the threads. */
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

/* Fewer queries than this are scored from the int8 features directly:
 * the float copy of every candidate's features that sgemm needs would
 * cost more than the products (the service's one-entity queries). */
#define GEMV_ROWS 4u

/* Scores tested at once when scanning a row of the product. */
#define SCAN_CHUNK 32

/* Queries the approximate search proposes for at a time: bounds the
 * memory of the proposals, and paces the progress line. */
#define APPROX_CHUNK 16384u

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
    const float *B;         /* nr x width, the rights' features as floats,
                               NULL: score the int8 rows */
    const uint64_t *rkey;   /* nr: the rights' keys */
    const uint32_t *name_idx; /* nl x k, or NULL when wn == 0 */
    const float *name_cos;
    size_t k;
    size_t block;
    float **A, **C;         /* per worker: block x width, block x nr */
    cand_t **work;          /* per worker: 3 k */
    kga_progress_ticker_t *ticker;
    uint32_t *out_idx;
    float *out_score;
} topk_ctx_t;

/* A query: an entity of `side`, stored (ent) or from outside the stores
 * (ent NONE, its rows given). */
typedef struct {
    int side;
    uint32_t ent;
    const kga_qmatrix_t *m; /* its feature row: row `row` of m */
    uint32_t row;
    const float *coarse;    /* its projected row (KGA_FUSION_COARSE_DIM) */
    kga_sparse_vec_t name;  /* its TF-IDF row, when ent is NONE */
} query_t;

static query_t stored_query(const kga_fusion_t *f, int side, uint32_t ent)
{
    query_t q = {side, ent, &f->F[side], ent,
                 f->P[side] + (size_t)ent * KGA_FUSION_COARSE_DIM,
                 {NULL, NULL, 0}};
    return q;
}

/* F . F of the query and entity j of the other side, the left row first
 * as in every score. */
static float query_dot(const kga_fusion_t *f, const query_t *q, uint32_t j)
{
    return q->side == 0 ? kga_qmatrix_dot(q->m, q->row, &f->F[1], j)
                        : kga_qmatrix_dot(&f->F[0], j, q->m, q->row);
}

/* S of the query and entity j of the other side, given the cosine. */
static float query_score(const kga_fusion_t *f, const query_t *q, uint32_t j,
                         float cosine)
{
    return q->side == 0 ? rows_score(f, q->m, q->row, &f->F[1], j, cosine)
                        : rows_score(f, &f->F[0], j, q->m, q->row, cosine);
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
    query_t query = stored_query(c->f, 0, c->lefts[q]);
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
        if (c->B == NULL) {
            for (size_t r = 0; r < m; r++)
                for (size_t x = 0; x < c->nr; x++)
                    C[r * c->nr + x] = kga_qmatrix_dot(
                        &c->f->F[0], c->lefts[q0 + r], &c->f->F[1],
                        c->rights != NULL ? c->rights[x] : (uint32_t)x);
        } else {
            for (size_t r = 0; r < m; r++)
                kga_qmatrix_row(&c->f->F[0], c->lefts[q0 + r], A + r * w);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m,
                        (int)c->nr, (int)w, 1.0f, A, (int)w, c->B, (int)w,
                        0.0f, C, (int)c->nr);
        }
        for (size_t r = 0; r < m; r++)
            topk_row(c, q0 + r, C + r * c->nr, c->work[worker]);
        kga_progress_tick(c->ticker, m, worker);
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
                         const uint8_t *allowed, size_t k, int threads,
                         uint32_t **idx, float **cosine, kga_err_t *err)
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
    if (f->approx)
        return kga_tfidf_topk_blocked(f->names, KGA_TFIDF_LEFT, lefts, nl,
                                      allowed, f->name_budget, 2 * k, k,
                                      threads, *idx, *cosine, err);
    return kga_tfidf_topk(f->names, KGA_TFIDF_LEFT, lefts, nl, rights, nr, k,
                          threads, *idx, *cosine, err);
}

/* ---- the approximate search --------------------------------------------- */

/* Proposals a query gets from the index for k candidates. */
static size_t coarse_k(const kga_fusion_t *f, size_t k)
{
    size_t kc = k * f->coarse;
    return kc > KGA_ANN_MAX_K ? KGA_ANN_MAX_K : kc < k ? k : kc;
}

typedef struct {
    const kga_fusion_t *f;
    const uint32_t *lefts;   /* of the chunk */
    const uint32_t *coarse;  /* chunk x kc proposals */
    size_t kc, k;
    const uint32_t *name_idx; /* chunk x k, or NULL */
    const float *name_cos;
    cand_t **work;           /* per worker: 2 kc + k */
    uint32_t *out_idx;       /* chunk x k */
    float *out_score;
} rescore_ctx_t;

/* The k best of n proposals st[] (entities of the other side of the
 * query) by the exact F_i . F_j, in place, best first; returns how many:
 * the list the exact search's sgemm would have given, when the proposals
 * hold it. */
static size_t dense_best(const kga_fusion_t *f, const query_t *q, cand_t *st,
                         size_t n, size_t k, cand_t *tmp)
{
    size_t nb = 0;
    for (size_t x = 0; x < n; x++) {
        cand_t c = st[x];
        c.s = query_dot(f, q, c.ent);
        cand_insert(tmp, &nb, k, c);
    }
    memcpy(st, tmp, nb * sizeof *st);
    return nb;
}

static void rescore_chunk(void *vctx, size_t b, size_t e, int worker)
{
    const rescore_ctx_t *c = vctx;
    const kga_fusion_t *f = c->f;
    cand_t *st = c->work[worker];
    for (size_t q = b; q < e; q++) {
        size_t ns = 0;
        for (size_t x = 0; x < c->kc; x++) {
            uint32_t j = c->coarse[q * c->kc + x];
            if (j == NONE)
                break;
            st[ns++] = (cand_t){0.0f, j, f->key[1][j]};
        }
        query_t query = stored_query(f, 0, c->lefts[q]);
        ns = dense_best(f, &query, st, ns, c->k, st + c->kc);
        const uint32_t *ni = c->name_idx != NULL ? c->name_idx + q * c->k
                                                 : NULL;
        const float *nc = c->name_idx != NULL ? c->name_cos + q * c->k : NULL;
        union_exact(f, &query, st, ns, ni, nc, c->k, st + c->kc,
                    st + c->kc + c->k, c->out_idx + q * c->k,
                    c->out_score + q * c->k);
    }
}

/* The approximate search of kga_fusion_topk_run(): proposals by ann[1]
 * (filtered by allowed), union with the name candidates, exact scores;
 * chunk by chunk. name_idx NULL with wn > 0: searched here, by chunk. */
static int approx_run(const kga_fusion_t *f, const uint32_t *lefts,
                      size_t nl, const uint8_t *allowed, size_t k,
                      const uint32_t *name_idx, const float *name_cos,
                      kga_pool_t *pool, kga_progress_ticker_t *ticker,
                      uint32_t *out_idx, float *out_score, kga_err_t *err)
{
    int nw = kga_pool_threads(pool), rc = 0;
    size_t kc = coarse_k(f, k);
    size_t chunk = nl < APPROX_CHUNK ? nl : APPROX_CHUNK;
    uint32_t *coarse = malloc((chunk * kc + 1) * sizeof *coarse);
    float *cscore = malloc((chunk * kc + 1) * sizeof *cscore);
    cand_t **work = calloc((size_t)nw, sizeof *work);
    int own_names = f->wn > 0.0f && name_idx == NULL;
    uint32_t *ni = NULL;
    float *nc = NULL;
    if (own_names) {
        ni = malloc((chunk * k + 1) * sizeof *ni);
        nc = malloc((chunk * k + 1) * sizeof *nc);
    }
    if (!coarse || !cscore || !work || (own_names && (!ni || !nc))) {
        rc = kga_err_set(err, KGA_ENOMEM, "fusion: out of memory "
                                          "(candidates)");
        goto out;
    }
    for (int t = 0; t < nw; t++)
        if ((work[t] = malloc((2 * kc + k) * sizeof **work)) == NULL) {
            rc = kga_err_set(err, KGA_ENOMEM, "fusion: out of memory "
                                              "(candidates)");
            goto out;
        }
    for (size_t q0 = 0; q0 < nl && rc == 0; q0 += chunk) {
        size_t m = nl - q0 < chunk ? nl - q0 : chunk;
        rc = kga_ann_search(f->ann[1], f->P[0], lefts + q0, m, allowed, kc,
                            f->probes, pool, NULL, coarse, cscore, err);
        if (rc == 0 && own_names)
            rc = kga_tfidf_topk_blocked(f->names, KGA_TFIDF_LEFT, lefts + q0,
                                        m, allowed, f->name_budget, 2 * k, k,
                                        nw, ni, nc, err);
        if (rc != 0)
            break;
        rescore_ctx_t c = {
            .f = f, .lefts = lefts + q0, .coarse = coarse, .kc = kc, .k = k,
            .name_idx = own_names ? ni : name_idx != NULL ? name_idx + q0 * k
                                                          : NULL,
            .name_cos = own_names ? nc : name_idx != NULL ? name_cos + q0 * k
                                                          : NULL,
            .work = work, .out_idx = out_idx + q0 * k,
            .out_score = out_score + q0 * k};
        kga_pool_run(pool, m, 64, rescore_chunk, &c);
        kga_progress_tick(ticker, m, 0);
    }
out:
    for (int t = 0; work != NULL && t < nw; t++)
        free(work[t]);
    free(work);
    free(nc);
    free(ni);
    free(cscore);
    free(coarse);
    return rc;
}

/* kga_fusion_topk() on checked input, the name candidates given (NULL
 * when wn is 0). */
int kga_fusion_topk_run(const kga_fusion_t *f, const uint32_t *lefts,
                        size_t nl, const uint32_t *rights, size_t nr,
                        const uint8_t *allowed, size_t k,
                        const uint32_t *name_idx, const float *name_cos,
                        kga_pool_t *pool, kga_progress_ticker_t *ticker,
                        uint32_t *out_idx, float *out_score, kga_err_t *err)
{
    if (f->approx && f->ann[1] != NULL)
        return approx_run(f, lefts, nl, allowed, k, name_idx, name_cos, pool,
                          ticker, out_idx, out_score, err);
    int rc = 0;
    int nw = kga_pool_threads(pool);
    size_t w = f->width;
    size_t block = BLOCK_BYTES / (nr * sizeof(float));
    block = block < 16 ? 16 : block > BLOCK_ROWS ? BLOCK_ROWS : block;
    if (block > nl)
        block = nl;
    topk_ctx_t c = {.f = f, .lefts = lefts, .nl = nl, .rights = rights,
                    .nr = nr, .name_idx = name_idx, .name_cos = name_cos,
                    .k = k, .block = block, .ticker = ticker,
                    .out_idx = out_idx, .out_score = out_score};
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
    if (nl >= GEMV_ROWS) {
        if ((B = malloc(nr * w * sizeof *B)) == NULL)
            goto nomem;
        for (size_t x = 0; x < nr; x++)
            kga_qmatrix_row(&f->F[1],
                            rights != NULL ? rights[x] : (uint32_t)x,
                            B + x * w);
    }
    if (rights != NULL) {
        if ((rkey = malloc(nr * sizeof *rkey)) == NULL)
            goto nomem;
        for (size_t x = 0; x < nr; x++)
            rkey[x] = f->key[1][rights[x]];
    }
    c.B = B;
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
                    kga_pool_t *pool, kga_progress_ticker_t *ticker,
                    uint32_t *out_idx, float *out_score, kga_err_t *err)
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
    if (f->approx && f->ann[1] != NULL) {
        uint8_t *allowed = NULL;
        if (rights != NULL) {
            if ((allowed = calloc((size_t)f->n[1] + 1, 1)) == NULL)
                return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
            for (size_t x = 0; x < nr; x++)
                allowed[rights[x]] = 1;
        }
        rc = approx_run(f, lefts, nl, allowed, k, NULL, NULL, pool, ticker,
                        out_idx, out_score, err);
        free(allowed);
        return rc;
    }
    uint32_t *name_idx = NULL;
    float *name_cos = NULL;
    if (f->wn > 0.0f)
        rc = kga_fusion_name_topk(f, lefts, nl, rights, nr, NULL, k,
                                  kga_pool_threads(pool), &name_idx, &name_cos,
                                  err);
    if (rc == 0)
        rc = kga_fusion_topk_run(f, lefts, nl, rights, nr, NULL, k, name_idx,
                                 name_cos, pool, ticker, out_idx, out_score,
                                 err);
    free(name_cos);
    free(name_idx);
    return rc;
}

/* One query's proposals by the approximate search: the index of the other
 * side (ann[o]) and the blocked name search, both among the entities not
 * in skip; the k best of the union by exact score. */
static int approx_query(const kga_fusion_t *f, const query_t *query,
                        kga_sparse_vec_t name, const uint8_t *skip, size_t k,
                        uint32_t *out_idx, float *out_score, kga_err_t *err)
{
    int q = query->side, o = !q, rc;
    size_t kc = coarse_k(f, k), no = f->n[o];
    uint32_t *coarse = malloc(kc * sizeof *coarse);
    float *cscore = malloc(kc * sizeof *cscore);
    cand_t *st = malloc((2 * kc + k) * sizeof *st);
    uint8_t *allowed = skip != NULL ? malloc(no + 1) : NULL;
    uint32_t *ni = NULL;
    float *nc = NULL;
    if (f->wn > 0.0f) {
        ni = malloc(k * sizeof *ni);
        nc = malloc(k * sizeof *nc);
    }
    if (!coarse || !cscore || !st || (skip != NULL && !allowed) ||
        (f->wn > 0.0f && (!ni || !nc))) {
        rc = kga_err_set(err, KGA_ENOMEM, "fusion: out of memory (candidates)");
        goto out;
    }
    /* The index and the blocked search take the entities allowed. */
    for (size_t x = 0; allowed != NULL && x < no; x++)
        allowed[x] = skip[x] == 0;
    rc = kga_ann_search(f->ann[o], query->coarse, NULL, 1, allowed, kc,
                        f->probes, NULL, NULL, coarse, cscore, err);
    if (rc == 0 && ni != NULL)
        rc = kga_tfidf_topk_vec_blocked(f->names, name, o, allowed,
                                        f->name_budget, 2 * k, k, ni, nc,
                                        err);
    if (rc != 0)
        goto out;
    size_t ns = 0;
    for (; ns < kc && coarse[ns] != NONE; ns++)
        st[ns] = (cand_t){0.0f, coarse[ns], f->key[o][coarse[ns]]};
    ns = dense_best(f, query, st, ns, k, st + kc);
    union_exact(f, query, st, ns, ni, nc, k, st + kc, st + kc + k, out_idx,
                out_score);
out:
    free(nc);
    free(ni);
    free(allowed);
    free(st);
    free(cscore);
    free(coarse);
    return rc;
}

/* One query against every entity of the other side but those marked in
 * skip (NULL: none), on the calling thread: the approximate search when
 * the other side's index is built, else every product from the int8 rows,
 * the scan, the name candidates, the union; as kga_fusion_topk() finds
 * them with the others as `rights`. */
static int topk_query(const kga_fusion_t *f, const query_t *query,
                      const uint8_t *skip, size_t k, uint32_t *out_idx,
                      float *out_score, kga_err_t *err)
{
    int q = query->side, o = !q;
    kga_sparse_vec_t name = query->ent != NONE
                                ? kga_tfidf_row(f->names, q, query->ent)
                                : query->name;
    if (f->approx && f->ann[o] != NULL)
        return approx_query(f, query, name, skip, k, out_idx, out_score,
                            err);
    int rc = 0;
    size_t no = f->n[o];
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
    if (ni != NULL &&
        (rc = kga_tfidf_topk_vec(f->names, name, o, skip, k, ni, nc, err)) !=
            0)
        goto out;
    for (size_t x = 0; x < no; x++)
        row[x] = skip != NULL && skip[x] ? -INFINITY
                                         : query_dot(f, query, (uint32_t)x);
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
    query_t query = stored_query(f, q, ent);
    return topk_query(f, &query, skip, k, out_idx, out_score, err);
}

int kga_fusion_topk_row(const kga_fusion_t *f, int side,
                        const kga_qmatrix_t *m, uint32_t r,
                        kga_sparse_vec_t name, const uint8_t *skip, size_t k,
                        uint32_t *out_idx, float *out_score, kga_err_t *err)
{
    if (k > KGA_FUSION_MAX_TOPK)
        return kga_err_set(err, KGA_EINVAL, "fusion: k = %zu (limit %u)", k,
                           KGA_FUSION_MAX_TOPK);
    const kga_qmatrix_t *own = &f->F[side != 0];
    if (r >= m->rows || m->blocks != own->blocks || m->dim != own->dim)
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: query row %u of a %u x %u x %u matrix, "
                           "not of the features' shape (x %u x %u)",
                           r, m->rows, m->blocks, m->dim, own->blocks,
                           own->dim);
    if (k == 0)
        return 0;
    float coarse[KGA_FUSION_COARSE_DIM];
    kga_fusion_project_row(f, m, r, coarse);
    query_t query = {side != 0, NONE, m, r, coarse, name};
    return topk_query(f, &query, skip, k, out_idx, out_score, err);
}
