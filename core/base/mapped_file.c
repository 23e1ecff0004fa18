/* Maps a whole file read-only, for the graph store and the model file, with
 * the checks and messages both need (missing, a directory, empty). Pages
 * are faulted in at open (MAP_POPULATE): the validators read every byte at
 * open anyway. */
#include "base/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int kga_mapped_file_open(kga_mapped_file_t *f, const char *path,
                         const char *what, kga_err_t *err)
{
    f->data = NULL;
    f->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kga_err_set(err, errno == ENOENT ? KGA_ENOENT : KGA_EIO,
                           "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = kga_err_set(err, KGA_EIO, "%s: cannot stat: %s", path,
                         strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = kga_err_set(err, KGA_EINVAL, "%s: is a directory, not a %s",
                         path, what);
    else if (!S_ISREG(st.st_mode))
        rc = kga_err_set(err, KGA_EINVAL, "%s: not a regular file, not a %s",
                         path, what);
    else if (st.st_size == 0)
        rc = kga_err_set(err, KGA_ETRUNCATED,
                         "%s: empty file (0 bytes), not a %s", path, what);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    size_t n = (size_t)st.st_size;
    void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (m == MAP_FAILED)
        return kga_err_set(err, KGA_EIO, "%s: cannot map: %s", path,
                           strerror(map_errno));
    f->data = m;
    f->len = n;
    return 0;
}

void kga_mapped_file_close(kga_mapped_file_t *f)
{
    if (f->data != NULL)
        munmap((void *)f->data, f->len);
    f->data = NULL;
    f->len = 0;
}
