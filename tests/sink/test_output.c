/*
 * test_output.c - the output file: creation modes, error messages, whole
 * batches, rotation under load with background gzip (every record exactly
 * once, in order), maxFiles deletion, CSV headers per file, leftovers of an
 * earlier run, and write failures (RLIMIT_FSIZE stands in for a full disk:
 * a partial write followed by EFBIG) with recovery; batches gathered into
 * one writev (output_write_batches) rotate exactly where they would one by
 * one, and blocks preallocated on ext4 are given back at close.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <zlib.h>

#include "base/buf.h"
#include "config/config.h"
#include "sink/format.h"
#include "sink/output.h"
#include "base/stats.h"

struct fixture {
	char dir[64];
	char path[256];
	struct ht_config c;
	struct ht_stats st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/test_output_XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/logs/traces.log", f->dir);
	f->c.output_path = f->path;
	f->c.format = HT_FMT_NDJSON;
	f->c.rotation_gzip_level = 6;
	*state = f;
	return 0;
}

static int set_immutable(const char *dir, bool on)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY), flags, rc = -1;

	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
	return rc;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "%s/logs", f->dir);
	set_immutable(cmd, false); /* in case test_rotation_blocked failed half-way */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static void read_file(const char *path, struct ht_buf *b)
{
	char tmp[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		assert_int_equal(ht_buf_put(b, tmp, (size_t)n), 0);
	assert_int_equal(n, 0);
	close(fd);
}

static void read_gz(const char *path, struct ht_buf *b)
{
	char tmp[65536];
	gzFile g = gzopen(path, "rb");
	int n;

	assert_non_null(g);
	while ((n = gzread(g, tmp, sizeof(tmp))) > 0)
		assert_int_equal(ht_buf_put(b, tmp, (size_t)n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(gzclose(g), Z_OK);
}

static mode_t mode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* One numbered NDJSON record; the padding varies so batches vary in size. */
static void add_record(struct ht_buf *b, uint32_t n)
{
	char line[256];
	int pad = (int)(n * 7919u % 97u);
	int len = snprintf(line, sizeof(line), "{\"n\":%u,\"pad\":\"%.*s\"}\n", n, pad,
			   "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp");

	assert_int_equal(ht_buf_put(b, line, (size_t)len), 0);
}

/* Write records [from, to) in batches of `batch`; returns how many batches failed. */
static int write_range(struct output *o, uint32_t from, uint32_t to, uint32_t batch)
{
	struct ht_buf b = { 0 };
	int failed = 0;

	for (uint32_t i = from; i < to; i += batch) {
		uint32_t n = to - i < batch ? to - i : batch;

		b.len = 0;
		for (uint32_t k = 0; k < n; k++)
			add_record(&b, i + k);
		if (output_write_batch(o, b.p, b.len, n))
			failed++;
	}
	ht_buf_free(&b);
	return failed;
}

/*
 * Check that data holds whole numbered records, consecutive from *next;
 * advances *next.  skip_header drops a first CSV-like line.
 */
static void check_sequence(const struct ht_buf *data, uint32_t *next)
{
	size_t i = 0;

	while (i < data->len) {
		const char *nl = memchr(data->p + i, '\n', data->len - i);
		unsigned long v;
		char *end;

		assert_non_null(nl); /* never a partial line */
		assert_memory_equal(data->p + i, "{\"n\":", 5);
		v = strtoul(data->p + i + 5, &end, 10);
		assert_true(end < nl && *end == ',');
		assert_memory_equal(nl - 2, "\"}", 2);
		if (v != *next) {
			print_error("expected record %u, found %lu\n", *next, v);
			fail();
		}
		(*next)++;
		i = (size_t)(nl - data->p) + 1;
	}
}

/* Highest K such that path.K.gz exists; asserts no uncompressed or .tmp file is left. */
static unsigned rotated_count(const char *dir, const char *base)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned max = 0, n = 0;
	size_t bl = strlen(base);
	char bad[300] = "";

	assert_non_null(d);
	while ((e = readdir(d))) {
		unsigned k;
		char rest[32] = "";

		if (e->d_name[0] == '.' || !strcmp(e->d_name, base))
			continue;
		if (strncmp(e->d_name, base, bl) || sscanf(e->d_name + bl, ".%u%31s", &k, rest) < 1 ||
		    strcmp(rest, ".gz")) {
			snprintf(bad, sizeof(bad), "%s", e->d_name);
			break;
		}
		n++;
		if (k > max)
			max = k;
	}
	closedir(d); /* before any assertion, which would leave it open */
	if (bad[0]) {
		print_error("unexpected file %s\n", bad);
		fail();
	}
	assert_int_equal(n, max); /* 1..max, no holes */
	return max;
}

/* ------------------------------------------------------------- tests */

static void test_open_modes(void **state)
{
	struct fixture *f = *state;
	mode_t old = umask(0);
	struct output *o;
	char err[512], dir[300];

	for (int pass = 0; pass < 2; pass++) {
		umask(pass ? 077 : 0); /* modes must not depend on the umask */
		snprintf(f->path, sizeof(f->path), "%s/m%d/a/b/traces.log", f->dir, pass);
		o = output_open(&f->c, &f->st, err, sizeof(err));
		assert_non_null(o);
		output_close(o);
		assert_int_equal(mode_of(f->path), 0640);
		snprintf(dir, sizeof(dir), "%s/m%d/a/b", f->dir, pass);
		assert_int_equal(mode_of(dir), 0750);
		snprintf(dir, sizeof(dir), "%s/m%d", f->dir, pass);
		assert_int_equal(mode_of(dir), 0750);
	}
	umask(old);
	/* an existing file keeps its mode */
	assert_int_equal(chmod(f->path, 0604), 0);
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	output_close(o);
	assert_int_equal(mode_of(f->path), 0604);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", file[300];
	int fd;

	/* a path under a regular file */
	snprintf(file, sizeof(file), "%s/plain", f->dir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(f->path, sizeof(f->path), "%s/plain/sub/traces.log", f->dir);
	assert_null(output_open(&f->c, &f->st, err, sizeof(err)));
	assert_non_null(strstr(err, file));
	assert_non_null(strstr(err, strerror(ENOTDIR)));
	assert_non_null(strstr(err, "-o PATH"));
	/* a directory as the file */
	snprintf(f->path, sizeof(f->path), "%s/", f->dir);
	assert_null(output_open(&f->c, &f->st, err, sizeof(err)));
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "directory"));
	snprintf(f->path, sizeof(f->path), "%s", f->dir);
	assert_null(output_open(&f->c, &f->st, err, sizeof(err)));
	assert_non_null(strstr(err, f->dir));
	assert_non_null(strstr(err, strerror(EISDIR)));
	/* empty path */
	f->path[0] = '\0';
	assert_null(output_open(&f->c, &f->st, err, sizeof(err)));
	assert_non_null(strstr(err, "empty"));
	/* a tiny error buffer is never overrun */
	snprintf(f->path, sizeof(f->path), "%s/plain/x", f->dir);
	assert_null(output_open(&f->c, &f->st, err, 8));
	assert_true(strlen(err) < 8);
	output_close(NULL);
	assert_int_equal(output_write_batch(NULL, "x\n", 2, 1), -1);
}

static void test_write_and_append(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 };
	struct output *o;
	char err[512];
	uint32_t next = 0;

	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(write_range(o, 0, 1000, 100), 0);
	assert_int_equal(output_write_batch(o, "", 0, 0), 0);
	output_close(o);
	o = output_open(&f->c, &f->st, err, sizeof(err)); /* appends */
	assert_non_null(o);
	assert_int_equal(write_range(o, 1000, 1500, 7), 0);
	output_close(o);
	read_file(f->path, &got);
	check_sequence(&got, &next);
	assert_int_equal(next, 1500);
	assert_int_equal(f->st.c[HT_C_RECORDS_WRITTEN], 1500);
	assert_true(f->st.c[HT_C_WRITES] >= 10 + 72);
	assert_int_equal(f->st.c[HT_C_DROP_OUTPUT_ERROR], 0);
	ht_buf_free(&got);
}

