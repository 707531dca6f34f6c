/*
 * test_filters.c - the kernel's pure filter helpers (bpf/filters.h) as
 * plain C: protocol inference on a connection's first bytes, the
 * health-check path match, the family/pid/port filters of a new connection.
 * Table-driven; the maps they consult are faked by bpf_map_lookup_elem()
 * below (tests/bpf/bpf_shim.h declares it).  Nothing of libht.a is linked.
 */
#include "bpf_shim.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "filters.h"

/* ---- fake maps and helpers */

static const char *fake_paths[4];   /* health_paths keys */
static __u32 fake_pids[4];          /* pid_allow keys (0: none) */
static __u16 fake_ports[4];         /* deny_ports keys (0: none) */
static __u8 present = 1;

/* The fake sets belong to the generation in use (filter_gen): a key of the
 * other generation never matches, as in the real maps. */
void *bpf_map_lookup_elem(void *map, const void *key)
{
	__u32 g = filter_gen & 1;

	if (map == &health_paths) {
		const struct ht_path_key *k = key;

		for (int i = 0; i < 4 && fake_paths[i]; i++) {
			struct ht_path_key want = { .gen = g };

			strncpy(want.path, fake_paths[i], sizeof(want.path));
			if (memcmp(&want, k, sizeof(want)) == 0)
				return &present;
		}
		return NULL;
	}
	for (int i = 0; i < 4; i++) {
		const struct ht_pid_key *pk = key;
		const struct ht_port_key *lk = key;

		if (map == &pid_allow && fake_pids[i] && pk->gen == g && fake_pids[i] == pk->tgid)
			return &present;
		if (map == &deny_ports && fake_ports[i] && lk->gen == g && fake_ports[i] == lk->port)
			return &present;
	}
	return NULL;
}

void *bpf_task_storage_get(void *map, void *task, void *value, __u64 flags)
{
	return NULL;
}

void *bpf_get_current_task_btf(void)
{
	return NULL;
}

__u32 bpf_get_smp_processor_id(void)
{
	return 0;
}

static int reset(void **state)
{
	memset(fake_paths, 0, sizeof(fake_paths));
	memset(fake_pids, 0, sizeof(fake_pids));
	memset(fake_ports, 0, sizeof(fake_ports));
	self_tgid = 0;
	filter_gen = 0;
	memset((void *)filter_n, 0, sizeof(filter_n));
	return 0;
}

/* ---- protocol inference */

#define ALL -1 /* len: the whole string */

struct infer_case {
	const char *bytes;
	int len;        /* bytes looked at (the rest of the buffer is readable) */
	int want;       /* enum ht_infer */
	__u32 start;    /* request-target offset, for HT_INF_REQUEST */
};

