/* kgalign import: reads a benchmark pair of graphs and writes the stores and
 * link files (core/import/import.h does the work; this file parses options and
 * prints the summary). */
#include <inttypes.h>
#include <stdio.h>

#include "commands.h"
#include "base/countof.h"
#include "import/import.h"
#include "options.h"

#define CMD "import"

static void usage(FILE *out)
{
    fprintf(out,
"usage: kgalign import --format openea|dbp15k|records|ntriples SRC_DIR OUT_DIR\n"
"                      [OPTIONS]\n"
"\n"
"Imports two knowledge graphs (or two record tables) and their alignment\n"
"links into OUT_DIR (created when missing):\n"
"  left.kgs, right.kgs    graph stores of the first and second graph\n"
"  train_links.tsv, valid_links.tsv, test_links.tsv\n"
"                         one link per line, LEFT_ID<TAB>RIGHT_ID, with the\n"
"                         entities' external ids (URIs), sorted bytewise\n"
"  train_pairs.tsv, valid_pairs.tsv, test_pairs.tsv\n"
"                         labelled candidate pairs, LEFT<TAB>RIGHT<TAB>0|1,\n"
"                         for the splits whose input has labels and a 0\n"
"The output does not depend on the order of the input lines.\n"
"\n"
"Options:\n"
"  --format F              layout of SRC_DIR (required, see below): openea,\n"
"                          dbp15k, records or ntriples\n"
"  --name-predicate KEY    the attribute that holds names (repeatable, in\n"
"                          order of preference), for every format: a full\n"
"                          IRI, or a bare word that matches a key's local\n"
"                          name or a column (title, full_name)\n"
"  --name-column COL       records: the column that names the records\n"
"                          (default: chosen from the data, and printed)\n"
"  --entity-columns A,B    records: columns whose values are entities\n"
"                          (an artist, an album): each distinct value\n"
"                          becomes one node of type A, linked from every\n"
"                          record that has it by the relation A\n"
"  --fold K                OpenEA fold to use, 721_5fold/K (default %u)\n"
"  --seed S                seed of every random split (default %u)\n"
"  --valid-fraction F      share of the training links set aside as\n"
"                          validation links when the source has none\n"
"                          (DBP15K always; OpenEA without valid_links),\n"
"                          0 <= F < 1 (default %g)\n"
"  --lenient               skip malformed lines (records), links to unknown\n"
"                          entities and links that are not 1:1, and count\n"
"                          them per file, instead of failing on the first\n"
"  -h, --help              this text\n"
"\n"
"OpenEA layout (files tab-separated, UTF-8):\n"
"  rel_triples_1, rel_triples_2    head, relation, tail\n"
"  attr_triples_1, attr_triples_2  entity, key, literal (optional)\n"
"  ent_links                       all gold links (optional; its ids are\n"
"                                  entities even without triples)\n"
"  721_5fold/K/train_links, valid_links (optional), test_links\n"
"\n"
"DBP15K / GCN-Align id layout:\n"
"  ent_ids_1, ent_ids_2            numeric id, entity URI\n"
"  rel_ids_1, rel_ids_2            numeric id, relation URI (optional;\n"
"                                  without them relations are named by id)\n"
"  triples_1, triples_2            head id, relation id, tail id\n"
"  sup_pairs, ref_pairs            training and test links (id pairs), or\n"
"  ref_ent_ids                     all links, split 30%% training / 70%%\n"
"                                  test with the seed\n"
"  training_attrs_1, training_attrs_2\n"
"                                  URI, then attribute keys (optional)\n"
"The numeric ids only encode the files: the stores hold the URIs. Ids of\n"
"one ent_ids file that share a URI (SRPRS DBpedia-Wikidata) stay distinct\n"
"entities, URI#ID, named from the URI, with every link (a warning counts\n"
"them).\n"
"\n"
"Records layout (Magellan / DeepMatcher; RFC 4180 CSV, UTF-8):\n"
"  tableA.csv, tableB.csv          a header id,<columns>, one record a row;\n"
"                                  every other non-empty value is an\n"
"                                  attribute keyed by its column\n"
"  train.csv, valid.csv (optional), test.csv\n"
"                                  ltable_id,rtable_id[,label]: pairs of a\n"
"                                  tableA id and a tableB id, label 1 match\n"
"                                  or 0 non-match. A file with a 0 is a set\n"
"                                  of labelled pairs (all rows kept, the\n"
"                                  matches also links); a file without is\n"
"                                  a link set. Without valid.csv a share of\n"
"                                  train.csv becomes the validation split.\n"
"\n"
"N-Triples layout:\n"
"  left.nt, right.nt               RDF, one triple a line, gzip or plain\n"
"                                  (also left.nt.gz, right.nt.gz); IRIs and\n"
"                                  blank nodes are entities, literals\n"
"                                  attributes, rdf:type gives the type\n"
"  train_links, valid_links (optional), test_links (also *.tsv)\n"
"                                  LEFT<TAB>RIGHT[<TAB>LABEL], IRIs with or\n"
"                                  without <>\n"
"\n"
"Entity names come from the --name-predicate attributes, else from a label\n"
"attribute (rdfs:label, skos:prefLabel, foaf:name, ...: quotes, @lang and\n"
"^^type removed), else from the URI's last segment, percent-decoded, '_'\n"
"read as a space. The summary says which keys gave names, and warns when\n"
"none did. rdf:type triples and\n"
"attributes give entity types (the bytewise smallest when several) and are\n"
"not kept as relation triples. Duplicate triples are kept once and counted;\n"
"blank lines are ignored.\n"
"\n"
"Exit status: 0 success, 1 import failed (the message names the file and\n"
"line), 2 usage error.\n",
            KGA_IMPORT_DEFAULT_FOLD, KGA_IMPORT_DEFAULT_SEED,
            KGA_IMPORT_DEFAULT_VALID_FRACTION);
}

