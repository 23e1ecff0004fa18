/* kgalign eval: ranking and pair classification of a trained model on one
 * split of gold links, left to right, or on the split's labelled pairs
 * (core/eval/evaluate.h and pair_eval.h do the work; this file parses
 * options and prints the table, the JSON that proto/eval_json.c encodes, or
 * the report). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "align/aligner.h"
#include "base/countof.h"
#include "base/xalloc.h"
#include "cli/report.h"
#include "commands.h"
#include "eval/evaluate.h"
#include "eval/open_world_eval.h"
#include "eval/pair_eval.h"
#include "options.h"
#include "proto/eval_json.h"
#include "store/dataset.h"

#define CMD "eval"
#define EXIT_OK 0
#define EXIT_FAIL 1

#define EVAL_K_MAX 1000u
#define EVAL_THREADS_MAX 4096u
#define DIRECTION "left to right"

static void usage(FILE *out)
{
    fprintf(out,
"usage: kgalign eval DATA_DIR MODEL [OPTIONS]\n"
"\n"
"Evaluates a trained model on the gold links of one split of DATA_DIR (as\n"
"'kgalign import' writes it: left.kgs, right.kgs, {train,valid,test}_links\n"
".tsv), or on its labelled pairs ({train,valid,test}_pairs.tsv) where the\n"
"split has them. Only the chosen split's files are read.\n"
"\n"
"Options:\n"
"  --split test|valid|train  the links to evaluate on (default test)\n"
"  --links FILE              evaluate on the links of FILE instead\n"
"                            (LEFT_ID<TAB>RIGHT_ID, as the split files): for\n"
"                            entities added after training ('kgalign add')\n"
"                            or any subset; reported as split FILE\n"
"  --k K                     candidates per query, 1 to %u (default %u;\n"
"                            at most the number of links is used)\n"
"  --threads T               threads of the model, 0 = all cores (default 0)\n"
KGA_CLI_SEARCH_HELP
"  --json                    print one JSON object instead of the table\n"
"  --report FILE.html        also write a self-contained HTML report: the\n"
"                            metrics, per-type rows, precision-recall curve\n"
"                            and score histograms of true and false pairs\n"
"                            (with --open-world: the decisions, a\n"
"                            reliability plot, the probabilities on a log\n"
"                            scale with the threshold, the worst errors)\n"
"  --open-world              the open-world protocol below instead of the\n"
"                            closed one\n"
"  --ranking                 the closed ranking protocol on the split's\n"
"                            links even where it has labelled pairs\n"
"  -h, --help                this text\n"
"\n"
"Labelled-pair protocol (record matching: Magellan, DeepMatcher; the\n"
"default where the split has labelled pairs): exactly the labelled rows\n"
"of {split}_pairs.tsv, repeats included, each scored alone. Reported:\n"
"precision, recall and F1 of the model's decisions (probability at least\n"
"the model's pair threshold, chosen for the best F1 on the validation\n"
"pairs), PRAUC and recall at precision 0.95 over the rows ranked by\n"
"probability, overall and per type of the left entity. JSON keys:\n"
"protocol, split, pairs, positives, precision, recall, f1, prauc,\n"
"recall_at_p95, threshold, predicted_matches, true_positives,\n"
"p95_threshold, best_f1, best_threshold, eval_seconds, model_version,\n"
"per_type ({TYPE: {pairs, positives, precision, recall, f1, prauc,\n"
"recall_at_p95}}).\n"
"\n"
"Closed protocol (OpenEA / DBP15K, the default), direction left to right:\n"
"every left entity of the split's links is a query, and its candidate\n"
"domain is the set of the split's right entities (each test left entity\n"
"against all test right entities). The model proposes the K best\n"
"candidates of each query and reranks them with the full pair model. It\n"
"says how well the model ranks, not how its decisions fare on a whole\n"
"graph, where many entities have no counterpart.\n"
"\n"
"Open-world protocol (--open-world): the decisions of 'kgalign align'.\n"
"Every left entity in no training or validation link is a query against\n"
"all right entities in no such link. A query in a link of the split has\n"
"that counterpart; a query in no link counts as having none (true where\n"
"the gold links are complete, as in synthetic pairs and OpenEA's sets;\n"
"the output says how many queries were counted either way). Reported:\n"
"precision, recall and F1 of the 'match' decisions, the share of queries\n"
"without counterpart that were matched, the calibration table (rows by\n"
"probability: mean probability against the share correct) and its\n"
"expected calibration error (ECE), and the worst errors with names.\n"
"JSON keys: protocol, split, queries, with_counterpart,\n"
"without_counterpart, gold_links_of_known_entities, matches,\n"
"correct_matches, threshold, precision, recall, f1,\n"
"without_counterpart_matched_share, ece, calibration ([{lo, hi, rows,\n"
"mean_probability, share_correct}]), worst_errors ([{probability,\n"
"decision, left, candidate, counterpart}]), eval_seconds, model_version.\n"
"\n"
"Metrics:\n"
"  Hits@1, Hits@5, Hits@10  share of queries whose true match ranks at most\n"
"                           1, 5, 10 among the candidates, by distance\n"
"  MRR                      mean of 1 / rank over the queries\n"
"    Ties count against the true match: rank = 1 + the number of other\n"
"    candidates at least as close. A true match outside the K candidates\n"
"    is a miss: it counts among the queries and adds 0.\n"
"  candidate recall@K       share of queries whose true match is among the\n"
"                           K candidates; it caps Hits@K\n"
"  PRAUC, best F1, recall@P95\n"
"                           pair classification over every (query,\n"
"                           candidate) pair, labelled true when the\n"
"                           candidate is the query's true match, scored by\n"
"                           the calibrated probability: area under the\n"
"                           precision-recall curve (average precision), the\n"
"                           best F1 over thresholds, and the largest recall\n"
"                           at precision >= 0.95. True matches outside the\n"
"                           candidates count as missed positives.\n"
"  per entity type          the ranking metrics of the queries of each\n"
"                           type of the left entity (untyped entities\n"
"                           count overall only)\n"
"  eval_seconds             wall time of candidates, reranking and metrics\n"
"\n"
"Closed-protocol JSON keys: protocol (\"closed\"), direction, split, k,\n"
"queries, pairs, positives, misses, hits1,\n"
"hits5, hits10, mrr, candidate_recall, prauc, best_f1, best_threshold,\n"
"recall_at_p95, p95_threshold, eval_seconds, model_version, per_type\n"
"({TYPE: {queries, hits1, hits5, hits10, mrr, candidate_recall}}).\n"
"\n"
"Exit status: 0 success, 1 failure (store, model, links or report), 2 usage\n"
"error.\n",
            EVAL_K_MAX, KGA_EVAL_DEFAULT_K);
}

typedef struct {
    const char *data_dir, *model, *report;
    const char *links; /* --links FILE, or NULL for the split's file */
    kga_split_t split;
    int split_given;
    int json, open_world, ranking;
    size_t k;
    int threads;
    int search;
} eval_args_t;

