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

#ifndef KGA_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_import_ntriples_one(data, size) != 0)
        abort();
    return 0;
}
#endif
