/* The alignment service with the real model, through the kgalign command:
 * a small synthetic pair is generated, imported and trained (one epoch) once,
 * then each test starts `kgalign serve` as a child process on 127.0.0.1 and
 * talks to it over sockets.
 *
 * What is held: every endpoint and every error status of the contract
 * (400 naming the field, 404, 405 with Allow, 413 by body size and by pair
 * count, 503 with Retry-After at the in-flight cap, 504 at the deadline);
 * request ids echoed or generated, in the header, the body and the JSON log
 * line of the request; every response valid against the schemas of
 * proto/openapi.yaml (kept as JSON in tests/fixtures/service/schemas.json,
 * checked here to agree with the YAML); the server's scores equal to the
 * offline scorer's (the aligner opened in this process on the same files,
 * and `kgalign align`); /metrics accepted by `promtool check metrics`;
 * reload with a damaged model keeps the old snapshot and counts the failure;
 * SIGTERM under load loses no accepted request; the in-flight cap answers
 * 503 at once instead of queueing.
 *
 * The server listens on --port 0 (the kernel picks a free port, so two runs
 * never collide) and the test reads the port from its "listening" log line.
 * The child dies with the test (PR_SET_PDEATHSIG). Process and HTTP client:
 * tests/server_harness.c.
 *
 * Environment: KGALIGN (the binary, default ./kgalign); KGA_NO_PROMTOOL=1
 * to run without promtool (Debian package prometheus), which is otherwise a
 * failure.
 *
 * tests/fixtures/service/schemas.json is components.schemas of openapi.yaml
 * without descriptions and examples, written by (from the repository root,
 * with python3-yaml):
 *   python3 -c 'import yaml, json, sys; s = lambda x: {k: s(v) for k, v in
 *     x.items() if k not in ("description", "example")} if isinstance(x,
 *     dict) else [s(v) for v in x] if isinstance(x, list) else x;
 *     json.dump({"schemas": s(yaml.safe_load(open("proto/openapi.yaml"))
 *     ["components"]["schemas"])}, sys.stdout, indent=2); print()'
 *     > tests/fixtures/service/schemas.json
 * The test schemas_agree_with_openapi fails when the two drift apart. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "align/aligner.h"
#include "align/inline_entity.h"
#include "store/store.h"

#include "server_harness.h"
#include "testutil.h"

/* Test links used by the checks (the first ones of test_links.tsv). */
#define N_LINKS 300

/* Everything the test writes is under tmp: the data (left.kgs, right.kgs,
 * model.kgm, the links) and the server's log in tmp/data, the data_dir of
 * tests/server_harness.c. */
static char tmp[200];
static char model1[320];    /* data_dir/model.kgm */
static char model2[320];    /* same data, another seed: another version */
static char schemas_path[512];
static const char *kgalign;
static char *link_left[N_LINKS], *link_right[N_LINKS];
static size_t n_links;

/* ------------------------------------------------------------------------
 * Small utilities
 * ------------------------------------------------------------------------ */

/* A growing string. */
typedef struct {
    char *s;
    size_t len, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s != NULL ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
}

/* ------------------------------------------------------------------------
 * The server process
 * ------------------------------------------------------------------------ */

/* Starts `kgalign serve` on the fixture with model (NULL: model1) and
 * extra flags args (NULL-terminated, may be NULL). Returns once the server
 * listens; does not wait for the snapshot. */
static void service_start(server_t *s, const char *model,
                          const char *const *args)
{
    const char *argv[32] = {"--model", model != NULL ? model : model1};
    int n = 2;
    for (int i = 0; args != NULL && args[i] != NULL; i++) {
        ck_assert_int_lt(n, 31);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    server_start(s, NULL, argv);
}

/* ------------------------------------------------------------------------
 * The schemas of proto/openapi.yaml, as JSON, and a validator for the
 * subset of JSON Schema the document uses. Every keyword it meets must be
 * one it knows: a schema that starts using another one fails here instead
 * of being checked loosely.
 * ------------------------------------------------------------------------ */

static json_t *schemas; /* the "schemas" object of schemas.json */

/* The "schemas" object of the file, or NULL with a message on stderr. */
static json_t *load_schemas(const char *path)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (doc == NULL) {
        fprintf(stderr, "%s:%d: %s (run from the repository root)\n", path,
                je.line, je.text);
        return NULL;
    }
    json_t *s = json_incref(json_object_get(doc, "schemas"));
    json_decref(doc);
    if (!json_is_object(s)) {
        fprintf(stderr, "%s has no \"schemas\" object\n", path);
        json_decref(s);
        return NULL;
    }
    return s;
}

/* Number of UTF-8 code points. */
static size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int why_set(char *why, size_t cap, const char *path, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
static int why_set(char *why, size_t cap, const char *path, const char *fmt,
                   ...)
{
    int n = snprintf(why, cap, "%s: ", path[0] != '\0' ? path : "(root)");
    if (n < 0 || (size_t)n >= cap)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* A count (a string's characters, an array's items) against the schema's
 * bounds min_key and max_key, each optional: -1 and why ("<below> N<unit>"
 * or "<above> N<unit>") when outside. */
static int validate_count(const json_t *schema, const char *min_key,
                          const char *max_key, json_int_t n, const char *below,
                          const char *above, const char *unit,
                          const char *path, char *why, size_t cap)
{
    json_t *mn = json_object_get(schema, min_key);
    json_t *mx = json_object_get(schema, max_key);
    if (mn != NULL && n < json_integer_value(mn))
        return why_set(why, cap, path, "%s %lld%s", below,
                       (long long)json_integer_value(mn), unit);
    if (mx != NULL && n > json_integer_value(mx))
        return why_set(why, cap, path, "%s %lld%s", above,
                       (long long)json_integer_value(mx), unit);
    return 0;
}

static int validate(json_t *schema, json_t *inst, const char *path,
                    char *why, size_t cap);

static int validate_type(const char *type, json_t *inst)
{
    if (strcmp(type, "object") == 0)
        return json_is_object(inst);
    if (strcmp(type, "array") == 0)
        return json_is_array(inst);
    if (strcmp(type, "string") == 0)
        return json_is_string(inst);
    if (strcmp(type, "number") == 0)
        return json_is_number(inst);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(inst);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(inst);
    return -1;
}

static int validate_object(json_t *schema, json_t *inst, const char *path,
                           char *why, size_t cap)
{
    char sub[512];
    json_t *props = json_object_get(schema, "properties");
    json_t *req = json_object_get(schema, "required");
    size_t i;
    json_t *v;
    json_array_foreach(req, i, v)
    {
        if (json_object_get(inst, json_string_value(v)) == NULL)
            return why_set(why, cap, path, "required property '%s' missing",
                           json_string_value(v));
    }
    json_t *addl = json_object_get(schema, "additionalProperties");
    const char *key;
    json_object_foreach(inst, key, v)
    {
        json_t *ps = json_object_get(props, key);
        snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", key);
        if (ps == NULL) {
            if (json_is_false(addl))
                return why_set(why, cap, path, "unexpected property '%s'",
                               key);
            continue;
        }
        if (validate(ps, v, sub, why, cap) != 0)
            return -1;
    }
    return 0;
}

static int validate(json_t *schema, json_t *inst, const char *path,
                    char *why, size_t cap)
{
    static const char *known[] = {
        "$ref",      "oneOf",      "type",     "nullable",  "enum",
        "minLength", "maxLength",  "pattern",  "minimum",   "maximum",
        "minItems",  "maxItems",   "items",    "required",  "properties",
        "additionalProperties",    "default",  "description", "example"};
    const char *key;
    json_t *v;
    json_object_foreach(schema, key, v)
    {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k], key) != 0)
            k++;
        if (k == sizeof known / sizeof known[0])
            return why_set(why, cap, path,
                           "schema keyword '%s' is not supported by the "
                           "validator",
                           key);
    }
    json_t *ref = json_object_get(schema, "$ref");
    if (ref != NULL) {
        const char *r = json_string_value(ref);
        const char *prefix = "#/components/schemas/";
        if (r == NULL || strncmp(r, prefix, strlen(prefix)) != 0)
            return why_set(why, cap, path, "unsupported $ref %s",
                           r != NULL ? r : "(not a string)");
        json_t *target = json_object_get(schemas, r + strlen(prefix));
        if (target == NULL)
            return why_set(why, cap, path, "$ref to unknown schema %s", r);
        return validate(target, inst, path, why, cap);
    }
    json_t *one = json_object_get(schema, "oneOf");
    if (one != NULL) {
        size_t i, matches = 0;
        json_t *alt;
        char first[512] = "";
        json_array_foreach(one, i, alt)
        {
            char w[512];
            if (validate(alt, inst, path, w, sizeof w) == 0)
                matches++;
            else if (first[0] == '\0')
                snprintf(first, sizeof first, "%s", w);
        }
        if (matches != 1)
            return why_set(why, cap, path,
                           "matches %zu of the oneOf alternatives (first "
                           "refusal: %s)",
                           matches, first);
        return 0;
    }
    if (json_is_null(inst)) {
        if (json_is_true(json_object_get(schema, "nullable")) ||
            json_object_get(schema, "type") == NULL)
            return 0;
        return why_set(why, cap, path, "null where the schema is not nullable");
    }
    json_t *type = json_object_get(schema, "type");
    if (type != NULL) {
        int ok = validate_type(json_string_value(type), inst);
        if (ok < 0)
            return why_set(why, cap, path, "unknown type %s",
                           json_string_value(type));
        if (!ok)
            return why_set(why, cap, path, "expected %s",
                           json_string_value(type));
    }
    json_t *en = json_object_get(schema, "enum");
    if (en != NULL) {
        size_t i;
        json_t *e;
        int found = 0;
        json_array_foreach(en, i, e) found |= json_equal(e, inst);
        if (!found) {
            char *d = json_dumps(inst, JSON_ENCODE_ANY);
            why_set(why, cap, path, "%s is not in the enum", d);
            free(d);
            return -1;
        }
    }
    if (json_is_string(inst)) {
        const char *s = json_string_value(inst);
        if (validate_count(schema, "minLength", "maxLength",
                           (json_int_t)utf8_length(s), "shorter than",
                           "longer than", "", path, why, cap) != 0)
            return -1;
        json_t *pat = json_object_get(schema, "pattern");
        if (pat != NULL) {
            regex_t re;
            if (regcomp(&re, json_string_value(pat), REG_EXTENDED | REG_NOSUB) !=
                0)
                return why_set(why, cap, path, "bad pattern %s",
                               json_string_value(pat));
            int m = regexec(&re, s, 0, NULL, 0);
            regfree(&re);
            if (m != 0)
                return why_set(why, cap, path, "'%.80s' does not match %s", s,
                               json_string_value(pat));
        }
    }
    if (json_is_number(inst)) {
        double x = json_number_value(inst);
        json_t *mn = json_object_get(schema, "minimum");
        json_t *mx = json_object_get(schema, "maximum");
        if (mn != NULL && x < json_number_value(mn))
            return why_set(why, cap, path, "%g below the minimum", x);
        if (mx != NULL && x > json_number_value(mx))
            return why_set(why, cap, path, "%g above the maximum", x);
    }
    if (json_is_array(inst)) {
        if (validate_count(schema, "minItems", "maxItems",
                           (json_int_t)json_array_size(inst), "fewer than",
                           "more than", " items", path, why, cap) != 0)
            return -1;
        json_t *items = json_object_get(schema, "items");
        if (items != NULL) {
            size_t i;
            json_t *it;
            json_array_foreach(inst, i, it)
            {
                char sub[512];
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                if (validate(items, it, sub, why, cap) != 0)
                    return -1;
            }
        }
    }
    if (json_is_object(inst))
        return validate_object(schema, inst, path, why, cap);
    return 0;
}

/* NULL when inst is valid against components.schemas.NAME, else why. */
static const char *validate_named(const char *name, json_t *inst, char *why,
                                  size_t cap)
{
    json_t *s = json_object_get(schemas, name);
    if (s == NULL) {
        snprintf(why, cap, "no schema %s", name);
        return why;
    }
    return validate(s, inst, "", why, cap) == 0 ? NULL : why;
}

/* ------------------------------------------------------------------------
 * Holding responses to the contract
 * ------------------------------------------------------------------------ */

/* Status, a JSON body valid against schema, X-Request-Id header = body. */
static void expect(const http_resp_t *r, int status, const char *schema)
{
    ck_assert_msg(r->status == status, "status %d, want %d; body %s",
                  r->status, status, r->body);
    ck_assert_msg(r->json != NULL, "body is not JSON: %s", r->body);
    char why[1024];
    const char *bad = validate_named(schema, r->json, why, sizeof why);
    ck_assert_msg(bad == NULL, "response not valid against %s: %s\nbody: %s",
                  schema, bad, r->body);
    char v[256], ct[128];
    ck_assert_ptr_nonnull(http_header(r, "X-Request-Id", v, sizeof v));
    ck_assert_str_eq(v, json_str_at(r->json, "request_id"));
    ck_assert_ptr_nonnull(http_header(r, "Content-Type", ct, sizeof ct));
    ck_assert_msg(strncmp(ct, "application/json", 16) == 0, "%s", ct);
}

