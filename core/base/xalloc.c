/* Allocations that abort on out of memory (see xalloc.h). One copy, so that
 * the message and the exit are the same everywhere and no caller hides a
 * NULL check that cannot help. */
#include "base/xalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void __attribute__((noreturn)) out_of_memory(size_t nmemb, size_t size)
{
    if (nmemb > 1)
        fprintf(stderr, "kgalign: out of memory (%zu x %zu bytes)\n", nmemb,
                size);
    else
        fprintf(stderr, "kgalign: out of memory (%zu bytes)\n", size);
    abort();
}

void *kga_xmalloc(size_t size)
{
    void *p = malloc(size != 0 ? size : 1);
    if (p == NULL)
        out_of_memory(1, size);
    return p;
}

void *kga_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb != 0 ? nmemb : 1, size != 0 ? size : 1);
    if (p == NULL)
        out_of_memory(nmemb, size);
    return p;
}

void *kga_xreallocarray(void *p, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        out_of_memory(nmemb, size);
    size_t bytes = nmemb * size;
    void *q = realloc(p, bytes != 0 ? bytes : 1);
    if (q == NULL)
        out_of_memory(nmemb, size);
    return q;
}

char *kga_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = kga_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

char *kga_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fprintf(stderr, "kgalign: bad format \"%s\"\n", fmt);
        abort();
    }
    char *p = kga_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
