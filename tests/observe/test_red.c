/* test_red.c - RED tables: labels, buckets, caps, merging, escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include <urcu.h>

#include "base/buf.h"
#include "ht_event.h"
#include "base/record.h"
#include "observe/red.h"

static struct ht_record *mkrec(int role, const char *method, const char *path, int status,
			       uint64_t latency_ns, uint16_t lport, uint16_t rport)
{
	struct ht_record *r = ht_record_new();

	assert_non_null(r);
	r->role = (uint8_t)role;
	r->status = (uint16_t)status;
	r->latency_ns = latency_ns;
	r->local_port = lport;
	r->remote_port = rport;
	if (method)
		assert_int_equal(ht_record_set(r, &r->method, method, strlen(method)), 0);
	if (path)
		assert_int_equal(ht_record_set(r, &r->path, path, strlen(path)), 0);
	return r;
}

static void observe(struct red_table *t, int role, const char *method, const char *path,
		    int status, uint64_t latency_ns, uint16_t lport, uint16_t rport)
{
	struct ht_record *r = mkrec(role, method, path, status, latency_ns, lport, rport);

	red_observe(t, r);
	ht_record_free(r);
}

static char *scrape(void)
{
	struct ht_buf b = { 0 };

	assert_int_equal(red_write(&b), 0);
	assert_int_equal(ht_buf_putc(&b, '\0'), 0);
	return b.p;
}

/* The number of lines of text equal to line. */
static int count_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	int hits = 0;

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			hits++;
	return hits;
}

static void expect_line(const char *text, const char *line)
{
	if (count_line(text, line) != 1)
		fail_msg("expected exactly one line \"%s\" in:\n%s", line, text);
}

static void expect_no(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fail_msg("did not expect \"%s\" in:\n%s", needle, text);
}

#define SRV "role=\"server\",method=\"GET\",status_class=\"2xx\",route=\"/api/users/{id}\""

static void test_counts_and_buckets(void **state)
{
	struct red_table *t = red_table_new(0);
	char *txt;

	assert_non_null(t);
	red_register(t);
	observe(t, HT_ROLE_SERVER, "GET", "/api/users/1", 200, 2000000, 8080, 40000);
	observe(t, HT_ROLE_SERVER, "GET", "/api/users/2", 201, 2000000, 8080, 40001);
	observe(t, HT_ROLE_SERVER, "GET", "/api/users/3", 204, 700000000, 8080, 40002);
	observe(t, HT_ROLE_SERVER, "GET", "/api/users/4", 200, 20000000000ull, 8080, 40003);
	txt = scrape();
	expect_line(txt, "# TYPE http_tracer_requests_total counter");
	expect_line(txt, "# TYPE http_tracer_request_duration_seconds histogram");
	expect_line(txt, "http_tracer_requests_total{" SRV "} 4");
	expect_line(txt, "http_tracer_request_duration_seconds_bucket{" SRV ",le=\"0.001\"} 0");
	expect_line(txt, "http_tracer_request_duration_seconds_bucket{" SRV ",le=\"0.0025\"} 2");
	expect_line(txt, "http_tracer_request_duration_seconds_bucket{" SRV ",le=\"0.5\"} 2");
	expect_line(txt, "http_tracer_request_duration_seconds_bucket{" SRV ",le=\"1\"} 3");
	expect_line(txt, "http_tracer_request_duration_seconds_bucket{" SRV ",le=\"10\"} 3");
	expect_line(txt, "http_tracer_request_duration_seconds_bucket{" SRV ",le=\"+Inf\"} 4");
	expect_line(txt, "http_tracer_request_duration_seconds_sum{" SRV "} 20.704000000");
	expect_line(txt, "http_tracer_request_duration_seconds_count{" SRV "} 4");
	free(txt);
	red_table_free(t);
	txt = scrape();
	expect_no(txt, "route=");
	free(txt);
}

