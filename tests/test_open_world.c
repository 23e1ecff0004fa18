/* Open-world decisions: the pieces of core/align/open_world.c (features,
 * rivals, the cut past the rivals' lists) on hand-made values, and the
 * whole path through the kgalign command on a small synthetic pair where a
 * share of each graph has no counterpart (`synth --one-sided`): entities
 * without counterpart get `no-match`, every row carries the runner-up, and
 * the probabilities are calibrated over all rows. The quality targets on
 * real data are benchmarks (bench/openworld.sh), not tests. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "align/open_world.h"
#include "testutil.h"

/* ---- the pieces ---- */

START_TEST(rival_margins)
{
    kga_ow_t ow;
    memset(&ow, 0, sizeof ow);
    float best = -3.0f;
    uint32_t rival_left[2] = {7, UINT32_MAX};
    float rival_best[2] = {2.0f, -3.4e38f};
    float rival_second[2] = {-1.0f, -3.4e38f};
    ow.n_right = 2;
    ow.rival_left = rival_left;
    ow.rival_best = rival_best;
    ow.rival_second = rival_second;
    /* Another query holds the rival: the margin is against its logit. */
    ck_assert_float_eq_tol(kga_ow_rival_margin(&ow, 3, 0, best), -5.0f, 1e-6);
    /* The query is the rival itself: the margin is against the second. */
    ck_assert_float_eq_tol(kga_ow_rival_margin(&ow, 7, 0, best), -2.0f, 1e-6);
    /* No rival at all: a huge margin, which the features clip. */
    ck_assert(kga_ow_rival_margin(&ow, 3, 1, best) > KGA_OW_CLIP);
    /* An entity outside the table: no rival. */
    ck_assert_float_eq(kga_ow_rival_margin(&ow, 3, 9, best), KGA_OW_CLIP);
}
END_TEST

START_TEST(no_probability_past_the_rivals_lists)
{
    kga_ow_t ow;
    memset(&ow, 0, sizeof ow);
    uint32_t ent[KGA_OW_TOPK + 1];
    float logit[KGA_OW_TOPK + 1];
    for (size_t i = 0; i <= KGA_OW_TOPK; i++) {
        ent[i] = (uint32_t)i;
        logit[i] = 10.0f - (float)i;
    }
    /* The rivals cover the first KGA_OW_TOPK candidates of a list only. */
    ck_assert_double_eq(kga_ow_prob(&ow, NULL, 0, ent, logit, KGA_OW_TOPK + 1,
                                    KGA_OW_TOPK),
                        0.0);
}
END_TEST

/* ---- through the command ---- */

static char tmp[256];
static const char *kgalign;

#define run kga_test_system

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/kga_test_open_world_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    kgalign = kga_test_kgalign();
    ck_assert_int_eq(
        kga_test_synth_import(tmp, "--entities 4000 --one-sided 0.3 --seed 7",
                              "src", "data"),
        0);
    ck_assert_int_eq(run("%s train %s/data -o %s/m.kgm --threads 2 "
                         "> %s/train.log 2>&1",
                         kgalign, tmp, tmp, tmp),
                     0);
}

static void teardown(void)
{
    run("rm -rf %s", tmp);
}

/* The left entities in no gold link: those the synthetic pair made
 * one-sided. A gold link's left id is the text before the tab. */
static int in_links(const char *id)
{
    char path[512], line[2048];
    snprintf(path, sizeof path, "%s/src/ent_links", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = strlen(id);
    int found = 0;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strncmp(line, id, n) == 0 && line[n] == '\t';
    fclose(f);
    return found;
}

START_TEST(counterpart_less_entities_get_no_match)
{
    ck_assert_int_eq(run("%s align %s/data %s/m.kgm -o %s/m.tsv 2> /dev/null",
                         kgalign, tmp, tmp, tmp),
                     0);
    char path[512], line[4096];
    snprintf(path, sizeof path, "%s/m.tsv", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "#left_id\tright_id\tprobability\tdecision\t"
                           "runner_up_id\trunner_up_probability\n");
    size_t rows = 0, lonely = 0, lonely_matched = 0, sampled = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        rows++;
        char *field[6];
        char *s = line;
        for (int i = 0; i < 6; i++) {
            field[i] = strsep(&s, "\t\n");
            ck_assert_msg(field[i] != NULL, "row %zu has %d fields", rows, i);
        }
        ck_assert(strcmp(field[3], "match") == 0 ||
                  strcmp(field[3], "no-match") == 0);
        double p = atof(field[2]), q = atof(field[5]);
        ck_assert(p >= 0 && p <= 1 && q >= 0 && q <= 1);
        /* The runner-up is another entity. */
        if (field[4][0] != '\0')
            ck_assert_str_ne(field[1], field[4]);
        /* One row in twenty is checked against the gold links (reading
         * them per row is slow). */
        if (rows % 20 != 0)
            continue;
        sampled++;
        if (!in_links(field[0])) {
            lonely++;
            lonely_matched += strcmp(field[3], "match") == 0;
        }
    }
    fclose(f);
    ck_assert_uint_gt(rows, 2500);
    ck_assert_uint_gt(lonely, 20);
    /* Measured 4% on this pair; the bound leaves room for other seeds. */
    ck_assert_msg(lonely_matched * 5 < lonely,
                  "%zu of %zu entities without counterpart matched",
                  lonely_matched, lonely);
}
END_TEST

