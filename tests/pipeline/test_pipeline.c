/*
 * test_pipeline.c - the sharded pipeline with real threads: shard choice,
 * ordering by position across readers, a drain that loses nothing, and a
 * teardown that unregisters and frees everything; network sinks beside the
 * file (the same records, in the same order) or instead of it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <urcu.h>

#include "config/config.h"
#include "base/buf.h"
#include "base/stats.h"
#include "ht_event.h"
#include "observe/metrics.h"
#include "observe/red.h"
#include "sink/format.h"
#include "sink/output.h"
#include "sink/sink.h"
#include "pipeline/pipeline.h"

static char out_path[64];
static int event_clock; /* start_q's pipelines: replay's event clock */

/* A pipeline with the test's defaults; queue_wait_us < 0 waits without
 * bound (nothing dropped), 0 drops at once when a shard queue is full. */
static struct pipeline *start_q(struct output **out, int readers, int shards,
				size_t queue_bytes, int64_t queue_wait_us)
{
	char err[256];
	struct ht_config *c = ht_config_defaults();
	struct pipeline_opts o = {
		.n_readers = readers, .n_shards = shards, .batch_size = 64,
		.flush_interval_ms = 50, .idle_timeout_ms = 60000,
		.shard_memory_bytes = 64u << 20, .queue_bytes = queue_bytes,
		.queue_wait_us = queue_wait_us, .format = HT_FMT_NDJSON,
		.event_clock = event_clock,
	};
	struct pipeline *p;
	int fd;

	strcpy(out_path, "/tmp/ht-test-pipeline-XXXXXX");
	fd = mkstemp(out_path);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ht_config_set(c, "output.path", out_path, err, sizeof(err)), 0);
	ht_config_install(c);
	*out = output_open(c, NULL, err, sizeof(err));
	assert_non_null(*out);
	o.out = *out;
	p = pipeline_start(&o, err, sizeof(err));
	assert_non_null(p);
	return p;
}

static struct pipeline *start(struct output **out, int readers, int shards)
{
	return start_q(out, readers, shards, 1u << 16, -1);
}

static size_t count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[65536];
	size_t n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!needle || strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* One data event as the kernel writes it. */
static void data_ev(uint8_t *buf, size_t *len, const struct ht_conn_id *id, int dir,
		    uint64_t pos, const char *p, size_t n, uint64_t ts)
{
	struct ht_data_ev *ev = (struct ht_data_ev *)buf;

	memset(ev, 0, sizeof(*ev));
	ev->hdr.type = HT_EV_DATA;
	ev->hdr.dir = (uint8_t)dir;
	ev->hdr.role = HT_ROLE_SERVER;
	ev->hdr.ts_ns = ts;
	ev->hdr.conn = *id;
	ev->pos = pos;
	ev->len = ev->cap_len = ev->sys_len = (uint32_t)n;
	ev->tid = id->tgid;
	memcpy(ev->comm, "srv", 4);
	memcpy(ev->data, p, n);
	*len = sizeof(*ev) + n;
}

static void test_shard_choice_is_stable(void **state)
{
	struct output *out;
	struct pipeline *p = start(&out, 1, 4);
	int hist[4] = { 0 };

	for (uint32_t i = 0; i < 4000; i++) {
		struct ht_conn_id id = { .tgid = 100 + i % 7, .fd = (int32_t)i, .gen = i * 31ull };
		int s = pipeline_shard_of(p, &id);

		assert_true(s >= 0 && s < 4);
		assert_int_equal(s, pipeline_shard_of(p, &id)); /* same id, same shard */
		hist[s]++;
	}
	for (int s = 0; s < 4; s++) /* XXH3 spreads connections: 1000 +- 15% each */
		assert_true(hist[s] > 850 && hist[s] < 1150);
	pipeline_stop(p);
	pipeline_free(p);
	output_close(out);
	unlink(out_path);
}

/* Request events of each connection arrive through two readers, the later
 * half first: positions put them back in order. */
