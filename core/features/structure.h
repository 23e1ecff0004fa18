#ifndef KGA_STRUCTURE_H
#define KGA_STRUCTURE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/pair.h"
#include "base/pool.h"
#include "base/progress.h"
#include "features/qmatrix.h"
#include "store/store.h"

/* Seed-anchored structural features (docs/model.md, level 0; LightEA-style
 * label propagation, no training). Every seed pair (a training link or a
 * pseudo-seed) gets one random unit vector, placed on both of its entities;
 * propagating it over each graph makes entities that sit at the same place
 * relative to the seeds look alike, whatever their names.
 *
 * The graph of one side: each triple (h, r, t) with h != t gives the edges
 * h <- t, weight (distinct tails of r) / (triples of r), directed relation
 * 2r, and t <- h, weight (distinct heads of r) / (triples of r), directed
 * relation 2r + 1. Features of an entity, in blocks of `dim` floats:
 *
 *   X0          the anchor vector of its seed pair (Gaussian, unit, seeded
 *               by a hash of the LEFT external id), zero when not a seed;
 *   X1..Xh      X_k = rownorm(A X_{k-1}): `hops` propagation steps, no
 *               self loop;
 *   T1..Tt      T_k = rownorm(sum over edges i <- j of w v_rho (.) X_{k-1}[j])
 *               (`typed_hops` steps; (.) is the element-wise product);
 *   Sig         rownorm(sum of v_rho over the entity's incident triples)
 *               (when `signature` is set);
 *   C1..Cc      the relational context (LightEA's "triple view";
 *               structure_context.c): `context_blocks` blocks that sketch,
 *               over the entity's edges i <- j with directed relation rho,
 *               the sum of (feature of rho) x (X0..X_levels of j). The
 *               feature of rho is the sum of X0..X_levels of the entities
 *               that own rho's edges, each level unit, then the whole, then
 *               projected to dim / 16 Gaussian coordinates a block; each
 *               coordinate multiplies 16 values of its own Gaussian
 *               projection of j's blocks. The blocks are scaled together so
 *               that their squared norm is context_weight times the number
 *               of blocks before them, each of which is unit or zero;
 *
 * and the whole row is L2-normalised (as stored: each block is kept as
 * int8 codes and a scale, features/qmatrix.h). v_rho is a relation
 * vector: each left directed relation gets a random +-1 vector seeded by a hash of its name;
 * a right directed relation gets the average of the left vectors it is
 * aligned with, weighted by how often a seed-mapped left triple matches a
 * right triple (same orientation: 2r with 2r', 2r + 1 with 2r' + 1;
 * reversed: crossed), rescaled to norm sqrt(dim); a right relation without
 * any match keeps its own random vector, seeded by its name (so identical
 * relation names on both sides get identical vectors).
 *
 * Nothing depends on internal ids: seeds and relations are keyed by their
 * external strings. Every row is computed on its own, in a fixed order, so
 * the features are bit for bit the same for any number of threads (on one
 * machine: the vector kernels use FMA where the CPU has it). */

#define KGA_STRUCTURE_MAX_DIM 4096u
#define KGA_STRUCTURE_MAX_HOPS 32u
#define KGA_STRUCTURE_MAX_CONTEXT 64u

typedef struct {
    uint32_t dim;        /* width of one block (128) */
    uint32_t hops;       /* plain propagation steps (6) */
    uint32_t typed_hops; /* relation-typed steps, <= hops + 1 (2) */
    int signature;       /* 1: add the relation signature block (1) */
    uint32_t context_blocks; /* relational context blocks C1..Cc (16) */
    uint32_t context_levels; /* they read X0..X_levels (2), <= hops */
    float context_weight;    /* their share: w / (1 + w) of a row (1) */
    uint64_t seed;       /* seeds the anchor and relation vectors (7) */
} kga_structure_params_t;


/* Diagnostics of one kga_structure_features() call. */
typedef struct {
    uint32_t seeds;                /* pairs placed */
    uint32_t right_relations;      /* directed relations of the right side */
    uint32_t right_relations_aligned; /* of which got aligned vectors */
    uint64_t matched_triples;      /* (left, right) triple pairs counted */
} kga_structure_stats_t;

typedef struct kga_structure kga_structure_t;

