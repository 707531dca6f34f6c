/*
 * httpp.c - incremental, zero-copy HTTP/1.x parser (RFC 9112), one direction.
 *
 * Design: the caller keeps every unconsumed byte and appends new ones, so
 * buf[0] is always the parser's position.  A head is consumed in one piece
 * (HEAD event) once its blank line is seen; until then the parser remembers
 * how far it has parsed (line_off: lines already validated, scan_off: bytes
 * already searched for '\n'), so feeding a head byte by byte stays linear.
 * Header slices of an unfinished head follow the buffer when the caller
 * moves it (head_follow).  Lines not scanned yet are found 64 bytes at a
 * time through bit masks of LF, CR, NUL and non-tchar bytes (see "block
 * scan"; AVX-512BW when the CPU has it); any line those cannot settle, by
 * one SSE2 scan for LF, CR and NUL, its name checked 16 bytes at a time
 * (SSE2) with a table for the tail; there is no per-byte state machine in
 * the head.
 *
 * Decisions where RFC 9112 leaves room (documented for the tests and users):
 *  - A line may end in LF alone; a CR anywhere else is HTTPP_ERR_BARE_CR.
 *  - Content-Length: "5, 5" or several equal headers are collapsed (RFC 9110
 *    §8.6); differing values are CL_CONFLICT; empty elements, non-digits or
 *    more than 2^64-1 are CL_INVALID.  CL and TE together are CL_AND_TE (when
 *    the message can have a body).
 *  - Transfer-Encoding whose last coding is not chunked, or with chunked
 *    applied twice: requests get TE_NOT_CHUNKED; responses are read until
 *    close (BODY_CLOSE), as RFC 9112 §6.3 says.  An HTTP/1.0 message with
 *    Transfer-Encoding is treated the same way (§6.1: faulty framing).
 *  - Chunk sizes: leading zeros are accepted and cost one pass (no value
 *    growth); more than 16 significant hex digits is CHUNK_OVERFLOW, as is a
 *    size line of more than max_head_bytes digits.  Chunk extensions are
 *    skipped (max_head_bytes per line, then CHUNK_SIZE).
 *  - Whitespace at the start of a header line (obs-fold, also right after the
 *    start line) is OBS_FOLD; space before the colon is HEADER_SYNTAX.
 *  - Content-Length and Transfer-Encoding errors are reported when the head
 *    is complete, with ev->head set to it (for logging), and consume it; other
 *    errors consume the offending line (a NUL or bare CR: up to that byte).
 *    Then bytes are skipped until a line that starts a message: requests
 *    "[A-Z]+ SP ... SP HTTP/1.d", responses "HTTP/1.".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr */
#endif
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#include "httpp.h"

#define HTTPP_DEF_MAX_HEAD   65536
#define HTTPP_DEF_MAX_VALUE  1024
#define HTTPP_MAX_SIG_DIGITS 16     /* hex digits of a 64-bit chunk size */
#define HTTPP_MAX_METHOD     32     /* method length accepted when resyncing */

enum {
	ST_START = 0,    /* between messages: skip empty lines */
	ST_HEAD,         /* collecting the head */
	ST_END,          /* message complete, END not reported yet */
	ST_BODY_LEN,     /* Content-Length body */
	ST_CHUNK_SIZE,   /* chunk-size line */
	ST_CHUNK_DATA,
	ST_CHUNK_CRLF,   /* CRLF after chunk data */
	ST_TRAILER,      /* trailer section after the last chunk */
	ST_BODY_CLOSE,   /* body until the connection closes */
	ST_TUNNEL,       /* opaque bytes after 101 / CONNECT 2xx */
	ST_RESYNC,       /* skipping to the next message start */
};

enum { HS_START_LINE = 0, HS_FIELDS };           /* ST_HEAD */
enum { CS_DIGITS = 0, CS_EXT, CS_LF };           /* ST_CHUNK_SIZE */
enum { CC_CR = 0, CC_LF };                       /* ST_CHUNK_CRLF */

/* fflags: framing headers seen in the current head */
#define F_CL          0x01
#define F_TE          0x02
#define F_TE_CHUNKED  0x04 /* last coding so far is chunked */
#define F_TE_BAD      0x08 /* something follows chunked */
#define F_CLOSE       0x10
#define F_KEEPALIVE   0x20
#define F_CONNECT     0x40

/* RFC 9110 tchar */
static const uint8_t tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,
	['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
	['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
	['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
	['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* hex digit value + 1 (0: not a hex digit) */
static const uint8_t hexv[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
	['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static const char *const err_names[HTTPP_ERR__COUNT] = {
	[HTTPP_ERR_NONE] = "none",
	[HTTPP_ERR_START_LINE] = "start_line",
	[HTTPP_ERR_VERSION] = "version",
	[HTTPP_ERR_HEADER_SYNTAX] = "header_syntax",
	[HTTPP_ERR_NUL] = "nul",
	[HTTPP_ERR_BARE_CR] = "bare_cr",
	[HTTPP_ERR_OBS_FOLD] = "obs_fold",
	[HTTPP_ERR_HEAD_TOO_LARGE] = "head_too_large",
	[HTTPP_ERR_CL_INVALID] = "cl_invalid",
	[HTTPP_ERR_CL_CONFLICT] = "cl_conflict",
	[HTTPP_ERR_CL_AND_TE] = "cl_and_te",
	[HTTPP_ERR_TE_NOT_CHUNKED] = "te_not_chunked",
	[HTTPP_ERR_CHUNK_SIZE] = "chunk_size",
	[HTTPP_ERR_CHUNK_OVERFLOW] = "chunk_overflow",
	[HTTPP_ERR_CHUNK_END] = "chunk_end",
	[HTTPP_ERR_TRAILER] = "trailer",
	[HTTPP_ERR_GAP] = "gap",
	[HTTPP_ERR_EOF] = "eof",
};

const char *httpp_err_name(enum httpp_err err)
{
	if ((unsigned)err >= HTTPP_ERR__COUNT)
		return "unknown";
	return err_names[err];
}

/* ---- small helpers */

static inline uint8_t lower(uint8_t c)
{
	return (uint8_t)(c - 'A') < 26 ? c | 0x20 : c;
}

/* Each byte of x with A-Z made a-z, nothing else changed (SWAR, exact). */
static inline uint64_t lower8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, lo7 = 0x7f7f7f7f7f7f7f7full;
	uint64_t h = x & lo7;
	uint64_t up = (h + (0x80 - 'A') * ones) & ~(h + (0x80 - 'Z' - 1) * ones) & ~x;

	return x | ((up & 0x8080808080808080ull) >> 2);
}

static inline uint64_t load8(const void *s)
{
	uint64_t x;

	memcpy(&x, s, 8);
	return x;
}

static inline uint64_t load4(const void *s)
{
	uint32_t x;

	memcpy(&x, s, 4);
	return x;
}

/* s[0..n) equals the lower-case literal lit (ASCII case-insensitive):
 * words of 8 (or 4) bytes, the last one overlapping the one before. */
static bool ieq(const uint8_t *s, size_t n, const char *lit, size_t lit_len)
{
	size_t i;

	if (n != lit_len)
		return false;
	if (n >= 8) {
		for (i = 0; i + 8 < n; i += 8)
			if (lower8(load8(s + i)) != load8(lit + i))
				return false;
		return lower8(load8(s + n - 8)) == load8(lit + n - 8);
	}
	if (n >= 4)
		return lower8(load4(s)) == load4(lit) &&
		       lower8(load4(s + n - 4)) == load4(lit + n - 4);
	for (i = 0; i < n; i++)
		if (lower(s[i]) != (uint8_t)lit[i])
			return false;
	return true;
}

static inline bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* Index of the first NUL or CR in s[0..n), or n. */
static size_t find_nul_cr(const uint8_t *s, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i z = _mm_setzero_si128();
	const __m128i cr = _mm_set1_epi8('\r');

	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, z),
						       _mm_cmpeq_epi8(v, cr)));
		if (m)
			return i + (size_t)__builtin_ctz((unsigned)m);
	}
#endif
	for (; i < n; i++)
		if (s[i] == 0 || s[i] == '\r')
			return i;
	return n;
}

