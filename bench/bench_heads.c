/*
 * bench_heads.c - CPU per message of httpp on the heads the tracer parses
 * live, warm in cache as in the shard (bench_parser.c streams a 160 MB
 * corpus instead).  Shapes: wrk's 51-byte GET and nginx's 200 with an
 * 8-header, 239-byte head and a 1 KiB body (bench/cpu.sh's traffic), plus
 * the requests and the responses of a parser corpus when one is given
 * (tools/gen_parser_corpus.py --max-body 0: 5-30 headers, heads only).
 * Each shape is a buffer of about 128 KiB of messages back to back, parsed
 * in one pass per block; printed is the minimum over the blocks of thread
 * CPU time per message (the machine is shared; noise only ever adds).
 *
 * Columns: this tree's parser at its default head scan level, then at
 * each other level the CPU has (httpp_simd_set).  Side by side:
 * bench/heads.mk with BASE=<another tree> also builds that tree's httpp.c
 * with its symbols renamed (bench/heads_base.c) as a last column.  Each
 * block runs every column, alternating which goes first; the ratio is
 * base / default.  Prints numbers, asserts nothing but that every column
 * counts the same messages and the same head fields.
 *
 * usage: bench_heads [BLOCKS [CORPUS]]   (env HEADS_LEVEL=NAME|base: that
 * column alone)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEADS_RUN run_cur
#include "heads_run.h"

#ifdef HT_BENCH_BASE
long run_base(const uint8_t *buf, size_t len, int kind, uint64_t *sum);
#endif

#define BUDGET (128u << 10) /* bytes of messages per shape */

struct shape {
	const char *name;
	int kind;
	uint8_t *buf;
	size_t len;
	long msgs;
};

typedef long (*run_fn)(const uint8_t *, size_t, int, uint64_t *);

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void add(struct shape *s, const void *m, size_t n)
{
	if (s->len + n > BUDGET && s->len)
		return;
	s->buf = realloc(s->buf, s->len + n);
	if (!s->buf) {
		perror("bench_heads");
		exit(1);
	}
	memcpy(s->buf + s->len, m, n);
	s->len += n;
	s->msgs++;
}

static void repeat(struct shape *s, const char *m, size_t n)
{
	while (s->len + n <= BUDGET)
		add(s, m, n);
}

static void nginx_200(struct shape *s)
{
	static const char head[] =
		"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
		"Date: Tue, 01 Dec 2026 15:29:27 GMT\r\nContent-Type: text/html\r\n"
		"Content-Length: 1024\r\nLast-Modified: Tue, 01 Dec 2026 15:10:00 GMT\r\n"
		"Connection: keep-alive\r\nETag: \"692d3c58-400\"\r\nAccept-Ranges: bytes\r\n\r\n";
	char m[sizeof(head) - 1 + 1024];

	memcpy(m, head, sizeof(head) - 1);
	memset(m + sizeof(head) - 1, 'x', 1024);
	repeat(s, m, sizeof(m));
}

/* The "REQ <n>\n<bytes>" / "RESP <n>\n<bytes>" records of a parser corpus. */
static int load_corpus(const char *path, struct shape *req, struct shape *resp)
{
	FILE *f = fopen(path, "rb");
	char line[64];
	unsigned long n;

	if (!f) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct shape *s = strncmp(line, "REQ ", 4) == 0 ? req : resp;
		char *m;

		if (sscanf(line + (s == req ? 4 : 5), "%lu", &n) != 1 || !(m = malloc(n ? n : 1)))
			break;
		if (fread(m, 1, n, f) != n) {
			free(m);
			break;
		}
		add(s, m, n);
		free(m);
		if (req->len + 4096 > BUDGET && resp->len + 4096 > BUDGET)
			break;
	}
	fclose(f);
	return 0;
}

/* One block of fn over s: seconds, or -1 if the count or the sum is off. */
static double block(run_fn fn, const struct shape *s, uint64_t *sum)
{
	double t0 = cpu_now();
	long m = fn(s->buf, s->len, s->kind, sum);
	double t = cpu_now() - t0;

	return m == s->msgs ? t : -1;
}

