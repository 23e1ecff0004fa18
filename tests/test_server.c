/* The HTTP service end to end over real sockets, with a fake aligner
 * (tests/server_fake_aligner.c): every route and error status, request ids,
 * the metrics text held to the exposition grammar, the in-flight cap, the
 * deadline, body limits by Content-Length and while streaming, reload
 * (success, failure keeps the old snapshot, conflict), and the SIGTERM
 * drain.
 *
 * Each test starts the server as a child process (tests/server_harness.c):
 * this same program re-executed as `test_server serve ARGS...`, which runs
 * kga_cmd_serve with the fake aligner linked in, on 127.0.0.1 and a port
 * the kernel picks. The child dies with its parent, so a failing test
 * leaves nothing behind.
 *
 * Events and counters are asserted, never how long something took: a
 * request that must stay in flight, or a load that must stay unfinished,
 * waits at a gate of the fake aligner until the test opens it, and the
 * test waits for the log line or the metric that says a thing happened.
 * The machine's speed then changes how long a test runs, not whether it
 * passes. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/mapped_file.h"
#include "server/admin.h"
#include "server/fault.h"
#include "server/metrics.h"

#include "server_harness.h"
#include "server_fake_aligner.h"
#include "testutil.h"

#define MODEL_V1 FAKE_MODEL_VERSION
#define MODEL_V2 "fedcba9876543210"

/* The admin route is off without a token (tests/test_hostile_requests.c
 * has the rest of its rules). */
#define ADMIN_TOKEN "test-admin-token"
#define ADMIN_AUTH "Authorization: Bearer " ADMIN_TOKEN "\r\n"
static const char *const admin_args[] = {"--admin-token", ADMIN_TOKEN, NULL};

/* The request most tests send: one pair the fake aligner knows. */
#define ALIGN_E1 "{\"left\": \"L:e1\", \"right\": \"R:e1\"}"

static void assert_error(const http_resp_t *r, int status, const char *code)
{
    ck_assert_msg(r->status == status, "status %d, want %d; body %s",
                  r->status, status, r->body);
    const char *c = json_str_at(r->json, "error.code");
    ck_assert_msg(c != NULL && strcmp(c, code) == 0,
                  "error code %s, want %s; body %s", c ? c : "(none)", code,
                  r->body);
    ck_assert_ptr_nonnull(json_str_at(r->json, "error.message"));
    ck_assert_ptr_nonnull(json_str_at(r->json, "request_id"));
    char v[256];
    ck_assert_ptr_nonnull(http_header(r, "X-Request-Id", v, sizeof v));
    ck_assert_str_eq(v, json_str_at(r->json, "request_id"));
}

/* One request whose answer must be the error `code` with `status`. */
static void expect_error(int port, const char *method, const char *path,
                         const char *headers, const char *body, int status,
                         const char *code)
{
    http_resp_t r;
    http_do(port, method, path, headers, body, &r);
    assert_error(&r, status, code);
    http_resp_free(&r);
}

/* One request whose status alone matters. */
static void expect_status(int port, const char *method, const char *path,
                          const char *headers, const char *body, int status)
{
    http_resp_t r;
    http_do(port, method, path, headers, body, &r);
    ck_assert_msg(r.status == status, "%s %s: %d, want %d; %s", method, path,
                  r.status, status, r.body);
    http_resp_free(&r);
}

/* The answer to a request sent earlier (http_send) on fd, which is then
 * closed. */
static void expect_answer(int fd, int status)
{
    http_resp_t r;
    ck_assert_int_eq(http_read(fd, &r), 0);
    ck_assert_msg(r.status == status, "%d, want %d; %s", r.status, status,
                  r.body);
    http_resp_free(&r);
    close(fd);
}

/* ------------------------------------------------------------------------
 * Prometheus text format, checked strictly
 * ------------------------------------------------------------------------ */

typedef struct {
    char name[128];
    char type[16];
} family_t;

