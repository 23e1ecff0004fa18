#ifndef KGA_EVAL_JSON_H
#define KGA_EVAL_JSON_H

#include <stddef.h>

#include "eval/evaluate.h"

/* The JSON document of `kgalign eval --json`: one object with the direction,
 * the split, k, the counts, the ranking and classification metrics,
 * eval_seconds, the model version and per_type ({TYPE: {queries, hits1,
 * hits5, hits10, mrr, candidate_recall}}). Scripts parse it, so its bytes do
 * not change: ", " and ": " between items, metrics as "%.10g" (null when not
 * finite), eval_seconds as "%.3f", strings with KGA_JSON_ESCAPE_NUMERIC
 * escapes (proto/json_buf.h).
 *
 * Writes the document (no trailing newline) into a malloc'd NUL-terminated
 * buffer *out of *out_len bytes that the caller frees with free(); the
 * arguments are borrowed. Returns 0 or KGA_ENOMEM (then *out is NULL). */
int kga_eval_json_format(const char *direction, const char *split,
                         const char *model_version,
                         const kga_eval_result_t *res, char **out,
                         size_t *out_len);

#endif
