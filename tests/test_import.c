/* The import: line reader, names, links files, both layouts on the
 * hand-written fixtures in tests/fixtures/import/, malformed input (strict:
 * the error names file and line; lenient: skipped and counted), missing
 * files, order independence (every input file shuffled gives byte-identical
 * output) and the counts of the real datasets in ../shared/data (skipped with
 * a message when that folder is absent or KGA_SKIP_REAL_DATA is set;
 * KGA_DATA_DIR overrides it). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "import/import.h"
#include "import/import_add.h"
#include "base/line_reader.h"
#include "base/rng.h"
#include "store/links.h"
#include "store/names.h"
#include "store/store.h"

#include "testutil.h"

/* The fixtures are kept with a ".txt" suffix (so that no file in the
 * repository carries a benchmark file's name) and laid out under their real
 * names in the temporary directory before the tests run. */
#define FIXTURES_SRC "tests/fixtures/import"

static char fixtures_dir[4200];

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* Path of one materialised fixture directory (e.g. "openea_small"). */
static const char *fixture(const char *name)
{
    static char buf[16][4400];
    static int next;
    char *p = buf[next++ % 16];
    snprintf(p, sizeof buf[0], "%s/%s", fixtures_dir, name);
    return p;
}

/* Copies tests/fixtures/import into the temporary directory, dropping the
 * ".txt" suffix of every file. */
static int materialise_fixtures(void)
{
    snprintf(fixtures_dir, sizeof fixtures_dir, "%s/fixtures",
             kga_test_tmp_dir);
    char cmd[9000];
    snprintf(cmd, sizeof cmd,
             "cp -r '%s' '%s' && find '%s' -type f -name '*.txt' "
             "-exec sh -c 'mv \"$1\" \"${1%%.txt}\"' _ {} \\;",
             FIXTURES_SRC, fixtures_dir, fixtures_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void append_str(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "ab");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fputs(text, f);
    fclose(f);
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    return kga_rng_hash(*s += 0x9e3779b97f4a7c15ull);
}

/* Writes the lines of src to dst in an order drawn from *seed. */
static void shuffle_file(const char *src, const char *dst, uint64_t *seed)
{
    size_t len;
    char *data = kga_test_read_file(src, &len);
    size_t n = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    size_t *lens = malloc(cap * sizeof *lens);
    for (size_t i = 0; i < len;) {
        char *nl = memchr(data + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - data) + 1 : len;
        if (n == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof *lines);
            lens = realloc(lens, cap * sizeof *lens);
        }
        lines[n] = data + i;
        lens[n++] = end - i;
        i = end;
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next(seed) % i);
        char *t = lines[i - 1];
        lines[i - 1] = lines[j];
        lines[j] = t;
        size_t tl = lens[i - 1];
        lens[i - 1] = lens[j];
        lens[j] = tl;
    }
    FILE *f = fopen(dst, "wb");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++) {
        fwrite(lines[i], 1, lens[i], f);
        if (lines[i][lens[i] - 1] != '\n')
            fputc('\n', f);
    }
    fclose(f);
    free(lines);
    free(lens);
    free(data);
}

/* Copies the directory tree src to dst; with seed non-NULL every file's
 * lines are shuffled on the way. */
static void copy_tree(const char *src, const char *dst, uint64_t *seed)
{
    if (mkdir(dst, 0777) != 0)
        ck_assert_int_eq(errno, EEXIST);
    DIR *d = opendir(src);
    ck_assert_msg(d != NULL, "cannot open %s", src);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "README.md") == 0)
            continue;
        char s[4096], t[4096];
        snprintf(s, sizeof s, "%s/%s", src, e->d_name);
        snprintf(t, sizeof t, "%s/%s", dst, e->d_name);
        struct stat st;
        ck_assert_int_eq(stat(s, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            copy_tree(s, t, seed);
        } else if (seed != NULL) {
            shuffle_file(s, t, seed);
        } else {
            size_t len;
            char *data = kga_test_read_file(s, &len);
            kga_test_write_file(t, data, len);
            free(data);
        }
    }
    closedir(d);
}

static int run_import(kga_import_format_t format, const char *src,
                      const char *out, int lenient,
                      kga_import_summary_t *summary, kga_err_t *err)
{
    return kga_test_import(format, src, out, lenient, NULL, summary, err);
}

static const char *name_of(const kga_store_t *s, const char *ext)
{
    int64_t id = kga_store_lookup(s, ext);
    ck_assert_msg(id >= 0, "entity %s missing", ext);
    return kga_store_entity_name(s, (uint32_t)id);
}

static const char *type_of(const kga_store_t *s, const char *ext)
{
    int64_t id = kga_store_lookup(s, ext);
    ck_assert_msg(id >= 0, "entity %s missing", ext);
    uint32_t t = kga_store_entity_type(s, (uint32_t)id);
    return t == KGA_NO_TYPE ? NULL : kga_store_type_name(s, t);
}

static char *links_text(const char *out, const char *name)
{
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", out, name);
    return kga_test_read_file(path, &len);
}

static size_t count_lines(const char *path)
{
    size_t len, n = 0;
    char *data = kga_test_read_file(path, &len);
    for (size_t i = 0; i < len; i++)
        n += data[i] == '\n';
    free(data);
    return n;
}

static const kga_import_file_t *file_stats(const kga_import_summary_t *s,
                                           const char *name)
{
    for (unsigned i = 0; i < s->file_count; i++)
        if (strcmp(s->files[i].name, name) == 0)
            return &s->files[i];
    return NULL;
}

static size_t out_lines(const char *out, const char *name);

/* ------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------ */

static void check_uri_name(const char *uri, const char *want)
{
    char out[512];
    kga_names_from_uri(uri, out);
    ck_assert_msg(strcmp(out, want) == 0, "%s -> '%s', want '%s'", uri, out,
                  want);
}

START_TEST(uri_local_names)
{
    check_uri_name("http://ex.org/r/Jos%C3%A9_Mar%C3%ADa", "José María");
    check_uri_name("http://ex.org/r/Caf%c3%a9", "Café");
    check_uri_name("http://ex.org/onto#hasPart", "hasPart");
    check_uri_name("YAGO/E052610", "E052610");
    check_uri_name("plain_name", "plain name");
    check_uri_name("<http://ex.org/r/A_B>", "A B");
    check_uri_name("http://ex.org/r/trailing/", "trailing");
    check_uri_name("http://ex.org/r/Like_a_Love%3F", "Like a Love?");
    /* Invalid escapes stay as written; so do escapes that are not UTF-8
     * and control characters. */
    check_uri_name("http://ex.org/r/100%_sure", "100% sure");
    check_uri_name("http://ex.org/r/a%ZZb", "a%ZZb");
    check_uri_name("http://ex.org/r/x%FFy", "x%FFy");
    check_uri_name("http://ex.org/r/x%C3y", "x%C3y");
    check_uri_name("http://ex.org/r/nul%00line%0Aend", "nul%00line%0Aend");
    check_uri_name("http://ex.org/r/%E2%98%AE%FF", "☮%FF");
    check_uri_name("http://ex.org/r/under%5Fscore", "under_score");
    check_uri_name("http://ex.org/r/Zürich", "Zürich");
    check_uri_name("///", "///");
}
END_TEST

static void check_clean(const char *lit, const char *want)
{
    char out[512];
    size_t n = kga_names_clean_literal(lit, strlen(lit), out);
    ck_assert_msg(strcmp(out, want) == 0 && n == strlen(want),
                  "%s -> '%s', want '%s'", lit, out, want);
}

START_TEST(label_literals)
{
    check_clean("\"Paris\"@fr", "Paris");
    check_clean("\"Paris\"@en-GB", "Paris");
    check_clean("\"42\"^^<http://www.w3.org/2001/XMLSchema#integer>", "42");
    check_clean("\"1983\"^^xsd:gYear", "1983");
    check_clean("\"quoted\"", "quoted");
    check_clean("Alice Liddell@en", "Alice Liddell");
    check_clean("12^^xsd:int", "12");
    check_clean("plain text", "plain text");
    check_clean("mail@example", "mail@example");
    check_clean("\"a \"b\" c\"", "a \"b\" c");
    check_clean("\"unclosed", "\"unclosed");
    check_clean("\"x\" and more", "\"x\" and more");
    check_clean("\"\"", "");
}
END_TEST

