/*
 * test_clickhouse.c - the ClickHouse row encoder and DDL: one exact row,
 * every CH_COLUMNS column in the row and the DDL in the same order (so the
 * table and the rows agree), header maps as two parallel arrays, escapes,
 * appending to a buffer that already holds rows, and a missing ClickHouse
 * (the sink opens all the same: the pipeline never waits for it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/record.h"
#include "config/config.h"
#include "ht_event.h"
#include "sink/clickhouse.h"

static struct ht_record *known_record(void)
{
	struct ht_record *r = ht_record_new();

	assert_non_null(r);
	r->time_unix_nano = 1795590062123456789ull;
	r->latency_ns = 1500;
	r->role = HT_ROLE_SERVER;
	r->version_minor = 1;
	r->pid = 42;
	r->tid = 43;
	strcpy(r->comm, "nginx");
	assert_int_equal(ht_addr_parse("127.0.0.1", &r->local), 0);
	r->local_port = 80;
	assert_int_equal(ht_addr_parse("::1", &r->remote), 0);
	r->remote_port = 51234;
	r->status = 200;
	r->req_body_size = 0;
	r->resp_body_size = 5;
	r->flags = HT_RF_GAP | HT_RF_REDACTED | HT_RF_SAMPLED_OUT;
	assert_int_equal(ht_record_set(r, &r->method, "GET", 3), 0);
	assert_int_equal(ht_record_set(r, &r->target, "/a?x=1", 6), 0);
	assert_int_equal(ht_record_set(r, &r->path, "/a", 2), 0);
	assert_int_equal(ht_record_set(r, &r->host, "example.com", 11), 0);
	assert_int_equal(ht_record_set(r, &r->reason, "OK", 2), 0);
	assert_int_equal(ht_record_add_header(r, &r->req_headers, "Host", 4, "example.com", 11), 0);
	assert_int_equal(ht_record_add_header(r, &r->req_headers, "Accept", 6, "*/*", 3), 0);
	assert_int_equal(ht_record_add_header(r, &r->resp_headers, "Content-Length", 14, "5", 1), 0);
	assert_int_equal(ht_record_set(r, &r->resp_body, "h\"i\n\xff", 5), 0);
	assert_int_equal(ht_record_set(r, &r->pod, "web-1", 5), 0);
	return r;
}

static void test_row(void **state)
{
	static const char want[] =
		"{\"time\":1795590062,\"time_unix_nano\":1795590062123456789,\"latency_ns\":1500,"
		"\"role\":\"server\",\"pid\":42,\"tid\":43,\"comm\":\"nginx\","
		"\"local_addr\":\"127.0.0.1\",\"local_port\":80,\"remote_addr\":\"::1\",\"remote_port\":51234,"
		"\"version\":\"1.1\",\"method\":\"GET\",\"target\":\"/a?x=1\",\"path\":\"/a\","
		"\"host\":\"example.com\","
		"\"req_header_names\":[\"host\",\"accept\"],\"req_header_values\":[\"example.com\",\"*/*\"],"
		"\"resp_header_names\":[\"content-length\"],\"resp_header_values\":[\"5\"],"
		"\"req_body\":\"\",\"resp_body\":\"h\\\"i\\n\\u00ff\",\"req_body_size\":0,\"resp_body_size\":5,"
		"\"status\":200,\"reason\":\"OK\",\"flags\":[\"gap\",\"redacted\"],"
		"\"container_id\":\"\",\"pod\":\"web-1\",\"namespace\":\"\",\"container\":\"\","
		"\"workload_kind\":\"\",\"workload\":\"\",\"remote_pod\":\"\",\"remote_namespace\":\"\","
		"\"remote_service\":\"\",\"tls\":0,\"node\":\"n\\\"1\"}\n";
	struct ht_record *r = known_record();
	struct ht_buf b = { 0 };

	assert_int_equal(ht_buf_puts(&b, "earlier row\n"), 0);
	assert_int_equal(clickhouse_encode_row(r, "n\"1", &b), 0);
	assert_int_equal(b.len, 12 + sizeof(want) - 1);
	assert_memory_equal(b.p, "earlier row\n", 12);
	if (memcmp(b.p + 12, want, sizeof(want) - 1))
		fail_msg("got  %.*s\nwant %s", (int)(b.len - 12), b.p + 12, want);
	ht_buf_free(&b);
	ht_record_free(r);
}

