/* Settings of a model file (key=value lines in KV sections): the builder
 * that collects them for a writer, and the lookups by key, typed, over an
 * open model. Apart from model_write.c and model_file.c because settings
 * are one concept on both sides: the same keys and value syntax. */
#include "model/model_format.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "base/grow.h"
#include "base/utf8.h"
#include "base/xalloc.h"

/* ------------------------------------------------------------------------
 * Settings builder
 * ------------------------------------------------------------------------ */

kga_model_kv_t *kga_model_kv_new(void)
{
    return kga_xcalloc(1, sizeof(kga_model_kv_t));
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
    if (key == NULL || value == NULL)
        return KGA_EINVAL;
    size_t klen = strlen(key), vlen = strlen(value);
    if (!kga_model_key_valid(key, klen) ||
        !kga_utf8_valid(value, vlen, NULL) || strpbrk(value, "\r\n") != NULL)
        return KGA_EINVAL;
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->pairs[i].key, key) == 0)
            return KGA_EDUPLICATE;
    /* "key=value\n", and the section's final NUL: no more than a file may
     * hold, which also bounds what is allocated here. */
    size_t line = klen + vlen + 2;
    if (line > KGA_MODEL_MAX_KV_BYTES - 1 - kv->bytes)
        return KGA_ELIMIT;
    int rc = kga_grow(&kv->pairs, &kv->cap, kv->n + 1, 16, sizeof *kv->pairs);
    if (rc != 0)
        return rc;
    char *k = strdup(key), *v = strdup(value);
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return KGA_ENOMEM;
    }
    kv->pairs[kv->n++] = (kga_model_kv_pair_t){k, v};
    kv->bytes += line;
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

/* ------------------------------------------------------------------------
 * Lookups in an open model
 * ------------------------------------------------------------------------ */

static const kga_model_kv_entry_t *kv_find(const kga_model_t *m,
                                           const char *key)
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
    const kga_model_kv_entry_t *e = kv_find(m, key);
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