/* Checks every line of an exposition; returns NULL or what is wrong. */
static const char *check_exposition(const char *text, char *why, size_t cap)
{
    regex_t sample_re, help_re, type_re;
    /* name, optional {label="value",...}, value, optional timestamp */
    ck_assert_int_eq(
        regcomp(&sample_re,
                "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
                "(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
                "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\")*"
                ",?)?\\})? "
                "([-+]?[0-9.]+([eE][-+]?[0-9]+)?|[-+]?Inf|NaN)"
                "( -?[0-9]+)?$",
                REG_EXTENDED),
        0);
    ck_assert_int_eq(
        regcomp(&help_re, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$", REG_EXTENDED),
        0);
    ck_assert_int_eq(regcomp(&type_re,
                             "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) "
                             "(counter|gauge|histogram|summary|untyped)$",
                             REG_EXTENDED),
                     0);
    family_t fam[128];
    int nfam = 0;
    const char *result = NULL;

    /* histogram state for the current series */
    char hist_series[512] = "";
    double last_le = -INFINITY, last_count = -1;
    int saw_inf = 0;

    char *copy = strdup(text);
    char *save = NULL;
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n') {
        snprintf(why, cap, "the text does not end with a newline");
        result = why;
        goto out;
    }
    for (char *line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        regmatch_t m[12];
        if (strncmp(line, "# HELP ", 7) == 0) {
            if (regexec(&help_re, line, 0, NULL, 0) != 0) {
                snprintf(why, cap, "bad HELP line: %s", line);
                result = why;
                goto out;
            }
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            if (regexec(&type_re, line, 3, m, 0) != 0) {
                snprintf(why, cap, "bad TYPE line: %s", line);
                result = why;
                goto out;
            }
            family_t f;
            snprintf(f.name, sizeof f.name, "%.*s",
                     (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
            snprintf(f.type, sizeof f.type, "%.*s",
                     (int)(m[2].rm_eo - m[2].rm_so), line + m[2].rm_so);
            for (int i = 0; i < nfam; i++)
                if (strcmp(fam[i].name, f.name) == 0) {
                    snprintf(why, cap, "TYPE of %s given twice", f.name);
                    result = why;
                    goto out;
                }
            ck_assert_int_lt(nfam, 128);
            fam[nfam++] = f;
            continue;
        }
        if (line[0] == '#')
            continue; /* a comment */
        if (regexec(&sample_re, line, 12, m, 0) != 0) {
            snprintf(why, cap, "not a sample line: '%s'", line);
            result = why;
            goto out;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                 line + m[1].rm_so);
        /* The family: the latest TYPE, which must match the name. */
        if (nfam == 0) {
            snprintf(why, cap, "sample before any TYPE: %s", line);
            result = why;
            goto out;
        }
        const family_t *f = &fam[nfam - 1];
        size_t fl = strlen(f->name);
        int ok = strcmp(name, f->name) == 0;
        const char *suffix = "";
        if (!ok && strcmp(f->type, "histogram") == 0 &&
            strncmp(name, f->name, fl) == 0) {
            suffix = name + fl;
            ok = strcmp(suffix, "_bucket") == 0 ||
                 strcmp(suffix, "_sum") == 0 || strcmp(suffix, "_count") == 0;
        }
        if (!ok) {
            snprintf(why, cap, "sample %.100s has no TYPE line before it "
                               "(last TYPE was %.100s)",
                     name, f->name);
            result = why;
            goto out;
        }
        if (strcmp(f->type, "counter") == 0 &&
            (fl < 6 || strcmp(f->name + fl - 6, "_total") != 0)) {
            snprintf(why, cap, "counter %.100s does not end in _total", f->name);
            result = why;
            goto out;
        }
        const char *vs = line + m[7].rm_so; /* the value group */
        double v = strncmp(vs, "+Inf", 4) == 0 ? INFINITY : strtod(vs, NULL);
        if ((strcmp(f->type, "counter") == 0 || *suffix != '\0') &&
            !(v >= 0)) {
            snprintf(why, cap, "negative or NaN count: %s", line);
            result = why;
            goto out;
        }
        if (strcmp(suffix, "_bucket") == 0) {
            /* Series key: the labels without le. */
            const char *le = strstr(line, "le=\"");
            if (le == NULL) {
                snprintf(why, cap, "bucket without le: %s", line);
                result = why;
                goto out;
            }
            char series[512];
            snprintf(series, sizeof series, "%.*s", (int)(le - line), line);
            double lev = strncmp(le + 4, "+Inf\"", 5) == 0
                             ? INFINITY
                             : strtod(le + 4, NULL);
            if (strcmp(series, hist_series) != 0) {
                if (hist_series[0] != '\0' && !saw_inf) {
                    snprintf(why, cap, "histogram %s does not end in +Inf",
                             hist_series);
                    result = why;
                    goto out;
                }
                snprintf(hist_series, sizeof hist_series, "%s", series);
                last_le = -INFINITY;
                last_count = -1;
                saw_inf = 0;
            }
            if (saw_inf || !(lev > last_le) || v < last_count) {
                snprintf(why, cap,
                         "buckets not increasing in le or not cumulative: %s",
                         line);
                result = why;
                goto out;
            }
            last_le = lev;
            last_count = v;
            saw_inf = isinf(lev);
        } else if (strcmp(suffix, "_count") == 0) {
            if (!saw_inf || v != last_count) {
                snprintf(why, cap, "_count %g differs from the +Inf bucket %g "
                                   "(or no +Inf bucket): %s",
                         v, last_count, line);
                result = why;
                goto out;
            }
            hist_series[0] = '\0';
        }
    }
    if (hist_series[0] != '\0') {
        snprintf(why, cap, "histogram %s has no _count", hist_series);
        result = why;
    }
out:
    free(copy);
    regfree(&sample_re);
    regfree(&help_re);
    regfree(&type_re);
    return result;
}

/* ------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------ */

/* A gate of the fake aligner (server_fake_aligner.h): its file, and the
 * environment entry that makes the server wait at it. */
typedef struct {
    char path[300];
    char env[320];
} gate_t;

/* Makes g a closed gate for which ("score": every score and match call,
 * "open": every load); returns its environment entry. */
static const char *gate_env_init(gate_t *g, const char *which)
{
    gate_init(g->path, sizeof g->path, which);
    snprintf(g->env, sizeof g->env, "KGA_FAKE_%s_GATE=%s",
             strcmp(which, "open") == 0 ? "OPEN" : "SCORE", g->path);
    return g->env;
}

/* Starts a server with args whose fake aligner waits at the closed gate g
 * (see gate_env_init). Not ready until an open gate is let go. */
static void start_gated(server_t *s, gate_t *g, const char *which,
                        const char *const *args)
{
    const char *env[] = {gate_env_init(g, which), NULL};
    server_start(s, env, args);
}

/* POSTs body to path on a new connection and returns the socket once the
 * server counts `inflight` requests in flight: this one is held at a closed
 * gate, unanswered. */
static int send_held(const server_t *s, const char *path, const char *body,
                     double inflight)
{
    int fd = http_send(s->port, "POST", path, NULL, body);
    free(metrics_wait(s, "kgalign_inflight_requests", inflight));
    return fd;
}

START_TEST(health_ready_and_request_ids)
{
    server_t s;
    server_start(&s, NULL, NULL);
    wait_ready(&s);
    http_resp_t r;
    char v[256];

    http_do(s.port, "GET", "/healthz", "X-Request-Id: probe-1\r\n", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_str_at(r.json, "status"), "ok");
    ck_assert_str_eq(json_str_at(r.json, "request_id"), "probe-1");
    ck_assert_str_eq(http_header(&r, "X-Request-Id", v, sizeof v), "probe-1");
    http_resp_free(&r);

    http_do(s.port, "GET", "/readyz", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_str_at(r.json, "status"), "ready");
    ck_assert_str_eq(json_str_at(r.json, "model_version"), MODEL_V1);
    /* No id given: a generated one, 32 hex digits, in header and body. */
    const char *id = json_str_at(r.json, "request_id");
    ck_assert_ptr_nonnull(id);
    ck_assert_uint_eq(strlen(id), 32);
    ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 32);
    ck_assert_str_eq(http_header(&r, "X-Request-Id", v, sizeof v), id);
    http_resp_free(&r);

    /* An invalid id (a quote; too long) is replaced, not echoed. */
    http_do(s.port, "GET", "/healthz", "X-Request-Id: bad\"id\r\n", NULL, &r);
    ck_assert_uint_eq(strlen(json_str_at(r.json, "request_id")), 32);
    http_resp_free(&r);
    char hdr[300] = "X-Request-Id: ";
    memset(hdr + 14, 'a', 200);
    strcpy(hdr + 214, "\r\n");
    http_do(s.port, "GET", "/healthz", hdr, NULL, &r);
    ck_assert_uint_eq(strlen(json_str_at(r.json, "request_id")), 32);
    http_resp_free(&r);

    /* Health checks keep the connection open (load balancers reuse it). */
    int fd = http_connect(s.port);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(http_exchange(fd, "GET",
                                       i == 1 ? "/metrics" : "/readyz", NULL,
                                       NULL, 1, &r),
                         0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_ptr_null(http_header(&r, "Connection", v, sizeof v));
        http_resp_free(&r);
    }
    close(fd);

    /* The request's log line carries the id and the fields. */
    http_do(s.port, "POST", "/align", "X-Request-Id: log-check-7\r\n", ALIGN_E1,
            &r);
    ck_assert_int_eq(r.status, 200);
    http_resp_free(&r);
    char *log = read_log(&s);
    const char *line = strstr(log, "\"request_id\":\"log-check-7\"");
    ck_assert_msg(line != NULL, "no log line for the request:\n%s", log);
    while (line > log && line[-1] != '\n')
        line--;
    const char *eol = strchr(line, '\n');
    ck_assert_ptr_nonnull(eol);
    json_error_t je;
    json_t *j = json_loadb(line, (size_t)(eol - line), 0, &je);
    ck_assert_msg(j != NULL, "log line is not JSON: %.*s", (int)(eol - line),
                  line);
    ck_assert_str_eq(json_string_value(json_object_get(j, "event")), "request");
    ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "info");
    ck_assert_str_eq(json_string_value(json_object_get(j, "method")), "POST");
    ck_assert_str_eq(json_string_value(json_object_get(j, "path")), "/align");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "pairs")), 1);
    ck_assert(json_is_number(json_object_get(j, "duration_ms")));
    ck_assert(json_is_string(json_object_get(j, "time")));
    json_decref(j);
    free(log);
    server_stop(&s);
}
END_TEST

