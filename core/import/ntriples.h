#ifndef KGA_NTRIPLES_H
#define KGA_NTRIPLES_H

#include <stddef.h>

/* One line of N-Triples (W3C RDF 1.1 N-Triples): subject, predicate,
 * object and a final '.', separated by spaces or tabs, a '#' comment
 * allowed after it or on a line of its own.
 *   subject    <IRI> or _:blank
 *   predicate  <IRI>
 *   object     <IRI>, _:blank, or "literal" with @lang or ^^<datatype>
 * Escapes are decoded: \uXXXX and \UXXXXXXXX in IRIs and literals, and \t
 * \b \n \r \f \" \' \\ in literals. A pure function over one line: the
 * importer reads the file (gzip or plain), this says what a line holds.
 * Nothing is allocated; the terms are written to the caller's buffer. */

typedef enum {
    KGA_NT_IRI = 0,
    KGA_NT_BLANK = 1,  /* text "_:label" */
    KGA_NT_LITERAL = 2 /* text = the lexical form, decoded */
} kga_nt_kind_t;

typedef struct {
    const char *subject, *predicate, *object; /* NUL-terminated, in out */
    kga_nt_kind_t subject_kind, object_kind;
    const char *lang;     /* literal language tag, or NULL */
    const char *datatype; /* literal datatype IRI, or NULL */
} kga_nt_triple_t;

/* What was wrong with a line: a static message and the 1-based column
 * (byte) where it was found. */
typedef struct {
    const char *what;
    size_t column;
} kga_nt_error_t;

/* Room the terms of a line of len bytes need in `out`. */
#define KGA_NT_OUT_BYTES(len) ((len) + 8)

/* Parses the len bytes of line (no line break; need not be
 * NUL-terminated), writing the decoded terms to out, which must hold
 * KGA_NT_OUT_BYTES(len) bytes. Returns 1 for a triple (*t set), 0 for a
 * blank or comment line, -1 for a malformed one (*e set). A decoded term
 * with a NUL character, a surrogate or a code point above U+10FFFF is
 * malformed; so is an empty IRI. */
int kga_nt_parse(const char *line, size_t len, char *out, kga_nt_triple_t *t,
                 kga_nt_error_t *e);

#endif
