/*
 * reasm.h - byte-position reassembler for one direction of one connection.
 *
 * Events carry the stream position of their first byte, so arrival order
 * does not matter: segments are placed by position, duplicates and overlaps
 * are trimmed (the first copy wins), and the bytes contiguous with the read
 * cursor are kept in one buffer so that the parser can work zero-copy.
 *
 * Holes are of two kinds, never confused: UNCAPTURED (the kernel saw the
 * bytes but declared them not copied: cap, iovec bound, sendfile) and LOST
 * (ring buffer full, eviction, or given up after the reorder wait).  Both
 * have a known size and are reported in order at the cursor.
 *
 * Memory is bounded by limits.max_bytes (contiguous + out-of-order data);
 * bytes past the bound are dropped and become a LOST hole, and counted in
 * r->evicted_bytes.  Single-threaded: a connection belongs to one shard.
 */
#ifndef HT_REASM_H
#define HT_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum reasm_kind {
	REASM_EMPTY = 0,        /* nothing at the cursor yet */
	REASM_DATA,             /* v.data[0..v.len) are the next bytes */
	REASM_HOLE_UNCAPTURED,  /* the next v.len bytes were declared uncaptured */
	REASM_HOLE_LOST,        /* the next v.len bytes were lost */
};

struct reasm_view {
	enum reasm_kind kind;
	const uint8_t *data;   /* REASM_DATA */
	uint64_t len;          /* bytes of data, or size of the hole */
	uint64_t pos;          /* stream position of the cursor */
};

struct reasm_limits {
	uint32_t max_bytes;    /* buffered bytes per direction, default 1 MiB */
	uint32_t max_segments; /* out-of-order segments kept, default 256 */
};

struct reasm_seg; /* internal */

struct reasm {
	struct reasm_limits lim;
	uint64_t cursor;         /* position of buf[0] */
	uint8_t *buf;            /* contiguous data from cursor */
	uint32_t buf_len, buf_cap;
	struct reasm_seg *segs;  /* out-of-order pieces (data or holes) sorted by pos */
	uint32_t n_segs;
	uint32_t seg_bytes;      /* payload bytes held in segs */
	/* (pos, ts) marks for reasm_ts_at: position -> event timestamp */
	struct { uint64_t pos, ts; } *marks;
	uint32_t n_marks, marks_cap;
	uint64_t last_ts;        /* ts of the last consumed byte */
	uint64_t evicted_bytes;  /* bytes dropped by the memory bound (monotonic) */
	uint64_t dup_bytes;      /* bytes ignored as duplicates (monotonic) */
	uint64_t max_seen;       /* highest position + 1 ever announced */
	/* internal to reasm.c */
	uint8_t *mem;            /* allocation that buf points into (buf == mem + offset) */
	uint32_t mem_cap;        /* bytes allocated at mem; buf_cap counts from buf */
	uint32_t segs_cap;       /* entries allocated at segs */
	uint64_t seg_span;       /* bytes covered by segs (data and holes) */
	bool borrowed;           /* buf points into the caller's event, not mem */
	bool need_merge;         /* segs may hold neighbouring holes of one kind */
};

void reasm_init(struct reasm *r, const struct reasm_limits *lim);
void reasm_free(struct reasm *r);

/* [pos, pos+len) happened; the first cap bytes are data[], the rest was
 * declared uncaptured. ts_ns is the event's timestamp. Returns 0 or -ENOMEM
 * (then the bytes become a LOST hole and are counted as evicted). */
int reasm_add(struct reasm *r, uint64_t pos, const uint8_t *data, uint32_t cap,
	      uint64_t len, uint64_t ts_ns);
/* Zero-copy variant of reasm_add for the in-order case: when nothing is
 * buffered or pending, pos is the cursor and the event is fully captured
 * (cap == len), the view points straight at data, which the caller keeps
 * alive until reasm_settle().  Returns false (nothing done) otherwise: then
 * call reasm_add. */
bool reasm_add_borrowed(struct reasm *r, uint64_t pos, const uint8_t *data, uint32_t cap,
			uint64_t len, uint64_t ts_ns);
/* Copy the unconsumed rest of borrowed data into the reassembler's own
 * buffer; call before the borrowed bytes go away.  Returns 0 or -ENOMEM
 * (then those bytes become a LOST hole and are counted as evicted). */
int reasm_settle(struct reasm *r);
/* [start, start+len) will never arrive. */
void reasm_add_lost(struct reasm *r, uint64_t start, uint64_t len, uint64_t ts_ns);
/* Give up waiting for anything before pos: the missing ranges in
 * [cursor, pos) become LOST holes. */
void reasm_flush_to(struct reasm *r, uint64_t pos);

void reasm_peek(struct reasm *r, struct reasm_view *v);
/* Drop n bytes (data or hole) at the cursor; n <= v.len of the last peek. */
void reasm_consume(struct reasm *r, uint64_t n);

/* Timestamp of the event that carried byte pos, for pos in
 * [cursor - 1, cursor + contiguous length); other positions: nearest known. */
uint64_t reasm_ts_at(const struct reasm *r, uint64_t pos);
/* True if something is buffered beyond a gap at the cursor. */
bool reasm_waiting(const struct reasm *r);
/* Position of the first out-of-order segment (valid if reasm_waiting). */
uint64_t reasm_next_pos(const struct reasm *r);
/* True if a hole (either kind) starts right where the contiguous data ends;
 * *hole_len is its size.  Lets the caller give up on a message head that
 * the hole cuts in two. */
bool reasm_hole_follows(const struct reasm *r, uint64_t *hole_len);
/* Bytes held (contiguous + out of order). */
size_t reasm_buffered(const struct reasm *r);

#endif
