/* In-memory graph under construction. Strings live in a chunked arena
 * (base/arena.h) so that interning millions of ids costs one allocation per
 * megabyte, not per string; they are interned by base/intern.h, and the
 * triple and attribute sets are hash indexes (base/hash_index.h) over dense
 * arrays. */
#include "store/graph_builder.h"

#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/grow.h"
#include "base/hash.h"
#include "base/hash_index.h"
#include "base/intern.h"

/* ---- the builder ---- */

typedef struct {
    const char *name; /* NULL when unset */
    uint32_t type;    /* UINT32_MAX when unset */
} entity_info_t;

struct kga_graph_builder {
    kga_arena_t arena;
    kga_intern_t entities, relations, types, keys;
    entity_info_t *info;
    size_t info_cap;

    kga_graph_builder_triple_t *triples;
    size_t triple_count, triple_cap;
    kga_hash_index_t triple_set; /* over triples[] */
    uint64_t duplicate_triples;

    kga_graph_builder_attr_t *attrs;
    size_t attr_count, attr_cap;
    kga_hash_index_t attr_set; /* over attrs[] */
};

kga_graph_builder_t *kga_graph_builder_new(void)
{
    kga_graph_builder_t *b = calloc(1, sizeof(kga_graph_builder_t));
    if (b != NULL)
        kga_arena_init(&b->arena, 0); /* the zeroed indexes are empty */
    return b;
}

void kga_graph_builder_free(kga_graph_builder_t *b)
{
    if (b == NULL)
        return;
    kga_intern_destroy(&b->entities);
    kga_intern_destroy(&b->relations);
    kga_intern_destroy(&b->types);
    kga_intern_destroy(&b->keys);
    free(b->info);
    free(b->triples);
    kga_hash_index_destroy(&b->triple_set);
    free(b->attrs);
    kga_hash_index_destroy(&b->attr_set);
    kga_arena_destroy(&b->arena);
    free(b);
}

int kga_graph_builder_entity(kga_graph_builder_t *b, const char *ext_id,
                             uint32_t *out_id, int *created)
{
    if (ext_id == NULL || ext_id[0] == '\0')
        return KGA_EINVAL;
    int is_new = 0;
    int rc = kga_intern_add(&b->entities, &b->arena, ext_id, strlen(ext_id),
                            out_id, &is_new);
    if (rc != 0)
        return rc;
    if (is_new) {
        if (kga_grow(&b->info, &b->info_cap, b->entities.count, 64,
                     sizeof *b->info))
            return KGA_ENOMEM;
        b->info[*out_id] = (entity_info_t){NULL, UINT32_MAX};
    }
    if (created != NULL)
        *created = is_new;
    return 0;
}

int64_t kga_graph_builder_find_entity(const kga_graph_builder_t *b,
                                      const char *ext_id)
{
    return kga_intern_find(&b->entities, ext_id, strlen(ext_id));
}

int kga_graph_builder_set_name(kga_graph_builder_t *b, uint32_t ent,
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

int kga_graph_builder_set_type(kga_graph_builder_t *b, uint32_t ent,
                               const char *type_name)
{
    if (ent >= b->entities.count || type_name == NULL || type_name[0] == '\0')
        return KGA_EINVAL;
    uint32_t t;
    int rc = kga_intern_add(&b->types, &b->arena, type_name,
                            strlen(type_name), &t, NULL);
    if (rc == 0)
        b->info[ent].type = t;
    return rc;
}

int kga_graph_builder_relation(kga_graph_builder_t *b, const char *name,
                               uint32_t *out_rel)
{
    if (name == NULL || name[0] == '\0')
        return KGA_EINVAL;
    return kga_intern_add(&b->relations, &b->arena, name, strlen(name),
                          out_rel, NULL);
}

static uint64_t triple_hash(const kga_graph_builder_triple_t *t)
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
    const kga_graph_builder_triple_t *c = candidate, *t = &b->triples[r];
    return t->head == c->head && t->rel == c->rel && t->tail == c->tail;
}

