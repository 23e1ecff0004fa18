#ifndef KGA_STRUCTURE_INTERNAL_H
#define KGA_STRUCTURE_INTERNAL_H

#include <stdint.h>

#include "base/pool.h"
#include "features/qmatrix.h"
#include "features/structure.h"

/* What the files of the structural features share; private to
 * core/features/. structure.c builds the graphs and propagates the
 * anchors; structure_context.c adds the relational context blocks. */

/* The graph of one side: every triple appears twice, as an out-edge of its
 * head (directed relation 2r) and an in-edge of its tail (2r + 1). Self
 * loops are kept (they count in the relation signature) and skipped by
 * propagation. */
typedef struct {
    uint32_t n;        /* entities */
    uint32_t nrel;     /* relations; directed ones are 2 * nrel */
    uint64_t *off;     /* n + 1: edges of i are off[i] .. off[i + 1] - 1 */
    uint32_t *nbr;     /* the entity at the other end */
    uint32_t *drel;    /* directed relation */
    float *w;          /* propagation weight */
    uint64_t *rel_key; /* nrel: hash of each relation name */
} side_graph_t;

/* An out-edge of a right entity in (tail, relation) order, to find the
 * triples between two given entities by binary search. */
typedef struct {
    uint32_t tail, rel;
} tail_edge_t;

struct kga_structure {
    kga_structure_params_t p;
    side_graph_t side[2];
    uint64_t *anchor_key;   /* left entities: hash of the external id */
    uint64_t *by_tail_off;  /* right entities + 1 */
    tail_edge_t *by_tail;   /* right out-edges sorted by (tail, rel) */
};

/* The relation coordinates of the context blocks: dim / 16 a block. */
uint32_t kga_context_relation_width(const kga_structure_params_t *p);

/* The input of the context blocks for entity e: its blocks X0..X_levels
 * of Q, each made unit again (as propagation wrote them, whether or not
 * the row has been normalised since), into x ((levels + 1) * dim). */
void kga_context_input(const kga_qmatrix_t *Q, uint32_t e, uint32_t levels,
                       float *x);

/* The neighbour projection of context block b: (levels + 1) dim x dim
 * Gaussian values, the same for both sides, into W. */
void kga_context_projection(const kga_structure_params_t *p, uint32_t b,
                            float *W);

/* The projected relation features of one side, from its blocks in Q:
 * 2 nrel x kga_context_relation_width() values into rp. 0 or KGA_ENOMEM. */
int kga_context_relations(const kga_structure_t *g, int side,
                          const kga_qmatrix_t *Q, float *rp);

/* Scales the context blocks of a row whose context has squared norm
 * norm2 (as computed) to their weight against the `first` blocks before. */
void kga_context_scale(const kga_structure_params_t *p, kga_qmatrix_t *Q,
                       uint32_t row, uint32_t first, double norm2);

/* The context blocks of an entity outside the graph (kga_structure_row),
 * from its edges to entities whose rows are in F, into out's blocks from
 * `first` on, scaled: rp the side's relation features, W the projections
 * of every block one after the other. work holds
 * (levels + 2 + context_blocks) * dim floats. */
void kga_context_row(const kga_structure_params_t *p, const float *rp,
                     const float *W, const kga_structure_edge_t *edges,
                     size_t n, const kga_qmatrix_t *F, float *work,
                     kga_qmatrix_t *out, uint32_t row, uint32_t first);

/* The relational context blocks of one side (structure.h, "C1..Cc"), from
 * the side's blocks X0..X_{context_levels} already in Q, into Q's blocks
 * from `first` on; Y is scratch of n x dim floats. Run before the rows are
 * normalised. Returns 0 or KGA_ENOMEM. */
int kga_structure_context(const kga_structure_t *g, int side,
                          kga_qmatrix_t *Q, uint32_t first, float *Y,
                          kga_pool_t *pool);

#endif
