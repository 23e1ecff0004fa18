#ifndef KGA_SCORER_H
#define KGA_SCORER_H

#include <stddef.h>
#include <stdint.h>

#include "stats/calibrate.h"
#include "base/error.h"
#include "align/fusion.h"
#include "gnn/gnn.h"
#include "store/store.h"

/* The final scorer of a pair: the fused structural and name scores
 * (fusion.h), the CG-MuAlign GNN distance (gnn.h), and a logistic
 * regression over them fitted on the validation links, whose sigmoid is
 * the calibrated probability. The trainer builds it piece by piece; the
 * aligner rebuilds it from a model file. Once complete it is read-only and
 * may be used from any number of threads.
 *
 * Features of a pair (i, j), in this order:
 *   0  log P(i, j)   Sinkhorn-normalised fused score (kga_fusion_log_p)
 *   1  S(i, j)       fused score (kga_fusion_score)
 *   2  namecos(i, j) TF-IDF name cosine, 0 when the names are not used
 *   3  -d(i, j)      negated GNN distance, 0 when the GNN is off */

#define KGA_SCORER_FEATURES 4u

/* Width of the GNN's fixed level-0 input: the fusion's structural features
 * (1280 wide by default) through its fixed random projection
 * (kga_fusion_coarse()). Dot products survive it (Johnson-Lindenstrauss)
 * and a GNN epoch costs a tenth. */
#define KGA_SCORER_FIXED_DIM KGA_FUSION_COARSE_DIM

typedef struct {
    const kga_store_t *store[2]; /* not owned */
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

    int has_logreg;
    kga_logreg_t logreg;
} kga_scorer_t;

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

/* Builds the inference cache of the GNN (after training or loading). */
int kga_scorer_gnn_cache(kga_scorer_t *s, int threads, kga_err_t *err);

/* f[k * KGA_SCORER_FEATURES ..] = features of (left[k], right[k]). Runs
 * on the calling thread. */
void kga_scorer_features(const kga_scorer_t *s, const uint32_t *left,
                         const uint32_t *right, size_t n, float *f);

/* The logit of the final scorer for one feature vector. */
double kga_scorer_logit(const kga_scorer_t *s, const float *f);

void kga_scorer_destroy(kga_scorer_t *s);

/* The scorer inside an opened aligner (aligner.h), for benchmarks and tests
 * that time or inspect one stage. */
typedef struct kga_aligner kga_aligner_t;
const kga_scorer_t *kga_aligner_scorer(const kga_aligner_t *a);

#endif
