#ifndef KGA_STORE_FORMAT_H
#define KGA_STORE_FORMAT_H

/* On-disk layout of a graph store, shared by the writer, the validator and
 * the tests that forge damaged files. Private to core/ and tests/: callers
 * use store.h. The prose description is docs/store-format.md; keep both in
 * step and bump KGA_STORE_VERSION on any change. Every field is
 * little-endian; the structs below have no implicit padding. */

#include <stdint.h>

#include "store/store.h"

#define KGA_STORE_MAGIC "KGASTORE"
#define KGA_STORE_MAGIC_LEN 8u
#define KGA_STORE_ENDIAN_MARK 0x01020304u
/* What the mark reads as when a little-endian file is read big-endian. */
#define KGA_STORE_ENDIAN_SWAPPED 0x04030201u
#define KGA_STORE_HEADER_SIZE 64u
#define KGA_STORE_ALIGN 64u
/* Empty slot of the id index. */
#define KGA_STORE_INDEX_EMPTY UINT32_MAX
/* The id index holds at least this many slots, and at least twice as many
 * as there are entities (load factor at most 1/2). */
#define KGA_STORE_INDEX_MIN_SLOTS 16u

typedef struct {
    char magic[8];             /* "KGASTORE", no NUL */
    uint32_t version;          /* KGA_STORE_VERSION */
    uint32_t endian;           /* KGA_STORE_ENDIAN_MARK */
    uint64_t file_size;        /* whole file, a multiple of KGA_STORE_ALIGN */
    uint64_t checksum;         /* XXH64 of bytes [64, file_size) */
    uint32_t header_size;      /* KGA_STORE_HEADER_SIZE */
    uint32_t section_count;    /* KGA_SEC_COUNT_ (13 in version 1) */
    uint32_t section_entry_size; /* sizeof(kga_store_section_t) */
    uint32_t flags;            /* 0 */
    uint8_t reserved[16];      /* 0 */
} kga_store_header_t;

/* One row of the section table, which starts right after the header. */
typedef struct {
    uint32_t id;        /* kga_store_section_id_t */
    uint32_t reserved;  /* 0 */
    uint64_t offset;    /* from the start of the file, KGA_STORE_ALIGN-aligned */
    uint64_t size;      /* bytes of payload, without the padding after it */
    uint64_t count;     /* elements; size == count * element size */
} kga_store_section_t;

/* Section ids, in the order the writer lays them out. */
typedef enum {
    KGA_SEC_STRINGS = 1,     /* char[count]: NUL-terminated UTF-8 strings */
    KGA_SEC_ENTITIES = 2,    /* kga_store_entity_t[entity_count] */
    KGA_SEC_TYPES = 3,       /* uint64_t name offset[type_count] */
    KGA_SEC_RELATIONS = 4,   /* uint64_t name offset[relation_count] */
    KGA_SEC_ATTR_KEYS = 5,   /* uint64_t name offset[attr_key_count] */
    KGA_SEC_OUT_OFFSETS = 6, /* uint64_t[entity_count + 1] */
    KGA_SEC_OUT_EDGES = 7,   /* kga_edge_t[triple_count]: (rel, tail) */
    KGA_SEC_IN_OFFSETS = 8,  /* uint64_t[entity_count + 1] */
    KGA_SEC_IN_EDGES = 9,    /* kga_edge_t[triple_count]: (rel, head) */
    KGA_SEC_ATTR_OFFSETS = 10, /* uint64_t[entity_count + 1] */
    KGA_SEC_ATTRS = 11,      /* kga_attr_t[attribute_count] */
    KGA_SEC_FANOUT = 12,     /* kga_store_fanout_t[], sorted by key */
    KGA_SEC_ID_INDEX = 13,   /* uint32_t slot[2^k]: entity id or EMPTY */
    KGA_SEC_GENERATIONS = 14, /* kga_store_generation_t[earlier generations]
                                 (since version 2) */
    KGA_SEC_COUNT_ = 14
} kga_store_section_id_t;

/* Sections of a version-1 file: all but the generations. */
#define KGA_STORE_V1_SECTIONS 13u

typedef struct {
    uint64_t ext_id; /* string offset, non-empty */
    uint64_t name;   /* string offset, "" when none */
    uint32_t type;   /* type id or KGA_NO_TYPE */
    uint32_t reserved; /* 0 */
} kga_store_entity_t;

/* Average fan-out of (type, rel, dir), see kga_store_fanout(). */
typedef struct {
    uint32_t type; /* type id, or KGA_NO_TYPE (sorts last) */
    uint32_t rel;
    uint32_t dir;  /* kga_dir_t */
    float avg;     /* finite, >= 1 */
} kga_store_fanout_t;

/* Home slot of an external id's hash in an index of `slots` slots (a power
 * of two): the top bits of the hash. Entities are numbered in hash order, so
 * home slots rise with entity ids and walking the index touches the entity
 * rows almost in sequence. */
static inline uint64_t kga_store_index_home(uint64_t hash, uint64_t slots)
{
    return hash >> (64 - __builtin_ctzll(slots));
}

_Static_assert(sizeof(kga_store_header_t) == KGA_STORE_HEADER_SIZE,
               "header is 64 bytes");
_Static_assert(sizeof(kga_store_section_t) == 32, "section row is 32 bytes");
_Static_assert(sizeof(kga_store_entity_t) == 24, "entity row is 24 bytes");
_Static_assert(sizeof(kga_store_fanout_t) == 16, "fan-out row is 16 bytes");
_Static_assert(sizeof(kga_edge_t) == 8, "edge is 8 bytes");
_Static_assert(sizeof(kga_attr_t) == 16, "attribute is 16 bytes");
_Static_assert(sizeof(kga_store_generation_t) == 16,
               "generation row is 16 bytes");

#endif
