/* The wire format: request decoding (the cases as data in
 * tests/fixtures/proto/decode.test, plus the ones that need long or binary
 * bodies here), response encoding (round trips through jansson, golden
 * bodies in tests/fixtures/proto/ that also validate against
 * proto/openapi.yaml), escaping of control characters and invalid UTF-8, the
 * error body, and the bytes of `kgalign eval --json`. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/eval_json.h"
#include "proto/wire.h"

#include "testutil.h"

#define FIXTURES "tests/fixtures/proto"
/* Pairs in align_request_batch.json, results in align_response.json. */
#define N_ALIGN_RESULTS_FIXTURE 5

static const kga_wire_limits_t fixture_limits = {4096, 4};
static const kga_wire_limits_t default_limits = {1 << 20, 1024};

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* Parses a body the encoders wrote, as strictly as the clients may: no
 * invalid UTF-8, no raw control characters, no duplicate keys. */
static json_t *parse_strict(const char *buf, size_t len)
{
    json_error_t je;
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(v != NULL, "encoder wrote invalid JSON: %s at byte %d: %.*s",
                  je.text, je.position, (int)len, buf);
    return v;
}

static json_t *load_fixture(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
    json_error_t je;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(v != NULL, "%s: %s (line %d)", path, je.text, je.line);
    return v;
}

static void assert_json_equal(json_t *got, json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_SORT_KEYS);
        ck_abort_msg("JSON differs:\n got  %s\n want %s", g, w);
    }
}

static const char *str_at(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_string(v), "%s: not a string", key);
    return json_string_value(v);
}

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

/* Decodes body at the given limits and checks the error. */
static void expect_align_error(const char *body, size_t len,
                               const kga_wire_limits_t *limits, int status,
                               const char *code, const char *message)
{
    kga_align_request_t req;
    kga_wire_error_t err;
    int rc = kga_align_request_parse(&req, body, len, limits, &err);
    ck_assert_int_eq(rc, status);
    ck_assert_int_eq(err.status, status);
    ck_assert_str_eq(err.code, code);
    ck_assert_str_eq(err.message, message);
    ck_assert_ptr_null(req.pairs);
    ck_assert_uint_eq(req.n_pairs, 0);
    kga_align_request_destroy(&req);
}

/* ------------------------------------------------------------------------
 * Decoding: the cases of decode.test
 * ------------------------------------------------------------------------ */

typedef struct {
    int line;
    char *endpoint, *body, *expect;
} decode_case_t;

static decode_case_t *decode_cases;
static int n_cases;

static char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        abort();
    return p;
}

/* Reads decode.test into cases[]: three consecutive lines per case, comments
 * and blank lines between cases. Exits on a malformed file. */
static void load_decode_cases(void)
{
    const char *path = FIXTURES "/decode.test";
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    char *lines[3];
    int have = 0, lineno = 0, first = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    for (;;) {
        n = getline(&line, &cap, f);
        if (n >= 0) {
            lineno++;
            if (n > 0 && line[n - 1] == '\n')
                line[--n] = '\0';
        }
        int blank = n <= 0 || line[0] == '\0';
        if (n >= 0 && !blank && !(have == 0 && line[0] == '#')) {
            if (have == 3) {
                fprintf(stderr, "%s:%d: case longer than 3 lines\n", path,
                        lineno);
                exit(1);
            }
            if (have == 0)
                first = lineno;
            lines[have++] = xstrndup(line, (size_t)n);
            continue;
        }
        if (have == 3) {
            decode_cases = realloc(decode_cases, (size_t)(n_cases + 1) * sizeof *decode_cases);
            if (decode_cases == NULL)
                abort();
            decode_cases[n_cases++] = (decode_case_t){first, lines[0], lines[1],
                                               lines[2]};
            have = 0;
        } else if (have != 0) {
            fprintf(stderr, "%s:%d: case of %d lines, expected 3\n", path,
                    first, have);
            exit(1);
        }
        if (n < 0)
            break;
    }
    free(line);
    fclose(f);
    if (n_cases < 50) {
        fprintf(stderr, "%s: only %d cases\n", path, n_cases);
        exit(1);
    }
}

static void free_decode_cases(void)
{
    for (int i = 0; i < n_cases; i++) {
        free(decode_cases[i].endpoint);
        free(decode_cases[i].body);
        free(decode_cases[i].expect);
    }
    free(decode_cases);
}

/* An entity of a decoded request: its id, or for one described inline
 * {"id", "attributes": [[key, value]], "edges": [[relation, neighbour,
 * "in"|"out"]]}. */
static json_t *entity_json(const char *id, const kga_inline_desc_t *d)
{
    if (d == NULL)
        return json_string(id);
    ck_assert_str_eq(d->id, id);
    json_t *attrs = json_array(), *edges = json_array();
    for (size_t i = 0; i < d->n_attrs; i++)
        json_array_append_new(attrs, json_pack("[ss]", d->attrs[i].key,
                                               d->attrs[i].value));
    for (size_t i = 0; i < d->n_edges; i++)
        json_array_append_new(
            edges, json_pack("[sss]", d->edges[i].relation,
                             d->edges[i].neighbour,
                             d->edges[i].dir == KGA_DIR_IN ? "in" : "out"));
    return json_pack("{s:s, s:o, s:o}", "id", id, "attributes", attrs,
                     "edges", edges);
}

static json_t *align_request_json(const kga_align_request_t *req)
{
    json_t *pairs = json_array();
    size_t described = 0;
    for (size_t i = 0; i < req->n_pairs; i++) {
        const kga_wire_pair_t *p = &req->pairs[i];
        described += (p->left_inline != NULL) + (p->right_inline != NULL);
        json_array_append_new(
            pairs, json_pack("[oo]", entity_json(p->left, p->left_inline),
                             entity_json(p->right, p->right_inline)));
    }
    ck_assert_uint_eq(req->n_inline, described);
    return json_pack("{s:b, s:b, s:o}", "batch", req->batch, "explain",
                     req->explain, "pairs", pairs);
}

static json_t *match_request_json(const kga_match_request_t *req)
{
    return json_pack("{s:s, s:o, s:I, s:b}", "side",
                     req->side == KGA_SIDE_LEFT ? "left" : "right", "id",
                     entity_json(req->id, req->inline_desc), "k",
                     (json_int_t)req->k, "explain", req->explain);
}

