/* Fuzzes what the server makes of a request target before routing it
 * (server/request_path.h): the raw target's check, and the normalisation of
 * the path the routes are matched on. The input's first byte picks the
 * output buffer's size (1 to 256 bytes); the rest is the target, cut at its
 * first NUL as libmicrohttpd hands it over.
 * Oracles: the check gives a defined verdict, and "%00" or an encoded slash
 * in the path are never OK; the normaliser returns a documented code,
 * writes a NUL-terminated string inside the buffer ("" on failure), and on
 * success a path that starts with '/', has no empty, "." or ".." segment,
 * normalises to itself, and fits the buffer however small. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "server/request_path.h"

#define FUZZ_PATH_CAP_MAX 256

/* 1 when path has an empty, "." or ".." segment (a trailing slash aside). */
static int fuzz_path_has_dot_or_empty_segment(const char *path)
{
    for (const char *p = path; *p != '\0';) {
        const char *seg = p + 1, *end = strchr(seg, '/');
        size_t len = end != NULL ? (size_t)(end - seg) : strlen(seg);
        if ((len == 0 && end != NULL) ||
            (len == 1 && seg[0] == '.') ||
            (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return 1;
        if (end == NULL)
            break;
        p = end;
    }
    return 0;
}

static int fuzz_request_path_one(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t cap = (size_t)data[0] % FUZZ_PATH_CAP_MAX + 1;
    size_t len = size - 1;
    const uint8_t *nul = memchr(data + 1, '\0', len);
    if (nul != NULL)
        len = (size_t)(nul - (data + 1));
    char *target = malloc(len + 1);
    if (target == NULL)
        return 0;
    memcpy(target, data + 1, len);
    target[len] = '\0';
    int bad = 0;

    kga_target_problem_t p = kga_target_check(target, len);
    if ((unsigned)p >= KGA_TARGET_PROBLEM_COUNT_)
        bad = fuzz_fail("path: verdict %d", (int)p);
    else if (fuzz_touch_str(kga_target_problem_message(p)) == 0)
        bad = fuzz_fail("path: empty message for verdict %d", (int)p);
    const char *query = strchr(target, '?');
    size_t path_len = query != NULL ? (size_t)(query - target) : len;
    if (!bad && p == KGA_TARGET_OK &&
        (strstr(target, "%00") != NULL ||
         memmem(target, path_len, "%2f", 3) != NULL ||
         memmem(target, path_len, "%2F", 3) != NULL ||
         memmem(target, path_len, "%5c", 3) != NULL ||
         memmem(target, path_len, "%5C", 3) != NULL))
        bad = fuzz_fail("path: '%.100s' passes the check", target);

    /* The buffer exactly cap bytes, so that ASan sees a write past it. */
    char *out = malloc(cap);
    char *again = malloc(cap);
    if (!bad && out != NULL && again != NULL) {
        int rc = kga_path_normalise(target, out, cap);
        size_t out_len = strnlen(out, cap);
        if (rc != 0 && rc != KGA_PATH_ABOVE_ROOT && rc != KGA_PATH_TOO_LONG &&
            rc != KGA_PATH_RELATIVE)
            bad = fuzz_fail("path: normalise returned %d", rc);
        else if (out_len == cap)
            bad = fuzz_fail("path: output not terminated in %zu bytes", cap);
        else if (rc != 0 && out_len != 0)
            bad = fuzz_fail("path: failure %d left '%s'", rc, out);
        else if (rc == 0 &&
                 (out[0] != '/' || fuzz_path_has_dot_or_empty_segment(out)))
            bad = fuzz_fail("path: '%.100s' normalised to '%s'", target, out);
        else if (rc == KGA_PATH_RELATIVE && target[0] == '/')
            bad = fuzz_fail("path: '%.100s' called relative", target);
        else if (rc == 0 &&
                 (kga_path_normalise(out, again, cap) != 0 ||
                  strcmp(out, again) != 0))
            bad = fuzz_fail("path: '%s' does not normalise to itself", out);
    }
    free(again);
    free(out);
    free(target);
    return bad;
}

KGA_FUZZ_ENTRY(fuzz_request_path_one)
