/* The HTTP service under hostile or excessive load, over real sockets, with
 * the fake aligner (tests/server_harness.c, tests/server_fake_aligner.c):
 *   - a client trickling its body is disconnected at the read deadline
 *     (request_read_timeout_s), on a new connection and on a kept-alive
 *     one, while other clients are served;
 *   - idle connections (no bytes, part of a request line, a request line
 *     and no more, kept alive after a response) are closed after
 *     connection_timeout_s, by the idle timer and not the read deadline;
 *   - max_connections held by idle and trickling clients (request line,
 *     headers, body) are freed at their deadlines, and a client waiting in
 *     the listen backlog is then served;
 *   - forty clients stalling in 1 MiB bodies hold no more memory than the
 *     body budget (max_body_memory), the rest answered 503 at once, and the
 *     memory goes back to the system when they go;
 *   - at twice the saturating load (more clients than max_inflight, a slow
 *     scorer) every request is answered 200 or 503 with Retry-After, none
 *     hangs or misses its deadline, and the in-flight gauge returns to 0.
 * Only behaviour is asserted, never how long something took: the limits
 * are short, and every wait has a generous bound that fails the test
 * rather than hanging it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_harness.h"
#include "server_fake_aligner.h"
#include "testutil.h"

/* One byte every TRICKLE_MS: never idle for libmicrohttpd's idle timer. */
#define TRICKLE_MS 100
/* Longest any test waits for the server to act. */
#define WAIT_MAX_S 30

#define ALIGN_200 "kgalign_requests_total{route=\"/align\",status=\"200\"}"
#define ALIGN_503 "kgalign_requests_total{route=\"/align\",status=\"503\"}"
#define ALIGN_504 "kgalign_requests_total{route=\"/align\",status=\"504\"}"

static const char align_body[] = "{\"left\": \"L:e1\", \"right\": \"R:e1\"}";

/* ------------------------------------------------------------------------
 * Slow clients
 * ------------------------------------------------------------------------ */

/* A connection that sends `prefix` at once, then `data` one byte per
 * trickle_step(). */
typedef struct {
    const char *what;
    int fd;
    char data[12000];
    size_t len, sent;
    int closed;   /* the server closed or reset the connection */
    int answered; /* response bytes came back */
} trickler_t;

/* A body far longer than any test lasts at a byte per TRICKLE_MS. */
#define SLOW_BODY_BYTES 10000
#define STR_(x) #x
#define STR(x) STR_(x)
#define SLOW_BODY_HEAD                                                     \
    "POST /align HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "              \
    "application/json\r\nContent-Length: " STR(SLOW_BODY_BYTES) "\r\n\r\n"

static void trickler_start(trickler_t *t, int fd, const char *what,
                           const char *prefix, char fill, size_t len)
{
    memset(t, 0, sizeof *t);
    t->what = what;
    t->fd = fd;
    ck_assert_uint_lt(len, sizeof t->data);
    memset(t->data, fill, len);
    t->len = len;
    if (prefix != NULL)
        ck_assert_int_eq(send_all(fd, prefix, strlen(prefix)), 0);
}

static void trickler_open(trickler_t *t, int port, const char *what,
                          const char *prefix, char fill, size_t len)
{
    trickler_start(t, http_connect(port), what, prefix, fill, len);
}

/* Notices a close (or an answer); otherwise sends the next byte. */
static void trickle_step(trickler_t *t)
{
    if (t->closed)
        return;
    struct pollfd p = {.fd = t->fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) > 0) {
        char buf[512];
        ssize_t n = recv(t->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            t->answered = 1;
            return;
        }
        if (n == 0 || errno == ECONNRESET) {
            t->closed = 1;
            return;
        }
    }
    if (t->sent < t->len) {
        ssize_t n = send(t->fd, t->data + t->sent, 1,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == 1)
            t->sent++;
        else if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            t->closed = 1;
    }
}

static int all_closed(const trickler_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!t[i].closed)
            return 0;
    return 1;
}

static int count_closed(const trickler_t *t, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += t[i].closed;
    return c;
}

/* Every trickler was closed by the server, with nothing answered and
 * before it sent all it had. */