/* The row's keys and the DDL's columns are both CH_COLUMNS, in order. */
static void test_columns_agree(void **state)
{
#define NAME_(name, type) #name,
	static const char *const cols[] = { CH_COLUMNS(NAME_) };
#undef NAME_
	struct ht_record *r = known_record();
	struct ht_buf row = { 0 }, ddl = { 0 };
	const char *rp, *dp;
	char key[64];

	assert_int_equal(clickhouse_encode_row(r, "node", &row), 0);
	assert_int_equal(clickhouse_ddl("db", "t", &ddl), 0);
	assert_int_equal(ht_buf_putc(&row, '\0'), 0);
	assert_int_equal(ht_buf_putc(&ddl, '\0'), 0);
	assert_non_null(strstr(ddl.p, "CREATE TABLE IF NOT EXISTS db.t\n("));
	assert_non_null(strstr(ddl.p, "ENGINE = MergeTree()\nPARTITION BY toDate(time)\n"
				      "ORDER BY (toStartOfHour(time), namespace, pod, comm, path, time)"));
	rp = row.p;
	dp = ddl.p;
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		snprintf(key, sizeof(key), "\"%s\":", cols[i]);
		rp = strstr(rp, key);
		if (!rp)
			fail_msg("row: column %s missing or out of order", cols[i]);
		snprintf(key, sizeof(key), "    %s ", cols[i]);
		dp = strstr(dp, key);
		if (!dp)
			fail_msg("DDL: column %s missing or out of order", cols[i]);
	}
	assert_null(strstr(ddl.p, ",\n)")); /* no comma after the last column */
	ht_buf_free(&row);
	ht_buf_free(&ddl);
	ht_record_free(r);
}

/* The Kubernetes fields and tls have their columns; the record's own node
 * (kubernetes.nodeName) wins over the sink's default. */
static void test_k8s_columns(void **state)
{
	struct ht_record *r = known_record();
	struct ht_buf b = { 0 };

	assert_int_equal(ht_record_set(r, &r->workload_kind, "Deployment", 10), 0);
	assert_int_equal(ht_record_set(r, &r->workload, "web", 3), 0);
	assert_int_equal(ht_record_set(r, &r->remote_service, "cart", 4), 0);
	assert_int_equal(ht_record_set(r, &r->node, "node-a", 6), 0);
	r->tls = true;
	assert_int_equal(clickhouse_encode_row(r, "default-node", &b), 0);
	assert_int_equal(ht_buf_putc(&b, '\0'), 0);
	assert_non_null(strstr(b.p, "\"workload_kind\":\"Deployment\",\"workload\":\"web\","));
	assert_non_null(strstr(b.p, "\"remote_service\":\"cart\",\"tls\":1,\"node\":\"node-a\"}\n"));
	assert_null(strstr(b.p, "default-node"));
	ht_buf_free(&b);
	ht_record_free(r);
}

/* An empty record: no headers, unknown addresses, no flags. */
static void test_empty_record(void **state)
{
	struct ht_record *r = ht_record_new();
	struct ht_buf b = { 0 };

	assert_non_null(r);
	assert_int_equal(clickhouse_encode_row(r, "", &b), 0);
	assert_int_equal(ht_buf_putc(&b, '\0'), 0);
	assert_non_null(strstr(b.p, "\"local_addr\":\"\",\"local_port\":0"));
	assert_non_null(strstr(b.p, "\"req_header_names\":[],\"req_header_values\":[]"));
	assert_non_null(strstr(b.p, "\"role\":\"unknown\""));
	assert_non_null(strstr(b.p, "\"flags\":[]"));
	assert_non_null(strstr(b.p, "\"node\":\"\"}\n"));
	ht_buf_free(&b);
	ht_record_free(r);
}

/* Nothing listens on the URL: the sink opens (the sender retries in the
 * background), and closing it with nothing queued is immediate. */
static void test_open_without_server(void **state)
{
	struct ht_config *c = ht_config_defaults();
	struct sink s = { 0 };
	char err[256] = "";

	assert_non_null(c);
	assert_int_equal(clickhouse_sink_open(c, false, &s, err, sizeof(err)), 0); /* no url: none */
	free(c->ch_url);
	c->ch_url = strdup("http://127.0.0.1:1");
	free(c->ch_password_file);
	c->ch_password_file = strdup("/nonexistent/pw");
	assert_int_equal(clickhouse_sink_open(c, false, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "passwordFile /nonexistent/pw"));
	free(c->ch_password_file);
	c->ch_password_file = strdup("");
	assert_int_equal(clickhouse_sink_open(c, false, &s, err, sizeof(err)), 1);
	assert_string_equal(s.ops->name, "clickhouse");
	s.ops->close(s.ctx, 0);
	ht_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row),
		cmocka_unit_test(test_columns_agree),
		cmocka_unit_test(test_k8s_columns),
		cmocka_unit_test(test_empty_record),
		cmocka_unit_test(test_open_without_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
