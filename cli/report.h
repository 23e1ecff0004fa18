#ifndef KGA_CLI_REPORT_H
#define KGA_CLI_REPORT_H

#include <stddef.h>

#include "base/error.h"
#include "eval/open_world_eval.h"
#include "stats/metrics.h"
#include "store/store.h"

/* The evaluation report: one self-contained HTML page (inline CSS and SVG,
 * no external assets, no JavaScript) with the headline metrics, the per-type
 * ranking rows, the precision-recall curve and the score histograms of true
 * and false pairs. All strings and results are borrowed from the caller for
 * the duration of the call. */

/* Ranking result of one group (entity type). */
typedef struct {
    const char *name;
    kga_ranking_result_t ranking;
} kga_report_group_t;

/* A free row of the summary table, e.g. {"training time", "31 min"}. */
typedef struct {
    const char *label;
    const char *value;
} kga_report_note_t;

/* The open-world section: the decisions' counts and metrics, the
 * reliability plot, the score histogram on a log scale with the threshold
 * marked, and the worst errors with the stores' names. */
typedef struct {
    const kga_owe_result_t *result;
    const kga_store_t *left, *right;
    const size_t *worst; /* rows of result, worst first, n_worst of them */
    size_t n_worst;
} kga_report_open_world_t;

typedef struct {
    const char *title;     /* NULL: "kgalign evaluation" */
    const char *dataset;   /* NULL: not shown */
    const char *model;     /* NULL: not shown */
    const char *direction; /* NULL: "left to right" */

    /* Ranking (NULL: no ranking rows). */
    const kga_ranking_result_t *ranking;
    /* Fraction of queries whose true match is among the candidates. When
     * has_candidate_recall is 0 it is taken as 1 - misses / queries. */
    int has_candidate_recall;
    double candidate_recall;
    const kga_report_group_t *groups; /* per-type rows, n_groups of them */
    size_t n_groups;

    /* Pair classification (NULL: no pair rows and no pictures). */
    const kga_pairs_result_t *pairs;

    const kga_report_open_world_t *open_world; /* NULL: no such section */
    const kga_report_note_t *notes; /* extra summary rows, n_notes */
    size_t n_notes;
    /* The run, the last summary rows: the model's version and how long
     * the evaluation took (NULL model_version: neither shown). */
    const char *model_version;
    double eval_seconds;
} kga_report_input_t;

/* Writes the report to path: a temporary file next to it, fsync, rename.
 * Returns 0, or KGA_EINVAL (NULL path or input), KGA_ENOENT when the
 * directory does not exist, KGA_EIO; err then names the path. On failure no
 * file is left behind and an existing file at path is unchanged. */
int kga_report_write_html(const char *path, const kga_report_input_t *in,
                          kga_err_t *err);

#endif
