/* Training of the fused aligner: the domain (entities outside the
 * training links), then rounds of structural features from the seeds,
 * candidates, Sinkhorn and validation Hits@1, with the mutual best pairs of
 * a round as pseudo-seeds of the next; the best round's state is kept and
 * every entity gets its scalings. */
#include "align/fusion_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "align/sinkhorn.h"
#include "stats/metrics.h"

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
    uint8_t *rmask;        /* right entity -> in R (the blocked name search) */
} domain_t;

static void domain_destroy(domain_t *d)
{
    free(d->rmask);
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
                       const uint8_t *exclude_right, kga_err_t *err)
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
    d->rmask = calloc((size_t)n1 + 1, 1);
    if (d->rmask == NULL)
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    for (uint32_t j = 0; j < n1; j++) {
        if (d->rpos[j] || (exclude_right != NULL && exclude_right[j])) {
            d->rpos[j] = NONE;
        } else {
            d->rpos[j] = d->nR;
            d->R[d->nR++] = j;
            d->rmask[j] = 1;
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

/* Name-only Hits@1 of the validation links under the model's current
 * translit weight: rank 1 means the true match has the highest cosine over
 * R, strictly. */
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
    if (f->approx)
        rc = kga_tfidf_topk_blocked(f->names, KGA_TFIDF_LEFT, q, d->nv,
                                    d->rmask, f->name_budget, 8, 2, threads,
                                    idx, cs, err);
    else
        rc = kga_tfidf_topk(f->names, KGA_TFIDF_LEFT, q, d->nv, d->R, d->nR,
                            2, threads, idx, cs, err);
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

/* The translit weights tried, the name alone first: with equal Hits@1 the
 * lesser weight is kept, so that names in one script keep the name's own
 * TF-IDF. */
static const float translit_grid[KGA_FUSION_TRANSLIT_GRID] = {
    0.0f, 0.25f, 0.5f, 0.75f, 1.0f};

/* How much the Latin form of the names counts: the weight of the grid with
 * the best name-only validation Hits@1, set in f->names; *hits1 gets that
 * Hits@1. Without validation links the forms count equally. */
static int choose_translit(kga_fusion_t *f, const domain_t *d, int threads,
                           kga_fusion_report_t *report, kga_err_t *err)
{
    int rc;
    size_t n = kga_tfidf_forms(f->names) > 1
                   ? sizeof translit_grid / sizeof translit_grid[0]
                   : 1;
    float best = 0.0f;
    double best_hits = -1.0;
    if (n > 1 && d->nv == 0) {
        report->translit_weight = 0.5f;
        return kga_tfidf_set_translit_weight(f->names, 0.5f, err);
    }
    for (size_t g = 0; g < n; g++) {
        double h;
        if ((rc = kga_tfidf_set_translit_weight(f->names, translit_grid[g],
                                                err)) != 0 ||
            (rc = name_hits1(f, d, threads, &h, err)) != 0)
            return rc;
        report->translit_hits1[g] = h;
        if (h > best_hits) {
            best_hits = h;
            best = translit_grid[g];
        }
    }
    report->name_valid_hits1 = best_hits < 0.0 ? 0.0 : best_hits;
    report->translit_weight = best;
    return kga_tfidf_set_translit_weight(f->names, best, err);
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
                            const kga_fusion_params_t *p, size_t *col_best,
                            kga_pair_t *out)
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
    double min_logp = p->seed_min_p > 0 ? log(p->seed_min_p) : -INFINITY;
    size_t n = 0;
    for (uint32_t i = 0; i < d->nL; i++) {
        size_t best = none;
        for (size_t s = (size_t)i * d->k; s < (size_t)(i + 1) * d->k; s++)
            if (d->col[s] != KGA_SINKHORN_EMPTY &&
                (best == none || row_better(f, d, s, best)))
                best = s;
        if (best != none && col_best[d->col[best]] == best &&
            d->logp[best] >= min_logp)
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

/* The state of the best round so far. Its features are not kept: they
 * follow from its seeds (kga_structure_features() is deterministic), and
 * at scale two more copies of them would not fit. */
typedef struct {
    uint32_t round;
    double *lu, *lv;   /* domain rows / columns */
    double *rowmax;    /* domain rows: best S, NAN without candidates */
    kga_pair_t *seeds;
    size_t n_seeds;
    double valid_hits1;
} best_t;

static void best_keep(best_t *b, uint32_t round, const domain_t *d,
                      const kga_pair_t *seeds, size_t n_seeds, double h1)
{
    b->round = round;
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

/* Installs the best round into f (its features are f's when it was the
 * last round run, else made again from its seeds), projects them again
 * (run_round released the projection) and gives every entity its lu and
 * lv (the fallbacks of fusion.h); then indexes every right entity for the
 * searches after training. */
static int finish(kga_fusion_t *f, const kga_structure_t *g, best_t *b,
                  const domain_t *d, const kga_pair_t *train, size_t n_train,
                  uint32_t last_round, kga_pool_t *pool,
                  const kga_progress_t *progress, kga_err_t *err)
{
    int rc;
    if (b->round != last_round) {
        kga_progress_ticker_t tk;
        kga_progress_ticker_init(&tk, progress,
                                 "fusion: features of the best round again",
                                 "rows", kga_structure_work(g));
        if ((rc = kga_structure_features(g, b->seeds, b->n_seeds, pool, &tk,
                                         &f->F[0], &f->F[1], NULL, err)) != 0)
            return rc;
    }
    for (int s = 0; s < 2; s++)
        if (kga_fusion_project(f, s, pool) != 0)
            return kga_err_set(err, KGA_ENOMEM,
                               "fusion: out of memory (projection)");
    if ((rc = kga_fusion_index(f, 1, NULL, 0, pool, progress, err)) != 0)
        return rc;
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
}

static int best_init(best_t *b, const domain_t *d, size_t cap)
{
    memset(b, 0, sizeof *b);
    b->lu = malloc(((size_t)d->nL + 1) * sizeof *b->lu);
    b->lv = malloc(((size_t)d->nR + 1) * sizeof *b->lv);
    b->rowmax = malloc(((size_t)d->nL + 1) * sizeof *b->rowmax);
    b->seeds = malloc(cap * sizeof *b->seeds);
    return b->lu && b->lv && b->rowmax && b->seeds ? 0 : KGA_ENOMEM;
}

/* One round: features from seeds, candidates, Sinkhorn, validation. */
static int run_round(kga_fusion_t *f, const kga_structure_t *g, domain_t *d,
                     const kga_fusion_params_t *p, const kga_pair_t *seeds,
                     size_t n_seeds, kga_pool_t *pool,
                     const kga_progress_t *progress, uint32_t r,
                     kga_fusion_round_t *rd, kga_timeline_t *tl,
                     kga_err_t *err)
{
    int rc;
    uint32_t total = p->rounds + 1;
    double t = kga_clock_seconds();
    kga_structure_stats_t ss;
    kga_progress_ticker_t tk;
    char stage[96];

    rd->seeds = (uint32_t)n_seeds;
    snprintf(stage, sizeof stage, "fusion round %u of %u: structural features",
             r + 1, total);
    kga_progress_ticker_init(&tk, progress, stage, "rows",
                             kga_structure_work(g));
    rc = kga_structure_features(g, seeds, n_seeds, pool, &tk, &f->F[0],
                                &f->F[1], &ss, err);
    if (rc != 0)
        return rc;
    rd->relations_aligned = ss.right_relations_aligned;
    rd->features_seconds = kga_clock_seconds() - t;
    kga_timeline_mark(tl, "fusion round %u: structural features", r + 1);

    t = kga_clock_seconds();
    snprintf(stage, sizeof stage,
             "fusion round %u of %u: projection and index", r + 1, total);
    kga_progress_report(progress, stage, NULL, 0, 0);
    for (int s = 0; s < 2; s++)
        if (kga_fusion_project(f, s, pool) != 0)
            return kga_err_set(err, KGA_ENOMEM,
                               "fusion: out of memory (projection)");
    if ((rc = kga_fusion_index(f, 1, d->R, d->nR, pool, progress, err)) != 0)
        return rc;
    rd->index_seconds = kga_clock_seconds() - t;
    kga_timeline_mark(tl, "fusion round %u: projection and index", r + 1);

    t = kga_clock_seconds();
    snprintf(stage, sizeof stage, "fusion round %u of %u: candidate search",
             r + 1, total);
    kga_progress_ticker_init(&tk, progress, stage, "queries", d->nL);
    if (d->nL > 0 && d->nR > 0) {
        rc = kga_fusion_topk_run(f, d->L, d->nL, d->R, d->nR, NULL, d->k,
                                 d->name_idx, d->name_cos, pool, &tk, d->cand,
                                 d->score, err);
    } else {
        rc = kga_fusion_topk(f, d->L, d->nL, d->R, d->nR, d->k, pool, NULL,
                             d->cand, d->score, err);
    }
    if (rc != 0)
        return rc;
    for (size_t s = 0; s < (size_t)d->nL * d->k; s++)
        d->col[s] = d->cand[s] == NONE ? KGA_SINKHORN_EMPTY
                                       : d->rpos[d->cand[s]];
    /* Not read again before the next round's features replace them. */
    kga_fusion_release_search(f);
    rd->candidates_seconds = kga_clock_seconds() - t;
    kga_timeline_mark(tl, "fusion round %u: candidate search", r + 1);

    t = kga_clock_seconds();
    snprintf(stage, sizeof stage, "fusion round %u of %u: Sinkhorn", r + 1,
             total);
    kga_progress_ticker_init(&tk, progress, stage, "iterations",
                             p->sinkhorn_iters);
    rc = kga_sinkhorn(d->col, d->score, d->nL, d->nR, d->k, p->tau,
                      p->sinkhorn_iters, pool, &tk, d->lu, d->lv, err);
    if (rc != 0)
        return rc;
    fill_log_p(d, p->tau);
    rd->valid_hits1 = valid_hits1(d);
    rd->sinkhorn_seconds = kga_clock_seconds() - t;
    kga_timeline_mark(tl, "fusion round %u: Sinkhorn", r + 1);
    return 0;
}

/* The name candidates of the domain, once for every round. */
static int name_candidates(kga_fusion_t *f, domain_t *d, kga_pool_t *pool,
                           const kga_progress_t *progress, kga_err_t *err)
{
    if (f->wn <= 0.0f || d->nL == 0 || d->nR == 0)
        return 0;
    kga_progress_report(progress, "fusion: name candidates", NULL, 0, 0);
    return kga_fusion_name_topk(f, d->L, d->nL, d->R, d->nR, d->rmask, d->k,
                                kga_pool_threads(pool), &d->name_idx,
                                &d->name_cos, err);
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
    double t0 = kga_clock_seconds();
    int rc;

    *out = NULL;
    memset(&d, 0, sizeof d);
    memset(&best, 0, sizeof best);
    if (report == NULL)
        report = &local;
    memset(report, 0, sizeof *report);
    kga_timeline_start(&report->timeline);
    if ((rc = kga_fusion_params_check(p, err)) != 0)
        return rc;
    if ((rc = kga_pool_new(p->threads, &pool)) != 0)
        return kga_err_set(err, rc, "fusion: cannot start threads");

    uint32_t total = p->rounds + 1;
    kga_progress_report(progress, "fusion: name model", NULL, 0, 0);
    if ((rc = kga_fusion_alloc(left, right, p, pool, &f, err)) != 0 ||
        (rc = domain_init(&d, f, train, n_train, valid, n_valid, p->topk,
                          p->exclude_right, err)) != 0)
        goto fail;
    report->domain_left = d.nL;
    report->domain_right = d.nR;
    report->valid_used = d.nv;
    rc = choose_translit(f, &d, kga_pool_threads(pool), report, err);
    if (rc != 0)
        goto fail;
    kga_tfidf_fix_weight(f->names);
    f->wn = d.nv == 0 || report->name_valid_hits1 >= p->name_threshold
                ? p->name_weight
                : 0.0f;
    report->name_weight = f->wn;
    /* Where names carry the alignment the context blocks cost more than
     * they bring (docs/model.md, "The relational context"). */
    if (f->wn > 0.0f && (rc = kga_fusion_drop_context(f, err)) != 0)
        goto fail;
    report->context_blocks = f->structure.context_blocks;
    if ((rc = kga_structure_new(left, right, &f->structure, &g, err)) != 0)
        goto fail;
    report->approx = f->approx;
    report->names_seconds = kga_clock_seconds() - t0;
    kga_timeline_mark(&report->timeline, "fusion: name model");
    double tn = kga_clock_seconds();
    if ((rc = name_candidates(f, &d, pool, progress, err)) != 0)
        goto fail;
    report->name_candidates_seconds = kga_clock_seconds() - tn;
    if (f->wn > 0.0f)
        kga_timeline_mark(&report->timeline, "fusion: name candidates");

    size_t cap = n_train + (d.nL < d.nR ? d.nL : d.nR) + 1;
    seeds = malloc(cap * sizeof *seeds);
    col_best = malloc(((size_t)d.nR + 1) * sizeof *col_best);
    if (!seeds || !col_best || best_init(&best, &d, cap) != 0) {
        rc = kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
        goto fail;
    }
    if (n_train > 0)
        memcpy(seeds, train, n_train * sizeof *seeds);
    size_t n_seeds = n_train;

    double prev = 0.0;
    for (uint32_t r = 0; r < total; r++) {
        kga_fusion_round_t *rd = &report->round[r];
        double tr = kga_clock_seconds();
        rc = run_round(f, g, &d, p, seeds, n_seeds, pool, progress, r, rd,
                       &report->timeline, err);
        if (rc != 0)
            goto fail;
        report->n_rounds = r + 1;
        /* Without validation links every round counts as progress. A
         * round as good as the best on validation is kept too: it holds
         * more seeds, and the validation links are few (a hundred of them
         * tell 0.002 apart), so a tie is no evidence against it. */
        if (r == 0 || d.nv == 0 || rd->valid_hits1 >= best.valid_hits1) {
            best_keep(&best, r, &d, seeds, n_seeds, rd->valid_hits1);
            report->best_round = r;
        }
        int stop = r > 0 && d.nv > 0 && rd->valid_hits1 - prev < p->min_gain;
        prev = rd->valid_hits1;
        if (!stop && r + 1 < total) {
            size_t np = mutual_argmax(f, &d, p, col_best,
                                      seeds + n_train);
            n_seeds = n_train + np;
            rd->pseudo_seeds = (uint32_t)np;
        }
        rd->seconds = kga_clock_seconds() - tr;
        if (stop)
            break;
    }

    double t = kga_clock_seconds();
    kga_progress_report(progress, "fusion: the kept round", NULL, 0, 0);
    if ((rc = finish(f, g, &best, &d, train, n_train, report->n_rounds - 1,
                     pool, progress, err)) != 0)
        goto fail;
    report->fallback_seconds = kga_clock_seconds() - t;
    kga_timeline_mark(&report->timeline, "fusion: the kept round, index");
    report->seconds = kga_clock_seconds() - t0;
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
