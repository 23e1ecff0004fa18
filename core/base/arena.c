/* String arena of chunks (see arena.h). One copy for the graph builder,
 * the importers and the link sets, which intern strings by the million. */
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct kga_arena_chunk {
    kga_arena_chunk_t *next;
    size_t used, size;
    char data[];
};

void kga_arena_init(kga_arena_t *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size != 0 ? chunk_size : KGA_ARENA_DEFAULT_CHUNK;
}

static kga_arena_chunk_t *chunk_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(kga_arena_chunk_t))
        return NULL;
    kga_arena_chunk_t *c = malloc(sizeof *c + size);
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->used = 0;
    c->size = size;
    return c;
}

char *kga_arena_strndup(kga_arena_t *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    size_t need = len + 1;
    kga_arena_chunk_t *c = a->head;
    if (c == NULL || c->size - c->used < need) {
        if (need > a->chunk_size) {
            /* A string longer than a chunk gets one of its own, behind the
             * head, which goes on filling. */
            c = chunk_new(need);
            if (c == NULL)
                return NULL;
            if (a->head != NULL) {
                c->next = a->head->next;
                a->head->next = c;
            } else {
                a->head = c;
            }
        } else {
            c = chunk_new(a->chunk_size);
            if (c == NULL)
                return NULL;
            c->next = a->head;
            a->head = c;
        }
    }
    char *dst = c->data + c->used;
    memcpy(dst, s, len);
    dst[len] = '\0';
    c->used += need;
    return dst;
}

char *kga_arena_strdup(kga_arena_t *a, const char *s)
{
    return kga_arena_strndup(a, s, strlen(s));
}

size_t kga_arena_bytes(const kga_arena_t *a)
{
    size_t n = 0;
    for (const kga_arena_chunk_t *c = a->head; c != NULL; c = c->next)
        n += c->size;
    return n;
}

void kga_arena_destroy(kga_arena_t *a)
{
    kga_arena_chunk_t *c = a->head;
    while (c != NULL) {
        kga_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}
