#ifndef KGA_SERVER_INTERNAL_H
#define KGA_SERVER_INTERNAL_H

/* What the pieces of the HTTP service share (server.c describes the whole):
 * the structs of a request, a connection, an HTTP thread (kga_server_t) and
 * the service all threads share (kga_service_t), and the calls one piece
 * makes into another. Nothing outside server/ includes it; the service's
 * interface is server.h.
 *
 *   server.c      start-up, the loop that drives libmicrohttpd, stop and
 *                 drain, signals
 *   acceptor.c    the listen socket: accepting, the connection limit,
 *                 handing connections to the HTTP threads
 *   mailbox.c     how one HTTP thread asks another for something
 *   connection.c  a connection's phases and its read deadlines
 *   handler.c     libmicrohttpd's access handler: a request from its
 *                 headers to its answer
 *   work.c        scoring on the worker pool or inline, request deadlines
 *   reload.c      loading snapshots and swapping them in
 *
 * Every function here runs on the loop thread of the kga_server_t it is
 * given unless its comment says otherwise. */

#include <microhttpd.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "body.h"
#include "list.h"
#include "metrics.h"
#include "proto/wire.h"
#include "request_path.h"
#include "routes.h"
#include "server.h"
#include "snapshot.h"

/* Bodies up to this size need no allocation beyond the request itself. */
#define KGA_INLINE_BODY 512

#define KGA_JSON_TYPE "application/json"

typedef struct kga_service kga_service_t;
typedef struct kga_server kga_server_t;
typedef struct kga_conn kga_conn_t;

typedef enum {
    KGA_REQ_READING,  /* headers seen, body being collected */
    KGA_REQ_QUEUED,   /* handed to the pool (or waiting for a reload) */
    KGA_REQ_ANSWERED, /* response prepared, waiting to be queued */
    KGA_REQ_DONE      /* response queued with libmicrohttpd */
} kga_req_state_t;

typedef struct kga_request {
    kga_server_t *srv;
    struct MHD_Connection *conn;
    kga_conn_t *cx; /* its connection's read-deadline state */
    const char *method; /* libmicrohttpd's strings, valid until completed */
    const char *path;
    kga_route_t route;
    kga_req_state_t state;
    uint64_t start_ns;
    uint64_t deadline_ns; /* 0 = none */
    char id[KGA_WIRE_REQUEST_ID_MAX + 1];

    /* body: in inline_body while it fits, else charged to the service's
     * budget */
    kga_body_t body;
    size_t discarded;
    /* The answer ends the connection (Connection: close): the request's
     * framing cannot be trusted, so neither can what follows it. */
    int close_after;
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

    char inline_body[KGA_INLINE_BODY];
} kga_request_t;

/* Where a connection is in its request cycle, for the read deadline. */
typedef enum {
    KGA_CONN_WAITING, /* for a request line: new, or kept alive after one */
    KGA_CONN_READING, /* request line in; headers or body still coming */
    KGA_CONN_BUSY,    /* the request is read: being answered */
    KGA_CONN_CLOSING  /* its read deadline passed; libmicrohttpd closes it */
} kga_conn_phase_t;

/* One per TCP connection (libmicrohttpd's socket context), from its
 * NOTIFY_STARTED to its NOTIFY_CLOSED; loop thread only. */
struct kga_conn {
    kga_server_t *srv;
    struct MHD_Connection *mhd;
    kga_conn_phase_t phase;
    uint64_t since_ns;  /* when the phase began */
    uint64_t due_ns;    /* when a waiting or reading phase runs out */
    kga_request_t *req; /* the request whose headers are in, or NULL */
    kga_list_node_t node; /* in the phase's list */
    /* The current request's target as libmicrohttpd gave it to
     * kga_conn_on_request_line(): a pointer into its read buffer (where it
     * then decodes the path in place; valid until the request completes),
     * the target's length before that, and what kga_target_check() found
     * in it. NULL when the request line had no target. */
    const char *target;
    size_t target_len;
    kga_target_problem_t target_problem;
};

/* Connections of one phase in phase-start order, which is deadline order
 * since the phase gives every connection the same budget. */
typedef kga_list_t kga_conn_list_t;

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
    uint64_t signature; /* of the source's paths when it started */
} kga_reload_job_t;

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

    kga_body_budget_t bodies; /* max_body_memory */
    atomic_int_fast64_t inflight; /* work requests queued or running */
    atomic_int_fast64_t queued;   /* of inflight, not started by a thread */

    double start_time;
    int pool_threads;
};

/* What another thread asks of an HTTP thread (kga_server_t.mail_flags). */
#define KGA_MAIL_DRAIN 1u  /* start draining */
#define KGA_MAIL_STOP 2u   /* stop now (the first load failed) */
#define KGA_MAIL_RELOAD 4u /* to the first thread: an /admin/reload request */
#define KGA_MAIL_ACCEPT 8u /* to the first thread: below max_connections */
#define KGA_MAIL_FILES 16u /* to the first thread: a snapshot's files changed */

