#ifndef KGA_MODEL_FILE_H
#define KGA_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* A model file: a versioned, checksummed container of named sections (f32
 * tensors, u32 and u64 arrays, UTF-8 text, key=value settings) that the
 * trainer writes and the evaluator and the server map read-only. The layout
 * is in docs/model-format.md. The container knows nothing about the GNN: the
 * section names and keys are the caller's.
 *
 * Writing streams: each add appends its payload to a temporary file next to
 * the target and keeps only the 128-byte table row, so a file of any size is
 * written with a fixed buffer. Reading maps the file, checks every invariant
 * once at open, and then hands out pointers into the mapping without copies
 * or checks. */

#define KGA_MODEL_VERSION 1u
#define KGA_MODEL_MAGIC "KGAMODEL"
#define KGA_MODEL_HEADER_SIZE 64u
#define KGA_MODEL_ENTRY_SIZE 128u  /* one row of the section table */
#define KGA_MODEL_ALIGN 64u        /* sections start on this boundary */
#define KGA_MODEL_NAME_MAX 63u     /* bytes of a section name, NUL excluded */
#define KGA_MODEL_MAX_DIMS 4u
#define KGA_MODEL_MAX_SECTIONS 65536u
#define KGA_MODEL_KEY_MAX 127u     /* bytes of a settings key */
/* Wildcard for one dimension in kga_model_require_tensor(). */
#define KGA_MODEL_ANY_DIM UINT64_MAX

typedef enum {
    KGA_MODEL_F32 = 1,  /* float tensor, 0..4 dims, row-major */
    KGA_MODEL_U32 = 2,  /* uint32_t array */
    KGA_MODEL_U64 = 3,  /* uint64_t array */
    KGA_MODEL_TEXT = 4, /* UTF-8 text */
    KGA_MODEL_KV = 5    /* "key=value\n" lines, keys sorted and unique */
} kga_model_kind_t;

typedef struct kga_model kga_model_t;
typedef struct kga_model_writer kga_model_writer_t;
typedef struct kga_model_kv kga_model_kv_t;

/* One section as the reader sees it; pointers into the mapping. */
typedef struct {
    const char *name;
    kga_model_kind_t kind;
    uint32_t ndim;         /* 1 for arrays and text */
    const uint64_t *shape; /* ndim entries; elements (bytes for text) */
    uint64_t count;        /* elements: the product of the shape */
    uint64_t offset;       /* payload position in the file */
    const void *data;      /* payload; text is NUL-terminated */
} kga_model_section_t;

/* "f32 tensor", "u32 array", ... ("unknown kind" otherwise); never NULL. */
const char *kga_model_kind_name(kga_model_kind_t kind);

/* ------------------------------------------------------------------------
 * Settings (key=value), built before they are added to a writer
 * ------------------------------------------------------------------------ */

/* An empty heap set of settings the caller owns; never NULL (aborts on out
 * of memory, as for any small fixed allocation). */
kga_model_kv_t *kga_model_kv_new(void);

/* Each setter copies key and value. Keys are 1..127 bytes of
 * [A-Za-z0-9_.:/-]; string values are UTF-8 without NUL, CR or LF. Doubles
 * are written with 17 significant digits (they read back exactly) and must
 * be finite. Returns 0, KGA_EINVAL for a bad key or value, KGA_EDUPLICATE
 * when the key is already set, KGA_ELIMIT when the settings would take more
 * than the 64 MiB a model file holds, KGA_ENOMEM; on failure kv is
 * unchanged. */
int kga_model_kv_set_str(kga_model_kv_t *kv, const char *key,
                         const char *value);
int kga_model_kv_set_int(kga_model_kv_t *kv, const char *key, int64_t value);
int kga_model_kv_set_u64(kga_model_kv_t *kv, const char *key, uint64_t value);
int kga_model_kv_set_double(kga_model_kv_t *kv, const char *key,
                            double value);

void kga_model_kv_free(kga_model_kv_t *kv);

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------ */

