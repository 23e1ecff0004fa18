/* The two graphs of an import: entities, relation triples and attributes
 * into each side's builder, with the name and type candidates decided in
 * an order-independent way (the best label, the bytewise smallest type),
 * then the names from URIs and the types at the end, and which keys gave
 * the names. Each side is touched by its own thread only. */
#include "import/import_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "base/utf8.h"
#include "store/names.h"

/* ---- the two graphs ---- */

kga_graph_builder_t *kga_import_builder(kga_import_ctx_t *ctx, int side)
{
    return ctx->side[side].b;
}

int kga_import_builder_error(kga_import_ctx_t *ctx, int side, int code)
{
    return kga_err_set(kga_import_err(ctx, side), code,
                       "import: building graph %d: %s", side + 1,
                       kga_strerror(code));
}

static int side_reserve(side_t *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t cap = kga_grow_capacity(s->cap, need, 1024, sizeof *s->type);
    if (cap == 0)
        return KGA_ELIMIT;
    if (kga_grow_resize(&s->label_rank, cap, 1) != 0 ||
        kga_grow_resize(&s->type, cap, sizeof *s->type) != 0 ||
        kga_grow_resize(&s->name_key, cap, sizeof *s->name_key) != 0)
        return KGA_ENOMEM;
    memset(s->label_rank + s->cap, 0, cap - s->cap);
    memset(s->type + s->cap, 0xff, (cap - s->cap) * sizeof *s->type);
    memset(s->name_key + s->cap, 0xff, (cap - s->cap) * sizeof *s->name_key);
    s->cap = cap;
    return 0;
}

static int intern_entity(kga_import_ctx_t *ctx, int side, const char *ext_id,
                         uint32_t *ent)
{
    side_t *s = &ctx->side[side];
    int rc = kga_graph_builder_entity(s->b, ext_id, ent, NULL);
    if (rc == 0)
        rc = side_reserve(s, (size_t)*ent + 1);
    return rc != 0 ? kga_import_builder_error(ctx, side, rc) : 0;
}

int kga_import_entity(kga_import_ctx_t *ctx, int side, const char *ext_id,
                      uint32_t *ent)
{
    side_t *s = &ctx->side[side];
    size_t len = strlen(ext_id);
    if (len == s->last_len && memcmp(ext_id, s->last_ext, len) == 0) {
        *ent = s->last_ent;
        return 0;
    }
    int rc = intern_entity(ctx, side, ext_id, ent);
    if (rc == 0 && len > 0 && len < LAST_EXT_MAX) {
        memcpy(s->last_ext, ext_id, len);
        s->last_len = len;
        s->last_ent = *ent;
    }
    return rc;
}

int kga_import_entity_named(kga_import_ctx_t *ctx, int side,
                            const char *ext_id, const char *name_uri,
                            uint32_t *ent)
{
    side_t *s = &ctx->side[side];
    int rc = kga_import_entity(ctx, side, ext_id, ent);
    if (rc != 0 || s->label_rank[*ent] != 0)
        return rc;
    if (kga_names_from_uri(name_uri, s->scratch) == 0)
        return 0;
    rc = kga_graph_builder_set_name(s->b, *ent, s->scratch);
    if (rc != 0)
        return kga_import_builder_error(ctx, side, rc);
    s->label_rank[*ent] = NAME_FROM_URI;
    return 0;
}

void kga_import_note_shared_uri(kga_import_ctx_t *ctx, int side,
                                const char *uri)
{
    side_t *s = &ctx->side[side];
    s->shared_uri_ids++;
    if (s->shared_uri_first == NULL || strcmp(uri, s->shared_uri_first) < 0)
        s->shared_uri_first = uri;
}

int kga_import_type(kga_import_ctx_t *ctx, int side, uint32_t ent,
                    const char *type_name)
{
    side_t *s = &ctx->side[side];
    if (type_name[0] == '\0')
        return 0;
    uint32_t cur = s->type[ent];
    if (cur != NO_TYPE &&
        strcmp(type_name, kga_intern_str(&s->types, cur)) >= 0)
        return 0;
    uint32_t t;
    int rc = kga_intern_add(&s->types, &s->arena, type_name,
                            strlen(type_name), &t, NULL);
    if (rc != 0)
        return kga_import_builder_error(ctx, side, rc);
    s->type[ent] = t;
    return 0;
}

void kga_import_count_type_triple(kga_import_ctx_t *ctx, int side)
{
    ctx->side[side].type_triples++;
}

