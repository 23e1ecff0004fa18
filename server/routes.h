#ifndef KGA_SERVER_ROUTES_H
#define KGA_SERVER_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "align/aligner.h"
#include "proto/wire.h"

/* The routes of the service and the work behind /align and /match. The
 * work functions are pure computation over an immutable aligner: no HTTP,
 * no globals; they run on libuv pool threads. */

typedef enum {
    KGA_ROUTE_ALIGN = 0,
    KGA_ROUTE_MATCH,
    KGA_ROUTE_HEALTHZ,
    KGA_ROUTE_READYZ,
    KGA_ROUTE_METRICS,
    KGA_ROUTE_RELOAD,
    KGA_ROUTE_UNKNOWN, /* 404 */
    KGA_ROUTE_COUNT_
} kga_route_t;

/* Longer than any route's path, with its NUL: a normalised path that does
 * not fit in this many bytes is no route. */
#define KGA_ROUTE_PATH_MAX 64

/* Route of a request path (query string already removed by libmicrohttpd,
 * normalised by kga_path_normalise()); KGA_ROUTE_UNKNOWN when none
 * matches. */
kga_route_t kga_route_find(const char *path);

/* The path ("/align") or "other" for KGA_ROUTE_UNKNOWN: the metrics label. */
const char *kga_route_label(kga_route_t route);

/* The one method a route accepts ("POST" or "GET"), the Allow header of a
 * 405; NULL for KGA_ROUTE_UNKNOWN. */
const char *kga_route_method(kga_route_t route);

/* Whether the route's work runs on the pool (/align, /match). */
int kga_route_is_work(kga_route_t route);

/* Pairs scored per kga_aligner_score call: the deadline is checked between
 * batches, so a request over its deadline stops after at most one more. */
#define KGA_ROUTE_SCORE_BATCH 64

/* One /align or /match call. The caller fills the inputs; the call fills
 * the outputs. */
typedef struct {
    /* inputs, borrowed for the call */
    const kga_aligner_t *aligner;
    const char *body;
    size_t body_len;
    const kga_wire_limits_t *limits;
    const char *request_id;
    uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = none */

    /* outputs */
    int status;    /* HTTP status of the response */
    char *out;     /* malloc'd JSON body (caller frees); NULL on ENOMEM */
    size_t out_len;
    size_t pairs;  /* pairs scored (/align) or candidates (/match) */
} kga_route_call_t;

/* Decode, resolve ids, score (in batches, checking the deadline), encode.
 * Always sets status; out is NULL only when memory ran out (status 500). */
void kga_route_align(kga_route_call_t *c);
void kga_route_match(kga_route_call_t *c);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t kga_now_ns(void);

#endif
