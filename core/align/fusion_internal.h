#ifndef KGA_FUSION_INTERNAL_H
#define KGA_FUSION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "align/fusion.h"
#include "base/vec.h"
#include "features/ann.h"
#include "features/qmatrix.h"

/* What the files of the fused aligner share; private to core/align/. The
 * scorer (fusion.c) is the state the other two build on: fusion_topk.c
 * searches its candidates, fusion_train.c decides its state in rounds. */

/* No entity: an empty candidate slot, a training entity outside the
 * domain. */
#define NONE UINT32_MAX

struct kga_fusion {
    uint32_t n[2];
    kga_structure_params_t structure; /* of F (the context may be dropped) */
    uint32_t width;
    kga_qmatrix_t F[2];    /* n[side] rows of width (blocks of dim) */
    /* F projected to KGA_FUSION_COARSE_DIM: the vectors the approximate
     * search compares before the exact scores, and the GNN's input. */
    float *P[2];
    /* The approximate search (approx set): per side, an index over that
     * side's P (ann[1]: right entities, for left queries), NULL until
     * built. */
    int approx;
    kga_ann_t *ann[2];
    uint32_t probes, coarse;
    uint64_t name_budget;
    kga_tfidf_t *names;
    const uint64_t *key[2]; /* hash of each external id (owned by names) */
    float wn;
    double tau;
    uint32_t topk;       /* candidates per row of the normalisation */
    uint32_t trained[2]; /* entities the state was decided on */
    kga_pair_t *seeds;
    size_t n_seeds;
    double *lu, *lv;
    /* The count sketch F -> P (fusion.c): per feature of a row, the
     * coordinate of P it adds to and its sign. */
    uint32_t *sketch_to;
    float *sketch_sign;
    /* For rows of entities outside the stores; rebuilds only, else NULL. */
    kga_structure_relations_t *relations;
    double lv_median; /* kga_fusion_extend() */
};

/* S of row i of the left matrix a and row j of the right matrix b given
 * the name cosine: the one expression behind every score. The rows of an
 * entity outside the stores are one-row matrices of the same shape. */
static inline float rows_score(const kga_fusion_t *f, const kga_qmatrix_t *a,
                               uint32_t i, const kga_qmatrix_t *b,
                               uint32_t j, float cosine)
{
    float s = kga_qmatrix_dot(a, i, b, j);
    return f->wn > 0.0f ? s + f->wn * cosine : s;
}

static inline float pair_score(const kga_fusion_t *f, uint32_t i, uint32_t j,
                               float cosine)
{
    return rows_score(f, &f->F[0], i, &f->F[1], j, cosine);
}

/* Allocates the scorer of two stores (features, scalings) and builds its
 * name model; decides between the exact and the approximate search; 0 or
 * an error with err set. */
int kga_fusion_alloc(const kga_store_t *left, const kga_store_t *right,
                     const kga_fusion_params_t *p, kga_pool_t *pool,
                     kga_fusion_t **out, kga_err_t *err);

/* Drops the context blocks from F (structure.h): reallocates F and the
 * sketch at the shorter width. Training calls it once the names are found
 * to carry the alignment. 0 or an error with err set. */
int kga_fusion_drop_context(kga_fusion_t *f, kga_err_t *err);

/* Computes P[side] from F[side] (after every change of F), on pool,
 * allocating P[side] when it was released. 0 or KGA_ENOMEM. */
int kga_fusion_project(kga_fusion_t *f, int side, kga_pool_t *pool);

/* Frees P and the indexes (a training round's search structures, stale
 * once the features change): between one round's search and the next
 * round's projection the rounds hold the features, the candidates and
 * Sinkhorn's state, and these would add a third to them. */
void kga_fusion_release_search(kga_fusion_t *f);

/* (Re)builds ann[side] over the rows rows[0 .. n) of P[side] (rows NULL:
 * every entity of the side), when approx is set. */
int kga_fusion_index(kga_fusion_t *f, int side, const uint32_t *rows,
                     size_t n, kga_pool_t *pool,
                     const kga_progress_t *progress, kga_err_t *err);

/* The name candidates of the queries (wn > 0 only): nl x k right entities
 * and cosines, allocated here; among rights[] (NULL: all), which allowed
 * marks (NULL: all) for the blocked search of approx. */
int kga_fusion_name_topk(const kga_fusion_t *f, const uint32_t *lefts,
                         size_t nl, const uint32_t *rights, size_t nr,
                         const uint8_t *allowed, size_t k, int threads,
                         uint32_t **idx, float **cosine, kga_err_t *err);
/* kga_fusion_topk() on checked input, the name candidates given (NULL
 * when wn is 0). The approximate search reads ann[1], whose entities
 * allowed[] marks (NULL: all) must be rights[] (NULL: every right
 * entity). */
int kga_fusion_topk_run(const kga_fusion_t *f, const uint32_t *lefts,
                        size_t nl, const uint32_t *rights, size_t nr,
                        const uint8_t *allowed, size_t k,
                        const uint32_t *name_idx, const float *name_cos,
                        kga_pool_t *pool, kga_progress_ticker_t *ticker,
                        uint32_t *out_idx, float *out_score, kga_err_t *err);

#endif
