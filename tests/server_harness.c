/* Test harness for the HTTP service, shared by test programs that start the
 * server: a fixture (two small stores and a fake model, for
 * tests/server_fake_aligner.c), the server as a child process, and a small
 * HTTP/1.1 client over raw sockets. Included by tests/test_overload.c (so
 * it needs no Makefile rule and is never linked into kgalign);
 * tests/test_server.c predates it and keeps its own copies.
 *
 * The including program must dispatch `PROGRAM serve ARGS...` to
 * kga_cmd_serve() in main(): server_start() re-executes the program that
 * way, on 127.0.0.1 and a port the kernel picks (read from the "listening"
 * log line). The child dies with its parent (PR_SET_PDEATHSIG), so a
 * failing test leaves nothing behind. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "graph_builder.h"
#include "store.h"

#include "server_fake_aligner.c"

int kga_cmd_serve(int argc, char **argv);

#define HARNESS_N_ENT 10
#define HARNESS_MODEL "kgalign-fake-model 0123456789abcdef\n"

static char data_dir[256];

/* Fixture set-up runs outside any test, where ck_assert cannot be used. */
#define FIXTURE_CHECK(cond)                                              \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "%s:%d: fixture: %s failed\n", __FILE__,     \
                    __LINE__, #cond);                                    \
            exit(EXIT_FAILURE);                                          \
        }                                                                \
    } while (0)

/* ------------------------------------------------------------------------
 * Fixture: two small stores ("L:e0".."L:e9", "R:e0".."R:e9") and a fake
 * model, in a new temporary directory
 * ------------------------------------------------------------------------ */

static void harness_write_store(const char *path, const char *prefix)
{
    kga_graph_builder_t *b = kga_builder_new();
    uint32_t ids[HARNESS_N_ENT], rel;
    char ext[32];
    FIXTURE_CHECK(kga_builder_relation(b, "next", &rel) == 0);
    for (int i = 0; i < HARNESS_N_ENT; i++) {
        snprintf(ext, sizeof ext, "%s:e%d", prefix, i);
        FIXTURE_CHECK(kga_builder_entity(b, ext, &ids[i], NULL) == 0);
    }
    for (int i = 0; i + 1 < HARNESS_N_ENT; i++)
        FIXTURE_CHECK(kga_builder_triple(b, ids[i], rel, ids[i + 1]) == 0);
    kga_err_t err;
    if (kga_store_write(b, path, &err) != 0) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        exit(EXIT_FAILURE);
    }
    kga_builder_free(b);
}

