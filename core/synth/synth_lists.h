#ifndef KGA_SYNTH_LISTS_H
#define KGA_SYNTH_LISTS_H

#include <stddef.h>

#include "synth/synth_world.h"

/* The built-in word lists of the synthetic world generator (private to
 * core/synth*.c). Static UTF-8 strings; some carry accents on purpose, so that
 * the noisy view can strip them. Each list comes with its length. */

typedef struct {
    const char *const *words;
    size_t count;
} kga_synth_list_t;

extern const kga_synth_list_t kga_synth_first_names;
extern const kga_synth_list_t kga_synth_last_names;
/* Composed surnames: a stem and an ending, "Lind" + "qvist"
 * (synth_names.h numbers all surnames). */
extern const kga_synth_list_t kga_synth_surname_stems;
extern const kga_synth_list_t kga_synth_surname_endings;
extern const kga_synth_list_t kga_synth_adjectives;
extern const kga_synth_list_t kga_synth_nouns;
extern const kga_synth_list_t kga_synth_places;
/* Honorifics of characters: "Detective", "Dr.", ... */
extern const kga_synth_list_t kga_synth_honorifics;
/* Film genres, in the capitalised form of the left graph ("Film noir"). */
extern const kga_synth_list_t kga_synth_genres;

/* The words of a film title pattern (the article and a sequel number
 * aside): up to three, each drawn from its list, with the text between
 * them. One table, so that drawing the words (synth_world.c) and writing
 * the title (synth_names.c) cannot disagree. */
typedef struct {
    const kga_synth_list_t *list[3]; /* NULL after the last word */
    const char *between[2];          /* after the first and second words */
} kga_synth_title_form_t;

extern const kga_synth_title_form_t
    kga_synth_title_forms[KGA_SYNTH_TITLE_PATTERN_COUNT];

#endif
