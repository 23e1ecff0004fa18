/* The alignment GNN: parameters, batched forward and backward passes, the
 * inference cache, pair scoring and explanations.
 *
 * A batch is laid out as one list of nodes (side, entity), each distinct
 * entity once: first the centres (entities of the pairs), then the other
 * layer-1 nodes (the centres' sampled neighbours), then the other layer-0
 * nodes (their sampled neighbours). So node i < n1 has its own level-0 row
 * at index i and its layer-1 row at index i, and the matrix products run on
 * contiguous row ranges. Each lower layer is computed once per node.
 *
 * Cost: layer 1 aggregates the neighbours' level-0 rows per basis (M_b)
 * before one product with the bases, since level-0 nodes outnumber layer-1
 * nodes about fivefold; layer 2 builds W_r for the relations in the batch
 * and applies it per message, which beats applying every basis to every
 * layer-1 node.
 *
 * Threads and determinism: every parallel stage writes per-item outputs
 * only. Where several items feed one value (a neighbour used by several
 * nodes, a centre in several pairs, a parameter row) the backward pass
 * gathers the contributions in a fixed order through reverse indices, or
 * sums per-item results sequentially, or (embedding tables) lets each worker
 * own a fixed residue class of rows and walk the nodes in order. Matrix
 * products are split into fixed blocks. No sum depends on which thread did
 * what, so a seed gives the same parameters with any number of threads (as
 * long as OpenBLAS picks the same kernels). */
#include "gnn/gnn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/vec.h"

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

static const char *const tensor_names[T_COUNT] = {
    [T_PROJ] = "input.proj",      [T_NAME] = "input.name",
    [T_ENT] = "input.entity",     [T_BASES1] = "layer1.bases",
    [T_SELF1] = "layer1.self",    [T_COEF1] = "layer1.coef",
    [T_BASES2] = "layer2.bases",  [T_SELF2] = "layer2.self",
    [T_COEF2] = "layer2.coef",    [T_ATT] = "layer2.attention",
};

/* Enumeration ids past the float tensors: the anchor maps. */
#define ID_ANCHOR_LEFT T_COUNT
#define ID_ANCHOR_RIGHT (T_COUNT + 1)

/* Rows per chunk of the row-parallel stages, columns per block of the
 * parameter-gradient products. */
#define ROW_GRAIN 128
#define COL_BLOCK 32
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

kga_gnn_config_t kga_gnn_config_default(void)
{
    kga_gnn_config_t c = {
        .dim_proj = 64,
        .dim_name = 64,
        .dim_entity = 64,
        .dim_hidden = 32,
        .bases = 8,
        .samples = 10,
        .uniform_sampling = 0,
        .cross_attention = 1,
        .self_attention = 1,
        .leaky_slope = 0.2f,
        .margin = 1.0f,
        .neg_right = 10,
        .neg_left = 10,
        .hard_negatives = 5,
        .hard_pool = 10,
        .hard_start = 1,
        .batch = 32,
        .lr = 3e-3f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .adam_eps = 1e-8f,
        .weight_decay = 0.0f,
        .seed = 1,
    };
    return c;
}

/* ------------------------------------------------------------------------
 * Model creation
 * ------------------------------------------------------------------------ */

static void set_dims(kga_gnn_t *m, int t, uint32_t rank, uint32_t a,
                     uint32_t b, uint32_t c)
{
    m->rank[t] = rank;
    m->dims[t][0] = a;
    m->dims[t][1] = b;
    m->dims[t][2] = c;
    size_t n = a;
    if (rank > 1)
        n *= b;
    if (rank > 2)
        n *= c;
    m->size[t] = n;
}

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Entity vector rows: one per connected component of the anchor links,
 * numbered in the order left 0.., right 0... */
static int build_slots(kga_gnn_t *m, const kga_pair_t *anchors,
                       size_t count)
{
    uint32_t nl = m->shape.entities[0], nr = m->shape.entities[1];
    size_t n = (size_t)nl + nr;
    uint32_t *parent = malloc((n > 0 ? n : 1) * sizeof *parent);
    uint32_t *row = malloc((n > 0 ? n : 1) * sizeof *row);
    m->slot[0] = malloc((nl > 0 ? nl : 1) * sizeof(uint32_t));
    m->slot[1] = malloc((nr > 0 ? nr : 1) * sizeof(uint32_t));
    if (parent == NULL || row == NULL || m->slot[0] == NULL ||
        m->slot[1] == NULL) {
        free(parent);
        free(row);
        return KGA_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        parent[i] = (uint32_t)i;
        row[i] = UINT32_MAX;
    }
    for (size_t k = 0; k < count; k++) {
        uint32_t a = uf_find(parent, anchors[k].left);
        uint32_t b = uf_find(parent, nl + anchors[k].right);
        if (a != b)
            parent[a > b ? a : b] = a < b ? a : b;
    }
    uint32_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = uf_find(parent, (uint32_t)i);
        if (row[r] == UINT32_MAX)
            row[r] = rows++;
        if (i < nl)
            m->slot[0][i] = row[r];
        else
            m->slot[1][i - nl] = row[r];
    }
    m->rows = rows;
    free(parent);
    free(row);
    return 0;
}

static void init_uniform(float *x, size_t n, float a, uint64_t seed,
                         uint64_t stream)
{
    kga_rng_t r;
    kga_rng_init(&r, seed, stream);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * kga_rng_unit(&r) - 1.0) * a);
}

static float glorot(uint32_t fan_in, uint32_t fan_out)
{
    return sqrtf(6.0f / (float)(fan_in + fan_out));
}

int kga_gnn_new(const kga_gnn_config_t *cfg, const kga_gnn_shape_t *shape,
                const kga_pair_t *anchors, size_t anchor_count,
                kga_gnn_t **out)
{
    *out = NULL;
    if (cfg->dim_hidden == 0 || cfg->bases == 0 || cfg->samples == 0 ||
        cfg->samples > KGA_SAMPLE_MAX || shape->relations == 0)
        return KGA_EINVAL;
    for (size_t k = 0; k < anchor_count; k++)
        if (anchors[k].left >= shape->entities[0] ||
            anchors[k].right >= shape->entities[1])
            return KGA_EINVAL;
    kga_gnn_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return KGA_ENOMEM;
    m->cfg = *cfg;
    m->shape = *shape;
    m->dfix = shape->fixed_dim;
    m->B = shape->name_buckets;
    m->dp = m->dfix > 0 ? cfg->dim_proj : 0;
    m->dn = m->B > 0 ? cfg->dim_name : 0;
    m->de = cfg->dim_entity;
    m->d0 = m->dp + m->dn + m->de;
    m->dh = cfg->dim_hidden;
    m->d1 = 2 * m->dh;
    m->nb = cfg->bases;
    m->R = shape->relations;
    m->S = cfg->samples;
    int rc = KGA_EINVAL;
    if (m->d0 == 0)
        goto fail;
    rc = build_slots(m, anchors, anchor_count);
    if (rc != 0)
        goto fail;

    set_dims(m, T_PROJ, 2, m->dp, m->dfix, 0);
    set_dims(m, T_NAME, 2, m->dn > 0 ? m->B : 0, m->dn, 0);
    set_dims(m, T_ENT, 2, m->de > 0 ? m->rows : 0, m->de, 0);
    set_dims(m, T_BASES1, 3, m->dh, m->nb, m->d0);
    set_dims(m, T_SELF1, 2, m->dh, m->d0, 0);
    set_dims(m, T_COEF1, 2, m->R, m->nb, 0);
    set_dims(m, T_BASES2, 3, m->nb, m->dh, m->d1);
    set_dims(m, T_SELF2, 2, m->dh, m->d1, 0);
    set_dims(m, T_COEF2, 2, m->R, m->nb, 0);
    set_dims(m, T_ATT, 2, m->R, 2 * m->dh, 0);
    size_t total = 0;
    for (int t = 0; t < T_COUNT; t++) {
        m->offset[t] = total;
        total += m->size[t];
        if (m->size[t] > 0)
            m->ids[m->ntensors++] = (size_t)t;
    }
    if (m->de > 0) {
        m->ids[m->ntensors++] = ID_ANCHOR_LEFT;
        m->ids[m->ntensors++] = ID_ANCHOR_RIGHT;
    }
    m->block_size = total;
    rc = KGA_ENOMEM;
    m->block = malloc((total > 0 ? total : 1) * sizeof *m->block);
    if (m->block == NULL)
        goto fail;
    for (int t = 0; t < T_COUNT; t++)
        m->p.t[t] = m->size[t] > 0 ? m->block + m->offset[t] : NULL;

    uint64_t seed = cfg->seed;
    const float coef = sqrtf(3.0f / (float)m->nb);
    for (int t = 0; t < T_COUNT; t++) {
        float a = 0.0f;
        switch (t) {
        case T_PROJ: a = glorot(m->dfix, m->dp); break;
        case T_NAME: a = sqrtf(3.0f / (float)(m->dn > 0 ? m->dn : 1)); break;
        case T_ENT: a = sqrtf(3.0f / (float)(m->de > 0 ? m->de : 1)); break;
        case T_BASES1: a = glorot(m->d0, m->dh); break;
        case T_SELF1: a = glorot(m->d0, m->dh); break;
        case T_BASES2: a = glorot(m->d1, m->dh); break;
        case T_SELF2: a = glorot(m->d1, m->dh); break;
        case T_COEF1:
        case T_COEF2: a = coef; break;
        case T_ATT: a = glorot(2 * m->dh, 1); break;
        default: break;
        }
        if (m->size[t] > 0)
            init_uniform(m->p.t[t], m->size[t], a, seed, (uint64_t)t);
    }
    *out = m;
    return 0;
fail:
    kga_gnn_free(m);
    return rc;
}

