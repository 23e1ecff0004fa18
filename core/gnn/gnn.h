#ifndef KGA_GNN_H
#define KGA_GNN_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "gnn/gnn_ops.h"
#include "base/pair.h"
#include "gnn/neighbours.h"
#include "gnn/sampler.h"

/* The CG-MuAlign alignment network (docs/model.md): parameters, the forward
 * and backward passes over a batch of candidate pairs, and the inference
 * cache that scores pairs fast.
 *
 * Level 0 of entity i on side s (0 left, 1 right) is the concatenation of
 * the enabled parts: P x_i (fixed input features projected), the weighted
 * mean of learned n-gram bucket vectors, a learned entity vector (the two
 * entities of an anchor pair share one row). Layer 1 gives
 * h1 = ReLU([W_self h0 || mean_j W_r h0_j]); layer 2, per pair, weighs the
 * messages z_ij = W_r h1_j by cross-graph attention (alpha) times
 * relation-aware self-attention (beta), renormalised:
 * h2 = ReLU([W_self h1 || sum_j w_j z_ij]). W_r = sum_b c[r][b] V_b in both
 * layers. The distance of a pair is ||h2_i - h2_i'||.
 *
 * Ownership: the model owns its parameters; a kga_gnn_data_t only points at
 * the caller's arrays, which must outlive every call that takes it. */

typedef struct kga_gnn kga_gnn_t;

/* Hyper-parameters; kga_gnn_config_default() gives the documented values. */
typedef struct {
    /* Level 0: widths of the parts; 0 switches a part off. The projection
     * and the name part are also off when the shape has no fixed features
     * or no name buckets. */
    uint32_t dim_proj;   /* learned projection of the fixed features: 64 */
    uint32_t dim_name;   /* learned n-gram bucket vectors: 64 */
    uint32_t dim_entity; /* learned per-entity (anchored) vectors: 64 */
    /* Layers: each output is [self || neighbours], 2 * dim_hidden wide. */
    uint32_t dim_hidden; /* 32 */
    uint32_t bases;      /* relation bases per layer: 8 */
    uint32_t samples;    /* neighbours per node per hop, S: 10 */
    int uniform_sampling; /* 0: weight 1 / avg_fanout (ablation: 1) */
    int cross_attention;  /* 1 (ablation: 0, w = beta) */
    int self_attention;   /* 1 (ablation: 0, beta uniform) */
    float leaky_slope;    /* 0.2 */
    /* Training (gnn_train.h). */
    float margin;            /* hinge margin: 1 */
    uint32_t neg_right;      /* corrupted right sides per positive: 10 */
    uint32_t neg_left;       /* corrupted left sides per positive: 10 */
    uint32_t hard_negatives; /* of each side's negatives, hard ones: 5 */
    uint32_t hard_pool;      /* drawn from this many nearest: 10 (<= 64) */
    uint32_t hard_start;     /* first epoch with hard negatives: 1 */
    uint32_t batch;          /* positives per batch: 32 */
    float lr;                /* Adam: 3e-3 */
    float beta1, beta2;      /* 0.9, 0.999 */
    float adam_eps;          /* 1e-8 */
    float weight_decay;      /* decoupled (AdamW): 0 */
    uint64_t seed;           /* initialisation, sampling, negatives: 1 */
} kga_gnn_config_t;

kga_gnn_config_t kga_gnn_config_default(void);

/* Bounds of the hyper-parameters kga_gnn_config_check() enforces: far
 * above any useful value, far below what would overflow a size or exhaust
 * memory. */
#define KGA_GNN_DIM_MAX 4096u     /* each width */
#define KGA_GNN_BASES_MAX 256u
#define KGA_GNN_NEGATIVES_MAX 1024u
#define KGA_GNN_BATCH_MAX 65536u

/* Every field in its range: widths at most KGA_GNN_DIM_MAX (dim_hidden at
 * least 1), bases 1..KGA_GNN_BASES_MAX, samples 1..KGA_SAMPLE_MAX, the
 * switches 0 or 1, leaky_slope in [0, 1], margin >= 0, negatives at most
 * KGA_GNN_NEGATIVES_MAX with hard_negatives at most either side's,
 * hard_pool at most KGA_SAMPLE_MAX, batch 1..KGA_GNN_BATCH_MAX, lr and
 * adam_eps > 0, beta1 and beta2 in [0, 1), weight_decay >= 0, every float
 * finite. Returns 0 or KGA_ERANGE with a message naming the field as its
 * model setting ("gnn.dim_hidden is 0, must be 1..4096"). */
