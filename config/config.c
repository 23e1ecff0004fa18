/* Configuration of `kgalign serve`: one option table drives the defaults,
 * the file parser, the environment, the flags, --help and the formatter. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/countof.h"
#include "base/xalloc.h"

#define FIELD(name) offsetof(kga_server_config_t, name)
/* Longest string value (a path, an address, a token). */
#define STRING_MAX 4096
/* Largest config file read. */
#define FILE_MAX (1 << 20)
/* Longest value quoted back in a message. */
#define QUOTE_MAX 64
#define ENV_PREFIX "KGALIGN_"
/* Longest key the file parser reads (a longer one is unknown). */
#define KEY_MAX 63

static const kga_config_option_t options[] = {
    {"config", KGA_OPT_STRING, "", 0, 0, NULL,
     "config file of \"key = value\" lines, read before the environment and "
     "the flags (flag or environment only)",
     FIELD(config)},
    {"listen", KGA_OPT_STRING, "127.0.0.1", 0, 0, NULL,
     "address to listen on (0.0.0.0 for every interface)", FIELD(listen)},
    {"port", KGA_OPT_INT, "8080", 0, 65535, NULL,
     "TCP port (0 = any free port)", FIELD(port)},
    {"data_dir", KGA_OPT_STRING, "data", 0, 0, NULL,
     "directory with left.kgs, right.kgs and model.kgm", FIELD(data_dir)},
    {"model", KGA_OPT_STRING, "", 0, 0, NULL,
     "model file (empty = <data_dir>/model.kgm)", FIELD(model)},
    {"left_store", KGA_OPT_STRING, "", 0, 0, NULL,
     "left graph store (empty = <data_dir>/left.kgs)", FIELD(left_store)},
    {"right_store", KGA_OPT_STRING, "", 0, 0, NULL,
     "right graph store (empty = <data_dir>/right.kgs)", FIELD(right_store)},
    {"threads", KGA_OPT_INT, "0", 0, 1024, NULL,
     "worker threads (0 = every usable CPU)", FIELD(threads)},
    {"http_threads", KGA_OPT_INT, "0", 0, 256, NULL,
     "HTTP threads, each with its own event loop; the first accepts and "
     "gives each connection to the one with the fewest (0 = every usable "
     "CPU, at most max_connections)",
     FIELD(http_threads)},
    {"inline_max_us", KGA_OPT_INT, "200", 0, 1000000, NULL,
     "a request of at most 512 bytes is scored on its HTTP thread, without "
     "the hand-off to a worker, while its route's recent requests took at "
     "most this many microseconds on average (0 = always hand off)",
     FIELD(inline_max_us)},
    {"max_body_bytes", KGA_OPT_SIZE, "1MiB", 64, 1 << 30, NULL,
     "largest request body; larger ones get 413", FIELD(max_body_bytes)},
    {"max_body_memory", KGA_OPT_SIZE, "0", 0, 1099511627776.0, NULL,
     "most memory the request bodies being read or answered may hold at "
     "once, on the whole server; a body past it gets 503 (0 = 64MiB, or "
     "max_body_bytes when larger)",
     FIELD(max_body_memory)},
    {"max_pairs", KGA_OPT_INT, "1024", 1, 1000000, NULL,
     "most pairs in one /align request; more get 413", FIELD(max_pairs)},
    {"max_inflight", KGA_OPT_INT, "0", 0, 1000000, NULL,
     "most requests queued or running at once; more get 503 (0 = 4 x "
     "threads); match the load balancer's per-server maxconn",
     FIELD(max_inflight)},
    {"request_deadline_ms", KGA_OPT_DURATION, "2000", 1, 3600000, NULL,
     "deadline of one request from arrival; later ones get 504",
     FIELD(request_deadline_ms)},
    {"connection_timeout_s", KGA_OPT_DURATION, "10", 1, 3600, NULL,
     "idle connection timeout", FIELD(connection_timeout_s)},
    {"request_read_timeout_s", KGA_OPT_DURATION, "10", 1, 3600, NULL,
     "time a client has to send a whole request (headers and body) once its "
     "request line is in; slower ones are disconnected",
     FIELD(request_read_timeout_s)},
    {"file_check_interval_ms", KGA_OPT_DURATION, "1000", 0, 3600000, NULL,
     "how often the mapped stores and model are checked for a change in "
     "place (size, modification time); a snapshot whose files changed is "
     "no longer served and they are loaded again (0 = only before each "
     "request and reload)",
     FIELD(file_check_interval_ms)},
    {"max_connections", KGA_OPT_INT, "1024", 1, 1000000, NULL,
     "most open client connections", FIELD(max_connections)},
    {"drain_delay_ms", KGA_OPT_DURATION, "2000", 0, 600000, NULL,
     "on SIGTERM, time between /readyz turning 503 and closing the listener",
     FIELD(drain_delay_ms)},
    {"retry_after_s", KGA_OPT_DURATION, "1", 0, 3600, NULL,
     "Retry-After header of 503 answers", FIELD(retry_after_s)},
    {"threshold", KGA_OPT_DOUBLE, "-1", -1, 1, NULL,
     "match decision threshold on the probability (< 0 = the model's)",
     FIELD(threshold)},
    {"log_level", KGA_OPT_ENUM, "info", 0, 0, "debug|info|warn|error",
     "least severe log event written", FIELD(log_level)},
    {"access_log", KGA_OPT_BOOL, "true", 0, 0, NULL,
     "one JSON log line per request", FIELD(access_log)},
    {"admin_token", KGA_OPT_STRING, "", 0, 0, NULL,
     "bearer token POST /admin/reload requires (empty = the route is off; "
     "SIGHUP still reloads)",
     FIELD(admin_token)},
};
#define N_OPTIONS KGA_COUNTOF(options)