START_TEST(decode_fixture_case)
{
    const decode_case_t *c = &decode_cases[_i];
    int is_align = strcmp(c->endpoint, "align") == 0;
    ck_assert_msg(is_align || strcmp(c->endpoint, "match") == 0,
                  "decode.test:%d: endpoint '%s'", c->line, c->endpoint);
    kga_align_request_t areq;
    kga_match_request_t mreq;
    kga_wire_error_t err;
    size_t len = strlen(c->body);
    int rc = is_align ? kga_align_request_parse(&areq, c->body, len,
                                                &fixture_limits, &err)
                      : kga_match_request_parse(&mreq, c->body, len,
                                                &fixture_limits, &err);
    if (strncmp(c->expect, "ok ", 3) == 0) {
        ck_assert_msg(rc == 0, "decode.test:%d: status %d: %s %s", c->line,
                      rc, err.code, err.message);
        ck_assert_int_eq(err.status, 0);
        json_error_t je;
        json_t *want = json_loads(c->expect + 3, JSON_REJECT_DUPLICATES, &je);
        ck_assert_msg(want != NULL, "decode.test:%d: %s", c->line, je.text);
        json_t *got =
            is_align ? align_request_json(&areq) : match_request_json(&mreq);
        if (!json_equal(got, want))
            ck_abort_msg("decode.test:%d: got %s", c->line,
                         json_dumps(got, JSON_SORT_KEYS));
        json_decref(got);
        json_decref(want);
    } else {
        int status;
        char code[64];
        int off = 0;
        ck_assert_msg(sscanf(c->expect, "%d %63s %n", &status, code, &off) ==
                              2 &&
                          off > 0,
                      "decode.test:%d: bad expectation", c->line);
        const char *msg = c->expect + off;
        ck_assert_msg(rc == status, "decode.test:%d: status %d, want %d (%s)",
                      c->line, rc, status, err.message);
        ck_assert_int_eq(err.status, status);
        ck_assert_msg(strcmp(err.code, code) == 0,
                      "decode.test:%d: code %s, want %s", c->line, err.code,
                      code);
        size_t mlen = strlen(msg);
        if (mlen >= 3 && strcmp(msg + mlen - 3, "...") == 0)
            ck_assert_msg(strncmp(err.message, msg, mlen - 3) == 0,
                          "decode.test:%d:\n got  %s\n want %s", c->line,
                          err.message, msg);
        else
            ck_assert_msg(strcmp(err.message, msg) == 0,
                          "decode.test:%d:\n got  %s\n want %s", c->line,
                          err.message, msg);
    }
    if (is_align)
        kga_align_request_destroy(&areq);
    else
        kga_match_request_destroy(&mreq);
}
END_TEST

