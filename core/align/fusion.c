/* The fused aligner's scorer (see fusion.h): parameters, the state (feature
 * matrices, name model, Sinkhorn scalings, seeds) with its accessors, the
 * score of a pair, and rebuilding the state saved in a model. Its candidate
 * search is fusion_topk.c, the training that decides the state
 * fusion_train.c; fusion_internal.h holds what they share. */
#include "align/fusion_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "align/sinkhorn.h"
#include "base/rng.h"

/* Seed of the projection: a constant, so that a model file needs no copy
 * of it and every build projects alike. */
#define PROJECTION_SEED UINT64_C(0x6b67612d70726f6a)

/* Rows projected per pool task. */
#define PROJECT_ROWS 1024u

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
    p->seed_min_p = 0.9;
    p->threads = 0;
    p->search = KGA_SEARCH_AUTO;
    p->probes = 32;
    p->coarse = 2;
    p->name_budget = 8192;
}

int kga_fusion_check_k(size_t k, kga_err_t *err)
{
    if (k == 0 || k > KGA_FUSION_MAX_TOPK)
        return kga_err_set(err, KGA_EINVAL, "k must be within 1..%u",
                           KGA_FUSION_MAX_TOPK);
    return 0;
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
    if (!(p->seed_min_p >= 0.0 && p->seed_min_p <= 1.0))
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: seed_min_p must be within 0..1, not %g",
                           p->seed_min_p);
    if (p->search != KGA_SEARCH_AUTO && p->search != KGA_SEARCH_EXACT &&
        p->search != KGA_SEARCH_APPROX)
        return kga_err_set(err, KGA_EINVAL, "fusion: unknown search %d",
                           (int)p->search);
    if (p->probes < 1 || p->probes > KGA_ANN_MAX_PROBES)
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: probes must be in [1, %u], not %u",
                           KGA_ANN_MAX_PROBES, p->probes);
    if (p->coarse < 1 || p->coarse > 16)
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: coarse must be in [1, 16], not %u",
                           p->coarse);
    if (p->name_budget < 1)
        return kga_err_set(err, KGA_EINVAL,
                           "fusion: name_budget must be positive");
    return 0;
}

/* ---- the scorer --------------------------------------------------------- */

void kga_fusion_free(kga_fusion_t *f)
{
    if (f == NULL)
        return;
    kga_structure_relations_free(f->relations);
    free(f->lv);
    free(f->lu);
    free(f->seeds);
    kga_tfidf_free(f->names);
    free(f->sketch_sign);
    free(f->sketch_to);
    for (int s = 0; s < 2; s++) {
        kga_ann_free(f->ann[s]);
        free(f->P[s]);
        kga_qmatrix_destroy(&f->F[s]);
    }
    free(f);
}

static int sketch_init(kga_fusion_t *f);

/* Allocates the scorer of two stores: feature matrices, projections, the
 * count sketch, scalings, and the name model (built here). */
int kga_fusion_alloc(const kga_store_t *left, const kga_store_t *right,
                     const kga_fusion_params_t *p, kga_pool_t *pool,
                     kga_fusion_t **out, kga_err_t *err)
{
    int rc;
    *out = NULL;
    kga_fusion_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    f->n[0] = kga_store_entity_count(left);
    f->n[1] = kga_store_entity_count(right);
    f->structure = p->structure;
    f->width = kga_structure_width(&p->structure);
    f->tau = p->tau;
    f->topk = p->topk;
    for (int s = 0; s < 2; s++)
        f->trained[s] = p->trained[s] > 0 && p->trained[s] < f->n[s]
                            ? p->trained[s]
                            : f->n[s];
    uint32_t dim = p->structure.dim;
    for (int s = 0; s < 2; s++) {
        int q = kga_qmatrix_init(&f->F[s], f->n[s], f->width / dim, dim);
        if (q != 0) {
            kga_fusion_free(f);
            return kga_err_set(err, q, "fusion: no room for the features of "
                                       "%u entities",
                               f->n[s]);
        }
        f->P[s] = malloc(((size_t)f->n[s] * KGA_FUSION_COARSE_DIM + 1) *
                         sizeof(float));
    }
    f->lu = malloc(((size_t)f->n[0] + 1) * sizeof *f->lu);
    f->lv = malloc(((size_t)f->n[1] + 1) * sizeof *f->lv);
    if (!f->P[0] || !f->P[1] || !f->lu || !f->lv || sketch_init(f) != 0) {
        kga_fusion_free(f);
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    }
    if ((rc = kga_tfidf_build_docs(left, right, &p->names, f->trained, pool,
                                   &f->names, err)) != 0) {
        kga_fusion_free(f);
        return rc;
    }
    f->key[0] = kga_tfidf_keys(f->names, KGA_TFIDF_LEFT);
    f->key[1] = kga_tfidf_keys(f->names, KGA_TFIDF_RIGHT);
    f->approx = kga_fusion_search_approx(p->search, f->n[0], f->n[1]);
    f->probes = p->probes;
    f->coarse = p->coarse;
    f->name_budget = p->name_budget;
    *out = f;
    return 0;
}