/* Issue 12: a run killed mid-write leaves a partial last line; the next run
 * ends it with a newline (counted) before appending, so its first record
 * is a line of its own and parses. */
static void test_restart_after_partial_line(void **state)
{
	struct fixture *f = *state;
	static const char left[] = "{\"seq\":1}\n{\"seq\":2,\"pa";
	struct ht_buf got = { 0 };
	struct output *o;
	char err[512];
	FILE *fp;

	o = output_open(&f->c, &f->st, err, sizeof(err)); /* creates logs/ */
	assert_non_null(o);
	output_close(o);
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	fputs(left, fp);
	fclose(fp);
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(output_write_batch(o, "{\"seq\":3}\n", 10, 1), 0);
	output_close(o);
	o = output_open(&f->c, &f->st, err, sizeof(err)); /* a clean end: nothing to do */
	assert_non_null(o);
	assert_int_equal(output_write_batch(o, "{\"seq\":4}\n", 10, 1), 0);
	output_close(o);
	read_file(f->path, &got);
	assert_int_equal(got.len, strlen(left) + 1 + 20);
	assert_memory_equal(got.p, "{\"seq\":1}\n{\"seq\":2,\"pa\n{\"seq\":3}\n{\"seq\":4}\n", got.len);
	assert_int_equal(f->st.c[HT_C_OUTPUT_LINES_REPAIRED], 1);
	ht_buf_free(&got);
}

