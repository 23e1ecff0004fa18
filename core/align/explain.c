/* Explanations of a pair: which neighbour pairs the model believes are one
 * entity, and how alike the names are. Separate from aligner.c because it
 * is read by people, not by the decision: it walks the stores' adjacency
 * and orders evidence, and nothing that scores or decides depends on it. */
#include "align/explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "align/fusion.h"
#include "align/scorer.h"

struct kga_explainer {
    uint32_t *pseudo[2]; /* per entity: its pseudo-seed partner */
};

int kga_explainer_new(const kga_aligner_t *a, kga_explainer_t **out,
                      kga_err_t *err)
{
    *out = NULL;
    kga_explainer_t *x = calloc(1, sizeof *x);
    if (x == NULL)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    uint32_t count[2];
    for (int side = 0; side < 2; side++) {
        count[side] = kga_store_entity_count(
            kga_aligner_store(a, (kga_side_t)side));
        x->pseudo[side] = malloc((count[side] ? count[side] : 1) *
                                 sizeof(uint32_t));
        if (x->pseudo[side] == NULL) {
            kga_explainer_free(x);
            return kga_err_set(err, KGA_ENOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < count[side]; i++)
            x->pseudo[side][i] = UINT32_MAX;
    }
    kga_fusion_state_t st;
    kga_fusion_get_state(kga_aligner_scorer(a)->fusion, &st);
    for (size_t i = 0; i < st.n_seeds; i++) {
        uint32_t l = st.seeds[i].left, r = st.seeds[i].right;
        if (l >= count[0] || r >= count[1]) {
            kga_explainer_free(x);
            return kga_err_set(err, KGA_EFORMAT,
                               "seed %zu (%u, %u) is out of range", i, l, r);
        }
        /* Training links are known links; a seed that meets a known link
         * (a validation entity the fusion paired otherwise) yields to it. */
        if (kga_aligner_known_partner(a, KGA_SIDE_LEFT, l) != UINT32_MAX ||
            kga_aligner_known_partner(a, KGA_SIDE_RIGHT, r) != UINT32_MAX ||
            x->pseudo[0][l] != UINT32_MAX || x->pseudo[1][r] != UINT32_MAX)
            continue;
        x->pseudo[0][l] = r;
        x->pseudo[1][r] = l;
    }
    *out = x;
    return 0;
}

void kga_explainer_free(kga_explainer_t *x)
{
    if (x == NULL)
        return;
    free(x->pseudo[0]);
    free(x->pseudo[1]);
    free(x);
}

/* A believed-same neighbour pair while it is collected. */
typedef struct {
    uint32_t p, q; /* left and right neighbour */
    uint32_t rel[2];
    kga_dir_t dir[2];
    kga_evidence_kind_t kind;
    uint32_t degree; /* edges of p and of q: lower = rarer neighbours */
    float fanout;    /* of both relations: lower = rarer relations */
    float weight;
} item_t;

/* A neighbour in no known link and no pseudo-seed. */
typedef struct {
    uint32_t ent;
    uint32_t degree;
} free_t;

/* What a call works with. */
typedef struct {
    const kga_explainer_t *x;
    const kga_aligner_t *a;
    const kga_store_t *store[2];
    const kga_scorer_entity_t *view[2]; /* the pair explained */
    uint32_t ent[2]; /* their ids (KGA_ENTITY_INLINE: described inline) */
    uint32_t type[2];
    free_t free[2][KGA_EXPLAIN_FREE];
    size_t n_free[2];
    uint32_t mutual[2][KGA_EXPLAIN_FREE]; /* mutual-best neighbour pairs */
    size_t n_mutual;
    item_t item[KGA_EXPLAIN_COLLECT];
    size_t n;
} walk_t;

static uint32_t degree(const kga_store_t *s, uint32_t e)
{
    const kga_edge_t *edges;
    return kga_store_edges(s, e, KGA_DIR_OUT, &edges) +
           kga_store_edges(s, e, KGA_DIR_IN, &edges);
}

/* The partner the model holds entity e of side to, by a known link or a
 * pseudo-seed, and which; UINT32_MAX when none. */
static uint32_t held_partner(const walk_t *w, int side, uint32_t e,
                             kga_evidence_kind_t *kind)
{
    uint32_t q = kga_aligner_known_partner(w->a, (kga_side_t)side, e);
    *kind = KGA_EVIDENCE_KNOWN_LINK;
    if (q == UINT32_MAX) {
        q = w->x->pseudo[side][e];
        *kind = KGA_EVIDENCE_PSEUDO_SEED;
    }
    return q;
}

/* The partner the model believes in for left entity p, and why. */
static uint32_t believed_partner(const walk_t *w, uint32_t p,
                                 kga_evidence_kind_t *kind)
{
    uint32_t q = held_partner(w, 0, p, kind);
    if (q != UINT32_MAX)
        return q;
    *kind = KGA_EVIDENCE_MUTUAL_BEST;
    for (size_t i = 0; i < w->n_mutual; i++)
        if (w->mutual[0][i] == p)
            return w->mutual[1][i];
    return UINT32_MAX;
}

/* Rarer first, then by external id. */
static int free_before(const walk_t *w, int side, const free_t *x,
                       const free_t *y)
{
    if (x->degree != y->degree)
        return x->degree < y->degree;
    return strcmp(kga_store_entity_ext_id(w->store[side], x->ent),
                  kga_store_entity_ext_id(w->store[side], y->ent)) < 0;
}

/* The neighbours of one side's entity held to nothing, distinct, the
 * KGA_EXPLAIN_FREE rarest. */
static void find_free(walk_t *w, int side)
{
    const kga_store_t *s = w->store[side];
    free_t *f = w->free[side];
    size_t n = 0;
    for (int d = 0; d < 2; d++) {
        const kga_edge_t *e = w->view[side]->edges[d];
        uint32_t ne = w->view[side]->degree[d];
        for (uint32_t i = 0; i < ne; i++) {
            kga_evidence_kind_t kind;
            if (e[i].ent == w->ent[side] ||
                held_partner(w, side, e[i].ent, &kind) != UINT32_MAX)
                continue;
            size_t j = 0;
            while (j < n && f[j].ent != e[i].ent)
                j++;
            if (j < n)
                continue;
            free_t c = {e[i].ent, degree(s, e[i].ent)};
            if (n < KGA_EXPLAIN_FREE) {
                f[n++] = c;
                continue;
            }
            size_t worst = 0;
            for (j = 1; j < n; j++)
                if (free_before(w, side, &f[worst], &f[j]))
                    worst = j;
            if (free_before(w, side, &c, &f[worst]))
                f[worst] = c;
        }
    }
    w->n_free[side] = n;
}

/* The pairs of free neighbours that are each the other's likeliest match:
 * fused probability P (fusion.h) of at least one half. Sinkhorn makes the
 * rows and columns of P sum to about one, so no other entity of either
 * graph is as likely; the same test the fusion's pseudo-seeds pass (mutual
 * argmax of P), made on the spot for the entities its last round did not
 * pair. Greedy by P, one partner each. */
static void find_mutual(walk_t *w)
{
    const kga_fusion_t *f = kga_aligner_scorer(w->a)->fusion;
    float lp[KGA_EXPLAIN_FREE][KGA_EXPLAIN_FREE];
    size_t nl = w->n_free[0], nr = w->n_free[1];
    const float half = logf(0.5f);
    for (size_t i = 0; i < nl; i++)
        for (size_t j = 0; j < nr; j++)
            lp[i][j] = (float)kga_fusion_log_p(f, w->free[0][i].ent,
                                               w->free[1][j].ent);
    w->n_mutual = 0;
    for (;;) {
        size_t bi = 0, bj = 0;
        float best = half;
        int found = 0;
        for (size_t i = 0; i < nl; i++)
            for (size_t j = 0; j < nr; j++)
                if (lp[i][j] >= best) {
                    best = lp[i][j];
                    bi = i;
                    bj = j;
                    found = 1;
                }
        if (!found)
            break;
        w->mutual[0][w->n_mutual] = w->free[0][bi].ent;
        w->mutual[1][w->n_mutual++] = w->free[1][bj].ent;
        for (size_t j = 0; j < nr; j++)
            lp[bi][j] = -INFINITY;
        for (size_t i = 0; i < nl; i++)
            lp[i][bj] = -INFINITY;
    }
}

/* Order of the relation pairs that reach one neighbour pair: the same
 * direction on both sides first (the same kind of fact), then the rarer
 * relations. */
static int relation_better(const item_t *x, const item_t *y)
{
    int sx = x->dir[0] == x->dir[1], sy = y->dir[0] == y->dir[1];
    if (sx != sy)
        return sx > sy;
    return x->fanout < y->fanout;
}

/* Ties between neighbour pairs of equal weight: rarer neighbours, rarer
 * relations, then the external ids. < 0 when x ranks first. */
static int tie_cmp(const walk_t *w, const item_t *x, const item_t *y)
{
    if (x->degree != y->degree)
        return x->degree < y->degree ? -1 : 1;
    if (x->fanout != y->fanout)
        return x->fanout < y->fanout ? -1 : 1;
    int c = strcmp(kga_store_entity_ext_id(w->store[0], x->p),
                   kga_store_entity_ext_id(w->store[0], y->p));
    if (c != 0)
        return c;
    return strcmp(kga_store_entity_ext_id(w->store[1], x->q),
                  kga_store_entity_ext_id(w->store[1], y->q));
}

/* While collecting, before the pseudo-seeds are scored: known links
 * first, then pseudo-seeds, then mutual best matches. */
static int collect_cmp(const walk_t *w, const item_t *x, const item_t *y)
{
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return tie_cmp(w, x, y);
}

/* By weight; at equal weight a link the model was given before one it
 * inferred. */
static int final_cmp(const walk_t *w, const item_t *x, const item_t *y)
{
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return tie_cmp(w, x, y);
}

/* Adds the neighbour pair of cand, or a better relation pair for one
 * already held; when the table is full the candidate replaces the last by
 * collect_cmp if it ranks before it. */
static void collect(walk_t *w, const item_t *cand)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->item[i].p == cand->p) {
            if (relation_better(cand, &w->item[i]))
                w->item[i] = *cand;
            return;
        }
    if (w->n < KGA_EXPLAIN_COLLECT) {
        w->item[w->n++] = *cand;
        return;
    }
    size_t worst = 0;
    for (size_t i = 1; i < w->n; i++)
        if (collect_cmp(w, &w->item[i], &w->item[worst]) > 0)
            worst = i;
    if (collect_cmp(w, cand, &w->item[worst]) < 0)
        w->item[worst] = *cand;
}

