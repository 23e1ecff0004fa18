#ifndef KGA_GNN_TRAIN_H
#define KGA_GNN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "gnn/gnn.h"
#include "base/progress.h"

/* Training of the alignment GNN (docs/model.md, "Training").
 *
 * An epoch shuffles the training links and walks them (or the first of
 * them, kga_gnn_trainer_limit()) in batches of cfg.batch positives. Each
 * positive (i, i') gets cfg.neg_right corrupted right sides (i, j') and
 * cfg.neg_left corrupted left sides (j, i'); no
 * negative is itself a training link. Of each side's negatives,
 * cfg.hard_negatives are hard: drawn from the cfg.hard_pool nearest wrong
 * entities under the current model; the rest are uniform. The hard pools
 * are refreshed by this module at the start of every epoch from
 * cfg.hard_start on: pair-independent vectors of all entities
 * (kga_gnn_cache_build) and a top-K for every training link of the epoch,
 * in both directions: exact by OpenBLAS sgemm, or by the nearest-neighbour
 * index (features/ann.h) when links times entities pass 2e9. Before that epoch, and with
 * hard_negatives 0, all negatives are uniform.
 *
 * Loss: the hinge sum_n max(0, d(pos) - d(neg_n) + margin), averaged over
 * the positives of a batch; Adam with decoupled weight decay, lazily on the
 * embedding tables (only rows a batch touched).
 *
 * Neighbourhoods are sampled afresh each epoch from (seed, epoch, side);
 * negatives from (seed, epoch, batch). The same seed gives the same
 * parameters bit for bit, for a given number of threads and in practice
 * with any (see gnn.c). */

typedef struct kga_gnn_trainer kga_gnn_trainer_t;

typedef struct {
    uint32_t epoch;      /* the epoch just run, from 0 */
    uint64_t positives;  /* positives seen */
    double loss;         /* mean loss per positive */
    double active;       /* fraction of hinge terms above zero */
    double seconds;      /* wall time of the epoch */
    double hard_seconds; /* of which refreshing the hard pools */
} kga_gnn_epoch_stats_t;

/* Prepares training of m on the links (left, right internal ids; copied).
 * threads <= 0: one per CPU. The model and data must outlive the trainer.
 * Returns 0, KGA_EINVAL (no links, an id out of range, data that does not
 * fit the model) or KGA_ENOMEM. */
int kga_gnn_trainer_new(kga_gnn_t *m, const kga_gnn_data_t *d,
                        const kga_pair_t *links, size_t count,
                        int threads, kga_gnn_trainer_t **out);

/* At most `positives` training links an epoch (0: all of them): each
 * epoch then walks another random sample of that many, and refreshes the
 * hard pools of those only. On a graph of millions of entities an epoch
 * over every link would cost more than the rest of training; a few epochs
 * over samples see each link about as often. */
void kga_gnn_trainer_limit(kga_gnn_trainer_t *t, size_t positives);

/* Runs the next epoch, updating the model's parameters. progress (may be
 * NULL) gets stage "train" with batches done / total. stats may be NULL.
 * Returns 0 or a KGA_E* code (KGA_ENUMERIC when the loss is not finite). */
int kga_gnn_trainer_epoch(kga_gnn_trainer_t *t,
                          const kga_progress_t *progress,
                          kga_gnn_epoch_stats_t *stats);

void kga_gnn_trainer_free(kga_gnn_trainer_t *t);

/* Convenience: new, `epochs` epochs, free. *last (may be NULL) gets the
 * statistics of the last epoch. */
int kga_gnn_train(kga_gnn_t *m, const kga_gnn_data_t *d,
                  const kga_pair_t *links, size_t count, uint32_t epochs,
                  int threads, const kga_progress_t *progress,
                  kga_gnn_epoch_stats_t *last);

#endif
