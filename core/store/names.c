/* Display names from URIs and label literals, and which keys are labels or
 * types (see names.h). Pure string functions, tested on their own, kept
 * apart from the file handling of the importers. They sit beside the store
 * because they define what its names and types mean: the importers, `kgalign
 * add` and the entities a request describes inline (align/inline_entity.c)
 * all apply them. */
#include "store/names.h"

#include <string.h>

#include "base/hex.h"
#include "base/utf8.h"

#define RDF_TYPE_URI "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

/* Strips a surrounding "<...>" from [*s, *s + *len). */
static void strip_angles(const char **s, size_t *len)
{
    if (*len >= 2 && (*s)[0] == '<' && (*s)[*len - 1] == '>') {
        (*s)++;
        *len -= 2;
    }
}

const char *kga_names_key_local(const char *key, size_t *len)
{
    const char *s = key;
    size_t n = strlen(key);
    strip_angles(&s, &n);
    size_t start = 0;
    int has_sep = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == '#') {
            start = i + 1;
            has_sep = 1;
        }
    if (!has_sep) {
        const char *colon = memchr(s, ':', n);
        if (colon != NULL)
            start = (size_t)(colon - s) + 1;
    }
    *len = n - start;
    return s + start;
}

static int local_is(const char *local, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(local, word, len) == 0;
}

int kga_names_label_rank(const char *key)
{
    size_t len;
    const char *local = kga_names_key_local(key, &len);
    if (local_is(local, len, "label"))
        return KGA_LABEL_RDFS;
    if (local_is(local, len, "prefLabel"))
        return KGA_LABEL_PREF;
    if (local_is(local, len, "name"))
        return KGA_LABEL_NAME;
    return KGA_LABEL_NONE;
}

int kga_names_key_is(const char *key, const char *predicate)
{
    const char *k = key, *p = predicate;
    size_t kn = strlen(key), pn = strlen(predicate);
    strip_angles(&k, &kn);
    strip_angles(&p, &pn);
    if (kn == pn && memcmp(k, p, kn) == 0)
        return 1;
    if (pn == 0 || memchr(p, '/', pn) || memchr(p, '#', pn) ||
        memchr(p, ':', pn))
        return 0;
    size_t len;
    const char *local = kga_names_key_local(key, &len);
    return len == pn && memcmp(local, p, pn) == 0;
}

/* 1 when the len bytes at s contain word, ASCII case ignored. */
static int contains_word(const char *s, size_t len, const char *word)
{
    size_t wn = strlen(word);
    for (size_t i = 0; i + wn <= len; i++) {
        size_t j = 0;
        while (j < wn) {
            char c = s[i + j];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c + 32);
            if (c != word[j])
                break;
            j++;
        }
        if (j == wn)
            return 1;
    }
    return 0;
}

int kga_names_key_looks_like_name(const char *key)
{
    size_t len;
    const char *local = kga_names_key_local(key, &len);
    return contains_word(local, len, "name") ||
           contains_word(local, len, "title") ||
           contains_word(local, len, "label");
}

int kga_names_label_better(int rank, const char *text, int cur_rank,
                           const char *cur_text)
{
    if (rank == KGA_LABEL_NONE || text[0] == '\0')
        return 0;
    if (cur_rank == KGA_LABEL_NONE)
        return 1;
    return rank < cur_rank || (rank == cur_rank && strcmp(text, cur_text) < 0);
}

int kga_names_is_type_key(const char *key)
{
    const char *s = key;
    size_t n = strlen(key);
    strip_angles(&s, &n);
    return local_is(s, n, RDF_TYPE_URI) || local_is(s, n, "rdf:type") ||
           local_is(s, n, "type");
}

static int is_escape(const char *s, size_t n)
{
    return n >= 3 && s[0] == '%' && kga_hex_digit_value(s[1]) >= 0 &&
           kga_hex_digit_value(s[2]) >= 0;
}

/* Decodes the run of %XX escapes at s (n bytes available) into out, keeping
 * an escape as written where its byte does not start a valid UTF-8 sequence
 * (or decodes to a control character). Returns the source bytes consumed;
 * *written gets the output length. */
