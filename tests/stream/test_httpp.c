/*
 * test_httpp.c - table-driven tests of the HTTP/1 parser.
 *
 * Every case is fed (a) whole, (b) one byte at a time and (c) split at every
 * position into two calls.  The harness behaves like the real caller: it keeps
 * the bytes the parser did not consume and appends the next piece; the buffer
 * beyond the valid bytes is poisoned for ASan, so any read past len is caught.
 * Each feed produces a normalized transcript (head fields and headers, body
 * bytes concatenated, END flags and size, errors) that must equal the
 * expected one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#include "stream/httpp.h"

/* ---- growable text for transcripts */

struct text {
	char *s;
	size_t len, cap;
};

static void t_putn(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 256;

		while (cap < t->len + n + 1)
			cap *= 2;
		t->s = realloc(t->s, cap);
		assert_non_null(t->s);
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void t_printf(struct text *t, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(tmp));
	t_putn(t, tmp, (size_t)n);
}

static void t_escaped(struct text *t, const void *p, size_t n)
{
	const uint8_t *s = p;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r')
			t_putn(t, "\\r", 2);
		else if (s[i] == '\n')
			t_putn(t, "\\n", 2);
		else if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '\\')
			t_printf(t, "\\x%02x", s[i]);
		else
			t_putn(t, (const char *)&s[i], 1);
	}
}

static void t_free(struct text *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}

/* ---- the caller: pending bytes kept, new pieces appended */

struct feeder {
	struct httpp p;
	uint8_t *mem;          /* pending bytes at mem[start..start+len) */
	size_t start, len, cap;
	struct text out;
	struct text body;      /* body bytes of the current run of BODY events */
	int on_hold;           /* 'r' resume, 't' tunnel */
	bool held;
	uint64_t calls;
	size_t max_pending;    /* most bytes the parser ever left us holding */
};

static const char *kind_name(enum httpp_body_kind k)
{
	static const char *const names[] = { "none", "len", "chunked", "close", "tunnel" };

	return (unsigned)k < 5 ? names[k] : "?";
}

static void flush_body(struct feeder *f)
{
	if (!f->body.len)
		return;
	t_putn(&f->out, "B ", 2);
	t_escaped(&f->out, f->body.s, f->body.len);
	t_putn(&f->out, "\n", 1);
	f->body.len = 0;
}

static void put_slice(struct text *t, struct httpp_slice s)
{
	t_escaped(t, s.p, s.len);
}

static bool in_pending(const struct feeder *f, const void *p, size_t n)
{
	const uint8_t *b = f->mem + f->start;

	return (const uint8_t *)p >= b && (const uint8_t *)p + n <= b + f->len;
}

static void record(struct feeder *f, const struct httpp_event *ev, size_t consumed)
{
	const struct httpp_head *h = ev->head;

	switch (ev->type) {
	case HTTPP_EV_NONE:
		return;
	case HTTPP_EV_BODY:
		assert_true(ev->len > 0);
		assert_true(in_pending(f, ev->data, ev->len));
		t_putn(&f->body, (const char *)ev->data, ev->len);
		return;
	default:
		break;
	}
	flush_body(f);
	switch (ev->type) {
	case HTTPP_EV_HEAD:
		assert_non_null(h);
		assert_true(h->head_len > 0 && h->head_len <= consumed);
		t_putn(&f->out, "H ", 2);
		if (h->is_request) {
			assert_true(in_pending(f, h->method.p, h->method.len));
			assert_true(in_pending(f, h->target.p, h->target.len));
			put_slice(&f->out, h->method);
			t_putn(&f->out, " ", 1);
			put_slice(&f->out, h->target);
			t_printf(&f->out, " 1.%u", h->version_minor);
		} else {
			assert_true(in_pending(f, h->reason.p, h->reason.len));
			t_printf(&f->out, "1.%u %u ", h->version_minor, h->status);
			put_slice(&f->out, h->reason);
		}
		t_printf(&f->out, " k=%s", kind_name(h->body_kind));
		if (h->body_kind == HTTPP_BODY_LENGTH)
			t_printf(&f->out, " cl=%llu", (unsigned long long)h->content_length);
		t_printf(&f->out, " c=%d n=%u t=%d", h->conn_close, h->n_headers,
			 h->headers_truncated);
		if (h->expect_continue)
			t_putn(&f->out, " exp", 4);
		if (h->upgrade)
			t_putn(&f->out, " up", 3);
		t_putn(&f->out, " ", 1);
		for (uint32_t i = 0; i < h->n_headers; i++) {
			const struct httpp_header *hd = &h->headers[i];

			assert_true(in_pending(f, hd->name.p, hd->name.len));
			assert_true(in_pending(f, hd->value.p, hd->value.len));
			if (i >= 8)
				continue; /* transcripts show the first 8 */
			t_putn(&f->out, "[", 1);
			put_slice(&f->out, hd->name);
			t_putn(&f->out, ":", 1);
			put_slice(&f->out, hd->value);
			t_putn(&f->out, "]", 1);
		}
		t_putn(&f->out, "\n", 1);
		break;
	case HTTPP_EV_END:
		t_printf(&f->out, "E f=%u s=%llu\n", ev->msg_flags,
			 (unsigned long long)ev->body_size);
		break;
	case HTTPP_EV_ERROR:
		t_printf(&f->out, "X %s", httpp_err_name(ev->err));
		if (h && h->is_request) {
			assert_true(in_pending(f, h->method.p, h->method.len));
			assert_true(in_pending(f, h->target.p, h->target.len));
			t_putn(&f->out, " @", 2);
			put_slice(&f->out, h->method);
			t_putn(&f->out, " ", 1);
			put_slice(&f->out, h->target);
		} else if (h) {
			t_printf(&f->out, " @%u", h->status);
		}
		if (h) {
			assert_true(h->head_len > 0 && h->head_len <= consumed);
			for (uint32_t i = 0; i < h->n_headers; i++) {
				assert_true(in_pending(f, h->headers[i].name.p, h->headers[i].name.len));
				assert_true(in_pending(f, h->headers[i].value.p, h->headers[i].value.len));
			}
		}
		t_putn(&f->out, "\n", 1);
		break;
	default:
		fail_msg("bad event type %d", ev->type);
	}
}

static void drop(struct feeder *f, size_t n)
{
	assert_true(n <= f->len);
	POISON(f->mem + f->start, n);
	f->start += n;
	f->len -= n;
}

/* Call the parser until it needs more bytes (the real caller's loop). */
static void pump(struct feeder *f)
{
	struct httpp_event ev;

	for (;;) {
		size_t n = httpp_parse(&f->p, f->mem + f->start, f->len, &ev);

		assert_true(++f->calls < 50000000);
		assert_true(n <= f->len);
		record(f, &ev, n);
		drop(f, n);
		if (n || ev.type != HTTPP_EV_NONE)
			continue;
		assert_false(httpp_has_pending(&f->p));
		if (!httpp_is_holding(&f->p))
			return;
		if (!f->held) {
			flush_body(f);
			t_putn(&f->out, "HOLD\n", 5);
			f->held = true;
		}
		if (f->on_hold == 'r') {
			httpp_resume(&f->p);
			f->held = false;
		} else if (f->on_hold == 't') {
			httpp_tunnel(&f->p);
		} else {
			return;
		}
	}
}

/* Append n bytes; only mem[start..start+len) is ever readable (ASan). */
static void feed(struct feeder *f, const void *data, size_t n)
{
	if (f->start + f->len + n > f->cap) {
		size_t cap = 64;
		uint8_t *nb;

		while (cap < 2 * (f->len + n))
			cap *= 2;
		nb = malloc(cap);
		assert_non_null(nb);
		POISON(nb, cap);
		UNPOISON(nb, f->len);
		if (f->mem) {
			memcpy(nb, f->mem + f->start, f->len);
			UNPOISON(f->mem, f->cap);
			free(f->mem);
		}
		f->mem = nb;
		f->cap = cap;
		f->start = 0;
	}
	UNPOISON(f->mem + f->start + f->len, n);
	if (n)
		memcpy(f->mem + f->start + f->len, data, n);
	f->len += n;
	if (f->len > f->max_pending)
		f->max_pending = f->len;
	pump(f);
}