int kga_gnn_config_check(const kga_gnn_config_t *c, kga_err_t *err);

/* What the parameters are sized by. */
typedef struct {
    uint32_t entities[2];  /* left, right */
    uint32_t relations;    /* R model relations (see kga_relation_map_build) */
    uint32_t fixed_dim;    /* width of the fixed features; 0: none */
    uint32_t name_buckets; /* B; 0: no name part */
    /* Entities with a learned entity vector, the first ones of each side
     * (0: all). The others, added to the graph after training (a later
     * generation, store.h), have none: their vector part is zero, the
     * mean of the vectors' initial distribution. */
    uint32_t trained[2];
} kga_gnn_shape_t;

/* The inputs of one side. */
typedef struct {
    const kga_neighbours_t *nbrs; /* relations as in the shape */
    const float *fixed;     /* entities x fixed_dim, row-major, or NULL */
    /* Hashed n-grams: entity e has buckets name_bucket[name_off[e] ..
     * name_off[e + 1]) with weights name_weight[...] (NULL: all 1). */
    const uint64_t *name_off;
    const uint32_t *name_bucket;
    const float *name_weight;
} kga_gnn_side_t;

typedef struct {
    kga_gnn_side_t side[2];
} kga_gnn_data_t;


/* ------------------------------------------------------------------------
 * Model
 * ------------------------------------------------------------------------ */

/* Creates a model with parameters drawn from cfg->seed. The anchors (seed
 * links) decide which entity vectors are shared: entities connected through
 * anchors use one row. Returns 0, KGA_EINVAL (a width of 0 at level 0 or in
 * the layers, an anchor out of range, samples > KGA_SAMPLE_MAX) or
 * KGA_ENOMEM. Free with kga_gnn_free. */
int kga_gnn_new(const kga_gnn_config_t *cfg, const kga_gnn_shape_t *shape,
                const kga_pair_t *anchors, size_t anchor_count,
                kga_gnn_t **out);
void kga_gnn_free(kga_gnn_t *m);

const kga_gnn_config_t *kga_gnn_config(const kga_gnn_t *m);
const kga_gnn_shape_t *kga_gnn_shape(const kga_gnn_t *m);
/* Width of the level-0 input and of the final vectors (2 * dim_hidden). */
uint32_t kga_gnn_input_dim(const kga_gnn_t *m);
uint32_t kga_gnn_output_dim(const kga_gnn_t *m);

/* Checks that data fits the model: table sizes, relation counts, bucket ids
 * below B, arrays present for the enabled parts. Returns 0 or KGA_EINVAL /
 * KGA_EMISMATCH with a message. */
int kga_gnn_data_check(const kga_gnn_t *m, const kga_gnn_data_t *d,
                       kga_err_t *err);

/* ------------------------------------------------------------------------
 * Parameter tensors (serialisation, tests)
 * ------------------------------------------------------------------------ */

typedef enum { KGA_TENSOR_F32 = 0, KGA_TENSOR_U32 = 1 } kga_tensor_type_t;

typedef struct {
    const char *name;       /* static string, e.g. "layer2.attention" */
    kga_tensor_type_t type;
    int trainable;          /* 0: state derived at creation (anchor maps) */
    int sparse;             /* rows updated lazily (embedding tables) */
    uint32_t rank;          /* 1..3 */
    uint32_t dims[3];
    size_t count;           /* elements */
    void *data;             /* inside the model; valid until kga_gnn_free */
} kga_gnn_tensor_t;

/* The tensors in a fixed order that depends only on the config and shape:
 * input.proj (dim_proj x fixed_dim), input.name (B x dim_name),
 * input.entity (rows x dim_entity) when enabled; layer1.bases (hidden x
 * bases x d0), layer1.self (hidden x d0), layer1.coef (R x bases),
 * layer2.bases (bases x hidden x 2 hidden), layer2.self (hidden x
 * 2 hidden), layer2.coef, layer2.attention (R x 2 hidden); then the U32
 * maps anchor.left / anchor.right (entity -> row of input.entity) when the
 * entity part is on. Loading = kga_gnn_new with the same config, shape and
 * anchors, then copying every tensor in. */
