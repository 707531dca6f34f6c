/* pipeline.c - start, stop and free the pipeline's threads; see pipeline.h. */
#include "pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "sink/output.h"

static void pin_to_cpu(pthread_t th, int cpu)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n <= 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu % n, &set);
	pthread_setaffinity_np(th, sizeof(set), &set);
}

/*
 * Everything pipeline_start makes, pipeline_free frees: the shards (rings,
 * tables, RED tables, metadata caches, stats blocks), the readers' stats
 * blocks, loss queues and wake masks, the writer's stats block and the
 * pipeline itself.  pipeline_start fails through the same path: it stops the
 * threads it started, then pipeline_free frees whatever was made so far
 * (every field starts zeroed, and each free is a no-op on a zero one).
 */
struct pipeline *pipeline_start(const struct pipeline_opts *o, char *err, size_t errlen)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	int i, rc;

	if (!p)
		goto err_nomem;
	p->o = *o;
	if (p->o.n_readers < 1)
		p->o.n_readers = 1;
	if (p->o.n_shards < 1)
		p->o.n_shards = 1;
	if (p->o.n_shards > 64)
		p->o.n_shards = 64; /* the wake mask is 64 bits */
	if (!p->o.queue_bytes || (p->o.queue_bytes & (p->o.queue_bytes - 1)))
		p->o.queue_bytes = 4u << 20;
	p->writer_coalesce = output_is_regular(p->o.out);
	p->shards = calloc((size_t)p->o.n_shards, sizeof(*p->shards));
	p->reader_st = aligned_alloc(64, sizeof(*p->reader_st) * (size_t)p->o.n_readers);
	p->losses = calloc((size_t)p->o.n_readers, sizeof(*p->losses));
	p->wake = calloc((size_t)p->o.n_readers, sizeof(*p->wake));
	if (!p->shards || !p->reader_st || !p->losses || !p->wake)
		goto err_nomem;
	memset(p->reader_st, 0, sizeof(*p->reader_st) * (size_t)p->o.n_readers);
	for (i = 0; i < p->o.n_readers; i++)
		ht_stats_register(&p->reader_st[i], "reader", i);
	ht_stats_register(&p->writer_st, "writer", 0);
	for (i = 0; i < p->o.n_shards; i++)
		if (shard_setup(p, &p->shards[i], i))
			goto err_nomem;
	for (i = 0; i < p->o.n_shards; i++) {
		rc = pthread_create(&p->shards[i].th, NULL, shard_main, &p->shards[i]);
		if (rc) { /* pthread_create returns the error, errno is not set */
			snprintf(err, errlen, "cannot start shard thread %d: %s", i, strerror(rc));
			goto err_stop;
		}
		p->n_shards_started++;
		pthread_setname_np(p->shards[i].th, "ht-shard");
		if (p->o.pin_cpus)
			pin_to_cpu(p->shards[i].th, i);
	}
	rc = pthread_create(&p->writer_th, NULL, writer_main, p);
	if (rc) {
		snprintf(err, errlen, "cannot start the writer thread: %s", strerror(rc));
		goto err_stop;
	}
	p->writer_started = true;
	pthread_setname_np(p->writer_th, "ht-writer");
	return p;

err_nomem:
	snprintf(err, errlen, "out of memory setting up the pipeline");
err_stop:
	if (p)
		pipeline_stop(p); /* joins only the threads that were started */
	pipeline_free(p);
	return NULL;
}

uint64_t pipeline_stop(struct pipeline *p)
{
	if (p->n_shards_started == p->o.n_shards)
		dispatch_drain_losses(p); /* the shards are running: they make room */
	__atomic_store_n(&p->stopping, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < p->n_shards_started; i++) {
		unpark(&p->shards[i].pk);
		pthread_join(p->shards[i].th, NULL);
	}
	p->n_shards_started = 0;
	__atomic_store_n(&p->shards_done, 1, __ATOMIC_SEQ_CST);
	if (p->writer_started) {
		unpark(&p->writer_pk);
		pthread_join(p->writer_th, NULL);
		p->writer_started = false;
	}
	return p->written;
}

/* After pipeline_stop; the caller is registered with liburcu. */
void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	for (int i = 0; p->shards && i < p->o.n_shards; i++)
		shard_teardown(&p->shards[i]);
	free(p->shards);
	/* unregister before freeing: a scrape may be summing them right now */
	for (int i = 0; p->reader_st && i < p->o.n_readers; i++)
		ht_stats_unregister(&p->reader_st[i]);
	ht_stats_unregister(&p->writer_st);
	free(p->reader_st);
	free(p->losses);
	free(p->wake);
	free(p);
}

uint64_t pipeline_records_emitted(struct pipeline *p)
{
	uint64_t n = 0;

	for (int i = 0; i < p->o.n_shards; i++)
		n += ht_stat_get(&p->shards[i].st.c[HT_C_RECORDS_EMITTED]);
	return n;
}

uint64_t pipeline_events(struct pipeline *p)
{
	uint64_t n = 0;

	for (int r = 0; r < p->o.n_readers; r++)
		n += ht_stat_get(&p->reader_st[r].c[HT_C_EVENTS_RECEIVED]);
	return n;
}
