/* test_rfile.c - unit tests of the record/replay file (src/rfile.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <lz4.h>
#include <xxhash.h>
#include <zlib.h>

#include "ht_event.h"
#include "source/event.h"
#include "source/rfile.h"

static char dir[64];
static unsigned prefetch_threads; /* 0: synchronous reader */
static uint64_t rng_state = 42;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static void path_of(char *p, size_t n, const char *name)
{
	snprintf(p, n, "%s/%s", dir, name);
}

/* ---- a set of records kept in memory to compare against */

struct recset {
	uint8_t **rec;
	uint32_t *len;
	size_t n;
};

static void recset_free(struct recset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->rec[i]);
	free(s->rec);
	free(s->len);
	memset(s, 0, sizeof(*s));
}

/* Build one random, well-formed event record. */
static uint8_t *make_record(uint32_t *len_out, size_t i)
{
	int type = 1 + (int)(rnd() % 4);
	uint32_t cap = 0, len;
	uint8_t *p;
	struct ht_ev_hdr *h;

	if (type == HT_EV_DATA) {
		uint64_t r = rnd() % 100;

		cap = r < 70 ? (uint32_t)(rnd() % 600) : r < 98 ? (uint32_t)(rnd() % HT_DATA_CHUNK) : 0;
	}
	len = (uint32_t)ht_event_size((uint8_t)type, cap);
	p = calloc(1, len);
	assert_non_null(p);
	h = (struct ht_ev_hdr *)p;
	h->type = (uint8_t)type;
	h->dir = (uint8_t)(i & 1);
	h->cpu = (uint32_t)(i % 3);
	h->ts_ns = 1000 + i;
	h->conn.tgid = 77;
	h->conn.fd = (int32_t)(i % 100);
	h->conn.gen = i / 100;
	if (type == HT_EV_DATA) {
		struct ht_data_ev *d = (struct ht_data_ev *)p;

		d->pos = i * 1000;
		d->cap_len = cap;
		d->len = cap + (uint32_t)(rnd() % 3) * 100;
		d->sys_len = d->len;
		memcpy(d->comm, "nginx", 6);
		for (uint32_t k = 0; k < cap; k++)
			d->data[k] = (uint8_t)("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"[k % 37] + (k / 999));
	} else if (type == HT_EV_LOSS) {
		struct ht_loss_ev *l = (struct ht_loss_ev *)p;

		l->start = i;
		l->len = rnd() % 100000;
	} else if (type == HT_EV_OPEN) {
		struct ht_open_ev *o = (struct ht_open_ev *)p;

		o->family = 2;
		o->lport = 80;
		o->rport = (uint16_t)(30000 + i);
	} else {
		struct ht_close_ev *c = (struct ht_close_ev *)p;

		c->pos[0] = i;
		c->pos[1] = i * 2;
	}
	*len_out = len;
	return p;
}

static void recset_make(struct recset *s, size_t n)
{
	s->rec = calloc(n, sizeof(*s->rec));
	s->len = calloc(n, sizeof(*s->len));
	assert_non_null(s->rec);
	assert_non_null(s->len);
	for (size_t i = 0; i < n; i++)
		s->rec[i] = make_record(&s->len[i], i);
	s->n = n;
}

static void write_file(const char *path, const struct recset *s, size_t block)
{
	char err[256];
	struct rfile_writer *w = rfile_writer_open(path, err, sizeof(err));

	assert_non_null(w);
	if (block)
		rfile_writer_set_block_size(w, block);
	for (size_t i = 0; i < s->n; i++)
		assert_int_equal(rfile_writer_add(w, s->rec[i], s->len[i]), 0);
	assert_int_equal(rfile_writer_records(w), s->n);
	assert_int_equal(rfile_writer_close(w), 0);
}

/* Read path; compare what is delivered with s. Returns the final status
 * (0 clean EOF, -1 error) and the records/blocks delivered. */
struct readout {
	int status;
	size_t records, blocks;
	uint64_t block_end[4096]; /* file offset after each delivered block */
	char err[320];
	bool opened;
};