void kga_gnn_free(kga_gnn_t *m)
{
    if (m == NULL)
        return;
    free(m->block);
    free(m->slot[0]);
    free(m->slot[1]);
    free(m);
}

const kga_gnn_config_t *kga_gnn_config(const kga_gnn_t *m)
{
    return &m->cfg;
}

const kga_gnn_shape_t *kga_gnn_shape(const kga_gnn_t *m)
{
    return &m->shape;
}

uint32_t kga_gnn_input_dim(const kga_gnn_t *m)
{
    return m->d0;
}

uint32_t kga_gnn_output_dim(const kga_gnn_t *m)
{
    return m->d1;
}

int kga_gnn_data_check(const kga_gnn_t *m, const kga_gnn_data_t *d,
                       kga_err_t *err)
{
    for (int s = 0; s < 2; s++) {
        const kga_gnn_side_t *sd = &d->side[s];
        const char *name = s == 0 ? "left" : "right";
        uint32_t n = m->shape.entities[s];
        if (sd->nbrs == NULL)
            return kga_err_set(err, KGA_EINVAL, "%s: no neighbour table",
                               name);
        if (kga_nbrs_entity_count(sd->nbrs) != n ||
            kga_nbrs_relation_count(sd->nbrs) != m->R)
            return kga_err_set(err, KGA_EMISMATCH,
                               "%s: neighbour table has %u entities and %u "
                               "relations, the model %u and %u",
                               name, kga_nbrs_entity_count(sd->nbrs),
                               kga_nbrs_relation_count(sd->nbrs), n, m->R);
        if (m->dp > 0 && sd->fixed == NULL)
            return kga_err_set(err, KGA_EINVAL, "%s: no fixed features",
                               name);
        if (m->dn > 0) {
            if (sd->name_off == NULL || sd->name_bucket == NULL)
                return kga_err_set(err, KGA_EINVAL, "%s: no name buckets",
                                   name);
            for (uint32_t e = 0; e < n; e++) {
                if (sd->name_off[e + 1] < sd->name_off[e])
                    return kga_err_set(err, KGA_EINVAL,
                                       "%s: name offsets decrease at %u",
                                       name, e);
            }
            for (uint64_t k = sd->name_off[0]; k < sd->name_off[n]; k++)
                if (sd->name_bucket[k] >= m->B)
                    return kga_err_set(err, KGA_EINVAL,
                                       "%s: name bucket %u out of range "
                                       "(%u buckets)",
                                       name, sd->name_bucket[k], m->B);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Tensors and gradients
 * ------------------------------------------------------------------------ */

static void describe(const kga_gnn_t *m, size_t id, float *block,
                     kga_gnn_tensor_t *out)
{
    memset(out, 0, sizeof *out);
    if (id >= T_COUNT) {
        int s = id == ID_ANCHOR_RIGHT;
        out->name = s ? "anchor.right" : "anchor.left";
        out->type = KGA_TENSOR_U32;
        out->rank = 1;
        out->dims[0] = m->shape.entities[s];
        out->count = m->shape.entities[s];
        out->data = block != NULL ? NULL : m->slot[s];
        return;
    }
    out->name = tensor_names[id];
    out->type = KGA_TENSOR_F32;
    out->trainable = 1;
    out->sparse = id == T_NAME || id == T_ENT;
    out->rank = m->rank[id];
    memcpy(out->dims, m->dims[id], sizeof out->dims);
    out->count = m->size[id];
    out->data = (block != NULL ? block : m->block) + m->offset[id];
}

size_t kga_gnn_tensor_count(const kga_gnn_t *m)
{
    return m->ntensors;
}

int kga_gnn_tensor(kga_gnn_t *m, size_t index, kga_gnn_tensor_t *out)
{
    if (index >= m->ntensors)
        return KGA_EINVAL;
    describe(m, m->ids[index], NULL, out);
    return 0;
}

int kga_gnn_grad_new(const kga_gnn_t *m, kga_gnn_grad_t **out)
{
    *out = NULL;
    kga_gnn_grad_t *g = calloc(1, sizeof *g);
    if (g == NULL)
        return KGA_ENOMEM;
    g->m = m;
    g->block = calloc(m->block_size > 0 ? m->block_size : 1,
                      sizeof *g->block);
    if (g->block == NULL)
        goto fail;
    for (int t = 0; t < T_COUNT; t++)
        g->p.t[t] = m->size[t] > 0 ? g->block + m->offset[t] : NULL;
    if (m->dn > 0 && (g->touched[T_NAME] = calloc(m->B, 1)) == NULL)
        goto fail;
    if (m->de > 0 &&
        (g->touched[T_ENT] = calloc(m->rows > 0 ? m->rows : 1, 1)) == NULL)
        goto fail;
    *out = g;
    return 0;
fail:
    kga_gnn_grad_free(g);
    return KGA_ENOMEM;
}

void kga_gnn_grad_free(kga_gnn_grad_t *g)
{
    if (g == NULL)
        return;
    free(g->block);
    free(g->touched[T_NAME]);
    free(g->touched[T_ENT]);
    free(g);
}

void kga_gnn_grad_zero(kga_gnn_grad_t *g)
{
    const kga_gnn_t *m = g->m;
    for (int t = 0; t < T_COUNT; t++) {
        if (m->size[t] == 0)
            continue;
        if (g->touched[t] == NULL) {
            memset(g->p.t[t], 0, m->size[t] * sizeof(float));
            continue;
        }
        uint32_t rows = m->dims[t][0], width = m->dims[t][1];
        for (uint32_t r = 0; r < rows; r++)
            if (g->touched[t][r]) {
                memset(g->p.t[t] + (size_t)r * width, 0,
                       width * sizeof(float));
                g->touched[t][r] = 0;
            }
    }
}

int kga_gnn_grad_tensor(kga_gnn_grad_t *g, size_t index,
                        kga_gnn_tensor_t *out)
{
    if (index >= g->m->ntensors)
        return KGA_EINVAL;
    describe(g->m, g->m->ids[index], g->block, out);
    return 0;
}

uint8_t *kga_gnn_grad_touched(kga_gnn_grad_t *g, size_t index)
{
    if (index >= g->m->ntensors)
        return NULL;
    size_t id = g->m->ids[index];
    return id < T_COUNT ? g->touched[id] : NULL;
}

/* ------------------------------------------------------------------------
 * Workspace
 * ------------------------------------------------------------------------ */

typedef struct {
    void *p;
    size_t cap; /* bytes */
} buf_t;

static int buf_ensure(buf_t *b, size_t bytes)
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
    const kga_nbrs_t *mg[2];
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

void kga_gnn_work_free(kga_gnn_work_t *w)
{
    if (w == NULL)
        return;
    free(w->idx[0]);
    free(w->idx[1]);
    free(w->umap);
    for (int s = 0; s < 2; s++) {
        free(w->mcnt[s]);
        free(w->mnbr[s]);
        free(w->mrel[s]);
    }
    buf_t *bufs[] = {&w->side,   &w->ent,      &w->cnt,    &w->nbr,
                     &w->rel,    &w->rev1_off, &w->rev1,   &w->rev2_off,
                     &w->rev2,   &w->revp_off, &w->revp,   &w->revr_off,
                     &w->revr,   &w->ulist,    &w->pl,     &w->pr,     &w->tmp,
                     &w->H0,     &w->Xf,       &w->winv,   &w->M,
                     &w->H1,     &w->Wr,       &w->S2,     &w->Z,
                     &w->T,      &w->beta,     &w->pD,     &w->pA,
                     &w->palpha, &w->pw,       &w->ph2,    &w->pdist,
                     &w->pdd,    &w->pdZ,      &w->pdbeta, &w->pds2,
                     &w->dZ,     &w->dT,       &w->ds2,    &w->dWr,
                     &w->dH1,    &w->dH0,      &w->U1,     &w->dC1e,
                     &w->scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]->p);
    free(w);
}

int kga_gnn_work_new(const kga_gnn_t *m, kga_pool_t *pool,
                     kga_gnn_work_t **out)
{
    *out = NULL;
    kga_gnn_work_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return KGA_ENOMEM;
    w->m = m;
    w->pool = pool;
    for (int s = 0; s < 2; s++) {
        uint32_t n = m->shape.entities[s];
        w->idx[s] = malloc((n > 0 ? n : 1) * sizeof(int32_t));
        if (w->idx[s] == NULL) {
            kga_gnn_work_free(w);
            return KGA_ENOMEM;
        }
        memset(w->idx[s], 0xff, (size_t)n * sizeof(int32_t));
    }
    w->umap = calloc(m->R, sizeof *w->umap);
    if (w->umap == NULL) {
        kga_gnn_work_free(w);
        return KGA_ENOMEM;
    }
    /* Per worker: a chunk of gathered fixed features or aggregated
     * layer-1 inputs, and the per-pair backward temporaries. */
    size_t a = (size_t)ROW_GRAIN * (m->dfix > (size_t)m->nb * m->d0
                                        ? m->dfix
                                        : (size_t)m->nb * m->d0);
    size_t b = 4 * (size_t)m->d1 + 6 * (size_t)KGA_SAMPLE_MAX +
               (size_t)KGA_SAMPLE_MAX * KGA_SAMPLE_MAX * 2;
    w->scratch_per = (a > b ? a : b) + 16;
    int threads = kga_pool_threads(pool);
    if (buf_ensure(&w->scratch,
                   w->scratch_per * (size_t)threads * sizeof(float)) != 0) {
        kga_gnn_work_free(w);
        return KGA_ENOMEM;
    }
    *out = w;
    return 0;
}

static float *worker_scratch(const kga_gnn_work_t *w, int worker)
{
    return F(w->scratch) + (size_t)worker * w->scratch_per;
}

/* ------------------------------------------------------------------------
 * Node sets
 * ------------------------------------------------------------------------ */

typedef struct {
    kga_gnn_work_t *w;
    const kga_gnn_t *m;
    const kga_gnn_data_t *d;
    const uint64_t *seed;
    size_t from;
} sample_ctx_t;

static void sample_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    sample_ctx_t *c = ctx;
    kga_gnn_work_t *w = c->w;
    const kga_gnn_t *m = c->m;
    size_t S = m->S;
    kga_sample_mode_t mode =
        m->cfg.uniform_sampling ? KGA_SAMPLE_UNIFORM : KGA_SAMPLE_WEIGHTED;
    (void)worker;
    for (size_t i = c->from + begin; i < c->from + end; i++) {
        uint32_t s = U(w->side)[i], e = U(w->ent)[i];
        uint32_t *nbr = U(w->nbr) + i * S, *rel = U(w->rel) + i * S;
        if (w->mcnt[s] != NULL && w->mcnt[s][e] != UINT32_MAX) {
            uint32_t n = w->mcnt[s][e];
            U(w->cnt)[i] = n;
            memcpy(nbr, w->mnbr[s] + e * S, n * sizeof *nbr);
            memcpy(rel, w->mrel[s] + e * S, n * sizeof *rel);
            continue;
        }
        uint32_t n = kga_nbrs_sample(c->d->side[s].nbrs, e, c->seed[s], mode,
                                     m->S, nbr, rel);
        U(w->cnt)[i] = n;
        if (w->mcnt[s] != NULL) {
            memcpy(w->mnbr[s] + e * S, nbr, n * sizeof *nbr);
            memcpy(w->mrel[s] + e * S, rel, n * sizeof *rel);
            w->mcnt[s][e] = n;
        }
    }
}

/* Keeps the memo of a side when the table and seed are those it holds,
 * clears it otherwise. Without memory for it, samples are drawn each
 * time. */
static void memo_prepare(kga_gnn_work_t *w, const kga_gnn_t *m,
                         const kga_gnn_data_t *d, const uint64_t seed[2])
{
    for (int s = 0; s < 2; s++) {
        size_t n = m->shape.entities[s];
        if (w->mcnt[s] == NULL) {
            w->mcnt[s] = malloc((n > 0 ? n : 1) * sizeof(uint32_t));
            w->mnbr[s] = malloc((n > 0 ? n : 1) * m->S * sizeof(uint32_t));
            w->mrel[s] = malloc((n > 0 ? n : 1) * m->S * sizeof(uint32_t));
            if (w->mcnt[s] == NULL || w->mnbr[s] == NULL ||
                w->mrel[s] == NULL) {
                free(w->mcnt[s]);
                free(w->mnbr[s]);
                free(w->mrel[s]);
                w->mcnt[s] = w->mnbr[s] = w->mrel[s] = NULL;
                continue;
            }
            w->mg[s] = NULL;
        }
        if (w->mg[s] != d->side[s].nbrs || w->mseed[s] != seed[s]) {
            memset(w->mcnt[s], 0xff, n * sizeof(uint32_t));
            w->mg[s] = d->side[s].nbrs;
            w->mseed[s] = seed[s];
        }
    }
}

static uint32_t node_add(kga_gnn_work_t *w, uint32_t side, uint32_t ent)
{
    int32_t k = w->idx[side][ent];
    if (k >= 0)
        return (uint32_t)k;
    size_t n = w->n0++;
    U(w->side)[n] = side;
    U(w->ent)[n] = ent;
    w->idx[side][ent] = (int32_t)n;
    return (uint32_t)n;
}

/* Samples nodes [from, to) in parallel, then adds their neighbours as nodes
 * in order, replacing the sampled entity ids by node indices. */
static void expand(kga_gnn_work_t *w, const kga_gnn_t *m,
                   const kga_gnn_data_t *d, const uint64_t seed[2],
                   size_t from, size_t to)
{
    sample_ctx_t c = {w, m, d, seed, from};
    kga_pool_run(w->pool, to - from, 64, sample_chunk, &c);
    for (size_t i = from; i < to; i++) {
        uint32_t s = U(w->side)[i];
        uint32_t *nb = U(w->nbr) + i * m->S;
        for (uint32_t k = 0; k < U(w->cnt)[i]; k++)
            nb[k] = node_add(w, s, nb[k]);
    }
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Builds the node set of a batch: centres of the pairs (all entities of
 * both sides when pairs is NULL), their samples, and the samples of those.
 * Returns 0 or KGA_ENOMEM. */
static int build_nodes(kga_gnn_work_t *w, const kga_gnn_t *m,
                       const kga_gnn_data_t *d, const kga_pair_t *pairs,
                       size_t np, const uint64_t seed[2])
{
    size_t N = (size_t)m->shape.entities[0] + m->shape.entities[1];
    size_t S = m->S;
    size_t cap_c = pairs != NULL ? min_size(2 * np, N) : N;
    size_t cap1 = min_size(cap_c * (S + 1), N);
    size_t cap0 = min_size(cap1 * (S + 1), N);
    if (buf_ensure(&w->side, cap0 * 4) || buf_ensure(&w->ent, cap0 * 4) ||
        buf_ensure(&w->cnt, cap1 * 4) || buf_ensure(&w->nbr, cap1 * S * 4) ||
        buf_ensure(&w->rel, cap1 * S * 4) || buf_ensure(&w->pl, np * 4) ||
        buf_ensure(&w->pr, np * 4))
        return KGA_ENOMEM;
    w->n0 = 0;
    w->np = np;
    if (pairs != NULL)
        memo_prepare(w, m, d, seed);
    if (pairs != NULL) {
        for (size_t p = 0; p < np; p++) {
            U(w->pl)[p] = node_add(w, 0, pairs[p].left);
            U(w->pr)[p] = node_add(w, 1, pairs[p].right);
        }
    } else {
        for (int s = 0; s < 2; s++)
            for (uint32_t e = 0; e < m->shape.entities[s]; e++)
                node_add(w, (uint32_t)s, e);
    }
    w->nc = w->n0;
    expand(w, m, d, seed, 0, w->nc);
    w->n1 = w->n0;
    expand(w, m, d, seed, w->nc, w->n1);
    for (size_t i = 0; i < w->n0; i++)
        w->idx[U(w->side)[i]][U(w->ent)[i]] = -1;
    return 0;
}

/* Counting sort of entries by target: list gets, per target, its entries in
 * increasing order. target(e) == UINT32_MAX skips e. */
static int build_reverse(buf_t *off_buf, buf_t *list_buf, size_t targets,
                         const uint32_t *target, size_t entries)
{
    if (buf_ensure(off_buf, (targets + 1) * 4) ||
        buf_ensure(list_buf, (entries > 0 ? entries : 1) * 4))
        return KGA_ENOMEM;
    uint32_t *off = U(*off_buf), *list = U(*list_buf);
    memset(off, 0, (targets + 1) * 4);
    for (size_t e = 0; e < entries; e++)
        if (target[e] != UINT32_MAX)
            off[target[e] + 1]++;
    for (size_t t = 0; t < targets; t++)
        off[t + 1] += off[t];
    for (size_t e = 0; e < entries; e++)
        if (target[e] != UINT32_MAX)
            list[off[target[e]]++] = (uint32_t)e;
    for (size_t t = targets; t > 0; t--)
        off[t] = off[t - 1];
    off[0] = 0;
    return 0;
}

/* The three reverse indices of the backward pass. Uses dC1e's storage as
 * temporary target arrays (it is sized later). */
static int build_reverses(kga_gnn_work_t *w, const kga_gnn_t *m)
{
    size_t S = m->S;
    size_t e1 = w->n1 * S, ep = 2 * w->np;
    size_t big = e1 > ep ? e1 : ep;
    if (buf_ensure(&w->tmp, (big > 0 ? big : 1) * 4))
        return KGA_ENOMEM;
    uint32_t *t = U(w->tmp);
    const uint32_t *cnt = U(w->cnt), *nbr = U(w->nbr);
    int rc = 0;
    /* Layer-1 node <- (centre, slot). */
    for (size_t e = 0; e < w->nc * S; e++)
        t[e] = e % S < cnt[e / S] ? nbr[e] : UINT32_MAX;
    rc = build_reverse(&w->rev2_off, &w->rev2, w->n1, t, w->nc * S);
    /* Level-0 node <- (layer-1 node, slot). */
    for (size_t e = 0; rc == 0 && e < e1; e++)
        t[e] = e % S < cnt[e / S] ? nbr[e] : UINT32_MAX;
    if (rc == 0)
        rc = build_reverse(&w->rev1_off, &w->rev1, w->n0, t, e1);
    /* Centre <- (pair, side). */
    for (size_t p = 0; rc == 0 && p < w->np; p++) {
        t[2 * p] = U(w->pl)[p];
        t[2 * p + 1] = U(w->pr)[p];
    }
    if (rc == 0)
        rc = build_reverse(&w->revp_off, &w->revp, w->nc, t, ep);
    return rc;
}

/* The relations used by the centres' samples, increasing, and (for the
 * backward pass) their messages grouped by relation. */
static int prepare_relations(kga_gnn_work_t *w, const kga_gnn_t *m,
                             int reverse)
{
    size_t S = m->S, entries = w->nc * S;
    const uint32_t *cnt = U(w->cnt), *rel = U(w->rel);
    for (size_t e = 0; e < entries; e++)
        if (e % S < cnt[e / S])
            w->umap[rel[e]] = 1;
    if (buf_ensure(&w->ulist, ((size_t)m->R + 1) * 4))
        return KGA_ENOMEM;
    w->nused = 0;
    for (uint32_t r = 0; r < m->R; r++)
        if (w->umap[r]) {
            U(w->ulist)[w->nused] = r;
            w->umap[r] = (uint32_t)++w->nused;
        }
    int rc = 0;
    if (reverse) {
        if (buf_ensure(&w->tmp, (entries > 0 ? entries : 1) * 4)) {
            rc = KGA_ENOMEM;
        } else {
            uint32_t *t = U(w->tmp);
            for (size_t e = 0; e < entries; e++)
                t[e] = e % S < cnt[e / S] ? w->umap[rel[e]] - 1 : UINT32_MAX;
            rc = build_reverse(&w->revr_off, &w->revr, w->nused, t, entries);
        }
    }
    for (size_t i = 0; i < w->nused; i++)
        w->umap[U(w->ulist)[i]] = 0;
    return rc;
}

/* ------------------------------------------------------------------------
 * Forward stages
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

static void level0_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    const uint32_t *side = U(w->side), *ent = U(w->ent);
    float *H0 = F(w->H0);
    uint32_t d0 = m->d0;
    if (m->dp > 0) {
        float *xf = r->keep ? F(w->Xf) + b * m->dfix
                            : worker_scratch(w, worker);
        for (size_t i = b; i < e; i++)
            memcpy(xf + (i - b) * m->dfix,
                   r->d->side[side[i]].fixed + (size_t)ent[i] * m->dfix,
                   m->dfix * sizeof(float));
        kga_op_linear_fwd(xf, m->dfix, e - b, m->dfix, m->p.t[T_PROJ], m->dp,
                          H0 + b * d0, d0, 0);
    }
    for (size_t i = b; i < e; i++) {
        float *h = H0 + i * d0;
        if (m->dn > 0) {
            const kga_gnn_side_t *sd = &r->d->side[side[i]];
            uint64_t o = sd->name_off[ent[i]];
            size_t count = (size_t)(sd->name_off[ent[i] + 1] - o);
            const float *wt =
                sd->name_weight != NULL ? sd->name_weight + o : NULL;
            kga_op_name_fwd(m->p.t[T_NAME], sd->name_bucket + o, wt, count,
                            m->dn, h + m->dp);
            float total = 0.0f;
            for (size_t k = 0; k < count; k++)
                total += wt != NULL ? wt[k] : 1.0f;
            F(w->winv)[i] = count > 0 && fabsf(total) > KGA_OPS_EPS
                                ? 1.0f / total
                                : 0.0f;
        }
        if (m->de > 0)
            memcpy(h + m->dp + m->dn,
                   m->p.t[T_ENT] +
                       (size_t)m->slot[side[i]][ent[i]] * m->de,
                   m->de * sizeof(float));
    }
}

/* Layer 1 of nodes [b, e) (all below n1):
 * h1 = ReLU([W_self h0 || sum_b V_b M_b]). */
static void layer1_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t S = m->S, nb = m->nb, d0 = m->d0, dh = m->dh, d1 = m->d1;
    size_t wide = (size_t)nb * d0;
    const float *H0 = F(w->H0);
    float *M = r->keep ? F(w->M) + b * wide : worker_scratch(w, worker);
    float *H1 = F(w->H1);
    const float *hp[KGA_SAMPLE_MAX], *cp[KGA_SAMPLE_MAX];
    for (size_t i = b; i < e; i++) {
        uint32_t c = U(w->cnt)[i];
        /* The neighbours' rows are scattered: fetch the next node's early. */
        if (i + 1 < e)
            for (uint32_t k = 0; k < U(w->cnt)[i + 1]; k++)
                kga_prefetch_row(H0 + (size_t)U(w->nbr)[(i + 1) * S + k] * d0,
                                 d0);
        for (uint32_t k = 0; k < c; k++) {
            hp[k] = H0 + (size_t)U(w->nbr)[i * S + k] * d0;
            cp[k] = m->p.t[T_COEF1] + (size_t)U(w->rel)[i * S + k] * nb;
        }
        kga_op_basis_mean_fwd(hp, cp, c, nb, d0, M + (i - b) * wide);
    }
    size_t n = e - b;
    kga_op_linear_fwd(H0 + b * d0, d0, n, d0, m->p.t[T_SELF1], dh,
                      H1 + b * d1, d1, 0);
    kga_op_linear_fwd(M, wide, n, wide, m->p.t[T_BASES1], dh,
                      H1 + b * d1 + dh, d1, 0);
    kga_op_relu_fwd(H1 + b * d1, n * d1, H1 + b * d1);
}

/* Layer 2 materialises W_r = sum_b c[r][b] V_b for the relations the
 * centres' samples use: one dh x d1 matrix per relation is cheaper than
 * applying all bases to every layer-1 node. */
static void relation_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    size_t mat = (size_t)m->dh * m->d1;
    (void)worker;
    for (size_t i = b; i < e; i++) {
        uint32_t rel = U(w->ulist)[i];
        kga_op_basis_fwd(m->p.t[T_COEF2] + (size_t)rel * m->nb,
                         m->p.t[T_BASES2], m->nb, (uint32_t)mat,
                         F(w->Wr) + rel * mat);
    }
}

