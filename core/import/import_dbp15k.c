/* The DBP15K / GCN-Align id layout (JAPE, ISWC 2017):
 *   ent_ids_{1,2}          id TAB entity URI
 *   rel_ids_{1,2}          id TAB relation URI                  (optional)
 *   triples_{1,2}          head id TAB relation id TAB tail id
 *   sup_pairs, ref_pairs   left id TAB right id: train, test
 *   ref_ent_ids            left id TAB right id: all, when the two above are
 *                          absent (split 30% / 70% with the seed)
 *   training_attrs_{1,2}   URI TAB key TAB key ...                (optional)
 * The numeric ids only encode these files: the graphs are built from the
 * URIs, so two copies with different numbering import identically. Where
 * several ids of one ent_ids file share a URI (SRPRS DBpedia-Wikidata: one
 * Wikidata URI for several counties), the id is the identity: each is an
 * entity of its own, "URI#ID", named from the URI, so that no entity is
 * merged and no link lost (import.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash_index.h"
#include "base/grow.h"
#include "import/import.h"
#include "store/names.h"

#define LAYOUT_HINT                                                        \
    "the dbp15k layout needs ent_ids_1, ent_ids_2, triples_1, triples_2 "  \
    "and the links: sup_pairs with ref_pairs, or ref_ent_ids"
#define NO_VALUE UINT32_MAX
#define MSG_TEXT_MAX 200

/* ---- numeric id -> definition ---- */

typedef struct {
    uint64_t id;
    const char *str;  /* URI or relation name, in the import's arena; for
                         an entity whose URI another id has, "URI#ID" */
    const char *shared_uri; /* then that URI, else NULL */
    uint64_t line;    /* where it was defined; 0 when implicit */
    uint32_t value;   /* builder id of the entity / relation once made */
    int8_t is_type;   /* relation: -1 not yet known, else 0 / 1 */
} id_entry_t;

/* The definitions in the order they were read, found by id through a hash
 * index over their positions. */
typedef struct {
    id_entry_t *items;
    size_t count, cap;
    kga_hash_index_t index;
} id_map_t;

static uint64_t id_hash(uint64_t id)
{
    uint64_t z = id * 0x9e3779b97f4a7c15ull;
    return z ^ (z >> 29);
}

static int id_eq(const void *ctx, uint64_t ref, const void *key)
{
    return ((const id_map_t *)ctx)->items[ref].id == *(const uint64_t *)key;
}

static uint64_t id_hash_of(const void *ctx, uint64_t ref)
{
    return id_hash(((const id_map_t *)ctx)->items[ref].id);
}

static id_entry_t *id_map_find(const id_map_t *m, uint64_t id)
{
    int64_t ref = kga_hash_index_find(&m->index, id_hash(id), &id, id_eq, m);
    return ref >= 0 ? &m->items[ref] : NULL;
}

/* Inserts a new id (which must be absent). The returned entry is valid until
 * the next insert. NULL on out of memory. */
static id_entry_t *id_map_insert(id_map_t *m, uint64_t id)
{
    if (kga_grow(&m->items, &m->cap, m->count + 1, 1024, sizeof *m->items))
        return NULL;
    m->items[m->count] = (id_entry_t){id, NULL, NULL, 0, NO_VALUE, -1};
    if (kga_hash_index_add(&m->index, id_hash(id), m->count, id_hash_of,
                           m) != 0)
        return NULL;
    return &m->items[m->count++];
}

static void id_map_destroy(id_map_t *m)
{
    free(m->items);
    kga_hash_index_destroy(&m->index);
}

/* ---- reading ---- */

/* An entity whose URI another id of its file has: the URI and the
 * entity, in URI order so that the attributes of a URI reach all of its
 * entities. */
typedef struct {
    const char *uri;
    uint32_t value;
} shared_t;

/* The reader's state: per side, what the numbers of the files stand for.
 * read_side() touches only its side's maps. */
typedef struct {
    id_map_t ents[2], rels[2];
    int have_rel_ids[2];
    shared_t *shared[2];
    size_t n_shared[2];
} dbp_t;

