/*
 * reasm.c - byte-position reassembler for one direction of one connection.
 *
 * State, from the read cursor on:
 *   buf[0..buf_len)   data at [cursor, cursor + buf_len), one buffer, so the
 *                     parser reads it in place and may leave a partial head
 *                     that the next in-order event is appended to;
 *   segs[0..n_segs)   everything known beyond that (out-of-order data, and
 *                     UNCAPTURED or LOST holes), sorted by position, never
 *                     overlapping, all at or after cursor + buf_len.
 * The "frontier" is cursor + buf_len.  A data segment that touches the
 * frontier is moved into buf right away (adopted without a copy when buf is
 * empty); a hole at the frontier stays in segs until the buffer in front of
 * it is consumed, and is then reported by reasm_peek.
 *
 * Every byte position is known exactly once: a new event is trimmed against
 * what is known (first copy wins, dup_bytes counts the captured bytes
 * dropped).  Memory is bounded by lim.max_bytes (buf + segment data): the
 * data furthest out goes first and becomes a LOST hole (evicted_bytes), so
 * positions are never lost track of.  lim.max_segments bounds the array: the
 * two furthest segments are merged into one LOST hole when it overflows.
 * Neighbouring holes of one kind are one segment: a new hole is merged with
 * its neighbours when it is stored; an eviction or the segment limit, which
 * can make two holes neighbours, asks for a merge pass (need_merge).
 * seg_span (bytes the segments cover) says in O(1) whether they leave a gap
 * after the frontier (reasm_waiting, asked on every event).
 *
 * Borrowed data (reasm_add_borrowed): in order with nothing else held, buf
 * may point at the caller's event instead of mem, so the parser runs over
 * the event in place; borrowed is set, buf_cap == buf_len, and nothing is
 * ever written through buf.  Anything that would append or move buf first
 * copies the rest into mem (reasm_settle), and so does the caller before
 * the event goes away.  Consuming it all just drops the loan.
 *
 * Positions are u64; ends are computed with saturation, so a range that
 * would pass 2^64 is cut at UINT64_MAX and nothing overflows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reasm.h"

#define REASM_DEF_BYTES (1u << 20)
#define REASM_DEF_SEGS  256u
/* An empty buffer larger than this is released, so idle connections are cheap. */
#define REASM_KEEP_BYTES (64u << 10)
#define REASM_MIN_BUF   4096u

struct reasm_seg {
	uint64_t pos;           /* first position */
	uint64_t len;           /* bytes covered (data: <= lim.max_bytes) */
	uint64_t ts;            /* timestamp of the event that brought it */
	uint8_t *data;          /* REASM_DATA: len bytes, malloc'd; else NULL */
	enum reasm_kind kind;   /* REASM_DATA, REASM_HOLE_UNCAPTURED or REASM_HOLE_LOST */
};

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t frontier(const struct reasm *r)
{
	return r->cursor + r->buf_len;
}

static inline uint64_t seg_end(const struct reasm_seg *s)
{
	return s->pos + s->len;
}

void reasm_init(struct reasm *r, const struct reasm_limits *lim)
{
	memset(r, 0, sizeof(*r));
	if (lim)
		r->lim = *lim;
	if (!r->lim.max_bytes)
		r->lim.max_bytes = REASM_DEF_BYTES;
	if (!r->lim.max_segments)
		r->lim.max_segments = REASM_DEF_SEGS;
}

void reasm_free(struct reasm *r)
{
	struct reasm_limits lim = r->lim;

	for (uint32_t i = 0; i < r->n_segs; i++)
		free(r->segs[i].data);
	free(r->segs);
	free(r->mem);
	free(r->marks);
	reasm_init(r, &lim);
}

/* ---- timestamp marks: marks[i].ts holds for [marks[i].pos, marks[i+1].pos) */

