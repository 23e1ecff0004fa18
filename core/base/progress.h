#ifndef KGA_PROGRESS_H
#define KGA_PROGRESS_H

#include <stdatomic.h>
#include <stdint.h>

/* Long operations in core/ report progress through this callback and never
 * print themselves: the command-line tool draws a line on a terminal, the
 * server and the tests pass NULL.
 *
 * `stage` says in words what is being done ("fusion round 2 of 4:
 * candidate search"); `unit` names what is counted ("queries", "entities",
 * "batches"; NULL when nothing is); `done` of `total` of them are done
 * (`total` 0 when unknown). The strings are only valid during the call.
 * Calls come from one thread at a time, the one that started the
 * operation: a reporter needs no lock against core/. */
typedef void (*kga_progress_fn)(void *ctx, const char *stage,
                                const char *unit, uint64_t done,
                                uint64_t total);

typedef struct {
    kga_progress_fn fn;
    void *ctx;
} kga_progress_t;

static inline void kga_progress_report(const kga_progress_t *p,
                                       const char *stage, const char *unit,
                                       uint64_t done, uint64_t total)
{
    if (p != NULL && p->fn != NULL)
        p->fn(p->ctx, stage, unit, done, total);
}

/* Progress of a loop split over a thread pool (base/pool.h): every worker
 * counts what it finished, and worker 0, which is always the thread that
 * called kga_pool_run(), reports the sum. The caller owns the struct; the
 * strings must outlive it. A NULL ticker or reporter is allowed
 * everywhere and does nothing. */
typedef struct {
    const kga_progress_t *p;
    const char *stage, *unit;
    uint64_t total;
    atomic_uint_least64_t done;
} kga_progress_ticker_t;

/* Starts the count at 0 and reports it. */
static inline void kga_progress_ticker_init(kga_progress_ticker_t *t,
                                            const kga_progress_t *p,
                                            const char *stage,
                                            const char *unit, uint64_t total)
{
    t->p = p;
    t->stage = stage;
    t->unit = unit;
    t->total = total;
    atomic_init(&t->done, 0);
    kga_progress_report(p, stage, unit, 0, total);
}

/* Adds n items finished by `worker`; worker 0 reports. */
static inline void kga_progress_tick(kga_progress_ticker_t *t, uint64_t n,
                                     int worker)
{
    if (t == NULL || t->p == NULL)
        return;
    uint64_t d = atomic_fetch_add_explicit(&t->done, n,
                                           memory_order_relaxed) +
                 n;
    if (worker == 0)
        kga_progress_report(t->p, t->stage, t->unit, d, t->total);
}

/* Reports the whole count as done (after the loop). */
static inline void kga_progress_ticker_finish(kga_progress_ticker_t *t)
{
    if (t != NULL)
        kga_progress_report(t->p, t->stage, t->unit, t->total, t->total);
}

#endif
