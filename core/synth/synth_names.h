#ifndef KGA_SYNTH_NAMES_H
#define KGA_SYNTH_NAMES_H

#include <stddef.h>

#include "base/rng.h"
#include "synth/synth_world.h"

/* Names of synthetic entities (private to core/synth*.c and its tests):
 * the canonical name that the left graph shows, and the noisy variant of the
 * right graph. Names are built into a caller-owned fixed buffer; nothing
 * allocates and nothing fails. Every name is valid UTF-8 without tabs or
 * newlines, so it can stand in a TSV field. */

/* Longer than any name the word lists can make; a piece that would not fit
 * is left out whole, so a name is never cut inside a character. */
#define KGA_SYNTH_NAME_MAX 256

typedef struct {
    char s[KGA_SYNTH_NAME_MAX]; /* NUL-terminated */
    size_t len;
} kga_synth_name_t;

/* Surnames are numbered: first the common ones of the list, then every
 * stem with every ending ("Lind" + "qvist"); this returns how many there
 * are. A person's surname code (word[2], a full-name character's word[1])
 * is a + count * b for surname a alone (b = 0) or a double-barrelled
 * "a-c" (b = c + 1). */
uint32_t kga_synth_surname_count(void);

/* The canonical name of e, e.g. "José Luis García Jr." or "The Silent River
 * II", ending in " (II)" and so on when e has a qualifier. */
void kga_synth_name_canonical(const kga_synth_entity_t *e,
                              kga_synth_name_t *out);

/* The right graph's name of e. Genres always take the right graph's form
 * ("film noir", "comedy film"). Other names, with probability `noise`, get
 * one variant (sometimes two) of those that apply: middle name dropped or
 * an initial added, "Jr." dropped or written ", Jr.", "The" dropped or moved
 * to the end, sequel number in digits, accents stripped, a typo (two letters
 * swapped, one dropped or replaced), all lower or upper case. Draws from r
 * (give each entity its own stream for reproducible names). Returns 1 when
 * a variant was applied (the name may still equal the canonical one in rare
 * cases, e.g. a case change of a name that is already so). */
int kga_synth_name_variant(const kga_synth_entity_t *e, kga_rng_t *r,
                           double noise, kga_synth_name_t *out);

/* Copies UTF-8 text with accented Latin letters replaced by plain ASCII
 * ("Zoë Núñez" -> "Zoe Nunez", "ß" -> "ss"); other characters are copied
 * unchanged. Writes at most cap - 1 bytes and a NUL (cap > 0) and returns
 * the length written. */
size_t kga_synth_strip_accents(const char *in, size_t len, char *out,
                               size_t cap);

#endif
