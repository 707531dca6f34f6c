/* test_reasm.c - unit tests of the byte-position reassembler (src/reasm.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stream/reasm.h"

/* ---- helpers */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void fill_stream(uint8_t *p, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + salt + (i >> 8));
}

static void init_big(struct reasm *r)
{
	struct reasm_limits lim = { .max_bytes = 64u << 20, .max_segments = 1u << 20 };

	reasm_init(r, &lim);
}

/* Peek/consume everything at the cursor into out (data) and count holes.
 * Consumes in steps of at most step bytes (0: whole views). */
struct drained {
	uint8_t *data;
	size_t data_len, cap;
	uint64_t uncap, lost;
	uint64_t pieces;
};

static void drain(struct reasm *r, struct drained *d, uint64_t step)
{
	struct reasm_view v;

	for (;;) {
		uint64_t n;

		reasm_peek(r, &v);
		if (v.kind == REASM_EMPTY)
			break;
		assert_int_equal(v.pos, r->cursor);
		assert_true(v.len > 0);
		n = step && step < v.len ? step : v.len;
		if (v.kind == REASM_DATA) {
			if (d->data_len + n > d->cap) {
				d->cap = (d->data_len + n) * 2;
				d->data = realloc(d->data, d->cap);
				assert_non_null(d->data);
			}
			memcpy(d->data + d->data_len, v.data, n);
			d->data_len += n;
		} else if (v.kind == REASM_HOLE_UNCAPTURED) {
			d->uncap += n;
		} else {
			assert_int_equal(v.kind, REASM_HOLE_LOST);
			d->lost += n;
		}
		d->pieces++;
		reasm_consume(r, n);
	}
}

/* ---- basic ordering */

static void test_in_order_one_buffer(void **state)
{
	struct reasm r;
	struct reasm_view v;
	uint8_t s[3000];

	fill_stream(s, sizeof(s), 1);
	reasm_init(&r, NULL);
	assert_int_equal(r.lim.max_bytes, 1u << 20);
	assert_int_equal(r.lim.max_segments, 256);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_EMPTY);
	for (int i = 0; i < 3; i++)
		assert_int_equal(reasm_add(&r, i * 1000, s + i * 1000, 1000, 1000, 100 + i), 0);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.len, 3000);
	assert_int_equal(v.pos, 0);
	assert_memory_equal(v.data, s, 3000);
	assert_false(reasm_waiting(&r));
	assert_int_equal(reasm_buffered(&r), 3000);
	assert_int_equal(r.max_seen, 3000);
	/* the parser leaves a partial head; the next add appends to it */
	reasm_consume(&r, 2500);
	assert_int_equal(r.cursor, 2500);
	reasm_peek(&r, &v);
	assert_int_equal(v.len, 500);
	assert_memory_equal(v.data, s + 2500, 500);
	assert_int_equal(reasm_add(&r, 3000, s, 100, 100, 200), 0);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.len, 600);
	assert_memory_equal(v.data, s + 2500, 500);
	assert_memory_equal(v.data + 500, s, 100);
	reasm_consume(&r, 600);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_EMPTY);
	assert_int_equal(v.pos, 3100);
	assert_int_equal(reasm_buffered(&r), 0);
	assert_int_equal(r.dup_bytes, 0);
	reasm_free(&r);
}

static void test_reverse_order(void **state)
{
	struct reasm r;
	struct reasm_view v;
	uint8_t s[10000];

	fill_stream(s, sizeof(s), 2);
	init_big(&r);
	for (int i = 9; i >= 1; i--) {
		reasm_add(&r, i * 1000, s + i * 1000, 1000, 1000, i);
		reasm_peek(&r, &v);
		assert_int_equal(v.kind, REASM_EMPTY);
		assert_true(reasm_waiting(&r));
		assert_int_equal(reasm_next_pos(&r), i * 1000);
	}
	assert_int_equal(reasm_buffered(&r), 9000);
	reasm_add(&r, 0, s, 1000, 1000, 0);
	assert_false(reasm_waiting(&r));
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.len, 10000);
	assert_memory_equal(v.data, s, 10000);
	for (int i = 0; i < 10; i++)
		assert_int_equal(reasm_ts_at(&r, i * 1000 + 999), i);
	reasm_free(&r);
}

/* Cut a stream into segments at random points and feed them in a random
 * order, draining at random moments; the output must be the stream. */
