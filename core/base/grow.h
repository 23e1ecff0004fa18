#ifndef KGA_GROW_H
#define KGA_GROW_H

#include <stddef.h>

/* Growable arrays: the one rule for making room in a realloc'd array whose
 * length comes from input (a file's links, a request's connections), so
 * that every such array doubles the same way and checks the byte count
 * for overflow before it asks for memory. Failures are returned, never
 * fatal (for small fixed allocations see xalloc.h).
 *
 * An array is a pointer the caller owns (NULL while empty, released with
 * free()) and its capacity in items. Functions take the pointer's address
 * as void * (a T ** converted), so one helper serves every item type. */

/* The capacity that holds need items: cap (first when cap is 0) doubled
 * until it does; cap itself when it already does. 0 when need items of
 * item_size bytes, or that doubling, would not fit in a size_t. */
size_t kga_grow_capacity(size_t cap, size_t need, size_t first,
                         size_t item_size);

/* Resizes the array at array_addr to exactly cap items of item_size bytes.
 * 0, KGA_ELIMIT when the size would not fit in a size_t, or KGA_ENOMEM;
 * on failure the array is unchanged. For parallel arrays that share one
 * capacity: resize each, then store the capacity. */
int kga_grow_resize(void *array_addr, size_t cap, size_t item_size);

/* Makes room for need items in the array at array_addr, whose capacity is
 * *cap: nothing when it holds them, else the capacity of
 * kga_grow_capacity. 0, KGA_ELIMIT when the size overflows, or KGA_ENOMEM;
 * on failure the array and *cap are unchanged. The new items are not
 * initialised. */
int kga_grow(void *array_addr, size_t *cap, size_t need, size_t first,
             size_t item_size);

#endif
