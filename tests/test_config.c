/* The serve configuration: defaults, the file, the environment and the flags
 * with their precedence, every kind of bad value named by where it came from
 * (file:line, variable, flag), the documented default file matching the
 * table, --help listing every option, and a parser that survives any
 * input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#include "testutil.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* Writes text to a file in the temporary directory; returns its path
 * (static storage, one per name). */
static const char *write_file(const char *name, const char *text)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];
    kga_test_tmp_path(path, sizeof paths[0], name);
    kga_test_write_file(path, text, strlen(text));
    return path;
}

/* Loads with argv and envp given as NULL-terminated lists. */
static int load(kga_server_config_t *c, const char *const *argv,
                const char *const *envp, kga_err_t *err)
{
    int argc = 0;
    while (argv != NULL && argv[argc] != NULL)
        argc++;
    /* The API takes main()'s types; it never writes through them. */
    return kga_config_load(c, argc, (char **)argv, (char **)envp, err);
}

/* The configuration as kga_config_format prints it (malloc'd). */
static char *formatted(const kga_server_config_t *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    kga_config_format(c, f);
    fclose(f);
    return text;
}

static void expect_load_error(const char *const *argv,
                              const char *const *envp, int code,
                              const char *message)
{
    kga_server_config_t c;
    kga_err_t err;
    int rc = load(&c, argv, envp, &err);
    ck_assert_msg(rc == code, "rc %d (%s), want %d; message: %s", rc,
                  kga_err_name(rc), code, err.msg);
    ck_assert_str_eq(err.msg, message);
    kga_config_destroy(&c);
}

static void expect_set_error(const char *name, const char *value, int code,
                             const char *message)
{
    kga_server_config_t c;
    kga_err_t err;
    kga_config_init(&c);
    int rc = kga_config_set(&c, name, value, &err);
    ck_assert_msg(rc == code, "%s = '%s': rc %d, want %d (%s)", name, value,
                  rc, code, err.msg);
    ck_assert_str_eq(err.msg, message);
    kga_config_destroy(&c);
}

/* ------------------------------------------------------------------------
 * Defaults
 * ------------------------------------------------------------------------ */

START_TEST(defaults)
{
    kga_server_config_t c;
    kga_err_t err;
    const char *argv[] = {NULL};
    const char *envp[] = {"PATH=/bin", "KGALIGN_PROGRESS=1", NULL};
    ck_assert_int_eq(load(&c, argv, envp, &err), 0);
    ck_assert_str_eq(c.config, "");
    ck_assert_str_eq(c.listen, "127.0.0.1");
    ck_assert_int_eq(c.port, 8080);
    ck_assert_str_eq(c.data_dir, "data");
    ck_assert_str_eq(c.model, "data/model.kgm");
    ck_assert_str_eq(c.left_store, "data/left.kgs");
    ck_assert_str_eq(c.right_store, "data/right.kgs");
    ck_assert_int_gt(c.threads, 0);
    ck_assert_int_eq(c.max_body_bytes, 1 << 20);
    ck_assert_int_eq(c.max_pairs, 1024);
    ck_assert_int_eq(c.max_inflight, 4 * c.threads);
    ck_assert_int_eq(c.request_deadline_ms, 2000);
    ck_assert_int_eq(c.connection_timeout_s, 10);
    ck_assert_int_eq(c.max_connections, 1024);
    ck_assert_int_eq(c.drain_delay_ms, 2000);
    ck_assert_int_eq(c.retry_after_s, 1);
    ck_assert(c.threshold == -1.0);
    ck_assert_int_eq(c.log_level, KGA_LOG_INFO);
    ck_assert_int_eq(c.access_log, 1);
    ck_assert_str_eq(c.admin_token, "");
    ck_assert_int_eq(c.help, 0);
    kga_config_destroy(&c);
    kga_config_destroy(&c); /* idempotent */

    /* envp may be NULL. */
    ck_assert_int_eq(kga_config_load(&c, 0, NULL, NULL, &err), 0);
    ck_assert_int_eq(c.port, 8080);
    kga_config_destroy(&c);
}
END_TEST

/* config/kgalign.conf documents every option at its default: loading it
 * changes nothing, and no option is missing from it. */
START_TEST(default_file_matches_the_table)
{
    kga_server_config_t plain, from_file;
    kga_err_t err;
    ck_assert_int_eq(kga_config_load(&plain, 0, NULL, NULL, &err), 0);
    const char *argv[] = {"--config", "config/kgalign.conf", NULL};
    int rc = load(&from_file, argv, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    char *a = formatted(&plain), *b = formatted(&from_file);
    /* Only the "# config file:" line differs. */
    ck_assert_str_eq(strchr(a, '\n'), strchr(b, '\n'));
    free(a);
    free(b);
    kga_config_destroy(&plain);
    kga_config_destroy(&from_file);

    FILE *f = fopen("config/kgalign.conf", "r");
    ck_assert_ptr_nonnull(f);
    char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    size_t count;
    const kga_config_option_t *opts = kga_config_options(&count);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(opts[i].name, "config") == 0)
            continue;
        char line[128];
        snprintf(line, sizeof line, "\n%s = %s\n", opts[i].name, opts[i].def);
        if (opts[i].def[0] == '\0')
            snprintf(line, sizeof line, "\n%s =\n", opts[i].name);
        ck_assert_msg(strstr(text, line) != NULL,
                      "config/kgalign.conf lacks the line '%s'", line + 1);
    }
}
END_TEST

