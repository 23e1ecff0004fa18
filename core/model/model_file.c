/* Model file: streaming writer, validator and mapped reader. The layout is
 * described in docs/model-format.md; the two change together (any change
 * bumps KGA_MODEL_VERSION).
 *
 * The section table sits at the end of the file, after the payloads, so the
 * writer can append each payload as it is added and only needs the table
 * rows in memory; the header, written last, points at the table. The
 * validator is the only code that trusts nothing: alignment-free loads,
 * bounds checked before every read. After it succeeded the lookups index the
 * mapping directly. */
#include "model/model_file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/mapped_file.h"

/* ------------------------------------------------------------------------
 * On-disk layout (little-endian, no implicit padding)
 * ------------------------------------------------------------------------ */

#define ENDIAN_MARK 0x01020304u
#define ENDIAN_SWAPPED 0x04030201u
/* Settings text of all KV sections together may not exceed this. */
#define MAX_KV_BYTES (64u << 20)
/* Writer buffer. */
#define WBUF_SIZE (1u << 20)

typedef struct {
    char magic[8];           /* "KGAMODEL", no NUL */
    uint32_t version;        /* KGA_MODEL_VERSION */
    uint32_t endian;         /* ENDIAN_MARK */
    uint64_t file_size;      /* whole file, a multiple of KGA_MODEL_ALIGN */
    uint64_t checksum;       /* XXH64 of bytes [64, file_size) */
    uint32_t header_size;    /* KGA_MODEL_HEADER_SIZE */
    uint32_t section_count;  /* rows in the section table */
    uint32_t entry_size;     /* KGA_MODEL_ENTRY_SIZE */
    uint32_t flags;          /* 0 */
    uint64_t table_offset;   /* section table; it ends the file */
    uint8_t reserved[8];     /* 0 */
} header_t;

typedef struct {
    char name[64];      /* NUL-terminated, zero-filled */
    uint32_t kind;      /* kga_model_kind_t */
    uint32_t ndim;      /* 0..4 for tensors, 1 otherwise */
    uint64_t shape[4];  /* entries past ndim are 0 */
    uint64_t offset;    /* payload, KGA_MODEL_ALIGN-aligned */
    uint64_t size;      /* payload bytes: product(shape) * element size */
    uint64_t reserved;  /* 0 */
} row_t;

_Static_assert(sizeof(header_t) == KGA_MODEL_HEADER_SIZE, "64-byte header");
_Static_assert(sizeof(row_t) == KGA_MODEL_ENTRY_SIZE, "128-byte table row");
_Static_assert(offsetof(row_t, shape) % 8 == 0, "aligned shape");

static uint64_t elem_size(uint32_t kind)
{
    switch (kind) {
    case KGA_MODEL_F32:
    case KGA_MODEL_U32:
        return 4;
    case KGA_MODEL_U64:
        return 8;
    case KGA_MODEL_TEXT:
    case KGA_MODEL_KV:
        return 1;
    }
    return 0;
}

const char *kga_model_kind_name(kga_model_kind_t kind)
{
    switch (kind) {
    case KGA_MODEL_F32:
        return "f32 tensor";
    case KGA_MODEL_U32:
        return "u32 array";
    case KGA_MODEL_U64:
        return "u64 array";
    case KGA_MODEL_TEXT:
        return "text";
    case KGA_MODEL_KV:
        return "settings";
    }
    return "unknown kind";
}

static uint64_t align_up(uint64_t x)
{
    return (x + KGA_MODEL_ALIGN - 1) / KGA_MODEL_ALIGN * KGA_MODEL_ALIGN;
}

/* Product of the first ndim entries of shape, or -1 on overflow. */
static int shape_count(uint32_t ndim, const uint64_t *shape, uint64_t *count)
{
    uint64_t c = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        if (shape[d] != 0 && c > UINT64_MAX / shape[d])
            return -1;
        c *= shape[d];
    }
    *count = c;
    return 0;
}

/* ------------------------------------------------------------------------
 * Names, keys, UTF-8
 * ------------------------------------------------------------------------ */

/* NULL when name is a valid section name, else what is wrong. */
static const char *name_problem(const char *name, size_t len)
{
    if (len == 0)
        return "empty section name";
    if (len > KGA_MODEL_NAME_MAX)
        return "section name longer than 63 bytes";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
            return "section name has a byte outside printable ASCII";
    return NULL;
}

static int key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
           c == '/' || c == '-';
}

static int key_valid(const char *key, size_t len)
{
    if (len == 0 || len > KGA_MODEL_KEY_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!key_char((unsigned char)key[i]))
            return 0;
    return 1;
}

/* Offset of the first byte that does not start a well-formed UTF-8
 * sequence (RFC 3629: no overlongs, surrogates or code points past
 * U+10FFFF), or n when all n bytes are valid. */
static size_t utf8_check(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07u, min = 0x10000;
        } else {
            return i;
        }
        if (n - i < len)
            return i;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += len;
    }
    return n;
}

/* Bytewise order of two counted keys (a prefix sorts first, as strcmp). */
static int keycmp(const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return (alen > blen) - (alen < blen);
}

/* ------------------------------------------------------------------------
 * Settings builder
 * ------------------------------------------------------------------------ */

typedef struct {
    char *key;
    char *value;
} kv_pair_t;

struct kga_model_kv {
    kv_pair_t *pairs;
    size_t n, cap;
};

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (q == NULL) {
        fprintf(stderr, "kgalign: out of memory (%zu bytes)\n", size);
        abort();
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xrealloc(NULL, n);
    memcpy(d, s, n);
    return d;
}

