/* libmicrohttpd's access handler: a request from its headers to its answer.
 * The first call (headers in) routes it and checks the limits it can check
 * already (method, Content-Length, readiness, the in-flight cap); the
 * following calls collect the body; the last one answers: GET routes at
 * once, /align and /match through work.c, /admin/reload through the first
 * thread's mailbox. An error decided before the body ended is answered when
 * it ends (reject()), so that the client reads its answer. Also the
 * responses every piece builds, and the access log line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "admin.h"
#include "log.h"
#include "server_internal.h"

/* After a body went over the limit, this much more is read and dropped so
 * that the client can be told 413; past it the connection is closed. */
#define DISCARD_MAX (1u << 20)

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One answered request in srv's counters; any thread. */
static void record_request(kga_server_t *srv, kga_route_t route, int status,
                           uint64_t start_ns, uint64_t end_ns, size_t pairs)
{
    kga_server_metrics_lock(srv);
    kga_metrics_request(&srv->metrics, route, status,
                        (double)(end_ns - start_ns) / 1e9, pairs);
    kga_server_metrics_unlock(srv);
}

/* The whole response for any thread: body (malloc'd, ownership passes to
 * libmicrohttpd, NULL allowed) and the headers every answer carries. */
struct MHD_Response *kga_request_response(const kga_request_t *r, char *body,
                                          size_t len, int status,
                                          const char *content_type)
{
    struct MHD_Response *resp;
    if (body != NULL)
        resp = MHD_create_response_from_buffer(len, body,
                                               MHD_RESPMEM_MUST_FREE);
    else
        resp = MHD_create_response_from_buffer(0, NULL,
                                               MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    if (status == 503) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", r->srv->cfg->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    return resp;
}

/* An error body for code with the request's id and the current model. */
struct MHD_Response *kga_request_error_response(const kga_request_t *r,
                                                const char *model_version,
                                                kga_wire_code_t code,
                                                const char *message,
                                                int *status)
{
    kga_wire_meta_t meta = {r->id, model_version};
    char *out = NULL;
    size_t len = 0;
    *status = kga_wire_code_status(code);
    if (kga_error_response_format(&meta, kga_wire_code_name(code), message,
                                  &out, &len) != 0)
        *status = 500;
    return kga_request_response(r, out, len, *status, KGA_JSON_TYPE);
}

void kga_request_log(const kga_request_t *r, int status, uint64_t end_ns,
                     size_t pairs)
{
    if (!r->srv->cfg->access_log)
        return;
    kga_logline_t l;
    kga_logline_begin(&l, KGA_LOG_INFO, "request");
    if (!l.enabled)
        return;
    kga_logline_str(&l, "request_id", r->id);
    kga_logline_str(&l, "method", r->method);
    kga_logline_str(&l, "path", r->path);
    kga_logline_int(&l, "status", status);
    kga_logline_num(&l, "duration_ms", (double)(end_ns - r->start_ns) / 1e6);
    kga_logline_int(&l, "pairs", (int64_t)pairs);
    kga_logline_end(&l);
}

/* Queues the prepared response (loop thread, inside the access handler). */
enum MHD_Result kga_request_queue_prepared(kga_request_t *r)
{
    struct MHD_Response *resp = r->response;
    r->response = NULL;
    r->state = KGA_REQ_DONE;
    if (resp == NULL)
        return MHD_NO; /* out of memory building it: drop the connection */
    if (r->close_after || kga_service_draining(r->srv->svc))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status,
                                             resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Answers on the loop thread, now: records metrics and the log line. */
static enum MHD_Result answer(kga_request_t *r, struct MHD_Response *resp,
                              int status)
{
    uint64_t now = kga_now_ns();
    record_request(r->srv, r->route, status, r->start_ns, now, 0);
    kga_request_log(r, status, now, 0);
    r->response = resp;
    r->status = status;
    return kga_request_queue_prepared(r);
}

enum MHD_Result kga_request_answer_error(kga_request_t *r, kga_wire_code_t code,
                                         const char *message)
{
    int status;
    kga_snapshot_t *snap = kga_service_snapshot_pin(r->srv->svc);
    struct MHD_Response *resp = kga_request_error_response(
        r, snap != NULL ? kga_snapshot_model_version(snap) : NULL, code,
        message, &status);
    kga_snapshot_unref(snap);
    if (resp != NULL && code == KGA_WIRE_METHOD_NOT_ALLOWED) {
        const char *m = kga_route_method(r->route);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                strcmp(m, "GET") == 0 ? "GET, HEAD" : m);
    }
    return answer(r, resp, status);
}

static enum MHD_Result answer_status(kga_request_t *r, int status,
                                     const char *text)
{
    kga_snapshot_t *snap = kga_service_snapshot_pin(r->srv->svc);
    kga_wire_meta_t meta = {
        r->id, snap != NULL ? kga_snapshot_model_version(snap) : NULL};
    char *out = NULL;
    size_t len = 0;
    int rc = kga_status_response_format(&meta, text, &out, &len);
    kga_snapshot_unref(snap);
    if (rc != 0)
        return kga_request_answer_error(r, KGA_WIRE_INTERNAL, "out of memory");
    return answer(r, kga_request_response(r, out, len, status, KGA_JSON_TYPE),
                  status);
}

static void reject(kga_request_t *r, kga_wire_code_t code, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));

