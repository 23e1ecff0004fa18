#ifndef KGA_IMPORT_H
#define KGA_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "base/csv_reader.h"
#include "base/error.h"
#include "store/graph_builder.h"
#include "base/line_reader.h"
#include "store/links.h"
#include "base/progress.h"

/* Import of a pair of knowledge graphs with their alignment links from one
 * of the public benchmark layouts into OUT_DIR:
 *   left.kgs, right.kgs        the two graph stores (kga_store_write)
 *   train_links.tsv, valid_links.tsv, test_links.tsv
 *                              LEFT<TAB>RIGHT external ids (see links.h)
 *
 * OpenEA layout: rel_triples_{1,2} (head, relation, tail), optional
 * attr_triples_{1,2} (entity, key, literal), optional ent_links, and the
 * split 721_5fold/K/{train,valid,test}_links (valid_links optional).
 *
 * DBP15K / GCN-Align id layout: ent_ids_{1,2} (id, URI), optional
 * rel_ids_{1,2} (id, URI; without them a relation is named by its id),
 * triples_{1,2} (numeric head, relation, tail), links sup_pairs + ref_pairs
 * (numeric id pairs), or ref_ent_ids split 30% train / 70% test with the
 * seed, and optional training_attrs_{1,2} (URI, key, key, ...: each key an
 * attribute triple with an empty literal). Numeric ids only encode the files:
 * stores and link files hold the URIs, except where several ids of one
 * ent_ids file share a URI (SRPRS DBpedia-Wikidata: one Wikidata URI for
 * several counties): in this layout the id is the identity, so each such id
 * is an entity of its own, with the external id "URI#ID" and the URI's
 * local name as its name, its links kept, the attributes of the URI given
 * to each, and the count in kga_import_side_t.shared_uri_ids.
 *
 * Record tables (the Magellan / DeepMatcher layout): tableA.csv and
 * tableB.csv (RFC 4180, a header with an `id` column, one record a row)
 * and the labelled pairs train.csv, valid.csv (optional), test.csv
 * (ltable_id, rtable_id and optionally label). A record is an entity (its
 * id the external id), every other non-empty value an attribute keyed by
 * its column, except in the entity columns (params.entity_columns): there
 * a value becomes a node of type COLUMN, external id "COLUMN:value" (the
 * value lower-cased, white space collapsed, so that one artist written
 * twice is one node), linked from every record that carries it by the
 * relation COLUMN, and the records get the type "record". The name column
 * (params.name_column, else chosen from the data: the most distinct text
 * column, preferring one named like a name) gives the records' names.
 *
 * N-Triples: left.nt and right.nt (gzip or plain, by content), IRIs and
 * blank nodes entities, literals attributes (their lexical form), rdf:type
 * the type; links in train_links, valid_links (optional) and test_links
 * (".tsv" optional): two tab-separated ids (IRIs, with or without <>) and
 * optionally a label.
 *
 * Labelled pairs. A pair file (records) or links file (N-Triples) whose
 * rows carry a label 0 or 1 and hold at least one 0 is a set of labelled
 * candidate pairs: every row is kept, repeats included, in
 * OUT_DIR/{train,valid,test}_pairs.tsv (LEFT TAB RIGHT TAB LABEL, sorted);
 * its matches also go to the links file of the split, made 1:1 without
 * complaint (the canonically first link of an entity is kept). A file all
 * of whose labels are 1, or without labels, is a link set as in the other
 * layouts. Without a validation file a share of the training rows
 * (valid_fraction, seeded) becomes the validation rows.
 *
 * Names: an explicit name (a records node, the name column), else the
 * attribute of the first --name-predicate that the entity has
 * (params.name_predicates), else the best label attribute
 * (kga_names_label_rank()), ties broken by the bytewise smallest text,
 * else the URI's local name (kga_names_from_uri()). The summary says which
 * keys gave the names, and, for a graph where none did, which keys look
 * like names.
 * Types: rdf:type triples (kga_names_is_type_key()) give the type of their
 * head and are not kept as relation triples; type attributes likewise; the
 * bytewise smallest type wins. Every result is independent of the order of
 * the input lines: the seeded splits start from the canonically sorted
 * links, and lenient conflict resolution keeps the canonically first link.
 *
 * A malformed line fails the import with "SRC/FILE:LINE: what"; with lenient
 * set it is skipped and counted per file instead. Nothing is written unless
 * every input was read. */

typedef enum {
    KGA_IMPORT_OPENEA = 1,
    KGA_IMPORT_DBP15K = 2,
    KGA_IMPORT_RECORDS = 3,
    KGA_IMPORT_NTRIPLES = 4
} kga_import_format_t;