static void read_file(const char *path, const struct recset *s, struct readout *o)
{
	char err[256];
	struct rfile_reader *r;
	const uint8_t *recs;
	size_t len;
	uint32_t count;
	int ret;

	memset(o, 0, sizeof(*o));
	r = rfile_reader_open(path, err, sizeof(err));
	if (!r) {
		o->status = -1;
		snprintf(o->err, sizeof(o->err), "%s", err);
		return;
	}
	o->opened = true;
	if (prefetch_threads)
		assert_int_equal(rfile_reader_prefetch(r, prefetch_threads), 0);
	while ((ret = rfile_reader_next_block(r, &recs, &len, &count)) == 1) {
		const uint8_t *cur = recs, *end = recs + len;
		const void *rec;
		uint32_t rl, seen = 0;

		while (rfile_next_record(&cur, end, &rec, &rl)) {
			assert_true(o->records < s->n);
			assert_int_equal(((uintptr_t)rec) % 8, 0);
			assert_int_equal(rl, s->len[o->records]);
			assert_memory_equal(rec, s->rec[o->records], rl);
			o->records++;
			seen++;
		}
		assert_ptr_equal(cur, end);
		assert_int_equal(seen, count);
		assert_true(o->blocks < 4096);
		o->block_end[o->blocks++] = rfile_reader_offset(r);
	}
	o->status = ret;
	if (ret < 0) {
		snprintf(o->err, sizeof(o->err), "%s", rfile_reader_error(r));
		/* sticky */
		assert_int_equal(rfile_reader_next_block(r, &recs, &len, &count), -1);
	} else {
		assert_int_equal(rfile_reader_next_block(r, &recs, &len, &count), 0);
	}
	rfile_reader_close(r);
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long sz;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)sz + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*n = (size_t)sz;
	return p;
}

