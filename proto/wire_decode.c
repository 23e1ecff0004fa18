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
    if (v == NULL)
        return "nothing";
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

/* ---- entities described inline ---------------------------------------- */

/* Sizes of a request's copy: the structs (all of pointer alignment) and
 * the strings, each in its own part of the one allocation. */
typedef struct {
    size_t structs, strings;
    size_t inline_count;
} sizes_t;

/* v is a string (no NUL inside, guaranteed by the parser), at most
 * KGA_WIRE_ID_MAX bytes, not empty unless may_be_empty; field names it
 * and `what` the thing ("id is ", or ""). Adds its size, NUL included, to
 * *bytes. */
static int check_string(const json_t *v, const char *field, const char *what,
                        int may_be_empty, size_t *bytes,
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
    if (n == 0 && !may_be_empty)
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "%s: must not be empty", field);
    if (n > KGA_WIRE_ID_MAX)
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "%s: %s%zu bytes, longer than the limit of "
                                  "%d",
                                  field, what, n, KGA_WIRE_ID_MAX);
    *bytes += n + 1;
    return 0;
}

/* A string that is not an id (an attribute, a relation). */
static int check_text(const json_t *v, const char *field, int may_be_empty,
                      size_t *bytes, kga_wire_error_t *err)
{
    return check_string(v, field, "", may_be_empty, bytes, err);
}

/* Checks that v is an id: a non-empty string of at most KGA_WIRE_ID_MAX
 * bytes. field names it in the message ("pairs[3].left"). */
static int check_id(const json_t *v, const char *field, size_t *bytes,
                    kga_wire_error_t *err)
{
    return check_string(v, field, "id is ", 0, bytes, err);
}

/* The array `name` of an inline entity (where.name): of `what` (its
 * items, as the message calls them), at most max items (413 beyond). */
static int check_list(const json_t *v, const char *where, const char *name,
                      const char *what, size_t max, kga_wire_error_t *err)
{
    if (!json_is_array(v))
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "%s.%s: expected an array%s%s, got %s",
                                  where, name, *what ? " of " : "", what,
                                  json_type_name(v));
    if (json_array_size(v) > max)
        return kga_wire_error_set(err, KGA_WIRE_PAYLOAD_TOO_LARGE,
                                  "%s.%s: %zu %s exceed the limit of %zu",
                                  where, name, json_array_size(v), name,
                                  max);
    return 0;
}

/* "attributes": [[key, value], ...]. */
static int check_attributes(const json_t *v, const char *where,
                            sizes_t *sz, kga_wire_error_t *err)
{
    char field[160];
    int rc = check_list(v, where, "attributes", "[key, value] pairs",
                        KGA_INLINE_MAX_ATTRS, err);
    if (rc != 0)
        return rc;
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(v, i);
        snprintf(field, sizeof field, "%s.attributes[%zu]", where, i);
        if (!json_is_array(a) || json_array_size(a) != 2)
            return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                      "%s: expected a [key, value] pair, "
                                      "got %s",
                                      field, json_is_array(a)
                                                 ? "another number of "
                                                   "items"
                                                 : json_type_name(a));
        char sub[176];
        snprintf(sub, sizeof sub, "%s[0]", field);
        if ((rc = check_text(json_array_get(a, 0), sub, 0, &sz->strings,
                             err)) != 0)
            return rc;
        snprintf(sub, sizeof sub, "%s[1]", field);
        if ((rc = check_text(json_array_get(a, 1), sub, 1, &sz->strings,
                             err)) != 0)
            return rc;
    }
    sz->structs += n * sizeof(kga_inline_attr_t);
    return 0;
}

/* "edges": [{"relation", "neighbour", "direction": "in"|"out"}, ...]. */
static int check_edges(const json_t *v, const char *where, sizes_t *sz,
                       kga_wire_error_t *err)
{
    char field[160], sub[192];
    int rc = check_list(v, where, "edges", "", KGA_INLINE_MAX_EDGES, err);
    if (rc != 0)
        return rc;
    size_t n = json_array_size(v);
    static const char *const fields[] = {"relation", "neighbour",
                                         "direction", NULL};
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        snprintf(field, sizeof field, "%s.edges[%zu]", where, i);
        if (!json_is_object(e))
            return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                      "%s: expected an object, got %s", field,
                                      json_type_name(e));
        rc = only_fields(e, fields, field, "relation, neighbour, direction",
                         err);
        for (int f = 0; rc == 0 && f < 2; f++) {
            snprintf(sub, sizeof sub, "%s.%s", field, fields[f]);
            rc = check_text(json_object_get(e, fields[f]), sub, 0,
                            &sz->strings, err);
        }
        if (rc != 0)
            return rc;
        const json_t *d = json_object_get(e, "direction");
        const char *ds = json_is_string(d) ? json_string_value(d) : NULL;
        if (ds == NULL || (strcmp(ds, "in") != 0 && strcmp(ds, "out") != 0))
            return kga_wire_error_set(
                err, KGA_WIRE_BAD_REQUEST,
                "%s.direction: expected \"in\" (the neighbour is the head "
                "of the triple) or \"out\" (it is the tail), got %s",
                field, json_type_name(d));
    }
    sz->structs += n * sizeof(kga_inline_edge_t);
    return 0;
}

