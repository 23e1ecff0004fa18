/* Graph store writer: turns a builder into the canonical file image of
 * docs/store-format.md. Everything is renumbered so that the bytes depend on
 * the graph only, never on the order it was added in:
 *   entities   by (XXH64 of the external id, external id); hashing first keeps
 *              ids uncorrelated between two graphs that share external ids
 *              (alphabetic ids would leak the gold alignment); in a later
 *              generation (kga_store_write_next) the earlier generations'
 *              entities keep their ids and only the new ones are sorted;
 *   relations, types, attribute keys   by name, bytewise;
 *   edges      per entity by (relation, entity);
 *   attributes per entity by (key, literal bytes).
 * Strings are laid out in the order that canonical walk meets them; names of
 * types, relations and keys and attribute literals are stored once each.
 * Memory is a small constant number of arrays of the graph's size; time goes
 * to one sort of the entities and to counting sorts of the triples. */
#include "store/store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic_file.h"
#include "base/hash.h"
#include "base/hash_index.h"
#include "store/store_format.h"

/* Edge and attribute lists at most this long are sorted by insertion;
 * longer ones by qsort. Most entities have a handful of each. */
#define SMALL_SORT_MAX 16u
/* The largest element sort_short() moves (an attribute before its literal
 * is placed). */
#define SORT_ELEM_MAX 16u
/* How many items ahead the scatter loops prefetch their random targets. */
#define PREFETCH_AHEAD 16u

/* ------------------------------------------------------------------------
 * String blob with interning
 * ------------------------------------------------------------------------ */

/* The strings, NUL-terminated one after another in one blob; the interned
 * ones are found by a hash index whose references are blob offsets, which
 * caps the blob at KGA_HASH_INDEX_REF_MAX bytes. */
#define INTERN_MAX_BLOB KGA_HASH_INDEX_REF_MAX

typedef struct {
    char *blob;
    uint64_t size, cap;
    kga_hash_index_t index; /* over the interned strings' offsets */
} strtab_t;

typedef struct {
    const char *s;
    size_t len;
} strtab_key_t;

static int strtab_eq(const void *ctx, uint64_t off, const void *key)
{
    const strtab_t *t = ctx;
    const strtab_key_t *k = key;
    return memcmp(t->blob + off, k->s, k->len + 1) == 0;
}

static uint64_t strtab_hash_of(const void *ctx, uint64_t off)
{
    const char *str = ((const strtab_t *)ctx)->blob + off;
    return kga_hash64(str, strlen(str));
}

static int strtab_init(strtab_t *t, uint64_t expected_strings)
{
    memset(t, 0, sizeof *t);
    kga_hash_index_init(&t->index);
    t->cap = 4096;
    t->blob = malloc(t->cap);
    if (t->blob == NULL || expected_strings > SIZE_MAX ||
        kga_hash_index_reserve(&t->index, (size_t)expected_strings,
                               strtab_hash_of, t) != 0)
        return KGA_ENOMEM;
    return 0;
}

static void strtab_destroy(strtab_t *t)
{
    free(t->blob);
    kga_hash_index_destroy(&t->index);
}

/* Appends s (with its NUL) without interning; *off receives its offset. */
static int strtab_append(strtab_t *t, const char *s, size_t len, uint64_t *off)
{
    if (t->size + len + 1 > INTERN_MAX_BLOB)
        return KGA_ELIMIT;
    if (t->size + len + 1 > t->cap) {
        uint64_t cap = t->cap;
        while (t->size + len + 1 > cap)
            cap *= 2;
        char *blob = realloc(t->blob, cap);
        if (blob == NULL)
            return KGA_ENOMEM;
        t->blob = blob;
        t->cap = cap;
    }
    *off = t->size;
    memcpy(t->blob + t->size, s, len + 1);
    t->size += len + 1;
    return 0;
}

/* *off receives the offset of s in the blob, appending it when new. */
static int strtab_intern(strtab_t *t, const char *s, uint64_t *off)
{
    strtab_key_t key = {s, strlen(s)};
    uint64_t h = kga_hash64(s, key.len);
    int64_t found = kga_hash_index_find(&t->index, h, &key, strtab_eq, t);
    if (found >= 0) {
        *off = (uint64_t)found;
        return 0;
    }
    int rc = strtab_append(t, s, key.len, off);
    if (rc == 0)
        rc = kga_hash_index_add(&t->index, h, *off, strtab_hash_of, t);
    return rc;
}

/* ------------------------------------------------------------------------
 * Writer state
 * ------------------------------------------------------------------------ */

typedef struct {
    uint64_t hash;
    const char *ext;
    uint32_t old;
} ent_key_t;

