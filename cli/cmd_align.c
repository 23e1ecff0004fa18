/* kgalign align: the best right entity of every left entity under a trained
 * model, written as a TSV of matches; optionally the greedy one-to-one
 * assignment of core/align/assign.h; or, with --pairs, the decision on each
 * pair of a given list. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "align/aligner.h"
#include "align/assign.h"
#include "base/atomic_file.h"
#include "base/clock.h"
#include "base/countof.h"
#include "base/csv_reader.h"
#include "base/grow.h"
#include "base/line_reader.h"
#include "base/xalloc.h"
#include "commands.h"
#include "options.h"
#include "store/store.h"

#define CMD "align"
#define EXIT_OK 0
#define EXIT_FAIL 1

#define ALIGN_DEFAULT_K 50u
#define ALIGN_K_MAX 1000u
#define ALIGN_THREADS_MAX 4096u
/* Left entities ranked per call: bounds the candidate buffer. */
#define ALIGN_BLOCK 16384u
/* --one-to-one holds every (left, candidate) pair at once, 16 bytes each:
 * at most 2 GiB of them. */
#define ALIGN_PAIRS_MAX ((size_t)1 << 27)

static void usage(FILE *out)
{
    fprintf(out,
"usage: kgalign align DATA_DIR MODEL -o MATCHES.tsv [OPTIONS]\n"
"\n"
"Decides, for every entity of DATA_DIR/left.kgs, whether it has a\n"
"counterpart in DATA_DIR/right.kgs (match) or none (no-match). Real\n"
"graphs overlap only in part: an entity whose best candidate is not its\n"
"counterpart, because it has none, gets no-match. The candidates are the\n"
"right entities in no training or validation link; a left entity of such\n"
"a link gets its partner with probability 1. Each candidate's probability\n"
"is the chance that it is the counterpart, calibrated on the whole graph\n"
"(0.9 means nine in ten), from its pair score, its margin over the\n"
"runner-up, whether another entity matches it better, and whether the\n"
"neighbourhoods agree (docs/model.md, 'Open-world decisions').\n"
"\n"
"Example:\n"
"  kgalign align data data/model.kgm -o matches.tsv\n"
"  awk -F'\\t' '$4 == \"match\"' matches.tsv | head\n"
"\n"
"Options:\n"
"  -o, --output FILE  the decisions (required); written to a temporary file\n"
"                     next to it and renamed into place when complete\n"
"  --one-to-one       a greedy global one-to-one assignment: all (left,\n"
"                     candidate) pairs in increasing distance, a pair\n"
"                     accepted when neither entity is taken yet, so each\n"
"                     right entity is the partner of at most one left\n"
"                     entity; a left entity all of whose K candidates were\n"
"                     taken gets an empty candidate and no-match\n"
"  --threshold P      decision threshold on the probability, 0 to 1\n"
"                     (default: the model's, 0.5)\n"
"  --k K              candidates per left entity, 1 to %u (default %u);\n"
"                     the decision itself always weighs the first 20\n"
"  --threads T        threads of the model, 0 = all cores (default 0)\n"
"  --pairs FILE       score the pairs of FILE instead (see below)\n"
"  --search MODE      candidate search: auto (exact up to about 60,000\n"
"                     entities a side), exact or approx\n"
"  -h, --help         this text\n"
"\n"
"Output: one line per left entity, sorted bytewise by left id, after a\n"
"header line starting with '#':\n"
"  LEFT_ID  RIGHT_ID  PROBABILITY  match|no-match  RUNNER_UP_ID  RUNNER_UP_PROBABILITY\n"
"tab-separated, with the external ids of the stores: the best candidate\n"
"and the probability that it is the counterpart; 'match' when that\n"
"probability is at least the threshold; the runner-up (the next\n"
"candidate; with --one-to-one the best one other than the partner) and\n"
"its probability, so that a reviewer sees the margin. An empty id (and\n"
"probability 0) where there is no such candidate. A summary goes to\n"
"stderr; progress too when it is a terminal (KGALIGN_PROGRESS=1 forces\n"
"it).\n"
"\n"
"Pairs (--pairs FILE): instead of searching, scores the given pairs, each\n"
"alone, with the pair model (the probability that the two are one\n"
"entity; 'match' at the model's pair threshold, chosen for the best F1 on\n"
"labelled validation pairs where training had some). FILE is tab-\n"
"separated, LEFT_ID<TAB>RIGHT_ID per line (more fields are ignored, so a\n"
"*_pairs.tsv of the import will do), or a CSV pair file with the columns\n"
"ltable_id and rtable_id (train.csv of the records layout). The output has\n"
"one line per pair, in the order of FILE, after a header line:\n"
"  LEFT_ID  RIGHT_ID  PROBABILITY  match|no-match\n"
"\n"
"Exit status: 0 success, 1 failure (store, model or output), 2 usage\n"
"error.\n",
            ALIGN_K_MAX, ALIGN_DEFAULT_K);
}

