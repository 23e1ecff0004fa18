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

KGA_FUZZ_ENTRY(fuzz_import_records_one)
