/*
 * k8s_scale.c - the Kubernetes store at cluster scale: synthetic list pages
 * (as the API server sends them, K8S_LIST_PAGE items a page) of N Services,
 * EndpointSlices holding E endpoints in all, and P pods of this node, go
 * through the real decoder (k8s_decode_list) into the real store, as the
 * client does.  Reports the resident memory after loading (and its peak,
 * which includes one page of JSON text at a time), the load rate, the cost
 * of one lookup on the data path (pod by uid, peer by address: clusterIP,
 * endpoint, miss), and of a watch MODIFIED of one slice.  Nothing asserts.
 *
 *   k8s_scale [SERVICES [ENDPOINTS [PODS [LOOKUPS]]]]   (10000 100000 200 2000000)
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <urcu.h>

#include "base/buf.h"
#include "sink/k8s_client.h"
#include "sink/k8s_json.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bput(struct ht_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bput(struct ht_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || ht_buf_reserve(b, (size_t)n + 1)) {
		fprintf(stderr, "k8s_scale: out of memory\n");
		exit(1);
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* Addresses: Services 10.96.0.0/12, endpoints 10.64.0.0/12 (spread over
 * every node), local pods 10.42.0.0/24 (also endpoints of Service 0). */
static void svc_ip(char *b, size_t n, int i) { snprintf(b, n, "10.96.%d.%d", i / 250, i % 250 + 1); }
static void ep_ip(char *b, size_t n, int i) { snprintf(b, n, "10.%d.%d.%d", 64 + i / 62500, (i / 250) % 250, i % 250 + 1); }

static void put_service(struct ht_buf *b, int i)
{
	char ip[32];

	svc_ip(ip, sizeof(ip), i);
	bput(b, "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"svc-%d\","
		      "\"namespace\":\"ns-%d\",\"uid\":\"5b0c%08d-0000-4000-8000-000000000000\","
		      "\"resourceVersion\":\"%d\",\"labels\":{\"app\":\"svc-%d\"}},\"spec\":{\"type\":\"ClusterIP\","
		      "\"clusterIP\":\"%s\",\"clusterIPs\":[\"%s\"],\"ports\":[{\"name\":\"http\",\"port\":80,"
		      "\"targetPort\":8080,\"protocol\":\"TCP\"}],\"selector\":{\"app\":\"svc-%d\"}}}",
		      i, i % 50, i, 1000 + i, i, ip, ip, i);
}

static void put_slice(struct ht_buf *b, int i, int first, int n)
{
	char ip[32];

	bput(b, "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":"
		      "{\"name\":\"svc-%d-x7k2p\",\"namespace\":\"ns-%d\",\"uid\":\"e5e5%08d-0000-4000-8000-000000000000\","
		      "\"resourceVersion\":\"%d\",\"labels\":{\"kubernetes.io/service-name\":\"svc-%d\"}},"
		      "\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],"
		      "\"endpoints\":[", i, i % 50, i, 50000 + i, i);
	for (int e = 0; e < n; e++) {
		ep_ip(ip, sizeof(ip), first + e);
		bput(b, "%s{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":true},\"nodeName\":\"node-%d\","
			      "\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"ns-%d\",\"name\":\"svc-%d-7d4b9c8f5d-%05d\","
			      "\"uid\":\"c0c0%08d-0000-4000-8000-000000000000\"}}",
			      e ? "," : "", ip, (first + e) % 100, i % 50, i, first + e, first + e);
	}
	bput(b, "]}");
}

static void put_pod(struct ht_buf *b, int i)
{
	bput(b, "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web-7d4b9c8f5d-%05d\","
		      "\"namespace\":\"ns-%d\",\"uid\":\"9a9a%08d-0000-4000-8000-000000000000\",\"resourceVersion\":\"%d\","
		      "\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7d4b9c8f5d\"},\"ownerReferences\":[{"
		      "\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-7d4b9c8f5d\",\"uid\":\"r\","
		      "\"controller\":true}]},\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"app\"},"
		      "{\"name\":\"sidecar\"}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.42.0.%d\",\"podIPs\":"
		      "[{\"ip\":\"10.42.0.%d\"}],\"containerStatuses\":[{\"name\":\"app\",\"containerID\":"
		      "\"containerd://%064d\"},{\"name\":\"sidecar\",\"containerID\":\"containerd://%064d\"}]}}",
		      i, i % 50, i, 90000 + i, i % 250 + 1, i % 250 + 1, i, i + 1000000);
}

struct load {
	struct k8s_store *st;
	enum k8s_kind kind;
	size_t bytes, items;
};

static void on_item(const struct k8s_event *ev, void *ctx)
{
	struct load *l = ctx;

	if (l->kind == K8S_POD)
		k8s_store_upsert_pod(l->st, &ev->pod);
	else if (l->kind == K8S_SERVICE)
		k8s_store_upsert_service(l->st, &ev->svc);
	else
		k8s_store_upsert_slice(l->st, &ev->slice);
	l->items++;
}

static void flush_page(struct load *l, struct ht_buf *b, int *in_page)
{
	struct k8s_list_info info;

	bput(b, "]}");
	if (k8s_decode_list(l->kind, b->p, b->len, on_item, l, &info))
		fprintf(stderr, "k8s_scale: a page did not decode\n");
	l->bytes += b->len;
	b->len = 0;
	*in_page = 0;
}

static void page_open(struct ht_buf *b, int *in_page)
{
	if (!b->len)
		bput(b, "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[");
	else
		bput(b, ",");
	(*in_page)++;
}