/* Reads a fixture file into a malloc'd buffer. */
static char *read_fixture(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: cannot open", path);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* The request examples are the requests of the response examples. */
START_TEST(request_examples_decode)
{
    size_t len;
    kga_wire_error_t err;
    kga_align_request_t req;
    char *body = read_fixture("align_request_batch.json", &len);
    ck_assert_int_eq(
        kga_align_request_parse(&req, body, len, &default_limits, &err), 0);
    ck_assert_uint_eq(req.n_pairs, N_ALIGN_RESULTS_FIXTURE);
    ck_assert_int_eq(req.explain, 1);
    json_t *resp = load_fixture("align_response.json");
    json_t *results = json_object_get(resp, "results");
    for (size_t i = 0; i < req.n_pairs; i++) {
        json_t *r = json_array_get(results, i);
        ck_assert_str_eq(req.pairs[i].left, str_at(r, "left"));
        ck_assert_str_eq(req.pairs[i].right, str_at(r, "right"));
    }
    json_decref(resp);
    kga_align_request_destroy(&req);
    free(body);

    body = read_fixture("align_request_single.json", &len);
    ck_assert_int_eq(
        kga_align_request_parse(&req, body, len, &default_limits, &err), 0);
    ck_assert_int_eq(req.batch, 0);
    ck_assert_str_eq(req.pairs[0].left, "http://l/Alice");
    kga_align_request_destroy(&req);
    free(body);

    kga_match_request_t mreq;
    body = read_fixture("match_request.json", &len);
    ck_assert_int_eq(
        kga_match_request_parse(&mreq, body, len, &default_limits, &err), 0);
    ck_assert_int_eq(mreq.side, KGA_SIDE_LEFT);
    ck_assert_str_eq(mreq.id, "http://l/Alice");
    ck_assert_uint_eq(mreq.k, 3);
    kga_match_request_destroy(&mreq);
    free(body);

    /* The inline examples (proto/openapi.yaml): the entity is described. */
    body = read_fixture("match_request_inline.json", &len);
    ck_assert_int_eq(
        kga_match_request_parse(&mreq, body, len, &default_limits, &err), 0);
    ck_assert_ptr_nonnull(mreq.inline_desc);
    ck_assert_str_eq(mreq.id, "new:film-42");
    ck_assert_uint_eq(mreq.inline_desc->n_attrs, 2);
    ck_assert_uint_eq(mreq.inline_desc->n_edges, 2);
    ck_assert_int_eq(mreq.inline_desc->edges[0].dir, KGA_DIR_IN);
    kga_match_request_destroy(&mreq);
    free(body);
    body = read_fixture("align_request_inline.json", &len);
    ck_assert_int_eq(
        kga_align_request_parse(&req, body, len, &default_limits, &err), 0);
    ck_assert_uint_eq(req.n_inline, 1);
    ck_assert_ptr_nonnull(req.pairs[0].left_inline);
    ck_assert_ptr_null(req.pairs[0].right_inline);
    json_t *resp_inline = load_fixture("align_response_inline.json");
    json_t *res0 = json_array_get(json_object_get(resp_inline, "results"), 0);
    ck_assert_str_eq(req.pairs[0].left, str_at(res0, "left"));
    ck_assert_str_eq(req.pairs[0].right, str_at(res0, "right"));
    json_decref(resp_inline);
    kga_align_request_destroy(&req);
    free(body);
}
END_TEST

/* ------------------------------------------------------------------------
 * Decoding: long, empty and binary bodies
 * ------------------------------------------------------------------------ */

START_TEST(empty_body_is_400)
{
    expect_align_error("", 0, &default_limits, 400, "bad_request",
                       "body: empty, expected a JSON object");
    kga_match_request_t req;
    kga_wire_error_t err;
    ck_assert_int_eq(kga_match_request_parse(&req, NULL, 0, &default_limits,
                                             &err),
                     400);
    kga_match_request_destroy(&req);
}
END_TEST

START_TEST(body_over_limit_is_413)
{
    const char *body = "{\"left\": \"a\", \"right\": \"b\"}";
    size_t len = strlen(body);
    kga_wire_limits_t limits = {len - 1, 10};
    char msg[128];
    snprintf(msg, sizeof msg, "body: %zu bytes exceed the limit of %zu bytes",
             len, len - 1);
    expect_align_error(body, len, &limits, 413, "payload_too_large", msg);
    limits.max_body_bytes = len;
    kga_align_request_t req;
    kga_wire_error_t err;
    ck_assert_int_eq(kga_align_request_parse(&req, body, len, &limits, &err),
                     0);
    kga_align_request_destroy(&req);
}
END_TEST

START_TEST(id_length_limit)
{
    char *id = repeat('x', KGA_WIRE_ID_MAX);
    size_t cap = 2 * KGA_WIRE_ID_MAX + 200;
    char *body = malloc(cap);
    kga_align_request_t req;
    kga_wire_error_t err;

    /* Exactly the limit is fine. */
    int len = snprintf(body, cap, "{\"left\": \"%s\", \"right\": \"b\"}", id);
    ck_assert_int_eq(kga_align_request_parse(&req, body, (size_t)len,
                                             &default_limits, &err),
                     0);
    ck_assert_uint_eq(strlen(req.pairs[0].left), KGA_WIRE_ID_MAX);
    kga_align_request_destroy(&req);

    /* One byte more is a 400 naming the field. */
    free(id);
    id = repeat('x', KGA_WIRE_ID_MAX + 1);
    len = snprintf(body, cap, "{\"left\": \"a\", \"right\": \"%s\"}", id);
    expect_align_error(body, (size_t)len, &default_limits, 400, "bad_request",
                       "right: id is 4097 bytes, longer than the limit of "
                       "4096");
    len = snprintf(body, cap,
                   "{\"pairs\": [{\"left\": \"a\", \"right\": \"b\"}, "
                   "{\"left\": \"%s\", \"right\": \"b\"}]}",
                   id);
    expect_align_error(body, (size_t)len, &default_limits, 400, "bad_request",
                       "pairs[1].left: id is 4097 bytes, longer than the "
                       "limit of 4096");
    kga_match_request_t mreq;
    len = snprintf(body, cap, "{\"right\": \"%s\"}", id);
    ck_assert_int_eq(kga_match_request_parse(&mreq, body, (size_t)len,
                                             &default_limits, &err),
                     400);
    ck_assert_str_eq(err.message,
                     "right: id is 4097 bytes, longer than the limit of 4096");
    kga_match_request_destroy(&mreq);

    /* The limit counts bytes, not characters: 2049 two-byte characters. */
    char *wide = malloc(2 * 2049 + 1);
    for (int i = 0; i < 2049; i++)
        memcpy(wide + 2 * i, "\xC3\xA9", 2);
    wide[2 * 2049] = '\0';
    len = snprintf(body, cap, "{\"left\": \"%s\", \"right\": \"b\"}", wide);
    expect_align_error(body, (size_t)len, &default_limits, 400, "bad_request",
                       "left: id is 4098 bytes, longer than the limit of "
                       "4096");
    free(wide);
    free(id);
    free(body);
}
END_TEST

/* Builds {"pairs": [n pairs]} with ids "l<i>" and "r<i>". */
static char *batch_body(size_t n, size_t *len)
{
    size_t cap = 32 + n * 48;
    char *body = malloc(cap);
    size_t off = (size_t)snprintf(body, cap, "{\"pairs\": [");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(body + off, cap - off,
                                "%s{\"left\": \"l%zu\", \"right\": \"r%zu\"}",
                                i > 0 ? ", " : "", i, i);
    off += (size_t)snprintf(body + off, cap - off, "]}");
    *len = off;
    return body;
}

START_TEST(max_pairs_boundary)
{
    size_t len;
    char *body = batch_body(1024, &len);
    kga_align_request_t req;
    kga_wire_error_t err;
    ck_assert_int_eq(
        kga_align_request_parse(&req, body, len, &default_limits, &err), 0);
    ck_assert_uint_eq(req.n_pairs, 1024);
    ck_assert_int_eq(req.batch, 1);
    for (size_t i = 0; i < req.n_pairs; i++) {
        char l[32], r[32];
        snprintf(l, sizeof l, "l%zu", i);
        snprintf(r, sizeof r, "r%zu", i);
        ck_assert_str_eq(req.pairs[i].left, l);
        ck_assert_str_eq(req.pairs[i].right, r);
    }
    kga_align_request_destroy(&req);
    free(body);

    body = batch_body(1025, &len);
    expect_align_error(body, len, &default_limits, 413, "payload_too_large",
                       "pairs: 1025 pairs exceed the limit of 1024");
    free(body);
}
END_TEST

/* A batch of n pairs whose left sides are described inline, each with
 * `attrs` attributes and `edges` edges. */
static char *inline_batch_body(size_t n, size_t attrs, size_t edges,
                               size_t *len)
{
    size_t cap = 256 + n * (64 + attrs * 24 + edges * 64);
    char *body = malloc(cap);
    size_t off = (size_t)snprintf(body, cap, "{\"pairs\": [");
    for (size_t i = 0; i < n; i++) {
        off += (size_t)snprintf(body + off, cap - off,
                                "%s{\"left\": {\"id\": \"new%zu\", "
                                "\"attributes\": [",
                                i > 0 ? ", " : "", i);
        for (size_t a = 0; a < attrs; a++)
            off += (size_t)snprintf(body + off, cap - off, "%s[\"k\", \"v%zu\"]",
                                    a > 0 ? ", " : "", a);
        off += (size_t)snprintf(body + off, cap - off, "], \"edges\": [");
        for (size_t e = 0; e < edges; e++)
            off += (size_t)snprintf(body + off, cap - off,
                                    "%s{\"relation\": \"r\", \"neighbour\": "
                                    "\"n%zu\", \"direction\": \"out\"}",
                                    e > 0 ? ", " : "", e);
        off += (size_t)snprintf(body + off, cap - off,
                                "]}, \"right\": \"r%zu\"}", i);
    }
    off += (size_t)snprintf(body + off, cap - off, "]}");
    *len = off;
    return body;
}

START_TEST(inline_entity_limits)
{
    kga_wire_limits_t big = {64u << 20, 1024};
    size_t len;
    kga_align_request_t req;
    kga_wire_error_t err;
    /* At the limit of 64 entities; the copy holds every string and
     * pointer. */
    char *body = inline_batch_body(KGA_WIRE_INLINE_MAX, 3, 2, &len);
    ck_assert_int_eq(kga_align_request_parse(&req, body, len, &big, &err), 0);
    ck_assert_uint_eq(req.n_inline, KGA_WIRE_INLINE_MAX);
    const kga_inline_desc_t *d = req.pairs[63].left_inline;
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->id, "new63");
    ck_assert_uint_eq(d->n_attrs, 3);
    ck_assert_str_eq(d->attrs[2].value, "v2");
    ck_assert_uint_eq(d->n_edges, 2);
    ck_assert_str_eq(d->edges[1].neighbour, "n1");
    ck_assert_int_eq(d->edges[1].dir, KGA_DIR_OUT);
    ck_assert_str_eq(req.pairs[63].right, "r63");
    ck_assert_ptr_null(req.pairs[63].right_inline);
    kga_align_request_destroy(&req);
    free(body);

    body = inline_batch_body(KGA_WIRE_INLINE_MAX + 1, 1, 1, &len);
    expect_align_error(body, len, &big, 413, "payload_too_large",
                       "body: 65 entities described inline exceed the limit "
                       "of 64 per request");
    free(body);

    body = inline_batch_body(1, KGA_INLINE_MAX_ATTRS, 0, &len);
    ck_assert_int_eq(kga_align_request_parse(&req, body, len, &big, &err), 0);
    ck_assert_uint_eq(req.pairs[0].left_inline->n_attrs,
                      KGA_INLINE_MAX_ATTRS);
    kga_align_request_destroy(&req);
    free(body);
    body = inline_batch_body(1, KGA_INLINE_MAX_ATTRS + 1, 0, &len);
    expect_align_error(body, len, &big, 413, "payload_too_large",
                       "pairs[0].left.attributes: 4097 attributes exceed the "
                       "limit of 4096");
    free(body);
    body = inline_batch_body(1, 0, KGA_INLINE_MAX_EDGES + 1, &len);
    expect_align_error(body, len, &big, 413, "payload_too_large",
                       "pairs[0].left.edges: 65537 edges exceed the limit of "
                       "65536");
    free(body);
}
END_TEST

