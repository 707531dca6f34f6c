/*
 * gen_corpus.c - write a replay file of synthetic but kernel-exact events.
 *
 *   build/gen_corpus -o FILE [-n TRANSACTIONS] [-c CONNECTIONS] [--seed N]
 *                    [--active N] [--cpus N] [-q]
 *
 * The events are what bpf/ would put in the rings for a busy node: for each
 * connection an HT_EV_OPEN, HT_EV_DATA records with exact per-direction
 * stream positions (syscalls split at HT_DATA_CHUNK, capture cut at 256 KiB
 * with the rest declared uncaptured: HT_DF_TRUNCATED), then an HT_EV_CLOSE
 * with the final positions.  Many connections are active at a time and
 * their syscalls interleave; records of one connection land on several
 * CPUs, neighbouring records of one connection are sometimes swapped (as
 * per-CPU rings deliver them), and a few records are dropped (the next
 * record of that direction carries HT_DF_LOSS_BEFORE and loss_start, as the
 * kernel does when a ring reserve fails).
 *
 * Drops only hit records inside a Content-Length body (never a head or
 * chunk framing), and truncation only hits Content-Length bodies, so a
 * perfect tracer reports exactly one record per generated transaction; the
 * totals printed at the end say how many carry a gap or a truncated body.
 * The last line on stderr is one JSON object; its "expected_records" is the
 * number of records (output lines) a replay of the file must write, counted
 * here as the request/response exchanges were generated, so a test can
 * catch a tracer that loses records without believing the tracer's count.
 * It is printed with -q too.
 *
 * Single-threaded and deterministic for a given seed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ht_event.h"
#include "ht_limits.h"
#include "stream/reasm.h"
#include "source/rfile.h"

#define GEN_CAPTURE_CAP HT_CAPTURE_CAP_DEFAULT /* the kernel's default capture_cap_bytes */
#define GEN_POOL_BYTES  (8u << 10)   /* body text pool: within the deflate window, so replay inflates fast */
#define GEN_MAX_QUEUE   16           /* syscalls queued per connection */
#define GEN_REC_MAX     (sizeof(struct ht_data_ev) + HT_DATA_CHUNK)

/* ---- random numbers: xoshiro-style splitmix64, deterministic */

static uint64_t rng_s;

