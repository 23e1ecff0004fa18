/* The fused aligner (see fusion.h): the scorer, its candidate search, and
 * the training rounds that decide its state. */
#include "align/fusion.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/vec.h"
#include "stats/metrics.h"
#include "align/sinkhorn.h"

/* Rows of one sgemm block, at most; fewer when a block of scores would
 * exceed BLOCK_BYTES (one such block per worker). */
#define BLOCK_ROWS 512u
#define BLOCK_BYTES ((size_t)64 << 20)

/* Blocks of fewer rows use one sgemv per row instead of sgemm. */
#define GEMV_ROWS 4u

/* Scores tested at once when scanning a row of the product. */
#define SCAN_CHUNK 32

#define NONE UINT32_MAX

struct kga_fusion {
    uint32_t n[2];
    uint32_t width;
    float *F[2];           /* n[side] x width */
    kga_tfidf_t *names;
    const uint64_t *key[2]; /* hash of each external id (owned by names) */
    float wn;
    double tau;
    kga_pair_t *seeds;
    size_t n_seeds;
    double *lu, *lv;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- parameters --------------------------------------------------------- */

void kga_fusion_params_init(kga_fusion_params_t *p)
{
    memset(p, 0, sizeof *p);
    kga_structure_params_init(&p->structure);
    kga_name_feature_params_init(&p->names);
    p->name_weight = 1.0f;
    p->name_threshold = 0.2;
    p->topk = 50;
    p->tau = 0.02;
    p->sinkhorn_iters = 20;
    p->rounds = 3;
    p->min_gain = 0.003;
    p->threads = 0;
}

int kga_fusion_params_check(const kga_fusion_params_t *p, kga_err_t *err)
{
    int rc;
    if ((rc = kga_structure_params_check(&p->structure, err)) != 0 ||
        (rc = kga_name_feature_params_check(&p->names, err)) != 0)
        return rc;
    if (!(p->name_weight >= 0.0f && isfinite(p->name_weight)))
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: name_weight must be >= 0, not %g",
                           (double)p->name_weight);
    if (!isfinite(p->name_threshold))
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: name_threshold must be finite");
    if (p->topk < 1 || p->topk > KGA_FUSION_MAX_TOPK)
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: topk must be in [1, %u], not %u",
                           KGA_FUSION_MAX_TOPK, p->topk);
    if (!(p->tau > 0.0 && isfinite(p->tau)))
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: tau must be positive, not %g", p->tau);
    if (p->sinkhorn_iters > 10000)
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: sinkhorn_iters must be at most 10000");
    if (p->rounds >= KGA_FUSION_MAX_ROUNDS)
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: rounds must be below %u, not %u",
                           KGA_FUSION_MAX_ROUNDS, p->rounds);
    if (!isfinite(p->min_gain))
        return kga_err_set(err, KGA_EINVAL, "fusion: min_gain must be finite");
    return 0;
}

/* ---- the scorer --------------------------------------------------------- */

void kga_fusion_free(kga_fusion_t *f)
{
    if (f == NULL)
        return;
    free(f->lv);
    free(f->lu);
    free(f->seeds);
    kga_tfidf_free(f->names);
    free(f->F[1]);
    free(f->F[0]);
    free(f);
}

/* Allocates the scorer of two stores: feature matrices, scalings, and the
 * name model (built here). */
static int fusion_alloc(const kga_store_t *left, const kga_store_t *right,
                        const kga_fusion_params_t *p, kga_fusion_t **out,
                        kga_err_t *err)
{
    int rc;
    *out = NULL;
    kga_fusion_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    f->n[0] = kga_store_entity_count(left);
    f->n[1] = kga_store_entity_count(right);
    f->width = kga_structure_width(&p->structure);
    f->tau = p->tau;
    for (int s = 0; s < 2; s++) {
        if ((size_t)f->n[s] > SIZE_MAX / sizeof(float) / f->width) {
            kga_fusion_free(f);
            return kga_err_set(err, KGA_ELIMIT, "fusion: features too large");
        }
        f->F[s] = malloc(((size_t)f->n[s] * f->width + 1) * sizeof(float));
    }
    f->lu = malloc(((size_t)f->n[0] + 1) * sizeof *f->lu);
    f->lv = malloc(((size_t)f->n[1] + 1) * sizeof *f->lv);
    if (!f->F[0] || !f->F[1] || !f->lu || !f->lv) {
        kga_fusion_free(f);
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    }
    if ((rc = kga_tfidf_build(left, right, &p->names, &f->names, err)) != 0) {
        kga_fusion_free(f);
        return rc;
    }
    f->key[0] = kga_tfidf_keys(f->names, KGA_TFIDF_LEFT);
    f->key[1] = kga_tfidf_keys(f->names, KGA_TFIDF_RIGHT);
    *out = f;
    return 0;
}

