/* The record tables of entity matching, in the Magellan / DeepMatcher
 * layout (Mudgal et al., SIGMOD 2018):
 *   tableA.csv, tableB.csv        id,<attribute columns>: one record a row
 *   train.csv, test.csv           ltable_id,rtable_id[,label]
 *   valid.csv                     the same (optional)
 * RFC 4180 CSV (csv_reader.h). A record becomes an entity, a value an
 * attribute keyed by its column; the values of the entity columns become
 * shared, typed nodes instead (the multi-type graph of CG-MuAlign). The
 * name column, given or chosen from a sample of the data, names the
 * records. Import.h has the rules; this file reads the files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/grow.h"
#include "base/value.h"
#include "import/import.h"
#include "store/names.h"

#define LAYOUT_HINT                                                        \
    "the records layout needs tableA.csv, tableB.csv, train.csv and "      \
    "test.csv (valid.csv optional)"
#define PAIRS_HINT                                                         \
    "pair files need the columns ltable_id and rtable_id, and label for "  \
    "labelled pairs"
#define RECORD_TYPE "record"
#define MAX_COLUMNS KGA_CSV_FIELDS_MAX
/* Records of each table read to choose the name column. */
#define SAMPLE_ROWS 20000u
/* Text quoted in messages is cut to this many bytes. */
#define MSG_TEXT_MAX 200

static const char *const table_files[2] = {"tableA.csv", "tableB.csv"};

typedef struct {
    char **cols;      /* header names, in the import's arena */
    size_t n_cols;
    size_t id_col;
    uint8_t *entity;  /* per column: an entity column */
} table_t;

typedef struct {
    table_t table[2];
    const char *entity_cols[MAX_COLUMNS];
    size_t n_entity_cols;
    int typed; /* entity columns given: records get RECORD_TYPE */
    /* Per builder entity of each side: the line of the record, 0 for a
     * node. */
    uint64_t *record_line[2];
    size_t cap[2];
    char *scratch[2]; /* a value's node key */
} records_t;

static void records_release(void *state)
{
    records_t *r = state;
    for (int side = 0; side < 2; side++) {
        free(r->table[side].cols);
        free(r->table[side].entity);
        free(r->record_line[side]);
        free(r->scratch[side]);
    }
}

/* ---- headers ---- */

static int eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* The columns of a header as one string, for messages. */
static void list_columns(char **cols, size_t n, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 8 < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
                         cols[i]);
        if (w < 0 || (size_t)w >= cap - used) {
            snprintf(buf + used, cap - used, ", ...");
            break;
        }
        used += (size_t)w;
    }
}

static long find_column(char **cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cols[i], name) == 0)
            return (long)i;
    for (size_t i = 0; i < n; i++)
        if (eq_nocase(cols[i], name))
            return (long)i;
    return -1;
}

/* Checks a header (names present, distinct, not blank). */
static int check_header(kga_import_ctx_t *ctx, const char *path, char **f,
                        long n)
{
    kga_err_t *err = kga_import_err(ctx, -1);
    for (long i = 0; i < n; i++) {
        if (f[i][0] == '\0')
            return kga_err_set(err, KGA_EPARSE,
                               "%s:1: column %ld has no name in the header",
                               path, i + 1);
        for (long j = 0; j < i; j++)
            if (strcmp(f[i], f[j]) == 0)
                return kga_err_set(err, KGA_EPARSE,
                                   "%s:1: column '%.*s' is in the header "
                                   "twice (columns %ld and %ld)",
                                   path, MSG_TEXT_MAX, f[i], j + 1, i + 1);
    }
    return 0;
}

