/*
 * format.c - record encoders; see format.h.
 *
 * Hot path (~1M records/s): one ht_buf_reserve() per record for a worst-case
 * bound (every string byte may grow to the 6 bytes of "\u00XX"), then raw
 * pointer writes.  The string escaper copies whole vector blocks while they
 * are all safe (64 bytes with AVX-512BW, 32 with AVX2, picked at startup;
 * 16 with SSE2; 8 with a SWAR test elsewhere), writes a block with unsafe
 * bytes in one pass over its mask (gaps copied 8 bytes at a time, escapes
 * as fixed 8-byte copies from a table) and validates UTF-8 by byte ranges;
 * arena strings of up to 32 bytes (header names and values) are one or two
 * 16-byte blocks.  Integers use a two-digit table, times a days-to-civil
 * conversion of the thread's last second: no snprintf, no gmtime.
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

#include "base/swar.h"
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

/* Decimal digits of v: its bit length gives the count to within one (1233 / 4096 ~
 * log10(2)), one compare with a power of ten settles it; pow10_[0] is 0 so that 0 has 1. */
static const uint64_t pow10_[20] = {
	0, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
	1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
	100000000000000ull, 1000000000000000ull, 10000000000000000ull,
	100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};

static inline size_t u64_digits(uint64_t v)
{
	unsigned t = (unsigned)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;

	return t + (v >= pow10_[t]);
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

/* "YYYY-MM-DDTHH:MM:SS." of a second since the epoch: FORMAT_TIME_LEN - 10 bytes. */
static void put_second(char *p, uint64_t secs)
{
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
	*p = '.';
}

#define SECOND_LEN (FORMAT_TIME_LEN - 10)

/* The last second each thread wrote: records come in time order, many per second. */
static __thread struct {
	uint64_t secs;
	char text[SECOND_LEN];
	bool valid;
} last_second;

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; u64 nanoseconds end in year 2554, so 4 digits. */
void format_time(char *p, uint64_t unix_ns)
{
	uint64_t secs = unix_ns / 1000000000u;
	uint32_t nsec = (uint32_t)(unix_ns % 1000000000u);

	if (!last_second.valid || last_second.secs != secs) {
		put_second(last_second.text, secs);
		last_second.secs = secs;
		last_second.valid = true;
	}
	memcpy(p, last_second.text, SECOND_LEN);
	p += SECOND_LEN;
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
 * k in [1, 16): when none of s[0..k) needs escaping, copy them to w and
 * return true (false: nothing written).  Short strings and the tails of
 * long ones are most of a record's strings (header names and values,
 * method, reason), so they get one word-sized test instead of a loop over
 * bytes.  Reads and writes only [0, k): two overlapping words of 8 or 4
 * bytes, or for k < 4 its first, middle and last byte over safe filler.
 */
static inline __attribute__((always_inline)) bool copy_if_safe(char *w, const uint8_t *s, size_t k)
{
	uint64_t a, b;
	uint32_t x, y;

	if (k >= 8) {
		memcpy(&a, s, 8);
		memcpy(&b, s + k - 8, 8);
		if (swar_unsafe(a) | swar_unsafe(b))
			return false;
		memcpy(w, &a, 8);
		memcpy(w + k - 8, &b, 8);
	} else if (k >= 4) {
		memcpy(&x, s, 4);
		memcpy(&y, s + k - 4, 4);
		if (swar_unsafe(x | (uint64_t)y << 32))
			return false;
		memcpy(w, &x, 4);
		memcpy(w + k - 4, &y, 4);
	} else {
		a = (ONES * 'a') << 24 | s[0] | (uint64_t)s[k / 2] << 8 | (uint64_t)s[k - 1] << 16;
		if (swar_unsafe(a))
			return false;
		w[0] = (char)s[0];
		w[k / 2] = (char)s[k / 2];
		w[k - 1] = (char)s[k - 1];
	}
	return true;
}

#ifdef __SSE2__ /* the vector escapers are its only callers */
/*
 * Escape a block s[i..i+b) (b <= 64) whose unsafe-byte mask t is not 0;
 * buf holds the block's bytes and 8 readable bytes past them.  The safe
 * gaps between flagged bytes are copied 8 bytes at a time from buf (the
 * excess is overwritten by what follows: a gap of g bytes before or at
 * the end of the input leaves ESC_MAX * g + ESC_SLACK bytes of room), ASCII
 * escapes come from the table, bytes >= 0x80 go through esc_one.  A UTF-8
 * sequence may end past the block: *next is where the input resumes.
 * Dense text (JSON bodies: a quote every few bytes) costs a few
 * instructions per escape instead of a new vector step each.
 */
static inline __attribute__((always_inline)) char *esc_block(char *w, const uint8_t *s, size_t i,
							      unsigned b, uint64_t t, const uint8_t *buf,
							      size_t n, enum esc_mode m, size_t *next)
{
	unsigned pos = 0, p;
	size_t used;

	while (t) {
		uint8_t c;

		p = (unsigned)__builtin_ctzll(t);
		for (unsigned j = pos; j < p; j += 8)
			memcpy(w + (j - pos), buf + j, 8);
		w += p - pos;
		c = buf[p];
		if (c < 0x80) {
			memcpy(w, ascii_str[m][c], 8);
			w += ascii_len[m][c];
			pos = p + 1;
			t &= t - 1;
			continue;
		}
		w = esc_one(w, s + i + p, n - i - p, m, &used);
		pos = p + (unsigned)used;
		if (pos >= b) {
			*next = i + pos;
			return w;
		}
		t &= ~0ull << pos;
	}
	for (unsigned j = pos; j < b; j += 8)
		memcpy(w + (j - pos), buf + j, 8);
	*next = i + b;
	return w + (b - pos);
}
#endif /* __SSE2__ */

/*
 * The SSE2 (or, elsewhere, SWAR) body of esc_bytes from s[i]: 16 bytes at
 * a time, copied, a block with unsafe bytes rewritten by esc_block.  While
 * 16 or more bytes are left, a 16-byte store fits: the room left is
 * >= ESC_MAX * 16.  The tail (SWAR) keeps the safe bytes before the
 * lowest flagged one (which is exact) and escapes that one.
 */
static inline __attribute__((always_inline)) char *esc_from(char *w, const uint8_t *s, size_t i,
							     size_t n, enum esc_mode m)
{
	size_t used;
#ifdef __SSE2__
	_Alignas(16) uint8_t buf[16 + 16];
#endif

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
		_mm_store_si128((__m128i *)buf, x);
		w = esc_block(w, s, i, 16, t, buf, n, m, &i);
	}
#endif
	if (i < n && n - i < 16 && copy_if_safe(w, s + i, n - i))
		return w + (n - i);
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

/*
 * Long strings (bodies) on x86-64: 32 (AVX2) or 64 (AVX-512BW) bytes per
 * step, chosen once at startup from what the CPU supports; the vector
 * code is compiled for its target only (function attributes), so the
 * binary still runs on a plain x86-64.  Same scheme as the SSE2 loop:
 * store the block, and when it has unsafe bytes rewrite it with esc_block.
 */
#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#define ESC_VECTOR 1

static int esc_level = FORMAT_ESC_SSE2;

__attribute__((target("avx2"))) static char *esc_avx2(char *w, const uint8_t *s, size_t n,
						       enum esc_mode m)
{
	const __m256i lo = _mm256_set1_epi8(0x20), del = _mm256_set1_epi8(0x7f);
	const __m256i quo = _mm256_set1_epi8('"'), bsl = _mm256_set1_epi8('\\');
	_Alignas(32) uint8_t buf[32 + 32];
	size_t i = 0;

	while (i + 32 <= n) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(s + i));
		/* signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too */
		__m256i t = _mm256_or_si256(_mm256_cmpgt_epi8(lo, x), _mm256_cmpeq_epi8(x, del));
		unsigned k;

		t = _mm256_or_si256(t, _mm256_or_si256(_mm256_cmpeq_epi8(x, quo),
						       _mm256_cmpeq_epi8(x, bsl)));
		_mm256_storeu_si256((__m256i *)w, x);
		k = (unsigned)_mm256_movemask_epi8(t);
		if (!k) {
			i += 32;
			w += 32;
			continue;
		}
		_mm256_store_si256((__m256i *)buf, x);
		w = esc_block(w, s, i, 32, k, buf, n, m, &i);
	}
	return esc_from(w, s, i, n, m);
}

