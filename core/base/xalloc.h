#ifndef KGA_XALLOC_H
#define KGA_XALLOC_H

#include <stddef.h>

/* Allocation that cannot fail, for small fixed-size things (a path, an
 * option's copy, a struct), tmux's xmalloc: on out of memory it prints
 * "kgalign: out of memory (N bytes)" on stderr and aborts, as nothing
 * sensible is left to do when a few bytes cannot be had.
 *
 * Not for sizes that come from input (a file's entity count, a request's
 * pairs): those are checked against a limit first and their allocation
 * failure is returned as KGA_ENOMEM with a message, never a crash. Used by
 * config/, cli/ and the model writer (its own state, not its sections).
 *
 * Ownership: every pointer returned is the caller's, released with free().
 * None returns NULL. */

void *kga_xmalloc(size_t size);

/* Zeroed memory for nmemb items of size bytes; aborts on overflow too. */
void *kga_xcalloc(size_t nmemb, size_t size);

/* realloc(p, nmemb * size), aborting on overflow or out of memory. */
void *kga_xreallocarray(void *p, size_t nmemb, size_t size);

char *kga_xstrdup(const char *s);

/* The text printf would print, in a new string. */
char *kga_xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