#define KGA_IMPORT_DEFAULT_FOLD 1u
#define KGA_IMPORT_DEFAULT_SEED 1u
#define KGA_IMPORT_DEFAULT_VALID_FRACTION 0.1
/* Share of ref_ent_ids used for training when a DBP15K copy has no
 * sup_pairs / ref_pairs (as in JAPE and GCN-Align). */
#define KGA_IMPORT_DBP15K_TRAIN_FRACTION 0.3
#define KGA_IMPORT_MAX_FILES 16
/* Bytes of an example kept in the summary, NUL included (longer ones are
 * cut between characters). */
#define KGA_IMPORT_EXAMPLE_MAX 160
#define KGA_IMPORT_MAX_NAME_PREDICATES 8
/* Keys listed per graph in the summary's name sources and hints. */
#define KGA_IMPORT_KEY_LIST 4
#define KGA_IMPORT_KEY_MAX 128

typedef struct {
    kga_import_format_t format;
    const char *src_dir;   /* read only */
    const char *out_dir;   /* created (with parents) when missing */
    unsigned fold;         /* OpenEA fold directory 721_5fold/<fold> */
    uint64_t seed;         /* for every seeded split */
    double valid_fraction; /* share of the training links carved out as
                              validation links when the source has none,
                              in [0, 1) */
    int lenient;           /* skip and count malformed lines */
    /* Name attributes by preference (not owned); for every format. */
    const char *name_predicates[KGA_IMPORT_MAX_NAME_PREDICATES];
    unsigned n_name_predicates;
    const char *name_column;    /* records: the name column, NULL: chosen */
    const char *entity_columns; /* records: "A,B" columns that hold
                                   entities, NULL: none */
} kga_import_params_t;

/* A key and how many entities it concerns. */
typedef struct {
    char key[KGA_IMPORT_KEY_MAX]; /* cut to fit */
    uint32_t entities;
} kga_import_key_count_t;

/* Counts of one imported graph. */
typedef struct {
    uint32_t entities;
    uint32_t relations;
    uint32_t types;
    uint32_t attr_keys;
    uint32_t named;        /* entities with a non-empty name */
    uint32_t labelled;     /* ... whose name came from a label attribute */
    uint64_t triples;      /* distinct relation triples */
    uint64_t attributes;   /* distinct attribute triples */
    uint64_t duplicate_triples; /* relation triples given more than once */
    uint64_t type_triples; /* rdf:type triples turned into types */
    /* DBP15K: ids of ent_ids_K whose URI another id has too. Each is kept
     * as an entity of its own, external id "URI#ID" (see the layout
     * above): a warning for the caller to show. */
    uint32_t shared_uri_ids;
    char shared_uri_example[KGA_IMPORT_EXAMPLE_MAX]; /* the smallest URI */
    /* The keys whose values became names, most entities first. */
    kga_import_key_count_t name_keys[KGA_IMPORT_KEY_LIST];
    unsigned n_name_keys;
    /* Where no attribute gave a name: the attribute keys that look like
     * names (kga_names_key_looks_like_name), most entities first. */
    kga_import_key_count_t name_hints[KGA_IMPORT_KEY_LIST];
    unsigned n_name_hints;
} kga_import_side_t;

/* One input file: its path relative to SRC, lines read, lines skipped. */
typedef struct {
    char name[64];
    uint64_t lines;
    uint64_t skipped;
} kga_import_file_t;

typedef struct {
    kga_import_side_t side[2];   /* [0] left (KG1), [1] right (KG2) */
    uint64_t train_links, valid_links, test_links;
    /* Labelled pairs per split (train, valid, test): rows and matches;
     * rows 0 where the split is a link set. */
    uint64_t pairs[3], pair_matches[3];
    int valid_carved;     /* valid links drawn from the training links */
    int test_carved;      /* train/test drawn from ref_ent_ids (DBP15K) */
    kga_import_file_t files[KGA_IMPORT_MAX_FILES];
    unsigned file_count;
    uint64_t skipped_lines; /* sum over files */
    uint64_t bytes_read;
    double seconds;
    /* How the names were chosen, when the layout chose (records: the name
     * column and why); "" otherwise. */
    char name_note[256];
} kga_import_summary_t;

/* Fills *p with the defaults (format unset: 0). */
void kga_import_params_init(kga_import_params_t *p);

/* "openea", "dbp15k" (also "gcn-align"), "records", "ntriples" to a
 * format; KGA_EINVAL otherwise. */
int kga_import_format_parse(const char *name, kga_import_format_t *out);
const char *kga_import_format_name(kga_import_format_t format);

