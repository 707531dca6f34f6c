/*
 * fuzz_rfile.c - libFuzzer target for the record-file reader
 * (source/rfile.c): open, read every block, walk every record.
 *
 * Random bytes almost never make a valid compressed block with the right
 * checksum, so byte 0 picks how the rest becomes a file:
 *   bit 0 clear: the rest is the file, verbatim (header and block checks);
 *   bit 0 set:   the rest is split into the raw contents of blocks (byte 1
 *                mod 16: entries per block, 0 = one block), which this target wraps
 *                in a valid file header and block headers with the right
 *                lengths, checksum and count (the count of well-formed entries),
 *                so the record checks are reached; bit 1 then perturbs one
 *                block header field (byte 1 picks which), bit 2 adds a
 *                truncated block at the end; bit 4 writes version 2
 *                (raw deflate + crc32) instead of version 3 (LZ4 + XXH3).
 *   bit 3:       read with rfile_reader_prefetch (2 threads).
 * Checked: no crash; every block returned holds exactly `count` entries,
 * each of which passes ht_event_check; after -1 the reader keeps
 * returning -1 with a message naming an offset.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <lz4.h>
#include <xxhash.h>
#include <zlib.h>

#include "fuzz_check.h"
#include "source/event.h"
#include "source/rfile.h"

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static void wr(int fd, const void *p, size_t n)
{
	FUZZ_CHECK(write(fd, p, n) == (ssize_t)n, "write to the memfd");
}

/* Entries rfile_next_record() accepts in raw[0..n). */
static uint32_t count_entries(const uint8_t *raw, size_t n)
{
	const uint8_t *cur = raw;
	const void *rec;
	uint32_t len, count = 0;

	while (rfile_next_record(&cur, raw + n, &rec, &len))
		count++;
	return count;
}

/* Version 2 payload: raw deflate, level 1. */
static size_t deflate_raw(const uint8_t *raw, size_t n, uint8_t *comp, size_t cap)
{
	z_stream zs = { 0 };
	size_t clen;

	FUZZ_CHECK(deflateInit2(&zs, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK, "deflate");
	zs.next_in = (Bytef *)raw;
	zs.avail_in = (uInt)n;
	zs.next_out = comp;
	zs.avail_out = (uInt)cap;
	FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END, "deflate of %zu bytes", n);
	clen = cap - zs.avail_out;
	deflateEnd(&zs);
	return clen;
}

/* One block of `version` whose decompressed bytes are raw[0..n); field
 * perturbed if asked. */
static void write_block(int fd, uint32_t version, const uint8_t *raw, size_t n, int perturb,
			bool cut)
{
	uint8_t hdr[RFILE_BLOCK_HDR_SIZE];
	static uint8_t comp[20000]; /* > either bound of the largest input kept */
	size_t clen, hsize = RFILE_BLOCK_HDR_SIZE;

	if (version == RFILE_VERSION_ZLIB) {
		clen = deflate_raw(raw, n, comp, sizeof(comp));
		put_le32(hdr + 16, (uint32_t)crc32(0, raw, (uInt)n));
		hsize = RFILE_BLOCK_HDR_SIZE_V2;
	} else {
		int k = LZ4_compress_default((const char *)raw, (char *)comp, (int)n, sizeof(comp));

		FUZZ_CHECK(k > 0 || n == 0, "LZ4 of %zu bytes", n);
		clen = k > 0 ? (size_t)k : 0;
		put_le64(hdr + 16, XXH3_64bits(comp, clen));
	}
	put_le32(hdr, RFILE_BLOCK_MAGIC);
	put_le32(hdr + 4, (uint32_t)clen);
	put_le32(hdr + 8, (uint32_t)n);
	put_le32(hdr + 12, count_entries(raw, n));
	if (perturb >= 0)
		hdr[4 + 4 * (perturb % 4)] ^= (uint8_t)(1u << (perturb / 4 % 8));
	wr(fd, hdr, hsize);
	wr(fd, comp, cut ? clen / 2 : clen);
}

