/* The listen socket: bound at start-up, accepted on by the first HTTP
 * thread, closed when the drain begins. Each connection goes to the HTTP
 * thread with the fewest (libmicrohttpd runs with MHD_USE_NO_LISTEN_SOCKET
 * and gets it by MHD_add_connection): daemons sharing the listen socket
 * took connections unevenly. Up to max_connections are open on the whole
 * server; at the limit the acceptor stops polling the listen socket, so
 * that new clients wait in the kernel's backlog, as with libmicrohttpd's
 * own limit, and the thread that closes the next connection wakes it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server_internal.h"

int kga_acceptor_listen(kga_service_t *svc, kga_err_t *err)
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

/* A thread's count and the server's, together. */
void kga_connections_add(kga_server_t *srv, int delta)
{
    atomic_fetch_add_explicit(&srv->connections, delta, memory_order_relaxed);
    atomic_fetch_add_explicit(&srv->svc->connections, delta,
                              memory_order_relaxed);
}

/* One connection fewer: wakes the acceptor if the limit had stopped it. */
void kga_connection_gone(kga_server_t *srv)
{
    kga_service_t *svc = srv->svc;
    kga_connections_add(srv, -1);
    if (atomic_exchange(&svc->accept_paused, 0))
        (void)kga_mail_post(svc->threads[0], KGA_MAIL_ACCEPT, NULL);
}

/* On the thread the connection was given to; libmicrohttpd owns fd from
 * here on and closes it if it cannot take it. */
void kga_acceptor_add(kga_server_t *srv, int fd,
                      const struct sockaddr_storage *addr, socklen_t addr_len)
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
    /* In transit no more: kga_conn_on_notify counted it if it was added. */
    kga_connection_gone(srv);
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
    kga_connections_add(to, 1); /* in transit */
    if (to == svc->threads[0]) {
        kga_acceptor_add(to, fd, addr, len);
    } else if (kga_mail_post_conn(to, fd, addr, len) != 0) {
        close(fd); /* that thread has stopped, or no memory */
        kga_connection_gone(to);
    }
}

static void on_accept(uv_poll_t *p, int status, int events);

void kga_acceptor_start(kga_server_t *srv)
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
 * until kga_connection_gone() wakes it. */
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
        kga_acceptor_start(srv);
        return 1;
    }
    return 0;
}

static void on_accept_retry(uv_timer_t *t)
{
    kga_acceptor_start(t->data);
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
void kga_acceptor_close(kga_server_t *srv)
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
