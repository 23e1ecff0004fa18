#ifndef KGA_HASH_INDEX_H
#define KGA_HASH_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* An open-addressing hash index over items the caller keeps: the graph
 * builder's interned strings and triple set, the store writer's string
 * blob, the DBP15K importer's numeric ids. The caller stores its items
 * where it likes (an array, a blob) and names each with a reference below
 * KGA_HASH_INDEX_REF_MAX (an array index, a blob offset); the index maps a
 * key's 64-bit hash to the references of the items that may hold it.
 *
 * Linear probing over a power-of-two array of 8-byte slots, at most half
 * full. A slot holds the reference and 24 bits of the item's hash, so a
 * probe rejects almost every wrong item without reading it. Items are never
 * removed. The caller supplies the hashes (any well-mixed 64-bit hash) and,
 * through callbacks, equality and the hash of a stored item (for growing).
 *
 * Ownership: the caller owns the struct and its items; the index owns its
 * slot array, freed by kga_hash_index_destroy(). Not thread-safe for
 * writes; finds may run in parallel while nothing adds. */

/* A slot holds a reference (plus one, 0 meaning empty) in its low bits and
 * the top of the item's hash above them. */
#define KGA_HASH_INDEX_REF_BITS_ 40
#define KGA_HASH_INDEX_REF_MASK_ ((UINT64_C(1) << KGA_HASH_INDEX_REF_BITS_) - 1)
/* The largest reference an item may have. */
#define KGA_HASH_INDEX_REF_MAX (KGA_HASH_INDEX_REF_MASK_ - 1)
/* The fewest slots a table has once it holds anything. */
#define KGA_HASH_INDEX_MIN_SLOTS 1024u

typedef struct {
    uint64_t *slots; /* 0: empty, else tag | (reference + 1) */
    size_t mask;     /* slot count - 1 (0 while slots is NULL) */
    size_t count;    /* items added */
} kga_hash_index_t;

/* 1 when the caller's item ref holds key, else 0. */
typedef int (*kga_hash_index_eq_fn)(const void *ctx, uint64_t ref,
                                    const void *key);
/* The hash the caller's item ref was added with. */
typedef uint64_t (*kga_hash_index_hash_fn)(const void *ctx, uint64_t ref);

/* An empty index (as a zeroed struct is too); allocates nothing. */
void kga_hash_index_init(kga_hash_index_t *t);

/* Makes room for n items in all without growing (for a caller that knows
 * its size). Returns 0 or KGA_ENOMEM (the index is unchanged). */
int kga_hash_index_reserve(kga_hash_index_t *t, size_t n,
                           kga_hash_index_hash_fn hash_of, const void *ctx);

/* The reference of the item whose key is key (hash h), or -1 when none. */
static inline int64_t kga_hash_index_find(const kga_hash_index_t *t,
                                          uint64_t h, const void *key,
                                          kga_hash_index_eq_fn eq,
                                          const void *ctx);

/* Adds the caller's item ref with hash h; the caller has made sure no item
 * with its key is there (kga_hash_index_find). Grows the index when it
 * would be more than half full, asking hash_of for the stored items.
 * Returns 0, KGA_ELIMIT for a reference above KGA_HASH_INDEX_REF_MAX, or
 * KGA_ENOMEM; on failure the index is unchanged. */
static inline int kga_hash_index_add(kga_hash_index_t *t, uint64_t h,
                                     uint64_t ref,
                                     kga_hash_index_hash_fn hash_of,
                                     const void *ctx);

/* Frees the slots and leaves the index empty and usable. */
void kga_hash_index_destroy(kga_hash_index_t *t);

/* ---- inline part ---------------------------------------------------------
 * Finding and adding are in the header: the builder and the importers call
 * them for every line of their input, and inlined here the compiler turns
 * the callbacks into direct, inlinable calls. */

/* Grows the slot array for one more item (out of line: rare). */
int kga_hash_index_grow_(kga_hash_index_t *t, kga_hash_index_hash_fn hash_of,
                         const void *ctx);

static inline int64_t kga_hash_index_find(const kga_hash_index_t *t,
                                          uint64_t h, const void *key,
                                          kga_hash_index_eq_fn eq,
                                          const void *ctx)
{
    if (t->slots == NULL)
        return -1;
    uint64_t tag = h & ~KGA_HASH_INDEX_REF_MASK_;
    for (size_t s = (size_t)h & t->mask;; s = (s + 1) & t->mask) {
        uint64_t slot = t->slots[s];
        if (slot == 0)
            return -1;
        uint64_t ref = (slot & KGA_HASH_INDEX_REF_MASK_) - 1;
        if ((slot & ~KGA_HASH_INDEX_REF_MASK_) == tag && eq(ctx, ref, key))
            return (int64_t)ref;
    }
}

static inline int kga_hash_index_add(kga_hash_index_t *t, uint64_t h,
                                     uint64_t ref,
                                     kga_hash_index_hash_fn hash_of,
                                     const void *ctx)
{
    if (ref > KGA_HASH_INDEX_REF_MAX)
        return KGA_ELIMIT;
    if (t->slots == NULL || (t->count + 1) * 2 > t->mask + 1) {
        int rc = kga_hash_index_grow_(t, hash_of, ctx);
        if (rc != 0)
            return rc;
    }
    size_t s = (size_t)h & t->mask;
    while (t->slots[s] != 0)
        s = (s + 1) & t->mask;
    t->slots[s] = (h & ~KGA_HASH_INDEX_REF_MASK_) | (ref + 1);
    t->count++;
    return 0;
}

#endif
