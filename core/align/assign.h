#ifndef KGA_ASSIGN_H
#define KGA_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* The right id of a left entity without a partner. */
#define KGA_ASSIGN_NONE UINT32_MAX

/* A greedy global one-to-one assignment of left entities to right
 * entities, from their scored candidate pairs (`kgalign align
 * --one-to-one`): all pairs in increasing distance, a pair accepted when
 * neither of its entities is taken yet. Each right entity is then the
 * partner of at most one left entity, and each left entity gets its best
 * candidate still free. Not an optimal matching (Hungarian), but
 * O(n log n) and stable under reordering of the input: ties in distance go
 * by left id, then by right id, and NaN distances come last. */

/* One (left, right) candidate pair and its score. */
typedef struct {
    uint32_t left, right;
    float distance, probability;
} kga_scored_pair_t;

/* Sorts pairs[0..n_pairs) as above (in place) and fills partner[0..n_left)
 * with the pair accepted for each left entity, or {l, KGA_ASSIGN_NONE, NAN,
 * NAN} when all its candidates were taken. Everything is the caller's.
 * Returns 0, KGA_ERANGE (with a message) for an id not below n_left /
 * n_right, or KGA_ENOMEM; partner is then unspecified. */
int kga_assign_greedy(kga_scored_pair_t *pairs, size_t n_pairs,
                      uint32_t n_left, uint32_t n_right,
                      kga_scored_pair_t *partner, kga_err_t *err);

#endif
