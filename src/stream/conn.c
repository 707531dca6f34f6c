/* conn.c - drives one connection's reassemblers, parsers and correlator. */
#include "conn.h"

#include <string.h>

#include "base/stats.h"

static inline int other(int d)
{
	return d ^ 1;
}

static void setup_parsers(struct conn *c, int req_dir, const struct conn_limits *lim, bool midstream)
{
	void (*init)(struct httpp *, enum httpp_kind, const struct httpp_limits *) =
		midstream ? httpp_init_midstream : httpp_init;

	c->req_dir = (int8_t)req_dir;
	init(&c->pp[req_dir], HTTPP_REQUEST, &lim->httpp);
	init(&c->pp[other(req_dir)], HTTPP_RESPONSE, &lim->httpp);
	/* a message found by a resync begins in a call of its own: a response
	 * is judged at its own start, a request's skipped bytes are seen */
	c->pp[other(req_dir)].pause_at_begin = true;
	c->pp[req_dir].pause_at_begin = true;
	if (c->meta.role == HT_ROLE_UNKNOWN)
		c->meta.role = req_dir == HT_DIR_INGRESS ? HT_ROLE_SERVER : HT_ROLE_CLIENT;
}

void conn_init(struct conn *c, const struct ht_conn_id *id, uint64_t hash, uint8_t role,
	       corr_emit_fn emit, void *emit_ctx, uint64_t wall_offset_ns,
	       const struct conn_limits *lim)
{
	memset(c, 0, sizeof(*c));
	c->id = *id;
	c->hash = hash;
	c->meta.role = role;
	c->meta.pid = id->tgid;
	c->meta.conn_hash = hash;
	reasm_init(&c->rs[0], &lim->reasm);
	reasm_init(&c->rs[1], &lim->reasm);
	corr_init(&c->corr, emit, emit_ctx, wall_offset_ns);
	c->req_dir = -1;
	if (role == HT_ROLE_SERVER)
		setup_parsers(c, HT_DIR_INGRESS, lim, false);
	else if (role == HT_ROLE_CLIENT)
		setup_parsers(c, HT_DIR_EGRESS, lim, false);
}

void conn_free(struct conn *c)
{
	reasm_free(&c->rs[0]);
	reasm_free(&c->rs[1]);
	corr_free(&c->corr);
}

/*
 * The kernel's OPEN event carries the socket's own skc_family, i.e. AF_INET
 * or AF_INET6 already (bpf/maps.h spells them HT_AF_INET 2 / HT_AF_INET6 10
 * since BPF code cannot include <sys/socket.h>): copied as is, no 4/6
 * mapping anywhere.  Any other value (a corrupt or foreign record file) is
 * family 0, which prints "" and matches no excludeIPs rule.
 */
_Static_assert(AF_INET == 2 && AF_INET6 == 10, "ht_open_ev.family is the kernel's AF_*");

static void set_addr(struct ht_addr *dst, uint16_t family, const uint8_t *a)
{
	memset(dst, 0, sizeof(*dst));
	if (family == AF_INET) {
		memcpy(dst->bytes, a, 4); /* the rest stays zero */
	} else if (family == AF_INET6) {
		memcpy(dst->bytes, a, 16);
	} else {
		return;
	}
	dst->family = (uint8_t)family;
}

/* The kernel found the connection mid-stream: parse both directions from
 * the next message start, unless parsing has already begun. */
static void set_midstream(struct conn *c, const struct conn_limits *lim)
{
	if (c->midstream)
		return;
	c->midstream = true;
	if (c->req_dir >= 0 && c->rs[0].cursor == 0 && c->rs[1].cursor == 0)
		setup_parsers(c, c->req_dir, lim, true);
}

void conn_on_open(struct conn *c, const struct ht_open_ev *ev, const struct conn_limits *lim)
{
	struct corr_meta *m = &c->meta;

	m->local_port = ev->lport;
	m->remote_port = ev->rport;
	set_addr(&m->local, ev->family, ev->laddr);
	set_addr(&m->remote, ev->family, ev->raddr);
	if (m->role == HT_ROLE_UNKNOWN && ev->hdr.role != HT_ROLE_UNKNOWN && c->req_dir < 0)
		m->role = ev->hdr.role;
	if (!m->tid) {
		m->tid = ev->tid;
		memcpy(m->comm, ev->comm, sizeof(m->comm));
		m->comm[sizeof(m->comm) - 1] = '\0';
	}
	c->have_open = true;
	if (ev->hdr.flags & (HT_OF_INFERRED | HT_OF_RESUMED))
		set_midstream(c, lim);
}

