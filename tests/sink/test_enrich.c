/* test_enrich.c - a record's Kubernetes fields from a cgroup text and a real
 * store: the local pod, workload and container, the node, the peer's pod or
 * Service; a pod the store does not hold yet; no API at all; a writer
 * replacing the pod while records are enriched. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <urcu.h>

#include "sink/enrich.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID "5c1e9a3b-7f2d-4c1a-9e8b-0d6f4a2b1c3e"

static struct k8s_store *store(void)
{
	static const struct k8s_container_obj c[] = {
		{ "app", "containerd://" CID },
		{ "sidecar", "containerd://" CID2 },
	};
	static const struct k8s_endpoint_obj ep[] = {
		{ .addrs = { "10.42.1.9" }, .n_addrs = 1, .pod_name = "cart-5f6d7c8b9a-q1w2e",
		  .pod_namespace = "shop" },
	};
	struct k8s_pod_obj pod = {
		.meta = { UID, "web-7d4b9c8f5d-x2k9q", "shop", "1" }, .node = "node-a",
		.ips = { "10.42.1.7" }, .n_ips = 1,
		.owner_kind = "ReplicaSet", .owner_name = "web-7d4b9c8f5d",
		.pod_template_hash = "7d4b9c8f5d", .containers = c, .n_containers = 2,
	};
	struct k8s_service_obj svc = {
		.meta = { "svc-1", "cart", "shop", "2" }, .cluster_ips = { "10.96.0.20" }, .n_ips = 1,
	};
	struct k8s_slice_obj sl = {
		.meta = { "sl-1", "cart-abcde", "shop", "3" }, .service = "cart",
		.ports = { 8080 }, .n_ports = 1, .endpoints = ep, .n_endpoints = 1,
	};
	struct k8s_store *st = k8s_store_new();

	assert_non_null(st);
	assert_int_equal(k8s_store_upsert_pod(st, &pod), 0);
	assert_int_equal(k8s_store_upsert_service(st, &svc), 0);
	assert_int_equal(k8s_store_upsert_slice(st, &sl), 0);
	return st;
}

static struct ht_record *rec(const char *remote, uint16_t port)
{
	struct ht_record *r = ht_record_new();

	assert_non_null(r);
	assert_int_equal(ht_addr_parse("10.42.1.7", &r->local), 0);
	assert_int_equal(ht_addr_parse(remote, &r->remote), 0);
	r->remote_port = port;
	return r;
}

static void field(const struct ht_record *r, struct ht_str s, const char *want)
{
	char got[300];

	snprintf(got, sizeof(got), "%.*s", (int)s.len, ht_str_ptr(r, s));
	assert_string_equal(got, want);
}

static struct meta_info parse(const char *cgroup)
{
	struct meta_info mi;

	meta_cgroup_parse(cgroup, strlen(cgroup), &mi);
	return mi;
}

static void test_local_and_peer(void **state)
{
	struct k8s_store *st = store();
	struct meta_info mi = parse("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
				    "5c1e9a3b_7f2d_4c1a_9e8b_0d6f4a2b1c3e.slice/cri-containerd-" CID2 ".scope\n");
	struct ht_record *r;

	/* a client calling an endpoint of Service cart */
	r = rec("10.42.1.9", 8080);
	rcu_read_lock();
	assert_int_equal(enrich_record(r, &mi, st, "node-a"), ENRICH_POD);
	rcu_read_unlock();
	field(r, r->container_id, CID2);
	field(r, r->node, "node-a");
	field(r, r->pod, "web-7d4b9c8f5d-x2k9q");
	field(r, r->namespace_, "shop");
	field(r, r->workload_kind, "Deployment");
	field(r, r->workload, "web");
	field(r, r->container, "sidecar");
	field(r, r->remote_pod, "cart-5f6d7c8b9a-q1w2e");
	field(r, r->remote_namespace, "shop");
	field(r, r->remote_service, "cart");
	ht_record_free(r);

	/* the Service's clusterIP: the Service, no pod */
	r = rec("10.96.0.20", 80);
	rcu_read_lock();
	assert_int_equal(enrich_record(r, &mi, st, NULL), ENRICH_POD);
	rcu_read_unlock();
	field(r, r->node, "");
	field(r, r->remote_pod, "");
	field(r, r->remote_namespace, "shop");
	field(r, r->remote_service, "cart");
	ht_record_free(r);

	/* outside the cluster: no peer fields */
	r = rec("192.0.2.1", 443);
	rcu_read_lock();
	enrich_record(r, &mi, st, "node-a");
	rcu_read_unlock();
	assert_int_equal(r->remote_pod.len + r->remote_namespace.len + r->remote_service.len, 0);
	ht_record_free(r);
	k8s_store_free(st);
}