static inline bool is_nul_cr_lf(uint8_t c)
{
	return c == '\n' || c == '\r' || c == 0;
}

/*
 * Index of the first NUL, CR or LF in s[0..n), or n.  SSE2: one unsigned
 * compare finds every byte <= 0x0d, the rare TAB/VT/FF/BS.. are skipped.
 */
static inline __attribute__((always_inline))
size_t find_nul_cr_lf(const uint8_t *s, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i c13 = _mm_set1_epi8(0x0d);

	for (; i + 32 <= n; i += 32) {
		__m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
		uint32_t m0 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v0, c13), v0));
		uint32_t m1 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v1, c13), v1));
		uint32_t m = m0 | m1 << 16;

		while (m) {
			size_t j = i + (size_t)__builtin_ctz(m);

			if (is_nul_cr_lf(s[j]))
				return j;
			m &= m - 1;
		}
	}
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, c13), v));

		while (m) {
			size_t j = i + (size_t)__builtin_ctz(m);

			if (is_nul_cr_lf(s[j]))
				return j;
			m &= m - 1;
		}
	}
#endif
	for (; i < n; i++)
		if (is_nul_cr_lf(s[i]))
			return i;
	return n;
}

#ifdef __SSE2__
/* 0xff in each byte of v that is not a tchar. */
static inline __m128i sse2_nontchar(__m128i v)
{
#define SET(c) _mm_set1_epi8((char)(c))
#define IN_RANGE(v, lo, hi) _mm_and_si128(_mm_cmpgt_epi8(v, SET((lo) - 1)), \
					  _mm_cmplt_epi8(v, SET((hi) + 1)))
	/* signed: CTLs, SP and bytes >= 0x80 are all below 0x21 */
	__m128i bad = _mm_cmplt_epi8(v, SET(0x21));

	bad = _mm_or_si128(bad, IN_RANGE(v, 0x3a, 0x40));      /* :;<=>?@ */
	bad = _mm_or_si128(bad, IN_RANGE(v, 0x5b, 0x5d));      /* [\] */
	bad = _mm_or_si128(bad, IN_RANGE(v, 0x28, 0x29));      /* () */
	bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, SET('"')));
	bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, SET(',')));
	bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, SET('/')));
	bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, SET('{')));
	bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, SET('}')));
	return _mm_or_si128(bad, _mm_cmpeq_epi8(v, SET(0x7f)));
#undef IN_RANGE
#undef SET
}
#endif

/*
 * The two scans below read 16 bytes at a time while avail (>= n: bytes of
 * the buffer from s on) allows, also past n: a name or a target is short,
 * and the bytes after it are the rest of the head.  Whatever lies past n
 * does not change the result.
 */

/* Index of the first CTL, SP or DEL in s[0..n), or n (bytes >= 0x80 pass). */
static inline __attribute__((always_inline))
size_t find_ctl_sp(const uint8_t *s, size_t n, size_t avail)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i sp = _mm_set1_epi8(0x20);
	const __m128i del = _mm_set1_epi8(0x7f);

	for (; i < n && i + 16 <= avail; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i bad = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, sp), v),
					   _mm_cmpeq_epi8(v, del));
		int m = _mm_movemask_epi8(bad);

		if (m) {
			i += (size_t)__builtin_ctz((unsigned)m);
			return i < n ? i : n;
		}
	}
	if (i >= n)
		return n;
#endif
	for (; i < n; i++)
		if (s[i] <= ' ' || s[i] == 0x7f)
			return i;
	return n;
}

/* Index of the first byte of s[0..n) that is not a tchar, or n. */
static inline __attribute__((always_inline))
size_t scan_token(const uint8_t *s, size_t n, size_t avail)
{
	size_t i = 0;
#ifdef __SSE2__
	for (; i < n && i + 16 <= avail; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		int m = _mm_movemask_epi8(sse2_nontchar(v));

		if (m) {
			i += (size_t)__builtin_ctz((unsigned)m);
			return i < n ? i : n;
		}
	}
	if (i >= n)
		return n;
#endif
	while (i < n && tchar[s[i]])
		i++;
	return i;
}

/*
 * Find the end of the line whose search resumes at b[*scan] (b[0..lim) is
 * what may be looked at).  Returns 1 and sets *le (end of the content) and
 * *next (after the LF); 0 when more bytes are needed (*scan remembers how far
 * the search went); -1 at a NUL or a CR not followed by LF (*scan: its index,
 * *err: the reason).
 */
static inline __attribute__((always_inline))
int line_end(const uint8_t *b, size_t lim, uint32_t *scan, uint32_t *le, uint32_t *next,
	     enum httpp_err *err)
{
	size_t k = *scan + find_nul_cr_lf(b + *scan, lim - *scan);

	if (k == lim) {
		*scan = (uint32_t)lim;
		return 0;
	}
	if (b[k] == '\n') {
		*le = (uint32_t)k;
		*next = (uint32_t)k + 1;
		return 1;
	}
	*scan = (uint32_t)k;
	if (b[k] == '\r') {
		if (k + 1 == lim)
			return 0;
		if (b[k + 1] == '\n') {
			*le = (uint32_t)k;
			*next = (uint32_t)k + 2;
			return 1;
		}
		*err = HTTPP_ERR_BARE_CR;
		return -1;
	}
	*err = HTTPP_ERR_NUL;
	return -1;
}

/* ---- head: block scan */

/*
 * A head is scanned 64 bytes at a time into bit masks (struct hmask), so
 * that a line's end, its name's end and any stray CR or NUL are a few bit
 * operations per line instead of scans per line.  The masks come from
 * AVX-512BW, AVX2, SSSE3, SSE2 or portable SWAR and a table, one picked at
 * load time (hblock_pick).  Every line the masks cannot settle (not
 * complete yet, a CR or NUL inside, a bad name, longer than a block) goes
 * through the line-by-line code, so what is accepted and what is an error
 * does not depend on the masks.
 */
/* Bit i: byte base + i is LF; CR; NUL; not a tchar (NUL and CR included). */
struct hmask {
	uint32_t base;          /* offset in b of bit 0 */
	uint64_t lf, cr, nul, nt;
};

/* Fills m's masks from the 64 bytes at s. */
typedef void (*hblock_fn)(const uint8_t *s, struct hmask *m);

/* Byte i of x is zero -> bit 7 of byte i (exact: no borrow between bytes). */
static inline uint64_t swar_zero(uint64_t x)
{
	const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full;

	return ~(((x & lo7) + lo7) | x | lo7);
}

/* Bit 7 of each byte -> bit i of the result, byte 0 in bit 0. */
static inline uint64_t swar_pack(uint64_t hi)
{
	return ((hi >> 7) * 0x0102040810204080ull) >> 56;
}

static void hblock_swar(const uint8_t *s, struct hmask *m)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t a = 0, b = 0, z = 0, t = 0;

	for (unsigned i = 0; i < 64; i += 8) {
		uint64_t x;

		memcpy(&x, s + i, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		x = __builtin_bswap64(x);
#endif
		a |= swar_pack(swar_zero(x ^ ('\n' * ones))) << i;
		b |= swar_pack(swar_zero(x ^ ('\r' * ones))) << i;
		z |= swar_pack(swar_zero(x)) << i;
	}
	for (unsigned i = 0; i < 64; i++)
		t |= (uint64_t)(tchar[s[i]] ^ 1) << i;
	m->lf = a;
	m->cr = b;
	m->nul = z;
	m->nt = t;
}