/* An error response with code, whose message contains needle (if any). */
static void expect_error(const http_resp_t *r, int status, const char *code,
                         const char *needle)
{
    expect(r, status, "Error");
    const char *c = json_str_at(r->json, "error.code");
    ck_assert_msg(strcmp(c, code) == 0, "error code %s, want %s; body %s", c,
                  code, r->body);
    const char *m = json_str_at(r->json, "error.message");
    if (needle != NULL)
        ck_assert_msg(strstr(m, needle) != NULL,
                      "message '%s' does not name '%s'", m, needle);
}

/* The value of kgalign_snapshot_version for model version mv in the
 * exposition text (metric_value's NAN when absent). */
static double snapshot_version_metric(const char *text, const char *mv)
{
    char series[128];
    snprintf(series, sizeof series,
             "kgalign_snapshot_version{model_version=\"%s\"}", mv);
    return metric_value(text, series);
}

/* ------------------------------------------------------------------------
 * Log lines
 * ------------------------------------------------------------------------ */

/* Every line of the log parsed (asserts each is a JSON object with time,
 * level and event); a JSON array, caller owns. */
static json_t *log_lines(const server_t *s)
{
    char *log = read_log(s);
    json_t *all = json_array();
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        ck_assert_msg(json_is_object(j), "log line is not a JSON object: %s",
                      line);
        ck_assert_msg(json_is_string(json_object_get(j, "time")) &&
                          json_is_string(json_object_get(j, "level")) &&
                          json_is_string(json_object_get(j, "event")),
                      "log line without time, level or event: %s", line);
        json_array_append_new(all, j);
    }
    free(log);
    return all;
}

/* The request log line with this id (borrowed from lines), or NULL;
 * asserts there is at most one. */
static json_t *log_request_line(json_t *lines, const char *id)
{
    json_t *found = NULL, *l;
    size_t i;
    json_array_foreach(lines, i, l)
    {
        const char *ev = json_string_value(json_object_get(l, "event"));
        const char *rid = json_string_value(json_object_get(l, "request_id"));
        if (strcmp(ev, "request") == 0 && rid != NULL && strcmp(rid, id) == 0) {
            ck_assert_msg(found == NULL, "two log lines for request %s", id);
            found = l;
        }
    }
    return found;
}

static json_t *log_event(json_t *lines, const char *event)
{
    json_t *l;
    size_t i;
    json_array_foreach(lines, i, l)
    {
        if (strcmp(json_string_value(json_object_get(l, "event")), event) == 0)
            return l;
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Metrics
 * ------------------------------------------------------------------------ */

/* promtool's verdict on text: its exit status, its output in out. -2 when
 * promtool is not installed. */
static int promtool_check(const char *text, char *out, size_t cap)
{
    if (kga_test_system("command -v promtool > /dev/null 2>&1") != 0)
        return -2;
    char in[600], res[600];
    snprintf(in, sizeof in, "%s/metrics-%d.txt", tmp, (int)getpid());
    snprintf(res, sizeof res, "%s/promtool-%d.txt", tmp, (int)getpid());
    FILE *f = fopen(in, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    int rc = kga_test_system("promtool check metrics < %s > %s 2>&1", in, res);
    char *o = kga_test_read_file(res, NULL);
    snprintf(out, cap, "%s", o);
    free(o);
    return rc;
}

/* ------------------------------------------------------------------------
 * Request bodies
 * ------------------------------------------------------------------------ */

/* The JSON text of j, which it takes (the caller frees the text). */
static char *json_text(json_t *j)
{
    ck_assert_ptr_nonnull(j);
    char *text = json_dumps(j, 0);
    json_decref(j);
    ck_assert_ptr_nonnull(text);
    return text;
}

/* A pair, as the object of an AlignRequest's "pairs". */
static json_t *pair_json(const char *left, const char *right)
{
    return json_pack("{s:s, s:s}", "left", left, "right", right);
}

/* j with "explain": true when explain is set; j is returned. */
static json_t *with_explain(json_t *j, int explain)
{
    if (explain)
        json_object_set_new(j, "explain", json_true());
    return j;
}

static char *single_body(const char *left, const char *right, int explain)
{
    return json_text(with_explain(pair_json(left, right), explain));
}

/* n pairs: test link i, or for odd i when shuffled the left of link i with
 * the right of link i*7 (mostly non-matches). */
static char *batch_body(size_t n, int shuffled, int explain)
{
    json_t *pairs = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t l = i % n_links;
        size_t r = shuffled && (i & 1) ? (i * 7) % n_links : l;
        json_array_append_new(pairs, pair_json(link_left[l], link_right[r]));
    }
    return json_text(with_explain(json_pack("{s:o}", "pairs", pairs), explain));
}

static char *match_body(const char *side, const char *id, int k, int explain)
{
    return json_text(
        with_explain(json_pack("{s:s, s:i}", side, id, "k", k), explain));
}

/* ------------------------------------------------------------------------
 * The contract itself: schemas.json agrees with openapi.yaml
 * ------------------------------------------------------------------------ */

/* Facts about each schema, as sortable strings:
 *   "NAME|schema", "NAME|prop|a.b", "NAME|required|a|x,y", "NAME|enum|a|x,y"
 * where a.b is the path through nested properties. */
typedef struct {
    char **v;
    size_t n, cap;
} facts_t;

static void facts_add(facts_t *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void facts_add(facts_t *f, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 64;
        f->v = realloc(f->v, f->cap * sizeof *f->v);
    }
    f->v[f->n++] = strdup(buf);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void facts_free(facts_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
    memset(f, 0, sizeof *f);
}

/* "[a, 'b', c]" -> "a,b,c" */
static void flow_list(const char *v, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = v; *p && *p != ']'; p++) {
        if (*p == '[' || *p == ' ' || *p == '"' || *p == '\'')
            continue;
        if (o + 1 < cap)
            out[o++] = *p;
    }
    out[o] = '\0';
}

/* Reads components.schemas of an OpenAPI YAML document by indentation:
 * enough for the block style the document is written in. */
static void yaml_facts(const char *text, facts_t *f)
{
    struct {
        int indent;
        char key[128];
        int is_prop;
    } st[32];
    int depth = 0, in_components = 0, in_schemas = 0;
    char schema[128] = "", list_kind[128] = "", list_path[512] = "";
    char list_items[2048] = "";
    int list_indent = -1;
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
        int indent = 0;
        const char *t = line;
        if (line != NULL) {
            while (*t == ' ')
                t++;
            indent = (int)(t - line);
            size_t tl = strlen(t);
            while (tl > 0 && (t[tl - 1] == '\r' || t[tl - 1] == ' '))
                tl--;
            line[(size_t)(t - line) + tl] = '\0';
            if (*t == '\0' || *t == '#')
                continue;
        }
        /* A block list ends at the first line that is not one of its
         * items. */
        if (list_kind[0] != '\0' &&
            (line == NULL || strncmp(t, "- ", 2) != 0 || indent < list_indent)) {
            facts_add(f, "%s|%s|%s|%s", schema, list_kind, list_path,
                      list_items);
            list_kind[0] = '\0';
        }
        if (line == NULL)
            break;
        if (indent == 0) {
            in_components = strcmp(t, "components:") == 0;
            in_schemas = 0;
            continue;
        }
        if (!in_components)
            continue;
        if (indent <= 2) {
            in_schemas = strcmp(t, "schemas:") == 0;
            continue;
        }
        if (!in_schemas)
            continue;
        if (strncmp(t, "- ", 2) == 0) {
            if (list_kind[0] != '\0') {
                char item[256];
                flow_list(t + 2, item, sizeof item);
                size_t il = strlen(list_items);
                snprintf(list_items + il, sizeof list_items - il, "%s%s",
                         il ? "," : "", item);
            }
            continue;
        }
        const char *colon = strchr(t, ':');
        if (colon == NULL)
            continue;
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(colon - t), t);
        const char *value = colon + 1;
        while (*value == ' ')
            value++;
        if (indent == 4) {
            snprintf(schema, sizeof schema, "%s", key);
            facts_add(f, "%s|schema", schema);
            depth = 0;
            continue;
        }
        while (depth > 0 && st[depth - 1].indent >= indent)
            depth--;
        int is_prop = depth > 0 && strcmp(st[depth - 1].key, "properties") == 0;
        char path[512] = "";
        for (int i = 0; i < depth; i++)
            if (st[i].is_prop) {
                size_t pl = strlen(path);
                snprintf(path + pl, sizeof path - pl, "%s%s", pl ? "." : "",
                         st[i].key);
            }
        if (is_prop) {
            facts_add(f, "%s|prop|%s%s%s", schema, path, path[0] ? "." : "",
                      key);
        } else if (strcmp(key, "required") == 0 || strcmp(key, "enum") == 0) {
            if (value[0] == '[') {
                char items[2048];
                flow_list(value, items, sizeof items);
                facts_add(f, "%s|%s|%s|%s", schema, key, path, items);
            } else if (value[0] == '\0') {
                snprintf(list_kind, sizeof list_kind, "%s", key);
                snprintf(list_path, sizeof list_path, "%s", path);
                list_items[0] = '\0';
                list_indent = indent;
            }
        }
        ck_assert_int_lt(depth, 32);
        st[depth].indent = indent;
        snprintf(st[depth].key, sizeof st[depth].key, "%s", key);
        st[depth].is_prop = is_prop;
        depth++;
    }
    free(copy);
}

static void json_list(json_t *arr, char *out, size_t cap)
{
    size_t i, o = 0;
    json_t *v;
    out[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        int n = snprintf(out + o, cap - o, "%s%s", i ? "," : "",
                         json_is_string(v) ? json_string_value(v) : "?");
        if (n < 0 || (size_t)n >= cap - o)
            break;
        o += (size_t)n;
    }
}

static void json_facts_walk(const char *schema, json_t *node,
                            const char *path, facts_t *f)
{
    if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) json_facts_walk(schema, v, path, f);
        return;
    }
    if (!json_is_object(node))
        return;
    const char *key;
    json_t *v;
    json_object_foreach(node, key, v)
    {
        if (strcmp(key, "properties") == 0 && json_is_object(v)) {
            const char *p;
            json_t *sub;
            json_object_foreach(v, p, sub)
            {
                char sp[512];
                snprintf(sp, sizeof sp, "%s%s%s", path, path[0] ? "." : "", p);
                facts_add(f, "%s|prop|%s", schema, sp);
                json_facts_walk(schema, sub, sp, f);
            }
        } else if ((strcmp(key, "required") == 0 || strcmp(key, "enum") == 0) &&
                   json_is_array(v)) {
            char items[2048];
            json_list(v, items, sizeof items);
            facts_add(f, "%s|%s|%s|%s", schema, key, path, items);
        } else {
            json_facts_walk(schema, v, path, f);
        }
    }
}

static void json_facts(json_t *all, facts_t *f)
{
    const char *name;
    json_t *s;
    json_object_foreach(all, name, s)
    {
        facts_add(f, "%s|schema", name);
        json_facts_walk(name, s, "", f);
    }
}

/* NULL when the two sets agree, else the first difference. */
static const char *facts_diff(facts_t *a, facts_t *b, char *why, size_t cap)
{
    qsort(a->v, a->n, sizeof *a->v, cmp_str);
    qsort(b->v, b->n, sizeof *b->v, cmp_str);
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
        if (c < 0) {
            snprintf(why, cap, "only in openapi.yaml: %s", a->v[i]);
            return why;
        }
        if (c > 0) {
            snprintf(why, cap, "only in schemas.json: %s", b->v[j]);
            return why;
        }
        i++;
        j++;
    }
    return NULL;
}

START_TEST(schemas_agree_with_openapi)
{
    char *yaml = kga_test_read_file("proto/openapi.yaml", NULL);
    ck_assert_msg(strstr(yaml, "openapi:") != NULL,
                  "proto/openapi.yaml not found (run from the repository)");
    facts_t fy = {0}, fj = {0};
    yaml_facts(yaml, &fy);
    json_facts(schemas, &fj);
    ck_assert_uint_gt(fy.n, 80); /* the reader did read the document */
    char why[2200];
    const char *d = facts_diff(&fy, &fj, why, sizeof why);
    ck_assert_msg(d == NULL, "%s disagrees with proto/openapi.yaml: %s",
                  schemas_path, d);

    /* The comparison notices a renamed property, a dropped enum value and
     * a missing required field. */
    const char *mutations[][2] = {
        {"        left_neighbour:\n", "        left_neighbor:\n"},
        {"        - deadline_exceeded\n", ""},
        {"      required: [id, distance, probability, match]\n",
         "      required: [id, distance, probability]\n"},
    };
    for (size_t m = 0; m < sizeof mutations / sizeof mutations[0]; m++) {
        const char *at = strstr(yaml, mutations[m][0]);
        ck_assert_msg(at != NULL, "mutation %zu: text not found", m);
        sbuf_t b = {0};
        sb_add(&b, "%.*s%s%s", (int)(at - yaml), yaml, mutations[m][1],
               at + strlen(mutations[m][0]));
        facts_t fm = {0}, fj2 = {0};
        yaml_facts(b.s, &fm);
        json_facts(schemas, &fj2);
        ck_assert_msg(facts_diff(&fm, &fj2, why, sizeof why) != NULL,
                      "mutation %zu went unnoticed", m);
        facts_free(&fm);
        facts_free(&fj2);
        free(b.s);
    }
    facts_free(&fy);
    facts_free(&fj);
    free(yaml);
}
END_TEST