static void test_order_across_readers_and_drain(void **state)
{
	enum { CONNS = 300, TX = 20 };
	struct output *out;
	struct pipeline *p = start(&out, 2, 3);
	static uint8_t buf[4096];
	size_t len;
	uint64_t ts = 1000;

	for (int t = 0; t < TX; t++) {
		for (int c = 0; c < CONNS; c++) {
			struct ht_conn_id id = { .tgid = 4242, .fd = c, .gen = 7 };
			char req[128], resp[128];
			int qn = snprintf(req, sizeof(req), "GET /c%d/t%d HTTP/1.1\r\nHost: h\r\n\r\n", c, t);
			int rn = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
			uint64_t qpos = 0, rpos = 0;
			int half = qn / 2;

			/* every transaction on a connection has the same sizes, except the
			 * digits of c and t: compute positions from the previous ones */
			for (int k = 0; k < t; k++) {
				char tmp[128];

				qpos += (uint64_t)snprintf(tmp, sizeof(tmp), "GET /c%d/t%d HTTP/1.1\r\nHost: h\r\n\r\n", c, k);
				rpos += (uint64_t)rn;
			}
			data_ev(buf, &len, &id, HT_DIR_INGRESS, qpos + (uint64_t)half, req + half,
				(size_t)(qn - half), ts++);
			assert_int_equal(pipeline_dispatch(p, 1, buf, len), 0);
			data_ev(buf, &len, &id, HT_DIR_INGRESS, qpos, req, (size_t)half, ts++);
			assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
			data_ev(buf, &len, &id, HT_DIR_EGRESS, rpos, resp, (size_t)rn, ts++);
			assert_int_equal(pipeline_dispatch(p, c & 1, buf, len), 0);
		}
	}
	pipeline_reader_flush(p, 0);
	pipeline_reader_flush(p, 1);
	/* a malformed event is counted and dropped, never applied */
	data_ev(buf, &len, &(struct ht_conn_id){ 1, 1, 1 }, 0, 0, "x", 1, ts);
	assert_int_equal(pipeline_dispatch(p, 0, buf, len - 1), -1);
	assert_int_equal(pipeline_stop(p), CONNS * TX);
	assert_int_equal(pipeline_records_emitted(p), CONNS * TX);
	pipeline_free(p);
	output_close(out);
	assert_int_equal(count_lines(out_path, NULL), CONNS * TX);
	assert_int_equal(count_lines(out_path, "\"flags\":[]"), CONNS * TX);
	assert_int_equal(count_lines(out_path, "\"path\":\"/c299/t19\""), 1);
	unlink(out_path);
}

/* A network sink of the test: encodes like the NDJSON file (every
 * fail_every-th record fails, as out of memory would), collects what the
 * writer submits. */
struct test_sink {
	int fail_every;
	uint64_t encoded;            /* atomic: shards encode in parallel */
	struct ht_buf got;           /* writer thread only */
	uint64_t records, submits;
	bool closed;
};

static int ts_encode(void *ctx, const struct ht_record *r, struct ht_buf *out)
{
	struct test_sink *t = ctx;
	uint64_t n = __atomic_add_fetch(&t->encoded, 1, __ATOMIC_RELAXED);

	if (t->fail_every && n % (uint64_t)t->fail_every == 0)
		return -ENOMEM;
	return format_record(HT_FMT_NDJSON, r, out);
}

static void ts_submit(void *ctx, struct ht_buf *buf, uint32_t n)
{
	struct test_sink *t = ctx;

	assert_int_equal(ht_buf_put(&t->got, buf->p, buf->len), 0);
	ht_buf_free(buf); /* the sink owns it now */
	t->records += n;
	t->submits++;
}

static void ts_close(void *ctx, uint32_t drain_ms)
{
	((struct test_sink *)ctx)->closed = true;
}

static const struct sink_ops ts_ops = {
	.name = "test", .encode = ts_encode, .submit = ts_submit, .close = ts_close,
};

