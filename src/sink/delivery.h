/*
 * delivery.h - the delivery promise of a network sink (DESIGN §9).
 *
 * Payload-agnostic: a sink hands over finished batches (opaque bytes and
 * how many records they hold); one sender thread per delivery sends them,
 * oldest first, with the sink's send function.
 *
 *   memory queue  bounded in bytes (mem_max_bytes);
 *   spool         when the memory queue is full: one file per batch in
 *                 spool_dir, written whole to NAME.tmp then renamed to
 *                 NAME (a 20-digit sequence number + ".batch"), bounded by
 *                 spool_max_bytes; files left by an earlier run are sent
 *                 first, and at close what is still in memory is spooled;
 *   drop newest   a batch that fits in neither is dropped and counted.
 * Every batch carries a sequence number; the sender always takes the
 * lowest one, in memory or on disk, so batches go out in submit order
 * (with merge_max_bytes, several consecutive ones in one send).
 * Verdicts of the send function:
 *   DL_SENT    done;
 *   DL_RETRY   transient (connection error, 5xx, 429): the same batch
 *              again after a capped exponential backoff (backoff_min_ms
 *              doubling to backoff_max_ms, or retry_after_ms if the
 *              receiver said so, capped the same way);
 *   DL_REJECT  permanent (the receiver refused the content or the
 *              credentials): dropped and counted, never retried; logged
 *              with the receiver's message (err) once, then again only
 *              after a batch has been sent.
 * Metrics (per name, read by observe/metrics.c with delivery_foreach):
 * batches/records sent, retries, batches spooled, records dropped by
 * reason, queue and spool bytes, send latency histogram.
 */
#ifndef HT_DELIVERY_H
#define HT_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/stats.h"

enum dl_verdict {
	DL_SENT,
	DL_RETRY,  /* transient: conn error, 5xx, 429 */
	DL_REJECT, /* permanent: content/auth refused */
};

/* Sends one batch; on DL_RETRY may set *retry_after_ms (0: use the backoff);
 * on DL_RETRY/DL_REJECT writes one line of why into err. */
typedef enum dl_verdict (*dl_send_fn)(void *ctx, const void *payload, size_t len,
				      uint32_t n_records, uint32_t *retry_after_ms,
				      char *err, size_t errlen);

#define DL_WAIT_FULL_MS 60000

struct delivery_cfg {
	const char *name;          /* metric label */
	uint64_t mem_max_bytes;    /* memory queue bound */
	const char *spool_dir;     /* NULL/"": memory only */
	uint64_t spool_max_bytes;
	uint32_t backoff_min_ms, backoff_max_ms;
	/* 0: one batch per send.  Else consecutive queued batches are joined
	 * into one send of up to this many bytes (for payloads that simply
	 * concatenate, e.g. JSONEachRow rows): a receiver that wants large
	 * inserts (ClickHouse) gets them while it catches up. */
	uint64_t merge_max_bytes;
	/* Replay (offline, loses nothing): a batch that fits neither the memory
	 * queue nor the spool waits for room (up to DL_WAIT_FULL_MS, then it is
	 * dropped as usual) instead of being dropped at once, so submit may
	 * block.  Never set it for live capture. */
	bool wait_when_full;
};

/* Why records were dropped (the reason label). */
enum dl_drop {
	DL_DROP_QUEUE_FULL,   /* memory queue and spool both full (the newest batch) */
	DL_DROP_REJECTED,     /* the receiver refused the batch (DL_REJECT) */
	DL_DROP_SPOOL_ERROR,  /* a spool file could not be written or read back */
	DL_DROP_SHUTDOWN,     /* still queued in memory at close, and no spool */
	DL_DROP_COUNT
};
extern const char *const dl_drop_names[DL_DROP_COUNT];

/* A snapshot of one delivery's counters (metrics, tests). */
struct dl_stats {
	uint64_t batches_sent, records_sent;
	uint64_t sends;                        /* successful send calls (merged batches: one) */
	uint64_t retries;                      /* failed attempts that were retried */
	uint64_t batches_spooled, records_spooled;
	uint64_t batches_replayed;             /* sent from a spool file */
	uint64_t records_dropped[DL_DROP_COUNT];
	uint64_t batches_dropped[DL_DROP_COUNT];
	uint64_t queue_bytes, queue_batches;   /* gauges: memory queue */
	uint64_t spool_bytes, spool_batches;   /* gauges: spool files */
	uint64_t lat_bucket[HT_LAT_BUCKETS];   /* send latency (successful sends), stats.h bounds */
	uint64_t lat_sum_ns;
};

struct delivery;

/* Opens (creates, 0750) the spool directory, removes stale .tmp files,
 * indexes the batches already there and starts the sender thread.  NULL
 * with one line in err on failure. */
struct delivery *delivery_new(const struct delivery_cfg *cfg, dl_send_fn send, void *send_ctx,
			      char *err, size_t errlen);
/* Queue a batch: never waits for the sender (a spool file may be written;
 * with wait_when_full it waits for room rather than drop).
 * Takes ownership of payload's memory (*payload is left empty).  One
 * thread at a time. */
void delivery_submit(struct delivery *d, struct ht_buf *payload, uint32_t n_records);
/* Sends what it can for up to drain_ms, spools (or drops, counted) what is
 * left in memory, stops the sender and frees d.  NULL is fine. */
void delivery_close(struct delivery *d, uint32_t drain_ms);

/* Counters of d. */
void delivery_stats(struct delivery *d, struct dl_stats *out);
/* Calls fn(name, stats, ctx) for every open delivery (under a lock: fn must
 * not open or close one). */
void delivery_foreach(void (*fn)(const char *name, const struct dl_stats *st, void *ctx),
		      void *ctx);

#endif
