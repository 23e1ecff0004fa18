/* An alignment model whose values are out of range: kga_aligner_open()
 * refuses it with a message naming the file and the section or setting,
 * rather than loading it and serving wrong probabilities. Each case is a
 * row of a table, applied to a real model trained once on a small
 * synthetic pair:
 *   - a float of a tensor made NaN or infinite, the checksum made to agree
 *     (the container's validator refuses it, for every section);
 *   - a double kept as u64 bits (fusion.lu) made NaN;
 *   - open-world rivals out of order;
 *   - a setting rewritten out of its range (the file then written again
 *     through the model writer, so that only the value is wrong): the
 *     decision threshold, tau, the fusion's and the GNN's hyper-parameters.
 * The model as trained opens, so that every refusal is the edit's. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "align/aligner.h"
#include "base/hash.h"
#include "model/model_file.h"
#include "model/model_layout.h"

#include "testutil.h"

static char data[600], model[600];

/* ------------------------------------------------------------------------
 * The model, trained once
 * ------------------------------------------------------------------------ */

static int make_model(void)
{
    const char *kgalign = kga_test_kgalign();
    snprintf(data, sizeof data, "%s/data", kga_test_tmp_dir);
    snprintf(model, sizeof model, "%s/model.kgm", kga_test_tmp_dir);
    const char *dir = kga_test_tmp_dir;
    if (kga_test_synth_import(dir, "--entities 600 --seed 3", "src",
                              "data") != 0 ||
        /* --gnn: the GNN's sections and settings are checked too (by
         * default it is left out where the names are used). */
        kga_test_system("%s train %s -o %s --gnn --epochs 1 --threads 2 "
                        "> %s/train.log 2>&1",
                        kgalign, data, model, dir) != 0) {
        fprintf(stderr, "cannot train the test model with %s\n", kgalign);
        return -1;
    }
    return 0;
}

/* Opens path as an alignment model over the trained stores. */
static int open_model(const char *path, kga_err_t *err)
{
    char left[700], right[700];
    snprintf(left, sizeof left, "%s/left.kgs", data);
    snprintf(right, sizeof right, "%s/right.kgs", data);
    kga_aligner_options_t o = {.threads = 2, .threshold = -1.0f};
    kga_aligner_t *a = NULL;
    int rc = kga_aligner_open(left, right, path, &o, &a, err);
    kga_aligner_close(a);
    return rc;
}

/* ------------------------------------------------------------------------
 * Edits
 * ------------------------------------------------------------------------ */

/* Where a section's payload starts in the image, and its byte count. */
static void payload_of(const char *name, uint64_t *offset, uint64_t *size)
{
    kga_model_t *m;
    kga_err_t err;
    ck_assert_msg(kga_model_open(model, &m, &err) == 0, "%s", err.msg);
    kga_model_section_t sec;
    ck_assert_msg(kga_model_find(m, name, &sec) == 0, "no section %s", name);
    *offset = sec.offset;
    *size = sec.count * (sec.kind == KGA_MODEL_U64 ? 8u : 4u);
    kga_model_close(m);
}

/* The model's bytes with `count` 4- or 8-byte values of section `name`
 * from element `first` set to `bits`, and the checksum (XXH64 of all after
 * the 64-byte header, at byte 24: docs/model-format.md) made to agree;
 * written to path. */
static void write_patched(const char *path, const char *name, uint64_t first,
                          uint64_t count, uint64_t bits, unsigned width)
{
    kga_test_image_t img = kga_test_image_read(model);
    uint64_t off, size;
    payload_of(name, &off, &size);
    if (count == UINT64_MAX)
        count = size / width - first;
    ck_assert_uint_le((first + count) * width, size);
    for (uint64_t i = first; i < first + count; i++) {
        if (width == 8)
            kga_test_put64(img, off + i * 8, bits);
        else
            kga_test_put32(img, off + i * 4, (uint32_t)bits);
    }
    kga_test_put64(img, 24, kga_hash64(img.data + 64, img.len - 64));
    kga_test_write_file(path, img.data, img.len);
    free(img.data);
}

/* The model written again through the writer, section by section, with
 * the setting `key` set to the text `value`. */