static void test_labels(void **state)
{
	struct red_table *t = red_table_new(0);
	char *txt;

	red_register(t);
	observe(t, HT_ROLE_CLIENT, "POST", "/login", 0, 5000, 50000, 80);      /* incomplete */
	observe(t, HT_ROLE_SERVER, "FOO", "/x", 404, 5000, 80, 1);            /* odd method */
	observe(t, HT_ROLE_SERVER, "get", "/x", 503, 5000, 80, 1);            /* case matters */
	observe(t, HT_ROLE_SERVER, "PATCH", "/x", 302, 5000, 80, 1);
	observe(t, HT_ROLE_SERVER, "OPTIONS", "*", 100, 5000, 80, 1);
	observe(t, HT_ROLE_SERVER, NULL, NULL, 200, 5000, 80, 1);            /* no request */
	observe(t, HT_ROLE_UNKNOWN, "TRACE", "/t", 999, 5000, 80, 1);
	observe(t, 77, "CONNECT", "example.com:443", 200, 5000, 80, 1);      /* bad role */
	txt = scrape();
	expect_line(txt, "http_tracer_requests_total{role=\"client\",method=\"POST\",status_class=\"none\",route=\"/login\"} 1");
	expect_no(txt, "_bucket{role=\"client\",method=\"POST\"");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"other\",status_class=\"4xx\",route=\"/x\"} 1");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"other\",status_class=\"5xx\",route=\"/x\"} 1");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"PATCH\",status_class=\"3xx\",route=\"/x\"} 1");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"OPTIONS\",status_class=\"1xx\",route=\"*\"} 1");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"none\",status_class=\"2xx\",route=\"none\"} 1");
	expect_line(txt, "http_tracer_requests_total{role=\"unknown\",method=\"TRACE\",status_class=\"other\",route=\"/t\"} 1");
	expect_line(txt, "http_tracer_requests_total{role=\"unknown\",method=\"CONNECT\",status_class=\"2xx\",route=\"other\"} 1");
	expect_no(txt, "example.com");
	expect_no(txt, "FOO");
	free(txt);
	red_table_free(t);

	assert_string_equal(red_method_label("DELETE", 6), "DELETE");
	assert_string_equal(red_method_label("DELETEX", 7), "other");
	assert_string_equal(red_method_label("DEL", 3), "other");
	assert_string_equal(red_method_label("", 0), "none");
	assert_string_equal(red_status_class(599), "5xx");
	assert_string_equal(red_status_class(600), "other");
	assert_string_equal(red_status_class(99), "other");
	assert_string_equal(red_status_class(0), "none");
}

static void test_cap_per_port(void **state)
{
	struct red_table *t = red_table_new(3);
	char *txt;

	red_register(t);
	observe(t, HT_ROLE_SERVER, "GET", "/a", 200, 1000, 80, 1);
	observe(t, HT_ROLE_SERVER, "GET", "/b", 200, 1000, 80, 1);
	observe(t, HT_ROLE_SERVER, "GET", "/c", 200, 1000, 80, 1);
	observe(t, HT_ROLE_SERVER, "GET", "/d", 200, 1000, 80, 1);  /* 4th route on :80 */
	observe(t, HT_ROLE_SERVER, "GET", "/e", 200, 1000, 80, 1);
	observe(t, HT_ROLE_SERVER, "GET", "/a", 200, 1000, 80, 1);  /* known: still /a */
	observe(t, HT_ROLE_SERVER, "GET", "/d", 200, 1000, 81, 1);  /* other port has room */
	/* clients: the cap is per remote (service) port, not the ephemeral local one */
	observe(t, HT_ROLE_CLIENT, "GET", "/p", 200, 1000, 50001, 9000);
	observe(t, HT_ROLE_CLIENT, "GET", "/q", 200, 1000, 50002, 9000);
	observe(t, HT_ROLE_CLIENT, "GET", "/r", 200, 1000, 50003, 9000);
	observe(t, HT_ROLE_CLIENT, "GET", "/s", 200, 1000, 50004, 9000);
	txt = scrape();
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"GET\",status_class=\"2xx\",route=\"/a\"} 2");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"GET\",status_class=\"2xx\",route=\"/d\"} 1");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"GET\",status_class=\"2xx\",route=\"other\"} 2");
	expect_no(txt, "route=\"/e\"");
	expect_line(txt, "http_tracer_requests_total{role=\"client\",method=\"GET\",status_class=\"2xx\",route=\"other\"} 1");
	expect_no(txt, "route=\"/s\"");
	expect_line(txt, "http_tracer_requests_total{role=\"client\",method=\"GET\",status_class=\"2xx\",route=\"/r\"} 1");
	free(txt);
	assert_int_equal(red_table_lost(t), 0);
	red_table_free(t);
}