/* Runs the import. *summary (may be NULL) is filled on success and, as far
 * as the import got, on failure. progress may be NULL. Returns 0 or a
 * KGA_E* code with err naming the file and line (KGA_ENOENT for a missing
 * file, KGA_EPARSE for a malformed line, KGA_EUNKNOWN_ID, KGA_EDUPLICATE for
 * a link that is not 1:1, KGA_EIO, KGA_ENOMEM, KGA_EINVAL for bad params). */
int kga_import_run(const kga_import_params_t *p,
                   kga_import_summary_t *summary,
                   const kga_progress_t *progress, kga_err_t *err);

/* ---- For the format readers (import_openea.c, import_dbp15k.c) only ----
 * The shared machinery: reading lines with lenient skipping, building the
 * two graphs (names, types) and collecting the links.
 *
 * An import runs in three phases: check() on the calling thread (fail fast
 * on a wrong layout), read_side() for the two graphs on two threads at
 * once, then read_links() on the calling thread. A function taking `side`
 * touches only that side's graph, arena and error, so the two read_side()
 * calls share nothing; files opened with side -1 belong to the links
 * phase. */

typedef struct kga_import_ctx kga_import_ctx_t;

/* Which split the links of a file belong to. */
typedef enum {
    KGA_IMPORT_SPLIT_NONE = 0, /* not a links file, or links not kept */
    KGA_IMPORT_SPLIT_TRAIN,
    KGA_IMPORT_SPLIT_VALID,
    KGA_IMPORT_SPLIT_TEST,
    KGA_IMPORT_SPLIT_ALL /* to be split into train and test with the seed */
} kga_import_split_t;

/* One layout. The core allocates state_size zeroed bytes for it, passes
 * them to every call and calls release() (may be NULL) at the end. */
typedef struct {
    size_t state_size;
    int (*check)(kga_import_ctx_t *ctx, void *state);
    int (*read_side)(kga_import_ctx_t *ctx, void *state, int side);
    int (*read_links)(kga_import_ctx_t *ctx, void *state);
    void (*release)(void *state);
} kga_import_reader_t;

extern const kga_import_reader_t kga_import_openea_reader;
extern const kga_import_reader_t kga_import_dbp15k_reader;
extern const kga_import_reader_t kga_import_records_reader;
extern const kga_import_reader_t kga_import_ntriples_reader;

/* An open input file: lines (kga_import_open) or CSV records
 * (kga_import_open_csv). */
typedef struct {
    kga_line_reader_t *reader;
    kga_csv_reader_t *csv;
    unsigned index; /* in the import's file table */
    int side;       /* 0, 1, or -1 for the links phase */
    kga_import_ctx_t *ctx;
} kga_import_src_t;

const kga_import_params_t *kga_import_params(const kga_import_ctx_t *ctx);
/* Where errors of a side (or of the links phase: -1) go. */
kga_err_t *kga_import_err(kga_import_ctx_t *ctx, int side);

/* SRC/name into buf (cap bytes); KGA_ELIMIT when it does not fit. */
int kga_import_path(const kga_import_ctx_t *ctx, const char *name, char *buf,
                    size_t cap);
/* 1 when SRC/name exists (file or directory). */
int kga_import_exists(const kga_import_ctx_t *ctx, const char *name);

/* Opens SRC/name for side (or -1); links read from it go to split. A
 * missing file is KGA_ENOENT with "SRC/name: no such file (hint)" when
 * required, else 0 with src->reader NULL. */
int kga_import_open(kga_import_ctx_t *ctx, int side, const char *name,
                    int required, const char *hint, kga_import_split_t split,
                    kga_import_src_t *src);
/* The same for a CSV file, read with kga_import_next_record(). */
int kga_import_open_csv(kga_import_ctx_t *ctx, int side, const char *name,
                        int required, const char *hint,
                        kga_import_split_t split, kga_import_src_t *src);
void kga_import_close(kga_import_src_t *src);
/* 1 when src is open. */
int kga_import_is_open(const kga_import_src_t *src);
/* The path of src and the (first) line of its current line or record. */
const char *kga_import_src_path(const kga_import_src_t *src);
uint64_t kga_import_src_line(const kga_import_src_t *src);

/* Next non-blank line split at tabs: returns the field count (>= 1) with
 * fields[0..min(count, max)) set, 0 at end of file, or a negative code.
 * Lines the reader rejects (too long, NUL, bad UTF-8) are skipped and
 * counted when lenient. */
long kga_import_next(kga_import_src_t *src, char **fields, size_t max);

/* The next non-blank line of src as it is (not split): 1 with *line and
 * *len set, 0 at end of file, or a negative code; lines the reader rejects
 * are skipped and counted when lenient. */
long kga_import_next_line(kga_import_src_t *src, char **line, size_t *len);

