/* The HTTP service. Each HTTP thread (http_threads of them) is one libuv
 * loop that owns one libmicrohttpd daemon in external epoll mode, driven by
 * a uv_poll on its epoll fd and a uv_timer set from MHD_get_timeout(), and
 * everything about that daemon's connections. The access handler collects
 * the body, checks the limits, pins the current snapshot, suspends the
 * connection and hands the request to uv_queue_work. A pool thread decodes,
 * scores, encodes and builds the whole MHD_Response. The after-work
 * callback, back on the loop thread, records metrics, releases the
 * snapshot and resumes the connection; libmicrohttpd then calls the handler
 * again, which queues the prepared response. (libmicrohttpd's
 * suspend_resume_epoll.c example has this shape.)
 *
 * One HTTP thread saturated long before the workers did: under load it
 * spent its time in the kernel's TCP, epoll and wake-up paths. So there are
 * several, as service.md foresaw. The first thread accepts every
 * connection and hands it to the thread with the fewest (MHD_add_connection
 * on that thread): daemons sharing the listen socket took connections
 * unevenly (one thread saturated, the other half idle), and one acceptor
 * keeps max_connections a limit on the whole server. The threads share
 * nothing else but the kga_service_t: the snapshot pointer (under a mutex),
 * the in-flight and connection counts (atomic), the drain flag. Signals and
 * reloads also belong to the first thread, which tells the others through
 * their mailboxes (uv_async). For the same reason a small request on a
 * route whose recent work was cheap (one pair: tens of microseconds) is
 * scored on its HTTP thread: the hand-off to a worker and back would cost
 * more than the work.
 *
 * Nothing bounds itself, so everything is bounded here: the body size
 * (Content-Length on the first callback, and again while reading), the
 * requests in flight (503 rather than a growing queue), a deadline per
 * request (a uv_timer cancels queued work whose deadline passed; running
 * work checks between batches), connections, their idle timeout, and the
 * time a client may take to send a request (see "Read deadlines"). */
#include "server.h"

#include <arpa/inet.h>
#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "admin.h"
#include "list.h"
#include "log.h"
#include "metrics.h"
#include "proto/wire.h"
#include "routes.h"
#include "snapshot.h"

/* Bodies up to this size need no allocation beyond the request itself. */
#define INLINE_BODY 512
/* libmicrohttpd's per-connection memory pool (request line, headers, read
 * and write buffers). It is cleared for every request, so its size is a
 * per-request cost: the default 32 KiB showed up as 9% of the server's
 * profile under load. 8 KiB holds any API request's headers (nginx's
 * large_client_header_buffers default); bodies stream through it. */
#define CONNECTION_MEMORY (8u * 1024u)
/* After a body went over the limit, this much more is read and dropped so
 * that the client can be told 413; past it the connection is closed. */
#define DISCARD_MAX (1u << 20)
/* During a drain, how often the server looks for requests still arriving
 * once none is open (see maybe_finish_drain()). */
#define DRAIN_SETTLE_MS 20

#define JSON_TYPE "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct kga_service kga_service_t;
typedef struct kga_server kga_server_t;
typedef struct kga_conn kga_conn_t;

typedef enum {
    REQ_READING,  /* headers seen, body being collected */
    REQ_QUEUED,   /* handed to the pool (or waiting for a reload) */
    REQ_ANSWERED, /* response prepared, waiting to be queued */
    REQ_DONE      /* response queued with libmicrohttpd */
} req_state_t;

typedef struct kga_request {
    kga_server_t *srv;
    struct MHD_Connection *conn;
    kga_conn_t *cx; /* its connection's read-deadline state */
    const char *method; /* libmicrohttpd's strings, valid until completed */
    const char *path;
    kga_route_t route;
    req_state_t state;
    uint64_t start_ns;
    uint64_t deadline_ns; /* 0 = none */
    char id[KGA_WIRE_REQUEST_ID_MAX + 1];

    /* body */
    char *body;
    size_t body_len, body_cap;
    size_t discarded;
    /* An error decided before the body ended, answered when it ends. */
    int reject_status;
    kga_wire_code_t reject_code;
    char reject_msg[160];

    /* work */
    uv_work_t work;
    kga_snapshot_t *snap;
    kga_route_call_t call;
    struct MHD_Response *response;
    int status;
    size_t pairs;

    /* deadline list: queued requests in arrival order */
    kga_list_node_t dl_node;
    int in_deadline_list;
    struct kga_request *mail_next; /* in its thread's mailbox */
    uint64_t work_ns; /* time the scoring took */

    char inline_body[INLINE_BODY];
} kga_request_t;

/* Where a connection is in its request cycle, for the read deadline. */
typedef enum {
    CONN_WAITING, /* for a request line: new, or kept alive after one */
    CONN_READING, /* request line in; headers or body still coming */
    CONN_BUSY,    /* the request is read: being answered */
    CONN_CLOSING  /* its read deadline passed; libmicrohttpd closes it */
} conn_phase_t;

/* One per TCP connection (libmicrohttpd's socket context), from its
 * NOTIFY_STARTED to its NOTIFY_CLOSED; loop thread only. */
struct kga_conn {
    kga_server_t *srv;
    struct MHD_Connection *mhd;
    conn_phase_t phase;
    uint64_t since_ns;  /* when the phase began */
    uint64_t due_ns;    /* when a waiting or reading phase runs out */
    kga_request_t *req; /* the request whose headers are in, or NULL */
    kga_list_node_t node; /* in the phase's list */
};

/* Connections of one phase in phase-start order, which is deadline order
 * since the phase gives every connection the same budget. */
typedef kga_list_t conn_list_t;

typedef struct {
    uv_work_t work;
    kga_server_t *srv;
    kga_snapshot_source_t src;
    uint64_t version;
    const char *trigger; /* "startup", "SIGHUP", "admin" */
    kga_snapshot_t *result;
    int serving; /* result was swapped in */
    kga_err_t err;
    int rc;
    kga_request_t *waiter; /* an /admin/reload waiting for the result */
} reload_job_t;

/* What every HTTP thread shares. */
struct kga_service {
    const kga_server_config_t *cfg;
    kga_server_t **threads; /* [0] runs on the caller's thread */
    int n_threads;           /* started so far */
    int listen_fd;           /* the first thread accepts on it */
    int port;
    /* Connections accepted and not closed, on every thread; the first
     * thread stops accepting at max_connections and sets accept_paused,
     * and the thread that closes the next one wakes it. */
    atomic_int_fast64_t connections;
    atomic_int accept_paused;
    unsigned next_thread; /* where the search for the least loaded starts */

    pthread_mutex_t snap_lock;
    kga_snapshot_t *snap; /* current; one reference held here */
    atomic_int loaded;    /* a snapshot has been loaded */
    atomic_int draining;

    atomic_int_fast64_t inflight; /* work requests queued or running */
    atomic_int_fast64_t queued;   /* of inflight, not started by a thread */

    double start_time;
    int pool_threads;
};

/* What another thread asks of an HTTP thread (kga_server_t.mail_flags). */
#define MAIL_DRAIN 1u  /* start draining */
#define MAIL_STOP 2u   /* stop now (the first load failed) */
#define MAIL_RELOAD 4u /* to the first thread: an /admin/reload request */
#define MAIL_ACCEPT 8u /* to the first thread: below max_connections again */

/* A connection accepted by the first thread, for another one. */
typedef struct {
    int fd;
    socklen_t addr_len;
    struct sockaddr_storage addr;
} new_conn_t;

/* One HTTP thread: its loop, its daemon and its connections. The first one
 * also owns the signals and the reloads. */
struct kga_server {
    kga_service_t *svc;
    int index;
    const kga_server_config_t *cfg;
    kga_wire_limits_t limits;
    uv_loop_t loop;
    uv_thread_t thread; /* all but the first */
    int thread_started;
    struct MHD_Daemon *daemon;

    /* Mailbox: other threads post here and wake the loop. */
    uv_async_t wake;
    pthread_mutex_t mail_lock;
    unsigned mail_flags;
    kga_request_t *mail_resumed; /* answered, to resume */
    kga_request_t *mail_reloads; /* /admin/reload requests to start */
    new_conn_t *mail_conns;      /* accepted connections to add */
    size_t n_mail_conns, cap_mail_conns;
    int mail_closed;

    uv_poll_t mhd_poll;
    uv_timer_t mhd_timer;
    uv_check_t mhd_check; /* one MHD_run per loop turn after resumes */
    int run_pending;
    uv_timer_t deadline_timer;
    uv_timer_t read_timer; /* read deadlines of waiting/reading conns */
    uint64_t read_timer_due; /* 0 = not armed */
    conn_list_t waiting, reading;
    uint64_t wait_budget_ns, read_budget_ns;
    uv_timer_t drain_timer;
    uv_signal_t sig_term, sig_int, sig_hup; /* first thread only */
    int handles_open;
    int poll_started;

    /* First thread only. */
    uv_poll_t accept_poll;   /* on the listen socket */
    uv_timer_t accept_retry; /* after accept() ran out of descriptors */
    int accepting;           /* accept_poll started */
    int listener_closed;
    uint64_t loads; /* successful loads so far */
    reload_job_t *reload;
    int reload_again;
    kga_err_t *fatal; /* where a startup failure is reported */

    int64_t open_requests; /* request structs alive */
    kga_list_t deadlines; /* of kga_request_t, by dl_node */
    /* Its connections, and the ones handed to it not yet added. */
    atomic_int_fast64_t connections;