/* Per centre: the self half s2 = W_self2 h1, the messages z_k = W_r h1_p
 * and beta. */
static void centre_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t S = m->S, dh = m->dh, d1 = m->d1;
    size_t mat = (size_t)dh * d1;
    const float *H1 = F(w->H1);
    (void)worker;
    kga_op_linear_fwd(H1 + b * d1, d1, e - b, d1, m->p.t[T_SELF2], dh,
                      r->S2 + b * dh, dh, 0);
    for (size_t c = b; c < e; c++) {
        uint32_t cnt = U(w->cnt)[c];
        const float *s2 = r->S2 + c * dh;
        float *Z = r->Z + c * S * dh, *T = r->T + c * S;
        float *beta = r->beta + c * S;
        for (uint32_t k = 0; k < cnt; k++) {
            uint32_t j = U(w->nbr)[c * S + k], rel = U(w->rel)[c * S + k];
            kga_op_matvec_fwd(F(w->Wr) + rel * mat, dh, d1,
                              H1 + (size_t)j * d1, Z + k * dh);
            T[k] = kga_op_attn_logit_fwd(m->p.t[T_ATT] + (size_t)rel * 2 * dh,
                                         s2, Z + k * dh, dh);
        }
        if (cnt == 0)
            continue;
        if (m->cfg.self_attention) {
            kga_op_leaky_fwd(T, cnt, m->cfg.leaky_slope, beta);
            kga_op_softmax_fwd(beta, cnt, beta);
        } else {
            for (uint32_t k = 0; k < cnt; k++)
                beta[k] = 1.0f / (float)cnt;
        }
    }
}

