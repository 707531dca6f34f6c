/* test_filter.c - user-space filters: IPs/CIDRs, namespaces, pods, paths, sampling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <urcu.h>

#include "config/config.h"
#include "sink/filter.h"
#include "base/record.h"

static struct ht_config *cfg_with(const char *key, const char *const *values)
{
	struct ht_config *c = ht_config_defaults();
	char err[512];

	assert_non_null(c);
	for (; *values; values++)
		if (ht_config_set(c, key, *values, err, sizeof(err)))
			fail_msg("%s", err);
	return c;
}

static struct ht_record *rec(const char *local, const char *remote, const char *path)
{
	struct ht_record *r = ht_record_new();

	assert_non_null(r);
	if (*local)
		assert_int_equal(ht_addr_parse(local, &r->local), 0);
	if (*remote)
		assert_int_equal(ht_addr_parse(remote, &r->remote), 0);
	if (path)
		assert_int_equal(ht_record_set(r, &r->path, path, strlen(path)), 0);
	return r;
}

/* The filter on a text address: unparsable text is family 0, never excluded. */
static bool excluded(const struct ht_config *c, const char *text)
{
	struct ht_addr a = { 0 };

	if (ht_addr_parse(text, &a))
		memset(&a, 0, sizeof(a));
	return ht_filter_ip_excluded(c, &a);
}

/* Table: rules, address, excluded? */
static void test_ip_match(void **state)
{
	static const char *const rules[] = {
		"192.168.1.0/24", "10.9.9.9", "172.16.0.0/12", "2001:db8::/32", "fe80::1/128",
		"2001:db8:ffff::/127", NULL,
	};
	static const struct { const char *addr; bool hit; } t[] = {
		{ "192.168.1.0", true }, { "192.168.1.255", true }, { "192.168.0.255", false },
		{ "192.168.2.0", false }, { "10.9.9.9", true }, { "10.9.9.8", false },
		{ "10.9.9.10", false }, { "172.16.0.0", true }, { "172.31.255.255", true },
		{ "172.32.0.0", false }, { "172.15.255.255", false },
		/* IPv4-mapped IPv6 matches IPv4 rules */
		{ "::ffff:192.168.1.7", true }, { "::ffff:10.9.9.9", true }, { "::ffff:10.9.9.8", false },
		{ "::FFFF:172.20.1.1", true },
		{ "2001:db8::1", true }, { "2001:db8:ffff:ffff::", true }, { "2001:db9::", false },
		{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "fe80::1", true }, { "fe80::2", false }, { "fe80::1%eth0", true },
		{ "2001:db8:ffff::1", true }, { "2001:db8:ffff::2", true },
		/* an IPv4 address is not the same as IPv6 ::a.b.c.d */
		{ "::192.168.1.1", false },
		{ "", false }, { "garbage", false }, { "192.168.1", false }, { "::ffff:", false },
	};
	struct ht_config *c = cfg_with("filtering.excludeIPs", rules);

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (excluded(c, t[i].addr) != t[i].hit)
			fail_msg("'%s' should %sbe excluded", t[i].addr, t[i].hit ? "" : "not ");
	assert_false(ht_filter_ip_excluded(c, NULL));
	ht_config_free(c);
}

