/* Maps a whole file read-only, for the graph store and the model file, with
 * the checks and messages both need (missing, a directory, empty). Pages
 * are faulted in at open (MAP_POPULATE): the validators read every byte at
 * open anyway. Keeps what tells a file changed in place from one left
 * alone, and a list of the live mappings that a fault handler can read
 * (see mapped_file.h). */
#include "base/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * The live mappings, for kga_mapped_file_owner(): writers take the lock, a
 * signal handler reads without it. A slot is published by storing its
 * start last (release) and withdrawn by clearing it first.
 * ------------------------------------------------------------------------ */

#define REGISTRY_SLOTS 64

static struct {
    atomic_uintptr_t start; /* 0 = free */
    size_t len;
    const char *path;
} registry[REGISTRY_SLOTS];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static void registry_add(const void *data, size_t len, const char *path)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < REGISTRY_SLOTS; i++) {
        if (atomic_load_explicit(&registry[i].start, memory_order_relaxed) !=
            0)
            continue;
        registry[i].len = len;
        registry[i].path = path;
        atomic_store_explicit(&registry[i].start, (uintptr_t)data,
                              memory_order_release);
        break;
    }
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(const void *data)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < REGISTRY_SLOTS; i++)
        if (atomic_load_explicit(&registry[i].start, memory_order_relaxed) ==
            (uintptr_t)data)
            atomic_store_explicit(&registry[i].start, 0,
                                  memory_order_release);
    pthread_mutex_unlock(&registry_lock);
}

const char *kga_mapped_file_owner(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    for (size_t i = 0; i < REGISTRY_SLOTS; i++) {
        uintptr_t start =
            atomic_load_explicit(&registry[i].start, memory_order_acquire);
        if (start != 0 && a >= start && a - start < registry[i].len)
            return registry[i].path;
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Mapping
 * ------------------------------------------------------------------------ */

static int64_t mtime_ns_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void make_empty(kga_mapped_file_t *f)
{
    f->data = NULL;
    f->len = 0;
    f->fd = -1;
    f->path = NULL;
    f->mtime_ns = 0;
}

int kga_mapped_file_open(kga_mapped_file_t *f, const char *path,
                         const char *what, kga_err_t *err)
{
    make_empty(f);
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
    char *copy = rc == 0 ? strdup(path) : NULL;
    if (rc == 0 && copy == NULL)
        rc = kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    size_t n = (size_t)st.st_size;
    void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED) {
        int map_errno = errno;
        close(fd);
        free(copy);
        return kga_err_set(err, KGA_EIO, "%s: cannot map: %s", path,
                           strerror(map_errno));
    }
    f->data = m;
    f->len = n;
    f->fd = fd;
    f->path = copy;
    f->mtime_ns = mtime_ns_of(&st);
    registry_add(m, n, copy);
    return 0;
}

int kga_mapped_file_check(const kga_mapped_file_t *f, kga_err_t *err)
{
    if (f->data == NULL)
        return 0;
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return kga_err_set(err, KGA_EIO, "%s: cannot stat: %s", f->path,
                           strerror(errno));
    if ((size_t)st.st_size != f->len)
        return kga_err_set(err, KGA_ECHANGED,
                           "%s: changed in place while mapped: %zu bytes, "
                           "%lld now (files in use must be replaced by "
                           "rename, never rewritten)",
                           f->path, f->len, (long long)st.st_size);
    if (mtime_ns_of(&st) != f->mtime_ns)
        return kga_err_set(err, KGA_ECHANGED,
                           "%s: changed in place while mapped: modified "
                           "again (files in use must be replaced by rename, "
                           "never rewritten)",
                           f->path);
    return 0;
}

int kga_image_load_file(const char *path, const char *what,
                        kga_image_load_fn load, void *out, kga_err_t *err)
{
    kga_err_clear(err);
    kga_mapped_file_t f;
    int rc = kga_mapped_file_open(&f, path, what, err);
    if (rc != 0)
        return rc;
    kga_err_t lerr;
    rc = load(f.data, f.len, path, &f, out, &lerr);
    if (rc != 0) {
        kga_mapped_file_close(&f);
        return kga_err_set(err, rc, "%s: %s", path, lerr.msg);
    }
    return 0;
}

int kga_image_load_buffer(const void *buf, size_t len, const char *what,
                          kga_image_load_fn load, void *out, kga_err_t *err)
{
    if ((uintptr_t)buf % sizeof(uint64_t) != 0)
        return kga_err_set(err, KGA_EINVAL,
                           "%s buffer is not 8-byte aligned", what);
    return load(buf, len, "<buffer>", NULL, out, err);
}

void kga_mapped_file_close(kga_mapped_file_t *f)
{
    /* A zeroed f (fd 0, not a descriptor of ours) has no data either. */
    if (f->data != NULL) {
        registry_remove(f->data);
        munmap((void *)f->data, f->len);
        close(f->fd);
        free(f->path);
    }
    make_empty(f);
}
