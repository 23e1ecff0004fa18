#ifndef KGA_TRANSLIT_H
#define KGA_TRANSLIT_H

#include <stddef.h>

#include "base/error.h"
#include "base/pool.h"

/* Names in any script written in Latin letters, by ICU's standard
 * transliterators ("Any-Latin; Latin-ASCII", from Debian's libicu): the
 * second form of a name that the name channel compares next to the name
 * itself (name_features.h), so that "バラク・オバマ" ("baraku obama") and
 * "Barack Obama" share n-grams. Katakana, Hangul, Cyrillic, Greek, Arabic
 * and the other phonetic scripts come out close to their usual
 * romanisation; Han characters come out in pinyin, whatever the language
 * (ICU has no Japanese readings), so kanji names gain little.
 *
 * After ICU, punctuation and white space outside ASCII that Latin-ASCII
 * leaves alone (the katakana middle dot, ideographic punctuation) become a
 * space, so that they separate words the way ASCII punctuation does. A
 * name that is plain ASCII is its own Latin form and never reaches ICU.
 * Bytes that are not well-formed UTF-8 become U+FFFD. Only the first
 * KGA_TRANSLIT_MAX_BYTES bytes of a name are read (cut before a character
 * they would split): the name features read no more either.
 *
 * ICU's transliterators are not to be shared between threads: a
 * kga_translit_t serves one thread at a time. */

#define KGA_TRANSLIT_ID "Any-Latin; Latin-ASCII"
#define KGA_TRANSLIT_MAX_BYTES 2048u

typedef struct kga_translit kga_translit_t;

/* Opens the transliterator. The result is owned by the caller
 * (kga_translit_free). Returns 0, KGA_ENOMEM, or KGA_EUNSUPPORTED with
 * ICU's error in the message when ICU cannot open it (its data missing). */
int kga_translit_new(kga_translit_t **out, kga_err_t *err);

/* The Latin form of the NUL-terminated UTF-8 name (NULL is taken as "")
 * as NUL-terminated UTF-8 in a buffer owned by t, valid until the next
 * call on t; *len (may be NULL) gets its length. Returns NULL when out of
 * memory. */
const char *kga_translit_name(kga_translit_t *t, const char *name,
                              size_t *len);

void kga_translit_free(kga_translit_t *t);

/* The Latin forms of many names, made on a pool (one transliterator per
 * worker). forms[i] is the form of names[i] (NULL for a NULL name). The
 * table owns the strings. */
typedef struct kga_translit_table kga_translit_table_t;

/* Transliterates names[0 .. n) on pool (NULL: the calling thread). The
 * result is owned by the caller (kga_translit_table_free). Returns 0,
 * KGA_ENOMEM or the errors of kga_translit_new(), with a message. */
int kga_translit_table_new(const char *const *names, size_t n,
                           kga_pool_t *pool, kga_translit_table_t **out,
                           kga_err_t *err);

/* The Latin forms, one per name given (the table's array). */
const char *const *kga_translit_table_forms(const kga_translit_table_t *t);

void kga_translit_table_free(kga_translit_table_t *t);

#endif