/* Decides the answer now; it is sent once the body has been read. */
static void reject(kga_request_t *r, kga_wire_code_t code, const char *fmt,
                   ...)
{
    if (r->reject_status != 0)
        return; /* the first reason stands */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reject_msg, sizeof r->reject_msg, fmt, ap);
    va_end(ap);
    r->reject_code = code;
    r->reject_status = kga_wire_code_status(code);
    kga_body_free(&r->body, &r->srv->svc->bodies);
}

/* r, suspended, has its response: counted and logged here, queued by its
 * own thread once that resumes it. Any thread. */
void kga_request_resume_answered(kga_request_t *r, uint64_t now)
{
    record_request(r->srv, r->route, r->status, r->start_ns, now, 0);
    kga_request_log(r, r->status, now, 0);
    r->state = KGA_REQ_ANSWERED;
    kga_mail_post(r->srv, 0, r);
}

/* Answers the suspended r with an error, from any thread. */
void kga_request_resume_with_error(kga_request_t *r, kga_wire_code_t code,
                                   const char *message)
{
    kga_snapshot_t *snap = kga_service_snapshot_pin(r->srv->svc);
    r->response = kga_request_error_response(
        r, snap != NULL ? kga_snapshot_model_version(snap) : NULL, code,
        message, &r->status);
    kga_snapshot_unref(snap);
    kga_request_resume_answered(r, kga_now_ns());
}

