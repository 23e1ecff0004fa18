/* xoshiro256** seeded through splitmix64 (see rng.h). Integer arithmetic
 * only, so one (seed, stream) gives the same numbers on every machine and
 * build: training, sampling and the synthetic graphs are reproducible from
 * their seeds. The Gaussians alone take libm's log and cos on top. */
#include "base/rng.h"

#include <math.h>

/* The splitmix64 increment: the golden ratio in 64-bit fixed point. */
#define SPLITMIX_GAMMA 0x9E3779B97F4A7C15ull
/* Separates the stream from the seed before both are mixed, so that
 * (seed, stream) and (stream, seed) do not give the same state. */
#define STREAM_SALT 0xD1B54A32D192ED03ull
/* kga_rng_unit keeps the 53 bits a double holds exactly. */
#define UNIT_BITS 53

static uint64_t splitmix_next(uint64_t *state)
{
    *state += SPLITMIX_GAMMA;
    return kga_rng_hash(*state);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void kga_rng_init(kga_rng_t *r, uint64_t seed, uint64_t stream)
{
    uint64_t state = kga_rng_hash(seed) ^ kga_rng_hash(stream ^ STREAM_SALT);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix_next(&state);
    /* xoshiro must not start from the all-zero state, which it never leaves. */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = SPLITMIX_GAMMA;
}

uint64_t kga_rng_next(kga_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Lemire's multiply-and-reject: one multiplication in the common case, and a
 * division only when the low part falls in the biased zone. */
uint32_t kga_rng_below(kga_rng_t *r, uint32_t bound)
{
    if (bound == 0)
        return 0;
    uint64_t m = (kga_rng_next(r) >> 32) * (uint64_t)bound;
    uint32_t low = (uint32_t)m;
    if (low < bound) {
        uint32_t threshold = (uint32_t)(-bound) % bound;
        while (low < threshold) {
            m = (kga_rng_next(r) >> 32) * (uint64_t)bound;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

uint64_t kga_rng_below64(kga_rng_t *r, uint64_t bound)
{
    if (bound == 0)
        return 0;
    if (bound <= UINT32_MAX)
        return kga_rng_below(r, (uint32_t)bound);
    /* Reject the first (2^64 mod bound) values so every residue is equally
     * likely. */
    uint64_t threshold = (0 - bound) % bound;
    uint64_t x;
    do
        x = kga_rng_next(r);
    while (x < threshold);
    return x % bound;
}

uint32_t kga_rng_range(kga_rng_t *r, uint32_t lo, uint32_t hi)
{
    if (hi <= lo)
        return lo;
    if (lo == 0 && hi == UINT32_MAX)
        return (uint32_t)(kga_rng_next(r) >> 32);
    return lo + kga_rng_below(r, hi - lo + 1);
}

double kga_rng_unit(kga_rng_t *r)
{
    return (double)(kga_rng_next(r) >> (64 - UNIT_BITS)) *
           (1.0 / (double)(1ull << UNIT_BITS));
}

void kga_rng_gaussians(kga_rng_t *r, float *x, size_t n, double scale)
{
    for (size_t k = 0; k < n; k += 2) {
        double u1 = 1.0 - kga_rng_unit(r); /* (0, 1]: log is finite */
        double u2 = kga_rng_unit(r);
        double rad = sqrt(-2.0 * log(u1));
        x[k] = (float)(scale * rad * cos(2.0 * M_PI * u2));
        if (k + 1 < n)
            x[k + 1] = (float)(scale * rad * sin(2.0 * M_PI * u2));
    }
}

int kga_rng_chance(kga_rng_t *r, double p)
{
    if (p <= 0.0)
        return 0;
    if (p >= 1.0)
        return 1;
    return kga_rng_unit(r) < p;
}

void kga_rng_shuffle_u32(kga_rng_t *r, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)kga_rng_below64(r, (uint64_t)i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
