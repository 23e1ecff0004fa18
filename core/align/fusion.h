#ifndef KGA_FUSION_H
#define KGA_FUSION_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/pool.h"
#include "features/name_tfidf.h"
#include "base/progress.h"
#include "base/timeline.h"
#include "store/store.h"
#include "features/structure.h"

/* The fused aligner: structural features (structure.h) and the TF-IDF name
 * channel (name_features.h) scored together, normalised by sparse Sinkhorn
 * (sinkhorn.h), and bootstrapped from its own confident pairs. No
 * gradient training: a few rounds of propagation and matrix products.
 *
 * Domain. L = left entities in no training link, R = right entities in no
 * training link. Validation links stay in the domain as unlabelled
 * entities; they only decide whether the names are usable and when to
 * stop. Test links are never seen here.
 *
 * Scores. For a pair (i, j):
 *     S(i, j)     = F_i . F_j + wn * namecos(i, j)
 *     log P(i, j) = S(i, j) / tau + lu[i] + lv[j]
 * F are the structural features of the final seed list, wn is 0 or
 * params.name_weight (names unusable or usable), lu and lv the Sinkhorn
 * scalings. Both formulas are defined for ANY pair, so a service scores a
 * pair exactly as the evaluator does.
 *
 * Training (kga_fusion_train). First the names: name-only validation
 * Hits@1 (each validation left entity ranked against all of R by the name
 * cosine, ties against) under each translit weight of the grid (how much
 * the names' Latin form counts, name_tfidf.h; the lesser weight on a tie);
 * the best weight is kept, and its Hits@1 below name_threshold gives
 * wn = 0. Then rounds, the first from the training links alone:
 *   1. F from the current seeds;
 *   2. candidates: for each left entity of L its topk right entities of R
 *      by S (kga_fusion_topk);
 *   3. Sinkhorn over those candidates -> lu, lv on the domain;
 *   4. validation Hits@1 by log P over the candidates (a true match
 *      outside them is a miss);
 *   5. new seeds = training links + every mutual argmax pair of P whose
 *      P(i, j) is at least seed_min_p (recomputed from scratch each
 *      round). A pseudo-seed anchors its pair for good: an entity without
 *      counterpart that bootstrapping pairs with another's counterpart
 *      looks matched forever after, so only confident pairs seed. 0.9
 *      instead of any P, measured: closed test Hits@1 DBP15K fr_en 0.9905
 *      -> 0.9936, OpenEA D-Y-15K 0.8098 -> 0.8177; with a fifth of the
 *      test counterparts removed, D-Y's open-world precision 0.848 ->
 *      0.928 at recall 0.689 -> 0.680.
 * After `rounds` extra rounds, or once validation Hits@1 gains less than
 * min_gain over the previous round, the best round's state is kept (the
 * later of equally good rounds).
 *
 * Fallbacks, so that lu and lv exist for every entity. Let c be the median
 * over the rows of L of lu + rowmax / tau (rowmax: the row's best S; c is
 * the typical log scale Sinkhorn gave a row). The left entity of a training
 * link (i, i') gets lu = -S(i, i') / tau + c, so that a training pair
 * scores like a typical confident match; a row of L without candidates
 * gets lu = -m / tau + c, m the median rowmax. A right entity that no row
 * of L chose as a candidate (training entities included) gets the median
 * lv of those that were chosen.
 * Without validation links, the names are used and all rounds run.
 *
 * Nothing depends on internal ids: ties are broken by hashes of external
 * ids. Everything is deterministic, also in the number of threads. */

#define KGA_FUSION_MAX_ROUNDS 16u
#define KGA_FUSION_MAX_TOPK 1024u

/* The check of every ranking entry point that takes k from its caller:
 * 0, or KGA_EINVAL "k must be within 1..KGA_FUSION_MAX_TOPK". */
int kga_fusion_check_k(size_t k, kga_err_t *err);

/* Width of the projected features P (a count sketch of F, fusion.c):
 * the approximate search compares them first, the GNN takes them as
 * input. */
#define KGA_FUSION_COARSE_DIM 128u

/* How candidates are searched. Exact: every pair's S, by blocks of matrix
 * products, and every posting of the name index: the cost grows with the
 * product of the sides. Approximate: an inverted-file index over P
 * (features/ann.h) proposes `coarse` candidates a query, whose S is then
 * computed exactly, and the name index is read by blocking
 * (kga_tfidf_topk_blocked): the cost grows about linearly. Auto: exact
 * while the sides hold at most KGA_FUSION_EXACT_PAIRS pairs, where it is
 * faster and loses nothing. */
typedef enum {
    KGA_SEARCH_AUTO = 0,
    KGA_SEARCH_EXACT = 1,
    KGA_SEARCH_APPROX = 2
} kga_search_t;