int kga_fusion_drop_context(kga_fusion_t *f, kga_err_t *err)
{
    if (f->structure.context_blocks == 0)
        return 0;
    f->structure.context_blocks = 0;
    f->width = kga_structure_width(&f->structure);
    uint32_t dim = f->structure.dim;
    free(f->sketch_to);
    free(f->sketch_sign);
    f->sketch_to = NULL;
    f->sketch_sign = NULL;
    for (int s = 0; s < 2; s++) {
        kga_qmatrix_destroy(&f->F[s]);
        int rc = kga_qmatrix_init(&f->F[s], f->n[s], f->width / dim, dim);
        if (rc != 0)
            return kga_err_set(err, rc, "fusion: no room for the features "
                                        "of %u entities",
                               f->n[s]);
    }
    if (sketch_init(f) != 0)
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    return 0;
}

const kga_structure_params_t *kga_fusion_structure(const kga_fusion_t *f)
{
    return &f->structure;
}

/* ---- projection and index ----------------------------------------------- */

/* The projection is a count sketch (feature hashing; Charikar, Chen and
 * Farach-Colton 2002): feature c of F goes, with a sign s(c), to one
 * coordinate h(c) of P, so that P_i . P_j is F_i . F_j plus noise of mean
 * zero, as with a Gaussian projection (Johnson-Lindenstrauss), at a cost
 * of one addition per feature instead of KGA_FUSION_COARSE_DIM: on a graph
 * of millions of entities a dense projection cost as much as a fusion
 * round. h is a seeded permutation of the features folded onto the
 * coordinates, so every coordinate sums the same number of features. */
static int sketch_init(kga_fusion_t *f)
{
    uint32_t width = f->width;
    f->sketch_to = malloc(((size_t)width + 1) * sizeof *f->sketch_to);
    f->sketch_sign = malloc(((size_t)width + 1) * sizeof *f->sketch_sign);
    if (f->sketch_to == NULL || f->sketch_sign == NULL)
        return KGA_ENOMEM;
    kga_rng_t rng;
    kga_rng_init(&rng, PROJECTION_SEED, 0);
    for (uint32_t c = 0; c < width; c++)
        f->sketch_to[c] = c;
    kga_rng_shuffle_u32(&rng, f->sketch_to, width);
    for (uint32_t c = 0; c < width; c++) {
        f->sketch_to[c] %= KGA_FUSION_COARSE_DIM;
        f->sketch_sign[c] = kga_rng_next(&rng) & 1u ? 1.0f : -1.0f;
    }
    return 0;
}

void kga_fusion_project_row(const kga_fusion_t *f, const kga_qmatrix_t *m,
                            uint32_t r, float *out)
{
    memset(out, 0, KGA_FUSION_COARSE_DIM * sizeof *out);
    const int8_t *code = m->code + (size_t)r * m->blocks * m->dim;
    const float *scale = m->scale + (size_t)r * m->blocks;
    for (uint32_t blk = 0; blk < m->blocks; blk++) {
        if (scale[blk] == 0.0f)
            continue;
        for (uint32_t d = 0; d < m->dim; d++) {
            uint32_t x = blk * m->dim + d;
            out[f->sketch_to[x]] +=
                f->sketch_sign[x] * scale[blk] * (float)code[x];
        }
    }
}

typedef struct {
    const kga_fusion_t *f;
    int side;
} project_ctx_t;

static void project_chunk(void *vctx, size_t b, size_t e, int worker)
{
    const project_ctx_t *c = vctx;
    (void)worker;
    for (size_t i = b; i < e; i++)
        kga_fusion_project_row(c->f, &c->f->F[c->side], (uint32_t)i,
                               c->f->P[c->side] +
                                   i * KGA_FUSION_COARSE_DIM);
}