static void test_unknown_and_none(void **state)
{
	struct k8s_store *st = store();
	struct meta_info other = parse("0::/kubepods/besteffort/pod11111111-2222-3333-4444-555555555555/" CID "\n");
	struct meta_info host = parse("0::/user.slice/user-0.slice/session-1.scope\n");
	struct meta_info unlisted = parse("0::/kubepods/pod" UID "/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\n");
	struct ht_record *r;

	/* a pod the API has not told us of yet: out without its fields, counted */
	r = rec("10.42.1.9", 8080);
	rcu_read_lock();
	assert_int_equal(enrich_record(r, &other, st, "node-a"), ENRICH_POD_UNKNOWN);
	rcu_read_unlock();
	field(r, r->container_id, CID);
	field(r, r->node, "node-a");
	assert_int_equal(r->pod.len + r->namespace_.len + r->workload.len + r->container.len, 0);
	field(r, r->remote_service, "cart"); /* the peer is still known */
	ht_record_free(r);

	/* a host process: nothing to wait for */
	r = rec("10.96.0.20", 80);
	rcu_read_lock();
	assert_int_equal(enrich_record(r, &host, st, "node-a"), ENRICH_NOT_A_POD);
	assert_int_equal(enrich_record(r, NULL, st, "node-a"), ENRICH_NOT_A_POD);
	rcu_read_unlock();
	assert_int_equal(r->container_id.len, 0);
	field(r, r->node, "node-a"); /* set once, not twice */
	ht_record_free(r);

	/* a container the pod's status does not list: the pod, no container name */
	r = rec("10.42.1.9", 8080);
	rcu_read_lock();
	assert_int_equal(enrich_record(r, &unlisted, st, NULL), ENRICH_POD);
	rcu_read_unlock();
	field(r, r->pod, "web-7d4b9c8f5d-x2k9q");
	assert_int_equal(r->container.len, 0);
	ht_record_free(r);

	/* no API: the container id and the node only, never "unknown" */
	r = rec("10.42.1.9", 8080);
	assert_int_equal(enrich_record(r, &other, NULL, "node-a"), ENRICH_NOT_A_POD);
	field(r, r->container_id, CID);
	field(r, r->node, "node-a");
	assert_int_equal(r->pod.len + r->remote_pod.len + r->remote_service.len, 0);
	ht_record_free(r);
	k8s_store_free(st);
}

/*
 * A shard enriching while the API client replaces, deletes and re-adds the
 * same pod: every record gets one whole version of the pod or none, never
 * a torn or freed one (ASan sees a read of a freed version).  Fixed
 * iteration counts, no timing.
 */
struct race {
	struct k8s_store *st;
	int done;
	int failed;       /* upserts that failed (cmocka asserts only on the main thread) */
};

static void *writer(void *arg)
{
	static const struct k8s_container_obj c[] = { { "app", "containerd://" CID } };
	struct race *x = arg;
	char name[64], rv[16];

	rcu_register_thread();
	for (int i = 0; i < 3000; i++) {
		struct k8s_pod_obj pod = {
			.meta = { UID, name, "shop", rv }, .node = "node-a", .ips = { "10.42.1.7" },
			.n_ips = 1, .owner_kind = "ReplicaSet", .owner_name = "web-7d4b9c8f5d",
			.pod_template_hash = "7d4b9c8f5d", .containers = c, .n_containers = 1,
		};

		snprintf(name, sizeof(name), "web-%d", i % 2 ? 1 : 2);
		snprintf(rv, sizeof(rv), "%d", i + 10);
		if (i % 7 == 0)
			k8s_store_delete_pod(x->st, &pod.meta);
		else if (k8s_store_upsert_pod(x->st, &pod))
			x->failed++;
	}
	__atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
	rcu_unregister_thread();
	return NULL;
}

static void test_concurrent_writer(void **state)
{
	struct race x = { .st = store() };
	struct meta_info mi = parse("0::/kubepods/pod" UID "/" CID "\n");
	unsigned long seen = 0, with = 0;
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, writer, &x), 0);
	while (!__atomic_load_n(&x.done, __ATOMIC_ACQUIRE) || seen < 1000) {
		struct ht_record *r = rec("10.42.1.9", 8080);
		char pod[64];

		rcu_read_lock();
		enrich_record(r, &mi, x.st, "node-a");
		rcu_read_unlock();
		snprintf(pod, sizeof(pod), "%.*s", (int)r->pod.len, ht_str_ptr(r, r->pod));
		assert_true(!*pod || !strcmp(pod, "web-1") || !strcmp(pod, "web-2") ||
			    !strcmp(pod, "web-7d4b9c8f5d-x2k9q"));
		if (*pod) {
			field(r, r->container, "app");
			field(r, r->workload, "web");
			with++;
		}
		ht_record_free(r);
		seen++;
	}
	pthread_join(th, NULL);
	assert_int_equal(x.failed, 0);
	print_message("%lu records enriched during 3000 writes, %lu with the pod\n", seen, with);
	k8s_store_free(x.st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_and_peer),
		cmocka_unit_test(test_unknown_and_none),
		cmocka_unit_test(test_concurrent_writer),
	};
	int rc;

	rcu_register_thread();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rcu_unregister_thread();
	return rc;
}