static void check_admin(kga_request_t *r)
{
    const char *token = r->srv->cfg->admin_token;
    const char *auth = MHD_lookup_connection_value(
        r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (kga_admin_allowed(auth, token))
        return;
    if (token[0] == '\0')
        reject(r, KGA_WIRE_FORBIDDEN,
               "/admin/reload is off: no admin_token is set (SIGHUP "
               "reloads)");
    else
        reject(r, KGA_WIRE_FORBIDDEN,
               "/admin/reload needs the admin token as a bearer token");
}

/* 1 when the serving snapshot's files changed on disk (work.c, reload.c):
 * it is not served until a reload succeeds. */
static int serving_stale(kga_service_t *svc)
{
    kga_snapshot_t *snap = kga_service_snapshot_pin(svc);
    int stale = snap != NULL && kga_snapshot_stale(snap);
    kga_snapshot_unref(snap);
    return stale;
}

/* Every HTTP thread's counters added up, and the shared gauges. */
static enum MHD_Result answer_metrics(kga_request_t *r)
{
    kga_service_t *svc = r->srv->svc;
    kga_metrics_t sum;
    kga_metrics_init(&sum);
    kga_metrics_gauges_t g = {0};
    int64_t *per_thread = calloc((size_t)svc->n_threads, sizeof *per_thread);
    if (per_thread == NULL)
        return kga_request_answer_error(r, KGA_WIRE_INTERNAL, "out of memory");
    for (int i = 0; i < svc->n_threads; i++) {
        kga_server_t *t = svc->threads[i];
        kga_server_metrics_lock(t);
        kga_metrics_add(&sum, &t->metrics);
        kga_server_metrics_unlock(t);
        per_thread[i] = atomic_load_explicit(&t->connections,
                                             memory_order_relaxed);
        g.connections += per_thread[i];
    }
    g.thread_connections = per_thread;
    g.inflight = atomic_load_explicit(&svc->inflight, memory_order_relaxed);
    g.queue_depth = atomic_load_explicit(&svc->queued, memory_order_relaxed);
    g.draining = kga_service_draining(svc);
    kga_snapshot_t *snap = kga_service_snapshot_pin(svc);
    g.ready = snap != NULL && !g.draining && !kga_snapshot_stale(snap);
    g.has_snapshot = snap != NULL;
    if (snap != NULL) {
        g.snapshot_version = kga_snapshot_version(snap);
        g.model_version = kga_snapshot_model_version(snap);
        g.snapshot_load_seconds = kga_snapshot_load_seconds(snap);
        g.snapshot_loaded_at = kga_snapshot_loaded_at(snap);
    }
    g.start_time = svc->start_time;
    g.max_inflight = r->srv->cfg->max_inflight;
    g.body_bytes = atomic_load_explicit(&svc->bodies.used,
                                        memory_order_relaxed);
    g.max_body_bytes = svc->bodies.max;
    g.pool_threads = svc->pool_threads;
    g.http_threads = svc->n_threads;
    char *out;
    size_t len;
    int rc = kga_metrics_format(&sum, &g, &out, &len);
    kga_snapshot_unref(snap);
    free(per_thread);
    if (rc != 0)
        return kga_request_answer_error(r, KGA_WIRE_INTERNAL, "out of memory");
    return answer(r, kga_request_response(r, out, len, 200, METRICS_TYPE), 200);
}

static enum MHD_Result answer_get(kga_request_t *r)
{
    kga_service_t *svc = r->srv->svc;
    switch (r->route) {
    case KGA_ROUTE_HEALTHZ:
        return answer_status(r, 200, "ok");
    case KGA_ROUTE_READYZ:
        if (kga_service_draining(svc))
            return kga_request_answer_error(r, KGA_WIRE_UNAVAILABLE,
                                            "draining");
        if (!kga_service_loaded(svc))
            return kga_request_answer_error(r, KGA_WIRE_NOT_READY,
                                            "no snapshot is loaded yet");
        if (serving_stale(svc))
            return kga_request_answer_error(
                r, KGA_WIRE_UNAVAILABLE,
                "the stores or the model changed on disk; loading them "
                "again");
        return answer_status(r, 200, "ready");
    case KGA_ROUTE_METRICS:
        return answer_metrics(r);
    default:
        return kga_request_answer_error(r, KGA_WIRE_INTERNAL,
                                        "no such GET route");
    }
}

/* The headers that say where a body ends, as libmicrohttpd 0.9.75 leaves
 * them: it takes the first Content-Length and ignores the rest, and ignores
 * Content-Length whenever Transfer-Encoding is present, whatever its value.
 * A proxy in front may read the same bytes otherwise, and the difference is
 * a request smuggled past it. */
typedef struct {
    const char *content_length; /* the first one */
    int content_lengths;
    int content_lengths_differ;
    const char *transfer_encoding;
    int transfer_encodings;
} framing_t;

static enum MHD_Result note_framing(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *value)
{
    framing_t *f = cls;
    if (value == NULL)
        value = "";
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->content_lengths++ == 0)
            f->content_length = value;
        else if (strcmp(value, f->content_length) != 0)
            f->content_lengths_differ = 1;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encodings++;
        f->transfer_encoding = value;
    }
    return MHD_YES;
}

/* Why the body's framing is ambiguous, or NULL when it is not. Identical
 * repeated Content-Length headers are one length (RFC 9110, 8.6). */
static const char *framing_problem(struct MHD_Connection *conn,
                                   framing_t *f)
{
    memset(f, 0, sizeof *f);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, note_framing, f);
    if (f->content_lengths_differ)
        return "two Content-Length headers with different values";
    if (f->transfer_encodings > 0 && f->content_lengths > 0)
        return "both Content-Length and Transfer-Encoding";
    if (f->transfer_encodings > 1 ||
        (f->transfer_encodings == 1 &&
         strcasecmp(f->transfer_encoding, "chunked") != 0))
        return "a Transfer-Encoding other than one 'chunked'";
    return NULL;
}

/* 1 when a NUL byte the client sent ended the target early. libmicrohttpd
 * 0.9.75 parses the request line in place: the target (url, the pointer
 * kga_conn_on_request_line() was given) is ended by the NUL written over
 * the space before the version, so the version starts one byte after the
 * target's end. A NUL byte inside the target ends the C string before
 * that, and "/admin/reload\0junk" would be routed as /admin/reload. When
 * the buffer is not laid out that way (another libmicrohttpd), nothing is
 * concluded. */