static inline uint64_t rnd(void)
{
	uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint32_t rnd_below(uint32_t n)
{
	return n ? (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32) : 0;
}

/* Percent chance p (0..100, fractional allowed via per-mille below). */
static inline bool chance_pm(uint32_t per_mille)
{
	return rnd_below(1000) < per_mille;
}

/* Log-uniform integer in [lo, hi]. */
static uint32_t log_uniform(uint32_t lo, uint32_t hi)
{
	double u = (double)(rnd() >> 11) / (double)(1ull << 53);

	return (uint32_t)(lo * exp(u * log((double)hi / lo)));
}

/* ---- one syscall's bytes: only the captured part is materialized */

struct sysc {
	uint8_t dir;
	uint8_t *p;           /* captured bytes, p[0..cap) */
	size_t cap, alloc;
	uint64_t len;         /* syscall length (all bytes) */
	uint64_t dlo, dhi;    /* droppable range (a Content-Length body), offsets */
	uint64_t txn;         /* transaction of the message (single-message syscalls) */
	bool single;          /* holds exactly one message */
};

static void sys_reset(struct sysc *s, uint8_t dir)
{
	s->dir = dir;
	s->cap = 0;
	s->len = 0;
	s->dlo = s->dhi = 0;
	s->txn = 0;
	s->single = false;
}

static void sys_put(struct sysc *s, const void *src, size_t n)
{
	size_t room = s->len < GEN_CAPTURE_CAP ? GEN_CAPTURE_CAP - s->len : 0;
	size_t k = n < room ? n : room;

	if (k) {
		if (s->cap + k > s->alloc) {
			size_t a = s->alloc ? s->alloc : 4096;

			while (a < s->cap + k)
				a *= 2;
			s->p = realloc(s->p, a);
			if (!s->p) {
				fprintf(stderr, "gen_corpus: out of memory\n");
				exit(1);
			}
			s->alloc = a;
		}
		memcpy(s->p + s->cap, src, k);
		s->cap += k;
	}
	s->len += n;
}

static void sys_puts(struct sysc *s, const char *str)
{
	sys_put(s, str, strlen(str));
}

/* ---- body text: a pool of JSON-ish lines, copied from a random offset */

static char *pool;

static void pool_init(void)
{
	static const char *const names[] = { "alpha", "bravo", "charlie", "delta", "echo",
		"foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima" };
	static const char *const tags[] = { "new", "sale", "eu", "us", "blue", "red",
		"premium", "basic", "archived", "beta" };
	size_t at = 0;

	pool = malloc(GEN_POOL_BYTES + 512);
	if (!pool) {
		fprintf(stderr, "gen_corpus: out of memory\n");
		exit(1);
	}
	while (at < GEN_POOL_BYTES) {
		at += (size_t)snprintf(pool + at, 512,
			"{\"id\":%u,\"name\":\"%s-%u\",\"owner\":\"user%u@example.com\",\"tags\":[\"%s\",\"%s\"],"
			"\"price\":%u.%02u,\"stock\":%u,\"updated\":\"2026-11-%02uT%02u:%02u:%02uZ\"},\n",
			rnd_below(10000000), names[rnd_below(12)], rnd_below(100000), rnd_below(50000),
			tags[rnd_below(10)], tags[rnd_below(10)], rnd_below(1000), rnd_below(100),
			rnd_below(5000), 1 + rnd_below(28), rnd_below(24), rnd_below(60), rnd_below(60));
	}
}

static void sys_body(struct sysc *s, uint64_t n)
{
	while (n) {
		size_t room = s->len < GEN_CAPTURE_CAP ? GEN_CAPTURE_CAP - s->len : 0;
		size_t off, k;

		if (!room) {
			s->len += n; /* past the capture cap: length only */
			return;
		}
		off = rnd_below(GEN_POOL_BYTES);
		k = GEN_POOL_BYTES - off;
		if (k > n)
			k = n;
		if (k > room)
			k = room;
		sys_put(s, pool + off, k);
		n -= k;
	}
}

/* ---- connections */

struct conn {
	bool active;
	uint8_t role;             /* HT_ROLE_SERVER or HT_ROLE_CLIENT */
	uint8_t req_dir;          /* direction requests travel in */
	uint8_t home_cpu;
	bool pipelining;
	uint32_t tgid, tid;
	int32_t fd;
	uint64_t gen;
	const char *comm;
	uint16_t lport, rport;
	uint8_t raddr_last;
	uint64_t pos[2];
	bool loss_pending[2];
	uint64_t loss_start[2];
	uint32_t txns_left;
	uint32_t host;            /* which service */
	struct sysc q[GEN_MAX_QUEUE];
	uint32_t q_head, q_len;
	uint8_t held[GEN_REC_MAX]; /* record delayed to swap with the next one */
	size_t held_len;
	uint64_t last_gap_txn;
	uint64_t last_hole_txn;     /* last transaction counted in hole_txns */
};

struct proc {
	uint32_t tgid;
	const char *comm;
	uint8_t role;
	uint16_t port;            /* listening port (server) */
};

static const struct proc procs[] = {
	{ 2100, "nginx", HT_ROLE_SERVER, 80 },
	{ 2200, "envoy", HT_ROLE_SERVER, 8080 },
	{ 2300, "gunicorn", HT_ROLE_SERVER, 8000 },
	{ 3100, "java", HT_ROLE_CLIENT, 0 },
	{ 3200, "curl", HT_ROLE_CLIENT, 0 },
};

struct totals {
	uint64_t events, ev_open, ev_close, ev_data;
	uint64_t txns, conns;
	uint64_t stream_bytes, captured_bytes, uncaptured_bytes, lost_bytes;
	uint64_t dropped_records, swapped, truncated_txns, gap_txns;
	uint64_t hole_txns;         /* with lost or uncaptured bytes (either) */
	uint64_t chunked, pipelined_batches, split_messages;
	uint64_t methods[6];
};

struct gen {
	struct rfile_writer *w;
	uint64_t now;             /* monotonic ns */
	uint32_t ncpu;
	uint64_t next_txn;
	struct totals t;
	uint8_t rec[GEN_REC_MAX];
};

static const char *const method_names[6] = { "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD" };

static void write_rec(struct gen *g, const void *rec, size_t len)
{
	int ret = rfile_writer_add(g->w, rec, len);

	if (ret) {
		fprintf(stderr, "gen_corpus: cannot write record: %s\n", strerror(-ret));
		exit(1);
	}
	g->t.events++;
}

/* Hand one record of c to the file; sometimes hold it back so that it
 * follows the next record of the same connection (never an OPEN). */
static void emit(struct gen *g, struct conn *c, const void *rec, size_t len, bool may_hold)
{
	if (c->held_len) {
		write_rec(g, rec, len);
		write_rec(g, c->held, c->held_len);
		c->held_len = 0;
		g->t.swapped++;
		return;
	}
	if (may_hold && chance_pm(30)) {
		memcpy(c->held, rec, len);
		c->held_len = len;
		return;
	}
	write_rec(g, rec, len);
}

static uint32_t pick_cpu(struct gen *g, const struct conn *c)
{
	return chance_pm(750) ? c->home_cpu : rnd_below(g->ncpu);
}

static void fill_hdr(struct gen *g, const struct conn *c, struct ht_ev_hdr *h, uint8_t type)
{
	h->type = type;
	h->flags = 0;
	h->dir = 0;
	h->role = c->role;
	h->cpu = pick_cpu(g, c);
	g->now += 300 + rnd_below(1500);
	h->ts_ns = g->now;
	h->conn.tgid = c->tgid;
	h->conn.fd = c->fd;
	h->conn.gen = c->gen;
}

static void open_conn(struct gen *g, struct conn *c, uint32_t slot, uint32_t txns)
{
	const struct proc *p = &procs[rnd_below(sizeof(procs) / sizeof(procs[0]))];
	struct ht_open_ev ev;

	memset(c->pos, 0, sizeof(c->pos));
	memset(c->loss_pending, 0, sizeof(c->loss_pending));
	c->active = true;
	c->role = p->role;
	c->req_dir = p->role == HT_ROLE_SERVER ? HT_DIR_INGRESS : HT_DIR_EGRESS;
	c->home_cpu = (uint8_t)rnd_below(g->ncpu);
	c->pipelining = chance_pm(50);
	c->tgid = p->tgid;
	c->tid = p->tgid + 1 + rnd_below(8);
	c->fd = (int32_t)(16 + slot);
	c->comm = p->comm;
	c->raddr_last = (uint8_t)(2 + rnd_below(250));
	if (p->role == HT_ROLE_SERVER) {
		c->lport = p->port;
		c->rport = (uint16_t)(32768 + rnd_below(28000));
	} else {
		c->lport = (uint16_t)(32768 + rnd_below(28000));
		c->rport = chance_pm(500) ? 80 : 8080;
	}
	c->txns_left = txns;
	c->host = rnd_below(40);
	c->q_head = c->q_len = 0;
	c->held_len = 0;
	c->last_gap_txn = c->last_hole_txn = UINT64_MAX;

	memset(&ev, 0, sizeof(ev));
	fill_hdr(g, c, &ev.hdr, HT_EV_OPEN);
	c->gen = ev.hdr.ts_ns;
	ev.hdr.conn.gen = c->gen;
	ev.laddr[0] = 127;
	ev.laddr[3] = 1;
	ev.raddr[0] = 127;
	ev.raddr[3] = c->raddr_last;
	ev.lport = c->lport;
	ev.rport = c->rport;
	ev.family = 2; /* AF_INET */
	ev.tid = c->tid;
	strncpy(ev.comm, c->comm, sizeof(ev.comm) - 1);
	write_rec(g, &ev, sizeof(ev));
	g->t.ev_open++;
	g->t.conns++;
}

static void close_conn(struct gen *g, struct conn *c)
{
	struct ht_close_ev ev;

	memset(&ev, 0, sizeof(ev));
	fill_hdr(g, c, &ev.hdr, HT_EV_CLOSE);
	ev.pos[0] = c->pos[0];
	ev.pos[1] = c->pos[1];
	emit(g, c, &ev, sizeof(ev), false); /* a held data record may follow it */
	g->t.ev_close++;
	c->active = false;
}

/* ---- messages */

/* Body bytes: mostly small (about 70% under 2 KiB), a tail of tens of KiB
 * and a few of 64 KiB - 1 MiB (cut at the 256 KiB capture cap). */
static uint32_t body_size(bool request)
{
	uint32_t r = rnd_below(1000);

	if (request)
		return r < 880 ? log_uniform(100, 2048) : r < 990 ? log_uniform(2048, 8192) :
		       log_uniform(8192, 65536);
	if (r < 720)
		return log_uniform(100, 2048);
	if (r < 965)
		return log_uniform(2048, 8192);
	if (r < 998)
		return log_uniform(8192, 65536);
	return log_uniform(65536, 1u << 20);
}

static struct sysc *q_push(struct conn *c, uint8_t dir)
{
	struct sysc *s = &c->q[(c->q_head + c->q_len) % GEN_MAX_QUEUE];

	c->q_len++;
	sys_reset(s, dir);
	return s;
}

static int pick_method(void)
{
	uint32_t r = rnd_below(100);

	return r < 60 ? 0 : r < 75 ? 1 : r < 82 ? 2 : r < 87 ? 3 : r < 92 ? 4 : 5;
}

static void put_request(struct gen *g, struct conn *c, struct sysc *s, int m, bool last)
{
	char head[1024];
	uint32_t body = (m == 1 || m == 2 || m == 4) ? body_size(true) : 0;
	int n;

	n = snprintf(head, sizeof(head),
		     "%s /api/v%u/items/%u%s HTTP/1.1\r\n"
		     "Host: svc-%u.prod.svc.cluster.local\r\n"
		     "User-Agent: %s\r\n"
		     "Accept: application/json\r\n"
		     "X-Request-Id: %016" PRIx64 "\r\n",
		     method_names[m], 1 + rnd_below(3), rnd_below(1000000),
		     m == 0 && chance_pm(400) ? "?limit=20&offset=40" : "",
		     c->host, c->role == HT_ROLE_CLIENT ? "Java-http-client/17.0.9" : "python-requests/2.31.0",
		     rnd());
	if (body)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Type: application/json\r\nContent-Length: %u\r\n", body);
	if (last && chance_pm(300))
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: close\r\n");
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	sys_put(s, head, (size_t)n);
	if (body) {
		s->dlo = s->len;
		sys_body(s, body);
		s->dhi = s->len;
	}
	g->t.methods[m]++;
}

static void put_chunked(struct sysc *s, uint32_t body)
{
	char line[64];

	while (body) {
		uint32_t k = 500 + rnd_below(8000);

		if (k > body)
			k = body;
		snprintf(line, sizeof(line), chance_pm(50) ? "%x;ext=1\r\n" : "%x\r\n", k);
		sys_puts(s, line);
		sys_body(s, k);
		sys_puts(s, "\r\n");
		body -= k;
	}
	sys_puts(s, chance_pm(100) ? "0\r\nX-Checksum: 9f86d081\r\n\r\n" : "0\r\n\r\n");
}

/* Count transaction txn of c once in hole_txns. */
static void mark_hole(struct gen *g, struct conn *c, uint64_t txn)
{
	if (c->last_hole_txn == txn)
		return;
	c->last_hole_txn = txn;
	g->t.hole_txns++;
}

/* Append the response to a request of method m; returns true if chunked. */
static bool put_response(struct gen *g, struct conn *c, struct sysc *s, int m)
{
	char head[512];
	uint32_t status = 200, body = body_size(false), r = rnd_below(100);
	const char *reason = "OK";
	bool chunked = false, has_body = true;
	int n;

	switch (m) {
	case 0: /* GET */
		if (r < 5) {
			status = 304, reason = "Not Modified", has_body = false;
		} else if (r < 13) {
			status = 404, reason = "Not Found", body = 60 + rnd_below(100);
		}
		break;
	case 1: /* POST */
		status = 201, reason = "Created";
		break;
	case 3: /* DELETE */
		if (r < 70)
			status = 204, reason = "No Content", has_body = false;
		break;
	case 5: /* HEAD: the length of the body it would have */
		has_body = false;
		break;
	}
	if (has_body && body <= 65536 && status == 200 && chance_pm(150))
		chunked = true;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %u %s\r\n"
		     "Server: nginx/1.22.1\r\n"
		     "Date: Wed, 25 Nov 2026 07:%02u:%02u GMT\r\n"
		     "Content-Type: application/json\r\n",
		     status, reason, rnd_below(60), rnd_below(60));
	if (chunked)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Transfer-Encoding: chunked\r\n");
	else if (status != 204 && status != 304)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %u\r\n",
			      has_body || m == 5 ? body : 0);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	sys_put(s, head, (size_t)n);
	if (!has_body)
		return false;
	if (chunked) {
		put_chunked(s, body);
		return true;
	}
	s->dlo = s->len;
	sys_body(s, body);
	s->dhi = s->len;
	if (s->len > GEN_CAPTURE_CAP) {
		g->t.truncated_txns++;
		mark_hole(g, c, g->next_txn);
	}
	return false;
}

