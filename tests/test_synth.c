/* Tests of the synthetic pair generator (core/synth/synth.c, cli/cmd_synth.c) and
 * of the seeded generator it draws from (core/base/rng.c). Most tests generate a
 * small pair into a temporary directory and read it back as a user would:
 * as TSV files, knowing only the documented layout and schema. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "base/rng.h"
#include "base/utf8.h"
#include "synth/synth.h"
#include "synth/synth_lists.h"
#include "synth/synth_names.h"
#include "synth/synth_world.h"

#include "testutil.h"

/* For checks inside loops: ck_assert reports every passing check to the
 * parent process, which costs a system call each; this one is silent until
 * it fails. */
#define EXPECT(cond, ...)             \
    do {                              \
        if (!(cond))                  \
            ck_abort_msg(__VA_ARGS__); \
    } while (0)

#define TEST_ENTITIES 3000
#define TEST_SEED 42
#define FOLDS KGA_SYNTH_FOLDS

static const char *const top_files[] = {
    "rel_triples_1", "rel_triples_2", "attr_triples_1", "attr_triples_2",
    "ent_links", "README.txt"};
static const char *const split_files[] = {"train_links", "valid_links",
                                          "test_links"};

static const char LABEL_1[] = "http://www.w3.org/2000/01/rdf-schema#label";
static const char LABEL_2[] = "http://www.w3.org/2004/02/skos/core#prefLabel";
static const char TYPE_KEY[] = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
static const char YEAR_1[] = "http://kg1.example/ontology/releaseYear";
static const char YEAR_2[] = "http://kg2.example/prop/publication_year";

/* The documented relation schema: left name, right name, right inverted. */
static const struct {
    const char *left, *right;
    int inverted;
} schema[] = {
    {"http://kg1.example/ontology/directed",
     "http://kg2.example/prop/director", 1},
    {"http://kg1.example/ontology/wrote",
     "http://kg2.example/prop/screenwriter", 1},
    {"http://kg1.example/ontology/actedIn",
     "http://kg2.example/prop/cast_member", 1},
    {"http://kg1.example/ontology/produced",
     "http://kg2.example/prop/producer_of", 0},
    {"http://kg1.example/ontology/genre", "http://kg2.example/prop/genre", 0},
    {"http://kg1.example/ontology/playsCharacter",
     "http://kg2.example/prop/performer", 1},
    {"http://kg1.example/ontology/sequelOf",
     "http://kg2.example/prop/followed_by", 1},
};
#define SCHEMA_SIZE (sizeof schema / sizeof schema[0])

/* ---- files and directories ------------------------------------------- */

static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/kga_test_synth_XXXXXX");
    ck_assert_ptr_nonnull(dir);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static void remove_tree(char *dir)
{
    kga_test_remove_tree(dir);
    free(dir);
}

static void path_of(char *out, size_t cap, const char *dir, const char *name)
{
    ck_assert_int_lt(snprintf(out, cap, "%s/%s", dir, name), (int)cap);
}

static void fold_path(char *out, size_t cap, const char *dir, int fold,
                      const char *name)
{
    ck_assert_int_lt(snprintf(out, cap, "%s/721_5fold/%d/%s", dir, fold,
                              name),
                     (int)cap);
}

static void generate(const char *dir, uint64_t entities, uint64_t seed)
{
    kga_synth_params_t p;
    kga_synth_params_init(&p);
    p.entities = entities;
    p.seed = seed;
    kga_err_t err;
    kga_err_clear(&err);
    int rc = kga_synth_generate(&p, dir, NULL, NULL, &err);
    ck_assert_msg(rc == 0, "generate: %s", err.msg);
}

/* ---- TSV tables, string sets and maps ------------------------------- */

typedef struct {
    char *buf;
    char **cell; /* rows * cols */
    size_t rows;
    int cols;
} table_t;

/* Reads a TSV file whose every line has exactly `cols` non-empty fields. */
static table_t table_read(const char *path, int cols)
{
    table_t t = {0};
    size_t len;
    t.buf = kga_test_read_file(path, &len);
    t.cols = cols;
    ck_assert_msg(len == 0 || t.buf[len - 1] == '\n',
                  "%s does not end with a newline", path);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += t.buf[i] == '\n';
    t.cell = malloc((lines * (size_t)cols + 1) * sizeof *t.cell);
    ck_assert_ptr_nonnull(t.cell);
    char *p = t.buf, *end = t.buf + len;
    while (p < end) {
        for (int c = 0; c < cols; c++) {
            char *q = p;
            while (q < end && *q != '\t' && *q != '\n')
                q++;
            EXPECT(q > p, "%s line %zu: empty field %d", path, t.rows + 1,
                   c + 1);
            char want = c == cols - 1 ? '\n' : '\t';
            EXPECT(q < end && *q == want, "%s line %zu: not %d fields", path,
                   t.rows + 1, cols);
            *q = '\0';
            t.cell[t.rows * (size_t)cols + (size_t)c] = p;
            p = q + 1;
        }
        t.rows++;
    }
    return t;
}

static const char *cell(const table_t *t, size_t row, int col)
{
    return t->cell[row * (size_t)t->cols + (size_t)col];
}

static void table_free(table_t *t)
{
    free(t->buf);
    free(t->cell);
}

typedef struct {
    const char *key, *value;
} pair_t;

typedef struct {
    pair_t *v;
    size_t n, cap;
} pairs_t;

static void pairs_add(pairs_t *m, const char *key, const char *value)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
        EXPECT(m->v != NULL, "out of memory");
    }
    m->v[m->n++] = (pair_t){key, value};
}

static int pair_cmp(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c != 0 ? c : strcmp(x->value, y->value);
}

