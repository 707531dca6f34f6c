/*
 * kfilter.h - the kernel filter sets of a config (pids, ports, health-check
 * paths) and the all-or-nothing switch of the BPF maps to them.
 *
 * The maps hold two generations of each set (include/ht_filter.h).  A
 * switch is planned as a list of map operations and then applied:
 *   1. delete the keys left in the inactive generation (by an earlier
 *      switch, or one that failed part-way),
 *   2. add the config's keys under the inactive generation,
 *   3. commit: publish the inactive generation's counts, then make it the
 *      active one with a single store.
 * No program reads the inactive generation, so a failure at any step
 * before the commit leaves the kernel filtering exactly as before, and the
 * commit itself cannot fail part-way.  Nothing is rolled back: the next
 * switch starts by deleting whatever the failed one left behind.
 *
 * No libbpf here: the maps are reached through struct kfilter_ops, which
 * capture.c implements with the skeleton and the tests with a fake that
 * fails at a chosen step.  Not thread-safe: one switch at a time.
 *
 * A program that read the old generation just before a commit finishes
 * with it in microseconds; its keys stay until the next switch deletes
 * them, and reloads are at least the main loop's 100 ms apart.
 */
#ifndef HT_KFILTER_H
#define HT_KFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "ht_filter.h"

struct ht_config;

enum kfilter_set { KF_PIDS = 0, KF_PORTS, KF_PATHS, KF_NSETS };

/* A key of any of the three maps (zero padded to the largest). */
union kfilter_key {
	struct ht_pid_key pid;
	struct ht_port_key port;
	struct ht_path_key path;
};

enum kfilter_kind { KF_OP_DEL = 1, KF_OP_ADD, KF_OP_COMMIT };

struct kfilter_op {
	uint8_t kind;          /* enum kfilter_kind */
	uint8_t set;           /* enum kfilter_set (DEL, ADD) */
	union kfilter_key key; /* DEL, ADD */
};

struct kfilter_plan {
	uint32_t gen;          /* the generation written, then made active */
	struct ht_filter_n n;  /* its entry counts */
	struct kfilter_op *ops;
	size_t n_ops, cap_ops;
};

/* The BPF maps as a switch sees them; every function returns 0 or -errno. */
struct kfilter_ops {
	uint32_t (*active)(void *ctx);   /* generation the programs use now */
	/* Calls fn for every key of the set's map (any generation) and stops
	 * at the first non-zero return, which it returns. */
	int (*each_key)(void *ctx, enum kfilter_set set,
			int (*fn)(void *arg, const union kfilter_key *key), void *arg);
	int (*del)(void *ctx, enum kfilter_set set, const union kfilter_key *key); /* -ENOENT: gone */
	int (*add)(void *ctx, enum kfilter_set set, const union kfilter_key *key);
	/* Publishes n as generation gen's counts, then makes gen active. */
	int (*commit)(void *ctx, uint32_t gen, const struct ht_filter_n *n);
};

/* Key bytes of a set's map, and the map's name. */
size_t kfilter_key_size(enum kfilter_set set);
const char *kfilter_map_name(enum kfilter_set set);

/*
 * Plans the switch to cfg's sets (NULL: no filters).  Returns 0, or -errno
 * with one line in err (a set larger than its map, a health path its key
 * cannot hold, listing the maps failed, out of memory); nothing is changed.
 */
int kfilter_plan(struct kfilter_plan *p, const struct kfilter_ops *o, void *ctx,
		 const struct ht_config *cfg, char *err, size_t errlen);
/*
 * Applies p's operations in order, stopping at the first failure: returns
 * 0 (gen is active), or -errno with the failed step and its reason in err
 * (the active generation, and so the kernel's filtering, unchanged).
 */
int kfilter_apply(const struct kfilter_plan *p, const struct kfilter_ops *o, void *ctx,
		  char *err, size_t errlen);
void kfilter_plan_free(struct kfilter_plan *p);
/* Plan, then apply: the kernel side of a reload. */
int kfilter_switch(const struct kfilter_ops *o, void *ctx, const struct ht_config *cfg,
		   char *err, size_t errlen);

#endif
