/* In-memory graph under construction. Strings live in a chunked arena
 * (base/arena.h) so that interning millions of ids costs one allocation per
 * megabyte, not per string; the intern tables and the triple and attribute
 * sets are hash indexes (base/hash_index.h) over dense arrays. */
#include "store/graph_builder.h"

#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/hash.h"
#include "base/hash_index.h"

/* ---- growable arrays ---- */

static int grow(void **items, size_t *cap, size_t need, size_t item_size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *p = realloc(*items, n * item_size);
    if (p == NULL)
        return KGA_ENOMEM;
    *items = p;
    *cap = n;
    return 0;
}

/* ---- string intern table: string -> dense id ---- */

typedef struct {
    const char *str; /* in the arena */
    uint64_t hash;   /* kept to rehash without rereading the string */
} interned_t;

typedef struct {
    interned_t *items; /* id -> string */
    size_t count, cap;
    kga_hash_index_t index;
} intern_t;

typedef struct {
    const char *s;
    size_t len;
    uint64_t hash;
} intern_key_t;

static int intern_eq(const void *ctx, uint64_t id, const void *key)
{
    const interned_t *item = &((const intern_t *)ctx)->items[id];
    const intern_key_t *k = key;
    return item->hash == k->hash && strncmp(item->str, k->s, k->len) == 0 &&
           item->str[k->len] == '\0';
}

static uint64_t intern_hash_of(const void *ctx, uint64_t id)
{
    return ((const intern_t *)ctx)->items[id].hash;
}

static int64_t intern_find(const intern_t *t, const char *s, size_t len,
                           uint64_t h)
{
    intern_key_t key = {s, len, h};
    return kga_hash_index_find(&t->index, h, &key, intern_eq, t);
}

/* Interns s; *out gets its id, *created 1 when it was new. */
static int intern_add(intern_t *t, kga_arena_t *arena, const char *s,
                      uint32_t *out, int *created)
{
    size_t len = strlen(s);
    uint64_t h = kga_hash64(s, len);
    int64_t found = intern_find(t, s, len, h);
    if (created != NULL)
        *created = found < 0;
    if (found >= 0) {
        *out = (uint32_t)found;
        return 0;
    }
    if (t->count >= UINT32_MAX - 1)
        return KGA_ELIMIT;
    if (grow((void **)&t->items, &t->cap, t->count + 1, sizeof *t->items))
        return KGA_ENOMEM;
    const char *copy = kga_arena_strndup(arena, s, len);
    if (copy == NULL)
        return KGA_ENOMEM;
    uint32_t id = (uint32_t)t->count;
    t->items[id] = (interned_t){copy, h};
    int rc = kga_hash_index_add(&t->index, h, id, intern_hash_of, t);
    if (rc != 0)
        return rc;
    t->count++;
    *out = id;
    return 0;
}

static void intern_free(intern_t *t)
{
    free(t->items);
    kga_hash_index_destroy(&t->index);
}

/* ---- the builder ---- */

typedef struct {
    const char *name; /* NULL when unset */
    uint32_t type;    /* UINT32_MAX when unset */
} entity_info_t;

struct kga_graph_builder {
    kga_arena_t arena;
    intern_t entities, relations, types, keys;
    entity_info_t *info;
    size_t info_cap;

    kga_builder_triple_t *triples;
    size_t triple_count, triple_cap;
    kga_hash_index_t triple_set; /* over triples[] */
    uint64_t duplicate_triples;

    kga_builder_attr_t *attrs;
    size_t attr_count, attr_cap;
    kga_hash_index_t attr_set; /* over attrs[] */
};

kga_graph_builder_t *kga_builder_new(void)
{
    kga_graph_builder_t *b = calloc(1, sizeof(kga_graph_builder_t));
    if (b != NULL)
        kga_arena_init(&b->arena, 0); /* the zeroed indexes are empty */
    return b;
}

