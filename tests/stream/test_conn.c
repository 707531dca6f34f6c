/*
 * test_conn.c - connection engine and correlator: byte events in, records out.
 * Events are built exactly as the kernel writes them (include/ht_event.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream/conn.h"
#include "base/record.h"
#include "base/stats.h"

#define MAX_RECS 512

struct harness {
	struct conn c;
	struct conn_limits lim;
	struct ht_stats st;
	struct ht_record *recs[MAX_RECS];
	int n;
	uint64_t pos[2];
	int64_t peer_next;     /* >= 0: peer_pos of the next event (a test that
				* delivers events out of their syscall order) */
	uint64_t ts;
};

static void collect(void *ctx, struct ht_record *r)
{
	struct harness *h = ctx;

	assert_true(h->n < MAX_RECS);
	h->recs[h->n++] = r;
}

static struct harness *setup_role(uint8_t role)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct ht_conn_id id = { .tgid = 42, .fd = 7, .gen = 1 };

	h->lim.reasm.max_bytes = 1 << 20;
	h->lim.reasm.max_segments = 64;
	h->lim.httpp.max_head_bytes = 65536;
	h->lim.httpp.max_value_bytes = 1024;
	h->lim.corr.max_body_bytes = 4096;
	h->lim.corr.max_pending = 1024;
	h->ts = 1000;
	h->peer_next = -1;
	conn_init(&h->c, &id, 0x1234, role, collect, h, 0, &h->lim);
	return h;
}

static void teardown(struct harness *h)
{
	conn_free(&h->c);
	for (int i = 0; i < h->n; i++)
		ht_record_free(h->recs[i]);
	free(h);
}

/* Send bytes in direction dir at the current position (cap < len: uncaptured tail). */
static void feed_cap(struct harness *h, int dir, const void *p, size_t len, size_t cap, uint8_t flags)
{
	struct ht_data_ev *ev = calloc(1, sizeof(*ev) + cap);

	ev->hdr.type = HT_EV_DATA;
	ev->hdr.dir = (uint8_t)dir;
	ev->hdr.flags = flags;
	ev->hdr.ts_ns = h->ts += 10;
	ev->pos = h->pos[dir];
	/* as the kernel stamps it: the syscall order is the feed order, unless
	 * the test says what the kernel saw */
	ev->peer_pos = h->peer_next >= 0 ? (uint64_t)h->peer_next : h->pos[dir ^ 1];
	h->peer_next = -1;
	ev->len = (uint32_t)len;
	ev->cap_len = (uint32_t)cap;
	ev->sys_len = (uint32_t)len;
	ev->tid = 43;
	memcpy(ev->comm, "tester", 7);
	memcpy(ev->data, p, cap);
	h->pos[dir] += len;
	conn_on_data(&h->c, ev, &h->lim, &h->st);
	free(ev);
}

static void feed(struct harness *h, int dir, const char *s)
{
	feed_cap(h, dir, s, strlen(s), strlen(s), 0);
}

static void close_conn(struct harness *h)
{
	struct ht_close_ev ev = { .hdr = { .type = HT_EV_CLOSE, .ts_ns = h->ts += 10 } };

	ev.pos[0] = h->pos[0];
	ev.pos[1] = h->pos[1];
	assert_true(conn_on_close(&h->c, &ev, &h->lim, &h->st)); /* every byte is here */
	conn_drain(&h->c, &h->lim, &h->st, h->ts);
}

static const char *s(struct ht_record *r, struct ht_str f)
{
	static char buf[8][256];
	static int k;
	char *b = buf[k++ % 8];
	size_t n = f.len < 255 ? f.len : 255;

	memcpy(b, ht_str_ptr(r, f), n);
	b[n] = '\0';
	return b;
}

#define IN HT_DIR_INGRESS
#define OUT HT_DIR_EGRESS

static void test_simple_get(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, IN, "GET /a?x=1 HTTP/1.1\r\nHost: ex.com\r\nX-A: 1\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	assert_int_equal(h->n, 1);
	assert_string_equal(s(h->recs[0], h->recs[0]->method), "GET");
	assert_string_equal(s(h->recs[0], h->recs[0]->target), "/a?x=1");
	assert_string_equal(s(h->recs[0], h->recs[0]->path), "/a");
	assert_string_equal(s(h->recs[0], h->recs[0]->host), "ex.com");
	assert_string_equal(s(h->recs[0], h->recs[0]->resp_body), "hello");
	assert_int_equal(h->recs[0]->status, 200);
	assert_int_equal(h->recs[0]->resp_body_size, 5);
	assert_int_equal(h->recs[0]->flags, 0);
	assert_int_equal(h->recs[0]->role, HT_ROLE_SERVER);
	/* first request byte ts 1010, last response byte ts 1020 */
	assert_int_equal(h->recs[0]->latency_ns, 10);
	teardown(h);
}

/* One transaction after an OPEN with this family and these address bytes. */
static struct ht_record *open_and_get(struct harness *h, uint16_t family, uint8_t fill)
{
	struct ht_open_ev ev = { .hdr = { .type = HT_EV_OPEN, .role = HT_ROLE_SERVER } };

