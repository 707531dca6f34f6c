/* corr.c - request/response correlation; see corr.h. */
#include "corr.h"

#include <string.h>

#include "ht_event.h"

/* Internal record flag bits (above the printed ones, never encoded). */
#define CORR_REQ_DONE     (1u << 16)
#define CORR_RESP_HEAD    (1u << 17)
#define CORR_PEER_HEAD    (1u << 18)
#define CORR_PEER_CONNECT (1u << 19)
#define CORR_RESP_DONE    (1u << 20) /* answered; waits for the end of its own body */
#define CORR_ANCHORED     (1u << 21) /* anchor_pos is known */
#define CORR_REQ_CUT      (1u << 22) /* a hole in the request body: the excerpt ends */
#define CORR_RESP_CUT     (1u << 23) /* a hole in the response body: the excerpt ends */
#define CORR_SHARED       (1u << 24) /* read in the same window as other request bytes */
#define CORR_PRE_HOLE     (1u << 25) /* began before the request holes or skips of
				      * this run (corr.req_hole): no request they
				      * hid can be older than this one */
#define CORR_BEFORE_LAST  (1u << 26) /* began before the latest request hole or skip */
#define CORR_INTERNAL     (CORR_REQ_DONE | CORR_RESP_HEAD | CORR_PEER_HEAD | CORR_PEER_CONNECT | \
			   CORR_RESP_DONE | CORR_ANCHORED | CORR_REQ_CUT | CORR_RESP_CUT | CORR_SHARED | \
			   CORR_PRE_HOLE | CORR_BEFORE_LAST)

void corr_init(struct corr *c, corr_emit_fn emit, void *ctx, uint64_t wall_offset_ns)
{
	memset(c, 0, sizeof(*c));
	c->emit = emit;
	c->emit_ctx = ctx;
	c->wall_offset_ns = wall_offset_ns;
	c->sequential = true;
}

void corr_free(struct corr *c)
{
	struct ht_record *r = c->head;

	while (r) {
		struct ht_record *next = r->next;

		ht_record_free(r);
		r = next;
	}
	ht_record_free(c->orphan);
	if (c->req_cur && (c->req_cur->flags & CORR_RESP_DONE))
		ht_record_free(c->req_cur); /* detached from the queue */
	c->head = c->tail = c->req_cur = c->answering = c->orphan = NULL;
	c->n_pending = 0;
}

static void put_meta(struct ht_record *r, const struct corr_meta *m, struct corr *c)
{
	r->role = m->role;
	r->local_port = m->local_port;
	r->remote_port = m->remote_port;
	r->tls = m->tls;
	r->local = m->local;
	r->remote = m->remote;
	r->pid = m->pid;
	r->tid = m->tid;
	memcpy(r->comm, m->comm, sizeof(r->comm));
	r->comm[sizeof(r->comm) - 1] = '\0';
	r->sample_key = m->conn_hash ^ (c->seq++ * 0x9e3779b97f4a7c15ull);
}

static void copy_headers(struct ht_record *r, struct ht_headers *dst, const struct httpp_head *h)
{
	for (uint32_t i = 0; i < h->n_headers; i++) {
		const struct httpp_header *hd = &h->headers[i];

		if (ht_record_add_header(r, dst, hd->name.p, hd->name.len, hd->value.p,
					 hd->value.len))
			r->flags |= HT_RF_HEADER_TRUNCATED;
	}
	if (h->headers_truncated)
		r->flags |= HT_RF_HEADER_TRUNCATED;
}

/*
 * Room in the arena for what a message head (and its body up to max_body,
 * when its length is declared) will add, reserved at once: the arena
 * otherwise grows by doubling from 512 bytes, copying itself each time.
 * A hint only: a failure shows up at the copies themselves.
 */
static void reserve_message(struct ht_record *r, const struct httpp_head *h, uint32_t max_body,
			    uint32_t at_least)
{
	uint64_t body = h->body_kind == HTTPP_BODY_LENGTH ? h->content_length : 0;
	uint64_t need = h->head_len + (body < max_body ? body : max_body);

	(void)ht_record_reserve(r, need > at_least ? need : at_least);
}

static void set_time(struct corr *c, struct ht_record *r, uint64_t ts_ns)
{
	r->mono_first_ns = ts_ns;
	r->time_unix_nano = ts_ns + c->wall_offset_ns;
}