static void test_random_permutations(void **state)
{
	enum { N = 20000, MAXSEG = 64 };
	static uint8_t s[N];
	uint64_t cuts[MAXSEG + 1];

	rng_state = 0x1234567;
	fill_stream(s, N, 3);
	for (int iter = 0; iter < 300; iter++) {
		int nseg = 1 + (int)rnd_below(MAXSEG);
		int order[MAXSEG];
		struct reasm r;
		struct drained d = { 0 };

		cuts[0] = 0;
		cuts[nseg] = N;
		for (int i = 1; i < nseg; i++)
			cuts[i] = rnd_below(N);
		/* sort the inner cuts */
		for (int i = 1; i < nseg; i++)
			for (int j = i + 1; j < nseg; j++)
				if (cuts[j] < cuts[i]) {
					uint64_t t = cuts[i];

					cuts[i] = cuts[j];
					cuts[j] = t;
				}
		for (int i = 0; i < nseg; i++)
			order[i] = i;
		for (int i = nseg - 1; i > 0; i--) {
			int j = (int)rnd_below(i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		init_big(&r);
		for (int k = 0; k < nseg; k++) {
			int i = order[k];

			assert_int_equal(reasm_add(&r, cuts[i], s + cuts[i], (uint32_t)(cuts[i + 1] - cuts[i]),
						   cuts[i + 1] - cuts[i], i), 0);
			if (rnd_below(3) == 0)
				drain(&r, &d, 1 + rnd_below(3000));
		}
		drain(&r, &d, 0);
		assert_int_equal(d.data_len, N);
		assert_memory_equal(d.data, s, N);
		assert_int_equal(d.lost + d.uncap, 0);
		assert_int_equal(r.dup_bytes, 0);
		assert_int_equal(reasm_buffered(&r), 0);
		assert_false(reasm_waiting(&r));
		free(d.data);
		reasm_free(&r);
	}
}

/* ---- duplicates and overlaps */

static void test_duplicates(void **state)
{
	struct reasm r;
	struct reasm_view v;
	uint8_t a[100], b[100];

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	init_big(&r);
	reasm_add(&r, 100, a, 100, 100, 1);
	reasm_add(&r, 100, b, 100, 100, 2);      /* out-of-order duplicate */
	assert_int_equal(r.dup_bytes, 100);
	reasm_add(&r, 0, a, 100, 100, 3);
	reasm_add(&r, 0, b, 100, 100, 4);        /* duplicate of buffered data */
	assert_int_equal(r.dup_bytes, 200);
	reasm_peek(&r, &v);
	assert_int_equal(v.len, 200);
	for (int i = 0; i < 200; i++)
		assert_int_equal(v.data[i], 'a');
	reasm_consume(&r, 200);
	reasm_add(&r, 50, b, 100, 100, 5);       /* entirely consumed already */
	assert_int_equal(r.dup_bytes, 300);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_EMPTY);
	assert_int_equal(reasm_ts_at(&r, 199), 1);
	reasm_free(&r);
}

/* Existing segment [10, 20) of 'x'; a second add of 'y' with every overlap
 * shape; first copy wins, the new bytes fill only unknown positions. */
static void test_overlap_shapes(void **state)
{
	static const struct {
		const char *label;
		uint64_t pos, len;
		uint64_t dup;
	} cases[] = {
		{ "before, disjoint", 2, 5, 0 },
		{ "adjacent before", 5, 5, 0 },
		{ "overlaps the start", 5, 10, 5 },
		{ "inside", 12, 5, 5 },
		{ "exact", 10, 10, 10 },
		{ "same start, longer", 10, 15, 10 },
		{ "same end, earlier", 3, 17, 10 },
		{ "covers", 5, 20, 10 },
		{ "overlaps the end", 15, 10, 5 },
		{ "adjacent after", 20, 5, 0 },
		{ "after, disjoint", 25, 5, 0 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct reasm r;
		struct drained d = { 0 };
		uint8_t x[10], y[64], expect[40];
		uint64_t hi;

		memset(x, 'x', sizeof(x));
		memset(y, 'y', sizeof(y));
		init_big(&r);
		reasm_add(&r, 10, x, 10, 10, 1);
		reasm_add(&r, cases[c].pos, y, (uint32_t)cases[c].len, cases[c].len, 2);
		print_message("case %s\n", cases[c].label);
		assert_int_equal(r.dup_bytes, cases[c].dup);
		hi = cases[c].pos + cases[c].len > 20 ? cases[c].pos + cases[c].len : 20;
		/* fill what is still unknown with 'z' at positions [0, hi) */
		memset(expect, 'z', sizeof(expect));
		for (uint64_t p = cases[c].pos; p < cases[c].pos + cases[c].len; p++)
			expect[p] = 'y';
		memset(expect + 10, 'x', 10);
		for (uint64_t p = 0; p < hi; p++) {
			uint8_t z = 'z';

			reasm_add(&r, p, &z, 1, 1, 3);
		}
		drain(&r, &d, 0);
		assert_int_equal(d.data_len, hi);
		assert_memory_equal(d.data, expect, hi);
		assert_int_equal(reasm_buffered(&r), 0);
		free(d.data);
		reasm_free(&r);
	}
}

/* ---- holes */

static void test_uncaptured_vs_lost(void **state)
{
	struct reasm r;
	struct reasm_view v;
	uint8_t s[100];

	fill_stream(s, sizeof(s), 4);
	init_big(&r);
	/* 100 bytes of a 1000-byte syscall captured: [100, 1000) uncaptured */
	reasm_add(&r, 0, s, 100, 1000, 10);
	/* [1000, 1500) lost (ring full), then 100 bytes at 1500 */
	reasm_add_lost(&r, 1000, 500, 20);
	reasm_add(&r, 1500, s, 100, 100, 30);
	assert_false(reasm_waiting(&r));
	assert_int_equal(r.max_seen, 1600);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.len, 100);
	assert_int_equal(reasm_buffered(&r), 200);
	reasm_consume(&r, 100);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_UNCAPTURED);
	assert_int_equal(v.pos, 100);
	assert_int_equal(v.len, 900);
	assert_int_equal(reasm_ts_at(&r, 99), 10);
	reasm_consume(&r, 400); /* part of a hole */
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_UNCAPTURED);
	assert_int_equal(v.pos, 500);
	assert_int_equal(v.len, 500);
	reasm_consume(&r, 500);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_LOST);
	assert_int_equal(v.pos, 1000);
	assert_int_equal(v.len, 500);
	reasm_consume(&r, 500);
	assert_int_equal(reasm_ts_at(&r, r.cursor - 1), 20);
	assert_int_equal(r.last_ts, 20);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.pos, 1500);
	assert_int_equal(v.len, 100);
	assert_memory_equal(v.data, s, 100);
	reasm_consume(&r, 100);
	assert_int_equal(r.last_ts, 30);
	assert_int_equal(r.evicted_bytes, 0);
	reasm_free(&r);
}