static void assert_cut_off(trickler_t *t, size_t n, const server_t *s)
{
    for (size_t i = 0; i < n; i++) {
        if (!t[i].closed) {
            char *log = read_log(s);
            size_t len = strlen(log);
            /* Check's messages are short: the end of the log. */
            ck_abort_msg("%s: still open after %d s (%zu bytes sent); "
                         "log:\n%s",
                         t[i].what, WAIT_MAX_S, t[i].sent,
                         log + (len > 1500 ? len - 1500 : 0));
        }
        ck_assert_msg(!t[i].answered, "%s: got an answer", t[i].what);
        ck_assert_msg(t[i].len == 0 || t[i].sent < t[i].len,
                      "%s: sent all %zu bytes", t[i].what, t[i].len);
        close(t[i].fd);
    }
}

/* The server's read timeouts so far, by phase, from its metrics. */
static void assert_read_timeouts(const server_t *s, double request_line,
                                 double headers, double body)
{
    char *m = get_metrics(s);
    ck_assert_double_eq(
        metric_value(m, "kgalign_read_timeouts_total{phase=\"request_line\"}"),
        request_line);
    ck_assert_double_eq(
        metric_value(m, "kgalign_read_timeouts_total{phase=\"headers\"}"),
        headers);
    ck_assert_double_eq(
        metric_value(m, "kgalign_read_timeouts_total{phase=\"body\"}"), body);
    free(m);
}

/* (a) A body trickled a byte at a time is cut off at the read deadline,
 * both as a connection's first request and as a kept-alive connection's
 * second; other clients are served meanwhile. The idle timeout is long, so
 * only the read deadline can close them. */
START_TEST(trickled_body_is_cut_off)
{
    server_t s;
    const char *args[] = {"--request-read-timeout-s", "2",
                          "--connection-timeout-s", "60", NULL};
    server_start(&s, NULL, args);
    wait_ready(&s);

    trickler_t t[2];
    trickler_open(&t[0], s.port, "first request", SLOW_BODY_HEAD, ' ',
                  SLOW_BODY_BYTES);
    int fd = http_connect(s.port);
    http_resp_t r;
    ck_assert_int_eq(
        http_exchange(fd, "POST", "/align", NULL, align_body, 1, &r), 0);
    ck_assert_int_eq(r.status, 200);
    http_resp_free(&r);
    trickler_start(&t[1], fd, "kept-alive request", SLOW_BODY_HEAD, ' ',
                   SLOW_BODY_BYTES);

    int served = 0, served_while_trickling = 0;
    double until = now_s() + WAIT_MAX_S;
    for (int step = 0; !all_closed(t, 2) && now_s() < until; step++) {
        trickle_step(&t[0]);
        trickle_step(&t[1]);
        if (step % 4 == 0) {
            int open_before = !all_closed(t, 2);
            http_do(s.port, "POST", "/align", NULL, align_body, &r);
            ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
            http_resp_free(&r);
            served++;
            served_while_trickling += open_before;
        }
        sleep_ms(TRICKLE_MS);
    }
    assert_cut_off(t, 2, &s);
    ck_assert_int_ge(served_while_trickling, 1);

    assert_read_timeouts(&s, 0, 0, 2);
    char *m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, ALIGN_200), served + 1);
    free(m);
    ck_assert_int_eq(log_count(&s, "\"event\":\"read_timeout\""), 2);
    ck_assert_int_eq(log_count(&s, "\"missing\":\"body\""), 2);
    server_stop(&s);
}
END_TEST

/* (b) Idle connections are closed after connection_timeout_s by the idle
 * timer, whatever part of a request they sent before going quiet; the read
 * deadline (long here) plays no part. */
START_TEST(idle_connections_time_out)
{
    server_t s;
    const char *args[] = {"--connection-timeout-s", "1",
                          "--request-read-timeout-s", "60", NULL};
    server_start(&s, NULL, args);
    wait_ready(&s);

    int fresh = http_connect(s.port);
    int part_line = http_connect(s.port);
    ck_assert_int_eq(send_all(part_line, "POST /al", 8), 0);
    int line_only = http_connect(s.port);
    const char *line = "POST /align HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    ck_assert_int_eq(send_all(line_only, line, strlen(line)), 0);
    int kept = http_connect(s.port);
    http_resp_t r;
    ck_assert_int_eq(
        http_exchange(kept, "POST", "/align", NULL, align_body, 1, &r), 0);
    ck_assert_int_eq(r.status, 200);
    http_resp_free(&r);

    ck_assert_msg(closed_by_server(fresh, WAIT_MAX_S, NULL),
                  "fresh still open");
    ck_assert_msg(closed_by_server(part_line, WAIT_MAX_S, NULL),
                  "part of a request line: still open");
    ck_assert_msg(closed_by_server(line_only, WAIT_MAX_S, NULL),
                  "request line only: still open");
    ck_assert_msg(closed_by_server(kept, WAIT_MAX_S, NULL),
                  "kept-alive still open");
    close(fresh);
    close(part_line);
    close(line_only);
    close(kept);

    assert_read_timeouts(&s, 0, 0, 0);
    server_stop(&s);
}
END_TEST