START_TEST(brackets_inside_strings_do_not_count_as_nesting)
{
    const char *body = "{\"left\": \"[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{\", "
                       "\"right\": \"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[\"}";
    kga_align_request_t req;
    kga_wire_error_t err;
    ck_assert_int_eq(kga_align_request_parse(&req, body, strlen(body),
                                             &default_limits, &err),
                     0);
    ck_assert_str_eq(req.pairs[0].left, "[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{");
    ck_assert_str_eq(req.pairs[0].right, "\"[[[[[[[[[[[[[[[[[[[[[[[[[[");
    kga_align_request_destroy(&req);

    /* Exactly the limit of nesting parses (and fails on shape, not depth). */
    char deep[2 * KGA_WIRE_DEPTH_MAX + 1];
    for (int i = 0; i < KGA_WIRE_DEPTH_MAX; i++) {
        deep[i] = '[';
        deep[2 * KGA_WIRE_DEPTH_MAX - 1 - i] = ']';
    }
    expect_align_error(deep, 2 * KGA_WIRE_DEPTH_MAX, &default_limits, 400,
                       "bad_request", "body: expected a JSON object, got an "
                                      "array");
}
END_TEST

START_TEST(invalid_utf8_and_nul_bytes_in_body_are_400)
{
    static const char *const bodies[] = {
        "{\"left\": \"\xC3\", \"right\": \"b\"}",
        "{\"left\": \"a\xFF\", \"right\": \"b\"}",
        "{\"left\": \"\xED\xA0\x80\", \"right\": \"b\"}",
        "{\"left\": \"a\", \"right\": \"b\x01\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        kga_align_request_t req;
        kga_wire_error_t err;
        ck_assert_int_eq(kga_align_request_parse(&req, bodies[i],
                                                 strlen(bodies[i]),
                                                 &default_limits, &err),
                         400);
        ck_assert_msg(strncmp(err.message, "body: malformed JSON at line 1",
                              30) == 0,
                      "%s", err.message);
        kga_align_request_destroy(&req);
    }
    /* A NUL byte in the body, outside any string. */
    const char body[] = "{\"left\": \"a\",\0 \"right\": \"b\"}";
    kga_align_request_t req;
    kga_wire_error_t err;
    ck_assert_int_eq(kga_align_request_parse(&req, body, sizeof body - 1,
                                             &default_limits, &err),
                     400);
    kga_align_request_destroy(&req);
}
END_TEST

START_TEST(destroy_is_idempotent)
{
    kga_align_request_t req;
    kga_wire_error_t err;
    const char *body = "{\"left\": \"a\", \"right\": \"b\"}";
    ck_assert_int_eq(kga_align_request_parse(&req, body, strlen(body),
                                             &default_limits, &err),
                     0);
    kga_align_request_destroy(&req);
    kga_align_request_destroy(&req);
    kga_align_request_destroy(NULL);
    kga_match_request_destroy(NULL);
}
END_TEST

/* Mutated bodies: every outcome is a clean 0, 400 or 413, and a success has
 * the promised shape. Under ASan this also checks the memory. */
START_TEST(mutated_bodies_never_crash)
{
    static const char *const seeds[] = {
        "{\"pairs\": [{\"left\": \"a\", \"right\": \"b\"}, {\"left\": \"c\", "
        "\"right\": \"d\"}], \"explain\": true}",
        "{\"left\": \"x\\u00e9\", \"right\": \"y\\\"z\", \"explain\": false}",
        "{\"left\": \"a\", \"k\": 12}",
    };
    static const char alphabet[] = "{}[]\",:\\ 0123456789eE.-+tfnul\xC3\xA9\x80";
    unsigned long long state = 42;
    char buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        const char *seed = seeds[iter % 3];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int edits = 1 + iter % 4;
        for (int e = 0; e < edits; e++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = (size_t)(state >> 33) % (len + 1);
            char ch = alphabet[(state >> 20) % (sizeof alphabet - 1)];
            switch ((state >> 10) % 3) {
            case 0: /* replace */
                if (pos < len)
                    buf[pos] = ch;
                break;
            case 1: /* insert */
                if (len + 1 < sizeof buf) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = ch;
                    len++;
                }
                break;
            default: /* delete */
                if (pos < len) {
                    memmove(buf + pos, buf + pos + 1, len - pos - 1);
                    len--;
                }
                break;
            }
        }
        kga_wire_limits_t limits = {256, 2};
        kga_align_request_t areq;
        kga_match_request_t mreq;
        kga_wire_error_t err;
        int rc = kga_align_request_parse(&areq, buf, len, &limits, &err);
        ck_assert(rc == 0 || rc == 400 || rc == 413);
        if (rc == 0) {
            ck_assert(areq.n_pairs >= 1 && areq.n_pairs <= 2);
            for (size_t i = 0; i < areq.n_pairs; i++)
                ck_assert(areq.pairs[i].left[0] != '\0' &&
                          areq.pairs[i].right[0] != '\0');
        } else {
            ck_assert_int_eq(err.status, rc);
            ck_assert(err.message[0] != '\0');
        }
        kga_align_request_destroy(&areq);
        rc = kga_match_request_parse(&mreq, buf, len, &limits, &err);
        ck_assert(rc == 0 || rc == 400 || rc == 413);
        if (rc == 0)
            ck_assert(mreq.k >= 1 && mreq.k <= 1000 && mreq.id[0] != '\0');
        kga_match_request_destroy(&mreq);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------ */

/* One item of each kind: the names (both names, then none), a known link
 * with names and relation URIs, a mutual best match without names. */
static const kga_wire_evidence_t evidence[] = {
    {.kind = KGA_EVIDENCE_NAMES, .left_name = "Alice Zürich",
     .right_name = "Alice", .weight = 0.93f},
    {.kind = KGA_EVIDENCE_KNOWN_LINK, .left_neighbour = "http://l/Zürich",
     .right_neighbour = "http://r/Zurich", .left_name = "Zürich",
     .right_name = "Zurich", .left_relation = "http://l/prop/livesIn",
     .right_relation = "http://r/ontology#residence",
     .left_dir = KGA_DIR_OUT, .right_dir = KGA_DIR_OUT, .weight = 1.0f},
    {.kind = KGA_EVIDENCE_MUTUAL_BEST, .left_neighbour = "http://l/Bob",
     .right_neighbour = "http://r/Robert", .left_name = NULL,
     .right_name = "", .left_relation = "knows", .right_relation = "friendOf",
     .left_dir = KGA_DIR_IN, .right_dir = KGA_DIR_OUT, .weight = 0.1f},
    {.kind = KGA_EVIDENCE_NAMES, .weight = 0.0f},
    {.kind = KGA_EVIDENCE_PSEUDO_SEED, .left_neighbour = "http://l/Carol2",
     .right_neighbour = "http://r/Dave2", .left_name = "Carol \"C\"",
     .right_name = "Dave", .left_relation = "http://l/p/",
     .right_relation = "sibling", .left_dir = KGA_DIR_IN,
     .right_dir = KGA_DIR_IN, .weight = 0.75f},
};

