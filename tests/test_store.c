/* The graph store: round trip through a file, canonical bytes whatever the
 * insertion order, and a validator that rejects every kind of damage with
 * the right code and never reads out of bounds (run under ASan too). */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hash.h"
#include "store/store.h"
#include "store/store_format.h"

#include "testutil.h"

/* ------------------------------------------------------------------------
 * The test graph, as data
 * ------------------------------------------------------------------------ */

typedef struct {
    const char *ext, *name, *type; /* name/type NULL when absent */
} ent_spec_t;

typedef struct {
    const char *head, *rel, *tail;
} triple_spec_t;

typedef struct {
    const char *ent, *key, *literal;
} attr_spec_t;

static const ent_spec_t ents[] = {
    {"http://ex.org/Zürich", "Zürich", "City"},
    {"http://ex.org/München", "München", "City"},
    {"http://ex.org/Alice", "Ålice Ωmega", "Person"},
    {"http://ex.org/Dave", "Dave", "Person"},
    {"http://ex.org/Bob", NULL, NULL},
    {"http://ex.org/Carol", "Carol", NULL},
    {"http://ex.org/lonely", "Lonely 孤独", "Person"}, /* no triples */
};
#define N_ENTS (sizeof ents / sizeof ents[0])

#define ZURICH "http://ex.org/Zürich"
#define MUNICH "http://ex.org/München"
#define ALICE "http://ex.org/Alice"
#define DAVE "http://ex.org/Dave"
#define BOB "http://ex.org/Bob"
#define CAROL "http://ex.org/Carol"

/* Contains one duplicate (the last row). */
static const triple_spec_t triples[] = {
    {ALICE, "livesIn", ZURICH}, {BOB, "livesIn", ZURICH},
    {DAVE, "livesIn", ZURICH},  {CAROL, "livesIn", MUNICH},
    {ALICE, "knows", BOB},      {ALICE, "knows", CAROL},
    {DAVE, "knows", BOB},       {ALICE, "bornIn", MUNICH},
    {ALICE, "livesIn", ZURICH},
};
#define N_TRIPLES (sizeof triples / sizeof triples[0])
#define N_DISTINCT_TRIPLES (N_TRIPLES - 1)

/* Contains one duplicate (the last row). */
static const attr_spec_t attrs[] = {
    {ALICE, "age", "30"},         {ALICE, "age", "29"},
    {ZURICH, "population", "415367"}, {MUNICH, "label", "München"},
    {ALICE, "label", "Ålice"},    {ALICE, "age", "30"},
};
#define N_ATTRS (sizeof attrs / sizeof attrs[0])
#define N_DISTINCT_ATTRS (N_ATTRS - 1)

static uint32_t builder_ent(kga_graph_builder_t *b, const char *ext)
{
    uint32_t id;
    ck_assert_int_eq(kga_graph_builder_entity(b, ext, &id, NULL), 0);
    return id;
}

static void add_entity(kga_graph_builder_t *b, const ent_spec_t *e)
{
    uint32_t id = builder_ent(b, e->ext);
    if (e->name != NULL)
        ck_assert_int_eq(kga_graph_builder_set_name(b, id, e->name), 0);
    if (e->type != NULL)
        ck_assert_int_eq(kga_graph_builder_set_type(b, id, e->type), 0);
}

static void add_triple(kga_graph_builder_t *b, const triple_spec_t *t)
{
    uint32_t rel;
    ck_assert_int_eq(kga_graph_builder_relation(b, t->rel, &rel), 0);
    ck_assert_int_eq(kga_graph_builder_triple(b, builder_ent(b, t->head), rel,
                                        builder_ent(b, t->tail)),
                     0);
}

/* The same graph either in listed order or with every list reversed (and
 * so entities, relations, types and keys interned in another order). */
static kga_graph_builder_t *build_graph(int reversed)
{
    kga_graph_builder_t *b = kga_graph_builder_new();
    ck_assert_ptr_nonnull(b);
    for (size_t k = 0; k < N_ENTS; k++)
        add_entity(b, &ents[reversed ? N_ENTS - 1 - k : k]);
    for (size_t k = 0; k < N_TRIPLES; k++)
        add_triple(b, &triples[reversed ? N_TRIPLES - 1 - k : k]);
    for (size_t k = 0; k < N_ATTRS; k++) {
        const attr_spec_t *a = &attrs[reversed ? N_ATTRS - 1 - k : k];
        ck_assert_int_eq(kga_graph_builder_attribute(b, builder_ent(b, a->ent),
                                               a->key, a->literal),
                         0);
    }
    return b;
}

/* ------------------------------------------------------------------------
 * Files and buffers
 * ------------------------------------------------------------------------ */

static void write_graph(int reversed, const char *name, char *path,
                        size_t size)
{
    kga_test_tmp_path(path, size, name);
    kga_graph_builder_t *b = build_graph(reversed);
    kga_err_t err;
    int rc = kga_store_write(b, path, &err);
    ck_assert_msg(rc == 0, "write failed: %s", err.msg);
    kga_graph_builder_free(b);
}

/* The test graph's image in a fresh heap buffer the caller frees. */
static kga_test_image_t graph_image(void)
{
    char path[256];
    write_graph(0, "image.kgs", path, sizeof path);
    kga_test_image_t img = kga_test_image_read(path);
    unlink(path);
    return img;
}

/* Rewrites the checksum so that damage behind the header is caught by the
 * structural checks, not by the checksum. */
static void fix_checksum(kga_test_image_t img)
{
    kga_test_put64(img, offsetof(kga_store_header_t, checksum),
                   kga_hash64(img.data + KGA_STORE_HEADER_SIZE,
                              img.len - KGA_STORE_HEADER_SIZE));
}

/* File position of the section table's row of section id. */
static uint64_t row_of(kga_test_image_t img, uint32_t id)
{
    for (uint32_t i = 0; i < KGA_SEC_COUNT_; i++) {
        uint64_t pos = KGA_STORE_HEADER_SIZE + i * sizeof(kga_store_section_t);
        if (kga_test_get32(img, pos + offsetof(kga_store_section_t, id)) == id)
            return pos;
    }
    ck_abort_msg("section %u missing", id);
    return 0;
}

static kga_store_section_t section_of(kga_test_image_t img, uint32_t id)
{
    kga_store_section_t row;
    memcpy(&row, img.data + row_of(img, id), sizeof row);
    return row;
}

/* ------------------------------------------------------------------------
 * Round trip
 * ------------------------------------------------------------------------ */