/* Fills *p with the defaults (the prototype's, the same for every data set). */
void kga_structure_params_init(kga_structure_params_t *p);

/* 0 when *p is usable, else KGA_EINVAL with a message naming the field. */
int kga_structure_params_check(const kga_structure_params_t *p,
                               kga_err_t *err);

/* Width of a feature row:
 * (1 + hops + typed_hops + signature + context_blocks) * dim. */
uint32_t kga_structure_width(const kga_structure_params_t *p);

/* Builds the weighted graphs of both stores and the keys of their
 * entities and relations. The result is owned by the caller
 * (kga_structure_free) and does not refer to the stores afterwards.
 * Returns 0, KGA_EINVAL (parameters), KGA_ELIMIT or KGA_ENOMEM. */
int kga_structure_new(const kga_store_t *left, const kga_store_t *right,
                      const kga_structure_params_t *p,
                      kga_structure_t **out, kga_err_t *err);

/* Entity counts of the two sides. */
uint32_t kga_structure_entities(const kga_structure_t *g, int side);

/* Computes the features for the seed list into the caller's matrices
 * (features/qmatrix.h; overwritten entirely): left_out has n_left rows
 * and right_out n_right rows, each of kga_structure_width() / dim blocks
 * of dim values; a block is quantized as soon as it is computed, so the
 * float work space is two blocks per entity of one side. Each left and
 * each right entity may appear in at most one seed. Row loops run on pool
 * (NULL: the calling thread); ticker (may be NULL) counts rows (of
 * kga_structure_work()). stats may be NULL. Returns 0, KGA_EINVAL (an
 * id out of range or an entity in two seeds, with a message), KGA_ENOMEM. */
int kga_structure_features(const kga_structure_t *g,
                           const kga_pair_t *seeds, size_t n,
                           kga_pool_t *pool, kga_progress_ticker_t *ticker,
                           kga_qmatrix_t *left_out, kga_qmatrix_t *right_out,
                           kga_structure_stats_t *stats, kga_err_t *err);

/* Rows kga_structure_features() computes in all (entities of both sides
 * times the passes over them), the total of its ticker. */
uint64_t kga_structure_work(const kga_structure_t *g);

void kga_structure_free(kga_structure_t *g);

/* ---- entities outside the graph ------------------------------------------ */

/* What the features of an entity that is not in the graph need besides
 * its neighbours' rows: the relation vectors of both sides for a seed
 * list, and the propagation weight of each directed relation. Owned by
 * the caller (kga_structure_relations_free); refers to nothing else. */
typedef struct kga_structure_relations kga_structure_relations_t;

/* An edge of such an entity: the neighbour (an entity of the graph), the
 * store relation, and KGA_DIR_OUT when the entity is the head. */
typedef struct {
    uint32_t nbr;
    uint32_t rel;
    uint32_t dir;
} kga_structure_edge_t;

/* The relations of the features kga_structure_features() computes for the
 * same seeds. Returns 0, KGA_EINVAL (seeds) or KGA_ENOMEM, with err. */
int kga_structure_relations_new(const kga_structure_t *g,
                                const kga_pair_t *seeds, size_t n,
                                const kga_qmatrix_t *left_features,
                                const kga_qmatrix_t *right_features,
                                kga_structure_relations_t **out,
                                kga_err_t *err);

void kga_structure_relations_free(kga_structure_relations_t *r);

/* Floats of scratch kga_structure_row() needs. */
size_t kga_structure_row_work(const kga_structure_relations_t *r);

/* The feature row of an entity of `side` that is not in the graph and in
 * no seed, with edges[0..n) to entities of the graph whose rows are in F
 * (the side's features as kga_structure_features() wrote them), into row
 * `row` of out (a matrix of F's blocks and dim): each propagation step as
 * the graph's, from the neighbours' previous blocks (their int8 codes read
 * back), each block quantized and the row normalised as the graph's rows
 * are, so that an entity with the same edges in the graph gets the same
 * row up to rounding (the graph's entities do not hear from it). work
 * holds kga_structure_row_work() floats of scratch. Ids must be in range. */
void kga_structure_row(const kga_structure_relations_t *r, int side,
                       const kga_structure_edge_t *edges, size_t n,
                       const kga_qmatrix_t *F, float *work,
                       kga_qmatrix_t *out, uint32_t row);

#endif
