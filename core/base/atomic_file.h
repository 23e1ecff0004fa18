#ifndef KGA_ATOMIC_FILE_H
#define KGA_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

/* A file written whole or not at all: the bytes go to a new temporary file
 * next to the target, which kga_atomic_file_commit() syncs, renames over the
 * target and makes durable by syncing the directory. A reader (or a mapped
 * store or model) sees the old file or the new one, never a part; a crash
 * or an error leaves the old file as it was.
 *
 * The temporary is PATH.tmp.PID.N, N counting up within the process, made
 * with O_CREAT | O_EXCL | O_NOFOLLOW: a name that exists already, whatever
 * it is (a leftover, a symbolic link planted to redirect the write), is
 * never opened or removed; the next N is tried. The file gets mode 0644
 * less the umask, as any new file of the process would.
 *
 * Ownership: the caller owns the struct; open fills it, and commit or abort
 * releases everything it holds (both are safe to call again afterwards).
 * Failures return a negative KGA_E* code with a message naming the file and
 * the system's reason: KGA_ENOENT when the directory does not exist,
 * KGA_ENOMEM, KGA_EIO for the rest. After a failure the temporary is gone. */

typedef struct {
    int fd; /* the temporary's descriptor (a writer may also pwrite() it,
               e.g. a header filled in last); -1 when released */
    FILE *stream; /* with KGA_ATOMIC_STREAM: print here (commit flushes and
                     closes it; do not fclose it yourself) */
    unsigned flags;
    char *path; /* the target */
    char *tmp;  /* the temporary's name; NULL when not open */
} kga_atomic_file_t;

/* Skips both fsyncs: for output that is cheap to make again and large
 * enough for syncing to dominate (the synthetic generator's). The rename
 * still keeps a partial file from looking complete. */
#define KGA_ATOMIC_NO_SYNC 1u
/* Opens f->stream on the temporary, for writers that print. */
#define KGA_ATOMIC_STREAM 2u

/* Creates the temporary for path. On failure nothing is left behind and
 * *f is released. */
int kga_atomic_file_open(kga_atomic_file_t *f, const char *path,
                         unsigned flags, kga_err_t *err);

/* Writes all n bytes at data to the temporary (without KGA_ATOMIC_STREAM:
 * the stream has its own buffer). */
int kga_atomic_file_write(kga_atomic_file_t *f, const void *data, size_t n,
                          kga_err_t *err);

/* Flushes, syncs and closes the temporary, renames it over the target and
 * syncs the directory. Releases f whatever the outcome; on failure before
 * the rename the temporary is removed and the target untouched (when only
 * the directory sync fails, the error says so and the new file is in
 * place, perhaps not yet durably). */
int kga_atomic_file_commit(kga_atomic_file_t *f, kga_err_t *err);

/* Closes and removes the temporary; for error paths. NULL, a released f
 * and a zeroed one (never opened) are allowed. */
void kga_atomic_file_abort(kga_atomic_file_t *f);

#endif
