/* Evaluation and alignment without a trained model: the metrics over
 * hand-made candidate lists (ties against the true match, misses, candidate
 * recall, PRAUC with missed positives, per-type groups), then kga_evaluate,
 * `kgalign eval` and `kgalign align` end to end over real graph stores and
 * a fake aligner defined below.
 *
 * The fake implements every function of core/align/aligner.h, so the linker never
 * takes the real core/aligner.o from the library (as tests/test_server.c
 * does with tests/server_fake_aligner.c). Its "model" is a text file:
 *   kgalign-fake-eval-model <16 hex digits: version> <threshold>
 *   LEFT_EXT_ID<TAB>RIGHT_EXT_ID<TAB>DISTANCE      (any number of lines)
 * Unlisted pairs have distance FAKE_DEFAULT_DISTANCE; probability =
 * 1 / (1 + exp(distance)) (the distance is the negated logit). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "align/aligner.h"
#include "cli/commands.h"
#include "eval/evaluate.h"
#include "store/graph_builder.h"
#include "store/store.h"

#include "testutil.h"

#define EPS 1e-9
#define FAKE_MAGIC "kgalign-fake-eval-model"
#define FAKE_DEFAULT_DISTANCE 8.0f

/* ---- The fake aligner ------------------------------------------------- */

struct kga_aligner {
    kga_store_t *store[2];
    float *distance; /* left count x right count */
    char version[17];
    float threshold;
};

/* What the last kga_aligner_rank() call received, for the assertions. */
static struct {
    unsigned calls;
    size_t max_nl, last_nr, last_k;
    int rights_null;
    const uint32_t *rights;
} fake_rank;

static float fake_probability(float d)
{
    return 1.0f / (1.0f + expf(d));
}

int kga_aligner_open(const char *left_store, const char *right_store,
                     const char *model_path,
                     const kga_aligner_options_t *options,
                     kga_aligner_t **out, kga_err_t *err)
{
    *out = NULL;
    kga_aligner_t *a = calloc(1, sizeof *a);
    FILE *f = NULL;
    int rc;
    if (a == NULL)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    if ((rc = kga_store_open(left_store, &a->store[0], err)) != 0 ||
        (rc = kga_store_open(right_store, &a->store[1], err)) != 0)
        goto fail;
    f = fopen(model_path, "r");
    if (f == NULL) {
        rc = kga_err_set(err, KGA_ENOENT, "%s: cannot open: %s", model_path,
                         strerror(errno));
        goto fail;
    }
    char line[512];
    if (fgets(line, sizeof line, f) == NULL ||
        sscanf(line, FAKE_MAGIC " %16s %f", a->version, &a->threshold) != 2) {
        rc = kga_err_set(err, KGA_EMAGIC, "%s: not a fake model", model_path);
        goto fail;
    }
    if (options != NULL && options->threshold >= 0)
        a->threshold = options->threshold;
    size_t nl = kga_store_entity_count(a->store[0]);
    size_t nr = kga_store_entity_count(a->store[1]);
    a->distance = malloc((nl * nr + 1) * sizeof *a->distance);
    if (a->distance == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nl * nr; i++)
        a->distance[i] = FAKE_DEFAULT_DISTANCE;
    char l[200], r[200];
    float d;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "%199[^\t]\t%199[^\t]\t%f", l, r, &d) != 3)
            continue;
        int64_t li = kga_store_lookup(a->store[0], l);
        int64_t ri = kga_store_lookup(a->store[1], r);
        if (li < 0 || ri < 0) {
            rc = kga_err_set(err, KGA_EUNKNOWN_ID, "%s: unknown pair %s %s",
                             model_path, l, r);
            goto fail;
        }
        a->distance[(size_t)li * nr + (size_t)ri] = d;
    }
    fclose(f);
    *out = a;
    return 0;
fail:
    if (f != NULL)
        fclose(f);
    kga_aligner_close(a);
    return rc;
}

void kga_aligner_close(kga_aligner_t *a)
{
    if (a == NULL)
        return;
    kga_store_close(a->store[0]);
    kga_store_close(a->store[1]);
    free(a->distance);
    free(a);
}

const kga_store_t *kga_aligner_store(const kga_aligner_t *a, kga_side_t side)
{
    return a->store[side];
}

const char *kga_aligner_model_version(const kga_aligner_t *a)
{
    return a->version;
}

float kga_aligner_threshold(const kga_aligner_t *a)
{
    return a->threshold;
}

float kga_aligner_pair_threshold(const kga_aligner_t *a)
{
    return a->threshold;
}

const kga_progress_t *kga_aligner_progress(const kga_aligner_t *a)
{
    (void)a;
    return NULL;
}

static kga_pair_score_t fake_score(const kga_aligner_t *a, uint32_t l,
                                   uint32_t r)
{
    size_t nr = kga_store_entity_count(a->store[1]);
    kga_pair_score_t s;
    s.distance = a->distance[(size_t)l * nr + r];
    s.probability = fake_probability(s.distance);
    s.match = s.probability >= a->threshold;
    return s;
}

void kga_aligner_score(const kga_aligner_t *a, const uint32_t *left,
                       const uint32_t *right, size_t n,
                       kga_pair_score_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fake_score(a, left[i], right[i]);
}

static int cand_cmp(const void *pa, const void *pb)
{
    const kga_candidate_t *a = pa, *b = pb;
    if (a->score.distance != b->score.distance)
        return a->score.distance < b->score.distance ? -1 : 1;
    return (a->entity > b->entity) - (a->entity < b->entity);
}