/* A decimal id without sign, spaces or overflow. */
static int parse_id(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

static int bad_number(kga_import_src_t *src, size_t field, const char *text)
{
    return kga_import_bad_line(src, KGA_EPARSE,
                               "field %zu: expected a non-negative integer "
                               "id, found '%.*s'",
                               field, MSG_TEXT_MAX, text);
}

static int out_of_memory(kga_import_ctx_t *ctx, int side)
{
    return kga_err_set(kga_import_err(ctx, side), KGA_ENOMEM,
                       "import: out of memory");
}

/* Reads an id file (ent_ids_K or rel_ids_K) into map. An id defined twice
 * is an error; lenient keeps the bytewise smallest definition and counts the
 * other lines, so the outcome does not depend on the order of the lines. */
static int add_id(kga_import_src_t *src, char **f, long n, void *arg)
{
    (void)n;
    id_map_t *map = arg;
    uint64_t id;
    if (!parse_id(f[0], &id))
        return bad_number(src, 1, f[0]);
    id_entry_t *e = id_map_find(map, id);
    if (e != NULL) {
        int rc = kga_import_bad_line(src, KGA_EDUPLICATE,
                                     "id %" PRIu64 " is defined twice "
                                     "(also at line %" PRIu64 ")",
                                     id, e->line);
        if (rc < 0 || strcmp(f[1], e->str) >= 0)
            return rc;
    } else if ((e = id_map_insert(map, id)) == NULL) {
        return out_of_memory(src->ctx, src->side);
    }
    e->str = kga_import_strdup(src->ctx, src->side, f[1]);
    e->line = kga_line_reader_line_no(src->reader);
    return e->str != NULL ? 0 : out_of_memory(src->ctx, src->side);
}

static int read_id_file(kga_import_ctx_t *ctx, int side, const char *name,
                        int required, id_map_t *map, int *found)
{
    return kga_import_each(ctx, side, name, required, LAYOUT_HINT,
                           KGA_IMPORT_SPLIT_NONE, 2, 1, add_id, map, found);
}

/* ---- ids that share a URI ---- */

typedef struct {
    const char *str;
    uint64_t id;
    size_t pos; /* in the id map */
} by_uri_t;

static int by_uri_cmp(const void *a, const void *b)
{
    const by_uri_t *x = a, *y = b;
    int c = strcmp(x->str, y->str);
    return c != 0 ? c : (x->id > y->id) - (x->id < y->id);
}

static int has_uri(const by_uri_t *sorted, size_t n, const char *uri)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sorted[mid].str, uri);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Gives every id whose URI another id of the file has the external id
 * "URI#ID", keeping the URI in shared_uri. Should "URI#ID" be the URI of
 * another line (a file with "X" twice and "X#7"), "#ID" is added again
 * until it is not: no two entities get one external id, and, the ids being
 * numbers without '#', two names made here never meet either. The outcome
 * depends on the set of lines only, not on their order. */
static int disambiguate_shared_uris(kga_import_ctx_t *ctx, dbp_t *d,
                                    int side)
{
    id_map_t *m = &d->ents[side];
    by_uri_t *sorted = malloc((m->count ? m->count : 1) * sizeof *sorted);
    if (sorted == NULL)
        return out_of_memory(ctx, side);
    for (size_t i = 0; i < m->count; i++)
        sorted[i] = (by_uri_t){m->items[i].str, m->items[i].id, i};
    qsort(sorted, m->count, sizeof *sorted, by_uri_cmp);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->count;) {
        size_t j = i + 1;
        while (j < m->count && strcmp(sorted[j].str, sorted[i].str) == 0)
            j++;
        for (size_t k = i; j - i > 1 && rc == 0 && k < j; k++) {
            id_entry_t *e = &m->items[sorted[k].pos];
            char suffix[24];
            int sl = snprintf(suffix, sizeof suffix, "#%" PRIu64, e->id);
            size_t len = strlen(e->str), cap = len + (size_t)sl + 1;
            char *ext = malloc(cap);
            if (ext != NULL)
                memcpy(ext, e->str, len + 1);
            do {
                if (ext != NULL && len + (size_t)sl + 1 > cap) {
                    char *grown = realloc(ext, cap *= 2);
                    if (grown == NULL)
                        free(ext);
                    ext = grown;
                }
                if (ext == NULL)
                    break;
                memcpy(ext + len, suffix, (size_t)sl + 1);
                len += (size_t)sl;
            } while (has_uri(sorted, m->count, ext));
            e->shared_uri = e->str;
            if (ext == NULL ||
                (e->str = kga_import_strdup(ctx, side, ext)) == NULL)
                rc = out_of_memory(ctx, side);
            free(ext);
        }
        i = j;
    }
    free(sorted);
    return rc;
}

