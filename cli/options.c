/* The option parser of every kgalign subcommand (see options.h): one loop,
 * so that every command takes the same forms and words its errors alike. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "options.h"

int kga_option_parse_uint(const char *text, uint64_t min, uint64_t max,
                          uint64_t *out)
{
    /* strtoull() alone would skip spaces and accept a sign (negating the
     * value): a digit first leaves only digits to read. */
    if (text[0] < '0' || text[0] > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int kga_option_parse_double(const char *text, double min, double max,
                            double *out)
{
    /* strtod() skips leading spaces but stops at trailing ones: refuse both
     * alike. */
    if (text[0] == '\0' || isspace((unsigned char)text[0]))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

/* A table whose max exceeds what the destination holds would otherwise
 * wrap silently. */
static uint64_t kind_max(kga_option_kind_t kind)
{
    switch (kind) {
    case KGA_OPT_INT:
        return INT_MAX;
    case KGA_OPT_U32:
        return UINT32_MAX;
    case KGA_OPT_SIZE:
        return SIZE_MAX;
    default:
        return UINT64_MAX;
    }
}

static void store_uint(const kga_option_t *o, uint64_t v)
{
    switch (o->kind) {
    case KGA_OPT_INT:
        *o->to.i = (int)v;
        break;
    case KGA_OPT_U32:
        *o->to.u32 = (uint32_t)v;
        break;
    case KGA_OPT_SIZE:
        *o->to.size = (size_t)v;
        break;
    default:
        *o->to.u64 = v;
        break;
    }
}

/* Stores value at o's destination: 0, or the status of the usage error.
 * The option is named as typed (name, len chars: "-o" or "--output") so
 * that the message points at what the user wrote. */
static int set_value(const char *cmd, const kga_option_t *o, const char *name,
                     int len, const char *value)
{
    char range[96];
    const char *expected = range;
    switch (o->kind) {
    case KGA_OPT_FILE:
    case KGA_OPT_ARG:
        if (value[0] == '\0')
            return kga_cli_usage_error(cmd, "%.*s needs a file name", len,
                                       name);
        *o->to.str = value;
        return 0;
    case KGA_OPT_CHOICE:
        if (o->parse(value, o->to.any) == 0)
            return 0;
        expected = o->expected;
        break;
    case KGA_OPT_DOUBLE:
        if (kga_option_parse_double(value, o->real_min, o->real_max,
                                    o->to.real) == 0)
            return 0;
        snprintf(range, sizeof range, "a number from %g to %g", o->real_min,
                 o->real_max);
        break;
    default: {
        uint64_t max = o->max < kind_max(o->kind) ? o->max : kind_max(o->kind);
        uint64_t v;
        if (kga_option_parse_uint(value, o->min, max, &v) == 0) {
            store_uint(o, v);
            return 0;
        }
        if (o->min == 0 && max == UINT64_MAX)
            snprintf(range, sizeof range, "a non-negative integer");
        else
            snprintf(range, sizeof range,
                     "an integer from %" PRIu64 " to %" PRIu64, o->min, max);
        break;
    }
    }
    return kga_cli_usage_error(cmd, "%.*s: '%s' is not %s", len, name, value,
                               expected);
}

/* The option named by arg's first len bytes, "--name" or "-x", or NULL. */
static const kga_option_t *find_option(const kga_option_t *options, size_t n,
                                       const char *arg, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        const kga_option_t *o = &options[i];
        if (o->kind == KGA_OPT_ARG)
            continue;
        if (arg[1] != '-' && o->letter != 0 && o->letter == arg[1])
            return o;
        if (arg[1] == '-' && strlen(o->name) == len - 2 &&
            memcmp(o->name, arg + 2, len - 2) == 0)
            return o;
    }
    return NULL;
}

/* The k-th positional argument of the table, or NULL. */
static const kga_option_t *nth_arg(const kga_option_t *options, size_t n,
                                   size_t k)
{
    for (size_t i = 0; i < n; i++)
        if (options[i].kind == KGA_OPT_ARG && k-- == 0)
            return &options[i];
    return NULL;
}

static int missing_args(const char *cmd, const kga_option_t *options,
                        size_t n, size_t given)
{
    char names[256] = "";
    size_t used = 0;
    for (const kga_option_t *o; (o = nth_arg(options, n, given)) != NULL;
         given++) {
        int w = snprintf(names + used, sizeof names - used, "%s%s",
                         used > 0 ? " and " : "", o->name);
        if (w < 0 || (size_t)w >= sizeof names - used)
            break;
        used += (size_t)w;
    }
    return kga_cli_usage_error(cmd, "missing %s", names);
}

int kga_options_parse(const char *cmd, void (*usage)(FILE *out),
                      const kga_option_t *options, size_t n, int argc,
                      char **argv)
{
    size_t n_args = 0;
    int only_args = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int status;
        if (only_args || arg[0] != '-' || arg[1] == '\0') {
            const kga_option_t *o = nth_arg(options, n, n_args++);
            if (o == NULL)
                return kga_cli_usage_error(cmd, "unexpected argument '%s'",
                                           arg);
            status = set_value(cmd, o, o->name, (int)strlen(o->name), arg);
            if (status != 0)
                return status;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_args = 1;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        size_t len; /* of the option's name in arg, "--name" or "-x" */
        const char *value = NULL;
        if (arg[1] == '-') {
            len = strcspn(arg, "=");
            if (arg[len] == '=')
                value = arg + len + 1;
        } else {
            len = 2;
            if (arg[2] != '\0')
                value = arg + 2;
        }
        const kga_option_t *o = find_option(options, n, arg, len);
        if (o == NULL)
            return kga_cli_usage_error(cmd, "unknown option '%.*s'",
                                       (int)strcspn(arg, "="), arg);
        if (o->kind == KGA_OPT_FLAG) {
            if (value != NULL)
                return kga_cli_usage_error(cmd, "%.*s takes no value",
                                           (int)len, arg);
            *o->to.i = 1;
            continue;
        }
        if (value == NULL && i + 1 < argc)
            value = argv[++i];
        if (value == NULL)
            return kga_cli_usage_error(cmd, "%.*s needs a value", (int)len,
                                       arg);
        status = set_value(cmd, o, arg, (int)len, value);
        if (status != 0)
            return status;
    }
    if (nth_arg(options, n, n_args) != NULL)
        return missing_args(cmd, options, n, n_args);
    return KGA_OPTIONS_RUN;
}
