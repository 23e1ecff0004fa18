/* Requests a well-behaved client never sends, over raw sockets, against the
 * server with the fake aligner (tests/server_harness.c,
 * tests/server_fake_aligner.c):
 *   - the admin route: no trust by source address (off without a token,
 *     the token required with one), whatever spelling of its path;
 *   - request targets whose decoding hides something (%00, an encoded
 *     slash, a NUL byte, a bad escape, ".." above the root) are refused
 *     with 400, and the routes are matched on the normalised path;
 *   - a body whose end is ambiguous (two different Content-Length headers,
 *     Content-Length with Transfer-Encoding, a Content-Length that is not
 *     a number) gets exactly one 400 and the connection closes;
 *   - bytes that are not UTF-8 (in a path, a header) still leave every log
 *     line valid JSON.
 * Also the pure functions behind them (server/request_path.h, the log line
 * builder), as tables. Nothing here depends on the machine's speed: every
 * answer is awaited, and what did not happen (a reload) is read from the
 * log after an answer that comes later. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/log.h"
#include "server/request_path.h"

#include "server_harness.h"
#include "server_fake_aligner.h"
#include "testutil.h"

#define TOKEN "tok-0123456789abcdef"
#define BEARER "Authorization: Bearer " TOKEN "\r\n"
#define ADMIN_RELOADS "\"event\":\"reload_started\",\"trigger\":\"admin\""

static const char *const with_token[] = {"--admin-token", TOKEN, NULL};

/* ------------------------------------------------------------------------
 * Raw exchanges
 * ------------------------------------------------------------------------ */

/* Everything the server sends on a new connection after `request` (len
 * bytes, NUL bytes allowed) until it closes the connection: malloc'd,
 * NUL-terminated, its length in *out_len. */
static char *exchange_until_close(int port, const char *request, size_t len,
                                  size_t *out_len)
{
    int fd = http_connect(port);
    ck_assert_int_eq(send_all(fd, request, len), 0);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap + 1);
    for (;;) {
        ssize_t got = recv(fd, out + n, cap - n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
        ck_assert_uint_lt(n, cap);
    }
    close(fd);
    out[n] = '\0';
    *out_len = n;
    return out;
}

static int count_of(const char *hay, size_t len, const char *needle)
{
    int count = 0;
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (memcmp(hay + i, needle, nl) == 0)
            count++;
    return count;
}

/* One request (a C string) on its own connection, answered with `status`
 * and, unless code is NULL, that error code. */
static void expect_status(int port, const char *request, size_t len,
                          int status, const char *code)
{
    int fd = http_connect(port);
    ck_assert_int_eq(send_all(fd, request, len), 0);
    http_resp_t r;
    ck_assert_msg(http_read(fd, &r) == 0, "no answer to %.80s", request);
    close(fd);
    ck_assert_msg(r.status == status, "%.80s: status %d, want %d: %s",
                  request, r.status, status, r.body);
    if (code != NULL) {
        const char *c = json_str_at(r.json, "error.code");
        ck_assert_msg(c != NULL && strcmp(c, code) == 0,
                      "%.80s: code %s, want %s", request, c ? c : "(none)",
                      code);
    }
    http_resp_free(&r);
}

/* A POST to the admin route and what it must be answered: the status and,
 * unless code is NULL, the error code. */
typedef struct {
    const char *target;
    const char *headers;
    int status;
    const char *code;
} admin_post_t;

/* Each post of the table on its own connection, answered as it says. */
static void post_admin(int port, const admin_post_t *posts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char req[512];
        int len = snprintf(
            req, sizeof req,
            "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 0\r\n"
            "Connection: close\r\n\r\n",
            posts[i].target, posts[i].headers != NULL ? posts[i].headers : "");
        expect_status(port, req, (size_t)len, posts[i].status, posts[i].code);
    }
}
#define POST_ADMIN(port, posts)                                             \
    post_admin(port, posts, sizeof posts / sizeof posts[0])

/* ------------------------------------------------------------------------
 * The request target, as data
 * ------------------------------------------------------------------------ */

