/* test_metrics.c - the /metrics and /health server over real sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <urcu.h>

#include "base/buf.h"
#include "source/capture.h"
#include "stream/httpp.h"
#include "ht_event.h"
#include "observe/metrics.h"
#include "base/record.h"
#include "observe/red.h"
#include "base/stats.h"

#define SAFETY_MS 15000 /* only so that a broken server cannot hang the test */

static struct metrics_server *srv;
static int port;

/* ---- fake clock for heartbeats */
static uint64_t fake_now = 1000000000ull;
static uint64_t fake_clock(void)
{
	return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

/* ---- a tiny HTTP client */

static int dial(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the server may have answered and closed already */
		p += w;
		n -= (size_t)w;
	}
}

/* Reads until EOF; returns a NUL-terminated malloc'd response. */
static char *read_all(int fd)
{
	struct ht_buf b = { 0 };
	char tmp[4096];

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, SAFETY_MS) != 1)
			fail_msg("server did not answer within the safety bound");
		n = recv(fd, tmp, sizeof(tmp), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		assert_int_equal(ht_buf_put(&b, tmp, (size_t)n), 0);
	}
	assert_int_equal(ht_buf_putc(&b, '\0'), 0);
	return b.p;
}

static char *request(const char *raw, size_t len)
{
	int fd = dial();
	char *resp;

	send_all(fd, raw, len);
	resp = read_all(fd);
	close(fd);
	return resp;
}

static char *get(const char *path)
{
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n", path);
	return request(req, strlen(req));
}

static int status_of(const char *resp)
{
	int code = 0;

	if (sscanf(resp, "HTTP/1.1 %d ", &code) != 1)
		fail_msg("not an HTTP response: \"%.80s\"", resp);
	return code;
}

static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	assert_non_null(p);
	return p + 4;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\r'))
			return true;
	return false;
}

static void expect_line(const char *text, const char *line)
{
	if (!has_line(text, line))
		fail_msg("expected line \"%s\" in:\n%s", line, text);
}

/* ---- sources */

static struct ht_stats st_reader, st_shard0, st_shard1;

static int kernel_counters(void *ctx, struct capture_counters *out)
{
	int *calls = ctx;

	(*calls)++;
	memset(out, 0, sizeof(*out));
	out->filtered[0] = 11;   /* "family" */
	out->filtered[1] = 3;    /* "port" */
	out->filtered[2] = 4;    /* "protocol": the kernel's not-HTTP decision */
	out->filtered[3] = 6;    /* "path": same name as a user-space reason */
	out->ringbuf_full = 5;
	out->events_sent = 99;
	out->conns_evicted = 8;
	out->bytes_captured = 1000;
	out->bytes_uncaptured = 200;
	out->bytes_lost = 30;
	return 0;
}

static const char *kernel_names(int i)
{
	static const char *const names[] = { "family", "port", "protocol", "path", "odd\"name" };

	return i >= 0 && i < 5 ? names[i] : NULL;
}

static int setup(void **state)
{
	char err[256] = "";

	rcu_register_thread();
	ht_stats_register(&st_reader, "reader", 0);
	ht_stats_register(&st_shard0, "shard", 0);
	ht_stats_register(&st_shard1, "shard", 1);
	metrics_set_clock(fake_clock);
	srv = metrics_start("127.0.0.1:0", err, sizeof(err));
	if (!srv)
		fail_msg("metrics_start: %s", err);
	port = metrics_port(srv);
	assert_true(port > 0);
	return 0;
}

static int teardown(void **state)
{
	metrics_stop(srv);
	metrics_set_clock(NULL);
	rcu_unregister_thread();
	return 0;
}

static void test_default_listen(void **state)
{
	assert_string_equal(METRICS_DEFAULT_LISTEN, "127.0.0.1:9090");
}

