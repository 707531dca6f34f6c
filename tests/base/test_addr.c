/*
 * test_addr.c - binary addresses: text parse and format (golden RFC 5952
 * text, round trips), CIDR parse and match (IPv4, IPv6, IPv4-mapped IPv6
 * against IPv4 rules, unknown families).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/addr.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static struct ht_addr addr(const char *text)
{
	struct ht_addr a;

	if (ht_addr_parse(text, &a))
		fail_msg("'%s' does not parse", text);
	return a;
}

static struct ht_cidr cidr(const char *text)
{
	struct ht_cidr c;

	if (ht_cidr_parse(text, &c))
		fail_msg("rule '%s' does not parse", text);
	return c;
}

/* ------------------------------------------------------------- parse */

static void test_addr_parse(void **state)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t mapped[16] = { [10] = 0xff, 0xff, 10, 1, 2, 3 };
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/8", " 1.2.3.4", "1.2.3.4 ",
		"::ffff:", "1::2::3", "12345::", "example.com", "%eth0", "g::1",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999",
	};
	struct ht_addr a;

	assert_int_equal(ht_addr_parse("10.1.2.3", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, "\x0a\x01\x02\x03\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(ht_addr_parse("2001:DB8::1", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(a.bytes, v6, 16);
	assert_int_equal(ht_addr_parse("fe80::1%eth0", &a), 0); /* zone dropped */
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.bytes[0], 0xfe);
	assert_int_equal(a.bytes[15], 1);
	/* IPv4-mapped stays IPv6, as written */
	assert_int_equal(ht_addr_parse("::ffff:10.1.2.3", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(a.bytes, mapped, 16);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ht_addr_parse(bad[i], &a) != -EINVAL)
			fail_msg("'%s' should not parse", bad[i]);
	assert_int_equal(ht_addr_parse(NULL, &a), -EINVAL);
	assert_int_equal(ht_addr_parse("1.2.3.4", NULL), -EINVAL);
}

/* ------------------------------------------------------------ format */

static void test_addr_format(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "0.0.0.0", "0.0.0.0" },
		{ "127.0.0.1", "127.0.0.1" },
		{ "1.20.100.200", "1.20.100.200" },
		{ "255.255.255.255", "255.255.255.255" },
		{ "::", "::" },
		{ "::1", "::1" },
		{ "1::", "1::" },
		{ "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1" },
		{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },  /* one zero group stays */
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },     /* first of equal runs */
		{ "2001:0:0:1:0:0:0:1", "2001:0:0:1::1" },           /* the longest run */
		{ "fe80::1%eth0", "fe80::1" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
		{ "::ffff:10.1.2.3", "::ffff:10.1.2.3" },
		{ "::ffff:0.0.0.0", "::ffff:0.0.0.0" },
		{ "::ffff:255.255.255.255", "::ffff:255.255.255.255" },
		{ "::1.2.3.4", "::102:304" },  /* IPv4-compatible (deprecated) stays hex */
		{ "0:0:0:0:0:fffe:102:304", "::fffe:102:304" },
		{ "1:ffff::", "1:ffff::" },
	};
	char buf[HT_ADDR_TEXT_MAX];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ht_addr a = addr(t[i].in);
		size_t n;

		memset(buf, 'x', sizeof(buf));
		n = ht_addr_format(&a, buf);
		if (strcmp(buf, t[i].out))
			fail_msg("'%s': got '%s', want '%s'", t[i].in, buf, t[i].out);
		assert_int_equal(n, strlen(t[i].out));
	}
}

/* Unknown families print "" whatever the bytes say; the NUL is written. */
static void test_addr_format_unknown(void **state)
{
	static const uint8_t fams[] = { 0, 1, 3, AF_INET + AF_INET6, 255 };
	char buf[HT_ADDR_TEXT_MAX];

	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		struct ht_addr a;

		memset(&a, 0xff, sizeof(a));
		a.family = fams[i];
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(ht_addr_format(&a, buf), 0);
		assert_string_equal(buf, "");
	}
}

/* Random addresses: text fits, parses back to the same bytes, and has no
 * byte an encoder would escape or a CSV field would quote. */