    int draining, quiesced, stopping;
    int exit_code;

    /* Mean work time of this thread's recent small requests, by route
     * (INFINITY until one is measured); see runs_inline(). */
    double small_cost_us[KGA_ROUTE_COUNT_];

    pthread_mutex_t metrics_lock;
    kga_metrics_t metrics;
};

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The current snapshot with a reference for the caller, or NULL before the
 * first load. */
static kga_snapshot_t *snapshot_pin(kga_service_t *svc)
{
    pthread_mutex_lock(&svc->snap_lock);
    kga_snapshot_t *s = svc->snap != NULL ? kga_snapshot_ref(svc->snap) : NULL;
    pthread_mutex_unlock(&svc->snap_lock);
    return s;
}

static int snapshot_loaded(kga_service_t *svc)
{
    return atomic_load_explicit(&svc->loaded, memory_order_acquire);
}

static int service_draining(kga_service_t *svc)
{
    return atomic_load_explicit(&svc->draining, memory_order_relaxed);
}

static void metrics_lock(kga_server_t *srv)
{
    pthread_mutex_lock(&srv->metrics_lock);
}

static void metrics_unlock(kga_server_t *srv)
{
    pthread_mutex_unlock(&srv->metrics_lock);
}

/* One answered request in srv's counters; any thread. */
static void record_request(kga_server_t *srv, kga_route_t route, int status,
                           uint64_t start_ns, uint64_t end_ns, size_t pairs)
{
    metrics_lock(srv);
    kga_metrics_request(&srv->metrics, route, status,
                        (double)(end_ns - start_ns) / 1e9, pairs);
    metrics_unlock(srv);
}

/* The whole response for any thread: body (malloc'd, ownership passes to
 * libmicrohttpd, NULL allowed) and the headers every answer carries. */