/* A connection accepted by the first thread, for another one. */
typedef struct {
    int fd;
    socklen_t addr_len;
    struct sockaddr_storage addr;
} kga_new_conn_t;

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
    kga_new_conn_t *mail_conns;  /* accepted connections to add */
    size_t n_mail_conns, cap_mail_conns;
    int mail_closed;

    uv_poll_t mhd_poll;
    uv_timer_t mhd_timer;
    uv_check_t mhd_check; /* one MHD_run per loop turn after resumes */
    int run_pending;
    uv_timer_t deadline_timer;
    uv_timer_t read_timer; /* read deadlines of waiting/reading conns */
    uint64_t read_timer_due; /* 0 = not armed */
    kga_conn_list_t waiting, reading;
    uint64_t wait_budget_ns, read_budget_ns;
    uv_timer_t drain_timer;
    uv_signal_t sig_term, sig_int, sig_hup; /* first thread only */
    int handles_open;
    int poll_started;

    /* First thread only. */
    uv_poll_t accept_poll;   /* on the listen socket */
    uv_timer_t accept_retry; /* after accept() ran out of descriptors */
    uv_timer_t file_timer;   /* file_check_interval_ms */
    /* The signature (kga_snapshot_source_signature) of the files the last
     * failed reload read, 0 after a success: a stale snapshot's files are
     * loaded again only once they changed since. */
    uint64_t failed_signature;
    int accepting;           /* accept_poll started */
    int listener_closed;
    uint64_t loads; /* successful loads so far */
    kga_reload_job_t *reload;
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
 * Shared state, any thread
 * ------------------------------------------------------------------------ */

/* The current snapshot with a reference for the caller, or NULL before the
 * first load. */
static inline kga_snapshot_t *kga_service_snapshot_pin(kga_service_t *svc)
{
    pthread_mutex_lock(&svc->snap_lock);
    kga_snapshot_t *s = svc->snap != NULL ? kga_snapshot_ref(svc->snap) : NULL;
    pthread_mutex_unlock(&svc->snap_lock);
    return s;
}

static inline int kga_service_loaded(kga_service_t *svc)
{
    return atomic_load_explicit(&svc->loaded, memory_order_acquire);
}

static inline int kga_service_draining(kga_service_t *svc)
{
    return atomic_load_explicit(&svc->draining, memory_order_relaxed);
}

static inline void kga_server_metrics_lock(kga_server_t *srv)
{
    pthread_mutex_lock(&srv->metrics_lock);
}

static inline void kga_server_metrics_unlock(kga_server_t *srv)
{
    pthread_mutex_unlock(&srv->metrics_lock);
}

/* ------------------------------------------------------------------------
 * server.c: stop and drain
 * ------------------------------------------------------------------------ */

/* Closes every handle of this HTTP thread: its uv_run returns once they
 * are closed and (first thread) a reload that may be running has
 * finished. */
void kga_server_stop(kga_server_t *srv, int exit_code);
/* First thread: stops every HTTP thread at once (nothing to drain: the
 * first load failed). */
void kga_service_stop(kga_service_t *svc, int exit_code);
/* This thread's part of the drain: the first thread waits the drain delay
 * and stops accepting; the others hear of it by KGA_MAIL_DRAIN. */
void kga_server_start_drain(kga_server_t *srv);
/* Ends the drain once the listener is closed and no request is open; call
 * it whenever a request ends. */
void kga_server_maybe_finish_drain(kga_server_t *srv);

/* ------------------------------------------------------------------------
 * acceptor.c
 * ------------------------------------------------------------------------ */

/* Binds and listens on cfg's address: svc->listen_fd and svc->port.
 * Returns 0 or KGA_EIO, err naming the address. */
int kga_acceptor_listen(kga_service_t *svc, kga_err_t *err);
/* First thread: polls the listen socket (again), unless it is closed or
 * the thread stops. */
void kga_acceptor_start(kga_server_t *srv);
/* First thread: stops accepting for good and closes the listen socket. */
void kga_acceptor_close(kga_server_t *srv);
/* Gives fd, accepted by the first thread, to libmicrohttpd on srv's own
 * thread; libmicrohttpd owns it from here on. */
void kga_acceptor_add(kga_server_t *srv, int fd,
                      const struct sockaddr_storage *addr,
                      socklen_t addr_len);
/* Adds delta to a thread's connection count and the server's; any
 * thread. */
void kga_connections_add(kga_server_t *srv, int delta);
/* One connection fewer: wakes the acceptor if the limit had stopped it.
 * Any thread. */
void kga_connection_gone(kga_server_t *srv);

/* ------------------------------------------------------------------------
 * mailbox.c
 * ------------------------------------------------------------------------ */

/* Posts flags, and r to the receiver's reload list (KGA_MAIL_RELOAD) or resume
 * list (otherwise), and wakes its loop. Any thread. Returns 0, or -1 when
 * `to` has stopped reading mail. */
