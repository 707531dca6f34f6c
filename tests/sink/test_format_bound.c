/*
 * test_format_bound.c - format_record_bound() really bounds what the
 * encoders write.  Records are built at every maximum (128 headers, heads
 * and bodies at their largest, every string byte one that needs escaping,
 * the longest address text, every integer at its type's maximum, every
 * flag) and encoded in all three formats into a buffer of exactly the bound:
 * ASan (this test is always built with it) reports any byte written past
 * it, and a guard region after the bound catches it without ASan too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/record.h"
#include "sink/format.h"
#include "stream/httpp.h"

#define MiB (1u << 20)
#define GUARD 256

static const enum ht_format formats[] = { HT_FMT_NDJSON, HT_FMT_JSON, HT_FMT_CSV };

struct shape {
	uint8_t fill;        /* every string byte */
	size_t body;         /* each body */
	size_t str;          /* method, target, path, host, reason */
	uint32_t headers;    /* per message */
	size_t name, value;  /* per header */
	const char *local, *remote;
};

static void set_fill(struct ht_record *r, struct ht_str *dst, uint8_t fill, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	memset(p, fill, n);
	assert_int_equal(ht_record_set(r, dst, p, n), 0);
	free(p);
}

/* n headers with distinct names (a 2-byte numbered tail) of name/value bytes of fill. */
static void add_headers(struct ht_record *r, struct ht_headers *h, const struct shape *s)
{
	char *name = malloc(s->name), *value = malloc(s->value);

	assert_true(name && value && s->name >= 2 && s->headers <= 16 * 16);
	memset(value, s->fill, s->value);
	for (uint32_t i = 0; i < s->headers; i++) {
		memset(name, s->fill, s->name);
		/* 0x10..0x1f: control bytes that are all written as \u00XX too */
		name[s->name - 2] = (char)(0x10 + i / 16);
		name[s->name - 1] = (char)(0x10 + i % 16);
		assert_int_equal(ht_record_add_header(r, h, name, s->name, value, s->value), 0);
	}
	assert_int_equal(h->n, s->headers);
	free(name);
	free(value);
}

static struct ht_record *max_record(const struct shape *s)
{
	struct ht_record *r = ht_record_new();
	struct ht_str *strs[] = { &r->method, &r->target, &r->path, &r->host, &r->reason };

	assert_non_null(r);
	r->time_unix_nano = r->latency_ns = UINT64_MAX;
	r->req_body_size = r->resp_body_size = UINT64_MAX;
	r->role = UINT8_MAX; /* "unknown", the longest role */
	r->version_minor = UINT8_MAX;
	r->status = UINT16_MAX;
	r->flags = UINT32_MAX;
	r->pid = r->tid = UINT32_MAX;
	r->local_port = r->remote_port = UINT16_MAX;
	memset(r->comm, s->fill, sizeof(r->comm)); /* no NUL: all 16 bytes */
	assert_int_equal(ht_addr_parse(s->local, &r->local), 0);
	assert_int_equal(ht_addr_parse(s->remote, &r->remote), 0);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		set_fill(r, strs[i], s->fill, s->str);
	set_fill(r, &r->container_id, s->fill, 64);
	set_fill(r, &r->pod, s->fill, 253);
	set_fill(r, &r->namespace_, s->fill, 63);
	set_fill(r, &r->node, s->fill, 253);
	set_fill(r, &r->container, s->fill, 63);
	set_fill(r, &r->workload_kind, s->fill, 63);
	set_fill(r, &r->workload, s->fill, 253);
	set_fill(r, &r->remote_pod, s->fill, 253);
	set_fill(r, &r->remote_namespace, s->fill, 63);
	set_fill(r, &r->remote_service, s->fill, 63);
	add_headers(r, &r->req_headers, s);
	add_headers(r, &r->resp_headers, s);
	set_fill(r, &r->req_body, s->fill, s->body);
	set_fill(r, &r->resp_body, s->fill, s->body);
	return r;
}

/*
 * Encode r in format f into a buffer that ends exactly at the bound (ASan
 * sees any write past it), then into one followed by a guard region that
 * must come out untouched.  The encoder must not grow either buffer: it
 * reserves the same bound.  Returns the encoded length.
 */
static size_t encode_within_bound(const struct ht_record *r, enum ht_format f, size_t bound)
{
	struct ht_buf b = { .p = malloc(bound), .cap = bound };
	char *p = b.p;
	size_t len;

	assert_non_null(p);
	assert_int_equal(format_record(f, r, &b), 0);
	assert_ptr_equal(b.p, p);
	assert_int_equal(b.cap, bound);
	assert_true(b.len <= bound);
	len = b.len;
	free(b.p);

	b.p = p = malloc(bound + GUARD);
	b.len = 0;
	b.cap = bound;
	assert_non_null(p);
	memset(p + bound, 0xa5, GUARD);
	assert_int_equal(format_record(f, r, &b), 0);
	assert_ptr_equal(b.p, p);
	assert_int_equal(b.len, len);
	for (size_t i = 0; i < GUARD; i++)
		if ((uint8_t)p[bound + i] != 0xa5)
			fail_msg("format %d wrote %zu bytes past the bound %zu", f, i + 1, bound);
	free(p);
	return len;
}

