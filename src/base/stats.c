/* stats.c - registry and latency histogram of per-thread counters. */
#include "stats.h"

#include <pthread.h>

const double ht_lat_bounds_s[HT_LAT_BUCKETS] = {
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 1e300 /* +Inf */
};

/*
 * The registry: a singly linked list through next_registered, guarded by
 * registry_lock.  It is cold: written when a pipeline (or the output) starts
 * and stops, read once per scrape by the metrics thread.  The data path
 * never takes the lock: a thread only bumps counters in its own block.
 *
 * A scrape walks the list with the lock held (ht_stats_foreach), and
 * ht_stats_unregister unlinks under the same lock, so once unregister has
 * returned no scrape is inside the block nor can reach it again, and the
 * owner may free it.  (RCU would keep the scrape lock-free too, but would
 * need every reader registered with liburcu and a grace period per
 * unregister; a scrape holding a mutex for a few hundred loads costs nothing
 * here, and the lock is the same discipline as the RED registry in
 * observe/red.c.)
 */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ht_stats *registry_head;
static size_t registry_n;

void ht_stats_observe_latency(struct ht_stats *st, uint64_t ns)
{
	double s = (double)ns / 1e9;
	int i = 0;

	while (i < HT_LAT_BUCKETS - 1 && s > ht_lat_bounds_s[i])
		i++;
	ht_stat_add(&st->lat_bucket[i], 1);
	ht_stat_add(&st->lat_count, 1);
	ht_stat_add(&st->lat_sum_ns, ns);
}

void ht_stats_register(struct ht_stats *st, const char *owner, int index)
{
	pthread_mutex_lock(&registry_lock);
	for (struct ht_stats *q = registry_head; q; q = q->next_registered) {
		if (q == st) { /* twice is harmless: keep one link */
			pthread_mutex_unlock(&registry_lock);
			return;
		}
	}
	st->owner = owner;
	st->index = index;
	st->next_registered = registry_head;
	registry_head = st;
	registry_n++;
	pthread_mutex_unlock(&registry_lock);
}

void ht_stats_unregister(struct ht_stats *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&registry_lock);
	for (struct ht_stats **pp = &registry_head; *pp; pp = &(*pp)->next_registered) {
		if (*pp == st) {
			*pp = st->next_registered;
			st->next_registered = NULL;
			registry_n--;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
}

void ht_stats_foreach(void (*fn)(const struct ht_stats *st, void *ctx), void *ctx)
{
	pthread_mutex_lock(&registry_lock);
	for (struct ht_stats *st = registry_head; st; st = st->next_registered)
		fn(st, ctx);
	pthread_mutex_unlock(&registry_lock);
}

size_t ht_stats_registered(void)
{
	size_t n;

	pthread_mutex_lock(&registry_lock);
	n = registry_n;
	pthread_mutex_unlock(&registry_lock);
	return n;
}

struct sum_ctx {
	enum ht_counter ctr;
	uint64_t sum;
};

static void add_one(const struct ht_stats *st, void *ctx)
{
	struct sum_ctx *s = ctx;

	s->sum += ht_stat_get(&st->c[s->ctr]);
}

uint64_t ht_stats_sum(enum ht_counter ctr)
{
	struct sum_ctx s = { ctr, 0 };

	ht_stats_foreach(add_one, &s);
	return s.sum;
}
