/* kgalign: entity alignment between knowledge graphs. This file only
 * dispatches to the subcommands in cli/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

#include "base/countof.h"

#define KGA_VERSION_STRING "0.1.0"

typedef struct {
    const char *name;
    kga_command_fn fn;
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"import", kga_cmd_import,
     "import two graphs (OpenEA or DBP15K layout) into graph stores"},
    {"add", kga_cmd_add,
     "add entities and triples to a store (its next generation)"},
    {"info", kga_cmd_info, "print the counts of a graph store"},
    {"synth", kga_cmd_synth, "generate a synthetic pair of graphs"},
    {"train", kga_cmd_train, "train the aligner from seed links"},
    {"eval", kga_cmd_eval, "evaluate a model on a split's links"},
    {"align", kga_cmd_align, "align every left entity, write matches"},
    {"serve", kga_cmd_serve, "serve a model over HTTP"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kgalign COMMAND [OPTIONS] ...\n\n"
            "Entity alignment between two knowledge graphs.\n\n"
            "Commands:\n");
    for (size_t i = 0; i < KGA_COUNTOF(commands); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'kgalign COMMAND --help' for the options of one "
                 "command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0) {
        printf("kgalign %s\n", KGA_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < KGA_COUNTOF(commands); i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "kgalign: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
