/*
 * test_otlp_enc.c - the protobuf wire writer (against its reader and known
 * bytes), traceparent parsing, and records as OTLP spans: the protobuf
 * decoded field by field with pb.h's reader, the JSON parsed by Python.
 * The e2e test (tests/e2e/t_otlp.sh) decodes the same bytes with
 * OpenTelemetry's own classes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/record.h"
#include "ht_event.h"
#include "sink/otlp_enc.h"
#include "sink/pb.h"
#include "sink/traceid.h"

/* ------------------------------------------------------------ pb */

static void test_varint_bytes(void **state)
{
	struct ht_buf b = { 0 };
	struct pbw w = { .b = &b };
	static const uint8_t want[] = { 0x08, 0x96, 0x01,            /* 1: 150 */
					0x12, 0x02, 'h', 'i',        /* 2: "hi" */
					0x19, 1, 0, 0, 0, 0, 0, 0, 0, /* 3: fixed64 1 */
					0x25, 2, 0, 0, 0 };          /* 4: fixed32 2 */

	pb_uint(&w, 1, 150);
	pb_bytes(&w, 2, "hi", 2);
	pb_fixed64(&w, 3, 1);
	pb_fixed32(&w, 4, 2);
	assert_int_equal(w.err, 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	assert_int_equal(pb_varint_len(0), 1);
	assert_int_equal(pb_varint_len(127), 1);
	assert_int_equal(pb_varint_len(128), 2);
	assert_int_equal(pb_varint_len(UINT64_MAX), 10);
	ht_buf_free(&b);
}

/* A nested message of every length around the 1- and 2-byte length forms. */
static void test_nested_lengths(void **state)
{
	static const size_t lens[] = { 0, 1, 124, 125, 126, 127, 128, 300, 16381, 16384, 70000 };
	char *body = malloc(70000);

	memset(body, 'x', 70000);
	for (size_t t = 0; t < 3 * sizeof(lens) / sizeof(lens[0]); t++) {
		size_t i = t / 3;
		struct ht_buf b = { 0 };
		struct pbw w = { .b = &b };
		struct pbr r;
		struct pb_field f, g;
		size_t m = pb_begin_n(&w, 7, 1 + (int)(t % 3)), inner; /* 1, 2, 3 length bytes kept */

		/* body: one bytes field of the length that makes the message lens[i] long-ish */
		inner = lens[i] > 3 ? lens[i] - 3 : 0;
		pb_bytes(&w, 1, body, inner);
		pb_end(&w, m);
		pb_uint(&w, 9, 42); /* a field after it must still be found */
		assert_int_equal(w.err, 0);
		r.p = (const uint8_t *)b.p;
		r.end = r.p + b.len;
		assert_int_equal(pb_next(&r, &f), 1);
		assert_int_equal(f.num, 7);
		assert_int_equal(f.wire, PB_LEN);
		{
			struct pbr in = { f.p, f.p + f.n };

			assert_int_equal(pb_next(&in, &g), 1);
			assert_int_equal(g.n, inner);
			assert_int_equal(pb_next(&in, &g), 0);
		}
		assert_int_equal(pb_next(&r, &f), 1);
		assert_int_equal(f.num, 9);
		assert_int_equal(f.v, 42);
		assert_int_equal(pb_next(&r, &f), 0);
		assert_int_equal(w.depth, 0);
		ht_buf_free(&b);
	}
	free(body);
}

static void test_string_utf8(void **state)
{
	struct ht_buf b = { 0 };
	struct pbw w = { .b = &b };
	/* valid 2-byte, lone continuation, overlong, surrogate, cut 3-byte */
	static const char in[] = "a\xc3\xa9\x80\xc0\xaf\xed\xa0\x80z\xe2\x82";
	static const char want[] = "a\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				   "\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd";
	struct pbr r;
	struct pb_field f;

	pb_string(&w, 1, in, sizeof(in) - 1);
	r.p = (const uint8_t *)b.p;
	r.end = r.p + b.len;
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.n, sizeof(want) - 1);
	assert_memory_equal(f.p, want, f.n);

	/* the one-pass KeyValue writers: same bytes as the nested form */
	{
		struct ht_buf nb = { 0 };
		struct pbw nw = { .b = &nb };
		size_t kv, any;

		b.len = 0;
		pb_kv_string(&w, 9, "k", 1, in, sizeof(in) - 1);
		pb_kv_int(&w, 9, "n", 1, 300);
		kv = pb_begin(&nw, 9);
		pb_bytes(&nw, 1, "k", 1);
		any = pb_begin(&nw, 2);
		pb_string(&nw, 1, in, sizeof(in) - 1);
		pb_end(&nw, any);
		pb_end(&nw, kv);
		kv = pb_begin(&nw, 9);
		pb_bytes(&nw, 1, "n", 1);
		any = pb_begin(&nw, 2);
		pb_uint(&nw, 3, 300);
		pb_end(&nw, any);
		pb_end(&nw, kv);
		assert_int_equal(w.err, 0);
		assert_int_equal(b.len, nb.len);
		assert_memory_equal(b.p, nb.p, b.len);
		ht_buf_free(&nb);
	}
	ht_buf_free(&b);
}

