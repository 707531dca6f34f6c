/*
 * writer.c - the writer thread: one write(2) per batch, in shard order,
 * then each network sink's part of the batch handed to that sink (a
 * submit never blocks: the sink queues it for its own sender thread).
 */
#include <stdlib.h>

#include "internal.h"
#include "observe/metrics.h"
#include "sink/output.h"
#include "sink/sink.h"

/* Write one batch with one write(2) (no file: count it as written), hand
 * the sinks their parts, then account and free it. */
static void write_batch(struct pipeline *p, struct shard *s, struct batch *b)
{
	size_t bytes = batch_bytes(b, p->o.n_sinks); /* before the sinks take theirs */
	uint64_t t;

	if (!p->o.out)
		p->written += b->n;
	else if (output_write_batch(p->o.out, b->buf.p, b->buf.len, b->n) == 0)
		p->written += b->n;
	for (int i = 0; i < p->o.n_sinks; i++) {
		const struct sink *k = &p->o.sinks[i];

		if (b->sink[i].n)
			k->ops->submit(k->ctx, &b->sink[i].buf, b->sink[i].n);
	}
	t = ht_now_ns();
	for (uint32_t i = 0; i < b->n; i++)
		ht_stats_observe_latency(&p->writer_st, t > b->done_ns[i] ? t - b->done_ns[i] : 0);
	__atomic_sub_fetch(&s->inflight_bytes, bytes, __ATOMIC_RELEASE);
	batch_free(p, b);
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
	uint32_t spins = 0;
	int hb = metrics_thread_register("writer", 0);

	for (;;) {
		bool all_done = __atomic_load_n(&p->shards_done, __ATOMIC_ACQUIRE);
		uint32_t got = 0;

		for (int i = 0; i < p->o.n_shards; i++) {
			struct batch *b;

			while ((b = spsc_ptr_pop(&p->shards[i].out))) {
				write_batch(p, &p->shards[i], b);
				got++;
			}
		}
		metrics_thread_alive(hb);
		if (got) {
			spins = 0;
			continue;
		}
		if (all_done)
			break; /* shards finished before this pass: nothing more will come */
		if (++spins < 64)
			cpu_relax();
		else
			park(&p->writer_pk, 100000000ull, writer_has_input, p); /* 100 ms: heartbeat */
	}
	metrics_thread_unregister(hb);
	return NULL;
}