/* Role unknown: the first bytes say which direction carries requests. */
static void infer_direction(struct conn *c, int d, const struct conn_limits *lim)
{
	struct reasm_view v;

	reasm_peek(&c->rs[d], &v);
	if (v.kind != REASM_DATA || v.len < 5)
		return;
	if (memcmp(v.data, "HTTP/", 5) == 0)
		setup_parsers(c, other(d), lim, true);
	else if (v.data[0] >= 'A' && v.data[0] <= 'Z')
		setup_parsers(c, d, lim, true);
}

/* Timestamp of the last byte consumed in a direction. */
static inline uint64_t ts_last(const struct reasm *rs)
{
	return reasm_ts_at(rs, rs->cursor ? rs->cursor - 1 : 0);
}

static void mark_push(struct conn *c, int d, const struct ht_data_ev *ev)
{
	struct conn_mark *m = &c->marks[d][(c->next_mark[d] + CONN_MARKS - 1) % CONN_MARKS];

	if (c->n_marks[d] && m->end == ev->pos && m->peer == ev->peer_pos) {
		/* contiguous with the same peer: one mark answers for both, so
		 * a head read in many small pieces keeps its anchor */
		m->end = ev->pos + ev->len;
		return;
	}
	m = &c->marks[d][c->next_mark[d]];
	m->pos = ev->pos;
	m->end = ev->pos + ev->len;
	m->peer = ev->peer_pos;
	c->next_mark[d] = (uint8_t)((c->next_mark[d] + 1) % CONN_MARKS);
	if (c->n_marks[d] < CONN_MARKS)
		c->n_marks[d]++;
}

/* The other direction's position when byte pos of direction d moved;
 * UINT64_MAX if its event is no longer remembered. */
static uint64_t anchor_at(const struct conn *c, int d, uint64_t pos)
{
	for (int i = 0; i < c->n_marks[d]; i++) {
		const struct conn_mark *m = &c->marks[d][i];

		if (m->pos <= pos && pos < m->end)
			return m->peer;
	}
	return UINT64_MAX;
}

/* Did bytes of the request stream after the last request that ended, and
 * before this head at pos, move in the same window (with the same peer
 * position) as this head's?  Then another request was read with it, which
 * a later hole may hide. */
static bool window_shared(const struct conn *c, int d, uint64_t pos, uint64_t anchor)
{
	for (int i = 0; i < c->n_marks[d]; i++) {
		const struct conn_mark *m = &c->marks[d][i];

		if (m->peer == anchor && m->pos < pos && m->end > c->req_end)
			return true;
	}
	return false;
}

static void request_head(struct conn *c, int d, const struct httpp_event *ev, uint64_t pos,
			 const struct conn_limits *lim)
{
	uint64_t anchor = anchor_at(c, d, pos);

	if (corr_req_head(&c->corr, &c->meta, &lim->corr, ev->head, reasm_ts_at(&c->rs[d], pos),
			  anchor) == 0 &&
	    anchor != UINT64_MAX && window_shared(c, d, pos, anchor))
		corr_req_shares_window(&c->corr);
}