/* A hole: the caller drops what it kept (the parser could not use it) and
 * reports those bytes and the hole as one gap. */
static void gap(struct feeder *f, uint64_t n)
{
	struct httpp_event ev;
	uint64_t total = n + f->len;

	drop(f, f->len);
	httpp_gap(&f->p, total, &ev);
	record(f, &ev, 0);
	pump(f);
}

static void feeder_free(struct feeder *f)
{
	if (f->mem) {
		UNPOISON(f->mem, f->cap);
		free(f->mem);
	}
	t_free(&f->body);
	t_free(&f->out);
}

static void finish(struct feeder *f)
{
	struct httpp_event ev;

	httpp_finish(&f->p, &ev);
	record(f, &ev, 0);
	flush_body(f);
	t_putn(&f->out, "FIN\n", 4);
}

/* ---- cases */

#define T_MID    0x1   /* httpp_init_midstream */
#define T_FIN    0x2   /* httpp_finish at the end */

struct tcase {
	const char *label;
	enum httpp_kind kind;
	enum httpp_peer peer;
	int flags;
	int on_hold;
	const char *in;
	size_t in_len;
	size_t gap_at;          /* a hole after in[0..gap_at) */
	uint64_t gap_len;       /* 0: no hole */
	uint32_t max_head, max_value;
	const char *expect;
};

#define IN(s) .in = s, .in_len = sizeof(s) - 1
#define REQ .kind = HTTPP_REQUEST
#define RESP .kind = HTTPP_RESPONSE