int kga_fusion_project(kga_fusion_t *f, int side, kga_pool_t *pool)
{
    size_t n = f->n[side];
    if (f->P[side] == NULL &&
        (f->P[side] = malloc((n * KGA_FUSION_COARSE_DIM + 1) *
                             sizeof(float))) == NULL)
        return KGA_ENOMEM;
    if (n == 0)
        return 0;
    project_ctx_t c = {f, side};
    kga_pool_run(pool, n, PROJECT_ROWS, project_chunk, &c);
    return 0;
}

int kga_fusion_index(kga_fusion_t *f, int side, const uint32_t *rows,
                     size_t n, kga_pool_t *pool,
                     const kga_progress_t *progress, kga_err_t *err)
{
    kga_ann_free(f->ann[side]);
    f->ann[side] = NULL;
    if (!f->approx)
        return 0;
    kga_ann_params_t ap;
    kga_ann_params_init(&ap);
    ap.metric = KGA_ANN_DOT;
    ap.probes = f->probes;
    return kga_ann_new(f->P[side], KGA_FUSION_COARSE_DIM, rows,
                       rows != NULL ? n : f->n[side], f->key[side], &ap, pool,
                       progress, &f->ann[side], err);
}

void kga_fusion_release_index(kga_fusion_t *f)
{
    for (int s = 0; s < 2; s++) {
        kga_ann_free(f->ann[s]);
        f->ann[s] = NULL;
    }
}

void kga_fusion_release_search(kga_fusion_t *f)
{
    kga_fusion_release_index(f);
    for (int s = 0; s < 2; s++) {
        free(f->P[s]);
        f->P[s] = NULL;
    }
}

int kga_fusion_search_approx(kga_search_t search, uint32_t n_left,
                             uint32_t n_right)
{
    return search == KGA_SEARCH_APPROX ||
           (search == KGA_SEARCH_AUTO &&
            (double)n_left * (double)n_right > KGA_FUSION_EXACT_PAIRS);
}

void kga_fusion_params_for(kga_fusion_params_t *p, uint32_t n_left,
                           uint32_t n_right)
{
    if (kga_fusion_search_approx(p->search, n_left, n_right))
        p->structure.context_blocks = 0;
}

int kga_fusion_approx(const kga_fusion_t *f)
{
    return f->approx;
}

int kga_fusion_prepare(kga_fusion_t *f, int side, int threads,
                       kga_err_t *err)
{
    int other = side == 0;
    if (!f->approx || f->ann[other] != NULL)
        return 0;
    kga_pool_t *pool = NULL;
    if (kga_pool_new(threads, &pool) != 0)
        return kga_err_set(err, KGA_ENOMEM, "fusion: cannot start threads");
    int rc = kga_fusion_index(f, other, NULL, 0, pool, NULL, err);
    kga_pool_free(pool);
    return rc;
}

const float *kga_fusion_coarse(const kga_fusion_t *f, int side)
{
    return f->P[side != 0];
}

size_t kga_fusion_bytes(const kga_fusion_t *f)
{
    size_t b = sizeof *f;
    for (int s = 0; s < 2; s++) {
        b += kga_qmatrix_bytes(&f->F[s]) +
             (size_t)f->n[s] * KGA_FUSION_COARSE_DIM * sizeof(float);
        b += (size_t)f->n[s] * sizeof(double);
        if (f->ann[s] != NULL)
            b += kga_ann_bytes(f->ann[s]);
    }
    b += f->n_seeds * sizeof *f->seeds;
    b += kga_tfidf_bytes(f->names);
    return b;
}

