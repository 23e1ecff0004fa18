/* An N-Triples line parser (ntriples.h): a hand-written scanner over the
 * W3C grammar, decoding escapes as it copies each term to the caller's
 * buffer. Apart from the importer so that it can be tested and fuzzed on
 * its own, line by line. */
#include "import/ntriples.h"

#include <stdint.h>
#include <string.h>

#include "base/hex.h"
#include "base/utf8.h"

typedef struct {
    const char *s;
    size_t len, pos;
    char *out;
    size_t w;
    kga_nt_error_t *e;
} scan_t;

static int fail(scan_t *sc, size_t at, const char *what)
{
    sc->e->what = what;
    sc->e->column = at + 1;
    return -1;
}

static int at_end(const scan_t *sc)
{
    return sc->pos >= sc->len;
}

static char peek(const scan_t *sc)
{
    return sc->pos < sc->len ? sc->s[sc->pos] : '\0';
}

static void skip_space(scan_t *sc)
{
    while (!at_end(sc) && (peek(sc) == ' ' || peek(sc) == '\t'))
        sc->pos++;
}

/* \uXXXX or \UXXXXXXXX at sc->pos (the backslash). */
static int uchar(scan_t *sc)
{
    size_t at = sc->pos;
    size_t digits = sc->s[at + 1] == 'u' ? 4 : 8;
    if (sc->len - at < 2 + digits)
        return fail(sc, at, "\\u needs 4 and \\U 8 hexadecimal digits");
    uint32_t cp = 0;
    for (size_t i = 0; i < digits; i++) {
        int h = kga_hex_digit_value(sc->s[at + 2 + i]);
        if (h < 0)
            return fail(sc, at, "\\u needs 4 and \\U 8 hexadecimal digits");
        cp = cp << 4 | (uint32_t)h;
    }
    if (cp == 0)
        return fail(sc, at, "an escape decodes to the NUL character");
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return fail(sc, at, "an escape decodes to no character (a surrogate "
                            "or beyond U+10FFFF)");
    sc->w += kga_utf8_encode(cp, sc->out + sc->w);
    sc->pos = at + 2 + digits;
    return 0;
}

/* <IRI> at sc->pos; the IRI goes to out. */
static int iri(scan_t *sc, const char **text)
{
    size_t open = sc->pos++;
    *text = sc->out + sc->w;
    size_t start = sc->w;
    for (;;) {
        if (at_end(sc))
            return fail(sc, open, "an IRI is not closed with '>'");
        char c = peek(sc);
        if (c == '>')
            break;
        if (c == '\\') {
            char k = sc->pos + 1 < sc->len ? sc->s[sc->pos + 1] : '\0';
            if (k != 'u' && k != 'U')
                return fail(sc, sc->pos, "in an IRI only \\u and \\U "
                                         "escapes are allowed");
            if (uchar(sc) != 0)
                return -1;
            continue;
        }
        if ((unsigned char)c <= 0x20 || strchr("<\"{}|^`", c) != NULL)
            return fail(sc, sc->pos, "a character not allowed in an IRI "
                                     "(space, control, <, \", {, }, |, ^ "
                                     "or `)");
        sc->out[sc->w++] = c;
        sc->pos++;
    }
    sc->pos++; /* '>' */
    if (sc->w == start)
        return fail(sc, open, "an empty IRI <>");
    sc->out[sc->w++] = '\0';
    return 0;
}

/* _:label at sc->pos, kept as written. */
static int blank(scan_t *sc, const char **text)
{
    size_t open = sc->pos;
    if (sc->len - open < 3 || sc->s[open + 1] != ':')
        return fail(sc, open, "a blank node is written _:label");
    *text = sc->out + sc->w;
    size_t end = open + 2;
    while (end < sc->len) {
        unsigned char c = (unsigned char)sc->s[end];
        if (c == ' ' || c == '\t' || c == '<' || c == '"' || c == '#')
            break;
        if (c < 0x20 || c == '>')
            return fail(sc, end, "a character not allowed in a blank node "
                                 "label");
        end++;
    }
    /* A label cannot end with '.': that is the end of the triple. */
    while (end > open + 2 && sc->s[end - 1] == '.')
        end--;
    if (end == open + 2)
        return fail(sc, open, "a blank node needs a label after _:");
    memcpy(sc->out + sc->w, sc->s + open, end - open);
    sc->w += end - open;
    sc->out[sc->w++] = '\0';
    sc->pos = end;
    return 0;
}

