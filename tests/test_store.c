/* The graph store: round trip through a file, canonical bytes whatever the
 * insertion order, and a validator that rejects every kind of damage with
 * the right code and never reads out of bounds (run under ASan too). */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hash.h"
#include "store/store.h"
#include "store/store_format.h"

static char tmp_dir[] = "/tmp/kga_test_store.XXXXXX";

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
    ck_assert_int_eq(kga_builder_entity(b, ext, &id, NULL), 0);
    return id;
}

static void add_entity(kga_graph_builder_t *b, const ent_spec_t *e)
{
    uint32_t id = builder_ent(b, e->ext);
    if (e->name != NULL)
        ck_assert_int_eq(kga_builder_set_name(b, id, e->name), 0);
    if (e->type != NULL)
        ck_assert_int_eq(kga_builder_set_type(b, id, e->type), 0);
}

static void add_triple(kga_graph_builder_t *b, const triple_spec_t *t)
{
    uint32_t rel;
    ck_assert_int_eq(kga_builder_relation(b, t->rel, &rel), 0);
    ck_assert_int_eq(kga_builder_triple(b, builder_ent(b, t->head), rel,
                                        builder_ent(b, t->tail)),
                     0);
}

/* The same graph either in listed order or with every list reversed (and
 * so entities, relations, types and keys interned in another order). */
static kga_graph_builder_t *build_graph(int reversed)
{
    kga_graph_builder_t *b = kga_builder_new();
    ck_assert_ptr_nonnull(b);
    for (size_t k = 0; k < N_ENTS; k++)
        add_entity(b, &ents[reversed ? N_ENTS - 1 - k : k]);
    for (size_t k = 0; k < N_TRIPLES; k++)
        add_triple(b, &triples[reversed ? N_TRIPLES - 1 - k : k]);
    for (size_t k = 0; k < N_ATTRS; k++) {
        const attr_spec_t *a = &attrs[reversed ? N_ATTRS - 1 - k : k];
        ck_assert_int_eq(kga_builder_attribute(b, builder_ent(b, a->ent),
                                               a->key, a->literal),
                         0);
    }
    return b;
}

/* ------------------------------------------------------------------------
 * Files and buffers
 * ------------------------------------------------------------------------ */

static void tmp_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmp_dir, name);
}

static void write_graph(int reversed, const char *name, char *path,
                        size_t size)
{
    tmp_path(path, size, name);
    kga_graph_builder_t *b = build_graph(reversed);
    kga_err_t err;
    int rc = kga_store_write(b, path, &err);
    ck_assert_msg(rc == 0, "write failed: %s", err.msg);
    kga_builder_free(b);
}

typedef struct {
    uint8_t *data;
    size_t len;
} image_t;

static image_t read_image(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    ck_assert_int_gt(len, 0);
    rewind(f);
    image_t img = {malloc((size_t)len), (size_t)len};
    ck_assert_ptr_nonnull(img.data);
    ck_assert_uint_eq(fread(img.data, 1, img.len, f), img.len);
    fclose(f);
    return img;
}

/* The test graph's image in a fresh heap buffer the caller frees. */
static image_t graph_image(void)
{
    char path[256];
    write_graph(0, "image.kgs", path, sizeof path);
    image_t img = read_image(path);
    unlink(path);
    return img;
}

static image_t image_copy(image_t img)
{
    image_t c = {malloc(img.len), img.len};
    ck_assert_ptr_nonnull(c.data);
    memcpy(c.data, img.data, img.len);
    return c;
}

/* Rewrites the checksum so that damage behind the header is caught by the
 * structural checks, not by the checksum. */
static void fix_checksum(image_t img)
{
    uint64_t sum = kga_hash64(img.data + KGA_STORE_HEADER_SIZE,
                              img.len - KGA_STORE_HEADER_SIZE);
    memcpy(img.data + offsetof(kga_store_header_t, checksum), &sum,
           sizeof sum);
}

