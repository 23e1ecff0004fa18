/* The model file: round trip through a file (tensors, arrays, text,
 * settings, mapped without copies), byte-identical output, clear messages
 * for missing keys and wrong shapes, a writer that refuses bad input, and a
 * validator that rejects every kind of damage with the right code and never
 * reads out of bounds (run under ASan too). The on-disk offsets used to
 * forge damage are those of docs/model-format.md, written out here rather
 * than taken from the implementation, so the test also checks the page. */
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/rng.h"
#include "model/model_file.h"

#include "testutil.h"

/* docs/model-format.md */
enum {
    H_MAGIC = 0,
    H_VERSION = 8,
    H_ENDIAN = 12,
    H_FILE_SIZE = 16,
    H_CHECKSUM = 24,
    H_HEADER_SIZE = 32,
    H_SECTION_COUNT = 36,
    H_ENTRY_SIZE = 40,
    H_FLAGS = 44,
    H_TABLE_OFFSET = 48,
    H_RESERVED = 56,
    R_NAME = 0,
    R_KIND = 64,
    R_NDIM = 68,
    R_SHAPE = 72,
    R_OFFSET = 104,
    R_SIZE = 112,
    R_RESERVED = 120,
    ROW = 128,
};

/* ------------------------------------------------------------------------
 * The test model, as data
 * ------------------------------------------------------------------------ */

#define W_ROWS 3
#define W_COLS 4
#define STREAM_ROWS 5
#define STREAM_COLS 7
#define TEXT "héllo wörld ✓\nsecond line"

static const uint64_t fingerprints[2] = {0x0123456789abcdefull,
                                         0xfedcba9876543210ull};
static const uint32_t ids[5] = {1, 2, 3, 4, 4000000000u};
static const uint64_t cube_shape[4] = {2, 3, 1, 2};

static float w_value(size_t i)
{
    return 0.5f * (float)i - 1.25f; /* first value non-zero */
}

static float stream_value(size_t i)
{
    return (float)i * 0.001f + 1.0f;
}

/* Writes the standard model to path. With `empty`, also a tensor with no
 * elements (left out where every section must own a non-zero byte). */
static void write_model(const char *path, int empty, float scalar)
{
    kga_model_writer_t *w;
    kga_err_t err;
    int rc = kga_model_writer_new(path, &w, &err);
    ck_assert_msg(rc == 0, "new: %s", err.msg);

    float wm[W_ROWS * W_COLS];
    for (size_t i = 0; i < W_ROWS * W_COLS; i++)
        wm[i] = w_value(i);
    uint64_t shape[2] = {W_ROWS, W_COLS};
    ck_assert_int_eq(kga_model_writer_add_tensor(w, "layer1.w_self", wm, 2,
                                                 shape),
                     0);
    ck_assert_int_eq(kga_model_writer_add_tensor(w, "scalar", &scalar, 0,
                                                 NULL),
                     0);
    float cube[12];
    for (size_t i = 0; i < 12; i++)
        cube[i] = (float)i + 0.25f;
    ck_assert_int_eq(kga_model_writer_add_tensor(w, "cube", cube, 4,
                                                 cube_shape),
                     0);
    /* Streamed in uneven chunks. */
    uint64_t sshape[2] = {STREAM_ROWS, STREAM_COLS};
    ck_assert_int_eq(kga_model_writer_begin_tensor(w, "stream", 2, sshape), 0);
    float chunk[STREAM_ROWS * STREAM_COLS];
    size_t done = 0;
    while (done < STREAM_ROWS * STREAM_COLS) {
        size_t k = STREAM_ROWS * STREAM_COLS - done < 6
                       ? STREAM_ROWS * STREAM_COLS - done
                       : 6;
        for (size_t i = 0; i < k; i++)
            chunk[i] = stream_value(done + i);
        ck_assert_int_eq(kga_model_writer_append_f32(w, chunk, k), 0);
        done += k;
    }
    ck_assert_int_eq(kga_model_writer_end_tensor(w), 0);
    if (empty) {
        uint64_t eshape[2] = {0, 8};
        ck_assert_int_eq(kga_model_writer_add_tensor(w, "empty", NULL, 2,
                                                     eshape),
                         0);
    }
    ck_assert_int_eq(kga_model_writer_add_u64s(w, "stores.fingerprints",
                                               fingerprints, 2),
                     0);
    ck_assert_int_eq(kga_model_writer_add_u32s(w, "ids", ids, 5), 0);
    ck_assert_int_eq(kga_model_writer_add_text(w, "notes", TEXT), 0);

    kga_model_kv_t *kv = kga_model_kv_new();
    ck_assert_int_eq(kga_model_kv_set_int(kv, "gnn.dim", 64), 0);
    ck_assert_int_eq(kga_model_kv_set_double(kv, "lr", 0.1 + 0.2), 0);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "name", "CG-MuAlign é=1"), 0);
    ck_assert_int_eq(kga_model_kv_set_int(kv, "neg", INT64_MIN), 0);
    ck_assert_int_eq(kga_model_kv_set_u64(kv, "seed", UINT64_MAX), 0);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "big", "99999999999999999999"),
                     0);
    ck_assert_int_eq(kga_model_writer_add_kv(w, "hparams", kv), 0);
    kga_model_kv_free(kv);
    kv = kga_model_kv_new();
    /* Set out of order: the writer sorts. */
    ck_assert_int_eq(kga_model_kv_set_str(kv, "mode", "names+ids"), 0);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "lq", "1"), 0);
    ck_assert_int_eq(kga_model_writer_add_kv(w, "features", kv), 0);
    kga_model_kv_free(kv);

    rc = kga_model_writer_commit(w, &err);
    ck_assert_msg(rc == 0, "commit: %s", err.msg);
    kga_model_writer_free(w);
}

/* The standard model with scalar 3.5 (write_model) written to
 * kga_test_tmp_dir/name and opened; its path goes to path. */
static kga_model_t *open_written_model(char *path, size_t size,
                                       const char *name, int empty)
{
    kga_test_tmp_path(path, size, name);
    write_model(path, empty, 3.5f);
    kga_model_t *m;
    kga_err_t err;
    int rc = kga_model_open(path, &m, &err);
    ck_assert_msg(rc == 0, "open: %s", err.msg);
    return m;
}

static kga_test_image_t model_image(int empty)
{
    char path[256];
    kga_test_tmp_path(path, sizeof path, "image.kgm");
    write_model(path, empty, 3.5f);
    kga_test_image_t img = kga_test_image_read(path);
    unlink(path);
    return img;
}

static void fix_checksum(kga_test_image_t img)
{
    kga_test_put64(img, H_CHECKSUM, kga_hash64(img.data + 64, img.len - 64));
}

static uint64_t table_offset(kga_test_image_t img)
{
    return kga_test_get64(img, H_TABLE_OFFSET);
}

static uint32_t section_count(kga_test_image_t img)
{
    return kga_test_get32(img, H_SECTION_COUNT);
}

/* File position of the table row of section `name`. */
static uint64_t row_of(kga_test_image_t img, const char *name)
{
    for (uint32_t i = 0; i < section_count(img); i++) {
        uint64_t pos = table_offset(img) + (uint64_t)i * ROW;
        if (strcmp((const char *)img.data + pos + R_NAME, name) == 0)
            return pos;
    }
    ck_abort_msg("section %s missing", name);
    return 0;
}

/* ------------------------------------------------------------------------
 * Round trip
 * ------------------------------------------------------------------------ */