static int target_cut_by_nul(const kga_conn_t *c, const char *url,
                             const char *version)
{
    if (c->target == NULL || url != c->target || version <= c->target ||
        (size_t)(version - c->target) > (1u << 16))
        return 0;
    return version != c->target + c->target_len + 1;
}

/* An answer now, in the first call: the rest of the request is neither
 * read nor trusted, and the connection ends with the answer. */
static enum MHD_Result refuse_now(kga_request_t *r, kga_wire_code_t code,
                                  const char *message)
{
    r->close_after = 1;
    return kga_request_answer_error(r, code, message);
}

/* A Content-Length libmicrohttpd accepted (only digits) as a size;
 * SIZE_MAX when it does not fit. */
static size_t content_length_value(const char *s)
{
    size_t n = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        size_t d = (size_t)(*s - '0');
        if (n > (SIZE_MAX - d) / 10)
            return SIZE_MAX;
        n = n * 10 + d;
    }
    return n;
}

/* What a body that kga_body_reserve() or kga_body_append() refused (rc)
 * is told: 503 when the budget is spent (other bodies will end), 500 out
 * of memory. */
static const char *body_refusal(kga_request_t *r, int rc,
                                kga_wire_code_t *code, char *msg, size_t cap)
{
    if (rc == KGA_ELIMIT) {
        *code = KGA_WIRE_UNAVAILABLE;
        snprintf(msg, cap,
                 "request bodies in memory reached max_body_memory (%lld "
                 "bytes)",
                 (long long)r->srv->cfg->max_body_memory);
    } else {
        *code = KGA_WIRE_INTERNAL;
        snprintf(msg, cap, "out of memory for the body");
    }
    return msg;
}

static enum MHD_Result answer_body_refused(kga_request_t *r, int rc)
{
    kga_wire_code_t code;
    char msg[128];
    return kga_request_answer_error(r, code,
                                    body_refusal(r, rc, &code, msg,
                                                 sizeof msg));
}