static int shared_cmp(const void *a, const void *b)
{
    const shared_t *x = a, *y = b;
    int c = strcmp(x->uri, y->uri);
    return c != 0 ? c : (x->value > y->value) - (x->value < y->value);
}

static int read_entities(kga_import_ctx_t *ctx, dbp_t *d, int side)
{
    char name[32];
    snprintf(name, sizeof name, "ent_ids_%d", side + 1);
    id_map_t *m = &d->ents[side];
    int rc = read_id_file(ctx, side, name, 1, m, NULL);
    if (rc == 0)
        rc = disambiguate_shared_uris(ctx, d, side);
    size_t shared = 0;
    for (size_t i = 0; rc == 0 && i < m->count; i++) {
        id_entry_t *e = &m->items[i];
        if (e->shared_uri == NULL) {
            rc = kga_import_entity(ctx, side, e->str, &e->value);
            continue;
        }
        rc = kga_import_entity_named(ctx, side, e->str, e->shared_uri,
                                     &e->value);
        kga_import_note_shared_uri(ctx, side, e->shared_uri);
        shared++;
    }
    if (rc != 0 || shared == 0)
        return rc;
    d->shared[side] = malloc(shared * sizeof *d->shared[side]);
    if (d->shared[side] == NULL)
        return out_of_memory(ctx, side);
    for (size_t i = 0; i < m->count; i++)
        if (m->items[i].shared_uri != NULL)
            d->shared[side][d->n_shared[side]++] =
                (shared_t){m->items[i].shared_uri, m->items[i].value};
    qsort(d->shared[side], shared, sizeof *d->shared[side], shared_cmp);
    return 0;
}

/* The relation of a triple: from rel_ids_K, or named by its id without. */
static int relation_of(kga_import_ctx_t *ctx, dbp_t *d, int side,
                       kga_import_src_t *src, const char *text,
                       id_entry_t **out)
{
    uint64_t id;
    *out = NULL;
    if (!parse_id(text, &id))
        return bad_number(src, 2, text);
    id_entry_t *e = id_map_find(&d->rels[side], id);
    if (e == NULL && d->have_rel_ids[side])
        return kga_import_bad_line(src, KGA_EUNKNOWN_ID,
                                   "unknown relation id %" PRIu64
                                   " (not in rel_ids_%d)",
                                   id, side + 1);
    if (e == NULL) {
        char digits[24];
        snprintf(digits, sizeof digits, "%" PRIu64, id);
        e = id_map_insert(&d->rels[side], id);
        if (e == NULL ||
            (e->str = kga_import_strdup(ctx, side, digits)) == NULL)
            return out_of_memory(ctx, side);
    }
    if (e->is_type < 0)
        e->is_type = (int8_t)kga_names_is_type_key(e->str);
    if (!e->is_type && e->value == NO_VALUE) {
        int rc = kga_graph_builder_relation(kga_import_builder(ctx, side),
                                            e->str, &e->value);
        if (rc != 0)
            return kga_import_builder_error(ctx, side, rc);
    }
    *out = e;
    return 0;
}