static void test_adjacent_holes_merge_by_kind(void **state)
{
	struct reasm r;
	struct drained d = { 0 };

	init_big(&r);
	reasm_add(&r, 0, NULL, 0, 10, 1);  /* uncaptured [0,10) */
	reasm_add(&r, 10, NULL, 0, 10, 2); /* uncaptured [10,20) merges */
	reasm_add_lost(&r, 20, 10, 3);
	reasm_add_lost(&r, 30, 10, 4);     /* lost [20,40) merges */
	reasm_add(&r, 40, NULL, 0, 5, 5);
	drain(&r, &d, 0);
	assert_int_equal(d.pieces, 3);
	assert_int_equal(d.uncap, 25);
	assert_int_equal(d.lost, 20);
	assert_int_equal(r.cursor, 45);
	reasm_free(&r);
}

static void test_huge_len_tiny_cap_and_malformed(void **state)
{
	struct reasm r;
	struct reasm_view v;
	uint8_t s[8] = "abcdefgh";

	init_big(&r);
	/* len 0: nothing happens */
	assert_int_equal(reasm_add(&r, 0, s, 0, 0, 1), 0);
	assert_int_equal(reasm_add(&r, 0, s, 8, 0, 1), 0);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_EMPTY);
	assert_int_equal(r.max_seen, 0);
	/* cap > len: clamped to len */
	assert_int_equal(reasm_add(&r, 0, s, 8, 4, 1), 0);
	reasm_peek(&r, &v);
	assert_int_equal(v.len, 4);
	/* NULL data: everything uncaptured */
	assert_int_equal(reasm_add(&r, 4, NULL, 8, 4, 1), 0);
	/* a 1 TiB syscall of which 2 bytes were captured */
	assert_int_equal(reasm_add(&r, 8, s, 2, 1ull << 40, 2), 0);
	assert_int_equal(reasm_buffered(&r), 6);
	assert_int_equal(r.max_seen, 8 + (1ull << 40));
	reasm_consume(&r, 4);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_UNCAPTURED);
	assert_int_equal(v.len, 4);
	reasm_consume(&r, 4);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.len, 2);
	reasm_consume(&r, 2);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_UNCAPTURED);
	assert_int_equal(v.len, (1ull << 40) - 2);
	reasm_consume(&r, v.len + 5); /* over-consume is clamped */
	assert_int_equal(r.cursor, 8 + (1ull << 40));
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_EMPTY);
	reasm_free(&r);
}