static int parse_split(const char *text, void *to)
{
    return kga_split_parse(text, to);
}

/* What the output calls the links: the split, or the --links file. */
static const char *split_label(const eval_args_t *a)
{
    return a->links != NULL ? a->links : kga_split_name(a->split);
}

/* Returns -1 to go on, or an exit status (help printed, usage error). */
static int parse_args(int argc, char **argv, eval_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->split = (kga_split_t)-1;
    a->k = KGA_EVAL_DEFAULT_K;
    const kga_option_t options[] = {
        KGA_OPTION_ARG("DATA_DIR", &a->data_dir),
        KGA_OPTION_ARG("MODEL", &a->model),
        KGA_OPTION_CHOICE("split", 0, &a->split, parse_split,
                          "test, valid or train"),
        KGA_OPTION_SIZE("k", 0, &a->k, 1, EVAL_K_MAX),
        KGA_OPTION_INT("threads", 0, &a->threads, 0, EVAL_THREADS_MAX),
        KGA_OPTION_CHOICE("search", 0, &a->search, kga_cli_parse_search,
                          "one of auto, exact, approx"),
        KGA_OPTION_FLAG("json", 0, &a->json),
        KGA_OPTION_FILE("report", 0, &a->report),
        KGA_OPTION_FLAG("open-world", 0, &a->open_world),
        KGA_OPTION_FLAG("ranking", 0, &a->ranking),
        KGA_OPTION_FILE("links", 0, &a->links),
    };
    int status = kga_options_parse(CMD, usage, options,
                                   KGA_COUNTOF(options), argc, argv);
    if (status != KGA_OPTIONS_RUN)
        return status;
    a->split_given = a->split != (kga_split_t)-1;
    if (a->split_given && a->links != NULL)
        return kga_cli_usage_error(CMD, "--split and --links name the links "
                                        "twice: give one of them");
    if (!a->split_given)
        a->split = KGA_SPLIT_TEST;
    return status;
}

