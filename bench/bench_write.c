/*
 * bench_write.c - CPU of the writer's write path into a file: batches of
 * NDJSON records as the shards make them (batchSize 100, about 1,750 bytes
 * a record, so ~175 KB a batch), appended to a file in DIR (the same file
 * system as the tracer's output) in several ways, side by side in one run:
 *
 *   batch        one write(2) per batch (the writer before session 18)
 *   coalesce=K   batches gathered until K KiB are queued, then one writev(2)
 *   aligned=K    as coalesce, but each write ends on a K KiB file offset
 *                (the rest of the last batch waits for the next write)
 *   +falloc=M    any of the above, with fallocate(FALLOC_FL_KEEP_SIZE) of
 *                M MiB ahead of the write position whenever it gets close
 *   +behind=B    drop-behind as the output module does it: every B bytes,
 *                their writeback started (sync_file_range) and the pages of
 *                the three steps before the last dropped (POSIX_FADV_DONTNEED)
 *   output       the real output module (src/sink/output.c: preallocation
 *                on ext4 and drop-behind included), fed batch by batch as
 *                the writer did before session 18, or gathered to 1 MiB
 *                with output_write_batches as it does now
 *
 * Each mode writes TOTAL MiB into a fresh file per round; the rounds
 * alternate the modes.  The thread's CPU time (CLOCK_THREAD_CPUTIME_ID) is
 * sampled every 16 MiB written; a mode's figures are the median and p90 of
 * its samples over all rounds, the mean over everything, and the kernel's
 * share (getrusage(RUSAGE_THREAD) system time: tick-sampled, so only over
 * whole runs).  Writeback by the kernel's flusher threads is not the
 * writer's CPU and is not counted; each file is fsynced and deleted after
 * its run, outside the timing.  The page cache reuses the pages of the
 * file deleted before unless TOTAL is large: on a VM whose memory was
 * never touched, fresh pages cost a host fault each (PERFORMANCE.md).
 *
 * Usage: build/bench_write [DIR [TOTAL_MiB [ROUNDS [MODES]]]]  (default /tmp 256 5,
 * all modes; MODES picks some by their number in the table, e.g. 0,6,15:
 * the first is the ratios' base)
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "sink/output.h"

#define REC_BYTES 1750
#define BATCH_RECS 100
#define N_BATCHES 64 /* distinct batches, reused round robin */
#define MAX_IOV 64

struct mode {
	const char *name;
	size_t coalesce;  /* bytes to gather before a write; 0 = per batch */
	size_t align;     /* writes end on this file offset multiple; 0 = none */
	size_t falloc;    /* preallocation step; 0 = none */
	int output;       /* through the output module */
	size_t behind;    /* drop-behind step; 0 = leave the pages to the kernel */
};

static char *batches[N_BATCHES];
static size_t batch_len[N_BATCHES];

/* One NDJSON-looking record of about REC_BYTES: varied digits and text. */
static size_t make_record(char *p, unsigned seed)
{
	static const char *words[] = { "GET", "/api/v1/items", "nginx", "text/html",
				       "keep-alive", "gzip, deflate", "Mozilla/5.0" };
	size_t n = (size_t)sprintf(p, "{\"ts\":\"2026-12-01T15:%02u:%02u.%06uZ\",\"role\":\"server\","
				   "\"status\":200,\"duration_us\":%u,\"headers\":{",
				   seed % 60, (seed / 60) % 60, seed * 7919u % 1000000, seed % 977);

	for (unsigned i = 0; n < REC_BYTES - 64; i++)
		n += (size_t)sprintf(p + n, "\"h%u\":\"%s %u\",", i, words[(seed + i) % 7],
				     seed * 31u + i);
	n += (size_t)sprintf(p + n, "\"x\":\"%u\"}}\n", seed);
	return n;
}

static void make_batches(void)
{
	for (int b = 0; b < N_BATCHES; b++) {
		char *p = malloc(BATCH_RECS * (REC_BYTES + 64));
		size_t n = 0;

		for (int r = 0; r < BATCH_RECS; r++)
			n += make_record(p + n, (unsigned)(b * BATCH_RECS + r));
		batches[b] = p;
		batch_len[b] = n;
	}
}