/* Split a fully captured single-message syscall in two at a random point
 * (a partial read or write: the parser sees an incomplete head or body). */
static void maybe_split(struct gen *g, struct conn *c, struct sysc *s)
{
	struct sysc *t;
	size_t cut;

	if (s->len != s->cap || s->len < 2 || c->q_len >= GEN_MAX_QUEUE || !chance_pm(50))
		return;
	cut = 1 + rnd_below((uint32_t)s->len - 1);
	t = q_push(c, s->dir);
	sys_put(t, s->p + cut, s->cap - cut);
	s->cap = s->len = cut;
	t->txn = s->txn;
	s->dlo = s->dhi = 0; /* keep drops simple: not in split messages */
	g->t.split_messages++;
}

/* Queue the syscalls of the next exchange (or pipelined batch) of c. */
static void next_exchange(struct gen *g, struct conn *c)
{
	uint32_t k = 1;
	int methods[4];
	struct sysc *s;

	if (c->pipelining && c->txns_left >= 2)
		k = 2 + rnd_below(c->txns_left >= 4 ? 3 : c->txns_left - 1);
	if (k > 1) {
		/* several bodyless requests in one write, answered in order */
		s = q_push(c, c->req_dir);
		for (uint32_t i = 0; i < k; i++) {
			methods[i] = chance_pm(800) ? 0 : 5;
			put_request(g, c, s, methods[i], c->txns_left == k && i == k - 1);
		}
		s->dlo = s->dhi = 0;
		for (uint32_t i = 0; i < k; i++) {
			struct sysc *prev = s;

			s = q_push(c, c->req_dir ^ 1);
			if (put_response(g, c, s, methods[i]))
				g->t.chunked++;
			s->dlo = s->dhi = 0;
			g->next_txn++;
			/* sometimes written together with the previous response, when
			 * both stay within the capture cap (else the second head
			 * would be uncaptured and no tracer could see it) */
			if (i && prev->len == prev->cap && s->len == s->cap &&
			    prev->len + s->len <= GEN_CAPTURE_CAP && chance_pm(300)) {
				sys_put(prev, s->p, s->cap);
				c->q_len--;
				s = prev;
			}
		}
		g->t.pipelined_batches++;
	} else {
		int m = pick_method();

		s = q_push(c, c->req_dir);
		s->single = true;
		s->txn = g->next_txn;
		put_request(g, c, s, m, c->txns_left == 1);
		maybe_split(g, c, s);
		s = q_push(c, c->req_dir ^ 1);
		s->single = true;
		s->txn = g->next_txn;
		if (put_response(g, c, s, m))
			g->t.chunked++;
		maybe_split(g, c, s);
		g->next_txn++;
	}
	c->txns_left -= k;
	g->t.txns += k;
}