static void spit(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (n)
		assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* ---- tests */

static void test_record_checks(void **state)
{
	uint8_t buf[200] = { 0 };
	struct ht_data_ev *d = (struct ht_data_ev *)buf;
	char path[128], err[256];
	struct rfile_writer *w;

	assert_int_equal(ht_event_size(HT_EV_DATA, 10), 98);
	assert_int_equal(ht_event_size(HT_EV_OPEN, 0), 96);
	assert_int_equal(ht_event_size(HT_EV_CLOSE, 0), 48);
	assert_int_equal(ht_event_size(HT_EV_LOSS, 0), 48);
	assert_int_equal(ht_event_size(9, 0), 0);
	d->hdr.type = HT_EV_DATA;
	d->cap_len = 10;
	d->len = 10;
	assert_int_equal(ht_event_check(buf, 98), 0);
	assert_int_equal(ht_event_check(buf, 99), -EINVAL);
	assert_int_equal(ht_event_check(buf, 97), -EINVAL);
	d->cap_len = 0xffffffffu; /* 88 + cap_len overflows 32 bits */
	assert_int_equal(ht_event_check(buf, 87), -EINVAL);
	assert_int_equal(ht_event_check(buf, (88 + 0xffffffffull) & 0xffffffffu), -EINVAL);
	assert_int_equal(ht_event_check(buf, 31), -EINVAL);
	assert_int_equal(ht_event_check(NULL, 48), -EINVAL);
	buf[0] = HT_EV_CLOSE;
	assert_int_equal(ht_event_check(buf, 48), 0);
	assert_int_equal(ht_event_check(buf, 96), -EINVAL);
	buf[0] = 0;
	assert_int_equal(ht_event_check(buf, 48), -EINVAL);
	buf[0] = 200;
	assert_int_equal(ht_event_check(buf, 48), -EINVAL);

	path_of(path, sizeof(path), "checks.rec");
	w = rfile_writer_open(path, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(rfile_writer_add(w, buf, 48), -EINVAL);
	assert_int_equal(rfile_writer_add(w, buf, 10), -EINVAL);
	buf[0] = HT_EV_LOSS;
	assert_int_equal(rfile_writer_add(w, buf, 48), 0);
	assert_int_equal(rfile_writer_close(w), 0);

	/* unwritable path: the message names the path and the reason */
	w = rfile_writer_open("/nonexistent-dir/x.rec", err, sizeof(err));
	assert_null(w);
	assert_non_null(strstr(err, "/nonexistent-dir/x.rec"));
}

static void test_round_trip(void **state)
{
	struct recset s = { 0 };
	struct readout *o = calloc(1, sizeof(*o));
	char path[128];

	assert_non_null(o);
	recset_make(&s, 3000);
	path_of(path, sizeof(path), "rt-default.rec");
	write_file(path, &s, 0); /* default 1 MiB blocks */
	read_file(path, &s, o);
	assert_int_equal(o->status, 0);
	assert_int_equal(o->records, s.n);
	assert_true(o->blocks >= 1);

	path_of(path, sizeof(path), "rt-small.rec");
	write_file(path, &s, 4096); /* many blocks */
	read_file(path, &s, o);
	assert_int_equal(o->status, 0);
	assert_int_equal(o->records, s.n);
	assert_true(o->blocks > 100);

	/* a record larger than the block target gets a block of its own */
	free(s.rec[10]);
	s.len[10] = (uint32_t)ht_event_size(HT_EV_DATA, 3u << 20);
	s.rec[10] = calloc(1, s.len[10]);
	assert_non_null(s.rec[10]);
	s.rec[10][0] = HT_EV_DATA;
	((struct ht_data_ev *)s.rec[10])->cap_len = 3u << 20;
	((struct ht_data_ev *)s.rec[10])->len = 3u << 20;
	memset(s.rec[10] + sizeof(struct ht_data_ev), 'b', 3u << 20);
	path_of(path, sizeof(path), "rt-big.rec");
	write_file(path, &s, 0);
	read_file(path, &s, o);
	assert_int_equal(o->status, 0);
	assert_int_equal(o->records, s.n);
	assert_true(o->blocks >= 3);

	path_of(path, sizeof(path), "rt-tiny.rec");
	write_file(path, &s, 1); /* one record per block */
	read_file(path, &s, o);
	assert_int_equal(o->status, 0);
	assert_int_equal(o->records, s.n);
	assert_int_equal(o->blocks, s.n);
	recset_free(&s);
	free(o);
}

static void test_header_only_and_empty(void **state)
{
	struct recset s = { 0 };
	struct readout *o = calloc(1, sizeof(*o));
	char path[128];

	assert_non_null(o);
	path_of(path, sizeof(path), "hdr-only.rec");
	write_file(path, &s, 0);
	read_file(path, &s, o);
	assert_true(o->opened);
	assert_int_equal(o->status, 0);
	assert_int_equal(o->records, 0);

	path_of(path, sizeof(path), "empty.rec");
	spit(path, NULL, 0);
	read_file(path, &s, o);
	assert_false(o->opened);
	assert_non_null(strstr(o->err, "empty file"));
	assert_non_null(strstr(o->err, "offset 0"));

	path_of(path, sizeof(path), "missing.rec");
	unlink(path);
	read_file(path, &s, o);
	assert_false(o->opened);
	assert_non_null(strstr(o->err, "missing.rec"));
	free(o);
}

static void test_truncated_everywhere(void **state)
{
	struct recset s = { 0 };
	struct readout *full = calloc(1, sizeof(*full)), *o = calloc(1, sizeof(*o));
	char path[128], cut[128];
	uint8_t *file;
	size_t size;

	assert_non_null(full);
	assert_non_null(o);
	recset_make(&s, 400);
	path_of(path, sizeof(path), "trunc-src.rec");
	path_of(cut, sizeof(cut), "trunc-cut.rec");
	write_file(path, &s, 2000);
	read_file(path, &s, full);
	assert_int_equal(full->status, 0);
	file = slurp(path, &size);
	assert_int_equal(full->block_end[full->blocks - 1], size);
	for (size_t t = 0; t < size; t += (t < 300 ? 1 : 1 + rnd() % 97)) {
		size_t complete = 0, recs = 0;
		bool boundary = t == RFILE_HDR_SIZE;

		spit(cut, file, t);
		read_file(cut, &s, o);
		for (size_t b = 0; b < full->blocks; b++) {
			if (full->block_end[b] <= t)
				complete = b + 1;
			if (full->block_end[b] == t)
				boundary = true;
		}
		if (t < RFILE_HDR_SIZE) {
			assert_false(o->opened);
			assert_non_null(strstr(o->err, "offset"));
			continue;
		}
		assert_true(o->opened);
		/* every complete block before the cut was delivered */
		assert_int_equal(o->blocks, complete);
		for (size_t b = 0; b < complete; b++)
			assert_int_equal(o->block_end[b], full->block_end[b]);
		recs = o->records;
		(void)recs;
		if (boundary) {
			assert_int_equal(o->status, 0);
		} else {
			char want[64];
			uint64_t boff = complete ? full->block_end[complete - 1] : RFILE_HDR_SIZE;

			assert_int_equal(o->status, -1);
			snprintf(want, sizeof(want), "offset %llu", (unsigned long long)boff);
			if (!strstr(o->err, want))
				fail_msg("cut at %zu: error '%s' does not name %s", t, o->err, want);
		}
	}
	free(file);
	recset_free(&s);
	free(full);
	free(o);
}

/* Flip one bit of every byte (except the creation time, which nothing can
 * check): the reader must report an error naming an offset, after
 * delivering intact every block before the damaged one. */
static void test_flipped_bytes(void **state)
{
	struct recset s = { 0 };
	struct readout *full = calloc(1, sizeof(*full)), *o = calloc(1, sizeof(*o));
	char path[128], bad[128];
	uint8_t *file;
	size_t size, crc_errors = 0;

	assert_non_null(full);
	assert_non_null(o);
	recset_make(&s, 60);
	path_of(path, sizeof(path), "flip-src.rec");
	path_of(bad, sizeof(bad), "flip-bad.rec");
	write_file(path, &s, 3000);
	read_file(path, &s, full);
	assert_int_equal(full->status, 0);
	assert_true(full->blocks >= 3);
	file = slurp(path, &size);
	for (size_t at = 0; at < size; at++) {
		size_t damaged = 0;

		if (at >= 24 && at < 32)
			continue;
		for (uint8_t bit = 1; bit; bit <<= 3) {
			file[at] ^= bit;
			spit(bad, file, size);
			file[at] ^= bit;
			read_file(bad, &s, o);
			/* every stored byte is hashed or checked: no flip passes */
			if (o->status != -1)
				fail_msg("flip 0x%02x at %zu not detected", bit, at);
			assert_non_null(strstr(o->err, "offset"));
			if (strstr(o->err, "XXH3 mismatch"))
				crc_errors++;
			while (damaged < full->blocks && full->block_end[damaged] <= at)
				damaged++;
			if (at >= RFILE_HDR_SIZE)
				assert_int_equal(o->blocks, damaged);
		}
	}
	/* every payload flip: the XXH3 of the stored bytes catches it */
	assert_true(crc_errors > size / 4);
	free(file);
	recset_free(&s);
	free(full);
	free(o);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* the tests run on little-endian hosts */
}

static void test_bad_headers(void **state)
{
	struct recset s = { 0 };
	struct readout *o = calloc(1, sizeof(*o));
	char path[128], bad[128];
	uint8_t *file;
	size_t size;
	static const struct {
		const char *label;
		size_t at;
		uint32_t value;
		const char *msg;
	} cases[] = {
		{ "magic", 0, 0x41414141, "bad magic at offset 0" },
		{ "version 4", 8, 4, "unsupported version 4 at offset 8" },
		{ "version 1 (80-byte data records)", 8, 1, "unsupported version 1" },
		{ "version 0", 8, 0, "unsupported version 0" },
		{ "header size small", 12, 16, "bad header size 16 at offset 12" },
		{ "header size huge", 12, 0x7fffffff, "bad header size" },
		{ "flags", 16, 1, "unsupported flags" },
		{ "block magic", 32, 0xdeadbeef, "bad block magic 0xdeadbeef at offset 32" },
		{ "comp len huge", 36, 0xffffffff, "compressed length 4294967295 out of range" },
		{ "comp len zero", 36, 0, "compressed length 0 out of range" },
		{ "raw len huge", 40, 0xffffffff, "raw length 4294967295 out of range" },
		{ "raw len 17 MiB", 40, 17u << 20, "raw length 17825792 out of range" },
		{ "raw len zero", 40, 0, "raw length 0 out of range" },
		{ "raw len short", 40, 100, "block at offset 32" },
		{ "raw len long", 40, 200, "block at offset 32" },
		{ "count huge", 44, 0xffffffff, "record count 4294967295 impossible" },
		{ "count 5", 44, 5, "record count 5 impossible for 192 raw bytes" },
		{ "count zero", 44, 0, "record count 0 impossible" },
		{ "count off by one", 44, 2, "header says 2 records, block holds 1" },
		{ "xxh3 low half", 48, 0x12345678, "XXH3 mismatch" },
		{ "xxh3 high half", 52, 0x12345678, "XXH3 mismatch" },
	};

	assert_non_null(o);
	/* one data record with 96 payload bytes: 192 raw bytes */
	recset_make(&s, 1);
	free(s.rec[0]);
	s.rec[0] = calloc(1, 184);
	assert_non_null(s.rec[0]);
	s.len[0] = 184;
	s.rec[0][0] = HT_EV_DATA;
	put32(s.rec[0] + offsetof(struct ht_data_ev, cap_len), 96);
	put32(s.rec[0] + offsetof(struct ht_data_ev, len), 96);
	path_of(path, sizeof(path), "hdr-src.rec");
	path_of(bad, sizeof(bad), "hdr-bad.rec");
	write_file(path, &s, 0);
	file = slurp(path, &size);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t old;

		memcpy(&old, file + cases[c].at, 4);
		put32(file + cases[c].at, cases[c].value);
		spit(bad, file, size);
		put32(file + cases[c].at, old);
		read_file(bad, &s, o);
		assert_int_equal(o->status, -1);
		if (!strstr(o->err, cases[c].msg))
			fail_msg("%s: error '%s' lacks '%s'", cases[c].label, o->err, cases[c].msg);
		assert_int_equal(o->records, 0);
	}
	/* a larger header size is skipped (forward compatible) */
	{
		uint8_t *big = calloc(1, size + 64);

		assert_non_null(big);
		memcpy(big, file, RFILE_HDR_SIZE);
		put32(big + 12, RFILE_HDR_SIZE + 64);
		memcpy(big + RFILE_HDR_SIZE + 64, file + RFILE_HDR_SIZE, size - RFILE_HDR_SIZE);
		spit(bad, big, size + 64);
		read_file(bad, &s, o);
		assert_int_equal(o->status, 0);
		assert_int_equal(o->records, 1);
		free(big);
	}
	free(file);
	recset_free(&s);
	free(o);
}

/* ---- files written by hand: version 3 (LZ4 + XXH3, as the writer does)
 * or version 2 (raw deflate + crc32, as writers before it did) */

static void put_file_header(FILE *f, uint32_t version)
{
	uint8_t hdr[RFILE_HDR_SIZE] = "HTTRACE";

	put32(hdr + 8, version);
	put32(hdr + 12, RFILE_HDR_SIZE);
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
}

static size_t deflate_raw(const uint8_t *raw, uint32_t raw_len, uint8_t *comp, size_t cap)
{
	z_stream zs;
	size_t clen;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (uint8_t *)raw;
	zs.avail_in = raw_len;
	zs.next_out = comp;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	clen = zs.total_out;
	deflateEnd(&zs);
	return clen;
}

static void put_block(FILE *f, const uint8_t *raw, uint32_t raw_len, uint32_t count,
		      uint32_t version)
{
	uint8_t bh[RFILE_BLOCK_HDR_SIZE];
	size_t cap = compressBound(raw_len) + (size_t)LZ4_compressBound((int)raw_len) + 64;
	size_t clen, hsize = version == 2 ? RFILE_BLOCK_HDR_SIZE_V2 : RFILE_BLOCK_HDR_SIZE;
	uint8_t *comp = malloc(cap);

	assert_non_null(comp);
	if (version == 2) {
		clen = deflate_raw(raw, raw_len, comp, cap);
		put32(bh + 16, (uint32_t)crc32(0, raw, raw_len));
	} else {
		int n = LZ4_compress_default((const char *)raw, (char *)comp, (int)raw_len, (int)cap);
		uint64_t sum;

		assert_true(n > 0);
		clen = (size_t)n;
		sum = XXH3_64bits(comp, clen);
		put32(bh + 16, (uint32_t)sum);
		put32(bh + 20, (uint32_t)(sum >> 32));
	}
	put32(bh, RFILE_BLOCK_MAGIC);
	put32(bh + 4, (uint32_t)clen);
	put32(bh + 8, raw_len);
	put32(bh + 12, count);
	assert_int_equal(fwrite(bh, 1, hsize, f), hsize);
	assert_int_equal(fwrite(comp, 1, clen, f), clen);
	free(comp);
}

/* One block whose payload decompresses and passes the checksum, whatever
 * entries it holds. */
static void write_raw_block(const char *path, const uint8_t *raw, uint32_t raw_len, uint32_t count,
			    uint32_t version)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	put_file_header(f, version);
	put_block(f, raw, raw_len, count, version);
	assert_int_equal(fclose(f), 0);
}

