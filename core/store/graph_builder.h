#ifndef KGA_GRAPH_BUILDER_H
#define KGA_GRAPH_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* An in-memory graph under construction: what an importer fills and what
 * kga_store_write() serialises. Entities, relations, types and attribute keys
 * are interned by their string; the numbers handed out here are builder-local
 * and carry no meaning. The store writer renumbers everything canonically, so
 * the order in which things were added never shows in the store. Duplicate
 * triples and duplicate attribute triples are kept once.
 *
 * Strings passed in are copied; the caller keeps ownership of its buffers.
 * Functions return 0 or a negative KGA_E* code (KGA_ENOMEM, KGA_EINVAL for an
 * empty external id or an id out of range). */

typedef struct kga_graph_builder kga_graph_builder_t;

kga_graph_builder_t *kga_graph_builder_new(void);
void kga_graph_builder_free(kga_graph_builder_t *b);

/* Interns an entity by external id (created with no name and no type when
 * new). *out_id receives its builder-local id. *created (may be NULL) is set
 * to 1 when the entity is new. */
int kga_graph_builder_entity(kga_graph_builder_t *b, const char *ext_id,
                             uint32_t *out_id, int *created);

/* Builder-local id of an existing entity, or -1 when it is unknown. */
int64_t kga_graph_builder_find_entity(const kga_graph_builder_t *b,
                                      const char *ext_id);

/* Sets (or replaces) the display name / the type of an entity. */
int kga_graph_builder_set_name(kga_graph_builder_t *b, uint32_t ent,
                               const char *name);
int kga_graph_builder_set_type(kga_graph_builder_t *b, uint32_t ent,
                               const char *type_name);

/* Interns a relation by name. */
int kga_graph_builder_relation(kga_graph_builder_t *b, const char *name,
                               uint32_t *out_rel);

/* Adds head -[rel]-> tail (all builder-local ids). */
int kga_graph_builder_triple(kga_graph_builder_t *b, uint32_t head,
                             uint32_t rel, uint32_t tail);

/* Adds an attribute triple (entity, key, literal). */
int kga_graph_builder_attribute(kga_graph_builder_t *b, uint32_t ent,
                                const char *key, const char *literal);

/* Read access, used by the store writer and by importers' summaries. */
uint32_t kga_graph_builder_entity_count(const kga_graph_builder_t *b);
uint32_t kga_graph_builder_relation_count(const kga_graph_builder_t *b);
uint32_t kga_graph_builder_type_count(const kga_graph_builder_t *b);
uint32_t kga_graph_builder_attr_key_count(const kga_graph_builder_t *b);
/* Distinct triples (duplicates are dropped as they are added). */
uint64_t kga_graph_builder_triple_count(const kga_graph_builder_t *b);
uint64_t kga_graph_builder_attribute_count(const kga_graph_builder_t *b);
/* Number of add calls that were duplicates of earlier ones. */
uint64_t kga_graph_builder_duplicate_triples(const kga_graph_builder_t *b);

const char *kga_graph_builder_entity_ext_id(const kga_graph_builder_t *b,
                                            uint32_t ent);
/* NULL when no name was set. */
const char *kga_graph_builder_entity_name(const kga_graph_builder_t *b,
                                          uint32_t ent);
/* UINT32_MAX when the entity has no type; otherwise an index below
 * kga_graph_builder_type_count(). */
uint32_t kga_graph_builder_entity_type(const kga_graph_builder_t *b,
                                       uint32_t ent);
const char *kga_graph_builder_type_name(const kga_graph_builder_t *b,
                                        uint32_t t);
const char *kga_graph_builder_relation_name(const kga_graph_builder_t *b,
                                            uint32_t rel);
const char *kga_graph_builder_attr_key_name(const kga_graph_builder_t *b,
                                            uint32_t key);

typedef struct {
    uint32_t head, rel, tail;
} kga_graph_builder_triple_t;

typedef struct {
    uint32_t ent, key;
    const char *literal; /* owned by the builder */
} kga_graph_builder_attr_t;

/* The distinct triples / attribute triples, in insertion order. */
const kga_graph_builder_triple_t *
kga_graph_builder_triples(const kga_graph_builder_t *b, uint64_t *count);
const kga_graph_builder_attr_t *
kga_graph_builder_attributes(const kga_graph_builder_t *b, uint64_t *count);

#endif
