/* Writing a file by temporary, fsync and rename (see atomic_file.h). One
 * copy for the store, links, synthetic data, match and report writers, so
 * that every one creates its temporary safely, gives it the same mode and
 * cleans up the same way. */
#include "base/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MODE 0644
/* Names tried before giving up: each one taken means a leftover or a
 * planted file; many in a row mean something is wrong. */
#define CREATE_ATTEMPTS 64

static atomic_uint tmp_serial;

static int code_of(int e)
{
    if (e == ENOENT || e == ENOTDIR)
        return KGA_ENOENT;
    return e == ENOMEM ? KGA_ENOMEM : KGA_EIO;
}

static int fail_errno(kga_err_t *err, const char *file, const char *what,
                      int e)
{
    return kga_err_set(err, code_of(e), "%s: %s: %s", file, what,
                       strerror(e));
}

static void release(kga_atomic_file_t *f)
{
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    f->stream = NULL;
    f->fd = -1;
}

int kga_atomic_file_open(kga_atomic_file_t *f, const char *path,
                         unsigned flags, kga_err_t *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->flags = flags;
    if (path == NULL || path[0] == '\0')
        return kga_err_set(err, KGA_EINVAL, "no file name to write");
    size_t tmp_cap = strlen(path) + 48; /* ".tmp." PID "." N */
    f->path = strdup(path);
    f->tmp = malloc(tmp_cap);
    if (f->path == NULL || f->tmp == NULL) {
        release(f);
        return kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
    }
    int e = EEXIST;
    for (int attempt = 0; attempt < CREATE_ATTEMPTS && e == EEXIST;
         attempt++) {
        snprintf(f->tmp, tmp_cap, "%s.tmp.%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&tmp_serial, 1));
        f->fd = open(f->tmp,
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     FILE_MODE);
        e = f->fd < 0 ? errno : 0;
    }
    if (f->fd < 0) {
        int rc = fail_errno(err, f->tmp, "cannot create", e);
        release(f);
        return rc;
    }
    if (flags & KGA_ATOMIC_STREAM) {
        f->stream = fdopen(f->fd, "w");
        if (f->stream == NULL) {
            int rc = fail_errno(err, f->tmp, "cannot write", errno);
            kga_atomic_file_abort(f);
            return rc;
        }
    }
    return 0;
}

int kga_atomic_file_write(kga_atomic_file_t *f, const void *data, size_t n,
                          kga_err_t *err)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? fail_errno(err, f->tmp, "write failed", errno)
                         : kga_err_set(err, KGA_EIO,
                                       "%s: write failed: no progress",
                                       f->tmp);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync of the directory holding path, so that the rename survives a
 * crash. Returns 0 or an errno value. */
static int sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? strdup(".")
                : slash == path ? strdup("/")
                                : strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = fd < 0 || fsync(fd) != 0 ? errno : 0;
    if (fd >= 0)
        close(fd);
    free(dir);
    return e;
}

int kga_atomic_file_commit(kga_atomic_file_t *f, kga_err_t *err)
{
    int sync = !(f->flags & KGA_ATOMIC_NO_SYNC);
    int rc = 0;
    if (f->tmp == NULL)
        return kga_err_set(err, KGA_EINVAL, "commit of a file not open");
    if (f->stream != NULL) {
        if (fflush(f->stream) != 0 || ferror(f->stream))
            rc = fail_errno(err, f->tmp, "write failed", errno);
        else if (sync && fsync(f->fd) != 0)
            rc = fail_errno(err, f->tmp, "fsync failed", errno);
        if (fclose(f->stream) != 0 && rc == 0)
            rc = fail_errno(err, f->tmp, "close failed", errno);
    } else {
        if (sync && fsync(f->fd) != 0)
            rc = fail_errno(err, f->tmp, "fsync failed", errno);
        if (close(f->fd) != 0 && rc == 0)
            rc = fail_errno(err, f->tmp, "close failed", errno);
    }
    f->stream = NULL;
    f->fd = -1;
    if (rc == 0 && rename(f->tmp, f->path) != 0)
        rc = fail_errno(err, f->path, "cannot rename the temporary file",
                        errno);
    if (rc != 0) {
        unlink(f->tmp);
    } else if (sync) {
        int e = sync_dir_of(f->path);
        if (e != 0)
            rc = fail_errno(err, f->path, "cannot sync the directory", e);
    }
    release(f);
    return rc;
}

void kga_atomic_file_abort(kga_atomic_file_t *f)
{
    if (f == NULL || f->tmp == NULL) /* released, or never opened */
        return;
    if (f->stream != NULL)
        fclose(f->stream);
    else
        close(f->fd);
    unlink(f->tmp);
    release(f);
}
