#ifndef KGA_JSON_BUF_H
#define KGA_JSON_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The JSON appender of proto/ (internal to it): a growing byte buffer with
 * a sticky out-of-memory flag, so that an encoder appends a whole document
 * without checking each step and learns the outcome once, from
 * kga_json_buf_finish(). Every JSON text kgalign writes (the service's
 * responses in wire_encode.c, `kgalign eval --json` in eval_json.c) is
 * built here. The short appenders are inline: the /align path appends
 * millions of pieces a second.
 *
 * Ownership: the buffer owns its bytes until kga_json_buf_finish() hands
 * them to the caller (who frees them with free()) or frees them. */

typedef struct {
    char *p;
    size_t len, cap;
    int oom; /* sticky: once set, appends are no-ops */
} kga_json_buf_t;

/* How a string's awkward bytes are written. */
typedef enum {
    /* The service's: \" \\ \n \r \t \b \f where JSON has a short escape,
     * other control bytes as \u00XX, and each maximal subpart of an
     * ill-formed UTF-8 sequence as one U+FFFD (its UTF-8 bytes). */
    KGA_JSON_ESCAPE_SHORT,
    /* `kgalign eval --json`'s, unchanged since its first version: \" and
     * \\, every control byte as \u00XX, and every byte of an ill-formed
     * sequence as the six characters \ufffd. */
    KGA_JSON_ESCAPE_NUMERIC
} kga_json_escape_t;

/* Starts an empty buffer of about hint bytes. An allocation failure only
 * sets the flag (kga_json_buf_finish then reports it). */
void kga_json_buf_init(kga_json_buf_t *b, size_t hint);

/* The slow path of kga_json_reserve(): grows the buffer. 0 or -1 (and the
 * flag set). */
int kga_json_buf_grow(kga_json_buf_t *b, size_t n);

/* Makes room for n more bytes (and the NUL kga_json_buf_finish adds).
 * Returns 0, or -1 once out of memory. */
static inline int kga_json_reserve(kga_json_buf_t *b, size_t n)
{
    if (!b->oom && n < b->cap - b->len)
        return 0;
    return kga_json_buf_grow(b, n);
}

static inline void kga_json_put(kga_json_buf_t *b, const char *s, size_t n)
{
    if (kga_json_reserve(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* A string literal. */
#define KGA_JSON_LIT(b, s) kga_json_put((b), (s), sizeof(s) - 1)

static inline void kga_json_char(kga_json_buf_t *b, char ch)
{
    if (kga_json_reserve(b, 1) != 0)
        return;
    b->p[b->len++] = ch;
}

/* Appends str (NULL is taken as "") as a JSON string, quotes included, with
 * the given escapes. Any bytes are accepted: the result is always valid
 * JSON. */
void kga_json_string(kga_json_buf_t *b, const char *str,
                     kga_json_escape_t escape);

/* The same without the quotes: a piece of a string whose quotes the caller
 * writes, so that a string is composed from several without a copy. Each
 * piece must be whole UTF-8 on its own. */
void kga_json_string_part(kga_json_buf_t *b, const char *str,
                          kga_json_escape_t escape);

/* Appends what printf would print (a number in a given format). */
void kga_json_printf(kga_json_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Hands the text over: *out (NUL-terminated, *out_len bytes before the NUL)
 * becomes the caller's to free(). On out of memory frees it instead, sets
 * *out to NULL and returns KGA_ENOMEM. */
int kga_json_buf_finish(kga_json_buf_t *b, char **out, size_t *out_len);

#endif