/* Every edge between the right entity and q, as (relation, direction from
 * the right entity), offered with the left edge in cand. Scans the shorter
 * of the two adjacency lists. */
static void match_right(walk_t *w, item_t *cand)
{
    const kga_store_t *rs = w->store[1];
    const kga_scorer_entity_t *rv = w->view[1];
    uint32_t right = w->ent[1], q = cand->q;
    /* An entity described inline is in no stored adjacency list. */
    int from_q = right != KGA_ENTITY_INLINE &&
                 degree(rs, q) < rv->degree[0] + rv->degree[1];
    float left_fanout = kga_store_fanout(w->store[0], w->type[0],
                                         cand->rel[0], cand->dir[0]);
    for (int d = 0; d < 2; d++) {
        const kga_edge_t *e = rv->edges[d];
        uint32_t n = rv->degree[d];
        if (from_q)
            n = kga_store_edges(rs, q, (kga_dir_t)d, &e);
        uint32_t want = from_q ? right : q;
        for (uint32_t i = 0; i < n; i++) {
            if (e[i].ent != want)
                continue;
            /* q's out-edge to the right entity is the right entity's
             * in-edge. */
            kga_dir_t dir = from_q ? (kga_dir_t)(1 - d) : (kga_dir_t)d;
            cand->rel[1] = e[i].rel;
            cand->dir[1] = dir;
            cand->fanout = left_fanout + kga_store_fanout(rs, w->type[1],
                                                          e[i].rel, dir);
            collect(w, cand);
        }
    }
}