const kga_config_option_t *kga_config_options(size_t *n)
{
    *n = N_OPTIONS;
    return options;
}

static const kga_config_option_t *find_option(const char *name)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

static char **string_field(kga_server_config_t *c,
                           const kga_config_option_t *o)
{
    return (char **)(void *)((char *)c + o->offset);
}

static int *int_field(kga_server_config_t *c, const kga_config_option_t *o)
{
    return (int *)(void *)((char *)c + o->offset);
}

/* The field of option o, read-only. */
static const void *field_of(const kga_server_config_t *c,
                            const kga_config_option_t *o)
{
    return (const char *)c + o->offset;
}

/* ------------------------------------------------------------------------
 * Values. Each parser returns 0, or KGA_EINVAL / KGA_ERANGE with the reason
 * in why ("'abc' is not an integer").
 * ------------------------------------------------------------------------ */

static int reason(char *why, size_t cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int reason(char *why, size_t cap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return code;
}

static int range_check(const kga_config_option_t *o, double v,
                       const char *value, char *why, size_t cap)
{
    if (v < o->min || v > o->max)
        return reason(why, cap, KGA_ERANGE, "'%.*s' is out of range %.15g..%.15g",
                      QUOTE_MAX, value, o->min, o->max);
    return 0;
}

/* A decimal number with nothing after it but an optional suffix from
 * suffixes (NULL-terminated, matched case-insensitively). */
static int parse_number(const char *value, const char *const *suffixes,
                        double *out, size_t *suffix_index)
{
    if (*value == '\0' || isspace((unsigned char)*value))
        return -1;
    errno = 0;
    char *end;
    double v = strtod(value, &end);
    if (end == value || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    *suffix_index = 0;
    if (*end == '\0')
        return 0;
    for (size_t i = 0; suffixes != NULL && suffixes[i] != NULL; i++)
        if (strcasecmp(end, suffixes[i]) == 0) {
            *suffix_index = i + 1;
            return 0;
        }
    return -1;
}

static int parse_int(const kga_config_option_t *o, const char *value,
                     long long *out, char *why, size_t cap)
{
    if (*value == '\0' || isspace((unsigned char)*value))
        return reason(why, cap, KGA_EINVAL, "'%.*s' is not an integer",
                      QUOTE_MAX, value);
    errno = 0;
    char *end;
    long long v = strtoll(value, &end, 10);
    if (end == value || *end != '\0')
        return reason(why, cap, KGA_EINVAL, "'%.*s' is not an integer",
                      QUOTE_MAX, value);
    if (errno == ERANGE)
        return reason(why, cap, KGA_ERANGE, "'%.*s' is out of range %.15g..%.15g",
                      QUOTE_MAX, value, o->min, o->max);
    int rc = range_check(o, (double)v, value, why, cap);
    if (rc != 0)
        return rc;
    *out = v;
    return 0;
}

static int parse_bool(const char *value, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < KGA_COUNTOF(yes); i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Milliseconds per unit of a duration option: its name ends in _ms or _s. */
static double duration_unit_ms(const kga_config_option_t *o)
{
    size_t n = strlen(o->name);
    return n > 3 && strcmp(o->name + n - 3, "_ms") == 0 ? 1.0 : 1000.0;
}

/* The index of value in the '|'-separated choices, or -1. */
static int enum_index(const char *choices, const char *value)
{
    size_t n = strlen(value);
    int index = 0;
    for (const char *p = choices;; index++) {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncasecmp(p, value, n) == 0)
            return index;
        if (bar == NULL)
            return -1;
        p = bar + 1;
    }
}

/* Parses value for option o into *c. */
static int set_value(kga_server_config_t *c, const kga_config_option_t *o,
                     const char *value, char *why, size_t cap)
{
    switch (o->type) {
    case KGA_OPT_STRING: {
        if (strlen(value) > STRING_MAX)
            return reason(why, cap, KGA_ERANGE,
                          "value longer than %d bytes", STRING_MAX);
        /* Only the environment and flags can hold one; the value could
         * not be written back to a file (kga_config_format). */
        if (strchr(value, '\n') != NULL)
            return reason(why, cap, KGA_EINVAL, "value holds a line break");
        char **field = string_field(c, o);
        free(*field);
        *field = kga_xstrdup(value);
        return 0;
    }
    case KGA_OPT_INT: {
        long long v = 0;
        int rc = parse_int(o, value, &v, why, cap);
        if (rc != 0)
            return rc;
        *int_field(c, o) = (int)v;
        return 0;
    }
    case KGA_OPT_DOUBLE: {
        double v = 0;
        size_t suffix = 0;
        if (parse_number(value, NULL, &v, &suffix) != 0)
            return reason(why, cap, KGA_EINVAL, "'%.*s' is not a number",
                          QUOTE_MAX, value);
        int rc = range_check(o, v, value, why, cap);
        if (rc != 0)
            return rc;
        *(double *)(void *)((char *)c + o->offset) = v;
        return 0;
    }
    case KGA_OPT_BOOL: {
        int v = 0;
        if (parse_bool(value, &v) != 0)
            return reason(why, cap, KGA_EINVAL,
                          "'%.*s' is not a boolean (true or false)", QUOTE_MAX,
                          value);
        *int_field(c, o) = v;
        return 0;
    }
    case KGA_OPT_DURATION: {
        static const char *const suffixes[] = {"ms", "s", "m", "h", NULL};
        static const double suffix_ms[] = {0, 1, 1000, 60000, 3600000};
        double v = 0;
        size_t suffix = 0;
        double unit = duration_unit_ms(o);
        if (parse_number(value, suffixes, &v, &suffix) != 0)
            return reason(why, cap, KGA_EINVAL,
                          "'%.*s' is not a duration (e.g. %s, 2s, 500ms)",
                          QUOTE_MAX, value, unit == 1.0 ? "2000" : "10");
        if (suffix != 0)
            v = v * suffix_ms[suffix] / unit;
        if (v != floor(v))
            return reason(why, cap, KGA_EINVAL,
                          "'%.*s' is not a whole number of %s", QUOTE_MAX,
                          value, unit == 1.0 ? "milliseconds" : "seconds");
        int rc = range_check(o, v, value, why, cap);
        if (rc != 0)
            return rc;
        *int_field(c, o) = (int)v;
        return 0;
    }
    case KGA_OPT_SIZE: {
        static const char *const suffixes[] = {"B", "KiB", "MiB", "GiB", NULL};
        static const double suffix_bytes[] = {0, 1, 1024, 1048576,
                                              1073741824};
        double v = 0;
        size_t suffix = 0;
        if (parse_number(value, suffixes, &v, &suffix) != 0)
            return reason(why, cap, KGA_EINVAL,
                          "'%.*s' is not a size (bytes, or with KiB, MiB, "
                          "GiB)",
                          QUOTE_MAX, value);
        if (suffix != 0)
            v *= suffix_bytes[suffix];
        if (v != floor(v))
            return reason(why, cap, KGA_EINVAL,
                          "'%.*s' is not a whole number of bytes", QUOTE_MAX,
                          value);
        int rc = range_check(o, v, value, why, cap);
        if (rc != 0)
            return rc;
        *(int64_t *)(void *)((char *)c + o->offset) = (int64_t)v;
        return 0;
    }
    case KGA_OPT_ENUM: {
        int index = enum_index(o->choices, value);
        if (index < 0)
            return reason(why, cap, KGA_EINVAL, "'%.*s' is not one of %s",
                          QUOTE_MAX, value, o->choices);
        *int_field(c, o) = index;
        return 0;
    }
    }
    return reason(why, cap, KGA_EINVAL, "option of unknown type");
}

/* ------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------ */

void kga_config_init(kga_server_config_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char why[KGA_ERRMSG_MAX];
        if (set_value(c, &options[i], options[i].def, why, sizeof why) != 0)
            abort(); /* the table's own defaults: a bug, caught by tests */
    }
}

void kga_config_destroy(kga_server_config_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].type == KGA_OPT_STRING) {
            char **field = string_field(c, &options[i]);
            free(*field);
            *field = NULL;
        }
}

