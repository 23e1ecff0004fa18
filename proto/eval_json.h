#ifndef KGA_EVAL_JSON_H
#define KGA_EVAL_JSON_H

#include <stddef.h>

#include "eval/evaluate.h"
#include "eval/open_world_eval.h"
#include "eval/pair_eval.h"
#include "store/store.h"

/* The JSON document of `kgalign eval --json`: one object with the protocol
 * ("closed": the split's entities ranked against each other), the direction,
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

/* The JSON document of `kgalign eval --open-world --json`: the protocol,
 * the split of the gold links, the counts, precision, recall, F1, the share
 * of queries without counterpart that were matched, the ECE, the
 * calibration table ([{lo, hi, rows, mean_probability, share_correct}]),
 * the worst errors (rows worst[0..n_worst) of res, with ids and names from
 * the stores), eval_seconds and the model version. Same conventions and
 * ownership as kga_eval_json_format(). */
int kga_owe_json_format(const char *split, const char *model_version,
                        const kga_owe_result_t *res, const kga_store_t *left,
                        const kga_store_t *right, const size_t *worst,
                        size_t n_worst, char **out, size_t *out_len);

/* The JSON document of `kgalign eval --json` on labelled pairs: protocol
 * "labelled pairs", the split, pairs, positives, the threshold,
 * predicted_matches, true_positives, precision, recall, f1, prauc,
 * recall_at_p95, p95_threshold, best_f1, best_threshold, eval_seconds,
 * model_version and per_type ({TYPE: {pairs, positives, precision, recall,
 * f1, prauc, recall_at_p95}}). Same conventions and ownership as
 * kga_eval_json_format(). */
int kga_pair_eval_json_format(const char *split, const char *model_version,
                              const kga_pair_eval_result_t *res, char **out,
                              size_t *out_len);

#endif
