#ifndef KGA_TESTS_TESTUTIL_H
#define KGA_TESTS_TESTUTIL_H

/* What the test programs share, compiled once and linked into each of them
 * (Makefile): running a Check suite with timeouts that suit the build, a
 * temporary directory, whole files and shell commands, the real and the
 * synthetic data sets, imports and small graphs, JSON numbers and expected
 * messages, and the file images that the validators' tests damage on
 * purpose. Every function asserts with Check (so it belongs inside a
 * test) unless its comment says it does not. */

#include <check.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "import/import.h"
#include "store/graph_builder.h"
#include "store/store.h"

/* ------------------------------------------------------------------------
 * Running a suite
 * ------------------------------------------------------------------------ */

/* Builds the suite with make_suite, runs it and returns main()'s exit
 * status (0 when every test passed). In a sanitizer build every Check
 * timeout is scaled (CK_TIMEOUT_MULTIPLIER, unless the environment sets
 * it): the same work takes several times longer there. make_suite runs
 * after that, since Check reads the multiplier when a test case is
 * created; it may return NULL after printing why it could not build the
 * suite (the run then fails). */
int kga_test_run(Suite *(*make_suite)(void));

/* The timeout of a test case that names none: long enough for any case on
 * a loaded machine, short enough to end a hang. */
#define KGA_TEST_TIMEOUT_S 60.0

/* A new test case of s, named name, with a timeout of timeout_s seconds
 * (0: KGA_TEST_TIMEOUT_S), scaled as kga_test_run() says. */
TCase *kga_test_tcase(Suite *s, const char *name, double timeout_s);

/* kga_test_run() inside a new directory /tmp/kga_test_NAME.XXXXXX, named
 * in kga_test_tmp_dir while the suite runs and removed with everything in
 * it afterwards. */
int kga_test_run_in_tmp_dir(const char *name, Suite *(*make_suite)(void));
extern char kga_test_tmp_dir[];

/* kga_test_tmp_dir/name into out (size bytes). */
void kga_test_tmp_path(char *out, size_t size, const char *name);

/* kga_test_tmp_dir/name in one of 64 static buffers used in turn (each
 * valid for the next 63 calls): for tests that name many files inline. */
char *kga_test_tmp(const char *name);

/* Removes path and everything below it. Returns 0 or -1; asserts
 * nothing. */
int kga_test_remove_tree(const char *path);

/* ------------------------------------------------------------------------
 * Files and commands
 * ------------------------------------------------------------------------ */

/* The whole file, malloc'd and NUL-terminated (caller frees); its length
 * in *len when len is not NULL. NULL when it cannot be read; asserts
 * nothing. */
char *kga_test_slurp(const char *path, size_t *len);
/* kga_test_slurp(), asserting that the file was read. */
char *kga_test_read_file(const char *path, size_t *len);
/* Writes len bytes to path (created or truncated). */
void kga_test_write_file(const char *path, const void *data, size_t len);
/* Writes text to dir/name, making dir and the folders in name that are
 * missing. */
void kga_test_write_text(const char *dir, const char *name, const char *text);
/* The number of entries of the directory dir, "." and ".." aside: all of
 * them (fragment NULL), or those whose name holds fragment. */
int kga_test_count_entries(const char *dir, const char *fragment);

/* Symbolic links to victim at every temporary name a writer of path could
 * pick in this process (base/atomic_file.h: PATH.tmp.PID.N, N < n) and at
 * the older PATH.tmp.PID: a writer that follows one writes into victim. */
void kga_test_plant_links(const char *path, const char *victim, unsigned n);
/* Asserts that the links planted for path are still links and victim still
 * holds `content`, then removes the links. */
void kga_test_check_planted_links(const char *path, const char *victim,
                                  const char *content, unsigned n);

/* The kgalign binary the end-to-end tests run: $KGALIGN (make test sets
 * it), else ./kgalign. Asserts nothing. */
const char *kga_test_kgalign(void);

/* The real data set `dataset` (a path below KGA_DATA_DIR, else
 * ../shared/data) into path: 1 when it is there and the real-data tests
 * run, else 0 after printing why the test is skipped (the data is missing,
 * or KGA_SKIP_REAL_DATA is set, as `make memcheck` does: under valgrind
 * these take minutes). Asserts nothing. */
int kga_test_real_data(const char *dataset, char *path, size_t cap);

/* Runs a shell command (printf-style); returns its exit status, or -1
 * when it did not exit. Asserts nothing. */
int kga_test_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A synthetic pair, `kgalign synth SYNTH_ARGS DIR/SRC`, imported with
 * `kgalign import --format openea` into DIR/DATA. Returns 0, or the exit
 * status of the command that failed; asserts nothing (fixtures run it
 * outside a test too). */
int kga_test_synth_import(const char *dir, const char *synth_args,
                          const char *src, const char *data);

