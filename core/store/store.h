#ifndef KGA_STORE_H
#define KGA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/graph_builder.h"

/* A graph store: one knowledge graph in a memory-mapped, read-only file
 * (format in docs/store-format.md). Opening validates every structural
 * invariant once, so the accessors below do no checks on the hot path.
 *
 * Internal entity ids are 0..entity_count-1 in a canonical order derived from
 * a hash of the external id, so they carry no meaning and do not depend on the
 * order of the input. Relation ids are 0..relation_count-1 (sorted by name);
 * type ids 0..type_count-1 (sorted by name) with KGA_NO_TYPE for untyped
 * entities.
 *
 * Generations. `kgalign add` writes a store as the next generation of
 * another (kga_store_write_next()): every entity, triple and attribute of
 * the earlier one, with the same ids, and more. The canonical order then
 * holds within each generation's block of new entities, which follows the
 * blocks of the earlier ones; the store lists the fingerprint and entity
 * count of each earlier generation, so that a model trained on one of them
 * knows that its entity ids still mean the same entities. A store that
 * `kgalign import` wrote is generation 1. */

#define KGA_STORE_VERSION 2u
#define KGA_NO_TYPE UINT32_MAX

typedef struct kga_store kga_store_t;

/* One adjacency entry: the relation and the entity at the other end. */
typedef struct {
    uint32_t rel;
    uint32_t ent;
} kga_edge_t;

/* One attribute triple of an entity. */
typedef struct {
    uint32_t key;
    uint32_t reserved;
    uint64_t literal; /* string offset; read with kga_store_attr_literal */
} kga_attr_t;

typedef enum { KGA_DIR_OUT = 0, KGA_DIR_IN = 1 } kga_dir_t;

/* One earlier generation of a store: the fingerprint (checksum) the store
 * had then, and how many entities it held (ids 0..entities-1 now). */
typedef struct {
    uint64_t fingerprint;
    uint32_t entities;
    uint32_t reserved; /* 0 */
} kga_store_generation_t;

/* Writes the builder's graph to path: a temporary file next to it, fsync,
 * rename into place (a mapped file is never changed in place). */
int kga_store_write(const kga_graph_builder_t *b, const char *path,
                    kga_err_t *err);

/* Writes the builder's graph as the generation after prev: the builder's
 * entities 0..n-1 must be prev's entities 0..n-1 in that order (n =
 * prev's entity count; KGA_EINVAL naming the first that is not), and they
 * keep their ids; the entities after them are numbered canonically among
 * themselves. The builder must hold prev's relations exactly (KGA_EINVAL
 * otherwise: a new relation would renumber the relations a model was
 * trained with). Written like kga_store_write(); path may be prev's own
 * file, which a process that maps it keeps reading until it reopens. */
int kga_store_write_next(const kga_graph_builder_t *b, const kga_store_t *prev,
                         const char *path, kga_err_t *err);

/* Checks every structural invariant of a store image in memory (magic,
 * version, endian mark, size, checksum, section table, offsets monotone and
 * in bounds, ids in range, strings terminated inside their section, id index
 * consistent). Returns 0 or a KGA_E* code with a message naming what is
 * wrong and where (the byte offset). Never reads outside [buf, buf+len). */
int kga_store_validate(const void *buf, size_t len, kga_err_t *err);

/* Maps and validates the file; on failure the message names the file. The
 * store owns the mapping; kga_store_close() unmaps and frees. */
int kga_store_open(const char *path, kga_store_t **out, kga_err_t *err);

/* Same over a caller-owned buffer that must outlive the store (tests, fuzz). */
int kga_store_open_buffer(const void *buf, size_t len, kga_store_t **out,
                          kga_err_t *err);

void kga_store_close(kga_store_t *s);

/* Whether the mapped file still has the size and modification time it had
 * when opened (base/mapped_file.h): 0, or KGA_ECHANGED (or KGA_EIO) with a
 * message naming the file. 0 for a store over a buffer. Any thread. */
int kga_store_check_file(const kga_store_t *s, kga_err_t *err);

/* Counts. */
uint32_t kga_store_entity_count(const kga_store_t *s);
uint32_t kga_store_relation_count(const kga_store_t *s);
uint32_t kga_store_type_count(const kga_store_t *s);
uint32_t kga_store_attr_key_count(const kga_store_t *s);
uint64_t kga_store_triple_count(const kga_store_t *s);
uint64_t kga_store_attribute_count(const kga_store_t *s);
uint64_t kga_store_byte_size(const kga_store_t *s);
uint32_t kga_store_version(const kga_store_t *s);
/* The file's checksum: a fingerprint of its content, used by model files to
 * refuse other stores. */
uint64_t kga_store_fingerprint(const kga_store_t *s);
/* Its generation: 1 for an imported store, one more for each
 * kga_store_write_next() since. */
uint32_t kga_store_generation(const kga_store_t *s);
/* The earlier generations, oldest first: *rows points at
 * kga_store_generation() - 1 rows inside the mapping. */
uint32_t kga_store_generations(const kga_store_t *s,
                               const kga_store_generation_t **rows);
/* The generation whose fingerprint is `fingerprint`: this one or an
 * earlier one. Returns its number (1-based) and *entities its entity
 * count, or 0 when the store does not descend from it. */
uint32_t kga_store_find_generation(const kga_store_t *s, uint64_t fingerprint,
                                   uint32_t *entities);
/* The path it was opened from ("<buffer>" for kga_store_open_buffer). */
const char *kga_store_path(const kga_store_t *s);

/* Entities. Strings are NUL-terminated UTF-8 inside the mapping. The name is
 * "" when the source had none. */
const char *kga_store_entity_ext_id(const kga_store_t *s, uint32_t ent);
const char *kga_store_entity_name(const kga_store_t *s, uint32_t ent);
uint32_t kga_store_entity_type(const kga_store_t *s, uint32_t ent);
const char *kga_store_type_name(const kga_store_t *s, uint32_t type);
const char *kga_store_relation_name(const kga_store_t *s, uint32_t rel);
const char *kga_store_attr_key_name(const kga_store_t *s, uint32_t key);

/* Internal id of an external id, or -1 when unknown (hash index, O(1)). */
int64_t kga_store_lookup(const kga_store_t *s, const char *ext_id);

/* Id of a relation / a type by name, or -1 when the store has none of that
 * name (binary search over the sorted names). */
int64_t kga_store_relation_lookup(const kga_store_t *s, const char *name);
int64_t kga_store_type_lookup(const kga_store_t *s, const char *name);

/* Adjacency of ent in one direction: *edges points at `return value` entries
 * sorted by (rel, ent). KGA_DIR_OUT gives (rel, tail) for ent as head;
 * KGA_DIR_IN gives (rel, head) for ent as tail. */
uint32_t kga_store_edges(const kga_store_t *s, uint32_t ent, kga_dir_t dir,
                         const kga_edge_t **edges);

/* Attribute triples of ent. */
uint32_t kga_store_attrs(const kga_store_t *s, uint32_t ent,
                         const kga_attr_t **attrs);
const char *kga_store_attr_literal(const kga_store_t *s, const kga_attr_t *a);

/* Average fan-out of relation rel in direction dir from entities of type
 * `type` (KGA_NO_TYPE for untyped entities): the mean number of neighbours
 * through (rel, dir) over the entities of that type that have at least one.
 * Returns 0 when no such entity exists. O(log n). */
float kga_store_fanout(const kga_store_t *s, uint32_t type, uint32_t rel,
                       kga_dir_t dir);

#endif