/* ------------------------------------------------------------------------
 * The last layer of one pair
 * ------------------------------------------------------------------------ */

typedef struct {
    const float *Z, *beta, *s2;
    uint32_t m;
} view_t;

typedef struct {
    float *D, *A;         /* S x S */
    float *alpha[2], *w[2]; /* S each */
    float *h2[2];         /* d1 each */
} pairbuf_t;

static int pair_cross(const kga_gnn_t *m, const view_t v[2])
{
    return m->cfg.cross_attention && v[0].m > 0 && v[1].m > 0;
}

/* h2 of both sides and their distance. Without cross attention (switched
 * off, or a side without neighbours, where alpha is undefined) w = beta. */
static float pair_forward(const kga_gnn_t *m, const view_t v[2],
                          const pairbuf_t *pb)
{
    uint32_t dh = m->dh;
    int cross = pair_cross(m, v);
    if (cross)
        kga_op_cross_fwd(v[0].Z, v[0].m, v[1].Z, v[1].m, dh, pb->D, pb->A,
                         pb->alpha[0], pb->alpha[1]);
    for (int s = 0; s < 2; s++) {
        float *h = pb->h2[s];
        if (cross)
            kga_op_renorm_fwd(pb->alpha[s], v[s].beta, v[s].m, pb->w[s]);
        else
            memcpy(pb->w[s], v[s].beta, v[s].m * sizeof(float));
        kga_op_wsum_fwd(pb->w[s], v[s].Z, v[s].m, dh, h + dh);
        /* h = relu([s2, weighted sum]), s2 read in place. */
        kga_op_relu_fwd(v[s].s2, dh, h);
        kga_op_relu_fwd(h + dh, m->d1 - dh, h + dh);
    }
    return kga_op_l2_fwd(pb->h2[0], pb->h2[1], m->d1);
}

