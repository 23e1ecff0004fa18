#ifndef KGA_MODEL_FORMAT_H
#define KGA_MODEL_FORMAT_H

/* On-disk layout of a model file, the rules of the format, and the state
 * the container's files share. Private to core/model/ and tests/: callers
 * use model_file.h. The prose description is docs/model-format.md; keep
 * both in step and bump KGA_MODEL_VERSION on any change.
 *
 * The section table sits at the end of the file, after the payloads, so the
 * writer can append each payload as it is added and only needs the table
 * rows in memory; the header, written last, points at the table.
 *
 * The container is four files, split as the graph store is: model_write.c
 * writes a file, model_file.c validates and reads one, model_kv.c holds the
 * settings (the builder a writer takes, the lookups of an open model), and
 * model_format.c the rules that both the writer and the validator enforce
 * (element sizes, shapes, names, keys; UTF-8 is base/utf8.h). */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mapped_file.h"
#include "model/model_file.h"

/* ------------------------------------------------------------------------
 * On-disk layout (little-endian, no implicit padding)
 * ------------------------------------------------------------------------ */

#define KGA_MODEL_ENDIAN_MARK 0x01020304u
/* What the mark reads as when a little-endian file is read big-endian. */
#define KGA_MODEL_ENDIAN_SWAPPED 0x04030201u
/* Settings text of all KV sections together may not exceed this. */
#define KGA_MODEL_MAX_KV_BYTES (64u << 20)

typedef struct {
    char magic[8];           /* "KGAMODEL", no NUL */
    uint32_t version;        /* KGA_MODEL_VERSION */
    uint32_t endian; /* KGA_MODEL_ENDIAN_MARK */
    uint64_t file_size;      /* whole file, a multiple of KGA_MODEL_ALIGN */
    uint64_t checksum;       /* XXH64 of bytes [64, file_size) */
    uint32_t header_size;    /* KGA_MODEL_HEADER_SIZE */
    uint32_t section_count;  /* rows in the section table */
    uint32_t entry_size;     /* KGA_MODEL_ENTRY_SIZE */
    uint32_t flags;          /* 0 */
    uint64_t table_offset;   /* section table; it ends the file */
    uint8_t reserved[8];     /* 0 */
} kga_model_header_t;

typedef struct {
    char name[64];      /* NUL-terminated, zero-filled */
    uint32_t kind;      /* kga_model_kind_t */
    uint32_t ndim;      /* 0..4 for tensors, 1 otherwise */
    uint64_t shape[4];  /* entries past ndim are 0 */
    uint64_t offset;    /* payload, KGA_MODEL_ALIGN-aligned */
    uint64_t size;      /* payload bytes: product(shape) * element size */
    uint64_t reserved;  /* 0 */
} kga_model_row_t;

_Static_assert(sizeof(kga_model_header_t) == KGA_MODEL_HEADER_SIZE,
               "64-byte header");
_Static_assert(sizeof(kga_model_row_t) == KGA_MODEL_ENTRY_SIZE,
               "128-byte table row");
_Static_assert(offsetof(kga_model_row_t, shape) % 8 == 0, "aligned shape");

/* ------------------------------------------------------------------------
 * Rules of the format (model_format.c)
 * ------------------------------------------------------------------------ */

/* Bytes per element of a section kind; 0 for an unknown kind. */
uint64_t kga_model_elem_size(uint32_t kind);

/* Product of the first ndim entries of shape, or -1 on overflow. */
int kga_model_shape_count(uint32_t ndim, const uint64_t *shape,
                          uint64_t *count);

/* NULL when name is a valid section name, else what is wrong. */
const char *kga_model_name_problem(const char *name, size_t len);
/* 1 when key[0 .. len) is a settings key: 1..KGA_MODEL_KEY_MAX bytes of
 * [A-Za-z0-9_.:/-]. */
int kga_model_key_valid(const char *key, size_t len);

/* ------------------------------------------------------------------------
 * State the files share
 * ------------------------------------------------------------------------ */

/* Settings being built (model_kv.c), read by the writer's add_kv. */
typedef struct {
    char *key;
    char *value;
} kga_model_kv_pair_t;

struct kga_model_kv {
    kga_model_kv_pair_t *pairs;
    size_t n, cap;
    size_t bytes; /* of the "key=value\n" lines */
};

/* An open model (model_file.c); model_kv.c looks its settings up. */
typedef struct {
    const char *key, *value;
} kga_model_kv_entry_t;

struct kga_model {
    const uint8_t *base;
    size_t len;
    kga_mapped_file_t file; /* empty when the buffer is the caller's */
    char *path;
    uint64_t checksum;
    const kga_model_row_t *rows; /* the table in the mapping, sorted by name */
    size_t nrows;
    kga_model_kv_entry_t *kv; /* sorted by key, strings in kv_arena */
    size_t nkv;
    char *kv_arena;
};

#endif