static int promtool_check(const char *text)
{
	char path[] = "/tmp/test_metrics_XXXXXX", cmd[128];
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	{
		FILE *p = popen(cmd, "r");
		char line[512];

		assert_non_null(p);
		while (fgets(line, sizeof(line), p))
			print_message("promtool: %s", line);
		rc = pclose(p);
	}
	unlink(path);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_metrics_page(void **state)
{
	struct red_table *t = red_table_new(0);
	struct ht_record *r = ht_record_new();
	int calls = 0;
	char *resp, line[160];
	const char *body;

	HT_ADD(&st_reader, HT_C_EVENTS_RECEIVED, 7);
	HT_ADD(&st_reader, HT_C_DROP_QUEUE_FULL, 2);
	HT_ADD(&st_shard0, HT_C_EVENTS_PROCESSED, 4);
	HT_ADD(&st_shard1, HT_C_EVENTS_PROCESSED, 3);
	HT_ADD(&st_shard0, HT_C_FILTERED_PATH, 1);
	HT_ADD(&st_shard0, HT_C_RECORDS_WRITTEN, 12);
	HT_ADD(&st_shard0, HT_C_BYTES_LOST, 1234);
	ht_stat_set(&st_shard0.c[HT_C_QUEUE_DEPTH], 17);
	ht_stat_set(&st_shard1.c[HT_C_QUEUE_DEPTH], 5);
	ht_stat_set(&st_shard0.c[HT_C_STREAMS_ACTIVE], 8);
	ht_stat_set(&st_shard1.c[HT_C_STREAMS_ACTIVE], 2);
	ht_stat_add(&st_shard1.parse_err[HTTPP_ERR_CL_AND_TE], 2);
	ht_stats_observe_latency(&st_shard0, 30000);      /* 30 us */
	ht_stats_observe_latency(&st_shard1, 2000000000); /* 2 s: +Inf */
	metrics_set_kernel_source(kernel_counters, &calls);
	metrics_set_kernel_filter_names(kernel_names);
	metrics_count_reload(true);
	metrics_count_reload(false);
	metrics_count_reload(true);
	metrics_set_build_info("1.2.3", "abc\"def");

	red_register(t);
	r->role = HT_ROLE_SERVER;
	r->status = 404;
	r->latency_ns = 1500000;
	ht_record_set(r, &r->method, "DELETE", 6);
	ht_record_set(r, &r->path, "/v1/items/42", 12);
	red_observe(t, r);

	resp = get("/metrics");
	assert_int_equal(status_of(resp), 200);
	assert_non_null(strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(resp, "\r\nConnection: close\r\n"));
	body = body_of(resp);
	assert_true(calls >= 1);
	expect_line(body, "http_tracer_events_received_total 7");
	expect_line(body, "http_tracer_events_processed_total 7");
	expect_line(body, "http_tracer_records_written_total 12");
	expect_line(body, "http_tracer_bytes_lost_total 1234");
	expect_line(body, "http_tracer_streams_active 10");
	expect_line(body, "http_tracer_events_filtered_total{reason=\"family\"} 11");
	expect_line(body, "http_tracer_events_filtered_total{reason=\"port\"} 3");
	expect_line(body, "http_tracer_events_filtered_total{reason=\"protocol\"} 4");
	expect_line(body, "http_tracer_events_filtered_total{reason=\"path\"} 7");
	/* not HTTP is the kernel's decision (reason "protocol"): user space
	 * has no producer for a reason of its own, so none is rendered */
	assert_null(strstr(body, "reason=\"not_http\""));
	expect_line(body, "http_tracer_events_filtered_total{reason=\"odd\\\"name\"} 0");
	expect_line(body, "http_tracer_events_filtered_total{reason=\"sampling\"} 0");
	expect_line(body, "http_tracer_events_dropped_total{reason=\"ringbuf_full\"} 5");
	expect_line(body, "http_tracer_events_dropped_total{reason=\"queue_full\"} 2");
	expect_line(body, "http_tracer_events_dropped_total{reason=\"malformed_event\"} 0");
	expect_line(body, "http_tracer_kernel_events_submitted_total 99");
	expect_line(body, "http_tracer_kernel_connections_evicted_total 8");
	expect_line(body, "http_tracer_kernel_bytes_total{kind=\"captured\"} 1000");
	expect_line(body, "http_tracer_kernel_bytes_total{kind=\"uncaptured\"} 200");
	expect_line(body, "http_tracer_kernel_bytes_total{kind=\"lost\"} 30");
	expect_line(body, "http_tracer_shard_queue_depth{shard=\"0\"} 17");
	expect_line(body, "http_tracer_shard_queue_depth{shard=\"1\"} 5");
	snprintf(line, sizeof(line), "http_tracer_parse_errors_total{reason=\"%s\"} 2",
		 httpp_err_name(HTTPP_ERR_CL_AND_TE));
	expect_line(body, line);
	expect_line(body, "http_tracer_processing_latency_seconds_bucket{le=\"1e-05\"} 0");
	expect_line(body, "http_tracer_processing_latency_seconds_bucket{le=\"5e-05\"} 1");
	expect_line(body, "http_tracer_processing_latency_seconds_bucket{le=\"1\"} 1");
	expect_line(body, "http_tracer_processing_latency_seconds_bucket{le=\"+Inf\"} 2");
	expect_line(body, "http_tracer_processing_latency_seconds_count 2");
	expect_line(body, "http_tracer_processing_latency_seconds_sum 2.000030000");
	expect_line(body, "http_tracer_config_reloads_total{result=\"success\"} 2");
	expect_line(body, "http_tracer_config_reloads_total{result=\"failure\"} 1");
	expect_line(body, "http_tracer_build_info{version=\"1.2.3\",commit=\"abc\\\"def\"} 1");
	expect_line(body, "http_tracer_requests_total{role=\"server\",method=\"DELETE\",status_class=\"4xx\",route=\"/v1/items/{id}\"} 1");
	expect_line(body, "# TYPE http_tracer_events_filtered_total counter");
	expect_line(body, "# TYPE http_tracer_shard_queue_depth gauge");
	assert_non_null(strstr(body, "\nprocess_resident_memory_bytes "));
	assert_non_null(strstr(body, "\nprocess_cpu_seconds_total "));
	assert_int_equal(promtool_check(body), 0);
	free(resp);

	/* Without a kernel source, ringbuf_full falls back to the stats counter. */
	metrics_set_kernel_source(NULL, NULL);
	HT_ADD(&st_reader, HT_C_DROP_RINGBUF_FULL, 9);
	resp = get("/metrics?x=1");
	assert_int_equal(status_of(resp), 200);
	expect_line(body_of(resp), "http_tracer_events_dropped_total{reason=\"ringbuf_full\"} 9");
	assert_null(strstr(body_of(resp), "reason=\"family\""));
	assert_int_equal(promtool_check(body_of(resp)), 0);
	free(resp);

	red_table_free(t);
	ht_record_free(r);
}

static void expect_health(int code, const char *needle)
{
	char *resp = get("/health");

	if (status_of(resp) != code || !strstr(body_of(resp), needle))
		fail_msg("want %d with \"%s\", got:\n%s", code, needle, resp);
	free(resp);
}

static void test_health(void **state)
{
	int a, b;

	metrics_set_stale_ms(0);
	metrics_set_probes_attached(false);
	expect_health(503, "probes not attached");
	metrics_set_probes_attached(true);
	expect_health(200, "ok");

	a = metrics_thread_register("shard", 0);
	b = metrics_thread_register("writer", 0);
	assert_true(a >= 0 && b >= 0 && a != b);
	expect_health(200, "ok");
	{
		char *resp = get("/metrics"), line[128];

		snprintf(line, sizeof(line),
			 "http_tracer_thread_heartbeat_age_seconds{thread=\"shard-0\",slot=\"%d\"} 0.000", a);
		expect_line(body_of(resp), line);
		expect_line(body_of(resp), "http_tracer_probes_attached 1");
		free(resp);
	}
	fake_now += 4000000000ull;              /* 4 s: within 5 s */
	expect_health(200, "ok");
	metrics_thread_alive(a);
	fake_now += 2000000000ull;              /* writer now 6 s stale */
	expect_health(503, "thread writer-0:");
	metrics_thread_alive(b);
	expect_health(200, "ok");
	metrics_thread_alive(a);
	fake_now += 5000000000ull;              /* exactly 5 s: still fine */
	expect_health(200, "ok");
	fake_now += 1;                          /* shard-0 is 5 s + 1 ns old */
	expect_health(503, "shard-0");

	metrics_set_stale_ms(100000);           /* configurable bound */
	expect_health(200, "ok");
	metrics_set_stale_ms(0);
	metrics_thread_alive(b);
	metrics_thread_unregister(a);           /* a thread that left on purpose */
	fake_now += 1000000000ull * 60;         /* its slot no longer counts */
	metrics_thread_alive(b);
	expect_health(200, "ok");
	metrics_thread_unregister(b);

	metrics_set_probes_attached(false);
	expect_health(503, "probes not attached");
	metrics_set_probes_attached(true);

	/* slots are bounded */
	{
		int slots[METRICS_MAX_THREADS];
		int n = 0;

		while (n < METRICS_MAX_THREADS && (slots[n] = metrics_thread_register("x", n)) >= 0)
			n++;
		assert_int_equal(n, METRICS_MAX_THREADS);
		assert_int_equal(metrics_thread_register("y", 0), -ENOSPC);
		for (int i = 0; i < n; i++)
			metrics_thread_unregister(slots[i]);
		metrics_thread_alive(-1);                  /* ignored */
		metrics_thread_alive(METRICS_MAX_THREADS); /* ignored */
	}
}

static void test_methods_and_paths(void **state)
{
	static const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
	static const char head[] = "HEAD /metrics HTTP/1.1\r\n\r\n";
	static const char bad[] = "GET /metrics\r\n\r\n";
	static const char http2[] = "GET /metrics HTTP/2.0\r\n\r\n";
	static const char lf_only[] = "\r\nGET /health HTTP/1.0\nHost: x\n\n";
	char *resp;

	resp = request(post, sizeof(post) - 1);
	assert_int_equal(status_of(resp), 405);
	assert_non_null(strstr(resp, "\r\nAllow: GET\r\n"));
	free(resp);
	resp = request(head, sizeof(head) - 1);
	assert_int_equal(status_of(resp), 405);
	free(resp);
	resp = request(bad, sizeof(bad) - 1);
	assert_int_equal(status_of(resp), 400);
	free(resp);
	resp = request(http2, sizeof(http2) - 1);
	assert_int_equal(status_of(resp), 400);
	free(resp);
	resp = request(lf_only, sizeof(lf_only) - 1);
	assert_int_equal(status_of(resp), 200);
	free(resp);
	resp = get("/nope");
	assert_int_equal(status_of(resp), 404);
	free(resp);
	resp = get("/metricsx");
	assert_int_equal(status_of(resp), 404);
	free(resp);
}

static void test_oversized(void **state)
{
	size_t n = METRICS_MAX_HEAD_BYTES + 1000;
	char *req = malloc(n), *resp;

	assert_non_null(req);
	memcpy(req, "GET /metrics HTTP/1.1\r\nX-Big: ", 30);
	memset(req + 30, 'a', n - 30);
	resp = request(req, n);
	assert_int_equal(status_of(resp), 431);
	free(resp);
	/* exactly at the limit with the blank line inside still works */
	memset(req, 'a', n);
	memcpy(req, "GET /health HTTP/1.1\r\nX-Big: ", 29);
	memcpy(req + METRICS_MAX_HEAD_BYTES - 4, "\r\n\r\n", 4);
	resp = request(req, METRICS_MAX_HEAD_BYTES);
	assert_int_equal(status_of(resp), 200);
	free(resp);
	free(req);
}

static void test_slow_clients(void **state)
{
	int idle[METRICS_MAX_CONNS + 8];
	int partial = dial();
	char *resp, c;

	/* one client sends half a head and stops, one sends nothing */
	send_all(partial, "GET /metr", 9);
	idle[0] = dial();
	resp = get("/metrics");
	assert_int_equal(status_of(resp), 200);
	free(resp);
	/* a flood of idle connections: more than the server keeps */
	for (int i = 1; i < METRICS_MAX_CONNS + 8; i++)
		idle[i] = dial();
	resp = get("/health");
	assert_int_equal(status_of(resp), 200);
	free(resp);
	/* the silent client is closed by the server (timeout or eviction) */
	{
		struct pollfd pfd = { .fd = idle[0], .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, SAFETY_MS), 1);
		assert_true(recv(idle[0], &c, 1, 0) <= 0);
	}
	for (int i = 0; i < METRICS_MAX_CONNS + 8; i++)
		close(idle[i]);
	close(partial);
}