void kga_fusion_get_state(const kga_fusion_t *f, kga_fusion_state_t *out)
{
    out->name_weight = f->wn;
    out->tau = f->tau;
    out->seeds = f->seeds;
    out->n_seeds = f->n_seeds;
    out->lu = f->lu;
    out->lv = f->lv;
}

uint32_t kga_fusion_entities(const kga_fusion_t *f, int side)
{
    return f->n[side != 0];
}

const float *kga_fusion_features(const kga_fusion_t *f, int side,
                                 uint32_t *width)
{
    if (width != NULL)
        *width = f->width;
    return f->F[side != 0];
}

const kga_tfidf_t *kga_fusion_names(const kga_fusion_t *f)
{
    return f->names;
}

/* S given the name cosine: the one expression behind every score. */
static inline float pair_score(const kga_fusion_t *f, uint32_t i, uint32_t j,
                               float cosine)
{
    float s = kga_vdot(f->F[0] + (size_t)i * f->width,
                       f->F[1] + (size_t)j * f->width, f->width);
    return f->wn > 0.0f ? s + f->wn * cosine : s;
}

float kga_fusion_score(const kga_fusion_t *f, uint32_t left, uint32_t right)
{
    float c = f->wn > 0.0f ? kga_tfidf_cosine(f->names, left, right) : 0.0f;
    return pair_score(f, left, right, c);
}

double kga_fusion_log_p(const kga_fusion_t *f, uint32_t left, uint32_t right)
{
    return kga_sinkhorn_log_p(kga_fusion_score(f, left, right), f->tau,
                              f->lu[left], f->lv[right]);
}

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

/* The k best of the union of st[0 .. ns) (entities of the other side,
 * ranked by the feature product) and the name candidates ni / nc (NULL when
 * wn is 0), each scored exactly, into oi / os; un and best hold k each.
 * ent is an entity of side `side`. */
static void union_exact(const kga_fusion_t *f, int side, uint32_t ent,
                        const cand_t *st, size_t ns, const uint32_t *ni,
                        const float *nc, size_t k, cand_t *un, cand_t *best,
                        uint32_t *oi, float *os)
{
    size_t nu = 0, nb = 0;
    const uint64_t *okey = f->key[!side];
    for (size_t x = 0; x < ns; x++) {
        uint32_t j = st[x].ent;
        uint32_t l = side == 0 ? ent : j, r = side == 0 ? j : ent;
        float cosine = 0.0f;
        int named = 0;
        for (size_t y = 0; ni != NULL && y < k && ni[y] != NONE; y++)
            if (ni[y] == j) {
                cosine = nc[y];
                named = 1;
                break;
            }
        if (!named && f->wn > 0.0f)
            cosine = kga_tfidf_cosine(f->names, l, r);
        un[nu++] = (cand_t){pair_score(f, l, r, cosine), j, st[x].key};
    }
    for (size_t y = 0; ni != NULL && y < k && ni[y] != NONE; y++) {
        uint32_t j = ni[y];
        int seen = 0;
        for (size_t x = 0; x < ns && !seen; x++)
            seen = un[x].ent == j;
        if (!seen)
            cand_insert(best, &nb, k,
                        (cand_t){side == 0 ? pair_score(f, ent, j, nc[y])
                                           : pair_score(f, j, ent, nc[y]),
                                 j, okey[j]});
    }
    for (size_t x = 0; x < nu; x++)
        cand_insert(best, &nb, k, un[x]);
    for (size_t x = 0; x < k; x++) {
        oi[x] = x < nb ? best[x].ent : NONE;
        os[x] = x < nb ? best[x].s : -INFINITY;
    }
}

/* The k best of row[0 .. n) (ties: the lower key[x]) into st, best first;
 * returns how many (min(k, n)). ent of each is its position x. */