typedef struct {
    const char *name;
    uint32_t old;
} name_key_t;

/* Per-entity attribute before its literal gets a string offset. */
typedef struct {
    uint32_t key;
    const char *literal;
} attr_tmp_t;

typedef struct {
    const void *data;
    uint64_t size, count;
} section_data_t;

typedef struct {
    const kga_graph_builder_t *b;
    kga_err_t *err;
    uint32_t n, types, rels, keys;
    /* The generation written on (kga_store_write_next), or NULL; its
     * entities, the first `kept` of the builder, keep their ids. */
    const kga_store_t *prev;
    uint32_t kept;
    kga_store_generation_t *generations; /* earlier generations */
    uint32_t generation_count;

    ent_key_t *ent_order; /* new id -> (hash, ext, old id) */
    uint32_t *ent_new;    /* old id -> new id */
    uint32_t *type_new, *rel_new, *key_new;

    strtab_t strings;
    kga_store_entity_t *entities;
    uint64_t *type_names, *rel_names, *key_names;
    uint64_t *out_off, *in_off, *attr_off;
    kga_edge_t *out_edges, *in_edges;
    uint64_t edge_count;
    kga_attr_t *attrs;
    uint64_t attr_count;
    kga_store_fanout_t *fanout;
    uint64_t fanout_count, fanout_cap;
    uint32_t *index;
    uint64_t index_slots;
} writer_t;

static int oom(writer_t *w)
{
    return kga_err_set(w->err, KGA_ENOMEM,
                       "out of memory writing a store of %u entities", w->n);
}

/* Error of a string-table call: out of memory or a blob past 2^40 bytes. */
static int strings_error(writer_t *w, int rc)
{
    if (rc == KGA_ELIMIT)
        return kga_err_set(w->err, rc,
                           "strings exceed the %llu-byte limit of the format",
                           (unsigned long long)INTERN_MAX_BLOB);
    return oom(w);
}

static void writer_destroy(writer_t *w)
{
    free(w->ent_order);
    free(w->ent_new);
    free(w->type_new);
    free(w->rel_new);
    free(w->key_new);
    strtab_destroy(&w->strings);
    free(w->entities);
    free(w->type_names);
    free(w->rel_names);
    free(w->key_names);
    free(w->out_off);
    free(w->in_off);
    free(w->attr_off);
    free(w->out_edges);
    free(w->in_edges);
    free(w->attrs);
    free(w->fanout);
    free(w->index);
    free(w->generations);
}

/* ------------------------------------------------------------------------
 * Canonical numbering
 * ------------------------------------------------------------------------ */

static int ent_key_cmp(const void *pa, const void *pb)
{
    const ent_key_t *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return strcmp(a->ext, b->ext);
}

static int name_key_cmp(const void *pa, const void *pb)
{
    const name_key_t *a = pa, *b = pb;
    return strcmp(a->name, b->name);
}

static int number_entities(writer_t *w)
{
    w->ent_order = malloc(((size_t)w->n + 1) * sizeof *w->ent_order);
    w->ent_new = malloc(((size_t)w->n + 1) * sizeof *w->ent_new);
    if (w->ent_order == NULL || w->ent_new == NULL)
        return oom(w);
    for (uint32_t i = 0; i < w->n; i++) {
        const char *ext = kga_graph_builder_entity_ext_id(w->b, i);
        if (ext == NULL || ext[0] == '\0')
            return kga_err_set(w->err, KGA_EINVAL,
                               "entity %u has an empty external id", i);
        if (i < w->kept &&
            strcmp(ext, kga_store_entity_ext_id(w->prev, i)) != 0)
            return kga_err_set(w->err, KGA_EINVAL,
                               "entity %u is '%s', but it is '%s' in the "
                               "earlier generation %s",
                               i, ext, kga_store_entity_ext_id(w->prev, i),
                               kga_store_path(w->prev));
        w->ent_order[i] = (ent_key_t){kga_hash64(ext, strlen(ext)), ext, i};
    }
    /* The earlier generations' entities keep their ids. */
    qsort(w->ent_order + w->kept, w->n - w->kept, sizeof *w->ent_order,
          ent_key_cmp);
    for (uint32_t i = 0; i < w->n; i++) {
        if (i > w->kept &&
            ent_key_cmp(&w->ent_order[i - 1], &w->ent_order[i]) == 0)
            return kga_err_set(w->err, KGA_EDUPLICATE,
                               "external id '%s' is held by two entities",
                               w->ent_order[i].ext);
        w->ent_new[w->ent_order[i].old] = i;
    }
    return 0;
}