static void test_ip_edges(void **state)
{
	static const char *const all4[] = { "0.0.0.0/0", NULL };
	static const char *const all6[] = { "::/0", NULL };
	static const char *const one4[] = { "8.8.8.8/32", NULL };
	static const char *const one6[] = { "2001:db8::5/128", NULL };
	static const char *const mapped_rule[] = { "::ffff:10.0.0.0/104", NULL };
	struct ht_config *c;

	c = cfg_with("filtering.excludeIPs", all4);
	assert_true(excluded(c, "0.0.0.0"));
	assert_true(excluded(c, "255.255.255.255"));
	assert_true(excluded(c, "::ffff:1.2.3.4"));
	assert_false(excluded(c, "::1"));
	ht_config_free(c);

	c = cfg_with("filtering.excludeIPs", all6);
	assert_true(excluded(c, "::"));
	assert_true(excluded(c, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(excluded(c, "::ffff:1.2.3.4")); /* still an IPv6 address */
	assert_false(excluded(c, "1.2.3.4"));
	ht_config_free(c);

	c = cfg_with("filtering.excludeIPs", one4);
	assert_true(excluded(c, "8.8.8.8"));
	assert_false(excluded(c, "8.8.8.9"));
	assert_false(excluded(c, "8.8.8.7"));
	ht_config_free(c);

	c = cfg_with("filtering.excludeIPs", one6);
	assert_true(excluded(c, "2001:db8::5"));
	assert_true(excluded(c, "2001:0db8:0000::0005"));
	assert_false(excluded(c, "2001:db8::4"));
	assert_false(excluded(c, "2001:db8::6"));
	ht_config_free(c);

	/* a rule written as mapped IPv6 matches plain IPv4 too */
	c = cfg_with("filtering.excludeIPs", mapped_rule);
	assert_true(excluded(c, "10.200.0.1"));
	assert_true(excluded(c, "::ffff:10.200.0.1"));
	assert_false(excluded(c, "11.0.0.1"));
	ht_config_free(c);
}

static void test_should_drop_ip(void **state)
{
	static const char *const rules[] = { "169.254.1.1", NULL };
	struct ht_config *c = cfg_with("filtering.excludeIPs", rules);
	enum ht_counter why = HT_C_COUNT;
	struct ht_record *r;

	r = rec("10.0.0.1", "169.254.1.1", "/");
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_IP);
	ht_record_free(r);
	r = rec("169.254.1.1", "10.0.0.2", "/"); /* local address counts too */
	assert_true(ht_filter_should_drop(c, r, &why));
	ht_record_free(r);
	r = rec("10.0.0.1", "10.0.0.2", "/");
	assert_false(ht_filter_should_drop(c, r, &why));
	ht_record_free(r);
	/* an unknown family never matches, whatever its bytes */
	r = rec("169.254.1.1", "169.254.1.1", "/");
	r->local.family = 0;
	r->remote.family = 99;
	assert_false(ht_filter_should_drop(c, r, NULL));
	ht_record_free(r);
	ht_config_free(c);
}

static void test_namespace_pod(void **state)
{
	static const char *const ns[] = { "kube-system", "kube-public", NULL };
	static const char *const pods[] = { "^coredns-.*", "-canary$", NULL };
	struct ht_config *c = cfg_with("filtering.excludeNamespaces", ns);
	char err[256];
	enum ht_counter why = HT_C_COUNT;
	struct ht_record *r;

	for (const char *const *p = pods; *p; p++)
		assert_int_equal(ht_config_set(c, "filtering.excludePods", *p, err, sizeof(err)), 0);

	r = rec("", "", "/");
	assert_false(ht_filter_should_drop(c, r, &why)); /* no metadata: no match */
	assert_int_equal(ht_record_set(r, &r->namespace_, "kube-system", 11), 0);
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_NAMESPACE);
	assert_int_equal(ht_record_set(r, &r->namespace_, "kube-systemx", 12), 0);
	assert_false(ht_filter_should_drop(c, r, &why));
	assert_int_equal(ht_record_set(r, &r->namespace_, "kube", 4), 0);
	assert_false(ht_filter_should_drop(c, r, &why));

	assert_int_equal(ht_record_set(r, &r->pod, "coredns-5d78c9869d-abcde", 24), 0);
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_POD);
	assert_int_equal(ht_record_set(r, &r->pod, "my-coredns-1", 12), 0);
	assert_false(ht_filter_should_drop(c, r, &why));
	assert_int_equal(ht_record_set(r, &r->pod, "web-canary", 10), 0);
	assert_true(ht_filter_should_drop(c, r, &why));
	/* the regex sees only the field's bytes, not what follows in the arena */
	assert_int_equal(ht_record_set(r, &r->pod, "web-canaryX", 11), 0);
	r->pod.len = 10;
	assert_true(ht_filter_should_drop(c, r, &why));
	r->pod.len = 9;
	assert_false(ht_filter_should_drop(c, r, &why));
	r->pod.len = 0;
	assert_false(ht_filter_should_drop(c, r, &why));
	ht_record_free(r);

	/* the remote pod counts as much as the local one */
	r = rec("", "", "/");
	assert_int_equal(ht_record_set(r, &r->namespace_, "shop", 4), 0);
	assert_int_equal(ht_record_set(r, &r->pod, "web-1", 5), 0);
	assert_false(ht_filter_should_drop(c, r, &why));
	assert_int_equal(ht_record_set(r, &r->remote_namespace, "kube-public", 11), 0);
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_NAMESPACE);
	assert_int_equal(ht_record_set(r, &r->remote_namespace, "shop", 4), 0);
	assert_false(ht_filter_should_drop(c, r, &why));
	assert_int_equal(ht_record_set(r, &r->remote_pod, "coredns-7db6d8ff4d-x2k9q", 24), 0);
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_POD);
	/* a remote pod alone (a host process calling into the cluster) */
	r->pod.len = r->namespace_.len = 0;
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_POD);
	r->remote_pod.len = 0;
	assert_false(ht_filter_should_drop(c, r, &why));
	ht_record_free(r);
	ht_config_free(c);
}