static struct MHD_Response *make_response(const kga_request_t *r, char *body,
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
static struct MHD_Response *error_response(const kga_request_t *r,
                                           const char *model_version,
                                           kga_wire_code_t code,
                                           const char *message, int *status)
{
    kga_wire_meta_t meta = {r->id, model_version};
    char *out = NULL;
    size_t len = 0;
    *status = kga_wire_code_status(code);
    if (kga_error_response_format(&meta, kga_wire_code_name(code), message,
                                  &out, &len) != 0)
        *status = 500;
    return make_response(r, out, len, *status, JSON_TYPE);
}

static void log_request(const kga_request_t *r, int status, uint64_t end_ns,
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

static void run_mhd(kga_server_t *srv);

/* Queues the prepared response (loop thread, inside the access handler). */
static enum MHD_Result queue_prepared(kga_request_t *r)
{
    struct MHD_Response *resp = r->response;
    r->response = NULL;
    r->state = REQ_DONE;
    if (resp == NULL)
        return MHD_NO; /* out of memory building it: drop the connection */
    if (service_draining(r->srv->svc))
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
    log_request(r, status, now, 0);
    r->response = resp;
    r->status = status;
    return queue_prepared(r);
}

static enum MHD_Result answer_error(kga_request_t *r, kga_wire_code_t code,
                                    const char *message)
{
    int status;
    kga_snapshot_t *snap = snapshot_pin(r->srv->svc);
    struct MHD_Response *resp = error_response(
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
    kga_snapshot_t *snap = snapshot_pin(r->srv->svc);
    kga_wire_meta_t meta = {
        r->id, snap != NULL ? kga_snapshot_model_version(snap) : NULL};
    char *out = NULL;
    size_t len = 0;
    int rc = kga_status_response_format(&meta, text, &out, &len);
    kga_snapshot_unref(snap);
    if (rc != 0)
        return answer_error(r, KGA_WIRE_INTERNAL, "out of memory");
    return answer(r, make_response(r, out, len, status, JSON_TYPE), status);
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
    if (r->body != r->inline_body)
        free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
}

/* ------------------------------------------------------------------------
 * Deadlines: a list of the queued requests in arrival order, which is
 * deadline order since every request gets the same budget, and one timer
 * for its head.
 * ------------------------------------------------------------------------ */

static void on_deadline_timer(uv_timer_t *t);

static void deadline_arm(kga_server_t *srv)
{
    kga_request_t *first =
        KGA_LIST_FIRST(&srv->deadlines, kga_request_t, dl_node);
    if (first == NULL || srv->stopping)
        return;
    uint64_t now = kga_now_ns();
    uint64_t due = first->deadline_ns;
    uint64_t ms = due > now ? (due - now + 999999) / 1000000 : 0;
    uv_timer_start(&srv->deadline_timer, on_deadline_timer, ms, 0);
}

static void deadline_append(kga_server_t *srv, kga_request_t *r)
{
    if (r->deadline_ns == 0)
        return;
    kga_list_append(&srv->deadlines, &r->dl_node);
    r->in_deadline_list = 1;
    if (srv->deadlines.head == &r->dl_node)
        deadline_arm(srv);
}

static void deadline_remove(kga_server_t *srv, kga_request_t *r)
{
    if (!r->in_deadline_list)
        return;
    kga_list_remove(&srv->deadlines, &r->dl_node);
    r->in_deadline_list = 0;
    /* The timer may now fire early for the new head; it then re-arms. */
}

/* Requests whose deadline passed: the ones no thread has started are
 * cancelled (their after-work callback answers 504); running ones check
 * the deadline themselves between batches. */
static void on_deadline_timer(uv_timer_t *t)
{
    kga_server_t *srv = t->data;
    uint64_t now = kga_now_ns();
    kga_request_t *r;
    while ((r = KGA_LIST_FIRST(&srv->deadlines, kga_request_t, dl_node)) !=
               NULL &&
           r->deadline_ns <= now) {
        deadline_remove(srv, r);
        (void)uv_cancel((uv_req_t *)&r->work); /* UV_EBUSY: running */
    }
    deadline_arm(srv);
}

/* ------------------------------------------------------------------------
 * Read deadlines: a client has request_read_timeout_s to send a whole
 * request once its request line is in.
 *
 * libmicrohttpd's connection timeout (MHD_OPTION_CONNECTION_TIMEOUT, and
 * MHD_CONNECTION_OPTION_TIMEOUT per connection) is an idle timer that every
 * byte received restarts: a client trickling its headers or its body holds
 * its connection for as long as it likes, and max_connections of them shut
 * everyone else out. Returning MHD_NO from the access handler drops a
 * connection, but libmicrohttpd calls the handler only once the headers are
 * in, and then only when more body arrives: that cannot bound the request
 * line or the headers, nor a body whose sender pauses. And libmicrohttpd
 * (0.9.75) has no call that closes a connection from outside its
 * callbacks.
 *
 * So the deadlines are kept here:
 * - MHD_OPTION_NOTIFY_CONNECTION gives every connection a kga_conn_t, in
 *   phase WAITING from its start and again after each response
 *   (MHD_OPTION_NOTIFY_COMPLETED);
 * - MHD_OPTION_URI_LOG_CALLBACK, called as soon as a request line is
 *   parsed, moves it to READING: its headers and body are due within
 *   request_read_timeout_s;
 * - the access handler's last call (the body is in) or an answer queued
 *   early moves it to BUSY, outside these deadlines: the request deadline
 *   bounds the work and libmicrohttpd's idle timer the sending.
 * libmicrohttpd does not tell when the first byte of a request arrives,
 * so WAITING is given connection_timeout_s + request_read_timeout_s: an
 * idle connection is closed first by libmicrohttpd's idle timer, one
 * trickling its request line by this deadline.
 *
 * At a deadline the connection's socket is shut down in both directions:
 * libmicrohttpd's next look at it (the shutdown wakes its epoll set) finds
 * end of file or a hang-up and closes the connection through its ordinary
 * path, completion and close callbacks included, still owning the
 * descriptor. No 408 is sent: writing behind libmicrohttpd's back could
 * interleave with its own output (a 100 Continue), and the close that
 * follows would often reset the connection, the trickled bytes unread,
 * before the client read it. Each such close is counted in
 * kgalign_read_timeouts_total and logged ("read_timeout").
 * ------------------------------------------------------------------------ */

static conn_list_t *conn_list_of(kga_server_t *srv, conn_phase_t phase)
{
    return phase == CONN_WAITING   ? &srv->waiting
           : phase == CONN_READING ? &srv->reading
                                   : NULL;
}

static kga_conn_t *conn_first(const conn_list_t *l)
{
    return KGA_LIST_FIRST(l, kga_conn_t, node);
}

static void on_read_timer(uv_timer_t *t);

/* Arms the timer for the earlier of the two list heads, unless it is
 * already armed for that time or before (it then fires early, finds
 * nothing due and re-arms). */
static void read_timer_arm(kga_server_t *srv)
{
    if (srv->stopping)
        return;
    uint64_t due = 0;
    kga_conn_t *waiting = conn_first(&srv->waiting);
    kga_conn_t *reading = conn_first(&srv->reading);
    if (waiting != NULL)
        due = waiting->due_ns;
    if (reading != NULL && (due == 0 || reading->due_ns < due))
        due = reading->due_ns;
    if (due == 0 || (srv->read_timer_due != 0 && srv->read_timer_due <= due))
        return;
    uint64_t now = kga_now_ns();
    uint64_t ms = due > now ? (due - now + 999999) / 1000000 : 0;
    srv->read_timer_due = due;
    uv_timer_start(&srv->read_timer, on_read_timer, ms, 0);
}

static void conn_enter(kga_conn_t *c, conn_phase_t phase)
{
    kga_server_t *srv = c->srv;
    conn_list_t *from = conn_list_of(srv, c->phase);
    if (from != NULL)
        kga_list_remove(from, &c->node);
    c->phase = phase;
    c->since_ns = kga_now_ns();
    conn_list_t *to = conn_list_of(srv, phase);
    if (to == NULL)
        return;
    c->due_ns = c->since_ns + (phase == CONN_WAITING ? srv->wait_budget_ns
                                                     : srv->read_budget_ns);
    kga_list_append(to, &c->node);
    if (to->head == &c->node)
        read_timer_arm(srv);
}

static kga_conn_t *conn_of(struct MHD_Connection *mhd)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static void log_read_timeout(const kga_conn_t *c, kga_read_phase_t what,
                             uint64_t now)
{
    static const char *const names[KGA_READ_PHASE_COUNT_] = {
        "request_line", "headers", "body"};
    kga_logline_t l;
    kga_logline_begin(&l, KGA_LOG_WARN, "read_timeout");
    if (!l.enabled)
        return;
    const kga_request_t *r = c->req;
    if (r != NULL) {
        kga_logline_str(&l, "request_id", r->id);
        kga_logline_str(&l, "method", r->method);
        kga_logline_str(&l, "path", r->path);
        kga_logline_int(&l, "body_bytes",
                        (int64_t)(r->body_len + r->discarded));
    }
    kga_logline_str(&l, "missing", names[what]);
    kga_logline_num(&l, "seconds", (double)(now - c->since_ns) / 1e9);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[NI_MAXHOST];
    if (ci != NULL && ci->client_addr != NULL &&
        getnameinfo(ci->client_addr,
                    ci->client_addr->sa_family == AF_INET6
                        ? sizeof(struct sockaddr_in6)
                        : sizeof(struct sockaddr_in),
                    host, sizeof host, NULL, 0, NI_NUMERICHOST) == 0)
        kga_logline_str(&l, "client", host);
    kga_logline_str(&l, "message",
                    "the client did not send a whole request within "
                    "request_read_timeout_s: connection closed");
    kga_logline_end(&l);
}

static void conn_expire(kga_conn_t *c, uint64_t now)
{
    kga_server_t *srv = c->srv;
    kga_read_phase_t what = c->phase == CONN_WAITING ? KGA_READ_REQUEST_LINE
                            : c->req == NULL         ? KGA_READ_HEADERS
                                                     : KGA_READ_BODY;
    kga_list_remove(conn_list_of(srv, c->phase), &c->node);
    c->phase = CONN_CLOSING;
    metrics_lock(srv);
    srv->metrics.read_timeouts[what]++;
    metrics_unlock(srv);
    log_read_timeout(c, what, now);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci != NULL)
        (void)shutdown(ci->connect_fd, SHUT_RDWR);
    /* The shutdown has put the socket on libmicrohttpd's epoll ready list;
     * one MHD_run after this turn's callbacks closes it. */
    srv->run_pending = 1;
}

static void on_read_timer(uv_timer_t *t)
{
    kga_server_t *srv = t->data;
    srv->read_timer_due = 0;
    uint64_t now = kga_now_ns();
    conn_list_t *lists[] = {&srv->waiting, &srv->reading};
    for (size_t i = 0; i < 2; i++) {
        kga_conn_t *c;
        while ((c = conn_first(lists[i])) != NULL && c->due_ns <= now)
            conn_expire(c, now);
    }
    read_timer_arm(srv);
}

/* The request on c is read (or answered before it was): its deadline no
 * longer applies. */
static void conn_request_read(kga_conn_t *c)
{
    if (c != NULL && c->phase == CONN_READING)
        conn_enter(c, CONN_BUSY);
}

/* ------------------------------------------------------------------------
 * Work on the pool
 * ------------------------------------------------------------------------ */

/* Decodes, scores and encodes r into r->response, on whichever thread runs
 * it, and writes its log line there. */
static void work_compute(kga_request_t *r)
{
    kga_route_call_t *c = &r->call;
    uint64_t t0 = kga_now_ns();
    if (c->deadline_ns != 0 && t0 > c->deadline_ns) {
        /* Not started before the deadline: answered without computing. */
        r->response = error_response(
            r, kga_snapshot_model_version(r->snap),
            KGA_WIRE_DEADLINE_EXCEEDED,
            "the request deadline passed before a worker could start it",
            &r->status);
        r->pairs = 0;
    } else {
        if (r->route == KGA_ROUTE_ALIGN)
            kga_route_align(c);
        else
            kga_route_match(c);
        r->status = c->out != NULL ? c->status : 500;
        r->pairs = c->pairs;
        r->response = make_response(r, c->out, c->out_len, r->status,
                                    JSON_TYPE);
        c->out = NULL;
    }
    uint64_t t1 = kga_now_ns();
    r->work_ns = t1 - t0;
    log_request(r, r->status, t1, r->pairs);
}

static void work_run(uv_work_t *w)
{
    kga_request_t *r = w->data;
    atomic_fetch_sub_explicit(&r->srv->svc->queued, 1, memory_order_relaxed);
    work_compute(r);
}

/* Small requests: at most this many body bytes (one pair is about 100). */
#define SMALL_BODY INLINE_BODY

/* A small request's work time, into its route's running mean (the last
 * eight or so requests weigh most). One time is taken as at most four
 * times inline_max_us: a thread preempted once on a busy machine does not
 * keep a cheap route off the HTTP thread for long (a dozen requests). */
static void note_small_cost(kga_server_t *srv, const kga_request_t *r)
{
    if (r->body_len > SMALL_BODY)
        return;
    double us = fmin((double)r->work_ns / 1e3,
                     4.0 * (double)srv->cfg->inline_max_us);
    double *mean = &srv->small_cost_us[r->route];
    *mean = isinf(*mean) ? us : *mean + (us - *mean) / 8.0;
}

/* 1 when r is scored here on the HTTP thread: it is small, and its route's
 * recent small requests were cheap. Until one was measured on a worker the
 * cost is unknown, so a slow model never blocks the loop even once; and
 * when a route turns slow (explanations, a bigger model), its requests go
 * back to the workers. */
static int runs_inline(const kga_server_t *srv, const kga_request_t *r)
{
    int max_us = srv->cfg->inline_max_us;
    return max_us > 0 && r->body_len <= SMALL_BODY &&
           srv->small_cost_us[r->route] <= (double)max_us;
}

/* How a work request ended, for its counters. */
typedef enum {
    WORK_QUEUED,   /* run by a worker */
    WORK_INLINE,   /* run on its HTTP thread */
    WORK_CANCELLED /* its deadline passed in the queue */
} work_end_t;

/* The end of a work request on its HTTP thread, however it ran: its
 * counters in one hold of the lock. */
static void work_finish(kga_request_t *r, uint64_t now, work_end_t how)
{
    kga_server_t *srv = r->srv;
    metrics_lock(srv);
    kga_metrics_request(&srv->metrics, r->route, r->status,
                        (double)(now - r->start_ns) / 1e9, r->pairs);
    if (how == WORK_INLINE)
        srv->metrics.inline_requests++;
    else if (how == WORK_CANCELLED)
        srv->metrics.deadline_cancelled++;
    metrics_unlock(srv);
    kga_snapshot_unref(r->snap);
    r->snap = NULL;
    atomic_fetch_sub_explicit(&srv->svc->inflight, 1, memory_order_relaxed);
}

static void maybe_finish_drain(kga_server_t *srv);

static void work_done(uv_work_t *w, int status)
{
    kga_request_t *r = w->data;
    kga_server_t *srv = r->srv;
    uint64_t now = kga_now_ns();
    deadline_remove(srv, r);
    if (status == UV_ECANCELED) {
        atomic_fetch_sub_explicit(&srv->svc->queued, 1,
                                  memory_order_relaxed);
        r->response = error_response(
            r, kga_snapshot_model_version(r->snap),
            KGA_WIRE_DEADLINE_EXCEEDED,
            "the request deadline passed before a worker could start it",
            &r->status);
        r->pairs = 0;
        log_request(r, r->status, now, 0);
    } else {
        note_small_cost(srv, r);
    }
    work_finish(r, now,
                status == UV_ECANCELED ? WORK_CANCELLED : WORK_QUEUED);
    r->state = REQ_ANSWERED;
    MHD_resume_connection(r->conn);
    srv->run_pending = 1;
}

static enum MHD_Result answer_inflight_cap(kga_request_t *r)
{
    char msg[64];
    snprintf(msg, sizeof msg, "%d requests in flight, the limit",
             r->srv->cfg->max_inflight);
    return answer_error(r, KGA_WIRE_UNAVAILABLE, msg);
}

static enum MHD_Result start_work(kga_request_t *r)
{
    kga_server_t *srv = r->srv;
    kga_service_t *svc = srv->svc;
    kga_snapshot_t *snap = snapshot_pin(svc);
    if (snap == NULL)
        return answer_error(r, KGA_WIRE_NOT_READY,
                            "no snapshot is loaded yet");
    if (atomic_fetch_add_explicit(&svc->inflight, 1, memory_order_relaxed) >=
        srv->cfg->max_inflight) {
        atomic_fetch_sub_explicit(&svc->inflight, 1, memory_order_relaxed);
        kga_snapshot_unref(snap);
        return answer_inflight_cap(r);
    }
    r->snap = snap;
    kga_route_call_t *c = &r->call;
    memset(c, 0, sizeof *c);
    c->aligner = kga_snapshot_aligner(r->snap);
    c->body = r->body != NULL ? r->body : "";
    c->body_len = r->body_len;
    c->limits = &srv->limits;
    c->request_id = r->id;
    c->deadline_ns = r->deadline_ns;

    if (runs_inline(srv, r)) {
        work_compute(r);
        note_small_cost(srv, r);
        work_finish(r, kga_now_ns(), WORK_INLINE);
        return queue_prepared(r);
    }

    r->work.data = r;
    atomic_fetch_add_explicit(&svc->queued, 1, memory_order_relaxed);
    int rc = uv_queue_work(&srv->loop, &r->work, work_run, work_done);
    if (rc != 0) {
        atomic_fetch_sub_explicit(&svc->queued, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&svc->inflight, 1, memory_order_relaxed);
        kga_snapshot_unref(r->snap);
        r->snap = NULL;
        return answer_error(r, KGA_WIRE_INTERNAL, "cannot queue the work");
    }
    r->state = REQ_QUEUED;
    MHD_suspend_connection(r->conn);
    deadline_append(srv, r);
    return MHD_YES;
}

/* ------------------------------------------------------------------------
 * Snapshot loading
 * ------------------------------------------------------------------------ */

static void stop_server(kga_server_t *srv, int exit_code);
static void stop_service(kga_service_t *svc, int exit_code);
static int mail_post(kga_server_t *to, unsigned flags, kga_request_t *r);
static void connection_count(kga_server_t *srv, int delta);
static void connection_gone(kga_server_t *srv);

static void reload_run(uv_work_t *w)
{
    reload_job_t *job = w->data;
    job->rc = kga_snapshot_open(&job->src, job->version, &job->result,
                                &job->err);
}

/* r, suspended, has its response: counted and logged here, queued by its
 * own thread once that resumes it. Any thread. */
static void resume_answered(kga_request_t *r, uint64_t now)
{
    record_request(r->srv, r->route, r->status, r->start_ns, now, 0);
    log_request(r, r->status, now, 0);
    r->state = REQ_ANSWERED;
    mail_post(r->srv, 0, r);
}

/* Answers the suspended r with an error, from any thread. */
static void resume_with_error(kga_request_t *r, kga_wire_code_t code,
                              const char *message)
{
    kga_snapshot_t *snap = snapshot_pin(r->srv->svc);
    r->response = error_response(
        r, snap != NULL ? kga_snapshot_model_version(snap) : NULL, code,
        message, &r->status);
    kga_snapshot_unref(snap);
    resume_answered(r, kga_now_ns());
}

/* Answers the /admin/reload request waiting for job, whichever HTTP thread
 * its connection is on: that thread resumes it (mail_post). */
static void answer_reload_waiter(reload_job_t *job)
{
    kga_request_t *r = job->waiter;
    if (r == NULL)
        return;
    job->waiter = NULL;
    uint64_t now = kga_now_ns();
    kga_snapshot_t *snap = snapshot_pin(r->srv->svc);
    const char *model_version =
        snap != NULL ? kga_snapshot_model_version(snap) : NULL;
    if (job->serving) {
        kga_wire_meta_t meta = {r->id, model_version};
        char *out = NULL;
        size_t len = 0;
        r->status = 200;
        if (kga_status_response_format(&meta, "reloaded", &out, &len) != 0)
            r->status = 500;
        r->response = make_response(r, out, len, r->status, JSON_TYPE);
    } else {
        r->response = error_response(
            r, model_version, KGA_WIRE_RELOAD_FAILED,
            job->rc != 0 ? job->err.msg : "the server is stopping",
            &r->status);
    }
    kga_snapshot_unref(snap);
    resume_answered(r, now);
}

static int start_reload(kga_server_t *srv, const char *trigger);

static void reload_done(uv_work_t *w, int status)
{
    reload_job_t *job = w->data;
    kga_server_t *srv = job->srv;
    srv->reload = NULL;
    if (status != 0 && job->rc == 0)
        job->rc = kga_err_set(&job->err, KGA_EIO, "reload cancelled");

    kga_service_t *svc = srv->svc;
    if (job->rc == 0 && !srv->stopping) {
        kga_snapshot_t *now_serving = job->result;
        job->serving = 1;
        pthread_mutex_lock(&svc->snap_lock);
        kga_snapshot_t *old = svc->snap;
        svc->snap = now_serving;
        pthread_mutex_unlock(&svc->snap_lock);
        atomic_store_explicit(&svc->loaded, 1, memory_order_release);
        srv->loads++;
        metrics_lock(srv);
        srv->metrics.reloads++;
        metrics_unlock(srv);
        kga_logline_t l;
        kga_logline_begin(&l, KGA_LOG_INFO, "snapshot_loaded");
        kga_logline_str(&l, "trigger", job->trigger);
        kga_logline_int(&l, "snapshot_version",
                        (int64_t)kga_snapshot_version(now_serving));
        kga_logline_str(&l, "model_version",
                        kga_snapshot_model_version(now_serving));
        kga_logline_num(&l, "load_seconds",
                        kga_snapshot_load_seconds(now_serving));
        kga_logline_end(&l);
        /* In-flight requests hold their own references to the old one. */
        kga_snapshot_unref(old);
    } else if (job->rc != 0) {
        metrics_lock(srv);
        srv->metrics.reload_failures++;
        metrics_unlock(srv);
        /* Only this thread swaps the pointer: no pin needed to read it. */
        kga_snapshot_t *serving = svc->snap;
        kga_logline_t l;
        kga_logline_begin(&l, KGA_LOG_ERROR, "reload_failed");
        kga_logline_str(&l, "trigger", job->trigger);
        kga_logline_str(&l, "error", kga_err_name(job->rc));
        kga_logline_str(&l, "message", job->err.msg);
        kga_logline_int(&l, "serving_version",
                        serving != NULL
                            ? (int64_t)kga_snapshot_version(serving)
                            : 0);
        kga_logline_end(&l);
    } else {
        kga_snapshot_unref(job->result); /* loaded while stopping */
        job->result = NULL;
    }

    answer_reload_waiter(job);
    if (!snapshot_loaded(svc) && !srv->stopping) {
        /* The first load failed: there is nothing to serve. */
        if (srv->fatal != NULL)
            kga_err_set(srv->fatal, job->rc, "%s", job->err.msg);
        stop_service(svc, job->rc != 0 ? job->rc : KGA_EIO);
    } else if (srv->reload_again && !srv->stopping &&
               !service_draining(svc)) {
        srv->reload_again = 0;
        start_reload(srv, "SIGHUP");
    }
    free(job);
    maybe_finish_drain(srv);
}

/* Returns 0, or -1 when a reload is already running. */
static int start_reload(kga_server_t *srv, const char *trigger)
{
    if (srv->reload != NULL)
        return -1;
    reload_job_t *job = calloc(1, sizeof *job);
    if (job == NULL)
        return -1;
    const kga_server_config_t *cfg = srv->cfg;
    job->srv = srv;
    job->trigger = trigger;
    job->version = srv->loads + 1;
    job->src.left_store = cfg->left_store;
    job->src.right_store = cfg->right_store;
    job->src.model = cfg->model;
    /* The first load may use every core; later ones run beside the
     * traffic and take one. */
    job->src.threads = !snapshot_loaded(srv->svc) ? cfg->threads : 1;
    job->src.threshold = (float)cfg->threshold;
    job->work.data = job;
    if (uv_queue_work(&srv->loop, &job->work, reload_run, reload_done) != 0) {
        free(job);
        return -1;
    }
    srv->reload = job;
    kga_logline_t l;
    kga_logline_begin(&l, KGA_LOG_INFO, "reload_started");
    kga_logline_str(&l, "trigger", trigger);
    kga_logline_str(&l, "model", cfg->model);
    kga_logline_end(&l);
    return 0;
}

/* ------------------------------------------------------------------------
 * The access handler
 * ------------------------------------------------------------------------ */

static void check_admin(kga_request_t *r)
{
    const char *token = r->srv->cfg->admin_token;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const char *auth = MHD_lookup_connection_value(
        r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (kga_admin_allowed(ci != NULL ? ci->client_addr : NULL, auth, token))
        return;
    if (token[0] == '\0')
        reject(r, KGA_WIRE_FORBIDDEN,
               "/admin/reload is only reachable from loopback");
    else
        reject(r, KGA_WIRE_FORBIDDEN,
               "/admin/reload needs the admin token as a bearer token");
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
        return answer_error(r, KGA_WIRE_INTERNAL, "out of memory");
    for (int i = 0; i < svc->n_threads; i++) {
        kga_server_t *t = svc->threads[i];
        metrics_lock(t);
        kga_metrics_add(&sum, &t->metrics);
        metrics_unlock(t);
        per_thread[i] = atomic_load_explicit(&t->connections,
                                             memory_order_relaxed);
        g.connections += per_thread[i];
    }
    g.thread_connections = per_thread;
    g.inflight = atomic_load_explicit(&svc->inflight, memory_order_relaxed);
    g.queue_depth = atomic_load_explicit(&svc->queued, memory_order_relaxed);
    g.draining = service_draining(svc);
    kga_snapshot_t *snap = snapshot_pin(svc);
    g.ready = snap != NULL && !g.draining;
    g.has_snapshot = snap != NULL;
    if (snap != NULL) {
        g.snapshot_version = kga_snapshot_version(snap);
        g.model_version = kga_snapshot_model_version(snap);
        g.snapshot_load_seconds = kga_snapshot_load_seconds(snap);
        g.snapshot_loaded_at = kga_snapshot_loaded_at(snap);
    }
    g.start_time = svc->start_time;
    g.max_inflight = r->srv->cfg->max_inflight;
    g.pool_threads = svc->pool_threads;
    g.http_threads = svc->n_threads;
    char *out;
    size_t len;
    int rc = kga_metrics_format(&sum, &g, &out, &len);
    kga_snapshot_unref(snap);
    free(per_thread);
    if (rc != 0)
        return answer_error(r, KGA_WIRE_INTERNAL, "out of memory");
    return answer(r, make_response(r, out, len, 200, METRICS_TYPE), 200);
}

static enum MHD_Result answer_get(kga_request_t *r)
{
    kga_service_t *svc = r->srv->svc;
    switch (r->route) {
    case KGA_ROUTE_HEALTHZ:
        return answer_status(r, 200, "ok");
    case KGA_ROUTE_READYZ:
        if (service_draining(svc))
            return answer_error(r, KGA_WIRE_UNAVAILABLE, "draining");
        if (!snapshot_loaded(svc))
            return answer_error(r, KGA_WIRE_NOT_READY,
                                "no snapshot is loaded yet");
        return answer_status(r, 200, "ready");
    case KGA_ROUTE_METRICS:
        return answer_metrics(r);
    default:
        return answer_error(r, KGA_WIRE_INTERNAL, "no such GET route");
    }
}

static enum MHD_Result on_headers(kga_server_t *srv,
                                  struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  void **con_cls)
{
    kga_request_t *r = malloc(sizeof *r);
    if (r == NULL)
        return MHD_NO;
    /* Field by field: the inline body buffer needs no zeroing. */
    r->srv = srv;
    r->conn = conn;
    r->cx = conn_of(conn);
    if (r->cx != NULL)
        r->cx->req = r;
    r->method = method;
    r->path = url;
    r->route = kga_route_find(url);
    r->state = REQ_READING;
    r->start_ns = kga_now_ns();
    r->deadline_ns = srv->cfg->request_deadline_ms > 0
                         ? r->start_ns + (uint64_t)srv->cfg->request_deadline_ms *
                                             1000000u
                         : 0;
    r->body = NULL;
    r->body_len = r->body_cap = 0;
    r->discarded = 0;
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
    const char *cl = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl &&
            n > (unsigned long long)srv->cfg->max_body_bytes) {
            char msg[128];
            snprintf(msg, sizeof msg,
                     "the body of %llu bytes exceeds max_body_bytes (%lld)", n,
                     (long long)srv->cfg->max_body_bytes);
            return answer_error(r, KGA_WIRE_PAYLOAD_TOO_LARGE, msg);
        }
        if (errno == 0 && end != cl && n > INLINE_BODY) {
            r->body = malloc((size_t)n);
            if (r->body == NULL)
                return answer_error(r, KGA_WIRE_INTERNAL, "out of memory");
            r->body_cap = (size_t)n;
        }
    }
    if (r->route == KGA_ROUTE_RELOAD) {
        check_admin(r);
        if (service_draining(srv->svc))
            reject(r, KGA_WIRE_UNAVAILABLE, "draining");
    } else if (!snapshot_loaded(srv->svc)) {
        reject(r, KGA_WIRE_NOT_READY, "no snapshot is loaded yet");
    } else if (atomic_load_explicit(&srv->svc->inflight,
                                    memory_order_relaxed) >=
               srv->cfg->max_inflight) {
        /* Checked again when the body is in; rejecting now spares reading
         * it into memory. */
        reject(r, KGA_WIRE_UNAVAILABLE, "%d requests in flight, the limit",
               srv->cfg->max_inflight);
    }
    return MHD_YES;
}

static enum MHD_Result on_body(kga_request_t *r, const char *data,
                               size_t *size)
{
    size_t n = *size;
    *size = 0;
    size_t max = (size_t)r->srv->cfg->max_body_bytes;
    if (r->reject_status == 0 && n > max - r->body_len)
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
    if (r->body_len + n > r->body_cap) {
        size_t cap = r->body_cap == 0 ? INLINE_BODY : r->body_cap;
        while (cap < r->body_len + n)
            cap = cap > max / 2 ? max : cap * 2;
        char *p;
        if (r->body == NULL && cap <= INLINE_BODY) {
            p = r->inline_body;
        } else if (r->body == r->inline_body) {
            p = malloc(cap);
            if (p != NULL)
                memcpy(p, r->body, r->body_len);
        } else {
            p = realloc(r->body, cap);
        }
        if (p == NULL) {
            reject(r, KGA_WIRE_INTERNAL, "out of memory for the body");
            return MHD_YES;
        }
        r->body = p;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return MHD_YES;
}

static enum MHD_Result on_complete(kga_request_t *r)
{
    kga_server_t *srv = r->srv;
    switch (r->state) {
    case REQ_ANSWERED:
        return queue_prepared(r);
    case REQ_QUEUED: /* woken without a response: keep waiting */
    case REQ_DONE:
        return MHD_YES;
    case REQ_READING:
        break;
    }
    if (r->reject_status != 0)
        return answer_error(r, r->reject_code, r->reject_msg);
    if (strcmp(kga_route_method(r->route), "GET") == 0)
        return answer_get(r);
    if (kga_route_is_work(r->route))
        return start_work(r);
    /* POST /admin/reload: the first thread runs reloads; the request is
     * answered when the new snapshot serves or failed. */
    if (service_draining(srv->svc))
        return answer_error(r, KGA_WIRE_UNAVAILABLE, "draining");
    r->state = REQ_QUEUED;
    MHD_suspend_connection(r->conn);
    if (mail_post(srv->svc->threads[0], MAIL_RELOAD, r) != 0)
        resume_with_error(r, KGA_WIRE_UNAVAILABLE, "draining");
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    kga_request_t *r = *con_cls;
    enum MHD_Result ret;
    if (r == NULL) {
        ret = on_headers(cls, conn, url, method, con_cls);
    } else if (*upload_data_size != 0) {
        if (r->state != REQ_READING) { /* answered early: drop the rest */
            *upload_data_size = 0;
            return MHD_YES;
        }
        ret = on_body(r, upload_data, upload_data_size);
    } else {
        /* Read whole: out of the read deadline, before on_complete() may
         * hand r to another thread. */
        conn_request_read(r->cx);
        return on_complete(r);
    }
    /* Answered before it was read: out of the read deadline. */
    r = *con_cls;
    if (r != NULL && r->state != REQ_READING)
        conn_request_read(r->cx);
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

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    kga_server_t *srv = cls;
    kga_conn_t *c = conn_of(conn);
    if (c != NULL) {
        c->req = NULL;
        /* Kept alive: the next request's clock starts. */
        if (c->phase != CONN_CLOSING)
            conn_enter(c, CONN_WAITING);
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
    if (r->body != r->inline_body)
        free(r->body);
    free(r);
    srv->open_requests--;
    maybe_finish_drain(srv);
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    kga_server_t *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        connection_count(srv, 1);
    else
        connection_gone(srv);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        /* Without memory the connection just has no read deadline. */
        kga_conn_t *c = calloc(1, sizeof *c);
        if (c == NULL)
            return;
        c->srv = srv;
        c->mhd = conn;
        c->phase = CONN_BUSY; /* in no list yet */
        conn_enter(c, CONN_WAITING);
        *socket_context = c;
        return;
    }
    kga_conn_t *c = *socket_context;
    if (c == NULL)
        return;
    *socket_context = NULL;
    conn_list_t *l = conn_list_of(srv, c->phase);
    if (l != NULL)
        kga_list_remove(l, &c->node);
    if (c->req != NULL)
        c->req->cx = NULL;
    free(c);
}

/* Called by libmicrohttpd as soon as a request line is parsed, before the
 * headers: the request's read deadline starts. Returns the initial
 * *con_cls, NULL as before. */
static void *on_request_line(void *cls, const char *uri,
                             struct MHD_Connection *conn)
{
    kga_conn_t *c = conn_of(conn);
    if (c != NULL && c->phase != CONN_CLOSING)
        conn_enter(c, CONN_READING);
    return NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    kga_log_event(KGA_LOG_WARN, "httpd", "%s", msg);
}

/* ------------------------------------------------------------------------
 * Driving libmicrohttpd from the loop
 * ------------------------------------------------------------------------ */

static void on_mhd_timer(uv_timer_t *t)
{
    run_mhd(t->data);
}

static void run_mhd(kga_server_t *srv)
{
    srv->run_pending = 0;
    if (srv->daemon == NULL || srv->stopping)
        return;
    MHD_run(srv->daemon);
    if (srv->stopping)
        return; /* a completed request finished the drain */
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(srv->daemon, &to) == MHD_YES)
        uv_timer_start(&srv->mhd_timer, on_mhd_timer,
                       to < (MHD_UNSIGNED_LONG_LONG)INT_MAX ? to : INT_MAX, 0);
    else
        uv_timer_stop(&srv->mhd_timer);
}

static void on_mhd_poll(uv_poll_t *p, int status, int events)
{
    run_mhd(p->data);
}

/* After the loop's I/O callbacks: one MHD_run for all the connections
 * resumed in this turn. */
static void on_mhd_check(uv_check_t *c)
{
    kga_server_t *srv = c->data;
    if (srv->run_pending)
        run_mhd(srv);
}

/* ------------------------------------------------------------------------
 * Mailboxes: how one HTTP thread asks another for something. The sender
 * takes the receiver's lock and wakes its loop; the receiver acts on its
 * own thread.
 * ------------------------------------------------------------------------ */

/* Posts flags, and r to the receiver's reload list (MAIL_RELOAD) or resume
 * list (otherwise). Returns 0, or -1 when `to` has stopped reading mail. */
static int mail_post(kga_server_t *to, unsigned flags, kga_request_t *r)
{
    pthread_mutex_lock(&to->mail_lock);
    int closed = to->mail_closed;
    if (!closed) {
        to->mail_flags |= flags;
        if (r != NULL) {
            kga_request_t **list = (flags & MAIL_RELOAD) ? &to->mail_reloads
                                                         : &to->mail_resumed;
            r->mail_next = *list;
            *list = r;
        }
        uv_async_send(&to->wake);
    }
    pthread_mutex_unlock(&to->mail_lock);
    return closed ? -1 : 0;
}

/* First thread: an /admin/reload request from any thread. */
static void start_admin_reload(kga_server_t *srv, kga_request_t *r)
{
    if (srv->stopping || service_draining(srv->svc))
        resume_with_error(r, KGA_WIRE_UNAVAILABLE, "draining");
    else if (start_reload(srv, "admin") != 0)
        resume_with_error(r, KGA_WIRE_CONFLICT,
                          "a reload is already running");
    else
        srv->reload->waiter = r;
}

/* Posts a connection accepted by the first thread to `to`. Returns 0, or
 * -1 (fd still the caller's) when `to` reads no more mail or is out of
 * memory. */
static int mail_post_conn(kga_server_t *to, int fd,
                          const struct sockaddr_storage *addr,
                          socklen_t addr_len)
{
    int rc = -1;
    pthread_mutex_lock(&to->mail_lock);
    if (!to->mail_closed && to->n_mail_conns == to->cap_mail_conns) {
        size_t cap = to->cap_mail_conns ? 2 * to->cap_mail_conns : 16;
        new_conn_t *p = realloc(to->mail_conns, cap * sizeof *p);
        if (p != NULL) {
            to->mail_conns = p;
            to->cap_mail_conns = cap;
        }
    }
    if (!to->mail_closed && to->n_mail_conns < to->cap_mail_conns) {
        new_conn_t *c = &to->mail_conns[to->n_mail_conns++];
        c->fd = fd;
        c->addr = *addr;
        c->addr_len = addr_len;
        uv_async_send(&to->wake);
        rc = 0;
    }
    pthread_mutex_unlock(&to->mail_lock);
    return rc;
}

static void add_connection(kga_server_t *srv, int fd,
                           const struct sockaddr_storage *addr,
                           socklen_t addr_len);
static void start_drain(kga_server_t *srv);
static void accept_start(kga_server_t *srv);

static void on_mail(uv_async_t *a)
{
    kga_server_t *srv = a->data;
    pthread_mutex_lock(&srv->mail_lock);
    unsigned flags = srv->mail_flags;
    kga_request_t *resumed = srv->mail_resumed;
    kga_request_t *reloads = srv->mail_reloads;
    srv->mail_flags = 0;
    srv->mail_resumed = srv->mail_reloads = NULL;
    /* All of them before a MAIL_DRAIN: the first thread posted them before
     * it closed the listener, and the drain must see them. */
    new_conn_t *conns = srv->mail_conns;
    size_t n_conns = srv->n_mail_conns;
    srv->mail_conns = NULL;
    srv->n_mail_conns = srv->cap_mail_conns = 0;
    pthread_mutex_unlock(&srv->mail_lock);
    for (size_t i = 0; i < n_conns; i++)
        add_connection(srv, conns[i].fd, &conns[i].addr, conns[i].addr_len);
    free(conns);
    for (kga_request_t *r = resumed, *next; r != NULL; r = next) {
        next = r->mail_next;
        MHD_resume_connection(r->conn);
        srv->run_pending = 1;
    }
    for (kga_request_t *r = reloads, *next; r != NULL; r = next) {
        next = r->mail_next;
        start_admin_reload(srv, r);
    }
    if (flags & MAIL_ACCEPT) /* below max_connections again */
        accept_start(srv);
    if (flags & MAIL_STOP)
        stop_server(srv, 0);
    else if (flags & MAIL_DRAIN)
        start_drain(srv);
}

/* ------------------------------------------------------------------------
 * Accepting: the first thread accepts, up to max_connections open on the
 * whole server, and gives each connection to the HTTP thread with the
 * fewest. At the limit it stops polling the listen socket, so that new
 * clients wait in the kernel's backlog, as with libmicrohttpd's own limit.
 * ------------------------------------------------------------------------ */

/* A thread's count and the server's, together. */
static void connection_count(kga_server_t *srv, int delta)
{
    atomic_fetch_add_explicit(&srv->connections, delta, memory_order_relaxed);
    atomic_fetch_add_explicit(&srv->svc->connections, delta,
                              memory_order_relaxed);
}

/* One connection fewer: wakes the acceptor if the limit had stopped it. */
static void connection_gone(kga_server_t *srv)
{
    kga_service_t *svc = srv->svc;
    connection_count(srv, -1);
    if (atomic_exchange(&svc->accept_paused, 0))
        (void)mail_post(svc->threads[0], MAIL_ACCEPT, NULL);
}

/* On the thread the connection was given to; libmicrohttpd owns fd from
 * here on and closes it if it cannot take it. */
static void add_connection(kga_server_t *srv, int fd,
                           const struct sockaddr_storage *addr,
                           socklen_t addr_len)
{
    if (srv->stopping) {
        close(fd);
    } else if (MHD_add_connection(srv->daemon, fd,
                                  (const struct sockaddr *)addr,
                                  addr_len) != MHD_YES) {
        kga_log_event(KGA_LOG_WARN, "connection_refused",
                      "libmicrohttpd could not take a new connection: %s",
                      strerror(errno));
    }
    /* In transit no more: on_connection counted it if it was added. */
    connection_gone(srv);
    srv->run_pending = 1;
}

/* The thread with the fewest connections, ties taken in turn. */
static kga_server_t *least_loaded(kga_service_t *svc)
{
    unsigned n_threads = (unsigned)svc->n_threads;
    unsigned start = svc->next_thread++ % n_threads;
    kga_server_t *best = svc->threads[start];
    int_fast64_t fewest = atomic_load_explicit(&best->connections,
                                               memory_order_relaxed);
    for (unsigned i = 1; i < n_threads; i++) {
        kga_server_t *t = svc->threads[(start + i) % n_threads];
        int_fast64_t n = atomic_load_explicit(&t->connections,
                                              memory_order_relaxed);
        if (n < fewest) {
            best = t;
            fewest = n;
        }
    }
    return best;
}

static void hand_over(kga_service_t *svc, int fd,
                      const struct sockaddr_storage *addr, socklen_t len)
{
    kga_server_t *to = least_loaded(svc);
    connection_count(to, 1); /* in transit */
    if (to == svc->threads[0]) {
        add_connection(to, fd, addr, len);
    } else if (mail_post_conn(to, fd, addr, len) != 0) {
        close(fd); /* that thread has stopped, or no memory */
        connection_gone(to);
    }
}

static void on_accept(uv_poll_t *p, int status, int events);

static void accept_start(kga_server_t *srv)
{
    if (srv->accepting || srv->listener_closed || srv->stopping)
        return;
    srv->accepting = 1;
    uv_poll_start(&srv->accept_poll, UV_READABLE, on_accept);
}

static void accept_stop(kga_server_t *srv)
{
    if (!srv->accepting)
        return;
    srv->accepting = 0;
    uv_poll_stop(&srv->accept_poll);
}

/* 1 when another connection may be accepted; at the limit, stops polling
 * until connection_gone() wakes it. */
static int below_limit(kga_server_t *srv)
{
    kga_service_t *svc = srv->svc;
    int_fast64_t max = srv->cfg->max_connections;
    if (atomic_load(&svc->connections) < max)
        return 1;
    atomic_store(&svc->accept_paused, 1);
    accept_stop(srv);
    /* A connection that closed before the flag was set woke nobody. */
    if (atomic_load(&svc->connections) < max &&
        atomic_exchange(&svc->accept_paused, 0)) {
        accept_start(srv);
        return 1;
    }
    return 0;
}

static void on_accept_retry(uv_timer_t *t)
{
    accept_start(t->data);
}

/* At most this many connections per wake-up, so that requests on the
 * first thread's own connections are not kept waiting by a burst. */
#define ACCEPT_BATCH 32
/* After accept() ran out of descriptors or memory. */
#define ACCEPT_RETRY_MS 100

/* The listen socket stays readable after such a failure, so polling it
 * at once would spin: accepting resumes a little later. */
static void accept_back_off(kga_server_t *srv, const char *what,
                            const char *why)
{
    kga_log_event(KGA_LOG_ERROR, "accept_failed",
                  "%s: %s; accepting again in %d ms", what, why,
                  ACCEPT_RETRY_MS);
    accept_stop(srv);
    uv_timer_start(&srv->accept_retry, on_accept_retry, ACCEPT_RETRY_MS, 0);
}

static void on_accept(uv_poll_t *p, int status, int events)
{
    kga_server_t *srv = p->data;
    kga_service_t *svc = srv->svc;
    (void)events;
    if (status < 0) {
        accept_back_off(srv, "polling the listen socket",
                        uv_strerror(status));
        return;
    }
    for (int i = 0; i < ACCEPT_BATCH && srv->accepting; i++) {
        if (!below_limit(srv))
            return;
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int fd = accept4(svc->listen_fd, (struct sockaddr *)&addr, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            hand_over(svc, fd, &addr, len);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        /* Out of descriptors or memory. */
        accept_back_off(srv, "accept", strerror(errno));
        return;
    }
}

/* Stops accepting for good and closes the listen socket: new clients are
 * refused by the kernel from here on. */
static void close_listener(kga_server_t *srv)
{
    kga_service_t *svc = srv->svc;
    if (srv->listener_closed)
        return;
    srv->listener_closed = 1;
    accept_stop(srv);
    uv_timer_stop(&srv->accept_retry);
    if (svc->listen_fd >= 0) {
        close(svc->listen_fd);
        svc->listen_fd = -1;
    }
}

/* ------------------------------------------------------------------------
 * Signals, drain and stop
 * ------------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
    kga_server_t *srv = h->data;
    srv->handles_open--;
}

static void close_handle(kga_server_t *srv, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

/* Closes every handle of this HTTP thread: its uv_run returns once they
 * are closed and (first thread) a reload that may be running has
 * finished. */
static void stop_server(kga_server_t *srv, int exit_code)
{
    if (srv->stopping)
        return;
    srv->stopping = 1;
    srv->exit_code = exit_code;
    pthread_mutex_lock(&srv->mail_lock);
    srv->mail_closed = 1;
    pthread_mutex_unlock(&srv->mail_lock);
    /* Connections handed over and not added (a stop, not a drain). */
    for (size_t i = 0; i < srv->n_mail_conns; i++) {
        close(srv->mail_conns[i].fd);
        connection_gone(srv);
    }
    free(srv->mail_conns);
    srv->mail_conns = NULL;
    srv->n_mail_conns = 0;
    close_handle(srv, (uv_handle_t *)&srv->wake);
    if (srv->poll_started)
        close_handle(srv, (uv_handle_t *)&srv->mhd_poll);
    close_handle(srv, (uv_handle_t *)&srv->mhd_timer);
    close_handle(srv, (uv_handle_t *)&srv->mhd_check);
    close_handle(srv, (uv_handle_t *)&srv->deadline_timer);
    close_handle(srv, (uv_handle_t *)&srv->read_timer);
    close_handle(srv, (uv_handle_t *)&srv->drain_timer);
    if (srv->index == 0) {
        close_handle(srv, (uv_handle_t *)&srv->accept_poll);
        close_handle(srv, (uv_handle_t *)&srv->accept_retry);
        close_handle(srv, (uv_handle_t *)&srv->sig_term);
        close_handle(srv, (uv_handle_t *)&srv->sig_int);
        close_handle(srv, (uv_handle_t *)&srv->sig_hup);
    }
}

/* First thread: stops every HTTP thread at once (nothing to drain: the
 * first load failed). */
static void stop_service(kga_service_t *svc, int exit_code)
{
    for (int i = 1; i < svc->n_threads; i++)
        (void)mail_post(svc->threads[i], MAIL_STOP, NULL);
    stop_server(svc->threads[0], exit_code);
}

/* 1 when a connection that has not started a request yet has bytes
 * waiting: a request libmicrohttpd has not parsed yet. */
static int waiting_input(const kga_server_t *srv)
{
    for (const kga_list_node_t *e = srv->waiting.head; e != NULL;
         e = e->next) {
        const kga_conn_t *c = KGA_LIST_ENTRY(e, kga_conn_t, node);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
            c->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
        int n = 0;
        if (ci != NULL && ioctl(ci->connect_fd, FIONREAD, &n) == 0 && n > 0)
            return 1;
    }
    return 0;
}

static void on_drain_settle(uv_timer_t *t)
{
    kga_server_t *srv = t->data;
    if (srv->stopping)
        return;
    if (srv->open_requests > 0)
        return; /* their completion calls maybe_finish_drain again */
    if (srv->reading.head != NULL || waiting_input(srv)) {
        /* A request is still arriving on a connection accepted before the
         * listener closed: let libmicrohttpd read it, look again. */
        run_mhd(srv);
        uv_timer_start(&srv->drain_timer, on_drain_settle, DRAIN_SETTLE_MS,
                       0);
        return;
    }
    kga_logline_t l;
    kga_logline_begin(&l, KGA_LOG_DEBUG, "http_thread_drained");
    kga_logline_int(&l, "http_thread", srv->index);
    kga_logline_end(&l);
    stop_server(srv, 0);
}

/* Once the listener is closed and no request is open, the drain ends,
 * but not from inside a libmicrohttpd callback, and not before the
 * connections accepted before the listener closed have had their requests
 * read: their clients sent them, and losing them is losing requests. */
static void maybe_finish_drain(kga_server_t *srv)
{
    if (!srv->quiesced || srv->stopping || srv->open_requests > 0)
        return;
    uv_timer_start(&srv->drain_timer, on_drain_settle, DRAIN_SETTLE_MS, 0);
}

/* No connection comes to this thread any more: it finishes what it has. */
static void stopped_accepting(kga_server_t *srv)
{
    srv->quiesced = 1;
    kga_logline_t l;
    kga_logline_begin(&l, KGA_LOG_INFO, "stopped_accepting");
    kga_logline_int(&l, "http_thread", srv->index);
    kga_logline_int(&l, "open_requests", srv->open_requests);
    kga_logline_int(&l, "inflight",
                    atomic_load_explicit(&srv->svc->inflight,
                                         memory_order_relaxed));
    kga_logline_end(&l);
    run_mhd(srv);
    maybe_finish_drain(srv);
}

/* First thread, after the drain delay: the listener closes, then every
 * other thread is told, after the last connections handed to it (its
 * mailbox keeps the order). */
static void on_drain_timer(uv_timer_t *t)
{
    kga_server_t *srv = t->data;
    kga_service_t *svc = srv->svc;
    close_listener(srv);
    for (int i = 1; i < svc->n_threads; i++)
        (void)mail_post(svc->threads[i], MAIL_DRAIN, NULL);
    stopped_accepting(srv);
}

/* This thread's part of the drain: the first thread waits the drain delay
 * and stops accepting; the others hear of it by MAIL_DRAIN. */
static void start_drain(kga_server_t *srv)
{
    if (srv->draining || srv->stopping)
        return;
    srv->draining = 1;
    if (srv->index == 0)
        uv_timer_start(&srv->drain_timer, on_drain_timer,
                       (uint64_t)srv->cfg->drain_delay_ms, 0);
    else
        stopped_accepting(srv);
}

static void start_service_drain(kga_service_t *svc, const char *signame)
{
    atomic_store(&svc->draining, 1);
    kga_logline_t l;
    kga_logline_begin(&l, KGA_LOG_INFO, "drain_started");
    kga_logline_str(&l, "signal", signame);
    kga_logline_int(&l, "drain_delay_ms", svc->cfg->drain_delay_ms);
    kga_logline_int(&l, "inflight",
                    atomic_load_explicit(&svc->inflight,
                                         memory_order_relaxed));
    kga_logline_end(&l);
    start_drain(svc->threads[0]);
}

static void on_signal(uv_signal_t *s, int signum)
{
    kga_server_t *srv = s->data;
    kga_service_t *svc = srv->svc;
    if (signum == SIGHUP) {
        if (service_draining(svc)) {
            kga_log_event(KGA_LOG_INFO, "reload_ignored",
                          "SIGHUP while draining: no reload");
            return;
        }
        if (start_reload(srv, "SIGHUP") != 0) {
            srv->reload_again = 1;
            kga_log_event(KGA_LOG_INFO, "reload_deferred",
                          "SIGHUP during a reload: another one follows it");
        }
        return;
    }
    const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (!service_draining(svc)) {
        start_service_drain(svc, name);
        return;
    }
    if (signum == SIGINT) {
        kga_log_event(KGA_LOG_WARN, "exit_now",
                      "second SIGINT during the drain: exiting at once");
        _exit(130);
    }
    kga_log_event(KGA_LOG_INFO, "drain_in_progress",
                  "%s ignored: already draining (SIGINT exits at once)",
                  name);
}

/* ------------------------------------------------------------------------
 * Start-up
 * ------------------------------------------------------------------------ */

static int bind_listen(kga_service_t *svc, kga_err_t *err)
{
    const kga_server_config_t *cfg = svc->cfg;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(cfg->listen[0] != '\0' ? cfg->listen : NULL, port,
                          &hints, &res);
    if (gai != 0)
        return kga_err_set(err, KGA_EIO, "listen address '%s': %s",
                           cfg->listen, gai_strerror(gai));
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
                                       SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        int backlog = cfg->max_connections < 128 ? 128 : cfg->max_connections;
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, backlog > 4096 ? 4096 : backlog) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return kga_err_set(err, KGA_EIO, "cannot listen on %s port %d: %s",
                           cfg->listen, cfg->port, strerror(saved));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    svc->port = cfg->port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            svc->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            svc->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    svc->listen_fd = fd;
    return 0;
}

static int start_daemon(kga_server_t *srv, kga_err_t *err)
{
    const kga_server_config_t *cfg = srv->cfg;
    /* Connections come from the first thread (MHD_add_connection), which
     * also keeps the connection limit. */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv,
        /* The logger first, so that option errors go through it too. */
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, srv,
        MHD_OPTION_END);
    if (srv->daemon == NULL)
        return kga_err_set(err, KGA_EIO, "cannot start the HTTP daemon");
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL)
        return kga_err_set(err, KGA_EIO, "the HTTP daemon has no epoll fd");
    int rc = uv_poll_init(&srv->loop, &srv->mhd_poll, info->epoll_fd);
    if (rc != 0)
        return kga_err_set(err, KGA_EIO, "uv_poll on the epoll fd: %s",
                           uv_strerror(rc));
    srv->mhd_poll.data = srv;
    srv->handles_open++;
    srv->poll_started = 1;
    uv_poll_start(&srv->mhd_poll, UV_READABLE, on_mhd_poll);
    return 0;
}

