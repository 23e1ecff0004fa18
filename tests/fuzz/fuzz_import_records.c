/* Fuzzes the import of the records layout (tableA.csv, tableB.csv,
 * train.csv, valid.csv, test.csv: RFC 4180 CSV, labelled pairs; entity
 * columns and name predicates by marker) through kga_import_run(): the
 * input is a source directory in the format described in fuzz_import.h,
 * with its oracles, those of the labelled pairs files included. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_import.h"

static int fuzz_import_records_one(const uint8_t *data, size_t size)
{
    return fuzz_import_one(KGA_IMPORT_RECORDS, data, size);
}

#ifndef KGA_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_import_records_one(data, size) != 0)
        abort();
    return 0;
}
#endif