int kga_config_set(kga_server_config_t *c, const char *name,
                   const char *value, kga_err_t *err)
{
    const kga_config_option_t *o = find_option(name);
    if (o == NULL)
        return kga_err_set(err, KGA_EINVAL, "unknown option '%.*s'", QUOTE_MAX,
                           name);
    char why[KGA_ERRMSG_MAX];
    int rc = set_value(c, o, value, why, sizeof why);
    if (rc != 0)
        return kga_err_set(err, rc, "%s: %s", name, why);
    return 0;
}

/* ------------------------------------------------------------------------
 * The file
 * ------------------------------------------------------------------------ */

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *begin, const char *end)
{
    while (end > begin && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return end;
}

/* One line, without its '\n'. */
static int parse_line(kga_server_config_t *c, const char *line, size_t len,
                      const char *origin, size_t lineno, kga_err_t *err)
{
    const char *end = line + len;
    if (len > 0 && end[-1] == '\r')
        end--;
    if (memchr(line, '\0', (size_t)(end - line)) != NULL)
        return kga_err_set(err, KGA_EPARSE, "%s:%zu: NUL byte in line", origin,
                           lineno);
    const char *p = skip_space(line, end);
    if (p == end || *p == '#')
        return 0;

    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (eq == NULL)
        return kga_err_set(err, KGA_EPARSE,
                           "%s:%zu: expected 'key = value'", origin, lineno);
    const char *key_end = trim_end(p, eq);
    size_t key_len = (size_t)(key_end - p);
    char key[KEY_MAX + 1];
    if (key_len == 0)
        return kga_err_set(err, KGA_EPARSE, "%s:%zu: missing key before '='",
                           origin, lineno);
    if (key_len >= sizeof key)
        return kga_err_set(err, KGA_EINVAL, "%s:%zu: unknown key '%.*s...'",
                           origin, lineno, QUOTE_MAX, p);
    memcpy(key, p, key_len);
    key[key_len] = '\0';
    const kga_config_option_t *o = find_option(key);
    if (o == NULL)
        return kga_err_set(err, KGA_EINVAL, "%s:%zu: unknown key '%s'", origin,
                           lineno, key);
    if (strcmp(key, "config") == 0)
        return kga_err_set(err, KGA_EINVAL,
                           "%s:%zu: config: cannot be set in a config file",
                           origin, lineno);

    /* The value is never longer than the line. */
    char value[KGA_CONFIG_LINE_MAX + 1];
    size_t value_len = 0;
    const char *v = skip_space(eq + 1, end);
    if (v < end && *v == '"') {
        /* As in a shell's double quotes, \" is a quote and \\ a backslash;
         * a backslash before anything else is kept. */
        const char *q = v + 1;
        for (; q < end && *q != '"'; q++) {
            if (*q == '\\' && end - q > 1 && (q[1] == '"' || q[1] == '\\'))
                q++;
            value[value_len++] = *q;
        }
        if (q == end)
            return kga_err_set(err, KGA_EPARSE,
                               "%s:%zu: %s: unterminated quoted value", origin,
                               lineno, key);
        const char *rest = skip_space(q + 1, end);
        if (rest != end && *rest != '#')
            return kga_err_set(err, KGA_EPARSE,
                               "%s:%zu: %s: text after the quoted value",
                               origin, lineno, key);
    } else {
        /* A comment starts at a '#' after whitespace. */
        const char *v_end = v;
        for (const char *q = v; q < end; q++) {
            if (*q == '#' && (q == v || q[-1] == ' ' || q[-1] == '\t'))
                break;
            v_end = q + 1;
        }
        v_end = trim_end(v, v_end);
        value_len = (size_t)(v_end - v);
        memcpy(value, v, value_len);
    }
    value[value_len] = '\0';
    char why[KGA_ERRMSG_MAX];
    int rc = set_value(c, o, value, why, sizeof why);
    if (rc != 0)
        return kga_err_set(err, rc, "%s:%zu: %s: %s", origin, lineno, key, why);
    return 0;
}

int kga_config_parse_buffer(kga_server_config_t *c, const char *buf,
                            size_t len, const char *origin, kga_err_t *err)
{
    size_t lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        lineno++;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos;
        if (line_len > KGA_CONFIG_LINE_MAX)
            return kga_err_set(err, KGA_ELIMIT,
                               "%s:%zu: line longer than %d bytes", origin,
                               lineno, KGA_CONFIG_LINE_MAX);
        int rc = parse_line(c, buf + pos, line_len, origin, lineno, err);
        if (rc != 0)
            return rc;
        pos += line_len + 1;
    }
    return 0;
}