static void init_handles(kga_server_t *srv)
{
    uv_async_init(&srv->loop, &srv->wake, on_mail);
    uv_timer_init(&srv->loop, &srv->mhd_timer);
    uv_timer_init(&srv->loop, &srv->deadline_timer);
    uv_timer_init(&srv->loop, &srv->read_timer);
    uv_timer_init(&srv->loop, &srv->drain_timer);
    uv_check_init(&srv->loop, &srv->mhd_check);
    uv_handle_t *hs[] = {
        (uv_handle_t *)&srv->wake,           (uv_handle_t *)&srv->mhd_timer,
        (uv_handle_t *)&srv->deadline_timer, (uv_handle_t *)&srv->read_timer,
        (uv_handle_t *)&srv->drain_timer,    (uv_handle_t *)&srv->mhd_check};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        hs[i]->data = srv;
    srv->handles_open += (int)(sizeof hs / sizeof hs[0]);
    uv_check_start(&srv->mhd_check, on_mhd_check);
    if (srv->index != 0)
        return;
    uv_poll_init(&srv->loop, &srv->accept_poll, srv->svc->listen_fd);
    uv_timer_init(&srv->loop, &srv->accept_retry);
    srv->accept_poll.data = srv->accept_retry.data = srv;
    srv->handles_open += 2;
    uv_signal_init(&srv->loop, &srv->sig_term);
    uv_signal_init(&srv->loop, &srv->sig_int);
    uv_signal_init(&srv->loop, &srv->sig_hup);
    srv->sig_term.data = srv->sig_int.data = srv->sig_hup.data = srv;
    srv->handles_open += 3;
    uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
    uv_signal_start(&srv->sig_int, on_signal, SIGINT);
    uv_signal_start(&srv->sig_hup, on_signal, SIGHUP);
}

