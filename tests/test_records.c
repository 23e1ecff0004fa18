/* Bringing one's own data: the readings of values (numbers, dates,
 * durations), the CSV reader, the N-Triples line parser, the records and
 * N-Triples layouts end to end through kga_import_run() (stores, links,
 * labelled pairs, entity columns, the name column and name predicates,
 * gzip), every kind of bad input named by file, line and column, lenient
 * skipping, order independence, and the attribute features of a pair. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv_reader.h"
#include "base/value.h"
#include "features/attributes.h"
#include "import/import.h"
#include "store/names.h"
#include "import/ntriples.h"
#include "store/links.h"
#include "store/store.h"

#include "testutil.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static char *read_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return kga_test_slurp(path, NULL);
}

static int file_exists(const char *dir, const char *name)
{
    char *s = read_out(dir, name);
    free(s);
    return s != NULL;
}

/* A small record set: two tables of songs and labelled pairs. */
static const char *const TABLE_A =
    "id,title,artist,price,released,time\n"
    "a1,Hello World,The Band,$ 1.29,18-May-15,3:40\n"
    "a2,\"Goodbye, Moon\",The Band,$ 0.99,1-Aug-12,4:02\n"
    "a3,\"Say \"\"Hi\"\"\",Other Group,$ 1.29,2013-01-05,2:58\n"
    "a4,Quiet Night,Other Group,$ 1.99,,5:10\n";
static const char *const TABLE_B =
    "id,title,artist,price,released,time\n"
    "b1,Hello World,the band,1.29,\"May 18 , 2015\",3:40\n"
    "b2,Goodbye Moon,The  Band,0.99,\"August 1 , 2012\",4:02\n"
    "b3,\"Say \"\"Hi\"\" (Remix)\",Other Group,1.29,\"January 5 , 2013\",3:01\n"
    "b4,Loud Day,Someone,2.49,\"March 3 , 2010\",3:10\n";

static void write_record_set(const char *src)
{
    kga_test_write_text(src, "tableA.csv", TABLE_A);
    kga_test_write_text(src, "tableB.csv", TABLE_B);
    kga_test_write_text(src, "train.csv",
                        "ltable_id,rtable_id,label\na1,b1,1\na1,b2,0\na2,b2,1\n"
                        "a2,b1,0\n");
    kga_test_write_text(src, "valid.csv",
                        "ltable_id,rtable_id,label\na3,b3,1\n"
                        "a3,b4,0\n");
    kga_test_write_text(src, "test.csv",
                        "ltable_id,rtable_id,label\na4,b4,0\n"
                        "a3,b3,1\n");
}

static int import_records(const char *src, const char *out,
                          const char *entity_columns, int lenient,
                          kga_import_summary_t *sum, kga_err_t *err)
{
    return kga_test_import(KGA_IMPORT_RECORDS, src, out, lenient,
                           entity_columns, sum, err);
}

/* import_records(), which must succeed: a failure names the importer's
 * message. */
static void records_ok(const char *src, const char *out,
                       const char *entity_columns, int lenient,
                       kga_import_summary_t *sum)
{
    kga_err_t err;
    ck_assert_msg(
        import_records(src, out, entity_columns, lenient, sum, &err) == 0,
        "%s", err.msg);
}

static const char *attr_of(const kga_store_t *s, uint32_t ent,
                           const char *key)
{
    const kga_attr_t *a;
    uint32_t n = kga_store_attrs(s, ent, &a);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(kga_store_attr_key_name(s, a[i].key), key) == 0)
            return kga_store_attr_literal(s, &a[i]);
    return NULL;
}

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