static int parse_file(kga_server_config_t *c, const char *path,
                      kga_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return kga_err_set(err, errno == ENOENT ? KGA_ENOENT : KGA_EIO,
                           "%s: cannot open config file: %s", path,
                           strerror(errno));
    int rc = 0;
    char *buf = malloc(FILE_MAX + 1);
    if (buf == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
        goto close_file;
    }
    size_t len = fread(buf, 1, FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = kga_err_set(err, KGA_EIO, "%s: read error", path);
        goto free_buf;
    }
    if (len > FILE_MAX) {
        rc = kga_err_set(err, KGA_ELIMIT, "%s: config file larger than %d bytes",
                         path, FILE_MAX);
        goto free_buf;
    }
    rc = kga_config_parse_buffer(c, buf, len, path, err);
free_buf:
    free(buf);
close_file:
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------------
 * Environment and flags
 * ------------------------------------------------------------------------ */

/* "KGALIGN_MAX_PAIRS" for "max_pairs". */
static void env_name(const kga_config_option_t *o, char *buf, size_t cap)
{
    size_t n = strlen(ENV_PREFIX);
    memcpy(buf, ENV_PREFIX, n);
    size_t i = 0;
    for (; o->name[i] != '\0' && n + i + 1 < cap; i++)
        buf[n + i] = (char)toupper((unsigned char)o->name[i]);
    buf[n + i] = '\0';
}

static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; e != NULL && *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static int apply_env(kga_server_config_t *c, char **envp, kga_err_t *err)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char name[80];
        env_name(&options[i], name, sizeof name);
        const char *value = env_get(envp, name);
        if (value == NULL || strcmp(options[i].name, "config") == 0)
            continue;
        char why[KGA_ERRMSG_MAX];
        int rc = set_value(c, &options[i], value, why, sizeof why);
        if (rc != 0)
            return kga_err_set(err, rc, "environment variable %s: %s", name,
                               why);
    }
    return 0;
}