static int parse_format(const char *text, void *to)
{
    return kga_import_format_parse(text, to);
}

/* --name-predicate: appended, in order. */
static int parse_name_predicate(const char *text, void *to)
{
    kga_import_params_t *p = to;
    if (text[0] == '\0' || p->n_name_predicates == KGA_IMPORT_MAX_NAME_PREDICATES)
        return -1;
    p->name_predicates[p->n_name_predicates++] = text;
    return 0;
}

static void print_keys(const char *side, const kga_import_key_count_t *k,
                       unsigned n)
{
    printf("  %-6s", side);
    for (unsigned i = 0; i < n; i++)
        printf("%s %s (%" PRIu32 ")", i ? "," : "", k[i].key, k[i].entities);
    putchar('\n');
}

/* Which keys named the entities; a warning (stderr) for a graph where none
 * did, with the keys that look like names. */
static void print_names(const kga_import_summary_t *s)
{
    if (s->name_note[0] != '\0')
        printf("%s\n", s->name_note);
    int any = s->side[0].n_name_keys + s->side[1].n_name_keys > 0;
    if (any) {
        printf("names from:\n");
        print_keys("left", s->side[0].name_keys, s->side[0].n_name_keys);
        print_keys("right", s->side[1].name_keys, s->side[1].n_name_keys);
    }
    for (int k = 0; k < 2; k++) {
        const kga_import_side_t *side = &s->side[k];
        if (side->labelled > 0 || side->entities == 0)
            continue;
        fprintf(stderr,
                "kgalign import: warning: no attribute gave names to the %s "
                "graph%s: its names come from the ids (a URI's last "
                "segment)",
                k == 0 ? "left" : "right",
                side->attributes == 0 ? " (it has no attributes)" : "");
        if (side->n_name_hints > 0) {
            fprintf(stderr, "; keys that look like names:");
            for (unsigned i = 0; i < side->n_name_hints; i++)
                fprintf(stderr, "%s %s (%" PRIu32 " entities)", i ? "," : "",
                        side->name_hints[i].key,
                        side->name_hints[i].entities);
            fprintf(stderr, "; choose one with --name-predicate KEY");
        }
        fputc('\n', stderr);
    }
}

/* The range is half-open, which the table's [min, max] cannot say. */
static int parse_valid_fraction(const char *text, void *to)
{
    double v;
    if (kga_option_parse_double(text, 0, 1, &v) != 0 || v == 1)
        return -1;
    *(double *)to = v;
    return 0;
}

/* DBP15K ids that share a URI were kept apart as URI#ID: said on stderr,
 * since the stores then hold external ids the source files do not. */
static void warn_shared_uris(const kga_import_params_t *p,
                             const kga_import_summary_t *s)
{
    for (int side = 0; side < 2; side++) {
        const kga_import_side_t *g = &s->side[side];
        if (g->shared_uri_ids == 0)
            continue;
        fprintf(stderr,
                "kgalign import: warning: %" PRIu32 " ids of %s/ent_ids_%d "
                "share their URI with another id (e.g. %s); each is kept as "
                "an entity of its own, with the external id URI#ID, and "
                "every link to it is kept\n",
                g->shared_uri_ids, p->src_dir, side + 1,
                g->shared_uri_example);
    }
}

