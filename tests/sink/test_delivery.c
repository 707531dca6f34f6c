/*
 * test_delivery.c - the delivery promise of sink/delivery.h with a send
 * function of the test: order, the memory bound (the newest batch dropped
 * and counted), the spool (files whole, no .tmp left, replayed in order on
 * recovery and by the next delivery on the same directory), memory spooled
 * at close, rejected batches counted and never retried, retry_after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/park.h"
#include "sink/delivery.h"

#define MAXB 256

/* The receiver: records what it accepted, answers with `mode`. */
struct recv {
	int mode;                 /* enum dl_verdict to answer (atomic) */
	int calls;                /* send calls (atomic) */
	uint32_t retry_after;     /* set on DL_RETRY */
	int n_got;
	int sends;                /* accepted send calls */
	int got[MAXB];            /* batch ids accepted, in order */
	uint32_t got_records;
};

static enum dl_verdict rx_send(void *ctx, const void *payload, size_t len, uint32_t n,
			       uint32_t *retry_after_ms, char *err, size_t errlen)
{
	struct recv *r = ctx;
	int mode = __atomic_load_n(&r->mode, __ATOMIC_ACQUIRE);
	int id;

	__atomic_add_fetch(&r->calls, 1, __ATOMIC_ACQ_REL);
	if (mode == DL_RETRY) {
		*retry_after_ms = r->retry_after;
		snprintf(err, errlen, "test: down");
		return DL_RETRY;
	}
	if (mode == DL_REJECT) {
		snprintf(err, errlen, "test: refused");
		return DL_REJECT;
	}
	/* one or more (merged) batches: "batch ID\n" then padding each */
	const char *p = payload, *end = p + len;
	uint32_t want = 0;

	assert_true(len >= 6 && !memcmp(p, "batch ", 6));
	while (p && p < end) {
		assert_int_equal(sscanf(p, "batch %d", &id), 1);
		want += (uint32_t)id % 7 + 1;
		if (r->n_got < MAXB)
			r->got[r->n_got++] = id;
		p = memmem(p + 6, (size_t)(end - p - 6), "batch ", 6);
	}
	assert_int_equal(n, want); /* the counts travel with the bytes */
	r->got_records += n;
	r->sends++;
	return DL_SENT;
}

static struct ht_buf payload(int id, size_t pad)
{
	struct ht_buf b = { 0 };
	char s[32];

	snprintf(s, sizeof(s), "batch %d\n", id);
	assert_int_equal(ht_buf_puts(&b, s), 0);
	while (pad--)
		assert_int_equal(ht_buf_putc(&b, 'x'), 0);
	return b;
}

static void submit(struct delivery *d, int id, size_t pad)
{
	struct ht_buf b = payload(id, pad);

	delivery_submit(d, &b, (uint32_t)id % 7 + 1);
	assert_null(b.p); /* ownership taken, even when dropped */
}

static uint64_t merge_max; /* for the next open_d */

static struct delivery *open_d(struct recv *r, uint64_t mem, const char *spool, uint64_t smax)
{
	struct delivery_cfg cfg = { .name = "test", .mem_max_bytes = mem, .spool_dir = spool,
				    .spool_max_bytes = smax, .backoff_min_ms = 1,
				    .backoff_max_ms = 4, .merge_max_bytes = merge_max };
	char err[256] = "";
	struct delivery *d = delivery_new(&cfg, rx_send, r, err, sizeof(err));

	if (!d)
		fail_msg("delivery_new: %s", err);
	return d;
}

static struct dl_stats stats(struct delivery *d)
{
	struct dl_stats st;

	delivery_stats(d, &st);
	return st;
}

/* Wait (up to 10 s) until `sent` batches went out. */
static void wait_sent(struct delivery *d, uint64_t sent)
{
	for (int i = 0; i < 10000 && stats(d).batches_sent < sent; i++)
		usleep(1000);
	assert_int_equal(stats(d).batches_sent, sent);
}

static void wait_calls(struct recv *r, int calls)
{
	for (int i = 0; i < 10000 && __atomic_load_n(&r->calls, __ATOMIC_ACQUIRE) < calls; i++)
		usleep(1000);
	assert_true(__atomic_load_n(&r->calls, __ATOMIC_ACQUIRE) >= calls);
}

static void set_mode(struct recv *r, int mode)
{
	__atomic_store_n(&r->mode, mode, __ATOMIC_RELEASE);
}

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), s = strlen(suffix);

		n += l > s && !strcmp(e->d_name + l - s, suffix);
	}
	closedir(d);
	return n;
}

static void assert_in_order(const struct recv *r, int first, int n)
{
	assert_int_equal(r->n_got, n);
	for (int i = 0; i < n; i++)
		assert_int_equal(r->got[i], first + i);
}

