/* Error codes of the wire format and the small helpers around them. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"
#include "wire.h"

static const struct {
    int status;
    const char *code;
} wire_codes[] = {
#define KGA_WIRE_ERROR_ROW(name, status, code) {status, code},
    KGA_WIRE_ERROR_MAP(KGA_WIRE_ERROR_ROW)
#undef KGA_WIRE_ERROR_ROW
};

void kga_wire_init(void)
{
    /* jansson seeds its hash lazily on the first object; seeding here, before
     * any thread runs, removes the race on builds without atomics. */
    json_object_seed(0);
}

int kga_wire_code_status(kga_wire_code_t code)
{
    if ((unsigned)code >= KGA_WIRE_ERROR_COUNT_)
        return 500;
    return wire_codes[code].status;
}

const char *kga_wire_code_name(kga_wire_code_t code)
{
    if ((unsigned)code >= KGA_WIRE_ERROR_COUNT_)
        return "internal";
    return wire_codes[code].code;
}

int kga_wire_error_vset(kga_wire_error_t *e, kga_wire_code_t code,
                        const char *fmt, va_list ap)
{
    e->status = kga_wire_code_status(code);
    e->code = kga_wire_code_name(code);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    return e->status;
}

int kga_wire_error_set(kga_wire_error_t *e, kga_wire_code_t code,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int status = kga_wire_error_vset(e, code, fmt, ap);
    va_end(ap);
    return status;
}

/* Longest piece of a client's id quoted back in a message. */
#define QUOTE_MAX 64

/* Copies s into buf (cap >= QUOTE_MAX + 4), cut at a UTF-8 boundary with
 * "..." when longer than QUOTE_MAX bytes. */
static void quote_id(char *buf, const char *s)
{
    size_t n = strlen(s);
    if (n <= QUOTE_MAX) {
        memcpy(buf, s, n + 1);
        return;
    }
    n = kga_utf8_cut(s, QUOTE_MAX);
    memcpy(buf, s, n);
    memcpy(buf + n, "...", 4);
}

void kga_wire_unknown_id_message(char *buf, size_t cap, unsigned unknown,
                                 const char *left, const char *right)
{
    char l[QUOTE_MAX + 4], r[QUOTE_MAX + 4];
    quote_id(l, left != NULL ? left : "");
    quote_id(r, right != NULL ? right : "");
    if ((unknown & KGA_WIRE_UNKNOWN_LEFT) && (unknown & KGA_WIRE_UNKNOWN_RIGHT))
        snprintf(buf, cap,
                 "left id '%s' is not in the left graph; right id '%s' is "
                 "not in the right graph",
                 l, r);
    else if (unknown & KGA_WIRE_UNKNOWN_RIGHT)
        snprintf(buf, cap, "right id '%s' is not in the right graph", r);
    else
        snprintf(buf, cap, "left id '%s' is not in the left graph", l);
}

int kga_wire_error_unknown_id(kga_wire_error_t *e, kga_side_t side,
                              const char *id)
{
    char msg[KGA_WIRE_MSG_MAX];
    if (side == KGA_SIDE_RIGHT)
        kga_wire_unknown_id_message(msg, sizeof msg, KGA_WIRE_UNKNOWN_RIGHT,
                                    NULL, id);
    else
        kga_wire_unknown_id_message(msg, sizeof msg, KGA_WIRE_UNKNOWN_LEFT, id,
                                    NULL);
    return kga_wire_error_set(e, KGA_WIRE_UNKNOWN_ID, "%s", msg);
}

int kga_wire_request_id_valid(const char *id, size_t len)
{
    if (id == NULL || len == 0 || len > KGA_WIRE_REQUEST_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (ch < 0x21 || ch > 0x7E || ch == '"' || ch == '\\')
            return 0;
    }
    return 1;
}
