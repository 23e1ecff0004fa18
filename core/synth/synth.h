#ifndef KGA_SYNTH_H
#define KGA_SYNTH_H

#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"

/* Synthetic entity-alignment data: one world of films, people, characters
 * and genres, seen through two noisy views written in the OpenEA layout
 * (rel_triples_1/2, attr_triples_1/2, ent_links, 721_5fold/1..5/
 * {train,valid,test}_links, plus a README.txt that states what was made).
 * The same parameters give byte-identical output; nothing in the output
 * (ids, line order) reveals which entities match.
 *
 * Time and memory are linear in the number of entities and the files are
 * written as streams: a million entities take about 10 s of one core and
 * 140 MB, and make 1.6 GB of files. */

#define KGA_SYNTH_MIN_ENTITIES 10u
#define KGA_SYNTH_MAX_ENTITIES 50000000u
#define KGA_SYNTH_FOLDS 5

/* Defaults of kga_synth_params_init(). */
#define KGA_SYNTH_DEFAULT_ENTITIES 15000u
#define KGA_SYNTH_DEFAULT_SEED 1u
#define KGA_SYNTH_DEFAULT_ONE_SIDED 0.15
#define KGA_SYNTH_DEFAULT_EDGE_DROP 0.10
#define KGA_SYNTH_DEFAULT_NAME_NOISE 0.35
#define KGA_SYNTH_DEFAULT_YEAR_MISSING 0.10
/* Upper bound of one_sided: beyond it one graph hardly overlaps the other. */
#define KGA_SYNTH_MAX_ONE_SIDED 0.9

typedef struct {
    uint64_t entities;   /* world size, about the entities of each side */
    uint64_t seed;       /* any value */
    double one_sided;    /* share of each side's entities missing on the other */
    double edge_drop;    /* chance that a side leaves out one edge */
    double name_noise;   /* chance that a right-side name is a variant */
    double year_missing; /* chance that a side leaves out a known year */
} kga_synth_params_t;

/* What was generated; side 0 is the left graph (…_1 files). */
typedef struct {
    uint64_t world_entities, world_edges;
    uint64_t films, sequels, remakes, people, namesakes, characters, genres;
    uint64_t entities[2];     /* entities in each graph */
    uint64_t one_sided[2];    /* of those, absent from the other graph */
    uint64_t rel_triples[2];
    uint64_t attr_triples[2];
    uint64_t links;           /* gold links, = entities present in both */
    uint64_t name_variants;   /* linked entities whose two names differ */
    uint64_t fold_train, fold_valid, fold_test; /* sizes in every fold */
    uint64_t bytes;           /* total size of the files written */
} kga_synth_stats_t;

/* Fills *p with the defaults above. */
void kga_synth_params_init(kga_synth_params_t *p);

/* Checks the ranges (entities within [MIN, MAX], shares within [0, 1],
 * one_sided at most KGA_SYNTH_MAX_ONE_SIDED); KGA_ERANGE with a message
 * naming the parameter otherwise. */
int kga_synth_params_check(const kga_synth_params_t *p, kga_err_t *err);

/* Generates the pair into out_dir, which is created with its parents when
 * missing; existing files of the layout are replaced. progress may be NULL;
 * stats (may be NULL) receives the counts. Returns 0, or KGA_ERANGE for bad
 * parameters, KGA_EIO when a directory or a file cannot be written (the
 * message names the path), KGA_ENOMEM. On failure the files already
 * committed stay; none is left half written under its final name. */
int kga_synth_generate(const kga_synth_params_t *p, const char *out_dir,
                       const kga_progress_t *progress,
                       kga_synth_stats_t *stats, kga_err_t *err);

#endif
