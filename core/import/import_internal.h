#ifndef KGA_IMPORT_INTERNAL_H
#define KGA_IMPORT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/intern.h"
#include "import/import.h"

/* The import context and what the files of the format-independent import
 * share; private to core/import/. import.c runs an import (parameters, the
 * two side threads, output), import_files.c reads the input files,
 * import_graph.c builds the two graphs, import_links.c collects and splits
 * the links. The format readers (import_openea.c, import_dbp15k.c) see
 * only import.h. */

/* The longest external id a side remembers as its last entity. */
#define LAST_EXT_MAX 1024
/* The file table: slots [0, 5) for the left graph's files, [5, 10) for the
 * right graph's, the rest for the links phase; compacted into the summary
 * in this order, which therefore does not depend on thread timing. */
#define FILES_PER_SIDE 5u
#define SHARED_FILES_BASE (2u * FILES_PER_SIDE)

/* An entity without a type (yet). */
#define NO_TYPE UINT32_MAX
/* label_rank of an entity named from a URI other than its external id
 * (kga_import_entity_named): ranked after every name key (name_rank() is
 * at most 1 + KGA_IMPORT_MAX_NAME_PREDICATES + KGA_LABEL_NAME). */
#define NAME_FROM_URI UINT8_MAX

/* Everything one graph's thread touches. */
typedef struct {
    kga_graph_builder_t *b;
    uint8_t *label_rank; /* per entity: name_rank() of its name, or
                            NAME_FROM_URI; 0 none */
    uint32_t *type;      /* per entity: index in types or NO_TYPE */
    uint32_t *name_key;  /* per entity: index in name_keys, NO_TYPE none */
    size_t cap;
    uint64_t type_triples;
    uint32_t shared_uri_ids;  /* kga_import_note_shared_uri() */
    const char *shared_uri_first; /* bytewise smallest such URI */
    /* Type names interned once, so that a type that loses to a smaller one
     * never reaches the builder (its type table must not depend on
     * order). */
    kga_intern_t types;
    kga_intern_t name_keys; /* keys that gave a name at some point */
    kga_arena_t arena;
    char *scratch; /* KGA_LINE_MAX + 1 bytes: any field fits */
    kga_err_t err;
    int rc;
    unsigned next_file;
    uint64_t bytes_closed;     /* bytes of this side's closed files */
    _Atomic uint64_t bytes_seen; /* published for the progress line */
    /* The last entity looked up: files grouped by subject (most are) then
     * skip the hash lookup for every line after the first of a group. */
    uint32_t last_ent;
    size_t last_len; /* 0: none */
    char last_ext[LAST_EXT_MAX];
} side_t;

typedef struct {
    kga_import_file_t stats;
    const char *path;
    kga_import_split_t split;
    uint64_t bytes;
    int used;
    uint64_t negatives; /* labelled pairs with label 0 read from it */
} file_slot_t;

struct kga_import_ctx {
    const kga_import_params_t *p;
    kga_import_summary_t *summary;
    const kga_progress_t *progress;
    kga_err_t *err;
    int threaded; /* side errors go to side[k].err while the threads run */
    side_t side[2];
    kga_arena_t arena; /* links phase */
    file_slot_t files[KGA_IMPORT_MAX_FILES];
    unsigned next_shared_file;
    uint64_t bytes_shared, bytes_total;
    kga_links_t *links;    /* every link read; tag = file slot */
    /* Every labelled pair read; tag = file slot << 1 | label. */
    kga_links_t *rows;
    /* The name predicates: the parameters', then the layout's. */
    const char *name_predicates[KGA_IMPORT_MAX_NAME_PREDICATES + 1];
    unsigned n_name_predicates;
    uint32_t *link_ent[2]; /* builder ids of each link's ends */
    size_t link_ent_cap;
    /* Completion of the side threads, for the progress loop. */
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
};

/* Where the links go: the three files, and ALL for the links that are
 * split into train and test with the seed. */
enum { OUT_TRAIN, OUT_VALID, OUT_TEST, OUT_ALL, OUT_COUNT };

/* The progress line of the reading phase; shared_in_file: bytes of the
 * links file being read. */
void kga_import_report_progress(kga_import_ctx_t *ctx,
                                uint64_t shared_in_file);
/* Estimated bytes of input under SRC, for the progress line. */
uint64_t kga_import_estimate_input(kga_import_ctx_t *ctx);
/* The used file slots into ctx->summary, in slot order. */
void kga_import_fill_file_stats(kga_import_ctx_t *ctx);

/* Names and types of side into its builder, the counts into *out. */
int kga_import_finish_side(kga_import_ctx_t *ctx, int side,
                           kga_import_side_t *out);

/* Resolves conflicts and distributes the links over sets[] (train, valid,
 * test, and ALL as scratch), carving the seeded splits; the labelled pairs
 * of each split with a non-match go to rows[] (tag = label), the others
 * stay empty. */
int kga_import_finish_links(kga_import_ctx_t *ctx,
                            kga_links_t *sets[OUT_COUNT],
                            kga_links_t *rows[3]);

#endif
