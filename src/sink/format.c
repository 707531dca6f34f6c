/*
 * format.c - record encoders; see format.h.
 *
 * Hot path (~1M records/s): one ht_buf_reserve() per record for a worst-case
 * bound (every string byte may grow to the 6 bytes of "\u00XX"), then raw
 * pointer writes.  The string escaper moves 8 bytes at a time while they
 * are all safe (SWAR test), escapes with fixed 8-byte copies from a table
 * and validates UTF-8 by byte ranges; integers use a two-digit table, times
 * a days-to-civil conversion: no snprintf, no gmtime.
 *
 * CSV text rule (documented in the user docs): a string field holds the
 * JSON escaping of its bytes (\\, \n, \r, \t, \u00XX for other control
 * bytes, DEL and invalid UTF-8) except that '"' stays a quote; the field is
 * then quoted RFC 4180 style (quotes doubled) when it contains ',' or '"'.
 * So a row never holds a raw CR or LF and a field decodes exactly as
 * json.loads('"' + field.replace('"', '\\"') + '"').  req_headers,
 * resp_headers and flags are compact JSON text, always quoted.
 */
#include "format.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ht_event.h"

const char *const format_csv_columns[FORMAT_CSV_COLUMNS] = {
#define X(name, kind, member, rule) #name,
	FORMAT_FIELDS(X)
#undef X
};

/* ------------------------------------------------------------ integers */

static const char digits2[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static inline size_t u64_digits(uint64_t v)
{
	size_t n = 1;

	for (; v >= 10000; v /= 10000)
		n += 4;
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* Digits written in place from the end: no temporary, no variable-size copy. */
size_t format_u64(char *p, uint64_t v)
{
	size_t n = u64_digits(v);
	char *s = p + n;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;

		v /= 100;
		s -= 2;
		s[0] = digits2[d];
		s[1] = digits2[d + 1];
	}
	if (v >= 10) {
		s -= 2;
		s[0] = digits2[v * 2];
		s[1] = digits2[v * 2 + 1];
	} else {
		*--s = (char)('0' + v);
	}
	return n;
}

static inline char *put2(char *w, unsigned v)
{
	w[0] = digits2[v * 2];
	w[1] = digits2[v * 2 + 1];
	return w + 2;
}

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; u64 nanoseconds end in year 2554, so 4 digits. */
void format_time(char *p, uint64_t unix_ns)
{
	uint64_t secs = unix_ns / 1000000000u;
	uint32_t nsec = (uint32_t)(unix_ns % 1000000000u);
	uint64_t days = secs / 86400, sod = secs % 86400;
	/* civil_from_days (H. Hinnant), days >= 0 so unsigned arithmetic is exact */
	uint64_t z = days + 719468;
	uint64_t era = z / 146097;
	uint64_t doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t y = yoe + era * 400;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;
	unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);

	y += m <= 2;
	p = put2(p, (unsigned)(y / 100));
	p = put2(p, (unsigned)(y % 100));
	*p++ = '-';
	p = put2(p, m);
	*p++ = '-';
	p = put2(p, d);
	*p++ = 'T';
	p = put2(p, (unsigned)(sod / 3600));
	*p++ = ':';
	p = put2(p, (unsigned)(sod / 60 % 60));
	*p++ = ':';
	p = put2(p, (unsigned)(sod % 60));
	*p++ = '.';
	*p++ = (char)('0' + nsec / 100000000);
	p = put2(p, nsec / 1000000 % 100);
	p = put2(p, nsec / 10000 % 100);
	p = put2(p, nsec / 100 % 100);
	p = put2(p, nsec % 100);
	*p = 'Z';
}

/* ------------------------------------------------------------- strings */

enum { C_SAFE, C_ESC, C_U2, C_U3, C_U4, C_BAD };