static void test_paths(void **state)
{
	static const char *const paths[] = { "^/debug/.*", ".*\\.css$", NULL };
	static const struct { const char *path; bool drop; } t[] = {
		{ "/debug/pprof", true }, { "/debug/", true }, { "/debug", false },
		{ "/x/debug/a", false }, { "/static/site.css", true }, { "/site.css.map", false },
		{ "/sitexcss", false }, { "/", false }, { "", false },
	};
	struct ht_config *c = cfg_with("filtering.excludePaths", paths);
	enum ht_counter why = HT_C_COUNT;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ht_record *r = rec("1.1.1.1", "2.2.2.2", t[i].path);

		if (ht_filter_should_drop(c, r, &why) != t[i].drop)
			fail_msg("path '%s'", t[i].path);
		if (t[i].drop)
			assert_int_equal(why, HT_C_FILTERED_PATH);
		ht_record_free(r);
	}
	/* a NUL byte inside the path does not end it */
	{
		struct ht_record *r = rec("", "", NULL);

		assert_int_equal(ht_record_set(r, &r->path, "/a\0b.css", 8), 0);
		assert_true(ht_filter_should_drop(c, r, &why));
		ht_record_free(r);
	}
	ht_config_free(c);
}

/* IP is checked first, then namespace, pod, path, sampling. */
static void test_order(void **state)
{
	struct ht_config *c = ht_config_defaults();
	enum ht_counter why = HT_C_COUNT;
	struct ht_record *r = rec("1.1.1.1", "9.9.9.9", "/debug/x");
	char err[256];

	assert_int_equal(ht_config_set(c, "filtering.excludeIPs", "9.9.9.9", err, sizeof(err)), 0);
	assert_int_equal(ht_config_set(c, "filtering.excludeNamespaces", "ns", err, sizeof(err)), 0);
	assert_int_equal(ht_config_set(c, "filtering.excludePods", "pod", err, sizeof(err)), 0);
	assert_int_equal(ht_config_set(c, "filtering.excludePaths", "^/debug", err, sizeof(err)), 0);
	c->sampling_enabled = true;
	c->sampling_rate = 0.0;
	assert_int_equal(ht_record_set(r, &r->namespace_, "ns", 2), 0);
	assert_int_equal(ht_record_set(r, &r->pod, "pod", 3), 0);
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_IP);
	assert_int_equal(ht_addr_parse("8.8.8.8", &r->remote), 0);
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_NAMESPACE);
	r->namespace_.len = 0;
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_POD);
	r->pod.len = 0;
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_PATH);
	assert_int_equal(ht_record_set(r, &r->path, "/", 1), 0);
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_SAMPLING);
	c->sampling_enabled = false; /* rate 0 but disabled: keep */
	assert_false(ht_filter_should_drop(c, r, &why));
	ht_record_free(r);
	ht_config_free(c);
}

/* Count kept keys out of n; keys spread over `conns` connections. */
static uint64_t kept(double rate, uint64_t n, uint64_t conns)
{
	uint64_t k = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t key = conns ? ((i % conns) << 40) | (i / conns) : i;

		k += ht_filter_sample_keep(rate, key);
	}
	return k;
}

static void check_rate(double rate, uint64_t conns)
{
	const uint64_t n = 100000;
	double mean = rate * (double)n;
	double sd = sqrt((double)n * rate * (1.0 - rate));
	uint64_t k = kept(rate, n, conns);

	/* 5 standard deviations: a fair coin fails this about once in 1.7 million */
	if (fabs((double)k - mean) > 5.0 * sd)
		fail_msg("rate %.3f conns %llu: kept %llu, expected %.0f +- %.0f", rate,
			 (unsigned long long)conns, (unsigned long long)k, mean, 5.0 * sd);
}

