#ifndef KGA_ARENA_H
#define KGA_ARENA_H

#include <stddef.h>

/* A string arena: copies of many small strings (entity ids, names, link
 * ends) carved out of large chunks, so that interning millions of them
 * costs one malloc per chunk instead of one per string, and freeing them
 * all is one walk over the chunks. Strings are never freed one by one and
 * never move: a pointer stays valid until kga_arena_destroy().
 *
 * Ownership: the caller owns the kga_arena_t (usually a member of its own
 * struct); the arena owns the chunks and every string in them. Not
 * thread-safe: one arena per thread. */

typedef struct kga_arena_chunk kga_arena_chunk_t;

typedef struct {
    kga_arena_chunk_t *head; /* the chunk being filled, first in the list */
    size_t chunk_size;
} kga_arena_t;

/* The chunk size when kga_arena_init() is given 0. */
#define KGA_ARENA_DEFAULT_CHUNK ((size_t)1 << 20)

/* An empty arena that allocates chunk_size bytes at a time (0: the
 * default); a longer string gets a chunk of its own. Allocates nothing. */
void kga_arena_init(kga_arena_t *a, size_t chunk_size);

/* A NUL-terminated copy of the len bytes at s (which need not be
 * terminated), or NULL when out of memory (the arena stays usable). */
char *kga_arena_strndup(kga_arena_t *a, const char *s, size_t len);

/* A copy of the NUL-terminated string s, or NULL when out of memory. */
char *kga_arena_strdup(kga_arena_t *a, const char *s);

/* Bytes held in chunks (for statistics and tests). */
size_t kga_arena_bytes(const kga_arena_t *a);

/* Frees every chunk and leaves the arena empty and usable. */
void kga_arena_destroy(kga_arena_t *a);

#endif