#ifdef __SSE2__
static void hblock_sse2(const uint8_t *s, struct hmask *m)
{
	const __m128i vlf = _mm_set1_epi8('\n'), vcr = _mm_set1_epi8('\r');
	const __m128i vz = _mm_setzero_si128();
	uint64_t a = 0, b = 0, z = 0, t = 0;

	for (unsigned i = 0; i < 64; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));

		a |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vlf)) << i;
		b |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vcr)) << i;
		z |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vz)) << i;
		t |= (uint64_t)(uint32_t)_mm_movemask_epi8(sse2_nontchar(v)) << i;
	}
	m->lf = a;
	m->cr = b;
	m->nul = z;
	m->nt = t;
}
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HTTPP_X86_DISPATCH 1
/*
 * tchar by nibbles: byte c is a tchar iff lo[c & 15] & hi[c >> 4] != 0.
 * hi[] gives each high nibble 2..7 a bit of its own (0 for the rest: CTLs,
 * SP's row has its own bit, bytes >= 0x80); lo[] sets that bit for the low
 * nibbles whose byte in that row is a tchar (RFC 9110 §5.6.2).
 */
#define TCHAR_LO 0x3a, 0x3f, 0x3e, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, \
		 0x3e, 0x3e, 0x3d, 0x15, 0x34, 0x15, 0x3d, 0x1c
#define TCHAR_HI 0, 0, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0, 0, 0, 0, 0, 0, 0, 0

__attribute__((target("ssse3"), noinline))
static void hblock_ssse3(const uint8_t *s, struct hmask *m)
{
	const __m128i nib = _mm_set1_epi8(0x0f), z = _mm_setzero_si128();
	const __m128i lo = _mm_setr_epi8(TCHAR_LO), hi = _mm_setr_epi8(TCHAR_HI);
	uint64_t a = 0, b = 0, c = 0, t = 0;

	for (unsigned i = 0; i < 64; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i l = _mm_shuffle_epi8(lo, _mm_and_si128(v, nib));
		__m128i h = _mm_shuffle_epi8(hi, _mm_and_si128(_mm_srli_epi16(v, 4), nib));

		a |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))) << i;
		b |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))) << i;
		c |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, z)) << i;
		t |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(l, h), z)) << i;
	}
	m->lf = a;
	m->cr = b;
	m->nul = c;
	m->nt = t;
}

/* Bits of the 32 bytes at s: LF, CR, NUL and not a tchar. */
__attribute__((target("avx2"))) static inline __attribute__((always_inline))
void avx2_half(const uint8_t *s, uint32_t *lf, uint32_t *cr, uint32_t *nul, uint32_t *nt)
{
	const __m256i nib = _mm256_set1_epi8(0x0f), z = _mm256_setzero_si256();
	const __m256i lo = _mm256_setr_epi8(TCHAR_LO, TCHAR_LO);
	const __m256i hi = _mm256_setr_epi8(TCHAR_HI, TCHAR_HI);
	__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)s);
	__m256i l = _mm256_shuffle_epi8(lo, _mm256_and_si256(v, nib));
	__m256i h = _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));

	*lf = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n')));
	*cr = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\r')));
	*nul = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, z));
	*nt = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(l, h), z));
}

__attribute__((target("avx2"), noinline))
static void hblock_avx2(const uint8_t *s, struct hmask *m)
{
	uint32_t lf0, cr0, nul0, nt0, lf1, cr1, nul1, nt1;

	avx2_half(s, &lf0, &cr0, &nul0, &nt0);
	avx2_half(s + 32, &lf1, &cr1, &nul1, &nt1);
	m->lf = lf0 | (uint64_t)lf1 << 32;
	m->cr = cr0 | (uint64_t)cr1 << 32;
	m->nul = nul0 | (uint64_t)nul1 << 32;
	m->nt = nt0 | (uint64_t)nt1 << 32;
}

__attribute__((target("avx512f,avx512bw")))
static void hblock_avx512(const uint8_t *s, struct hmask *m)
{
	const __m512i nib = _mm512_set1_epi8(0x0f);
	const __m512i lo = _mm512_broadcast_i32x4(_mm_setr_epi8(TCHAR_LO));
	const __m512i hi = _mm512_broadcast_i32x4(_mm_setr_epi8(TCHAR_HI));
	__m512i v = _mm512_loadu_si512((const void *)s);
	__m512i l = _mm512_shuffle_epi8(lo, _mm512_and_si512(v, nib));
	__m512i h = _mm512_shuffle_epi8(hi, _mm512_and_si512(_mm512_srli_epi16(v, 4), nib));

	m->lf = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n'));
	m->cr = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r'));
	m->nul = _mm512_cmpeq_epi8_mask(v, _mm512_setzero_si512());
	m->nt = ~_mm512_test_epi8_mask(l, h);
}
#undef TCHAR_LO
#undef TCHAR_HI
#endif

/* The level's block function (NULL: line by line); set before main. */
static hblock_fn hblock;
static enum httpp_simd hblock_level = HTTPP_SIMD_OFF;

/* Masks of b[base..base+64); bits for bytes at or past lim are clear. */
static inline void hmask_load(struct hmask *m, const uint8_t *b, uint32_t base, uint32_t lim)
{
	uint32_t r = lim - base;
	uint64_t keep;

	if (r >= 64) {
		hblock(b + base, m);
		m->base = base;
		return;
	}
	if (r && lim >= 64) {
		/* the last 64 bytes that may be read, shifted down to base */
		unsigned sh = 64 - r;

		hblock(b + lim - 64, m);
		m->lf >>= sh;
		m->cr >>= sh;
		m->nul >>= sh;
		m->nt >>= sh;
		m->base = base;
		return;
	}
	if (r) {
		uint8_t tmp[64];

		memset(tmp, 0, sizeof(tmp));
		memcpy(tmp, b + base, r);
		hblock(tmp, m);
	} else {
		m->lf = m->cr = m->nul = m->nt = 0;
	}
	keep = (1ull << r) - 1; /* r < 64 */
	m->lf &= keep;
	m->cr &= keep;
	m->nul &= keep;
	m->nt &= keep;
	m->base = base;
}

/*
 * The line at b[pos] (pos - m->base < 64) as the masks see it: 1 with *le
 * and *next when it ends in LF inside the block and holds no NUL and no CR
 * but one right before the LF, exactly the lines line_end() accepts; 0 when
 * its LF is not in the block; -1 when it holds a NUL or a bare CR
 * (line_end() reports which).  *colon: where its name ends if that is a
 * non-empty run of tchar ended by ':' (a valid field name), else UINT32_MAX.
 */
static inline int block_line(const uint8_t *b, const struct hmask *m, uint32_t pos,
			     uint32_t *le, uint32_t *next, uint32_t *colon)
{
	uint32_t e, c;
	uint64_t from = ~0ull << (pos - m->base), in, crs;

	in = m->lf & from;
	if (!in)
		return 0;
	e = (uint32_t)__builtin_ctzll(in);
	in = from & ((1ull << e) - 1); /* the line's content and its CR */
	*next = m->base + e + 1;
	if (m->nul & in)
		return -1;
	crs = m->cr & in;
	if (crs) {
		if (crs != 1ull << (e - 1))
			return -1;
		e--;
	}
	*le = m->base + e;
	/* the first non-tchar at or after pos: the LF, if nothing else */
	c = m->base + (uint32_t)__builtin_ctzll(m->nt & from);
	*colon = c < *le && c > pos && b[c] == ':' ? c : UINT32_MAX;
	return 1;
}

static inline struct httpp_slice mk_slice(const uint8_t *p, uint32_t len)
{
	struct httpp_slice s = { (const char *)p, len };

	return s;
}

