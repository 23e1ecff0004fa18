/* The text and the symbolic name of every KGA_E* code, both expanded from
 * the one table in error.h, and the message buffer that loaders fill.
 * Nearly every file depends on it, so it depends on no other. */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *kga_strerror(int code)
{
    switch (code) {
    case KGA_OK:
        return "success";
#define KGA_ERRNO_TEXT(name, text) \
    case KGA_E##name:              \
        return text;
        KGA_ERRNO_MAP(KGA_ERRNO_TEXT)
#undef KGA_ERRNO_TEXT
    }
    return "unknown error";
}

const char *kga_err_name(int code)
{
    switch (code) {
    case KGA_OK:
        return "KGA_OK";
#define KGA_ERRNO_NAME(name, text) \
    case KGA_E##name:              \
        return "KGA_E" #name;
        KGA_ERRNO_MAP(KGA_ERRNO_NAME)
#undef KGA_ERRNO_NAME
    }
    return "KGA_EUNKNOWN";
}

void kga_err_clear(kga_err_t *err)
{
    if (err == NULL)
        return;
    err->code = KGA_OK;
    err->msg[0] = '\0';
}

int kga_err_set(kga_err_t *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}
