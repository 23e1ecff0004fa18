/* Two RDF graphs in N-Triples and their links:
 *   left.nt, right.nt          one triple a line (gzip or plain, by
 *                              content; also left.nt.gz, right.nt.gz)
 *   train_links, test_links    LEFT TAB RIGHT [TAB LABEL] (".tsv" optional)
 *   valid_links                the same (optional)
 * IRIs and blank nodes are entities (an IRI's id is written without <>),
 * literals attributes of their subject keyed by the predicate IRI, and
 * rdf:type objects types. Lines are parsed by ntriples.c; the rest is the
 * shared import machinery of import.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/import.h"
#include "import/ntriples.h"

#define LAYOUT_HINT                                                        \
    "the ntriples layout needs left.nt, right.nt (gzip or plain), "        \
    "train_links and test_links (LEFT TAB RIGHT [TAB LABEL])"

typedef struct {
    char *out[2];         /* decoded terms of a line, per side */
    const char *graph[2]; /* the file names found */
    const char *links[3]; /* train, valid, test (NULL: absent) */
} nt_t;

static void nt_release(void *state)
{
    nt_t *n = state;
    free(n->out[0]);
    free(n->out[1]);
}

/* The first of the names that exists under SRC, or NULL. */
static const char *first_present(kga_import_ctx_t *ctx,
                                 const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (kga_import_exists(ctx, names[i]))
            return names[i];
    return NULL;
}

static int nt_check(kga_import_ctx_t *ctx, void *state)
{
    nt_t *n = state;
    static const char *const graphs[2][2] = {{"left.nt", "left.nt.gz"},
                                             {"right.nt", "right.nt.gz"}};
    static const char *const links[3][2] = {
        {"train_links.tsv", "train_links"},
        {"valid_links.tsv", "valid_links"},
        {"test_links.tsv", "test_links"}};
    kga_err_t *err = kga_import_err(ctx, -1);
    char path[4096];
    for (int side = 0; side < 2; side++) {
        n->graph[side] = first_present(ctx, graphs[side], 2);
        if (n->graph[side] == NULL) {
            kga_import_path(ctx, graphs[side][0], path, sizeof path);
            return kga_err_set(err, KGA_ENOENT, "%s: no such file (%s)",
                               path, LAYOUT_HINT);
        }
    }
    for (int i = 0; i < 3; i++) {
        n->links[i] = first_present(ctx, links[i], 2);
        if (n->links[i] == NULL && i != 1) {
            kga_import_path(ctx, links[i][0], path, sizeof path);
            return kga_err_set(err, KGA_ENOENT, "%s: no such file (%s)",
                               path, LAYOUT_HINT);
        }
    }
    return 0;
}

static int add_line(kga_import_src_t *src, nt_t *n, const char *line,
                    size_t len)
{
    kga_import_ctx_t *ctx = src->ctx;
    int side = src->side;
    kga_nt_triple_t t;
    kga_nt_error_t e;
    int rc = kga_nt_parse(line, len, n->out[side], &t, &e);
    if (rc == 0)
        return 0;
    if (rc < 0)
        return kga_import_bad_line(src, KGA_EPARSE, "column %zu: %s",
                                   e.column, e.what);
    if (t.object_kind != KGA_NT_LITERAL)
        return kga_import_triple(ctx, side, t.subject, t.predicate,
                                 t.object);
    uint32_t ent;
    rc = kga_import_entity(ctx, side, t.subject, &ent);
    return rc != 0 ? rc
                   : kga_import_attribute(ctx, side, ent, t.predicate,
                                          t.object);
}

static int nt_read_side(kga_import_ctx_t *ctx, void *state, int side)
{
    nt_t *n = state;
    n->out[side] = malloc(KGA_NT_OUT_BYTES(KGA_LINE_MAX));
    if (n->out[side] == NULL)
        return kga_import_builder_error(ctx, side, KGA_ENOMEM);
    kga_import_src_t src;
    int rc = kga_import_open(ctx, side, n->graph[side], 1, LAYOUT_HINT,
                             KGA_IMPORT_SPLIT_NONE, &src);
    if (rc != 0)
        return rc;
    /* Whole lines: a literal may hold a tab, so no field splitting. */
    char *line;
    size_t len;
    long count;
    while ((count = kga_import_next_line(&src, &line, &len)) > 0) {
        rc = add_line(&src, n, line, len);
        if (rc < 0)
            break;
    }
    if (count < 0)
        rc = (int)count;
    kga_import_close(&src);
    return rc < 0 ? rc : 0;
}

/* An id of a links file: an IRI with or without <>, or a blank node. */
static char *link_id(char *s)
{
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
        s[len - 1] = '\0';
        return s + 1;
    }
    return s;
}

static int add_link(kga_import_src_t *src, char **f, long count, void *arg)
{
    (void)arg;
    if (count != 2 && count != 3)
        return kga_import_bad_line(src, KGA_EPARSE,
                                   "expected 2 or 3 tab-separated fields "
                                   "(left, right, optional label), found %ld",
                                   count);
    int rc = kga_import_check_fields(src, count, f, (size_t)count);
    if (rc <= 0)
        return rc;
    if (count == 2)
        return kga_import_link(src, link_id(f[0]), link_id(f[1]));
    if ((f[2][0] != '0' && f[2][0] != '1') || f[2][1] != '\0')
        return kga_import_bad_line(src, KGA_EPARSE,
                                   "field 3: label '%.40s' is not 0 or 1",
                                   f[2]);
    return kga_import_pair(src, link_id(f[0]), link_id(f[1]), f[2][0] - '0');
}

static int nt_read_links(kga_import_ctx_t *ctx, void *state)
{
    nt_t *n = state;
    static const kga_import_split_t splits[3] = {
        KGA_IMPORT_SPLIT_TRAIN, KGA_IMPORT_SPLIT_VALID, KGA_IMPORT_SPLIT_TEST};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (n->links[i] != NULL)
            rc = kga_import_each(ctx, -1, n->links[i], 1, LAYOUT_HINT,
                                 splits[i], 3, 0, add_link, NULL, NULL);
    return rc;
}

const kga_import_reader_t kga_import_ntriples_reader = {
    .state_size = sizeof(nt_t),
    .check = nt_check,
    .read_side = nt_read_side,
    .read_links = nt_read_links,
    .release = nt_release,
};