START_TEST(option_table_is_sane)
{
    size_t n;
    const kga_config_option_t *opts = kga_config_options(&n);
    ck_assert_uint_ge(n, 20);
    for (size_t i = 0; i < n; i++) {
        ck_assert(opts[i].help != NULL && opts[i].help[0] != '\0');
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(opts[i].name, opts[j].name);
        /* Every default is accepted by its own parser. */
        kga_server_config_t c;
        kga_err_t err;
        kga_config_init(&c);
        ck_assert_msg(kga_config_set(&c, opts[i].name, opts[i].def, &err) ==
                          0,
                      "%s", err.msg);
        kga_config_destroy(&c);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * Sources and precedence
 * ------------------------------------------------------------------------ */

START_TEST(file_values)
{
    const char *path = write_file(
        "values.conf",
        "# comment\n"
        "\n"
        "   listen   =   0.0.0.0   \n"
        "port=9001 # trailing comment\n"
        "data_dir = /srv/kga\r\n"
        "model = /models/m#1.kgm\n"
        "admin_token = \"  s3cret # not a comment \"  # a comment\n"
        "threads = 3\n"
        "max_body_bytes = 64KiB\n"
        "request_deadline_ms = 1.5s\n"
        "connection_timeout_s = 2m\n"
        "drain_delay_ms = 0\n"
        "threshold = 0.75\n"
        "log_level = WARN\n"
        "access_log = off\n"
        "\t# indented comment\n"
        "max_pairs = 10\n"
        "max_pairs = 20\n" /* the last one wins */
        "retry_after_s = 5"); /* no final newline */
    const char *argv[] = {"--config", path, NULL};
    kga_server_config_t c;
    kga_err_t err;
    int rc = load(&c, argv, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_str_eq(c.config, path);
    ck_assert_str_eq(c.listen, "0.0.0.0");
    ck_assert_int_eq(c.port, 9001);
    ck_assert_str_eq(c.data_dir, "/srv/kga");
    ck_assert_str_eq(c.model, "/models/m#1.kgm");
    ck_assert_str_eq(c.left_store, "/srv/kga/left.kgs");
    ck_assert_str_eq(c.right_store, "/srv/kga/right.kgs");
    ck_assert_str_eq(c.admin_token, "  s3cret # not a comment ");
    ck_assert_int_eq(c.threads, 3);
    ck_assert_int_eq(c.max_inflight, 12);
    ck_assert_int_eq(c.max_body_bytes, 65536);
    ck_assert_int_eq(c.request_deadline_ms, 1500);
    ck_assert_int_eq(c.connection_timeout_s, 120);
    ck_assert_int_eq(c.drain_delay_ms, 0);
    ck_assert(c.threshold == 0.75);
    ck_assert_int_eq(c.log_level, KGA_LOG_WARN);
    ck_assert_int_eq(c.access_log, 0);
    ck_assert_int_eq(c.max_pairs, 20);
    ck_assert_int_eq(c.retry_after_s, 5);
    kga_config_destroy(&c);
}
END_TEST

START_TEST(environment_values)
{
    const char *envp[] = {"KGALIGN_PORT=9002",
                    "KGALIGN_MAX_PAIRS=7",
                    "KGALIGN_LOG_LEVEL=debug",
                    "KGALIGN_ACCESS_LOG=false",
                    "KGALIGN_LEFT_STORE=/l.kgs",
                    "KGALIGN_UNRELATED=1", /* other tools' variables pass */
                    "KGALIGN_PORTX=1",
                    "KGALIGN_=1",
                    "NOT_KGALIGN_PORT=1",
                    NULL};
    kga_server_config_t c;
    kga_err_t err;
    ck_assert_int_eq(load(&c, NULL, envp, &err), 0);
    ck_assert_int_eq(c.port, 9002);
    ck_assert_int_eq(c.max_pairs, 7);
    ck_assert_int_eq(c.log_level, KGA_LOG_DEBUG);
    ck_assert_int_eq(c.access_log, 0);
    ck_assert_str_eq(c.left_store, "/l.kgs");
    ck_assert_str_eq(c.right_store, "data/right.kgs");
    kga_config_destroy(&c);
}
END_TEST

START_TEST(flag_forms)
{
    const char *argv[] = {"--port",
                    "8081",
                    "--max-pairs=5",
                    "--max_inflight",
                    "9",
                    "--access-log",
                    "--threads=2",
                    "--listen=::1",
                    "--admin-token=",
                    "--request-deadline-ms",
                    "250ms",
                    NULL};
    kga_server_config_t c;
    kga_err_t err;
    const char *envp[] = {"KGALIGN_ACCESS_LOG=0", NULL};
    int rc = load(&c, argv, envp, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_int_eq(c.port, 8081);
    ck_assert_int_eq(c.max_pairs, 5);
    ck_assert_int_eq(c.max_inflight, 9);
    ck_assert_int_eq(c.access_log, 1); /* bare boolean flag = true */
    ck_assert_int_eq(c.threads, 2);
    ck_assert_str_eq(c.listen, "::1");
    ck_assert_str_eq(c.admin_token, "");
    ck_assert_int_eq(c.request_deadline_ms, 250);
    kga_config_destroy(&c);

    /* A boolean flag takes a following boolean word, and only that. */
    const char *argv2[] = {"--access-log", "no", "--port", "1", NULL};
    ck_assert_int_eq(load(&c, argv2, NULL, &err), 0);
    ck_assert_int_eq(c.access_log, 0);
    ck_assert_int_eq(c.port, 1);
    kga_config_destroy(&c);
    const char *argv3[] = {"--access-log", "--port", "2", NULL};
    ck_assert_int_eq(load(&c, argv3, NULL, &err), 0);
    ck_assert_int_eq(c.access_log, 1);
    ck_assert_int_eq(c.port, 2);
    kga_config_destroy(&c);
    /* The last of repeated flags wins. */
    const char *argv4[] = {"--port", "1", "--port=3", NULL};
    ck_assert_int_eq(load(&c, argv4, NULL, &err), 0);
    ck_assert_int_eq(c.port, 3);
    kga_config_destroy(&c);
}
END_TEST

/* One value of each type set in all four places comes from the flag; drop
 * the flag and it comes from the environment; drop that and from the file. */
START_TEST(precedence)
{
    static const struct {
        const char *key, *file, *env, *flag;
    } rows[] = {
        {"port", "1111", "2222", "3333"},
        {"listen", "10.0.0.1", "10.0.0.2", "10.0.0.3"},
        {"threshold", "0.25", "0.5", "0.125"},
        {"log_level", "debug", "warn", "error"},
        {"access_log", "false", "true", "false"},
        {"request_deadline_ms", "100", "2s", "3m"},
        {"max_body_bytes", "1KiB", "2048", "1GiB"},
        {"model", "/f.kgm", "/e.kgm", "/g.kgm"},
    };
    size_t n = sizeof rows / sizeof rows[0];
    char file_text[1024] = "";
    char env_store[16][128], flag_store[16][128];
    const char *envp[16], *argv[16];
    for (size_t i = 0; i < n; i++) {
        size_t off = strlen(file_text);
        snprintf(file_text + off, sizeof file_text - off, "%s = %s\n",
                 rows[i].key, rows[i].file);
        char upper[64];
        size_t k = 0;
        for (; rows[i].key[k] != '\0'; k++)
            upper[k] = (char)(rows[i].key[k] >= 'a' && rows[i].key[k] <= 'z'
                                  ? rows[i].key[k] - 32
                                  : rows[i].key[k]);
        upper[k] = '\0';
        snprintf(env_store[i], sizeof env_store[i], "KGALIGN_%s=%s", upper,
                 rows[i].env);
        snprintf(flag_store[i], sizeof flag_store[i], "--%s=%s", rows[i].key,
                 rows[i].flag);
        envp[i] = env_store[i];
        argv[i] = flag_store[i];
    }
    const char *path = write_file("precedence.conf", file_text);
    char config_flag[600];
    snprintf(config_flag, sizeof config_flag, "--config=%s", path);
    argv[n] = config_flag;
    argv[n + 1] = NULL;
    envp[n] = NULL;

    /* source 0: flags, 1: environment, 2: file, 3: defaults */
    for (int source = 0; source < 4; source++) {
        const char *no_env[] = {NULL};
        const char *only_config[] = {config_flag, NULL};
        const char **av = source == 0 ? argv : source < 3 ? only_config : no_env;
        const char **ev = source <= 1 ? envp : no_env;
        kga_server_config_t c, want;
        kga_err_t err;
        int rc = load(&c, av, ev, &err);
        ck_assert_msg(rc == 0, "%s", err.msg);
        kga_config_init(&want);
        for (size_t i = 0; i < n; i++) {
            const char *v = source == 0   ? rows[i].flag
                            : source == 1 ? rows[i].env
                            : source == 2 ? rows[i].file
                                          : NULL;
            if (v != NULL)
                ck_assert_int_eq(kga_config_set(&want, rows[i].key, v, &err),
                                 0);
        }
        ck_assert_int_eq(c.port, want.port);
        ck_assert_str_eq(c.listen, want.listen);
        ck_assert(c.threshold == want.threshold);
        ck_assert_int_eq(c.log_level, want.log_level);
        ck_assert_int_eq(c.access_log, want.access_log);
        ck_assert_int_eq(c.request_deadline_ms, want.request_deadline_ms);
        ck_assert_int_eq(c.max_body_bytes, want.max_body_bytes);
        if (source < 3)
            ck_assert_str_eq(c.model, want.model);
        else
            ck_assert_str_eq(c.model, "data/model.kgm");
        kga_config_destroy(&c);
        kga_config_destroy(&want);
    }
}
END_TEST

START_TEST(config_file_from_environment)
{
    const char *a = write_file("a.conf", "port = 1001\n");
    const char *b = write_file("b.conf", "port = 1002\n");
    char env_a[600];
    snprintf(env_a, sizeof env_a, "KGALIGN_CONFIG=%s", a);
    const char *envp[] = {env_a, NULL};
    kga_server_config_t c;
    kga_err_t err;
    ck_assert_int_eq(load(&c, NULL, envp, &err), 0);
    ck_assert_int_eq(c.port, 1001);
    ck_assert_str_eq(c.config, a);
    kga_config_destroy(&c);
    /* --config wins over KGALIGN_CONFIG. */
    const char *argv[] = {"--config", b, NULL};
    ck_assert_int_eq(load(&c, argv, envp, &err), 0);
    ck_assert_int_eq(c.port, 1002);
    kga_config_destroy(&c);
}
END_TEST

START_TEST(derived_values)
{
    kga_server_config_t c;
    kga_err_t err;
    const char *argv[] = {"--data-dir", "/d", "--right-store", "/r.kgs",
                    "--max-inflight", "5", NULL};
    ck_assert_int_eq(load(&c, argv, NULL, &err), 0);
    ck_assert_str_eq(c.model, "/d/model.kgm");
    ck_assert_str_eq(c.left_store, "/d/left.kgs");
    ck_assert_str_eq(c.right_store, "/r.kgs");
    ck_assert_int_eq(c.max_inflight, 5);
    kga_config_destroy(&c);

    const char *no_dir[] = {"--data-dir=", "--model=/m", NULL};
    expect_load_error(no_dir, NULL, KGA_EINVAL,
                      "left_store: not given, and data_dir is empty");
    const char *all_given[] = {"--data-dir=", "--model=/m", "--left-store=/l",
                         "--right-store=/r", NULL};
    ck_assert_int_eq(load(&c, all_given, NULL, &err), 0);
    kga_config_destroy(&c);
    const char *no_listen[] = {"--listen=", NULL};
    expect_load_error(no_listen, NULL, KGA_EINVAL,
                      "listen: must not be empty");
}
END_TEST

/* ------------------------------------------------------------------------
 * Errors name where they came from
 * ------------------------------------------------------------------------ */

/* Loads a file with the given text and checks the error. */
static void expect_file_error(const char *text, int code, const char *suffix)
{
    const char *path = write_file("bad.conf", text);
    const char *argv[] = {"--config", path, NULL};
    char want[1024];
    snprintf(want, sizeof want, "%s:%s", path, suffix);
    expect_load_error(argv, NULL, code, want);
}

/* A config file's text, and the error: its code and the message after
 * "PATH:". */
static const struct {
    const char *text;
    int code;
    const char *message;
} file_cases[] = {
    {"port = 1\n\nbogus = 3\n", KGA_EINVAL, "3: unknown key 'bogus'"},
    {"# c\nport = abc\n", KGA_EINVAL, "2: port: 'abc' is not an integer"},
    {"port = 70000\n", KGA_ERANGE,
     "1: port: '70000' is out of range 0..65535"},
    {"port = 80 80\n", KGA_EINVAL, "1: port: '80 80' is not an integer"},
    {"port 8080\n", KGA_EPARSE, "1: expected 'key = value'"},
    {" = 8080\n", KGA_EPARSE, "1: missing key before '='"},
    {"admin_token = \"abc\n", KGA_EPARSE,
     "1: admin_token: unterminated quoted value"},
    {"admin_token = \"abc\" x\n", KGA_EPARSE,
     "1: admin_token: text after the quoted value"},
    /* \" does not close the quotes. */
    {"admin_token = \"abc\\\"\n", KGA_EPARSE,
     "1: admin_token: unterminated quoted value"},
    {"admin_token = \"a\\\"b\" \"c\"\n", KGA_EPARSE,
     "1: admin_token: text after the quoted value"},
    {"config = other.conf\n", KGA_EINVAL,
     "1: config: cannot be set in a config file"},
    {"Port = 1\n", KGA_EINVAL, "1: unknown key 'Port'"},
    {"log_level = loud\n", KGA_EINVAL,
     "1: log_level: 'loud' is not one of debug|info|warn|error"},
};

START_TEST(file_errors)
{
    expect_file_error(file_cases[_i].text, file_cases[_i].code,
                      file_cases[_i].message);
}
END_TEST

START_TEST(file_line_limit_and_missing_file)
{
    char long_line[KGA_CONFIG_LINE_MAX + 64];
    memset(long_line, ' ', sizeof long_line);
    memcpy(long_line, "# x", 3);
    memcpy(long_line + KGA_CONFIG_LINE_MAX + 1, "\n", 2);
    expect_file_error(long_line, KGA_ELIMIT, "1: line longer than 16384 bytes");
    /* Exactly the limit is fine. */
    long_line[KGA_CONFIG_LINE_MAX] = '\n';
    long_line[KGA_CONFIG_LINE_MAX + 1] = '\0';
    const char *ok = write_file("long-ok.conf", long_line);
    const char *argv[] = {"--config", ok, NULL};
    kga_server_config_t c;
    kga_err_t err;
    ck_assert_int_eq(load(&c, argv, NULL, &err), 0);
    kga_config_destroy(&c);

    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.conf", kga_test_tmp_dir);
    const char *argv2[] = {"--config", missing, NULL};
    char want[800];
    snprintf(want, sizeof want,
             "%s: cannot open config file: No such file or directory",
             missing);
    expect_load_error(argv2, NULL, KGA_ENOENT, want);
}
END_TEST

/* Arguments and environment (NULL-terminated, at most 4 each), and the
 * error. */
static const struct {
    const char *argv[5];
    const char *envp[5];
    int code;
    const char *message;
} load_cases[] = {
    /* The environment. */
    {{NULL}, {"KGALIGN_PORT=80a"}, KGA_EINVAL,
     "environment variable KGALIGN_PORT: '80a' is not an integer"},
    {{NULL}, {"KGALIGN_MAX_PAIRS=0"}, KGA_ERANGE,
     "environment variable KGALIGN_MAX_PAIRS: '0' is out of range "
     "1..1000000"},
    {{NULL}, {"KGALIGN_ACCESS_LOG=maybe"}, KGA_EINVAL,
     "environment variable KGALIGN_ACCESS_LOG: 'maybe' is not a boolean "
     "(true or false)"},
    /* Flags. */
    {{"--prot", "8080"}, {NULL}, KGA_EINVAL,
     "unknown option --prot (see --help)"},
    {{"--threads", "2", "--port"}, {NULL}, KGA_EINVAL,
     "--port: missing value"},
    {{"--port=eighty"}, {NULL}, KGA_EINVAL,
     "--port: 'eighty' is not an integer"},
    {{"--max-pairs", "-1"}, {NULL}, KGA_ERANGE,
     "--max-pairs: '-1' is out of range 1..1000000"},
    {{"data"}, {NULL}, KGA_EINVAL,
     "unexpected argument 'data' (options are --name VALUE; see --help)"},
    {{"-p", "1"}, {NULL}, KGA_EINVAL,
     "unexpected argument '-p' (options are --name VALUE; see --help)"},
    {{"--"}, {NULL}, KGA_EINVAL,
     "unexpected argument '--' (options are --name VALUE; see --help)"},
    /* Flag errors are found even when a config file is given. */
    {{"--config"}, {NULL}, KGA_EINVAL, "--config: missing value"},
};

START_TEST(environment_and_flag_errors)
{
    expect_load_error(load_cases[_i].argv, load_cases[_i].envp,
                      load_cases[_i].code, load_cases[_i].message);
}
END_TEST

START_TEST(flag_value_is_never_a_flag)
{
    const char *value_like_flag[] = {"--admin-token", "--port", NULL};
    kga_server_config_t c;
    kga_err_t err;
    ck_assert_int_eq(load(&c, value_like_flag, NULL, &err), 0);
    ck_assert_str_eq(c.admin_token, "--port");
    ck_assert_int_eq(c.port, 8080);
    kga_config_destroy(&c);
}
END_TEST

/* A setting's name and value, and the error: its code and message. */
static const struct {
    const char *name, *value;
    int code;
    const char *message;
} set_cases[] = {
    /* int */
    {"port", "", KGA_EINVAL, "port: '' is not an integer"},
    {"port", " 80", KGA_EINVAL, "port: ' 80' is not an integer"},
    {"port", "80 ", KGA_EINVAL, "port: '80 ' is not an integer"},
    {"port", "0x50", KGA_EINVAL, "port: '0x50' is not an integer"},
    {"port", "8.0", KGA_EINVAL, "port: '8.0' is not an integer"},
    {"port", "99999999999999999999", KGA_ERANGE,
     "port: '99999999999999999999' is out of range 0..65535"},
    {"port", "-1", KGA_ERANGE, "port: '-1' is out of range 0..65535"},
    {"threads", "1025", KGA_ERANGE, "threads: '1025' is out of range 0..1024"},
    /* double */
    {"threshold", "nan", KGA_EINVAL, "threshold: 'nan' is not a number"},
    {"threshold", "inf", KGA_EINVAL, "threshold: 'inf' is not a number"},
    {"threshold", "0.5x", KGA_EINVAL, "threshold: '0.5x' is not a number"},
    {"threshold", "1.5", KGA_ERANGE, "threshold: '1.5' is out of range -1..1"},
    {"threshold", "1e999", KGA_EINVAL, "threshold: '1e999' is not a number"},
    /* duration */
    {"connection_timeout_s", "1500ms", KGA_EINVAL,
     "connection_timeout_s: '1500ms' is not a whole number of seconds"},
    {"request_deadline_ms", "0", KGA_ERANGE,
     "request_deadline_ms: '0' is out of range 1..3600000"},
    {"request_deadline_ms", "2 s", KGA_EINVAL,
     "request_deadline_ms: '2 s' is not a duration (e.g. 2000, 2s, 500ms)"},
    {"request_deadline_ms", "2d", KGA_EINVAL,
     "request_deadline_ms: '2d' is not a duration (e.g. 2000, 2s, 500ms)"},
    {"drain_delay_ms", "-1s", KGA_ERANGE,
     "drain_delay_ms: '-1s' is out of range 0..600000"},
    {"request_deadline_ms", "2h", KGA_ERANGE,
     "request_deadline_ms: '2h' is out of range 1..3600000"},
    /* size */
    {"max_body_bytes", "63", KGA_ERANGE,
     "max_body_bytes: '63' is out of range 64..1073741824"},
    {"max_body_bytes", "2GiB", KGA_ERANGE,
     "max_body_bytes: '2GiB' is out of range 64..1073741824"},
    {"max_body_bytes", "1MB", KGA_EINVAL,
     "max_body_bytes: '1MB' is not a size (bytes, or with KiB, MiB, GiB)"},
    {"max_body_bytes", "100.5", KGA_EINVAL,
     "max_body_bytes: '100.5' is not a whole number of bytes"},
    /* bool, enum, unknown */
    {"access_log", "2", KGA_EINVAL,
     "access_log: '2' is not a boolean (true or false)"},
    {"log_level", "information", KGA_EINVAL,
     "log_level: 'information' is not one of debug|info|warn|error"},
    {"log_level", "", KGA_EINVAL,
     "log_level: '' is not one of debug|info|warn|error"},
    {"colour", "1", KGA_EINVAL, "unknown option 'colour'"},
};

START_TEST(value_errors)
{
    expect_set_error(set_cases[_i].name, set_cases[_i].value,
                     set_cases[_i].code, set_cases[_i].message);
}
END_TEST

START_TEST(accepted_values)
{
    /* The accepted spellings. */
    static const struct {
        const char *name, *value;
        long long want;
    } ok[] = {
        {"port", "+80", 80},
        {"port", "0", 0},
        {"port", "65535", 65535},
        {"request_deadline_ms", "2s", 2000},
        {"request_deadline_ms", "1m", 60000},
        {"request_deadline_ms", "1h", 3600000},
        {"request_deadline_ms", "250MS", 250},
        {"request_deadline_ms", "0.5s", 500},
        {"connection_timeout_s", "2000ms", 2},
        {"connection_timeout_s", "7", 7},
        {"max_body_bytes", "64", 64},
        {"max_body_bytes", "1.5KiB", 1536},
        {"max_body_bytes", "1GiB", 1073741824},
        {"max_body_bytes", "100B", 100},
        {"access_log", "YES", 1},
        {"access_log", "0", 0},
        {"log_level", "Error", KGA_LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        kga_server_config_t c;
        kga_err_t err;
        kga_config_init(&c);
        ck_assert_msg(kga_config_set(&c, ok[i].name, ok[i].value, &err) == 0,
                      "%s", err.msg);
        long long got =
            strcmp(ok[i].name, "port") == 0                   ? c.port
            : strcmp(ok[i].name, "request_deadline_ms") == 0  ? c.request_deadline_ms
            : strcmp(ok[i].name, "connection_timeout_s") == 0 ? c.connection_timeout_s
            : strcmp(ok[i].name, "max_body_bytes") == 0       ? c.max_body_bytes
            : strcmp(ok[i].name, "access_log") == 0           ? c.access_log
                                                              : (long long)c.log_level;
        ck_assert_msg(got == ok[i].want, "%s = %s: got %lld, want %lld",
                      ok[i].name, ok[i].value, got, ok[i].want);
        kga_config_destroy(&c);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * Help and formatting
 * ------------------------------------------------------------------------ */

START_TEST(help_lists_every_option)
{
    const char *argv[] = {"--port", "1", "--help", "--bogus", NULL};
    kga_server_config_t c;
    kga_err_t err;
    ck_assert_int_eq(load(&c, argv, NULL, &err), 0);
    ck_assert_int_eq(c.help, 1);
    kga_config_destroy(&c);
    const char *argv_h[] = {"-h", NULL};
    ck_assert_int_eq(load(&c, argv_h, NULL, &err), 0);
    ck_assert_int_eq(c.help, 1);
    kga_config_destroy(&c);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    kga_config_usage(f);
    fclose(f);
    size_t n;
    const kga_config_option_t *opts = kga_config_options(&n);
    for (size_t i = 0; i < n; i++) {
        char flag[80], env[80], def[80];
        size_t k = 0;
        for (; opts[i].name[k] != '\0'; k++)
            flag[k] = opts[i].name[k] == '_' ? '-' : opts[i].name[k];
        flag[k] = '\0';
        char with_dashes[90];
        snprintf(with_dashes, sizeof with_dashes, "--%s ", flag);
        for (k = 0; opts[i].name[k] != '\0'; k++)
            env[k] = (char)(opts[i].name[k] >= 'a' && opts[i].name[k] <= 'z'
                                ? opts[i].name[k] - 32
                                : opts[i].name[k]);
        env[k] = '\0';
        char env_var[96];
        snprintf(env_var, sizeof env_var, "env KGALIGN_%s", env);
        snprintf(def, sizeof def, "[default: %s;",
                 opts[i].def[0] != '\0' ? opts[i].def : "\"\"");
        ck_assert_msg(strstr(text, with_dashes) != NULL, "no %s", with_dashes);
        ck_assert_msg(strstr(text, env_var) != NULL, "no %s", env_var);
        ck_assert_msg(strstr(text, def) != NULL, "no %s", def);
        ck_assert_msg(strstr(text, opts[i].help) != NULL, "no help of %s",
                      opts[i].name);
    }
    KGA_TEST_EXPECT_CONTAINS(text, "--max-pairs N", "range 1..1000000",
                             "--help");
    free(text);
}
END_TEST

START_TEST(format_reads_back)
{
    const char *argv[] = {"--listen=0.0.0.0", "--port=1234", "--model=/a b/m.kgm",
                    "--data-dir=/x#y", "--threshold=0.3",
                    "--log-level=error", "--access-log=false",
                    "--max-body-bytes=2KiB", "--admin-token=tok", NULL};
    kga_server_config_t c, back;
    kga_err_t err;
    ck_assert_int_eq(load(&c, argv, NULL, &err), 0);
    char *text = formatted(&c);
    ck_assert_ptr_nonnull(strstr(text, "admin_token = ********\n"));
    ck_assert_ptr_null(strstr(text, "tok\n"));
    ck_assert_ptr_nonnull(strstr(text, "data_dir = \"/x#y\"\n"));
    kga_config_init(&back);
    int rc = kga_config_parse_buffer(&back, text, strlen(text), "formatted",
                                     &err);
    ck_assert_msg(rc == 0, "%s\n%s", err.msg, text);
    char *again = formatted(&back);
    ck_assert_str_eq(text, again);
    ck_assert(back.threshold == c.threshold);
    ck_assert_str_eq(back.data_dir, "/x#y");
    free(text);
    free(again);
    kga_config_destroy(&c);
    kga_config_destroy(&back);
}
END_TEST

/* Values the file syntax gives a meaning to, each through kga_config_set,
 * kga_config_format and the file parser, in every string option but the
 * two the formatter does not write (config, a comment; admin_token,
 * masked). */
START_TEST(format_round_trips_any_string)
{
    static char all_quotes[4097], hashes_and_backslashes[4097];
    memset(all_quotes, '"', 4096);
    for (size_t i = 0; i < 4096; i++)
        hashes_and_backslashes[i] = i % 2 ? '\\' : '#';
    const char *values[] = {
        "a \"b\" # c", /* '#' after a blank and '"': the reported bug */
        "say \"hi\"#x",
        "\"#",
        "#\"",
        "\"quoted\"",
        "\"",
        "#",
        "x #",
        "abc\r", /* a CR at the end: the reader drops one per line */
        "\r",
        "\r\r",
        "a\rb",
        "\"a # b\"\r",
        "C:\\dir\\", /* backslashes, one at the end */
        "\\",
        "\\\"",
        "a\\\"b",
        "\\\\server\\share",
        "\\# \\\"",
        " leading",
        "trailing ",
        "\tboth\t",
        "  ",
        "\t",
        "", /* empty */
        "a = b",
        "=",
        "  \"  # \\ \r",
        "\xc3\xa9t\xc3\xa9 # caf\xc3\xa9",
        all_quotes, /* the longest values, each byte escaped */
        hashes_and_backslashes,
    };
    const char *options[] = {"listen", "data_dir", "model", "left_store",
                             "right_store"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        for (size_t k = 0; k < sizeof options / sizeof options[0]; k++) {
            kga_server_config_t c, back;
            kga_err_t err;
            kga_config_init(&c);
            int rc = kga_config_set(&c, options[k], values[i], &err);
            ck_assert_msg(rc == 0, "%s", err.msg);
            char *text = formatted(&c);
            kga_config_init(&back);
            rc = kga_config_parse_buffer(&back, text, strlen(text),
                                         "formatted", &err);
            ck_assert_msg(rc == 0, "value %zu in %s: %s\n%.300s", i,
                          options[k], err.msg, text);
            char *again = formatted(&back);
            ck_assert_str_eq(text, again);
            ck_assert_str_eq(back.listen, c.listen);
            ck_assert_str_eq(back.data_dir, c.data_dir);
            ck_assert_str_eq(back.model, c.model);
            ck_assert_str_eq(back.left_store, c.left_store);
            ck_assert_str_eq(back.right_store, c.right_store);
            free(text);
            free(again);
            kga_config_destroy(&c);
            kga_config_destroy(&back);
        }
    }

    /* What the formatter writes: bare where that reads back, else quoted
     * with '"' and '\\' escaped. */
    static const struct {
        const char *value, *line;
    } written[] = {
        {"/srv/kga", "data_dir = /srv/kga\n"},
        {"a\\b\"c", "data_dir = a\\b\"c\n"},
        {"a \"b\" # c", "data_dir = \"a \\\"b\\\" # c\"\n"},
        {"C:\\dir\\", "data_dir = C:\\dir\\\n"},
        {"\\ x #", "data_dir = \"\\\\ x #\"\n"},
        {"abc\r", "data_dir = \"abc\r\"\n"},
        {"", "data_dir = \"\"\n"},
        {" x ", "data_dir = \" x \"\n"},
    };
    for (size_t i = 0; i < sizeof written / sizeof written[0]; i++) {
        kga_server_config_t c;
        kga_err_t err;
        kga_config_init(&c);
        ck_assert_int_eq(kga_config_set(&c, "data_dir", written[i].value, &err),
                         0);
        char *text = formatted(&c);
        ck_assert_msg(strstr(text, written[i].line) != NULL, "no %s in\n%s",
                      written[i].line, text);
        free(text);
        kga_config_destroy(&c);
    }

    /* In a file: escapes only in quotes, and only before '"' and '\\'. */
    static const struct {
        const char *line, *value;
    } read[] = {
        {"data_dir = \"C:\\dir\\new\"\n", "C:\\dir\\new"},
        {"data_dir = \"a\\\\b\"\n", "a\\b"},
        {"data_dir = \"\\\"#\\\"\" # c\n", "\"#\""},
        {"data_dir = a\\\"b\\\\c\n", "a\\\"b\\\\c"},
        {"data_dir = \"x\r\"\r\n", "x\r"},
        {"data_dir = x\r\n", "x"},
    };
    for (size_t i = 0; i < sizeof read / sizeof read[0]; i++) {
        kga_server_config_t c;
        kga_err_t err;
        kga_config_init(&c);
        int rc = kga_config_parse_buffer(&c, read[i].line,
                                         strlen(read[i].line), "f", &err);
        ck_assert_msg(rc == 0, "%s", err.msg);
        ck_assert_str_eq(c.data_dir, read[i].value);
        kga_config_destroy(&c);
    }

    /* A line break cannot be written to a file: refused where it can come
     * from. */
    expect_set_error("data_dir", "a\nb", KGA_EINVAL,
                     "data_dir: value holds a line break");
    const char *argv[] = {"--model", "m\n", NULL};
    expect_load_error(argv, NULL, KGA_EINVAL,
                      "--model: value holds a line break");
    const char *envp[] = {"KGALIGN_LISTEN=\n", NULL};
    expect_load_error(NULL, envp, KGA_EINVAL,
                      "environment variable KGALIGN_LISTEN: value holds a "
                      "line break");
}
END_TEST

/* ------------------------------------------------------------------------
 * Robustness: the parser is fed arbitrary bytes
 * ------------------------------------------------------------------------ */

START_TEST(parser_survives_any_input)
{
    static const char alphabet[] = "= #\"\n\r\t-+._0123456789abcdefghijklmnop"
                                   "qrstuvwxyz_\x80\xFF";
    size_t n_opts;
    const kga_config_option_t *opts = kga_config_options(&n_opts);
    unsigned long long state = 1;
    char buf[300];
    for (int iter = 0; iter < 30000; iter++) {
        size_t len = 0;
        /* Half the inputs start from a real key, to reach the values. */
        if (iter % 2 == 0) {
            const char *key = opts[(size_t)iter / 2 % n_opts].name;
            len = (size_t)snprintf(buf, sizeof buf, "%s = ", key);
        }
        size_t extra = (size_t)(iter % 40);
        for (size_t i = 0; i < extra && len < sizeof buf; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[len++] = (iter % 7 == 0)
                             ? (char)(state >> 56)
                             : alphabet[(state >> 33) % (sizeof alphabet - 1)];
        }
        kga_server_config_t c;
        kga_err_t err;
        kga_err_clear(&err);
        kga_config_init(&c);
        int rc = kga_config_parse_buffer(&c, buf, len, "fuzz", &err);
        if (rc != 0) {
            ck_assert_int_lt(rc, 0);
            ck_assert_int_eq(rc, err.code);
            ck_assert_msg(strncmp(err.msg, "fuzz:", 5) == 0, "%s", err.msg);
        }
        ck_assert(c.port >= 0 && c.port <= 65535);
        ck_assert(c.max_pairs >= 1);
        kga_config_destroy(&c);
    }
    /* An empty buffer and a NUL byte. */
    kga_server_config_t c;
    kga_err_t err;
    kga_config_init(&c);
    ck_assert_int_eq(kga_config_parse_buffer(&c, "", 0, "empty", &err), 0);
    ck_assert_int_eq(kga_config_parse_buffer(&c, "port = 1\0 2\n", 12, "nul",
                                             &err),
                     KGA_EPARSE);
    ck_assert_str_eq(err.msg, "nul:1: NUL byte in line");
    kga_config_destroy(&c);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = kga_test_tcase(s, "config", 60);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, default_file_matches_the_table);
    tcase_add_test(tc, option_table_is_sane);
    tcase_add_test(tc, file_values);
    tcase_add_test(tc, environment_values);
    tcase_add_test(tc, flag_forms);
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, config_file_from_environment);
    tcase_add_test(tc, derived_values);
    tcase_add_loop_test(tc, file_errors, 0,
                        (int)(sizeof file_cases / sizeof file_cases[0]));
    tcase_add_test(tc, file_line_limit_and_missing_file);
    tcase_add_loop_test(tc, environment_and_flag_errors, 0,
                        (int)(sizeof load_cases / sizeof load_cases[0]));
    tcase_add_test(tc, flag_value_is_never_a_flag);
    tcase_add_loop_test(tc, value_errors, 0,
                        (int)(sizeof set_cases / sizeof set_cases[0]));
    tcase_add_test(tc, accepted_values);
    tcase_add_test(tc, help_lists_every_option);
    tcase_add_test(tc, format_reads_back);
    tcase_add_test(tc, format_round_trips_any_string);
    tcase_add_test(tc, parser_survives_any_input);
    return s;
}

int main(void)
{
    return kga_test_run_in_tmp_dir("config", config_suite);
}
