/* test_kfilter.c - the all-or-nothing switch of the kernel filter maps
 * (src/source/kfilter.c) against a fake of the maps that fails at a chosen
 * step, and a reload through it (config.c's ht_config_reload_apply): a
 * failure at any step leaves the kernel's filtering and the installed
 * config as they were. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <urcu.h>

#include "config/config.h"
#include "source/kfilter.h"

/* ---- the fake maps: each holds two generations, like the BPF maps */

#define FAKE_KEYS (2 * HT_PIDS_MAX)
_Static_assert(HT_PORTS_MAX <= HT_PIDS_MAX && HT_HEALTH_PATHS_MAX <= HT_PIDS_MAX, "FAKE_KEYS");

struct fake {
	uint32_t gen;                      /* filter_gen */
	struct ht_filter_n n[2];           /* filter_n */
	union kfilter_key keys[KF_NSETS][FAKE_KEYS];
	size_t nkeys[KF_NSETS];
	int steps;                         /* del/add/commit calls so far */
	int fail_at;                       /* call that fails (0-based); -1: none */
	int fail_list;                     /* each_key fails with -EPERM */
};

static const size_t fake_cap[KF_NSETS] = {
	[KF_PIDS] = 2 * HT_PIDS_MAX, [KF_PORTS] = 2 * HT_PORTS_MAX,
	[KF_PATHS] = 2 * HT_HEALTH_PATHS_MAX,
};

static long fake_find(const struct fake *f, enum kfilter_set set, const union kfilter_key *k)
{
	for (size_t i = 0; i < f->nkeys[set]; i++)
		if (!memcmp(&f->keys[set][i], k, kfilter_key_size(set)))
			return (long)i;
	return -1;
}

/* Counts a mutating call; returns -ENOSPC when it is the one to fail. */
static int fake_step(struct fake *f)
{
	return f->steps++ == f->fail_at ? -ENOSPC : 0;
}

static uint32_t fake_active(void *ctx)
{
	return ((struct fake *)ctx)->gen;
}

static int fake_each_key(void *ctx, enum kfilter_set set,
			 int (*fn)(void *arg, const union kfilter_key *key), void *arg)
{
	struct fake *f = ctx;

	if (f->fail_list)
		return -EPERM;
	for (size_t i = 0; i < f->nkeys[set]; i++) {
		int rc = fn(arg, &f->keys[set][i]);

		if (rc)
			return rc;
	}
	return 0;
}

static int fake_del(void *ctx, enum kfilter_set set, const union kfilter_key *key)
{
	struct fake *f = ctx;
	long i = fake_find(f, set, key);
	int rc = fake_step(f);

	if (rc)
		return rc;
	if (i < 0)
		return -ENOENT;
	f->keys[set][i] = f->keys[set][--f->nkeys[set]];
	return 0;
}

static int fake_add(void *ctx, enum kfilter_set set, const union kfilter_key *key)
{
	struct fake *f = ctx;
	int rc = fake_step(f);

	if (rc)
		return rc;
	if (fake_find(f, set, key) >= 0)
		return 0;
	if (f->nkeys[set] == fake_cap[set])
		return -E2BIG;
	memset(&f->keys[set][f->nkeys[set]], 0, sizeof(union kfilter_key));
	memcpy(&f->keys[set][f->nkeys[set]++], key, kfilter_key_size(set));
	return 0;
}

static int fake_commit(void *ctx, uint32_t gen, const struct ht_filter_n *n)
{
	struct fake *f = ctx;
	int rc = fake_step(f);

	if (rc)
		return rc;
	f->n[gen & 1] = *n;
	f->gen = gen & 1;
	return 0;
}

static const struct kfilter_ops fake_ops = {
	.active = fake_active,
	.each_key = fake_each_key,
	.del = fake_del,
	.add = fake_add,
	.commit = fake_commit,
};

static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->fail_at = -1;
	return f;
}

/* ---- what the kernel filters with: the active generation */

static size_t fake_gen_keys(const struct fake *f, enum kfilter_set set, uint32_t gen)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nkeys[set]; i++)
		n += (set == KF_PORTS ? f->keys[set][i].port.gen : f->keys[set][i].pid.gen) == gen;
	return n;
}