#define KGA_FUSION_EXACT_PAIRS 4.0e9

/* 1 when a search of that mode over sides of those sizes is approximate. */
int kga_fusion_search_approx(kga_search_t search, uint32_t n_left,
                             uint32_t n_right);

typedef struct {
    kga_structure_params_t structure;
    kga_name_feature_params_t names;
    float name_weight;       /* wn when the names are usable (1) */
    double name_threshold;   /* usable: name-only valid Hits@1 >= this (0.2) */
    uint32_t topk;           /* candidates per left entity (50) */
    double tau;              /* Sinkhorn temperature (0.02) */
    uint32_t sinkhorn_iters; /* (20) */
    uint32_t rounds;         /* bootstrapping rounds after the first (3) */
    double min_gain;         /* stop when valid Hits@1 gains less (0.003) */
    double seed_min_p;       /* a pseudo-seed's least P(i, j) (0.9) */
    int threads;             /* training threads; <= 0: one per CPU (0) */
    /* Right entities kept out of the domain, as if absent (NULL: none; one
     * byte per right entity, not owned, not saved): the open-world
     * simulation's hidden counterparts (open_world.h). */
    const uint8_t *exclude_right;
    /* Entities of each store the state was decided on, the first ones (0:
     * all; rebuild only, not saved): a later generation of the stores
     * (store.h) counts the name idf over these alone, so that they keep
     * the model's rows, and kga_fusion_extend() scales the others. */
    uint32_t trained[2];
    /* The candidate search (not saved: a choice of the machine, not of
     * the model). */
    kga_search_t search;     /* (auto) */
    uint32_t probes;         /* index cells a query searches (32) */
    uint32_t coarse;         /* index candidates a query, as a multiple
                                of the candidates asked for (2) */
    uint32_t name_budget;    /* name postings a query reads (8192) */
} kga_fusion_params_t;

/* What one round did. */
typedef struct {
    uint32_t seeds;         /* pairs its features were built from */
    uint32_t pseudo_seeds;  /* mutual-argmax pairs it proposed */
    uint32_t relations_aligned; /* right directed relations aligned */
    double valid_hits1;     /* validation Hits@1 by log P */
    double seconds;         /* wall time, of which: */
    double features_seconds, index_seconds, candidates_seconds,
        sinkhorn_seconds;
} kga_fusion_round_t;

/* Translit weights training tries: 0, 0.25, 0.5, 0.75, 1. */
#define KGA_FUSION_TRANSLIT_GRID 5

/* What training did, for logs and reports. */
typedef struct {
    uint32_t domain_left, domain_right; /* |L|, |R| */
    uint32_t valid_used;     /* validation links inside the domain */
    double name_valid_hits1; /* name-only validation Hits@1 (kept weight) */
    /* Name-only validation Hits@1 under each translit weight tried (only
     * the first with one form), and the weight kept. */
    double translit_hits1[KGA_FUSION_TRANSLIT_GRID];
    float translit_weight;
    float name_weight;       /* wn chosen */
    uint32_t context_blocks; /* of the structural features, as used */
    uint32_t n_rounds;       /* rounds run */
    uint32_t best_round;     /* the round whose state was kept */
    int approx;              /* the approximate search was used */
    kga_fusion_round_t round[KGA_FUSION_MAX_ROUNDS];
    double names_seconds, name_candidates_seconds, fallback_seconds,
        seconds;
    kga_timeline_t timeline; /* the same, stage by stage, with CPU time */
} kga_fusion_report_t;

/* Everything training decides: with the stores and the parameters it
 * rebuilds the scorer exactly (kga_fusion_rebuild). */
typedef struct {
    float name_weight;        /* wn */
    float translit_weight;    /* of the names' Latin form (name_tfidf.h) */
    double tau;
    const kga_pair_t *seeds;  /* training links + pseudo-seeds */
    size_t n_seeds;
    const double *lu;         /* left entity count entries */
    const double *lv;         /* right entity count entries */
} kga_fusion_state_t;

typedef struct kga_fusion kga_fusion_t;

/* Fills *p with the defaults (the prototype's, the same for every data
 * set: DBP15K fr_en and OpenEA D-Y-15K reach their targets with them). */
void kga_fusion_params_init(kga_fusion_params_t *p);

/* 0 when *p is usable, else KGA_EINVAL with a message naming the field. */
int kga_fusion_params_check(const kga_fusion_params_t *p, kga_err_t *err);

/* Adapts *p to the sizes of the two stores before training: the
 * structural features' context blocks (structure.h) go where the search is
 * approximate. They make a row 2.6 times as long (3,328 bytes instead of
 * 1,280), which at millions of entities is gigabytes, and the approximate
 * search ranks by a sketch of the row anyway. The trainer writes the
 * adapted parameters into the model, so that opening it rebuilds the same
 * features. */