/* What the "summary" of each item of evidence[] reads. */
static const char *const summaries[] = {
    "names: 0.93 similar",
    "known link (1.00): -livesIn-> \"Zürich\" = -residence-> \"Zurich\"",
    "mutual best match (0.10): <-knows- \"http://l/Bob\" = -friendOf-> "
    "\"http://r/Robert\"",
    "names: 0.00 similar",
    "pseudo-seed (0.75): <-http://l/p/- \"Carol \"C\"\" = <-sibling- "
    "\"Dave\"",
};

static const kga_align_result_t align_results[] = {
    {"http://l/Alice", "http://r/Alice", 0, {0.125f, 0.9f, 1}, evidence, 3, {0, 0, 0}},
    {"http://l/Nobody", "http://r/Alice", KGA_WIRE_UNKNOWN_LEFT, {0, 0, 0},
     NULL, 0, {0, 0, 0}},
    {"http://l/Alice", "http://r/Nobody", KGA_WIRE_UNKNOWN_RIGHT, {0, 0, 0},
     NULL, 0, {0, 0, 0}},
    {"L?", "R?", KGA_WIRE_UNKNOWN_LEFT | KGA_WIRE_UNKNOWN_RIGHT, {0, 0, 0},
     NULL, 0, {0, 0, 0}},
    {"http://l/Carol", "http://r/Dave", 0, {3.5f, 1e-6f, 0}, evidence + 3, 2, {0, 0, 0}},
};
#define N_ALIGN_RESULTS (sizeof align_results / sizeof align_results[0])
_Static_assert(N_ALIGN_RESULTS == N_ALIGN_RESULTS_FIXTURE,
               "align_results[] mirrors the fixture");

static const kga_wire_meta_t meta = {"req-1", "9c1e5b7a33d2f018"};

/* A name that the encoder writes: present and equal when it is not
 * empty, absent when it is. */
static void assert_name(json_t *e, const char *key, const char *want)
{
    if (want == NULL || want[0] == '\0')
        ck_assert_msg(json_object_get(e, key) == NULL, "%s is not absent",
                      key);
    else
        ck_assert_str_eq(str_at(e, key), want);
}

/* An item of an explanation against what was encoded. */
static void assert_evidence(json_t *e, const kga_wire_evidence_t *w,
                            const char *summary)
{
    ck_assert_str_eq(str_at(e, "summary"), summary);
    assert_name(e, "left_name", w->left_name);
    assert_name(e, "right_name", w->right_name);
    if (w->kind == KGA_EVIDENCE_NAMES) {
        ck_assert_str_eq(str_at(e, "kind"), "names");
        ck_assert((float)kga_test_num(e, "similarity") == w->weight);
        ck_assert_ptr_null(json_object_get(e, "weight"));
        ck_assert_ptr_null(json_object_get(e, "left_neighbour"));
        return;
    }
    static const char *const link[] = {"", "known", "pseudo_seed",
                                       "mutual_best"};
    ck_assert_str_eq(str_at(e, "kind"), "neighbours");
    ck_assert_str_eq(str_at(e, "link"), link[w->kind]);
    ck_assert_str_eq(str_at(e, "left_neighbour"), w->left_neighbour);
    ck_assert_str_eq(str_at(e, "right_neighbour"), w->right_neighbour);
    ck_assert_str_eq(str_at(e, "left_relation"), w->left_relation);
    ck_assert_str_eq(str_at(e, "right_relation"), w->right_relation);
    ck_assert_str_eq(str_at(e, "left_direction"),
                     w->left_dir == KGA_DIR_IN ? "in" : "out");
    ck_assert_str_eq(str_at(e, "right_direction"),
                     w->right_dir == KGA_DIR_IN ? "in" : "out");
    ck_assert((float)kga_test_num(e, "weight") == w->weight);
}

START_TEST(align_response_round_trip)
{
    for (int explain = 0; explain <= 1; explain++) {
        char *out;
        size_t len;
        ck_assert_int_eq(kga_align_response_format(&meta, align_results,
                                                   N_ALIGN_RESULTS, explain,
                                                   &out, &len),
                         0);
        ck_assert_uint_eq(strlen(out), len);
        json_t *doc = parse_strict(out, len);
        ck_assert_str_eq(str_at(doc, "request_id"), "req-1");
        ck_assert_str_eq(str_at(doc, "model_version"), "9c1e5b7a33d2f018");
        json_t *results = json_object_get(doc, "results");
        ck_assert_uint_eq(json_array_size(results), N_ALIGN_RESULTS);
        for (size_t i = 0; i < N_ALIGN_RESULTS; i++) {
            const kga_align_result_t *want = &align_results[i];
            json_t *r = json_array_get(results, i);
            ck_assert_str_eq(str_at(r, "left"), want->left);
            ck_assert_str_eq(str_at(r, "right"), want->right);
            if (want->unknown != 0) {
                ck_assert_uint_eq(json_object_size(r), 3);
                json_t *e = json_object_get(r, "error");
                ck_assert_str_eq(str_at(e, "code"), "unknown_id");
                ck_assert_uint_eq(json_object_size(e), 2);
                continue;
            }
            /* Floats come back exactly, read as floats. */
            ck_assert((float)kga_test_num(r, "distance") ==
                      want->score.distance);
            ck_assert((float)kga_test_num(r, "probability") ==
                      want->score.probability);
            ck_assert(json_is_boolean(json_object_get(r, "match")));
            ck_assert_int_eq(json_is_true(json_object_get(r, "match")),
                             want->score.match);
            json_t *ex = json_object_get(r, "explanation");
            if (!explain) {
                ck_assert_ptr_null(ex);
                continue;
            }
            ck_assert_uint_eq(json_array_size(ex), want->n_evidence);
            for (size_t j = 0; j < want->n_evidence; j++)
                assert_evidence(json_array_get(ex, j), &want->evidence[j],
                                summaries[want->evidence - evidence + j]);
        }
        json_decref(doc);
        free(out);
    }
}
END_TEST

START_TEST(align_response_matches_golden)
{
    char *out;
    size_t len;
    ck_assert_int_eq(kga_align_response_format(&meta, align_results,
                                               N_ALIGN_RESULTS, 1, &out,
                                               &len),
                     0);
    json_t *got = parse_strict(out, len);
    json_t *want = load_fixture("align_response.json");
    assert_json_equal(got, want);
    json_decref(got);
    json_decref(want);
    free(out);
}
END_TEST