/* A result object from one of proto/'s formatters and a newline on stdout;
 * frees json. */
static void emit_json(char *json, size_t len)
{
    fwrite(json, 1, len, stdout);
    putchar('\n');
    free(json);
}

/* The JSON object and a newline on stdout. */
static int print_json(const eval_args_t *args, const kga_aligner_t *a,
                      const kga_eval_result_t *res, kga_err_t *err)
{
    char *json;
    size_t len;
    if (kga_eval_json_format(DIRECTION, split_label(args),
                             kga_aligner_model_version(a), res, &json,
                             &len) != 0)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    emit_json(json, len);
    return 0;
}

/* Terminal columns of a UTF-8 string, counted as code points (good enough
 * for aligning a table). */
static size_t display_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xc0) != 0x80;
    return w;
}

static void print_text(const eval_args_t *args, const kga_aligner_t *a,
                       const kga_eval_result_t *res)
{
    const kga_ranking_result_t *r = &res->ranking;
    const kga_pairs_result_t *pr = &res->classification;
    const char *split = split_label(args);
    printf("data:              %s, split %s\n", args->data_dir, split);
    printf("protocol:          closed (the split's entities only; "
           "--open-world for the decisions on the whole graph)\n");
    printf("model:             %s (version %s)\n", args->model,
           kga_aligner_model_version(a));
    printf("direction:         " DIRECTION ": each %s left entity against "
           "all %" PRIu64 " %s right entities\n",
           split, res->queries, split);
    if (res->k < args->k)
        printf("candidates:        k = %zu per query (--k %zu is more than "
               "the domain holds)\n",
               res->k, args->k);
    else
        printf("candidates:        k = %zu per query\n", res->k);
    printf("queries:           %" PRIu64 "\n", r->queries);
    printf("Hits@1:            %.4f\n", r->hits_at_1);
    printf("Hits@5:            %.4f\n", r->hits_at_5);
    printf("Hits@10:           %.4f\n", r->hits_at_10);
    printf("MRR:               %.4f\n", r->mrr);
    printf("candidate recall:  %.4f (%" PRIu64 " true matches outside the "
           "candidates)\n",
           res->candidate_recall, res->queries - res->found);
    printf("pairs:             %" PRIu64 " (query, candidate) pairs, %" PRIu64
           " positives\n",
           res->pairs, res->positives);
    printf("PRAUC:             %.4f\n", pr->prauc);
    if (isfinite(pr->best_threshold))
        printf("best F1:           %.4f at probability >= %.4g (precision "
               "%.4f, recall %.4f)\n",
               pr->best_f1, pr->best_threshold, pr->best_precision,
               pr->best_recall);
    else
        printf("best F1:           %.4f\n", pr->best_f1);
    if (isfinite(pr->p95_threshold))
        printf("recall@P95:        %.4f at probability >= %.4g\n",
               pr->recall_at_p95, pr->p95_threshold);
    else
        printf("recall@P95:        %.4f (precision 0.95 is never reached)\n",
               pr->recall_at_p95);
    printf("eval_seconds:      %.3f\n", res->eval_seconds);
    if (res->n_groups == 0)
        return;
    size_t width = 4;
    for (size_t i = 0; i < res->n_groups; i++) {
        size_t w = display_width(res->groups[i].name);
        if (w > width)
            width = w > 40 ? 40 : w;
    }
    printf("\nper entity type (left entity):\n");
    printf("  %-*s %8s %7s %7s %7s %7s %9s\n", (int)width, "type", "queries",
           "Hits@1", "Hits@5", "Hits@10", "MRR", "cand.rec");
    for (size_t i = 0; i < res->n_groups; i++) {
        const kga_eval_group_t *g = &res->groups[i];
        size_t w = display_width(g->name);
        printf("  %s%*s %8" PRIu64 " %7.4f %7.4f %7.4f %7.4f %9.4f\n",
               g->name, (int)(w < width ? width - w : 0), "",
               g->ranking.queries, g->ranking.hits_at_1, g->ranking.hits_at_5,
               g->ranking.hits_at_10, g->ranking.mrr, g->candidate_recall);
    }
}

