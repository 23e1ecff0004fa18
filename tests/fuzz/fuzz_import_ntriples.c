/* Fuzzes the import of the N-Triples layout (left.nt, right.nt, plain or
 * gzip, and train_links, valid_links, test_links with optional labels)
 * through kga_import_run(): the input is a source directory in the format
 * described in fuzz_import.h, with its oracles. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_import.h"

static int fuzz_import_ntriples_one(const uint8_t *data, size_t size)
{
    return fuzz_import_one(KGA_IMPORT_NTRIPLES, data, size);
}

KGA_FUZZ_ENTRY(fuzz_import_ntriples_one)