static void test_reader_malformed(void **state)
{
	static const uint8_t bad[][4] = {
		{ 0x0a, 0x05, 'a', 0 },  /* length past the end */
		{ 0x00, 0x01, 0, 0 },    /* field 0 */
		{ 0x0b, 0x00, 0, 0 },    /* wire type 3 */
		{ 0x09, 0x01, 0x02, 0 }, /* fixed64 cut */
	};
	static const uint8_t cut[] = { 0x08, 0x80 };
	struct pb_field f;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pbr r = { bad[i], bad[i] + 4 };

		assert_int_equal(pb_next(&r, &f), -EINVAL);
	}
	{
		struct pbr r = { cut, cut + sizeof(cut) };

		assert_int_equal(pb_next(&r, &f), -EINVAL);
	}
}

/* ------------------------------------------------------------ traceparent */

static void test_traceparent(void **state)
{
	struct trace_parent p;
	static const char *const bad[] = {
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",     /* short */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  /* 00 with more */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    /* version ff */
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",    /* zero trace */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    /* zero parent */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    /* upper case */
		"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",    /* separator */
		"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    /* hex */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",   /* future, no '-' */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, "
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    /* two joined */
	};

	assert_int_equal(traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
					   55, &p), 0);
	assert_int_equal(p.trace_id[0], 0x4b);
	assert_int_equal(p.trace_id[15], 0x36);
	assert_int_equal(p.span_id[0], 0x00);
	assert_int_equal(p.span_id[7], 0xb7);
	assert_int_equal(p.flags, 1);
	assert_int_equal(traceparent_parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what",
					   60, &p), 0);
	assert_int_equal(p.flags, 9);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(traceparent_parse(bad[i], strlen(bad[i]), &p), -EINVAL);
	assert_int_equal(traceparent_parse(NULL, 0, &p), -EINVAL);
}

static void test_random_ids(void **state)
{
	uint8_t a[16], b[16];
	char hex[32];

	traceid_random(a, 16);
	traceid_random(b, 16);
	assert_memory_not_equal(a, b, 16);
	traceid_hex((const uint8_t *)"\x00\xab\xff", 3, hex);
	assert_memory_equal(hex, "00abff", 6);
}

/* ------------------------------------------------------------ spans */

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void set(struct ht_record *r, struct ht_str *s, const char *v)
{
	assert_int_equal(ht_record_set(r, s, v, strlen(v)), 0);
}

static void hdr(struct ht_record *r, const char *n, const char *v)
{
	assert_int_equal(ht_record_add_header(r, &r->req_headers, n, strlen(n), v, strlen(v)), 0);
}

static struct ht_record *mk(int role, unsigned status)
{
	struct ht_record *r = ht_record_new();