static void test_sampling(void **state)
{
	struct ht_config *c = ht_config_defaults();
	struct ht_record *r = rec("", "", "/");
	enum ht_counter why = HT_C_COUNT;

	assert_int_equal(kept(0.0, 100000, 0), 0);
	assert_int_equal(kept(1.0, 100000, 0), 100000);
	assert_int_equal(kept(-1.0, 1000, 0), 0);
	assert_int_equal(kept(NAN, 1000, 0), 0);
	check_rate(0.1, 0);
	check_rate(0.1, 3);    /* a few busy connections */
	check_rate(0.5, 0);
	check_rate(0.01, 0);
	check_rate(0.999, 7);
	/* the same key always gets the same decision */
	for (uint64_t key = 0; key < 1000; key++) {
		bool a = ht_filter_sample_keep(0.3, key * 0x9e3779b97f4a7c15ull);

		for (int rep = 0; rep < 3; rep++)
			assert_true(ht_filter_sample_keep(0.3, key * 0x9e3779b97f4a7c15ull) == a);
		/* monotone in the rate: kept at 0.3 implies kept at 0.6 */
		if (a)
			assert_true(ht_filter_sample_keep(0.6, key * 0x9e3779b97f4a7c15ull));
	}
	/* through the record path */
	c->sampling_enabled = true;
	c->sampling_rate = 0.0;
	r->sample_key = 42;
	assert_true(ht_filter_should_drop(c, r, &why));
	assert_int_equal(why, HT_C_FILTERED_SAMPLING);
	c->sampling_rate = 1.0;
	assert_false(ht_filter_should_drop(c, r, &why));
	ht_record_free(r);
	ht_config_free(c);
}

static void test_defaults_keep_everything(void **state)
{
	struct ht_config *c = ht_config_defaults();
	struct ht_record *r = rec("127.0.0.1", "::1", "/debug/x");

	assert_false(ht_filter_should_drop(c, r, NULL));
	ht_record_free(r);
	ht_config_free(c);
}

/*
 * Shard-like threads filter under RCU while the config is reloaded: each
 * decision must follow the config the thread holds (per-thread regex copies
 * are refreshed on every new generation), and nothing is freed under a
 * reader (ASan).
 */
struct worker {
	pthread_t th;
	int stop;
	long checked, wrong;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ht_record *ra = rec("", "", "/a/x"), *rb = rec("", "", "/b/x");

	rcu_register_thread();
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		const struct ht_config *c;
		bool is_a, da, db;

		rcu_read_lock();
		c = rcu_dereference(ht_config_current);
		if (c) {
			is_a = strstr(c->source, "cfg_a") != NULL;
			da = ht_filter_should_drop(c, ra, NULL);
			db = ht_filter_should_drop(c, rb, NULL);
			w->wrong += da != is_a || db != !is_a;
			w->checked++;
		}
		rcu_read_unlock();
	}
	rcu_unregister_thread();
	ht_record_free(ra);
	ht_record_free(rb);
	return NULL;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void test_reload_under_load(void **state)
{
	char a[64] = "/tmp/ht_cfg_a_XXXXXX", b[64] = "/tmp/ht_cfg_b_XXXXXX", err[512];
	struct worker w[2] = { 0 };
	long total = 0;

	assert_true(mkdtemp(a) && mkdtemp(b));
	strcat(a, "/cfg_a.yaml");
	strcat(b, "/cfg_b.yaml");
	write_file(a, "filtering:\n  excludePaths: [\"^/a/\"]\n");
	write_file(b, "filtering:\n  excludePaths: [\"^/b/\"]\n");
	assert_int_equal(ht_config_reload(a, err, sizeof(err)), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(ht_config_reload(i % 2 ? a : b, err, sizeof(err)), 0);
		usleep(200);
	}
	for (int i = 0; i < 2; i++) {
		__atomic_store_n(&w[i].stop, 1, __ATOMIC_RELEASE);
		assert_int_equal(pthread_join(w[i].th, NULL), 0);
		assert_int_equal(w[i].wrong, 0);
		total += w[i].checked;
	}
	assert_true(total > 0);
	ht_config_install(NULL);
	unlink(a);
	unlink(b);
	*strrchr(a, '/') = '\0';
	*strrchr(b, '/') = '\0';
	rmdir(a);
	rmdir(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_match),
		cmocka_unit_test(test_ip_edges),
		cmocka_unit_test(test_should_drop_ip),
		cmocka_unit_test(test_namespace_pod),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_sampling),
		cmocka_unit_test(test_defaults_keep_everything),
		cmocka_unit_test(test_reload_under_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