/* Byte classes: printable ASCII is safe except '"' and '\\'. */
static const unsigned char byte_class[256] = {
	[0x00 ... 0x1f] = C_ESC,
	[0x20 ... 0x21] = C_SAFE,
	['"'] = C_ESC,
	[0x23 ... 0x5b] = C_SAFE,
	['\\'] = C_ESC,
	[0x5d ... 0x7e] = C_SAFE,
	[0x7f] = C_ESC,
	[0x80 ... 0xc1] = C_BAD, /* continuation bytes, overlong 2-byte leads */
	[0xc2 ... 0xdf] = C_U2,
	[0xe0 ... 0xef] = C_U3,
	[0xf0 ... 0xf4] = C_U4,
	[0xf5 ... 0xff] = C_BAD, /* beyond U+10FFFF */
};

/* How quotes are written: in JSON, in CSV text, in JSON text inside a CSV field. */
enum esc_mode { M_JSON, M_CSV, M_CSVJ };

#define ESC_MAX 6   /* output bytes per input byte, worst case ("\u00XX") */
#define ESC_SLACK 8 /* an escape is written with one 8-byte copy */

static const char hexd[16] = "0123456789abcdef";

static inline bool is_cont(uint8_t c)
{
	return (c & 0xc0) == 0x80;
}