static enum MHD_Result on_headers(kga_server_t *srv,
                                  struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, void **con_cls)
{
    kga_request_t *r = malloc(sizeof *r);
    if (r == NULL)
        return MHD_NO;
    /* Field by field: the inline body buffer needs no zeroing. */
    r->srv = srv;
    r->conn = conn;
    r->cx = kga_conn_of(conn);
    if (r->cx != NULL)
        r->cx->req = r;
    r->method = method;
    r->path = url;
    r->route = KGA_ROUTE_UNKNOWN;
    r->state = KGA_REQ_READING;
    r->start_ns = kga_now_ns();
    r->deadline_ns = srv->cfg->request_deadline_ms > 0
                         ? r->start_ns + (uint64_t)srv->cfg->request_deadline_ms *
                                             1000000u
                         : 0;
    kga_body_init(&r->body, r->inline_body, sizeof r->inline_body);
    r->discarded = 0;
    r->close_after = 0;
    r->reject_status = 0;
    r->reject_msg[0] = '\0';
    r->snap = NULL;
    r->response = NULL;
    r->status = 0;
    r->pairs = 0;
    r->in_deadline_list = 0;
    *con_cls = r;
    srv->open_requests++;

    const char *rid =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    size_t rid_len = rid != NULL ? strlen(rid) : 0;
    if (rid != NULL && kga_wire_request_id_valid(rid, rid_len))
        memcpy(r->id, rid, rid_len + 1);
    else
        kga_request_id_generate(r->id);

    /* The request line and the framing first: nothing else of a request
     * whose target or length is in doubt is trusted. */
    if (r->cx == NULL) /* its raw target was not kept */
        return refuse_now(r, KGA_WIRE_UNAVAILABLE,
                          "out of memory for the connection");
    if (target_cut_by_nul(r->cx, url, version))
        return refuse_now(r, KGA_WIRE_BAD_REQUEST,
                          "the request target holds a NUL byte");
    if (r->cx->target_problem != KGA_TARGET_OK)
        return refuse_now(r, KGA_WIRE_BAD_REQUEST,
                          kga_target_problem_message(r->cx->target_problem));
    char path[KGA_ROUTE_PATH_MAX];
    int prc = kga_path_normalise(url, path, sizeof path);
    if (prc == KGA_PATH_ABOVE_ROOT)
        return refuse_now(r, KGA_WIRE_BAD_REQUEST,
                          "the path climbs above the root ('..')");
    r->route = prc == 0 ? kga_route_find(path) : KGA_ROUTE_UNKNOWN;
    framing_t framing;
    const char *ambiguous = framing_problem(conn, &framing);
    if (ambiguous != NULL) {
        char msg[128];
        snprintf(msg, sizeof msg, "the request has %s", ambiguous);
        return refuse_now(r, KGA_WIRE_BAD_REQUEST, msg);
    }

    if (r->route == KGA_ROUTE_UNKNOWN) {
        reject(r, KGA_WIRE_NOT_FOUND, "no route for %s %.100s", method, url);
        return MHD_YES; /* answered once the body (if any) is read */
    }
    const char *want = kga_route_method(r->route);
    int is_get = strcmp(want, "GET") == 0;
    if (strcmp(method, want) != 0 &&
        !(is_get && strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)) {
        reject(r, KGA_WIRE_METHOD_NOT_ALLOWED, "%s does not accept %s",
               url, method);
        return MHD_YES;
    }
    if (is_get)
        return MHD_YES; /* answered once the request is complete: an
                           answer queued before that closes the
                           connection */

    /* POST: the size limit from Content-Length, before reading anything.
     * Answered at once, so libmicrohttpd closes the connection instead of
     * reading the body (and sends no 100 Continue). */
    size_t announced = framing.content_lengths > 0
                           ? content_length_value(framing.content_length)
                           : 0;
    if (announced > (size_t)srv->cfg->max_body_bytes) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "the body of %s bytes exceeds max_body_bytes (%lld)",
                 framing.content_length, (long long)srv->cfg->max_body_bytes);
        return kga_request_answer_error(r, KGA_WIRE_PAYLOAD_TOO_LARGE, msg);
    }
    if (r->route == KGA_ROUTE_RELOAD) {
        check_admin(r);
        if (kga_service_draining(srv->svc))
            reject(r, KGA_WIRE_UNAVAILABLE, "draining");
    } else if (!kga_service_loaded(srv->svc)) {
        reject(r, KGA_WIRE_NOT_READY, "no snapshot is loaded yet");
    } else if (atomic_load_explicit(&srv->svc->inflight,
                                    memory_order_relaxed) >=
               srv->cfg->max_inflight) {
        /* Checked again when the body is in; rejecting now spares reading
         * it into memory. */
        reject(r, KGA_WIRE_UNAVAILABLE, "%d requests in flight, the limit",
               srv->cfg->max_inflight);
    }
    /* A body to be read is taken from the memory budget as announced, so
     * that a client announcing more than is left is refused before it
     * sends a byte (and before its slow sending could hold the memory). A
     * body of unknown length is taken from it as it grows (on_body). */
    if (r->reject_status == 0 && announced > 0) {
        int rc = kga_body_reserve(&r->body, &srv->svc->bodies, announced);
        if (rc != 0)
            return answer_body_refused(r, rc);
    }
    return MHD_YES;
}

static enum MHD_Result on_body(kga_request_t *r, const char *data,
                               size_t *size)
{
    size_t n = *size;
    *size = 0;
    size_t max = (size_t)r->srv->cfg->max_body_bytes;
    if (r->reject_status == 0 && n > max - r->body.len)
        reject(r, KGA_WIRE_PAYLOAD_TOO_LARGE,
               "the body exceeds max_body_bytes (%zu)", max);
    if (r->reject_status != 0) {
        r->discarded += n;
        if (r->discarded <= DISCARD_MAX)
            return MHD_YES;
        kga_logline_t l;
        kga_logline_begin(&l, KGA_LOG_WARN, "connection_closed");
        kga_logline_str(&l, "request_id", r->id);
        kga_logline_str(&l, "path", r->path);
        kga_logline_int(&l, "status", r->reject_status);
        kga_logline_str(&l, "message", "kept sending a refused body");
        kga_logline_end(&l);
        return MHD_NO;
    }
    int rc = kga_body_append(&r->body, &r->srv->svc->bodies, data, n, max);
    if (rc != 0) {
        kga_wire_code_t code;
        char msg[128];
        body_refusal(r, rc, &code, msg, sizeof msg);
        reject(r, code, "%s", msg);
    }
    return MHD_YES;
}

