/* kgalign train: fusion + GNN + calibration from a data directory's training
 * and validation links, written to a model file. */
#include <stdio.h>

#include "commands.h"
#include "base/countof.h"
#include "store/dataset.h"
#include "options.h"
#include "train/trainer.h"

static const char usage_text[] =
    "usage: kgalign train DATA_DIR -o MODEL [OPTIONS]\n"
    "\n"
    "Trains the aligner on DATA_DIR (as written by 'kgalign import': left.kgs,\n"
    "right.kgs, train_links.tsv, valid_links.tsv, and train_pairs.tsv,\n"
    "valid_pairs.tsv where there are labelled pairs) and writes MODEL. The\n"
    "test links and pairs are never read. The validation links decide\n"
    "whether the names are usable, when bootstrapping stops, and calibrate\n"
    "the probabilities; labelled validation pairs, where there are some,\n"
    "calibrate instead and set the pair threshold (best validation F1).\n"
    "\n"
    "Stages: fused names + seed-anchored structure with Sinkhorn\n"
    "normalisation and bootstrapping; per-attribute features (n-grams of each\n"
    "shared attribute and relation, numbers, dates and durations compared as\n"
    "values) weighed by a logistic regression on the training pairs; the\n"
    "CG-MuAlign graph neural network (cross-graph and relation-aware\n"
    "self-attention, fan-out weighted sampling, hinge loss with hard\n"
    "negatives) when the names are not used and both graphs have relations;\n"
    "the pair scorer; the open-world decision (match or no-match, fitted in\n"
    "a simulated open world on the validation links).\n"
    "\n"
    "Example:\n"
    "  kgalign import --format openea pair/ data/\n"
    "  kgalign train data/ -o data/model.kgm\n"
    "\n"
    "Options:\n"
    "  -o, --output MODEL       model file to write (required)\n"
    "      --features MODE      auto|names|ids|both (default auto: names are\n"
    "                           used when the validation links show them\n"
    "                           usable)\n"
    "      --gnn                always train the CG-MuAlign GNN (by default\n"
    "                           only when the validation links show the\n"
    "                           names unusable: where names carry the\n"
    "                           alignment it moved no metric on the shared\n"
    "                           benchmarks and took half of the time)\n"
    "      --epochs N           GNN epochs (default 5; 0 = no GNN)\n"
    "      --epoch-positives N  training links a GNN epoch walks at most, a\n"
    "                           new sample each epoch (default 65536; 0 = all)\n"
    "      --seed S             seed of every random choice (default 1)\n"
    "      --threads T          threads (default: all cores)\n"
    "      --rounds N           bootstrapping rounds after the first (default 3)\n"
    "      --dim D              width of each structural feature block (default\n"
    "                           128; the features are 10 blocks wide, and 16\n"
    "                           context blocks more where names are not used\n"
    "                           and the search is exact; a multiple of 16)\n"
    "      --search MODE        candidate search: auto (exact up to about\n"
    "                           60,000 entities a side), exact or approx\n"
    "      --times-json FILE    also write the table of where the time went\n"
    "                           (printed at the end) as JSON to FILE\n"
    "      --learned-names      GNN level 0 also learns hashed n-gram vectors\n"
    "                           (off by default: ten times slower per epoch)\n"
    "      --no-gnn             never train the GNN (ablation)\n"
    "      --no-cross-attention GNN without cross-graph attention (ablation)\n"
    "      --no-self-attention  GNN without self-attention (ablation)\n"
    "      --uniform-sampling   uniform neighbour sampling (ablation)\n"
    "      --no-hard-negatives  random negatives only (ablation)\n"
    "      --no-latin-form      names compared as written only, without their\n"
    "                           Latin form (ablation)\n"
    "      --no-context         structural features without their relational\n"
    "                           context blocks, where names are not used\n"
    "                           (ablation)\n"
    "  -h, --help               this text\n";

static void usage(FILE *out)
{
    fputs(usage_text, out);
}

static int parse_features(const char *text, void *to)
{
    return kga_features_parse(text, to);
}

/* Only an explicit --seed reaches the fusion and the GNN: without it they
 * keep seeds of their own (the structure's default is not 1). */
static int parse_seed(const char *text, void *to)
{
    kga_train_params_t *p = to;
    if (kga_option_parse_uint(text, 0, UINT64_MAX, &p->seed) != 0)
        return -1;
    p->fusion.structure.seed = p->seed;
    p->gnn.seed = p->seed;
    return 0;
}

/* Each training log line goes to stderr, timed from the start. */
static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    kga_cli_progress_done();
    fprintf(stderr, "train: %s\n", line);
}

/* Where the time went: every stage with its wall and CPU seconds (CPU
 * of all threads; on a loaded machine the two part ways), its share of
 * the wall time and the peak resident memory within it. */
static void print_times(const kga_timeline_t *t, double total)
{
    double cpu = 0.0, peak = 0.0;
    fprintf(stderr, "%-40s %9s %9s %6s %9s\n", "stage", "wall s", "cpu s",
            "share", "peak MB");
    for (size_t i = 0; i < t->n; i++) {
        const kga_timeline_entry_t *e = &t->entry[i];
        fprintf(stderr, "%-40s %9.1f %9.1f %5.1f%% %9.0f\n", e->name,
                e->wall, e->cpu, total > 0 ? 100.0 * e->wall / total : 0.0,
                e->peak_mb);
        cpu += e->cpu;
        if (e->peak_mb > peak)
            peak = e->peak_mb;
    }
    fprintf(stderr, "%-40s %9.1f %9.1f %6s %9.0f\n", "total", total, cpu, "",
            peak);
}

/* The same table as JSON (for bench/scale.sh); 0 or -1 when the file
 * cannot be written. */