/* The validator must refuse what the contract forbids. */
START_TEST(validator_refuses_bad_documents)
{
    char why[1024];
    const char *good[][2] = {
        {"Status", "{\"status\": \"ok\", \"request_id\": \"x\"}"},
        {"AlignResponse",
         "{\"request_id\": \"x\", \"model_version\": \"0123456789abcdef\", "
         "\"results\": [{\"left\": \"a\", \"right\": \"b\", \"distance\": null, "
         "\"probability\": 0.5, \"match\": true}, {\"left\": \"a\", \"right\": "
         "\"c\", \"error\": {\"code\": \"unknown_id\", \"message\": \"m\"}}]}"},
    };
    const char *bad[][2] = {
        {"Status", "{\"status\": \"fine\", \"request_id\": \"x\"}"},
        {"Status", "{\"status\": \"ok\"}"},
        {"Status", "{\"status\": \"ok\", \"request_id\": \"x\", \"extra\": 1}"},
        {"Status", "{\"status\": \"ok\", \"request_id\": 3}"},
        {"Status",
         "{\"status\": \"ok\", \"request_id\": \"x\", \"model_version\": "
         "\"0123\"}"},
        {"Error", "{\"error\": {\"code\": \"teapot\", \"message\": \"m\"}, "
                  "\"request_id\": \"x\"}"},
        {"AlignResponse",
         "{\"request_id\": \"x\", \"model_version\": \"0123456789abcdef\", "
         "\"results\": []}"},
        {"AlignResponse",
         "{\"request_id\": \"x\", \"model_version\": \"0123456789abcdef\", "
         "\"results\": [{\"left\": \"a\", \"right\": \"b\", \"distance\": 1, "
         "\"probability\": 1.5, \"match\": true}]}"},
        {"AlignResponse",
         "{\"request_id\": \"x\", \"model_version\": \"0123456789abcdef\", "
         "\"results\": [{\"left\": \"a\", \"right\": \"b\"}]}"},
        {"MatchResponse",
         "{\"request_id\": \"x\", \"model_version\": \"0123456789abcdef\", "
         "\"query\": {\"side\": \"up\", \"id\": \"a\"}, \"candidates\": []}"},
        {"MatchResponse",
         "{\"request_id\": \"x\", \"model_version\": \"0123456789abcdef\", "
         "\"query\": {\"side\": \"left\", \"id\": \"\"}, \"candidates\": []}"},
        /* Explanation items: a kind of neither shape, a name item with a
         * neighbour's field, a neighbour pair of an unknown link or
         * without its summary. */
        {"Evidence", "{\"kind\": \"rumour\", \"summary\": \"s\"}"},
        {"Evidence", "{\"kind\": \"names\", \"similarity\": 0.5, "
                     "\"summary\": \"s\", \"weight\": 1}"},
        {"Evidence", "{\"kind\": \"names\", \"similarity\": 1.5, "
                     "\"summary\": \"s\"}"},
        {"Evidence",
         "{\"kind\": \"neighbours\", \"link\": \"guess\", \"weight\": 1, "
         "\"left_neighbour\": \"a\", \"left_relation\": \"r\", "
         "\"left_direction\": \"out\", \"right_neighbour\": \"b\", "
         "\"right_relation\": \"s\", \"right_direction\": \"in\", "
         "\"summary\": \"s\"}"},
        {"Evidence",
         "{\"kind\": \"neighbours\", \"link\": \"known\", \"weight\": 1, "
         "\"left_neighbour\": \"a\", \"left_relation\": \"r\", "
         "\"left_direction\": \"out\", \"right_neighbour\": \"b\", "
         "\"right_relation\": \"s\", \"right_direction\": \"in\"}"},
    };
    json_error_t je;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_t *j = json_loads(good[i][1], 0, &je);
        ck_assert_ptr_nonnull(j);
        const char *b = validate_named(good[i][0], j, why, sizeof why);
        ck_assert_msg(b == NULL, "good document %zu refused: %s", i, b);
        json_decref(j);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i][1], 0, &je);
        ck_assert_ptr_nonnull(j);
        ck_assert_msg(validate_named(bad[i][0], j, why, sizeof why) != NULL,
                      "bad document %zu accepted", i);
        json_decref(j);
    }
    /* A keyword the validator does not know is an error, not a pass. */
    json_t *s = json_loads("{\"type\": \"string\", \"format\": \"uuid\"}", 0,
                           &je);
    json_t *v = json_string("x");
    ck_assert_int_ne(validate(s, v, "", why, sizeof why), 0);
    json_decref(s);
    json_decref(v);
}
END_TEST