/* A deleted output file is replaced by a new one (checked at most once a second). */
static void test_deleted_file(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 };
	struct output *o;
	char err[512];
	uint32_t next = 100;

	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(write_range(o, 0, 100, 10), 0);
	assert_int_equal(unlink(f->path), 0);
	usleep(1100 * 1000); /* past OUTPUT_LINK_CHECK_MS: the next batch checks */
	assert_int_equal(write_range(o, 100, 200, 10), 0);
	output_close(o);
	read_file(f->path, &got);
	check_sequence(&got, &next);
	assert_int_equal(next, 200);
	assert_int_equal(mode_of(f->path), 0640);
	ht_buf_free(&got);
}

static void test_csv_header_once(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 }, head = { 0 };
	struct output *o;
	char err[512];

	f->c.format = HT_FMT_CSV;
	assert_int_equal(format_csv_header(&head), 0);
	for (int i = 0; i < 2; i++) {
		o = output_open(&f->c, NULL, err, sizeof(err));
		assert_non_null(o);
		assert_int_equal(output_write_batch(o, "a,b\r\n", 5, 1), 0);
		output_close(o);
	}
	read_file(f->path, &got);
	assert_int_equal(got.len, head.len + 10);
	assert_memory_equal(got.p, head.p, head.len);
	assert_memory_equal(got.p + head.len, "a,b\r\na,b\r\n", 10);
	ht_buf_free(&got);
	ht_buf_free(&head);
}

static void test_stdout(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 }, head = { 0 };
	struct output *o;
	char err[512], file[300];
	int saved = dup(STDOUT_FILENO), fd;

	snprintf(file, sizeof(file), "%s/stdout.txt", f->dir);
	fd = open(file, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stdout);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	close(fd);
	f->c.output_path = "-";
	f->c.format = HT_FMT_CSV;
	f->c.rotation_enabled = true; /* ignored for stdout */
	f->c.rotation_max_size = 10;
	f->c.rotation_max_files = 2;
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(output_write_batch(o, "1,2\r\n", 5, 1), 0);
	assert_int_equal(output_write_batch(o, "3,4\r\n", 5, 1), 0);
	output_close(o);
	assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);
	assert_int_equal(fcntl(STDOUT_FILENO, F_GETFD), 0); /* stdout still open */
	assert_int_equal(format_csv_header(&head), 0);
	read_file(file, &got);
	assert_int_equal(got.len, head.len + 10);
	assert_memory_equal(got.p + head.len, "1,2\r\n3,4\r\n", 10);
	assert_false(exists("-.1"));
	assert_int_equal(f->st.c[HT_C_RECORDS_WRITTEN], 2);
	ht_buf_free(&got);
	ht_buf_free(&head);
}

struct drain {
	int fd;
	struct ht_buf got;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	char tmp[4096];
	ssize_t n;

	while ((n = read(d->fd, tmp, sizeof(tmp))) > 0) {
		ht_buf_put(&d->got, tmp, (size_t)n);
		usleep(100); /* a slow reader: the writer sees EAGAIN */
	}
	return NULL;
}

