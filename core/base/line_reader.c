/* Line reader over read(2) into one large buffer. Lines are found with
 * memchr and handed out in place, so reading costs a copy per buffer fill
 * and a scan per line, nothing per line on the heap. A file that starts
 * with the gzip magic is read through zlib instead of read(2): RDF dumps
 * come compressed, and decompressing on the fly keeps them so on disk. */
#include "base/line_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/utf8.h"

/* Larger than KGA_LINE_MAX so that a line of the maximum length always fits
 * after the unread rest is moved to the front. */
#define READ_BUFFER_SIZE (4u << 20)

struct kga_line_reader {
    int fd;
    gzFile gz; /* NULL for a plain file */
    int eof;
    char *buf; /* READ_BUFFER_SIZE + 1: room for the NUL after a last line */
    size_t pos, end;
    uint64_t line_no;
    uint64_t bytes;
    uint64_t size;
    char path[];
};

/* Switches r to zlib when the file starts with the gzip magic (1f 8b);
 * zlib then owns the descriptor. */
static int open_gzip(kga_line_reader_t *r, kga_err_t *err)
{
    unsigned char magic[2];
    ssize_t n = pread(r->fd, magic, 2, 0);
    if (n != 2 || magic[0] != 0x1f || magic[1] != 0x8b)
        return 0;
    r->gz = gzdopen(r->fd, "rb");
    if (r->gz == NULL)
        return kga_err_set(err, KGA_ENOMEM, "%s: out of memory", r->path);
    (void)gzbuffer(r->gz, 1u << 18);
    return 0;
}

int kga_line_reader_open(const char *path, kga_line_reader_t **out,
                         kga_err_t *err)
{
    *out = NULL;
    size_t path_len = strlen(path);
    kga_line_reader_t *r = calloc(1, sizeof *r + path_len + 1);
    if (r == NULL)
        return kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
    memcpy(r->path, path, path_len + 1);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int code = errno == ENOENT ? KGA_ENOENT : KGA_EIO;
        kga_err_set(err, code, "%s: %s", path,
                    errno == ENOENT ? "no such file" : strerror(errno));
        free(r);
        return code;
    }
    int rc;
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        rc = kga_err_set(err, KGA_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = kga_err_set(err, KGA_EIO, "%s: %s", path,
                         S_ISDIR(st.st_mode) ? "is a directory"
                                             : "not a regular file");
        goto fail;
    }
    r->size = (uint64_t)st.st_size;
    r->buf = malloc(READ_BUFFER_SIZE + 1);
    if (r->buf == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    (void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    rc = open_gzip(r, err);
    if (rc != 0) {
        free(r->buf);
        goto fail;
    }
    *out = r;
    return 0;
fail:
    close(r->fd);
    free(r);
    return rc;
}

/* Moves the unread bytes to the front and reads more after them. Returns 0
 * (r->eof set when nothing more came) or KGA_EIO. */
static int fill(kga_line_reader_t *r, kga_err_t *err)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->pos = 0;
    }
    if (r->gz != NULL) {
        int n = gzread(r->gz, r->buf + r->end,
                       (unsigned)(READ_BUFFER_SIZE - r->end));
        if (n > 0) {
            r->end += (size_t)n;
            return 0;
        }
        int code;
        const char *msg = gzerror(r->gz, &code);
        if (n == 0 && code == Z_OK) {
            r->eof = 1;
            return 0;
        }
        return kga_err_set(err, code == Z_ERRNO ? KGA_EIO : KGA_EFORMAT,
                           "%s: gzip data after line %llu: %s", r->path,
                           (unsigned long long)r->line_no,
                           code == Z_ERRNO ? strerror(errno) : msg);
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, READ_BUFFER_SIZE - r->end);
        if (n > 0) {
            r->end += (size_t)n;
            return 0;
        }
        if (n == 0) {
            r->eof = 1;
            return 0;
        }
        if (errno != EINTR)
            return kga_err_set(err, KGA_EIO, "%s: read failed: %s", r->path,
                               strerror(errno));
    }
}

/* Drops the rest of an overlong line, up to and including its newline. */
static int discard_line(kga_line_reader_t *r, kga_err_t *err)
{
    for (;;) {
        char *nl = memchr(r->buf + r->pos, '\n', r->end - r->pos);
        if (nl != NULL) {
            size_t used = (size_t)(nl - (r->buf + r->pos)) + 1;
            r->bytes += used;
            r->pos += used;
            return 0;
        }
        r->bytes += r->end - r->pos;
        r->pos = r->end = 0;
        if (r->eof)
            return 0;
        int rc = fill(r, err);
        if (rc != 0)
            return rc;
    }
}

int kga_line_reader_next(kga_line_reader_t *r, char **line, size_t *len,
                         kga_err_t *err)
{
    char *start, *nl;
    size_t n;
    for (;;) {
        start = r->buf + r->pos;
        nl = memchr(start, '\n', r->end - r->pos);
        n = nl != NULL ? (size_t)(nl - start) : r->end - r->pos;
        if (n > KGA_LINE_MAX) {
            r->line_no++;
            int rc = discard_line(r, err);
            if (rc != 0)
                return rc;
            return kga_err_set(err, KGA_ELIMIT,
                               "%s:%llu: line longer than %u bytes", r->path,
                               (unsigned long long)r->line_no, KGA_LINE_MAX);
        }
        if (nl != NULL) {
            r->pos += n + 1;
            r->bytes += n + 1;
            break;
        }
        if (r->eof) {
            if (n == 0)
                return 0;
            r->pos = r->end;
            r->bytes += n;
            break;
        }
        int rc = fill(r, err);
        if (rc != 0)
            return rc;
    }
    r->line_no++;
    if (n > 0 && start[n - 1] == '\r')
        n--;
    start[n] = '\0';
    if (r->line_no == 1 && n >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0) {
        start += 3;
        n -= 3;
    }
    const char *nul = memchr(start, '\0', n);
    if (nul != NULL)
        return kga_err_set(err, KGA_EPARSE, "%s:%llu: NUL byte at column %zu",
                           r->path, (unsigned long long)r->line_no,
                           (size_t)(nul - start) + 1);
    size_t bad;
    if (!kga_utf8_valid(start, n, &bad))
        return kga_err_set(err, KGA_EPARSE,
                           "%s:%llu: invalid UTF-8 at column %zu", r->path,
                           (unsigned long long)r->line_no, bad + 1);
    *line = start;
    *len = n;
    return 1;
}

uint64_t kga_line_reader_line_no(const kga_line_reader_t *r)
{
    return r->line_no;
}

uint64_t kga_line_reader_bytes(const kga_line_reader_t *r)
{
    return r->bytes;
}

uint64_t kga_line_reader_size(const kga_line_reader_t *r)
{
    return r->size;
}

const char *kga_line_reader_path(const kga_line_reader_t *r)
{
    return r->path;
}

void kga_line_reader_close(kga_line_reader_t *r)
{
    if (r == NULL)
        return;
    if (r->gz != NULL)
        gzclose(r->gz); /* closes the descriptor too */
    else
        close(r->fd);
    free(r->buf);
    free(r);
}

size_t kga_split_tabs(char *line, size_t len, char **fields, size_t max)
{
    size_t count = 0;
    char *p = line, *end = line + len;
    for (;;) {
        if (count < max)
            fields[count] = p;
        count++;
        char *tab = memchr(p, '\t', (size_t)(end - p));
        if (tab == NULL)
            return count;
        *tab = '\0';
        p = tab + 1;
    }
}
