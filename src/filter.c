/*
 * filter.c - user-space filters and sampling; see filter.h.
 *
 * Everything here reads an immutable config and one record and writes
 * nothing shared.  Regexes were compiled once at load (config.c); a field
 * longer than 511 bytes that a regex must see costs one malloc.  Note that
 * glibc's regexec takes a short per-regex lock, so shards matching the same
 * pattern at the same instant serialize on it for the match's duration.
 */
#include "filter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Text address -> family (4/6) and bytes; 0 on success. */
static int addr_parse(const char *s, uint8_t *fam, uint8_t addr[16])
{
	char buf[INET6_ADDRSTRLEN + 1];
	size_t n = strcspn(s, "%"); /* drop an IPv6 zone ("fe80::1%eth0") */

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*fam = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*fam = 6;
		return 0;
	}
	return -EINVAL;
}

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool is_v4mapped(const uint8_t addr[16])
{
	return memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

static void clear_host_bits(uint8_t addr[16], unsigned prefix)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bit0 = i * 8;

		if (bit0 >= prefix)
			addr[i] = 0;
		else if (prefix - bit0 < 8)
			addr[i] &= (uint8_t)(0xff00u >> (prefix - bit0));
	}
}

int ht_cidr_parse(const char *s, struct ht_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash;
	unsigned prefix, max;
	size_t n;

	if (!s || !out)
		return -EINVAL;
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(buf) || memchr(s, '%', n))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (addr_parse(buf, &out->family, out->addr))
		return -EINVAL;
	max = out->family == 4 ? 32 : 128;
	prefix = max;
	if (slash) {
		const char *p = slash + 1;

		if (!*p || strlen(p) > 3 || strspn(p, "0123456789") != strlen(p))
			return -EINVAL;
		prefix = 0;
		for (; *p; p++)
			prefix = prefix * 10 + (unsigned)(*p - '0');
		if (prefix > max)
			return -EINVAL;
	}
	if (out->family == 6 && prefix >= 96 && is_v4mapped(out->addr)) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = 4;
		prefix -= 96;
	}
	out->prefix = (uint8_t)prefix;
	clear_host_bits(out->addr, prefix);
	return 0;
}

static bool cidr_match(const struct ht_cidr *c, uint8_t fam, const uint8_t addr[16])
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	uint8_t mask;

	if (c->family != fam || memcmp(c->addr, addr, full) != 0)
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff00u >> rest);
	return (addr[full] & mask) == c->addr[full];
}

static bool list_match(const struct ht_config *c, uint8_t fam, const uint8_t addr[16])
{
	for (size_t i = 0; i < c->n_exclude_ips; i++)
		if (cidr_match(&c->exclude_ips[i], fam, addr))
			return true;
	return false;
}

bool ht_filter_ip_excluded(const struct ht_config *c, const char *addr)
{
	uint8_t a[16], fam;

	if (!c->n_exclude_ips || !addr || addr_parse(addr, &fam, a))
		return false;
	if (list_match(c, fam, a))
		return true;
	if (fam == 6 && is_v4mapped(a)) { /* ::ffff:a.b.c.d also matches IPv4 rules */
		uint8_t v4[16] = { 0 };

		memcpy(v4, a + 12, 4);
		return list_match(c, 4, v4);
	}
	return false;
}

/* A record's fixed-size address field, NUL-terminated whatever it holds. */
static bool field_excluded(const struct ht_config *c, const char *field, size_t size)
{
	char buf[64];
	size_t n = strnlen(field, size);

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, field, n);
	buf[n] = '\0';
	return ht_filter_ip_excluded(c, buf);
}

static bool str_in(const struct ht_strlist *l, const char *s, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len && memcmp(l->v[i], s, len) == 0)
			return true;
	return false;
}

/*
 * True if any regex of l matches r's string s (searched, not anchored).
 * The bytes are copied with a terminator first: record strings are not
 * NUL-terminated, and although glibc honours REG_STARTEND's length, other
 * regexec implementations (and sanitizer interceptors) call strlen.  The
 * length still goes in through REG_STARTEND so that a NUL byte inside the
 * field does not cut it short.
 */
static bool regex_any(const struct ht_regexlist *l, const struct ht_record *r, struct ht_str s)
{
	char stack[512], *buf = stack;
	bool hit = false;

	if (s.len >= sizeof(stack)) {
		buf = malloc((size_t)s.len + 1);
		if (!buf)
			return false;
	}
	memcpy(buf, ht_str_ptr(r, s), s.len);
	buf[s.len] = '\0';
	for (size_t i = 0; i < l->n && !hit; i++) {
		regmatch_t m = { .rm_so = 0, .rm_eo = (regoff_t)s.len };

		hit = regexec(&l->re[i], buf, 1, &m, REG_STARTEND) == 0;
	}
	if (buf != stack)
		free(buf);
	return hit;
}

bool ht_filter_sample_keep(double rate, uint64_t sample_key)
{
	uint64_t h;

	if (!(rate > 0.0)) /* also NaN */
		return false;
	if (rate >= 1.0)
		return true;
	h = XXH3_64bits(&sample_key, sizeof(sample_key));
	/* keep iff h / 2^64 < rate; rate < 1 so the bound fits in 64 bits */
	return h < (uint64_t)(rate * 18446744073709551616.0);
}

bool ht_filter_should_drop(const struct ht_config *c, const struct ht_record *r,
			   enum ht_counter *reason)
{
	enum ht_counter why;

	if (c->n_exclude_ips &&
	    (field_excluded(c, r->remote_addr, sizeof(r->remote_addr)) ||
	     field_excluded(c, r->local_addr, sizeof(r->local_addr)))) {
		why = HT_C_FILTERED_IP;
		goto drop;
	}
	if (c->exclude_namespaces.n && r->namespace_.len &&
	    str_in(&c->exclude_namespaces, ht_str_ptr(r, r->namespace_), r->namespace_.len)) {
		why = HT_C_FILTERED_NAMESPACE;
		goto drop;
	}
	if (c->exclude_pods.n && r->pod.len && regex_any(&c->exclude_pods, r, r->pod)) {
		why = HT_C_FILTERED_POD;
		goto drop;
	}
	if (c->exclude_paths.n && regex_any(&c->exclude_paths, r, r->path)) {
		why = HT_C_FILTERED_PATH;
		goto drop;
	}
	if (c->sampling_enabled && !ht_filter_sample_keep(c->sampling_rate, r->sample_key)) {
		why = HT_C_FILTERED_SAMPLING;
		goto drop;
	}
	return false;
drop:
	if (reason)
		*reason = why;
	return true;
}
