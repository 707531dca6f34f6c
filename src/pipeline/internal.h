/*
 * internal.h - the pipeline's shared state, seen by its three parts:
 * dispatch.c (readers -> shards), shard.c (the shard workers) and writer.c
 * (shards -> the output).  pipeline.c starts and stops them.  Nothing
 * outside src/pipeline/ includes this.
 */
#ifndef HT_PIPELINE_INTERNAL_H
#define HT_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <urcu.h>
#include <urcu/rculfhash.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "base/buf.h"
#include "base/park.h"
#include "base/spsc.h"
#include "base/stats.h"
#include "ht_event.h"
#include "stream/conn.h"
#include "pipeline.h"

struct red_table;
struct meta_cache;

#define SHARD_BATCH 256           /* events taken from one ring before the next */
#define SWEEP_INTERVAL_NS 10000000ull /* 10 ms */
#define REORDER_WAIT_NS 100000000ull  /* give up on a reordered gap after 100 ms idle */
#define CLOSE_GRACE_NS 200000000ull   /* wait for in-flight bytes after CLOSE */
#define WRITER_RING 256               /* batches per shard -> writer ring */
#define WRITER_BUDGET (16u << 20)     /* encoded bytes a shard may have queued for the writer */
#define WRITER_COALESCE (1u << 20)    /* encoded bytes the writer gathers for one write */

struct shard_conn {
	struct cds_lfht_node node;
	struct shard_conn *lru_prev, *lru_next; /* oldest activity first; graveyard link */
	uint32_t pending_seen;       /* c.corr.n_pending as last accounted */
	uint32_t dropped_seen;       /* c.corr.dropped as last accounted */
	struct conn c;
};

struct shard {
	struct pipeline *p;
	int idx;
	pthread_t th;
	struct spsc_bytes *in;       /* [n_readers] */
	struct spsc_ptr out;         /* to the writer */
	struct cds_lfht *table;
	struct shard_conn *lru_head, *lru_tail;
	struct shard_conn *graveyard; /* removed from the table, freed after a grace period */
	uint32_t n_graveyard;
	uint64_t n_conns;
	uint64_t mem;                /* buffered bytes of all connections */
	uint64_t pending;            /* requests of all connections waiting for a response */
	uint64_t now_ns;             /* monotonic time of the poll or sweep being run:
				      * one clock read per pass, not per record */
	uint64_t next_sweep_ns;
	uint64_t ev_now;             /* event_clock: the largest event ts_ns applied */
	uint64_t next_ev_sweep;      /* event_clock: ev_now of the next sweep */
	struct conn_limits lim;
	struct red_table *red;
	struct meta_cache *meta;     /* live mode only */
	struct batch *cur;           /* records encoded, not yet handed to the writer */
	size_t batch_hint;           /* bytes the last full batch took: a new batch's
				      * buffer is sized once, not grown by doubling */
	uint64_t inflight_bytes;     /* encoded bytes queued for the writer (shared) */
	struct ht_stats st;
	struct parker pk;            /* the shard sleeps here when idle */
};

/*
 * A batch: up to batchSize records, already encoded by the shard that
 * finished them (encoding is the heaviest per-record step, so it runs on
 * all shards in parallel), written by the writer with one write(2), then
 * each sink's encoding of the same records submitted to that sink.
 */
struct batch_sink {
	struct ht_buf buf;           /* the sink's encoding of the batch's records */
	uint32_t n;                  /* records in buf (an encode may fail) */
};

struct batch {
	struct ht_buf buf;           /* the file output's encoding (empty: no file) */
	uint32_t n;
	struct batch_sink *sink;     /* [o.n_sinks], in the same allocation */
	uint64_t first_ns;           /* when its first record was added */
	uint64_t done_ns[];          /* per record: when the shard finished it */
};

/*
 * A data event a reader had to drop (its shard's ring stayed full) becomes a
 * LOSS notice for that shard, queued here and sent ahead of the reader's next
 * event to the shard, so the reassembler sees a hole of known size at once
 * instead of waiting for bytes that will never come.  Notices that do not fit
 * are counted; the shard's reorder timeout covers them.
 */
#define LOSS_PENDING_MAX 1024
struct reader_losses {
	struct ht_loss_ev ev[LOSS_PENDING_MAX];
	int shard[LOSS_PENDING_MAX];
	uint32_t n;
};

struct pipeline {
	struct pipeline_opts o;
	struct shard *shards;
	struct ht_stats *reader_st;  /* [n_readers] */
	struct reader_losses *losses; /* [n_readers] */
	uint64_t *wake;              /* [n_readers]: shards fed since the last flush */
	struct ht_stats writer_st;
	struct parker writer_pk;
	bool writer_coalesce;        /* the output is a regular file: the writer gathers */
	uint64_t writer_pending;     /* encoded bytes pushed, not yet written (all shards) */
	pthread_t writer_th;
	int n_shards_started;        /* shard threads running (joined by pipeline_stop) */
	bool writer_started;
	int stopping;                /* readers are done: drain and exit */
	int shards_done;
	uint64_t written;
};

static inline uint64_t conn_hash(const struct ht_conn_id *id)
{
	return XXH3_64bits(id, sizeof(*id));
}

/* dispatch.c: the readers have stopped; hand every loss notice they still
 * owe to its shard (waits for ring space), so that no hole goes unknown. */
void dispatch_drain_losses(struct pipeline *p);

/* Encoded bytes of a batch, all buffers (the shard's writer budget). */
static inline size_t batch_bytes(const struct batch *b, int n_sinks)
{
	size_t len = b->buf.len;

	for (int i = 0; i < n_sinks; i++)
		len += b->sink[i].buf.len;
	return len;
}

/* Free a batch and whatever its buffers still hold. */
static inline void batch_free(const struct pipeline *p, struct batch *b)
{
	ht_buf_free(&b->buf);
	for (int i = 0; i < p->o.n_sinks; i++)
		ht_buf_free(&b->sink[i].buf);
	free(b);
}

/* shard.c */
void *shard_main(void *arg);
/* shard_setup: 0 or -ENOMEM (the shard half set up: shard_teardown it).
 * shard_teardown frees what shard_setup made, however far it got; nothing
 * on a shard that shard_setup never saw (all zero). */
int shard_setup(struct pipeline *p, struct shard *s, int idx);
void shard_teardown(struct shard *s);

/* writer.c */
void *writer_main(void *arg);

#endif
