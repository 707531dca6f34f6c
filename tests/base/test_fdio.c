/*
 * test_fdio.c - whole reads and writes: a read gathers what a pipe gives
 * in small pieces until the count or EOF; errors come back as -errno.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "base/fdio.h"

#define TOTAL 100000

static void *trickle(void *arg)
{
	int fd = *(int *)arg;
	char piece[777];

	for (int sent = 0; sent < TOTAL; sent += (int)sizeof(piece)) {
		int n = TOTAL - sent < (int)sizeof(piece) ? TOTAL - sent : (int)sizeof(piece);

		for (int i = 0; i < n; i++)
			piece[i] = (char)((sent + i) % 251);
		if (ht_write_all(fd, piece, (size_t)n))
			break;
		usleep(100); /* the reader finds the pipe empty now and then */
	}
	close(fd);
	return NULL;
}

static void test_read_gathers_pieces(void **state)
{
	static char buf[TOTAL + 10];
	pthread_t t;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pthread_create(&t, NULL, trickle, &p[1]), 0);
	assert_int_equal(ht_read_full(p[0], buf, 5000), 5000);
	assert_int_equal(ht_read_full(p[0], buf + 5000, sizeof(buf) - 5000), TOTAL - 5000);
	for (int i = 0; i < TOTAL; i++)
		assert_int_equal((unsigned char)buf[i], i % 251);
	assert_int_equal(ht_read_full(p[0], buf, 10), 0); /* EOF */
	pthread_join(t, NULL);
	close(p[0]);
}

static void test_errors(void **state)
{
	char b[16] = { 0 };
	int full = open("/dev/full", O_WRONLY);

	(void)state;
	assert_true(full >= 0);
	assert_int_equal(ht_write_all(full, b, sizeof(b)), -ENOSPC);
	assert_int_equal(ht_write_all(full, b, 0), 0); /* nothing to write, nothing fails */
	assert_int_equal(ht_read_full(-1, b, sizeof(b)), -EBADF);
	assert_int_equal(ht_write_all(-1, b, sizeof(b)), -EBADF);
	close(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_gathers_pieces),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