START_TEST(eval_open_world_is_calibrated)
{
    char out[512];
    snprintf(out, sizeof out, "%s/ow.json", tmp);
    ck_assert_int_eq(run("%s eval %s/data %s/m.kgm --open-world --json "
                         "--report %s/ow.html > %s",
                         kgalign, tmp, tmp, tmp, out),
                     0);
    json_error_t jerr;
    json_t *j = json_load_file(out, 0, &jerr);
    ck_assert_msg(j != NULL, "eval --open-world --json: %s", jerr.text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "protocol")),
                     "open world");
    double queries = kga_test_num(j, "queries");
    ck_assert_double_eq(queries, kga_test_num(j, "with_counterpart") +
                                     kga_test_num(j, "without_counterpart"));
    ck_assert(kga_test_num(j, "without_counterpart") > 100);
    ck_assert_msg(kga_test_num(j, "precision") > 0.9, "precision %g",
                  kga_test_num(j, "precision"));
    ck_assert_msg(kga_test_num(j, "recall") > 0.8, "recall %g",
                  kga_test_num(j, "recall"));
    ck_assert_msg(kga_test_num(j, "without_counterpart_matched_share") < 0.2,
                  "matched share %g",
                  kga_test_num(j, "without_counterpart_matched_share"));
    ck_assert_msg(kga_test_num(j, "ece") < 0.06, "ece %g",
                  kga_test_num(j, "ece"));
    /* Every well-filled bin: the share correct near its mean probability. */
    json_t *bins = json_object_get(j, "calibration");
    ck_assert_uint_eq(json_array_size(bins), 5);
    double rows = 0;
    for (size_t i = 0; i < json_array_size(bins); i++) {
        json_t *b = json_array_get(bins, i);
        double n = kga_test_num(b, "rows");
        rows += n;
        if (n < 150)
            continue;
        double gap = fabs(kga_test_num(b, "mean_probability") -
                          kga_test_num(b, "share_correct"));
        ck_assert_msg(gap < 0.12, "bin %zu: mean %g, correct %g", i,
                      kga_test_num(b, "mean_probability"),
                      kga_test_num(b, "share_correct"));
    }
    ck_assert_double_eq(rows, queries);
    ck_assert(json_array_size(json_object_get(j, "worst_errors")) > 0);
    json_decref(j);
    ck_assert_int_eq(run("grep -q 'Reliability' %s/ow.html && grep -q "
                         "'Worst errors' %s/ow.html && grep -q threshold "
                         "%s/ow.html",
                         tmp, tmp, tmp),
                     0);
    /* The closed protocol stays, and says so. */
    ck_assert_int_eq(run("%s eval %s/data %s/m.kgm | grep -q 'protocol: "
                         "*closed'",
                         kgalign, tmp, tmp),
                     0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("open_world");
    TCase *pieces = kga_test_tcase(s, "pieces", 0);
    tcase_add_test(pieces, rival_margins);
    tcase_add_test(pieces, no_probability_past_the_rivals_lists);
    /* One pair and one model for the whole case: training is the cost. */
    TCase *cmd = kga_test_tcase(s, "command", 600);
    tcase_add_unchecked_fixture(cmd, setup, teardown);
    tcase_add_test(cmd, counterpart_less_entities_get_no_match);
    tcase_add_test(cmd, eval_open_world_is_calibrated);
    return s;
}

int main(void)
{
    return kga_test_run(suite);
}
