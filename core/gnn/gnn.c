/* The alignment GNN model: its configuration, its parameters (one block,
 * described tensor by tensor, initialised from the seed), the check of the
 * data it runs on, and the gradient buffers of the same shape. The passes
 * over a batch are gnn_work.c and gnn_batch.c, the inference cache
 * gnn_cache.c; gnn_internal.h holds what they share. */
#include "gnn/gnn_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

static const char *const tensor_names[T_COUNT] = {
    [T_PROJ] = "input.proj",      [T_NAME] = "input.name",
    [T_ENT] = "input.entity",     [T_BASES1] = "layer1.bases",
    [T_SELF1] = "layer1.self",    [T_COEF1] = "layer1.coef",
    [T_BASES2] = "layer2.bases",  [T_SELF2] = "layer2.self",
    [T_COEF2] = "layer2.coef",    [T_ATT] = "layer2.attention",
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

/* A float field out of [lo, hi] (hi_open: [lo, hi)), or not finite. */
static int float_out(float v, float lo, float hi, int hi_open)
{
    return !isfinite(v) || v < lo || v > hi || (hi_open && v >= hi);
}

int kga_gnn_config_check(const kga_gnn_config_t *c, kga_err_t *err)
{
    const struct {
        const char *name;
        uint32_t value, lo, hi;
    } u[] = {
        {"dim_proj", c->dim_proj, 0, KGA_GNN_DIM_MAX},
        {"dim_name", c->dim_name, 0, KGA_GNN_DIM_MAX},
        {"dim_entity", c->dim_entity, 0, KGA_GNN_DIM_MAX},
        {"dim_hidden", c->dim_hidden, 1, KGA_GNN_DIM_MAX},
        {"bases", c->bases, 1, KGA_GNN_BASES_MAX},
        {"samples", c->samples, 1, KGA_SAMPLE_MAX},
        {"uniform_sampling", (uint32_t)c->uniform_sampling, 0, 1},
        {"cross_attention", (uint32_t)c->cross_attention, 0, 1},
        {"self_attention", (uint32_t)c->self_attention, 0, 1},
        {"neg_right", c->neg_right, 0, KGA_GNN_NEGATIVES_MAX},
        {"neg_left", c->neg_left, 0, KGA_GNN_NEGATIVES_MAX},
        {"hard_negatives", c->hard_negatives, 0,
         c->neg_right < c->neg_left ? c->neg_right : c->neg_left},
        {"hard_pool", c->hard_pool, 0, KGA_SAMPLE_MAX},
        {"batch", c->batch, 1, KGA_GNN_BATCH_MAX},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if (u[i].value < u[i].lo || u[i].value > u[i].hi)
            return kga_err_set(err, KGA_ERANGE,
                               "gnn.%s is %u, must be %u..%u", u[i].name,
                               u[i].value, u[i].lo, u[i].hi);
    const struct {
        const char *name;
        float value, lo, hi;
        int hi_open;
    } f[] = {
        {"leaky_slope", c->leaky_slope, 0.0f, 1.0f, 0},
        {"margin", c->margin, 0.0f, FLT_MAX, 0},
        {"lr", c->lr, FLT_MIN, FLT_MAX, 0},
        {"beta1", c->beta1, 0.0f, 1.0f, 1},
        {"beta2", c->beta2, 0.0f, 1.0f, 1},
        {"adam_eps", c->adam_eps, FLT_MIN, FLT_MAX, 0},
        {"weight_decay", c->weight_decay, 0.0f, FLT_MAX, 0},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (float_out(f[i].value, f[i].lo, f[i].hi, f[i].hi_open))
            return kga_err_set(err, KGA_ERANGE,
                               "gnn.%s is %g, must be a finite value in "
                               "[%g, %g%c",
                               f[i].name, (double)f[i].value,
                               (double)f[i].lo, (double)f[i].hi,
                               f[i].hi_open ? ')' : ']');
    return 0;
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
 * numbered in the order left 0.., right 0..; entities past the trained
 * ones get KGA_GNN_NO_ROW. */
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
    const uint32_t *tr = m->shape.trained;
    for (size_t i = 0; i < n; i++) {
        int right = i >= nl;
        uint32_t e = right ? (uint32_t)(i - nl) : (uint32_t)i;
        if (tr[right] > 0 && e >= tr[right]) {
            m->slot[right][e] = KGA_GNN_NO_ROW;
            continue;
        }
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
        if (kga_neighbours_entity_count(sd->nbrs) != n ||
            kga_neighbours_relation_count(sd->nbrs) != m->R)
            return kga_err_set(err, KGA_EMISMATCH,
                               "%s: neighbour table has %u entities and %u "
                               "relations, the model %u and %u",
                               name, kga_neighbours_entity_count(sd->nbrs),
                               kga_neighbours_relation_count(sd->nbrs), n,
                               m->R);
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