/* The weights: 1 for known links, the pair probability for the others,
 * scored only when fewer than `wanted` known links were found (known links
 * rank first at any weight the others can have). */
static void weigh(walk_t *w, size_t wanted)
{
    uint32_t l[KGA_EXPLAIN_COLLECT], r[KGA_EXPLAIN_COLLECT];
    kga_pair_score_t s[KGA_EXPLAIN_COLLECT];
    size_t m = 0, n_known = 0;
    for (size_t i = 0; i < w->n; i++) {
        w->item[i].weight = 1.0f;
        n_known += w->item[i].kind == KGA_EVIDENCE_KNOWN_LINK;
    }
    if (n_known >= wanted) {
        for (size_t i = 0; i < w->n; i++)
            if (w->item[i].kind != KGA_EVIDENCE_KNOWN_LINK)
                w->item[i].weight = 0.0f;
        return;
    }
    for (size_t i = 0; i < w->n; i++)
        if (w->item[i].kind != KGA_EVIDENCE_KNOWN_LINK) {
            l[m] = w->item[i].p;
            r[m++] = w->item[i].q;
        }
    kga_aligner_score(w->a, l, r, m, s);
    m = 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->item[i].kind != KGA_EVIDENCE_KNOWN_LINK)
            w->item[i].weight = s[m++].probability;
}

