#ifndef KGA_SAMPLER_H
#define KGA_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* Neighbourhood sampling for the GNN (docs/model.md, "Neighbourhood
 * sampling").
 *
 * A kga_nbrs_t is one graph's adjacency in the model's terms: for every
 * entity, its neighbours in both directions, each with a model relation id
 * (from a relation map: store relation, direction -> model relation) and a
 * sampling weight 1 / avg_fanout(type of the entity, relation, direction).
 * It is built once per graph and is read-only afterwards (safe to share
 * between threads).
 *
 * A sample is at most `max` neighbours drawn without replacement with
 * probability proportional to their weights (Efraimidis-Spirakis: each edge
 * gets the key -ln(u) / w with u uniform, the smallest keys win). The u of an
 * edge is a hash of the sampling seed, the key of the entity, the key of the
 * neighbour and the relation, where an entity's key is the hash of its
 * external id: a sample depends on the seed and on the graph's content, not
 * on internal ids nor on the order of the adjacency. Training passes a seed
 * derived from the training seed and the epoch (a fresh sample each epoch);
 * inference passes KGA_SAMPLE_INFERENCE, so scores are reproducible. */

/* Relation map entries that drop the edges of that relation and direction. */
#define KGA_REL_NONE UINT32_MAX
/* Largest number of neighbours one sample may hold. */
#define KGA_SAMPLE_MAX 64u
/* The seed of inference samples. */
#define KGA_SAMPLE_INFERENCE UINT64_C(0x6b67612d696e6665)

typedef enum {
    KGA_SAMPLE_WEIGHTED = 0, /* weight 1 / avg_fanout (the model) */
    KGA_SAMPLE_UNIFORM = 1   /* every edge alike (ablation) */
} kga_sample_mode_t;

typedef struct kga_nbrs kga_nbrs_t;

/* One directed adjacency entry for kga_nbrs_from_edges: ent reaches nbr
 * through model relation rel. */
typedef struct {
    uint32_t ent;
    uint32_t nbr;
    uint32_t rel;
    float weight; /* > 0 */
} kga_nbr_edge_t;

/* A relation map for two stores: map_*[rel * 2 + dir] gets the model id of
 * store relation rel read in direction dir (KGA_DIR_OUT / KGA_DIR_IN), every
 * pair distinct. With share_names, a relation name present in both stores
 * gets the same two ids on both sides (aligned vocabularies); otherwise the
 * two vocabularies get disjoint ids. map_left / map_right hold 2 * relation
 * count entries each. *relations receives R, the number of model ids. */
int kga_relmap_build(const kga_store_t *left, const kga_store_t *right,
                     int share_names, uint32_t *map_left, uint32_t *map_right,
                     uint32_t *relations);

/* Builds the table of a store: rel_map[rel * 2 + dir] is a model relation
 * below `relations` or KGA_REL_NONE. Returns 0, KGA_EINVAL (map entry out of
 * range) or KGA_ENOMEM. Free with kga_nbrs_free. */
int kga_nbrs_from_store(const kga_store_t *s, const uint32_t *rel_map,
                        uint32_t relations, kga_nbrs_t **out);

/* Builds a table from explicit entries (tests, in-memory graphs). keys[ent]
 * stands for the hash of the external id (NULL: a hash of the index). Each
 * entity's neighbours keep the order of the array. Returns 0, KGA_EINVAL
 * (an id, relation or weight out of range) or KGA_ENOMEM. */
int kga_nbrs_from_edges(uint32_t entities, uint32_t relations,
                        const kga_nbr_edge_t *edges, size_t count,
                        const uint64_t *keys, kga_nbrs_t **out);

void kga_nbrs_free(kga_nbrs_t *g);

uint32_t kga_nbrs_entity_count(const kga_nbrs_t *g);
uint32_t kga_nbrs_relation_count(const kga_nbrs_t *g);
uint64_t kga_nbrs_edge_count(const kga_nbrs_t *g);
uint32_t kga_nbrs_degree(const kga_nbrs_t *g, uint32_t ent);
/* The sampling key of an entity (hash of its external id). */
uint64_t kga_nbrs_key(const kga_nbrs_t *g, uint32_t ent);

/* The seed of the training samples of one epoch on one side (0 left,
 * 1 right). */
uint64_t kga_sample_seed(uint64_t train_seed, uint32_t epoch, int side);

/* Draws at most max (<= KGA_SAMPLE_MAX) neighbours of ent into nbr[] and
 * rel[] (each of room max), smallest key first (all of them when the entity
 * has no more than max, still in key order, so that sums over a sample do
 * not depend on the adjacency order either). Returns the number drawn. Pure
 * function of its arguments; no allocation. */
uint32_t kga_nbrs_sample(const kga_nbrs_t *g, uint32_t ent, uint64_t seed,
                         kga_sample_mode_t mode, uint32_t max, uint32_t *nbr,
                         uint32_t *rel);

#endif