/* The golden bodies of tests/test_proto.c follow the contract too. */
START_TEST(proto_fixtures_follow_the_contract)
{
    const char *files[][2] = {
        {"align_request_single.json", "AlignRequest"},
        {"align_request_batch.json", "AlignRequest"},
        {"align_response.json", "AlignResponse"},
        {"match_request.json", "MatchRequest"},
        {"match_response.json", "MatchResponse"},
        {"match_response_explained.json", "MatchResponse"},
        {"error_response.json", "Error"},
        {"align_request_inline.json", "AlignRequest"},
        {"align_response_inline.json", "AlignResponse"},
        {"match_request_inline.json", "MatchRequest"},
        {"match_response_inline.json", "MatchResponse"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256], why[1024];
        snprintf(path, sizeof path, "tests/fixtures/proto/%s", files[i][0]);
        json_error_t je;
        json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        ck_assert_msg(j != NULL, "%s: %s", path, je.text);
        const char *bad = validate_named(files[i][1], j, why, sizeof why);
        ck_assert_msg(bad == NULL, "%s is not a valid %s: %s", path,
                      files[i][1], bad);
        json_decref(j);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * Endpoints, request ids, log lines
 * ------------------------------------------------------------------------ */

START_TEST(endpoints_and_request_ids)
{
    server_t s;
    service_start(&s, NULL, NULL);
    /* Ready within the start-up budget. */
    double until = now_s() + 20;
    http_resp_t r;
    int ready = 0;
    while (!ready && now_s() < until) {
        http_do(s.port, "GET", "/readyz", NULL, NULL, &r);
        if (r.status == 503)
            expect_error(&r, 503, "not_ready", NULL);
        ready = r.status == 200;
        http_resp_free(&r);
        if (!ready)
            sleep_ms(20);
    }
    ck_assert_msg(ready, "never ready:\n%s", read_log(&s));
    char v[256];

    http_do(s.port, "GET", "/healthz", "X-Request-Id: probe-1\r\n", NULL, &r);
    expect(&r, 200, "Status");
    ck_assert_str_eq(json_str_at(r.json, "status"), "ok");
    ck_assert_str_eq(json_str_at(r.json, "request_id"), "probe-1");
    http_resp_free(&r);

    http_do(s.port, "GET", "/readyz", NULL, NULL, &r);
    expect(&r, 200, "Status");
    ck_assert_str_eq(json_str_at(r.json, "status"), "ready");
    char mv[32];
    snprintf(mv, sizeof mv, "%s", json_str_at(r.json, "model_version"));
    /* Generated: 32 lowercase hex digits. */
    const char *id = json_str_at(r.json, "request_id");
    ck_assert_uint_eq(strlen(id), 32);
    ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 32);
    http_resp_free(&r);

    /* Echoed up to 128 bytes; replaced when too long or with a quote. */
    char hdr[300] = "X-Request-Id: ";
    memset(hdr + 14, 'q', 128);
    strcpy(hdr + 14 + 128, "\r\n");
    http_do(s.port, "GET", "/healthz", hdr, NULL, &r);
    expect(&r, 200, "Status");
    ck_assert_uint_eq(strlen(json_str_at(r.json, "request_id")), 128);
    http_resp_free(&r);
    strcpy(hdr + 14 + 128, "q\r\n");
    http_do(s.port, "GET", "/healthz", hdr, NULL, &r);
    expect(&r, 200, "Status");
    ck_assert_uint_eq(strlen(json_str_at(r.json, "request_id")), 32);
    http_resp_free(&r);
    http_do(s.port, "GET", "/healthz", "X-Request-Id: a\"b\r\n", NULL, &r);
    expect(&r, 200, "Status");
    ck_assert_uint_eq(strlen(json_str_at(r.json, "request_id")), 32);
    http_resp_free(&r);

    /* /align, one pair, and with its explanation. */
    char *body = single_body(link_left[0], link_right[0], 0);
    http_do(s.port, "POST", "/align",
            "X-Request-Id: align-1\r\nContent-Type: application/json\r\n",
            body, &r);
    expect(&r, 200, "AlignResponse");
    ck_assert_str_eq(json_str_at(r.json, "request_id"), "align-1");
    ck_assert_str_eq(json_str_at(r.json, "model_version"), mv);
    ck_assert_uint_eq(json_array_size(json_at(r.json, "results")), 1);
    ck_assert_str_eq(json_str_at(r.json, "results.0.left"), link_left[0]);
    ck_assert_ptr_null(json_at(r.json, "results.0.explanation"));
    http_resp_free(&r);
    free(body);
    body = single_body(link_left[1], link_right[1], 1);
    http_do(s.port, "POST", "/align", NULL, body, &r);
    expect(&r, 200, "AlignResponse");
    ck_assert(json_is_array(json_at(r.json, "results.0.explanation")));
    http_resp_free(&r);
    free(body);

    /* A batch with unknown ids on either side: 200, an error for those
     * pairs only, results in request order. */
    body = json_text(json_pack("{s:[o, o, o, o], s:b}", "pairs",
                               pair_json(link_left[2], link_right[2]),
                               pair_json("no-such-left", link_right[3]),
                               pair_json(link_left[4], "no-such-right"),
                               pair_json(link_left[5], link_right[5]),
                               "explain", 1));
    http_do(s.port, "POST", "/align", "X-Request-Id: batch-1\r\n", body, &r);
    expect(&r, 200, "AlignResponse");
    ck_assert_uint_eq(json_array_size(json_at(r.json, "results")), 4);
    ck_assert(json_is_number(json_at(r.json, "results.0.distance")));
    ck_assert_str_eq(json_str_at(r.json, "results.1.error.code"), "unknown_id");
    ck_assert_str_eq(json_str_at(r.json, "results.1.left"), "no-such-left");
    ck_assert_str_eq(json_str_at(r.json, "results.2.error.code"), "unknown_id");
    ck_assert_ptr_nonnull(
        strstr(json_str_at(r.json, "results.2.error.message"), "no-such-right"));
    ck_assert_str_eq(json_str_at(r.json, "results.3.left"), link_left[5]);
    ck_assert(json_is_array(json_at(r.json, "results.3.explanation")));
    http_resp_free(&r);
    free(body);

    /* /match from either side. */
    body = match_body("left", link_left[0], 5, 0);
    http_do(s.port, "POST", "/match", "X-Request-Id: match-1\r\n", body, &r);
    expect(&r, 200, "MatchResponse");
    ck_assert_str_eq(json_str_at(r.json, "query.side"), "left");
    ck_assert_str_eq(json_str_at(r.json, "query.id"), link_left[0]);
    ck_assert_uint_eq(json_array_size(json_at(r.json, "candidates")), 5);
    http_resp_free(&r);
    free(body);
    body = match_body("right", link_right[0], 3, 0);
    http_do(s.port, "POST", "/match", NULL, body, &r);
    expect(&r, 200, "MatchResponse");
    ck_assert_str_eq(json_str_at(r.json, "query.side"), "right");
    ck_assert_uint_eq(json_array_size(json_at(r.json, "candidates")), 3);
    http_resp_free(&r);
    free(body);
    /* k defaults to 10. */
    http_do(s.port, "POST", "/match", NULL, "{\"left\": \"x\"}", &r);
    expect_error(&r, 404, "unknown_id", "'x'");
    http_resp_free(&r);
    body = json_text(json_pack("{s:s}", "left", link_left[0]));
    http_do(s.port, "POST", "/match", NULL, body, &r);
    expect(&r, 200, "MatchResponse");
    ck_assert_uint_eq(json_array_size(json_at(r.json, "candidates")), 10);
    http_resp_free(&r);
    free(body);

    /* Keep-alive: several requests on one connection, each its own id. */
    int fd = http_connect(s.port);
    body = single_body(link_left[6], link_right[6], 0);
    for (int i = 0; i < 4; i++) {
        char h[64];
        snprintf(h, sizeof h, "X-Request-Id: ka-%d\r\n", i);
        ck_assert_int_eq(http_exchange(fd, i % 2 ? "GET" : "POST",
                                       i % 2 ? "/healthz" : "/align", h,
                                       i % 2 ? NULL : body, 1, &r),
                         0);
        expect(&r, 200, i % 2 ? "Status" : "AlignResponse");
        char want[16];
        snprintf(want, sizeof want, "ka-%d", i);
        ck_assert_str_eq(http_header(&r, "X-Request-Id", v, sizeof v), want);
        http_resp_free(&r);
    }
    free(body);
    close(fd);

    /* /metrics is text, with the ready model. */
    char *m = get_metrics(&s);
    ck_assert_double_eq(snapshot_version_metric(m, mv), 1);
    free(m);

    /* One JSON log line per request, with its id, method, path, status. */
    json_t *lines = log_lines(&s);
    const char *ids[][4] = {{"probe-1", "GET", "/healthz", "0"},
                            {"align-1", "POST", "/align", "1"},
                            {"batch-1", "POST", "/align", "2"},
                            {"match-1", "POST", "/match", "5"},
                            {"ka-0", "POST", "/align", "1"},
                            {"ka-3", "GET", "/healthz", "0"}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        json_t *l = log_request_line(lines, ids[i][0]);
        ck_assert_msg(l != NULL, "no log line for request %s", ids[i][0]);
        ck_assert_str_eq(json_string_value(json_object_get(l, "method")),
                         ids[i][1]);
        ck_assert_str_eq(json_string_value(json_object_get(l, "path")),
                         ids[i][2]);
        ck_assert_int_eq(json_integer_value(json_object_get(l, "status")), 200);
        ck_assert_int_eq(json_integer_value(json_object_get(l, "pairs")),
                         atoi(ids[i][3]));
        ck_assert(json_is_number(json_object_get(l, "duration_ms")));
    }
    /* Generated ids are logged too: every request has a line. */
    size_t n_req = 0, i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        if (strcmp(json_string_value(json_object_get(l, "event")), "request") ==
            0) {
            n_req++;
            ck_assert(json_is_string(json_object_get(l, "request_id")));
        }
    }
    ck_assert_uint_ge(n_req, 16);
    ck_assert_ptr_nonnull(log_event(lines, "snapshot_loaded"));
    json_decref(lines);
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * Every error status
 * ------------------------------------------------------------------------ */

START_TEST(request_errors)
{
    server_t s;
    const char *args[] = {"--max-body-bytes", "65536", "--max-pairs", "1024",
                          NULL};
    service_start(&s, NULL, args);
    wait_ready(&s);
    http_resp_t r;

    /* 400, the message naming what was wrong. */
    const char *cases[][3] = {
        {"/align", "{not json", "line 1, column"},
        {"/align", "[]", "object"},
        {"/align", "{\"left\": \"a\"}", "right"},
        {"/align", "{\"left\": \"a\", \"right\": 3}", "right"},
        {"/align",
         "{\"pairs\": [{\"left\": \"a\", \"right\": \"b\"}, "
         "{\"left\": 1, \"right\": \"b\"}]}",
         "pairs[1].left"},
        {"/align", "{\"left\": \"a\", \"right\": \"b\", \"explian\": true}",
         "explian"},
        {"/align", "{\"left\": \"a\", \"right\": \"b\", \"explain\": \"yes\"}",
         "explain"},
        {"/align", "{\"left\": \"a\", \"left\": \"b\", \"right\": \"c\"}",
         "duplicate"},
        {"/align", "{\"pairs\": []}", "pairs"},
        {"/align", "", "body"},
        {"/align",
         "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", "deep"},
        {"/match", "{\"left\": \"a\", \"k\": 0}", "k"},
        {"/match", "{\"left\": \"a\", \"k\": 1001}", "k"},
        {"/match", "{\"left\": \"a\", \"right\": \"b\"}", "left"},
        {"/match", "{\"k\": 3}", "left"},
        {"/match", "{\"left\": \"a\", \"kk\": 3}", "kk"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_do(s.port, "POST", cases[i][0], NULL, cases[i][1], &r);
        ck_assert_msg(r.status == 400, "case %zu (%s): status %d %s", i,
                      cases[i][1], r.status, r.body);
        expect_error(&r, 400, "bad_request", NULL);
        const char *m = json_str_at(r.json, "error.message");
        ck_assert_msg(strstr(m, cases[i][2]) != NULL ||
                          (strcmp(cases[i][2], "deep") == 0 &&
                           strstr(m, "nest") != NULL),
                      "case %zu: message '%s' does not name '%s'", i, m,
                      cases[i][2]);
        http_resp_free(&r);
    }

    /* 404: an unknown path (any method), an unknown /match id. */
    http_do(s.port, "GET", "/nowhere", NULL, NULL, &r);
    expect_error(&r, 404, "not_found", NULL);
    http_resp_free(&r);
    http_do(s.port, "POST", "/align/", NULL, "{}", &r);
    expect_error(&r, 404, "not_found", NULL);
    http_resp_free(&r);
    http_do(s.port, "POST", "/match", NULL, "{\"right\": \"nobody\"}", &r);
    expect_error(&r, 404, "unknown_id", "nobody");
    ck_assert_ptr_nonnull(json_str_at(r.json, "model_version"));
    http_resp_free(&r);

    /* 405 with Allow. */
    const char *m405[][3] = {{"GET", "/align", "POST"},
                             {"PUT", "/match", "POST"},
                             {"POST", "/healthz", "GET, HEAD"},
                             {"DELETE", "/readyz", "GET, HEAD"},
                             {"POST", "/metrics", "GET, HEAD"},
                             {"GET", "/admin/reload", "POST"}};
    for (size_t i = 0; i < sizeof m405 / sizeof m405[0]; i++) {
        char v[64];
        http_do(s.port, m405[i][0], m405[i][1], NULL, NULL, &r);
        expect_error(&r, 405, "method_not_allowed", NULL);
        ck_assert_ptr_nonnull(http_header(&r, "Allow", v, sizeof v));
        ck_assert_str_eq(v, m405[i][2]);
        http_resp_free(&r);
    }

    /* 413 by body size: announced by Content-Length ... */
    sbuf_t big = {0};
    sb_add(&big, "{\"left\": \"a\", \"right\": \"b\"}");
    while (big.len < 70000)
        sb_add(&big, "          ");
    http_do(s.port, "POST", "/align", NULL, big.s, &r);
    expect_error(&r, 413, "payload_too_large", "max_body_bytes");
    http_resp_free(&r);
    /* ... and found while reading a chunked body. */
    int fd = http_connect(s.port);
    const char *head = "POST /align HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n";
    send_all(fd, head, strlen(head));
    for (int c = 0; c < 8; c++) {
        char chunk[64];
        snprintf(chunk, sizeof chunk, "%x\r\n", 10000);
        send_all(fd, chunk, strlen(chunk));
        send_all(fd, big.s + 10000 * (size_t)c % 60000, 10000);
        send_all(fd, "\r\n", 2);
    }
    send_all(fd, "0\r\n\r\n", 5);
    ck_assert_int_eq(http_read(fd, &r), 0);
    expect_error(&r, 413, "payload_too_large", "max_body_bytes");
    http_resp_free(&r);
    close(fd);
    free(big.s);

    /* 413 by pair count, under the body limit; the message names pairs. */
    sbuf_t many = {0};
    sb_add(&many, "{\"pairs\": [");
    for (int i = 0; i < 1025; i++)
        sb_add(&many, "%s{\"left\":\"a\",\"right\":\"b\"}", i ? "," : "");
    sb_add(&many, "]}");
    ck_assert_uint_lt(many.len, 65536);
    http_do(s.port, "POST", "/align", NULL, many.s, &r);
    expect_error(&r, 413, "payload_too_large", "pairs");
    http_resp_free(&r);
    free(many.s);
    /* Each refusal has its log line, with its status. */
    json_t *lines = log_lines(&s);
    int by_status[600] = {0};
    size_t li;
    json_t *l;
    json_array_foreach(lines, li, l)
    {
        if (strcmp(json_string_value(json_object_get(l, "event")), "request") ==
            0) {
            json_int_t st = json_integer_value(json_object_get(l, "status"));
            ck_assert(st >= 100 && st < 600);
            by_status[st]++;
        }
    }
    json_decref(lines);
    ck_assert_int_eq(by_status[400], (int)(sizeof cases / sizeof cases[0]));
    ck_assert_int_eq(by_status[404], 3);
    ck_assert_int_eq(by_status[405], (int)(sizeof m405 / sizeof m405[0]));
    ck_assert_int_eq(by_status[413], 3);
    server_stop(&s);

    /* With room for the body, 1024 pairs (the limit) are fine. */
    char *ok = batch_body(1024, 1, 0);
    ck_assert_uint_gt(strlen(ok), 65536);

    const char *args2[] = {"--max-pairs", "1024", NULL};
    service_start(&s, NULL, args2);
    wait_ready(&s);
    http_do(s.port, "POST", "/align", NULL, ok, &r);
    expect(&r, 200, "AlignResponse");
    ck_assert_uint_eq(json_array_size(json_at(r.json, "results")), 1024);
    http_resp_free(&r);
    free(ok);

    char *m = get_metrics(&s);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"/align\",status=\"200\"}"),
        1);
    free(m);
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * The server scores as the offline scorer does
 * ------------------------------------------------------------------------ */

static kga_aligner_t *open_aligner(const char *model)
{
    kga_aligner_options_t o = {.threads = 2, .threshold = -1.0f};
    kga_aligner_t *a = NULL;
    kga_err_t err;
    char left[400], right[400];
    snprintf(left, sizeof left, "%s/left.kgs", data_dir);
    snprintf(right, sizeof right, "%s/right.kgs", data_dir);
    int rc = kga_aligner_open(left, right, model, &o, &a, &err);
    ck_assert_msg(rc == 0, "kga_aligner_open: %s", err.msg);
    return a;
}

static uint32_t lookup(const kga_aligner_t *a, kga_side_t side, const char *id)
{
    int64_t e = kga_store_lookup(kga_aligner_store(a, side), id);
    ck_assert_msg(e >= 0, "id %s not in the %s store", id,
                  side == KGA_SIDE_LEFT ? "left" : "right");
    return (uint32_t)e;
}

/* POSTs /match for id on side (0: left, 1: right) asking for k candidates
 * (explained when asked) into r and holds the response to the contract;
 * puts the aligner's own answer to the same query in c (the query's entity
 * in *query), which the response must list as many of. Returns that
 * count. */
static size_t match_query(int port, const kga_aligner_t *a, int side,
                          const char *id, size_t k, int explain,
                          http_resp_t *r, kga_candidate_t *c,
                          uint32_t *query)
{
    char *body = match_body(side == 0 ? "left" : "right", id, (int)k, explain);
    http_do(port, "POST", "/match", NULL, body, r);
    free(body);
    expect(r, 200, "MatchResponse");
    kga_side_t qs = side == 0 ? KGA_SIDE_LEFT : KGA_SIDE_RIGHT;
    *query = lookup(a, qs, id);
    size_t nc = kga_aligner_match(a, qs, *query, k, c);
    ck_assert_uint_eq(json_array_size(json_at(r->json, "candidates")), nc);
    return nc;
}

/* |got - want| <= 1e-5 (JSON null only for a non-finite want). */
static void expect_close(json_t *got, float want, const char *what, size_t i)
{
    if (!isfinite(want)) {
        ck_assert_msg(json_is_null(got), "%s[%zu]: want null", what, i);
        return;
    }
    ck_assert_msg(json_is_number(got), "%s[%zu]: not a number", what, i);
    double g = json_number_value(got);
    ck_assert_msg(fabs(g - (double)want) <= 1e-5,
                  "%s[%zu]: server %.9g, offline %.9g", what, i, g,
                  (double)want);
}

/* An "explanation" array against the aligner's evidence for (l, r): the
 * same items in the same order, with the stores' ids, names and relation
 * names, and a summary line. */
static void expect_explanation(json_t *ex, const kga_aligner_t *a, uint32_t l,
                               uint32_t r, const kga_evidence_t *ev, size_t ne)
{
    const kga_store_t *ls = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *rs = kga_aligner_store(a, KGA_SIDE_RIGHT);
    static const char *const link[] = {"", "known", "pseudo_seed",
                                       "mutual_best"};
    ck_assert_uint_eq(json_array_size(ex), ne);
    for (size_t e = 0; e < ne; e++) {
        json_t *x = json_array_get(ex, e);
        ck_assert_ptr_nonnull(json_str_at(x, "summary"));
        if (ev[e].kind == KGA_EVIDENCE_NAMES) {
            ck_assert_str_eq(json_str_at(x, "kind"), "names");
            expect_close(json_object_get(x, "similarity"), ev[e].weight,
                         "similarity", e);
            ck_assert_str_eq(json_str_at(x, "left_name"),
                             kga_store_entity_name(ls, l));
            ck_assert_str_eq(json_str_at(x, "right_name"),
                             kga_store_entity_name(rs, r));
            continue;
        }
        ck_assert_str_eq(json_str_at(x, "kind"), "neighbours");
        ck_assert_str_eq(json_str_at(x, "link"), link[ev[e].kind]);
        ck_assert_str_eq(json_str_at(x, "left_neighbour"),
                         kga_store_entity_ext_id(ls, ev[e].left_neighbour));
        ck_assert_str_eq(json_str_at(x, "right_neighbour"),
                         kga_store_entity_ext_id(rs, ev[e].right_neighbour));
        ck_assert_str_eq(json_str_at(x, "left_name"),
                         kga_store_entity_name(ls, ev[e].left_neighbour));
        ck_assert_str_eq(json_str_at(x, "right_name"),
                         kga_store_entity_name(rs, ev[e].right_neighbour));
        ck_assert_str_eq(json_str_at(x, "left_relation"),
                         kga_store_relation_name(ls, ev[e].left_relation));
        ck_assert_str_eq(json_str_at(x, "right_relation"),
                         kga_store_relation_name(rs, ev[e].right_relation));
        ck_assert_str_eq(json_str_at(x, "left_direction"),
                         ev[e].left_dir == KGA_DIR_OUT ? "out" : "in");
        ck_assert_str_eq(json_str_at(x, "right_direction"),
                         ev[e].right_dir == KGA_DIR_OUT ? "out" : "in");
        expect_close(json_object_get(x, "weight"), ev[e].weight, "weight", e);
    }
}

START_TEST(scores_equal_offline)
{
    server_t s;
    /* Any measured cost counts as cheap (sanitizer builds are slow): both
     * ways of scoring a pair are compared below. */
    const char *args[] = {"--max-inflight", "64", "--inline-max-us",
                          "1000000", NULL};
    service_start(&s, NULL, args);
    kga_aligner_t *a = open_aligner(model1);
    const kga_store_t *ls = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *rs = kga_aligner_store(a, KGA_SIDE_RIGHT);
    wait_ready(&s);
    http_resp_t r;

    /* /align: the test links and as many mismatched pairs, in one batch,
     * with explanations. */
    size_t n = 2 * n_links;
    char *body = batch_body(n, 1, 1);
    http_do(s.port, "POST", "/align", NULL, body, &r);
    free(body);
    expect(&r, 200, "AlignResponse");
    ck_assert_str_eq(json_str_at(r.json, "model_version"),
                     kga_aligner_model_version(a));
    json_t *results = json_at(r.json, "results");
    ck_assert_uint_eq(json_array_size(results), n);
    uint32_t *li = malloc(n * sizeof *li), *ri = malloc(n * sizeof *ri);
    kga_pair_score_t *sc = malloc(n * sizeof *sc);
    for (size_t i = 0; i < n; i++) {
        json_t *res = json_array_get(results, i);
        li[i] = lookup(a, KGA_SIDE_LEFT, json_str_at(res, "left"));
        ri[i] = lookup(a, KGA_SIDE_RIGHT, json_str_at(res, "right"));
    }
    kga_aligner_score(a, li, ri, n, sc);
    size_t matches = 0, named = 0, pairs = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *res = json_array_get(results, i);
        expect_close(json_object_get(res, "distance"), sc[i].distance,
                     "distance", i);
        expect_close(json_object_get(res, "probability"), sc[i].probability,
                     "probability", i);
        ck_assert_msg(json_is_true(json_object_get(res, "match")) ==
                          (sc[i].match != 0),
                      "match[%zu] differs", i);
        matches += sc[i].match != 0;
        /* The explanation is the aligner's evidence, best first. */
        kga_evidence_t ev[6];
        size_t ne = kga_aligner_explain(a, li[i], ri[i], ev, 6);
        expect_explanation(json_object_get(res, "explanation"), a, li[i],
                           ri[i], ev, ne);
        named += ne > 0 && ev[0].kind == KGA_EVIDENCE_NAMES &&
                 json_object_get(json_array_get(json_object_get(
                                                    res, "explanation"),
                                                0),
                                 "left_name") != NULL;
        for (size_t e = 0; e < ne; e++)
            pairs += ev[e].kind != KGA_EVIDENCE_NAMES;
    }
    /* The fixture's entities have names, and neighbours in known links. */
    ck_assert_uint_eq(named, n);
    ck_assert_uint_gt(pairs, n);
    /* The batch holds both kinds: the comparison saw matches and not. */
    ck_assert_uint_gt(matches, n / 4);
    ck_assert_uint_lt(matches, n);
    http_resp_free(&r);

    /* One pair per request, as most clients send them. The first ones go
     * to a worker; once those were measured cheap, the next ones are
     * scored on their HTTP thread. Either way the scores are the
     * aligner's. */
    size_t n_single = 60;
    for (size_t i = 0; i < n_single; i++) {
        body = single_body(kga_store_entity_ext_id(ls, li[i]),
                           kga_store_entity_ext_id(rs, ri[i]), 0);
        http_do(s.port, "POST", "/align", NULL, body, &r);
        free(body);
        expect(&r, 200, "AlignResponse");
        json_t *res = json_array_get(json_at(r.json, "results"), 0);
        expect_close(json_object_get(res, "distance"), sc[i].distance,
                     "single-pair distance", i);
        expect_close(json_object_get(res, "probability"), sc[i].probability,
                     "single-pair probability", i);
        http_resp_free(&r);
    }
    char *metrics = get_metrics(&s);
    double inlined = metric_value(metrics, "kgalign_inline_requests_total");
    free(metrics);
    printf("single pairs: %.0f of %zu scored on the HTTP thread\n", inlined,
           n_single);
    ck_assert_msg(inlined >= 1 && inlined < (double)n_single,
                  "%.0f of %zu single pairs scored inline: both paths "
                  "should have run",
                  inlined, n_single);
    free(li);
    free(ri);
    free(sc);

    /* /match: the aligner's candidates, in its order, with its scores;
     * the true partner first for most test links, from both sides. */
    size_t hits_l = 0, hits_r = 0, nq = 100;
    for (size_t q = 0; q < nq; q++) {
        for (int side = 0; side < 2; side++) {
            const char *id = side == 0 ? link_left[q] : link_right[q];
            kga_candidate_t c[10];
            uint32_t qe;
            size_t nc = match_query(s.port, a, side, id, 10, 0, &r, c, &qe);
            json_t *cands = json_at(r.json, "candidates");
            const kga_store_t *os = side == 0 ? rs : ls;
            for (size_t k = 0; k < nc; k++) {
                json_t *cj = json_array_get(cands, k);
                ck_assert_str_eq(json_str_at(cj, "id"),
                                 kga_store_entity_ext_id(os, c[k].entity));
                expect_close(json_object_get(cj, "distance"),
                             c[k].score.distance, "candidate distance", k);
                expect_close(json_object_get(cj, "probability"),
                             c[k].score.probability, "candidate probability",
                             k);
            }
            const char *first = json_str_at(r.json, "candidates.0.id");
            const char *truth = side == 0 ? link_right[q] : link_left[q];
            if (first != NULL && strcmp(first, truth) == 0)
                *(side == 0 ? &hits_l : &hits_r) += 1;
            http_resp_free(&r);
        }
    }
    /* /match with explanations: each candidate's is the aligner's for the
     * pair it forms with the query, from either side. */
    for (size_t q = 0; q < 20; q++) {
        for (int side = 0; side < 2; side++) {
            const char *id = side == 0 ? link_left[q] : link_right[q];
            kga_candidate_t c[3];
            uint32_t qe;
            size_t nc = match_query(s.port, a, side, id, 3, 1, &r, c, &qe);
            json_t *cands = json_at(r.json, "candidates");
            for (size_t k = 0; k < nc; k++) {
                uint32_t l = side == 0 ? qe : c[k].entity;
                uint32_t rr = side == 0 ? c[k].entity : qe;
                kga_evidence_t ev[6];
                size_t ne = kga_aligner_explain(a, l, rr, ev, 6);
                ck_assert_uint_gt(ne, 0);
                expect_explanation(
                    json_object_get(json_array_get(cands, k), "explanation"),
                    a, l, rr, ev, ne);
            }
            http_resp_free(&r);
        }
    }

    printf("/match top-1 on %zu test links: left %.2f, right %.2f\n", nq,
           (double)hits_l / (double)nq, (double)hits_r / (double)nq);
    ck_assert_msg(hits_l >= nq * 8 / 10, "left /match top-1 %zu of %zu",
                  hits_l, nq);
    ck_assert_msg(hits_r >= nq * 8 / 10, "right /match top-1 %zu of %zu",
                  hits_r, nq);

    /* `kgalign align` (the offline command): each left entity's partner is
     * the server's first /match candidate at the same k, with the same
     * probability (printed with 6 digits). */
    ck_assert_int_eq(kga_test_system("%s align %s %s -o %s/align-%d.tsv --k 50 "
                         "2> /dev/null",
                         kgalign, data_dir, model1, tmp, (int)getpid()),
                     0);
    char path[600];
    snprintf(path, sizeof path, "%s/align-%d.tsv", tmp, (int)getpid());
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    size_t checked = 0;
    while (checked < 100 && fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#')
            continue;
        char *save = NULL;
        char *l = strtok_r(line, "\t", &save);
        char *rr = strtok_r(NULL, "\t", &save);
        char *p = strtok_r(NULL, "\t", &save);
        ck_assert(l != NULL && rr != NULL && p != NULL);
        body = match_body("left", l, 50, 0);
        http_do(s.port, "POST", "/match", NULL, body, &r);
        free(body);
        expect(&r, 200, "MatchResponse");
        ck_assert_str_eq(json_str_at(r.json, "candidates.0.id"), rr);
        double sp = json_number_value(json_at(r.json, "candidates.0.probability"));
        ck_assert_msg(fabs(sp - strtod(p, NULL)) <= 1e-5 * fmax(1.0, sp),
                      "%s: server %.9g, kgalign align %s", l, sp, p);
        http_resp_free(&r);
        checked++;
    }
    fclose(f);
    ck_assert_uint_eq(checked, 100);
    kga_aligner_close(a);
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * Metrics: promtool, and the counts
 * ------------------------------------------------------------------------ */

START_TEST(metrics_pass_promtool)
{
    server_t s;
    service_start(&s, NULL, NULL);
    wait_ready(&s);
    http_resp_t r;
    /* Traffic of every kind. */
    char *one = single_body(link_left[0], link_right[0], 0);
    for (int i = 0; i < 3; i++) {
        http_do(s.port, "POST", "/align", NULL, one, &r);
        http_resp_free(&r);
    }
    char *batch = batch_body(10, 1, 0);
    http_do(s.port, "POST", "/align", NULL, batch, &r);
    http_resp_free(&r);
    http_do(s.port, "POST", "/align", NULL, "{", &r);
    http_resp_free(&r);
    http_do(s.port, "GET", "/align", NULL, NULL, &r);
    http_resp_free(&r);
    http_do(s.port, "GET", "/x", NULL, NULL, &r);
    http_resp_free(&r);
    char *mb = match_body("left", link_left[1], 4, 0);
    http_do(s.port, "POST", "/match", NULL, mb, &r);
    http_resp_free(&r);
    free(one);
    free(batch);
    free(mb);

    char *m = get_metrics(&s);
    char out[4096];
    int rc = promtool_check(m, out, sizeof out);
    if (rc == -2) {
        const char *skip = getenv("KGA_NO_PROMTOOL");
        ck_assert_msg(skip != NULL && strcmp(skip, "1") == 0,
                      "promtool is not installed (Debian package "
                      "'prometheus'); set KGA_NO_PROMTOOL=1 to run without");
        printf("metrics_pass_promtool: promtool missing, KGA_NO_PROMTOOL=1: "
               "exposition not checked by promtool\n");
    } else {
        ck_assert_msg(rc == 0 && out[0] == '\0',
                      "promtool check metrics: status %d:\n%s\n--- metrics "
                      "---\n%s",
                      rc, out, m);
        /* promtool does refuse what is wrong. */
        ck_assert_int_ne(promtool_check("# TYPE a counter\na 1\n", out,
                                        sizeof out),
                         0);
        ck_assert_int_ne(promtool_check("a_total one\n", out, sizeof out), 0);
    }

    /* The counts of what was sent. */
    const struct {
        const char *series;
        double want;
    } want[] = {
        {"kgalign_requests_total{route=\"/align\",status=\"200\"}", 4},
        {"kgalign_requests_total{route=\"/align\",status=\"400\"}", 1},
        {"kgalign_requests_total{route=\"/align\",status=\"405\"}", 1},
        {"kgalign_requests_total{route=\"other\",status=\"404\"}", 1},
        {"kgalign_requests_total{route=\"/match\",status=\"200\"}", 1},
        {"kgalign_pairs_scored_total", 3 + 10 + 4},
        {"kgalign_request_duration_seconds_count{route=\"/align\"}", 6},
        {"kgalign_request_duration_seconds_bucket{route=\"/align\",le=\"+Inf\"}",
         6},
        {"kgalign_inflight_requests", 0},
        {"kgalign_queue_depth", 0},
        {"kgalign_reload_failures_total", 0},
        {"kgalign_ready", 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(metric_value(m, want[i].series) == want[i].want,
                      "%s = %g, want %g\n%s", want[i].series,
                      metric_value(m, want[i].series), want[i].want, m);
    ck_assert(metric_value(m, "kgalign_snapshot_load_seconds") > 0);
    free(m);
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * The in-flight cap and the deadline
 * ------------------------------------------------------------------------ */

/* Sends n requests on n connections at once (all connected first, so that
 * the requests go out back to back), then reads every answer. Counts the
 * statuses in counts[0] (200), counts[1] (503), counts[2] (other);
 * validates each body. Returns the seconds from the first send to the last
 * answer, for the record. */
static double burst(const server_t *s, const char *path, const char *body,
                    int n, int counts[3], const char *id_prefix)
{
    int *fds = malloc((size_t)n * sizeof *fds);
    char **reqs = malloc((size_t)n * sizeof *reqs);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    for (int i = 0; i < n; i++) {
        char h[64];
        snprintf(h, sizeof h, "X-Request-Id: %s-%d\r\n", id_prefix, i);
        reqs[i] = format_request("POST", path, h, body, 0, &lens[i]);
        fds[i] = http_connect(s->port);
    }
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        send_all(fds[i], reqs[i], lens[i]); /* a 503 may cut it short */
        free(reqs[i]);
    }
    free(reqs);
    free(lens);
    counts[0] = counts[1] = counts[2] = 0;
    for (int i = 0; i < n; i++) {
        http_resp_t r;
        ck_assert_msg(http_read(fds[i], &r) == 0, "request %d: no answer", i);
        if (r.status == 200) {
            expect(&r, 200, strcmp(path, "/match") == 0 ? "MatchResponse"
                                                        : "AlignResponse");
            counts[0]++;
        } else if (r.status == 503) {
            expect_error(&r, 503, "unavailable", "in flight");
            char v[32];
            ck_assert_ptr_nonnull(http_header(&r, "Retry-After", v, sizeof v));
            ck_assert_str_eq(v, "2");
            counts[1]++;
        } else {
            counts[2]++;
        }
        http_resp_free(&r);
        close(fds[i]);
    }
    free(fds);
    return now_s() - t0;
}

START_TEST(inflight_cap_gives_503_not_a_queue)
{
    /* /match with k = 1000 reranks a thousand candidates: several ms of
     * work, with a body of a few bytes, so that many arrive at once. */
    char *body = match_body("left", link_left[0], 1000, 0);
    server_t s;
    const char *args[] = {"--max-inflight", "1", "--retry-after-s", "2", NULL};
    service_start(&s, NULL, args);
    wait_ready(&s);
    int c[3];
    burst(&s, "/match", body, 8, c, "cap1");
    printf("max-inflight 1, 8 at once: %d x 200, %d x 503\n", c[0], c[1]);
    ck_assert_int_eq(c[2], 0);
    ck_assert_int_ge(c[0], 1);
    ck_assert_int_ge(c[1], 1);
    char *m = get_metrics(&s);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"/match\",status=\"503\"}"),
        c[1]);
    ck_assert_double_eq(metric_value(m, "kgalign_inflight_requests"), 0);
    free(m);
    server_stop(&s);

    /* 50 at once with a cap of 2: the excess is refused at once, so that
     * every answer comes quickly, instead of waiting in a queue. */
    const char *args2[] = {"--max-inflight", "2", "--retry-after-s", "2",
                           NULL};
    service_start(&s, NULL, args2);
    wait_ready(&s);
    double secs = burst(&s, "/match", body, 50, c, "cap2");
    printf("max-inflight 2, 50 at once: %d x 200, %d x 503 in %.3f s\n", c[0],
           c[1], secs);
    ck_assert_int_eq(c[2], 0);
    ck_assert_int_eq(c[0] + c[1], 50);
    ck_assert_int_ge(c[0], 2);
    ck_assert_int_ge(c[1], 1);
    /* The server counted and logged each answer as the clients saw it,
     * and holds nothing afterwards. (That a refusal comes at once, while
     * the slots are taken, and not after a wait in a queue, test_server
     * shows with requests held at the fake aligner's gate.) */
    m = get_metrics(&s);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"/match\",status=\"503\"}"),
        c[1]);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"/match\",status=\"200\"}"),
        c[0]);
    ck_assert_double_eq(metric_value(m, "kgalign_inflight_requests"), 0);
    ck_assert_double_eq(metric_value(m, "kgalign_queue_depth"), 0);
    free(m);
    json_t *lines = log_lines(&s);
    int logged503 = 0;
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof id, "cap2-%d", i);
        json_t *l = log_request_line(lines, id);
        ck_assert_msg(l != NULL, "no log line for %s", id);
        logged503 += json_integer_value(json_object_get(l, "status")) == 503;
    }
    ck_assert_int_eq(logged503, c[1]);
    json_decref(lines);
    server_stop(&s);
    free(body);
}
END_TEST

