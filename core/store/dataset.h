#ifndef KGA_DATASET_H
#define KGA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* A data directory as `kgalign import` writes it: left.kgs, right.kgs and the
 * links of each split, resolved to internal ids, with the split's labelled
 * pairs where it has them ({split}_pairs.tsv: the candidate pairs of record
 * matching, matches and non-matches). Only the splits asked for are read:
 * training opens train and valid, never test (a test checks it by deleting
 * test_links.tsv and test_pairs.tsv before training). */

typedef enum {
    KGA_SPLIT_TRAIN = 0,
    KGA_SPLIT_VALID = 1,
    KGA_SPLIT_TEST = 2,
    KGA_SPLIT_COUNT
} kga_split_t;

#define KGA_SPLIT_BIT(s) (1u << (s))

typedef struct {
    size_t count;
    uint32_t *left;  /* internal ids in the left store */
    uint32_t *right; /* internal ids in the right store */
} kga_pairs_t;

/* Labelled pairs: row i pairs left[i] with right[i], label[i] 1 for a
 * match, 0 for a non-match; repeats kept, as in the file. */
typedef struct {
    size_t count;
    uint32_t *left, *right;
    uint8_t *label;
} kga_labelled_t;

typedef struct {
    char *dir;
    kga_store_t *store[2]; /* left, right */
    kga_pairs_t split[KGA_SPLIT_COUNT];
    unsigned loaded; /* KGA_SPLIT_BIT of each split read */
    /* The labelled pairs of the splits read that have a pairs file. */
    kga_labelled_t labelled[KGA_SPLIT_COUNT];
    unsigned labelled_loaded; /* KGA_SPLIT_BIT of each */
} kga_dataset_t;

/* Opens dir's stores and reads the splits in `splits` (a KGA_SPLIT_BIT
 * mask). A split that was asked for but is missing is an error naming the
 * file. On failure *ds is left destroyed-safe and err says why. */
int kga_dataset_open(kga_dataset_t *ds, const char *dir, unsigned splits,
                     kga_err_t *err);

void kga_dataset_close(kga_dataset_t *ds);

/* The file name of a side's graph store inside a data directory:
 * "left.kgs" for side 0, "right.kgs" for side 1. */
const char *kga_dataset_store_file(int side);

/* The file name of a split inside a data directory ("train_links.tsv"),
 * and of its labelled pairs ("train_pairs.tsv"). */
const char *kga_split_file(kga_split_t s);
const char *kga_split_pairs_file(kga_split_t s);
const char *kga_split_name(kga_split_t s);
/* Parses "train", "valid" or "test"; KGA_EINVAL otherwise. */
int kga_split_parse(const char *name, kga_split_t *out);

/* Reads a links file and resolves it against the stores into *out (owned by
 * the caller: kga_pairs_destroy). */
int kga_pairs_read(const char *path, const kga_store_t *left,
                   const kga_store_t *right, kga_pairs_t *out,
                   kga_err_t *err);
void kga_pairs_destroy(kga_pairs_t *p);

/* Reads a labelled pairs file (links.h) and resolves it against the stores
 * into *out (the caller's: kga_labelled_destroy). */
int kga_labelled_read(const char *path, const kga_store_t *left,
                      const kga_store_t *right, kga_labelled_t *out,
                      kga_err_t *err);
void kga_labelled_destroy(kga_labelled_t *p);

#endif