START_TEST(align_and_match)
{
    server_t s;
    server_start(&s, NULL, NULL);
    wait_ready(&s);
    http_resp_t r;

    http_do(s.port, "POST", "/align", "Content-Type: application/json\r\n",
            "{\"left\": \"L:e3\", \"right\": \"R:e3\"}", &r);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    ck_assert_str_eq(json_str_at(r.json, "model_version"), MODEL_V1);
    ck_assert(json_is_true(json_at(r.json, "results.0.match")));
    ck_assert(fabs(json_number_value(json_at(r.json, "results.0.probability")) -
                   0.9) < 1e-6);
    http_resp_free(&r);

    /* A batch with an unknown id: 200, the error in that result only. */
    http_do(s.port, "POST", "/align", NULL,
            "{\"pairs\": [{\"left\": \"L:e1\", \"right\": \"R:e2\"},"
            " {\"left\": \"L:nope\", \"right\": \"R:e2\"},"
            " {\"left\": \"L:e4\", \"right\": \"R:e4\"}], \"explain\": true}",
            &r);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    ck_assert(json_is_false(json_at(r.json, "results.0.match")));
    ck_assert_str_eq(json_str_at(r.json, "results.1.error.code"), "unknown_id");
    ck_assert_ptr_null(json_at(r.json, "results.1.probability"));
    ck_assert(json_is_true(json_at(r.json, "results.2.match")));
    ck_assert_str_eq(json_str_at(r.json, "results.2.left"), "L:e4");
    ck_assert_ptr_nonnull(json_at(r.json, "results.2.explanation"));
    http_resp_free(&r);

    /* Type errors name the field. */
    http_do(s.port, "POST", "/align", NULL, "{\"left\": 3, \"right\": \"R:e1\"}",
            &r);
    assert_error(&r, 400, "bad_request");
    ck_assert_msg(strstr(json_str_at(r.json, "error.message"), "left") != NULL,
                  "%s", r.body);
    http_resp_free(&r);
    expect_error(s.port, "POST", "/align", NULL, "{not json", 400,
                 "bad_request");

    http_do(s.port, "POST", "/match", NULL, "{\"left\": \"L:e2\", \"k\": 3}", &r);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    ck_assert_uint_eq(json_array_size(json_at(r.json, "candidates")), 3);
    ck_assert_str_eq(json_str_at(r.json, "candidates.0.id"), "R:e2");
    ck_assert_str_eq(json_str_at(r.json, "query.side"), "left");
    http_resp_free(&r);

    expect_error(s.port, "POST", "/match", NULL, "{\"right\": \"R:missing\"}",
                 404, "unknown_id");

    /* Keep-alive: several requests on one connection. */
    int fd = http_connect(s.port);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(http_exchange(fd, "POST", "/align", NULL,
                                       "{\"left\": \"L:e5\", \"right\": "
                                       "\"R:e5\"}",
                                       1, &r),
                         0);
        ck_assert_int_eq(r.status, 200);
        http_resp_free(&r);
    }
    close(fd);
    server_stop(&s);
}
END_TEST

START_TEST(routes_and_methods)
{
    server_t s;
    server_start(&s, NULL, NULL);
    wait_ready(&s);
    http_resp_t r;
    char v[128];

    expect_error(s.port, "GET", "/nowhere", NULL, NULL, 404, "not_found");
    expect_error(s.port, "POST", "/nowhere", NULL, "{}", 404, "not_found");

    http_do(s.port, "GET", "/align", NULL, NULL, &r);
    assert_error(&r, 405, "method_not_allowed");
    ck_assert_str_eq(http_header(&r, "Allow", v, sizeof v), "POST");
    http_resp_free(&r);
    http_do(s.port, "DELETE", "/match", NULL, NULL, &r);
    assert_error(&r, 405, "method_not_allowed");
    ck_assert_str_eq(http_header(&r, "Allow", v, sizeof v), "POST");
    http_resp_free(&r);
    http_do(s.port, "POST", "/healthz", NULL, "{}", &r);
    assert_error(&r, 405, "method_not_allowed");
    ck_assert_str_eq(http_header(&r, "Allow", v, sizeof v), "GET, HEAD");
    http_resp_free(&r);
    expect_error(s.port, "GET", "/admin/reload", NULL, NULL, 405,
                 "method_not_allowed");
    server_stop(&s);
}
END_TEST

