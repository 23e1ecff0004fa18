#ifndef KGA_HASH_INDEX_H
#define KGA_HASH_INDEX_H

#include <stddef.h>
#include <stdint.h>

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

/* The largest reference an item may have. */
#define KGA_HASH_INDEX_REF_MAX ((UINT64_C(1) << 40) - 2)
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
int64_t kga_hash_index_find(const kga_hash_index_t *t, uint64_t h,
                            const void *key, kga_hash_index_eq_fn eq,
                            const void *ctx);

/* Adds the caller's item ref with hash h; the caller has made sure no item
 * with its key is there (kga_hash_index_find). Grows the index when it
 * would be more than half full, asking hash_of for the stored items.
 * Returns 0, KGA_ELIMIT for a reference above KGA_HASH_INDEX_REF_MAX, or
 * KGA_ENOMEM; on failure the index is unchanged. */
int kga_hash_index_add(kga_hash_index_t *t, uint64_t h, uint64_t ref,
                       kga_hash_index_hash_fn hash_of, const void *ctx);

/* Frees the slots and leaves the index empty and usable. */
void kga_hash_index_destroy(kga_hash_index_t *t);

#endif
