/* Fuzzes the import of the OpenEA layout (rel_triples_{1,2},
 * attr_triples_{1,2}, ent_links, 721_5fold/1/{train,valid,test}_links)
 * through kga_import_run(): the input is a source directory in the format
 * described in fuzz_import.h, with its oracles. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_import.h"

static int fuzz_import_openea_one(const uint8_t *data, size_t size)
{
    return fuzz_import_one(KGA_IMPORT_OPENEA, data, size);
}

KGA_FUZZ_ENTRY(fuzz_import_openea_one)
