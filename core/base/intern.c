/* String interning to dense ids (see intern.h). One copy for the graph
 * builder's four tables and the importer's type names, which had each
 * written the same find-or-copy over their own hash table. */
#include "base/intern.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/grow.h"

typedef struct {
    const char *s;
    size_t len;
    uint64_t hash;
} intern_key_t;

static int item_eq(const void *ctx, uint64_t id, const void *key)
{
    const kga_interned_t *item = &((const kga_intern_t *)ctx)->items[id];
    const intern_key_t *k = key;
    return item->hash == k->hash && strncmp(item->str, k->s, k->len) == 0 &&
           item->str[k->len] == '\0';
}

static uint64_t item_hash(const void *ctx, uint64_t id)
{
    return ((const kga_intern_t *)ctx)->items[id].hash;
}

void kga_intern_init(kga_intern_t *t)
{
    t->items = NULL;
    t->count = t->cap = 0;
    kga_hash_index_init(&t->index);
}

static int64_t find(const kga_intern_t *t, const intern_key_t *key)
{
    return kga_hash_index_find(&t->index, key->hash, key, item_eq, t);
}

int64_t kga_intern_find(const kga_intern_t *t, const char *s, size_t len)
{
    intern_key_t key = {s, len, kga_hash64(s, len)};
    return find(t, &key);
}

int kga_intern_add(kga_intern_t *t, kga_arena_t *arena, const char *s,
                   size_t len, uint32_t *id, int *created)
{
    intern_key_t key = {s, len, kga_hash64(s, len)};
    int64_t found = find(t, &key);
    if (created != NULL)
        *created = found < 0;
    if (found >= 0) {
        *id = (uint32_t)found;
        return 0;
    }
    if (t->count >= UINT32_MAX - 1)
        return KGA_ELIMIT;
    int grown = kga_grow(&t->items, &t->cap, t->count + 1, 64,
                         sizeof *t->items);
    if (grown != 0)
        return grown;
    const char *copy = kga_arena_strndup(arena, s, len);
    if (copy == NULL)
        return KGA_ENOMEM;
    t->items[t->count] = (kga_interned_t){copy, key.hash};
    int rc = kga_hash_index_add(&t->index, key.hash, t->count, item_hash, t);
    if (rc != 0)
        return rc;
    *id = (uint32_t)t->count++;
    return 0;
}

void kga_intern_destroy(kga_intern_t *t)
{
    free(t->items);
    kga_hash_index_destroy(&t->index);
    t->items = NULL;
    t->count = t->cap = 0;
}
