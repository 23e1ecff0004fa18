/* Encoding of response bodies. The /align path writes ~100k results a
 * second, so this is a hand-written appender rather than a jansson tree:
 * strings are copied in runs of safe bytes, escaped where JSON requires it,
 * and repaired where they are not UTF-8; floats print as "%.9g" would,
 * which round-trips any float, by kga_wire_format_float() (snprintf was a
 * tenth of a batch's cost). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

typedef struct {
    char *p;
    size_t len, cap;
    int oom; /* sticky: once set, appends are no-ops */
} buf_t;

static void buf_init(buf_t *b, size_t hint)
{
    b->len = 0;
    b->cap = hint < 64 ? 64 : hint;
    b->p = malloc(b->cap);
    b->oom = b->p == NULL;
}

/* Makes room for n more bytes. Returns 0 or -1 (and sets oom). */
static int buf_reserve(buf_t *b, size_t n)
{
    if (b->oom)
        return -1;
    /* One byte more than asked, for buf_finish's NUL. */
    if (n >= SIZE_MAX - b->len) {
        b->oom = 1;
        return -1;
    }
    n++;
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void buf_put(buf_t *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#define buf_lit(b, s) buf_put((b), (s), sizeof(s) - 1)

static void buf_char(buf_t *b, char ch)
{
    if (buf_reserve(b, 1) != 0)
        return;
    b->p[b->len++] = ch;
}

/* Hands the buffer over as the result, or frees it on out of memory. */
static int buf_finish(buf_t *b, char **out, size_t *out_len)
{
    if (b->oom) {
        free(b->p);
        *out = NULL;
        *out_len = 0;
        return KGA_ENOMEM;
    }
    b->p[b->len] = '\0'; /* buf_reserve keeps one byte spare */
    *out = b->p;
    *out_len = b->len;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (Unicode table 3-7: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0 when it is not
 * well formed; then *bad is the length of its maximal subpart, the bytes one
 * U+FFFD replaces. */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    size_t i = 1;
    for (; i < need; i++) {
        if (i >= n)
            break;
        unsigned char first = i == 1 ? lo : 0x80, last = i == 1 ? hi : 0xBF;
        if (s[i] < first || s[i] > last)
            break;
    }
    if (i == need)
        return need;
    *bad = i;
    return 0;
}

/* Appends s as a JSON string, quotes included. */
static void buf_str(buf_t *b, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)(str != NULL ? str : "");
    size_t n = strlen((const char *)s);
    /* The common case, no escapes, in one reservation. */
    if (buf_reserve(b, n + 2) != 0)
        return;
    buf_char(b, '"');
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t bad;
            size_t len = utf8_sequence(s + i, n - i, &bad);
            if (len != 0) {
                i += len;
                continue;
            }
            buf_put(b, (const char *)s + run, i - run);
            buf_lit(b, "\xEF\xBF\xBD");
            i += bad;
            run = i;
            continue;
        }
        buf_put(b, (const char *)s + run, i - run);
        switch (c) {
        case '"':
            buf_lit(b, "\\\"");
            break;
        case '\\':
            buf_lit(b, "\\\\");
            break;
        case '\n':
            buf_lit(b, "\\n");
            break;
        case '\r':
            buf_lit(b, "\\r");
            break;
        case '\t':
            buf_lit(b, "\\t");
            break;
        case '\b':
            buf_lit(b, "\\b");
            break;
        case '\f':
            buf_lit(b, "\\f");
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_put(b, esc, sizeof esc);
            break;
        }
        }
        i++;
        run = i;
    }
    buf_put(b, (const char *)s + run, n - run);
    buf_char(b, '"');
}

/* d * 10^k rounded to the nearest integer, ties to even, exactly: the
 * product's rounding error comes back from an fma, and 10^k (k <= 22) is
 * exact in a double. */
static uint64_t scale_round(double d, int k)
{
    static const double pow10[23] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    double hi = d * pow10[k], lo = fma(d, pow10[k], -hi);
    double fl = floor(hi);
    /* hi < 2^31: hi - fl and the half are exact; the sign of the sum with
     * lo is right even where the sum rounds. */
    double t = (hi - fl - 0.5) + lo;
    uint64_t n = (uint64_t)fl;
    return n + (t > 0.0 || (t == 0.0 && (n & 1u)));
}