size_t kga_explainer_explain(const kga_explainer_t *x, const kga_aligner_t *a,
                             const kga_scorer_entity_t *lv,
                             const kga_scorer_entity_t *rv,
                             kga_evidence_t *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    const kga_scorer_t *sc = kga_aligner_scorer(a);
    uint32_t left = lv->id, right = rv->id;
    if (sc->use_names) {
        kga_evidence_t *e = &out[n++];
        memset(e, 0, sizeof *e);
        e->kind = KGA_EVIDENCE_NAMES;
        e->left_neighbour = e->right_neighbour = UINT32_MAX;
        e->left_relation = e->right_relation = UINT32_MAX;
        /* A cosine of unit rows, kept within [0, 1] against rounding. */
        float cosine = kga_sparse_dot(lv->name, rv->name);
        e->weight = fminf(1.0f, fmaxf(0.0f, cosine));
    }

    walk_t w;
    w.x = x;
    w.a = a;
    w.n = 0;
    w.view[0] = lv;
    w.view[1] = rv;
    for (int side = 0; side < 2; side++) {
        w.store[side] = kga_aligner_store(a, (kga_side_t)side);
        w.ent[side] = w.view[side]->id;
        w.type[side] = w.view[side]->type;
        find_free(&w, side);
    }
    find_mutual(&w);
    for (int d = 0; d < 2; d++) {
        const kga_edge_t *e = lv->edges[d];
        uint32_t ne = lv->degree[d];
        for (uint32_t i = 0; i < ne; i++) {
            item_t cand;
            cand.p = e[i].ent;
            cand.q = believed_partner(&w, cand.p, &cand.kind);
            /* A neighbour believed to be the right entity itself, or the
             * pair itself through a loop, explains nothing. */
            if (cand.q == UINT32_MAX || cand.q == right || cand.p == left)
                continue;
            cand.rel[0] = e[i].rel;
            cand.dir[0] = (kga_dir_t)d;
            cand.degree = degree(w.store[0], cand.p) +
                          degree(w.store[1], cand.q);
            cand.weight = 0.0f;
            match_right(&w, &cand);
        }
    }
    weigh(&w, cap - n);

    /* The best first: a partial selection sort over at most
     * KGA_EXPLAIN_COLLECT items. */
    for (size_t k = 0; k < w.n && n < cap; k++) {
        size_t best = k;
        for (size_t i = k + 1; i < w.n; i++)
            if (final_cmp(&w, &w.item[i], &w.item[best]) < 0)
                best = i;
        item_t t = w.item[k];
        w.item[k] = w.item[best];
        w.item[best] = t;
        const item_t *it = &w.item[k];
        kga_evidence_t *e = &out[n++];
        e->kind = it->kind;
        e->left_neighbour = it->p;
        e->right_neighbour = it->q;
        e->left_relation = it->rel[0];
        e->right_relation = it->rel[1];
        e->left_dir = it->dir[0];
        e->right_dir = it->dir[1];
        e->weight = it->weight;
    }
    return n;
}
