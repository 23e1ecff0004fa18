#ifndef KGA_NAME_FEATURES_H
#define KGA_NAME_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* The name channel of level 0 (docs/model.md): a normalised name becomes a
 * bag of hashed character n-grams and word tokens. The same buckets feed the
 * learned bucket-vector average of the model and the TF-IDF name similarity
 * (name_tfidf.h) that generates candidates and scores pairs.
 *
 * Normalisation works on code points, with fixed tables and no locale:
 * lower-case ASCII, Latin-1, Latin Extended-A, basic Greek and Cyrillic;
 * optionally strip accents (NFD-like for Latin-1 and Latin Extended-A, plus
 * Greek tonos and a few Cyrillic letters; ß -> ss, æ -> ae, œ -> oe);
 * punctuation, symbols and white space collapse to one space; the result is
 * trimmed. Bytes that are not valid UTF-8 are kept as single units. Only the
 * first KGA_NAME_MAX_BYTES bytes of a name are read. */

#define KGA_NAME_MAX_BYTES 2048u
#define KGA_NAME_MIN_BUCKET_BITS 16u
#define KGA_NAME_MAX_BUCKET_BITS 20u
#define KGA_NAME_MAX_NGRAM 8u

/* Which spellings of a name contribute features. */
typedef enum {
    KGA_ACCENTS_KEEP = 0,  /* the lower-cased name only */
    KGA_ACCENTS_STRIP = 1, /* the lower-cased name with accents stripped */
    KGA_ACCENTS_BOTH = 2   /* both bags added (one when they are equal) */
} kga_accents_t;

typedef struct {
    uint32_t bucket_bits; /* B = 2^bucket_bits buckets, 16..20 */
    uint32_t ngram_min;   /* n-gram lengths in code points, */
    uint32_t ngram_max;   /* 1 <= min <= max <= KGA_NAME_MAX_NGRAM */
    int per_word;         /* 1: n-grams of "#word#" per word; 0: of "#name#" */
    int words;            /* 1: add the word tokens */
    float word_weight;    /* count of one word token (an n-gram counts 1) */
    kga_accents_t accents;
    int sublinear_tf;     /* TF-IDF: tf = 1 + log(count) instead of count */
    int translit;         /* TF-IDF: 1 adds the Latin form (translit.h) */
} kga_name_feature_params_t;

/* Fills *p with the defaults (measured on DBP15K fr_en, see name_features.c). */
void kga_name_feature_params_init(kga_name_feature_params_t *p);

/* 0 when *p is usable, else KGA_EINVAL with a message naming the field. */
int kga_name_feature_params_check(const kga_name_feature_params_t *p,
                                  kga_err_t *err);

/* Writes the normalised name as NUL-terminated UTF-8 into out (cap bytes,
 * caller-owned); *len (may be NULL) receives its length. The result is never
 * longer than the input, so cap = strlen(name) + 1 always suffices. Returns
 * 0 or KGA_ERANGE when cap is too small (out is then truncated and
 * terminated, when cap > 0). */
int kga_name_normalize(const char *name, int strip_accents, char *out,
                       size_t cap, size_t *len);

/* Largest number of features kga_name_features() can return for a name of
 * name_len bytes. */
size_t kga_name_features_bound(size_t name_len,
                               const kga_name_feature_params_t *p);

/* The feature bag of a name: *n sorted, distinct bucket ids in buckets[] and
 * their counts in weights[] (caller-owned arrays of cap entries; word tokens
 * count word_weight each). NULL or "" gives an empty bag. Returns 0,
 * KGA_EINVAL for bad parameters, KGA_ENOMEM, or KGA_ERANGE when cap is too
 * small (*n then holds the number needed). */
int kga_name_features(const char *name, const kga_name_feature_params_t *p,
                      uint32_t *buckets, float *weights, size_t cap,
                      size_t *n);


#endif
