/*
 * clickhouse.h - the ClickHouse sink (DESIGN §9): records as JSONEachRow
 * rows, one `INSERT INTO db.table FORMAT JSONEachRow` per batch over the
 * HTTP interface, through the delivery queue of delivery.h.
 *
 * The row's columns are CH_COLUMNS below, the table's DDL is
 * clickhouse_ddl(); both work on ClickHouse 18.16 (Debian 12: no Map, no
 * DateTime64) and on current releases: `time` is a DateTime (seconds) and
 * `time_unix_nano` keeps the nanoseconds; each header map is two arrays
 * (names, values) of the same length; flags are an Array(String); `node`
 * is the tracer's node ($NODE_NAME, else the host name).  The insert skips
 * unknown fields, so a table may keep only the columns it wants.
 *
 * Verdicts: a connection error or timeout, HTTP 408/429/5xx -> retry; an
 * HTTP 4xx, or a 5xx whose "Code: N" is a ClickHouse error about the data
 * or the table (parse and type errors, unknown table or database) or about
 * the credentials -> rejected (delivery logs it once, with the server's
 * message, and counts it).
 */
#ifndef HT_CLICKHOUSE_H
#define HT_CLICKHOUSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "config/config.h"
#include "sink.h"

/* The columns, name and ClickHouse type, in row order. */
#define CH_COLUMNS(X)                                   \
	X(time,               "DateTime")               \
	X(time_unix_nano,     "UInt64")                 \
	X(latency_ns,         "UInt64")                 \
	X(role,               "String")                 \
	X(pid,                "UInt32")                 \
	X(tid,                "UInt32")                 \
	X(comm,               "String")                 \
	X(local_addr,         "String")                 \
	X(local_port,         "UInt16")                 \
	X(remote_addr,        "String")                 \
	X(remote_port,        "UInt16")                 \
	X(version,            "String")                 \
	X(method,             "String")                 \
	X(target,             "String")                 \
	X(path,               "String")                 \
	X(host,               "String")                 \
	X(req_header_names,   "Array(String)")          \
	X(req_header_values,  "Array(String)")          \
	X(resp_header_names,  "Array(String)")          \
	X(resp_header_values, "Array(String)")          \
	X(req_body,           "String")                 \
	X(resp_body,          "String")                 \
	X(req_body_size,      "UInt64")                 \
	X(resp_body_size,     "UInt64")                 \
	X(status,             "UInt16")                 \
	X(reason,             "String")                 \
	X(flags,              "Array(String)")          \
	X(container_id,       "String")                 \
	X(pod,                "String")                 \
	X(namespace,          "String")                 \
	X(container,          "String")                 \
	X(workload_kind,      "String")                 \
	X(workload,           "String")                 \
	X(remote_pod,         "String")                 \
	X(remote_namespace,   "String")                 \
	X(remote_service,     "String")                 \
	X(tls,                "UInt8")                  \
	X(node,               "String")

/* Memory queue bound and backoff of the ClickHouse delivery. */
#ifndef CH_QUEUE_BYTES
#define CH_QUEUE_BYTES (64u << 20)
#endif
/* Queued batches are joined into inserts of up to this many bytes (rows):
 * ClickHouse wants few large inserts, and a backlog drains fast. */
#define CH_INSERT_MAX_BYTES (8u << 20)
#define CH_BACKOFF_MIN_MS 100
#define CH_BACKOFF_MAX_MS 10000
#define CH_CONNECT_TIMEOUT_MS 3000
#ifndef CH_TIMEOUT_MS
#define CH_TIMEOUT_MS 30000
#endif

/*
 * If c->ch_url is set: reads the password file, starts the delivery (its
 * spool) and fills *out; returns 1.  replay: the delivery waits for room
 * rather than drop (wait_when_full, delivery.h).  0 if no ClickHouse sink is
 * configured, -1 with one line in err on failure.  The table, if
 * createTable, is created by the sender before its first insert (so a
 * ClickHouse that is down at start delays it, never the tracer).
 */
int clickhouse_sink_open(const struct ht_config *c, bool replay, struct sink *out, char *err,
			 size_t errlen);

/* The CREATE TABLE IF NOT EXISTS statement for db.table; 0 or -ENOMEM. */
int clickhouse_ddl(const char *db, const char *table, struct ht_buf *out);

/* One record as one JSONEachRow line (node: the value of `node`); 0 or
 * -ENOMEM with out unchanged.  Pure. */
int clickhouse_encode_row(const struct ht_record *r, const char *node, struct ht_buf *out);

#endif