static void test_addr_roundtrip(void **state)
{
	char buf[HT_ADDR_TEXT_MAX + 8];

	for (int it = 0; it < 200000; it++) {
		struct ht_addr a = { 0 }, b;
		size_t n;

		a.family = it & 1 ? AF_INET6 : AF_INET;
		for (int i = 0; i < (a.family == AF_INET ? 4 : 16); i++) {
			uint64_t x = rnd();

			/* many zeros so that runs of zero groups are common */
			a.bytes[i] = x % 3 ? 0 : (uint8_t)(x >> 8);
		}
		if (a.family == AF_INET6 && it % 5 == 1) {
			memset(a.bytes, 0, 10);
			a.bytes[10] = a.bytes[11] = 0xff;
		}
		memset(buf, 'x', sizeof(buf));
		n = ht_addr_format(&a, buf);
		assert_true(n < 40);
		assert_int_equal(n, strlen(buf));
		assert_int_equal(strspn(buf, "0123456789abcdef.:"), n);
		assert_int_equal(ht_addr_parse(buf, &b), 0);
		assert_int_equal(b.family, a.family);
		assert_memory_equal(b.bytes, a.bytes, 16);
	}
}

/* -------------------------------------------------------------- CIDR */

static void test_cidr_parse(void **state)
{
	static const struct {
		const char *s;
		int ok;
		uint8_t fam, prefix;
		const char *addr; /* expected bytes (after host bits cleared) */
	} t[] = {
		{ "10.1.2.3", 1, 4, 32, "\x0a\x01\x02\x03" },
		{ "10.1.2.3/8", 1, 4, 8, "\x0a\0\0\0" },
		{ "10.1.2.3/0", 1, 4, 0, "\0\0\0\0" },
		{ "10.1.2.255/31", 1, 4, 31, "\x0a\x01\x02\xfe" },
		{ "::1", 1, 6, 128, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" },
		{ "fd00::1/8", 1, 6, 8, "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0" },
		{ "::/0", 1, 6, 0, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0" },
		{ "::ffff:1.2.3.4", 1, 4, 32, "\x01\x02\x03\x04" },
		{ "::ffff:1.2.3.4/120", 1, 4, 24, "\x01\x02\x03\0" },
		{ "::ffff:0:0/96", 1, 4, 0, "\0\0\0\0" },
		{ "::ffff:0:0/95", 1, 6, 95, "\0\0\0\0\0\0\0\0\0\0\xff\xfe\0\0\0\0" },
		{ "1.2.3.4/33", 0 }, { "::/129", 0 }, { "1.2.3.4/", 0 }, { "/8", 0 },
		{ "1.2.3/8", 0 }, { "1.2.3.4/-1", 0 }, { "1.2.3.4/1a", 0 }, { "1.2.3.4/0008", 0 },
		{ "fe80::1%eth0", 0 }, { "example.com", 0 }, { "", 0 }, { "1.2.3.4 ", 0 },
	};
	struct ht_cidr c;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = ht_cidr_parse(t[i].s, &c);

		if ((rc == 0) != t[i].ok)
			fail_msg("'%s': rc %d", t[i].s, rc);
		if (!t[i].ok)
			continue;
		assert_int_equal(c.family, t[i].fam == 4 ? AF_INET : AF_INET6);
		assert_int_equal(c.prefix, t[i].prefix);
		assert_memory_equal(c.bytes, t[i].addr, t[i].fam == 4 ? 4 : 16);
	}
	assert_int_equal(ht_cidr_parse(NULL, &c), -EINVAL);
}

static void test_cidr_match(void **state)
{
	static const struct {
		const char *rule, *addr;
		bool hit;
	} t[] = {
		/* IPv4 */
		{ "10.0.0.0/8", "10.255.255.255", true }, { "10.0.0.0/8", "11.0.0.0", false },
		{ "10.0.0.0/8", "9.255.255.255", false }, { "192.168.1.2", "192.168.1.2", true },
		{ "192.168.1.2", "192.168.1.3", false }, { "0.0.0.0/0", "255.255.255.255", true },
		{ "172.16.0.0/12", "172.31.0.1", true }, { "172.16.0.0/12", "172.32.0.1", false },
		{ "10.1.2.254/31", "10.1.2.255", true }, { "10.1.2.254/31", "10.1.2.253", false },
		/* IPv6 */
		{ "2001:db8::/32", "2001:db8:ffff::1", true }, { "2001:db8::/32", "2001:db9::", false },
		{ "fe80::/10", "febf::1", true }, { "fe80::/10", "fec0::1", false },
		{ "::/0", "ffff::ffff", true }, { "::1", "::1", true }, { "::1", "::2", false },
		{ "2001:db8::/127", "2001:db8::1", true }, { "2001:db8::/127", "2001:db8::2", false },
		/* IPv4-mapped IPv6 matches IPv4 rules (and IPv6 ones, as the IPv6 it is) */
		{ "10.0.0.0/8", "::ffff:10.9.8.7", true }, { "10.0.0.0/8", "::ffff:11.0.0.1", false },
		{ "0.0.0.0/0", "::ffff:1.2.3.4", true }, { "::/0", "::ffff:1.2.3.4", true },
		{ "::ffff:10.0.0.0/104", "10.1.1.1", true },
		{ "::ffff:0:0/95", "::ffff:1.2.3.4", true },
		/* families never mix otherwise */
		{ "::/0", "1.2.3.4", false }, { "0.0.0.0/0", "::1", false },
		{ "::ffff:0:0/95", "1.2.3.4", false },
		{ "1.2.3.4", "::1.2.3.4", false }, /* IPv4-compatible is not IPv4 */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ht_cidr c = cidr(t[i].rule);
		struct ht_addr a = addr(t[i].addr);

		if (ht_cidr_match(&c, &a) != t[i].hit)
			fail_msg("'%s' in '%s': want %d", t[i].addr, t[i].rule, t[i].hit);
	}
}

/* An unknown family matches nothing, not even /0, whatever its bytes. */
static void test_cidr_match_unknown(void **state)
{
	static const char *const rules[] = { "0.0.0.0/0", "::/0", "::ffff:0:0/96" };
	struct ht_addr a;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		struct ht_cidr c = cidr(rules[i]);

		memset(&a, 0, sizeof(a));
		assert_false(ht_cidr_match(&c, &a));
		a = addr("::ffff:1.2.3.4");
		a.family = 0;
		assert_false(ht_cidr_match(&c, &a));
		a.family = 3;
		assert_false(ht_cidr_match(&c, &a));
	}
}