/* Sorts and drops repeated (key, value) pairs. */
static void pairs_sort(pairs_t *m)
{
    qsort(m->v, m->n, sizeof *m->v, pair_cmp);
    size_t out = 0;
    for (size_t i = 0; i < m->n; i++)
        if (out == 0 || pair_cmp(&m->v[out - 1], &m->v[i]) != 0)
            m->v[out++] = m->v[i];
    m->n = out;
}

static int key_cmp(const void *k, const void *p)
{
    return strcmp(k, ((const pair_t *)p)->key);
}

/* The value of some pair with this key in a sorted map, or NULL. */
static const char *pairs_get(const pairs_t *m, const char *key)
{
    const pair_t *p = bsearch(key, m->v, m->n, sizeof *m->v, key_cmp);
    return p != NULL ? p->value : NULL;
}

static int pairs_has(const pairs_t *m, const char *key, const char *value)
{
    pair_t probe = {key, value};
    return bsearch(&probe, m->v, m->n, sizeof *m->v, pair_cmp) != NULL;
}

/* The entities of one side: every head and tail of its relation triples. */
static pairs_t entities_of(const table_t *rel)
{
    pairs_t s = {0};
    for (size_t r = 0; r < rel->rows; r++) {
        pairs_add(&s, cell(rel, r, 0), "");
        pairs_add(&s, cell(rel, r, 2), "");
    }
    pairs_sort(&s);
    return s;
}

/* entity -> literal of one attribute key. */
static pairs_t attribute_map(const table_t *attr, const char *key)
{
    pairs_t m = {0};
    for (size_t r = 0; r < attr->rows; r++)
        if (strcmp(cell(attr, r, 1), key) == 0)
            pairs_add(&m, cell(attr, r, 0), cell(attr, r, 2));
    pairs_sort(&m);
    return m;
}

/* ---- a generated pair, read back ------------------------------------ */

typedef struct {
    char *dir;
    table_t rel[2], attr[2], links;
} pair_files_t;

static pair_files_t pair_open(uint64_t entities, uint64_t seed)
{
    pair_files_t f;
    char path[512];
    f.dir = make_tmpdir();
    generate(f.dir, entities, seed);
    for (int side = 0; side < 2; side++) {
        path_of(path, sizeof path, f.dir, side == 0 ? "rel_triples_1"
                                                    : "rel_triples_2");
        f.rel[side] = table_read(path, 3);
        path_of(path, sizeof path, f.dir, side == 0 ? "attr_triples_1"
                                                    : "attr_triples_2");
        f.attr[side] = table_read(path, 3);
    }
    path_of(path, sizeof path, f.dir, "ent_links");
    f.links = table_read(path, 2);
    return f;
}

static void pair_close(pair_files_t *f)
{
    for (int side = 0; side < 2; side++) {
        table_free(&f->rel[side]);
        table_free(&f->attr[side]);
    }
    table_free(&f->links);
    remove_tree(f->dir);
}

/* ---- rng --------------------------------------------------------------- */

START_TEST(test_rng_reproducible_and_streams_differ)
{
    kga_rng_t a, b, c;
    kga_rng_init(&a, 7, 1);
    kga_rng_init(&b, 7, 1);
    kga_rng_init(&c, 7, 2);
    int same_as_other_stream = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = kga_rng_next(&a);
        EXPECT(x == kga_rng_next(&b), "draw %d differs", i);
        same_as_other_stream += x == kga_rng_next(&c);
    }
    ck_assert_int_eq(same_as_other_stream, 0);
    /* Swapping seed and stream gives another sequence. */
    kga_rng_init(&a, 1, 7);
    kga_rng_init(&b, 7, 1);
    ck_assert_uint_ne(kga_rng_next(&a), kga_rng_next(&b));
}
END_TEST

START_TEST(test_rng_bounds_and_uniformity)
{
    kga_rng_t r;
    kga_rng_init(&r, 123, 0);
    enum { BUCKETS = 10, DRAWS = 100000 };
    unsigned hist[BUCKETS] = {0};
    for (int i = 0; i < DRAWS; i++) {
        uint32_t x = kga_rng_below(&r, BUCKETS);
        EXPECT(x < BUCKETS, "below: %u", x);
        hist[x]++;
        uint32_t y = kga_rng_range(&r, 5, 9);
        EXPECT(y >= 5 && y <= 9, "range: %u", y);
        double u = kga_rng_unit(&r);
        EXPECT(u >= 0.0 && u < 1.0, "unit: %g", u);
        uint64_t z = kga_rng_below64(&r, 5000000000ull);
        EXPECT(z < 5000000000ull, "below64: %llu", (unsigned long long)z);
    }
    /* Each bucket within 5% of its expectation (about 10 sigma). */
    for (int k = 0; k < BUCKETS; k++)
        ck_assert(fabs((double)hist[k] - DRAWS / BUCKETS) < 0.05 * DRAWS);
    ck_assert_uint_eq(kga_rng_below(&r, 0), 0);
    ck_assert_uint_eq(kga_rng_range(&r, 9, 3), 9);
    ck_assert_int_eq(kga_rng_chance(&r, 0.0), 0);
    ck_assert_int_eq(kga_rng_chance(&r, 1.0), 1);
}
END_TEST

START_TEST(test_rng_shuffle_is_permutation)
{
    enum { N = 1000 };
    uint32_t a[N];
    for (uint32_t i = 0; i < N; i++)
        a[i] = i;
    kga_rng_t r;
    kga_rng_init(&r, 5, 5);
    kga_rng_shuffle_u32(&r, a, N);
    unsigned char seen[N] = {0};
    int fixed = 0;
    for (uint32_t i = 0; i < N; i++) {
        EXPECT(a[i] < N && !seen[a[i]], "not a permutation at %u", i);
        seen[a[i]] = 1;
        fixed += a[i] == i;
    }
    /* A uniform permutation fixes about one point. */
    ck_assert_int_lt(fixed, 10);
}
END_TEST

