/* Helpers shared by the fuzz harnesses (tests/fuzz/fuzz_*.c) and by their
 * replay in tests/test_fuzz_regressions.c, which includes the harness files.
 *
 * Each harness has one entry point `int fuzz_<target>_one(data, size)` that
 * returns 0 when every outcome was defined, or 1 after printing which oracle
 * failed; the libFuzzer entry point turns a 1 into abort(). Crashes and
 * sanitizer reports need no oracle: they stop the process by themselves. */
#ifndef KGA_FUZZ_UTIL_H
#define KGA_FUZZ_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

__attribute__((format(printf, 1, 2), unused)) static int
fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz oracle failed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* rc is 0 or one of allowed[] (a list ended by 0); a failure fills err with
 * the same code and a non-empty, terminated message. */
__attribute__((unused)) static int
fuzz_check_rc(const char *what, int rc, const kga_err_t *err,
              const int *allowed)
{
    if (rc == 0)
        return 0;
    int known = 0;
    for (const int *a = allowed; *a != 0; a++)
        known |= rc == *a;
    if (!known)
        return fuzz_fail("%s: undefined return code %d (%s): %.200s", what,
                         rc, kga_err_name(rc),
                         err != NULL ? err->msg : "");
    if (err == NULL)
        return 0;
    if (memchr(err->msg, '\0', sizeof err->msg) == NULL)
        return fuzz_fail("%s: error message not terminated", what);
    if (err->code != rc)
        return fuzz_fail("%s: returned %s but err holds %s", what,
                         kga_err_name(rc), kga_err_name(err->code));
    if (err->msg[0] == '\0')
        return fuzz_fail("%s: %s without a message", what, kga_err_name(rc));
    return 0;
}

/* Reads every byte of a string the library handed out (so that ASan sees an
 * out-of-bounds pointer) and returns its length. */
__attribute__((unused)) static size_t fuzz_touch_str(const char *s)
{
    return strlen(s);
}

/* The first size bytes of data in a heap buffer of exactly that size
 * (malloc: 8-byte aligned), so that ASan catches a read one byte past the
 * end; the caller frees it. NULL when memory runs out: the harness then
 * returns 0, an input it could not try. */
__attribute__((unused)) static uint8_t *fuzz_copy(const uint8_t *data,
                                                  size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (buf != NULL)
        memcpy(buf, data, size);
    return buf;
}

/* A sink the compiler cannot drop loads into. */
__attribute__((unused)) static volatile uint64_t fuzz_sink;

/* The libFuzzer entry point of a harness whose entry point is `one`: an
 * oracle's failure becomes abort(). Nothing in the replay, which includes
 * every harness in one program. */
#ifndef KGA_FUZZ_REPLAY
#define KGA_FUZZ_ENTRY(one)                                                 \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);           \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)            \
    {                                                                       \
        if (one(data, size) != 0)                                           \
            abort();                                                        \
        return 0;                                                           \
    }
#else
#define KGA_FUZZ_ENTRY(one)
#endif

#endif
