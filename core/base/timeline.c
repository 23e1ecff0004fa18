/* The stage timings of a long run (see timeline.h): a fixed array, so that
 * recording a stage can never fail in the middle of training. */
#include "base/timeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

double kga_peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0.0;
    char line[256];
    double kb = 0.0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtod(line + 6, NULL);
            break;
        }
    fclose(f);
    return kb / 1024.0;
}

void kga_peak_rss_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL)
        return;
    fputs("5", f);
    fclose(f);
}

void kga_timeline_start(kga_timeline_t *t)
{
    memset(t, 0, sizeof *t);
    kga_peak_rss_reset();
    t->wall_mark = kga_clock_seconds();
    t->cpu_mark = kga_cpu_seconds();
}

void kga_timeline_add(kga_timeline_t *t, const char *name, double wall,
                      double cpu, double peak_mb)
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
    e->peak_mb = peak_mb;
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
    kga_timeline_add(t, name, w - t->wall_mark, c - t->cpu_mark,
                     kga_peak_rss_mb());
    kga_peak_rss_reset();
    t->wall_mark = w;
    t->cpu_mark = c;
}

void kga_timeline_append(kga_timeline_t *t, const kga_timeline_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        kga_timeline_add(t, src->entry[i].name, src->entry[i].wall,
                         src->entry[i].cpu, src->entry[i].peak_mb);
    t->dropped += src->dropped;
    t->wall_mark = src->wall_mark;
    t->cpu_mark = src->cpu_mark;
}