int kga_graph_builder_triple(kga_graph_builder_t *b, uint32_t head,
                             uint32_t rel, uint32_t tail)
{
    if (head >= b->entities.count || tail >= b->entities.count ||
        rel >= b->relations.count)
        return KGA_EINVAL;
    kga_graph_builder_triple_t t = {head, rel, tail};
    uint64_t h = triple_hash(&t);
    if (kga_hash_index_find(&b->triple_set, h, &t, triple_eq, b) >= 0) {
        b->duplicate_triples++;
        return 0;
    }
    if (kga_grow(&b->triples, &b->triple_cap, b->triple_count + 1, 64,
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
    const kga_graph_builder_attr_t *a = &b->attrs[r];
    return attr_hash(a->ent, a->key, a->literal);
}

static int attr_eq(const void *ctx, uint64_t r, const void *candidate)
{
    const kga_graph_builder_t *b = ctx;
    const kga_graph_builder_attr_t *c = candidate, *a = &b->attrs[r];
    return a->ent == c->ent && a->key == c->key &&
           strcmp(a->literal, c->literal) == 0;
}

int kga_graph_builder_attribute(kga_graph_builder_t *b, uint32_t ent,
                                const char *key, const char *literal)
{
    if (ent >= b->entities.count || key == NULL || key[0] == '\0' ||
        literal == NULL)
        return KGA_EINVAL;
    uint32_t k;
    int rc = kga_intern_add(&b->keys, &b->arena, key, strlen(key), &k, NULL);
    if (rc != 0)
        return rc;
    kga_graph_builder_attr_t a = {ent, k, literal};
    uint64_t h = attr_hash(ent, k, literal);
    if (kga_hash_index_find(&b->attr_set, h, &a, attr_eq, b) >= 0)
        return 0;
    if (kga_grow(&b->attrs, &b->attr_cap, b->attr_count + 1, 64,
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

uint32_t kga_graph_builder_entity_count(const kga_graph_builder_t *b)
{
    return kga_intern_count(&b->entities);
}

uint32_t kga_graph_builder_relation_count(const kga_graph_builder_t *b)
{
    return kga_intern_count(&b->relations);
}

uint32_t kga_graph_builder_type_count(const kga_graph_builder_t *b)
{
    return kga_intern_count(&b->types);
}

uint32_t kga_graph_builder_attr_key_count(const kga_graph_builder_t *b)
{
    return kga_intern_count(&b->keys);
}

uint64_t kga_graph_builder_triple_count(const kga_graph_builder_t *b)
{
    return b->triple_count;
}

uint64_t kga_graph_builder_attribute_count(const kga_graph_builder_t *b)
{
    return b->attr_count;
}

uint64_t kga_graph_builder_duplicate_triples(const kga_graph_builder_t *b)
{
    return b->duplicate_triples;
}

const char *kga_graph_builder_entity_ext_id(const kga_graph_builder_t *b,
                                            uint32_t ent)
{
    return kga_intern_str(&b->entities, ent);
}

const char *kga_graph_builder_entity_name(const kga_graph_builder_t *b,
                                          uint32_t ent)
{
    return b->info[ent].name;
}

uint32_t kga_graph_builder_entity_type(const kga_graph_builder_t *b,
                                       uint32_t ent)
{
    return b->info[ent].type;
}

const char *kga_graph_builder_type_name(const kga_graph_builder_t *b,
                                        uint32_t t)
{
    return kga_intern_str(&b->types, t);
}

const char *kga_graph_builder_relation_name(const kga_graph_builder_t *b,
                                            uint32_t rel)
{
    return kga_intern_str(&b->relations, rel);
}

const char *kga_graph_builder_attr_key_name(const kga_graph_builder_t *b,
                                            uint32_t key)
{
    return kga_intern_str(&b->keys, key);
}

const kga_graph_builder_triple_t *
kga_graph_builder_triples(const kga_graph_builder_t *b, uint64_t *count)
{
    *count = b->triple_count;
    return b->triples;
}

const kga_graph_builder_attr_t *
kga_graph_builder_attributes(const kga_graph_builder_t *b, uint64_t *count)
{
    *count = b->attr_count;
    return b->attrs;
}