static size_t decode_escapes(const char *s, size_t n, char *out,
                             size_t *written)
{
    unsigned char bytes[64];
    size_t count = 0;
    while (count < sizeof bytes && is_escape(s + 3 * count, n - 3 * count)) {
        const char *e = s + 3 * count;
        bytes[count++] = (unsigned char)(kga_hex_digit_value(e[1]) << 4 |
                                         kga_hex_digit_value(e[2]));
    }
    size_t w = 0;
    for (size_t i = 0; i < count;) {
        size_t len = kga_utf8_decode(bytes + i, count - i, NULL, NULL);
        if (len == 1 && (bytes[i] < 0x20 || bytes[i] == 0x7F))
            len = 0;
        if (len == 0) {
            memcpy(out + w, s + 3 * i, 3);
            w += 3;
            i++;
        } else {
            memcpy(out + w, bytes + i, len);
            w += len;
            i += len;
        }
    }
    *written = w;
    return 3 * count;
}

size_t kga_names_from_uri(const char *uri, char *out)
{
    const char *s = uri;
    size_t n = strlen(uri);
    strip_angles(&s, &n);
    while (n > 0 && (s[n - 1] == '/' || s[n - 1] == '#'))
        n--;
    size_t start = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == '#')
            start = i + 1;
    if (start == n) { /* nothing but separators: keep the id as it is */
        s = uri;
        start = 0;
        n = strlen(uri);
    }
    size_t w = 0;
    for (size_t i = start; i < n;) {
        if (is_escape(s + i, n - i)) {
            size_t written;
            i += decode_escapes(s + i, n - i, out + w, &written);
            w += written;
        } else {
            out[w++] = s[i] == '_' ? ' ' : s[i];
            i++;
        }
    }
    out[w] = '\0';
    return w;
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* 1 when the n bytes at s are a language tag: a primary subtag of
 * min_primary to 8 letters, then '-'-separated parts of 1 to 8 letters or
 * digits. */
static int is_lang_tag(const char *s, size_t n, size_t min_primary,
                       size_t max_primary)
{
    size_t i = 0;
    while (i < n && is_alpha(s[i]))
        i++;
    if (i < min_primary || i > max_primary)
        return 0;
    while (i < n) {
        if (s[i] != '-')
            return 0;
        size_t part = ++i;
        while (i < n && is_alnum(s[i]))
            i++;
        if (i == part || i - part > 8)
            return 0;
    }
    return 1;
}

static size_t copy_out(const char *s, size_t n, char *out)
{
    memcpy(out, s, n);
    out[n] = '\0';
    return n;
}

size_t kga_names_clean_literal(const char *lit, size_t len, char *out)
{
    if (len >= 2 && lit[0] == '"') {
        /* "text", "text"@lang or "text"^^datatype. */
        const char *close = NULL;
        for (size_t i = len; i > 1; i--)
            if (lit[i - 1] == '"') {
                close = lit + i - 1;
                break;
            }
        if (close != NULL) {
            const char *suffix = close + 1;
            size_t rest = len - (size_t)(suffix - lit);
            if (rest == 0 || (rest > 2 && suffix[0] == '^' && suffix[1] == '^') ||
                (rest > 1 && suffix[0] == '@' &&
                 is_lang_tag(suffix + 1, rest - 1, 1, 8)))
                return copy_out(lit + 1, (size_t)(close - lit) - 1, out);
        }
        return copy_out(lit, len, out);
    }
    /* Unquoted: text^^datatype (no space in the datatype) or text@lang
     * with a two- or three-letter language, so that "a@example" stays. */
    for (size_t i = len; i >= 2; i--) {
        if (lit[i - 1] == ' ')
            break;
        if (lit[i - 1] == '^' && lit[i - 2] == '^' && i < len)
            return copy_out(lit, i - 2, out);
    }
    const char *at = NULL;
    for (size_t i = len; i > 0; i--)
        if (lit[i - 1] == '@') {
            at = lit + i - 1;
            break;
        }
    if (at != NULL && at > lit) {
        size_t rest = len - (size_t)(at - lit) - 1;
        if (is_lang_tag(at + 1, rest, 2, 3))
            return copy_out(lit, (size_t)(at - lit), out);
    }
    return copy_out(lit, len, out);
}