START_TEST(deadline_gives_504)
{
    server_t s;
    const char *args[] = {"--request-deadline-ms", "1", NULL};
    service_start(&s, NULL, args);
    wait_ready(&s);
    http_resp_t r;
    /* A batch of the most pairs, with explanations: far over 1 ms. */
    char *body = batch_body(1024, 1, 1);
    http_do(s.port, "POST", "/align", NULL, body, &r);
    expect_error(&r, 504, "deadline_exceeded", "deadline");
    ck_assert_ptr_nonnull(json_str_at(r.json, "model_version"));
    http_resp_free(&r);
    free(body);
    body = match_body("left", link_left[0], 1000, 0);
    http_do(s.port, "POST", "/match", NULL, body, &r);
    expect_error(&r, 504, "deadline_exceeded", "deadline");
    http_resp_free(&r);
    free(body);
    /* Health checks do no work and still answer. */
    http_do(s.port, "GET", "/healthz", NULL, NULL, &r);
    expect(&r, 200, "Status");
    http_resp_free(&r);
    char *m = get_metrics(&s);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"/align\",status=\"504\"}"),
        1);
    ck_assert_double_eq(
        metric_value(m, "kgalign_requests_total{route=\"/match\",status=\"504\"}"),
        1);
    free(m);
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * Reload
 * ------------------------------------------------------------------------ */