/* stdout as a non-blocking pipe: partial writes and EAGAIN, nothing lost or reordered. */
static void test_stdout_nonblocking_pipe(void **state)
{
	struct fixture *f = *state;
	struct drain d = { 0 };
	struct ht_buf b = { 0 };
	struct output *o;
	pthread_t th;
	char err[512];
	int p[2], saved = dup(STDOUT_FILENO);
	uint32_t next = 0;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	d.fd = p[0];
	assert_int_equal(pthread_create(&th, NULL, drain_main, &d), 0);
	fflush(stdout);
	assert_int_equal(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
	close(p[1]);
	f->c.output_path = "-";
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	for (uint32_t i = 0; i < 20000; i += 1000) {
		b.len = 0;
		for (uint32_t k = i; k < i + 1000; k++)
			add_record(&b, k);
		assert_int_equal(output_write_batch(o, b.p, b.len, 1000), 0);
	}
	output_close(o);
	assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO); /* closes the write end */
	close(saved);
	pthread_join(th, NULL);
	close(p[0]);
	check_sequence(&d.got, &next);
	assert_int_equal(next, 20000);
	assert_true(f->st.c[HT_C_WRITES] > 20); /* the pipe took each batch in pieces */
	ht_buf_free(&b);
	ht_buf_free(&d.got);
}

/* 200,000 records through many rotations: every record once, in order. */
static void test_rotation_under_load(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 };
	struct output *o;
	char err[512], name[400], dir[300], cmd[400];
	uint32_t next = 0;
	unsigned k, files;
	struct stat sb;

	f->c.rotation_enabled = true;
	f->c.rotation_max_size = 64 << 10;
	f->c.rotation_max_files = 10000;
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(write_range(o, 0, 200000, 100), 0);
	output_close(o);

	snprintf(dir, sizeof(dir), "%s/logs", f->dir);
	assert_int_equal(mode_of(dir), 0750);
	files = rotated_count(dir, "traces.log");
	assert_true(files > 50);
	for (k = files; k >= 1; k--) {
		snprintf(name, sizeof(name), "%s.%u.gz", f->path, k);
		assert_int_equal(mode_of(name), 0640);
		got.len = 0;
		read_gz(name, &got);
		assert_true(got.len <= f->c.rotation_max_size);
		assert_true(got.len > f->c.rotation_max_size / 2);
		check_sequence(&got, &next);
	}
	got.len = 0;
	read_file(f->path, &got);
	assert_int_equal(mode_of(f->path), 0640);
	assert_int_equal(stat(f->path, &sb), 0);
	check_sequence(&got, &next);
	assert_int_equal(next, 200000);
	snprintf(cmd, sizeof(cmd), "gzip -t %s/*.gz", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(f->st.c[HT_C_RECORDS_WRITTEN], 200000);
	assert_int_equal(f->st.c[HT_C_DROP_OUTPUT_ERROR], 0);
	ht_buf_free(&got);
}

/* maxFiles 3: the oldest files are deleted, the newest three remain contiguous. */
static void test_rotation_max_files(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 };
	struct output *o;
	char err[512], name[400], dir[300];
	uint32_t next, first;

	f->c.rotation_enabled = true;
	f->c.rotation_max_size = 16 << 10;
	f->c.rotation_max_files = 3;
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(write_range(o, 0, 30000, 50), 0);
	output_close(o);
	snprintf(dir, sizeof(dir), "%s/logs", f->dir);
	assert_int_equal(rotated_count(dir, "traces.log"), 3);
	snprintf(name, sizeof(name), "%s.4.gz", f->path);
	assert_false(exists(name));
	snprintf(name, sizeof(name), "%s.3.gz", f->path);
	read_gz(name, &got);
	first = (uint32_t)strtoul(got.p + 5, NULL, 10);
	assert_true(first > 20000); /* older records are gone */
	next = first;
	for (unsigned k = 3; k >= 1; k--) {
		got.len = 0;
		snprintf(name, sizeof(name), "%s.%u.gz", f->path, k);
		read_gz(name, &got);
		check_sequence(&got, &next);
	}
	got.len = 0;
	read_file(f->path, &got);
	check_sequence(&got, &next);
	assert_int_equal(next, 30000);
	ht_buf_free(&got);
}