/* ------------------------------------------------------------------------
 * Imports and graph stores
 * ------------------------------------------------------------------------ */

/* The importer's default parameters (kga_import_params_init()) with the
 * format and the source and output directories set. Asserts nothing. */
kga_import_params_t kga_test_import_params(kga_import_format_t format,
                                           const char *src, const char *out);

/* kga_import_run() of src into out in the given format, with the default
 * parameters but lenient and entity_columns (NULL: the importer's choice),
 * without progress. Returns its code; asserts nothing. */
int kga_test_import(kga_import_format_t format, const char *src,
                    const char *out, int lenient, const char *entity_columns,
                    kga_import_summary_t *summary, kga_err_t *err);

/* A builder holding a chain: n entities "<prefix><i>", with ids 0..n-1 in
 * that order, and the triple (i, "next", i + 1) for every i + 1 < n. The
 * caller frees it. */
kga_graph_builder_t *kga_test_chain(const char *prefix, uint32_t n);

/* The graph store dir/name, opened (the caller closes it). */
kga_store_t *kga_test_open_store(const char *dir, const char *name);

/* Two graph stores in a new directory /tmp/kga_test_NAME.XXXXXX:
 * path[0] = dir/left.kgs and path[1] = dir/right.kgs, written from two
 * builders and opened as s[0] and s[1]. */
typedef struct {
    char dir[64];
    char path[2][128];
    kga_store_t *s[2];
} kga_test_stores_t;

/* Writes b[0] and b[1] (still the caller's to free) as st's two stores and
 * opens them. */
void kga_test_stores_write(kga_test_stores_t *st, const char *name,
                           kga_graph_builder_t *const b[2]);
/* Closes st's stores and removes its directory. */
void kga_test_stores_close(kga_test_stores_t *st);

/* Whether entity ent of s has an edge by relation rel in direction dir to
 * nbr. Asserts nothing. */
int kga_test_has_edge(const kga_store_t *s, uint32_t ent, kga_dir_t dir,
                      uint32_t rel, uint32_t nbr);

/* ------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------ */