static bool slice_is(struct httpp_slice s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(s.p, lit, n) == 0;
}

static void emit(struct corr *c, struct ht_record *r)
{
	r->flags &= ~CORR_INTERNAL;
	r->next = NULL;
	c->arena_hint = r->arena_len < CORR_ARENA_HINT_MAX ? r->arena_len : CORR_ARENA_HINT_MAX;
	c->emit(c->emit_ctx, r);
}

/* A new request record from a parsed head (h may be NULL: head unknown). */
static struct ht_record *new_request(struct corr *c, const struct corr_meta *m,
				     const struct httpp_head *h, uint64_t ts_ns, uint32_t max_body)
{
	struct ht_record *r = ht_record_new();
	const char *q;
	size_t path_len;
	struct ht_kv *host;

	if (!r)
		return NULL;
	put_meta(r, m, c);
	set_time(c, r, ts_ns);
	if (!h)
		return r;
	/* the whole exchange, if it is like the connection's last one (not
	 * for requests queued behind others: pipelining may queue many) */
	reserve_message(r, h, max_body, c->n_pending ? 0 : c->arena_hint);
	r->version_minor = h->version_minor;
	q = memchr(h->target.p, '?', h->target.len);
	path_len = q ? (size_t)(q - h->target.p) : h->target.len;
	ht_record_set(r, &r->method, h->method.p, h->method.len);
	ht_record_set(r, &r->target, h->target.p, h->target.len);
	r->path = r->target;
	r->path.len = (uint32_t)path_len;
	copy_headers(r, &r->req_headers, h);
	host = ht_record_find_header(r, &r->req_headers, "host");
	if (host)
		r->host = host->value;
	if (slice_is(h->method, "HEAD"))
		r->flags |= CORR_PEER_HEAD;
	else if (slice_is(h->method, "CONNECT"))
		r->flags |= CORR_PEER_CONNECT;
	return r;
}

/* Take the oldest queued request off the queue; the requests dropped
 * right after it are now owed the next responses. */
static struct ht_record *dequeue(struct corr *c)
{
	struct ht_record *r = c->head;

	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	c->n_pending--;
	c->owed += r->skip_after;
	r->skip_after = 0;
	return r;
}

static void enqueue(struct corr *c, struct ht_record *r)
{
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	c->n_pending++;
}

/*
 * Past max_pending queued requests a new request is not kept, but its place
 * in the order is: the queue's tail counts the requests dropped after it
 * (skip_after), and the responses that answer them become no_request + gap
 * records (owed) instead of pairing with a later request.  The framing of
 * those responses assumes a normal request, so a HEAD or CONNECT (whose
 * response framing differs) is still queued, up to twice max_pending; past
 * that the connection gives up pairing (desynced): the requests queued so
 * far still get their responses, every later request is dropped (counted)
 * and every later response is no_request + gap.
 */
static void lose_oldest(struct corr *c);

static bool frames_its_response(const struct httpp_head *h)
{
	return h && (slice_is(h->method, "HEAD") || slice_is(h->method, "CONNECT"));
}

/* Drop the request at the head of the queue's order; false: queue it. */
static bool drop_request(struct corr *c, const struct corr_limits *lim, const struct httpp_head *h)
{
	if (c->n_pending < lim->max_pending && !c->desynced)
		return false;
	if (!c->desynced && frames_its_response(h)) {
		if (c->n_pending < 2 * lim->max_pending)
			return false;
		c->desynced = true;
	}
	c->dropped++;
	if (c->tail)
		c->tail->skip_after++;
	else
		c->owed++;
	return true;
}

/* Give r its anchor, then queue it for a response, unless the connection
 * pairs no more or r was read before a response already made an orphan
 * (which may well have been r's own): then r is kept, flagged, and never
 * queued. */
static void admit(struct corr *c, struct ht_record *r, uint64_t anchor)
{
	if (anchor != UINT64_MAX) {
		r->anchor_pos = anchor;
		r->flags |= CORR_ANCHORED;
	}
	if (c->unpaired || ((r->flags & CORR_ANCHORED) && c->orphaned && anchor <= c->orphan_pos)) {
		r->flags |= HT_RF_INCOMPLETE | HT_RF_GAP | CORR_RESP_DONE;
		return;
	}
	enqueue(c, r);
}