static void check_shape(const struct shape *s, size_t *pretty_len, size_t *bound_out)
{
	struct ht_record *r = max_record(s);
	size_t bound = format_record_bound(r);

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		size_t len = encode_within_bound(r, formats[i], bound);

		if (formats[i] == HT_FMT_JSON && pretty_len)
			*pretty_len = len;
	}
	if (bound_out)
		*bound_out = bound;
	ht_record_free(r);
}

/*
 * The largest record the collector can produce, every byte escaped to six
 * ("\u0001"): HTTPP_MAX_HEADERS headers per message whose names and values
 * fill the largest head (65536 bytes), bodies at the largest maxBodySize
 * (16 MiB), the longest address text.  Pretty JSON is the widest format, and
 * there the bound is nearly exact: it is a bound, not a guess.
 */
static void test_bound_at_maximum(void **state)
{
	const struct shape s = {
		.fill = 0x01, .body = 16 * MiB, .str = 65536, .headers = HTTPP_MAX_HEADERS,
		.name = 64, .value = 65536 / HTTPP_MAX_HEADERS - 64,
		.local = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		.remote = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
	};
	size_t pretty = 0, bound = 0;

	check_shape(&s, &pretty, &bound);
	assert_true(pretty > 6 * 2 * s.body);
	if (bound - pretty > 64)
		fail_msg("bound %zu is %zu bytes above the widest encoding", bound, bound - pretty);
}

/* Every kind of escaping (and CSV quoting), every address shape. */
static void test_bound_every_fill(void **state)
{
	static const uint8_t fills[] = { 0x01, '"', '\\', '\n', 0x7f, 0x80, 0xff, ',', 'a' };
	static const char *const addrs[][2] = {
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:255.255.255.255" },
		{ "255.255.255.255", "::1" },
	};

	for (size_t i = 0; i < sizeof(fills) / sizeof(fills[0]); i++) {
		for (size_t a = 0; a < 2; a++) {
			const struct shape s = {
				.fill = fills[i], .body = 70000, .str = 4097, .headers = HTTPP_MAX_HEADERS,
				.name = 40, .value = 1024, .local = addrs[a][0], .remote = addrs[a][1],
			};

			check_shape(&s, NULL, NULL);
		}
	}
}

/* Small and empty records: the fixed part of the bound alone must hold. */
static void test_bound_empty(void **state)
{
	struct ht_record *r = ht_record_new();

	assert_non_null(r);
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		encode_within_bound(r, formats[i], format_record_bound(r));
	r->flags = UINT32_MAX;
	r->time_unix_nano = UINT64_MAX;
	memset(r->comm, 0xff, sizeof(r->comm));
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		encode_within_bound(r, formats[i], format_record_bound(r));
	ht_record_free(r);
}

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/* Random mixes of escaping and non-escaping bytes at every length. */
static void test_bound_random(void **state)
{
	static const uint8_t pick[] = { 1, '"', '\\', '\n', 0x7f, 0xff, 0xc3, 0xa9, ',', 'a', ' ' };
	uint8_t s[300];

	for (int it = 0; it < 3000; it++) {
		struct ht_record *r = ht_record_new();
		size_t n = rnd() % sizeof(s);

		for (size_t i = 0; i < n; i++)
			s[i] = pick[rnd() % sizeof(pick)];
		assert_non_null(r);
		r->flags = (uint32_t)rnd();
		r->role = (uint8_t)rnd();
		r->local.family = it & 1 ? AF_INET6 : AF_INET;
		memset(r->local.bytes, 0xff, it & 1 ? 16 : 4);
		assert_int_equal(ht_record_set(r, &r->req_body, s, n), 0);
		assert_int_equal(ht_record_set(r, &r->path, s, n / 2), 0);
		assert_int_equal(ht_record_set(r, &r->pod, s, n / 3), 0);
		if (n)
			assert_int_equal(ht_record_add_header(r, &r->resp_headers, (const char *)s, n % 17 + 1,
							      (const char *)s, n), 0);
		for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++)
			encode_within_bound(r, formats[f], format_record_bound(r));
		ht_record_free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_at_maximum),
		cmocka_unit_test(test_bound_every_fill),
		cmocka_unit_test(test_bound_empty),
		cmocka_unit_test(test_bound_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