/* ---- names ------------------------------------------------------------- */

static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

START_TEST(test_strip_accents_covers_word_lists)
{
    const kga_synth_list_t *lists[] = {
        &kga_synth_first_names, &kga_synth_last_names, &kga_synth_adjectives,
        &kga_synth_nouns,       &kga_synth_places,     &kga_synth_honorifics,
        &kga_synth_genres};
    int accented = 0;
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        for (size_t i = 0; i < lists[l]->count; i++) {
            const char *w = lists[l]->words[i];
            EXPECT(kga_utf8_valid(w, strlen(w), NULL), "bad UTF-8: %s", w);
            EXPECT(strpbrk(w, "\t\n") == NULL, "tab or newline in %s", w);
            char plain[KGA_SYNTH_NAME_MAX];
            kga_synth_strip_accents(w, strlen(w), plain, sizeof plain);
            EXPECT(is_ascii(plain), "'%s' keeps accents: '%s'", w, plain);
            accented += !is_ascii(w);
        }
    }
    ck_assert_int_gt(accented, 50);
    char out[32];
    kga_synth_strip_accents("Zoë Núñez", strlen("Zoë Núñez"), out, sizeof out);
    ck_assert_str_eq(out, "Zoe Nunez");
    /* Truncation never splits a character. */
    ck_assert_uint_eq(kga_synth_strip_accents("ab", 2, out, 2), 1);
    ck_assert_str_eq(out, "a");
}
END_TEST

START_TEST(test_name_variants_of_one_person)
{
    /* José García (middle name Zoë) Jr.: every variant kind applies. */
    kga_synth_entity_t e = {.kind = KGA_SYNTH_PERSON, .flags = KGA_SYNTH_FLAG_JR};
    for (uint32_t i = 0; i < kga_synth_first_names.count; i++) {
        if (strcmp(kga_synth_first_names.words[i], "José") == 0)
            e.word[0] = i;
        if (strcmp(kga_synth_first_names.words[i], "Zoë") == 0)
            e.word[1] = i;
    }
    for (uint32_t i = 0; i < kga_synth_last_names.count; i++)
        if (strcmp(kga_synth_last_names.words[i], "García") == 0)
            e.word[2] = i;
    kga_synth_name_t canonical, v;
    kga_synth_name_canonical(&e, &canonical);
    ck_assert_str_eq(canonical.s, "José Zoë García Jr.");
    int differ = 0, plain = 0, no_middle = 0, no_jr = 0;
    for (uint64_t k = 0; k < 2000; k++) {
        kga_rng_t r;
        kga_rng_init(&r, 1, k);
        int varied = kga_synth_name_variant(&e, &r, 1.0, &v);
        EXPECT(varied == 1, "noise 1 gave no variant");
        EXPECT(kga_utf8_valid(v.s, v.len, NULL), "bad UTF-8: %s", v.s);
        EXPECT(strlen(v.s) == v.len, "length of %s", v.s);
        differ += strcmp(v.s, canonical.s) != 0;
        plain += strcmp(v.s, "Jose Zoe Garcia Jr.") == 0;
        no_middle += strcmp(v.s, "José García Jr.") == 0;
        no_jr += strcmp(v.s, "José Zoë García") == 0;
    }
    ck_assert_int_gt(differ, 1900);
    ck_assert_int_gt(plain, 0);
    ck_assert_int_gt(no_middle, 0);
    ck_assert_int_gt(no_jr, 0);
    /* No noise: the canonical name. */
    kga_rng_t r;
    kga_rng_init(&r, 1, 1);
    ck_assert_int_eq(kga_synth_name_variant(&e, &r, 0.0, &v), 0);
    ck_assert_str_eq(v.s, canonical.s);
}
END_TEST

/* ---- parameters -------------------------------------------------------- */

START_TEST(test_params_rejected)
{
    kga_synth_params_t p;
    kga_err_t err;
    kga_synth_params_init(&p);
    ck_assert_int_eq(kga_synth_params_check(&p, &err), 0);
    p.entities = KGA_SYNTH_MIN_ENTITIES - 1;
    ck_assert_int_eq(kga_synth_params_check(&p, &err), KGA_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "entities"));
    p.entities = (uint64_t)KGA_SYNTH_MAX_ENTITIES + 1;
    ck_assert_int_eq(kga_synth_params_check(&p, &err), KGA_ERANGE);
    kga_synth_params_init(&p);
    p.one_sided = 0.95;
    ck_assert_int_eq(kga_synth_params_check(&p, &err), KGA_ERANGE);
    kga_synth_params_init(&p);
    p.name_noise = NAN;
    ck_assert_int_eq(kga_synth_params_check(&p, &err), KGA_ERANGE);
    kga_synth_params_init(&p);
    p.edge_drop = -0.1;
    ck_assert_int_eq(kga_synth_params_check(&p, &err), KGA_ERANGE);
    /* generate checks too, before touching the disk. */
    p.edge_drop = 2.0;
    ck_assert_int_eq(kga_synth_generate(&p, "/nonexistent/never", NULL, NULL,
                                        &err),
                     KGA_ERANGE);
}
END_TEST