size_t kga_gnn_tensor_count(const kga_gnn_t *m);
int kga_gnn_tensor(kga_gnn_t *m, size_t index, kga_gnn_tensor_t *out);

/* Gradients: the same tensors, with data NULL for the U32 ones. Sparse
 * tensors also keep one touched mark per row. */
typedef struct kga_gnn_grad kga_gnn_grad_t;

int kga_gnn_grad_new(const kga_gnn_t *m, kga_gnn_grad_t **out);
void kga_gnn_grad_free(kga_gnn_grad_t *g);
/* Zeroes everything (dense tensors fully, sparse ones on touched rows). */
void kga_gnn_grad_zero(kga_gnn_grad_t *g);
/* Tensor `index` of the gradient (same numbering as kga_gnn_tensor). */
int kga_gnn_grad_tensor(kga_gnn_grad_t *g, size_t index,
                        kga_gnn_tensor_t *out);
/* Row marks of a sparse tensor (1: row has a gradient), else NULL. The
 * caller may clear marks (with the rows) after using them. */
uint8_t *kga_gnn_grad_touched(kga_gnn_grad_t *g, size_t index);

/* ------------------------------------------------------------------------
 * Batches: forward and backward
 * ------------------------------------------------------------------------ */

/* Reusable buffers for kga_gnn_batch_run; grows to the largest batch seen.
 * The pool may be NULL (single-threaded) and must outlive the workspace.
 * A workspace remembers the samples it drew per (neighbour table, seed), so
 * that an epoch draws each entity once: a table must not change while a
 * workspace that has used it lives. */
typedef struct kga_gnn_work kga_gnn_work_t;

int kga_gnn_work_new(const kga_gnn_t *m, kga_pool_t *pool,
                     kga_gnn_work_t **out);
void kga_gnn_work_free(kga_gnn_work_t *w);

/* Groups of one positive followed by `negatives` negatives:
 * pairs[g * (1 + negatives)] is positive g. */
typedef struct {
    const kga_pair_t *pairs;
    size_t groups;
    uint32_t negatives;
    uint64_t seed[2]; /* sampling seed per side (kga_sample_seed, or
                       * KGA_SAMPLE_INFERENCE) */
} kga_gnn_batch_t;

/* Forward pass over the batch: *loss gets the hinge loss summed over the
 * negatives and averaged over the groups, dist (may be NULL; room for every
 * pair) the distances. With grad non-NULL, also the backward pass: the
 * gradient of *loss is added into grad. Lower layers are computed once per
 * distinct entity of the batch. d must have passed kga_gnn_data_check (not
 * repeated here). Returns 0, KGA_EINVAL (an id out of range) or
 * KGA_ENOMEM. */
int kga_gnn_batch_run(kga_gnn_work_t *w, const kga_gnn_t *m,
                      const kga_gnn_data_t *d, const kga_gnn_batch_t *b,
                      kga_gnn_grad_t *grad, double *loss, float *dist);

/* ------------------------------------------------------------------------
 * Inference cache and pair scoring
 * ------------------------------------------------------------------------ */

/* Everything about one entity that does not depend on the pair, computed
 * with inference samples for every entity of both sides: its sampled
 * neighbours, their messages z, self-attention beta, the self half, and the
 * pair-independent vector ReLU([W_self h1 || sum_j beta_j z_j]) used for
 * candidate generation. Depends on the parameters at build time: rebuild
 * after training. */
typedef struct kga_gnn_cache kga_gnn_cache_t;

/* threads <= 0: one per CPU. Returns 0, KGA_EINVAL / KGA_EMISMATCH (data
 * does not fit) or KGA_ENOMEM. */
int kga_gnn_cache_build(const kga_gnn_t *m, const kga_gnn_data_t *d,
                        int threads, kga_gnn_cache_t **out);
void kga_gnn_cache_free(kga_gnn_cache_t *c);

/* Pair-independent vectors of one side: entities x *dim, row-major, owned
 * by the cache. */
const float *kga_gnn_cache_vectors(const kga_gnn_cache_t *c, int side,
                                   uint32_t *dim);

