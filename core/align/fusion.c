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
    free(f->F[1]);
    free(f->F[0]);
    free(f);
}

/* Allocates the scorer of two stores: feature matrices, scalings, and the
 * name model (built here). */
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
    f->width = kga_structure_width(&p->structure);
    f->tau = p->tau;
    f->topk = p->topk;
    for (int s = 0; s < 2; s++)
        f->trained[s] = p->trained[s] > 0 && p->trained[s] < f->n[s]
                            ? p->trained[s]
                            : f->n[s];
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
    if ((rc = kga_tfidf_build_docs(left, right, &p->names, f->trained, pool,
                                   &f->names, err)) != 0) {
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

const kga_structure_relations_t *kga_fusion_relations(const kga_fusion_t *f)
{
    return f->relations;
}

float kga_fusion_score_rows(const kga_fusion_t *f, const float *left,
                            const float *right, float cosine)
{
    return rows_score(f, left, right, cosine);
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
    rc = kga_fusion_topk(f, lefts, nl, rights, nr, k, pool, idx, score, err);
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
    if ((rc = kga_fusion_alloc(left, right, p, pool, &f, err)) != 0)
        goto fail;
    f->wn = state->name_weight;
    f->tau = state->tau;
    if ((rc = kga_tfidf_set_translit_weight(f->names, state->translit_weight,
                                            err)) != 0)
        goto fail;
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
    if ((rc = kga_structure_new(left, right, &p->structure, &g, err)) != 0 ||
        (rc = kga_structure_features(g, f->seeds, f->n_seeds, pool, f->F[0],
                                     f->F[1], NULL, err)) != 0 ||
        (rc = kga_structure_relations_new(g, f->seeds, f->n_seeds,
                                          &f->relations, err)) != 0)
        goto fail;
    *out = f;
    f = NULL;
fail:
    kga_structure_free(g);
    kga_fusion_free(f);
    kga_pool_free(pool);
    return rc;
}