/* The caller moved its buffer: slices of an unfinished head follow it
 * (integer arithmetic: the old and new buffers are different objects). */
static void shift_slice(struct httpp_slice *s, uintptr_t delta)
{
	s->p = (const char *)((uintptr_t)s->p + delta);
}

static void head_follow(struct httpp *p, const uint8_t *b)
{
	struct httpp_head *h = &p->head;
	uintptr_t delta = (uintptr_t)b - (uintptr_t)p->base;

	p->base = b;
	if (!delta || p->sub != HS_FIELDS)
		return;
	if (h->is_request) {
		shift_slice(&h->method, delta);
		shift_slice(&h->target, delta);
	} else {
		shift_slice(&h->reason, delta);
	}
	for (uint32_t i = 0; i < h->n_headers; i++) {
		shift_slice(&h->headers[i].name, delta);
		shift_slice(&h->headers[i].value, delta);
	}
}

static void ev_clear(struct httpp_event *ev)
{
	ev->type = HTTPP_EV_NONE;
	ev->head = NULL;
	ev->data = NULL;
	ev->len = 0;
	ev->err = HTTPP_ERR_NONE;
	ev->msg_flags = 0;
	ev->body_size = 0;
}

/* ---- state changes */

static void msg_begin(struct httpp *p)
{
	struct httpp_head *h = &p->head;

	h->is_request = p->kind == HTTPP_REQUEST;
	h->version_minor = 0;
	h->status = 0;
	h->method = mk_slice(NULL, 0);
	h->target = mk_slice(NULL, 0);
	h->reason = mk_slice(NULL, 0);
	h->n_headers = 0;
	h->headers_truncated = false;
	h->body_kind = HTTPP_BODY_NONE;
	h->content_length = 0;
	h->conn_close = false;
	h->expect_continue = false;
	h->upgrade = false;
	h->head_len = 0;
	p->state = ST_HEAD;
	p->sub = HS_START_LINE;
	p->scan_off = 0;
	p->line_off = 0;
	p->fflags = 0;
	p->head_err = 0;
	p->msg_flags = 0;
	p->body_size = 0;
	p->remaining = 0;
	p->chunk_digits = 0;
	p->aux_bytes = 0;
}

/* Abandon the current message: ERROR event, then resync. */
static void set_error(struct httpp *p, struct httpp_event *ev, enum httpp_err err, bool bol)
{
	ev->type = HTTPP_EV_ERROR;
	ev->err = err;
	p->state = ST_RESYNC;
	p->bol = bol;
	p->scan_off = 0;
}

static void set_end(struct httpp *p, struct httpp_event *ev)
{
	ev->type = HTTPP_EV_END;
	ev->msg_flags = p->msg_flags | (p->head.headers_truncated ? HTTPP_MF_HEADER_TRUNC : 0);
	ev->body_size = p->body_size;
	p->state = ST_START;
	if (p->head.body_kind == HTTPP_BODY_TUNNEL && p->kind == HTTPP_RESPONSE)
		p->state = ST_TUNNEL;
	else if (p->kind == HTTPP_REQUEST && ((p->fflags & F_CONNECT) || p->head.upgrade))
		p->hold = true;
}

/* ---- head: start line */

static enum httpp_err parse_version(const uint8_t *v, size_t n, uint8_t *minor)
{
	if (n < 5 || memcmp(v, "HTTP/", 5) != 0)
		return HTTPP_ERR_START_LINE;
	if (n != 8 || v[5] != '1' || v[6] != '.' || (v[7] != '0' && v[7] != '1'))
		return HTTPP_ERR_VERSION;
	*minor = (uint8_t)(v[7] - '0');
	return HTTPP_ERR_NONE;
}

/* "HTTP/1.0" or "HTTP/1.1" at v (8 readable bytes): the minor, else -1. */
static inline int version_word(const uint8_t *v)
{
	uint64_t x, want;

	memcpy(&x, v, 8);
	memcpy(&want, "HTTP/1.0", 8);
	if (x == want)
		return 0;
	memcpy(&want, "HTTP/1.1", 8);
	return x == want ? 1 : -1;
}

/* Request line b[0..le) (avail bytes readable): method SP request-target
 * SP HTTP-version.  tok: the method's end (scan_token(b, le)) if the
 * caller knows it, else SIZE_MAX. */
static enum httpp_err parse_request_line(struct httpp *p, const uint8_t *b, size_t le,
					 size_t avail, size_t tok)
{
	struct httpp_head *h = &p->head;
	const uint8_t *sp;
	size_t m, t;
	enum httpp_err err;
	int minor;

	m = tok != SIZE_MAX ? tok : scan_token(b, le, avail);
	if (m == 0 || m == le || b[m] != ' ')
		return HTTPP_ERR_START_LINE;
	if (le >= m + 11 && b[le - 9] == ' ' && (minor = version_word(b + le - 8)) >= 0) {
		/* the usual line: its last space is the one before the version */
		t = le - 9;
		if (find_ctl_sp(b + m + 1, t - m - 1, avail - m - 1) != t - m - 1)
			return HTTPP_ERR_START_LINE;
		h->version_minor = (uint8_t)minor;
		goto done;
	}
	sp = memrchr(b + m + 1, ' ', le - m - 1);
	if (!sp)
		return HTTPP_ERR_START_LINE;
	t = (size_t)(sp - b);
	if (t == m + 1)
		return HTTPP_ERR_START_LINE; /* empty target or two spaces */
	if (find_ctl_sp(b + m + 1, t - m - 1, avail - m - 1) != t - m - 1)
		return HTTPP_ERR_START_LINE;
	err = parse_version(sp + 1, le - t - 1, &h->version_minor);
	if (err)
		return err;
done:
	h->method = mk_slice(b, (uint32_t)m);
	h->target = mk_slice(b + m + 1, (uint32_t)(t - m - 1));
	if (m == 7 && memcmp(b, "CONNECT", 7) == 0)
		p->fflags |= F_CONNECT;
	return HTTPP_ERR_NONE;
}

/* Status line b[0..le): HTTP-version SP 3DIGIT [SP reason]. */
static enum httpp_err parse_status_line(struct httpp *p, const uint8_t *b, size_t le)
{
	struct httpp_head *h = &p->head;
	int minor = le >= 9 && b[8] == ' ' ? version_word(b) : -1;