static int write_times(const char *path, const kga_timeline_t *t,
                       double total)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "{\"seconds\": %.3f, \"stages\": [", total);
    for (size_t i = 0; i < t->n; i++) {
        const kga_timeline_entry_t *e = &t->entry[i];
        fprintf(f, "%s\n  {\"name\": \"%s\", \"wall_seconds\": %.3f, "
                   "\"cpu_seconds\": %.3f, \"peak_mb\": %.1f}",
                i ? "," : "", e->name, e->wall, e->cpu, e->peak_mb);
    }
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

static void print_report(const kga_train_report_t *r, const char *model)
{
    const kga_fusion_report_t *f = &r->fusion;
    print_times(&r->timeline, r->seconds);
    fprintf(stderr,
            "trained %s in %.1f s: fusion %.1f s (%u rounds, kept round %u, "
            "%s search), GNN %.1f s (%u epochs), ",
            model, r->seconds, f->seconds, f->n_rounds, f->best_round + 1,
            f->approx ? "approximate" : "exact", r->gnn_seconds,
            r->epochs_run);
    if (r->labelled)
        fprintf(stderr, "validation F1 %.4f at the pair threshold %.4g\n",
                r->valid_f1, r->pair_threshold);
    else
        fprintf(stderr, "validation Hits@1 %.4f\n", r->valid_hits1);
}

int kga_cmd_train(int argc, char **argv)
{
    kga_train_params_t p;
    kga_train_params_init(&p);
    p.log = log_line;
    const char *dir = NULL, *model = NULL, *times = NULL;
    int learned_names = 0, gnn = 0, no_gnn = 0, no_cross = 0, no_self = 0,
        no_hard = 0, no_latin = 0, no_context = 0;
    int search = KGA_SEARCH_AUTO;
    const kga_option_t options[] = {
        KGA_OPTION_ARG("DATA_DIR", &dir),
        KGA_OPTION_FILE("output", 'o', &model),
        KGA_OPTION_CHOICE("features", 0, &p.features, parse_features,
                          "one of auto, names, ids, both"),
        KGA_OPTION_U32("epochs", 0, &p.epochs, 0, 1000),
        KGA_OPTION_U32("epoch-positives", 0, &p.epoch_positives, 0,
                       UINT32_MAX),
        KGA_OPTION_CHOICE("seed", 0, &p, parse_seed, "a non-negative integer"),
        KGA_OPTION_INT("threads", 0, &p.threads, 1, 256),
        KGA_OPTION_U32("rounds", 0, &p.fusion.rounds, 0,
                       KGA_FUSION_MAX_ROUNDS - 1),
        KGA_OPTION_CHOICE("search", 0, &search, kga_cli_parse_search,
                          "one of auto, exact, approx"),
        KGA_OPTION_U32("dim", 0, &p.fusion.structure.dim, 2,
                       KGA_STRUCTURE_MAX_DIM),
        KGA_OPTION_FILE("times-json", 0, &times),
        KGA_OPTION_FLAG("learned-names", 0, &learned_names),
        KGA_OPTION_FLAG("gnn", 0, &gnn),
        KGA_OPTION_FLAG("no-gnn", 0, &no_gnn),
        KGA_OPTION_FLAG("no-cross-attention", 0, &no_cross),
        KGA_OPTION_FLAG("no-self-attention", 0, &no_self),
        KGA_OPTION_FLAG("uniform-sampling", 0, &p.gnn.uniform_sampling),
        KGA_OPTION_FLAG("no-hard-negatives", 0, &no_hard),
        KGA_OPTION_FLAG("no-latin-form", 0, &no_latin),
        KGA_OPTION_FLAG("no-context", 0, &no_context),
    };
    int status = kga_options_parse("train", usage, options,
                                   KGA_COUNTOF(options), argc, argv);
    if (status != KGA_OPTIONS_RUN)
        return status;
    if (model == NULL)
        return kga_cli_usage_error("train", "missing -o MODEL");
    p.fusion.search = (kga_search_t)search;
    if (learned_names)
        p.gnn.dim_name = kga_gnn_config_default().dim_name;
    if (no_cross)
        p.gnn.cross_attention = 0;
    if (no_self)
        p.gnn.self_attention = 0;
    if (no_hard)
        p.gnn.hard_negatives = 0;
    if (no_latin)
        p.fusion.names.translit = 0;
    if (no_context)
        p.fusion.structure.context_blocks = 0;
    if (gnn && no_gnn)
        return kga_cli_usage_error("train", "--gnn and --no-gnn contradict "
                                            "each other");
    if (gnn)
        p.use_gnn = KGA_GNN_ON;
    if (no_gnn || p.epochs == 0)
        p.use_gnn = KGA_GNN_OFF;
    kga_err_t err;
    kga_err_clear(&err);
    kga_dataset_t ds;
    if (kga_dataset_open(&ds, dir,
                         KGA_SPLIT_BIT(KGA_SPLIT_TRAIN) |
                             KGA_SPLIT_BIT(KGA_SPLIT_VALID),
                         &err) != 0) {
        kga_cli_error("train", "%s", err.msg);
        return 1;
    }
    kga_train_report_t report;
    int rc = kga_train(&ds, &p, model, kga_cli_progress(), &report, &err);
    kga_cli_progress_done();
    kga_dataset_close(&ds);
    if (rc != 0) {
        kga_cli_error("train", "%s", err.msg[0] ? err.msg : kga_strerror(rc));
        return 1;
    }
    print_report(&report, model);
    if (times != NULL && write_times(times, &report.timeline,
                                     report.seconds) != 0) {
        kga_cli_error("train", "%s: cannot write the time table", times);
        return 1;
    }
    return 0;
}