int kga_aligner_rank(const kga_aligner_t *a, const uint32_t *lefts,
                     size_t nl, const uint32_t *rights, size_t nr, size_t k,
                     kga_candidate_t *out, kga_err_t *err)
{
    uint32_t n_right = kga_store_entity_count(a->store[1]);
    size_t domain = rights != NULL ? nr : n_right;
    fake_rank.calls++;
    fake_rank.max_nl = nl > fake_rank.max_nl ? nl : fake_rank.max_nl;
    fake_rank.last_nr = nr;
    fake_rank.last_k = k;
    fake_rank.rights_null = rights == NULL;
    fake_rank.rights = rights;
    /* Strict: the callers clamp k to the domain. */
    if (k == 0 || k > domain)
        return kga_err_set(err, KGA_EINVAL, "fake rank: k = %zu of %zu", k,
                           domain);
    kga_candidate_t *all = malloc(domain * sizeof *all);
    if (all == NULL)
        return KGA_ENOMEM;
    for (size_t q = 0; q < nl; q++) {
        if (lefts[q] >= kga_store_entity_count(a->store[0])) {
            free(all);
            return kga_err_set(err, KGA_EINVAL, "fake rank: bad left id");
        }
        for (size_t j = 0; j < domain; j++) {
            uint32_t r = rights != NULL ? rights[j] : (uint32_t)j;
            all[j].entity = r;
            all[j].score = fake_score(a, lefts[q], r);
        }
        qsort(all, domain, sizeof *all, cand_cmp);
        memcpy(out + q * k, all, k * sizeof *all);
    }
    free(all);
    return 0;
}

size_t kga_aligner_match(const kga_aligner_t *a, kga_side_t side,
                         uint32_t ent, size_t k, kga_candidate_t *out)
{
    (void)a, (void)side, (void)ent, (void)k, (void)out;
    return 0;
}

/* No known links: every entity is a query and every right entity free. */
uint32_t kga_aligner_known_partner(const kga_aligner_t *a, kga_side_t side,
                                   uint32_t ent)
{
    (void)a, (void)side, (void)ent;
    return UINT32_MAX;
}

/* The decision as the fake sees it: candidates by distance (so by
 * probability too), only the first can be a match. */
int kga_aligner_decide(const kga_aligner_t *a, const uint32_t *lefts,
                       size_t nl, size_t k, kga_candidate_t *out,
                       kga_err_t *err)
{
    size_t domain = kga_store_entity_count(a->store[1]);
    size_t kk = k < domain ? k : domain;
    kga_candidate_t *c = malloc((nl ? nl : 1) * (kk ? kk : 1) * sizeof *c);
    if (c == NULL)
        return KGA_ENOMEM;
    int rc = kk > 0 ? kga_aligner_rank(a, lefts, nl, NULL, 0, kk, c, err) : 0;
    for (size_t q = 0; rc == 0 && q < nl; q++)
        for (size_t r = 0; r < k; r++) {
            kga_candidate_t *o = out + q * k + r;
            if (r < kk) {
                *o = c[q * kk + r];
                o->score.match = r == 0 && o->score.match;
            } else {
                o->entity = UINT32_MAX;
            }
        }
    free(c);
    return rc;
}

size_t kga_aligner_explain(const kga_aligner_t *a, uint32_t left,
                           uint32_t right, kga_evidence_t *out, size_t cap)
{
    (void)a, (void)left, (void)right, (void)out, (void)cap;
    return 0;
}

/* ---- Hand-made candidate lists ---------------------------------------- */

#define NONE UINT32_MAX

static kga_candidate_t cand(uint32_t entity, float distance, float prob)
{
    kga_candidate_t c = {entity, {distance, prob, prob >= 0.5f}};
    return c;
}

/* kga_evaluate_candidates() of n queries with k candidates each, without
 * type groups, asserted to succeed. */