static void handle(struct conn *c, int d, const struct httpp_event *ev, uint64_t msg_pos,
		   const struct conn_limits *lim, struct ht_stats *st)
{
	bool is_req = d == c->req_dir;
	struct reasm *rs = &c->rs[d];

	switch (ev->type) {
	case HTTPP_EV_HEAD:
		c->req_seen |= is_req;
		if (is_req)
			request_head(c, d, ev, msg_pos, lim);
		else
			corr_resp_head(&c->corr, &c->meta, &lim->corr, ev->head, reasm_ts_at(rs, msg_pos));
		break;
	case HTTPP_EV_BODY:
		if (is_req)
			corr_req_body(&c->corr, &lim->corr, ev->data, ev->len);
		else
			corr_resp_body(&c->corr, &lim->corr, ev->data, ev->len);
		break;
	case HTTPP_EV_END:
		if (is_req) {
			corr_req_end(&c->corr, ev);
			c->req_end = rs->cursor;
			break;
		}
		if (!c->corr.resp_interim)
			c->resp_open = false; /* the final response: the sequence ends */
		if (corr_resp_end(&c->corr, ev, ts_last(rs))) {
			c->tunnel = true;
			httpp_tunnel(&c->pp[c->req_dir]);
		} else if (httpp_is_holding(&c->pp[c->req_dir]) && !c->corr.resp_interim) {
			httpp_resume(&c->pp[c->req_dir]);
		}
		break;
	case HTTPP_EV_ERROR: {
		uint32_t why = ev->err == HTTPP_ERR_EOF ? HT_RF_INCOMPLETE :
			       ev->err == HTTPP_ERR_GAP ? HT_RF_GAP : HT_RF_FRAMING_ERROR;

		if (ev->err < HT_PARSE_ERR_SLOTS)
			ht_stat_add(&st->parse_err[ev->err], 1);
		if (is_req) {
			corr_req_error(&c->corr, &c->meta, ev->head, reasm_ts_at(rs, msg_pos),
				       anchor_at(c, d, msg_pos), why);
		} else {
			c->resp_open = false;
			corr_resp_error(&c->corr, ts_last(rs), why);
		}
		break;
	}
	case HTTPP_EV_NONE:
		break;
	}
}

/* The shortest request HTTP/1.x allows, "A / HTTP/1.1\r\n\r\n": a request
 * hole shorter than this cannot have held a whole request (one it held in
 * part leaves bytes that the parser's resync skips, noted as such). */
#define CONN_MIN_REQUEST 16

static void skip_cut_head(struct conn *c, int d, uint64_t kept, uint64_t hole,
			  const struct conn_limits *lim, struct ht_stats *st)
{
	struct reasm *rs = &c->rs[d];
	uint64_t pos = rs->cursor;
	struct httpp_event ev;

	HT_ADD(st, HT_C_BYTES_LOST, hole);
	if (d != c->req_dir) {
		/* the response the correlator opened here is gone, even when the
		 * parser had not started its head (no ERROR event follows) */
		c->resp_hole = true;
		c->resp_open = false;
	}
	httpp_gap(&c->pp[d], kept + hole, &ev);
	reasm_consume(rs, kept);
	reasm_consume(rs, hole);
	handle(c, d, &ev, pos, lim, st);
	/* whole requests may have been in the hole: the cut one, when no
	 * placeholder stands for it, and any that followed it */
	if (d == c->req_dir && (ev.type != HTTPP_EV_ERROR || hole >= CONN_MIN_REQUEST))
		corr_note_request_hole(&c->corr);
}

/* A response sequence starts at pos: pair it (unless it was made an orphan). */
static bool start_response(struct conn *c, uint64_t pos)
{
	if (!c->corr.orphan_next)
		corr_note_response_start(&c->corr, pos);
	else
		corr_note_orphan_at(&c->corr, pos);
	c->resp_open = true;
	c->resp_hole = false;
	return true;
}

/*
 * May the response at the cursor be parsed now, and what does it answer?
 * It answers the oldest queued request only if that request was read
 * before the response was written (its anchor, the response stream's
 * position when the request's first byte was read, is <= the response's
 * start; without anchors, its first byte came earlier by the kernel's
 * clock).  One that started earlier answers a request whose bytes are still
 * in another ring (wait) or were lost (then it is a no_request record
 * flagged gap).  After lost response bytes, corr_after_response_hole()
 * settles which requests lost their response.  With no request queued it
 * waits until forced.
 */
