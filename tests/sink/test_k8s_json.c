/* test_k8s_json.c - the API decoder on real object shapes (the JSON files of tests/k8s/,
 * as kubectl get -o json prints them), watch events, list pages, malformed
 * input, and the watch-stream splitter fed whole, byte by byte and split at
 * every position. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sink/k8s_json.h"

#define DATA "tests/k8s/"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return buf;
}

struct seen {
	int n;
	struct k8s_event last;
	char name[128], rv[64], extra[256];
};

static void on_event(const struct k8s_event *ev, void *ctx)
{
	struct seen *s = ctx;
	const char *name = ev->kind == K8S_POD ? ev->pod.meta.name :
			   ev->kind == K8S_SERVICE ? ev->svc.meta.name : ev->slice.meta.name;

	s->n++;
	s->last = *ev;
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
	snprintf(s->rv, sizeof(s->rv), "%s", ev->resource_version ? ev->resource_version : "");
	if (ev->kind == K8S_POD && ev->type <= K8S_EV_DELETED && ev->pod.n_containers > 1)
		snprintf(s->extra, sizeof(s->extra), "%s %s/%s %zu ips %s %zu c %s=%s",
			 ev->pod.node, ev->pod.owner_kind, ev->pod.owner_name, ev->pod.n_ips,
			 ev->pod.ips[1], ev->pod.n_containers, ev->pod.containers[1].name,
			 ev->pod.containers[1].id ? ev->pod.containers[1].id : "-");
	if (ev->kind == K8S_SLICE && ev->type <= K8S_EV_DELETED)
		snprintf(s->extra, sizeof(s->extra), "%s %zu ep %s %s port %u",
			 ev->slice.service, ev->slice.n_endpoints, ev->slice.endpoints[0].addrs[0],
			 ev->slice.endpoints[1].pod_name, ev->slice.ports[0]);
	if (ev->kind == K8S_SERVICE && ev->type <= K8S_EV_DELETED)
		snprintf(s->extra, sizeof(s->extra), "%zu %s %s", ev->svc.n_ips,
			 ev->svc.cluster_ips[0], ev->svc.cluster_ips[1]);
}

static void event_of(const char *file, const char *type, enum k8s_kind kind, struct seen *s)
{
	char *obj = slurp(file), *text;

	assert_true(asprintf(&text, "{\"type\":\"%s\",\"object\":%s}", type, obj) > 0);
	memset(s, 0, sizeof(*s));
	assert_int_equal(k8s_decode_event(kind, text, strlen(text), on_event, s), 0);
	assert_int_equal(s->n, 1);
	free(text);
	free(obj);
}

static void test_objects(void **state)
{
	struct seen s;

	event_of(DATA "pod.json", "ADDED", K8S_POD, &s);
	assert_int_equal(s.last.type, K8S_EV_ADDED);
	assert_string_equal(s.name, "web-7d4b9c8f5d-x2k9q");
	assert_string_equal(s.rv, "1001");
	/* containerStatuses before initContainerStatuses; the sidecar has no id yet */
	assert_string_equal(s.extra, "node-a ReplicaSet/web-7d4b9c8f5d 2 ips fd00:42::7 3 c sidecar=-");
	assert_false(s.last.pod.finished);       /* "Running" */
	event_of(DATA "service.json", "MODIFIED", K8S_SERVICE, &s);
	assert_int_equal(s.last.type, K8S_EV_MODIFIED);
	assert_string_equal(s.extra, "2 10.96.0.20 fd00:96::20");
	event_of(DATA "slice.json", "DELETED", K8S_SLICE, &s);
	assert_int_equal(s.last.type, K8S_EV_DELETED);
	assert_string_equal(s.extra, "cart 2 ep 10.42.2.9 cart-5f6d7c8b9a-fghij port 8080");
}

