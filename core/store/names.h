#ifndef KGA_NAMES_H
#define KGA_NAMES_H

#include <stddef.h>

/* Display names and the keys that carry them. Pure string functions: no
 * allocation, no failure; every output buffer is the caller's and needs at
 * most as many bytes as the input plus one (nothing here lengthens text). */

/* Label keys by preference, best first; 0 for a key that is not a label. */
enum {
    KGA_LABEL_NONE = 0,
    KGA_LABEL_RDFS = 1, /* rdfs:label, or any key whose local name is label */
    KGA_LABEL_PREF = 2, /* skos:prefLabel, ... local name prefLabel */
    KGA_LABEL_NAME = 3  /* foaf:name, schema:name, ... local name name */
};

/* The local name of a key, relation or URI: the part after the last '/' or
 * '#' (a surrounding "<...>" ignored); for a prefixed name without '/' or '#'
 * such as "rdfs:label", the part after the ':'. *len gets its length; the
 * result points into key. */
const char *kga_names_key_local(const char *key, size_t *len);

/* Rank of key as a label key (KGA_LABEL_*), from its local name. */
int kga_names_label_rank(const char *key);

/* 1 when key is the name predicate `predicate` (a --name-predicate):
 * equal once a surrounding "<...>" is stripped from both, or, when the
 * predicate is a bare word without '/', '#' or ':' (a CSV column, "title"),
 * equal to the key's local name. */
int kga_names_key_is(const char *key, const char *predicate);

/* 1 when the local name of key looks like it holds names: it contains
 * "name", "title" or "label" in any case ("full_name", "dc:title",
 * "Song_Name"). For the hint printed when no label attribute gave names. */
int kga_names_key_looks_like_name(const char *key);

/* 1 when a label of rank `rank` (KGA_LABEL_*) and cleaned text `text`
 * (kga_names_clean_literal()) should replace an entity's current label of
 * rank cur_rank with text cur_text (cur_rank KGA_LABEL_NONE: none yet): the
 * better rank wins, then the bytewise smaller text, so that the name does
 * not depend on the order of the attributes. An empty text never wins. */
int kga_names_label_better(int rank, const char *text, int cur_rank,
                           const char *cur_text);

/* 1 when key names the type of an entity: rdf:type written as the full URI
 * (http://www.w3.org/1999/02/22-rdf-syntax-ns#type), as "rdf:type" or as a
 * bare "type", with or without "<...>". A "type" property in another
 * namespace (dbo:type, DBpedia's infobox property/type) links two entities
 * and is an ordinary relation. */
int kga_names_is_type_key(const char *key);

/* Writes the display name of an entity URI to out: its local name after the
 * last '/' or '#' (trailing separators ignored; the whole string when that
 * leaves nothing), '_' replaced by a space, %XX escapes decoded where they
 * form valid UTF-8 other than control characters (other escapes, and invalid
 * ones, are kept as written). out must hold strlen(uri) + 1 bytes. Returns
 * the length written. */
size_t kga_names_from_uri(const char *uri, char *out);

/* Writes the text of an RDF literal used as a label: a trailing @lang tag
 * or ^^datatype removed, then surrounding double quotes. Other literals are
 * copied unchanged. out must hold len + 1 bytes. Returns the length. */
size_t kga_names_clean_literal(const char *lit, size_t len, char *out);

#endif