static kga_eval_result_t evaluated(const kga_candidate_t *c, size_t k,
                                   const uint32_t *truth, size_t n)
{
    kga_eval_result_t r;
    kga_err_t err;
    int rc = kga_evaluate_candidates(c, k, truth, n, NULL, NULL, 0, &r, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    return r;
}

START_TEST(all_equal_distances_get_no_hits)
{
    /* The true match comes first in every list, yet every candidate is
     * equally close: it ranks last of its four. */
    enum { N = 3, K = 4 };
    kga_candidate_t c[N * K];
    uint32_t truth[N] = {10, 21, 32};
    for (uint32_t q = 0; q < N; q++) {
        c[q * K] = cand(truth[q], 1.0f, 0.5f);
        for (uint32_t j = 1; j < K; j++)
            c[q * K + j] = cand(100 + q * K + j, 1.0f, 0.5f);
    }
    kga_eval_result_t r = evaluated(c, K, truth, N);
    ck_assert_uint_eq(r.queries, N);
    ck_assert_double_eq(r.ranking.hits_at_1, 0.0);
    ck_assert_double_eq(r.ranking.hits_at_5, 1.0);
    ck_assert_double_eq_tol(r.ranking.mrr, 1.0 / K, EPS);
    ck_assert_double_eq(r.candidate_recall, 1.0);
    /* All pairs tie: one threshold group, precision 1/4 everywhere. */
    ck_assert_uint_eq(r.pairs, N * K);
    ck_assert_double_eq_tol(r.classification.prauc, 0.25, EPS);
    ck_assert_double_eq(r.classification.recall_at_p95, 0.0);
    ck_assert_ptr_null(r.candidates);
    kga_eval_result_destroy(&r);
}
END_TEST

START_TEST(ranks_misses_and_candidate_recall)
{
    enum { N = 5, K = 3 };
    const uint32_t truth[N] = {1, 2, 3, 4, 5};
    const kga_candidate_t c[N * K] = {
        /* rank 1 */
        cand(1, 0.1f, 0.9f), cand(7, 0.5f, 0.4f), cand(8, 0.9f, 0.1f),
        /* rank 2 */
        cand(7, 0.1f, 0.8f), cand(2, 0.3f, 0.6f), cand(8, 0.9f, 0.1f),
        /* tie with the one before it: rank 3, not 2 */
        cand(7, 0.1f, 0.8f), cand(3, 0.2f, 0.7f), cand(8, 0.2f, 0.7f),
        /* a miss: the true match is not among the candidates */
        cand(7, 0.1f, 0.8f), cand(8, 0.2f, 0.7f), cand(9, 0.3f, 0.6f),
        /* a short list: rank 1 among one candidate, empty slots skipped */
        cand(5, 0.4f, 0.6f), cand(NONE, 0, 0), cand(NONE, 0, 0),
    };
    kga_eval_result_t r = evaluated(c, K, truth, N);
    ck_assert_uint_eq(r.k, K);
    ck_assert_uint_eq(r.queries, N);
    ck_assert_uint_eq(r.positives, N);
    ck_assert_uint_eq(r.found, 4);
    ck_assert_uint_eq(r.pairs, 4 * K + 1);
    ck_assert_uint_eq(r.ranking.misses, 1);
    ck_assert_double_eq_tol(r.candidate_recall, 0.8, EPS);
    ck_assert_double_eq_tol(r.ranking.hits_at_1, 0.4, EPS);
    ck_assert_double_eq_tol(r.ranking.hits_at_5, 0.8, EPS);
    ck_assert_double_eq_tol(r.ranking.mrr, (1 + 0.5 + 1.0 / 3 + 0 + 1) / N,
                            EPS);
    /* The missed true match still counts among the positives. */
    ck_assert_uint_eq(r.classification.n_pos, N);
    ck_assert_uint_eq(r.classification.n_nan, 1);
    ck_assert_uint_eq(r.classification.n, 4 * K + 1 + 1);
    kga_eval_result_destroy(&r);
}
END_TEST

START_TEST(missed_positives_do_not_inflate_prauc)
{
    /* k = 1: two queries find their true match, one does not; a wrong
     * candidate sits between the found ones.
     *   0.95 (+): tp 1 fp 0 -> 1/3 * 1
     *   0.88 (-): tp 1 fp 1
     *   0.27 (+): tp 2 fp 1 -> 1/3 * 2/3
     * PRAUC 5/9 with P = 3; forgetting the missed one would give
     * 1/2 * (1 + 2/3) = 5/6. */
    const uint32_t truth[4] = {1, 2, 3, 4};
    const kga_candidate_t c[4] = {
        cand(1, -3.0f, 0.95f),
        cand(9, -2.0f, 0.88f), /* query 2 missed */
        cand(3, 1.0f, 0.27f),
        cand(NONE, 0, 0), /* query 4: no candidate at all */
    };
    kga_eval_result_t r = evaluated(c, 1, truth, 4);
    ck_assert_uint_eq(r.classification.n_pos, 4);
    ck_assert_uint_eq(r.pairs, 3);
    ck_assert_double_eq_tol(r.classification.prauc, 0.25 * (1 + 2.0 / 3),
                            EPS);
    ck_assert_double_eq_tol(r.classification.recall_at_p95, 0.25, EPS);
    /* best F1 = 2 tp / (tp + fp + P) = 4 / 7 at the lowest threshold, over
     * 2 / 5 at the highest. */
    ck_assert_double_eq_tol(r.classification.best_f1, 4.0 / 7, EPS);
    ck_assert_double_eq_tol(r.candidate_recall, 0.5, EPS);
    kga_eval_result_destroy(&r);
}
END_TEST

START_TEST(nan_distance_of_the_true_match_is_a_miss)
{
    const uint32_t truth[1] = {1};
    const kga_candidate_t c[2] = {cand(1, NAN, NAN), cand(2, 0.5f, 0.4f)};
    kga_eval_result_t r;
    ck_assert_int_eq(kga_evaluate_candidates(c, 2, truth, 1, NULL, NULL, 0,
                                             &r, NULL),
                     0);
    ck_assert_uint_eq(r.ranking.misses, 1);
    ck_assert_double_eq(r.ranking.mrr, 0.0);
    /* It was proposed, so it counts for the candidate recall. */
    ck_assert_double_eq(r.candidate_recall, 1.0);
    ck_assert_double_eq(r.classification.prauc, 0.0);
    kga_eval_result_destroy(&r);
}
END_TEST

START_TEST(groups_by_type)
{
    enum { N = 5, K = 2 };
    const uint32_t truth[N] = {1, 2, 3, 4, 5};
    /* ranks: 1, 2, 1, miss, 1 */
    const kga_candidate_t c[N * K] = {
        cand(1, 0.1f, 0.9f), cand(9, 0.5f, 0.4f),
        cand(9, 0.1f, 0.9f), cand(2, 0.5f, 0.4f),
        cand(3, 0.1f, 0.9f), cand(9, 0.5f, 0.4f),
        cand(8, 0.1f, 0.9f), cand(9, 0.5f, 0.4f),
        cand(5, 0.1f, 0.9f), cand(9, 0.5f, 0.4f),
    };
    /* Group 1 receives no query: it is left out of the result. */
    const uint32_t group[N] = {0, 0, 2, 2, KGA_GROUP_NONE};
    const char *const names[3] = {"film", "unused", "Pérson"};
    kga_eval_result_t r;
    kga_err_t err;
    ck_assert_int_eq(kga_evaluate_candidates(c, K, truth, N, group, names, 3,
                                             &r, &err),
                     0);
    ck_assert_double_eq_tol(r.ranking.hits_at_1, 0.6, EPS);
    ck_assert_uint_eq(r.n_groups, 2);
    ck_assert_uint_eq(r.groups[0].group, 0);
    ck_assert_str_eq(r.groups[0].name, "film");
    ck_assert_uint_eq(r.groups[0].ranking.queries, 2);
    ck_assert_double_eq_tol(r.groups[0].ranking.hits_at_1, 0.5, EPS);
    ck_assert_double_eq_tol(r.groups[0].ranking.mrr, 0.75, EPS);
    ck_assert_double_eq(r.groups[0].candidate_recall, 1.0);
    ck_assert_uint_eq(r.groups[1].group, 2);
    ck_assert_str_eq(r.groups[1].name, "Pérson");
    ck_assert_uint_eq(r.groups[1].ranking.queries, 2);
    ck_assert_uint_eq(r.groups[1].ranking.misses, 1);
    ck_assert_double_eq_tol(r.groups[1].ranking.hits_at_1, 0.5, EPS);
    ck_assert_double_eq_tol(r.groups[1].candidate_recall, 0.5, EPS);
    /* The names are copies. */
    ck_assert_ptr_ne(r.groups[0].name, names[0]);
    kga_eval_result_destroy(&r);

    /* Without names: "group N". */
    ck_assert_int_eq(kga_evaluate_candidates(c, K, truth, N, group, NULL, 3,
                                             &r, &err),
                     0);
    ck_assert_str_eq(r.groups[1].name, "group 2");
    kga_eval_result_destroy(&r);

    /* A group out of range is an error, and nothing is left behind. */
    const uint32_t bad[N] = {0, 0, 3, 2, 1};
    ck_assert_int_eq(kga_evaluate_candidates(c, K, truth, N, bad, names, 3,
                                             &r, &err),
                     KGA_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "query 2"));
    ck_assert_ptr_null(r.groups);
    ck_assert_uint_eq(r.n_groups, 0);
}
END_TEST

