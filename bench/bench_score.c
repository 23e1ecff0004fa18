/* Pair-scoring throughput of a trained aligner with everything that does
 * not depend on the pair cached (what /align does per pair): random
 * (test left, test right) pairs scored by kga_aligner_score on T threads.
 * Prints one JSON object.
 *   bench_score DATA_DIR MODEL [PAIRS] [THREADS] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "align/aligner.h"
#include "store/dataset.h"
#include "base/rng.h"
#include "align/scorer.h"

typedef struct {
    const kga_aligner_t *a;
    const uint32_t *left, *right;
    size_t n;
    kga_pair_score_t *out;
    float *dist;
} slice_t;

/* The whole final score of each pair. */
static void *score_slice(void *arg)
{
    slice_t *s = arg;
    kga_aligner_score(s->a, s->left, s->right, s->n, s->out);
    return NULL;
}

/* The GNN's pair-specific last layer alone, lower layers cached. */
static void *gnn_slice(void *arg)
{
    slice_t *s = arg;
    const kga_scorer_t *sc = kga_aligner_scorer(s->a);
    kga_gnn_score_pairs(sc->gnn, sc->cache, s->left, s->right, s->n, s->dist,
                        1);
    return NULL;
}

static double now(void);

static double run_threads(void *(*fn)(void *), slice_t *slice, int threads)
{
    pthread_t tid[64];
    double t0 = now();
    for (int t = 0; t < threads; t++)
        pthread_create(&tid[t], NULL, fn, &slice[t]);
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    return now() - t0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_score DATA_DIR MODEL [PAIRS] [THREADS]\n");
        return 2;
    }
    size_t n = argc > 3 ? strtoull(argv[3], NULL, 10) : 2000000;
    int threads = argc > 4 ? atoi(argv[4]) : 2;
    if (threads < 1 || threads > 64 || n == 0)
        return 2;
    char test[4096];
    snprintf(test, sizeof test, "%s/test_links.tsv", argv[1]);
    kga_err_t err;
    kga_aligner_t *a;
    kga_aligner_options_t opt = {.threads = threads, .threshold = -1.0f};
    double t0 = now();
    if (kga_aligner_open_dir(argv[1], argv[2], &opt, &a, &err) != 0) {
        fprintf(stderr, "bench_score: %s\n", err.msg);
        return 1;
    }
    double open_seconds = now() - t0;
    kga_pairs_t links;
    if (kga_pairs_read(test, kga_aligner_store(a, KGA_SIDE_LEFT),
                       kga_aligner_store(a, KGA_SIDE_RIGHT), &links,
                       &err) != 0 || links.count == 0) {
        fprintf(stderr, "bench_score: %s\n", err.msg);
        return 1;
    }
    uint32_t *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    kga_pair_score_t *out = malloc(n * sizeof *out);
    kga_rng_t rng;
    kga_rng_init(&rng, 1, 0);
    for (size_t i = 0; i < n; i++) {
        l[i] = links.left[kga_rng_below64(&rng, links.count)];
        r[i] = links.right[kga_rng_below64(&rng, links.count)];
    }
    float *dist = malloc(n * sizeof *dist);
    slice_t slice[64];
    for (int t = 0; t < threads; t++) {
        size_t b = n * (size_t)t / (size_t)threads;
        size_t e = n * (size_t)(t + 1) / (size_t)threads;
        slice[t] = (slice_t){a, l + b, r + b, e - b, out + b, dist + b};
    }
    double secs = run_threads(score_slice, slice, threads);
    double gnn_secs = kga_aligner_scorer(a)->gnn != NULL
                          ? run_threads(gnn_slice, slice, threads)
                          : 0.0;
    printf("{\"pairs\": %zu, \"threads\": %d, \"open_seconds\": %.3f, "
           "\"final_score_pairs_per_second\": %.0f, "
           "\"gnn_pair_specific_pairs_per_second\": %.0f, "
           "\"gnn_target_pairs_per_second\": 300000}\n",
           n, threads, open_seconds, (double)n / secs,
           gnn_secs > 0 ? (double)n / gnn_secs : 0.0);
    free(dist);
    kga_pairs_destroy(&links);
    kga_aligner_close(a);
    free(l);
    free(r);
    free(out);
    return 0;
}