int kga_import_triple(kga_import_ctx_t *ctx, int side, const char *head,
                      const char *rel, const char *tail)
{
    side_t *s = &ctx->side[side];
    uint32_t h, t, r;
    int rc = kga_import_entity(ctx, side, head, &h);
    if (rc != 0)
        return rc;
    if (kga_names_is_type_key(rel)) {
        s->type_triples++;
        return kga_import_type(ctx, side, h, tail);
    }
    rc = intern_entity(ctx, side, tail, &t);
    if (rc != 0)
        return rc;
    rc = kga_graph_builder_relation(s->b, rel, &r);
    if (rc == 0)
        rc = kga_graph_builder_triple(s->b, h, r, t);
    return rc != 0 ? kga_import_builder_error(ctx, side, rc) : 0;
}

/* The rank of a name from key (lower is better, 0: key gives no name):
 * 1 is an explicit name (kga_import_name), then the name predicates in
 * order, then the label keys (KGA_LABEL_*). */
static int name_rank(const kga_import_ctx_t *ctx, const char *key)
{
    for (unsigned i = 0; i < ctx->n_name_predicates; i++)
        if (kga_names_key_is(key, ctx->name_predicates[i]))
            return 2 + (int)i;
    int label = kga_names_label_rank(key);
    return label == KGA_LABEL_NONE
               ? 0
               : 1 + (int)ctx->n_name_predicates + label;
}

/* Makes name (len bytes in s->scratch or elsewhere) the name of ent when
 * it beats the current one: a better rank, or the same rank and a bytewise
 * smaller text. */
static int offer_name(kga_import_ctx_t *ctx, int side, uint32_t ent,
                      int rank, const char *name, const char *source)
{
    side_t *s = &ctx->side[side];
    int cur = s->label_rank[ent];
    if (cur != 0 &&
        (rank > cur ||
         (rank == cur &&
          strcmp(name, kga_graph_builder_entity_name(s->b, ent)) >= 0)))
        return 0;
    uint32_t key;
    int rc = kga_graph_builder_set_name(s->b, ent, name);
    if (rc == 0)
        rc = kga_intern_add(&s->name_keys, &s->arena, source, strlen(source),
                            &key, NULL);
    if (rc != 0)
        return kga_import_builder_error(ctx, side, rc);
    s->label_rank[ent] = (uint8_t)rank;
    s->name_key[ent] = key;
    return 0;
}

int kga_import_attribute(kga_import_ctx_t *ctx, int side, uint32_t ent,
                         const char *key, const char *literal)
{
    side_t *s = &ctx->side[side];
    int rc = kga_graph_builder_attribute(s->b, ent, key, literal);
    if (rc != 0)
        return kga_import_builder_error(ctx, side, rc);
    int rank = name_rank(ctx, key);
    int is_type = rank == 0 && kga_names_is_type_key(key);
    if (rank == 0 && !is_type)
        return 0;
    size_t len = kga_names_clean_literal(literal, strlen(literal), s->scratch);
    if (len == 0)
        return 0;
    if (is_type)
        return kga_import_type(ctx, side, ent, s->scratch);
    return offer_name(ctx, side, ent, rank, s->scratch, key);
}

int kga_import_name(kga_import_ctx_t *ctx, int side, uint32_t ent,
                    const char *name, const char *source)
{
    if (name[0] == '\0')
        return 0;
    return offer_name(ctx, side, ent, 1, name, source);
}

typedef struct {
    uint32_t key;
    uint32_t entities;
} key_count_t;

static int u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

static int key_count_cmp(const void *pa, const void *pb, void *arg)
{
    const key_count_t *a = pa, *b = pb;
    const kga_intern_t *keys = arg;
    if (a->entities != b->entities)
        return a->entities > b->entities ? -1 : 1;
    return strcmp(kga_intern_str(keys, a->key), kga_intern_str(keys, b->key));
}

/* The n counts (sorted here) into the summary's list, most first. */
static void list_keys(key_count_t *counts, uint32_t n,
                      const kga_intern_t *keys, kga_import_key_count_t *out,
                      unsigned *n_out)
{
    qsort_r(counts, n, sizeof *counts, key_count_cmp, (void *)keys);
    *n_out = 0;
    for (uint32_t i = 0; i < n && *n_out < KGA_IMPORT_KEY_LIST; i++) {
        if (counts[i].entities == 0)
            break;
        kga_import_key_count_t *o = &out[(*n_out)++];
        snprintf(o->key, sizeof o->key, "%s",
                 kga_intern_str(keys, counts[i].key));
        o->entities = counts[i].entities;
    }
}

/* Which keys gave the names of side, and where none did, which attribute
 * keys look like names (each entity counted once per key). */