static void check_model(const kga_model_t *m, float scalar)
{
    const uint64_t *shape;
    uint32_t ndim;
    const float *t = kga_model_tensor(m, "layer1.w_self", &shape, &ndim);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(ndim, 2);
    ck_assert_uint_eq(shape[0], W_ROWS);
    ck_assert_uint_eq(shape[1], W_COLS);
    for (size_t i = 0; i < W_ROWS * W_COLS; i++)
        ck_assert(t[i] == w_value(i));

    t = kga_model_tensor(m, "scalar", &shape, &ndim);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(ndim, 0);
    ck_assert(t[0] == scalar);

    t = kga_model_tensor(m, "cube", &shape, &ndim);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(ndim, 4);
    for (int d = 0; d < 4; d++)
        ck_assert_uint_eq(shape[d], cube_shape[d]);
    for (size_t i = 0; i < 12; i++)
        ck_assert(t[i] == (float)i + 0.25f);

    t = kga_model_tensor(m, "stream", &shape, &ndim);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(shape[0], STREAM_ROWS);
    ck_assert_uint_eq(shape[1], STREAM_COLS);
    for (size_t i = 0; i < STREAM_ROWS * STREAM_COLS; i++)
        ck_assert(t[i] == stream_value(i));

    size_t count = 0;
    const uint64_t *fp = kga_model_get_u64s(m, "stores.fingerprints", &count);
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(count, 2);
    ck_assert_uint_eq(fp[0], fingerprints[0]);
    ck_assert_uint_eq(fp[1], fingerprints[1]);
    const uint32_t *u = kga_model_get_u32s(m, "ids", &count);
    ck_assert_ptr_nonnull(u);
    ck_assert_uint_eq(count, 5);
    ck_assert_mem_eq(u, ids, sizeof ids);

    size_t len = 0;
    const char *text = kga_model_get_text(m, "notes", &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, TEXT);
    ck_assert_uint_eq(len, strlen(TEXT));

    /* Lookups of the wrong kind or unknown names give NULL. */
    ck_assert_ptr_null(kga_model_tensor(m, "ids", NULL, NULL));
    ck_assert_ptr_null(kga_model_get_u64s(m, "ids", NULL));
    ck_assert_ptr_null(kga_model_get_u32s(m, "layer1.w_self", NULL));
    ck_assert_ptr_null(kga_model_get_text(m, "hparams", NULL));
    ck_assert_ptr_null(kga_model_tensor(m, "layer1", NULL, NULL));
    ck_assert_ptr_null(kga_model_tensor(m, "zzz", NULL, NULL));
    ck_assert_ptr_null(kga_model_tensor(m, "", NULL, NULL));

    kga_err_t err;
    int64_t i64;
    uint64_t u64;
    double dbl;
    const char *str;
    ck_assert_int_eq(kga_model_kv_get_int(m, "gnn.dim", &i64, &err), 0);
    ck_assert_int_eq(i64, 64);
    ck_assert_int_eq(kga_model_kv_get_int(m, "neg", &i64, &err), 0);
    ck_assert(i64 == INT64_MIN);
    ck_assert_int_eq(kga_model_kv_get_u64(m, "seed", &u64, &err), 0);
    ck_assert(u64 == UINT64_MAX);
    ck_assert_int_eq(kga_model_kv_get_double(m, "lr", &dbl, &err), 0);
    ck_assert(dbl == 0.1 + 0.2); /* exact: 17 digits */
    ck_assert_int_eq(kga_model_kv_get_double(m, "gnn.dim", &dbl, &err), 0);
    ck_assert(dbl == 64.0);
    ck_assert_int_eq(kga_model_kv_get_str(m, "name", &str, &err), 0);
    ck_assert_str_eq(str, "CG-MuAlign é=1");
    ck_assert_int_eq(kga_model_kv_get_str(m, "mode", &str, &err), 0);
    ck_assert_str_eq(str, "names+ids");
    ck_assert(kga_model_kv_has(m, "lq"));
    ck_assert(!kga_model_kv_has(m, "l"));

    /* Listing: sections and settings in name order. */
    ck_assert_uint_eq(kga_model_kv_count(m), 8);
    const char *prev_key = "";
    for (size_t i = 0; i < kga_model_kv_count(m); i++) {
        const char *key, *value;
        kga_model_kv_at(m, i, &key, &value);
        ck_assert_int_lt(strcmp(prev_key, key), 0);
        prev_key = key;
    }
    const char *prev = "";
    for (size_t i = 0; i < kga_model_section_count(m); i++) {
        kga_model_section_t s;
        kga_model_section_at(m, i, &s);
        ck_assert_int_lt(strcmp(prev, s.name), 0);
        ck_assert_uint_eq(s.offset % KGA_MODEL_ALIGN, 0);
        prev = s.name;
    }
}

START_TEST(round_trip)
{
    char path[256];
    kga_model_t *m = open_written_model(path, sizeof path, "round.kgm", 1);
    check_model(m, 3.5f);
    ck_assert_uint_eq(kga_model_section_count(m), 10);
    ck_assert_str_eq(kga_model_path(m), path);

    const uint64_t *shape;
    uint32_t ndim;
    const float *e = kga_model_tensor(m, "empty", &shape, &ndim);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(shape[0], 0);
    ck_assert_uint_eq(shape[1], 8);

    /* The data is the file's bytes, in place. */
    kga_model_section_t s;
    ck_assert_int_eq(kga_model_find(m, "stream", &s), 0);
    ck_assert_ptr_eq(s.data, kga_model_tensor(m, "stream", NULL, NULL));
    ck_assert_uint_eq(s.count, STREAM_ROWS * STREAM_COLS);
    ck_assert_int_eq(s.kind, KGA_MODEL_F32);
    ck_assert_uint_eq((uintptr_t)s.data % KGA_MODEL_ALIGN, 0);
    kga_test_image_t img = kga_test_image_read(path);
    ck_assert_mem_eq(img.data + s.offset, s.data, s.count * sizeof(float));
    ck_assert_int_eq(kga_model_find(m, "nope", &s), KGA_ENOENT);

    /* The checksum is XXH64 of everything after the header. */
    ck_assert_uint_eq(kga_model_checksum(m),
                      kga_hash64(img.data + 64, img.len - 64));
    free(img.data);
    kga_model_close(m);
}
END_TEST

START_TEST(open_buffer_round_trip)
{
    kga_test_image_t img = model_image(1);
    kga_model_t *m;
    kga_err_t err;
    ck_assert_int_eq(kga_model_open_buffer(img.data, img.len, &m, &err), 0);
    check_model(m, 3.5f);
    ck_assert_str_eq(kga_model_path(m), "<buffer>");
    ck_assert_ptr_eq(
        kga_model_tensor(m, "layer1.w_self", NULL, NULL),
        (const void *)(img.data +
                       kga_test_get64(img, row_of(img, "layer1.w_self") +
                                               R_OFFSET)));
    kga_model_close(m);
    /* A misaligned buffer is refused rather than read unaligned. */
    uint8_t *shifted = malloc(img.len + 8);
    memcpy(shifted + 4, img.data, img.len);
    ck_assert_int_eq(kga_model_open_buffer(shifted + 4, img.len, &m, &err),
                     KGA_EINVAL);
    ck_assert_ptr_null(m);
    /* ...but the validator itself takes any alignment. */
    ck_assert_int_eq(kga_model_validate(shifted + 4, img.len, &err), 0);
    free(shifted);
    free(img.data);
}
END_TEST

