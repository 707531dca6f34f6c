/*
 * bench_gzip.c - CPU of compressing a rotated output file, per record:
 * zlib's streaming deflate in 256 KiB reads (how src/sink/output.c
 * gzipped rotated files before session 20) against the output module's
 * compressor (src/sink/gz.c: libdeflate, one gzip member per MiB) at
 * levels 1, 6 and 9, side by side in one run.
 *
 *   build/bench_gzip FILE [ROUNDS]     (FILE: NDJSON, e.g. a tracer's output)
 *
 * The first 128 MiB of FILE are copied to a temporary file, which stays in
 * the page cache; every round compresses it once per way, the ways'
 * order rotating between rounds, into /dev/null-like discarded output (a
 * temporary file truncated after each run).  Per way: the median over
 * rounds of the thread's CPU time (CLOCK_THREAD_CPUTIME_ID) per input
 * record (newline) and per MiB, and the compression ratio.  Prints numbers;
 * asserts nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base/fdio.h"
#include "sink/gz.h"

#define INPUT_MAX (128u << 20)
#define ZCHUNK (256u << 10)
#define MAX_ROUNDS 64

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The old way: read ZCHUNK, deflate it with Z_NO_FLUSH, write what comes out. */
static int zlib_copy(int level, int in, int out)
{
	static unsigned char ibuf[ZCHUNK], obuf[ZCHUNK];
	z_stream zs = { 0 };
	int zr = Z_OK, rc = 0;

	if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	while (zr != Z_STREAM_END && !rc) {
		ssize_t n = ht_read_full(in, ibuf, ZCHUNK);

		if (n < 0) {
			rc = (int)n;
			break;
		}
		zs.next_in = ibuf;
		zs.avail_in = (uInt)n;
		do {
			zs.next_out = obuf;
			zs.avail_out = ZCHUNK;
			zr = deflate(&zs, n == 0 ? Z_FINISH : Z_NO_FLUSH);
			rc = ht_write_all(out, obuf, ZCHUNK - zs.avail_out);
		} while (!rc && zs.avail_out == 0);
	}
	deflateEnd(&zs);
	return rc;
}

struct way {
	const char *name;
	int zlib_level;   /* > 0: the old way */
	int level;        /* else gz at this level */
	double cpu[MAX_ROUNDS];
	off_t out_bytes;
};

static int run_way(struct way *w, int in, int out, int round)
{
	struct gz *g = NULL;
	double t;
	int rc;

	if (!w->zlib_level && !(g = gz_new(w->level)))
		return -ENOMEM;
	if (lseek(in, 0, SEEK_SET) || ftruncate(out, 0) || lseek(out, 0, SEEK_SET))
		return -errno;
	t = thread_cpu();
	rc = w->zlib_level ? zlib_copy(w->zlib_level, in, out) : gz_file(g, in, out);
	w->cpu[round] = thread_cpu() - t;
	w->out_bytes = lseek(out, 0, SEEK_END);
	gz_free(g);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A private copy of FILE's first INPUT_MAX bytes; its size and records. */
static int load_input(const char *path, size_t *size, size_t *records)
{
	char name[] = "/tmp/bench_gzip_in_XXXXXX";
	char *buf = malloc(INPUT_MAX);
	int src = open(path, O_RDONLY), fd = mkstemp(name);
	ssize_t n;

	if (!buf || src < 0 || fd < 0)
		return -1;
	unlink(name);
	n = ht_read_full(src, buf, INPUT_MAX);
	if (n <= 0 || ht_write_all(fd, buf, (size_t)n))
		return -1;
	*size = (size_t)n;
	*records = 0;
	for (ssize_t i = 0; i < n; i++)
		*records += buf[i] == '\n';
	free(buf);
	close(src);
	return fd;
}

int main(int argc, char **argv)
{
	struct way ways[] = {
		{ "zlib 6 (before)", 6, 0 }, { "zlib 1", 1, 0 },
		{ "gz_file 1 (default)", 0, 1 }, { "gz_file 6", 0, 6 }, { "gz_file 9", 0, 9 },
	};
	const int nw = (int)(sizeof(ways) / sizeof(ways[0]));
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	char oname[] = "/tmp/bench_gzip_out_XXXXXX";
	size_t size, records;
	int in, out;

	if (argc < 2 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: bench_gzip FILE [ROUNDS (1..%d)]\n", MAX_ROUNDS);
		return 2;
	}
	in = load_input(argv[1], &size, &records);
	out = mkstemp(oname);
	if (in < 0 || out < 0 || !records) {
		fprintf(stderr, "bench_gzip: cannot read %s or write /tmp\n", argv[1]);
		return 1;
	}
	unlink(oname);
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < nw; k++)
			if (run_way(&ways[(k + r) % nw], in, out, r)) {
				fprintf(stderr, "bench_gzip: %s failed\n", ways[(k + r) % nw].name);
				return 1;
			}
	printf("bench_gzip: %s, %zu bytes, %zu records (%.0f bytes each), %d rounds, medians\n",
	       argv[1], size, records, (double)size / (double)records, rounds);
	for (int k = 0; k < nw; k++) {
		struct way *w = &ways[k];
		double med;

		qsort(w->cpu, (size_t)rounds, sizeof(double), cmp_double);
		med = w->cpu[rounds / 2];
		printf("  %-20s %8.0f ns/record %7.1f ms/MiB  ratio %5.1f  cpu/before %.2f\n",
		       w->name, med / (double)records * 1e9, med / ((double)size / 1048576) * 1e3,
		       (double)size / (double)w->out_bytes, med / ways[0].cpu[rounds / 2]);
	}
	return 0;
}
