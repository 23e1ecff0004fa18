/* Decoding of the /align and /match request bodies. jansson parses (strict:
 * duplicate keys and NUL in strings are refused); this file checks the shape
 * and copies the ids into one allocation per request, so the jansson tree is
 * freed before the model runs. Every error message starts with the field. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Longest field name quoted back in an "unknown field" message. */
#define FIELD_QUOTE_MAX 64

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* Whether arrays and objects nest deeper than max anywhere in the body.
 * Linear, no allocation: refuses a hostile body before jansson recurses. */
static int nests_deeper_than(const char *body, size_t len, int max)
{
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = body[i];
        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = 0;
        } else if (ch == '"') {
            in_string = 1;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max)
                return 1;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

static void reset_error(kga_wire_error_t *err)
{
    err->status = 0;
    err->code = NULL;
    err->message[0] = '\0';
}

/* Parses body into a JSON object. Returns 0, an HTTP status with *err set,
 * or KGA_ENOMEM. */
static int load_object(const char *body, size_t len,
                       const kga_wire_limits_t *limits, kga_wire_error_t *err,
                       json_t **out)
{
    *out = NULL;
    if (len > limits->max_body_bytes)
        return kga_wire_error_set(err, KGA_WIRE_PAYLOAD_TOO_LARGE,
                                  "body: %zu bytes exceed the limit of %zu "
                                  "bytes",
                                  len, limits->max_body_bytes);
    if (len == 0 || body == NULL)
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "body: empty, expected a JSON object");
    if (nests_deeper_than(body, len, KGA_WIRE_DEPTH_MAX))
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "body: nested deeper than %d levels",
                                  KGA_WIRE_DEPTH_MAX);
    json_error_t je;
    json_t *root =
        json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (root == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return KGA_ENOMEM;
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "body: malformed JSON at line %d, column %d "
                                  "(byte %d): %s",
                                  je.line, je.column, je.position, je.text);
    }
    if (!json_is_object(root)) {
        int status = kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                        "body: expected a JSON object, got %s",
                                        json_type_name(root));
        json_decref(root);
        return status;
    }
    *out = root;
    return 0;
}

static int unknown_field(kga_wire_error_t *err, const char *where,
                         const char *key, const char *expected)
{
    int n = (int)strnlen(key, FIELD_QUOTE_MAX + 1);
    return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                              "%s%sunknown field '%.*s%s' (expected %s)",
                              where, *where ? ": " : "",
                              n > FIELD_QUOTE_MAX ? FIELD_QUOTE_MAX : n, key,
                              n > FIELD_QUOTE_MAX ? "..." : "", expected);
}

/* Refuses the first field of obj that is not in allowed (NULL-terminated),
 * with a message as unknown_field() gives. */
static int only_fields(const json_t *obj, const char *const *allowed,
                       const char *where, const char *expected,
                       kga_wire_error_t *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(key, allowed[i]) != 0)
            i++;
        if (allowed[i] == NULL)
            return unknown_field(err, where, key, expected);
    }
    return 0;
}

/* Checks that v is an id: a non-empty string of at most KGA_WIRE_ID_MAX
 * bytes. field names it in the message ("pairs[3].left"). Adds its size,
 * NUL included, to *bytes. */
static int check_id(const json_t *v, const char *field, size_t *bytes,
                    kga_wire_error_t *err)
{
    if (v == NULL)
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST, "%s: required",
                                  field);
    if (!json_is_string(v))
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "%s: expected a string, got %s", field,
                                  json_type_name(v));
    size_t n = json_string_length(v);
    if (n == 0)
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "%s: must not be empty", field);
    if (n > KGA_WIRE_ID_MAX)
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "%s: id is %zu bytes, longer than the limit "
                                  "of %d",
                                  field, n, KGA_WIRE_ID_MAX);
    *bytes += n + 1;
    return 0;
}