/* Emit one queued syscall of c as the kernel would: records of up to
 * HT_DATA_CHUNK captured bytes, then one record with the uncaptured rest. */
static void emit_syscall(struct gen *g, struct conn *c, struct sysc *s)
{
	struct ht_data_ev *ev = (struct ht_data_ev *)g->rec;
	uint64_t off = 0;
	uint32_t nrec = (uint32_t)((s->cap + HT_DATA_CHUNK - 1) / HT_DATA_CHUNK) + (s->len > s->cap);
	uint32_t i = 0;
	uint8_t d = s->dir;

	while (off < s->len) {
		uint32_t cap = s->cap > off ? (uint32_t)(s->cap - off) : 0;
		uint64_t len;
		bool last = i == nrec - 1;

		if (cap > HT_DATA_CHUNK)
			cap = HT_DATA_CHUNK;
		len = cap ? cap : s->len - off;
		memset(ev, 0, sizeof(*ev));
		fill_hdr(g, c, &ev->hdr, HT_EV_DATA);
		ev->hdr.dir = d;
		if (!cap)
			ev->hdr.flags |= HT_DF_TRUNCATED;
		if (nrec > 1)
			ev->hdr.flags |= HT_DF_SPLIT;
		ev->pos = c->pos[d];
		ev->peer_pos = c->pos[d ^ 1];
		ev->len = (uint32_t)len;
		ev->cap_len = cap;
		ev->sys_len = (uint32_t)s->len;
		ev->tid = c->tid;
		strncpy(ev->comm, c->comm, sizeof(ev->comm) - 1);
		memcpy(ev->data, s->p + off, cap);
		g->t.stream_bytes += len;
		g->t.captured_bytes += cap;
		if (!cap)
			g->t.uncaptured_bytes += len;
		/* a ring reserve failure: only whole records inside a body, never
		 * the last record of the syscall (the next one reports the loss) */
		if (!last && cap && off >= s->dlo && off + len <= s->dhi && chance_pm(10)) {
			if (!c->loss_pending[d]) {
				c->loss_pending[d] = true;
				c->loss_start[d] = c->pos[d];
			}
			g->t.dropped_records++;
			g->t.lost_bytes += len;
			g->t.stream_bytes -= len;
			g->t.captured_bytes -= cap;
			if (s->single && c->last_gap_txn != s->txn) {
				c->last_gap_txn = s->txn;
				g->t.gap_txns++;
				mark_hole(g, c, s->txn);
			}
		} else {
			if (c->loss_pending[d]) {
				ev->hdr.flags |= HT_DF_LOSS_BEFORE;
				ev->loss_start = c->loss_start[d];
				c->loss_pending[d] = false;
			}
			emit(g, c, ev, sizeof(*ev) + cap, true);
			g->t.ev_data++;
		}
		c->pos[d] += len;
		off += len;
		i++;
	}
}