/* Backward of pair_forward for d(loss)/d(dist) = dd. Overwrites dZ[s]
 * (S x dh), dbeta[s] (S), ds2[s] (dh). tmp holds 2 d1 + 4 S floats. */
static void pair_backward(const kga_gnn_t *m, const view_t v[2],
                          const pairbuf_t *pb, float dist, float dd,
                          float *tmp, float *const dZ[2],
                          float *const dbeta[2], float *const ds2[2])
{
    uint32_t dh = m->dh, d1 = m->d1, S = m->S;
    float *dh2[2] = {tmp, tmp + d1};
    float *dw[2] = {tmp + 2 * d1, tmp + 2 * d1 + S};
    float *dal[2] = {tmp + 2 * d1 + 2 * S, tmp + 2 * d1 + 3 * S};
    memset(tmp, 0, (2 * (size_t)d1 + 4 * (size_t)S) * sizeof *tmp);
    for (int s = 0; s < 2; s++) {
        memset(dZ[s], 0, (size_t)S * dh * sizeof(float));
        memset(dbeta[s], 0, S * sizeof(float));
    }
    kga_op_l2_bwd(pb->h2[0], pb->h2[1], d1, dist, dd, dh2[0], dh2[1]);
    int cross = pair_cross(m, v);
    for (int s = 0; s < 2; s++) {
        kga_op_relu_bwd(pb->h2[s], dh2[s], d1, dh2[s]);
        memcpy(ds2[s], dh2[s], dh * sizeof(float));
        kga_op_wsum_bwd(pb->w[s], v[s].Z, v[s].m, dh, dh2[s] + dh, dw[s],
                        dZ[s]);
        if (cross)
            kga_op_renorm_bwd(pb->alpha[s], v[s].beta, pb->w[s], v[s].m,
                              dw[s], dal[s], dbeta[s]);
        else
            memcpy(dbeta[s], dw[s], v[s].m * sizeof(float));
    }
    if (cross)
        kga_op_cross_bwd(v[0].Z, v[0].m, v[1].Z, v[1].m, dh, pb->D, pb->A,
                         pb->alpha[0], pb->alpha[1], dal[0], dal[1], dZ[0],
                         dZ[1]);
}

static view_t centre_view(const run_t *r, uint32_t c)
{
    const kga_gnn_t *m = r->m;
    view_t v = {
        .Z = r->Z + (size_t)c * m->S * m->dh,
        .beta = r->beta + (size_t)c * m->S,
        .s2 = r->S2 + (size_t)c * m->dh,
        .m = U(r->w->cnt)[c],
    };
    return v;
}

static pairbuf_t pair_slot(const kga_gnn_work_t *w, const kga_gnn_t *m,
                           size_t p)
{
    size_t S = m->S;
    pairbuf_t pb = {
        .D = F(w->pD) + p * S * S,
        .A = F(w->pA) + p * S * S,
        .alpha = {F(w->palpha) + 2 * p * S, F(w->palpha) + (2 * p + 1) * S},
        .w = {F(w->pw) + 2 * p * S, F(w->pw) + (2 * p + 1) * S},
        .h2 = {F(w->ph2) + 2 * p * m->d1, F(w->ph2) + (2 * p + 1) * m->d1},
    };
    return pb;
}

static void pair_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    (void)worker;
    for (size_t p = b; p < e; p++) {
        view_t v[2] = {centre_view(r, U(r->w->pl)[p]),
                       centre_view(r, U(r->w->pr)[p])};
        pairbuf_t pb = pair_slot(r->w, r->m, p);
        F(r->w->pdist)[p] = pair_forward(r->m, v, &pb);
    }
}

/* ------------------------------------------------------------------------
 * Backward stages
 * ------------------------------------------------------------------------ */

static void pair_bwd_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    size_t S = m->S, dh = m->dh;
    float *tmp = worker_scratch(w, worker);
    for (size_t p = b; p < e; p++) {
        view_t v[2] = {centre_view(r, U(w->pl)[p]),
                       centre_view(r, U(w->pr)[p])};
        pairbuf_t pb = pair_slot(w, m, p);
        float *dZ[2] = {F(w->pdZ) + 2 * p * S * dh,
                        F(w->pdZ) + (2 * p + 1) * S * dh};
        float *db[2] = {F(w->pdbeta) + 2 * p * S,
                        F(w->pdbeta) + (2 * p + 1) * S};
        float *ds[2] = {F(w->pds2) + 2 * p * dh,
                        F(w->pds2) + (2 * p + 1) * dh};
        pair_backward(m, v, &pb, F(w->pdist)[p], F(w->pdd)[p], tmp, dZ, db,
                      ds);
    }
}

/* Per centre: gathers the pair gradients and backpropagates through beta
 * into dz, ds2 and the logit gradients dT. */
static void centre_bwd_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t S = m->S, dh = m->dh;
    float *tmp = worker_scratch(w, worker);
    float *dbeta = tmp, *de = tmp + S;
    for (size_t c = b; c < e; c++) {
        uint32_t cnt = U(w->cnt)[c];
        float *dZ = F(w->dZ) + c * S * dh, *ds2 = F(w->ds2) + c * dh;
        float *dT = F(w->dT) + c * S;
        memset(dZ, 0, (size_t)S * dh * sizeof(float));
        memset(ds2, 0, dh * sizeof(float));
        memset(dT, 0, S * sizeof(float));
        memset(dbeta, 0, S * sizeof(float));
        for (uint32_t q = U(w->revp_off)[c]; q < U(w->revp_off)[c + 1];
             q++) {
            size_t slot = U(w->revp)[q]; /* 2 * pair + side */
            const float *pz = F(w->pdZ) + slot * S * dh;
            for (size_t i = 0; i < (size_t)cnt * dh; i++)
                dZ[i] += pz[i];
            for (uint32_t k = 0; k < cnt; k++)
                dbeta[k] += F(w->pdbeta)[slot * S + k];
            for (uint32_t i = 0; i < dh; i++)
                ds2[i] += F(w->pds2)[slot * dh + i];
        }
        if (cnt > 0 && m->cfg.self_attention) {
            const float *Z = r->Z + c * S * dh, *s2 = r->S2 + c * dh;
            kga_op_softmax_bwd(r->beta + c * S, dbeta, cnt, de);
            kga_op_leaky_bwd(r->T + c * S, de, cnt, m->cfg.leaky_slope, dT);
            for (uint32_t k = 0; k < cnt; k++) {
                uint32_t rel = U(w->rel)[c * S + k];
                kga_op_attn_logit_bwd(m->p.t[T_ATT] + (size_t)rel * 2 * dh,
                                      s2, Z + (size_t)k * dh, dh, dT[k], NULL,
                                      ds2, dZ + (size_t)k * dh);
            }
        }
    }
}

/* Per used relation: dW_r = sum over its messages of dz h1_p^T, in entry
 * order. */
static void relation_bwd_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t dh = m->dh, d1 = m->d1;
    size_t mat = (size_t)dh * d1;
    (void)worker;
    for (size_t i = b; i < e; i++) {
        uint32_t rel = U(w->ulist)[i];
        float *dW = F(w->dWr) + rel * mat;
        memset(dW, 0, mat * sizeof(float));
        for (uint32_t q = U(w->revr_off)[i]; q < U(w->revr_off)[i + 1]; q++) {
            uint32_t en = U(w->revr)[q];
            kga_op_matvec_bwd(NULL, dh, d1,
                              F(w->H1) + (size_t)U(w->nbr)[en] * d1,
                              F(w->dZ) + (size_t)en * dh, NULL, dW);
        }
    }
}

/* Per layer-1 node: dh1 gathered from the messages it sent to centres
 * (W_r^T dz) and, for a centre, from its self half (W_self2^T ds2). */
