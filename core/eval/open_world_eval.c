/* Open-world evaluation (open_world_eval.h): decisions for every query,
 * judged against gold links. Separate from evaluate.c, whose closed
 * protocol ranks only the links' own entities against each other. */
#include "eval/open_world_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Left entities decided per call: bounds the candidate buffer. */
#define BLOCK 16384u
/* Candidates kept per query: the best and the runner-up. */
#define KEEP 2u

static const double bin_edges[KGA_OWE_BINS + 1] = {0.0, 0.5, 0.7, 0.9, 0.99,
                                                   1.0};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t bin_of(double p)
{
    for (size_t b = 0; b + 1 < KGA_OWE_BINS; b++)
        if (p < bin_edges[b + 1])
            return b;
    return KGA_OWE_BINS - 1;
}

static void summarise(kga_owe_result_t *r)
{
    double sum_p[KGA_OWE_BINS] = {0}, ok[KGA_OWE_BINS] = {0};
    for (size_t b = 0; b < KGA_OWE_BINS; b++) {
        r->bins[b].lo = bin_edges[b];
        r->bins[b].hi = bin_edges[b + 1];
        r->bins[b].rows = 0;
    }
    for (size_t i = 0; i < r->n_rows; i++) {
        const kga_owe_row_t *row = &r->rows[i];
        int correct = row->right != UINT32_MAX && row->right == row->truth;
        if (row->truth != UINT32_MAX)
            r->with_counterpart++;
        else
            r->without_counterpart++;
        if (row->match) {
            r->matches++;
            r->correct_matches += (uint64_t)correct;
            r->without_matched += row->truth == UINT32_MAX;
        }
        size_t b = bin_of(row->probability);
        r->bins[b].rows++;
        sum_p[b] += row->probability;
        ok[b] += correct;
    }
    r->ece = 0;
    for (size_t b = 0; b < KGA_OWE_BINS; b++) {
        kga_owe_bin_t *bin = &r->bins[b];
        if (bin->rows == 0) {
            bin->mean_probability = bin->share_correct = NAN;
            continue;
        }
        bin->mean_probability = sum_p[b] / (double)bin->rows;
        bin->share_correct = ok[b] / (double)bin->rows;
        r->ece += (double)bin->rows / (double)r->n_rows *
                  fabs(bin->mean_probability - bin->share_correct);
    }
    r->precision = r->matches ? (double)r->correct_matches / (double)r->matches
                              : 0.0;
    r->recall = r->with_counterpart ? (double)r->correct_matches /
                                          (double)r->with_counterpart
                                    : 0.0;
    r->f1 = r->precision + r->recall > 0
                ? 2 * r->precision * r->recall / (r->precision + r->recall)
                : 0.0;
    r->without_matched_share =
        r->without_counterpart ? (double)r->without_matched /
                                     (double)r->without_counterpart
                               : NAN;
}

int kga_owe_evaluate(const kga_aligner_t *a, const kga_pairs_t *gold,
                     kga_owe_result_t *out, kga_err_t *err)
{
    double t0 = now_seconds();
    memset(out, 0, sizeof *out);
    out->threshold = kga_aligner_threshold(a);
    uint32_t nl = kga_store_entity_count(kga_aligner_store(a, KGA_SIDE_LEFT));
    uint32_t *truth = malloc((nl ? nl : 1) * sizeof *truth);
    uint32_t *query = malloc((nl ? nl : 1) * sizeof *query);
    kga_candidate_t *cand = malloc((size_t)BLOCK * KEEP * sizeof *cand);
    int rc = KGA_ENOMEM;
    if (truth == NULL || query == NULL || cand == NULL) {
        kga_err_set(err, rc, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < nl; i++)
        truth[i] = UINT32_MAX;
    for (size_t i = 0; i < gold->count; i++) {
        uint32_t l = gold->left[i];
        if (kga_aligner_known_partner(a, KGA_SIDE_LEFT, l) != UINT32_MAX)
            out->gold_skipped++;
        else
            truth[l] = gold->right[i];
    }
    size_t nq = 0;
    for (uint32_t i = 0; i < nl; i++)
        if (kga_aligner_known_partner(a, KGA_SIDE_LEFT, i) == UINT32_MAX)
            query[nq++] = i;
    out->queries = nq;
    out->rows = malloc((nq ? nq : 1) * sizeof *out->rows);
    if (out->rows == NULL) {
        kga_err_set(err, rc, "out of memory");
        goto out;
    }
    const kga_progress_t *progress = kga_aligner_progress(a);
    kga_progress_report(progress, "open-world evaluation: deciding",
                        "queries", 0, nq);
    for (size_t start = 0; start < nq; start += BLOCK) {
        size_t nb = nq - start < BLOCK ? nq - start : BLOCK;
        if ((rc = kga_aligner_decide(a, query + start, nb, KEEP, cand,
                                     err)) != 0)
            goto out;
        for (size_t i = 0; i < nb; i++) {
            const kga_candidate_t *c = cand + i * KEEP;
            kga_owe_row_t *row = &out->rows[out->n_rows++];
            row->left = query[start + i];
            row->truth = truth[row->left];
            row->right = c[0].entity;
            row->probability =
                c[0].entity != UINT32_MAX ? c[0].score.probability : 0.0f;
            row->match = c[0].entity != UINT32_MAX && c[0].score.match;
            row->runner = c[1].entity;
            row->runner_probability =
                c[1].entity != UINT32_MAX ? c[1].score.probability : 0.0f;
        }
        kga_progress_report(progress, "open-world evaluation: deciding",
                            "queries", start + nb, nq);
    }
    summarise(out);
    rc = 0;
out:
    if (rc != 0)
        kga_owe_result_destroy(out);
    free(truth);
    free(query);
    free(cand);
    out->seconds = now_seconds() - t0;
    return rc;
}

/* How wrong a row is: a false match by its probability (1 + p), a missed
 * counterpart by how low it was scored (1 - p); 0 when right. */
static double wrongness(const kga_owe_row_t *row)
{
    int correct = row->right != UINT32_MAX && row->right == row->truth;
    if (row->match && !correct)
        return 1.0 + row->probability;
    if (!row->match && row->truth != UINT32_MAX)
        return 1.0 - row->probability;
    return 0.0;
}

static _Thread_local const kga_owe_result_t *sort_result;

static int worse_first(const void *pa, const void *pb)
{
    const kga_owe_row_t *x = &sort_result->rows[*(const size_t *)pa];
    const kga_owe_row_t *y = &sort_result->rows[*(const size_t *)pb];
    double wx = wrongness(x), wy = wrongness(y);
    if (wx != wy)
        return wx > wy ? -1 : 1;
    return (x->left > y->left) - (x->left < y->left);
}

size_t kga_owe_worst(const kga_owe_result_t *r, size_t *idx, size_t cap)
{
    size_t n = 0, *all = malloc((r->n_rows ? r->n_rows : 1) * sizeof *all);
    if (all == NULL)
        return 0;
    for (size_t i = 0; i < r->n_rows; i++)
        if (wrongness(&r->rows[i]) > 0)
            all[n++] = i;
    sort_result = r;
    qsort(all, n, sizeof *all, worse_first);
    if (n > cap)
        n = cap;
    memcpy(idx, all, n * sizeof *idx);
    free(all);
    return n;
}

void kga_owe_result_destroy(kga_owe_result_t *r)
{
    if (r == NULL)
        return;
    free(r->rows);
    r->rows = NULL;
    r->n_rows = 0;
}
