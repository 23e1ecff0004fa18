/* End to end through the kgalign command: synth -> import -> train -> eval
 * -> align on a small synthetic pair, the guarantees of training (it never
 * reads the test links; same seed and threads give the same model bytes; a
 * model refuses other stores), the README's record example (import ->
 * train -> eval on labelled pairs -> align --pairs), and the quality
 * targets on the shared benchmarks when ../shared/data is there. The benchmarks train the full
 * model, minutes in a plain build and far longer under a sanitizer or
 * valgrind: a sanitizer build (KGA_SANITIZER_BUILD) and KGA_SKIP_REAL_DATA
 * leave them out, with a message. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char tmp[256];
static const char *kgalign;

/* Runs `kgalign eval DATA MODEL --json`, both named in the temporary
 * directory, and returns the parsed object. */
static json_t *eval_json(const char *data, const char *model)
{
    char out[512];
    snprintf(out, sizeof out, "%s/eval.json", tmp);
    ck_assert_int_eq(kga_test_system("%s eval %s/%s %s/%s --json > %s",
                                     kgalign, tmp, data, tmp, model, out),
                     0);
    json_error_t jerr;
    json_t *j = json_load_file(out, 0, &jerr);
    ck_assert_msg(j != NULL, "eval --json: %s", jerr.text);
    return j;
}

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/kga_test_pipeline_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    kgalign = kga_test_kgalign();
    ck_assert_int_eq(
        kga_test_synth_import(tmp, "--entities 3000 --seed 5", "src", "data"),
        0);
}

static void teardown(void)
{
    kga_test_system("rm -rf %s", tmp);
}

START_TEST(train_never_reads_test_links)
{
    /* Without test_links.tsv, training must still work: it never opens it. */
    ck_assert_int_eq(
        kga_test_system("mv %s/data/test_links.tsv %s/test_links.saved", tmp,
                        tmp),
        0);
    ck_assert_int_eq(kga_test_system("%s train %s/data -o %s/m.kgm --epochs 1 "
                         "2> %s/train.log",
                         kgalign, tmp, tmp, tmp),
                     0);
    ck_assert_int_eq(
        kga_test_system("mv %s/test_links.saved %s/data/test_links.tsv", tmp,
                        tmp),
        0);
    json_t *j = eval_json("data", "m.kgm");
    double hits1 = kga_test_num(j, "hits1"), mrr = kga_test_num(j, "mrr");
    ck_assert_msg(hits1 > 0.6, "synthetic Hits@1 %.3f", hits1);
    ck_assert(mrr >= hits1 && mrr <= 1.0);
    ck_assert(kga_test_num(j, "hits10") >= kga_test_num(j, "hits5"));
    ck_assert(kga_test_num(j, "prauc") > 0.5);
    json_decref(j);
    /* align writes a line per aligned left entity, with a header. */
    ck_assert_int_eq(kga_test_system("%s align %s/data %s/m.kgm -o "
                                     "%s/matches.tsv 2>/dev/null",
                                     kgalign, tmp, tmp, tmp),
                     0);
    ck_assert_int_eq(
        kga_test_system("head -1 %s/matches.tsv | grep -q '^#'", tmp), 0);
    ck_assert_int_eq(
        kga_test_system("test $(wc -l < %s/matches.tsv) -gt 1000", tmp), 0);
}
END_TEST

START_TEST(same_seed_same_model_bytes)
{
    ck_assert_int_eq(
        kga_test_system("%s train %s/data -o %s/a.kgm --gnn --epochs 1 --seed 3 "
                        "--threads 2 2>/dev/null",
                        kgalign, tmp, tmp),
        0);
    ck_assert_int_eq(
        kga_test_system("%s train %s/data -o %s/b.kgm --gnn --epochs 1 --seed 3 "
                        "--threads 2 2>/dev/null",
                        kgalign, tmp, tmp),
        0);
    ck_assert_int_eq(kga_test_system("cmp -s %s/a.kgm %s/b.kgm", tmp, tmp), 0);
}
END_TEST

START_TEST(model_refuses_other_stores)
{
    ck_assert_int_eq(
        kga_test_system("%s train %s/data -o %s/m.kgm 2>/dev/null",
                        kgalign, tmp, tmp),
        0);
    ck_assert_int_eq(
        kga_test_synth_import(tmp, "--entities 3000 --seed 6", "src2", "data2"),
        0);
    ck_assert_int_eq(
        kga_test_system("%s eval %s/data2 %s/m.kgm 2> %s/err.txt > /dev/null",
                        kgalign, tmp, tmp, tmp),
        1);
    /* The message says what the model was trained on and the way out. */
    ck_assert_int_eq(
        kga_test_system("grep 'generation 1 of a left store' %s/err.txt | "
                        "grep -q 'train a model on it (kgalign train)'",
                        tmp),
        0);
    /* A damaged model file is refused with a message, not a crash. */
    ck_assert_int_eq(
        kga_test_system("printf 'XXXX' | dd of=%s/m.kgm bs=1 seek=100 "
                        "conv=notrunc 2>/dev/null",
                        tmp),
        0);
    ck_assert_int_eq(
        kga_test_system("%s eval %s/data %s/m.kgm 2> %s/err.txt > /dev/null",
                        kgalign, tmp, tmp, tmp),
        1);
    ck_assert_int_eq(kga_test_system("grep -q 'm.kgm' %s/err.txt", tmp), 0);
}
END_TEST