START_TEST(header_follows_documented_layout)
{
    kga_test_image_t img = model_image(1);
    ck_assert_mem_eq(img.data + H_MAGIC, "KGAMODEL", 8);
    ck_assert_uint_eq(kga_test_get32(img, H_VERSION), 1);
    ck_assert_uint_eq(kga_test_get32(img, H_ENDIAN), 0x01020304u);
    ck_assert_uint_eq(kga_test_get64(img, H_FILE_SIZE), img.len);
    ck_assert_uint_eq(img.len % 64, 0);
    ck_assert_uint_eq(kga_test_get32(img, H_HEADER_SIZE), 64);
    ck_assert_uint_eq(kga_test_get32(img, H_SECTION_COUNT), 10);
    ck_assert_uint_eq(kga_test_get32(img, H_ENTRY_SIZE), 128);
    ck_assert_uint_eq(kga_test_get32(img, H_FLAGS), 0);
    ck_assert_uint_eq(kga_test_get64(img, H_RESERVED), 0);
    ck_assert_uint_eq(table_offset(img) + 10 * ROW, img.len);
    uint64_t r = row_of(img, "stores.fingerprints");
    ck_assert_uint_eq(kga_test_get32(img, r + R_KIND), KGA_MODEL_U64);
    ck_assert_uint_eq(kga_test_get32(img, r + R_NDIM), 1);
    ck_assert_uint_eq(kga_test_get64(img, r + R_SHAPE), 2);
    ck_assert_uint_eq(kga_test_get64(img, r + R_SIZE), 16);
    ck_assert_uint_eq(kga_test_get64(img, r + R_RESERVED), 0);
    ck_assert_uint_eq(kga_test_get64(img, kga_test_get64(img, r + R_OFFSET)),
                      fingerprints[0]);
    /* Settings are "key=value\n" lines, sorted, then a NUL. */
    r = row_of(img, "features");
    ck_assert_uint_eq(kga_test_get32(img, r + R_KIND), KGA_MODEL_KV);
    const char *kv = (const char *)img.data + kga_test_get64(img, r + R_OFFSET);
    ck_assert_str_eq(kv, "lq=1\nmode=names+ids\n");
    ck_assert_uint_eq(kga_test_get64(img, r + R_SIZE), strlen(kv) + 1);
    /* Sections are laid out in the order they were added. */
    ck_assert_uint_eq(
        kga_test_get64(img, row_of(img, "layer1.w_self") + R_OFFSET), 64);
    ck_assert_uint_lt(kga_test_get64(img, row_of(img, "scalar") + R_OFFSET),
                      kga_test_get64(img, row_of(img, "cube") + R_OFFSET));
    free(img.data);
}
END_TEST

START_TEST(identical_input_gives_identical_bytes)
{
    char a[256], b[256], c[256];
    kga_test_tmp_path(a, sizeof a, "same-a.kgm");
    kga_test_tmp_path(b, sizeof b, "same-b.kgm");
    kga_test_tmp_path(c, sizeof c, "other.kgm");
    write_model(a, 1, 3.5f);
    write_model(b, 1, 3.5f);
    write_model(c, 1, 3.75f);
    kga_test_image_t ia = kga_test_image_read(a), ib = kga_test_image_read(b),
                     ic = kga_test_image_read(c);
    ck_assert_uint_eq(ia.len, ib.len);
    ck_assert_mem_eq(ia.data, ib.data, ia.len);
    /* One changed float changes the checksum, the model version. */
    ck_assert_uint_eq(ia.len, ic.len);
    ck_assert_uint_ne(kga_test_get64(ia, H_CHECKSUM),
                      kga_test_get64(ic, H_CHECKSUM));
    /* Rewriting a file replaces it. */
    write_model(a, 1, 3.75f);
    kga_test_image_t ia2 = kga_test_image_read(a);
    ck_assert_mem_eq(ia2.data, ic.data, ic.len);
    free(ia.data);
    free(ib.data);
    free(ic.data);
    free(ia2.data);
}
END_TEST

START_TEST(empty_model)
{
    char path[256];
    kga_test_tmp_path(path, sizeof path, "empty.kgm");
    kga_model_writer_t *w;
    kga_err_t err;
    ck_assert_int_eq(kga_model_writer_new(path, &w, &err), 0);
    ck_assert_int_eq(kga_model_writer_commit(w, &err), 0);
    kga_model_writer_free(w);
    kga_model_t *m;
    ck_assert_int_eq(kga_model_open(path, &m, &err), 0);
    ck_assert_uint_eq(kga_model_section_count(m), 0);
    ck_assert_uint_eq(kga_model_kv_count(m), 0);
    ck_assert_ptr_null(kga_model_tensor(m, "x", NULL, NULL));
    int64_t v;
    ck_assert_int_eq(kga_model_kv_get_int(m, "x", &v, &err), KGA_ENOENT);
    kga_model_close(m);

    /* Empty settings, text and arrays are sections like any other. */
    ck_assert_int_eq(kga_model_writer_new(path, &w, &err), 0);
    kga_model_kv_t *kv = kga_model_kv_new();
    ck_assert_int_eq(kga_model_writer_add_kv(w, "settings", kv), 0);
    kga_model_kv_free(kv);
    ck_assert_int_eq(kga_model_writer_add_text(w, "text", ""), 0);
    ck_assert_int_eq(kga_model_writer_add_u64s(w, "u64", NULL, 0), 0);
    ck_assert_int_eq(kga_model_writer_commit(w, &err), 0);
    kga_model_writer_free(w);
    ck_assert_int_eq(kga_model_open(path, &m, &err), 0);
    ck_assert_uint_eq(kga_model_section_count(m), 3);
    ck_assert_uint_eq(kga_model_kv_count(m), 0);
    size_t len = 9;
    ck_assert_str_eq(kga_model_get_text(m, "text", &len), "");
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_nonnull(kga_model_get_u64s(m, "u64", &len));
    ck_assert_uint_eq(len, 0);
    kga_model_close(m);
}
END_TEST

/* A tensor of tens of megabytes, streamed in batches and read back mapped. */
START_TEST(large_streamed_tensor)
{
    enum { ROWS = 100000, COLS = 64, BATCH = 4096 };
    char path[256];
    kga_test_tmp_path(path, sizeof path, "large.kgm");
    kga_model_writer_t *w;
    kga_err_t err;
    ck_assert_int_eq(kga_model_writer_new(path, &w, &err), 0);
    uint64_t shape[2] = {ROWS, COLS};
    ck_assert_int_eq(kga_model_writer_begin_tensor(w, "cache.left", 2, shape),
                     0);
    float *batch = malloc((size_t)BATCH * COLS * sizeof *batch);
    for (size_t r0 = 0; r0 < ROWS; r0 += BATCH) {
        size_t rows = ROWS - r0 < BATCH ? ROWS - r0 : BATCH;
        for (size_t i = 0; i < rows * COLS; i++)
            batch[i] = (float)((r0 * COLS + i) % 1000003) * 0.5f;
        ck_assert_int_eq(kga_model_writer_append_f32(w, batch, rows * COLS),
                         0);
    }
    free(batch);
    ck_assert_int_eq(kga_model_writer_end_tensor(w), 0);
    ck_assert_int_eq(kga_model_writer_commit(w, &err), 0);
    kga_model_writer_free(w);

    kga_model_t *m;
    ck_assert_int_eq(kga_model_open(path, &m, &err), 0);
    const float *t;
    uint64_t want[2] = {KGA_MODEL_ANY_DIM, COLS};
    ck_assert_int_eq(kga_model_require_tensor(m, "cache.left", 2, want, &t,
                                              &err),
                     0);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        if (t[i] != (float)(i % 1000003) * 0.5f)
            ck_abort_msg("element %zu is %g", i, (double)t[i]);
    kga_model_close(m);
}
END_TEST

/* ------------------------------------------------------------------------
 * Messages for missing settings and wrong shapes
 * ------------------------------------------------------------------------ */

