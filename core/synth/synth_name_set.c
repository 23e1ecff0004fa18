/* The names the synthetic world has given out (see synth_name_set.h). It
 * is apart from synth_names.c, which only writes names and allocates
 * nothing, and from synth_world.c, which decides who exists: this file
 * keeps the one table that makes names distinct at any size. */
#include "synth/synth_name_set.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/grow.h"
#include "synth/synth_names.h"

#define INITIAL_NAMES 4096u

/* The hash of e's folded name. */
static uint64_t folded_hash(const kga_synth_entity_t *e)
{
    kga_synth_entity_t plain = *e;
    plain.qualifier = 0;
    kga_synth_name_t name, folded;
    kga_synth_name_canonical(&plain, &name);
    folded.len = kga_synth_strip_accents(name.s, name.len, folded.s,
                                         sizeof folded.s);
    for (size_t i = 0; i < folded.len; i++)
        if (folded.s[i] >= 'A' && folded.s[i] <= 'Z')
            folded.s[i] = (char)(folded.s[i] - 'A' + 'a');
    const char *s = folded.s;
    size_t len = folded.len;
    if (len > 4 && memcmp(s, "the ", 4) == 0) {
        s += 4;
        len -= 4;
    }
    return kga_hash64(s, len);
}

static int hash_eq(const void *ctx, uint64_t ref, const void *key)
{
    const kga_synth_name_set_t *set = ctx;
    return set->hash[ref] == *(const uint64_t *)key;
}

static uint64_t hash_of(const void *ctx, uint64_t ref)
{
    const kga_synth_name_set_t *set = ctx;
    return set->hash[ref];
}

void kga_synth_name_set_init(kga_synth_name_set_t *set)
{
    memset(set, 0, sizeof *set);
    kga_hash_index_init(&set->index);
}

uint32_t kga_synth_name_set_taken(const kga_synth_name_set_t *set,
                                  const kga_synth_entity_t *e)
{
    uint64_t h = folded_hash(e);
    int64_t ref = kga_hash_index_find(&set->index, h, &h, hash_eq, set);
    return ref < 0 ? 0 : set->taken[ref];
}

int kga_synth_name_set_add(kga_synth_name_set_t *set,
                           const kga_synth_entity_t *e)
{
    uint64_t h = folded_hash(e);
    int64_t ref = kga_hash_index_find(&set->index, h, &h, hash_eq, set);
    if (ref >= 0) {
        if (set->taken[ref] < UINT32_MAX)
            set->taken[ref]++;
        return 0;
    }
    if (set->count == set->cap) {
        size_t cap = kga_grow_capacity(set->cap, set->count + 1, INITIAL_NAMES,
                                       sizeof *set->hash);
        if (cap == 0)
            return KGA_ELIMIT;
        if (kga_grow_resize(&set->hash, cap, sizeof *set->hash) != 0 ||
            kga_grow_resize(&set->taken, cap, sizeof *set->taken) != 0)
            return KGA_ENOMEM;
        set->cap = cap;
    }
    set->hash[set->count] = h;
    set->taken[set->count] = 1;
    int rc = kga_hash_index_add(&set->index, h, set->count, hash_of, set);
    if (rc != 0)
        return rc;
    set->count++;
    return 0;
}

void kga_synth_name_set_destroy(kga_synth_name_set_t *set)
{
    kga_hash_index_destroy(&set->index);
    free(set->hash);
    free(set->taken);
    memset(set, 0, sizeof *set);
}