static void h1_gather_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t dh = m->dh, d1 = m->d1;
    size_t mat = (size_t)dh * d1;
    (void)worker;
    for (size_t j = b; j < e; j++) {
        float *dh1 = F(w->dH1) + j * d1;
        memset(dh1, 0, d1 * sizeof(float));
        for (uint32_t q = U(w->rev2_off)[j]; q < U(w->rev2_off)[j + 1];
             q++) {
            uint32_t en = U(w->rev2)[q];
            kga_op_matvec_bwd(F(w->Wr) + (size_t)U(w->rel)[en] * mat, dh, d1,
                              NULL, F(w->dZ) + (size_t)en * dh, dh1, NULL);
        }
    }
    if (b < w->nc) {
        size_t end = e < w->nc ? e : w->nc;
        kga_op_linear_bwd(NULL, 0, end - b, d1, m->p.t[T_SELF2], dh,
                          F(w->ds2) + b * dh, dh, F(w->dH1) + b * d1, d1, 1,
                          NULL);
    }
}

/* Rows [b, e) of the layer-1 nodes: through the ReLU, the level-0 self
 * gradient (overwriting dH0 rows b..e), dM into scratch, and per sampled
 * neighbour k its share of dh0 (U1) and of the coefficients (dC1e). */
static void layer1_bwd_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t S = m->S, nb = m->nb, d0 = m->d0, dh = m->dh, d1 = m->d1;
    size_t wide = (size_t)nb * d0;
    size_t n = e - b;
    float *dH1 = F(w->dH1) + b * d1;
    float *dM = worker_scratch(w, worker);
    kga_op_relu_bwd(F(w->H1) + b * d1, dH1, n * d1, dH1);
    kga_op_linear_bwd(NULL, 0, n, d0, m->p.t[T_SELF1], dh, dH1, d1,
                      F(w->dH0) + b * d0, d0, 0, NULL);
    kga_op_linear_bwd(NULL, 0, n, wide, m->p.t[T_BASES1], dh, dH1 + dh, d1,
                      dM, wide, 0, NULL);
    for (size_t i = b; i < e; i++) {
        uint32_t cnt = U(w->cnt)[i];
        if (i + 1 < e)
            for (uint32_t k = 0; k < U(w->cnt)[i + 1]; k++)
                kga_prefetch_row(F(w->H0) +
                                     (size_t)U(w->nbr)[(i + 1) * S + k] * d0,
                                 d0);
        for (uint32_t k = 0; k < cnt; k++) {
            size_t en = i * S + k;
            float *u = F(w->U1) + en * d0, *dc = F(w->dC1e) + en * nb;
            memset(u, 0, d0 * sizeof(float));
            memset(dc, 0, nb * sizeof(float));
            kga_op_basis_mean_bwd(F(w->H0) + (size_t)U(w->nbr)[en] * d0,
                                  m->p.t[T_COEF1] +
                                      (size_t)U(w->rel)[en] * nb,
                                  cnt, nb, d0, dM + (i - b) * wide, u, dc);
        }
    }
}

/* Per level-0 node: its gradient from the layer-1 nodes that sampled it
 * (and from its own layer-1 row, already in place for nodes below n1);
 * the coefficient gradient of each (node, slot) goes to dC1e. */
/* Per level-0 node: its gradient from the layer-1 nodes that sampled it
 * (and from its own layer-1 row, already in place for nodes below n1). */
static void h0_gather_chunk(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    uint32_t d0 = r->m->d0;
    (void)worker;
    for (size_t j = b; j < e; j++) {
        float *dh0 = F(w->dH0) + j * d0;
        if (j >= w->n1)
            memset(dh0, 0, d0 * sizeof(float));
        uint32_t last = U(w->rev1_off)[j + 1];
        for (uint32_t q = U(w->rev1_off)[j]; q < last; q++) {
            if (q + 2 < U(w->rev1_off)[e])
                kga_prefetch_row(F(w->U1) + (size_t)U(w->rev1)[q + 2] * d0,
                                 d0);
            kga_vaxpy(dh0, 1.0f, F(w->U1) + (size_t)U(w->rev1)[q] * d0, d0);
        }
    }
}

/* Embedding rows: worker `part` owns the rows whose index is part modulo
 * parts and walks the nodes in order, so each row's sum has one order. */
static void table_scatter(void *ctx, size_t b, size_t e, int worker)
{
    run_t *r = ctx;
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    uint32_t mask = (uint32_t)r->parts - 1, d0 = m->d0;
    float *dE = r->g->p.t[T_NAME], *dEnt = r->g->p.t[T_ENT];
    uint8_t *tn = r->g->touched[T_NAME], *te = r->g->touched[T_ENT];
    (void)worker;
    for (size_t part = b; part < e; part++) {
        for (size_t j = 0; j < w->n0; j++) {
            uint32_t s = U(w->side)[j], ent = U(w->ent)[j];
            const float *dh0 = F(w->dH0) + j * d0;
            if (m->dn > 0 && F(w->winv)[j] != 0.0f) {
                const kga_gnn_side_t *sd = &r->d->side[s];
                float inv = F(w->winv)[j];
                uint64_t end = sd->name_off[ent + 1];
                for (uint64_t k = sd->name_off[ent]; k < end; k++) {
                    uint32_t bk = sd->name_bucket[k];
                    if ((bk & mask) != part)
                        continue;
                    for (uint64_t a = k + 1; a < end && a < k + 8; a++)
                        if ((sd->name_bucket[a] & mask) == part) {
                            kga_prefetch_row(dE + (size_t)sd->name_bucket[a] *
                                                      m->dn,
                                             m->dn);
                            break;
                        }
                    float wk = sd->name_weight != NULL ? sd->name_weight[k]
                                                       : 1.0f;
                    kga_vaxpy(dE + (size_t)bk * m->dn, wk * inv, dh0 + m->dp,
                              m->dn);
                    tn[bk] = 1;
                }
            }
            if (m->de > 0) {
                uint32_t row = m->slot[s][ent];
                if ((row & mask) == part) {
                    kga_vaxpy(dEnt + (size_t)row * m->de, 1.0f,
                              dh0 + m->dp + m->dn, m->de);
                    te[row] = 1;
                }
            }
        }
    }
}

/* Parameter gradients dW += dY^T X, split into fixed column blocks. */
typedef struct {
    const float *dY;
    size_t ldy, n, dout;
    const float *X;
    size_t ldx, din;
    float *dW;
} wgrad_job_t;

typedef struct {
    wgrad_job_t job[4];
    size_t first[5]; /* first block of each job; first[4] = total */
    int count;
} wgrad_t;

static void wgrad_add(wgrad_t *wg, const float *dY, size_t ldy, size_t n,
                      size_t dout, const float *X, size_t ldx, size_t din,
                      float *dW)
{
    if (dW == NULL || n == 0 || din == 0 || dout == 0)
        return;
    wgrad_job_t j = {dY, ldy, n, dout, X, ldx, din, dW};
    size_t start = wg->first[wg->count];
    wg->job[wg->count++] = j;
    wg->first[wg->count] = start + (din + COL_BLOCK - 1) / COL_BLOCK;
}

static void wgrad_chunk(void *ctx, size_t b, size_t e, int worker)
{
    wgrad_t *wg = ctx;
    (void)worker;
    for (size_t blk = b; blk < e; blk++) {
        int k = 0;
        while (blk >= wg->first[k + 1])
            k++;
        const wgrad_job_t *j = &wg->job[k];
        size_t c0 = (blk - wg->first[k]) * COL_BLOCK;
        size_t cols = j->din - c0 < COL_BLOCK ? j->din - c0 : COL_BLOCK;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)j->dout,
                    (int)cols, (int)j->n, 1.0f, j->dY, (int)j->ldy,
                    j->X + c0, (int)j->ldx, 1.0f, j->dW + c0, (int)j->din);
    }
}

static void wgrad_run(kga_pool_t *pool, wgrad_t *wg)
{
    kga_pool_run(pool, wg->first[wg->count], 1, wgrad_chunk, wg);
}

/* ------------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------------ */

static int ensure_f(buf_t *b, size_t n)
{
    return buf_ensure(b, (n > 0 ? n : 1) * sizeof(float));
}

static int ensure_forward(kga_gnn_work_t *w, const kga_gnn_t *m, int keep)
{
    size_t S = m->S, wide = (size_t)m->nb * m->d0;
    size_t n0 = w->n0, n1 = w->n1, nc = w->nc, np = w->np;
    if (ensure_f(&w->H0, n0 * m->d0) || ensure_f(&w->winv, n0) ||
        ensure_f(&w->H1, n1 * m->d1) || ensure_f(&w->T, nc * S) ||
        ensure_f(&w->Wr, (size_t)m->R * m->dh * m->d1))
        return KGA_ENOMEM;
    if (keep && (ensure_f(&w->Xf, n0 * m->dfix) ||
                 ensure_f(&w->M, n1 * wide)))
        return KGA_ENOMEM;
    if (np > 0 &&
        (ensure_f(&w->Z, nc * S * m->dh) || ensure_f(&w->beta, nc * S) ||
         ensure_f(&w->S2, nc * m->dh) || ensure_f(&w->pD, np * S * S) ||
         ensure_f(&w->pA, np * S * S) || ensure_f(&w->palpha, np * 2 * S) ||
         ensure_f(&w->pw, np * 2 * S) || ensure_f(&w->ph2, np * 2 * m->d1) ||
         ensure_f(&w->pdist, np) || ensure_f(&w->pdd, np)))
        return KGA_ENOMEM;
    return 0;
}