/* Thousands of rotations racing the compression thread and deletions. */
static void test_rotation_stress(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 };
	struct output *o;
	char err[512], name[400], dir[300];
	uint32_t next, total = 100000;

	f->c.rotation_enabled = true;
	f->c.rotation_max_size = 2048;
	f->c.rotation_max_files = 20;
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(write_range(o, 0, total, 10), 0);
	output_close(o);
	snprintf(dir, sizeof(dir), "%s/logs", f->dir);
	assert_int_equal(rotated_count(dir, "traces.log"), 20);
	snprintf(name, sizeof(name), "%s.20.gz", f->path);
	read_gz(name, &got);
	next = (uint32_t)strtoul(got.p + 5, NULL, 10);
	assert_true(next > total - 1000);
	for (unsigned k = 20; k >= 1; k--) {
		got.len = 0;
		snprintf(name, sizeof(name), "%s.%u.gz", f->path, k);
		read_gz(name, &got);
		assert_true(got.len <= 2048);
		check_sequence(&got, &next);
	}
	got.len = 0;
	read_file(f->path, &got);
	check_sequence(&got, &next);
	assert_int_equal(next, total);
	ht_buf_free(&got);
}

/* A directory that cannot be changed: rotation fails, records keep going to P, none lost. */
static void test_rotation_blocked(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 };
	struct output *o;
	char err[512], name[400], dir[300];
	uint32_t next = 0;
	unsigned files;

	f->c.rotation_enabled = true;
	f->c.rotation_max_size = 4096;
	f->c.rotation_max_files = 1000;
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(write_range(o, 0, 500, 10), 0);
	snprintf(dir, sizeof(dir), "%s/logs", f->dir);
	if (set_immutable(dir, true)) {
		output_close(o);
		skip(); /* needs root and a file system with the immutable flag */
	}
	assert_int_equal(write_range(o, 500, 1500, 10), 0); /* all appended to P */
	assert_int_equal(set_immutable(dir, false), 0);
	output_close(o);
	assert_int_equal(f->st.c[HT_C_DROP_OUTPUT_ERROR], 0);
	files = rotated_count(dir, "traces.log"); /* leftovers compressed at close */
	assert_true(files > 3);
	for (unsigned k = files; k >= 1; k--) {
		got.len = 0;
		snprintf(name, sizeof(name), "%s.%u.gz", f->path, k);
		read_gz(name, &got);
		check_sequence(&got, &next);
	}
	got.len = 0;
	read_file(f->path, &got);
	assert_true(got.len > 4096); /* grew past maxSize while rotation was impossible */
	check_sequence(&got, &next);
	assert_int_equal(next, 1500);
	ht_buf_free(&got);
}

/* maxFiles 0: rotation only deletes; CSV: every file starts with the header. */
static void test_rotation_zero_and_csv(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 }, head = { 0 }, rows = { 0 };
	struct output *o;
	char err[512], name[400], dir[300];

	f->c.rotation_enabled = true;
	f->c.rotation_max_size = 4096;
	f->c.rotation_max_files = 0;
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(write_range(o, 0, 2000, 10), 0);
	output_close(o);
	snprintf(dir, sizeof(dir), "%s/logs", f->dir);
	assert_int_equal(rotated_count(dir, "traces.log"), 0);
	read_file(f->path, &got);
	assert_true(got.len <= 4096);
	assert_non_null(memmem(got.p, got.len, "{\"n\":1999,", 10));

	/* CSV with rotation */
	f->c.format = HT_FMT_CSV;
	f->c.rotation_max_files = 50;
	snprintf(f->path, sizeof(f->path), "%s/csv/traces.csv", f->dir);
	assert_int_equal(format_csv_header(&head), 0);
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	for (int i = 0; i < 3000; i += 10) {
		rows.len = 0;
		for (int k = i; k < i + 10; k++) {
			char line[64];
			int n = snprintf(line, sizeof(line), "%d,\"x,y\",zzzzzzzzzzzzzzzz\r\n", k);

			ht_buf_put(&rows, line, (size_t)n);
		}
		assert_int_equal(output_write_batch(o, rows.p, rows.len, 10), 0);
	}
	output_close(o);
	snprintf(dir, sizeof(dir), "%s/csv", f->dir);
	{
		unsigned files = rotated_count(dir, "traces.csv");
		int next = 0;

		assert_true(files > 5);
		for (unsigned k = files + 1; k >= 1; k--) {
			size_t i;

			got.len = 0;
			if (k == 1) {
				read_file(f->path, &got);
			} else {
				snprintf(name, sizeof(name), "%s.%u.gz", f->path, k - 1);
				read_gz(name, &got);
			}
			assert_true(got.len > head.len);
			assert_memory_equal(got.p, head.p, head.len);
			for (i = head.len; i < got.len;) {
				char *end;

				assert_int_equal(strtol(got.p + i, &end, 10), next);
				next++;
				end = memchr(end, '\n', got.len - (size_t)(end - got.p));
				assert_non_null(end);
				i = (size_t)(end - got.p) + 1;
			}
		}
		assert_int_equal(next, 3000);
	}
	ht_buf_free(&got);
	ht_buf_free(&head);
	ht_buf_free(&rows);
}