/* An entity: a string id, or an object that describes it inline. field
 * names it ("pairs[3].left"). */
static int check_entity(const json_t *v, const char *field, sizes_t *sz,
                        kga_wire_error_t *err)
{
    if (v != NULL && !json_is_object(v) && !json_is_string(v))
        return kga_wire_error_set(err, KGA_WIRE_BAD_REQUEST,
                                  "%s: expected an id (a string) or an "
                                  "entity described inline (an object), "
                                  "got %s",
                                  field, json_type_name(v));
    if (v == NULL || !json_is_object(v))
        return check_id(v, field, &sz->strings, err);
    static const char *const fields[] = {"id", "attributes", "edges", NULL};
    int rc = only_fields(v, fields, field, "id, attributes, edges", err);
    if (rc != 0)
        return rc;
    char sub[160];
    snprintf(sub, sizeof sub, "%s.id", field);
    if ((rc = check_id(json_object_get(v, "id"), sub, &sz->strings, err)))
        return rc;
    const json_t *attrs = json_object_get(v, "attributes");
    const json_t *edges = json_object_get(v, "edges");
    if (attrs != NULL && (rc = check_attributes(attrs, field, sz, err)) != 0)
        return rc;
    if (edges != NULL && (rc = check_edges(edges, field, sz, err)) != 0)
        return rc;
    sz->structs += sizeof(kga_inline_desc_t);
    sz->inline_count++;
    return 0;
}

/* The copy of an entity checked by check_entity(): its id, and its
 * description for an object (else NULL). */
typedef struct {
    char *structs, *strings;
} cursor_t;

static const kga_inline_desc_t *copy_entity(const json_t *v, cursor_t *c,
                                            const char **id)
{
    if (!json_is_object(v)) {
        *id = copy_id(v, &c->strings);
        return NULL;
    }
    kga_inline_desc_t *d = (kga_inline_desc_t *)(void *)c->structs;
    c->structs += sizeof *d;
    memset(d, 0, sizeof *d);
    d->id = *id = copy_id(json_object_get(v, "id"), &c->strings);
    const json_t *attrs = json_object_get(v, "attributes");
    const json_t *edges = json_object_get(v, "edges");
    if (attrs != NULL) {
        kga_inline_attr_t *a = (kga_inline_attr_t *)(void *)c->structs;
        d->n_attrs = json_array_size(attrs);
        c->structs += d->n_attrs * sizeof *a;
        for (size_t i = 0; i < d->n_attrs; i++) {
            const json_t *kv = json_array_get(attrs, i);
            a[i].key = copy_id(json_array_get(kv, 0), &c->strings);
            a[i].value = copy_id(json_array_get(kv, 1), &c->strings);
        }
        d->attrs = a;
    }
    if (edges != NULL) {
        kga_inline_edge_t *e = (kga_inline_edge_t *)(void *)c->structs;
        d->n_edges = json_array_size(edges);
        c->structs += d->n_edges * sizeof *e;
        for (size_t i = 0; i < d->n_edges; i++) {
            const json_t *x = json_array_get(edges, i);
            e[i].relation = copy_id(json_object_get(x, "relation"),
                                    &c->strings);
            e[i].neighbour = copy_id(json_object_get(x, "neighbour"),
                                     &c->strings);
            e[i].dir = strcmp(json_string_value(json_object_get(
                                  x, "direction")),
                              "in") == 0
                           ? KGA_DIR_IN
                           : KGA_DIR_OUT;
        }
        d->edges = e;
    }
    return d;
}