START_TEST(degenerate_inputs)
{
    kga_eval_result_t r;
    kga_err_t err;
    /* No queries: zeros. */
    ck_assert_int_eq(kga_evaluate_candidates(NULL, 0, NULL, 0, NULL, NULL, 0,
                                             &r, &err),
                     0);
    ck_assert_uint_eq(r.queries, 0);
    ck_assert_double_eq(r.candidate_recall, 0.0);
    ck_assert_double_eq(r.classification.prauc, 0.0);
    kga_eval_result_destroy(&r);
    /* k = 0 with queries. */
    const uint32_t truth[1] = {1};
    const kga_candidate_t c[1] = {cand(1, 0, 1)};
    ck_assert_int_eq(kga_evaluate_candidates(c, 0, truth, 1, NULL, NULL, 0,
                                             &r, &err),
                     KGA_EINVAL);
    /* More pairs than the metrics accept. */
    ck_assert_int_eq(kga_evaluate_candidates(c, KGA_PAIRS_MAX, truth, 1,
                                             NULL, NULL, 0, &r, &err),
                     KGA_ELIMIT);
    /* Destroy twice is safe. */
    kga_eval_result_destroy(&r);
    kga_eval_result_destroy(&r);
}
END_TEST

/* ---- Stores, a data directory and a fake model ------------------------ */

#define TMP_TEMPLATE "/tmp/kga_test_evaluate_XXXXXX"
static char tmp_dir[sizeof TMP_TEMPLATE];
static char data_dir[600], model_path[700];
/* Where run() puts a command's standard output and error. */
static char out_path[800], err_path[800];

/* Entities (external id, type or NULL). The left type "Pérson \"x\"" tests
 * the JSON escaping of UTF-8 names with quotes. */
static const char *const left_entities[][2] = {
    {"L:a", "film"}, {"L:b", "film"}, {"L:c", "Pérson \"x\""},
    {"L:d", NULL},   {"L:e", "Pérson \"x\""},
};
static const char *const right_entities[] = {"R:a", "R:b", "R:c", "R:d",
                                             "R:x"};

/* L:b prefers the wrong R:a; L:d and L:e prefer R:x, which is in no link
 * (outside the evaluation domain). */
static const char fake_model[] =
    FAKE_MAGIC " 0123456789abcdef 0.5\n"
    "L:a\tR:a\t-3\n"
    "L:a\tR:b\t0\n"
    "L:b\tR:a\t-2\n"
    "L:b\tR:b\t-1\n"
    "L:c\tR:c\t-2\n"
    "L:d\tR:d\t1\n"
    "L:d\tR:x\t-5\n"
    "L:e\tR:x\t-4\n"
    "L:e\tR:c\t-3\n";

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* When set, L:d gets this type: control bytes and invalid UTF-8 for the
 * JSON escaping. */
static const char *odd_type;
#define ODD_TYPE "tab\there \x01 bad\xff\xc3 end \xe2\x9c\x93"
#define ODD_TYPE_DECODED                                                   \
    "tab\there \x01 bad\xef\xbf\xbd\xef\xbf\xbd end \xe2\x9c\x93"

