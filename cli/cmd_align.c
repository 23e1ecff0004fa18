/* kgalign align: the best right entity of every left entity under a trained
 * model, written as a TSV of matches; optionally the greedy one-to-one
 * assignment of core/align/assign.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "align/aligner.h"
#include "align/assign.h"
#include "base/atomic_file.h"
#include "base/clock.h"
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
#define ALIGN_BLOCK 4096u
/* --one-to-one holds every (left, candidate) pair at once, 16 bytes each:
 * at most 2 GiB of them. */
#define ALIGN_PAIRS_MAX ((size_t)1 << 27)

static void usage(FILE *out)
{
    fprintf(out,
"usage: kgalign align DATA_DIR MODEL -o MATCHES.tsv [OPTIONS]\n"
"\n"
"Aligns every entity of DATA_DIR/left.kgs: the model proposes the K best\n"
"candidates among all entities of DATA_DIR/right.kgs, reranks them with\n"
"the full pair model, and the best one is the left entity's partner.\n"
"\n"
"Options:\n"
"  -o, --output FILE  the matches (required); written to a temporary file\n"
"                     next to it and renamed into place when complete\n"
"  --one-to-one       a greedy global one-to-one assignment: all (left,\n"
"                     candidate) pairs in increasing distance, a pair\n"
"                     accepted when neither entity is taken yet, so each\n"
"                     right entity is the partner of at most one left\n"
"                     entity and a left entity gets its best candidate\n"
"                     still free; a left entity all of whose K candidates\n"
"                     were taken gets no line\n"
"  --threshold P      decision threshold on the probability, 0 to 1\n"
"                     (default: the model's)\n"
"  --k K              candidates per left entity, 1 to %u (default %u)\n"
"  --threads T        threads of the model, 0 = all cores (default 0)\n"
"  -h, --help         this text\n"
"\n"
"Output: one line per left entity that has a partner, sorted bytewise by\n"
"left id, after a header line starting with '#':\n"
"  LEFT_ID<TAB>RIGHT_ID<TAB>PROBABILITY<TAB>match|no-match\n"
"with the external ids of the stores and the calibrated probability;\n"
"'match' when the probability is at least the threshold. Left entities\n"
"without any candidate (an empty right graph, or --one-to-one as above)\n"
"get no line. A summary goes to stderr; progress too when it is a\n"
"terminal (KGALIGN_PROGRESS=1 forces it).\n"
"\n"
"Exit status: 0 success, 1 failure (store, model or output), 2 usage\n"
"error.\n",
            ALIGN_K_MAX, ALIGN_DEFAULT_K);
}

typedef struct {
    const char *data_dir, *model, *output;
    int one_to_one;
    double threshold; /* < 0: the model's */
    size_t k;
    int threads;
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
    };
    int status = kga_options_parse(CMD, usage, options,
                                   sizeof options / sizeof options[0], argc,
                                   argv);
    if (status == KGA_OPTIONS_RUN && a->output == NULL)
        return kga_cli_usage_error(CMD, "missing -o MATCHES.tsv");
    return status;
}

/* Ranks every left entity in blocks. Each left entity's best candidate goes
 * to partner[] (which starts with right = KGA_ASSIGN_NONE everywhere); with
 * pairs != NULL every candidate is appended to pairs as well (*n_pairs of
 * them). */
static int rank_all(const kga_aligner_t *a, size_t k,
                    kga_scored_pair_t *partner, kga_scored_pair_t *pairs,
                    size_t *n_pairs, kga_err_t *err)
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
    kga_progress_report(progress, "aligning", 0, n_left);
    for (uint32_t start = 0; start < n_left; start += ALIGN_BLOCK) {
        uint32_t nb = n_left - start < ALIGN_BLOCK ? n_left - start
                                                   : ALIGN_BLOCK;
        for (uint32_t i = 0; i < nb; i++)
            lefts[i] = start + i;
        rc = kga_aligner_rank(a, lefts, nb, NULL, 0, k, cands, err);
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
                if (pairs != NULL)
                    pairs[(*n_pairs)++] = p;
            }
        }
        kga_progress_report(progress, "aligning", start + nb, n_left);
    }
out:
    kga_cli_progress_done();
    free(cands);
    free(lefts);
    return rc;
}

static int ext_id_cmp(const void *pa, const void *pb, void *ctx)
{
    const kga_store_t *s = ctx;
    return strcmp(kga_store_entity_ext_id(s, *(const uint32_t *)pa),
                  kga_store_entity_ext_id(s, *(const uint32_t *)pb));
}

/* Writes the lines to f, sorted by left external id; counts the lines and
 * the matches. Returns 0 or KGA_ENOMEM: a failed write shows in the
 * stream's error flag, which the commit reports. */
static int write_matches(FILE *f, const kga_aligner_t *a,
                         const kga_scored_pair_t *partner, double threshold,
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
    fputs("#left_id\tright_id\tprobability\tdecision\n", f);
    for (uint32_t i = 0; i < n_left; i++) {
        const kga_scored_pair_t *p = &partner[order[i]];
        if (p->right == KGA_ASSIGN_NONE)
            continue;
        int match = p->probability >= threshold;
        fprintf(f, "%s\t%s\t%.6f\t%s\n",
                kga_store_entity_ext_id(left, order[i]),
                kga_store_entity_ext_id(right, p->right),
                (double)p->probability, match ? "match" : "no-match");
        ++*lines;
        *matches += (uint64_t)match;
    }
    free(order);
    return 0;
}

int kga_cmd_align(int argc, char **argv)
{
    align_args_t args;
    int status = parse_args(argc, argv, &args);
    if (status >= 0)
        return status;
    double t_start = kga_clock_seconds();
    status = EXIT_FAIL;

    char *left_path = kga_xasprintf("%s/left.kgs", args.data_dir);
    char *right_path = kga_xasprintf("%s/right.kgs", args.data_dir);
    kga_aligner_t *a = NULL;
    kga_scored_pair_t *partner = NULL, *pairs = NULL;
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
                                  .threshold = (float)args.threshold};
    if (kga_aligner_open(left_path, right_path, args.model, &opts, &a,
                         &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
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
    if (partner == NULL) {
        kga_cli_error(CMD, "out of memory (%u entities)", (unsigned)n_left);
        goto out;
    }
    for (uint32_t l = 0; l < n_left; l++)
        partner[l] = (kga_scored_pair_t){l, KGA_ASSIGN_NONE, NAN, NAN};
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
    if (k > 0 && rank_all(a, k, partner, pairs, &n_pairs, &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        goto out;
    }
    if (pairs != NULL && kga_assign_greedy(pairs, n_pairs, n_left, n_right,
                                           partner, &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        goto out;
    }

    uint64_t lines, matches;
    if (write_matches(out.stream, a, partner, threshold, &lines, &matches) !=
        0) {
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
            "entities (k = %zu%s): %llu with a partner, %llu matches at "
            "probability >= %.4g, %llu without a partner; model opened in "
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
    free(partner);
    if (a != NULL)
        kga_aligner_close(a);
    free(right_path);
    free(left_path);
    return status;
}