/* Refuses more entities described inline than a request may hold. */
static int check_inline_count(const sizes_t *sz, kga_wire_error_t *err)
{
    if (sz->inline_count > KGA_WIRE_INLINE_MAX)
        return kga_wire_error_set(err, KGA_WIRE_PAYLOAD_TOO_LARGE,
                                  "body: %zu entities described inline "
                                  "exceed the limit of %d per request",
                                  sz->inline_count, KGA_WIRE_INLINE_MAX);
    return 0;
}

/* One element of "pairs": an object with exactly "left" and "right". */
static int check_pair(const json_t *elem, size_t i, sizes_t *sz,
                      kga_wire_error_t *err)
{
    size_t *bytes = &sz->strings;
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
    rc = check_entity(json_object_get(elem, "left"), sub, sz, err);
    if (rc != 0)
        return rc;
    snprintf(sub, sizeof sub, "%s.right", field);
    return check_entity(json_object_get(elem, "right"), sub, sz, err);
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

/* The start of every request: the body parsed into an object (as
 * load_object does) that holds only `fields` (listed as `expected` in the
 * message) and whose "explain", when given, is a boolean (*explain, which
 * root owns). Returns 0 with *root owned by the caller, or as load_object
 * with *root NULL. */
static int load_request(const char *body, size_t len,
                        const kga_wire_limits_t *limits,
                        const char *const *fields, const char *expected,
                        kga_wire_error_t *err, json_t **root, json_t **explain)
{
    reset_error(err);
    *explain = NULL;
    int rc = load_object(body, len, limits, err, root);
    if (rc != 0)
        return rc;
    rc = only_fields(*root, fields, "", expected, err);
    if (rc == 0) {
        *explain = json_object_get(*root, "explain");
        rc = check_explain(*explain, err);
    }
    if (rc != 0) {
        json_decref(*root);
        *root = NULL;
        *explain = NULL;
    }
    return rc;
}

int kga_align_request_parse(kga_align_request_t *req, const char *body,
                            size_t len, const kga_wire_limits_t *limits,
                            kga_wire_error_t *err)
{
    memset(req, 0, sizeof *req);
    static const char *const fields[] = {"left", "right", "pairs", "explain",
                                         NULL};
    json_t *root, *explain;
    int rc = load_request(body, len, limits, fields,
                          "left, right, pairs, explain", err, &root, &explain);
    if (rc != 0)
        return rc;

    json_t *pairs = json_object_get(root, "pairs");
    json_t *left = json_object_get(root, "left");
    json_t *right = json_object_get(root, "right");
    size_t n;
    sizes_t sz = {0, 0, 0};
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
            rc = check_pair(json_array_get(pairs, i), i, &sz, err);
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
        rc = check_entity(left, "left", &sz, err);
        if (rc == 0)
            rc = check_entity(right, "right", &sz, err);
        if (rc != 0)
            goto out;
    }
    if ((rc = check_inline_count(&sz, err)) != 0)
        goto out;

    /* Bounded by the body size: every id was a string in it, and every
     * struct stands for an array or object of it. */
    size_t head = n * sizeof(kga_wire_pair_t) + sz.structs;
    char *mem = malloc(head + sz.strings);
    if (mem == NULL) {
        rc = KGA_ENOMEM;
        goto out;
    }
    kga_wire_pair_t *out_pairs = (kga_wire_pair_t *)(void *)mem;
    cursor_t cur = {mem + n * sizeof(kga_wire_pair_t), mem + head};
    for (size_t i = 0; i < n; i++) {
        json_t *elem = pairs != NULL ? json_array_get(pairs, i) : root;
        kga_wire_pair_t *p = &out_pairs[i];
        p->left_inline = copy_entity(json_object_get(elem, "left"), &cur,
                                     &p->left);
        p->right_inline = copy_entity(json_object_get(elem, "right"), &cur,
                                      &p->right);
    }
    req->pairs = out_pairs;
    req->n_pairs = n;
    req->n_inline = sz.inline_count;
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
    static const char *const fields[] = {"left", "right", "k", "explain",
                                         NULL};
    json_t *root, *explain;
    int rc = load_request(body, len, limits, fields,
                          "left or right, k, explain", err, &root, &explain);
    if (rc != 0)
        return rc;

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
    sizes_t sz = {0, 0, 0};
    rc = check_entity(id, side == KGA_SIDE_LEFT ? "left" : "right", &sz, err);
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

    char *mem = malloc(sz.structs + sz.strings);
    if (mem == NULL) {
        rc = KGA_ENOMEM;
        goto out;
    }
    cursor_t cur = {mem, mem + sz.structs};
    req->side = side;
    req->inline_desc = copy_entity(id, &cur, &req->id);
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