START_TEST(body_limits)
{
    server_t s;
    const char *args[] = {"--max-body-bytes", "1000", "--max-pairs", "4", NULL};
    server_start(&s, NULL, args);
    wait_ready(&s);
    http_resp_t r;

    /* By Content-Length, before any body byte is read. */
    int fd = http_connect(s.port);
    const char *big = "POST /align HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 100000000\r\n\r\n";
    send_all(fd, big, strlen(big));
    ck_assert_int_eq(http_read(fd, &r), 0);
    assert_error(&r, 413, "payload_too_large");
    http_resp_free(&r);
    close(fd);

    /* While streaming a chunked body of unknown length. */
    fd = http_connect(s.port);
    const char *head = "POST /align HTTP/1.1\r\nHost: x\r\n"
                       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    send_all(fd, head, strlen(head));
    char chunk[600];
    for (int i = 0; i < 4; i++) {
        int n = snprintf(chunk, sizeof chunk, "1f4\r\n");
        memset(chunk + n, ' ', 500);
        memcpy(chunk + n + 500, "\r\n", 2);
        send_all(fd, chunk, (size_t)n + 502);
    }
    send_all(fd, "0\r\n\r\n", 5);
    ck_assert_int_eq(http_read(fd, &r), 0);
    assert_error(&r, 413, "payload_too_large");
    http_resp_free(&r);
    close(fd);

    /* A chunked body under the limit is fine. */
    fd = http_connect(s.port);
    send_all(fd, head, strlen(head));
    const char *body = ALIGN_E1;
    int n = snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n0\r\n\r\n",
                     strlen(body), body);
    send_all(fd, chunk, (size_t)n);
    expect_answer(fd, 200);

    /* Too many pairs. */
    http_do(s.port, "POST", "/align", NULL,
            "{\"pairs\": [" ALIGN_E1 "," ALIGN_E1 "," ALIGN_E1 "," ALIGN_E1
            "," ALIGN_E1 "]}",
            &r);
    assert_error(&r, 413, "payload_too_large");
    http_resp_free(&r);

    /* The server still serves. */
    expect_status(s.port, "POST", "/align", NULL, body, 200);
    server_stop(&s);
}
END_TEST

START_TEST(metrics_exposition)
{
    server_t s;
    server_start(&s, NULL, NULL);
    wait_ready(&s);
    http_resp_t r;
    for (int i = 0; i < 3; i++) {
        http_do(s.port, "POST", "/align", NULL, ALIGN_E1, &r);
        http_resp_free(&r);
    }
    http_do(s.port, "POST", "/align", NULL,
            "{\"pairs\": [" ALIGN_E1 ","
            "{\"left\": \"L:e2\", \"right\": \"R:e1\"}]}",
            &r);
    http_resp_free(&r);
    http_do(s.port, "POST", "/align", NULL, "[]", &r);
    http_resp_free(&r);
    http_do(s.port, "GET", "/nowhere", NULL, NULL, &r);
    http_resp_free(&r);

    char *m = get_metrics(&s);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"/align\",status=\"200\"}"),
        4);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"/align\",status=\"400\"}"),
        1);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"other\",status=\"404\"}"),
        1);
    ck_assert_double_eq(metric_value(m, "kgalign_pairs_scored_total"), 5);
    ck_assert_double_eq(
        metric_value(
            m, "kgalign_request_duration_seconds_count{route=\"/align\"}"),
        5);
    ck_assert_double_eq(
        metric_value(m, "kgalign_request_duration_seconds_bucket{route=\"/"
                        "align\",le=\"+Inf\"}"),
        5);
    ck_assert_double_eq(metric_value(m, "kgalign_inflight_requests"), 0);
    ck_assert_double_eq(metric_value(m, "kgalign_queue_depth"), 0);
    ck_assert_double_eq(
        metric_value(m, "kgalign_snapshot_version{model_version=\"" MODEL_V1
                        "\"}"),
        1);
    ck_assert_double_eq(metric_value(m, "kgalign_reload_failures_total"), 0);
    ck_assert(metric_value(m, "kgalign_snapshot_load_seconds") >= 0);
    ck_assert(metric_value(m, "kgalign_snapshot_loaded_timestamp_seconds") >
              1.6e9);
    ck_assert_double_eq(metric_value(m, "kgalign_ready"), 1);
    free(m);
    server_stop(&s);
}
END_TEST