/* Bit k set when byte k of x needs more than a copy. */
__attribute__((target("avx512bw"))) static inline __mmask64 z_unsafe(__m512i x)
{
	__mmask64 t = _mm512_cmplt_epi8_mask(x, _mm512_set1_epi8(0x20)); /* and >= 0x80 */

	t |= _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(0x7f));
	t |= _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('"'));
	t |= _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('\\'));
	return t;
}

/* The tail (under 64 bytes) is one masked load and store: no byte past s + n is read. */
__attribute__((target("avx512bw"))) static char *esc_avx512(char *w, const uint8_t *s, size_t n,
							    enum esc_mode m)
{
	_Alignas(64) uint8_t buf[64 + 64];
	size_t i = 0;

	while (i < n) {
		size_t left = n - i;
		unsigned k = left >= 64 ? 64 : (unsigned)left;
		__m512i x;
		__mmask64 t;

		if (k == 64) { /* a whole block: plain load and store */
			x = _mm512_loadu_si512(s + i);
			t = z_unsafe(x);
			_mm512_storeu_si512(w, x);
		} else {
			__mmask64 in = (1ull << k) - 1;

			x = _mm512_maskz_loadu_epi8(in, s + i);
			t = z_unsafe(x) & in;
			_mm512_mask_storeu_epi8(w, in, x);
		}
		if (!t) {
			i += k;
			w += k;
			continue;
		}
		_mm512_store_si512(buf, x);
		w = esc_block(w, s, i, k, t, buf, n, m, &i);
	}
	return w;
}

