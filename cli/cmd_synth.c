/* kgalign synth: writes a synthetic pair of graphs in the OpenEA layout. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "base/countof.h"
#include "options.h"
#include "synth/synth.h"

#define CMD "synth"
#define EXIT_OK 0
#define EXIT_FAIL 1

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

/* Seeds are often written in hex, so --seed takes 0x too (its help says
 * so); every other integer option is decimal only. */
static int parse_seed(const char *text, void *to)
{
    if (text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
        return kga_option_parse_uint(text, 0, UINT64_MAX, to);
    const char *hex = text + 2;
    if (hex[0] == '\0' || hex[strspn(hex, "0123456789abcdefABCDEF")] != '\0')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(hex, NULL, 16);
    if (errno != 0)
        return -1;
    *(uint64_t *)to = v;
    return 0;
}

/* Returns -1 to continue, or an exit status (help printed, usage error). */
static int parse_args(int argc, char **argv, kga_synth_params_t *p,
                      const char **out_dir)
{
    *out_dir = NULL;
    const kga_option_t options[] = {
        KGA_OPTION_ARG("OUT_SRC_DIR", out_dir),
        KGA_OPTION_U64("entities", 0, &p->entities, KGA_SYNTH_MIN_ENTITIES,
                       KGA_SYNTH_MAX_ENTITIES),
        KGA_OPTION_CHOICE("seed", 0, &p->seed, parse_seed,
                          "a non-negative integer"),
        KGA_OPTION_DOUBLE("one-sided", 0, &p->one_sided, 0,
                          KGA_SYNTH_MAX_ONE_SIDED),
        KGA_OPTION_DOUBLE("edge-drop", 0, &p->edge_drop, 0, 1),
        KGA_OPTION_DOUBLE("name-noise", 0, &p->name_noise, 0, 1),
        KGA_OPTION_DOUBLE("year-missing", 0, &p->year_missing, 0, 1),
    };
    return kga_options_parse(CMD, usage, options,
                             KGA_COUNTOF(options), argc, argv);
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
    if (kga_synth_params_check(&p, &err) != 0)
        return kga_cli_usage_error(CMD, "%s", err.msg);
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
