#ifndef KGA_TRAINER_H
#define KGA_TRAINER_H

#include <stdint.h>

#include "store/dataset.h"
#include "base/error.h"
#include "align/fusion.h"
#include "align/open_world.h"
#include "gnn/gnn.h"
#include "base/progress.h"
#include "base/timeline.h"

/* Training of the whole aligner from a data directory's training and
 * validation links (never the test links), written to a model file:
 *   1. the fusion (fusion.h): name usability, structural features, Sinkhorn,
 *      bootstrapping;
 *   2. the CG-MuAlign GNN (gnn.h) on the training links, with the fusion's
 *      structural features (and the names, when usable) as level 0 and the
 *      fusion's candidates' hard negatives;
 *   3. the attribute model (scorer.h, attributes.h): a logistic regression
 *      over the per-attribute features, fitted on the labelled training
 *      pairs where there are some (train_pairs.tsv), else on the training
 *      links against their fusion candidates;
 *   4. the final scorer (scorer.h): a logistic regression over the fused
 *      score, the name cosine, the GNN distance and the attribute logit,
 *      fitted on the labelled validation pairs where there are some (and
 *      then the pair threshold is the one of the best validation F1), else
 *      on the validation links against their candidates; its sigmoid is
 *      the calibrated probability;
 *   5. the open-world decision (open_world.h) on the validation links. */

typedef enum {
    KGA_FEATURES_AUTO = 0, /* names when the validation links show them usable */
    KGA_FEATURES_NAMES,    /* names and structure, names always used */
    KGA_FEATURES_IDS,      /* structure and learned entity vectors only */
    KGA_FEATURES_BOTH      /* names and learned entity vectors */
} kga_features_t;

/* Receives one line of the training log (epoch, loss, validation Hits@1,
 * time); core/ never prints. */
typedef void (*kga_train_log_fn)(void *ctx, const char *line);

enum { KGA_GNN_OFF = 0, KGA_GNN_ON = 1, KGA_GNN_AUTO = 2 };

typedef struct {
    kga_features_t features;
    kga_fusion_params_t fusion;
    kga_gnn_config_t gnn;
    /* KGA_GNN_AUTO: the GNN is trained when the names are not used (the
     * fusion's decision from the validation links); KGA_GNN_ON, _OFF. */
    int use_gnn;
    uint32_t epochs;       /* GNN epochs (5) */
    uint32_t epoch_positives; /* training links a GNN epoch walks at most,
                                 a new sample each epoch (65536; 0: all) */
    uint32_t calib_topk;   /* candidates per validation entity (10) */
    double threshold;      /* decision probability (0.5) */
    int threads;           /* <= 0: one per CPU */
    uint64_t seed;         /* seeds the fusion and the GNN (1) */
    kga_train_log_fn log;  /* may be NULL */
    void *log_ctx;
} kga_train_params_t;

typedef struct {
    kga_fusion_report_t fusion;
    uint32_t epochs_run;
    double gnn_loss;          /* mean loss of the last epoch */
    double gnn_seconds;
    uint32_t attr_channels;   /* attribute channels the stores share */
    uint32_t attr_features;   /* features of the attribute model */
    uint64_t attr_pairs;      /* pairs it was fitted on (0: not fitted) */
    uint64_t attr_matches;    /* of which matches */
    int labelled;             /* calibrated on labelled validation pairs */
    double valid_hits1;       /* validation Hits@1 of the final scorer
                                 (validation links) */
    double valid_f1;          /* validation F1 at the pair threshold
                                 (labelled validation pairs) */
    double pair_threshold;    /* decision probability of a pair */
    double calib_ece;         /* expected calibration error on validation */
    uint64_t calib_pairs;
    kga_ow_report_t open_world; /* the open-world decision's fit */
    double seconds;
    /* Every stage in order with its wall and CPU time, the fusion's
     * included: what `kgalign train` prints at the end. */
    kga_timeline_t timeline;
} kga_train_report_t;

void kga_train_params_init(kga_train_params_t *p);
int kga_features_parse(const char *name, kga_features_t *out);
const char *kga_features_name(kga_features_t f);

/* Trains on ds (train and valid splits loaded) and writes model_path.
 * Before any work it checks that model_path can be written (a temporary
 * next to it is created and removed), so that a wrong path fails at once
 * and not after hours of training. progress (may be NULL) gets every
 * stage. */
int kga_train(const kga_dataset_t *ds, const kga_train_params_t *p,
              const char *model_path, const kga_progress_t *progress,
              kga_train_report_t *report, kga_err_t *err);

#endif
