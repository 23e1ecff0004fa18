#ifndef KGA_GNN_INTERNAL_H
#define KGA_GNN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gnn/gnn.h"

/* What the files of the alignment GNN share; private to core/gnn/. The
 * model and its parameters are gnn.c, the workspace and node set of a batch
 * gnn_work.c, the forward and backward passes gnn_batch.c, the inference
 * cache with pair scores and explanations gnn_cache.c. The cache runs the
 * same forward stages and the same last layer of a pair as the batches,
 * which is why those are declared here. The order of a batch's nodes
 * is described in gnn_work.c. */

/* Float tensors, in enumeration order. Layer 1 aggregates first: its
 * bases are laid out hidden x (bases x d0), so that sum_b V_b M_b is one
 * product with the concatenated M_b. Layer 2 materialises W_r per relation
 * from bases laid out bases x (hidden x 2 hidden). */
enum {
    T_PROJ,
    T_NAME,
    T_ENT,
    T_BASES1,
    T_SELF1,
    T_COEF1,
    T_BASES2,
    T_SELF2,
    T_COEF2,
    T_ATT,
    T_COUNT
};

/* Enumeration ids past the float tensors: the anchor maps. */
#define ID_ANCHOR_LEFT T_COUNT
#define ID_ANCHOR_RIGHT (T_COUNT + 1)

/* The entity-vector row of an entity without one (kga_gnn_shape_t). */
#define KGA_GNN_NO_ROW UINT32_MAX

/* Rows per chunk of the row-parallel stages, items (centres, pairs) per
 * chunk of the others. */
#define ROW_GRAIN 128
#define ITEM_GRAIN 16

typedef struct {
    float *t[T_COUNT]; /* NULL when the tensor is off */
} params_t;

struct kga_gnn {
    kga_gnn_config_t cfg;
    kga_gnn_shape_t shape;
    uint32_t dp, dn, de, d0; /* level-0 part widths (0: off) and total */
    uint32_t dh, d1, nb, R, S, dfix, B;
    uint32_t rows; /* entity vector rows */
    uint32_t rank[T_COUNT];
    uint32_t dims[T_COUNT][3];
    size_t size[T_COUNT];
    size_t offset[T_COUNT];
    size_t ids[T_COUNT + 2]; /* enumeration index -> tensor id */
    size_t ntensors;
    size_t block_size;
    float *block;
    params_t p;
    uint32_t *slot[2];
};

struct kga_gnn_grad {
    const kga_gnn_t *m;
    float *block;
    params_t p;
    uint8_t *touched[T_COUNT]; /* T_NAME, T_ENT */
};

/* ------------------------------------------------------------------------
 * Workspace and node sets (gnn_work.c)
 * ------------------------------------------------------------------------ */

typedef struct {
    void *p;
    size_t cap; /* bytes */
} buf_t;

#define F(b) ((float *)(b).p)
#define U(b) ((uint32_t *)(b).p)

struct kga_gnn_work {
    const kga_gnn_t *m;
    kga_pool_t *pool;
    int32_t *idx[2]; /* entity -> node, -1 when absent; kept all -1 */
    uint32_t *umap;  /* model relation -> 1 + index in ulist, 0 */
    /* Samples already drawn for (neighbour table, seed), per side: a
     * training epoch draws each entity's sample once, not once per batch.
     * mcnt[e] is UINT32_MAX until entity e is drawn. */
    const kga_neighbours_t *mg[2];
    uint64_t mseed[2];
    uint32_t *mcnt[2], *mnbr[2], *mrel[2];

    size_t n0, n1, nc, np, nused;
    buf_t side, ent;     /* nodes [n0] (side as uint32_t) */
    buf_t cnt, nbr, rel; /* layer-1 nodes: sample size [n1], [n1 * S] */
    buf_t rev1_off, rev1; /* level-0 node <- (layer-1 node, slot) */
    buf_t rev2_off, rev2; /* layer-1 node <- (centre, slot) */
    buf_t revp_off, revp; /* centre <- (pair, side) */
    buf_t revr_off, revr; /* used relation <- (centre, slot) */
    buf_t ulist;          /* used relations, increasing */
    buf_t tmp;            /* targets while building reverse indices */
    buf_t pl, pr;         /* pair -> centres */