static void test_positions_near_2_64(void **state)
{
	struct reasm r;
	struct reasm_view v;
	uint8_t s[64];
	const uint64_t top = UINT64_MAX - 20;

	fill_stream(s, sizeof(s), 5);
	init_big(&r);
	reasm_flush_to(&r, top); /* start near the end of the position space */
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_LOST);
	assert_int_equal(v.len, top);
	reasm_consume(&r, v.len);
	assert_int_equal(r.cursor, top);
	/* 64 bytes would pass 2^64: cut at UINT64_MAX */
	assert_int_equal(reasm_add(&r, top + 10, s, 64, 64, 1), 0);
	assert_int_equal(r.max_seen, UINT64_MAX);
	assert_true(reasm_waiting(&r));
	assert_int_equal(reasm_add(&r, top, s, 10, 10, 2), 0);
	reasm_add(&r, UINT64_MAX - 1, s, 64, UINT64_MAX, 3); /* len that overflows */
	reasm_add_lost(&r, UINT64_MAX - 5, UINT64_MAX, 4);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.len, 20);
	assert_memory_equal(v.data, s, 10);
	assert_memory_equal(v.data + 10, s, 10);
	reasm_consume(&r, 20);
	assert_int_equal(r.cursor, UINT64_MAX);
	assert_int_equal(reasm_ts_at(&r, UINT64_MAX - 1), 1);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_EMPTY);
	reasm_flush_to(&r, UINT64_MAX);
	assert_false(reasm_waiting(&r));
	reasm_free(&r);
}

/* ---- flush, waiting, timestamps */

static void test_flush_to(void **state)
{
	struct reasm r;
	struct reasm_view v;
	uint8_t s[300];

	fill_stream(s, sizeof(s), 6);
	init_big(&r);
	reasm_add(&r, 100, s + 100, 50, 50, 1);
	reasm_add(&r, 200, s + 200, 50, 50, 2);
	assert_true(reasm_waiting(&r));
	assert_int_equal(reasm_next_pos(&r), 100);
	reasm_flush_to(&r, 50); /* gives up on [0,50) only */
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_LOST);
	assert_int_equal(v.len, 50);
	assert_true(reasm_waiting(&r));
	reasm_flush_to(&r, reasm_next_pos(&r)); /* as conn_skip_waits does */
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_LOST);
	assert_int_equal(v.len, 100);
	reasm_consume(&r, 100);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.len, 50);
	assert_true(reasm_waiting(&r)); /* [150,200) still unknown */
	reasm_flush_to(&r, 400); /* past max_seen: [150,200) and [250,400) lost */
	assert_false(reasm_waiting(&r));
	assert_int_equal(r.max_seen, 400);
	reasm_consume(&r, 50);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_LOST);
	assert_int_equal(v.len, 50);
	reasm_consume(&r, 50);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_memory_equal(v.data, s + 200, 50);
	reasm_consume(&r, 50);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_LOST);
	assert_int_equal(v.len, 150);
	/* late data for a flushed range: first copy (the hole) wins */
	reasm_add(&r, 300, s, 10, 10, 9);
	assert_int_equal(r.dup_bytes, 10);
	reasm_consume(&r, 150);
	assert_int_equal(r.cursor, 400);
	reasm_flush_to(&r, 10); /* behind the cursor: no-op */
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_EMPTY);
	assert_int_equal(r.evicted_bytes, 0);
	reasm_free(&r);
}

static void test_ts_at(void **state)
{
	struct reasm r;
	uint8_t s[100];

	fill_stream(s, sizeof(s), 7);
	init_big(&r);
	reasm_add(&r, 0, s, 10, 10, 1000);
	reasm_add(&r, 10, s, 10, 10, 2000);
	reasm_add(&r, 30, s, 10, 10, 4000);  /* out of order */
	reasm_add(&r, 20, s, 10, 10, 3000);
	assert_int_equal(reasm_ts_at(&r, 0), 1000);
	assert_int_equal(reasm_ts_at(&r, 9), 1000);
	assert_int_equal(reasm_ts_at(&r, 10), 2000);
	assert_int_equal(reasm_ts_at(&r, 25), 3000);
	assert_int_equal(reasm_ts_at(&r, 39), 4000);
	/* the caller asks for the last byte of a message right after consuming it */
	reasm_consume(&r, 20);
	assert_int_equal(reasm_ts_at(&r, r.cursor - 1), 2000);
	assert_int_equal(r.last_ts, 2000);
	reasm_consume(&r, 20);
	assert_int_equal(reasm_ts_at(&r, r.cursor - 1), 4000);
	/* many small events consumed one by one: marks are pruned, answers stay right */
	for (uint64_t i = 0; i < 5000; i++) {
		reasm_add(&r, 40 + i * 3, s, 3, 3, 10000 + i);
		if (i % 7 == 6) {
			uint64_t to = 40 + (i + 1) * 3 - 2;

			reasm_consume(&r, to - r.cursor);
			assert_int_equal(reasm_ts_at(&r, r.cursor - 1), 10000 + i);
			assert_int_equal(reasm_ts_at(&r, r.cursor), 10000 + i);
		}
	}
	assert_true(r.n_marks < 64);
	reasm_free(&r);
}

/* ---- borrowed (zero-copy) in-order data */

