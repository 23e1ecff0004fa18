#ifndef KGA_SYNTH_FILE_H
#define KGA_SYNTH_FILE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/atomic_file.h"
#include "base/error.h"

/* Output files of the synthetic generator (private to core/synth*.c): text
 * written through one large buffer with a few big write() calls, under a
 * temporary name next to the final one, renamed into place by
 * kga_synth_file_commit() (base/atomic_file.h, without the fsyncs: the
 * output is regenerated from (entities, seed) at will, and syncing
 * gigabytes would dominate the run). An interrupted run thus never leaves a
 * file that looks complete. Errors name the file and the system's reason. */

/* The longest line the generator writes; at the start of every line the
 * buffer has at least this much room (see kga_synth_file_line). */
#define KGA_SYNTH_LINE_MAX 4096

typedef struct {
    kga_atomic_file_t file;
    int overflow; /* a line was longer than KGA_SYNTH_LINE_MAX */
    char *buf;
    size_t len, cap;
    uint64_t bytes; /* written to the file so far */
    char path[PATH_MAX];
} kga_synth_file_t;

/* Creates directory `path` and its missing parents (like mkdir -p). Fails
 * with KGA_EIO and a message naming the directory that could not be made. */
int kga_synth_mkdirs(const char *path, kga_err_t *err);

/* Opens dir/name for writing (under a temporary name until committed) into
 * caller-owned *f. On failure nothing is left open. */
int kga_synth_file_open(kga_synth_file_t *f, const char *dir,
                        const char *name, kga_err_t *err);

/* Call before each line: writes the buffer out when less than
 * KGA_SYNTH_LINE_MAX bytes are free. */
int kga_synth_file_line(kga_synth_file_t *f, kga_err_t *err);

/* Append to the current line. */
static inline void kga_synth_file_put(kga_synth_file_t *f, const char *s,
                                      size_t n)
{
    if (n > f->cap - f->len) {
        f->overflow = 1;
        return;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
}

static inline void kga_synth_file_putc(kga_synth_file_t *f, char c)
{
    if (f->len < f->cap)
        f->buf[f->len++] = c;
    else
        f->overflow = 1;
}

void kga_synth_file_put_str(kga_synth_file_t *f, const char *s);
void kga_synth_file_put_u64(kga_synth_file_t *f, uint64_t v);

/* Writes what is buffered, closes and renames the file into place; frees the
 * buffer in every case. */
int kga_synth_file_commit(kga_synth_file_t *f, kga_err_t *err);

/* Closes and removes the temporary file; for error paths. Safe on a file
 * already committed or aborted. */
void kga_synth_file_abort(kga_synth_file_t *f);

#endif