typedef struct {
    const char *data_dir, *model, *output, *pairs;
    int one_to_one;
    double threshold; /* < 0: the model's */
    size_t k;
    int threads;
    int search;
} align_args_t;

/* Returns -1 to go on, or an exit status (help printed, usage error). */
static int parse_args(int argc, char **argv, align_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->threshold = -1;
    a->k = ALIGN_DEFAULT_K;
    const kga_option_t options[] = {
        KGA_OPTION_ARG("DATA_DIR", &a->data_dir),
        KGA_OPTION_ARG("MODEL", &a->model),
        KGA_OPTION_FILE("output", 'o', &a->output),
        KGA_OPTION_FLAG("one-to-one", 0, &a->one_to_one),
        KGA_OPTION_DOUBLE("threshold", 0, &a->threshold, 0, 1),
        KGA_OPTION_SIZE("k", 0, &a->k, 1, ALIGN_K_MAX),
        KGA_OPTION_INT("threads", 0, &a->threads, 0, ALIGN_THREADS_MAX),
        KGA_OPTION_FILE("pairs", 0, &a->pairs),
        KGA_OPTION_CHOICE("search", 0, &a->search, kga_cli_parse_search,
                          "one of auto, exact, approx"),
    };
    int status = kga_options_parse(CMD, usage, options,
                                   KGA_COUNTOF(options), argc, argv);
    if (status == KGA_OPTIONS_RUN && a->output == NULL)
        return kga_cli_usage_error(CMD, "missing -o MATCHES.tsv");
    if (status == KGA_OPTIONS_RUN && a->pairs != NULL && a->one_to_one)
        return kga_cli_usage_error(CMD, "--pairs scores each pair alone: "
                                        "--one-to-one does not apply");
    return status;
}

/* Decides every left entity in blocks. Each left entity's best candidate
 * goes to partner[] (which starts with right = KGA_ASSIGN_NONE everywhere)
 * and its runner-up to runner[]; with pairs != NULL every candidate is
 * appended to pairs as well (*n_pairs of them). */
