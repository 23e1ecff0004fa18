/* The input files of an import: paths under SRC, opening with the file
 * table (which graph or split a file feeds), reading lines with lenient
 * skipping and field checks, and the progress line the bytes read feed.
 * Apart from import.c because it is the one place that touches the files;
 * the graphs and the links only see fields. */
#include "import/import_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PROGRESS_EVERY_LINES 0x10000u
#define PROGRESS_READING "import: reading triples and links"

/* ---- input files ---- */

int kga_import_path(const kga_import_ctx_t *ctx, const char *name, char *buf,
                    size_t cap)
{
    const char *dir = ctx->p->src_dir;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    int n = snprintf(buf, cap, "%.*s/%s", (int)dl, dir, name);
    return n < 0 || (size_t)n >= cap ? KGA_ELIMIT : 0;
}

int kga_import_exists(const kga_import_ctx_t *ctx, const char *name)
{
    char path[4096];
    struct stat st;
    return kga_import_path(ctx, name, path, sizeof path) == 0 &&
           stat(path, &st) == 0;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int open_file(kga_import_ctx_t *ctx, int side, const char *name,
                     int required, const char *hint, kga_import_split_t split,
                     int csv, kga_import_src_t *src)
{
    kga_err_t *err = kga_import_err(ctx, side);
    src->reader = NULL;
    src->csv = NULL;
    src->ctx = ctx;
    src->side = side;
    char path[4096];
    if (kga_import_path(ctx, name, path, sizeof path) != 0)
        return kga_err_set(err, KGA_ELIMIT, "%s/%s: path too long",
                           ctx->p->src_dir, name);
    unsigned slot = side >= 0 ? (unsigned)side * FILES_PER_SIDE +
                                    ctx->side[side].next_file
                              : SHARED_FILES_BASE + ctx->next_shared_file;
    unsigned limit = side >= 0 ? ((unsigned)side + 1) * FILES_PER_SIDE
                               : KGA_IMPORT_MAX_FILES;
    if (slot >= limit)
        return kga_err_set(err, KGA_ELIMIT, "%s: too many input files", path);
    int rc = csv ? kga_csv_reader_open(path, &src->csv, err)
                 : kga_line_reader_open(path, &src->reader, err);
    if (rc == KGA_ENOENT && !required) {
        kga_err_clear(err);
        return 0;
    }
    if (rc == KGA_ENOENT && hint != NULL)
        return kga_err_set(err, rc, "%s: no such file (%s)", path, hint);
    if (rc != 0)
        return rc;
    const char *copy = kga_import_strdup(ctx, side, path);
    if (copy == NULL) {
        kga_import_close(src);
        return kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
    }
    if (side >= 0)
        ctx->side[side].next_file++;
    else
        ctx->next_shared_file++;
    src->index = slot;
    file_slot_t *f = &ctx->files[slot];
    memset(f, 0, sizeof *f);
    snprintf(f->stats.name, sizeof f->stats.name, "%s", name);
    f->path = copy;
    f->split = split;
    f->used = 1;
    return 0;
}

int kga_import_open(kga_import_ctx_t *ctx, int side, const char *name,
                    int required, const char *hint, kga_import_split_t split,
                    kga_import_src_t *src)
{
    return open_file(ctx, side, name, required, hint, split, 0, src);
}

int kga_import_open_csv(kga_import_ctx_t *ctx, int side, const char *name,
                        int required, const char *hint,
                        kga_import_split_t split, kga_import_src_t *src)
{
    return open_file(ctx, side, name, required, hint, split, 1, src);
}

int kga_import_is_open(const kga_import_src_t *src)
{
    return src->reader != NULL || src->csv != NULL;
}

const char *kga_import_src_path(const kga_import_src_t *src)
{
    return src->csv != NULL ? kga_csv_reader_path(src->csv)
                            : kga_line_reader_path(src->reader);
}

uint64_t kga_import_src_line(const kga_import_src_t *src)
{
    return src->csv != NULL ? kga_csv_reader_line_no(src->csv)
                            : kga_line_reader_line_no(src->reader);
}

static uint64_t src_bytes(const kga_import_src_t *src)
{
    return src->csv != NULL ? kga_csv_reader_bytes(src->csv)
                            : kga_line_reader_bytes(src->reader);
}

void kga_import_report_progress(kga_import_ctx_t *ctx, uint64_t shared_in_file)
{
    uint64_t done = atomic_load_explicit(&ctx->side[0].bytes_seen,
                                         memory_order_relaxed) +
                    atomic_load_explicit(&ctx->side[1].bytes_seen,
                                         memory_order_relaxed) +
                    ctx->bytes_shared + shared_in_file;
    kga_progress_report(ctx->progress, PROGRESS_READING, "bytes", done,
                        done > ctx->bytes_total ? done : ctx->bytes_total);
}

/* Makes the bytes read so far visible to the progress line: a side thread
 * publishes them, the links phase reports directly. */
static void publish_bytes(kga_import_src_t *src, uint64_t in_file)
{
    kga_import_ctx_t *ctx = src->ctx;
    if (src->side >= 0) {
        side_t *s = &ctx->side[src->side];
        atomic_store_explicit(&s->bytes_seen, s->bytes_closed + in_file,
                              memory_order_relaxed);
        if (!ctx->threaded)
            kga_import_report_progress(ctx, 0);
    } else {
        kga_import_report_progress(ctx, in_file);
    }
}

void kga_import_close(kga_import_src_t *src)
{
    if (!kga_import_is_open(src))
        return;
    kga_import_ctx_t *ctx = src->ctx;
    file_slot_t *f = &ctx->files[src->index];
    f->bytes = src_bytes(src);
    f->stats.lines = src->csv != NULL ? kga_csv_reader_line_no(src->csv)
                                      : kga_line_reader_line_no(src->reader);
    if (src->side >= 0)
        ctx->side[src->side].bytes_closed += f->bytes;
    else
        ctx->bytes_shared += f->bytes;
    publish_bytes(src, 0);
    kga_line_reader_close(src->reader);
    kga_csv_reader_close(src->csv);
    src->reader = NULL;
    src->csv = NULL;
}

long kga_import_next_line(kga_import_src_t *src, char **line, size_t *len)
{
    kga_import_ctx_t *ctx = src->ctx;
    kga_err_t *err = kga_import_err(ctx, src->side);
    for (;;) {
        int rc = kga_line_reader_next(src->reader, line, len, err);
        if (rc == 0)
            return 0;
        if (rc < 0) {
            if ((rc == KGA_EPARSE || rc == KGA_ELIMIT) && ctx->p->lenient) {
                kga_err_clear(err);
                ctx->files[src->index].stats.skipped++;
                continue;
            }
            return rc;
        }
        if (kga_line_reader_line_no(src->reader) % PROGRESS_EVERY_LINES == 0)
            publish_bytes(src, kga_line_reader_bytes(src->reader));
        if (*len == 0)
            continue;
        return 1;
    }
}

long kga_import_next(kga_import_src_t *src, char **fields, size_t max)
{
    char *line;
    size_t len;
    long rc = kga_import_next_line(src, &line, &len);
    if (rc <= 0)
        return rc;
    return (long)kga_split_tabs(line, len, fields, max);
}

long kga_import_next_record(kga_import_src_t *src, char ***fields)
{
    kga_import_ctx_t *ctx = src->ctx;
    kga_err_t *err = kga_import_err(ctx, src->side);
    for (;;) {
        long n = kga_csv_reader_next(src->csv, fields, err);
        if ((n == KGA_EPARSE || n == KGA_ELIMIT) && ctx->p->lenient) {
            kga_err_clear(err);
            ctx->files[src->index].stats.skipped++;
            continue;
        }
        if (n > 0 && kga_csv_reader_line_no(src->csv) %
                             (PROGRESS_EVERY_LINES / 16) == 0)
            publish_bytes(src, kga_csv_reader_bytes(src->csv));
        return n;
    }
}

int kga_import_bad_line(kga_import_src_t *src, int code, const char *fmt, ...)
{
    kga_import_ctx_t *ctx = src->ctx;
    if (ctx->p->lenient) {
        ctx->files[src->index].stats.skipped++;
        return 0;
    }
    char msg[KGA_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kga_err_set(kga_import_err(ctx, src->side), code, "%s:%llu: %s",
                       kga_import_src_path(src),
                       (unsigned long long)kga_import_src_line(src), msg);
}

int kga_import_check_fields(kga_import_src_t *src, long count,
                            char **fields, size_t expected)
{
    if ((size_t)count != expected)
        return kga_import_bad_line(src, KGA_EPARSE,
                                   "expected %zu tab-separated fields, "
                                   "found %ld", expected, count);
    for (size_t i = 0; i < expected; i++) {
        if (fields[i][0] == '\0')
            return kga_import_bad_line(src, KGA_EPARSE, "field %zu is empty",
                                       i + 1);
        /* The files written from these fields start lines with them, and a
         * reader takes U+FEFF at the start of a file for a byte order
         * mark: such an id would not read back. */
        if (strncmp(fields[i], "\xEF\xBB\xBF", 3) == 0)
            return kga_import_bad_line(src, KGA_EPARSE,
                                       "field %zu begins with U+FEFF (a byte "
                                       "order mark), which only a file may",
                                       i + 1);
    }
    return 1;
}

int kga_import_each(kga_import_ctx_t *ctx, int side, const char *name,
                    int required, const char *hint, kga_import_split_t split,
                    size_t max, int check, kga_import_line_fn fn, void *arg,
                    int *found)
{
    enum { MAX_FIELDS = 8 };
    kga_import_src_t src;
    char *f[MAX_FIELDS];
    if (max > MAX_FIELDS)
        return kga_err_set(kga_import_err(ctx, side), KGA_EINVAL,
                           "import: %zu fields (limit %d)", max, MAX_FIELDS);
    int rc = kga_import_open(ctx, side, name, required, hint, split, &src);
    if (found != NULL)
        *found = kga_import_is_open(&src);
    if (rc != 0 || !kga_import_is_open(&src))
        return rc;
    long n;
    while ((n = kga_import_next(&src, f, max)) > 0) {
        if (check) {
            rc = kga_import_check_fields(&src, n, f, max);
            if (rc < 0)
                break;
            if (rc == 0)
                continue;
        }
        rc = fn(&src, f, n, arg);
        if (rc < 0)
            break;
    }
    if (n < 0)
        rc = (int)n;
    kga_import_close(&src);
    return rc < 0 ? rc : 0;
}

/* Total size of the files of both layouts under SRC, for the progress line;
 * an estimate is enough (the fold files are left out). */
uint64_t kga_import_estimate_input(kga_import_ctx_t *ctx)
{
    static const char *const names[] = {
        "rel_triples_1", "rel_triples_2", "attr_triples_1", "attr_triples_2",
        "ent_links", "ent_ids_1", "ent_ids_2", "rel_ids_1", "rel_ids_2",
        "triples_1", "triples_2", "sup_pairs", "ref_pairs", "ref_ent_ids",
        "training_attrs_1", "training_attrs_2", "tableA.csv", "tableB.csv",
        "train.csv", "valid.csv", "test.csv", "left.nt", "right.nt",
        "left.nt.gz", "right.nt.gz"};
    char path[4096];
    uint64_t total = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (kga_import_path(ctx, names[i], path, sizeof path) == 0)
            total += file_size(path);
    return total;
}

/* The used file slots into the summary, in slot order. */
void kga_import_fill_file_stats(kga_import_ctx_t *ctx)
{
    kga_import_summary_t *s = ctx->summary;
    s->file_count = 0;
    s->skipped_lines = 0;
    s->bytes_read = 0;
    for (unsigned i = 0; i < KGA_IMPORT_MAX_FILES; i++) {
        if (!ctx->files[i].used)
            continue;
        s->files[s->file_count++] = ctx->files[i].stats;
        s->skipped_lines += ctx->files[i].stats.skipped;
        s->bytes_read += ctx->files[i].bytes;
    }
}