static uint32_t find_rel(const kga_store_t *s, const char *name)
{
    for (uint32_t r = 0; r < kga_store_relation_count(s); r++)
        if (strcmp(kga_store_relation_name(s, r), name) == 0)
            return r;
    ck_abort_msg("relation %s missing", name);
    return 0;
}

static uint32_t find_type(const kga_store_t *s, const char *name)
{
    for (uint32_t t = 0; t < kga_store_type_count(s); t++)
        if (strcmp(kga_store_type_name(s, t), name) == 0)
            return t;
    ck_abort_msg("type %s missing", name);
    return 0;
}

static uint32_t lookup(const kga_store_t *s, const char *ext)
{
    int64_t id = kga_store_lookup(s, ext);
    ck_assert_msg(id >= 0, "%s not found", ext);
    return (uint32_t)id;
}

static int has_attr(const kga_store_t *s, uint32_t ent, const char *key,
                    const char *literal)
{
    const kga_attr_t *a;
    uint32_t n = kga_store_attrs(s, ent, &a);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(kga_store_attr_key_name(s, a[i].key), key) == 0 &&
            strcmp(kga_store_attr_literal(s, &a[i]), literal) == 0)
            return 1;
    return 0;
}

static void check_entities(const kga_store_t *s)
{
    for (size_t k = 0; k < N_ENTS; k++) {
        uint32_t id = lookup(s, ents[k].ext);
        ck_assert_str_eq(kga_store_entity_ext_id(s, id), ents[k].ext);
        ck_assert_str_eq(kga_store_entity_name(s, id),
                         ents[k].name != NULL ? ents[k].name : "");
        uint32_t type = kga_store_entity_type(s, id);
        if (ents[k].type == NULL)
            ck_assert_uint_eq(type, KGA_NO_TYPE);
        else
            ck_assert_str_eq(kga_store_type_name(s, type), ents[k].type);
    }
    ck_assert_int_eq(kga_store_lookup(s, "http://ex.org/Nobody"), -1);
    ck_assert_int_eq(kga_store_lookup(s, "http://ex.org/alice"), -1);
    ck_assert_int_eq(kga_store_lookup(s, ""), -1);
}

static void check_graph(const kga_store_t *s)
{
    uint64_t out_total = 0, in_total = 0;
    for (size_t k = 0; k < N_TRIPLES; k++) {
        uint32_t h = lookup(s, triples[k].head), t = lookup(s, triples[k].tail);
        uint32_t r = find_rel(s, triples[k].rel);
        ck_assert(kga_test_has_edge(s, h, KGA_DIR_OUT, r, t));
        ck_assert(kga_test_has_edge(s, t, KGA_DIR_IN, r, h));
    }
    for (uint32_t e = 0; e < kga_store_entity_count(s); e++) {
        const kga_edge_t *edges;
        out_total += kga_store_edges(s, e, KGA_DIR_OUT, &edges);
        in_total += kga_store_edges(s, e, KGA_DIR_IN, &edges);
    }
    ck_assert_uint_eq(out_total, N_DISTINCT_TRIPLES);
    ck_assert_uint_eq(in_total, N_DISTINCT_TRIPLES);
    const kga_edge_t *edges;
    uint32_t lonely = lookup(s, "http://ex.org/lonely");
    ck_assert_uint_eq(kga_store_edges(s, lonely, KGA_DIR_OUT, &edges), 0);
    ck_assert_uint_eq(kga_store_edges(s, lonely, KGA_DIR_IN, &edges), 0);
}

static void check_attributes(const kga_store_t *s)
{
    uint64_t total = 0;
    for (size_t k = 0; k < N_ATTRS; k++)
        ck_assert(has_attr(s, lookup(s, attrs[k].ent), attrs[k].key,
                           attrs[k].literal));
    for (uint32_t e = 0; e < kga_store_entity_count(s); e++) {
        const kga_attr_t *a;
        total += kga_store_attrs(s, e, &a);
    }
    ck_assert_uint_eq(total, N_DISTINCT_ATTRS);
    ck_assert_uint_eq(kga_store_attribute_count(s), N_DISTINCT_ATTRS);
}

/* Worked out by hand from the triples above. */
static void check_fanout(const kga_store_t *s)
{
    uint32_t person = find_type(s, "Person"), city = find_type(s, "City");
    uint32_t knows = find_rel(s, "knows"), lives = find_rel(s, "livesIn");
    uint32_t born = find_rel(s, "bornIn");
    /* Alice knows 2, Dave knows 1; Lonely knows nobody and does not count. */
    ck_assert_float_eq(kga_store_fanout(s, person, knows, KGA_DIR_OUT), 1.5f);
    /* Zürich has 3 residents, München 1. */
    ck_assert_float_eq(kga_store_fanout(s, city, lives, KGA_DIR_IN), 2.0f);
    /* Untyped Bob is known by 2, untyped Carol by 1. */
    ck_assert_float_eq(kga_store_fanout(s, KGA_NO_TYPE, knows, KGA_DIR_IN),
                       1.5f);
    ck_assert_float_eq(kga_store_fanout(s, KGA_NO_TYPE, lives, KGA_DIR_OUT),
                       1.0f);
    ck_assert_float_eq(kga_store_fanout(s, city, born, KGA_DIR_IN), 1.0f);
    ck_assert_float_eq(kga_store_fanout(s, person, born, KGA_DIR_IN), 0.0f);
    ck_assert_float_eq(kga_store_fanout(s, city, knows, KGA_DIR_OUT), 0.0f);
    ck_assert_float_eq(kga_store_fanout(s, person, lives, KGA_DIR_OUT), 1.0f);
}

static void check_names_sorted(const kga_store_t *s)
{
    ck_assert_uint_eq(kga_store_relation_count(s), 3);
    ck_assert_str_eq(kga_store_relation_name(s, 0), "bornIn");
    ck_assert_str_eq(kga_store_relation_name(s, 1), "knows");
    ck_assert_str_eq(kga_store_relation_name(s, 2), "livesIn");
    ck_assert_uint_eq(kga_store_type_count(s), 2);
    ck_assert_str_eq(kga_store_type_name(s, 0), "City");
    ck_assert_str_eq(kga_store_type_name(s, 1), "Person");
    ck_assert_uint_eq(kga_store_attr_key_count(s), 3);
    ck_assert_str_eq(kga_store_attr_key_name(s, 0), "age");
    ck_assert_str_eq(kga_store_attr_key_name(s, 1), "label");
    ck_assert_str_eq(kga_store_attr_key_name(s, 2), "population");
}

