/* In-memory graph under construction. Strings live in a chunked arena so that
 * interning millions of ids costs one allocation per megabyte, not per
 * string; the intern tables and the triple set are open-addressing hash
 * tables sized to powers of two. */
#include "store/graph_builder.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

#define ARENA_CHUNK (1u << 20)
#define MIN_TABLE_SLOTS 1024u
#define EMPTY_SLOT UINT64_MAX
/* Slots of the intern tables hold the high half of the hash beside the id,
 * so that a probe rarely has to read the (cold) item to reject it. */
#define SLOT(hash, id) (((hash) & 0xffffffff00000000ull) | (uint64_t)(id))
#define SLOT_ID(slot) ((uint32_t)(slot))
#define SLOT_TAG(slot) ((slot) & 0xffffffff00000000ull)

/* ---- string arena ---- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    char data[];
} arena_chunk_t;

typedef struct {
    arena_chunk_t *head;
} arena_t;

static const char *arena_strdup(arena_t *a, const char *s, size_t len)
{
    arena_chunk_t *c = a->head;
    if (c == NULL || c->size - c->used < len + 1) {
        size_t size = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;
        c = malloc(sizeof *c + size);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->size = size;
        a->head = c;
    }
    char *dst = c->data + c->used;
    memcpy(dst, s, len);
    dst[len] = '\0';
    c->used += len + 1;
    return dst;
}

static void arena_free(arena_t *a)
{
    arena_chunk_t *c = a->head;
    while (c != NULL) {
        arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

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
    uint64_t *slots; /* EMPTY_SLOT or SLOT(hash, id) */
    size_t slot_mask;
} intern_t;

static int intern_rehash(intern_t *t, size_t nslots)
{
    uint64_t *slots = malloc(nslots * sizeof *slots);
    if (slots == NULL)
        return KGA_ENOMEM;
    memset(slots, 0xff, nslots * sizeof *slots);
    for (size_t id = 0; id < t->count; id++) {
        uint64_t h = t->items[id].hash;
        size_t i = h & (nslots - 1);
        while (slots[i] != EMPTY_SLOT)
            i = (i + 1) & (nslots - 1);
        slots[i] = SLOT(h, id);
    }
    free(t->slots);
    t->slots = slots;
    t->slot_mask = nslots - 1;
    return 0;
}

static int64_t intern_find(const intern_t *t, const char *s, size_t len,
                           uint64_t h)
{
    if (t->slots == NULL)
        return -1;
    for (size_t i = h & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        uint64_t slot = t->slots[i];
        if (slot == EMPTY_SLOT)
            return -1;
        if (SLOT_TAG(slot) != SLOT_TAG(h))
            continue;
        uint32_t id = SLOT_ID(slot);
        if (t->items[id].hash == h && strncmp(t->items[id].str, s, len) == 0 &&
            t->items[id].str[len] == '\0')
            return id;
    }
}

/* Interns s; *out gets its id, *created 1 when it was new. */
static int intern_add(intern_t *t, arena_t *arena, const char *s,
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
    /* Keep the load factor under one half. */
    if (t->slots == NULL || (t->count + 1) * 2 > t->slot_mask + 1) {
        size_t nslots = t->slots ? (t->slot_mask + 1) * 2 : MIN_TABLE_SLOTS;
        if (intern_rehash(t, nslots) != 0)
            return KGA_ENOMEM;
    }
    if (grow((void **)&t->items, &t->cap, t->count + 1, sizeof *t->items))
        return KGA_ENOMEM;
    const char *copy = arena_strdup(arena, s, len);
    if (copy == NULL)
        return KGA_ENOMEM;
    uint32_t id = (uint32_t)t->count++;
    t->items[id] = (interned_t){copy, h};
    size_t i = h & t->slot_mask;
    while (t->slots[i] != EMPTY_SLOT)
        i = (i + 1) & t->slot_mask;
    t->slots[i] = SLOT(h, id);
    *out = id;
    return 0;
}

static void intern_free(intern_t *t)
{
    free(t->items);
    free(t->slots);
}

/* ---- a set of fixed-size records, for dropping duplicate triples ---- */

typedef struct {
    uint64_t *slots; /* REC_SLOT(hash, index), 0 = empty */
    size_t slot_mask;
} recset_t;

/* A record slot keeps 24 bits of the hash above the index + 1 (below 2^40),
 * so that most mismatches are rejected without reading the record. */
#define REC_INDEX_BITS 40
#define REC_SLOT(hash, r) \
    (((hash) >> REC_INDEX_BITS << REC_INDEX_BITS) | ((uint64_t)(r) + 1))
#define REC_SLOT_INDEX(slot) (((slot) & ((1ull << REC_INDEX_BITS) - 1)) - 1)
#define REC_SLOT_TAG(slot) ((slot) >> REC_INDEX_BITS)

