/* The work of /match for entities described inline, without HTTP: each
 * request of a file (one /match body a line, as bench/inductive.py writes
 * them) is decoded, its entity built and matched, one at a time on one
 * thread; beside it, /match by id for as many test left entities. Wall and
 * CPU time (the thread's) per request, so that a shared machine's load
 * shows as the difference. Prints one JSON object.
 *   bench_inline DATA_DIR MODEL REQUESTS.jsonl */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "align/aligner.h"
#include "align/inline_entity.h"
#include "proto/wire.h"
#include "store/dataset.h"

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)n);
    return v[i < n ? i : n - 1];
}

static void print_times(const char *name, double *wall, double *cpu, size_t n)
{
    printf("\"%s\": {\"requests\": %zu, \"wall_p50_ms\": %.2f, "
           "\"wall_p99_ms\": %.2f, \"cpu_p50_ms\": %.2f, \"cpu_p99_ms\": "
           "%.2f, \"cpu_max_ms\": %.2f}",
           name, n, pct(wall, n, 0.5), pct(wall, n, 0.99), pct(cpu, n, 0.5),
           pct(cpu, n, 0.99), pct(cpu, n, 1.0));
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_inline DATA_DIR MODEL REQUESTS.jsonl\n");
        return 2;
    }
    char test[4096];
    snprintf(test, sizeof test, "%s/test_links.tsv", argv[1]);
    kga_err_t err;
    kga_aligner_t *a;
    kga_aligner_options_t opt = {.threads = 0, .threshold = -1.0f};
    if (kga_aligner_open_dir(argv[1], argv[2], &opt, &a, &err) != 0) {
        fprintf(stderr, "bench_inline: %s\n", err.msg);
        return 1;
    }
    FILE *f = fopen(argv[3], "r");
    if (f == NULL) {
        perror(argv[3]);
        return 1;
    }
    kga_wire_init();
    kga_wire_limits_t limits = {64u << 20, 1024};
    size_t cap = 1 << 14, n = 0, refused = 0;
    double *wall = malloc(cap * sizeof *wall), *cpu = malloc(cap * sizeof *cpu);
    kga_candidate_t cand[KGA_WIRE_K_MAX];
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    while ((len = getline(&line, &line_cap, f)) > 0 && n < cap) {
        double w0 = clock_ms(CLOCK_MONOTONIC);
        double c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
        kga_match_request_t req;
        kga_wire_error_t werr;
        if (kga_match_request_parse(&req, line, (size_t)len, &limits,
                                    &werr) != 0 ||
            req.inline_desc == NULL) {
            fprintf(stderr, "bench_inline: %s\n", werr.message);
            return 1;
        }
        kga_inline_entity_t *e;
        if (kga_inline_entity_new(a, req.side, req.inline_desc, &e, &err) !=
            0) {
            refused++;
        } else {
            kga_entity_ref_t ref = {0, e};
            kga_aligner_match_ref(a, req.side, &ref, req.k, cand);
            kga_inline_entity_free(e);
        }
        kga_match_request_destroy(&req);
        cpu[n] = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
        wall[n++] = clock_ms(CLOCK_MONOTONIC) - w0;
    }
    free(line);
    fclose(f);

    kga_pairs_t links;
    if (kga_pairs_read(test, kga_aligner_store(a, KGA_SIDE_LEFT),
                       kga_aligner_store(a, KGA_SIDE_RIGHT), &links,
                       &err) != 0) {
        fprintf(stderr, "bench_inline: %s\n", err.msg);
        return 1;
    }
    size_t ns = links.count < n ? links.count : n;
    double *swall = malloc((ns + 1) * sizeof *swall);
    double *scpu = malloc((ns + 1) * sizeof *scpu);
    for (size_t i = 0; i < ns; i++) {
        double w0 = clock_ms(CLOCK_MONOTONIC);
        double c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
        kga_aligner_match(a, KGA_SIDE_LEFT, links.left[i], 10, cand);
        scpu[i] = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
        swall[i] = clock_ms(CLOCK_MONOTONIC) - w0;
    }
    printf("{\"benchmark\": \"inline_match\", \"refused\": %zu, ", refused);
    print_times("inline", wall, cpu, n);
    printf(", ");
    print_times("stored", swall, scpu, ns);
    printf("}\n");
    kga_pairs_destroy(&links);
    free(swall);
    free(scpu);
    free(wall);
    free(cpu);
    kga_aligner_close(a);
    return 0;
}
