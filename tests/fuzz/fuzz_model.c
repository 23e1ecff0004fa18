/* Fuzzes the model file validator. Each input is checked twice:
 *   1. as it is, by kga_model_validate();
 *   2. when it starts with the magic, repaired so that mutations get past the
 *      header: bytes dropped just before the section table (which ends the
 *      file) until the length is a multiple of 64, then the size field, the
 *      table offset and the checksum set to match; then opened with
 *      kga_model_open_buffer().
 * Oracles: documented return codes only, with a message; validate and open
 * agree; and a model that opens is read through every lookup (which do no
 * checks of their own) with the documented results: every tensor value
 * finite (a NaN is KGA_ENUMERIC at validation), every section found by
 * its name and kind, payloads inside the buffer, text NUL-terminated at its
 * length, every setting found by its key, typed getters 0 / KGA_EPARSE /
 * KGA_ERANGE only. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "base/hash.h"
#include "model/model_file.h"

/* Header fields (docs/model-format.md). */
#define FUZZ_MODEL_FILE_SIZE 16
#define FUZZ_MODEL_CHECKSUM 24
#define FUZZ_MODEL_SECTION_COUNT 36
#define FUZZ_MODEL_TABLE_OFFSET 48

static const int fuzz_model_codes[] = {
    KGA_ETRUNCATED, KGA_EMAGIC,    KGA_EENDIAN,  KGA_EVERSION,
    KGA_EFORMAT,    KGA_ECHECKSUM, KGA_ENUMERIC, KGA_ENOMEM,  0};

static uint64_t fuzz_model_elem(kga_model_kind_t kind)
{
    return kind == KGA_MODEL_U64 ? 8
           : kind == KGA_MODEL_F32 || kind == KGA_MODEL_U32 ? 4
                                                             : 1;
}

