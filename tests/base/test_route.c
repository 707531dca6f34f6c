/* test_route.c - route templates: ids, query, absolute form, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/route.h"

struct rcase {
	const char *label;
	const char *path;
	const char *want;
};

static const struct rcase cases[] = {
	{ "root", "/", "/" },
	{ "static", "/api/users", "/api/users" },
	{ "trailing slash kept", "/api/users/", "/api/users/" },
	{ "numeric", "/api/users/12345", "/api/users/{id}" },
	{ "numeric middle", "/api/users/7/orders/99", "/api/users/{id}/orders/{id}" },
	{ "zero", "/items/0", "/items/{id}" },
	{ "uuid lower", "/o/123e4567-e89b-12d3-a456-426614174000/x", "/o/{id}/x" },
	{ "uuid upper", "/o/123E4567-E89B-12D3-A456-426614174000", "/o/{id}" },
	{ "misplaced dash: still a long token", "/o/123e4567e-89b-12d3-a456-426614174000", "/o/{id}" },
	{ "dashed words kept", "/o/not-a-uuid-at-all-really", "/o/not-a-uuid-at-all-really" },
	{ "hex 16", "/blob/deadbeefcafebabe", "/blob/{id}" },
	{ "hex 40 sha1", "/commit/da39a3ee5e6b4b0d3255bfef95601890afd80709", "/commit/{id}" },
	{ "hex 15 kept", "/blob/deadbeefcafebab", "/blob/deadbeefcafebab" },
	{ "mixed token 20", "/t/abcDEF1234567890xyzQ", "/t/{id}" },
	{ "base64url token", "/s/AbC-dEf_123456789012", "/s/{id}" },
	{ "letters only 20 kept", "/docs/averyveryverylongwordhere", "/docs/averyveryverylongwordhere" },
	{ "short mixed kept", "/v1/user123", "/v1/user123" },
	{ "date", "/reports/2024-01-05", "/reports/{id}" },
	{ "version dots", "/dl/1.2.3/pkg", "/dl/{id}/pkg" },
	{ "email", "/u/alice@example.com", "/u/{id}" },
	{ "query stripped", "/search?q=secret&x=1", "/search" },
	{ "query after id", "/a/42?x=y", "/a/{id}" },
	{ "fragment stripped", "/page#top", "/page" },
	{ "matrix dropped", "/cart;jsessionid=ABC123/items", "/cart/items" },
	{ "percent kept", "/files/a%20b", "/files/a%20b" },
	{ "percent numeric-ish kept", "/files/%E4%B8%AD", "/files/%E4%B8%AD" },
	{ "double slash", "//a//b", "//a//b" },
	{ "absolute form", "http://example.com:8080/api/7?x", "/api/{id}" },
	{ "absolute no path", "https://example.com", "/" },
	{ "asterisk", "*", "*" },
	{ "authority form", "example.com:443", ROUTE_OTHER },
	{ "garbage", "abc def", ROUTE_OTHER },
	{ "query only", "?a=1", ROUTE_OTHER },
	{ "empty", "", ROUTE_NONE },
	{ "control bytes", "/a\x01\x7f" "b", "/a__b" },
	{ "non-ascii", "/caf\xc3\xa9", "/caf__" },
	{ "space", "/a b", "/a_b" },
};

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[ROUTE_MAX_LEN + 1];
		size_t n = route_template(cases[i].path, strlen(cases[i].path), out, sizeof(out));

		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%s: \"%s\" -> \"%s\", want \"%s\"", cases[i].label, cases[i].path,
				 out, cases[i].want);
		assert_int_equal(n, strlen(out));
	}
}

/* The input need not be NUL-terminated: only len bytes are read. */
static void test_not_terminated(void **state)
{
	char in[] = { '/', 'a', '/', '1', '2' };
	char out[64];

	assert_int_equal(route_template(in, 3, out, sizeof(out)), 3);
	assert_string_equal(out, "/a/");
	route_template(in, sizeof(in), out, sizeof(out));
	assert_string_equal(out, "/a/{id}");
	route_template(NULL, 0, out, sizeof(out));
	assert_string_equal(out, ROUTE_NONE);
}

static void test_long_segment(void **state)
{
	char in[300], out[ROUTE_MAX_LEN + 1];

	in[0] = '/';
	memset(in + 1, 'x', sizeof(in) - 1);
	route_template(in, sizeof(in), out, sizeof(out));
	assert_string_equal(out, "/{id}");
	/* 63 letters stays, 64 is an id */
	route_template(in, 64, out, sizeof(out));
	assert_int_equal(strlen(out), 64);
	route_template(in, 65, out, sizeof(out));
	assert_string_equal(out, "/{id}");
}

static void test_bounded(void **state)
{
	char in[4096], out[ROUTE_MAX_LEN + 1];
	size_t n = 0, r;

	/* many 40-char word segments: cut at a segment boundary */
	while (n + 41 < sizeof(in)) {
		in[n++] = '/';
		memset(in + n, 'w', 40);
		n += 40;
	}
	r = route_template(in, n, out, sizeof(out));
	assert_true(r <= ROUTE_MAX_LEN);
	assert_int_equal(r, strlen(out));
	assert_int_equal(r, 41 * 3 + 4);
	assert_string_equal(out + r - 4, "/...");

	/* many short segments: cut at ROUTE_MAX_SEGMENTS */
	n = 0;
	for (int i = 0; i < 40; i++) {
		in[n++] = '/';
		in[n++] = 'a';
	}
	r = route_template(in, n, out, sizeof(out));
	assert_int_equal(r, ROUTE_MAX_SEGMENTS * 2 + 4);
	assert_string_equal(out + r - 4, "/...");

	/* small output buffers: always terminated, never overrun */
	for (size_t cap = 1; cap < 12; cap++) {
		char small[16];

		memset(small, 'Z', sizeof(small));
		r = route_template("/abcdef/ghijkl", 14, small, cap);
		assert_true(r < cap);
		assert_int_equal(small[r], '\0');
		assert_int_equal(small[cap], 'Z');
	}
	assert_int_equal(route_template("/a", 2, out, 0), 0);
}

/* Every prefix of a nasty input is handled without reading past it. */
static void test_prefixes(void **state)
{
	const char *s = "http://h/a;b=c/123e4567-e89b-12d3-a456-426614174000/%zz/\xff?q#f";
	char out[ROUTE_MAX_LEN + 1];

	for (size_t len = 0; len <= strlen(s); len++) {
		char buf[128];

		memcpy(buf, s, len); /* ASan catches reads past len via the copy size */
		size_t r = route_template(buf, len, out, sizeof(out));

		assert_int_equal(r, strlen(out));
		assert_true(r > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_not_terminated),
		cmocka_unit_test(test_long_segment),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