	assert_non_null(r);
	r->time_unix_nano = 1700000000123456789ull;
	r->latency_ns = 1500000;
	r->role = (uint8_t)role;
	r->version_minor = 1;
	r->status = (uint16_t)status;
	r->pid = 4242;
	strcpy(r->comm, "nginx");
	assert_int_equal(ht_addr_parse("10.0.0.1", &r->local), 0);
	assert_int_equal(ht_addr_parse("10.0.0.2", &r->remote), 0);
	r->local_port = 8080;
	r->remote_port = 51000;
	set(r, &r->method, "GET");
	set(r, &r->target, "/api/users/42?x=1&y=2");
	set(r, &r->path, "/api/users/42");
	set(r, &r->host, "example.com:8080");
	set(r, &r->container_id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	hdr(r, "User-Agent", "curl/7.88.1");
	r->resp_body_size = 12;
	r->flags = HT_RF_GAP | HT_RF_INCOMPLETE;
	return r;
}

/* The first LEN field num of msg, as a reader over its bytes. */
static bool sub(struct pbr msg, uint32_t num, struct pbr *out)
{
	struct pb_field f;
	int rc;

	while ((rc = pb_next(&msg, &f)) == 1)
		if (f.num == num && f.wire == PB_LEN) {
			out->p = f.p;
			out->end = f.p + f.n;
			return true;
		}
	assert_int_equal(rc, 0);
	return false;
}

/* The first ResourceSpans of an encoded request body (one record's). */
static struct pbr resource_spans(const struct ht_buf *b)
{
	struct pbr req = { (const uint8_t *)b->p, (const uint8_t *)b->p + b->len }, rs;

	assert_true(sub(req, 1, &rs));
	return rs;
}

/* Scalar field num (last one wins, as in protobuf). */
static bool scalar(struct pbr msg, uint32_t num, struct pb_field *out)
{
	struct pb_field f;
	bool found = false;

	while (pb_next(&msg, &f) == 1)
		if (f.num == num) {
			*out = f;
			found = true;
		}
	return found;
}

struct any {
	bool found;
	char s[256];
	uint64_t i;
	int n_array;
};

/* The value of attribute key among the KeyValue fields num of msg. */
static struct any attr(struct pbr msg, uint32_t num, const char *key)
{
	struct any a = { 0 };
	struct pb_field f, k, v;

