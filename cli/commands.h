#ifndef KGA_CLI_COMMANDS_H
#define KGA_CLI_COMMANDS_H

#include <stdint.h>
#include <stdio.h>

#include "align/aligner.h"
#include "base/progress.h"

/* Each subcommand of `kgalign` is one function in its own cli/cmd_*.c file.
 * It receives argv starting at the subcommand name and returns the process
 * exit status: 0 success, 1 failure, 2 usage error. */
typedef int (*kga_command_fn)(int argc, char **argv);

int kga_cmd_import(int argc, char **argv);
int kga_cmd_add(int argc, char **argv);
int kga_cmd_info(int argc, char **argv);
int kga_cmd_synth(int argc, char **argv);
int kga_cmd_train(int argc, char **argv);
int kga_cmd_eval(int argc, char **argv);
int kga_cmd_align(int argc, char **argv);
int kga_cmd_serve(int argc, char **argv);

/* Progress line on stderr when it is a terminal (or when forced by the
 * KGALIGN_PROGRESS=1 environment variable); silent otherwise. The returned
 * reporter is valid for the whole process. */
const kga_progress_t *kga_cli_progress(void);
/* Ends the current progress line, if one is drawn. */
void kga_cli_progress_done(void);
/* The text of the progress line (without the carriage return): the stage,
 * done of total units with the percentage, the rate and the time left
 * once `elapsed` seconds of the stage (in which done_in_elapsed units were
 * done) make a rate, and the elapsed time. Truncated to cap bytes. */
void kga_cli_progress_format(char *out, size_t cap, const char *stage,
                             const char *unit, uint64_t done, uint64_t total,
                             double elapsed, uint64_t done_in_elapsed);

/* Opens the aligner of DATA_DIR and MODEL for command cmd, with the
 * progress line while it loads (opts->progress is set to it). On failure
 * prints "kgalign CMD: <why>" and returns -1 with *a NULL; 0 otherwise. */
int kga_cli_open_aligner(const char *cmd, const char *data_dir,
                         const char *model, kga_aligner_options_t *opts,
                         kga_aligner_t **a);

/* --search auto|exact|approx into an int (the fusion's kga_search_t);
 * -1 for anything else. */
int kga_cli_parse_search(const char *text, void *to);
#define KGA_CLI_SEARCH_HELP \
    "  --search MODE             candidate search: auto (exact up to about\n" \
    "                            60,000 entities a side), exact or approx\n"

/* Prints "kgalign <cmd>: message" on stderr. */
void kga_cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A usage error: the message as kga_cli_error() prints it, then "Try
 * 'kgalign CMD --help'."; returns 2, the exit status of a usage error. */
int kga_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