int corr_req_head(struct corr *c, const struct corr_meta *m, const struct corr_limits *lim,
		  const struct httpp_head *h, uint64_t ts_ns, uint64_t anchor)
{
	struct ht_record *r;

	c->req_cur = NULL;
	if (drop_request(c, lim, h))
		return -1;
	r = new_request(c, m, h, ts_ns, lim->max_body_bytes);
	if (!r)
		return -1;
	c->req_cur = r;
	admit(c, r, anchor);
	return 0;
}

/* Pipelining and a loss that cannot be told apart: no response of this
 * connection can be proven to answer a given request any more. */
static void give_up_pairing(struct corr *c)
{
	c->unpaired = true;
	while (c->head)
		lose_oldest(c);
	c->orphan_next = true;
}

static void body_append(struct ht_record *r, struct ht_str *body, uint64_t *size, uint32_t trunc_flag,
			uint32_t max, const uint8_t *p, size_t n)
{
	uint32_t cut = trunc_flag == HT_RF_REQ_BODY_TRUNCATED ? CORR_REQ_CUT : CORR_RESP_CUT;
	size_t room = body->len < max && !(r->flags & cut) ? max - body->len : 0;

	*size += n;
	if (n > room) {
		r->flags |= trunc_flag;
		n = room;
	}
	if (n && ht_record_body_append(r, body, p, n))
		r->flags |= trunc_flag;
}

void corr_req_body(struct corr *c, const struct corr_limits *lim, const uint8_t *p, size_t n)
{
	struct ht_record *r = c->req_cur;

	if (r)
		body_append(r, &r->req_body, &r->req_body_size, HT_RF_REQ_BODY_TRUNCATED,
			    lim->max_body_bytes, p, n);
}

void corr_req_end(struct corr *c, const struct httpp_event *ev)
{
	struct ht_record *r = c->req_cur;

	if (!r)
		return;
	r->req_body_size = ev->body_size;
	if (ev->msg_flags & HTTPP_MF_GAP)
		r->flags |= HT_RF_GAP;
	if (ev->msg_flags & HTTPP_MF_HEADER_TRUNC)
		r->flags |= HT_RF_HEADER_TRUNCATED;
	r->flags |= CORR_REQ_DONE;
	c->req_cur = NULL;
	if (r->flags & CORR_RESP_DONE) /* its response was parsed first */
		emit(c, r);
}

void corr_req_error(struct corr *c, const struct corr_meta *m, const struct httpp_head *h,
		    uint64_t ts_ns, uint64_t anchor, uint32_t why)
{
	struct ht_record *r = c->req_cur;

	c->req_cur = NULL;
	if (r) {
		r->flags |= why | CORR_REQ_DONE;
		if (r->flags & CORR_RESP_DONE)
			emit(c, r);
		return;
	}
	/* a placeholder, with the head when the error was found in one */
	r = new_request(c, m, h, ts_ns, 0);
	if (!r)
		return;
	r->flags |= why | CORR_REQ_DONE;
	admit(c, r, anchor);
	if (r->flags & CORR_RESP_DONE)
		emit(c, r);
}

enum httpp_peer corr_next_peer(const struct corr *c)
{
	const struct ht_record *r = c->answering ? c->answering : c->head;

	if (!r)
		return HTTPP_PEER_NORMAL;
	if (r->flags & CORR_PEER_HEAD)
		return HTTPP_PEER_HEAD;
	if (r->flags & CORR_PEER_CONNECT)
		return HTTPP_PEER_CONNECT;
	return HTTPP_PEER_NORMAL;
}

bool corr_expects_response(const struct corr *c)
{
	return c->head != NULL;
}

uint64_t corr_oldest_ts(const struct corr *c)
{
	return c->head ? c->head->mono_first_ns : UINT64_MAX;
}

void corr_expect_orphan(struct corr *c)
{
	c->orphan_next = true;
}

int corr_may_answer(const struct corr *c, uint64_t pos)
{
	if (!c->head)
		return 0;
	if (!(c->head->flags & CORR_ANCHORED))
		return -1;
	return c->head->anchor_pos <= pos;
}

