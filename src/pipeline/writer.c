/*
 * writer.c - the writer thread: batches taken from the shards' rings in
 * shard order and written to the file output together, one writev(2) for
 * up to WRITER_COALESCE bytes, then freed; each network sink's part of a
 * batch is handed to that sink as soon as the batch arrives (a submit
 * never blocks: the sink queues it for its own sender thread).
 *
 * Into a regular file the writer holds batches until WRITER_COALESCE bytes
 * are queued (all encodings: what counts against the shards' budgets), or the oldest held batch's first record is flushIntervalMs
 * old: fewer, larger writes cost ext4 less per byte (bench/bench_write.c).
 * Pipes, stdout and the no-file case get each batch at once.  A gathering
 * writer sleeps until its oldest batch is due; shards wake it only for what
 * it must see earlier (shard.c, wake_writer).
 */
#include "internal.h"
#include "observe/metrics.h"
#include "sink/output.h"
#include "sink/sink.h"

#define WRITER_HOLD_MAX 64         /* batches gathered at most */
#define WRITER_PARK_NS 100000000ull /* 100 ms: heartbeat */

/* Batches taken from the shards and not yet written. */
struct held {
	struct batch *b[WRITER_HOLD_MAX];
	struct shard *s[WRITER_HOLD_MAX];
	size_t bytes[WRITER_HOLD_MAX]; /* each batch's share of its shard's budget */
	size_t held_bytes;             /* the sum of bytes[] */
	uint64_t deadline_ns;          /* the oldest one's first record + flushIntervalMs */
	int n;
};

/* Take a batch: the sinks get their parts now, the file's waits in h. */
static void hold_batch(struct pipeline *p, struct held *h, struct shard *s, struct batch *b)
{
	uint64_t dl = b->first_ns + (uint64_t)p->o.flush_interval_ms * 1000000ull;

	h->bytes[h->n] = batch_bytes(b, p->o.n_sinks); /* before the sinks take theirs */
	for (int i = 0; i < p->o.n_sinks; i++) {
		const struct sink *k = &p->o.sinks[i];

		if (b->sink[i].n)
			k->ops->submit(k->ctx, &b->sink[i].buf, b->sink[i].n);
	}
	if (!h->n || dl < h->deadline_ns)
		h->deadline_ns = dl;
	h->held_bytes += h->bytes[h->n];
	h->b[h->n] = b;
	h->s[h->n++] = s;
}

/* Write the held batches (no file: count them as written), then account
 * and free them. */
static void write_held(struct pipeline *p, struct held *h)
{
	struct output_batch v[WRITER_HOLD_MAX];
	uint64_t t;

	if (!p->o.out) {
		for (int i = 0; i < h->n; i++)
			p->written += h->b[i]->n;
	} else {
		for (int i = 0; i < h->n; i++)
			v[i] = (struct output_batch){ h->b[i]->buf.p, h->b[i]->buf.len, h->b[i]->n };
		output_write_batches(p->o.out, v, h->n, &p->written);
	}
	t = ht_now_ns();
	for (int i = 0; i < h->n; i++) {
		struct batch *b = h->b[i];

		for (uint32_t k = 0; k < b->n; k++)
			ht_stats_observe_latency(&p->writer_st, t > b->done_ns[k] ? t - b->done_ns[k] : 0);
		__atomic_sub_fetch(&h->s[i]->inflight_bytes, h->bytes[i], __ATOMIC_RELEASE);
		batch_free(p, b);
	}
	if (p->writer_coalesce)
		__atomic_sub_fetch(&p->writer_pending, h->held_bytes, __ATOMIC_ACQ_REL);
	h->n = 0;
	h->held_bytes = 0;
}

static bool writer_has_input(void *arg)
{
	struct pipeline *p = arg;

	for (int i = 0; i < p->o.n_shards; i++)
		if (spsc_ptr_used(&p->shards[i].out))
			return true;
	return __atomic_load_n(&p->shards_done, __ATOMIC_ACQUIRE);
}

void *writer_main(void *arg)
{
	struct pipeline *p = arg;
	bool coalesce = p->writer_coalesce;
	struct held held = { .n = 0 }, *h = &held;
	uint32_t spins = 0;
	int hb = metrics_thread_register("writer", 0);

	for (;;) {
		bool all_done = __atomic_load_n(&p->shards_done, __ATOMIC_ACQUIRE);
		uint64_t now = 0, wait = WRITER_PARK_NS;
		uint32_t got = 0;

		for (int i = 0; i < p->o.n_shards; i++) {
			struct batch *b;

			while (h->n < WRITER_HOLD_MAX && (b = spsc_ptr_pop(&p->shards[i].out))) {
				hold_batch(p, h, &p->shards[i], b);
				got++;
				if (!coalesce)
					write_held(p, h);
			}
		}
		/* the clock only when something came or before sleeping */
		if (h->n && (got || spins >= 63 || all_done)) {
			now = ht_now_ns();
			if (h->held_bytes >= WRITER_COALESCE || h->n == WRITER_HOLD_MAX || all_done ||
			    now >= h->deadline_ns)
				write_held(p, h);
			else if (h->deadline_ns - now < wait)
				wait = h->deadline_ns - now;
		}
		metrics_thread_alive(hb);
		if (got) {
			spins = 0;
			continue;
		}
		if (all_done)
			break; /* shards finished before this pass: nothing more will come */
		if (++spins < 64) {
			cpu_relax();
		} else {
			park(&p->writer_pk, wait, writer_has_input, p);
			spins = 63; /* after a sleep: check the due time at once */
		}
	}
	metrics_thread_unregister(hb);
	return NULL;
}
