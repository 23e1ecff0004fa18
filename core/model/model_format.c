/* The rules of the model file format that the writer and the validator
 * both enforce (model_format.h): element sizes and kind names, shapes,
 * section names and settings keys (text is UTF-8 as base/utf8.h decides).
 * One copy of each rule, so that the writer cannot produce a file the
 * validator refuses. */
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