/* ---- the builder ---- */

typedef struct {
    const char *name; /* NULL when unset */
    uint32_t type;    /* UINT32_MAX when unset */
} entity_info_t;

struct kga_graph_builder {
    arena_t arena;
    intern_t entities, relations, types, keys;
    entity_info_t *info;
    size_t info_cap;

    kga_builder_triple_t *triples;
    size_t triple_count, triple_cap;
    recset_t triple_set;
    uint64_t duplicate_triples;

    kga_builder_attr_t *attrs;
    size_t attr_count, attr_cap;
    recset_t attr_set;
};

kga_graph_builder_t *kga_builder_new(void)
{
    return calloc(1, sizeof(kga_graph_builder_t));
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
    free(b->triple_set.slots);
    free(b->attrs);
    free(b->attr_set.slots);
    arena_free(&b->arena);
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
    const char *copy = arena_strdup(&b->arena, name, strlen(name));
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

/* Generic duplicate check over records identified by index. `same` compares
 * a stored record with the candidate; `hash` is the candidate's hash. Returns
 * 1 when a duplicate exists, 0 when the candidate (index `next`) was
 * inserted, or a negative error. */
typedef int (*record_eq_fn)(const kga_graph_builder_t *b, uint64_t stored,
                            const void *candidate);
typedef uint64_t (*record_hash_fn)(const kga_graph_builder_t *b,
                                   uint64_t stored);

static int recset_rehash(const kga_graph_builder_t *b, recset_t *s,
                         size_t count, record_hash_fn hash_of)
{
    size_t nslots = s->slots ? (s->slot_mask + 1) * 2 : MIN_TABLE_SLOTS;
    while (nslots < count * 2 + 2)
        nslots *= 2;
    uint64_t *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return KGA_ENOMEM;
    for (uint64_t r = 0; r < count; r++) {
        uint64_t h = hash_of(b, r);
        size_t i = h & (nslots - 1);
        while (slots[i] != 0)
            i = (i + 1) & (nslots - 1);
        slots[i] = REC_SLOT(h, r);
    }
    free(s->slots);
    s->slots = slots;
    s->slot_mask = nslots - 1;
    return 0;
}

static int recset_insert(const kga_graph_builder_t *b, recset_t *s,
                         size_t count, uint64_t h, const void *candidate,
                         record_eq_fn same, record_hash_fn hash_of)
{
    if (s->slots == NULL || (count + 1) * 2 > s->slot_mask + 1) {
        int rc = recset_rehash(b, s, count, hash_of);
        if (rc != 0)
            return rc;
    }
    if (count + 1 >= 1ull << REC_INDEX_BITS)
        return KGA_ELIMIT;
    size_t i = h & s->slot_mask;
    for (; s->slots[i] != 0; i = (i + 1) & s->slot_mask)
        if (REC_SLOT_TAG(s->slots[i]) == REC_SLOT_TAG(h) &&
            same(b, REC_SLOT_INDEX(s->slots[i]), candidate))
            return 1;
    s->slots[i] = REC_SLOT(h, count);
    return 0;
}

static uint64_t triple_hash(const kga_builder_triple_t *t)
{
    return kga_hash64(t, sizeof *t);
}

static uint64_t stored_triple_hash(const kga_graph_builder_t *b, uint64_t r)
{
    return triple_hash(&b->triples[r]);
}

static int triple_eq(const kga_graph_builder_t *b, uint64_t r,
                     const void *candidate)
{
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
    int rc = recset_insert(b, &b->triple_set, b->triple_count,
                           triple_hash(&t), &t, triple_eq,
                           stored_triple_hash);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        b->duplicate_triples++;
        return 0;
    }
    if (grow((void **)&b->triples, &b->triple_cap, b->triple_count + 1,
             sizeof *b->triples))
        return KGA_ENOMEM; /* the set slot points past the end: harmless,
                              the builder is unusable after ENOMEM anyway */
    b->triples[b->triple_count++] = t;
    return 0;
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

static uint64_t stored_attr_hash(const kga_graph_builder_t *b, uint64_t r)
{
    const kga_builder_attr_t *a = &b->attrs[r];
    return attr_hash(a->ent, a->key, a->literal);
}

static int attr_eq(const kga_graph_builder_t *b, uint64_t r,
                   const void *candidate)
{
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
    rc = recset_insert(b, &b->attr_set, b->attr_count,
                       attr_hash(ent, k, literal), &a, attr_eq,
                       stored_attr_hash);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return 0;
    if (grow((void **)&b->attrs, &b->attr_cap, b->attr_count + 1,
             sizeof *b->attrs))
        return KGA_ENOMEM;
    a.literal = arena_strdup(&b->arena, literal, strlen(literal));
    if (a.literal == NULL)
        return KGA_ENOMEM;
    b->attrs[b->attr_count++] = a;
    return 0;
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