typedef const char *(*name_fn)(const kga_graph_builder_t *, uint32_t);

/* Sorts count names; *new_of receives old -> new, *names the string offsets
 * in the new order. */
static int number_names(writer_t *w, uint32_t count, name_fn get,
                        const char *what, uint32_t **new_of, uint64_t **names)
{
    name_key_t *keys = malloc(((size_t)count + 1) * sizeof *keys);
    *new_of = malloc(((size_t)count + 1) * sizeof **new_of);
    *names = malloc(((size_t)count + 1) * sizeof **names);
    int rc = 0;
    if (keys == NULL || *new_of == NULL || *names == NULL) {
        rc = oom(w);
        goto cleanup;
    }
    for (uint32_t i = 0; i < count; i++) {
        const char *name = get(w->b, i);
        keys[i] = (name_key_t){name != NULL ? name : "", i};
    }
    qsort(keys, count, sizeof *keys, name_key_cmp);
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        if (i > 0 && strcmp(keys[i - 1].name, keys[i].name) == 0) {
            rc = kga_err_set(w->err, KGA_EDUPLICATE, "%s name '%s' twice",
                             what, keys[i].name);
            break;
        }
        (*new_of)[keys[i].old] = i;
        int irc = strtab_intern(&w->strings, keys[i].name, &(*names)[i]);
        if (irc != 0)
            rc = strings_error(w, irc);
    }
cleanup:
    free(keys);
    return rc;
}

