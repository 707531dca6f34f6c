/* test_k8s_store.c - the RCU store: pods, owners, containers, peers by
 * address (Service, EndpointSlice, pod IP), replace, delete and relist. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <urcu.h>

#include "sink/k8s_store.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct k8s_pod_obj web_pod(const char *uid, const char *name, const char *ip)
{
	static const struct k8s_container_obj c[] = {
		{ "app", "containerd://" CID },
		{ "sidecar", NULL },        /* not started: no id */
	};
	struct k8s_pod_obj p = {
		.meta = { uid, name, "shop", "1" }, .node = "node-a",
		.ips = { ip }, .n_ips = ip ? 1 : 0,
		.owner_kind = "ReplicaSet", .owner_name = "web-7d4b9c8f5d",
		.pod_template_hash = "7d4b9c8f5d",
		.containers = c, .n_containers = 2,
	};
	return p;
}

static bool peer(struct k8s_store *st, const char *ip, uint16_t port, struct k8s_peer_view *out)
{
	struct ht_addr a;
	bool ok;

	assert_int_equal(ht_addr_parse(ip, &a), 0);
	rcu_read_lock();
	ok = k8s_peer_by_addr(st, &a, port, out);
	rcu_read_unlock();
	return ok;
}

static void test_pod(void **state)
{
	struct k8s_store *st = k8s_store_new();
	struct k8s_pod_obj p = web_pod("uid-1", "web-7d4b9c8f5d-x2k9q", "10.42.1.7");
	const struct k8s_pod_view *v;
	struct k8s_peer_view pv;

	assert_int_equal(k8s_store_upsert_pod(st, &p), 0);
	assert_int_equal(k8s_store_count(st, K8S_POD), 1);
	rcu_read_lock();
	v = k8s_pod_by_uid(st, "uid-1");
	assert_non_null(v);
	assert_string_equal(v->name, "web-7d4b9c8f5d-x2k9q");
	assert_string_equal(v->namespace_, "shop");
	assert_string_equal(v->node, "node-a");
	assert_string_equal(v->workload_kind, "Deployment");
	assert_string_equal(v->workload, "web");
	assert_string_equal(v->ip, "10.42.1.7");
	assert_int_equal(v->n_containers, 1);
	assert_string_equal(k8s_container_name(v, CID), "app");
	assert_null(k8s_container_name(v, "ffff"));
	assert_null(k8s_pod_by_uid(st, "uid-2"));
	rcu_read_unlock();
	assert_true(peer(st, "10.42.1.7", 8080, &pv));
	assert_string_equal(pv.pod, "web-7d4b9c8f5d-x2k9q");
	assert_string_equal(pv.namespace_, "shop");
	assert_null(pv.service);

	/* a ReplicaSet whose name does not end in the hash stays a ReplicaSet */
	p = web_pod("uid-2", "odd", NULL);
	p.owner_name = "handmade";
	assert_int_equal(k8s_store_upsert_pod(st, &p), 0);
	rcu_read_lock();
	v = k8s_pod_by_uid(st, "uid-2");
	assert_string_equal(v->workload_kind, "ReplicaSet");
	assert_string_equal(v->workload, "handmade");
	assert_null(v->ip);
	rcu_read_unlock();

	/* a hostNetwork pod's IP is the node's: not a peer */
	p = web_pod("uid-3", "agent", "192.168.5.5");
	p.host_network = true;
	assert_int_equal(k8s_store_upsert_pod(st, &p), 0);
	assert_false(peer(st, "192.168.5.5", 80, &pv));

	/* a finished pod's IP may be reused: not a peer either */
	p = web_pod("uid-4", "job-x", "10.42.1.99");
	p.finished = true;
	assert_int_equal(k8s_store_upsert_pod(st, &p), 0);
	assert_false(peer(st, "10.42.1.99", 80, &pv));

	/* replace: the new IP answers, the old one is gone */
	p = web_pod("uid-1", "web-7d4b9c8f5d-x2k9q", "10.42.1.8");
	assert_int_equal(k8s_store_upsert_pod(st, &p), 0);
	assert_false(peer(st, "10.42.1.7", 8080, &pv));
	assert_true(peer(st, "10.42.1.8", 8080, &pv));
	assert_int_equal(k8s_store_count(st, K8S_POD), 4);

	k8s_store_delete_pod(st, &p.meta);
	assert_false(peer(st, "10.42.1.8", 8080, &pv));
	rcu_read_lock();
	assert_null(k8s_pod_by_uid(st, "uid-1"));
	rcu_read_unlock();
	assert_int_equal(k8s_store_upsert_pod(st, &(struct k8s_pod_obj){ 0 }), -EINVAL);
	k8s_store_free(st);
}