static void write_store(const char *path, int left)
{
    kga_graph_builder_t *b = kga_graph_builder_new();
    ck_assert_ptr_nonnull(b);
    uint32_t ids[5], rel;
    for (int i = 0; i < 5; i++) {
        const char *ext = left ? left_entities[i][0] : right_entities[i];
        ck_assert_int_eq(kga_graph_builder_entity(b, ext, &ids[i], NULL), 0);
        const char *type = left ? left_entities[i][1] : NULL;
        if (left && i == 3)
            type = odd_type;
        if (type != NULL)
            ck_assert_int_eq(kga_graph_builder_set_type(b, ids[i], type), 0);
    }
    ck_assert_int_eq(kga_graph_builder_relation(b, "rel", &rel), 0);
    for (int i = 0; i + 1 < 5; i++)
        ck_assert_int_eq(kga_graph_builder_triple(b, ids[i], rel, ids[i + 1]),
                         0);
    kga_err_t err;
    ck_assert_msg(kga_store_write(b, path, &err) == 0, "%s", err.msg);
    kga_graph_builder_free(b);
}

static void make_data_dir(void)
{
    memcpy(tmp_dir, TMP_TEMPLATE, sizeof TMP_TEMPLATE);
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    snprintf(data_dir, sizeof data_dir, "%s/data", tmp_dir);
    ck_assert_int_eq(mkdir(data_dir, 0755), 0);
    char path[800];
    snprintf(path, sizeof path, "%s/left.kgs", data_dir);
    write_store(path, 1);
    snprintf(path, sizeof path, "%s/right.kgs", data_dir);
    write_store(path, 0);
    static const char links[] = "L:a\tR:a\nL:b\tR:b\nL:c\tR:c\nL:d\tR:d\n";
    snprintf(path, sizeof path, "%s/test_links.tsv", data_dir);
    kga_test_write_file(path, links, sizeof links - 1);
    snprintf(path, sizeof path, "%s/valid_links.tsv", data_dir);
    kga_test_write_file(path, "", 0);
    snprintf(model_path, sizeof model_path, "%s/model.kgm", tmp_dir);
    kga_test_write_file(model_path, fake_model, strlen(fake_model));
    snprintf(out_path, sizeof out_path, "%s/out.txt", tmp_dir);
    snprintf(err_path, sizeof err_path, "%s/err.txt", tmp_dir);
}

/* The writers left no temporary file in the data directory's folder. */
static void expect_no_temporary(void)
{
    char cmd[900];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", tmp_dir);
    ck_assert_int_ne(system(cmd), 0);
}

static void remove_data_dir(void)
{
    if (kga_test_remove_tree(tmp_dir) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_dir);
}

static double sigmoid(double x)
{
    return 1 / (1 + exp(-x));
}

static kga_aligner_t *open_fake(void)
{
    char l[800], r[800];
    snprintf(l, sizeof l, "%s/left.kgs", data_dir);
    snprintf(r, sizeof r, "%s/right.kgs", data_dir);
    kga_aligner_t *a;
    kga_err_t err;
    ck_assert_msg(kga_aligner_open(l, r, model_path, NULL, &a, &err) == 0,
                  "%s", err.msg);
    return a;
}

START_TEST(evaluate_with_an_aligner)
{
    make_data_dir();
    kga_aligner_t *a = open_fake();
    char path[800];
    snprintf(path, sizeof path, "%s/test_links.tsv", data_dir);
    kga_pairs_t links;
    kga_err_t err;
    ck_assert_int_eq(kga_pairs_read(path, kga_aligner_store(a, 0),
                                    kga_aligner_store(a, 1), &links, &err),
                     0);
    kga_eval_result_t r;
    memset(&fake_rank, 0, sizeof fake_rank);
    ck_assert_msg(kga_evaluate(a, &links, 50, &r, &err) == 0, "%s", err.msg);
    /* The domain is the links' right entities, k clamped to it. */
    ck_assert_uint_eq(fake_rank.calls, 1);
    ck_assert_ptr_eq(fake_rank.rights, links.right);
    ck_assert_uint_eq(fake_rank.last_nr, 4);
    ck_assert_uint_eq(fake_rank.last_k, 4);
    ck_assert_uint_eq(r.k, 4);
    /* ranks: L:a 1, L:b 2, L:c 1, L:d 1 (R:x is outside the domain). */
    ck_assert_double_eq_tol(r.ranking.hits_at_1, 0.75, EPS);
    ck_assert_double_eq_tol(r.ranking.mrr, 3.5 / 4, EPS);
    ck_assert_double_eq(r.candidate_recall, 1.0);
    ck_assert_uint_eq(r.pairs, 16);
    /* PRAUC by hand (see eval_command_json). */
    ck_assert_double_eq_tol(r.classification.prauc,
                            0.25 * (1 + 2.0 / 3 + 0.75 + 4.0 / 6), 1e-6);
    ck_assert_uint_eq(r.n_groups, 2);
    ck_assert_str_eq(r.groups[0].name, "Pérson \"x\"");
    ck_assert_uint_eq(r.groups[0].ranking.queries, 1);
    ck_assert_str_eq(r.groups[1].name, "film");
    ck_assert_double_eq_tol(r.groups[1].ranking.mrr, 0.75, EPS);
    /* The candidate lists are kept, query by query in link order. */
    ck_assert_ptr_nonnull(r.candidates);
    for (size_t q = 0; q < links.count; q++) {
        const char *ext =
            kga_store_entity_ext_id(kga_aligner_store(a, 0), links.left[q]);
        if (strcmp(ext, "L:b") == 0)
            ck_assert_str_eq(kga_store_entity_ext_id(
                                 kga_aligner_store(a, 1),
                                 r.candidates[q * r.k].entity),
                             "R:a");
    }
    kga_eval_result_destroy(&r);

    /* k = 1: L:b's true match falls out of the candidates. */
    ck_assert_int_eq(kga_evaluate(a, &links, 1, &r, &err), 0);
    ck_assert_uint_eq(r.ranking.misses, 1);
    ck_assert_double_eq_tol(r.candidate_recall, 0.75, EPS);
    ck_assert_double_eq_tol(r.classification.prauc,
                            0.25 * (1 + 2.0 / 3 + 0.75), 1e-6);
    kga_eval_result_destroy(&r);

    /* Ids out of the stores' range are refused before any ranking. */
    links.left[0] = 99;
    ck_assert_int_eq(kga_evaluate(a, &links, 1, &r, &err), KGA_EINVAL);
    ck_assert_int_eq(kga_evaluate(a, &links, 0, &r, &err), KGA_EINVAL);
    kga_pairs_destroy(&links);
    kga_aligner_close(a);
    remove_data_dir();
}
END_TEST