static void test_in_order(void **state)
{
	struct recv r = { .mode = DL_SENT };
	struct delivery *d = open_d(&r, 1 << 20, NULL, 0);
	uint32_t records = 0;

	for (int i = 0; i < 50; i++) {
		submit(d, i, 100);
		records += (uint32_t)i % 7 + 1;
	}
	wait_sent(d, 50);
	assert_int_equal(stats(d).records_sent, records);
	assert_int_equal(stats(d).queue_bytes, 0);
	delivery_close(d, 1000);
	assert_in_order(&r, 0, 50);
}

/* Sender stuck on batch 0: the queue holds 4 batches of ~1 KiB; batches 4..9
 * are the newest and are dropped, counted; the rest go out in order. */
static void test_memory_bound_drops_newest(void **state)
{
	struct recv r = { .mode = DL_RETRY };
	struct delivery *d = open_d(&r, 4 * 1030, NULL, 0);
	struct dl_stats st;
	uint64_t dropped_records = 0;

	for (int i = 0; i < 10; i++) {
		submit(d, i, 1020);
		if (i >= 4)
			dropped_records += (uint64_t)i % 7 + 1;
	}
	wait_calls(&r, 3); /* it is retrying */
	st = stats(d);
	assert_int_equal(st.queue_batches, 4);
	assert_true(st.queue_bytes <= 4 * 1030);
	assert_int_equal(st.batches_dropped[DL_DROP_QUEUE_FULL], 6);
	assert_int_equal(st.records_dropped[DL_DROP_QUEUE_FULL], dropped_records);
	assert_true(st.retries >= 2);
	set_mode(&r, DL_SENT);
	wait_sent(d, 4);
	delivery_close(d, 1000);
	assert_in_order(&r, 0, 4);
}

/* Memory holds 2, the spool the next 5 (files, no .tmp), the rest dropped;
 * on recovery all 7 are sent in submit order and the files are gone. */
static void test_spool_and_recovery(void **state)
{
	char dir[] = "/tmp/ht-test-spool-XXXXXX";
	struct recv r = { .mode = DL_RETRY };
	struct delivery *d;
	struct dl_stats st;

	assert_non_null(mkdtemp(dir));
	d = open_d(&r, 2 * 1030, dir, 5 * (1030 + 24));
	for (int i = 0; i < 9; i++)
		submit(d, i, 1020);
	st = stats(d);
	assert_int_equal(st.queue_batches, 2);
	assert_int_equal(st.batches_spooled, 5);
	assert_int_equal(st.spool_batches, 5);
	assert_int_equal(st.batches_dropped[DL_DROP_QUEUE_FULL], 2); /* 7 and 8 */
	assert_int_equal(count_files(dir, ".batch"), 5);
	assert_int_equal(count_files(dir, ".tmp"), 0);
	set_mode(&r, DL_SENT);
	wait_sent(d, 7);
	st = stats(d);
	assert_int_equal(st.batches_replayed, 5);
	assert_int_equal(st.spool_bytes, 0);
	assert_int_equal(count_files(dir, ".batch"), 0);
	delivery_close(d, 1000);
	assert_in_order(&r, 0, 7);
	rmdir(dir);
}

/* Receiver down at close: what is in memory is spooled; the next delivery
 * on the same directory (a restarted tracer) sends it all first, in order,
 * before what it is given itself; a stale .tmp is removed. */
static void test_restart_replays_spool(void **state)
{
	char dir[] = "/tmp/ht-test-spool-XXXXXX", tmp[128];
	struct recv r = { .mode = DL_RETRY };
	struct delivery *d;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	d = open_d(&r, 3 * 1030, dir, 1 << 20);
	for (int i = 0; i < 6; i++)
		submit(d, i, 1020); /* 3 in memory, 3 spooled */
	delivery_close(d, 20);
	assert_int_equal(count_files(dir, ".batch"), 6);
	snprintf(tmp, sizeof(tmp), "%s/00000000000000000099.batch.tmp", dir);
	assert_non_null(f = fopen(tmp, "w"));
	fclose(f);

	set_mode(&r, DL_SENT);
	d = open_d(&r, 1 << 20, dir, 1 << 20);
	assert_int_equal(count_files(dir, ".tmp"), 0);
	submit(d, 6, 10);
	wait_sent(d, 7);
	assert_int_equal(stats(d).batches_replayed, 6);
	delivery_close(d, 1000);
	assert_in_order(&r, 0, 7);
	assert_int_equal(count_files(dir, ".batch"), 0);
	rmdir(dir);
}

static void find_test(const char *name, const struct dl_stats *st, void *ctx)
{
	if (!strcmp(name, "test"))
		*(struct dl_stats *)ctx = *st;
}

