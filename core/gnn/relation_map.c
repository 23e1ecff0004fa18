/* The relation map of two stores (relation_map.h): the model relation of
 * every store relation and direction, shared by name or kept apart. Apart
 * from the neighbour tables because it looks at both stores' vocabularies,
 * while a table is built from one store with the map given. */
#include "gnn/relation_map.h"

#include <stdlib.h>
#include <string.h>

static int cmp_rel_name(const void *a, const void *b, void *store)
{
    return strcmp(kga_store_relation_name(store, *(const uint32_t *)a),
                  kga_store_relation_name(store, *(const uint32_t *)b));
}

int kga_relation_map_build(const kga_store_t *left, const kga_store_t *right,
                           int share_names, uint32_t *map_left,
                           uint32_t *map_right, uint32_t *relations)
{
    uint32_t nl = kga_store_relation_count(left);
    uint32_t nr = kga_store_relation_count(right);
    uint32_t next = 0;
    for (uint32_t r = 0; r < nl; r++) {
        map_left[2 * r + KGA_DIR_OUT] = next++;
        map_left[2 * r + KGA_DIR_IN] = next++;
    }
    uint32_t *order = NULL;
    if (share_names && nl > 0) {
        /* Left names in sorted order, for a binary search per right name
         * (without relying on the store's own order). */
        order = malloc((size_t)nl * sizeof *order);
        if (order == NULL)
            return KGA_ENOMEM;
        for (uint32_t r = 0; r < nl; r++)
            order[r] = r;
        qsort_r(order, nl, sizeof *order, cmp_rel_name, (void *)left);
    }
    for (uint32_t r = 0; r < nr; r++) {
        int64_t found = -1;
        if (order != NULL) {
            const char *name = kga_store_relation_name(right, r);
            uint32_t lo = 0, hi = nl;
            while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                int c = strcmp(kga_store_relation_name(left, order[mid]),
                               name);
                if (c == 0) {
                    found = order[mid];
                    break;
                }
                if (c < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
        }
        if (found >= 0) {
            map_right[2 * r + KGA_DIR_OUT] = map_left[2 * found + KGA_DIR_OUT];
            map_right[2 * r + KGA_DIR_IN] = map_left[2 * found + KGA_DIR_IN];
        } else {
            map_right[2 * r + KGA_DIR_OUT] = next++;
            map_right[2 * r + KGA_DIR_IN] = next++;
        }
    }
    free(order);
    *relations = next;
    return 0;
}