__attribute__((constructor(104))) static void esc_pick(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512bw"))
		esc_level = FORMAT_ESC_AVX512;
	else if (__builtin_cpu_supports("avx2"))
		esc_level = FORMAT_ESC_AVX2;
}

int format_esc_level(int want)
{
	int best = FORMAT_ESC_SSE2;

	if (__builtin_cpu_supports("avx512bw"))
		best = FORMAT_ESC_AVX512;
	else if (__builtin_cpu_supports("avx2"))
		best = FORMAT_ESC_AVX2;
	if (want >= 0)
		esc_level = want < FORMAT_ESC_SSE2 ? FORMAT_ESC_SSE2 : want < best ? want : best;
	return esc_level;
}
#else
int format_esc_level(int want)
{
	(void)want;
	return FORMAT_ESC_PORTABLE;
}
#endif

#define ESC_LONG 32 /* from this length on, the widest vector code */

static __attribute__((noinline)) char *esc_sse(char *w, const uint8_t *s, size_t n, enum esc_mode m)
{
	return esc_from(w, s, 0, n, m);
}

/* Write the escaped bytes s[0..n) at w (room for ESC_MAX * n + ESC_SLACK); returns
 * the new end.  Inlined: a long string goes straight to its vector code. */
static inline char *esc_bytes(char *w, const uint8_t *s, size_t n, enum esc_mode m)
{
#ifdef ESC_VECTOR
	if (n >= ESC_LONG && esc_level == FORMAT_ESC_AVX512)
		return esc_avx512(w, s, n, m);
	if (n >= ESC_LONG && esc_level == FORMAT_ESC_AVX2)
		return esc_avx2(w, s, n, m);
#endif
	return esc_sse(w, s, n, m);
}

/* Short strings (most header names and values) without a call when they are all safe. */
static inline char *esc_text(char *w, const uint8_t *s, size_t n, enum esc_mode m)
{
	if (n < 16 && (!n || copy_if_safe(w, s, n)))
		return w + n;
	return esc_bytes(w, s, n, m);
}

/*
 * esc_text for a string of n >= 1 bytes at s that can be read 16 bytes
 * (or, for n > 16, from n - 16) past its start: up to 32 bytes are tested
 * and copied as one or two overlapping 16-byte blocks, with no branch on
 * the length but one.  The stores fit: after a string of n bytes the
 * record's bound leaves at least ESC_MAX * n + REC_FRAME + ESC_SLACK bytes.
 */
static inline char *esc_text16(char *w, const uint8_t *s, size_t n, enum esc_mode m)
{
#ifdef __SSE2__
	if (n <= 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)s);

		if (!(sse_unsafe(a) & ((1u << n) - 1))) {
			_mm_storeu_si128((__m128i *)w, a);
			return w + n;
		}
	} else if (n <= 32) {
		__m128i a = _mm_loadu_si128((const __m128i *)s);
		__m128i b = _mm_loadu_si128((const __m128i *)(s + n - 16));

		if (!(sse_unsafe(a) | sse_unsafe(b))) {
			_mm_storeu_si128((__m128i *)w, a);
			_mm_storeu_si128((__m128i *)(w + n - 16), b);
			return w + n;
		}
	}
	return esc_bytes(w, s, n, m);
#else
	return esc_text(w, s, n, m);
#endif
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

/* Escape string s (its bytes p[0..n) from str_bytes) at w: 16-byte reads
 * when the arena's allocation (arena_cap) holds them. */
