/* Explanations (core/align/explain.c) on a small synthetic pair, trained
 * twice through the kgalign command: with names (the name item, mutual
 * best matches) and structure only (`--features ids`: pseudo-seeds, no name
 * item). What is held, for the test links:
 *   - the name item comes first exactly when the model uses names, and is
 *     the pair's TF-IDF cosine;
 *   - every neighbour pair is one the model believes is one entity, of the
 *     kind it says: a known link (weight 1), a pseudo-seed of the model
 *     file, or a mutual best match (fused probability >= 1/2, neither in a
 *     known link or a seed that stands), with the pair probability as
 *     weight;
 *   - each is reached from its entity by the relation and direction given;
 *   - no neighbour appears twice; weights never increase; at equal weight
 *     known links come first, then rarer neighbours;
 *   - with room for all, every known-link neighbour pair is listed;
 *   - the synthetic pair's top neighbour pair is a gold link nearly
 *     always (bench/bench_explain.c measures the real data). */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "align/aligner.h"
#include "align/scorer.h"
#include "model/model_file.h"
#include "model/model_layout.h"
#include "store/dataset.h"

static char tmp[256];
static char data[320];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Once for the whole suite: the pair and both models. */
static void build_fixture(void)
{
    const char *kgalign = kga_test_kgalign();
    snprintf(tmp, sizeof tmp, "/tmp/kga_test_explain_XXXXXX");
    if (mkdtemp(tmp) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(data, sizeof data, "%s/data", tmp);
    /* 4,000 entities: with 3,000 the validation links were so few that
     * one link decided whether the ids model kept a bootstrapped round,
     * and structure_only needs its pseudo-seeds. */
    if (kga_test_synth_import(tmp, "--entities 4000 --seed 5", "src",
                              "data") != 0 ||
        run("%s train %s -o %s/names.kgm --threads 2 2> /dev/null && "
            "%s train %s -o %s/ids.kgm --features ids --threads 2 "
            "2> /dev/null",
            kgalign, data, data, kgalign, data, data) != 0) {
        fprintf(stderr, "test_explain: building the fixture in %s failed\n",
                tmp);
        exit(1);
    }
}

static void remove_fixture(void)
{
    run("rm -rf %s", tmp);
}

/* The aligner of a model, the data set's links and the model's seeds. */
typedef struct {
    kga_aligner_t *a;
    kga_dataset_t ds;
    uint32_t *gold[2];  /* partner in any gold link */
    uint32_t *seed[2];  /* partner in a seed of the model file */
    const kga_store_t *store[2];
} fixture_t;

static void fixture_open(fixture_t *f, const char *model_name)
{
    char left[400], right[400], model[400];
    snprintf(left, sizeof left, "%s/left.kgs", data);
    snprintf(right, sizeof right, "%s/right.kgs", data);
    snprintf(model, sizeof model, "%s/%s", data, model_name);
    kga_err_t err;
    kga_aligner_options_t o = {.threads = 2, .threshold = -1.0f};
    ck_assert_msg(kga_aligner_open(left, right, model, &o, &f->a, &err) == 0,
                  "%s", err.msg);
    ck_assert_msg(kga_dataset_open(&f->ds, data,
                                   KGA_SPLIT_BIT(KGA_SPLIT_TRAIN) |
                                       KGA_SPLIT_BIT(KGA_SPLIT_VALID) |
                                       KGA_SPLIT_BIT(KGA_SPLIT_TEST),
                                   &err) == 0,
                  "%s", err.msg);
    for (int side = 0; side < 2; side++) {
        f->store[side] = kga_aligner_store(f->a, (kga_side_t)side);
        uint32_t n = kga_store_entity_count(f->store[side]);
        f->gold[side] = malloc(n * sizeof(uint32_t));
        f->seed[side] = malloc(n * sizeof(uint32_t));
        memset(f->gold[side], 0xff, n * sizeof(uint32_t));
        memset(f->seed[side], 0xff, n * sizeof(uint32_t));
    }
    for (int s = 0; s < KGA_SPLIT_COUNT; s++)
        for (size_t i = 0; i < f->ds.split[s].count; i++) {
            f->gold[0][f->ds.split[s].left[i]] = f->ds.split[s].right[i];
            f->gold[1][f->ds.split[s].right[i]] = f->ds.split[s].left[i];
        }
    kga_model_t *m;
    ck_assert_msg(kga_model_open(model, &m, &err) == 0, "%s", err.msg);
    size_t count = 0;
    const uint32_t *seeds = kga_model_get_u32s(m, KGA_SEC_SEEDS, &count);
    ck_assert_ptr_nonnull(seeds);
    for (size_t i = 0; i + 1 < count; i += 2) {
        f->seed[0][seeds[i]] = seeds[i + 1];
        f->seed[1][seeds[i + 1]] = seeds[i];
    }
    kga_model_close(m);
}

static void fixture_close(fixture_t *f)
{
    for (int side = 0; side < 2; side++) {
        free(f->gold[side]);
        free(f->seed[side]);
    }
    kga_dataset_close(&f->ds);
    kga_aligner_close(f->a);
}

static uint32_t known(const fixture_t *f, int side, uint32_t e)
{
    return kga_aligner_known_partner(f->a, (kga_side_t)side, e);
}

static int is_neighbour(const kga_store_t *s, uint32_t ent, uint32_t nbr)
{
    for (int d = 0; d < 2; d++) {
        const kga_edge_t *e;
        uint32_t n = kga_store_edges(s, ent, (kga_dir_t)d, &e);
        for (uint32_t i = 0; i < n; i++)
            if (e[i].ent == nbr)
                return 1;
    }
    return 0;
}

static uint32_t degree(const kga_store_t *s, uint32_t e)
{
    const kga_edge_t *edges;
    return kga_store_edges(s, e, KGA_DIR_OUT, &edges) +
           kga_store_edges(s, e, KGA_DIR_IN, &edges);
}

#define CAP 64

/* Counts of what the explanations held, for the checks after the loop. */
typedef struct {
    size_t pairs[4];   /* neighbour items by kind */
    size_t explained;  /* test links with a neighbour item */
    size_t top_gold;   /* ... whose first one is a gold link */
} tally_t;

/* Checks the explanation of test link (l, r) item by item. */
static void check_one(const fixture_t *f, uint32_t l, uint32_t r,
                      int use_names, tally_t *t)
{
    const kga_scorer_t *sc = kga_aligner_scorer(f->a);
    kga_evidence_t ev[CAP];
    size_t n = kga_aligner_explain(f->a, l, r, ev, CAP);
    ck_assert_uint_le(n, CAP);
    size_t first = 0;
    if (use_names) {
        ck_assert_uint_ge(n, 1);
        ck_assert_int_eq(ev[0].kind, KGA_EVIDENCE_NAMES);
        float cos = kga_tfidf_cosine(kga_fusion_names(sc->fusion), l, r);
        ck_assert_msg(fabsf(ev[0].weight - fminf(1.0f, fmaxf(0.0f, cos))) <
                          1e-6f,
                      "name item %g, cosine %g", ev[0].weight, cos);
        first = 1;
    }
    for (size_t i = first; i < n; i++) {
        const kga_evidence_t *e = &ev[i];
        uint32_t p = e->left_neighbour, q = e->right_neighbour;
        ck_assert_int_ne(e->kind, KGA_EVIDENCE_NAMES);
        ck_assert_msg(kga_test_has_edge(f->store[0], l, e->left_dir,
                                        e->left_relation, p),
                      "left neighbour not reached by its relation");
        ck_assert_msg(kga_test_has_edge(f->store[1], r, e->right_dir,
                                        e->right_relation, q),
                      "right neighbour not reached by its relation");
        ck_assert(p != l && q != r);
        kga_pair_score_t s;
        kga_aligner_score(f->a, &p, &q, 1, &s);
        switch (e->kind) {
        case KGA_EVIDENCE_KNOWN_LINK:
            ck_assert_uint_eq(known(f, 0, p), q);
            ck_assert(e->weight == 1.0f);
            break;
        case KGA_EVIDENCE_PSEUDO_SEED:
            ck_assert_uint_eq(f->seed[0][p], q);
            ck_assert_uint_eq(known(f, 0, p), UINT32_MAX);
            ck_assert_uint_eq(known(f, 1, q), UINT32_MAX);
            ck_assert(e->weight == s.probability);
            break;
        case KGA_EVIDENCE_MUTUAL_BEST:
            ck_assert_uint_eq(known(f, 0, p), UINT32_MAX);
            ck_assert_uint_eq(known(f, 1, q), UINT32_MAX);
            /* In no seed, or in one that a known link overrules. */
            ck_assert(f->seed[0][p] == UINT32_MAX ||
                      known(f, 1, f->seed[0][p]) != UINT32_MAX);
            ck_assert(f->seed[1][q] == UINT32_MAX ||
                      known(f, 0, f->seed[1][q]) != UINT32_MAX);
            ck_assert_msg(kga_fusion_log_p(sc->fusion, p, q) >= log(0.5) -
                                                                   1e-6,
                          "mutual best pair with P below one half");
            ck_assert(e->weight == s.probability);
            break;
        default:
            ck_abort_msg("kind %d", (int)e->kind);
        }
        t->pairs[e->kind]++;
        for (size_t j = first; j < i; j++)
            ck_assert_msg(ev[j].left_neighbour != p &&
                              ev[j].right_neighbour != q,
                          "a neighbour listed twice");
        if (i > first) {
            const kga_evidence_t *prev = &ev[i - 1];
            ck_assert_msg(prev->weight >= e->weight,
                          "weights out of order: %g before %g", prev->weight,
                          e->weight);
            if (prev->weight == e->weight) {
                ck_assert_int_le(prev->kind, e->kind);
                if (prev->kind == e->kind)
                    ck_assert_uint_le(
                        degree(f->store[0], prev->left_neighbour) +
                            degree(f->store[1], prev->right_neighbour),
                        degree(f->store[0], p) + degree(f->store[1], q));
            }
        }
    }
    /* Room for all: every known-link neighbour pair is there. */
    if (n < CAP) {
        for (int d = 0; d < 2; d++) {
            const kga_edge_t *edges;
            uint32_t ne = kga_store_edges(f->store[0], l, (kga_dir_t)d,
                                          &edges);
            for (uint32_t i = 0; i < ne; i++) {
                uint32_t p = edges[i].ent, q = known(f, 0, p);
                if (p == l || q == UINT32_MAX || q == r ||
                    !is_neighbour(f->store[1], r, q))
                    continue;
                size_t j = first;
                while (j < n && ev[j].left_neighbour != p)
                    j++;
                ck_assert_msg(j < n && ev[j].right_neighbour == q &&
                                  ev[j].kind == KGA_EVIDENCE_KNOWN_LINK,
                              "known-link neighbour pair missing");
            }
        }
    }
    if (n > first) {
        t->explained++;
        t->top_gold += f->gold[0][ev[first].left_neighbour] ==
                       ev[first].right_neighbour;
    }
}

/* Every test link's explanation under one model; returns the tally. */
static tally_t check_model(const char *model_name, int use_names)
{
    fixture_t f;
    fixture_open(&f, model_name);
    ck_assert_int_eq(kga_aligner_scorer(f.a)->use_names != 0, use_names);
    tally_t t;
    memset(&t, 0, sizeof t);
    const kga_pairs_t *test = &f.ds.split[KGA_SPLIT_TEST];
    ck_assert_uint_gt(test->count, 500);
    for (size_t i = 0; i < test->count; i++)
        check_one(&f, test->left[i], test->right[i], use_names, &t);
    printf("%s: %zu of %zu test links explained, top pair gold in %zu; "
           "known %zu, pseudo-seed %zu, mutual best %zu\n",
           model_name, t.explained, test->count, t.top_gold,
           t.pairs[KGA_EVIDENCE_KNOWN_LINK], t.pairs[KGA_EVIDENCE_PSEUDO_SEED],
           t.pairs[KGA_EVIDENCE_MUTUAL_BEST]);
    ck_assert_uint_ge(t.explained, test->count * 9 / 10);
    ck_assert_uint_ge(t.top_gold, t.explained * 95 / 100);

    /* The edges of the contract: no room, ids out of range. */
    kga_evidence_t ev[2];
    uint32_t l = test->left[0], r = test->right[0];
    ck_assert_uint_eq(kga_aligner_explain(f.a, l, r, ev, 0), 0);
    size_t n = kga_aligner_explain(f.a, l, r, ev, 1);
    ck_assert_uint_eq(n, 1);
    if (use_names)
        ck_assert_int_eq(ev[0].kind, KGA_EVIDENCE_NAMES);
    ck_assert_uint_eq(
        kga_aligner_explain(f.a, kga_store_entity_count(f.store[0]), r, ev, 2),
        0);
    ck_assert_uint_eq(kga_aligner_explain(f.a, l, UINT32_MAX, ev, 2), 0);
    fixture_close(&f);
    return t;
}

START_TEST(with_names)
{
    tally_t t = check_model("names.kgm", 1);
    ck_assert_uint_gt(t.pairs[KGA_EVIDENCE_KNOWN_LINK], 0);
    ck_assert_uint_gt(t.pairs[KGA_EVIDENCE_MUTUAL_BEST], 0);
}
END_TEST

START_TEST(structure_only)
{
    tally_t t = check_model("ids.kgm", 0);
    ck_assert_uint_gt(t.pairs[KGA_EVIDENCE_KNOWN_LINK], 0);
    ck_assert_uint_gt(t.pairs[KGA_EVIDENCE_PSEUDO_SEED], 0);
}
END_TEST

static Suite *explain_suite(void)
{
    Suite *s = suite_create("explain");
    TCase *tc = kga_test_tcase(s, "synthetic", 600);
    tcase_add_unchecked_fixture(tc, build_fixture, remove_fixture);
    tcase_add_test(tc, with_names);
    tcase_add_test(tc, structure_only);
    return s;
}

int main(void)
{
    return kga_test_run(explain_suite);
}
