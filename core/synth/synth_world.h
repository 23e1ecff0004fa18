#ifndef KGA_SYNTH_WORLD_H
#define KGA_SYNTH_WORLD_H

#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"

/* The one true world behind the two synthetic graphs (private to
 * core/synth*.c): films, people, characters and genres with the relations
 * between them. The two noisy views are drawn from it by core/synth/synth.c.
 *
 * World indices are positions in `entities`, grouped by kind. They never
 * reach the output: each view numbers its entities by its own random
 * permutation. */

typedef enum {
    KGA_SYNTH_GENRE,
    KGA_SYNTH_FILM,
    KGA_SYNTH_CHARACTER,
    KGA_SYNTH_PERSON,
    KGA_SYNTH_KIND_COUNT
} kga_synth_kind_t;

/* Relations in the orientation of the left graph (person -> film, ...). */
typedef enum {
    KGA_SYNTH_DIRECTED,
    KGA_SYNTH_WROTE,
    KGA_SYNTH_ACTED_IN,
    KGA_SYNTH_PRODUCED,
    KGA_SYNTH_HAS_GENRE,
    KGA_SYNTH_PLAYS,
    KGA_SYNTH_SEQUEL_OF,
    KGA_SYNTH_REL_COUNT
} kga_synth_rel_t;

/* Film titles. */
typedef enum {
    KGA_SYNTH_TITLE_THE_ADJ_NOUN, /* The Silent River */
    KGA_SYNTH_TITLE_ADJ_NOUN,     /* Silent River */
    KGA_SYNTH_TITLE_THE_NOUN,     /* The Stranger */
    KGA_SYNTH_TITLE_NOUN_OF_NOUN, /* Kingdom of the Moon */
    KGA_SYNTH_TITLE_POSSESSIVE,   /* José's Journey */
    KGA_SYNTH_TITLE_NOUN_IN_PLACE, /* Winter in Kraków */
    KGA_SYNTH_TITLE_ADJ_NOUN_OF_NOUN, /* Silent Kingdom of the Moon */
    KGA_SYNTH_TITLE_POSSESSIVE_ADJ,   /* José's Silent Journey */
    KGA_SYNTH_TITLE_ADJ_NOUN_IN_PLACE, /* Frozen Winter in Kraków */
    KGA_SYNTH_TITLE_PATTERN_COUNT
} kga_synth_title_t;

/* Character names. */
typedef enum {
    KGA_SYNTH_CHAR_FULL_NAME,  /* Anna Kovač */
    KGA_SYNTH_CHAR_HONORIFIC,  /* Detective Müller */
    KGA_SYNTH_CHAR_FIRST_NAME, /* Zoë */
    KGA_SYNTH_CHAR_THE_NOUN,   /* The Stranger */
    KGA_SYNTH_CHAR_PATTERN_COUNT
} kga_synth_char_name_t;

#define KGA_SYNTH_NO_WORD UINT32_MAX
/* A person whose name ends in "Jr.". */
#define KGA_SYNTH_FLAG_JR 0x1u

/* One world entity. Names are not stored: they are rebuilt from the word
 * indices (core/synth/synth_names.c), which keeps a million entities in 20 MB. */
typedef struct {
    /* Indices into the word lists; their meaning depends on kind and
     * pattern. Person: first, middle (or KGA_SYNTH_NO_WORD), surname
     * (numbered by synth_names.h). */
    uint32_t word[3];
    /* 0, or q when the name was drawn q times before and no free one was
     * found: the name then ends in the catalogue's disambiguator, "(II)"
     * for q = 1. Namesakes, sequels and remakes share their model's. */
    uint16_t qualifier;
    uint16_t year;   /* release or birth year; 0 when unknown */
    uint8_t kind;    /* kga_synth_kind_t */
    uint8_t pattern; /* kga_synth_title_t or kga_synth_char_name_t */
    uint8_t sequel;  /* film: 0, or the sequel number (2 for "II") */
    uint8_t flags;   /* KGA_SYNTH_FLAG_* */
} kga_synth_entity_t;

/* head -[rel]-> tail, in the left graph's orientation. */
typedef struct {
    uint32_t head, tail;
    uint8_t rel; /* kga_synth_rel_t */
} kga_synth_edge_t;

typedef struct {
    uint32_t entity_count;
    kga_synth_entity_t *entities;
    /* Entities of kind k are [first[k], first[k] + count[k]). */
    uint32_t first[KGA_SYNTH_KIND_COUNT];
    uint32_t count[KGA_SYNTH_KIND_COUNT];
    /* Distinct edges; every entity but a few genres has at least one. */
    kga_synth_edge_t *edges;
    uint64_t edge_count;
    uint64_t remakes, sequels, namesakes;
} kga_synth_world_t;

/* Builds the world of n entities (n >= 10, checked by the caller) from seed
 * into caller-owned *w. On failure (KGA_ENOMEM, with a message) *w holds
 * nothing to free; on success free it with kga_synth_world_destroy(). */
int kga_synth_world_build(kga_synth_world_t *w, uint32_t n, uint64_t seed,
                          const kga_progress_t *progress, kga_err_t *err);

void kga_synth_world_destroy(kga_synth_world_t *w);

#endif