/* Reads the header of a table into t. */
static int read_header(kga_import_ctx_t *ctx, int side, table_t *t)
{
    kga_err_t *err = kga_import_err(ctx, -1);
    char path[4096];
    if (kga_import_path(ctx, table_files[side], path, sizeof path) != 0)
        return kga_err_set(err, KGA_ELIMIT, "%s: path too long",
                           table_files[side]);
    kga_csv_reader_t *r = NULL;
    int rc = kga_csv_reader_open(path, &r, err);
    if (rc == KGA_ENOENT)
        return kga_err_set(err, rc, "%s: no such file (%s)", path,
                           LAYOUT_HINT);
    if (rc != 0)
        return rc;
    char **f;
    long n = kga_csv_reader_next(r, &f, err);
    if (n == 0)
        rc = kga_err_set(err, KGA_EPARSE,
                         "%s: empty file (a header id,<columns> and a row "
                         "per record are needed)", path);
    else if (n < 0)
        rc = (int)n;
    else
        rc = check_header(ctx, path, f, n);
    if (rc == 0) {
        t->n_cols = (size_t)n;
        t->cols = calloc((size_t)n, sizeof *t->cols);
        t->entity = calloc((size_t)n, 1);
        if (t->cols == NULL || t->entity == NULL)
            rc = kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
        for (long i = 0; i < n && rc == 0; i++)
            if ((t->cols[i] = (char *)kga_import_strdup(ctx, -1, f[i])) ==
                NULL)
                rc = kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
    }
    if (rc == 0) {
        long id = find_column(t->cols, t->n_cols, "id");
        if (id < 0)
            id = find_column(t->cols, t->n_cols, "_id");
        if (id < 0) {
            char cols[256];
            list_columns(t->cols, t->n_cols, cols, sizeof cols);
            rc = kga_err_set(err, KGA_EPARSE,
                             "%s:1: no id column (the header has: %s); "
                             "every record needs an id in a column named "
                             "id", path, cols);
        } else {
            t->id_col = (size_t)id;
        }
    }
    kga_csv_reader_close(r);
    return rc;
}

/* ---- the entity columns and the name column ---- */

static int in_header(const table_t *t, const char *col)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i], col) == 0)
            return 1;
    return 0;
}