START_TEST(test_unwritable_directory_named)
{
    char *dir = make_tmpdir();
    char file[512], out[600];
    path_of(file, sizeof file, dir, "plain_file");
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(out, sizeof out, "%s/sub/out", file);
    kga_synth_params_t p;
    kga_synth_params_init(&p);
    p.entities = 100;
    kga_err_t err;
    kga_err_clear(&err);
    ck_assert_int_eq(kga_synth_generate(&p, out, NULL, NULL, &err), KGA_EIO);
    ck_assert_msg(strstr(err.msg, file) != NULL, "message: %s", err.msg);
    if (geteuid() != 0) {
        /* A read-only directory: the file that cannot be made is named. */
        char ro[512];
        path_of(ro, sizeof ro, dir, "ro");
        ck_assert_int_eq(mkdir(ro, 0555), 0);
        ck_assert_int_eq(kga_synth_generate(&p, ro, NULL, NULL, &err),
                         KGA_EIO);
        ck_assert_msg(strstr(err.msg, ro) != NULL, "message: %s", err.msg);
    }
    remove_tree(dir);
}
END_TEST

/* Symbolic links planted at every temporary name of an output file (and at
 * the older NAME.tmp.PID) are never followed. */
START_TEST(test_planted_links_are_not_followed)
{
    char *dir = make_tmpdir();
    char victim[512];
    path_of(victim, sizeof victim, dir, "victim.txt");
    kga_test_write_file(victim, "precious\n", 9);
    char out[512];
    for (size_t i = 0; i < sizeof top_files / sizeof top_files[0]; i++) {
        path_of(out, sizeof out, dir, top_files[i]);
        kga_test_plant_links(out, victim, 16);
    }
    generate(dir, 100, TEST_SEED);
    for (size_t i = 0; i < sizeof top_files / sizeof top_files[0]; i++) {
        path_of(out, sizeof out, dir, top_files[i]);
        kga_test_check_planted_links(out, victim, "precious\n", 16);
        struct stat st;
        ck_assert_int_eq(lstat(out, &st), 0);
        ck_assert(S_ISREG(st.st_mode) && st.st_size > 0);
    }
    remove_tree(dir);
}
END_TEST

/* ---- determinism ------------------------------------------------------- */

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = kga_test_read_file(a, &la), *y = kga_test_read_file(b, &lb);
    int same = la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* Compares every output file of two directories; returns how many are
 * byte-identical and sets *files to how many there are. */
static int count_same_files(const char *a, const char *b, int *files)
{
    char pa[512], pb[512];
    int same = 0;
    *files = 0;
    for (size_t i = 0; i < sizeof top_files / sizeof top_files[0]; i++) {
        path_of(pa, sizeof pa, a, top_files[i]);
        path_of(pb, sizeof pb, b, top_files[i]);
        same += same_file(pa, pb);
        ++*files;
    }
    for (int k = 1; k <= FOLDS; k++)
        for (size_t i = 0; i < 3; i++) {
            fold_path(pa, sizeof pa, a, k, split_files[i]);
            fold_path(pb, sizeof pb, b, k, split_files[i]);
            same += same_file(pa, pb);
            ++*files;
        }
    return same;
}

START_TEST(test_same_seed_same_bytes)
{
    char *a = make_tmpdir(), *b = make_tmpdir();
    generate(a, TEST_ENTITIES, TEST_SEED);
    generate(b, TEST_ENTITIES, TEST_SEED);
    int files;
    ck_assert_int_eq(count_same_files(a, b, &files), files);
    ck_assert_int_eq(files, 6 + 3 * FOLDS);
    remove_tree(a);
    remove_tree(b);
}
END_TEST

START_TEST(test_other_seed_other_bytes)
{
    char *a = make_tmpdir(), *b = make_tmpdir();
    generate(a, TEST_ENTITIES, TEST_SEED);
    generate(b, TEST_ENTITIES, TEST_SEED + 1);
    int files;
    /* Nothing but the README's layout may coincide, and not even that
     * (it states the seed). */
    ck_assert_int_eq(count_same_files(a, b, &files), 0);
    remove_tree(a);
    remove_tree(b);
}
END_TEST

START_TEST(test_seed_extremes)
{
    char *a = make_tmpdir();
    generate(a, 50, 0);
    generate(a, 50, UINT64_MAX);
    remove_tree(a);
}
END_TEST

/* ---- structure ------------------------------------------------------------ */

START_TEST(test_links_name_existing_entities)
{
    pair_files_t f = pair_open(TEST_ENTITIES, TEST_SEED);
    pairs_t ents[2], attr_ents[2];
    for (int side = 0; side < 2; side++) {
        ents[side] = entities_of(&f.rel[side]);
        attr_ents[side] = (pairs_t){0};
        for (size_t r = 0; r < f.attr[side].rows; r++)
            pairs_add(&attr_ents[side], cell(&f.attr[side], r, 0), "");
        pairs_sort(&attr_ents[side]);
        /* The same entities in triples and attributes: nobody isolated,
         * nobody unnamed. */
        ck_assert_uint_eq(ents[side].n, attr_ents[side].n);
        for (size_t i = 0; i < ents[side].n; i++)
            EXPECT(strcmp(ents[side].v[i].key, attr_ents[side].v[i].key) == 0,
                   "side %d: %s vs %s", side + 1, ents[side].v[i].key,
                   attr_ents[side].v[i].key);
        /* Every entity has a label and a type. */
        pairs_t label = attribute_map(&f.attr[side], side ? LABEL_2 : LABEL_1);
        pairs_t type = attribute_map(&f.attr[side], TYPE_KEY);
        ck_assert_uint_eq(label.n, ents[side].n);
        ck_assert_uint_eq(type.n, ents[side].n);
        free(label.v);
        free(type.v);
    }
    pairs_t left = {0}, right = {0};
    for (size_t r = 0; r < f.links.rows; r++) {
        EXPECT(pairs_get(&ents[0], cell(&f.links, r, 0)) != NULL,
               "link to unknown left %s", cell(&f.links, r, 0));
        EXPECT(pairs_get(&ents[1], cell(&f.links, r, 1)) != NULL,
               "link to unknown right %s", cell(&f.links, r, 1));
        pairs_add(&left, cell(&f.links, r, 0), "");
        pairs_add(&right, cell(&f.links, r, 1), "");
    }
    pairs_sort(&left);
    pairs_sort(&right);
    /* One to one. */
    ck_assert_uint_eq(left.n, f.links.rows);
    ck_assert_uint_eq(right.n, f.links.rows);
    /* Each side has entities the other lacks: about 15%. */
    for (int side = 0; side < 2; side++) {
        double one_sided = 1.0 - (double)f.links.rows / (double)ents[side].n;
        ck_assert_msg(one_sided > 0.10 && one_sided < 0.20,
                      "side %d one-sided share %.3f", side + 1, one_sided);
        /* About N entities per side. */
        ck_assert(ents[side].n > TEST_ENTITIES * 7 / 10 &&
                  ents[side].n <= TEST_ENTITIES);
        free(ents[side].v);
        free(attr_ents[side].v);
    }
    free(left.v);
    free(right.v);
    pair_close(&f);
}
END_TEST