static void test_borrowed(void **state)
{
	struct reasm r;
	struct reasm_view v;
	uint8_t s[400], *ev = malloc(100), *ev2 = malloc(100);
	struct reasm_limits lim = { .max_bytes = 150, .max_segments = 16 };

	assert_non_null(ev);
	assert_non_null(ev2);
	fill_stream(s, sizeof(s), 3);
	reasm_init(&r, &lim);
	/* in order with nothing held: the view is the event itself */
	memcpy(ev, s, 100);
	assert_true(reasm_add_borrowed(&r, 0, ev, 100, 100, 10));
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_ptr_equal(v.data, ev);
	assert_int_equal(v.len, 100);
	assert_int_equal(r.max_seen, 100);
	assert_int_equal(reasm_buffered(&r), 100);
	/* a second loan while one is out, or with bytes held, is refused */
	assert_false(reasm_add_borrowed(&r, 100, s + 100, 10, 10, 11));
	/* all consumed: the loan just ends */
	reasm_consume(&r, 100);
	assert_false(r.borrowed);
	assert_int_equal(reasm_ts_at(&r, 99), 10);
	assert_int_equal(reasm_settle(&r), 0);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_EMPTY);
	assert_int_equal(v.pos, 100);

	/* refused: not at the cursor, partly captured, over the memory bound */
	assert_false(reasm_add_borrowed(&r, 101, s + 101, 10, 10, 12));
	assert_false(reasm_add_borrowed(&r, 100, s + 100, 5, 10, 12));
	assert_false(reasm_add_borrowed(&r, 100, s + 100, 0, 0, 12));
	assert_false(reasm_add_borrowed(&r, 100, NULL, 10, 10, 12));
	{
		uint8_t big[200];

		memcpy(big, s + 100, sizeof(big));
		assert_false(reasm_add_borrowed(&r, 100, big, 200, 200, 12));
	}
	assert_int_equal(r.cursor, 100);
	assert_int_equal(r.max_seen, 100);

	/* partly consumed: settle keeps the tail in the reassembler's own buffer */
	memcpy(ev, s + 100, 100);
	assert_true(reasm_add_borrowed(&r, 100, ev, 100, 100, 20));
	reasm_consume(&r, 60);
	reasm_peek(&r, &v);
	assert_ptr_equal(v.data, ev + 60);
	assert_int_equal(v.len, 40);
	assert_int_equal(reasm_settle(&r), 0);
	memset(ev, 0xee, 100);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.pos, 160);
	assert_int_equal(v.len, 40);
	assert_memory_equal(v.data, s + 160, 40);
	assert_int_equal(reasm_ts_at(&r, 170), 20);
	/* the tail is held: the next event is appended (copied) */
	assert_false(reasm_add_borrowed(&r, 200, s + 200, 20, 20, 30));
	assert_int_equal(reasm_add(&r, 200, s + 200, 20, 20, 30), 0);
	reasm_peek(&r, &v);
	assert_int_equal(v.len, 60);
	assert_memory_equal(v.data, s + 160, 60);
	assert_int_equal(reasm_ts_at(&r, 219), 30);
	reasm_consume(&r, 60);

	/* out of order after a loan: the segment waits, then the loan fills the gap */
	assert_int_equal(reasm_add(&r, 250, s + 250, 30, 30, 50), 0);
	assert_true(reasm_waiting(&r));
	assert_false(reasm_add_borrowed(&r, 220, s + 220, 30, 30, 40)); /* segs pending */
	assert_int_equal(reasm_add(&r, 220, s + 220, 30, 30, 40), 0);
	reasm_peek(&r, &v);
	assert_int_equal(v.len, 60);
	assert_memory_equal(v.data, s + 220, 60);
	assert_int_equal(reasm_ts_at(&r, 249), 40);
	assert_int_equal(reasm_ts_at(&r, 250), 50);
	reasm_consume(&r, 60);

	/* a loan, then a hole and more data arrive before settling: the loan is
	 * copied first, the hole is reported in order after it */
	memcpy(ev2, s + 280, 20);
	assert_true(reasm_add_borrowed(&r, 280, ev2, 20, 20, 60));
	reasm_consume(&r, 5);
	reasm_add_lost(&r, 300, 10, 61);
	assert_false(r.borrowed);
	assert_int_equal(reasm_add(&r, 310, s + 310, 10, 10, 62), 0);
	memset(ev2, 0xee, 100);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.len, 15);
	assert_memory_equal(v.data, s + 285, 15);
	assert_true(reasm_hole_follows(&r, &(uint64_t){0}));
	reasm_consume(&r, 15);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_LOST);
	assert_int_equal(v.len, 10);
	reasm_consume(&r, 10);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_memory_equal(v.data, s + 310, 10);
	reasm_consume(&r, 10);

	/* a loan ended by an in-order append (no settle in between) */
	memcpy(ev2, s + 320, 40);
	assert_true(reasm_add_borrowed(&r, 320, ev2, 40, 40, 70));
	reasm_consume(&r, 30);
	assert_int_equal(reasm_add(&r, 360, s + 360, 40, 40, 71), 0);
	memset(ev2, 0xee, 100);
	reasm_peek(&r, &v);
	assert_int_equal(v.len, 50);
	assert_memory_equal(v.data, s + 350, 50);
	/* flush_to and free with a loan out */
	reasm_consume(&r, 50);
	memcpy(ev2, s, 10);
	assert_true(reasm_add_borrowed(&r, 400, ev2, 10, 10, 80));
	reasm_flush_to(&r, 420);
	assert_false(r.borrowed);
	memset(ev2, 0xee, 100);
	reasm_peek(&r, &v);
	assert_int_equal(v.len, 10);
	assert_memory_equal(v.data, s, 10);
	assert_int_equal(r.evicted_bytes, 0);
	assert_int_equal(r.dup_bytes, 0);
	reasm_free(&r);
	/* freed with a loan out: the event is not the reassembler's to free */
	reasm_init(&r, &lim);
	assert_true(reasm_add_borrowed(&r, 0, ev2, 10, 10, 1));
	reasm_free(&r);
	free(ev);
	free(ev2);
}