/* The option of a flag "--max-pairs" or "--max_pairs[=...]" (arg without
 * the dashes, up to '=' or the end), or NULL. */
static const kga_config_option_t *flag_option(const char *arg, size_t len)
{
    char name[64];
    if (len == 0 || len >= sizeof name)
        return NULL;
    for (size_t i = 0; i < len; i++)
        name[i] = arg[i] == '-' ? '_' : arg[i];
    name[len] = '\0';
    /* `kgalign serve --data DIR` is the documented short form. */
    if (strcmp(name, "data") == 0)
        return find_option("data_dir");
    return find_option(name);
}

static int is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Walks the flags. With c == NULL only checks their shape and records the
 * last --config value in *config_path; otherwise applies every flag. */
static int apply_flags(kga_server_config_t *c, int argc, char **argv,
                       const char **config_path, kga_err_t *err)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
            return kga_err_set(err, KGA_EINVAL,
                               "unexpected argument '%.*s' (options are "
                               "--name VALUE; see --help)",
                               QUOTE_MAX, arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const kga_config_option_t *o = flag_option(name, name_len);
        if (o == NULL)
            return kga_err_set(err, KGA_EINVAL,
                               "unknown option --%.*s (see --help)",
                               (int)(name_len < QUOTE_MAX ? name_len
                                                          : QUOTE_MAX),
                               name);
        const char *value;
        int bool_value;
        if (eq != NULL) {
            value = eq + 1;
        } else if (o->type == KGA_OPT_BOOL) {
            /* "--access-log" alone is true; "--access-log false" too works. */
            if (i + 1 < argc && parse_bool(argv[i + 1], &bool_value) == 0)
                value = argv[++i];
            else
                value = "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return kga_err_set(err, KGA_EINVAL, "--%.*s: missing value",
                               (int)name_len, name);
        }
        if (c == NULL) {
            if (strcmp(o->name, "config") == 0)
                *config_path = value;
            continue;
        }
        char why[KGA_ERRMSG_MAX];
        int rc = set_value(c, o, value, why, sizeof why);
        if (rc != 0)
            return kga_err_set(err, rc, "--%.*s: %s", (int)name_len, name, why);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

