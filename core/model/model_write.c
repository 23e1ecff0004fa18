/* The model file writer: streams each section's payload into a temporary
 * file next to the target (base/atomic_file.h), keeps only the table rows in
 * memory, and at commit appends the section table, writes the header into
 * the room left for it, and has the atomic file fsync and rename.
 * The layout is model_format.h and docs/model-format.md; the validator that
 * checks what this writes is model_file.c. Writer and reader are apart, as
 * the store's are: they share the layout and the rules of model_format.c,
 * no code. */
#include "model/model_format.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "base/hash.h"
#include "base/utf8.h"
#include "base/xalloc.h"

/* Writer buffer. */
#define WBUF_SIZE (1u << 20)

/* ------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------ */

struct kga_model_writer {
    char *path;             /* the target, for messages */
    kga_atomic_file_t file; /* released once committed */
    kga_err_t err;   /* err.code != 0 after the first failure */
    uint64_t pos;    /* bytes emitted, header included */
    kga_hash64_state_t hash;
    uint8_t *buf;
    size_t buf_used;
    kga_model_row_t *rows;
    size_t nrows, cap;
    int streaming;       /* a tensor was begun and not ended */
    uint64_t remaining;  /* floats still due for it */
    char **kv_keys;      /* every settings key added so far */
    size_t nkeys, keys_cap;
    uint64_t kv_bytes;   /* of the settings sections so far */
};

static uint64_t align_up(uint64_t x)
{
    return (x + KGA_MODEL_ALIGN - 1) / KGA_MODEL_ALIGN * KGA_MODEL_ALIGN;
}

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const kga_model_kv_pair_t *)a)->key,
                  ((const kga_model_kv_pair_t *)b)->key);
}