START_TEST(small_align_response_bytes)
{
    /* The exact bytes: compact, keys in contract order, %.9g floats. */
    kga_align_result_t r = {"a", "b", 0, {0.5f, 0.25f, 0}, NULL, 0, {0, 0, 0}};
    kga_wire_meta_t m = {"r", "0123456789abcdef"};
    char *out;
    size_t len;
    ck_assert_int_eq(kga_align_response_format(&m, &r, 1, 0, &out, &len), 0);
    ck_assert_str_eq(out, "{\"request_id\":\"r\",\"model_version\":"
                          "\"0123456789abcdef\",\"results\":[{\"left\":"
                          "\"a\",\"right\":\"b\",\"distance\":0.5,"
                          "\"probability\":0.25,\"match\":false}]}");
    ck_assert_uint_eq(len, strlen(out));
    free(out);
}
END_TEST

START_TEST(match_response_round_trip)
{
    const kga_match_candidate_t cands[] = {
        {"http://r/Alice", {0.125f, 0.875f, 1}, evidence, 2},
        {"http://r/Alicia", {0.75f, 0.3f, 0}, evidence + 3, 1},
        {"http://r/\xE6\x9D\xB1\xE4\xBA\xAC", {2.0f, 0.0f, 0}, NULL, 0},
    };
    char *out;
    size_t len;
    ck_assert_int_eq(kga_match_response_format(&meta, KGA_SIDE_LEFT,
                                               "http://l/Alice", NULL, cands, 3, 0,
                                               &out, &len),
                     0);
    json_t *got = parse_strict(out, len);
    json_t *want = load_fixture("match_response.json");
    assert_json_equal(got, want);
    json_t *c = json_array_get(json_object_get(got, "candidates"), 1);
    ck_assert((float)kga_test_num(c, "probability") == 0.3f);
    ck_assert_ptr_null(json_object_get(c, "explanation"));
    ck_assert_str_eq(out + len, ""); /* NUL-terminated */
    json_decref(got);
    json_decref(want);
    free(out);

    /* With explanations: each candidate's, in order; [] for none. */
    ck_assert_int_eq(kga_match_response_format(&meta, KGA_SIDE_LEFT,
                                               "http://l/Alice", NULL, cands, 3, 1,
                                               &out, &len),
                     0);
    got = parse_strict(out, len);
    want = load_fixture("match_response_explained.json");
    assert_json_equal(got, want);
    json_t *cs = json_object_get(got, "candidates");
    for (size_t i = 0; i < 3; i++) {
        json_t *ex = json_object_get(json_array_get(cs, i), "explanation");
        ck_assert_uint_eq(json_array_size(ex), cands[i].n_evidence);
        for (size_t j = 0; j < cands[i].n_evidence; j++)
            assert_evidence(json_array_get(ex, j), &cands[i].evidence[j],
                            summaries[cands[i].evidence - evidence + j]);
    }
    json_decref(got);
    json_decref(want);
    free(out);

    /* No candidates, right side. */
    ck_assert_int_eq(kga_match_response_format(&meta, KGA_SIDE_RIGHT, "x", NULL,
                                               NULL, 0, 0, &out, &len),
                     0);
    got = parse_strict(out, len);
    ck_assert_str_eq(str_at(json_object_get(got, "query"), "side"), "right");
    ck_assert_uint_eq(json_array_size(json_object_get(got, "candidates")), 0);
    json_decref(got);
    free(out);
}
END_TEST

START_TEST(non_finite_numbers_are_null)
{
    kga_align_result_t r = {"a", "b", 0, {INFINITY, NAN, 0}, NULL, 0, {0, 0, 0}};
    char *out;
    size_t len;
    ck_assert_int_eq(kga_align_response_format(&meta, &r, 1, 0, &out, &len),
                     0);
    json_t *doc = parse_strict(out, len);
    json_t *res = json_array_get(json_object_get(doc, "results"), 0);
    ck_assert(json_is_null(json_object_get(res, "distance")));
    ck_assert(json_is_null(json_object_get(res, "probability")));
    json_decref(doc);
    free(out);
}
END_TEST

/* Encodes s as the query id of a /match response and returns the id as a
 * client reads it back (malloc'd), and the raw JSON text of the body. */
static char *echo_id(const char *s, char **raw)
{
    char *out;
    size_t len;
    ck_assert_int_eq(kga_match_response_format(&meta, KGA_SIDE_LEFT, s, NULL, NULL,
                                               0, 0, &out, &len),
                     0);
    json_t *doc = parse_strict(out, len);
    char *id = strdup(str_at(json_object_get(doc, "query"), "id"));
    json_decref(doc);
    if (raw != NULL)
        *raw = out;
    else
        free(out);
    return id;
}

START_TEST(control_characters_are_escaped)
{
    char s[40];
    for (int i = 1; i < 32; i++)
        s[i - 1] = (char)i;
    memcpy(s + 31, "\"\\/\x7F", 5);
    char *raw;
    char *id = echo_id(s, &raw);
    ck_assert_str_eq(id, s);
    ck_assert_ptr_nonnull(strstr(
        raw, "\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n"
             "\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014"
             "\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c"
             "\\u001d\\u001e\\u001f\\\"\\\\/\x7F\""));
    free(id);
    free(raw);
}
END_TEST

