/*
 * metrics.c - the /metrics and /health server; see metrics.h.
 *
 * Threads: pipeline threads only touch the heartbeat slots (relaxed atomic
 * stores; metrics_slots_lock when a thread starts or exits) and their own
 * struct ht_stats.  Everything else runs in the
 * metrics thread: accept, read, render, write.  Settings (kernel source,
 * build info) are cold and guarded by metrics_cfg_lock, which the data path
 * never takes.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu.h>

#include "base/buf.h"
#include "sink/delivery.h"
#include "sink/otlp.h"
#include "sink/k8s_client.h"
#include "source/capture.h"
#include "stream/httpp.h"
#include "red.h"
#include "base/stats.h"

#ifndef HT_VERSION
#define HT_VERSION "0.1.0"
#endif
#ifndef HT_GIT_COMMIT
#define HT_GIT_COMMIT "unknown"
#endif

#define METRICS_MAX_SHARDS 256
#define METRICS_KERNEL_SLOTS HT_KS_NR_FILTERS /* capture_counters.filtered[], ht_kstats.h */
#define METRICS_ACCEPT_BURST 16
#define METRICS_ACCEPT_PAUSE_MS 100

/* ---- health state
 *
 * Heartbeat slots.  A pipeline thread claims one when it starts and frees it
 * when it exits (metrics_thread_unregister), so slots are reused as
 * pipelines come and go.  Claiming and freeing take metrics_slots_lock, and
 * so does every reader of a slot's name (metrics_health, render_health): a
 * slot cannot be freed and claimed again under a new name while a scrape is
 * printing the old one.  The heartbeat itself (metrics_thread_alive) stays a
 * lock-free relaxed store of last_ns, which the readers load atomically; the
 * lock is taken only at thread start and exit and once per scrape.
 */

struct metrics_slot {
	bool live;                    /* claimed; guarded by metrics_slots_lock */
	uint64_t last_ns;             /* last heartbeat, metrics clock (atomic) */
	char name[METRICS_THREAD_NAME_MAX]; /* guarded by metrics_slots_lock */
};

static pthread_mutex_t metrics_slots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_slot metrics_slots[METRICS_MAX_THREADS];
static int metrics_slots_live;
static bool metrics_probes;
static uint64_t metrics_stale_ns = (uint64_t)METRICS_STALE_MS * 1000000u;
static uint64_t (*metrics_clock)(void);
static uint64_t metrics_reloads_ok, metrics_reloads_failed;

/* ---- settings (cold, locked) */

static pthread_mutex_t metrics_cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static int (*metrics_ksrc)(void *ctx, struct capture_counters *out);
static void *metrics_ksrc_ctx;
static const char *(*metrics_kname)(int i);
static char metrics_version[64] = HT_VERSION;
static char metrics_commit[64] = HT_GIT_COMMIT;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t health_now(void)
{
	uint64_t (*fn)(void) = __atomic_load_n(&metrics_clock, __ATOMIC_ACQUIRE);

	return fn ? fn() : mono_ns();
}

void metrics_set_probes_attached(bool attached)
{
	__atomic_store_n(&metrics_probes, attached, __ATOMIC_RELEASE);
}

int metrics_thread_register(const char *kind, int index)
{
	int slot = -ENOSPC;

	pthread_mutex_lock(&metrics_slots_lock);
	for (int i = 0; i < METRICS_MAX_THREADS; i++) {
		struct metrics_slot *s = &metrics_slots[i];

		if (s->live)
			continue;
		snprintf(s->name, sizeof(s->name), "%s-%d", kind ? kind : "thread", index);
		__atomic_store_n(&s->last_ns, health_now(), __ATOMIC_RELAXED);
		s->live = true;
		metrics_slots_live++;
		slot = i;
		break;
	}
	pthread_mutex_unlock(&metrics_slots_lock);
	return slot;
}

void metrics_thread_alive(int slot)
{
	if (slot < 0 || slot >= METRICS_MAX_THREADS)
		return;
	__atomic_store_n(&metrics_slots[slot].last_ns, health_now(), __ATOMIC_RELAXED);
}

void metrics_thread_unregister(int slot)
{
	if (slot < 0 || slot >= METRICS_MAX_THREADS)
		return;
	pthread_mutex_lock(&metrics_slots_lock);
	if (metrics_slots[slot].live) {
		metrics_slots[slot].live = false;
		metrics_slots_live--;
	}
	pthread_mutex_unlock(&metrics_slots_lock);
}

int metrics_threads_registered(void)
{
	int n;

	pthread_mutex_lock(&metrics_slots_lock);
	n = metrics_slots_live;
	pthread_mutex_unlock(&metrics_slots_lock);
	return n;
}

void metrics_set_stale_ms(uint32_t ms)
{
	uint64_t ns = (uint64_t)(ms ? ms : METRICS_STALE_MS) * 1000000u;

	__atomic_store_n(&metrics_stale_ns, ns, __ATOMIC_RELAXED);
}

void metrics_set_clock(uint64_t (*now_ns)(void))
{
	__atomic_store_n(&metrics_clock, now_ns, __ATOMIC_RELEASE);
}

/* Age of a live slot's heartbeat in ns (0 if it is from the future). */
static uint64_t slot_age(const struct metrics_slot *s, uint64_t now)
{
	uint64_t last = __atomic_load_n(&s->last_ns, __ATOMIC_RELAXED);

	return now > last ? now - last : 0;
}

bool metrics_health(char *reason, size_t len)
{
	uint64_t now = health_now();
	uint64_t stale = __atomic_load_n(&metrics_stale_ns, __ATOMIC_RELAXED);

	if (!__atomic_load_n(&metrics_probes, __ATOMIC_ACQUIRE)) {
		snprintf(reason, len, "probes not attached");
		return false;
	}
	pthread_mutex_lock(&metrics_slots_lock);
	for (int i = 0; i < METRICS_MAX_THREADS; i++) {
		const struct metrics_slot *s = &metrics_slots[i];
		uint64_t age;

		if (!s->live)
			continue;
		age = slot_age(s, now);
		if (age > stale) {
			snprintf(reason, len, "thread %s: no heartbeat for %.1f s (limit %.1f s)",
				 s->name, (double)age / 1e9, (double)stale / 1e9);
			pthread_mutex_unlock(&metrics_slots_lock);
			return false;
		}
	}
	pthread_mutex_unlock(&metrics_slots_lock);
	snprintf(reason, len, "ok");
	return true;
}

/* ---- sources */

