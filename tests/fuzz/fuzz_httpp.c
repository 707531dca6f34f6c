/*
 * fuzz_httpp.c - libFuzzer target for the HTTP/1.x parser (stream/httpp.c).
 *
 * The same bytes go through a request parser and a response parser, the
 * way conn.c drives them: the caller keeps the unconsumed bytes and calls
 * again when more arrive.  The input arrives in two parts, split at a
 * position taken from the first byte, optionally with a hole of a few bytes
 * at the split (httpp_gap), so that every state can be cut.
 *
 * Input: byte 0 split, byte 1 options (bits 0-1 response peer, bit 2 start
 * midstream, bit 3 tunnel after CONNECT/Upgrade instead of resuming, bits
 * 4-7 hole size), byte 2 limits, then the stream.
 *
 * Checked on every call: the parser consumes at most what it was given;
 * head slices and body bytes lie in the bytes it was given; events come in
 * order (HEAD, BODY*, END, or ERROR at any point); END's body_size is at
 * least the body bytes reported, and exactly them when no hole was
 * skipped; a parser never reports events forever without consuming.
 * Each input also runs with the head scan line by line (HTTPP_SIMD_OFF)
 * and with the CPU's default level: every event, byte count and head
 * field must be the same (a digest of them all is compared).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "stream/httpp.h"

struct drv {
	struct httpp p;
	const uint8_t *buf;   /* the whole stream */
	size_t off;           /* first byte not consumed yet */
	size_t avail;         /* bytes arrived so far */
	bool in_msg;          /* a HEAD was reported, its END/ERROR not yet */
	bool gapped;          /* a hole was skipped inside the current message */
	bool tunnel_on_hold;
	uint64_t body_seen;   /* BODY bytes of the current message */
	uint64_t digest;      /* of every event and what it carried */
};

static void mix(struct drv *d, uint64_t v)
{
	d->digest = (d->digest ^ v) * 0x100000001b3ull;
}

static void mix_slice(struct drv *d, struct httpp_slice s)
{
	mix(d, s.len ? (uint64_t)((const uint8_t *)s.p - d->buf) : UINT64_MAX);
	mix(d, s.len);
}

static void digest_event(struct drv *d, const struct httpp_event *ev, size_t n)
{
	const struct httpp_head *h = ev->head;

	mix(d, (uint64_t)ev->type << 32 | n);
	mix(d, (uint64_t)ev->err << 32 | ev->msg_flags);
	mix(d, ev->body_size);
	if (ev->type == HTTPP_EV_BODY) {
		mix(d, (uint64_t)(ev->data - d->buf));
		mix(d, ev->len);
	}
	if (!h)
		return;
	mix(d, (uint64_t)h->status << 32 | (uint64_t)h->version_minor << 16 | h->body_kind);
	mix(d, (uint64_t)h->conn_close << 3 | h->expect_continue << 2 | h->upgrade << 1 |
	       h->headers_truncated);
	mix(d, h->content_length);
	mix(d, (uint64_t)h->head_len << 32 | h->n_headers);
	mix_slice(d, h->method);
	mix_slice(d, h->target);
	mix_slice(d, h->reason);
	for (uint32_t i = 0; i < h->n_headers; i++) {
		mix_slice(d, h->headers[i].name);
		mix_slice(d, h->headers[i].value);
	}
}

static void check_slice(const struct drv *d, struct httpp_slice s, const char *what)
{
	if (!s.len)
		return;
	FUZZ_CHECK(s.p >= (const char *)d->buf + d->off &&
		   s.p + s.len <= (const char *)d->buf + d->avail,
		   "%s slice outside the bytes given", what);
}

static void check_head(const struct drv *d, const struct httpp_head *h)
{
	FUZZ_CHECK(h->is_request == (d->p.kind == HTTPP_REQUEST), "head of the wrong kind");
	FUZZ_CHECK(h->version_minor <= 1, "version 1.%u", h->version_minor);
	FUZZ_CHECK(h->n_headers <= HTTPP_MAX_HEADERS, "%u headers", h->n_headers);
	check_slice(d, h->method, "method");
	check_slice(d, h->target, "target");
	check_slice(d, h->reason, "reason");
	for (uint32_t i = 0; i < h->n_headers; i++) {
		check_slice(d, h->headers[i].name, "header name");
		check_slice(d, h->headers[i].value, "header value");
	}
}