/* Starts a model file that will replace path on commit: creates
 * PATH.tmp.<pid>.<n> next to it. On failure *out is NULL and err names the
 * file. */
int kga_model_writer_new(const char *path, kga_model_writer_t **out,
                         kga_err_t *err);

/* The adds copy their data into the file at once; the caller may free it
 * when they return. Names are 1..63 bytes of printable ASCII without space,
 * unique in the file. Errors are sticky: after a failure every later call
 * returns the same code and does nothing, and commit reports the first
 * failure's message (kga_model_writer_error() gives it earlier). Codes:
 * KGA_EINVAL (bad name, shape, kind or text), KGA_EDUPLICATE (name, or a
 * settings key already in another settings section), KGA_ENUMERIC (a NaN or
 * infinite float), KGA_ELIMIT (too many sections, or settings sections past
 * 64 MiB together), KGA_ENOMEM, KGA_EIO. */

/* An f32 tensor of ndim <= 4 dimensions (ndim 0 is a scalar), row-major,
 * holding the product of shape[] floats. Every value must be finite. */
int kga_model_writer_add_tensor(kga_model_writer_t *w, const char *name,
                                const float *data, uint32_t ndim,
                                const uint64_t *shape);

/* The same in pieces, for tensors produced in batches (per-entity caches):
 * begin, then append floats in row-major order until exactly the product of
 * the shape was given, then end. No other add may come in between. */
int kga_model_writer_begin_tensor(kga_model_writer_t *w, const char *name,
                                  uint32_t ndim, const uint64_t *shape);
int kga_model_writer_append_f32(kga_model_writer_t *w, const float *data,
                                size_t count);
int kga_model_writer_end_tensor(kga_model_writer_t *w);

int kga_model_writer_add_u32s(kga_model_writer_t *w, const char *name,
                              const uint32_t *data, size_t count);
int kga_model_writer_add_u64s(kga_model_writer_t *w, const char *name,
                              const uint64_t *data, size_t count);

/* NUL-terminated UTF-8 text. */
int kga_model_writer_add_text(kga_model_writer_t *w, const char *name,
                              const char *text);

/* The settings of kv as a KV section, keys sorted. A key may appear in only
 * one KV section of a file, so that readers look keys up by key alone. kv
 * stays the caller's. */
int kga_model_writer_add_kv(kga_model_writer_t *w, const char *name,
                            const kga_model_kv_t *kv);

/* The first failure's message, or "" when none. */
const char *kga_model_writer_error(const kga_model_writer_t *w);

/* Writes the section table and the header, fsyncs the file, renames it over
 * path and fsyncs the directory. Returns 0 or the first error (an earlier
 * add's, or KGA_EINVAL for an unfinished tensor, or KGA_EIO), message in
 * err. The writer must still be freed; after a failure the target file is
 * untouched. */
int kga_model_writer_commit(kga_model_writer_t *w, kga_err_t *err);

/* Frees the writer; an uncommitted temporary file is removed. NULL is
 * allowed. */
void kga_model_writer_free(kga_model_writer_t *w);

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

/* Checks every structural invariant of a model image in memory: magic,
 * version, endian mark, size, checksum, section table (names terminated,
 * sorted, unique; kinds; shapes; sizes; offsets aligned, in bounds, not
 * overlapping; zero padding), every tensor value finite, text terminated
 * and UTF-8, settings well formed and keys unique across the file. Returns
 * 0, KGA_EMAGIC, KGA_EVERSION, KGA_EENDIAN, KGA_ETRUNCATED, KGA_ECHECKSUM,
 * KGA_EFORMAT, KGA_ENUMERIC (a NaN or infinite value) or KGA_ENOMEM, with a
 * message naming the section and the byte offset. Reads
 * nothing outside [buf, buf+len); buf needs no alignment. */
int kga_model_validate(const void *buf, size_t len, kga_err_t *err);

/* Maps and validates path; messages start with the path. KGA_ENOENT for a
 * missing file, KGA_EINVAL for a directory or other non-regular file. The
 * model owns the mapping; on failure *out is NULL. */