static enum MHD_Result on_complete(kga_request_t *r)
{
    kga_server_t *srv = r->srv;
    switch (r->state) {
    case KGA_REQ_ANSWERED:
        return kga_request_queue_prepared(r);
    case KGA_REQ_QUEUED: /* woken without a response: keep waiting */
    case KGA_REQ_DONE:
        return MHD_YES;
    case KGA_REQ_READING:
        break;
    }
    if (r->reject_status != 0)
        return kga_request_answer_error(r, r->reject_code, r->reject_msg);
    if (strcmp(kga_route_method(r->route), "GET") == 0)
        return answer_get(r);
    if (kga_route_is_work(r->route))
        return kga_work_start(r);
    /* POST /admin/reload: the first thread runs reloads; the request is
     * answered when the new snapshot serves or failed. */
    if (kga_service_draining(srv->svc))
        return kga_request_answer_error(r, KGA_WIRE_UNAVAILABLE, "draining");
    r->state = KGA_REQ_QUEUED;
    MHD_suspend_connection(r->conn);
    if (kga_mail_post(srv->svc->threads[0], KGA_MAIL_RELOAD, r) != 0)
        kga_request_resume_with_error(r, KGA_WIRE_UNAVAILABLE, "draining");
    return MHD_YES;
}

enum MHD_Result kga_handler_on_access(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version,
                                      const char *upload_data,
                                      size_t *upload_data_size, void **con_cls)
{
    kga_request_t *r = *con_cls;
    enum MHD_Result ret;
    if (r == NULL) {
        ret = on_headers(cls, conn, url, method, version, con_cls);
    } else if (*upload_data_size != 0) {
        if (r->state != KGA_REQ_READING) { /* answered early: drop the rest */
            *upload_data_size = 0;
            return MHD_YES;
        }
        ret = on_body(r, upload_data, upload_data_size);
    } else {
        /* Read whole: out of the read deadline, before on_complete() may
         * hand r to another thread. */
        kga_conn_request_read(r->cx);
        return on_complete(r);
    }
    /* Answered before it was read: out of the read deadline. */
    r = *con_cls;
    if (r != NULL && r->state != KGA_REQ_READING)
        kga_conn_request_read(r->cx);
    return ret;
}

/* A request whose connection ended before its answer was sent whole: the
 * client saw no (or a partial) answer, whatever its log line says. */
static void log_unfinished(const kga_request_t *r,
                           enum MHD_RequestTerminationCode toe)
{
    static const char *const why[] = {
        [MHD_REQUEST_TERMINATED_WITH_ERROR] = "error",
        [MHD_REQUEST_TERMINATED_TIMEOUT_REACHED] = "timeout",
        [MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN] = "shutdown",
        [MHD_REQUEST_TERMINATED_READ_ERROR] = "read_error",
        [MHD_REQUEST_TERMINATED_CLIENT_ABORT] = "client_abort",
    };
    kga_logline_t l;
    kga_logline_begin(&l, KGA_LOG_WARN, "request_unfinished");
    if (!l.enabled)
        return;
    kga_logline_str(&l, "request_id", r->id);
    kga_logline_str(&l, "path", r->path);
    kga_logline_int(&l, "state", (int64_t)r->state);
    kga_logline_str(&l, "reason",
                    (size_t)toe < sizeof why / sizeof why[0] && why[toe]
                        ? why[toe]
                        : "other");
    kga_logline_end(&l);
}

void kga_handler_on_completed(void *cls, struct MHD_Connection *conn,
                              void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    kga_server_t *srv = cls;
    kga_conn_t *c = kga_conn_of(conn);
    if (c != NULL) {
        c->req = NULL;
        /* Kept alive: the next request's clock starts. */
        if (c->phase != KGA_CONN_CLOSING)
            kga_conn_enter(c, KGA_CONN_WAITING);
    }
    kga_request_t *r = *con_cls;
    if (r == NULL)
        return;
    *con_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_unfinished(r, toe);
    if (r->response != NULL)
        MHD_destroy_response(r->response);
    kga_snapshot_unref(r->snap); /* NULL unless never queued */
    kga_body_free(&r->body, &srv->svc->bodies);
    free(r);
    srv->open_requests--;
    kga_server_maybe_finish_drain(srv);
}