START_TEST(missing_key_and_bad_values)
{
    char path[256];
    kga_model_t *m = open_written_model(path, sizeof path, "model.kgm", 0);
    kga_err_t err;
    int64_t i64 = 7;
    uint64_t u64 = 7;
    double dbl = 7;
    const char *str = NULL;
    char want[512];

    ck_assert_int_eq(kga_model_kv_get_int(m, "gnn.layers", &i64, &err),
                     KGA_ENOENT);
    snprintf(want, sizeof want, "%s: missing setting 'gnn.layers'", path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(i64, 7);
    ck_assert_int_eq(kga_model_kv_get_str(m, "nope", &str, &err), KGA_ENOENT);
    ck_assert_int_eq(kga_model_kv_get_double(m, "nope", &dbl, &err),
                     KGA_ENOENT);
    ck_assert_int_eq(kga_model_kv_get_u64(m, "nope", &u64, &err), KGA_ENOENT);

    ck_assert_int_eq(kga_model_kv_get_int(m, "name", &i64, &err), KGA_EPARSE);
    snprintf(want, sizeof want,
             "%s: setting 'name': value 'CG-MuAlign é=1' is not an integer",
             path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(kga_model_kv_get_int(m, "lr", &i64, &err), KGA_EPARSE);
    kga_test_expect_error(kga_model_kv_get_int(m, "big", &i64, &err), &err,
                          KGA_ERANGE, "'big'");
    ck_assert_int_eq(kga_model_kv_get_int(m, "seed", &i64, &err), KGA_ERANGE);
    ck_assert_int_eq(kga_model_kv_get_u64(m, "neg", &u64, &err), KGA_EPARSE);
    ck_assert_int_eq(kga_model_kv_get_u64(m, "big", &u64, &err), KGA_ERANGE);
    kga_test_expect_error(kga_model_kv_get_double(m, "name", &dbl, &err), &err,
                          KGA_EPARSE, "'name'");
    ck_assert_int_eq(kga_model_kv_get_double(m, "mode", &dbl, &err),
                     KGA_EPARSE);
    ck_assert(i64 == 7 && u64 == 7 && dbl == 7);
    kga_model_close(m);
}
END_TEST

START_TEST(required_tensor_shape_messages)
{
    char path[256];
    kga_model_t *m = open_written_model(path, sizeof path, "model.kgm", 0);
    kga_err_t err;
    const float *t = NULL;
    char want[512];

    uint64_t good[2] = {W_ROWS, W_COLS};
    ck_assert_int_eq(kga_model_require_tensor(m, "layer1.w_self", 2, good, &t,
                                              &err),
                     0);
    ck_assert_ptr_eq(t, kga_model_tensor(m, "layer1.w_self", NULL, NULL));

    uint64_t bad[2] = {W_ROWS, 5};
    ck_assert_int_eq(kga_model_require_tensor(m, "layer1.w_self", 2, bad, &t,
                                              &err),
                     KGA_EFORMAT);
    snprintf(want, sizeof want,
             "%s: tensor 'layer1.w_self' has shape 3x4, expected 3x5", path);
    ck_assert_str_eq(err.msg, want);

    uint64_t three[3] = {W_ROWS, W_COLS, 1};
    kga_test_expect_error(
        kga_model_require_tensor(m, "layer1.w_self", 3, three, &t, &err), &err,
        KGA_EFORMAT, "expected 3x4x1");
    kga_test_expect_error(
        kga_model_require_tensor(m, "scalar", 1, three, &t, &err), &err,
        KGA_EFORMAT, "has shape scalar, expected 3");

    uint64_t any[2] = {KGA_MODEL_ANY_DIM, W_COLS};
    ck_assert_int_eq(kga_model_require_tensor(m, "layer1.w_self", 2, any, &t,
                                              &err),
                     0);
    uint64_t any_bad[2] = {KGA_MODEL_ANY_DIM, 9};
    kga_test_expect_error(
        kga_model_require_tensor(m, "layer1.w_self", 2, any_bad, &t, &err),
        &err, KGA_EFORMAT, "expected *x9");

    ck_assert_int_eq(kga_model_require_tensor(m, "layer2.w_self", 2, good, &t,
                                              &err),
                     KGA_ENOENT);
    snprintf(want, sizeof want, "%s: missing f32 tensor 'layer2.w_self'",
             path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(kga_model_require_tensor(m, "ids", 1, good, &t, &err),
                     KGA_EFORMAT);
    ck_assert_msg(strstr(err.msg, "'ids' is a u32 array, not a f32 tensor"),
                  "%s", err.msg);

    const uint64_t *fp;
    ck_assert_int_eq(kga_model_require_u64s(m, "stores.fingerprints", 2, &fp,
                                            &err),
                     0);
    ck_assert_uint_eq(fp[1], fingerprints[1]);
    kga_test_expect_error(
        kga_model_require_u64s(m, "stores.fingerprints", 3, &fp, &err), &err,
        KGA_EFORMAT, "has 2 elements, expected 3");
    ck_assert_int_eq(kga_model_require_u64s(m, "nope", 2, &fp, &err),
                     KGA_ENOENT);
    kga_model_close(m);
}
END_TEST

/* ------------------------------------------------------------------------
 * The writer refuses bad input and leaves nothing behind
 * ------------------------------------------------------------------------ */

/* Number of entries of the temporary directory whose name starts with
 * prefix. */
static int count_files(const char *prefix)
{
    DIR *d = opendir(kga_test_tmp_dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static kga_model_writer_t *new_writer(const char *name, char *path,
                                      size_t size)
{
    kga_test_tmp_path(path, size, name);
    kga_model_writer_t *w;
    kga_err_t err;
    ck_assert_int_eq(kga_model_writer_new(path, &w, &err), 0);
    return w;
}

/* Commit fails with code and a message containing what; no file appears. */
static void expect_commit_fails(kga_model_writer_t *w, const char *path,
                                int code, const char *what)
{
    kga_err_t err;
    ck_assert_int_eq(kga_model_writer_commit(w, &err), code);
    ck_assert_msg(strstr(err.msg, what) != NULL, "'%s' lacks '%s'", err.msg,
                  what);
    ck_assert_msg(strstr(err.msg, path) != NULL, "'%s' lacks the path",
                  err.msg);
    kga_model_writer_free(w);
    ck_assert_int_ne(access(path, F_OK), 0);
}

START_TEST(writer_rejects_bad_sections)
{
    char path[256];
    float v[4] = {1, 2, 3, 4};
    uint64_t shape[1] = {4};

    kga_model_writer_t *w = new_writer("dup.kgm", path, sizeof path);
    ck_assert_int_eq(kga_model_writer_add_tensor(w, "a", v, 1, shape), 0);
    ck_assert_int_eq(kga_model_writer_add_u32s(w, "a", ids, 5),
                     KGA_EDUPLICATE);
    /* Sticky: later adds fail the same way and do nothing. */
    ck_assert_int_eq(kga_model_writer_add_tensor(w, "b", v, 1, shape),
                     KGA_EDUPLICATE);
    ck_assert_msg(strstr(kga_model_writer_error(w), "'a' added twice"), "%s",
                  kga_model_writer_error(w));
    expect_commit_fails(w, path, KGA_EDUPLICATE, "'a' added twice");

    static const char *const bad_names[] = {
        "", "has space", "tab\there", "é",
        "0123456789012345678901234567890123456789012345678901234567890123",
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        w = new_writer("badname.kgm", path, sizeof path);
        ck_assert_int_eq(kga_model_writer_add_tensor(w, bad_names[i], v, 1,
                                                     shape),
                         KGA_EINVAL);
        expect_commit_fails(w, path, KGA_EINVAL, "section");
    }
    /* 63 bytes is the longest name. */
    w = new_writer("longname.kgm", path, sizeof path);
    ck_assert_int_eq(kga_model_writer_add_tensor(
                         w,
                         "012345678901234567890123456789012345678901234567890"
                         "123456789012",
                         v, 1, shape),
                     0);
    kga_err_t err;
    ck_assert_int_eq(kga_model_writer_commit(w, &err), 0);
    kga_model_writer_free(w);

    w = new_writer("nan.kgm", path, sizeof path);
    float nan_v[4] = {1, 2, NAN, 4};
    ck_assert_int_eq(kga_model_writer_add_tensor(w, "w", nan_v, 1, shape),
                     KGA_ENUMERIC);
    expect_commit_fails(w, path, KGA_ENUMERIC, "tensor 'w': element 2 is NaN");

    w = new_writer("dims.kgm", path, sizeof path);
    uint64_t five[5] = {1, 1, 1, 1, 4};
    ck_assert_int_eq(kga_model_writer_add_tensor(w, "w", v, 5, five),
                     KGA_EINVAL);
    expect_commit_fails(w, path, KGA_EINVAL, "dimensions");

    w = new_writer("huge.kgm", path, sizeof path);
    uint64_t huge[2] = {UINT64_MAX / 2, 3};
    ck_assert_int_eq(kga_model_writer_begin_tensor(w, "w", 2, huge),
                     KGA_EINVAL);
    expect_commit_fails(w, path, KGA_EINVAL, "too large");

    w = new_writer("text.kgm", path, sizeof path);
    ck_assert_int_eq(kga_model_writer_add_text(w, "t", "bad \xff utf8"),
                     KGA_EINVAL);
    expect_commit_fails(w, path, KGA_EINVAL, "invalid UTF-8 at byte 4");

    /* Strict UTF-8: overlong forms, surrogates, code points past U+10FFFF
     * and cut sequences are refused; the 4-byte range is fine. */
    static const char *const bad_utf8[] = {
        "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
        "\xf8\x88\x80\x80\x80", "ok\xe2\x9c",
    };
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        w = new_writer("utf8.kgm", path, sizeof path);
        ck_assert_msg(kga_model_writer_add_text(w, "t", bad_utf8[i]) ==
                          KGA_EINVAL,
                      "case %zu accepted", i);
        kga_model_writer_free(w);
        kga_model_kv_t *kv = kga_model_kv_new();
        ck_assert_int_eq(kga_model_kv_set_str(kv, "k", bad_utf8[i]),
                         KGA_EINVAL);
        kga_model_kv_free(kv);
    }
    w = new_writer("utf8.kgm", path, sizeof path);
    const char *four_byte = "\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
    ck_assert_int_eq(kga_model_writer_add_text(w, "t", four_byte), 0);
    kga_model_writer_free(w);
}
END_TEST

START_TEST(writer_streaming_misuse)
{
    char path[256];
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint64_t shape[2] = {2, 3};

    kga_model_writer_t *w = new_writer("unfinished.kgm", path, sizeof path);
    ck_assert_int_eq(kga_model_writer_begin_tensor(w, "t", 2, shape), 0);
    ck_assert_int_eq(kga_model_writer_append_f32(w, v, 4), 0);
    expect_commit_fails(w, path, KGA_EINVAL, "'t' was begun but not ended");

    w = new_writer("short.kgm", path, sizeof path);
    ck_assert_int_eq(kga_model_writer_begin_tensor(w, "t", 2, shape), 0);
    ck_assert_int_eq(kga_model_writer_append_f32(w, v, 4), 0);
    ck_assert_int_eq(kga_model_writer_end_tensor(w), KGA_EINVAL);
    expect_commit_fails(w, path, KGA_EINVAL, "2 floats missing");

    w = new_writer("long.kgm", path, sizeof path);
    ck_assert_int_eq(kga_model_writer_begin_tensor(w, "t", 2, shape), 0);
    ck_assert_int_eq(kga_model_writer_append_f32(w, v, 7), KGA_EINVAL);
    expect_commit_fails(w, path, KGA_EINVAL, "7 floats appended");

    w = new_writer("interleaved.kgm", path, sizeof path);
    ck_assert_int_eq(kga_model_writer_begin_tensor(w, "t", 2, shape), 0);
    ck_assert_int_eq(kga_model_writer_add_u32s(w, "u", ids, 5), KGA_EINVAL);
    expect_commit_fails(w, path, KGA_EINVAL, "unfinished");

    w = new_writer("stray.kgm", path, sizeof path);
    ck_assert_int_eq(kga_model_writer_append_f32(w, v, 1), KGA_EINVAL);
    expect_commit_fails(w, path, KGA_EINVAL, "no tensor begun");
}
END_TEST

START_TEST(settings_rules)
{
    kga_model_kv_t *kv = kga_model_kv_new();
    ck_assert_int_eq(kga_model_kv_set_str(kv, "", "x"), KGA_EINVAL);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "a=b", "x"), KGA_EINVAL);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "a b", "x"), KGA_EINVAL);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "a", "line\nbreak"),
                     KGA_EINVAL);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "a", "cr\r"), KGA_EINVAL);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "a", "\xc3("), KGA_EINVAL);
    ck_assert_int_eq(kga_model_kv_set_double(kv, "a", INFINITY), KGA_EINVAL);
    ck_assert_int_eq(kga_model_kv_set_double(kv, "a", NAN), KGA_EINVAL);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "a.b:c/d-e_F9", "=ok=é"), 0);
    ck_assert_int_eq(kga_model_kv_set_int(kv, "a.b:c/d-e_F9", 1),
                     KGA_EDUPLICATE);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "empty", ""), 0);
    char long_key[200];
    memset(long_key, 'k', sizeof long_key);
    long_key[128] = '\0';
    ck_assert_int_eq(kga_model_kv_set_str(kv, long_key, "x"), KGA_EINVAL);
    long_key[127] = '\0';
    ck_assert_int_eq(kga_model_kv_set_str(kv, long_key, "x"), 0);

    /* The same key in two settings sections is refused. */
    char path[256];
    kga_model_writer_t *w = new_writer("kv.kgm", path, sizeof path);
    ck_assert_int_eq(kga_model_writer_add_kv(w, "one", kv), 0);
    kga_model_kv_t *other = kga_model_kv_new();
    ck_assert_int_eq(kga_model_kv_set_int(other, "empty", 3), 0);
    ck_assert_int_eq(kga_model_writer_add_kv(w, "two", other), KGA_EDUPLICATE);
    expect_commit_fails(w, path, KGA_EDUPLICATE,
                        "key 'empty' is already in another settings section");

    w = new_writer("kv2.kgm", path, sizeof path);
    ck_assert_int_eq(kga_model_writer_add_kv(w, "one", kv), 0);
    kga_err_t err;
    ck_assert_int_eq(kga_model_writer_commit(w, &err), 0);
    kga_model_writer_free(w);
    kga_model_t *m;
    ck_assert_int_eq(kga_model_open(path, &m, &err), 0);
    const char *s;
    ck_assert_int_eq(kga_model_kv_get_str(m, "a.b:c/d-e_F9", &s, &err), 0);
    ck_assert_str_eq(s, "=ok=é");
    ck_assert_int_eq(kga_model_kv_get_str(m, "empty", &s, &err), 0);
    ck_assert_str_eq(s, "");
    int64_t i64;
    ck_assert_int_eq(kga_model_kv_get_int(m, "empty", &i64, &err),
                     KGA_EPARSE);
    ck_assert_int_eq(kga_model_kv_get_str(m, long_key, &s, &err), 0);
    kga_model_close(m);
    kga_model_kv_free(kv);
    kga_model_kv_free(other);
}
END_TEST

