/*
 * rfile.c - record/replay file of raw kernel events (format in rfile.h).
 *
 * Writer (version 3 only): records are appended to a raw block buffer
 * (8-byte entry header, payload, padding); when it passes the block target
 * the block is LZ4-compressed into a reused buffer that already holds room
 * for the block header, the compressed bytes are hashed (XXH3-64), and the
 * block is written with one write(2).
 *
 * Reader (version 3, and version 2: raw deflate + crc32, zlib): one read(2)
 * for the block header and one for the payload into reused buffers,
 * decompress into a reused raw buffer, then every length in the block is
 * checked before the block is handed out, so that the caller's walk with
 * rfile_next_record() never needs to distrust it.  Nothing in the file is
 * trusted: every size is capped before it is used for an allocation, a read
 * or an index.
 *
 * Read-ahead (rfile_reader_prefetch): N decoder threads share a ring of
 * 2N + 2 block slots.  A decoder claims the next block number and reads
 * its bytes while holding `io` (so reads stay in file order), then
 * decompresses and checks it unlocked (version 2: with its own z_stream).
 * The consumer takes slots strictly in block order and frees the previous
 * one on its next call.  The first EOF or bad block stops all claims: every block
 * before it is still delivered first, then its result.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <lz4.h>
#include <xxhash.h>
#include <zlib.h>

#include "base/fdio.h"
#include "ht_event.h"
#include "event.h"
#include "rfile.h"

#define RFILE_MAX_HDR_SIZE 4096u
#define RFILE_MIN_BLOCK    4096u

struct rfile_writer {
	int fd;
	int err;                /* first -errno seen; sticky */
	uint8_t *raw;           /* entries of the block being filled */
	size_t raw_len, raw_cap;
	uint32_t count;         /* records in raw */
	size_t block_target;    /* flush when raw_len would pass this */
	uint8_t *out;           /* block header + compressed payload */
	size_t out_cap;
	uint64_t records, bytes;
};

struct rfile_block {
	uint8_t *comp, *raw;    /* reused buffers */
	size_t comp_cap, raw_cap;
	uint64_t off;           /* file offset of the block header */
	uint64_t seq;           /* prefetch: block number */
	uint32_t comp_len, raw_len, count;
	uint64_t sum;           /* stored checksum: XXH3-64 (v3) or crc32 (v2) */
	int result;             /* 1 block, 0 clean EOF, -1 error (err) */
	bool busy;              /* prefetch: claimed for seq (by a decoder, then the consumer) */
	bool ready;             /* prefetch: result is final */
	char err[320];
};

struct rfile_thread {
	struct rfile_reader *r;
	z_stream zs;
	bool zs_ok, started;
	pthread_t tid;
};

struct rfile_reader {
	int fd;
	int state;              /* 0 reading, 1 clean EOF, -1 error */
	uint32_t version;       /* RFILE_VERSION or RFILE_VERSION_ZLIB */
	uint32_t bhdr_size;     /* block header bytes of that version */
	uint64_t off;           /* file offset after the last block returned */
	z_stream zs;            /* synchronous mode */
	bool zs_ok;
	struct rfile_block one; /* synchronous mode */
	char *path;
	char err[320];
	/* read-ahead (rfile_reader_prefetch): decoders fill slots in file
	 * order under `io`; the consumer takes them in the same order */
	unsigned nthreads, nslots;
	struct rfile_thread *threads;
	struct rfile_block *slots;
	uint64_t read_off;      /* under io: next block header to read */
	uint64_t read_seq;      /* under m: next block number to claim */
	uint64_t cons_seq;      /* consumer: next block number to return */
	bool held;              /* consumer holds slot of cons_seq - 1 */
	bool stop;              /* under m: EOF or error read, no more claims */
	bool quit;              /* under m: close requested */
	pthread_mutex_t m, io;
	pthread_cond_t cv_free, cv_ready;
};

/* ---- little-endian helpers */

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static inline size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* ---- record checks (shared by writer and reader): the one event
 * validator, within the file format's bound */

