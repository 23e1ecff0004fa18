/* What every subcommand prints besides its results: the progress line on
 * stderr (on a terminal, or as KGALIGN_PROGRESS says) and errors in one
 * form, "kgalign CMD: ...". core/ never prints, it reports progress through
 * a callback; the commands draw it here, all alike. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "base/clock.h"

static int progress_enabled = -1;
static int progress_drawn;
static double progress_last;

static void draw_progress(void *ctx, const char *stage, uint64_t done,
                          uint64_t total)
{
    (void)ctx;
    if (progress_enabled < 0) {
        const char *force = getenv("KGALIGN_PROGRESS");
        progress_enabled = force != NULL ? strcmp(force, "0") != 0
                                         : isatty(STDERR_FILENO);
    }
    if (!progress_enabled)
        return;
    /* Redrawing more than ten times a second only costs time. */
    double t = kga_clock_seconds();
    if (done != total && t - progress_last < 0.1)
        return;
    progress_last = t;
    if (total > 0)
        fprintf(stderr, "\r\033[K%s: %llu / %llu (%.0f%%)", stage,
                (unsigned long long)done, (unsigned long long)total,
                100.0 * (double)done / (double)total);
    else
        fprintf(stderr, "\r\033[K%s: %llu", stage, (unsigned long long)done);
    progress_drawn = 1;
}

const kga_progress_t *kga_cli_progress(void)
{
    static const kga_progress_t reporter = {draw_progress, NULL};
    return &reporter;
}

void kga_cli_progress_done(void)
{
    if (progress_drawn) {
        fputs("\r\033[K", stderr);
        progress_drawn = 0;
    }
}

static void __attribute__((format(printf, 2, 0)))
print_error(const char *cmd, const char *fmt, va_list ap)
{
    kga_cli_progress_done();
    fprintf(stderr, "kgalign %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void kga_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_error(cmd, fmt, ap);
    va_end(ap);
}

int kga_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_error(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'kgalign %s --help'.\n", cmd);
    return 2;
}