/* Length of the valid UTF-8 sequence at s (lead of class k), or 0 if invalid. */
static inline size_t utf8_seq(const uint8_t *s, size_t left, int k)
{
	uint8_t lo = 0x80, hi = 0xbf;

	switch (k) {
	case C_U2:
		return left >= 2 && is_cont(s[1]) ? 2 : 0;
	case C_U3:
		if (s[0] == 0xe0)
			lo = 0xa0;      /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;      /* surrogates D800-DFFF */
		if (left < 3 || s[1] < lo || s[1] > hi || !is_cont(s[2]))
			return 0;
		return 3;
	default: /* C_U4 */
		if (s[0] == 0xf0)
			lo = 0x90;      /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;      /* > U+10FFFF */
		if (left < 4 || s[1] < lo || s[1] > hi || !is_cont(s[2]) || !is_cont(s[3]))
			return 0;
		return 4;
	}
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero when any of the 8 bytes of x needs more than a copy. */
static inline uint64_t swar_unsafe(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\'), d = x ^ (ONES * 0x7f);
	uint64_t t = x & HIGHS;                      /* >= 0x80 */

	t |= (x - ONES * 0x20) & ~x & HIGHS;         /* < 0x20 */
	t |= (q - ONES) & ~q & HIGHS;                /* '"' */
	t |= (b - ONES) & ~b & HIGHS;                /* '\\' */
	t |= (d - ONES) & ~d & HIGHS;                /* DEL */
	return t;
}

/*
 * Escape text per byte (JSON mode; '"' differs per mode, see quote_esc):
 * "\n"-style shortcuts, "\u00XX" for the rest; 8 bytes per entry so that
 * one fixed-size copy writes any of them (callers leave ESC_SLACK bytes).
 */
static char esc_str[256][8];
static uint8_t esc_len[256];
static const char quote_esc[3][4] = { "\\\"", "\"\"", "\\\"\"" };
static const uint8_t quote_len[3] = { 2, 2, 3 };

__attribute__((constructor(101))) static void esc_init(void)
{
	for (int c = 0; c < 256; c++) {
		char *e = esc_str[c];

		e[0] = '\\';
		esc_len[c] = 2;
		switch (c) {
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		case '\\': e[1] = '\\'; break;
		case '"': e[1] = '"'; break;
		default:
			memcpy(e + 1, "u00", 3);
			e[4] = hexd[c >> 4];
			e[5] = hexd[c & 15];
			esc_len[c] = 6;
		}
	}
}

/* ASCII in each mode, for dense runs: safe bytes map to themselves (length 1). */
static char ascii_str[3][128][8];
static uint8_t ascii_len[3][128];

__attribute__((constructor(102))) static void ascii_init(void)
{
	for (int m = 0; m < 3; m++) {
		for (int c = 0; c < 128; c++) {
			char *e = ascii_str[m][c];

			if (c == '"') {
				memcpy(e, quote_esc[m], 4);
				ascii_len[m][c] = quote_len[m];
			} else if (byte_class[c] == C_ESC) {
				memcpy(e, esc_str[c], 8);
				ascii_len[m][c] = esc_len[c];
			} else {
				e[0] = (char)c;
				ascii_len[m][c] = 1;
			}
		}
	}
}

static inline char *esc_hex(char *w, uint8_t c)
{
	memcpy(w, esc_str[c], 8);
	return w + esc_len[c];
}

/* Escape the one byte or UTF-8 sequence at s[0] (not safe); *used gets the bytes consumed. */
static inline __attribute__((always_inline)) char *esc_one(char *w, const uint8_t *s, size_t left, enum esc_mode m, size_t *used)
{
	int cls = byte_class[s[0]];
	size_t k;

	*used = 1;
	if (cls == C_ESC) {
		if (s[0] == '"') {
			memcpy(w, quote_esc[m], 4);
			return w + quote_len[m];
		}
		return esc_hex(w, s[0]);
	}
	k = cls == C_BAD ? 0 : utf8_seq(s, left, cls);
	if (!k) /* one invalid byte, latin-1 style; resume at the next byte */
		return esc_hex(w, s[0]);
	for (size_t j = 0; j < k; j++)
		w[j] = (char)s[j];
	*used = k;
	return w + k;
}

#ifdef __SSE2__
/* Bit k set when byte k of x needs more than a copy (< 0x20, >= 0x7f, '"', '\\'). */
static inline unsigned sse_unsafe(__m128i x)
{
	/* signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too */
	__m128i t = _mm_cmplt_epi8(x, _mm_set1_epi8(0x20));

	t = _mm_or_si128(t, _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)));
	t = _mm_or_si128(t, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
	t = _mm_or_si128(t, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
	return (unsigned)_mm_movemask_epi8(t);
}
#endif

/*
 * Write the escaped bytes s[0..n) at w (room for ESC_MAX * n + ESC_SLACK); returns
 * the new end.  16 (SSE2) or 8 (SWAR) bytes at a time: copy them, then keep
 * as many as are safe (the lowest flagged byte is exact).  While 16 or more
 * bytes are left, a 16-byte store fits: the room left is >= ESC_MAX * 16.
 */
static char *esc_bytes(char *w, const uint8_t *s, size_t n, enum esc_mode m)
{
	size_t i = 0, used;

#ifdef __SSE2__
	while (i + 16 <= n) {
		__m128i x = _mm_loadu_si128((const __m128i *)(s + i));
		unsigned t;

		_mm_storeu_si128((__m128i *)w, x);
		t = sse_unsafe(x);
		if (!t) {
			i += 16;
			w += 16;
			continue;
		}
		if (t & (t - 1) && !_mm_movemask_epi8(x)) {
			/* several escapes, all ASCII: a table copy per byte, no branches */
			for (int j = 0; j < 16; j++) {
				uint8_t c = s[i + j];

				memcpy(w, ascii_str[m][c], 8);
				w += ascii_len[m][c];
			}
			i += 16;
			continue;
		}
		t = (unsigned)__builtin_ctz(t);
		i += t;
		w += t;
		w = esc_one(w, s + i, n - i, m, &used);
		i += used;
	}
#endif
	while (i + 8 <= n) {
		uint64_t x, t;

		memcpy(&x, s + i, 8);
		memcpy(w, &x, 8);
		t = swar_unsafe(x);
		if (!t) {
			i += 8;
			w += 8;
			continue;
		}
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		t = (uint64_t)__builtin_clzll(t) / 8; /* safe bytes before the first unsafe one */
#else
		t = (uint64_t)__builtin_ctzll(t) / 8;
#endif
		i += t;
		w += t;
		w = esc_one(w, s + i, n - i, m, &used);
		i += used;
	}
	while (i < n) {
		if (byte_class[s[i]] == C_SAFE) {
			*w++ = (char)s[i++];
			continue;
		}
		w = esc_one(w, s + i, n - i, m, &used);
		i += used;
	}
	return w;
}

/* ------------------------------------------------------------- records */

/*
 * Every encoder, the CSV header and the size bound are expansions of the
 * one field list FORMAT_FIELDS (format.h): each X(name, kind, member, rule)
 * becomes a J_<kind> (JSON, compact and pretty), C_<kind> (CSV) and
 * B_<kind> (bound) call on r->member, in list order.  The expansions are
 * straight-line code, as the hand-written encoders were: constant key
 * lengths, no per-field dispatch.
 */

struct enc {
	char *w;
	const struct ht_record *r;
	bool pretty;
	bool first;
};

/* Bytes of string s, or empty when absent or out of the arena's bounds. */
static inline size_t str_bytes(const struct ht_record *r, struct ht_str s, const uint8_t **p)
{
	if (!s.len || !r->arena || (uint64_t)s.off + s.len > r->arena_len) {
		*p = (const uint8_t *)"";
		return 0;
	}
	*p = (const uint8_t *)r->arena + s.off;
	return s.len;
}

static inline size_t str_len(const struct ht_record *r, struct ht_str s)
{
	const uint8_t *p;

	return str_bytes(r, s, &p);
}

static inline char *put(char *w, const char *s, size_t n)
{
	memcpy(w, s, n);
	return w + n;
}
#define PUTLIT(w, lit) put((w), (lit), sizeof(lit) - 1)

static inline const char *role_name(uint8_t role)
{
	switch (role) {
	case HT_ROLE_CLIENT:
		return "client";
	case HT_ROLE_SERVER:
		return "server";
	default:
		return "unknown";
	}
}

const char *format_role_name(uint8_t role)
{
	return role_name(role);
}

/* "1." and the minor version, at w; returns the end. */
static inline char *put_version(char *w, uint8_t minor)
{
	w = PUTLIT(w, "1.");
	return w + format_u64(w, minor);
}

/* When-present rules: a NONEMPTY field is left out of JSON when empty. */
#define PRESENT_ALWAYS(r, v) true
#define PRESENT_NONEMPTY(r, v) (str_len((r), (v)) != 0)

/* --- the size bound --- */

/*
 * Most bytes one field can take in any format, key and separator included.
 * Per field: the pretty JSON key (',' "\n  " '"' name '"' ": ", name + 8
 * bytes) is the largest prefix (compact JSON: name + 4; CSV: the ',' after
 * the value); then the value's maximum, B_<kind>, where every string byte
 * may become the 6 bytes of "\u00XX" and the quotes around it count.  The
 * escaper's fixed-size copies reach at most ESC_SLACK bytes past the end
 * of the string being written, which later bytes overwrite: one ESC_SLACK
 * for the whole record covers them.
 */
#define KEY_MAX(name) (sizeof(#name) - 1 + 8)
#define REC_FRAME 4 /* '{' and "\n}\n" (CSV: the final '\n') */

/* Decimal digits of the largest value of an unsigned type of `size` bytes. */
static inline size_t uint_digits_max(size_t size)
{
	return size == 1 ? 3 : size == 2 ? 5 : size == 4 ? 10 : 20;
}

static size_t headers_bound(const struct ht_record *r, const struct ht_headers *h)
{
	/* '{' "\n  " '}'; each: ',' "\n    " "name" ": " "value" (CSV: ""name"":""value"") */
	size_t n = 5;

	if (!h->v)
		return n;
	for (uint32_t i = 0; i < h->n; i++)
		n += ESC_MAX * (str_len(r, h->v[i].name) + str_len(r, h->v[i].value)) + 12;
	return n;
}

static size_t flags_max; /* every printable flag set, pretty JSON */

__attribute__((constructor(103))) static void flags_init(void)
{
	/* '[' "\n  " ']'; each: ',' "\n    " '"' name '"' (CSV: ',' ""name"") */
	flags_max = 5;
	for (int b = 0; b < HT_RF_COUNT; b++)
		if ((1u << b) != HT_RF_SAMPLED_OUT)
			flags_max += strlen(ht_record_flag_names[b]) + 8;
}

#define B_TIME(r, v)    (FORMAT_TIME_LEN + 2)
#define B_UINT(r, v)    uint_digits_max(sizeof(v))
#define B_ROLE(r, v)    (sizeof("\"unknown\"") - 1)
#define B_CSTR(r, v)    (ESC_MAX * sizeof(v) + 2)
#define B_ADDR(r, v)    (HT_ADDR_TEXT_MAX - 1 + 2)
#define B_VERSION(r, v) (2 + uint_digits_max(sizeof(v)) + 2)
#define B_STR(r, v)     (ESC_MAX * str_len((r), (v)) + 2)
#define B_HEADERS(r, v) headers_bound((r), &(v))
#define B_FLAGS(r, v)   flags_max

size_t format_record_bound(const struct ht_record *r)
{
	size_t s = REC_FRAME + ESC_SLACK;

#define X(name, kind, member, rule) s += KEY_MAX(name) + B_##kind(r, r->member);
	FORMAT_FIELDS(X)
#undef X
	return s;
}

/* --- JSON (compact and pretty) --- */

static inline void j_key(struct enc *e, const char *k, size_t klen)
{
	char *w = e->w;

	if (!e->first)
		*w++ = ',';
	e->first = false;
	if (e->pretty)
		w = PUTLIT(w, "\n  ");
	*w++ = '"';
	w = put(w, k, klen);
	*w++ = '"';
	*w++ = ':';
	if (e->pretty)
		*w++ = ' ';
	e->w = w;
}

static inline void j_raw_str(struct enc *e, const uint8_t *p, size_t n)
{
	*e->w++ = '"';
	e->w = esc_bytes(e->w, p, n, M_JSON);
	*e->w++ = '"';
}

static inline void j_str(struct enc *e, struct ht_str s)
{
	const uint8_t *p;
	size_t n = str_bytes(e->r, s, &p);

	j_raw_str(e, p, n);
}

static inline void j_cstr(struct enc *e, const char *s, size_t cap)
{
	j_raw_str(e, (const uint8_t *)s, strnlen(s, cap));
}

/* Text that never needs escaping (a role name, a version), quoted. */
static inline void j_plain(struct enc *e, const char *s, size_t n)
{
	*e->w++ = '"';
	e->w = put(e->w, s, n);
	*e->w++ = '"';
}

static inline void j_time(struct enc *e, uint64_t ns)
{
	*e->w++ = '"';
	format_time(e->w, ns);
	e->w += FORMAT_TIME_LEN;
	*e->w++ = '"';
}

static inline void j_role(struct enc *e, uint8_t role)
{
	const char *name = role_name(role);

	j_plain(e, name, strlen(name));
}

static inline void j_version(struct enc *e, uint8_t minor)
{
	*e->w++ = '"';
	e->w = put_version(e->w, minor);
	*e->w++ = '"';
}

/* Address text is plain ASCII (digits, hex, '.', ':'): written in place, no escaping. */
static inline void j_addr(struct enc *e, const struct ht_addr *a)
{
	*e->w++ = '"';
	e->w += ht_addr_format(a, e->w); /* its NUL is overwritten by the quote */
	*e->w++ = '"';
}

static inline void j_u64(struct enc *e, uint64_t v)
{
	e->w += format_u64(e->w, v);
}

static void j_headers(struct enc *e, const struct ht_headers *h)
{
	uint32_t n = h->v ? h->n : 0;

	*e->w++ = '{';
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			*e->w++ = ',';
		if (e->pretty)
			e->w = PUTLIT(e->w, "\n    ");
		j_str(e, h->v[i].name);
		*e->w++ = ':';
		if (e->pretty)
			*e->w++ = ' ';
		j_str(e, h->v[i].value);
	}
	if (n && e->pretty)
		e->w = PUTLIT(e->w, "\n  ");
	*e->w++ = '}';
}

