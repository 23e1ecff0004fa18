/* The service's counters and their Prometheus text exposition (see
 * metrics.h). Plain data without locks: each HTTP thread records into its
 * own kga_metrics_t under its own lock (server.c) and a scrape adds them up
 * here, so the exposition is tested without a server. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static const double bucket_bounds[KGA_METRICS_N_BUCKETS] = {
    KGA_METRICS_BUCKETS};
static const int statuses[KGA_METRICS_N_STATUSES] = {KGA_METRICS_STATUSES};

_Static_assert(sizeof bucket_bounds / sizeof bucket_bounds[0] ==
                   KGA_METRICS_N_BUCKETS,
               "KGA_METRICS_N_BUCKETS matches KGA_METRICS_BUCKETS");
_Static_assert(sizeof statuses / sizeof statuses[0] ==
                   KGA_METRICS_N_STATUSES,
               "KGA_METRICS_N_STATUSES matches KGA_METRICS_STATUSES");

void kga_metrics_init(kga_metrics_t *m)
{
    memset(m, 0, sizeof *m);
}

static int status_slot(int status)
{
    int fallback = 0;
    for (int i = 0; i < KGA_METRICS_N_STATUSES; i++) {
        if (statuses[i] == status)
            return i;
        if (statuses[i] == 500)
            fallback = i;
    }
    return fallback;
}

void kga_metrics_request(kga_metrics_t *m, kga_route_t route, int status,
                         double seconds, size_t pairs)
{
    if ((unsigned)route >= KGA_ROUTE_COUNT_)
        route = KGA_ROUTE_UNKNOWN;
    m->requests[route][status_slot(status)]++;
    int b = 0;
    while (b < KGA_METRICS_N_BUCKETS && seconds > bucket_bounds[b])
        b++;
    m->duration_bucket[route][b]++;
    m->duration_sum[route] += seconds;
    m->pairs_scored += pairs;
}

void kga_metrics_add(kga_metrics_t *dst, const kga_metrics_t *src)
{
    for (int r = 0; r < KGA_ROUTE_COUNT_; r++) {
        for (int s = 0; s < KGA_METRICS_N_STATUSES; s++)
            dst->requests[r][s] += src->requests[r][s];
        for (int b = 0; b <= KGA_METRICS_N_BUCKETS; b++)
            dst->duration_bucket[r][b] += src->duration_bucket[r][b];
        dst->duration_sum[r] += src->duration_sum[r];
    }
    dst->pairs_scored += src->pairs_scored;
    dst->reloads += src->reloads;
    dst->reload_failures += src->reload_failures;
    dst->deadline_cancelled += src->deadline_cancelled;
    dst->inline_requests += src->inline_requests;
    for (int p = 0; p < KGA_READ_PHASE_COUNT_; p++)
        dst->read_timeouts[p] += src->read_timeouts[p];
}

/* A growing text buffer; a failed allocation sticks and is reported once at
 * the end. */
typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} text_t;

static void text_printf(text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_printf(text_t *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *p = realloc(t->buf, cap);
        if (p == NULL) {
            t->failed = 1;
            return;
        }
        t->buf = p;
        t->cap = cap;
    }
}

static void family(text_t *t, const char *name, const char *type,
                   const char *help)
{
    text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \\, \" and \n escaped as the format requires. */
static void label_value(text_t *t, const char *v)
{
    text_printf(t, "\"");
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            text_printf(t, "\\\\");
        else if (*p == '"')
            text_printf(t, "\\\"");
        else if (*p == '\n')
            text_printf(t, "\\n");
        else
            text_printf(t, "%c", *p);
    }
    text_printf(t, "\"");
}

static void format_requests(text_t *t, const kga_metrics_t *m)
{
    family(t, "kgalign_requests_total", "counter",
           "HTTP requests answered, by route and status.");
    for (int r = 0; r < KGA_ROUTE_COUNT_; r++)
        for (int s = 0; s < KGA_METRICS_N_STATUSES; s++) {
            uint64_t v = m->requests[r][s];
            /* The success series of the scoring routes always exist, so
             * rate() sees them from the first scrape. */
            int always = statuses[s] == 200 && kga_route_is_work(r);
            if (v == 0 && !always)
                continue;
            text_printf(t,
                        "kgalign_requests_total{route=\"%s\",status=\"%d\"} "
                        "%llu\n",
                        kga_route_label((kga_route_t)r), statuses[s],
                        (unsigned long long)v);
        }
}

static void format_duration(text_t *t, const kga_metrics_t *m)
{
    const char *name = "kgalign_request_duration_seconds";
    family(t, name, "histogram",
           "Time from the request's headers to its response, by route.");
    for (int r = 0; r < KGA_ROUTE_COUNT_; r++) {
        uint64_t total = 0;
        for (int b = 0; b <= KGA_METRICS_N_BUCKETS; b++)
            total += m->duration_bucket[r][b];
        if (total == 0 && !kga_route_is_work(r))
            continue;
        const char *route = kga_route_label((kga_route_t)r);
        uint64_t cum = 0;
        for (int b = 0; b < KGA_METRICS_N_BUCKETS; b++) {
            cum += m->duration_bucket[r][b];
            text_printf(t, "%s_bucket{route=\"%s\",le=\"%g\"} %llu\n", name,
                        route, bucket_bounds[b], (unsigned long long)cum);
        }
        text_printf(t, "%s_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", name,
                    route, (unsigned long long)total);
        text_printf(t, "%s_sum{route=\"%s\"} %.9g\n", name, route,
                    m->duration_sum[r]);
        text_printf(t, "%s_count{route=\"%s\"} %llu\n", name, route,
                    (unsigned long long)total);
    }
}

