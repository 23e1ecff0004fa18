/* The rules of the model file format that the writer and the validator
 * both enforce (model_format.h): element sizes and kind names, shapes,
 * section names, settings keys and UTF-8. One copy of each rule, so that
 * the writer cannot produce a file the validator refuses. */
#include "model/model_format.h"

uint64_t kga_model_elem_size(uint32_t kind)
{
    switch (kind) {
    case KGA_MODEL_F32:
    case KGA_MODEL_U32:
        return 4;
    case KGA_MODEL_U64:
        return 8;
    case KGA_MODEL_TEXT:
    case KGA_MODEL_KV:
        return 1;
    }
    return 0;
}

const char *kga_model_kind_name(kga_model_kind_t kind)
{
    switch (kind) {
    case KGA_MODEL_F32:
        return "f32 tensor";
    case KGA_MODEL_U32:
        return "u32 array";
    case KGA_MODEL_U64:
        return "u64 array";
    case KGA_MODEL_TEXT:
        return "text";
    case KGA_MODEL_KV:
        return "settings";
    }
    return "unknown kind";
}

/* Product of the first ndim entries of shape, or -1 on overflow. */
int kga_model_shape_count(uint32_t ndim, const uint64_t *shape,
                          uint64_t *count)
{
    uint64_t c = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        if (shape[d] != 0 && c > UINT64_MAX / shape[d])
            return -1;
        c *= shape[d];
    }
    *count = c;
    return 0;
}

/* NULL when name is a valid section name, else what is wrong. */
const char *kga_model_name_problem(const char *name, size_t len)
{
    if (len == 0)
        return "empty section name";
    if (len > KGA_MODEL_NAME_MAX)
        return "section name longer than 63 bytes";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
            return "section name has a byte outside printable ASCII";
    return NULL;
}

static int key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
           c == '/' || c == '-';
}

int kga_model_key_valid(const char *key, size_t len)
{
    if (len == 0 || len > KGA_MODEL_KEY_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!key_char((unsigned char)key[i]))
            return 0;
    return 1;
}

/* Offset of the first byte that does not start a well-formed UTF-8
 * sequence (RFC 3629: no overlongs, surrogates or code points past
 * U+10FFFF), or n when all n bytes are valid. */
size_t kga_model_utf8_check(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07u, min = 0x10000;
        } else {
            return i;
        }
        if (n - i < len)
            return i;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += len;
    }
    return n;
}