/* Column k: this tree at scan level lv[k], or the base parser (lv -1). */
static int bench(const struct shape *s, int blocks, const int *lv, int ncol)
{
	double best[HTTPP_SIMD__COUNT + 1];
	uint64_t sums[HTTPP_SIMD__COUNT + 1] = { 0 };

	for (int k = 0; k < ncol; k++)
		best[k] = 1e9;
	for (int i = 0; i < blocks; i++) {
		for (int j = 0; j < ncol; j++) {
			int k = (i & 1) ? ncol - 1 - j : j; /* alternate who goes first */
			run_fn fn = run_cur;
			uint64_t sum = 0;
			double t;

#ifdef HT_BENCH_BASE
			if (lv[k] < 0)
				fn = run_base;
#endif
			if (lv[k] >= 0)
				httpp_simd_set((enum httpp_simd)lv[k]);
			t = block(fn, s, &sum);
			if (t < 0 || (sums[k] && sum != sums[k]) || (sums[0] && sum != sums[0])) {
				fprintf(stderr, "bench_heads: %s: column %d miscounted\n", s->name, k);
				return -1;
			}
			sums[k] = sum;
			if (t < best[k])
				best[k] = t;
		}
	}
	printf("%-22s %5ld %7.1f", s->name, s->msgs, (double)s->len / s->msgs);
	for (int k = 0; k < ncol; k++)
		printf(" %9.1f", best[k] / s->msgs * 1e9);
	if (lv[ncol - 1] < 0)
		printf("   %.2fx", best[ncol - 1] / best[0]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const char wrk_get[] = "GET /bench.html HTTP/1.1\r\nHost: 127.0.0.1:18095\r\n\r\n";
	struct shape sh[4] = {
		{ .name = "wrk GET", .kind = 0 },
		{ .name = "nginx 200 (1 KiB body)", .kind = 1 },
		{ .name = "corpus requests", .kind = 0 },
		{ .name = "corpus responses", .kind = 1 },
	};
	int blocks = argc > 1 ? atoi(argv[1]) : 2000, n = 2, err = 0;
	int lv[HTTPP_SIMD__COUNT + 1], ncol = 0;
	const char *only;

	if (blocks < 1) {
		fprintf(stderr, "usage: bench_heads [BLOCKS [CORPUS]]\n");
		return 2;
	}
	repeat(&sh[0], wrk_get, sizeof(wrk_get) - 1);
	nginx_200(&sh[1]);
	if (argc > 2) {
		if (load_corpus(argv[2], &sh[2], &sh[3]))
			return 1;
		n = 4;
	}
	/* the default level first, then every other one the CPU has, then
	 * base; HEADS_LEVEL=<name> (or "base") runs that column alone */
	only = getenv("HEADS_LEVEL");
	lv[ncol++] = httpp_simd_get();
	for (int l = HTTPP_SIMD__COUNT - 1; l >= 0; l--)
		if (l != lv[0] && httpp_simd_set((enum httpp_simd)l) == 0)
			lv[ncol++] = l;
#ifdef HT_BENCH_BASE
	lv[ncol++] = -1;
#endif
	for (int k = 0; only && k < ncol; k++)
		if (strcmp(only, lv[k] < 0 ? "base" : httpp_simd_name((enum httpp_simd)lv[k])) == 0) {
			lv[0] = lv[k];
			ncol = 1;
		}
	printf("bench_heads: min of %d blocks of thread CPU time, ns per message\n%-22s %5s %7s",
	       blocks, "shape", "msgs", "B/msg");
	for (int k = 0; k < ncol; k++)
		printf(" %9s", lv[k] < 0 ? "base" : httpp_simd_name((enum httpp_simd)lv[k]));
	printf("%s\n", lv[ncol - 1] < 0 ? "   base/default" : "");
	for (int i = 0; i < n && !err; i++)
		err = bench(&sh[i], blocks, lv, ncol);
	for (int i = 0; i < 4; i++)
		free(sh[i].buf);
	return err ? 1 : 0;
}