/* ---- The commands ----------------------------------------------------- */

/* Runs a command with its standard output in out_path and its standard
 * error in err_path; returns its exit status. */
static int run(kga_command_fn fn, int argc, const char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fo, 0);
    ck_assert_int_ge(fe, 0);
    dup2(fo, 1);
    dup2(fe, 2);
    int status = fn(argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(fo);
    close(fe);
    close(saved_out);
    close(saved_err);
    return status;
}

static json_t *eval_json(const char *extra1, const char *extra2)
{
    const char *argv[] = {"eval", data_dir, model_path, "--json", extra1,
                          extra2};
    int argc = 4 + (extra1 != NULL) + (extra2 != NULL);
    int status = run(kga_cmd_eval, argc, argv);
    ck_assert_msg(status == 0, "eval failed: %s", read_file(err_path));
    json_error_t jerr;
    json_t *j = json_load_file(out_path, 0, &jerr);
    ck_assert_msg(j != NULL, "not JSON: %s: %s", jerr.text,
                  read_file(out_path));
    return j;
}

START_TEST(eval_command_json)
{
    make_data_dir();
    json_t *j = eval_json(NULL, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "direction")),
                     "left to right");
    ck_assert_str_eq(json_string_value(json_object_get(j, "split")), "test");
    ck_assert_double_eq(kga_test_num(j, "k"), 4);
    ck_assert_double_eq(kga_test_num(j, "queries"), 4);
    ck_assert_double_eq(kga_test_num(j, "pairs"), 16);
    ck_assert_double_eq(kga_test_num(j, "positives"), 4);
    ck_assert_double_eq_tol(kga_test_num(j, "hits1"), 0.75, 1e-9);
    ck_assert_double_eq_tol(kga_test_num(j, "hits5"), 1.0, 1e-9);
    ck_assert_double_eq_tol(kga_test_num(j, "hits10"), 1.0, 1e-9);
    ck_assert_double_eq_tol(kga_test_num(j, "mrr"), 0.875, 1e-9);
    ck_assert_double_eq_tol(kga_test_num(j, "candidate_recall"), 1.0, 1e-9);
    /* Positives at sigma(3), sigma(2), sigma(1), sigma(-1); negatives at
     * sigma(2) (ties the second positive), sigma(0), and ten at
     * sigma(-8):
     *   prauc = 1/4 (1 + 2/3 + 3/4 + 4/6), best F1 = 8/10 at sigma(-1),
     *   recall at P95 = 1/4. */
    ck_assert_double_eq_tol(kga_test_num(j, "prauc"),
                            0.25 * (1 + 2.0 / 3 + 0.75 + 4.0 / 6), 1e-6);
    ck_assert_double_eq_tol(kga_test_num(j, "best_f1"), 0.8, 1e-6);
    ck_assert_double_eq_tol(kga_test_num(j, "best_threshold"), sigmoid(-1),
                            1e-6);
    ck_assert_double_eq_tol(kga_test_num(j, "recall_at_p95"), 0.25, 1e-9);
    ck_assert(kga_test_num(j, "eval_seconds") >= 0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")),
                     "0123456789abcdef");
    json_t *per = json_object_get(j, "per_type");
    ck_assert_uint_eq(json_object_size(per), 2);
    json_t *film = json_object_get(per, "film");
    ck_assert_ptr_nonnull(film);
    ck_assert_double_eq(kga_test_num(film, "queries"), 2);
    ck_assert_double_eq_tol(kga_test_num(film, "hits1"), 0.5, 1e-9);
    ck_assert_double_eq_tol(kga_test_num(film, "mrr"), 0.75, 1e-9);
    json_t *person = json_object_get(per, "Pérson \"x\"");
    ck_assert_ptr_nonnull(person);
    ck_assert_double_eq_tol(kga_test_num(person, "hits1"), 1.0, 1e-9);
    json_decref(j);

    /* --k 1: a miss, and PRAUC counts the missed positive. */
    j = eval_json("--k", "1");
    ck_assert_double_eq(kga_test_num(j, "k"), 1);
    ck_assert_double_eq(kga_test_num(j, "misses"), 1);
    ck_assert_double_eq_tol(kga_test_num(j, "candidate_recall"), 0.75, 1e-9);
    ck_assert_double_eq_tol(kga_test_num(j, "prauc"),
                            0.25 * (1 + 2.0 / 3 + 0.75), 1e-6);
    json_decref(j);
    remove_data_dir();

    /* Type names are data: any bytes come out as valid JSON. */
    odd_type = ODD_TYPE;
    make_data_dir();
    j = eval_json(NULL, NULL);
    per = json_object_get(j, "per_type");
    ck_assert_uint_eq(json_object_size(per), 3);
    json_t *odd = json_object_get(per, ODD_TYPE_DECODED);
    ck_assert_ptr_nonnull(odd);
    ck_assert_double_eq(kga_test_num(odd, "queries"), 1);
    json_decref(j);
    odd_type = NULL;
    remove_data_dir();
}
END_TEST

