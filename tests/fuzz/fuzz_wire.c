/* Fuzzes the wire format: the input is a request body, decoded as an /align
 * and as a /match request. Oracles: the return code is 0, 400, 413 or
 * KGA_ENOMEM with a matching error; a decoded request keeps the documented
 * invariants (1..KGA_WIRE_ID_MAX bytes of UTF-8 per id, k in range, pairs
 * within the limit); and every response built from it, from its error, or
 * from the raw input as an arbitrary string, is JSON that jansson reads back
 * to the same strings. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "base/utf8.h"
#include "proto/wire.h"

#define FUZZ_WIRE_MAX_PAIRS 16

static const kga_wire_limits_t fuzz_wire_limits = {
    .max_body_bytes = 1u << 16,
    .max_pairs = FUZZ_WIRE_MAX_PAIRS,
};

static void fuzz_wire_setup(void)
{
    static int ready;
    if (ready)
        return;
    /* A fixed hash seed, so that a crashing input reproduces exactly (the
     * first seed wins; kga_wire_init's random one is then a no-op). */
    json_object_seed(0x6b6761);
    kga_wire_init();
    ready = 1;
}

/* The JSON string at key of obj equals the n bytes at want. */
static int fuzz_wire_same_str(const json_t *obj, const char *key,
                              const char *want, size_t n)
{
    const json_t *v = json_object_get(obj, key);
    return v != NULL && json_is_string(v) && json_string_length(v) == n &&
           memcmp(json_string_value(v), want, n) == 0;
}

/* body must be one JSON object; returns it (caller decrefs) or NULL. */
static json_t *fuzz_wire_reparse(const char *what, const char *body,
                                 size_t len)
{
    if (body == NULL) {
        fuzz_fail("%s: no body", what);
        return NULL;
    }
    if (strlen(body) != len) {
        fuzz_fail("%s: body length %zu, NUL at %zu", what, len, strlen(body));
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        fuzz_fail("%s: not JSON (%s at byte %d): %.300s", what, je.text,
                  je.position, body);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fuzz_fail("%s: not a JSON object", what);
        return NULL;
    }
    return root;
}

/* A decode failure: the status agrees with the error, which encodes. */
static int fuzz_wire_check_error(const char *what, int rc,
                                 const kga_wire_error_t *err)
{
    if (rc == KGA_ENOMEM)
        return 0;
    if (rc != 400 && rc != 413)
        return fuzz_fail("%s: undefined return code %d", what, rc);
    if (err->status != rc || err->code == NULL)
        return fuzz_fail("%s: returned %d, error says %d", what, rc,
                         err->status);
    if (memchr(err->message, '\0', sizeof err->message) == NULL ||
        err->message[0] == '\0')
        return fuzz_fail("%s: empty or unterminated message", what);
    kga_wire_meta_t meta = {"req-1", NULL};
    char *out = NULL;
    size_t out_len = 0;
    if (kga_wire_error_format(&meta, err, &out, &out_len) != 0)
        return 0; /* out of memory */
    int bad = 0;
    json_t *root = fuzz_wire_reparse(what, out, out_len);
    if (root == NULL) {
        bad = 1;
    } else {
        const json_t *e = json_object_get(root, "error");
        size_t n = strlen(err->message);
        if (!fuzz_wire_same_str(e, "code", err->code, strlen(err->code)))
            bad = fuzz_fail("%s: error code lost", what);
        else if (kga_utf8_valid(err->message, n, NULL) &&
                 !fuzz_wire_same_str(e, "message", err->message, n))
            bad = fuzz_fail("%s: error message changed on the way", what);
        json_decref(root);
    }
    free(out);
    return bad;
}

static int fuzz_wire_check_id(const char *what, const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > KGA_WIRE_ID_MAX)
        return fuzz_fail("%s: id of %zu bytes", what, n);
    if (!kga_utf8_valid(id, n, NULL))
        return fuzz_fail("%s: id is not UTF-8", what);
    return 0;
}