static bool response_may_start(struct conn *c, const struct reasm_view *v, bool force)
{
	bool req_waiting = reasm_waiting(&c->rs[c->req_dir]);
	int fit;

	if (c->resp_open)
		return true; /* the final response after a 1xx answers the same request */
	if (!corr_expects_response(&c->corr)) {
		/* No request queued: it may still be in another CPU's ring,
		 * however large the response is already, so wait.  What ends
		 * the wait: the request arriving, a later request (then this
		 * response is an orphan), or the close / idle drain (force).
		 * Memory stays bounded by the reassembler's cap. */
		if (!force)
			return false;
		/* mid-stream with no request seen yet: its request came
		 * before the first byte seen */
		if (c->resp_hole || (c->midstream && !c->req_seen))
			corr_expect_orphan(&c->corr);
		return start_response(c, v->pos);
	}
	if (c->resp_hole) {
		if ((req_waiting || !corr_hole_settled(&c->corr, v->pos)) && !force)
			return false; /* settle only once every request read is here */
		corr_after_response_hole(&c->corr, v->pos);
		return start_response(c, v->pos);
	}
	if (c->corr.req_hole && corr_after_request_hole(&c->corr, v->pos))
		return start_response(c, v->pos); /* decided: paired, or an orphan */
	fit = corr_may_answer(&c->corr, v->pos);
	if (fit < 0)
		fit = corr_oldest_ts(&c->corr) <= reasm_ts_at(&c->rs[other(c->req_dir)], v->pos);
	if (fit) {
		c->corr.orphan_next = false; /* as above: never a stale decision */
		return start_response(c, v->pos);
	}
	if (req_waiting && !force)
		return false;
	corr_expect_orphan(&c->corr);
	return start_response(c, v->pos);
}

/* Did the parser take a hole inside the message it was parsing (a body of
 * known length), so that no other message can have been in it? */
static bool hole_absorbed(const struct httpp *p, bool in_msg, const struct httpp_event *ev)
{
	if (!in_msg)
		return false;
	return httpp_in_message(p) || (ev->type == HTTPP_EV_END && !httpp_resyncing(p));
}

/* The bytes at the cursor of direction d are a hole: the message in
 * progress, if any, is flagged gap. */
static void skip_hole(struct conn *c, int d, const struct reasm_view *v,
		      const struct conn_limits *lim, struct ht_stats *st)
{
	struct httpp *p = &c->pp[d];
	bool in_msg = httpp_in_message(p);
	struct httpp_event ev;

	bool whole;

	HT_ADD(st, HT_C_BYTES_LOST, v->len);
	httpp_gap(p, v->len, &ev);
	reasm_consume(&c->rs[d], v->len);
	whole = !hole_absorbed(p, in_msg, &ev); /* whole messages may have been in it */
	if (whole && d != c->req_dir) {
		c->resp_hole = true;
		c->resp_open = false;
	}
	if (in_msg) {
		if (d == c->req_dir)
			corr_flag_req(&c->corr, HT_RF_GAP);
		else
			corr_flag_resp(&c->corr, HT_RF_GAP);
	}
	handle(c, d, &ev, v->pos, lim, st);
	if (whole && d == c->req_dir && v->len >= CONN_MIN_REQUEST)
		corr_note_request_hole(&c->corr); /* after the placeholder handle() may queue */
}

/* Stream position of the message a HEAD event starts: after a resync the
 * parser may have skipped bytes of the view first, so a request head is
 * placed by its method's first byte (it points into the view). */
static uint64_t head_pos(const struct reasm_view *v, const struct httpp_event *ev)
{
	const uint8_t *m;

	if (ev->type != HTTPP_EV_HEAD || !ev->head || !ev->head->is_request)
		return v->pos;
	m = (const uint8_t *)ev->head->method.p;
	if (m < v->data || m >= v->data + v->len)
		return v->pos;
	return v->pos + (uint64_t)(m - v->data);
}

/* The parser, between messages, consumed bytes of the view v: did its
 * resync skip some (they may hide whole messages)?  A message found after
 * skipped bytes begins in the next call (pause_at_begin), so a request
 * head is queued after its skip was noted and the skip's rules apply to it. */
static void note_resync_skip(struct conn *c, bool is_req, const struct reasm_view *v,
			     const struct httpp_event *ev)
{
	const struct httpp *p = &c->pp[is_req ? c->req_dir : other(c->req_dir)];

	if (is_req) {
		if (ev->type == HTTPP_EV_NONE && !httpp_in_message(p))
			corr_note_request_skip(&c->corr);
		return;
	}
	if (ev->type == HTTPP_EV_NONE && !httpp_in_message(p)) {
		/* no response began where it was judged */
		corr_orphan_skipped(&c->corr);
		c->resp_open = false;
		c->resp_hole = true;
	}
}