kga_model_kv_t *kga_model_kv_new(void)
{
    kga_model_kv_t *kv = xrealloc(NULL, sizeof *kv);
    kv->pairs = NULL;
    kv->n = kv->cap = 0;
    return kv;
}

void kga_model_kv_free(kga_model_kv_t *kv)
{
    if (kv == NULL)
        return;
    for (size_t i = 0; i < kv->n; i++) {
        free(kv->pairs[i].key);
        free(kv->pairs[i].value);
    }
    free(kv->pairs);
    free(kv);
}

int kga_model_kv_set_str(kga_model_kv_t *kv, const char *key,
                         const char *value)
{
    if (key == NULL || value == NULL || !key_valid(key, strlen(key)))
        return KGA_EINVAL;
    size_t vlen = strlen(value);
    if (utf8_check((const uint8_t *)value, vlen) != vlen ||
        strpbrk(value, "\r\n") != NULL)
        return KGA_EINVAL;
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->pairs[i].key, key) == 0)
            return KGA_EDUPLICATE;
    if (kv->n == kv->cap) {
        kv->cap = kv->cap ? 2 * kv->cap : 16;
        kv->pairs = xrealloc(kv->pairs, kv->cap * sizeof *kv->pairs);
    }
    kv->pairs[kv->n].key = xstrdup(key);
    kv->pairs[kv->n].value = xstrdup(value);
    kv->n++;
    return 0;
}

int kga_model_kv_set_int(kga_model_kv_t *kv, const char *key, int64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, value);
    return kga_model_kv_set_str(kv, key, text);
}

int kga_model_kv_set_u64(kga_model_kv_t *kv, const char *key, uint64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, value);
    return kga_model_kv_set_str(kv, key, text);
}

int kga_model_kv_set_double(kga_model_kv_t *kv, const char *key,
                            double value)
{
    if (!isfinite(value))
        return KGA_EINVAL;
    char text[40];
    snprintf(text, sizeof text, "%.17g", value);
    return kga_model_kv_set_str(kv, key, text);
}

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const kv_pair_t *)a)->key, ((const kv_pair_t *)b)->key);
}

/* ------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------ */

struct kga_model_writer {
    char *path;
    char *tmp;
    int fd;          /* -1 once committed */
    kga_err_t err;   /* err.code != 0 after the first failure */
    uint64_t pos;    /* bytes emitted, header included */
    kga_hash64_state_t hash;
    uint8_t *buf;
    size_t buf_used;
    row_t *rows;
    size_t nrows, cap;
    int streaming;       /* a tensor was begun and not ended */
    uint64_t remaining;  /* floats still due for it */
    char **kv_keys;      /* every settings key added so far */
    size_t nkeys, keys_cap;
};

static atomic_uint tmp_serial;

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

static int wfail_errno(kga_model_writer_t *w, const char *file,
                       const char *what)
{
    int e = errno;
    if (w->err.code != 0)
        return w->err.code;
    return kga_err_set(&w->err, e == ENOENT ? KGA_ENOENT : KGA_EIO,
                       "%s: %s: %s", file, what, strerror(e));
}

static int write_all(int fd, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int flush_buf(kga_model_writer_t *w)
{
    if (w->buf_used == 0)
        return 0;
    if (write_all(w->fd, w->buf, w->buf_used) != 0)
        return wfail_errno(w, w->tmp, "write failed");
    w->buf_used = 0;
    return 0;
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
    if (n >= WBUF_SIZE) {
        if (write_all(w->fd, data, n) != 0)
            return wfail_errno(w, w->tmp, "write failed");
        return 0;
    }
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
    kga_model_writer_t *w = xrealloc(NULL, sizeof *w);
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->path = xstrdup(path);
    unsigned serial = atomic_fetch_add(&tmp_serial, 1u);
    size_t tmp_len = strlen(path) + 48;
    w->tmp = xrealloc(NULL, tmp_len);
    snprintf(w->tmp, tmp_len, "%s.tmp.%ld.%u", path, (long)getpid(), serial);
    w->buf = xrealloc(NULL, WBUF_SIZE);
    kga_hash64_init(&w->hash);

    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int code = errno == ENOENT ? KGA_ENOENT : KGA_EIO;
        kga_err_set(err, code, "%s: cannot create: %s", w->tmp,
                    strerror(errno));
        kga_model_writer_free(w);
        return code;
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
    const char *problem = name_problem(name, strlen(name));
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
    if (shape_count(ndim, shape, &count) != 0 ||
        count > UINT64_MAX / elem_size(kind))
        return wfail(w, KGA_EINVAL, "section '%s': shape too large", name);

    if (w->nrows == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 32;
        w->rows = xrealloc(w->rows, w->cap * sizeof *w->rows);
    }
    row_t *r = &w->rows[w->nrows++];
    memset(r, 0, sizeof *r);
    memcpy(r->name, name, strlen(name));
    r->kind = kind;
    r->ndim = ndim;
    for (uint32_t d = 0; d < ndim; d++)
        r->shape[d] = shape[d];
    r->offset = w->pos;
    r->size = count * elem_size(kind);
    return 0;
}

/* Closes the current section: the payload must have the announced size. */
static int end_section(kga_model_writer_t *w)
{
    const row_t *r = &w->rows[w->nrows - 1];
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
    const row_t *r = &w->rows[w->nrows - 1];
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
    rc = emit(w, data, count * (size_t)elem_size(kind));
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
    size_t bad = utf8_check((const uint8_t *)text, len);
    if (bad != len)
        return wfail(w, KGA_EINVAL,
                     "text section '%s': invalid UTF-8 at byte %zu",
                     name ? name : "(null)", bad);
    /* The terminating NUL is part of the payload. */
    return add_array(w, name, KGA_MODEL_TEXT, text, len + 1);
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
    kv_pair_t *sorted = xrealloc(NULL, (kv->n + 1) * sizeof *sorted);
    if (kv->n > 0) {
        memcpy(sorted, kv->pairs, kv->n * sizeof *sorted);
        qsort(sorted, kv->n, sizeof *sorted, pair_cmp);
    }
    uint64_t size = 1;
    for (size_t i = 0; i < kv->n; i++)
        size += strlen(sorted[i].key) + strlen(sorted[i].value) + 2;
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
    if (rc != 0)
        return rc;
    if (w->nkeys + kv->n > w->keys_cap) {
        w->keys_cap = 2 * (w->nkeys + kv->n);
        w->kv_keys = xrealloc(w->kv_keys, w->keys_cap * sizeof *w->kv_keys);
    }
    for (size_t i = 0; i < kv->n; i++)
        w->kv_keys[w->nkeys++] = xstrdup(kv->pairs[i].key);
    return 0;
}

const char *kga_model_writer_error(const kga_model_writer_t *w)
{
    return w->err.msg;
}

static int row_name_cmp(const void *a, const void *b)
{
    return strcmp(((const row_t *)a)->name, ((const row_t *)b)->name);
}

static int sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Section table (sorted by name), then the header at offset 0. */
static int write_table_and_header(kga_model_writer_t *w)
{
    if (w->nrows > 0)
        qsort(w->rows, w->nrows, sizeof *w->rows, row_name_cmp);
    header_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, KGA_MODEL_MAGIC, sizeof h.magic);
    h.version = KGA_MODEL_VERSION;
    h.endian = ENDIAN_MARK;
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
    ssize_t k;
    do
        k = pwrite(w->fd, &h, sizeof h, 0);
    while (k < 0 && errno == EINTR);
    if (k != (ssize_t)sizeof h)
        return wfail_errno(w, w->tmp, "cannot write the header");
    return 0;
}