START_TEST(round_trip)
{
    char path[256];
    write_graph(0, "round.kgs", path, sizeof path);
    kga_store_t *s;
    kga_err_t err;
    ck_assert_msg(kga_store_open(path, &s, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(kga_store_entity_count(s), N_ENTS);
    ck_assert_uint_eq(kga_store_triple_count(s), N_DISTINCT_TRIPLES);
    ck_assert_uint_eq(kga_store_version(s), KGA_STORE_VERSION);
    ck_assert_str_eq(kga_store_path(s), path);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(kga_store_byte_size(s), (uint64_t)st.st_size);
    ck_assert_uint_eq(kga_store_byte_size(s) % KGA_STORE_ALIGN, 0);
    check_names_sorted(s);
    check_entities(s);
    check_graph(s);
    check_attributes(s);
    check_fanout(s);
    /* The fingerprint is the header checksum. */
    kga_test_image_t img = kga_test_image_read(path);
    uint64_t sum;
    memcpy(&sum, img.data + offsetof(kga_store_header_t, checksum), sizeof sum);
    ck_assert_uint_eq(kga_store_fingerprint(s), sum);
    free(img.data);
    kga_store_close(s);
    /* No temporary file (base/atomic_file: NAME.tmp.PID.N) is left next
     * to the store. */
    char dir[300], prefix[300];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    ck_assert_ptr_nonnull(slash);
    *slash = '\0';
    snprintf(prefix, sizeof prefix, "%s.tmp.", slash + 1);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        ck_assert_msg(strncmp(e->d_name, prefix, strlen(prefix)) != 0,
                      "temporary %s left behind", e->d_name);
    closedir(d);
    unlink(path);
}
END_TEST

START_TEST(entities_ordered_by_hash_of_ext_id)
{
    kga_test_image_t img = graph_image();
    kga_store_t *s;
    kga_err_t err;
    ck_assert_msg(kga_store_open_buffer(img.data, img.len, &s, &err) == 0,
                  "%s", err.msg);
    for (uint32_t e = 1; e < kga_store_entity_count(s); e++) {
        const char *a = kga_store_entity_ext_id(s, e - 1);
        const char *b = kga_store_entity_ext_id(s, e);
        ck_assert_uint_le(kga_hash64(a, strlen(a)), kga_hash64(b, strlen(b)));
    }
    ck_assert_str_eq(kga_store_path(s), "<buffer>");
    kga_store_close(s);
    free(img.data);
}
END_TEST

START_TEST(empty_graph_round_trip)
{
    char path[256];
    kga_test_tmp_path(path, sizeof path, "empty-graph.kgs");
    kga_graph_builder_t *b = kga_graph_builder_new();
    kga_err_t err;
    ck_assert_msg(kga_store_write(b, path, &err) == 0, "%s", err.msg);
    kga_graph_builder_free(b);
    kga_store_t *s;
    ck_assert_msg(kga_store_open(path, &s, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(kga_store_entity_count(s), 0);
    ck_assert_uint_eq(kga_store_triple_count(s), 0);
    ck_assert_int_eq(kga_store_lookup(s, "x"), -1);
    ck_assert_float_eq(kga_store_fanout(s, KGA_NO_TYPE, 0, KGA_DIR_OUT), 0.0f);
    kga_store_close(s);
    unlink(path);
}
END_TEST

/* Many entities: the index grows, every id is found, and a chain graph has
 * the expected degrees. */
START_TEST(many_entities)
{
    enum { N = 20000 };
    kga_graph_builder_t *b = kga_test_chain("urn:e:", N);
    char id[32];
    char path[256];
    kga_test_tmp_path(path, sizeof path, "many.kgs");
    kga_err_t err;
    ck_assert_msg(kga_store_write(b, path, &err) == 0, "%s", err.msg);
    kga_graph_builder_free(b);
    kga_store_t *s;
    ck_assert_msg(kga_store_open(path, &s, &err) == 0, "%s", err.msg);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(id, sizeof id, "urn:e:%u", i);
        uint32_t e = lookup(s, id);
        const kga_edge_t *edges;
        ck_assert_uint_eq(kga_store_edges(s, e, KGA_DIR_OUT, &edges),
                          i + 1 < N ? 1 : 0);
        snprintf(id, sizeof id, "urn:x:%u", i);
        ck_assert_int_eq(kga_store_lookup(s, id), -1);
    }
    ck_assert_float_eq(kga_store_fanout(s, KGA_NO_TYPE, 0, KGA_DIR_OUT), 1.0f);
    kga_store_close(s);
    unlink(path);
}
END_TEST

/* ------------------------------------------------------------------------
 * Canonical bytes
 * ------------------------------------------------------------------------ */

START_TEST(insertion_order_does_not_show)
{
    char p1[256], p2[256];
    write_graph(0, "order-a.kgs", p1, sizeof p1);
    write_graph(1, "order-b.kgs", p2, sizeof p2);
    kga_test_image_t a = kga_test_image_read(p1), b = kga_test_image_read(p2);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_msg(memcmp(a.data, b.data, a.len) == 0,
                  "files differ with insertion order");
    /* And writing again over an existing store gives the same bytes. */
    write_graph(1, "order-a.kgs", p1, sizeof p1);
    kga_test_image_t c = kga_test_image_read(p1);
    ck_assert_uint_eq(c.len, a.len);
    ck_assert(memcmp(a.data, c.data, a.len) == 0);
    free(a.data);
    free(b.data);
    free(c.data);
    unlink(p1);
    unlink(p2);
}
END_TEST

/* ------------------------------------------------------------------------
 * Validator: damage of every kind
 * ------------------------------------------------------------------------ */

START_TEST(intact_image_validates)
{
    kga_test_image_t img = graph_image();
    kga_err_t err;
    ck_assert_msg(kga_store_validate(img.data, img.len, &err) == 0, "%s",
                  err.msg);
    free(img.data);
}
END_TEST

static void expect_truncated_at(kga_test_image_t img, uint64_t cut)
{
    kga_test_truncated_check(img, kga_store_validate, cut);
}

START_TEST(truncation_is_detected)
{
    kga_test_image_t img = graph_image();
    static const size_t fixed_cuts[] = {0, 1, 7, 8, 12, 63, 64, 65, 100};
    for (size_t i = 0; i < sizeof fixed_cuts / sizeof fixed_cuts[0]; i++)
        expect_truncated_at(img, fixed_cuts[i]);
    for (uint32_t id = 1; id <= KGA_SEC_COUNT_; id++) {
        kga_store_section_t s = section_of(img, id);
        expect_truncated_at(img, s.offset);
        expect_truncated_at(img, s.offset + 1);
        expect_truncated_at(img, s.offset + s.size / 2);
        if (s.size > 0)
            expect_truncated_at(img, s.offset + s.size - 1);
        if (s.offset + s.size < img.len)
            expect_truncated_at(img, s.offset + s.size);
    }
    expect_truncated_at(img, img.len - 1);
    kga_err_t err;
    kga_store_validate(img.data, 0, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty"));
    free(img.data);
}
END_TEST

/* Each single-bit flip and the flip of all eight bits. */
static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x08, 0x10,
                                0x20, 0x40, 0x80, 0xFF};

/* The code a flipped header byte must give, by field. */
static int header_flip_code(size_t pos)
{
    if (pos < offsetof(kga_store_header_t, version))
        return KGA_EMAGIC;
    if (pos < offsetof(kga_store_header_t, endian))
        return KGA_EVERSION;
    if (pos < offsetof(kga_store_header_t, file_size))
        return KGA_EENDIAN;
    if (pos < offsetof(kga_store_header_t, checksum))
        return 0; /* larger: truncated; smaller: format */
    if (pos < offsetof(kga_store_header_t, header_size))
        return KGA_ECHECKSUM;
    return KGA_EFORMAT;
}


/* The validator against damage of every kind, one table row a case
 * (tests/testutil.h says how to read one). A store's places, beside the
 * file's start: a section's payload, from its start or back from its end,
 * and a section's row in the table. */
enum { AT_SECTION = KGA_TEST_AT_FILE + 1, AT_SECTION_END, AT_ROW };

static uint64_t locate(kga_test_image_t img, kga_test_place_t p)
{
    switch (p.base) {
    case AT_SECTION:
        return section_of(img, p.id).offset + p.at;
    case AT_SECTION_END: {
        kga_store_section_t s = section_of(img, p.id);
        return s.offset + s.size - p.at;
    }
    case AT_ROW:
        return row_of(img, p.id) + p.at;
    }
    ck_abort_msg("no place %d", p.base);
    return 0;
}

#define HEADER(field)                                                      \
    {KGA_TEST_AT_FILE, 0, NULL, offsetof(kga_store_header_t, field)}
#define IN(sec, at) {AT_SECTION, KGA_SEC_##sec, NULL, (at)}
#define BEFORE_END(sec, n) {AT_SECTION_END, KGA_SEC_##sec, NULL, (n)}
#define ROW(sec, field)                                                    \
    {AT_ROW, KGA_SEC_##sec, NULL, offsetof(kga_store_section_t, field)}
#define ENTITY(i, field)                                                   \
    IN(ENTITIES, (i) * sizeof(kga_store_entity_t) +                        \
                     offsetof(kga_store_entity_t, field))
#define ENTITY_SIZE sizeof(kga_store_entity_t)
#define FANOUT_SIZE sizeof(kga_store_fanout_t)
/* The bits of a float NaN. */
#define NAN_BITS 0x7fc00000u

/* An in-edge pointing at another entity: no longer the transpose of the
 * out-edges. */
static void in_edge_elsewhere(kga_test_image_t *img)
{
    uint64_t pos = section_of(*img, KGA_SEC_IN_EDGES).offset + 4;
    kga_test_put32(*img, pos, kga_test_get32(*img, pos) == 0 ? 1 : 0);
}

/* The first two out-edges of an entity with at least two, swapped. */
static void out_edges_unsorted(kga_test_image_t *img)
{
    kga_store_section_t off = section_of(*img, KGA_SEC_OUT_OFFSETS);
    kga_store_section_t out = section_of(*img, KGA_SEC_OUT_EDGES);
    for (uint32_t e = 0; e < N_ENTS; e++) {
        uint64_t b = kga_test_get64(*img, off.offset + e * 8);
        uint64_t end = kga_test_get64(*img, off.offset + e * 8 + 8);
        if (end - b < 2)
            continue;
        uint64_t pos = out.offset + b * sizeof(kga_edge_t);
        uint64_t x = kga_test_get64(*img, pos);
        kga_test_put64(*img, pos, kga_test_get64(*img, pos + 8));
        kga_test_put64(*img, pos + 8, x);
        return;
    }
    ck_abort_msg("no entity has two out-edges");
}

/* The position of the id index's last filled (or empty) slot. */
static uint64_t index_slot(kga_test_image_t img, int filled)
{
    kga_store_section_t idx = section_of(img, KGA_SEC_ID_INDEX);
    uint64_t found = 0;
    for (uint64_t i = 0; i < idx.count; i++) {
        uint32_t v = kga_test_get32(img, idx.offset + i * 4);
        if ((v != KGA_STORE_INDEX_EMPTY) == filled)
            found = idx.offset + i * 4;
    }
    ck_assert_msg(found != 0, "no %s slot", filled ? "filled" : "empty");
    return found;
}

static void index_entry_out_of_range(kga_test_image_t *img)
{
    kga_test_put32(*img, index_slot(*img, 1), (uint32_t)N_ENTS);
}

/* An entity missing from the index. */
static void index_entry_missing(kga_test_image_t *img)
{
    kga_test_put32(*img, index_slot(*img, 1), KGA_STORE_INDEX_EMPTY);
}

/* An entity listed twice. */
static void index_entry_twice(kga_test_image_t *img)
{
    kga_test_put32(*img, index_slot(*img, 0),
                   kga_test_get32(*img, index_slot(*img, 1)));
}

static const kga_test_damage_t damages[] = {
    /* The header: no checksum needed to catch these. */
    {"another format's magic", {EDIT_BYTES(HEADER(magic), "KGASTORF")}, 0,
     KGA_EMAGIC, "magic"},
    {"a zip file's magic", {EDIT_BYTES(HEADER(magic), "PK\x03\x04")}, 0,
     KGA_EMAGIC, NULL},
    {"the next version", {EDIT_ADD(4, HEADER(version), 1)}, 0, KGA_EVERSION,
     "version"},
    {"the other byte order",
     {EDIT_SET(4, HEADER(endian), KGA_STORE_ENDIAN_SWAPPED)}, 0, KGA_EENDIAN,
     "byte order"},
    {"no byte order mark", {EDIT_SET(4, HEADER(endian), 0)}, 0, KGA_EENDIAN,
     "endian"},
    {"a file size 64 bytes over", {EDIT_ADD(8, HEADER(file_size), 64)}, 0,
     KGA_ETRUNCATED, NULL},
    {"a file size 64 bytes under", {EDIT_ADD(8, HEADER(file_size), -64)}, 0,
     KGA_EFORMAT, "file size"},

    /* The sections, with the checksum fixed. */
    {"an entity's type past the types", {EDIT_SET(4, ENTITY(0, type), 2)}, 1,
     KGA_ERANGE, "entities section"},
    {"an entity's name at the end of the strings",
     {EDIT_COPY(8, ENTITY(1, name), ROW(STRINGS, size), 0)}, 1, KGA_ERANGE,
     "entities section"},
    {"an entity's id far past the strings",
     {EDIT_SET(8, ENTITY(0, ext_id), UINT64_MAX)}, 1, KGA_ERANGE,
     "entities section"},
    {"two entities out of canonical order",
     {EDIT_SWAP(ENTITY_SIZE, IN(ENTITIES, 0), IN(ENTITIES, ENTITY_SIZE))}, 1,
     KGA_EFORMAT, "entities section"},
    {"an out-edge's relation = the relation count",
     {EDIT_SET(4, IN(OUT_EDGES, 0), 3)}, 1, KGA_ERANGE, "out-edges section"},
    {"an in-edge's entity = the entity count",
     {EDIT_SET(4, IN(IN_EDGES, 4), N_ENTS)}, 1, KGA_ERANGE,
     "in-edges section"},
    {"an out-offset far past the edges",
     {EDIT_SET(8, IN(OUT_OFFSETS, 8), UINT64_MAX / 2)}, 1, KGA_EFORMAT,
     "out-offsets section"},
    {"the last out-offset short of the edge count",
     {EDIT_SET(8, IN(OUT_OFFSETS, N_ENTS * 8), N_DISTINCT_TRIPLES - 1)}, 1,
     KGA_EFORMAT, "out-offsets section"},
    {"an in-edge pointing elsewhere", {EDIT_CALL(in_edge_elsewhere)}, 1,
     KGA_EFORMAT, "in-edges section"},
    {"two out-edges out of order", {EDIT_CALL(out_edges_unsorted)}, 1,
     KGA_EFORMAT, "out-edges section"},
    {"an attribute's key past the keys",
     {EDIT_SET(4, IN(ATTRS, offsetof(kga_attr_t, key)), 3)}, 1, KGA_ERANGE,
     "attributes section"},
    {"an attribute's literal past the strings",
     {EDIT_COPY(8, IN(ATTRS, offsetof(kga_attr_t, literal)),
                ROW(STRINGS, size), 1000)},
     1, KGA_ERANGE, "attributes section"},
    {"a fan-out's relation past the relations",
     {EDIT_SET(4, IN(FANOUT, offsetof(kga_store_fanout_t, rel)), 77)}, 1,
     KGA_ERANGE, "fan-out section"},
    {"a fan-out of NaN",
     {EDIT_SET(4, IN(FANOUT, offsetof(kga_store_fanout_t, avg)), NAN_BITS)},
     1, KGA_EFORMAT, "fan-out section"},
    {"two fan-out rows out of order (no bisection)",
     {EDIT_SWAP(FANOUT_SIZE, IN(FANOUT, 0), IN(FANOUT, FANOUT_SIZE))}, 1,
     KGA_EFORMAT, "fan-out section"},
    {"an id index entry = the entity count",
     {EDIT_CALL(index_entry_out_of_range)}, 1, KGA_ERANGE, "id index section"},
    {"an entity missing from the id index", {EDIT_CALL(index_entry_missing)},
     1, KGA_EFORMAT, "id index section"},
    {"an entity twice in the id index", {EDIT_CALL(index_entry_twice)}, 1,
     KGA_EFORMAT, "id index section"},
    {"an unterminated last string",
     {EDIT_SET(1, BEFORE_END(STRINGS, 1), 'x')}, 1, KGA_EFORMAT,
     "strings section"},

    /* The section table's row of the entities. */
    {"a section past the end of the file",
     {EDIT_COPY(8, ROW(ENTITIES, offset), HEADER(file_size), 64)}, 1,
     KGA_EFORMAT, "past the end"},
    {"a section not aligned", {EDIT_ADD(8, ROW(ENTITIES, offset), 8)}, 1,
     KGA_EFORMAT, "aligned"},
    {"a section's count one too many", {EDIT_ADD(8, ROW(ENTITIES, count), 1)},
     1, KGA_EFORMAT, "entities section"},
    {"a section id twice", {EDIT_SET(4, ROW(ENTITIES, id), KGA_SEC_STRINGS)},
     1, KGA_EFORMAT, "twice"},
    {"two sections over the same bytes",
     {EDIT_COPY(8, ROW(ENTITIES, offset), ROW(STRINGS, offset), 0)}, 1,
     KGA_EFORMAT, "overlaps"},
};

static const kga_test_format_t store_format = {graph_image, locate,
                                               fix_checksum,
                                               kga_store_validate};

START_TEST(damage_is_rejected)
{
    kga_test_damage_check(&damages[_i], &store_format);
}
END_TEST

START_TEST(flipped_header_bytes_are_detected)
{
    kga_test_image_t img = graph_image();
    kga_test_header_flips_check(img, &store_format, KGA_STORE_HEADER_SIZE,
                                masks, sizeof masks, header_flip_code);
    free(img.data);
}
END_TEST

/* A flip in the section table is caught by the checksum; with the checksum
 * recomputed, by the structural checks: never accepted either way. */
START_TEST(flipped_section_table_bytes_are_detected)
{
    kga_test_image_t img = graph_image();
    kga_test_flips_check(img, &store_format, KGA_STORE_HEADER_SIZE,
                         KGA_STORE_HEADER_SIZE +
                             KGA_SEC_COUNT_ * sizeof(kga_store_section_t),
                         masks, sizeof masks, KGA_EFORMAT, KGA_ERANGE, NULL);
    free(img.data);
}
END_TEST

START_TEST(checksum_mismatch)
{
    kga_test_image_t img = graph_image();
    kga_store_section_t s = section_of(img, KGA_SEC_STRINGS);
    /* One letter of a display name, which no invariant constrains. */
    const char *blob = (const char *)img.data + s.offset;
    const char *dave = memmem(blob, s.size, "\0Dave", 6);
    ck_assert_ptr_nonnull(dave);
    img.data[s.offset + (uint64_t)(dave - blob) + 1] = 'd';
    kga_err_t err;
    int rc = kga_store_validate(img.data, img.len, &err);
    kga_test_expect_error(rc, &err, KGA_ECHECKSUM, "checksum");
    /* Fixed up, the same change is a valid (different) store. */
    fix_checksum(img);
    ck_assert_int_eq(kga_store_validate(img.data, img.len, &err), 0);
    free(img.data);
}
END_TEST

/* Random damage anywhere, with the checksum recomputed so that it reaches
 * the structural checks: the validator must answer without crashing, and
 * whatever it accepts must be safe to read in full. */
static void walk_store(const kga_store_t *s)
{
    volatile size_t sink = 0;
    for (uint32_t e = 0; e < kga_store_entity_count(s); e++) {
        const kga_edge_t *edges;
        const kga_attr_t *a;
        sink += strlen(kga_store_entity_ext_id(s, e));
        sink += strlen(kga_store_entity_name(s, e));
        uint32_t n = kga_store_edges(s, e, KGA_DIR_OUT, &edges);
        for (uint32_t i = 0; i < n; i++)
            sink += strlen(kga_store_relation_name(s, edges[i].rel)) +
                    edges[i].ent;
        n = kga_store_edges(s, e, KGA_DIR_IN, &edges);
        for (uint32_t i = 0; i < n; i++)
            sink += edges[i].rel + edges[i].ent;
        n = kga_store_attrs(s, e, &a);
        for (uint32_t i = 0; i < n; i++)
            sink += strlen(kga_store_attr_literal(s, &a[i])) +
                    strlen(kga_store_attr_key_name(s, a[i].key));
        ck_assert_int_eq(kga_store_lookup(s, kga_store_entity_ext_id(s, e)),
                         (int64_t)e);
    }
    (void)sink;
}

START_TEST(random_damage_never_crashes)
{
    enum { ROUNDS = 3000 };
    kga_test_image_t img = graph_image();
    srand(12345);
    for (int round = 0; round < ROUNDS; round++) {
        kga_test_image_t c = kga_test_image_copy(img);
        int flips = 1 + rand() % 3;
        for (int f = 0; f < flips; f++)
            c.data[(size_t)rand() % c.len] ^= (uint8_t)(1 + rand() % 255);
        if (round % 2 == 0)
            fix_checksum(c);
        kga_err_t err;
        kga_store_t *s;
        if (kga_store_open_buffer(c.data, c.len, &s, &err) == 0) {
            walk_store(s);
            kga_store_close(s);
        } else {
            ck_assert_int_lt(err.code, 0);
            ck_assert_uint_gt(strlen(err.msg), 0);
        }
        free(c.data);
    }
    free(img.data);
}
END_TEST

/* ------------------------------------------------------------------------
 * Opening files
 * ------------------------------------------------------------------------ */

START_TEST(open_missing_empty_and_directory)
{
    char path[256];
    kga_store_t *s = (kga_store_t *)&s;
    kga_err_t err;
    kga_test_tmp_path(path, sizeof path, "does-not-exist.kgs");
    ck_assert_int_eq(kga_store_open(path, &s, &err), KGA_ENOENT);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);

    kga_test_tmp_path(path, sizeof path, "empty.kgs");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(kga_store_open(path, &s, &err), KGA_ETRUNCATED);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "empty") != NULL, "%s", err.msg);
    unlink(path);

    ck_assert_int_eq(kga_store_open(kga_test_tmp_dir, &s, &err), KGA_EINVAL);
    ck_assert_msg(strstr(err.msg, kga_test_tmp_dir) != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "directory") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(open_damaged_file_names_path)
{
    char path[256];
    write_graph(0, "damaged.kgs", path, sizeof path);
    kga_test_image_t img = kga_test_image_read(path);
    img.data[img.len - 1] ^= 1;
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(img.data, 1, img.len, f), img.len);
    fclose(f);
    kga_store_t *s;
    kga_err_t err;
    ck_assert_int_eq(kga_store_open(path, &s, &err), KGA_ECHECKSUM);
    ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0, "%s", err.msg);
    free(img.data);
    unlink(path);
}
END_TEST

