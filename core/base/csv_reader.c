/* RFC 4180 records over the line reader (csv_reader.h). A record is
 * gathered line by line into a buffer of the reader's (a quoted field may
 * span lines), then unquoted in place: the unquoted text is never longer
 * than the quoted one, so the fields need no allocation of their own.
 * Apart from the line reader because a CSV record is not a line. */
#include "base/csv_reader.h"

#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "base/line_reader.h"

struct kga_csv_reader {
    kga_line_reader_t *lines;
    char *rec; /* the current record, its lines joined by "\n" */
    size_t len, cap;
    char **fields;
    size_t *outs; /* offset of each unquoted field (rec may move while a
                     record grows, so fields[] is filled at the end) */
    size_t n_fields, fields_cap;
    uint64_t line_no; /* first line of the record */
};

int kga_csv_reader_open(const char *path, kga_csv_reader_t **out,
                        kga_err_t *err)
{
    *out = NULL;
    kga_csv_reader_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
    int rc = kga_line_reader_open(path, &r->lines, err);
    if (rc != 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void kga_csv_reader_close(kga_csv_reader_t *r)
{
    if (r == NULL)
        return;
    kga_line_reader_close(r->lines);
    free(r->rec);
    free(r->fields);
    free(r->outs);
    free(r);
}

uint64_t kga_csv_reader_line_no(const kga_csv_reader_t *r)
{
    return r->line_no;
}

uint64_t kga_csv_reader_bytes(const kga_csv_reader_t *r)
{
    return kga_line_reader_bytes(r->lines);
}

uint64_t kga_csv_reader_size(const kga_csv_reader_t *r)
{
    return kga_line_reader_size(r->lines);
}

const char *kga_csv_reader_path(const kga_csv_reader_t *r)
{
    return kga_line_reader_path(r->lines);
}

/* Appends n bytes (and a NUL after them) to the record. */
static int append(kga_csv_reader_t *r, const char *s, size_t n,
                  kga_err_t *err)
{
    if (r->len + n > KGA_CSV_RECORD_MAX)
        return kga_err_set(err, KGA_ELIMIT,
                           "%s:%llu: record longer than %u bytes",
                           kga_line_reader_path(r->lines),
                           (unsigned long long)r->line_no,
                           KGA_CSV_RECORD_MAX);
    if (kga_grow(&r->rec, &r->cap, r->len + n + 1, 4096, 1) != 0)
        return kga_err_set(err, KGA_ENOMEM, "%s: out of memory",
                           kga_line_reader_path(r->lines));
    memcpy(r->rec + r->len, s, n);
    r->len += n;
    r->rec[r->len] = '\0';
    return 0;
}

static int add_field(kga_csv_reader_t *r, size_t out, kga_err_t *err)
{
    if (r->n_fields == KGA_CSV_FIELDS_MAX)
        return kga_err_set(err, KGA_ELIMIT,
                           "%s:%llu: more than %u fields",
                           kga_line_reader_path(r->lines),
                           (unsigned long long)r->line_no,
                           KGA_CSV_FIELDS_MAX);
    if (r->n_fields == r->fields_cap) {
        /* Bounded by KGA_CSV_FIELDS_MAX: the capacity cannot overflow. */
        size_t cap = kga_grow_capacity(r->fields_cap, r->n_fields + 1, 64,
                                       sizeof *r->fields);
        if (kga_grow_resize(&r->fields, cap, sizeof *r->fields) != 0 ||
            kga_grow_resize(&r->outs, cap, sizeof *r->outs) != 0)
            return kga_err_set(err, KGA_ENOMEM, "out of memory");
        r->fields_cap = cap;
    }
    r->outs[r->n_fields++] = out;
    return 0;
}

/* A parse error at offset `at` of the record: its line and column. */
static int bad_at(const kga_csv_reader_t *r, size_t at, const char *what,
                  kga_err_t *err)
{
    uint64_t line = r->line_no;
    size_t line_start = 0;
    for (size_t i = 0; i < at && i < r->len; i++)
        if (r->rec[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    return kga_err_set(err, KGA_EPARSE, "%s:%llu:%zu: %s",
                       kga_line_reader_path(r->lines),
                       (unsigned long long)line, at - line_start + 1, what);
}

/* Reads the next non-blank line into the record (after a "\n" when the
 * record has text). Returns 1, 0 at end of file, or a negative code. */
static int next_line(kga_csv_reader_t *r, int first, kga_err_t *err)
{
    for (;;) {
        char *line;
        size_t len;
        int rc = kga_line_reader_next(r->lines, &line, &len, err);
        if (rc <= 0)
            return rc;
        if (first && len == 0)
            continue;
        if (first) {
            r->len = 0;
            r->line_no = kga_line_reader_line_no(r->lines);
        } else if ((rc = append(r, "\n", 1, err)) != 0) {
            return rc;
        }
        rc = append(r, line, len, err);
        return rc != 0 ? rc : 1;
    }
}

long kga_csv_reader_next(kga_csv_reader_t *r, char ***fields,
                         kga_err_t *err)
{
    r->n_fields = 0;
    int rc = next_line(r, 1, err);
    if (rc <= 0)
        return rc;
    size_t p = 0, w = 0;
    for (;;) {
        /* At the start of a field. */
        rc = add_field(r, w, err);
        if (rc != 0)
            return rc;
        if (r->rec[p] == '"') {
            size_t open = p++;
            for (;;) {
                if (p == r->len) {
                    rc = next_line(r, 0, err);
                    if (rc < 0)
                        return rc;
                    if (rc == 0)
                        return bad_at(r, open,
                                      "quoted field never closed (a quote "
                                      "inside a field is written twice)",
                                      err);
                    continue;
                }
                char c = r->rec[p++];
                if (c == '"') {
                    if (r->rec[p] != '"')
                        break;
                    p++;
                }
                r->rec[w++] = c;
            }
            if (p < r->len && r->rec[p] != ',')
                return bad_at(r, p,
                              "characters after a closing quote (a quote "
                              "inside a field is written twice)",
                              err);
        } else {
            while (p < r->len && r->rec[p] != ',') {
                if (r->rec[p] == '"')
                    return bad_at(r, p,
                                  "a quote inside an unquoted field (quote "
                                  "the whole field and write the quote "
                                  "twice)",
                                  err);
                r->rec[w++] = r->rec[p++];
            }
        }
        int more = p < r->len; /* at a comma */
        r->rec[w++] = '\0';
        if (!more)
            break;
        p++;
    }
    for (size_t i = 0; i < r->n_fields; i++)
        r->fields[i] = r->rec + r->outs[i];
    *fields = r->fields;
    return (long)r->n_fields;
}