/* The thread's CPU time (CLOCK_THREAD_CPUTIME_ID: exact) and in *sys_ns
 * its system part (getrusage: sampled at ticks, good over whole runs). */
static uint64_t thread_cpu_ns(uint64_t *sys_ns)
{
	struct timespec ts;
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	*sys_ns = (uint64_t)ru.ru_stime.tv_sec * 1000000000ull + (uint64_t)ru.ru_stime.tv_usec * 1000;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Per-block samples: CPU ns of each BLOCK bytes written, all rounds. */
#define BLOCK (16u << 20)
#define MAX_SAMPLES 4096
#define MAX_MODES 32
static uint64_t samples[MAX_MODES][MAX_SAMPLES];
static int n_samples[MAX_MODES], cur_mode;
static uint64_t block_t0, block_bytes;

static void block_start(void)
{
	uint64_t sys;

	block_t0 = thread_cpu_ns(&sys);
	block_bytes = 0;
}

/* After a write of n bytes: a sample per full block. */
static void block_tick(size_t n)
{
	uint64_t sys, t;

	block_bytes += n;
	if (block_bytes < BLOCK)
		return;
	t = thread_cpu_ns(&sys);
	if (n_samples[cur_mode] < MAX_SAMPLES)
		samples[cur_mode][n_samples[cur_mode]++] = (t - block_t0) * BLOCK / block_bytes;
	block_t0 = t;
	block_bytes = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void full_writev(int fd, struct iovec *iov, int n)
{
	while (n) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("writev");
		}
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

/* The raw-syscall modes: a queue of (pointer, length) pieces, written as
 * the mode says. */
static void run_raw(const struct mode *m, int fd, uint64_t total)
{
	struct iovec q[MAX_IOV];
	int nq = 0;
	size_t queued = 0;
	uint64_t off = 0, alloc_end = 0, wb_end = 0;

	for (uint64_t done = 0, b = 0; done < total; b++) {
		int k = (int)(b % N_BATCHES);

		q[nq].iov_base = batches[k];
		q[nq++].iov_len = batch_len[k];
		queued += batch_len[k];
		done += batch_len[k];
		if (queued < m->coalesce && nq < MAX_IOV - 1 && done < total)
			continue;
		if (m->falloc && off + queued + m->falloc / 2 > alloc_end) {
			uint64_t to = (off + queued + 2 * m->falloc - 1) / m->falloc * m->falloc;

			if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)alloc_end, (off_t)(to - alloc_end)))
				die("fallocate");
			alloc_end = to;
		}
		if (m->align && done < total) {
			/* write up to the last aligned offset; keep the rest queued */
			uint64_t end = (off + queued) / m->align * m->align;
			size_t part = (size_t)(end - off), rest = queued - part;
			struct iovec tail;
			int n = nq;

			if (!part)
				continue;
			/* split the last pieces: the bytes past `end` stay */
			while (rest) {
				struct iovec *v = &q[n - 1];

				if (v->iov_len <= rest) {
					rest -= v->iov_len;
					n--;
					continue;
				}
				tail.iov_base = (char *)v->iov_base + (v->iov_len - rest);
				tail.iov_len = rest;
				v->iov_len -= rest;
				break;
			}
			rest = queued - part;
			full_writev(fd, q, n);
			block_tick(part);
			off += part;
			nq = 0;
			queued = 0;
			if (rest) {
				/* every piece past `end` is the tail plus whole later pieces
				 * (there are none: a write happens as soon as the queue is
				 * over the threshold, so only the last piece is split) */
				q[0] = tail;
				nq = 1;
				queued = rest;
			}
			continue;
		}
		full_writev(fd, q, nq);
		block_tick(queued);
		off += queued;
		nq = 0;
		queued = 0;
		if (m->behind && off >= wb_end + m->behind) {
			/* as src/sink/output.c does it */
			sync_file_range(fd, (off_t)wb_end, (off_t)(off - wb_end), SYNC_FILE_RANGE_WRITE);
			wb_end = off;
			if (wb_end > 2 * m->behind) {
				uint64_t to = wb_end - m->behind;
				uint64_t from = to > 3 * m->behind ? to - 3 * m->behind : 0;

				posix_fadvise(fd, (off_t)from, (off_t)(to - from), POSIX_FADV_DONTNEED);
			}
		}
	}
}

