/* `kgalign add` (import_add.h): a store's next generation from OpenEA-style
 * line files. The store is copied into a graph builder in id order, the
 * files add to it, and kga_store_write_next() writes the result with the
 * old ids kept. Separate from import.c, which builds two stores from
 * nothing with its own layouts, threads and link splits: this reads one
 * store and two plain files, and must never renumber what a model knows. */
#include "import/import_add.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/line_reader.h"
#include "store/graph_builder.h"
#include "store/names.h"
#include "store/store.h"

/* What the new entities have collected; entities of the store are left
 * as they are. */
typedef struct {
    const kga_store_t *prev;
    kga_graph_builder_t *b;
    uint32_t kept;        /* the store's entities: builder ids 0..kept-1 */
    uint8_t *label_rank;  /* per new entity (index id - kept) */
    uint8_t *touched;     /* per entity of the store: given more */
    size_t cap;
    char *scratch;        /* a cleaned literal or a name from a URI */
    kga_add_summary_t *sum;
    kga_err_t *err;
} add_t;

static int oom(add_t *a)
{
    return kga_err_set(a->err, KGA_ENOMEM, "add: out of memory");
}

/* The builder holds the store: its entities in id order (so that builder
 * id = store id), every relation, triple and attribute. */
static int copy_store(add_t *a)
{
    const kga_store_t *s = a->prev;
    kga_graph_builder_t *b = a->b;
    uint32_t n = kga_store_entity_count(s);
    for (uint32_t r = 0; r < kga_store_relation_count(s); r++) {
        uint32_t id;
        if (kga_graph_builder_relation(b, kga_store_relation_name(s, r), &id))
            return oom(a);
    }
    for (uint32_t e = 0; e < n; e++) {
        uint32_t id;
        const char *name = kga_store_entity_name(s, e);
        uint32_t type = kga_store_entity_type(s, e);
        if (kga_graph_builder_entity(b, kga_store_entity_ext_id(s, e), &id,
                                     NULL) != 0 ||
            (name[0] != '\0' && kga_graph_builder_set_name(b, e, name)) ||
            (type != KGA_NO_TYPE &&
             kga_graph_builder_set_type(b, e, kga_store_type_name(s, type))))
            return oom(a);
    }
    for (uint32_t e = 0; e < n; e++) {
        const kga_edge_t *edges;
        uint32_t m = kga_store_edges(s, e, KGA_DIR_OUT, &edges);
        for (uint32_t i = 0; i < m; i++)
            if (kga_graph_builder_triple(b, e, edges[i].rel, edges[i].ent))
                return oom(a);
        const kga_attr_t *attrs;
        m = kga_store_attrs(s, e, &attrs);
        for (uint32_t i = 0; i < m; i++)
            if (kga_graph_builder_attribute(
                    b, e, kga_store_attr_key_name(s, attrs[i].key),
                    kga_store_attr_literal(s, &attrs[i])))
                return oom(a);
    }
    return 0;
}

/* The builder id of ext_id, created when new; marks an entity of the
 * store as touched. */
static int entity_of(add_t *a, const char *ext_id, uint32_t *ent)
{
    int created = 0;
    if (kga_graph_builder_entity(a->b, ext_id, ent, &created) != 0)
        return oom(a);
    if (*ent < a->kept) {
        a->sum->touched += !a->touched[*ent];
        a->touched[*ent] = 1;
        return 0;
    }
    size_t i = *ent - a->kept;
    if (i >= a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1024;
        uint8_t *r = realloc(a->label_rank, cap);
        if (r == NULL)
            return oom(a);
        memset(r + a->cap, 0, cap - a->cap);
        a->label_rank = r;
        a->cap = cap;
    }
    return 0;
}

