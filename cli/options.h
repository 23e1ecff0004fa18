#ifndef KGA_CLI_OPTIONS_H
#define KGA_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The command line of every subcommand is one table of kga_option_t, built
 * with the KGA_OPTION_* macros below, and one call to kga_options_parse().
 * The table holds pointers into the caller's variables: the parser writes a
 * value only when it is valid, so the variables' values before the call are
 * the defaults. */

typedef enum {
    KGA_OPT_FLAG,   /* int, set to 1; "--name=value" is an error */
    KGA_OPT_INT,    /* whole-string decimal within [min, max] into an int */
    KGA_OPT_U32,    /* ... into a uint32_t */
    KGA_OPT_U64,    /* ... into a uint64_t */
    KGA_OPT_SIZE,   /* ... into a size_t */
    KGA_OPT_DOUBLE, /* finite number within [real_min, real_max] */
    KGA_OPT_FILE,   /* const char *, not empty; points into argv */
    KGA_OPT_CHOICE, /* parse(text, to) decides; "expected" names what fits */
    KGA_OPT_ARG,    /* a required positional argument; name is its metavar */
} kga_option_kind_t;

/* Stores the value of text in *to and returns 0, or returns nonzero when
 * text is not acceptable (then *to must be left as it was). A typed parser
 * such as kga_split_parse() needs a small wrapper of this type: calling it
 * through a cast function pointer is undefined behaviour. */
typedef int (*kga_option_parse_fn)(const char *text, void *to);

typedef struct {
    const char *name;  /* "k" for --k; for KGA_OPT_ARG "DATA_DIR" */
    char letter;       /* 'o' for -o and -oVALUE, or 0 */
    kga_option_kind_t kind;
    union {
        int *i;
        uint32_t *u32;
        uint64_t *u64;
        size_t *size;
        double *real;
        const char **str;
        void *any;
    } to;
    uint64_t min, max;         /* integer kinds */
    double real_min, real_max; /* KGA_OPT_DOUBLE */
    kga_option_parse_fn parse; /* KGA_OPT_CHOICE */
    const char *expected;      /* KGA_OPT_CHOICE: ends "'x' is not ..." */
} kga_option_t;

/* The macros tie each kind to its destination type, so that a table entry
 * pointing at a variable of the wrong type does not compile. */
#define KGA_OPTION_FLAG(name, letter, dest) \
    {name, letter, KGA_OPT_FLAG, {.i = (dest)}, 0, 0, 0, 0, NULL, NULL}
#define KGA_OPTION_INT(name, letter, dest, min, max) \
    {name, letter, KGA_OPT_INT, {.i = (dest)}, min, max, 0, 0, NULL, NULL}
#define KGA_OPTION_U32(name, letter, dest, min, max) \
    {name, letter, KGA_OPT_U32, {.u32 = (dest)}, min, max, 0, 0, NULL, NULL}
#define KGA_OPTION_U64(name, letter, dest, min, max) \
    {name, letter, KGA_OPT_U64, {.u64 = (dest)}, min, max, 0, 0, NULL, NULL}
#define KGA_OPTION_SIZE(name, letter, dest, min, max) \
    {name, letter, KGA_OPT_SIZE, {.size = (dest)}, min, max, 0, 0, NULL, NULL}
#define KGA_OPTION_DOUBLE(name, letter, dest, min, max) \
    {name, letter, KGA_OPT_DOUBLE, {.real = (dest)}, 0, 0, min, max, NULL, NULL}
#define KGA_OPTION_FILE(name, letter, dest) \
    {name, letter, KGA_OPT_FILE, {.str = (dest)}, 0, 0, 0, 0, NULL, NULL}
#define KGA_OPTION_CHOICE(name, letter, dest, parse, expected) \
    {name, letter, KGA_OPT_CHOICE, {.any = (dest)}, 0, 0, 0, 0, parse, expected}
#define KGA_OPTION_ARG(metavar, dest) \
    {metavar, 0, KGA_OPT_ARG, {.str = (dest)}, 0, 0, 0, 0, NULL, NULL}

/* What kga_options_parse() returns when the command should go on. */
#define KGA_OPTIONS_RUN (-1)

/* Parses argv[1 .. argc-1] (argv[0] is the subcommand's name) against
 * options[0 .. n-1]. Options and positional arguments may be mixed; "--"
 * makes every later argument positional; a lone "-" is positional. Values
 * come as "--name value", "--name=value", "-x value" or "-xvalue"; the last
 * of a repeated option wins. "-h" and "--help" print usage(stdout).
 *
 * Returns KGA_OPTIONS_RUN when every KGA_OPT_ARG got its argument, else the
 * exit status for the command to return: 0 after the help, 2 after a usage
 * error reported by kga_cli_usage_error() (cli/commands.h). */
int kga_options_parse(const char *cmd, void (*usage)(FILE *out),
                      const kga_option_t *options, size_t n, int argc,
                      char **argv);

/* The number parsers of the table, for KGA_OPT_CHOICE callbacks that need a
 * number with more rules. Both return 0 and set *out, or -1 leaving *out
 * alone. An integer is decimal digits only (no sign, space or 0x); a double
 * is what strtod() reads, the whole string, finite. */
int kga_option_parse_uint(const char *text, uint64_t min, uint64_t max,
                          uint64_t *out);
int kga_option_parse_double(const char *text, double min, double max,
                            double *out);

#endif
