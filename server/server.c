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
 * time a client may take to send a request (see connection.c).
 *
 * The service is split along these seams, one file each, around
 * server_internal.h (which lists them): the acceptor, the mailboxes, the
 * connections and their read deadlines, the request handler, the work and
 * its deadlines, the reloads. This file starts the threads, drives each
 * one's libmicrohttpd from its loop, and stops or drains them: the life of
 * the service as a whole. */
#include "server.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "server_internal.h"

/* libmicrohttpd's per-connection memory pool (request line, headers, read
 * and write buffers). It is cleared for every request, so its size is a
 * per-request cost: the default 32 KiB showed up as 9% of the server's
 * profile under load. 8 KiB holds any API request's headers (nginx's
 * large_client_header_buffers default); bodies stream through it. */
#define CONNECTION_MEMORY (8u * 1024u)
/* During a drain, how often the server looks for requests still arriving
 * once none is open (see kga_server_maybe_finish_drain()). */
#define DRAIN_SETTLE_MS 20

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------
 * Driving libmicrohttpd from the loop
 * ------------------------------------------------------------------------ */

static void run_mhd(kga_server_t *srv);

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
void kga_server_stop(kga_server_t *srv, int exit_code)
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
        kga_connection_gone(srv);
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
        close_handle(srv, (uv_handle_t *)&srv->file_timer);
        close_handle(srv, (uv_handle_t *)&srv->sig_term);
        close_handle(srv, (uv_handle_t *)&srv->sig_int);
        close_handle(srv, (uv_handle_t *)&srv->sig_hup);
    }
}

/* First thread: stops every HTTP thread at once (nothing to drain: the
 * first load failed). */
void kga_service_stop(kga_service_t *svc, int exit_code)
{
    for (int i = 1; i < svc->n_threads; i++)
        (void)kga_mail_post(svc->threads[i], KGA_MAIL_STOP, NULL);
    kga_server_stop(svc->threads[0], exit_code);
}

static void on_drain_settle(uv_timer_t *t)
{
    kga_server_t *srv = t->data;
    if (srv->stopping)
        return;
    if (srv->open_requests > 0)
        return; /* their completion calls kga_server_maybe_finish_drain again */
    if (srv->reading.head != NULL || kga_conn_input_waiting(srv)) {
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
    kga_server_stop(srv, 0);
}

/* Once the listener is closed and no request is open, the drain ends,
 * but not from inside a libmicrohttpd callback, and not before the
 * connections accepted before the listener closed have had their requests
 * read: their clients sent them, and losing them is losing requests. */
void kga_server_maybe_finish_drain(kga_server_t *srv)
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
    kga_server_maybe_finish_drain(srv);
}

/* First thread, after the drain delay: the listener closes, then every
 * other thread is told, after the last connections handed to it (its
 * mailbox keeps the order). */
static void on_drain_timer(uv_timer_t *t)
{
    kga_server_t *srv = t->data;
    kga_service_t *svc = srv->svc;
    kga_acceptor_close(srv);
    for (int i = 1; i < svc->n_threads; i++)
        (void)kga_mail_post(svc->threads[i], KGA_MAIL_DRAIN, NULL);
    stopped_accepting(srv);
}

/* This thread's part of the drain: the first thread waits the drain delay
 * and stops accepting; the others hear of it by KGA_MAIL_DRAIN. */
void kga_server_start_drain(kga_server_t *srv)
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
    kga_server_start_drain(svc->threads[0]);
}

static void on_signal(uv_signal_t *s, int signum)
{
    kga_server_t *srv = s->data;
    kga_service_t *svc = srv->svc;
    if (signum == SIGHUP) {
        if (kga_service_draining(svc)) {
            kga_log_event(KGA_LOG_INFO, "reload_ignored",
                          "SIGHUP while draining: no reload");
            return;
        }
        if (kga_reload_start(srv, "SIGHUP") != 0) {
            srv->reload_again = 1;
            kga_log_event(KGA_LOG_INFO, "reload_deferred",
                          "SIGHUP during a reload: another one follows it");
        }
        return;
    }
    const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (!kga_service_draining(svc)) {
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

static int start_daemon(kga_server_t *srv, kga_err_t *err)
{
    const kga_server_config_t *cfg = srv->cfg;
    /* Connections come from the first thread (MHD_add_connection), which
     * also keeps the connection limit. */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, kga_handler_on_access, srv,
        /* The logger first, so that option errors go through it too. */
        MHD_OPTION_EXTERNAL_LOGGER, kga_handler_on_log, srv,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, kga_handler_on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, kga_conn_on_notify, srv,
        MHD_OPTION_URI_LOG_CALLBACK, kga_conn_on_request_line, srv,
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
    uv_async_init(&srv->loop, &srv->wake, kga_mail_on_wake);
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
    uv_timer_init(&srv->loop, &srv->file_timer);
    srv->accept_poll.data = srv->accept_retry.data = srv->file_timer.data =
        srv;
    srv->handles_open += 3;
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
    kga_logline_int(&l, "file_check_interval_ms", cfg->file_check_interval_ms);
    kga_logline_int(&l, "max_body_bytes", cfg->max_body_bytes);
    kga_logline_int(&l, "max_body_memory", cfg->max_body_memory);
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
            kga_server_stop(t, rc);
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
    kga_body_budget_init(&svc->bodies, cfg->max_body_memory);
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

    /* A read of a store or model truncated under the server: a logged
     * exit rather than a bare SIGBUS (fault.h). */
    if (kga_fault_handler_install() != 0)
        kga_log_event(KGA_LOG_WARN, "fault_handler",
                      "cannot install the SIGBUS handler: a file truncated "
                      "in place would end the process without a log line");
    int rc = kga_acceptor_listen(svc, err);
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
    kga_acceptor_start(first);
    kga_reload_watch_files(first);
    if (rc != 0)
        kga_service_stop(svc, rc);
    else if (kga_reload_start(first, "startup") != 0)
        kga_service_stop(svc, rc = kga_err_set(err, KGA_ENOMEM,
                                               "cannot start loading the "
                                               "snapshot"));
    run_mhd(first);
    uv_run(&first->loop, UV_RUN_DEFAULT);
    if (rc == 0)
        rc = first->exit_code;

out:
    service_free(svc, rc);
    kga_fault_handler_remove();
    if (rc == 0)
        kga_log_event(KGA_LOG_INFO, "drained",
                      "every in-flight request was answered; exiting");
    return rc;
}