int kga_model_open(const char *path, kga_model_t **out, kga_err_t *err);

/* The same over a caller-owned, 8-byte-aligned buffer that must outlive the
 * model (tests, fuzzing); messages are not prefixed. */
int kga_model_open_buffer(const void *buf, size_t len, kga_model_t **out,
                          kga_err_t *err);

/* The file's checksum (XXH64 of everything after the header): identifies
 * the model's content, use it as the model version. */
uint64_t kga_model_checksum(const kga_model_t *m);
/* The path opened ("<buffer>" for kga_model_open_buffer). */
const char *kga_model_path(const kga_model_t *m);

/* Sections in name order, for listing. i < kga_model_section_count(). */
size_t kga_model_section_count(const kga_model_t *m);
void kga_model_section_at(const kga_model_t *m, size_t i,
                          kga_model_section_t *out);
/* By name (binary search): 0, or KGA_ENOENT. */
int kga_model_find(const kga_model_t *m, const char *name,
                   kga_model_section_t *out);

/* Lookups by name, pointers into the mapping valid until close; NULL when
 * there is no section of that name and kind. Output pointers may be NULL. */
const float *kga_model_tensor(const kga_model_t *m, const char *name,
                              const uint64_t **shape, uint32_t *ndim);
const uint32_t *kga_model_get_u32s(const kga_model_t *m, const char *name,
                                   size_t *count);
const uint64_t *kga_model_get_u64s(const kga_model_t *m, const char *name,
                                   size_t *count);
/* NUL-terminated; *len excludes the NUL. */
const char *kga_model_get_text(const kga_model_t *m, const char *name,
                               size_t *len);

/* A tensor that must exist with ndim dims of the given shape (an entry of
 * KGA_MODEL_ANY_DIM matches any size). Returns 0 and sets *data, or
 * KGA_ENOENT (missing) / KGA_EFORMAT (other kind or shape) with a message
 * like "model.kgm: tensor 'layer1.w_self' has shape 64x128, expected
 * 64x256". */
int kga_model_require_tensor(const kga_model_t *m, const char *name,
                             uint32_t ndim, const uint64_t *shape,
                             const float **data, kga_err_t *err);
/* A u64 array that must exist with exactly count elements; same codes. */
int kga_model_require_u64s(const kga_model_t *m, const char *name,
                           size_t count, const uint64_t **data,
                           kga_err_t *err);

/* Settings, looked up by key across all KV sections. Each returns 0 and
 * sets *out, or KGA_ENOENT (no such key), KGA_EPARSE (the value is not of
 * the type: integers are decimal with an optional '-', u64 without sign,
 * doubles as strtod reads them and finite) or KGA_ERANGE (does not fit),
 * with a message naming the file and the key. Strings point into memory the
 * model owns. */
int kga_model_kv_has(const kga_model_t *m, const char *key);
int kga_model_kv_get_str(const kga_model_t *m, const char *key,
                         const char **out, kga_err_t *err);
int kga_model_kv_get_int(const kga_model_t *m, const char *key, int64_t *out,
                         kga_err_t *err);
int kga_model_kv_get_u64(const kga_model_t *m, const char *key, uint64_t *out,
                         kga_err_t *err);
int kga_model_kv_get_double(const kga_model_t *m, const char *key,
                            double *out, kga_err_t *err);
/* All settings in key order, for listing. i < kga_model_kv_count(). */
size_t kga_model_kv_count(const kga_model_t *m);
void kga_model_kv_at(const kga_model_t *m, size_t i, const char **key,
                     const char **value);

/* Whether the mapped file still has the size and modification time it had
 * when opened (base/mapped_file.h): 0, or KGA_ECHANGED (or KGA_EIO) with a
 * message naming the file. 0 for a model over a buffer. Any thread. */
int kga_model_check_file(const kga_model_t *m, kga_err_t *err);

/* Unmaps and frees; NULL is allowed. */
void kga_model_close(kga_model_t *m);

#endif