int kga_model_writer_commit(kga_model_writer_t *w, kga_err_t *err)
{
    kga_err_clear(err);
    if (w->err.code == 0 && w->fd < 0)
        wfail(w, KGA_EINVAL, "writer already committed");
    if (w->err.code == 0 && w->streaming)
        wfail(w, KGA_EINVAL, "tensor '%s' was begun but not ended",
              w->rows[w->nrows - 1].name);
    if (w->err.code == 0 && write_table_and_header(w) == 0) {
        if (fsync(w->fd) != 0)
            wfail_errno(w, w->tmp, "fsync failed");
        else if (close(w->fd) != 0) {
            w->fd = -1;
            wfail_errno(w, w->tmp, "close failed");
        } else {
            w->fd = -1;
            if (rename(w->tmp, w->path) != 0)
                wfail_errno(w, w->path, "cannot rename the temporary file");
            else if (sync_dir_of(w->path) != 0)
                wfail_errno(w, w->path, "cannot sync the directory");
        }
    }
    if (w->err.code != 0) {
        if (w->fd >= 0) {
            close(w->fd);
            w->fd = -1;
        }
        unlink(w->tmp);
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
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->tmp);
    }
    for (size_t i = 0; i < w->nkeys; i++)
        free(w->kv_keys[i]);
    free(w->kv_keys);
    free(w->rows);
    free(w->buf);
    free(w->tmp);
    free(w->path);
    free(w);
}

/* ------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------ */

/* One settings line, found by the validator. */
typedef struct {
    const uint8_t *key, *value;
    uint64_t klen, vlen;
    uint64_t pos; /* file offset of the line */
    uint32_t row; /* table row of its section */
} kv_raw_t;

typedef struct {
    const uint8_t *buf;
    uint64_t size;
    kga_err_t *err;
    header_t h;
    row_t *rows; /* copies of the table rows (alignment-free) */
    kv_raw_t *kv;
    size_t nkv;
} vctx_t;