/* The number at key of object o, asserted to be there. */
double kga_test_num(const json_t *o, const char *key);

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* Asserts that text contains each string of needles (a NULL-terminated
 * list), naming the first one missing (and the text's start).
 * KGA_TEST_EXPECT_CONTAINS(text, "a", "b") writes the list in place. */
void kga_test_expect_contains(const char *text, const char *const *needles);
#define KGA_TEST_EXPECT_CONTAINS(text, ...)                                 \
    kga_test_expect_contains(text, (const char *const[]){__VA_ARGS__, NULL})

/* A call returned rc and filled err: asserts that both say code, and that
 * the message contains `where` when it is not NULL. */
void kga_test_expect_error(int rc, const kga_err_t *err, int code,
                           const char *where);

/* ------------------------------------------------------------------------
 * File images, for the validators' tests
 * ------------------------------------------------------------------------ */

/* A file's bytes in a heap buffer of exactly len bytes (so that ASan sees
 * any read past it); the owner frees data. */
typedef struct {
    uint8_t *data;
    size_t len;
} kga_test_image_t;

kga_test_image_t kga_test_image_read(const char *path);
kga_test_image_t kga_test_image_copy(kga_test_image_t img);

/* Little-endian fields at byte pos; asserted to lie inside the image. */
uint32_t kga_test_get32(kga_test_image_t img, uint64_t pos);
uint64_t kga_test_get64(kga_test_image_t img, uint64_t pos);
void kga_test_put32(kga_test_image_t img, uint64_t pos, uint32_t v);
void kga_test_put64(kga_test_image_t img, uint64_t pos, uint64_t v);

/* Damage as data. A place names a part of the format (`base`, with a
 * section `id` or `name` as the format needs; the test's locate function
 * knows them) and a byte offset in it. An edit changes the image there:
 *   SET    writes `value` in `width` bytes (1, 4 or 8);
 *   ADD    adds `value` to the `width`-byte field (modulo its size; a
 *          negative value is a subtraction);
 *   COPY   copies `width` bytes from `from`, then, for a field of 4 or 8
 *          bytes, adds `value`;
 *   SWAP   swaps `width` bytes with those at `from`;
 *   BYTES  writes the `width` bytes of `bytes`;
 *   GROW   appends `value` zero bytes (no place);
 *   CALL   calls `call`, which damages the image itself, where the place
 *          has to be searched for.
 * A case's expected message `where` may hold one '@', read as the position
 * of its first edit. */
typedef enum {
    KGA_TEST_END = 0, /* no more edits */
    KGA_TEST_SET,
    KGA_TEST_ADD,
    KGA_TEST_COPY,
    KGA_TEST_SWAP,
    KGA_TEST_BYTES,
    KGA_TEST_GROW,
    KGA_TEST_CALL
} kga_test_op_t;

typedef struct {
    int base; /* KGA_TEST_AT_FILE, or one the format's locate knows */
    uint32_t id;
    const char *name;
    uint64_t at;
} kga_test_place_t;

typedef struct kga_test_image_edit kga_test_edit_t;
struct kga_test_image_edit {
    kga_test_op_t op;
    kga_test_place_t to;
    unsigned width;
    uint64_t value;
    kga_test_place_t from;
    const char *bytes;
    void (*call)(kga_test_image_t *img);
};

#define KGA_TEST_MAX_EDITS 3

typedef struct {
    const char *what; /* names the case in a failure */
    kga_test_edit_t edits[KGA_TEST_MAX_EDITS];
    int fix_checksum; /* the checksum is recomputed after the damage, so
                         that the structural checks must catch it */
    int code;
    const char *where;
} kga_test_damage_t;

/* The edits of a table, by kind: width in bytes, a place, and the value,
 * the other place or the bytes. */
#define KGA_TEST_NOWHERE {0, 0, NULL, 0}
#define EDIT_SET(width, to, v)                                            \
    {KGA_TEST_SET, to, width, (uint64_t)(v), KGA_TEST_NOWHERE, NULL, NULL}
#define EDIT_ADD(width, to, v)                                            \
    {KGA_TEST_ADD, to, width, (uint64_t)(v), KGA_TEST_NOWHERE, NULL, NULL}
#define EDIT_COPY(width, to, from, plus)                                  \
    {KGA_TEST_COPY, to, width, (uint64_t)(plus), from, NULL, NULL}
#define EDIT_SWAP(width, to, other)                                       \
    {KGA_TEST_SWAP, to, width, 0, other, NULL, NULL}
#define EDIT_BYTES(to, text)                                              \
    {KGA_TEST_BYTES, to, sizeof(text) - 1, 0, KGA_TEST_NOWHERE, text, NULL}
#define EDIT_GROW(n)                                                      \
    {KGA_TEST_GROW, KGA_TEST_NOWHERE, 0, (uint64_t)(n), KGA_TEST_NOWHERE,   \
     NULL, NULL}
#define EDIT_CALL(fn)                                                     \
    {KGA_TEST_CALL, KGA_TEST_NOWHERE, 0, 0, KGA_TEST_NOWHERE, NULL, fn}

/* What the damage tests need to know of a file format: a fresh image of
 * the test's file (malloc'd), where a place is (places of base
 * KGA_TEST_AT_FILE, byte offsets from the file's start, are found without
 * it), how to recompute the checksum, and the validator. */
#define KGA_TEST_AT_FILE 0
typedef struct {
    kga_test_image_t (*image)(void);
    uint64_t (*locate)(kga_test_image_t img, kga_test_place_t place);
    void (*fix_checksum)(kga_test_image_t img);
    int (*validate)(const void *buf, size_t len, kga_err_t *err);
} kga_test_format_t;

/* Applies d to img (which GROW may reallocate). Returns the position of
 * its first edit (0 without a place). */
uint64_t kga_test_damage_apply(kga_test_image_t *img,
                               const kga_test_damage_t *d,
                               const kga_test_format_t *format);

/* One case of a table: a fresh image damaged by d, its checksum fixed when
 * d asks, and the validator's code and message checked against d (its '@'
 * replaced by the position of the first edit). */
void kga_test_damage_check(const kga_test_damage_t *d,
                           const kga_test_format_t *format);

/* The first `cut` bytes of img, in a heap buffer of exactly that size (so
 * that ASan sees any read past it), must read as a truncated file to
 * validate. Nothing is checked for a cut at or past the end (an empty last
 * section starts at the end of the file). */
void kga_test_truncated_check(kga_test_image_t img,
                              int (*validate)(const void *buf, size_t len,
                                              kga_err_t *err),
                              uint64_t cut);

/* Flips each byte of img's header, [0, header_size), by each of the n_masks
 * masks, in a copy: the validator must reject it with code_at(pos), the
 * code of the check that covers that byte. code_at returns 0 for the file
 * size, whose damage reads as a truncated file when the size grows and as
 * a format error when it shrinks. img is left as it was. */
void kga_test_header_flips_check(kga_test_image_t img,
                                 const kga_test_format_t *format,
                                 size_t header_size, const uint8_t *masks,
                                 size_t n_masks, int (*code_at)(size_t pos));

/* Flips each byte in [from, to) of img, by each of the n_masks masks, in a
 * copy: the validator must reject it with KGA_ECHECKSUM, naming the
 * checksum, and again, once format's fix_checksum has recomputed the
 * checksum, with code (or with also_code, unless that is 0) and a message
 * that contains `where` (NULL: any message). img is left as it was. */
void kga_test_flips_check(kga_test_image_t img,
                          const kga_test_format_t *format, uint64_t from,
                          uint64_t to, const uint8_t *masks, size_t n_masks,
                          int code, int also_code, const char *where);

#endif
