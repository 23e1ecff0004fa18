#ifndef KGA_FUSION_INTERNAL_H
#define KGA_FUSION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "align/fusion.h"
#include "base/vec.h"

/* What the files of the fused aligner share; private to core/align/. The
 * scorer (fusion.c) is the state the other two build on: fusion_topk.c
 * searches its candidates, fusion_train.c decides its state in rounds. */

/* No entity: an empty candidate slot, a training entity outside the
 * domain. */
#define NONE UINT32_MAX

struct kga_fusion {
    uint32_t n[2];
    uint32_t width;
    float *F[2];           /* n[side] x width */
    kga_tfidf_t *names;
    const uint64_t *key[2]; /* hash of each external id (owned by names) */
    float wn;
    double tau;
    uint32_t topk;       /* candidates per row of the normalisation */
    uint32_t trained[2]; /* entities the state was decided on */
    kga_pair_t *seeds;
    size_t n_seeds;
    double *lu, *lv;
    /* For rows of entities outside the stores; rebuilds only, else NULL. */
    kga_structure_relations_t *relations;
    double lv_median; /* kga_fusion_extend() */
};

/* S of two feature rows given the name cosine: the one expression behind
 * every score. */
static inline float rows_score(const kga_fusion_t *f, const float *left,
                               const float *right, float cosine)
{
    float s = kga_vdot(left, right, f->width);
    return f->wn > 0.0f ? s + f->wn * cosine : s;
}

static inline float pair_score(const kga_fusion_t *f, uint32_t i, uint32_t j,
                               float cosine)
{
    return rows_score(f, f->F[0] + (size_t)i * f->width,
                      f->F[1] + (size_t)j * f->width, cosine);
}

/* Allocates the scorer of two stores (features, scalings) and builds its
 * name model; 0 or an error with err set. */
int kga_fusion_alloc(const kga_store_t *left, const kga_store_t *right,
                     const kga_fusion_params_t *p, kga_pool_t *pool,
                     kga_fusion_t **out, kga_err_t *err);

/* The name candidates of the queries (wn > 0 only): nl x k right entities
 * and cosines, allocated here. */
int kga_fusion_name_topk(const kga_fusion_t *f, const uint32_t *lefts,
                         size_t nl, const uint32_t *rights, size_t nr,
                         size_t k, int threads, uint32_t **idx, float **cosine,
                         kga_err_t *err);
/* kga_fusion_topk() on checked input, the name candidates given (NULL
 * when wn is 0). */
int kga_fusion_topk_run(const kga_fusion_t *f, const uint32_t *lefts,
                        size_t nl, const uint32_t *rights, size_t nr, size_t k,
                        const uint32_t *name_idx, const float *name_cos,
                        kga_pool_t *pool, uint32_t *out_idx, float *out_score,
                        kga_err_t *err);

#endif