static size_t scan_row(const float *row, size_t n, const uint64_t *key,
                       size_t k, cand_t *st)
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
            if (ns == k && row[x] < st[k - 1].s)
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
    size_t ns = scan_row(row, c->nr, c->rkey, k, st);
    for (size_t x = 0; x < ns; x++)
        if (c->rights != NULL)
            st[x].ent = c->rights[st[x].ent];
    const uint32_t *ni = c->name_idx != NULL ? c->name_idx + q * k : NULL;
    const float *nc = c->name_idx != NULL ? c->name_cos + q * k : NULL;
    union_exact(c->f, 0, c->lefts[q], st, ns, ni, nc, k, un, best,
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
static int name_topk(const kga_fusion_t *f, const uint32_t *lefts, size_t nl,
                     const uint32_t *rights, size_t nr, size_t k, int threads,
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
    return kga_tfidf_topk(f->names, KGA_TFIDF_LEFT, lefts, nl, rights, nr, k,
                          threads, *idx, *cosine, err);
}

/* kga_fusion_topk() on checked input, the name candidates given (NULL
 * when wn is 0). */
static int topk_run(const kga_fusion_t *f, const uint32_t *lefts, size_t nl,
                    const uint32_t *rights, size_t nr, size_t k,
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
        rc = name_topk(f, lefts, nl, rights, nr, k, kga_pool_threads(pool),
                       &name_idx, &name_cos, err);
    if (rc == 0)
        rc = topk_run(f, lefts, nl, rights, nr, k, name_idx, name_cos, pool,
                      out_idx, out_score, err);
    free(name_cos);
    free(name_idx);
    return rc;
}

int kga_fusion_topk_one(const kga_fusion_t *f, int side, uint32_t ent,
                        size_t k, uint32_t *out_idx, float *out_score,
                        kga_err_t *err)
{
    int q = side != 0, o = !q;
    if (q == 0)
        return kga_fusion_topk(f, &ent, 1, NULL, 0, k, NULL, out_idx,
                               out_score, err);
    if (k > KGA_FUSION_MAX_TOPK)
        return kga_err_set(err, KGA_EINVAL, "fusion: k = %zu (limit %u)", k,
                           KGA_FUSION_MAX_TOPK);
    if (ent >= f->n[q])
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: query: right id %u out of range", ent);
    if (k == 0)
        return 0;
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
    if (ni != NULL && (rc = kga_tfidf_topk(f->names, KGA_TFIDF_RIGHT, &ent, 1,
                                           NULL, 0, k, 1, ni, nc, err)) != 0)
        goto out;
    if (no > 0 && no <= INT_MAX) {
        int blas = kga_blas_serial_enter();
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)no, (int)w, 1.0f,
                    f->F[o], (int)w, f->F[q] + (size_t)ent * w, 1, 0.0f, row,
                    1);
        kga_blas_serial_leave(blas);
    }
    size_t ns = no <= INT_MAX ? scan_row(row, no, f->key[o], k, work) : 0;
    union_exact(f, q, ent, work, ns, ni, nc, k, work + k, work + 2 * k,
                out_idx, out_score);
out:
    free(nc);
    free(ni);
    free(work);
    free(row);
    return rc;
}

/* ---- training ----------------------------------------------------------- */

/* The domain and the per-round results over it. */
typedef struct {
    uint32_t *L, *R;       /* domain entities, increasing ids */
    uint32_t nL, nR;
    uint32_t *lpos, *rpos; /* entity -> row / column, NONE outside */
    uint32_t *vrow, *vcol; /* validation links inside the domain */
    uint32_t nv;
    size_t k;
    uint32_t *cand;        /* nL x k right entities */
    float *score;          /* nL x k S */
    uint32_t *col;         /* nL x k columns (KGA_SINKHORN_EMPTY) */
    double *lu, *lv;       /* nL, nR */
    double *logp;          /* nL x k */
    uint32_t *name_idx;    /* nL x k name candidates, the same every round */
    float *name_cos;       /* (NULL when wn is 0) */
} domain_t;

static void domain_destroy(domain_t *d)
{
    free(d->name_cos);
    free(d->name_idx);
    free(d->logp);
    free(d->lv);
    free(d->lu);
    free(d->col);
    free(d->score);
    free(d->cand);
    free(d->vcol);
    free(d->vrow);
    free(d->rpos);
    free(d->lpos);
    free(d->R);
    free(d->L);
}

