/* The JSON appender shared by the encoders of proto/ (see json_buf.h):
 * growth, string escaping and the hand-over. Apart from wire_encode.c
 * because `kgalign eval --json` (eval_json.c) writes its JSON with it too. */
#include "json_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/grow.h"
#include "base/utf8.h"

void kga_json_buf_init(kga_json_buf_t *b, size_t hint)
{
    b->len = 0;
    b->cap = hint < 64 ? 64 : hint;
    b->p = malloc(b->cap);
    b->oom = b->p == NULL;
}

int kga_json_buf_grow(kga_json_buf_t *b, size_t n)
{
    if (b->oom)
        return -1;
    /* One byte more than asked, for kga_json_buf_finish's NUL. */
    if (n >= SIZE_MAX - b->len) {
        b->oom = 1;
        return -1;
    }
    n++;
    if (kga_grow(&b->p, &b->cap, b->len + n, 64, 1) != 0) {
        b->oom = 1;
        return -1;
    }
    return 0;
}

/* The short escape of control byte c, or NULL where JSON has none. */
static const char *short_escape(unsigned char c)
{
    switch (c) {
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    default:
        return NULL;
    }
}

void kga_json_string_part(kga_json_buf_t *b, const char *str,
                          kga_json_escape_t escape)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)(str != NULL ? str : "");
    size_t n = strlen((const char *)s);
    /* The common case, no escapes, in one reservation (and the quote that
     * usually follows). */
    if (kga_json_reserve(b, n + 1) != 0)
        return;
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
            size_t len = kga_utf8_decode(s + i, n - i, NULL, &bad);
            if (len != 0) {
                i += len;
                continue;
            }
            kga_json_put(b, (const char *)s + run, i - run);
            if (escape == KGA_JSON_ESCAPE_SHORT) {
                KGA_JSON_LIT(b, "\xEF\xBF\xBD");
                i += bad;
            } else {
                KGA_JSON_LIT(b, "\\ufffd");
                i++;
            }
            run = i;
            continue;
        }
        kga_json_put(b, (const char *)s + run, i - run);
        const char *esc = escape == KGA_JSON_ESCAPE_SHORT ? short_escape(c)
                                                          : NULL;
        if (c == '"')
            KGA_JSON_LIT(b, "\\\"");
        else if (c == '\\')
            KGA_JSON_LIT(b, "\\\\");
        else if (esc != NULL)
            kga_json_put(b, esc, 2);
        else {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            kga_json_put(b, u, sizeof u);
        }
        i++;
        run = i;
    }
    kga_json_put(b, (const char *)s + run, n - run);
}

void kga_json_string(kga_json_buf_t *b, const char *str,
                     kga_json_escape_t escape)
{
    kga_json_char(b, '"');
    kga_json_string_part(b, str, escape);
    kga_json_char(b, '"');
}

void kga_json_printf(kga_json_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1; /* a format error: no text to append */
        return;
    }
    if (kga_json_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap); /* the spare byte */
    va_end(ap);
    b->len += (size_t)n;
}

int kga_json_buf_finish(kga_json_buf_t *b, char **out, size_t *out_len)
{
    if (b->oom) {
        free(b->p);
        *out = NULL;
        *out_len = 0;
        return KGA_ENOMEM;
    }
    b->p[b->len] = '\0'; /* kga_json_reserve keeps one byte spare */
    *out = b->p;
    *out_len = b->len;
    return 0;
}
