#ifndef KGA_CONFIG_H
#define KGA_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

/* The configuration of `kgalign serve`. One option table (config.c) drives
 * the struct, the file parser, the environment, the flags and the --help
 * text, so an option exists everywhere or nowhere.
 *
 * Precedence, lowest first: built-in defaults < the config file (--config
 * FILE or KGALIGN_CONFIG) < environment variables KGALIGN_<NAME> (e.g.
 * KGALIGN_MAX_PAIRS) < command-line flags --name VALUE or --name=VALUE
 * (with '-' or '_' between words: --max-pairs, --max_pairs).
 *
 * File format: "key = value" lines; '#' starts a comment at the start of a
 * line or after whitespace; blank lines are ignored; a value may be put in
 * double quotes to keep '#' or surrounding spaces, where \" stands for '"'
 * and \\ for '\' (a backslash before any other character is kept, and
 * outside quotes every backslash is). Lines are at most KGA_CONFIG_LINE_MAX
 * bytes, string values at most 4096; a string value cannot hold a line
 * break. An unknown key is an error.
 *
 * Values: int and double in decimal, checked for trailing junk and range;
 * bool true/false/yes/no/on/off/1/0; duration options are stored in the unit
 * their name ends with (_ms or _s), take a bare number in that unit or a
 * number with a unit suffix (ms, s, m, h), e.g. request_deadline_ms = 2s;
 * sizes take bytes or a KiB, MiB, GiB suffix (max_body_bytes = 1MiB). A key
 * given twice in a file takes its last value. */

#define KGA_CONFIG_LINE_MAX 16384

/* max_body_memory = 0 resolves to this, or to max_body_bytes when larger. */
#define KGA_BODY_MEMORY_DEFAULT ((int64_t)64 << 20)

typedef enum {
    KGA_LOG_DEBUG = 0,
    KGA_LOG_INFO,
    KGA_LOG_WARN,
    KGA_LOG_ERROR
} kga_log_level_t;

/* After kga_config_load() every field holds its effective value: paths
 * derived from data_dir are filled in, threads = 0 is resolved to the
 * usable CPUs and max_inflight = 0 to 4 x threads; http_threads = 0 is
 * resolved to the usable CPUs, and any value to at most max_connections;
 * max_body_memory = 0 to KGA_BODY_MEMORY_DEFAULT or max_body_bytes, the
 * larger (another value below max_body_bytes is KGA_ERANGE).
 * Strings are malloc'd,
 * never NULL, owned by the struct. */
typedef struct {
    char *config;     /* the file read, "" when none */
    char *listen;     /* address to bind */
    int port;         /* 0 = any free port (tests) */
    char *data_dir;   /* holds left.kgs, right.kgs, model.kgm */
    char *model;      /* model file; "" in the table = <data_dir>/model.kgm */
    char *left_store;  /* "" in the table = <data_dir>/left.kgs */
    char *right_store; /* "" in the table = <data_dir>/right.kgs */
    int threads;       /* worker pool size */
    int http_threads;  /* event loops serving HTTP, <= max_connections */
    int inline_max_us; /* small cheap requests skip the pool (0 = never) */
    int64_t max_body_bytes;
    int64_t max_body_memory; /* bodies in memory at once, all requests */
    int max_pairs;
    int max_inflight;
    int request_deadline_ms;
    int connection_timeout_s;
    int request_read_timeout_s;
    int file_check_interval_ms; /* 0 = at requests and reloads only */
    int max_connections;
    int drain_delay_ms;
    int retry_after_s;
    double threshold;  /* < 0 = the model's default */
    kga_log_level_t log_level;
    int access_log;    /* one JSON log line per request */
    char *admin_token; /* "" = /admin/reload off */
    int help;          /* --help / -h was given: print usage, do nothing */
} kga_server_config_t;

typedef enum {
    KGA_OPT_STRING,
    KGA_OPT_INT,
    KGA_OPT_DOUBLE,
    KGA_OPT_BOOL,
    KGA_OPT_DURATION,
    KGA_OPT_SIZE, /* int64_t bytes; suffixes KiB, MiB, GiB */
    KGA_OPT_ENUM
} kga_opt_type_t;

/* One row of the option table (read-only, for tests and documentation). */
typedef struct {
    const char *name;     /* file key, e.g. "max_pairs" */
    kga_opt_type_t type;
    const char *def;      /* default, as it would be written in the file */
    double min, max;      /* range of int, double, duration, size */
    const char *choices;  /* enum: "debug|info|warn|error" */
    const char *help;
    size_t offset;        /* of the field in kga_server_config_t */
} kga_config_option_t;

/* The option table; *n receives its length. */
const kga_config_option_t *kga_config_options(size_t *n);

/* Sets *c to the defaults (nothing derived yet). Aborts on out of memory
 * (a few small strings). Pair with kga_config_destroy(). */
void kga_config_init(kga_server_config_t *c);

/* Fills *c (which need not be initialised) from the defaults, the config
 * file, envp (NULL-terminated "NAME=value" strings, e.g. environ; NULL for
 * none) and argv[0..argc) (the arguments after the subcommand). Returns 0,
 * or with a message in err naming the file:line, the variable or the flag
 * and the key: KGA_EINVAL (unknown flag or key, bad value, missing value),
 * KGA_ERANGE (value out of range), KGA_EPARSE (malformed file line),
 * KGA_ELIMIT (line too long), KGA_ENOENT / KGA_EIO (file unreadable). On
 * failure *c still owns its strings: call kga_config_destroy(). When --help
 * is given, returns 0 with c->help = 1 and nothing else checked. */
int kga_config_load(kga_server_config_t *c, int argc, char **argv,
                    char **envp, kga_err_t *err);

/* Applies one "key = value" document from a buffer (no NUL needed); origin
 * names it in messages ("FILE:LINE: ..."). Never reads outside
 * [buf, buf+len): the fuzz entry point. Same return codes as above. */
int kga_config_parse_buffer(kga_server_config_t *c, const char *buf,
                            size_t len, const char *origin, kga_err_t *err);

/* Sets one option by file key from a string value. Returns 0, KGA_EINVAL
 * (unknown key or bad value) or KGA_ERANGE; the message names the key and
 * the value. */
int kga_config_set(kga_server_config_t *c, const char *name,
                   const char *value, kga_err_t *err);

/* Prints every option: flag, environment variable, default, help. */
void kga_config_usage(FILE *out);

/* Prints the effective configuration as a config file (admin_token
 * masked), e.g. for the startup log. kga_config_parse_buffer() reads it
 * back to the same values (strings quoted and escaped where needed). */
void kga_config_format(const kga_server_config_t *c, FILE *out);

void kga_config_destroy(kga_server_config_t *c);

#endif
