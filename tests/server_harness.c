/* The HTTP service's test harness (tests/server_harness.h): the server as
 * a child process, its log, and a small HTTP/1.1 client over raw sockets.
 * Apart from the tests because three programs start servers, and each
 * needs all of this. */
#include "server_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

harness_t harness = {
    .exe = "/proc/self/exe",
    .drain_delay_ms = "0",
    .start_timeout_s = 10,
    .ready_timeout_s = 10,
    .stop_timeout_s = 15,
    .recv_timeout_s = 15,
};

char data_dir[256];

/* ------------------------------------------------------------------------
 * Time and files
 * ------------------------------------------------------------------------ */

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Writes a file under a temporary name and renames it into place: the
 * server maps its model, which must never change under it. Returns 0 or
 * -1. */
int write_file_atomic(const char *path, const char *buf, size_t len)
{
    char t[600];
    snprintf(t, sizeof t, "%s.tmp", path);
    FILE *f = fopen(t, "wb");
    if (f == NULL)
        return -1;
    size_t n = fwrite(buf, 1, len, f);
    if (fclose(f) != 0 || n != len)
        return -1;
    return rename(t, path);
}

/* ------------------------------------------------------------------------
 * The server process
 * ------------------------------------------------------------------------ */

/* The whole log so far (malloc'd, NUL-terminated). */
char *read_log(const server_t *s)
{
    char *log = kga_test_slurp(s->log, NULL);
    return log != NULL ? log : strdup("");
}

/* Occurrences of needle in the log. */
int log_count(const server_t *s, const char *needle)
{
    char *log = read_log(s);
    int n = 0;
    for (const char *p = strstr(log, needle); p != NULL;
         p = strstr(p + 1, needle))
        n++;
    free(log);
    return n;
}

int log_contains(const server_t *s, const char *needle)
{
    return log_count(s, needle) > 0;
}

void log_wait(const server_t *s, const char *needle, int n)
{
    double until = now_s() + harness.stop_timeout_s;
    while (log_count(s, needle) < n && now_s() < until)
        sleep_ms(10);
    int got = log_count(s, needle);
    ck_assert_msg(got >= n, "%d of %d '%s' in the log after %.0f s:\n%s", got,
                  n, needle, harness.stop_timeout_s, read_log(s));
}

/* env: "NAME=value" strings for the child, NULL-terminated (may be NULL);
 * args: extra flags, NULL-terminated (may be NULL). Returns once the
 * server listens; does not wait for the snapshot (see wait_ready()). */
void server_start(server_t *s, const char *const *env, const char *const *args)
{
    snprintf(s->log, sizeof s->log, "%s/server.log", data_dir);
    unlink(s->log);
    const char *argv[64];
    int n = 0;
    argv[n++] = harness.exe;
    argv[n++] = "serve";
    argv[n++] = "--data-dir";
    argv[n++] = data_dir;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--threads";
    argv[n++] = "2";
    /* Several HTTP threads whatever the machine: the tests see requests
     * and connections on more than one. */
    argv[n++] = "--http-threads";
    argv[n++] = "2";
    argv[n++] = "--drain-delay-ms";
    argv[n++] = harness.drain_delay_ms;
    for (int i = 0; args != NULL && args[i] != NULL; i++) {
        ck_assert_int_lt(n, 63);
        argv[n++] = args[i];
    }
    argv[n] = NULL;

    pid_t ppid = getpid();
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != ppid)
            _exit(99);
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        int null = open("/dev/null", O_WRONLY);
        if (fd < 0 || null < 0)
            _exit(98);
        dup2(fd, STDERR_FILENO);
        dup2(null, STDOUT_FILENO);
        close(fd);
        close(null);
        for (int i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        if (harness.max_open_files != 0) {
            struct rlimit rl = {harness.max_open_files,
                                harness.max_open_files};
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(96);
        }
        execv(harness.exe, (char *const *)argv);
        _exit(97);
    }
    s->port = 0;
    double until = now_s() + harness.start_timeout_s;
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
            s->pid = 0;
            ck_abort_msg("server %s exited at start-up; log:\n%s",
                         harness.exe, read_log(s));
        }
        sleep_ms(10);
    }
    ck_abort_msg("server %s did not log 'listening'; log:\n%s", harness.exe,
                 read_log(s));
}

/* The log reader a log shipper would be: every line a JSON object (valid
 * UTF-8 included, which jansson checks) with "time", "level" and "event"
 * strings. Returns NULL, or what is wrong in why. */
