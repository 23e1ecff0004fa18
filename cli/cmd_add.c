/* kgalign add: new entities and triples for one graph of a data directory,
 * written as the store's next generation (core/import/import_add.h does the
 * work; this file parses options and prints what was added). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "base/countof.h"
#include "commands.h"
#include "import/import_add.h"
#include "options.h"

#define CMD "add"

static void usage(FILE *out)
{
    fprintf(out,
"usage: kgalign add DATA_DIR --side left|right --triples FILE\n"
"                   [--attributes FILE]\n"
"\n"
"Adds entities, triples and attributes to one graph of DATA_DIR (as\n"
"'kgalign import' wrote it), in the OpenEA line format of the importer:\n"
"  --triples FILE      head<TAB>relation<TAB>tail\n"
"  --attributes FILE   entity<TAB>key<TAB>literal (the rest of the line)\n"
"\n"
"The result is the store's next generation: DATA_DIR/left.kgs (or\n"
"right.kgs) is written beside the old file and renamed over it, so a\n"
"process reading the old one keeps it until it reopens ('kgalign serve'\n"
"on SIGHUP or POST /admin/reload). The entities already there keep\n"
"their ids, names and types; an entity of the store named in a file\n"
"gains the triples and attributes. New entities are named and typed as\n"
"the importer does (label attributes, else the URI; rdf:type).\n"
"\n"
"A model trained on an earlier generation stays valid: 'kgalign eval',\n"
"'align' and 'serve' score the new entities from their names and\n"
"neighbours without retraining. Relations are part of what a model\n"
"knows, so a triple whose relation is not in the store is skipped and\n"
"counted; to use a new relation, import again and train.\n"
"\n"
"Options:\n"
"  --side left|right   the graph to add to (required)\n"
"  --triples FILE      relation triples\n"
"  --attributes FILE   attribute triples (at least one of the two files)\n"
"  -h, --help          this text\n"
"\n"
"Exit status: 0 success, 1 failure (a malformed line is named by file and\n"
"line, and nothing is written), 2 usage error.\n");
}

static int parse_side(const char *text, void *to)
{
    if (strcmp(text, "left") != 0 && strcmp(text, "right") != 0)
        return -1;
    *(const char **)to = text;
    return 0;
}

static void print_summary(const char *store, const kga_add_summary_t *s)
{
    printf("added to %s: generation %" PRIu32 "\n", store, s->generation);
    printf("%-20s %12s %12s %12s\n", "", "before", "after", "added");
    printf("%-20s %12" PRIu32 " %12" PRIu32 " %12" PRIu32 "\n", "entities",
           s->entities_before, s->entities, s->entities - s->entities_before);
    printf("%-20s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", "triples",
           s->triples_before, s->triples, s->triples - s->triples_before);
    printf("%-20s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n",
           "attribute triples", s->attributes_before, s->attributes,
           s->attributes - s->attributes_before);
    printf("entities of the store given more: %" PRIu32 "\n", s->touched);
    if (s->duplicates > 0)
        printf("triples it had already: %" PRIu64 "\n", s->duplicates);
    if (s->unknown_relations > 0)
        printf("skipped: %" PRIu64 " triples whose relation is not in the "
               "store (a new relation needs 'kgalign import' and 'kgalign "
               "train')\n",
               s->unknown_relations);
    printf("time: %.2f s (%" PRIu64 " lines)\n", s->seconds, s->lines);
}

int kga_cmd_add(int argc, char **argv)
{
    const char *data_dir = NULL, *side = NULL;
    kga_add_params_t p = {0};
    const kga_option_t options[] = {
        KGA_OPTION_ARG("DATA_DIR", &data_dir),
        KGA_OPTION_CHOICE("side", 0, &side, parse_side, "left or right"),
        KGA_OPTION_FILE("triples", 0, &p.triples),
        KGA_OPTION_FILE("attributes", 0, &p.attributes),
    };
    int status = kga_options_parse(CMD, usage, options,
                                   KGA_COUNTOF(options), argc, argv);
    if (status != KGA_OPTIONS_RUN)
        return status;
    if (side == NULL)
        return kga_cli_usage_error(CMD, "--side left|right is required");
    if (p.triples == NULL && p.attributes == NULL)
        return kga_cli_usage_error(CMD,
                                   "--triples or --attributes is required");
    char *store = kga_xasprintf("%s/%s.kgs", data_dir, side);
    p.store = store;
    kga_add_summary_t summary;
    kga_err_t err;
    int rc = kga_add_run(&p, &summary, &err);
    if (rc != 0)
        kga_cli_error(CMD, "%s", err.msg[0] ? err.msg : kga_strerror(rc));
    else
        print_summary(store, &summary);
    free(store);
    return rc != 0;
}