	if (minor >= 0) {
		h->version_minor = (uint8_t)minor; /* the first space is at 8 */
	} else {
		const uint8_t *sp = memchr(b, ' ', le);
		size_t v = sp ? (size_t)(sp - b) : le;
		enum httpp_err err = parse_version(b, v, &h->version_minor);

		if (err)
			return err;
	}
	if (le < 12 || (uint8_t)(b[9] - '1') > 8 || (uint8_t)(b[10] - '0') > 9 ||
	    (uint8_t)(b[11] - '0') > 9)
		return HTTPP_ERR_START_LINE;
	h->status = (uint16_t)((b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0'));
	if (le == 12) {
		h->reason = mk_slice(b + 12, 0);
		return HTTPP_ERR_NONE;
	}
	if (b[12] != ' ')
		return HTTPP_ERR_START_LINE;
	h->reason = mk_slice(b + 13, (uint32_t)(le - 13));
	return HTTPP_ERR_NONE;
}

/* Cheap check of the first bytes, so that garbage fails before its '\n'. */
static bool start_prefix_ok(const struct httpp *p, const uint8_t *b, size_t n)
{
	if (n == 0)
		return true;
	if (p->kind == HTTPP_REQUEST)
		return tchar[b[0]];
	return memcmp(b, "HTTP/", n < 5 ? n : 5) == 0;
}

/* ---- head: framing header values */

/* Next list element of s[*i..n): trimmed [*es, *ee); false at the end. */
static bool next_elem(const uint8_t *s, size_t n, size_t *i, size_t *es, size_t *ee)
{
	size_t a = *i, e;
	const uint8_t *c;

	if (a > n)
		return false;
	c = memchr(s + a, ',', n - a);
	e = c ? (size_t)(c - s) : n;
	*i = e + 1;
	while (a < e && is_ows(s[a]))
		a++;
	while (e > a && is_ows(s[e - 1]))
		e--;
	*es = a;
	*ee = e;
	return true;
}

static enum httpp_err hdr_content_length(struct httpp *p, const uint8_t *v, size_t n)
{
	size_t i = 0, a, e;

	if (n - 1 < 19) {
		/* the usual value: one element of 1-19 digits (cannot overflow) */
		uint64_t x = 0;
		size_t k;

		for (k = 0; k < n && (unsigned)v[k] - '0' <= 9; k++)
			x = x * 10 + (unsigned)(v[k] - '0');
		if (k == n) {
			if ((p->fflags & F_CL) && x != p->head.content_length)
				return HTTPP_ERR_CL_CONFLICT;
			p->fflags |= F_CL;
			p->head.content_length = x;
			return HTTPP_ERR_NONE;
		}
	}
	while (next_elem(v, n, &i, &a, &e)) {
		uint64_t x = 0;

		if (a == e)
			return HTTPP_ERR_CL_INVALID;
		for (size_t k = a; k < e; k++) {
			unsigned d = (unsigned)v[k] - '0';

			if (d > 9 || x > (UINT64_MAX - d) / 10)
				return HTTPP_ERR_CL_INVALID;
			x = x * 10 + d;
		}
		if ((p->fflags & F_CL) && x != p->head.content_length)
			return HTTPP_ERR_CL_CONFLICT;
		p->fflags |= F_CL;
		p->head.content_length = x;
	}
	return HTTPP_ERR_NONE;
}

static void hdr_transfer_encoding(struct httpp *p, const uint8_t *v, size_t n)
{
	size_t i = 0, a, e;

	p->fflags |= F_TE;
	while (next_elem(v, n, &i, &a, &e)) {
		size_t k = a, x;

		if (a == e)
			continue;
		while (k < e && tchar[v[k]])
			k++;
		x = k;
		while (x < e && is_ows(v[x]))
			x++;
		if (p->fflags & F_TE_CHUNKED)
			p->fflags |= F_TE_BAD;
		/* "chunked" exactly (parameters after ';'); "chunked\v" is not */
		if ((x == e || v[x] == ';') && ieq(v + a, k - a, "chunked", 7))
			p->fflags |= F_TE_CHUNKED;
		else
			p->fflags &= (uint16_t)~F_TE_CHUNKED;
	}
}

static void hdr_connection(struct httpp *p, const uint8_t *v, size_t n)
{
	size_t i = 0, a, e;

	/* the usual values: one element, so no list to walk */
	if (n == 10 && ieq(v, n, "keep-alive", 10)) {
		p->fflags |= F_KEEPALIVE;
		return;
	}
	if (n == 5 && ieq(v, n, "close", 5)) {
		p->fflags |= F_CLOSE;
		return;
	}
	while (next_elem(v, n, &i, &a, &e)) {
		if (ieq(v + a, e - a, "close", 5))
			p->fflags |= F_CLOSE;
		else if (ieq(v + a, e - a, "keep-alive", 10))
			p->fflags |= F_KEEPALIVE;
	}
}

enum { FH_NONE = 0, FH_CL, FH_TE, FH_CONN, FH_EXPECT, FH_UPGRADE };

/* Framing header candidates by name length and first letter (either case,
 * & 0x1f); one table load rules out almost every other header. */
static const uint8_t fh_table[18][32] = {
	[14]['c' & 0x1f] = FH_CL,
	[17]['t' & 0x1f] = FH_TE,
	[10]['c' & 0x1f] = FH_CONN,
	[6]['e' & 0x1f] = FH_EXPECT,
	[7]['u' & 0x1f] = FH_UPGRADE,
};

/* Framing-relevant headers (a candidate by fh_table), names matched
 * case-insensitively. */
static void hdr_framing(struct httpp *p, const uint8_t *name, size_t nl,
				  const uint8_t *v, size_t vl)
{
	switch (fh_table[nl][name[0] & 0x1f]) {
	case FH_CL:
		if (ieq(name, nl, "content-length", 14)) {
			enum httpp_err err = hdr_content_length(p, v, vl);

			if (err && !p->head_err)
				p->head_err = (uint8_t)err; /* reported with the head */
		}
		break;
	case FH_TE:
		if (ieq(name, nl, "transfer-encoding", 17))
			hdr_transfer_encoding(p, v, vl);
		break;
	case FH_CONN:
		if (ieq(name, nl, "connection", 10))
			hdr_connection(p, v, vl);
		break;
	case FH_EXPECT:
		if (ieq(name, nl, "expect", 6) && ieq(v, vl, "100-continue", 12))
			p->head.expect_continue = true;
		break;
	case FH_UPGRADE:
		if (ieq(name, nl, "upgrade", 7))
			p->head.upgrade = true;
		break;
	default:
		break;
	}
}

/* A valid field line s[0..n) whose name is s[0..c), s[c] == ':'. */
static inline void field_store(struct httpp *restrict p, const uint8_t *restrict s, uint32_t c,
			       uint32_t n)
{
	struct httpp_head *h = &p->head;
	uint32_t vs = c + 1, ve = n;

	while (vs < ve && is_ows(s[vs]))
		vs++;
	while (ve > vs && is_ows(s[ve - 1]))
		ve--;
	if (c < 18 && fh_table[c][s[0] & 0x1f])
		hdr_framing(p, s, c, s + vs, ve - vs);
	if (h->n_headers >= HTTPP_MAX_HEADERS) {
		h->headers_truncated = true;
		return;
	}
	if (ve - vs > p->lim.max_value_bytes) {
		ve = vs + p->lim.max_value_bytes;
		h->headers_truncated = true;
	}
	h->headers[h->n_headers].name = mk_slice(s, c);
	h->headers[h->n_headers].value = mk_slice(s + vs, ve - vs);
	h->n_headers++;
}

/* One header line b[ls..le) (line terminator excluded, no NUL or CR; avail
 * bytes of b readable). */
static enum httpp_err parse_field(struct httpp *p, const uint8_t *b, uint32_t ls, uint32_t le,
				  size_t avail)
{
	const uint8_t *s = b + ls;
	uint32_t n = le - ls, c;

	if (is_ows(s[0]))
		return HTTPP_ERR_OBS_FOLD;
	c = (uint32_t)scan_token(s, n, avail - ls);
	if (c == 0 || c == n || s[c] != ':')
		return HTTPP_ERR_HEADER_SYNTAX;
	field_store(p, s, c, n);
	return HTTPP_ERR_NONE;
}

/* ---- head: completion */

static enum httpp_err request_framing(struct httpp *p)
{
	struct httpp_head *h = &p->head;

	if (p->fflags & F_TE) {
		if (p->fflags & F_CL)
			return HTTPP_ERR_CL_AND_TE;
		if (h->version_minor == 0 || !(p->fflags & F_TE_CHUNKED) ||
		    (p->fflags & F_TE_BAD))
			return HTTPP_ERR_TE_NOT_CHUNKED;
		h->body_kind = HTTPP_BODY_CHUNKED;
	} else if (p->fflags & F_CL) {
		h->body_kind = HTTPP_BODY_LENGTH;
	}
	return HTTPP_ERR_NONE;
}

static enum httpp_err response_framing(struct httpp *p)
{
	struct httpp_head *h = &p->head;
	unsigned st = h->status;

	if ((p->peer == HTTPP_PEER_CONNECT && st >= 200 && st < 300) || st == 101)
		h->body_kind = HTTPP_BODY_TUNNEL;
	else if (st < 200 || st == 204 || st == 304 || p->peer == HTTPP_PEER_HEAD)
		h->body_kind = HTTPP_BODY_NONE;
	else if (p->fflags & F_TE) {
		if (p->fflags & F_CL)
			return HTTPP_ERR_CL_AND_TE;
		if (h->version_minor == 0 || !(p->fflags & F_TE_CHUNKED))
			h->body_kind = HTTPP_BODY_CLOSE;
		else
			h->body_kind = HTTPP_BODY_CHUNKED;
	} else if (p->fflags & F_CL) {
		h->body_kind = HTTPP_BODY_LENGTH;
	} else {
		h->body_kind = HTTPP_BODY_CLOSE;
	}
	return HTTPP_ERR_NONE;
}

/* The blank line ends the head at b[head_len-1]: report HEAD or ERROR. */
static void head_complete(struct httpp *p, uint32_t head_len, struct httpp_event *ev)
{
	struct httpp_head *h = &p->head;
	enum httpp_err err;

	h->head_len = head_len;
	err = (enum httpp_err)p->head_err;
	if (!err)
		err = p->kind == HTTPP_REQUEST ? request_framing(p) : response_framing(p);
	if (err) {
		/* a complete head with bad framing: the caller may log what it was */
		set_error(p, ev, err, true);
		ev->head = h;
		return;
	}
	h->conn_close = (p->fflags & F_CLOSE) ||
			(h->version_minor == 0 && !(p->fflags & F_KEEPALIVE));
	ev->type = HTTPP_EV_HEAD;
	ev->head = h;
	switch (h->body_kind) {
	case HTTPP_BODY_LENGTH:
		p->remaining = h->content_length;
		p->state = h->content_length ? ST_BODY_LEN : ST_END;
		break;
	case HTTPP_BODY_CHUNKED:
		p->state = ST_CHUNK_SIZE;
		p->sub = CS_DIGITS;
		p->remaining = 0;
		p->chunk_digits = 0;
		p->aux_bytes = 0;
		break;
	case HTTPP_BODY_CLOSE:
		p->state = ST_BODY_CLOSE;
		break;
	default:
		p->state = ST_END;
		break;
	}
}

/*
 * Header lines from p->line_off (not scanned yet) through the block masks,
 * while each is one that line_end() and parse_field() accept (then it is
 * stored as parse_field() would): returns the
 * head's length with ev set at its blank line, else 0 with p->line_off at
 * the first line left to the line-by-line loop (longer than a block, not
 * complete yet, or bad: that loop finds it again and reports it).
 */
static uint32_t fields_fast(struct httpp *restrict p, const uint8_t *restrict b, uint32_t lim,
			    struct httpp_event *ev, struct hmask *restrict m)
{
	uint32_t pos = p->line_off, le, next, colon;

	/* m: the start line's block, if it was loaded */
	if (pos < m->base || pos - m->base >= 64)
		hmask_load(m, b, pos, lim);
	for (;;) {
		int r = block_line(b, m, pos, &le, &next, &colon);

		if (r == 0 && pos != m->base) {
			hmask_load(m, b, pos, lim); /* the line starts a new block */
			r = block_line(b, m, pos, &le, &next, &colon);
		}
		if (r <= 0)
			return 0;
		if (le == pos) {
			head_complete(p, next, ev);
			return next;
		}
		if (colon == UINT32_MAX)
			return 0;
		field_store(p, b + pos, colon - pos, le - pos);
		p->line_off = p->scan_off = next;
		pos = next;
		if (pos - m->base >= 64)
			hmask_load(m, b, pos, lim);
	}
}

/*
 * Head bytes b[0..n) (b[0] is the first byte of the start line): returns
 * bytes consumed; an event is set when the head is done or bad; otherwise
 * more input is needed and the scan position is remembered.  Lines not
 * scanned yet go through the block masks first (fields_fast), the rest and
 * every line they cannot settle line by line (line_end), with one result.
 */
static size_t st_head(struct httpp *p, const uint8_t *b, size_t n, struct httpp_event *ev)
{
	uint32_t max = p->lim.max_head_bytes;
	size_t lim = n < max ? n : max;
	bool capped = n >= max;
	bool fast = hblock != NULL;
	uint32_t le, next, colon;
	enum httpp_err err = HTTPP_ERR_NONE;
	struct hmask m;
	int r;

	if (p->scan_off > lim || p->line_off > lim)
		msg_begin(p); /* the caller dropped bytes it had kept: start over */
	if (b != p->base)
		head_follow(p, b);
	m.base = UINT32_MAX; /* no block loaded */
	if (p->sub == HS_START_LINE) {
		size_t tok = SIZE_MAX;

		if (!start_prefix_ok(p, b, n)) {
			set_error(p, ev, HTTPP_ERR_START_LINE, false);
			return 1;
		}
		r = 0;
		if (fast && p->scan_off == 0) {
			hmask_load(&m, b, 0, (uint32_t)lim);
			r = block_line(b, &m, 0, &le, &next, &colon);
			/* the first non-tchar, as scan_token() finds it */
			tok = (size_t)__builtin_ctzll(m.nt | 1ull << 63);
			if (tok > le)
				tok = le;
		}
		if (r <= 0) {
			tok = SIZE_MAX;
			r = line_end(b, lim, &p->scan_off, &le, &next, &err);
			if (r == 0)
				goto need_more;
			if (r < 0)
				goto bad_byte;
		}
		err = p->kind == HTTPP_REQUEST ? parse_request_line(p, b, le, lim, tok) :
						 parse_status_line(p, b, le);
		if (err) {
			set_error(p, ev, err, true);
			return next;
		}
		p->sub = HS_FIELDS;
		p->line_off = p->scan_off = next;
	}
	for (;;) {
		uint32_t ls = p->line_off;

		if (fast && p->scan_off == ls) {
			next = fields_fast(p, b, (uint32_t)lim, ev, &m);
			if (next)
				return next;
			ls = p->line_off;
		}
		r = line_end(b, lim, &p->scan_off, &le, &next, &err);
		if (r == 0)
			goto need_more;
		if (r < 0)
			goto bad_byte;
		if (le == ls) {
			head_complete(p, next, ev);
			return next;
		}
		err = parse_field(p, b, ls, le, lim);
		if (err) {
			set_error(p, ev, err, true);
			return next;
		}
		p->line_off = p->scan_off = next;
	}
bad_byte:
	next = p->scan_off + 1;
	set_error(p, ev, err, false);
	return next;
need_more:
	if (capped) {
		set_error(p, ev, HTTPP_ERR_HEAD_TOO_LARGE, max && b[max - 1] == '\n');
		return max;
	}
	return 0;
}

static const hblock_fn hblock_impls[HTTPP_SIMD__COUNT] = {
	[HTTPP_SIMD_SWAR] = hblock_swar,
#ifdef __SSE2__
	[HTTPP_SIMD_SSE2] = hblock_sse2,
#endif
#ifdef HTTPP_X86_DISPATCH
	[HTTPP_SIMD_SSSE3] = hblock_ssse3,
	[HTTPP_SIMD_AVX2] = hblock_avx2,
	[HTTPP_SIMD_AVX512] = hblock_avx512,
#endif
};

static bool simd_usable(enum httpp_simd s)
{
	if ((unsigned)s >= HTTPP_SIMD__COUNT || (s != HTTPP_SIMD_OFF && !hblock_impls[s]))
		return false;
#ifdef HTTPP_X86_DISPATCH
	if (s == HTTPP_SIMD_SSSE3)
		return __builtin_cpu_supports("ssse3");
	if (s == HTTPP_SIMD_AVX2)
		return __builtin_cpu_supports("avx2");
	if (s == HTTPP_SIMD_AVX512)
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#endif
	return true;
}

int httpp_simd_set(enum httpp_simd s)
{
	if (!simd_usable(s))
		return -1;
	hblock = hblock_impls[s];
	hblock_level = s;
	return 0;
}

enum httpp_simd httpp_simd_get(void)
{
	return hblock_level;
}

const char *httpp_simd_name(enum httpp_simd s)
{
	static const char *const names[HTTPP_SIMD__COUNT] = {
		"off", "swar", "sse2", "ssse3", "avx2", "avx512bw",
	};

	return (unsigned)s < HTTPP_SIMD__COUNT ? names[s] : "unknown";
}

/*
 * Before main, so before any thread: the shards only ever read hblock.
 * The default is AVX-512BW, else line by line: on the 2-vCPU dev VM
 * (bench_heads) the AVX2, SSSE3 and SSE2 blocks cost more than they save
 * on short header lines, and the portable one (a table) far more, so they
 * are there for tests and for measuring.
 */
__attribute__((constructor))
static void hblock_pick(void)
{
#ifdef HTTPP_X86_DISPATCH
	__builtin_cpu_init();
	if (httpp_simd_set(HTTPP_SIMD_AVX512) == 0)
		return;
#endif
	httpp_simd_set(HTTPP_SIMD_OFF);
}

/* ---- between messages and resync */

/* Skip empty lines before a message; returns bytes consumed. */
static size_t st_start(struct httpp *p, const uint8_t *b, size_t n, bool *stop)
{
	size_t i = 0;

	while (i < n) {
		if (b[i] == '\n') {
			i++;
		} else if (b[i] == '\r') {
			if (i + 1 == n)
				break;
			if (b[i + 1] != '\n')
				goto begin;
			i += 2;
		} else {
			goto begin;
		}
	}
	*stop = true;
	return i;
begin:
	msg_begin(p);
	return i;
}

/*
 * After a gap the bytes at a line start may be the tail of a request line
 * the gap cut ("ET /a HTTP/1.1" of "GET /a HTTP/1.1"): taking it for a new
 * request would queue one request twice.  So a resync starts only at a
 * registered method (RFC 9110, WebDAV, PURGE), none of which is the tail of
 * a common one; a custom method is parsed when the stream is whole.
 */
static bool known_method(const uint8_t *b, size_t m)
{
	static const char *const methods[] = {
		"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
		"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT",
		"SEARCH", "PURGE",
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i]) == m && memcmp(b, methods[i], m) == 0)
			return true;
	return false;
}