static int domain_init(domain_t *d, const kga_fusion_t *f,
                       const kga_pair_t *train, size_t n_train,
                       const kga_pair_t *valid, size_t n_valid, size_t k,
                       kga_err_t *err)
{
    uint32_t n0 = f->n[0], n1 = f->n[1];
    memset(d, 0, sizeof *d);
    d->k = k;
    d->lpos = malloc(((size_t)n0 + 1) * sizeof *d->lpos);
    d->rpos = malloc(((size_t)n1 + 1) * sizeof *d->rpos);
    d->L = malloc(((size_t)n0 + 1) * sizeof *d->L);
    d->R = malloc(((size_t)n1 + 1) * sizeof *d->R);
    d->vrow = malloc((n_valid + 1) * sizeof *d->vrow);
    d->vcol = malloc((n_valid + 1) * sizeof *d->vcol);
    if (!d->lpos || !d->rpos || !d->L || !d->R || !d->vrow || !d->vcol)
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    /* lpos / rpos first mark the training entities. */
    for (uint32_t i = 0; i < n0; i++)
        d->lpos[i] = 0;
    for (uint32_t j = 0; j < n1; j++)
        d->rpos[j] = 0;
    for (size_t x = 0; x < n_train; x++) {
        uint32_t l = train[x].left, r = train[x].right;
        if (l >= n0 || r >= n1)
            return kga_err_set(err, KGA_EINVAL,
                               "fusion: training link %zu: id out of range", x);
        if (d->lpos[l] || d->rpos[r])
            return kga_err_set(err, KGA_EINVAL,
                               "fusion: training link %zu: %s entity in two "
                               "links",
                               x, d->lpos[l] ? "left" : "right");
        d->lpos[l] = d->rpos[r] = 1;
    }
    for (uint32_t i = 0; i < n0; i++) {
        if (d->lpos[i]) {
            d->lpos[i] = NONE;
        } else {
            d->lpos[i] = d->nL;
            d->L[d->nL++] = i;
        }
    }
    for (uint32_t j = 0; j < n1; j++) {
        if (d->rpos[j]) {
            d->rpos[j] = NONE;
        } else {
            d->rpos[j] = d->nR;
            d->R[d->nR++] = j;
        }
    }
    for (size_t x = 0; x < n_valid; x++) {
        uint32_t l = valid[x].left, r = valid[x].right;
        if (l >= n0 || r >= n1)
            return kga_err_set(err, KGA_EINVAL,
                               "fusion: validation link %zu: id out of range",
                               x);
        if (d->lpos[l] == NONE || d->rpos[r] == NONE)
            continue;
        d->vrow[d->nv] = d->lpos[l];
        d->vcol[d->nv++] = d->rpos[r];
    }
    size_t ns = (size_t)d->nL * k + 1;
    d->cand = malloc(ns * sizeof *d->cand);
    d->score = malloc(ns * sizeof *d->score);
    d->col = malloc(ns * sizeof *d->col);
    d->logp = malloc(ns * sizeof *d->logp);
    d->lu = malloc(((size_t)d->nL + 1) * sizeof *d->lu);
    d->lv = malloc(((size_t)d->nR + 1) * sizeof *d->lv);
    if (!d->cand || !d->score || !d->col || !d->logp || !d->lu || !d->lv)
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    return 0;
}

/* Name-only Hits@1 of the validation links: rank 1 means the true match
 * has the highest cosine over R, strictly. */
static int name_hits1(const kga_fusion_t *f, const domain_t *d, int threads,
                      double *out, kga_err_t *err)
{
    *out = 0.0;
    if (d->nv == 0)
        return 0;
    uint32_t *q = malloc(d->nv * sizeof *q);
    uint32_t *idx = malloc(2 * (size_t)d->nv * sizeof *idx);
    float *cs = malloc(2 * (size_t)d->nv * sizeof *cs);
    int rc = KGA_ENOMEM;
    if (!q || !idx || !cs) {
        kga_err_set(err, rc, "fusion: out of memory");
        goto out;
    }
    for (uint32_t v = 0; v < d->nv; v++)
        q[v] = d->L[d->vrow[v]];
    rc = kga_tfidf_topk(f->names, KGA_TFIDF_LEFT, q, d->nv, d->R, d->nR, 2,
                        threads, idx, cs, err);
    if (rc != 0)
        goto out;
    uint32_t hits = 0;
    for (uint32_t v = 0; v < d->nv; v++)
        hits += idx[2 * v] == d->R[d->vcol[v]] &&
                (idx[2 * v + 1] == NONE || cs[2 * v + 1] < cs[2 * v]);
    *out = (double)hits / d->nv;
out:
    free(cs);
    free(idx);
    free(q);
    return rc;
}