/* The connection libmicrohttpd is refusing in its header parser (see
 * refuse_unparsed_head()), or NULL: its request line is in (READING), the
 * access handler has not run (no request), its headers are all in
 * (MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE answers only from the
 * HEADERS_RECEIVED state on) and it has no response yet. Every other
 * connection is either still reading its headers or has had the access
 * handler called in the same turn of libmicrohttpd's state machine that
 * received them. */
static kga_conn_t *head_being_refused(kga_server_t *srv)
{
    for (kga_list_node_t *e = srv->reading.head; e != NULL; e = e->next) {
        kga_conn_t *c = KGA_LIST_ENTRY(e, kga_conn_t, node);
        if (c->req == NULL &&
            MHD_get_connection_info(
                c->mhd, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE) != NULL &&
            MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_HTTP_STATUS) ==
                NULL)
            return c;
    }
    return NULL;
}

/* libmicrohttpd 0.9.75 refuses some request heads itself, before the
 * access handler could: a Content-Length that is not a plain number
 * ("-1", "5 ", "1, 2") or does not fit 64 bits. It then queues its 400,
 * overwrites the state that says so, and builds the response's header a
 * second time: the client gets the status line and headers twice, the
 * second copy as the first one's body (libmicrohttpd 1.0 fixed it). Its
 * only call into the server on that path is to the logger, just before it
 * queues its answer. So the logger answers such a request itself, with
 * one 400 in the service's own format and "Connection: close", and shuts
 * the socket down for writing: libmicrohttpd's answer then fails to send,
 * and it closes the connection. */
static void refuse_unparsed_head(kga_server_t *srv, const char *why)
{
    kga_conn_t *c = head_being_refused(srv);
    if (c == NULL)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL)
        return;
    kga_request_t r = {.srv = srv, .route = KGA_ROUTE_UNKNOWN};
    const char *rid =
        MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND, "X-Request-Id");
    if (rid != NULL && kga_wire_request_id_valid(rid, strlen(rid)))
        snprintf(r.id, sizeof r.id, "%s", rid);
    else
        kga_request_id_generate(r.id);
    /* libmicrohttpd has decoded the target in place by now. */
    const char *path = c->target != NULL ? c->target : "";
    char norm[KGA_ROUTE_PATH_MAX];
    if (kga_path_normalise(path, norm, sizeof norm) == 0)
        r.route = kga_route_find(norm);
    /* libmicrohttpd's reason, without its own "Closing connection." */
    size_t why_len = strlen(why);
    static const char closing[] = " Closing connection.";
    if (why_len >= sizeof closing - 1 &&
        strcmp(why + why_len - (sizeof closing - 1), closing) == 0)
        why_len -= sizeof closing - 1;
    char msg[256];
    snprintf(msg, sizeof msg, "malformed request headers: %.*s",
             (int)why_len, why);
    kga_snapshot_t *snap = kga_service_snapshot_pin(srv->svc);
    kga_wire_meta_t meta = {r.id, snap != NULL
                                      ? kga_snapshot_model_version(snap)
                                      : NULL};
    char *body = NULL;
    size_t body_len = 0;
    int rc = kga_error_response_format(&meta, "bad_request", msg, &body,
                                       &body_len);
    kga_snapshot_unref(snap);
    if (rc == 0) {
        char head[256];
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 400 Bad Request\r\n"
                          "Connection: close\r\n"
                          "Content-Type: " KGA_JSON_TYPE "\r\n"
                          "X-Request-Id: %s\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          r.id, body_len);
        struct iovec iov[2] = {{head, (size_t)hl}, {body, body_len}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        /* A fresh answer on an idle socket: its buffer takes it whole.
         * Should it not, the client gets a cut answer and the close. */
        (void)sendmsg(ci->connect_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    free(body);
    (void)shutdown(ci->connect_fd, SHUT_WR);
    kga_conn_enter(c, KGA_CONN_CLOSING);
    uint64_t now = kga_now_ns();
    record_request(srv, r.route, 400, now, now, 0);
    r.method = "";
    r.path = path;
    r.start_ns = now;
    kga_request_log(&r, 400, now, 0);
}

void kga_handler_on_log(void *cls, const char *fmt, va_list ap)
{
    kga_server_t *srv = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    kga_log_event(KGA_LOG_WARN, "httpd", "%s", msg);
    refuse_unparsed_head(srv, msg);
}
