/*
 * pipeline.h - the sharded user-space pipeline (DESIGN §1).
 *
 *   readers (R threads, owned by the source: capture or replay)
 *      | pipeline_dispatch(): XXH3(connection id) % W picks the shard;
 *      | the event is copied into the reader x shard SPSC byte ring
 *      v
 *   shards (W threads): each owns an RCU hash table (liburcu cds_lfht) of
 *      its connections, their reassemblers/parsers/correlators, an LRU list
 *      for idle expiry and a memory budget; finished records are filtered,
 *      sampled, redacted and encoded into a batch of batchSize records; a
 *      full batch, or one older than flush_interval_ms, goes to the shard ->
 *      writer pointer ring (bounded in batches and in encoded bytes)
 *      v
 *   writer (1 thread): one write(2) per batch, then each network sink's
 *      encoding of the batch to that sink (sink/sink.h), which never blocks.
 *
 * No lock on the data path.  Overflow: a reader facing a full shard ring
 * waits up to queue_wait_us then drops the event (HT_C_DROP_QUEUE_FULL); a
 * negative queue_wait_us waits without bound (replay, which must lose
 * nothing).  A shard facing a full writer ring does the same
 * (HT_C_DROP_WRITER_QUEUE).  pipeline_stop() drains in order: readers have
 * stopped, shards empty their rings and flush every connection, the writer
 * writes every record, then all threads are joined.
 */
#ifndef HT_PIPELINE_H
#define HT_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "base/stats.h"

struct ht_config;
struct k8s_store;
struct output;
struct pipeline;
struct sink;

struct pipeline_opts {
	int n_readers;
	int n_shards;
	uint32_t batch_size;
	uint32_t flush_interval_ms;
	uint32_t idle_timeout_ms;
	uint64_t shard_memory_bytes;
	size_t queue_bytes;          /* per reader x shard ring, power of two */
	int64_t queue_wait_us;       /* < 0: wait without bound */
	int event_clock;             /* replay: a shard's connection timeouts run on
				      * its events' clock (the largest ts_ns seen),
				      * so the records do not depend on replay speed */
	uint64_t wall_offset_ns;     /* realtime - monotonic for record times */
	struct output *out;          /* where the writer writes; NULL: no file */
	struct sink *sinks;          /* [n_sinks] network sinks beside the file */
	int n_sinks;
	int format;                  /* enum ht_format */
	int pin_cpus;                /* pin shard threads to CPUs */
	int lookup_metadata;         /* live mode: container ids from /proc (meta.h) */
	struct k8s_store *k8s;       /* live mode, kubernetes on: pods, Services, slices; or NULL */
	const char *node_name;       /* live mode: the records' node field; NULL: none */
};

struct pipeline *pipeline_start(const struct pipeline_opts *o, char *err, size_t errlen);

/* Reader r hands one kernel record (bytes valid only during the call) to its
 * shard.  Returns 0, or -1 if it was dropped (counted). */
int pipeline_dispatch(struct pipeline *p, int r, const void *rec, size_t len);
/* Reader r has handed over a burst: wake the shards it fed (one futex
 * wake per shard per burst, not per event).  Call after every poll. */
void pipeline_reader_flush(struct pipeline *p, int r);
/* Reader r's counters (events received, queue drops). */
struct ht_stats *pipeline_reader_stats(struct pipeline *p, int r);
/* The shard a connection id maps to (for tests). */
int pipeline_shard_of(const struct pipeline *p, const void *conn_id);

/* Drain and join everything; returns records written. */
uint64_t pipeline_stop(struct pipeline *p);
/* After pipeline_stop: unregisters the pipeline's stats blocks, RED tables
 * and (already, as its threads exited) heartbeat slots, and frees all that
 * pipeline_start made.  The caller must be registered with liburcu.  NULL
 * is fine. */
void pipeline_free(struct pipeline *p);

/* Totals for summaries. */
uint64_t pipeline_records_emitted(struct pipeline *p);
uint64_t pipeline_events(struct pipeline *p);

#endif
