/*
 * bench_record.c - CPU per record of the sink steps, without a kernel or
 * a pipeline: build a record as the correlator does (request line, 10
 * headers, a 1 KiB body: the nginx response of bench/cpu.sh), redact it
 * with the default config, encode it as NDJSON.  Each step runs over a
 * block of records; the minimum over all blocks of thread CPU time per
 * record is printed for each step (the minimum: the machine is shared, and
 * noise only ever adds).  Linked with jemalloc like the tracer.  Prints
 * numbers, asserts nothing.  Compare builds side by side:
 *   make build/bench_record && build/bench_record [BLOCKS [nginx|mixed]]
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

/* Absent from builds before it (the bench also links against older libht.a). */
extern int format_esc_level(int want) __attribute__((weak));

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

/* A browser's request (the "mixed" case): 16 headers, cookies, quotes. */
static const char *const browser_hdrs[][2] = {
	{ "Host", "shop.example.com" },
	{ "User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" },
	{ "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
	{ "Accept-Language", "en-US,en;q=0.5" },
	{ "Accept-Encoding", "gzip, deflate, br, zstd" },
	{ "Referer", "https://shop.example.com/cart?step=2" },
	{ "Content-Type", "application/json" },
	{ "Content-Length", "1024" },
	{ "Origin", "https://shop.example.com" },
	{ "Connection", "keep-alive" },
	{ "Cookie", "session=3f2a9c; theme=dark; consent=\"v2:ads=0\"" },
	{ "Sec-Fetch-Dest", "empty" },
	{ "Sec-Fetch-Mode", "cors" },
	{ "Sec-Fetch-Site", "same-origin" },
	{ "Priority", "u=4" },
	{ "X-Request-Id", "0d6c4f0e-6a51-4c1b-9d0f-1b5c2a7e9f31" },
};

struct bcase {
	const char *name;
	const char *const (*req)[2];
	size_t n_req;
	const char *body; /* the response body */
	size_t body_len;
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

static struct ht_record *build(const struct bcase *k)
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
	for (size_t i = 0; i < k->n_req; i++)
		add_hdr(r, &r->req_headers, k->req[i][0], k->req[i][1]);
	r->host = r->req_headers.v ? r->req_headers.v[0].value : r->host;
	r->status = 200;
	ht_record_set(r, &r->reason, "OK", 2);
	for (size_t i = 0; i < sizeof(resp_hdrs) / sizeof(resp_hdrs[0]); i++)
		add_hdr(r, &r->resp_headers, resp_hdrs[i][0], resp_hdrs[i][1]);
	ht_record_body_append(r, &r->resp_body, k->body, k->body_len);
	r->resp_body_size = k->body_len;
	return r;
}

/* 1 KiB of JSON-ish text: quotes every few bytes, a newline per line, some UTF-8. */
static void mixed_body(char *p, size_t n)
{
	static const char line[] =
		"{\"id\":1842,\"name\":\"Caf\xc3\xa9 cr\xc3\xa8me \\u00e9\",\"price\":\"4.20 \xe2\x82\xac\","
		"\"tags\":[\"hot\",\"sweet\"],\"note\":\"tab\there\"}\n";
	size_t k = 0;

	while (k < n) {
		size_t m = n - k < sizeof(line) - 1 ? n - k : sizeof(line) - 1;

		memcpy(p + k, line, m);
		k += m;
	}
}

static void run(const struct bcase *k, const struct ht_config *c, int blocks)
{
	static struct ht_record *rs[BLOCK];
	double best[4] = { 1e9, 1e9, 1e9, 1e9 };
	struct ht_buf out = { 0 };
	size_t bytes = 0;

	for (int b = 0; b < blocks; b++) {
		double t[4], one;

		t[0] = cpu_now();
		for (int i = 0; i < BLOCK; i++)
			rs[i] = build(k);
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
		bytes = out.len / BLOCK;
		for (int i = 0; i < BLOCK; i++)
			ht_record_free(rs[i]);
		/* as a shard does: build, redact, encode and free one record at a time */
		one = cpu_now();
		out.len = 0;
		for (int i = 0; i < BLOCK; i++) {
			struct ht_record *r = build(k);

			if (!r)
				continue;
			ht_redact(c, r);
			format_record(HT_FMT_NDJSON, r, &out);
			ht_record_free(r);
		}
		one = cpu_now() - one;
		for (int j = 0; j < 3; j++)
			if (t[j + 1] - t[j] < best[j])
				best[j] = t[j + 1] - t[j];
		if (one < best[3])
			best[3] = one;
	}
	printf("%-6s %zu bytes of NDJSON per record; ns/record (min over blocks): build %.0f  redact %.0f  format %.0f  total %.0f  one-by-one %.0f\n",
	       k->name, bytes, best[0] / BLOCK * 1e9, best[1] / BLOCK * 1e9, best[2] / BLOCK * 1e9,
	       (best[0] + best[1] + best[2]) / BLOCK * 1e9, best[3] / BLOCK * 1e9);
	ht_buf_free(&out);
}

int main(int argc, char **argv)
{
	int blocks = argc > 1 ? atoi(argv[1]) : 300;
	struct ht_config *c = ht_config_defaults();
	static char body_a[1024], body_m[1024];
	const struct bcase cases[] = {
		{ "nginx", resp_hdrs /* unused */, 0, body_a, sizeof(body_a) },
		{ "mixed", browser_hdrs, sizeof(browser_hdrs) / sizeof(browser_hdrs[0]), body_m,
		  sizeof(body_m) },
	};
	static const char *const host[][2] = { { "Host", "127.0.0.1:18510" } };
	struct bcase nginx = cases[0];

	if (getenv("HT_ESC_LEVEL") && format_esc_level) /* compare the escaper's levels (format.h) */
		format_esc_level(atoi(getenv("HT_ESC_LEVEL")));
	if (!c || blocks < 1) {
		fprintf(stderr, "usage: bench_record [BLOCKS [nginx|mixed]]\n");
		return 2;
	}
	memset(body_a, 'a', sizeof(body_a));
	mixed_body(body_m, sizeof(body_m));
	nginx.req = host;
	nginx.n_req = 1;
	printf("bench_record: %d blocks of %d records per case\n", blocks, BLOCK);
	if (argc <= 2 || !strcmp(argv[2], "nginx"))
		run(&nginx, c, blocks);
	if (argc <= 2 || !strcmp(argv[2], "mixed"))
		run(&cases[1], c, blocks);
	ht_config_free(c);
	return 0;
}