/* The distance the server gives the pair (test link i). */
static double served_distance(const server_t *s, size_t i, char *mv,
                              size_t mv_cap)
{
    char *body = single_body(link_left[i], link_right[i], 0);
    http_resp_t r;
    http_do(s->port, "POST", "/align", NULL, body, &r);
    free(body);
    expect(&r, 200, "AlignResponse");
    snprintf(mv, mv_cap, "%s", json_str_at(r.json, "model_version"));
    double d = json_number_value(json_at(r.json, "results.0.distance"));
    http_resp_free(&r);
    return d;
}

/* The admin route is off without a token. */
#define ADMIN_TOKEN "service-test-token"
static const char *const admin_args[] = {"--admin-token", ADMIN_TOKEN, NULL};

static void reload_expect(const server_t *s, int status, http_resp_t *r)
{
    http_do(s->port, "POST", "/admin/reload",
            "Authorization: Bearer " ADMIN_TOKEN "\r\n", NULL, r);
    if (status == 200) {
        expect(r, 200, "Status");
        ck_assert_str_eq(json_str_at(r->json, "status"), "reloaded");
    }
}

/* The real aligner, its left store truncated in place under the running
 * server (cp over a file in use): the next /align is refused with 503 and
 * the server lives; once the file is whole again (rewritten in place
 * again), the next request has it loaded and scores as before. */
START_TEST(store_truncated_under_the_server_is_survived)
{
    char dir[400], path[500], left[500];
    snprintf(dir, sizeof dir, "%s/truncated-%d", tmp, (int)getpid());
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/left.kgs", dir);
    snprintf(left, sizeof left, "%s/left.kgs", data_dir);
    size_t len;
    char *whole = kga_test_read_file(left, &len);
    kga_test_write_file(path, whole, len);

    server_t s;
    const char *args[] = {"--left-store", path, "--file-check-interval-ms",
                          "0", NULL};
    service_start(&s, NULL, args);
    wait_ready(&s);
    char mv[32];
    double d = served_distance(&s, 0, mv, sizeof mv);

    ck_assert_int_eq(truncate(path, 4096), 0);
    char *body = single_body(link_left[0], link_right[0], 0);
    http_resp_t r;
    http_do(s.port, "POST", "/align", NULL, body, &r);
    expect_error(&r, 503, "unavailable", "changed on disk");
    http_resp_free(&r);
    log_wait(&s, "\"event\":\"reload_failed\"", 1);
    http_do(s.port, "GET", "/healthz", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    http_resp_free(&r);

    kga_test_write_file(path, whole, len);
    http_do(s.port, "POST", "/align", NULL, body, &r);
    expect_error(&r, 503, "unavailable", "changed on disk");
    http_resp_free(&r);
    log_wait(&s, "\"event\":\"snapshot_loaded\"", 2);
    ck_assert_double_eq(served_distance(&s, 0, mv, sizeof mv), d);
    free(body);
    free(whole);
    server_stop(&s);
    ck_assert(!log_contains(&s, "\"event\":\"mapped_file_fault\""));
}
END_TEST

START_TEST(reload_keeps_the_old_snapshot_on_failure)
{
    /* The server reloads from its configured paths: its model is a copy
     * this test replaces (always by rename, never in place). */
    char dir[400], path[500];
    snprintf(dir, sizeof dir, "%s/reload-%d", tmp, (int)getpid());
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/model.kgm", dir);
    size_t len1, len2;
    char *m1 = kga_test_read_file(model1, &len1);
    char *m2 = kga_test_read_file(model2, &len2);
    ck_assert_uint_gt(len1, 1000);
    ck_assert_int_eq(write_file_atomic(path, m1, len1), 0);

    kga_aligner_t *a1 = open_aligner(model1);
    char v1[32], v2[32];
    snprintf(v1, sizeof v1, "%s", kga_aligner_model_version(a1));
    kga_aligner_close(a1);
    kga_aligner_t *a2 = open_aligner(model2);
    snprintf(v2, sizeof v2, "%s", kga_aligner_model_version(a2));
    ck_assert_str_ne(v1, v2);

    server_t s;
    service_start(&s, path, admin_args);
    wait_ready(&s);
    char mv[32];
    double d1 = served_distance(&s, 0, mv, sizeof mv);
    ck_assert_str_eq(mv, v1);

    /* Damaged bytes in the middle: refused (500), logged, counted; the
     * old snapshot keeps serving the same answers. */
    char *bad = malloc(len1);
    memcpy(bad, m1, len1);
    for (size_t i = 0; i < 16; i++)
        bad[len1 / 2 + i] ^= 0x5a;
    ck_assert_int_eq(write_file_atomic(path, bad, len1), 0);
    http_resp_t r;
    reload_expect(&s, 500, &r);
    expect_error(&r, 500, "reload_failed", "model.kgm");
    ck_assert_str_eq(json_str_at(r.json, "model_version"), v1);
    http_resp_free(&r);
    ck_assert_double_eq(served_distance(&s, 0, mv, sizeof mv), d1);
    ck_assert_str_eq(mv, v1);
    http_do(s.port, "GET", "/readyz", NULL, NULL, &r);
    expect(&r, 200, "Status");
    ck_assert_str_eq(json_str_at(r.json, "model_version"), v1);
    http_resp_free(&r);
    char *m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, "kgalign_reload_failures_total"), 1);
    ck_assert_double_eq(snapshot_version_metric(m, v1), 1);
    free(m);
    json_t *lines = log_lines(&s);
    json_t *ev = log_event(lines, "reload_failed");
    ck_assert_msg(ev != NULL, "no reload_failed log line");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "level")), "error");
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(ev, "message")), path));
    json_decref(lines);

    /* A truncated model: the same. */
    ck_assert_int_eq(write_file_atomic(path, m1, len1 / 3), 0);
    reload_expect(&s, 500, &r);
    expect_error(&r, 500, "reload_failed", NULL);
    http_resp_free(&r);
    ck_assert_double_eq(served_distance(&s, 0, mv, sizeof mv), d1);
    m = get_metrics(&s);
    ck_assert_double_eq(metric_value(m, "kgalign_reload_failures_total"), 2);
    free(m);

    /* A good model: 200 once it serves, a new model_version, and answers
     * that are the new model's. */
    ck_assert_int_eq(write_file_atomic(path, m2, len2), 0);
    reload_expect(&s, 200, &r);
    ck_assert_str_eq(json_str_at(r.json, "model_version"), v2);
    http_resp_free(&r);
    double d2 = served_distance(&s, 0, mv, sizeof mv);
    ck_assert_str_eq(mv, v2);
    uint32_t l = lookup(a2, KGA_SIDE_LEFT, link_left[0]);
    uint32_t rr = lookup(a2, KGA_SIDE_RIGHT, link_right[0]);
    kga_pair_score_t sc;
    kga_aligner_score(a2, &l, &rr, 1, &sc);
    ck_assert_msg(fabs(d2 - (double)sc.distance) <= 1e-5,
                  "after reload: server %.9g, model 2 offline %.9g", d2,
                  (double)sc.distance);
    m = get_metrics(&s);
    ck_assert_double_eq(snapshot_version_metric(m, v2), 2);
    ck_assert_double_eq(metric_value(m, "kgalign_reload_failures_total"), 2);
    free(m);

    /* SIGHUP reloads too: back to the first model. */
    ck_assert_int_eq(write_file_atomic(path, m1, len1), 0);
    kill(s.pid, SIGHUP);
    double until = now_s() + harness.stop_timeout_s;
    int back = 0;
    while (!back && now_s() < until) {
        http_do(s.port, "GET", "/readyz", NULL, NULL, &r);
        const char *cur = json_str_at(r.json, "model_version");
        back = cur != NULL && strcmp(cur, v1) == 0;
        http_resp_free(&r);
        if (!back)
            sleep_ms(20);
    }
    ck_assert_msg(back, "SIGHUP did not reload the first model");
    ck_assert_double_eq(served_distance(&s, 0, mv, sizeof mv), d1);
    kga_aligner_close(a2);
    free(bad);
    free(m1);
    free(m2);
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * SIGTERM under load
 * ------------------------------------------------------------------------ */