static kga_store_section_t section_of(image_t img, uint32_t id)
{
    for (uint32_t i = 0; i < KGA_SEC_COUNT_; i++) {
        kga_store_section_t row;
        memcpy(&row, img.data + KGA_STORE_HEADER_SIZE + i * sizeof row,
               sizeof row);
        if (row.id == id)
            return row;
    }
    ck_abort_msg("section %u missing", id);
    return (kga_store_section_t){0, 0, 0, 0, 0};
}

static void put32(image_t img, uint64_t pos, uint32_t v)
{
    ck_assert_uint_le(pos + sizeof v, img.len);
    memcpy(img.data + pos, &v, sizeof v);
}

static void put64(image_t img, uint64_t pos, uint64_t v)
{
    ck_assert_uint_le(pos + sizeof v, img.len);
    memcpy(img.data + pos, &v, sizeof v);
}

/* Validates img (with a fixed checksum when asked) and checks the code and
 * that the message names `where`. */
static void expect_reject(image_t img, int fix, int code, const char *where)
{
    if (fix)
        fix_checksum(img);
    kga_err_t err;
    int rc = kga_store_validate(img.data, img.len, &err);
    ck_assert_msg(rc == code, "expected %s, got %s (%s)", kga_err_name(code),
                  kga_err_name(rc), err.msg);
    ck_assert_int_eq(err.code, code);
    if (where != NULL)
        ck_assert_msg(strstr(err.msg, where) != NULL,
                      "message '%s' does not name '%s'", err.msg, where);
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

static int has_edge(const kga_store_t *s, uint32_t ent, kga_dir_t dir,
                    uint32_t rel, uint32_t other)
{
    const kga_edge_t *e;
    uint32_t n = kga_store_edges(s, ent, dir, &e);
    for (uint32_t i = 0; i < n; i++)
        if (e[i].rel == rel && e[i].ent == other)
            return 1;
    return 0;
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
        ck_assert(has_edge(s, h, KGA_DIR_OUT, r, t));
        ck_assert(has_edge(s, t, KGA_DIR_IN, r, h));
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
    image_t img = read_image(path);
    uint64_t sum;
    memcpy(&sum, img.data + offsetof(kga_store_header_t, checksum), sizeof sum);
    ck_assert_uint_eq(kga_store_fingerprint(s), sum);
    free(img.data);
    kga_store_close(s);
    /* No temporary file is left next to the store. */
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_ne(access(tmp, F_OK), 0);
    unlink(path);
}
END_TEST

START_TEST(entities_ordered_by_hash_of_ext_id)
{
    image_t img = graph_image();
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
    tmp_path(path, sizeof path, "empty-graph.kgs");
    kga_graph_builder_t *b = kga_builder_new();
    kga_err_t err;
    ck_assert_msg(kga_store_write(b, path, &err) == 0, "%s", err.msg);
    kga_builder_free(b);
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
    kga_graph_builder_t *b = kga_builder_new();
    char id[32];
    uint32_t r, prev = 0;
    kga_builder_relation(b, "next", &r);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t e;
        snprintf(id, sizeof id, "urn:e:%u", i);
        ck_assert_int_eq(kga_builder_entity(b, id, &e, NULL), 0);
        if (i > 0)
            ck_assert_int_eq(kga_builder_triple(b, prev, r, e), 0);
        prev = e;
    }
    char path[256];
    tmp_path(path, sizeof path, "many.kgs");
    kga_err_t err;
    ck_assert_msg(kga_store_write(b, path, &err) == 0, "%s", err.msg);
    kga_builder_free(b);
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
    image_t a = read_image(p1), b = read_image(p2);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_msg(memcmp(a.data, b.data, a.len) == 0,
                  "files differ with insertion order");
    /* And writing again over an existing store gives the same bytes. */
    write_graph(1, "order-a.kgs", p1, sizeof p1);
    image_t c = read_image(p1);
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
    image_t img = graph_image();
    kga_err_t err;
    ck_assert_msg(kga_store_validate(img.data, img.len, &err) == 0, "%s",
                  err.msg);
    free(img.data);
}
END_TEST

static void expect_truncated_at(image_t img, size_t cut)
{
    kga_err_t err;
    int rc = kga_store_validate(img.data, cut, &err);
    ck_assert_msg(rc == KGA_ETRUNCATED, "cut at %zu: %s (%s)", cut,
                  kga_err_name(rc), err.msg);
}