void kga_builder_free(kga_graph_builder_t *b)
{
    if (b == NULL)
        return;
    intern_free(&b->entities);
    intern_free(&b->relations);
    intern_free(&b->types);
    intern_free(&b->keys);
    free(b->info);
    free(b->triples);
    kga_hash_index_destroy(&b->triple_set);
    free(b->attrs);
    kga_hash_index_destroy(&b->attr_set);
    kga_arena_destroy(&b->arena);
    free(b);
}

int kga_builder_entity(kga_graph_builder_t *b, const char *ext_id,
                       uint32_t *out_id, int *created)
{
    if (ext_id == NULL || ext_id[0] == '\0')
        return KGA_EINVAL;
    int is_new = 0;
    int rc = intern_add(&b->entities, &b->arena, ext_id, out_id, &is_new);
    if (rc != 0)
        return rc;
    if (is_new) {
        if (grow((void **)&b->info, &b->info_cap, b->entities.count,
                 sizeof *b->info))
            return KGA_ENOMEM;
        b->info[*out_id] = (entity_info_t){NULL, UINT32_MAX};
    }
    if (created != NULL)
        *created = is_new;
    return 0;
}

int64_t kga_builder_find_entity(const kga_graph_builder_t *b,
                                const char *ext_id)
{
    size_t len = strlen(ext_id);
    return intern_find(&b->entities, ext_id, len, kga_hash64(ext_id, len));
}

int kga_builder_set_name(kga_graph_builder_t *b, uint32_t ent,
                         const char *name)
{
    if (ent >= b->entities.count || name == NULL)
        return KGA_EINVAL;
    const char *copy = kga_arena_strdup(&b->arena, name);
    if (copy == NULL)
        return KGA_ENOMEM;
    b->info[ent].name = copy;
    return 0;
}

int kga_builder_set_type(kga_graph_builder_t *b, uint32_t ent,
                         const char *type_name)
{
    if (ent >= b->entities.count || type_name == NULL || type_name[0] == '\0')
        return KGA_EINVAL;
    uint32_t t;
    int rc = intern_add(&b->types, &b->arena, type_name, &t, NULL);
    if (rc == 0)
        b->info[ent].type = t;
    return rc;
}

int kga_builder_relation(kga_graph_builder_t *b, const char *name,
                         uint32_t *out_rel)
{
    if (name == NULL || name[0] == '\0')
        return KGA_EINVAL;
    return intern_add(&b->relations, &b->arena, name, out_rel, NULL);
}

static uint64_t triple_hash(const kga_builder_triple_t *t)
{
    return kga_hash64(t, sizeof *t);
}

static uint64_t stored_triple_hash(const void *ctx, uint64_t r)
{
    const kga_graph_builder_t *b = ctx;
    return triple_hash(&b->triples[r]);
}

static int triple_eq(const void *ctx, uint64_t r, const void *candidate)
{
    const kga_graph_builder_t *b = ctx;
    const kga_builder_triple_t *c = candidate, *t = &b->triples[r];
    return t->head == c->head && t->rel == c->rel && t->tail == c->tail;
}

int kga_builder_triple(kga_graph_builder_t *b, uint32_t head, uint32_t rel,
                       uint32_t tail)
{
    if (head >= b->entities.count || tail >= b->entities.count ||
        rel >= b->relations.count)
        return KGA_EINVAL;
    kga_builder_triple_t t = {head, rel, tail};
    uint64_t h = triple_hash(&t);
    if (kga_hash_index_find(&b->triple_set, h, &t, triple_eq, b) >= 0) {
        b->duplicate_triples++;
        return 0;
    }
    if (grow((void **)&b->triples, &b->triple_cap, b->triple_count + 1,
             sizeof *b->triples))
        return KGA_ENOMEM;
    b->triples[b->triple_count] = t;
    int rc = kga_hash_index_add(&b->triple_set, h, b->triple_count,
                                stored_triple_hash, b);
    if (rc == 0)
        b->triple_count++;
    return rc;
}

static uint64_t attr_hash(uint32_t ent, uint32_t key, const char *literal)
{
    uint64_t h = kga_hash64(literal, strlen(literal));
    h ^= ((uint64_t)ent << 32 | key) * 0x9e3779b97f4a7c15ull;
    /* Fold the high half in: slots are taken from the low bits, and the
     * entity only reaches the high half above (without this, one literal
     * shared by many entities, e.g. a type "Person", piles into one probe
     * run and insertion goes quadratic). */
    h ^= h >> 32;
    return h * 0xbf58476d1ce4e5b9ull;
}