const char *log_lines_invalid(const char *log, char *why, size_t cap)
{
    size_t n = 0;
    for (const char *line = log; *line != '\0'; n++) {
        const char *nl = strchr(line, '\n');
        if (nl == NULL) {
            snprintf(why, cap, "line %zu has no newline: %.200s", n + 1, line);
            return why;
        }
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)(nl - line),
                               JSON_REJECT_DUPLICATES, &je);
        const char *bad = j == NULL ? je.text
                          : !json_is_object(j) ? "not an object"
                          : json_str_at(j, "time") == NULL ? "no \"time\""
                          : json_str_at(j, "level") == NULL ? "no \"level\""
                          : json_str_at(j, "event") == NULL ? "no \"event\""
                                                            : NULL;
        json_decref(j);
        if (bad != NULL) {
            snprintf(why, cap, "line %zu: %s: %.*s", n + 1, bad,
                     (int)(nl - line > 300 ? 300 : nl - line), line);
            return why;
        }
        line = nl + 1;
    }
    return NULL;
}

void log_check_json(const server_t *s)
{
    char *log = read_log(s);
    char why[512];
    const char *bad = log_lines_invalid(log, why, sizeof why);
    free(log);
    ck_assert_msg(bad == NULL, "server log %s: %s", s->log, bad);
}

/* Waits for the child; its exit status, 128 + signal, or -1 on a
 * timeout. Once it has exited, every line of its log is checked
 * (log_check_json()), unless it exited 2: a usage error, told in plain
 * text before the service logs anything. */
int server_wait(server_t *s, double timeout_s)
{
    double until = now_s() + timeout_s;
    while (now_s() < until) {
        int status;
        pid_t p = waitpid(s->pid, &status, WNOHANG);
        if (p == s->pid) {
            s->pid = 0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 2)
                log_check_json(s);
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return 128 + WTERMSIG(status);
        }
        sleep_ms(10);
    }
    return -1;
}

/* SIGTERM and the drain; asserts exit status 0. */
void server_stop(server_t *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    int rc = server_wait(s, harness.stop_timeout_s);
    if (rc != 0) {
        if (rc < 0)
            kill(s->pid, SIGKILL);
        ck_abort_msg("server exit status %d; log:\n%s", rc, read_log(s));
    }
}

/* ------------------------------------------------------------------------
 * A small HTTP/1.1 client. Every socket has a receive timeout
 * (harness.recv_timeout_s): a server that never answers fails the test
 * instead of hanging it.
 * ------------------------------------------------------------------------ */