static void make_fixture(void)
{
    snprintf(data_dir, sizeof data_dir, "/tmp/kga_test_harness_XXXXXX");
    FIXTURE_CHECK(mkdtemp(data_dir) != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/left.kgs", data_dir);
    harness_write_store(path, "L");
    snprintf(path, sizeof path, "%s/right.kgs", data_dir);
    harness_write_store(path, "R");
    snprintf(path, sizeof path, "%s/model.kgm", data_dir);
    FILE *f = fopen(path, "w");
    FIXTURE_CHECK(f != NULL);
    fputs(HARNESS_MODEL, f);
    FIXTURE_CHECK(fclose(f) == 0);
}

static void remove_fixture(void)
{
    const char *names[] = {"left.kgs", "right.kgs", "model.kgm", "server.log"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", data_dir, names[i]);
        unlink(path);
    }
    rmdir(data_dir);
}

/* ------------------------------------------------------------------------
 * The server process
 * ------------------------------------------------------------------------ */

typedef struct {
    pid_t pid;
    int port;
    char log[512];
} server_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The whole log so far (malloc'd, NUL-terminated). */
static char *read_log(const server_t *s)
{
    FILE *f = fopen(s->log, "r");
    if (f == NULL)
        return strdup("");
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* Lines of the log that contain needle. */
static int log_count(const server_t *s, const char *needle)
{
    char *log = read_log(s);
    int n = 0;
    for (const char *p = strstr(log, needle); p != NULL;
         p = strstr(p + 1, needle))
        n++;
    free(log);
    return n;
}

/* env: "NAME=value" strings for the child, NULL-terminated (may be NULL);
 * args: extra flags, NULL-terminated. Returns once the server listens. */
static void server_start(server_t *s, const char *const *env,
                         const char *const *args)
{
    snprintf(s->log, sizeof s->log, "%s/server.log", data_dir);
    unlink(s->log);
    const char *argv[64];
    int n = 0;
    argv[n++] = "harness";
    argv[n++] = "serve";
    argv[n++] = "--data-dir";
    argv[n++] = data_dir;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--threads";
    argv[n++] = "2";
    argv[n++] = "--drain-delay-ms";
    argv[n++] = "0";
    for (int i = 0; args != NULL && args[i] != NULL && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    pid_t ppid = getpid();
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != ppid)
            _exit(99);
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        if (fd < 0)
            _exit(98);
        dup2(fd, STDERR_FILENO);
        close(fd);
        for (int i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        execv("/proc/self/exe", (char *const *)argv);
        _exit(97);
    }
    s->port = 0;
    double until = now_s() + 10;
    while (now_s() < until) {
        char *log = read_log(s);
        const char *l = strstr(log, "\"event\":\"listening\"");
        const char *p = l != NULL ? strstr(l, "\"port\":") : NULL;
        if (p != NULL)
            s->port = atoi(p + 7);
        free(log);
        if (s->port > 0)
            return;
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            char *all = read_log(s);
            ck_abort_msg("server exited at start-up: %s", all);
        }
        sleep_ms(10);
    }
    ck_abort_msg("server did not log 'listening'");
}

/* Waits for the child; returns its exit status, or -1 on a timeout. */
static int server_wait(server_t *s, double timeout_s)
{
    double until = now_s() + timeout_s;
    while (now_s() < until) {
        int status;
        pid_t p = waitpid(s->pid, &status, WNOHANG);
        if (p == s->pid) {
            s->pid = 0;
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return 128 + WTERMSIG(status);
        }
        sleep_ms(10);
    }
    return -1;
}

/* SIGTERM and the drain; asserts a clean exit. */
static void server_stop(server_t *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    int rc = server_wait(s, 15);
    if (rc != 0) {
        char *log = read_log(s);
        if (rc < 0)
            kill(s->pid, SIGKILL);
        ck_abort_msg("server exit status %d; log:\n%s", rc, log);
    }
}

/* ------------------------------------------------------------------------
 * A small HTTP/1.1 client. Every socket has a receive timeout
 * (HARNESS_RECV_TIMEOUT_S): a server that never answers fails the test
 * instead of hanging it.
 * ------------------------------------------------------------------------ */

#define HARNESS_RECV_TIMEOUT_S 15

typedef struct {
    int status;
    char head[8192]; /* status line and headers */
    char *body;
    size_t body_len;
    json_t *json; /* body parsed when it is JSON */
} http_resp_t;

static void http_resp_free(http_resp_t *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static int http_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0,
                  "connect: %s", strerror(errno));
    struct timeval tv = {HARNESS_RECV_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Returns 0, or -1 when the peer closed or reset the connection. */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Value of header `name` in r->head (case-insensitive), or NULL; copied
 * into buf. */
static const char *http_header(const http_resp_t *r, const char *name,
                               char *buf, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = strstr(r->head, "\r\n");
    while (p != NULL && p[2] != '\0') {
        p += 2;
        const char *end = strstr(p, "\r\n");
        if (end == NULL)
            end = p + strlen(p);
        if ((size_t)(end - p) > nl && strncasecmp(p, name, nl) == 0 &&
            p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(end - v);
            if (vl >= cap)
                vl = cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        p = end;
    }
    return NULL;
}

/* Reads one response: headers, then Content-Length bytes (or to EOF).
 * Returns 0, or -1 when the connection ended (or timed out) before a
 * status line. */
static int http_read(int fd, http_resp_t *r)
{
    memset(r, 0, sizeof *r);
    size_t hl = 0;
    char *end = NULL;
    while (end == NULL) {
        if (hl + 1 >= sizeof r->head)
            return -1;
        ssize_t n = recv(fd, r->head + hl, 1, 0); /* byte by byte: simple */
        if (n <= 0)
            return -1;
        hl += (size_t)n;
        r->head[hl] = '\0';
        end = hl >= 4 ? strstr(r->head + hl - 4, "\r\n\r\n") : NULL;
    }
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
        return -1;
    char v[64];
    long cl = http_header(r, "Content-Length", v, sizeof v) != NULL
                  ? atol(v)
                  : -1;
    size_t cap = cl >= 0 ? (size_t)cl + 1 : 1 << 16;
    r->body = malloc(cap);
    for (;;) {
        if (cl >= 0 && r->body_len == (size_t)cl)
            break;
        if (r->body_len + 1 >= cap) {
            cap *= 2;
            r->body = realloc(r->body, cap);
        }
        ssize_t n = recv(fd, r->body + r->body_len, cap - r->body_len - 1, 0);
        if (n <= 0)
            break;
        r->body_len += (size_t)n;
    }
    r->body[r->body_len] = '\0';
    json_error_t je;
    r->json = json_loadb(r->body, r->body_len, 0, &je);
    return 0;
}

/* Formats a request with Content-Length (into a buffer of cap bytes). */
static size_t format_request(char *buf, size_t cap, const char *method,
                             const char *path, const char *body,
                             int keep_alive)
{
    size_t bl = body != NULL ? strlen(body) : 0;
    int n = snprintf(buf, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, keep_alive ? "" : "Connection: close\r\n",
                     bl, body != NULL ? body : "");
    ck_assert_int_lt(n, (int)cap);
    return (size_t)n;
}

/* One request on fd, and its response. Returns 0 or -1 (no response). */
static int http_exchange(int fd, const char *method, const char *path,
                         const char *body, int keep_alive, http_resp_t *r)
{
    char req[4096];
    size_t n = format_request(req, sizeof req, method, path, body, keep_alive);
    if (send_all(fd, req, n) != 0) {
        memset(r, 0, sizeof *r);
        return -1;
    }
    return http_read(fd, r);
}

/* One request on a new connection. */
static void http_do(int port, const char *method, const char *path,
                    const char *body, http_resp_t *r)
{
    int fd = http_connect(port);
    ck_assert_msg(http_exchange(fd, method, path, body, 0, r) == 0,
                  "%s %s: no response", method, path);
    close(fd);
}

/* 1 when the server closed fd within timeout_s (recv sees EOF or a reset,
 * after any response bytes). */
static int closed_by_server(int fd, double timeout_s)
{
    double whole = (double)(time_t)timeout_s;
    struct timeval tv = {(time_t)timeout_s,
                         (suseconds_t)((timeout_s - whole) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c[256];
    for (;;) {
        ssize_t n = recv(fd, c, sizeof c, 0);
        if (n > 0)
            continue;
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }
}

static void wait_ready(const server_t *s)
{
    double until = now_s() + 10;
    while (now_s() < until) {
        http_resp_t r;
        http_do(s->port, "GET", "/readyz", NULL, &r);
        int st = r.status;
        http_resp_free(&r);
        if (st == 200)
            return;
        sleep_ms(20);
    }
    ck_abort_msg("server never became ready");
}

/* Value of the sample whose line starts with `series ` ("name{labels}"),
 * or NAN. */
static double metric_value(const char *text, const char *series)
{
    size_t sl = strlen(series);
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, series, sl) == 0 && p[sl] == ' ')
            return strtod(p + sl + 1, NULL);
    }
    return NAN;
}

/* /metrics (malloc'd). */
static char *get_metrics(const server_t *s)
{
    http_resp_t r;
    http_do(s->port, "GET", "/metrics", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char *text = r.body;
    r.body = NULL;
    http_resp_free(&r);
    return text;
}