/* HTTP thread number `index`: its loop, handles and daemon. It is added to
 * svc->threads as soon as it has a loop, so that a failure later on is
 * cleaned up with the others. */
static int thread_init(kga_service_t *svc, int index, kga_err_t *err)
{
    const kga_server_config_t *cfg = svc->cfg;
    kga_server_t *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    srv->svc = svc;
    srv->index = index;
    srv->cfg = cfg;
    srv->limits.max_body_bytes = (size_t)cfg->max_body_bytes;
    srv->limits.max_pairs = (size_t)cfg->max_pairs;
    srv->read_budget_ns = (uint64_t)cfg->request_read_timeout_s * 1000000000u;
    srv->wait_budget_ns = (uint64_t)cfg->connection_timeout_s * 1000000000u +
                          srv->read_budget_ns;
    for (int r = 0; r < KGA_ROUTE_COUNT_; r++)
        srv->small_cost_us[r] = INFINITY;
    atomic_init(&srv->connections, 0);
    kga_metrics_init(&srv->metrics);
    pthread_mutex_init(&srv->metrics_lock, NULL);
    pthread_mutex_init(&srv->mail_lock, NULL);
    int rc = uv_loop_init(&srv->loop);
    if (rc != 0) {
        pthread_mutex_destroy(&srv->metrics_lock);
        pthread_mutex_destroy(&srv->mail_lock);
        free(srv);
        return kga_err_set(err, KGA_EIO, "uv_loop_init: %s", uv_strerror(rc));
    }
    svc->threads[svc->n_threads++] = srv;
    init_handles(srv);
    return start_daemon(srv, err);
}