/* (b') Out of file descriptors, the server keeps serving the connections
 * it has, says why it accepts no more, and accepts again once some close;
 * it does not spin on the listen socket meanwhile. */
START_TEST(out_of_descriptors_then_accepting_again)
{
    server_t s;
    harness.max_open_files = 48;
    server_start(&s, NULL, NULL);
    harness.max_open_files = 0;
    wait_ready(&s);
    enum { N = 64 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = http_connect(s.port); /* the kernel's backlog takes them */
    double until = now_s() + WAIT_MAX_S;
    while (!log_contains(&s, "\"event\":\"accept_failed\"") &&
           now_s() < until)
        sleep_ms(20);
    ck_assert_msg(log_contains(&s, "Too many open files"),
                  "no accept_failed logged; log:\n%s", read_log(&s));
    /* Backing off, it tries about ten times a second: a spin on the
     * still-readable listen socket would log thousands of failures. */
    sleep_ms(500);
    int failures = log_count(&s, "\"event\":\"accept_failed\"");
    ck_assert_msg(failures <= 100, "%d accept failures logged in 0.5 s",
                  failures);
    /* The first connection was accepted before the limit: still served. */
    http_resp_t r;
    ck_assert_int_eq(
        http_exchange(fds[0], "POST", "/align", NULL, align_body, 1, &r), 0);
    ck_assert_int_eq(r.status, 200);
    http_resp_free(&r);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    /* Accepting again: a new client is served. */
    http_get_ok(s.port, "/healthz");
    server_stop(&s);
}
END_TEST

/* (c) Slow and idle clients take every connection; the one after them
 * waits in the listen backlog, since libmicrohttpd accepts nothing at its
 * connection limit, and the kernel hands connections over in arrival
 * order. Each slow client is disconnected at its deadline (the idle one by
 * the idle timer); only then is the waiting client served. */
START_TEST(held_connections_are_freed)
{
    server_t s;
    const char *args[] = {"--max-connections", "4", "--connection-timeout-s",
                          "2", "--request-read-timeout-s", "1", NULL};
    server_start(&s, NULL, args);
    wait_ready(&s);

    trickler_t t[4];
    trickler_open(&t[0], s.port, "idle", NULL, 0, 0);
    /* Past connection_timeout_s + request_read_timeout_s without a whole
     * request line. */
    trickler_open(&t[1], s.port, "request line", "POST /align?", 'a', 1000);
    trickler_open(&t[2], s.port, "headers",
                  "POST /align HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", 'a',
                  1000);
    trickler_open(&t[3], s.port, "body", SLOW_BODY_HEAD, ' ',
                  SLOW_BODY_BYTES);
    size_t n;
    char *req = format_request("POST", "/align", NULL, align_body, 0, &n);
    int waiting = http_connect(s.port);
    ck_assert_int_eq(send_all(waiting, req, n), 0);
    free(req);

    http_resp_t r = {0};
    int answered = 0, closed_before_answer = 0;
    double until = now_s() + WAIT_MAX_S;
    while (!(answered && all_closed(t, 4)) && now_s() < until) {
        for (size_t i = 0; i < 4; i++)
            trickle_step(&t[i]);
        struct pollfd p = {.fd = waiting, .events = POLLIN};
        if (!answered && poll(&p, 1, 0) > 0) {
            /* A close before this answer has reached us by now: on
             * loopback the FIN is delivered when it is sent. */
            for (size_t i = 0; i < 4; i++)
                trickle_step(&t[i]);
            closed_before_answer = count_closed(t, 4);
            ck_assert_int_eq(http_read(waiting, &r), 0);
            answered = 1;
        }
        sleep_ms(TRICKLE_MS);
    }
    assert_cut_off(t, 4, &s);
    ck_assert_msg(answered, "the waiting client was never served");
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    ck_assert_int_ge(closed_before_answer, 1);
    http_resp_free(&r);
    close(waiting);

    assert_read_timeouts(&s, 1, 1, 1);
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * Memory held by bodies
 * ------------------------------------------------------------------------ */

/* A field of /proc/PID/status, in KiB ("VmRSS"). */
static long proc_status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    long kib = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            kib = atol(line + fl + 1);
    fclose(f);
    ck_assert_int_ge(kib, 0);
    return kib;
}

/* The bytes waiting in the receive queue of the server's end of the
 * loopback connection fd (/proc/net/tcp), or -1 when it is not listed. */
static long server_unread(int server_port, int fd)
{
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&me, &len), 0);
    FILE *f = fopen("/proc/net/tcp", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    long unread = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned local_port, remote_port;
        unsigned long tx, rx;
        if (sscanf(line, " %*d: %*x:%x %*x:%x %*x %lx:%lx", &local_port,
                   &remote_port, &tx, &rx) == 4 &&
            local_port == (unsigned)server_port &&
            remote_port == ntohs(me.sin_port))
            unread = (long)rx;
    }
    fclose(f);
    return unread;
}