/* CONNS x TX GET transactions, one event each way, through reader 0. */
static void feed(struct pipeline *p, int conns, int tx)
{
	static uint8_t buf[4096];
	uint64_t ts = 1000;
	size_t len;

	for (int c = 0; c < conns; c++) {
		struct ht_conn_id id = { .tgid = 77, .fd = c, .gen = 3 };
		uint64_t qpos = 0, rpos = 0;

		for (int t = 0; t < tx; t++) {
			char req[128];
			const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
			int qn = snprintf(req, sizeof(req), "GET /s%d/t%d HTTP/1.1\r\nHost: h\r\n\r\n", c, t);

			data_ev(buf, &len, &id, HT_DIR_INGRESS, qpos, req, (size_t)qn, ts++);
			assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
			data_ev(buf, &len, &id, HT_DIR_EGRESS, rpos, resp, strlen(resp), ts++);
			assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
			qpos += (uint64_t)qn;
			rpos += strlen(resp);
		}
	}
	pipeline_reader_flush(p, 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *b = malloc(1 << 22);

	assert_non_null(f);
	assert_non_null(b);
	*len = fread(b, 1, 1 << 22, f);
	fclose(f);
	return b;
}

/* Two sinks beside the file: the first gets exactly the file's bytes, in
 * the same order; the second's failed encodes are counted and the rest
 * still delivered.  Then no file at all: the sink alone gets everything. */
static void test_sinks(void **state)
{
	enum { CONNS = 50, TX = 40, N = CONNS * TX };
	struct test_sink a = { 0 }, b = { .fail_every = 10 };
	struct sink sinks[2] = { { &ts_ops, &a }, { &ts_ops, &b } };
	struct pipeline_opts o = {
		.n_readers = 1, .n_shards = 2, .batch_size = 16, .flush_interval_ms = 50,
		.idle_timeout_ms = 60000, .shard_memory_bytes = 64u << 20, .queue_bytes = 1u << 16,
		.queue_wait_us = -1, .format = HT_FMT_NDJSON, .sinks = sinks, .n_sinks = 2,
	};
	uint64_t enc0 = ht_stats_sum(HT_C_DROP_SINK_ENCODE), enc;
	struct output *out;
	struct pipeline *p;
	char err[256];
	size_t flen;
	char *file;

	p = start(&out, 1, 1); /* for its output file and config */
	pipeline_stop(p);
	pipeline_free(p);
	o.out = out;
	p = pipeline_start(&o, err, sizeof(err));
	assert_non_null(p);
	feed(p, CONNS, TX);
	assert_int_equal(pipeline_stop(p), N);
	enc = ht_stats_sum(HT_C_DROP_SINK_ENCODE) - enc0;
	pipeline_free(p);
	output_close(out);
	file = slurp(out_path, &flen);
	assert_int_equal(count_lines(out_path, NULL), N);
	assert_int_equal(a.records, N);
	assert_int_equal(a.got.len, flen);
	assert_memory_equal(a.got.p, file, flen); /* the same records, the same order */
	assert_int_equal(b.records, N - N / 10);
	assert_int_equal(enc, N / 10);
	free(file);
	unlink(out_path);

	/* no file: the sink alone */
	ht_buf_free(&a.got);
	memset(&a, 0, sizeof(a));
	o.out = NULL;
	o.n_sinks = 1;
	p = pipeline_start(&o, err, sizeof(err));
	assert_non_null(p);
	feed(p, CONNS, TX);
	assert_int_equal(pipeline_stop(p), N);
	pipeline_free(p);
	assert_int_equal(a.records, N);
	ht_buf_free(&a.got);
	ht_buf_free(&b.got);
}

/* Waits (bounded, not timed: the shard sweeps every 10 ms) until the
 * correlator_pending gauge reads want; returns what it read last. */
static uint64_t wait_pending(struct pipeline *p, uint64_t want)
{
	uint64_t v = 0;

	for (int i = 0; i < 500 && (v = ht_stats_sum(HT_C_CORR_PENDING)) != want; i++) {
		pipeline_reader_flush(p, 0);
		usleep(10000);
	}
	return v;
}

/* http_tracer_correlator_pending reports requests waiting for a response. */
static void test_correlator_pending_gauge(void **state)
{
	static const char reqs[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
				   "GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char resp[] = "HTTP/1.1 204 No Content\r\n\r\n";
	struct ht_conn_id id = { .tgid = 4242, .fd = 9, .gen = 77 };
	uint8_t buf[512];
	size_t len;
	struct output *out;
	struct pipeline *p = start(&out, 1, 1);

	data_ev(buf, &len, &id, HT_DIR_INGRESS, 0, reqs, sizeof(reqs) - 1, 1000);
	assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
	assert_int_equal(wait_pending(p, 3), 3);
	data_ev(buf, &len, &id, HT_DIR_EGRESS, 0, resp, sizeof(resp) - 1, 2000);
	((struct ht_data_ev *)buf)->peer_pos = sizeof(reqs) - 1;
	assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
	assert_int_equal(wait_pending(p, 2), 2);
	pipeline_stop(p);
	assert_int_equal(ht_stats_sum(HT_C_CORR_PENDING), 0); /* drained at stop */
	pipeline_free(p);
	output_close(out);
}

/*
 * The loss invariant (README "Loss that adds up"), with the reader to shard
 * queue overflowing: every event received (and every loss notice a reader
 * made) is processed or dropped (by reason), and the holes the stream stage skipped are exactly the bytes
 * dropped in user space (no kernel loss, nothing uncaptured here).
 */
static void test_loss_adds_up(void **state)
{
	static char body[2000];
	struct ht_conn_id id = { .tgid = 4343, .fd = 5, .gen = 99 };
	static uint8_t buf[4096];
	const char *head = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n";
	uint64_t pos, before[HT_C_COUNT];
	size_t len;
	struct output *out;
	struct pipeline *p;

	for (int i = 0; i < HT_C_COUNT; i++)
		before[i] = ht_stats_sum((enum ht_counter)i);
	p = start_q(&out, 1, 1, 1u << 14, 0);
	memset(body, 'b', sizeof(body));
	data_ev(buf, &len, &id, HT_DIR_INGRESS, 0, head, strlen(head), 1000);
	while (pipeline_dispatch(p, 0, buf, len))
		usleep(1000); /* the head itself must get in */
	pos = strlen(head);
	for (int i = 0; i < 2000; i++, pos += sizeof(body)) {
		data_ev(buf, &len, &id, HT_DIR_INGRESS, pos, body, sizeof(body), 2000 + i);
		pipeline_dispatch(p, 0, buf, len);
		if (i % 64 == 0)
			pipeline_reader_flush(p, 0);
	}
	pipeline_reader_flush(p, 0);
	pipeline_stop(p);
#define D(c) (ht_stats_sum(c) - before[c])
	assert_true(D(HT_C_DROP_QUEUE_FULL) > 0); /* the test made the queue overflow */
	assert_int_equal(D(HT_C_EVENTS_RECEIVED) + D(HT_C_LOSS_NOTICES),
			 D(HT_C_EVENTS_PROCESSED) + D(HT_C_DROP_QUEUE_FULL) + D(HT_C_DROP_MALFORMED_EVENT));
	assert_int_equal(pos - strlen(head), 4000000); /* the whole body was sent */
	assert_int_equal(D(HT_C_BYTES_LOST), D(HT_C_BYTES_DROPPED) + D(HT_C_DROP_CONN_BUFFER));
#undef D
	assert_int_equal(count_lines(out_path, "\"gap\""), 1);
	pipeline_free(p);
	output_close(out);
	unlink(out_path);
}

struct registry_counts {
	size_t stats, red;
	int threads;
};

static struct registry_counts registry_counts(void)
{
	return (struct registry_counts){ ht_stats_registered(), red_registered(),
					 metrics_threads_registered() };
}

static void assert_counts_equal(struct registry_counts a, struct registry_counts b)
{
	assert_int_equal(a.stats, b.stats);
	assert_int_equal(a.red, b.red);
	assert_int_equal(a.threads, b.threads);
}

/* A metrics scrape running all along: it walks the registries while the
 * pipelines register and unregister (ASan sees any read of a freed block). */
static int scraper_stop;

static void *scraper(void *arg)
{
	unsigned long *scrapes = arg;

	rcu_register_thread();
	while (!__atomic_load_n(&scraper_stop, __ATOMIC_ACQUIRE)) {
		struct ht_buf b = { 0 };

		assert_int_equal(metrics_render(&b), 0);
		ht_buf_free(&b);
		(*scrapes)++;
	}
	rcu_unregister_thread();
	return NULL;
}

/* Start and stop 100 pipelines, each fed one exchange: every one of them
 * unregisters all it registered, and (LeakSanitizer, at exit) frees all it
 * made: shards, rings, tables, RED tables, metadata caches, stats blocks. */
static void test_start_stop_frees_everything(void **state)
{
	struct registry_counts before = registry_counts();
	static uint8_t buf[4096];
	unsigned long scrapes = 0;
	pthread_t scr;
	char err[256];
	size_t len;

	assert_int_equal(pthread_create(&scr, NULL, scraper, &scrapes), 0);
	for (int k = 0; k < 100; k++) {
		struct output *out;
		struct pipeline *p = start(&out, 1 + k % 2, 1 + k % 3);
		struct ht_conn_id id = { .tgid = 4242, .fd = k, .gen = 9 };
		static const char req[] = "GET /again HTTP/1.1\r\nHost: h\r\n\r\n";
		static const char resp[] = "HTTP/1.1 204 No Content\r\n\r\n";
		struct registry_counts running = registry_counts();

		assert_true(running.stats > before.stats);
		assert_true(running.red > before.red);
		data_ev(buf, &len, &id, HT_DIR_INGRESS, 0, req, sizeof(req) - 1, 10);
		assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
		data_ev(buf, &len, &id, HT_DIR_EGRESS, 0, resp, sizeof(resp) - 1, 20);
		assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
		pipeline_reader_flush(p, 0);
		assert_int_equal(pipeline_stop(p), 1);
		pipeline_free(p);
		assert_counts_equal(registry_counts(), before);
		output_close(out);
		assert_int_equal(count_lines(out_path, "\"path\":\"/again\""), 1);
		unlink(out_path);
	}
	/* live mode (metadata caches) and a start that fails half way through
	 * the shards (a ring too large to allocate): the unwind frees it all */
	for (int k = 0; k < 2; k++) {
		struct pipeline_opts o = {
			.n_readers = 2, .n_shards = 3, .batch_size = 8, .flush_interval_ms = 50,
			.idle_timeout_ms = 60000, .shard_memory_bytes = 1u << 20,
			.queue_bytes = k ? (size_t)1 << 44 : 1u << 16, .queue_wait_us = -1,
			.format = HT_FMT_NDJSON, .lookup_metadata = 1,
		};
		struct pipeline *p = pipeline_start(&o, err, sizeof(err));

		if (k) {
			assert_null(p);
			assert_non_null(strstr(err, "out of memory"));
		} else {
			assert_non_null(p);
			assert_int_equal(pipeline_stop(p), 0);
			pipeline_free(p);
		}
		assert_counts_equal(registry_counts(), before);
	}
	__atomic_store_n(&scraper_stop, 1, __ATOMIC_RELEASE);
	pthread_join(scr, NULL);
	assert_true(scrapes > 0);
}

/* The ring of the failing start is larger than ASan lets a program allocate:
 * make that a NULL return (as without ASan) instead of a report. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

/* Waits (bounded, not timed) until the shards have applied n more events
 * than before. */
static void wait_processed(struct pipeline *p, int r, uint64_t before, uint64_t n)
{
	for (int i = 0; i < 500 && ht_stats_sum(HT_C_EVENTS_PROCESSED) < before + n; i++) {
		pipeline_reader_flush(p, r);
		usleep(10000);
	}
	assert_true(ht_stats_sum(HT_C_EVENTS_PROCESSED) >= before + n);
}

/* Issue 12 (conn_buffer drops at the default settings): one busy keep-alive
 * connection whose events came through another CPU's ring ahead of its
 * first transaction.  600 transactions of 1 KiB responses wait behind that
 * hole: 700 KB, far below the shard's per-direction byte cap, so none may be
 * evicted; before, the cap of 256 out-of-order segments evicted most. */
static void test_small_events_behind_a_hole_are_kept(void **state)
{
	enum { TX = 600, BODY = 1024 };
	struct ht_conn_id id = { .tgid = 4343, .fd = 5, .gen = 9 };
	static uint8_t buf[4096];
	static char resp[BODY + 64];
	struct output *out;
	struct pipeline *p = start(&out, 2, 1);
	uint64_t drops = ht_stats_sum(HT_C_DROP_CONN_BUFFER), done = ht_stats_sum(HT_C_EVENTS_PROCESSED);
	int rn = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BODY);
	size_t len;

	memset(resp + rn, 'r', BODY);
	rn += BODY;
	for (int pass = 1; pass >= 0; pass--) { /* transactions 1.. first (reader 1), then 0 */
		for (int t = pass; t < (pass ? TX : 1); t++) {
			char req[64];
			int qn = snprintf(req, sizeof(req), "GET /t%03d HTTP/1.1\r\nHost: h\r\n\r\n", t);

			data_ev(buf, &len, &id, HT_DIR_INGRESS, (uint64_t)(t * qn), req, (size_t)qn, 1000 + 2 * t);
			assert_int_equal(pipeline_dispatch(p, pass, buf, len), 0);
			data_ev(buf, &len, &id, HT_DIR_EGRESS, (uint64_t)t * (uint64_t)rn, resp, (size_t)rn,
				1001 + 2 * t);
			assert_int_equal(pipeline_dispatch(p, pass, buf, len), 0);
		}
		if (pass)
			wait_processed(p, 1, done, 2 * (TX - 1)); /* they wait behind the hole */
	}
	pipeline_reader_flush(p, 0);
	assert_int_equal(pipeline_stop(p), TX);
	assert_int_equal(ht_stats_sum(HT_C_DROP_CONN_BUFFER) - drops, 0);
	pipeline_free(p);
	output_close(out);
	assert_int_equal(count_lines(out_path, "\"flags\":[\"resp_body_truncated\"]") +
			 count_lines(out_path, "\"flags\":[]"), TX);
	unlink(out_path);
}

/*
 * Into a regular file the writer gathers batches (up to 1 MiB) and sleeps
 * until the oldest is flushIntervalMs old: a few KB of records must still
 * reach the file while the pipeline runs, not only at shutdown.  Waits up
 * to 10 s (not timed: 50 ms flushes, polled).
 */
static void test_gathered_records_reach_the_file(void **state)
{
	enum { CONNS = 10, TX = 30, N = CONNS * TX };
	struct output *out;
	struct pipeline *p = start(&out, 1, 2);
	size_t lines = 0;

	(void)state;
	feed(p, CONNS, TX);
	for (int i = 0; i < 1000 && (lines = count_lines(out_path, NULL)) < N; i++) {
		pipeline_reader_flush(p, 0);
		usleep(10000);
	}
	assert_int_equal(lines, N);
	assert_int_equal(pipeline_stop(p), N);
	pipeline_free(p);
	output_close(out);
	assert_int_equal(count_lines(out_path, NULL), N);
	unlink(out_path);
}

/* Replay runs connection timeouts on the events' clock: a gap filled after
 * 250 ms of wall time but 1 us of event time is not given up on (the wall
 * clock's 100 ms reorder timeout would have), and a connection idle for
 * 61 s of event time expires at once, though no wall time passed. */
static void test_event_clock_ignores_replay_speed(void **state)
{
	struct ht_conn_id a = { .tgid = 4444, .fd = 3, .gen = 1 }, b = a, c = a;
	const char *req = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	size_t qn = strlen(req), half = qn / 2, len;
	static uint8_t buf[4096];
	struct output *out;
	struct pipeline *p;
	uint64_t done = ht_stats_sum(HT_C_EVENTS_PROCESSED);
	uint64_t expired = ht_stats_sum(HT_C_CONNS_EXPIRED);

	b.fd = 4;
	c.fd = 5;
	event_clock = 1;
	p = start(&out, 1, 1);
	event_clock = 0;
	data_ev(buf, &len, &a, HT_DIR_INGRESS, half, req + half, qn - half, 1000);
	assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
	wait_processed(p, 0, done, 1);
	usleep(250000);
	data_ev(buf, &len, &a, HT_DIR_INGRESS, 0, req, half, 1001);
	assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
	data_ev(buf, &len, &a, HT_DIR_EGRESS, 0, resp, strlen(resp), 2000);
	assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
	data_ev(buf, &len, &b, HT_DIR_INGRESS, 0, req, qn, 3000);
	assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
	data_ev(buf, &len, &c, HT_DIR_INGRESS, 0, req, qn, 3000 + 61000000000ull);
	assert_int_equal(pipeline_dispatch(p, 0, buf, len), 0);
	wait_processed(p, 0, done, 5);
	assert_int_equal(ht_stats_sum(HT_C_CONNS_EXPIRED) - expired, 2); /* a and b */
	assert_int_equal(pipeline_stop(p), 3);
	pipeline_free(p);
	output_close(out);
	assert_int_equal(count_lines(out_path, "\"path\":\"/x\""), 3);
	assert_int_equal(count_lines(out_path, "\"status\":200"), 1);
	assert_int_equal(count_lines(out_path, "\"latency_ns\":999,"), 1);
	unlink(out_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shard_choice_is_stable),
		cmocka_unit_test(test_order_across_readers_and_drain),
		cmocka_unit_test(test_correlator_pending_gauge),
		cmocka_unit_test(test_loss_adds_up),
		cmocka_unit_test(test_start_stop_frees_everything),
		cmocka_unit_test(test_small_events_behind_a_hole_are_kept),
		cmocka_unit_test(test_sinks),
		cmocka_unit_test(test_gathered_records_reach_the_file),
		cmocka_unit_test(test_event_clock_ignores_replay_speed),
	};
	int rc;

	rcu_register_thread();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	ht_config_install(NULL);
	rcu_unregister_thread();
	return rc;
}
