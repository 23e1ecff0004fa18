#ifndef KGA_MAPPED_FILE_H
#define KGA_MAPPED_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* A whole file mapped read-only, its pages faulted in up front: graph
 * stores and model files are validated byte by byte as they are opened,
 * then read in place for as long as they are open.
 *
 * A mapped file must never change in place: its bytes are the ones that
 * were validated, and a truncation turns a read of the mapping into
 * SIGBUS. Files are published by writing a new file and renaming it over
 * the old one (base/atomic_file.h), which leaves the mapped inode as it
 * was. Against an operator who does change one in place (cp over it), the
 * mapping keeps its file open and remembers its size and modification
 * time: kga_mapped_file_check() tells whether they changed since the file
 * was mapped. And every live mapping is listed where a SIGBUS handler can
 * find it (kga_mapped_file_owner()), so that a fault in one is reported
 * with the file's name.
 *
 * Ownership: the caller owns the struct (usually a member of the store or
 * model it backs); open fills it, close unmaps, closes and empties it. */

typedef struct {
    const void *data; /* the file's bytes; NULL when not open */
    size_t len;       /* their count (a mapped file is never empty) */
    int fd;           /* the mapped file, kept open for fstat (only
                         while data is not NULL) */
    char *path;       /* as opened (malloc'd) */
    int64_t mtime_ns; /* modification time when mapped */
} kga_mapped_file_t;

/* Maps the regular, non-empty file at path. `what` names the kind of file
 * in messages ("graph store", "model file"): "PATH: is a directory, not a
 * graph store". Returns 0, KGA_ENOENT, KGA_EIO (open, stat or mmap
 * failed), KGA_EINVAL (a directory or not a regular file), KGA_ENOMEM or
 * KGA_ETRUNCATED (empty); on failure *f is empty. */
int kga_mapped_file_open(kga_mapped_file_t *f, const char *path,
                         const char *what, kga_err_t *err);

/* Builds the object an image describes (a graph store, a model file) from
 * its len bytes, validating them first: stores the object in the pointer
 * `out` points to and returns 0, or fails with a message. `name` is the
 * path the image was read from, or "<buffer>". `file` is the mapping that
 * holds the bytes, which the object takes over on success (by copying the
 * struct), or NULL when they are a caller's buffer. */
typedef int (*kga_image_load_fn)(const void *buf, size_t len,
                                 const char *name, kga_mapped_file_t *file,
                                 void *out, kga_err_t *err);

/* Maps the file at path as kga_mapped_file_open() does (`what` as there)
 * and builds its object with load; a failure of load is reported as
 * "PATH: <its message>", and the file is unmapped. */
int kga_image_load_file(const char *path, const char *what,
                        kga_image_load_fn load, void *out, kga_err_t *err);

/* Builds the object of a caller's buffer with load. The object hands out
 * typed pointers into it, so the buffer must be 8-byte aligned as a
 * mapping is: otherwise KGA_EINVAL "<what> buffer is not 8-byte aligned". */
int kga_image_load_buffer(const void *buf, size_t len, const char *what,
                          kga_image_load_fn load, void *out, kga_err_t *err);

/* Whether the mapped file (the inode mapped, whatever its path names now)
 * still has the size and modification time it had when mapped. Returns 0,
 * or KGA_ECHANGED with a message naming the file and what changed (or
 * KGA_EIO when it cannot be asked). An empty f is unchanged. Any thread;
 * one fstat. */
int kga_mapped_file_check(const kga_mapped_file_t *f, kga_err_t *err);

/* The path of the live mapping that holds addr, or NULL: for a SIGBUS or
 * SIGSEGV handler, and async-signal-safe (no lock, no allocation). The
 * string stays valid while that file is mapped. At most 64 mappings are
 * listed at once; past that a mapping is not found here (and is otherwise
 * as usable). */
const char *kga_mapped_file_owner(const void *addr);

/* Unmaps the file and empties *f. An empty (or zeroed) f is allowed. */
void kga_mapped_file_close(kga_mapped_file_t *f);

#endif