static int decide_all(const kga_aligner_t *a, size_t k,
                      kga_scored_pair_t *partner, kga_scored_pair_t *runner,
                      kga_scored_pair_t *pairs, size_t *n_pairs,
                      kga_err_t *err)
{
    uint32_t n_left =
        kga_store_entity_count(kga_aligner_store(a, KGA_SIDE_LEFT));
    uint32_t *lefts = malloc(ALIGN_BLOCK * sizeof *lefts);
    kga_candidate_t *cands = malloc((size_t)ALIGN_BLOCK * k * sizeof *cands);
    int rc = 0;
    if (lefts == NULL || cands == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "out of memory (%u x %zu "
                                          "candidates)", ALIGN_BLOCK, k);
        goto out;
    }
    const kga_progress_t *progress = kga_cli_progress();
    kga_progress_report(progress, "align: deciding every left entity",
                        "entities", 0, n_left);
    for (uint32_t start = 0; start < n_left; start += ALIGN_BLOCK) {
        uint32_t nb = n_left - start < ALIGN_BLOCK ? n_left - start
                                                   : ALIGN_BLOCK;
        for (uint32_t i = 0; i < nb; i++)
            lefts[i] = start + i;
        rc = kga_aligner_decide(a, lefts, nb, k, cands, err);
        if (rc != 0) {
            if (err != NULL && err->msg[0] == '\0')
                kga_err_set(err, rc, "candidate ranking: %s",
                            kga_strerror(rc));
            goto out;
        }
        for (uint32_t i = 0; i < nb; i++) {
            const kga_candidate_t *c = cands + (size_t)i * k;
            for (size_t j = 0; j < k; j++) {
                if (c[j].entity == UINT32_MAX)
                    continue;
                kga_scored_pair_t p = {start + i, c[j].entity,
                                       c[j].score.distance,
                                       c[j].score.probability};
                if (partner[start + i].right == KGA_ASSIGN_NONE)
                    partner[start + i] = p;
                else if (runner[start + i].right == KGA_ASSIGN_NONE)
                    runner[start + i] = p;
                if (pairs != NULL)
                    pairs[(*n_pairs)++] = p;
            }
        }
        kga_progress_report(progress, "align: deciding every left entity",
                            "entities", start + nb, n_left);
    }
out:
    kga_cli_progress_done();
    free(cands);
    free(lefts);
    return rc;
}

/* After a one-to-one assignment the runner-up of a left entity is its
 * closest candidate other than its partner (pairs as the assignment sorted
 * them: by distance). */
static void runners_up_of_assignment(const kga_scored_pair_t *pairs,
                                     size_t n_pairs,
                                     const kga_scored_pair_t *partner,
                                     kga_scored_pair_t *runner,
                                     uint32_t n_left)
{
    for (uint32_t l = 0; l < n_left; l++)
        runner[l].right = KGA_ASSIGN_NONE;
    for (size_t i = 0; i < n_pairs; i++) {
        const kga_scored_pair_t *p = &pairs[i];
        if (runner[p->left].right == KGA_ASSIGN_NONE &&
            p->right != partner[p->left].right)
            runner[p->left] = *p;
    }
}

static int ext_id_cmp(const void *pa, const void *pb, void *ctx)
{
    const kga_store_t *s = ctx;
    return strcmp(kga_store_entity_ext_id(s, *(const uint32_t *)pa),
                  kga_store_entity_ext_id(s, *(const uint32_t *)pb));
}

/* Writes a line for every left entity to f, sorted by left external id;
 * counts those with a candidate and the matches. Returns 0 or KGA_ENOMEM:
 * a failed write shows in the stream's error flag, which the commit
 * reports. */
static int write_matches(FILE *f, const kga_aligner_t *a,
                         const kga_scored_pair_t *partner,
                         const kga_scored_pair_t *runner, double threshold,
                         uint64_t *lines, uint64_t *matches)
{
    const kga_store_t *left = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *right = kga_aligner_store(a, KGA_SIDE_RIGHT);
    uint32_t n_left = kga_store_entity_count(left);
    uint32_t *order = malloc((n_left ? n_left : 1) * sizeof *order);
    if (order == NULL)
        return KGA_ENOMEM;
    for (uint32_t l = 0; l < n_left; l++)
        order[l] = l;
    qsort_r(order, n_left, sizeof *order, ext_id_cmp, (void *)left);
    *lines = *matches = 0;
    fputs("#left_id\tright_id\tprobability\tdecision\trunner_up_id\t"
          "runner_up_probability\n", f);
    for (uint32_t i = 0; i < n_left; i++) {
        const kga_scored_pair_t *p = &partner[order[i]];
        const kga_scored_pair_t *r = &runner[order[i]];
        int has = p->right != KGA_ASSIGN_NONE;
        int has_runner = r->right != KGA_ASSIGN_NONE;
        int match = has && p->probability >= threshold;
        fprintf(f, "%s\t%s\t%.6f\t%s\t%s\t%.6f\n",
                kga_store_entity_ext_id(left, order[i]),
                has ? kga_store_entity_ext_id(right, p->right) : "",
                has ? (double)p->probability : 0.0,
                match ? "match" : "no-match",
                has_runner ? kga_store_entity_ext_id(right, r->right) : "",
                has_runner ? (double)r->probability : 0.0);
        *lines += (uint64_t)has;
        *matches += (uint64_t)match;
    }
    free(order);
    return 0;
}