static void http_thread_main(void *arg)
{
    kga_server_t *srv = arg;
    run_mhd(srv);
    uv_run(&srv->loop, UV_RUN_DEFAULT);
}

static void log_listening(const kga_service_t *svc)
{
    const kga_server_config_t *cfg = svc->cfg;
    kga_logline_t l;
    kga_logline_begin(&l, KGA_LOG_INFO, "listening");
    kga_logline_str(&l, "address", cfg->listen);
    kga_logline_int(&l, "port", svc->port);
    kga_logline_int(&l, "worker_threads", svc->pool_threads);
    kga_logline_int(&l, "http_threads", svc->n_threads);
    kga_logline_int(&l, "inline_max_us", cfg->inline_max_us);
    kga_logline_int(&l, "max_inflight", cfg->max_inflight);
    kga_logline_int(&l, "max_connections", cfg->max_connections);
    kga_logline_int(&l, "connection_timeout_s", cfg->connection_timeout_s);
    kga_logline_int(&l, "request_read_timeout_s", cfg->request_read_timeout_s);
    kga_logline_int(&l, "request_deadline_ms", cfg->request_deadline_ms);
    kga_logline_int(&l, "max_body_bytes", cfg->max_body_bytes);
    kga_logline_int(&l, "max_pairs", cfg->max_pairs);
    kga_logline_int(&l, "pid", (int64_t)getpid());
    kga_logline_end(&l);
}