/* The active generation of a and b is the same, with the same keys and counts. */
static void assert_same_filtering(const struct fake *a, const struct fake *b)
{
	assert_int_equal(a->gen, b->gen);
	assert_memory_equal(&a->n[a->gen], &b->n[b->gen], sizeof(struct ht_filter_n));
	for (int set = 0; set < KF_NSETS; set++) {
		size_t n = fake_gen_keys(a, (enum kfilter_set)set, a->gen);

		assert_int_equal(fake_gen_keys(b, (enum kfilter_set)set, b->gen), n);
		for (size_t i = 0; i < a->nkeys[set]; i++) {
			const union kfilter_key *k = &a->keys[set][i];

			if ((set == KF_PORTS ? k->port.gen : k->pid.gen) == a->gen)
				assert_true(fake_find(b, (enum kfilter_set)set, k) >= 0);
		}
	}
}

static bool fake_has_pid(const struct fake *f, uint32_t pid)
{
	union kfilter_key k;

	memset(&k, 0, sizeof(k));
	k.pid.gen = f->gen;
	k.pid.tgid = pid;
	return fake_find(f, KF_PIDS, &k) >= 0;
}

static bool fake_has_path(const struct fake *f, const char *path)
{
	union kfilter_key k;

	memset(&k, 0, sizeof(k));
	k.path.gen = f->gen;
	memcpy(k.path.path, path, strlen(path));
	return fake_find(f, KF_PATHS, &k) >= 0;
}

/* ---- configs */

static struct ht_config *cfg_with(const char *pids, const char *ports, const char *paths)
{
	struct ht_config *c = ht_config_defaults();
	char err[512], one[HT_PATH_MAX];

	assert_non_null(c);
	if (pids && ht_config_set(c, "filtering.kernel.pids", pids, err, sizeof(err)))
		fail_msg("%s", err);
	if (ports && ht_config_set(c, "filtering.kernel.excludePorts", ports, err, sizeof(err)))
		fail_msg("%s", err);
	for (const char *p = paths; p && *p;) {
		size_t n = strcspn(p, ",");

		memcpy(one, p, n);
		one[n] = '\0';
		if (ht_config_set(c, "filtering.kernel.healthCheckPaths", one, err, sizeof(err)))
			fail_msg("%s", err);
		p += n + (p[n] == ',');
	}
	return c;
}

/* ---- tests */

static void test_switch(void **state)
{
	struct fake *f = fake_new();
	struct ht_config *a = cfg_with("10,11,12", "8080", "/healthz,/readyz");
	struct ht_config *b = cfg_with("20", NULL, "/livez");
	char err[512];

	/* the first fill: generation 1 becomes active */
	assert_int_equal(kfilter_switch(&fake_ops, f, a, err, sizeof(err)), 0);
	assert_int_equal(f->gen, 1);
	assert_int_equal(f->n[1].pids, 3);
	assert_int_equal(f->n[1].ports, 1);
	assert_int_equal(f->n[1].paths, 2);
	assert_true(fake_has_pid(f, 11));
	assert_true(fake_has_path(f, "/readyz"));
	/* the next one writes generation 0; generation 1 stays until the one after */
	assert_int_equal(kfilter_switch(&fake_ops, f, b, err, sizeof(err)), 0);
	assert_int_equal(f->gen, 0);
	assert_int_equal(f->n[0].pids, 1);
	assert_int_equal(f->n[0].ports, 0);
	assert_int_equal(f->n[0].paths, 1);
	assert_true(fake_has_pid(f, 20));
	assert_false(fake_has_pid(f, 11));
	assert_int_equal(fake_gen_keys(f, KF_PIDS, 1), 3);
	/* and back: the stale generation 1 is cleared first */
	assert_int_equal(kfilter_switch(&fake_ops, f, b, err, sizeof(err)), 0);
	assert_int_equal(f->gen, 1);
	assert_int_equal(fake_gen_keys(f, KF_PIDS, 1), 1);
	assert_int_equal(fake_gen_keys(f, KF_PORTS, 1), 0);
	/* no config: every filter off */
	assert_int_equal(kfilter_switch(&fake_ops, f, NULL, err, sizeof(err)), 0);
	assert_int_equal(f->n[f->gen].pids + f->n[f->gen].ports + f->n[f->gen].paths, 0);
	ht_config_free(a);
	ht_config_free(b);
	free(f);
}

