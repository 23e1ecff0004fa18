/* Open-addressing hash index (see hash_index.h; finding and adding are
 * inline there). One copy of the probing, the tags and the growth that the
 * graph builder, the store writer and the importers had each written for
 * themselves. */
#include "base/hash_index.h"

#include <stdlib.h>

static inline uint64_t ref_of(uint64_t slot)
{
    return (slot & KGA_HASH_INDEX_REF_MASK_) - 1;
}

void kga_hash_index_init(kga_hash_index_t *t)
{
    t->slots = NULL;
    t->mask = 0;
    t->count = 0;
}

/* Moves every item into a new array of nslots slots (a power of two). */
static int rehash(kga_hash_index_t *t, size_t nslots,
                  kga_hash_index_hash_fn hash_of, const void *ctx)
{
    uint64_t *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return KGA_ENOMEM;
    size_t mask = nslots - 1;
    for (size_t i = 0; t->slots != NULL && i <= t->mask; i++) {
        uint64_t slot = t->slots[i];
        if (slot == 0)
            continue;
        size_t s = (size_t)hash_of(ctx, ref_of(slot)) & mask;
        while (slots[s] != 0)
            s = (s + 1) & mask;
        slots[s] = slot;
    }
    free(t->slots);
    t->slots = slots;
    t->mask = mask;
    return 0;
}

/* Slots needed to hold n items at most half full. */
static int slots_for(size_t n, size_t *out)
{
    size_t nslots = KGA_HASH_INDEX_MIN_SLOTS;
    while (nslots / 2 < n) {
        if (nslots > SIZE_MAX / 2 / sizeof(uint64_t))
            return KGA_ENOMEM;
        nslots *= 2;
    }
    *out = nslots;
    return 0;
}

int kga_hash_index_reserve(kga_hash_index_t *t, size_t n,
                           kga_hash_index_hash_fn hash_of, const void *ctx)
{
    size_t nslots;
    int rc = slots_for(n, &nslots);
    if (rc != 0)
        return rc;
    if (t->slots != NULL && nslots <= t->mask + 1)
        return 0;
    return rehash(t, nslots, hash_of, ctx);
}

int kga_hash_index_grow_(kga_hash_index_t *t, kga_hash_index_hash_fn hash_of,
                         const void *ctx)
{
    size_t nslots;
    int rc = slots_for(t->count + 1, &nslots);
    if (rc != 0)
        return rc;
    if (t->slots != NULL && nslots <= t->mask + 1)
        nslots = (t->mask + 1) * 2;
    return rehash(t, nslots, hash_of, ctx);
}

void kga_hash_index_destroy(kga_hash_index_t *t)
{
    free(t->slots);
    kga_hash_index_init(t);
}