static void test_peers(void **state)
{
	struct k8s_store *st = k8s_store_new();
	struct k8s_service_obj cart = {
		.meta = { "s1", "cart", "shop", "5" }, .cluster_ips = { "10.96.0.20", "fd00::20" }, .n_ips = 2,
	};
	struct k8s_endpoint_obj eps[] = {
		{ .addrs = { "10.42.2.9" }, .n_addrs = 1, .pod_name = "cart-abc", .pod_namespace = "shop" },
		{ .addrs = { "10.42.2.10", "fd00::10" }, .n_addrs = 2, .pod_name = "cart-def" },
		{ .addrs = { "not-an-ip" }, .n_addrs = 1 },
	};
	struct k8s_slice_obj sl = {
		.meta = { "e1", "cart-x1", "shop", "6" }, .service = "cart",
		.ports = { 8080 }, .n_ports = 1, .endpoints = eps, .n_endpoints = 3,
	};
	struct k8s_endpoint_obj admin_ep[] = { { .addrs = { "10.42.2.9" }, .n_addrs = 1, .pod_name = "cart-abc" } };
	struct k8s_slice_obj admin = {
		.meta = { "e2", "cart-admin-1", "shop", "7" }, .service = "cart-admin",
		.ports = { 9000 }, .n_ports = 1, .endpoints = admin_ep, .n_endpoints = 1,
	};
	struct k8s_peer_view pv;

	assert_int_equal(k8s_store_upsert_service(st, &cart), 0);
	assert_int_equal(k8s_store_upsert_slice(st, &sl), 0);
	assert_int_equal(k8s_store_upsert_slice(st, &admin), 0);
	assert_true(peer(st, "10.96.0.20", 80, &pv));
	assert_string_equal(pv.service, "cart");
	assert_string_equal(pv.namespace_, "shop");
	assert_null(pv.pod);
	assert_true(peer(st, "fd00::20", 80, &pv));
	assert_string_equal(pv.service, "cart");
	assert_true(peer(st, "fd00::10", 8080, &pv));
	assert_string_equal(pv.pod, "cart-def");
	/* one pod behind two Services: the port picks the slice */
	assert_true(peer(st, "10.42.2.9", 8080, &pv));
	assert_string_equal(pv.service, "cart");
	assert_string_equal(pv.pod, "cart-abc");
	assert_true(peer(st, "10.42.2.9", 9000, &pv));
	assert_string_equal(pv.service, "cart-admin");
	assert_true(peer(st, "10.42.2.9", 1, &pv));   /* no port matches: the first slice */
	assert_string_equal(pv.service, "cart");
	assert_false(peer(st, "10.42.2.11", 8080, &pv));

	/* the slice shrinks: the address it dropped is gone */
	sl.n_endpoints = 1;
	assert_int_equal(k8s_store_upsert_slice(st, &sl), 0);
	assert_false(peer(st, "10.42.2.10", 8080, &pv));
	assert_true(peer(st, "10.42.2.9", 8080, &pv));
	assert_int_equal(k8s_store_count(st, K8S_SLICE), 2);

	/* relist: only what was listed again survives */
	k8s_store_relist_begin(st, K8S_SLICE);
	assert_int_equal(k8s_store_upsert_slice(st, &admin), 0);
	k8s_store_relist_end(st, K8S_SLICE);
	assert_int_equal(k8s_store_count(st, K8S_SLICE), 1);
	assert_true(peer(st, "10.42.2.9", 8080, &pv));
	assert_string_equal(pv.service, "cart-admin");
	assert_int_equal(k8s_store_count(st, K8S_SERVICE), 1);

	k8s_store_delete_service(st, &cart.meta);
	assert_false(peer(st, "10.96.0.20", 80, &pv));
	k8s_store_delete_service(st, &cart.meta);   /* unknown: nothing */
	k8s_store_free(st);
}