/* Leftovers of a crashed run: stale .tmp removed, .K compressed, .K with .K.gz dropped. */
static void test_startup_leftovers(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 };
	struct output *o;
	char err[512], name[400];
	FILE *fp;

	o = output_open(&f->c, &f->st, err, sizeof(err)); /* creates the directory */
	assert_non_null(o);
	output_close(o);
	snprintf(name, sizeof(name), "%s.1", f->path);
	fp = fopen(name, "w");
	assert_non_null(fp);
	fputs("{\"n\":1,\"pad\":\"\"}\n", fp);
	fclose(fp);
	snprintf(name, sizeof(name), "%s.2.gz.tmp", f->path);
	fp = fopen(name, "w");
	fputs("garbage", fp);
	fclose(fp);
	snprintf(name, sizeof(name), "%s.3", f->path);
	fp = fopen(name, "w");
	fputs("old", fp);
	fclose(fp);
	snprintf(name, sizeof(name), "%s.3.gz", f->path);
	fp = fopen(name, "w");
	fputs("complete", fp);
	fclose(fp);

	f->c.rotation_enabled = true;
	f->c.rotation_max_size = 1 << 20;
	f->c.rotation_max_files = 5;
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	output_close(o);
	snprintf(name, sizeof(name), "%s.1", f->path);
	assert_false(exists(name));
	snprintf(name, sizeof(name), "%s.2.gz.tmp", f->path);
	assert_false(exists(name));
	snprintf(name, sizeof(name), "%s.3", f->path);
	assert_false(exists(name));
	snprintf(name, sizeof(name), "%s.3.gz", f->path);
	assert_true(exists(name));
	snprintf(name, sizeof(name), "%s.1.gz", f->path);
	read_gz(name, &got);
	assert_int_equal(got.len, 17);
	assert_memory_equal(got.p, "{\"n\":1,\"pad\":\"\"}\n", 17);
	ht_buf_free(&got);
}

/*
 * Write errors: RLIMIT_FSIZE makes the batch that crosses the limit a
 * partial write followed by EFBIG.  The batch is retried, then dropped and
 * counted; the file is cut back to whole records; writes recover when the
 * limit is lifted.
 */