void corr_note_response_start(struct corr *c, uint64_t pos)
{
	const struct ht_record *r = c->head;

	if (r && (!(r->flags & CORR_ANCHORED) || r->anchor_pos != pos))
		c->sequential = false;
}

/* May r, read exactly where the response at hand starts, answer it while
 * request bytes are missing (corr.req_hole)?  Yes if it began before them;
 * else only if an orphan (or a response hole) came first, for the requests
 * they hid, and nothing suggests one was read with r. */
static bool hole_lets_pair(const struct corr *c, const struct ht_record *r)
{
	if (!c->req_hole || (r->flags & CORR_PRE_HOLE))
		return true;
	return c->req_hole_orphans && !(r->flags & CORR_SHARED) && c->sequential;
}

/* Request r, read during a run of holes, was paired.  If it began after the
 * latest hole, the run is accounted for; if before, the requests that hole
 * hid come after r, and so do their responses: orphans seen so far were
 * not theirs. */
static void req_hole_paired(struct corr *c, const struct ht_record *r)
{
	if (r->flags & CORR_BEFORE_LAST) {
		c->req_hole_orphans = 0;
		return;
	}
	c->req_hole = false;
}

/* Emit the oldest queued request as incomplete + gap: its response was lost. */
static void lose_oldest(struct corr *c)
{
	struct ht_record *r = dequeue(c);

	r->flags |= HT_RF_INCOMPLETE | HT_RF_GAP;
	if (r == c->req_cur) {
		r->flags |= CORR_RESP_DONE; /* goes out when its body ends */
		return;
	}
	emit(c, r);
}

/* Queued requests read at or before pos (anchors never decrease along the
 * queue); *exact: the last of them was read exactly at pos, after the one
 * before it.  *tie: two of them were read at the same response position,
 * so the later one was read before any byte of the earlier one's response
 * was written: the client pipelines.  -1 if one of them has no anchor. */
static int read_before(const struct corr *c, uint64_t pos, bool *exact, bool *tie)
{
	const struct ht_record *r, *prev = NULL;
	int n = 0;

	*exact = *tie = false;
	for (r = c->head; r && (!(r->flags & CORR_ANCHORED) || r->anchor_pos <= pos); r = r->next) {
		if (!(r->flags & CORR_ANCHORED))
			return -1;
		*exact = r->anchor_pos == pos && (!prev || prev->anchor_pos < pos);
		*tie |= prev && prev->anchor_pos == r->anchor_pos;
		prev = r;
		n++;
	}
	return n;
}

bool corr_hole_settled(const struct corr *c, uint64_t pos)
{
	bool exact, tie;

	if (read_before(c, pos, &exact, &tie) < 0 || tie || !c->sequential)
		return true;
	for (const struct ht_record *r = c->head; r; r = r->next)
		if ((r->flags & CORR_ANCHORED) && r->anchor_pos >= pos)
			return true;
	return false;
}

uint32_t corr_after_response_hole(struct corr *c, uint64_t pos)
{
	bool exact, tie;
	int n = read_before(c, pos, &exact, &tie);
	uint32_t lost = 0;

	/* the responses of requests lost before may have been in this hole:
	 * as good as an orphan for corr_after_request_hole */
	c->req_hole_orphans++;

	if (n < 0) { /* no anchors: nothing queued can be proven answered */
		while (c->head) {
			lose_oldest(c);
			lost++;
		}
		c->orphan_next = true;
		return lost;
	}
	if (tie)
		c->sequential = false; /* proof of pipelining, even before any response */
	/* Decided afresh for this response start: an orphan decided for an
	 * earlier start whose bytes held no head (they were a body's middle)
	 * must not make this one unpaired, leaving its request queued for the
	 * next response. */
	if (exact) {
		const struct ht_record *r = c->head;

		for (int i = 1; i < n; i++)
			r = r->next;
		exact = c->sequential && hole_lets_pair(c, r);
		if (exact && c->req_hole && !(r->flags & CORR_PRE_HOLE))
			req_hole_paired(c, r);
	}
	c->orphan_next = !exact;
	for (int i = 0; i < n - (exact ? 1 : 0); i++, lost++)
		lose_oldest(c);
	if (!c->sequential) /* the lost ones' responses may still be to come */
		give_up_pairing(c);
	return lost;
}

void corr_note_orphan_at(struct corr *c, uint64_t pos)
{
	c->orphaned = true;
	c->orphan_pos = pos;
}