#define LOAD_THREADS 6
#define LOAD_MAX 20000

typedef enum {
    OUT_OK,        /* a complete 200 */
    OUT_REFUSED,   /* connect() refused: the listener was closed */
    OUT_NO_ANSWER, /* connected, no complete answer */
    OUT_BAD        /* an answer other than a complete, valid 200 */
} outcome_t;

/* One client thread: it sends until a connection is refused (the server
 * closed its listener, or exited) or it has sent LOAD_MAX requests. */
typedef struct {
    int port;
    int thread;
    /* per request */
    int n;
    outcome_t out[LOAD_MAX];
    double start[LOAD_MAX];
    int status[LOAD_MAX];
} load_t;

static void *load_run(void *arg)
{
    load_t *L = arg;
    char *body = single_body(link_left[L->thread], link_right[L->thread], 0);
    char *mbody = match_body("left", link_left[L->thread], 5, 0);
    while (L->n < LOAD_MAX) {
        int i = L->n++;
        char h[64];
        snprintf(h, sizeof h, "X-Request-Id: load-%d-%d\r\n", L->thread, i);
        int is_match = i % 4 == 3;
        size_t len;
        char *req = format_request("POST", is_match ? "/match" : "/align", h,
                                   is_match ? mbody : body, 0, &len);
        L->start[i] = now_s();
        int fd = http_connect_raw(L->port);
        if (fd < 0) {
            free(req);
            L->out[i] = errno == ECONNREFUSED ? OUT_REFUSED : OUT_NO_ANSWER;
            if (errno == ECONNREFUSED)
                break; /* the server no longer listens */
            continue;
        }
        send_all(fd, req, len);
        free(req);
        http_resp_t r;
        if (http_read(fd, &r) != 0) {
            L->out[i] = OUT_NO_ANSWER;
        } else {
            L->status[i] = r.status;
            L->out[i] = r.status == 200 && r.complete && r.json != NULL
                            ? OUT_OK
                            : OUT_BAD;
            http_resp_free(&r);
        }
        close(fd);
    }
    free(body);
    free(mbody);
    return NULL;
}

START_TEST(sigterm_under_load_loses_no_request)
{
    server_t s;
    /* A drain delay long enough for the checks below on any machine. */
    const char *args[] = {"--max-inflight", "256", "--drain-delay-ms", "2000",
                          NULL};
    service_start(&s, NULL, args);
    wait_ready(&s);
    load_t *L = calloc(LOAD_THREADS, sizeof *L);
    pthread_t th[LOAD_THREADS];
    for (int t = 0; t < LOAD_THREADS; t++) {
        L[t].port = s.port;
        L[t].thread = t;
        ck_assert_int_eq(pthread_create(&th[t], NULL, load_run, &L[t]), 0);
    }
    /* Under way: at least 100 requests answered. */
    double answered = 0, until = now_s() + harness.stop_timeout_s;
    while (answered < 100 && now_s() < until) {
        char *m = get_metrics(&s);
        answered = metric_value(
            m, "kgalign_requests_total{route=\"/align\",status=\"200\"}");
        free(m);
        sleep_ms(10);
    }
    ck_assert_msg(answered >= 100, "%.0f requests answered", answered);
    double t_term = now_s();
    pid_t pid = s.pid;
    kill(pid, SIGTERM);
    /* Draining: /readyz says so at once (the balancer takes the replica
     * out), /healthz still answers. */
    log_wait(&s, "\"event\":\"drain_started\"", 1);
    http_resp_t r;
    http_do(s.port, "GET", "/readyz", NULL, NULL, &r);
    expect_error(&r, 503, "unavailable", "draining");
    char ra[16];
    ck_assert_ptr_nonnull(http_header(&r, "Retry-After", ra, sizeof ra));
    http_resp_free(&r);
    http_do(s.port, "GET", "/healthz", NULL, NULL, &r);
    expect(&r, 200, "Status");
    http_resp_free(&r);
    /* The clients run until the listener closes: each one's next
     * connection is refused, once the server has exited at the latest. */
    int rc = server_wait(&s, harness.stop_timeout_s);
    if (rc < 0)
        kill(pid, SIGKILL);
    for (int t = 0; t < LOAD_THREADS; t++)
        pthread_join(th[t], NULL);
    ck_assert_msg(rc == 0, "exit status %d after SIGTERM; log:\n%s", rc,
                  read_log(&s));

    json_t *lines = log_lines(&s);
    ck_assert_ptr_nonnull(log_event(lines, "drain_started"));
    ck_assert_ptr_nonnull(log_event(lines, "stopped_accepting"));
    ck_assert_ptr_nonnull(log_event(lines, "drained"));
    /* Outcomes. A request without an answer is lost when the server saw
     * it (it has a log line); one the server never saw (no log line)
     * reached only the kernel's listen queue when the listener closed:
     * counted with the refused ones. */
    int ok = 0, ok_after = 0, refused = 0, unseen = 0, lost = 0, bad = 0;
    for (int t = 0; t < LOAD_THREADS; t++)
        for (int i = 0; i < L[t].n; i++) {
            char id[64];
            snprintf(id, sizeof id, "load-%d-%d", t, i);
            switch (L[t].out[i]) {
            case OUT_OK:
                ok++;
                ok_after += L[t].start[i] > t_term;
                break;
            case OUT_REFUSED:
                refused++;
                break;
            case OUT_NO_ANSWER:
                if (log_request_line(lines, id) != NULL) {
                    lost++;
                    char *line = json_dumps(log_request_line(lines, id),
                                            JSON_COMPACT);
                    fprintf(stderr, "lost: %s, sent %.3f s after SIGTERM, "
                            "logged as %s\n", id, L[t].start[i] - t_term,
                            line != NULL ? line : "?");
                    free(line);
                } else {
                    unseen++;
                }
                break;
            case OUT_BAD:
                bad++;
                fprintf(stderr, "bad answer: %s status %d\n", id,
                        L[t].status[i]);
                break;
            }
        }
    printf("SIGTERM under load: %d answered 200 (%d sent after SIGTERM), "
           "%d refused after close, %d reset unseen in the listen queue, "
           "%d lost, %d bad\n",
           ok, ok_after, refused, unseen, lost, bad);
    if (lost > 0) { /* what the server said besides its request lines */
        size_t k;
        json_t *e;
        json_array_foreach(lines, k, e)
        {
            const char *ev = json_string_value(json_object_get(e, "event"));
            if (ev != NULL && strcmp(ev, "request") != 0) {
                char *text = json_dumps(e, JSON_COMPACT);
                fprintf(stderr, "server: %s\n", text != NULL ? text : "?");
                free(text);
            }
        }
    }
    ck_assert_int_eq(lost, 0);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_gt(ok, 100);
    ck_assert_msg(ok_after > 0, "no request was served during the drain");
    ck_assert_msg(refused > 0, "the clients never saw the listener close");
    /* Every request the server logged was a 200. */
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        const char *rid = json_string_value(json_object_get(l, "request_id"));
        if (rid != NULL && strncmp(rid, "load-", 5) == 0)
            ck_assert_msg(json_integer_value(json_object_get(l, "status")) ==
                              200,
                          "logged %s with status %lld", rid,
                          (long long)json_integer_value(
                              json_object_get(l, "status")));
    }
    json_decref(lines);
    free(L);
}
END_TEST


/* ------------------------------------------------------------------------
 * Entities described inline, and later generations of the stores
 * ------------------------------------------------------------------------ */

/* Stored entity e of side as an inline description (JSON) with id `id`:
 * its attributes and its edges, as an import would read them. */
static json_t *describe(const kga_store_t *st, uint32_t e, const char *id)
{
    json_t *attrs = json_array(), *edges = json_array();
    const kga_attr_t *at;
    uint32_t na = kga_store_attrs(st, e, &at);
    for (uint32_t i = 0; i < na; i++)
        json_array_append_new(
            attrs, json_pack("[ss]", kga_store_attr_key_name(st, at[i].key),
                             kga_store_attr_literal(st, &at[i])));
    for (int d = 0; d < 2; d++) {
        const kga_edge_t *ed;
        uint32_t n = kga_store_edges(st, e, (kga_dir_t)d, &ed);
        for (uint32_t i = 0; i < n; i++)
            json_array_append_new(
                edges,
                json_pack("{s:s, s:s, s:s}", "relation",
                          kga_store_relation_name(st, ed[i].rel),
                          "neighbour", kga_store_entity_ext_id(st, ed[i].ent),
                          "direction", d == KGA_DIR_OUT ? "out" : "in"));
    }
    return json_pack("{s:s, s:o, s:o}", "id", id, "attributes", attrs,
                     "edges", edges);
}

/* The description's C form, pointing into the JSON. */
typedef struct {
    kga_inline_desc_t d;
    kga_inline_attr_t attrs[256];
    kga_inline_edge_t edges[512];
} desc_buf_t;

static void desc_of(json_t *j, desc_buf_t *b)
{
    json_t *attrs = json_object_get(j, "attributes");
    json_t *edges = json_object_get(j, "edges");
    ck_assert_uint_le(json_array_size(attrs), 256);
    ck_assert_uint_le(json_array_size(edges), 512);
    memset(b, 0, sizeof *b);
    b->d.id = json_string_value(json_object_get(j, "id"));
    size_t i;
    json_t *v;
    json_array_foreach(attrs, i, v)
    {
        b->attrs[i].key = json_string_value(json_array_get(v, 0));
        b->attrs[i].value = json_string_value(json_array_get(v, 1));
    }
    json_array_foreach(edges, i, v)
    {
        b->edges[i].relation = json_str_at(v, "relation");
        b->edges[i].neighbour = json_str_at(v, "neighbour");
        b->edges[i].dir = strcmp(json_str_at(v, "direction"), "in") == 0
                              ? KGA_DIR_IN
                              : KGA_DIR_OUT;
    }
    b->d.attrs = b->attrs;
    b->d.n_attrs = json_array_size(attrs);
    b->d.edges = b->edges;
    b->d.n_edges = json_array_size(edges);
}

/* POSTs {side: entity, "k": k, "explain": explain} to /match. */
static void match_inline(const server_t *s, const char *side, json_t *entity,
                         int k, int explain, http_resp_t *r)
{
    char *body = json_text(
        json_pack("{s:O, s:i, s:b}", side, entity, "k", k, "explain", explain));
    http_do(s->port, "POST", "/match", NULL, body, r);
    free(body);
}