START_TEST(eval_command_text_and_report)
{
    make_data_dir();
    char report[800];
    snprintf(report, sizeof report, "%s/report.html", tmp_dir);
    const char *argv[] = {"eval",      data_dir, model_path, "--split=test",
                          "--report", report};
    ck_assert_int_eq(run(kga_cmd_eval, 6, argv), 0);
    KGA_TEST_EXPECT_CONTAINS(read_file(out_path), "left to right",
                             "Hits@1:            0.7500",
                             "MRR:               0.8750",
                             "candidate recall:  1.0000", "eval_seconds:",
                             "film", "Pérson \"x\"");
    KGA_TEST_EXPECT_CONTAINS(read_file(report), "<svg", "film");
    remove_data_dir();
}
END_TEST

START_TEST(eval_command_errors)
{
    make_data_dir();
    char bad_model[800];
    snprintf(bad_model, sizeof bad_model, "%s/nothing.kgm", tmp_dir);

    const char *missing_model[] = {"eval", data_dir, bad_model};
    ck_assert_int_eq(run(kga_cmd_eval, 3, missing_model), 1);
    KGA_TEST_EXPECT_CONTAINS(read_file(err_path), "kgalign eval: ",
                             "nothing.kgm");

    /* The train split was never written: named before the model loads. */
    const char *no_split[] = {"eval", data_dir, bad_model, "--split",
                              "train"};
    ck_assert_int_eq(run(kga_cmd_eval, 5, no_split), 1);
    ck_assert_ptr_nonnull(strstr(read_file(err_path), "train_links.tsv"));

    const char *empty[] = {"eval", data_dir, model_path, "--split", "valid"};
    ck_assert_int_eq(run(kga_cmd_eval, 5, empty), 1);
    ck_assert_ptr_nonnull(strstr(read_file(err_path), "no links"));

    const char *bad_split[] = {"eval", data_dir, model_path, "--split",
                               "dev"};
    ck_assert_int_eq(run(kga_cmd_eval, 5, bad_split), 2);
    const char *bad_k[] = {"eval", data_dir, model_path, "--k", "0"};
    ck_assert_int_eq(run(kga_cmd_eval, 5, bad_k), 2);
    const char *no_model[] = {"eval", data_dir};
    ck_assert_int_eq(run(kga_cmd_eval, 2, no_model), 2);
    const char *unknown[] = {"eval", data_dir, model_path, "--bogus"};
    ck_assert_int_eq(run(kga_cmd_eval, 4, unknown), 2);
    const char *help[] = {"eval", "--help"};
    ck_assert_int_eq(run(kga_cmd_eval, 2, help), 0);
    ck_assert_ptr_nonnull(strstr(read_file(out_path), "Ties count against"));
    remove_data_dir();
}
END_TEST

/* Runs align with extra arguments into MATCHES; returns the file text. */
static char *align_matches(int extra_argc, const char *const *extra)
{
    char matches[800];
    snprintf(matches, sizeof matches, "%s/matches.tsv", tmp_dir);
    const char *argv[16] = {"align", data_dir, model_path, "-o", matches};
    for (int i = 0; i < extra_argc; i++)
        argv[5 + i] = extra[i];
    int status = run(kga_cmd_align, 5 + extra_argc, argv);
    ck_assert_msg(status == 0, "align failed: %s", read_file(err_path));
    ck_assert_ptr_nonnull(strstr(read_file(err_path), "left entities aligned"));
    return read_file(matches);
}