	ev.family = family;
	ev.lport = 80;
	ev.rport = 40000;
	memset(ev.laddr, fill, sizeof(ev.laddr));
	memset(ev.raddr, fill + 1, sizeof(ev.raddr));
	conn_on_open(&h->c, &ev, &h->lim);
	feed(h, IN, "GET / HTTP/1.1\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(h->n, 1);
	return h->recs[0];
}

/* The OPEN event's family is the kernel's AF_* and stays binary into the
 * record: IPv4 keeps its 4 bytes (the rest zero), IPv6 all 16, any other
 * family becomes 0 (unknown). */
static void test_open_addresses(void **state)
{
	static const uint8_t zero12[12];
	struct harness *h = setup_role(HT_ROLE_UNKNOWN);
	struct ht_record *r = open_and_get(h, AF_INET, 7);

	assert_int_equal(r->local.family, AF_INET);
	assert_int_equal(r->remote.family, AF_INET);
	assert_memory_equal(r->local.bytes, "\x07\x07\x07\x07", 4);
	assert_memory_equal(r->local.bytes + 4, zero12, 12);
	assert_memory_equal(r->remote.bytes, "\x08\x08\x08\x08", 4);
	assert_memory_equal(r->remote.bytes + 4, zero12, 12);
	assert_int_equal(r->local_port, 80);
	assert_int_equal(r->remote_port, 40000);
	teardown(h);

	h = setup_role(HT_ROLE_UNKNOWN);
	r = open_and_get(h, AF_INET6, 0xfe);
	assert_int_equal(r->local.family, AF_INET6);
	assert_int_equal(r->local.bytes[15], 0xfe);
	assert_int_equal(r->remote.bytes[0], 0xff);
	teardown(h);

	h = setup_role(HT_ROLE_UNKNOWN);
	r = open_and_get(h, 6, 1); /* not a family the kernel sends */
	assert_int_equal(r->local.family, 0);
	assert_int_equal(r->remote.family, 0);
	teardown(h);
}

static void test_pipelined_100(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	char req[64], resp[128];
	static char all_req[100 * 64], all_resp[100 * 128];
	size_t ql = 0, pl = 0;

	for (int i = 0; i < 100; i++) {
		int n = snprintf(req, sizeof(req), "GET /p/%d HTTP/1.1\r\nHost: h\r\n\r\n", i);

		memcpy(all_req + ql, req, (size_t)n);
		ql += (size_t)n;
		n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%0*d", i < 10 ? 1 : 2, i < 10 ? 1 : 2, i);
		memcpy(all_resp + pl, resp, (size_t)n);
		pl += (size_t)n;
	}
	feed_cap(h, IN, all_req, ql, ql, 0);
	feed_cap(h, OUT, all_resp, pl, pl, 0);
	assert_int_equal(h->n, 100);
	for (int i = 0; i < 100; i++) {
		char want[16];

		snprintf(want, sizeof(want), "/p/%d", i);
		assert_string_equal(s(h->recs[i], h->recs[i]->path), want);
		snprintf(want, sizeof(want), "%d", i);
		assert_string_equal(s(h->recs[i], h->recs[i]->resp_body), want);
	}
	teardown(h);
}

static void test_head_then_get(void **state)
{
	struct harness *h = setup_role(HT_ROLE_CLIENT);

	feed(h, OUT, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, IN, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
	feed(h, OUT, "GET /g HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, IN, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
	assert_int_equal(h->n, 2);
	assert_string_equal(s(h->recs[0], h->recs[0]->method), "HEAD");
	assert_int_equal(h->recs[0]->resp_body_size, 0);
	assert_string_equal(s(h->recs[1], h->recs[1]->path), "/g");
	assert_string_equal(s(h->recs[1], h->recs[1]->resp_body), "abc");
	assert_int_equal(h->recs[1]->role, HT_ROLE_CLIENT);
	teardown(h);
}

static void test_100_continue(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, IN, "POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(h->n, 0);
	feed(h, IN, "data");
	feed(h, OUT, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(h->n, 1);
	assert_int_equal(h->recs[0]->status, 201);
	assert_int_equal(h->recs[0]->req_body_size, 4);
	assert_string_equal(s(h->recs[0], h->recs[0]->req_body), "data");
	teardown(h);
}

static void test_103_early_hints(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, IN, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
		     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
	assert_int_equal(h->n, 1);
	assert_int_equal(h->recs[0]->status, 200);
	assert_null(ht_record_find_header(h->recs[0], &h->recs[0]->resp_headers, "link"));
	teardown(h);
}

static void test_response_without_request(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
	assert_int_equal(h->n, 0); /* waits: the request may be in another ring */
	close_conn(h);
	assert_int_equal(h->n, 1);
	assert_true(h->recs[0]->flags & HT_RF_NO_REQUEST);
	assert_int_equal(h->recs[0]->status, 200);
	teardown(h);
}

static void test_response_before_request_arrives(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	const char *req = "GET /late HTTP/1.1\r\nHost: x\r\n\r\n";

	/* the response's event (ts 2000) overtakes the request's (ts 1000) */
	h->ts = 1990;
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
	h->ts = 990;
	h->peer_next = 0; /* read before the response was written */
	feed(h, IN, req);
	assert_int_equal(h->n, 1);
	assert_int_equal(h->recs[0]->flags, 0);
	assert_string_equal(s(h->recs[0], h->recs[0]->path), "/late");
	teardown(h);
}

static void test_close_mid_body(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, IN, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part");
	assert_int_equal(h->n, 0);
	close_conn(h);
	assert_int_equal(h->n, 1);
	assert_true(h->recs[0]->flags & HT_RF_INCOMPLETE);
	assert_int_equal(h->recs[0]->status, 200);
	teardown(h);
}

static void test_close_delimited(void **state)
{
	struct harness *h = setup_role(HT_ROLE_CLIENT);

	feed(h, OUT, "GET /cd HTTP/1.0\r\n\r\n");
	feed(h, IN, "HTTP/1.0 200 OK\r\n\r\nbody until close");
	assert_int_equal(h->n, 0);
	close_conn(h);
	assert_int_equal(h->n, 1);
	assert_int_equal(h->recs[0]->flags, 0);
	assert_int_equal(h->recs[0]->resp_body_size, 16);
	teardown(h);
}

static void test_request_open_at_close(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, IN, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
	close_conn(h);
	assert_int_equal(h->n, 1);
	assert_true(h->recs[0]->flags & HT_RF_INCOMPLETE);
	assert_int_equal(h->recs[0]->status, 0);
	teardown(h);
}

static void test_uncaptured_body_hole(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	char body[1000];

	memset(body, 'z', sizeof(body));
	feed(h, IN, "GET /sf HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
	feed_cap(h, OUT, body, sizeof(body), 0, HT_DF_SENDFILE); /* sendfile: length only */
	feed(h, IN, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nn");
	assert_int_equal(h->n, 2);
	assert_int_equal(h->recs[0]->resp_body_size, 1000);
	assert_true(h->recs[0]->flags & HT_RF_GAP);
	assert_string_equal(s(h->recs[1], h->recs[1]->path), "/next");
	assert_int_equal(h->recs[1]->flags, 0);
	teardown(h);
}

static void test_upgrade_101(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, IN, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello");
	feed(h, IN, "\x81\x85garbage-frame-GET / HTTP/1.1\r\n\r\n");
	close_conn(h);
	assert_int_equal(h->n, 1);
	assert_int_equal(h->recs[0]->status, 101);
	assert_true(h->recs[0]->flags & HT_RF_UPGRADE);
	teardown(h);
}

static void test_body_truncated_at_max(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	static char resp[10000];
	int n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 8000\r\n\r\n");

	memset(resp + n, 'q', 8000);
	feed(h, IN, "GET /t HTTP/1.1\r\nHost: x\r\n\r\n");
	feed_cap(h, OUT, resp, (size_t)n + 8000, (size_t)n + 8000, 0);
	assert_int_equal(h->n, 1);
	assert_int_equal(h->recs[0]->resp_body.len, 4096);
	assert_int_equal(h->recs[0]->resp_body_size, 8000);
	assert_true(h->recs[0]->flags & HT_RF_RESP_BODY_TRUNCATED);
	teardown(h);
}

static void test_malformed_response_answers_oldest(void **state)
{
	struct harness *h = setup_role(HT_ROLE_CLIENT);

	feed(h, OUT, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, IN, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
		    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
	assert_int_equal(h->n, 2);
	assert_string_equal(s(h->recs[0], h->recs[0]->path), "/one");
	assert_true(h->recs[0]->flags & HT_RF_FRAMING_ERROR);
	assert_string_equal(s(h->recs[1], h->recs[1]->path), "/two");
	assert_string_equal(s(h->recs[1], h->recs[1]->resp_body), "two");
	teardown(h);
}


/* The response's events overtake the end of the request body (two rings):
 * the record waits for the request to end, and is complete. */
static void test_response_before_request_body_end(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, IN, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc");
	feed(h, OUT, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(h->n, 0);
	feed(h, IN, "def");
	assert_int_equal(h->n, 1);
	assert_int_equal(h->recs[0]->flags, 0);
	assert_int_equal(h->recs[0]->req_body_size, 6);
	assert_string_equal(s(h->recs[0], h->recs[0]->req_body), "abcdef");
	assert_int_equal(h->recs[0]->status, 201);
	teardown(h);
}

/* An early answer whose request body never ends is emitted at close. */
static void test_early_answer_body_never_ends(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, IN, "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc");
	feed(h, OUT, "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n");
	feed(h, IN, "GET /after HTTP/1.1\r\n"); /* still body bytes of /big */
	close_conn(h);
	assert_int_equal(h->n, 1);
	assert_int_equal(h->recs[0]->status, 413);
	assert_true(h->recs[0]->flags & HT_RF_INCOMPLETE);
	teardown(h);
}

/* Requests lost in the kernel (a hole of known size in the request stream):
 * the response that started before the next visible request is a
 * no_request record, never paired with that later request. */
static void test_lost_request_is_not_misattributed(void **state)
{
	struct harness *h = setup_role(HT_ROLE_CLIENT);
	const char *lost = "GET /lost HTTP/1.1\r\nHost: x\r\n\r\n";
	struct ht_loss_ev loss = { .hdr = { .type = HT_EV_LOSS, .dir = OUT } };

	feed(h, OUT, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, IN, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
	loss.start = h->pos[OUT];
	loss.len = strlen(lost);
	h->pos[OUT] += loss.len; /* the kernel never delivered these bytes */
	h->ts += 10;
	feed(h, IN, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlost");
	conn_on_loss(&h->c, &loss, &h->lim, &h->st);
	feed(h, OUT, "GET /three HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, IN, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree");
	assert_int_equal(h->n, 3);
	assert_string_equal(s(h->recs[0], h->recs[0]->path), "/one");
	assert_true(h->recs[1]->flags & HT_RF_NO_REQUEST);
	assert_true(h->recs[1]->flags & HT_RF_GAP);
	assert_string_equal(s(h->recs[1], h->recs[1]->resp_body), "lost");
	assert_string_equal(s(h->recs[2], h->recs[2]->path), "/three");
	assert_string_equal(s(h->recs[2], h->recs[2]->resp_body), "three");
	assert_int_equal(h->recs[2]->flags, 0);
	teardown(h);
}

/* A hole cuts a request head in two: the connection must not stall. */
static void test_hole_inside_head(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	struct ht_loss_ev loss = { .hdr = { .type = HT_EV_LOSS, .dir = IN } };

	feed(h, IN, "GET /cut HTTP/1.1\r\nHo");
	loss.start = h->pos[IN];
	loss.len = 10;
	h->pos[IN] += 10;
	conn_on_loss(&h->c, &loss, &h->lim, &h->st);
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ncut");
	feed(h, IN, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext");
	assert_int_equal(h->n, 2);
	assert_true(h->recs[0]->flags & HT_RF_GAP);
	assert_string_equal(s(h->recs[1], h->recs[1]->path), "/next");
	assert_string_equal(s(h->recs[1], h->recs[1]->resp_body), "next");
	teardown(h);
}

/* A smuggling-shaped request keeps its method and path, flagged. */
/* In-order events are parsed where they lie (zero-copy) and only the
 * unconsumed tail is kept: split the exchange at every position, with the
 * response sometimes ahead of the request's end (held while it waits); each event is freed
 * right after conn_on_data, so a stale pointer would show under ASan. */
static void test_split_everywhere_zero_copy(void **state)
{
	static const char req[] = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /q HTTP/1.1\r\n\r\n";
	static const char resp[] = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No\r\n\r\n";

	for (size_t cut = 1; cut < sizeof(req) - 1; cut++) {
		struct harness *h = setup_role(HT_ROLE_SERVER);
		/* within the first response: a second one sent before its request is an orphan */
		size_t rcut = 1 + cut % (sizeof("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok") - 2);
		bool resp_first = cut & 1;

		feed_cap(h, IN, req, cut, cut, 0);
		if (resp_first)
			feed_cap(h, OUT, resp, rcut, rcut, 0);
		feed_cap(h, IN, req + cut, sizeof(req) - 1 - cut, sizeof(req) - 1 - cut, 0);
		if (!resp_first)
			feed_cap(h, OUT, resp, rcut, rcut, 0);
		feed_cap(h, OUT, resp + rcut, sizeof(resp) - 1 - rcut, sizeof(resp) - 1 - rcut, 0);
		assert_int_equal(h->n, 2);
		assert_string_equal(s(h->recs[0], h->recs[0]->method), "POST");
		assert_string_equal(s(h->recs[0], h->recs[0]->host), "h");
		assert_string_equal(s(h->recs[0], h->recs[0]->req_body), "abc");
		assert_string_equal(s(h->recs[0], h->recs[0]->resp_body), "ok");
		assert_string_equal(s(h->recs[0], h->recs[0]->reason), "Created");
		assert_int_equal(h->recs[0]->status, 201);
		assert_int_equal(h->recs[0]->flags, 0);
		assert_string_equal(s(h->recs[1], h->recs[1]->path), "/q");
		assert_int_equal(h->recs[1]->status, 204);
		assert_int_equal(h->recs[1]->flags, 0);
		assert_int_equal(conn_buffered(&h->c), 0);
		teardown(h);
	}
}

static void test_cl_and_te_request_recorded(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, IN, "POST /smuggle HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	assert_int_equal(h->n, 1);
	assert_string_equal(s(h->recs[0], h->recs[0]->method), "POST");
	assert_string_equal(s(h->recs[0], h->recs[0]->path), "/smuggle");
	assert_int_equal(h->recs[0]->status, 400);
	assert_true(h->recs[0]->flags & HT_RF_FRAMING_ERROR);
	teardown(h);
}

/* A big response and the CLOSE overtake the request (two rings): the
 * response waits for its request however large it is, and pairs with it. */
static void test_big_response_before_request(void **state)
{
	struct harness *h = setup_role(HT_ROLE_CLIENT);
	static char resp[200000];
	int n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 150000\r\n\r\n");

	memset(resp + n, 'b', 150000);
	h->ts = 2000;
	feed_cap(h, IN, resp, (size_t)n + 150000, (size_t)n + 150000, 0);
	assert_int_equal(h->n, 0);
	{
		struct ht_close_ev ev = { .hdr = { .type = HT_EV_CLOSE, .ts_ns = 3000 } };

		ev.pos[OUT] = 30; /* the request's 30 bytes are still in flight */
		ev.pos[IN] = h->pos[IN];
		assert_false(conn_on_close(&h->c, &ev, &h->lim, &h->st));
	}
	h->ts = 1000;
	h->peer_next = 0; /* written before the response was read */
	feed(h, OUT, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(conn_close_ready(&h->c));
	conn_drain(&h->c, &h->lim, &h->st, 3000);
	assert_int_equal(h->n, 1);
	assert_string_equal(s(h->recs[0], h->recs[0]->path), "/big");
	assert_int_equal(h->recs[0]->status, 200);
	assert_int_equal(h->recs[0]->resp_body_size, 150000);
	assert_int_equal(h->recs[0]->flags, HT_RF_RESP_BODY_TRUNCATED);
	teardown(h);
}

/* The kernel lost n bytes of direction dir at the current position. */
static void lose(struct harness *h, int dir, uint64_t n)
{
	struct ht_loss_ev loss = { .hdr = { .type = HT_EV_LOSS, .dir = (uint8_t)dir } };

	loss.hdr.ts_ns = h->ts += 10;
	loss.start = h->pos[dir];
	loss.len = n;
	h->pos[dir] += n;
	conn_on_loss(&h->c, &loss, &h->lim, &h->st);
}

static const char *body_of(struct harness *h, int i)
{
	return s(h->recs[i], h->recs[i]->resp_body);
}

/* Issue 12: a whole response lost at a message boundary on a keep-alive
 * connection.  Before pairing by position, /2 took /3's response and every
 * later pair on the connection was off by one. */
static void test_lost_response_at_boundary(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	const char *resp2 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo";

	feed(h, IN, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
	feed(h, IN, "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
	lose(h, OUT, strlen(resp2));
	feed(h, IN, "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree");
	feed(h, IN, "GET /4 HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfour");
	close_conn(h);
	assert_int_equal(h->n, 4);
	assert_string_equal(s(h->recs[0], h->recs[0]->path), "/1");
	assert_string_equal(body_of(h, 0), "one");
	assert_string_equal(s(h->recs[1], h->recs[1]->path), "/2");
	assert_int_equal(h->recs[1]->flags & (HT_RF_INCOMPLETE | HT_RF_GAP), HT_RF_INCOMPLETE | HT_RF_GAP);
	assert_int_equal(h->recs[1]->status, 0);
	assert_string_equal(s(h->recs[2], h->recs[2]->path), "/3");
	assert_string_equal(body_of(h, 2), "three");
	assert_int_equal(h->recs[2]->flags, 0);
	assert_string_equal(s(h->recs[3], h->recs[3]->path), "/4");
	assert_string_equal(body_of(h, 3), "four");
	teardown(h);
}

/* Issue 12, seen live: a hole swallows a response's head, a few body bytes
 * arrive (nothing to parse), another hole; the next response starts exactly
 * at the next request's anchor.  The "orphan" decided for the headless
 * bytes must not stick to that response: it was left unpaired, its request
 * stayed queued and took the following request's response. */
static void test_stale_orphan_after_headless_bytes(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	static const char *const paths[] = { "/1", "/2", "/3", "/4" };
	char resp[128];

	feed(h, IN, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
	snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 20\r\nX-Target: /1\r\n\r\n");
	lose(h, OUT, strlen(resp) + 10);
	feed(h, OUT, "bbbbb"); /* body bytes of /1: no head to parse */
	lose(h, OUT, 5);
	for (int i = 1; i < 4; i++) {
		char req[64];

		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", paths[i]);
		feed(h, IN, req);
		snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Target: %s\r\n\r\nok",
			 paths[i]);
		feed(h, OUT, resp);
	}
	close_conn(h);
	for (int i = 0; i < h->n; i++) {
		struct ht_record *r = h->recs[i];
		struct ht_kv *echo = ht_record_find_header(r, &r->resp_headers, "x-target");

		if (r->target.len && echo)
			assert_string_equal(s(r, echo->value), s(r, r->target));
		if (!strcmp(s(r, r->target), "/3") || !strcmp(s(r, r->target), "/4"))
			assert_int_equal(r->flags, 0); /* after the holes: right, unflagged */
	}
	teardown(h);
}

/* Several responses and the end of one in a hole, client role. */
static void test_hole_across_responses_client(void **state)
{
	struct harness *h = setup_role(HT_ROLE_CLIENT);

	feed(h, OUT, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, IN, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\naaa");
	lose(h, IN, 7 + 40); /* the rest of /a's body and all of /b's response */
	feed(h, OUT, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, IN, "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nc");
	close_conn(h);
	for (int i = 0; i < h->n; i++) {
		const char *path = s(h->recs[i], h->recs[i]->path);

		/* never /b with /c's 404: either right or flagged */
		if (h->recs[i]->status == 404)
			assert_true(!strcmp(path, "/c") || (h->recs[i]->flags & HT_RF_NO_REQUEST));
		if (!strcmp(path, "/b"))
			assert_true(h->recs[i]->flags & HT_RF_INCOMPLETE);
	}
	teardown(h);
}

/* Pipelined requests read in one go, the first response lost: nothing can
 * be proven, so nothing is paired; every record is flagged. */
static void test_lost_response_pipelined(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	feed(h, IN, "GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n"
		    "GET /p3 HTTP/1.1\r\nHost: x\r\n\r\n");
	lose(h, OUT, 40);
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\np2");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\np3");
	close_conn(h);
	for (int i = 0; i < h->n; i++) {
		struct ht_record *r = h->recs[i];

		if (r->status == 200 && r->method.len)
			assert_string_equal(s(r, r->path) + 1, body_of(h, i)); /* /pN with pN */
		assert_true(r->flags & (HT_RF_INCOMPLETE | HT_RF_NO_REQUEST));
	}
	assert_int_equal(h->n, 5); /* three requests, two responses, none paired */
	teardown(h);
}

/* Past max_pending queued requests: the dropped request's response is a
 * no_request + gap record and the next request still gets its own. */
static void test_pending_overflow_never_mispairs(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	h->lim.corr.max_pending = 2;
	feed(h, IN, "GET /q1 HTTP/1.1\r\nHost: x\r\n\r\nGET /q2 HTTP/1.1\r\nHost: x\r\n\r\n"
		    "GET /q3 HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nq1");
	feed(h, IN, "GET /q4 HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nq2");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nq3");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nq4");
	close_conn(h);
	assert_int_equal(h->c.corr.dropped, 1);
	assert_int_equal(h->n, 4);
	for (int i = 0; i < h->n; i++) {
		struct ht_record *r = h->recs[i];

		if (r->flags & HT_RF_NO_REQUEST) {
			assert_string_equal(body_of(h, i), "q3");
			assert_true(r->flags & HT_RF_GAP);
		} else {
			assert_string_equal(s(r, r->path) + 1, body_of(h, i));
		}
	}
	teardown(h);
}

/* Issue 12: head, then 8192 body bytes by sendfile (length only), then
 * 2048 by send: the excerpt must not show the last bytes as the first. */
static void test_body_excerpt_stops_at_hole(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	static char tail[2048];

	memset(tail, 'T', sizeof(tail));
	feed(h, IN, "GET /f HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 10240\r\n\r\n");
	feed_cap(h, OUT, "", 8192, 0, HT_DF_SENDFILE);
	feed_cap(h, OUT, tail, sizeof(tail), sizeof(tail), 0);
	assert_int_equal(h->n, 1);
	assert_int_equal(h->recs[0]->resp_body_size, 10240);
	assert_true(h->recs[0]->flags & HT_RF_GAP);
	assert_true(h->recs[0]->flags & HT_RF_RESP_BODY_TRUNCATED);
	assert_int_equal(h->recs[0]->resp_body.len, 0);
	teardown(h);
}

/* ---- connections the kernel found mid-stream (HT_OF_INFERRED, or
 * HT_OF_RESUMED after an eviction of its kernel entry): bytes came before */

#define MID HT_DF_MIDSTREAM

static void open_midstream(struct harness *h, uint8_t role)
{
	struct ht_open_ev ev = { .hdr = { .type = HT_EV_OPEN, .role = role,
					  .flags = HT_OF_INFERRED | HT_OF_RESUMED,
					  .ts_ns = h->ts += 10 } };

	ev.family = 2;
	ev.lport = 8080;
	ev.rport = 40000;
	conn_on_open(&h->c, &ev, &h->lim);
}

static void feed_mid(struct harness *h, int dir, const char *str)
{
	feed_cap(h, dir, str, strlen(str), strlen(str), MID);
}

/* Its first response answers a request of the earlier generation: a
 * no_request record flagged gap; the next exchange pairs normally. */
static void test_resumed_response_first(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	open_midstream(h, HT_ROLE_SERVER);
	feed_mid(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
	feed_mid(h, IN, "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
	feed_mid(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
	close_conn(h);
	assert_int_equal(h->n, 2);
	assert_int_equal(h->recs[0]->flags, HT_RF_NO_REQUEST | HT_RF_GAP);
	assert_string_equal(s(h->recs[0], h->recs[0]->resp_body), "one");
	assert_string_equal(s(h->recs[1], h->recs[1]->path), "/two");
	assert_string_equal(s(h->recs[1], h->recs[1]->resp_body), "two");
	assert_int_equal(h->recs[1]->flags, 0);
	teardown(h);
}

/* The same response alone until the close: still flagged gap (without
 * the mid-stream start it is a plain no_request). */
static void test_resumed_response_alone(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	open_midstream(h, HT_ROLE_SERVER);
	feed_mid(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
	close_conn(h);
	assert_int_equal(h->n, 1);
	assert_int_equal(h->recs[0]->flags, HT_RF_NO_REQUEST | HT_RF_GAP);
	teardown(h);
}

/* Resumed in the middle of a response body: those bytes are skipped, not
 * parsed as a broken response charged to the next request. */
static void test_resumed_mid_response_body(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	open_midstream(h, HT_ROLE_SERVER);
	feed_mid(h, OUT, "tail of an earlier body\r\nmore of it");
	feed_mid(h, IN, "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
	feed_mid(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
	close_conn(h);
	assert_int_equal(h->n, 1);
	assert_string_equal(s(h->recs[0], h->recs[0]->path), "/two");
	assert_int_equal(h->recs[0]->status, 200);
	assert_string_equal(s(h->recs[0], h->recs[0]->resp_body), "two");
	assert_int_equal(h->recs[0]->flags, 0);
	teardown(h);
}

/* A client resumed in the middle of its request body, told only by the
 * data records (the OPEN comes last, through another ring): the response
 * to that request is never paired with a request whose start was not
 * seen, nor with the next one. */
static void test_resumed_mid_request_body(void **state)
{
	struct harness *h = setup_role(HT_ROLE_CLIENT);

	feed_mid(h, OUT, "a=1&b=2");
	feed_mid(h, IN, "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\none");
	feed_mid(h, OUT, "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
	feed_mid(h, IN, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
	open_midstream(h, HT_ROLE_CLIENT);
	close_conn(h);
	assert_int_equal(h->n, 2);
	assert_int_equal(h->recs[0]->status, 201);
	assert_int_equal(h->recs[0]->flags, HT_RF_NO_REQUEST | HT_RF_GAP);
	assert_string_equal(s(h->recs[1], h->recs[1]->path), "/two");
	assert_int_equal(h->recs[1]->status, 200);
	assert_string_equal(s(h->recs[1], h->recs[1]->resp_body), "two");
	assert_int_equal(h->recs[1]->flags, 0);
	teardown(h);
}

/* HEAD requests past max_pending are still queued (their responses have no
 * body: framing them as a GET's would swallow the next response), up to
 * twice the bound; past that the connection stops pairing, flagged. */
static void test_pending_overflow_head_framing(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	static const char head_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n";

	h->lim.corr.max_pending = 1;
	feed(h, IN, "GET /g1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /h2 HTTP/1.1\r\nHost: x\r\n\r\n"
		    "GET /g3 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /h4 HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\ng1");
	feed(h, OUT, head_resp); /* /h2: no body */
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\ng3");
	feed(h, OUT, head_resp); /* /h4 */
	close_conn(h);
	assert_int_equal(h->c.corr.dropped, 2); /* /g3 (queue full), /h4 (desynced) */
	assert_int_equal(h->n, 4);
	assert_string_equal(s(h->recs[0], h->recs[0]->path), "/g1");
	assert_string_equal(body_of(h, 0), "g1");
	assert_string_equal(s(h->recs[1], h->recs[1]->path), "/h2");
	assert_int_equal(h->recs[1]->status, 200);
	assert_int_equal(h->recs[1]->resp_body_size, 0);
	for (int i = 2; i < 4; i++) /* /g3's and /h4's responses: no pairing */
		assert_int_equal(h->recs[i]->flags & (HT_RF_NO_REQUEST | HT_RF_GAP),
				 HT_RF_NO_REQUEST | HT_RF_GAP);
	assert_string_equal(body_of(h, 2), "g3");
	teardown(h);
}

/* Found by tests/fuzz/fuzz_conn (regress/conn/pipelined-lost-request): two
 * pipelined requests both read before any response was written, the first
 * one lost in the kernel (a LOSS event over its 32 bytes).  Both responses
 * then come in one write at position 0.  The response at 0 is request 0's:
 * it must not be paired with request 1, whose anchor (0) does not tell it
 * apart from the lost one's.  Fixed: after lost request bytes, a response
 * pairs with a request read exactly at its start only once an orphan came
 * first (corr_after_request_hole); here none did, so request 1 is flagged. */
static void test_lost_pipelined_request_not_paired(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	lose(h, IN, strlen("GET /r?i=0 HTTP/1.1\r\nHost: t\r\n\r\n"));
	feed(h, IN, "GET /r?i=1 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 0\r\nContent-Length: 5\r\n\r\nid=0;"
		     "HTTP/1.1 200 OK\r\nX-Id: 1\r\nContent-Length: 5\r\n\r\nid=1;");
	close_conn(h);
	for (int i = 0; i < h->n; i++) {
		struct ht_record *r = h->recs[i];
		struct ht_kv *xid = ht_record_find_header(r, &r->resp_headers, "x-id");

		if (r->path.len && xid)
			assert_string_equal(s(r, r->target) + strlen("/r?i="), s(r, xid->value));
	}
	teardown(h);
}

/* Found by tests/fuzz/fuzz_conn (regress/conn/pipelined-lost-first-response):
 * requests 0 and 1 pipelined (both read before any response), response 0
 * not captured (52 bytes, length only), request 2 read right after it
 * (anchor 52), then responses 1 and 2 in one write at 52.  After the
 * response hole, corr_after_response_hole() takes the connection for
 * sequential (no response seen yet) and pairs the response at 52 with
 * request 2, anchored exactly there: but it is response 1.  The tie of
 * requests 0 and 1 at anchor 0 already proves pipelining (fixed in
 * corr.c read_before/corr_after_response_hole). */
static void test_lost_first_response_pipelined(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	const char *resp0 = "HTTP/1.1 200 OK\r\nX-Id: 0\r\nContent-Length: 5\r\n\r\nid=0;";

	feed(h, IN, "GET /r?i=0 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, IN, "GET /r?i=1 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed_cap(h, OUT, resp0, strlen(resp0), 0, HT_DF_TRUNCATED);
	feed(h, IN, "GET /r?i=2 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 1\r\nContent-Length: 5\r\n\r\nid=1;"
		     "HTTP/1.1 200 OK\r\nX-Id: 2\r\nContent-Length: 5\r\n\r\nid=2;");
	close_conn(h);
	for (int i = 0; i < h->n; i++) {
		struct ht_record *r = h->recs[i];
		struct ht_kv *xid = ht_record_find_header(r, &r->resp_headers, "x-id");

		if (r->path.len && xid)
			assert_string_equal(s(r, r->target) + strlen("/r?i="), s(r, xid->value));
	}
	teardown(h);
}

/* Every record that has both a request and an X-Id response pairs them. */
static void assert_ids_paired(struct harness *h)
{
	for (int i = 0; i < h->n; i++) {
		struct ht_record *r = h->recs[i];
		struct ht_kv *xid = ht_record_find_header(r, &r->resp_headers, "x-id");

		if (r->target.len && xid)
			assert_string_equal(s(r, r->target) + strlen("/r?i="), s(r, xid->value));
	}
}

/* Found by tests/fuzz/fuzz_conn (regress/conn/sequential-late-request): a
 * sequential keep-alive connection; response 0 lost (LOSS event); request 1
 * read after it (anchor 52) but its event late (another CPU's ring), so
 * response 1 arrives first and, after the hole, is made no_request (no
 * request anchored at 52 is queued yet); request 2's first 8 bytes lost (its
 * head unusable).  When request 1 arrives it is paired with response 2.
 * Fixed: on a connection taken for sequential, the response after a hole
 * waits while no queued request was read at or after its position
 * (corr_hole_settled), as a response with no request queued does. */
static void test_late_request_after_response_hole(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	const char *req1 = "GET /r?i=1 HTTP/1.1\r\nHost: t\r\n\r\n";
	const char *req2 = "GET /r?i=2 HTTP/1.1\r\nHost: t\r\n\r\n";
	uint64_t req1_pos;

	feed(h, IN, "GET /r?i=0 HTTP/1.1\r\nHost: t\r\n\r\n");
	lose(h, OUT, strlen("HTTP/1.1 200 OK\r\nX-Id: 0\r\nContent-Length: 5\r\n\r\nid=0;"));
	req1_pos = h->pos[IN];
	h->pos[IN] += strlen(req1); /* read now, delivered below */
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 1\r\nContent-Length: 5\r\n\r\nid=1;");
	lose(h, IN, 8);
	feed(h, IN, req2 + 8);
	h->pos[IN] = req1_pos;
	h->peer_next = 52; /* the kernel stamped it when it was read */
	feed(h, IN, req1);
	h->pos[IN] = req1_pos + strlen(req1) + strlen(req2);
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 2\r\nContent-Length: 5\r\n\r\nid=2;");
	close_conn(h);
	assert_ids_paired(h);
	teardown(h);
}

/* Found by tests/fuzz/fuzz_conn (regress/conn/cut-method-resync): the
 * first syscall of "HEAD /r?i=0 ..." captured only its first byte (3
 * bytes, cap 1).  The cut head becomes a placeholder (gap), and the parser
 * resyncs right after the hole onto "D /r?i=0 HTTP/1.1", a valid request
 * line: one request is queued twice.  Response 0 (a HEAD answer announcing
 * chunked) goes to the placeholder, framed as if it had a body, and
 * response 1 to the phantom "D /r?i=0".  Fixed: a resync starts only at a
 * registered method (httpp.c known_method), and "D" is none. */
static void test_cut_method_resyncs_onto_tail(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	const char *req0 = "HEAD /r?i=0 HTTP/1.1\r\nHost: t\r\n\r\n";

	feed_cap(h, IN, req0, 3, 1, HT_DF_TRUNCATED);
	feed(h, IN, req0 + 3);
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 0\r\nTransfer-Encoding: chunked\r\n\r\n");
	feed(h, IN, "HEAD /r?i=1 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
	close_conn(h);
	assert_ids_paired(h);
	teardown(h);
}

/* Found by tests/fuzz/fuzz_conn (regress/conn/dropped-head-request): past
 * max_pending (2 here) a HEAD request is dropped; its answer (Content-Length
 * 5, no body) is an orphan framed as if it answered the next queued
 * request (a GET): it takes 5 bytes of the next response, a 100 Continue,
 * whose broken start line is charged to request 3 (incomplete + framing
 * error); the final 200 of response 3 is then paired with request 4.
 * Fixed: a HEAD or CONNECT past max_pending is still queued (up to twice the
 * bound), since its response's framing depends on it. */
static void test_dropped_head_request_framing(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);

	h->lim.corr.max_pending = 2;
	feed(h, IN, "GET /r?i=0 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, IN, "GET /r?i=1 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, IN, "HEAD /r?i=2 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 0\r\nContent-Length: 5\r\n\r\nid=0;");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 1\r\nContent-Length: 5\r\n\r\nid=1;");
	feed(h, IN, "GET /r?i=3 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, IN, "GET /r?i=4 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 2\r\nContent-Length: 5\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 100 Continue\r\n\r\n"
		     "HTTP/1.1 200 OK\r\nX-Id: 3\r\nContent-Length: 5\r\n\r\nid=3;");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 4\r\nContent-Length: 5\r\n\r\nid=4;");
	close_conn(h);
	assert_ids_paired(h);
	teardown(h);
}

/* Found by tests/fuzz/fuzz_conn (regress/conn/resync-mid-line): sequential
 * keep-alive; the first 20 bytes of response 0 lost and the rest of it
 * late, after request 1.  After the hole the correlator decides where the
 * resync starts (position 20): request 0 lost its response, the response
 * "at 20" is an orphan.  But the resync starts mid-line, and response 0's
 * body ("id=0;") ends without a newline, so it also skips response 1's
 * status line: response 1 vanishes without a record, response 2 becomes
 * the orphan and response 3 is paired with request 1.  Fixed: bytes the
 * resync skips count as a response hole, so the response it lands on is
 * judged again by the after-hole rule, where it really starts. */
static void test_resync_mid_line_response(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	const char *resp0 = "HTTP/1.1 200 OK\r\nX-Id: 0\r\nContent-Length: 5\r\n\r\nid=0;";

	feed(h, IN, "GET /r?i=0 HTTP/1.1\r\nHost: t\r\n\r\n");
	lose(h, OUT, 20);
	h->pos[OUT] = strlen(resp0); /* request 1 is read after response 0 */
	feed(h, IN, "GET /r?i=1 HTTP/1.1\r\nHost: t\r\n\r\n");
	h->pos[OUT] = 20;
	h->peer_next = 32; /* the rest of response 0, written before request 1 was read */
	feed(h, OUT, resp0 + 20);
	feed(h, OUT, "HTTP/1.1 204 No Content\r\nX-Id: 1\r\n\r\n");
	feed(h, IN, "GET /r?i=2 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 2\r\nContent-Length: 5\r\n\r\nid=2;");
	feed(h, IN, "GET /r?i=3 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 3\r\nContent-Length: 5\r\n\r\nid=3;");
	close_conn(h);
	assert_ids_paired(h);
	teardown(h);
}

/* Found by tests/fuzz/fuzz_conn (regress/conn/eviction-on-loss): role
 * unknown and a hole at the very start, so nothing is parsed and every
 * event waits in the reassembler; once its segment table is full, a LOSS
 * event evicts too.  Every evicted byte must be counted (drop_conn_buffer),
 * whichever event evicted it. */
static void test_eviction_by_loss_event_counted(void **state)
{
	struct harness *h = setup_role(HT_ROLE_UNKNOWN);

	lose(h, IN, 32);
	for (int i = 0; i < 63; i++)
		feed_cap(h, IN, "x", 1, 1, 0);
	lose(h, IN, 10); /* the 65th segment */
	assert_true(h->c.rs[IN].evicted_bytes > 0);
	assert_int_equal(h->st.c[HT_C_DROP_CONN_BUFFER], h->c.rs[0].evicted_bytes + h->c.rs[1].evicted_bytes);
	teardown(h);
}

/* Found by tests/fuzz/fuzz_conn (regress/conn/cut-before-head): response 0
 * lost; of response 1 the LOSS of all but its first byte comes first, then
 * that byte (another CPU's ring).  One byte starts no head, so the hole
 * raises no parser error; the response sequence the correlator opened for
 * request 1 must still end there, or response 2 is taken for response 1's
 * final answer and paired with request 1. */
static void test_response_cut_after_first_byte(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	size_t len = strlen("HTTP/1.1 200 OK\r\nX-Id: 0\r\nContent-Length: 5\r\n\r\nid=0;");

	feed(h, IN, "GET /r?i=0 HTTP/1.1\r\nHost: t\r\n\r\n");
	lose(h, OUT, len);
	feed(h, IN, "GET /r?i=1 HTTP/1.1\r\nHost: t\r\n\r\n");
	h->pos[OUT] = len + 1;
	lose(h, OUT, len - 1);
	h->pos[OUT] = len;
	feed(h, OUT, "H");
	h->pos[OUT] = 2 * len;
	feed(h, IN, "GET /r?i=2 HTTP/1.1\r\nHost: t\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nX-Id: 2\r\nContent-Length: 5\r\n\r\nid=2;");
	close_conn(h);
	assert_ids_paired(h);
	assert_int_equal(h->n, 3);
	assert_string_equal(s(h->recs[2], h->recs[2]->target), "/r?i=2");
	teardown(h);
}

/* Found by tests/fuzz/fuzz_conn (regress/conn/head-in-many-events): request
 * 0's head arrives in 18 events (more than CONN_MARKS), so its anchor was
 * forgotten; response 0 is lost and responses 1 and 2 arrive before
 * requests 1 and 2 (other rings).  Without request 0's anchor nothing can
 * be proven after the hole: response 1 is an orphan, and request 1, when it
 * comes, was paired with response 2. */
static void test_head_in_many_events_keeps_anchor(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	const char *req0 = "GET /r?i=0 HTTP/1.1\r\nHost: t\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nX-Id: %d\r\nContent-Length: 5\r\n\r\nid=%d;";
	char r[64];

	for (int i = 0; i < 17; i++)
		feed_cap(h, IN, req0 + i, 1, 1, 0);
	feed(h, IN, req0 + 17);
	lose(h, OUT, 52);
	h->pos[IN] = 64; /* requests 1 and 2 were read before each response */
	snprintf(r, sizeof(r), resp, 1, 1);
	feed(h, OUT, r);
	h->pos[IN] = 96;
	snprintf(r, sizeof(r), resp, 2, 2);
	feed(h, OUT, r);
	h->pos[IN] = 32;
	h->peer_next = 52;
	feed(h, IN, "GET /r?i=1 HTTP/1.1\r\nHost: t\r\n\r\n");
	h->peer_next = 104;
	feed(h, IN, "GET /r?i=2 HTTP/1.1\r\nHost: t\r\n\r\n");
	close_conn(h);
	assert_ids_paired(h);
	assert_int_equal(h->n, 3);
	assert_string_equal(s(h->recs[1], h->recs[1]->target), "/r?i=1");
	assert_int_equal(h->recs[1]->status, 200);
	teardown(h);
}

/* Found by tests/fuzz/fuzz_conn (regress/conn/pipelined-past-max-pending-owed):
 * pipelined requests past max_pending, whose responses the anchors already
 * make orphans (written before the next queued request was read): each one
 * must still count against the responses owed to the dropped requests, or
 * the next queued requests' own responses are taken for owed ones and the
 * pairing shifts. */
static void test_owed_responses_orphaned_by_anchor(void **state)
{
	struct harness *h = setup_role(HT_ROLE_SERVER);
	char req[64], resp[96];

	h->lim.corr.max_pending = 1;
	feed(h, IN, "GET /q0 HTTP/1.1\r\nHost: x\r\n\r\nGET /q1 HTTP/1.1\r\nHost: x\r\n\r\n"
		    "GET /q2 HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(h, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nq0"
		     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nq1"
		     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nq2");
	for (int i = 3; i < 6; i++) {
		snprintf(req, sizeof(req), "GET /q%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nq%d", i);
		feed(h, IN, req);
		feed(h, OUT, resp);
	}
	close_conn(h);
	assert_int_equal(h->c.corr.dropped, 2);
	assert_int_equal(h->n, 6);
	for (int i = 0; i < h->n; i++) {
		struct ht_record *r = h->recs[i];

		if (r->flags & HT_RF_NO_REQUEST)
			assert_true(!strcmp(body_of(h, i), "q1") || !strcmp(body_of(h, i), "q2"));
		else
			assert_string_equal(s(r, r->path) + 1, body_of(h, i));
	}
	teardown(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_open_addresses),
		cmocka_unit_test(test_pipelined_100),
		cmocka_unit_test(test_head_then_get),
		cmocka_unit_test(test_100_continue),
		cmocka_unit_test(test_103_early_hints),
		cmocka_unit_test(test_response_without_request),
		cmocka_unit_test(test_response_before_request_arrives),
		cmocka_unit_test(test_close_mid_body),
		cmocka_unit_test(test_close_delimited),
		cmocka_unit_test(test_request_open_at_close),
		cmocka_unit_test(test_uncaptured_body_hole),
		cmocka_unit_test(test_upgrade_101),
		cmocka_unit_test(test_body_truncated_at_max),
		cmocka_unit_test(test_malformed_response_answers_oldest),
		cmocka_unit_test(test_response_before_request_body_end),
		cmocka_unit_test(test_early_answer_body_never_ends),
		cmocka_unit_test(test_lost_request_is_not_misattributed),
		cmocka_unit_test(test_hole_inside_head),
		cmocka_unit_test(test_cl_and_te_request_recorded),
		cmocka_unit_test(test_big_response_before_request),
		cmocka_unit_test(test_split_everywhere_zero_copy),
		cmocka_unit_test(test_lost_response_at_boundary),
		cmocka_unit_test(test_hole_across_responses_client),
		cmocka_unit_test(test_stale_orphan_after_headless_bytes),
		cmocka_unit_test(test_lost_response_pipelined),
		cmocka_unit_test(test_pending_overflow_never_mispairs),
		cmocka_unit_test(test_pending_overflow_head_framing),
		cmocka_unit_test(test_owed_responses_orphaned_by_anchor),
		cmocka_unit_test(test_body_excerpt_stops_at_hole),
		cmocka_unit_test(test_resumed_response_first),
		cmocka_unit_test(test_resumed_response_alone),
		cmocka_unit_test(test_resumed_mid_response_body),
		cmocka_unit_test(test_resumed_mid_request_body),
		cmocka_unit_test(test_lost_pipelined_request_not_paired),
		cmocka_unit_test(test_lost_first_response_pipelined),
		cmocka_unit_test(test_late_request_after_response_hole),
		cmocka_unit_test(test_cut_method_resyncs_onto_tail),
		cmocka_unit_test(test_dropped_head_request_framing),
		cmocka_unit_test(test_resync_mid_line_response),
		cmocka_unit_test(test_eviction_by_loss_event_counted),
		cmocka_unit_test(test_response_cut_after_first_byte),
		cmocka_unit_test(test_head_in_many_events_keeps_anchor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