void kga_fusion_params_for(kga_fusion_params_t *p, uint32_t n_left,
                           uint32_t n_right);

/* Trains on the training links (1:1, internal ids) with the validation
 * links (may be empty) for the decisions above. progress (may be NULL) gets
 * the stages ("fusion round 2 of 4: candidate search") with their items
 * (rows, queries, iterations). report may be NULL. The
 * result is owned by the caller (kga_fusion_free) and does not refer to the
 * stores. On failure *out is NULL and err says why: KGA_EINVAL (parameters,
 * an id out of range, links not 1:1), KGA_ELIMIT, KGA_ENOMEM. */
int kga_fusion_train(const kga_store_t *left, const kga_store_t *right,
                     const kga_pair_t *train, size_t n_train,
                     const kga_pair_t *valid, size_t n_valid,
                     const kga_fusion_params_t *p,
                     const kga_progress_t *progress, kga_fusion_t **out,
                     kga_fusion_report_t *report, kga_err_t *err);

/* Rebuilds the scorer of a training run from its state (copied) without
 * training: the same stores and structure / name parameters give bit for
 * bit the same features and scores, for any number of threads (p->threads
 * threads are used while building; progress, may be NULL, gets the
 * stages). p's Sinkhorn and round settings are not used: tau and wn come
 * from the state. With p->trained set (a later generation of the stores),
 * lu and lv hold the trained entities only and the others get 0 until
 * kga_fusion_extend(). Errors as kga_fusion_train,
 * and KGA_EINVAL when lu or lv hold a non-finite value. */
int kga_fusion_rebuild(const kga_store_t *left, const kga_store_t *right,
                       const kga_fusion_params_t *p,
                       const kga_fusion_state_t *state,
                       const kga_progress_t *progress, kga_fusion_t **out,
                       kga_err_t *err);

/* The Sinkhorn scaling of a row that was not in the normalisation: one
 * more row step against the right scalings, -log sum_j exp(S_j / tau +
 * lv[j]) over its candidates, the first topk (the parameter) of cand[0..n)
 * with scores S, best first (UINT32_MAX slots skipped), so that its P sums
 * to one over them as every row's did. A row without candidates gets 0. */
double kga_fusion_row_scale(const kga_fusion_t *f, const uint32_t *cand,
                            const float *score, size_t n);

/* Gives the entities that a rebuild on a later generation of the stores
 * added (ids from p->trained[side] on) their scalings: a new left entity
 * the row step of kga_fusion_row_scale() over its best p->topk right
 * entities among rights[0..nr) (NULL: all); a new right entity the
 * median lv of the others, the fallback of a right entity no row chose.
 * Runs on pool. Returns 0 or a code of kga_fusion_topk(). */
int kga_fusion_extend(kga_fusion_t *f, const uint32_t *rights, size_t nr,
                      kga_pool_t *pool, kga_err_t *err);

/* The lv of a right entity from outside the stores: the median lv that
 * kga_fusion_extend() found (0 before it ran). */
double kga_fusion_outside_lv(const kga_fusion_t *f);

/* The state, pointing into f (valid until kga_fusion_free). */
void kga_fusion_get_state(const kga_fusion_t *f, kga_fusion_state_t *out);

/* Entity count of a side (KGA_TFIDF_LEFT / KGA_TFIDF_RIGHT). */
uint32_t kga_fusion_entities(const kga_fusion_t *f, int side);

/* The structural features of a side (one row per entity), owned by f. */
const kga_qmatrix_t *kga_fusion_features(const kga_fusion_t *f, int side);

/* The name model, owned by f. */
const kga_tfidf_t *kga_fusion_names(const kga_fusion_t *f);

/* What the feature row of an entity outside the stores needs
 * (kga_structure_row()); NULL unless f was rebuilt (kga_fusion_rebuild). */
const kga_structure_relations_t *kga_fusion_relations(const kga_fusion_t *f);

/* S of row i of the left matrix and row j of the right matrix with their
 * name cosine: kga_fusion_score() of two stored entities is this on their
 * rows of kga_fusion_features(), bit for bit. An entity outside the
 * stores brings its row as a matrix of one row of the same shape
 * (kga_structure_row()). */
float kga_fusion_score_rows(const kga_fusion_t *f, const kga_qmatrix_t *left,
                            uint32_t i, const kga_qmatrix_t *right,
                            uint32_t j, float cosine);

/* S(i, j) and log P(i, j) of one pair (ids in range). Thread-safe,
 * allocation-free; the values kga_fusion_topk() gives bit for bit. */
float kga_fusion_score(const kga_fusion_t *f, uint32_t left, uint32_t right);
double kga_fusion_log_p(const kga_fusion_t *f, uint32_t left,
                        uint32_t right);

