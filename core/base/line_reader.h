#ifndef KGA_LINE_READER_H
#define KGA_LINE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Buffered reading of text files one line at a time, for the importers and
 * the link files. One large read buffer per reader and no allocation per
 * line: a returned line points into that buffer, is NUL-terminated in place
 * (its "\n" or "\r\n" removed) and stays valid until the next call.
 *
 * Every line is checked: a line longer than KGA_LINE_MAX bytes, a NUL byte
 * or invalid UTF-8 make kga_line_reader_next() return KGA_ELIMIT / KGA_EPARSE
 * with a message "PATH:LINE: what". Such a line is consumed, so a lenient
 * caller may count it and call again; every other error is final. A UTF-8
 * byte order mark at the start of the file is dropped. A gzip file (one
 * that starts with the gzip magic) is decompressed as it is read; corrupt
 * or truncated compressed data is KGA_EFORMAT, final like KGA_EIO. Sizes and byte counts are
 * then those of the decompressed text, except kga_line_reader_size(), the
 * file's. */

#define KGA_LINE_MAX (1u << 20)

typedef struct kga_line_reader kga_line_reader_t;

/* Opens path for reading. The reader copies path (used in messages). On
 * failure *out is NULL and err names the file: KGA_ENOENT when it does not
 * exist, KGA_EIO otherwise, KGA_ENOMEM. */
int kga_line_reader_open(const char *path, kga_line_reader_t **out,
                         kga_err_t *err);

/* Reads the next line. Returns 1 and sets *line / *len (len excludes the
 * terminating NUL), 0 at end of file, or a negative KGA_E* code (see above
 * for which ones leave the reader usable). */
int kga_line_reader_next(kga_line_reader_t *r, char **line, size_t *len,
                         kga_err_t *err);

/* Number of the line last returned (1-based; 0 before the first). */
uint64_t kga_line_reader_line_no(const kga_line_reader_t *r);
/* Bytes of the file consumed so far, and the file's size at open. */
uint64_t kga_line_reader_bytes(const kga_line_reader_t *r);
uint64_t kga_line_reader_size(const kga_line_reader_t *r);
const char *kga_line_reader_path(const kga_line_reader_t *r);

/* Closes the file and frees the reader; NULL is allowed. */
void kga_line_reader_close(kga_line_reader_t *r);

/* Splits line (len bytes, NUL-terminated) at tabs in place: each tab becomes
 * a NUL and fields[i] points at field i, for the first max fields. Returns
 * the number of fields in the line, which may exceed max. */
size_t kga_split_tabs(char *line, size_t len, char **fields, size_t max);

#endif
