/* Graph store: opening, validation and read access. The writer is in
 * store_write.c; the layout is in store_format.h and docs/store-format.md.
 *
 * kga_store_validate() is the only place that trusts nothing: it reads the
 * image through bounds-checked, alignment-free loads and checks every
 * invariant once. After it succeeded the accessors index the mapping
 * directly. That is why the validator and the accessors share one file of
 * about 1,200 lines: each unchecked access rests on a check made here,
 * and the two change together. */
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/mapped_file.h"
#include "base/rng.h"
#include "store/store_format.h"

struct kga_store {
    size_t len;
    kga_mapped_file_t file; /* empty when the buffer is the caller's */
    char *path;
    uint32_t version;
    uint64_t checksum;
    const kga_store_generation_t *generations;
    uint32_t generation_count; /* earlier generations */

    const char *strings;
    const kga_store_entity_t *entities;
    const uint64_t *type_names;
    const uint64_t *rel_names;
    const uint64_t *key_names;
    const uint64_t *out_off;
    const kga_edge_t *out_edges;
    const uint64_t *in_off;
    const kga_edge_t *in_edges;
    const uint64_t *attr_off;
    const kga_attr_t *attrs;
    const kga_store_fanout_t *fanout;
    const uint32_t *index;

    uint32_t entity_count, type_count, relation_count, key_count;
    uint64_t triple_count, attr_count, fanout_count;
    uint64_t index_mask;
};

/* ------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *buf;
    uint64_t size; /* file size, equal to the buffer length once checked */
    kga_err_t *err;
    int nsec; /* sections of the file's version */
    kga_store_section_t sec[KGA_SEC_COUNT_ + 1]; /* indexed by section id */
    uint64_t strings_size;
    uint64_t n, types, rels, keys; /* entity, type, relation, key counts */
} vctx_t;

static const char *const section_names[KGA_SEC_COUNT_ + 1] = {
    [KGA_SEC_STRINGS] = "strings",
    [KGA_SEC_ENTITIES] = "entities",
    [KGA_SEC_TYPES] = "types",
    [KGA_SEC_RELATIONS] = "relations",
    [KGA_SEC_ATTR_KEYS] = "attribute keys",
    [KGA_SEC_OUT_OFFSETS] = "out-offsets",
    [KGA_SEC_OUT_EDGES] = "out-edges",
    [KGA_SEC_IN_OFFSETS] = "in-offsets",
    [KGA_SEC_IN_EDGES] = "in-edges",
    [KGA_SEC_ATTR_OFFSETS] = "attribute offsets",
    [KGA_SEC_ATTRS] = "attributes",
    [KGA_SEC_FANOUT] = "fan-out",
    [KGA_SEC_ID_INDEX] = "id index",
    [KGA_SEC_GENERATIONS] = "generations",
};

/* Bytes per element of each section: size must equal count times this. */
static const uint64_t section_elem_size[KGA_SEC_COUNT_ + 1] = {
    [KGA_SEC_STRINGS] = 1,
    [KGA_SEC_ENTITIES] = sizeof(kga_store_entity_t),
    [KGA_SEC_TYPES] = sizeof(uint64_t),
    [KGA_SEC_RELATIONS] = sizeof(uint64_t),
    [KGA_SEC_ATTR_KEYS] = sizeof(uint64_t),
    [KGA_SEC_OUT_OFFSETS] = sizeof(uint64_t),
    [KGA_SEC_OUT_EDGES] = sizeof(kga_edge_t),
    [KGA_SEC_IN_OFFSETS] = sizeof(uint64_t),
    [KGA_SEC_IN_EDGES] = sizeof(kga_edge_t),
    [KGA_SEC_ATTR_OFFSETS] = sizeof(uint64_t),
    [KGA_SEC_ATTRS] = sizeof(kga_attr_t),
    [KGA_SEC_FANOUT] = sizeof(kga_store_fanout_t),
    [KGA_SEC_ID_INDEX] = sizeof(uint32_t),
    [KGA_SEC_GENERATIONS] = sizeof(kga_store_generation_t),
};

/* Alignment-free little-endian loads: the validator may be handed any
 * buffer, and only this file's hosts (little-endian) get past the endian
 * mark, so a native load is a little-endian load. */