START_TEST(uncommitted_writer_leaves_nothing)
{
    char path[256];
    kga_test_tmp_path(path, sizeof path, "keep.kgm");
    write_model(path, 0, 3.5f);
    kga_test_image_t before = kga_test_image_read(path);

    /* A discarded writer removes its temporary file... */
    kga_model_writer_t *w;
    kga_err_t err;
    ck_assert_int_eq(kga_model_writer_new(path, &w, &err), 0);
    float v = 1;
    ck_assert_int_eq(kga_model_writer_add_tensor(w, "x", &v, 0, NULL), 0);
    ck_assert_int_eq(count_files("keep.kgm.tmp."), 1);
    kga_model_writer_free(w);
    ck_assert_int_eq(count_files("keep.kgm.tmp."), 0);

    /* ...and a failed commit leaves the old file as it was. */
    ck_assert_int_eq(kga_model_writer_new(path, &w, &err), 0);
    ck_assert_int_eq(kga_model_writer_add_tensor(w, "x", &v, 0, NULL), 0);
    ck_assert_int_eq(kga_model_writer_add_tensor(w, "x", &v, 0, NULL),
                     KGA_EDUPLICATE);
    ck_assert_int_eq(kga_model_writer_commit(w, &err), KGA_EDUPLICATE);
    kga_model_writer_free(w);
    ck_assert_int_eq(count_files("keep.kgm.tmp."), 0);
    kga_test_image_t after = kga_test_image_read(path);
    ck_assert_uint_eq(after.len, before.len);
    ck_assert_mem_eq(after.data, before.data, before.len);
    free(before.data);
    free(after.data);
}
END_TEST

