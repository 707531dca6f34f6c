/*
 * output_fulldisk_driver.c - drives src/output.c into a real ENOSPC.
 *
 * Usage: output_fulldisk_driver DIR   (DIR: an empty, small file system, e.g. a 1 MiB tmpfs)
 *
 * Phase 1: a filler file takes most of the space; numbered NDJSON records
 * are written in batches until batches fail.  Checks: each failed batch
 * returned -1 and was counted in HT_C_DROP_OUTPUT_ERROR; the file holds
 * exactly the records of the successful batches, whole lines only.
 * Phase 2: the filler is deleted; the next batches must all succeed and
 * land after the earlier records.
 * Phase 3: the disk is filled by the output file itself; deleting that file
 * frees the space and the writer continues in a new file.
 * Phase 4: rotation with gzip on the nearly full disk: the writer never
 * leaves a partial line, and after close no .gz.tmp is left; once space
 * returns, the next open compresses what could not be compressed.
 * Prints one line per phase; exits 0 when every check holds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "config/config.h"
#include "sink/output.h"
#include "base/stats.h"

#define BATCH 50

static int failures;

#define CHECK(cond, ...)                                                         \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "output_fulldisk: FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
			failures++;                                              \
		}                                                                \
	} while (0)

static void add_record(struct ht_buf *b, uint32_t n)
{
	char line[256];
	int len = snprintf(line, sizeof(line),
			   "{\"n\":%u,\"pad\":\"%.*s\"}\n", n, (int)(n % 90),
			   "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp");

	ht_buf_put(b, line, (size_t)len);
}

static int write_batch(struct output *o, uint32_t first)
{
	struct ht_buf b = { 0 };
	int rc;

	for (uint32_t k = 0; k < BATCH; k++)
		add_record(&b, first + k);
	rc = output_write_batch(o, b.p, b.len, BATCH);
	ht_buf_free(&b);
	return rc;
}

static int read_all(const char *path, struct ht_buf *b)
{
	char tmp[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		ht_buf_put(b, tmp, (size_t)n);
	close(fd);
	return n < 0 ? -1 : 0;
}

/* Every line whole and numbered; returns the numbers found in *nums (malloc'd). */
static size_t parse_lines(const struct ht_buf *b, uint32_t **nums)
{
	size_t i = 0, n = 0, cap = 1024;

	*nums = malloc(cap * sizeof(**nums));
	while (i < b->len) {
		const char *nl = memchr(b->p + i, '\n', b->len - i);
		char *end;
		unsigned long v;

		if (!nl) {
			CHECK(0, "partial line at byte %zu of %zu", i, b->len);
			break;
		}
		CHECK(!memcmp(b->p + i, "{\"n\":", 5) && nl[-1] == '}', "malformed line at byte %zu", i);
		v = strtoul(b->p + i + 5, &end, 10);
		if (n == cap) {
			cap *= 2;
			*nums = realloc(*nums, cap * sizeof(**nums));
		}
		(*nums)[n++] = (uint32_t)v;
		i = (size_t)(nl - b->p) + 1;
	}
	return n;
}

static int fill(const char *path, size_t bytes)
{
	static char chunk[65536];
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	size_t done = 0;

	if (fd < 0)
		return -1;
	memset(chunk, 'f', sizeof(chunk));
	while (done < bytes) {
		size_t n = bytes - done < sizeof(chunk) ? bytes - done : sizeof(chunk);
		ssize_t w = write(fd, chunk, n);

		if (w <= 0)
			break;
		done += (size_t)w;
	}
	close(fd);
	return 0;
}

static void phase_full_and_recover(const char *dir)
{
	char path[512], filler[512], err[512];
	struct ht_config c = { 0 };
	struct ht_stats st = { 0 };
	struct ht_buf got = { 0 };
	struct output *o;
	uint32_t next = 0, *nums, ok_records = 0, dropped = 0, expect = 0;
	bool *written = calloc(200000, sizeof(*written));
	int failed = 0;
	size_t n;

	snprintf(path, sizeof(path), "%s/out/traces.log", dir);
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	CHECK(fill(filler, 900u << 10) == 0, "cannot write the filler file: %s", strerror(errno));
	c.output_path = path;
	c.format = HT_FMT_NDJSON;
	o = output_open(&c, &st, err, sizeof(err));
	if (!o) {
		CHECK(0, "output_open: %s", err);
		free(written);
		return;
	}
	output_set_retry_ms(o, 100);
	while (failed < 5 && next < 200000 - BATCH) {
		if (write_batch(o, next)) {
			failed++;
			dropped += BATCH;
		} else {
			for (uint32_t k = 0; k < BATCH; k++)
				written[next + k] = true;
			ok_records += BATCH;
		}
		next += BATCH;
	}
	CHECK(failed == 5, "the disk never filled up (%u records written)", ok_records);
	CHECK(st.c[HT_C_DROP_OUTPUT_ERROR] == dropped, "drops counted %llu, expected %u",
	      (unsigned long long)st.c[HT_C_DROP_OUTPUT_ERROR], dropped);
	CHECK(st.c[HT_C_RECORDS_WRITTEN] == ok_records, "written counted %llu, expected %u",
	      (unsigned long long)st.c[HT_C_RECORDS_WRITTEN], ok_records);
	printf("output_fulldisk: disk full after %u records; %u dropped and counted\n", ok_records,
	       dropped);

	/* free space: writes recover */
	unlink(filler);
	for (int i = 0; i < 20; i++, next += BATCH) {
		CHECK(write_batch(o, next) == 0, "batch %d after freeing space failed", i);
		for (uint32_t k = 0; k < BATCH; k++)
			written[next + k] = true;
	}
	output_close(o);
	CHECK(read_all(path, &got) == 0, "cannot read %s", path);
	n = parse_lines(&got, &nums);
	for (size_t i = 0; i < n; i++) {
		while (expect < next && !written[expect])
			expect++;
		if (nums[i] != expect) {
			CHECK(0, "line %zu holds record %u, expected %u", i, nums[i], expect);
			break;
		}
		expect++;
	}
	CHECK(n == ok_records + 20u * BATCH, "file holds %zu records, expected %u", n,
	      ok_records + 20 * BATCH);
	printf("output_fulldisk: recovered: %zu whole records in order, none partial\n", n);
	free(nums);
	free(written);
	ht_buf_free(&got);
}