START_TEST(align_command)
{
    make_data_dir();
    char expect[1024];
    /* Every left entity's best candidate among all right entities. */
    memset(&fake_rank, 0, sizeof fake_rank);
    char *m = align_matches(0, NULL);
    ck_assert(fake_rank.rights_null);
    ck_assert_uint_eq(fake_rank.last_k, 5);
    /* Each row: the best candidate, its probability, the decision, the
     * runner-up and its probability. */
    snprintf(expect, sizeof expect,
             "#left_id\tright_id\tprobability\tdecision\trunner_up_id\t"
             "runner_up_probability\n"
             "L:a\tR:a\t%.6f\tmatch\tR:b\t%.6f\n"
             "L:b\tR:a\t%.6f\tmatch\tR:b\t%.6f\n"
             "L:c\tR:c\t%.6f\tmatch\tR:x\t%.6f\n"
             "L:d\tR:x\t%.6f\tmatch\tR:d\t%.6f\n"
             "L:e\tR:x\t%.6f\tmatch\tR:c\t%.6f\n",
             sigmoid(3), sigmoid(0), sigmoid(2), sigmoid(1), sigmoid(2),
             sigmoid(-8), sigmoid(5), sigmoid(-1), sigmoid(4), sigmoid(3));
    ck_assert_str_eq(m, expect);

    /* The threshold decides match / no-match. */
    const char *high[] = {"--threshold", "0.99"};
    m = align_matches(2, high);
    KGA_TEST_EXPECT_CONTAINS(m, "L:d\tR:x\t0.993307\tmatch\t",
                             "L:e\tR:x\t0.982014\tno-match\t",
                             "L:a\tR:a\t0.952574\tno-match\t");

    /* One-to-one, in increasing distance: L:d-R:x (-5); L:e loses R:x and
     * takes R:c (-3) as L:a takes R:a (-3); L:c loses R:c and L:b loses
     * R:a; L:b takes R:b (-1); L:c is left with R:d at distance 8. */
    const char *one[] = {"--one-to-one"};
    m = align_matches(1, one);
    /* The runner-up is then the closest candidate other than the
     * partner, taken or not. */
    snprintf(expect, sizeof expect,
             "#left_id\tright_id\tprobability\tdecision\trunner_up_id\t"
             "runner_up_probability\n"
             "L:a\tR:a\t%.6f\tmatch\tR:b\t%.6f\n"
             "L:b\tR:b\t%.6f\tmatch\tR:a\t%.6f\n"
             "L:c\tR:d\t%.6f\tno-match\tR:c\t%.6f\n"
             "L:d\tR:x\t%.6f\tmatch\tR:d\t%.6f\n"
             "L:e\tR:c\t%.6f\tmatch\tR:x\t%.6f\n",
             sigmoid(3), sigmoid(0), sigmoid(1), sigmoid(2), sigmoid(-8),
             sigmoid(2), sigmoid(5), sigmoid(-1), sigmoid(3), sigmoid(4));
    ck_assert_str_eq(m, expect);

    /* With one candidate each, the losers get a no-match line without a
     * candidate; their lost candidate is the runner-up. */
    const char *one_k1[] = {"--one-to-one", "--k", "1"};
    m = align_matches(3, one_k1);
    snprintf(expect, sizeof expect,
             "#left_id\tright_id\tprobability\tdecision\trunner_up_id\t"
             "runner_up_probability\n"
             "L:a\tR:a\t%.6f\tmatch\t\t%.6f\n"
             "L:b\t\t%.6f\tno-match\tR:a\t%.6f\n"
             "L:c\tR:c\t%.6f\tmatch\t\t%.6f\n"
             "L:d\tR:x\t%.6f\tmatch\t\t%.6f\n"
             "L:e\t\t%.6f\tno-match\tR:x\t%.6f\n",
             sigmoid(3), 0.0, 0.0, sigmoid(2), sigmoid(2), 0.0, sigmoid(5),
             0.0, 0.0, sigmoid(4));
    ck_assert_str_eq(m, expect);

    /* No temporary file is left next to the output. */
    expect_no_temporary();
    remove_data_dir();
}
END_TEST

START_TEST(align_command_errors)
{
    make_data_dir();
    char matches[800], bad_out[800];
    snprintf(matches, sizeof matches, "%s/matches.tsv", tmp_dir);
    snprintf(bad_out, sizeof bad_out, "%s/no/such/dir/m.tsv", tmp_dir);

    const char *no_o[] = {"align", data_dir, model_path};
    ck_assert_int_eq(run(kga_cmd_align, 3, no_o), 2);
    const char *bad_t[] = {"align", data_dir, model_path, "-o", matches,
                           "--threshold", "1.5"};
    ck_assert_int_eq(run(kga_cmd_align, 7, bad_t), 2);
    const char *unwritable[] = {"align", data_dir, model_path, "-o",
                                bad_out};
    ck_assert_int_eq(run(kga_cmd_align, 5, unwritable), 1);
    ck_assert_ptr_nonnull(strstr(read_file(err_path), "kgalign align: "));

    /* A model that does not open: exit 1 and no file left behind. */
    char bad_model[800];
    snprintf(bad_model, sizeof bad_model, "%s/nothing.kgm", tmp_dir);
    const char *no_model[] = {"align", data_dir, bad_model, "-o", matches};
    ck_assert_int_eq(run(kga_cmd_align, 5, no_model), 1);
    ck_assert_int_ne(access(matches, F_OK), 0);
    expect_no_temporary();

    const char *help[] = {"align", "-h"};
    ck_assert_int_eq(run(kga_cmd_align, 2, help), 0);
    ck_assert_ptr_nonnull(strstr(read_file(out_path), "--one-to-one"));
    remove_data_dir();
}
END_TEST

static Suite *evaluate_suite(void)
{
    Suite *s = suite_create("evaluate");
    TCase *metrics = kga_test_tcase(s, "candidates", 0);
    tcase_add_test(metrics, all_equal_distances_get_no_hits);
    tcase_add_test(metrics, ranks_misses_and_candidate_recall);
    tcase_add_test(metrics, missed_positives_do_not_inflate_prauc);
    tcase_add_test(metrics, nan_distance_of_the_true_match_is_a_miss);
    tcase_add_test(metrics, groups_by_type);
    tcase_add_test(metrics, degenerate_inputs);

    TCase *e2e = kga_test_tcase(s, "fake_aligner", 30);
    tcase_add_test(e2e, evaluate_with_an_aligner);
    tcase_add_test(e2e, eval_command_json);
    tcase_add_test(e2e, eval_command_text_and_report);
    tcase_add_test(e2e, eval_command_errors);
    tcase_add_test(e2e, align_command);
    tcase_add_test(e2e, align_command_errors);
    return s;
}

int main(void)
{
    return kga_test_run(evaluate_suite);
}