static void test_control_events(void **state)
{
	static const char bookmark[] =
		"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
		"{\"resourceVersion\":\"12746\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}";
	static const char gone[] =
		"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
		"\"status\":\"Failure\",\"message\":\"too old resource version: 1 (12746)\","
		"\"reason\":\"Expired\",\"code\":410}}";
	struct seen s = { 0 };

	assert_int_equal(k8s_decode_event(K8S_POD, bookmark, strlen(bookmark), on_event, &s), 0);
	assert_int_equal(s.last.type, K8S_EV_BOOKMARK);
	assert_string_equal(s.rv, "12746");
	assert_int_equal(k8s_decode_event(K8S_SERVICE, gone, strlen(gone), on_event, &s), 0);
	assert_int_equal(s.last.type, K8S_EV_ERROR);
	assert_int_equal(s.last.code, 410);
	assert_int_equal(s.n, 2);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"", "{", "null", "[]", "{\"type\":\"ADDED\"}", "{\"type\":\"NOPE\",\"object\":{}}",
		"{\"type\":\"ADDED\",\"object\":[]}", "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\"}}",
		"{\"type\":\"ADDED\",\"type\":\"ADDED\",\"object\":{}}",     /* duplicate key */
		"{\"type\":\"ADDED\",\"object\":{}} trailing",
	};
	struct seen s = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("bad %zu: %s\n", i, bad[i]);
		assert_int_equal(k8s_decode_event(K8S_POD, bad[i], strlen(bad[i]), on_event, &s), -EBADMSG);
	}
	assert_int_equal(s.n, 0);
	/* wrong types read as absent, not as errors */
	static const char odd[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":7,\"uid\":[]},"
				  "\"spec\":\"x\",\"status\":{\"podIPs\":[1,{\"ip\":2}],\"containerStatuses\":{}}}}";
	assert_int_equal(k8s_decode_event(K8S_POD, odd, strlen(odd), on_event, &s), 0);
	assert_int_equal(s.n, 1);
	assert_null(s.last.pod.meta.uid);
}

static void test_list(void **state)
{
	char *pod = slurp(DATA "pod.json"), *text;
	struct k8s_list_info info;
	struct seen s = { 0 };

	assert_true(asprintf(&text, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":"
			     "{\"resourceVersion\":\"5000\",\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ\","
			     "\"remainingItemCount\":3},\"items\":[%s,%s,{\"kind\":\"Service\"}]}",
			     pod, pod) > 0);
	assert_int_equal(k8s_decode_list(K8S_POD, text, strlen(text), on_event, &s, &info), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(info.items, 3);
	assert_int_equal(info.bad_items, 1);
	assert_string_equal(info.resource_version, "5000");
	assert_string_equal(info.cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
	assert_int_equal(k8s_decode_list(K8S_POD, "{\"items\":{}}", 12, on_event, &s, &info), -EBADMSG);
	assert_int_equal(k8s_decode_list(K8S_POD, "{\"kind\":\"Status\",\"code\":410}", 28,
					 on_event, &s, &info), -EBADMSG);
	free(text);
	free(pod);
}

struct lines {
	int n;
	char got[8][64];
};

static void on_line(void *ctx, const char *text, size_t len)
{
	struct lines *l = ctx;

	if (l->n < 8)
		snprintf(l->got[l->n], sizeof(l->got[0]), "%.*s", (int)len, text);
	l->n++;
}

static void test_splitter(void **state)
{
	static const char stream[] = "{\"a\":1}\n\r\n{\"b\":2}\r\n  \n{\"long\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n{\"c\":3}\n{\"partial\"";
	size_t n = strlen(stream);

	for (size_t step = 0; step <= n; step++) {      /* 0: whole; else chunks of step */
		struct k8s_splitter sp;
		struct lines l = { 0 };

		k8s_split_init(&sp, 24);
		for (size_t off = 0; off < n;) {
			size_t c = step ? (n - off < step ? n - off : step) : n;

			k8s_split_feed(&sp, stream + off, c, on_line, &l);
			off += c;
		}
		assert_int_equal(l.n, 3);
		assert_string_equal(l.got[0], "{\"a\":1}");
		assert_string_equal(l.got[1], "{\"b\":2}\r");
		assert_string_equal(l.got[2], "{\"c\":3}");
		assert_int_equal(sp.oversize, 1);
		assert_int_equal(sp.len, strlen("{\"partial\""));
		k8s_split_reset(&sp);
		assert_int_equal(sp.len, 0);
		k8s_split_free(&sp);
	}
	/* split in two at every position */
	for (size_t cut = 0; cut <= n; cut++) {
		struct k8s_splitter sp;
		struct lines l = { 0 };

		k8s_split_init(&sp, 24);
		k8s_split_feed(&sp, stream, cut, on_line, &l);
		k8s_split_feed(&sp, stream + cut, n - cut, on_line, &l);
		assert_int_equal(l.n, 3);
		assert_string_equal(l.got[2], "{\"c\":3}");
		assert_int_equal(sp.oversize, 1);
		k8s_split_free(&sp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_control_events),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_splitter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