/* A rejected batch is sent once, counted, and the next one goes on. */
static void test_reject_not_retried(void **state)
{
	struct recv r = { .mode = DL_REJECT };
	struct delivery *d = open_d(&r, 1 << 20, NULL, 0);
	struct dl_stats st = { 0 };

	submit(d, 0, 10);
	submit(d, 1, 10);
	for (int i = 0; i < 10000 && stats(d).batches_dropped[DL_DROP_REJECTED] < 2; i++)
		usleep(1000);
	usleep(20000); /* a retry, if there were one, would come within the backoff */
	assert_int_equal(__atomic_load_n(&r.calls, __ATOMIC_ACQUIRE), 2);
	delivery_foreach(find_test, &st);
	assert_int_equal(st.batches_dropped[DL_DROP_REJECTED], 2);
	assert_int_equal(st.records_dropped[DL_DROP_REJECTED], 1 + 2);
	assert_int_equal(st.retries, 0);
	set_mode(&r, DL_SENT);
	submit(d, 2, 10);
	wait_sent(d, 1);
	delivery_close(d, 1000);
	assert_in_order(&r, 2, 1);
}

/* retry_after_ms is honoured but capped by backoff_max_ms: a receiver asking
 * for an hour does not stall delivery. */
static void test_retry_after_capped(void **state)
{
	struct recv r = { .mode = DL_RETRY, .retry_after = 3600000 };
	struct delivery *d = open_d(&r, 1 << 20, NULL, 0);

	submit(d, 0, 10);
	wait_calls(&r, 3);
	set_mode(&r, DL_SENT);
	wait_sent(d, 1);
	delivery_close(d, 1000);
	assert_in_order(&r, 0, 1);
}

/* merge_max: once the receiver is back, queued batches go in sends of up
 * to merge_max bytes, in order; a spooled batch is never merged past. */
static void test_merge(void **state)
{
	char dir[] = "/tmp/ht-test-spool-XXXXXX";
	struct recv r = { .mode = DL_RETRY };
	struct delivery *d;

	assert_non_null(mkdtemp(dir));
	merge_max = 3000;
	d = open_d(&r, 5 * 1030, dir, 1 << 20);
	merge_max = 0;
	submit(d, 0, 1020);
	wait_calls(&r, 2); /* retrying batch 0 alone */
	for (int i = 1; i < 7; i++)
		submit(d, i, 1020); /* 0..4 in memory, 5 and 6 spooled */
	set_mode(&r, DL_SENT);
	wait_sent(d, 7);
	assert_int_equal(stats(d).sends, 5); /* [0 1] [2 3] [4], then the files 5 and 6 */
	delivery_close(d, 1000);
	assert_in_order(&r, 0, 7);
	rmdir(dir);
}

struct submitter {
	struct delivery *d;
	int n;
	int done;                 /* atomic */
};

static void *submit_thread(void *arg)
{
	struct submitter *t = arg;

	for (int i = 0; i < t->n; i++)
		submit(t->d, i, 1020);
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* wait_when_full (replay): past the memory bound submit waits, nothing is
 * dropped; once the receiver is back every batch goes out in order. */
static void test_wait_when_full(void **state)
{
	struct recv r = { .mode = DL_RETRY };
	struct delivery_cfg cfg = { .name = "test", .mem_max_bytes = 2 * 1030, .backoff_min_ms = 1,
				    .backoff_max_ms = 4, .wait_when_full = true };
	char err[256];
	struct delivery *d = delivery_new(&cfg, rx_send, &r, err, sizeof(err));
	struct submitter t = { .d = d, .n = 6 };
	pthread_t th;

	assert_non_null(d);
	assert_int_equal(pthread_create(&th, NULL, submit_thread, &t), 0);
	wait_calls(&r, 3);
	assert_int_equal(stats(d).queue_batches, 2);
	assert_int_equal(__atomic_load_n(&t.done, __ATOMIC_ACQUIRE), 0); /* waiting for room */
	set_mode(&r, DL_SENT);
	pthread_join(th, NULL);
	wait_sent(d, 6);
	assert_int_equal(stats(d).batches_dropped[DL_DROP_QUEUE_FULL], 0);
	delivery_close(d, 1000);
	assert_in_order(&r, 0, 6);
}

/* A spool directory that cannot be made is one clear error. */
static void test_bad_spool_dir(void **state)
{
	struct delivery_cfg cfg = { .name = "test", .mem_max_bytes = 1024,
				    .spool_dir = "/proc/self/nope", .spool_max_bytes = 1024 };
	char err[256] = "";

	assert_null(delivery_new(&cfg, rx_send, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "spool directory /proc/self/nope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_memory_bound_drops_newest),
		cmocka_unit_test(test_spool_and_recovery),
		cmocka_unit_test(test_restart_replays_spool),
		cmocka_unit_test(test_reject_not_retried),
		cmocka_unit_test(test_retry_after_capped),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_wait_when_full),
		cmocka_unit_test(test_bad_spool_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
