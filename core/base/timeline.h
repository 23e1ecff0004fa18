#ifndef KGA_TIMELINE_H
#define KGA_TIMELINE_H

#include <stddef.h>

/* Where the time of a long run went: a list of named intervals with their
 * wall and CPU seconds (of the whole process, every thread) and the peak
 * resident memory within each, which the trainer fills as its stages end
 * and `kgalign train` prints as a table. On a machine shared with other
 * work, CPU time says what the run cost where wall time says how long it
 * waited too. The peak of a stage comes from Linux's VmHWM, reset at every
 * mark (/proc/self/clear_refs); where the reset is refused the peaks are
 * the process's so far. The caller owns the struct; nothing allocates and
 * nothing fails: marks past the capacity are counted in `dropped`. */

#define KGA_TIMELINE_MAX 64
#define KGA_TIMELINE_NAME 64

typedef struct {
    char name[KGA_TIMELINE_NAME];
    double wall, cpu; /* seconds */
    double peak_mb;   /* the process's peak resident memory in the stage
                         (MB; 0 when unknown) */
} kga_timeline_entry_t;

typedef struct {
    kga_timeline_entry_t entry[KGA_TIMELINE_MAX];
    size_t n, dropped;
    double wall_mark, cpu_mark; /* clocks at the last mark */
} kga_timeline_t;

/* CPU seconds of the process so far (all threads). */
double kga_cpu_seconds(void);

/* Empties t and starts its clocks. */
void kga_timeline_start(kga_timeline_t *t);

/* Appends the interval since the start or the last mark, named by the
 * printf-style format (truncated to KGA_TIMELINE_NAME - 1 bytes). A NULL
 * t does nothing. */
void kga_timeline_mark(kga_timeline_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends the entries of src to t, and takes src's marks as t's (src is
 * a stage that ran since t's last mark, with a timeline of its own). */
void kga_timeline_append(kga_timeline_t *t, const kga_timeline_t *src);

/* Appends an entry measured elsewhere (wall and cpu seconds, peak MB). */
void kga_timeline_add(kga_timeline_t *t, const char *name, double wall,
                      double cpu, double peak_mb);

/* The process's peak resident memory since the last reset, in MB (0 when
 * unknown), and the reset. */
double kga_peak_rss_mb(void);
void kga_peak_rss_reset(void);

#endif