static int name_sources(kga_import_ctx_t *ctx, int side,
                        kga_import_side_t *out)
{
    side_t *s = &ctx->side[side];
    uint32_t n = kga_graph_builder_entity_count(s->b);
    uint32_t nk = kga_intern_count(&s->name_keys);
    key_count_t *counts = calloc(nk ? nk : 1, sizeof *counts);
    if (counts == NULL)
        return kga_import_builder_error(ctx, side, KGA_ENOMEM);
    for (uint32_t k = 0; k < nk; k++)
        counts[k].key = k;
    for (uint32_t e = 0; e < n; e++)
        if (s->label_rank[e] != 0 && s->label_rank[e] != NAME_FROM_URI)
            counts[s->name_key[e]].entities++;
    list_keys(counts, nk, &s->name_keys, out->name_keys, &out->n_name_keys);
    free(counts);
    out->n_name_hints = 0;
    if (out->labelled > 0)
        return 0;
    uint32_t na = kga_graph_builder_attr_key_count(s->b);
    uint64_t n_attrs;
    const kga_graph_builder_attr_t *attrs =
        kga_graph_builder_attributes(s->b, &n_attrs);
    counts = calloc(na ? na : 1, sizeof *counts);
    uint8_t *hint = calloc(na ? na : 1, 1);
    kga_intern_t names;
    kga_intern_init(&names);
    int rc = counts && hint ? 0 : KGA_ENOMEM;
    for (uint32_t k = 0; k < na && rc == 0; k++) {
        const char *key = kga_graph_builder_attr_key_name(s->b, k);
        rc = kga_intern_add(&names, &s->arena, key, strlen(key),
                            &counts[k].key, NULL);
        hint[k] = (uint8_t)kga_names_key_looks_like_name(key);
    }
    /* (key, entity) of the name-like triples, sorted: an entity counts
     * once per key however many values it has. */
    uint64_t m = 0, *pairs = NULL;
    for (uint64_t i = 0; i < n_attrs && rc == 0; i++)
        m += hint[attrs[i].key];
    if (rc == 0 && (pairs = malloc((m ? m : 1) * sizeof *pairs)) == NULL)
        rc = KGA_ENOMEM;
    m = 0;
    for (uint64_t i = 0; i < n_attrs && rc == 0; i++)
        if (hint[attrs[i].key])
            pairs[m++] = (uint64_t)attrs[i].key << 32 | attrs[i].ent;
    if (rc == 0)
        qsort(pairs, m, sizeof *pairs, u64_cmp);
    for (uint64_t i = 0; i < m && rc == 0; i++)
        if (i == 0 || pairs[i] != pairs[i - 1])
            counts[pairs[i] >> 32].entities++;
    free(pairs);
    free(hint);
    if (rc == 0)
        list_keys(counts, na, &names, out->name_hints, &out->n_name_hints);
    kga_intern_destroy(&names);
    free(counts);
    return rc != 0 ? kga_import_builder_error(ctx, side, rc) : 0;
}

/* Names from URIs for entities without a label; types into the builder. */
int kga_import_finish_side(kga_import_ctx_t *ctx, int side,
                           kga_import_side_t *out)
{
    side_t *s = &ctx->side[side];
    uint32_t n = kga_graph_builder_entity_count(s->b);
    uint32_t named = 0, labelled = 0;
    for (uint32_t e = 0; e < n; e++) {
        int rc = 0;
        if (s->label_rank[e] == NAME_FROM_URI) {
            named++;
        } else if (s->label_rank[e] != 0) {
            labelled++;
            named++;
        } else {
            const char *ext = kga_graph_builder_entity_ext_id(s->b, e);
            if (kga_names_from_uri(ext, s->scratch) > 0) {
                rc = kga_graph_builder_set_name(s->b, e, s->scratch);
                named++;
            }
        }
        if (rc == 0 && s->type[e] != NO_TYPE)
            rc = kga_graph_builder_set_type(
                s->b, e, kga_intern_str(&s->types, s->type[e]));
        if (rc != 0)
            return kga_import_builder_error(ctx, side, rc);
    }
    out->entities = n;
    out->relations = kga_graph_builder_relation_count(s->b);
    out->types = kga_graph_builder_type_count(s->b);
    out->attr_keys = kga_graph_builder_attr_key_count(s->b);
    out->named = named;
    out->labelled = labelled;
    out->triples = kga_graph_builder_triple_count(s->b);
    out->attributes = kga_graph_builder_attribute_count(s->b);
    out->duplicate_triples = kga_graph_builder_duplicate_triples(s->b);
    out->type_triples = s->type_triples;
    out->shared_uri_ids = s->shared_uri_ids;
    out->shared_uri_example[0] = '\0';
    if (s->shared_uri_first != NULL) {
        const char *u = s->shared_uri_first;
        size_t len = strlen(u);
        if (len >= KGA_IMPORT_EXAMPLE_MAX)
            len = kga_utf8_cut(u, KGA_IMPORT_EXAMPLE_MAX - 1);
        memcpy(out->shared_uri_example, u, len);
        out->shared_uri_example[len] = '\0';
    }
    return name_sources(ctx, side, out);
}