__attribute__((format(printf, 4, 5))) static int
fail_at(const vctx_t *v, int code, uint64_t pos, const char *fmt, ...)
{
    char what[KGA_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return kga_err_set(v->err, code, "byte %" PRIu64 ": %s", pos, what);
}

/* For rows whose name has been checked. */
__attribute__((format(printf, 5, 6))) static int
fail_sec(const vctx_t *v, int code, const row_t *r, uint64_t pos,
         const char *fmt, ...)
{
    char what[KGA_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return kga_err_set(v->err, code, "section '%s', byte %" PRIu64 ": %s",
                       r->name, pos, what);
}

static int check_header(vctx_t *v, size_t len)
{
    header_t *h = &v->h;
    if (len == 0)
        return kga_err_set(v->err, KGA_ETRUNCATED,
                           "empty file (0 bytes), not a model file");
    size_t magic_avail = len < 8 ? len : 8;
    if (memcmp(v->buf, KGA_MODEL_MAGIC, magic_avail) != 0)
        return fail_at(v, KGA_EMAGIC, 0,
                       "bad magic: not a kgalign model file");
    if (len < KGA_MODEL_HEADER_SIZE)
        return kga_err_set(v->err, KGA_ETRUNCATED,
                           "file is %zu bytes, shorter than the %u-byte "
                           "header",
                           len, KGA_MODEL_HEADER_SIZE);
    memcpy(h, v->buf, sizeof *h);
    if (h->endian != ENDIAN_MARK)
        return fail_at(v, KGA_EENDIAN, offsetof(header_t, endian),
                       h->endian == ENDIAN_SWAPPED
                           ? "endian mark 0x%08x: written in the other byte "
                             "order"
                           : "bad endian mark 0x%08x",
                       h->endian);
    if (h->version != KGA_MODEL_VERSION)
        return fail_at(v, KGA_EVERSION, offsetof(header_t, version),
                       "format version %u, this build reads version %u",
                       h->version, KGA_MODEL_VERSION);
    if (h->file_size > len)
        return kga_err_set(v->err, KGA_ETRUNCATED,
                           "file size field says %" PRIu64
                           " bytes but only %zu are present",
                           h->file_size, len);
    if (h->file_size < len)
        return fail_at(v, KGA_EFORMAT, offsetof(header_t, file_size),
                       "file size field says %" PRIu64
                       " bytes but the file has %zu",
                       h->file_size, len);
    if (h->file_size % KGA_MODEL_ALIGN != 0)
        return fail_at(v, KGA_EFORMAT, offsetof(header_t, file_size),
                       "file size %" PRIu64 " is not a multiple of %u",
                       h->file_size, KGA_MODEL_ALIGN);
    v->size = h->file_size;
    if (h->header_size != KGA_MODEL_HEADER_SIZE)
        return fail_at(v, KGA_EFORMAT, offsetof(header_t, header_size),
                       "header size is %u, expected %u", h->header_size,
                       KGA_MODEL_HEADER_SIZE);
    if (h->entry_size != KGA_MODEL_ENTRY_SIZE)
        return fail_at(v, KGA_EFORMAT, offsetof(header_t, entry_size),
                       "section table row size is %u, expected %u",
                       h->entry_size, KGA_MODEL_ENTRY_SIZE);
    if (h->flags != 0)
        return fail_at(v, KGA_EFORMAT, offsetof(header_t, flags),
                       "unknown flags 0x%x", h->flags);
    for (size_t i = 0; i < sizeof h->reserved; i++)
        if (h->reserved[i] != 0)
            return fail_at(v, KGA_EFORMAT, offsetof(header_t, reserved) + i,
                           "reserved header byte is not zero");
    if (h->section_count > KGA_MODEL_MAX_SECTIONS)
        return fail_at(v, KGA_EFORMAT, offsetof(header_t, section_count),
                       "%u sections, at most %u allowed", h->section_count,
                       KGA_MODEL_MAX_SECTIONS);
    uint64_t table_size = (uint64_t)h->section_count * KGA_MODEL_ENTRY_SIZE;
    if (h->table_offset % KGA_MODEL_ALIGN != 0 ||
        h->table_offset < KGA_MODEL_HEADER_SIZE ||
        h->table_offset > v->size || v->size - h->table_offset != table_size)
        return fail_at(v, KGA_EFORMAT, offsetof(header_t, table_offset),
                       "section table at byte %" PRIu64 " with %u rows does "
                       "not end the %" PRIu64 "-byte file",
                       h->table_offset, h->section_count, v->size);
    return 0;
}

static int check_checksum(vctx_t *v)
{
    uint64_t sum = kga_hash64(v->buf + KGA_MODEL_HEADER_SIZE,
                              v->size - KGA_MODEL_HEADER_SIZE);
    if (sum != v->h.checksum)
        return fail_at(v, KGA_ECHECKSUM, offsetof(header_t, checksum),
                       "checksum mismatch: header has %016" PRIx64
                       ", content hashes to %016" PRIx64,
                       v->h.checksum, sum);
    return 0;
}

static int check_row_name(vctx_t *v, uint32_t i, const row_t *r,
                          uint64_t pos)
{
    const char *nul = memchr(r->name, '\0', sizeof r->name);
    if (nul == NULL)
        return fail_at(v, KGA_EFORMAT, pos,
                       "section table row %u: name is not NUL-terminated "
                       "within 64 bytes",
                       i);
    size_t len = (size_t)(nul - r->name);
    const char *problem = name_problem(r->name, len);
    if (problem != NULL)
        return fail_at(v, KGA_EFORMAT, pos, "section table row %u: %s", i,
                       problem);
    for (size_t k = len; k < sizeof r->name; k++)
        if (r->name[k] != '\0')
            return fail_at(v, KGA_EFORMAT, pos + k,
                           "section table row %u: byte after the name's "
                           "NUL is not zero",
                           i);
    if (i > 0) {
        int c = strcmp(v->rows[i - 1].name, r->name);
        if (c == 0)
            return fail_sec(v, KGA_EFORMAT, r, pos,
                            "section name appears twice in the table");
        if (c > 0)
            return fail_sec(v, KGA_EFORMAT, r, pos,
                            "section table is not sorted by name (after "
                            "'%s')",
                            v->rows[i - 1].name);
    }
    return 0;
}

static int check_row(vctx_t *v, uint32_t i)
{
    uint64_t pos = v->h.table_offset + (uint64_t)i * KGA_MODEL_ENTRY_SIZE;
    row_t *r = &v->rows[i];
    memcpy(r, v->buf + pos, sizeof *r);
    int rc = check_row_name(v, i, r, pos);
    if (rc != 0)
        return rc;
    uint64_t esize = elem_size(r->kind);
    if (esize == 0)
        return fail_sec(v, KGA_EFORMAT, r, pos + offsetof(row_t, kind),
                        "unknown section kind %u", r->kind);
    uint32_t max_dims = r->kind == KGA_MODEL_F32 ? KGA_MODEL_MAX_DIMS : 1;
    uint32_t min_dims = r->kind == KGA_MODEL_F32 ? 0 : 1;
    if (r->ndim < min_dims || r->ndim > max_dims)
        return fail_sec(v, KGA_EFORMAT, r, pos + offsetof(row_t, ndim),
                        "%u dimensions for a %s", r->ndim,
                        kga_model_kind_name((kga_model_kind_t)r->kind));
    for (uint32_t d = r->ndim; d < KGA_MODEL_MAX_DIMS; d++)
        if (r->shape[d] != 0)
            return fail_sec(v, KGA_EFORMAT, r,
                            pos + offsetof(row_t, shape) + 8 * d,
                            "unused dimension %u is not zero", d);
    if (r->reserved != 0)
        return fail_sec(v, KGA_EFORMAT, r, pos + offsetof(row_t, reserved),
                        "reserved field is not zero");
    uint64_t count;
    if (shape_count(r->ndim, r->shape, &count) != 0 ||
        count > UINT64_MAX / esize || count * esize != r->size)
        return fail_sec(v, KGA_EFORMAT, r, pos + offsetof(row_t, size),
                        "size %" PRIu64 " does not match the shape",
                        r->size);
    if (r->offset % KGA_MODEL_ALIGN != 0 ||
        r->offset < KGA_MODEL_HEADER_SIZE)
        return fail_sec(v, KGA_EFORMAT, r, pos + offsetof(row_t, offset),
                        "payload offset %" PRIu64
                        " is not %u-aligned after the header",
                        r->offset, KGA_MODEL_ALIGN);
    if (r->offset > v->h.table_offset ||
        r->size > v->h.table_offset - r->offset)
        return fail_sec(v, KGA_EFORMAT, r, pos + offsetof(row_t, offset),
                        "payload of %" PRIu64 " bytes at %" PRIu64
                        " runs past the payload area (which ends at byte "
                        "%" PRIu64 ")",
                        r->size, r->offset, v->h.table_offset);
    return 0;
}

typedef struct {
    uint64_t offset, size;
    uint32_t row;
} extent_t;

static int extent_cmp(const void *a, const void *b)
{
    const extent_t *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

static int check_zero_bytes(const vctx_t *v, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++)
        if (v->buf[i] != 0)
            return fail_at(v, KGA_EFORMAT, i, "padding byte is not zero");
    return 0;
}

/* Payloads do not overlap, and every byte between them is zero padding. */
static int check_layout(vctx_t *v)
{
    uint32_t n = v->h.section_count;
    extent_t *ext = malloc((n + 1) * sizeof *ext);
    if (ext == NULL)
        return kga_err_set(v->err, KGA_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        ext[i] = (extent_t){v->rows[i].offset, v->rows[i].size, i};
    qsort(ext, n, sizeof *ext, extent_cmp);
    uint64_t end = KGA_MODEL_HEADER_SIZE;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const row_t *r = &v->rows[ext[i].row];
        if (ext[i].offset < end)
            rc = fail_sec(v, KGA_EFORMAT, r, ext[i].offset,
                          "payload overlaps the one before it (which ends at "
                          "byte %" PRIu64 ")",
                          end);
        else
            rc = check_zero_bytes(v, end, ext[i].offset);
        end = ext[i].offset + ext[i].size;
    }
    free(ext);
    return rc != 0 ? rc : check_zero_bytes(v, end, v->h.table_offset);
}

/* Text and settings payloads: NUL-terminated with no other NUL, UTF-8. */
static int check_text(vctx_t *v, const row_t *r)
{
    const uint8_t *p = v->buf + r->offset;
    if (r->size == 0 || p[r->size - 1] != '\0')
        return fail_sec(v, KGA_EFORMAT, r,
                        r->offset + (r->size ? r->size - 1 : 0),
                        "text is not NUL-terminated inside the section");
    const uint8_t *nul = memchr(p, '\0', (size_t)r->size - 1);
    if (nul != NULL)
        return fail_sec(v, KGA_EFORMAT, r, r->offset + (uint64_t)(nul - p),
                        "NUL byte inside the text");
    size_t bad = utf8_check(p, (size_t)r->size - 1);
    if (bad != r->size - 1)
        return fail_sec(v, KGA_EFORMAT, r, r->offset + bad,
                        "invalid UTF-8");
    return 0;
}

/* Settings: lines "key=value\n", keys valid and strictly increasing. Adds
 * the lines to v->kv (room was made by the caller). */
static int check_kv(vctx_t *v, uint32_t row)
{
    const row_t *r = &v->rows[row];
    const uint8_t *p = v->buf + r->offset;
    uint64_t len = r->size - 1, i = 0;
    const uint8_t *prev = NULL;
    uint64_t prev_len = 0;
    while (i < len) {
        const uint8_t *line = p + i;
        const uint8_t *eol = memchr(line, '\n', (size_t)(len - i));
        if (eol == NULL)
            return fail_sec(v, KGA_EFORMAT, r, r->offset + len,
                            "last settings line does not end with a "
                            "newline");
        uint64_t line_len = (uint64_t)(eol - line);
        const uint8_t *eq = memchr(line, '=', (size_t)line_len);
        if (eq == NULL)
            return fail_sec(v, KGA_EFORMAT, r, r->offset + i,
                            "settings line without '='");
        uint64_t klen = (uint64_t)(eq - line);
        if (!key_valid((const char *)line, (size_t)klen))
            return fail_sec(v, KGA_EFORMAT, r, r->offset + i,
                            "bad settings key (1..127 bytes of "
                            "[A-Za-z0-9_.:/-])");
        uint64_t vlen = line_len - klen - 1;
        const uint8_t *cr = memchr(eq + 1, '\r', (size_t)vlen);
        if (cr != NULL)
            return fail_sec(v, KGA_EFORMAT, r,
                            r->offset + (uint64_t)(cr - p),
                            "carriage return in a settings value");
        if (prev != NULL && keycmp(prev, prev_len, line, klen) >= 0)
            return fail_sec(v, KGA_EFORMAT, r, r->offset + i,
                            "settings key '%.*s' %s", (int)klen,
                            (const char *)line,
                            keycmp(prev, prev_len, line, klen) == 0
                                ? "appears twice"
                                : "is out of order");
        v->kv[v->nkv++] =
            (kv_raw_t){line, eq + 1, klen, vlen, r->offset + i, row};
        prev = line, prev_len = klen;
        i += line_len + 1;
    }
    return 0;
}

static int kv_raw_cmp(const void *a, const void *b)
{
    const kv_raw_t *x = a, *y = b;
    int c = keycmp(x->key, x->klen, y->key, y->klen);
    return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int check_contents(vctx_t *v)
{
    uint64_t kv_bytes = 0, kv_lines = 0;
    for (uint32_t i = 0; i < v->h.section_count; i++) {
        const row_t *r = &v->rows[i];
        if (r->kind != KGA_MODEL_TEXT && r->kind != KGA_MODEL_KV)
            continue;
        int rc = check_text(v, r);
        if (rc != 0)
            return rc;
        if (r->kind != KGA_MODEL_KV)
            continue;
        kv_bytes += r->size;
        if (kv_bytes > MAX_KV_BYTES)
            return fail_sec(v, KGA_EFORMAT, r, r->offset,
                            "settings sections hold more than the %u bytes "
                            "allowed",
                            MAX_KV_BYTES);
        const uint8_t *p = v->buf + r->offset, *end = p + r->size;
        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            kv_lines++;
            p++;
        }
    }
    v->kv = malloc((size_t)(kv_lines + 1) * sizeof *v->kv);
    if (v->kv == NULL)
        return kga_err_set(v->err, KGA_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < v->h.section_count; i++) {
        if (v->rows[i].kind != KGA_MODEL_KV)
            continue;
        int rc = check_kv(v, i);
        if (rc != 0)
            return rc;
    }
    qsort(v->kv, v->nkv, sizeof *v->kv, kv_raw_cmp);
    for (size_t k = 1; k < v->nkv; k++) {
        const kv_raw_t *a = &v->kv[k - 1], *b = &v->kv[k];
        if (keycmp(a->key, a->klen, b->key, b->klen) == 0)
            return fail_sec(v, KGA_EFORMAT, &v->rows[b->row], b->pos,
                            "settings key '%.*s' is also in section '%s'",
                            (int)b->klen, (const char *)b->key,
                            v->rows[a->row].name);
    }
    return 0;
}

/* On success v->kv holds the settings in key order (caller frees). */
static int validate(vctx_t *v, const void *buf, size_t len, kga_err_t *err)
{
    memset(v, 0, sizeof *v);
    v->buf = buf;
    v->err = err;
    kga_err_clear(err);
    int rc = check_header(v, len);
    if (rc == 0)
        rc = check_checksum(v);
    if (rc == 0) {
        v->rows = malloc(((size_t)v->h.section_count + 1) * sizeof *v->rows);
        if (v->rows == NULL)
            rc = kga_err_set(err, KGA_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; rc == 0 && i < v->h.section_count; i++)
        rc = check_row(v, i);
    if (rc == 0)
        rc = check_layout(v);
    if (rc == 0)
        rc = check_contents(v);
    free(v->rows);
    v->rows = NULL;
    if (rc != 0) {
        free(v->kv);
        v->kv = NULL;
    }
    return rc;
}

int kga_model_validate(const void *buf, size_t len, kga_err_t *err)
{
    vctx_t v;
    int rc = validate(&v, buf, len, err);
    free(v.kv);
    return rc;
}

/* ------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------ */

typedef struct {
    const char *key, *value;
} kv_entry_t;

struct kga_model {
    const uint8_t *base;
    size_t len;
    void *map; /* NULL when the buffer belongs to the caller */
    char *path;
    uint64_t checksum;
    const row_t *rows; /* the table in the mapping, sorted by name */
    size_t nrows;
    kv_entry_t *kv; /* sorted by key, strings in kv_arena */
    size_t nkv;
    char *kv_arena;
};

/* Copies the validated settings into NUL-terminated strings. */
static int bind_kv(kga_model_t *m, const kv_raw_t *raw, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += (size_t)(raw[i].klen + raw[i].vlen + 2);
    m->kv = malloc((n + 1) * sizeof *m->kv);
    m->kv_arena = malloc(bytes + 1);
    if (m->kv == NULL || m->kv_arena == NULL)
        return KGA_ENOMEM;
    char *p = m->kv_arena;
    for (size_t i = 0; i < n; i++) {
        m->kv[i].key = p;
        memcpy(p, raw[i].key, (size_t)raw[i].klen);
        p += raw[i].klen;
        *p++ = '\0';
        m->kv[i].value = p;
        memcpy(p, raw[i].value, (size_t)raw[i].vlen);
        p += raw[i].vlen;
        *p++ = '\0';
    }
    m->nkv = n;
    return 0;
}

static int model_from_buffer(const void *buf, size_t len, const char *path,
                             kga_model_t **out, kga_err_t *err)
{
    vctx_t v;
    int rc = validate(&v, buf, len, err);
    if (rc != 0)
        return rc;
    kga_model_t *m = calloc(1, sizeof *m);
    if (m == NULL || (m->path = strdup(path)) == NULL ||
        bind_kv(m, v.kv, v.nkv) != 0) {
        free(v.kv);
        kga_model_close(m);
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    }
    free(v.kv);
    m->base = buf;
    m->len = len;
    m->checksum = v.h.checksum;
    m->rows = (const void *)(m->base + v.h.table_offset);
    m->nrows = v.h.section_count;
    *out = m;
    return 0;
}

int kga_model_open_buffer(const void *buf, size_t len, kga_model_t **out,
                          kga_err_t *err)
{
    *out = NULL;
    /* Lookups hand out typed pointers into the buffer. */
    if ((uintptr_t)buf % sizeof(uint64_t) != 0)
        return kga_err_set(err, KGA_EINVAL,
                           "model buffer is not 8-byte aligned");
    return model_from_buffer(buf, len, "<buffer>", out, err);
}

int kga_model_open(const char *path, kga_model_t **out, kga_err_t *err)
{
    *out = NULL;
    kga_err_clear(err);
    void *map;
    size_t len;
    int rc = kga_map_file(path, "model file", &map, &len, err);
    if (rc != 0)
        return rc;
    kga_err_t verr;
    rc = model_from_buffer(map, len, path, out, &verr);
    if (rc != 0) {
        kga_unmap_file(map, len);
        return kga_err_set(err, rc, "%s: %s", path, verr.msg);
    }
    (*out)->map = map;
    return 0;
}

void kga_model_close(kga_model_t *m)
{
    if (m == NULL)
        return;
    kga_unmap_file(m->map, m->len);
    free(m->kv);
    free(m->kv_arena);
    free(m->path);
    free(m);
}

/* ------------------------------------------------------------------------
 * Lookups (no checks: the image was validated when opened)
 * ------------------------------------------------------------------------ */

uint64_t kga_model_checksum(const kga_model_t *m)
{
    return m->checksum;
}

const char *kga_model_path(const kga_model_t *m)
{
    return m->path;
}

size_t kga_model_section_count(const kga_model_t *m)
{
    return m->nrows;
}

static void section_of(const kga_model_t *m, const row_t *r,
                       kga_model_section_t *out)
{
    out->name = r->name;
    out->kind = (kga_model_kind_t)r->kind;
    out->ndim = r->ndim;
    out->shape = r->shape;
    out->count = r->size / elem_size(r->kind);
    out->offset = r->offset;
    out->data = m->base + r->offset;
}

void kga_model_section_at(const kga_model_t *m, size_t i,
                          kga_model_section_t *out)
{
    section_of(m, &m->rows[i], out);
}

static const row_t *find_row(const kga_model_t *m, const char *name)
{
    size_t lo = 0, hi = m->nrows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->rows[mid].name, name);
        if (c == 0)
            return &m->rows[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int kga_model_find(const kga_model_t *m, const char *name,
                   kga_model_section_t *out)
{
    const row_t *r = find_row(m, name);
    if (r == NULL)
        return KGA_ENOENT;
    section_of(m, r, out);
    return 0;
}

static const row_t *find_kind(const kga_model_t *m, const char *name,
                              uint32_t kind)
{
    const row_t *r = find_row(m, name);
    return r != NULL && r->kind == kind ? r : NULL;
}

const float *kga_model_tensor(const kga_model_t *m, const char *name,
                              const uint64_t **shape, uint32_t *ndim)
{
    const row_t *r = find_kind(m, name, KGA_MODEL_F32);
    if (r == NULL)
        return NULL;
    if (shape != NULL)
        *shape = r->shape;
    if (ndim != NULL)
        *ndim = r->ndim;
    return (const void *)(m->base + r->offset);
}

const uint32_t *kga_model_get_u32s(const kga_model_t *m, const char *name,
                                   size_t *count)
{
    const row_t *r = find_kind(m, name, KGA_MODEL_U32);
    if (r == NULL)
        return NULL;
    if (count != NULL)
        *count = (size_t)r->shape[0];
    return (const void *)(m->base + r->offset);
}

const uint64_t *kga_model_get_u64s(const kga_model_t *m, const char *name,
                                   size_t *count)
{
    const row_t *r = find_kind(m, name, KGA_MODEL_U64);
    if (r == NULL)
        return NULL;
    if (count != NULL)
        *count = (size_t)r->shape[0];
    return (const void *)(m->base + r->offset);
}

const char *kga_model_get_text(const kga_model_t *m, const char *name,
                               size_t *len)
{
    const row_t *r = find_kind(m, name, KGA_MODEL_TEXT);
    if (r == NULL)
        return NULL;
    if (len != NULL)
        *len = (size_t)r->size - 1;
    return (const char *)(m->base + r->offset);
}

/* "64x128", "scalar", with "*" for KGA_MODEL_ANY_DIM. */
static void format_shape(char *out, size_t size, uint32_t ndim,
                         const uint64_t *shape)
{
    if (ndim == 0) {
        snprintf(out, size, "scalar");
        return;
    }
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t d = 0; d < ndim && used < size; d++) {
        int k = shape[d] == KGA_MODEL_ANY_DIM
                    ? snprintf(out + used, size - used, "%s*", d ? "x" : "")
                    : snprintf(out + used, size - used, "%s%" PRIu64,
                               d ? "x" : "", shape[d]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

/* The section of the given name and kind, or NULL with *rc and err set. */
static const row_t *require_section(const kga_model_t *m, const char *name,
                                    uint32_t kind, int *rc, kga_err_t *err)
{
    const row_t *r = find_row(m, name);
    if (r == NULL) {
        *rc = kga_err_set(err, KGA_ENOENT, "%s: missing %s '%s'", m->path,
                          kga_model_kind_name((kga_model_kind_t)kind), name);
        return NULL;
    }
    if (r->kind != kind) {
        *rc = kga_err_set(err, KGA_EFORMAT,
                          "%s: section '%s' is a %s, not a %s", m->path, name,
                          kga_model_kind_name((kga_model_kind_t)r->kind),
                          kga_model_kind_name((kga_model_kind_t)kind));
        return NULL;
    }
    return r;
}

int kga_model_require_tensor(const kga_model_t *m, const char *name,
                             uint32_t ndim, const uint64_t *shape,
                             const float **data, kga_err_t *err)
{
    int rc = 0;
    const row_t *r = require_section(m, name, KGA_MODEL_F32, &rc, err);
    if (r == NULL)
        return rc;
    int same = r->ndim == ndim;
    for (uint32_t d = 0; same && d < ndim; d++)
        same = shape[d] == KGA_MODEL_ANY_DIM || shape[d] == r->shape[d];
    if (!same) {
        char have[128], want[128];
        format_shape(have, sizeof have, r->ndim, r->shape);
        format_shape(want, sizeof want, ndim, shape);
        return kga_err_set(err, KGA_EFORMAT,
                           "%s: tensor '%s' has shape %s, expected %s",
                           m->path, name, have, want);
    }
    *data = (const void *)(m->base + r->offset);
    return 0;
}

int kga_model_require_u64s(const kga_model_t *m, const char *name,
                           size_t count, const uint64_t **data,
                           kga_err_t *err)
{
    int rc = 0;
    const row_t *r = require_section(m, name, KGA_MODEL_U64, &rc, err);
    if (r == NULL)
        return rc;
    if (r->shape[0] != count)
        return kga_err_set(err, KGA_EFORMAT,
                           "%s: u64 array '%s' has %" PRIu64
                           " elements, expected %zu",
                           m->path, name, r->shape[0], count);
    *data = (const void *)(m->base + r->offset);
    return 0;
}

/* ------------------------------------------------------------------------
 * Settings
 * ------------------------------------------------------------------------ */

static const kv_entry_t *kv_find(const kga_model_t *m, const char *key)
{
    size_t lo = 0, hi = m->nkv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->kv[mid].key, key);
        if (c == 0)
            return &m->kv[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int kga_model_kv_has(const kga_model_t *m, const char *key)
{
    return kv_find(m, key) != NULL;
}

size_t kga_model_kv_count(const kga_model_t *m)
{
    return m->nkv;
}

void kga_model_kv_at(const kga_model_t *m, size_t i, const char **key,
                     const char **value)
{
    *key = m->kv[i].key;
    *value = m->kv[i].value;
}

int kga_model_kv_get_str(const kga_model_t *m, const char *key,
                         const char **out, kga_err_t *err)
{
    const kv_entry_t *e = kv_find(m, key);
    if (e == NULL)
        return kga_err_set(err, KGA_ENOENT, "%s: missing setting '%s'",
                           m->path, key);
    *out = e->value;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Decimal digits from *p; 0, KGA_EPARSE (no digit, or trailing bytes) or
 * KGA_ERANGE (more than 64 bits). */
static int parse_digits(const char *p, uint64_t *out)
{
    if (!is_digit(*p))
        return KGA_EPARSE;
    uint64_t v = 0;
    int overflow = 0;
    for (; is_digit(*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = 1;
        else
            v = v * 10 + d;
    }
    if (*p != '\0')
        return KGA_EPARSE;
    if (overflow)
        return KGA_ERANGE;
    *out = v;
    return 0;
}

static int kv_value_error(const kga_model_t *m, const char *key,
                          const char *value, int code, const char *type,
                          kga_err_t *err)
{
    return kga_err_set(err, code,
                       code == KGA_ERANGE
                           ? "%s: setting '%s': value '%.64s' does not fit "
                             "in %s"
                           : "%s: setting '%s': value '%.64s' is not %s",
                       m->path, key, value, type);
}

int kga_model_kv_get_int(const kga_model_t *m, const char *key, int64_t *out,
                         kga_err_t *err)
{
    const char *s = "";
    int rc = kga_model_kv_get_str(m, key, &s, err);
    if (rc != 0)
        return rc;
    int neg = s[0] == '-';
    uint64_t mag = 0;
    rc = parse_digits(s + neg, &mag);
    if (rc == 0 && mag > (uint64_t)INT64_MAX + (uint64_t)neg)
        rc = KGA_ERANGE;
    if (rc != 0)
        return kv_value_error(m, key, s, rc,
                              rc == KGA_ERANGE ? "a 64-bit signed integer"
                                               : "an integer",
                              err);
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

int kga_model_kv_get_u64(const kga_model_t *m, const char *key, uint64_t *out,
                         kga_err_t *err)
{
    const char *s = "";
    int rc = kga_model_kv_get_str(m, key, &s, err);
    if (rc != 0)
        return rc;
    uint64_t v = 0;
    rc = parse_digits(s, &v);
    if (rc != 0)
        return kv_value_error(m, key, s, rc,
                              rc == KGA_ERANGE ? "64 bits"
                                               : "an unsigned integer",
                              err);
    *out = v;
    return 0;
}

int kga_model_kv_get_double(const kga_model_t *m, const char *key,
                            double *out, kga_err_t *err)
{
    const char *s = "";
    int rc = kga_model_kv_get_str(m, key, &s, err);
    if (rc != 0)
        return rc;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    int bad_syntax = s[0] == '\0' || isspace((unsigned char)s[0]) ||
                     end == s || *end != '\0';
    if (!bad_syntax && errno == ERANGE && isinf(v))
        return kv_value_error(m, key, s, KGA_ERANGE, "a double", err);
    if (bad_syntax || !isfinite(v))
        return kv_value_error(m, key, s, KGA_EPARSE, "a finite number", err);
    *out = v;
    return 0;
}