static uint64_t stored_attr_hash(const void *ctx, uint64_t r)
{
    const kga_graph_builder_t *b = ctx;
    const kga_builder_attr_t *a = &b->attrs[r];
    return attr_hash(a->ent, a->key, a->literal);
}

static int attr_eq(const void *ctx, uint64_t r, const void *candidate)
{
    const kga_graph_builder_t *b = ctx;
    const kga_builder_attr_t *c = candidate, *a = &b->attrs[r];
    return a->ent == c->ent && a->key == c->key &&
           strcmp(a->literal, c->literal) == 0;
}

int kga_builder_attribute(kga_graph_builder_t *b, uint32_t ent,
                          const char *key, const char *literal)
{
    if (ent >= b->entities.count || key == NULL || key[0] == '\0' ||
        literal == NULL)
        return KGA_EINVAL;
    uint32_t k;
    int rc = intern_add(&b->keys, &b->arena, key, &k, NULL);
    if (rc != 0)
        return rc;
    kga_builder_attr_t a = {ent, k, literal};
    uint64_t h = attr_hash(ent, k, literal);
    if (kga_hash_index_find(&b->attr_set, h, &a, attr_eq, b) >= 0)
        return 0;
    if (grow((void **)&b->attrs, &b->attr_cap, b->attr_count + 1,
             sizeof *b->attrs))
        return KGA_ENOMEM;
    a.literal = kga_arena_strdup(&b->arena, literal);
    if (a.literal == NULL)
        return KGA_ENOMEM;
    b->attrs[b->attr_count] = a;
    rc = kga_hash_index_add(&b->attr_set, h, b->attr_count, stored_attr_hash,
                            b);
    if (rc == 0)
        b->attr_count++;
    return rc;
}

uint32_t kga_builder_entity_count(const kga_graph_builder_t *b)
{
    return (uint32_t)b->entities.count;
}

uint32_t kga_builder_relation_count(const kga_graph_builder_t *b)
{
    return (uint32_t)b->relations.count;
}

uint32_t kga_builder_type_count(const kga_graph_builder_t *b)
{
    return (uint32_t)b->types.count;
}

uint32_t kga_builder_attr_key_count(const kga_graph_builder_t *b)
{
    return (uint32_t)b->keys.count;
}

uint64_t kga_builder_triple_count(const kga_graph_builder_t *b)
{
    return b->triple_count;
}

uint64_t kga_builder_attribute_count(const kga_graph_builder_t *b)
{
    return b->attr_count;
}

uint64_t kga_builder_duplicate_triples(const kga_graph_builder_t *b)
{
    return b->duplicate_triples;
}

const char *kga_builder_entity_ext_id(const kga_graph_builder_t *b,
                                      uint32_t ent)
{
    return b->entities.items[ent].str;
}

const char *kga_builder_entity_name(const kga_graph_builder_t *b,
                                    uint32_t ent)
{
    return b->info[ent].name;
}

uint32_t kga_builder_entity_type(const kga_graph_builder_t *b, uint32_t ent)
{
    return b->info[ent].type;
}

const char *kga_builder_type_name(const kga_graph_builder_t *b, uint32_t t)
{
    return b->types.items[t].str;
}

const char *kga_builder_relation_name(const kga_graph_builder_t *b,
                                      uint32_t rel)
{
    return b->relations.items[rel].str;
}

const char *kga_builder_attr_key_name(const kga_graph_builder_t *b,
                                      uint32_t key)
{
    return b->keys.items[key].str;
}

const kga_builder_triple_t *kga_builder_triples(const kga_graph_builder_t *b,
                                                uint64_t *count)
{
    *count = b->triple_count;
    return b->triples;
}

const kga_builder_attr_t *kga_builder_attributes(const kga_graph_builder_t *b,
                                                 uint64_t *count)
{
    *count = b->attr_count;
    return b->attrs;
}