	while (pb_next(&msg, &f) == 1) {
		struct pbr kv = { f.p, f.p + f.n }, val;

		if (f.num != num || !scalar(kv, 1, &k) || k.n != strlen(key) || memcmp(k.p, key, k.n))
			continue;
		a.found = true;
		assert_true(sub(kv, 2, &val));
		if (scalar(val, 1, &v))
			snprintf(a.s, sizeof(a.s), "%.*s", (int)v.n, (const char *)v.p);
		if (scalar(val, 3, &v))
			a.i = v.v;
		if (sub(val, 5, &val)) {
			struct pb_field e;

			while (pb_next(&val, &e) == 1)
				a.n_array++;
		}
	}
	return a;
}

static void test_span_protobuf(void **state)
{
	struct otlp_enc_opts o = { .host_name = "node-1", .scope_version = "0.1.0" };
	struct ht_record *r = mk(HT_ROLE_SERVER, 503);
	struct ht_buf b = { 0 };
	struct pbr rs, res, ss, scope, span, st;
	struct pb_field f;
	uint64_t joined = otlp_traceparent_joined();

	hdr(r, "traceparent", TP);
	hdr(r, "tracestate", "congo=t61rcWkgMzE");
	assert_int_equal(otlp_encode_record(&o, r, &b), 0);
	assert_int_equal(otlp_traceparent_joined(), joined + 1);
	rs = resource_spans(&b);
	assert_true(sub(rs, 1, &res));
	assert_string_equal(attr(res, 1, "service.name").s, "nginx");
	assert_string_equal(attr(res, 1, "host.name").s, "node-1");
	assert_int_equal(attr(res, 1, "process.pid").i, 4242);
	assert_string_equal(attr(res, 1, "process.executable.name").s, "nginx");
	assert_int_equal(strlen(attr(res, 1, "container.id").s), 64);
	assert_false(attr(res, 1, "k8s.pod.name").found);
	assert_true(sub(rs, 2, &ss));
	assert_true(sub(ss, 1, &scope));
	assert_true(scalar(scope, 1, &f));
	assert_memory_equal(f.p, "http-tracer", 11);
	assert_true(sub(ss, 2, &span));
	assert_true(scalar(span, 1, &f));
	assert_int_equal(f.n, 16);
	assert_memory_equal(f.p, "\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36", 16);
	assert_true(scalar(span, 4, &f));
	assert_memory_equal(f.p, "\x00\xf0\x67\xaa\x0b\xa9\x02\xb7", 8);
	assert_true(scalar(span, 2, &f));
	assert_int_equal(f.n, 8);
	assert_true(scalar(span, 3, &f));
	assert_memory_equal(f.p, "congo=t61rcWkgMzE", f.n);
	assert_true(scalar(span, 5, &f));
	assert_int_equal(f.n, strlen("GET /api/users/{id}"));
	assert_memory_equal(f.p, "GET /api/users/{id}", f.n);
	assert_true(scalar(span, 6, &f));
	assert_int_equal(f.v, 2); /* SERVER */
	assert_true(scalar(span, 7, &f));
	assert_int_equal(f.wire, PB_I64);
	assert_int_equal(f.v, 1700000000123456789ull);
	assert_true(scalar(span, 8, &f));
	assert_int_equal(f.v, 1700000000123456789ull + 1500000);
	assert_true(scalar(span, 16, &f));
	assert_int_equal(f.v, 0x301);
	assert_string_equal(attr(span, 9, "http.request.method").s, "GET");
	assert_string_equal(attr(span, 9, "url.path").s, "/api/users/42");
	assert_string_equal(attr(span, 9, "url.query").s, "x=1&y=2");
	assert_string_equal(attr(span, 9, "http.route").s, "/api/users/{id}");
	assert_int_equal(attr(span, 9, "http.response.status_code").i, 503);
	assert_string_equal(attr(span, 9, "server.address").s, "example.com");
	assert_int_equal(attr(span, 9, "server.port").i, 8080);
	assert_string_equal(attr(span, 9, "client.address").s, "10.0.0.2");
	assert_int_equal(attr(span, 9, "client.port").i, 51000);
	assert_string_equal(attr(span, 9, "network.peer.address").s, "10.0.0.2");
	assert_int_equal(attr(span, 9, "network.peer.port").i, 51000);
	assert_string_equal(attr(span, 9, "network.protocol.version").s, "1.1");
	assert_string_equal(attr(span, 9, "user_agent.original").s, "curl/7.88.1");
	assert_true(attr(span, 9, "http.request.body.size").found);
	assert_int_equal(attr(span, 9, "http.response.body.size").i, 12);
	assert_string_equal(attr(span, 9, "error.type").s, "503");
	assert_int_equal(attr(span, 9, "http_tracer.flags").n_array, 2);
	assert_true(sub(span, 15, &st));
	assert_true(scalar(st, 3, &f));
	assert_int_equal(f.v, 2); /* ERROR */
	ht_buf_free(&b);
	ht_record_free(r);
}

/* Status: 4xx is an error only on CLIENT spans; 2xx never. */
static void test_span_status_and_kind(void **state)
{
	static const struct { int role; unsigned status; bool err; uint64_t kind; } c[] = {
		{ HT_ROLE_SERVER, 404, false, 2 }, { HT_ROLE_CLIENT, 404, true, 3 },
		{ HT_ROLE_CLIENT, 200, false, 3 }, { HT_ROLE_SERVER, 500, true, 2 },
		{ HT_ROLE_CLIENT, 502, true, 3 },
	};
	struct otlp_enc_opts o = { 0 };

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct ht_record *r = mk(c[i].role, c[i].status);
		struct ht_buf b = { 0 };
		struct pbr rs, ss, span, st;
		struct pb_field f;

		r->flags = 0;
		assert_int_equal(otlp_encode_record(&o, r, &b), 0);
		rs = resource_spans(&b);
		assert_true(sub(rs, 2, &ss));
		assert_true(sub(ss, 2, &span));
		assert_int_equal(sub(span, 15, &st), c[i].err);
		assert_int_equal(attr(span, 9, "error.type").found, c[i].err);
		assert_true(scalar(span, 6, &f));
		assert_int_equal(f.v, c[i].kind);
		assert_false(attr(span, 9, "http_tracer.flags").found);
		assert_int_equal(attr(span, 9, "client.address").found, c[i].role == HT_ROLE_SERVER);
		if (c[i].role == HT_ROLE_CLIENT)
			assert_int_equal(attr(span, 9, "server.port").i, 51000);
		assert_false(scalar(span, 4, &f)); /* no parent */
		assert_true(scalar(span, 16, &f));
		assert_int_equal(f.v, 0x101);
		ht_buf_free(&b);
		ht_record_free(r);
	}
}

/* A malformed traceparent is counted and ignored; odd methods are _OTHER;
 * a record without a request still gives a span; the service name option wins. */