static pairs_t link_set(const char *path)
{
    table_t t = table_read(path, 2);
    pairs_t s = {0};
    for (size_t r = 0; r < t.rows; r++) {
        pairs_add(&s, strdup(cell(&t, r, 0)), strdup(cell(&t, r, 1)));
    }
    table_free(&t);
    size_t before = s.n;
    pairs_sort(&s);
    ck_assert_uint_eq(s.n, before); /* no repeated link */
    return s;
}

static void link_set_free(pairs_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((char *)s->v[i].key);
        free((char *)s->v[i].value);
    }
    free(s->v);
}

START_TEST(test_folds_partition_links)
{
    char *dir = make_tmpdir();
    generate(dir, TEST_ENTITIES, TEST_SEED);
    char path[512];
    path_of(path, sizeof path, dir, "ent_links");
    pairs_t all = link_set(path);
    size_t n = all.n;
    unsigned char *trained = calloc(n, 1);
    for (int k = 1; k <= FOLDS; k++) {
        pairs_t split[3];
        unsigned char *in = calloc(n, 1);
        for (int s = 0; s < 3; s++) {
            fold_path(path, sizeof path, dir, k, split_files[s]);
            split[s] = link_set(path);
            for (size_t i = 0; i < split[s].n; i++) {
                pair_t *p = bsearch(&split[s].v[i], all.v, n, sizeof *all.v,
                                    pair_cmp);
                EXPECT(p != NULL, "fold %d: link not in ent_links", k);
                size_t at = (size_t)(p - all.v);
                EXPECT(!in[at], "fold %d: link in two splits", k);
                in[at] = 1;
                if (s == 0) {
                    EXPECT(!trained[at], "train sets overlap");
                    trained[at] = 1;
                }
            }
        }
        for (size_t i = 0; i < n; i++)
            EXPECT(in[i], "fold %d misses a link", k);
        /* 20 / 10 / 70 */
        ck_assert(split[0].n == n / 5 || split[0].n == n / 5 + 1);
        ck_assert_uint_eq(split[1].n, n / 10);
        ck_assert_uint_eq(split[0].n + split[1].n + split[2].n, n);
        for (int s = 0; s < 3; s++)
            link_set_free(&split[s]);
        free(in);
    }
    for (size_t i = 0; i < n; i++)
        EXPECT(trained[i], "a link is in no training set");
    free(trained);
    link_set_free(&all);
    remove_tree(dir);
}
END_TEST

/* The number at the end of an entity URI. */
static double uri_number(const char *uri)
{
    const char *p = uri + strlen(uri);
    while (p > uri && p[-1] >= '0' && p[-1] <= '9')
        p--;
    EXPECT(*p != '\0', "no number in %s", uri);
    return strtod(p, NULL);
}

typedef struct {
    double left, right;
} id_pair_t;

static int by_left(const void *a, const void *b)
{
    const id_pair_t *x = a, *y = b;
    return (x->left > y->left) - (x->left < y->left);
}

START_TEST(test_ids_carry_no_alignment)
{
    pair_files_t f = pair_open(TEST_ENTITIES, TEST_SEED);
    size_t n = f.links.rows;
    id_pair_t *ids = malloc(n * sizeof *ids);
    for (size_t r = 0; r < n; r++)
        ids[r] = (id_pair_t){uri_number(cell(&f.links, r, 0)),
                             uri_number(cell(&f.links, r, 1))};
    qsort(ids, n, sizeof *ids, by_left);
    /* Sorted by left id, the right ids neither rise nor fall: their rank
     * correlation with the left ids is near 0 (1/sqrt(n) is about 0.025). */
    double mean = 0, cov = 0, var_l = 0, var_r = 0;
    for (size_t i = 0; i < n; i++)
        mean += ids[i].right;
    mean /= (double)n;
    double mean_l = (double)(n - 1) / 2.0;
    for (size_t i = 0; i < n; i++) {
        double dl = (double)i - mean_l, dr = ids[i].right - mean;
        cov += dl * dr;
        var_l += dl * dl;
        var_r += dr * dr;
    }
    double corr = cov / sqrt(var_l * var_r);
    ck_assert_msg(fabs(corr) < 0.1, "left and right ids correlate: %.3f",
                  corr);
    /* No constant offset maps many left ids to right ids. */
    size_t offset_hits = 0;
    for (size_t i = 1; i < n; i++)
        offset_hits += ids[i].right - ids[i].left ==
                       ids[i - 1].right - ids[i - 1].left;
    ck_assert_uint_lt(offset_hits, n / 100 + 2);
    /* Ascents of the right ids in left order: about half. */
    size_t ascents = 0;
    for (size_t i = 1; i < n; i++)
        ascents += ids[i].right > ids[i - 1].right;
    ck_assert(fabs((double)ascents / (double)(n - 1) - 0.5) < 0.05);
    free(ids);
    pair_close(&f);
}
END_TEST