/* One step of connection c: its next syscall, or its close. */
static void step(struct gen *g, struct conn *c)
{
	struct sysc *s;

	if (!c->q_len) {
		if (!c->txns_left) {
			close_conn(g, c);
			return;
		}
		next_exchange(g, c);
	}
	s = &c->q[c->q_head];
	emit_syscall(g, c, s);
	c->q_head = (c->q_head + 1) % GEN_MAX_QUEUE;
	c->q_len--;
}


/* ---- --check: replay a file through reasm and verify it is self-consistent */

struct chk_conn {
	bool used, closed;
	uint32_t tgid;
	int32_t fd;
	uint64_t gen;
	uint8_t role;
	uint64_t close_pos[2];
	struct reasm rs[2];
	uint32_t match[2];          /* progress matching "HTTP/1.1 " */
};

struct chk {
	struct chk_conn *tab;
	uint64_t cap, used;
	uint64_t events, opens, closes, datas, losses;
	uint64_t data_bytes, uncap_bytes, lost_bytes, responses, errors;
	uint64_t out_of_order;      /* events whose ts is below the previous one */
	uint64_t last_ts;
};

static uint64_t chk_hash(uint32_t tgid, int32_t fd, uint64_t gen)
{
	uint64_t h = gen * 0x9e3779b97f4a7c15ull ^ ((uint64_t)tgid << 32 | (uint32_t)fd);

	return h ^ (h >> 29);
}

static struct chk_conn *chk_find(struct chk *k, const struct ht_conn_id *id, bool create);

static void chk_grow(struct chk *k)
{
	struct chk_conn *old = k->tab;
	uint64_t ocap = k->cap;

	k->cap = ocap ? ocap * 2 : 1024;
	k->tab = calloc(k->cap, sizeof(*k->tab));
	if (!k->tab) {
		fprintf(stderr, "gen_corpus: out of memory\n");
		exit(1);
	}
	for (uint64_t i = 0; i < ocap; i++) {
		if (!old[i].used)
			continue;
		uint64_t j = chk_hash(old[i].tgid, old[i].fd, old[i].gen) & (k->cap - 1);

		while (k->tab[j].used)
			j = (j + 1) & (k->cap - 1);
		k->tab[j] = old[i];
	}
	free(old);
}

static struct chk_conn *chk_find(struct chk *k, const struct ht_conn_id *id, bool create)
{
	uint64_t j;

	if (create && (k->used + 1) * 2 > k->cap)
		chk_grow(k);
	if (!k->cap)
		return NULL;
	j = chk_hash(id->tgid, id->fd, id->gen) & (k->cap - 1);
	while (k->tab[j].used) {
		struct chk_conn *c = &k->tab[j];

		if (c->tgid == id->tgid && c->fd == id->fd && c->gen == id->gen)
			return create ? NULL : c;
		j = (j + 1) & (k->cap - 1);
	}
	if (!create)
		return NULL;
	k->used++;
	k->tab[j].used = true;
	k->tab[j].tgid = id->tgid;
	k->tab[j].fd = id->fd;
	k->tab[j].gen = id->gen;
	return &k->tab[j];
}

static void chk_err(struct chk *k, const char *what, const struct ht_ev_hdr *h)
{
	if (k->errors++ < 10)
		fprintf(stderr, "gen_corpus: check: %s (event %" PRIu64 ", tgid %u fd %d gen %llu)\n",
			what, k->events, h->conn.tgid, h->conn.fd, (unsigned long long)h->conn.gen);
}