__attribute__((format(printf, 3, 4))) static int
wfail(kga_model_writer_t *w, int code, const char *fmt, ...)
{
    if (w->err.code != 0)
        return w->err.code;
    char what[KGA_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return kga_err_set(&w->err, code, "%s: %s", w->path, what);
}

static int write_file(kga_model_writer_t *w, const void *data, size_t n)
{
    if (w->err.code != 0)
        return w->err.code;
    return kga_atomic_file_write(&w->file, data, n, &w->err);
}

static int flush_buf(kga_model_writer_t *w)
{
    if (w->buf_used == 0)
        return 0;
    int rc = write_file(w, w->buf, w->buf_used);
    if (rc == 0)
        w->buf_used = 0;
    return rc;
}

/* Appends n bytes to the file; everything after the header is hashed. */
static int emit(kga_model_writer_t *w, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (w->pos >= KGA_MODEL_HEADER_SIZE)
        kga_hash64_update(&w->hash, data, n);
    w->pos += n;
    if (n <= WBUF_SIZE - w->buf_used) {
        memcpy(w->buf + w->buf_used, data, n);
        w->buf_used += n;
        return 0;
    }
    int rc = flush_buf(w);
    if (rc != 0)
        return rc;
    if (n >= WBUF_SIZE)
        return write_file(w, data, n);
    memcpy(w->buf, data, n);
    w->buf_used = n;
    return 0;
}

static int pad_to_alignment(kga_model_writer_t *w)
{
    static const uint8_t zeros[KGA_MODEL_ALIGN];
    return emit(w, zeros, (size_t)(align_up(w->pos) - w->pos));
}

int kga_model_writer_new(const char *path, kga_model_writer_t **out,
                         kga_err_t *err)
{
    *out = NULL;
    kga_err_clear(err);
    /* The writer's own state is small and fixed: it aborts if it cannot
     * be had (base/xalloc.h). */
    kga_model_writer_t *w = kga_xcalloc(1, sizeof *w);
    w->path = kga_xstrdup(path);
    w->buf = kga_xmalloc(WBUF_SIZE);
    kga_hash64_init(&w->hash);
    int rc = kga_atomic_file_open(&w->file, path, 0, err);
    if (rc != 0) {
        kga_model_writer_free(w);
        return rc;
    }
    /* Room for the header, written at commit. */
    static const uint8_t zero_header[KGA_MODEL_HEADER_SIZE];
    emit(w, zero_header, sizeof zero_header);
    *out = w;
    return 0;
}

/* Checks name and shape and opens a table row for a payload at the
 * current (aligned) position. */
static int begin_section(kga_model_writer_t *w, const char *name,
                         uint32_t kind, uint32_t ndim, const uint64_t *shape)
{
    if (w->err.code != 0)
        return w->err.code;
    if (w->streaming)
        return wfail(w, KGA_EINVAL,
                     "section '%s' added while tensor '%s' is unfinished",
                     name ? name : "(null)", w->rows[w->nrows - 1].name);
    if (name == NULL)
        return wfail(w, KGA_EINVAL, "section name is NULL");
    const char *problem = kga_model_name_problem(name, strlen(name));
    if (problem != NULL)
        return wfail(w, KGA_EINVAL, "section '%.80s': %s", name, problem);
    for (size_t i = 0; i < w->nrows; i++)
        if (strcmp(w->rows[i].name, name) == 0)
            return wfail(w, KGA_EDUPLICATE, "section '%s' added twice", name);
    if (w->nrows >= KGA_MODEL_MAX_SECTIONS)
        return wfail(w, KGA_ELIMIT, "more than %u sections",
                     KGA_MODEL_MAX_SECTIONS);
    if (ndim > KGA_MODEL_MAX_DIMS || (ndim > 0 && shape == NULL))
        return wfail(w, KGA_EINVAL, "section '%s': %u dimensions (at most %u)",
                     name, ndim, KGA_MODEL_MAX_DIMS);
    uint64_t count;
    if (kga_model_shape_count(ndim, shape, &count) != 0 ||
        count > UINT64_MAX / kga_model_elem_size(kind))
        return wfail(w, KGA_EINVAL, "section '%s': shape too large", name);

    if (w->nrows == w->cap) {
        /* At most KGA_MODEL_MAX_SECTIONS rows (checked above). */
        size_t cap = w->cap ? 2 * w->cap : 32;
        kga_model_row_t *rows = realloc(w->rows, cap * sizeof *rows);
        if (rows == NULL)
            return wfail(w, KGA_ENOMEM, "out of memory for %zu sections",
                         cap);
        w->rows = rows;
        w->cap = cap;
    }
    kga_model_row_t *r = &w->rows[w->nrows++];
    memset(r, 0, sizeof *r);
    memcpy(r->name, name, strlen(name));
    r->kind = kind;
    r->ndim = ndim;
    for (uint32_t d = 0; d < ndim; d++)
        r->shape[d] = shape[d];
    r->offset = w->pos;
    r->size = count * kga_model_elem_size(kind);
    return 0;
}

/* Closes the current section: the payload must have the announced size. */
static int end_section(kga_model_writer_t *w)
{
    const kga_model_row_t *r = &w->rows[w->nrows - 1];
    if (w->pos - r->offset != r->size)
        return wfail(w, KGA_EINVAL, "section '%s': wrote %" PRIu64
                     " bytes, expected %" PRIu64,
                     r->name, w->pos - r->offset, r->size);
    return pad_to_alignment(w);
}

int kga_model_writer_begin_tensor(kga_model_writer_t *w, const char *name,
                                  uint32_t ndim, const uint64_t *shape)
{
    int rc = begin_section(w, name, KGA_MODEL_F32, ndim, shape);
    if (rc != 0)
        return rc;
    w->streaming = 1;
    w->remaining = w->rows[w->nrows - 1].size / sizeof(float);
    return 0;
}

int kga_model_writer_append_f32(kga_model_writer_t *w, const float *data,
                                size_t count)
{
    if (w->err.code != 0)
        return w->err.code;
    if (!w->streaming)
        return wfail(w, KGA_EINVAL, "floats appended with no tensor begun");
    const kga_model_row_t *r = &w->rows[w->nrows - 1];
    if (count > w->remaining)
        return wfail(w, KGA_EINVAL,
                     "tensor '%s': %zu floats appended, only %" PRIu64
                     " still due",
                     r->name, count, w->remaining);
    uint64_t base = (w->pos - r->offset) / sizeof(float);
    for (size_t i = 0; i < count; i++)
        if (!isfinite(data[i]))
            return wfail(w, KGA_ENUMERIC,
                         "tensor '%s': element %" PRIu64 " is %s", r->name,
                         base + i, isnan(data[i]) ? "NaN" : "infinite");
    w->remaining -= count;
    return emit(w, data, count * sizeof(float));
}

int kga_model_writer_end_tensor(kga_model_writer_t *w)
{
    if (w->err.code != 0)
        return w->err.code;
    if (!w->streaming)
        return wfail(w, KGA_EINVAL, "tensor ended with none begun");
    if (w->remaining != 0)
        return wfail(w, KGA_EINVAL,
                     "tensor '%s' ended with %" PRIu64 " floats missing",
                     w->rows[w->nrows - 1].name, w->remaining);
    w->streaming = 0;
    return end_section(w);
}

int kga_model_writer_add_tensor(kga_model_writer_t *w, const char *name,
                                const float *data, uint32_t ndim,
                                const uint64_t *shape)
{
    int rc = kga_model_writer_begin_tensor(w, name, ndim, shape);
    if (rc != 0)
        return rc;
    size_t count = (size_t)w->remaining;
    if (count > 0 && data == NULL)
        return wfail(w, KGA_EINVAL, "tensor '%s': data is NULL", name);
    rc = kga_model_writer_append_f32(w, data, count);
    if (rc != 0)
        return rc;
    return kga_model_writer_end_tensor(w);
}

static int add_array(kga_model_writer_t *w, const char *name, uint32_t kind,
                     const void *data, size_t count)
{
    uint64_t shape[1] = {count};
    int rc = begin_section(w, name, kind, 1, shape);
    if (rc != 0)
        return rc;
    if (count > 0 && data == NULL)
        return wfail(w, KGA_EINVAL, "section '%s': data is NULL", name);
    rc = emit(w, data, count * (size_t)kga_model_elem_size(kind));
    return rc != 0 ? rc : end_section(w);
}

int kga_model_writer_add_u32s(kga_model_writer_t *w, const char *name,
                              const uint32_t *data, size_t count)
{
    return add_array(w, name, KGA_MODEL_U32, data, count);
}

int kga_model_writer_add_u64s(kga_model_writer_t *w, const char *name,
                              const uint64_t *data, size_t count)
{
    return add_array(w, name, KGA_MODEL_U64, data, count);
}

int kga_model_writer_add_text(kga_model_writer_t *w, const char *name,
                              const char *text)
{
    if (w->err.code != 0)
        return w->err.code;
    if (text == NULL)
        return wfail(w, KGA_EINVAL, "text section '%s': text is NULL",
                     name ? name : "(null)");
    size_t len = strlen(text);
    size_t bad;
    if (!kga_utf8_valid(text, len, &bad))
        return wfail(w, KGA_EINVAL,
                     "text section '%s': invalid UTF-8 at byte %zu",
                     name ? name : "(null)", bad);
    /* The terminating NUL is part of the payload. */
    return add_array(w, name, KGA_MODEL_TEXT, text, len + 1);
}

/* Copies the keys of kv into w->kv_keys, for the check that a key is in
 * one settings section only. */
static int remember_keys(kga_model_writer_t *w, const kga_model_kv_t *kv)
{
    if (w->nkeys + kv->n > w->keys_cap) {
        size_t cap = 2 * (w->nkeys + kv->n);
        char **keys = realloc(w->kv_keys, cap * sizeof *keys);
        if (keys == NULL)
            return wfail(w, KGA_ENOMEM, "out of memory for %zu settings",
                         cap);
        w->kv_keys = keys;
        w->keys_cap = cap;
    }
    for (size_t i = 0; i < kv->n; i++) {
        char *key = strdup(kv->pairs[i].key);
        if (key == NULL)
            return wfail(w, KGA_ENOMEM, "out of memory for settings keys");
        w->kv_keys[w->nkeys++] = key;
    }
    return 0;
}

int kga_model_writer_add_kv(kga_model_writer_t *w, const char *name,
                            const kga_model_kv_t *kv)
{
    if (w->err.code != 0)
        return w->err.code;
    for (size_t i = 0; i < kv->n; i++)
        for (size_t j = 0; j < w->nkeys; j++)
            if (strcmp(kv->pairs[i].key, w->kv_keys[j]) == 0)
                return wfail(w, KGA_EDUPLICATE,
                             "settings section '%s': key '%s' is already in "
                             "another settings section",
                             name ? name : "(null)", kv->pairs[i].key);
    uint64_t size = 1;
    for (size_t i = 0; i < kv->n; i++)
        size += strlen(kv->pairs[i].key) + strlen(kv->pairs[i].value) + 2;
    /* The validator's limit: a file the reader would refuse is not
     * written. It also bounds what is allocated below. */
    if (size > KGA_MODEL_MAX_KV_BYTES - w->kv_bytes)
        return wfail(w, KGA_ELIMIT,
                     "settings section '%s': settings sections hold more "
                     "than the %u bytes allowed",
                     name ? name : "(null)", KGA_MODEL_MAX_KV_BYTES);
    kga_model_kv_pair_t *sorted = malloc((kv->n + 1) * sizeof *sorted);
    if (sorted == NULL)
        return wfail(w, KGA_ENOMEM, "out of memory for %zu settings", kv->n);
    if (kv->n > 0) {
        memcpy(sorted, kv->pairs, kv->n * sizeof *sorted);
        qsort(sorted, kv->n, sizeof *sorted, pair_cmp);
    }
    uint64_t shape[1] = {size};
    int rc = begin_section(w, name, KGA_MODEL_KV, 1, shape);
    for (size_t i = 0; rc == 0 && i < kv->n; i++) {
        rc = emit(w, sorted[i].key, strlen(sorted[i].key));
        if (rc == 0)
            rc = emit(w, "=", 1);
        if (rc == 0)
            rc = emit(w, sorted[i].value, strlen(sorted[i].value));
        if (rc == 0)
            rc = emit(w, "\n", 1);
    }
    free(sorted);
    if (rc == 0)
        rc = emit(w, "", 1);
    if (rc == 0)
        rc = end_section(w);
    if (rc == 0)
        rc = remember_keys(w, kv);
    if (rc == 0)
        w->kv_bytes += size;
    return rc;
}

const char *kga_model_writer_error(const kga_model_writer_t *w)
{
    return w->err.msg;
}

static int row_name_cmp(const void *a, const void *b)
{
    return strcmp(((const kga_model_row_t *)a)->name,
                  ((const kga_model_row_t *)b)->name);
}

/* Section table (sorted by name), then the header at offset 0. */
static int write_table_and_header(kga_model_writer_t *w)
{
    if (w->nrows > 0)
        qsort(w->rows, w->nrows, sizeof *w->rows, row_name_cmp);
    kga_model_header_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, KGA_MODEL_MAGIC, sizeof h.magic);
    h.version = KGA_MODEL_VERSION;
    h.endian = KGA_MODEL_ENDIAN_MARK;
    h.header_size = KGA_MODEL_HEADER_SIZE;
    h.section_count = (uint32_t)w->nrows;
    h.entry_size = KGA_MODEL_ENTRY_SIZE;
    h.table_offset = w->pos; /* aligned: every section ends padded */
    int rc = emit(w, w->rows, w->nrows * sizeof *w->rows);
    if (rc == 0)
        rc = flush_buf(w);
    if (rc != 0)
        return rc;
    h.file_size = w->pos;
    h.checksum = kga_hash64_digest(&w->hash);
    /* Into the room left at offset 0; the stream position stays at the
     * end. */
    ssize_t k;
    do
        k = pwrite(w->file.fd, &h, sizeof h, 0);
    while (k < 0 && errno == EINTR);
    if (k != (ssize_t)sizeof h)
        return kga_err_set(&w->err, KGA_EIO, "%s: cannot write the header: %s",
                           w->file.tmp,
                           k < 0 ? strerror(errno) : "short write");
    return 0;
}

int kga_model_writer_commit(kga_model_writer_t *w, kga_err_t *err)
{
    kga_err_clear(err);
    if (w->err.code == 0 && w->file.tmp == NULL)
        wfail(w, KGA_EINVAL, "writer already committed");
    if (w->err.code == 0 && w->streaming)
        wfail(w, KGA_EINVAL, "tensor '%s' was begun but not ended",
              w->rows[w->nrows - 1].name);
    if (w->err.code == 0 && write_table_and_header(w) == 0)
        kga_atomic_file_commit(&w->file, &w->err);
    if (w->err.code != 0) {
        kga_atomic_file_abort(&w->file);
        if (err != NULL)
            *err = w->err;
        return w->err.code;
    }
    return 0;
}

void kga_model_writer_free(kga_model_writer_t *w)
{
    if (w == NULL)
        return;
    kga_atomic_file_abort(&w->file);
    for (size_t i = 0; i < w->nkeys; i++)
        free(w->kv_keys[i]);
    free(w->kv_keys);
    free(w->rows);
    free(w->buf);
    free(w->path);
    free(w);
}
