#ifndef KGA_CLOCK_H
#define KGA_CLOCK_H

#include <time.h>

/* Seconds on the monotonic clock, from an arbitrary start: the difference
 * of two readings is the time between them, whatever happens to the wall
 * clock. For the durations the importer, the trainer, the evaluator and
 * the commands report, and the progress line's pacing. Cannot fail. */
static inline double kga_clock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