/* The checker itself must refuse what is wrong. */
START_TEST(exposition_checker_refuses_bad_text)
{
    char why[256];
    const char *good =
        "# HELP a_total x\n# TYPE a_total counter\na_total 1\n"
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
        "h_sum 0.5\nh_count 2\n";
    ck_assert_ptr_null(check_exposition(good, why, sizeof why));
    const char *bad[] = {
        "a_total 1\n",                                      /* no TYPE */
        "# TYPE a_total counter\na_total{x=1} 1\n",         /* unquoted */
        "# TYPE a_total counter\na_total one\n",            /* value */
        "# TYPE a counter\na 1\n",                          /* no _total */
        "# TYPE a gauge\na 1",                              /* no newline */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",                             /* not cumulative */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
        "h_sum 1\nh_count 3\n",                             /* count */
        "# TYPE g gauge\n# TYPE g gauge\ng 1\n",             /* twice */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(check_exposition(bad[i], why, sizeof why) != NULL,
                      "accepted bad text %zu", i);
}
END_TEST

/* The formatter on its own, with every route and status and a label value
 * that needs escaping. */
START_TEST(metrics_format_is_valid_exposition)
{
    kga_metrics_t m;
    kga_metrics_init(&m);
    const int statuses[] = {200, 202, 400, 401, 403, 404, 405,
                            409, 413, 500, 503, 504, 418};
    for (int r = 0; r < KGA_ROUTE_COUNT_; r++)
        for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
            kga_metrics_request(&m, (kga_route_t)r, statuses[i],
                                0.0001 * (double)(i * i * i + 1), i);
    kga_metrics_request(&m, KGA_ROUTE_ALIGN, 200, 1e6, 1); /* past 10 s */
    kga_metrics_gauges_t g = {0};
    g.has_snapshot = 1;
    g.snapshot_version = 3;
    g.model_version = "we\"ird\\ver\nsion";
    g.start_time = 1.7e9;
    char *out;
    size_t len;
    ck_assert_int_eq(kga_metrics_format(&m, &g, &out, &len), 0);
    ck_assert_uint_eq(strlen(out), len);
    char why[512];
    const char *bad = check_exposition(out, why, sizeof why);
    ck_assert_msg(bad == NULL, "%s\n%s", bad, out);
    /* 418 is counted as 500. */
    ck_assert_double_eq(
        metric_value(out, "kgalign_requests_total{route=\"/align\",status=\"500\"}"),
        2);
    ck_assert_double_eq(
        metric_value(out, "kgalign_request_duration_seconds_bucket{route=\"/"
                          "align\",le=\"10\"}"),
        13);
    ck_assert_double_eq(
        metric_value(out, "kgalign_request_duration_seconds_bucket{route=\"/"
                          "align\",le=\"+Inf\"}"),
        14);
    ck_assert(strstr(out, "model_version=\"we\\\"ird\\\\ver\\nsion\"") != NULL);
    free(out);
}
END_TEST

START_TEST(admin_access)
{
    /* No token configured: the route is off for everyone. */
    ck_assert(!kga_admin_allowed(NULL, ""));
    ck_assert(!kga_admin_allowed("Bearer ", ""));
    ck_assert(!kga_admin_allowed("Bearer x", ""));
    ck_assert(!kga_admin_allowed("Bearer ", NULL));
    /* With one, only when it is given exactly. */
    ck_assert(kga_admin_allowed("Bearer s3cret", "s3cret"));
    ck_assert(kga_admin_allowed("bearer s3cret", "s3cret"));
    ck_assert(kga_admin_allowed("Bearer   s3cret", "s3cret"));
    ck_assert(!kga_admin_allowed(NULL, "s3cret"));
    ck_assert(!kga_admin_allowed("Bearer s3cre", "s3cret"));
    ck_assert(!kga_admin_allowed("Bearer s3crets", "s3cret"));
    ck_assert(!kga_admin_allowed("Basic s3cret", "s3cret"));
    ck_assert(!kga_admin_allowed("s3cret", "s3cret"));
    ck_assert(!kga_admin_allowed("Bearer", "s3cret"));
}
END_TEST

START_TEST(connection_limit_and_timeout)
{
    server_t s;
    const char *args[] = {"--max-connections", "2", "--connection-timeout-s",
                          "2", NULL};
    server_start(&s, NULL, args);
    wait_ready(&s);
    /* Two idle connections fill the limit (the kernel queues connections
     * for accept() in order): a third waits in the listen backlog,
     * unanswered, ... */
    int a = http_connect(s.port);
    int b = http_connect(s.port);
    int c = http_send(s.port, "GET", "/healthz", NULL, NULL);
    struct pollfd p = {.fd = c, .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 300) == 0, "a third connection was served");
    /* ... until the idle ones time out and are closed, unanswered; then it
     * is served. */
    size_t got;
    ck_assert(closed_by_server(a, harness.stop_timeout_s, &got));
    ck_assert_uint_eq(got, 0);
    ck_assert(closed_by_server(b, harness.stop_timeout_s, &got));
    ck_assert_uint_eq(got, 0);
    http_resp_t r;
    ck_assert_int_eq(http_read(c, &r), 0);
    ck_assert_int_eq(r.status, 200);
    http_resp_free(&r);
    close(a);
    close(b);
    close(c);
    server_stop(&s);
}
END_TEST

/* Every HTTP thread takes its share of the connections, and each of them
 * is served, kept alive, whichever thread has it. */
START_TEST(http_threads_share_connections)
{
    server_t s;
    const char *args[] = {"--http-threads", "3", NULL};
    server_start(&s, NULL, args);
    wait_ready(&s);
    enum { N = 9 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = http_connect(s.port);
    /* All accepted, and the earlier scrapes' connections closed, when the
     * scrape's own connection is the tenth. */
    char *m = metrics_wait(&s, "kgalign_open_connections", N + 1);
    ck_assert_double_eq(metric_value(m, "kgalign_http_threads"), 3);
    double lo = 1e9, hi = 0, sum = 0;
    for (int t = 0; t < 3; t++) {
        char series[64];
        snprintf(series, sizeof series,
                 "kgalign_http_thread_connections{thread=\"%d\"}", t);
        double v = metric_value(m, series);
        ck_assert_msg(!isnan(v), "no %s in\n%s", series, m);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        sum += v;
    }
    /* Balanced but for connections closing while these were handed out
     * (the client side of a scrape closes before the server sees it). */
    ck_assert_msg(lo >= 2 && hi <= 5,
                  "connections per thread from %.0f to %.0f", lo, hi);
    ck_assert_double_eq(sum, N + 1);
    free(m);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            http_resp_t r;
            ck_assert_int_eq(http_exchange(fds[i], "POST", "/align", NULL,
                                           "{\"left\": \"L:e3\", "
                                           "\"right\": \"R:e3\"}",
                                           1, &r),
                             0);
            ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
            http_resp_free(&r);
        }
    for (int i = 0; i < N; i++)
        close(fds[i]);
    server_stop(&s);
}
END_TEST

/* Number of single-pair /align requests answered on the HTTP thread after
 * n more of them, one after the other. */
static double align_inline_after(const server_t *s, int n)
{
    for (int i = 0; i < n; i++) {
        http_resp_t r;
        http_do(s->port, "POST", "/align", NULL,
                "{\"left\": \"L:e2\", \"right\": \"R:e2\"}", &r);
        ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
        http_resp_free(&r);
    }
    char *m = get_metrics(s);
    double v = metric_value(m, "kgalign_inline_requests_total");
    free(m);
    return v;
}