/* A decoded /align request, and the response that echoes its ids. */
static int fuzz_wire_check_align(const kga_align_request_t *req)
{
    if (req->n_pairs == 0 || req->n_pairs > FUZZ_WIRE_MAX_PAIRS ||
        (!req->batch && req->n_pairs != 1) || req->pairs == NULL)
        return fuzz_fail("align: %zu pairs, batch %d", req->n_pairs,
                         req->batch);
    if (req->explain != 0 && req->explain != 1)
        return fuzz_fail("align: explain is %d", req->explain);
    kga_align_result_t results[FUZZ_WIRE_MAX_PAIRS];
    kga_wire_evidence_t ev[FUZZ_WIRE_MAX_PAIRS];
    for (size_t i = 0; i < req->n_pairs; i++) {
        const kga_wire_pair_t *p = &req->pairs[i];
        if (fuzz_wire_check_id("align: left", p->left) ||
            fuzz_wire_check_id("align: right", p->right))
            return 1;
        /* Every kind of item, the fuzzed ids as names and relations: the
         * summaries compose them. */
        ev[i] = (kga_wire_evidence_t){.kind = (kga_evidence_kind_t)(i % 4),
                                      .left_neighbour = p->left,
                                      .right_neighbour = p->right,
                                      .left_name = p->right,
                                      .right_name = i & 2 ? p->left : NULL,
                                      .left_relation = p->right,
                                      .right_relation = p->left,
                                      .left_dir = KGA_DIR_OUT,
                                      .right_dir = KGA_DIR_IN,
                                      .weight = 0.5f};
        results[i] = (kga_align_result_t){
            p->left, p->right, (unsigned)(i % 4),
            {(float)i - 1.5f, 1.0f / 3.0f, (int)(i & 1)}, &ev[i], 1,
            {0, 0, 0}};
    }
    kga_wire_meta_t meta = {"req-2", "0123456789abcdef"};
    char *out = NULL;
    size_t out_len = 0;
    if (kga_align_response_format(&meta, results, req->n_pairs, req->explain,
                                  &out, &out_len) != 0)
        return 0;
    int bad = 0;
    json_t *root = fuzz_wire_reparse("align response", out, out_len);
    const json_t *arr = root != NULL ? json_object_get(root, "results") : NULL;
    if (root == NULL)
        bad = 1;
    else if (!json_is_array(arr) || json_array_size(arr) != req->n_pairs)
        bad = fuzz_fail("align response: wrong results");
    for (size_t i = 0; !bad && i < req->n_pairs; i++) {
        const json_t *r = json_array_get(arr, i);
        const kga_wire_pair_t *p = &req->pairs[i];
        if (!fuzz_wire_same_str(r, "left", p->left, strlen(p->left)) ||
            !fuzz_wire_same_str(r, "right", p->right, strlen(p->right)))
            bad = fuzz_fail("align response: result %zu ids changed", i);
        else if ((results[i].unknown != 0) !=
                 (json_object_get(r, "error") != NULL))
            bad = fuzz_fail("align response: result %zu error", i);
    }
    json_decref(root);
    free(out);
    return bad;
}

static int fuzz_wire_check_match(const kga_match_request_t *req)
{
    if (req->side != KGA_SIDE_LEFT && req->side != KGA_SIDE_RIGHT)
        return fuzz_fail("match: side %d", (int)req->side);
    if (req->k < KGA_WIRE_K_MIN || req->k > KGA_WIRE_K_MAX)
        return fuzz_fail("match: k = %zu", req->k);
    if (req->id == NULL || fuzz_wire_check_id("match: id", req->id))
        return 1;
    kga_wire_evidence_t ev[2] = {
        {.kind = KGA_EVIDENCE_NAMES, .left_name = req->id, .weight = 0.25f},
        {.kind = KGA_EVIDENCE_KNOWN_LINK, .left_neighbour = req->id,
         .right_neighbour = "other", .left_name = req->id,
         .left_relation = req->id, .right_relation = "r",
         .left_dir = KGA_DIR_IN, .right_dir = KGA_DIR_OUT, .weight = 1.0f}};
    kga_match_candidate_t cand[2] = {{req->id, {0.25f, 0.75f, 1}, ev, 2},
                                     {"other", {2.0f, 0.0f, 0}, NULL, 0}};
    kga_wire_meta_t meta = {"req-3", NULL};
    char *out = NULL;
    size_t out_len = 0;
    if (kga_match_response_format(&meta, req->side, req->id, NULL, cand, 2,
                                  req->explain, &out, &out_len) != 0)
        return 0;
    int bad = 0;
    json_t *root = fuzz_wire_reparse("match response", out, out_len);
    if (root == NULL) {
        bad = 1;
    } else {
        const json_t *q = json_object_get(root, "query");
        const char *side = req->side == KGA_SIDE_LEFT ? "left" : "right";
        if (!fuzz_wire_same_str(q, "id", req->id, strlen(req->id)) ||
            !fuzz_wire_same_str(q, "side", side, strlen(side)))
            bad = fuzz_fail("match response: query changed");
        json_decref(root);
    }
    free(out);
    return bad;
}

