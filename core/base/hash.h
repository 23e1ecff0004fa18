#ifndef KGA_HASH_H
#define KGA_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit non-cryptographic hashing: XXH64 with seed 0, bit for bit, so that
 * values written into files can be recomputed by any xxHash implementation.
 * Four independent 64-bit lanes make it run at memory speed on large inputs
 * (store checksums) while staying cheap on short strings (id lookups).
 * Input is read as little-endian words, so results do not depend on the
 * host byte order. No allocation, no failure. */

/* Hash of len bytes at data (data may be NULL when len is 0). */
uint64_t kga_hash64(const void *data, size_t len);

/* Incremental form for data that arrives in pieces: the same value as one
 * kga_hash64() call over the concatenation. The caller owns the state. */
typedef struct {
    uint64_t total_len;
    uint64_t lane[4];
    unsigned char buf[32];
    uint32_t buf_len;
} kga_hash64_state_t;

void kga_hash64_init(kga_hash64_state_t *st);
void kga_hash64_update(kga_hash64_state_t *st, const void *data, size_t len);
uint64_t kga_hash64_digest(const kga_hash64_state_t *st);

#endif