void metrics_set_kernel_source(int (*fn)(void *ctx, struct capture_counters *out), void *ctx)
{
	pthread_mutex_lock(&metrics_cfg_lock);
	metrics_ksrc = fn;
	metrics_ksrc_ctx = ctx;
	pthread_mutex_unlock(&metrics_cfg_lock);
}

void metrics_set_kernel_filter_names(const char *(*name)(int i))
{
	pthread_mutex_lock(&metrics_cfg_lock);
	metrics_kname = name;
	pthread_mutex_unlock(&metrics_cfg_lock);
}

void metrics_count_reload(bool ok)
{
	__atomic_fetch_add(ok ? &metrics_reloads_ok : &metrics_reloads_failed, 1,
			   __ATOMIC_RELAXED);
}

void metrics_set_build_info(const char *version, const char *commit)
{
	pthread_mutex_lock(&metrics_cfg_lock);
	if (version)
		snprintf(metrics_version, sizeof(metrics_version), "%s", version);
	if (commit)
		snprintf(metrics_commit, sizeof(metrics_commit), "%s", commit);
	pthread_mutex_unlock(&metrics_cfg_lock);
}

/* ---- exposition helpers */

static int put_fmt(struct ht_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put_fmt(struct ht_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (ht_buf_reserve(b, (size_t)n + 1))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static int put_family(struct ht_buf *b, const char *name, const char *type, const char *help)
{
	return put_fmt(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int put_u64(struct ht_buf *b, const char *name, uint64_t v)
{
	return put_fmt(b, "%s %" PRIu64 "\n", name, v);
}

/* name{label="value"} v */
static int put_u64_l1(struct ht_buf *b, const char *name, const char *label,
		      const char *value, uint64_t v)
{
	int rc = put_fmt(b, "%s{%s=\"", name, label);

	rc = rc ?: red_put_label_value(b, value);
	return rc ?: put_fmt(b, "\"} %" PRIu64 "\n", v);
}

/* ---- collector counters */

struct metrics_totals {
	uint64_t c[HT_C_COUNT];
	uint64_t parse_err[HT_PARSE_ERR_SLOTS];
	uint64_t lat_bucket[HT_LAT_BUCKETS];
	uint64_t lat_sum_ns;
	int n_shards;
	struct { int index; uint64_t depth; } shard[METRICS_MAX_SHARDS];
};

static void add_shard_depth(struct metrics_totals *t, int index, uint64_t depth)
{
	int i;

	for (i = 0; i < t->n_shards; i++)
		if (t->shard[i].index == index)
			break;
	if (i == t->n_shards) {
		if (t->n_shards == METRICS_MAX_SHARDS)
			return;
		t->n_shards++;
		t->shard[i].index = index;
		t->shard[i].depth = 0;
	}
	t->shard[i].depth += depth;
}

static int cmp_shard(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Runs under the stats registry lock (ht_stats_foreach): a block cannot be
 * unregistered, so freed, while it is being read. */
static void add_stats(const struct ht_stats *st, void *ctx)
{
	struct metrics_totals *t = ctx;

	for (int i = 0; i < HT_C_COUNT; i++)
		t->c[i] += ht_stat_get(&st->c[i]);
	for (int i = 0; i < HT_PARSE_ERR_SLOTS; i++)
		t->parse_err[i] += ht_stat_get(&st->parse_err[i]);
	for (int i = 0; i < HT_LAT_BUCKETS; i++)
		t->lat_bucket[i] += ht_stat_get(&st->lat_bucket[i]);
	t->lat_sum_ns += ht_stat_get(&st->lat_sum_ns);
	if (st->owner && strcmp(st->owner, "shard") == 0)
		add_shard_depth(t, st->index, ht_stat_get(&st->c[HT_C_QUEUE_DEPTH]));
}

static void sum_stats(struct metrics_totals *t)
{
	memset(t, 0, sizeof(*t));
	ht_stats_foreach(add_stats, t);
	qsort(t->shard, (size_t)t->n_shards, sizeof(t->shard[0]), cmp_shard);
}

struct named_value {
	char name[48];
	uint64_t v;
};

/* Adds v under name, summing duplicates; n is bounded by the caller. */
static void nv_add(struct named_value *nv, int *n, const char *name, uint64_t v)
{
	for (int i = 0; i < *n; i++) {
		if (strcmp(nv[i].name, name) == 0) {
			nv[i].v += v;
			return;
		}
	}
	snprintf(nv[*n].name, sizeof(nv[*n].name), "%s", name);
	nv[(*n)++].v = v;
}

static int put_named(struct ht_buf *b, const char *family, const char *label,
		     const struct named_value *nv, int n)
{
	int rc = 0;

	for (int i = 0; i < n && !rc; i++)
		rc = put_u64_l1(b, family, label, nv[i].name, nv[i].v);
	return rc;
}

/* Kernel counters, if a source is set and answers; returns true if read. */
static bool read_kernel(struct capture_counters *kc, const char *(**names)(int))
{
	int (*fn)(void *, struct capture_counters *);
	void *ctx;

	pthread_mutex_lock(&metrics_cfg_lock);
	fn = metrics_ksrc;
	ctx = metrics_ksrc_ctx;
	*names = metrics_kname;
	pthread_mutex_unlock(&metrics_cfg_lock);
	memset(kc, 0, sizeof(*kc));
	return fn && fn(ctx, kc) == 0;
}

static int render_filtered(struct ht_buf *b, const struct metrics_totals *t,
			   const struct capture_counters *kc, bool have_k,
			   const char *(*kname)(int))
{
	static const struct { const char *name; enum ht_counter c; } user[] = {
		{ "path", HT_C_FILTERED_PATH }, { "ip", HT_C_FILTERED_IP },
		{ "namespace", HT_C_FILTERED_NAMESPACE }, { "pod", HT_C_FILTERED_POD },
		{ "sampling", HT_C_FILTERED_SAMPLING },
	};
	struct named_value nv[METRICS_KERNEL_SLOTS + sizeof(user) / sizeof(user[0])];
	int n = 0, rc;

	for (int i = 0; have_k && i < METRICS_KERNEL_SLOTS; i++) {
		const char *nm = kname ? kname(i) : NULL;
		char fallback[24];

		if (kname && !nm)
			break;
		if (!nm) {
			if (!kc->filtered[i])
				continue;
			snprintf(fallback, sizeof(fallback), "kernel_%d", i);
			nm = fallback;
		}
		nv_add(nv, &n, nm, kc->filtered[i]);
	}
	for (size_t i = 0; i < sizeof(user) / sizeof(user[0]); i++)
		nv_add(nv, &n, user[i].name, t->c[user[i].c]);
	rc = put_family(b, "http_tracer_events_filtered_total", "counter",
			"Events or records removed by a filter, by reason (kernel and user-space filters).");
	return rc ?: put_named(b, "http_tracer_events_filtered_total", "reason", nv, n);
}

static int render_dropped(struct ht_buf *b, const struct metrics_totals *t,
			  const struct capture_counters *kc, bool have_k)
{
	struct named_value nv[10];
	int n = 0, rc;

	nv_add(nv, &n, "ringbuf_full", have_k ? kc->ringbuf_full : t->c[HT_C_DROP_RINGBUF_FULL]);
	nv_add(nv, &n, "queue_full", t->c[HT_C_DROP_QUEUE_FULL]);
	nv_add(nv, &n, "memory_budget", t->c[HT_C_DROP_MEMORY_BUDGET]);
	nv_add(nv, &n, "conn_buffer", t->c[HT_C_DROP_CONN_BUFFER]);
	nv_add(nv, &n, "writer_queue", t->c[HT_C_DROP_WRITER_QUEUE]);
	nv_add(nv, &n, "output_error", t->c[HT_C_DROP_OUTPUT_ERROR]);
	nv_add(nv, &n, "sink_encode", t->c[HT_C_DROP_SINK_ENCODE]);
	nv_add(nv, &n, "malformed_event", t->c[HT_C_DROP_MALFORMED_EVENT]);
	nv_add(nv, &n, "pending_requests", t->c[HT_C_DROP_CORR_PENDING]);
	rc = put_family(b, "http_tracer_events_dropped_total", "counter",
			"Events, bytes or records lost, by reason.");
	return rc ?: put_named(b, "http_tracer_events_dropped_total", "reason", nv, n);
}

/* The kernel's byte accounting, the first terms of the byte invariant
 * (README "Loss that adds up"). */
static int render_kernel_bytes(struct ht_buf *b, const struct capture_counters *kc)
{
	const char *nm = "http_tracer_kernel_bytes_total";
	int rc = put_family(b, nm, "counter",
			    "Stream bytes of traced syscalls, by what the kernel did with them: "
			    "captured (copied), uncaptured (length only), lost (ring full).");

	rc = rc ?: put_u64_l1(b, nm, "kind", "captured", kc->bytes_captured);
	rc = rc ?: put_u64_l1(b, nm, "kind", "uncaptured", kc->bytes_uncaptured);
	return rc ?: put_u64_l1(b, nm, "kind", "lost", kc->bytes_lost);
}

/* tls.enabled: the OpenSSL calls traced and the libraries attached. */
static int render_tls(struct ht_buf *b, const struct capture_counters *kc)
{
	const char *lib = "http_tracer_tls_libraries";
	int rc;

	if (!kc->tls_enabled)
		return 0;
	rc = put_family(b, "http_tracer_tls_calls_total", "counter",
			"OpenSSL reads and writes (SSL_read, SSL_write and their _ex forms) that moved plaintext bytes.");
	rc = rc ?: put_u64(b, "http_tracer_tls_calls_total", kc->tls_calls);
	rc = rc ?: put_family(b, "http_tracer_tls_no_socket_total", "counter",
			      "OpenSSL reads and writes whose socket could not be found (no syscall inside the call, none earlier on its SSL object): their bytes are not seen.");
	rc = rc ?: put_u64(b, "http_tracer_tls_no_socket_total", kc->tls_no_socket);
	rc = rc ?: put_family(b, lib, "gauge",
			      "libssl files found in processes' maps (or tls.libraries): attached, or failed (symbols missing; reported once on stderr).");
	rc = rc ?: put_u64_l1(b, lib, "state", "attached", kc->tls_libs_attached);
	return rc ?: put_u64_l1(b, lib, "state", "failed", kc->tls_libs_failed);
}

static int render_latency(struct ht_buf *b, const struct metrics_totals *t)
{
	const char *nm = "http_tracer_processing_latency_seconds";
	uint64_t cum = 0;
	int rc;

	rc = put_family(b, nm, "histogram",
			"Time from a record being finished by its shard to its batch being written to the output.");
	for (int i = 0; i < HT_LAT_BUCKETS && !rc; i++) {
		cum += t->lat_bucket[i];
		if (i == HT_LAT_BUCKETS - 1)
			rc = put_fmt(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", nm, cum);
		else
			rc = put_fmt(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", nm,
				     ht_lat_bounds_s[i], cum);
	}
	rc = rc ?: put_fmt(b, "%s_sum %" PRIu64 ".%09" PRIu64 "\n", nm,
			   t->lat_sum_ns / 1000000000u, t->lat_sum_ns % 1000000000u);
	/* The count is the +Inf bucket so that the two always agree. */
	return rc ?: put_fmt(b, "%s_count %" PRIu64 "\n", nm, cum);
}

static int render_parse_errors(struct ht_buf *b, const struct metrics_totals *t)
{
	int rc = put_family(b, "http_tracer_parse_errors_total", "counter",
			    "HTTP messages flagged as malformed or ambiguous, by reason.");

	for (int i = 1; i < HTTPP_ERR__COUNT && i < HT_PARSE_ERR_SLOTS && !rc; i++) {
		const char *nm = httpp_err_name((enum httpp_err)i);

		rc = put_u64_l1(b, "http_tracer_parse_errors_total", "reason",
				nm ? nm : "unknown", t->parse_err[i]);
	}
	return rc;
}

static int render_shards(struct ht_buf *b, const struct metrics_totals *t)
{
	int rc = put_family(b, "http_tracer_shard_queue_depth", "gauge",
			    "Bytes waiting in a shard's input queues (an event: its size rounded up to 8, plus 8).");

	for (int i = 0; i < t->n_shards && !rc; i++)
		rc = put_fmt(b, "http_tracer_shard_queue_depth{shard=\"%d\"} %" PRIu64 "\n",
			     t->shard[i].index, t->shard[i].depth);
	return rc;
}

static int render_counters(struct ht_buf *b, const struct metrics_totals *t)
{
	static const struct { const char *name, *type, *help; enum ht_counter c; } simple[] = {
		{ "http_tracer_events_received_total", "counter",
		  "Events taken from the kernel ring buffers (or the replay file).", HT_C_EVENTS_RECEIVED },
		{ "http_tracer_events_processed_total", "counter",
		  "Events applied to a connection by a shard.", HT_C_EVENTS_PROCESSED },
		{ "http_tracer_loss_notices_total", "counter",
		  "Loss events made by the readers for the data events they dropped (processed like the kernel's).",
		  HT_C_LOSS_NOTICES },
		{ "http_tracer_records_emitted_total", "counter",
		  "Records finished by the shards and handed to the writer.", HT_C_RECORDS_EMITTED },
		{ "http_tracer_records_written_total", "counter",
		  "Records written to the output.", HT_C_RECORDS_WRITTEN },
		{ "http_tracer_writes_total", "counter",
		  "write(2) and writev(2) calls of the file output (one writes several batches).", HT_C_WRITES },
		{ "http_tracer_output_lines_repaired_total", "counter",
		  "Partial last lines of an output file (left by a killed run) ended with a newline before appending.",
		  HT_C_OUTPUT_LINES_REPAIRED },
		{ "http_tracer_k8s_records_without_metadata_total", "counter",
		  "Records of a process in a pod that the Kubernetes API has not described (yet), written without the pod's fields.",
		  HT_C_K8S_NO_METADATA },
		{ "http_tracer_bytes_lost_total", "counter",
		  "Stream bytes the parsers found missing (holes: lost in the kernel, not captured, or dropped in user space).",
		  HT_C_BYTES_LOST },
		{ "http_tracer_bytes_dropped_total", "counter",
		  "Stream bytes of data events dropped in user space (reader to shard queue full).",
		  HT_C_BYTES_DROPPED },
		{ "http_tracer_streams_active", "gauge",
		  "Connections currently tracked by the shards.", HT_C_STREAMS_ACTIVE },
		{ "http_tracer_correlator_pending", "gauge",
		  "Requests waiting for their response.", HT_C_CORR_PENDING },
		{ "http_tracer_buffered_bytes", "gauge",
		  "Stream bytes buffered by the shards.", HT_C_MEM_BYTES },
	};
	int rc = 0;

	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]) && !rc; i++) {
		rc = put_family(b, simple[i].name, simple[i].type, simple[i].help);
		rc = rc ?: put_u64(b, simple[i].name, t->c[simple[i].c]);
	}
	rc = rc ?: put_family(b, "http_tracer_connections_total", "counter",
			      "Connections opened, closed and expired (idle sweep).");
	rc = rc ?: put_u64_l1(b, "http_tracer_connections_total", "event", "opened",
			      t->c[HT_C_CONNS_OPENED]);
	rc = rc ?: put_u64_l1(b, "http_tracer_connections_total", "event", "closed",
			      t->c[HT_C_CONNS_CLOSED]);
	return rc ?: put_u64_l1(b, "http_tracer_connections_total", "event", "expired",
				t->c[HT_C_CONNS_EXPIRED]);
}

static int render_health(struct ht_buf *b)
{
	uint64_t now = health_now();
	int rc;

	rc = put_family(b, "http_tracer_probes_attached", "gauge",
			"1 when the kernel probes are attached (or the mode needs none).");
	rc = rc ?: put_u64(b, "http_tracer_probes_attached",
			   __atomic_load_n(&metrics_probes, __ATOMIC_ACQUIRE) ? 1 : 0);
	rc = rc ?: put_family(b, "http_tracer_thread_heartbeat_age_seconds", "gauge",
			      "Seconds since each pipeline thread last reported alive.");
	pthread_mutex_lock(&metrics_slots_lock);
	for (int i = 0; i < METRICS_MAX_THREADS && !rc; i++) {
		const struct metrics_slot *s = &metrics_slots[i];

		if (!s->live)
			continue;
		rc = put_fmt(b, "http_tracer_thread_heartbeat_age_seconds{thread=\"");
		rc = rc ?: red_put_label_value(b, s->name);
		rc = rc ?: put_fmt(b, "\",slot=\"%d\"} %.3f\n", i, (double)slot_age(s, now) / 1e9);
	}
	pthread_mutex_unlock(&metrics_slots_lock);
	return rc;
}

static int render_build_reload(struct ht_buf *b)
{
	char version[64], commit[64];
	int rc;

	pthread_mutex_lock(&metrics_cfg_lock);
	memcpy(version, metrics_version, sizeof(version));
	memcpy(commit, metrics_commit, sizeof(commit));
	pthread_mutex_unlock(&metrics_cfg_lock);

	rc = put_family(b, "http_tracer_config_reloads_total", "counter",
			"Configuration reloads (SIGHUP), by result.");
	rc = rc ?: put_u64_l1(b, "http_tracer_config_reloads_total", "result", "success",
			      __atomic_load_n(&metrics_reloads_ok, __ATOMIC_RELAXED));
	rc = rc ?: put_u64_l1(b, "http_tracer_config_reloads_total", "result", "failure",
			      __atomic_load_n(&metrics_reloads_failed, __ATOMIC_RELAXED));
	rc = rc ?: put_family(b, "http_tracer_build_info", "gauge",
			      "Always 1; the labels say which build is running.");
	rc = rc ?: put_fmt(b, "http_tracer_build_info{version=\"");
	rc = rc ?: red_put_label_value(b, version);
	rc = rc ?: put_fmt(b, "\",commit=\"");
	rc = rc ?: red_put_label_value(b, commit);
	return rc ?: put_fmt(b, "\"} 1\n");
}

/* ---- process basics from /proc/self */

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static uint64_t boot_time_s(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	unsigned long long bt = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %llu", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

/* Fields 14 (utime), 15 (stime), 22 (starttime), 23 (vsize), 24 (rss) of
 * /proc/self/stat; s starts after comm's ')' (field 3 is next). */
static int proc_stat_fields(char *s, unsigned long long *ut, unsigned long long *st,
			    unsigned long long *start, unsigned long long *vsize, long long *rss)
{
	char *save = NULL, *tok;
	int field = 3, got = 0;

	for (tok = strtok_r(s, " ", &save); tok && field <= 24;
	     tok = strtok_r(NULL, " ", &save), field++) {
		switch (field) {
		case 14: *ut = strtoull(tok, NULL, 10); got++; break;
		case 15: *st = strtoull(tok, NULL, 10); got++; break;
		case 22: *start = strtoull(tok, NULL, 10); got++; break;
		case 23: *vsize = strtoull(tok, NULL, 10); got++; break;
		case 24: *rss = strtoll(tok, NULL, 10); got++; break;
		default: break;
		}
	}
	return got == 5 ? 0 : -EINVAL;
}

static int render_process(struct ht_buf *b)
{
	char buf[1024], *p;
	unsigned long long ut = 0, stt = 0, start = 0, vsize = 0;
	long long rss = 0;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;
	ssize_t n;
	int fd, rc, fds;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || tck <= 0 || page <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may contain spaces and ')': fields resume after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || proc_stat_fields(p + 1, &ut, &stt, &start, &vsize, &rss))
		return 0;
	rc = put_family(b, "process_cpu_seconds_total", "counter",
			"Total user and system CPU time spent in seconds.");
	rc = rc ?: put_fmt(b, "process_cpu_seconds_total %.2f\n", (double)(ut + stt) / (double)tck);
	rc = rc ?: put_family(b, "process_resident_memory_bytes", "gauge",
			      "Resident memory size in bytes.");
	rc = rc ?: put_fmt(b, "process_resident_memory_bytes %lld\n", rss * (long long)page);
	rc = rc ?: put_family(b, "process_virtual_memory_bytes", "gauge",
			      "Virtual memory size in bytes.");
	rc = rc ?: put_fmt(b, "process_virtual_memory_bytes %llu\n", vsize);
	rc = rc ?: put_family(b, "process_start_time_seconds", "gauge",
			      "Start time of the process since unix epoch in seconds.");
	rc = rc ?: put_fmt(b, "process_start_time_seconds %.2f\n",
			   (double)boot_time_s() + (double)start / (double)tck);
	fds = count_open_fds();
	if (!rc && fds >= 0) {
		rc = put_family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
		rc = rc ?: put_fmt(b, "process_open_fds %d\n", fds);
	}
	if (!rc && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		rc = put_family(b, "process_max_fds", "gauge",
				"Maximum number of open file descriptors.");
		rc = rc ?: put_fmt(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
	return rc;
}

/* ---- network sinks (sink/delivery.h) */

#define METRICS_MAX_SINKS 8
struct sink_snap {
	int n;
	struct { char name[32]; struct dl_stats st; } s[METRICS_MAX_SINKS];
};

static void add_sink(const char *name, const struct dl_stats *st, void *ctx)
{
	struct sink_snap *t = ctx;

	if (t->n == METRICS_MAX_SINKS)
		return;
	snprintf(t->s[t->n].name, sizeof(t->s[t->n].name), "%s", name);
	t->s[t->n++].st = *st;
}

static int render_sink_latency(struct ht_buf *b, const struct sink_snap *t)
{
	const char *nm = "http_tracer_sink_send_latency_seconds";
	int rc = put_family(b, nm, "histogram",
			    "Time of one successful send (insert) of a batch by a network sink.");

	for (int k = 0; k < t->n && !rc; k++) {
		const struct dl_stats *st = &t->s[k].st;
		const char *sn = t->s[k].name;
		uint64_t cum = 0;

		for (int i = 0; i < HT_LAT_BUCKETS && !rc; i++) {
			cum += st->lat_bucket[i];
			if (i == HT_LAT_BUCKETS - 1)
				rc = put_fmt(b, "%s_bucket{sink=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", nm, sn, cum);
			else
				rc = put_fmt(b, "%s_bucket{sink=\"%s\",le=\"%g\"} %" PRIu64 "\n", nm, sn,
					     ht_lat_bounds_s[i], cum);
		}
		rc = rc ?: put_fmt(b, "%s_sum{sink=\"%s\"} %" PRIu64 ".%09" PRIu64 "\n", nm, sn,
				   st->lat_sum_ns / 1000000000u, st->lat_sum_ns % 1000000000u);
		rc = rc ?: put_fmt(b, "%s_count{sink=\"%s\"} %" PRIu64 "\n", nm, sn, cum);
	}
	return rc;
}

static int render_sinks(struct ht_buf *b)
{
#define SINK_FIELD(f) offsetof(struct dl_stats, f)
	static const struct { const char *name, *type, *help; size_t off; } simple[] = {
		{ "http_tracer_sink_batches_sent_total", "counter",
		  "Batches a network sink delivered.", SINK_FIELD(batches_sent) },
		{ "http_tracer_sink_records_sent_total", "counter",
		  "Records a network sink delivered.", SINK_FIELD(records_sent) },
		{ "http_tracer_sink_sends_total", "counter",
		  "Successful sends (inserts) of a network sink; one may carry several queued batches.",
		  SINK_FIELD(sends) },
		{ "http_tracer_sink_retries_total", "counter",
		  "Failed sends that were retried (connection error, 5xx, 429).", SINK_FIELD(retries) },
		{ "http_tracer_sink_batches_spooled_total", "counter",
		  "Batches written to the spool directory (memory queue full).", SINK_FIELD(batches_spooled) },
		{ "http_tracer_sink_records_spooled_total", "counter",
		  "Records written to the spool directory (memory queue full).", SINK_FIELD(records_spooled) },
		{ "http_tracer_sink_batches_replayed_total", "counter",
		  "Batches delivered from a spool file.", SINK_FIELD(batches_replayed) },
		{ "http_tracer_sink_queue_bytes", "gauge",
		  "Bytes of batches waiting in a sink's memory queue.", SINK_FIELD(queue_bytes) },
		{ "http_tracer_sink_queue_batches", "gauge",
		  "Batches waiting in a sink's memory queue.", SINK_FIELD(queue_batches) },
		{ "http_tracer_sink_spool_bytes", "gauge",
		  "Bytes of batches waiting in a sink's spool directory.", SINK_FIELD(spool_bytes) },
		{ "http_tracer_sink_spool_batches", "gauge",
		  "Batches waiting in a sink's spool directory.", SINK_FIELD(spool_batches) },
	};
	struct sink_snap *t = calloc(1, sizeof(*t));
	int rc = 0;

	if (!t)
		return -ENOMEM;
	delivery_foreach(add_sink, t);
	for (size_t i = 0; t->n && i < sizeof(simple) / sizeof(simple[0]) && !rc; i++) {
		rc = put_family(b, simple[i].name, simple[i].type, simple[i].help);
		for (int k = 0; k < t->n && !rc; k++)
			rc = put_u64_l1(b, simple[i].name, "sink", t->s[k].name,
					*(const uint64_t *)((const char *)&t->s[k].st + simple[i].off));
	}
	for (int pass = 0; pass < 2 && t->n && !rc; pass++) {
		const char *nm = pass ? "http_tracer_sink_batches_dropped_total"
				      : "http_tracer_sink_records_dropped_total";

		rc = put_family(b, nm, "counter",
				pass ? "Batches a network sink dropped, by reason."
				     : "Records a network sink dropped, by reason (queue_full: memory queue and spool full, the newest batch; rejected: refused by the receiver; spool_error; shutdown: queued at exit without a spool).");
		for (int k = 0; k < t->n && !rc; k++)
			for (int r = 0; r < DL_DROP_COUNT && !rc; r++)
				rc = put_fmt(b, "%s{sink=\"%s\",reason=\"%s\"} %" PRIu64 "\n", nm,
					     t->s[k].name, dl_drop_names[r],
					     pass ? t->s[k].st.batches_dropped[r]
						  : t->s[k].st.records_dropped[r]);
	}
	if (t->n && !rc)
		rc = render_sink_latency(b, t);
	free(t);
	return rc;
#undef SINK_FIELD
}

/* The OTLP sink's own counters (its deliveries are in render_sinks). */
static int render_otlp(struct ht_buf *b)
{
	struct otlp_stats o;
	int rc;

	otlp_stats_get(&o);
	rc = put_family(b, "http_tracer_otlp_traceparent_total", "counter",
			"Spans whose request carried a W3C traceparent header: joined to that trace, or malformed (ignored, the span starts a new trace).");
	rc = rc ?: put_u64_l1(b, "http_tracer_otlp_traceparent_total", "result", "joined",
			      o.traceparent_joined);
	rc = rc ?: put_u64_l1(b, "http_tracer_otlp_traceparent_total", "result", "malformed",
			      o.traceparent_malformed);
	rc = rc ?: put_family(b, "http_tracer_otlp_spans_rejected_total", "counter",
			      "Spans an OTLP receiver rejected inside an accepted batch (partial_success.rejected_spans).");
	rc = rc ?: put_fmt(b, "http_tracer_otlp_spans_rejected_total %" PRIu64 "\n", o.spans_rejected);
	rc = rc ?: put_family(b, "http_tracer_otlp_partial_success_total", "counter",
			      "Accepted OTLP batches whose response carried a partial_success.");
	rc = rc ?: put_fmt(b, "http_tracer_otlp_partial_success_total %" PRIu64 "\n", o.partial_responses);
	return rc;
}

/* ---- Kubernetes API client (only while one runs) */

static int render_k8s_kinds(struct ht_buf *b, const char *name, const char *type,
			    const char *help, const uint64_t *v)
{
	int rc = put_family(b, name, type, help);

	for (int k = 0; k < K8S_KIND_COUNT && !rc; k++)
		rc = put_u64_l1(b, name, "kind", k8s_kind_name((enum k8s_kind)k), v[k]);
	return rc;
}

static int render_k8s_errors(struct ht_buf *b, const struct k8s_api_stats *a)
{
	int rc = put_family(b, "http_tracer_k8s_api_errors_total", "counter",
			    "Failed Kubernetes API requests and ERROR watch events, by HTTP status (transport: no status).");
	char code[16];

	for (int c = 0; c < K8S_HTTP_CODES && !rc; c++) {
		if (!a->api_errors[c])
			continue;
		snprintf(code, sizeof(code), c ? "%d" : "transport", c);
		rc = put_u64_l1(b, "http_tracer_k8s_api_errors_total", "code", code, a->api_errors[c]);
	}
	return rc;
}

static int render_k8s(struct ht_buf *b)
{
	static const char since[] = "http_tracer_k8s_seconds_since_last_event";
	struct k8s_api_stats *a = malloc(sizeof(*a));
	uint64_t now = k8s_now_ns(), bad[K8S_KIND_COUNT];
	int rc = 0;

	if (!a)
		return -ENOMEM;
	k8s_api_stats_read(a);
	if (!a->running)
		goto out;
	for (int k = 0; k < K8S_KIND_COUNT; k++)
		bad[k] = a->malformed[k] + a->oversize[k];
	rc = render_k8s_kinds(b, "http_tracer_k8s_objects", "gauge",
			      "Kubernetes objects cached (pods of this node, all Services, all EndpointSlices).", a->objects);
	rc = rc ?: render_k8s_kinds(b, "http_tracer_k8s_watch_events_total", "counter",
				    "Watch events applied, bookmarks included.", a->events);
	rc = rc ?: render_k8s_kinds(b, "http_tracer_k8s_watch_restarts_total", "counter",
				    "Watches that ended and were opened again (server timeout, cut, error, 410).", a->watch_restarts);
	rc = rc ?: render_k8s_kinds(b, "http_tracer_k8s_relists_total", "counter",
				    "Full lists after the first one (410 Gone, failures).", a->relists);
	rc = rc ?: render_k8s_kinds(b, "http_tracer_k8s_objects_dropped_total", "counter",
				    "Objects or watch events not applied: malformed JSON, not the kind asked for, or over the size cap.", bad);
	rc = rc ?: put_family(b, since, "gauge",
			      "Seconds since the last watch event, bookmark or completed list, per kind.");
	for (int k = 0; k < K8S_KIND_COUNT && !rc; k++) {
		if (!a->last_event_ns[k])
			continue;
		rc = put_fmt(b, "%s{kind=\"%s\"} %.3f\n", since, k8s_kind_name((enum k8s_kind)k),
			     (double)(now - a->last_event_ns[k]) / 1e9);
	}
	rc = rc ?: render_k8s_errors(b, a);
out:
	free(a);
	return rc;
}

int metrics_render(struct ht_buf *b)
{
	struct metrics_totals *t = malloc(sizeof(*t));
	struct capture_counters kc;
	const char *(*kname)(int);
	bool have_k;
	int rc;

	if (!t)
		return -ENOMEM;
	sum_stats(t);
	have_k = read_kernel(&kc, &kname);
	rc = render_counters(b, t);
	rc = rc ?: render_filtered(b, t, &kc, have_k, kname);
	rc = rc ?: render_dropped(b, t, &kc, have_k);
	if (!rc && have_k) {
		rc = put_family(b, "http_tracer_kernel_events_submitted_total", "counter",
				"Records the kernel programs submitted to the ring buffers.");
		rc = rc ?: put_u64(b, "http_tracer_kernel_events_submitted_total", kc.events_sent);
		rc = rc ?: put_family(b, "http_tracer_kernel_connections_evicted_total", "counter",
				      "Live connections the kernel's connection table (LRU) evicted; each is resumed with a gap.");
		rc = rc ?: put_u64(b, "http_tracer_kernel_connections_evicted_total", kc.conns_evicted);
		rc = rc ?: render_kernel_bytes(b, &kc);
		rc = rc ?: render_tls(b, &kc);
	}
	rc = rc ?: render_latency(b, t);
	rc = rc ?: render_sinks(b);
	rc = rc ?: render_otlp(b);
	rc = rc ?: render_parse_errors(b, t);
	rc = rc ?: render_shards(b, t);
	rc = rc ?: render_health(b);
	rc = rc ?: render_build_reload(b);
	rc = rc ?: render_k8s(b);
	rc = rc ?: red_write(b);
	rc = rc ?: render_process(b);
	free(t);
	return rc;
}

/* ---- the server */

enum mconn_state { MC_FREE = 0, MC_READ, MC_WRITE, MC_LINGER };

struct mconn {
	int fd;
	enum mconn_state state;
	uint64_t deadline_ns;         /* real monotonic clock */
	uint64_t accepted_ns;
	size_t in_len;
	char in[METRICS_MAX_HEAD_BYTES];
	char hdr[256];                 /* response head, sent before out */
	size_t hdr_len;
	struct ht_buf out;             /* response body */
	size_t out_off;                /* bytes of hdr + out already sent */
};

struct metrics_server {
	int lfd;
	int wake_fd;                  /* eventfd: stop request */
	int port;
	uint64_t accept_resume_ns;    /* out of fds: stop accepting until then */
	pthread_t thread;
	struct mconn conns[METRICS_MAX_CONNS];
};

int metrics_port(const struct metrics_server *m)
{
	return m ? m->port : -1;
}

static void mconn_close(struct mconn *c)
{
	if (c->state == MC_FREE)
		return;
	close(c->fd);
	ht_buf_free(&c->out);
	c->fd = -1;
	c->state = MC_FREE;
	c->in_len = 0;
	c->hdr_len = 0;
	c->out_off = 0;
}

/* Queues a response; the body buffer is taken over (no copy). */
static void mconn_respond_buf(struct mconn *c, int code, const char *status, const char *ctype,
			      const char *extra, struct ht_buf *body)
{
	int n = snprintf(c->hdr, sizeof(c->hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "%sConnection: close\r\n\r\n", code, status, ctype, body->len, extra);

	ht_buf_free(&c->out);
	c->out = *body;
	*body = (struct ht_buf){ 0 };
	c->hdr_len = n > 0 && (size_t)n < sizeof(c->hdr) ? (size_t)n : 0;
	c->out_off = 0;
	c->state = MC_WRITE;
	if (!c->hdr_len)
		mconn_close(c); /* cannot happen with the fixed strings used here */
}

static void mconn_respond(struct mconn *c, int code, const char *status, const char *ctype,
			  const char *extra, const char *body, size_t body_len)
{
	struct ht_buf b = { 0 };

	if (ht_buf_put(&b, body, body_len)) {
		mconn_close(c);
		return;
	}
	mconn_respond_buf(c, code, status, ctype, extra, &b);
}

static void mconn_text(struct mconn *c, int code, const char *status, const char *extra,
		       const char *text)
{
	mconn_respond(c, code, status, "text/plain; charset=utf-8", extra, text, strlen(text));
}

static void serve_metrics(struct mconn *c)
{
	struct ht_buf body = { 0 };

	if (metrics_render(&body)) {
		ht_buf_free(&body);
		mconn_text(c, 500, "Internal Server Error", "", "out of memory\n");
		return;
	}
	mconn_respond_buf(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", "", &body);
}

static void serve_health(struct mconn *c)
{
	char reason[200], text[220];

	if (metrics_health(reason, sizeof(reason))) {
		mconn_text(c, 200, "OK", "", "ok\n");
		return;
	}
	snprintf(text, sizeof(text), "%s\n", reason);
	mconn_text(c, 503, "Service Unavailable", "", text);
}

static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Routes one complete request head (in[0..len), ends with an empty line). */
static void mconn_handle(struct mconn *c, size_t len)
{
	const char *p = c->in, *end = c->in + len, *m_end, *t, *t_end, *v;
	size_t tlen;

	while (p < end && (*p == '\r' || *p == '\n')) /* RFC 9112 2.2: skip leading CRLF */
		p++;
	m_end = p;
	while (m_end < end && is_tchar((unsigned char)*m_end))
		m_end++;
	if (m_end == p || m_end >= end || *m_end != ' ')
		goto bad;
	t = m_end + 1;
	t_end = t;
	while (t_end < end && *t_end != ' ' && *t_end != '\r' && *t_end != '\n')
		t_end++;
	if (t_end == t || t_end >= end || *t_end != ' ')
		goto bad;
	v = t_end + 1;
	if (end - v < 8 || memcmp(v, "HTTP/1.", 7) != 0 || (v[7] != '0' && v[7] != '1'))
		goto bad;
	if (m_end - p != 3 || memcmp(p, "GET", 3) != 0) {
		mconn_text(c, 405, "Method Not Allowed", "Allow: GET\r\n", "only GET is allowed\n");
		return;
	}
	tlen = 0;
	while (t + tlen < t_end && t[tlen] != '?')
		tlen++;
	if (tlen == 8 && memcmp(t, "/metrics", 8) == 0)
		serve_metrics(c);
	else if (tlen == 7 && memcmp(t, "/health", 7) == 0)
		serve_health(c);
	else
		mconn_text(c, 404, "Not Found", "", "try /metrics or /health\n");
	return;
bad:
	mconn_text(c, 400, "Bad Request", "", "malformed request\n");
}

/* Length of the head (through the blank line) in in[0..len), or 0. */
static size_t head_end(const char *in, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (in[i] != '\n')
			continue;
		if (in[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static void mconn_read(struct mconn *c)
{
	for (;;) {
		char sink[4096];
		ssize_t n;
		size_t he;

		if (c->state == MC_LINGER) {
			n = recv(c->fd, sink, sizeof(sink), 0);
			if (n > 0)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			mconn_close(c);
			return;
		}
		if (c->state != MC_READ)
			return;
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			mconn_close(c);
			return;
		}
		c->in_len += (size_t)n;
		he = head_end(c->in, c->in_len);
		if (he) {
			mconn_handle(c, he);
			return;
		}
		if (c->in_len == sizeof(c->in)) {
			mconn_text(c, 431, "Request Header Fields Too Large", "",
				   "request head larger than 8192 bytes\n");
			return;
		}
	}
}

static void mconn_write(struct mconn *c)
{
	while (c->state == MC_WRITE && c->out_off < c->hdr_len + c->out.len) {
		bool in_hdr = c->out_off < c->hdr_len;
		const char *p = in_hdr ? c->hdr + c->out_off : c->out.p + (c->out_off - c->hdr_len);
		size_t left = in_hdr ? c->hdr_len - c->out_off : c->hdr_len + c->out.len - c->out_off;
		ssize_t n = send(c->fd, p, left, MSG_NOSIGNAL | (in_hdr && c->out.len ? MSG_MORE : 0));

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			mconn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->state != MC_WRITE)
		return;
	/* Lingering close: stop writing, read and discard whatever the client
	 * still sends, so that closing with unread input does not reset the
	 * connection before it has read the response. */
	ht_buf_free(&c->out);
	c->out_off = 0;
	shutdown(c->fd, SHUT_WR);
	c->state = MC_LINGER;
}

/* A free slot, else the oldest connection that is not being answered,
 * else the oldest one: a flood of idle sockets cannot starve a scrape for
 * longer than it takes to open METRICS_MAX_CONNS of them. */
static struct mconn *mconn_slot(struct metrics_server *m)
{
	struct mconn *oldest = NULL, *oldest_idle = NULL;

	for (int i = 0; i < METRICS_MAX_CONNS; i++) {
		struct mconn *c = &m->conns[i];

		if (c->state == MC_FREE)
			return c;
		if (!oldest || c->accepted_ns < oldest->accepted_ns)
			oldest = c;
		if (c->state != MC_WRITE &&
		    (!oldest_idle || c->accepted_ns < oldest_idle->accepted_ns))
			oldest_idle = c;
	}
	if (oldest_idle)
		oldest = oldest_idle;
	mconn_close(oldest);
	return oldest;
}

static void accept_burst(struct metrics_server *m)
{
	for (int i = 0; i < METRICS_ACCEPT_BURST; i++) {
		int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct mconn *c;

		if (fd < 0) {
			/* Out of fds or memory: the listen socket stays readable,
			 * so pause accepting instead of spinning on poll. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				m->accept_resume_ns = mono_ns() + METRICS_ACCEPT_PAUSE_MS * 1000000u;
			return; /* EAGAIN, or a transient error (ECONNABORTED) */
		}
		c = mconn_slot(m);
		c->fd = fd;
		c->state = MC_READ;
		c->in_len = 0;
		c->accepted_ns = mono_ns();
		c->deadline_ns = c->accepted_ns + (uint64_t)METRICS_CONN_TIMEOUT_MS * 1000000u;
		/* Data may already be there: try at once. */
		mconn_read(c);
		mconn_write(c);
	}
}

/* Builds the poll set; returns its size and the poll timeout in ms. */
static nfds_t build_pollset(struct metrics_server *m, struct pollfd *pfd, int *idx,
			    int *timeout_ms)
{
	uint64_t now = mono_ns(), next = now + 1000000000u;
	nfds_t n = 2;

	pfd[0] = (struct pollfd){ .fd = m->wake_fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
	if (m->accept_resume_ns > now) {
		pfd[1].fd = -1; /* poll() skips negative fds */
		next = m->accept_resume_ns;
	}
	for (int i = 0; i < METRICS_MAX_CONNS; i++) {
		struct mconn *c = &m->conns[i];

		if (c->state == MC_FREE)
			continue;
		if (c->deadline_ns <= now) {
			mconn_close(c); /* out of time, whatever it was doing */
			continue;
		}
		if (c->deadline_ns < next)
			next = c->deadline_ns;
		pfd[n] = (struct pollfd){ .fd = c->fd,
					  .events = c->state == MC_WRITE ? POLLOUT : POLLIN };
		idx[n++] = i;
	}
	*timeout_ms = (int)((next - now + 999999u) / 1000000u);
	return n;
}

static void *metrics_thread(void *arg)
{
	struct metrics_server *m = arg;
	struct pollfd pfd[METRICS_MAX_CONNS + 2];
	int idx[METRICS_MAX_CONNS + 2];

	rcu_register_thread();
	for (;;) {
		int timeout_ms, rc;
		nfds_t n = build_pollset(m, pfd, idx, &timeout_ms);

		rc = poll(pfd, n, timeout_ms);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc <= 0)
			continue;
		if (pfd[0].revents)
			break;
		for (nfds_t i = 2; i < n; i++) {
			struct mconn *c = &m->conns[idx[i]];

			if (!pfd[i].revents || c->state == MC_FREE)
				continue;
			if (pfd[i].revents & (POLLERR | POLLNVAL)) {
				mconn_close(c);
				continue;
			}
			mconn_read(c);
			mconn_write(c);
		}
		if (pfd[1].revents & POLLIN)
			accept_burst(m);
	}
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		mconn_close(&m->conns[i]);
	rcu_unregister_thread();
	return NULL;
}

/* Splits "host:port" / "[v6]:port" into host and port strings. */
static int split_listen(const char *addr, char *host, size_t hostlen, char *port,
			size_t portlen)
{
	const char *colon, *h = addr;
	size_t hl;

	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = addr + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			return -EINVAL; /* bare IPv6 needs brackets */
		hl = (size_t)(colon - addr);
	}
	if (hl == 0 || hl >= hostlen || strlen(colon + 1) >= portlen || !colon[1])
		return -EINVAL;
	for (const char *q = colon + 1; *q; q++)
		if (*q < '0' || *q > '9')
			return -EINVAL;
	if (strtoul(colon + 1, NULL, 10) > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static int open_listener(const char *addr, int *port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], portstr[8];
	int fd, one = 1, rc;

	if (split_listen(addr, host, sizeof(host), portstr, sizeof(portstr))) {
		snprintf(err, errlen, "metrics.listen \"%s\": expected host:port or [ipv6]:port with a port 0-65535",
			 addr);
		return -EINVAL;
	}
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "metrics.listen \"%s\": cannot resolve %s: %s", addr, host,
			 gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto err_sys;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64))
		goto err_close;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						       : ((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(ai);
	return fd;
err_close:
	rc = -errno;
	close(fd);
	snprintf(err, errlen, "metrics: cannot listen on %s: %s (port in use? change metrics.listen)",
		 addr, strerror(-rc));
	freeaddrinfo(ai);
	return rc;
err_sys:
	rc = -errno;
	snprintf(err, errlen, "metrics: socket: %s", strerror(-rc));
	freeaddrinfo(ai);
	return rc;
}

struct metrics_server *metrics_start(const char *addr, char *err, size_t errlen)
{
	struct metrics_server *m;
	int rc;

	if (!addr || !*addr)
		addr = METRICS_DEFAULT_LISTEN;
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		m->conns[i].fd = -1;
	m->lfd = open_listener(addr, &m->port, err, errlen);
	if (m->lfd < 0)
		goto err_free;
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->wake_fd < 0) {
		snprintf(err, errlen, "metrics: eventfd: %s", strerror(errno));
		goto err_close_listen;
	}
	rc = pthread_create(&m->thread, NULL, metrics_thread, m);
	if (rc) {
		snprintf(err, errlen, "metrics: cannot start thread: %s", strerror(rc));
		goto err_close_wake;
	}
	return m;
err_close_wake:
	close(m->wake_fd);
err_close_listen:
	close(m->lfd);
err_free:
	free(m);
	return NULL;
}

void metrics_stop(struct metrics_server *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	if (write(m->wake_fd, &one, sizeof(one)) != sizeof(one))
		perror("metrics: eventfd write");
	pthread_join(m->thread, NULL);
	close(m->wake_fd);
	close(m->lfd);
	free(m);
}