/* log P of every candidate, by the formula of kga_sinkhorn_log_p. */
static void fill_log_p(domain_t *d, double tau)
{
    for (size_t s = 0; s < (size_t)d->nL * d->k; s++)
        d->logp[s] = d->col[s] == KGA_SINKHORN_EMPTY
                         ? -INFINITY
                         : kga_sinkhorn_log_p(d->score[s], tau,
                                              d->lu[s / d->k],
                                              d->lv[d->col[s]]);
}

/* Validation Hits@1 by log P over each row's candidates (ties against). */
static double valid_hits1(const domain_t *d)
{
    if (d->nv == 0)
        return 0.0;
    float others[KGA_FUSION_MAX_TOPK];
    uint32_t hits = 0;
    for (uint32_t v = 0; v < d->nv; v++) {
        size_t base = (size_t)d->vrow[v] * d->k, no = 0;
        float t = NAN;
        for (size_t s = 0; s < d->k; s++) {
            if (d->col[base + s] == KGA_SINKHORN_EMPTY)
                continue;
            if (d->col[base + s] == d->vcol[v])
                t = (float)d->logp[base + s];
            else
                others[no++] = (float)d->logp[base + s];
        }
        hits += kga_rank_with_ties(t, others, no) == 1;
    }
    return (double)hits / d->nv;
}

/* Candidate slot a beats slot b of the same column: higher log P, then the
 * lower hash of the left external id. */
static int column_better(const kga_fusion_t *f, const domain_t *d, size_t a,
                         size_t b)
{
    if (d->logp[a] != d->logp[b])
        return d->logp[a] > d->logp[b];
    uint32_t ia = d->L[a / d->k], ib = d->L[b / d->k];
    if (f->key[0][ia] != f->key[0][ib])
        return f->key[0][ia] < f->key[0][ib];
    return ia < ib;
}

/* Slot a beats slot b of the same row: higher log P, then the lower hash
 * of the right external id. */
static int row_better(const kga_fusion_t *f, const domain_t *d, size_t a,
                      size_t b)
{
    if (d->logp[a] != d->logp[b])
        return d->logp[a] > d->logp[b];
    uint32_t ja = d->cand[a], jb = d->cand[b];
    if (f->key[1][ja] != f->key[1][jb])
        return f->key[1][ja] < f->key[1][jb];
    return ja < jb;
}

/* The pairs (i, j) where j is the best candidate of row i by P and i the
 * best row of column j. Written to out; returns how many. col_best is
 * scratch of nR entries. */
