/*
 * bench_codec.c - record-file codec candidates on a real record file.
 *
 * Reads every block of FILE (any version this build reads) into memory as
 * raw bytes, then for each codec compresses all blocks and decompresses
 * them again, ROUNDS times, keeping the best thread-CPU time of each
 * direction; also the checksums (zlib crc32, XXH3-64) over the raw bytes.
 * Prints ratio and MB/s of raw bytes; every decompression is checked
 * against the original.  bench/codec.sh runs it on a recorded nginx run.
 * With a third argument OUT, first writes every record again to OUT with
 * this build's writer (e.g. a version 2 file rewritten as version 3, so
 * that an old and a new build replay the same events side by side).
 */
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include "source/rfile.h"

struct blk {
	uint8_t *raw;
	size_t len;
};

static struct blk *blocks;
static size_t nblocks, total_raw;
static uint8_t *cbuf, *dbuf;
static size_t ccap;

static double cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void rewrite(const char *out)
{
	char err[512];
	struct rfile_writer *w = rfile_writer_open(out, err, sizeof(err));

	if (!w) {
		fprintf(stderr, "bench_codec: %s\n", err);
		exit(1);
	}
	for (size_t i = 0; i < nblocks; i++) {
		const uint8_t *cur = blocks[i].raw, *end = cur + blocks[i].len;
		const void *rec;
		uint32_t len;

		while (rfile_next_record(&cur, end, &rec, &len))
			if (rfile_writer_add(w, rec, len)) {
				fprintf(stderr, "bench_codec: %s: write failed\n", out);
				exit(1);
			}
	}
	if (rfile_writer_close(w)) {
		fprintf(stderr, "bench_codec: %s: write failed\n", out);
		exit(1);
	}
}

static void load(const char *path)
{
	char err[512];
	struct rfile_reader *r = rfile_reader_open(path, err, sizeof(err));
	const uint8_t *recs;
	size_t len, cap = 0;
	uint32_t count;

	if (!r) {
		fprintf(stderr, "bench_codec: %s\n", err);
		exit(1);
	}
	while (rfile_reader_next_block(r, &recs, &len, &count) == 1) {
		if (nblocks == cap) {
			cap = cap ? 2 * cap : 64;
			blocks = realloc(blocks, cap * sizeof(*blocks));
		}
		blocks[nblocks].raw = malloc(len);
		memcpy(blocks[nblocks].raw, recs, len);
		blocks[nblocks++].len = len;
		total_raw += len;
		if (len > ccap)
			ccap = len;
	}
	rfile_reader_close(r);
	ccap = ccap + ccap / 2 + 65536;
	cbuf = malloc(ccap);
	dbuf = malloc(ccap);
}

enum codec { ZLIB1, ZSTD1, ZSTD3, LZ4 };
static const char *names[] = { "zlib deflate -1 (raw)", "zstd -1", "zstd -3", "lz4 (default)" };

static size_t comp(enum codec c, const struct blk *b, void *ctx)
{
	switch (c) {
	case ZLIB1: {
		z_stream *zs = ctx;

		deflateReset(zs);
		zs->next_in = b->raw;
		zs->avail_in = (uInt)b->len;
		zs->next_out = cbuf;
		zs->avail_out = (uInt)ccap;
		deflate(zs, Z_FINISH);
		return zs->total_out;
	}
	case ZSTD1:
	case ZSTD3:
		return ZSTD_compressCCtx(ctx, cbuf, ccap, b->raw, b->len, c == ZSTD1 ? 1 : 3);
	case LZ4:
		return (size_t)LZ4_compress_default((const char *)b->raw, (char *)cbuf, (int)b->len,
						    (int)ccap);
	}
	return 0;
}

