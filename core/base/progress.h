#ifndef KGA_PROGRESS_H
#define KGA_PROGRESS_H

#include <stdint.h>

/* Long operations in core/ report progress through this callback and never
 * print themselves: the command-line tool draws a line on a terminal, the
 * server and the tests pass NULL. `total` is 0 when unknown. */
typedef void (*kga_progress_fn)(void *ctx, const char *stage, uint64_t done,
                                uint64_t total);

typedef struct {
    kga_progress_fn fn;
    void *ctx;
} kga_progress_t;

static inline void kga_progress_report(const kga_progress_t *p,
                                       const char *stage, uint64_t done,
                                       uint64_t total)
{
    if (p != NULL && p->fn != NULL)
        p->fn(p->ctx, stage, done, total);
}

#endif