static void test_write_error_and_recovery(void **state)
{
	struct fixture *f = *state;
	struct ht_buf got = { 0 };
	struct output *o;
	struct rlimit old, lim;
	char err[512];
	uint32_t next = 0, written = 0, dropped = 0, i;
	int failed_batches = 0;
	struct stat sb;

	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	output_set_retry_ms(o, 30);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 50001;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (i = 0; i < 2000 && failed_batches < 3; i += 10) {
		if (write_range(o, i, i + 10, 10)) {
			failed_batches++;
			dropped += 10;
			continue;
		}
		written += 10;
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(failed_batches, 3);
	assert_int_equal(f->st.c[HT_C_DROP_OUTPUT_ERROR], dropped);
	assert_int_equal(f->st.c[HT_C_RECORDS_WRITTEN], written);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_true(sb.st_size <= 50001 && sb.st_size > 40000);

	/* recovery: the next batches go through */
	assert_int_equal(write_range(o, i, i + 100, 10), 0);
	output_close(o);
	read_file(f->path, &got);
	next = 0;
	{
		/* records [written, written + dropped) are missing, the rest in order */
		struct ht_buf part = { 0 };
		const char *cut = got.p;

		for (uint32_t k = 0; k < written; k++)
			cut = memchr(cut, '\n', got.len - (size_t)(cut - got.p)) + 1;
		ht_buf_put(&part, got.p, (size_t)(cut - got.p));
		check_sequence(&part, &next);
		assert_int_equal(next, written);
		part.len = 0;
		ht_buf_put(&part, cut, got.len - (size_t)(cut - got.p));
		next = written + dropped;
		check_sequence(&part, &next);
		assert_int_equal(next, i + 100);
		ht_buf_free(&part);
	}
	assert_int_equal(f->st.c[HT_C_RECORDS_WRITTEN], written + 100);
	ht_buf_free(&got);
}

/* Records [from, to) in batches of `batch`, gathered `per_call` batches to
 * an output_write_batches call; returns the batches dropped. */
static int write_range_gathered(struct output *o, uint32_t from, uint32_t to, uint32_t batch,
				int per_call, uint64_t *written)
{
	struct ht_buf b[16] = { { 0 } };
	struct output_batch v[16];
	int dropped = 0, n = 0;

	assert_true(per_call <= 16);
	for (uint32_t i = from; i < to; i += batch) {
		uint32_t k, cnt = to - i < batch ? to - i : batch;

		b[n].len = 0;
		for (k = 0; k < cnt; k++)
			add_record(&b[n], i + k);
		v[n] = (struct output_batch){ b[n].p, b[n].len, cnt };
		if (++n == per_call || i + batch >= to) {
			dropped += output_write_batches(o, v, n, written);
			n = 0;
		}
	}
	for (int i = 0; i < 16; i++)
		ht_buf_free(&b[i]);
	return dropped;
}

/* Rotated file k of path (after close: gzip'd) into b. */
static void read_rotated(const char *path, unsigned k, struct ht_buf *b)
{
	char name[400];

	snprintf(name, sizeof(name), "%s.%u.gz", path, k);
	b->len = 0;
	read_gz(name, b);
}

/*
 * The same records in the same batches, once batch by batch and once
 * gathered eight batches a call: the same files with the same records
 * (rotation between the same two batches), every record once and in
 * order, and fewer write calls.
 */
static void test_batches_gathered(void **state)
{
	struct fixture *f = *state;
	struct ht_buf a = { 0 }, b = { 0 };
	struct ht_stats st_one = { 0 };
	char err[512], path_one[300], dir[300];
	uint64_t written = 0;
	uint32_t next = 0;
	unsigned files;
	struct output *o;

	f->c.rotation_enabled = true;
	f->c.rotation_max_size = 64 << 10;
	f->c.rotation_max_files = 1000;
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(write_range_gathered(o, 0, 20000, 37, 8, &written), 0);
	output_close(o);
	assert_int_equal(written, 20000);
	assert_int_equal(f->st.c[HT_C_RECORDS_WRITTEN], 20000);

	snprintf(path_one, sizeof(path_one), "%s/one/traces.log", f->dir);
	f->c.output_path = path_one;
	o = output_open(&f->c, &st_one, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(write_range(o, 0, 20000, 37), 0);
	output_close(o);
	/* one write per batch vs one per eight (a rotation splits a call) */
	assert_true(f->st.c[HT_C_WRITES] * 4 < st_one.c[HT_C_WRITES]);

	snprintf(dir, sizeof(dir), "%s/logs", f->dir);
	files = rotated_count(dir, "traces.log");
	snprintf(dir, sizeof(dir), "%s/one", f->dir);
	assert_int_equal(rotated_count(dir, "traces.log"), files);
	assert_true(files > 10);
	for (unsigned k = files; k >= 1; k--) {
		read_rotated(f->path, k, &a);
		read_rotated(path_one, k, &b);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.p, b.p, a.len);
		assert_true(a.len <= f->c.rotation_max_size);
		check_sequence(&a, &next);
	}
	a.len = 0;
	b.len = 0;
	read_file(f->path, &a);
	read_file(path_one, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	check_sequence(&a, &next);
	assert_int_equal(next, 20000);
	ht_buf_free(&a);
	ht_buf_free(&b);
}

/* On ext4: blocks are reserved ahead of the writes while the file is open,
 * and given back at close (the file then holds its size, no more). */
static void test_prealloc_given_back(void **state)
{
	struct fixture *f = *state;
	struct output *o;
	struct statfs sf;
	struct stat sb;
	char err[512];

	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(statfs(f->dir, &sf), 0);
	if (sf.f_type != EXT4_SUPER_MAGIC) {
		output_close(o);
		print_message("SKIPPED: test_prealloc_given_back: %s is not on ext4 (the only file system preallocated)\n",
			      f->dir);
		skip();
	}
	assert_int_equal(write_range(o, 0, 5000, 100), 0);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_true(sb.st_size > 200000);
	assert_true((uint64_t)sb.st_blocks * 512 >= OUTPUT_PREALLOC_BYTES / 2);
	output_close(o);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_true((uint64_t)sb.st_blocks * 512 < (uint64_t)sb.st_size + (64 << 10));
	/* appending again: what was written stays, in order */
	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(write_range(o, 5000, 6000, 100), 0);
	output_close(o);
	{
		struct ht_buf got = { 0 };
		uint32_t next = 0;

		read_file(f->path, &got);
		check_sequence(&got, &next);
		assert_int_equal(next, 6000);
		ht_buf_free(&got);
	}
}

/* Pages of [from, to) of path in the page cache (mincore). */
static size_t resident_pages(const char *path, size_t from, size_t to)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (to - from) / pg, got = 0;
	unsigned char *vec = malloc(n);
	int fd = open(path, O_RDONLY);
	void *m;

	assert_non_null(vec);
	assert_true(fd >= 0);
	m = mmap(NULL, to - from, PROT_READ, MAP_SHARED, fd, (off_t)from);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mincore(m, to - from, vec), 0);
	for (size_t i = 0; i < n; i++)
		got += vec[i] & 1;
	munmap(m, to - from);
	close(fd);
	free(vec);
	return got;
}

