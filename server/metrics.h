#ifndef KGA_SERVER_METRICS_H
#define KGA_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "routes.h"

/* The service's counters and their Prometheus text exposition (format
 * 0.0.4). Each HTTP thread has its own kga_metrics_t, recorded under its
 * own lock (uncontended but for scrapes); a scrape adds them up with
 * kga_metrics_add. Gauges are read by the caller and passed in at format
 * time. Units are base units: seconds, bytes. */

/* Upper bounds of the latency histogram, in seconds; +Inf is implicit. */
#define KGA_METRICS_BUCKETS                                                 \
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,   \
        2.5, 5.0, 10.0
#define KGA_METRICS_N_BUCKETS 14

/* Every status the service answers with; others are counted as 500. */
#define KGA_METRICS_STATUSES \
    200, 202, 400, 401, 403, 404, 405, 409, 413, 500, 503, 504
#define KGA_METRICS_N_STATUSES 12

/* What a connection closed at its read deadline had not yet sent. */
typedef enum {
    KGA_READ_REQUEST_LINE, /* nothing, or part of the request line */
    KGA_READ_HEADERS,      /* the request line, not all the headers */
    KGA_READ_BODY,         /* the headers, not all the body */
    KGA_READ_PHASE_COUNT_
} kga_read_phase_t;

typedef struct {
    uint64_t requests[KGA_ROUTE_COUNT_][KGA_METRICS_N_STATUSES];
    /* Per-bucket (not cumulative) counts; the last one is +Inf. */
    uint64_t duration_bucket[KGA_ROUTE_COUNT_][KGA_METRICS_N_BUCKETS + 1];
    double duration_sum[KGA_ROUTE_COUNT_];
    uint64_t pairs_scored;
    uint64_t reloads;
    uint64_t reload_failures;
    uint64_t deadline_cancelled; /* 504s answered before the work started */
    uint64_t inline_requests;    /* scored on the HTTP thread */
    uint64_t read_timeouts[KGA_READ_PHASE_COUNT_]; /* connections closed */
} kga_metrics_t;

/* Values sampled at scrape time. */
typedef struct {
    int64_t inflight;    /* requests handed to the pool, not yet answered */
    int64_t queue_depth; /* of those, the ones no pool thread has started */
    int64_t connections; /* open HTTP connections */
    int ready;           /* what /readyz answers */
    int draining;
    int has_snapshot;
    uint64_t snapshot_version;
    const char *model_version;
    double snapshot_load_seconds;
    double snapshot_loaded_at; /* Unix seconds */
    double start_time;         /* Unix seconds */
    int max_inflight;
    int64_t body_bytes;     /* held by request bodies (body.h) */
    int64_t max_body_bytes; /* max_body_memory */
    int pool_threads;
    int http_threads;
    /* [http_threads]: the connections each HTTP thread serves */
    const int64_t *thread_connections;
} kga_metrics_gauges_t;

void kga_metrics_init(kga_metrics_t *m);

/* One answered request: its route, HTTP status, latency and the pairs
 * scored for it. */
void kga_metrics_request(kga_metrics_t *m, kga_route_t route, int status,
                         double seconds, size_t pairs);

/* Adds every counter of src to dst. */
void kga_metrics_add(kga_metrics_t *dst, const kga_metrics_t *src);

/* The exposition text into a malloc'd buffer *out (*out_len bytes, caller
 * frees). Returns 0 or KGA_ENOMEM. */
int kga_metrics_format(const kga_metrics_t *m, const kga_metrics_gauges_t *g,
                       char **out, size_t *out_len);

#endif
