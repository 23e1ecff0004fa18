/* Open-addressing hash index (see hash_index.h). One copy of the probing,
 * the tags and the growth that the graph builder, the store writer and the
 * importers had each written for themselves. */
#include "base/hash_index.h"

#include <stdlib.h>

#include "base/error.h"

#define REF_BITS 40
#define REF_MASK ((UINT64_C(1) << REF_BITS) - 1)

static inline uint64_t tag_of(uint64_t h)
{
    return h & ~REF_MASK;
}

static inline uint64_t slot_of(uint64_t h, uint64_t ref)
{
    return tag_of(h) | (ref + 1);
}

static inline uint64_t ref_of(uint64_t slot)
{
    return (slot & REF_MASK) - 1;
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

int64_t kga_hash_index_find(const kga_hash_index_t *t, uint64_t h,
                            const void *key, kga_hash_index_eq_fn eq,
                            const void *ctx)
{
    if (t->slots == NULL)
        return -1;
    uint64_t tag = tag_of(h);
    for (size_t s = (size_t)h & t->mask;; s = (s + 1) & t->mask) {
        uint64_t slot = t->slots[s];
        if (slot == 0)
            return -1;
        if (tag_of(slot) == tag && eq(ctx, ref_of(slot), key))
            return (int64_t)ref_of(slot);
    }
}

int kga_hash_index_add(kga_hash_index_t *t, uint64_t h, uint64_t ref,
                       kga_hash_index_hash_fn hash_of, const void *ctx)
{
    if (ref > KGA_HASH_INDEX_REF_MAX)
        return KGA_ELIMIT;
    if (t->slots == NULL || (t->count + 1) * 2 > t->mask + 1) {
        size_t nslots;
        int rc = slots_for(t->count + 1, &nslots);
        if (rc == 0 && t->slots != NULL && nslots <= t->mask + 1)
            nslots = (t->mask + 1) * 2;
        if (rc == 0)
            rc = rehash(t, nslots, hash_of, ctx);
        if (rc != 0)
            return rc;
    }
    size_t s = (size_t)h & t->mask;
    while (t->slots[s] != 0)
        s = (s + 1) & t->mask;
    t->slots[s] = slot_of(h, ref);
    t->count++;
    return 0;
}

void kga_hash_index_destroy(kga_hash_index_t *t)
{
    free(t->slots);
    kga_hash_index_init(t);
}