static void write_with_setting(const char *path, const char *key,
                               const char *value)
{
    kga_model_t *m;
    kga_model_writer_t *w;
    kga_err_t err;
    ck_assert_msg(kga_model_open(model, &m, &err) == 0, "%s", err.msg);
    ck_assert_msg(kga_model_writer_new(path, &w, &err) == 0, "%s", err.msg);
    int found = 0;
    for (size_t i = 0; i < kga_model_section_count(m); i++) {
        kga_model_section_t s;
        kga_model_section_at(m, i, &s);
        int rc = 0;
        switch (s.kind) {
        case KGA_MODEL_F32:
            rc = kga_model_writer_add_tensor(w, s.name, s.data, s.ndim,
                                             s.shape);
            break;
        case KGA_MODEL_U32:
            rc = kga_model_writer_add_u32s(w, s.name, s.data, s.count);
            break;
        case KGA_MODEL_U64:
            rc = kga_model_writer_add_u64s(w, s.name, s.data, s.count);
            break;
        case KGA_MODEL_TEXT:
            rc = kga_model_writer_add_text(w, s.name, s.data);
            break;
        case KGA_MODEL_KV: {
            /* "key=value\n" lines, as the validator left them. */
            kga_model_kv_t *kv = kga_model_kv_new();
            char *text = strdup(s.data), *save = NULL;
            for (char *line = strtok_r(text, "\n", &save); line != NULL;
                 line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                ck_assert_ptr_nonnull(eq);
                *eq = '\0';
                int ours = strcmp(line, key) == 0;
                found |= ours;
                ck_assert_int_eq(
                    kga_model_kv_set_str(kv, line, ours ? value : eq + 1), 0);
            }
            free(text);
            rc = kga_model_writer_add_kv(w, s.name, kv);
            kga_model_kv_free(kv);
            break;
        }
        }
        ck_assert_msg(rc == 0, "%s: %s", s.name, kga_model_writer_error(w));
    }
    ck_assert_msg(found, "the model has no setting %s", key);
    ck_assert_msg(kga_model_writer_commit(w, &err) == 0, "%s", err.msg);
    kga_model_writer_free(w);
    kga_model_close(m);
}

/* ------------------------------------------------------------------------
 * The cases
 * ------------------------------------------------------------------------ */

#define F32_NAN 0x7fc00000u
#define F32_INF 0x7f800000u
#define F32_MINUS_INF 0xff800000u
#define F64_NAN 0x7ff8000000000000ull
#define ALL UINT64_MAX

static const struct {
    const char *what;
    const char *section; /* a patch of `count` values from `first` */
    uint64_t first, count, bits;
    unsigned width;
    int code;
    const char *where;
} patches[] = {
    {"every entity vector NaN", KGA_SEC_GNN_PREFIX "input.entity", 0, ALL,
     F32_NAN, 4, KGA_ENUMERIC,
     "section 'gnn.param.input.entity', byte"},
    {"one GNN base infinite", KGA_SEC_GNN_PREFIX "layer1.bases", 7, 1,
     F32_INF, 4, KGA_ENUMERIC, "gnn.param.layer1.bases"},
    {"the scorer's weights NaN", KGA_SEC_LOGREG, 0, ALL, F32_NAN, 4,
     KGA_ENUMERIC, "section 'scorer.logreg'"},
    {"an open-world weight infinite", KGA_SEC_OW_LOGREG, 1, 1, F32_MINUS_INF,
     4, KGA_ENUMERIC, "section 'openworld.logreg'"},
    {"an open-world rival NaN", KGA_SEC_OW_RIVAL, 3, 1, F32_NAN, 4,
     KGA_ENUMERIC, "section 'openworld.rival'"},
    {"a second rival above the best (both finite)", KGA_SEC_OW_RIVAL, 1, 1,
     0x7f7fffffu /* FLT_MAX */, 4, KGA_ERANGE,
     "'openworld.rival': entry 0 has a second rival"},
    {"a left potential NaN (u64 bits)", KGA_SEC_LU, 5, 1, F64_NAN, 8,
     KGA_ENUMERIC, "section 'fusion.lu': value 5 is not finite"},
};

