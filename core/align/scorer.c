/* The final pair scorer (see scorer.h): the fusion's scores, the GNN built
 * on the fusion's structural features, the attribute model, and the
 * logistic regression over them. The trainer builds and fits it, the aligner rebuilds it from a
 * model file: one file computes a pair's features for both, so training
 * and serving cannot score a pair differently. */
#include "align/scorer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "features/name_tfidf.h"
#include "gnn/neighbours.h"
#include "gnn/relation_map.h"
#include "align/sinkhorn.h"

void kga_scorer_init(kga_scorer_t *s, const kga_store_t *left,
                     const kga_store_t *right, kga_fusion_t *fusion)
{
    memset(s, 0, sizeof *s);
    s->store[0] = left;
    s->store[1] = right;
    s->fusion = fusion;
    kga_fusion_state_t state;
    kga_fusion_get_state(fusion, &state);
    s->use_names = state.name_weight > 0.0f;
}

/* Level-0 inputs of one side: the projected features and the name rows. */
static void side_inputs(kga_scorer_t *s, int side)
{
    kga_gnn_side_t *in = &s->data.side[side];
    in->nbrs = s->nbrs[side];
    in->fixed = s->fixed[side];
    if (s->use_names && s->learned_names) {
        const kga_csr_t *m = kga_tfidf_matrix(kga_fusion_names(s->fusion),
                                              side);
        in->name_off = m->indptr;
        in->name_bucket = m->indices;
        in->name_weight = m->data;
    }
}

int kga_scorer_gnn_new(kga_scorer_t *s, const kga_gnn_config_t *cfg,
                       const kga_pair_t *anchors, size_t n_anchors,
                       kga_err_t *err)
{
    int rc;
    s->learned_names = s->use_names && cfg->dim_name > 0;
    for (int side = 0; side < 2; side++) {
        size_t n = 2 * (size_t)kga_store_relation_count(s->store[side]);
        s->relmap[side] = malloc((n ? n : 1) * sizeof(uint32_t));
        if (s->relmap[side] == NULL)
            return kga_err_set(err, KGA_ENOMEM, "out of memory");
    }
    rc = kga_relation_map_build(s->store[0], s->store[1], 1, s->relmap[0],
                                s->relmap[1], &s->relations);
    if (rc != 0)
        return kga_err_set(err, rc, "relation map: %s", kga_strerror(rc));
    for (int side = 0; side < 2; side++)
        s->fixed[side] = kga_fusion_coarse(s->fusion, side);
    for (int side = 0; side < 2; side++) {
        rc = kga_neighbours_from_store(s->store[side], s->relmap[side],
                                       s->relations, &s->nbrs[side]);
        if (rc != 0)
            return kga_err_set(err, rc, "neighbour table: %s",
                               kga_strerror(rc));
        side_inputs(s, side);
    }
    kga_gnn_shape_t shape = {
        .entities = {kga_store_entity_count(s->store[0]),
                     kga_store_entity_count(s->store[1])},
        .relations = s->relations,
        .fixed_dim = KGA_SCORER_FIXED_DIM,
        .name_buckets = 0,
        .trained = {s->trained[0], s->trained[1]},
    };
    if (s->learned_names)
        shape.name_buckets =
            kga_tfidf_matrix(kga_fusion_names(s->fusion), 0)->cols;
    rc = kga_gnn_new(cfg, &shape, anchors, n_anchors, &s->gnn);
    if (rc != 0)
        return kga_err_set(err, rc, "GNN: %s", kga_strerror(rc));
    return kga_gnn_data_check(s->gnn, &s->data, err);
}

int kga_scorer_gnn_cache(kga_scorer_t *s, int threads, kga_err_t *err)
{
    kga_gnn_cache_free(s->cache);
    s->cache = NULL;
    int rc = kga_gnn_cache_build(s->gnn, &s->data, threads, &s->cache);
    if (rc != 0)
        return kga_err_set(err, rc, "GNN cache: %s", kga_strerror(rc));
    return 0;
}

int kga_scorer_attr_new(kga_scorer_t *s, uint32_t relations,
                        kga_err_t *err)
{
    kga_attr_model_free(s->attr);
    s->attr = NULL;
    s->attr_relations = relations;
    return kga_attr_model_new(s->store[0], s->store[1], relations, &s->attr,
                              err);
}

_Static_assert(KGA_ATTR_MAX_FEATURES <= KGA_LOGREG_MAX_DIM,
               "the attribute model fits the logistic regression");

int kga_scorer_attr_fit(kga_scorer_t *s, const uint32_t *left,
                        const uint32_t *right, const uint8_t *label,
                        size_t n, kga_err_t *err)
{
    s->has_attr_logreg = 0;
    uint32_t dim = s->attr != NULL ? kga_attr_feature_count(s->attr) : 0;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += label[i] != 0;
    if (dim == 0 || pos == 0 || pos == n)
        return 0;
    float *f = malloc(n * dim * sizeof *f);
    if (f == NULL)
        return kga_err_set(err, KGA_ENOMEM, "attributes: out of memory");
    for (size_t i = 0; i < n; i++)
        kga_attr_features(s->attr, left[i], right[i], f + i * dim);
    kga_logreg_options_t opt;
    kga_logreg_options_init(&opt);
    int rc = kga_logreg_fit(f, label, n, dim, &opt, &s->attr_logreg, err);
    free(f);
    if (rc == 0)
        s->has_attr_logreg = 1;
    return rc;
}