static int fuzz_model_section(const kga_model_t *m, const uint8_t *buf,
                              size_t len, const kga_model_section_t *s)
{
    uint64_t sum = 0;
    size_t name_len = fuzz_touch_str(s->name);
    if (name_len == 0 || name_len > KGA_MODEL_NAME_MAX)
        return fuzz_fail("model: section name of %zu bytes", name_len);
    if (s->kind < KGA_MODEL_F32 || s->kind > KGA_MODEL_KV)
        return fuzz_fail("model: section '%s' of kind %d", s->name, s->kind);
    if (s->ndim > KGA_MODEL_MAX_DIMS ||
        (s->kind != KGA_MODEL_F32 && s->ndim != 1))
        return fuzz_fail("model: section '%s' with %u dims", s->name,
                         s->ndim);
    uint64_t count = 1;
    for (uint32_t d = 0; d < s->ndim; d++)
        count *= s->shape[d];
    if (count != s->count)
        return fuzz_fail("model: section '%s' count %llu, shape says %llu",
                         s->name, (unsigned long long)s->count,
                         (unsigned long long)count);
    uint64_t bytes = s->count * fuzz_model_elem(s->kind);
    const uint8_t *p = s->data;
    if (p < buf || s->offset > len || bytes > len - s->offset ||
        p != buf + s->offset)
        return fuzz_fail("model: section '%s' payload outside the buffer",
                         s->name);
    /* Typed reads, as the model code does them (UBSan checks alignment). */
    switch (s->kind) {
    case KGA_MODEL_F32: {
        const uint64_t *shape;
        uint32_t ndim;
        const float *f = kga_model_tensor(m, s->name, &shape, &ndim);
        if (f == NULL || (const void *)f != s->data || ndim != s->ndim)
            return fuzz_fail("model: tensor '%s' not found", s->name);
        for (uint64_t i = 0; i < s->count; i++) {
            if (!isfinite(f[i]))
                return fuzz_fail("model: tensor '%s' value %llu is not "
                                 "finite, yet the model opened",
                                 s->name, (unsigned long long)i);
            sum += f[i] > 0.0f;
        }
        const float *again = NULL;
        kga_err_t err;
        if (kga_model_require_tensor(m, s->name, ndim, shape, &again,
                                     &err) != 0 ||
            again != f)
            return fuzz_fail("model: require_tensor('%s') refused its own "
                             "shape",
                             s->name);
        uint64_t wrong[KGA_MODEL_MAX_DIMS] = {0, 0, 0, 0};
        int rc = kga_model_require_tensor(m, s->name, KGA_MODEL_MAX_DIMS,
                                          wrong, &again, &err);
        if (rc != 0 && rc != KGA_EFORMAT)
            return fuzz_fail("model: require_tensor: %d", rc);
        break;
    }
    case KGA_MODEL_U32: {
        size_t n = 0;
        const uint32_t *u = kga_model_get_u32s(m, s->name, &n);
        if (u == NULL || n != s->count)
            return fuzz_fail("model: u32s '%s' not found", s->name);
        for (size_t i = 0; i < n; i++)
            sum += u[i];
        break;
    }
    case KGA_MODEL_U64: {
        size_t n = 0;
        const uint64_t *u = kga_model_get_u64s(m, s->name, &n);
        if (u == NULL || n != s->count)
            return fuzz_fail("model: u64s '%s' not found", s->name);
        for (size_t i = 0; i < n; i++)
            sum += u[i];
        const uint64_t *again = NULL;
        kga_err_t err;
        if (kga_model_require_u64s(m, s->name, n, &again, &err) != 0 ||
            again != u)
            return fuzz_fail("model: require_u64s('%s') failed", s->name);
        break;
    }
    case KGA_MODEL_TEXT: {
        size_t n = 0;
        const char *t = kga_model_get_text(m, s->name, &n);
        if (t == NULL || fuzz_touch_str(t) != n || n + 1 != s->count)
            return fuzz_fail("model: text '%s' length", s->name);
        break;
    }
    case KGA_MODEL_KV:
        if (kga_model_get_text(m, s->name, NULL) != NULL)
            return fuzz_fail("model: settings '%s' found as text", s->name);
        if (fuzz_touch_str((const char *)s->data) + 1 != s->count)
            return fuzz_fail("model: settings '%s' length", s->name);
        break;
    }
    kga_model_section_t again;
    if (kga_model_find(m, s->name, &again) != 0 || again.data != s->data ||
        again.kind != s->kind)
        return fuzz_fail("model: section '%s' not found by name", s->name);
    fuzz_sink = sum;
    return 0;
}

static int fuzz_model_settings(const kga_model_t *m)
{
    size_t n = kga_model_kv_count(m);
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *key, *value, *got;
        kga_model_kv_at(m, i, &key, &value);
        size_t klen = fuzz_touch_str(key);
        fuzz_touch_str(value);
        if (klen == 0 || klen > KGA_MODEL_KEY_MAX)
            return fuzz_fail("model: key of %zu bytes", klen);
        if (prev != NULL && strcmp(prev, key) >= 0)
            return fuzz_fail("model: settings not in key order");
        prev = key;
        kga_err_t err;
        if (!kga_model_kv_has(m, key) ||
            kga_model_kv_get_str(m, key, &got, &err) != 0 || got != value)
            return fuzz_fail("model: setting '%s' not found", key);
        static const int typed[] = {KGA_EPARSE, KGA_ERANGE, 0};
        int64_t iv;
        uint64_t uv;
        double dv;
        if (fuzz_check_rc("kv_get_int", kga_model_kv_get_int(m, key, &iv, &err),
                          &err, typed) ||
            fuzz_check_rc("kv_get_u64", kga_model_kv_get_u64(m, key, &uv, &err),
                          &err, typed) ||
            fuzz_check_rc("kv_get_double",
                          kga_model_kv_get_double(m, key, &dv, &err), &err,
                          typed))
            return 1;
    }
    kga_err_t err;
    const char *v;
    if (kga_model_kv_has(m, "") ||
        kga_model_kv_get_str(m, "no such key", &v, &err) != KGA_ENOENT)
        return fuzz_fail("model: a missing key was found");
    return 0;
}

