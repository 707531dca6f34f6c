/*
 * bench_enrich.c - what Kubernetes metadata costs a shard per record, side
 * by side in one run: the per-pid cache hit, the start-time recheck (once a
 * second per pid), a cold read of /proc/PID/stat + cgroup, and
 * enrich_record on a store of 200 local pods, 1000 Services and 1000
 * EndpointSlices (10 endpoints each), against encoding the same record as
 * NDJSON (the heaviest per-record step).  Real /proc of this process.
 *
 *   build/bench_enrich [ITERATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu.h>

#include "base/buf.h"
#include "sink/enrich.h"
#include "sink/format.h"

#define N_PODS 200
#define N_SVCS 1000
#define EP_PER_SLICE 10
#define N_RECS 4096 /* records enriched in turn */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(struct k8s_store *st)
{
	char uid[64], name[64], ip[32], cid[80], svc[32], pod_names[EP_PER_SLICE][64];
	char ep_ips[EP_PER_SLICE][32];

	for (int i = 0; i < N_PODS; i++) {
		struct k8s_container_obj c = { "app", cid };
		struct k8s_pod_obj p = {
			.meta = { uid, name, "shop", "1" }, .node = "node-a", .ips = { ip }, .n_ips = 1,
			.owner_kind = "ReplicaSet", .owner_name = "web-7d4b9c8f5d",
			.pod_template_hash = "7d4b9c8f5d", .containers = &c, .n_containers = 1,
		};

		snprintf(uid, sizeof(uid), "00000000-0000-0000-0000-%012d", i);
		snprintf(name, sizeof(name), "web-7d4b9c8f5d-%05d", i);
		snprintf(ip, sizeof(ip), "10.42.%d.%d", i / 250, i % 250 + 1);
		snprintf(cid, sizeof(cid), "containerd://%064x", i);
		k8s_store_upsert_pod(st, &p);
	}
	for (int i = 0; i < N_SVCS; i++) {
		struct k8s_endpoint_obj ep[EP_PER_SLICE];
		struct k8s_service_obj s = { .meta = { svc, svc, "shop", "1" }, .cluster_ips = { ip }, .n_ips = 1 };
		struct k8s_slice_obj sl = { .meta = { name, name, "shop", "1" }, .service = svc,
					    .ports = { 8080 }, .n_ports = 1, .endpoints = ep,
					    .n_endpoints = EP_PER_SLICE };

		snprintf(svc, sizeof(svc), "svc-%d", i);
		snprintf(ip, sizeof(ip), "10.96.%d.%d", i / 250, i % 250 + 1);
		k8s_store_upsert_service(st, &s);
		snprintf(name, sizeof(name), "svc-%d-abcde", i);
		for (int e = 0; e < EP_PER_SLICE; e++) {
			int k = i * EP_PER_SLICE + e;

			snprintf(ep_ips[e], sizeof(ep_ips[e]), "10.44.%d.%d", k / 250, k % 250 + 1);
			snprintf(pod_names[e], sizeof(pod_names[e]), "svc-%d-pod-%d", i, e);
			ep[e] = (struct k8s_endpoint_obj){ .addrs = { ep_ips[e] }, .n_addrs = 1,
							   .pod_name = pod_names[e], .pod_namespace = "shop" };
		}
		k8s_store_upsert_slice(st, &sl);
	}
}

static struct ht_record *sample(int i)
{
	struct ht_record *r = ht_record_new();
	char ip[32];

	ht_addr_parse("10.42.0.1", &r->local);
	snprintf(ip, sizeof(ip), "10.44.%d.%d", (i % 10000) / 250, (i % 10000) % 250 + 1);
	ht_addr_parse(ip, &r->remote);
	r->remote_port = 8080;
	r->local_port = 43210;
	ht_record_set(r, &r->method, "GET", 3);
	ht_record_set(r, &r->target, "/api/v1/items?id=42", 19);
	ht_record_set(r, &r->path, "/api/v1/items", 13);
	ht_record_add_header(r, &r->req_headers, "host", 4, "web", 3);
	ht_record_add_header(r, &r->req_headers, "user-agent", 10, "curl/7.88.1", 11);
	ht_record_add_header(r, &r->resp_headers, "content-type", 12, "application/json", 16);
	ht_record_set(r, &r->resp_body, "{\"ok\":true}", 11);
	r->resp_body_size = 11;
	r->status = 200;
	return r;
}