/* ---- bounded memory */

static void test_eviction_accounting(void **state)
{
	enum { N = 200000, SEG = 1000 };
	static uint8_t s[N];
	int order[N / SEG];
	struct reasm_limits lim = { .max_bytes = 20000, .max_segments = 256 };

	rng_state = 99;
	fill_stream(s, N, 8);
	for (int iter = 0; iter < 20; iter++) {
		struct reasm r;
		struct drained d = { 0 };
		int n = N / SEG;

		for (int i = 0; i < n; i++)
			order[i] = i;
		/* mostly reversed blocks so that out-of-order data piles up */
		for (int i = n - 1; i > 0; i--) {
			int j = (int)rnd_below(i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		reasm_init(&r, &lim);
		for (int k = 0; k < n; k++) {
			int i = order[k];

			reasm_add(&r, (uint64_t)i * SEG, s + i * SEG, SEG, SEG, k);
			assert_true(reasm_buffered(&r) <= lim.max_bytes);
			assert_true(r.n_segs <= lim.max_segments);
			if (rnd_below(4) == 0)
				drain(&r, &d, 0);
		}
		drain(&r, &d, 0);
		/* every position is delivered, or a hole; lost == evicted here */
		assert_int_equal(r.cursor, N);
		assert_int_equal(d.data_len + d.lost + d.uncap, N);
		assert_int_equal(d.uncap, 0);
		assert_int_equal(d.lost, r.evicted_bytes);
		assert_int_equal(r.evicted_bytes + d.data_len, N);
		assert_true(r.evicted_bytes > 0);
		assert_int_equal(reasm_buffered(&r), 0);
		free(d.data);
		reasm_free(&r);
	}
}

/* The furthest-out data goes first; in-order data is kept. */
static void test_eviction_policy(void **state)
{
	struct reasm_limits lim = { .max_bytes = 300, .max_segments = 256 };
	struct reasm r;
	struct reasm_view v;
	uint8_t s[1000];

	fill_stream(s, sizeof(s), 9);
	reasm_init(&r, &lim);
	reasm_add(&r, 200, s + 200, 100, 100, 1);
	reasm_add(&r, 400, s + 400, 100, 100, 2);
	reasm_add(&r, 600, s + 600, 100, 100, 3);
	assert_int_equal(reasm_buffered(&r), 300);
	/* in order: evicts [600,700) then [400,500) */
	reasm_add(&r, 0, s, 150, 150, 4);
	assert_int_equal(reasm_buffered(&r), 250);
	assert_int_equal(r.evicted_bytes, 200);
	/* the contiguous part is never evicted; new data past the bound is */
	reasm_add(&r, 150, s + 150, 50, 50, 5);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_DATA);
	assert_int_equal(v.len, 300);
	assert_memory_equal(v.data, s, 300);
	reasm_add(&r, 300, s + 300, 100, 100, 6); /* no room at all */
	assert_int_equal(r.evicted_bytes, 300);
	assert_int_equal(reasm_buffered(&r), 300);
	reasm_consume(&r, 300);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_HOLE_LOST);
	assert_int_equal(v.len, 200); /* [300,500) merged; [500,600) unknown */
	reasm_consume(&r, 200);
	reasm_peek(&r, &v);
	assert_int_equal(v.kind, REASM_EMPTY);
	assert_true(reasm_waiting(&r));
	assert_int_equal(reasm_next_pos(&r), 600);
	reasm_free(&r);
}