START_TEST(numbers)
{
    static const struct {
        const char *text;
        int ok;
        double value;
    } cases[] = {
        {"1.29", 1, 1.29},        {"$ 1.29", 1, 1.29},
        {"6.10 %", 1, 6.10},      {"-3", 1, -3},
        {"1,234.5", 1, 1234.5},   {"12 kg", 1, 12},
        {" 2.5e3 ", 1, 2500},     {".5", 1, 0.5},
        {"-", 0, 0},              {"", 0, 0},
        {"1,5", 0, 0},            {"3:40", 0, 0},
        {"2013 Big Machine", 0, 0}, {"1 2", 0, 0},
        {"abc", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -999;
        int ok = kga_value_number(cases[i].text, &v);
        ck_assert_msg(ok == cases[i].ok, "'%s': %d", cases[i].text, ok);
        if (ok)
            ck_assert_msg(fabs(v - cases[i].value) < 1e-9, "'%s': %g",
                          cases[i].text, v);
    }
}
END_TEST

START_TEST(dates)
{
    int64_t d = 0, e = 0;
    ck_assert(kga_value_date("2015-05-18", &d));
    ck_assert_int_eq(d, 16573); /* days since 1970-01-01 */
    static const char *const same[] = {
        "18-May-15", "May 18 , 2015", "May 18, 2015", "18 May 2015",
        "2015/05/18", "2015-05-18T10:00:00Z", "18th May 2015",
        "may 18 2015", "18-MAY-2015"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        ck_assert_msg(kga_value_date(same[i], &e), "'%s'", same[i]);
        ck_assert_msg(e == d, "'%s': %lld", same[i], (long long)e);
    }
    ck_assert(kga_value_date("Sept. 1, 1999", &e));
    ck_assert(kga_value_date("1970-01-01", &e) && e == 0);
    ck_assert(kga_value_date("1969-12-31", &e) && e == -1);
    ck_assert(kga_value_date("29-Feb-2016", &e));
    static const char *const not_dates[] = {
        "29-Feb-2015", "2015-13-01", "32 May 2015", "05/04/2015", "2015",
        "Hip-Hop/Rap", "May 2015", "3:40", "Mai 18, 2015", ""};
    for (size_t i = 0; i < sizeof not_dates / sizeof not_dates[0]; i++)
        ck_assert_msg(!kga_value_date(not_dates[i], &e), "'%s'",
                      not_dates[i]);
}
END_TEST

START_TEST(durations)
{
    double s;
    ck_assert(kga_value_duration("3:40", &s) && s == 220);
    ck_assert(kga_value_duration("1:02:03", &s) && s == 3723);
    ck_assert(kga_value_duration("PT3M40S", &s) && s == 220);
    ck_assert(kga_value_duration("PT1H", &s) && s == 3600);
    ck_assert(kga_value_duration("P1DT1S", &s) && s == 86401);
    ck_assert(kga_value_duration("PT0.5S", &s) && s == 0.5);
    static const char *const bad[] = {"3:4", "3:60", "3", "PT", "P",
                                      "PT3S4M", "1:2:3:4", "a:bc", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!kga_value_duration(bad[i], &s), "'%s'", bad[i]);
    double v;
    ck_assert_int_eq(kga_value_kind("3:40", &v), KGA_VALUE_DURATION);
    ck_assert_int_eq(kga_value_kind("18-May-15", &v), KGA_VALUE_DATE);
    ck_assert_int_eq(kga_value_kind("$ 1.29", &v), KGA_VALUE_NUMBER);
    ck_assert_int_eq(kga_value_kind("Hello", &v), KGA_VALUE_TEXT);
}
END_TEST

/* ------------------------------------------------------------------------
 * CSV
 * ------------------------------------------------------------------------ */

START_TEST(csv_records)
{
    const char *path = kga_test_tmp("good.csv");
    const char *text = "\xEF\xBB\xBFid,name\r\n"
                       "1,plain\r\n"
                       "\n"
                       "2,\"with, comma\"\n"
                       "3,\"quote \"\"q\"\" and\nline break\"\n"
                       "4,\n"
                       ",\"\"\n";
    kga_test_write_file(path, text, strlen(text));
    kga_csv_reader_t *r;
    kga_err_t err;
    ck_assert_int_eq(kga_csv_reader_open(path, &r, &err), 0);
    char **f;
    static const char *const want[][2] = {{"id", "name"},
                                          {"1", "plain"},
                                          {"2", "with, comma"},
                                          {"3", "quote \"q\" and\nline break"},
                                          {"4", ""},
                                          {"", ""}};
    static const uint64_t lines[] = {1, 2, 4, 5, 7, 8};
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(kga_csv_reader_next(r, &f, &err), 2);
        ck_assert_str_eq(f[0], want[i][0]);
        ck_assert_str_eq(f[1], want[i][1]);
        ck_assert_uint_eq(kga_csv_reader_line_no(r), lines[i]);
    }
    ck_assert_int_eq(kga_csv_reader_next(r, &f, &err), 0);
    kga_csv_reader_close(r);
}
END_TEST