/* What every evaluation report shows of the run: the data set, the model
 * and its version, the time taken. */
static kga_report_input_t report_input(const eval_args_t *args,
                                       const kga_aligner_t *a,
                                       const char *title, double seconds)
{
    return (kga_report_input_t){
        .title = title,
        .dataset = args->data_dir,
        .model = args->model,
        .model_version = kga_aligner_model_version(a),
        .eval_seconds = seconds,
    };
}

static int write_report(const eval_args_t *args, const kga_aligner_t *a,
                        const kga_eval_result_t *res, kga_err_t *err)
{
    kga_report_group_t *groups =
        calloc(res->n_groups ? res->n_groups : 1, sizeof *groups);
    if (groups == NULL)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    for (size_t i = 0; i < res->n_groups; i++) {
        groups[i].name = res->groups[i].name;
        groups[i].ranking = res->groups[i].ranking;
    }
    char k[32], counts[96];
    snprintf(k, sizeof k, "%zu", res->k);
    snprintf(counts, sizeof counts,
             "%" PRIu64 " queries, %" PRIu64 " pairs, %" PRIu64 " positives",
             res->queries, res->pairs, res->positives);
    const kga_report_note_t notes[] = {
        {"protocol", "closed: the split's left entities ranked against its "
                     "right entities (--open-world for the decisions on the "
                     "whole graph)"},
        {"split", split_label(args)},
        {"candidates per query (k)", k},
        {"counts", counts},
    };
    kga_report_input_t in =
        report_input(args, a, "kgalign evaluation", res->eval_seconds);
    in.direction = DIRECTION;
    in.ranking = &res->ranking;
    in.has_candidate_recall = 1;
    in.candidate_recall = res->candidate_recall;
    in.groups = groups;
    in.n_groups = res->n_groups;
    in.pairs = &res->classification;
    in.notes = notes;
    in.n_notes = KGA_COUNTOF(notes);
    int rc = kga_report_write_html(args->report, &in, err);
    free(groups);
    return rc;
}

/* Rows of the worst-errors table in the text, the JSON and the report. */
#define WORST_ROWS 20

