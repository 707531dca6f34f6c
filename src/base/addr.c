/* addr.c - binary addresses and CIDR matching; see addr.h. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool is_v4mapped(const uint8_t b[16])
{
	return memcmp(b, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

int ht_addr_parse(const char *s, struct ht_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	size_t n;

	if (!s || !out)
		return -EINVAL;
	n = strcspn(s, "%"); /* drop an IPv6 zone ("fe80::1%eth0") */
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static char *fmt_v4(char *p, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		if (i < 3)
			*p++ = '.';
	}
	return p;
}

/* RFC 5952: lower-case hex, no leading zeros, the longest run of two or
 * more zero groups (the first of equal runs) as "::", ::ffff:a.b.c.d for
 * IPv4-mapped.  The deprecated IPv4-compatible ::a.b.c.d stays hex
 * (glibc's inet_ntop would print it dotted): this is the text the
 * collector has always written. */
static char *fmt_v6(char *p, const uint8_t *a)
{
	static const char hex[] = "0123456789abcdef";
	int best = -1, best_len = 0;

	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && !a[2 * j] && !a[2 * j + 1])
			j++;
		if (j - i > best_len && j - i > 1) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	if (best == 0 && best_len == 5 && a[10] == 0xff && a[11] == 0xff) {
		memcpy(p, "::ffff:", 7);
		return fmt_v4(p + 7, a + 12);
	}
	for (int i = 0; i < 8; i++) {
		unsigned g = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
		bool started = false;

		if (i == best) {
			*p++ = ':';
			if (i == 0)
				*p++ = ':';
			i += best_len - 1;
			continue;
		}
		for (int s = 12; s >= 0; s -= 4) {
			unsigned nib = (g >> s) & 0xf;

			if (nib || started || s == 0) {
				*p++ = hex[nib];
				started = true;
			}
		}
		if (i < 7)
			*p++ = ':';
	}
	return p;
}

size_t ht_addr_format(const struct ht_addr *a, char *buf)
{
	char *end = buf;

	if (a->family == AF_INET)
		end = fmt_v4(buf, a->bytes);
	else if (a->family == AF_INET6)
		end = fmt_v6(buf, a->bytes);
	*end = '\0';
	return (size_t)(end - buf);
}

static void clear_host_bits(uint8_t b[16], unsigned prefix)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bit0 = i * 8;

		if (bit0 >= prefix)
			b[i] = 0;
		else if (prefix - bit0 < 8)
			b[i] &= (uint8_t)(0xff00u >> (prefix - bit0));
	}
}

/* "" or digits only, at most 3 of them, no more than max; -1 if not. */
static int parse_prefix(const char *p, unsigned max)
{
	unsigned v = 0;
	size_t n = strlen(p);

	if (!n || n > 3 || strspn(p, "0123456789") != n)
		return -1;
	for (; *p; p++)
		v = v * 10 + (unsigned)(*p - '0');
	return v > max ? -1 : (int)v;
}

int ht_cidr_parse(const char *s, struct ht_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct ht_addr a;
	const char *slash;
	int prefix;
	size_t n;

	if (!s || !out)
		return -EINVAL;
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(buf) || memchr(s, '%', n))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (ht_addr_parse(buf, &a))
		return -EINVAL;
	prefix = a.family == AF_INET ? 32 : 128;
	if (slash && (prefix = parse_prefix(slash + 1, (unsigned)prefix)) < 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->family = a.family;
	memcpy(out->bytes, a.bytes, 16);
	if (a.family == AF_INET6 && prefix >= 96 && is_v4mapped(a.bytes)) {
		memset(out->bytes, 0, 16);
		memcpy(out->bytes, a.bytes + 12, 4);
		out->family = AF_INET;
		prefix -= 96;
	}
	out->prefix = (uint8_t)prefix;
	clear_host_bits(out->bytes, (unsigned)prefix);
	return 0;
}

static bool prefix_match(const struct ht_cidr *c, uint8_t family, const uint8_t b[16])
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	uint8_t mask;

	if (c->family != family || memcmp(c->bytes, b, full) != 0)
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff00u >> rest);
	return (b[full] & mask) == c->bytes[full];
}

bool ht_cidr_match(const struct ht_cidr *c, const struct ht_addr *a)
{
	uint8_t v4[16] = { 0 };

	if (prefix_match(c, a->family, a->bytes))
		return true;
	if (a->family != AF_INET6 || !is_v4mapped(a->bytes))
		return false;
	memcpy(v4, a->bytes + 12, 4); /* ::ffff:a.b.c.d also matches IPv4 rules */
	return prefix_match(c, AF_INET, v4);
}