/* The input up to its first NUL as an arbitrary string: the encoders accept
 * any bytes and must still produce JSON, keeping valid UTF-8 as it is. */
static int fuzz_wire_check_raw_string(const char *s)
{
    size_t n = strlen(s);
    int bad = 0;
    int valid_id = kga_wire_request_id_valid(s, n);
    int expect = n >= 1 && n <= KGA_WIRE_REQUEST_ID_MAX;
    for (size_t i = 0; expect && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        expect = c >= 0x21 && c <= 0x7e && c != '"' && c != '\\';
    }
    if (valid_id != expect)
        bad = fuzz_fail("request_id_valid says %d for a %zu-byte id",
                        valid_id, n);

    char msg[KGA_WIRE_MSG_MAX];
    size_t caps[] = {1, 7, 40, sizeof msg};
    for (size_t i = 0; !bad && i < sizeof caps / sizeof caps[0]; i++) {
        memset(msg, 'x', sizeof msg);
        kga_wire_unknown_id_message(msg, caps[i], (unsigned)(i % 3) + 1, s,
                                    s);
        if (memchr(msg, '\0', caps[i]) == NULL)
            bad = fuzz_fail("unknown_id_message: no NUL within %zu bytes",
                            caps[i]);
    }

    kga_wire_meta_t meta = {s, s};
    char *out = NULL;
    size_t out_len = 0;
    if (!bad && kga_error_response_format(&meta, "bad_request", s, &out,
                                          &out_len) == 0) {
        json_t *root = fuzz_wire_reparse("raw error body", out, out_len);
        if (root == NULL) {
            bad = 1;
        } else {
            if (kga_utf8_valid(s, n, NULL) &&
                (!fuzz_wire_same_str(json_object_get(root, "error"),
                                     "message", s, n) ||
                 !fuzz_wire_same_str(root, "request_id", s, n)))
                bad = fuzz_fail("raw error body: UTF-8 string changed");
            json_decref(root);
        }
        free(out);
    }
    return bad;
}

static int fuzz_wire_one(const uint8_t *data, size_t size)
{
    fuzz_wire_setup();
    char *body = (char *)fuzz_copy(data, size);
    if (body == NULL)
        return 0;
    int bad = 0;

    kga_align_request_t ar;
    kga_wire_error_t err;
    int rc = kga_align_request_parse(&ar, body, size, &fuzz_wire_limits, &err);
    if (rc == 0)
        bad |= err.status != 0 ? fuzz_fail("align: ok with an error set")
                               : fuzz_wire_check_align(&ar);
    else
        bad |= fuzz_wire_check_error("align", rc, &err);
    kga_align_request_destroy(&ar);

    kga_match_request_t mr;
    rc = kga_match_request_parse(&mr, body, size, &fuzz_wire_limits, &err);
    if (rc == 0)
        bad |= err.status != 0 ? fuzz_fail("match: ok with an error set")
                               : fuzz_wire_check_match(&mr);
    else
        bad |= fuzz_wire_check_error("match", rc, &err);
    kga_match_request_destroy(&mr);

    char *str = malloc(size + 1);
    if (str != NULL) {
        memcpy(str, data, size);
        str[size] = '\0';
        bad |= fuzz_wire_check_raw_string(str);
        free(str);
    }
    free(body);
    return bad;
}

KGA_FUZZ_ENTRY(fuzz_wire_one)