static void print_open_world_text(const eval_args_t *args,
                                  const kga_aligner_t *a,
                                  const kga_owe_result_t *r,
                                  const size_t *worst, size_t n_worst)
{
    const kga_store_t *left = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *right = kga_aligner_store(a, KGA_SIDE_RIGHT);
    printf("data:              %s, gold links %s\n", args->data_dir,
           args->links != NULL ? args->links : kga_split_file(args->split));
    printf("model:             %s (version %s)\n", args->model,
           kga_aligner_model_version(a));
    printf("protocol:          open world: every left entity in no known "
           "link against all right entities in no known link\n");
    printf("queries:           %" PRIu64 ": %" PRIu64 " in a gold link, %"
           PRIu64 " in none (counted as without counterpart)\n",
           r->queries, r->with_counterpart, r->without_counterpart);
    if (r->gold_skipped > 0)
        printf("                   (%" PRIu64 " gold links of entities in "
               "known links left out)\n",
               r->gold_skipped);
    printf("threshold:         %.4g\n", r->threshold);
    printf("matches:           %" PRIu64 ", of which %" PRIu64 " right\n",
           r->matches, r->correct_matches);
    printf("precision:         %.4f\n", r->precision);
    printf("recall:            %.4f\n", r->recall);
    printf("F1:                %.4f\n", r->f1);
    if (isfinite(r->without_matched_share))
        printf("without counterpart, matched: %.4f (%" PRIu64 " of %" PRIu64
               ")\n",
               r->without_matched_share, r->without_matched,
               r->without_counterpart);
    printf("ECE:               %.4f\n", r->ece);
    printf("\ncalibration (all rows, matched or not):\n");
    printf("  %-12s %8s %10s %10s\n", "probability", "rows", "mean p",
           "correct");
    for (size_t b = 0; b < KGA_OWE_BINS; b++) {
        const kga_owe_bin_t *bin = &r->bins[b];
        char range[32];
        snprintf(range, sizeof range, "%g-%g", bin->lo, bin->hi);
        if (bin->rows > 0)
            printf("  %-12s %8" PRIu64 " %10.4f %10.4f\n", range, bin->rows,
                   bin->mean_probability, bin->share_correct);
        else
            printf("  %-12s %8d %10s %10s\n", range, 0, "-", "-");
    }
    if (n_worst > 0)
        printf("\nworst errors:\n");
    for (size_t i = 0; i < n_worst; i++) {
        const kga_owe_row_t *row = &r->rows[worst[i]];
        printf("  %.4f %-8s %s -> %s (counterpart: %s)\n",
               (double)row->probability, row->match ? "match" : "no-match",
               kga_store_entity_name(left, row->left),
               row->right != UINT32_MAX
                   ? kga_store_entity_name(right, row->right)
                   : "none",
               row->truth != UINT32_MAX
                   ? kga_store_entity_name(right, row->truth)
                   : "none");
    }
    printf("eval_seconds:      %.3f\n", r->seconds);
}

static int run_open_world(const eval_args_t *args, const kga_aligner_t *a,
                          const kga_pairs_t *links, kga_err_t *err)
{
    kga_owe_result_t r;
    size_t worst[WORST_ROWS], n_worst = 0;
    int rc = kga_owe_evaluate(a, links, &r, err);
    kga_cli_progress_done();
    if (rc != 0)
        return rc;
    n_worst = kga_owe_worst(&r, worst, WORST_ROWS);
    const kga_store_t *left = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *right = kga_aligner_store(a, KGA_SIDE_RIGHT);
    if (args->json) {
        char *json;
        size_t len;
        if (kga_owe_json_format(split_label(args),
                                kga_aligner_model_version(a), &r, left, right,
                                worst, n_worst, &json, &len) != 0) {
            rc = kga_err_set(err, KGA_ENOMEM, "out of memory");
            goto out;
        }
        emit_json(json, len);
    } else {
        print_open_world_text(args, a, &r, worst, n_worst);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        rc = kga_err_set(err, KGA_EIO, "writing the results: %s",
                         strerror(errno));
        goto out;
    }
    if (args->report != NULL) {
        kga_report_open_world_t ow = {&r, left, right, worst, n_worst};
        kga_report_input_t in = {
            .title = "kgalign evaluation: open world",
            .dataset = args->data_dir,
            .model = args->model,
            .open_world = &ow,
        };
        rc = kga_report_write_html(args->report, &in, err);
    }
out:
    kga_owe_result_destroy(&r);
    return rc;
}