/* The disk is full of our own file; deleting it must free the space and writes go to a new file. */
static void phase_delete_output(const char *dir)
{
	char path[512], err[512];
	struct ht_config c = { 0 };
	struct ht_stats st = { 0 };
	struct ht_buf got = { 0 };
	struct output *o;
	uint32_t next = 0, first, *nums;
	int failed = 0;
	size_t n;

	snprintf(path, sizeof(path), "%s/del/traces.log", dir);
	c.output_path = path;
	c.format = HT_FMT_NDJSON;
	o = output_open(&c, &st, err, sizeof(err));
	if (!o) {
		CHECK(0, "output_open: %s", err);
		return;
	}
	output_set_retry_ms(o, 50);
	while (failed < 2 && next < 1000000) {
		failed += write_batch(o, next) != 0;
		next += BATCH;
	}
	CHECK(failed == 2, "the disk never filled up");
	CHECK(unlink(path) == 0, "unlink %s: %s", path, strerror(errno));
	first = next;
	for (int i = 0; i < 10; i++, next += BATCH)
		CHECK(write_batch(o, next) == 0, "batch %d after deleting the full file failed", i);
	output_close(o);
	CHECK(read_all(path, &got) == 0, "no new file %s", path);
	n = parse_lines(&got, &nums);
	CHECK(n == 10 * BATCH, "new file holds %zu records, expected %d", n, 10 * BATCH);
	for (size_t i = 0; i < n; i++)
		CHECK(nums[i] == first + i, "new file: line %zu holds %u", i, nums[i]);
	printf("output_fulldisk: deleting the full output file freed the space; %zu records in a new file\n", n);
	free(nums);
	ht_buf_free(&got);
	unlink(path); /* room for the next phase */
}

static void phase_rotation(const char *dir)
{
	char path[512], filler[512], err[512], name[1024];
	struct ht_config c = { 0 };
	struct ht_stats st = { 0 };
	struct output *o;
	struct dirent *e;
	DIR *d;
	uint32_t next = 0;
	int failed = 0, files = 0;

	snprintf(path, sizeof(path), "%s/rot/traces.log", dir);
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	CHECK(fill(filler, 400u << 10) == 0, "cannot write the filler file");
	c.output_path = path;
	c.format = HT_FMT_NDJSON;
	c.rotation_enabled = true;
	c.rotation_max_size = 64 << 10;
	c.rotation_max_files = 100;
	c.rotation_gzip_level = HT_ROTATION_LEVEL_MIN;
	o = output_open(&c, &st, err, sizeof(err));
	if (!o) {
		CHECK(0, "output_open: %s", err);
		return;
	}
	output_set_retry_ms(o, 50);
	while (failed < 20 && next < 100000) {
		failed += write_batch(o, next) != 0;
		next += BATCH;
	}
	output_close(o);
	CHECK(failed > 0, "rotation phase never hit a full disk");
	snprintf(name, sizeof(name), "%s/rot", dir);
	d = opendir(name);
	CHECK(d != NULL, "cannot list %s", name);
	while (d && (e = readdir(d))) {
		struct ht_buf got = { 0 };
		uint32_t *nums;

		if (e->d_name[0] == '.')
			continue;
		files++;
		CHECK(!strstr(e->d_name, ".tmp"), "temporary file %s left behind", e->d_name);
		if (strstr(e->d_name, ".gz"))
			continue; /* the script runs gzip -t on these */
		snprintf(name, sizeof(name), "%s/rot/%s", dir, e->d_name);
		CHECK(read_all(name, &got) == 0, "cannot read %s", name);
		parse_lines(&got, &nums); /* flags partial lines */
		free(nums);
		ht_buf_free(&got);
	}
	if (d)
		closedir(d);
	printf("output_fulldisk: rotation on a full disk: %d files, %d batches dropped, no partial line, no .tmp\n",
	       files, failed);

	/* space returns: the next open compresses what could not be compressed */
	unlink(filler);
	o = output_open(&c, &st, err, sizeof(err));
	CHECK(o != NULL, "output_open after freeing space: %s", err);
	output_close(o);
	snprintf(name, sizeof(name), "%s/rot", dir);
	d = opendir(name);
	files = 0;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (e->d_name[0] == '.' || !strcmp(e->d_name, "traces.log"))
			continue;
		files++;
		CHECK(l > 3 && !strcmp(e->d_name + l - 3, ".gz"), "%s is still uncompressed", e->d_name);
	}
	if (d)
		closedir(d);
	printf("output_fulldisk: after freeing space: %d rotated files, all gzip-compressed\n", files);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR (an empty small file system)\n", argv[0]);
		return 2;
	}
	phase_full_and_recover(argv[1]);
	phase_delete_output(argv[1]);
	phase_rotation(argv[1]);
	if (failures) {
		fprintf(stderr, "output_fulldisk: %d check(s) failed\n", failures);
		return 1;
	}
	printf("output_fulldisk: ok\n");
	return 0;
}