/* ---- --pairs ---- */

typedef struct {
    uint32_t *left, *right;
    size_t n, cap;
} pair_list_t;

static int pair_list_add(pair_list_t *l, uint32_t a, uint32_t b)
{
    if (l->n == l->cap) {
        size_t cap = kga_grow_capacity(l->cap, l->n + 1, 1024, sizeof *l->left);
        if (cap == 0)
            return KGA_ELIMIT;
        if (kga_grow_resize(&l->left, cap, sizeof *l->left) != 0 ||
            kga_grow_resize(&l->right, cap, sizeof *l->right) != 0)
            return KGA_ENOMEM;
        l->cap = cap;
    }
    l->left[l->n] = a;
    l->right[l->n++] = b;
    return 0;
}

/* Resolves one pair of ids read at path:line and appends it. */
static int add_pair(const kga_aligner_t *a, pair_list_t *l, const char *path,
                    uint64_t line, const char *left, const char *right,
                    kga_err_t *err)
{
    int64_t x = kga_store_lookup(kga_aligner_store(a, KGA_SIDE_LEFT), left);
    int64_t y = kga_store_lookup(kga_aligner_store(a, KGA_SIDE_RIGHT), right);
    if (x < 0 || y < 0)
        return kga_err_set(err, KGA_EUNKNOWN_ID,
                           "%s:%llu: %s id '%.200s' is not in the %s store",
                           path, (unsigned long long)line,
                           x < 0 ? "left" : "right", x < 0 ? left : right,
                           x < 0 ? "left" : "right");
    if (pair_list_add(l, (uint32_t)x, (uint32_t)y) != 0)
        return kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
    return 0;
}

static long column_of(char **f, long n, const char *name)
{
    for (long i = 0; i < n; i++)
        if (strcasecmp(f[i], name) == 0)
            return i;
    return -1;
}

/* A CSV pair file with ltable_id and rtable_id columns. */
static int read_csv_pairs(const kga_aligner_t *a, const char *path,
                          pair_list_t *l, kga_err_t *err)
{
    kga_csv_reader_t *r;
    int rc = kga_csv_reader_open(path, &r, err);
    if (rc != 0)
        return rc;
    char **f;
    long n = kga_csv_reader_next(r, &f, err), li = -1, ri = -1, cols = n;
    if (n > 0) {
        li = column_of(f, n, "ltable_id");
        ri = column_of(f, n, "rtable_id");
    }
    if (n >= 0 && (li < 0 || ri < 0))
        rc = kga_err_set(err, KGA_EPARSE,
                         "%s:1: a pair file is tab-separated (LEFT<TAB>"
                         "RIGHT) or a CSV file with the columns ltable_id "
                         "and rtable_id", path);
    else if (n < 0)
        rc = (int)n;
    while (rc == 0 && (n = kga_csv_reader_next(r, &f, err)) > 0) {
        uint64_t line = kga_csv_reader_line_no(r);
        if (n != cols)
            rc = kga_err_set(err, KGA_EPARSE,
                             "%s:%llu: expected %ld fields (as the header "
                             "has), found %ld",
                             path, (unsigned long long)line, cols, n);
        else
            rc = add_pair(a, l, path, line, f[li], f[ri], err);
    }
    if (rc == 0 && n < 0)
        rc = (int)n;
    kga_csv_reader_close(r);
    return rc;
}