/* Parse what is contiguous in direction d. Returns true if anything moved. */
static bool pump(struct conn *c, int d, const struct conn_limits *lim, struct ht_stats *st,
		 bool force)
{
	struct reasm *rs = &c->rs[d];
	struct httpp *p = &c->pp[d];
	bool is_req = d == c->req_dir;
	bool moved = false;
	struct reasm_view v;
	struct httpp_event ev;

	for (;;) {
		reasm_peek(rs, &v);
		if (v.kind == REASM_EMPTY) {
			if (!httpp_has_pending(p))
				break;
			/* an END owed after the last body byte or a body-less head */
			v.kind = REASM_DATA;
			v.data = (const uint8_t *)"";
			v.pos = rs->cursor;
			v.len = 0;
		}
		if (v.kind != REASM_DATA) {
			skip_hole(c, d, &v, lim, st);
			moved = true;
			continue;
		}
		if (!is_req && !c->tunnel && !httpp_in_message(p) && !response_may_start(c, &v, force))
			break; /* wait for the request: it may still be in another ring */
		if (!is_req)
			httpp_set_peer(p, corr_next_peer(&c->corr));
		bool was_in_msg = httpp_in_message(p);
		size_t n = httpp_parse(p, v.data, v.len, &ev);

		if (n > v.len)
			n = v.len; /* defensive: the parser never over-consumes */
		if (!was_in_msg && n)
			note_resync_skip(c, is_req, &v, &ev);
		if (ev.type == HTTPP_EV_END) {
			/* END needs the timestamp of its last byte: consume first */
			reasm_consume(rs, n);
			handle(c, d, &ev, v.pos, lim, st);
		} else {
			/* head slices and body bytes point into the buffer: use them first */
			handle(c, d, &ev, head_pos(&v, &ev), lim, st);
			reasm_consume(rs, n);
		}
		if (n == 0 && ev.type == HTTPP_EV_NONE) {
			uint64_t hole;

			if (!reasm_hole_follows(rs, &hole))
				break;
			/* a hole cuts the head the parser is waiting on: drop both */
			skip_cut_head(c, d, v.len, hole, lim, st);
		}
		moved = true;
	}
	return moved;
}

static void pump_all(struct conn *c, const struct conn_limits *lim, struct ht_stats *st, bool force)
{
	bool moved;

	if (c->req_dir < 0) {
		infer_direction(c, HT_DIR_EGRESS, lim);
		if (c->req_dir < 0)
			infer_direction(c, HT_DIR_INGRESS, lim);
		if (c->req_dir < 0)
			return;
	}
	do {
		moved = pump(c, c->req_dir, lim, st, force);
		moved |= pump(c, other(c->req_dir), lim, st, force);
	} while (moved);
}

static void account_evictions(struct conn *c, struct ht_stats *st, uint64_t before)
{
	uint64_t after = c->rs[0].evicted_bytes + c->rs[1].evicted_bytes;

	if (after > before)
		HT_ADD(st, HT_C_DROP_CONN_BUFFER, after - before);
}

void conn_on_data(struct conn *c, const struct ht_data_ev *ev, const struct conn_limits *lim,
		  struct ht_stats *st)
{
	int d = ev->hdr.dir & 1;
	struct reasm *rs = &c->rs[d];
	uint64_t ev_before = c->rs[0].evicted_bytes + c->rs[1].evicted_bytes;