/* DESIGN §10: service.name is the workload when the record names one, and
 * the k8s.* attributes follow the record's Kubernetes fields. */
static void test_span_k8s_resource(void **state)
{
	struct otlp_enc_opts o = { 0 };
	struct ht_record *r = mk(HT_ROLE_SERVER, 200);
	struct ht_buf b = { 0 };
	struct pbr rs, res;

	set(r, &r->namespace_, "shop");
	set(r, &r->pod, "web-7d4b9c8f5d-x2k9q");
	set(r, &r->container, "app");
	set(r, &r->node, "node-a");
	set(r, &r->workload_kind, "Deployment");
	set(r, &r->workload, "web");
	assert_int_equal(otlp_encode_record(&o, r, &b), 0);
	rs = resource_spans(&b);
	assert_true(sub(rs, 1, &res));
	assert_string_equal(attr(res, 1, "service.name").s, "web");
	assert_string_equal(attr(res, 1, "k8s.deployment.name").s, "web");
	assert_string_equal(attr(res, 1, "k8s.namespace.name").s, "shop");
	assert_string_equal(attr(res, 1, "k8s.pod.name").s, "web-7d4b9c8f5d-x2k9q");
	assert_string_equal(attr(res, 1, "k8s.container.name").s, "app");
	assert_string_equal(attr(res, 1, "k8s.node.name").s, "node-a");
	assert_string_equal(attr(res, 1, "process.executable.name").s, "nginx");
	ht_buf_free(&b);
	ht_record_free(r);
}