static void test_segment_limit(void **state)
{
	struct reasm_limits lim = { .max_bytes = 1u << 20, .max_segments = 8 };
	struct reasm r;
	struct drained d = { 0 };
	uint8_t s[10];

	fill_stream(s, sizeof(s), 10);
	reasm_init(&r, &lim);
	/* 100 one-byte segments with gaps between them */
	for (int i = 1; i <= 100; i++) {
		reasm_add(&r, (uint64_t)i * 10, s, 1, 1, i);
		assert_true(r.n_segs <= 8);
	}
	assert_true(reasm_waiting(&r));
	reasm_add(&r, 0, s, 10, 10, 0);
	reasm_flush_to(&r, r.max_seen);
	drain(&r, &d, 0);
	assert_int_equal(r.cursor, 1001);
	assert_int_equal(d.data_len + d.lost, 1001);
	assert_true(d.data_len >= 11);
	free(d.data);
	reasm_free(&r);
}

/* ---- property test against a byte-per-position reference model */

enum { M_UNKNOWN = 0, M_DATA, M_UNCAP, M_LOST };

struct model {
	uint8_t *kind;
	uint8_t *byte;
	uint64_t cursor;
	uint64_t *ts;   /* timestamp of the event that placed each position */
};

static void model_set_ts(struct model *m, uint64_t p, uint8_t kind, uint8_t byte, uint64_t ts)
{
	if (p < m->cursor || m->kind[p] != M_UNKNOWN)
		return;
	m->kind[p] = kind;
	m->byte[p] = byte;
	m->ts[p] = ts;
}

static void model_set(struct model *m, uint64_t p, uint8_t kind, uint8_t byte)
{
	model_set_ts(m, p, kind, byte, 0);
}

static void check_against_model(struct reasm *r, struct model *m, uint64_t size, bool exact)
{
	struct reasm_view v;

	for (int steps = 0; steps < 4; steps++) {
		uint64_t n;

		reasm_peek(r, &v);
		assert_int_equal(v.pos, m->cursor);
		if (v.kind == REASM_EMPTY) {
			assert_true(m->cursor >= size || m->kind[m->cursor] == M_UNKNOWN);
			return;
		}
		n = 1 + rnd_below(v.len < 200 ? v.len : 200);
		for (uint64_t i = 0; i < n; i++) {
			uint64_t p = m->cursor + i;
			uint8_t k = m->kind[p];

			switch (v.kind) {
			case REASM_DATA:
				assert_int_equal(k, M_DATA);
				assert_int_equal(v.data[i], m->byte[p]);
				break;
			case REASM_HOLE_UNCAPTURED:
				assert_int_equal(k, M_UNCAP);
				break;
			case REASM_HOLE_LOST:
				/* with eviction, data may have become lost, and the
				 * segment limit merges anything (gaps too) into lost */
				if (exact)
					assert_int_equal(k, M_LOST);
				break;
			default:
				fail();
			}
		}
		reasm_consume(r, n);
		/* the last consumed byte's timestamp is the one of its event */
		if (v.kind == REASM_DATA)
			assert_int_equal(reasm_ts_at(r, m->cursor + n - 1), m->ts[m->cursor + n - 1]);
		for (uint64_t i = 0; i < n; i++)
			m->kind[m->cursor + i] = (uint8_t)(v.kind == REASM_DATA ? M_DATA :
					v.kind == REASM_HOLE_UNCAPTURED ? M_UNCAP : M_LOST);
		m->cursor += n;
	}
}

static uint64_t lent_count; /* loans taken by run_property: the path is exercised */

