#ifndef KGA_SAMPLER_H
#define KGA_SAMPLER_H

#include <stdint.h>

#include "gnn/neighbours.h"

/* Neighbourhood sampling for the GNN (docs/model.md, "Neighbourhood
 * sampling"), from a neighbour table (neighbours.h).
 *
 * A sample is at most `max` neighbours drawn without replacement with
 * probability proportional to their weights (Efraimidis-Spirakis: each edge
 * gets the key -ln(u) / w with u uniform, the smallest keys win). The u of an
 * edge is a hash of the sampling seed, the key of the entity, the key of the
 * neighbour and the relation, where an entity's key is the hash of its
 * external id: a sample depends on the seed and on the graph's content, not
 * on internal ids nor on the order of the adjacency. Training passes a seed
 * derived from the training seed and the epoch (a fresh sample each epoch,
 * kga_sample_seed()); inference passes KGA_SAMPLE_INFERENCE, so scores are
 * reproducible. */

/* Largest number of neighbours one sample may hold. */
#define KGA_SAMPLE_MAX 64u
/* The seed of inference samples. */
#define KGA_SAMPLE_INFERENCE UINT64_C(0x6b67612d696e6665)

typedef enum {
    KGA_SAMPLE_WEIGHTED = 0, /* weight 1 / avg_fanout (the model) */
    KGA_SAMPLE_UNIFORM = 1   /* every edge alike (ablation) */
} kga_sample_mode_t;

/* The seed of the training samples of one epoch on one side (0 left,
 * 1 right). */
uint64_t kga_sample_seed(uint64_t train_seed, uint32_t epoch, int side);

/* Draws at most max (<= KGA_SAMPLE_MAX) neighbours of ent into nbr[] and
 * rel[] (each of room max), smallest key first (all of them when the entity
 * has no more than max, still in key order, so that sums over a sample do
 * not depend on the adjacency order either). Returns the number drawn. Pure
 * function of its arguments; no allocation. */
uint32_t kga_sample_neighbours(const kga_neighbours_t *g, uint32_t ent,
                               uint64_t seed, kga_sample_mode_t mode,
                               uint32_t max, uint32_t *nbr, uint32_t *rel);

#endif
