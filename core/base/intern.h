#ifndef KGA_INTERN_H
#define KGA_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/error.h"
#include "base/hash_index.h"

/* Strings interned to dense ids: the first time a string is added it gets
 * the next id (0, 1, 2, ...), every later time the same one. The graph
 * builder's entity, relation, type and attribute key tables and the
 * importer's type names. The copies live in an arena the caller passes
 * (several tables may share one); a hash index over the ids finds them.
 *
 * Ownership: the caller owns the struct (a zeroed one is empty, as after
 * kga_intern_init()) and the arena; the table owns its id array and index,
 * freed by kga_intern_destroy(). Strings stay valid as long as the arena.
 * Not thread-safe for adds; finds may run in parallel while nothing adds. */

typedef struct {
    const char *str; /* in the caller's arena */
    uint64_t hash;   /* kept to rehash without rereading the string */
} kga_interned_t;

typedef struct {
    kga_interned_t *items; /* id -> string */
    size_t count, cap;
    kga_hash_index_t index;
} kga_intern_t;

/* An empty table; allocates nothing. */
void kga_intern_init(kga_intern_t *t);

/* The id of the len bytes at s (which need not be NUL-terminated), or -1
 * when they were never added. */
int64_t kga_intern_find(const kga_intern_t *t, const char *s, size_t len);

/* Interns the len bytes at s: *id gets its id, *created (may be NULL) 1
 * when it is new (copied into arena). Returns 0, KGA_ELIMIT past
 * UINT32_MAX - 1 strings, or KGA_ENOMEM (the table is unchanged). */
int kga_intern_add(kga_intern_t *t, kga_arena_t *arena, const char *s,
                   size_t len, uint32_t *id, int *created);

/* The string of an id below kga_intern_count(). */
static inline const char *kga_intern_str(const kga_intern_t *t, uint32_t id)
{
    return t->items[id].str;
}

static inline uint32_t kga_intern_count(const kga_intern_t *t)
{
    return (uint32_t)t->count;
}

/* Frees the id array and the index (not the strings: they are the
 * arena's) and leaves the table empty and usable. */
void kga_intern_destroy(kga_intern_t *t);

#endif