static void check_event(struct drv *d, const struct httpp_event *ev, size_t n)
{
	switch (ev->type) {
	case HTTPP_EV_HEAD:
		FUZZ_CHECK(!d->in_msg, "HEAD inside a message");
		FUZZ_CHECK(ev->head, "HEAD without a head");
		check_head(d, ev->head);
		d->in_msg = true;
		d->gapped = false;
		d->body_seen = 0;
		break;
	case HTTPP_EV_BODY:
		FUZZ_CHECK(d->in_msg, "BODY outside a message");
		FUZZ_CHECK(ev->len > 0 && ev->len <= n, "BODY of %zu bytes, %zu consumed", ev->len, n);
		FUZZ_CHECK(ev->data >= d->buf + d->off && ev->data + ev->len <= d->buf + d->off + n,
			   "BODY bytes outside the consumed bytes");
		d->body_seen += ev->len;
		break;
	case HTTPP_EV_END:
		FUZZ_CHECK(d->in_msg, "END without a HEAD");
		FUZZ_CHECK(ev->body_size >= d->body_seen, "body_size %llu < %llu reported",
			   (unsigned long long)ev->body_size, (unsigned long long)d->body_seen);
		FUZZ_CHECK(d->gapped || (ev->msg_flags & HTTPP_MF_GAP) || ev->body_size == d->body_seen,
			   "body_size %llu != %llu reported, no hole",
			   (unsigned long long)ev->body_size, (unsigned long long)d->body_seen);
		d->in_msg = false;
		break;
	case HTTPP_EV_ERROR:
		FUZZ_CHECK(ev->err > HTTPP_ERR_NONE && ev->err < HTTPP_ERR__COUNT, "error %d", ev->err);
		FUZZ_CHECK(httpp_err_name(ev->err) != NULL, "unnamed error %d", ev->err);
		if (ev->head)
			check_head(d, ev->head);
		d->in_msg = false;
		break;
	case HTTPP_EV_NONE:
		break;
	}
	if (ev->type == HTTPP_EV_END || ev->type == HTTPP_EV_ERROR)
		FUZZ_CHECK(!httpp_in_message(&d->p), "still in a message after END/ERROR");
	if (ev->type == HTTPP_EV_HEAD)
		FUZZ_CHECK(httpp_in_message(&d->p), "not in a message after HEAD");
}

/* Parse everything that has arrived, as conn.c's pump() does. */
static void run_to(struct drv *d, size_t avail)
{
	int idle = 0; /* events in a row that consumed nothing */

	d->avail = avail;
	for (;;) {
		struct httpp_event ev;
		size_t left = d->avail - d->off, n;

		if (httpp_is_holding(&d->p)) {
			if (d->tunnel_on_hold)
				httpp_tunnel(&d->p);
			else
				httpp_resume(&d->p);
		}
		n = httpp_parse(&d->p, d->buf + d->off, left, &ev);
		FUZZ_CHECK(n <= left, "consumed %zu of %zu bytes", n, left);
		check_event(d, &ev, n);
		digest_event(d, &ev, n);
		d->off += n;
		if (n == 0 && ev.type == HTTPP_EV_NONE)
			break;
		idle = n ? 0 : idle + 1;
		FUZZ_CHECK(idle < 8, "events without progress");
	}
}

/* A hole of g bytes at the split; the unconsumed bytes before it go too. */
static void hole(struct drv *d, size_t split, size_t g)
{
	struct httpp_event ev;
	bool was_in = httpp_in_message(&d->p);

	httpp_gap(&d->p, (split - d->off) + g, &ev);
	if (was_in)
		d->gapped = true;
	check_event(d, &ev, 0);
	digest_event(d, &ev, 0);
	d->off = split + g;
}

static uint64_t run_one(enum httpp_kind kind, const uint8_t *opt, const uint8_t *s, size_t len)
{
	static struct drv d; /* struct httpp is large */
	struct httpp_limits lim = { .max_head_bytes = 64u + opt[2] * 16u,
				    .max_value_bytes = 4u + opt[2] };
	size_t split = (size_t)opt[0] * len / 256, g = opt[1] >> 4;
	struct httpp_event ev;

	memset(&d, 0, sizeof(d));
	(opt[1] & 4 ? httpp_init_midstream : httpp_init)(&d.p, kind, &lim);
	if (kind == HTTPP_RESPONSE)
		httpp_set_peer(&d.p, (enum httpp_peer)((opt[1] & 3) % 3));
	d.buf = s;
	d.tunnel_on_hold = opt[1] & 8;
	run_to(&d, split);
	if (g > len - split)
		g = len - split;
	if (g)
		hole(&d, split, g);
	run_to(&d, len);
	httpp_finish(&d.p, &ev);
	FUZZ_CHECK(ev.type != HTTPP_EV_BODY && ev.type != HTTPP_EV_HEAD, "finish reported %d", ev.type);
	check_event(&d, &ev, 0);
	digest_event(&d, &ev, 0);
	return d.digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static enum httpp_simd def = HTTPP_SIMD__COUNT;

	if (size < 3)
		return 0;
	if (def == HTTPP_SIMD__COUNT)
		def = httpp_simd_get();
	for (int k = 0; k < 2; k++) {
		uint64_t dig[2];

		for (int lv = 0; lv < 2; lv++) {
			httpp_simd_set(lv ? def : HTTPP_SIMD_OFF);
			dig[lv] = run_one(k ? HTTPP_RESPONSE : HTTPP_REQUEST, data, data + 3, size - 3);
		}
		FUZZ_CHECK(dig[0] == dig[1], "head scan %s differs from line by line (%s)",
			   httpp_simd_name(def), k ? "response" : "request");
	}
	return 0;
}