static int add_triple(kga_import_src_t *src, char **f, long n, void *arg)
{
    (void)n;
    dbp_t *d = arg;
    kga_import_ctx_t *ctx = src->ctx;
    int side = src->side, rc = 1;
    id_entry_t *ends[2] = {NULL, NULL};
    for (int k = 0; k < 2 && rc > 0; k++) {
        const char *text = f[k * 2];
        uint64_t id;
        if (!parse_id(text, &id))
            rc = bad_number(src, (size_t)k * 2 + 1, text);
        else if ((ends[k] = id_map_find(&d->ents[side], id)) == NULL)
            rc = kga_import_bad_line(src, KGA_EUNKNOWN_ID,
                                     "unknown entity id %" PRIu64
                                     " (not in ent_ids_%d)",
                                     id, side + 1);
    }
    if (rc <= 0)
        return rc;
    id_entry_t *rel;
    rc = relation_of(ctx, d, side, src, f[1], &rel);
    if (rc < 0 || rel == NULL)
        return rc < 0 ? rc : 0;
    if (rel->is_type) {
        kga_import_count_type_triple(ctx, side);
        return kga_import_type(ctx, side, ends[0]->value, ends[1]->str);
    }
    rc = kga_graph_builder_triple(kga_import_builder(ctx, side), ends[0]->value,
                                  rel->value, ends[1]->value);
    return rc != 0 ? kga_import_builder_error(ctx, side, rc) : 0;
}

static int read_triples(kga_import_ctx_t *ctx, dbp_t *d, int side)
{
    char name[32];
    snprintf(name, sizeof name, "triples_%d", side + 1);
    return kga_import_each(ctx, side, name, 1, LAYOUT_HINT,
                           KGA_IMPORT_SPLIT_NONE, 3, 1, add_triple, d, NULL);
}

/* The entities of a URI that several ids share: [*first, *first + n) of
 * d->shared[side]; n is 0 for any other URI. */
static size_t shared_entities(const dbp_t *d, int side, const char *uri,
                              size_t *first)
{
    const shared_t *s = d->shared[side];
    size_t lo = 0, hi = d->n_shared[side];
    while (lo < hi) { /* the first entry not below uri */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s[mid].uri, uri) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < d->n_shared[side] && strcmp(s[end].uri, uri) == 0)
        end++;
    *first = lo;
    return end - lo;
}

/* The keys of a line of the attribute file (fields 2..n) to ent, each with
 * an empty literal. */
static int add_keys(kga_import_src_t *src, char **f, long n, uint32_t ent)
{
    const char *key = f[0] + strlen(f[0]) + 1;
    int rc = 0;
    for (long i = 1; i < n && rc == 0; i++, key += strlen(key) + 1)
        rc = kga_import_attribute(src->ctx, src->side, ent, key, "");
    return rc;
}

/* JAPE's attribute file: a URI, then the keys of its attributes. The
 * attributes of a URI that several ids share go to each of them. */
static int add_attribute_keys(kga_import_src_t *src, char **f, long n,
                              void *arg)
{
    const dbp_t *d = arg;
    const char *key = f[0];
    int empty = 0;
    for (long i = 0; i < n; i++, key += strlen(key) + 1)
        empty |= key[0] == '\0';
    if (empty)
        return kga_import_bad_line(src, KGA_EPARSE, "empty field");
    size_t first, count = shared_entities(d, src->side, f[0], &first);
    if (count == 0) {
        uint32_t ent;
        int rc = kga_import_entity(src->ctx, src->side, f[0], &ent);
        return rc != 0 ? rc : add_keys(src, f, n, ent);
    }
    int rc = 0;
    for (size_t k = 0; k < count && rc == 0; k++)
        rc = add_keys(src, f, n, d->shared[src->side][first + k].value);
    return rc;
}

static int read_training_attrs(kga_import_ctx_t *ctx, dbp_t *d, int side)
{
    char name[32];
    snprintf(name, sizeof name, "training_attrs_%d", side + 1);
    return kga_import_each(ctx, side, name, 0, NULL, KGA_IMPORT_SPLIT_NONE, 1,
                           0, add_attribute_keys, d, NULL);
}

static int add_link(kga_import_src_t *src, char **f, long n, void *arg)
{
    (void)n;
    dbp_t *d = arg;
    int rc = 1;
    const id_entry_t *e[2] = {NULL, NULL};
    for (int side = 0; side < 2 && rc > 0; side++) {
        uint64_t id;
        if (!parse_id(f[side], &id))
            rc = bad_number(src, (size_t)side + 1, f[side]);
        else if ((e[side] = id_map_find(&d->ents[side], id)) == NULL)
            rc = kga_import_bad_line(src, KGA_EUNKNOWN_ID,
                                     "%s id %" PRIu64 " is not in ent_ids_%d",
                                     side == 0 ? "left" : "right", id,
                                     side + 1);
    }
    return rc <= 0 ? rc : kga_import_link(src, e[0]->str, e[1]->str);
}