START_TEST(write_to_missing_directory_fails)
{
    char path[256];
    kga_test_tmp_path(path, sizeof path, "no/such/dir/model.kgm");
    kga_model_writer_t *w = (kga_model_writer_t *)&w;
    kga_err_t err;
    ck_assert_int_eq(kga_model_writer_new(path, &w, &err), KGA_ENOENT);
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
}
END_TEST

/* ------------------------------------------------------------------------
 * Opening files
 * ------------------------------------------------------------------------ */

START_TEST(open_missing_empty_directory_damaged)
{
    char path[256];
    kga_model_t *m = (kga_model_t *)&m;
    kga_err_t err;
    kga_test_tmp_path(path, sizeof path, "does-not-exist.kgm");
    ck_assert_int_eq(kga_model_open(path, &m, &err), KGA_ENOENT);
    ck_assert_ptr_null(m);
    ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0, "%s", err.msg);

    kga_test_expect_error(kga_model_open(kga_test_tmp_dir, &m, &err), &err,
                          KGA_EINVAL, "directory");

    kga_test_tmp_path(path, sizeof path, "zero.kgm");
    FILE *f = fopen(path, "wb");
    fclose(f);
    ck_assert_int_eq(kga_model_open(path, &m, &err), KGA_ETRUNCATED);
    ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0, "%s", err.msg);

    /* A damaged file: the message starts with the path, then the section
     * and the byte offset. */
    kga_test_image_t img = model_image(0);
    uint64_t r = row_of(img, "ids");
    kga_test_put64(img, r + R_OFFSET, table_offset(img) + 64);
    fix_checksum(img);
    kga_test_tmp_path(path, sizeof path, "damaged.kgm");
    f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(img.data, 1, img.len, f), img.len);
    fclose(f);
    ck_assert_int_eq(kga_model_open(path, &m, &err), KGA_EFORMAT);
    ck_assert_ptr_null(m);
    char want[512];
    snprintf(want, sizeof want, "%s: section 'ids', byte %" PRIu64 ": ",
             path, r + R_OFFSET);
    ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0,
                  "'%s' does not start with '%s'", err.msg, want);
    free(img.data);
}
END_TEST

/* ------------------------------------------------------------------------
 * Validator
 * ------------------------------------------------------------------------ */