void http_resp_free(http_resp_t *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* A connected socket, or -1 with errno set. Asserts nothing: usable on
 * threads of the test's own. */
int http_connect_raw(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    struct timeval tv = {harness.recv_timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

int http_connect(int port)
{
    int fd = http_connect_raw(port);
    ck_assert_msg(fd >= 0, "connect to port %d: %s", port, strerror(errno));
    return fd;
}

/* Returns 0, or -1 when the peer closed or reset the connection. */
int send_all(int fd, const char *buf, size_t len)
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
const char *http_header(const http_resp_t *r, const char *name, char *buf,
                        size_t cap)
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
int http_read(int fd, http_resp_t *r)
{
    memset(r, 0, sizeof *r);
    size_t hl = 0;
    char *end = NULL;
    while (end == NULL) {
        if (hl + 1 >= sizeof r->head)
            return -1;
        ssize_t n = recv(fd, r->head + hl, 1, 0); /* byte by byte: simple */
        if (n < 0 && errno == EINTR)
            continue;
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
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        r->body_len += (size_t)n;
    }
    r->body[r->body_len] = '\0';
    r->complete = cl < 0 || r->body_len == (size_t)cl;
    json_error_t je;
    r->json = json_loadb(r->body, r->body_len, 0, &je);
    return 0;
}

/* A request with Content-Length and the extra header lines `headers`
 * (each ending in \r\n; may be NULL); malloc'd, *len bytes. Asserts
 * nothing: usable on threads of the test's own. */
char *format_request(const char *method, const char *path, const char *headers,
                     const char *body, int keep_alive, size_t *len)
{
    static const char fmt[] = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s"
                              "Content-Length: %zu\r\n\r\n";
    const char *close_line = keep_alive ? "" : "Connection: close\r\n";
    size_t bl = body != NULL ? strlen(body) : 0;
    if (headers == NULL)
        headers = "";
    int hl = snprintf(NULL, 0, fmt, method, path, headers, close_line, bl);
    if (hl < 0)
        abort();
    char *req = malloc((size_t)hl + bl + 1);
    snprintf(req, (size_t)hl + 1, fmt, method, path, headers, close_line, bl);
    if (bl > 0)
        memcpy(req + hl, body, bl);
    req[(size_t)hl + bl] = '\0';
    *len = (size_t)hl + bl;
    return req;
}

/* One request on fd, and its response. Returns 0, or -1 when the request
 * could not be sent or no response came. */
int http_exchange(int fd, const char *method, const char *path,
                  const char *headers, const char *body, int keep_alive,
                  http_resp_t *r)
{
    size_t n;
    char *req = format_request(method, path, headers, body, keep_alive, &n);
    int sent = send_all(fd, req, n);
    free(req);
    if (sent != 0) {
        memset(r, 0, sizeof *r);
        return -1;
    }
    return http_read(fd, r);
}

/* Sends a request on a new connection and returns the socket, without
 * reading the answer. */
int http_send(int port, const char *method, const char *path,
              const char *headers, const char *body)
{
    size_t n;
    char *req = format_request(method, path, headers, body, 0, &n);
    int fd = http_connect(port);
    send_all(fd, req, n); /* an early answer (413) may cut it short */
    free(req);
    return fd;
}

/* One request on a new connection; asserts a complete response. */
void http_do(int port, const char *method, const char *path,
             const char *headers, const char *body, http_resp_t *r)
{
    int fd = http_send(port, method, path, headers, body);
    ck_assert_msg(http_read(fd, r) == 0, "%s %s: no response", method, path);
    ck_assert_msg(r->complete, "%s %s: truncated response", method, path);
    close(fd);
}

void http_get_ok(int port, const char *path)
{
    http_resp_t r;
    http_do(port, "GET", path, NULL, NULL, &r);
    ck_assert_msg(r.status == 200, "GET %s: status %d: %s", path, r.status,
                  r.body);
    http_resp_free(&r);
}

/* 1 when the server closed fd within timeout_s (recv sees EOF or a
 * reset); the response bytes that came before it are counted in
 * *received (may be NULL). */
int closed_by_server(int fd, double timeout_s, size_t *received)
{
    double whole = (double)(time_t)timeout_s;
    struct timeval tv = {(time_t)timeout_s,
                         (suseconds_t)((timeout_s - whole) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (received != NULL)
        *received = 0;
    char c[256];
    for (;;) {
        ssize_t n = recv(fd, c, sizeof c, 0);
        if (n > 0) {
            if (received != NULL)
                *received += (size_t)n;
            continue;
        }
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }
}

int readable_now(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* Polls /readyz until it answers 200. */
void wait_ready(const server_t *s)
{
    double until = now_s() + harness.ready_timeout_s;
    while (now_s() < until) {
        http_resp_t r;
        http_do(s->port, "GET", "/readyz", NULL, NULL, &r);
        int st = r.status;
        http_resp_free(&r);
        if (st == 200)
            return;
        sleep_ms(20);
    }
    ck_abort_msg("server never became ready; log:\n%s", read_log(s));
}

/* ------------------------------------------------------------------------
 * Response bodies and metrics
 * ------------------------------------------------------------------------ */

/* The JSON value at a dotted path ("results.0.error.code"), or NULL. */
json_t *json_at(json_t *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok != NULL && j != NULL;
         tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(j))
            j = json_array_get(j, (size_t)atoi(tok));
        else
            j = json_object_get(j, tok);
    }
    return j;
}

/* The string at a dotted path, or NULL (absent, or not a string). */
const char *json_str_at(json_t *j, const char *path)
{
    json_t *v = json_at(j, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Value of the sample whose line starts with `series ` ("name{labels}"),
 * or NAN. */
double metric_value(const char *text, const char *series)
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

/* /metrics (malloc'd): asserts 200, the text exposition's Content-Type,
 * and harness.metrics_check when set. */
char *get_metrics(const server_t *s)
{
    http_resp_t r;
    http_do(s->port, "GET", "/metrics", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char ct[128];
    ck_assert_ptr_nonnull(http_header(&r, "Content-Type", ct, sizeof ct));
    ck_assert_msg(strncmp(ct, "text/plain; version=0.0.4", 25) == 0, "%s", ct);
    if (harness.metrics_check != NULL) {
        char why[512];
        const char *bad = harness.metrics_check(r.body, why, sizeof why);
        ck_assert_msg(bad == NULL, "%s\n--- metrics ---\n%s", bad, r.body);
    }
    char *text = r.body;
    r.body = NULL;
    http_resp_free(&r);
    return text;
}

char *metrics_wait(const server_t *s, const char *series, double want)
{
    double until = now_s() + harness.stop_timeout_s;
    char *m = get_metrics(s);
    while (metric_value(m, series) != want && now_s() < until) {
        free(m);
        sleep_ms(10);
        m = get_metrics(s);
    }
    ck_assert_msg(metric_value(m, series) == want,
                  "%s is %g, not %g, after %.0f s:\n%s", series,
                  metric_value(m, series), want, harness.stop_timeout_s, m);
    return m;
}