static int read_links(kga_import_ctx_t *ctx, dbp_t *d, const char *name,
                      kga_import_split_t split)
{
    return kga_import_each(ctx, -1, name, 1, LAYOUT_HINT, split, 2, 1,
                           add_link, d, NULL);
}

static int dbp15k_check(kga_import_ctx_t *ctx, void *state)
{
    (void)state;
    kga_err_t *err = kga_import_err(ctx, -1);
    static const char *const required[] = {"ent_ids_1", "ent_ids_2",
                                           "triples_1", "triples_2"};
    char path[4096];
    for (size_t i = 0; i < 4; i++) {
        if (kga_import_exists(ctx, required[i]))
            continue;
        kga_import_path(ctx, required[i], path, sizeof path);
        if (kga_import_exists(ctx, "rel_triples_1"))
            return kga_err_set(err, KGA_ENOENT,
                               "%s: no such file (%s has rel_triples_1: it "
                               "looks like the openea layout, try --format "
                               "openea)",
                               path, kga_import_params(ctx)->src_dir);
        return kga_err_set(err, KGA_ENOENT, "%s: no such file (%s)", path,
                           LAYOUT_HINT);
    }
    int sup = kga_import_exists(ctx, "sup_pairs");
    int ref = kga_import_exists(ctx, "ref_pairs");
    if (sup != ref) {
        kga_import_path(ctx, sup ? "ref_pairs" : "sup_pairs", path,
                        sizeof path);
        return kga_err_set(err, KGA_ENOENT,
                           "%s: no such file (%s is there: the dbp15k "
                           "layout needs sup_pairs and ref_pairs together, "
                           "or ref_ent_ids alone)",
                           path, sup ? "sup_pairs" : "ref_pairs");
    }
    if (!sup && !kga_import_exists(ctx, "ref_ent_ids")) {
        kga_import_path(ctx, "ref_ent_ids", path, sizeof path);
        return kga_err_set(err, KGA_ENOENT,
                           "%s: no such file (no links: the dbp15k layout "
                           "needs sup_pairs and ref_pairs, or ref_ent_ids)",
                           path);
    }
    return 0;
}

static int dbp15k_read_side(kga_import_ctx_t *ctx, void *state, int side)
{
    dbp_t *d = state;
    char name[32];
    snprintf(name, sizeof name, "rel_ids_%d", side + 1);
    int rc = read_entities(ctx, d, side);
    if (rc == 0)
        rc = read_id_file(ctx, side, name, 0, &d->rels[side],
                          &d->have_rel_ids[side]);
    if (rc == 0)
        rc = read_triples(ctx, d, side);
    if (rc == 0)
        rc = read_training_attrs(ctx, d, side);
    return rc;
}

static int dbp15k_read_links(kga_import_ctx_t *ctx, void *state)
{
    dbp_t *d = state;
    if (!kga_import_exists(ctx, "sup_pairs"))
        return read_links(ctx, d, "ref_ent_ids", KGA_IMPORT_SPLIT_ALL);
    int rc = read_links(ctx, d, "sup_pairs", KGA_IMPORT_SPLIT_TRAIN);
    return rc != 0 ? rc
                   : read_links(ctx, d, "ref_pairs", KGA_IMPORT_SPLIT_TEST);
}

static void dbp15k_release(void *state)
{
    dbp_t *d = state;
    for (int side = 0; side < 2; side++) {
        id_map_destroy(&d->ents[side]);
        id_map_destroy(&d->rels[side]);
        free(d->shared[side]);
    }
}

const kga_import_reader_t kga_import_dbp15k_reader = {
    .state_size = sizeof(dbp_t),
    .check = dbp15k_check,
    .read_side = dbp15k_read_side,
    .read_links = dbp15k_read_links,
    .release = dbp15k_release,
};
