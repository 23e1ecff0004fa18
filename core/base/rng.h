#ifndef KGA_RNG_H
#define KGA_RNG_H

#include <stddef.h>
#include <stdint.h>

/* A small seeded pseudo-random generator: xoshiro256** (Blackman and Vigna),
 * its state filled by splitmix64. Everything here is integer arithmetic, so
 * one (seed, stream) gives the same sequence on every platform and build;
 * kga_rng_unit() is exact too (53 random bits scaled by a power of two).
 * Not for cryptography. The caller owns the state; nothing allocates and
 * nothing fails. */

typedef struct {
    uint64_t s[4];
} kga_rng_t;

/* A bijective 64-bit mix (the splitmix64 finaliser): hashes ids and seeds
 * into well spread values; kga_rng_hash(a) != kga_rng_hash(b) for a != b.
 * Inline: the sampler and the store validator call it per edge. */
static inline uint64_t kga_rng_hash(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

/* Seeds r for (seed, stream). Streams of one seed are independent sequences:
 * give each part of a computation (or each entity) its own stream, and it
 * stays reproducible when another part draws more or fewer numbers. */
void kga_rng_init(kga_rng_t *r, uint64_t seed, uint64_t stream);

/* The next 64 random bits. */
uint64_t kga_rng_next(kga_rng_t *r);

/* Uniform in [0, bound), without modulo bias; 0 when bound is 0. */
uint32_t kga_rng_below(kga_rng_t *r, uint32_t bound);
uint64_t kga_rng_below64(kga_rng_t *r, uint64_t bound);

/* Uniform in [lo, hi], both included; lo when hi < lo. */
uint32_t kga_rng_range(kga_rng_t *r, uint32_t lo, uint32_t hi);

/* Uniform double in [0, 1). */
double kga_rng_unit(kga_rng_t *r);

/* Fills x with n independent normal values times scale (Box-Muller, two
 * values a pair of draws; an odd n drops the last sine). Unlike the rest,
 * it goes through libm's log, cos and sin: the same numbers on one machine
 * and build, not necessarily across C libraries. */
void kga_rng_gaussians(kga_rng_t *r, float *x, size_t n, double scale);

/* 1 with probability p (p <= 0: never, p >= 1: always), else 0. */
int kga_rng_chance(kga_rng_t *r, double p);

/* Shuffles a[0..n) uniformly in place (Fisher-Yates). */
void kga_rng_shuffle_u32(kga_rng_t *r, uint32_t *a, size_t n);

#endif
