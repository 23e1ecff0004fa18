/* Fuzzes the configuration file parser: the input is a "key = value"
 * document for kga_config_parse_buffer(). Oracles: documented return codes
 * with a "fuzz.conf:LINE: ..." message; after success or failure every
 * option holds a value inside its range (the table's min..max, a known enum
 * index, a boolean, a string of at most 4096 bytes); and the formatter's
 * output reads back to the same values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "fuzz_util.h"

static const int fuzz_config_codes[] = {KGA_EINVAL, KGA_ERANGE, KGA_EPARSE,
                                        KGA_ELIMIT, 0};

/* Every field of c within what its option allows. */
static int fuzz_config_ranges(const kga_server_config_t *c)
{
    size_t n;
    const kga_config_option_t *opts = kga_config_options(&n);
    for (size_t i = 0; i < n; i++) {
        const kga_config_option_t *o = &opts[i];
        const void *f = (const char *)c + o->offset;
        double v = 0;
        switch (o->type) {
        case KGA_OPT_STRING: {
            const char *s = *(const char *const *)f;
            if (s == NULL || fuzz_touch_str(s) > 4096)
                return fuzz_fail("config: %s is NULL or too long", o->name);
            continue;
        }
        case KGA_OPT_INT:
        case KGA_OPT_DURATION:
            v = *(const int *)f;
            break;
        case KGA_OPT_SIZE:
            v = (double)*(const int64_t *)f;
            break;
        case KGA_OPT_DOUBLE:
            v = *(const double *)f;
            break;
        case KGA_OPT_BOOL:
            if (*(const int *)f != 0 && *(const int *)f != 1)
                return fuzz_fail("config: %s = %d", o->name, *(const int *)f);
            continue;
        case KGA_OPT_ENUM: {
            int index = *(const int *)f, choices = 1;
            for (const char *p = o->choices; *p != '\0'; p++)
                choices += *p == '|';
            if (index < 0 || index >= choices)
                return fuzz_fail("config: %s = %d", o->name, index);
            continue;
        }
        }
        if (!(v >= o->min && v <= o->max))
            return fuzz_fail("config: %s = %.17g outside %.17g..%.17g",
                             o->name, v, o->min, o->max);
    }
    return 0;
}

/* kga_config_format() of c must parse, and give the same values: numbers
 * and every string it writes (not the config path, written as a comment,
 * nor the masked admin_token). */
static int fuzz_config_round_trip(const kga_server_config_t *c)
{
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = open_memstream(&text, &text_len);
    if (out == NULL)
        return 0;
    kga_config_format(c, out);
    if (fclose(out) != 0) {
        free(text);
        return 0;
    }
    kga_server_config_t back;
    kga_config_init(&back);
    kga_err_t err;
    int bad = 0;
    size_t n;
    const kga_config_option_t *opts = kga_config_options(&n);
    int rc = kga_config_parse_buffer(&back, text, text_len, "formatted", &err);
    if (rc != 0)
        bad = fuzz_fail("config: formatted config does not parse: %s\n%s",
                        err.msg, text);
    for (size_t i = 0; rc == 0 && !bad && i < n; i++) {
        const kga_config_option_t *o = &opts[i];
        const char *a = (const char *)c + o->offset;
        const char *b = (const char *)&back + o->offset;
        int same = 1;
        switch (o->type) {
        case KGA_OPT_STRING:
            same = strcmp(o->name, "config") == 0 ||
                   strcmp(o->name, "admin_token") == 0 ||
                   strcmp(*(char *const *)(const void *)a,
                          *(char *const *)(const void *)b) == 0;
            break;
        case KGA_OPT_INT:
        case KGA_OPT_DURATION:
        case KGA_OPT_BOOL:
        case KGA_OPT_ENUM:
            same = memcmp(a, b, sizeof(int)) == 0;
            break;
        case KGA_OPT_SIZE:
            same = memcmp(a, b, sizeof(int64_t)) == 0;
            break;
        case KGA_OPT_DOUBLE:
            same = *(const double *)(const void *)a ==
                   *(const double *)(const void *)b;
            break;
        }
        if (!same)
            bad = fuzz_fail("config: %s changed in a format round trip",
                            o->name);
    }
    kga_config_destroy(&back);
    free(text);
    return bad;
}

static int fuzz_config_one(const uint8_t *data, size_t size)
{
    char *buf = (char *)fuzz_copy(data, size);
    if (buf == NULL)
        return 0;
    kga_server_config_t c;
    kga_config_init(&c);
    kga_err_t err;
    int rc = kga_config_parse_buffer(&c, buf, size, "fuzz.conf", &err);
    int bad = fuzz_check_rc("config parse", rc, &err, fuzz_config_codes);
    if (!bad && rc != 0 && strncmp(err.msg, "fuzz.conf:", 10) != 0)
        bad = fuzz_fail("config: message does not name the line: %s",
                        err.msg);
    if (!bad)
        bad = fuzz_config_ranges(&c);
    if (!bad && rc == 0)
        bad = fuzz_config_round_trip(&c);
    kga_config_destroy(&c);
    free(buf);
    return bad;
}

KGA_FUZZ_ENTRY(fuzz_config_one)
