/* The aligner of a data directory as `kgalign import` writes it: the
 * commands and the benchmarks name a directory, not two store files. Apart
 * from aligner.c because the tests that replace the aligner module with a
 * fake one (test_evaluate.c) link the commands that call this. */
#include "align/aligner.h"

#include <stdlib.h>

#include "base/xalloc.h"
#include "store/dataset.h"

int kga_aligner_open_dir(const char *data_dir, const char *model_path,
                         const kga_aligner_options_t *options,
                         kga_aligner_t **out, kga_err_t *err)
{
    char *left = kga_xasprintf("%s/%s", data_dir, kga_dataset_store_file(0));
    char *right = kga_xasprintf("%s/%s", data_dir, kga_dataset_store_file(1));
    int rc = kga_aligner_open(left, right, model_path, options, out, err);
    free(right);
    free(left);
    return rc;
}
