/* Neighbour tables and weighted sampling without replacement. */
#include "gnn/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/rng.h"

struct kga_nbrs {
    uint32_t entities;
    uint32_t relations;
    uint64_t *off;   /* entities + 1 */
    uint32_t *nbr;   /* off[entities] entries */
    uint32_t *rel;
    float *fanout;   /* 1 / weight: an edge's key is -ln(u) * fanout */
    uint64_t *key;   /* per entity */
};

/* Separates the relation from the neighbour key in the edge hash. */
#define REL_SALT 0x9E3779B97F4A7C15ull
#define EPOCH_SALT 0xC2B2AE3D27D4EB4Full
/* 53 random bits give u in (0, 1) exactly representable as a double. */
#define UNIT_SHIFT 11
#define UNIT_SCALE (1.0 / 9007199254740992.0)

static kga_nbrs_t *nbrs_alloc(uint32_t entities, uint32_t relations,
                              uint64_t edges)
{
    kga_nbrs_t *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->entities = entities;
    g->relations = relations;
    size_t m = edges > 0 ? (size_t)edges : 1;
    g->off = calloc((size_t)entities + 1, sizeof *g->off);
    g->nbr = malloc(m * sizeof *g->nbr);
    g->rel = malloc(m * sizeof *g->rel);
    g->fanout = malloc(m * sizeof *g->fanout);
    g->key = malloc(((size_t)entities + 1) * sizeof *g->key);
    if (g->off == NULL || g->nbr == NULL || g->rel == NULL ||
        g->fanout == NULL || g->key == NULL) {
        kga_nbrs_free(g);
        return NULL;
    }
    return g;
}

void kga_nbrs_free(kga_nbrs_t *g)
{
    if (g == NULL)
        return;
    free(g->off);
    free(g->nbr);
    free(g->rel);
    free(g->fanout);
    free(g->key);
    free(g);
}

/* ------------------------------------------------------------------------
 * Relation map
 * ------------------------------------------------------------------------ */

static int cmp_rel_name(const void *a, const void *b, void *store)
{
    return strcmp(kga_store_relation_name(store, *(const uint32_t *)a),
                  kga_store_relation_name(store, *(const uint32_t *)b));
}