START_TEST(invalid_utf8_becomes_replacement_characters)
{
#define FFFD "\xEF\xBF\xBD"
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain ascii", "plain ascii"},
        {"caf\xC3\xA9 \xE6\x9D\xB1 \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE6\x9D\xB1 \xF0\x9F\x98\x80"},
        {"\xEF\xBF\xBD", FFFD},             /* U+FFFD itself is valid */
        {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"}, /* U+10FFFF */
        {"\xC3", FFFD},                     /* truncated at the end */
        {"a\xC3" "b", "a" FFFD "b"},        /* truncated in the middle */
        {"a\x80" "b", "a" FFFD "b"},        /* lone continuation */
        {"\xFF\xFE", FFFD FFFD},            /* never valid */
        {"\xC0\xAF", FFFD FFFD},            /* overlong '/' */
        {"\xE0\x80\xAF", FFFD FFFD FFFD},   /* overlong, 3 bytes */
        {"\xF0\x80\x80\xAF", FFFD FFFD FFFD FFFD}, /* overlong, 4 bytes */
        {"\xED\xA0\x80", FFFD FFFD FFFD},   /* UTF-16 surrogate */
        {"\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD}, /* above U+10FFFF */
        {"\xE6\x9D", FFFD},                 /* maximal subpart: one U+FFFD */
        {"\xE6\x9D" "x", FFFD "x"},
        {"\xF0\x9F\x98", FFFD},
        {"\xF0\x9F\x98\xC3\xA9", FFFD "\xC3\xA9"},
        {"\"\xC3\"", "\"" FFFD "\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *id = echo_id(cases[i].in, NULL);
        ck_assert_msg(strcmp(id, cases[i].out) == 0, "case %zu", i);
        free(id);
    }
#undef FFFD
}
END_TEST

/* Any byte string encodes to valid JSON; valid UTF-8 comes back unchanged. */
START_TEST(random_bytes_encode_to_valid_json)
{
    unsigned long long state = 7;
    char s[64];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(iter % 63);
        for (size_t i = 0; i < n; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned char b = (unsigned char)(state >> 56);
            s[i] = b == 0 ? 'z' : (char)b;
        }
        s[n] = '\0';
        char *id = echo_id(s, NULL); /* parse_strict asserts validity */
        json_t *probe = json_string(s); /* NULL when s is not UTF-8 */
        if (probe != NULL)
            ck_assert_str_eq(id, s);
        json_decref(probe);
        free(id);
    }
}
END_TEST

START_TEST(error_body_shape)
{
    char *out;
    size_t len;
    kga_wire_meta_t m = {"r-9", NULL};
    ck_assert_int_eq(kga_error_response_format(&m, "bad_request",
                                               "pairs[3].left: expected a "
                                               "string, got a number",
                                               &out, &len),
                     0);
    ck_assert_str_eq(out, "{\"error\":{\"code\":\"bad_request\",\"message\":"
                          "\"pairs[3].left: expected a string, got a "
                          "number\"},\"request_id\":\"r-9\"}");
    ck_assert_uint_eq(len, strlen(out));
    json_t *got = parse_strict(out, len);
    json_t *want = load_fixture("error_response.json");
    assert_json_equal(got, want);
    json_decref(got);
    json_decref(want);
    free(out);

    /* With a model version, and from a decode error. */
    kga_align_request_t req;
    kga_wire_error_t err;
    const char *body = "{\"pairs\": [1]}";
    ck_assert_int_eq(kga_align_request_parse(&req, body, strlen(body),
                                             &default_limits, &err),
                     400);
    ck_assert_int_eq(kga_wire_error_format(&meta, &err, &out, &len), 0);
    got = parse_strict(out, len);
    ck_assert_uint_eq(json_object_size(got), 3);
    ck_assert_str_eq(str_at(got, "model_version"), "9c1e5b7a33d2f018");
    ck_assert_str_eq(str_at(got, "request_id"), "req-1");
    json_t *e = json_object_get(got, "error");
    ck_assert_uint_eq(json_object_size(e), 2);
    ck_assert_str_eq(str_at(e, "code"), "bad_request");
    ck_assert_str_eq(str_at(e, "message"),
                     "pairs[0]: expected an object, got a number");
    json_decref(got);
    free(out);
}
END_TEST

START_TEST(status_body_shape)
{
    char *out;
    size_t len;
    kga_wire_meta_t m = {"r", NULL};
    ck_assert_int_eq(kga_status_response_format(&m, "ok", &out, &len), 0);
    ck_assert_str_eq(out, "{\"status\":\"ok\",\"request_id\":\"r\"}");
    free(out);
    ck_assert_int_eq(kga_status_response_format(&meta, "ready", &out, &len),
                     0);
    ck_assert_str_eq(out, "{\"status\":\"ready\",\"request_id\":\"req-1\","
                          "\"model_version\":\"9c1e5b7a33d2f018\"}");
    free(out);
}
END_TEST

START_TEST(unknown_id_messages)
{
    char buf[KGA_WIRE_MSG_MAX];
    kga_wire_unknown_id_message(buf, sizeof buf, KGA_WIRE_UNKNOWN_LEFT, "X",
                                "Y");
    ck_assert_str_eq(buf, "left id 'X' is not in the left graph");
    kga_wire_unknown_id_message(buf, sizeof buf, KGA_WIRE_UNKNOWN_RIGHT, "X",
                                "Y");
    ck_assert_str_eq(buf, "right id 'Y' is not in the right graph");
    kga_wire_unknown_id_message(
        buf, sizeof buf, KGA_WIRE_UNKNOWN_LEFT | KGA_WIRE_UNKNOWN_RIGHT, "X",
        "Y");
    ck_assert_str_eq(buf, "left id 'X' is not in the left graph; right id 'Y' "
                          "is not in the right graph");

    /* A long id is cut at a character boundary, not inside "é". */
    char id[200];
    memset(id, 'a', 63);
    for (int i = 0; i < 20; i++)
        memcpy(id + 63 + 2 * i, "\xC3\xA9", 2);
    id[103] = '\0';
    kga_wire_error_t err;
    ck_assert_int_eq(kga_wire_error_unknown_id(&err, KGA_SIDE_LEFT, id), 404);
    ck_assert_str_eq(err.code, "unknown_id");
    char want[200];
    snprintf(want, sizeof want, "left id '%.63s...' is not in the left graph",
             id);
    ck_assert_str_eq(err.message, want);
    ck_assert_int_eq(kga_wire_error_unknown_id(&err, KGA_SIDE_RIGHT, "q"), 404);
    ck_assert_str_eq(err.message, "right id 'q' is not in the right graph");
}
END_TEST

/* kga_wire_format_float() against snprintf over every kind of float: all
 * exponents by random bit patterns, the service's ranges (distances,
 * probabilities), round numbers and halfway cases. */
START_TEST(float_format_is_printf_g9)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char want[32], got[32];
    for (long i = 0; i < 3000000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        float f;
        uint32_t bits = (uint32_t)(x >> 11);
        switch (i % 4) {
        case 0: memcpy(&f, &bits, sizeof f); break;
        case 1: f = (float)((double)(bits % 2000000) / 1000.0 - 1000.0); break;
        case 2: f = ldexpf((float)(bits & 0xFFFFFF), -(int)(bits >> 24) % 60); break;
        default: f = (float)(bits % 100000) * powf(10.0f, (float)(int)(bits % 30) - 15.0f); break;
        }
        snprintf(want, sizeof want, "%.9g", (double)f);
        int n = kga_wire_format_float(got, f);
        ck_assert_msg(strcmp(want, got) == 0 && n == (int)strlen(want),
                      "%a: printf %s, ours %s", (double)f, want, got);
    }
    static const float fixed[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 0.1f, 1e-4f,
                                  9.99999999e-5f, 1e-5f, 123456789.0f,
                                  999999999.0f, 1e9f, 1e-14f, 1e-15f,
                                  3.4028235e38f, 1.4e-45f, 100.0f, 0.25f};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        snprintf(want, sizeof want, "%.9g", (double)fixed[i]);
        kga_wire_format_float(got, fixed[i]);
        ck_assert_str_eq(got, want);
    }
}
END_TEST

