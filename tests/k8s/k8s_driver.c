/*
 * k8s_driver.c - runs the real API client (src/sink/k8s_client.c) into a
 * real store and answers questions about it on stdin/stdout, one line each,
 * for tests/k8s/test_client.py (which runs it against fake_apiserver.py).
 *
 *   k8s_driver --api URL [--token-file F] [--ca F] [--node NAME]
 *
 * Commands (the answer is one line):
 *   pod UID           "pod UID NAME NS NODE WKIND WORKLOAD IP n=C" or "pod UID -"
 *   container UID ID  the container's name or "-"
 *   peer IP PORT      "peer pod=P ns=N svc=S" ("-" for a missing part) or "peer -"
 *   count             "count pods=N services=N endpointslices=N"
 *   stats             "stats KEY=VALUE ..." (k8s_api_stats, nonzero error codes as err_CODE)
 *   metrics           the http_tracer_k8s_* samples of /metrics (metrics_render), " | " between
 *   quit
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu.h>

#include "base/buf.h"
#include "observe/metrics.h"
#include "sink/k8s_client.h"

static const char *s(const char *v)
{
	return v && *v ? v : "-";
}

static void cmd_pod(struct k8s_store *st, const char *uid, const char *cid)
{
	const struct k8s_pod_view *p;

	rcu_read_lock();
	p = k8s_pod_by_uid(st, uid);
	if (cid)
		printf("%s\n", s(k8s_container_name(p, cid)));
	else if (!p)
		printf("pod %s -\n", uid);
	else
		printf("pod %s %s %s %s %s %s %s n=%zu\n", p->uid, s(p->name), s(p->namespace_),
		       s(p->node), s(p->workload_kind), s(p->workload), s(p->ip), p->n_containers);
	rcu_read_unlock();
}

static void cmd_peer(struct k8s_store *st, const char *ip, int port)
{
	struct k8s_peer_view v;
	struct ht_addr a;

	if (ht_addr_parse(ip, &a)) {
		printf("peer -\n");
		return;
	}
	rcu_read_lock();
	if (k8s_peer_by_addr(st, &a, (uint16_t)port, &v))
		printf("peer pod=%s ns=%s svc=%s\n", s(v.pod), s(v.namespace_), s(v.service));
	else
		printf("peer -\n");
	rcu_read_unlock();
}

/* From the client's gauges: the store's own counts belong to its writers. */
static void cmd_count(void)
{
	struct k8s_api_stats a;

	k8s_api_stats_read(&a);
	printf("count pods=%llu services=%llu endpointslices=%llu\n",
	       (unsigned long long)a.objects[K8S_POD], (unsigned long long)a.objects[K8S_SERVICE],
	       (unsigned long long)a.objects[K8S_SLICE]);
}

static void cmd_metrics(void)
{
	struct ht_buf b = { 0 };
	const char *sep = "";

	if (metrics_render(&b) || !b.len) {
		printf("metrics -\n");
		ht_buf_free(&b);
		return;
	}
	for (char *line = strtok(b.p, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "http_tracer_k8s_", 16))
			continue;
		printf("%s%s", sep, line);
		sep = " | ";
	}
	printf("\n");
	ht_buf_free(&b);
}

static void cmd_stats(void)
{
	struct k8s_api_stats a;

	k8s_api_stats_read(&a);
	printf("stats");
	for (int k = 0; k < K8S_KIND_COUNT; k++)
		printf(" %s_objects=%llu %s_events=%llu %s_restarts=%llu %s_relists=%llu %s_malformed=%llu",
		       k8s_kind_name(k), (unsigned long long)a.objects[k],
		       k8s_kind_name(k), (unsigned long long)a.events[k],
		       k8s_kind_name(k), (unsigned long long)a.watch_restarts[k],
		       k8s_kind_name(k), (unsigned long long)a.relists[k],
		       k8s_kind_name(k), (unsigned long long)a.malformed[k]);
	for (int c = 0; c < K8S_HTTP_CODES; c++)
		if (a.api_errors[c])
			printf(" err_%d=%llu", c, (unsigned long long)a.api_errors[c]);
	printf("\n");
}

int main(int argc, char **argv)
{
	struct k8s_client_cfg cfg = { .backoff_max_ms = 500, .watch_timeout_s = 30 };
	char line[512], a[256], b[256], err[256];
	struct k8s_client *c;
	struct k8s_store *st;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--api"))
			cfg.api_server = argv[i + 1];
		else if (!strcmp(argv[i], "--token-file"))
			cfg.token_file = argv[i + 1];
		else if (!strcmp(argv[i], "--ca"))
			cfg.ca_file = argv[i + 1];
		else if (!strcmp(argv[i], "--node"))
			cfg.node_name = argv[i + 1];
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	rcu_register_thread();
	st = k8s_store_new();
	c = st ? k8s_client_start(&cfg, st, err, sizeof(err)) : NULL;
	if (!c) {
		fprintf(stderr, "k8s_driver: %s\n", st ? err : "no memory");
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		int port = 0;

		a[0] = b[0] = '\0';
		if (sscanf(line, "pod %255s", a) == 1)
			cmd_pod(st, a, NULL);
		else if (sscanf(line, "container %255s %255s", a, b) == 2)
			cmd_pod(st, a, b);
		else if (sscanf(line, "peer %255s %d", a, &port) == 2)
			cmd_peer(st, a, port);
		else if (!strncmp(line, "count", 5))
			cmd_count();
		else if (!strncmp(line, "metrics", 7))
			cmd_metrics();
		else if (!strncmp(line, "stats", 5))
			cmd_stats();
		else if (!strncmp(line, "quit", 4))
			break;
		else
			printf("? %s", line);
	}
	k8s_client_stop(c);
	rcu_barrier();
	k8s_store_free(st);
	rcu_unregister_thread();
	return 0;
}
