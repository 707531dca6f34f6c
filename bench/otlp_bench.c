/*
 * otlp_bench.c - how many spans/s one OTLP exporter sustains, and its CPU
 * per span: N copies of a typical server record (6 request and 4 response
 * headers, a traceparent on every other one) are encoded by this thread
 * the way a shard does (batches of 100) and submitted to a real OTLP sink
 * (sink/otlp.c: delivery queue, libcurl, gzip) that posts them to URL.
 * The receiver should be cheaper than the exporter (bench/otlp.sh uses an
 * nginx `return 200`): this measures our side only.
 *
 *   otlp_bench URL N pb|pb-gzip|json|json-gzip
 *
 * Prints one line: mode, spans, seconds, spans/s, encode ns/span, export
 * CPU ns/span, encoded (uncompressed) bytes/span, sends, retries, and for
 * scale the CPU of the same records' NDJSON lines (format_record).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "base/record.h"
#include "config/config.h"
#include "ht_event.h"
#include "sink/delivery.h"
#include "sink/format.h"
#include "sink/otlp.h"
#include "sink/sink.h"

#define BATCH 100

static double now_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set(struct ht_record *r, struct ht_str *s, const char *v)
{
	ht_record_set(r, s, v, strlen(v));
}

static void hdr(struct ht_record *r, struct ht_headers *h, const char *n, const char *v)
{
	ht_record_add_header(r, h, n, strlen(n), v, strlen(v));
}

static struct ht_record *typical(int traced)
{
	struct ht_record *r = ht_record_new();

	r->time_unix_nano = 1796000000000000000ull;
	r->latency_ns = 1234567;
	r->role = HT_ROLE_SERVER;
	r->version_minor = 1;
	r->status = 200;
	r->pid = 4242;
	r->tid = 4243;
	strcpy(r->comm, "nginx");
	ht_addr_parse("10.1.2.3", &r->local);
	ht_addr_parse("10.1.9.8", &r->remote);
	r->local_port = 8080;
	r->remote_port = 51234;
	set(r, &r->method, "GET");
	set(r, &r->target, "/api/v1/users/12345/orders?limit=20&page=3");
	set(r, &r->path, "/api/v1/users/12345/orders");
	set(r, &r->host, "shop.example.com");
	set(r, &r->reason, "OK");
	hdr(r, &r->req_headers, "host", "shop.example.com");
	hdr(r, &r->req_headers, "user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36");
	hdr(r, &r->req_headers, "accept", "application/json");
	hdr(r, &r->req_headers, "accept-encoding", "gzip, deflate, br");
	hdr(r, &r->req_headers, "x-request-id", "7f3e2a10-9c1b-4d2e-8f00-1a2b3c4d5e6f");
	if (traced)
		hdr(r, &r->req_headers, "traceparent",
		    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	hdr(r, &r->resp_headers, "content-type", "application/json");
	hdr(r, &r->resp_headers, "content-length", "1832");
	hdr(r, &r->resp_headers, "cache-control", "no-store");
	hdr(r, &r->resp_headers, "date", "Tue, 01 Dec 2026 12:00:00 GMT");
	r->resp_body_size = 1832;
	set(r, &r->container_id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	return r;
}

/* user + system CPU of the whole process (every thread), seconds */
static double proc_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

struct find { struct dl_stats st; int found; };

static void find_otlp(const char *name, const struct dl_stats *st, void *ctx)
{
	struct find *f = ctx;

	if (!strcmp(name, "otlp")) {
		f->st = *st;
		f->found = 1;
	}
}

static struct dl_stats otlp_dl(void)
{
	struct find f = { 0 };

	delivery_foreach(find_otlp, &f);
	return f.st;
}