/* Bit k (0 = most significant) of b. */
static int bit(const uint8_t *b, unsigned k)
{
	return b[k / 8] >> (7 - k % 8) & 1;
}

/* Every prefix length against a bit-by-bit reference. */
static void test_cidr_match_prefixes(void **state)
{
	for (int it = 0; it < 20000; it++) {
		bool v6 = it & 1;
		unsigned max = v6 ? 128 : 32, prefix = (unsigned)(rnd() % (max + 1)), diff;
		struct ht_addr net = { .family = v6 ? AF_INET6 : AF_INET }, a;
		struct ht_cidr c;
		char text[HT_ADDR_TEXT_MAX + 8];
		bool want = true;

		for (unsigned i = 0; i < max / 8; i++)
			net.bytes[i] = (uint8_t)rnd();
		ht_addr_format(&net, text);
		snprintf(text + strlen(text), 8, "/%u", prefix);
		assert_int_equal(ht_cidr_parse(text, &c), 0);
		if (v6 && prefix >= 96 && !memcmp(net.bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12))
			continue; /* the rule became IPv4: covered above */
		/* flip one random bit: inside the network iff it is a host bit */
		a = net;
		diff = (unsigned)(rnd() % max);
		a.bytes[diff / 8] ^= (uint8_t)(0x80 >> diff % 8);
		for (unsigned k = 0; k < prefix; k++)
			want &= bit(a.bytes, k) == bit(net.bytes, k);
		assert_true(want == (diff >= prefix));
		assert_true(ht_cidr_match(&c, &net));
		if (ht_cidr_match(&c, &a) != want)
			fail_msg("%s vs bit %u: want %d", text, diff, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_addr_format),
		cmocka_unit_test(test_addr_format_unknown),
		cmocka_unit_test(test_addr_roundtrip),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_match),
		cmocka_unit_test(test_cidr_match_unknown),
		cmocka_unit_test(test_cidr_match_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