/* The entries of records [from, to) of s, as a block holds them. */
static uint8_t *entries_of(const struct recset *s, size_t from, size_t to, uint32_t *raw_len)
{
	size_t n = 0, at = 0;
	uint8_t *raw;

	for (size_t i = from; i < to; i++)
		n += 8 + ((s->len[i] + 7) & ~7u);
	raw = calloc(1, n ? n : 1);
	assert_non_null(raw);
	for (size_t i = from; i < to; i++) {
		put32(raw + at, s->len[i]);
		memcpy(raw + at + 8, s->rec[i], s->len[i]);
		at += 8 + ((s->len[i] + 7) & ~7u);
	}
	*raw_len = (uint32_t)n;
	return raw;
}

/* Version 2 files (zlib) recorded by older builds still replay, and their
 * crc32 is still checked. */
static void test_version2(void **state)
{
	struct recset s = { 0 };
	struct readout *o = calloc(1, sizeof(*o));
	char path[128];
	uint8_t *file;
	size_t size;
	FILE *f;

	assert_non_null(o);
	recset_make(&s, 500);
	path_of(path, sizeof(path), "v2.rec");
	f = fopen(path, "wb");
	assert_non_null(f);
	put_file_header(f, 2);
	for (size_t from = 0; from < s.n; from += 100) {
		uint32_t raw_len;
		uint8_t *raw = entries_of(&s, from, from + 100, &raw_len);

		put_block(f, raw, raw_len, 100, 2);
		free(raw);
	}
	assert_int_equal(fclose(f), 0);
	read_file(path, &s, o);
	assert_int_equal(o->status, 0);
	assert_int_equal(o->records, s.n);
	assert_int_equal(o->blocks, 5);
	/* the next block starts 20 header bytes after the last one's payload */
	file = slurp(path, &size);
	assert_int_equal(o->block_end[4], size);
	/* a wrong crc32 in the second block: the first is delivered, then the error */
	file[o->block_end[0] + 16] ^= 1;
	spit(path, file, size);
	read_file(path, &s, o);
	assert_int_equal(o->status, -1);
	assert_int_equal(o->blocks, 1);
	assert_non_null(strstr(o->err, "crc32 mismatch"));
	free(file);
	recset_free(&s);
	free(o);
}