/* Index of the last mark at or before pos (0 if pos precedes them all). */
static uint32_t mark_find(const struct reasm *r, uint64_t pos)
{
	uint32_t lo = 0, hi = r->n_marks;

	/* most lookups are at the newest bytes */
	if (hi > 1 && r->marks[hi - 1].pos <= pos)
		return hi - 1;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r->marks[mid].pos <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Record that bytes from pos on came with ts; positions only grow. */
static void mark_push(struct reasm *r, uint64_t pos, uint64_t ts)
{
	if (r->n_marks) {
		if (r->marks[r->n_marks - 1].ts == ts)
			return;
		if (r->marks[r->n_marks - 1].pos >= pos) {
			r->marks[r->n_marks - 1].ts = ts;
			return;
		}
	}
	if (r->n_marks == r->marks_cap) {
		uint32_t cap = r->marks_cap ? r->marks_cap * 2 : 8;
		void *p = realloc(r->marks, (size_t)cap * sizeof(*r->marks));

		if (!p) {
			/* degrade: the last mark stretches, its ts becomes the newest */
			if (r->n_marks)
				r->marks[r->n_marks - 1].ts = ts;
			return;
		}
		r->marks = p;
		r->marks_cap = cap;
	}
	r->marks[r->n_marks].pos = pos;
	r->marks[r->n_marks].ts = ts;
	r->n_marks++;
}

/* Drop marks that only cover positions before cursor - 1 (amortized). */
static void mark_prune(struct reasm *r)
{
	uint32_t k;

	if (!r->cursor || r->n_marks < 16)
		return;
	k = mark_find(r, r->cursor - 1);
	if (k < 8 || k * 2 < r->n_marks)
		return;
	memmove(r->marks, r->marks + k, (size_t)(r->n_marks - k) * sizeof(*r->marks));
	r->n_marks -= k;
}

static uint64_t newest_ts(const struct reasm *r)
{
	return r->n_marks ? r->marks[r->n_marks - 1].ts : r->last_ts;
}

/* ---- the contiguous buffer */

/* Make room for n more bytes after buf[buf_len]. Returns 0 or -ENOMEM. */
static int buf_room(struct reasm *r, uint64_t n)
{
	uint64_t need = (uint64_t)r->buf_len + n;
	uint64_t cap;
	uint8_t *p;

	if (need <= r->buf_cap)
		return 0;
	if (r->borrowed)
		return reasm_settle(r) ? -ENOMEM : buf_room(r, n);
	if (need > UINT32_MAX)
		return -ENOMEM;
	if (r->mem && r->buf != r->mem) {
		/* compact: moves buf_len bytes, at most once per buffer refill */
		memmove(r->mem, r->buf, r->buf_len);
		r->buf = r->mem;
		r->buf_cap = r->mem_cap;
		if (need <= r->buf_cap)
			return 0;
	}
	cap = r->mem_cap ? (uint64_t)r->mem_cap * 2 : REASM_MIN_BUF;
	if (cap < need)
		cap = need;
	if (cap > r->lim.max_bytes && need <= r->lim.max_bytes)
		cap = r->lim.max_bytes;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	p = realloc(r->mem, cap);
	if (!p)
		return -ENOMEM;
	r->mem = r->buf = p;
	r->mem_cap = r->buf_cap = (uint32_t)cap;
	return 0;
}

/* Drop n <= buf_len bytes at the cursor. */
static void buf_drop(struct reasm *r, uint32_t n)
{
	r->buf_len -= n;
	r->cursor += n;
	if (r->buf_len) {
		r->buf += n;
		r->buf_cap -= n;
		return;
	}
	if (r->mem_cap > REASM_KEEP_BYTES) {
		free(r->mem);
		r->mem = NULL;
		r->mem_cap = 0;
	}
	r->buf = r->mem;
	r->buf_cap = r->mem_cap;
	r->borrowed = false;
}

/* ---- out-of-order segments */

/* Index of the first segment that ends after pos. */
static uint32_t seg_find(const struct reasm *r, uint64_t pos)
{
	uint32_t lo = 0, hi = r->n_segs;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (seg_end(&r->segs[mid]) <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int seg_reserve(struct reasm *r, uint32_t extra)
{
	uint64_t need = (uint64_t)r->n_segs + extra;
	uint64_t cap;
	void *p;

	if (need <= r->segs_cap)
		return 0;
	cap = r->segs_cap ? (uint64_t)r->segs_cap * 2 : 4;
	if (cap < need)
		cap = need;
	if (cap > UINT32_MAX / sizeof(*r->segs))
		return -ENOMEM;
	p = realloc(r->segs, cap * sizeof(*r->segs));
	if (!p)
		return -ENOMEM;
	r->segs = p;
	r->segs_cap = (uint32_t)cap;
	return 0;
}

/* Insert at index i (room reserved by the caller). */
static void seg_insert(struct reasm *r, uint32_t i, uint64_t pos, uint64_t len,
		       enum reasm_kind kind, uint8_t *data, uint64_t ts)
{
	struct reasm_seg *s;

	memmove(r->segs + i + 1, r->segs + i, (size_t)(r->n_segs - i) * sizeof(*r->segs));
	s = &r->segs[i];
	s->pos = pos;
	s->len = len;
	s->ts = ts;
	s->data = data;
	s->kind = kind;
	r->n_segs++;
	r->seg_span += len;
}

/* Store the hole [pos, pos + n) before segs[i], merged with a neighbour
 * hole of the same kind that touches it.  Returns the index place() goes
 * on from: the merged segment (which it then skips, as it would skip the
 * neighbour) or the one after the stored hole. */
static uint32_t put_hole(struct reasm *r, uint32_t i, uint64_t pos, uint64_t n,
			 enum reasm_kind kind, uint64_t ts, int *ret)
{
	struct reasm_seg *prev = i ? &r->segs[i - 1] : NULL;
	struct reasm_seg *next = i < r->n_segs ? &r->segs[i] : NULL;
	bool to_next = next && next->kind == kind && next->pos == pos + n;

	if (prev && prev->kind == kind && seg_end(prev) == pos) {
		prev->len += n;
		prev->ts = ts > prev->ts ? ts : prev->ts;
		r->seg_span += n;
		if (!to_next)
			return i;
		prev->len += next->len;
		prev->ts = next->ts > prev->ts ? next->ts : prev->ts;
		memmove(next, next + 1, (size_t)(r->n_segs - i - 1) * sizeof(*r->segs));
		r->n_segs--;
		return i - 1;
	}
	if (to_next) {
		next->pos = pos;
		next->len += n;
		next->ts = ts > next->ts ? ts : next->ts;
		r->seg_span += n;
		return i;
	}
	if (seg_reserve(r, 1)) {
		*ret = -ENOMEM; /* stays an unknown gap: reasm_flush_to makes it LOST */
		return i;
	}
	seg_insert(r, i, pos, n, kind, NULL, ts);
	return i + 1;
}

/* Turn a data segment into a LOST hole of the same range. */
static void seg_evict(struct reasm *r, struct reasm_seg *s)
{
	if (s->kind != REASM_DATA)
		return;
	free(s->data);
	s->data = NULL;
	s->kind = REASM_HOLE_LOST;
	r->seg_bytes -= (uint32_t)s->len;
	r->evicted_bytes += s->len;
	r->need_merge = true;
}

/* Make room for need more bytes by evicting data segments at index >= from,
 * furthest first. Returns the bytes that may now be stored (<= need). */
static uint64_t make_budget(struct reasm *r, uint32_t from, uint64_t need)
{
	uint64_t used = (uint64_t)r->buf_len + r->seg_bytes;

	for (uint32_t j = r->n_segs; j > from && used + need > r->lim.max_bytes; j--) {
		if (r->segs[j - 1].kind != REASM_DATA)
			continue;
		used -= r->segs[j - 1].len;
		seg_evict(r, &r->segs[j - 1]);
	}
	if (used >= r->lim.max_bytes)
		return 0;
	return min_u64(need, r->lim.max_bytes - used);
}

/* Store the unknown range [pos, end) of one kind before segs[i]; data points
 * at its bytes for REASM_DATA. Returns the index after what was inserted. */
static uint32_t put_piece(struct reasm *r, uint32_t i, uint64_t pos, uint64_t end,
			  enum reasm_kind kind, const uint8_t *data, uint64_t ts, int *ret)
{
	uint64_t n = end - pos, keep = 0;
	uint8_t *copy;

	if (kind != REASM_DATA)
		return put_hole(r, i, pos, n, kind, ts, ret);
	keep = make_budget(r, i, n);
	if (keep && pos == frontier(r)) {
		/* in order: append (i is 0 here, nothing is known before pos) */
		if (!buf_room(r, keep)) {
			memcpy(r->buf + r->buf_len, data, keep);
			mark_push(r, pos, ts);
			r->buf_len += (uint32_t)keep;
		} else {
			*ret = -ENOMEM;
			keep = 0;
		}
	} else if (keep) {
		copy = seg_reserve(r, 2) ? NULL : malloc(keep);
		if (copy) {
			memcpy(copy, data, keep);
			seg_insert(r, i++, pos, keep, REASM_DATA, copy, ts);
			r->seg_bytes += (uint32_t)keep;
		} else {
			*ret = -ENOMEM;
			keep = 0;
		}
	}
	if (keep == n)
		return i;
	r->evicted_bytes += n - keep;
	return put_hole(r, i, pos + keep, n - keep, REASM_HOLE_LOST, ts, ret);
}

/* Place [pos, end) of one kind wherever nothing is known yet (first copy
 * wins). data: the bytes of [pos, end) for REASM_DATA, else NULL. */
static void place(struct reasm *r, uint64_t pos, uint64_t end, enum reasm_kind kind,
		  const uint8_t *data, uint64_t ts, int *ret)
{
	uint64_t lo = frontier(r);
	uint32_t i;

	if (end <= pos)
		return;
	if (pos < lo) {
		uint64_t skip = min_u64(lo, end) - pos;

		if (kind == REASM_DATA) {
			r->dup_bytes += skip;
			data += skip;
		}
		pos += skip;
	}
	i = seg_find(r, pos);
	while (pos < end) {
		const struct reasm_seg *s = i < r->n_segs ? &r->segs[i] : NULL;
		uint64_t e;

		if (s && s->pos <= pos) {
			e = min_u64(seg_end(s), end);
			if (kind == REASM_DATA) {
				r->dup_bytes += e - pos;
				data += e - pos;
			}
			pos = e;
			i++;
			continue;
		}
		e = s && s->pos < end ? s->pos : end;
		i = put_piece(r, i, pos, e, kind, data, ts, ret);
		if (kind == REASM_DATA)
			data += e - pos;
		pos = e;
	}
}

/* Merge neighbouring holes of the same kind. */
static void merge_holes(struct reasm *r)
{
	uint32_t w = 0;

	r->need_merge = false;
	if (r->n_segs < 2)
		return;
	for (uint32_t j = 1; j < r->n_segs; j++) {
		struct reasm_seg *a = &r->segs[w], *b = &r->segs[j];

		if (a->kind != REASM_DATA && a->kind == b->kind && seg_end(a) == b->pos) {
			a->len += b->len;
			if (b->ts > a->ts)
				a->ts = b->ts;
			continue;
		}
		r->segs[++w] = *b;
	}
	r->n_segs = w + 1;
}

/* Over max_segments: the two furthest segments (and the gap between them)
 * become one LOST hole, until the count fits. */
static void enforce_seg_limit(struct reasm *r)
{
	while (r->n_segs > r->lim.max_segments && r->n_segs >= 2) {
		struct reasm_seg *a = &r->segs[r->n_segs - 2], *b = &r->segs[r->n_segs - 1];

		seg_evict(r, a);
		seg_evict(r, b);
		r->evicted_bytes += b->pos - seg_end(a); /* the gap: ignored if it comes */
		r->seg_span += b->pos - seg_end(a);
		if (b->ts > a->ts)
			a->ts = b->ts;
		a->kind = REASM_HOLE_LOST;
		a->len = seg_end(b) - a->pos;
		r->n_segs--;
		r->need_merge = true; /* merged on the next change, as before */
	}
}

/* Move data segments that touch the frontier into buf. */
static void pull(struct reasm *r)
{
	uint32_t k = 0;

	while (k < r->n_segs) {
		struct reasm_seg *s = &r->segs[k];

		if (s->kind != REASM_DATA || s->pos != frontier(r))
			break;
		if (!r->buf_len) {
			/* adopt the segment's allocation: no copy */
			free(r->mem);
			r->mem = r->buf = s->data;
			r->mem_cap = r->buf_cap = (uint32_t)s->len;
		} else if (!buf_room(r, s->len)) {
			memcpy(r->buf + r->buf_len, s->data, s->len);
			free(s->data);
		} else {
			break; /* retried once buf is consumed and can be adopted */
		}
		mark_push(r, s->pos, s->ts);
		r->buf_len += (uint32_t)s->len;
		r->seg_bytes -= (uint32_t)s->len;
		r->seg_span -= s->len;
		k++;
	}
	if (!k)
		return;
	memmove(r->segs, r->segs + k, (size_t)(r->n_segs - k) * sizeof(*r->segs));
	r->n_segs -= k;
}

static void normalize(struct reasm *r)
{
	if (r->need_merge)
		merge_holes(r);
	enforce_seg_limit(r);
	pull(r);
}

int reasm_add(struct reasm *r, uint64_t pos, const uint8_t *data, uint32_t cap,
	      uint64_t len, uint64_t ts_ns)
{
	uint64_t end = sat_add(pos, len);
	int ret = 0;

	reasm_settle(r);
	if (!data)
		cap = 0;
	if (cap > end - pos)
		cap = (uint32_t)(end - pos); /* malformed (cap > len) or cut at 2^64 */
	if (end == pos)
		return 0;
	if (end > r->max_seen)
		r->max_seen = end;
	/* common case: the next bytes in order, fully captured, room in buf */
	if (pos == frontier(r) && !r->n_segs && cap == len &&
	    (uint64_t)r->buf_len + cap <= r->lim.max_bytes &&
	    (uint64_t)r->buf_len + cap <= r->buf_cap) {
		memcpy(r->buf + r->buf_len, data, cap);
		mark_push(r, pos, ts_ns);
		r->buf_len += cap;
		return 0;
	}
	place(r, pos, pos + cap, REASM_DATA, data, ts_ns, &ret);
	place(r, pos + cap, end, REASM_HOLE_UNCAPTURED, NULL, ts_ns, &ret);
	normalize(r);
	return ret;
}

bool reasm_add_borrowed(struct reasm *r, uint64_t pos, const uint8_t *data, uint32_t cap,
			uint64_t len, uint64_t ts_ns)
{
	if (!data || !cap || cap != len || r->buf_len || r->n_segs || r->borrowed ||
	    pos != r->cursor || cap > r->lim.max_bytes || pos > UINT64_MAX - len)
		return false;
	if (pos + len > r->max_seen)
		r->max_seen = pos + len;
	/* never written through while borrowed: buf_room() settles first */
	r->buf = (uint8_t *)(uintptr_t)data;
	r->buf_len = r->buf_cap = cap;
	r->borrowed = true;
	mark_push(r, pos, ts_ns);
	return true;
}

int reasm_settle(struct reasm *r)
{
	const uint8_t *rest = r->buf;
	uint32_t n = r->buf_len;

	if (!r->borrowed)
		return 0;
	r->borrowed = false;
	r->buf = r->mem;
	r->buf_cap = r->mem_cap;
	r->buf_len = 0;
	if (!n)
		return 0;
	if (!buf_room(r, n)) {
		memcpy(r->buf, rest, n);
		r->buf_len = n;
		return 0;
	}
	/* no memory: the bytes become a LOST hole at the cursor (segs all lie after it) */
	r->evicted_bytes += n;
	if (seg_reserve(r, 1))
		r->cursor += n; /* not even that: the parser sees the data end early */
	else
		seg_insert(r, 0, r->cursor, n, REASM_HOLE_LOST, NULL, newest_ts(r));
	merge_holes(r);
	return -ENOMEM;
}

void reasm_add_lost(struct reasm *r, uint64_t start, uint64_t len, uint64_t ts_ns)
{
	uint64_t end = sat_add(start, len);
	int ret = 0;

	if (end == start)
		return;
	reasm_settle(r);
	if (end > r->max_seen)
		r->max_seen = end;
	place(r, start, end, REASM_HOLE_LOST, NULL, ts_ns, &ret);
	normalize(r);
}

void reasm_flush_to(struct reasm *r, uint64_t pos)
{
	int ret = 0;

	if (pos <= frontier(r))
		return;
	reasm_settle(r);
	if (pos > r->max_seen)
		r->max_seen = pos;
	place(r, frontier(r), pos, REASM_HOLE_LOST, NULL, newest_ts(r), &ret);
	normalize(r);
}

void reasm_peek(struct reasm *r, struct reasm_view *v)
{
	v->pos = r->cursor;
	v->data = NULL;
	if (!r->buf_len && r->n_segs && r->segs[0].kind == REASM_DATA)
		pull(r); /* only after a failed allocation */
	if (r->buf_len) {
		v->kind = REASM_DATA;
		v->data = r->buf;
		v->len = r->buf_len;
	} else if (r->n_segs && r->segs[0].pos == r->cursor) {
		v->kind = r->segs[0].kind;
		v->len = r->segs[0].len;
	} else {
		v->kind = REASM_EMPTY;
		v->len = 0;
	}
}

void reasm_consume(struct reasm *r, uint64_t n)
{
	struct reasm_seg *s;

	if (!n)
		return;
	if (r->buf_len) {
		buf_drop(r, (uint32_t)min_u64(n, r->buf_len));
	} else if (r->n_segs && r->segs[0].pos == r->cursor && r->segs[0].kind != REASM_DATA) {
		s = &r->segs[0];
		n = min_u64(n, s->len);
		mark_push(r, r->cursor, s->ts);
		s->pos += n;
		s->len -= n;
		r->seg_span -= n;
		r->cursor += n;
		if (!s->len) {
			memmove(r->segs, r->segs + 1, (size_t)(r->n_segs - 1) * sizeof(*r->segs));
			r->n_segs--;
		}
	} else {
		return;
	}
	r->last_ts = reasm_ts_at(r, r->cursor - 1);
	mark_prune(r);
	pull(r);
}

uint64_t reasm_ts_at(const struct reasm *r, uint64_t pos)
{
	if (pos >= frontier(r) && r->n_segs) {
		uint32_t j = seg_find(r, pos);

		if (j < r->n_segs && r->segs[j].pos <= pos)
			return r->segs[j].ts;
	}
	if (!r->n_marks)
		return r->last_ts;
	return r->marks[mark_find(r, pos)].ts;
}

/* Index of the first segment that follows an unknown gap, or n_segs. */
static uint32_t first_after_gap(const struct reasm *r)
{
	uint64_t at = frontier(r);

	for (uint32_t i = 0; i < r->n_segs; i++) {
		if (r->segs[i].pos > at)
			return i;
		at = seg_end(&r->segs[i]);
	}
	return r->n_segs;
}

bool reasm_waiting(const struct reasm *r)
{
	/* sorted, disjoint, all past the frontier: a gap iff they span more
	 * than they cover */
	return r->n_segs && seg_end(&r->segs[r->n_segs - 1]) - frontier(r) != r->seg_span;
}

uint64_t reasm_next_pos(const struct reasm *r)
{
	uint32_t i = first_after_gap(r);

	return i < r->n_segs ? r->segs[i].pos : frontier(r);
}

size_t reasm_buffered(const struct reasm *r)
{
	return (size_t)r->buf_len + r->seg_bytes;
}

bool reasm_hole_follows(const struct reasm *r, uint64_t *hole_len)
{
	const struct reasm_seg *s = r->n_segs ? &r->segs[0] : NULL;

	if (!s || s->pos != frontier(r) || s->kind == REASM_DATA)
		return false;
	*hole_len = s->len;
	return true;
}