/* "literal" with an optional @lang or ^^<datatype>. */
static int literal(scan_t *sc, kga_nt_triple_t *t)
{
    size_t open = sc->pos++;
    t->object = sc->out + sc->w;
    for (;;) {
        if (at_end(sc))
            return fail(sc, open, "a literal is not closed with '\"'");
        char c = peek(sc);
        if (c == '"')
            break;
        if (c == '\\') {
            char k = sc->pos + 1 < sc->len ? sc->s[sc->pos + 1] : '\0';
            static const char from[] = "tbnrf\"'\\";
            static const char to[] = "\t\b\n\r\f\"'\\";
            const char *m = k != '\0' ? strchr(from, k) : NULL;
            if (k == 'u' || k == 'U') {
                if (uchar(sc) != 0)
                    return -1;
                continue;
            }
            if (m == NULL)
                return fail(sc, sc->pos, "an unknown escape in a literal "
                                         "(\\t \\b \\n \\r \\f \\\" \\' "
                                         "\\\\ \\u \\U are known)");
            sc->out[sc->w++] = to[m - from];
            sc->pos += 2;
            continue;
        }
        sc->out[sc->w++] = c;
        sc->pos++;
    }
    sc->pos++;
    sc->out[sc->w++] = '\0';
    t->object_kind = KGA_NT_LITERAL;
    if (peek(sc) == '@') {
        size_t at = sc->pos++;
        t->lang = sc->out + sc->w;
        while (!at_end(sc)) {
            char c = peek(sc);
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '-'))
                break;
            sc->out[sc->w++] = c;
            sc->pos++;
        }
        if (t->lang == sc->out + sc->w)
            return fail(sc, at, "an empty language tag after '@'");
        sc->out[sc->w++] = '\0';
    } else if (peek(sc) == '^') {
        if (sc->len - sc->pos < 3 || sc->s[sc->pos + 1] != '^' ||
            sc->s[sc->pos + 2] != '<')
            return fail(sc, sc->pos, "a datatype is written ^^<IRI>");
        sc->pos += 2;
        return iri(sc, &t->datatype);
    }
    return 0;
}

static int end_of_statement(scan_t *sc)
{
    skip_space(sc);
    if (peek(sc) != '.')
        return fail(sc, sc->pos, at_end(sc) ? "the triple does not end with "
                                              "'.'"
                                            : "expected '.' after the "
                                              "object");
    sc->pos++;
    skip_space(sc);
    if (!at_end(sc) && peek(sc) != '#')
        return fail(sc, sc->pos, "text after the final '.'");
    return 0;
}

int kga_nt_parse(const char *line, size_t len, char *out, kga_nt_triple_t *t,
                 kga_nt_error_t *e)
{
    scan_t sc = {line, len, 0, out, 0, e};
    memset(t, 0, sizeof *t);
    skip_space(&sc);
    if (at_end(&sc) || peek(&sc) == '#')
        return 0;
    if (peek(&sc) == '<') {
        t->subject_kind = KGA_NT_IRI;
        if (iri(&sc, &t->subject) != 0)
            return -1;
    } else if (peek(&sc) == '_') {
        t->subject_kind = KGA_NT_BLANK;
        if (blank(&sc, &t->subject) != 0)
            return -1;
    } else {
        return fail(&sc, sc.pos, "a subject is an <IRI> or a _:blank node");
    }
    skip_space(&sc);
    if (peek(&sc) != '<')
        return fail(&sc, sc.pos, "a predicate is an <IRI>");
    if (iri(&sc, &t->predicate) != 0)
        return -1;
    skip_space(&sc);
    char c = peek(&sc);
    int rc;
    if (c == '<') {
        t->object_kind = KGA_NT_IRI;
        rc = iri(&sc, &t->object);
    } else if (c == '_') {
        t->object_kind = KGA_NT_BLANK;
        rc = blank(&sc, &t->object);
    } else if (c == '"') {
        rc = literal(&sc, t);
    } else {
        return fail(&sc, sc.pos, "an object is an <IRI>, a _:blank node or "
                                 "a \"literal\"");
    }
    if (rc != 0 || end_of_statement(&sc) != 0)
        return -1;
    return 1;
}