static void j_flags(struct enc *e, uint32_t flags)
{
	bool any = false;

	*e->w++ = '[';
	for (int b = 0; b < HT_RF_COUNT; b++) {
		const char *name = ht_record_flag_names[b];

		if (!(flags & (1u << b)) || (1u << b) == HT_RF_SAMPLED_OUT)
			continue;
		if (any)
			*e->w++ = ',';
		if (e->pretty)
			e->w = PUTLIT(e->w, "\n    ");
		*e->w++ = '"';
		e->w = put(e->w, name, strlen(name));
		*e->w++ = '"';
		any = true;
	}
	if (any && e->pretty)
		e->w = PUTLIT(e->w, "\n  ");
	*e->w++ = ']';
}

#define J_TIME(e, v)    j_time((e), (v))
#define J_UINT(e, v)    j_u64((e), (v))
#define J_ROLE(e, v)    j_role((e), (v))
#define J_CSTR(e, v)    j_cstr((e), (v), sizeof(v))
#define J_ADDR(e, v)    j_addr((e), &(v))
#define J_VERSION(e, v) j_version((e), (v))
#define J_STR(e, v)     j_str((e), (v))
#define J_HEADERS(e, v) j_headers((e), &(v))
#define J_FLAGS(e, v)   j_flags((e), (v))

