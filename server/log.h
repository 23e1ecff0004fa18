#ifndef KGA_SERVER_LOG_H
#define KGA_SERVER_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Structured logging for the service: one JSON object per line on stderr,
 * one line per request and one per event ("listening", "snapshot_loaded",
 * "reload_failed", "drain_started", ...). Every line has "time" (UTC,
 * ISO 8601 with milliseconds), "level" and "event"; request lines add
 * "request_id", "method", "path", "status", "duration_ms", "pairs".
 *
 * A line is built in a caller-owned kga_logline_t (no allocation) and
 * written with a single write(2), so lines from several threads never
 * interleave. The threshold is process-wide and set once before threads
 * start; every function below is thread-safe. The kga_logline_*
 * functions are also async-signal-safe (no lock, no allocation, no stdio):
 * a signal handler may log a line with them. */

/* Longest line; longer values are cut (strings end with "..."). */
#define KGA_LOG_LINE_MAX 2048
/* A generated request id: 128 random bits as 32 lowercase hex digits. */
#define KGA_REQUEST_ID_GEN_LEN 32

typedef struct {
    char buf[KGA_LOG_LINE_MAX];
    size_t len;
    int enabled; /* 0 when the level is below the threshold */
} kga_logline_t;

/* Lines below `level` are dropped. Default KGA_LOG_INFO. */
void kga_log_set_level(kga_log_level_t level);
int kga_log_enabled(kga_log_level_t level);

/* Starts a line with time, level and event. */
void kga_logline_begin(kga_logline_t *l, kga_log_level_t level,
                       const char *event);
/* Adds "key": value. Strings are JSON-escaped: control bytes, and every
 * byte that is not part of well-formed UTF-8, as \u00XX (so a line is
 * always valid JSON, whatever bytes a client sent). */
void kga_logline_str(kga_logline_t *l, const char *key, const char *value);
void kga_logline_strn(kga_logline_t *l, const char *key, const char *value,
                      size_t len);
void kga_logline_int(kga_logline_t *l, const char *key, int64_t value);
void kga_logline_num(kga_logline_t *l, const char *key, double value);
/* Closes the object and writes the line. */
void kga_logline_end(kga_logline_t *l);

/* Shorthand for an event with a message: {"event", "message"}. */
void kga_log_event(kga_log_level_t level, const char *event,
                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes a fresh random request id (KGA_REQUEST_ID_GEN_LEN hex digits and a
 * NUL) into out. Thread-safe: each thread has its own generator, seeded
 * from getrandom(2). */
void kga_request_id_generate(char *out);

#endif