/* Candidates: for each of the nl left entities lefts[q], the k right
 * entities among rights[] (distinct; NULL: all right entities, nr
 * ignored) with the highest S, best first, in out_idx[q*k ..] (right
 * entity ids) and out_score[q*k ..] (S). They are found as the union of the
 * k best by F_i . F_j and, when wn > 0, the k best by name cosine, each
 * scored exactly; ties go to the lower hash of the right external id. The
 * exact search finds those k best (an sgemm over blocks of rows, never the
 * whole matrix); the approximate one (see kga_search_t) proposes them.
 * Slots beyond the candidates are UINT32_MAX / -INFINITY. Runs on pool
 * (NULL: the calling thread); ticker (may be NULL) counts the queries done.
 * Not to be called from several threads at once (OpenBLAS threading is a
 * process setting). Returns 0, KGA_EINVAL (an id out of range, a repeated
 * right entity, k > KGA_FUSION_MAX_TOPK), KGA_ELIMIT or KGA_ENOMEM. */
int kga_fusion_topk(const kga_fusion_t *f, const uint32_t *lefts, size_t nl,
                    const uint32_t *rights, size_t nr, size_t k,
                    kga_pool_t *pool, kga_progress_ticker_t *ticker,
                    uint32_t *out_idx, float *out_score, kga_err_t *err);

/* The structural parameters of the features, as used: the context
 * blocks are dropped where the names carry the alignment (fusion training
 * decides; its callers write these, not the ones they asked for, into a
 * model). */
const kga_structure_params_t *kga_fusion_structure(const kga_fusion_t *f);

/* Whether candidates are searched approximately (see kga_search_t). */
int kga_fusion_approx(const kga_fusion_t *f);

/* Builds the index that the approximate search of queries of side `side`
 * reads (the other side's), if it is not built yet; nothing with the exact
 * search. Left queries find theirs built by training and rebuilding; a
 * service that answers right-side queries builds the other before it
 * serves. Returns 0 or an error (KGA_ENOMEM). */
int kga_fusion_prepare(kga_fusion_t *f, int side, int threads,
                       kga_err_t *err);

/* Frees the indexes of both sides, for a stage that searches no
 * candidates (the GNN's epochs): at 2M entities a side they hold about
 * 1 GB. kga_fusion_prepare() builds one again, the same as before. */
void kga_fusion_release_index(kga_fusion_t *f);

/* The projected features of a side (entities x KGA_FUSION_COARSE_DIM),
 * owned by f. */
const float *kga_fusion_coarse(const kga_fusion_t *f, int side);

/* Row r of m (the shape of kga_fusion_features(): an entity's row from
 * outside the stores) through the same count sketch, into out
 * (KGA_FUSION_COARSE_DIM floats): for a stored entity's row its row of
 * kga_fusion_coarse(), bit for bit. Thread-safe. */
void kga_fusion_project_row(const kga_fusion_t *f, const kga_qmatrix_t *m,
                            uint32_t r, float *out);

/* Bytes f holds (features, projections, indexes, names), for the memory
 * accounts of the scale benchmark. */
size_t kga_fusion_bytes(const kga_fusion_t *f);

/* The k best candidates of the other side for one entity `ent` of side
 * `side` (0 left, 1 right), leaving out the entities e of the other side
 * with skip[e] != 0 (NULL: none): for a left entity what kga_fusion_topk()
 * finds with the others as `rights` (up to the rounding of the structural
 * product, which kga_fusion_topk() may rank by sgemm over the dequantised
 * rows; it only decides which candidates are scored exactly), on the
 * calling thread: the query of the service's /match. The approximate
 * search (kga_fusion_approx()) answers from the other side's index when
 * it is built (kga_fusion_prepare()).
 * Safe to call from several threads at once when OpenBLAS runs
 * single-threaded (the service sets it so). Errors as kga_fusion_topk(). */
int kga_fusion_topk_one(const kga_fusion_t *f, int side, uint32_t ent,
                        const uint8_t *skip, size_t k, uint32_t *out_idx,
                        float *out_score, kga_err_t *err);

/* kga_fusion_topk_one() for an entity of `side` that is not in the
 * stores, given its feature row (row r of m, a matrix of the shape of
 * kga_fusion_features()) and its TF-IDF row (kga_tfidf_vectorize with f's
 * name model): the candidates a stored entity with these rows would get.
 * Same threading and errors, and KGA_EINVAL when m has another shape. */
int kga_fusion_topk_row(const kga_fusion_t *f, int side,
                        const kga_qmatrix_t *m, uint32_t r,
                        kga_sparse_vec_t name, const uint8_t *skip, size_t k,
                        uint32_t *out_idx, float *out_score, kga_err_t *err);

void kga_fusion_free(kga_fusion_t *f);

#endif
