/* Weighted sampling without replacement from a neighbour table
 * (sampler.h), and the seeds of training samples. */
#include "gnn/sampler.h"

#include <math.h>

#include "base/rng.h"

/* Separates the relation from the neighbour key in the edge hash. */
#define REL_SALT 0x9E3779B97F4A7C15ull
#define EPOCH_SALT 0xC2B2AE3D27D4EB4Full
/* 53 random bits give u in (0, 1) exactly representable as a double. */
#define UNIT_SHIFT 11
#define UNIT_SCALE (1.0 / 9007199254740992.0)

uint64_t kga_sample_seed(uint64_t train_seed, uint32_t epoch, int side)
{
    return kga_rng_hash(kga_rng_hash(train_seed) ^
                        kga_rng_hash((uint64_t)epoch * 2 + (uint64_t)side +
                                     EPOCH_SALT));
}

uint32_t kga_sample_neighbours(const kga_neighbours_t *g, uint32_t ent,
                               uint64_t seed, kga_sample_mode_t mode,
                               uint32_t max, uint32_t *nbr, uint32_t *rel)
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