static int build_entities(writer_t *w)
{
    w->entities = calloc((size_t)w->n + 1, sizeof *w->entities);
    if (w->entities == NULL)
        return oom(w);
    for (uint32_t i = 0; i < w->n; i++) {
        uint32_t old = w->ent_order[i].old;
        const char *name = kga_graph_builder_entity_name(w->b, old);
        uint32_t type = kga_graph_builder_entity_type(w->b, old);
        kga_store_entity_t *e = &w->entities[i];
        if (type != UINT32_MAX && type >= w->types)
            return kga_err_set(w->err, KGA_ERANGE,
                               "entity '%s' has type %u of %u",
                               w->ent_order[i].ext, type, w->types);
        e->type = type == UINT32_MAX ? KGA_NO_TYPE : w->type_new[type];
        /* External ids are unique and display names nearly so: appending
         * them skips a random probe of the intern table each. Offset 0 is
         * the empty string, for entities without a name. */
        const char *ext = w->ent_order[i].ext;
        int rc = strtab_append(&w->strings, ext, strlen(ext), &e->ext_id);
        e->name = 0;
        if (rc == 0 && name != NULL && name[0] != '\0')
            rc = strtab_append(&w->strings, name, strlen(name), &e->name);
        if (rc != 0)
            return strings_error(w, rc);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Sorting one entity's list
 * ------------------------------------------------------------------------ */

/* qsort, but by insertion for lists up to SMALL_SORT_MAX long, where qsort's
 * set-up costs more than the sort. Insertion is stable; elements that
 * compare equal are identical in all the file keeps of them, so the image
 * does not depend on which of the two sorted a list. */
static void sort_short(void *base, uint64_t count, size_t size,
                       int (*cmp)(const void *, const void *))
{
    if (count > SMALL_SORT_MAX) {
        qsort(base, count, size, cmp);
        return;
    }
    unsigned char *a = base, x[SORT_ELEM_MAX];
    assert(size <= sizeof x);
    for (uint64_t i = 1; i < count; i++) {
        uint64_t j = i;
        while (j > 0 && cmp(a + (j - 1) * size, a + i * size) > 0)
            j--;
        if (j == i)
            continue;
        memcpy(x, a + i * size, size);
        memmove(a + (j + 1) * size, a + j * size, (i - j) * size);
        memcpy(a + j * size, x, size);
    }
}

/* ------------------------------------------------------------------------
 * Adjacency
 * ------------------------------------------------------------------------ */

static inline uint64_t edge_key(kga_edge_t e)
{
    return (uint64_t)e.rel << 32 | e.ent;
}

static int edge_cmp(const void *pa, const void *pb)
{
    uint64_t a = edge_key(*(const kga_edge_t *)pa);
    uint64_t b = edge_key(*(const kga_edge_t *)pb);
    return (a > b) - (a < b);
}

/* Sorts each list, drops repeats and closes the gaps; returns the new total.
 * The builder already drops duplicate triples; this keeps the file valid
 * should one slip through. */
static uint64_t sort_compact_edges(uint64_t *off, kga_edge_t *edges,
                                   uint32_t n)
{
    uint64_t out = 0, begin = 0;
    for (uint32_t e = 0; e < n; e++) {
        uint64_t end = off[e + 1];
        sort_short(edges + begin, end - begin, sizeof *edges, edge_cmp);
        off[e] = out;
        for (uint64_t j = begin; j < end; j++)
            if (j == begin || edge_key(edges[j]) != edge_key(edges[j - 1]))
                edges[out++] = edges[j];
        begin = end;
    }
    off[n] = out;
    return out;
}

/* The builder's ids were checked once, so that the loops below (which look
 * ahead) can index with them freely. */
static int check_triples(writer_t *w)
{
    uint64_t m;
    const kga_graph_builder_triple_t *t = kga_graph_builder_triples(w->b, &m);
    for (uint64_t i = 0; i < m; i++)
        if (t[i].head >= w->n || t[i].tail >= w->n || t[i].rel >= w->rels)
            return kga_err_set(w->err, KGA_ERANGE,
                               "triple %llu has an id out of range",
                               (unsigned long long)i);
    return 0;
}

static inline uint32_t triple_owner(const writer_t *w,
                                    const kga_graph_builder_triple_t *t,
                                    int out_dir)
{
    return w->ent_new[out_dir ? t->head : t->tail];
}

/* CSR of one direction by counting sort on the new id of the owning end.
 * Both passes hit the offsets and the edges at random: prefetching a few
 * triples ahead hides most of the memory latency. */
static int build_adjacency(writer_t *w, int out_dir, uint64_t **off_out,
                           kga_edge_t **edges_out)
{
    uint64_t m;
    const kga_graph_builder_triple_t *t = kga_graph_builder_triples(w->b, &m);
    uint64_t *off = calloc((size_t)w->n + 2, sizeof *off);
    kga_edge_t *edges = malloc((m + 1) * sizeof *edges);
    *off_out = off;
    *edges_out = edges;
    if (off == NULL || edges == NULL)
        return oom(w);
    for (uint64_t i = 0; i < m; i++) {
        if (i + PREFETCH_AHEAD < m)
            __builtin_prefetch(
                &off[triple_owner(w, &t[i + PREFETCH_AHEAD], out_dir) + 2], 1);
        off[triple_owner(w, &t[i], out_dir) + 2]++;
    }
    /* off[e + 2] counts e's edges; the prefix sum leaves off[e + 1] = start
     * of e, which the scatter below advances to the end of e. */
    for (uint32_t e = 2; e <= w->n + 1; e++)
        off[e] += off[e - 1];
    for (uint64_t i = 0; i < m; i++) {
        if (i + 2 * PREFETCH_AHEAD < m)
            __builtin_prefetch(
                &off[triple_owner(w, &t[i + 2 * PREFETCH_AHEAD], out_dir) + 1]);
        if (i + PREFETCH_AHEAD < m)
            __builtin_prefetch(
                &edges[off[triple_owner(w, &t[i + PREFETCH_AHEAD], out_dir) +
                           1]],
                1);
        uint32_t owner = triple_owner(w, &t[i], out_dir);
        uint32_t other = w->ent_new[out_dir ? t[i].tail : t[i].head];
        edges[off[owner + 1]++] = (kga_edge_t){w->rel_new[t[i].rel], other};
    }
    w->edge_count = sort_compact_edges(off, edges, w->n);
    return 0;
}

/* ------------------------------------------------------------------------
 * Attributes
 * ------------------------------------------------------------------------ */

static int attr_tmp_cmp(const void *pa, const void *pb)
{
    const attr_tmp_t *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return strcmp(a->literal, b->literal);
}

/* Groups attributes by new entity id into tmp, with offsets in attr_off;
 * the same counting sort as build_adjacency(). */
static int group_attributes(writer_t *w, attr_tmp_t *tmp)
{
    uint64_t a;
    const kga_graph_builder_attr_t *src =
        kga_graph_builder_attributes(w->b, &a);
    uint64_t *off = w->attr_off;
    for (uint64_t i = 0; i < a; i++)
        if (src[i].ent >= w->n || src[i].key >= w->keys)
            return kga_err_set(w->err, KGA_ERANGE,
                               "attribute triple %llu has an id out of range",
                               (unsigned long long)i);
    for (uint64_t i = 0; i < a; i++) {
        if (i + PREFETCH_AHEAD < a)
            __builtin_prefetch(&off[w->ent_new[src[i + PREFETCH_AHEAD].ent] + 2],
                               1);
        off[w->ent_new[src[i].ent] + 2]++;
    }
    for (uint32_t e = 2; e <= w->n + 1; e++)
        off[e] += off[e - 1];
    for (uint64_t i = 0; i < a; i++) {
        if (i + PREFETCH_AHEAD < a)
            __builtin_prefetch(
                &tmp[off[w->ent_new[src[i + PREFETCH_AHEAD].ent] + 1]], 1);
        const char *lit = src[i].literal != NULL ? src[i].literal : "";
        tmp[off[w->ent_new[src[i].ent] + 1]++] =
            (attr_tmp_t){w->key_new[src[i].key], lit};
    }
    return 0;
}

/* Sorts and deduplicates each entity's attributes, then interns literals in
 * that order. */
static int emit_attributes(writer_t *w, attr_tmp_t *tmp)
{
    uint64_t *off = w->attr_off, out = 0, begin = 0;
    for (uint32_t e = 0; e < w->n; e++) {
        uint64_t end = off[e + 1];
        sort_short(tmp + begin, end - begin, sizeof *tmp, attr_tmp_cmp);
        off[e] = out;
        for (uint64_t j = begin; j < end; j++) {
            if (j > begin && attr_tmp_cmp(&tmp[j - 1], &tmp[j]) == 0)
                continue;
            kga_attr_t *a = &w->attrs[out++];
            a->key = tmp[j].key;
            a->reserved = 0;
            int rc = strtab_intern(&w->strings, tmp[j].literal, &a->literal);
            if (rc != 0)
                return strings_error(w, rc);
        }
        begin = end;
    }
    off[w->n] = out;
    w->attr_count = out;
    return 0;
}

static int build_attributes(writer_t *w)
{
    uint64_t a;
    kga_graph_builder_attributes(w->b, &a);
    w->attr_off = calloc((size_t)w->n + 2, sizeof *w->attr_off);
    w->attrs = calloc(a + 1, sizeof *w->attrs);
    attr_tmp_t *tmp = malloc((a + 1) * sizeof *tmp);
    int rc = 0;
    if (w->attr_off == NULL || w->attrs == NULL || tmp == NULL)
        rc = oom(w);
    if (rc == 0)
        rc = group_attributes(w, tmp);
    if (rc == 0)
        rc = emit_attributes(w, tmp);
    free(tmp);
    return rc;
}

/* ------------------------------------------------------------------------
 * Fan-out table
 * ------------------------------------------------------------------------ */

/* Per-type accumulators over (rel, dir) pairs, indexed rel * 2 + dir. */
typedef struct {
    uint64_t *sum;     /* neighbours through (rel, dir) */
    uint64_t *holders; /* entities with at least one */
    uint32_t *touched; /* indices with holders > 0, to emit and reset */
    uint32_t touched_count;
} fan_acc_t;

static int u32_cmp(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a > b) - (a < b);
}

static void fan_add_entity(fan_acc_t *acc, const uint64_t *off,
                           const kga_edge_t *edges, uint32_t ent,
                           kga_dir_t dir)
{
    uint64_t j = off[ent], end = off[ent + 1];
    while (j < end) {
        uint32_t rel = edges[j].rel;
        uint64_t run = j;
        while (j < end && edges[j].rel == rel)
            j++;
        uint32_t k = rel * 2u + (uint32_t)dir;
        if (acc->holders[k]++ == 0)
            acc->touched[acc->touched_count++] = k;
        acc->sum[k] += j - run;
    }
}

static int fan_emit(writer_t *w, fan_acc_t *acc, uint32_t type)
{
    qsort(acc->touched, acc->touched_count, sizeof *acc->touched, u32_cmp);
    if (w->fanout_count + acc->touched_count > w->fanout_cap) {
        uint64_t cap = w->fanout_cap * 2 + acc->touched_count;
        kga_store_fanout_t *f = realloc(w->fanout, cap * sizeof *f);
        if (f == NULL)
            return oom(w);
        w->fanout = f;
        w->fanout_cap = cap;
    }
    for (uint32_t i = 0; i < acc->touched_count; i++) {
        uint32_t k = acc->touched[i];
        w->fanout[w->fanout_count++] = (kga_store_fanout_t){
            type, k / 2, k % 2,
            (float)((double)acc->sum[k] / (double)acc->holders[k])};
        acc->sum[k] = 0;
        acc->holders[k] = 0;
    }
    acc->touched_count = 0;
    return 0;
}

/* Entities grouped by type (KGA_NO_TYPE last, as it sorts), then one pass
 * per group with accumulators the size of the relation set. */
static int fan_by_type(writer_t *w, fan_acc_t *acc, uint32_t *by_type,
                       uint64_t *type_off)
{
    uint32_t groups = w->types + 1;
    for (uint32_t i = 0; i < w->n; i++) {
        uint32_t t = w->entities[i].type;
        type_off[(t == KGA_NO_TYPE ? w->types : t) + 2]++;
    }
    for (uint32_t g = 2; g <= groups + 1; g++)
        type_off[g] += type_off[g - 1];
    for (uint32_t i = 0; i < w->n; i++) {
        uint32_t t = w->entities[i].type;
        by_type[type_off[(t == KGA_NO_TYPE ? w->types : t) + 1]++] = i;
    }
    for (uint32_t g = 0; g < groups; g++) {
        for (uint64_t j = type_off[g]; j < type_off[g + 1]; j++) {
            fan_add_entity(acc, w->out_off, w->out_edges, by_type[j],
                           KGA_DIR_OUT);
            fan_add_entity(acc, w->in_off, w->in_edges, by_type[j],
                           KGA_DIR_IN);
        }
        int rc = fan_emit(w, acc, g == w->types ? KGA_NO_TYPE : g);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int build_fanout(writer_t *w)
{
    size_t pairs = (size_t)w->rels * 2 + 1;
    fan_acc_t acc = {calloc(pairs, sizeof(uint64_t)),
                     calloc(pairs, sizeof(uint64_t)),
                     malloc(pairs * sizeof(uint32_t)), 0};
    uint32_t *by_type = malloc(((size_t)w->n + 1) * sizeof *by_type);
    uint64_t *type_off = calloc((size_t)w->types + 3, sizeof *type_off);
    int rc = 0;
    if (acc.sum == NULL || acc.holders == NULL || acc.touched == NULL ||
        by_type == NULL || type_off == NULL)
        rc = oom(w);
    if (rc == 0)
        rc = fan_by_type(w, &acc, by_type, type_off);
    free(type_off);
    free(by_type);
    free(acc.touched);
    free(acc.holders);
    free(acc.sum);
    return rc;
}

/* ------------------------------------------------------------------------
 * Id index
 * ------------------------------------------------------------------------ */

static int build_index(writer_t *w)
{
    uint64_t slots = KGA_STORE_INDEX_MIN_SLOTS;
    while (slots / 2 < w->n)
        slots *= 2;
    w->index = malloc(slots * sizeof *w->index);
    if (w->index == NULL)
        return oom(w);
    memset(w->index, 0xFF, slots * sizeof *w->index); /* all EMPTY */
    uint64_t mask = slots - 1;
    /* Insertion in id order makes the table canonical too. */
    for (uint32_t i = 0; i < w->n; i++) {
        uint64_t s = kga_store_index_home(w->ent_order[i].hash, slots);
        while (w->index[s] != KGA_STORE_INDEX_EMPTY)
            s = (s + 1) & mask;
        w->index[s] = i;
    }
    w->index_slots = slots;
    return 0;
}

/* ------------------------------------------------------------------------
 * Layout and output
 * ------------------------------------------------------------------------ */

static uint64_t align_up(uint64_t x)
{
    return (x + KGA_STORE_ALIGN - 1) / KGA_STORE_ALIGN * KGA_STORE_ALIGN;
}

static void collect_sections(const writer_t *w,
                             section_data_t sec[KGA_SEC_COUNT_ + 1])
{
    uint64_t n1 = (uint64_t)w->n + 1;
    sec[KGA_SEC_STRINGS] = (section_data_t){w->strings.blob, w->strings.size,
                                            w->strings.size};
#define SEC(id, ptr, cnt) sec[id] = (section_data_t){ptr, (cnt) * sizeof *(ptr), cnt}
    SEC(KGA_SEC_ENTITIES, w->entities, (uint64_t)w->n);
    SEC(KGA_SEC_TYPES, w->type_names, (uint64_t)w->types);
    SEC(KGA_SEC_RELATIONS, w->rel_names, (uint64_t)w->rels);
    SEC(KGA_SEC_ATTR_KEYS, w->key_names, (uint64_t)w->keys);
    SEC(KGA_SEC_OUT_OFFSETS, w->out_off, n1);
    SEC(KGA_SEC_OUT_EDGES, w->out_edges, w->edge_count);
    SEC(KGA_SEC_IN_OFFSETS, w->in_off, n1);
    SEC(KGA_SEC_IN_EDGES, w->in_edges, w->edge_count);
    SEC(KGA_SEC_ATTR_OFFSETS, w->attr_off, n1);
    SEC(KGA_SEC_ATTRS, w->attrs, w->attr_count);
    SEC(KGA_SEC_FANOUT, w->fanout, w->fanout_count);
    SEC(KGA_SEC_ID_INDEX, w->index, w->index_slots);
    SEC(KGA_SEC_GENERATIONS, w->generations, (uint64_t)w->generation_count);
#undef SEC
}

/* Fills the section table and header (except the checksum) for sections
 * laid out in id order, each at the next aligned offset. */
static void lay_out(const section_data_t sec[KGA_SEC_COUNT_ + 1],
                    kga_store_header_t *h, kga_store_section_t *table)
{
    uint64_t pos = align_up(KGA_STORE_HEADER_SIZE +
                            KGA_SEC_COUNT_ * sizeof(kga_store_section_t));
    for (int id = 1; id <= KGA_SEC_COUNT_; id++) {
        table[id - 1] = (kga_store_section_t){(uint32_t)id, 0, pos,
                                              sec[id].size, sec[id].count};
        pos = align_up(pos + sec[id].size);
    }
    memset(h, 0, sizeof *h);
    memcpy(h->magic, KGA_STORE_MAGIC, KGA_STORE_MAGIC_LEN);
    h->version = KGA_STORE_VERSION;
    h->endian = KGA_STORE_ENDIAN_MARK;
    h->file_size = pos;
    h->header_size = KGA_STORE_HEADER_SIZE;
    h->section_count = KGA_SEC_COUNT_;
    h->section_entry_size = sizeof(kga_store_section_t);
}

/* Output sink: either feeds the checksum or writes to a file, so that both
 * passes walk the same byte sequence. */
typedef struct {
    kga_hash64_state_t *hash; /* when not NULL, hash instead of writing */
    kga_atomic_file_t *file;
    kga_err_t *err;
    uint64_t pos;
} sink_t;

/* Returns 0 or a negative KGA_E* code (with the message in k->err). */
static int sink_put(sink_t *k, const void *data, uint64_t len)
{
    if (len == 0)
        return 0; /* empty sections may have no buffer at all */
    k->pos += len;
    if (k->hash != NULL) {
        kga_hash64_update(k->hash, data, len);
        return 0;
    }
    return kga_atomic_file_write(k->file, data, len, k->err);
}

static int sink_pad_to(sink_t *k, uint64_t target)
{
    static const char zeros[KGA_STORE_ALIGN];
    while (k->pos < target) {
        uint64_t gap = target - k->pos;
        int rc = sink_put(k, zeros, gap < sizeof zeros ? gap : sizeof zeros);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Everything after the header: table, then each section and its padding. */
static int sink_body(sink_t *k, const section_data_t sec[KGA_SEC_COUNT_ + 1],
                     const kga_store_section_t *table, uint64_t file_size)
{
    int rc = sink_put(k, table, KGA_SEC_COUNT_ * sizeof *table);
    for (int id = 1; rc == 0 && id <= KGA_SEC_COUNT_; id++) {
        rc = sink_pad_to(k, table[id - 1].offset);
        if (rc == 0)
            rc = sink_put(k, sec[id].data, sec[id].size);
    }
    return rc == 0 ? sink_pad_to(k, file_size) : rc;
}

/* Writes the image to a temporary file, syncs it and renames it over path
 * (base/atomic_file.h), so that a store being replaced stays whole. */
static int write_file(writer_t *w, const char *path)
{
    section_data_t sec[KGA_SEC_COUNT_ + 1];
    kga_store_section_t table[KGA_SEC_COUNT_];
    kga_store_header_t h;
    collect_sections(w, sec);
    lay_out(sec, &h, table);

    kga_hash64_state_t st;
    kga_hash64_init(&st);
    sink_t hasher = {&st, NULL, NULL, KGA_STORE_HEADER_SIZE};
    sink_body(&hasher, sec, table, h.file_size);
    h.checksum = kga_hash64_digest(&st);

    kga_atomic_file_t file;
    int rc = kga_atomic_file_open(&file, path, 0, w->err);
    if (rc != 0)
        return rc;
    sink_t out = {NULL, &file, w->err, 0};
    rc = sink_put(&out, &h, sizeof h);
    if (rc == 0)
        rc = sink_body(&out, sec, table, h.file_size);
    if (rc != 0) {
        kga_atomic_file_abort(&file);
        return rc;
    }
    return kga_atomic_file_commit(&file, w->err);
}

/* ------------------------------------------------------------------------
 * Entry point
 * ------------------------------------------------------------------------ */

static int check_limits(writer_t *w)
{
    /* UINT32_MAX marks "no type" and empty index slots. */
    if (w->n >= UINT32_MAX || w->types >= UINT32_MAX ||
        w->rels >= UINT32_MAX / 2)
        return kga_err_set(w->err, KGA_ELIMIT,
                           "graph too large for 32-bit ids (%u entities, %u "
                           "types, %u relations)",
                           w->n, w->types, w->rels);
    return 0;
}

static int build_all(writer_t *w)
{
    int rc = check_limits(w);
    if (rc == 0) {
        uint64_t strings_hint = (uint64_t)w->types + w->rels + w->keys +
                                kga_graph_builder_attribute_count(w->b);
        if (strtab_init(&w->strings, strings_hint) != 0)
            rc = oom(w);
    }
    uint64_t empty_off;
    if (rc == 0 && strtab_intern(&w->strings, "", &empty_off) != 0)
        rc = oom(w); /* the first string cannot pass the size limit */
    if (rc == 0)
        rc = number_names(w, w->types, kga_graph_builder_type_name, "type",
                          &w->type_new, &w->type_names);
    if (rc == 0)
        rc = number_names(w, w->rels, kga_graph_builder_relation_name,
                          "relation", &w->rel_new, &w->rel_names);
    if (rc == 0)
        rc = number_names(w, w->keys, kga_graph_builder_attr_key_name,
                          "attribute key", &w->key_new, &w->key_names);
    if (rc == 0)
        rc = number_entities(w);
    if (rc == 0)
        rc = build_entities(w);
    if (rc == 0)
        rc = check_triples(w);
    if (rc == 0)
        rc = build_adjacency(w, 1, &w->out_off, &w->out_edges);
    if (rc == 0)
        rc = build_adjacency(w, 0, &w->in_off, &w->in_edges);
    if (rc == 0)
        rc = build_attributes(w);
    if (rc == 0)
        rc = build_fanout(w);
    if (rc == 0)
        rc = build_index(w);
    return rc;
}

/* The generation rows of the store written on prev: prev's own, then
 * prev itself. Also checks that the relations are prev's. */
static int continue_lineage(writer_t *w)
{
    const kga_store_t *prev = w->prev;
    if (w->n < kga_store_entity_count(prev))
        return kga_err_set(w->err, KGA_EINVAL,
                           "%u entities, fewer than the %u of the earlier "
                           "generation %s",
                           w->n, kga_store_entity_count(prev),
                           kga_store_path(prev));
    if (w->rels != kga_store_relation_count(prev))
        return kga_err_set(w->err, KGA_EINVAL,
                           "%u relations, but the earlier generation %s has "
                           "%u: a later generation keeps the relations",
                           w->rels, kga_store_path(prev),
                           kga_store_relation_count(prev));
    for (uint32_t r = 0; r < w->rels; r++) {
        const char *name = kga_graph_builder_relation_name(w->b, r);
        if (kga_store_relation_lookup(prev, name != NULL ? name : "") < 0)
            return kga_err_set(w->err, KGA_EINVAL,
                               "relation '%s' is not in the earlier "
                               "generation %s: a later generation keeps the "
                               "relations",
                               name != NULL ? name : "",
                               kga_store_path(prev));
    }
    const kga_store_generation_t *rows;
    uint32_t count = kga_store_generations(prev, &rows);
    w->generations = malloc(((size_t)count + 1) * sizeof *w->generations);
    if (w->generations == NULL)
        return oom(w);
    if (count > 0)
        memcpy(w->generations, rows, count * sizeof *rows);
    w->generations[count] = (kga_store_generation_t){
        kga_store_fingerprint(prev), kga_store_entity_count(prev), 0};
    w->generation_count = count + 1;
    w->kept = kga_store_entity_count(prev);
    return 0;
}

static int write_store(const kga_graph_builder_t *b, const kga_store_t *prev,
                       const char *path, kga_err_t *err)
{
    kga_err_clear(err);
    if (b == NULL || path == NULL || path[0] == '\0')
        return kga_err_set(err, KGA_EINVAL, "no builder or no path");
    writer_t w;
    memset(&w, 0, sizeof w);
    w.b = b;
    w.err = err;
    w.prev = prev;
    w.n = kga_graph_builder_entity_count(b);
    w.types = kga_graph_builder_type_count(b);
    w.rels = kga_graph_builder_relation_count(b);
    w.keys = kga_graph_builder_attr_key_count(b);
    int rc = prev != NULL ? continue_lineage(&w) : 0;
    if (rc == 0)
        rc = build_all(&w);
    if (rc == 0)
        rc = write_file(&w, path);
    writer_destroy(&w);
    return rc;
}

int kga_store_write(const kga_graph_builder_t *b, const char *path,
                    kga_err_t *err)
{
    return write_store(b, NULL, path, err);
}

int kga_store_write_next(const kga_graph_builder_t *b, const kga_store_t *prev,
                         const char *path, kga_err_t *err)
{
    if (prev == NULL)
        return kga_err_set(err, KGA_EINVAL, "no earlier generation");
    return write_store(b, prev, path, err);
}
