/* Model file: the validator and the mapped reader. The validator is the
 * only code that trusts nothing: alignment-free loads, bounds checked
 * before every read. After it succeeded the lookups index the mapping
 * directly. The layout is model_format.h (docs/model-format.md), the
 * writer model_write.c, the settings lookups model_kv.c. */
#include "model/model_format.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>

#include "base/hash.h"
#include "base/mapped_file.h"
#include "base/utf8.h"

/* ------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------ */

/* Bytewise order of two counted keys (a prefix sorts first, as strcmp). */
static int keycmp(const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return (alen > blen) - (alen < blen);
}

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
    kga_model_header_t h;
    kga_model_row_t *rows; /* copies of the table rows (alignment-free) */
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
__attribute__((format(printf, 5, 6))) static int fail_sec(
    const vctx_t *v, int code, const kga_model_row_t *r, uint64_t pos,
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
    kga_model_header_t *h = &v->h;
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
    if (h->endian != KGA_MODEL_ENDIAN_MARK)
        return fail_at(v, KGA_EENDIAN, offsetof(kga_model_header_t, endian),
                       h->endian == KGA_MODEL_ENDIAN_SWAPPED
                           ? "endian mark 0x%08x: written in the other byte "
                             "order"
                           : "bad endian mark 0x%08x",
                       h->endian);
    if (h->version != KGA_MODEL_VERSION)
        return fail_at(v, KGA_EVERSION, offsetof(kga_model_header_t, version),
                       "format version %u, this build reads version %u",
                       h->version, KGA_MODEL_VERSION);
    if (h->file_size > len)
        return kga_err_set(v->err, KGA_ETRUNCATED,
                           "file size field says %" PRIu64
                           " bytes but only %zu are present",
                           h->file_size, len);
    if (h->file_size < len)
        return fail_at(v, KGA_EFORMAT, offsetof(kga_model_header_t, file_size),
                       "file size field says %" PRIu64
                       " bytes but the file has %zu",
                       h->file_size, len);
    if (h->file_size % KGA_MODEL_ALIGN != 0)
        return fail_at(v, KGA_EFORMAT, offsetof(kga_model_header_t, file_size),
                       "file size %" PRIu64 " is not a multiple of %u",
                       h->file_size, KGA_MODEL_ALIGN);
    v->size = h->file_size;
    if (h->header_size != KGA_MODEL_HEADER_SIZE)
        return fail_at(v, KGA_EFORMAT,
                       offsetof(kga_model_header_t, header_size),
                       "header size is %u, expected %u", h->header_size,
                       KGA_MODEL_HEADER_SIZE);
    if (h->entry_size != KGA_MODEL_ENTRY_SIZE)
        return fail_at(v, KGA_EFORMAT,
                       offsetof(kga_model_header_t, entry_size),
                       "section table row size is %u, expected %u",
                       h->entry_size, KGA_MODEL_ENTRY_SIZE);
    if (h->flags != 0)
        return fail_at(v, KGA_EFORMAT, offsetof(kga_model_header_t, flags),
                       "unknown flags 0x%x", h->flags);
    for (size_t i = 0; i < sizeof h->reserved; i++)
        if (h->reserved[i] != 0)
            return fail_at(v, KGA_EFORMAT,
                           offsetof(kga_model_header_t, reserved) + i,
                           "reserved header byte is not zero");
    if (h->section_count > KGA_MODEL_MAX_SECTIONS)
        return fail_at(v, KGA_EFORMAT,
                       offsetof(kga_model_header_t, section_count),
                       "%u sections, at most %u allowed", h->section_count,
                       KGA_MODEL_MAX_SECTIONS);
    uint64_t table_size = (uint64_t)h->section_count * KGA_MODEL_ENTRY_SIZE;
    if (h->table_offset % KGA_MODEL_ALIGN != 0 ||
        h->table_offset < KGA_MODEL_HEADER_SIZE ||
        h->table_offset > v->size || v->size - h->table_offset != table_size)
        return fail_at(v, KGA_EFORMAT,
                       offsetof(kga_model_header_t, table_offset),
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
        return fail_at(v, KGA_ECHECKSUM,
                       offsetof(kga_model_header_t, checksum),
                       "checksum mismatch: header has %016" PRIx64
                       ", content hashes to %016" PRIx64,
                       v->h.checksum, sum);
    return 0;
}

static int check_row_name(vctx_t *v, uint32_t i, const kga_model_row_t *r,
                          uint64_t pos)
{
    const char *nul = memchr(r->name, '\0', sizeof r->name);
    if (nul == NULL)
        return fail_at(v, KGA_EFORMAT, pos,
                       "section table row %u: name is not NUL-terminated "
                       "within 64 bytes",
                       i);
    size_t len = (size_t)(nul - r->name);
    const char *problem = kga_model_name_problem(r->name, len);
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
    kga_model_row_t *r = &v->rows[i];
    memcpy(r, v->buf + pos, sizeof *r);
    int rc = check_row_name(v, i, r, pos);
    if (rc != 0)
        return rc;
    uint64_t esize = kga_model_elem_size(r->kind);
    if (esize == 0)
        return fail_sec(v, KGA_EFORMAT, r,
                        pos + offsetof(kga_model_row_t, kind),
                        "unknown section kind %u", r->kind);
    uint32_t max_dims = r->kind == KGA_MODEL_F32 ? KGA_MODEL_MAX_DIMS : 1;
    uint32_t min_dims = r->kind == KGA_MODEL_F32 ? 0 : 1;
    if (r->ndim < min_dims || r->ndim > max_dims)
        return fail_sec(v, KGA_EFORMAT, r,
                        pos + offsetof(kga_model_row_t, ndim),
                        "%u dimensions for a %s", r->ndim,
                        kga_model_kind_name((kga_model_kind_t)r->kind));
    for (uint32_t d = r->ndim; d < KGA_MODEL_MAX_DIMS; d++)
        if (r->shape[d] != 0)
            return fail_sec(v, KGA_EFORMAT, r,
                            pos + offsetof(kga_model_row_t, shape) + 8 * d,
                            "unused dimension %u is not zero", d);
    if (r->reserved != 0)
        return fail_sec(v, KGA_EFORMAT, r,
                        pos + offsetof(kga_model_row_t, reserved),
                        "reserved field is not zero");
    uint64_t count;
    if (kga_model_shape_count(r->ndim, r->shape, &count) != 0 ||
        count > UINT64_MAX / esize || count * esize != r->size)
        return fail_sec(v, KGA_EFORMAT, r,
                        pos + offsetof(kga_model_row_t, size),
                        "size %" PRIu64 " does not match the shape", r->size);
    if (r->offset % KGA_MODEL_ALIGN != 0 ||
        r->offset < KGA_MODEL_HEADER_SIZE)
        return fail_sec(
            v, KGA_EFORMAT, r, pos + offsetof(kga_model_row_t, offset),
            "payload offset %" PRIu64 " is not %u-aligned after the header",
            r->offset, KGA_MODEL_ALIGN);
    if (r->offset > v->h.table_offset ||
        r->size > v->h.table_offset - r->offset)
        return fail_sec(v, KGA_EFORMAT, r,
                        pos + offsetof(kga_model_row_t, offset),
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
        const kga_model_row_t *r = &v->rows[ext[i].row];
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
static int check_text(vctx_t *v, const kga_model_row_t *r)
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
    size_t bad;
    if (!kga_utf8_valid((const char *)p, (size_t)r->size - 1, &bad))
        return fail_sec(v, KGA_EFORMAT, r, r->offset + bad,
                        "invalid UTF-8");
    return 0;
}

/* Settings: lines "key=value\n", keys valid and strictly increasing. Adds
 * the lines to v->kv (room was made by the caller). */
static int check_kv(vctx_t *v, uint32_t row)
{
    const kga_model_row_t *r = &v->rows[row];
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
        if (!kga_model_key_valid((const char *)line, (size_t)klen))
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

/* Tensors: every value finite, as the writer requires. A NaN or infinite
 * weight in a model whose checksum was made to agree would load and serve
 * NaN distances and probabilities; it is refused here, once, so that no
 * reader has to look. Read with memcpy: payloads are 64-aligned in a file
 * but a buffer handed to the validator need not be. */
static int check_floats(vctx_t *v, const kga_model_row_t *r)
{
    const uint8_t *p = v->buf + r->offset;
    uint64_t n = r->size / sizeof(float);
    for (uint64_t i = 0; i < n; i++) {
        float x;
        memcpy(&x, p + i * sizeof x, sizeof x);
        if (!isfinite(x))
            return fail_sec(v, KGA_ENUMERIC, r, r->offset + i * sizeof x,
                            "value %" PRIu64 " is %s (every value of a "
                            "tensor must be finite)",
                            i, isnan(x) ? "NaN" : "infinite");
    }
    return 0;
}

static int check_contents(vctx_t *v)
{
    uint64_t kv_bytes = 0, kv_lines = 0;
    for (uint32_t i = 0; i < v->h.section_count; i++) {
        const kga_model_row_t *r = &v->rows[i];
        if (r->kind == KGA_MODEL_F32) {
            int rc = check_floats(v, r);
            if (rc != 0)
                return rc;
            continue;
        }
        if (r->kind != KGA_MODEL_TEXT && r->kind != KGA_MODEL_KV)
            continue;
        int rc = check_text(v, r);
        if (rc != 0)
            return rc;
        if (r->kind != KGA_MODEL_KV)
            continue;
        kv_bytes += r->size;
        if (kv_bytes > KGA_MODEL_MAX_KV_BYTES)
            return fail_sec(v, KGA_EFORMAT, r, r->offset,
                            "settings sections hold more than the %u bytes "
                            "allowed",
                            KGA_MODEL_MAX_KV_BYTES);
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

/* A kga_image_load_fn: out is a kga_model_t **. */
static int model_from_buffer(const void *buf, size_t len, const char *path,
                             kga_mapped_file_t *file, void *out,
                             kga_err_t *err)
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
    if (file != NULL)
        m->file = *file;
    *(kga_model_t **)out = m;
    return 0;
}

int kga_model_open_buffer(const void *buf, size_t len, kga_model_t **out,
                          kga_err_t *err)
{
    *out = NULL;
    return kga_image_load_buffer(buf, len, "model", model_from_buffer,
                                  out, err);
}

int kga_model_open(const char *path, kga_model_t **out, kga_err_t *err)
{
    *out = NULL;
    return kga_image_load_file(path, "model file", model_from_buffer,
                                out, err);
}

int kga_model_check_file(const kga_model_t *m, kga_err_t *err)
{
    return kga_mapped_file_check(&m->file, err);
}

void kga_model_close(kga_model_t *m)
{
    if (m == NULL)
        return;
    kga_mapped_file_close(&m->file);
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

static void section_of(const kga_model_t *m, const kga_model_row_t *r,
                       kga_model_section_t *out)
{
    out->name = r->name;
    out->kind = (kga_model_kind_t)r->kind;
    out->ndim = r->ndim;
    out->shape = r->shape;
    out->count = r->size / kga_model_elem_size(r->kind);
    out->offset = r->offset;
    out->data = m->base + r->offset;
}

void kga_model_section_at(const kga_model_t *m, size_t i,
                          kga_model_section_t *out)
{
    section_of(m, &m->rows[i], out);
}

static const kga_model_row_t *find_row(const kga_model_t *m, const char *name)
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
    const kga_model_row_t *r = find_row(m, name);
    if (r == NULL)
        return KGA_ENOENT;
    section_of(m, r, out);
    return 0;
}

static const kga_model_row_t *find_kind(const kga_model_t *m, const char *name,
                                        uint32_t kind)
{
    const kga_model_row_t *r = find_row(m, name);
    return r != NULL && r->kind == kind ? r : NULL;
}

const float *kga_model_tensor(const kga_model_t *m, const char *name,
                              const uint64_t **shape, uint32_t *ndim)
{
    const kga_model_row_t *r = find_kind(m, name, KGA_MODEL_F32);
    if (r == NULL)
        return NULL;
    if (shape != NULL)
        *shape = r->shape;
    if (ndim != NULL)
        *ndim = r->ndim;
    return (const void *)(m->base + r->offset);
}

/* The data of the one-dimensional section `name` of the given kind, its
 * length in *count (when count is not NULL); NULL when there is none. */
static const void *get_array(const kga_model_t *m, const char *name,
                             uint32_t kind, size_t *count)
{
    const kga_model_row_t *r = find_kind(m, name, kind);
    if (r == NULL)
        return NULL;
    if (count != NULL)
        *count = (size_t)r->shape[0];
    return m->base + r->offset;
}

const uint32_t *kga_model_get_u32s(const kga_model_t *m, const char *name,
                                   size_t *count)
{
    return get_array(m, name, KGA_MODEL_U32, count);
}

const uint64_t *kga_model_get_u64s(const kga_model_t *m, const char *name,
                                   size_t *count)
{
    return get_array(m, name, KGA_MODEL_U64, count);
}

const char *kga_model_get_text(const kga_model_t *m, const char *name,
                               size_t *len)
{
    const kga_model_row_t *r = find_kind(m, name, KGA_MODEL_TEXT);
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
static const kga_model_row_t *require_section(const kga_model_t *m,
                                              const char *name, uint32_t kind,
                                              int *rc, kga_err_t *err)
{
    const kga_model_row_t *r = find_row(m, name);
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
    const kga_model_row_t *r =
        require_section(m, name, KGA_MODEL_F32, &rc, err);
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
    const kga_model_row_t *r =
        require_section(m, name, KGA_MODEL_U64, &rc, err);
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
