/* kgalign train: fusion + GNN + calibration from a data directory's training
 * and validation links, written to a model file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "dataset.h"
#include "trainer.h"

static const char usage_text[] =
    "usage: kgalign train DATA_DIR -o MODEL [OPTIONS]\n"
    "\n"
    "Trains the aligner on DATA_DIR (as written by 'kgalign import': left.kgs,\n"
    "right.kgs, train_links.tsv, valid_links.tsv) and writes MODEL. The test\n"
    "links are never read. The validation links decide whether the names are\n"
    "usable, when bootstrapping stops, and calibrate the probabilities.\n"
    "\n"
    "Stages: fused names + seed-anchored structure with Sinkhorn\n"
    "normalisation and bootstrapping; the CG-MuAlign graph neural network\n"
    "(cross-graph and relation-aware self-attention, fan-out weighted\n"
    "sampling, hinge loss with hard negatives); a calibrated final scorer.\n"
    "\n"
    "Options:\n"
    "  -o, --output MODEL       model file to write (required)\n"
    "      --features MODE      auto|names|ids|both (default auto: names are\n"
    "                           used when the validation links show them\n"
    "                           usable)\n"
    "      --epochs N           GNN epochs (default 5; 0 = no GNN training)\n"
    "      --seed S             seed of every random choice (default 1)\n"
    "      --threads T          threads (default: all cores)\n"
    "      --rounds N           bootstrapping rounds after the first (default 3)\n"
    "      --learned-names      GNN level 0 also learns hashed n-gram vectors\n"
    "                           (off by default: ten times slower per epoch)\n"
    "      --no-gnn             fused scorer only (ablation)\n"
    "      --no-cross-attention GNN without cross-graph attention (ablation)\n"
    "      --no-self-attention  GNN without self-attention (ablation)\n"
    "      --uniform-sampling   uniform neighbour sampling (ablation)\n"
    "      --no-hard-negatives  random negatives only (ablation)\n"
    "  -h, --help               this text\n";

enum {
    OPT_FEATURES = 256,
    OPT_EPOCHS,
    OPT_SEED,
    OPT_THREADS,
    OPT_ROUNDS,
    OPT_NO_GNN,
    OPT_LEARNED_NAMES,
    OPT_NO_CROSS,
    OPT_NO_SELF,
    OPT_UNIFORM,
    OPT_NO_HARD,
};

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"features", required_argument, NULL, OPT_FEATURES},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"rounds", required_argument, NULL, OPT_ROUNDS},
    {"no-gnn", no_argument, NULL, OPT_NO_GNN},
    {"learned-names", no_argument, NULL, OPT_LEARNED_NAMES},
    {"no-cross-attention", no_argument, NULL, OPT_NO_CROSS},
    {"no-self-attention", no_argument, NULL, OPT_NO_SELF},
    {"uniform-sampling", no_argument, NULL, OPT_UNIFORM},
    {"no-hard-negatives", no_argument, NULL, OPT_NO_HARD},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parses an unsigned decimal within [min, max]; 0 or -1 with a message. */
static int parse_u64(const char *opt, const char *text, unsigned long long min,
                     unsigned long long max, unsigned long long *out)
{
    char *end;
    if (text[0] < '0' || text[0] > '9')
        goto bad;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0' || v < min || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    kga_cli_error("train", "--%s: '%s' is not a whole number within [%llu, %llu]",
                  opt, text, min, max);
    return -1;
}

/* Each training log line goes to stderr, timed from the start. */
static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    kga_cli_progress_done();
    fprintf(stderr, "train: %s\n", line);
}

static void print_report(const kga_train_report_t *r, const char *model)
{
    const kga_fusion_report_t *f = &r->fusion;
    fprintf(stderr,
            "trained %s in %.1f s: fusion %.1f s (%u rounds, kept round %u), "
            "GNN %.1f s (%u epochs), validation Hits@1 %.4f\n",
            model, r->seconds, f->seconds, f->n_rounds, f->best_round + 1,
            r->gnn_seconds, r->epochs_run, r->valid_hits1);
}

int kga_cmd_train(int argc, char **argv)
{
    kga_train_params_t p;
    kga_train_params_init(&p);
    p.log = log_line;
    const char *model = NULL;
    unsigned long long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", options, NULL)) != -1) {
        switch (c) {
        case 'o':
            model = optarg;
            break;
        case OPT_FEATURES:
            if (kga_features_parse(optarg, &p.features) != 0) {
                kga_cli_error("train", "--features: '%s' is not one of "
                                       "auto, names, ids, both", optarg);
                return 2;
            }
            break;
        case OPT_EPOCHS:
            if (parse_u64("epochs", optarg, 0, 1000, &v))
                return 2;
            p.epochs = (uint32_t)v;
            break;
        case OPT_SEED:
            if (parse_u64("seed", optarg, 0, UINT64_MAX, &v))
                return 2;
            p.seed = v;
            p.fusion.structure.seed = v;
            p.gnn.seed = v;
            break;
        case OPT_THREADS:
            if (parse_u64("threads", optarg, 1, 256, &v))
                return 2;
            p.threads = (int)v;
            break;
        case OPT_ROUNDS:
            if (parse_u64("rounds", optarg, 0, KGA_FUSION_MAX_ROUNDS - 1, &v))
                return 2;
            p.fusion.rounds = (uint32_t)v;
            break;
        case OPT_NO_GNN:
            p.use_gnn = 0;
            break;
        case OPT_LEARNED_NAMES:
            p.gnn.dim_name = kga_gnn_config_default().dim_name;
            break;
        case OPT_NO_CROSS:
            p.gnn.cross_attention = 0;
            break;
        case OPT_NO_SELF:
            p.gnn.self_attention = 0;
            break;
        case OPT_UNIFORM:
            p.gnn.uniform_sampling = 1;
            break;
        case OPT_NO_HARD:
            p.gnn.hard_negatives = 0;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case ':':
            kga_cli_error("train", "%s needs a value", argv[optind - 1]);
            return 2;
        default:
            kga_cli_error("train", "unknown option '%s'\nTry 'kgalign train --help'.",
                          argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1 || model == NULL) {
        kga_cli_error("train", "%s\nTry 'kgalign train --help'.",
                      optind >= argc ? "missing DATA_DIR"
                      : model == NULL ? "missing -o MODEL"
                                      : "more than one DATA_DIR");
        return 2;
    }
    if (p.epochs == 0)
        p.use_gnn = 0;
    const char *dir = argv[optind];
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
    return 0;
}