static const struct infer_case infer_cases[] = {
	/* every method the inference accepts, with its space */
	{ "GET / HTTP/1.1", ALL, HT_INF_REQUEST, 4 },
	{ "POST /a HTTP/1.1", ALL, HT_INF_REQUEST, 5 },
	{ "PUT /a HTTP/1.1", ALL, HT_INF_REQUEST, 4 },
	{ "HEAD / HTTP/1.1", ALL, HT_INF_REQUEST, 5 },
	{ "DELETE /a HTTP/1.1", ALL, HT_INF_REQUEST, 7 },
	{ "PATCH /a HTTP/1.1", ALL, HT_INF_REQUEST, 6 },
	{ "OPTIONS * HTTP/1.1", ALL, HT_INF_REQUEST, 8 },
	{ "CONNECT h:443 HTTP/1.1", ALL, HT_INF_REQUEST, 8 },
	{ "TRACE / HTTP/1.1", ALL, HT_INF_REQUEST, 6 },
	/* responses of both minor versions; exactly the 7 bytes of "HTTP/1." */
	{ "HTTP/1.1 200 OK", ALL, HT_INF_RESPONSE, 0 },
	{ "HTTP/1.0 404 Not Found", ALL, HT_INF_RESPONSE, 0 },
	{ "HTTP/1.", ALL, HT_INF_RESPONSE, 0 },
	/* the shortest complete method: exactly "GET " and "OPTIONS " */
	{ "GET ", ALL, HT_INF_REQUEST, 4 },
	{ "OPTIONS ", ALL, HT_INF_REQUEST, 8 },
	/* prefixes: more bytes needed (whatever follows in the buffer) */
	{ "", ALL, HT_INF_MORE, 0 },
	{ "G", ALL, HT_INF_MORE, 0 },
	{ "GE", ALL, HT_INF_MORE, 0 },
	{ "GET", ALL, HT_INF_MORE, 0 },
	{ "GET / HTTP/1.1", 3, HT_INF_MORE, 0 },   /* the space is past len */
	{ "H", ALL, HT_INF_MORE, 0 },              /* HEAD or HTTP/1. */
	{ "HEAD", ALL, HT_INF_MORE, 0 },
	{ "HTTP/1", ALL, HT_INF_MORE, 0 },
	{ "HTTP/1.1 200", 6, HT_INF_MORE, 0 },
	{ "OPTIONS", ALL, HT_INF_MORE, 0 },
	{ "CONNEC", ALL, HT_INF_MORE, 0 },
	{ "PO", ALL, HT_INF_MORE, 0 },
	{ "P", ALL, HT_INF_MORE, 0 },              /* POST, PUT, PATCH */
	/* near misses */
	{ "GETX / HTTP/1.1", ALL, HT_INF_NOT_HTTP, 0 },
	{ "GET\t/ HTTP/1.1", ALL, HT_INF_NOT_HTTP, 0 },
	{ "get / HTTP/1.1", ALL, HT_INF_NOT_HTTP, 0 },
	{ "Get / HTTP/1.1", ALL, HT_INF_NOT_HTTP, 0 },
	{ "gE", ALL, HT_INF_NOT_HTTP, 0 },
	{ " GET / HTTP/1.1", ALL, HT_INF_NOT_HTTP, 0 },
	{ "PUTS /", ALL, HT_INF_NOT_HTTP, 0 },
	{ "POSTX", ALL, HT_INF_NOT_HTTP, 0 },
	{ "OPTIONSX", ALL, HT_INF_NOT_HTTP, 0 },
	{ "CONNECTX", ALL, HT_INF_NOT_HTTP, 0 },
	{ "PROPFIND / HTTP/1.1", ALL, HT_INF_NOT_HTTP, 0 },
	{ "http/1.1 200 OK", ALL, HT_INF_NOT_HTTP, 0 },
	{ "HTTP/2 200", ALL, HT_INF_NOT_HTTP, 0 },
	{ "HTTP/1,1 200", ALL, HT_INF_NOT_HTTP, 0 },
	{ "PRI * HTTP/2.0", ALL, HT_INF_NOT_HTTP, 0 },   /* HTTP/2 preface */
	{ "\x16\x03\x01\x00\x2a", ALL, HT_INF_NOT_HTTP, 0 }, /* TLS */
	{ "SSH-2.0-OpenSSH", ALL, HT_INF_NOT_HTTP, 0 },
	{ "X", ALL, HT_INF_NOT_HTTP, 0 },
};

static void test_infer_table(void **state)
{
	for (size_t i = 0; i < sizeof(infer_cases) / sizeof(infer_cases[0]); i++) {
		const struct infer_case *t = &infer_cases[i];
		__u8 buf[32];
		__u32 len = t->len == ALL ? (__u32)strlen(t->bytes) : (__u32)t->len;
		__u32 start = 99;
		int got;

		/* readable past len: what follows must not be looked at */
		memset(buf, ' ', sizeof(buf));
		memcpy(buf, t->bytes, strlen(t->bytes));
		got = ht_infer(buf, len, &start);
		if (got != t->want)
			fail_msg("case %zu \"%s\" len %u: got %d, want %d", i, t->bytes, len, got, t->want);
		if (t->want == HT_INF_REQUEST && start != t->start)
			fail_msg("case %zu \"%s\": start %u, want %u", i, t->bytes, start, t->start);
		if (t->want != HT_INF_REQUEST && start != 99)
			fail_msg("case %zu \"%s\": start set to %u for a non-request", i, t->bytes, start);
	}
}