static int ensure_backward(kga_gnn_work_t *w, const kga_gnn_t *m)
{
    size_t S = m->S, dh = m->dh, nb = m->nb;
    size_t n0 = w->n0, n1 = w->n1, nc = w->nc, np = w->np;
    if (ensure_f(&w->pdZ, np * 2 * S * dh) ||
        ensure_f(&w->pdbeta, np * 2 * S) || ensure_f(&w->pds2, np * 2 * dh) ||
        ensure_f(&w->dZ, nc * S * dh) || ensure_f(&w->dT, nc * S) ||
        ensure_f(&w->ds2, nc * dh) ||
        ensure_f(&w->dWr, (size_t)m->R * dh * m->d1) ||
        ensure_f(&w->dH1, n1 * m->d1) || ensure_f(&w->dH0, n0 * m->d0) ||
        ensure_f(&w->U1, n1 * S * m->d0) || ensure_f(&w->dC1e, n1 * S * nb))
        return KGA_ENOMEM;
    return 0;
}

static void backward(run_t *r)
{
    kga_gnn_work_t *w = r->w;
    const kga_gnn_t *m = r->m;
    kga_gnn_grad_t *g = r->g;
    kga_pool_t *pool = w->pool;
    uint32_t S = m->S, nb = m->nb, dh = m->dh, d0 = m->d0, d1 = m->d1;
    size_t wide = (size_t)nb * d0, mat = (size_t)dh * d1;

    kga_pool_run(pool, w->np, ITEM_GRAIN, pair_bwd_chunk, r);
    kga_pool_run(pool, w->nc, ITEM_GRAIN, centre_bwd_chunk, r);

    /* Attention vectors, in entry order. */
    float *dAtt = g->p.t[T_ATT];
    if (m->cfg.self_attention)
        for (size_t c = 0; c < w->nc; c++)
            for (uint32_t k = 0; k < U(w->cnt)[c]; k++) {
                size_t en = c * S + k;
                float dt = F(w->dT)[en];
                if (dt == 0.0f)
                    continue;
                kga_op_attn_logit_bwd(NULL, r->S2 + c * dh, r->Z + en * dh, dh,
                                      dt,
                                      dAtt + (size_t)U(w->rel)[en] * 2 * dh,
                                      NULL, NULL);
            }

    /* Layer-2 relation matrices, then their bases and coefficients in
     * relation order. */
    kga_pool_run(pool, w->nused, 1, relation_bwd_chunk, r);
    for (size_t i = 0; i < w->nused; i++) {
        uint32_t rel = U(w->ulist)[i];
        kga_op_basis_bwd(m->p.t[T_COEF2] + (size_t)rel * nb, m->p.t[T_BASES2],
                         nb, (uint32_t)mat, F(w->dWr) + rel * mat,
                         g->p.t[T_COEF2] + (size_t)rel * nb,
                         g->p.t[T_BASES2]);
    }

    kga_pool_run(pool, w->n1, ROW_GRAIN, h1_gather_chunk, r);
    wgrad_t wg = {0};
    wgrad_add(&wg, F(w->ds2), dh, w->nc, dh, F(w->H1), d1, d1,
              g->p.t[T_SELF2]);
    wgrad_run(pool, &wg);
    kga_pool_run(pool, w->n1, ROW_GRAIN, layer1_bwd_chunk, r);
    wgrad_t w1 = {0};
    wgrad_add(&w1, F(w->dH1), d1, w->n1, dh, F(w->H0), d0, d0,
              g->p.t[T_SELF1]);
    wgrad_add(&w1, F(w->dH1) + dh, d1, w->n1, dh, F(w->M), wide, wide,
              g->p.t[T_BASES1]);
    wgrad_run(pool, &w1);

    kga_pool_run(pool, w->n0, ROW_GRAIN, h0_gather_chunk, r);
    float *dC1 = g->p.t[T_COEF1];
    for (size_t i = 0; i < w->n1; i++)
        for (uint32_t k = 0; k < U(w->cnt)[i]; k++) {
            size_t en = i * S + k;
            uint32_t rel = U(w->rel)[en];
            for (uint32_t b = 0; b < nb; b++)
                dC1[(size_t)rel * nb + b] += F(w->dC1e)[en * nb + b];
        }

    if (m->dp > 0) {
        wgrad_t wp = {0};
        wgrad_add(&wp, F(w->dH0), d0, w->n0, m->dp, F(w->Xf), m->dfix,
                  m->dfix, g->p.t[T_PROJ]);
        wgrad_run(pool, &wp);
    }
    if (m->dn > 0 || m->de > 0)
        kga_pool_run(pool, (size_t)r->parts, 1, table_scatter, r);
}

int kga_gnn_batch_run(kga_gnn_work_t *w, const kga_gnn_t *m,
                      const kga_gnn_data_t *d, const kga_gnn_batch_t *b,
                      kga_gnn_grad_t *grad, double *loss, float *dist)
{
    size_t per = 1 + (size_t)b->negatives;
    size_t np = b->groups * per;
    for (size_t p = 0; p < np; p++)
        if (b->pairs[p].left >= m->shape.entities[0] ||
            b->pairs[p].right >= m->shape.entities[1])
            return KGA_EINVAL;
    if (w->m != m || (grad != NULL && grad->m != m))
        return KGA_EINVAL;
    int prev = kga_blas_serial_enter();
    int rc = build_nodes(w, m, d, b->pairs, np, b->seed);
    if (rc == 0 && grad != NULL)
        rc = build_reverses(w, m);
    if (rc == 0)
        rc = prepare_relations(w, m, grad != NULL);
    if (rc == 0)
        rc = ensure_forward(w, m, grad != NULL);
    if (rc == 0 && grad != NULL)
        rc = ensure_backward(w, m);
    if (rc != 0) {
        kga_blas_serial_leave(prev);
        return rc;
    }
    int parts = 1;
    while (parts < kga_pool_threads(w->pool) && parts < 64)
        parts *= 2;
    run_t r = {
        .w = w, .m = m, .d = d, .g = grad, .keep = grad != NULL,
        .Z = F(w->Z), .T = F(w->T), .beta = F(w->beta), .S2 = F(w->S2),
        .parts = parts,
    };
    kga_pool_run(w->pool, w->n0, ROW_GRAIN, level0_chunk, &r);
    kga_pool_run(w->pool, w->n1, ROW_GRAIN, layer1_chunk, &r);
    kga_pool_run(w->pool, w->nused, 4, relation_chunk, &r);
    kga_pool_run(w->pool, w->nc, ITEM_GRAIN, centre_chunk, &r);
    kga_pool_run(w->pool, np, ITEM_GRAIN, pair_chunk, &r);

    const float *pd = F(w->pdist);
    float *dd = F(w->pdd);
    if (np > 0)
        memset(dd, 0, np * sizeof *dd);
    float scale = b->groups > 0 ? 1.0f / (float)b->groups : 0.0f;
    double total = 0.0;
    for (size_t gi = 0; gi < b->groups; gi++) {
        size_t p0 = gi * per;
        for (size_t k = 1; k < per; k++) {
            total += kga_op_hinge_fwd(pd[p0], pd[p0 + k], m->cfg.margin);
            kga_op_hinge_bwd(pd[p0], pd[p0 + k], m->cfg.margin, scale,
                             &dd[p0], &dd[p0 + k]);
        }
    }
    if (loss != NULL)
        *loss = b->groups > 0 ? total / (double)b->groups : 0.0;
    if (dist != NULL && np > 0)
        memcpy(dist, pd, np * sizeof *dist);
    if (grad != NULL)
        backward(&r);
    kga_blas_serial_leave(prev);
    return 0;
}

/* ------------------------------------------------------------------------
 * Inference cache
 * ------------------------------------------------------------------------ */

struct kga_gnn_cache {
    uint32_t n[2];
    uint32_t S, dh, d1;
    uint32_t *cnt; /* per node: left entities, then right entities */
    uint32_t *nbr; /* entity ids on the node's side */
    uint32_t *rel;
    float *Z, *beta, *s2, *vec;
};

void kga_gnn_cache_free(kga_gnn_cache_t *c)
{
    if (c == NULL)
        return;
    free(c->cnt);
    free(c->nbr);
    free(c->rel);
    free(c->Z);
    free(c->beta);
    free(c->s2);
    free(c->vec);
    free(c);
}

typedef struct {
    run_t *r;
    kga_gnn_cache_t *c;
} finish_ctx_t;

static void cache_finish_chunk(void *ctx, size_t b, size_t e, int worker)
{
    finish_ctx_t *f = ctx;
    kga_gnn_work_t *w = f->r->w;
    const kga_gnn_t *m = f->r->m;
    kga_gnn_cache_t *c = f->c;
    size_t S = m->S, dh = m->dh;
    (void)worker;
    for (size_t i = b; i < e; i++) {
        uint32_t cnt = U(w->cnt)[i];
        c->cnt[i] = cnt;
        for (uint32_t k = 0; k < cnt; k++) {
            c->nbr[i * S + k] = U(w->ent)[U(w->nbr)[i * S + k]];
            c->rel[i * S + k] = U(w->rel)[i * S + k];
        }
        float *v = c->vec + i * m->d1;
        memcpy(v, c->s2 + i * dh, dh * sizeof(float));
        kga_op_wsum_fwd(c->beta + i * S, c->Z + i * S * dh, cnt, m->dh,
                        v + dh);
        kga_op_relu_fwd(v, m->d1, v);
    }
}

