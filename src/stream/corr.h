/*
 * corr.h - request/response correlator of one connection.
 *
 * A FIFO of requests under construction: a request is queued when its head
 * is parsed; each final response completes the oldest request that has not
 * been answered yet (pipelining); 1xx interim responses (except 101) do not
 * complete anything.  A response with no queued request becomes a
 * `no_request` record; requests still queued at close or timeout become
 * `incomplete` records.  Finished records go to the emit callback, in
 * request order.
 *
 * The correlator copies what it needs from parser events (the head slices
 * point into the reassembler's buffer and die when the bytes are consumed).
 */
#ifndef HT_CORR_H
#define HT_CORR_H

#include <stdbool.h>
#include <stdint.h>

#include "httpp.h"
#include "base/record.h"

struct corr_limits {
	uint32_t max_body_bytes;   /* maxBodySize: body bytes kept per record */
	uint32_t max_pending;      /* requests queued per connection, default 1024 */
};

/* Connection facts copied into every record. */
struct corr_meta {
	uint8_t role;
	uint16_t local_port, remote_port;
	struct ht_addr local, remote;
	uint32_t pid, tid;
	char comm[16];
	uint64_t conn_hash;        /* for sample_key */
};

typedef void (*corr_emit_fn)(void *ctx, struct ht_record *r);

struct corr {
	struct ht_record *head, *tail; /* queued requests, oldest first */
	struct ht_record *req_cur;     /* request whose head/body is being parsed */
	struct ht_record *answering;   /* request whose response is being parsed */
	struct ht_record *orphan;      /* response being parsed with no request */
	uint32_t n_pending;
	uint64_t seq;                  /* transactions started on this connection */
	uint64_t wall_offset_ns;       /* realtime - monotonic */
	corr_emit_fn emit;
	void *emit_ctx;
	bool resp_interim;             /* the response being parsed is a 1xx */
	bool orphan_next;              /* corr_expect_orphan() was called */
	bool tunnel;                   /* 101 / CONNECT: no more HTTP here */
	uint32_t dropped;              /* requests dropped past max_pending (monotonic) */
	bool orphaned;                 /* a response was made an orphan, at orphan_pos */
	uint64_t orphan_pos;           /* response-stream position of the latest orphan */
	bool unpaired;                 /* a loss on a pipelining connection: every later
					* request is incomplete + gap, every later
					* response no_request + gap */
	bool desynced;                 /* past twice max_pending with a HEAD/CONNECT
					* dropped: no more pairing on this connection */
	bool req_hole;                 /* request bytes were lost at or across a message
					* boundary: whole requests may have been in them */
	uint32_t req_hole_orphans;     /* responses made orphans since, by the anchors,
					* or response holes that may have held them */
	uint32_t owed;                 /* responses still to come for dropped requests
					* that were older than everything queued */
	bool sequential;               /* every response so far started exactly
					* where its request was read (no pipelining) */
};

void corr_init(struct corr *c, corr_emit_fn emit, void *ctx, uint64_t wall_offset_ns);
/* Free everything queued without emitting. */
void corr_free(struct corr *c);

/* Request events; ts_ns: first byte (head) / last byte (end).  anchor: the
 * response stream's position when the request's first byte moved (the
 * data event's peer_pos), or UINT64_MAX if unknown. */
int corr_req_head(struct corr *c, const struct corr_meta *m, const struct corr_limits *lim,
		  const struct httpp_head *h, uint64_t ts_ns, uint64_t anchor);
void corr_req_body(struct corr *c, const struct corr_limits *lim, const uint8_t *p, size_t n);
void corr_req_end(struct corr *c, const struct httpp_event *ev);
/* The request being parsed hit an error, a gap it could not skip, or the
 * end of the connection; why: HT_RF_FRAMING_ERROR, HT_RF_GAP or
 * HT_RF_INCOMPLETE.  If no request was being parsed, a placeholder with
 * that flag (and the head h, when the parser found the error in a complete
 * head: a smuggling attempt keeps its method and path) is queued so that
 * the server's answer (a 400, say) is not matched to the next request;
 * anchor (as for corr_req_head: where the message began) places it among
 * the responses. */
void corr_req_error(struct corr *c, const struct corr_meta *m, const struct httpp_head *h,
		    uint64_t ts_ns, uint64_t anchor, uint32_t why);

/* What the next response answers (for the response parser's framing). */
enum httpp_peer corr_next_peer(const struct corr *c);
/* True if a request is queued and not answered yet (a response may start). */
bool corr_expects_response(const struct corr *c);
/* First-byte timestamp of the oldest unanswered request (UINT64_MAX: none). */
uint64_t corr_oldest_ts(const struct corr *c);
/* The next response answers a request that was lost (it started before the
 * oldest queued request did): make it a no_request record flagged gap. */
