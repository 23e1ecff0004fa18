/* Replays the fuzz inputs kept in the repository through the entry points
 * of the libFuzzer harnesses (tests/fuzz/fuzz_*.c, included below without
 * their libFuzzer main): every crash ever found (tests/fuzz/regressions/
 * HARNESS/) and every seed (tests/fuzz/corpus/HARNESS/). A test fails when
 * an input crashes, trips a sanitizer (make SANITIZER=address|undefined
 * test) or breaks one of the harness's oracles: an undefined return code, a
 * store or model that opens but reads out of bounds, a response that is not
 * JSON, ... The harnesses say which.
 *
 * Paths are relative to the repository root, where `make test` runs; set
 * KGA_FUZZ_DIR to run from elsewhere. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KGA_FUZZ_REPLAY 1
#include "fuzz/fuzz_config.c"
#include "fuzz/fuzz_import_dbp15k.c"
#include "fuzz/fuzz_import_ntriples.c"
#include "fuzz/fuzz_import_openea.c"
#include "fuzz/fuzz_import_records.c"
#include "fuzz/fuzz_model.c"
#include "fuzz/fuzz_request_path.c"
#include "fuzz/fuzz_store.c"
#include "fuzz/fuzz_wire.c"

#include "testutil.h"

typedef struct {
    const char *name;
    int (*one)(const uint8_t *data, size_t size);
} harness_t;

static const harness_t harnesses[] = {
    {"fuzz_wire", fuzz_wire_one},
    {"fuzz_store", fuzz_store_one},
    {"fuzz_model", fuzz_model_one},
    {"fuzz_import_openea", fuzz_import_openea_one},
    {"fuzz_import_dbp15k", fuzz_import_dbp15k_one},
    {"fuzz_import_records", fuzz_import_records_one},
    {"fuzz_import_ntriples", fuzz_import_ntriples_one},
    {"fuzz_config", fuzz_config_one},
    {"fuzz_request_path", fuzz_request_path_one},
};
#define N_HARNESSES (sizeof harnesses / sizeof harnesses[0])

static const char *fuzz_dir(void)
{
    const char *dir = getenv("KGA_FUZZ_DIR");
    return dir != NULL && dir[0] != '\0' ? dir : "tests/fuzz";
}

/* Runs every regular file of dir (which may be absent when required is 0)
 * through h. Returns how many ran. */
static size_t replay_dir(const harness_t *h, const char *dir, int required)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        ck_assert_msg(!required,
                      "%s: %s (run from the repository root or set "
                      "KGA_FUZZ_DIR)",
                      dir, strerror(errno));
        return 0;
    }
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || stat(path, &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        size_t len;
        uint8_t *data = (uint8_t *)kga_test_read_file(path, &len);
        int rc = h->one(data, len);
        free(data);
        ck_assert_msg(rc == 0, "%s: %s oracle failed on this input (see "
                      "stderr)", path, h->name);
        count++;
    }
    closedir(d);
    return count;
}

/* Each harness has seeds, so that a moved directory cannot turn the replay
 * into a test that passes without running anything. */
START_TEST(seed_corpus_present)
{
    const harness_t *h = &harnesses[_i];
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/corpus/%s", fuzz_dir(), h->name);
    ck_assert_msg(replay_dir(h, dir, 1) > 0, "%s: no seed inputs", dir);
}
END_TEST

START_TEST(regressions_stay_fixed)
{
    const harness_t *h = &harnesses[_i];
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/regressions/%s", fuzz_dir(), h->name);
    replay_dir(h, dir, 0);
}
END_TEST

/* The oracles can fail: an undefined code, or a code without its message,
 * is reported; a documented refusal is not. */
START_TEST(oracles_report_failures)
{
    /* An import whose two graphs share nothing with the links is refused,
     * with a documented code: the harness accepts it. */
    static const char refused[] =
        "%% rel_triples_1\na\tr\tb\n%% rel_triples_2\nx\tr\ty\n"
        "%% 721_5fold/1/train_links\nq\tz\n%% 721_5fold/1/test_links\n";
    ck_assert_int_eq(fuzz_import_openea_one((const uint8_t *)refused,
                                            sizeof refused - 1),
                     0);
    /* The failures below print their reason: keep it out of the log. */
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int null_fd = open("/dev/null", O_WRONLY);
    ck_assert(saved >= 0 && null_fd >= 0);
    dup2(null_fd, STDERR_FILENO);
    close(null_fd);
    static const int only_parse[] = {KGA_EPARSE, 0};
    kga_err_t err;
    kga_err_set(&err, KGA_EIO, "x");
    int undefined = fuzz_check_rc("self-test", KGA_EIO, &err, only_parse);
    kga_err_set(&err, KGA_EPARSE, "x");
    int documented = fuzz_check_rc("self-test", KGA_EPARSE, &err, only_parse);
    kga_err_clear(&err);
    int missing = fuzz_check_rc("self-test", KGA_EPARSE, &err, only_parse);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ck_assert_int_ne(undefined, 0);
    ck_assert_int_eq(documented, 0);
    ck_assert_int_ne(missing, 0);
}
END_TEST

static Suite *fuzz_regressions_suite(void)
{
    Suite *s = suite_create("fuzz_regressions");
    TCase *tc = kga_test_tcase(s, "replay", 300);
    tcase_add_loop_test(tc, seed_corpus_present, 0, (int)N_HARNESSES);
    tcase_add_loop_test(tc, regressions_stay_fixed, 0, (int)N_HARNESSES);
    tcase_add_test(tc, oracles_report_failures);
    return s;
}

int main(void)
{
    return kga_test_run(fuzz_regressions_suite);
}
