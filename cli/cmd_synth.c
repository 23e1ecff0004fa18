/* kgalign synth: writes a synthetic pair of graphs in the OpenEA layout. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "synth.h"

#define CMD "synth"
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kgalign synth [OPTIONS] OUT_SRC_DIR\n"
            "\n"
            "Generates one synthetic world of films, people, characters and "
            "genres and\n"
            "writes two noisy views of it into OUT_SRC_DIR in the OpenEA "
            "layout:\n"
            "rel_triples_1/2, attr_triples_1/2, ent_links, "
            "721_5fold/1..5/{train,valid,test}_links\n"
            "and README.txt (counts and parameters). OUT_SRC_DIR is created "
            "when missing.\n"
            "The same options give byte-identical files.\n"
            "\n"
            "Options:\n"
            "  --entities N      entities in the world, about the size of "
            "each graph;\n"
            "                    %u to %u (default %u)\n"
            "  --seed S          random seed, any integer from 0 to 2^64-1, "
            "decimal or 0x hex\n"
            "                    (default %u)\n"
            "  --one-sided P     share of each graph's entities that the "
            "other lacks,\n"
            "                    0 to %g (default %g)\n"
            "  --edge-drop P     chance that a graph leaves out an edge, 0 "
            "to 1 (default %g)\n"
            "  --name-noise P    chance that a name in graph 2 is a variant "
            "(typo, accents,\n"
            "                    middle name, \"The\", \"Jr.\", case), 0 to 1 "
            "(default %g)\n"
            "  --year-missing P  chance that a graph leaves out a known "
            "year, 0 to 1\n"
            "                    (default %g)\n"
            "  -h, --help        show this help\n"
            "\n"
            "Progress goes to stderr when it is a terminal "
            "(KGALIGN_PROGRESS=1 forces it).\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n",
            KGA_SYNTH_MIN_ENTITIES, KGA_SYNTH_MAX_ENTITIES,
            KGA_SYNTH_DEFAULT_ENTITIES, KGA_SYNTH_DEFAULT_SEED,
            KGA_SYNTH_MAX_ONE_SIDED, KGA_SYNTH_DEFAULT_ONE_SIDED,
            KGA_SYNTH_DEFAULT_EDGE_DROP, KGA_SYNTH_DEFAULT_NAME_NOISE,
            KGA_SYNTH_DEFAULT_YEAR_MISSING);
}

static int usage_error(void)
{
    fprintf(stderr, "Try 'kgalign synth --help'.\n");
    return EXIT_USAGE;
}

/* Whole-string unsigned 64-bit integer, decimal or 0x hex; no sign. */
static int parse_u64(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (s[0] == '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_share(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || errno != 0 || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

typedef enum { OPT_U64, OPT_SHARE } opt_kind_t;

typedef struct {
    const char *name;
    opt_kind_t kind;
    size_t offset; /* of the field in kga_synth_params_t */
    double min, max;
} option_t;

static const option_t options[] = {
    {"--entities", OPT_U64, offsetof(kga_synth_params_t, entities),
     KGA_SYNTH_MIN_ENTITIES, KGA_SYNTH_MAX_ENTITIES},
    {"--seed", OPT_U64, offsetof(kga_synth_params_t, seed), 0,
     (double)UINT64_MAX},
    {"--one-sided", OPT_SHARE, offsetof(kga_synth_params_t, one_sided), 0,
     KGA_SYNTH_MAX_ONE_SIDED},
    {"--edge-drop", OPT_SHARE, offsetof(kga_synth_params_t, edge_drop), 0,
     1},
    {"--name-noise", OPT_SHARE, offsetof(kga_synth_params_t, name_noise), 0,
     1},
    {"--year-missing", OPT_SHARE,
     offsetof(kga_synth_params_t, year_missing), 0, 1},
};

static const option_t *find_option(const char *arg, size_t len)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strlen(options[i].name) == len &&
            strncmp(options[i].name, arg, len) == 0)
            return &options[i];
    return NULL;
}

static int set_option(const option_t *opt, const char *value,
                      kga_synth_params_t *p)
{
    char *field = (char *)p + opt->offset;
    uint64_t *as_u64 = (uint64_t *)(void *)field;
    double *as_double = (double *)(void *)field;
    int rc = opt->kind == OPT_U64 ? parse_u64(value, as_u64)
                                  : parse_share(value, as_double);
    if (rc != 0) {
        kga_cli_error(CMD, "%s: '%s' is not %s", opt->name, value,
                      opt->kind == OPT_U64 ? "a non-negative integer"
                                           : "a number");
        return rc;
    }
    double v = opt->kind == OPT_U64 ? (double)*as_u64 : *as_double;
    if (v < opt->min || v > opt->max) {
        kga_cli_error(CMD, "%s: %s is not within [%.15g, %.15g]", opt->name,
                      value, opt->min, opt->max);
        return -1;
    }
    return 0;
}

/* Returns -1 to continue, or an exit status (help printed, usage error). */
static int parse_args(int argc, char **argv, kga_synth_params_t *p,
                      const char **out_dir)
{
    *out_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            if (*out_dir != NULL) {
                kga_cli_error(CMD, "more than one output directory: '%s' "
                                   "and '%s'", *out_dir, arg);
                return usage_error();
            }
            *out_dir = arg;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        const option_t *opt = find_option(arg, name_len);
        if (opt == NULL) {
            kga_cli_error(CMD, "unknown option '%.*s'", (int)name_len, arg);
            return usage_error();
        }
        const char *value = eq != NULL ? eq + 1 : NULL;
        if (value == NULL && ++i < argc)
            value = argv[i];
        if (value == NULL) {
            kga_cli_error(CMD, "%s needs a value", opt->name);
            return usage_error();
        }
        if (set_option(opt, value, p) != 0)
            return usage_error();
    }
    if (*out_dir == NULL) {
        kga_cli_error(CMD, "missing OUT_SRC_DIR");
        return usage_error();
    }
    return -1;
}

static void print_summary(const char *dir, const kga_synth_stats_t *st)
{
    printf("wrote %s (%.1f MB)\n", dir, (double)st->bytes / 1e6);
    for (int side = 0; side < 2; side++)
        printf("  graph %d: %llu entities (%llu one-sided), %llu relation "
               "triples, %llu attribute triples\n",
               side + 1, (unsigned long long)st->entities[side],
               (unsigned long long)st->one_sided[side],
               (unsigned long long)st->rel_triples[side],
               (unsigned long long)st->attr_triples[side]);
    printf("  links: %llu (%llu with different names); per fold: train "
           "%llu, valid %llu, test %llu\n",
           (unsigned long long)st->links,
           (unsigned long long)st->name_variants,
           (unsigned long long)st->fold_train,
           (unsigned long long)st->fold_valid,
           (unsigned long long)st->fold_test);
}

int kga_cmd_synth(int argc, char **argv)
{
    kga_synth_params_t p;
    kga_synth_params_init(&p);
    const char *out_dir;
    int status = parse_args(argc, argv, &p, &out_dir);
    if (status >= 0)
        return status;
    kga_err_t err;
    kga_err_clear(&err);
    if (kga_synth_params_check(&p, &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        return usage_error();
    }
    kga_synth_stats_t stats;
    int rc = kga_synth_generate(&p, out_dir, kga_cli_progress(), &stats,
                                &err);
    kga_cli_progress_done();
    if (rc != 0) {
        kga_cli_error(CMD, "%s", err.msg[0] != '\0' ? err.msg
                                                    : kga_strerror(rc));
        return EXIT_FAIL;
    }
    print_summary(out_dir, &stats);
    return EXIT_OK;
}