/* Lists every kind, a page at a time; returns the ns taken. */
static uint64_t load_all(struct k8s_store *st, int svcs, int eps, int pods, size_t *bytes)
{
	struct ht_buf b = { 0 };
	uint64_t t0 = now_ns();
	struct load l = { .st = st };
	int in_page = 0, per = eps / (svcs ? svcs : 1), extra = eps - per * svcs, ep = 0;

	l.kind = K8S_SERVICE;
	for (int i = 0; i < svcs; i++) {
		page_open(&b, &in_page);
		put_service(&b, i);
		if (in_page == K8S_LIST_PAGE || i == svcs - 1)
			flush_page(&l, &b, &in_page);
	}
	l.kind = K8S_SLICE;
	for (int i = 0; i < svcs; i++) {
		int n = per + (i < extra ? 1 : 0);

		page_open(&b, &in_page);
		put_slice(&b, i, ep, n);
		ep += n;
		if (in_page == K8S_LIST_PAGE || i == svcs - 1)
			flush_page(&l, &b, &in_page);
	}
	l.kind = K8S_POD;
	for (int i = 0; i < pods; i++) {
		page_open(&b, &in_page);
		put_pod(&b, i);
		if (in_page == K8S_LIST_PAGE || i == pods - 1)
			flush_page(&l, &b, &in_page);
	}
	ht_buf_free(&b);
	*bytes = l.bytes;
	return now_ns() - t0;
}

static double lookups(struct k8s_store *st, int kind, int n, int range, unsigned seed)
{
	char key[96];
	struct ht_addr *a = malloc(sizeof(*a) * 4096);
	char (*uids)[64] = malloc(64 * 4096);
	volatile size_t hits = 0;
	uint64_t t0;

	for (int i = 0; i < 4096; i++) {      /* keys made first: only lookups are timed */
		int r = (int)(rand_r(&seed) % (unsigned)range);

		if (kind == 0)
			snprintf(uids[i], 64, "9a9a%08d-0000-4000-8000-000000000000", r);
		else {
			if (kind == 1)
				svc_ip(key, sizeof(key), r);
			else if (kind == 2)
				ep_ip(key, sizeof(key), r);
			else
				snprintf(key, sizeof(key), "172.16.%d.%d", r / 250 % 250, r % 250);
			ht_addr_parse(key, &a[i]);
		}
	}
	/* Read-side sections of 256 lookups, as a shard's batch: a long one
	 * would hold back the table's resizes (they wait for grace periods). */
	t0 = now_ns();
	for (int i = 0; i < n; i++) {
		struct k8s_peer_view v;

		if (i % 256 == 0)
			rcu_read_lock();
		if (kind == 0)
			hits += k8s_pod_by_uid(st, uids[i & 4095]) != NULL;
		else
			hits += k8s_peer_by_addr(st, &a[i & 4095], 8080, &v);
		if (i % 256 == 255 || i == n - 1)
			rcu_read_unlock();
	}
	t0 = now_ns() - t0;
	free(a);
	free(uids);
	return (double)t0 / n;
}

int main(int argc, char **argv)
{
	int svcs = argc > 1 ? atoi(argv[1]) : 10000, eps = argc > 2 ? atoi(argv[2]) : 100000;
	int pods = argc > 3 ? atoi(argv[3]) : 200, n = argc > 4 ? atoi(argv[4]) : 2000000;
	long rss0, rss1;
	struct rusage ru;
	struct k8s_store *st;
	size_t bytes;
	uint64_t ns, t0;
	struct ht_buf b = { 0 };
	struct load l;
	struct k8s_list_info info;

	rcu_register_thread();
	rss0 = rss_kb();
	st = k8s_store_new();
	ns = load_all(st, svcs, eps, pods, &bytes);
	rcu_barrier();                       /* nothing replaced yet, but be exact */
	rss1 = rss_kb();
	getrusage(RUSAGE_SELF, &ru);
	printf("k8s_scale: %d Services, %d endpoints in %d EndpointSlices, %d local pods\n",
	       svcs, eps, svcs, pods);
	printf("objects: services=%zu endpointslices=%zu pods=%zu\n", k8s_store_count(st, K8S_SERVICE),
	       k8s_store_count(st, K8S_SLICE), k8s_store_count(st, K8S_POD));
	printf("load: %.1f MB of list JSON in %.2f s (%.0f endpoints/s)\n", bytes / 1e6, ns / 1e9,
	       eps / (ns / 1e9));
	printf("memory: RSS %.1f MB after loading (store %.1f MB over the %.1f MB at start), peak RSS %.1f MB\n",
	       rss1 / 1024.0, (rss1 - rss0) / 1024.0, rss0 / 1024.0, ru.ru_maxrss / 1024.0);
	printf("lookup ns (mean of %d, one thread): pod_by_uid %.0f, peer clusterIP %.0f, "
	       "peer endpoint %.0f, peer miss %.0f\n", n,
	       lookups(st, 0, n, pods, 1), lookups(st, 1, n, svcs, 2), lookups(st, 2, n, eps, 3),
	       lookups(st, 3, n, 60000, 4));
	/* watch MODIFIED of one slice, 1000 times (each republishes its addresses) */
	l = (struct load){ .st = st, .kind = K8S_SLICE };
	t0 = now_ns();
	for (int i = 0; i < 1000; i++) {
		int in_page = 0, per = eps / (svcs ? svcs : 1);

		page_open(&b, &in_page);
		put_slice(&b, i % svcs, (i % svcs) * per, per);
		bput(&b, "]}");
		k8s_decode_list(K8S_SLICE, b.p, b.len, on_item, &l, &info);
		b.len = 0;
	}
	printf("update: one EndpointSlice of %d endpoints decoded and replaced in %.1f us\n",
	       eps / (svcs ? svcs : 1), (now_ns() - t0) / 1000.0 / 1000);
	ht_buf_free(&b);
	k8s_store_free(st);
	rcu_barrier();
	rcu_unregister_thread();
	return 0;
}