int main(int argc, char **argv)
{
	struct ht_config *c = ht_config_defaults();
	struct ht_record *rec[2];
	struct sink k;
	struct ht_buf *bufs, scratch = { 0 };
	char err[512];
	uint64_t n, nb, bytes = 0, done;
	double enc, ndj, t0, wall, cpu, cpu0;
	const char *mode;

	if (argc != 4 || !c) {
		fprintf(stderr, "usage: otlp_bench URL N pb|pb-gzip|json|json-gzip\n");
		return 2;
	}
	n = strtoull(argv[2], NULL, 10);
	mode = argv[3];
	free(c->otlp_endpoint);
	c->otlp_endpoint = strdup(argv[1]);
	c->otlp_endpoint_is_traces = true;
	c->otlp_json = !strncmp(mode, "json", 4);
	c->otlp_gzip = strstr(mode, "gzip") != NULL;
	c->otlp_queue_max_bytes = 256u << 20;
	if (otlp_sink_open(c, false, &k, err, sizeof(err)) != 1) {
		fprintf(stderr, "otlp_bench: %s\n", err);
		return 1;
	}
	rec[0] = typical(0);
	rec[1] = typical(1);
	/* encode: what the shards do, here on one thread */
	nb = (n + BATCH - 1) / BATCH;
	bufs = calloc(nb, sizeof(*bufs));
	if (!bufs)
		return 1;
	enc = 0;
	for (uint64_t i = 0; i < nb; i++) {
		uint64_t m = n - i * BATCH < BATCH ? n - i * BATCH : BATCH;

		/* one warm buffer, as a shard's batches are recycled by the
		 * allocator: the time is the encoder's, not first-touch faults */
		scratch.len = 0;
		t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
		for (uint64_t j = 0; j < m; j++)
			k.ops->encode(k.ctx, rec[j & 1], &scratch);
		enc += now_s(CLOCK_THREAD_CPUTIME_ID) - t0;
		if (ht_buf_put(&bufs[i], scratch.p, scratch.len))
			return 1;
		bytes += scratch.len;
	}
	/* the same records as NDJSON lines, for scale (what the file costs) */
	ndj = 0;
	for (uint64_t i = 0; i < nb; i++) {
		scratch.len = 0;
		t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
		for (uint64_t j = 0; j < BATCH && i * BATCH + j < n; j++)
			format_record(HT_FMT_NDJSON, rec[j & 1], &scratch);
		ndj += now_s(CLOCK_THREAD_CPUTIME_ID) - t0;
	}
	ht_buf_free(&scratch);
	/* export: submit (the writer's part) and send (the sender thread) */
	cpu0 = proc_cpu_s();
	t0 = now_s(CLOCK_MONOTONIC);
	for (uint64_t i = 0; i < nb; i++) {
		uint32_t m = n - i * BATCH < BATCH ? (uint32_t)(n - i * BATCH) : BATCH;

		while (otlp_dl().queue_bytes > (32u << 20))
			usleep(200); /* keep within the memory queue: measure sending, not dropping */
		k.ops->submit(k.ctx, &bufs[i], m);
	}
	do {
		struct dl_stats st = otlp_dl();

		done = st.records_sent;
		for (int i = 0; i < DL_DROP_COUNT; i++)
			done += st.records_dropped[i];
		if (done < n)
			usleep(1000);
	} while (done < n && now_s(CLOCK_MONOTONIC) - t0 < 300);
	wall = now_s(CLOCK_MONOTONIC) - t0;
	cpu = proc_cpu_s() - cpu0;
	{
		struct dl_stats st = otlp_dl();

		printf("%-9s spans %llu sent %llu seconds %.2f spans_per_s %.0f encode_ns_per_span %.0f export_cpu_ns_per_span %.0f payload_bytes_per_span %.0f sends %llu retries %llu ndjson_ns_per_record %.0f\n",
		       mode, (unsigned long long)n, (unsigned long long)st.records_sent, wall,
		       (double)st.records_sent / wall, enc * 1e9 / (double)n, cpu * 1e9 / (double)n,
		       (double)bytes / (double)n, (unsigned long long)st.batches_sent,
		       (unsigned long long)st.retries, ndj * 1e9 / (double)n);
	}
	free(bufs);
	k.ops->close(k.ctx, 1000);
	ht_record_free(rec[0]);
	ht_record_free(rec[1]);
	ht_config_free(c);
	return 0;
}
