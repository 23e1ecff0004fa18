#ifndef KGA_TESTS_SERVER_HARNESS_H
#define KGA_TESTS_SERVER_HARNESS_H

/* Test harness for the HTTP service, linked into the programs that start
 * the server (tests/test_server.c, tests/test_service.c,
 * tests/test_overload.c): the server as a child process, its log, and a
 * small HTTP/1.1 client over raw sockets.
 *
 * server_start() runs `harness.exe serve --data-dir DATA_DIR ...` on
 * 127.0.0.1 and a port the kernel picks (read from the "listening" log
 * line), stderr to DATA_DIR/server.log. The default harness.exe is the
 * test program itself, which must then dispatch `PROGRAM serve ARGS...` to
 * kga_cmd_serve() in main(). The child dies with its parent
 * (PR_SET_PDEATHSIG), so a failing test leaves nothing behind.
 *
 * These names carry no kga_ prefix: they belong to the three test
 * programs, never to a library, so they cannot meet a kga_ symbol. */

#include <check.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

int kga_cmd_serve(int argc, char **argv);

/* How server_start() runs the server and how long the harness waits for
 * it. The test program sets what differs in main(), before any test
 * runs; the defaults suit a program that serves the fake aligner itself. */
typedef struct {
    const char *exe;            /* executed as `exe serve ...` */
    const char *drain_delay_ms; /* --drain-delay-ms */
    double start_timeout_s;     /* for the "listening" log line */
    double ready_timeout_s;     /* for /readyz to answer 200 */
    double stop_timeout_s;      /* for the exit after SIGTERM */
    int recv_timeout_s;         /* of every client socket (SO_RCVTIMEO) */
    /* When set, get_metrics() also asserts it returns NULL for the text
     * (else it says what is wrong, in why). */
    const char *(*metrics_check)(const char *text, char *why, size_t cap);
    /* RLIMIT_NOFILE of the next servers started, when not 0 (a test sets
     * it: each test runs in a process of its own). */
    unsigned max_open_files;
} harness_t;

extern harness_t harness;

/* The server's --data-dir, filled by the test program's fixture. */
extern char data_dir[256];

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
 * Time and files
 * ------------------------------------------------------------------------ */

/* Seconds on the monotonic clock. */
double now_s(void);
void sleep_ms(long ms);

/* Writes a file under a temporary name and renames it into place: the
 * server maps its model, which must never change under it. Returns 0 or
 * -1. */
int write_file_atomic(const char *path, const char *buf, size_t len);

/* ------------------------------------------------------------------------
 * The server process
 * ------------------------------------------------------------------------ */

typedef struct {
    pid_t pid;
    int port;
    char log[512];
} server_t;

/* The whole log so far (malloc'd, NUL-terminated; "" before there is
 * one). */
char *read_log(const server_t *s);
/* Occurrences of needle in the log. */
int log_count(const server_t *s, const char *needle);
int log_contains(const server_t *s, const char *needle);
/* Waits until the log holds needle at least n times; asserts that it
 * does within harness.stop_timeout_s. */
void log_wait(const server_t *s, const char *needle, int n);

/* Checks every line of a server log as a log shipper would read it: a
 * JSON object (in valid UTF-8) with "time", "level" and "event" strings.
 * Returns NULL, or what is wrong (in why). Asserts nothing. */
const char *log_lines_invalid(const char *log, char *why, size_t cap);
/* Asserts log_lines_invalid() of s's whole log. */
void log_check_json(const server_t *s);

/* env: "NAME=value" strings for the child, NULL-terminated (may be NULL);
 * args: extra flags, NULL-terminated (may be NULL). Returns once the
 * server listens; does not wait for the snapshot (see wait_ready()). */
void server_start(server_t *s, const char *const *env,
                  const char *const *args);
/* Waits for the child; its exit status, 128 + signal, or -1 on a
 * timeout. Once the child has exited its log is checked (log_check_json),
 * unless it exited 2 (a usage error, in plain text). */
int server_wait(server_t *s, double timeout_s);
/* SIGTERM and the drain; asserts exit status 0. */
void server_stop(server_t *s);
/* Polls /readyz until it answers 200. */
void wait_ready(const server_t *s);

/* ------------------------------------------------------------------------
 * A small HTTP/1.1 client. Every socket has a receive timeout
 * (harness.recv_timeout_s): a server that never answers fails the test
 * instead of hanging it.
 * ------------------------------------------------------------------------ */

typedef struct {
    int status;
    char head[8192]; /* status line and headers */
    char *body;
    size_t body_len;
    int complete; /* the whole Content-Length arrived */
    json_t *json; /* the body parsed, when it is JSON */
} http_resp_t;

void http_resp_free(http_resp_t *r);

/* A connected socket, or -1 with errno set. Asserts nothing: usable on
 * threads of the test's own. */
int http_connect_raw(int port);
/* http_connect_raw(), asserting that it connected. */
int http_connect(int port);
/* Returns 0, or -1 when the peer closed or reset the connection. */
int send_all(int fd, const char *buf, size_t len);
/* Value of header `name` in r->head (case-insensitive), or NULL; copied
 * into buf. */
const char *http_header(const http_resp_t *r, const char *name, char *buf,
                        size_t cap);
/* Reads one response: headers, then Content-Length bytes (or to EOF).
 * Returns 0, or -1 when the connection ended (or timed out) before a
 * status line. */
int http_read(int fd, http_resp_t *r);
/* A request with Content-Length and the extra header lines `headers`
 * (each ending in \r\n; may be NULL); malloc'd, *len bytes. Asserts
 * nothing: usable on threads of the test's own. */
char *format_request(const char *method, const char *path,
                     const char *headers, const char *body, int keep_alive,
                     size_t *len);
/* One request on fd, and its response. Returns 0, or -1 when the request
 * could not be sent or no response came. */
int http_exchange(int fd, const char *method, const char *path,
                  const char *headers, const char *body, int keep_alive,
                  http_resp_t *r);
/* Sends a request on a new connection and returns the socket, without
 * reading the answer. */
int http_send(int port, const char *method, const char *path,
              const char *headers, const char *body);
/* One request on a new connection; asserts a complete response. */
void http_do(int port, const char *method, const char *path,
             const char *headers, const char *body, http_resp_t *r);
/* GET path on a new connection; asserts that it is answered 200. */
void http_get_ok(int port, const char *path);
/* 1 when the server closed fd within timeout_s (recv sees EOF or a
 * reset); the response bytes that came before it are counted in
 * *received (may be NULL). */
int closed_by_server(int fd, double timeout_s, size_t *received);
/* 1 when fd has something to read (an answer, or the end) right now. */
int readable_now(int fd);

/* ------------------------------------------------------------------------
 * Response bodies and metrics
 * ------------------------------------------------------------------------ */

/* The JSON value at a dotted path ("results.0.error.code"), or NULL. */
json_t *json_at(json_t *j, const char *path);
/* The string at a dotted path, or NULL (absent, or not a string). */
const char *json_str_at(json_t *j, const char *path);
/* Value of the sample whose line starts with `series ` ("name{labels}"),
 * or NAN. */
double metric_value(const char *text, const char *series);
/* /metrics (malloc'd): asserts 200, the text exposition's Content-Type,
 * and harness.metrics_check when set. */
char *get_metrics(const server_t *s);
/* Scrapes /metrics until `series` has the value `want`; asserts that it
 * does within harness.stop_timeout_s. Returns the last scrape (malloc'd),
 * for more checks. */
char *metrics_wait(const server_t *s, const char *series, double want);

#endif