static void print_pair_metrics_row(const char *name, int width,
                                   const kga_pair_metrics_t *m)
{
    printf("  %-*s %8" PRIu64 " %9" PRIu64 " %9.4f %7.4f %7.4f %7.4f %9.4f\n",
           width, name, m->pairs, m->positives, m->precision, m->recall,
           m->f1, m->ranked.prauc, m->ranked.recall_at_p95);
}

static void print_pairs_text(const eval_args_t *args, const kga_aligner_t *a,
                             const kga_pair_eval_result_t *r)
{
    const kga_pair_metrics_t *m = &r->all;
    printf("data:              %s, %s\n", args->data_dir,
           kga_split_pairs_file(args->split));
    printf("protocol:          labelled pairs: each row scored alone "
           "(--ranking for the ranking protocol on the links)\n");
    printf("model:             %s (version %s)\n", args->model,
           kga_aligner_model_version(a));
    printf("pairs:             %" PRIu64 " labelled, %" PRIu64
           " matches\n", m->pairs, m->positives);
    printf("threshold:         %.4g (the model's pair threshold)\n",
           r->threshold);
    printf("called a match:    %" PRIu64 ", of which %" PRIu64 " right\n",
           m->predicted, m->true_positives);
    printf("precision:         %.4f\n", m->precision);
    printf("recall:            %.4f\n", m->recall);
    printf("F1:                %.4f\n", m->f1);
    printf("PRAUC:             %.4f\n", m->ranked.prauc);
    printf("recall@P95:        %.4f\n", m->ranked.recall_at_p95);
    printf("best F1:           %.4f (at probability >= %.4g)\n",
           m->ranked.best_f1, m->ranked.best_threshold);
    printf("eval_seconds:      %.3f\n", r->eval_seconds);
    if (r->n_groups == 0)
        return;
    int width = 4;
    for (size_t i = 0; i < r->n_groups; i++) {
        size_t w = display_width(r->groups[i].name);
        if ((int)w > width)
            width = w > 40 ? 40 : (int)w;
    }
    printf("\nper entity type (left entity):\n");
    printf("  %-*s %8s %9s %9s %7s %7s %7s %9s\n", width, "type", "pairs",
           "matches", "precision", "recall", "F1", "PRAUC", "R@P95");
    for (size_t i = 0; i < r->n_groups; i++)
        print_pair_metrics_row(r->groups[i].name, width,
                               &r->groups[i].metrics);
}

/* The labelled-pair protocol on path (the split's pairs file). */
static int run_pairs(const eval_args_t *args, const kga_aligner_t *a,
                     const char *path, kga_err_t *err)
{
    kga_labelled_t rows;
    int rc = kga_labelled_read(path, kga_aligner_store(a, KGA_SIDE_LEFT),
                               kga_aligner_store(a, KGA_SIDE_RIGHT), &rows,
                               err);
    if (rc != 0)
        return rc;
    kga_pair_eval_result_t r;
    if (rows.count == 0) {
        kga_labelled_destroy(&rows);
        return kga_err_set(err, KGA_EINVAL, "%s: no pairs to evaluate",
                           path);
    }
    rc = kga_pair_evaluate(a, &rows, &r, err);
    kga_labelled_destroy(&rows);
    if (rc != 0)
        return rc;
    if (args->json) {
        char *json;
        size_t len;
        if (kga_pair_eval_json_format(kga_split_name(args->split),
                                      kga_aligner_model_version(a), &r, &json,
                                      &len) != 0) {
            rc = kga_err_set(err, KGA_ENOMEM, "out of memory");
            goto out;
        }
        emit_json(json, len);
    } else {
        print_pairs_text(args, a, &r);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        rc = kga_err_set(err, KGA_EIO, "writing the results: %s",
                         strerror(errno));
        goto out;
    }
    if (args->report != NULL) {
        char counts[96], at[160];
        snprintf(counts, sizeof counts,
                 "%" PRIu64 " labelled pairs, %" PRIu64 " matches",
                 r.all.pairs, r.all.positives);
        snprintf(at, sizeof at,
                 "precision %.4f, recall %.4f, F1 %.4f at probability >= "
                 "%.4g",
                 r.all.precision, r.all.recall, r.all.f1, r.threshold);
        const kga_report_note_t notes[] = {
            {"split", kga_split_name(args->split)},
            {"protocol", "labelled pairs"},
            {"counts", counts},
            {"decisions", at},
        };
        kga_report_input_t in =
            report_input(args, a, "kgalign evaluation: labelled pairs",
                         r.eval_seconds);
        in.pairs = &r.all.ranked;
        in.notes = notes;
        in.n_notes = KGA_COUNTOF(notes);
        rc = kga_report_write_html(args->report, &in, err);
    }
out:
    kga_pair_eval_result_destroy(&r);
    return rc;
}

