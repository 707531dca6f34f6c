/*
 * test_tls_attach.c - which /proc/PID/maps lines name an OpenSSL library
 * (tls_maps_line_lib, src/source/tls_attach.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "source/tls_attach.h"

static void test_maps_lines(void **state)
{
	static const struct {
		const char *line;
		const char *want; /* NULL: not a library */
	} cases[] = {
		{ "7f1c2a400000-7f1c2a460000 r-xp 00021000 fe:00 14884939                   /usr/lib/x86_64-linux-gnu/libssl.so.3\n",
		  "/usr/lib/x86_64-linux-gnu/libssl.so.3" },
		{ "7f00-7f10 r--p 00000000 00:2a 77 /opt/app lib/libssl.so.1.1\n",
		  "/opt/app lib/libssl.so.1.1" },
		{ "7f00-7f10 r--p 00000000 00:2a 77 /tmp/x/libssl.so", "/tmp/x/libssl.so" },
		/* NSS's libssl3.so, a similar name, a deleted file, anonymous maps */
		{ "7f00-7f10 r--p 00000000 fe:00 12 /usr/lib/x86_64-linux-gnu/libssl3.so\n", NULL },
		{ "7f00-7f10 r--p 00000000 fe:00 12 /usr/lib/libssl.so-old\n", NULL },
		{ "7f00-7f10 r--p 00000000 fe:00 12 /usr/lib/libssl.so.3 (deleted)\n", NULL },
		{ "7f00-7f10 r--p 00000000 fe:00 12 /usr/lib/libssl.so.3/libcrypto.so.3\n", NULL },
		{ "7ffd0000-7ffd1000 rw-p 00000000 00:00 0                          [stack]\n", NULL },
		{ "7ffd0000-7ffd1000 rw-p 00000000 00:00 0\n", NULL },
		{ "garbage\n", NULL },
		{ "", NULL },
	};
	char path[4096];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = tls_maps_line_lib(cases[i].line, path, sizeof(path));

		if (!cases[i].want) {
			if (n)
				fail_msg("case %zu: took '%s'", i, path);
			continue;
		}
		if (n != strlen(cases[i].want) || strcmp(path, cases[i].want))
			fail_msg("case %zu: got %zu '%s'", i, n, n ? path : "");
	}
	/* a path that does not fit is refused, never cut */
	assert_int_equal(tls_maps_line_lib(cases[0].line, path, 20), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