void corr_req_shares_window(struct corr *c)
{
	if (c->req_cur)
		c->req_cur->flags |= CORR_SHARED;
	/* bytes before this head were read with it, before any response to
	 * them was written: the client pipelines */
	c->sequential = false;
}

/* Set flag on every request known now: those queued and the one whose
 * head or body is being parsed. */
static void mark_known(struct corr *c, uint32_t flag)
{
	for (struct ht_record *r = c->head; r; r = r->next)
		r->flags |= flag;
	if (c->req_cur)
		c->req_cur->flags |= flag;
}

/* Mark the requests known now as older than this hole: all of them as
 * older than the latest, and, on the first hole of a run (corr.req_hole),
 * as older than every hole of it (an earlier hole may hide requests older
 * than those queued since). */
static void mark_before_hole(struct corr *c)
{
	mark_known(c, CORR_BEFORE_LAST | (c->req_hole ? 0 : CORR_PRE_HOLE));
}

void corr_window_hidden(struct corr *c, uint64_t anchor)
{
	for (struct ht_record *r = c->head; r; r = r->next)
		if ((r->flags & CORR_ANCHORED) && r->anchor_pos == anchor)
			r->flags |= CORR_SHARED;
}

void corr_note_request_hole(struct corr *c)
{
	mark_before_hole(c);
	c->req_hole = true;
	c->req_hole_orphans = 0;
}

void corr_note_request_skip(struct corr *c)
{
	mark_before_hole(c);
	if (c->req_hole)
		return; /* a lost hole's stricter rule stands */
	c->req_hole = true;
	c->req_hole_orphans = 1;
}

bool corr_after_request_hole(struct corr *c, uint64_t pos)
{
	const struct ht_record *h = c->head;
	uint64_t a;

	if (!h || (h->flags & CORR_PRE_HOLE))
		return false;
	if (!(h->flags & CORR_ANCHORED)) {
		/* its anchor was forgotten (a head in more events than the
		 * marks hold): the requests the hole hid may be older, and
		 * timestamps cannot tell */
		lose_oldest(c);
		c->orphan_next = true;
		return true;
	}
	a = h->anchor_pos;
	if (a > pos) {
		c->orphan_next = true;
		c->req_hole_orphans++;
		return true;
	}
	if (a == pos && hole_lets_pair(c, h)) {
		req_hole_paired(c, h);
		c->orphan_next = false;
		return true;
	}
	while (c->head && (c->head->flags & CORR_ANCHORED) && c->head->anchor_pos == a)
		lose_oldest(c);
	c->orphan_next = true;
	if (a < pos) /* read before a response that is not its own began: pipelined */
		c->sequential = false;
	if (!c->sequential)
		give_up_pairing(c);
	return true;
}

void corr_orphan_skipped(struct corr *c)
{
	c->orphan_next = false;
}

int corr_resp_head(struct corr *c, const struct corr_meta *m, const struct corr_limits *lim,
		   const struct httpp_head *h, uint64_t ts_ns)
{
	struct ht_record *r;

	c->resp_interim = h->status >= 100 && h->status < 200 && h->status != 101;
	if (c->resp_interim)
		return 0;
	if (c->owed) {
		/* answers a request dropped past max_pending, whatever else made
		 * it an orphan (its request was never queued, so the anchors say
		 * so too): one owed response fewer either way */
		c->owed--;
		c->orphan_next = true;
	}
	if ((c->desynced && !c->head) || c->unpaired)
		c->orphan_next = true; /* nothing queued after the desync can be paired */
	r = c->orphan_next ? NULL : c->head;
	if (!r) {
		r = ht_record_new();
		if (!r)
			return -1;
		put_meta(r, m, c);
		set_time(c, r, ts_ns);
		r->flags |= HT_RF_NO_REQUEST | (c->orphan_next ? HT_RF_GAP : 0);
		c->orphan = r;
		c->orphan_next = false;
	}
	c->answering = r;
	r->flags |= CORR_RESP_HEAD;
	r->status = h->status;
	if (!r->version_minor || h->version_minor < r->version_minor)
		r->version_minor = h->version_minor;
	reserve_message(r, h, lim->max_body_bytes, 0);
	ht_record_set(r, &r->reason, h->reason.p, h->reason.len);
	copy_headers(r, &r->resp_headers, h);
	return 0;
}