/* After every loop has returned: the daemons (each quiesced first, since
 * they share the listen socket, which is closed once), the loops. */
static void service_free(kga_service_t *svc, int rc)
{
    for (int i = 0; i < svc->n_threads; i++) {
        kga_server_t *t = svc->threads[i];
        if (t->thread_started) {
            uv_thread_join(&t->thread);
        } else if (t->handles_open > 0) {
            /* Never ran on a thread of its own (a start-up failure). */
            stop_server(t, rc);
            uv_run(&t->loop, UV_RUN_DEFAULT);
        }
    }
    for (int i = 0; i < svc->n_threads; i++) {
        kga_server_t *t = svc->threads[i];
        /* Every suspended connection was resumed (the drain waits for
         * them), as MHD_stop_daemon requires. */
        if (t->daemon != NULL)
            MHD_stop_daemon(t->daemon);
        uv_loop_close(&t->loop);
        pthread_mutex_destroy(&t->metrics_lock);
        pthread_mutex_destroy(&t->mail_lock);
        free(t);
    }
    if (svc->listen_fd >= 0)
        close(svc->listen_fd);
    kga_snapshot_unref(svc->snap);
    pthread_mutex_destroy(&svc->snap_lock);
    free(svc->threads);
    free(svc);
}

int kga_server_run(const kga_server_config_t *cfg, kga_err_t *err)
{
    kga_err_clear(err);
    kga_service_t *svc = calloc(1, sizeof *svc);
    int n = cfg->http_threads > 0 ? cfg->http_threads : 1;
    if (svc == NULL ||
        (svc->threads = calloc((size_t)n, sizeof *svc->threads)) == NULL) {
        free(svc);
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    }
    svc->cfg = cfg;
    svc->listen_fd = -1;
    svc->start_time = unix_now();
    atomic_init(&svc->connections, 0);
    atomic_init(&svc->accept_paused, 0);
    atomic_init(&svc->loaded, 0);
    atomic_init(&svc->draining, 0);
    atomic_init(&svc->inflight, 0);
    atomic_init(&svc->queued, 0);
    pthread_mutex_init(&svc->snap_lock, NULL);
    kga_log_set_level(cfg->log_level);
    kga_wire_init();
    signal(SIGPIPE, SIG_IGN);
    /* Each pool thread runs its own products: no BLAS threads on top. */
    openblas_set_num_threads(1);

    /* Read by libuv when the pool first starts, i.e. at the first
     * uv_queue_work, after this. */
    svc->pool_threads = cfg->threads > 0 ? cfg->threads : 1;
    char pool[16];
    snprintf(pool, sizeof pool, "%d", svc->pool_threads);
    setenv("UV_THREADPOOL_SIZE", pool, 1);

    int rc = bind_listen(svc, err);
    for (int i = 0; rc == 0 && i < n; i++)
        rc = thread_init(svc, i, err);
    if (rc != 0)
        goto out;
    log_listening(svc);
    for (int i = 1; i < n; i++) {
        kga_server_t *t = svc->threads[i];
        int trc = uv_thread_create(&t->thread, http_thread_main, t);
        if (trc != 0) {
            rc = kga_err_set(err, KGA_EIO, "cannot start HTTP thread %d: %s",
                             i, uv_strerror(trc));
            break;
        }
        t->thread_started = 1;
    }

    kga_server_t *first = svc->threads[0];
    first->fatal = err;
    accept_start(first);
    if (rc != 0)
        stop_service(svc, rc);
    else if (start_reload(first, "startup") != 0)
        stop_service(svc, rc = kga_err_set(err, KGA_ENOMEM,
                                           "cannot start loading the "
                                           "snapshot"));
    run_mhd(first);
    uv_run(&first->loop, UV_RUN_DEFAULT);
    if (rc == 0)
        rc = first->exit_code;

out:
    service_free(svc, rc);
    if (rc == 0)
        kga_log_event(KGA_LOG_INFO, "drained",
                      "every in-flight request was answered; exiting");
    return rc;
}
