#ifndef KGA_SYNTH_LISTS_H
#define KGA_SYNTH_LISTS_H

#include <stddef.h>

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

#endif