/* Small requests are scored on the HTTP thread once their route was
 * measured cheap; a slow model's never are, and the loop keeps answering
 * while one runs; inline_max_us = 0 turns it off. */
START_TEST(inline_scoring_follows_the_cost)
{
    server_t s;
    /* A limit far above a fake single pair's cost, even under a sanitizer
     * on a busy machine, and far below the slow model's. */
    const char *cheap[] = {"--inline-max-us", "2000", NULL};
    server_start(&s, NULL, cheap);
    wait_ready(&s);
    /* The first one goes to a worker: its cost is not known yet. A slow
     * measurement (a preempted thread) delays the rest a few requests. */
    double v = align_inline_after(&s, 30);
    ck_assert_msg(v >= 1 && v <= 29, "%.0f of 30 inline", v);
    server_stop(&s);

    const char *off[] = {"--inline-max-us", "0", NULL};
    server_start(&s, NULL, off);
    wait_ready(&s);
    ck_assert_double_eq(align_inline_after(&s, 6), 0);
    server_stop(&s);

    /* Every score takes at least 400 ms, and waits at the gate. */
    gate_t gate;
    const char *env[] = {"KGA_FAKE_SCORE_DELAY_MS=400",
                         gate_env_init(&gate, "score"), NULL};
    gate_open(gate.path);
    server_start(&s, env, cheap);
    wait_ready(&s);
    ck_assert_double_eq(align_inline_after(&s, 2), 0);
    /* One held on a worker: the loop keeps answering meanwhile. */
    ck_assert_int_eq(unlink(gate.path), 0);
    int slow =
        send_held(&s, "/align", "{\"left\": \"L:e2\", \"right\": \"R:e2\"}", 1);
    expect_status(s.port, "GET", "/healthz", NULL, NULL, 200);
    ck_assert_msg(!readable_now(slow),
                  "the held request was answered before /healthz");
    gate_open(gate.path);
    expect_answer(slow, 200);
    char *m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, "kgalign_inline_requests_total"), 0);
    free(m);
    server_stop(&s);
}
END_TEST

START_TEST(inflight_cap_gives_503)
{
    server_t s;
    gate_t gate;
    const char *args[] = {"--max-inflight", "1", "--retry-after-s", "3", NULL};
    start_gated(&s, &gate, "score", args);
    wait_ready(&s);
    /* One request holds the only slot, at the gate, ... */
    int slow = send_held(&s, "/align", ALIGN_E1, 1);
    /* ... so the next is refused at once, not queued behind it. */
    http_resp_t r;
    http_do(s.port, "POST", "/align", NULL, ALIGN_E1, &r);
    assert_error(&r, 503, "unavailable");
    char v[32];
    ck_assert_str_eq(http_header(&r, "Retry-After", v, sizeof v), "3");
    http_resp_free(&r);
    /* Not a queue: the health endpoints still answer at once. */
    expect_status(s.port, "GET", "/healthz", NULL, NULL, 200);
    char *m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, "kgalign_inflight_requests"), 1);
    free(m);
    ck_assert(!readable_now(slow));
    gate_open(gate.path);
    expect_answer(slow, 200);
    server_stop(&s);
}
END_TEST

START_TEST(deadline_gives_504)
{
    server_t s;
    /* One worker, held at the gate by the first request. */
    gate_t gate;
    const char *args[] = {"--threads", "1", "--request-deadline-ms", "250",
                          NULL};
    start_gated(&s, &gate, "score", args);
    wait_ready(&s);
    /* In flight and off the queue: the worker has it. */
    int running = send_held(&s, "/align", ALIGN_E1, 1);
    free(metrics_wait(&s, "kgalign_queue_depth", 0));
    int queued = http_send(s.port, "POST", "/align", NULL, ALIGN_E1);

    /* The queued one never starts: 504 at its deadline, while the running
     * one is still held. */
    http_resp_t r;
    ck_assert_int_eq(http_read(queued, &r), 0);
    assert_error(&r, 504, "deadline_exceeded");
    http_resp_free(&r);
    close(queued);
    ck_assert(!readable_now(running));
    char *m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, "kgalign_deadline_cancelled_total"),
                        1);
    free(m);

    /* The running one finishes its batch, then answers 504. */
    gate_open(gate.path);
    ck_assert_int_eq(http_read(running, &r), 0);
    assert_error(&r, 504, "deadline_exceeded");
    http_resp_free(&r);
    close(running);

    m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, "kgalign_deadline_cancelled_total"),
                        1);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"/align\",status=\"504\"}"),
        2);
    free(m);
    server_stop(&s);
}
END_TEST

START_TEST(not_ready_until_loaded)
{
    server_t s;
    /* The first load waits at the gate. */
    gate_t gate;
    start_gated(&s, &gate, "open", NULL);
    http_resp_t r;
    http_do(s.port, "GET", "/healthz", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(json_at(r.json, "model_version"));
    http_resp_free(&r);
    http_do(s.port, "GET", "/readyz", NULL, NULL, &r);
    assert_error(&r, 503, "not_ready");
    char v[32];
    ck_assert_ptr_nonnull(http_header(&r, "Retry-After", v, sizeof v));
    http_resp_free(&r);
    expect_error(s.port, "POST", "/align", NULL, ALIGN_E1, 503, "not_ready");
    char *m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, "kgalign_ready"), 0);
    free(m);
    gate_open(gate.path);
    wait_ready(&s);
    server_stop(&s);
}
END_TEST

START_TEST(startup_failure_exits_1)
{
    set_model("not a model\n");
    server_t s;
    server_start(&s, NULL, NULL);
    int rc = server_wait(&s, harness.stop_timeout_s);
    set_model("kgalign-fake-model " MODEL_V1 "\n");
    ck_assert_int_eq(rc, 1);
    ck_assert(log_contains(&s, "\"event\":\"reload_failed\""));
    ck_assert(log_contains(&s, "bad magic"));
}
END_TEST