static void enc_json(struct enc *e)
{
	const struct ht_record *r = e->r;

	*e->w++ = '{';
	e->first = true;
#define X(name, kind, member, rule)                           \
	if (PRESENT_##rule(r, r->member)) {                   \
		j_key(e, #name, sizeof(#name) - 1);           \
		J_##kind(e, r->member);                       \
	}
	FORMAT_FIELDS(X)
#undef X
	if (e->pretty)
		e->w = PUTLIT(e->w, "\n}\n");
	else
		e->w = PUTLIT(e->w, "}\n");
}

/* --- CSV --- */

static void c_text(struct enc *e, const uint8_t *p, size_t n)
{
	bool quote = memchr(p, '"', n) || memchr(p, ',', n);

	if (quote)
		*e->w++ = '"';
	e->w = esc_bytes(e->w, p, n, M_CSV);
	if (quote)
		*e->w++ = '"';
	*e->w++ = ',';
}

static inline void c_str(struct enc *e, struct ht_str s)
{
	const uint8_t *p;
	size_t n = str_bytes(e->r, s, &p);

	c_text(e, p, n);
}

static inline void c_cstr(struct enc *e, const char *s, size_t cap)
{
	c_text(e, (const uint8_t *)s, strnlen(s, cap));
}

static inline void c_time(struct enc *e, uint64_t ns)
{
	format_time(e->w, ns);
	e->w += FORMAT_TIME_LEN;
	*e->w++ = ',';
}

/* Role names and versions have no ',' or '"': never quoted. */
static inline void c_role(struct enc *e, uint8_t role)
{
	const char *name = role_name(role);

	e->w = put(e->w, name, strlen(name));
	*e->w++ = ',';
}

static inline void c_version(struct enc *e, uint8_t minor)
{
	e->w = put_version(e->w, minor);
	*e->w++ = ',';
}

/* Never quoted: address text has no ',' or '"'. */
static inline void c_addr(struct enc *e, const struct ht_addr *a)
{
	e->w += ht_addr_format(a, e->w);
	*e->w++ = ',';
}

static inline void c_u64(struct enc *e, uint64_t v)
{
	e->w += format_u64(e->w, v);
	*e->w++ = ',';
}

/* A JSON string inside a quoted CSV field: every quote doubled. */
static inline void c_jstr(struct enc *e, struct ht_str s)
{
	const uint8_t *p;
	size_t n = str_bytes(e->r, s, &p);

	e->w = PUTLIT(e->w, "\"\"");
	e->w = esc_bytes(e->w, p, n, M_CSVJ);
	e->w = PUTLIT(e->w, "\"\"");
}

static void c_headers(struct enc *e, const struct ht_headers *h)
{
	uint32_t n = h->v ? h->n : 0;

	e->w = PUTLIT(e->w, "\"{");
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			*e->w++ = ',';
		c_jstr(e, h->v[i].name);
		*e->w++ = ':';
		c_jstr(e, h->v[i].value);
	}
	e->w = PUTLIT(e->w, "}\",");
}

