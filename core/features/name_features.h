#ifndef KGA_NAME_FEATURES_H
#define KGA_NAME_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "features/sparse.h"
#include "store/store.h"

/* The name channel of level 0 (docs/model.md): a normalised name becomes a
 * bag of hashed character n-grams and word tokens. The same buckets feed the
 * learned bucket-vector average of the model and the TF-IDF name similarity
 * that generates candidates and scores pairs.
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

/* ---- TF-IDF name similarity ---------------------------------------------- */

/* The TF-IDF model of the names of two graphs: one L2-normalised row per
 * entity and side (row = internal entity id), columns = buckets, value =
 * tf * idf with idf = log((N + 1) / (df + 1)) + 1 counted over the N
 * entities of both graphs. Entities without a name have an empty row. */
typedef struct kga_tfidf kga_tfidf_t;

#define KGA_TFIDF_LEFT 0
#define KGA_TFIDF_RIGHT 1

/* Names and external ids of one side, for callers without a store (tests,
 * tools). ext_ids only serve as tie-breaking keys in the top-K search. */
typedef struct {
    uint32_t count;
    const char *const *names;   /* count names; NULL or "" for none */
    const char *const *ext_ids; /* count external ids, not NULL */
} kga_name_list_t;

/* Builds the model over the entity names of both stores. The result is owned
 * by the caller (kga_tfidf_free) and does not refer to the stores. Returns 0,
 * KGA_EINVAL (parameters) or KGA_ENOMEM / KGA_ELIMIT, with a message. */
int kga_tfidf_build(const kga_store_t *left, const kga_store_t *right,
                    const kga_name_feature_params_t *p, kga_tfidf_t **out,
                    kga_err_t *err);

/* Same over two name lists; the strings are not kept. */
int kga_tfidf_build_lists(const kga_name_list_t *left,
                          const kga_name_list_t *right,
                          const kga_name_feature_params_t *p,
                          kga_tfidf_t **out, kga_err_t *err);

/* The matrix of one side (KGA_TFIDF_LEFT or KGA_TFIDF_RIGHT), owned by t. */
const kga_csr_t *kga_tfidf_matrix(const kga_tfidf_t *t, int side);

/* Tie-breaking keys of one side (a hash of each external id), owned by t. */
const uint64_t *kga_tfidf_keys(const kga_tfidf_t *t, int side);

const kga_name_feature_params_t *kga_tfidf_params(const kga_tfidf_t *t);

/* Cosine of left entity `left` and right entity `right` (ids in range; 0
 * when either name is empty). Equal to the score kga_tfidf_topk() gives. */
float kga_tfidf_cosine(const kga_tfidf_t *t, uint32_t left, uint32_t right);

/* The normalised TF-IDF row of a name that was not part of the build (a new
 * entity), with the model's idf: like kga_name_features() but the weights
 * are the row values. */
int kga_tfidf_vectorize(const kga_tfidf_t *t, const char *name,
                        uint32_t *buckets, float *values, size_t cap,
                        size_t *n);

/* Name candidates: for each of the nq entities queries[] of side
 * query_side, the k entities of the other side among cands[] (NULL: all of
 * them, nc ignored) with the highest cosine, by kga_sparse_topk() (same
 * output layout and padding; ties ordered by the hash of the external id).
 * queries NULL means every entity of query_side. */
int kga_tfidf_topk(const kga_tfidf_t *t, int query_side,
                   const uint32_t *queries, size_t nq, const uint32_t *cands,
                   size_t nc, size_t k, int threads, uint32_t *out_idx,
                   float *out_score, kga_err_t *err);

/* The same by blocking (kga_sparse_topk_blocked()): each query reads at
 * most `budget` postings of its rarest buckets, the `pool` best partial
 * scores are rescored exactly; candidates are the entities of the other
 * side whose allowed[] byte is set (allowed NULL: all). Sub-quadratic, and
 * approximate: the cosines returned are exact, but a candidate sharing
 * only frequent buckets with the query is missed. budget 0: exact (then
 * allowed must be NULL). */
int kga_tfidf_topk_blocked(const kga_tfidf_t *t, int query_side,
                           const uint32_t *queries, size_t nq,
                           const uint8_t *allowed, uint64_t budget,
                           size_t pool, size_t k, int threads,
                           uint32_t *out_idx, float *out_score,
                           kga_err_t *err);

/* Bytes the model holds (matrices, keys, indexes). */
size_t kga_tfidf_bytes(const kga_tfidf_t *t);

void kga_tfidf_free(kga_tfidf_t *t);

#endif
