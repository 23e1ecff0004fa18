#ifndef KGA_ATTRIBUTES_H
#define KGA_ATTRIBUTES_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/value.h"
#include "store/store.h"

/* Level-0 features from attributes, per attribute as CG-MuAlign does: a
 * pair of records is alike in its title, its artist, its price and its
 * release date to different degrees, and which of these decide a match is
 * for the scorer to learn from labelled pairs (scorer.h), not for a fixed
 * blend of all text.
 *
 * Channels. An attribute key present in both stores is a channel; keys are
 * matched by their local name with case, '_' and '-' ignored, so that a
 * column Price matches a column price and kg1:birthYear matches
 * kg2:birth_year. A relation present in both stores is a channel too: its
 * text is the names of the entities it leads to (a song's artist node).
 * Channels need a value on at least KGA_ATTR_MIN_VALUES entities of each
 * store; the KGA_ATTR_MAX_KEYS attribute channels and up to
 * KGA_ATTR_MAX_RELATIONS relation channels (the caller's choice) with
 * values on the most entities (the smaller side's count, then the name)
 * are kept.
 *
 * A channel's kind: date, duration or number when at least half of its
 * values read as one (value.h; the most common of the three), else text.
 *
 * Features of a pair (i, j), per channel in channel order:
 *   n-grams  TF-IDF cosine of the channel's text of i and j, hashed
 *            n-grams and words as the name channel makes them
 *            (name_features.h), IDF over both stores; 0 when either has
 *            none
 *   value    typed channels only: 1 - min(1, |a - b| / max(|a|, |b|)) for
 *            numbers and durations, 1 - min(1, |days| / 365) for dates; 0
 *            when either value is missing or unreadable
 *   missing  1 when either entity has no value in the channel
 * An entity with several values in a channel has them joined for the
 * n-grams and its first readable one (in store order) for the value.
 *
 * Everything is derived from the two stores: a model file needs only the
 * feature count to check that the rebuilt channels are the trained ones.
 * Once built the model is read-only and thread-safe. */

#define KGA_ATTR_MAX_KEYS 16u
#define KGA_ATTR_MAX_RELATIONS 8u
#define KGA_ATTR_MAX_FEATURES (3u * KGA_ATTR_MAX_KEYS + 2u * KGA_ATTR_MAX_RELATIONS)
#define KGA_ATTR_MIN_VALUES 2u

typedef struct kga_attr_model kga_attr_model_t;

/* One channel, for logs and explanations. */
typedef struct {
    const char *name;       /* the local name of the left store's key */
    int relation;           /* 1: a relation channel */
    kga_value_kind_t kind;  /* KGA_VALUE_TEXT for relations */
    uint32_t first_feature; /* its n-grams feature */
    uint32_t features;      /* 2 or 3 */
    uint32_t values[2];     /* entities with a value, left and right */
} kga_attr_channel_t;

/* Finds the channels of the two stores, at most `relations` relation
 * channels (<= KGA_ATTR_MAX_RELATIONS), and builds their features. *out
 * (kga_attr_model_free) does not refer to the stores after this call. A
 * model without channels is valid (no features). Returns 0, KGA_EINVAL,
 * KGA_ENOMEM or KGA_ELIMIT with a message. */
int kga_attr_model_new(const kga_store_t *left, const kga_store_t *right,
                       uint32_t relations, kga_attr_model_t **out,
                       kga_err_t *err);

uint32_t kga_attr_feature_count(const kga_attr_model_t *m);
uint32_t kga_attr_channel_count(const kga_attr_model_t *m);
const kga_attr_channel_t *kga_attr_channel(const kga_attr_model_t *m,
                                           uint32_t c);

/* out[0 .. kga_attr_feature_count()) = the features of (left, right)
 * (internal ids in range). Allocation-free. */
void kga_attr_features(const kga_attr_model_t *m, uint32_t left,
                       uint32_t right, float *out);

void kga_attr_model_free(kga_attr_model_t *m);

#endif