START_TEST(reload_swaps_or_keeps_the_old_snapshot)
{
    server_t s;
    server_start(&s, NULL, admin_args);
    wait_ready(&s);
    http_resp_t r;

    /* A good reload: answered when the new snapshot serves. */
    set_model("kgalign-fake-model " MODEL_V2 "\n");
    http_do(s.port, "POST", "/admin/reload", ADMIN_AUTH, NULL, &r);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    ck_assert_str_eq(json_str_at(r.json, "status"), "reloaded");
    ck_assert_str_eq(json_str_at(r.json, "model_version"), MODEL_V2);
    http_resp_free(&r);
    http_do(s.port, "POST", "/align", NULL, ALIGN_E1, &r);
    ck_assert_str_eq(json_str_at(r.json, "model_version"), MODEL_V2);
    http_resp_free(&r);

    /* A bad one: 500, logged, counted, and the old snapshot still serves. */
    set_model("garbage\n");
    http_do(s.port, "POST", "/admin/reload", ADMIN_AUTH, NULL, &r);
    assert_error(&r, 500, "reload_failed");
    ck_assert_msg(strstr(json_str_at(r.json, "error.message"), "magic") != NULL,
                  "%s", r.body);
    http_resp_free(&r);
    http_do(s.port, "POST", "/align", NULL, ALIGN_E1, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_str_at(r.json, "model_version"), MODEL_V2);
    http_resp_free(&r);
    expect_status(s.port, "GET", "/readyz", NULL, NULL, 200);
    char *m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, "kgalign_reload_failures_total"), 1);
    ck_assert_double_eq(
        metric_value(m, "kgalign_snapshot_version{model_version=\"" MODEL_V2
                        "\"}"),
        2);
    free(m);
    ck_assert(log_contains(&s, "\"event\":\"reload_failed\""));

    /* SIGHUP reloads too: the third load (start-up, the good reload). */
    set_model("kgalign-fake-model " MODEL_V1 "\n");
    kill(s.pid, SIGHUP);
    log_wait(&s, "\"event\":\"snapshot_loaded\"", 3);
    http_do(s.port, "GET", "/readyz", NULL, NULL, &r);
    ck_assert_str_eq(json_str_at(r.json, "model_version"), MODEL_V1);
    http_resp_free(&r);
    server_stop(&s);
}
END_TEST

START_TEST(reload_while_reloading_is_409)
{
    server_t s;
    gate_t gate;
    const char *env[] = {gate_env_init(&gate, "open"), NULL};
    gate_open(gate.path);
    server_start(&s, env, admin_args);
    wait_ready(&s);
    /* The first reload waits at the gate ... */
    ck_assert_int_eq(unlink(gate.path), 0);
    int first = http_send(s.port, "POST", "/admin/reload", ADMIN_AUTH, NULL);
    log_wait(&s, "\"trigger\":\"admin\"", 1);
    /* ... while the second is refused. */
    expect_error(s.port, "POST", "/admin/reload", ADMIN_AUTH, NULL, 409,
                 "conflict");
    gate_open(gate.path);
    expect_answer(first, 200);
    server_stop(&s);
}
END_TEST

START_TEST(sigterm_drains)
{
    server_t s;
    /* Two requests held at the gate through the drain delay, which is
     * long enough for the checks below on any machine. */
    gate_t gate;
    const char *args[] = {"--drain-delay-ms", "2000", NULL};
    start_gated(&s, &gate, "score", args);
    wait_ready(&s);
    int a = send_held(&s, "/align", ALIGN_E1, 1);
    int b = send_held(&s, "/match", "{\"left\": \"L:e1\"}", 2);
    kill(s.pid, SIGTERM);
    log_wait(&s, "\"event\":\"drain_started\"", 1);

    /* /readyz turns 503 at once; /healthz stays 200; work still served
     * during the drain delay. */
    expect_error(s.port, "GET", "/readyz", NULL, NULL, 503, "unavailable");
    expect_status(s.port, "GET", "/healthz", NULL, NULL, 200);

    /* In-flight requests complete. */
    gate_open(gate.path);
    expect_answer(a, 200);
    expect_answer(b, 200);

    int rc = server_wait(&s, harness.stop_timeout_s);
    ck_assert_msg(rc == 0, "exit status %d", rc);
    ck_assert(log_contains(&s, "\"event\":\"drain_started\""));
    ck_assert(log_contains(&s, "\"event\":\"stopped_accepting\""));
    ck_assert(log_contains(&s, "\"event\":\"drained\""));
}
END_TEST

START_TEST(second_sigint_exits_at_once)
{
    server_t s;
    /* A request held at the gate, never let go: a drain could not end. */
    gate_t gate;
    const char *args[] = {"--drain-delay-ms", "5000", NULL};
    start_gated(&s, &gate, "score", args);
    wait_ready(&s);
    int a = send_held(&s, "/align", ALIGN_E1, 1);
    kill(s.pid, SIGINT);
    log_wait(&s, "\"event\":\"drain_started\"", 1);
    kill(s.pid, SIGINT);
    int rc = server_wait(&s, harness.stop_timeout_s);
    ck_assert_int_eq(rc, 130);
    ck_assert(log_contains(&s, "\"event\":\"exit_now\""));
    ck_assert(!log_contains(&s, "\"event\":\"drained\""));
    close(a);
}
END_TEST

/* ------------------------------------------------------------------------
 * Files changed under the server
 * ------------------------------------------------------------------------ */

/* Starts a server whose periodic file check runs every check_ms ("0":
 * never), then cuts the fixture's store name to 64 bytes in place (same
 * inode, as cp over it does). path gets the store's path; returns its
 * whole content (len bytes), for the test to write back. */
static char *cut_store_under_server(server_t *s, const char *check_ms,
                                    const char *name, char *path, size_t cap,
                                    size_t *len)
{
    const char *args[] = {"--file-check-interval-ms", check_ms, NULL};
    server_start(s, NULL, args);
    wait_ready(s);
    snprintf(path, cap, "%s/%s", data_dir, name);
    char *whole = kga_test_read_file(path, len);
    ck_assert_int_eq(truncate(path, 64), 0);
    return whole;
}

/* A store rewritten in place under a serving server (cp over it): the next
 * /align is refused (503) instead of reading it, /readyz says so, and once
 * the file is whole again it is loaded again and served; the process
 * never dies. With the periodic check off, the requests are what tell. */