/* The quality targets of the product defaults on the real benchmarks: the
 * closed-protocol test Hits@1 the issues hold us to (fr_en 0.99, D-Y-15K
 * 0.81; the defaults reach 0.9938 and 0.8182) and PRAUC floors a little
 * under what the defaults reach (fr_en 0.9974, D-Y-15K 0.6454): a change
 * that costs ranking quality fails here. D-Y's pair PRAUC fell from 0.806
 * when pseudo-seeds began to need P >= 0.9 (fusion.h), the price of its
 * open-world precision rising from 0.85 to 0.93. */
static void real_target(const char *dataset, const char *format,
                        double min_hits1, double min_prauc)
{
    char src[512];
    if (!kga_test_real_data(dataset, src, sizeof src))
        return;
    ck_assert_int_eq(
        kga_test_system("%s import --format %s %s %s/real > /dev/null", kgalign,
                        format, src, tmp),
        0);
    ck_assert_int_eq(
        kga_test_system("%s train %s/real -o %s/real.kgm 2> %s/real.log",
                        kgalign, tmp, tmp, tmp),
        0);
    json_t *j = eval_json("real", "real.kgm");
    double hits1 = kga_test_num(j, "hits1"), prauc = kga_test_num(j, "prauc");
    printf("%s: test Hits@1 %.4f, PRAUC %.4f\n", dataset, hits1, prauc);
    ck_assert_msg(hits1 >= min_hits1, "%s Hits@1 %.4f < %.2f", dataset, hits1,
                  min_hits1);
    ck_assert_msg(prauc >= min_prauc, "%s PRAUC %.4f < %.2f", dataset, prauc,
                  min_prauc);
    json_decref(j);
}

START_TEST(dbp15k_fr_en_target)
{
    real_target("dbp15k_fr_en", "dbp15k", 0.99, 0.99);
}
END_TEST

START_TEST(openea_d_y_target)
{
    real_target("openea_D_Y_15K_V1", "openea", 0.81, 0.62);
}
END_TEST

/* ---- record tables ---- */

static void records_setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/kga_test_pipeline_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    kgalign = kga_test_kgalign();
}

static void write_text(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    kga_test_write_file(path, text, strlen(text));
}

/* The example of README.md, "Bring your own data", file for file. */
START_TEST(readme_record_example)
{
    ck_assert_int_eq(kga_test_system("mkdir -p %s/src", tmp), 0);
    write_text("src/tableA.csv",
               "id,title,artist,price,released\n"
               "a1,Hello World,The Band,$ 1.29,18-May-15\n"
               "a2,\"Goodbye, Moon\",The Band,$ 0.99,1-Aug-12\n"
               "a3,Quiet Night,Other Group,$ 1.99,5-Jan-13\n"
               "a4,Loud Day,Someone,$ 2.49,3-Mar-10\n");
    write_text("src/tableB.csv",
               "id,title,artist,price,released\n"
               "b1,Hello World (Live),the band,1.29,\"May 18 , 2015\"\n"
               "b2,Goodbye Moon,The Band,0.99,\"August 1 , 2012\"\n"
               "b3,A Quiet Night,Other Group,1.99,\"January 5 , 2013\"\n"
               "b4,Loud Day,Someone Else,2.49,\"March 3 , 2010\"\n");
    write_text("src/train.csv", "ltable_id,rtable_id,label\na1,b1,1\n"
                                "a1,b2,0\na2,b2,1\na2,b1,0\n");
    write_text("src/valid.csv", "ltable_id,rtable_id,label\na3,b3,1\n"
                                "a3,b4,0\n");
    write_text("src/test.csv", "ltable_id,rtable_id,label\na4,b4,1\n"
                               "a4,b3,0\n");
    ck_assert_int_eq(
        kga_test_system("cd %s && %s import --format records src data "
                        "> import.txt && grep -q 'name column: title' "
                        "import.txt && %s train data -o data/model.kgm "
                        "2> train.txt",
                        tmp, kgalign, kgalign),
        0);
    json_t *j = eval_json("data", "data/model.kgm");
    ck_assert_str_eq(json_string_value(json_object_get(j, "protocol")),
                     "labelled pairs");
    ck_assert_int_eq((int)kga_test_num(j, "pairs"), 2);
    ck_assert_int_eq((int)kga_test_num(j, "positives"), 1);
    ck_assert(kga_test_num(j, "f1") == 1.0 &&
              kga_test_num(j, "precision") == 1.0 &&
              kga_test_num(j, "recall") == 1.0);
    ck_assert(kga_test_num(j, "prauc") == 1.0 &&
              kga_test_num(j, "recall_at_p95") == 1.0);
    json_decref(j);
    ck_assert_int_eq(
        kga_test_system("cd %s && %s align data data/model.kgm --pairs "
                        "src/test.csv -o scores.tsv 2>/dev/null && "
                        "test \"$(cut -f1,2,4 scores.tsv | tr '\\t\\n' ' |')\" "
                        "= '#left_id right_id decision|a4 b4 match|a4 b3 "
                        "no-match|'",
                        tmp, kgalign),
        0);
    /* The pair list may also be the imported pairs file, tab-separated. */
    ck_assert_int_eq(
        kga_test_system("cd %s && %s align data data/model.kgm --pairs "
                        "data/test_pairs.tsv -o scores2.tsv 2>/dev/null && "
                        "test $(grep -c match scores2.tsv) = 2",
                        tmp, kgalign),
        0);
    /* A pair naming an unknown id is an error naming the line. */
    write_text("bad.tsv", "a4\tb4\na4\tzz\n");
    ck_assert_int_eq(
        kga_test_system("cd %s && %s align data data/model.kgm --pairs "
                        "bad.tsv -o s.tsv 2> err.txt; test $? = 1 && grep -q "
                        "\"bad.tsv:2: right id 'zz'\" err.txt",
                        tmp, kgalign),
        0);
}
END_TEST

