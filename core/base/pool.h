#ifndef KGA_POOL_H
#define KGA_POOL_H

#include <stddef.h>

/* A fork-join pool of threads for data-parallel loops (the model's
 * products, candidate search, Sinkhorn), and the OpenBLAS threading switch
 * that goes with it. */

typedef struct kga_pool kga_pool_t;

/* Work on items [begin, end); `worker` is 0..threads-1 (per-worker scratch). */
typedef void (*kga_pool_fn)(void *ctx, size_t begin, size_t end, int worker);

/* Starts threads - 1 workers (the caller is the last one); threads <= 0
 * means one per online CPU. Returns 0 or KGA_ENOMEM. */
int kga_pool_new(int threads, kga_pool_t **out);

int kga_pool_threads(const kga_pool_t *p);

/* Calls fn on disjoint ranges that cover [0, n), at most `grain` items each
 * (0: n / threads), in parallel; returns when all are done. Which worker gets
 * which range varies from run to run: fn must write only per-item outputs
 * (or per-worker scratch), never sums over items. A NULL pool runs the
 * ranges in the caller, as worker 0. */
void kga_pool_run(kga_pool_t *p, size_t n, size_t grain, kga_pool_fn fn,
                  void *ctx);

/* Stops and joins the workers. NULL is allowed. */
void kga_pool_free(kga_pool_t *p);

/* OpenBLAS keeps its own threads; the GNN splits its matrix products over
 * its pool instead, so it runs OpenBLAS single-threaded while it works.
 * enter returns the previous setting for leave to restore. */
int kga_blas_serial_enter(void);
void kga_blas_serial_leave(int previous);

#endif
