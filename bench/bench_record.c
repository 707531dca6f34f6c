/*
 * bench_record.c - CPU per record of the sink steps, without a kernel or
 * a pipeline: build a record as the correlator does (request line, 10
 * headers, a 1 KiB body: the nginx response of bench/cpu.sh), redact it
 * with the default config, encode it as NDJSON.  Each step runs over a
 * block of records; the minimum over all blocks of thread CPU time per
 * record is printed for each step (the minimum: the machine is shared, and
 * noise only ever adds).  Linked with jemalloc like the tracer.  Prints
 * numbers, asserts nothing.  Compare builds side by side:
 *   make build/bench_record && build/bench_record [BLOCKS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/record.h"
#include "config/config.h"
#include "ht_event.h"
#include "sink/format.h"
#include "sink/redact.h"

#define BLOCK 500 /* records per block */

static const char *const resp_hdrs[][2] = {
	{ "Server", "nginx/1.22.1" },
	{ "Date", "Tue, 01 Dec 2026 12:23:19 GMT" },
	{ "Content-Type", "text/html" },
	{ "Content-Length", "1024" },
	{ "Last-Modified", "Tue, 01 Dec 2026 12:23:18 GMT" },
	{ "Connection", "keep-alive" },
	{ "ETag", "\"6b0ebc36-400\"" },
	{ "Accept-Ranges", "bytes" },
};

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void add_hdr(struct ht_record *r, struct ht_headers *h, const char *n, const char *v)
{
	ht_record_add_header(r, h, n, strlen(n), v, strlen(v));
}

static struct ht_record *build(const char *body, size_t body_len)
{
	struct ht_record *r = ht_record_new();

	if (!r)
		return NULL;
	r->time_unix_nano = 1796127799319686644ull;
	r->latency_ns = 13854;
	r->role = HT_ROLE_SERVER;
	r->pid = r->tid = 32627;
	strcpy(r->comm, "nginx");
	r->local_port = 18510;
	r->remote_port = 56672;
	ht_addr_parse("127.0.0.1", &r->local);
	ht_addr_parse("127.0.0.1", &r->remote);
	r->version_minor = 1;
	ht_record_set(r, &r->method, "GET", 3);
	ht_record_set(r, &r->target, "/bench.html", 11);
	r->path = r->target;
	add_hdr(r, &r->req_headers, "Host", "127.0.0.1:18510");
	r->host = r->req_headers.v ? r->req_headers.v[0].value : r->host;
	r->status = 200;
	ht_record_set(r, &r->reason, "OK", 2);
	for (size_t i = 0; i < sizeof(resp_hdrs) / sizeof(resp_hdrs[0]); i++)
		add_hdr(r, &r->resp_headers, resp_hdrs[i][0], resp_hdrs[i][1]);
	ht_record_body_append(r, &r->resp_body, body, body_len);
	r->resp_body_size = body_len;
	return r;
}

int main(int argc, char **argv)
{
	int blocks = argc > 1 ? atoi(argv[1]) : 300;
	struct ht_config *c = ht_config_defaults();
	static struct ht_record *rs[BLOCK];
	double best[3] = { 1e9, 1e9, 1e9 };
	struct ht_buf out = { 0 };
	char body[1024];

	if (getenv("HT_ESC_LEVEL")) /* compare the escaper's levels (format.h) */
		format_esc_level(atoi(getenv("HT_ESC_LEVEL")));
	if (!c || blocks < 1) {
		fprintf(stderr, "usage: bench_record [BLOCKS]\n");
		return 2;
	}
	memset(body, 'a', sizeof(body));
	for (int b = 0; b < blocks; b++) {
		double t[4];

		t[0] = cpu_now();
		for (int i = 0; i < BLOCK; i++)
			rs[i] = build(body, sizeof(body));
		t[1] = cpu_now();
		for (int i = 0; i < BLOCK; i++)
			if (rs[i])
				ht_redact(c, rs[i]);
		t[2] = cpu_now();
		out.len = 0;
		for (int i = 0; i < BLOCK; i++)
			if (rs[i])
				format_record(HT_FMT_NDJSON, rs[i], &out);
		t[3] = cpu_now();
		for (int i = 0; i < BLOCK; i++)
			ht_record_free(rs[i]);
		for (int k = 0; k < 3; k++)
			if (t[k + 1] - t[k] < best[k])
				best[k] = t[k + 1] - t[k];
	}
	printf("bench_record: %d blocks of %d records, %zu bytes of NDJSON per record\n", blocks,
	       BLOCK, out.len / BLOCK);
	printf("ns/record (min over blocks): build %.0f  redact %.0f  format %.0f  total %.0f\n",
	       best[0] / BLOCK * 1e9, best[1] / BLOCK * 1e9, best[2] / BLOCK * 1e9,
	       (best[0] + best[1] + best[2]) / BLOCK * 1e9);
	ht_buf_free(&out);
	ht_config_free(c);
	return 0;
}
