/* Growable arrays (see grow.h). Separate from xalloc.c, whose allocations
 * abort: these return their failure, as their sizes come from input. */
#include "base/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

size_t kga_grow_capacity(size_t cap, size_t need, size_t first,
                         size_t item_size)
{
    if (item_size == 0)
        item_size = 1;
    size_t max = SIZE_MAX / item_size;
    if (need > max)
        return 0;
    if (need <= cap)
        return cap;
    size_t n = cap ? cap : first ? first : 1;
    while (n < need) {
        if (n > max / 2)
            return 0;
        n *= 2;
    }
    return n <= max ? n : 0;
}

int kga_grow_resize(void *array_addr, size_t cap, size_t item_size)
{
    /* The address holds a T *: copied as bytes, not read through a void **
     * lvalue, which the aliasing rules forbid. */
    if (item_size != 0 && cap > SIZE_MAX / item_size)
        return KGA_ELIMIT;
    void *items;
    memcpy(&items, array_addr, sizeof items);
    void *p = realloc(items, cap * item_size);
    if (p == NULL)
        return KGA_ENOMEM;
    memcpy(array_addr, &p, sizeof p);
    return 0;
}

int kga_grow(void *array_addr, size_t *cap, size_t need, size_t first,
             size_t item_size)
{
    if (need <= *cap)
        return 0;
    size_t n = kga_grow_capacity(*cap, need, first, item_size);
    if (n == 0)
        return KGA_ELIMIT;
    int rc = kga_grow_resize(array_addr, n, item_size);
    if (rc != 0)
        return rc;
    *cap = n;
    return 0;
}