/* Length of the first `entries` well-formed entries of raw[0..n) (all of
 * raw if fewer, or if entries is 0). */
static size_t entries_len(const uint8_t *raw, size_t n, unsigned entries)
{
	const uint8_t *cur = raw;
	const void *rec;
	uint32_t len;

	if (!entries)
		return n;
	for (unsigned i = 0; i < entries; i++)
		if (!rfile_next_record(&cur, raw + n, &rec, &len))
			return n;
	return (size_t)(cur - raw);
}

static void write_wrapped(int fd, const uint8_t *opt, const uint8_t *raw, size_t n)
{
	uint8_t fh[RFILE_HDR_SIZE] = { 0 };
	int perturb = opt[0] & 2 ? opt[1] : -1;
	uint32_t version = opt[0] & 16 ? RFILE_VERSION_ZLIB : RFILE_VERSION;
	size_t off = 0;

	memcpy(fh, RFILE_MAGIC, 8);
	put_le32(fh + 8, version);
	put_le32(fh + 12, RFILE_HDR_SIZE);
	put_le64(fh + 24, 1);
	wr(fd, fh, sizeof(fh));
	do { /* blocks of opt[1] % 16 entries (0: one block) */
		size_t len = entries_len(raw + off, n - off, opt[1] % 16);

		write_block(fd, version, raw + off, len, off == 0 ? perturb : -1, false);
		off += len;
	} while (off < n);
	if (opt[0] & 4)
		write_block(fd, version, raw, n, -1, true);
}

static void check_block(const uint8_t *recs, size_t len, uint32_t count)
{
	const uint8_t *cur = recs;
	const void *rec;
	uint32_t rec_len, n = 0;

	while (rfile_next_record(&cur, recs + len, &rec, &rec_len)) {
		FUZZ_CHECK(((uintptr_t)rec & 7) == 0, "record %u not 8-byte aligned", n);
		FUZZ_CHECK(ht_event_check(rec, rec_len) == 0, "record %u of %u bytes fails ht_event_check",
			   n, rec_len);
		n++;
	}
	FUZZ_CHECK(n == count, "block says %u records, %u walked", count, n);
}

static void read_all(const char *path, bool prefetch)
{
	char err[256];
	struct rfile_reader *r = rfile_reader_open(path, err, sizeof(err));
	const uint8_t *recs;
	size_t len;
	uint32_t count;
	int rc;

	if (!r) {
		if (getenv("FUZZ_TRACE"))
			fprintf(stderr, "  open: %s\n", err);
		FUZZ_CHECK(err[0], "open failed without a message");
		return;
	}
	if (prefetch)
		rfile_reader_prefetch(r, 2);
	while ((rc = rfile_reader_next_block(r, &recs, &len, &count)) == 1) {
		if (getenv("FUZZ_TRACE"))
			fprintf(stderr, "  block: %u records, %zu bytes\n", count, len);
		check_block(recs, len, count);
	}
	if (rc < 0 && getenv("FUZZ_TRACE"))
		fprintf(stderr, "  error: %s\n", rfile_reader_error(r));
	if (rc < 0) {
		FUZZ_CHECK(strstr(rfile_reader_error(r), "offset"), "error without an offset: %s",
			   rfile_reader_error(r));
		FUZZ_CHECK(rfile_reader_next_block(r, &recs, &len, &count) == -1, "-1 is not sticky");
	}
	rfile_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd;

	if (size < 2 || size > 8192)
		return 0;
	fd = memfd_create("fuzz_rfile", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0, "memfd_create");
	if (data[0] & 1)
		write_wrapped(fd, data, data + 2, size - 2);
	else
		wr(fd, data + 1, size - 1);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	read_all(path, data[0] & 8);
	close(fd);
	return 0;
}