/* The pairs of path, tab-separated or CSV (see the usage). */
static int read_pair_list(const kga_aligner_t *a, const char *path,
                          pair_list_t *l, kga_err_t *err)
{
    kga_line_reader_t *r;
    int rc = kga_line_reader_open(path, &r, err);
    if (rc != 0)
        return rc;
    char *line;
    size_t len;
    int first = 1;
    while ((rc = kga_line_reader_next(r, &line, &len, err)) == 1) {
        if (len == 0)
            continue;
        if (first && memchr(line, '\t', len) == NULL) {
            kga_line_reader_close(r);
            return read_csv_pairs(a, path, l, err);
        }
        first = 0;
        char *f[2];
        uint64_t no = kga_line_reader_line_no(r);
        if (kga_split_tabs(line, len, f, 2) < 2) {
            rc = kga_err_set(err, KGA_EPARSE,
                             "%s:%llu: expected LEFT<TAB>RIGHT", path,
                             (unsigned long long)no);
            break;
        }
        if ((rc = add_pair(a, l, path, no, f[0], f[1], err)) != 0)
            break;
    }
    kga_line_reader_close(r);
    return rc < 0 ? rc : 0;
}

/* Scores the pairs of args->pairs into out; the summary to stderr. */
static int align_pairs(const align_args_t *args, const kga_aligner_t *a,
                       FILE *out, kga_err_t *err)
{
    pair_list_t l = {0};
    int rc = read_pair_list(a, args->pairs, &l, err);
    kga_pair_score_t *scores = NULL;
    if (rc == 0 && l.n > 0 &&
        (scores = malloc(l.n * sizeof *scores)) == NULL)
        rc = kga_err_set(err, KGA_ENOMEM, "out of memory");
    if (rc == 0) {
        kga_aligner_score(a, l.left, l.right, l.n, scores);
        const kga_store_t *left = kga_aligner_store(a, KGA_SIDE_LEFT);
        const kga_store_t *right = kga_aligner_store(a, KGA_SIDE_RIGHT);
        uint64_t matches = 0;
        fputs("#left_id\tright_id\tprobability\tdecision\n", out);
        for (size_t i = 0; i < l.n; i++) {
            fprintf(out, "%s\t%s\t%.6f\t%s\n",
                    kga_store_entity_ext_id(left, l.left[i]),
                    kga_store_entity_ext_id(right, l.right[i]),
                    (double)scores[i].probability,
                    scores[i].match ? "match" : "no-match");
            matches += (uint64_t)scores[i].match;
        }
        fprintf(stderr,
                "kgalign align: %s: %zu pairs of %s scored, %llu matches at "
                "probability >= %.4g\n",
                args->output, l.n, args->pairs, (unsigned long long)matches,
                (double)kga_aligner_pair_threshold(a));
    }
    free(scores);
    free(l.left);
    free(l.right);
    return rc;
}

