/* The model writer's limits on settings: the settings of a file may not
 * pass the 64 MiB the validator accepts, so neither the settings builder
 * nor the writer produce what the reader would refuse; both say so with
 * KGA_ELIMIT and change nothing. Apart from test_model_file.c, which is
 * being reorganised elsewhere; fold it in there afterwards. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model_file.h"
#include "testutil.h"

/* The validator's limit on all settings sections together
 * (docs/model-format.md). */
#define KV_LIMIT (64u << 20)

/* A value of n bytes of 'v'. */
static char *long_value(size_t n)
{
    char *v = malloc(n + 1);
    ck_assert_ptr_nonnull(v);
    memset(v, 'v', n);
    v[n] = '\0';
    return v;
}


START_TEST(builder_refuses_settings_past_the_limit)
{
    kga_model_kv_t *kv = kga_model_kv_new();
    /* "k=" + value + "\n" and the section's NUL: exactly the limit fits. */
    char *v = long_value(KV_LIMIT - 4);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "k", v), 0);
    /* Nothing more fits, not even an empty value... */
    ck_assert_int_eq(kga_model_kv_set_str(kv, "e", ""), KGA_ELIMIT);
    ck_assert_int_eq(kga_model_kv_set_int(kv, "n", 1), KGA_ELIMIT);
    kga_model_kv_free(kv);
    /* ...and one byte more is refused on its own. */
    kv = kga_model_kv_new();
    free(v);
    v = long_value(KV_LIMIT - 3);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "k", v), KGA_ELIMIT);
    /* The refused value left the set as it was. */
    ck_assert_int_eq(kga_model_kv_set_str(kv, "k", "short"), 0);
    kga_model_kv_free(kv);
    free(v);
}
END_TEST

START_TEST(settings_at_the_limit_are_written_and_read)
{
    char path[256];
    kga_test_tmp_path(path, sizeof path, "full.kgm");
    kga_model_kv_t *kv = kga_model_kv_new();
    char *v = long_value(KV_LIMIT - 4);
    ck_assert_int_eq(kga_model_kv_set_str(kv, "k", v), 0);
    kga_model_writer_t *w;
    kga_err_t err;
    ck_assert_int_eq(kga_model_writer_new(path, &w, &err), 0);
    ck_assert_int_eq(kga_model_writer_add_kv(w, "settings", kv), 0);
    ck_assert_msg(kga_model_writer_commit(w, &err) == 0, "%s", err.msg);
    kga_model_writer_free(w);
    kga_model_t *m;
    ck_assert_msg(kga_model_open(path, &m, &err) == 0, "%s", err.msg);
    const char *got;
    ck_assert_int_eq(kga_model_kv_get_str(m, "k", &got, &err), 0);
    ck_assert_uint_eq(strlen(got), KV_LIMIT - 4);
    kga_model_close(m);
    ck_assert_int_eq(unlink(path), 0);
    kga_model_kv_free(kv);
    free(v);
}
END_TEST

START_TEST(writer_refuses_settings_sections_past_the_limit)
{
    char path[256];
    kga_test_tmp_path(path, sizeof path, "big.kgm");
    char *v = long_value(KV_LIMIT / 2);
    kga_model_kv_t *a = kga_model_kv_new(), *b = kga_model_kv_new();
    ck_assert_int_eq(kga_model_kv_set_str(a, "a", v), 0);
    ck_assert_int_eq(kga_model_kv_set_str(b, "b", v), 0);
    free(v);
    kga_model_writer_t *w;
    kga_err_t err;
    ck_assert_int_eq(kga_model_writer_new(path, &w, &err), 0);
    ck_assert_int_eq(kga_model_writer_add_kv(w, "first", a), 0);
    /* Each is under the limit, both together are not. */
    ck_assert_int_eq(kga_model_writer_add_kv(w, "second", b), KGA_ELIMIT);
    ck_assert_msg(strstr(kga_model_writer_error(w), "'second'") != NULL,
                  "%s", kga_model_writer_error(w));
    ck_assert_int_eq(kga_model_writer_commit(w, &err), KGA_ELIMIT);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    kga_model_writer_free(w);
    /* No model, no temporary. */
    ck_assert_int_eq(kga_test_count_entries(kga_test_tmp_dir, NULL), 0);
    kga_model_kv_free(a);
    kga_model_kv_free(b);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("model_limits");
    TCase *tc = kga_test_tcase(s, "settings", 120);
    tcase_add_test(tc, builder_refuses_settings_past_the_limit);
    tcase_add_test(tc, settings_at_the_limit_are_written_and_read);
    tcase_add_test(tc, writer_refuses_settings_sections_past_the_limit);
    return s;
}

int main(void)
{
    return kga_test_run_in_tmp_dir("model_limits", make_suite);
}
