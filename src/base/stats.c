/* stats.c - registry and latency histogram of per-thread counters. */
#include "stats.h"

const double ht_lat_bounds_s[HT_LAT_BUCKETS] = {
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 1e300 /* +Inf */
};

static struct ht_stats *registry_head;

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
	struct ht_stats *head;

	st->owner = owner;
	st->index = index;
	head = __atomic_load_n(&registry_head, __ATOMIC_ACQUIRE);
	do {
		st->next_registered = head;
	} while (!__atomic_compare_exchange_n(&registry_head, &head, st, false,
					      __ATOMIC_RELEASE, __ATOMIC_ACQUIRE));
}

struct ht_stats *ht_stats_first(void)
{
	return __atomic_load_n(&registry_head, __ATOMIC_ACQUIRE);
}

uint64_t ht_stats_sum(enum ht_counter ctr)
{
	uint64_t sum = 0;

	for (struct ht_stats *st = ht_stats_first(); st; st = st->next_registered)
		sum += ht_stat_get(&st->c[ctr]);
	return sum;
}
