/* XXH64 (Yann Collet's xxHash, 64-bit variant, seed 0). Kept bit-exact so
 * that the store checksum and the id index can be recomputed by other tools
 * (docs/store-format.md). */
#include "base/hash.h"

#include <string.h>

#define PRIME1 0x9E3779B185EBCA87ull
#define PRIME2 0xC2B2AE3D27D4EB4Full
#define PRIME3 0x165667B19E3779F9ull
#define PRIME4 0x85EBCA77C2B2AE63ull
#define PRIME5 0x27D4EB2F165667C5ull

#define STRIPE 32u /* four lanes of eight bytes */

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* The n bytes at p (4 or 8) as a little-endian number. memcpy has no
 * alignment requirement, and with n a constant the inlined load is a
 * single move on the hosts we build for. */
static inline uint64_t load_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v); /* the n bytes land in the low end */
#endif
    return v;
}

static inline uint64_t lane_round(uint64_t acc, uint64_t input)
{
    acc += input * PRIME2;
    acc = rotl64(acc, 31);
    return acc * PRIME1;
}

static inline uint64_t merge_round(uint64_t acc, uint64_t lane)
{
    acc ^= lane_round(0, lane);
    return acc * PRIME1 + PRIME4;
}

static void lanes_init(uint64_t lane[4])
{
    lane[0] = PRIME1 + PRIME2;
    lane[1] = PRIME2;
    lane[2] = 0;
    lane[3] = 0 - PRIME1;
}

/* Consumes whole stripes; returns the number of bytes consumed. */
static size_t lanes_consume(uint64_t lane[4], const unsigned char *p,
                            size_t len)
{
    uint64_t v0 = lane[0], v1 = lane[1], v2 = lane[2], v3 = lane[3];
    size_t done = 0;
    for (; len - done >= STRIPE; done += STRIPE) {
        v0 = lane_round(v0, load_le(p + done, 8));
        v1 = lane_round(v1, load_le(p + done + 8, 8));
        v2 = lane_round(v2, load_le(p + done + 16, 8));
        v3 = lane_round(v3, load_le(p + done + 24, 8));
    }
    lane[0] = v0;
    lane[1] = v1;
    lane[2] = v2;
    lane[3] = v3;
    return done;
}

static uint64_t lanes_merge(const uint64_t lane[4])
{
    uint64_t h = rotl64(lane[0], 1) + rotl64(lane[1], 7) +
                 rotl64(lane[2], 12) + rotl64(lane[3], 18);
    for (int i = 0; i < 4; i++)
        h = merge_round(h, lane[i]);
    return h;
}

/* Mixes in the last len % 32 bytes and spreads every input bit over the
 * whole result. */
static uint64_t finish(uint64_t h, const unsigned char *p, size_t len)
{
    for (; len >= 8; len -= 8, p += 8) {
        h ^= lane_round(0, load_le(p, 8));
        h = rotl64(h, 27) * PRIME1 + PRIME4;
    }
    if (len >= 4) {
        h ^= load_le(p, 4) * PRIME1;
        h = rotl64(h, 23) * PRIME2 + PRIME3;
        p += 4;
        len -= 4;
    }
    for (; len > 0; len--, p++) {
        h ^= (uint64_t)*p * PRIME5;
        h = rotl64(h, 11) * PRIME1;
    }
    h ^= h >> 33;
    h *= PRIME2;
    h ^= h >> 29;
    h *= PRIME3;
    h ^= h >> 32;
    return h;
}

uint64_t kga_hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h;
    size_t done = 0;
    if (len >= STRIPE) {
        uint64_t lane[4];
        lanes_init(lane);
        done = lanes_consume(lane, p, len);
        h = lanes_merge(lane);
    } else {
        h = PRIME5;
    }
    h += (uint64_t)len;
    return finish(h, p + done, len - done);
}

void kga_hash64_init(kga_hash64_state_t *st)
{
    memset(st, 0, sizeof *st);
    lanes_init(st->lane);
}

void kga_hash64_update(kga_hash64_state_t *st, const void *data, size_t len)
{
    const unsigned char *p = data;
    st->total_len += len;
    if (st->buf_len > 0) {
        size_t take = STRIPE - st->buf_len;
        if (take > len)
            take = len;
        memcpy(st->buf + st->buf_len, p, take);
        st->buf_len += (uint32_t)take;
        p += take;
        len -= take;
        if (st->buf_len < STRIPE)
            return;
        lanes_consume(st->lane, st->buf, STRIPE);
        st->buf_len = 0;
    }
    size_t done = lanes_consume(st->lane, p, len);
    memcpy(st->buf, p + done, len - done);
    st->buf_len = (uint32_t)(len - done);
}

uint64_t kga_hash64_digest(const kga_hash64_state_t *st)
{
    uint64_t h = st->total_len >= STRIPE ? lanes_merge(st->lane) : PRIME5;
    h += st->total_len;
    return finish(h, st->buf, st->buf_len);
}
