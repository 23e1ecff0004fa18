/* Candidate recall of the approximate search against the exact one, on a
 * data directory and a trained model: the test links' left entities are
 * the queries, the right entities in no training or validation link the
 * domain (as `kgalign align` ranks them), k candidates each. Prints one
 * JSON object: for each search its time, CPU time and the share of queries
 * whose true match is among the candidates; the approximate one's recall
 * relative to the exact one's; and the mean share of the exact k best the
 * approximate search also found.
 *   bench_candidates DATA_DIR MODEL [K] [PROBES] [COARSE] [NAME_BUDGET]
 * (0 for a knob: its default). The exact search compares every pair: run
 * it on up to a few hundred thousand entities a side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "align/aligner.h"
#include "align/fusion.h"
#include "align/scorer.h"
#include "base/clock.h"
#include "base/pool.h"
#include "base/timeline.h"
#include "store/dataset.h"

typedef struct {
    double seconds, cpu, recall;
    uint32_t *idx;
} run_t;

static int search(const char *dir, const char *model, int mode,
                  const kga_aligner_options_t *base, const uint32_t *q,
                  size_t nq, const uint32_t *rights, size_t nr, size_t k,
                  const uint32_t *truth, run_t *out)
{
    kga_aligner_options_t o = *base;
    o.search = mode;
    kga_aligner_t *a;
    kga_err_t err;
    if (kga_aligner_open_dir(dir, model, &o, &a, &err) != 0) {
        fprintf(stderr, "bench_candidates: %s\n", err.msg);
        return 1;
    }
    const kga_fusion_t *f = kga_aligner_scorer(a)->fusion;
    kga_pool_t *pool = NULL;
    out->idx = malloc(nq * k * sizeof *out->idx);
    float *score = malloc(nq * k * sizeof *score);
    if (out->idx == NULL || score == NULL || kga_pool_new(0, &pool) != 0) {
        fprintf(stderr, "bench_candidates: out of memory\n");
        return 1;
    }
    double t0 = kga_clock_seconds(), c0 = kga_cpu_seconds();
    int rc = kga_fusion_topk(f, q, nq, rights, nr, k, pool, NULL, out->idx,
                             score, &err);
    out->seconds = kga_clock_seconds() - t0;
    out->cpu = kga_cpu_seconds() - c0;
    if (rc != 0) {
        fprintf(stderr, "bench_candidates: %s\n", err.msg);
        return 1;
    }
    size_t found = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t r = 0; r < k; r++)
            if (out->idx[i * k + r] == truth[i]) {
                found++;
                break;
            }
    out->recall = nq > 0 ? (double)found / (double)nq : 0.0;
    free(score);
    kga_pool_free(pool);
    kga_aligner_close(a);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_candidates DATA_DIR MODEL [K] [PROBES] "
                        "[COARSE] [NAME_BUDGET]\n");
        return 2;
    }
    size_t k = argc > 3 ? strtoul(argv[3], NULL, 10) : 50;
    kga_aligner_options_t o = {.threads = 0, .threshold = -1.0f};
    o.probes = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 0;
    o.coarse = argc > 5 ? (uint32_t)strtoul(argv[5], NULL, 10) : 0;
    o.name_budget = argc > 6 ? (uint32_t)strtoul(argv[6], NULL, 10) : 0;
    if (k == 0 || k > KGA_FUSION_MAX_TOPK)
        return 2;
    kga_dataset_t ds;
    kga_err_t err;
    if (kga_dataset_open(&ds, argv[1],
                         KGA_SPLIT_BIT(KGA_SPLIT_TRAIN) |
                             KGA_SPLIT_BIT(KGA_SPLIT_VALID) |
                             KGA_SPLIT_BIT(KGA_SPLIT_TEST),
                         &err) != 0) {
        fprintf(stderr, "bench_candidates: %s\n", err.msg);
        return 1;
    }
    uint32_t n1 = kga_store_entity_count(ds.store[1]);
    uint8_t *known = calloc(n1 + 1, 1);
    uint32_t *rights = malloc((n1 + 1) * sizeof *rights);
    for (int s = KGA_SPLIT_TRAIN; s <= KGA_SPLIT_VALID; s++)
        for (size_t i = 0; i < ds.split[s].count; i++)
            known[ds.split[s].right[i]] = 1;
    size_t nr = 0;
    for (uint32_t j = 0; j < n1; j++)
        if (!known[j])
            rights[nr++] = j;
    const kga_pairs_t *test = &ds.split[KGA_SPLIT_TEST];
    run_t ex = {0}, ap = {0};
    if (search(argv[1], argv[2], KGA_SEARCH_EXACT, &o, test->left,
               test->count, rights, nr, k, test->right, &ex) != 0 ||
        search(argv[1], argv[2], KGA_SEARCH_APPROX, &o, test->left,
               test->count, rights, nr, k, test->right, &ap) != 0)
        return 1;
    /* How many of the exact k best the approximate search found. */
    double overlap = 0.0;
    size_t top1 = 0;
    for (size_t i = 0; i < test->count; i++) {
        size_t same = 0, have = 0;
        for (size_t r = 0; r < k; r++) {
            uint32_t e = ex.idx[i * k + r];
            if (e == UINT32_MAX)
                continue;
            have++;
            for (size_t x = 0; x < k; x++)
                if (ap.idx[i * k + x] == e) {
                    same++;
                    if (r == 0)
                        top1++;
                    break;
                }
        }
        overlap += have > 0 ? (double)same / (double)have : 1.0;
    }
    size_t nq = test->count;
    printf("{\"queries\": %zu, \"domain\": %zu, \"k\": %zu, "
           "\"exact\": {\"seconds\": %.2f, \"cpu_seconds\": %.2f, "
           "\"recall\": %.5f}, "
           "\"approx\": {\"seconds\": %.2f, \"cpu_seconds\": %.2f, "
           "\"recall\": %.5f}, "
           "\"relative_recall\": %.5f, \"overlap\": %.5f, "
           "\"exact_best_found\": %.5f}\n",
           nq, nr, k, ex.seconds, ex.cpu, ex.recall, ap.seconds, ap.cpu,
           ap.recall, ex.recall > 0 ? ap.recall / ex.recall : 0.0,
           nq ? overlap / (double)nq : 0.0,
           nq ? (double)top1 / (double)nq : 0.0);
    free(ex.idx);
    free(ap.idx);
    free(known);
    free(rights);
    kga_dataset_close(&ds);
    return 0;
}