static inline uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float rdf32(const uint8_t *p)
{
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* End of the section table of the file's version. */
static uint64_t table_end(const vctx_t *v)
{
    return KGA_STORE_HEADER_SIZE +
           (uint64_t)v->nsec * sizeof(kga_store_section_t);
}

/* Records "<section> section, byte <offset>: <what>" and returns code. */
__attribute__((format(printf, 5, 6))) static int
fail_at(const vctx_t *v, int code, int sec_id, uint64_t offset,
        const char *fmt, ...)
{
    char what[KGA_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (sec_id > 0 && sec_id <= KGA_SEC_COUNT_)
        return kga_err_set(v->err, code, "%s section, byte %llu: %s",
                           section_names[sec_id], (unsigned long long)offset,
                           what);
    return kga_err_set(v->err, code, "byte %llu: %s",
                       (unsigned long long)offset, what);
}

/* Start of section id's payload / of element i in it. */
static inline const uint8_t *sec_ptr(const vctx_t *v, int id)
{
    return v->buf + v->sec[id].offset;
}

static inline uint64_t sec_pos(const vctx_t *v, int id, uint64_t i)
{
    return v->sec[id].offset + i * section_elem_size[id];
}

static int check_header_fixed(vctx_t *v, const kga_store_header_t *h)
{
    if (h->header_size != KGA_STORE_HEADER_SIZE)
        return fail_at(v, KGA_EFORMAT, 0,
                       offsetof(kga_store_header_t, header_size),
                       "header size is %u, expected %u", h->header_size,
                       KGA_STORE_HEADER_SIZE);
    if (h->section_count != (uint32_t)v->nsec)
        return fail_at(v, KGA_EFORMAT, 0,
                       offsetof(kga_store_header_t, section_count),
                       "section count is %u, expected %d", h->section_count,
                       v->nsec);
    if (h->section_entry_size != sizeof(kga_store_section_t))
        return fail_at(v, KGA_EFORMAT, 0,
                       offsetof(kga_store_header_t, section_entry_size),
                       "section table row size is %u, expected %zu",
                       h->section_entry_size, sizeof(kga_store_section_t));
    if (h->flags != 0)
        return fail_at(v, KGA_EFORMAT, 0, offsetof(kga_store_header_t, flags),
                       "unknown flags 0x%x", h->flags);
    for (size_t i = 0; i < sizeof h->reserved; i++)
        if (h->reserved[i] != 0)
            return fail_at(v, KGA_EFORMAT, 0,
                           offsetof(kga_store_header_t, reserved) + i,
                           "reserved header byte is not zero");
    return 0;
}

static int check_header(vctx_t *v, size_t len, kga_store_header_t *h)
{
    if (len == 0)
        return kga_err_set(v->err, KGA_ETRUNCATED,
                           "empty file (0 bytes), not a graph store");
    size_t magic_avail = len < KGA_STORE_MAGIC_LEN ? len : KGA_STORE_MAGIC_LEN;
    if (memcmp(v->buf, KGA_STORE_MAGIC, magic_avail) != 0)
        return fail_at(v, KGA_EMAGIC, 0, 0,
                       "bad magic: not a kgalign graph store");
    if (len < KGA_STORE_HEADER_SIZE)
        return kga_err_set(v->err, KGA_ETRUNCATED,
                           "file is %zu bytes, shorter than the %u-byte header",
                           len, KGA_STORE_HEADER_SIZE);
    memcpy(h, v->buf, sizeof *h);
    if (h->endian != KGA_STORE_ENDIAN_MARK)
        return fail_at(v, KGA_EENDIAN, 0, offsetof(kga_store_header_t, endian),
                       h->endian == KGA_STORE_ENDIAN_SWAPPED
                           ? "endian mark 0x%08x: written in the other byte "
                             "order"
                           : "bad endian mark 0x%08x",
                       h->endian);
    /* Version 1 is version 2 without generations: read as generation 1. */
    if (h->version != KGA_STORE_VERSION && h->version != 1)
        return fail_at(v, KGA_EVERSION, 0,
                       offsetof(kga_store_header_t, version),
                       "format version %u, this build reads versions 1 and "
                       "%u",
                       h->version, KGA_STORE_VERSION);
    v->nsec = h->version == 1 ? (int)KGA_STORE_V1_SECTIONS : KGA_SEC_COUNT_;
    if (h->file_size > len)
        return kga_err_set(v->err, KGA_ETRUNCATED,
                           "file size field says %llu bytes but only %zu are "
                           "present",
                           (unsigned long long)h->file_size, len);
    if (h->file_size < len)
        return fail_at(v, KGA_EFORMAT, 0,
                       offsetof(kga_store_header_t, file_size),
                       "file size field says %llu bytes but the file has "
                       "%zu",
                       (unsigned long long)h->file_size, len);
    if (h->file_size % KGA_STORE_ALIGN != 0 || h->file_size < table_end(v))
        return fail_at(v, KGA_EFORMAT, 0,
                       offsetof(kga_store_header_t, file_size),
                       "file size %llu is not a multiple of %u holding the "
                       "section table",
                       (unsigned long long)h->file_size, KGA_STORE_ALIGN);
    v->size = h->file_size;
    return check_header_fixed(v, h);
}

static int check_checksum(vctx_t *v, const kga_store_header_t *h)
{
    uint64_t sum = kga_hash64(v->buf + KGA_STORE_HEADER_SIZE,
                              v->size - KGA_STORE_HEADER_SIZE);
    if (sum != h->checksum)
        return fail_at(v, KGA_ECHECKSUM, 0,
                       offsetof(kga_store_header_t, checksum),
                       "checksum mismatch: header has %016llx, content "
                       "hashes to %016llx",
                       (unsigned long long)h->checksum,
                       (unsigned long long)sum);
    return 0;
}

static int check_section_row(vctx_t *v, const kga_store_section_t *row,
                             uint64_t row_pos)
{
    if (row->id < 1 || row->id > (uint32_t)v->nsec)
        return fail_at(v, KGA_EFORMAT, 0, row_pos,
                       "section table: unknown section id %u", row->id);
    int id = (int)row->id;
    if (v->sec[id].id != 0)
        return fail_at(v, KGA_EFORMAT, 0, row_pos,
                       "section table: %s section listed twice",
                       section_names[id]);
    if (row->reserved != 0)
        return fail_at(v, KGA_EFORMAT, 0, row_pos,
                       "section table: reserved field of %s is not zero",
                       section_names[id]);
    if (row->offset % KGA_STORE_ALIGN != 0 || row->offset < table_end(v))
        return fail_at(v, KGA_EFORMAT, id, row->offset,
                       "section offset is not %u-aligned after the table",
                       KGA_STORE_ALIGN);
    if (row->offset > v->size || row->size > v->size - row->offset)
        return fail_at(v, KGA_EFORMAT, id, row->offset,
                       "section of %llu bytes runs past the end of the file "
                       "(%llu bytes)",
                       (unsigned long long)row->size,
                       (unsigned long long)v->size);
    uint64_t elem = section_elem_size[id];
    if (row->size % elem != 0 || row->count != row->size / elem)
        return fail_at(v, KGA_EFORMAT, id, row->offset,
                       "%llu bytes do not hold %llu elements of %llu bytes",
                       (unsigned long long)row->size,
                       (unsigned long long)row->count,
                       (unsigned long long)elem);
    v->sec[id] = *row;
    return 0;
}

static int check_zero_bytes(const vctx_t *v, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++)
        if (v->buf[i] != 0)
            return fail_at(v, KGA_EFORMAT, 0, i, "padding byte is not zero");
    return 0;
}

/* Sections must not overlap, and the gaps between them (alignment padding)
 * must be zero so that every byte of a valid file is accounted for. */
static int check_section_layout(vctx_t *v)
{
    int order[KGA_SEC_COUNT_] = {0}; /* section ids by offset */
    for (int i = 0; i < v->nsec; i++) {
        int id = i + 1, j = i;
        for (; j > 0 && v->sec[order[j - 1]].offset > v->sec[id].offset; j--)
            order[j] = order[j - 1];
        order[j] = id;
    }
    uint64_t end = table_end(v);
    for (int i = 0; i < v->nsec; i++) {
        const kga_store_section_t *s = &v->sec[order[i]];
        if (s->offset < end)
            return fail_at(v, KGA_EFORMAT, order[i], s->offset,
                           "section overlaps the one before it (which ends "
                           "at byte %llu)",
                           (unsigned long long)end);
        int rc = check_zero_bytes(v, end, s->offset);
        if (rc != 0)
            return rc;
        end = s->offset + s->size;
    }
    return check_zero_bytes(v, end, v->size);
}

static int check_section_table(vctx_t *v)
{
    for (int i = 0; i < v->nsec; i++) {
        uint64_t pos = KGA_STORE_HEADER_SIZE + (uint64_t)i *
                                                   sizeof(kga_store_section_t);
        kga_store_section_t row;
        memcpy(&row, v->buf + pos, sizeof row);
        int rc = check_section_row(v, &row, pos);
        if (rc != 0)
            return rc;
    }
    return check_section_layout(v);
}

/* Element counts that other sections depend on. */
static int check_counts(vctx_t *v)
{
    v->n = v->sec[KGA_SEC_ENTITIES].count;
    v->types = v->sec[KGA_SEC_TYPES].count;
    v->rels = v->sec[KGA_SEC_RELATIONS].count;
    v->keys = v->sec[KGA_SEC_ATTR_KEYS].count;
    v->strings_size = v->sec[KGA_SEC_STRINGS].count;
    /* UINT32_MAX is reserved for "no type" and "empty index slot". */
    if (v->n >= UINT32_MAX)
        return fail_at(v, KGA_ERANGE, KGA_SEC_ENTITIES,
                       v->sec[KGA_SEC_ENTITIES].offset,
                       "%llu entities, more than 32-bit ids allow",
                       (unsigned long long)v->n);
    if (v->types >= UINT32_MAX || v->rels > UINT32_MAX || v->keys > UINT32_MAX)
        return fail_at(v, KGA_ERANGE, 0, KGA_STORE_HEADER_SIZE,
                       "more types, relations or keys than 32-bit ids allow");
    static const int offset_secs[] = {KGA_SEC_OUT_OFFSETS, KGA_SEC_IN_OFFSETS,
                                      KGA_SEC_ATTR_OFFSETS};
    for (size_t i = 0; i < sizeof offset_secs / sizeof offset_secs[0]; i++) {
        const kga_store_section_t *s = &v->sec[offset_secs[i]];
        if (s->count != v->n + 1)
            return fail_at(v, KGA_EFORMAT, offset_secs[i], s->offset,
                           "%llu offsets for %llu entities (expected n+1)",
                           (unsigned long long)s->count,
                           (unsigned long long)v->n);
    }
    if (v->sec[KGA_SEC_OUT_EDGES].count != v->sec[KGA_SEC_IN_EDGES].count)
        return fail_at(v, KGA_EFORMAT, KGA_SEC_IN_EDGES,
                       v->sec[KGA_SEC_IN_EDGES].offset,
                       "%llu in-edges but %llu out-edges",
                       (unsigned long long)v->sec[KGA_SEC_IN_EDGES].count,
                       (unsigned long long)v->sec[KGA_SEC_OUT_EDGES].count);
    return 0;
}

/* The blob ends with a NUL, so every offset inside it starts a string that
 * is terminated inside it: offsets then need only a bound check. */
static int check_strings(vctx_t *v)
{
    const kga_store_section_t *s = &v->sec[KGA_SEC_STRINGS];
    if (s->count == 0)
        return fail_at(v, KGA_EFORMAT, KGA_SEC_STRINGS, s->offset,
                       "string section is empty");
    if (v->buf[s->offset + s->count - 1] != '\0')
        return fail_at(v, KGA_EFORMAT, KGA_SEC_STRINGS,
                       s->offset + s->count - 1,
                       "last string is not NUL-terminated inside the section");
    return 0;
}

static inline const char *str_at(const vctx_t *v, uint64_t off)
{
    return (const char *)sec_ptr(v, KGA_SEC_STRINGS) + off;
}

static int check_string_ref(const vctx_t *v, int sec_id, uint64_t pos,
                            uint64_t off, const char *what)
{
    if (off >= v->strings_size)
        return fail_at(v, KGA_ERANGE, sec_id, pos,
                       "%s string offset %llu outside the %llu-byte string "
                       "section",
                       what, (unsigned long long)off,
                       (unsigned long long)v->strings_size);
    return 0;
}

/* Type, relation and attribute-key tables: in range, strictly sorted by
 * name (so also unique). */
static int check_name_table(vctx_t *v, int id)
{
    const uint8_t *p = sec_ptr(v, id);
    const char *prev = NULL;
    for (uint64_t i = 0; i < v->sec[id].count; i++) {
        uint64_t off = rd64(p + i * sizeof(uint64_t));
        int rc = check_string_ref(v, id, sec_pos(v, id, i), off, "name");
        if (rc != 0)
            return rc;
        const char *name = str_at(v, off);
        if (prev != NULL && strcmp(prev, name) >= 0)
            return fail_at(v, KGA_EFORMAT, id, sec_pos(v, id, i),
                           "name %llu is not after name %llu in byte order",
                           (unsigned long long)i, (unsigned long long)i - 1);
        prev = name;
    }
    return 0;
}

static uint64_t ext_hash(const char *ext)
{
    return kga_hash64(ext, strlen(ext));
}

static int check_entity_row(vctx_t *v, uint64_t i, const uint8_t *row)
{
    uint64_t pos = sec_pos(v, KGA_SEC_ENTITIES, i);
    uint64_t ext = rd64(row + offsetof(kga_store_entity_t, ext_id));
    uint64_t name = rd64(row + offsetof(kga_store_entity_t, name));
    uint32_t type = rd32(row + offsetof(kga_store_entity_t, type));
    uint32_t reserved = rd32(row + offsetof(kga_store_entity_t, reserved));
    int rc = check_string_ref(v, KGA_SEC_ENTITIES, pos, ext, "external id");
    if (rc == 0)
        rc = check_string_ref(v, KGA_SEC_ENTITIES, pos, name, "name");
    if (rc != 0)
        return rc;
    if (*str_at(v, ext) == '\0')
        return fail_at(v, KGA_EFORMAT, KGA_SEC_ENTITIES, pos,
                       "entity %llu has an empty external id",
                       (unsigned long long)i);
    if (type != KGA_NO_TYPE && type >= v->types)
        return fail_at(v, KGA_ERANGE, KGA_SEC_ENTITIES, pos,
                       "entity %llu has type %u, only %llu types",
                       (unsigned long long)i, type,
                       (unsigned long long)v->types);
    if (reserved != 0)
        return fail_at(v, KGA_EFORMAT, KGA_SEC_ENTITIES, pos,
                       "reserved field of entity %llu is not zero",
                       (unsigned long long)i);
    return 0;
}

/* The earlier generations: entity counts that never decrease and stay
 * within the store, reserved fields zero. */
static int check_generations(vctx_t *v)
{
    const uint8_t *p = sec_ptr(v, KGA_SEC_GENERATIONS);
    uint64_t prev = 0;
    for (uint64_t g = 0; g < v->sec[KGA_SEC_GENERATIONS].count; g++) {
        const uint8_t *row = p + g * sizeof(kga_store_generation_t);
        uint64_t pos = sec_pos(v, KGA_SEC_GENERATIONS, g);
        uint32_t n = rd32(row + offsetof(kga_store_generation_t, entities));
        if (n < prev || n > v->n)
            return fail_at(v, KGA_ERANGE, KGA_SEC_GENERATIONS, pos,
                           "generation %llu holds %u entities, not within "
                           "%llu..%llu",
                           (unsigned long long)g + 1, n,
                           (unsigned long long)prev,
                           (unsigned long long)v->n);
        if (rd32(row + offsetof(kga_store_generation_t, reserved)) != 0)
            return fail_at(v, KGA_EFORMAT, KGA_SEC_GENERATIONS, pos,
                           "reserved field of generation %llu is not zero",
                           (unsigned long long)g + 1);
        prev = n;
    }
    return 0;
}

typedef struct {
    uint64_t hash;
    const char *ext;
    uint32_t id;
} ent_key_t;

static int ent_key_cmp(const void *pa, const void *pb)
{
    const ent_key_t *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return strcmp(a->ext, b->ext);
}

/* No external id in two generations' blocks (each block is strictly
 * ordered, so a repeat can only cross blocks): one sort of the keys,
 * O(n log n), done only for stores with more than one block. */
static int check_unique_across(vctx_t *v)
{
    ent_key_t *k = malloc((v->n + 1) * sizeof *k);
    if (k == NULL)
        return kga_err_set(v->err, KGA_ENOMEM,
                           "out of memory checking the entities");
    const uint8_t *p = sec_ptr(v, KGA_SEC_ENTITIES);
    for (uint64_t i = 0; i < v->n; i++) {
        k[i].ext = str_at(v, rd64(p + i * sizeof(kga_store_entity_t)));
        k[i].hash = ext_hash(k[i].ext);
        k[i].id = (uint32_t)i;
    }
    qsort(k, v->n, sizeof *k, ent_key_cmp);
    int rc = 0;
    for (uint64_t i = 1; i < v->n && rc == 0; i++)
        if (ent_key_cmp(&k[i - 1], &k[i]) == 0) {
            uint32_t later = k[i].id > k[i - 1].id ? k[i].id : k[i - 1].id;
            rc = fail_at(v, KGA_EFORMAT, KGA_SEC_ENTITIES,
                         sec_pos(v, KGA_SEC_ENTITIES, later),
                         "entity %u repeats the external id of entity %u",
                         later, k[i].id ^ k[i - 1].id ^ later);
        }
    free(k);
    return rc;
}

/* Rows in range, and in the canonical order (hash of the external id, then
 * the id itself) within each generation's block, with no two equal: that
 * also makes external ids unique within a block, and check_unique_across()
 * across blocks. */
static int check_entities(vctx_t *v)
{
    const uint8_t *p = sec_ptr(v, KGA_SEC_ENTITIES);
    const uint8_t *gens = sec_ptr(v, KGA_SEC_GENERATIONS);
    uint64_t n_gens = v->sec[KGA_SEC_GENERATIONS].count, g = 0;
    uint64_t prev_hash = 0;
    const char *prev_ext = NULL;
    for (uint64_t i = 0; i < v->n; i++) {
        const uint8_t *row = p + i * sizeof(kga_store_entity_t);
        int rc = check_entity_row(v, i, row);
        if (rc != 0)
            return rc;
        /* A new block starts where an earlier generation ended. */
        while (g < n_gens &&
               rd32(gens + g * sizeof(kga_store_generation_t) +
                    offsetof(kga_store_generation_t, entities)) == i) {
            prev_ext = NULL;
            g++;
        }
        const char *ext = str_at(v, rd64(row));
        uint64_t h = ext_hash(ext);
        if (prev_ext != NULL &&
            (h < prev_hash || (h == prev_hash && strcmp(prev_ext, ext) >= 0)))
            return fail_at(v, KGA_EFORMAT, KGA_SEC_ENTITIES,
                           sec_pos(v, KGA_SEC_ENTITIES, i),
                           "entity %llu is out of canonical order or repeats "
                           "an external id",
                           (unsigned long long)i);
        prev_hash = h;
        prev_ext = ext;
    }
    return n_gens > 0 ? check_unique_across(v) : 0;
}

/* Offsets start at 0, never decrease, end at the element count, and give no
 * entity more than 2^32-1 elements (accessors return uint32_t counts). */
static int check_offsets(vctx_t *v, int off_id, uint64_t elems)
{
    const uint8_t *p = sec_ptr(v, off_id);
    uint64_t prev = rd64(p);
    if (prev != 0)
        return fail_at(v, KGA_EFORMAT, off_id, sec_pos(v, off_id, 0),
                       "first offset is %llu, not 0",
                       (unsigned long long)prev);
    for (uint64_t i = 1; i <= v->n; i++) {
        uint64_t cur = rd64(p + i * sizeof(uint64_t));
        if (cur < prev || cur - prev > UINT32_MAX)
            return fail_at(v, KGA_EFORMAT, off_id, sec_pos(v, off_id, i),
                           "offset %llu goes from %llu to %llu",
                           (unsigned long long)i, (unsigned long long)prev,
                           (unsigned long long)cur);
        prev = cur;
    }
    if (prev != elems)
        return fail_at(v, KGA_EFORMAT, off_id, sec_pos(v, off_id, v->n),
                       "last offset %llu is not the element count %llu",
                       (unsigned long long)prev, (unsigned long long)elems);
    return 0;
}

/* Order-independent fingerprint of a triple, summed over both adjacency
 * directions to check that one is the transpose of the other. */
static inline uint64_t triple_mix(uint64_t head, uint64_t rel, uint64_t tail)
{
    return kga_rng_hash((head << 32 | tail) ^ (rel * 0x9E3779B97F4A7C15ull));
}

/* One adjacency direction: offsets, ids in range, each list strictly sorted
 * by (rel, ent). *fingerprint receives the sum of triple_mix over it. */
static int check_adjacency(vctx_t *v, int off_id, int edge_id, int is_out,
                           uint64_t *fingerprint)
{
    int rc = check_offsets(v, off_id, v->sec[edge_id].count);
    if (rc != 0)
        return rc;
    const uint8_t *offs = sec_ptr(v, off_id);
    const uint8_t *edges = sec_ptr(v, edge_id);
    uint64_t sum = 0;
    for (uint64_t e = 0; e < v->n; e++) {
        uint64_t begin = rd64(offs + e * 8), end = rd64(offs + e * 8 + 8);
        uint64_t prev_key = 0;
        for (uint64_t j = begin; j < end; j++) {
            uint64_t rel = rd32(edges + j * sizeof(kga_edge_t));
            uint64_t ent = rd32(edges + j * sizeof(kga_edge_t) + 4);
            if (rel >= v->rels || ent >= v->n)
                return fail_at(v, KGA_ERANGE, edge_id, sec_pos(v, edge_id, j),
                               "edge (rel %llu, entity %llu) of entity %llu "
                               "out of range",
                               (unsigned long long)rel,
                               (unsigned long long)ent, (unsigned long long)e);
            uint64_t key = rel << 32 | ent;
            if (j > begin && key <= prev_key)
                return fail_at(v, KGA_EFORMAT, edge_id,
                               sec_pos(v, edge_id, j),
                               "edges of entity %llu not strictly sorted by "
                               "(relation, entity)",
                               (unsigned long long)e);
            prev_key = key;
            sum += is_out ? triple_mix(e, rel, ent) : triple_mix(ent, rel, e);
        }
    }
    *fingerprint = sum;
    return 0;
}

static int check_graph(vctx_t *v)
{
    uint64_t out_sum, in_sum;
    int rc = check_adjacency(v, KGA_SEC_OUT_OFFSETS, KGA_SEC_OUT_EDGES, 1,
                             &out_sum);
    if (rc == 0)
        rc = check_adjacency(v, KGA_SEC_IN_OFFSETS, KGA_SEC_IN_EDGES, 0,
                             &in_sum);
    if (rc != 0)
        return rc;
    if (out_sum != in_sum)
        return fail_at(v, KGA_EFORMAT, KGA_SEC_IN_EDGES,
                       v->sec[KGA_SEC_IN_EDGES].offset,
                       "in-adjacency does not hold the same triples as "
                       "out-adjacency");
    return 0;
}

static int check_attr_row(vctx_t *v, uint64_t e, uint64_t j)
{
    const uint8_t *row = sec_ptr(v, KGA_SEC_ATTRS) + j * sizeof(kga_attr_t);
    uint64_t pos = sec_pos(v, KGA_SEC_ATTRS, j);
    uint32_t key = rd32(row + offsetof(kga_attr_t, key));
    if (key >= v->keys)
        return fail_at(v, KGA_ERANGE, KGA_SEC_ATTRS, pos,
                       "attribute of entity %llu has key %u, only %llu keys",
                       (unsigned long long)e, key,
                       (unsigned long long)v->keys);
    if (rd32(row + offsetof(kga_attr_t, reserved)) != 0)
        return fail_at(v, KGA_EFORMAT, KGA_SEC_ATTRS, pos,
                       "reserved field of an attribute is not zero");
    return check_string_ref(v, KGA_SEC_ATTRS, pos,
                            rd64(row + offsetof(kga_attr_t, literal)),
                            "literal");
}

/* Attribute lists: keys and literals in range, strictly sorted by (key,
 * literal bytes). */
static int check_attributes(vctx_t *v)
{
    int rc = check_offsets(v, KGA_SEC_ATTR_OFFSETS, v->sec[KGA_SEC_ATTRS].count);
    if (rc != 0)
        return rc;
    const uint8_t *offs = sec_ptr(v, KGA_SEC_ATTR_OFFSETS);
    const uint8_t *attrs = sec_ptr(v, KGA_SEC_ATTRS);
    for (uint64_t e = 0; e < v->n; e++) {
        uint64_t begin = rd64(offs + e * 8), end = rd64(offs + e * 8 + 8);
        for (uint64_t j = begin; j < end; j++) {
            rc = check_attr_row(v, e, j);
            if (rc != 0)
                return rc;
            if (j == begin)
                continue;
            const uint8_t *a = attrs + j * sizeof(kga_attr_t);
            const uint8_t *prev = a - sizeof(kga_attr_t);
            uint32_t key = rd32(a), prev_key = rd32(prev);
            int lit_cmp = strcmp(str_at(v, rd64(prev + 8)), str_at(v, rd64(a + 8)));
            if (key < prev_key || (key == prev_key && lit_cmp >= 0))
                return fail_at(v, KGA_EFORMAT, KGA_SEC_ATTRS,
                               sec_pos(v, KGA_SEC_ATTRS, j),
                               "attributes of entity %llu not strictly sorted "
                               "by (key, literal)",
                               (unsigned long long)e);
        }
    }
    return 0;
}

static int check_fanout_row(vctx_t *v, uint64_t i, const uint8_t *row)
{
    uint64_t pos = sec_pos(v, KGA_SEC_FANOUT, i);
    uint32_t type = rd32(row + offsetof(kga_store_fanout_t, type));
    uint32_t rel = rd32(row + offsetof(kga_store_fanout_t, rel));
    uint32_t dir = rd32(row + offsetof(kga_store_fanout_t, dir));
    float avg = rdf32(row + offsetof(kga_store_fanout_t, avg));
    if ((type != KGA_NO_TYPE && type >= v->types) || rel >= v->rels ||
        dir > KGA_DIR_IN)
        return fail_at(v, KGA_ERANGE, KGA_SEC_FANOUT, pos,
                       "row %llu (type %u, relation %u, direction %u) out of "
                       "range",
                       (unsigned long long)i, type, rel, dir);
    /* A mean over entities with at least one neighbour is at least 1. */
    if (!isfinite(avg) || avg < 1.0f)
        return fail_at(v, KGA_EFORMAT, KGA_SEC_FANOUT, pos,
                       "row %llu has fan-out %g, not a finite value >= 1",
                       (unsigned long long)i, (double)avg);
    return 0;
}

/* Rows strictly sorted by (type, rel, dir) so that lookups can bisect. */
static int check_fanout(vctx_t *v)
{
    const uint8_t *p = sec_ptr(v, KGA_SEC_FANOUT);
    uint32_t prev[3] = {0, 0, 0};
    for (uint64_t i = 0; i < v->sec[KGA_SEC_FANOUT].count; i++) {
        const uint8_t *row = p + i * sizeof(kga_store_fanout_t);
        int rc = check_fanout_row(v, i, row);
        if (rc != 0)
            return rc;
        uint32_t cur[3] = {rd32(row), rd32(row + 4), rd32(row + 8)};
        int cmp = 0;
        for (int k = 0; k < 3 && cmp == 0; k++)
            cmp = (cur[k] > prev[k]) - (cur[k] < prev[k]);
        if (i > 0 && cmp <= 0)
            return fail_at(v, KGA_EFORMAT, KGA_SEC_FANOUT,
                           sec_pos(v, KGA_SEC_FANOUT, i),
                           "row %llu not after row %llu in (type, relation, "
                           "direction) order",
                           (unsigned long long)i, (unsigned long long)i - 1);
        memcpy(prev, cur, sizeof prev);
    }
    return 0;
}

static int check_index_shape(vctx_t *v, uint64_t slots)
{
    const kga_store_section_t *s = &v->sec[KGA_SEC_ID_INDEX];
    if (slots < KGA_STORE_INDEX_MIN_SLOTS || (slots & (slots - 1)) != 0 ||
        slots / 2 < v->n)
        return fail_at(v, KGA_EFORMAT, KGA_SEC_ID_INDEX, s->offset,
                       "%llu slots for %llu entities: need a power of two, "
                       "at least %u and at least twice the entity count",
                       (unsigned long long)slots, (unsigned long long)v->n,
                       KGA_STORE_INDEX_MIN_SLOTS);
    return 0;
}

/* Slot s holds entity e; the linear probe for e starts at its home slot and
 * stops at the first empty slot, so e is found iff home lies in the run of
 * occupied slots that ends at s: [run_start, s], cyclically. */
static int check_index_slot(vctx_t *v, uint64_t s, uint64_t run_start,
                            uint32_t e, uint8_t *seen)
{
    uint64_t mask = v->sec[KGA_SEC_ID_INDEX].count - 1;
    uint64_t pos = sec_pos(v, KGA_SEC_ID_INDEX, s);
    if (e >= v->n)
        return fail_at(v, KGA_ERANGE, KGA_SEC_ID_INDEX, pos,
                       "slot %llu holds entity %u, only %llu entities",
                       (unsigned long long)s, e, (unsigned long long)v->n);
    if (seen[e / 8] & (1u << (e % 8)))
        return fail_at(v, KGA_EFORMAT, KGA_SEC_ID_INDEX, pos,
                       "entity %u appears twice in the id index", e);
    seen[e / 8] |= (uint8_t)(1u << (e % 8));
    const uint8_t *row =
        sec_ptr(v, KGA_SEC_ENTITIES) + (uint64_t)e * sizeof(kga_store_entity_t);
    uint64_t home = kga_store_index_home(ext_hash(str_at(v, rd64(row))),
                                         mask + 1);
    if (((s - home) & mask) > ((s - run_start) & mask))
        return fail_at(v, KGA_EFORMAT, KGA_SEC_ID_INDEX, pos,
                       "entity %u in slot %llu cannot be found from its home "
                       "slot %llu",
                       e, (unsigned long long)s, (unsigned long long)home);
    return 0;
}

/* Every slot empty or an entity id; every entity present once and reachable
 * by the probe that kga_store_lookup() does. O(slots + n). */
static int check_index(vctx_t *v)
{
    uint64_t slots = v->sec[KGA_SEC_ID_INDEX].count;
    int rc = check_index_shape(v, slots);
    if (rc != 0)
        return rc;
    const uint8_t *p = sec_ptr(v, KGA_SEC_ID_INDEX);
    uint64_t mask = slots - 1, first_empty = slots;
    for (uint64_t s = 0; s < slots && first_empty == slots; s++)
        if (rd32(p + s * 4) == KGA_STORE_INDEX_EMPTY)
            first_empty = s;
    /* The shape check guarantees an empty slot: slots >= 2n and >= 16. */
    uint8_t *seen = calloc(v->n / 8 + 1, 1);
    if (seen == NULL)
        return kga_err_set(v->err, KGA_ENOMEM,
                           "out of memory checking the id index");
    uint64_t run_start = (first_empty + 1) & mask, filled = 0;
    for (uint64_t k = 1; k <= slots && rc == 0; k++) {
        uint64_t s = (first_empty + k) & mask;
        uint32_t e = rd32(p + s * 4);
        if (e == KGA_STORE_INDEX_EMPTY) {
            run_start = (s + 1) & mask;
            continue;
        }
        filled++;
        rc = check_index_slot(v, s, run_start, e, seen);
    }
    free(seen);
    if (rc == 0 && filled != v->n)
        return fail_at(v, KGA_EFORMAT, KGA_SEC_ID_INDEX,
                       v->sec[KGA_SEC_ID_INDEX].offset,
                       "%llu filled slots for %llu entities",
                       (unsigned long long)filled, (unsigned long long)v->n);
    return rc;
}

static int validate(vctx_t *v, const void *buf, size_t len, kga_err_t *err)
{
    memset(v, 0, sizeof *v);
    v->buf = buf;
    v->err = err;
    kga_err_clear(err);
    if (buf == NULL && len > 0)
        return kga_err_set(err, KGA_EINVAL, "NULL buffer");
    kga_store_header_t h;
    int rc = check_header(v, len, &h);
    if (rc == 0)
        rc = check_checksum(v, &h);
    if (rc == 0)
        rc = check_section_table(v);
    if (rc == 0)
        rc = check_counts(v);
    if (rc == 0)
        rc = check_strings(v);
    if (rc == 0)
        rc = check_generations(v);
    for (int id = KGA_SEC_TYPES; rc == 0 && id <= KGA_SEC_ATTR_KEYS; id++)
        rc = check_name_table(v, id);
    if (rc == 0)
        rc = check_entities(v);
    if (rc == 0)
        rc = check_graph(v);
    if (rc == 0)
        rc = check_attributes(v);
    if (rc == 0)
        rc = check_fanout(v);
    if (rc == 0)
        rc = check_index(v);
    return rc;
}

int kga_store_validate(const void *buf, size_t len, kga_err_t *err)
{
    vctx_t v;
    return validate(&v, buf, len, err);
}

/* ------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------ */

static const void *section_at(const vctx_t *v, int id)
{
    return sec_ptr(v, id);
}

/* Points the store at the sections of a validated image. */
static void store_bind(kga_store_t *s, const vctx_t *v)
{
    const kga_store_header_t *h = (const void *)v->buf;
    s->version = h->version;
    s->checksum = h->checksum;
    s->strings = section_at(v, KGA_SEC_STRINGS);
    s->entities = section_at(v, KGA_SEC_ENTITIES);
    s->type_names = section_at(v, KGA_SEC_TYPES);
    s->rel_names = section_at(v, KGA_SEC_RELATIONS);
    s->key_names = section_at(v, KGA_SEC_ATTR_KEYS);
    s->out_off = section_at(v, KGA_SEC_OUT_OFFSETS);
    s->out_edges = section_at(v, KGA_SEC_OUT_EDGES);
    s->in_off = section_at(v, KGA_SEC_IN_OFFSETS);
    s->in_edges = section_at(v, KGA_SEC_IN_EDGES);
    s->attr_off = section_at(v, KGA_SEC_ATTR_OFFSETS);
    s->attrs = section_at(v, KGA_SEC_ATTRS);
    s->fanout = section_at(v, KGA_SEC_FANOUT);
    s->index = section_at(v, KGA_SEC_ID_INDEX);
    s->generations = section_at(v, KGA_SEC_GENERATIONS);
    s->generation_count = (uint32_t)v->sec[KGA_SEC_GENERATIONS].count;
    s->entity_count = (uint32_t)v->n;
    s->type_count = (uint32_t)v->types;
    s->relation_count = (uint32_t)v->rels;
    s->key_count = (uint32_t)v->keys;
    s->triple_count = v->sec[KGA_SEC_OUT_EDGES].count;
    s->attr_count = v->sec[KGA_SEC_ATTRS].count;
    s->fanout_count = v->sec[KGA_SEC_FANOUT].count;
    s->index_mask = v->sec[KGA_SEC_ID_INDEX].count - 1;
}

/* A kga_image_load_fn: out is a kga_store_t **. */
static int store_from_buffer(const void *buf, size_t len, const char *path,
                             kga_mapped_file_t *file, void *out,
                             kga_err_t *err)
{
    vctx_t v;
    int rc = validate(&v, buf, len, err);
    if (rc != 0)
        return rc;
    kga_store_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    s->path = strdup(path);
    if (s->path == NULL) {
        free(s);
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    }
    s->len = len;
    store_bind(s, &v);
    if (file != NULL)
        s->file = *file;
    *(kga_store_t **)out = s;
    return 0;
}

int kga_store_open_buffer(const void *buf, size_t len, kga_store_t **out,
                          kga_err_t *err)
{
    *out = NULL;
    return kga_image_load_buffer(buf, len, "store", store_from_buffer,
                                  out, err);
}

int kga_store_open(const char *path, kga_store_t **out, kga_err_t *err)
{
    *out = NULL;
    return kga_image_load_file(path, "graph store", store_from_buffer,
                                out, err);
}

int kga_store_check_file(const kga_store_t *s, kga_err_t *err)
{
    return kga_mapped_file_check(&s->file, err);
}

void kga_store_close(kga_store_t *s)
{
    if (s == NULL)
        return;
    kga_mapped_file_close(&s->file);
    free(s->path);
    free(s);
}

/* ------------------------------------------------------------------------
 * Access (no checks: the image was validated when opened)
 * ------------------------------------------------------------------------ */

uint32_t kga_store_entity_count(const kga_store_t *s)
{
    return s->entity_count;
}

uint32_t kga_store_relation_count(const kga_store_t *s)
{
    return s->relation_count;
}

uint32_t kga_store_type_count(const kga_store_t *s)
{
    return s->type_count;
}

uint32_t kga_store_attr_key_count(const kga_store_t *s)
{
    return s->key_count;
}

uint64_t kga_store_triple_count(const kga_store_t *s)
{
    return s->triple_count;
}

uint64_t kga_store_attribute_count(const kga_store_t *s)
{
    return s->attr_count;
}

uint64_t kga_store_byte_size(const kga_store_t *s)
{
    return s->len;
}

uint32_t kga_store_version(const kga_store_t *s)
{
    return s->version;
}

uint64_t kga_store_fingerprint(const kga_store_t *s)
{
    return s->checksum;
}

const char *kga_store_path(const kga_store_t *s)
{
    return s->path;
}

uint32_t kga_store_generation(const kga_store_t *s)
{
    return s->generation_count + 1;
}

uint32_t kga_store_generations(const kga_store_t *s,
                               const kga_store_generation_t **rows)
{
    *rows = s->generations;
    return s->generation_count;
}

uint32_t kga_store_find_generation(const kga_store_t *s, uint64_t fingerprint,
                                   uint32_t *entities)
{
    if (fingerprint == s->checksum) {
        *entities = s->entity_count;
        return s->generation_count + 1;
    }
    for (uint32_t g = 0; g < s->generation_count; g++)
        if (s->generations[g].fingerprint == fingerprint) {
            *entities = s->generations[g].entities;
            return g + 1;
        }
    return 0;
}

const char *kga_store_entity_ext_id(const kga_store_t *s, uint32_t ent)
{
    return s->strings + s->entities[ent].ext_id;
}

const char *kga_store_entity_name(const kga_store_t *s, uint32_t ent)
{
    return s->strings + s->entities[ent].name;
}

uint32_t kga_store_entity_type(const kga_store_t *s, uint32_t ent)
{
    return s->entities[ent].type;
}

const char *kga_store_type_name(const kga_store_t *s, uint32_t type)
{
    return s->strings + s->type_names[type];
}

const char *kga_store_relation_name(const kga_store_t *s, uint32_t rel)
{
    return s->strings + s->rel_names[rel];
}

const char *kga_store_attr_key_name(const kga_store_t *s, uint32_t key)
{
    return s->strings + s->key_names[key];
}

int64_t kga_store_lookup(const kga_store_t *s, const char *ext_id)
{
    uint64_t slot = kga_store_index_home(kga_hash64(ext_id, strlen(ext_id)),
                                         s->index_mask + 1);
    /* The validator guaranteed empty slots, so the probe ends. */
    for (;; slot = (slot + 1) & s->index_mask) {
        uint32_t e = s->index[slot];
        if (e == KGA_STORE_INDEX_EMPTY)
            return -1;
        if (strcmp(kga_store_entity_ext_id(s, e), ext_id) == 0)
            return e;
    }
}

/* The id whose name is `name` in a table of string offsets sorted by name,
 * or -1. */
static int64_t name_lookup(const kga_store_t *s, const uint64_t *names,
                           uint32_t count, const char *name)
{
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->strings + names[mid], name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int64_t kga_store_relation_lookup(const kga_store_t *s, const char *name)
{
    return name_lookup(s, s->rel_names, s->relation_count, name);
}

int64_t kga_store_type_lookup(const kga_store_t *s, const char *name)
{
    return name_lookup(s, s->type_names, s->type_count, name);
}

uint32_t kga_store_edges(const kga_store_t *s, uint32_t ent, kga_dir_t dir,
                         const kga_edge_t **edges)
{
    const uint64_t *off = dir == KGA_DIR_OUT ? s->out_off : s->in_off;
    const kga_edge_t *all = dir == KGA_DIR_OUT ? s->out_edges : s->in_edges;
    *edges = all + off[ent];
    return (uint32_t)(off[ent + 1] - off[ent]);
}

uint32_t kga_store_attrs(const kga_store_t *s, uint32_t ent,
                         const kga_attr_t **attrs)
{
    *attrs = s->attrs + s->attr_off[ent];
    return (uint32_t)(s->attr_off[ent + 1] - s->attr_off[ent]);
}

const char *kga_store_attr_literal(const kga_store_t *s, const kga_attr_t *a)
{
    return s->strings + a->literal;
}

static int fanout_cmp(const kga_store_fanout_t *row, uint32_t type,
                      uint32_t rel, uint32_t dir)
{
    if (row->type != type)
        return row->type < type ? -1 : 1;
    if (row->rel != rel)
        return row->rel < rel ? -1 : 1;
    if (row->dir != dir)
        return row->dir < dir ? -1 : 1;
    return 0;
}

float kga_store_fanout(const kga_store_t *s, uint32_t type, uint32_t rel,
                       kga_dir_t dir)
{
    uint64_t lo = 0, hi = s->fanout_count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = fanout_cmp(&s->fanout[mid], type, rel, (uint32_t)dir);
        if (c == 0)
            return s->fanout[mid].avg;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0.0f;
}