static const struct {
    const char *target;
    kga_target_problem_t want;
} target_cases[] = {
    {"/align", KGA_TARGET_OK},
    {"/%61dmin/reload", KGA_TARGET_OK},
    {"/a%20b?x=%2F", KGA_TARGET_OK}, /* an encoded slash in the query */
    {"/admin/reload%00junk", KGA_TARGET_NUL},
    {"/align?x=%00", KGA_TARGET_NUL},
    {"/admin%2freload", KGA_TARGET_SLASH},
    {"/admin%2Freload", KGA_TARGET_SLASH},
    {"/admin%5creload", KGA_TARGET_SLASH},
    {"/admin%5Creload", KGA_TARGET_SLASH},
    {"/%zz", KGA_TARGET_BAD_ESCAPE},
    {"/%4", KGA_TARGET_BAD_ESCAPE},
    {"/%", KGA_TARGET_BAD_ESCAPE},
    {"/%%32%66", KGA_TARGET_BAD_ESCAPE},
};

static const struct {
    const char *path;
    int rc;
    const char *want;
} path_cases[] = {
    {"/", 0, "/"},
    {"/align", 0, "/align"},
    {"//admin//reload", 0, "/admin/reload"},
    {"/admin/./reload", 0, "/admin/reload"},
    {"/x/../admin/reload", 0, "/admin/reload"},
    {"/x/y/../../admin/reload", 0, "/admin/reload"},
    {"/admin/reload/.", 0, "/admin/reload/"},
    {"/align/", 0, "/align/"},
    {"/a/..", 0, "/"},
    {"/a/b/..", 0, "/a/"},
    {"/...", 0, "/..."},
    {"/..a/b", 0, "/..a/b"},
    {"/..", KGA_PATH_ABOVE_ROOT, ""},
    {"/../admin/reload", KGA_PATH_ABOVE_ROOT, ""},
    {"/a/../../admin/reload", KGA_PATH_ABOVE_ROOT, ""},
    {"admin/reload", KGA_PATH_RELATIVE, ""},
    {"", KGA_PATH_RELATIVE, ""},
    {"/0123456789/0123456789", KGA_PATH_TOO_LONG, ""}, /* cap 16 below */
};

