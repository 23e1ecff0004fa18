/* The option parser of the subcommands (cli/options.c): every kind of
 * option through one test table, both value forms, the usage errors word
 * for word (they are the user interface), "--", help; then each command's
 * own table, through the kga_cmd_* functions, on the errors a user meets
 * first. stdout and stderr are captured in temporary files. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"

#include "testutil.h"

#define MAX_ARGS 24

/* What the last run printed. */
static char out_text[16384], err_text[16384];

static void slurp(FILE *f, char *buf, size_t cap)
{
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs fn with stdout and stderr captured in out_text and err_text. */
#define CAPTURED(status, call)                                      \
    do {                                                            \
        FILE *out_ = tmpfile(), *err_ = tmpfile();                  \
        ck_assert_ptr_nonnull(out_);                                \
        ck_assert_ptr_nonnull(err_);                                \
        fflush(stdout);                                             \
        fflush(stderr);                                             \
        int saved_out_ = dup(1), saved_err_ = dup(2);               \
        dup2(fileno(out_), 1);                                      \
        dup2(fileno(err_), 2);                                      \
        (status) = (call);                                          \
        fflush(stdout);                                             \
        fflush(stderr);                                             \
        dup2(saved_out_, 1);                                        \
        dup2(saved_err_, 2);                                        \
        close(saved_out_);                                          \
        close(saved_err_);                                          \
        slurp(out_, out_text, sizeof out_text);                     \
        slurp(err_, err_text, sizeof err_text);                     \
    } while (0)

/* ---- The test table: one option of every kind ------------------------- */

typedef struct {
    const char *a, *b, *output;
    int json, verbose, threads, wide, color;
    uint32_t epochs;
    uint64_t seed;
    size_t k;
    double threshold;
} values_t;

static values_t v;

/* Distinct from every value a test sets, to see what was left alone. */
static const values_t defaults = {
    .a = "A?", .b = "B?", .output = "out?", .json = 7, .verbose = 7,
    .threads = -7, .wide = -7, .color = -7, .epochs = 777, .seed = 777,
    .k = 777, .threshold = -7.5};

static int parse_color(const char *text, void *to)
{
    static const char *const names[] = {"red", "green", "blue"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) {
            *(int *)to = i;
            return 0;
        }
    return -1;
}

static const kga_option_t options[] = {
    KGA_OPTION_ARG("A", &v.a),
    KGA_OPTION_ARG("B", &v.b),
    KGA_OPTION_FILE("output", 'o', &v.output),
    KGA_OPTION_FLAG("json", 0, &v.json),
    KGA_OPTION_FLAG("verbose", 'v', &v.verbose),
    KGA_OPTION_INT("threads", 0, &v.threads, 0, 4096),
    /* A max beyond what an int holds: clamped to INT_MAX. */
    KGA_OPTION_INT("wide", 0, &v.wide, 0, UINT64_MAX),
    KGA_OPTION_U32("epochs", 0, &v.epochs, 1, 1000),
    KGA_OPTION_U64("seed", 0, &v.seed, 0, UINT64_MAX),
    KGA_OPTION_SIZE("k", 0, &v.k, 1, 1000),
    KGA_OPTION_DOUBLE("threshold", 0, &v.threshold, 0, 1),
    KGA_OPTION_CHOICE("color", 'c', &v.color, parse_color,
                      "red, green or blue"),
};

static const char USAGE[] = "usage: kgalign test A B [OPTIONS]\n";

static void test_usage(FILE *out)
{
    fputs(USAGE, out);
}

/* Parses "test" followed by the arguments up to NULL, from the defaults. */
static int parse_argv(const char *const *args)
{
    char *argv[MAX_ARGS + 1] = {(char *)"test"};
    int argc = 1;
    while (args[argc - 1] != NULL) {
        ck_assert_int_lt(argc, MAX_ARGS);
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    v = defaults;
    int status;
    CAPTURED(status, kga_options_parse("test", test_usage, options,
                                       sizeof options / sizeof options[0],
                                       argc, argv));
    return status;
}

#define PARSE(...) parse_argv((const char *const[]){__VA_ARGS__, NULL})

/* A run that must succeed silently. */
#define PARSE_OK(...)                                                     \
    do {                                                                  \
        ck_assert_int_eq(PARSE(__VA_ARGS__), KGA_OPTIONS_RUN);            \
        ck_assert_msg(err_text[0] == '\0', "stderr: %s", err_text);       \
        ck_assert_msg(out_text[0] == '\0', "stdout: %s", out_text);       \
    } while (0)

/* ---- Values ----------------------------------------------------------- */

START_TEST(every_kind_with_separate_values)
{
    PARSE_OK("x", "-o", "m.tsv", "--json", "-v", "--threads", "4096",
             "--wide", "2147483647", "--epochs", "1", "--seed",
             "18446744073709551615", "--k", "1000", "--threshold", "0.25",
             "--color", "blue", "y");
    ck_assert_str_eq(v.a, "x");
    ck_assert_str_eq(v.b, "y");
    ck_assert_str_eq(v.output, "m.tsv");
    ck_assert_int_eq(v.json, 1);
    ck_assert_int_eq(v.verbose, 1);
    ck_assert_int_eq(v.threads, 4096);
    ck_assert_int_eq(v.wide, 2147483647);
    ck_assert_uint_eq(v.epochs, 1);
    ck_assert(v.seed == UINT64_MAX);
    ck_assert_uint_eq(v.k, 1000);
    ck_assert_double_eq(v.threshold, 0.25);
    ck_assert_int_eq(v.color, 2);
}
END_TEST

START_TEST(every_kind_with_attached_values)
{
    PARSE_OK("--output=m.tsv", "--threads=0", "--wide=0", "--epochs=1000",
             "--seed=0", "--k=1", "--threshold=1", "--color=red", "x", "y");
    ck_assert_str_eq(v.output, "m.tsv");
    ck_assert_int_eq(v.threads, 0);
    ck_assert_int_eq(v.wide, 0);
    ck_assert_uint_eq(v.epochs, 1000);
    ck_assert(v.seed == 0);
    ck_assert_uint_eq(v.k, 1);
    ck_assert_double_eq(v.threshold, 1);
    ck_assert_int_eq(v.color, 0);
    /* The short forms: -oVALUE, and a choice behind a letter. */
    PARSE_OK("-om.tsv", "-cgreen", "x", "y");
    ck_assert_str_eq(v.output, "m.tsv");
    ck_assert_int_eq(v.color, 1);
    /* Everything after the first '=' is the value. */
    PARSE_OK("--output=a=b", "x", "y");
    ck_assert_str_eq(v.output, "a=b");
}
END_TEST

START_TEST(options_not_given_keep_their_defaults)
{
    PARSE_OK("x", "y");
    ck_assert_str_eq(v.output, defaults.output);
    ck_assert_int_eq(v.json, defaults.json);
    ck_assert_int_eq(v.verbose, defaults.verbose);
    ck_assert_int_eq(v.threads, defaults.threads);
    ck_assert_int_eq(v.wide, defaults.wide);
    ck_assert_uint_eq(v.epochs, defaults.epochs);
    ck_assert(v.seed == defaults.seed);
    ck_assert_uint_eq(v.k, defaults.k);
    ck_assert_double_eq(v.threshold, defaults.threshold);
    ck_assert_int_eq(v.color, defaults.color);
}
END_TEST

START_TEST(numbers_in_their_plain_forms)
{
    PARSE_OK("x", "y", "--k", "007", "--threshold", "5e-1");
    ck_assert_uint_eq(v.k, 7);
    ck_assert_double_eq(v.threshold, 0.5);
    PARSE_OK("x", "y", "--threshold", ".125");
    ck_assert_double_eq(v.threshold, 0.125);
}
END_TEST

START_TEST(the_last_of_a_repeated_option_wins)
{
    PARSE_OK("x", "y", "--k", "5", "--k=7", "-o", "a", "--output", "b");
    ck_assert_uint_eq(v.k, 7);
    ck_assert_str_eq(v.output, "b");
    /* A refused value leaves the destination as it was. */
    ck_assert_int_eq(PARSE("x", "y", "--k", "5", "--k", "0"), 2);
    ck_assert_uint_eq(v.k, 5);
}
END_TEST

/* ---- Positional arguments, "--", values that look like options --------- */

START_TEST(positionals_anywhere)
{
    PARSE_OK("--k", "3", "x", "--json", "y");
    ck_assert_str_eq(v.a, "x");
    ck_assert_str_eq(v.b, "y");
    ck_assert_uint_eq(v.k, 3);
    ck_assert_int_eq(v.json, 1);
    /* A lone "-" (standard input, by convention) is an argument. */
    PARSE_OK("-", "y");
    ck_assert_str_eq(v.a, "-");
}
END_TEST

START_TEST(double_dash_ends_the_options)
{
    PARSE_OK("--json", "--", "-x", "--help");
    ck_assert_str_eq(v.a, "-x");
    ck_assert_str_eq(v.b, "--help");
    ck_assert_int_eq(v.json, 1);
    /* Only the first "--" is special. */
    PARSE_OK("x", "--", "--");
    ck_assert_str_eq(v.b, "--");
    PARSE_OK("--", "x", "y");
    ck_assert_str_eq(v.a, "x");
}
END_TEST

START_TEST(a_value_may_start_with_a_dash)
{
    PARSE_OK("x", "y", "-o", "--json");
    ck_assert_str_eq(v.output, "--json");
    ck_assert_int_eq(v.json, defaults.json);
}
END_TEST

/* ---- Help --------------------------------------------------------------- */

START_TEST(help_on_stdout)
{
    const char *const forms[][4] = {
        {"--help", NULL}, {"-h", NULL}, {"x", "-h", NULL},
        {"x", "y", "--help"}, {"--k", "3", "-h"}};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        ck_assert_int_eq(parse_argv(forms[i]), 0);
        ck_assert_str_eq(out_text, USAGE);
        ck_assert_str_eq(err_text, "");
    }
    /* Arguments are read in order: an error before the help wins. */
    ck_assert_int_eq(PARSE("--k", "0", "--help"), 2);
    ck_assert_str_eq(out_text, "");
    /* After "--", "--help" is an argument. */
    ck_assert_int_eq(PARSE("x", "--", "--help"), KGA_OPTIONS_RUN);
    ck_assert_str_eq(v.b, "--help");
}
END_TEST

/* ---- Usage errors, word for word --------------------------------------- */

static const struct {
    const char *args[6];
    const char *message;
} usage_errors[] = {
    {{NULL}, "missing A and B"},
    {{"x", NULL}, "missing B"},
    {{"--json", NULL}, "missing A and B"},
    {{"x", "y", "z"}, "unexpected argument 'z'"},
    {{"x", "--", "y", "-z"}, "unexpected argument '-z'"},
    {{"", "y"}, "A needs a file name"},
    {{"x", ""}, "B needs a file name"},
    {{"x", "y", "--bogus"}, "unknown option '--bogus'"},
    {{"x", "y", "--bogus=3"}, "unknown option '--bogus'"},
    {{"x", "y", "-q"}, "unknown option '-q'"},
    {{"x", "y", "-qvalue"}, "unknown option '-qvalue'"},
    /* Long names are whole words: no abbreviations, no short forms. */
    {{"x", "y", "--thr", "1"}, "unknown option '--thr'"},
    {{"x", "y", "--o", "f"}, "unknown option '--o'"},
    {{"x", "y", "--A", "f"}, "unknown option '--A'"},
    {{"x", "y", "--json=1"}, "--json takes no value"},
    {{"x", "y", "-vx"}, "-v takes no value"},
    {{"x", "y", "--k"}, "--k needs a value"},
    {{"x", "y", "-o"}, "-o needs a value"},
    {{"x", "y", "--output"}, "--output needs a value"},
    {{"x", "y", "-o", ""}, "-o needs a file name"},
    {{"x", "y", "--output="}, "--output needs a file name"},
    {{"x", "y", "--k", "0"}, "--k: '0' is not an integer from 1 to 1000"},
    {{"x", "y", "--k", "1001"},
     "--k: '1001' is not an integer from 1 to 1000"},
    {{"x", "y", "--k=abc"}, "--k: 'abc' is not an integer from 1 to 1000"},
    {{"x", "y", "--k="}, "--k: '' is not an integer from 1 to 1000"},
    {{"x", "y", "--k", "+5"}, "--k: '+5' is not an integer from 1 to 1000"},
    {{"x", "y", "--k", "-5"}, "--k: '-5' is not an integer from 1 to 1000"},
    {{"x", "y", "--k", " 5"}, "--k: ' 5' is not an integer from 1 to 1000"},
    {{"x", "y", "--k", "5 "}, "--k: '5 ' is not an integer from 1 to 1000"},
    {{"x", "y", "--k", "0x10"},
     "--k: '0x10' is not an integer from 1 to 1000"},
    {{"x", "y", "--k", "5.0"}, "--k: '5.0' is not an integer from 1 to 1000"},
    {{"x", "y", "--k", "99999999999999999999999"},
     "--k: '99999999999999999999999' is not an integer from 1 to 1000"},
    {{"x", "y", "--threads", "4097"},
     "--threads: '4097' is not an integer from 0 to 4096"},
    {{"x", "y", "--wide", "2147483648"},
     "--wide: '2147483648' is not an integer from 0 to 2147483647"},
    {{"x", "y", "--epochs", "0"},
     "--epochs: '0' is not an integer from 1 to 1000"},
    {{"x", "y", "--seed", "-1"}, "--seed: '-1' is not a non-negative integer"},
    {{"x", "y", "--seed", "18446744073709551616"},
     "--seed: '18446744073709551616' is not a non-negative integer"},
    {{"x", "y", "--threshold", "1.5"},
     "--threshold: '1.5' is not a number from 0 to 1"},
    {{"x", "y", "--threshold", "-0.1"},
     "--threshold: '-0.1' is not a number from 0 to 1"},
    {{"x", "y", "--threshold", "nan"},
     "--threshold: 'nan' is not a number from 0 to 1"},
    {{"x", "y", "--threshold", "inf"},
     "--threshold: 'inf' is not a number from 0 to 1"},
    {{"x", "y", "--threshold", "1e-400"},
     "--threshold: '1e-400' is not a number from 0 to 1"},
    {{"x", "y", "--threshold", ""},
     "--threshold: '' is not a number from 0 to 1"},
    {{"x", "y", "--threshold", " 0.5"},
     "--threshold: ' 0.5' is not a number from 0 to 1"},
    {{"x", "y", "--threshold", "0.5 "},
     "--threshold: '0.5 ' is not a number from 0 to 1"},
    {{"x", "y", "--threshold=half"},
     "--threshold: 'half' is not a number from 0 to 1"},
    {{"x", "y", "--color", "pink"},
     "--color: 'pink' is not red, green or blue"},
    {{"x", "y", "-c", ""}, "-c: '' is not red, green or blue"},
};

START_TEST(usage_errors_word_for_word)
{
    for (size_t i = 0; i < sizeof usage_errors / sizeof usage_errors[0];
         i++) {
        const char *const *args = usage_errors[i].args;
        ck_assert_msg(parse_argv(args) == 2, "case %zu: status not 2", i);
        char want[512];
        snprintf(want, sizeof want,
                 "kgalign test: %s\nTry 'kgalign test --help'.\n",
                 usage_errors[i].message);
        ck_assert_msg(strcmp(err_text, want) == 0,
                      "case %zu: stderr\n%s\ninstead of\n%s", i, err_text,
                      want);
        ck_assert_str_eq(out_text, "");
    }
}
END_TEST

/* ---- The number parsers for callbacks ----------------------------------- */

START_TEST(number_parsers_leave_out_alone_on_failure)
{
    uint64_t u = 42;
    ck_assert_int_eq(kga_option_parse_uint("17", 0, 20, &u), 0);
    ck_assert(u == 17);
    ck_assert_int_ne(kga_option_parse_uint("21", 0, 20, &u), 0);
    ck_assert_int_ne(kga_option_parse_uint("", 0, 20, &u), 0);
    ck_assert(u == 17);
    double d = 4.5;
    ck_assert_int_eq(kga_option_parse_double("-2", -3, 3, &d), 0);
    ck_assert_double_eq(d, -2);
    ck_assert_int_ne(kga_option_parse_double("4", -3, 3, &d), 0);
    ck_assert_int_ne(kga_option_parse_double("1e999", -3, 1e308, &d), 0);
    ck_assert_double_eq(d, -2);
}
END_TEST

/* ---- The commands' own tables ------------------------------------------ */

static int run_command(kga_command_fn fn, const char *const *args)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    for (; args[argc] != NULL; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    int status;
    CAPTURED(status, fn(argc, argv));
    return status;
}

/* Usage errors found before any file is touched. */
static const struct {
    kga_command_fn fn;
    const char *args[8];
    const char *message;
} command_errors[] = {
    {kga_cmd_eval, {"eval"}, "kgalign eval: missing DATA_DIR and MODEL"},
    {kga_cmd_eval, {"eval", "a", "b", "--k", "0"},
     "kgalign eval: --k: '0' is not an integer from 1 to 1000"},
    {kga_cmd_eval, {"eval", "a", "b", "--split", "dev"},
     "kgalign eval: --split: 'dev' is not test, valid or train"},
    {kga_cmd_eval, {"eval", "a", "b", "--report="},
     "kgalign eval: --report needs a file name"},
    {kga_cmd_align, {"align", "a", "b"},
     "kgalign align: missing -o MATCHES.tsv"},
    {kga_cmd_align, {"align", "a", "b", "c"},
     "kgalign align: unexpected argument 'c'"},
    {kga_cmd_align, {"align", "a", "b", "-o", "m", "--threads"},
     "kgalign align: --threads needs a value"},
    {kga_cmd_align, {"align", "a", "b", "-o", "m", "--threshold", "2"},
     "kgalign align: --threshold: '2' is not a number from 0 to 1"},
    {kga_cmd_train, {"train", "x", "--epochs=-1", "-o", "m"},
     "kgalign train: --epochs: '-1' is not an integer from 0 to 1000"},
    {kga_cmd_train, {"train", "x"}, "kgalign train: missing -o MODEL"},
    {kga_cmd_train, {"train", "-o", "m"}, "kgalign train: missing DATA_DIR"},
    {kga_cmd_train, {"train", "x", "-o", "m", "--features", "all"},
     "kgalign train: --features: 'all' is not one of auto, names, ids, both"},
    {kga_cmd_train, {"train", "x", "-o", "m", "--seed", "-1"},
     "kgalign train: --seed: '-1' is not a non-negative integer"},
    {kga_cmd_synth, {"synth", "--entities", "abc"},
     "kgalign synth: --entities: 'abc' is not an integer from 10 to "
     "50000000"},
    {kga_cmd_synth, {"synth", "--seed", "0xg", "d"},
     "kgalign synth: --seed: '0xg' is not a non-negative integer"},
    {kga_cmd_synth, {"synth"}, "kgalign synth: missing OUT_SRC_DIR"},
    {kga_cmd_import, {"import", "--format", "nope", "a", "b"},
     "kgalign import: --format: 'nope' is not openea, dbp15k, records or "
     "ntriples"},
    {kga_cmd_import, {"import", "a", "b"},
     "kgalign import: --format openea|dbp15k|records|ntriples is required"},
    {kga_cmd_import, {"import", "--format=openea", "--name-column", "t", "a",
                      "b"},
     "kgalign import: --name-column and --entity-columns are for --format "
     "records"},
    {kga_cmd_import, {"import", "--format=openea", "a", "b",
                      "--valid-fraction", "1"},
     "kgalign import: --valid-fraction: '1' is not a number in [0, 1)"},
    {kga_cmd_align, {"align", "d", "m", "-ox", "--pairs=p", "--one-to-one"},
     "kgalign align: --pairs scores each pair alone: --one-to-one does not "
     "apply"},
    {kga_cmd_info, {"info"}, "kgalign info: missing STORE"},
    {kga_cmd_info, {"info", "a", "b"}, "kgalign info: unexpected argument 'b'"},
};

START_TEST(commands_report_usage_errors)
{
    for (size_t i = 0; i < sizeof command_errors / sizeof command_errors[0];
         i++) {
        const char *cmd = command_errors[i].args[0];
        ck_assert_msg(run_command(command_errors[i].fn,
                                  command_errors[i].args) == 2,
                      "%s case %zu: status not 2", cmd, i);
        char want[512];
        snprintf(want, sizeof want, "%s\nTry 'kgalign %s --help'.\n",
                 command_errors[i].message, cmd);
        ck_assert_msg(strcmp(err_text, want) == 0,
                      "case %zu: stderr\n%s\ninstead of\n%s", i, err_text,
                      want);
    }
}
END_TEST

START_TEST(commands_print_their_help)
{
    static const struct {
        kga_command_fn fn;
        const char *name;
    } commands[] = {{kga_cmd_import, "import"}, {kga_cmd_info, "info"},
                    {kga_cmd_synth, "synth"},   {kga_cmd_train, "train"},
                    {kga_cmd_eval, "eval"},     {kga_cmd_align, "align"}};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const char *args[] = {commands[i].name, "--help", NULL};
        ck_assert_int_eq(run_command(commands[i].fn, args), 0);
        char want[64];
        snprintf(want, sizeof want, "usage: kgalign %s ", commands[i].name);
        ck_assert_msg(strncmp(out_text, want, strlen(want)) == 0,
                      "%s --help printed: %.80s", commands[i].name, out_text);
        ck_assert_str_eq(err_text, "");
    }
}
END_TEST

static Suite *cli_options_suite(void)
{
    Suite *s = suite_create("cli_options");
    TCase *parser = kga_test_tcase(s, "parser", 0);
    tcase_add_test(parser, every_kind_with_separate_values);
    tcase_add_test(parser, every_kind_with_attached_values);
    tcase_add_test(parser, options_not_given_keep_their_defaults);
    tcase_add_test(parser, numbers_in_their_plain_forms);
    tcase_add_test(parser, the_last_of_a_repeated_option_wins);
    tcase_add_test(parser, positionals_anywhere);
    tcase_add_test(parser, double_dash_ends_the_options);
    tcase_add_test(parser, a_value_may_start_with_a_dash);
    tcase_add_test(parser, help_on_stdout);
    tcase_add_test(parser, usage_errors_word_for_word);
    tcase_add_test(parser, number_parsers_leave_out_alone_on_failure);

    TCase *commands = kga_test_tcase(s, "commands", 0);
    tcase_add_test(commands, commands_report_usage_errors);
    tcase_add_test(commands, commands_print_their_help);
    return s;
}

int main(void)
{
    return kga_test_run(cli_options_suite);
}