static int usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 1024 ? (int)n : 1;
}

/* Fills an empty path with <data_dir>/<file>. */
static int derive_path(kga_server_config_t *c, char **path, const char *name,
                       const char *file, kga_err_t *err)
{
    if (**path != '\0')
        return 0;
    if (c->data_dir[0] == '\0')
        return kga_err_set(err, KGA_EINVAL,
                           "%s: not given, and data_dir is empty", name);
    char *p = kga_xasprintf("%s/%s", c->data_dir, file);
    free(*path);
    *path = p;
    return 0;
}

static int finish(kga_server_config_t *c, kga_err_t *err)
{
    if (c->listen[0] == '\0')
        return kga_err_set(err, KGA_EINVAL, "listen: must not be empty");
    int rc = derive_path(c, &c->model, "model", "model.kgm", err);
    if (rc == 0)
        rc = derive_path(c, &c->left_store, "left_store", "left.kgs", err);
    if (rc == 0)
        rc = derive_path(c, &c->right_store, "right_store", "right.kgs", err);
    if (rc != 0)
        return rc;
    if (c->threads == 0)
        c->threads = usable_cpus();
    if (c->max_inflight == 0)
        c->max_inflight = 4 * c->threads;
    if (c->http_threads == 0)
        c->http_threads = usable_cpus();
    /* Each HTTP thread takes at least one of the connections. */
    if (c->http_threads > c->max_connections)
        c->http_threads = c->max_connections;
    if (c->max_body_memory == 0)
        c->max_body_memory = c->max_body_bytes > KGA_BODY_MEMORY_DEFAULT
                                 ? c->max_body_bytes
                                 : KGA_BODY_MEMORY_DEFAULT;
    else if (c->max_body_memory < c->max_body_bytes)
        return kga_err_set(err, KGA_ERANGE,
                           "max_body_memory: %lld is below max_body_bytes "
                           "(%lld): no body of the largest size could be "
                           "read",
                           (long long)c->max_body_memory,
                           (long long)c->max_body_bytes);
    return 0;
}

int kga_config_load(kga_server_config_t *c, int argc, char **argv,
                    char **envp, kga_err_t *err)
{
    kga_config_init(c);
    kga_err_clear(err);
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) {
            c->help = 1;
            return 0;
        }
    }
    /* The file comes first, so find --config before applying anything. */
    const char *config_path = env_get(envp, ENV_PREFIX "CONFIG");
    int rc = apply_flags(NULL, argc, argv, &config_path, err);
    if (rc != 0)
        return rc;
    if (config_path != NULL && config_path[0] != '\0') {
        rc = kga_config_set(c, "config", config_path, err);
        if (rc == 0)
            rc = parse_file(c, c->config, err);
        if (rc != 0)
            return rc;
    }
    rc = apply_env(c, envp, err);
    if (rc == 0)
        rc = apply_flags(c, argc, argv, NULL, err);
    if (rc == 0)
        rc = finish(c, err);
    return rc;
}

/* ------------------------------------------------------------------------
 * Printing
 * ------------------------------------------------------------------------ */

static const char *metavar(const kga_config_option_t *o)
{
    switch (o->type) {
    case KGA_OPT_STRING:
        return strcmp(o->name, "listen") == 0   ? "ADDR"
               : strcmp(o->name, "admin_token") == 0 ? "TOKEN"
                                                     : "PATH";
    case KGA_OPT_INT:
        return "N";
    case KGA_OPT_DOUBLE:
        return "X";
    case KGA_OPT_BOOL:
        return "BOOL";
    case KGA_OPT_DURATION:
        return "DURATION";
    case KGA_OPT_SIZE:
        return "SIZE";
    case KGA_OPT_ENUM:
        return o->choices;
    }
    return "VALUE";
}

