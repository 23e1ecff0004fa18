/* Entities described in a request (inline_entity.h): from a description
 * to what the scorer reads of an entity, each part computed by the layer
 * that computes it for stored entities. Separate from aligner.c because it
 * turns outside input into model inputs; the aligner only scores them. */
#include "align/inline_entity.h"

#include <stdlib.h>
#include <string.h>

#include "align/open_world.h"
#include "base/hash.h"
#include "features/structure.h"
#include "gnn/relation_map.h"
#include "store/names.h"

/* Candidates kept from the build: what kga_aligner_match_ref() fetches for
 * the default pool, so that /match searches once. */
#define INLINE_FETCH KGA_OW_PROPOSALS

struct kga_inline_entity {
    kga_side_t side;
    char *id, *name;
    char *type_attr; /* the best type attribute, cleaned, or "" */
    uint32_t unknown_neighbours, unknown_relations;
    kga_edge_t *edges[2];
    kga_qmatrix_t features; /* its structural row: one row, the fusion's
                               shape */
    uint32_t *buckets;
    float *values;
    kga_gnn_probe_t *probe;
    uint32_t *cand;
    size_t n_cand;
    kga_scorer_entity_t view;
};

void kga_inline_entity_free(kga_inline_entity_t *e)
{
    if (e == NULL)
        return;
    free(e->id);
    free(e->name);
    free(e->type_attr);
    free(e->edges[0]);
    free(e->edges[1]);
    kga_qmatrix_destroy(&e->features);
    free(e->buckets);
    free(e->values);
    kga_gnn_probe_free(e->probe);
    free(e->cand);
    free(e);
}

const kga_scorer_entity_t *kga_inline_entity_view(
    const kga_inline_entity_t *e)
{
    return &e->view;
}

kga_side_t kga_inline_entity_side(const kga_inline_entity_t *e)
{
    return e->side;
}

const char *kga_inline_entity_id(const kga_inline_entity_t *e)
{
    return e->id;
}

const char *kga_inline_entity_name(const kga_inline_entity_t *e)
{
    return e->name;
}

uint32_t kga_inline_entity_unknown_neighbours(const kga_inline_entity_t *e)
{
    return e->unknown_neighbours;
}

uint32_t kga_inline_entity_unknown_relations(const kga_inline_entity_t *e)
{
    return e->unknown_relations;
}

const uint32_t *kga_inline_entity_candidates(const kga_inline_entity_t *e,
                                             size_t *n)
{
    *n = e->n_cand;
    return e->cand;
}

static int oom(kga_err_t *err)
{
    return kga_err_set(err, KGA_ENOMEM, "inline entity: out of memory");
}

/* The name and the type from the attributes, as the importer decides
 * them: the best label, else the id's last segment; the bytewise smallest
 * type, literals cleaned as labels are. *type_name is e->type_attr, or
 * NULL when there is none. */
static int name_and_type(kga_inline_entity_t *e, const kga_inline_desc_t *d,
                         const char **type_name, kga_err_t *err)
{
    size_t longest = strlen(d->id);
    for (size_t i = 0; i < d->n_attrs; i++) {
        size_t n = strlen(d->attrs[i].value);
        longest = n > longest ? n : longest;
    }
    char *buf = malloc(longest + 1);
    e->name = malloc(longest + 1);
    e->type_attr = malloc(longest + 1);
    if (buf == NULL || e->name == NULL || e->type_attr == NULL) {
        free(buf);
        return oom(err);
    }
    int best = KGA_LABEL_NONE;
    e->name[0] = e->type_attr[0] = '\0';
    for (size_t i = 0; i < d->n_attrs; i++) {
        const char *key = d->attrs[i].key, *value = d->attrs[i].value;
        int rank = kga_names_label_rank(key);
        int is_type = rank == KGA_LABEL_NONE && kga_names_is_type_key(key);
        if (rank == KGA_LABEL_NONE && !is_type)
            continue;
        size_t len = kga_names_clean_literal(value, strlen(value), buf);
        if (is_type) {
            if (len > 0 && (e->type_attr[0] == '\0' ||
                            strcmp(buf, e->type_attr) < 0))
                strcpy(e->type_attr, buf);
        } else if (kga_names_label_better(rank, buf, best, e->name)) {
            strcpy(e->name, buf);
            best = rank;
        }
    }
    if (best == KGA_LABEL_NONE)
        kga_names_from_uri(d->id, e->name);
    *type_name = e->type_attr[0] != '\0' ? e->type_attr : NULL;
    free(buf);
    return 0;
}

static int edge_cmp(const void *pa, const void *pb)
{
    const kga_edge_t *a = pa, *b = pb;
    if (a->rel != b->rel)
        return a->rel < b->rel ? -1 : 1;
    return (a->ent > b->ent) - (a->ent < b->ent);
}

/* The edges to entities of the store, per direction, sorted and without
 * repeats as the store keeps them; the others counted. An rdf:type edge
 * names a type, as it does for the importer. */
