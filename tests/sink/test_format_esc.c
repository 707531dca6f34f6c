/*
 * test_format_esc.c - the string escaper at every code level the CPU has
 * (format_esc_level: portable or SSE2, AVX2, AVX-512BW) against a simple
 * reference escaper (ref_esc.h) byte by byte: strings of every length 0..300
 * holding every byte value at some position, and random strings mixing
 * safe runs, escapes and valid and invalid UTF-8, encoded three ways:
 * format_json_string, a record's body and header value (the arena path,
 * 16-byte reads) in NDJSON, and the same in CSV (both quote modes).
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

#include "base/record.h"
#include "ht_event.h"
#include "sink/format.h"
#include "ref_esc.h"

#define MAXLEN 300

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct bufs {
	char want[MAXLEN * 6 + 128];
	char field[MAXLEN * 6 + 64];
	struct ht_buf b;
};

static void check_json_string(struct bufs *x, const uint8_t *s, size_t n)
{
	x->want[0] = '"';
	ref_esc(x->want + 1, s, n, 0);
	strcat(x->want, "\"");
	x->b.len = 0;
	assert_int_equal(format_json_string(&x->b, s, n), 0);
	assert_int_equal(x->b.len, strlen(x->want));
	assert_memory_equal(x->b.p, x->want, x->b.len);
}

/* s as a request body and a header value, at an arena offset set by pad. */
static void check_record(struct bufs *x, const uint8_t *s, size_t n, size_t pad)
{
	struct ht_record *r = ht_record_new();
	struct ht_str junk;
	bool quoted;

	assert_non_null(r);
	if (pad) {
		char z[64] = { 0 };

		junk = ht_record_put(r, z, pad);
		assert_int_equal(junk.len, pad);
	}
	assert_int_equal(ht_record_set(r, &r->req_body, s, n), 0);
	assert_int_equal(ht_record_add_header(r, &r->resp_headers, "x-h", 3, (const char *)s, n), 0);
	/* NDJSON: both are JSON strings */
	x->b.len = 0;
	assert_int_equal(format_record(HT_FMT_NDJSON, r, &x->b), 0);
	assert_int_equal(ht_buf_putc(&x->b, '\0'), 0);
	ref_esc(x->field, s, n, 0);
	snprintf(x->want, sizeof(x->want), "\"req_body\":\"%s\",", x->field);
	assert_non_null(strstr(x->b.p, x->want));
	snprintf(x->want, sizeof(x->want), "{\"x-h\":\"%s\"}", x->field);
	assert_non_null(strstr(x->b.p, x->want));
	/* CSV: the body is text, the header value JSON text inside the field */
	x->b.len = 0;
	assert_int_equal(format_record(HT_FMT_CSV, r, &x->b), 0);
	assert_int_equal(ht_buf_putc(&x->b, '\0'), 0);
	quoted = memchr(s, '"', n) || memchr(s, ',', n);
	ref_esc(x->field, s, n, 1);
	snprintf(x->want, sizeof(x->want), ",%s%s%s,", quoted ? "\"" : "", x->field, quoted ? "\"" : "");
	assert_non_null(strstr(x->b.p, x->want));
	ref_esc(x->field, s, n, 2);
	snprintf(x->want, sizeof(x->want), "\"\"x-h\"\":\"\"%s\"\"}\",", x->field);
	assert_non_null(strstr(x->b.p, x->want));
	ht_record_free(r);
}

/* Mostly safe text (so that vector blocks pass whole), some of everything else. */
static void fill(uint8_t *s, size_t n, unsigned density)
{
	static const uint8_t pick[] = { '"', '\\', 0, '\n', '\t', 0x1f, 0x7f, 0x80, 0xbf, 0xc0,
					0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0,
					0x9f, 0x90, 0x8f, ',' };

	for (size_t i = 0; i < n; i++) {
		uint64_t v = rnd();

		if (v % density)
			s[i] = (uint8_t)(0x20 + (v >> 8) % 95);
		else if (v & 0x100)
			s[i] = pick[(v >> 16) % sizeof(pick)];
		else
			s[i] = (uint8_t)(v >> 24);
	}
	/* valid 2-, 3- and 4-byte sequences, some across vector block ends */
	for (size_t k = n >= 4 && rnd() % 2 ? 1 + rnd() % (n / 4) : 0; k; k--) {
		static const char *const seq[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
		const char *q = seq[rnd() % 3];
		size_t at = rnd() % (n - 3);

		memcpy(s + at, q, strlen(q));
	}
}

static int *levels(int *n)
{
	static int v[4];
	int best = format_esc_level(-1);

	*n = 0;
	for (int l = FORMAT_ESC_PORTABLE; l <= best; l++)
		if (format_esc_level(l) == l)
			v[(*n)++] = l;
	format_esc_level(best);
	return v;
}

/* Run pass once at every escaper level the CPU has, then restore the best. */
static void at_every_level(void (*pass)(struct bufs *x, uint8_t *s))
{
	struct bufs *x = calloc(1, sizeof(*x));
	uint8_t s[MAXLEN];
	int nl, *lv = levels(&nl), best = format_esc_level(-1);

	assert_non_null(x);
	for (int li = 0; li < nl; li++) {
		assert_int_equal(format_esc_level(lv[li]), lv[li]);
		pass(x, s);
	}
	format_esc_level(best);
	ht_buf_free(&x->b);
	free(x);
}

/* Every length 0..MAXLEN, every byte value at a position that moves with the length. */
static void every_length_every_byte(struct bufs *x, uint8_t *s)
{
	for (size_t n = 0; n <= MAXLEN; n++) {
		for (int c = 0; c < 256; c++) {
			for (size_t i = 0; i < n; i++)
				s[i] = (uint8_t)('a' + (i + n) % 26);
			if (n)
				s[(n * 7 + (size_t)c) % n] = (uint8_t)c;
			check_json_string(x, s, n);
			if (c % 16 == (int)(n % 16))
				check_record(x, s, n, (size_t)c % 48);
		}
	}
}

static void random_strings(struct bufs *x, uint8_t *s)
{
	for (size_t n = 0; n <= MAXLEN; n++) {
		for (int k = 0; k < 12; k++) {
			fill(s, n, 1 + (unsigned)(rnd() % 40));
			check_json_string(x, s, n);
			check_record(x, s, n, (size_t)(rnd() % 40));
		}
	}
}

static void test_every_length_every_byte(void **state)
{
	(void)state;
	at_every_level(every_length_every_byte);
}

static void test_random(void **state)
{
	(void)state;
	at_every_level(random_strings);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_length_every_byte),
		cmocka_unit_test(test_random),
	};

	printf("escaper levels: best %d (0 portable, 1 SSE2, 2 AVX2, 3 AVX-512BW)\n",
	       format_esc_level(-1));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