void kga_config_usage(FILE *out)
{
    fputs("Options (each also a config file key with '_' and an environment "
          "variable\nKGALIGN_<KEY>; flags win over the environment, which "
          "wins over the file):\n",
          out);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const kga_config_option_t *o = &options[i];
        char flag[128];
        size_t n = (size_t)snprintf(flag, sizeof flag, "--%s %s", o->name,
                                    metavar(o));
        for (size_t j = 2; j < n && flag[j] != ' '; j++)
            if (flag[j] == '_')
                flag[j] = '-';
        char envvar[80];
        env_name(o, envvar, sizeof envvar);
        fprintf(out, "  %-34s %s\n", flag, o->help);
        fprintf(out, "  %-34s [default: %s; env %s", "",
                o->def[0] != '\0' ? o->def : "\"\"", envvar);
        if (o->type == KGA_OPT_INT || o->type == KGA_OPT_DURATION ||
            o->type == KGA_OPT_DOUBLE || o->type == KGA_OPT_SIZE)
            fprintf(out, "; range %.15g..%.15g%s", o->min, o->max,
                    o->type == KGA_OPT_DURATION
                        ? (duration_unit_ms(o) == 1.0 ? " ms" : " s")
                        : (o->type == KGA_OPT_SIZE ? " bytes" : ""));
        fputs("]\n", out);
    }
    fputs("  --help                             this text\n", out);
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Whether s must be quoted to read back: the file parser starts a quoted
 * value at a leading '"', a comment at a '#' after a blank (any '#' is
 * quoted, for the reader's sake), trims blanks at both ends and drops one
 * CR at the end of the line. */
static int needs_quotes(const char *s)
{
    size_t n = strlen(s);
    return n == 0 || is_blank(s[0]) || s[0] == '"' || is_blank(s[n - 1]) ||
           s[n - 1] == '\r' || strchr(s, '#') != NULL;
}

/* The longest line kga_config_format writes reads back. */
_Static_assert(KEY_MAX + sizeof " = \"\"" - 1 + 2 * STRING_MAX <=
                   KGA_CONFIG_LINE_MAX,
               "a quoted, escaped string value must fit in a config line");

/* Writes a string value so that the file parser reads it back: bare when
 * it can be, else in double quotes with '"' and '\' escaped. Values hold
 * no '\n' (set_value refuses it). */
static void format_string(FILE *out, const char *s)
{
    if (!needs_quotes(s)) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

void kga_config_format(const kga_server_config_t *c, FILE *out)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const kga_config_option_t *o = &options[i];
        if (strcmp(o->name, "config") == 0) {
            fprintf(out, "# config file: %s\n",
                    c->config[0] != '\0' ? c->config : "(none)");
            continue;
        }
        fprintf(out, "%s = ", o->name);
        switch (o->type) {
        case KGA_OPT_STRING: {
            const char *s = *(const char *const *)field_of(c, o);
            if (strcmp(o->name, "admin_token") == 0 && s[0] != '\0')
                s = "********";
            format_string(out, s);
            break;
        }
        case KGA_OPT_INT:
        case KGA_OPT_DURATION:
            fprintf(out, "%d", *(const int *)field_of(c, o));
            break;
        case KGA_OPT_DOUBLE:
            fprintf(out, "%.17g", *(const double *)field_of(c, o));
            break;
        case KGA_OPT_SIZE:
            fprintf(out, "%lld", (long long)*(const int64_t *)field_of(c, o));
            break;
        case KGA_OPT_BOOL:
            fputs(*(const int *)field_of(c, o) ? "true" : "false", out);
            break;
        case KGA_OPT_ENUM: {
            int index = *(const int *)field_of(c, o);
            const char *p = o->choices;
            for (int k = 0; k < index && p != NULL; k++) {
                p = strchr(p, '|');
                if (p != NULL)
                    p++;
            }
            if (p == NULL)
                p = "?";
            fprintf(out, "%.*s", (int)strcspn(p, "|"), p);
            break;
        }
        }
        fputc('\n', out);
    }
}
