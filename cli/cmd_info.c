/* `kgalign info STORE [--json]`: the counts of a graph store. Opening the
 * store validates it fully, so this is also the way to check a file. */
#include <inttypes.h>
#include <stdio.h>

#include "commands.h"
#include "base/countof.h"
#include "options.h"
#include "store/store.h"

#define CMD "info"

static void info_usage(FILE *out)
{
    fprintf(out,
            "usage: kgalign info STORE [--json]\n\n"
            "Opens a graph store written by 'kgalign import', checks its\n"
            "checksum and every structural invariant, and prints its counts:\n"
            "entities, relations, triples, attribute triples, types,\n"
            "attribute keys, size in bytes, format version, generation (1 when\n"
            "imported, one more after each 'kgalign add') and fingerprint\n"
            "(the content checksum that model files record).\n\n"
            "Options:\n"
            "  --json      print one JSON object instead of text\n"
            "  -h, --help  show this help\n\n"
            "Exit status: 0 when the store is valid, 1 when it cannot be\n"
            "opened or is damaged, 2 on a usage error.\n");
}

static void print_text(const kga_store_t *s)
{
    printf("store:             %s\n", kga_store_path(s));
    printf("entities:          %" PRIu32 "\n", kga_store_entity_count(s));
    printf("relations:         %" PRIu32 "\n", kga_store_relation_count(s));
    printf("triples:           %" PRIu64 "\n", kga_store_triple_count(s));
    printf("attribute triples: %" PRIu64 "\n", kga_store_attribute_count(s));
    printf("types:             %" PRIu32 "\n", kga_store_type_count(s));
    printf("attribute keys:    %" PRIu32 "\n", kga_store_attr_key_count(s));
    printf("bytes:             %" PRIu64 "\n", kga_store_byte_size(s));
    printf("version:           %" PRIu32 "\n", kga_store_version(s));
    printf("generation:        %" PRIu32 "\n", kga_store_generation(s));
    printf("fingerprint:       %016" PRIx64 "\n", kga_store_fingerprint(s));
}

/* Writes s as a JSON string body: quotes, backslashes and control bytes
 * escaped; other bytes (UTF-8) pass through. */
static void print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_json(const kga_store_t *s)
{
    printf("{\"path\": ");
    print_json_string(kga_store_path(s));
    printf(", \"entities\": %" PRIu32, kga_store_entity_count(s));
    printf(", \"relations\": %" PRIu32, kga_store_relation_count(s));
    printf(", \"triples\": %" PRIu64, kga_store_triple_count(s));
    printf(", \"attribute_triples\": %" PRIu64, kga_store_attribute_count(s));
    printf(", \"types\": %" PRIu32, kga_store_type_count(s));
    printf(", \"attribute_keys\": %" PRIu32, kga_store_attr_key_count(s));
    printf(", \"bytes\": %" PRIu64, kga_store_byte_size(s));
    printf(", \"version\": %" PRIu32, kga_store_version(s));
    printf(", \"generation\": %" PRIu32, kga_store_generation(s));
    /* A string: 64-bit values do not survive JSON readers that use doubles. */
    printf(", \"fingerprint\": \"%016" PRIx64 "\"}\n",
           kga_store_fingerprint(s));
}

int kga_cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    const kga_option_t options[] = {
        KGA_OPTION_ARG("STORE", &path),
        KGA_OPTION_FLAG("json", 0, &json),
    };
    int status = kga_options_parse(CMD, info_usage, options,
                                   KGA_COUNTOF(options), argc, argv);
    if (status != KGA_OPTIONS_RUN)
        return status;
    kga_store_t *s;
    kga_err_t err;
    /* The message already starts with the path. */
    if (kga_store_open(path, &s, &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        return 1;
    }
    if (json)
        print_json(s);
    else
        print_text(s);
    kga_store_close(s);
    return 0;
}