int kga_mail_post(kga_server_t *to, unsigned flags, kga_request_t *r);
/* Posts a connection accepted by the first thread to `to`. Returns 0, or
 * -1 (fd still the caller's) when `to` reads no more mail or is out of
 * memory. */
int kga_mail_post_conn(kga_server_t *to, int fd,
                       const struct sockaddr_storage *addr,
                       socklen_t addr_len);
/* The uv_async callback that reads srv's mailbox. */
void kga_mail_on_wake(uv_async_t *a);

/* ------------------------------------------------------------------------
 * connection.c
 * ------------------------------------------------------------------------ */

/* The connection's state (libmicrohttpd's socket context), or NULL. */
kga_conn_t *kga_conn_of(struct MHD_Connection *mhd);
/* c enters phase, with that phase's read deadline from now. */
void kga_conn_enter(kga_conn_t *c, kga_conn_phase_t phase);
/* The request on c is read (or answered before it was): its deadline no
 * longer applies. c may be NULL. */
void kga_conn_request_read(kga_conn_t *c);
/* 1 when a connection that has not started a request yet has bytes
 * waiting: a request libmicrohttpd has not parsed yet. */
int kga_conn_input_waiting(const kga_server_t *srv);
/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback (cls: srv). */
void kga_conn_on_notify(void *cls, struct MHD_Connection *conn,
                        void **socket_context,
                        enum MHD_ConnectionNotificationCode code);
/* libmicrohttpd's MHD_OPTION_URI_LOG_CALLBACK (cls: srv). */
void *kga_conn_on_request_line(void *cls, const char *uri,
                               struct MHD_Connection *conn);

/* ------------------------------------------------------------------------
 * handler.c
 * ------------------------------------------------------------------------ */

/* The whole response for any thread: body (malloc'd, ownership passes to
 * libmicrohttpd, NULL allowed) and the headers every answer carries. NULL
 * when out of memory (body freed). */
struct MHD_Response *kga_request_response(const kga_request_t *r, char *body,
                                          size_t len, int status,
                                          const char *content_type);
/* An error body for code with the request's id and model_version (may be
 * NULL); its HTTP status in *status. Any thread. */
struct MHD_Response *kga_request_error_response(const kga_request_t *r,
                                                const char *model_version,
                                                kga_wire_code_t code,
                                                const char *message,
                                                int *status);
/* The access log line of r, answered with status at end_ns. Any thread. */
void kga_request_log(const kga_request_t *r, int status, uint64_t end_ns,
                     size_t pairs);
/* Queues r's prepared response (inside the access handler). */
enum MHD_Result kga_request_queue_prepared(kga_request_t *r);
/* Answers r with an error now: records metrics and the log line. */
enum MHD_Result kga_request_answer_error(kga_request_t *r,
                                         kga_wire_code_t code,
                                         const char *message);
/* r, suspended, has its response: counted and logged here, queued by its
 * own thread once that resumes it. Any thread. */
void kga_request_resume_answered(kga_request_t *r, uint64_t now);
/* Answers the suspended r with an error, from any thread. */
void kga_request_resume_with_error(kga_request_t *r, kga_wire_code_t code,
                                   const char *message);
/* libmicrohttpd's access handler (cls: srv). */
enum MHD_Result kga_handler_on_access(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version,
                                      const char *upload_data,
                                      size_t *upload_data_size,
                                      void **con_cls);
/* libmicrohttpd's MHD_OPTION_NOTIFY_COMPLETED callback (cls: srv). */
void kga_handler_on_completed(void *cls, struct MHD_Connection *conn,
                              void **con_cls,
                              enum MHD_RequestTerminationCode toe);
/* libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER. */
void kga_handler_on_log(void *cls, const char *fmt, va_list ap);

/* ------------------------------------------------------------------------
 * work.c
 * ------------------------------------------------------------------------ */

/* Starts the work of /align or /match, its body read: scores it here when
 * small and cheap, else hands it to the pool with the connection
 * suspended. */
enum MHD_Result kga_work_start(kga_request_t *r);

/* ------------------------------------------------------------------------
 * reload.c
 * ------------------------------------------------------------------------ */

/* First thread: loads a new snapshot in the pool and swaps it in. Returns
 * 0, or -1 when a reload is already running. */
int kga_reload_start(kga_server_t *srv, const char *trigger);
/* First thread: an /admin/reload request from any thread, answered when
 * the reload is done. */
void kga_reload_start_admin(kga_server_t *srv, kga_request_t *r);
/* First thread: checks the serving snapshot's files; when they changed in
 * place, marks it stale, logs why, and loads the files again (unless the
 * last attempt read the very same files and failed). Called periodically,
 * by KGA_MAIL_FILES and before a reload. */
void kga_reload_check_files(kga_server_t *srv);
/* First thread: starts the periodic check (file_check_interval_ms). */
void kga_reload_watch_files(kga_server_t *srv);

#endif