/* A symbolic link planted at every temporary name the writer could pick
 * (and at the older NAME.tmp.PID) is never followed: the store is written
 * beside them, the file they point to keeps its bytes. */
START_TEST(write_never_follows_a_planted_link)
{
    char path[256], victim[256];
    kga_test_tmp_path(path, sizeof path, "planted.kgs");
    kga_test_tmp_path(victim, sizeof victim, "victim.txt");
    kga_test_write_file(victim, "precious\n", 9);
    kga_test_plant_links(path, victim, 32);
    kga_graph_builder_t *b = build_graph(0);
    kga_err_t err;
    ck_assert_msg(kga_store_write(b, path, &err) == 0, "%s", err.msg);
    kga_graph_builder_free(b);
    kga_test_check_planted_links(path, victim, "precious\n", 32);
    kga_store_t *s;
    ck_assert_msg(kga_store_open(path, &s, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(kga_store_entity_count(s), N_ENTS);
    kga_store_close(s);
    unlink(path);
    unlink(victim);
}
END_TEST

START_TEST(write_to_missing_directory_fails)
{
    kga_graph_builder_t *b = build_graph(0);
    char path[256];
    kga_test_tmp_path(path, sizeof path, "no/such/dir/x.kgs");
    kga_err_t err;
    kga_test_expect_error(kga_store_write(b, path, &err), &err, KGA_ENOENT,
                          "no/such/dir");
    kga_graph_builder_free(b);
}
END_TEST


/* ------------------------------------------------------------------------
 * Generations: a store written on an earlier one keeps its ids
 * ------------------------------------------------------------------------ */

/* New entities of the second generation, and their triples (with one to
 * an entity of the first). */
static const ent_spec_t new_ents[] = {
    {"http://ex.org/Eve", "Eve", "Person"},
    {"http://ex.org/Bern", "Bern", "Town"}, /* a new type */
    {"http://ex.org/Frank", NULL, NULL},
};
static const triple_spec_t new_triples[] = {
    {"http://ex.org/Eve", "livesIn", "http://ex.org/Bern"},
    {ALICE, "knows", "http://ex.org/Eve"},
    {"http://ex.org/Frank", "knows", "http://ex.org/Eve"},
};

/* A builder that holds store prev as kga_store_write_next() wants it:
 * its entities in id order, its relations, triples and attributes. */
static kga_graph_builder_t *copy_of(const kga_store_t *prev)
{
    kga_graph_builder_t *b = kga_graph_builder_new();
    for (uint32_t r = 0; r < kga_store_relation_count(prev); r++) {
        uint32_t id;
        ck_assert_int_eq(kga_graph_builder_relation(
                             b, kga_store_relation_name(prev, r), &id),
                         0);
    }
    for (uint32_t e = 0; e < kga_store_entity_count(prev); e++) {
        ck_assert_uint_eq(builder_ent(b, kga_store_entity_ext_id(prev, e)), e);
        const char *name = kga_store_entity_name(prev, e);
        if (name[0] != '\0')
            ck_assert_int_eq(kga_graph_builder_set_name(b, e, name), 0);
        uint32_t t = kga_store_entity_type(prev, e);
        if (t != KGA_NO_TYPE)
            ck_assert_int_eq(kga_graph_builder_set_type(
                                 b, e, kga_store_type_name(prev, t)),
                             0);
    }
    for (uint32_t e = 0; e < kga_store_entity_count(prev); e++) {
        const kga_edge_t *ed;
        uint32_t n = kga_store_edges(prev, e, KGA_DIR_OUT, &ed);
        for (uint32_t i = 0; i < n; i++)
            ck_assert_int_eq(kga_graph_builder_triple(b, e, ed[i].rel,
                                                      ed[i].ent),
                             0);
    }
    return b;
}

/* Writes the second generation of the test graph on prev into path. */
static void write_second(const kga_store_t *prev, const char *path)
{
    kga_graph_builder_t *b = copy_of(prev);
    for (size_t k = 0; k < sizeof new_ents / sizeof new_ents[0]; k++)
        add_entity(b, &new_ents[k]);
    for (size_t k = 0; k < sizeof new_triples / sizeof new_triples[0]; k++)
        add_triple(b, &new_triples[k]);
    kga_err_t err;
    ck_assert_msg(kga_store_write_next(b, prev, path, &err) == 0, "%s",
                  err.msg);
    kga_graph_builder_free(b);
}

/* The test graph written as a first generation into the temporary file
 * first (its path in p1) and opened; next's path in p2, for the generation
 * a test writes on it. Paths of PATH_SIZE bytes. */
enum { PATH_SIZE = 256 };
static kga_store_t *open_first_generation(const char *first, char *p1,
                                          const char *next, char *p2)
{
    write_graph(0, first, p1, PATH_SIZE);
    kga_test_tmp_path(p2, PATH_SIZE, next);
    kga_store_t *s1;
    kga_err_t err;
    ck_assert_msg(kga_store_open(p1, &s1, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(kga_store_generation(s1), 1);
    return s1;
}

START_TEST(later_generation_keeps_ids)
{
    char p1[PATH_SIZE], p2[PATH_SIZE], p3[PATH_SIZE];
    kga_store_t *s1 = open_first_generation("gen1.kgs", p1, "gen2.kgs", p2);
    kga_test_tmp_path(p3, sizeof p3, "gen3.kgs");
    kga_store_t *s2, *s3;
    kga_err_t err;
    write_second(s1, p2);
    ck_assert_msg(kga_store_open(p2, &s2, &err) == 0, "%s", err.msg);
    uint32_t n1 = kga_store_entity_count(s1), n2 = kga_store_entity_count(s2);
    ck_assert_uint_eq(kga_store_generation(s2), 2);
    ck_assert_uint_eq(n2, n1 + 3);
    /* The first generation's entities keep their ids, names and types. */
    for (uint32_t e = 0; e < n1; e++) {
        ck_assert_str_eq(kga_store_entity_ext_id(s2, e),
                         kga_store_entity_ext_id(s1, e));
        ck_assert_str_eq(kga_store_entity_name(s2, e),
                         kga_store_entity_name(s1, e));
        uint32_t t1 = kga_store_entity_type(s1, e);
        uint32_t t2 = kga_store_entity_type(s2, e);
        ck_assert_int_eq(t1 == KGA_NO_TYPE, t2 == KGA_NO_TYPE);
        if (t1 != KGA_NO_TYPE)
            ck_assert_str_eq(kga_store_type_name(s2, t2),
                             kga_store_type_name(s1, t1));
    }
    /* The new ones follow, in the canonical order among themselves. */
    for (uint32_t e = n1 + 1; e < n2; e++) {
        const char *a = kga_store_entity_ext_id(s2, e - 1);
        const char *b = kga_store_entity_ext_id(s2, e);
        ck_assert_uint_le(kga_hash64(a, strlen(a)), kga_hash64(b, strlen(b)));
    }
    ck_assert_int_ge(kga_store_lookup(s2, "http://ex.org/Bern"), n1);
    /* Alice knows one more; the relations are the same. */
    uint32_t alice = (uint32_t)kga_store_lookup(s1, ALICE);
    const kga_edge_t *ed;
    ck_assert_uint_eq(kga_store_edges(s2, alice, KGA_DIR_OUT, &ed),
                      kga_store_edges(s1, alice, KGA_DIR_OUT, &ed) + 1);
    ck_assert_uint_eq(kga_store_relation_count(s2),
                      kga_store_relation_count(s1));
    /* The lineage: generation 1's fingerprint and size. */
    const kga_store_generation_t *rows;
    ck_assert_uint_eq(kga_store_generations(s2, &rows), 1);
    ck_assert_uint_eq(rows[0].fingerprint, kga_store_fingerprint(s1));
    ck_assert_uint_eq(rows[0].entities, n1);
    uint32_t n = 0;
    ck_assert_uint_eq(kga_store_find_generation(s2, kga_store_fingerprint(s1),
                                                &n),
                      1);
    ck_assert_uint_eq(n, n1);
    ck_assert_uint_eq(kga_store_find_generation(s2, kga_store_fingerprint(s2),
                                                &n),
                      2);
    ck_assert_uint_eq(n, n2);
    ck_assert_uint_eq(kga_store_find_generation(s1, kga_store_fingerprint(s2),
                                                &n),
                      0);

    /* A third generation that adds nothing but keeps the lineage. */
    kga_graph_builder_t *b = copy_of(s2);
    ck_assert_msg(kga_store_write_next(b, s2, p3, &err) == 0, "%s", err.msg);
    kga_graph_builder_free(b);
    ck_assert_msg(kga_store_open(p3, &s3, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(kga_store_generation(s3), 3);
    ck_assert_uint_eq(kga_store_find_generation(s3, kga_store_fingerprint(s1),
                                                &n),
                      1);
    ck_assert_uint_eq(n, n1);
    ck_assert_uint_eq(kga_store_entity_count(s3), n2);
    kga_store_close(s3);
    kga_store_close(s2);
    kga_store_close(s1);
    unlink(p1);
    unlink(p2);
    unlink(p3);
}
END_TEST

START_TEST(later_generation_refuses_what_is_not_an_addition)
{
    char p1[PATH_SIZE], p2[PATH_SIZE];
    kga_store_t *s1 = open_first_generation("base.kgs", p1, "next.kgs", p2);
    kga_err_t err;

    /* The entities in another order. */
    kga_graph_builder_t *b = build_graph(1);
    kga_test_expect_error(kga_store_write_next(b, s1, p2, &err), &err,
                          KGA_EINVAL, "in the earlier generation");
    kga_graph_builder_free(b);
    /* A relation more. */
    b = copy_of(s1);
    triple_spec_t t = {ALICE, "admires", BOB};
    add_triple(b, &t);
    kga_test_expect_error(kga_store_write_next(b, s1, p2, &err), &err,
                          KGA_EINVAL, "a later generation keeps the relations");
    kga_graph_builder_free(b);
    ck_assert_int_ne(access(p2, F_OK), 0);
    kga_store_close(s1);
    unlink(p1);
}
END_TEST

/* A version-1 image: the second generation's layout without the
 * generations row (its payload is empty, at the end of the file). */
START_TEST(version_1_reads_as_generation_1)
{
    kga_test_image_t img = graph_image();
    uint64_t row = row_of(img, KGA_SEC_GENERATIONS);
    ck_assert_uint_eq(row, KGA_STORE_HEADER_SIZE +
                               (KGA_SEC_COUNT_ - 1) *
                                   sizeof(kga_store_section_t));
    memset(img.data + row, 0, sizeof(kga_store_section_t));
    kga_test_put32(img, offsetof(kga_store_header_t, version), 1);
    kga_test_put32(img, offsetof(kga_store_header_t, section_count),
                   KGA_STORE_V1_SECTIONS);
    fix_checksum(img);
    kga_store_t *s;
    kga_err_t err;
    ck_assert_msg(kga_store_open_buffer(img.data, img.len, &s, &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(kga_store_version(s), 1);
    ck_assert_uint_eq(kga_store_generation(s), 1);
    ck_assert_uint_eq(kga_store_entity_count(s), N_ENTS);
    kga_store_close(s);
    /* Version 3 is refused, version 1 with 14 sections too. */
    kga_test_put32(img, offsetof(kga_store_header_t, version), 3);
    kga_test_expect_error(kga_store_validate(img.data, img.len, &err), &err,
                          KGA_EVERSION, "versions 1 and 2");
    free(img.data);
}
END_TEST

/* Damaged lineages of a second-generation image. */
START_TEST(damaged_generations_are_rejected)
{
    char p1[PATH_SIZE], p2[PATH_SIZE];
    kga_store_t *s1 = open_first_generation("lin1.kgs", p1, "lin2.kgs", p2);
    kga_err_t err;
    write_second(s1, p2);
    kga_store_close(s1);
    kga_test_image_t img = kga_test_image_read(p2);
    ck_assert_int_eq(kga_store_validate(img.data, img.len, &err), 0);
    uint64_t row = row_of(img, KGA_SEC_GENERATIONS);
    uint64_t gen = kga_test_get64(img, row + offsetof(kga_store_section_t,
                                                      offset));
    uint64_t at = gen + offsetof(kga_store_generation_t, entities);
    uint32_t n1 = kga_test_get32(img, at);

    /* More entities than the store holds. */
    kga_test_image_t c = kga_test_image_copy(img);
    kga_test_put32(c, at, (uint32_t)N_ENTS + 10);
    fix_checksum(c);
    kga_test_expect_error(kga_store_validate(c.data, c.len, &err), &err,
                          KGA_ERANGE, "generations section");
    free(c.data);
    /* A reserved field set. */
    c = kga_test_image_copy(img);
    kga_test_put32(c, gen + offsetof(kga_store_generation_t, reserved), 1);
    fix_checksum(c);
    kga_test_expect_error(kga_store_validate(c.data, c.len, &err), &err,
                          KGA_EFORMAT, "reserved field of generation 1");
    free(c.data);
    /* A block boundary elsewhere: the blocks are out of canonical order. */
    c = kga_test_image_copy(img);
    kga_test_put32(c, at, n1 + 2);
    fix_checksum(c);
    kga_test_expect_error(kga_store_validate(c.data, c.len, &err), &err,
                          KGA_EFORMAT, "canonical order");
    free(c.data);
    free(img.data);

    /* An external id in two blocks: a second generation of one entity,
     * whose id is rewritten in place to an old one of the same length
     * (a block of one is in order whatever its id). */
    ck_assert_msg(kga_store_open(p1, &s1, &err) == 0, "%s", err.msg);
    kga_graph_builder_t *b = copy_of(s1);
    builder_ent(b, "http://ex.org/Zoe");
    ck_assert_msg(kga_store_write_next(b, s1, p2, &err) == 0, "%s", err.msg);
    kga_graph_builder_free(b);
    kga_store_close(s1);
    img = kga_test_image_read(p2);
    uint64_t strs = kga_test_get64(
        img, row_of(img, KGA_SEC_STRINGS) + offsetof(kga_store_section_t,
                                                     offset));
    uint64_t len = kga_test_get64(
        img, row_of(img, KGA_SEC_STRINGS) + offsetof(kga_store_section_t,
                                                     size));
    char *zoe = memmem(img.data + strs, len, "http://ex.org/Zoe", 18);
    ck_assert_ptr_nonnull(zoe);
    memcpy(zoe, BOB, strlen(BOB));
    fix_checksum(img);
    kga_test_expect_error(kga_store_validate(img.data, img.len, &err), &err,
                          KGA_EFORMAT, "repeats the external id");
    free(img.data);
    unlink(p1);
    unlink(p2);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *io = kga_test_tcase(s, "round trip", 0);
    tcase_add_test(io, round_trip);
    tcase_add_test(io, entities_ordered_by_hash_of_ext_id);
    tcase_add_test(io, empty_graph_round_trip);
    tcase_add_test(io, many_entities);
    tcase_add_test(io, insertion_order_does_not_show);
    tcase_add_test(io, open_missing_empty_and_directory);
    tcase_add_test(io, open_damaged_file_names_path);
    tcase_add_test(io, write_to_missing_directory_fails);
    tcase_add_test(io, write_never_follows_a_planted_link);

    TCase *gen = kga_test_tcase(s, "generations", 0);
    tcase_add_test(gen, later_generation_keeps_ids);
    tcase_add_test(gen, later_generation_refuses_what_is_not_an_addition);
    tcase_add_test(gen, version_1_reads_as_generation_1);
    tcase_add_test(gen, damaged_generations_are_rejected);

    TCase *val = kga_test_tcase(s, "validator", 120);
    tcase_add_test(val, intact_image_validates);
    tcase_add_test(val, truncation_is_detected);
    tcase_add_test(val, flipped_header_bytes_are_detected);
    tcase_add_test(val, flipped_section_table_bytes_are_detected);
    tcase_add_loop_test(val, damage_is_rejected, 0,
                        (int)(sizeof damages / sizeof damages[0]));
    tcase_add_test(val, checksum_mismatch);
    tcase_add_test(val, random_damage_never_crashes);
    return s;
}

int main(void)
{
    return kga_test_run_in_tmp_dir("store", store_suite);
}
