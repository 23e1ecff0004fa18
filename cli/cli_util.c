/* What every subcommand prints besides its results and its progress line
 * (progress.c): errors in one form, "kgalign CMD: ...", and the opening of
 * an aligner as the commands that use one (eval, align) report it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "align/fusion.h"
#include "commands.h"

static void __attribute__((format(printf, 2, 0)))
print_error(const char *cmd, const char *fmt, va_list ap)
{
    kga_cli_progress_done();
    fprintf(stderr, "kgalign %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void kga_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_error(cmd, fmt, ap);
    va_end(ap);
}

int kga_cli_open_aligner(const char *cmd, const char *data_dir,
                         const char *model, kga_aligner_options_t *opts,
                         kga_aligner_t **a)
{
    kga_err_t err;
    kga_err_clear(&err);
    opts->progress = kga_cli_progress();
    int rc = kga_aligner_open_dir(data_dir, model, opts, a, &err);
    kga_cli_progress_done();
    if (rc != 0) {
        kga_cli_error(cmd, "%s", err.msg);
        return -1;
    }
    return 0;
}

int kga_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_error(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'kgalign %s --help'.\n", cmd);
    return 2;
}

int kga_cli_parse_search(const char *text, void *to)
{
    static const char *const names[] = {"auto", "exact", "approx"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) {
            *(int *)to = i == 0 ? KGA_SEARCH_AUTO
                         : i == 1 ? KGA_SEARCH_EXACT
                                  : KGA_SEARCH_APPROX;
            return 0;
        }
    return -1;
}