START_TEST(truncation_is_detected)
{
    image_t img = graph_image();
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

START_TEST(flipped_header_bytes_are_detected)
{
    image_t img = graph_image();
    for (size_t pos = 0; pos < KGA_STORE_HEADER_SIZE; pos++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            img.data[pos] ^= masks[m];
            kga_err_t err;
            int rc = kga_store_validate(img.data, img.len, &err);
            img.data[pos] ^= masks[m];
            int want = header_flip_code(pos);
            if (want == 0)
                ck_assert_msg(rc == KGA_ETRUNCATED || rc == KGA_EFORMAT,
                              "byte %zu: %s", pos, kga_err_name(rc));
            else
                ck_assert_msg(rc == want, "byte %zu mask %02x: %s, want %s",
                              pos, masks[m], kga_err_name(rc),
                              kga_err_name(want));
        }
    }
    free(img.data);
}
END_TEST

/* A flip in the section table is caught by the checksum; with the checksum
 * recomputed, by the structural checks: never accepted either way. */
START_TEST(flipped_section_table_bytes_are_detected)
{
    image_t img = graph_image();
    size_t end = KGA_STORE_HEADER_SIZE +
                 KGA_SEC_COUNT_ * sizeof(kga_store_section_t);
    for (size_t pos = KGA_STORE_HEADER_SIZE; pos < end; pos++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            image_t c = image_copy(img);
            c.data[pos] ^= masks[m];
            kga_err_t err;
            int rc = kga_store_validate(c.data, c.len, &err);
            ck_assert_msg(rc == KGA_ECHECKSUM, "byte %zu: %s", pos,
                          kga_err_name(rc));
            fix_checksum(c);
            rc = kga_store_validate(c.data, c.len, &err);
            ck_assert_msg(rc == KGA_EFORMAT || rc == KGA_ERANGE,
                          "byte %zu mask %02x with fixed checksum: %s",
                          pos, masks[m], kga_err_name(rc));
            free(c.data);
        }
    }
    free(img.data);
}
END_TEST

START_TEST(bad_magic_version_endian_size)
{
    image_t img = graph_image();
    image_t c = image_copy(img);
    memcpy(c.data, "KGASTORF", KGA_STORE_MAGIC_LEN);
    expect_reject(c, 0, KGA_EMAGIC, "magic");
    memcpy(c.data, "PK\x03\x04", 4);
    expect_reject(c, 0, KGA_EMAGIC, NULL);
    free(c.data);

    c = image_copy(img);
    put32(c, offsetof(kga_store_header_t, version), KGA_STORE_VERSION + 1);
    expect_reject(c, 0, KGA_EVERSION, "version");
    free(c.data);

    c = image_copy(img);
    put32(c, offsetof(kga_store_header_t, endian), KGA_STORE_ENDIAN_SWAPPED);
    expect_reject(c, 0, KGA_EENDIAN, "byte order");
    put32(c, offsetof(kga_store_header_t, endian), 0);
    expect_reject(c, 0, KGA_EENDIAN, "endian");
    free(c.data);

    c = image_copy(img);
    put64(c, offsetof(kga_store_header_t, file_size), img.len + 64);
    expect_reject(c, 0, KGA_ETRUNCATED, NULL);
    put64(c, offsetof(kga_store_header_t, file_size), img.len - 64);
    expect_reject(c, 0, KGA_EFORMAT, "file size");
    free(c.data);
    free(img.data);
}
END_TEST

START_TEST(checksum_mismatch)
{
    image_t img = graph_image();
    kga_store_section_t s = section_of(img, KGA_SEC_STRINGS);
    /* One letter of a display name, which no invariant constrains. */
    const char *blob = (const char *)img.data + s.offset;
    const char *dave = memmem(blob, s.size, "\0Dave", 6);
    ck_assert_ptr_nonnull(dave);
    img.data[s.offset + (uint64_t)(dave - blob) + 1] = 'd';
    expect_reject(img, 0, KGA_ECHECKSUM, "checksum");
    /* Fixed up, the same change is a valid (different) store. */
    fix_checksum(img);
    kga_err_t err;
    ck_assert_int_eq(kga_store_validate(img.data, img.len, &err), 0);
    free(img.data);
}
END_TEST

