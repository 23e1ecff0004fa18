/* The two graphs of an import: entities, relation triples and attributes
 * into each side's builder, with the name and type candidates decided in
 * an order-independent way (the best label, the bytewise smallest type),
 * then the names from URIs and the types at the end. Each side is touched
 * by its own thread only. */
#include "import/import_internal.h"

#include <stdlib.h>
#include <string.h>

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
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < need)
        cap *= 2;
    uint8_t *rank = realloc(s->label_rank, cap);
    if (rank == NULL)
        return KGA_ENOMEM;
    s->label_rank = rank;
    uint32_t *type = realloc(s->type, cap * sizeof *type);
    if (type == NULL)
        return KGA_ENOMEM;
    s->type = type;
    memset(rank + s->cap, 0, cap - s->cap);
    memset(type + s->cap, 0xff, (cap - s->cap) * sizeof *type);
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

int kga_import_attribute(kga_import_ctx_t *ctx, int side, uint32_t ent,
                         const char *key, const char *literal)
{
    side_t *s = &ctx->side[side];
    int rc = kga_graph_builder_attribute(s->b, ent, key, literal);
    if (rc != 0)
        return kga_import_builder_error(ctx, side, rc);
    int rank = kga_names_label_rank(key);
    int is_type = rank == KGA_LABEL_NONE && kga_names_is_type_key(key);
    if (rank == KGA_LABEL_NONE && !is_type)
        return 0;
    size_t len = kga_names_clean_literal(literal, strlen(literal), s->scratch);
    if (len == 0)
        return 0;
    if (is_type)
        return kga_import_type(ctx, side, ent, s->scratch);
    int cur = s->label_rank[ent];
    if (!kga_names_label_better(rank, s->scratch, cur,
                                cur ? kga_graph_builder_entity_name(s->b, ent)
                                    : ""))
        return 0;
    rc = kga_graph_builder_set_name(s->b, ent, s->scratch);
    if (rc != 0)
        return kga_import_builder_error(ctx, side, rc);
    s->label_rank[ent] = (uint8_t)rank;
    return 0;
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
        if (s->label_rank[e] != 0) {
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
    return 0;
}