/* Consume what is contiguous; count bytes and status lines of responses. */
static void chk_drain(struct chk *k, struct chk_conn *c, int d)
{
	static const char pat[] = "HTTP/1.1 ";
	bool resp = (c->role == HT_ROLE_SERVER) == (d == HT_DIR_EGRESS);
	struct reasm_view v;

	for (;;) {
		reasm_peek(&c->rs[d], &v);
		if (v.kind == REASM_EMPTY)
			return;
		if (v.kind == REASM_DATA) {
			k->data_bytes += v.len;
			for (uint64_t i = 0; resp && i < v.len; i++) {
				uint8_t b = v.data[i];

				if (b == (uint8_t)pat[c->match[d]])
					c->match[d]++;
				else
					c->match[d] = b == 'H';
				if (c->match[d] == sizeof(pat) - 1) {
					k->responses++;
					c->match[d] = 0;
				}
			}
		} else {
			c->match[d] = 0;
			if (v.kind == REASM_HOLE_LOST)
				k->lost_bytes += v.len;
			else
				k->uncap_bytes += v.len;
		}
		reasm_consume(&c->rs[d], v.len);
	}
}

static void chk_event(struct chk *k, const void *rec, uint32_t len)
{
	const struct ht_ev_hdr *h = rec;
	struct reasm_limits lim = { .max_bytes = 64u << 20, .max_segments = 1u << 16 };
	struct chk_conn *c;

	k->events++;
	if (h->ts_ns < k->last_ts)
		k->out_of_order++;
	k->last_ts = h->ts_ns;
	switch (h->type) {
	case HT_EV_OPEN:
		k->opens++;
		c = chk_find(k, &h->conn, true);
		if (!c) {
			chk_err(k, "duplicate open", h);
			return;
		}
		c->role = h->role;
		reasm_init(&c->rs[0], &lim);
		reasm_init(&c->rs[1], &lim);
		return;
	case HT_EV_DATA: {
		const struct ht_data_ev *ev = rec;
		int d = ev->hdr.dir & 1;

		k->datas++;
		c = chk_find(k, &h->conn, false);
		if (!c) {
			chk_err(k, "data before open", h);
			return;
		}
		if ((ev->len > ev->cap_len) != !!(ev->hdr.flags & HT_DF_TRUNCATED) ||
		    ev->sys_len < ev->len || len != sizeof(*ev) + ev->cap_len)
			chk_err(k, "bad lengths or flags in a data record", h);
		if (ev->hdr.flags & HT_DF_LOSS_BEFORE) {
			if (ev->loss_start >= ev->pos)
				chk_err(k, "loss_start not below pos", h);
			k->losses++;
			reasm_add_lost(&c->rs[d], ev->loss_start, ev->pos - ev->loss_start, ev->hdr.ts_ns);
		}
		reasm_add(&c->rs[d], ev->pos, ev->data, ev->cap_len, ev->len, ev->hdr.ts_ns);
		if (c->rs[d].dup_bytes)
			chk_err(k, "overlapping data records", h);
		chk_drain(k, c, d);
		return;
	}
	case HT_EV_CLOSE: {
		const struct ht_close_ev *ev = rec;

		k->closes++;
		c = chk_find(k, &h->conn, false);
		if (!c || c->closed) {
			chk_err(k, "close without open, or twice", h);
			return;
		}
		c->closed = true;
		c->close_pos[0] = ev->pos[0];
		c->close_pos[1] = ev->pos[1];
		return;
	}
	default:
		chk_err(k, "unexpected event type", h);
	}
}

static int check_file(const char *path, bool walk_only, unsigned threads)
{
	struct chk k = { 0 };
	struct rfile_reader *r;
	const uint8_t *recs;
	size_t len;
	uint32_t count;
	char err[512];
	struct timespec t0, t1;
	double secs;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = rfile_reader_open(path, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "gen_corpus: %s\n", err);
		return 1;
	}
	if (threads && rfile_reader_prefetch(r, threads)) {
		fprintf(stderr, "gen_corpus: %s: cannot start read-ahead threads\n", path);
		rfile_reader_close(r);
		return 1;
	}
	while ((ret = rfile_reader_next_block(r, &recs, &len, &count)) == 1) {
		const uint8_t *cur = recs, *end = recs + len;
		const void *rec;
		uint32_t rl;

		while (rfile_next_record(&cur, end, &rec, &rl)) {
			if (walk_only) {
				k.events++;
				k.data_bytes += ((const struct ht_ev_hdr *)rec)->type == HT_EV_DATA ? rl : 0;
				continue;
			}
			chk_event(&k, rec, rl);
		}
	}
	if (ret < 0) {
		fprintf(stderr, "gen_corpus: %s\n", rfile_reader_error(r));
		k.errors++;
	}
	rfile_reader_close(r);
	for (uint64_t i = 0; i < k.cap; i++) {
		struct chk_conn *c = &k.tab[i];

		if (!c->used)
			continue;
		for (int d = 0; d < 2; d++) {
			if (!c->closed || reasm_waiting(&c->rs[d]) || c->rs[d].max_seen != c->close_pos[d] ||
			    c->rs[d].cursor != c->close_pos[d]) {
				if (k.errors++ < 10)
					fprintf(stderr, "gen_corpus: check: tgid %u fd %d gen %" PRIu64 " dir %d: closed %d, cursor %" PRIu64 ", max_seen %" PRIu64 ", close pos %" PRIu64 "\n",
						c->tgid, c->fd, c->gen, d, c->closed, c->rs[d].cursor,
						c->rs[d].max_seen, c->close_pos[d]);
			}
			reasm_free(&c->rs[d]);
		}
	}
	free(k.tab);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (walk_only) {
		fprintf(stderr, "gen_corpus: read %" PRIu64 " events (%" PRIu64 " data record bytes) in %.2f s: %.2f M events/s\n",
			k.events, k.data_bytes, secs, (double)k.events / secs / 1e6);
		return k.errors ? 1 : 0;
	}
	fprintf(stderr, "gen_corpus: check %s: %" PRIu64 " events (%" PRIu64 " open, %" PRIu64 " data, %" PRIu64 " close), "
		"%" PRIu64 " connections, %" PRIu64 " responses, %" PRIu64 " data bytes, %" PRIu64 " uncaptured, %" PRIu64 " lost "
		"(%" PRIu64 " loss marks), %" PRIu64 " events with an earlier ts than the one before, %.2f s: %s\n",
		path, k.events, k.opens, k.datas, k.closes, k.used, k.responses, k.data_bytes, k.uncap_bytes,
		k.lost_bytes, k.losses, k.out_of_order, secs, k.errors ? "FAILED" : "ok");
	return k.errors ? 1 : 0;
}

