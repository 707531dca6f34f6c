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

/*
 * The record's fields in output order: the one list that the three
 * encoders, the CSV header and the size bound are all expanded from (a new
 * field is one line here, plus its kind in format.c if it is a new kind).
 *   X(name, kind, member, rule)
 *   name    JSON key and CSV column
 *   kind    how the value is written:
 *           TIME     RFC 3339 UTC string of a nanosecond count
 *           UINT     unsigned integer, decimal (any width)
 *           ROLE     enum ht_role as "client", "server" or "unknown"
 *           CSTR     fixed char array, up to its NUL or its size, escaped
 *           ADDR     struct ht_addr as text (ht_addr_format), "" if unknown
 *           VERSION  "1." and the minor version
 *           STR      struct ht_str of the record's arena, escaped
 *           HEADERS  struct ht_headers as an object of name: value
 *           FLAGS    enum ht_rflag bits as an array of names (sampled_out
 *                    and unknown bits never printed)
 *           BOOL     bool as true or false (CSV: "true" or an empty field)
 *   member  the struct ht_record member the value is read from
 *   rule    ALWAYS, NONEMPTY (STR only): JSON leaves the key out when the
 *           string is empty, or TRUE (BOOL only): JSON writes the key only
 *           when true; a CSV row always has the column
 */
#define FORMAT_FIELDS(X)                                      \
	X(time,           TIME,    time_unix_nano, ALWAYS)    \
	X(time_unix_nano, UINT,    time_unix_nano, ALWAYS)    \
	X(latency_ns,     UINT,    latency_ns,     ALWAYS)    \
	X(role,           ROLE,    role,           ALWAYS)    \
	X(pid,            UINT,    pid,            ALWAYS)    \
	X(tid,            UINT,    tid,            ALWAYS)    \
	X(comm,           CSTR,    comm,           ALWAYS)    \
	X(local_addr,     ADDR,    local,          ALWAYS)    \
	X(local_port,     UINT,    local_port,     ALWAYS)    \
	X(remote_addr,    ADDR,    remote,         ALWAYS)    \
	X(remote_port,    UINT,    remote_port,    ALWAYS)    \
	X(version,        VERSION, version_minor,  ALWAYS)    \
	X(method,         STR,     method,         ALWAYS)    \
	X(target,         STR,     target,         ALWAYS)    \
	X(path,           STR,     path,           ALWAYS)    \
	X(host,           STR,     host,           ALWAYS)    \
	X(req_headers,    HEADERS, req_headers,    ALWAYS)    \
	X(resp_headers,   HEADERS, resp_headers,   ALWAYS)    \
	X(req_body,       STR,     req_body,       ALWAYS)    \
	X(resp_body,      STR,     resp_body,      ALWAYS)    \
	X(req_body_size,  UINT,    req_body_size,  ALWAYS)    \
	X(resp_body_size, UINT,    resp_body_size, ALWAYS)    \
	X(status,         UINT,    status,         ALWAYS)    \
	X(reason,         STR,     reason,         ALWAYS)    \
	X(flags,          FLAGS,   flags,          ALWAYS)    \
	X(container_id,   STR,     container_id,   NONEMPTY)  \
	X(pod,            STR,     pod,            NONEMPTY)  \
	X(namespace,      STR,     namespace_,     NONEMPTY)  \
	X(node,           STR,     node,           NONEMPTY)  \
	X(container,      STR,     container,      NONEMPTY)  \
	X(workload_kind,  STR,     workload_kind,  NONEMPTY)  \
	X(workload,       STR,     workload,       NONEMPTY)  \
	X(remote_pod,     STR,     remote_pod,     NONEMPTY)  \
	X(remote_namespace, STR,   remote_namespace, NONEMPTY) \
	X(remote_service, STR,     remote_service, NONEMPTY)  \
	X(tls,            BOOL,    tls,            TRUE)

#define FORMAT_COUNT_ONE_(name, kind, member, rule) + 1
#define FORMAT_CSV_COLUMNS (0 FORMAT_FIELDS(FORMAT_COUNT_ONE_))
extern const char *const format_csv_columns[FORMAT_CSV_COLUMNS];

/* Append one encoded record (with its newline) to out; 0, or -ENOMEM / -EINVAL with out unchanged. */
int format_record(enum ht_format f, const struct ht_record *r, struct ht_buf *out);
/* The most bytes format_record touches past out->len for r, in any format
 * (its fixed-size copies included): it reserves exactly this much. */
size_t format_record_bound(const struct ht_record *r);
/* Append the CSV header row (column names, CRLF) to out; 0 or -ENOMEM. */
int format_csv_header(struct ht_buf *out);

/* Building blocks, exported for tests and other encoders. */
/* Write v in decimal at p (room for 20 bytes needed); returns bytes written. */
size_t format_u64(char *p, uint64_t v);
/* Write the RFC 3339 UTC time of ns at p: exactly FORMAT_TIME_LEN bytes, no NUL. */
#define FORMAT_TIME_LEN 30
void format_time(char *p, uint64_t unix_ns);
/* "client", "server" or "unknown" for an enum ht_role. */
const char *format_role_name(uint8_t role);
/* Append the JSON string literal (with quotes) of raw bytes s[0..len) to out; 0 or -ENOMEM. */
int format_json_string(struct ht_buf *out, const void *s, size_t len);

/* The string escaper's code for long strings, picked at startup from the
 * CPU (x86-64); the output is the same with every one. */
enum format_esc {
	FORMAT_ESC_PORTABLE, /* 8 bytes per step (not x86-64) */
	FORMAT_ESC_SSE2,
	FORMAT_ESC_AVX2,
	FORMAT_ESC_AVX512,   /* AVX-512BW */
};
/* Use level want, or the best below it that the CPU has (want < 0: no
 * change); returns the level now in use.  For tests and benchmarks: not
 * thread-safe against concurrent encoding. */
int format_esc_level(int want);

#endif