/* What a pair's last layer needs of one entity: its sampled neighbours'
 * messages Z (m x dim_hidden), their self-attention beta (m) and the self
 * half s2 (dim_hidden). Points into a cache or a probe, valid while that
 * lives. */
typedef struct {
    const float *Z, *beta, *s2;
    uint32_t m;
} kga_gnn_view_t;

/* The view of a cached entity (ids in range). */
void kga_gnn_cache_view(const kga_gnn_cache_t *c, int side, uint32_t ent,
                        kga_gnn_view_t *out);

/* Floats of scratch kga_gnn_view_distance() needs. */
size_t kga_gnn_pair_scratch(const kga_gnn_t *m);

/* The distance of a pair given by its two views: the value
 * kga_gnn_score_pairs() gives for cached entities, bit for bit. */
float kga_gnn_view_distance(const kga_gnn_t *m, const kga_gnn_view_t *left,
                            const kga_gnn_view_t *right, float *scratch);

/* dist[k] = d(left[k], right[k]) under the full pair model. threads <= 0:
 * one per CPU (small n runs in the caller). Returns 0 or KGA_EINVAL (an id
 * out of range; dist is then unspecified). */
int kga_gnn_score_pairs(const kga_gnn_t *m, const kga_gnn_cache_t *c,
                        const uint32_t *left, const uint32_t *right, size_t n,
                        float *dist, int threads);

/* ------------------------------------------------------------------------
 * Probes: an entity that is not in the graph (gnn_probe.c)
 * ------------------------------------------------------------------------ */

/* An edge of a probe to an entity of the graph: the neighbour's id on the
 * probe's side, the model relation that reaches it, and the relation's
 * average fan-out from entities like the probe (>= 1; the sampling weight
 * is its inverse, as kga_neighbours_from_store() gives it). */
typedef struct {
    uint32_t nbr;
    uint32_t rel;
    float fanout;
} kga_gnn_probe_edge_t;

typedef struct kga_gnn_probe kga_gnn_probe_t;

/* The view of an entity of side `side` that is not in the graph, computed
 * as the cache computes a graph entity's: level 0 from its fixed row
 * (fixed_dim floats; NULL only when the model has no fixed part) and its
 * name buckets (name_count of them, weights may be NULL), with a zero
 * entity vector (it was not trained); its sample drawn from edges as
 * kga_sample_neighbours() draws with the inference seed, keyed by `key`
 * (the hash of its external id) and the neighbours' keys; layer 1 over
 * the sample's level 0, and the last layer's messages from the sample's
 * cached layer-1 outputs. The graph's entities are not changed: they do
 * not hear from the probe. Returns 0, KGA_EINVAL (a neighbour, relation
 * or bucket out of range) or KGA_ENOMEM. Thread-safe; the probe is the
 * caller's (kga_gnn_probe_free). */
int kga_gnn_probe_new(const kga_gnn_t *m, const kga_gnn_cache_t *c,
                      const kga_gnn_data_t *d, int side, const float *fixed,
                      const uint32_t *name_bucket, const float *name_weight,
                      size_t name_count, uint64_t key,
                      const kga_gnn_probe_edge_t *edges, size_t n_edges,
                      kga_gnn_probe_t **out);

void kga_gnn_probe_view(const kga_gnn_probe_t *p, kga_gnn_view_t *out);

void kga_gnn_probe_free(kga_gnn_probe_t *p);

/* One piece of evidence for a pair: left neighbour p reached through model
 * relation left_rel, right neighbour q through right_rel, and the weight of
 * the cell, (A[p][q] / sum A) * beta_p * beta_q renormalised over all cells
 * (alpha * beta spread over the cells of the cross-attention matrix; with
 * cross attention off, beta_p * beta_q). */
typedef struct {
    uint32_t left_nbr;
    uint32_t left_rel;
    uint32_t right_nbr;
    uint32_t right_rel;
    float weight;
} kga_gnn_evidence_t;

/* Fills out[0 .. *count) with the at most max heaviest cells, heaviest
 * first, and *dist (may be NULL) with the pair's distance. *count is 0 when
 * either entity has no sampled neighbour. Returns 0 or KGA_EINVAL. */
int kga_gnn_explain(const kga_gnn_t *m, const kga_gnn_cache_t *c,
                    uint32_t left, uint32_t right, kga_gnn_evidence_t *out,
                    size_t max, size_t *count, float *dist);

#endif
