/* Neighbour tables (neighbours.h): built from a store and a relation map,
 * or from explicit edges, in compressed rows. Apart from the sampler, which
 * only reads them, because a table is built once per graph and sampled
 * millions of times. */
#include "gnn/neighbours.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/rng.h"

static kga_neighbours_t *neighbours_alloc(uint32_t entities, uint32_t relations,
                                          uint64_t edges)
{
    kga_neighbours_t *g = calloc(1, sizeof *g);
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
        kga_neighbours_free(g);
        return NULL;
    }
    return g;
}

void kga_neighbours_free(kga_neighbours_t *g)
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
 * Building
 * ------------------------------------------------------------------------ */

int kga_neighbours_from_store(const kga_store_t *s, const uint32_t *rel_map,
                              uint32_t relations, kga_neighbours_t **out)
{
    *out = NULL;
    uint32_t n = kga_store_entity_count(s);
    uint32_t nrel = kga_store_relation_count(s);
    for (uint32_t r = 0; r < 2 * nrel; r++)
        if (rel_map[r] != KGA_RELATION_NONE && rel_map[r] >= relations)
            return KGA_EINVAL;
    uint64_t total = 0;
    for (uint32_t e = 0; e < n; e++)
        for (int dir = 0; dir < 2; dir++) {
            const kga_edge_t *edges;
            uint32_t c = kga_store_edges(s, e, (kga_dir_t)dir, &edges);
            for (uint32_t k = 0; k < c; k++)
                total += rel_map[2 * edges[k].rel + (uint32_t)dir] !=
                         KGA_RELATION_NONE;
        }
    kga_neighbours_t *g = neighbours_alloc(n, relations, total);
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
                if (mr == KGA_RELATION_NONE)
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

int kga_neighbours_from_edges(uint32_t entities, uint32_t relations,
                              const kga_neighbour_edge_t *edges, size_t count,
                              const uint64_t *keys, kga_neighbours_t **out)
{
    *out = NULL;
    for (size_t i = 0; i < count; i++)
        if (edges[i].ent >= entities || edges[i].nbr >= entities ||
            edges[i].rel >= relations || !(edges[i].weight > 0.0f) ||
            !isfinite(edges[i].weight))
            return KGA_EINVAL;
    kga_neighbours_t *g = neighbours_alloc(entities, relations, count);
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
        kga_neighbours_free(g);
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
 * Access
 * ------------------------------------------------------------------------ */

uint32_t kga_neighbours_entity_count(const kga_neighbours_t *g)
{
    return g->entities;
}

uint32_t kga_neighbours_relation_count(const kga_neighbours_t *g)
{
    return g->relations;
}

uint64_t kga_neighbours_edge_count(const kga_neighbours_t *g)
{
    return g->off[g->entities];
}

uint32_t kga_neighbours_degree(const kga_neighbours_t *g, uint32_t ent)
{
    return (uint32_t)(g->off[ent + 1] - g->off[ent]);
}

uint64_t kga_neighbours_key(const kga_neighbours_t *g, uint32_t ent)
{
    return g->key[ent];
}
