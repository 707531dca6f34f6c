/*
 * fuzz_format.c - libFuzzer target for record building, redaction and the
 * encoders (base/record.c, sink/redact.c, sink/format.c).
 *
 * Input: byte 0 options (bit 0 redact with the default config, bits 1-2
 * pad bytes put in the arena first: the arena offset of every string
 * moves, so 16-byte reads meet the allocation's end at every position),
 * then chunks of one length byte and that many bytes, taken in order as
 * method, target, host, reason, request body, response body, then header
 * (name, value) pairs, alternating request and response headers.
 *
 * Checked: every escaper level the CPU has (format_esc_level) writes the
 * same bytes for the record in NDJSON, pretty JSON and CSV and for the
 * input as one JSON string; each record stays within format_record_bound;
 * NDJSON is one line.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "base/buf.h"
#include "base/record.h"
#include "config/config.h"
#include "sink/format.h"
#include "sink/redact.h"

static const struct ht_config *cfg(void)
{
	static struct ht_config *c;

	if (!c)
		c = ht_config_defaults();
	return c;
}

/* The next chunk of in[*off..n): one length byte, then up to that many bytes. */
static bool chunk(const uint8_t *in, size_t n, size_t *off, const uint8_t **p, size_t *len)
{
	size_t want;

	if (*off >= n)
		return false;
	want = in[(*off)++];
	*len = want < n - *off ? want : n - *off;
	*p = in + *off;
	*off += *len;
	return true;
}

static struct ht_record *build(const uint8_t *in, size_t n)
{
	struct ht_record *r = ht_record_new();
	struct ht_str *fields[6];
	size_t off = 1, len;
	const uint8_t *p, *name = NULL;
	size_t name_len = 0;
	int k = 0, hdr = 0;
	static const char pad[8];

	if (!r)
		return NULL;
	fields[0] = &r->method;
	fields[1] = &r->target;
	fields[2] = &r->host;
	fields[3] = &r->reason;
	fields[4] = &r->req_body;
	fields[5] = &r->resp_body;
	r->time_unix_nano = 1796127799319686644ull;
	r->status = 200;
	r->role = HT_ROLE_SERVER;
	ht_record_put(r, pad, (size_t)((in[0] >> 1) & 3) * 2 + 1);
	while (chunk(in, n, &off, &p, &len)) {
		if (k < 6) {
			ht_record_set(r, fields[k], p, len);
			if (k == 1) { /* the path: the target up to '?' */
				const uint8_t *q = memchr(p, '?', len);

				r->path = r->target;
				r->path.len = q ? (uint32_t)(q - p) : r->target.len;
			}
			k++;
		} else if (!name) {
			name = p;
			name_len = len;
		} else {
			ht_record_add_header(r, hdr++ % 2 ? &r->resp_headers : &r->req_headers,
					     (const char *)name, name_len, (const char *)p, len);
			name = NULL;
		}
	}
	return r;
}

static void encode_all(const struct ht_record *r, const uint8_t *in, size_t n, struct ht_buf *b)
{
	static const enum ht_format fmts[] = { HT_FMT_NDJSON, HT_FMT_JSON, HT_FMT_CSV };

	b->len = 0;
	for (size_t f = 0; f < 3; f++) {
		size_t before = b->len, bound = format_record_bound(r);

		FUZZ_CHECK(format_record(fmts[f], r, b) == 0, "format %zu failed", f);
		FUZZ_CHECK(b->len - before <= bound, "format %zu wrote %zu > bound %zu", f,
			   b->len - before, bound);
		if (fmts[f] == HT_FMT_NDJSON)
			FUZZ_CHECK(memchr(b->p + before, '\n', b->len - before) == b->p + b->len - 1,
				   "NDJSON record is not one line");
	}
	FUZZ_CHECK(format_json_string(b, in, n) == 0, "format_json_string failed");
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	struct ht_buf want = { 0 }, got = { 0 };
	struct ht_record *r;
	int best = format_esc_level(-1);

	if (!n)
		return 0;
	r = build(in, n);
	if (!r)
		return 0;
	if (in[0] & 1)
		ht_redact(cfg(), r);
	format_esc_level(FORMAT_ESC_PORTABLE);
	encode_all(r, in, n, &want);
	for (int l = FORMAT_ESC_PORTABLE + 1; l <= best; l++) {
		if (format_esc_level(l) != l)
			continue;
		encode_all(r, in, n, &got);
		FUZZ_CHECK(got.len == want.len && !memcmp(got.p, want.p, got.len),
			   "escaper level %d differs from level %d", l, format_esc_level(-1));
	}
	format_esc_level(best);
	ht_buf_free(&want);
	ht_buf_free(&got);
	ht_record_free(r);
	return 0;
}