/* Every proper prefix of every accepted start is "more", never a verdict. */
static void test_infer_prefixes(void **state)
{
	static const char *const starts[] = { "GET ", "POST ", "PUT ", "HEAD ", "DELETE ",
					      "PATCH ", "OPTIONS ", "CONNECT ", "TRACE ",
					      "HTTP/1." };

	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		for (size_t n = 0; n < strlen(starts[i]); n++) {
			__u8 buf[16];
			__u32 start = 0;

			memset(buf, 'X', sizeof(buf));
			memcpy(buf, starts[i], n);
			if (ht_infer(buf, (__u32)n, &start) != HT_INF_MORE)
				fail_msg("\"%.*s\" (%zu bytes of \"%s\") is not a prefix", (int)n,
					 starts[i], n, starts[i]);
		}
	}
}

/* ---- health-check paths */

struct health_case {
	const char *request;
	int len;        /* bytes seen of it */
	int want;       /* 1 match, 0 no match, -1 path not complete */
};

static int health_run(const char *request, int len)
{
	__u8 buf[3 * HT_PREFIX_MAX];
	__u32 start = 0;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, request, strlen(request) < sizeof(buf) ? strlen(request) : sizeof(buf));
	assert_int_equal(ht_infer(buf, (__u32)strlen(request), &start), HT_INF_REQUEST);
	return ht_health_match(buf, len == ALL ? (__u32)strlen(request) : (__u32)len, start, 0);
}

static void test_health_table(void **state)
{
	static const struct health_case cases[] = {
		{ "GET /healthz HTTP/1.1\r\n", ALL, 1 },        /* exact */
		{ "GET /healthz?x=1 HTTP/1.1\r\n", ALL, 1 },    /* query string */
		{ "GET /healthz? HTTP/1.1\r\n", ALL, 1 },
		{ "HEAD /ready HTTP/1.1\r\n", ALL, 1 },         /* another method, path */
		{ "OPTIONS /ready HTTP/1.1\r\n", ALL, 1 },      /* target at offset 8 */
		{ "GET /healthzz HTTP/1.1\r\n", ALL, 0 },       /* configured is a prefix */
		{ "GET /health HTTP/1.1\r\n", ALL, 0 },         /* prefix of configured */
		{ "GET /healthz/x HTTP/1.1\r\n", ALL, 0 },      /* no prefix matching */
		{ "GET /HEALTHZ HTTP/1.1\r\n", ALL, 0 },        /* case matters */
		{ "GET / HTTP/1.1\r\n", ALL, 0 },
		{ "GET /x?/healthz HTTP/1.1\r\n", ALL, 0 },
		{ "GET /healthz HTTP/1.1\r\n", 12, -1 },        /* "/healthz" without its end */
		{ "GET /healthz HTTP/1.1\r\n", 13, 1 },         /* just the space more */
		{ "GET /healthz?x=1 HTTP/1.1\r\n", 13, 1 },     /* just the '?' more */
		{ "GET /healthz HTTP/1.1\r\n", 4, -1 },         /* not a byte of the path */
	};

	fake_paths[0] = "/healthz";
	fake_paths[1] = "/ready";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = health_run(cases[i].request, cases[i].len);

		if (got != cases[i].want)
			fail_msg("case %zu \"%s\" len %d: got %d, want %d", i, cases[i].request,
				 cases[i].len, got, cases[i].want);
	}
}

/* Paths of HT_PATH_MAX - 1 bytes (the longest key) match; one byte more is
 * longer than any configured path. */