void corr_expect_orphan(struct corr *c);
/* The bytes corr_expect_orphan() was called for began no response (a
 * resyncing parser skipped them): the next response start decides again. */
void corr_orphan_skipped(struct corr *c);

/*
 * Pairing by position.  A response that starts at response-stream position
 * pos can only answer a request that was read before it was written: one
 * whose anchor is <= pos.  corr_may_answer() says whether the oldest queued
 * request qualifies (1), does not (0: the response answers a request never
 * queued), or has no anchor (-1: fall back to timestamps).
 *
 * After bytes of the response stream were lost (a hole at or across a
 * message boundary), any number of whole responses may have been in it.
 * corr_after_response_hole() decides which queued requests lost theirs:
 * on a sequential connection (each response so far started exactly at its
 * request's anchor, and no two queued requests share an anchor, which
 * would prove pipelining) the response at pos answers the one request anchored at
 * exactly pos, and the requests before it are emitted incomplete + gap;
 * otherwise (pipelining, unknown anchors) nothing can be proven, so every
 * request anchored at or before pos is emitted incomplete + gap and the
 * response becomes no_request + gap.  Returns the number emitted.
 */
int corr_may_answer(const struct corr *c, uint64_t pos);
uint32_t corr_after_response_hole(struct corr *c, uint64_t pos);
/* Can corr_after_response_hole(pos) decide now?  On a connection taken
 * for sequential, not while no queued request was read at or after pos:
 * the one read exactly at pos may still be in another CPU's ring (the
 * caller waits, as for a response with no request queued). */
bool corr_hole_settled(const struct corr *c, uint64_t pos);
/*
 * After lost request bytes (corr_note_request_hole), the response at pos
 * answers a lost request if the oldest queued one was read after it was
 * written (anchor > pos: an orphan, counted).  It answers the oldest queued
 * one if that was read exactly at pos, an orphan (or a response hole) came
 * first (the lost requests' responses), and neither the connection nor
 * that request has shown pipelining (corr.sequential, corr_req_shares_window).  Otherwise (read at
 * pos with nothing before it, or earlier: the lost requests were read
 * together with it, pipelined; read earlier proves it: the connection is no
 * longer taken for sequential) which response is whose cannot be told: the
 * queued requests read at that anchor are emitted incomplete + gap and the
 * response is an orphan; so is the oldest queued request when its anchor
 * is unknown.  Returns true when it decided (pairing or orphan), false to
 * decide as without a hole (nothing queued, or the oldest began before the
 * hole).
 */
void corr_note_request_hole(struct corr *c);
/* The request parser skipped captured bytes (a resync): requests may be
 * among them, so pairing goes as after a hole, except that a head read at
 * the response's position needs no orphan first: bytes read in its window
 * are remembered (corr_req_shares_window would have flagged it). */
void corr_note_request_skip(struct corr *c);
/* The request just queued was read in one window with other request bytes
 * (pipelined): after a hole it is never paired by its anchor alone, and the
 * connection is no longer taken for sequential. */
void corr_req_shares_window(struct corr *c);
/* Request bytes read at response position anchor were given up on (they
 * came late): the queued requests read in that window may have had a
 * hidden one with them, and are never paired by their anchor alone. */
void corr_window_hidden(struct corr *c, uint64_t anchor);
/* The response starting at pos was made an orphan: a request queued later
 * but read before pos (anchor <= pos) may have been its request, so it is
 * emitted incomplete + gap instead of taking a later response. */
void corr_note_orphan_at(struct corr *c, uint64_t pos);
bool corr_after_request_hole(struct corr *c, uint64_t pos);
/* The response sequence (1xx..final) starting at pos was matched to the
 * oldest request: keeps `sequential` up to date. */
void corr_note_response_start(struct corr *c, uint64_t pos);

int corr_resp_head(struct corr *c, const struct corr_meta *m, const struct corr_limits *lim,
		   const struct httpp_head *h, uint64_t ts_ns);
void corr_resp_body(struct corr *c, const struct corr_limits *lim, const uint8_t *p, size_t n);
/* Returns true if the completed response switched the connection to a tunnel. */
bool corr_resp_end(struct corr *c, const struct httpp_event *ev, uint64_t ts_last_ns);
/* The response being parsed failed: the oldest request gets why | incomplete. */
void corr_resp_error(struct corr *c, uint64_t ts_ns, uint32_t why);

/* Flag the record under construction in that direction (gap, framing...). */
void corr_flag_req(struct corr *c, uint32_t flags);
void corr_flag_resp(struct corr *c, uint32_t flags);

/* Close or timeout: emit everything queued as incomplete. */
void corr_flush(struct corr *c, uint64_t ts_ns);

#endif
