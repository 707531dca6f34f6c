/*
 * format.h - record encoders: NDJSON, pretty JSON and CSV (DESIGN §2).
 *
 * Every encoder appends one whole record, with its trailing newline, to an
 * ht_buf, or leaves the buffer exactly as it was on failure (out of memory),
 * so a batch never holds half a record.  Strings in a record are raw
 * captured bytes: valid UTF-8 passes through; quote, backslash, control
 * bytes, DEL and every byte of an invalid UTF-8 sequence are escaped
 * (\u00XX of the byte, i.e. latin-1), so the output is valid JSON and a
 * CSV row is never split by a raw CR or LF.
 *
 *   ndjson  one compact object per line, fields in DESIGN §2 order.
 *   json    the same object pretty-printed with a 2-space indent (the
 *           layout of Python's json.dumps(indent=2)), ending with "}\n":
 *           the output is a stream of concatenated objects, not an array.
 *   csv     RFC 4180 rows ending in CRLF, FORMAT_CSV_COLUMNS columns in the
 *           order of format_csv_columns[]; see format.c for the text rules.
 *
 * The encoders are pure functions of their input: safe to call from any
 * number of threads on different buffers.
 */
#ifndef HT_FORMAT_H
#define HT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "config/config.h"
#include "base/record.h"

#define FORMAT_CSV_COLUMNS 28
extern const char *const format_csv_columns[FORMAT_CSV_COLUMNS];

/* Append one encoded record (with its newline) to out; 0, or -ENOMEM / -EINVAL with out unchanged. */
int format_record(enum ht_format f, const struct ht_record *r, struct ht_buf *out);
/* Append the CSV header row (column names, CRLF) to out; 0 or -ENOMEM. */
int format_csv_header(struct ht_buf *out);

/* Building blocks, exported for tests and other encoders. */
/* Write v in decimal at p (room for 20 bytes needed); returns bytes written. */
size_t format_u64(char *p, uint64_t v);
/* Write the RFC 3339 UTC time of ns at p: exactly FORMAT_TIME_LEN bytes, no NUL. */
#define FORMAT_TIME_LEN 30
void format_time(char *p, uint64_t unix_ns);
/* Append the JSON string literal (with quotes) of raw bytes s[0..len) to out; 0 or -ENOMEM. */
int format_json_string(struct ht_buf *out, const void *s, size_t len);

#endif