static int resolve_edges(kga_inline_entity_t *e, const kga_store_t *st,
                         const kga_inline_desc_t *d, const char **type_name,
                         kga_err_t *err)
{
    for (int dir = 0; dir < 2; dir++) {
        e->edges[dir] = malloc((d->n_edges + 1) * sizeof(kga_edge_t));
        if (e->edges[dir] == NULL)
            return oom(err);
    }
    uint32_t n[2] = {0, 0};
    for (size_t i = 0; i < d->n_edges; i++) {
        const kga_inline_edge_t *x = &d->edges[i];
        if (kga_names_is_type_key(x->relation)) {
            if (*type_name == NULL || strcmp(x->neighbour, *type_name) < 0)
                *type_name = x->neighbour;
            continue;
        }
        int64_t rel = kga_store_relation_lookup(st, x->relation);
        if (rel < 0) {
            e->unknown_relations++;
            continue;
        }
        int64_t nbr = kga_store_lookup(st, x->neighbour);
        if (nbr < 0) {
            e->unknown_neighbours++;
            continue;
        }
        int dir = x->dir == KGA_DIR_IN;
        e->edges[dir][n[dir]++] = (kga_edge_t){(uint32_t)rel, (uint32_t)nbr};
    }
    for (int dir = 0; dir < 2; dir++) {
        kga_edge_t *ed = e->edges[dir];
        qsort(ed, n[dir], sizeof *ed, edge_cmp);
        uint32_t m = 0;
        for (uint32_t i = 0; i < n[dir]; i++)
            if (m == 0 || edge_cmp(&ed[m - 1], &ed[i]) != 0)
                ed[m++] = ed[i];
        e->view.edges[dir] = ed;
        e->view.degree[dir] = m;
    }
    return 0;
}

/* Its TF-IDF row with the model's buckets and idf. */
static int name_row(kga_inline_entity_t *e, const kga_tfidf_t *names,
                    kga_err_t *err)
{
    size_t cap = kga_name_features_bound(strlen(e->name),
                                         kga_tfidf_params(names)) + 1;
    e->buckets = malloc(cap * sizeof *e->buckets);
    e->values = malloc(cap * sizeof *e->values);
    if (e->buckets == NULL || e->values == NULL)
        return oom(err);
    size_t n = 0;
    int rc = kga_tfidf_vectorize(names, e->name, e->buckets, e->values, cap,
                                 &n);
    if (rc != 0)
        return kga_err_set(err, rc, "inline entity '%s': name features: %s",
                           e->id, kga_strerror(rc));
    e->view.name = (kga_sparse_vec_t){e->buckets, e->values, (uint32_t)n};
    return 0;
}

/* Its structural row, from its neighbours' rows: quantized as theirs, so
 * that it is scored and projected as a stored entity's row is. */
static int structure_row(kga_inline_entity_t *e, const kga_fusion_t *f,
                         kga_err_t *err)
{
    const kga_qmatrix_t *F = kga_fusion_features(f, e->side);
    const kga_structure_relations_t *rel = kga_fusion_relations(f);
    if (rel == NULL)
        return kga_err_set(err, KGA_EINVAL,
                           "inline entity: the fusion was not rebuilt from "
                           "a model");
    uint32_t n = e->view.degree[0] + e->view.degree[1];
    int rc = kga_qmatrix_init(&e->features, 1, F->blocks, F->dim);
    if (rc != 0)
        return kga_err_set(err, rc, "inline entity '%s': features: %s",
                           e->id, kga_strerror(rc));
    float *work = malloc((kga_structure_row_work(rel) + 1) * sizeof *work);
    kga_structure_edge_t *se = malloc(((size_t)n + 1) * sizeof *se);
    if (work == NULL || se == NULL) {
        free(se);
        free(work);
        return oom(err);
    }
    uint32_t k = 0;
    for (int dir = 0; dir < 2; dir++)
        for (uint32_t i = 0; i < e->view.degree[dir]; i++)
            se[k++] = (kga_structure_edge_t){e->view.edges[dir][i].ent,
                                             e->view.edges[dir][i].rel,
                                             (uint32_t)dir};
    kga_structure_row(rel, e->side, se, n, F, work, &e->features, 0);
    free(se);
    free(work);
    e->view.features = &e->features;
    e->view.features_row = 0;
    return 0;
}

