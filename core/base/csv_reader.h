#ifndef KGA_CSV_READER_H
#define KGA_CSV_READER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Records of an RFC 4180 CSV file, one at a time: fields separated by
 * commas, a field in double quotes may hold commas, line breaks and quotes
 * (written twice). Built on the line reader (line_reader.h), so a gzip file
 * is read as well, every physical line is checked for NUL bytes and valid
 * UTF-8, and a line break is "\n" or "\r\n" (a line break inside a quoted
 * field reads as "\n"). Blank lines are skipped.
 *
 * A malformed record is KGA_EPARSE with "PATH:LINE:COLUMN: what" (LINE and
 * COLUMN of the offending byte, both 1-based): a quote inside an unquoted
 * field, characters after a closing quote, a quoted field never closed. A
 * record longer than KGA_CSV_RECORD_MAX bytes or with more than
 * KGA_CSV_FIELDS_MAX fields is KGA_ELIMIT. After either the record has been
 * consumed (an unclosed quote consumes the rest of the file), so a lenient
 * caller may count it and go on; every other error is final. */

#define KGA_CSV_RECORD_MAX (1u << 20)
#define KGA_CSV_FIELDS_MAX 4096u

typedef struct kga_csv_reader kga_csv_reader_t;

/* Opens path (errors as kga_line_reader_open). *out is NULL on failure. */
int kga_csv_reader_open(const char *path, kga_csv_reader_t **out,
                        kga_err_t *err);

/* Reads the next record: returns its field count (>= 1) and points *fields
 * at an array of that many NUL-terminated, unquoted fields, owned by the
 * reader and valid until the next call; 0 at end of file; or a negative
 * KGA_E* code (see above). */
long kga_csv_reader_next(kga_csv_reader_t *r, char ***fields,
                         kga_err_t *err);

/* The line on which the current record starts (1-based; 0 before the
 * first). */
uint64_t kga_csv_reader_line_no(const kga_csv_reader_t *r);

/* Bytes consumed so far and the file's size, as the line reader counts. */
uint64_t kga_csv_reader_bytes(const kga_csv_reader_t *r);
uint64_t kga_csv_reader_size(const kga_csv_reader_t *r);
const char *kga_csv_reader_path(const kga_csv_reader_t *r);

/* Closes the file and frees the reader; NULL is allowed. */
void kga_csv_reader_close(kga_csv_reader_t *r);

#endif
