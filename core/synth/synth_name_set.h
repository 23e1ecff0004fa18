#ifndef KGA_SYNTH_NAME_SET_H
#define KGA_SYNTH_NAME_SET_H

#include <stddef.h>
#include <stdint.h>

#include "base/hash_index.h"
#include "synth/synth_world.h"

/* The names the synthetic world has given out (private to core/synth*.c),
 * so that a fresh name can be drawn again while it is taken, as a new
 * entry in a real catalogue gets a name of its own or a disambiguator.
 * Names are compared folded: accents stripped, ASCII lower case, a leading
 * "The " dropped, no qualifier; so "The Silent River" takes "Silent River"
 * and "Zoë Berg" takes "Zoe Berg". A name is known by the 64-bit hash of
 * its folded form (two names of one hash count as one: at a few million
 * names that is about one chance in a million of a needless redraw).
 *
 * The caller owns the struct; it owns its arrays. Not thread-safe. */

typedef struct {
    kga_hash_index_t index;
    uint64_t *hash;   /* per name */
    uint32_t *taken;  /* per name: how many entities took it */
    size_t count, cap;
} kga_synth_name_set_t;

/* An empty set; allocates nothing. */
void kga_synth_name_set_init(kga_synth_name_set_t *set);

/* How many entities added so far have e's folded name (qualifier left
 * out); 0 when it is free. */
uint32_t kga_synth_name_set_taken(const kga_synth_name_set_t *set,
                                  const kga_synth_entity_t *e);

/* Counts e's folded name as taken once more. Returns 0 or KGA_ENOMEM
 * (the set is unchanged). */
int kga_synth_name_set_add(kga_synth_name_set_t *set,
                           const kga_synth_entity_t *e);

void kga_synth_name_set_destroy(kga_synth_name_set_t *set);

#endif