static void test_span_edge_cases(void **state)
{
	struct otlp_enc_opts o = { .service_name = "checkout" };
	struct ht_record *r = mk(HT_ROLE_SERVER, 200);
	struct ht_buf b = { 0 };
	struct pbr rs, res, ss, span;
	struct pb_field f;
	uint64_t bad = otlp_traceparent_malformed();

	hdr(r, "traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01");
	set(r, &r->method, "PURGE");
	assert_int_equal(otlp_encode_record(&o, r, &b), 0);
	assert_int_equal(otlp_traceparent_malformed(), bad + 1);
	rs = resource_spans(&b);
	assert_true(sub(rs, 1, &res));
	assert_string_equal(attr(res, 1, "service.name").s, "checkout");
	assert_true(sub(rs, 2, &ss));
	assert_true(sub(ss, 2, &span));
	assert_false(scalar(span, 4, &f));
	assert_true(scalar(span, 1, &f));
	assert_memory_not_equal(f.p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_string_equal(attr(span, 9, "http.request.method").s, "_OTHER");
	assert_string_equal(attr(span, 9, "http.request.method_original").s, "PURGE");
	assert_true(scalar(span, 5, &f));
	assert_memory_equal(f.p, "HTTP /api/users/{id}", f.n);
	ht_buf_free(&b);
	ht_record_free(r);

	/* no request: "HTTP", no method, no route, no request body size */
	r = ht_record_new();
	r->role = HT_ROLE_CLIENT;
	r->status = 200;
	r->flags = HT_RF_NO_REQUEST | HT_RF_GAP;
	memset(&b, 0, sizeof(b));
	assert_int_equal(otlp_encode_record(&o, r, &b), 0);
	rs = resource_spans(&b);
	assert_true(sub(rs, 2, &ss));
	assert_true(sub(ss, 2, &span));
	assert_true(scalar(span, 5, &f));
	assert_int_equal(f.n, 4);
	assert_memory_equal(f.p, "HTTP", 4);
	assert_false(attr(span, 9, "http.request.method").found);
	assert_false(attr(span, 9, "http.route").found);
	assert_false(attr(span, 9, "http.request.body.size").found);
	assert_int_equal(attr(span, 9, "http_tracer.flags").n_array, 2);
	ht_buf_free(&b);
	ht_record_free(r);
}

/* Two records in one buffer are two ResourceSpans of one request. */
static void test_batch_concatenates(void **state)
{
	struct otlp_enc_opts o = { 0 };
	struct ht_record *r = mk(HT_ROLE_SERVER, 200);
	struct ht_buf b = { 0 };
	struct pbr req;
	struct pb_field f;
	int n = 0;

	assert_int_equal(otlp_encode_record(&o, r, &b), 0);
	assert_int_equal(otlp_encode_record(&o, r, &b), 0);
	req.p = (const uint8_t *)b.p;
	req.end = req.p + b.len;
	while (pb_next(&req, &f) == 1) {
		assert_int_equal(f.num, 1);
		n++;
	}
	assert_int_equal(n, 2);
	ht_buf_free(&b);
	ht_record_free(r);
}

/* The JSON encoding, framed as the sender frames it, checked by Python's
 * json module against the OTLP JSON rules. */
static void test_span_json(void **state)
{
	struct otlp_enc_opts o = { .json = true, .host_name = "node-1" };
	struct ht_record *r = mk(HT_ROLE_SERVER, 500), *r2 = mk(HT_ROLE_CLIENT, 200);
	struct ht_buf b = { 0 };
	char path[] = "/tmp/test_otlp_json.XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	char cmd[4096], line[256] = "";
	static const char *const py =
		"import json,sys\n"
		"d=json.load(open(sys.argv[1]))\n"
		"rs=d['resourceSpans']; assert len(rs)==2\n"
		"s=rs[0]['scopeSpans'][0]['spans'][0]\n"
		"assert s['traceId']=='4bf92f3577b34da6a3ce929d0e0e4736', s\n"
		"assert s['parentSpanId']=='00f067aa0ba902b7'\n"
		"assert len(s['spanId'])==16 and int(s['spanId'],16)\n"
		"assert s['kind']==2 and s['name']=='GET /api/users/{id}'\n"
		"assert s['startTimeUnixNano']=='1700000000123456789'\n"
		"assert s['endTimeUnixNano']=='1700000000124956789'\n"
		"assert s['status']=={'code':2}\n"
		"a={x['key']:x['value'] for x in s['attributes']}\n"
		"assert a['http.response.status_code']=={'intValue':'500'}\n"
		"assert a['url.query']=={'stringValue':'x=1&y=2'}\n"
		"assert a['http_tracer.flags']=={'arrayValue':{'values':[{'stringValue':'gap'},{'stringValue':'incomplete'}]}}\n"
		"ra={x['key']:x['value'] for x in rs[0]['resource']['attributes']}\n"
		"assert ra['process.pid']=={'intValue':'4242'} and ra['host.name']=={'stringValue':'node-1'}\n"
		"c=rs[1]['scopeSpans'][0]['spans'][0]\n"
		"assert c['kind']==3 and 'parentSpanId' not in c and 'status' not in c\n"
		"assert len(c['traceId'])==32 and c['traceId']!=s['traceId']\n"
		"print('ok')\n";

	hdr(r, "traceparent", TP);
	assert_true(fd >= 0);
	assert_int_equal(ht_buf_puts(&b, OTLP_JSON_HEAD), 0);
	{
		struct ht_buf body = { 0 };

		assert_int_equal(otlp_encode_record(&o, r, &body), 0);
		assert_int_equal(body.p[0], '{');
		assert_int_equal(otlp_encode_record(&o, r2, &body), 0);
		assert_int_equal(ht_buf_put(&b, body.p, body.len), 0);
		ht_buf_free(&body);
	}
	assert_int_equal(ht_buf_puts(&b, OTLP_JSON_TAIL), 0);
	assert_int_equal(write(fd, b.p, b.len), (ssize_t)b.len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 -c \"$(cat <<'PYEOF'\n%sPYEOF\n)\" %s 2>&1", py, path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strcmp(line, "ok\n"))
			fprintf(stderr, "python: %s", line);
	pclose(f);
	unlink(path);
	assert_string_equal(line, "ok\n");
	ht_buf_free(&b);
	ht_record_free(r);
	ht_record_free(r2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_bytes),
		cmocka_unit_test(test_nested_lengths),
		cmocka_unit_test(test_string_utf8),
		cmocka_unit_test(test_reader_malformed),
		cmocka_unit_test(test_traceparent),
		cmocka_unit_test(test_random_ids),
		cmocka_unit_test(test_span_protobuf),
		cmocka_unit_test(test_span_status_and_kind),
		cmocka_unit_test(test_span_k8s_resource),
		cmocka_unit_test(test_span_edge_cases),
		cmocka_unit_test(test_batch_concatenates),
		cmocka_unit_test(test_span_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