/* A type candidate of a new entity: the bytewise smallest wins. */
static int offer_type(add_t *a, uint32_t ent, const char *type)
{
    if (ent < a->kept || type[0] == '\0')
        return 0;
    uint32_t cur = kga_graph_builder_entity_type(a->b, ent);
    if (cur != UINT32_MAX &&
        strcmp(type, kga_graph_builder_type_name(a->b, cur)) >= 0)
        return 0;
    return kga_graph_builder_set_type(a->b, ent, type) ? oom(a) : 0;
}

/* A label candidate of a new entity (import.h: the best label wins). */
static int offer_label(add_t *a, uint32_t ent, const char *key,
                       const char *literal)
{
    if (ent < a->kept)
        return 0;
    int rank = kga_names_label_rank(key);
    int is_type = rank == KGA_LABEL_NONE && kga_names_is_type_key(key);
    if (rank == KGA_LABEL_NONE && !is_type)
        return 0;
    kga_names_clean_literal(literal, strlen(literal), a->scratch);
    if (is_type)
        return offer_type(a, ent, a->scratch);
    uint8_t *cur = &a->label_rank[ent - a->kept];
    const char *cur_text = kga_graph_builder_entity_name(a->b, ent);
    if (!kga_names_label_better(rank, a->scratch, *cur,
                                cur_text != NULL ? cur_text : ""))
        return 0;
    if (kga_graph_builder_set_name(a->b, ent, a->scratch) != 0)
        return oom(a);
    *cur = (uint8_t)rank;
    return 0;
}

/* "FILE:LINE: what" for the current line of r. */
__attribute__((format(printf, 3, 4))) static int
bad_line(add_t *a, kga_line_reader_t *r, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return kga_err_set(a->err, KGA_EPARSE, "%s:%llu: %s",
                       kga_line_reader_path(r),
                       (unsigned long long)kga_line_reader_line_no(r), what);
}

/* The three fields (names, comma-separated in `what`) are there and none
 * is empty; exactly three when `exact`. */
static int check_fields(add_t *a, kga_line_reader_t *r, char **f,
                        size_t count, int exact, const char *what)
{
    if (count < 3 || (exact && count != 3))
        return bad_line(a, r,
                        "expected 3 tab-separated fields (%s), got %zu", what,
                        count);
    for (size_t i = 0; i < 3; i++)
        if (f[i][0] == '\0')
            return bad_line(a, r, "field %zu of (%s) is empty", i + 1, what);
    return 0;
}

static int add_triple(add_t *a, kga_line_reader_t *r, char **f, size_t count)
{
    int rc = check_fields(a, r, f, count, 1, "head, relation, tail");
    if (rc != 0)
        return rc;
    uint32_t h, t;
    if (kga_names_is_type_key(f[1])) {
        if ((rc = entity_of(a, f[0], &h)) != 0)
            return rc;
        return offer_type(a, h, f[2]);
    }
    int64_t rel = kga_store_relation_lookup(a->prev, f[1]);
    if (rel < 0) {
        a->sum->unknown_relations++;
        return 0;
    }
    if ((rc = entity_of(a, f[0], &h)) != 0 ||
        (rc = entity_of(a, f[2], &t)) != 0)
        return rc;
    return kga_graph_builder_triple(a->b, h, (uint32_t)rel, t) ? oom(a) : 0;
}

static int add_attribute(add_t *a, kga_line_reader_t *r, char **f,
                         size_t count)
{
    /* The literal is the rest of the line, tabs included. */
    for (size_t i = 3; i < count; i++)
        f[2][strlen(f[2])] = '\t';
    int rc = check_fields(a, r, f, count, 0, "entity, key, literal");
    uint32_t e;
    if (rc == 0)
        rc = entity_of(a, f[0], &e);
    if (rc != 0)
        return rc;
    if (kga_graph_builder_attribute(a->b, e, f[1], f[2]) != 0)
        return oom(a);
    return offer_label(a, e, f[1], f[2]);
}

typedef int (*line_fn)(add_t *a, kga_line_reader_t *r, char **f,
                       size_t count);