START_TEST(intact_image_validates)
{
    kga_test_image_t img = model_image(1);
    kga_err_t err;
    int rc = kga_model_validate(img.data, img.len, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    free(img.data);
}
END_TEST

static void expect_truncated_at(kga_test_image_t img, uint64_t cut)
{
    kga_test_truncated_check(img, kga_model_validate, cut);
}

/* Truncated at every section boundary (and a few other places), in a heap
 * buffer of exactly that length so that ASan sees any overread. */
START_TEST(truncation_is_detected)
{
    kga_test_image_t img = model_image(1);
    static const uint64_t fixed[] = {0, 1, 7, 8, 12, 63, 64, 65};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        expect_truncated_at(img, fixed[i]);
    for (uint32_t i = 0; i < section_count(img); i++) {
        uint64_t r = table_offset(img) + (uint64_t)i * ROW;
        uint64_t off = kga_test_get64(img, r + R_OFFSET),
                 size = kga_test_get64(img, r + R_SIZE);
        expect_truncated_at(img, off);
        expect_truncated_at(img, off + size);
        expect_truncated_at(img, off + size + 1);
        expect_truncated_at(img, r);
        expect_truncated_at(img, r + 64);
    }
    expect_truncated_at(img, img.len - 1);
    free(img.data);
}
END_TEST

/* Each kind of damage a table row (read as tests/testutil.h says), checked
 * on the model with the empty tensor, whose first rows are "cube" and
 * "empty". A model file's places, beside the file's start: a section's
 * table row, and its payload, from its start or back from its end. */
enum { AT_ROW = KGA_TEST_AT_FILE + 1, AT_DATA, AT_DATA_END };

static uint64_t locate(kga_test_image_t img, kga_test_place_t p)
{
    switch (p.base) {
    case AT_ROW:
        return row_of(img, p.name) + p.at;
    case AT_DATA:
        return kga_test_get64(img, row_of(img, p.name) + R_OFFSET) + p.at;
    case AT_DATA_END: {
        uint64_t r = row_of(img, p.name);
        return kga_test_get64(img, r + R_OFFSET) +
               kga_test_get64(img, r + R_SIZE) - p.at;
    }
    }
    ck_abort_msg("no place %d", p.base);
    return 0;
}

#define HEADER(at) {KGA_TEST_AT_FILE, 0, NULL, (at)}
#define IN_ROW(name, at) {AT_ROW, 0, name, (at)}
#define IN_DATA(name, at) {AT_DATA, 0, name, (at)}
#define BEFORE_END(name, n) {AT_DATA_END, 0, name, (n)}

static const char name_of_a[] =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char name_of_nul[65];
#define HPARAMS_HEAD "big=99999999999999999999\ngnn"

static const kga_test_damage_t damages[] = {
    /* The header. */
    {"a store's magic", {EDIT_BYTES(HEADER(H_MAGIC), "KGASTORE")}, 0,
     KGA_EMAGIC, "not a kgalign model file"},
    {"version 2", {EDIT_SET(4, HEADER(H_VERSION), 2)}, 0, KGA_EVERSION,
     "format version 2"},
    {"the other byte order", {EDIT_SET(4, HEADER(H_ENDIAN), 0x04030201u)}, 0,
     KGA_EENDIAN, "other byte order"},
    {"a file size 64 bytes over", {EDIT_ADD(8, HEADER(H_FILE_SIZE), 64)}, 0,
     KGA_ETRUNCATED, "only"},
    {"a file size 64 bytes under", {EDIT_ADD(8, HEADER(H_FILE_SIZE), -64)}, 0,
     KGA_EFORMAT, "byte @"},
    {"bytes appended after the file", {EDIT_GROW(64)}, 0, KGA_EFORMAT,
     "but the file has"},
    {"a size that is not a multiple of 64, and matches the buffer",
     {EDIT_GROW(8), EDIT_ADD(8, HEADER(H_FILE_SIZE), 8)}, 1, KGA_EFORMAT,
     "not a multiple of 64"},
    {"the table one row earlier", {EDIT_ADD(8, HEADER(H_TABLE_OFFSET), -64)},
     1, KGA_EFORMAT, "does not end"},
    {"one section more", {EDIT_ADD(4, HEADER(H_SECTION_COUNT), 1)}, 1,
     KGA_EFORMAT, "does not end"},
    {"rows of 64 bytes", {EDIT_SET(4, HEADER(H_ENTRY_SIZE), 64)}, 1,
     KGA_EFORMAT, "row size"},
    {"another checksum", {EDIT_ADD(8, HEADER(H_CHECKSUM), 1)}, 0,
     KGA_ECHECKSUM, "checksum mismatch"},

    /* Offsets and sizes of a row, with the checksum fixed. */
    {"a payload at the table",
     {EDIT_COPY(8, IN_ROW("ids", R_OFFSET), HEADER(H_TABLE_OFFSET), 0)}, 1,
     KGA_EFORMAT, "runs past the payload area"},
    {"a payload offset that overflows",
     {EDIT_SET(8, IN_ROW("ids", R_OFFSET), UINT64_MAX - 63)}, 1, KGA_EFORMAT,
     "section 'ids', byte @"},
    {"a payload inside the header", {EDIT_SET(8, IN_ROW("ids", R_OFFSET), 0)},
     1, KGA_EFORMAT, "after the header"},
    {"a payload not aligned", {EDIT_ADD(8, IN_ROW("ids", R_OFFSET), 4)}, 1,
     KGA_EFORMAT, "not 64-aligned"},
    /* Size and shape must agree, also when the product overflows. */
    {"a size that is not the shape's", {EDIT_SET(8, IN_ROW("ids", R_SIZE), 24)},
     1, KGA_EFORMAT, "does not match the shape"},
    {"a shape whose size overflows",
     {EDIT_SET(8, IN_ROW("ids", R_SHAPE), UINT64_MAX / 2),
      EDIT_SET(8, IN_ROW("ids", R_SIZE), (UINT64_MAX / 2) * 4)},
     1, KGA_EFORMAT, "does not match the shape"},
    {"a shape whose element count overflows to 0",
     {EDIT_SET(8, IN_ROW("cube", R_SHAPE + 8), 1ull << 62),
      EDIT_SET(8, IN_ROW("cube", R_SHAPE + 16), 1ull << 62),
      EDIT_SET(8, IN_ROW("cube", R_SIZE), 0)},
     1, KGA_EFORMAT, "does not match the shape"},
    /* The later payload moved onto the earlier, so that no gap of left-over
     * bytes is met first. */
    {"two payloads over the same bytes",
     {EDIT_COPY(8, IN_ROW("notes", R_OFFSET), IN_ROW("ids", R_OFFSET), 0)}, 1,
     KGA_EFORMAT, "overlaps"},
    {"an unknown kind", {EDIT_SET(4, IN_ROW("ids", R_KIND), 6)}, 1,
     KGA_EFORMAT, "unknown section kind 6"},
    {"an array of 2 dimensions", {EDIT_SET(4, IN_ROW("ids", R_NDIM), 2)}, 1,
     KGA_EFORMAT, "2 dimensions for a u32 array"},
    {"a tensor of 5 dimensions", {EDIT_SET(4, IN_ROW("cube", R_NDIM), 5)}, 1,
     KGA_EFORMAT, "5 dimensions for a f32 tensor"},
    {"an unused dimension set", {EDIT_SET(8, IN_ROW("ids", R_SHAPE + 8), 1)},
     1, KGA_EFORMAT, "unused dimension 1"},
    {"the reserved field set", {EDIT_SET(8, IN_ROW("ids", R_RESERVED), 1)}, 1,
     KGA_EFORMAT, "reserved field"},
    {"padding between payloads", {EDIT_SET(1, BEFORE_END("ids", 0), 1)}, 1,
     KGA_EFORMAT, "padding byte is not zero"},

    /* Names in the table. */
    {"a name without its NUL", {EDIT_BYTES(IN_ROW("cube", R_NAME), name_of_a)},
     1, KGA_EFORMAT, "not NUL-terminated"},
    {"junk after a name's NUL", {EDIT_SET(1, IN_ROW("cube", R_NAME + 63), 'x')},
     1, KGA_EFORMAT, "after the name's NUL"},
    {"an empty name", {EDIT_BYTES(IN_ROW("cube", R_NAME), name_of_nul)}, 1,
     KGA_EFORMAT, "empty section name"},
    {"a space in a name", {EDIT_SET(1, IN_ROW("cube", R_NAME), ' ')}, 1,
     KGA_EFORMAT, "printable ASCII"},
    {"the second row renamed to the first",
     {EDIT_COPY(64, IN_ROW("empty", R_NAME), IN_ROW("cube", R_NAME), 0)}, 1,
     KGA_EFORMAT, "section 'cube', byte @: section name appears twice"},
    {"rows out of name order",
     {EDIT_SWAP(ROW, IN_ROW("cube", 0), IN_ROW("empty", 0))}, 1, KGA_EFORMAT,
     "not sorted by name"},

    /* Tensor values, the checksum made to agree: every one must be
     * finite. "cube" holds 0.25, 1.25, ...; "stream" 1.0, 1.001, ... */
    {"a NaN in a tensor", {EDIT_SET(4, IN_DATA("cube", 8), 0x7fc00000u)}, 1,
     KGA_ENUMERIC, "section 'cube', byte @: value 2 is NaN"},
    {"a signalling NaN", {EDIT_SET(4, IN_DATA("cube", 0), 0x7f800001u)}, 1,
     KGA_ENUMERIC, "section 'cube', byte @: value 0 is NaN"},
    {"+infinity", {EDIT_SET(4, IN_DATA("layer1.w_self", 4), 0x7f800000u)}, 1,
     KGA_ENUMERIC, "section 'layer1.w_self', byte @: value 1 is infinite"},
    {"-infinity as the last value",
     {EDIT_SET(4, IN_DATA("stream", 4 * (STREAM_ROWS * STREAM_COLS - 1)),
               0xff800000u)},
     1, KGA_ENUMERIC, "value 34 is infinite"},
    {"a NaN in a scalar", {EDIT_SET(4, IN_DATA("scalar", 0), 0xffc00000u)}, 1,
     KGA_ENUMERIC, "section 'scalar', byte @: value 0 is NaN"},

    /* Text: "héllo wörld ✓\nsecond line". */
    {"a bad UTF-8 sequence", {EDIT_BYTES(IN_DATA("notes", 1), "\xc3\xff")}, 1,
     KGA_EFORMAT, "section 'notes', byte @: invalid UTF-8"},
    {"a stray continuation byte", {EDIT_SET(1, IN_DATA("notes", 1), 0xa9)}, 1,
     KGA_EFORMAT, "invalid UTF-8"},
    {"a NUL inside the text", {EDIT_SET(1, IN_DATA("notes", 3), 0)}, 1,
     KGA_EFORMAT, "NUL byte inside"},
    {"a text without its NUL", {EDIT_SET(1, BEFORE_END("notes", 1), 'x')}, 1,
     KGA_EFORMAT, "not NUL-terminated"},

    /* Settings: "lq=1\nmode=names+ids\n", and hparams beginning
     * "big=99999999999999999999\ngnn.dim=64\n": "gnn=" there and '=' at
     * the '.' give the key "gnn" twice. */
    {"a line without '='", {EDIT_SET(1, IN_DATA("features", 2), ':')}, 1,
     KGA_EFORMAT, "without '='"},
    {"no newline at the end", {EDIT_SET(1, BEFORE_END("features", 2), 'x')},
     1, KGA_EFORMAT, "does not end with a newline"},
    {"an empty key", {EDIT_SET(1, IN_DATA("features", 0), '=')}, 1,
     KGA_EFORMAT, "bad settings key"},
    {"keys out of order ('nq' after 'mode')",
     {EDIT_SET(1, IN_DATA("features", 0), 'n')}, 1, KGA_EFORMAT,
     "'mode' is out of order"},
    {"a carriage return", {EDIT_SET(1, IN_DATA("features", 3), '\r')}, 1,
     KGA_EFORMAT, "carriage return"},
    {"a key also in another section ('lr')",
     {EDIT_SET(1, IN_DATA("features", 1), 'r')}, 1, KGA_EFORMAT,
     "settings key 'lr' is also in section 'hparams'"},
    {"a key twice in one section ('gnn')",
     {EDIT_BYTES(IN_DATA("hparams", 0), "gnn="),
      EDIT_SET(1, IN_DATA("hparams", sizeof HPARAMS_HEAD - 1), '=')},
     1, KGA_EFORMAT, "settings key 'gnn' appears twice"},
};

static kga_test_image_t model_image_with_empty(void)
{
    return model_image(1);
}

static const kga_test_format_t model_format = {
    model_image_with_empty, locate, fix_checksum, kga_model_validate};

START_TEST(damage_is_rejected)
{
    kga_test_damage_check(&damages[_i], &model_format);
}
END_TEST

/* The code a flipped header byte must give, by field (0: the file size,
 * truncated or format). */
static int header_flip_code(size_t pos)
{
    return pos < H_VERSION       ? KGA_EMAGIC
           : pos < H_ENDIAN      ? KGA_EVERSION
           : pos < H_FILE_SIZE   ? KGA_EENDIAN
           : pos < H_CHECKSUM    ? 0
           : pos < H_HEADER_SIZE ? KGA_ECHECKSUM
                                 : KGA_EFORMAT;
}

/* Every header byte is covered by a check, and by the right one. */
START_TEST(flipped_header_bytes_are_detected)
{
    static const uint8_t low_bit[] = {0x01};
    kga_test_image_t img = model_image(1);
    kga_test_header_flips_check(img, &model_format, KGA_MODEL_HEADER_SIZE,
                                low_bit, sizeof low_bit, header_flip_code);
    free(img.data);
}
END_TEST

/* Every byte of the section table: caught by the checksum, and with the
 * checksum recomputed by the structural checks. (The model without the
 * empty tensor has no empty section and every payload starts with a
 * non-zero byte, so no flip can yield another valid file.) */
START_TEST(flipped_section_table_bytes_are_detected)
{
    static const uint8_t high_bit[] = {0x80};
    kga_test_image_t img = model_image(0);
    kga_test_flips_check(img, &model_format, table_offset(img), img.len,
                         high_bit, sizeof high_bit, KGA_EFORMAT, 0, "byte ");
    free(img.data);
}
END_TEST

/* Buffers too short to hold a magic, and an edit the settings survive. */
START_TEST(short_buffers_and_a_harmless_edit)
{
    /* Only the bytes present are compared. */
    ck_assert_int_eq(kga_model_validate("KGA", 3, NULL), KGA_ETRUNCATED);
    ck_assert_int_eq(kga_model_validate("KGB", 3, NULL), KGA_EMAGIC);
    kga_test_image_t img = model_image(1);
    ck_assert_int_eq(kga_model_validate(img.data, 0, NULL), KGA_ETRUNCATED);
    /* "lq" becomes "mo", then "mode": still sorted, so valid once the
     * checksum agrees. */
    uint64_t feat = locate(img, (kga_test_place_t)IN_DATA("features", 0));
    memcpy(img.data + feat, "mo", 2);
    ck_assert_int_eq(kga_model_validate(img.data, img.len, NULL),
                     KGA_ECHECKSUM);
    fix_checksum(img);
    ck_assert_int_eq(kga_model_validate(img.data, img.len, NULL), 0);
    free(img.data);
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
    /* splitmix64 */
    return kga_rng_hash(rng_state += 0x9e3779b97f4a7c15ull);
}

/* Random damage, checksum fixed half the time, in exact-size buffers: the
 * validator must answer, never crash or read out of bounds; whatever it
 * accepts must be usable. */
START_TEST(random_damage_never_crashes)
{
    enum { ROUNDS = 4000 };
    kga_test_image_t img = model_image(1);
    for (int round = 0; round < ROUNDS; round++) {
        size_t len = img.len;
        if (round % 5 == 4)
            len = (size_t)(next_random() % img.len);
        kga_test_image_t c = {malloc(len ? len : 1), len};
        memcpy(c.data, img.data, len);
        int flips = 1 + (int)(next_random() % 4);
        for (int f = 0; len > 0 && f < flips; f++) {
            /* Aim at the table half the time: that is where structure is. */
            uint64_t lo = round % 2 ? table_offset(img) : 0;
            if (lo >= len)
                lo = 0;
            c.data[lo + next_random() % (len - lo)] ^=
                (uint8_t)(1 + next_random() % 255);
        }
        if (round % 2 == 0 && len >= 64)
            fix_checksum(c);
        kga_err_t err;
        kga_model_t *m;
        if (kga_model_open_buffer(c.data, c.len, &m, &err) == 0) {
            for (size_t i = 0; i < kga_model_section_count(m); i++) {
                kga_model_section_t s;
                kga_model_section_at(m, i, &s);
                volatile uint8_t sink = 0;
                uint64_t bytes = s.count * (s.kind == KGA_MODEL_U64 ? 8
                                            : s.kind == KGA_MODEL_F32 ||
                                                    s.kind == KGA_MODEL_U32
                                                ? 4
                                                : 1);
                for (uint64_t b = 0; b < bytes; b++)
                    sink ^= ((const uint8_t *)s.data)[b];
                (void)sink;
            }
            for (size_t i = 0; i < kga_model_kv_count(m); i++) {
                const char *k, *v;
                kga_model_kv_at(m, i, &k, &v);
                ck_assert_uint_gt(strlen(k), 0);
                (void)strlen(v);
            }
            kga_model_close(m);
        } else {
            ck_assert_int_lt(err.code, 0);
            ck_assert_uint_gt(strlen(err.msg), 0);
        }
        free(c.data);
    }
    free(img.data);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *model_file_suite(void)
{
    Suite *s = suite_create("model_file");
    TCase *io = kga_test_tcase(s, "round trip", 60);
    tcase_add_test(io, round_trip);
    tcase_add_test(io, open_buffer_round_trip);
    tcase_add_test(io, header_follows_documented_layout);
    tcase_add_test(io, identical_input_gives_identical_bytes);
    tcase_add_test(io, empty_model);
    tcase_add_test(io, large_streamed_tensor);
    tcase_add_test(io, missing_key_and_bad_values);
    tcase_add_test(io, required_tensor_shape_messages);
    tcase_add_test(io, open_missing_empty_directory_damaged);

    TCase *wr = kga_test_tcase(s, "writer", 0);
    tcase_add_test(wr, writer_rejects_bad_sections);
    tcase_add_test(wr, writer_streaming_misuse);
    tcase_add_test(wr, settings_rules);
    tcase_add_test(wr, uncommitted_writer_leaves_nothing);
    tcase_add_test(wr, write_to_missing_directory_fails);

    TCase *val = kga_test_tcase(s, "validator", 120);
    tcase_add_test(val, intact_image_validates);
    tcase_add_test(val, truncation_is_detected);
    tcase_add_test(val, flipped_header_bytes_are_detected);
    tcase_add_test(val, flipped_section_table_bytes_are_detected);
    tcase_add_loop_test(val, damage_is_rejected, 0,
                        (int)(sizeof damages / sizeof damages[0]));
    tcase_add_test(val, short_buffers_and_a_harmless_edit);
    tcase_add_test(val, random_damage_never_crashes);
    return s;
}

int main(void)
{
    return kga_test_run_in_tmp_dir("model", model_file_suite);
}