static void test_timeout_closes(void **state)
{
	int fd = dial();
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	/* nothing sent: after METRICS_CONN_TIMEOUT_MS the server closes */
	assert_int_equal(poll(&pfd, 1, SAFETY_MS), 1);
	assert_true(recv(fd, &c, 1, 0) <= 0);
	close(fd);
}

static void test_bad_listen(void **state)
{
	static const char *const bad[] = {
		"nonsense", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:80x",
		"::1:9090", "[::1]9090", "[::1", ":9090", "no.such.host.invalid:9090",
	};
	char err[256], addr[64];
	struct metrics_server *m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		m = metrics_start(bad[i], err, sizeof(err));
		if (m) {
			metrics_stop(m);
			fail_msg("accepted \"%s\"", bad[i]);
		}
		assert_true(strlen(err) > 0);
	}
	/* the port is taken by the test server */
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_null(metrics_start(addr, err, sizeof(err)));
	if (!strstr(err, "cannot listen"))
		fail_msg("unexpected error: %s", err);
	/* IPv6 loopback, when the host has it */
	m = metrics_start("[::1]:0", err, sizeof(err));
	if (m) {
		assert_true(metrics_port(m) > 0);
		metrics_stop(m);
	}
	metrics_stop(NULL);
}

static void test_render_direct(void **state)
{
	struct ht_buf b = { 0 };

	assert_int_equal(metrics_render(&b), 0);
	assert_int_equal(ht_buf_putc(&b, '\0'), 0);
	assert_int_equal(promtool_check(b.p), 0);
	ht_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_listen),
		cmocka_unit_test(test_metrics_page),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_methods_and_paths),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_slow_clients),
		cmocka_unit_test(test_timeout_closes),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_render_direct),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