START_TEST(inline_entities_are_scored_by_the_model)
{
    server_t s;
    service_start(&s, NULL, NULL);
    kga_aligner_t *a = open_aligner(model1);
    const kga_store_t *ls = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *rs = kga_aligner_store(a, KGA_SIDE_RIGHT);
    wait_ready(&s);
    http_resp_t r;

    /* Test entities described inline under new ids: the server's answer
     * is the model's (the aligner in this process, the same description),
     * and mostly the one the stored entity gets: the inline entity lacks
     * only what training learnt of the stored one's id. */
    size_t agree = 0, n = 20;
    for (size_t i = 0; i < n; i++) {
        uint32_t e = lookup(a, KGA_SIDE_LEFT, link_left[i]);
        char id[32];
        snprintf(id, sizeof id, "new:copy-%zu", i);
        json_t *desc = describe(ls, e, id);
        match_inline(&s, "left", desc, 5, i < 3, &r);
        expect(&r, 200, "MatchResponse");
        ck_assert_str_eq(json_str_at(r.json, "query.id"), id);
        ck_assert_int_eq(json_integer_value(json_at(r.json,
                                                    "query.unknown_neighbours")),
                         0);
        json_t *cands = json_at(r.json, "candidates");
        ck_assert_uint_eq(json_array_size(cands), 5);

        desc_buf_t b;
        desc_of(desc, &b);
        kga_inline_entity_t *ent;
        kga_err_t err;
        ck_assert_msg(kga_inline_entity_new(a, KGA_SIDE_LEFT, &b.d, &ent,
                                            &err) == 0,
                      "%s", err.msg);
        kga_entity_ref_t ref = {0, ent};
        kga_candidate_t c[5];
        ck_assert_uint_eq(kga_aligner_match_ref(a, KGA_SIDE_LEFT, &ref, 5, c),
                          5);
        for (size_t k = 0; k < 5; k++) {
            json_t *got = json_array_get(cands, k);
            ck_assert_str_eq(json_str_at(got, "id"),
                             kga_store_entity_ext_id(rs, c[k].entity));
            expect_close(json_object_get(got, "probability"),
                         c[k].score.probability, "probability", k);
        }
        kga_candidate_t stored[1];
        ck_assert_uint_eq(kga_aligner_match(a, KGA_SIDE_LEFT, e, 1, stored),
                          1);
        agree += stored[0].entity == c[0].entity;
        if (i < 3) {
            /* Explained: the name item names the inline entity. */
            json_t *ex = json_object_get(json_array_get(cands, 0),
                                         "explanation");
            ck_assert_uint_ge(json_array_size(ex), 1);
            ck_assert_str_eq(json_str_at(json_array_get(ex, 0), "kind"),
                             "names");
            ck_assert_str_eq(json_str_at(json_array_get(ex, 0), "left_name"),
                             kga_store_entity_name(ls, e));
        }
        kga_inline_entity_free(ent);
        http_resp_free(&r);
        json_decref(desc);
    }
    ck_assert_msg(agree >= n - 2, "%zu of %zu agree with the stored entity",
                  agree, n);

    /* /align: an inline right entity against its left counterpart, an
     * inline left one in a batch beside ids; edges to a neighbour and by
     * a relation the graph lacks are skipped and counted. The inline
     * right entity copies one of a link the model is sure of (stored pair
     * above 0.9): a copy lacks what training learnt of the stored id, so
     * a pair the model doubts (a namesake's) may fall below 0.5. */
    size_t sure = 1;
    for (;; sure++) {
        ck_assert_uint_lt(sure, N_LINKS);
        char *b = single_body(link_left[sure], link_right[sure], 0);
        http_do(s.port, "POST", "/align", NULL, b, &r);
        free(b);
        expect(&r, 200, "AlignResponse");
        double p = json_real_value(json_at(r.json, "results.0.probability"));
        http_resp_free(&r);
        if (p > 0.9)
            break;
    }
    uint32_t e = lookup(a, KGA_SIDE_LEFT, link_left[0]);
    json_t *left = describe(ls, e, "new:left");
    json_array_append_new(json_object_get(left, "edges"),
                          json_pack("{s:s, s:s, s:s}", "relation",
                                    kga_store_relation_name(ls, 0),
                                    "neighbour", "nobody:1", "direction",
                                    "in"));
    json_array_append_new(json_object_get(left, "edges"),
                          json_pack("{s:s, s:s, s:s}", "relation",
                                    "no:such-relation", "neighbour",
                                    link_left[1], "direction", "out"));
    json_t *right = describe(rs, lookup(a, KGA_SIDE_RIGHT, link_right[sure]),
                             "new:right");
    char *body = json_text(json_pack(
        "{s:[{s:O, s:s}, {s:s, s:O}, {s:s, s:s}], s:b}", "pairs", "left", left,
        "right", link_right[0], "left", link_left[sure], "right", right, "left",
        link_left[2], "right", link_right[2], "explain", 1));
    http_do(s.port, "POST", "/align", NULL, body, &r);
    free(body);
    expect(&r, 200, "AlignResponse");
    json_t *res = json_at(r.json, "results");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(res, 0), "unknown_neighbours")),
                     1);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(res, 0), "unknown_relations")),
                     1);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(res, 1), "unknown_neighbours")),
                     0);
    ck_assert_ptr_null(json_object_get(json_array_get(res, 2),
                                       "unknown_neighbours"));
    for (size_t i = 0; i < 2; i++)
        ck_assert_msg(json_real_value(json_object_get(json_array_get(res, i),
                                                      "probability")) > 0.5,
                      "pair %zu: %s", i, r.body);
    http_resp_free(&r);
    json_decref(left);
    json_decref(right);

    /* Nothing to compare: no attribute, and no neighbour in the graph. */
    json_t *empty = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "id", "new:empty",
                              "edges", "relation",
                              kga_store_relation_name(ls, 0), "neighbour",
                              "nobody:2", "direction", "out");
    match_inline(&s, "left", empty, 3, 0, &r);
    expect_error(&r, 400, "bad_request",
                 "left: inline entity 'new:empty' has no attributes and none "
                 "of its 1 edges reaches an entity of the left graph");
    http_resp_free(&r);
    body = json_text(json_pack("{s:[{s:s, s:O}]}", "pairs", "left",
                               link_left[0], "right", empty));
    http_do(s.port, "POST", "/align", NULL, body, &r);
    free(body);
    expect_error(&r, 400, "bad_request", "pairs[0].right: inline entity");
    http_resp_free(&r);
    json_decref(empty);

    kga_aligner_close(a);
    server_stop(&s);
}
END_TEST

START_TEST(reload_picks_up_a_new_generation)
{
    /* A copy of the stores, grown by `kgalign add` while the server
     * serves them with the model trained on the first generation. */
    char dir[400], lpath[500], rpath[500], tpath[500], apath[500];
    snprintf(dir, sizeof dir, "%s/gen-%d", tmp, (int)getpid());
    ck_assert_int_eq(kga_test_system("mkdir -p %s && cp %s/left.kgs "
                                     "%s/right.kgs %s/",
                                     dir, data_dir, data_dir, dir),
                     0);
    snprintf(lpath, sizeof lpath, "%s/left.kgs", dir);
    snprintf(rpath, sizeof rpath, "%s/right.kgs", dir);
    const char *args[] = {"--left-store", lpath, "--right-store", rpath,
                          "--admin-token", ADMIN_TOKEN, NULL};
    server_t s;
    service_start(&s, NULL, args);
    wait_ready(&s);
    http_resp_t r;
    const char *body = "{\"left\": \"new:gen-1\", \"k\": 3}";
    http_do(s.port, "POST", "/match", NULL, body, &r);
    expect_error(&r, 404, "unknown_id", "new:gen-1");
    http_resp_free(&r);

    /* Each new entity copies a test entity's edges and label. */
    kga_aligner_t *a = open_aligner(model1);
    const kga_store_t *ls = kga_aligner_store(a, KGA_SIDE_LEFT);
    snprintf(tpath, sizeof tpath, "%s/triples", dir);
    snprintf(apath, sizeof apath, "%s/attributes", dir);
    FILE *t = fopen(tpath, "w"), *at = fopen(apath, "w");
    ck_assert(t != NULL && at != NULL);
    enum { N_NEW = 5 };
    for (int k = 0; k < N_NEW; k++) {
        uint32_t e = lookup(a, KGA_SIDE_LEFT, link_left[k]);
        for (int d = 0; d < 2; d++) {
            const kga_edge_t *ed;
            uint32_t n = kga_store_edges(ls, e, (kga_dir_t)d, &ed);
            for (uint32_t i = 0; i < n; i++) {
                const char *o = kga_store_entity_ext_id(ls, ed[i].ent);
                const char *rel = kga_store_relation_name(ls, ed[i].rel);
                if (d == KGA_DIR_OUT)
                    fprintf(t, "new:gen-%d\t%s\t%s\n", k + 1, rel, o);
                else
                    fprintf(t, "%s\t%s\tnew:gen-%d\n", o, rel, k + 1);
            }
        }
        fprintf(at,
                "new:gen-%d\thttp://www.w3.org/2000/01/rdf-schema#label\t%s\n",
                k + 1, kga_store_entity_name(ls, e));
    }
    fclose(t);
    fclose(at);
    ck_assert_int_eq(kga_test_system("%s add %s --side left --triples %s "
                                     "--attributes %s > %s/add.log",
                                     kgalign, dir, tpath, apath, dir),
                     0);

    /* Until the reload the old generation answers; then the new one,
     * with the same model. */
    http_do(s.port, "POST", "/match", NULL, body, &r);
    expect(&r, 404, "Error");
    http_resp_free(&r);
    reload_expect(&s, 200, &r);
    ck_assert_str_eq(json_str_at(r.json, "model_version"),
                     kga_aligner_model_version(a));
    http_resp_free(&r);
    /* The new entities are matched as their twins are (all but what
     * training learnt of a twin's id). */
    int agree = 0;
    for (int k = 0; k < N_NEW; k++) {
        char req[64];
        snprintf(req, sizeof req, "{\"left\": \"new:gen-%d\", \"k\": 3}",
                 k + 1);
        http_do(s.port, "POST", "/match", NULL, req, &r);
        expect(&r, 200, "MatchResponse");
        json_t *cands = json_at(r.json, "candidates");
        ck_assert_uint_eq(json_array_size(cands), 3);
        kga_candidate_t c[1];
        ck_assert_uint_eq(
            kga_aligner_match(a, KGA_SIDE_LEFT,
                              lookup(a, KGA_SIDE_LEFT, link_left[k]), 1, c),
            1);
        agree += strcmp(json_str_at(json_array_get(cands, 0), "id"),
                        kga_store_entity_ext_id(
                            kga_aligner_store(a, KGA_SIDE_RIGHT),
                            c[0].entity)) == 0;
        http_resp_free(&r);
    }
    ck_assert_msg(agree >= N_NEW - 1, "%d of %d agree with their twins",
                  agree, N_NEW);
    kga_aligner_close(a);
    server_stop(&s);
}
END_TEST

/* ------------------------------------------------------------------------
 * Fixture and main
 * ------------------------------------------------------------------------ */

static void fixture_setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/kga_test_service_XXXXXX");
    FIXTURE_CHECK(mkdtemp(tmp) != NULL);
    kgalign = kga_test_kgalign();
    snprintf(data_dir, sizeof data_dir, "%s/data", tmp);
    snprintf(model1, sizeof model1, "%s/model.kgm", data_dir);
    snprintf(model2, sizeof model2, "%s/model2.kgm", tmp);
    FIXTURE_CHECK(kga_test_synth_import(tmp, "--entities 3000 --seed 5",
                                        "src", "data") == 0);
    FIXTURE_CHECK(
        kga_test_system("%s train %s -o %s --epochs 1 2> %s/train1.log",
                        kgalign, data_dir, model1, tmp) == 0);
    FIXTURE_CHECK(kga_test_system(
                      "%s train %s -o %s --epochs 1 --seed 2 2> %s/train2.log",
                      kgalign, data_dir, model2, tmp) == 0);
    char path[400];
    snprintf(path, sizeof path, "%s/test_links.tsv", data_dir);
    FILE *f = fopen(path, "r");
    FIXTURE_CHECK(f != NULL);
    char line[8192];
    while (n_links < N_LINKS && fgets(line, sizeof line, f) != NULL) {
        char *save = NULL;
        char *l = strtok_r(line, "\t\n", &save);
        char *r = strtok_r(NULL, "\t\n", &save);
        FIXTURE_CHECK(l != NULL && r != NULL);
        link_left[n_links] = strdup(l);
        link_right[n_links] = strdup(r);
        n_links++;
    }
    fclose(f);
    FIXTURE_CHECK(n_links == N_LINKS);
}

static Suite *service_suite(void)
{
    Suite *s = suite_create("service");
    TCase *contract = kga_test_tcase(s, "contract", 0);
    tcase_add_test(contract, schemas_agree_with_openapi);
    tcase_add_test(contract, validator_refuses_bad_documents);
    tcase_add_test(contract, proto_fixtures_follow_the_contract);
    TCase *tc = kga_test_tcase(s, "service", 120);
    tcase_add_test(tc, endpoints_and_request_ids);
    tcase_add_test(tc, request_errors);
    tcase_add_test(tc, scores_equal_offline);
    tcase_add_test(tc, metrics_pass_promtool);
    tcase_add_test(tc, inflight_cap_gives_503_not_a_queue);
    tcase_add_test(tc, deadline_gives_504);
    tcase_add_test(tc, reload_keeps_the_old_snapshot_on_failure);
    tcase_add_test(tc, store_truncated_under_the_server_is_survived);
    tcase_add_test(tc, sigterm_under_load_loses_no_request);
    tcase_add_test(tc, inline_entities_are_scored_by_the_model);
    tcase_add_test(tc, reload_picks_up_a_new_generation);
    return s;
}

int main(void)
{
    snprintf(schemas_path, sizeof schemas_path,
             "tests/fixtures/service/schemas.json");
    schemas = load_schemas(schemas_path);
    if (schemas == NULL)
        return EXIT_FAILURE;
    fixture_setup();
    harness.exe = kgalign;
    harness.drain_delay_ms = "50";
    harness.start_timeout_s = 20;
    harness.ready_timeout_s = 20;
    harness.stop_timeout_s = 20;
    harness.recv_timeout_s = 20;

    int rc = kga_test_run(service_suite);
    kga_test_system("rm -rf %s", tmp);
    return rc;
}
