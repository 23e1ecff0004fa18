/* The progress line every subcommand draws on stderr: what core/ reports
 * (a stage in words, items done of a total) with the rate and the time
 * left, redrawn at least once a second by a thread of its own, so that a
 * stage whose items are slow still shows that it is alive. Separate from
 * the error printing in cli_util.c because it owns a thread and a lock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "commands.h"

/* Redraws from reports at most this often (seconds)... */
#define DRAW_EVERY 0.2
/* ...and from the clock at least this often. */
#define TICK_NS 1000000000L
/* The rate is shown once a stage has run this long (seconds). */
#define RATE_AFTER 1.0

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int enabled = -1;
static int drawn;
static int active;
static int ticker_started;
static struct {
    char stage[192];
    char unit[32];
    uint64_t done, total;
    uint64_t start_done;
    double start, last_draw;
} cur;

/* n with a comma every three digits, as "1,441,000". */
static void put_count(char *out, size_t cap, uint64_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < cap; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void put_duration(char *out, size_t cap, double s)
{
    long t = s > 0 ? (long)(s + 0.5) : 0;
    if (t < 90)
        snprintf(out, cap, "%ld s", t);
    else if (t < 5400)
        snprintf(out, cap, "%ld min %02ld s", t / 60, t % 60);
    else
        snprintf(out, cap, "%ld h %02ld min", t / 3600, t % 3600 / 60);
}

void kga_cli_progress_format(char *out, size_t cap, const char *stage,
                             const char *unit, uint64_t done, uint64_t total,
                             double elapsed, uint64_t done_in_elapsed)
{
    char a[32], b[32], rate[48] = "", left[48] = "";
    size_t o = (size_t)snprintf(out, cap, "%s", stage);
    if (o >= cap)
        return;
    if (unit != NULL) {
        put_count(a, sizeof a, done);
        if (total > 0) {
            put_count(b, sizeof b, total);
            o += (size_t)snprintf(out + o, cap - o, ": %s of %s %s (%.0f%%)",
                                  a, b, unit,
                                  100.0 * (double)done / (double)total);
        } else {
            o += (size_t)snprintf(out + o, cap - o, ": %s %s", a, unit);
        }
        if (o >= cap)
            return;
        if (elapsed >= RATE_AFTER) {
            double r = (double)done_in_elapsed / elapsed;
            put_count(a, sizeof a, (uint64_t)(r + 0.5));
            snprintf(rate, sizeof rate, ", %s/s", a);
            if (total > done && r > 0) {
                char d[32];
                put_duration(d, sizeof d, (double)(total - done) / r);
                snprintf(left, sizeof left, ", %s left", d);
            }
        }
    }
    char d[32];
    put_duration(d, sizeof d, elapsed);
    snprintf(out + o, cap - o, "%s%s [%s]", rate, left, d);
}

/* Draws the line; lock held. */
static void draw(double now)
{
    char line[320];
    kga_cli_progress_format(line, sizeof line, cur.stage,
                            cur.unit[0] ? cur.unit : NULL, cur.done,
                            cur.total, now - cur.start,
                            cur.done - cur.start_done);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    drawn = 1;
    cur.last_draw = now;
}

static void *ticker(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = {0, TICK_NS};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&lock);
        double now = kga_clock_seconds();
        if (active && now - cur.last_draw >= 0.9)
            draw(now);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void report(void *ctx, const char *stage, const char *unit,
                   uint64_t done, uint64_t total)
{
    (void)ctx;
    pthread_mutex_lock(&lock);
    if (enabled < 0) {
        const char *force = getenv("KGALIGN_PROGRESS");
        enabled = force != NULL ? strcmp(force, "0") != 0
                                : isatty(STDERR_FILENO);
    }
    if (!enabled) {
        pthread_mutex_unlock(&lock);
        return;
    }
    if (!ticker_started) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        ticker_started = 1; /* once, even if it fails: then reports draw */
        pthread_create(&t, &attr, ticker, NULL);
        pthread_attr_destroy(&attr);
    }
    double now = kga_clock_seconds();
    const char *u = unit != NULL ? unit : "";
    if (!active || strcmp(stage, cur.stage) != 0 || strcmp(u, cur.unit) != 0 ||
        done < cur.done) {
        snprintf(cur.stage, sizeof cur.stage, "%s", stage);
        snprintf(cur.unit, sizeof cur.unit, "%s", u);
        cur.start = now;
        cur.start_done = done;
        cur.last_draw = 0;
    }
    cur.done = done;
    cur.total = total;
    active = 1;
    if (now - cur.last_draw >= DRAW_EVERY || (total > 0 && done == total))
        draw(now);
    pthread_mutex_unlock(&lock);
}

const kga_progress_t *kga_cli_progress(void)
{
    static const kga_progress_t reporter = {report, NULL};
    return &reporter;
}

void kga_cli_progress_done(void)
{
    pthread_mutex_lock(&lock);
    if (drawn) {
        fputs("\r\033[K", stderr);
        drawn = 0;
    }
    active = 0;
    pthread_mutex_unlock(&lock);
}
