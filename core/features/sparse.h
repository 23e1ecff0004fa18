#ifndef KGA_SPARSE_H
#define KGA_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Sparse matrices in compressed sparse row form and an exact sparse top-K
 * similarity search over them (name candidates: TF-IDF cosine of the left
 * entities against the right ones).
 *
 * A kga_csr_t lives in caller-owned storage and owns its three arrays:
 * kga_csr_init() allocates them, kga_csr_destroy() frees them. Row r holds
 * the entries indptr[r] .. indptr[r+1]-1 of indices/data; within a row the
 * column indices are strictly increasing and below cols. Every function
 * below except kga_csr_validate() takes that invariant for granted. Values
 * must be finite. */

typedef struct {
    uint32_t rows;
    uint32_t cols;
    uint64_t *indptr;  /* rows + 1 offsets, indptr[0] = 0 */
    uint32_t *indices; /* column of each stored entry */
    float *data;       /* value of each stored entry */
} kga_csr_t;

/* One sparse row outside a matrix, or a view of a matrix row: n entries,
 * columns strictly increasing. Points into the caller's arrays. */
typedef struct {
    const uint32_t *indices;
    const float *data;
    uint32_t n;
} kga_sparse_vec_t;

/* Upper bounds on what kga_csr_init() allocates, so that sizes coming from
 * input fail with KGA_ELIMIT instead of exhausting memory. */
#define KGA_CSR_MAX_ROWS (UINT32_MAX - 1u)
#define KGA_CSR_MAX_NNZ (UINT64_C(1) << 36)

/* Threads used by kga_sparse_topk() at most. */
#define KGA_SPARSE_MAX_THREADS 64

/* Allocates a rows x cols matrix with room for nnz entries; indptr is all
 * zero (every row empty) until the caller fills it. Returns 0, KGA_ELIMIT
 * when rows or nnz exceed the limits above, or KGA_ENOMEM; on failure *m
 * owns nothing and kga_csr_destroy() on it is a no-op. */
int kga_csr_init(kga_csr_t *m, uint32_t rows, uint32_t cols, uint64_t nnz);

/* Checks the structural invariant (offsets monotone and in bounds, columns
 * strictly increasing within rows and below cols, values finite). Returns 0
 * or KGA_EFORMAT with a message naming the row. */
int kga_csr_validate(const kga_csr_t *m, kga_err_t *err);

/* Number of stored entries. */
uint64_t kga_csr_nnz(const kga_csr_t *m);

/* Scales each non-empty row to unit L2 norm (rows whose norm is 0 are left
 * as they are). */
void kga_csr_normalize_rows(kga_csr_t *m);

/* Dot product of row i of a and row j of b (same column space): a merge of
 * the two sorted rows, summed in increasing column order in float. This is
 * bit for bit the score kga_sparse_topk() reports for the pair. */
float kga_csr_row_dot(const kga_csr_t *a, uint32_t i, const kga_csr_t *b,
                      uint32_t j);

/* Row r of m as a vector (r in range). */
kga_sparse_vec_t kga_csr_row(const kga_csr_t *m, uint32_t r);

/* The dot product of two vectors, computed as kga_csr_row_dot() computes
 * it: the same value for the same rows, bit for bit. */
float kga_sparse_dot(kga_sparse_vec_t a, kga_sparse_vec_t b);

/* Exact top-K search: for each of the nq query rows query_rows[q] of
 * `queries`, the k rows among the nc candidate rows cand_rows[] of `cands`
 * with the largest dot product (kga_csr_row_dot). query_rows NULL means rows
 * 0..nq-1 (nq = queries->rows); cand_rows NULL means all rows of cands (nc
 * is then ignored). Candidate rows must be distinct.
 *
 * A candidate is a hit only when it shares at least one column with the
 * query; the hits of query q go to out_idx[q*k ..] (row ids of `cands`) and
 * out_score[q*k ..] in decreasing score, the rest of the k slots are padded
 * with UINT32_MAX and -INFINITY. Equal scores are ordered by cand_keys[row]
 * ascending (then by row): pass a hash of each candidate's external id so
 * that internal ids never decide a tie. cand_keys NULL uses a hash of the
 * row id (tests only). cand_keys, if given, has cands->rows entries.
 *
 * The work is split over `threads` POSIX threads (<= 0 means 1, at most
 * KGA_SPARSE_MAX_THREADS); the results are identical for every thread
 * count (a thread that cannot be started leaves its share to the others).
 * The caller owns the output arrays (nq * k entries each). Returns 0,
 * KGA_EINVAL (column spaces differ, a row id out of range, a repeated
 * candidate), KGA_ELIMIT (more than 2^26 columns) or KGA_ENOMEM; on failure
 * the output is unspecified. */
