/* UTF-8 decoding and validation, the one copy (see utf8.h). Apart from the
 * line reader because the name features, the synthetic names and the wire
 * encoders decode text that never passes through a file. */
#include "base/utf8.h"

#include <string.h>

/* The decoder, inlined into kga_utf8_valid() (which needs neither the
 * value nor the subpart: the compiler drops their stores). */
static inline size_t decode(const unsigned char *s, size_t n, uint32_t *cp,
                            size_t *bad)
{
    if (n == 0) {
        if (bad != NULL)
            *bad = 0;
        return 0;
    }
    unsigned c = s[0];
    if (c < 0x80) {
        if (cp != NULL)
            *cp = c;
        return 1;
    }
    /* The second byte's range is narrower after E0 and F0 (overlong
     * forms), ED (surrogates) and F4 (above U+10FFFF): checking it there
     * is all the validation the value needs (Unicode table 3-7). */
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2, v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3, v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4, v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        if (bad != NULL)
            *bad = 1;
        return 0;
    }
    size_t i = 1;
    for (; i < need && i < n; i++) {
        unsigned b = s[i];
        if (b < lo || b > hi)
            break;
        v = v << 6 | (b & 0x3Fu);
        lo = 0x80, hi = 0xBF;
    }
    if (i < need) {
        if (bad != NULL)
            *bad = i;
        return 0;
    }
    if (cp != NULL)
        *cp = v;
    return need;
}

size_t kga_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp,
                       size_t *bad)
{
    return decode(s, n, cp, bad);
}

size_t kga_utf8_cut(const char *s, size_t n)
{
    size_t cut = n;
    while (cut > 0 && n - cut < 3 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

int kga_utf8_valid(const char *s, size_t len, size_t *bad_offset)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* Fast path: eight ASCII bytes at a time. */
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = decode(p + i, len - i, NULL, NULL);
        if (n == 0) {
            if (bad_offset != NULL)
                *bad_offset = i;
            return 0;
        }
        i += n;
    }
    return 1;
}

size_t kga_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}
