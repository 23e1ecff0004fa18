#ifndef KGA_RELATION_MAP_H
#define KGA_RELATION_MAP_H

#include <stdint.h>

#include "store/store.h"

/* The model's relations for two stores: a relation map gives each store
 * relation, read in one direction, the id of a model relation, so that the
 * GNN has one set of relation transforms for both graphs (docs/model.md,
 * "CG-MuAlign"). map[rel * 2 + dir] is the model id of store relation rel
 * read in direction dir (KGA_DIR_OUT / KGA_DIR_IN). */

/* A map entry for a relation and direction whose edges the model leaves
 * out (kga_neighbours_from_store drops them). */
#define KGA_RELATION_NONE UINT32_MAX

/* Fills the maps of two stores, every (relation, direction) pair with its
 * own model id. With share_names, a relation name present in both stores
 * gets the same two ids on both sides (aligned vocabularies); otherwise the
 * two vocabularies get disjoint ids. map_left / map_right are the caller's,
 * 2 * relation count entries each. *relations receives R, the number of
 * model ids. Returns 0 or KGA_ENOMEM. */
int kga_relation_map_build(const kga_store_t *left, const kga_store_t *right,
                           int share_names, uint32_t *map_left,
                           uint32_t *map_right, uint32_t *relations);

#endif
