/*
 * sink.h - a network sink beside (or instead of) the file output.
 *
 * The pipeline knows a sink only by these three calls (sinkapi):
 *   encode   on the shard threads, any number at once, pure: append one
 *            record's encoding to out, or leave out as it was and return
 *            non-zero (the record is counted as dropped for that sink);
 *   submit   on the writer thread: a finished batch of n_records records;
 *            takes ownership of buf's memory (leaves *buf empty) and never
 *            blocks (a sink that needs framing adds it when sending);
 *   close    at shutdown, after the last submit: deliver what can be
 *            delivered within drain_ms, count the rest, free ctx.
 * The record is the one the file output got: after the filters, sampling
 * and redaction, so redaction applies to every sink.
 */
#ifndef HT_SINK_H
#define HT_SINK_H

#include <stdint.h>

#include "base/buf.h"
#include "base/record.h"

struct sink_ops {
	const char *name;                      /* "clickhouse", "otlp": metric label */
	int (*encode)(void *ctx, const struct ht_record *r, struct ht_buf *out);
	void (*submit)(void *ctx, struct ht_buf *buf, uint32_t n_records);
	void (*close)(void *ctx, uint32_t drain_ms);
};

struct sink {
	const struct sink_ops *ops;
	void *ctx;
};

#endif
