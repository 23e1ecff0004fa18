/* A connection's phases and its read deadlines: a client has
 * request_read_timeout_s to send a whole request once its request line is
 * in. Apart from the request handler because a connection outlives its
 * requests (kept alive, or never sending one) and libmicrohttpd tells of it
 * through callbacks of its own.
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
 * kgalign_read_timeouts_total and logged ("read_timeout"). */
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "log.h"
#include "server_internal.h"

static kga_conn_list_t *conn_list_of(kga_server_t *srv, kga_conn_phase_t phase)
{
    return phase == KGA_CONN_WAITING   ? &srv->waiting
           : phase == KGA_CONN_READING ? &srv->reading
                                       : NULL;
}

static kga_conn_t *conn_first(const kga_conn_list_t *l)
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

void kga_conn_enter(kga_conn_t *c, kga_conn_phase_t phase)
{
    kga_server_t *srv = c->srv;
    kga_conn_list_t *from = conn_list_of(srv, c->phase);
    if (from != NULL)
        kga_list_remove(from, &c->node);
    c->phase = phase;
    c->since_ns = kga_now_ns();
    kga_conn_list_t *to = conn_list_of(srv, phase);
    if (to == NULL)
        return;
    c->due_ns = c->since_ns + (phase == KGA_CONN_WAITING ? srv->wait_budget_ns
                                                         : srv->read_budget_ns);
    kga_list_append(to, &c->node);
    if (to->head == &c->node)
        read_timer_arm(srv);
}

kga_conn_t *kga_conn_of(struct MHD_Connection *mhd)
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
                        (int64_t)(r->body.len + r->discarded));
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
    kga_read_phase_t what = c->phase == KGA_CONN_WAITING ? KGA_READ_REQUEST_LINE
                            : c->req == NULL             ? KGA_READ_HEADERS
                                                         : KGA_READ_BODY;
    kga_list_remove(conn_list_of(srv, c->phase), &c->node);
    c->phase = KGA_CONN_CLOSING;
    kga_server_metrics_lock(srv);
    srv->metrics.read_timeouts[what]++;
    kga_server_metrics_unlock(srv);
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
    kga_conn_list_t *lists[] = {&srv->waiting, &srv->reading};
    for (size_t i = 0; i < 2; i++) {
        kga_conn_t *c;
        while ((c = conn_first(lists[i])) != NULL && c->due_ns <= now)
            conn_expire(c, now);
    }
    read_timer_arm(srv);
}

/* The request on c is read (or answered before it was): its deadline no
 * longer applies. */
void kga_conn_request_read(kga_conn_t *c)
{
    if (c != NULL && c->phase == KGA_CONN_READING)
        kga_conn_enter(c, KGA_CONN_BUSY);
}

void kga_conn_on_notify(void *cls, struct MHD_Connection *conn,
                        void **socket_context,
                        enum MHD_ConnectionNotificationCode code)
{
    kga_server_t *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        kga_connections_add(srv, 1);
    else
        kga_connection_gone(srv);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        /* Without memory the connection just has no read deadline. */
        kga_conn_t *c = calloc(1, sizeof *c);
        if (c == NULL)
            return;
        c->srv = srv;
        c->mhd = conn;
        c->phase = KGA_CONN_BUSY; /* in no list yet */
        kga_conn_enter(c, KGA_CONN_WAITING);
        *socket_context = c;
        return;
    }
    kga_conn_t *c = *socket_context;
    if (c == NULL)
        return;
    *socket_context = NULL;
    kga_conn_list_t *l = conn_list_of(srv, c->phase);
    if (l != NULL)
        kga_list_remove(l, &c->node);
    if (c->req != NULL)
        c->req->cx = NULL;
    free(c);
}

/* Called by libmicrohttpd as soon as a request line is parsed, before the
 * headers: the request's read deadline starts. Returns the initial
 * *con_cls, NULL as before. */
void *kga_conn_on_request_line(void *cls, const char *uri,
                               struct MHD_Connection *conn)
{
    kga_conn_t *c = kga_conn_of(conn);
    if (c == NULL)
        return NULL;
    /* The raw target: libmicrohttpd decodes it in place after this call,
     * and what decoding hides (an encoded NUL or slash) is judged here. */
    c->target = uri;
    c->target_len = uri != NULL ? strlen(uri) : 0;
    c->target_problem = uri != NULL ? kga_target_check(uri, c->target_len)
                                    : KGA_TARGET_OK;
    if (c->phase != KGA_CONN_CLOSING)
        kga_conn_enter(c, KGA_CONN_READING);
    return NULL;
}

/* 1 when a connection that has not started a request yet has bytes
 * waiting: a request libmicrohttpd has not parsed yet. */
int kga_conn_input_waiting(const kga_server_t *srv)
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