void corr_resp_body(struct corr *c, const struct corr_limits *lim, const uint8_t *p, size_t n)
{
	struct ht_record *r = c->answering;

	if (r && !c->resp_interim)
		body_append(r, &r->resp_body, &r->resp_body_size, HT_RF_RESP_BODY_TRUNCATED,
			    lim->max_body_bytes, p, n);
}

/* Take the answered record out of the queue (it is the oldest). */
static struct ht_record *take_answered(struct corr *c)
{
	struct ht_record *r = c->answering;

	c->answering = NULL;
	if (r == c->orphan) {
		c->orphan = NULL;
		return r;
	}
	if (r != c->head) /* cannot happen: answering is always the head */
		return NULL;
	return dequeue(c);
}

bool corr_resp_end(struct corr *c, const struct httpp_event *ev, uint64_t ts_last_ns)
{
	struct ht_record *r;
	bool tunnel;

	if (c->resp_interim) {
		c->resp_interim = false;
		return false;
	}
	r = take_answered(c);
	if (!r)
		return false;
	r->resp_body_size = ev->body_size;
	if (ev->msg_flags & HTTPP_MF_GAP)
		r->flags |= HT_RF_GAP;
	if (ev->msg_flags & HTTPP_MF_HEADER_TRUNC)
		r->flags |= HT_RF_HEADER_TRUNCATED;
	r->latency_ns = ts_last_ns > r->mono_first_ns ? ts_last_ns - r->mono_first_ns : 0;
	tunnel = r->status == 101 ||
		 ((r->flags & CORR_PEER_CONNECT) && r->status >= 200 && r->status < 300);
	if (tunnel) {
		r->flags |= HT_RF_UPGRADE;
		c->tunnel = true;
	}
	if (r == c->req_cur) {
		/* The response was parsed before the end of the request body (the
		 * rings delivered it first, or the server answered early): the
		 * record goes out when the request ends, at close at the latest. */
		r->flags |= CORR_RESP_DONE;
		return tunnel;
	}
	emit(c, r);
	return tunnel;
}

void corr_resp_error(struct corr *c, uint64_t ts_ns, uint32_t why)
{
	struct ht_record *r;

	if (c->resp_interim) {
		c->resp_interim = false;
		return;
	}
	if (!c->answering) /* a broken head answers the oldest request */
		c->answering = c->head;
	if (!c->answering)
		return;
	c->answering->flags |= why | HT_RF_INCOMPLETE;
	r = take_answered(c);
	if (!r)
		return;
	r->latency_ns = ts_ns > r->mono_first_ns ? ts_ns - r->mono_first_ns : 0;
	if (r == c->req_cur) {
		r->flags |= CORR_RESP_DONE;
		return;
	}
	emit(c, r);
}

void corr_flag_req(struct corr *c, uint32_t flags)
{
	if (c->req_cur)
		c->req_cur->flags |= flags | (flags & HT_RF_GAP ? CORR_REQ_CUT : 0);
}

void corr_flag_resp(struct corr *c, uint32_t flags)
{
	if (c->answering)
		c->answering->flags |= flags | (flags & HT_RF_GAP ? CORR_RESP_CUT : 0);
}

void corr_flush(struct corr *c, uint64_t ts_ns)
{
	/* a request answered before its body ended is no longer in the queue */
	struct ht_record *detached = c->req_cur && (c->req_cur->flags & CORR_RESP_DONE) ?
				     c->req_cur : NULL;
	struct ht_record *r;

	if (c->answering)
		c->answering->flags |= HT_RF_INCOMPLETE;
	if (c->orphan) {
		r = c->orphan;
		c->orphan = NULL;
		c->answering = NULL;
		emit(c, r);
	}
	while (c->head) {
		r = dequeue(c);
		r->flags |= HT_RF_INCOMPLETE;
		if (ts_ns > r->mono_first_ns && r->status)
			r->latency_ns = ts_ns - r->mono_first_ns;
		emit(c, r);
	}
	c->tail = c->req_cur = c->answering = NULL;
	c->owed = 0;
	if (detached) { /* answered, but its body never ended */
		detached->flags |= HT_RF_INCOMPLETE;
		emit(c, detached);
	}
}