/* The record sets of ../shared/data/records: F1 on the test pairs at the
 * model's threshold at least DeepMatcher's published figure and the TF-IDF
 * floor of the set's README (the larger of the two), and training within
 * 60 s. */
static void records_target(const char *set, const char *import_options,
                           double min_f1)
{
    char src[512], dataset[256];
    snprintf(dataset, sizeof dataset, "records/%s", set);
    if (!kga_test_real_data(dataset, src, sizeof src))
        return;
    ck_assert_int_eq(
        kga_test_system("%s import --format records %s %s/rec %s > /dev/null",
                        kgalign, src, tmp, import_options),
        0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(
        kga_test_system("%s train %s/rec -o %s/rec.kgm 2> %s/rec.log",
                        kgalign, tmp, tmp, tmp),
        0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) +
                     (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    json_t *j = eval_json("rec", "rec.kgm");
    double f1 = kga_test_num(j, "f1");
    printf("%s%s%s: test F1 %.4f (precision %.4f, recall %.4f), trained in "
           "%.1f s\n",
           set, import_options[0] ? " " : "", import_options, f1,
           kga_test_num(j, "precision"), kga_test_num(j, "recall"), seconds);
    ck_assert_msg(f1 >= min_f1, "%s F1 %.4f < %.3f", set, f1, min_f1);
    ck_assert_msg(seconds < 60, "%s trained in %.1f s", set, seconds);
    json_decref(j);
}

START_TEST(itunes_amazon_target)
{
    records_target("iTunes-Amazon", "", 0.885);
    records_target("iTunes-Amazon", "--entity-columns Artist_Name,Album_Name",
                   0.885);
}
END_TEST

START_TEST(dblp_acm_target)
{
    records_target("DBLP-ACM", "", 0.984);
}
END_TEST

START_TEST(beer_target)
{
    records_target("Beer", "", 0.867);
}
END_TEST

/* Why the real-data benchmarks are left out, or NULL when they run. */
static const char *real_data_skipped(void)
{
#ifdef KGA_SANITIZER_BUILD
    return "built with -fsanitize=" KGA_SANITIZER_BUILD;
#else
    const char *skip = getenv("KGA_SKIP_REAL_DATA");
    if (skip != NULL && skip[0] != '\0' && strcmp(skip, "0") != 0)
        return "KGA_SKIP_REAL_DATA is set";
    return NULL;
#endif
}

static Suite *pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = kga_test_tcase(s, "synthetic", 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, train_never_reads_test_links);
    tcase_add_test(tc, same_seed_same_model_bytes);
    tcase_add_test(tc, model_refuses_other_stores);
    TCase *rec = kga_test_tcase(s, "records", 120);
    tcase_add_checked_fixture(rec, records_setup, teardown);
    tcase_add_test(rec, readme_record_example);
    const char *skipped = real_data_skipped();
    if (skipped != NULL) {
        printf("test_pipeline: skipping the real-data benchmark targets "
               "(dbp15k_fr_en, openea_D_Y_15K_V1, records): %s; a plain "
               "`make test` "
               "runs them\n",
               skipped);
    } else {
        TCase *real = kga_test_tcase(s, "benchmarks", 900);
        tcase_add_checked_fixture(real, setup, teardown);
        tcase_add_test(real, dbp15k_fr_en_target);
        tcase_add_test(real, openea_d_y_target);
        TCase *records = kga_test_tcase(s, "record benchmarks", 300);
        tcase_add_checked_fixture(records, records_setup, teardown);
        tcase_add_test(records, itunes_amazon_target);
        tcase_add_test(records, dblp_acm_target);
        tcase_add_test(records, beer_target);
    }
    return s;
}

int main(void)
{
    return kga_test_run(pipeline_suite);
}