static void run_property(uint64_t seed, const struct reasm_limits *lim, bool exact)
{
	enum { SIZE = 6000 };
	struct model m = { calloc(SIZE + 64, 1), calloc(SIZE + 64, 1), 0,
			   calloc(SIZE + 64, sizeof(uint64_t)) };
	struct reasm r;
	uint8_t src[600];

	assert_non_null(m.kind);
	assert_non_null(m.byte);
	assert_non_null(m.ts);
	rng_state = seed;
	reasm_init(&r, lim);
	for (int op = 0; op < 3000; op++) {
		uint64_t what = rnd_below(100);
		uint64_t base = m.cursor > 300 ? m.cursor - 300 : 0;
		uint64_t pos = base + rnd_below(900);
		uint64_t len = rnd_below(300), cap = rnd_below(len + 2);

		if (pos + len > SIZE)
			continue;
		if (what < 75) {
			uint8_t salt = (uint8_t)rnd();

			for (uint64_t i = 0; i < len; i++)
				src[i] = (uint8_t)(salt + i * 7);
			if (what & 1) {
				/* borrowed when in order, else refused: then copied */
				uint8_t *ev = malloc(len + 1);
				bool lent;

				assert_non_null(ev);
				memcpy(ev, src, len);
				if (rnd_below(2) && m.cursor + len <= SIZE) {
					struct reasm_view pv;
					bool lend_drain = !rnd_below(3);

					/* make the in-order case common: at the cursor, and
					 * sometimes with what is contiguous consumed first */
					for (int k = 0; k < 40 && lend_drain; k++) {
						reasm_peek(&r, &pv);
						if (pv.kind == REASM_EMPTY)
							break;
						check_against_model(&r, &m, SIZE, exact);
					}
					pos = m.cursor;
					cap = len;
					if (pos + len > SIZE)
						len = cap = SIZE - pos;
				}
				lent = reasm_add_borrowed(&r, pos, ev, (uint32_t)cap, len, op);
				if (!lent)
					reasm_add(&r, pos, ev, (uint32_t)cap, len, op);
				else
					assert_ptr_equal(r.buf, ev);
				lent_count += lent;
				if (cap > len)
					cap = len;
				for (uint64_t i = 0; i < len; i++)
					model_set_ts(&m, pos + i, i < cap ? M_DATA : M_UNCAP, src[i], (uint64_t)op);
				if (lent && rnd_below(2))
					check_against_model(&r, &m, SIZE, exact);
				assert_int_equal(reasm_settle(&r), 0);
				assert_false(r.borrowed);
				memset(ev, 0xee, len + 1); /* stale pointers would show */
				free(ev);
			} else {
				reasm_add(&r, pos, src, (uint32_t)cap, len, op);
				if (cap > len) /* malformed: clamped */
					cap = len;
				for (uint64_t i = 0; i < len; i++)
					model_set_ts(&m, pos + i, i < cap ? M_DATA : M_UNCAP, src[i], (uint64_t)op);
			}
		} else if (what < 85) {
			reasm_add_lost(&r, pos, len, op);
			for (uint64_t i = 0; i < len; i++)
				model_set(&m, pos + i, M_LOST, 0);
		} else if (what < 88) {
			uint64_t to = m.cursor + rnd_below(200);

			if (to > SIZE)
				to = SIZE;
			reasm_flush_to(&r, to);
			for (uint64_t p = m.cursor; p < to; p++)
				model_set(&m, p, M_LOST, 0);
		} else {
			check_against_model(&r, &m, SIZE, exact);
		}
		assert_true(reasm_buffered(&r) <= r.lim.max_bytes);
		assert_true(r.n_segs <= r.lim.max_segments);
		/* the O(1) answer (bytes covered vs spanned) agrees with the scan
		 * reasm_next_pos does, also through evictions and the segment limit */
		assert_int_equal(reasm_waiting(&r), reasm_next_pos(&r) != r.cursor + r.buf_len);
		if (exact) {
			/* waiting iff something is known beyond an unknown position */
			bool gap = false, waiting = false;

			for (uint64_t p = m.cursor; p < SIZE; p++) {
				if (m.kind[p] == M_UNKNOWN)
					gap = true;
				else if (gap) {
					waiting = true;
					break;
				}
			}
			assert_int_equal(reasm_waiting(&r), waiting);
		}
	}
	reasm_flush_to(&r, SIZE);
	for (uint64_t p = m.cursor; p < SIZE; p++)
		model_set(&m, p, M_LOST, 0);
	while (m.cursor < SIZE)
		check_against_model(&r, &m, SIZE, exact);
	assert_int_equal(r.cursor, SIZE);
	assert_int_equal(reasm_buffered(&r), 0);
	if (exact)
		assert_int_equal(r.evicted_bytes, 0);
	reasm_free(&r);
	free(m.kind);
	free(m.byte);
	free(m.ts);
}

static void test_property_exact(void **state)
{
	struct reasm_limits lim = { .max_bytes = 1u << 20, .max_segments = 100000 };

	lent_count = 0;
	for (uint64_t seed = 1; seed <= 40; seed++)
		run_property(seed * 0x9e3779b97f4a7c15ull, &lim, true);
	assert_true(lent_count > 100);
}

static void test_property_bounded(void **state)
{
	struct reasm_limits lim = { .max_bytes = 700, .max_segments = 6 };

	for (uint64_t seed = 1; seed <= 40; seed++)
		run_property(seed * 0x5851f42d4c957f2dull, &lim, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_one_buffer),
		cmocka_unit_test(test_reverse_order),
		cmocka_unit_test(test_random_permutations),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_overlap_shapes),
		cmocka_unit_test(test_uncaptured_vs_lost),
		cmocka_unit_test(test_adjacent_holes_merge_by_kind),
		cmocka_unit_test(test_huge_len_tiny_cap_and_malformed),
		cmocka_unit_test(test_positions_near_2_64),
		cmocka_unit_test(test_flush_to),
		cmocka_unit_test(test_ts_at),
		cmocka_unit_test(test_borrowed),
		cmocka_unit_test(test_eviction_accounting),
		cmocka_unit_test(test_eviction_policy),
		cmocka_unit_test(test_segment_limit),
		cmocka_unit_test(test_property_exact),
		cmocka_unit_test(test_property_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