/* Feature 4 of a pair. */
static float attr_logit(const kga_scorer_t *s, uint32_t left, uint32_t right)
{
    if (!s->has_attr_logreg)
        return 0.0f;
    float f[KGA_ATTR_MAX_FEATURES];
    kga_attr_features(s->attr, left, right, f);
    double z = kga_logreg_logit(&s->attr_logreg, f);
    if (!(z < KGA_SCORER_ATTR_CLIP)) /* NaN too */
        return KGA_SCORER_ATTR_CLIP;
    return z > -KGA_SCORER_ATTR_CLIP ? (float)z : -KGA_SCORER_ATTR_CLIP;
}

/* The features from a pair's parts: S, its name cosine, the two
 * scalings, the GNN distance and the attribute logit; one expression for
 * every path. */
static void features_of(const kga_scorer_t *s, double tau, float score,
                        float cosine, double lu, double lv, float dist,
                        float attr, float *row)
{
    row[0] = (float)kga_sinkhorn_log_p(score, tau, lu, lv);
    row[1] = score;
    row[2] = s->use_names ? cosine : 0.0f;
    row[3] = s->gnn != NULL && s->cache != NULL ? -dist : 0.0f;
    row[4] = attr;
}

void kga_scorer_entity(const kga_scorer_t *s, int side, uint32_t id,
                       kga_scorer_entity_t *out)
{
    memset(out, 0, sizeof *out);
    side = side != 0;
    kga_fusion_state_t st;
    kga_fusion_get_state(s->fusion, &st);
    out->side = side;
    out->id = id;
    out->features = kga_fusion_features(s->fusion, side);
    out->features_row = id;
    out->name = kga_tfidf_row(kga_fusion_names(s->fusion), side, id);
    out->scale = side ? st.lv[id] : st.lu[id];
    if (s->gnn != NULL && s->cache != NULL)
        kga_gnn_cache_view(s->cache, side, id, &out->gnn);
    for (int d = 0; d < 2; d++)
        out->degree[d] = kga_store_edges(s->store[side], id, (kga_dir_t)d,
                                         &out->edges[d]);
    out->type = kga_store_entity_type(s->store[side], id);
}

size_t kga_scorer_scratch(const kga_scorer_t *s)
{
    return s->gnn != NULL ? kga_gnn_pair_scratch(s->gnn) : 1;
}

void kga_scorer_pair_features(const kga_scorer_t *s,
                              const kga_scorer_entity_t *left,
                              const kga_scorer_entity_t *right,
                              float *scratch, float *f)
{
    kga_fusion_state_t st;
    kga_fusion_get_state(s->fusion, &st);
    float cosine =
        s->use_names ? kga_sparse_dot(left->name, right->name) : 0.0f;
    float score = kga_fusion_score_rows(s->fusion, left->features,
                                        left->features_row, right->features,
                                        right->features_row, cosine);
    float dist = 0.0f;
    if (s->gnn != NULL && s->cache != NULL)
        dist = kga_gnn_view_distance(s->gnn, &left->gnn, &right->gnn,
                                     scratch);
    /* The attribute model reads the stores' attribute channels: an entity
     * described inline has none there, so its pairs get the neutral 0. */
    float attr = left->id != KGA_ENTITY_INLINE &&
                         right->id != KGA_ENTITY_INLINE
                     ? attr_logit(s, left->id, right->id)
                     : 0.0f;
    features_of(s, st.tau, score, cosine, left->scale, right->scale, dist,
                attr, f);
}

/* Pairs are scored through the GNN in slices so that the stack buffer for
 * distances stays small. */
#define SCORE_SLICE 256

void kga_scorer_features(const kga_scorer_t *s, const uint32_t *left,
                         const uint32_t *right, size_t n, float *f)
{
    const kga_tfidf_t *names = kga_fusion_names(s->fusion);
    kga_fusion_state_t st;
    kga_fusion_get_state(s->fusion, &st);
    float dist[SCORE_SLICE] = {0};
    const kga_qmatrix_t *F[2] = {kga_fusion_features(s->fusion, 0),
                                 kga_fusion_features(s->fusion, 1)};
    for (size_t begin = 0; begin < n; begin += SCORE_SLICE) {
        size_t m = n - begin < SCORE_SLICE ? n - begin : SCORE_SLICE;
        if (s->gnn != NULL && s->cache != NULL)
            kga_gnn_score_pairs(s->gnn, s->cache, left + begin,
                                right + begin, m, dist, 1);
        for (size_t k = 0; k < m; k++) {
            uint32_t i = left[begin + k], j = right[begin + k];
            float *row = f + (begin + k) * KGA_SCORER_FEATURES;
            /* log P from S, as kga_fusion_log_p does, without a second
             * dot product. */
            float cosine =
                s->use_names ? kga_tfidf_cosine(names, i, j) : 0.0f;
            float score =
                kga_fusion_score_rows(s->fusion, F[0], i, F[1], j, cosine);
            features_of(s, st.tau, score, cosine, st.lu[i], st.lv[j],
                        dist[k], attr_logit(s, i, j), row);
        }
    }
}

double kga_scorer_logit(const kga_scorer_t *s, const float *f)
{
    if (s->has_logreg)
        return kga_logreg_logit(&s->logreg, f);
    return f[0]; /* before calibration: the fused Sinkhorn score */
}

void kga_scorer_destroy(kga_scorer_t *s)
{
    kga_attr_model_free(s->attr);
    kga_gnn_cache_free(s->cache);
    kga_gnn_free(s->gnn);
    for (int side = 0; side < 2; side++) {
        kga_neighbours_free(s->nbrs[side]);
        free(s->relmap[side]);
    }
    kga_fusion_free(s->fusion);
    memset(s, 0, sizeof *s);
}