	if (!c->meta.tid || c->meta.tid != ev->tid) {
		c->meta.tid = ev->tid;
		memcpy(c->meta.comm, ev->comm, sizeof(c->meta.comm));
		c->meta.comm[sizeof(c->meta.comm) - 1] = '\0';
	}
	mark_push(c, d, ev);
	if (d == c->req_dir && ev->pos < rs->cursor)
		/* late bytes, already given up on: a request they held was
		 * read in the same window as those queued with this anchor */
		corr_window_hidden(&c->corr, ev->peer_pos);
	if (ev->hdr.flags & HT_DF_MIDSTREAM)
		set_midstream(c, lim);
	/* mid-stream, a message is as likely to start at a syscall as at a line */
	if (c->midstream && c->req_dir >= 0 && ev->pos == rs->cursor)
		httpp_resync_boundary(&c->pp[d]);
	if ((ev->hdr.flags & HT_DF_LOSS_BEFORE) && ev->loss_start < ev->pos)
		reasm_add_lost(rs, ev->loss_start, ev->pos - ev->loss_start, ev->hdr.ts_ns);
	/* in order with nothing held: parse the event where it lies, keep only the tail */
	if (!reasm_add_borrowed(rs, ev->pos, ev->data, ev->cap_len, ev->len, ev->hdr.ts_ns))
		reasm_add(rs, ev->pos, ev->data, ev->cap_len, ev->len, ev->hdr.ts_ns);
	pump_all(c, lim, st, false);
	reasm_settle(rs); /* ev is released after we return */
	account_evictions(c, st, ev_before);
}

void conn_on_loss(struct conn *c, const struct ht_loss_ev *ev, const struct conn_limits *lim,
		  struct ht_stats *st)
{
	uint64_t ev_before = c->rs[0].evicted_bytes + c->rs[1].evicted_bytes;

	/* a full segment table makes room by evicting: count it as data events do */
	reasm_add_lost(&c->rs[ev->hdr.dir & 1], ev->start, ev->len, ev->hdr.ts_ns);
	pump_all(c, lim, st, false);
	account_evictions(c, st, ev_before);
}

static bool dir_complete(const struct conn *c, int d)
{
	const struct reasm *rs = &c->rs[d];

	return !reasm_waiting(rs) && rs->max_seen >= c->close_pos[d];
}

bool conn_on_close(struct conn *c, const struct ht_close_ev *ev, const struct conn_limits *lim,
		   struct ht_stats *st)
{
	c->closing = true;
	c->close_pos[0] = ev->pos[0];
	c->close_pos[1] = ev->pos[1];
	return conn_close_ready(c);
}

bool conn_close_ready(const struct conn *c)
{
	return c->closing && dir_complete(c, 0) && dir_complete(c, 1);
}

static void finish_dir(struct conn *c, int d, const struct conn_limits *lim, struct ht_stats *st)
{
	struct httpp_event ev;

	httpp_finish(&c->pp[d], &ev);
	handle(c, d, &ev, c->rs[d].cursor, lim, st);
}

void conn_drain(struct conn *c, const struct conn_limits *lim, struct ht_stats *st,
		uint64_t now_ns)
{
	uint64_t ev_before = c->rs[0].evicted_bytes + c->rs[1].evicted_bytes;

	for (int d = 0; d < 2; d++) {
		uint64_t end = c->rs[d].max_seen;

		if (c->closing && c->close_pos[d] > end)
			end = c->close_pos[d];
		if (end > c->rs[d].cursor)
			reasm_flush_to(&c->rs[d], end);
	}
	pump_all(c, lim, st, true);
	account_evictions(c, st, ev_before);
	if (c->req_dir >= 0) {
		/* responses first: a close-delimited body ends here */
		finish_dir(c, other(c->req_dir), lim, st);
		finish_dir(c, c->req_dir, lim, st);
	}
	corr_flush(&c->corr, now_ns);
}

bool conn_has_waits(const struct conn *c)
{
	return reasm_waiting(&c->rs[0]) || reasm_waiting(&c->rs[1]);
}

void conn_skip_waits(struct conn *c, const struct conn_limits *lim, struct ht_stats *st)
{
	uint64_t ev_before = c->rs[0].evicted_bytes + c->rs[1].evicted_bytes;

	for (int d = 0; d < 2; d++)
		if (reasm_waiting(&c->rs[d]))
			reasm_flush_to(&c->rs[d], reasm_next_pos(&c->rs[d]));
	pump_all(c, lim, st, false);
	account_evictions(c, st, ev_before); /* a hole placed in a full table evicts */
}

size_t conn_buffered(const struct conn *c)
{
	return reasm_buffered(&c->rs[0]) + reasm_buffered(&c->rs[1]);
}
