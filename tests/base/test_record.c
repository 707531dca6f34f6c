/*
 * test_record.c - record arena and headers: header names lower-cased
 * (every byte value at every position of names of 1..40 bytes), repeated
 * names joined, against a model written here (strcasecmp and a list), and
 * the per-thread pool of freed records: a reused record reads as new, and
 * a thread's kept records are freed when it exits (ASan's leak check).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/record.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_lower_every_byte(void **state)
{
	char name[40], want[40];

	(void)state;
	for (size_t n = 1; n <= sizeof(name); n++) {
		for (int c = 0; c < 256; c++) {
			struct ht_record *r = ht_record_new();
			const char *got;

			assert_non_null(r);
			for (size_t i = 0; i < n; i++)
				name[i] = (char)("aZ-9Q"[(i + n) % 5]);
			name[(n * 5 + (size_t)c) % n] = (char)c;
			for (size_t i = 0; i < n; i++)
				want[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
			assert_int_equal(ht_record_add_header(r, &r->req_headers, name, n, "v", 1), 0);
			assert_int_equal(r->req_headers.n, 1);
			assert_int_equal(r->req_headers.v[0].name.len, n);
			got = ht_str_ptr(r, r->req_headers.v[0].name);
			assert_memory_equal(got, want, n);
			assert_true(ht_str_eq(r, r->req_headers.v[0].value, "v"));
			ht_record_free(r);
		}
	}
}

/* The model: names in order of first appearance, values joined with ", ". */
struct model {
	char name[64][32];
	char value[64][512];
	int n;
};

static void model_add(struct model *m, const char *name, const char *value)
{
	size_t k = 0;

	for (int i = 0; i < m->n; i++) {
		if (!strcasecmp(m->name[i], name)) {
			strcat(m->value[i], ", ");
			strcat(m->value[i], value);
			return;
		}
	}
	for (; name[k]; k++)
		m->name[m->n][k] = name[k] >= 'A' && name[k] <= 'Z' ? (char)(name[k] + 32) : name[k];
	m->name[m->n][k] = '\0';
	strcpy(m->value[m->n++], value);
}

static void test_join_against_model(void **state)
{
	static const char *const names[] = {
		"host", "accept", "content-type", "content-length", "x-a", "x-b", "set-cookie",
		"cache-control", "etag", "date", "server", "via", "x-forwarded-for", "te",
		"a", "b", "ab", "ba", "x-request-id-with-a-long-name", "x-request-id-with-a-long-nbme",
	};
	struct model *m = calloc(1, sizeof(*m));

	(void)state;
	assert_non_null(m);
	for (int it = 0; it < 2000; it++) {
		struct ht_record *r = ht_record_new();
		int adds = (int)(rnd() % 24);

		assert_non_null(r);
		m->n = 0;
		for (int a = 0; a < adds; a++) {
			char name[32], value[16];
			size_t n;

			strcpy(name, names[rnd() % (sizeof(names) / sizeof(names[0]))]);
			n = strlen(name);
			for (size_t k = 0; k < n; k++)
				if (rnd() % 3 == 0 && name[k] >= 'a' && name[k] <= 'z')
					name[k] = (char)(name[k] - 32);
			snprintf(value, sizeof(value), "v%d", (int)(rnd() % 100));
			model_add(m, name, value);
			assert_int_equal(ht_record_add_header(r, &r->req_headers, name, n, value,
							      strlen(value)), 0);
		}
		assert_int_equal(r->req_headers.n, m->n);
		for (int i = 0; i < m->n; i++) {
			assert_true(ht_str_eq(r, r->req_headers.v[i].name, m->name[i]));
			assert_true(ht_str_eq(r, r->req_headers.v[i].value, m->value[i]));
			assert_non_null(ht_record_find_header(r, &r->req_headers, m->name[i]));
		}
		ht_record_free(r);
	}
	free(m);
}

/* A record from the pool reads as a new one: no field, header or seen bit left over. */
static void test_pool_reuse_is_clean(void **state)
{
	struct ht_record *r = ht_record_new(), *q;
	char body[3000];

	(void)state;
	assert_non_null(r);
	memset(body, 'x', sizeof(body));
	r->status = 404;
	r->flags = 7;
	r->pid = 9;
	assert_int_equal(ht_record_set(r, &r->method, "POST", 4), 0);
	assert_int_equal(ht_record_add_header(r, &r->req_headers, "Host", 4, "a", 1), 0);
	assert_int_equal(ht_record_add_header(r, &r->resp_headers, "Server", 6, "b", 1), 0);
	assert_int_equal(ht_record_body_append(r, &r->resp_body, body, sizeof(body)), 0);
	ht_record_free(r);
	q = ht_record_new();
	assert_non_null(q);
	assert_int_equal(q->status, 0);
	assert_int_equal(q->flags, 0);
	assert_int_equal(q->pid, 0);
	assert_int_equal(q->method.len, 0);
	assert_int_equal(q->resp_body.len, 0);
	assert_int_equal(q->arena_len, 0);
	assert_int_equal(q->req_headers.n, 0);
	assert_int_equal(q->resp_headers.n, 0);
	assert_int_equal(q->req_headers.seen, 0);
	assert_null(q->next);
	/* "host" again is a new header, not joined with the old record's */
	assert_int_equal(ht_record_add_header(q, &q->req_headers, "host", 4, "c", 1), 0);
	assert_int_equal(q->req_headers.n, 1);
	assert_true(ht_str_eq(q, q->req_headers.v[0].value, "c"));
	ht_record_free(q);
}

/* Records freed by a thread that then exits: its pool is drained (ASan reports leaks). */
static void *churn(void *arg)
{
	struct ht_record *rs[100];

	(void)arg;
	for (int i = 0; i < 100; i++) {
		rs[i] = ht_record_new();
		if (!rs[i] || ht_record_add_header(rs[i], &rs[i]->req_headers, "Host", 4, "h", 1))
			return (void *)1;
	}
	for (int i = 0; i < 100; i++)
		ht_record_free(rs[i]);
	return NULL;
}

static void test_pool_thread_exit(void **state)
{
	(void)state;
	for (int t = 0; t < 4; t++) {
		pthread_t th;
		void *ret = (void *)2;

		assert_int_equal(pthread_create(&th, NULL, churn, NULL), 0);
		assert_int_equal(pthread_join(th, &ret), 0);
		assert_null(ret);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lower_every_byte),
		cmocka_unit_test(test_join_against_model),
		cmocka_unit_test(test_pool_reuse_is_clean),
		cmocka_unit_test(test_pool_thread_exit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