/* Runs of records with the same labels (the table remembers the last
 * series): every change of path, port, method, status class or role still
 * gets its own series, a refused route stays "other" when repeated, and
 * nothing counted twice or lost. */
static void test_repeats(void **state)
{
	struct red_table *t = red_table_new(1);
	char *txt;

	red_register(t);
	for (int i = 0; i < 3; i++)
		observe(t, HT_ROLE_SERVER, "GET", "/a", 200, 1000, 80, 1);
	observe(t, HT_ROLE_SERVER, "GET", "/b", 200, 1000, 80, 1);  /* over the cap: other */
	observe(t, HT_ROLE_SERVER, "GET", "/b", 200, 1000, 80, 1);  /* repeated: still other */
	observe(t, HT_ROLE_SERVER, "GET", "/a", 200, 1000, 80, 1);
	observe(t, HT_ROLE_SERVER, "GET", "/a", 200, 1000, 81, 1);  /* port (not a label) */
	observe(t, HT_ROLE_SERVER, "POST", "/a", 200, 1000, 80, 1); /* method */
	observe(t, HT_ROLE_SERVER, "GET", "/a", 500, 1000, 80, 1);  /* status class */
	observe(t, HT_ROLE_CLIENT, "GET", "/a", 200, 1000, 80, 80); /* role */
	observe(t, HT_ROLE_SERVER, "GET", "/a?x=1", 200, 1000, 80, 1); /* other bytes, same route */
	txt = scrape();
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"GET\",status_class=\"2xx\",route=\"/a\"} 6");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"GET\",status_class=\"2xx\",route=\"other\"} 2");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"POST\",status_class=\"2xx\",route=\"/a\"} 1");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"GET\",status_class=\"5xx\",route=\"/a\"} 1");
	expect_line(txt, "http_tracer_requests_total{role=\"client\",method=\"GET\",status_class=\"2xx\",route=\"/a\"} 1");
	expect_no(txt, "route=\"/b\"");
	free(txt);
	assert_int_equal(red_table_lost(t), 0);
	red_table_free(t);
}

static void test_default_cap(void **state)
{
	struct red_table *t = red_table_new(0);
	char path[32], *txt;

	red_register(t);
	for (int i = 0; i < RED_DEFAULT_ROUTES_PER_PORT + 7; i++) {
		snprintf(path, sizeof(path), "/page%c%c", 'a' + i / 26, 'a' + i % 26);
		observe(t, HT_ROLE_SERVER, "GET", path, 200, 1000, 8080, 1);
	}
	assert_int_equal(red_table_series(t), RED_DEFAULT_ROUTES_PER_PORT + 1);
	txt = scrape();
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"GET\",status_class=\"2xx\",route=\"other\"} 7");
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"GET\",status_class=\"2xx\",route=\"/pageaa\"} 1");
	free(txt);
	red_table_free(t);
}