int kga_cmd_eval(int argc, char **argv)
{
    eval_args_t args;
    int status = parse_args(argc, argv, &args);
    if (status >= 0)
        return status;

    char *links_path =
        args.links != NULL
            ? kga_xasprintf("%s", args.links)
            : kga_xasprintf("%s/%s", args.data_dir, kga_split_file(args.split));
    char *pairs_path = kga_xasprintf("%s/%s", args.data_dir,
                                     kga_split_pairs_file(args.split));
    kga_aligner_t *a = NULL;
    kga_pairs_t links = {0};
    kga_eval_result_t res = {0};
    kga_err_t err;
    kga_err_clear(&err);
    status = EXIT_FAIL;

    /* A missing links file is the likeliest mistake: say so before the
     * model is loaded, which can take long. */
    struct stat st;
    int pairs = !args.open_world && !args.ranking && args.links == NULL &&
                stat(pairs_path, &st) == 0;
    if (!pairs && stat(links_path, &st) != 0) {
        kga_cli_error(CMD, "%s: %s", links_path, strerror(errno));
        goto out;
    }
    kga_aligner_options_t opts = {.threads = args.threads, .threshold = -1,
                                  .search = args.search};
    if (kga_cli_open_aligner(CMD, args.data_dir, args.model, &opts, &a) != 0)
        goto out;
    if (pairs) {
        if (run_pairs(&args, a, pairs_path, &err) != 0) {
            kga_cli_error(CMD, "%s", err.msg);
            goto out;
        }
        status = EXIT_OK;
        goto out;
    }
    /* Resolved against the aligner's own stores: the ids are the model's. */
    if (kga_pairs_read(links_path, kga_aligner_store(a, KGA_SIDE_LEFT),
                       kga_aligner_store(a, KGA_SIDE_RIGHT), &links,
                       &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        goto out;
    }
    if (links.count == 0) {
        kga_cli_error(CMD, "%s: no links to evaluate", links_path);
        goto out;
    }
    if (args.open_world) {
        if (run_open_world(&args, a, &links, &err) != 0) {
            kga_cli_error(CMD, "%s", err.msg);
            goto out;
        }
        status = EXIT_OK;
        goto out;
    }
    int evaluated = kga_evaluate(a, &links, args.k, &res, &err);
    kga_cli_progress_done();
    if (evaluated != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        goto out;
    }
    if (args.json) {
        if (print_json(&args, a, &res, &err) != 0) {
            kga_cli_error(CMD, "%s", err.msg);
            goto out;
        }
    } else {
        print_text(&args, a, &res);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        kga_cli_error(CMD, "writing the results: %s", strerror(errno));
        goto out;
    }
    if (args.report != NULL && write_report(&args, a, &res, &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        goto out;
    }
    status = EXIT_OK;
out:
    kga_eval_result_destroy(&res);
    kga_pairs_destroy(&links);
    if (a != NULL)
        kga_aligner_close(a);
    free(links_path);
    free(pairs_path);
    return status;
}