/* A failure at every step of a switch, in turn: the kernel keeps filtering
 * with the old sets, the error names the step, and a retry succeeds. */
static void test_fail_at_every_step(void **state)
{
	struct ht_config *old = cfg_with("10,11,12", "8080,9090", "/healthz");
	struct ht_config *junk = cfg_with("30,31", "7", "/junk");
	struct ht_config *next = cfg_with("11,40", "443", "/livez,/readyz");
	struct fake *base = fake_new(), *f = fake_new();
	struct kfilter_plan p;
	char err[512];
	size_t n_ops;

	/* junk in generation 1, old active in generation 0: the plan below
	 * deletes stale keys, adds new ones and commits */
	assert_int_equal(kfilter_switch(&fake_ops, base, junk, err, sizeof(err)), 0);
	assert_int_equal(kfilter_switch(&fake_ops, base, old, err, sizeof(err)), 0);
	assert_int_equal(base->gen, 0);
	base->steps = 0;
	assert_int_equal(kfilter_plan(&p, &fake_ops, base, next, err, sizeof(err)), 0);
	n_ops = p.n_ops;
	assert_int_equal(n_ops, 4 /* stale */ + 5 /* new */ + 1 /* commit */);
	kfilter_plan_free(&p);

	for (size_t n = 0; n < n_ops; n++) {
		*f = *base;
		f->fail_at = (int)n;
		err[0] = '\0';
		assert_int_equal(kfilter_switch(&fake_ops, f, next, err, sizeof(err)), -ENOSPC);
		assert_non_null(strstr(err, "No space left on device"));
		{
			char step[64];

			snprintf(step, sizeof(step), "(step %zu of %zu)", n + 1, n_ops);
			assert_non_null(strstr(err, step));
		}
		assert_same_filtering(f, base);
		assert_true(fake_has_pid(f, 12));
		assert_false(fake_has_pid(f, 40));
		/* the retry cleans up what the failed one left and switches */
		f->fail_at = -1;
		assert_int_equal(kfilter_switch(&fake_ops, f, next, err, sizeof(err)), 0);
		assert_int_equal(f->gen, 1);
		assert_true(fake_has_pid(f, 40));
		assert_false(fake_has_pid(f, 12));
		assert_int_equal(fake_gen_keys(f, KF_PIDS, 1), 2);
		assert_int_equal(fake_gen_keys(f, KF_PATHS, 1), 2);
	}
	ht_config_free(old);
	ht_config_free(junk);
	ht_config_free(next);
	free(base);
	free(f);
}

/* Both generations full: a switch between two configs at the limits fits. */
static void test_full_generations(void **state)
{
	struct ht_config *a = ht_config_defaults(), *b = ht_config_defaults();
	struct fake *f = fake_new();
	char err[512], v[16];

	assert_non_null(a);
	assert_non_null(b);
	for (int i = 1; i <= HT_PIDS_MAX; i++) {
		snprintf(v, sizeof(v), "%d", i);
		assert_int_equal(ht_config_set(a, "filtering.kernel.pids", v, err, sizeof(err)), 0);
		snprintf(v, sizeof(v), "%d", HT_PIDS_MAX + i);
		assert_int_equal(ht_config_set(b, "filtering.kernel.pids", v, err, sizeof(err)), 0);
	}
	assert_int_equal(kfilter_switch(&fake_ops, f, a, err, sizeof(err)), 0);
	assert_int_equal(kfilter_switch(&fake_ops, f, b, err, sizeof(err)), 0);
	assert_int_equal(f->nkeys[KF_PIDS], 2 * HT_PIDS_MAX);
	assert_int_equal(kfilter_switch(&fake_ops, f, a, err, sizeof(err)), 0);
	assert_int_equal(f->n[f->gen].pids, HT_PIDS_MAX);
	assert_true(fake_has_pid(f, 1));
	ht_config_free(a);
	ht_config_free(b);
	free(f);
}

/* What the config refuses is refused here too (configs built by hand):
 * nothing is applied, nothing dropped. */
