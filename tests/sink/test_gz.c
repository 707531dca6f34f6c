/*
 * test_gz.c - gzip with libdeflate.  Files, in members: what zlib reads
 * back is the input byte for byte (empty, under one member, exactly one,
 * several with a short last one), at the lowest and highest level; errors
 * of the input and of the output come back as -errno.  Buffers: the pieces
 * come back joined, in one member, also when the buffer is reused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/fdio.h"
#include "sink/gz.h"

#define LOW 1   /* the fastest level */
#define HIGH 9  /* the highest the config allows */

/* Text that compresses like NDJSON, with some noise so that it is not trivial. */
static unsigned char *make_input(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (x & 7) ? (unsigned char)"{\"path\":\"/api/v1\"}\n"[i % 19] : (unsigned char)x;
	}
	return p;
}

static int tmpfile_with(const unsigned char *p, size_t n)
{
	char name[] = "/tmp/test_gz_XXXXXX";
	int fd = mkstemp(name);

	assert_true(fd >= 0);
	unlink(name);
	assert_int_equal(ht_write_all(fd, p, n), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Inflate fd (every member) with zlib; returns the bytes, *n their count. */
static unsigned char *gunzip_fd(int fd, size_t cap, size_t *n)
{
	unsigned char *out = malloc(cap + 1);
	gzFile g;
	int r;

	assert_non_null(out);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	g = gzdopen(dup(fd), "rb");
	assert_non_null(g);
	*n = 0;
	while ((r = gzread(g, out + *n, (unsigned)(cap + 1 - *n))) > 0)
		*n += (size_t)r;
	assert_int_equal(r, 0);
	assert_int_equal(gzclose(g), Z_OK);
	return out;
}

static void round_trip(size_t n, int level)
{
	unsigned char *in = make_input(n), *back;
	int src = tmpfile_with(in, n), dst = tmpfile_with(NULL, 0);
	struct gz *g = gz_new(level);
	size_t got;

	assert_non_null(g);
	assert_int_equal(gz_file(g, src, dst), 0);
	assert_true(lseek(dst, 0, SEEK_END) >= 18); /* at least one member's frame */
	back = gunzip_fd(dst, n, &got);
	assert_int_equal(got, n);
	assert_memory_equal(back, in, n);
	gz_free(g);
	close(src);
	close(dst);
	free(in);
	free(back);
}

static void test_sizes(void **state)
{
	const size_t sizes[] = { 0, 1, 4096, GZ_MEMBER - 1, GZ_MEMBER,
				 GZ_MEMBER + 1, 3 * GZ_MEMBER + 12345 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		round_trip(sizes[i], 6);
		round_trip(sizes[i], LOW);
	}
	round_trip(2 * GZ_MEMBER + 7, HIGH);
}

/* The level is the compressor's: the higher one writes fewer bytes here. */
static void test_level_matters(void **state)
{
	size_t n = 2 * GZ_MEMBER;
	unsigned char *in = make_input(n);
	off_t size[2];
	int lv[2] = { LOW, HIGH };

	(void)state;
	for (int k = 0; k < 2; k++) {
		int src = tmpfile_with(in, n), dst = tmpfile_with(NULL, 0);
		struct gz *g = gz_new(lv[k]);

		assert_int_equal(gz_file(g, src, dst), 0);
		size[k] = lseek(dst, 0, SEEK_END);
		gz_free(g);
		close(src);
		close(dst);
	}
	assert_true(size[1] < size[0]);
	free(in);
}

static void test_errors(void **state)
{
	struct gz *g = gz_new(6);
	unsigned char *in = make_input(4096);
	int src = tmpfile_with(in, 4096);
	int full = open("/dev/full", O_WRONLY);
	int dir = open("/tmp", O_RDONLY | O_DIRECTORY);

	(void)state;
	assert_non_null(g);
	assert_true(full >= 0 && dir >= 0);
	assert_int_equal(gz_file(g, src, full), -ENOSPC);
	assert_int_equal(gz_file(g, dir, full), -EISDIR);
	assert_int_equal(gz_file(g, -1, full), -EBADF);
	gz_free(g);
	gz_free(NULL);
	close(src);
	close(full);
	close(dir);
	free(in);
}

/* zlib's inflate of one whole gzip member in b; returns the bytes, *n their count. */
static unsigned char *inflate_member(const struct ht_buf *b, size_t cap, size_t *n)
{
	unsigned char *out = malloc(cap + 1);
	z_stream zs = { 0 };

	assert_non_null(out);
	assert_int_equal(inflateInit2(&zs, 16 + 15), Z_OK);
	zs.next_in = (Bytef *)b->p;
	zs.avail_in = (uInt)b->len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap + 1;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.avail_in, 0); /* one member, nothing after it */
	*n = zs.total_out;
	inflateEnd(&zs);
	return out;
}

static void test_pieces(void **state)
{
	unsigned char *in = make_input(300000), *back;
	struct gz *g = gz_new(LOW);
	struct ht_buf out = { 0 };
	const void *p[3] = { "{\"resourceSpans\":", in, "}" };
	size_t n[3] = { 17, 300000, 1 }, got;

	(void)state;
	assert_non_null(g);
	for (int round = 0; round < 2; round++) { /* the second reuses every buffer */
		assert_int_equal(gz_pieces(g, p, n, 3, &out), 0);
		back = inflate_member(&out, 300018, &got);
		assert_int_equal(got, 300018);
		assert_memory_equal(back, p[0], 17);
		assert_memory_equal(back + 17, in, 300000);
		assert_int_equal(back[300017], '}');
		free(back);
		assert_int_equal(gz_pieces(g, &p[1], &n[1], 1, &out), 0);
		back = inflate_member(&out, 300000, &got);
		assert_int_equal(got, 300000);
		assert_memory_equal(back, in, 300000);
		free(back);
	}
	n[1] = 0;
	assert_int_equal(gz_pieces(g, &p[1], &n[1], 1, &out), 0);
	back = inflate_member(&out, 0, &got);
	assert_int_equal(got, 0);
	free(back);
	free(out.p);
	gz_free(g);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_level_matters),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