START_TEST(error_code_table)
{
    static const struct {
        kga_wire_code_t code;
        int status;
        const char *name;
    } want[] = {
        {KGA_WIRE_BAD_REQUEST, 400, "bad_request"},
        {KGA_WIRE_FORBIDDEN, 403, "forbidden"},
        {KGA_WIRE_NOT_FOUND, 404, "not_found"},
        {KGA_WIRE_UNKNOWN_ID, 404, "unknown_id"},
        {KGA_WIRE_METHOD_NOT_ALLOWED, 405, "method_not_allowed"},
        {KGA_WIRE_CONFLICT, 409, "conflict"},
        {KGA_WIRE_PAYLOAD_TOO_LARGE, 413, "payload_too_large"},
        {KGA_WIRE_INTERNAL, 500, "internal"},
        {KGA_WIRE_RELOAD_FAILED, 500, "reload_failed"},
        {KGA_WIRE_UNAVAILABLE, 503, "unavailable"},
        {KGA_WIRE_NOT_READY, 503, "not_ready"},
        {KGA_WIRE_DEADLINE_EXCEEDED, 504, "deadline_exceeded"},
    };
    ck_assert_int_eq(sizeof want / sizeof want[0], KGA_WIRE_ERROR_COUNT_);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_int_eq(kga_wire_code_status(want[i].code), want[i].status);
        ck_assert_str_eq(kga_wire_code_name(want[i].code), want[i].name);
    }
    ck_assert_int_eq(kga_wire_code_status(KGA_WIRE_ERROR_COUNT_), 500);
    kga_wire_error_t err;
    ck_assert_int_eq(kga_wire_error_set(&err, KGA_WIRE_NOT_READY,
                                        "no snapshot %d", 1),
                     503);
    ck_assert_str_eq(err.code, "not_ready");
    ck_assert_str_eq(err.message, "no snapshot 1");
}
END_TEST

START_TEST(request_id_validation)
{
    ck_assert(kga_wire_request_id_valid("abc-123_XYZ.:/", 14));
    ck_assert(!kga_wire_request_id_valid("", 0));
    ck_assert(!kga_wire_request_id_valid(NULL, 3));
    ck_assert(!kga_wire_request_id_valid("a b", 3));
    ck_assert(!kga_wire_request_id_valid("a\"b", 3));
    ck_assert(!kga_wire_request_id_valid("a\\b", 3));
    ck_assert(!kga_wire_request_id_valid("a\r\nX-Evil: 1", 12));
    ck_assert(!kga_wire_request_id_valid("caf\xC3\xA9", 5));
    char *long_id = repeat('r', KGA_WIRE_REQUEST_ID_MAX + 1);
    ck_assert(kga_wire_request_id_valid(long_id, KGA_WIRE_REQUEST_ID_MAX));
    ck_assert(!kga_wire_request_id_valid(long_id, KGA_WIRE_REQUEST_ID_MAX + 1));
    free(long_id);
}
END_TEST

/* The eval document, byte for byte: its spacing, number formats and
 * string escapes are what scripts have parsed since its first version. */
START_TEST(eval_json_bytes)
{
    /* A quote, a tab, a control byte, an ill-formed sequence and a
     * well-formed one. */
    char film[] = "Film", odd[] = "a\"b\tc\x01" "d\xE2\x82 \xC3\xA9";
    kga_eval_group_t groups[2] = {
        {.group = 0,
         .name = film,
         .ranking = {4, 1, 0.5, 0.75, 0.75, 0.625},
         .candidate_recall = 0.75},
        {.group = 3,
         .name = odd,
         .ranking = {2, 0, 1, 1, 1, 1},
         .candidate_recall = 1},
    };
    kga_eval_result_t res = {
        .k = 50,
        .queries = 6,
        .pairs = 300,
        .positives = 6,
        .found = 5,
        .ranking = {6, 1, 2.0 / 3.0, 5.0 / 6.0, 5.0 / 6.0, 0.75},
        .candidate_recall = 5.0 / 6.0,
        .classification = {.prauc = 0.5,
                            .best_f1 = 1e-12,
                            .best_threshold = 0.25f,
                            .recall_at_p95 = 0,
                            .p95_threshold = INFINITY},
        .groups = groups,
        .n_groups = 2,
        .eval_seconds = 12.3456,
    };
    char *out;
    size_t len;
    ck_assert_int_eq(kga_eval_json_format("left to right", "test", "v1", &res,
                                          &out, &len),
                     0);
    const char *want =
        "{\"protocol\": \"closed\", \"direction\": \"left to right\", "
        "\"split\": \"test\", \"k\": 50, "
        "\"pairs\": 300, \"positives\": 6, \"misses\": 1, \"queries\": 6, "
        "\"hits1\": 0.6666666667, \"hits5\": 0.8333333333, \"hits10\": "
        "0.8333333333, \"mrr\": 0.75, \"candidate_recall\": 0.8333333333, "
        "\"prauc\": 0.5, \"best_f1\": 1e-12, \"best_threshold\": 0.25, "
        "\"recall_at_p95\": 0, \"p95_threshold\": null, \"eval_seconds\": "
        "12.346, \"model_version\": \"v1\", \"per_type\": {\"Film\": "
        "{\"queries\": 4, \"hits1\": 0.5, \"hits5\": 0.75, \"hits10\": 0.75, "
        "\"mrr\": 0.625, \"candidate_recall\": 0.75}, "
        "\"a\\\"b\\u0009c\\u0001d\\ufffd\\ufffd \xC3\xA9\": {\"queries\": 2, "
        "\"hits1\": 1, \"hits5\": 1, \"hits10\": 1, \"mrr\": 1, "
        "\"candidate_recall\": 1}}}";
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(len, strlen(want));
    json_error_t jerr;
    json_t *doc = json_loadb(out, len, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s", jerr.text);
    json_decref(doc);
    free(out);
}
END_TEST

static Suite *proto_suite(void)
{
    Suite *s = suite_create("proto");
    TCase *decode = kga_test_tcase(s, "decode", 60);
    tcase_add_loop_test(decode, decode_fixture_case, 0, n_cases);
    tcase_add_test(decode, request_examples_decode);
    tcase_add_test(decode, empty_body_is_400);
    tcase_add_test(decode, body_over_limit_is_413);
    tcase_add_test(decode, id_length_limit);
    tcase_add_test(decode, max_pairs_boundary);
    tcase_add_test(decode, inline_entity_limits);
    tcase_add_test(decode, brackets_inside_strings_do_not_count_as_nesting);
    tcase_add_test(decode, invalid_utf8_and_nul_bytes_in_body_are_400);
    tcase_add_test(decode, destroy_is_idempotent);
    tcase_add_test(decode, mutated_bodies_never_crash);

    TCase *encode = kga_test_tcase(s, "encode", 60);
    tcase_add_test(encode, align_response_round_trip);
    tcase_add_test(encode, align_response_matches_golden);
    tcase_add_test(encode, small_align_response_bytes);
    tcase_add_test(encode, match_response_round_trip);
    tcase_add_test(encode, non_finite_numbers_are_null);
    tcase_add_test(encode, control_characters_are_escaped);
    tcase_add_test(encode, invalid_utf8_becomes_replacement_characters);
    tcase_add_test(encode, random_bytes_encode_to_valid_json);
    tcase_add_test(encode, error_body_shape);
    tcase_add_test(encode, status_body_shape);
    tcase_add_test(encode, unknown_id_messages);
    tcase_add_test(encode, error_code_table);
    tcase_add_test(encode, float_format_is_printf_g9);
    tcase_add_test(encode, request_id_validation);
    tcase_add_test(encode, eval_json_bytes);
    return s;
}

int main(void)
{
    kga_wire_init();
    load_decode_cases();
    int rc = kga_test_run(proto_suite);
    free_decode_cases();
    return rc;
}