START_TEST(label_and_type_keys)
{
    ck_assert_int_eq(kga_names_label_rank(
                         "http://www.w3.org/2000/01/rdf-schema#label"),
                     KGA_LABEL_RDFS);
    ck_assert_int_eq(kga_names_label_rank("rdfs:label"), KGA_LABEL_RDFS);
    ck_assert_int_eq(kga_names_label_rank("<rdfs:label>"), KGA_LABEL_RDFS);
    ck_assert_int_eq(kga_names_label_rank("skos:prefLabel"), KGA_LABEL_PREF);
    ck_assert_int_eq(kga_names_label_rank(
                         "http://www.w3.org/2004/02/skos/core#prefLabel"),
                     KGA_LABEL_PREF);
    ck_assert_int_eq(kga_names_label_rank("http://xmlns.com/foaf/0.1/name"),
                     KGA_LABEL_NAME);
    ck_assert_int_eq(kga_names_label_rank("http://schema.org/name"),
                     KGA_LABEL_NAME);
    ck_assert_int_eq(kga_names_label_rank("name"), KGA_LABEL_NAME);
    ck_assert_int_eq(kga_names_label_rank("http://dbpedia.org/ontology/"
                                          "birthName"),
                     KGA_LABEL_NONE);
    ck_assert_int_eq(kga_names_label_rank("http://ex.org/labels"),
                     KGA_LABEL_NONE);
    ck_assert_int_eq(
        kga_names_is_type_key("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
        1);
    ck_assert_int_eq(kga_names_is_type_key("rdf:type"), 1);
    ck_assert_int_eq(kga_names_is_type_key("<rdf:type>"), 1);
    ck_assert_int_eq(kga_names_is_type_key("type"), 1);
    ck_assert_int_eq(kga_names_is_type_key("http://dbpedia.org/ontology/type"),
                     0);
    ck_assert_int_eq(kga_names_is_type_key("typeOf"), 0);
}
END_TEST

/* ------------------------------------------------------------------------
 * Line reader
 * ------------------------------------------------------------------------ */

/* Reads every line of path; returns them joined by '|', errors as "!CODE". */
static char *read_lines(const char *path, char *buf, size_t cap)
{
    kga_line_reader_t *r;
    kga_err_t err;
    ck_assert_int_eq(kga_line_reader_open(path, &r, &err), 0);
    buf[0] = '\0';
    size_t used = 0;
    for (;;) {
        char *line;
        size_t len;
        int rc = kga_line_reader_next(r, &line, &len, &err);
        if (rc == 0)
            break;
        if (rc < 0) {
            ck_assert_msg(rc == KGA_EPARSE || rc == KGA_ELIMIT, "%s", err.msg);
            used += (size_t)snprintf(buf + used, cap - used, "!%llu|",
                                     (unsigned long long)
                                         kga_line_reader_line_no(r));
            continue;
        }
        ck_assert_uint_eq(strlen(line), len);
        used += (size_t)snprintf(buf + used, cap - used, "%s|", line);
    }
    ck_assert_uint_eq(kga_line_reader_bytes(r), kga_line_reader_size(r));
    kga_line_reader_close(r);
    return buf;
}

START_TEST(line_reader_line_ends_and_checks)
{
    char buf[4096];
    const char *p = kga_test_tmp("lines.txt");
    static const char text[] =
        "\xEF\xBB\xBF" "first\r\nsecond\n\nthi\x00rd\nbad \xC3\x28 utf8\n"
        "caf\xC3\xA9\r\nlast without newline";
    kga_test_write_file(p, text, sizeof text - 1);
    ck_assert_str_eq(read_lines(p, buf, sizeof buf),
                     "first|second||!4|!5|café|last without newline|");

    kga_line_reader_t *r;
    kga_err_t err;
    char *line;
    size_t len;
    ck_assert_int_eq(kga_line_reader_open(p, &r, &err), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(kga_line_reader_next(r, &line, &len, &err), 1);
    kga_test_expect_error(kga_line_reader_next(r, &line, &len, &err), &err,
                          KGA_EPARSE, "lines.txt:4: NUL byte at column 4");
    kga_test_expect_error(kga_line_reader_next(r, &line, &len, &err), &err,
                          KGA_EPARSE, "lines.txt:5: invalid UTF-8 at column 5");
    kga_line_reader_close(r);

    kga_test_expect_error(kga_line_reader_open(kga_test_tmp("nope"), &r, &err),
                          &err, KGA_ENOENT, "nope: no such file");
    kga_test_expect_error(kga_line_reader_open(kga_test_tmp_dir, &r, &err),
                          &err, KGA_EIO, "is a directory");
}
END_TEST

START_TEST(line_reader_long_lines)
{
    /* A line over the limit is reported and skipped; lines on both sides of
     * it, and one exactly at the limit, come through; the buffer refills
     * across many lines. */
    const char *p = kga_test_tmp("long.txt");
    FILE *f = fopen(p, "wb");
    fputs("before\n", f);
    for (unsigned i = 0; i < KGA_LINE_MAX + 10; i++)
        fputc('x', f);
    fputs("\nmiddle\n", f);
    for (unsigned i = 0; i < KGA_LINE_MAX; i++)
        fputc('y', f);
    fputc('\n', f);
    for (int i = 0; i < 200000; i++)
        fprintf(f, "line %d\t%d\n", i, i * 7);
    fclose(f);

    kga_line_reader_t *r;
    kga_err_t err;
    char *line;
    size_t len;
    ck_assert_int_eq(kga_line_reader_open(p, &r, &err), 0);
    ck_assert_int_eq(kga_line_reader_next(r, &line, &len, &err), 1);
    ck_assert_str_eq(line, "before");
    kga_test_expect_error(kga_line_reader_next(r, &line, &len, &err), &err,
                          KGA_ELIMIT, "long.txt:2: line longer than");
    ck_assert_int_eq(kga_line_reader_next(r, &line, &len, &err), 1);
    ck_assert_str_eq(line, "middle");
    ck_assert_int_eq(kga_line_reader_next(r, &line, &len, &err), 1);
    ck_assert_uint_eq(len, KGA_LINE_MAX);
    /* Checked without an assertion a line: each Check assertion costs a
     * message to the parent process, which under a sanitizer on a busy
     * machine took longer than the test's timeout. */
    int bad = -1;
    for (int i = 0; i < 200000 && bad < 0; i++) {
        char *fields[3], want[32];
        snprintf(want, sizeof want, "line %d", i);
        if (kga_line_reader_next(r, &line, &len, &err) != 1 ||
            kga_split_tabs(line, len, fields, 3) != 2 ||
            strcmp(fields[0], want) != 0 || atoi(fields[1]) != i * 7)
            bad = i;
    }
    ck_assert_msg(bad < 0, "line %d of the 200000 short ones is wrong", bad);
    ck_assert_int_eq(kga_line_reader_next(r, &line, &len, &err), 0);
    ck_assert_uint_eq(kga_line_reader_line_no(r), 200004);
    kga_line_reader_close(r);
}
END_TEST

START_TEST(split_tabs_counts_every_field)
{
    char line[] = "a\t\tb\tc";
    char *f[2];
    ck_assert_uint_eq(kga_split_tabs(line, strlen("a\t\tb\tc"), f, 2), 4);
    ck_assert_str_eq(f[0], "a");
    ck_assert_str_eq(f[1], "");
    char one[] = "solo";
    ck_assert_uint_eq(kga_split_tabs(one, 4, f, 2), 1);
    ck_assert_str_eq(f[0], "solo");
}
END_TEST

/* ------------------------------------------------------------------------
 * Links files
 * ------------------------------------------------------------------------ */

START_TEST(links_write_read_round_trip)
{
    kga_links_t *l = kga_links_new("mem");
    ck_assert_int_eq(kga_links_add(l, "b", "B", 1, 0), 0);
    ck_assert_int_eq(kga_links_add(l, "a", "Z", 2, 0), 0);
    ck_assert_int_eq(kga_links_add(l, "é", "E", 3, 0), 0);
    ck_assert_int_eq(kga_links_add(l, "A", "a", 4, 0), 0);
    ck_assert_int_eq(kga_links_add(l, "tab\tin", "x", 5, 0), KGA_EINVAL);
    ck_assert_int_eq(kga_links_add(l, "", "x", 5, 0), KGA_EINVAL);
    const char *p = kga_test_tmp("links.tsv");
    kga_err_t err;
    ck_assert_int_eq(kga_links_write(p, l, &err), 0);
    size_t len;
    char *text = kga_test_read_file(p, &len);
    ck_assert_str_eq(text, "A\ta\na\tZ\nb\tB\né\tE\n");
    free(text);
    /* Writing did not reorder the set. */
    ck_assert_str_eq(kga_links_items(l)[0].left, "b");

    kga_links_t *back;
    ck_assert_int_eq(kga_links_read(p, &back, &err), 0);
    ck_assert_uint_eq(kga_links_count(back), 4);
    ck_assert_str_eq(kga_links_items(back)[3].left, "é");
    ck_assert_uint_eq(kga_links_items(back)[3].line, 4);
    kga_links_free(back);
    kga_links_free(l);

    /* No temporary file is left behind. */
    ck_assert_int_eq(kga_test_count_entries(kga_test_tmp_dir, ".tmp."), 0);
}
END_TEST

START_TEST(links_read_rejects_bad_files)
{
    kga_links_t *l;
    kga_err_t err;
    const char *p = kga_test_tmp("bad_links.tsv");
    kga_test_write_text(kga_test_tmp_dir, "bad_links.tsv", "a\tA\nb\tB\nc\n");
    ck_assert_int_eq(kga_links_read(p, &l, &err), KGA_EPARSE);
    ck_assert_ptr_null(l);
    ck_assert_msg(strstr(err.msg, "bad_links.tsv:3: expected 2 tab-separated "
                                  "fields, found 1") != NULL,
                  "%s", err.msg);
    kga_test_write_text(kga_test_tmp_dir, "bad_links.tsv", "a\tA\n\nb\t\n");
    kga_test_expect_error(kga_links_read(p, &l, &err), &err, KGA_EPARSE,
                          "bad_links.tsv:3: empty field 2");
    kga_test_write_text(kga_test_tmp_dir, "bad_links.tsv",
                        "a\tA\nb\tB\na\tC\n");
    kga_test_expect_error(kga_links_read(p, &l, &err), &err, KGA_EDUPLICATE,
                          "bad_links.tsv:3: left id 'a' is linked "
                          "twice (also at line 1)");
    kga_test_write_text(kga_test_tmp_dir, "bad_links.tsv", "a\tA\nb\tA\n");
    kga_test_expect_error(kga_links_read(p, &l, &err), &err, KGA_EDUPLICATE,
                          "right id 'A' is linked twice");
    ck_assert_int_eq(kga_links_read(kga_test_tmp("none.tsv"), &l, &err),
                     KGA_ENOENT);
}
END_TEST

START_TEST(links_resolve_against_stores)
{
    kga_graph_builder_t *b[2] = {kga_graph_builder_new(),
                                 kga_graph_builder_new()};
    const char *ids[2][3] = {{"l1", "l2", "l3"}, {"r1", "r2", "r3"}};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 3; i++) {
            uint32_t e;
            ck_assert_int_eq(
                kga_graph_builder_entity(b[s], ids[s][i], &e, NULL), 0);
        }
    kga_test_stores_t st;
    kga_test_stores_write(&st, "import", b);
    const kga_store_t *ls = st.s[0], *rs = st.s[1];
    kga_err_t err;

    kga_test_write_text(kga_test_tmp_dir, "res.tsv", "l2\tr3\nl1\tr1\n");
    kga_links_t *l;
    ck_assert_int_eq(kga_links_read(kga_test_tmp("res.tsv"), &l, &err), 0);
    uint32_t li[2], ri[2];
    ck_assert_int_eq(kga_links_resolve(l, ls, rs, li, ri, &err), 0);
    ck_assert_int_eq(li[0], kga_store_lookup(ls, "l2"));
    ck_assert_int_eq(ri[0], kga_store_lookup(rs, "r3"));
    ck_assert_int_eq(li[1], kga_store_lookup(ls, "l1"));
    kga_links_free(l);

    kga_test_write_text(kga_test_tmp_dir, "res.tsv", "l2\tr3\nl1\tr9\n");
    ck_assert_int_eq(kga_links_read(kga_test_tmp("res.tsv"), &l, &err), 0);
    kga_test_expect_error(kga_links_resolve(l, ls, rs, li, ri, &err), &err,
                          KGA_EUNKNOWN_ID,
                          "res.tsv:2: right id 'r9' is not in");
    kga_links_free(l);
    kga_test_stores_close(&st);
    kga_graph_builder_free(b[0]);
    kga_graph_builder_free(b[1]);
}
END_TEST

/* ------------------------------------------------------------------------
 * The layouts on the fixtures
 * ------------------------------------------------------------------------ */

#define KG1 "http://ex.org/kg1/"

START_TEST(openea_fixture)
{
    const char *out = kga_test_tmp("out_openea");
    kga_import_summary_t s;
    kga_err_t err;
    int rc = run_import(KGA_IMPORT_OPENEA, fixture("openea_small"), out, 0,
                        &s, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);

    const kga_import_side_t *l = &s.side[0], *r = &s.side[1];
    /* Class URIs of type triples are not entities; the entity with only an
     * attribute and the one only in ent_links are. */
    ck_assert_uint_eq(l->entities, 7);
    ck_assert_uint_eq(l->relations, 4); /* dbo:type stays a relation */
    ck_assert_uint_eq(l->triples, 5);
    ck_assert_uint_eq(l->duplicate_triples, 1);
    ck_assert_uint_eq(l->type_triples, 2);
    ck_assert_uint_eq(l->types, 2); /* City and Village; Place lost */
    ck_assert_uint_eq(l->attributes, 6);
    ck_assert_uint_eq(l->attr_keys, 6);
    ck_assert_uint_eq(l->labelled, 2);
    ck_assert_uint_eq(l->named, 7);
    ck_assert_uint_eq(r->entities, 6);
    ck_assert_uint_eq(r->relations, 3);
    ck_assert_uint_eq(r->triples, 4);
    ck_assert_uint_eq(r->types, 1);
    ck_assert_uint_eq(r->attributes, 3);
    ck_assert_uint_eq(r->labelled, 2);
    ck_assert_uint_eq(s.train_links, 2);
    ck_assert_uint_eq(s.valid_links, 1);
    ck_assert_uint_eq(s.test_links, 3);
    ck_assert_int_eq(s.valid_carved, 0);
    ck_assert_uint_eq(s.skipped_lines, 0);

    kga_store_t *ls = kga_test_open_store(out, "left.kgs");
    kga_store_t *rs = kga_test_open_store(out, "right.kgs");
    ck_assert_uint_eq(kga_store_entity_count(ls), 7);
    ck_assert_uint_eq(kga_store_triple_count(ls), 5);
    ck_assert_uint_eq(kga_store_attribute_count(ls), 6);
    ck_assert_uint_eq(kga_store_type_count(ls), 2);
    ck_assert_uint_eq(kga_store_entity_count(rs), 6);
    /* Names: percent-decoded URI; label beats foaf:name; cleaned literal;
     * invalid escapes kept. */
    ck_assert_str_eq(name_of(ls, KG1 "Jos%C3%A9_Mar%C3%ADa"), "José María");
    ck_assert_str_eq(name_of(ls, KG1 "France"), "République française");
    ck_assert_str_eq(name_of(ls, KG1 "Alice"), "Alice Liddell");
    ck_assert_str_eq(name_of(ls, KG1 "Lonely"), "Lonely");
    ck_assert_str_eq(name_of(ls, KG1 "Orphan"), "Orphan");
    ck_assert_str_eq(name_of(ls, KG1 "Bad%ZZ_%FF%0A"), "Bad%ZZ %FF%0A");
    /* Two labels of one rank: the bytewise smallest. */
    ck_assert_str_eq(name_of(rs, "Y/Jose_Maria"), "Jose Maria");
    ck_assert_str_eq(name_of(rs, "Y/Paris"), "Paris");
    /* Types: the smallest of two type triples; from a type attribute. */
    ck_assert_str_eq(type_of(ls, KG1 "Paris"), "http://ex.org/class/City");
    ck_assert_str_eq(type_of(ls, KG1 "Lonely"), "Village");
    ck_assert_ptr_null(type_of(ls, KG1 "Alice"));
    ck_assert_str_eq(type_of(rs, "Y/Paris"), "Y/class/City");
    ck_assert_int_lt(kga_store_lookup(ls, "http://ex.org/class/City"), 0);
    /* An attribute literal keeps its text (quotes, datatype). */
    int64_t lonely = kga_store_lookup(ls, KG1 "Lonely");
    const kga_attr_t *attrs;
    uint32_t na = kga_store_attrs(ls, (uint32_t)lonely, &attrs);
    int found = 0;
    for (uint32_t i = 0; i < na; i++)
        found |= strcmp(kga_store_attr_literal(ls, &attrs[i]),
                        "\"42\"^^<http://www.w3.org/2001/XMLSchema#integer>") ==
                 0;
    ck_assert_int_eq(found, 1);

    char *t = links_text(out, "train_links.tsv");
    ck_assert_str_eq(t, KG1 "Alice\tY/Alice\n" KG1 "Paris\tY/Paris\n");
    free(t);
    t = links_text(out, "valid_links.tsv");
    ck_assert_str_eq(t, KG1 "France\tY/France\n");
    free(t);
    t = links_text(out, "test_links.tsv");
    ck_assert_str_eq(t, KG1 "Bad%ZZ_%FF%0A\tY/Bad\n" KG1
                        "Jos%C3%A9_Mar%C3%ADa\tY/Jose_Maria\n" KG1
                        "Orphan\tY/Orphan\n");
    free(t);
    kga_store_close(ls);
    kga_store_close(rs);
}
END_TEST

#define FR "http://fr.dbpedia.org/resource/"
#define EN "http://dbpedia.org/resource/"

START_TEST(dbp15k_fixture)
{
    const char *out = kga_test_tmp("out_dbp");
    kga_import_params_t p = kga_test_import_params(
        KGA_IMPORT_DBP15K, fixture("dbp15k_small"), out);
    p.valid_fraction = 0.5;
    kga_import_summary_t s;
    kga_err_t err;
    int rc = kga_import_run(&p, &s, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq(s.side[0].entities, 5); /* Isolé has no triples */
    ck_assert_uint_eq(s.side[0].relations, 3);
    ck_assert_uint_eq(s.side[0].triples, 3);
    ck_assert_uint_eq(s.side[0].duplicate_triples, 1);
    ck_assert_uint_eq(s.side[0].type_triples, 1);
    ck_assert_uint_eq(s.side[0].types, 1);
    ck_assert_uint_eq(s.side[0].attributes, 3);
    ck_assert_uint_eq(s.side[1].entities, 4);
    ck_assert_uint_eq(s.side[1].relations, 2);
    ck_assert_uint_eq(s.side[1].triples, 2);
    ck_assert_uint_eq(s.train_links + s.valid_links, 2);
    ck_assert_uint_eq(s.valid_links, 1);
    ck_assert_int_eq(s.valid_carved, 1);
    ck_assert_int_eq(s.test_carved, 0);
    ck_assert_uint_eq(s.test_links, 2);

    kga_store_t *ls = kga_test_open_store(out, "left.kgs");
    kga_store_t *rs = kga_test_open_store(out, "right.kgs");
    /* External ids are the URIs, never the numbers. */
    ck_assert_int_lt(kga_store_lookup(ls, "10"), 0);
    ck_assert_str_eq(name_of(ls, FR "Jos%C3%A9_Mar%C3%ADa"), "José María");
    ck_assert_str_eq(name_of(ls, FR "Isolé"), "Isolé");
    ck_assert_str_eq(name_of(rs, EN "José_María"), "José María");
    ck_assert_str_eq(type_of(ls, FR "Paris"), FR "Ville");
    /* Relation names from rel_ids_1; without rel_ids_2, the ids. */
    int have_habite = 0, have_type_prop = 0;
    for (uint32_t i = 0; i < kga_store_relation_count(ls); i++) {
        const char *n = kga_store_relation_name(ls, i);
        have_habite |= strcmp(n, "http://fr.dbpedia.org/property/habite") == 0;
        have_type_prop |= strcmp(n, "http://fr.dbpedia.org/property/type") == 0;
    }
    ck_assert_int_eq(have_habite && have_type_prop, 1);
    ck_assert_str_eq(kga_store_relation_name(rs, 0), "7");
    ck_assert_str_eq(kga_store_relation_name(rs, 1), "8");
    /* training_attrs: keys with empty literals. */
    const kga_attr_t *attrs;
    int64_t paris = kga_store_lookup(ls, FR "Paris");
    ck_assert_uint_eq(kga_store_attrs(ls, (uint32_t)paris, &attrs), 2);
    ck_assert_str_eq(kga_store_attr_literal(ls, &attrs[0]), "");

    char *t = links_text(out, "test_links.tsv");
    ck_assert_str_eq(t, FR "Isolé\t" EN "Lonely\n" FR
                        "Jos%C3%A9_Mar%C3%ADa\t" EN "José_María\n");
    free(t);
    kga_store_close(ls);
    kga_store_close(rs);
}
END_TEST

/* SRPRS DBpedia-Wikidata: several right ids with one URI. The id is the
 * identity there, so each is an entity of its own, "URI#ID", named from the
 * URI, with its own triple, the URI's attributes and its link; the summary
 * counts them for the warning. Before, the import stopped ("linked
 * twice"), and with --lenient merged the counties and dropped two links. */
#define WD "http://www.wikidata.org/entity/"
START_TEST(dbp15k_ids_sharing_a_uri_stay_apart)
{
    const char *out = kga_test_tmp("out_shared");
    kga_import_params_t p = kga_test_import_params(
        KGA_IMPORT_DBP15K, fixture("dbp15k_shared_uri"), out);
    kga_import_summary_t s;
    kga_err_t err;
    int rc = kga_import_run(&p, &s, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq(s.side[0].entities, 6);
    ck_assert_uint_eq(s.side[1].entities, 6);
    ck_assert_uint_eq(s.side[0].shared_uri_ids, 0);
    ck_assert_uint_eq(s.side[1].shared_uri_ids, 3);
    ck_assert_str_eq(s.side[1].shared_uri_example, WD "Monroe_County");
    ck_assert_uint_eq(s.side[1].triples, 3);
    ck_assert_uint_eq(s.test_links, 3);

    kga_store_t *rs = kga_test_open_store(out, "right.kgs");
    ck_assert_int_lt(kga_store_lookup(rs, WD "Monroe_County"), 0);
    static const char *const counties[] = {WD "Monroe_County#100",
                                           WD "Monroe_County#101",
                                           WD "Monroe_County#102"};
    static const char *const states[] = {WD "Alabama", WD "Florida",
                                         WD "Ohio"};
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(name_of(rs, counties[i]), "Monroe County");
        int64_t c = kga_store_lookup(rs, counties[i]);
        const kga_attr_t *attrs;
        ck_assert_uint_eq(kga_store_attrs(rs, (uint32_t)c, &attrs), 1);
        /* Its own triple: to its own state. */
        const kga_edge_t *edges;
        ck_assert_uint_eq(
            kga_store_edges(rs, (uint32_t)c, KGA_DIR_OUT, &edges), 1);
        ck_assert_int_eq((int64_t)edges[0].ent,
                         kga_store_lookup(rs, states[i]));
    }
    kga_store_close(rs);

    char *t = links_text(out, "test_links.tsv");
    ck_assert_str_eq(t, "http://dbpedia.org/resource/Monroe_County,_Alabama\t"
                        WD "Monroe_County#100\n"
                        "http://dbpedia.org/resource/Monroe_County,_Florida\t"
                        WD "Monroe_County#101\n"
                        "http://dbpedia.org/resource/Monroe_County,_Ohio\t"
                        WD "Monroe_County#102\n");
    free(t);
}
END_TEST

/* "URI#ID" that another line already has as its URI: "#ID" once more,
 * and nothing is merged. */
START_TEST(dbp15k_shared_uri_next_to_its_disambiguated_name)
{
    const char *src = kga_test_tmp("shared_clash");
    const char *out = kga_test_tmp("out_clash");
    copy_tree(fixture("dbp15k_shared_uri"), src, NULL);
    append_str(src, "ent_ids_2", "106\t" WD "Monroe_County#101\n");
    kga_import_summary_t s;
    kga_err_t err;
    int rc = run_import(KGA_IMPORT_DBP15K, src, out, 0, &s, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq(s.side[1].entities, 7);
    ck_assert_uint_eq(s.side[1].shared_uri_ids, 3);
    kga_store_t *rs = kga_test_open_store(out, "right.kgs");
    ck_assert_int_ge(kga_store_lookup(rs, WD "Monroe_County#101"), 0);
    ck_assert_int_ge(kga_store_lookup(rs, WD "Monroe_County#101#101"), 0);
    ck_assert_int_ne(kga_store_lookup(rs, WD "Monroe_County#101"),
                     kga_store_lookup(rs, WD "Monroe_County#101#101"));
    kga_store_close(rs);
    char *t = links_text(out, "test_links.tsv");
    ck_assert_ptr_nonnull(strstr(t, WD "Monroe_County#101#101\n"));
    free(t);
}
END_TEST

static void import_with_seed(const char *out, uint64_t seed,
                             kga_import_summary_t *s)
{
    kga_import_params_t p = kga_test_import_params(
        KGA_IMPORT_DBP15K, fixture("dbp15k_refonly"), out);
    p.seed = seed;
    kga_err_t err;
    int rc = kga_import_run(&p, s, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
}

START_TEST(dbp15k_seeded_split_of_ref_ent_ids)
{
    kga_import_summary_t s;
    import_with_seed(kga_test_tmp("split_a"), 7, &s);
    /* 20 links: 30% = 6 training links, 10% of them = 1 valid. */
    ck_assert_int_eq(s.test_carved, 1);
    ck_assert_uint_eq(s.train_links, 5);
    ck_assert_uint_eq(s.valid_links, 1);
    ck_assert_uint_eq(s.test_links, 14);
    ck_assert_uint_eq(s.side[0].relations, 3); /* named "0", "1", "2" */
    import_with_seed(kga_test_tmp("split_b"), 7, &s);
    import_with_seed(kga_test_tmp("split_c"), 8, &s);
    char *a = links_text(kga_test_tmp("split_a"), "test_links.tsv");
    char *b = links_text(kga_test_tmp("split_b"), "test_links.tsv");
    char *c = links_text(kga_test_tmp("split_c"), "test_links.tsv");
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    free(a);
    free(b);
    free(c);
    /* Train, valid and test are disjoint and cover the 20 links. */
    char all[4096] = "";
    static const char *const names[] = {"train_links.tsv", "valid_links.tsv",
                                        "test_links.tsv"};
    for (int i = 0; i < 3; i++) {
        char *t = links_text(kga_test_tmp("split_a"), names[i]);
        strcat(all, t);
        free(t);
    }
    for (int i = 0; i < 20; i++) {
        char link[64];
        snprintf(link, sizeof link, "http://a.org/e%d\thttp://b.org/e%d\n", i,
                 (i * 7) % 20);
        char *hit = strstr(all, link);
        ck_assert_msg(hit != NULL && (hit == all || hit[-1] == '\n'),
                      "link %d missing", i);
        ck_assert_ptr_null(strstr(hit + 1, link));
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * Malformed input: strict and lenient, as data
 * ------------------------------------------------------------------------ */

typedef struct {
    kga_import_format_t format;
    const char *fixture;
    const char *file;     /* relative to the source dir */
    const char *append;   /* appended to the file */
    int code;             /* strict: the error */
    const char *message;  /* strict: expected after "SRC/" */
    uint64_t skipped;     /* lenient: lines skipped in total */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {KGA_IMPORT_OPENEA, "openea_small", "rel_triples_1", "a\tb\n", KGA_EPARSE,
     "rel_triples_1:9: expected 3 tab-separated fields, found 2", 1},
    {KGA_IMPORT_OPENEA, "openea_small", "rel_triples_2", "a\tb\tc\td\n",
     KGA_EPARSE, "rel_triples_2:6: expected 3 tab-separated fields, found 4",
     1},
    {KGA_IMPORT_OPENEA, "openea_small", "attr_triples_2", "x\t\ty\n",
     KGA_EPARSE, "attr_triples_2:4: field 2 is empty", 1},
    {KGA_IMPORT_OPENEA, "openea_small", "rel_triples_2", "a\tb\xff\tc\n",
     KGA_EPARSE, "rel_triples_2:6: invalid UTF-8 at column 4", 1},
    {KGA_IMPORT_OPENEA, "openea_small", "721_5fold/1/train_links",
     KG1 "Nobody\tY/Paris\n", KGA_EUNKNOWN_ID,
     "721_5fold/1/train_links:3: left id 'http://ex.org/kg1/Nobody' is not "
     "an entity of graph 1", 1},
    {KGA_IMPORT_OPENEA, "openea_small", "721_5fold/1/test_links",
     KG1 "Orphan\tY/Nobody\n", KGA_EUNKNOWN_ID,
     "721_5fold/1/test_links:4: right id 'Y/Nobody' is not an entity of "
     "graph 2", 1},
    /* 1:n: Paris is linked in train and test; the right id Y/France is
     * then linked twice as well, so lenient drops two links. */
    {KGA_IMPORT_OPENEA, "openea_small", "721_5fold/1/test_links",
     KG1 "Paris\tY/France\n", KGA_EDUPLICATE,
     "721_5fold/1/train_links:1: left id 'http://ex.org/kg1/Paris' is linked "
     "twice (also at ", 2},
    {KGA_IMPORT_OPENEA, "openea_small", "ent_links", KG1 "X\n", KGA_EPARSE,
     "ent_links:7: expected 2 tab-separated fields, found 1", 1},
    {KGA_IMPORT_DBP15K, "dbp15k_small", "ent_ids_1", "abc\thttp://x\n",
     KGA_EPARSE,
     "ent_ids_1:6: field 1: expected a non-negative integer id, found 'abc'",
     1},
    {KGA_IMPORT_DBP15K, "dbp15k_small", "ent_ids_2",
     "99999999999999999999\thttp://x\n", KGA_EPARSE,
     "ent_ids_2:5: field 1: expected a non-negative integer id", 1},
    {KGA_IMPORT_DBP15K, "dbp15k_small", "rel_ids_1", "0\thttp://other\n",
     KGA_EDUPLICATE, "rel_ids_1:5: id 0 is defined twice (also at line 1)",
     1},
    {KGA_IMPORT_DBP15K, "dbp15k_small", "triples_1", "10\t0\t99\n",
     KGA_EUNKNOWN_ID, "triples_1:6: unknown entity id 99 (not in ent_ids_1)",
     1},
    {KGA_IMPORT_DBP15K, "dbp15k_small", "triples_1", "10\t9\t11\n",
     KGA_EUNKNOWN_ID,
     "triples_1:6: unknown relation id 9 (not in rel_ids_1)", 1},
    {KGA_IMPORT_DBP15K, "dbp15k_small", "triples_2", "20\t-1\t21\n",
     KGA_EPARSE, "triples_2:3: field 2: expected a non-negative integer id",
     1},
    {KGA_IMPORT_DBP15K, "dbp15k_small", "sup_pairs", "11\t99\n",
     KGA_EUNKNOWN_ID, "sup_pairs:3: right id 99 is not in ent_ids_2", 1},
    {KGA_IMPORT_DBP15K, "dbp15k_small", "ref_pairs", "12\t21\n",
     KGA_EDUPLICATE,
     "ref_pairs:3: left id 'http://fr.dbpedia.org/resource/France' is linked "
     "twice (also at ", 1},
    {KGA_IMPORT_DBP15K, "dbp15k_small", "training_attrs_1",
     FR "Paris\t\tkey\n", KGA_EPARSE, "training_attrs_1:3: empty field", 1},
};

START_TEST(malformed_line_strict_and_lenient)
{
    const bad_case_t *c = &bad_cases[_i];
    char src[256], out[256], base[4400];
    snprintf(src, sizeof src, "%s/bad_src_%d", kga_test_tmp_dir, _i);
    snprintf(out, sizeof out, "%s/bad_out_%d", kga_test_tmp_dir, _i);
    snprintf(base, sizeof base, "%s", fixture(c->fixture));
    copy_tree(base, src, NULL);
    append_str(src, c->file, c->append);

    kga_import_summary_t s;
    kga_err_t err;
    int rc = run_import(c->format, src, out, 0, &s, &err);
    ck_assert_msg(rc == c->code, "case %d: rc %s, msg %s", _i,
                  kga_err_name(rc), err.msg);
    char want[1024];
    snprintf(want, sizeof want, "%s/%s", src, c->message);
    ck_assert_msg(strstr(err.msg, want) != NULL, "case %d: '%s' lacks '%s'",
                  _i, err.msg, want);
    /* Nothing is written when the import fails. */
    struct stat st;
    ck_assert_int_ne(stat(out, &st), 0);

    rc = run_import(c->format, src, out, 1, &s, &err);
    ck_assert_msg(rc == 0, "case %d lenient: %s", _i, err.msg);
    ck_assert_uint_eq(s.skipped_lines, c->skipped);
    const kga_import_file_t *f = file_stats(&s, c->file);
    ck_assert_msg(f != NULL && f->skipped >= 1, "case %d: no skip counted",
                  _i);
    ck_assert_int_eq(stat(out, &st), 0);
}
END_TEST

/* Several bad lines in several files: each is counted against its file, and
 * the good lines around them are all imported. */
START_TEST(lenient_counts_per_file)
{
    char src[512], out[512];
    snprintf(src, sizeof src, "%s", kga_test_tmp("lenient_src"));
    snprintf(out, sizeof out, "%s", kga_test_tmp("lenient_out"));
    copy_tree(fixture("openea_small"), src, NULL);
    append_str(src, "rel_triples_1", "a\tb\n\n" KG1 "Paris\t\t" KG1 "X\n"
                                     KG1 "New\thttp://ex.org/p/knows\t" KG1
                                     "Paris\n");
    append_str(src, "attr_triples_1", "bad\xc3\n");
    append_str(src, "721_5fold/1/test_links",
               KG1 "Nobody\tY/Paris\n" KG1 "Orphan\tY/Nobody\n");
    kga_import_summary_t s;
    kga_err_t err;
    int rc = run_import(KGA_IMPORT_OPENEA, src, out, 1, &s, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq(s.skipped_lines, 5);
    ck_assert_uint_eq(file_stats(&s, "rel_triples_1")->skipped, 2);
    ck_assert_uint_eq(file_stats(&s, "rel_triples_1")->lines, 12);
    ck_assert_uint_eq(file_stats(&s, "attr_triples_1")->skipped, 1);
    ck_assert_uint_eq(file_stats(&s, "rel_triples_2")->skipped, 0);
    ck_assert_uint_eq(file_stats(&s, "721_5fold/1/test_links")->skipped, 2);
    ck_assert_uint_eq(s.side[0].entities, 8); /* + New */
    ck_assert_uint_eq(s.side[0].triples, 6);
    ck_assert_uint_eq(s.test_links, 3);
}
END_TEST

/* An OpenEA fold without valid_links: the validation links are carved from
 * the training links with the seed. */
START_TEST(openea_fold_without_valid_links)
{
    char src[512], out[512];
    snprintf(src, sizeof src, "%s", kga_test_tmp("novalid_src"));
    snprintf(out, sizeof out, "%s", kga_test_tmp("novalid_out"));
    copy_tree(fixture("openea_small"), src, NULL);
    append_str(src, "721_5fold/1/train_links", KG1 "France\tY/France\n");
    unlink(kga_test_tmp("novalid_src/721_5fold/1/valid_links"));
    kga_import_params_t p = kga_test_import_params(KGA_IMPORT_OPENEA, src, out);
    p.valid_fraction = 0.34;
    kga_import_summary_t s;
    kga_err_t err;
    int rc = kga_import_run(&p, &s, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_int_eq(s.valid_carved, 1);
    ck_assert_uint_eq(s.train_links, 2);
    ck_assert_uint_eq(s.valid_links, 1);
    ck_assert_uint_eq(s.test_links, 3);
    ck_assert_uint_eq(out_lines(out, "valid_links.tsv"), 1);
}
END_TEST

/* The two graphs are read at the same time; when both have an error, the
 * left one is reported, whichever thread got there first. */
START_TEST(both_sides_bad_reports_the_left)
{
    char src[512], out[512];
    snprintf(src, sizeof src, "%s", kga_test_tmp("both_bad_src"));
    snprintf(out, sizeof out, "%s", kga_test_tmp("both_bad_out"));
    copy_tree(fixture("openea_small"), src, NULL);
    append_str(src, "rel_triples_1", "a\tb\n");
    kga_test_write_text(src, "rel_triples_2", "x\n");
    kga_import_summary_t s;
    kga_err_t err;
    for (int i = 0; i < 5; i++) {
        kga_test_expect_error(
            run_import(KGA_IMPORT_OPENEA, src, out, 0, &s, &err), &err,
            KGA_EPARSE, "rel_triples_1:9: expected 3");
    }
    copy_tree(fixture("dbp15k_small"), kga_test_tmp("both_bad_dbp"), NULL);
    append_str(kga_test_tmp("both_bad_dbp"), "triples_1", "1\t2\n");
    append_str(kga_test_tmp("both_bad_dbp"), "ent_ids_2", "x\ty\n");
    kga_test_expect_error(run_import(KGA_IMPORT_DBP15K,
                                     kga_test_tmp("both_bad_dbp"), out, 0, &s,
                                     &err),
                          &err, KGA_EPARSE, "triples_1:6: expected 3");
    /* Lenient: both counted, in the left-then-right file order. */
    ck_assert_int_eq(run_import(KGA_IMPORT_DBP15K, kga_test_tmp("both_bad_dbp"),
                                out, 1, &s, &err),
                     0);
    ck_assert_uint_eq(s.skipped_lines, 2);
    ck_assert_str_eq(s.files[0].name, "ent_ids_1");
    ck_assert_str_eq(s.files[2].name, "triples_1");
    ck_assert_uint_eq(s.files[2].skipped, 1);
    ck_assert_str_eq(s.files[3].name, "training_attrs_1");
    ck_assert_str_eq(s.files[4].name, "ent_ids_2");
    ck_assert_uint_eq(s.files[4].skipped, 1);
}
END_TEST

/* ------------------------------------------------------------------------
 * Missing files
 * ------------------------------------------------------------------------ */

/* Importing src in format into out fails with KGA_ENOENT and a message
 * that names `where` (and `also`, unless it is NULL). */
static void expect_missing(kga_import_format_t format, const char *src,
                           const char *out, const char *where,
                           const char *also)
{
    kga_import_summary_t s;
    kga_err_t err;
    kga_test_expect_error(run_import(format, src, out, 0, &s, &err), &err,
                          KGA_ENOENT, where);
    if (also != NULL)
        KGA_TEST_EXPECT_CONTAINS(err.msg, also);
}

START_TEST(missing_files_are_named)
{
    char src[512], out[512];
    snprintf(src, sizeof src, "%s", kga_test_tmp("missing_src"));
    snprintf(out, sizeof out, "%s", kga_test_tmp("missing_out"));

    copy_tree(fixture("openea_small"), src, NULL);
    unlink(kga_test_tmp("missing_src/rel_triples_2"));
    expect_missing(KGA_IMPORT_OPENEA, src, out,
                   "missing_src/rel_triples_2: no such file", NULL);

    kga_import_params_t p = kga_test_import_params(
        KGA_IMPORT_OPENEA, fixture("openea_small"), out);
    p.fold = 3;
    kga_import_summary_t s;
    kga_err_t err;
    kga_test_expect_error(kga_import_run(&p, &s, NULL, &err), &err, KGA_ENOENT,
                          "721_5fold/3: no such directory");
    KGA_TEST_EXPECT_CONTAINS(err.msg, "folds present: 1");

    kga_test_remove_tree(src);
    copy_tree(fixture("openea_small"), src, NULL);
    kga_test_remove_tree(kga_test_tmp("missing_src/721_5fold"));
    expect_missing(KGA_IMPORT_OPENEA, src, out,
                   "721_5fold/1: no such directory: ent_links holds the gold "
                   "links but no",
                   NULL);

    mkdir(kga_test_tmp("missing_src/721_5fold"), 0777);
    mkdir(kga_test_tmp("missing_src/721_5fold/1"), 0777);
    kga_test_write_text(src, "721_5fold/1/train_links", "");
    expect_missing(KGA_IMPORT_OPENEA, src, out,
                   "721_5fold/1/test_links: no such file", NULL);

    /* The other layout's files: the hint names the right --format. */
    expect_missing(KGA_IMPORT_OPENEA, fixture("dbp15k_small"), out,
                   "try --format dbp15k", NULL);
    expect_missing(KGA_IMPORT_DBP15K, fixture("openea_small"), out,
                   "ent_ids_1: no such file", "try --format openea");

    kga_test_remove_tree(src);
    copy_tree(fixture("dbp15k_small"), src, NULL);
    unlink(kga_test_tmp("missing_src/ref_pairs"));
    expect_missing(KGA_IMPORT_DBP15K, src, out,
                   "missing_src/ref_pairs: no such file (sup_pairs is there",
                   NULL);
    unlink(kga_test_tmp("missing_src/sup_pairs"));
    expect_missing(KGA_IMPORT_DBP15K, src, out,
                   "missing_src/ref_ent_ids: no such file", NULL);
    unlink(kga_test_tmp("missing_src/triples_2"));
    expect_missing(KGA_IMPORT_DBP15K, src, out,
                   "missing_src/triples_2: no such file", NULL);

    expect_missing(KGA_IMPORT_DBP15K, kga_test_tmp("no_such_dir"), out,
                   "no_such_dir: no such directory", NULL);
    struct stat st;
    ck_assert_int_ne(stat(out, &st), 0);
}
END_TEST

/* ------------------------------------------------------------------------
 * Order independence
 * ------------------------------------------------------------------------ */

static const char *const outputs[] = {"left.kgs", "right.kgs",
                                      "train_links.tsv", "valid_links.tsv",
                                      "test_links.tsv"};

static void assert_same_outputs(const char *a, const char *b)
{
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++) {
        char pa[4096], pb[4096];
        snprintf(pa, sizeof pa, "%s/%s", a, outputs[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, outputs[i]);
        size_t la, lb;
        char *da = kga_test_read_file(pa, &la),
             *db = kga_test_read_file(pb, &lb);
        ck_assert_msg(la == lb && memcmp(da, db, la) == 0,
                      "%s differs after shuffling the input", outputs[i]);
        free(da);
        free(db);
    }
}

/* Imports src and a copy with every file's lines shuffled (three seeds) and
 * compares the outputs byte for byte. */
static void check_permutation(kga_import_format_t format, const char *src,
                              const char *tag, int lenient)
{
    char out[256], shuffled[256], out2[256];
    snprintf(out, sizeof out, "%s/perm_%s_out", kga_test_tmp_dir, tag);
    kga_import_summary_t s0, s1;
    kga_err_t err;
    int rc = run_import(format, src, out, lenient, &s0, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        snprintf(shuffled, sizeof shuffled, "%s/perm_%s_src%llu",
                 kga_test_tmp_dir, tag, (unsigned long long)seed);
        snprintf(out2, sizeof out2, "%s/perm_%s_out%llu", kga_test_tmp_dir, tag,
                 (unsigned long long)seed);
        uint64_t state = seed * 1000003;
        copy_tree(src, shuffled, &state);
        rc = run_import(format, shuffled, out2, lenient, &s1, &err);
        ck_assert_msg(rc == 0, "%s", err.msg);
        assert_same_outputs(out, out2);
        ck_assert_uint_eq(s0.skipped_lines, s1.skipped_lines);
        ck_assert_uint_eq(s0.side[0].duplicate_triples,
                          s1.side[0].duplicate_triples);
        kga_test_remove_tree(shuffled);
        kga_test_remove_tree(out2);
    }
    kga_test_remove_tree(out);
}

START_TEST(permuted_fixtures_give_identical_outputs)
{
    check_permutation(KGA_IMPORT_OPENEA, fixture("openea_small"), "oe", 0);
    check_permutation(KGA_IMPORT_DBP15K, fixture("dbp15k_small"), "dbp", 0);
    check_permutation(KGA_IMPORT_DBP15K, fixture("dbp15k_refonly"), "ref", 0);
    check_permutation(KGA_IMPORT_DBP15K, fixture("dbp15k_shared_uri"), "sh",
                      0);
}
END_TEST

/* Lenient choices (conflicting links, ids defined twice) must not depend on
 * the order either. */
START_TEST(permuted_messy_input_gives_identical_outputs)
{
    char src[512], dsrc[512];
    snprintf(src, sizeof src, "%s", kga_test_tmp("messy_oe"));
    copy_tree(fixture("openea_small"), src, NULL);
    append_str(src, "721_5fold/1/test_links",
               KG1 "Paris\tY/France\n" KG1 "France\tY/Orphan\n" KG1
                   "Nobody\tY/Paris\n");
    append_str(src, "721_5fold/1/train_links", KG1 "Alice\tY/Alice\n");
    append_str(src, "rel_triples_2", "Y/France\ttype\tY/class/Country\n"
                                     "Y/France\ttype\tY/class/Abstract\n"
                                     "only two\tfields\n");
    append_str(src, "attr_triples_1", KG1 "Alice\trdfs:label\t\"Alice\"\n"
                                      KG1 "Alice\trdfs:label\t\"Al\"@en\n");
    check_permutation(KGA_IMPORT_OPENEA, src, "messy_oe", 1);

    snprintf(dsrc, sizeof dsrc, "%s", kga_test_tmp("messy_dbp"));
    copy_tree(fixture("dbp15k_small"), dsrc, NULL);
    append_str(dsrc, "ent_ids_1", "13\thttp://fr.dbpedia.org/resource/Autre\n"
                                  "13\thttp://fr.dbpedia.org/resource/Isolé\n");
    append_str(dsrc, "rel_ids_1", "1\thttp://fr.dbpedia.org/property/land\n");
    append_str(dsrc, "ref_pairs", "12\t23\n10\t20\n");
    check_permutation(KGA_IMPORT_DBP15K, dsrc, "messy_dbp", 1);
}
END_TEST

START_TEST(permuted_real_data_gives_identical_outputs)
{
    char path[4096];
    if (kga_test_real_data("openea_D_Y_15K_V1", path, sizeof path))
        check_permutation(KGA_IMPORT_OPENEA, path, "real_oe", 0);
    if (kga_test_real_data("dbp15k_fr_en", path, sizeof path))
        check_permutation(KGA_IMPORT_DBP15K, path, "real_dbp", 0);
}
END_TEST

/* ------------------------------------------------------------------------
 * The real datasets
 * ------------------------------------------------------------------------ */

static void check_store_counts(const char *out, const char *name,
                               uint32_t entities, uint64_t triples)
{
    kga_store_t *s = kga_test_open_store(out, name);
    ck_assert_uint_eq(kga_store_entity_count(s), entities);
    ck_assert_uint_eq(kga_store_triple_count(s), triples);
    kga_store_close(s);
}

static size_t out_lines(const char *out, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out, name);
    return count_lines(path);
}

/* The lines of out's three link files. */
static void check_link_lines(const char *out, size_t train, size_t valid,
                             size_t test)
{
    ck_assert_uint_eq(out_lines(out, "train_links.tsv"), train);
    ck_assert_uint_eq(out_lines(out, "valid_links.tsv"), valid);
    ck_assert_uint_eq(out_lines(out, "test_links.tsv"), test);
}

/* The real data set `dataset` imported in `format` into out, which must
 * succeed: 1, or 0 when the data is not there (kga_test_real_data() has
 * said why the test is skipped). */
static int import_real(const char *dataset, kga_import_format_t format,
                       const char *out, kga_import_summary_t *s)
{
    char src[4096];
    if (!kga_test_real_data(dataset, src, sizeof src))
        return 0;
    kga_err_t err;
    int rc = run_import(format, src, out, 0, s, &err);
    ck_assert_msg(rc == 0, "%s: %s", dataset, err.msg);
    return 1;
}

START_TEST(real_dbp15k_fr_en_counts)
{
    const char *out = kga_test_tmp("real_dbp");
    kga_import_summary_t s;
    if (!import_real("dbp15k_fr_en", KGA_IMPORT_DBP15K, out, &s))
        return;
    check_store_counts(out, "left.kgs", 19661, 105998);
    check_store_counts(out, "right.kgs", 19993, 115722);
    ck_assert_uint_eq(s.side[0].relations, 903);
    ck_assert_uint_eq(s.side[1].relations, 1208);
    ck_assert_uint_eq(s.side[0].duplicate_triples, 0);
    ck_assert_uint_eq(s.train_links + s.valid_links, 4500);
    ck_assert_uint_eq(s.valid_links, 450);
    check_link_lines(out, 4050, 450, 10500);
    /* Names in the native script, percent-decoded. */
    kga_store_t *ls = kga_test_open_store(out, "left.kgs");
    ck_assert_str_eq(name_of(ls, FR "Like_a_Love%3F"), "Like a Love?");
    ck_assert_str_eq(name_of(ls, FR "Hélène_de_Mecklembourg-Schwerin"),
                     "Hélène de Mecklembourg-Schwerin");
    kga_store_close(ls);
    /* Import time is a benchmark (make bench), not a test: shared
     * machines are too noisy for a timed assertion. */
}
END_TEST

START_TEST(real_openea_d_y_counts)
{
    const char *out = kga_test_tmp("real_oe");
    kga_import_summary_t s;
    if (!import_real("openea_D_Y_15K_V1", KGA_IMPORT_OPENEA, out, &s))
        return;
    check_store_counts(out, "left.kgs", 15000, 30291);
    check_store_counts(out, "right.kgs", 15000, 26638);
    ck_assert_uint_eq(s.train_links, 3000);
    ck_assert_uint_eq(s.valid_links, 1500);
    ck_assert_uint_eq(s.test_links, 10500);
    check_link_lines(out, 3000, 1500, 10500);
    ck_assert_int_eq(s.valid_carved, 0);
    /* Import time is a benchmark (make bench), not a test: shared
     * machines are too noisy for a timed assertion. */
}
END_TEST

/* ------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------ */

static int run_cmd(const char *const *args)
{
    char *argv[32];
    int argc = 0;
    while (args[argc] != NULL) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    int rc = kga_cmd_import(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(devnull);
    close(saved_out);
    close(saved_err);
    return rc;
}

START_TEST(command_exit_codes)
{
    const char *out = kga_test_tmp("cmd_out");
    const char *help[] = {"import", "--help", NULL};
    ck_assert_int_eq(run_cmd(help), 0);
    const char *none[] = {"import", NULL};
    ck_assert_int_eq(run_cmd(none), 2);
    const char *no_format[] = {"import", fixture("openea_small"), out, NULL};
    ck_assert_int_eq(run_cmd(no_format), 2);
    const char *bad_format[] = {"import", "--format", "rdf",
                                fixture("openea_small"), out, NULL};
    ck_assert_int_eq(run_cmd(bad_format), 2);
    const char *bad_fraction[] = {"import", "--format=dbp15k",
                                  "--valid-fraction", "1.5",
                                  fixture("dbp15k_small"), out, NULL};
    ck_assert_int_eq(run_cmd(bad_fraction), 2);
    const char *bad_fold[] = {"import", "--format", "openea", "--fold", "0",
                              fixture("openea_small"), out, NULL};
    ck_assert_int_eq(run_cmd(bad_fold), 2);
    const char *unknown[] = {"import", "--format", "openea", "--frobnicate",
                             fixture("openea_small"), out, NULL};
    ck_assert_int_eq(run_cmd(unknown), 2);
    const char *three[] = {"import", "--format", "openea", "a", "b", "c",
                           NULL};
    ck_assert_int_eq(run_cmd(three), 2);
    const char *fails[] = {"import", "--format", "openea", "--fold", "2",
                           fixture("openea_small"), out, NULL};
    ck_assert_int_eq(run_cmd(fails), 1);
    const char *ok[] = {"import", "--format", "dbp15k", "--seed", "3",
                        "--valid-fraction=0.5", "--lenient",
                        fixture("dbp15k_small"), out, NULL};
    ck_assert_int_eq(run_cmd(ok), 0);
    ck_assert_uint_eq(out_lines(out, "valid_links.tsv"), 1);
    ck_assert_uint_eq(out_lines(out, "train_links.tsv"), 1);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* NULL when the fixtures cannot be laid out. */

/* ------------------------------------------------------------------------
 * kgalign add: a store's next generation
 * ------------------------------------------------------------------------ */

/* The openea fixture imported into out; returns its left store's path. */
static const char *imported_left(const char *out)
{
    kga_import_summary_t s;
    kga_err_t err;
    int rc = run_import(KGA_IMPORT_OPENEA, fixture("openea_small"), out, 0,
                        &s, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    static char path[4200];
    snprintf(path, sizeof path, "%s/left.kgs", out);
    return path;
}

START_TEST(add_writes_the_next_generation)
{
    const char *out = kga_test_tmp("out_add");
    const char *store = imported_left(out);
    kga_store_t *before = kga_test_open_store(out, "left.kgs");
    uint32_t n0 = kga_store_entity_count(before);
    uint64_t print0 = kga_store_fingerprint(before);
    const char *alice_name = name_of(before, KG1 "Alice");
    char *alice_name_copy = strdup(alice_name);
    /* New entities, edges to and from the store's, a type triple, a
     * relation the store lacks, a duplicate, a blank line. */
    kga_test_write_text(out, "add_triples",
                        KG1 "Zoe\thttp://ex.org/p/livesIn\t" KG1 "Paris\n"
                        KG1 "Alice\thttp://ex.org/p/knows\t" KG1 "Zoe\n"
                        KG1 "Zoe\trdf:type\thttp://ex.org/class/City\n"
                        KG1 "Zoe\thttp://ex.org/p/admires\t" KG1 "Alice\n"
                        "\n"
                        KG1 "Alice\thttp://ex.org/p/livesIn\t" KG1 "Paris\n"
                        KG1 "Yan_Li\thttp://ex.org/p/livesIn\t" KG1 "Paris\n");
    kga_test_write_text(out, "add_attrs",
                        KG1 "Zoe\thttp://www.w3.org/2000/01/rdf-schema#label\t"
                        "\"Zoé\"@fr\n"
                        KG1 "Alice\thttp://www.w3.org/2000/01/"
                        "rdf-schema#label\tAnother Alice\n");
    kga_add_params_t p = {store, kga_test_tmp("out_add/add_triples"),
                          kga_test_tmp("out_add/add_attrs")};
    kga_add_summary_t sum;
    kga_err_t err;
    ck_assert_msg(kga_add_run(&p, &sum, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(sum.generation, 2);
    ck_assert_uint_eq(sum.entities_before, n0);
    ck_assert_uint_eq(sum.entities, n0 + 2);
    ck_assert_uint_eq(sum.unknown_relations, 1);
    ck_assert_uint_eq(sum.duplicates, 1);
    ck_assert_uint_eq(sum.triples, sum.triples_before + 3);
    ck_assert_uint_eq(sum.attributes, sum.attributes_before + 2);
    ck_assert_uint_eq(sum.touched, 2); /* Alice and Paris */

    kga_store_t *after = kga_test_open_store(out, "left.kgs");
    ck_assert_uint_eq(kga_store_generation(after), 2);
    uint32_t n = 0;
    ck_assert_uint_eq(kga_store_find_generation(after, print0, &n), 1);
    ck_assert_uint_eq(n, n0);
    for (uint32_t e = 0; e < n0; e++)
        ck_assert_str_eq(kga_store_entity_ext_id(after, e),
                         kga_store_entity_ext_id(before, e));
    /* The store's entity gains the edge and the attribute, not a name. */
    ck_assert_str_eq(name_of(after, KG1 "Alice"), alice_name_copy);
    uint32_t alice = (uint32_t)kga_store_lookup(after, KG1 "Alice");
    const kga_edge_t *ed;
    ck_assert_uint_eq(kga_store_edges(after, alice, KGA_DIR_OUT, &ed),
                      kga_store_edges(before, alice, KGA_DIR_OUT, &ed) + 1);
    /* New entities: named by the best label, else by the URI; typed. */
    ck_assert_str_eq(name_of(after, KG1 "Zoe"), "Zoé");
    ck_assert_str_eq(type_of(after, KG1 "Zoe"), "http://ex.org/class/City");
    ck_assert_str_eq(name_of(after, KG1 "Yan_Li"), "Yan Li");
    ck_assert_int_ge(kga_store_lookup(after, KG1 "Zoe"), n0);
    ck_assert_int_lt(kga_store_relation_lookup(after, "http://ex.org/p/admires"),
                     0);
    free(alice_name_copy);
    kga_store_close(before);
    kga_store_close(after);
}
END_TEST

START_TEST(add_refuses_malformed_lines)
{
    const char *out = kga_test_tmp("out_add_bad");
    const char *store = imported_left(out);
    kga_store_t *before = kga_test_open_store(out, "left.kgs");
    uint64_t print0 = kga_store_fingerprint(before);
    kga_store_close(before);
    static const struct {
        const char *triples, *attrs, *needle;
    } cases[] = {
        {KG1 "A\thttp://ex.org/p/knows\t" KG1 "Alice\n" KG1 "B\tonly two\n",
         NULL, "add_t:2: expected 3 tab-separated fields (head, relation, "
               "tail), got 2"},
        {KG1 "A\thttp://ex.org/p/knows\t" KG1 "B\textra\n", NULL,
         "add_t:1: expected 3 tab-separated fields (head, relation, tail), "
         "got 4"},
        {KG1 "A\t\t" KG1 "B\n", NULL,
         "add_t:1: field 2 of (head, relation, tail) is empty"},
        {NULL, KG1 "A\tkey\n", "add_a:1: expected 3 tab-separated fields "
                               "(entity, key, literal), got 2"},
        {"\xff\xfe\n", NULL, "add_t:1:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].triples != NULL)
            kga_test_write_text(out, "add_t", cases[i].triples);
        if (cases[i].attrs != NULL)
            kga_test_write_text(out, "add_a", cases[i].attrs);
        kga_add_params_t p = {
            store,
            cases[i].triples != NULL ? kga_test_tmp("out_add_bad/add_t") : NULL,
            cases[i].attrs != NULL ? kga_test_tmp("out_add_bad/add_a") : NULL};
        kga_err_t err;
        int rc = kga_add_run(&p, NULL, &err);
        ck_assert_msg(rc != 0, "case %zu accepted", i);
        ck_assert_msg(strstr(err.msg, cases[i].needle) != NULL,
                      "case %zu: %s", i, err.msg);
        /* Nothing written: the store is the one imported. */
        kga_store_t *s = kga_test_open_store(out, "left.kgs");
        ck_assert_uint_eq(kga_store_fingerprint(s), print0);
        kga_store_close(s);
    }
    /* A missing file is named. */
    kga_add_params_t p = {store, kga_test_tmp("out_add_bad/nope"), NULL};
    kga_err_t err;
    kga_test_expect_error(kga_add_run(&p, NULL, &err), &err, KGA_ENOENT,
                          "nope");
}
END_TEST

static Suite *import_suite(void)
{
    if (materialise_fixtures() != 0) {
        fprintf(stderr, "test_import: cannot copy %s\n", FIXTURES_SRC);
        return NULL;
    }
    Suite *s = suite_create("import");
    TCase *units = kga_test_tcase(s, "units", 0);
    tcase_add_test(units, uri_local_names);
    tcase_add_test(units, label_literals);
    tcase_add_test(units, label_and_type_keys);
    tcase_add_test(units, line_reader_line_ends_and_checks);
    tcase_add_test(units, line_reader_long_lines);
    tcase_add_test(units, split_tabs_counts_every_field);
    tcase_add_test(units, links_write_read_round_trip);
    tcase_add_test(units, links_read_rejects_bad_files);
    tcase_add_test(units, links_resolve_against_stores);

    TCase *layouts = kga_test_tcase(s, "layouts", 0);
    tcase_add_test(layouts, openea_fixture);
    tcase_add_test(layouts, dbp15k_fixture);
    tcase_add_test(layouts, dbp15k_seeded_split_of_ref_ent_ids);
    tcase_add_test(layouts, dbp15k_ids_sharing_a_uri_stay_apart);
    tcase_add_test(layouts, dbp15k_shared_uri_next_to_its_disambiguated_name);
    tcase_add_loop_test(layouts, malformed_line_strict_and_lenient, 0,
                        (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(layouts, lenient_counts_per_file);
    tcase_add_test(layouts, both_sides_bad_reports_the_left);
    tcase_add_test(layouts, openea_fold_without_valid_links);
    tcase_add_test(layouts, missing_files_are_named);
    tcase_add_test(layouts, command_exit_codes);
    tcase_add_test(layouts, add_writes_the_next_generation);
    tcase_add_test(layouts, add_refuses_malformed_lines);

    TCase *order = kga_test_tcase(s, "order independence", 120);
    tcase_add_test(order, permuted_fixtures_give_identical_outputs);
    tcase_add_test(order, permuted_messy_input_gives_identical_outputs);
    tcase_add_test(order, permuted_real_data_gives_identical_outputs);

    TCase *real = kga_test_tcase(s, "real data", 120);
    tcase_add_test(real, real_dbp15k_fr_en_counts);
    tcase_add_test(real, real_openea_d_y_counts);
    return s;
}

int main(void)
{
    return kga_test_run_in_tmp_dir("import", import_suite);
}
