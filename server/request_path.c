/* A request's target before routing (see request_path.h): the raw target's
 * encodings that are refused, and the normalised path the routes are
 * matched on, the same as deploy/haproxy.cfg's. Apart from the handler so
 * that the rules are one pure function each, tested and fuzzed alone. */
#include "request_path.h"

#include <string.h>

#include "base/hex.h"

kga_target_problem_t kga_target_check(const char *target, size_t len)
{
    int in_query = 0;
    for (size_t i = 0; i < len; i++) {
        if (target[i] == '?')
            in_query = 1;
        if (target[i] != '%')
            continue;
        int hi = i + 2 < len ? kga_hex_digit_value(target[i + 1]) : -1;
        int lo = hi >= 0 ? kga_hex_digit_value(target[i + 2]) : -1;
        if (lo < 0)
            return KGA_TARGET_BAD_ESCAPE;
        int byte = hi * 16 + lo;
        if (byte == 0)
            return KGA_TARGET_NUL;
        if (!in_query && (byte == '/' || byte == '\\'))
            return KGA_TARGET_SLASH;
        i += 2;
    }
    return KGA_TARGET_OK;
}

const char *kga_target_problem_message(kga_target_problem_t p)
{
    switch (p) {
    case KGA_TARGET_NUL:
        return "the request target holds an encoded NUL (%00)";
    case KGA_TARGET_SLASH:
        return "the path holds an encoded slash or backslash (%2F, %5C)";
    case KGA_TARGET_BAD_ESCAPE:
        return "the request target holds a '%' without two hex digits";
    default:
        return "the request target is well-formed";
    }
}

int kga_path_normalise(const char *path, char *out, size_t cap)
{
    if (cap > 0)
        out[0] = '\0';
    if (path[0] != '/')
        return KGA_PATH_RELATIVE;
    size_t n = 0; /* bytes of out in use, without a NUL */
    const char *p = path;
    int trailing = 0;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        /* A path that ends on a separator, "." or ".." names a folder:
         * its trailing slash stays, as HAProxy keeps it. */
        trailing = *p == '\0' && (len == 0 || (len == 1 && seg[0] == '.') ||
                                  (len == 2 && seg[0] == '.' && seg[1] == '.'));
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            if (n == 0) {
                if (cap > 0)
                    out[0] = '\0';
                return KGA_PATH_ABOVE_ROOT;
            }
            while (n > 0 && out[n - 1] != '/')
                n--;
            n--; /* the slash before the segment taken */
            continue;
        }
        if (n + 1 + len + 1 > cap) {
            if (cap > 0)
                out[0] = '\0';
            return KGA_PATH_TOO_LONG;
        }
        out[n++] = '/';
        memcpy(out + n, seg, len);
        n += len;
    }
    if (n == 0 || trailing) {
        if (n + 2 > cap) {
            if (cap > 0)
                out[0] = '\0';
            return KGA_PATH_TOO_LONG;
        }
        out[n++] = '/';
    }
    out[n] = '\0';
    return 0;
}