static int check_record(const void *rec, size_t len)
{
	return len > RFILE_MAX_RECORD ? -EINVAL : ht_event_check(rec, len);
}

/* ---- writer */

static void fmt_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

struct rfile_writer *rfile_writer_open(const char *path, char *err, size_t errlen)
{
	struct rfile_writer *w;
	uint8_t hdr[RFILE_HDR_SIZE] = { 0 };
	struct timespec now;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w) {
		fmt_err(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	w->block_target = RFILE_BLOCK_TARGET;
	w->raw_cap = RFILE_BLOCK_TARGET + 65536;
	w->raw = malloc(w->raw_cap);
	if (!w->raw) {
		fmt_err(err, errlen, "%s: out of memory", path);
		goto err_free;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		fmt_err(err, errlen, "%s: cannot create record file: %s", path, strerror(errno));
		goto err_free;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	memcpy(hdr, RFILE_MAGIC, 8);
	put_le32(hdr + 8, RFILE_VERSION);
	put_le32(hdr + 12, RFILE_HDR_SIZE);
	put_le32(hdr + 16, 0);
	put_le32(hdr + 20, 0);
	put_le64(hdr + 24, (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec);
	ret = ht_write_all(w->fd, hdr, sizeof(hdr));
	if (ret) {
		fmt_err(err, errlen, "%s: cannot write record file header: %s", path, strerror(-ret));
		goto err_close;
	}
	w->bytes = sizeof(hdr);
	return w;

err_close:
	close(w->fd);
err_free:
	free(w->raw);
	free(w);
	return NULL;
}

void rfile_writer_set_block_size(struct rfile_writer *w, size_t raw_bytes)
{
	if (raw_bytes < 64)
		raw_bytes = 64;
	if (raw_bytes > RFILE_MAX_RAW / 2)
		raw_bytes = RFILE_MAX_RAW / 2;
	w->block_target = raw_bytes;
}

/* Compress and write the buffered records as one block. */
static int writer_flush(struct rfile_writer *w)
{
	size_t bound;
	uint8_t *h;
	int clen, ret;

	if (!w->raw_len)
		return 0;
	bound = RFILE_BLOCK_HDR_SIZE + (size_t)LZ4_compressBound((int)w->raw_len);
	if (bound > w->out_cap) {
		uint8_t *p = realloc(w->out, bound);

		if (!p)
			return -ENOMEM;
		w->out = p;
		w->out_cap = bound;
	}
	clen = LZ4_compress_default((const char *)w->raw, (char *)w->out + RFILE_BLOCK_HDR_SIZE,
				    (int)w->raw_len, (int)(w->out_cap - RFILE_BLOCK_HDR_SIZE));
	if (clen <= 0)
		return -EIO;
	h = w->out;
	put_le32(h, RFILE_BLOCK_MAGIC);
	put_le32(h + 4, (uint32_t)clen);
	put_le32(h + 8, (uint32_t)w->raw_len);
	put_le32(h + 12, w->count);
	put_le64(h + 16, XXH3_64bits(w->out + RFILE_BLOCK_HDR_SIZE, (size_t)clen));
	ret = ht_write_all(w->fd, w->out, RFILE_BLOCK_HDR_SIZE + (size_t)clen);
	if (ret)
		return ret;
	w->bytes += RFILE_BLOCK_HDR_SIZE + (size_t)clen;
	w->raw_len = 0;
	w->count = 0;
	return 0;
}

int rfile_writer_add(struct rfile_writer *w, const void *rec, size_t len)
{
	size_t entry;
	uint8_t *e;
	int ret;

	if (w->err)
		return w->err;
	if (check_record(rec, len))
		return -EINVAL;
	entry = 8 + pad8(len);
	if (w->raw_len && w->raw_len + entry > w->block_target) {
		ret = writer_flush(w);
		if (ret)
			return w->err = ret;
	}
	if (w->raw_len + entry > w->raw_cap) {
		uint8_t *p = realloc(w->raw, w->raw_len + entry);

		if (!p)
			return -ENOMEM; /* not sticky: a smaller record may still fit */
		w->raw = p;
		w->raw_cap = w->raw_len + entry;
	}
	e = w->raw + w->raw_len;
	put_le32(e, (uint32_t)len);
	put_le32(e + 4, 0);
	memcpy(e + 8, rec, len);
	memset(e + 8 + len, 0, entry - 8 - len);
	w->raw_len += entry;
	w->count++;
	w->records++;
	return 0;
}

int rfile_writer_close(struct rfile_writer *w)
{
	int ret;

	if (!w)
		return -EINVAL;
	ret = w->err;
	if (!ret)
		ret = writer_flush(w);
	if (close(w->fd) && !ret)
		ret = -errno;
	free(w->raw);
	free(w->out);
	free(w);
	return ret;
}

uint64_t rfile_writer_records(const struct rfile_writer *w)
{
	return w->records;
}

uint64_t rfile_writer_bytes(const struct rfile_writer *w)
{
	return w->bytes + (w->raw_len ? RFILE_BLOCK_HDR_SIZE : 0);
}

/* ---- reader */

static void vfail(char *err, size_t errlen, const char *path, const char *fmt, va_list ap)
{
	int n = snprintf(err, errlen, "%s: ", path);

	if (n < 0 || (size_t)n >= errlen)
		n = 0;
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

static int reader_fail(struct rfile_reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(r->err, sizeof(r->err), r->path, fmt, ap);
	va_end(ap);
	r->state = -1;
	return -1;
}

static int block_fail(const char *path, struct rfile_block *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(b->err, sizeof(b->err), path, fmt, ap);
	va_end(ap);
	b->result = -1;
	return -1;
}

static int check_file_header(struct rfile_reader *r)
{
	uint8_t hdr[RFILE_HDR_SIZE];
	uint32_t version, hsize;
	ssize_t got;

	got = ht_read_full(r->fd, hdr, sizeof(hdr));
	if (got < 0)
		return reader_fail(r, "read error at offset 0: %s", strerror((int)-got));
	if (got == 0)
		return reader_fail(r, "empty file (0 bytes) at offset 0: not an http-tracer record file");
	if (memcmp(hdr, RFILE_MAGIC, got < 8 ? (size_t)got : 8) != 0)
		return reader_fail(r, "bad magic at offset 0: not an http-tracer record file");
	if ((size_t)got < sizeof(hdr))
		return reader_fail(r, "truncated file header at offset %zd: file has %zd of %u header bytes",
				   got, got, RFILE_HDR_SIZE);
	version = get_le32(hdr + 8);
	hsize = get_le32(hdr + 12);
	if (version != RFILE_VERSION && version != RFILE_VERSION_ZLIB)
		return reader_fail(r, "unsupported version %u at offset 8 (this build reads versions %u and %u)",
				   version, RFILE_VERSION_ZLIB, RFILE_VERSION);
	r->version = version;
	r->bhdr_size = version == RFILE_VERSION ? RFILE_BLOCK_HDR_SIZE : RFILE_BLOCK_HDR_SIZE_V2;
	if (hsize < RFILE_HDR_SIZE || hsize > RFILE_MAX_HDR_SIZE)
		return reader_fail(r, "bad header size %u at offset 12 (expected %u..%u)", hsize,
				   RFILE_HDR_SIZE, RFILE_MAX_HDR_SIZE);
	if (get_le32(hdr + 16) != 0 || get_le32(hdr + 20) != 0)
		return reader_fail(r, "unsupported flags 0x%08x/0x%08x at offset 16 (version %u defines none)",
				   get_le32(hdr + 16), get_le32(hdr + 20), version);
	r->off = RFILE_HDR_SIZE;
	if (hsize > RFILE_HDR_SIZE) {
		uint8_t skip[RFILE_MAX_HDR_SIZE];

		got = ht_read_full(r->fd, skip, hsize - RFILE_HDR_SIZE);
		if (got < 0)
			return reader_fail(r, "read error at offset %u: %s", RFILE_HDR_SIZE,
					   strerror((int)-got));
		if ((size_t)got < hsize - RFILE_HDR_SIZE)
			return reader_fail(r, "truncated file header at offset %zd: header size is %u",
					   RFILE_HDR_SIZE + got, hsize);
		r->off = hsize;
	}
	return 0;
}

struct rfile_reader *rfile_reader_open(const char *path, char *err, size_t errlen)
{
	struct rfile_reader *r;

	r = calloc(1, sizeof(*r));
	if (!r)
		goto err_nomem;
	r->fd = -1;
	r->path = strdup(path);
	if (!r->path)
		goto err_free;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		fmt_err(err, errlen, "%s: cannot open record file: %s", path, strerror(errno));
		rfile_reader_close(r);
		return NULL;
	}
	posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (check_file_header(r)) {
		fmt_err(err, errlen, "%s", r->err);
		rfile_reader_close(r);
		return NULL;
	}
	if (r->version == RFILE_VERSION_ZLIB) {
		if (inflateInit2(&r->zs, -15) != Z_OK)
			goto err_free;
		r->zs_ok = true;
	}
	return r;

err_free:
	rfile_reader_close(r);
err_nomem:
	fmt_err(err, errlen, "%s: out of memory", path);
	return NULL;
}

static int grow(uint8_t **p, size_t *cap, size_t need)
{
	uint8_t *q;

	if (need <= *cap)
		return 0;
	if (need < RFILE_BLOCK_TARGET + 65536)
		need = RFILE_BLOCK_TARGET + 65536;
	q = realloc(*p, need);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = need;
	return 0;
}

/* Read the block header at file offset off (the fd's position) and its
 * payload into b->comp. Returns 1, 0 at clean EOF, -1 (b->err). */
static int block_read(struct rfile_reader *r, struct rfile_block *b, uint64_t off)
{
	uint8_t h[RFILE_BLOCK_HDR_SIZE];
	size_t hsize = r->bhdr_size;
	unsigned long long boff = off;
	uint32_t magic;
	ssize_t got;

	b->off = off;
	got = ht_read_full(r->fd, h, hsize);
	if (got < 0)
		return block_fail(r->path, b, "read error at offset %llu: %s", boff, strerror((int)-got));
	if (got == 0)
		return b->result = 0;
	if ((size_t)got < hsize)
		return block_fail(r->path, b, "truncated block header at offset %llu: file ends after %zd of %zu bytes",
				  boff, got, hsize);
	magic = get_le32(h);
	b->comp_len = get_le32(h + 4);
	b->raw_len = get_le32(h + 8);
	b->count = get_le32(h + 12);
	b->sum = hsize == RFILE_BLOCK_HDR_SIZE ? get_le64(h + 16) : get_le32(h + 16);
	if (magic != RFILE_BLOCK_MAGIC)
		return block_fail(r->path, b, "bad block magic 0x%08x at offset %llu (expected 0x%08x)",
				  magic, boff, RFILE_BLOCK_MAGIC);
	if (b->raw_len == 0 || b->raw_len > RFILE_MAX_RAW)
		return block_fail(r->path, b, "block at offset %llu: raw length %u out of range (1..%u)",
				  boff, b->raw_len, RFILE_MAX_RAW);
	if (b->comp_len == 0 || b->comp_len > RFILE_MAX_COMP)
		return block_fail(r->path, b, "block at offset %llu: compressed length %u out of range (1..%u)",
				  boff, b->comp_len, RFILE_MAX_COMP);
	if (b->count == 0 || b->count > b->raw_len / (8 + sizeof(struct ht_ev_hdr)))
		return block_fail(r->path, b, "block at offset %llu: record count %u impossible for %u raw bytes",
				  boff, b->count, b->raw_len);
	if (grow(&b->comp, &b->comp_cap, b->comp_len) || grow(&b->raw, &b->raw_cap, b->raw_len))
		return block_fail(r->path, b, "block at offset %llu: out of memory for %u + %u bytes",
				  boff, b->comp_len, b->raw_len);
	got = ht_read_full(r->fd, b->comp, b->comp_len);
	if (got < 0)
		return block_fail(r->path, b, "read error at offset %llu: %s",
				  boff + hsize, strerror((int)-got));
	if ((size_t)got < b->comp_len)
		return block_fail(r->path, b, "block at offset %llu: truncated payload: file ends at offset %llu, block needs %u bytes to offset %llu",
				  boff, boff + hsize + (unsigned long long)got, b->comp_len,
				  boff + hsize + b->comp_len);
	return b->result = 1;
}

/* Check every entry of an inflated block: lengths, types, count. */
static int check_block(const char *path, struct rfile_block *b)
{
	const uint8_t *p = b->raw;
	unsigned long long boff = b->off;
	size_t at = 0, raw_len = b->raw_len;
	uint32_t n = 0;

	while (at < raw_len) {
		uint32_t len;
		size_t entry;

		if (raw_len - at < 8)
			return block_fail(path, b, "block at offset %llu: record %u at raw offset %zu: truncated entry header",
					  boff, n, at);
		len = get_le32(p + at);
		if (get_le32(p + at + 4) != 0)
			return block_fail(path, b, "block at offset %llu: record %u at raw offset %zu: reserved field not zero",
					  boff, n, at);
		entry = 8 + pad8(len);
		if (entry > raw_len - at)
			return block_fail(path, b, "block at offset %llu: record %u at raw offset %zu: length %u runs past the block (%zu bytes)",
					  boff, n, at, len, raw_len);
		if (check_record(p + at + 8, len))
			return block_fail(path, b, "block at offset %llu: record %u at raw offset %zu: length %u does not match type %u",
					  boff, n, at, len, len ? p[at + 8] : 0);
		at += entry;
		n++;
	}
	if (n != b->count)
		return block_fail(path, b, "block at offset %llu: header says %u records, block holds %u",
				  boff, b->count, n);
	return 0;
}

/* Version 3: check the XXH3 of the stored bytes, then LZ4-decompress them
 * to exactly raw_len bytes. */
static int block_unlz4(const char *path, struct rfile_block *b)
{
	unsigned long long boff = b->off;
	uint64_t sum = XXH3_64bits(b->comp, b->comp_len);
	int n;

	if (sum != b->sum)
		return block_fail(path, b, "block at offset %llu: XXH3 mismatch (stored 0x%016llx, computed 0x%016llx)",
				  boff, (unsigned long long)b->sum, (unsigned long long)sum);
	n = LZ4_decompress_safe((const char *)b->comp, (char *)b->raw, (int)b->comp_len,
				(int)b->raw_len);
	if (n < 0)
		return block_fail(path, b, "block at offset %llu: corrupt LZ4 data (error at payload offset %d, or it decompresses to more than the %u bytes the header says)",
				  boff, -n - 1, b->raw_len);
	if ((uint32_t)n != b->raw_len)
		return block_fail(path, b, "block at offset %llu: LZ4 data decompresses to %d bytes (header says %u)",
				  boff, n, b->raw_len);
	return 0;
}

/* Version 2: inflate to exactly raw_len bytes and check the crc32. */
static int block_inflate(const char *path, z_stream *zs, struct rfile_block *b)
{
	unsigned long long boff = b->off;
	uint32_t crc;
	int zret;

	if (inflateReset(zs) != Z_OK)
		return block_fail(path, b, "block at offset %llu: zlib inflateReset failed", boff);
	zs->next_in = b->comp;
	zs->avail_in = b->comp_len;
	zs->next_out = b->raw;
	zs->avail_out = b->raw_len;
	zret = inflate(zs, Z_FINISH);
	if (zret == Z_STREAM_END && (zs->avail_out || zs->avail_in))
		return block_fail(path, b, "block at offset %llu: compressed data inflates to %lu bytes (header says %u) or has %u trailing bytes",
				  boff, zs->total_out, b->raw_len, zs->avail_in);
	if (zret == Z_BUF_ERROR && zs->avail_out == 0)
		return block_fail(path, b, "block at offset %llu: compressed data inflates to more than the %u bytes the header says",
				  boff, b->raw_len);
	if (zret != Z_STREAM_END)
		return block_fail(path, b, "block at offset %llu: corrupt compressed data at payload offset %lu: %s",
				  boff, zs->total_in, zs->msg ? zs->msg : "unexpected end of stream");
	crc = (uint32_t)crc32(0, b->raw, b->raw_len);
	if (crc != b->sum)
		return block_fail(path, b, "block at offset %llu: crc32 mismatch (stored 0x%08x, computed 0x%08x)",
				  boff, (uint32_t)b->sum, crc);
	return 0;
}

/* Decompress, verify and check a block read by block_read; zs is used
 * for version 2 only. Returns 1 or -1. */
static int block_decode(const struct rfile_reader *r, z_stream *zs, struct rfile_block *b)
{
	int ret = r->version == RFILE_VERSION ? block_unlz4(r->path, b)
					      : block_inflate(r->path, zs, b);

	if (ret || check_block(r->path, b))
		return -1;
	return b->result = 1;
}

/* Hand a finished block (or its EOF/error) to the caller. */
static int deliver(struct rfile_reader *r, const struct rfile_block *b, const uint8_t **recs,
		   size_t *len, uint32_t *count)
{
	if (b->result < 0) {
		memcpy(r->err, b->err, sizeof(r->err));
		r->state = -1;
		return -1;
	}
	if (b->result == 0) {
		r->state = 1;
		return 0;
	}
	r->off = b->off + r->bhdr_size + b->comp_len;
	*recs = b->raw;
	*len = b->raw_len;
	*count = b->count;
	return 1;
}

static void *decoder_main(void *arg)
{
	struct rfile_thread *t = arg;
	struct rfile_reader *r = t->r;

	for (;;) {
		struct rfile_block *b;
		int ret;

		/* claim the next block number and read it, in file order */
		pthread_mutex_lock(&r->io);
		pthread_mutex_lock(&r->m);
		while (!r->quit && !r->stop && r->slots[r->read_seq % r->nslots].busy)
			pthread_cond_wait(&r->cv_free, &r->m);
		if (r->quit || r->stop) {
			pthread_mutex_unlock(&r->m);
			pthread_mutex_unlock(&r->io);
			return NULL;
		}
		b = &r->slots[r->read_seq % r->nslots];
		b->seq = r->read_seq++;
		b->busy = true;
		b->ready = false;
		pthread_mutex_unlock(&r->m);
		ret = block_read(r, b, r->read_off);
		if (ret == 1) {
			r->read_off = b->off + r->bhdr_size + b->comp_len;
		} else {
			pthread_mutex_lock(&r->m);
			r->stop = true; /* EOF or a bad block: nothing after it is read */
			pthread_cond_broadcast(&r->cv_free);
			pthread_mutex_unlock(&r->m);
		}
		pthread_mutex_unlock(&r->io);
		if (ret == 1 && block_decode(r, &t->zs, b) < 0) {
			pthread_mutex_lock(&r->m);
			r->stop = true;
			pthread_cond_broadcast(&r->cv_free);
			pthread_mutex_unlock(&r->m);
		}
		pthread_mutex_lock(&r->m);
		b->ready = true;
		pthread_cond_broadcast(&r->cv_ready);
		pthread_mutex_unlock(&r->m);
	}
}

static void stop_threads(struct rfile_reader *r)
{
	if (!r->nslots)
		return;
	pthread_mutex_lock(&r->m);
	r->quit = true;
	pthread_cond_broadcast(&r->cv_free);
	pthread_cond_broadcast(&r->cv_ready);
	pthread_mutex_unlock(&r->m);
	for (unsigned i = 0; r->threads && i < r->nthreads; i++) {
		if (r->threads[i].started)
			pthread_join(r->threads[i].tid, NULL);
		if (r->threads[i].zs_ok)
			inflateEnd(&r->threads[i].zs);
	}
	for (unsigned i = 0; r->slots && i < r->nslots; i++) {
		free(r->slots[i].comp);
		free(r->slots[i].raw);
	}
	free(r->threads);
	free(r->slots);
	r->threads = NULL;
	r->slots = NULL;
	r->nslots = 0;
	pthread_cond_destroy(&r->cv_free);
	pthread_cond_destroy(&r->cv_ready);
	pthread_mutex_destroy(&r->m);
	pthread_mutex_destroy(&r->io);
}

int rfile_reader_prefetch(struct rfile_reader *r, unsigned threads)
{
	int ret = 0;

	if (r->nslots || r->state || !threads)
		return 0;
	if (threads > 16)
		threads = 16;
	r->nthreads = threads;
	r->nslots = 2 * threads + 2;
	r->threads = calloc(threads, sizeof(*r->threads));
	r->slots = calloc(r->nslots, sizeof(*r->slots));
	pthread_mutex_init(&r->m, NULL);
	pthread_mutex_init(&r->io, NULL);
	pthread_cond_init(&r->cv_free, NULL);
	pthread_cond_init(&r->cv_ready, NULL);
	if (!r->threads || !r->slots) {
		ret = -ENOMEM;
		goto err_stop;
	}
	r->read_off = r->off;
	for (unsigned i = 0; i < threads; i++) {
		struct rfile_thread *t = &r->threads[i];

		t->r = r;
		if (r->version == RFILE_VERSION_ZLIB) {
			if (inflateInit2(&t->zs, -15) != Z_OK) {
				ret = -ENOMEM;
				goto err_stop;
			}
			t->zs_ok = true;
		}
		ret = -pthread_create(&t->tid, NULL, decoder_main, t);
		if (ret)
			goto err_stop;
		t->started = true;
	}
	return 0;

err_stop:
	/* threads already running may have read ahead: the file position is lost */
	stop_threads(r);
	r->nthreads = 0;
	if (r->read_seq)
		reader_fail(r, "read-ahead failed to start: %s", strerror(-ret));
	else
		lseek(r->fd, (off_t)r->off, SEEK_SET);
	return ret;
}

static int next_prefetched(struct rfile_reader *r, const uint8_t **recs, size_t *len,
			   uint32_t *count)
{
	struct rfile_block *b;

	pthread_mutex_lock(&r->m);
	if (r->held) {
		b = &r->slots[(r->cons_seq - 1) % r->nslots];
		b->busy = false;
		b->ready = false;
		r->held = false;
		pthread_cond_broadcast(&r->cv_free);
	}
	b = &r->slots[r->cons_seq % r->nslots];
	while (!(b->busy && b->ready && b->seq == r->cons_seq))
		pthread_cond_wait(&r->cv_ready, &r->m);
	r->cons_seq++;
	r->held = true;
	pthread_mutex_unlock(&r->m);
	return deliver(r, b, recs, len, count);
}

int rfile_reader_next_block(struct rfile_reader *r, const uint8_t **recs, size_t *len,
			    uint32_t *count)
{
	struct rfile_block *b = &r->one;

	if (r->state)
		return r->state > 0 ? 0 : -1;
	if (r->nslots)
		return next_prefetched(r, recs, len, count);
	if (block_read(r, b, r->off) == 1)
		block_decode(r, &r->zs, b);
	return deliver(r, b, recs, len, count);
}

int rfile_next_record(const uint8_t **cur, const uint8_t *end, const void **rec,
		      uint32_t *rec_len)
{
	const uint8_t *p = *cur;
	uint32_t len;
	size_t entry;

	if (!p || p >= end || (size_t)(end - p) < 8)
		return 0;
	len = get_le32(p);
	entry = 8 + pad8(len);
	if (entry > (size_t)(end - p))
		return 0;
	*rec = p + 8;
	*rec_len = len;
	*cur = p + entry;
	return 1;
}

const char *rfile_reader_error(const struct rfile_reader *r)
{
	return r->err;
}

uint64_t rfile_reader_offset(const struct rfile_reader *r)
{
	return r->off;
}

void rfile_reader_close(struct rfile_reader *r)
{
	if (!r)
		return;
	stop_threads(r);
	if (r->fd >= 0)
		close(r->fd);
	if (r->zs_ok)
		inflateEnd(&r->zs);
	free(r->one.comp);
	free(r->one.raw);
	free(r->path);
	free(r);
}
