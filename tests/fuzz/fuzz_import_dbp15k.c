/* Fuzzes the import of the DBP15K layout (ent_ids_{1,2}, rel_ids_{1,2},
 * triples_{1,2}, sup_pairs, ref_pairs, ref_ent_ids, training_attrs_{1,2})
 * through kga_import_run(): the input is a source directory in the format
 * described in fuzz_import.h, with its oracles. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_import.h"

static int fuzz_import_dbp15k_one(const uint8_t *data, size_t size)
{
    return fuzz_import_one(KGA_IMPORT_DBP15K, data, size);
}

KGA_FUZZ_ENTRY(fuzz_import_dbp15k_one)