/*
 * Does the line at b[0] start a message?  1 yes, 0 need more bytes, -1 no.
 * p->scan_off remembers how far the '\n' search went.
 */
static int resync_candidate(struct httpp *p, const uint8_t *b, size_t n)
{
	size_t m = 0, lim, le;
	const uint8_t *nl;

	if (p->kind == HTTPP_RESPONSE) {
		if (memcmp(b, "HTTP/1.", n < 7 ? n : 7) != 0)
			return -1;
		return n < 7 ? 0 : 1;
	}
	while (m < n && m <= HTTPP_MAX_METHOD && (uint8_t)(b[m] - 'A') < 26)
		m++;
	if (m > HTTPP_MAX_METHOD)
		return -1;
	if (m == n)
		return 0;
	if (m == 0 || b[m] != ' ' || !known_method(b, m))
		return -1;
	lim = n < p->lim.max_head_bytes ? n : p->lim.max_head_bytes;
	if (p->scan_off < m)
		p->scan_off = (uint32_t)m;
	nl = p->scan_off < lim ? memchr(b + p->scan_off, '\n', lim - p->scan_off) : NULL;
	if (!nl) {
		if (n >= p->lim.max_head_bytes)
			return -1;
		p->scan_off = (uint32_t)lim;
		return 0;
	}
	le = (size_t)(nl - b);
	if (le > 0 && b[le - 1] == '\r')
		le--;
	if (le < m + 11 || b[le - 9] != ' ' || memcmp(b + le - 8, "HTTP/1.", 7) != 0 ||
	    (uint8_t)(b[le - 1] - '0') > 9)
		return -1;
	return 1;
}