int kga_gnn_cache_build(const kga_gnn_t *m, const kga_gnn_data_t *d,
                        int threads, kga_gnn_cache_t **out)
{
    *out = NULL;
    int rc = kga_gnn_data_check(m, d, NULL);
    if (rc != 0)
        return rc;
    kga_pool_t *pool = NULL;
    kga_gnn_work_t *w = NULL;
    kga_gnn_cache_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KGA_ENOMEM;
    size_t N = (size_t)m->shape.entities[0] + m->shape.entities[1];
    size_t S = m->S, n1 = N > 0 ? N : 1;
    c->n[0] = m->shape.entities[0];
    c->n[1] = m->shape.entities[1];
    c->S = m->S;
    c->dh = m->dh;
    c->d1 = m->d1;
    c->cnt = malloc(n1 * sizeof *c->cnt);
    c->nbr = malloc(n1 * S * sizeof *c->nbr);
    c->rel = malloc(n1 * S * sizeof *c->rel);
    c->Z = malloc(n1 * S * m->dh * sizeof *c->Z);
    c->beta = malloc(n1 * S * sizeof *c->beta);
    c->s2 = malloc(n1 * m->dh * sizeof *c->s2);
    c->vec = malloc(n1 * m->d1 * sizeof *c->vec);
    rc = KGA_ENOMEM;
    if (c->cnt == NULL || c->nbr == NULL || c->rel == NULL || c->Z == NULL ||
        c->beta == NULL || c->s2 == NULL || c->vec == NULL)
        goto fail;
    if ((rc = kga_pool_new(threads, &pool)) != 0 ||
        (rc = kga_gnn_work_new(m, pool, &w)) != 0)
        goto fail;
    int prev = kga_blas_serial_enter();
    const uint64_t seeds[2] = {KGA_SAMPLE_INFERENCE, KGA_SAMPLE_INFERENCE};
    rc = build_nodes(w, m, d, NULL, 0, seeds);
    if (rc == 0)
        rc = prepare_relations(w, m, 0);
    if (rc == 0)
        rc = ensure_forward(w, m, 0);
    if (rc == 0) {
        run_t r = {.w = w, .m = m, .d = d, .Z = c->Z, .T = F(w->T),
                   .beta = c->beta, .S2 = c->s2, .parts = 1};
        kga_pool_run(pool, w->n0, ROW_GRAIN, level0_chunk, &r);
        kga_pool_run(pool, w->n1, ROW_GRAIN, layer1_chunk, &r);
        kga_pool_run(pool, w->nused, 4, relation_chunk, &r);
        kga_pool_run(pool, w->nc, ITEM_GRAIN, centre_chunk, &r);
        finish_ctx_t f = {&r, c};
        kga_pool_run(pool, N, ROW_GRAIN, cache_finish_chunk, &f);
    }
    kga_blas_serial_leave(prev);
    if (rc != 0)
        goto fail;
    kga_gnn_work_free(w);
    kga_pool_free(pool);
    *out = c;
    return 0;
fail:
    kga_gnn_work_free(w);
    kga_pool_free(pool);
    kga_gnn_cache_free(c);
    return rc;
}

const float *kga_gnn_cache_vectors(const kga_gnn_cache_t *c, int side,
                                   uint32_t *dim)
{
    if (dim != NULL)
        *dim = c->d1;
    return c->vec + (side ? (size_t)c->n[0] * c->d1 : 0);
}

static view_t cache_view(const kga_gnn_cache_t *c, int side, uint32_t ent)
{
    size_t i = (side ? (size_t)c->n[0] : 0) + ent;
    view_t v = {
        .Z = c->Z + i * c->S * c->dh,
        .beta = c->beta + i * c->S,
        .s2 = c->s2 + i * c->dh,
        .m = c->cnt[i],
    };
    return v;
}

/* ------------------------------------------------------------------------
 * Scoring and explanations
 * ------------------------------------------------------------------------ */

static size_t pairbuf_floats(const kga_gnn_t *m)
{
    return 2 * (size_t)m->S * m->S + 4 * (size_t)m->S + 2 * (size_t)m->d1;
}

static pairbuf_t pairbuf_at(const kga_gnn_t *m, float *p)
{
    size_t S = m->S, SS = S * S;
    pairbuf_t pb = {
        .D = p,
        .A = p + SS,
        .alpha = {p + 2 * SS, p + 2 * SS + S},
        .w = {p + 2 * SS + 2 * S, p + 2 * SS + 3 * S},
        .h2 = {p + 2 * SS + 4 * S, p + 2 * SS + 4 * S + m->d1},
    };
    return pb;
}

typedef struct {
    const kga_gnn_t *m;
    const kga_gnn_cache_t *c;
    const uint32_t *left, *right;
    float *dist;
    float *scratch;
} score_ctx_t;

static void score_chunk(void *ctx, size_t b, size_t e, int worker)
{
    score_ctx_t *s = ctx;
    pairbuf_t pb =
        pairbuf_at(s->m, s->scratch + (size_t)worker * pairbuf_floats(s->m));
    for (size_t k = b; k < e; k++) {
        view_t v[2] = {cache_view(s->c, 0, s->left[k]),
                       cache_view(s->c, 1, s->right[k])};
        s->dist[k] = pair_forward(s->m, v, &pb);
    }
}

/* Below this many pairs, starting threads costs more than it saves. */
#define SCORE_PARALLEL_MIN 4096

int kga_gnn_score_pairs(const kga_gnn_t *m, const kga_gnn_cache_t *c,
                        const uint32_t *left, const uint32_t *right, size_t n,
                        float *dist, int threads)
{
    if (c->S != m->S || c->dh != m->dh)
        return KGA_EINVAL;
    for (size_t k = 0; k < n; k++)
        if (left[k] >= c->n[0] || right[k] >= c->n[1])
            return KGA_EINVAL;
    kga_pool_t *pool = NULL;
    if (n >= SCORE_PARALLEL_MIN && threads != 1 &&
        kga_pool_new(threads, &pool) != 0)
        pool = NULL; /* run in the caller instead */
    int t = kga_pool_threads(pool);
    float *scratch = malloc((size_t)t * pairbuf_floats(m) * sizeof *scratch);
    if (scratch == NULL) {
        kga_pool_free(pool);
        return KGA_ENOMEM;
    }
    score_ctx_t s = {m, c, left, right, dist, scratch};
    kga_pool_run(pool, n, 1024, score_chunk, &s);
    free(scratch);
    kga_pool_free(pool);
    return 0;
}

static int cmp_evidence(const void *a, const void *b)
{
    const kga_gnn_evidence_t *x = a, *y = b;
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    if (x->left_nbr != y->left_nbr)
        return x->left_nbr < y->left_nbr ? -1 : 1;
    return x->right_nbr < y->right_nbr ? -1 : x->right_nbr > y->right_nbr;
}

int kga_gnn_explain(const kga_gnn_t *m, const kga_gnn_cache_t *c,
                    uint32_t left, uint32_t right, kga_gnn_evidence_t *out,
                    size_t max, size_t *count, float *dist)
{
    *count = 0;
    if (left >= c->n[0] || right >= c->n[1] || c->S != m->S)
        return KGA_EINVAL;
    float *buf = malloc(pairbuf_floats(m) * sizeof *buf);
    kga_gnn_evidence_t *all =
        malloc((size_t)m->S * m->S * sizeof *all + sizeof *all);
    if (buf == NULL || all == NULL) {
        free(buf);
        free(all);
        return KGA_ENOMEM;
    }
    pairbuf_t pb = pairbuf_at(m, buf);
    view_t v[2] = {cache_view(c, 0, left), cache_view(c, 1, right)};
    float dv = pair_forward(m, v, &pb);
    if (dist != NULL)
        *dist = dv;
    size_t il = left, ir = (size_t)c->n[0] + right;
    uint32_t ml = v[0].m, mr = v[1].m;
    int cross = pair_cross(m, v);
    float total = 0.0f;
    size_t n = 0;
    for (uint32_t k = 0; k < ml; k++)
        for (uint32_t l = 0; l < mr; l++) {
            float wgt = v[0].beta[k] * v[1].beta[l];
            if (cross)
                wgt *= pb.A[(size_t)k * mr + l];
            kga_gnn_evidence_t ev = {
                .left_nbr = c->nbr[il * c->S + k],
                .left_rel = c->rel[il * c->S + k],
                .right_nbr = c->nbr[ir * c->S + l],
                .right_rel = c->rel[ir * c->S + l],
                .weight = wgt,
            };
            all[n++] = ev;
            total += wgt;
        }
    for (size_t i = 0; i < n; i++)
        all[i].weight = total > 0.0f ? all[i].weight / total : 0.0f;
    qsort(all, n, sizeof *all, cmp_evidence);
    *count = n < max ? n : max;
    memcpy(out, all, *count * sizeof *out);
    free(buf);
    free(all);
    return 0;
}
