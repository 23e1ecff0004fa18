#ifndef KGA_MAPPED_FILE_H
#define KGA_MAPPED_FILE_H

#include <stddef.h>

#include "base/error.h"

/* A whole file mapped read-only, its pages faulted in up front: graph
 * stores and model files are validated byte by byte as they are opened,
 * then read in place for as long as they are open.
 *
 * Ownership: the caller owns the struct (usually a member of the store or
 * model it backs); open fills it, close unmaps and empties it. */

typedef struct {
    const void *data; /* the file's bytes; NULL when not open */
    size_t len;       /* their count (a mapped file is never empty) */
} kga_mapped_file_t;

/* Maps the regular, non-empty file at path. `what` names the kind of file
 * in messages ("graph store", "model file"): "PATH: is a directory, not a
 * graph store". Returns 0, KGA_ENOENT, KGA_EIO (open, stat or mmap
 * failed), KGA_EINVAL (a directory or not a regular file) or
 * KGA_ETRUNCATED (empty); on failure *f is empty. */
int kga_mapped_file_open(kga_mapped_file_t *f, const char *path,
                         const char *what, kga_err_t *err);

/* Unmaps the file and empties *f. An empty (or zeroed) f is allowed. */
void kga_mapped_file_close(kga_mapped_file_t *f);

#endif