static size_t st_resync(struct httpp *p, const uint8_t *b, size_t n, bool *stop)
{
	size_t i = 0;

	for (;;) {
		int r;

		if (!p->bol) {
			const uint8_t *nl = memchr(b + i, '\n', n - i);

			if (!nl) {
				*stop = true;
				return n;
			}
			i = (size_t)(nl - b) + 1;
			p->bol = true;
			p->scan_off = 0;
		}
		if (i == n) {
			*stop = true;
			return i;
		}
		r = resync_candidate(p, b + i, n - i);
		if (r > 0) {
			if (i > 0 && p->pause_at_begin) {
				*stop = true; /* the next call begins it at offset 0 */
				return i;
			}
			msg_begin(p);
			return i;
		}
		if (r == 0) {
			*stop = true;
			return i;
		}
		p->bol = false;
	}
}

/* ---- bodies */

static size_t body_bytes(struct httpp *p, const uint8_t *b, size_t n, struct httpp_event *ev)
{
	size_t k = n;

	if (p->remaining < k)
		k = (size_t)p->remaining;
	ev->type = HTTPP_EV_BODY;
	ev->data = b;
	ev->len = k;
	p->remaining -= k;
	p->body_size = sat_add(p->body_size, k);
	return k;
}

/* chunk-size [ chunk-ext ] CRLF, consumed as it arrives. */
static size_t st_chunk_size(struct httpp *p, const uint8_t *b, size_t n,
			    struct httpp_event *ev, bool *stop)
{
	uint32_t max = p->lim.max_head_bytes;
	size_t i = 0;

	while (i < n) {
		uint8_t c = b[i];
		size_t k;

		switch (p->sub) {
		case CS_DIGITS:
			if (hexv[c]) {
				i++;
				if (++p->aux_bytes > max)
					goto overflow;
				if (!p->chunk_digits && c == '0')
					continue; /* leading zero */
				if (p->chunk_digits == HTTPP_MAX_SIG_DIGITS)
					goto overflow;
				p->remaining = p->remaining << 4 | (uint64_t)(hexv[c] - 1);
				p->chunk_digits++;
				continue;
			}
			if (p->aux_bytes == 0) {
				set_error(p, ev, HTTPP_ERR_CHUNK_SIZE, true);
				return i;
			}
			if (c == ';' || is_ows(c)) {
				p->sub = CS_EXT;
			} else if (c == '\r') {
				p->sub = CS_LF;
				i++;
			} else if (c == '\n') {
				goto done;
			} else {
				goto bad;
			}
			break;
		case CS_EXT:
			k = find_nul_cr_lf(b + i, n - i);
			if (k > max - p->aux_bytes)
				goto bad;
			p->aux_bytes += (uint32_t)k;
			i += k;
			if (i == n)
				break;
			if (b[i] == '\n')
				goto done;
			if (b[i] != '\r')
				goto bad;
			p->sub = CS_LF;
			i++;
			break;
		default: /* CS_LF */
			if (c != '\n')
				goto bad;
			goto done;
		}
	}
	*stop = true;
	return i;
done:
	i++;
	p->aux_bytes = 0;
	p->scan_off = 0;
	p->state = p->remaining ? ST_CHUNK_DATA : ST_TRAILER;
	p->sub = CC_CR;
	return i;
overflow:
	set_error(p, ev, HTTPP_ERR_CHUNK_OVERFLOW, false);
	return i;
bad:
	set_error(p, ev, HTTPP_ERR_CHUNK_SIZE, false);
	return i;
}

static size_t st_chunk_crlf(struct httpp *p, const uint8_t *b, size_t n,
			    struct httpp_event *ev, bool *stop)
{
	size_t i = 0;