static int fuzz_model_walk(const kga_model_t *m, const uint8_t *buf,
                           size_t len)
{
    size_t n = kga_model_section_count(m);
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        kga_model_section_t s;
        kga_model_section_at(m, i, &s);
        if (fuzz_model_section(m, buf, len, &s) != 0)
            return 1;
        if (prev != NULL && strcmp(prev, s.name) >= 0)
            return fuzz_fail("model: sections not in name order");
        prev = s.name;
    }
    kga_model_section_t s;
    if (kga_model_find(m, "", &s) != KGA_ENOENT ||
        kga_model_tensor(m, "~absent", NULL, NULL) != NULL)
        return fuzz_fail("model: a missing section was found");
    fuzz_sink = kga_model_checksum(m) + fuzz_touch_str(kga_model_path(m));
    return fuzz_model_settings(m);
}

/* The repaired copy of an input that starts with the magic (see the top),
 * in *out (malloc'd) of *out_len bytes; 0 when the input is too short. */
static int fuzz_model_repair(const uint8_t *data, size_t size, uint8_t **out,
                             size_t *out_len)
{
    if (size < KGA_MODEL_HEADER_SIZE ||
        memcmp(data, KGA_MODEL_MAGIC, 8) != 0)
        return 0;
    uint32_t nsec;
    memcpy(&nsec, data + FUZZ_MODEL_SECTION_COUNT, 4);
    uint64_t table = (uint64_t)nsec * KGA_MODEL_ENTRY_SIZE;
    size_t drop = size % KGA_MODEL_ALIGN;
    if (nsec > KGA_MODEL_MAX_SECTIONS ||
        table + drop + KGA_MODEL_HEADER_SIZE > size)
        return 0;
    size_t len = size - drop, table_offset = len - (size_t)table;
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, table_offset);
    memcpy(buf + table_offset, data + size - table, (size_t)table);
    uint64_t v = len;
    memcpy(buf + FUZZ_MODEL_FILE_SIZE, &v, 8);
    v = table_offset;
    memcpy(buf + FUZZ_MODEL_TABLE_OFFSET, &v, 8);
    v = kga_hash64(buf + KGA_MODEL_HEADER_SIZE, len - KGA_MODEL_HEADER_SIZE);
    memcpy(buf + FUZZ_MODEL_CHECKSUM, &v, 8);
    *out = buf;
    *out_len = len;
    return 1;
}

static int fuzz_model_one(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_copy(data, size);
    if (buf == NULL)
        return 0;
    kga_err_t err;
    int rc = kga_model_validate(buf, size, &err);
    int bad = fuzz_check_rc("model validate", rc, &err, fuzz_model_codes);
    free(buf);
    size_t len;
    if (bad || !fuzz_model_repair(data, size, &buf, &len))
        return bad;

    int vrc = kga_model_validate(buf, len, &err);
    bad = fuzz_check_rc("model validate (repaired)", vrc, &err,
                        fuzz_model_codes);
    kga_model_t *m = NULL;
    rc = kga_model_open_buffer(buf, len, &m, &err);
    bad |= fuzz_check_rc("model open", rc, &err, fuzz_model_codes);
    if (!bad && (rc == 0) != (m != NULL))
        bad = fuzz_fail("model open: returned %d with model %p", rc,
                        (void *)m);
    if (!bad && rc != vrc)
        bad = fuzz_fail("model: validate says %d, open says %d", vrc, rc);
    if (!bad && m != NULL)
        bad = fuzz_model_walk(m, buf, len);
    kga_model_close(m);
    free(buf);
    return bad;
}

KGA_FUZZ_ENTRY(fuzz_model_one)