static void test_many_routes_bounded(void **state)
{
	struct red_table *t = red_table_new(100000);
	char path[64];

	red_register(t);
	/* More distinct routes than RED_MAX_ROUTES over many ports. */
	for (int i = 0; i < RED_MAX_ROUTES + 500; i++) {
		snprintf(path, sizeof(path), "/r%dx", i);
		observe(t, HT_ROLE_SERVER, "GET", path, 200, 1000, (uint16_t)(1000 + i % 50), 1);
	}
	assert_true(red_table_series(t) <= RED_MAX_ROUTES + 1);
	red_table_free(t);
}

static void test_merge_tables(void **state)
{
	struct red_table *a = red_table_new(0), *b = red_table_new(0);
	char *txt;

	red_register(a);
	red_register(b);
	red_register(b); /* twice is harmless */
	observe(a, HT_ROLE_SERVER, "GET", "/api/users/9", 200, 2000000, 8080, 1);
	observe(b, HT_ROLE_SERVER, "GET", "/api/users/10", 200, 2000000, 8080, 1);
	observe(b, HT_ROLE_SERVER, "GET", "/api/users/11", 200, 2000000, 8080, 1);
	txt = scrape();
	expect_line(txt, "http_tracer_requests_total{" SRV "} 3");
	expect_line(txt, "http_tracer_request_duration_seconds_count{" SRV "} 3");
	expect_line(txt, "http_tracer_request_duration_seconds_bucket{" SRV ",le=\"+Inf\"} 3");
	free(txt);
	red_unregister(b);
	txt = scrape();
	expect_line(txt, "http_tracer_requests_total{" SRV "} 1");
	free(txt);
	red_table_free(a);
	red_table_free(b);
}

static void test_escaping(void **state)
{
	struct red_table *t = red_table_new(0);
	char *txt;

	red_register(t);
	observe(t, HT_ROLE_SERVER, "GET", "/a\"b\\c/\n", 200, 1000, 80, 1);
	txt = scrape();
	expect_line(txt, "http_tracer_requests_total{role=\"server\",method=\"GET\",status_class=\"2xx\",route=\"/a\\\"b\\\\c/_\"} 1");
	free(txt);
	red_table_free(t);
}

/* One writer observes while this thread scrapes: no lock, no crash, and
 * the final count is exact. */
#define CONC_N 20000
static void *writer(void *arg)
{
	struct red_table *t = arg;
	char path[32];

	rcu_register_thread();
	for (int i = 0; i < CONC_N; i++) {
		snprintf(path, sizeof(path), "/w%d", i % 200);
		observe(t, HT_ROLE_SERVER, "GET", path, 200, 1000, 80, 1);
	}
	rcu_unregister_thread();
	return NULL;
}

static uint64_t sum_requests(const char *txt)
{
	const char *key = "http_tracer_requests_total{";
	uint64_t sum = 0;

	for (const char *p = txt; (p = strstr(p, key)); p++) {
		const char *sp = strchr(p, '}');

		if (sp)
			sum += strtoull(sp + 2, NULL, 10);
	}
	return sum;
}

static void test_concurrent_scrape(void **state)
{
	struct red_table *t = red_table_new(1000);
	pthread_t th;
	uint64_t last = 0;
	char *txt;

	red_register(t);
	assert_int_equal(pthread_create(&th, NULL, writer, t), 0);
	for (int i = 0; i < 50; i++) {
		uint64_t s;

		txt = scrape();
		s = sum_requests(txt);
		assert_true(s >= last); /* monotonic */
		last = s;
		free(txt);
	}
	pthread_join(th, NULL);
	txt = scrape();
	assert_int_equal(sum_requests(txt), CONC_N);
	free(txt);
	red_table_free(t);
}

static int setup(void **state)
{
	rcu_register_thread();
	return 0;
}

static int teardown(void **state)
{
	rcu_unregister_thread();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_buckets),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_cap_per_port),
		cmocka_unit_test(test_repeats),
		cmocka_unit_test(test_default_cap),
		cmocka_unit_test(test_many_routes_bounded),
		cmocka_unit_test(test_merge_tables),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_concurrent_scrape),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
