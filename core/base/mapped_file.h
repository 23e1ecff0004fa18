#ifndef KGA_MAPPED_FILE_H
#define KGA_MAPPED_FILE_H

#include <stddef.h>

#include "base/error.h"

/* A whole file mapped read-only, its pages faulted in up front: graph
 * stores and model files are validated byte by byte as they are opened,
 * then read in place for as long as they are open. */

/* Maps the regular, non-empty file at path. `what` names the kind of file
 * in messages ("graph store", "model file"): "PATH: is a directory, not a
 * graph store". Returns 0, KGA_ENOENT, KGA_EIO (open, stat or mmap
 * failed), KGA_EINVAL (a directory or not a regular file) or
 * KGA_ETRUNCATED (empty). */
int kga_map_file(const char *path, const char *what, void **map,
                 size_t *len, kga_err_t *err);

/* Unmaps what kga_map_file() mapped; NULL is allowed. */
void kga_unmap_file(void *map, size_t len);

#endif
