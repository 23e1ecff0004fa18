#ifndef KGA_SERVER_REQUEST_PATH_H
#define KGA_SERVER_REQUEST_PATH_H

#include <stddef.h>

/* What the server makes of a request's target before routing it. A
 * balancer in front decides what to forward by the path it sees, and the
 * server routes on the path it sees: the two must agree on every spelling
 * of a path, or a path the balancer refuses (/admin/...) reaches the route
 * by another spelling (/%61dmin/reload, /x/../admin/reload). So:
 *
 * - the raw target (as sent, before libmicrohttpd decodes %XX) is refused
 *   when it holds what no route needs and what decoding would hide: an
 *   encoded NUL (%00: the decoded C string ends there), an encoded slash
 *   or backslash (%2F, %5C: a path separator the balancer does not see as
 *   one), or a '%' without two hex digits after it;
 * - the decoded path is routed only once normalised the way
 *   deploy/haproxy.cfg normalises it (http-request normalize-uri): empty
 *   and "." segments dropped, ".." taking the segment before it, a
 *   trailing slash kept.
 *
 * Pure functions on strings, apart from the server so that they can be
 * tested and fuzzed alone. */

typedef enum {
    KGA_TARGET_OK = 0,
    KGA_TARGET_NUL,          /* %00 anywhere */
    KGA_TARGET_SLASH,        /* %2F or %5C in the path */
    KGA_TARGET_BAD_ESCAPE,   /* '%' without two hex digits */
    KGA_TARGET_PROBLEM_COUNT_
} kga_target_problem_t;

/* Checks the raw request target, len bytes at target (the path and any
 * query, before decoding). */
kga_target_problem_t kga_target_check(const char *target, size_t len);

/* A sentence for the 400 answer: "the path holds an encoded NUL (%00)". */
const char *kga_target_problem_message(kga_target_problem_t p);

/* Results of kga_path_normalise() besides 0. */
#define KGA_PATH_ABOVE_ROOT (-1) /* a ".." with no segment left to take */
#define KGA_PATH_TOO_LONG (-2)   /* the result does not fit in cap */
#define KGA_PATH_RELATIVE (-3)   /* does not start with '/' */

/* Writes the normalised form of path (decoded, no query) to out, at most
 * cap bytes with the NUL: "/a//./b/../c/" gives "/a/c/". Returns 0 or one
 * of the codes above (out then holds "" when cap > 0). */
int kga_path_normalise(const char *path, char *out, size_t cap);

#endif