/* Parses params.entity_columns ("A, B") and marks them in both tables. */
static int parse_entity_columns(kga_import_ctx_t *ctx, records_t *r)
{
    const kga_import_params_t *p = kga_import_params(ctx);
    kga_err_t *err = kga_import_err(ctx, -1);
    if (p->entity_columns == NULL)
        return 0;
    const char *s = p->entity_columns;
    while (*s != '\0') {
        const char *comma = strchr(s, ',');
        size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
        while (len > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        char name[1024];
        if (len == 0 || len >= sizeof name)
            return kga_err_set(err, KGA_EINVAL,
                               "--entity-columns '%s': an empty or overlong "
                               "column name", p->entity_columns);
        memcpy(name, s, len);
        name[len] = '\0';
        int found = 0;
        for (int side = 0; side < 2; side++) {
            table_t *t = &r->table[side];
            for (size_t i = 0; i < t->n_cols; i++) {
                if (strcmp(t->cols[i], name) != 0)
                    continue;
                if (i == t->id_col)
                    return kga_err_set(err, KGA_EINVAL,
                                       "--entity-columns: '%s' is the id "
                                       "column", name);
                t->entity[i] = 1;
                found = 1;
                if (side == 0 || !in_header(&r->table[0], name)) {
                    if (r->n_entity_cols == MAX_COLUMNS)
                        return kga_err_set(err, KGA_ELIMIT,
                                           "--entity-columns: too many");
                    r->entity_cols[r->n_entity_cols++] = t->cols[i];
                }
            }
        }
        if (!found) {
            char cols[256];
            list_columns(r->table[0].cols, r->table[0].n_cols, cols,
                         sizeof cols);
            return kga_err_set(err, KGA_EINVAL,
                               "--entity-columns: no column '%s' in %s or "
                               "%s (%s has: %s)",
                               name, table_files[0], table_files[1],
                               table_files[0], cols);
        }
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    r->typed = r->n_entity_cols > 0;
    return 0;
}

/* What a sample says about one column of one table. */
typedef struct {
    uint64_t rows, filled, typed;
    uint64_t *hashes; /* of the filled values */
} column_sample_t;

static int u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

static int blank(const char *v)
{
    for (; *v; v++)
        if (*v != ' ' && *v != '\t' && *v != '\r' && *v != '\n')
            return 0;
    return 1;
}

/* Reads up to SAMPLE_ROWS records of a table into per-column samples (a
 * malformed record ends the sample: the import proper reports it). */
static int sample_table(kga_import_ctx_t *ctx, int side, const table_t *t,
                        column_sample_t *cs)
{
    kga_err_t *err = kga_import_err(ctx, -1);
    char path[4096];
    kga_import_path(ctx, table_files[side], path, sizeof path);
    kga_csv_reader_t *r = NULL;
    int rc = kga_csv_reader_open(path, &r, err);
    if (rc != 0)
        return rc;
    for (size_t c = 0; c < t->n_cols && rc == 0; c++)
        if ((cs[c].hashes = malloc(SAMPLE_ROWS * sizeof(uint64_t))) == NULL)
            rc = kga_err_set(err, KGA_ENOMEM, "out of memory");
    char **f;
    long n = rc == 0 ? kga_csv_reader_next(r, &f, err) : 0; /* header */
    for (uint64_t row = 0; n > 0 && rc == 0 && row < SAMPLE_ROWS; row++) {
        n = kga_csv_reader_next(r, &f, err);
        if (n != (long)t->n_cols)
            break;
        for (size_t c = 0; c < t->n_cols; c++) {
            cs[c].rows++;
            if (blank(f[c]))
                continue;
            double v;
            cs[c].typed += kga_value_kind(f[c], &v) != KGA_VALUE_TEXT;
            cs[c].hashes[cs[c].filled++] = kga_hash64(f[c], strlen(f[c]));
        }
    }
    kga_err_clear(err);
    kga_csv_reader_close(r);
    return rc;
}

static double distinct_share(column_sample_t *c)
{
    if (c->filled == 0)
        return 0;
    qsort(c->hashes, c->filled, sizeof *c->hashes, u64_cmp);
    uint64_t distinct = 1;
    for (uint64_t i = 1; i < c->filled; i++)
        distinct += c->hashes[i] != c->hashes[i - 1];
    return (double)distinct / (double)c->filled;
}

/* Chooses the name column from samples of both tables: a text column (at
 * least half its values text, at least half the rows filled) of both
 * tables; of those named like a name (kga_names_key_looks_like_name) the
 * most distinct, else the most distinct of all, the earlier column of
 * tableA.csv on ties. Writes what it chose and why to the summary. */
static int choose_name_column(kga_import_ctx_t *ctx, records_t *r)
{
    const table_t *a = &r->table[0], *b = &r->table[1];
    column_sample_t *cs[2];
    cs[0] = calloc(a->n_cols, sizeof *cs[0]);
    cs[1] = calloc(b->n_cols, sizeof *cs[1]);
    int rc = cs[0] && cs[1] ? 0 : KGA_ENOMEM;
    if (rc != 0)
        kga_err_set(kga_import_err(ctx, -1), rc, "out of memory");
    for (int side = 0; side < 2 && rc == 0; side++)
        rc = sample_table(ctx, side, &r->table[side], cs[side]);
    long best = -1;
    int best_named = 0;
    double best_score = -1;
    for (size_t i = 0; i < a->n_cols && rc == 0; i++) {
        long j = find_column(b->cols, b->n_cols, a->cols[i]);
        if (i == a->id_col || a->entity[i] || j < 0 || (size_t)j == b->id_col ||
            b->entity[j])
            continue;
        column_sample_t *x = &cs[0][i], *y = &cs[1][j];
        uint64_t rows = x->rows + y->rows, filled = x->filled + y->filled;
        if (rows == 0 || filled * 2 < rows ||
            (x->typed + y->typed) * 2 > filled)
            continue;
        double score = (distinct_share(x) * (double)x->filled +
                        distinct_share(y) * (double)y->filled) /
                       (double)filled;
        int named = kga_names_key_looks_like_name(a->cols[i]);
        if (named > best_named || (named == best_named && score > best_score)) {
            best = (long)i;
            best_named = named;
            best_score = score;
        }
    }
    for (int side = 0; side < 2; side++) {
        const table_t *t = &r->table[side];
        for (size_t c = 0; cs[side] != NULL && c < t->n_cols; c++)
            free(cs[side][c].hashes);
        free(cs[side]);
    }
    if (rc != 0)
        return rc;
    kga_import_summary_t *sum = kga_import_summary(ctx);
    if (best < 0) {
        snprintf(sum->name_note, sizeof sum->name_note,
                 "no name column: no text column filled in both tables; "
                 "records are named by their ids (--name-column to choose "
                 "one)");
        return 0;
    }
    snprintf(sum->name_note, sizeof sum->name_note,
             "name column: %.100s (chosen from the data: the most distinct "
             "text column%s; --name-column to choose another)",
             a->cols[best], best_named ? " named like a name" : "");
    return kga_import_add_name_predicate(ctx, a->cols[best]);
}

static int use_name_column(kga_import_ctx_t *ctx, records_t *r,
                           const char *col)
{
    kga_err_t *err = kga_import_err(ctx, -1);
    for (int side = 0; side < 2; side++) {
        const table_t *t = &r->table[side];
        long i = find_column(t->cols, t->n_cols, col);
        if (i < 0 || strcmp(t->cols[i], col) != 0) {
            char cols[256];
            list_columns(t->cols, t->n_cols, cols, sizeof cols);
            return kga_err_set(err, KGA_EINVAL,
                               "--name-column: no column '%s' in %s (it "
                               "has: %s)",
                               col, table_files[side], cols);
        }
        if ((size_t)i == t->id_col || t->entity[i])
            return kga_err_set(err, KGA_EINVAL,
                               "--name-column: '%s' is the id column or an "
                               "entity column", col);
    }
    snprintf(kga_import_summary(ctx)->name_note,
             sizeof kga_import_summary(ctx)->name_note,
             "name column: %.200s (--name-column)", col);
    return kga_import_add_name_predicate(ctx, col);
}

static int records_check(kga_import_ctx_t *ctx, void *state)
{
    records_t *r = state;
    const kga_import_params_t *p = kga_import_params(ctx);
    int rc = 0;
    for (int side = 0; side < 2 && rc == 0; side++)
        rc = read_header(ctx, side, &r->table[side]);
    if (rc == 0)
        rc = parse_entity_columns(ctx, r);
    if (rc != 0)
        return rc;
    static const char *const required[] = {"train.csv", "test.csv"};
    for (size_t i = 0; i < 2; i++)
        if (!kga_import_exists(ctx, required[i])) {
            char path[4096];
            kga_import_path(ctx, required[i], path, sizeof path);
            return kga_err_set(kga_import_err(ctx, -1), KGA_ENOENT,
                               "%s: no such file (%s)", path, LAYOUT_HINT);
        }
    if (p->name_column != NULL)
        return use_name_column(ctx, r, p->name_column);
    if (p->n_name_predicates > 0) {
        snprintf(kga_import_summary(ctx)->name_note,
                 sizeof kga_import_summary(ctx)->name_note,
                 "names: from the --name-predicate columns");
        return 0;
    }
    return choose_name_column(ctx, r);
}

/* ---- the tables ---- */

static int reserve_lines(records_t *r, int side, size_t need)
{
    size_t old = r->cap[side];
    int rc = kga_grow(&r->record_line[side], &r->cap[side], need, 1024,
                      sizeof *r->record_line[side]);
    if (rc != 0)
        return rc;
    memset(r->record_line[side] + old, 0,
           (r->cap[side] - old) * sizeof *r->record_line[side]);
    return 0;
}

/* The node key of a value: ASCII lower-cased, white space runs as one
 * space, trimmed. Returns its length (0: no node). */
static size_t node_key(const char *v, char *out)
{
    size_t n = 0;
    int space = 0;
    for (; *v; v++) {
        char c = *v;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = n > 0;
            continue;
        }
        if (space)
            out[n++] = ' ';
        space = 0;
        out[n++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    out[n] = '\0';
    return n;
}

/* A value of an entity column: the node of its key, linked from ent. */
static int add_node(kga_import_src_t *src, records_t *r, uint32_t ent,
                    const char *col, const char *value)
{
    kga_import_ctx_t *ctx = src->ctx;
    int side = src->side;
    char *key = r->scratch[side];
    size_t col_len = strlen(col);
    memcpy(key, col, col_len);
    key[col_len] = ':';
    if (node_key(value, key + col_len + 1) == 0)
        return 0;
    uint32_t node, rel;
    int rc = kga_import_entity(ctx, side, key, &node);
    if (rc != 0)
        return rc;
    if ((rc = reserve_lines(r, side, (size_t)node + 1)) != 0)
        return kga_import_builder_error(ctx, side, rc);
    if (r->record_line[side][node] != 0)
        return kga_import_bad_line(src, KGA_EDUPLICATE,
                                   "column '%.*s': the node id '%.*s' is the "
                                   "id of the record at line %llu",
                                   MSG_TEXT_MAX, col, MSG_TEXT_MAX, key,
                                   (unsigned long long)
                                       r->record_line[side][node]);
    rc = kga_import_type(ctx, side, node, col);
    if (rc == 0)
        rc = kga_import_name(ctx, side, node, value, col);
    if (rc != 0)
        return rc;
    kga_graph_builder_t *b = kga_import_builder(ctx, side);
    rc = kga_graph_builder_relation(b, col, &rel);
    if (rc == 0)
        rc = kga_graph_builder_triple(b, ent, rel, node);
    return rc != 0 ? kga_import_builder_error(ctx, side, rc) : 0;
}

static int add_record(kga_import_src_t *src, records_t *r, const table_t *t,
                      char **f, long n)
{
    kga_import_ctx_t *ctx = src->ctx;
    int side = src->side;
    if ((size_t)n != t->n_cols)
        return kga_import_bad_line(src, KGA_EPARSE,
                                   "expected %zu fields (as the header has), "
                                   "found %ld",
                                   t->n_cols, n);
    const char *id = f[t->id_col];
    const char *col = t->cols[t->id_col];
    if (blank(id))
        return kga_import_bad_line(src, KGA_EPARSE, "column '%.*s': empty id",
                                   MSG_TEXT_MAX, col);
    if (strpbrk(id, "\t\r\n") != NULL ||
        strncmp(id, "\xEF\xBB\xBF", 3) == 0)
        return kga_import_bad_line(src, KGA_EPARSE,
                                   "column '%.*s': an id may not hold a tab "
                                   "or a line break, or begin with U+FEFF",
                                   MSG_TEXT_MAX, col);
    kga_graph_builder_t *b = kga_import_builder(ctx, side);
    int64_t old = kga_graph_builder_find_entity(b, id);
    if (old >= 0) {
        uint64_t line = (size_t)old < r->cap[side] ? r->record_line[side][old]
                                                   : 0;
        if (line != 0)
            return kga_import_bad_line(src, KGA_EDUPLICATE,
                                       "column '%.*s': duplicate id '%.*s' "
                                       "(first at line %llu)",
                                       MSG_TEXT_MAX, col, MSG_TEXT_MAX, id,
                                       (unsigned long long)line);
        return kga_import_bad_line(src, KGA_EDUPLICATE,
                                   "column '%.*s': id '%.*s' is also the id "
                                   "of a node of an entity column",
                                   MSG_TEXT_MAX, col, MSG_TEXT_MAX, id);
    }
    uint32_t ent;
    int rc = kga_import_entity(ctx, side, id, &ent);
    if (rc != 0)
        return rc;
    if ((rc = reserve_lines(r, side, (size_t)ent + 1)) != 0)
        return kga_import_builder_error(ctx, side, rc);
    r->record_line[side][ent] = kga_import_src_line(src);
    if (r->typed && (rc = kga_import_type(ctx, side, ent, RECORD_TYPE)) != 0)
        return rc;
    for (size_t c = 0; c < t->n_cols && rc == 0; c++) {
        if (c == t->id_col || blank(f[c]))
            continue;
        if (t->entity[c])
            rc = add_node(src, r, ent, t->cols[c], f[c]);
        else
            rc = kga_import_attribute(ctx, side, ent, t->cols[c], f[c]);
    }
    return rc;
}

static int records_read_side(kga_import_ctx_t *ctx, void *state, int side)
{
    records_t *r = state;
    const table_t *t = &r->table[side];
    size_t longest = 0;
    for (size_t c = 0; c < t->n_cols; c++)
        if (strlen(t->cols[c]) > longest)
            longest = strlen(t->cols[c]);
    r->scratch[side] = malloc(longest + KGA_CSV_RECORD_MAX + 2);
    if (r->scratch[side] == NULL)
        return kga_import_builder_error(ctx, side, KGA_ENOMEM);
    kga_import_src_t src;
    int rc = kga_import_open_csv(ctx, side, table_files[side], 1, LAYOUT_HINT,
                                 KGA_IMPORT_SPLIT_NONE, &src);
    if (rc != 0)
        return rc;
    char **f;
    long n = kga_import_next_record(&src, &f);
    if (n > 0 && (size_t)n != t->n_cols)
        rc = kga_import_bad_line(&src, KGA_EPARSE,
                                 "the header changed while importing");
    while (rc == 0 && n > 0 && (n = kga_import_next_record(&src, &f)) > 0) {
        rc = add_record(&src, r, t, f, n);
    }
    if (rc == 0 && n < 0)
        rc = (int)n;
    kga_import_close(&src);
    return rc;
}

/* ---- the pair files ---- */

typedef struct {
    long left, right, label; /* columns; label -1 when absent */
    size_t n_cols;
} pair_header_t;

static int pair_header(kga_import_src_t *src, char **f, long n,
                       pair_header_t *h)
{
    h->left = find_column(f, (size_t)n, "ltable_id");
    h->right = find_column(f, (size_t)n, "rtable_id");
    h->label = find_column(f, (size_t)n, "label");
    h->n_cols = (size_t)n;
    if (h->left >= 0 && h->right >= 0)
        return 0;
    char cols[256];
    list_columns(f, (size_t)n, cols, sizeof cols);
    kga_import_ctx_t *ctx = src->ctx;
    return kga_err_set(kga_import_err(ctx, -1), KGA_EPARSE,
                       "%s:1: no %s column (the header has: %s); %s",
                       kga_import_src_path(src),
                       h->left < 0 ? "ltable_id" : "rtable_id", cols,
                       PAIRS_HINT);
}

/* Checks that id is a record of side; 1 when it is, 0 when the row was
 * skipped, or a negative code. */
static int check_record_id(kga_import_src_t *src, records_t *r, int side,
                           const char *col, const char *id)
{
    kga_graph_builder_t *b = kga_import_builder(src->ctx, side);
    int64_t e = kga_graph_builder_find_entity(b, id);
    if (e >= 0 && (size_t)e < r->cap[side] && r->record_line[side][e] != 0)
        return 1;
    int rc = kga_import_bad_line(src, KGA_EUNKNOWN_ID,
                                 "column '%.*s': '%.*s' is not an id of %s",
                                 MSG_TEXT_MAX, col, MSG_TEXT_MAX, id,
                                 table_files[side]);
    return rc < 0 ? rc : 0;
}

static int read_pairs(kga_import_ctx_t *ctx, records_t *r, const char *name,
                      int required, kga_import_split_t split)
{
    kga_import_src_t src;
    int rc = kga_import_open_csv(ctx, -1, name, required, LAYOUT_HINT, split,
                                 &src);
    if (rc != 0 || !kga_import_is_open(&src))
        return rc;
    char **f;
    pair_header_t h;
    long n = kga_import_next_record(&src, &f);
    if (n > 0)
        rc = pair_header(&src, f, n, &h);
    while (rc == 0 && n > 0 && (n = kga_import_next_record(&src, &f)) > 0) {
        if ((size_t)n != h.n_cols) {
            rc = kga_import_bad_line(&src, KGA_EPARSE,
                                     "expected %zu fields (as the header "
                                     "has), found %ld",
                                     h.n_cols, n);
            continue;
        }
        int label = 1;
        if (h.label >= 0) {
            const char *v = f[h.label];
            while (*v == ' ')
                v++;
            size_t len = strlen(v);
            while (len > 0 && v[len - 1] == ' ')
                len--;
            if (len != 1 || (v[0] != '0' && v[0] != '1')) {
                rc = kga_import_bad_line(&src, KGA_EPARSE,
                                         "column 'label': '%.*s' is not 0 "
                                         "or 1",
                                         MSG_TEXT_MAX, f[h.label]);
                continue;
            }
            label = v[0] - '0';
        }
        int ok = check_record_id(&src, r, 0, "ltable_id", f[h.left]);
        if (ok == 1)
            ok = check_record_id(&src, r, 1, "rtable_id", f[h.right]);
        if (ok == 1)
            rc = kga_import_pair(&src, f[h.left], f[h.right], label);
        else
            rc = ok;
    }
    if (rc == 0 && n < 0)
        rc = (int)n;
    kga_import_close(&src);
    return rc;
}

static int records_read_links(kga_import_ctx_t *ctx, void *state)
{
    records_t *r = state;
    int rc = read_pairs(ctx, r, "train.csv", 1, KGA_IMPORT_SPLIT_TRAIN);
    if (rc == 0)
        rc = read_pairs(ctx, r, "valid.csv", 0, KGA_IMPORT_SPLIT_VALID);
    if (rc == 0)
        rc = read_pairs(ctx, r, "test.csv", 1, KGA_IMPORT_SPLIT_TEST);
    return rc;
}

const kga_import_reader_t kga_import_records_reader = {
    .state_size = sizeof(records_t),
    .check = records_check,
    .read_side = records_read_side,
    .read_links = records_read_links,
    .release = records_release,
};