START_TEST(out_of_range_entity_fields)
{
    image_t img = graph_image();
    kga_store_section_t ent = section_of(img, KGA_SEC_ENTITIES);
    kga_store_section_t str = section_of(img, KGA_SEC_STRINGS);
    image_t c = image_copy(img);
    put32(c, ent.offset + offsetof(kga_store_entity_t, type), 2);
    expect_reject(c, 1, KGA_ERANGE, "entities section");
    free(c.data);

    c = image_copy(img);
    put64(c, ent.offset + sizeof(kga_store_entity_t) +
                 offsetof(kga_store_entity_t, name),
          str.size);
    expect_reject(c, 1, KGA_ERANGE, "entities section");
    free(c.data);

    c = image_copy(img);
    put64(c, ent.offset + offsetof(kga_store_entity_t, ext_id), UINT64_MAX);
    expect_reject(c, 1, KGA_ERANGE, "entities section");
    free(c.data);

    /* Two rows swapped: out of canonical order. */
    c = image_copy(img);
    kga_store_entity_t rows[2];
    memcpy(rows, c.data + ent.offset, sizeof rows);
    memcpy(c.data + ent.offset, &rows[1], sizeof rows[1]);
    memcpy(c.data + ent.offset + sizeof rows[0], &rows[0], sizeof rows[0]);
    expect_reject(c, 1, KGA_EFORMAT, "entities section");
    free(c.data);
    free(img.data);
}
END_TEST

START_TEST(out_of_range_edges_and_offsets)
{
    image_t img = graph_image();
    kga_store_section_t out = section_of(img, KGA_SEC_OUT_EDGES);
    kga_store_section_t in = section_of(img, KGA_SEC_IN_EDGES);
    kga_store_section_t off = section_of(img, KGA_SEC_OUT_OFFSETS);
    image_t c = image_copy(img);
    put32(c, out.offset, 3); /* relation id = relation count */
    expect_reject(c, 1, KGA_ERANGE, "out-edges section");
    free(c.data);

    c = image_copy(img);
    put32(c, in.offset + 4, (uint32_t)N_ENTS); /* entity id = count */
    expect_reject(c, 1, KGA_ERANGE, "in-edges section");
    free(c.data);

    c = image_copy(img);
    put64(c, off.offset + 8, UINT64_MAX / 2);
    expect_reject(c, 1, KGA_EFORMAT, "out-offsets section");
    free(c.data);

    c = image_copy(img);
    put64(c, off.offset + N_ENTS * 8, N_DISTINCT_TRIPLES - 1);
    expect_reject(c, 1, KGA_EFORMAT, "out-offsets section");
    free(c.data);

    /* An in-edge pointing elsewhere: not the transpose any more. */
    c = image_copy(img);
    uint32_t ent;
    memcpy(&ent, c.data + in.offset + 4, sizeof ent);
    put32(c, in.offset + 4, ent == 0 ? 1 : 0);
    kga_err_t err;
    fix_checksum(c);
    ck_assert_int_ne(kga_store_validate(c.data, c.len, &err), 0);
    free(c.data);
    free(img.data);
}
END_TEST

/* Finds an entity's adjacency list of at least two edges and swaps them. */
START_TEST(unsorted_edges)
{
    image_t img = graph_image();
    kga_store_section_t off = section_of(img, KGA_SEC_OUT_OFFSETS);
    kga_store_section_t out = section_of(img, KGA_SEC_OUT_EDGES);
    int done = 0;
    for (uint32_t e = 0; e < N_ENTS && !done; e++) {
        uint64_t b, en;
        memcpy(&b, img.data + off.offset + e * 8, 8);
        memcpy(&en, img.data + off.offset + e * 8 + 8, 8);
        if (en - b < 2)
            continue;
        uint64_t pos = out.offset + b * sizeof(kga_edge_t), x, y;
        memcpy(&x, img.data + pos, 8);
        memcpy(&y, img.data + pos + 8, 8);
        put64(img, pos, y);
        put64(img, pos + 8, x);
        done = 1;
    }
    ck_assert(done);
    expect_reject(img, 1, KGA_EFORMAT, "out-edges section");
    free(img.data);
}
END_TEST