static void c_flags(struct enc *e, uint32_t flags)
{
	bool any = false;

	e->w = PUTLIT(e->w, "\"[");
	for (int b = 0; b < HT_RF_COUNT; b++) {
		const char *name = ht_record_flag_names[b];

		if (!(flags & (1u << b)) || (1u << b) == HT_RF_SAMPLED_OUT)
			continue;
		if (any)
			*e->w++ = ',';
		e->w = PUTLIT(e->w, "\"\"");
		e->w = put(e->w, name, strlen(name));
		e->w = PUTLIT(e->w, "\"\"");
		any = true;
	}
	e->w = PUTLIT(e->w, "]\",");
}

#define C_TIME(e, v)    c_time((e), (v))
#define C_UINT(e, v)    c_u64((e), (v))
#define C_ROLE(e, v)    c_role((e), (v))
#define C_CSTR(e, v)    c_cstr((e), (v), sizeof(v))
#define C_ADDR(e, v)    c_addr((e), &(v))
#define C_VERSION(e, v) c_version((e), (v))
#define C_STR(e, v)     c_str((e), (v))
#define C_HEADERS(e, v) c_headers((e), &(v))
#define C_FLAGS(e, v)   c_flags((e), (v))

/* Every column, present or not (an absent string is an empty field). */
static void enc_csv(struct enc *e)
{
	const struct ht_record *r = e->r;

#define X(name, kind, member, rule) C_##kind(e, r->member);
	FORMAT_FIELDS(X)
#undef X
	e->w[-1] = '\r'; /* replaces the last field's ',' */
	*e->w++ = '\n';
}

