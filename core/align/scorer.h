#ifndef KGA_SCORER_H
#define KGA_SCORER_H

#include <stddef.h>
#include <stdint.h>

#include "stats/calibrate.h"
#include "base/error.h"
#include "align/fusion.h"
#include "features/attributes.h"
#include "gnn/gnn.h"
#include "store/store.h"

/* The final scorer of a pair: the fused structural and name scores
 * (fusion.h), the CG-MuAlign GNN distance (gnn.h), the attribute model
 * (a logistic regression over the per-attribute features of
 * attributes.h, fitted on the training pairs: it learns which attributes
 * matter), and a logistic regression over them all fitted on the
 * validation links or pairs, whose sigmoid is the calibrated
 * probability. The trainer builds it piece by piece; the
 * aligner rebuilds it from a model file. Once complete it is read-only and
 * may be used from any number of threads.
 *
 * Features of a pair (i, j), in this order:
 *   0  log P(i, j)   Sinkhorn-normalised fused score (kga_fusion_log_p)
 *   1  S(i, j)       fused score (kga_fusion_score)
 *   2  namecos(i, j) TF-IDF name cosine, 0 when the names are not used
 *   3  -d(i, j)      negated GNN distance, 0 when the GNN is off
 *   4  a(i, j)       logit of the attribute model, clipped to
 *                    +-KGA_SCORER_ATTR_CLIP, 0 when there is none */

#define KGA_SCORER_FEATURES 5u
#define KGA_SCORER_ATTR_CLIP 30.0f

/* Width of the GNN's fixed level-0 input: the fusion's structural features
 * (1280 wide by default) through its fixed random projection
 * (kga_fusion_coarse()). Dot products survive it (Johnson-Lindenstrauss)
 * and a GNN epoch costs a tenth. */
#define KGA_SCORER_FIXED_DIM KGA_FUSION_COARSE_DIM

typedef struct {
    const kga_store_t *store[2]; /* not owned */
    /* Entities of each store the model was trained on, the first ones
     * (0: all): the GNN has learned vectors for these only. */
    uint32_t trained[2];
    kga_fusion_t *fusion;        /* owned */
    int use_names;               /* name weight of the fusion > 0 */
    int learned_names;           /* GNN level 0 has learned n-gram vectors */

    /* The GNN; gnn is NULL when it is off. */
    kga_gnn_t *gnn;
    uint32_t *relmap[2];
    uint32_t relations;
    kga_neighbours_t *nbrs[2];
    const float *fixed[2]; /* the fusion's projected features (not owned) */
    kga_gnn_data_t data;
    kga_gnn_cache_t *cache;

    /* The attribute model; attr NULL until built, attr_logreg fitted only
     * where the stores share attributes and the training pairs hold both
     * classes. */
    kga_attr_model_t *attr;
    uint32_t attr_relations; /* relation channels asked for */
    int has_attr_logreg;
    kga_logreg_t attr_logreg;

    int has_logreg;
    kga_logreg_t logreg;
} kga_scorer_t;

/* One entity as the scorer and the decisions read it: a stored entity
 * (kga_scorer_entity()) or one a request describes (align/inline_entity.h),
 * which is not in the stores and has these from its description. The
 * pointers are into the scorer, the store or the inline entity. */
typedef struct {
    int side;
    uint32_t id;              /* internal id, or KGA_ENTITY_INLINE */
    /* Its structural row: row features_row of features (the fusion's
     * matrix of the side, or the inline entity's own one-row matrix). */
    const kga_qmatrix_t *features;
    uint32_t features_row;
    kga_sparse_vec_t name;    /* its TF-IDF row */
    double scale;             /* its Sinkhorn scaling, lu or lv */
    kga_gnn_view_t gnn;       /* when the scorer has the GNN */
    const kga_edge_t *edges[2]; /* adjacency by kga_dir_t, as the store's */
    uint32_t degree[2];
    uint32_t type;            /* type id in the store, or KGA_NO_TYPE */
} kga_scorer_entity_t;

/* The id of an entity that is not in the store. */
#define KGA_ENTITY_INLINE UINT32_MAX

/* Starts a scorer over two stores with a trained or rebuilt fusion (taken
 * over: freed by kga_scorer_destroy). */
void kga_scorer_init(kga_scorer_t *s, const kga_store_t *left,
                     const kga_store_t *right, kga_fusion_t *fusion);

/* Creates the GNN of the scorer: relation map (identical relation names
 * share ids), neighbour tables, level-0 inputs (the fusion's structural
 * features as fixed features; the TF-IDF rows as name buckets when the
 * names are used). anchors are the pairs whose entity vectors are shared.
 * Returns 0 or a KGA_E* code with a message. */
int kga_scorer_gnn_new(kga_scorer_t *s, const kga_gnn_config_t *cfg,
                       const kga_pair_t *anchors, size_t n_anchors,
                       kga_err_t *err);

/* Builds the attribute channels of the two stores (attributes.h), with at
 * most `relations` relation channels. Returns 0 or a KGA_E* code with a
 * message. */
int kga_scorer_attr_new(kga_scorer_t *s, uint32_t relations,
                        kga_err_t *err);

/* Fits the attribute model on n labelled pairs (internal ids; label 1 a
 * match). Without attribute features or without both classes among the
 * pairs it stays unfitted (feature 4 is then 0) and 0 is returned. */
int kga_scorer_attr_fit(kga_scorer_t *s, const uint32_t *left,
                        const uint32_t *right, const uint8_t *label,
                        size_t n, kga_err_t *err);

/* Builds the inference cache of the GNN (after training or loading). */
int kga_scorer_gnn_cache(kga_scorer_t *s, int threads, kga_err_t *err);

/* f[k * KGA_SCORER_FEATURES ..] = features of (left[k], right[k]). Runs
 * on the calling thread. */
void kga_scorer_features(const kga_scorer_t *s, const uint32_t *left,
                         const uint32_t *right, size_t n, float *f);

/* The entity `id` of `side` (in range) as a view. */
void kga_scorer_entity(const kga_scorer_t *s, int side, uint32_t id,
                       kga_scorer_entity_t *out);

/* Floats of scratch kga_scorer_pair_features() needs. */
size_t kga_scorer_scratch(const kga_scorer_t *s);

/* f (KGA_SCORER_FEATURES floats) = the features of the pair (left, right):
 * what kga_scorer_features() gives for two stored entities, bit for bit,
 * and the same formulas for entities described inline. */
void kga_scorer_pair_features(const kga_scorer_t *s,
                              const kga_scorer_entity_t *left,
                              const kga_scorer_entity_t *right,
                              float *scratch, float *f);

/* The logit of the final scorer for one feature vector. */
double kga_scorer_logit(const kga_scorer_t *s, const float *f);

void kga_scorer_destroy(kga_scorer_t *s);

/* The scorer inside an opened aligner (aligner.h), for benchmarks and tests
 * that time or inspect one stage. */
typedef struct kga_aligner kga_aligner_t;
const kga_scorer_t *kga_aligner_scorer(const kga_aligner_t *a);

#endif