/* Copies the string v into *cursor and advances it. */
static const char *copy_id(const json_t *v, char **cursor)
{
    size_t n = json_string_length(v);
    char *dst = *cursor;
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    *cursor = dst + n + 1;
    return dst;
}

/* One element of "pairs": an object with exactly "left" and "right". */
static int check_pair(const json_t *elem, size_t i, size_t *bytes,
                      kga_wire_error_t *err)
{
    /* The common case without building field names: a batch of 256 pairs
     * spent more time in snprintf here than in parsing. */
    if (json_is_object(elem) && json_object_size(elem) == 2) {
        const json_t *l = json_object_get(elem, "left");
        const json_t *r = json_object_get(elem, "right");
        if (json_is_string(l) && json_is_string(r)) {
            size_t nl = json_string_length(l), nr = json_string_length(r);
            if (nl > 0 && nl <= KGA_WIRE_ID_MAX && nr > 0 &&
                nr <= KGA_WIRE_ID_MAX) {
                *bytes += nl + nr + 2;
                return 0;
            }
        }
    }
    char field[48];
    snprintf(field, sizeof field, "pairs[%zu]", i);
    if (!json_is_object(elem))
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "%s: expected an object, got %s", field,
                                  json_type_name(elem));
    static const char *const fields[] = {"left", "right", NULL};
    int rc = only_fields(elem, fields, field, "left, right", err);
    if (rc != 0)
        return rc;
    char sub[64];
    snprintf(sub, sizeof sub, "%s.left", field);
    rc = check_id(json_object_get(elem, "left"), sub, bytes, err);
    if (rc != 0)
        return rc;
    snprintf(sub, sizeof sub, "%s.right", field);
    return check_id(json_object_get(elem, "right"), sub, bytes, err);
}

/* "explain", when given, is a boolean. */
static int check_explain(const json_t *explain, kga_wire_error_t *err)
{
    if (explain != NULL && !json_is_boolean(explain))
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "explain: expected a boolean, got %s",
                                  json_type_name(explain));
    return 0;
}

int kga_align_request_parse(kga_align_request_t *req, const char *body,
                            size_t len, const kga_wire_limits_t *limits,
                            kga_wire_error_t *err)
{
    memset(req, 0, sizeof *req);
    reset_error(err);
    json_t *root;
    int rc = load_object(body, len, limits, err, &root);
    if (rc != 0)
        return rc;

    static const char *const fields[] = {"left", "right", "pairs", "explain",
                                         NULL};
    rc = only_fields(root, fields, "", "left, right, pairs, explain", err);
    if (rc != 0)
        goto out;

    json_t *explain = json_object_get(root, "explain");
    if ((rc = check_explain(explain, err)) != 0)
        goto out;

    json_t *pairs = json_object_get(root, "pairs");
    json_t *left = json_object_get(root, "left");
    json_t *right = json_object_get(root, "right");
    size_t n, bytes = 0;
    if (pairs != NULL) {
        if (left != NULL || right != NULL) {
            rc = kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                    "pairs: cannot be combined with %s",
                                    left != NULL ? "left" : "right");
            goto out;
        }
        if (!json_is_array(pairs)) {
            rc = kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                    "pairs: expected an array, got %s",
                                    json_type_name(pairs));
            goto out;
        }
        n = json_array_size(pairs);
        if (n == 0) {
            rc = kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                    "pairs: must not be empty");
            goto out;
        }
        if (n > limits->max_pairs) {
            rc = kga_wire_error_set(err, KGA_WIRE_PAYLOAD_TOO_LARGE,
                                    "pairs: %zu pairs exceed the limit of %zu",
                                    n, limits->max_pairs);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            rc = check_pair(json_array_get(pairs, i), i, &bytes, err);
            if (rc != 0)
                goto out;
        }
    } else {
        if (left == NULL && right == NULL) {
            rc = kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                    "body: expected \"left\" and \"right\", "
                                    "or \"pairs\"");
            goto out;
        }
        n = 1;
        rc = check_id(left, "left", &bytes, err);
        if (rc == 0)
            rc = check_id(right, "right", &bytes, err);
        if (rc != 0)
            goto out;
    }

    /* Bounded by the body size: every id was a string in it. */
    char *mem = malloc(n * sizeof(kga_wire_pair_t) + bytes);
    if (mem == NULL) {
        rc = KGA_ENOMEM;
        goto out;
    }
    kga_wire_pair_t *out_pairs = (kga_wire_pair_t *)(void *)mem;
    char *cursor = mem + n * sizeof(kga_wire_pair_t);
    if (pairs != NULL) {
        for (size_t i = 0; i < n; i++) {
            json_t *elem = json_array_get(pairs, i);
            out_pairs[i].left = copy_id(json_object_get(elem, "left"), &cursor);
            out_pairs[i].right =
                copy_id(json_object_get(elem, "right"), &cursor);
        }
    } else {
        out_pairs[0].left = copy_id(left, &cursor);
        out_pairs[0].right = copy_id(right, &cursor);
    }
    req->pairs = out_pairs;
    req->n_pairs = n;
    req->batch = pairs != NULL;
    req->explain = json_is_true(explain);
    req->mem_ = mem;
