#ifndef KGA_ERROR_H
#define KGA_ERROR_H

#include <stddef.h>

/* Every fallible function in kgalign returns 0 on success or one of these
 * negative codes. The table is the single source of truth for the codes and
 * their text (libuv's UV_ERRNO_MAP pattern). */
#define KGA_ERRNO_MAP(X)                                                   \
    X(NOMEM, "out of memory")                                              \
    X(IO, "input/output error")                                            \
    X(NOENT, "no such file or directory")                                  \
    X(INVAL, "invalid argument")                                           \
    X(PARSE, "malformed input")                                            \
    X(FORMAT, "bad file format")                                           \
    X(MAGIC, "bad magic number")                                           \
    X(VERSION, "unsupported format version")                               \
    X(ENDIAN, "wrong byte order")                                          \
    X(TRUNCATED, "file truncated")                                         \
    X(CHECKSUM, "checksum mismatch")                                       \
    X(RANGE, "value out of range")                                         \
    X(UNKNOWN_ID, "unknown entity id")                                     \
    X(DUPLICATE, "duplicate entry")                                        \
    X(LIMIT, "limit exceeded")                                             \
    X(MISMATCH, "model and stores do not match")                           \
    X(NUMERIC, "numerical failure")                                        \
    X(UNSUPPORTED, "unsupported operation")                                \
    X(CHANGED, "file changed while in use")

enum {
    KGA_OK = 0,
#define KGA_ERRNO_ENUM(name, text) KGA_E##name,
    KGA_ERRNO_BASE_ = -1000,
    KGA_ERRNO_MAP(KGA_ERRNO_ENUM)
#undef KGA_ERRNO_ENUM
    KGA_ERRNO_END_
};
/* The codes above are -999, -998, ...: all negative, all distinct. */

/* Static text for a code; never NULL (unknown codes give "unknown error"). */
const char *kga_strerror(int code);

/* Symbolic name of a code, e.g. "KGA_ECHECKSUM"; never NULL. */
const char *kga_err_name(int code);

/* A message buffer filled by loaders and parsers. The message names the file,
 * the line or offset, and what was wrong. Callers own the storage. */
#define KGA_ERRMSG_MAX 512
typedef struct {
    int code;
    char msg[KGA_ERRMSG_MAX];
} kga_err_t;

/* Clears *err (a NULL err is allowed everywhere and means "no message"). */
void kga_err_clear(kga_err_t *err);

/* Records code and a printf-style message in *err (if err is not NULL) and
 * returns code, so that callers can write `return kga_err_set(err, ...)`. */
int kga_err_set(kga_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