START_TEST(store_changed_in_place_is_refused_then_reloaded)
{
    server_t s;
    char path[300];
    size_t len;
    char *whole = cut_store_under_server(&s, "0", "left.kgs", path,
                                         sizeof path, &len);
    const char *body = ALIGN_E1;
    http_resp_t r;
    http_do(s.port, "POST", "/align", NULL, body, &r);
    assert_error(&r, 503, "unavailable");
    ck_assert_ptr_nonnull(strstr(json_str_at(r.json, "error.message"),
                                 "changed on disk"));
    http_resp_free(&r);
    log_wait(&s, "\"event\":\"snapshot_files_changed\"", 1);
    log_wait(&s, "\"event\":\"reload_failed\"", 1);
    ck_assert(log_contains(&s, "left.kgs: changed in place while mapped"));
    expect_error(s.port, "GET", "/readyz", NULL, NULL, 503, "unavailable");
    char *m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, "kgalign_ready"), 0);
    free(m);

    /* Whole again (in place too): the next request has it loaded. */
    kga_test_write_file(path, whole, len);
    free(whole);
    expect_error(s.port, "POST", "/align", NULL, body, 503, "unavailable");
    log_wait(&s, "\"event\":\"snapshot_loaded\"", 2);
    expect_status(s.port, "POST", "/align", NULL, body, 200);
    expect_status(s.port, "GET", "/readyz", NULL, NULL, 200);
    server_stop(&s);
}
END_TEST

/* The same without any request: the periodic check notices. */
START_TEST(store_changed_in_place_is_noticed_periodically)
{
    server_t s;
    char path[300];
    size_t len;
    char *whole = cut_store_under_server(&s, "20", "right.kgs", path,
                                         sizeof path, &len);
    log_wait(&s, "\"event\":\"snapshot_files_changed\"", 1);
    expect_error(s.port, "GET", "/readyz", NULL, NULL, 503, "unavailable");
    kga_test_write_file(path, whole, len);
    free(whole);
    log_wait(&s, "\"event\":\"snapshot_loaded\"", 2);
    wait_ready(&s);
    server_stop(&s);
}
END_TEST

/* A read past the end of a mapped file truncated under it: the fault
 * handler logs the file and exits 3 (fault.h); a SIGBUS that no mapped
 * file explains keeps its default action. In child processes, by a read
 * made on purpose, so that it is not a matter of timing. */
static int fault_child(const char *file, const char *log, int registered)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 ||
            kga_fault_handler_install() != 0)
            _exit(90);
        const volatile char *p;
        if (registered) {
            kga_mapped_file_t f;
            kga_err_t err;
            if (kga_mapped_file_open(&f, file, "test file", &err) != 0)
                _exit(91);
            p = f.data;
        } else {
            int mfd = open(file, O_RDONLY);
            void *m = mmap(NULL, 65536, PROT_READ, MAP_PRIVATE, mfd, 0);
            if (m == MAP_FAILED)
                _exit(92);
            p = m;
        }
        if (truncate(file, 0) != 0)
            _exit(93);
        char c = p[4096]; /* past the end now */
        _exit(c == 0 ? 94 : 95);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(sigbus_in_a_mapped_file_exits_with_a_logged_reason)
{
    char file[300], log[300];
    snprintf(file, sizeof file, "%s/mapped.bin", data_dir);
    snprintf(log, sizeof log, "%s/fault.log", data_dir);
    char block[65536];
    memset(block, 'x', sizeof block);
    kga_test_write_file(file, block, sizeof block);
    ck_assert_int_eq(fault_child(file, log, 1), KGA_SERVER_EXIT_FILE_FAULT);
    char *text = kga_test_read_file(log, NULL);
    char why[512];
    const char *bad = log_lines_invalid(text, why, sizeof why);
    ck_assert_msg(bad == NULL, "%s", bad);
    ck_assert_ptr_nonnull(strstr(text, "\"event\":\"mapped_file_fault\""));
    ck_assert_ptr_nonnull(strstr(text, file));
    free(text);

    kga_test_write_file(file, block, sizeof block);
    ck_assert_int_eq(fault_child(file, log, 0), 128 + SIGBUS);
    unlink(file);
    unlink(log);
}
END_TEST

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = kga_test_tcase(s, "http", 60);
    tcase_add_test(tc, health_ready_and_request_ids);
    tcase_add_test(tc, align_and_match);
    tcase_add_test(tc, routes_and_methods);
    tcase_add_test(tc, body_limits);
    tcase_add_test(tc, metrics_exposition);
    tcase_add_test(tc, exposition_checker_refuses_bad_text);
    tcase_add_test(tc, metrics_format_is_valid_exposition);
    tcase_add_test(tc, admin_access);
    tcase_add_test(tc, connection_limit_and_timeout);
    tcase_add_test(tc, http_threads_share_connections);
    tcase_add_test(tc, inline_scoring_follows_the_cost);
    tcase_add_test(tc, inflight_cap_gives_503);
    tcase_add_test(tc, deadline_gives_504);
    tcase_add_test(tc, not_ready_until_loaded);
    tcase_add_test(tc, startup_failure_exits_1);
    tcase_add_test(tc, reload_swaps_or_keeps_the_old_snapshot);
    tcase_add_test(tc, reload_while_reloading_is_409);
    tcase_add_test(tc, sigterm_drains);
    tcase_add_test(tc, second_sigint_exits_at_once);
    tcase_add_test(tc, store_changed_in_place_is_refused_then_reloaded);
    tcase_add_test(tc, store_changed_in_place_is_noticed_periodically);
    tcase_add_test(tc, sigbus_in_a_mapped_file_exits_with_a_logged_reason);
    return s;
}

int main(int argc, char **argv)
{
    /* `test_server serve ARGS`: the server under test, fake aligner inside.
     * `test_server fixture DIR`: writes the fixture, for manual runs and
     * load tests of the HTTP layer. */
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return kga_cmd_serve(argc - 1, argv + 1);
    if (argc > 2 && strcmp(argv[1], "fixture") == 0) {
        make_fixture(argv[2]);
        return EXIT_SUCCESS;
    }

    make_fixture(NULL);
    harness.drain_delay_ms = "100";
    harness.metrics_check = check_exposition;
    int rc = kga_test_run(server_suite);
    remove_fixture();
    return rc;
}