int kga_wire_format_float(char *out, float f)
{
    double d = f;
    if (!isfinite(d) || d == 0.0 || fabs(d) >= 1e9 || fabs(d) < 1e-14)
        return snprintf(out, 32, "%.9g", d);
    char *p = out;
    if (d < 0.0) {
        *p++ = '-';
        d = -d;
    }
    /* Nine significant digits n = round(d * 10^(8 - e)), e the decimal
     * exponent of the rounded value (log10 may be one off either way). */
    int e = (int)floor(log10(d));
    uint64_t n = 0;
    int tries = 0;
    for (;; tries++) {
        if (tries == 3 || 8 - e < 0 || 8 - e > 22)
            return snprintf(out, 32, "%.9g", f);
        n = scale_round(d, 8 - e);
        if (n >= 1000000000u)
            e++;
        else if (n < 100000000u)
            e--;
        else
            break;
    }
    char dig[9];
    for (int i = 8; i >= 0; i--, n /= 10)
        dig[i] = (char)('0' + n % 10);
    int nd = 9; /* %g drops trailing zeros */
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    if (e >= -4 && e < 9) {
        if (e < 0) {
            *p++ = '0';
            *p++ = '.';
            for (int z = -1; z > e; z--)
                *p++ = '0';
            memcpy(p, dig, (size_t)nd);
            p += nd;
        } else {
            memcpy(p, dig, (size_t)e + 1);
            p += e + 1;
            if (nd > e + 1) {
                *p++ = '.';
                memcpy(p, dig + e + 1, (size_t)(nd - e - 1));
                p += nd - e - 1;
            }
        }
    } else {
        *p++ = dig[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, dig + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        *p++ = 'e';
        *p++ = e < 0 ? '-' : '+';
        int ae = e < 0 ? -e : e;
        *p++ = (char)('0' + ae / 10);
        *p++ = (char)('0' + ae % 10);
    }
    *p = '\0';
    return (int)(p - out);
}

static void buf_float(buf_t *b, float f)
{
    if (!isfinite(f)) {
        buf_lit(b, "null");
        return;
    }
    char tmp[32];
    int n = kga_wire_format_float(tmp, f);
    buf_put(b, tmp, (size_t)n);
}

static void buf_bool(buf_t *b, int v)
{
    if (v)
        buf_lit(b, "true");
    else
        buf_lit(b, "false");
}

/* "request_id":..,"model_version":.. (the latter only when known). */
static void put_meta(buf_t *b, const kga_wire_meta_t *meta)
{
    buf_lit(b, "\"request_id\":");
    buf_str(b, meta != NULL ? meta->request_id : "");
    if (meta != NULL && meta->model_version != NULL) {
        buf_lit(b, ",\"model_version\":");
        buf_str(b, meta->model_version);
    }
}

static void put_score(buf_t *b, const kga_pair_score_t *s)
{
    buf_lit(b, "\"distance\":");
    buf_float(b, s->distance);
    buf_lit(b, ",\"probability\":");
    buf_float(b, s->probability);
    buf_lit(b, ",\"match\":");
    buf_bool(b, s->match);
}

static const char *dir_name(kga_dir_t d)
{
    return d == KGA_DIR_IN ? "in" : "out";
}

static void put_evidence(buf_t *b, const kga_wire_evidence_t *e)
{
    buf_lit(b, "{\"left_neighbour\":");
    buf_str(b, e->left_neighbour);
    buf_lit(b, ",\"right_neighbour\":");
    buf_str(b, e->right_neighbour);
    buf_lit(b, ",\"left_relation\":");
    buf_str(b, e->left_relation);
    buf_lit(b, ",\"right_relation\":");
    buf_str(b, e->right_relation);
    buf_lit(b, ",\"left_direction\":");
    buf_str(b, dir_name(e->left_dir));
    buf_lit(b, ",\"right_direction\":");
    buf_str(b, dir_name(e->right_dir));
    buf_lit(b, ",\"weight\":");
    buf_float(b, e->weight);
    buf_char(b, '}');
}

static void put_error(buf_t *b, const char *code, const char *message)
{
    buf_lit(b, "{\"code\":");
    buf_str(b, code);
    buf_lit(b, ",\"message\":");
    buf_str(b, message);
    buf_char(b, '}');
}

static void put_result(buf_t *b, const kga_align_result_t *r, int explain)
{
    buf_lit(b, "{\"left\":");
    buf_str(b, r->left);
    buf_lit(b, ",\"right\":");
    buf_str(b, r->right);
    if (r->unknown != 0) {
        char msg[KGA_WIRE_MSG_MAX];
        kga_wire_unknown_id_message(msg, sizeof msg, r->unknown, r->left,
                                    r->right);
        buf_lit(b, ",\"error\":");
        put_error(b, kga_wire_code_name(KGA_WIRE_UNKNOWN_ID), msg);
        buf_char(b, '}');
        return;
    }
    buf_char(b, ',');
    put_score(b, &r->score);
    if (explain) {
        buf_lit(b, ",\"explanation\":[");
        for (size_t j = 0; j < r->n_evidence; j++) {
            if (j > 0)
                buf_char(b, ',');
            put_evidence(b, &r->evidence[j]);
        }
        buf_char(b, ']');
    }
    buf_char(b, '}');
}

int kga_align_response_format(const kga_wire_meta_t *meta,
                              const kga_align_result_t *results, size_t n,
                              int explain, char **out, size_t *out_len)
{
    buf_t b;
    /* A scored result with short ids is ~120 bytes; growth handles more. */
    buf_init(&b, 128 + (n < 65536 ? n : 65536) * 160);
    buf_char(&b, '{');
    put_meta(&b, meta);
    buf_lit(&b, ",\"results\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_char(&b, ',');
        put_result(&b, &results[i], explain);
    }
    buf_lit(&b, "]}");
    return buf_finish(&b, out, out_len);
}

int kga_match_response_format(const kga_wire_meta_t *meta, kga_side_t side,
                              const char *query_id,
                              const kga_match_candidate_t *candidates,
                              size_t n, char **out, size_t *out_len)
{
    buf_t b;
    buf_init(&b, 192 + (n < 65536 ? n : 65536) * 120);
    buf_char(&b, '{');
    put_meta(&b, meta);
    buf_lit(&b, ",\"query\":{\"side\":");
    buf_str(&b, side == KGA_SIDE_RIGHT ? "right" : "left");
    buf_lit(&b, ",\"id\":");
    buf_str(&b, query_id);
    buf_lit(&b, "},\"candidates\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_char(&b, ',');
        buf_lit(&b, "{\"id\":");
        buf_str(&b, candidates[i].id);
        buf_char(&b, ',');
        put_score(&b, &candidates[i].score);
        buf_char(&b, '}');
    }
    buf_lit(&b, "]}");
    return buf_finish(&b, out, out_len);
}

int kga_error_response_format(const kga_wire_meta_t *meta, const char *code,
                              const char *message, char **out,
                              size_t *out_len)
{
    buf_t b;
    buf_init(&b, 256);
    buf_lit(&b, "{\"error\":");
    put_error(&b, code, message);
    buf_char(&b, ',');
    put_meta(&b, meta);
    buf_char(&b, '}');
    return buf_finish(&b, out, out_len);
}

int kga_wire_error_format(const kga_wire_meta_t *meta,
                          const kga_wire_error_t *e, char **out,
                          size_t *out_len)
{
    const char *code = e->code != NULL ? e->code : "internal";
    return kga_error_response_format(meta, code, e->message, out, out_len);
}

int kga_status_response_format(const kga_wire_meta_t *meta,
                               const char *status, char **out,
                               size_t *out_len)
{
    buf_t b;
    buf_init(&b, 128);
    buf_lit(&b, "{\"status\":");
    buf_str(&b, status);
    buf_char(&b, ',');
    put_meta(&b, meta);
    buf_char(&b, '}');
    return buf_finish(&b, out, out_len);
}