int format_record(enum ht_format f, const struct ht_record *r, struct ht_buf *out)
{
	struct enc e = { .r = r };

	if (!r || !out || (f != HT_FMT_NDJSON && f != HT_FMT_JSON && f != HT_FMT_CSV))
		return -EINVAL;
	if (ht_buf_reserve(out, format_record_bound(r)))
		return -ENOMEM;
	e.w = out->p + out->len;
	if (f == HT_FMT_CSV) {
		enc_csv(&e);
	} else {
		e.pretty = f == HT_FMT_JSON;
		enc_json(&e);
	}
	out->len = (size_t)(e.w - out->p);
	return 0;
}

int format_csv_header(struct ht_buf *out)
{
	size_t start = out->len;

	for (int i = 0; i < FORMAT_CSV_COLUMNS; i++) {
		if ((i && ht_buf_putc(out, ',')) || ht_buf_puts(out, format_csv_columns[i])) {
			out->len = start;
			return -ENOMEM;
		}
	}
	if (ht_buf_put(out, "\r\n", 2)) {
		out->len = start;
		return -ENOMEM;
	}
	return 0;
}

int format_json_string(struct ht_buf *out, const void *s, size_t len)
{
	char *w;

	if (len > (SIZE_MAX - 2 - ESC_SLACK) / ESC_MAX ||
	    ht_buf_reserve(out, ESC_MAX * len + 2 + ESC_SLACK))
		return -ENOMEM;
	w = out->p + out->len;
	*w++ = '"';
	w = esc_bytes(w, s, len, M_JSON);
	*w++ = '"';
	out->len = (size_t)(w - out->p);
	return 0;
}