out:
    json_decref(root);
    return rc;
}

void kga_align_request_destroy(kga_align_request_t *req)
{
    if (req == NULL)
        return;
    free(req->mem_);
    memset(req, 0, sizeof *req);
}

int kga_match_request_parse(kga_match_request_t *req, const char *body,
                            size_t len, const kga_wire_limits_t *limits,
                            kga_wire_error_t *err)
{
    memset(req, 0, sizeof *req);
    reset_error(err);
    json_t *root;
    int rc = load_object(body, len, limits, err, &root);
    if (rc != 0)
        return rc;

    static const char *const fields[] = {"left", "right", "k", "explain",
                                         NULL};
    rc = only_fields(root, fields, "", "left or right, k, explain", err);
    if (rc != 0)
        goto out;
    json_t *explain = json_object_get(root, "explain");
    if ((rc = check_explain(explain, err)) != 0)
        goto out;

    json_t *left = json_object_get(root, "left");
    json_t *right = json_object_get(root, "right");
    if (left != NULL && right != NULL) {
        rc = kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                "left, right: give one of them, not both");
        goto out;
    }
    if (left == NULL && right == NULL) {
        rc = kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                "left or right: required");
        goto out;
    }
    kga_side_t side = left != NULL ? KGA_SIDE_LEFT : KGA_SIDE_RIGHT;
    json_t *id = left != NULL ? left : right;
    size_t bytes = 0;
    rc = check_id(id, side == KGA_SIDE_LEFT ? "left" : "right", &bytes, err);
    if (rc != 0)
        goto out;

    json_int_t k = KGA_WIRE_K_DEFAULT;
    json_t *jk = json_object_get(root, "k");
    if (jk != NULL) {
        if (!json_is_integer(jk)) {
            rc = kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                    "k: expected an integer, got %s",
                                    json_type_name(jk));
            goto out;
        }
        k = json_integer_value(jk);
        if (k < KGA_WIRE_K_MIN || k > KGA_WIRE_K_MAX) {
            rc = kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                    "k: must be between %d and %d, got %lld",
                                    KGA_WIRE_K_MIN, KGA_WIRE_K_MAX,
                                    (long long)k);
            goto out;
        }
    }

    char *mem = malloc(bytes);
    if (mem == NULL) {
        rc = KGA_ENOMEM;
        goto out;
    }
    char *cursor = mem;
    req->side = side;
    req->id = copy_id(id, &cursor);
    req->k = (size_t)k;
    req->explain = json_is_true(explain);
    req->mem_ = mem;
out:
    json_decref(root);
    return rc;
}

void kga_match_request_destroy(kga_match_request_t *req)
{
    if (req == NULL)
        return;
    free(req->mem_);
    memset(req, 0, sizeof *req);
}