/* Through the output module: batch by batch (output_write_batch, the
 * writer before session 18) or gathered to m->coalesce bytes as the writer
 * does now (output_write_batches).  Timed up to output_close (its fsync is
 * not the write path's). */
static uint64_t run_output(const struct mode *m, const char *path, uint64_t total, uint64_t *sys)
{
	struct output_batch v[MAX_IOV];
	struct ht_config c;
	uint64_t s0, s1, t0, t1, written = 0;
	size_t queued = 0;
	char err[256];
	struct output *o;
	int nv = 0;

	memset(&c, 0, sizeof(c));
	c.output_path = (char *)path;
	c.format = HT_FMT_NDJSON;
	o = output_open(&c, NULL, err, sizeof(err));
	if (!o) {
		fprintf(stderr, "bench_write: %s\n", err);
		exit(1);
	}
	t0 = thread_cpu_ns(&s0);
	block_start();
	for (uint64_t done = 0, b = 0; done < total; b++) {
		int k = (int)(b % N_BATCHES);

		done += batch_len[k];
		if (!m->coalesce) {
			if (output_write_batch(o, batches[k], batch_len[k], BATCH_RECS))
				die("output_write_batch");
			block_tick(batch_len[k]);
			continue;
		}
		v[nv++] = (struct output_batch){ batches[k], batch_len[k], BATCH_RECS };
		queued += batch_len[k];
		if (queued < m->coalesce && nv < MAX_IOV && done < total)
			continue;
		if (output_write_batches(o, v, nv, &written))
			die("output_write_batches");
		block_tick(queued);
		nv = 0;
		queued = 0;
	}
	t1 = thread_cpu_ns(&s1);
	output_close(o);
	*sys = s1 - s0;
	return t1 - t0;
}