static void gauge(text_t *t, const char *name, const char *help,
                  long long value)
{
    family(t, name, "gauge", help);
    text_printf(t, "%s %lld\n", name, value);
}

static void counter(text_t *t, const char *name, const char *help,
                    unsigned long long value)
{
    family(t, name, "counter", help);
    text_printf(t, "%s %llu\n", name, value);
}

int kga_metrics_format(const kga_metrics_t *m, const kga_metrics_gauges_t *g,
                       char **out, size_t *out_len)
{
    text_t t = {.buf = malloc(8192), .cap = 8192};
    *out = NULL;
    *out_len = 0;
    if (t.buf == NULL)
        return KGA_ENOMEM;
    t.buf[0] = '\0';

    format_requests(&t, m);
    format_duration(&t, m);
    counter(&t, "kgalign_pairs_scored_total",
            "Entity pairs scored by the model (/align pairs, /match "
            "candidates).",
            (unsigned long long)m->pairs_scored);
    gauge(&t, "kgalign_inflight_requests",
          "Scoring requests accepted and not yet answered.", g->inflight);
    gauge(&t, "kgalign_max_inflight_requests",
          "Configured cap on in-flight requests; more are answered 503.",
          g->max_inflight);
    gauge(&t, "kgalign_body_memory_bytes",
          "Bytes held by request bodies being read or answered.",
          g->body_bytes);
    gauge(&t, "kgalign_max_body_memory_bytes",
          "Configured cap on those bytes (max_body_memory); a body past it "
          "is answered 503.",
          g->max_body_bytes);
    gauge(&t, "kgalign_queue_depth",
          "Accepted requests waiting for a worker thread.", g->queue_depth);
    gauge(&t, "kgalign_worker_threads", "Size of the worker pool.",
          g->pool_threads);
    gauge(&t, "kgalign_http_threads",
          "Event-loop threads serving HTTP.",
          g->http_threads);
    family(&t, "kgalign_http_thread_connections", "gauge",
           "Open connections served by each HTTP thread (the acceptor "
           "gives a new one to the thread with the fewest).");
    for (int i = 0; g->thread_connections != NULL && i < g->http_threads;
         i++)
        text_printf(&t, "kgalign_http_thread_connections{thread=\"%d\"} "
                        "%lld\n",
                    i, (long long)g->thread_connections[i]);
    counter(&t, "kgalign_inline_requests_total",
            "Scoring requests answered on their HTTP thread, without the "
            "hand-off to a worker (small ones on routes whose recent work "
            "was cheap).",
            (unsigned long long)m->inline_requests);
    gauge(&t, "kgalign_open_connections", "Open HTTP connections.",
          g->connections);
    gauge(&t, "kgalign_ready", "1 when /readyz answers 200.", g->ready);
    gauge(&t, "kgalign_draining", "1 after SIGTERM, while draining.",
          g->draining);

    family(&t, "kgalign_snapshot_version", "gauge",
           "Number of the snapshot being served (1 = the first load of "
           "this process), labelled with the model version; absent before "
           "the first load.");
    if (g->has_snapshot) {
        text_printf(&t, "kgalign_snapshot_version{model_version=");
        label_value(&t, g->model_version != NULL ? g->model_version : "");
        text_printf(&t, "} %llu\n", (unsigned long long)g->snapshot_version);
    }
    family(&t, "kgalign_snapshot_load_seconds", "gauge",
           "Time taken to load and validate the snapshot being served.");
    if (g->has_snapshot)
        text_printf(&t, "kgalign_snapshot_load_seconds %.6f\n",
                    g->snapshot_load_seconds);
    family(&t, "kgalign_snapshot_loaded_timestamp_seconds", "gauge",
           "Unix time at which the snapshot being served finished loading.");
    if (g->has_snapshot)
        text_printf(&t, "kgalign_snapshot_loaded_timestamp_seconds %.3f\n",
                    g->snapshot_loaded_at);
    counter(&t, "kgalign_reloads_total",
            "Snapshot loads that succeeded, the first one included.",
            (unsigned long long)m->reloads);
    counter(&t, "kgalign_reload_failures_total",
            "Snapshot loads that failed (the previous snapshot kept serving).",
            (unsigned long long)m->reload_failures);
    counter(&t, "kgalign_deadline_cancelled_total",
            "Requests answered 504 because their deadline passed before a "
            "worker started them.",
            (unsigned long long)m->deadline_cancelled);
    family(&t, "kgalign_read_timeouts_total", "counter",
           "Connections closed because the client had not sent a whole "
           "request within request_read_timeout_s, by what was missing.");
    static const char *const read_phases[KGA_READ_PHASE_COUNT_] = {
        "request_line", "headers", "body"};
    for (int p = 0; p < KGA_READ_PHASE_COUNT_; p++)
        text_printf(&t, "kgalign_read_timeouts_total{phase=\"%s\"} %llu\n",
                    read_phases[p], (unsigned long long)m->read_timeouts[p]);
    family(&t, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch in seconds.");
    text_printf(&t, "process_start_time_seconds %.3f\n", g->start_time);

    if (t.failed) {
        free(t.buf);
        return KGA_ENOMEM;
    }
    *out = t.buf;
    *out_len = t.len;
    return 0;
}
