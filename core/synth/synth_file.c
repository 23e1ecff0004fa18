/* Buffered output files of the synthetic generator (see synth_file.h): a few
 * large write() calls under a temporary name, renamed at commit, so that an
 * interrupted run leaves no file that looks complete. Separate so that the
 * generator's files are about the world, not about I/O. */
#include "synth/synth_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Large enough that writes cost few system calls; output runs to gigabytes. */
#define BUFFER_BYTES (8u << 20)
#define DIR_MODE 0755

static int make_dir(const char *path, kga_err_t *err)
{
    if (mkdir(path, DIR_MODE) == 0)
        return 0;
    int saved = errno;
    struct stat st;
    if (saved == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return kga_err_set(err, KGA_EIO, "cannot create directory '%s': %s",
                       path, strerror(saved == EEXIST ? ENOTDIR : saved));
}

int kga_synth_mkdirs(const char *path, kga_err_t *err)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return kga_err_set(err, KGA_EINVAL,
                           "cannot create directory '%s': bad path length",
                           path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i < len; i++) {
        if (buf[i] != '/' || buf[i - 1] == '/')
            continue;
        buf[i] = '\0';
        int rc = make_dir(buf, err);
        buf[i] = '/';
        if (rc != 0)
            return rc;
    }
    return make_dir(buf, err);
}

int kga_synth_file_open(kga_synth_file_t *f, const char *dir,
                        const char *name, kga_err_t *err)
{
    memset(f, 0, sizeof *f);
    int n = snprintf(f->path, sizeof f->path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof f->path)
        return kga_err_set(err, KGA_EINVAL, "path too long: '%s/%s'", dir,
                           name);
    f->buf = malloc(BUFFER_BYTES);
    if (f->buf == NULL)
        return kga_err_set(err, KGA_ENOMEM,
                           "cannot allocate the write buffer for '%s'",
                           f->path);
    f->cap = BUFFER_BYTES;
    int rc = kga_atomic_file_open(&f->file, f->path, KGA_ATOMIC_NO_SYNC, err);
    if (rc != 0) {
        free(f->buf);
        f->buf = NULL;
    }
    return rc;
}

static int flush(kga_synth_file_t *f, kga_err_t *err)
{
    int rc = kga_atomic_file_write(&f->file, f->buf, f->len, err);
    if (rc != 0)
        return rc;
    f->bytes += f->len;
    f->len = 0;
    return 0;
}

int kga_synth_file_line(kga_synth_file_t *f, kga_err_t *err)
{
    if (f->cap - f->len >= KGA_SYNTH_LINE_MAX)
        return 0;
    return flush(f, err);
}

void kga_synth_file_put_str(kga_synth_file_t *f, const char *s)
{
    kga_synth_file_put(f, s, strlen(s));
}

void kga_synth_file_put_u64(kga_synth_file_t *f, uint64_t v)
{
    char digits[20];
    int n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    while (n > 0)
        kga_synth_file_putc(f, digits[--n]);
}

int kga_synth_file_commit(kga_synth_file_t *f, kga_err_t *err)
{
    int rc = 0;
    if (f->overflow)
        rc = kga_err_set(err, KGA_ELIMIT,
                         "cannot write '%s': a line exceeds %d bytes",
                         f->path, KGA_SYNTH_LINE_MAX);
    if (rc == 0)
        rc = flush(f, err);
    if (rc == 0)
        rc = kga_atomic_file_commit(&f->file, err);
    else
        kga_atomic_file_abort(&f->file);
    free(f->buf);
    f->buf = NULL;
    return rc;
}

void kga_synth_file_abort(kga_synth_file_t *f)
{
    kga_atomic_file_abort(&f->file);
    free(f->buf);
    f->buf = NULL;
}