START_TEST(out_of_range_attributes_and_fanout)
{
    image_t img = graph_image();
    kga_store_section_t at = section_of(img, KGA_SEC_ATTRS);
    kga_store_section_t fan = section_of(img, KGA_SEC_FANOUT);
    kga_store_section_t str = section_of(img, KGA_SEC_STRINGS);
    image_t c = image_copy(img);
    put32(c, at.offset + offsetof(kga_attr_t, key), 3);
    expect_reject(c, 1, KGA_ERANGE, "attributes section");
    free(c.data);

    c = image_copy(img);
    put64(c, at.offset + offsetof(kga_attr_t, literal), str.size + 1000);
    expect_reject(c, 1, KGA_ERANGE, "attributes section");
    free(c.data);

    c = image_copy(img);
    put32(c, fan.offset + offsetof(kga_store_fanout_t, rel), 77);
    expect_reject(c, 1, KGA_ERANGE, "fan-out section");
    free(c.data);

    c = image_copy(img);
    float nan_value = NAN;
    uint32_t bits;
    memcpy(&bits, &nan_value, sizeof bits);
    put32(c, fan.offset + offsetof(kga_store_fanout_t, avg), bits);
    expect_reject(c, 1, KGA_EFORMAT, "fan-out section");
    free(c.data);

    /* Two rows swapped: no longer sorted for bisection. */
    c = image_copy(img);
    ck_assert_uint_ge(fan.count, 2);
    uint8_t row[sizeof(kga_store_fanout_t)];
    memcpy(row, c.data + fan.offset, sizeof row);
    memcpy(c.data + fan.offset, c.data + fan.offset + sizeof row, sizeof row);
    memcpy(c.data + fan.offset + sizeof row, row, sizeof row);
    expect_reject(c, 1, KGA_EFORMAT, "fan-out section");
    free(c.data);
    free(img.data);
}
END_TEST

START_TEST(bad_id_index)
{
    image_t img = graph_image();
    kga_store_section_t idx = section_of(img, KGA_SEC_ID_INDEX);
    uint64_t filled = idx.offset, empty = idx.offset;
    for (uint64_t s = 0; s < idx.count; s++) {
        uint32_t v;
        memcpy(&v, img.data + idx.offset + s * 4, 4);
        if (v != KGA_STORE_INDEX_EMPTY)
            filled = idx.offset + s * 4;
        else
            empty = idx.offset + s * 4;
    }
    image_t c = image_copy(img);
    put32(c, filled, (uint32_t)N_ENTS);
    expect_reject(c, 1, KGA_ERANGE, "id index section");
    free(c.data);

    /* An entity missing from the index. */
    c = image_copy(img);
    put32(c, filled, KGA_STORE_INDEX_EMPTY);
    expect_reject(c, 1, KGA_EFORMAT, "id index section");
    free(c.data);

    /* An entity listed twice. */
    c = image_copy(img);
    uint32_t v;
    memcpy(&v, c.data + filled, 4);
    put32(c, empty, v);
    expect_reject(c, 1, KGA_EFORMAT, "id index section");
    free(c.data);
    free(img.data);
}
END_TEST

START_TEST(unterminated_string)
{
    image_t img = graph_image();
    kga_store_section_t str = section_of(img, KGA_SEC_STRINGS);
    img.data[str.offset + str.size - 1] = 'x';
    expect_reject(img, 1, KGA_EFORMAT, "strings section");
    free(img.data);
}
END_TEST

