/*
 * fuzz_k8s.c - libFuzzer target for the Kubernetes API decoder and the
 * watch-stream splitter (sink/k8s_json.c), and the store they feed
 * (sink/k8s_store.c).
 *
 * Input: byte 0 picks the kind (and whether the rest is also tried as a
 * list page), byte 1 the chunk size; the rest is a watch stream, fed to the
 * splitter in chunks of that size with a small object cap, each line
 * decoded as an event and applied to a store, then the whole rest decoded
 * as a list page.  Checked: no crash or leak; the splitter never hands out
 * a line over the cap or with a newline in it; every object the decoder
 * hands out has its counts within their arrays; lookups of the addresses
 * seen answer without crashing; the store frees cleanly.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <urcu.h>

#include "fuzz_check.h"
#include "sink/k8s_json.h"

#define FUZZ_OBJECT_MAX 2048

struct fuzz_ctx {
	struct k8s_store *st;
	enum k8s_kind kind;
};

static void probe(struct k8s_store *st, const char *ip)
{
	struct k8s_peer_view v;
	struct ht_addr a;

	if (ip && ht_addr_parse(ip, &a) == 0) {
		rcu_read_lock();
		(void)k8s_peer_by_addr(st, &a, 80, &v);
		rcu_read_unlock();
	}
}

static void apply(const struct k8s_event *ev, void *arg)
{
	struct fuzz_ctx *c = arg;
	const struct k8s_pod_view *pv;
	bool del = ev->type == K8S_EV_DELETED;

	FUZZ_CHECK(ev->kind == c->kind, "event of kind %d for %d", ev->kind, c->kind);
	if (ev->type == K8S_EV_BOOKMARK || ev->type == K8S_EV_ERROR)
		return;
	if (ev->kind == K8S_POD) {
		FUZZ_CHECK(ev->pod.n_ips <= K8S_MAX_IPS, "%zu pod IPs", ev->pod.n_ips);
		FUZZ_CHECK(!ev->pod.n_containers || ev->pod.containers, "containers without array");
		del ? k8s_store_delete_pod(c->st, &ev->pod.meta) : (void)k8s_store_upsert_pod(c->st, &ev->pod);
		rcu_read_lock();
		pv = ev->pod.meta.uid ? k8s_pod_by_uid(c->st, ev->pod.meta.uid) : NULL;
		FUZZ_CHECK(!pv || del || !strcmp(pv->uid, ev->pod.meta.uid), "pod by uid");
		rcu_read_unlock();
		probe(c->st, ev->pod.n_ips ? ev->pod.ips[0] : NULL);
	} else if (ev->kind == K8S_SERVICE) {
		FUZZ_CHECK(ev->svc.n_ips <= K8S_MAX_IPS, "%zu cluster IPs", ev->svc.n_ips);
		del ? k8s_store_delete_service(c->st, &ev->svc.meta) : (void)k8s_store_upsert_service(c->st, &ev->svc);
		probe(c->st, ev->svc.n_ips ? ev->svc.cluster_ips[0] : NULL);
	} else {
		FUZZ_CHECK(ev->slice.n_ports <= K8S_MAX_PORTS, "%zu ports", ev->slice.n_ports);
		FUZZ_CHECK(!ev->slice.n_endpoints || ev->slice.endpoints, "endpoints without array");
		for (size_t i = 0; i < ev->slice.n_endpoints; i++)
			FUZZ_CHECK(ev->slice.endpoints[i].n_addrs <= K8S_MAX_IPS, "addresses");
		del ? k8s_store_delete_slice(c->st, &ev->slice.meta) : (void)k8s_store_upsert_slice(c->st, &ev->slice);
		if (ev->slice.n_endpoints && ev->slice.endpoints[0].n_addrs)
			probe(c->st, ev->slice.endpoints[0].addrs[0]);
	}
}

static void on_line(void *arg, const char *text, size_t len)
{
	struct fuzz_ctx *c = arg;

	FUZZ_CHECK(len <= FUZZ_OBJECT_MAX, "line of %zu bytes over the cap", len);
	FUZZ_CHECK(!memchr(text, '\n', len), "line with a newline");
	(void)k8s_decode_event(c->kind, text, len, apply, c);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	rcu_register_thread();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ctx c;
	struct k8s_splitter sp;
	struct k8s_list_info info;
	size_t chunk, off;

	if (size < 2)
		return 0;
	c.kind = (enum k8s_kind)(data[0] % K8S_KIND_COUNT);
	chunk = data[1] ? data[1] : size;
	data += 2;
	size -= 2;
	c.st = k8s_store_new();
	FUZZ_CHECK(c.st, "no store");
	k8s_split_init(&sp, FUZZ_OBJECT_MAX);
	for (off = 0; off < size; off += chunk)
		k8s_split_feed(&sp, (const char *)data + off, size - off < chunk ? size - off : chunk,
			       on_line, &c);
	FUZZ_CHECK(sp.len <= FUZZ_OBJECT_MAX, "partial object of %zu bytes", sp.len);
	k8s_split_free(&sp);
	if (data[-2] & 4) {
		k8s_store_relist_begin(c.st, c.kind);
		if (k8s_decode_list(c.kind, (const char *)data, size, apply, &c, &info) == 0)
			FUZZ_CHECK(info.bad_items <= info.items, "bad items");
		k8s_store_relist_end(c.st, c.kind);
	}
	k8s_store_free(c.st);  /* built with K8S_STORE_SYNC_RECLAIM: nothing left behind */
	return 0;
}