/* ---- main */

static void usage(FILE *f)
{
	fprintf(f, "usage: gen_corpus -o FILE [-n TRANSACTIONS] [-c CONNECTIONS] [--seed N] [--active N] [--cpus N] [-q]\n"
		   "       gen_corpus --check FILE [--threads N]       verify positions, lengths and flags of a replay file\n"
		   "       gen_corpus --read-bench FILE [--threads N]  time reading and walking every record\n"
		   "         (--threads: rfile read-ahead decoder threads, default 0 = synchronous)\n"
		   "  writes a replay file (http-tracer replay FILE) of synthetic kernel events;\n"
		   "  defaults: 1000000 transactions over 10000 connections, 256 active at a time, 4 CPUs\n");
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && end != s && !*end && s[0] != '-';
}

struct gen_opts {
	const char *out;
	uint64_t ntx, nconn, seed, active, cpus;
	bool quiet;
	int mode;                 /* 0 generate, 'k' check, 'b' read bench */
	unsigned threads;
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct gen_opts *o)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "active", required_argument, NULL, 'a' },
		{ "cpus", required_argument, NULL, 'p' },
		{ "check", required_argument, NULL, 'k' },
		{ "read-bench", required_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v, *dst;
	int opt;

	while ((opt = getopt_long(argc, argv, "o:n:c:qh", opts, NULL)) != -1) {
		dst = opt == 'n' ? &o->ntx : opt == 'c' ? &o->nconn : opt == 's' ? &o->seed :
		      opt == 'a' ? &o->active : opt == 'p' ? &o->cpus : NULL;
		if (dst || opt == 't') {
			if (!parse_u64(optarg, &v) || (opt == 't' && v > 16)) {
				fprintf(stderr, "gen_corpus: bad number '%s' for -%c%s\n", optarg, opt,
					opt == 't' ? " (0..16)" : "");
				return 2;
			}
			if (dst)
				*dst = v;
			else
				o->threads = (unsigned)v;
			continue;
		}
		switch (opt) {
		case 'o':
			o->out = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'k':
		case 'b':
			o->mode = opt;
			o->out = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o->out || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (o->mode)
		return -1;
	if (!o->nconn || o->nconn > 100000000 || o->ntx < o->nconn || o->ntx > 4000000000ull) {
		fprintf(stderr, "gen_corpus: need 1 <= CONNECTIONS <= TRANSACTIONS <= 4e9 (got -n %" PRIu64 " -c %" PRIu64 ")\n",
			o->ntx, o->nconn);
		return 2;
	}
	if (!o->active || o->active > 65536 || !o->cpus || o->cpus > 256) {
		fprintf(stderr, "gen_corpus: --active must be 1..65536 and --cpus 1..256\n");
		return 2;
	}
	if (o->active > o->nconn)
		o->active = o->nconn;
	return -1;
}

/* Transactions per connection: 1 each plus an exponential share of the rest. */
static uint32_t *assign_quotas(uint64_t ntx, uint64_t nconn)
{
	uint32_t *quota = calloc(nconn, sizeof(*quota));
	double *w = calloc(nconn, sizeof(*w)), wsum = 0;
	uint64_t rest = ntx - nconn, given = 0;

	if (!quota || !w) {
		free(quota);
		free(w);
		return NULL;
	}
	for (uint64_t i = 0; i < nconn; i++) {
		w[i] = -log((double)((rnd() >> 11) + 1) / (double)(1ull << 53));
		wsum += w[i];
	}
	for (uint64_t i = 0; i < nconn; i++) {
		uint64_t k = (uint64_t)((double)rest * w[i] / wsum);

		if (given + k > rest)
			k = rest - given;
		quota[i] = (uint32_t)(1 + k);
		given += k;
	}
	for (uint64_t i = 0; given < rest; i = (i + 1) % nconn, given++)
		quota[i]++;
	free(w);
	return quota;
}

/* Run all connections, `active` at a time, picking a random one per step. */
static void generate(struct gen *g, struct conn *conns, uint32_t active, const uint32_t *quota,
		     uint64_t nconn)
{
	uint64_t opened = 0, finished = 0;
	uint32_t n_active = 0, slot;

	while (finished < nconn) {
		while (opened < nconn && n_active < active) {
			for (slot = 0; conns[slot].active; slot++)
				;
			open_conn(g, &conns[slot], slot, quota[opened++]);
			n_active++;
		}
		do
			slot = rnd_below(active);
		while (!conns[slot].active);
		step(g, &conns[slot]);
		if (!conns[slot].active) {
			n_active--;
			finished++;
		}
	}
}

static void print_totals(const struct totals *t, const char *out, double secs, bool quiet)
{
	struct stat st;
	long long fsize = stat(out, &st) ? -1 : (long long)st.st_size;

	if (!quiet)
		fprintf(stderr,
			"gen_corpus: wrote %s in %.1f s: %" PRIu64 " events (%" PRIu64 " open, %" PRIu64 " data, %" PRIu64 " close), "
			"%" PRIu64 " transactions, %" PRIu64 " connections, %" PRIu64 " stream bytes (%" PRIu64 " captured, %" PRIu64 " uncaptured, %" PRIu64 " lost), %lld file bytes\n",
			out, secs, t->events, t->ev_open, t->ev_data, t->ev_close, t->txns, t->conns,
			t->stream_bytes + t->lost_bytes, t->captured_bytes, t->uncaptured_bytes,
			t->lost_bytes, fsize);
	fprintf(stderr,
		"gen_corpus: expect %" PRIu64 " transactions from a perfect tracer "
		"(%" PRIu64 " of them with flag gap: %" PRIu64 " with lost bytes from %" PRIu64 " dropped records inside Content-Length bodies, "
		"%" PRIu64 " with a body cut by the 256 KiB capture cap; "
		"methods GET %" PRIu64 " POST %" PRIu64 " PUT %" PRIu64 " DELETE %" PRIu64 " PATCH %" PRIu64 " HEAD %" PRIu64 "; "
		"%" PRIu64 " chunked responses, %" PRIu64 " pipelined batches, %" PRIu64 " split messages, %" PRIu64 " swapped record pairs)\n",
		t->txns, t->hole_txns, t->gap_txns, t->dropped_records, t->truncated_txns,
		t->methods[0], t->methods[1], t->methods[2], t->methods[3], t->methods[4], t->methods[5],
		t->chunked, t->pipelined_batches, t->split_messages, t->swapped);
	fprintf(stderr,
		"{\"events\":%" PRIu64 ",\"transactions\":%" PRIu64 ",\"expected_records\":%" PRIu64
		",\"connections\":%" PRIu64 ",\"stream_bytes\":%" PRIu64
		",\"captured_bytes\":%" PRIu64 ",\"uncaptured_bytes\":%" PRIu64 ",\"lost_bytes\":%" PRIu64
		",\"dropped_records\":%" PRIu64 ",\"gap_transactions\":%" PRIu64 ",\"truncated_transactions\":%" PRIu64
		",\"hole_transactions\":%" PRIu64 ",\"file_bytes\":%lld,\"seconds\":%.2f}\n",
		t->events, t->txns, t->txns, t->conns, t->stream_bytes + t->lost_bytes, t->captured_bytes,
		t->uncaptured_bytes, t->lost_bytes, t->dropped_records, t->gap_txns, t->truncated_txns,
		t->hole_txns, fsize, secs);
}

int main(int argc, char **argv)
{
	struct gen_opts o = { .ntx = 1000000, .nconn = 10000, .seed = 1, .active = 256, .cpus = 4 };
	struct gen *g = NULL;
	struct conn *conns = NULL;
	uint32_t *quota = NULL;
	struct timespec t0, t1;
	char err[512];
	int ret, status = 1;

	ret = parse_args(argc, argv, &o);
	if (ret >= 0)
		return ret;
	if (o.mode)
		return check_file(o.out, o.mode == 'b', o.threads);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rng_s = o.seed;
	pool_init();
	quota = assign_quotas(o.ntx, o.nconn);
	conns = calloc(o.active, sizeof(*conns));
	g = calloc(1, sizeof(*g));
	if (!quota || !conns || !g) {
		fprintf(stderr, "gen_corpus: out of memory\n");
		goto out_free;
	}
	g->w = rfile_writer_open(o.out, err, sizeof(err));
	if (!g->w) {
		fprintf(stderr, "gen_corpus: %s\n", err);
		goto out_free;
	}
	g->ncpu = (uint32_t)o.cpus;
	g->now = 1000000000000ull + rnd_below(1000000000);
	generate(g, conns, (uint32_t)o.active, quota, o.nconn);
	ret = rfile_writer_close(g->w);
	if (ret) {
		fprintf(stderr, "gen_corpus: %s: %s\n", o.out, strerror(-ret));
		goto out_free;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_totals(&g->t, o.out,
		     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, o.quiet);
	status = 0;
out_free:
	for (uint64_t i = 0; conns && i < o.active; i++)
		for (int k = 0; k < GEN_MAX_QUEUE; k++)
			free(conns[i].q[k].p);
	free(conns);
	free(quota);
	free(g);
	free(pool);
	return status;
}
