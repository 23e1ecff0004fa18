#ifndef KGA_NEIGHBOURS_H
#define KGA_NEIGHBOURS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "gnn/relation_map.h"
#include "store/store.h"

/* A neighbour table: one graph's adjacency in the model's terms, what the
 * sampler (sampler.h) draws from. For every entity, its neighbours in both
 * directions, each with a model relation id (from a relation map,
 * relation_map.h) and a sampling weight 1 / avg_fanout(type of the entity,
 * relation, direction), and the entity's sampling key, the hash of its
 * external id. Built once per graph and read-only afterwards (safe to share
 * between threads).
 *
 * Ownership: the table is the caller's, freed with kga_neighbours_free();
 * it keeps no pointer into the store or the arguments it was built from. */

/* Compressed rows; the layout is here for the sampler's inner loop, other
 * code uses the functions below. */
typedef struct kga_neighbours {
    uint32_t entities;
    uint32_t relations;
    uint64_t *off; /* entities + 1: ent's neighbours are [off[ent],
                      off[ent + 1]) */
    uint32_t *nbr; /* off[entities] entries */
    uint32_t *rel;
    float *fanout; /* 1 / weight: an edge's key is -ln(u) * fanout */
    uint64_t *key; /* per entity */
} kga_neighbours_t;

/* One directed adjacency entry for kga_neighbours_from_edges: ent reaches
 * nbr through model relation rel. */
typedef struct {
    uint32_t ent;
    uint32_t nbr;
    uint32_t rel;
    float weight; /* > 0 */
} kga_neighbour_edge_t;

/* Builds the table of a store: rel_map[rel * 2 + dir] is a model relation
 * below `relations` or KGA_RELATION_NONE. Returns 0, KGA_EINVAL (map entry
 * out of range) or KGA_ENOMEM. */
int kga_neighbours_from_store(const kga_store_t *s, const uint32_t *rel_map,
                              uint32_t relations, kga_neighbours_t **out);

/* Builds a table from explicit entries (tests, in-memory graphs). keys[ent]
 * stands for the hash of the external id (NULL: a hash of the index). Each
 * entity's neighbours keep the order of the array. Returns 0, KGA_EINVAL
 * (an id, relation or weight out of range) or KGA_ENOMEM. */
int kga_neighbours_from_edges(uint32_t entities, uint32_t relations,
                              const kga_neighbour_edge_t *edges, size_t count,
                              const uint64_t *keys, kga_neighbours_t **out);

uint32_t kga_neighbours_entity_count(const kga_neighbours_t *g);
uint32_t kga_neighbours_relation_count(const kga_neighbours_t *g);
uint64_t kga_neighbours_edge_count(const kga_neighbours_t *g);
uint32_t kga_neighbours_degree(const kga_neighbours_t *g, uint32_t ent);
/* The sampling key of an entity (hash of its external id). */
uint64_t kga_neighbours_key(const kga_neighbours_t *g, uint32_t ent);

/* NULL is allowed. */
void kga_neighbours_free(kga_neighbours_t *g);

#endif