/* One timed run of mode m: CPU ns (total and system) for total bytes. */
static uint64_t run_mode(const struct mode *m, const char *dir, uint64_t total, uint64_t *sys)
{
	char path[PATH_MAX];
	uint64_t s0, s1, t0, t1;
	int fd;

	snprintf(path, sizeof(path), "%s/bench_write.%d.out", dir, (int)getpid());
	unlink(path);
	if (m->output) {
		t0 = run_output(m, path, total, sys);
		unlink(path);
		return t0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		die(path);
	t0 = thread_cpu_ns(&s0);
	block_start();
	run_raw(m, fd, total);
	t1 = thread_cpu_ns(&s1);
	fsync(fd);
	close(fd);
	unlink(path);
	*sys = s1 - s0;
	return t1 - t0;
}

int main(int argc, char **argv)
{
	static const struct mode modes[] = {
		{ "batch (one write per batch)", 0, 0, 0, 0 },
		{ "coalesce=1M", 1 << 20, 0, 0, 0 },
		{ "aligned=256K", 256 << 10, 256 << 10, 0, 0 },
		{ "aligned=1M", 1 << 20, 1 << 20, 0, 0 },
		{ "aligned=2M", 2 << 20, 2 << 20, 0, 0 },
		{ "batch+falloc=16M", 0, 0, 16 << 20, 0 },
		{ "coalesce=1M+falloc=16M", 1 << 20, 0, 16 << 20, 0 },
		{ "aligned=256K+falloc=16M", 256 << 10, 256 << 10, 16 << 20, 0 },
		{ "aligned=1M+falloc=16M", 1 << 20, 1 << 20, 16 << 20, 0 },
		{ "aligned=2M+falloc=16M", 2 << 20, 2 << 20, 16 << 20, 0 },
		{ "aligned=2M+falloc=64M", 2 << 20, 2 << 20, 64 << 20, 0 },
		{ "coalesce=1M+falloc+behind=8M", 1 << 20, 0, 16 << 20, 0, 8 << 20 },
		{ "batch+behind=8M", 0, 0, 0, 0, 8 << 20 },
		{ "coalesce=1M+behind=8M", 1 << 20, 0, 0, 0, 8 << 20 },
		{ "output, batch by batch", 0, 0, 0, 1 },
		{ "output, gathered to 1M", 1 << 20, 0, 0, 1 },
	};
	enum { N_MODES = sizeof(modes) / sizeof(modes[0]) };
	_Static_assert(N_MODES <= MAX_MODES, "MAX_MODES");
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	uint64_t total = (uint64_t)(argc > 2 ? atoi(argv[2]) : 256) << 20;
	int rounds = argc > 3 ? atoi(argv[3]) : 5;
	uint64_t sum[N_MODES] = { 0 }, sum_sys[N_MODES] = { 0 }, med[N_MODES], p90[N_MODES];
	size_t rec_bytes;

	make_batches();
	rec_bytes = batch_len[0] / BATCH_RECS;
	int pick[N_MODES], n_pick = 0;

	for (char *s = argc > 4 ? argv[4] : NULL, *e; s && *s && n_pick < N_MODES; s = e) {
		int k = (int)strtol(s, &e, 10);

		if (e == s || k < 0 || k >= N_MODES) {
			fprintf(stderr, "bench_write: no mode %s (0..%d)\n", s, N_MODES - 1);
			return 2;
		}
		pick[n_pick++] = k;
		if (*e == ',')
			e++;
	}
	if (!n_pick)
		for (int i = 0; i < N_MODES; i++)
			pick[n_pick++] = i;
	for (int r = 0; r < rounds; r++) {
		for (int j = 0; j < n_pick; j++) {
			int i = pick[j];
			uint64_t sys;

			cur_mode = i;
			sum[i] += run_mode(&modes[i], dir, total, &sys);
			sum_sys[i] += sys;
		}
	}
	for (int j = 0; j < n_pick; j++) {
		int i = pick[j];

		qsort(samples[i], (size_t)n_samples[i], sizeof(uint64_t), cmp_u64);
		med[i] = n_samples[i] ? samples[i][n_samples[i] / 2] : 0;
		p90[i] = n_samples[i] ? samples[i][n_samples[i] * 9 / 10] : 0;
	}
	printf("bench_write: %s, %llu MiB per run, %d rounds, batches of %d records of ~%zu bytes (%zu KB);\n"
	       "  per mode: the median of its %u MiB blocks' thread CPU, the mean over all, the kernel's share\n",
	       dir, (unsigned long long)(total >> 20), rounds, BATCH_RECS, rec_bytes,
	       batch_len[0] / 1000, BLOCK >> 20);
	printf("   %-30s %8s %8s %8s %5s %10s %6s\n", "mode", "median", "p90", "mean", "sys",
	       "ns/record", "ratio");
	printf("   %-30s %8s %8s %8s %5s %10s %6s\n", "", "us/MiB", "us/MiB", "us/MiB", "",
	       "(median)", "(med)");
	for (int j = 0; j < n_pick; j++) {
		double mib = (double)(total >> 20) * rounds, recs_per_mib = (1 << 20) / (double)rec_bytes;
		int i = pick[j];

		printf("%2d %-30s %8.1f %8.1f %8.1f %4.0f%% %10.1f %6.2f\n", i, modes[i].name,
		       med[i] * (double)(1 << 20) / BLOCK / 1000.0,
		       p90[i] * (double)(1 << 20) / BLOCK / 1000.0, sum[i] / 1000.0 / mib,
		       sum_sys[i] > sum[i] ? 100.0 : 100.0 * (double)sum_sys[i] / (double)sum[i],
		       med[i] * (double)(1 << 20) / BLOCK / recs_per_mib,
		       (double)med[i] / (double)med[pick[0]]);
	}
	return 0;
}