static inline char *arena_text(char *w, const struct ht_record *r, struct ht_str s,
			       const uint8_t *p, size_t n, enum esc_mode m)
{
	if (!n)
		return w;
	if ((uint64_t)s.off + (n > 16 ? n : 16) <= r->arena_cap)
		return esc_text16(w, p, n, m);
	return esc_text(w, p, n, m);
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
#define PRESENT_TRUE(r, v) ((v) != 0)

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

/*
 * At least the bytes str_bytes gives for s, without its bounds test: a
 * string out of the arena's bounds is written empty, so counting up to
 * arena_len of it is only generous, and the header loop has no branch.
 */
static inline size_t len_max(const struct ht_record *r, struct ht_str s)
{
	return s.len < r->arena_len ? s.len : r->arena_len;
}

static size_t headers_bound(const struct ht_record *r, const struct ht_headers *h)
{
	/* '{' "\n  " '}'; each: ',' "\n    " "name" ": " "value" (CSV: ""name"":""value"") */
	size_t n = 5;

	if (!h->v)
		return n;
	for (uint32_t i = 0; i < h->n; i++)
		n += ESC_MAX * (len_max(r, h->v[i].name) + len_max(r, h->v[i].value)) + 12;
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
#define B_STR(r, v)     (ESC_MAX * len_max((r), (v)) + 2)
#define B_HEADERS(r, v) headers_bound((r), &(v))
#define B_FLAGS(r, v)   flags_max
#define B_BOOL(r, v)    (sizeof("false") - 1)

size_t format_record_bound(const struct ht_record *r)
{
	size_t s = REC_FRAME + ESC_SLACK;

#define X(name, kind, member, rule) s += KEY_MAX(name) + B_##kind(r, r->member);
	FORMAT_FIELDS(X)
#undef X
	return s;
}

/* --- JSON (compact and pretty) --- */

/* ',' and the quoted key with its ':' as one constant copy; the record's
 * first ',' becomes its '{' (enc_json). */
#define J_KEY(e, name)                                                        \
	((e)->w = (e)->pretty ? PUTLIT((e)->w, ",\n  \"" #name "\": ") :        \
				PUTLIT((e)->w, ",\"" #name "\":"))

static inline void j_raw_str(struct enc *e, const uint8_t *p, size_t n)
{
	*e->w++ = '"';
	e->w = esc_text(e->w, p, n, M_JSON);
	*e->w++ = '"';
}

static inline void j_str(struct enc *e, struct ht_str s)
{
	const uint8_t *p;
	size_t n = str_bytes(e->r, s, &p);

	*e->w++ = '"';
	e->w = arena_text(e->w, e->r, s, p, n, M_JSON);
	*e->w++ = '"';
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

/* j_str inlined into the header loop: the call was most of a short string's cost. */
static inline __attribute__((always_inline)) char *j_hstr(char *w, const struct ht_record *r,
							   struct ht_str s)
{
	const uint8_t *p;
	size_t n = str_bytes(r, s, &p);

	*w++ = '"';
	w = arena_text(w, r, s, p, n, M_JSON);
	*w++ = '"';
	return w;
}

static void j_headers(struct enc *e, const struct ht_headers *h)
{
	uint32_t n = h->v ? h->n : 0;
	const struct ht_record *r = e->r;
	char *w = e->w;

	*w++ = '{';
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			*w++ = ',';
		if (e->pretty)
			w = PUTLIT(w, "\n    ");
		w = j_hstr(w, r, h->v[i].name);
		*w++ = ':';
		if (e->pretty)
			*w++ = ' ';
		w = j_hstr(w, r, h->v[i].value);
	}
	if (n && e->pretty)
		w = PUTLIT(w, "\n  ");
	*w++ = '}';
	e->w = w;
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
#define J_BOOL(e, v)    (e->w = (v) ? PUTLIT(e->w, "true") : PUTLIT(e->w, "false"))

static inline __attribute__((always_inline)) void enc_json(struct enc *e)
{
	const struct ht_record *r = e->r;
	char *start = e->w;

#define X(name, kind, member, rule)                           \
	if (PRESENT_##rule(r, r->member)) {                   \
		J_KEY(e, name);                               \
		J_##kind(e, r->member);                       \
	}
	FORMAT_FIELDS(X)
#undef X
	if (e->w == start) /* no field at all */
		*e->w++ = '{';
	else
		*start = '{';
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
	e->w = esc_text(e->w, p, n, M_CSV);
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
	e->w = arena_text(e->w, e->r, s, p, n, M_CSVJ);
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
#define C_BOOL(e, v)    (e->w = (v) ? PUTLIT(e->w, "true,") : PUTLIT(e->w, ","))

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
	} else if (f == HT_FMT_JSON) {
		e.pretty = true;
		enc_json(&e);
	} else { /* the hot one: its own copy, with e.pretty a constant */
		e.pretty = false;
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