    /* Forward. */
    buf_t H0, Xf, winv, M, H1, Wr, S2, Z, T, beta;
    buf_t pD, pA, palpha, pw, ph2, pdist, pdd;
    /* Backward. */
    buf_t pdZ, pdbeta, pds2;
    buf_t dZ, dT, ds2, dWr, dH1, dH0, U1, dC1e;
    buf_t scratch; /* per worker */
    size_t scratch_per;
};

/* Grows b to hold at least bytes (by half again at least), keeping its
 * contents. 0 or KGA_ENOMEM. */
static inline int buf_ensure(buf_t *b, size_t bytes)
{
    if (bytes <= b->cap)
        return 0;
    size_t c = b->cap + b->cap / 2;
    if (c < bytes)
        c = bytes;
    void *q = realloc(b->p, c);
    if (q == NULL)
        return KGA_ENOMEM;
    b->p = q;
    b->cap = c;
    return 0;
}

/* The node set of a batch: the centres (the entities of the pairs, or every
 * entity of both sides when pairs is NULL), their samples and the samples
 * of those. 0 or KGA_ENOMEM. */
int kga_gnn_build_nodes(kga_gnn_work_t *w, const kga_gnn_t *m,
                        const kga_gnn_data_t *d, const kga_pair_t *pairs,
                        size_t np, const uint64_t seed[2]);
/* The reverse indices through which the backward pass gathers. */
int kga_gnn_build_reverses(kga_gnn_work_t *w, const kga_gnn_t *m);
/* The relations the centres' samples use and, with reverse, their
 * messages grouped by relation. */
int kga_gnn_prepare_relations(kga_gnn_work_t *w, const kga_gnn_t *m,
                              int reverse);

/* ------------------------------------------------------------------------
 * Forward stages and the last layer of a pair (gnn_batch.c)
 * ------------------------------------------------------------------------ */

typedef struct {
    kga_gnn_work_t *w;
    const kga_gnn_t *m;
    const kga_gnn_data_t *d;
    kga_gnn_grad_t *g;
    int keep; /* training: keep Xf and M for the backward pass */
    float *Z, *T, *beta, *S2; /* per centre (work or the cache's) */
    int parts;           /* owner classes of embedding rows */
} run_t;

/* Sizes the forward buffers for the node set in w; keep: training. */
int kga_gnn_ensure_forward(kga_gnn_work_t *w, const kga_gnn_t *m, int keep);

/* The forward stages, as kga_pool_fn over a run_t: level 0 and layer 1 of
 * nodes, the layer-2 matrices of the used relations, and per centre its
 * messages and self-attention. */
void kga_gnn_level0_chunk(void *ctx, size_t b, size_t e, int worker);
void kga_gnn_layer1_chunk(void *ctx, size_t b, size_t e, int worker);
void kga_gnn_relation_chunk(void *ctx, size_t b, size_t e, int worker);
void kga_gnn_centre_chunk(void *ctx, size_t b, size_t e, int worker);

/* One side of a pair's last layer (gnn.h). */
typedef kga_gnn_view_t view_t;

/* What the last layer of one pair keeps for its backward pass. */
typedef struct {
    float *D, *A;         /* S x S */
    float *alpha[2], *w[2]; /* S each */
    float *h2[2];         /* d1 each */
} pairbuf_t;

/* The inference cache's layout, shared with the probes (gnn_probe.c),
 * which read the graph entities' layer-1 outputs from it. Entities are
 * indexed left first, then right. */
struct kga_gnn_cache {
    uint32_t n[2];
    uint32_t S, dh, d1;
    uint32_t *cnt; /* per entity: sample size */
    uint32_t *nbr; /* S per entity: ids on the entity's side */
    uint32_t *rel;
    float *Z, *beta, *s2, *vec;
    float *h1; /* d1 per entity: layer-1 output */
};

/* 1 when the pair's last layer uses cross-graph attention. */
int kga_gnn_pair_cross(const kga_gnn_t *m, const view_t v[2]);
/* h2 of both sides into pb and their distance. */
float kga_gnn_pair_forward(const kga_gnn_t *m, const view_t v[2],
                           const pairbuf_t *pb);

#endif