void kga_fusion_get_state(const kga_fusion_t *f, kga_fusion_state_t *out)
{
    out->name_weight = f->wn;
    out->translit_weight = kga_tfidf_translit_weight(f->names);
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

const kga_qmatrix_t *kga_fusion_features(const kga_fusion_t *f, int side)
{
    return &f->F[side != 0];
}

const kga_tfidf_t *kga_fusion_names(const kga_fusion_t *f)
{
    return f->names;
}

const kga_structure_relations_t *kga_fusion_relations(const kga_fusion_t *f)
{
    return f->relations;
}

float kga_fusion_score_rows(const kga_fusion_t *f, const kga_qmatrix_t *left,
                            uint32_t i, const kga_qmatrix_t *right,
                            uint32_t j, float cosine)
{
    return rows_score(f, left, i, right, j, cosine);
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

double kga_fusion_row_scale(const kga_fusion_t *f, const uint32_t *cand,
                            const float *score, size_t n)
{
    double m = -INFINITY, sum = 0.0;
    size_t used = 0;
    for (size_t x = 0; x < n && used < f->topk; x++)
        if (cand[x] != NONE) {
            double v = (double)score[x] / f->tau + f->lv[cand[x]];
            m = v > m ? v : m;
            used++;
        }
    if (m == -INFINITY)
        return 0.0;
    used = 0;
    for (size_t x = 0; x < n && used < f->topk; x++)
        if (cand[x] != NONE) {
            sum += exp((double)score[x] / f->tau + f->lv[cand[x]] - m);
            used++;
        }
    return -(m + log(sum));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double kga_fusion_outside_lv(const kga_fusion_t *f)
{
    return f->lv_median;
}

int kga_fusion_extend(kga_fusion_t *f, const uint32_t *rights, size_t nr,
                      kga_pool_t *pool, kga_err_t *err)
{
    uint32_t tl = f->trained[0], tr = f->trained[1];
    double *v = malloc(((size_t)tr + 1) * sizeof *v);
    if (v == NULL)
        return kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
    memcpy(v, f->lv, (size_t)tr * sizeof *v);
    qsort(v, tr, sizeof *v, cmp_double);
    f->lv_median = tr > 0 ? v[(tr - 1) / 2] : 0.0;
    free(v);
    for (uint32_t j = tr; j < f->n[1]; j++)
        f->lv[j] = f->lv_median;
    size_t nl = f->n[0] - tl, k = f->topk;
    if (nl == 0 || k == 0)
        return 0;
    uint32_t *lefts = malloc(nl * sizeof *lefts);
    uint32_t *idx = malloc(nl * k * sizeof *idx);
    float *score = malloc(nl * k * sizeof *score);
    int rc = 0;
    if (lefts == NULL || idx == NULL || score == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "fusion: out of memory");
        goto out;
    }
    for (size_t q = 0; q < nl; q++)
        lefts[q] = tl + (uint32_t)q;
    rc = kga_fusion_topk(f, lefts, nl, rights, nr, k, pool, NULL, idx, score,
                        err);
    for (size_t q = 0; rc == 0 && q < nl; q++)
        f->lu[lefts[q]] = kga_fusion_row_scale(f, idx + q * k,
                                               score + q * k, k);
out:
    free(score);
    free(idx);
    free(lefts);
    return rc;
}

int kga_fusion_rebuild(const kga_store_t *left, const kga_store_t *right,
                       const kga_fusion_params_t *p,
                       const kga_fusion_state_t *state,
                       const kga_progress_t *progress, kga_fusion_t **out,
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
    kga_progress_report(progress, "opening: the name model", NULL, 0, 0);
    if ((rc = kga_fusion_alloc(left, right, p, pool, &f, err)) != 0)
        goto fail;
    f->wn = state->name_weight;
    f->tau = state->tau;
    if ((rc = kga_tfidf_set_translit_weight(f->names, state->translit_weight,
                                            err)) != 0)
        goto fail;
    kga_tfidf_fix_weight(f->names);
    for (int s = 0; s < 2; s++) {
        const double *src = s ? state->lv : state->lu;
        double *dst = s ? f->lv : f->lu;
        for (uint32_t i = f->trained[s]; i < f->n[s]; i++)
            dst[i] = 0.0; /* kga_fusion_extend() decides */
        for (uint32_t i = 0; i < f->trained[s]; i++) {
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
    kga_progress_ticker_t tk;
    if ((rc = kga_structure_new(left, right, &p->structure, &g, err)) != 0)
        goto fail;
    kga_progress_ticker_init(&tk, progress, "opening: structural features",
                             "rows", kga_structure_work(g));
    if ((rc = kga_structure_features(g, f->seeds, f->n_seeds, pool, &tk,
                                     &f->F[0], &f->F[1], NULL, err)) != 0 ||
        (rc = kga_structure_relations_new(g, f->seeds, f->n_seeds, &f->F[0],
                                          &f->F[1], &f->relations, err)) != 0)
        goto fail;
    for (int s = 0; s < 2 && rc == 0; s++)
        if ((rc = kga_fusion_project(f, s, pool)) != 0)
            kga_err_set(err, rc, "fusion: out of memory (projection)");
    if (rc == 0)
        rc = kga_fusion_index(f, 1, NULL, 0, pool, progress, err);
    if (rc != 0)
        goto fail;
    *out = f;
    f = NULL;
fail:
    kga_structure_free(g);
    kga_fusion_free(f);
    kga_pool_free(pool);
    return rc;
}