static int read_file(add_t *a, const char *path, line_fn fn)
{
    kga_line_reader_t *r;
    int rc = kga_line_reader_open(path, &r, a->err);
    if (rc != 0)
        return rc;
    char *line;
    size_t len;
    while ((rc = kga_line_reader_next(r, &line, &len, a->err)) == 1) {
        a->sum->lines++;
        if (strspn(line, " \t") == len)
            continue; /* blank lines are ignored, as by the importer */
        char *f[3];
        size_t count = kga_split_tabs(line, len, f, 3);
        if ((rc = fn(a, r, f, count)) != 0)
            break;
    }
    kga_line_reader_close(r);
    return rc < 0 ? rc : 0;
}

/* New entities without a label are named from their URI. */
static int name_new_entities(add_t *a)
{
    uint32_t n = kga_graph_builder_entity_count(a->b);
    for (uint32_t e = a->kept; e < n; e++) {
        if (a->label_rank[e - a->kept] != KGA_LABEL_NONE)
            continue;
        /* The id came from a line, so it fits the scratch. */
        const char *ext = kga_graph_builder_entity_ext_id(a->b, e);
        if (kga_names_from_uri(ext, a->scratch) > 0 &&
            kga_graph_builder_set_name(a->b, e, a->scratch) != 0)
            return oom(a);
    }
    return 0;
}

int kga_add_run(const kga_add_params_t *p, kga_add_summary_t *summary,
                kga_err_t *err)
{
    kga_add_summary_t local;
    kga_add_summary_t *sum = summary != NULL ? summary : &local;
    memset(sum, 0, sizeof *sum);
    kga_err_clear(err);
    if (p->store == NULL || (p->triples == NULL && p->attributes == NULL))
        return kga_err_set(err, KGA_EINVAL,
                           "add: a store and a triples or attributes file "
                           "are needed");
    double t0 = kga_clock_seconds();
    add_t a = {.sum = sum, .err = err};
    kga_store_t *prev = NULL;
    int rc = kga_store_open(p->store, &prev, err);
    if (rc != 0)
        return rc;
    a.prev = prev;
    a.kept = kga_store_entity_count(prev);
    a.b = kga_graph_builder_new();
    a.touched = calloc((size_t)a.kept + 1, 1);
    /* A line, hence a literal or a URI, is at most KGA_LINE_MAX bytes. */
    a.scratch = malloc(KGA_LINE_MAX + 1);
    if (a.b == NULL || a.touched == NULL || a.scratch == NULL) {
        rc = oom(&a);
        goto out;
    }
    sum->entities_before = a.kept;
    sum->triples_before = kga_store_triple_count(prev);
    sum->attributes_before = kga_store_attribute_count(prev);
    if ((rc = copy_store(&a)) != 0)
        goto out;
    uint64_t dup0 = kga_graph_builder_duplicate_triples(a.b);
    if (p->triples != NULL && (rc = read_file(&a, p->triples, add_triple)))
        goto out;
    if (p->attributes != NULL &&
        (rc = read_file(&a, p->attributes, add_attribute)) != 0)
        goto out;
    if ((rc = name_new_entities(&a)) != 0)
        goto out;
    rc = kga_store_write_next(a.b, prev, p->store, err);
    if (rc != 0)
        goto out;
    sum->generation = kga_store_generation(prev) + 1;
    sum->entities = kga_graph_builder_entity_count(a.b);
    sum->triples = kga_graph_builder_triple_count(a.b);
    sum->attributes = kga_graph_builder_attribute_count(a.b);
    sum->duplicates = kga_graph_builder_duplicate_triples(a.b) - dup0;
    sum->seconds = kga_clock_seconds() - t0;
out:
    free(a.scratch);
    free(a.touched);
    free(a.label_rank);
    kga_graph_builder_free(a.b);
    kga_store_close(prev);
    return rc;
}