int kga_cmd_align(int argc, char **argv)
{
    align_args_t args;
    int status = parse_args(argc, argv, &args);
    if (status >= 0)
        return status;
    double t_start = kga_clock_seconds();
    status = EXIT_FAIL;

    kga_aligner_t *a = NULL;
    kga_scored_pair_t *partner = NULL, *runner = NULL, *pairs = NULL;
    kga_atomic_file_t out = {.fd = -1};
    kga_err_t err;
    kga_err_clear(&err);

    /* The temporary file first: an unwritable output fails before the
     * model is loaded. */
    if (kga_atomic_file_open(&out, args.output, KGA_ATOMIC_STREAM, &err) !=
        0) {
        kga_cli_error(CMD, "%s", err.msg);
        goto out;
    }

    kga_aligner_options_t opts = {.threads = args.threads,
                                  .threshold = (float)args.threshold,
                                  .search = args.search};
    if (kga_cli_open_aligner(CMD, args.data_dir, args.model, &opts, &a) != 0)
        goto out;
    if (args.pairs != NULL) {
        if (align_pairs(&args, a, out.stream, &err) != 0 ||
            kga_atomic_file_commit(&out, &err) != 0) {
            kga_cli_error(CMD, "%s", err.msg);
            goto out;
        }
        status = EXIT_OK;
        goto out;
    }
    double t_open = kga_clock_seconds();
    double threshold = args.threshold >= 0
                           ? args.threshold
                           : (double)kga_aligner_threshold(a);
    uint32_t n_left =
        kga_store_entity_count(kga_aligner_store(a, KGA_SIDE_LEFT));
    uint32_t n_right =
        kga_store_entity_count(kga_aligner_store(a, KGA_SIDE_RIGHT));
    size_t k = args.k < n_right ? args.k : n_right;

    partner = malloc((n_left ? n_left : 1) * sizeof *partner);
    runner = malloc((n_left ? n_left : 1) * sizeof *runner);
    if (partner == NULL || runner == NULL) {
        kga_cli_error(CMD, "out of memory (%u entities)", (unsigned)n_left);
        goto out;
    }
    for (uint32_t l = 0; l < n_left; l++)
        partner[l] = runner[l] =
            (kga_scored_pair_t){l, KGA_ASSIGN_NONE, NAN, NAN};
    if (args.one_to_one && k > 0) {
        if (n_left > ALIGN_PAIRS_MAX / k) {
            kga_cli_error(CMD, "--one-to-one: %u entities x %zu candidates "
                               "exceed the limit of %zu pairs; lower --k to "
                               "%zu",
                          (unsigned)n_left, k, ALIGN_PAIRS_MAX,
                          ALIGN_PAIRS_MAX / n_left);
            goto out;
        }
        size_t cap = (size_t)n_left * k;
        pairs = malloc((cap > 0 ? cap : 1) * sizeof *pairs);
        if (pairs == NULL) {
            kga_cli_error(CMD, "--one-to-one: out of memory (%u x %zu "
                               "pairs); lower --k",
                          (unsigned)n_left, k);
            goto out;
        }
    }
    size_t n_pairs = 0;
    if (k > 0 &&
        decide_all(a, k, partner, runner, pairs, &n_pairs, &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        goto out;
    }
    if (pairs != NULL && kga_assign_greedy(pairs, n_pairs, n_left, n_right,
                                           partner, &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        goto out;
    }
    if (pairs != NULL)
        runners_up_of_assignment(pairs, n_pairs, partner, runner, n_left);

    uint64_t lines, matches;
    if (write_matches(out.stream, a, partner, runner, threshold, &lines,
                      &matches) != 0) {
        kga_cli_error(CMD, "out of memory (%u entities)", (unsigned)n_left);
        goto out;
    }
    if (kga_atomic_file_commit(&out, &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        goto out;
    }

    double t_end = kga_clock_seconds();
    fprintf(stderr,
            "kgalign align: %s: %u left entities aligned against %u right "
            "entities (k = %zu%s): %llu with a candidate, %llu matches at "
            "probability >= %.4g, %llu without a candidate; model opened in "
            "%.2f s, aligned in %.2f s\n",
            args.output, (unsigned)n_left, (unsigned)n_right, k,
            args.one_to_one ? ", one-to-one" : "",
            (unsigned long long)lines, (unsigned long long)matches,
            threshold, (unsigned long long)(n_left - lines),
            t_open - t_start, t_end - t_open);
    status = EXIT_OK;
out:
    kga_atomic_file_abort(&out);
    free(pairs);
    free(runner);
    free(partner);
    if (a != NULL)
        kga_aligner_close(a);
    return status;
}