START_TEST(targets_are_checked_and_paths_normalised)
{
    for (size_t i = 0; i < sizeof target_cases / sizeof target_cases[0]; i++) {
        const char *t = target_cases[i].target;
        ck_assert_msg(kga_target_check(t, strlen(t)) == target_cases[i].want,
                      "%s: %d, want %d", t, kga_target_check(t, strlen(t)),
                      target_cases[i].want);
    }
    /* The length bounds the look: an escape cut by it is bad. */
    ck_assert_int_eq(kga_target_check("/%2Fx", 2), KGA_TARGET_BAD_ESCAPE);
    for (size_t i = 0; i < sizeof path_cases / sizeof path_cases[0]; i++) {
        char out[16];
        int rc = kga_path_normalise(path_cases[i].path, out, sizeof out);
        ck_assert_msg(rc == path_cases[i].rc, "%s: %d, want %d",
                      path_cases[i].path, rc, path_cases[i].rc);
        ck_assert_msg(strcmp(out, path_cases[i].want) == 0,
                      "%s: '%s', want '%s'", path_cases[i].path, out,
                      path_cases[i].want);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * The admin route
 * ------------------------------------------------------------------------ */

/* Without a token no client reaches it, loopback or not, however its path
 * is spelled; a later request is answered, so the reloads that did not
 * happen are not in the log. */
START_TEST(admin_route_is_off_without_a_token)
{
    static const admin_post_t posts[] = {
        {"/admin/reload", NULL, 403, "forbidden"},
        {"/admin/reload", "Authorization: Bearer \r\n", 403, "forbidden"},
        {"/%61dmin/reload", NULL, 403, "forbidden"},
        {"//admin/./reload", NULL, 403, "forbidden"},
    };
    server_t s;
    server_start(&s, NULL, NULL);
    wait_ready(&s);
    POST_ADMIN(s.port, posts);
    http_get_ok(s.port, "/healthz");
    ck_assert_int_eq(log_count(&s, ADMIN_RELOADS), 0);
    server_stop(&s);
}
END_TEST

/* With a token: only its bearer, on any spelling of the path that
 * normalises to it; the encodings that hide a path are 400 and reload
 * nothing. */
START_TEST(admin_route_needs_the_token_and_a_plain_path)
{
    static const admin_post_t posts[] = {
        {"/admin/reload", NULL, 403, "forbidden"},
        {"/admin/reload", "Authorization: Bearer wrong\r\n", 403, "forbidden"},
        {"/admin/reload", BEARER, 200, NULL},
        {"/%61dmin/reload", BEARER, 200, NULL},
        {"/x/../admin/./reload", BEARER, 200, NULL},
    };
    static const admin_post_t refused[] = {
        {"/admin/reload%00junk", BEARER, 400, "bad_request"},
        {"/admin%2freload", BEARER, 400, "bad_request"},
        {"/admin%2Freload", BEARER, 400, "bad_request"},
        {"/admin%5creload", BEARER, 400, "bad_request"},
        {"/%zz/admin/reload", BEARER, 400, "bad_request"},
        {"/../admin/reload", BEARER, 400, "bad_request"},
        {"/admin/reload%00", BEARER, 400, "bad_request"},
    };
    server_t s;
    server_start(&s, NULL, with_token);
    wait_ready(&s);
    POST_ADMIN(s.port, posts);
    ck_assert_int_eq(log_count(&s, ADMIN_RELOADS), 3);
    POST_ADMIN(s.port, refused);
    /* A NUL byte in the request line itself. */
    static const char nul_line[] =
        "POST /admin/reload\0junk HTTP/1.1\r\nHost: x\r\n" BEARER
        "Content-Length: 0\r\nConnection: close\r\n\r\n";
    expect_status(s.port, nul_line, sizeof nul_line - 1, 400, "bad_request");
    http_get_ok(s.port, "/healthz");
    ck_assert_int_eq(log_count(&s, ADMIN_RELOADS), 3);

    /* The other routes are matched on the normalised path too. */
    http_get_ok(s.port, "//healthz");
    http_get_ok(s.port, "/x/../readyz");
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * Ambiguous framing: one 400, then the close
 * ------------------------------------------------------------------------ */

static const struct {
    const char *what;
    const char *request;
} framing_cases[] = {
    {"Content-Length -1",
     "POST /align HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
    {"Content-Length -1 on a GET",
     "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
    {"Content-Length with a trailing space",
     "POST /align HTTP/1.1\r\nHost: x\r\nContent-Length: 5 \r\n\r\n{\"a\":"},
    {"Content-Length as a list",
     "POST /align HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n{\"a\":"},
    {"Content-Length past 64 bits",
     "POST /align HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: 99999999999999999999999\r\n\r\n"},
    {"two different Content-Length headers",
     "POST /align HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     "Content-Length: 500\r\n\r\n{\"a\":"},
    {"a zero and a longer Content-Length (a smuggled request)",
     "POST /align HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
     "Content-Length: 60\r\n\r\n"
     "POST /admin/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
    {"Content-Length and chunked",
     "POST /align HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
    {"chunked and Content-Length",
     "POST /align HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 5\r\n\r\n0\r\n\r\n"},
    {"a Transfer-Encoding other than chunked",
     "POST /align HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nab"},
    {"chunked twice",
     "POST /align HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
};

START_TEST(ambiguous_framing_gets_one_400)
{
    server_t s;
    server_start(&s, NULL, with_token);
    wait_ready(&s);
    for (size_t i = 0; i < sizeof framing_cases / sizeof framing_cases[0];
         i++) {
        const char *what = framing_cases[i].what;
        size_t len;
        char *out = exchange_until_close(s.port, framing_cases[i].request,
                                         strlen(framing_cases[i].request),
                                         &len);
        ck_assert_msg(count_of(out, len, "HTTP/1.") == 1,
                      "%s: %d responses, want one:\n%s", what,
                      count_of(out, len, "HTTP/1."), out);
        ck_assert_msg(strncmp(out, "HTTP/1.1 400 ", 13) == 0,
                      "%s: not a 400:\n%s", what, out);
        ck_assert_msg(count_of(out, len, "\"code\":\"bad_request\"") == 1,
                      "%s: not the service's error body:\n%s", what, out);
        free(out);
    }
    /* Two equal lengths are one length. */
    static const char same[] =
        "POST /align HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\n"
        "Content-Length: 33\r\nConnection: close\r\n\r\n"
        "{\"left\": \"L:e1\", \"right\": \"R:e1\"}";
    expect_status(s.port, same, sizeof same - 1, 200, NULL);
    ck_assert_int_eq(log_count(&s, ADMIN_RELOADS), 0);
    char *m = get_metrics(&s);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"/align\","
                        "status=\"400\"}"),
        (double)(sizeof framing_cases / sizeof framing_cases[0]) - 1);
    free(m);
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * Logs: valid JSON whatever the bytes
 * ------------------------------------------------------------------------ */

/* The line builder alone: stderr into a file, lines with every kind of
 * bad byte, read back as a log shipper would. */
START_TEST(log_lines_are_json_whatever_the_bytes)
{
    char path[300];
    snprintf(path, sizeof path, "%s/lines.log", data_dir);
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    dup2(fd, STDERR_FILENO);
    close(fd);

    static const char *const values[] = {
        "/x\xff",            /* a byte no UTF-8 has */
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", /* well-formed: kept */
        "\xc3",              /* a sequence cut short */
        "\xc0\xaf",          /* overlong '/' */
        "\xed\xa0\x80",      /* a surrogate */
        "\xf4\x90\x80\x80",  /* past U+10FFFF */
        "a\x01\x7f\"\\b",    /* controls, quote, backslash */
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        kga_logline_t l;
        kga_logline_begin(&l, KGA_LOG_ERROR, "bytes");
        kga_logline_str(&l, "path", values[i]);
        kga_logline_end(&l);
    }
    /* Long values are cut between characters, never inside one. */
    char longv[3 * KGA_LOG_LINE_MAX];
    for (size_t i = 0; i + 2 < sizeof longv; i += 2)
        memcpy(longv + i, "\xc3\xa9", 2);
    longv[sizeof longv - 1] = '\0';
    for (size_t shift = 0; shift < 2; shift++) {
        kga_logline_t l;
        kga_logline_begin(&l, KGA_LOG_ERROR, "long");
        kga_logline_str(&l, "value", longv + shift);
        kga_logline_end(&l);
    }
    kga_log_event(KGA_LOG_ERROR, "message", "bad byte %s", "\xfe");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    char *log = kga_test_read_file(path, NULL);
    char why[512];
    const char *bad = log_lines_invalid(log, why, sizeof why);
    ck_assert_msg(bad == NULL, "%s", bad);
    KGA_TEST_EXPECT_CONTAINS(log, "\"path\":\"/x\\u00ff\"",
                             "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
                             "\"\\u00c0\\u00af\"",
                             "\"a\\u0001\\u007f\\\"\\\\b\"",
                             "bad byte \\u00fe");
    free(log);
}
END_TEST

/* The server's own log, with a client sending raw bytes in its path and
 * headers: server_stop() reads every line as JSON. */
START_TEST(server_log_stays_json)
{
    server_t s;
    server_start(&s, NULL, NULL);
    wait_ready(&s);
    static const char req[] =
        "GET /x\xff\xfe%ff\"\\ HTTP/1.1\r\nHost: x\r\n"
        "X-Request-Id: \xff\r\nConnection: close\r\n\r\n";
    expect_status(s.port, req, sizeof req - 1, 404, "not_found");
    static const char post[] =
        "POST /ali\xc3gn HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n";
    size_t len;
    free(exchange_until_close(s.port, post, sizeof post - 1, &len));
    server_stop(&s);
    ck_assert(log_contains(&s, "\"path\":\"/x\\u00ff\\u00fe"));
}
END_TEST

static Suite *hostile_suite(void)
{
    Suite *s = suite_create("hostile requests");
    TCase *pure = kga_test_tcase(s, "rules", 0);
    tcase_add_test(pure, targets_are_checked_and_paths_normalised);
    tcase_add_test(pure, log_lines_are_json_whatever_the_bytes);
    TCase *tc = kga_test_tcase(s, "server", 60);
    tcase_add_test(tc, admin_route_is_off_without_a_token);
    tcase_add_test(tc, admin_route_needs_the_token_and_a_plain_path);
    tcase_add_test(tc, ambiguous_framing_gets_one_400);
    tcase_add_test(tc, server_log_stays_json);
    return s;
}

int main(int argc, char **argv)
{
    /* `test_hostile_requests serve ARGS`: the server under test, fake
     * aligner inside (see tests/server_harness.c). */
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return kga_cmd_serve(argc - 1, argv + 1);
    make_fixture(NULL);
    int rc = kga_test_run(hostile_suite);
    remove_fixture();
    return rc;
}