/* Next CSV record of src: the field count (>= 1) with *fields set, 0 at
 * end of file, or a negative code; malformed records (csv_reader.h) are
 * skipped and counted when lenient. */
long kga_import_next_record(kga_import_src_t *src, char ***fields);

/* Reports a malformed current line: with lenient it is counted and 0 is
 * returned (skip it); otherwise the error gets "PATH:LINE: message" and
 * code is returned. */
int kga_import_bad_line(kga_import_src_t *src, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks the field count and that no field is empty or begins with U+FEFF
 * (it would read back as a byte order mark): 1 when the line is good, 0
 * when skipped (lenient), or a negative code. */
int kga_import_check_fields(kga_import_src_t *src, long count,
                            char **fields, size_t expected);

/* One line of a file read by kga_import_each(): fields[0..min(count,
 * max)) as kga_import_next() gives them (checked when asked). Returns 0 to
 * go on (the line used, or skipped where lenient allows) or a negative
 * code to stop. */
typedef int (*kga_import_line_fn)(kga_import_src_t *src, char **fields,
                                  long count, void *arg);

/* Reads SRC/name line by line (kga_import_open(), kga_import_next(),
 * kga_import_close()): with check, each line must have exactly max
 * non-empty fields (kga_import_check_fields()) before fn sees it. A missing
 * file that is not required is 0 with *found (may be NULL) set to 0.
 * Returns 0 or the first negative code. */
int kga_import_each(kga_import_ctx_t *ctx, int side, const char *name,
                    int required, const char *hint, kga_import_split_t split,
                    size_t max, int check, kga_import_line_fn fn, void *arg,
                    int *found);

/* Copies a string into the arena of side (or -1); it lives until the
 * import ends. NULL on out of memory. */
const char *kga_import_strdup(kga_import_ctx_t *ctx, int side, const char *s);

/* The builder of side 0 (left) or 1 (right). */
kga_graph_builder_t *kga_import_builder(kga_import_ctx_t *ctx, int side);

/* Interns an entity of a side; *ent gets its builder id. */
int kga_import_entity(kga_import_ctx_t *ctx, int side, const char *ext_id,
                      uint32_t *ent);
/* The same for an entity whose external id is not its URI: its name, unless
 * a label attribute gives one, is name_uri's local name. */
int kga_import_entity_named(kga_import_ctx_t *ctx, int side,
                            const char *ext_id, const char *name_uri,
                            uint32_t *ent);
/* Counts an id that shares uri with another, for the summary's warning
 * (the bytewise smallest uri is its example). uri must live until the
 * import ends (kga_import_strdup). */
void kga_import_note_shared_uri(kga_import_ctx_t *ctx, int side,
                                const char *uri);
/* Records a type candidate for ent (the smallest wins at the end). */
int kga_import_type(kga_import_ctx_t *ctx, int side, uint32_t ent,
                    const char *type_name);
/* Adds a relation triple, or records a type when rel is the type relation
 * (then tail is a type name, not an entity). */
int kga_import_triple(kga_import_ctx_t *ctx, int side, const char *head,
                      const char *rel, const char *tail);
/* Adds an attribute triple; a name predicate, label or type key also gives
 * a name or type candidate. */
int kga_import_attribute(kga_import_ctx_t *ctx, int side, uint32_t ent,
                         const char *key, const char *literal);
/* Gives ent a name that beats every attribute's (the bytewise smallest of
 * several); `source` is the key reported for it. */
int kga_import_name(kga_import_ctx_t *ctx, int side, uint32_t ent,
                    const char *name, const char *source);
/* Adds a name predicate after those of the parameters (check phase only):
 * a layout that chooses its name key from the data (copied). */
int kga_import_add_name_predicate(kga_import_ctx_t *ctx, const char *key);
/* The summary of the import, for a layout's notes. */
kga_import_summary_t *kga_import_summary(kga_import_ctx_t *ctx);
/* Counts a type triple (the DBP15K reader handles its own). */
void kga_import_count_type_triple(kga_import_ctx_t *ctx, int side);
/* Reports a builder failure (KGA_ENOMEM, KGA_ELIMIT) of side. */
int kga_import_builder_error(kga_import_ctx_t *ctx, int side, int code);

/* Adds a link read from the current line of src to the split of src. Both
 * ids must be entities of their side already, else the line is bad
 * (KGA_EUNKNOWN_ID). Links phase only. */
int kga_import_link(kga_import_src_t *src, const char *left,
                    const char *right);
/* Adds a labelled pair (label 0 or 1) read from the current line of src:
 * ids checked as kga_import_link does; a match is also a link of the split
 * (see "Labelled pairs" above). Links phase only. */
int kga_import_pair(kga_import_src_t *src, const char *left,
                    const char *right, int label);

#endif