START_TEST(bad_section_table_rows)
{
    image_t img = graph_image();
    size_t row0 = KGA_STORE_HEADER_SIZE;
    kga_store_section_t s = section_of(img, KGA_SEC_ENTITIES);
    /* Row of the entities section. */
    size_t row = row0 + (KGA_SEC_ENTITIES - 1) * sizeof(kga_store_section_t);
    image_t c = image_copy(img);
    put64(c, row + offsetof(kga_store_section_t, offset), img.len + 64);
    expect_reject(c, 1, KGA_EFORMAT, "past the end");
    free(c.data);

    c = image_copy(img);
    put64(c, row + offsetof(kga_store_section_t, offset), s.offset + 8);
    expect_reject(c, 1, KGA_EFORMAT, "aligned");
    free(c.data);

    c = image_copy(img);
    put64(c, row + offsetof(kga_store_section_t, count), s.count + 1);
    expect_reject(c, 1, KGA_EFORMAT, "entities section");
    free(c.data);

    c = image_copy(img);
    put32(c, row + offsetof(kga_store_section_t, id), KGA_SEC_STRINGS);
    expect_reject(c, 1, KGA_EFORMAT, "twice");
    free(c.data);

    c = image_copy(img);
    put64(c, row + offsetof(kga_store_section_t, offset),
          section_of(img, KGA_SEC_STRINGS).offset);
    expect_reject(c, 1, KGA_EFORMAT, "overlaps");
    free(c.data);
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
    image_t img = graph_image();
    srand(12345);
    for (int round = 0; round < ROUNDS; round++) {
        image_t c = image_copy(img);
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
    tmp_path(path, sizeof path, "does-not-exist.kgs");
    ck_assert_int_eq(kga_store_open(path, &s, &err), KGA_ENOENT);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);

    tmp_path(path, sizeof path, "empty.kgs");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(kga_store_open(path, &s, &err), KGA_ETRUNCATED);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "empty") != NULL, "%s", err.msg);
    unlink(path);

    ck_assert_int_eq(kga_store_open(tmp_dir, &s, &err), KGA_EINVAL);
    ck_assert_msg(strstr(err.msg, tmp_dir) != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "directory") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(open_damaged_file_names_path)
{
    char path[256];
    write_graph(0, "damaged.kgs", path, sizeof path);
    image_t img = read_image(path);
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

START_TEST(write_to_missing_directory_fails)
{
    kga_graph_builder_t *b = build_graph(0);
    char path[256];
    tmp_path(path, sizeof path, "no/such/dir/x.kgs");
    kga_err_t err;
    ck_assert_int_eq(kga_store_write(b, path, &err), KGA_ENOENT);
    ck_assert_msg(strstr(err.msg, "no/such/dir") != NULL, "%s", err.msg);
    kga_builder_free(b);
}
END_TEST

/* ------------------------------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *io = tcase_create("round trip");
    tcase_add_test(io, round_trip);
    tcase_add_test(io, entities_ordered_by_hash_of_ext_id);
    tcase_add_test(io, empty_graph_round_trip);
    tcase_add_test(io, many_entities);
    tcase_add_test(io, insertion_order_does_not_show);
    tcase_add_test(io, open_missing_empty_and_directory);
    tcase_add_test(io, open_damaged_file_names_path);
    tcase_add_test(io, write_to_missing_directory_fails);
    suite_add_tcase(s, io);

    TCase *val = tcase_create("validator");
    tcase_set_timeout(val, 120);
    tcase_add_test(val, intact_image_validates);
    tcase_add_test(val, truncation_is_detected);
    tcase_add_test(val, flipped_header_bytes_are_detected);
    tcase_add_test(val, flipped_section_table_bytes_are_detected);
    tcase_add_test(val, bad_magic_version_endian_size);
    tcase_add_test(val, checksum_mismatch);
    tcase_add_test(val, out_of_range_entity_fields);
    tcase_add_test(val, out_of_range_edges_and_offsets);
    tcase_add_test(val, unsorted_edges);
    tcase_add_test(val, out_of_range_attributes_and_fanout);
    tcase_add_test(val, bad_id_index);
    tcase_add_test(val, unterminated_string);
    tcase_add_test(val, bad_section_table_rows);
    tcase_add_test(val, random_damage_never_crashes);
    suite_add_tcase(s, val);
    return s;
}

int main(void)
{
    if (mkdtemp(tmp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    SRunner *sr = srunner_create(store_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(tmp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? 0 : 1;
}