static const struct {
    const char *key, *value;
    int code;
    const char *where;
} settings[] = {
    {KGA_KEY_THRESHOLD, "2", KGA_ERANGE,
     "setting model.threshold is 2, must be in [0, 1]"},
    {KGA_KEY_THRESHOLD, "-0.25", KGA_ERANGE, "model.threshold is -0.25"},
    {KGA_KEY_THRESHOLD, "nan", KGA_EPARSE, "model.threshold"},
    {KGA_KEY_TAU, "0", KGA_ERANGE, "setting model.tau is 0, must be in (0"},
    {KGA_KEY_NAME_WEIGHT, "-1", KGA_ERANGE, "setting model.name_weight"},
    {KGA_KEY_GNN, "2", KGA_ERANGE, "setting model.gnn is 2"},
    {"gnn.dim_hidden", "0", KGA_ERANGE, "gnn.dim_hidden is 0, must be 1.."},
    {"gnn.dim_entity", "4000000000", KGA_ERANGE, "gnn.dim_entity is"},
    {"gnn.samples", "65", KGA_ERANGE, "gnn.samples is 65"},
    {"gnn.bases", "0", KGA_ERANGE, "gnn.bases is 0"},
    {"gnn.cross_attention", "7", KGA_ERANGE, "gnn.cross_attention is 7"},
    {"gnn.leaky_slope", "2", KGA_ERANGE, "gnn.leaky_slope is 2"},
    {"gnn.beta2", "1", KGA_ERANGE, "gnn.beta2 is 1"},
    {"gnn.lr", "0", KGA_ERANGE, "gnn.lr is 0"},
    {"gnn.lr", "inf", KGA_EPARSE, "gnn.lr"},
    {"fusion.tau", "-1", KGA_EINVAL, "settings: fusion: tau must be positive"},
    {"fusion.topk", "0", KGA_EINVAL, "fusion: topk must be in"},
};

START_TEST(the_trained_model_opens)
{
    kga_err_t err;
    ck_assert_msg(open_model(model, &err) == 0, "%s", err.msg);
}
END_TEST

START_TEST(bad_values_are_refused)
{
    char path[700];
    snprintf(path, sizeof path, "%s/patched-%d.kgm", kga_test_tmp_dir, _i);
    write_patched(path, patches[_i].section, patches[_i].first,
                  patches[_i].count, patches[_i].bits, patches[_i].width);
    kga_err_t err;
    int rc = open_model(path, &err);
    ck_assert_msg(rc == patches[_i].code, "%s: %s, want %s (%s)",
                  patches[_i].what, kga_err_name(rc),
                  kga_err_name(patches[_i].code), err.msg);
    ck_assert_msg(strstr(err.msg, patches[_i].where) != NULL &&
                      strstr(err.msg, path) != NULL,
                  "%s: message '%s' does not name %s in %s",
                  patches[_i].what, err.msg, patches[_i].where, path);
    remove(path);
}
END_TEST

START_TEST(settings_out_of_range_are_refused)
{
    char path[700];
    snprintf(path, sizeof path, "%s/setting-%d.kgm", kga_test_tmp_dir, _i);
    write_with_setting(path, settings[_i].key, settings[_i].value);
    kga_err_t err;
    int rc = open_model(path, &err);
    ck_assert_msg(rc == settings[_i].code, "%s=%s: %s, want %s (%s)",
                  settings[_i].key, settings[_i].value, kga_err_name(rc),
                  kga_err_name(settings[_i].code), err.msg);
    ck_assert_msg(strstr(err.msg, settings[_i].where) != NULL &&
                      strstr(err.msg, path) != NULL,
                  "%s=%s: message '%s' does not name %s in %s",
                  settings[_i].key, settings[_i].value, err.msg,
                  settings[_i].where, path);
    remove(path);
}
END_TEST

/* The rewriting itself changes nothing that matters: an in-range value
 * written the same way opens. */
START_TEST(a_setting_in_range_still_opens)
{
    char path[700];
    snprintf(path, sizeof path, "%s/setting-ok.kgm", kga_test_tmp_dir);
    write_with_setting(path, KGA_KEY_THRESHOLD, "0.75");
    kga_err_t err;
    ck_assert_msg(open_model(path, &err) == 0, "%s", err.msg);
    remove(path);
}
END_TEST

static Suite *values_suite(void)
{
    if (make_model() != 0)
        return NULL;
    Suite *s = suite_create("model values");
    TCase *tc = kga_test_tcase(s, "values", 120);
    tcase_add_test(tc, the_trained_model_opens);
    tcase_add_loop_test(tc, bad_values_are_refused, 0,
                        (int)(sizeof patches / sizeof patches[0]));
    tcase_add_loop_test(tc, settings_out_of_range_are_refused, 0,
                        (int)(sizeof settings / sizeof settings[0]));
    tcase_add_test(tc, a_setting_in_range_still_opens);
    return s;
}

int main(void)
{
    return kga_test_run_in_tmp_dir("model_values", values_suite);
}