static void test_health_path_lengths(void **state)
{
	char longest[HT_PATH_MAX], too_long[HT_PATH_MAX + 1], req[256];

	memset(longest, 'a', sizeof(longest));
	longest[0] = '/';
	longest[HT_PATH_MAX - 1] = '\0';
	memcpy(too_long, longest, HT_PATH_MAX - 1);
	too_long[HT_PATH_MAX - 1] = 'a';
	too_long[HT_PATH_MAX] = '\0';
	fake_paths[0] = longest;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n", longest);
	assert_int_equal(health_run(req, ALL), 1);
	snprintf(req, sizeof(req), "OPTIONS %s?q HTTP/1.1\r\n", longest);
	assert_int_equal(health_run(req, ALL), 1);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n", too_long);
	assert_int_equal(health_run(req, ALL), 0);
	/* the whole path must be seen: its last byte is not enough */
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n", longest);
	assert_int_equal(health_run(req, 4 + HT_PATH_MAX - 1), -1);
}

/* ---- family, pid and port filters of a new connection */

static struct sock make_sock(__u16 family, __u16 type, __u16 lport, __u16 rport)
{
	struct sock sk = { .sk_type = type };

	sk.__sk_common.skc_family = family;
	sk.__sk_common.skc_num = lport;
	sk.__sk_common.skc_dport = htons(rport);
	return sk;
}

static void test_new_conn_filters(void **state)
{
	struct sock tcp4 = make_sock(HT_AF_INET, HT_SOCK_STREAM, 8080, 40000);
	struct sock tcp6 = make_sock(HT_AF_INET6, HT_SOCK_STREAM, 8080, 40000);
	struct sock udp = make_sock(HT_AF_INET, 2 /* SOCK_DGRAM */, 53, 40000);
	struct sock unix_sk = make_sock(1 /* AF_UNIX */, HT_SOCK_STREAM, 0, 0);
	struct ht_conn c = {};

	assert_int_equal(ht_filter_new_conn(&tcp4, 100, &c), 0);
	assert_int_equal(c.family, HT_AF_INET);
	assert_int_equal(c.lport, 8080);
	assert_int_equal(c.rport, 40000);
	assert_int_equal(ht_filter_new_conn(&tcp6, 100, &c), 0);
	assert_int_equal(ht_filter_new_conn(&udp, 100, &c), HT_KS_FAMILY);
	assert_int_equal(ht_filter_new_conn(&unix_sk, 100, &c), HT_KS_FAMILY);

	self_tgid = 100; /* the tracer itself */
	assert_int_equal(ht_filter_new_conn(&tcp4, 100, &c), HT_KS_PID);
	assert_int_equal(ht_filter_new_conn(&tcp4, 101, &c), 0);
	filter_n[0].pids = 1;
	fake_pids[0] = 102;
	assert_int_equal(ht_filter_new_conn(&tcp4, 101, &c), HT_KS_PID);
	assert_int_equal(ht_filter_new_conn(&tcp4, 102, &c), 0);

	filter_n[0].ports = 1;
	fake_ports[0] = 8080; /* local */
	assert_int_equal(ht_filter_new_conn(&tcp4, 102, &c), HT_KS_PORT);
	fake_ports[0] = 40000; /* remote, compared in host order */
	assert_int_equal(ht_filter_new_conn(&tcp4, 102, &c), HT_KS_PORT);
	fake_ports[0] = htons(40000); /* the network-order value is not the port */
	assert_int_equal(ht_filter_new_conn(&tcp4, 102, &c), 0);
	filter_n[0].ports = 0;
	fake_ports[0] = 8080; /* an empty deny-list is not consulted */
	assert_int_equal(ht_filter_new_conn(&tcp4, 102, &c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_infer_table, reset),
		cmocka_unit_test_setup(test_infer_prefixes, reset),
		cmocka_unit_test_setup(test_health_table, reset),
		cmocka_unit_test_setup(test_health_path_lengths, reset),
		cmocka_unit_test_setup(test_new_conn_filters, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