static size_t decomp(enum codec c, size_t clen, size_t rawlen, void *ctx)
{
	switch (c) {
	case ZLIB1: {
		z_stream *zs = ctx;

		inflateReset(zs);
		zs->next_in = cbuf;
		zs->avail_in = (uInt)clen;
		zs->next_out = dbuf;
		zs->avail_out = (uInt)rawlen;
		inflate(zs, Z_FINISH);
		return zs->total_out;
	}
	case ZSTD1:
	case ZSTD3:
		return ZSTD_decompressDCtx(ctx, dbuf, rawlen, cbuf, clen);
	case LZ4:
		return (size_t)LZ4_decompress_safe((const char *)cbuf, (char *)dbuf, (int)clen,
						   (int)rawlen);
	}
	return 0;
}

static void run(enum codec c, int rounds)
{
	z_stream dz = { 0 }, iz = { 0 };
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	void *cctx = c == ZLIB1 ? (void *)&dz : (void *)cc;
	void *dctx = c == ZLIB1 ? (void *)&iz : (void *)dc;
	double best_c = 1e9, best_d = 1e9;
	size_t total_c = 0;

	deflateInit2(&dz, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	inflateInit2(&iz, -15);
	for (int r = 0; r < rounds; r++) {
		double tc = 0, td = 0;

		total_c = 0;
		for (size_t i = 0; i < nblocks; i++) {
			double t0 = cpu_s(), t1, t2;
			size_t clen = comp(c, &blocks[i], cctx);

			t1 = cpu_s();
			if (decomp(c, clen, blocks[i].len, dctx) != blocks[i].len ||
			    memcmp(dbuf, blocks[i].raw, blocks[i].len)) {
				fprintf(stderr, "bench_codec: %s: block %zu does not round-trip\n", names[c], i);
				exit(1);
			}
			t2 = cpu_s();
			tc += t1 - t0;
			td += t2 - t1;
			total_c += clen;
		}
		if (tc < best_c)
			best_c = tc;
		if (td < best_d)
			best_d = td;
	}
	printf("| %s | %.2f | %.0f | %.0f |\n", names[c], (double)total_raw / (double)total_c,
	       (double)total_raw / best_c / 1e6, (double)total_raw / best_d / 1e6);
	deflateEnd(&dz);
	inflateEnd(&iz);
	ZSTD_freeCCtx(cc);
	ZSTD_freeDCtx(dc);
}

static void run_sums(int rounds)
{
	double best_crc = 1e9, best_xxh = 1e9;
	volatile uint64_t sink = 0;

	for (int r = 0; r < rounds; r++) {
		double t0 = cpu_s(), t1, t2;

		for (size_t i = 0; i < nblocks; i++)
			sink += crc32(0, blocks[i].raw, (uInt)blocks[i].len);
		t1 = cpu_s();
		for (size_t i = 0; i < nblocks; i++)
			sink += XXH3_64bits(blocks[i].raw, blocks[i].len);
		t2 = cpu_s();
		if (t1 - t0 < best_crc)
			best_crc = t1 - t0;
		if (t2 - t1 < best_xxh)
			best_xxh = t2 - t1;
	}
	printf("\n| checksum | MB/s |\n|---|---:|\n");
	printf("| zlib crc32 | %.0f |\n| XXH3-64 | %.0f |\n", (double)total_raw / best_crc / 1e6,
	       (double)total_raw / best_xxh / 1e6);
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 5;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_codec FILE.htr [ROUNDS [OUT.htr]]\n");
		return 2;
	}
	load(argv[1]);
	if (argc > 3)
		rewrite(argv[3]);
	printf("%s: %zu blocks, %.1f MB raw; best of %d rounds, thread CPU time, MB/s of raw bytes\n\n",
	       argv[1], nblocks, (double)total_raw / 1e6, rounds);
	printf("| codec | ratio | compress MB/s | decompress MB/s |\n|---|---:|---:|---:|\n");
	for (int c = ZLIB1; c <= LZ4; c++)
		run((enum codec)c, rounds);
	run_sums(rounds);
	return 0;
}
