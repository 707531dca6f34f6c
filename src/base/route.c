/* route.c - path -> route template for metric labels; see route.h. */
#include "route.h"

#include <stdbool.h>
#include <string.h>

/* One templated segment is at most '/' + ROUTE_SEG_LONG - 1 bytes. */
#define ROUTE_SCRATCH (ROUTE_MAX_SEGMENTS * ROUTE_SEG_LONG + 8)
#define ROUTE_ELLIPSIS "/..."

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit((unsigned char)s[i]))
			return false;
	return true;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_hex((unsigned char)s[i]))
			return false;
	return true;
}

/* 8-4-4-4-12 hex digits. */
static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* Digits with separators only: dates, versions, phone numbers, decimals. */
static bool is_numeric_like(const char *s, size_t n)
{
	bool digit = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_digit(c))
			digit = true;
		else if (!strchr("-_.:,+", c) || c == 0)
			return false;
	}
	return digit;
}

/* Long token of letters and digits (base64url alphabet), with both. */
static bool is_token(const char *s, size_t n)
{
	bool digit = false, alpha = false;

	if (n < ROUTE_TOKEN_MIN)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_digit(c))
			digit = true;
		else if (is_alpha(c))
			alpha = true;
		else if (c != '-' && c != '_' && c != '=')
			return false;
	}
	return digit && alpha;
}

static bool segment_is_id(const char *s, size_t n)
{
	if (n == 0)
		return false;
	if (n >= ROUTE_SEG_LONG || memchr(s, '@', n))
		return true;
	if (all_digits(s, n) || is_uuid(s, n))
		return true;
	if (n >= ROUTE_HEX_MIN && all_hex(s, n))
		return true;
	return is_numeric_like(s, n) || is_token(s, n);
}

static size_t put_str(char *out, size_t outlen, const char *s)
{
	size_t n = strlen(s);

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
	return n;
}

/* Skips "scheme://authority" of an absolute-form target; returns the
 * offset of the path, or len + 1 if this is not absolute-form. */
static size_t skip_absolute_form(const char *p, size_t len)
{
	size_t i = 0;

	if (len == 0 || !is_alpha((unsigned char)p[0]))
		return len + 1;
	while (i < len && (is_alpha((unsigned char)p[i]) || is_digit((unsigned char)p[i]) ||
			   p[i] == '+' || p[i] == '-' || p[i] == '.'))
		i++;
	if (len - i < 3 || memcmp(p + i, "://", 3) != 0)
		return len + 1;
	i += 3;
	while (i < len && p[i] != '/')
		i++;
	return i;
}

size_t route_template(const char *path, size_t len, char *out, size_t outlen)
{
	char tmp[ROUTE_SCRATCH];
	size_t bounds[ROUTE_MAX_SEGMENTS + 1]; /* tmp length after each segment */
	size_t end = 0, pos, n = 0, nseg = 0, cap, keep;
	bool cut = false;

	if (outlen == 0)
		return 0;
	if (!path)
		len = 0;
	while (end < len && path[end] != '?' && path[end] != '#')
		end++;
	if (len == 0)
		return put_str(out, outlen, ROUTE_NONE);
	if (end == 1 && path[0] == '*')
		return put_str(out, outlen, "*");
	pos = 0;
	if (end == 0 || path[0] != '/') {
		pos = skip_absolute_form(path, end);
		if (pos > end)
			return put_str(out, outlen, ROUTE_OTHER);
		if (pos == end)
			return put_str(out, outlen, "/");
	}

	bounds[0] = 0;
	while (pos < end) {
		size_t s = pos + 1, e = s, m;

		while (e < end && path[e] != '/')
			e++;
		if (nseg == ROUTE_MAX_SEGMENTS) {
			cut = true;
			break;
		}
		/* Matrix parameters (";jsessionid=...") are dropped. */
		m = s;
		while (m < e && path[m] != ';')
			m++;
		tmp[n++] = '/';
		if (segment_is_id(path + s, m - s)) {
			memcpy(tmp + n, ROUTE_ID, sizeof(ROUTE_ID) - 1);
			n += sizeof(ROUTE_ID) - 1;
		} else {
			/* m - s < ROUTE_SEG_LONG here, so tmp has room. */
			for (size_t i = s; i < m; i++) {
				unsigned char c = (unsigned char)path[i];

				tmp[n++] = (c > 0x20 && c < 0x7f) ? (char)c : '_';
			}
		}
		bounds[++nseg] = n;
		pos = e;
	}

	cap = outlen - 1 < ROUTE_MAX_LEN ? outlen - 1 : ROUTE_MAX_LEN;
	if (!cut && n <= cap) {
		memcpy(out, tmp, n);
		out[n] = '\0';
		return n;
	}
	/* Keep whole segments and mark the cut with "/...". */
	keep = 0;
	for (size_t i = 0; i <= nseg; i++)
		if (bounds[i] + sizeof(ROUTE_ELLIPSIS) - 1 <= cap)
			keep = bounds[i];
	if (keep + sizeof(ROUTE_ELLIPSIS) - 1 > cap)
		return put_str(out, outlen, ROUTE_ELLIPSIS);
	memcpy(out, tmp, keep);
	memcpy(out + keep, ROUTE_ELLIPSIS, sizeof(ROUTE_ELLIPSIS));
	return keep + sizeof(ROUTE_ELLIPSIS) - 1;
}