START_TEST(csv_errors_name_line_and_column)
{
    static const struct {
        const char *text, *where;
    } cases[] = {
        {"a,b\n1,x\"y\n", "bad.csv:2:4: a quote inside an unquoted field"},
        {"a,b\n1,\"x\"y\n", "bad.csv:2:6: characters after a closing"},
        {"a,b\n1,\"open\n2,3\n", "bad.csv:2:3: quoted field never closed"},
    };
    const char *path = kga_test_tmp("bad.csv");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kga_test_write_file(path, cases[i].text, strlen(cases[i].text));
        kga_csv_reader_t *r;
        kga_err_t err;
        ck_assert_int_eq(kga_csv_reader_open(path, &r, &err), 0);
        char **f;
        ck_assert_int_eq(kga_csv_reader_next(r, &f, &err), 2);
        long rc = kga_csv_reader_next(r, &f, &err);
        kga_test_expect_error((int)rc, &err, KGA_EPARSE, cases[i].where);
        kga_csv_reader_close(r);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * N-Triples lines
 * ------------------------------------------------------------------------ */

static int nt(const char *line, kga_nt_triple_t *t, kga_nt_error_t *e,
              char *out)
{
    return kga_nt_parse(line, strlen(line), out, t, e);
}

START_TEST(ntriples_lines)
{
    char out[512];
    kga_nt_triple_t t;
    kga_nt_error_t e;
    ck_assert_int_eq(nt("<http://a/s> <http://a/p> <http://a/o> .", &t, &e,
                        out), 1);
    ck_assert_str_eq(t.subject, "http://a/s");
    ck_assert_str_eq(t.predicate, "http://a/p");
    ck_assert_str_eq(t.object, "http://a/o");
    ck_assert_int_eq(t.object_kind, KGA_NT_IRI);
    ck_assert_int_eq(nt("_:b1\t<http://a/p> \"x\\ty \\\"q\\\" \\u00E9\"@en-GB "
                        ". # comment", &t, &e, out), 1);
    ck_assert_int_eq(t.subject_kind, KGA_NT_BLANK);
    ck_assert_str_eq(t.subject, "_:b1");
    ck_assert_str_eq(t.object, "x\ty \"q\" \xC3\xA9");
    ck_assert_str_eq(t.lang, "en-GB");
    ck_assert_int_eq(nt("<s> <p> \"1\"^^<http://www.w3.org/2001/XMLSchema#int>"
                        ".", &t, &e, out), 1);
    ck_assert_str_eq(t.datatype, "http://www.w3.org/2001/XMLSchema#int");
    ck_assert_int_eq(nt("<s> <p> _:o.", &t, &e, out), 1);
    ck_assert_str_eq(t.object, "_:o");
    ck_assert_int_eq(nt("<http://a/\\U0001F600> <p> <o> .", &t, &e, out), 1);
    ck_assert_str_eq(t.subject, "http://a/\xF0\x9F\x98\x80");
    ck_assert_int_eq(nt("   # only a comment", &t, &e, out), 0);
    ck_assert_int_eq(nt("", &t, &e, out), 0);
    static const struct {
        const char *line;
        size_t column;
        const char *what;
    } bad[] = {
        {"<s> <p> <o>", 12, "does not end with '.'"},
        {"<s> <p> <o> . x", 15, "text after the final '.'"},
        {"<s <p> <o> .", 3, "not allowed in an IRI"},
        {"<s> \"p\" <o> .", 5, "a predicate is an <IRI>"},
        {"<s> <p> \"open .", 9, "not closed"},
        {"<s> <p> \"a\\qb\" .", 11, "unknown escape"},
        {"<s> <p> \"\\u00\" .", 10, "hexadecimal"},
        {"<s> <p> \"\\u0000\" .", 10, "NUL"},
        {"<s> <p> \"\\uD800\" .", 10, "surrogate"},
        {"<> <p> <o> .", 1, "empty IRI"},
        {"s <p> <o> .", 1, "a subject is"},
        {"<s> <p> 12 .", 9, "an object is"},
        {"<s> <p> \"x\"@ .", 12, "empty language tag"},
        {"<s> <p> \"x\"^<t> .", 12, "^^<IRI>"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(nt(bad[i].line, &t, &e, out) == -1, "'%s' accepted",
                      bad[i].line);
        ck_assert_msg(strstr(e.what, bad[i].what) != NULL &&
                          e.column == bad[i].column,
                      "'%s': column %zu: %s", bad[i].line, e.column, e.what);
    }
}
END_TEST

START_TEST(name_predicates_match)
{
    ck_assert(kga_names_key_is("http://purl.org/dc/terms/title", "title"));
    ck_assert(kga_names_key_is("<http://purl.org/dc/terms/title>",
                               "http://purl.org/dc/terms/title"));
    ck_assert(kga_names_key_is("full_name", "full_name"));
    ck_assert(!kga_names_key_is("http://x/subtitle", "title"));
    ck_assert(!kga_names_key_is("http://x/title", "http://y/title"));
    ck_assert(kga_names_key_looks_like_name("http://x/full_name"));
    ck_assert(kga_names_key_looks_like_name("dc:Title"));
    ck_assert(kga_names_key_looks_like_name("Song_Name"));
    ck_assert(!kga_names_key_looks_like_name("http://x/birthYear"));
}
END_TEST

/* ------------------------------------------------------------------------
 * The records layout
 * ------------------------------------------------------------------------ */

START_TEST(records_import)
{
    const char *src = kga_test_tmp("rec_src"), *out = kga_test_tmp("rec_out");
    write_record_set(src);
    kga_import_summary_t sum;
    records_ok(src, out, NULL, 0, &sum);
    ck_assert_uint_eq(sum.side[0].entities, 4);
    ck_assert_uint_eq(sum.side[1].entities, 4);
    ck_assert_uint_eq(sum.side[0].relations, 0);
    ck_assert_uint_eq(sum.side[0].named, 4);
    ck_assert_uint_eq(sum.side[0].labelled, 4);
    ck_assert_uint_eq(sum.side[0].n_name_keys, 1);
    ck_assert_str_eq(sum.side[0].name_keys[0].key, "title");
    ck_assert_msg(strstr(sum.name_note, "name column: title (chosen") != NULL,
                  "%s", sum.name_note);
    ck_assert_uint_eq(sum.pairs[0], 4);
    ck_assert_uint_eq(sum.pair_matches[0], 2);
    ck_assert_uint_eq(sum.pairs[1], 2);
    ck_assert_uint_eq(sum.pairs[2], 2);
    ck_assert_uint_eq(sum.train_links, 2);
    /* Rows sorted, labels kept; matches also links. */
    char *pairs = read_out(out, "train_pairs.tsv");
    ck_assert_str_eq(pairs, "a1\tb1\t1\na1\tb2\t0\na2\tb1\t0\na2\tb2\t1\n");
    free(pairs);
    char *links = read_out(out, "train_links.tsv");
    ck_assert_str_eq(links, "a1\tb1\na2\tb2\n");
    free(links);
    kga_store_t *a = kga_test_open_store(out, "left.kgs");
    int64_t a2 = kga_store_lookup(a, "a2");
    ck_assert_int_ge(a2, 0);
    ck_assert_str_eq(kga_store_entity_name(a, (uint32_t)a2), "Goodbye, Moon");
    ck_assert_str_eq(attr_of(a, (uint32_t)a2, "price"), "$ 0.99");
    ck_assert_ptr_null(attr_of(a, (uint32_t)kga_store_lookup(a, "a4"),
                               "released"));
    int64_t a3 = kga_store_lookup(a, "a3");
    ck_assert_str_eq(kga_store_entity_name(a, (uint32_t)a3), "Say \"Hi\"");
    kga_store_close(a);
}
END_TEST

START_TEST(records_entity_columns)
{
    const char *src = kga_test_tmp("ent_src"), *out = kga_test_tmp("ent_out");
    write_record_set(src);
    kga_import_summary_t sum;
    kga_err_t err;
    records_ok(src, out, " artist ", 0, &sum);
    /* Two artists on the left; on the right "the band" and "The  Band"
     * are one node. */
    ck_assert_uint_eq(sum.side[0].entities, 4 + 2);
    ck_assert_uint_eq(sum.side[1].entities, 4 + 3);
    ck_assert_uint_eq(sum.side[0].relations, 1);
    ck_assert_uint_eq(sum.side[1].triples, 4);
    ck_assert_uint_eq(sum.side[0].types, 2);
    kga_store_t *b = kga_test_open_store(out, "right.kgs");
    int64_t band = kga_store_lookup(b, "artist:the band");
    ck_assert_int_ge(band, 0);
    ck_assert_str_eq(kga_store_type_name(
                         b, kga_store_entity_type(b, (uint32_t)band)),
                     "artist");
    /* The smallest spelling names the node, whatever the order. */
    ck_assert_str_eq(kga_store_entity_name(b, (uint32_t)band), "The  Band");
    const kga_edge_t *in;
    ck_assert_uint_eq(kga_store_edges(b, (uint32_t)band, KGA_DIR_IN, &in), 2);
    int64_t b1 = kga_store_lookup(b, "b1");
    ck_assert_str_eq(kga_store_type_name(
                         b, kga_store_entity_type(b, (uint32_t)b1)),
                     "record");
    ck_assert_ptr_null(attr_of(b, (uint32_t)b1, "artist"));
    kga_store_close(b);
    /* Pairs may only name records, never a node. */
    kga_test_write_text(src, "test.csv",
                        "ltable_id,rtable_id,label\na1,artist:the "
                        "band,0\n");
    int rc = import_records(src, out, "artist", 0, &sum, &err);
    kga_test_expect_error(rc, &err, KGA_EUNKNOWN_ID,
                          "test.csv:2: column 'rtable_id': 'artist:the band' "
                          "is not an id of tableB.csv");
    rc = import_records(src, out, "album", 0, &sum, &err);
    kga_test_expect_error(rc, &err, KGA_EINVAL,
                          "--entity-columns: no column 'album'");
}
END_TEST

/* One bad input: the file to write, its text, and what the error says. */
typedef struct {
    const char *file, *text;
    int code;
    const char *where;
} bad_input_t;

static const bad_input_t bad_records[] = {
    {"tableA.csv", "id,title\na1,x\na2,y,z\n", KGA_EPARSE,
     "tableA.csv:3: expected 2 fields (as the header has), found 3"},
    {"tableA.csv", "key,title\na1,x\n", KGA_EPARSE,
     "tableA.csv:1: no id column (the header has: key, title)"},
    {"tableB.csv", "id,title\nb1,x\nb2,y\nb1,z\n", KGA_EDUPLICATE,
     "tableB.csv:4: column 'id': duplicate id 'b1' (first at line 2)"},
    {"tableA.csv", "id,title\n,x\n", KGA_EPARSE,
     "tableA.csv:2: column 'id': empty id"},
    {"tableA.csv", "id,title,title\na,b,c\n", KGA_EPARSE,
     "tableA.csv:1: column 'title' is in the header twice"},
    {"tableA.csv", "id,title\na1,\"x\n", KGA_EPARSE,
     "tableA.csv:2:4: quoted field never closed"},
    {"train.csv", "ltable_id,rtable_id,label\na1,b9,1\n", KGA_EUNKNOWN_ID,
     "train.csv:2: column 'rtable_id': 'b9' is not an id of tableB.csv"},
    {"train.csv", "ltable_id,rtable_id,label\na1,b1,yes\n", KGA_EPARSE,
     "train.csv:2: column 'label': 'yes' is not 0 or 1"},
    {"train.csv", "ltable_id,rtable_id,label\na1,b1\n", KGA_EPARSE,
     "train.csv:2: expected 3 fields"},
    {"train.csv", "left,right,label\na1,b1,1\n", KGA_EPARSE,
     "train.csv:1: no ltable_id column"},
};

START_TEST(records_bad_input)
{
    const bad_input_t *c = &bad_records[_i];
    const char *src = kga_test_tmp("bad_src"), *out = kga_test_tmp("bad_out");
    kga_test_remove_tree(src);
    write_record_set(src);
    kga_test_write_text(src, "tableA.csv",
                        "id,title\na1,Hello\na2,Goodbye\na3,Say\na4,Quiet\n");
    kga_test_write_text(src, "tableB.csv",
                        "id,title\nb1,Hello\nb2,Goodbye\nb3,Say\nb4,Loud\n");
    kga_test_write_text(src, c->file, c->text);
    kga_import_summary_t sum;
    kga_err_t err;
    int rc = import_records(src, out, NULL, 0, &sum, &err);
    kga_test_expect_error(rc, &err, c->code, c->where);
    if (c->code == KGA_EPARSE && strstr(c->where, ":1:") == NULL &&
        strstr(c->where, "never closed") == NULL) {
        /* Lenient: the line is skipped and counted. */
        rc = import_records(src, out, NULL, 1, &sum, &err);
        ck_assert_msg(rc == 0, "lenient: %s", err.msg);
        ck_assert_uint_ge(sum.skipped_lines, 1);
    }
}
END_TEST

START_TEST(records_lenient_counts)
{
    const char *src = kga_test_tmp("len_src"), *out = kga_test_tmp("len_out");
    write_record_set(src);
    kga_test_write_text(src, "train.csv",
                        "ltable_id,rtable_id,label\na1,b1,1\na9,b1,0\na1,b2,2\n"
                        "a2,b2,1\na2,b1,0\n");
    kga_import_summary_t sum;
    records_ok(src, out, NULL, 1, &sum);
    ck_assert_uint_eq(sum.skipped_lines, 2);
    ck_assert_uint_eq(sum.pairs[0], 3);
    int found = 0;
    for (unsigned i = 0; i < sum.file_count; i++)
        if (strcmp(sum.files[i].name, "train.csv") == 0) {
            ck_assert_uint_eq(sum.files[i].skipped, 2);
            found = 1;
        }
    ck_assert(found);
}
END_TEST

START_TEST(records_link_sets_and_carving)
{
    const char *src = kga_test_tmp("ls_src"), *out = kga_test_tmp("ls_out");
    write_record_set(src);
    kga_import_summary_t sum;
    kga_err_t err;
    records_ok(src, out, NULL, 0, &sum);
    ck_assert(file_exists(out, "test_pairs.tsv"));
    /* A test file of matches only (here without a label column) is a link
     * set: no pairs file, and the one of the earlier import is gone. */
    kga_test_write_text(src, "test.csv", "ltable_id,rtable_id\na4,b4\n");
    records_ok(src, out, NULL, 0, &sum);
    ck_assert(!file_exists(out, "test_pairs.tsv"));
    ck_assert_uint_eq(sum.pairs[2], 0);
    ck_assert_uint_eq(sum.test_links, 1);
    /* ... and strictly 1:1, as a links file: a3 is matched in valid.csv. */
    kga_test_write_text(src, "test.csv", "ltable_id,rtable_id\na4,b4\na3,b3\n");
    kga_test_expect_error(import_records(src, out, NULL, 0, &sum, &err), &err,
                          KGA_EDUPLICATE, "test.csv:3: left id 'a3' is "
                                          "linked twice (also at");
    /* Without valid.csv a share of the training rows becomes validation
     * rows, their matches' links with them. */
    char path[4096];
    snprintf(path, sizeof path, "%s/valid.csv", src);
    remove(path);
    kga_import_params_t p = kga_test_import_params(KGA_IMPORT_RECORDS, src, out);
    p.valid_fraction = 0.5;
    ck_assert_msg(kga_import_run(&p, &sum, NULL, &err) == 0, "%s", err.msg);
    ck_assert(sum.valid_carved);
    ck_assert_uint_eq(sum.pairs[0] + sum.pairs[1], 4);
    ck_assert_uint_eq(sum.pairs[1], 2);
    ck_assert_uint_eq(sum.train_links + sum.valid_links, 2);
    ck_assert_uint_eq(sum.valid_links, sum.pair_matches[1]);
}
END_TEST

START_TEST(records_name_column)
{
    const char *src = kga_test_tmp("nc_src"), *out = kga_test_tmp("nc_out");
    write_record_set(src);
    kga_import_params_t p = kga_test_import_params(KGA_IMPORT_RECORDS, src, out);
    p.name_column = "artist";
    kga_import_summary_t sum;
    kga_err_t err;
    ck_assert_msg(kga_import_run(&p, &sum, NULL, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(sum.side[0].name_keys[0].key, "artist");
    kga_store_t *a = kga_test_open_store(out, "left.kgs");
    ck_assert_str_eq(kga_store_entity_name(
                         a, (uint32_t)kga_store_lookup(a, "a1")),
                     "The Band");
    kga_store_close(a);
    p.name_column = "nope";
    kga_test_expect_error(kga_import_run(&p, &sum, NULL, &err), &err,
                          KGA_EINVAL, "--name-column: no column 'nope'");
    /* Without a column named like a name, the most distinct text column. */
    kga_test_write_text(src, "tableA.csv",
                        "id,code,what\na1,x,Alpha\na2,x,Beta\n"
                        "a3,y,Gamma\na4,y,Delta\n");
    kga_test_write_text(src, "tableB.csv",
                        "id,code,what\nb1,x,Alpha\nb2,x,Beta\n"
                        "b3,y,Gamma\nb4,y,Epsilon\n");
    p.name_column = NULL;
    ck_assert_msg(kga_import_run(&p, &sum, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(strstr(sum.name_note, "name column: what") != NULL, "%s",
                  sum.name_note);
}
END_TEST

/* Every table and pair file with its rows in another order gives the same
 * bytes. */
START_TEST(records_order_independent)
{
    const char *src = kga_test_tmp("ord_src"), *out1 = kga_test_tmp("ord_out1"),
               *out2 = kga_test_tmp("ord_out2");
    write_record_set(src);
    kga_import_summary_t sum;
    records_ok(src, out1, "artist", 0, &sum);
    kga_test_write_text(
        src, "tableA.csv",
        "id,title,artist,price,released,time\n"
        "a4,Quiet Night,Other Group,$ 1.99,,5:10\n"
        "a3,\"Say \"\"Hi\"\"\",Other Group,$ 1.29,2013-01-05,2:58\n"
        "a2,\"Goodbye, Moon\",The Band,$ 0.99,1-Aug-12,4:02\n"
        "a1,Hello World,The Band,$ 1.29,18-May-15,3:40\n");
    kga_test_write_text(
        src, "tableB.csv",
        "id,title,artist,price,released,time\n"
        "b4,Loud Day,Someone,2.49,\"March 3 , 2010\",3:10\n"
        "b2,Goodbye Moon,The  Band,0.99,\"August 1 , 2012\",4:02\n"
        "b3,\"Say \"\"Hi\"\" (Remix)\",Other Group,1.29,\"January 5 , "
        "2013\",3:01\n"
        "b1,Hello World,the band,1.29,\"May 18 , 2015\",3:40\n");
    kga_test_write_text(src, "train.csv",
                        "ltable_id,rtable_id,label\na2,b1,0\na2,b2,1\na1,b2,0\n"
                        "a1,b1,1\n");
    records_ok(src, out2, "artist", 0, &sum);
    static const char *const files[] = {"left.kgs", "right.kgs",
                                        "train_links.tsv", "train_pairs.tsv",
                                        "valid_pairs.tsv", "test_pairs.tsv"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t n1, n2;
        char p1[4096], p2[4096];
        snprintf(p1, sizeof p1, "%s/%s", out1, files[i]);
        snprintf(p2, sizeof p2, "%s/%s", out2, files[i]);
        char *x = kga_test_read_file(p1, &n1), *y = kga_test_read_file(p2, &n2);
        ck_assert_msg(n1 == n2 && memcmp(x, y, n1) == 0, "%s differs",
                      files[i]);
        free(x);
        free(y);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * The N-Triples layout, and name predicates
 * ------------------------------------------------------------------------ */

static const char *const LEFT_NT =
    "# people\n"
    "<http://a.example/p1> <http://www.w3.org/2000/01/rdf-schema#label> "
    "\"Ada Lovelace\"@en .\n"
    "<http://a.example/p1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
    "<http://schema.org/Person> .\n"
    "<http://a.example/p1> <http://a.example/born> "
    "\"1815-12-10\"^^<http://www.w3.org/2001/XMLSchema#date> .\n"
    "<http://a.example/p2> <http://www.w3.org/2000/01/rdf-schema#label> "
    "\"Charles Babbage\" .\n"
    "<http://a.example/p2> <http://a.example/knows> <http://a.example/p1> "
    ".\n"
    "_:b1 <http://a.example/knows> <http://a.example/p2> .\n";
static const char *const RIGHT_NT =
    "<http://b.example/x1> <http://purl.org/dc/terms/title> \"Lovelace, "
    "Ada\" .\n"
    "<http://b.example/x2> <http://purl.org/dc/terms/title> \"Babbage, "
    "Charles\" .\n"
    "<http://b.example/x2> <http://b.example/friend> <http://b.example/x1> "
    ".\n"
    "<http://b.example/x3> <http://purl.org/dc/terms/title> \"Nobody\" .\n";

static void write_nt_set(const char *src)
{
    kga_test_write_text(src, "left.nt", LEFT_NT);
    char path[4096];
    snprintf(path, sizeof path, "%s/right.nt", src);
    kga_test_write_file(path, RIGHT_NT, strlen(RIGHT_NT));
    ck_assert_int_eq(kga_test_system("gzip -f '%s'", path), 0);
    kga_test_write_text(src, "train_links",
                        "<http://a.example/p1>\t<http://b.example/x1>\n");
    kga_test_write_text(src, "test_links.tsv",
                        "http://a.example/p2\thttp://b.example/x2\t1\n"
                        "http://a.example/p2\thttp://b.example/x3\t0\n");
}

static int import_nt(const char *src, const char *out, const char *predicate,
                     int lenient, kga_import_summary_t *sum, kga_err_t *err)
{
    kga_import_params_t p =
        kga_test_import_params(KGA_IMPORT_NTRIPLES, src, out);
    p.lenient = lenient;
    if (predicate != NULL)
        p.name_predicates[p.n_name_predicates++] = predicate;
    return kga_import_run(&p, sum, NULL, err);
}

/* import_nt(), which must succeed: a failure names the importer's
 * message. */
static void nt_ok(const char *src, const char *out, const char *predicate,
                  int lenient, kga_import_summary_t *sum)
{
    kga_err_t err;
    ck_assert_msg(import_nt(src, out, predicate, lenient, sum, &err) == 0,
                  "%s", err.msg);
}

START_TEST(ntriples_import)
{
    const char *src = kga_test_tmp("nt_src"), *out = kga_test_tmp("nt_out");
    write_nt_set(src);
    kga_import_summary_t sum;
    nt_ok(src, out, NULL, 0, &sum);
    ck_assert_uint_eq(sum.side[0].entities, 3);
    ck_assert_uint_eq(sum.side[1].entities, 3);
    ck_assert_uint_eq(sum.side[0].types, 1);
    ck_assert_uint_eq(sum.side[0].triples, 2);
    ck_assert_uint_eq(sum.side[0].labelled, 2);
    /* dc:title gives no name by itself: a warning with the hint. */
    ck_assert_uint_eq(sum.side[1].labelled, 0);
    ck_assert_uint_eq(sum.side[1].n_name_hints, 1);
    ck_assert_str_eq(sum.side[1].name_hints[0].key,
                     "http://purl.org/dc/terms/title");
    ck_assert_uint_eq(sum.side[1].name_hints[0].entities, 3);
    ck_assert_uint_eq(sum.pairs[2], 2);
    kga_store_t *a = kga_test_open_store(out, "left.kgs");
    uint32_t p1 = (uint32_t)kga_store_lookup(a, "http://a.example/p1");
    ck_assert_str_eq(kga_store_entity_name(a, p1), "Ada Lovelace");
    ck_assert_str_eq(attr_of(a, p1, "http://a.example/born"), "1815-12-10");
    ck_assert_str_eq(kga_store_type_name(a, kga_store_entity_type(a, p1)),
                     "http://schema.org/Person");
    ck_assert_int_ge(kga_store_lookup(a, "_:b1"), 0);
    kga_store_close(a);
    /* With the predicate, the titles name the right graph. */
    nt_ok(src, out, "title", 0, &sum);
    ck_assert_uint_eq(sum.side[1].labelled, 3);
    ck_assert_str_eq(sum.side[1].name_keys[0].key,
                     "http://purl.org/dc/terms/title");
    kga_store_t *b = kga_test_open_store(out, "right.kgs");
    ck_assert_str_eq(kga_store_entity_name(
                         b, (uint32_t)kga_store_lookup(
                                b, "http://b.example/x1")),
                     "Lovelace, Ada");
    kga_store_close(b);
}
END_TEST

START_TEST(ntriples_bad_input)
{
    const char *src = kga_test_tmp("ntb_src"), *out = kga_test_tmp("ntb_out");
    write_nt_set(src);
    char line[] = "<http://a.example/p3> <http://a.example/p> \"a\\qb\" .\n";
    char path[4096];
    snprintf(path, sizeof path, "%s/left.nt", src);
    FILE *f = fopen(path, "ab");
    fputs(line, f);
    fclose(f);
    kga_import_summary_t sum;
    kga_err_t err;
    int rc = import_nt(src, out, NULL, 0, &sum, &err);
    kga_test_expect_error(rc, &err, KGA_EPARSE,
                          "left.nt:8: column 46: an unknown escape");
    nt_ok(src, out, NULL, 1, &sum);
    ck_assert_uint_eq(sum.skipped_lines, 1);
    kga_test_write_text(src, "left.nt", LEFT_NT);
    kga_test_write_text(src, "test_links.tsv",
                        "http://a.example/p2\tnope\t1\n");
    rc = import_nt(src, out, NULL, 1, &sum, &err);
    ck_assert_int_eq(rc, 0);
    rc = import_nt(src, out, NULL, 0, &sum, &err);
    kga_test_expect_error(rc, &err, KGA_EUNKNOWN_ID,
                          "test_links.tsv:1: right id 'nope'");
    kga_test_write_text(src, "test_links.tsv",
                        "http://a.example/p2\thttp://b.example/x2\t2\n");
    rc = import_nt(src, out, NULL, 0, &sum, &err);
    kga_test_expect_error(rc, &err, KGA_EPARSE,
                          "test_links.tsv:1: field 3: label '2'");
    /* A corrupt gzip file is a format error naming it, even when lenient:
     * nothing after it can be read. */
    snprintf(path, sizeof path, "%s/right.nt.gz", src);
    size_t len;
    char *gz = kga_test_read_file(path, &len);
    kga_test_write_file(path, gz, len / 2);
    free(gz);
    kga_test_write_text(src, "test_links.tsv",
                        "http://a.example/p2\thttp://b.example/x2\n");
    rc = import_nt(src, out, NULL, 0, &sum, &err);
    kga_test_expect_error(rc, &err, KGA_EFORMAT, "right.nt.gz: gzip data");
    rc = import_nt(src, out, NULL, 1, &sum, &err);
    kga_test_expect_error(rc, &err, KGA_EFORMAT, "right.nt.gz: gzip data");
}
END_TEST

/* A title attribute in the OpenEA layout: a hint without the predicate,
 * names with it (every format takes --name-predicate). */
START_TEST(openea_name_predicate)
{
    const char *src = kga_test_tmp("oe_src"), *out = kga_test_tmp("oe_out");
    kga_test_write_text(src, "rel_triples_1",
                        "http://a/1\thttp://a/r\thttp://a/2\n");
    kga_test_write_text(src, "rel_triples_2",
                        "http://b/1\thttp://b/r\thttp://b/2\n");
    kga_test_write_text(src, "attr_triples_1",
                        "http://a/1\thttp://a/title\tOne\n"
                        "http://a/2\thttp://a/full_name\tTwo\n");
    kga_test_write_text(src, "attr_triples_2",
                        "http://b/1\thttp://b/title\tOne\n"
                        "http://b/2\thttp://b/title\tTwo\n");
    kga_test_write_text(src, "721_5fold/1/train_links",
                        "http://a/1\thttp://b/1\n");
    kga_test_write_text(src, "721_5fold/1/test_links",
                        "http://a/2\thttp://b/2\n");
    kga_import_params_t p = kga_test_import_params(KGA_IMPORT_OPENEA, src, out);
    kga_import_summary_t sum;
    kga_err_t err;
    ck_assert_msg(kga_import_run(&p, &sum, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(sum.side[0].labelled, 0);
    ck_assert_uint_eq(sum.side[0].n_name_hints, 2);
    ck_assert_str_eq(sum.side[0].name_hints[0].key, "http://a/full_name");
    ck_assert_str_eq(sum.side[0].name_hints[1].key, "http://a/title");
    p.name_predicates[p.n_name_predicates++] = "title";
    p.name_predicates[p.n_name_predicates++] = "http://a/full_name";
    ck_assert_msg(kga_import_run(&p, &sum, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(sum.side[0].labelled, 2);
    ck_assert_uint_eq(sum.side[1].labelled, 2);
    ck_assert_uint_eq(sum.side[0].n_name_keys, 2);
    ck_assert_uint_eq(sum.side[0].n_name_hints, 0);
    kga_store_t *a = kga_test_open_store(out, "left.kgs");
    ck_assert_str_eq(kga_store_entity_name(
                         a, (uint32_t)kga_store_lookup(a, "http://a/2")),
                     "Two");
    kga_store_close(a);
    /* Name columns are for record tables. */
    p.name_column = "title";
    kga_test_expect_error(kga_import_run(&p, &sum, NULL, &err), &err,
                          KGA_EINVAL, "records format");
}
END_TEST

/* ------------------------------------------------------------------------
 * Attribute features
 * ------------------------------------------------------------------------ */

START_TEST(attribute_features)
{
    const char *src = kga_test_tmp("af_src"), *out = kga_test_tmp("af_out");
    write_record_set(src);
    /* Column names differ in case and '_': still one channel each. */
    kga_test_write_text(
        src, "tableB.csv",
        "ID,Title,artist,Price,released,TIME\n"
        "b1,Hello World,the band,1.29,\"May 18 , 2015\",3:40\n"
        "b2,Goodbye Moon,The  Band,0.99,\"August 1 , 2012\",4:02\n"
        "b3,Say Hi (Remix),Other Group,2.58,\"January 5 , 2014\",3:01\n"
        "b4,Loud Day,Someone,-,\"March 3 , 2010\",3:10\n");
    kga_import_summary_t sum;
    kga_err_t err;
    records_ok(src, out, "artist", 0, &sum);
    kga_store_t *a = kga_test_open_store(out, "left.kgs");
    kga_store_t *b = kga_test_open_store(out, "right.kgs");
    kga_attr_model_t *m;
    ck_assert_int_eq(
        kga_attr_model_new(a, b, KGA_ATTR_MAX_RELATIONS, &m, &err), 0);
    /* title, price, released, time; the artist relation. */
    ck_assert_uint_eq(kga_attr_channel_count(m), 5);
    int seen_kind[4] = {0, 0, 0, 0}, relations = 0;
    uint32_t n = kga_attr_feature_count(m);
    ck_assert_uint_eq(n, 2 + 3 + 3 + 3 + 2);
    const kga_attr_channel_t *released = NULL, *price = NULL, *title = NULL;
    for (uint32_t c = 0; c < kga_attr_channel_count(m); c++) {
        const kga_attr_channel_t *ch = kga_attr_channel(m, c);
        seen_kind[ch->kind]++;
        relations += ch->relation;
        if (strcmp(ch->name, "released") == 0)
            released = ch;
        if (strcmp(ch->name, "price") == 0)
            price = ch;
        if (strcmp(ch->name, "title") == 0)
            title = ch;
    }
    ck_assert_int_eq(relations, 1);
    ck_assert_int_eq(seen_kind[KGA_VALUE_DATE], 1);
    ck_assert_int_eq(seen_kind[KGA_VALUE_DURATION], 1);
    ck_assert_int_eq(seen_kind[KGA_VALUE_NUMBER], 1);
    ck_assert_ptr_nonnull(released);
    ck_assert_ptr_nonnull(price);
    ck_assert_ptr_nonnull(title);
    float f[KGA_ATTR_MAX_FEATURES];
    uint32_t a1 = (uint32_t)kga_store_lookup(a, "a1");
    uint32_t a3 = (uint32_t)kga_store_lookup(a, "a3");
    uint32_t a4 = (uint32_t)kga_store_lookup(a, "a4");
    uint32_t b1 = (uint32_t)kga_store_lookup(b, "b1");
    uint32_t b3 = (uint32_t)kga_store_lookup(b, "b3");
    uint32_t b4 = (uint32_t)kga_store_lookup(b, "b4");
    kga_attr_features(m, a1, b1, f);
    for (uint32_t c = 0; c < kga_attr_channel_count(m); c++) {
        const kga_attr_channel_t *ch = kga_attr_channel(m, c);
        /* Equal texts ("the band" is the same n-grams as "The Band") and
         * equal values however written, nothing missing. */
        if (ch->kind == KGA_VALUE_TEXT)
            ck_assert_msg(fabsf(f[ch->first_feature] - 1.0f) < 1e-4f,
                          "%s n-grams %g", ch->name, f[ch->first_feature]);
        if (ch->features == 3)
            ck_assert_msg(f[ch->first_feature + 1] == 1.0f, "%s value %g",
                          ch->name, f[ch->first_feature + 1]);
        ck_assert_float_eq(f[ch->first_feature + ch->features - 1], 0.0f);
    }
    /* a3 against b3: the price doubles (value 0.5), the date a year off
     * (1 - 365/365 = 0), the title partly shared. */
    kga_attr_features(m, a3, b3, f);
    ck_assert_float_eq_tol(f[price->first_feature + 1], 0.5f, 1e-6f);
    ck_assert_float_eq_tol(f[released->first_feature + 1], 0.0f, 1e-6f);
    ck_assert(f[title->first_feature] > 0.2f && f[title->first_feature] < 1);
    /* a4 has no date; b4's price "-" reads as no value but is text. */
    kga_attr_features(m, a4, b4, f);
    ck_assert_float_eq(f[released->first_feature + 2], 1.0f);
    ck_assert_float_eq(f[released->first_feature + 1], 0.0f);
    ck_assert_float_eq(f[price->first_feature + 1], 0.0f);
    kga_attr_model_free(m);
    /* Stores that share nothing: no channels, no features. */
    kga_test_write_text(src, "tableB.csv",
                        "id,other\nb1,x\nb2,y\nb3,z\nb4,w\n");
    kga_test_write_text(src, "test.csv",
                        "ltable_id,rtable_id,label\na4,b4,1\n");
    kga_store_close(a);
    kga_store_close(b);
    records_ok(src, out, NULL, 0, &sum);
    a = kga_test_open_store(out, "left.kgs");
    b = kga_test_open_store(out, "right.kgs");
    ck_assert_int_eq(
        kga_attr_model_new(a, b, KGA_ATTR_MAX_RELATIONS, &m, &err), 0);
    ck_assert_uint_eq(kga_attr_feature_count(m), 0);
    kga_attr_model_free(m);
    kga_store_close(a);
    kga_store_close(b);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *records_suite(void)
{
    Suite *s = suite_create("records");
    TCase *units = kga_test_tcase(s, "units", 0);
    tcase_add_test(units, numbers);
    tcase_add_test(units, dates);
    tcase_add_test(units, durations);
    tcase_add_test(units, csv_records);
    tcase_add_test(units, csv_errors_name_line_and_column);
    tcase_add_test(units, ntriples_lines);
    tcase_add_test(units, name_predicates_match);

    TCase *layouts = kga_test_tcase(s, "layouts", 30);
    tcase_add_test(layouts, records_import);
    tcase_add_test(layouts, records_entity_columns);
    tcase_add_loop_test(layouts, records_bad_input, 0,
                        (int)(sizeof bad_records / sizeof bad_records[0]));
    tcase_add_test(layouts, records_lenient_counts);
    tcase_add_test(layouts, records_link_sets_and_carving);
    tcase_add_test(layouts, records_name_column);
    tcase_add_test(layouts, records_order_independent);
    tcase_add_test(layouts, ntriples_import);
    tcase_add_test(layouts, ntriples_bad_input);
    tcase_add_test(layouts, openea_name_predicate);

    TCase *features = kga_test_tcase(s, "attribute features", 30);
    tcase_add_test(features, attribute_features);
    return s;
}

int main(void)
{
    return kga_test_run_in_tmp_dir("records", records_suite);
}