static const struct tcase cases[] = {
	/* ---- requests: basics */
	{ "get-simple", REQ, IN("GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
	  .expect = "H GET /a?b=1 1.1 k=none c=0 n=1 t=0 [Host:x]\nE f=0 s=0\n" },
	{ "get-http10-close", REQ, IN("GET / HTTP/1.0\r\n\r\n"),
	  .expect = "H GET / 1.0 k=none c=1 n=0 t=0 \nE f=0 s=0\n" },
	{ "get-http10-keepalive", REQ, IN("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
	  .expect = "H GET / 1.0 k=none c=0 n=1 t=0 [Connection:Keep-Alive]\nE f=0 s=0\n" },
	{ "conn-close-list", REQ,
	  IN("GET / HTTP/1.1\r\nconnection: keep-alive , CLOSE\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=1 n=1 t=0 [connection:keep-alive , CLOSE]\nE f=0 s=0\n" },
	{ "ows-trim-empty-value", REQ,
	  IN("GET / HTTP/1.1\r\nA: \t v 1 \t \r\nB:\r\nC:x\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=0 n=3 t=0 [A:v 1][B:][C:x]\nE f=0 s=0\n" },
	{ "lf-only-lines", REQ, IN("GET / HTTP/1.1\nHost: x\n\n"),
	  .expect = "H GET / 1.1 k=none c=0 n=1 t=0 [Host:x]\nE f=0 s=0\n" },
	{ "obs-text-value", REQ, IN("GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=0 n=1 t=0 [X:caf\\xc3\\xa9]\nE f=0 s=0\n" },
	{ "expect-continue", REQ,
	  IN("PUT /u HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok"),
	  .expect = "H PUT /u 1.1 k=len cl=2 c=0 n=2 t=0 exp [Expect:100-Continue][Content-Length:2]\nB ok\nE f=0 s=2\n" },
	{ "post-content-length", REQ, IN("POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
	  .expect = "H POST /p 1.1 k=len cl=5 c=0 n=1 t=0 [Content-Length:5]\nB hello\nE f=0 s=5\n" },
	{ "post-cl-zero", REQ, IN("POST /p HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
	  .expect = "H POST /p 1.1 k=len cl=0 c=0 n=1 t=0 [Content-Length:0]\nE f=0 s=0\n" },
	{ "cl-leading-zeros", REQ, IN("POST / HTTP/1.1\r\nContent-Length: 003\r\n\r\nabc"),
	  .expect = "H POST / 1.1 k=len cl=3 c=0 n=1 t=0 [Content-Length:003]\nB abc\nE f=0 s=3\n" },
	{ "body-with-fake-request", REQ,
	  IN("POST /p HTTP/1.1\r\nContent-Length: 19\r\n\r\nGET /x HTTP/1.1\r\n\r\n"
	     "GET /y HTTP/1.1\r\n\r\n"),
	  .expect = "H POST /p 1.1 k=len cl=19 c=0 n=1 t=0 [Content-Length:19]\n"
		    "B GET /x HTTP/1.1\\r\\n\\r\\n\nE f=0 s=19\n"
		    "H GET /y 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "pipelined-three", REQ,
	  IN("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"),
	  .expect = "H GET /1 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n"
		    "H GET /2 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n"
		    "H GET /3 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "pipelined-post-get", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\n\r\n"),
	  .expect = "H POST / 1.1 k=len cl=3 c=0 n=1 t=0 [Content-Length:3]\nB abc\nE f=0 s=3\n"
		    "H GET /2 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "crlf-between-messages", REQ,
	  IN("\r\nGET /1 HTTP/1.1\r\n\r\n\r\n\nGET /2 HTTP/1.1\r\n\r\n"),
	  .expect = "H GET /1 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n"
		    "H GET /2 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "header-names-case-insensitive", REQ,
	  IN("POST / HTTP/1.1\r\ncOnTeNt-LeNgTh: 1\r\n\r\nx"),
	  .expect = "H POST / 1.1 k=len cl=1 c=0 n=1 t=0 [cOnTeNt-LeNgTh:1]\nB x\nE f=0 s=1\n" },
	/* ---- requests: chunked */
	{ "chunked-basic", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nB hello world\nE f=0 s=11\n" },
	{ "chunked-ext-trailers", REQ,
	  IN("POST / HTTP/1.1\r\nTRANSFER-ENCODING: Chunked\r\n\r\n"
	     "A;name=val;q=\"x;y\"\r\n0123456789\r\n1 ; e\r\n!\r\n0;last\r\nX-Sum: 1\r\nX-T: 2\r\n\r\n"
	     "GET /n HTTP/1.1\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [TRANSFER-ENCODING:Chunked]\nB 0123456789!\nE f=0 s=11\n"
		    "H GET /n 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "chunked-hex-case-lf-only", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1a\n"
	     "abcdefghijklmnopqrstuvwxyz\n0000\n\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nB abcdefghijklmnopqrstuvwxyz\nE f=0 s=26\n" },
	{ "te-gzip-then-chunked", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=2 t=0 [Transfer-Encoding:gzip][Transfer-Encoding:chunked]\nB z\nE f=0 s=1\n" },
	{ "chunk-16-hex-digits-finish", REQ, .flags = T_FIN,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nB abc\nX eof\nFIN\n" },
	/* ---- requests: CONNECT / Upgrade */
	{ "connect-tunnel", REQ, .on_hold = 't',
	  IN("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x02\x00GET / HTTP/1.1\r\n\r\n"),
	  .expect = "H CONNECT example.com:443 1.1 k=none c=0 n=1 t=0 [Host:example.com:443]\nE f=0 s=0\nHOLD\n" },
	{ "connect-refused-resume", REQ, .on_hold = 'r',
	  IN("CONNECT a:443 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
	  .expect = "H CONNECT a:443 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\nHOLD\n"
		    "H GET / 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "connect-hold-no-answer", REQ,
	  IN("CONNECT a:443 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
	  .expect = "H CONNECT a:443 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\nHOLD\n" },
	{ "upgrade-websocket-resume", REQ, .on_hold = 'r',
	  IN("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
	  .expect = "H GET /ws 1.1 k=none c=0 n=2 t=0 up [Upgrade:websocket][Connection:Upgrade]\nE f=0 s=0\nHOLD\n"
		    "H GET /2 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "upgrade-tunnel", REQ, .on_hold = 't',
	  IN("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
	  .expect = "H GET /ws 1.1 k=none c=0 n=1 t=0 up [Upgrade:websocket]\nE f=0 s=0\nHOLD\n" },
	/* ---- requests: Content-Length attacks */
	{ "cl-duplicate-equal", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"),
	  .expect = "H POST / 1.1 k=len cl=2 c=0 n=2 t=0 [Content-Length:2][Content-Length:2]\nB ab\nE f=0 s=2\n" },
	{ "cl-list-equal", REQ, IN("POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nab"),
	  .expect = "H POST / 1.1 k=len cl=2 c=0 n=1 t=0 [Content-Length:2, 2]\nB ab\nE f=0 s=2\n" },
	{ "cl-conflict-then-resync", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X cl_conflict @POST /\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "cl-list-conflict", REQ, IN("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n"),
	  .expect = "X cl_conflict @POST /\n" },
	{ "cl-invalid-sign", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X cl_invalid @POST /\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "cl-invalid-empty", REQ, IN("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"),
	  .expect = "X cl_invalid @POST /\n" },
	{ "cl-invalid-empty-element", REQ, IN("POST / HTTP/1.1\r\nContent-Length: 5,\r\n\r\n"),
	  .expect = "X cl_invalid @POST /\n" },
	{ "cl-overflow", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"),
	  .expect = "X cl_invalid @POST /\n" },
	{ "cl-max-u64", REQ, .flags = T_FIN,
	  IN("POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\nab"),
	  .expect = "H POST / 1.1 k=len cl=18446744073709551615 c=0 n=1 t=0 [Content-Length:18446744073709551615]\nB ab\nX eof\nFIN\n" },
	{ "cl-conflict-then-syntax-error", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\nBad Line\r\n\r\n"),
	  .expect = "X header_syntax\n" },
	{ "cl-conflict-resp-304", RESP,
	  IN("HTTP/1.1 304 Not Modified\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
	  .expect = "X cl_conflict @304\n" },
	{ "cl-and-te", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	     "GET /smuggled HTTP/1.1\r\n\r\n"),
	  .expect = "X cl_and_te @POST /\nH GET /smuggled 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "te-not-chunked-request", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nxx\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X te_not_chunked @POST /\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "te-chunked-not-last", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
	  .expect = "X te_not_chunked @POST /\n" },
	{ "te-chunked-twice", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  .expect = "X te_not_chunked @POST /\n" },
	{ "te-http10-request", REQ,
	  IN("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  .expect = "X te_not_chunked @POST /\n" },
	{ "te-chunked-vt", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\x0b\r\n\r\n"),
	  .expect = "X te_not_chunked @POST /\n" },
	{ "te-chunked-junk", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked x\r\n\r\n"),
	  .expect = "X te_not_chunked @POST /\n" },
	{ "te-chunked-ows-list", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: , gzip ,Chunked \t\r\n\r\n0\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:, gzip ,Chunked]\nE f=0 s=0\n" },
	{ "target-with-ctl", REQ,
	  IN("GET /a\x01b HTTP/1.1\r\n\r\nGET /a%20b?x=\xc3\xa9 HTTP/1.1\r\n\r\n"),
	  .expect = "X start_line\nH GET /a%20b?x=\\xc3\\xa9 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "long-target", REQ,
	  IN("GET /0123456789012345678901234567890123456789012345678901234567890123456789?q=abcdefghijklmnopqrstuvwxyz HTTP/1.1\r\n\r\n"),
	  .expect = "H GET /0123456789012345678901234567890123456789012345678901234567890123456789?q=abcdefghijklmnopqrstuvwxyz 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "long-target-with-space", REQ,
	  IN("GET /0123456789012345678901234567890123456789 0123456789012345678901234567890123456789 HTTP/1.1\r\n\r\n"),
	  .expect = "X start_line\n" },
	{ "long-names-and-values", REQ,
	  IN("GET / HTTP/1.1\r\nX-A-Very-Long-Header-Name-Indeed: value\r\n"
	     "X-Another-Long-Header-Name(bad): v\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X header_syntax\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "long-name-ok", REQ,
	  IN("GET / HTTP/1.1\r\nX-A-Very-Long-Header-Name-Indeed!#$%&'*+-.^_`|~09: v\tw\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=0 n=1 t=0 [X-A-Very-Long-Header-Name-Indeed!#$%&'*+-.^_`|~09:v\\x09w]\nE f=0 s=0\n" },
	{ "long-name-space-before-colon", REQ,
	  IN("GET / HTTP/1.1\r\nX-A-Very-Long-Header-Name-Indeed : v\r\n\r\n"),
	  .expect = "X header_syntax\n" },
	/* ---- requests: syntax errors, each followed by a good message */
	{ "obs-fold", REQ,
	  IN("GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X obs_fold\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "ws-after-start-line", REQ,
	  IN("GET / HTTP/1.1\r\n X: a\r\n\r\n"),
	  .expect = "X obs_fold\n" },
	{ "bare-cr-value", REQ,
	  IN("GET / HTTP/1.1\r\nX: a\rb\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X bare_cr\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "bare-cr-start-line", REQ,
	  IN("GET /\r HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X bare_cr\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "bare-cr-line-end", REQ,
	  IN("GET / HTTP/1.1\r\nX: a\r\r\n\r\n"),
	  .expect = "X bare_cr\n" },
	{ "nul-in-name", REQ,
	  IN("GET / HTTP/1.1\r\nX\0Y: a\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X nul\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "nul-in-value", REQ, IN("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"),
	  .expect = "X nul\n" },
	{ "space-before-colon", REQ,
	  IN("GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X header_syntax\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "no-colon", REQ, IN("GET / HTTP/1.1\r\nnocolon\r\n\r\n"),
	  .expect = "X header_syntax\n" },
	{ "empty-name", REQ, IN("GET / HTTP/1.1\r\n: v\r\n\r\n"),
	  .expect = "X header_syntax\n" },
	{ "version-1-2", REQ,
	  IN("GET / HTTP/1.2\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X version\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "version-2-0", REQ, IN("GET / HTTP/2.0\r\n\r\n"),
	  .expect = "X version\n" },
	{ "request-line-no-target", REQ,
	  IN("GET HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X start_line\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "request-line-double-space", REQ, IN("GET  / HTTP/1.1\r\n\r\n"),
	  .expect = "X start_line\n" },
	{ "request-binary-garbage", REQ,
	  IN("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X start_line\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "resync-skips-non-requests", REQ,
	  IN("GET / HTTP/9.9\r\nHELLO world\r\nGET /no-version\r\nget /lower HTTP/1.1\r\n"
	     "POST /ok HTTP/1.1\r\nContent-Length: 1\r\n\r\nz"),
	  .expect = "X version\nH POST /ok 1.1 k=len cl=1 c=0 n=1 t=0 [Content-Length:1]\nB z\nE f=0 s=1\n" },
	{ "head-too-large", REQ, .max_head = 48,
	  IN("GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
	     "GET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X head_too_large\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "head-exactly-max", REQ, .max_head = 22,
	  IN("GET / HTTP/1.1\r\nA:\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=0 n=1 t=0 [A:]\nE f=0 s=0\n" },
	{ "head-max-plus-one", REQ, .max_head = 21,
	  IN("GET / HTTP/1.1\r\nA:\r\n\r\n"),
	  .expect = "X head_too_large\n" },
	{ "value-cut", REQ, .max_value = 4,
	  IN("GET / HTTP/1.1\r\nA: 123456\r\nB: 1234\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=0 n=2 t=1 [A:1234][B:1234]\nE f=2 s=0\n" },
	/* ---- requests: chunk errors */
	{ "chunk-size-invalid", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nX chunk_size\n"
		    "H GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "chunk-size-missing", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nX chunk_size\n" },
	{ "chunk-size-bare-cr", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nX chunk_size\n" },
	{ "chunk-17-f-overflow", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n"
	     "GET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nX chunk_overflow\n"
		    "H GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "chunk-missing-crlf", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY\r\n0\r\n\r\n"
	     "GET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nB abc\nX chunk_end\n"
		    "H GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "chunk-cr-without-lf", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\rX0\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nB abc\nX chunk_end\n" },
	{ "trailer-malformed", REQ,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n"
	     "GET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nX trailer\n"
		    "H GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "trailer-too-large", REQ, .max_head = 64,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: "
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nX trailer\n" },
	/* ---- requests: midstream, gaps, finish */
	{ "midstream-request", REQ, .flags = T_MID,
	  IN("e of a body\r\nHost: x\r\n\r\nPUT /ok HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"),
	  .expect = "H PUT /ok 1.1 k=len cl=2 c=0 n=1 t=0 [Content-Length:2]\nB hi\nE f=0 s=2\n" },
	{ "midstream-at-start", REQ, .flags = T_MID, IN("GET / HTTP/1.1\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "gap-mid-body", REQ, .gap_at = 43, .gap_len = 3,
	  IN("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabcdhijGET /n HTTP/1.1\r\n\r\n"),
	  .expect = "H POST / 1.1 k=len cl=10 c=0 n=1 t=0 [Content-Length:10]\nB abcdhij\nE f=1 s=10\n"
		    "H GET /n 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "gap-ends-body", REQ, .gap_at = 43, .gap_len = 6,
	  IN("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabcdGET /n HTTP/1.1\r\n\r\n"),
	  .expect = "H POST / 1.1 k=len cl=10 c=0 n=1 t=0 [Content-Length:10]\nB abcd\nE f=1 s=10\n"
		    "H GET /n 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "gap-past-body", REQ, .gap_at = 43, .gap_len = 100,
	  IN("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabcdxx\r\nGET /n HTTP/1.1\r\n\r\n"),
	  .expect = "H POST / 1.1 k=len cl=10 c=0 n=1 t=0 [Content-Length:10]\nB abcd\nX gap\n"
		    "H GET /n 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "gap-in-chunk", REQ, .gap_at = 52, .gap_len = 6,
	  IN("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nab\r\n0\r\n\r\n"),
	  .expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nB ab\nE f=1 s=8\n" },
	{ "gap-mid-head", REQ, .gap_at = 20, .gap_len = 7,
	  IN("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /n HTTP/1.1\r\n\r\n"),
	  .expect = "X gap\nH GET /n 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "gap-between-messages", REQ, .gap_at = 19, .gap_len = 18,
	  IN("GET /1 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"),
	  .expect = "H GET /1 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n"
		    "H GET /3 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "gap-then-mid-message", REQ, .gap_at = 19, .gap_len = 30,
	  IN("GET /1 HTTP/1.1\r\n\r\nrest of a body\r\nGET /3 HTTP/1.1\r\n\r\n"),
	  .expect = "H GET /1 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n"
		    "H GET /3 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "finish-inside-body", REQ, .flags = T_FIN,
	  IN("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
	  .expect = "H POST / 1.1 k=len cl=10 c=0 n=1 t=0 [Content-Length:10]\nB abc\nX eof\nFIN\n" },
	{ "finish-inside-head", REQ, .flags = T_FIN, IN("GET / HTTP/1.1\r\nHo"),
	  .expect = "X eof\nFIN\n" },
	{ "finish-between", REQ, .flags = T_FIN, IN("GET / HTTP/1.1\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\nFIN\n" },
	/* ---- responses */
	{ "resp-cl", RESP, IN("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
	  .expect = "H 1.1 200 OK k=len cl=3 c=0 n=1 t=0 [Content-Length:3]\nB abc\nE f=0 s=3\n" },
	{ "resp-chunked-trailers", RESP,
	  IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n"),
	  .expect = "H 1.1 200 OK k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nB Wikipedia\nE f=0 s=9\n" },
	{ "resp-204-ignores-cl", RESP,
	  IN("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	  .expect = "H 1.1 204 No Content k=none c=0 n=1 t=0 [Content-Length:10]\nE f=0 s=0\n"
		    "H 1.1 200 OK k=len cl=0 c=0 n=1 t=0 [Content-Length:0]\nE f=0 s=0\n" },
	{ "resp-304", RESP,
	  IN("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  .expect = "H 1.1 304 Not Modified k=none c=0 n=1 t=0 [Transfer-Encoding:chunked]\nE f=0 s=0\n" },
	{ "resp-head-peer", RESP, .peer = HTTPP_PEER_HEAD,
	  IN("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  .expect = "H 1.1 200 OK k=none c=0 n=1 t=0 [Content-Length:1000]\nE f=0 s=0\n"
		    "H 1.1 200 OK k=none c=0 n=1 t=0 [Transfer-Encoding:chunked]\nE f=0 s=0\n" },
	{ "resp-100-then-final", RESP,
	  IN("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
	  .expect = "H 1.1 100 Continue k=none c=0 n=0 t=0 \nE f=0 s=0\n"
		    "H 1.1 200 OK k=len cl=2 c=0 n=1 t=0 [Content-Length:2]\nB ok\nE f=0 s=2\n" },
	{ "resp-103-then-final", RESP,
	  IN("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
	     "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
	  .expect = "H 1.1 103 Early Hints k=none c=0 n=1 t=0 [Link:</s.css>; rel=preload]\nE f=0 s=0\n"
		    "H 1.1 404 Not Found k=len cl=0 c=0 n=1 t=0 [Content-Length:0]\nE f=0 s=0\n" },
	{ "resp-101-tunnel", RESP, .flags = T_FIN,
	  IN("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello HTTP/1.1 200 OK\r\n\r\n"),
	  .expect = "H 1.1 101 Switching Protocols k=tunnel c=0 n=1 t=0 up [Upgrade:websocket]\nE f=0 s=0\nFIN\n" },
	{ "resp-connect-200", RESP, .peer = HTTPP_PEER_CONNECT,
	  IN("HTTP/1.1 200 Connection established\r\nContent-Length: 5\r\n\r\n\x16\x03\x01 anything"),
	  .expect = "H 1.1 200 Connection established k=tunnel c=0 n=1 t=0 [Content-Length:5]\nE f=0 s=0\n" },
	{ "resp-connect-407", RESP, .peer = HTTPP_PEER_CONNECT,
	  IN("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\nnoHTTP/1.1 200 OK\r\n\r\n"),
	  .expect = "H 1.1 407 Proxy Auth k=len cl=2 c=0 n=1 t=0 [Content-Length:2]\nB no\nE f=0 s=2\n"
		    "H 1.1 200 OK k=tunnel c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "resp-close-delimited", RESP, .flags = T_FIN,
	  IN("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of this\r\nHTTP/1.1 200 OK\r\n"),
	  .expect = "H 1.1 200 OK k=close c=1 n=1 t=0 [Connection:close]\n"
		    "B all of this\\r\\nHTTP/1.1 200 OK\\r\\n\nE f=0 s=30\nFIN\n" },
	{ "resp-http10-no-cl", RESP, .flags = T_FIN, IN("HTTP/1.0 200 OK\r\n\r\nbody"),
	  .expect = "H 1.0 200 OK k=close c=1 n=0 t=0 \nB body\nE f=0 s=4\nFIN\n" },
	{ "resp-te-gzip-close", RESP, .flags = T_FIN,
	  IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz"),
	  .expect = "H 1.1 200 OK k=close c=0 n=1 t=0 [Transfer-Encoding:gzip]\nB zzz\nE f=0 s=3\nFIN\n" },
	{ "resp-cl-and-te", RESP,
	  IN("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	     "HTTP/1.1 204 No Content\r\n\r\n"),
	  .expect = "X cl_and_te @200\nH 1.1 204 No Content k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "resp-no-reason", RESP, IN("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"),
	  .expect = "H 1.1 200  k=len cl=0 c=0 n=1 t=0 [Content-Length:0]\nE f=0 s=0\n" },
	{ "resp-bad-status", RESP,
	  IN("HTTP/1.1 20 OK\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	  .expect = "X start_line\nH 1.1 200 OK k=len cl=0 c=0 n=1 t=0 [Content-Length:0]\nE f=0 s=0\n" },
	{ "resp-version-2", RESP, IN("HTTP/2 200\r\n\r\n"), .expect = "X version\n" },
	{ "resp-garbage-then-resync", RESP,
	  IN("<html>garbage\r\nmore\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
	  .expect = "X start_line\nH 1.1 200 OK k=len cl=1 c=0 n=1 t=0 [Content-Length:1]\nB x\nE f=0 s=1\n" },
	{ "resp-midstream", RESP, .flags = T_MID,
	  IN("tail of a body HTTP/1.1 200\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
	  .expect = "H 1.1 201 Created k=len cl=0 c=0 n=1 t=0 [Content-Length:0]\nE f=0 s=0\n" },
	{ "resp-pipelined", RESP,
	  IN("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nbb"
	     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nccc\r\n0\r\n\r\n"),
	  .expect = "H 1.1 200 OK k=len cl=1 c=0 n=1 t=0 [Content-Length:1]\nB a\nE f=0 s=1\n"
		    "H 1.1 200 OK k=len cl=2 c=0 n=1 t=0 [Content-Length:2]\nB bb\nE f=0 s=2\n"
		    "H 1.1 200 OK k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\nB ccc\nE f=0 s=3\n" },
	{ "resp-gap-close-body", RESP, .flags = T_FIN, .gap_at = 21, .gap_len = 1000,
	  IN("HTTP/1.1 200 OK\r\n\r\nabcdef"),
	  .expect = "H 1.1 200 OK k=close c=0 n=0 t=0 \nB abcdef\nE f=1 s=1006\nFIN\n" },
	{ "resp-cl-conflict", RESP,
	  IN("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
	  .expect = "X cl_conflict @200\n" },
	/* ---- the block scan's and the framing values' fast paths */
	{ "name-prefix-of-framing-names", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Lengt: 5\r\nConnectio: close\r\n"
	     "Transfer-Encodin: chunked\r\nContent-Length-X: 7\r\nConnection2: close\r\n\r\n"),
	  .expect = "H POST / 1.1 k=none c=0 n=5 t=0 [Content-Lengt:5][Connectio:close]"
		    "[Transfer-Encodin:chunked][Content-Length-X:7][Connection2:close]\nE f=0 s=0\n" },
	{ "connection-near-values", REQ,
	  IN("GET / HTTP/1.1\r\nConnection: closed\r\nConnection: keep-alivee\r\n"
	     "Connection: clos\r\nConnection: \xc3lose\r\nConnection: \xcb" "eep-alive\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=0 n=5 t=0 [Connection:closed][Connection:keep-alivee]"
		    "[Connection:clos][Connection:\\xc3lose][Connection:\\xcbeep-alive]\nE f=0 s=0\n" },
	{ "connection-case-and-ows", REQ,
	  IN("GET / HTTP/1.1\r\nCONNECTION: \t CLOSE \t\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=1 n=1 t=0 [CONNECTION:CLOSE]\nE f=0 s=0\n" },
	{ "http10-keep-alive-upper", REQ, IN("GET / HTTP/1.0\r\nconnection: KEEP-ALIVE\r\n\r\n"),
	  .expect = "H GET / 1.0 k=none c=0 n=1 t=0 [connection:KEEP-ALIVE]\nE f=0 s=0\n" },
	{ "expect-folded-lookalike", REQ,
	  IN("GET / HTTP/1.1\r\nExpect: \x11\x10\x10-continue\r\nEXPECT: 100-CONTINUe\r\n\r\n"),
	  .expect = "H GET / 1.1 k=none c=0 n=2 t=0 exp [Expect:\\x11\\x10\\x10-continue]"
		    "[EXPECT:100-CONTINUe]\nE f=0 s=0\n" },
	{ "cl-19-digits", RESP, IN("HTTP/1.1 200 OK\r\nContent-Length: 0000000000000000003\r\n\r\nabc"),
	  .expect = "H 1.1 200 OK k=len cl=3 c=0 n=1 t=0 [Content-Length:0000000000000000003]\n"
		    "B abc\nE f=0 s=3\n" },
	{ "cl-max-and-over", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n"),
	  .expect = "H POST / 1.1 k=len cl=18446744073709551615 c=0 n=1 t=0 "
		    "[Content-Length:18446744073709551615]\n" },
	{ "cl-over-max", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"),
	  .expect = "X cl_invalid @POST /\n" },
	{ "cl-sign-and-space", REQ,
	  IN("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nGET /a HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n"
	     "GET /b HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nok"),
	  .expect = "X cl_invalid @POST /\nX cl_invalid @GET /a\n"
		    "H GET /b 1.1 k=len cl=2 c=0 n=1 t=0 [Content-Length:2, 2]\nB ok\nE f=0 s=2\n" },
	{ "high-bytes-in-name-and-value", REQ,
	  IN("GET / HTTP/1.1\r\nX: \x80\xff\r\nY\x80: 1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X header_syntax\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "obs-fold-tab-after-long-line", REQ,
	  IN("GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
	     "\tb\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X obs_fold\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "colon-first-and-colon-in-value", REQ,
	  IN("GET / HTTP/1.1\r\nA: b:c::\r\n: x\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
	  .expect = "X header_syntax\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" },
	{ "request-line-shapes", REQ,
	  IN("GET / HTTP/1.1 \r\n\r\nGET  HTTP/1.1\r\n\r\nGET /a b HTTP/1.1\r\n\r\n"
	     "GET /x HTTP/1.2\r\n\r\nGET /y HTTP/1.0\r\n\r\n"),
	  .expect = "X start_line\nX start_line\nX version\n"
		    "H GET /y 1.0 k=none c=1 n=0 t=0 \nE f=0 s=0\n" },
	{ "status-line-shapes", RESP,
	  IN("HTTP/1.1  200 OK\r\n\r\nHTTP/1.10 200 OK\r\n\r\nHTTP/1.0 200\r\nContent-Length: 0\r\n\r\n"),
	  .expect = "X start_line\nX version\nH 1.0 200  k=len cl=0 c=1 n=1 t=0 [Content-Length:0]\n"
		    "E f=0 s=0\n" },
};

/* ---- running */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33);
}

enum { M_WHOLE, M_BYTES, M_SPLIT, M_RANDOM };

/* Feed in[a..e) according to mode. */
static void feed_range(struct feeder *f, const char *in, size_t a, size_t e, int mode,
		       size_t split)
{
	switch (mode) {
	case M_BYTES:
		for (size_t i = a; i < e; i++)
			feed(f, in + i, 1);
		break;
	case M_SPLIT:
		if (split > a && split < e) {
			feed(f, in + a, split - a);
			feed(f, in + split, e - split);
			break;
		}
		feed(f, in + a, e - a);
		break;
	case M_RANDOM:
		while (a < e) {
			size_t k = 1 + rnd() % (rnd() % 4 ? 8 : 200);

			if (k > e - a)
				k = e - a;
			feed(f, in + a, k);
			a += k;
		}
		break;
	default:
		feed(f, in + a, e - a);
		break;
	}
}

/* Run one feed of a case; returns the transcript (malloc'ed). */
static char *run(const struct tcase *c, int mode, size_t split, size_t *max_pending)
{
	struct httpp_limits lim = { c->max_head, c->max_value };
	struct feeder f;
	size_t gap_at = c->gap_len ? c->gap_at : c->in_len;
	char *res;

	memset(&f, 0, sizeof(f));
	f.on_hold = c->on_hold;
	if (c->flags & T_MID)
		httpp_init_midstream(&f.p, c->kind, &lim);
	else
		httpp_init(&f.p, c->kind, &lim);
	httpp_set_peer(&f.p, c->peer);
	feed_range(&f, c->in, 0, gap_at, mode, split);
	if (c->gap_len) {
		gap(&f, c->gap_len);
		feed_range(&f, c->in, gap_at, c->in_len, mode, split);
	}
	if (c->flags & T_FIN)
		finish(&f);
	flush_body(&f);
	res = strdup(f.out.s ? f.out.s : "");
	assert_non_null(res);
	if (max_pending)
		*max_pending = f.max_pending;
	feeder_free(&f);
	return res;
}

/* Compare one feed's transcript; false (and a report) on a mismatch. */
static bool same(const struct tcase *c, const char *expect, const char *mode, size_t split,
		 char *got)
{
	bool ok = strcmp(got, expect) == 0;

	if (!ok)
		print_error("%s (%s %zu):\n--- expected\n%s--- got\n%s", c->label, mode, split,
			    expect, got);
	free(got);
	return ok;
}

/* Whole, byte by byte, and split in two at every stride-th position. */
static bool check_case(const struct tcase *c, size_t stride)
{
	if (!same(c, c->expect, "whole", 0, run(c, M_WHOLE, 0, NULL)))
		return false;
	if (!same(c, c->expect, "bytewise", 0, run(c, M_BYTES, 0, NULL)))
		return false;
	for (size_t k = 1; k < c->in_len; k += stride)
		if (!same(c, c->expect, "split at", k, run(c, M_SPLIT, k, NULL)))
			return false;
	return true;
}

static void test_table(void **state)
{
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad += !check_case(&cases[i], 1);
	assert_int_equal(bad, 0);
	print_message("%zu table cases, each whole / bytewise / split everywhere\n",
		      sizeof(cases) / sizeof(cases[0]));
}

/* ---- generated inputs too large for a literal */

struct gen {
	char *s;
	size_t len, cap;
};

static void g_put(struct gen *g, const char *s, size_t n)
{
	if (g->len + n > g->cap) {
		size_t cap = g->cap ? g->cap : 4096;

		while (cap < g->len + n)
			cap *= 2;
		g->s = realloc(g->s, cap);
		assert_non_null(g->s);
		g->cap = cap;
	}
	memcpy(g->s + g->len, s, n);
	g->len += n;
}

static void g_str(struct gen *g, const char *s)
{
	g_put(g, s, strlen(s));
}

static void g_rep(struct gen *g, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g_put(g, &c, 1);
}

static void check_gen(struct tcase *c, struct gen *g, size_t stride)
{
	c->in = g->s;
	c->in_len = g->len;
	assert_true(check_case(c, stride));
	free(g->s);
	memset(g, 0, sizeof(*g));
}

/* 1 MiB without a line end: HEAD_TOO_LARGE, bounded buffering, resync. */
static void test_huge_unterminated_head(void **state)
{
	struct tcase c = { "1MiB-unterminated-head", REQ,
		.expect = "X head_too_large\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" };
	struct gen g = { 0 };
	size_t maxp = 0;
	char *got;

	(void)state;
	g_str(&g, "GET / HTTP/1.1\r\nX-Big: ");
	g_rep(&g, 'a', 1 << 20);
	g_str(&g, "\r\nGET /ok HTTP/1.1\r\n\r\n");
	c.in = g.s;
	c.in_len = g.len;
	got = run(&c, M_BYTES, 0, &maxp);
	assert_true(same(&c, c.expect, "bytewise-bounded", 0, got));
	/* the parser never made us keep more than max_head_bytes */
	assert_true(maxp <= 65536 + 1);
	check_gen(&c, &g, 65521);

	/* the same, with the request line itself unterminated, midstream */
	c.label = "1MiB-unterminated-start-line-midstream";
	c.flags = T_MID;
	g_str(&g, "GET /");
	g_rep(&g, 'b', 1 << 20);
	g_str(&g, " HTTP/1.1\r\nGET /ok HTTP/1.1\r\n\r\n");
	c.expect = "H GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n";
	c.in = g.s;
	c.in_len = g.len;
	got = run(&c, M_BYTES, 0, &maxp);
	assert_true(same(&c, c.expect, "bytewise-bounded", 0, got));
	assert_true(maxp <= 65536 + 1);
	check_gen(&c, &g, 65521);
}

/* 10,000 headers: 128 kept, the rest still frame (Content-Length last). */
static void test_ten_thousand_headers(void **state)
{
	struct tcase c = { "10000-headers", REQ, .max_head = 1 << 20,
		.expect = "H POST / 1.1 k=len cl=3 c=1 n=128 t=1 [H0:v][H1:v][H2:v][H3:v][H4:v]"
			  "[H5:v][H6:v][H7:v]\nB abc\nE f=2 s=3\n" };
	struct gen g = { 0 };
	char line[32];

	(void)state;
	g_str(&g, "POST / HTTP/1.1\r\n");
	for (int i = 0; i < 10000; i++) {
		snprintf(line, sizeof(line), "H%d: v\r\n", i);
		g_str(&g, line);
	}
	g_str(&g, "Connection: close\r\nContent-Length: 3\r\n\r\nabc");
	check_gen(&c, &g, 997);

	/* with the default 64 KiB limit the same head is too large */
	c.label = "10000-headers-default-limit";
	c.max_head = 0;
	c.expect = "X head_too_large\n";
	g_str(&g, "POST / HTTP/1.1\r\n");
	for (int i = 0; i < 10000; i++) {
		snprintf(line, sizeof(line), "H%d: v\r\n", i);
		g_str(&g, line);
	}
	g_str(&g, "\r\n");
	check_gen(&c, &g, 997);
}

/* 10,000 leading zeros in a chunk size: accepted, no overflow. */
static void test_chunk_leading_zeros(void **state)
{
	struct tcase c = { "10000-leading-zeros", REQ,
		.expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\n"
			  "B hello\nE f=0 s=5\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n" };
	struct gen g = { 0 };

	(void)state;
	g_str(&g, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	g_rep(&g, '0', 10000);
	g_str(&g, "5\r\nhello\r\n");
	g_rep(&g, '0', 10000);
	g_str(&g, "\r\n\r\nGET /ok HTTP/1.1\r\n\r\n");
	check_gen(&c, &g, 101);

	/* ... and 17 significant digits after them still overflow */
	c.label = "10000-zeros-then-17-f";
	c.expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\n"
		   "X chunk_overflow\nH GET /ok 1.1 k=none c=0 n=0 t=0 \nE f=0 s=0\n";
	g_str(&g, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	g_rep(&g, '0', 10000);
	g_rep(&g, 'f', 17);
	g_str(&g, "\r\nx\r\nGET /ok HTTP/1.1\r\n\r\n");
	check_gen(&c, &g, 101);

	/* a size line longer than max_head_bytes is refused: the work is bounded */
	c.label = "zeros-beyond-max-head";
	c.max_head = 1000;
	c.expect = "H POST / 1.1 k=chunked c=0 n=1 t=0 [Transfer-Encoding:chunked]\n"
		   "X chunk_overflow\n";
	g_str(&g, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	g_rep(&g, '0', 2000);
	g_str(&g, "1\r\nx\r\n0\r\n\r\n");
	check_gen(&c, &g, 13);
}

/* Framing headers after the 128th still count; a value cut keeps framing. */
static void test_framing_after_cap(void **state)
{
	struct tcase c = { "cl-te-after-header-cap", REQ,
		.expect = "X cl_and_te @POST /\n" };
	struct gen g = { 0 };
	char line[32];

	(void)state;
	g_str(&g, "POST / HTTP/1.1\r\nContent-Length: 1\r\n");
	for (int i = 0; i < 200; i++) {
		snprintf(line, sizeof(line), "H%d: v\r\n", i);
		g_str(&g, line);
	}
	g_str(&g, "Transfer-Encoding: chunked\r\n\r\n");
	check_gen(&c, &g, 7);

	c.label = "long-te-value-cut";
	c.max_value = 8;
	c.expect = "H POST / 1.1 k=chunked c=0 n=1 t=1 [Transfer-Encoding:identity]\n"
		   "B x\nE f=2 s=1\n";
	g_str(&g, "POST / HTTP/1.1\r\nTransfer-Encoding: identity, gzip, chunked\r\n\r\n"
		  "1\r\nx\r\n0\r\n\r\n");
	check_gen(&c, &g, 1);
}

/*
 * Mutated table inputs: whatever the bytes, whole, byte-by-byte and random
 * splits give the same transcript, and nothing crashes or over-reads.
 */
static void test_mutations_deterministic(void **state)
{
	static const char pool[] = "\r\n\0 :;0fG\t,HTP/1.x";
	size_t runs = 0;

	(void)state;
	rng_state = 0x5eed;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int it = 0; it < 60; it++) {
			struct tcase c = cases[i];
			char *buf = malloc(c.in_len + 1), *want;
			int nmut = 1 + (int)(rnd() % 3);

			assert_non_null(buf);
			memcpy(buf, c.in, c.in_len);
			for (int m = 0; m < nmut && c.in_len; m++) {
				size_t pos = rnd() % c.in_len;

				buf[pos] = rnd() % 4 ? pool[rnd() % (sizeof(pool) - 1)] :
						       (char)rnd();
			}
			c.in = buf;
			want = run(&c, M_WHOLE, 0, NULL);
			assert_true(same(&c, want, "mutated bytewise", (size_t)it,
					 run(&c, M_BYTES, 0, NULL)));
			assert_true(same(&c, want, "mutated random", (size_t)it,
					 run(&c, M_RANDOM, 0, NULL)));
			free(want);
			free(buf);
			runs++;
		}
	}
	print_message("%zu mutated inputs agreed across feeds\n", runs);
}

/*
 * Soups of HTTP fragments and random bytes, both kinds, all peers, with and
 * without midstream start, a random hole and a finish: the feeds agree.
 */
static void test_fragment_soup(void **state)
{
	static const char *const frags[] = {
		"GET / HTTP/1.1\r\n", "POST /p HTTP/1.1\r\n", "HTTP/1.1 200 OK\r\n",
		"HTTP/1.1 100 Continue\r\n", "HTTP/1.0 204 No\r\n", "CONNECT a:1 HTTP/1.1\r\n",
		"Content-Length: 5\r\n", "Content-Length: 0\r\n", "Content-Length: 5, 6\r\n",
		"Transfer-Encoding: chunked\r\n", "Transfer-Encoding: gzip\r\n",
		"Connection: close\r\n", "Upgrade: x\r\n", "Host: h\r\n", " folded\r\n",
		"\r\n", "\n", "\r", "0\r\n", "5\r\n", "5;e=1\r\n", "ffffffffffffffffff\r\n",
		"000000000000000000001\r\n", "hello", "X: \0\r\n", "HTTP/1.", "GET ",
	};
	size_t runs = 0;

	(void)state;
	rng_state = 7;
	for (int it = 0; it < 3000; it++) {
		struct tcase c = { "soup", .kind = (enum httpp_kind)(rnd() % 2),
				   .peer = (enum httpp_peer)(rnd() % 3), .flags = T_FIN,
				   .on_hold = "rt\0"[rnd() % 3] };
		struct gen g = { 0 };
		int nf = 1 + (int)(rnd() % 24);
		char *want;

		if (rnd() % 4 == 0)
			c.flags |= T_MID;
		if (rnd() % 3 == 0)
			c.max_head = 16 + rnd() % 200;
		if (rnd() % 3 == 0)
			c.max_value = 1 + rnd() % 8;
		for (int f = 0; f < nf; f++) {
			if (rnd() % 8 == 0) {
				char r = (char)rnd();

				g_put(&g, &r, 1);
			} else {
				g_str(&g, frags[rnd() % (sizeof(frags) / sizeof(frags[0]))]);
			}
		}
		if (rnd() % 3 == 0 && g.len) {
			c.gap_at = rnd() % g.len;
			c.gap_len = 1 + rnd() % 16;
		}
		c.in = g.s ? g.s : "";
		c.in_len = g.len;
		want = run(&c, M_WHOLE, 0, NULL);
		assert_true(same(&c, want, "soup bytewise", (size_t)it, run(&c, M_BYTES, 0, NULL)));
		assert_true(same(&c, want, "soup random", (size_t)it, run(&c, M_RANDOM, 0, NULL)));
		free(want);
		free(g.s);
		runs++;
	}
	print_message("%zu fragment soups agreed across feeds\n", runs);
}

/* A long pipelined stream of all the plain cases of one kind. */
static void test_stream_deterministic(void **state)
{
	(void)state;
	rng_state = 42;
	for (int kind = 0; kind < 2; kind++) {
		struct tcase c = { "stream", .kind = (enum httpp_kind)kind, .flags = T_FIN };
		struct gen g = { 0 };
		char *want;

		for (int rep = 0; rep < 20; rep++)
			for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
				const struct tcase *t = &cases[rnd() % (sizeof(cases) / sizeof(cases[0]))];

				if ((int)t->kind != kind || t->flags || t->on_hold || t->gap_len ||
				    t->peer || t->max_head || t->max_value ||
				    strstr(t->expect, "HOLD"))
					continue;
				g_put(&g, t->in, t->in_len);
			}
		c.in = g.s;
		c.in_len = g.len;
		want = run(&c, M_WHOLE, 0, NULL);
		assert_true(strlen(want) > 1000);
		assert_true(same(&c, want, "stream bytewise", 0, run(&c, M_BYTES, 0, NULL)));
		for (int it = 0; it < 20; it++)
			assert_true(same(&c, want, "stream random", (size_t)it,
					 run(&c, M_RANDOM, 0, NULL)));
		free(want);
		free(g.s);
	}
}

/* ---- the block scan against line by line */

/*
 * c's transcript at every head scan level the CPU has equals the one line
 * by line (HTTPP_SIMD_OFF), fed whole and split in two at split.
 */
static bool same_at_levels(const struct tcase *c, size_t split)
{
	enum httpp_simd saved = httpp_simd_get();
	bool ok = true;
	char *want;

	assert_int_equal(httpp_simd_set(HTTPP_SIMD_OFF), 0);
	want = run(c, M_WHOLE, 0, NULL);
	for (int l = HTTPP_SIMD_OFF + 1; l < HTTPP_SIMD__COUNT && ok; l++) {
		if (httpp_simd_set((enum httpp_simd)l))
			continue;
		ok = same(c, want, httpp_simd_name((enum httpp_simd)l), 0,
			  run(c, M_WHOLE, 0, NULL)) &&
		     same(c, want, httpp_simd_name((enum httpp_simd)l), split,
			  run(c, M_SPLIT, split, NULL));
	}
	httpp_simd_set(saved);
	free(want);
	return ok;
}

/*
 * Every byte that the masks or the fast paths look at (LF, CR, CRLF, NUL,
 * ':', SP, TAB, DEL, a separator, bytes >= 0x80), at every offset of a
 * head whose lines are shifted through every position of a 64-byte block
 * (and so of every 16- and 32-byte vector), for both kinds: each level
 * gives the line-by-line transcript.  Every probe at every offset for the
 * first shifts, then one probe per offset, taken in turn.
 */
static void test_scan_every_offset(void **state)
{
	static const char *const probes[] = {
		"\n", "\r", "\r\n", ":", " ", "\t", "\x7f", "\x80", "\xff", "(", "A", "\0",
	};
	const size_t np = sizeof(probes) / sizeof(probes[0]);
	size_t runs = 0;

	(void)state;
	rng_state = 99;
	for (int pad = 0; pad < 140; pad += pad < 70 ? 1 : 7) {
		for (int kind = 0; kind < 2; kind++) {
			struct gen g = { 0 };
			size_t len;
			char *buf;

			g_str(&g, kind ? "HTTP/1.1 200 OK\r\nServer: " : "GET /x HTTP/1.1\r\nHost: ");
			g_rep(&g, 'h', (size_t)pad);
			g_str(&g, "\r\nContent-Length: 2\r\nConnection: keep-alive\r\nY: ");
			g_rep(&g, 'v', (size_t)(pad % 9));
			g_str(&g, "\r\n\r\nokGET /n HTTP/1.1\r\n\r\nHTTP/1.1 204 No\r\n\r\n");
			len = g.len;
			buf = malloc(len + 2);
			assert_non_null(buf);
			for (size_t pos = 0; pos < len; pos++) {
				for (size_t k = 0; k < np; k++) {
					size_t pl = probes[k][0] ? strlen(probes[k]) : 1;
					struct tcase c = { "offset", .kind = (enum httpp_kind)kind,
							   .flags = T_FIN };

					if (pad >= 4 && k != (pos + (size_t)pad) % np)
						continue;
					/* the probe replaces the byte at pos (CRLF: and the next) */
					memcpy(buf, g.s, len);
					memcpy(buf + pos, probes[k], pos + pl <= len ? pl : 1);
					c.in = buf;
					c.in_len = len;
					if (!same_at_levels(&c, 1 + rnd() % len))
						fail_msg("pad %d kind %d pos %zu probe %zu", pad, kind,
							 pos, k);
					runs++;
				}
			}
			free(buf);
			free(g.s);
		}
	}
	print_message("%zu probed heads agreed at every scan level\n", runs);
}

/* Lines of every length around the block size, some past max_head_bytes. */
static void test_scan_line_lengths(void **state)
{
	size_t runs = 0;

	(void)state;
	for (int n = 0; n < 200; n++) {
		for (int lf_only = 0; lf_only < 2; lf_only++) {
			const char *eol = lf_only ? "\n" : "\r\n";
			struct tcase c = { "lengths", REQ, .flags = T_FIN };
			struct gen g = { 0 };

			g_str(&g, "GET /");
			g_rep(&g, 't', (size_t)n);
			g_str(&g, " HTTP/1.1");
			g_str(&g, eol);
			for (int k = 0; k < 3; k++) {
				g_str(&g, "N");
				g_rep(&g, 'n', (size_t)((n + 17 * k) % 70));
				g_str(&g, ": ");
				g_rep(&g, 'v', (size_t)((n * 3 + k) % 150));
				g_str(&g, eol);
			}
			g_str(&g, eol);
			c.in = g.s;
			c.in_len = g.len;
			if (n % 5 == 0)
				c.max_head = (uint32_t)(g.len - n % 3);
			assert_true(same_at_levels(&c, (size_t)n % g.len + 1));
			free(g.s);
			runs++;
		}
	}
	print_message("%zu heads of long lines agreed at every scan level\n", runs);
}

/* API odds and ends: names, pending, in_message, finish/gap idempotence. */
static void test_api(void **state)
{
	struct httpp p;
	struct httpp_event ev;
	static const uint8_t get[] = "GET / HTTP/1.1\r\n\r\n";
	static const uint8_t post[] = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab";
	size_t n;

	(void)state;
	for (int e = 0; e < HTTPP_ERR__COUNT; e++) {
		assert_non_null(httpp_err_name((enum httpp_err)e));
		assert_string_not_equal(httpp_err_name((enum httpp_err)e), "unknown");
	}
	assert_string_equal(httpp_err_name(HTTPP_ERR__COUNT), "unknown");
	assert_string_equal(httpp_err_name(HTTPP_ERR_CL_AND_TE), "cl_and_te");

	httpp_init(&p, HTTPP_REQUEST, NULL);
	assert_int_equal(p.lim.max_head_bytes, 65536);
	assert_int_equal(p.lim.max_value_bytes, 1024);
	assert_false(httpp_in_message(&p));
	n = httpp_parse(&p, get, sizeof(get) - 1, &ev);
	assert_int_equal(ev.type, HTTPP_EV_HEAD);
	assert_int_equal(n, sizeof(get) - 1);
	assert_int_equal(ev.head->head_len, sizeof(get) - 1);
	/* the END is pending with an empty buffer */
	assert_true(httpp_has_pending(&p));
	assert_true(httpp_in_message(&p));
	n = httpp_parse(&p, NULL, 0, &ev);
	assert_int_equal(n, 0);
	assert_int_equal(ev.type, HTTPP_EV_END);
	assert_false(httpp_has_pending(&p));
	assert_false(httpp_in_message(&p));
	n = httpp_parse(&p, NULL, 0, &ev);
	assert_int_equal(n, 0);
	assert_int_equal(ev.type, HTTPP_EV_NONE);

	/* body, then END pending: finish reports the END, then nothing */
	n = httpp_parse(&p, post, sizeof(post) - 1, &ev);
	assert_int_equal(ev.type, HTTPP_EV_HEAD);
	n = httpp_parse(&p, post + n, sizeof(post) - 1 - n, &ev);
	assert_int_equal(ev.type, HTTPP_EV_BODY);
	assert_int_equal(ev.len, 2);
	assert_int_equal(n, 2);
	httpp_finish(&p, &ev);
	assert_int_equal(ev.type, HTTPP_EV_END);
	assert_int_equal(ev.body_size, 2);
	httpp_finish(&p, &ev);
	assert_int_equal(ev.type, HTTPP_EV_NONE);

	/* a gap while the END is pending reports the END */
	httpp_init(&p, HTTPP_REQUEST, NULL);
	n = httpp_parse(&p, get, sizeof(get) - 1, &ev);
	httpp_gap(&p, 10, &ev);
	assert_int_equal(ev.type, HTTPP_EV_END);
	assert_false(httpp_in_message(&p));

	/* a response tunnel swallows everything; finish is NONE */
	httpp_init(&p, HTTPP_RESPONSE, NULL);
	httpp_tunnel(&p);
	n = httpp_parse(&p, get, sizeof(get) - 1, &ev);
	assert_int_equal(n, sizeof(get) - 1);
	assert_int_equal(ev.type, HTTPP_EV_NONE);
	httpp_gap(&p, 100, &ev);
	assert_int_equal(ev.type, HTTPP_EV_NONE);
	httpp_finish(&p, &ev);
	assert_int_equal(ev.type, HTTPP_EV_NONE);

	/* holding consumes nothing, even with bytes */
	httpp_init(&p, HTTPP_REQUEST, NULL);
	n = httpp_parse(&p, (const uint8_t *)"CONNECT h:1 HTTP/1.1\r\n\r\n", 24, &ev);
	assert_int_equal(ev.type, HTTPP_EV_HEAD);
	assert_int_equal(n, 24);
	httpp_parse(&p, get, 0, &ev);
	assert_int_equal(ev.type, HTTPP_EV_END);
	assert_true(httpp_is_holding(&p));
	assert_false(httpp_in_message(&p));
	n = httpp_parse(&p, get, sizeof(get) - 1, &ev);
	assert_int_equal(n, 0);
	assert_int_equal(ev.type, HTTPP_EV_NONE);
	httpp_resume(&p);
	n = httpp_parse(&p, get, sizeof(get) - 1, &ev);
	assert_int_equal(ev.type, HTTPP_EV_HEAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_huge_unterminated_head),
		cmocka_unit_test(test_ten_thousand_headers),
		cmocka_unit_test(test_chunk_leading_zeros),
		cmocka_unit_test(test_framing_after_cap),
		cmocka_unit_test(test_mutations_deterministic),
		cmocka_unit_test(test_stream_deterministic),
		cmocka_unit_test(test_fragment_soup),
		cmocka_unit_test(test_api),
	};
	/* these compare the levels themselves */
	const struct CMUnitTest scan_tests[] = {
		cmocka_unit_test(test_scan_every_offset),
		cmocka_unit_test(test_scan_line_lengths),
	};
	int failed = cmocka_run_group_tests(scan_tests, NULL, NULL);

	/* every test at every head scan level the CPU has, the default last */
	for (int l = HTTPP_SIMD__COUNT - 1; l >= HTTPP_SIMD_OFF; l--) {
		enum httpp_simd def = httpp_simd_get();

		if (l == (int)def || httpp_simd_set((enum httpp_simd)l))
			continue;
		print_message("head scan level %s\n", httpp_simd_name((enum httpp_simd)l));
		failed += cmocka_run_group_tests(tests, NULL, NULL);
		httpp_simd_set(def);
	}
	print_message("head scan level %s (the default)\n", httpp_simd_name(httpp_simd_get()));
	return failed + cmocka_run_group_tests(tests, NULL, NULL);
}