static void bad_entries(uint32_t version)
{
	struct recset s = { 0 };
	struct readout *o = calloc(1, sizeof(*o));
	uint8_t raw[256];
	char path[128];

	assert_non_null(o);
	path_of(path, sizeof(path), "entries.rec");
	/* a data record whose length disagrees with cap_len */
	memset(raw, 0, sizeof(raw));
	put32(raw, 96);
	raw[8] = HT_EV_DATA;
	put32(raw + 8 + offsetof(struct ht_data_ev, cap_len), 10);
	write_raw_block(path, raw, 8 + 96, 1, version);
	read_file(path, &s, o);
	assert_int_equal(o->status, -1);
	assert_non_null(strstr(o->err, "record 0 at raw offset 0: length 96 does not match type 1"));
	/* a length that runs past the block */
	memset(raw, 0, sizeof(raw));
	put32(raw, 48);
	raw[8] = HT_EV_CLOSE;
	put32(raw + 56, 0x7ffffff0);
	write_raw_block(path, raw, 56 + 48, 2, version);
	read_file(path, &s, o);
	assert_int_equal(o->status, -1);
	assert_non_null(strstr(o->err, "record 1 at raw offset 56: length 2147483632 runs past"));
	/* nonzero reserved field */
	memset(raw, 0, sizeof(raw));
	put32(raw, 48);
	put32(raw + 4, 1);
	raw[8] = HT_EV_CLOSE;
	write_raw_block(path, raw, 56, 1, version);
	read_file(path, &s, o);
	assert_int_equal(o->status, -1);
	assert_non_null(strstr(o->err, "reserved"));
	/* a truncated entry header at the end of the block */
	memset(raw, 0, sizeof(raw));
	put32(raw, 48);
	raw[8] = HT_EV_CLOSE;
	write_raw_block(path, raw, 56 + 4, 1, version);
	read_file(path, &s, o);
	assert_int_equal(o->status, -1);
	assert_non_null(strstr(o->err, "truncated entry header"));
	/* rfile_next_record never reads past end */
	{
		const uint8_t *cur = raw, *end = raw + 12;
		const void *rec;
		uint32_t rl;

		assert_int_equal(rfile_next_record(&cur, end, &rec, &rl), 0);
		end = raw + 4;
		assert_int_equal(rfile_next_record(&cur, end, &rec, &rl), 0);
		end = raw + 56;
		assert_int_equal(rfile_next_record(&cur, end, &rec, &rl), 1);
		assert_int_equal(rl, 48);
		assert_ptr_equal(cur, raw + 56);
		assert_int_equal(rfile_next_record(&cur, end, &rec, &rl), 0);
	}
	free(o);
}