static void test_plan_refuses(void **state)
{
	struct ht_config *c = ht_config_defaults();
	struct fake *f = fake_new(), *before = fake_new();
	char err[512], want[512];
	uint32_t *pids = calloc(HT_PIDS_MAX + 1, sizeof(*pids));
	char *path = calloc(1, HT_PATH_MAX + 1);
	char *paths[1] = { path };

	assert_non_null(c);
	assert_non_null(pids);
	assert_non_null(path);
	for (uint32_t i = 0; i <= HT_PIDS_MAX; i++)
		pids[i] = i + 1;
	free(c->pids);
	c->pids = pids;
	c->n_pids = HT_PIDS_MAX + 1;
	*before = *f;
	assert_int_equal(kfilter_switch(&fake_ops, f, c, err, sizeof(err)), -E2BIG);
	snprintf(want, sizeof(want), "more than %d entries in filtering.kernel.pids: the kernel map pid_allow holds %d per config (HT_PIDS_MAX)",
		 HT_PIDS_MAX, HT_PIDS_MAX);
	assert_string_equal(err, want);
	assert_int_equal(f->steps, 0);
	assert_same_filtering(f, before);

	/* duplicates are one entry */
	c->n_pids = HT_PIDS_MAX;
	c->pids[HT_PIDS_MAX - 1] = 1;
	assert_int_equal(kfilter_switch(&fake_ops, f, c, err, sizeof(err)), 0);
	assert_int_equal(f->n[f->gen].pids, HT_PIDS_MAX - 1);

	memset(path, 'a', HT_PATH_MAX);
	path[0] = '/';
	c->n_pids = 0;
	c->health_paths.v = paths;
	c->health_paths.n = 1;
	*before = *f;
	f->steps = 0;
	assert_int_equal(kfilter_switch(&fake_ops, f, c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "does not fit the kernel's path key"));
	assert_int_equal(f->steps, 0);
	assert_same_filtering(f, before);
	c->health_paths.v = NULL;
	c->health_paths.n = 0;

	f->fail_list = 1;
	assert_int_equal(kfilter_switch(&fake_ops, f, c, err, sizeof(err)), -EPERM);
	assert_string_equal(err, "cannot list the kernel map pid_allow: Operation not permitted");
	ht_config_free(c);
	free(path);
	free(before);
	free(f);
}

static int apply_fake(void *ctx, const struct ht_config *next, char *err, size_t errlen)
{
	return kfilter_switch(&fake_ops, ctx, next, err, errlen);
}

static const char *write_yaml(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/ht_kf_XXXXXX.yaml");
	fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* A reload whose kernel step fails at any step keeps both the kernel maps
 * and the installed config; the error says why.  As main.c reloads. */
static void test_reload_all_or_nothing(void **state)
{
	struct fake *f = fake_new(), *base = fake_new();
	struct ht_config *cur;
	char err[512], p1[64], p2[64];
	int ok = 0;

	rcu_register_thread();
	write_yaml(p1, "filtering: {kernel: {pids: [10, 11], healthCheckPaths: [/healthz]}}\n");
	write_yaml(p2, "filtering: {kernel: {pids: [20], excludePorts: [443]}}\n"
		       "performance: {workerThreads: 5}\n");
	assert_int_equal(ht_config_reload_apply(p1, apply_fake, base, err, sizeof(err)), 0);
	cur = ht_config_current;
	assert_int_equal(cur->n_pids, 2);
	for (int n = 0; !ok; n++) {
		*f = *base;
		f->steps = 0;
		f->fail_at = n;
		if (ht_config_reload_apply(p2, apply_fake, f, err, sizeof(err)) == 0) {
			ok = 1; /* n is past the last step: the reload went through */
			break;
		}
		assert_non_null(strstr(err, "the kernel map") ?: strstr(err, "switch the kernel"));
		assert_ptr_equal(ht_config_current, cur);
		assert_int_equal(ht_config_current->worker_threads, 2);
		assert_same_filtering(f, base);
		assert_true(n < 16);
	}
	assert_int_equal(ht_config_current->worker_threads, 5);
	assert_true(fake_has_pid(f, 20));
	assert_false(fake_has_pid(f, 10));
	ht_config_install(NULL);
	rcu_unregister_thread();
	unlink(p1);
	unlink(p2);
	free(f);
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_fail_at_every_step),
		cmocka_unit_test(test_full_generations),
		cmocka_unit_test(test_plan_refuses),
		cmocka_unit_test(test_reload_all_or_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
