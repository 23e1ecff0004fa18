/* The stage timings of a long run (see timeline.h): a fixed array, so that
 * recording a stage can never fail in the middle of training. */
#include "base/timeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

double kga_cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void kga_timeline_start(kga_timeline_t *t)
{
    memset(t, 0, sizeof *t);
    t->wall_mark = kga_clock_seconds();
    t->cpu_mark = kga_cpu_seconds();
}

void kga_timeline_add(kga_timeline_t *t, const char *name, double wall,
                      double cpu)
{
    if (t == NULL)
        return;
    if (t->n == KGA_TIMELINE_MAX) {
        t->dropped++;
        return;
    }
    kga_timeline_entry_t *e = &t->entry[t->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->wall = wall;
    e->cpu = cpu;
}

void kga_timeline_mark(kga_timeline_t *t, const char *fmt, ...)
{
    if (t == NULL)
        return;
    char name[KGA_TIMELINE_NAME];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    double w = kga_clock_seconds(), c = kga_cpu_seconds();
    kga_timeline_add(t, name, w - t->wall_mark, c - t->cpu_mark);
    t->wall_mark = w;
    t->cpu_mark = c;
}

void kga_timeline_append(kga_timeline_t *t, const kga_timeline_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        kga_timeline_add(t, src->entry[i].name, src->entry[i].wall,
                         src->entry[i].cpu);
    t->dropped += src->dropped;
    t->wall_mark = src->wall_mark;
    t->cpu_mark = src->cpu_mark;
}