/* Blocks that decompress and pass the checksum but hold bad entries. */
static void test_bad_entries(void **state)
{
	bad_entries(RFILE_VERSION);
	bad_entries(RFILE_VERSION_ZLIB);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_rfile.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The same checks with the read-ahead threads on. */
static void test_prefetch_1(void **state)
{
	prefetch_threads = 1;
	test_round_trip(state);
	test_header_only_and_empty(state);
	test_truncated_everywhere(state);
	test_bad_headers(state);
	test_bad_entries(state);
	test_version2(state);
	prefetch_threads = 0;
}

static void test_prefetch_3(void **state)
{
	prefetch_threads = 3;
	test_round_trip(state);
	test_truncated_everywhere(state);
	test_flipped_bytes(state);
	prefetch_threads = 0;
}

/* Closing while decoders are blocked on full slots must not hang or leak. */
static void test_prefetch_early_close(void **state)
{
	struct recset s = { 0 };
	char path[128], err[256];
	struct rfile_reader *r;
	const uint8_t *recs;
	size_t len;
	uint32_t count;

	recset_make(&s, 500);
	path_of(path, sizeof(path), "early.rec");
	write_file(path, &s, 1000);
	for (int i = 0; i < 20; i++) {
		r = rfile_reader_open(path, err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(rfile_reader_prefetch(r, 2), 0);
		for (int k = 0; k < i; k++)
			assert_int_equal(rfile_reader_next_block(r, &recs, &len, &count), 1);
		rfile_reader_close(r);
	}
	recset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_checks),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_header_only_and_empty),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_flipped_bytes),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_version2),
		cmocka_unit_test(test_prefetch_1),
		cmocka_unit_test(test_prefetch_3),
		cmocka_unit_test(test_prefetch_early_close),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