/* Whether the server's resident size measures its memory: under
 * ThreadSanitizer every byte a body's buffer touches also makes shadow
 * memory resident, several times its size, so only the budget's counters
 * and answers are checked there. */
static int rss_tells(void)
{
#ifdef KGA_SANITIZER_BUILD
    return strcmp(KGA_SANITIZER_BUILD, "thread") != 0;
#else
    return 1;
#endif
}

#define BODY_MIB (1 << 20)
#define SLOW_CLIENTS 40
#define BODY_BUDGET_MIB 8

/* One round of (e): returns the growth of the resident size while the
 * admitted bodies were held, in KiB, over base_kib. */
static long slow_bodies_round(const server_t *s, long base_kib, double fails)
{
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "POST /align HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Length: %d\r\n\r\n",
                      BODY_MIB);
    int fd[SLOW_CLIENTS];
    for (int i = 0; i < SLOW_CLIENTS; i++) {
        fd[i] = http_connect(s->port);
        ck_assert_int_eq(send_all(fd[i], head, (size_t)hl), 0);
    }
    /* Each announced body was taken from the budget or refused. */
    free(metrics_wait(s, "kgalign_requests_total{route=\"/align\","
                         "status=\"503\"}",
                      fails + SLOW_CLIENTS - BODY_BUDGET_MIB));
    char *m = get_metrics(s);
    ck_assert_double_eq(metric_value(m, "kgalign_body_memory_bytes"),
                        (double)BODY_BUDGET_MIB * BODY_MIB);
    free(m);

    char *body = malloc(BODY_MIB);
    memset(body, ' ', BODY_MIB);
    int admitted = 0;
    for (int i = 0; i < SLOW_CLIENTS; i++) {
        if (readable_now(fd[i])) { /* refused at its headers */
            http_resp_t r;
            ck_assert_int_eq(http_read(fd[i], &r), 0);
            ck_assert_msg(r.status == 503, "%d %s", r.status, r.body);
            char v[32];
            ck_assert_ptr_nonnull(http_header(&r, "Retry-After", v, sizeof v));
            http_resp_free(&r);
            close(fd[i]);
            fd[i] = -1;
            continue;
        }
        ck_assert_int_eq(send_all(fd[i], body, BODY_MIB - 1), 0);
        admitted++;
    }
    free(body);
    ck_assert_int_eq(admitted, BODY_BUDGET_MIB);
    /* The server has read every byte sent: they are in its memory. */
    double until = now_s() + WAIT_MAX_S;
    for (int i = 0; i < SLOW_CLIENTS; i++)
        while (fd[i] >= 0 && server_unread(s->port, fd[i]) != 0 &&
               now_s() < until)
            sleep_ms(10);
    for (int i = 0; i < SLOW_CLIENTS; i++)
        ck_assert(fd[i] < 0 || server_unread(s->port, fd[i]) == 0);
    long grown_kib = proc_status_kib(s->pid, "VmRSS") - base_kib;
    for (int i = 0; i < SLOW_CLIENTS; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    free(metrics_wait(s, "kgalign_body_memory_bytes", 0));
    return grown_kib;
}