START_TEST(test_all_files_utf8_tsv)
{
    char *dir = make_tmpdir();
    generate(dir, TEST_ENTITIES, TEST_SEED);
    char path[512];
    for (size_t i = 0; i < sizeof top_files / sizeof top_files[0]; i++) {
        path_of(path, sizeof path, dir, top_files[i]);
        size_t len;
        char *buf = kga_test_read_file(path, &len);
        ck_assert_msg(len > 0, "%s is empty", path);
        ck_assert_msg(kga_utf8_valid(buf, len, NULL), "%s: bad UTF-8", path);
        if (strcmp(top_files[i], "README.txt") != 0)
            ck_assert_msg(strstr(buf, "\n\n") == NULL, "%s: empty line",
                          path);
        ck_assert_msg(memchr(buf, '\r', len) == NULL, "%s: CR", path);
        free(buf);
    }
    /* table_read checks the field counts. */
    path_of(path, sizeof path, dir, "attr_triples_1");
    table_t t = table_read(path, 3);
    int accented = 0;
    for (size_t r = 0; r < t.rows; r++)
        accented += strcmp(cell(&t, r, 1), LABEL_1) == 0 &&
                    !is_ascii(cell(&t, r, 2));
    ck_assert_int_gt(accented, 10);
    table_free(&t);
    remove_tree(dir);
}
END_TEST

/* ---- noise ------------------------------------------------------------- */