int kga_relmap_build(const kga_store_t *left, const kga_store_t *right,
                     int share_names, uint32_t *map_left, uint32_t *map_right,
                     uint32_t *relations)
{
    uint32_t nl = kga_store_relation_count(left);
    uint32_t nr = kga_store_relation_count(right);
    uint32_t next = 0;
    for (uint32_t r = 0; r < nl; r++) {
        map_left[2 * r + KGA_DIR_OUT] = next++;
        map_left[2 * r + KGA_DIR_IN] = next++;
    }
    uint32_t *order = NULL;
    if (share_names && nl > 0) {
        /* Left names in sorted order, for a binary search per right name
         * (without relying on the store's own order). */
        order = malloc((size_t)nl * sizeof *order);
        if (order == NULL)
            return KGA_ENOMEM;
        for (uint32_t r = 0; r < nl; r++)
            order[r] = r;
        qsort_r(order, nl, sizeof *order, cmp_rel_name, (void *)left);
    }
    for (uint32_t r = 0; r < nr; r++) {
        int64_t found = -1;
        if (order != NULL) {
            const char *name = kga_store_relation_name(right, r);
            uint32_t lo = 0, hi = nl;
            while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                int c = strcmp(kga_store_relation_name(left, order[mid]),
                               name);
                if (c == 0) {
                    found = order[mid];
                    break;
                }
                if (c < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
        }
        if (found >= 0) {
            map_right[2 * r + KGA_DIR_OUT] = map_left[2 * found + KGA_DIR_OUT];
            map_right[2 * r + KGA_DIR_IN] = map_left[2 * found + KGA_DIR_IN];
        } else {
            map_right[2 * r + KGA_DIR_OUT] = next++;
            map_right[2 * r + KGA_DIR_IN] = next++;
        }
    }
    free(order);
    *relations = next;
    return 0;
}

/* ------------------------------------------------------------------------
 * Building
 * ------------------------------------------------------------------------ */

int kga_nbrs_from_store(const kga_store_t *s, const uint32_t *rel_map,
                        uint32_t relations, kga_nbrs_t **out)
{
    *out = NULL;
    uint32_t n = kga_store_entity_count(s);
    uint32_t nrel = kga_store_relation_count(s);
    for (uint32_t r = 0; r < 2 * nrel; r++)
        if (rel_map[r] != KGA_REL_NONE && rel_map[r] >= relations)
            return KGA_EINVAL;
    uint64_t total = 0;
    for (uint32_t e = 0; e < n; e++)
        for (int dir = 0; dir < 2; dir++) {
            const kga_edge_t *edges;
            uint32_t c = kga_store_edges(s, e, (kga_dir_t)dir, &edges);
            for (uint32_t k = 0; k < c; k++)
                total += rel_map[2 * edges[k].rel + (uint32_t)dir] !=
                         KGA_REL_NONE;
        }
    kga_nbrs_t *g = nbrs_alloc(n, relations, total);
    if (g == NULL)
        return KGA_ENOMEM;
    uint64_t pos = 0;
    for (uint32_t e = 0; e < n; e++) {
        const char *ext = kga_store_entity_ext_id(s, e);
        g->key[e] = kga_hash64(ext, strlen(ext));
        uint32_t type = kga_store_entity_type(s, e);
        g->off[e] = pos;
        for (int dir = 0; dir < 2; dir++) {
            const kga_edge_t *edges;
            uint32_t c = kga_store_edges(s, e, (kga_dir_t)dir, &edges);
            for (uint32_t k = 0; k < c; k++) {
                uint32_t mr = rel_map[2 * edges[k].rel + (uint32_t)dir];
                if (mr == KGA_REL_NONE)
                    continue;
                float f = kga_store_fanout(s, type, edges[k].rel,
                                           (kga_dir_t)dir);
                g->nbr[pos] = edges[k].ent;
                g->rel[pos] = mr;
                g->fanout[pos] = f >= 1.0f ? f : 1.0f;
                pos++;
            }
        }
    }
    g->off[n] = pos;
    *out = g;
    return 0;
}

int kga_nbrs_from_edges(uint32_t entities, uint32_t relations,
                        const kga_nbr_edge_t *edges, size_t count,
                        const uint64_t *keys, kga_nbrs_t **out)
{
    *out = NULL;
    for (size_t i = 0; i < count; i++)
        if (edges[i].ent >= entities || edges[i].nbr >= entities ||
            edges[i].rel >= relations || !(edges[i].weight > 0.0f) ||
            !isfinite(edges[i].weight))
            return KGA_EINVAL;
    kga_nbrs_t *g = nbrs_alloc(entities, relations, count);
    if (g == NULL)
        return KGA_ENOMEM;
    for (size_t i = 0; i < count; i++)
        g->off[edges[i].ent + 1]++;
    for (uint32_t e = 0; e < entities; e++) {
        g->off[e + 1] += g->off[e];
        g->key[e] = keys != NULL ? keys[e] : kga_rng_hash(e);
    }
    uint64_t *fill = calloc((size_t)entities + 1, sizeof *fill);
    if (fill == NULL) {
        kga_nbrs_free(g);
        return KGA_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t e = edges[i].ent;
        uint64_t p = g->off[e] + fill[e]++;
        g->nbr[p] = edges[i].nbr;
        g->rel[p] = edges[i].rel;
        g->fanout[p] = 1.0f / edges[i].weight;
    }
    free(fill);
    *out = g;
    return 0;
}

/* ------------------------------------------------------------------------
 * Access and sampling
 * ------------------------------------------------------------------------ */

uint32_t kga_nbrs_entity_count(const kga_nbrs_t *g)
{
    return g->entities;
}

uint32_t kga_nbrs_relation_count(const kga_nbrs_t *g)
{
    return g->relations;
}

uint64_t kga_nbrs_edge_count(const kga_nbrs_t *g)
{
    return g->off[g->entities];
}

uint32_t kga_nbrs_degree(const kga_nbrs_t *g, uint32_t ent)
{
    return (uint32_t)(g->off[ent + 1] - g->off[ent]);
}

uint64_t kga_nbrs_key(const kga_nbrs_t *g, uint32_t ent)
{
    return g->key[ent];
}

uint64_t kga_sample_seed(uint64_t train_seed, uint32_t epoch, int side)
{
    return kga_rng_hash(kga_rng_hash(train_seed) ^
                        kga_rng_hash((uint64_t)epoch * 2 + (uint64_t)side +
                                     EPOCH_SALT));
}

uint32_t kga_nbrs_sample(const kga_nbrs_t *g, uint32_t ent, uint64_t seed,
                         kga_sample_mode_t mode, uint32_t max, uint32_t *nbr,
                         uint32_t *rel)
{
    if (max > KGA_SAMPLE_MAX)
        max = KGA_SAMPLE_MAX;
    if (max == 0)
        return 0;
    uint64_t begin = g->off[ent], end = g->off[ent + 1];
    uint64_t base = kga_rng_hash(seed ^ g->key[ent]);
    double best[KGA_SAMPLE_MAX];
    uint64_t pick[KGA_SAMPLE_MAX];
    uint32_t count = 0;
    /* Once the list is full, an edge with key -ln(u) f >= tau (the worst
     * kept key) loses; that is u <= exp(-tau / f). The bound changes only
     * with tau or f (edges of one relation share f), so most edges are
     * rejected without a logarithm. Near the bound the key is computed. */
    double bound = 0.0, bound_tau = -1.0, bound_f = -1.0;
    for (uint64_t e = begin; e < end; e++) {
        uint64_t h = kga_rng_hash(base ^ g->key[g->nbr[e]]);
        h = kga_rng_hash(h ^ ((uint64_t)(g->rel[e] + 1) * REL_SALT));
        double u = ((double)(h >> UNIT_SHIFT) + 0.5) * UNIT_SCALE;
        double f = mode == KGA_SAMPLE_WEIGHTED ? (double)g->fanout[e] : 1.0;
        if (count == max) {
            double tau = best[count - 1];
            if (tau != bound_tau || f != bound_f) {
                bound = exp(-tau / f);
                bound_tau = tau;
                bound_f = f;
            }
            if (u < bound * (1.0 - 1e-9))
                continue;
        }
        double key = -log(u) * f;
        if (count == max && !(key < best[count - 1]))
            continue;
        /* Insert into the sorted best list; equal keys keep the earlier
         * edge first. */
        uint32_t i = count < max ? count++ : count - 1;
        while (i > 0 && best[i - 1] > key) {
            best[i] = best[i - 1];
            pick[i] = pick[i - 1];
            i--;
        }
        best[i] = key;
        pick[i] = e;
    }
    for (uint32_t i = 0; i < count; i++) {
        nbr[i] = g->nbr[pick[i]];
        rel[i] = g->rel[pick[i]];
    }
    return count;
}
