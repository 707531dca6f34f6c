/*
 * conn.h - one traced connection: two reassemblers, two parsers, a correlator.
 *
 * Owned by exactly one shard thread.  Events are applied in arrival order;
 * byte positions make that order irrelevant for data.  The request direction
 * is ingress for servers and egress for clients; for connections of unknown
 * role it is the direction of the first message that looks like a request.
 *
 * A response is parsed only while a request is waiting for it, so that a
 * response whose request is still in another CPU's ring is not mistaken for
 * an orphan; conn_drain() (close, idle expiry, eviction) lifts that wait.
 *
 * A connection the kernel found mid-stream (HT_OF_INFERRED: it predates the
 * tracer, or HT_OF_RESUMED: its kernel entry was evicted and re-created;
 * every data record says so too, HT_DF_MIDSTREAM) starts both parsers
 * resyncing to the next message start, and a response that answers no
 * request seen on it is a no_request record flagged gap: its request came
 * before the first byte seen.
 */
#ifndef HT_CONN_H
#define HT_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "corr.h"
#include "ht_event.h"
#include "httpp.h"
#include "reasm.h"

struct ht_stats;

struct conn_limits {
	struct reasm_limits reasm;
	struct httpp_limits httpp;
	struct corr_limits corr;
};

/* Where recent data events of one direction started and ended, with the
 * other direction's position at their syscall (ht_data_ev.peer_pos);
 * contiguous events with the same peer_pos share one mark. */
#define CONN_MARKS 16
struct conn_mark {
	uint64_t pos, end, peer;
};

struct conn {
	struct ht_conn_id id;
	uint64_t hash;              /* XXH3 of id: shard choice, table key */
	struct corr_meta meta;
	struct reasm rs[2];         /* by enum ht_dir */
	struct httpp pp[2];         /* by enum ht_dir */
	struct corr corr;
	int8_t req_dir;             /* enum ht_dir of requests, -1 unknown */
	bool have_open;             /* an OPEN event supplied addresses */
	bool closing;               /* CLOSE seen: finish when positions complete */
	bool tunnel;                /* after 101/CONNECT: bytes are not HTTP */
	bool resp_open;             /* a response sequence (1xx..final) is paired */
	bool resp_hole;             /* response bytes were lost since the last response:
				     * whole responses may have been in them */
	uint8_t n_marks[2];         /* marks[d][0..n) used, a ring once full */
	uint8_t next_mark[2];
	struct conn_mark marks[2][CONN_MARKS];
	bool midstream;             /* bytes came before the first seen (see above) */
	bool req_seen;              /* a request head was parsed */
	uint64_t req_end;           /* request-stream position where the last request ended */
	uint64_t close_pos[2];      /* final positions from the CLOSE event */
	uint64_t last_active_ns;    /* monotonic (local clock) of the last event */
	uint64_t wait_since_ns;     /* when a reordering gap was first seen, 0: none */
	size_t mem;                 /* bytes accounted to the shard budget */
};

void conn_init(struct conn *c, const struct ht_conn_id *id, uint64_t hash, uint8_t role,
	       corr_emit_fn emit, void *emit_ctx, uint64_t wall_offset_ns,
	       const struct conn_limits *lim);
void conn_free(struct conn *c);

void conn_on_open(struct conn *c, const struct ht_open_ev *ev, const struct conn_limits *lim);
/* Apply one data event (already length-checked by the caller). */
void conn_on_data(struct conn *c, const struct ht_data_ev *ev, const struct conn_limits *lim,
		  struct ht_stats *st);
void conn_on_loss(struct conn *c, const struct ht_loss_ev *ev, const struct conn_limits *lim,
		  struct ht_stats *st);
/* CLOSE: records the final positions; returns conn_close_ready().  The
 * caller finishes the connection with conn_drain() when it is ready (or
 * when the close grace expires). */
bool conn_on_close(struct conn *c, const struct ht_close_ev *ev, const struct conn_limits *lim,
		   struct ht_stats *st);
/* Stop waiting: missing bytes become holes, orphan responses are parsed,
 * close-delimited bodies end, queued requests are emitted as incomplete. */
void conn_drain(struct conn *c, const struct conn_limits *lim, struct ht_stats *st,
		uint64_t now_ns);
/* Give up on reordering up to the first buffered segment (reorder timeout). */
void conn_skip_waits(struct conn *c, const struct conn_limits *lim, struct ht_stats *st);
bool conn_has_waits(const struct conn *c);
/* CLOSE was seen and every byte up to the final positions has arrived. */
bool conn_close_ready(const struct conn *c);
size_t conn_buffered(const struct conn *c);

#endif