	if (n == 0) {
		*stop = true;
		return 0;
	}
	if (p->sub == CC_CR && b[0] == '\r') {
		p->sub = CC_LF;
		i = 1;
		if (n == 1) {
			*stop = true;
			return 1;
		}
	}
	if (b[i] != '\n') {
		set_error(p, ev, HTTPP_ERR_CHUNK_END, false);
		return i;
	}
	p->state = ST_CHUNK_SIZE;
	p->sub = CS_DIGITS;
	p->remaining = 0;
	p->chunk_digits = 0;
	p->aux_bytes = 0;
	return i + 1;
}

/* trailer-section CRLF: whole lines, each a valid field line. */
static size_t st_trailer(struct httpp *p, const uint8_t *b, size_t n,
			 struct httpp_event *ev, bool *stop)
{
	uint32_t max = p->lim.max_head_bytes;
	size_t i = 0;

	for (;;) {
		size_t room = max - p->aux_bytes, lim = n - i < room ? n - i : room;
		const uint8_t *s = b + i, *nl;
		size_t eol, le, c = 0;

		nl = p->scan_off < lim ? memchr(s + p->scan_off, '\n', lim - p->scan_off) : NULL;
		if (!nl) {
			if (n - i >= room) {
				set_error(p, ev, HTTPP_ERR_TRAILER, false);
				return i + room;
			}
			p->scan_off = (uint32_t)(n - i);
			*stop = true;
			return i;
		}
		eol = (size_t)(nl - s);
		le = eol > 0 && s[eol - 1] == '\r' ? eol - 1 : eol;
		if (le == 0) {
			set_end(p, ev);
			return i + eol + 1;
		}
		while (c < le && tchar[s[c]])
			c++;
		if (c == 0 || c == le || s[c] != ':' || find_nul_cr(s, le) != le) {
			set_error(p, ev, HTTPP_ERR_TRAILER, true);
			return i + eol + 1;
		}
		p->aux_bytes += (uint32_t)(eol + 1);
		p->scan_off = 0;
		i += eol + 1;
	}
}

/* ---- public API */

static void init_common(struct httpp *p, enum httpp_kind kind, const struct httpp_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->lim.max_head_bytes = HTTPP_DEF_MAX_HEAD;
	p->lim.max_value_bytes = HTTPP_DEF_MAX_VALUE;
	if (lim && lim->max_head_bytes)
		p->lim.max_head_bytes = lim->max_head_bytes;
	if (lim && lim->max_value_bytes)
		p->lim.max_value_bytes = lim->max_value_bytes;
	p->head.is_request = kind == HTTPP_REQUEST;
}

void httpp_init(struct httpp *p, enum httpp_kind kind, const struct httpp_limits *lim)
{
	init_common(p, kind, lim);
	p->state = ST_START;
}

void httpp_init_midstream(struct httpp *p, enum httpp_kind kind, const struct httpp_limits *lim)
{
	init_common(p, kind, lim);
	p->state = ST_RESYNC;
	p->bol = true;
}

void httpp_resync_boundary(struct httpp *p)
{
	if (p->state != ST_RESYNC)
		return;
	p->bol = true;
	p->scan_off = 0;
}

/* Consumes a prefix of buf[0..len) and reports at most one event. */
size_t httpp_parse(struct httpp *p, const uint8_t *buf, size_t len, struct httpp_event *ev)
{
	size_t off = 0;
	bool stop = false;

	ev_clear(ev);
	if (p->hold)
		return 0;
	if (!buf) {
		static const uint8_t none[1];

		buf = none;
		len = 0;
	}
	while (!stop && ev->type == HTTPP_EV_NONE) {
		const uint8_t *b = buf + off;
		size_t n = len - off;

		switch (p->state) {
		case ST_START:
			off += st_start(p, b, n, &stop);
			break;
		case ST_HEAD:
			off += st_head(p, b, n, ev);
			if (ev->type == HTTPP_EV_NONE)
				stop = true;
			break;
		case ST_END:
			set_end(p, ev);
			break;
		case ST_BODY_LEN:
			if (n == 0) {
				stop = true;
				break;
			}
			off += body_bytes(p, b, n, ev);
			if (!p->remaining)
				p->state = ST_END;
			break;
		case ST_CHUNK_SIZE:
			off += st_chunk_size(p, b, n, ev, &stop);
			break;
		case ST_CHUNK_DATA:
			if (n == 0) {
				stop = true;
				break;
			}
			off += body_bytes(p, b, n, ev);
			if (!p->remaining) {
				p->state = ST_CHUNK_CRLF;
				p->sub = CC_CR;
			}
			break;
		case ST_CHUNK_CRLF:
			off += st_chunk_crlf(p, b, n, ev, &stop);
			break;
		case ST_TRAILER:
			off += st_trailer(p, b, n, ev, &stop);
			break;
		case ST_BODY_CLOSE:
			if (n == 0) {
				stop = true;
				break;
			}
			ev->type = HTTPP_EV_BODY;
			ev->data = b;
			ev->len = n;
			p->body_size = sat_add(p->body_size, n);
			off += n;
			break;
		case ST_TUNNEL:
			off += n;
			stop = true;
			break;
		default: /* ST_RESYNC */
			off += st_resync(p, b, n, &stop);
			break;
		}
	}
	return off;
}

void httpp_gap(struct httpp *p, uint64_t n, struct httpp_event *ev)
{
	ev_clear(ev);
	if (n == 0)
		return;
	switch (p->state) {
	case ST_BODY_LEN:
	case ST_CHUNK_DATA:
		if (n > p->remaining)
			break;
		p->remaining -= n;
		p->body_size = sat_add(p->body_size, n);
		p->msg_flags |= HTTPP_MF_GAP;
		if (p->remaining)
			return;
		if (p->state == ST_BODY_LEN) {
			set_end(p, ev);
		} else {
			p->state = ST_CHUNK_CRLF;
			p->sub = CC_CR;
		}
		return;
	case ST_BODY_CLOSE:
		p->body_size = sat_add(p->body_size, n);
		p->msg_flags |= HTTPP_MF_GAP;
		return;
	case ST_END:
		/* the message was complete: report it, then look for the next */
		set_end(p, ev);
		if (p->state == ST_START) {
			p->state = ST_RESYNC;
			p->bol = true;
			p->scan_off = 0;
		}
		return;
	case ST_TUNNEL:
		return;
	case ST_START:
	case ST_RESYNC:
		p->state = ST_RESYNC;
		p->bol = true;
		p->scan_off = 0;
		return;
	default:
		break;
	}
	set_error(p, ev, HTTPP_ERR_GAP, true);
}

void httpp_finish(struct httpp *p, struct httpp_event *ev)
{
	ev_clear(ev);
	switch (p->state) {
	case ST_BODY_CLOSE:
	case ST_END:
		set_end(p, ev);
		break;
	case ST_HEAD:
	case ST_BODY_LEN:
	case ST_CHUNK_SIZE:
	case ST_CHUNK_DATA:
	case ST_CHUNK_CRLF:
	case ST_TRAILER:
		ev->type = HTTPP_EV_ERROR;
		ev->err = HTTPP_ERR_EOF;
		break;
	default:
		return;
	}
	if (p->state != ST_TUNNEL)
		p->state = ST_START;
	p->hold = false;
}

void httpp_tunnel(struct httpp *p)
{
	p->hold = false;
	p->state = ST_TUNNEL;
}

void httpp_resume(struct httpp *p)
{
	p->hold = false;
}

bool httpp_in_message(const struct httpp *p)
{
	return !p->hold && p->state != ST_START && p->state != ST_RESYNC &&
	       p->state != ST_TUNNEL;
}

bool httpp_resyncing(const struct httpp *p)
{
	return p->state == ST_RESYNC;
}

bool httpp_has_pending(const struct httpp *p)
{
	return !p->hold && p->state == ST_END;
}