/* Its GNN view: a probe over its edges in the model's relations. */
static int gnn_probe(kga_inline_entity_t *e, const kga_scorer_t *s,
                     kga_err_t *err)
{
    const kga_store_t *st = s->store[e->side];
    uint32_t n = e->view.degree[0] + e->view.degree[1];
    kga_gnn_probe_edge_t *pe = malloc(((size_t)n + 1) * sizeof *pe);
    float fixed[KGA_SCORER_FIXED_DIM];
    if (pe == NULL)
        return oom(err);
    uint32_t k = 0;
    for (int dir = 0; dir < 2; dir++)
        for (uint32_t i = 0; i < e->view.degree[dir]; i++) {
            const kga_edge_t *x = &e->view.edges[dir][i];
            uint32_t mr = s->relmap[e->side][2 * x->rel + (uint32_t)dir];
            if (mr == KGA_RELATION_NONE)
                continue;
            pe[k++] = (kga_gnn_probe_edge_t){
                x->ent, mr,
                kga_store_fanout(st, e->view.type, x->rel, (kga_dir_t)dir)};
        }
    /* The GNN's fixed input is the fusion's count sketch of the row. */
    kga_fusion_project_row(s->fusion, &e->features, 0, fixed);
    int named = s->learned_names;
    int rc = kga_gnn_probe_new(
        s->gnn, s->cache, &s->data, e->side, fixed,
        named ? e->view.name.indices : NULL,
        named ? e->view.name.data : NULL, named ? e->view.name.n : 0,
        kga_hash64(e->id, strlen(e->id)), pe, k, &e->probe);
    free(pe);
    if (rc != 0)
        return kga_err_set(err, rc, "inline entity '%s': GNN: %s", e->id,
                           kga_strerror(rc));
    kga_gnn_probe_view(e->probe, &e->view.gnn);
    return 0;
}

/* Its Sinkhorn scaling; for a left entity also the candidates. */
static int scaling(kga_inline_entity_t *e, const kga_aligner_t *a,
                   const kga_fusion_t *f, kga_err_t *err)
{
    if (e->side == KGA_SIDE_RIGHT) {
        e->view.scale = kga_fusion_outside_lv(f);
        return 0;
    }
    float *score = malloc(INLINE_FETCH * sizeof *score);
    e->cand = malloc(INLINE_FETCH * sizeof *e->cand);
    int rc = 0;
    if (score == NULL || e->cand == NULL)
        rc = oom(err);
    /* The rows of the normalisation ranged over the right entities in no
     * training link; those of known links are taken, and are no
     * candidates of an open-world query either. */
    if (rc == 0)
        rc = kga_fusion_topk_row(f, 0, &e->features, 0, e->view.name,
                                 kga_aligner_known_mask(a, KGA_SIDE_RIGHT),
                                 INLINE_FETCH, e->cand, score, err);
    if (rc == 0) {
        e->view.scale = kga_fusion_row_scale(f, e->cand, score, INLINE_FETCH);
        e->n_cand = INLINE_FETCH;
    }
    free(score);
    return rc;
}

int kga_inline_entity_new(const kga_aligner_t *a, kga_side_t side,
                          const kga_inline_desc_t *d,
                          kga_inline_entity_t **out, kga_err_t *err)
{
    *out = NULL;
    const char *where = side == KGA_SIDE_LEFT ? "left" : "right";
    if (d->id == NULL || d->id[0] == '\0')
        return kga_err_set(err, KGA_EINVAL, "inline entity without id");
    if (d->n_attrs > KGA_INLINE_MAX_ATTRS || d->n_edges > KGA_INLINE_MAX_EDGES)
        return kga_err_set(err, KGA_EINVAL,
                           "inline entity '%s' has %zu attributes and %zu "
                           "edges, more than the %u and %u allowed",
                           d->id, d->n_attrs, d->n_edges,
                           KGA_INLINE_MAX_ATTRS, KGA_INLINE_MAX_EDGES);
    const kga_scorer_t *s = kga_aligner_scorer(a);
    const kga_store_t *st = kga_aligner_store(a, side);
    kga_inline_entity_t *e = calloc(1, sizeof *e);
    if (e == NULL)
        return oom(err);
    e->side = side;
    e->id = strdup(d->id);
    if (e->id == NULL) {
        kga_inline_entity_free(e);
        return oom(err);
    }
    e->view.side = side;
    e->view.id = KGA_ENTITY_INLINE;
    const char *type_name = NULL;
    int rc = name_and_type(e, d, &type_name, err);
    if (rc == 0)
        rc = resolve_edges(e, st, d, &type_name, err);
    if (rc == 0 && d->n_attrs == 0 &&
        e->view.degree[0] + e->view.degree[1] == 0)
        rc = kga_err_set(
            err, KGA_EINVAL,
            "inline entity '%s' has no attributes and none of its %zu "
            "edges reaches an entity of the %s graph (%u neighbours and %u "
            "relations unknown): the model has nothing to compare it by",
            d->id, d->n_edges, where, e->unknown_neighbours,
            e->unknown_relations);
    if (rc == 0) {
        int64_t t = type_name != NULL ? kga_store_type_lookup(st, type_name)
                                      : -1;
        e->view.type = t >= 0 ? (uint32_t)t : KGA_NO_TYPE;
        rc = name_row(e, kga_fusion_names(s->fusion), err);
    }
    if (rc == 0)
        rc = structure_row(e, s->fusion, err);
    if (rc == 0 && s->gnn != NULL && s->cache != NULL)
        rc = gnn_probe(e, s, err);
    if (rc == 0)
        rc = scaling(e, a, s->fusion, err);
    if (rc != 0) {
        kga_inline_entity_free(e);
        return rc;
    }
    *out = e;
    return 0;
}