/* Many objects through the same addresses: the tables grow, entries churn. */
static void test_churn(void **state)
{
	struct k8s_store *st = k8s_store_new();
	struct k8s_peer_view pv;
	char uid[32], name[32], ip[32];

	for (int round = 0; round < 3; round++) {
		k8s_store_relist_begin(st, K8S_POD);
		for (int i = 0; i < 500; i++) {
			struct k8s_pod_obj p;

			snprintf(uid, sizeof(uid), "u%d", i);
			snprintf(name, sizeof(name), "p%d-r%d", i, round);
			snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250);
			p = web_pod(uid, name, ip);
			assert_int_equal(k8s_store_upsert_pod(st, &p), 0);
		}
		k8s_store_relist_end(st, K8S_POD);
		assert_int_equal(k8s_store_count(st, K8S_POD), 500);
	}
	assert_true(peer(st, "10.1.1.3", 1, &pv));
	assert_string_equal(pv.pod, "p253-r2");
	k8s_store_relist_begin(st, K8S_POD);
	k8s_store_relist_end(st, K8S_POD);
	assert_int_equal(k8s_store_count(st, K8S_POD), 0);
	assert_false(peer(st, "10.1.1.3", 1, &pv));
	k8s_store_free(st);
}

/* A reader looks up and reads every string while the writer replaces and
 * deletes the same entries: under ASan a string freed too early (before
 * its grace period) is a use-after-free report. */
struct race {
	struct k8s_store *st;
	int stop;
	unsigned long seen;
};

static void *reader(void *arg)
{
	struct race *r = arg;
	struct ht_addr a;
	char uid[32];

	rcu_register_thread();
	for (unsigned i = 0; !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); i++) {
		const struct k8s_pod_view *v;
		struct k8s_peer_view pv;

		snprintf(uid, sizeof(uid), "u%u", i % 64);
		ht_addr_parse(i & 1 ? "10.96.0.1" : "10.2.0.5", &a);
		rcu_read_lock();
		v = k8s_pod_by_uid(r->st, uid);
		if (v)
			r->seen += strlen(v->name) + strlen(v->workload) + strlen(k8s_container_name(v, CID));
		if (k8s_peer_by_addr(r->st, &a, 8080, &pv))
			r->seen += strlen(pv.namespace_) + (pv.pod ? strlen(pv.pod) : 0);
		rcu_read_unlock();
	}
	rcu_unregister_thread();
	return NULL;
}

static void test_readers_during_writes(void **state)
{
	struct race r = { .st = k8s_store_new() };
	struct k8s_endpoint_obj ep = { .addrs = { "10.2.0.5" }, .n_addrs = 1, .pod_name = "p" };
	struct k8s_slice_obj sl = { .meta = { "e", "s", "ns", "1" }, .service = "svc",
				    .endpoints = &ep, .n_endpoints = 1 };
	struct k8s_service_obj svc = { .meta = { "s", "svc", "ns", "1" }, .cluster_ips = { "10.96.0.1" }, .n_ips = 1 };
	char uid[32], name[32];
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, reader, &r), 0);
	for (int i = 0; i < 3000; i++) {
		struct k8s_pod_obj p;

		snprintf(uid, sizeof(uid), "u%d", i % 64);
		snprintf(name, sizeof(name), "pod-%d", i);
		p = web_pod(uid, name, "10.2.0.5");
		assert_int_equal(k8s_store_upsert_pod(r.st, &p), 0);
		if (i % 3 == 0)
			k8s_store_delete_pod(r.st, &p.meta);
		assert_int_equal(k8s_store_upsert_slice(r.st, &sl), 0);
		assert_int_equal(k8s_store_upsert_service(r.st, &svc), 0);
		if (i % 5 == 0)
			k8s_store_delete_slice(r.st, &sl.meta);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	print_message("reader read %lu bytes\n", r.seen);
	k8s_store_free(r.st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod),
		cmocka_unit_test(test_peers),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_readers_during_writes),
	};
	int rc;

	rcu_register_thread();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rcu_barrier();
	rcu_unregister_thread();
	return rc;
}