int kga_sparse_topk(const kga_csr_t *queries, const uint32_t *query_rows,
                    size_t nq, const kga_csr_t *cands,
                    const uint32_t *cand_rows, size_t nc,
                    const uint64_t *cand_keys, size_t k, int threads,
                    uint32_t *out_idx, float *out_score, kga_err_t *err);

/* An inverted index over every row of a candidate matrix, built once for
 * repeated searches against all of its rows (the service's one-entity
 * queries, where building the index per call would cost more than the
 * search). It copies what it needs from cands and cand_keys (same meaning
 * as in kga_sparse_topk(); NULL keys hash the row id). Returns 0,
 * KGA_ELIMIT or KGA_ENOMEM. */
typedef struct kga_sparse_index kga_sparse_index_t;
int kga_sparse_index_new(const kga_csr_t *cands, const uint64_t *cand_keys,
                         kga_sparse_index_t **out, kga_err_t *err);
void kga_sparse_index_free(kga_sparse_index_t *ix);
/* Bytes the index holds (0 for NULL). */
size_t kga_sparse_index_bytes(const kga_sparse_index_t *ix);

/* kga_sparse_topk() with cand_rows NULL over the indexed matrix: the same
 * results, bit for bit. */
int kga_sparse_topk_indexed(const kga_csr_t *queries,
                            const uint32_t *query_rows, size_t nq,
                            const kga_sparse_index_t *ix, size_t k,
                            int threads, uint32_t *out_idx, float *out_score,
                            kga_err_t *err);

/* The same with the rows r of the indexed matrix where skip[r] != 0 left
 * out (skip NULL: none): the results kga_sparse_topk() gives with the
 * other rows as cand_rows (in increasing order), bit for bit. */
int kga_sparse_topk_indexed_skip(const kga_csr_t *queries,
                                 const uint32_t *query_rows, size_t nq,
                                 const kga_sparse_index_t *ix,
                                 const uint8_t *skip, size_t k, int threads,
                                 uint32_t *out_idx, float *out_score,
                                 kga_err_t *err);

/* Blocking: an approximate search over the indexed matrix for graphs
 * where reading every posting costs too much (a frequent n-gram's postings
 * hold a share of all rows, so the exact search grows with the square of
 * the rows). Each query reads its columns from the one with the fewest
 * postings on, as long as the postings read stay within `budget`; the
 * `pool` best candidates by the partial sums are rescored exactly
 * (kga_csr_row_dot) and the best k of them returned, in the layout of
 * kga_sparse_topk(). Candidates whose allowed[row] is 0 are skipped
 * (allowed NULL: none). budget 0 is the exact kga_sparse_topk_indexed()
 * (allowed must then be NULL). */
typedef struct {
    const uint8_t *allowed; /* per row of the indexed matrix, or NULL */
    uint64_t budget;        /* postings a query reads at most; 0: all */
    size_t pool;            /* candidates rescored exactly (>= k) */
} kga_sparse_options_t;

/* cands must be the matrix ix was built over (for the exact rescoring).
 * Returns 0, KGA_EINVAL (columns differ, a query row out of range, another
 * matrix), KGA_ELIMIT or KGA_ENOMEM. */
int kga_sparse_topk_blocked(const kga_csr_t *queries,
                            const uint32_t *query_rows, size_t nq,
                            const kga_sparse_index_t *ix,
                            const kga_csr_t *cands,
                            const kga_sparse_options_t *opt, size_t k,
                            int threads, uint32_t *out_idx, float *out_score,
                            kga_err_t *err);

/* Frees the arrays; *m is left empty (0 rows) and may be destroyed again. */
void kga_csr_destroy(kga_csr_t *m);

#endif
