/*
 * stats.h - lock-free per-thread counters.
 *
 * Every thread on the data path (readers, shards, writer) owns one
 * struct ht_stats and is its only writer; it bumps counters with a relaxed
 * load+store (no lock prefix, no shared cache line).  The metrics thread
 * sums all registered blocks when scraped (relaxed loads), so a scrape sees
 * each counter monotonically but not all counters at one instant.  Only
 * registration, unregistration and the scrape's walk of the registry take
 * a lock; the counters never do.
 */
#ifndef HT_STATS_H
#define HT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ht_counter {
	HT_C_EVENTS_RECEIVED,      /* ring records taken from the kernel / replay file */
	HT_C_EVENTS_PROCESSED,     /* events applied to a connection by a shard */
	HT_C_LOSS_NOTICES,         /* loss events a reader made for the data events it
				    * dropped (queue full), processed like the kernel's */
	HT_C_DROP_RINGBUF_FULL,    /* kernel reserve failures (from the per-CPU map) */
	HT_C_DROP_QUEUE_FULL,      /* reader->shard queue full past the wait bound */
	HT_C_DROP_MEMORY_BUDGET,   /* connection evicted: shard memory budget */
	HT_C_DROP_CONN_BUFFER,     /* bytes evicted: per-connection buffer cap */
	HT_C_DROP_WRITER_QUEUE,    /* records dropped: writer queue full */
	HT_C_DROP_OUTPUT_ERROR,    /* records dropped: disk full / write error */
	HT_C_DROP_SINK_ENCODE,     /* records a network sink could not encode (memory) */
	HT_C_DROP_MALFORMED_EVENT, /* events with impossible lengths */
	HT_C_DROP_CORR_PENDING,    /* requests not kept: max_pending already queued on
				    * their connection (their responses: no_request + gap) */
	HT_C_FILTERED_PATH,        /* records removed by excludePaths */
	HT_C_FILTERED_IP,          /* records removed by excludeIPs */
	HT_C_FILTERED_NAMESPACE,   /* records removed by excludeNamespaces */
	HT_C_FILTERED_POD,         /* records removed by excludePods */
	HT_C_FILTERED_SAMPLING,    /* records removed by sampling */
	HT_C_K8S_NO_METADATA,      /* records of a process in a pod the store does not hold
				    * (yet): written without the pod's fields */
	HT_C_BYTES_LOST,           /* stream bytes the stream stage found missing: the
				    * holes it skipped, whatever made them */
	HT_C_BYTES_DROPPED,        /* stream bytes of data events dropped in user space
				    * (reader to shard queue full) */
	HT_C_RECORDS_EMITTED,      /* records handed to the writer */
	HT_C_RECORDS_WRITTEN,      /* records written to the output */
	HT_C_WRITES,               /* write(2)/writev(2) calls of the file output */
	HT_C_OUTPUT_LINES_REPAIRED, /* partial last lines (a killed run) ended with a newline */
	HT_C_CONNS_OPENED,
	HT_C_CONNS_CLOSED,
	HT_C_CONNS_EXPIRED,        /* idle sweep */
	HT_C_STREAMS_ACTIVE,       /* gauge (owner sets): connections in the shard's table */
	HT_C_CORR_PENDING,         /* gauge: requests waiting for responses */
	HT_C_QUEUE_DEPTH,          /* gauge: events waiting in this shard's input queues */
	HT_C_MEM_BYTES,            /* gauge: buffered bytes owned by this shard */
	HT_C_COUNT
};

#define HT_PARSE_ERR_SLOTS 32   /* indexed by enum httpp_err */
#define HT_LAT_BUCKETS 16       /* processing latency histogram, see stats.c */

struct ht_stats {
	uint64_t c[HT_C_COUNT];
	uint64_t parse_err[HT_PARSE_ERR_SLOTS];
	uint64_t lat_bucket[HT_LAT_BUCKETS]; /* cumulative counts are made at scrape */
	uint64_t lat_count;
	uint64_t lat_sum_ns;
	const char *owner;   /* "reader", "shard", "writer" */
	int index;           /* thread index within its kind */
	struct ht_stats *next_registered;
} __attribute__((aligned(64)));

static inline void ht_stat_add(uint64_t *slot, uint64_t n)
{
	__atomic_store_n(slot, __atomic_load_n(slot, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}
static inline void ht_stat_set(uint64_t *slot, uint64_t v)
{
	__atomic_store_n(slot, v, __ATOMIC_RELAXED);
}
static inline uint64_t ht_stat_get(const uint64_t *slot)
{
	return __atomic_load_n(slot, __ATOMIC_RELAXED);
}
#define HT_INC(st, ctr) ht_stat_add(&(st)->c[(ctr)], 1)
#define HT_ADD(st, ctr, n) ht_stat_add(&(st)->c[(ctr)], (n))

/* Upper bounds (seconds) of the processing latency buckets, +Inf last. */
extern const double ht_lat_bounds_s[HT_LAT_BUCKETS];
void ht_stats_observe_latency(struct ht_stats *st, uint64_t ns);

/*
 * Registry of the blocks a scrape sums (cold path: a mutex, see stats.c).
 * A block stays registered until ht_stats_unregister(), which returns only
 * once no scrape can be reading it: its memory may be freed right after.
 * Unregistering a block that is not registered does nothing.
 */
void ht_stats_register(struct ht_stats *st, const char *owner, int index);
void ht_stats_unregister(struct ht_stats *st);
/* Calls fn on every registered block, under the registry lock: fn must not
 * register or unregister. */
void ht_stats_foreach(void (*fn)(const struct ht_stats *st, void *ctx), void *ctx);
/* Number of registered blocks (tests: a stopped pipeline leaves none). */
size_t ht_stats_registered(void);
/* Sum of one counter over all registered blocks. */
uint64_t ht_stats_sum(enum ht_counter ctr);

#endif