static size_t mutual_argmax(const kga_fusion_t *f, const domain_t *d,
                            size_t *col_best, kga_pair_t *out)
{
    const size_t none = SIZE_MAX;
    for (uint32_t j = 0; j < d->nR; j++)
        col_best[j] = none;
    for (size_t s = 0; s < (size_t)d->nL * d->k; s++) {
        uint32_t j = d->col[s];
        if (j != KGA_SINKHORN_EMPTY &&
            (col_best[j] == none || column_better(f, d, s, col_best[j])))
            col_best[j] = s;
    }
    size_t n = 0;
    for (uint32_t i = 0; i < d->nL; i++) {
        size_t best = none;
        for (size_t s = (size_t)i * d->k; s < (size_t)(i + 1) * d->k; s++)
            if (d->col[s] != KGA_SINKHORN_EMPTY &&
                (best == none || row_better(f, d, s, best)))
                best = s;
        if (best != none && col_best[d->col[best]] == best)
            out[n++] = (kga_pair_t){d->L[i], d->cand[best]};
    }
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The lower median of the finite values of v[0 .. n), 0 when there is
 * none. tmp holds n values. */
static double median(const double *v, size_t n, double *tmp)
{
    size_t m = 0;
    for (size_t x = 0; x < n; x++)
        if (isfinite(v[x]))
            tmp[m++] = v[x];
    if (m == 0)
        return 0.0;
    qsort(tmp, m, sizeof *tmp, cmp_double);
    return tmp[(m - 1) / 2];
}

/* The state of the best round so far. */
typedef struct {
    float *F[2];       /* swapped with the scorer's as rounds improve */
    double *lu, *lv;   /* domain rows / columns */
    double *rowmax;    /* domain rows: best S, NAN without candidates */
    kga_pair_t *seeds;
    size_t n_seeds;
    double valid_hits1;
} best_t;

static void best_keep(best_t *b, kga_fusion_t *f, const domain_t *d,
                      const kga_pair_t *seeds, size_t n_seeds, double h1)
{
    for (int s = 0; s < 2; s++) {
        float *t = b->F[s];
        b->F[s] = f->F[s];
        f->F[s] = t;
    }
    memcpy(b->lu, d->lu, (size_t)d->nL * sizeof *b->lu);
    memcpy(b->lv, d->lv, (size_t)d->nR * sizeof *b->lv);
    for (uint32_t i = 0; i < d->nL; i++) /* slot 0 holds the best S */
        b->rowmax[i] = d->col[(size_t)i * d->k] == KGA_SINKHORN_EMPTY
                           ? NAN
                           : (double)d->score[(size_t)i * d->k];
    if (n_seeds > 0)
        memcpy(b->seeds, seeds, n_seeds * sizeof *seeds);
    b->n_seeds = n_seeds;
    b->valid_hits1 = h1;
}

/* Installs the best round into f and gives every entity its lu and lv
 * (the fallbacks of fusion.h). */
static int finish(kga_fusion_t *f, best_t *b, const domain_t *d,
                  const kga_pair_t *train, size_t n_train, kga_err_t *err)
{
    for (int s = 0; s < 2; s++) {
        float *t = b->F[s];
        b->F[s] = f->F[s];
        f->F[s] = t;
    }
    f->seeds = b->seeds;
    f->n_seeds = b->n_seeds;
    b->seeds = NULL;

    size_t most = d->nL > d->nR ? d->nL : d->nR;
    double *scale = malloc(((size_t)d->nL + 1) * sizeof *scale);
    double *tmp = malloc((most + 1) * sizeof *tmp);
    if (!scale || !tmp) {
        free(tmp);
        free(scale);
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    }
    for (uint32_t i = 0; i < d->nL; i++)
        scale[i] = b->lu[i] + b->rowmax[i] / f->tau;
    double c = median(scale, d->nL, tmp);
    double rowmax = median(b->rowmax, d->nL, tmp);
    double lv = median(b->lv, d->nR, tmp);

    for (uint32_t i = 0; i < f->n[0]; i++) {
        uint32_t row = d->lpos[i];
        f->lu[i] = row != NONE && isfinite(b->lu[row])
                       ? b->lu[row]
                       : -rowmax / f->tau + c;
    }
    /* A training pair scores like a typical confident match: its S takes
     * the place of the row maximum. */
    for (size_t x = 0; x < n_train; x++)
        f->lu[train[x].left] =
            -(double)kga_fusion_score(f, train[x].left, train[x].right) /
                f->tau +
            c;
    for (uint32_t j = 0; j < f->n[1]; j++) {
        uint32_t col = d->rpos[j];
        f->lv[j] = col != NONE && isfinite(b->lv[col]) ? b->lv[col] : lv;
    }
    free(tmp);
    free(scale);
    return 0;
}

static void best_destroy(best_t *b)
{
    free(b->seeds);
    free(b->rowmax);
    free(b->lv);
    free(b->lu);
    free(b->F[1]);
    free(b->F[0]);
}

static int best_init(best_t *b, const kga_fusion_t *f, const domain_t *d,
                     size_t cap)
{
    memset(b, 0, sizeof *b);
    for (int s = 0; s < 2; s++)
        b->F[s] = malloc(((size_t)f->n[s] * f->width + 1) * sizeof(float));
    b->lu = malloc(((size_t)d->nL + 1) * sizeof *b->lu);
    b->lv = malloc(((size_t)d->nR + 1) * sizeof *b->lv);
    b->rowmax = malloc(((size_t)d->nL + 1) * sizeof *b->rowmax);
    b->seeds = malloc(cap * sizeof *b->seeds);
    return b->F[0] && b->F[1] && b->lu && b->lv && b->rowmax && b->seeds
               ? 0
               : KGA_ENOMEM;
}

/* One round: features from seeds, candidates, Sinkhorn, validation. */
static int run_round(kga_fusion_t *f, const kga_structure_t *g, domain_t *d,
                     const kga_fusion_params_t *p, const kga_pair_t *seeds,
                     size_t n_seeds, kga_pool_t *pool,
                     const kga_progress_t *progress, uint32_t r,
                     kga_fusion_round_t *rd, kga_err_t *err)
{
    int rc;
    uint32_t total = p->rounds + 1;
    double t = now();
    kga_structure_stats_t ss;

    rd->seeds = (uint32_t)n_seeds;
    kga_progress_report(progress, "features", r, total);
    rc = kga_structure_features(g, seeds, n_seeds, pool, f->F[0], f->F[1],
                                &ss, err);
    if (rc != 0)
        return rc;
    rd->relations_aligned = ss.right_relations_aligned;
    rd->features_seconds = now() - t;

    t = now();
    kga_progress_report(progress, "candidates", r, total);
    if (f->wn > 0.0f && d->name_idx == NULL && d->nL > 0 && d->nR > 0) {
        rc = name_topk(f, d->L, d->nL, d->R, d->nR, d->k,
                       kga_pool_threads(pool), &d->name_idx, &d->name_cos,
                       err);
        if (rc != 0)
            return rc;
    }
    if (d->nL > 0 && d->nR > 0)
        rc = topk_run(f, d->L, d->nL, d->R, d->nR, d->k, d->name_idx,
                      d->name_cos, pool, d->cand, d->score, err);
    else
        rc = kga_fusion_topk(f, d->L, d->nL, d->R, d->nR, d->k, pool, d->cand,
                             d->score, err);
    if (rc != 0)
        return rc;
    for (size_t s = 0; s < (size_t)d->nL * d->k; s++)
        d->col[s] = d->cand[s] == NONE ? KGA_SINKHORN_EMPTY
                                       : d->rpos[d->cand[s]];
    rd->candidates_seconds = now() - t;

    t = now();
    kga_progress_report(progress, "sinkhorn", r, total);
    rc = kga_sinkhorn(d->col, d->score, d->nL, d->nR, d->k, p->tau,
                      p->sinkhorn_iters, pool, d->lu, d->lv, err);
    if (rc != 0)
        return rc;
    fill_log_p(d, p->tau);
    rd->valid_hits1 = valid_hits1(d);
    rd->sinkhorn_seconds = now() - t;
    return 0;
}

int kga_fusion_train(const kga_store_t *left, const kga_store_t *right,
                     const kga_pair_t *train, size_t n_train,
                     const kga_pair_t *valid, size_t n_valid,
                     const kga_fusion_params_t *p,
                     const kga_progress_t *progress, kga_fusion_t **out,
                     kga_fusion_report_t *report, kga_err_t *err)
{
    kga_fusion_report_t local;
    kga_fusion_t *f = NULL;
    kga_structure_t *g = NULL;
    kga_pool_t *pool = NULL;
    kga_pair_t *seeds = NULL;
    size_t *col_best = NULL;
    domain_t d;
    best_t best;
    double t0 = now();
    int rc;

    *out = NULL;
    memset(&d, 0, sizeof d);
    memset(&best, 0, sizeof best);
    if (report == NULL)
        report = &local;
    memset(report, 0, sizeof *report);
    if ((rc = kga_fusion_params_check(p, err)) != 0)
        return rc;
    if ((rc = kga_pool_new(p->threads, &pool)) != 0)
        return kga_err_set(err, rc, "fusion: cannot start threads");

    uint32_t total = p->rounds + 1;
    kga_progress_report(progress, "names", 0, total);
    if ((rc = fusion_alloc(left, right, p, &f, err)) != 0 ||
        (rc = kga_structure_new(left, right, &p->structure, &g, err)) != 0 ||
        (rc = domain_init(&d, f, train, n_train, valid, n_valid, p->topk,
                          err)) != 0)
        goto fail;
    report->domain_left = d.nL;
    report->domain_right = d.nR;
    report->valid_used = d.nv;
    rc = name_hits1(f, &d, kga_pool_threads(pool), &report->name_valid_hits1,
                    err);
    if (rc != 0)
        goto fail;
    f->wn = d.nv == 0 || report->name_valid_hits1 >= p->name_threshold
                ? p->name_weight
                : 0.0f;
    report->name_weight = f->wn;
    report->names_seconds = now() - t0;

    size_t cap = n_train + (d.nL < d.nR ? d.nL : d.nR) + 1;
    seeds = malloc(cap * sizeof *seeds);
    col_best = malloc(((size_t)d.nR + 1) * sizeof *col_best);
    if (!seeds || !col_best || best_init(&best, f, &d, cap) != 0) {
        rc = kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
        goto fail;
    }
    if (n_train > 0)
        memcpy(seeds, train, n_train * sizeof *seeds);
    size_t n_seeds = n_train;

    double prev = 0.0;
    for (uint32_t r = 0; r < total; r++) {
        kga_fusion_round_t *rd = &report->round[r];
        double tr = now();
        rc = run_round(f, g, &d, p, seeds, n_seeds, pool, progress, r, rd,
                       err);
        if (rc != 0)
            goto fail;
        report->n_rounds = r + 1;
        /* Without validation links every round counts as progress. */
        if (r == 0 || d.nv == 0 || rd->valid_hits1 > best.valid_hits1) {
            best_keep(&best, f, &d, seeds, n_seeds, rd->valid_hits1);
            report->best_round = r;
        }
        int stop = r > 0 && d.nv > 0 && rd->valid_hits1 - prev < p->min_gain;
        prev = rd->valid_hits1;
        if (!stop && r + 1 < total) {
            size_t np = mutual_argmax(f, &d, col_best, seeds + n_train);
            n_seeds = n_train + np;
            rd->pseudo_seeds = (uint32_t)np;
        }
        rd->seconds = now() - tr;
        if (stop)
            break;
    }

    double t = now();
    kga_progress_report(progress, "fallback", report->n_rounds, total);
    if ((rc = finish(f, &best, &d, train, n_train, err)) != 0)
        goto fail;
    report->fallback_seconds = now() - t;
    report->seconds = now() - t0;
    *out = f;
    f = NULL;
fail:
    best_destroy(&best);
    free(col_best);
    free(seeds);
    domain_destroy(&d);
    kga_structure_free(g);
    kga_fusion_free(f);
    kga_pool_free(pool);
    return rc;
}

int kga_fusion_rebuild(const kga_store_t *left, const kga_store_t *right,
                       const kga_fusion_params_t *p,
                       const kga_fusion_state_t *state, kga_fusion_t **out,
                       kga_err_t *err)
{
    kga_fusion_t *f = NULL;
    kga_structure_t *g = NULL;
    kga_pool_t *pool = NULL;
    int rc;

    *out = NULL;
    if ((rc = kga_fusion_params_check(p, err)) != 0)
        return rc;
    if (!(state->tau > 0.0 && isfinite(state->tau)) ||
        !(state->name_weight >= 0.0f && isfinite(state->name_weight)))
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: state: bad tau (%g) or name weight (%g)",
                           state->tau, (double)state->name_weight);
    if ((rc = kga_pool_new(p->threads, &pool)) != 0)
        return kga_err_set(err, rc, "fusion: cannot start threads");
    if ((rc = fusion_alloc(left, right, p, &f, err)) != 0)
        goto fail;
    f->wn = state->name_weight;
    f->tau = state->tau;
    for (int s = 0; s < 2; s++) {
        const double *src = s ? state->lv : state->lu;
        double *dst = s ? f->lv : f->lu;
        for (uint32_t i = 0; i < f->n[s]; i++) {
            if (!isfinite(src[i])) {
                rc = kga_err_set(err, KGA_EINVAL,
                                 "fusion: state: %s[%u] is not finite",
                                 s ? "lv" : "lu", i);
                goto fail;
            }
            dst[i] = src[i];
        }
    }
    f->seeds = malloc((state->n_seeds + 1) * sizeof *f->seeds);
    if (f->seeds == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
        goto fail;
    }
    if (state->n_seeds > 0)
        memcpy(f->seeds, state->seeds, state->n_seeds * sizeof *f->seeds);
    f->n_seeds = state->n_seeds;
    if ((rc = kga_structure_new(left, right, &p->structure, &g, err)) != 0 ||
        (rc = kga_structure_features(g, f->seeds, f->n_seeds, pool, f->F[0],
                                     f->F[1], NULL, err)) != 0)
        goto fail;
    *out = f;
    f = NULL;
fail:
    kga_structure_free(g);
    kga_fusion_free(f);
    kga_pool_free(pool);
    return rc;
}