/* (e) Forty clients each announce a 1 MiB body and send all of it but its
 * last byte, then stall, as a slow sender would. The server takes the
 * first bodies from its 8 MiB budget and answers the rest 503 at once,
 * before they send a byte of body: its resident size grows by about the
 * budget, not by forty bodies. When the clients go, the memory goes back
 * to the system, in the second round too (after the first, glibc would
 * serve 1 MiB from its heap, which keeps what is freed). */
START_TEST(slow_bodies_hold_bounded_memory)
{
    server_t s;
    const char *args[] = {"--max-body-memory", STR(BODY_BUDGET_MIB) "MiB",
                          "--request-read-timeout-s", "300",
                          "--connection-timeout-s", "300", NULL};
    server_start(&s, NULL, args);
    wait_ready(&s);
    for (int i = 0; i < 20; i++) { /* the allocator and the pages warm */
        http_resp_t r;
        http_do(s.port, "POST", "/align", NULL, align_body, &r);
        http_resp_free(&r);
    }
    long base_kib = proc_status_kib(s.pid, "VmRSS");
    for (int round = 0; round < 2; round++) {
        long held_kib = slow_bodies_round(
            &s, base_kib, (double)round * (SLOW_CLIENTS - BODY_BUDGET_MIB));
        if (!rss_tells())
            continue;
        /* The budget, and room for libmicrohttpd's per-connection buffers
         * and the allocator. Forty bodies would be 40 MiB more. */
        ck_assert_msg(held_kib < (BODY_BUDGET_MIB + 8) * 1024,
                      "round %d: resident size grew by %ld KiB for %d "
                      "admitted bodies",
                      round, held_kib, BODY_BUDGET_MIB);
        ck_assert_msg(held_kib > (BODY_BUDGET_MIB - 1) * 1024,
                      "round %d: resident size grew by only %ld KiB: the "
                      "bodies are not in memory",
                      round, held_kib);
        long after_kib = proc_status_kib(s.pid, "VmRSS") - base_kib;
        ck_assert_msg(after_kib < 4 * 1024,
                      "round %d: resident size still %ld KiB above the "
                      "start after the bodies were freed",
                      round, after_kib);
    }
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * Overload
 * ------------------------------------------------------------------------ */

#define OVL_THREADS "2"
#define OVL_MAX_INFLIGHT 4
#define OVL_CLIENTS (2 * OVL_MAX_INFLIGHT)
#define OVL_REQUESTS 25
#define OVL_BACKOFF_MS 10

typedef struct {
    int port;
    int index;
    pthread_barrier_t *start;
    int ok, busy, busy_without_retry_after, other, no_response;
    int other_status;
    char other_body[256];
} ovl_client_t;

/* A closed-loop client: one request at a time, the next as soon as the
 * answer is in (after a short pause on a 503). Odd clients open a
 * connection per request; even ones keep theirs alive. */
static void *ovl_client(void *arg)
{
    ovl_client_t *c = arg;
    int keep_alive = c->index % 2 == 0;
    size_t n;
    char *req = format_request("POST", "/align", NULL, align_body,
                               keep_alive, &n);
    int fd = -1;
    pthread_barrier_wait(c->start);
    for (int i = 0; i < OVL_REQUESTS; i++) {
        if (fd < 0)
            fd = http_connect_raw(c->port);
        http_resp_t r;
        if (fd < 0 || send_all(fd, req, n) != 0 ||
            http_read(fd, &r) != 0) {
            c->no_response++;
            if (fd >= 0)
                close(fd);
            fd = -1;
            continue;
        }
        char v[64];
        if (r.status == 200 &&
            json_is_array(json_object_get(r.json, "results"))) {
            c->ok++;
        } else if (r.status == 503) {
            c->busy++;
            if (http_header(&r, "Retry-After", v, sizeof v) == NULL ||
                atoi(v) < 1)
                c->busy_without_retry_after++;
        } else {
            if (c->other++ == 0) {
                c->other_status = r.status;
                snprintf(c->other_body, sizeof c->other_body, "%s",
                         r.body != NULL ? r.body : "");
            }
        }
        int server_closes =
            http_header(&r, "Connection", v, sizeof v) != NULL &&
            strcasecmp(v, "close") == 0;
        if (!keep_alive || server_closes) {
            close(fd);
            fd = -1;
        }
        if (r.status == 503)
            sleep_ms(OVL_BACKOFF_MS);
        http_resp_free(&r);
    }
    if (fd >= 0)
        close(fd);
    free(req);
    return NULL;
}

/* (d) Twice the saturating load: max_inflight requests in flight saturate
 * the server (two workers, 40 ms a request), and twice as many clients
 * keep a request outstanding each. Every request is answered, with 200 or
 * with 503 and Retry-After; none with 504, so every accepted request
 * finished within its deadline (the server answers 504 once the deadline
 * passed, before or after scoring). Afterwards nothing is left in flight
 * and the server serves as before. */
START_TEST(twice_saturation_is_shed_with_503)
{
    server_t s;
    const char *env[] = {"KGA_FAKE_SCORE_DELAY_MS=40", NULL};
    char inflight[16];
    snprintf(inflight, sizeof inflight, "%d", OVL_MAX_INFLIGHT);
    const char *args[] = {"--threads", OVL_THREADS, "--max-inflight", inflight,
                          "--request-deadline-ms", "2000", "--retry-after-s",
                          "1", "--access-log", "false", NULL};
    server_start(&s, env, args);
    wait_ready(&s);

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, OVL_CLIENTS);
    ovl_client_t c[OVL_CLIENTS];
    pthread_t th[OVL_CLIENTS];
    memset(c, 0, sizeof c);
    for (int i = 0; i < OVL_CLIENTS; i++) {
        c[i].port = s.port;
        c[i].index = i;
        c[i].start = &start;
        ck_assert_int_eq(pthread_create(&th[i], NULL, ovl_client, &c[i]), 0);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < OVL_CLIENTS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(c[i].no_response == 0,
                      "client %d: %d requests without an answer", i,
                      c[i].no_response);
        ck_assert_msg(c[i].other == 0,
                      "client %d: %d answers neither 200 nor 503, first %d %s",
                      i, c[i].other, c[i].other_status, c[i].other_body);
        ck_assert_msg(c[i].busy_without_retry_after == 0,
                      "client %d: 503 without Retry-After", i);
        ok += c[i].ok;
        busy += c[i].busy;
    }
    pthread_barrier_destroy(&start);
    ck_assert_int_eq(ok + busy, OVL_CLIENTS * OVL_REQUESTS);
    ck_assert_int_ge(ok, 1);
    ck_assert_int_ge(busy, 1); /* the load did exceed the cap */

    /* Every answer was sent after its work was done and counted. */
    char *m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, "kgalign_inflight_requests"), 0);
    ck_assert_double_eq(metric_value(m, "kgalign_queue_depth"), 0);
    ck_assert_double_eq(metric_value(m, ALIGN_200), ok);
    ck_assert_double_eq(metric_value(m, ALIGN_503), busy);
    ck_assert(isnan(metric_value(m, ALIGN_504)));
    ck_assert_double_eq(
        metric_value(m, "kgalign_deadline_cancelled_total"), 0);
    free(m);
    assert_read_timeouts(&s, 0, 0, 0);

    http_resp_t r;
    http_do(s.port, "POST", "/align", NULL, align_body, &r);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    http_resp_free(&r);
    server_stop(&s);
}
END_TEST

static Suite *overload_suite(void)
{
    Suite *s = suite_create("overload");
    TCase *tc = kga_test_tcase(s, "overload", 60);
    tcase_add_test(tc, trickled_body_is_cut_off);
    tcase_add_test(tc, idle_connections_time_out);
    tcase_add_test(tc, out_of_descriptors_then_accepting_again);
    tcase_add_test(tc, held_connections_are_freed);
    tcase_add_test(tc, slow_bodies_hold_bounded_memory);
    tcase_add_test(tc, twice_saturation_is_shed_with_503);
    return s;
}

int main(int argc, char **argv)
{
    /* `test_overload serve ARGS`: the server under test, fake aligner
     * inside (see tests/server_harness.c). */
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return kga_cmd_serve(argc - 1, argv + 1);

    make_fixture(NULL);
    int rc = kga_test_run(overload_suite);
    remove_fixture();
    return rc;
}