/* Back to the record sample() made: the fields enrich_record fills emptied,
 * the arena cut back (each pass appends the same bytes again). */
static void unfill(struct ht_record *r, uint32_t arena_len)
{
	struct ht_str *f[] = { &r->container_id, &r->pod, &r->namespace_, &r->node, &r->container,
			       &r->workload_kind, &r->workload, &r->remote_pod,
			       &r->remote_namespace, &r->remote_service };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		f[i]->len = 0;
	r->arena_len = arena_len;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	long n_io = n / 100 > 1000 ? n / 100 : 1000;
	struct meta_cache *mc = meta_cache_new();
	struct k8s_store *st = k8s_store_new();
	uint32_t pid = (uint32_t)getpid();
	struct meta_info mi = { 0 };
	struct ht_buf b = { 0 };
	volatile size_t sink = 0;
	double t, hit, recheck, cold, enrich, encode;
	static struct ht_record *recs[N_RECS];
	static uint32_t arena0[N_RECS];

	rcu_register_thread();
	fill(st);
	/* the local pod: uid 7 with its container */
	snprintf(mi.pod_uid, sizeof(mi.pod_uid), "00000000-0000-0000-0000-%012d", 7);
	snprintf(mi.container_id, sizeof(mi.container_id), "%064x", 7);

	meta_lookup(mc, pid, 1);
	t = now_s();
	for (long i = 0; i < n; i++)
		sink += meta_lookup(mc, pid, 2 + (uint64_t)i)->container_id[0];
	hit = (now_s() - t) / (double)n;
	t = now_s();
	for (long i = 0; i < n_io; i++) /* each call past the recheck window */
		sink += meta_lookup(mc, pid, (uint64_t)(i + 2) * META_RECHECK_NS)->container_id[0];
	recheck = (now_s() - t) / (double)n_io;
	t = now_s();
	for (long i = 0; i < n_io; i++) /* each call past the TTL: stat + cgroup */
		sink += meta_lookup(mc, pid, (uint64_t)(i + 2 + n_io) * META_TTL_NS)->container_id[0];
	cold = (now_s() - t) / (double)n_io;

	for (int i = 0; i < N_RECS; i++) {
		recs[i] = sample(i);
		arena0[i] = recs[i]->arena_len;
	}
	t = now_s();
	rcu_read_lock(); /* as a shard: one read-side section per poll, not per record */
	for (long k = 0; k < n / 10; k++) {
		struct ht_record *r = recs[k % N_RECS];

		unfill(r, arena0[k % N_RECS]);
		sink += enrich_record(r, &mi, st, "node-a");
	}
	rcu_read_unlock();
	enrich = (now_s() - t) / (double)(n / 10);
	t = now_s();
	for (long k = 0; k < n / 10; k++) {
		b.len = 0;
		sink += (size_t)format_record(HT_FMT_NDJSON, recs[k % N_RECS], &b);
	}
	encode = (now_s() - t) / (double)(n / 10);
	for (int i = 0; i < N_RECS; i++)
		ht_record_free(recs[i]);

	printf("store: %d pods, %d services, %d endpointslices x %d endpoints\n", N_PODS, N_SVCS,
	       N_SVCS, EP_PER_SLICE);
	printf("meta_lookup, cache hit          %9.1f ns\n", hit * 1e9);
	printf("meta_lookup, start-time check   %9.1f ns  (once a second per pid; every 10th also re-reads the cgroup)\n",
	       recheck * 1e9);
	printf("meta_lookup, cold (stat+cgroup) %9.1f ns  (a new pid, a reused pid)\n", cold * 1e9);
	printf("enrich_record (10 fields)       %9.1f ns\n", enrich * 1e9);
	printf("format_record NDJSON            %9.1f ns  (the same records, enriched)\n", encode * 1e9);
	printf("enrich / encode                 %9.2f\n", enrich / encode);
	ht_buf_free(&b);
	k8s_store_free(st);
	meta_cache_free(mc);
	rcu_unregister_thread();
	return sink == 42 ? 1 : 0;
}
