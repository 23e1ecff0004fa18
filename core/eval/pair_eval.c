/* The labelled-pair protocol of record matching (pair_eval.h): each row
 * scored alone, the decisions at the model's pair threshold, the ranking
 * metrics over the rows. Apart from evaluate.c, whose queries rank every
 * candidate: here the candidates are given, with their labels. */
#include "eval/pair_eval.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

/* Rows scored per call to the aligner. */
#define SCORE_BLOCK 1024

int kga_pair_metrics(const float *probability, const uint8_t *label,
                     size_t n, double threshold, kga_pair_metrics_t *out)
{
    memset(out, 0, sizeof *out);
    out->pairs = n;
    for (size_t i = 0; i < n; i++) {
        int match = probability[i] >= threshold;
        out->positives += label[i] != 0;
        out->predicted += match;
        out->true_positives += match && label[i];
    }
    if (out->predicted > 0)
        out->precision = (double)out->true_positives / (double)out->predicted;
    if (out->positives > 0)
        out->recall = (double)out->true_positives / (double)out->positives;
    if (out->predicted + out->positives > 0)
        out->f1 = 2.0 * (double)out->true_positives /
                  (double)(out->predicted + out->positives);
    return kga_pairs_evaluate(probability, label, n, &out->ranked);
}

/* The rows of one left type, evaluated into g. */
static int group_metrics(const kga_store_t *left, const kga_labelled_t *rows,
                         const float *prob, double threshold, uint32_t type,
                         float *p_buf, uint8_t *l_buf,
                         kga_pair_eval_group_t *g)
{
    size_t m = 0;
    for (size_t i = 0; i < rows->count; i++)
        if (kga_store_entity_type(left, rows->left[i]) == type) {
            p_buf[m] = prob[i];
            l_buf[m++] = rows->label[i];
        }
    g->type = type;
    g->name = strdup(kga_store_type_name(left, type));
    if (g->name == NULL)
        return KGA_ENOMEM;
    return kga_pair_metrics(p_buf, l_buf, m, threshold, &g->metrics);
}

int kga_pair_evaluate(const kga_aligner_t *a, const kga_labelled_t *rows,
                      kga_pair_eval_result_t *out, kga_err_t *err)
{
    double t0 = kga_clock_seconds();
    memset(out, 0, sizeof *out);
    const kga_store_t *left = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *right = kga_aligner_store(a, KGA_SIDE_RIGHT);
    size_t n = rows->count;
    for (size_t i = 0; i < n; i++)
        if (rows->left[i] >= kga_store_entity_count(left) ||
            rows->right[i] >= kga_store_entity_count(right))
            return kga_err_set(err, KGA_EINVAL,
                               "pair %zu: an id out of range", i);
    out->threshold = kga_aligner_pair_threshold(a);
    out->probability = malloc((n ? n : 1) * sizeof *out->probability);
    kga_pair_score_t *scores = malloc(SCORE_BLOCK * sizeof *scores);
    uint32_t nt = kga_store_type_count(left);
    uint8_t *present = calloc(nt ? nt : 1, 1);
    float *p_buf = malloc((n ? n : 1) * sizeof *p_buf);
    uint8_t *l_buf = malloc(n ? n : 1);
    int rc = out->probability && scores && present && p_buf && l_buf
                 ? 0
                 : KGA_ENOMEM;
    for (size_t begin = 0; begin < n && rc == 0; begin += SCORE_BLOCK) {
        size_t m = n - begin < SCORE_BLOCK ? n - begin : SCORE_BLOCK;
        kga_aligner_score(a, rows->left + begin, rows->right + begin, m,
                          scores);
        for (size_t i = 0; i < m; i++)
            out->probability[begin + i] = scores[i].probability;
    }
    if (rc == 0)
        rc = kga_pair_metrics(out->probability, rows->label, n,
                              out->threshold, &out->all);
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint32_t t = kga_store_entity_type(left, rows->left[i]);
        if (t != KGA_NO_TYPE && !present[t]) {
            present[t] = 1;
            out->n_groups++;
        }
    }
    if (rc == 0 && out->n_groups > 0 &&
        (out->groups = calloc(out->n_groups, sizeof *out->groups)) == NULL)
        rc = KGA_ENOMEM;
    size_t g = 0;
    for (uint32_t t = 0; t < nt && rc == 0 && out->groups != NULL; t++)
        if (present[t])
            rc = group_metrics(left, rows, out->probability, out->threshold,
                               t, p_buf, l_buf, &out->groups[g++]);
    free(scores);
    free(present);
    free(p_buf);
    free(l_buf);
    if (rc != 0) {
        kga_pair_eval_result_destroy(out);
        return kga_err_set(err, rc, "pair evaluation: %s", kga_strerror(rc));
    }
    out->eval_seconds = kga_clock_seconds() - t0;
    return 0;
}

void kga_pair_eval_result_destroy(kga_pair_eval_result_t *r)
{
    for (size_t i = 0; i < r->n_groups && r->groups != NULL; i++)
        free(r->groups[i].name);
    free(r->groups);
    free(r->probability);
    memset(r, 0, sizeof *r);
}