/*
 * Drop-behind: once written back, the pages well behind the end of the
 * file leave the page cache; the last ones stay.  fdatasync (another fd)
 * makes them clean first, so what is dropped does not depend on the
 * disk's speed.
 */
static void test_drop_behind(void **state)
{
	struct fixture *f = *state;
	const size_t step = OUTPUT_BEHIND_BYTES, total = 6 * OUTPUT_BEHIND_BYTES;
	struct output *o;
	char err[512];
	uint32_t next = 0;
	size_t pages = step / (size_t)sysconf(_SC_PAGESIZE);
	struct stat sb;
	int fd;

	o = output_open(&f->c, &f->st, err, sizeof(err));
	assert_non_null(o);
	while (next < 1000000) {
		assert_int_equal(write_range(o, next, next + 1000, 100), 0);
		next += 1000;
		assert_int_equal(stat(f->path, &sb), 0);
		if ((size_t)sb.st_size >= total)
			break;
	}
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fdatasync(fd), 0);
	close(fd);
	assert_int_equal(write_range(o, next, next + 10000, 100), 0); /* one more step at least */
	next += 10000;
	/* the step two to three behind the last writeback start is gone, the
	 * last step's pages are still there */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_true(resident_pages(f->path, 2 * step, 3 * step) < pages / 4);
	assert_true(resident_pages(f->path, ((size_t)sb.st_size & ~(step - 1)) - step,
				   ((size_t)sb.st_size & ~(step - 1))) > pages / 2);
	output_close(o);
	{
		struct ht_buf got = { 0 };
		uint32_t k = 0;

		read_file(f->path, &got);
		check_sequence(&got, &k);
		assert_int_equal(k, next);
		ht_buf_free(&got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_and_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_after_partial_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_header_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdout_nonblocking_pipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_under_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_max_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_stress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_blocked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_zero_and_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_startup_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_and_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches_gathered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prealloc_given_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_behind, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