static void print_summary(const kga_import_params_t *p,
                          const kga_import_summary_t *s)
{
    const kga_import_side_t *l = &s->side[0], *r = &s->side[1];
    printf("imported %s %s -> %s\n", kga_import_format_name(p->format),
           p->src_dir, p->out_dir);
    printf("%-20s %12s %12s\n", "", "left", "right");
    printf("%-20s %12" PRIu32 " %12" PRIu32 "\n", "entities", l->entities,
           r->entities);
    printf("%-20s %12" PRIu32 " %12" PRIu32 "\n", "relations", l->relations,
           r->relations);
    printf("%-20s %12" PRIu64 " %12" PRIu64 "\n", "triples (distinct)",
           l->triples, r->triples);
    if (l->duplicate_triples + r->duplicate_triples > 0)
        printf("%-20s %12" PRIu64 " %12" PRIu64 "\n", "duplicates dropped",
               l->duplicate_triples, r->duplicate_triples);
    printf("%-20s %12" PRIu64 " %12" PRIu64 "\n", "attribute triples",
           l->attributes, r->attributes);
    printf("%-20s %12" PRIu32 " %12" PRIu32 "\n", "attribute keys",
           l->attr_keys, r->attr_keys);
    printf("%-20s %12" PRIu32 " %12" PRIu32 "\n", "types", l->types,
           r->types);
    if (l->type_triples + r->type_triples > 0)
        printf("%-20s %12" PRIu64 " %12" PRIu64 "\n", "type triples",
               l->type_triples, r->type_triples);
    printf("%-20s %12" PRIu32 " %12" PRIu32 "\n", "named entities", l->named,
           r->named);
    printf("%-20s %12" PRIu32 " %12" PRIu32 "\n", "  from labels",
           l->labelled, r->labelled);
    uint64_t training = s->train_links + s->valid_links;
    if (s->test_carved)
        printf("links: %" PRIu64 " split with seed %" PRIu64
               " into training and test\n",
               training + s->test_links, p->seed);
    if (s->valid_carved)
        printf("training links: %" PRIu64 " (%" PRIu64 " train + %" PRIu64
               " valid, seed %" PRIu64 ")\n",
               training, s->train_links, s->valid_links, p->seed);
    else
        printf("training links: %" PRIu64 " train, %" PRIu64 " valid\n",
               s->train_links, s->valid_links);
    printf("test links: %" PRIu64 "\n", s->test_links);
    static const char *const split[3] = {"train", "valid", "test"};
    for (int i = 0; i < 3; i++)
        if (s->pairs[i] > 0)
            printf("%s pairs: %" PRIu64 " labelled (%" PRIu64 " matches)%s\n",
                   split[i], s->pairs[i], s->pair_matches[i],
                   i == 1 && s->valid_carved ? ", drawn from the training "
                                               "pairs"
                                             : "");
    print_names(s);
    printf("skipped lines: %" PRIu64 "\n", s->skipped_lines);
    for (unsigned i = 0; i < s->file_count; i++)
        if (s->files[i].skipped > 0)
            printf("  %-30s %" PRIu64 " of %" PRIu64 " lines\n",
                   s->files[i].name, s->files[i].skipped, s->files[i].lines);
    printf("time: %.2f s (%.1f MB read)\n", s->seconds,
           (double)s->bytes_read / 1e6);
}

int kga_cmd_import(int argc, char **argv)
{
    kga_import_params_t p;
    kga_import_params_init(&p);
    const kga_option_t options[] = {
        KGA_OPTION_ARG("SRC_DIR", &p.src_dir),
        KGA_OPTION_ARG("OUT_DIR", &p.out_dir),
        KGA_OPTION_CHOICE("format", 0, &p.format, parse_format,
                          "openea, dbp15k, records or ntriples"),
        KGA_OPTION_U32("fold", 0, &p.fold, 1, 1000000),
        KGA_OPTION_U64("seed", 0, &p.seed, 0, UINT64_MAX),
        KGA_OPTION_CHOICE("valid-fraction", 0, &p.valid_fraction,
                          parse_valid_fraction, "a number in [0, 1)"),
        KGA_OPTION_FLAG("lenient", 0, &p.lenient),
        KGA_OPTION_CHOICE("name-predicate", 0, &p, parse_name_predicate,
                          "a key (at most 8 of them)"),
        KGA_OPTION_FILE("name-column", 0, &p.name_column),
        KGA_OPTION_FILE("entity-columns", 0, &p.entity_columns),
    };
    int status = kga_options_parse(CMD, usage, options,
                                   KGA_COUNTOF(options), argc, argv);
    if (status != KGA_OPTIONS_RUN)
        return status;
    if (p.format == 0)
        return kga_cli_usage_error(
            CMD, "--format openea|dbp15k|records|ntriples is required");
    if ((p.name_column != NULL || p.entity_columns != NULL) &&
        p.format != KGA_IMPORT_RECORDS)
        return kga_cli_usage_error(CMD, "--name-column and --entity-columns "
                                        "are for --format records");

    kga_import_summary_t summary;
    kga_err_t err;
    int rc = kga_import_run(&p, &summary, kga_cli_progress(), &err);
    kga_cli_progress_done();
    if (rc != 0) {
        kga_cli_error(CMD, "%s", err.msg[0] ? err.msg : kga_strerror(rc));
        if (summary.skipped_lines > 0)
            fprintf(stderr, "(%" PRIu64 " lines skipped before that)\n",
                    summary.skipped_lines);
        return 1;
    }
    print_summary(&p, &summary);
    warn_shared_uris(&p, &summary);
    return 0;
}
