#ifndef KGA_NAME_TFIDF_H
#define KGA_NAME_TFIDF_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/pool.h"
#include "features/name_features.h"
#include "features/sparse.h"
#include "store/store.h"

/* The TF-IDF name similarity of two graphs (docs/model.md, "Names").
 *
 * A name has one or two forms: the name itself and, with params.translit,
 * its Latin form (translit.h), so that names in different scripts can be
 * compared. Each form has its own TF-IDF model: one L2-normalised row per
 * entity and side (row = internal entity id), columns = buckets, value =
 * tf * idf with idf = log((N + 1) / (df + 1)) + 1 counted over the N
 * entities of both graphs. Entities without a name have empty rows.
 *
 * How much each form counts is the translit weight a, in [0, 1]:
 *
 *     cosine(i, j) = (1 - a) cos_name(i, j) + a cos_latin(i, j)
 *
 * computed as one dot product: the row the searches and the cosine use is
 * [sqrt(1 - a) name row, sqrt(a) Latin row], the Latin buckets placed
 * after the name's. A form of weight 0 adds no entries, so with a = 0 the
 * rows are exactly those of the name alone. Training picks a from the
 * validation links (align/fusion.h); a model keeps it. */
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

/* Builds the model over the entity names of both stores, with translit
 * weight 0; the Latin forms are made on pool (NULL: the calling thread).
 * The result is owned by the caller (kga_tfidf_free) and does not refer to
 * the stores. Returns 0, KGA_EINVAL (parameters), KGA_EUNSUPPORTED (ICU
 * cannot transliterate), KGA_ENOMEM or KGA_ELIMIT, with a message. */
int kga_tfidf_build(const kga_store_t *left, const kga_store_t *right,
                    const kga_name_feature_params_t *p, kga_pool_t *pool,
                    kga_tfidf_t **out, kga_err_t *err);

/* Same, with the document frequencies counted over the first docs[0] left
 * and docs[1] right entities only (NULL: all): a later generation of the
 * stores (store.h) keeps the idf of the generation a model was trained
 * on, so that its entities' rows stay the model's. */
int kga_tfidf_build_docs(const kga_store_t *left, const kga_store_t *right,
                         const kga_name_feature_params_t *p,
                         const uint32_t *docs, kga_pool_t *pool,
                         kga_tfidf_t **out, kga_err_t *err);

/* Same over two name lists; the strings are not kept. */
int kga_tfidf_build_lists(const kga_name_list_t *left,
                          const kga_name_list_t *right,
                          const kga_name_feature_params_t *p,
                          kga_pool_t *pool, kga_tfidf_t **out,
                          kga_err_t *err);

/* 2 when the model has the Latin form (params.translit), else 1. */
int kga_tfidf_forms(const kga_tfidf_t *t);

/* Sets the translit weight (a in [0, 1]; must be 0 with one form) and
 * rebuilds the rows and indexes; not while another thread uses t. Returns
 * 0, KGA_EINVAL or KGA_ENOMEM (t then keeps its previous weight). */
int kga_tfidf_set_translit_weight(kga_tfidf_t *t, float a, kga_err_t *err);

float kga_tfidf_translit_weight(const kga_tfidf_t *t);

/* Frees the rows of each form, which only a change of the weight reads,
 * and keeps the weighted rows, the indexes and the idf (inline names are
 * still weighed). A copy of every row less (two with the Latin form); for
 * the time after the weight is decided. From then on
 * kga_tfidf_set_translit_weight() fails with KGA_EINVAL. */
void kga_tfidf_fix_weight(kga_tfidf_t *t);

/* The matrix of one side (KGA_TFIDF_LEFT or KGA_TFIDF_RIGHT) under the
 * current weight, owned by t: columns are forms x 2^bucket_bits. */
const kga_csr_t *kga_tfidf_matrix(const kga_tfidf_t *t, int side);

/* Tie-breaking keys of one side (a hash of each external id), owned by t. */
const uint64_t *kga_tfidf_keys(const kga_tfidf_t *t, int side);

const kga_name_feature_params_t *kga_tfidf_params(const kga_tfidf_t *t);

/* Cosine of left entity `left` and right entity `right` (ids in range; 0
 * when either name is empty). Equal to the score kga_tfidf_topk() gives. */
float kga_tfidf_cosine(const kga_tfidf_t *t, uint32_t left, uint32_t right);

/* The row of a name that was not part of the build (a new entity), with
 * the model's idf and weight: buckets and values as in the matrices
 * (caller-owned arrays of cap entries; *n gets the count, or the count
 * needed with KGA_ERANGE). Opens a transliterator of its own when the
 * Latin form counts: a costly call, for tools and tests. Returns 0,
 * KGA_ERANGE, KGA_ENOMEM or KGA_EUNSUPPORTED. */
int kga_tfidf_vectorize(const kga_tfidf_t *t, const char *name,
                        uint32_t *buckets, float *values, size_t cap,
                        size_t *n);

/* The row of entity `ent` of side (ids in range), under the current
 * weight. */
kga_sparse_vec_t kga_tfidf_row(const kga_tfidf_t *t, int side, uint32_t ent);

/* Name candidates of one row (an entity's, kga_tfidf_row(), or one from
 * outside, kga_tfidf_vectorize()) against the entities of side `other`
 * but those with skip[e] != 0 (NULL: none): as kga_tfidf_topk() gives them
 * for an entity with that row and the others as candidates. */
int kga_tfidf_topk_vec(const kga_tfidf_t *t, kga_sparse_vec_t row, int other,
                       const uint8_t *skip, size_t k, uint32_t *out_idx,
                       float *out_score, kga_err_t *err);

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

/* kga_tfidf_topk_vec() by blocking, as kga_tfidf_topk_blocked() searches
 * for an entity with that row: the approximate search's one-entity
 * queries (the service's, and entities from outside the stores). */
int kga_tfidf_topk_vec_blocked(const kga_tfidf_t *t, kga_sparse_vec_t row,
                               int other, const uint8_t *allowed,
                               uint64_t budget, size_t pool, size_t k,
                               uint32_t *out_idx, float *out_score,
                               kga_err_t *err);

/* Bytes the model holds (forms, weighted rows, keys, indexes). */
size_t kga_tfidf_bytes(const kga_tfidf_t *t);

void kga_tfidf_free(kga_tfidf_t *t);

#endif