static void lower_ascii(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

START_TEST(test_names_are_noisy)
{
    pair_files_t f = pair_open(TEST_ENTITIES, TEST_SEED);
    pairs_t label[2] = {attribute_map(&f.attr[0], LABEL_1),
                        attribute_map(&f.attr[1], LABEL_2)};
    pairs_t type = attribute_map(&f.attr[0], TYPE_KEY);
    size_t n = f.links.rows, differ = 0, accents = 0, article = 0,
           lowered = 0, jr_left = 0;
    for (size_t r = 0; r < n; r++) {
        const char *l = pairs_get(&label[0], cell(&f.links, r, 0));
        const char *rt = pairs_get(&label[1], cell(&f.links, r, 1));
        EXPECT(l != NULL && rt != NULL, "linked entity without a label");
        if (strcmp(pairs_get(&type, cell(&f.links, r, 0)), "Genre") == 0)
            continue;
        differ += strcmp(l, rt) != 0;
        char plain[KGA_SYNTH_NAME_MAX], low[KGA_SYNTH_NAME_MAX];
        kga_synth_strip_accents(l, strlen(l), plain, sizeof plain);
        accents += strcmp(l, rt) != 0 && strcmp(plain, rt) == 0;
        article += strncmp(l, "The ", 4) == 0 && strcmp(l + 4, rt) == 0;
        snprintf(low, sizeof low, "%s", l);
        lower_ascii(low);
        lowered += strcmp(l, low) != 0 && strcmp(low, rt) == 0;
        jr_left += strstr(l, " Jr.") != NULL;
    }
    /* About 35% of the names vary. */
    ck_assert_msg(differ > n / 5 && differ < n / 2, "%zu of %zu differ",
                  differ, n);
    ck_assert_uint_gt(accents, 0);
    ck_assert_uint_gt(article, 0);
    ck_assert_uint_gt(lowered, 0);
    ck_assert_uint_gt(jr_left, 0);
    for (int side = 0; side < 2; side++)
        free(label[side].v);
    free(type.v);
    pair_close(&f);
}
END_TEST

START_TEST(test_years_missing_on_one_side)
{
    pair_files_t f = pair_open(TEST_ENTITIES, TEST_SEED);
    pairs_t year[2] = {attribute_map(&f.attr[0], YEAR_1),
                       attribute_map(&f.attr[1], YEAR_2)};
    size_t only_left = 0, only_right = 0, both = 0;
    for (size_t r = 0; r < f.links.rows; r++) {
        int l = pairs_get(&year[0], cell(&f.links, r, 0)) != NULL;
        int rt = pairs_get(&year[1], cell(&f.links, r, 1)) != NULL;
        only_left += l && !rt;
        only_right += rt && !l;
        both += l && rt;
    }
    ck_assert_uint_gt(only_left, 0);
    ck_assert_uint_gt(only_right, 0);
    ck_assert_uint_gt(both, only_left + only_right);
    free(year[0].v);
    free(year[1].v);
    pair_close(&f);
}
END_TEST

/* Maps every left triple between linked entities into the right schema and
 * counts how many the right graph has: most, not all (edges go missing),
 * which also checks the relation names and directions of the schema. */
START_TEST(test_views_share_most_edges)
{
    pair_files_t f = pair_open(TEST_ENTITIES, TEST_SEED);
    pairs_t to_right = {0};
    for (size_t r = 0; r < f.links.rows; r++)
        pairs_add(&to_right, cell(&f.links, r, 0), cell(&f.links, r, 1));
    pairs_sort(&to_right);
    /* Right triples as "head\trel" -> tail. */
    pairs_t right = {0};
    char **keys = malloc(f.rel[1].rows * sizeof *keys);
    for (size_t r = 0; r < f.rel[1].rows; r++) {
        EXPECT(asprintf(&keys[r], "%s\t%s", cell(&f.rel[1], r, 0),
                        cell(&f.rel[1], r, 1)) > 0,
               "out of memory");
        pairs_add(&right, keys[r], cell(&f.rel[1], r, 2));
    }
    pairs_sort(&right);
    size_t mapped = 0, found = 0;
    for (size_t r = 0; r < f.rel[0].rows; r++) {
        const char *h = pairs_get(&to_right, cell(&f.rel[0], r, 0));
        const char *t = pairs_get(&to_right, cell(&f.rel[0], r, 2));
        size_t k = 0;
        while (k < SCHEMA_SIZE && strcmp(schema[k].left, cell(&f.rel[0], r, 1)))
            k++;
        EXPECT(k < SCHEMA_SIZE, "unknown relation %s", cell(&f.rel[0], r, 1));
        if (h == NULL || t == NULL)
            continue;
        char key[1024];
        snprintf(key, sizeof key, "%s\t%s", schema[k].inverted ? t : h,
                 schema[k].right);
        mapped++;
        found += pairs_has(&right, key, schema[k].inverted ? h : t);
    }
    double share = (double)found / (double)mapped;
    ck_assert_msg(share > 0.75 && share < 0.97, "share %.3f of %zu", share,
                  mapped);
    for (size_t r = 0; r < f.rel[1].rows; r++)
        free(keys[r]);
    free(keys);
    free(right.v);
    free(to_right.v);
    pair_close(&f);
}
END_TEST

/* Remakes: two films with one title and different years; namesakes: two
 * people with one name. */
START_TEST(test_near_duplicates_exist)
{
    pair_files_t f = pair_open(TEST_ENTITIES, TEST_SEED);
    pairs_t type = attribute_map(&f.attr[0], TYPE_KEY);
    pairs_t year = attribute_map(&f.attr[0], YEAR_1);
    pairs_t by_name = {0};
    for (size_t r = 0; r < f.attr[0].rows; r++)
        if (strcmp(cell(&f.attr[0], r, 1), LABEL_1) == 0)
            pairs_add(&by_name, cell(&f.attr[0], r, 2), cell(&f.attr[0], r, 0));
    pairs_sort(&by_name);
    size_t remakes = 0, namesakes = 0;
    for (size_t i = 1; i < by_name.n; i++) {
        if (strcmp(by_name.v[i].key, by_name.v[i - 1].key) != 0)
            continue;
        const char *a = by_name.v[i - 1].value, *b = by_name.v[i].value;
        const char *ta = pairs_get(&type, a), *tb = pairs_get(&type, b);
        if (strcmp(ta, "Film") == 0 && strcmp(tb, "Film") == 0) {
            const char *ya = pairs_get(&year, a), *yb = pairs_get(&year, b);
            remakes += ya != NULL && yb != NULL && strcmp(ya, yb) != 0;
        }
        namesakes += strcmp(ta, "Person") == 0 && strcmp(tb, "Person") == 0;
    }
    ck_assert_uint_gt(remakes, 0);
    ck_assert_uint_gt(namesakes, 0);
    free(by_name.v);
    free(type.v);
    free(year.v);
    pair_close(&f);
}
END_TEST

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A world larger than its word lists have first and last names for:
 * (before names were drawn again while taken, a third of its people
 * shared a name). Only the planted near duplicates repeat a name. */
START_TEST(test_world_names_distinct_but_planted)
{
    kga_synth_world_t w;
    kga_err_t err = {0};
    ck_assert_int_eq(kga_synth_world_build(&w, 120000, TEST_SEED, NULL, &err),
                     0);
    char **names = malloc(w.entity_count * sizeof *names);
    ck_assert_ptr_nonnull(names);
    for (uint32_t i = 0; i < w.entity_count; i++) {
        kga_synth_name_t n;
        kga_synth_name_canonical(&w.entities[i], &n);
        names[i] = strdup(n.s);
        ck_assert_ptr_nonnull(names[i]);
    }
    qsort(names, w.entity_count, sizeof *names, strcmp_ptr);
    uint64_t repeats = 0;
    for (uint32_t i = 1; i < w.entity_count; i++)
        repeats += strcmp(names[i], names[i - 1]) == 0;
    /* Each repeat is a namesake, a remake or the sequel of one. */
    ck_assert_uint_gt(w.namesakes, 0);
    ck_assert_uint_le(repeats, w.namesakes + w.remakes + w.sequels);
    ck_assert_uint_ge(repeats, w.namesakes / 2);
    for (uint32_t i = 0; i < w.entity_count; i++)
        free(names[i]);
    free(names);
    kga_synth_world_destroy(&w);
}
END_TEST

START_TEST(test_qualifier_and_composed_surnames)
{
    uint32_t count = kga_synth_surname_count();
    ck_assert_uint_eq(count, kga_synth_last_names.count +
                                 kga_synth_surname_stems.count *
                                     kga_synth_surname_endings.count);
    kga_synth_entity_t e = {.kind = KGA_SYNTH_PERSON};
    e.word[0] = 0;                          /* James */
    e.word[1] = KGA_SYNTH_NO_WORD;
    /* The first composed surname, double-barrelled with the first common
     * one, and the third of the name. */
    e.word[2] = (uint32_t)kga_synth_last_names.count + count * 1u;
    e.qualifier = 2;
    kga_synth_name_t n;
    kga_synth_name_canonical(&e, &n);
    char want[KGA_SYNTH_NAME_MAX];
    snprintf(want, sizeof want, "%s %s%s-%s (III)",
             kga_synth_first_names.words[0], kga_synth_surname_stems.words[0],
             kga_synth_surname_endings.words[0],
             kga_synth_last_names.words[0]);
    ck_assert_str_eq(n.s, want);
    e.qualifier = 1999;
    kga_synth_name_canonical(&e, &n);
    ck_assert_ptr_nonnull(strstr(n.s, " (MM)"));
}
END_TEST

START_TEST(test_smallest_world)
{
    pair_files_t f = pair_open(KGA_SYNTH_MIN_ENTITIES, 3);
    ck_assert_uint_gt(f.rel[0].rows, 0);
    ck_assert_uint_gt(f.rel[1].rows, 0);
    pair_close(&f);
}
END_TEST

/* ---- command line ------------------------------------------------------ */

static int run_cli(const char *a1, const char *a2, const char *a3,
                   const char *a4)
{
    char *argv[] = {(char *)"synth", (char *)a1, (char *)a2, (char *)a3, (char *)a4,
                    NULL};
    int argc = 1;
    while (argv[argc] != NULL)
        argc++;
    /* The summary and the help are not under test here. */
    ck_assert_ptr_nonnull(freopen("/dev/null", "w", stdout));
    return kga_cmd_synth(argc, argv);
}

START_TEST(test_cli_usage_errors)
{
    char *dir = make_tmpdir();
    ck_assert_int_eq(run_cli(NULL, NULL, NULL, NULL), 2);
    ck_assert_int_eq(run_cli("--entities", "9", dir, NULL), 2);
    ck_assert_int_eq(run_cli("--entities", "50000001", dir, NULL), 2);
    ck_assert_int_eq(run_cli("--entities", "12abc", dir, NULL), 2);
    ck_assert_int_eq(run_cli("--entities", "-20", dir, NULL), 2);
    ck_assert_int_eq(run_cli("--seed", "-1", dir, NULL), 2);
    ck_assert_int_eq(run_cli("--seed", "18446744073709551616", dir, NULL), 2);
    ck_assert_int_eq(run_cli("--name-noise", "1.5", dir, NULL), 2);
    ck_assert_int_eq(run_cli("--bogus", dir, NULL, NULL), 2);
    ck_assert_int_eq(run_cli(dir, dir, NULL, NULL), 2);
    ck_assert_int_eq(run_cli("--entities", NULL, NULL, NULL), 2);
    ck_assert_int_eq(run_cli("--help", NULL, NULL, NULL), 0);
    /* Nothing was written by the failed runs. */
    char path[512];
    path_of(path, sizeof path, dir, "ent_links");
    ck_assert_int_ne(access(path, F_OK), 0);
    remove_tree(dir);
}
END_TEST

START_TEST(test_cli_generates)
{
    char *dir = make_tmpdir();
    char out[512];
    path_of(out, sizeof out, dir, "a/b");
    ck_assert_int_eq(run_cli("--entities=200", "--seed=18446744073709551615",
                             out, NULL),
                     0);
    char path[600];
    fold_path(path, sizeof path, out, 5, "test_links");
    ck_assert_int_eq(access(path, F_OK), 0);
    path_of(path, sizeof path, out, "README.txt");
    size_t len;
    char *readme = kga_test_read_file(path, &len);
    ck_assert_ptr_nonnull(strstr(readme, "--seed 18446744073709551615"));
    free(readme);
    /* Same world through the library and hex seed. */
    char other[512];
    path_of(other, sizeof other, dir, "c");
    ck_assert_int_eq(run_cli("--entities", "200", "--seed=0xffffffffffffffff",
                             other),
                     0);
    int files;
    ck_assert_int_eq(count_same_files(out, other, &files), files);
    /* An unwritable output is a failure (1), not a usage error. */
    path_of(path, sizeof path, out, "README.txt/x");
    ck_assert_int_eq(run_cli("--entities", "20", path, NULL), 1);
    remove_tree(dir);
}
END_TEST

static Suite *synth_suite(void)
{
    Suite *s = suite_create("synth");
    TCase *rng = kga_test_tcase(s, "rng", 0);
    tcase_add_test(rng, test_rng_reproducible_and_streams_differ);
    tcase_add_test(rng, test_rng_bounds_and_uniformity);
    tcase_add_test(rng, test_rng_shuffle_is_permutation);

    TCase *names = kga_test_tcase(s, "names", 0);
    tcase_add_test(names, test_strip_accents_covers_word_lists);
    tcase_add_test(names, test_name_variants_of_one_person);
    tcase_add_test(names, test_qualifier_and_composed_surnames);

    TCase *gen = kga_test_tcase(s, "generate", 60);
    tcase_add_test(gen, test_params_rejected);
    tcase_add_test(gen, test_unwritable_directory_named);
    tcase_add_test(gen, test_planted_links_are_not_followed);
    tcase_add_test(gen, test_same_seed_same_bytes);
    tcase_add_test(gen, test_other_seed_other_bytes);
    tcase_add_test(gen, test_seed_extremes);
    tcase_add_test(gen, test_links_name_existing_entities);
    tcase_add_test(gen, test_folds_partition_links);
    tcase_add_test(gen, test_ids_carry_no_alignment);
    tcase_add_test(gen, test_all_files_utf8_tsv);
    tcase_add_test(gen, test_names_are_noisy);
    tcase_add_test(gen, test_years_missing_on_one_side);
    tcase_add_test(gen, test_views_share_most_edges);
    tcase_add_test(gen, test_near_duplicates_exist);
    tcase_add_test(gen, test_smallest_world);
    tcase_add_test(gen, test_world_names_distinct_but_planted);

    TCase *cli = kga_test_tcase(s, "cli", 60);
    tcase_add_test(cli, test_cli_usage_errors);
    tcase_add_test(cli, test_cli_generates);
    return s;
}

int main(void)
{
    return kga_test_run(synth_suite);
}
