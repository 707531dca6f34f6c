/*
 * ref_esc.h - the tests' reference string escaper, written byte by byte
 * for clarity, not speed: what format.c's escapers must produce in JSON,
 * in CSV text and for JSON text inside a CSV field.  Valid UTF-8 passes
 * through; every other byte >= 0x7f, and every control byte, is \u00XX.
 * Included by the format tests (static functions: one copy per test).
 */
#ifndef HT_TESTS_REF_ESC_H
#define HT_TESTS_REF_ESC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s[0..n), 0 if none: by decoded value. */
static size_t ref_utf8(const uint8_t *s, size_t n)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len = s[0] >= 0xc0 && s[0] < 0xe0 ? 2 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3 :
		     s[0] >= 0xf0 && s[0] < 0xf8 ? 4 : 0;
	uint32_t v = s[0] & (0x7f >> len);

	if (!len || len > n)
		return 0;
	for (size_t j = 1; j < len; j++) {
		if ((s[j] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[j] & 0x3f);
	}
	if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return len;
}

/* mode 0 JSON, 1 CSV text ('"' doubled), 2 JSON text in a CSV field ('\\""'). */
static size_t ref_esc(char *o, const uint8_t *s, size_t n, int mode)
{
	static const char *const quote[3] = { "\\\"", "\"\"", "\\\"\"" };
	size_t k = 0, i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t u;

		if (c >= 0x80 && (u = ref_utf8(s + i, n - i))) {
			memcpy(o + k, s + i, u);
			k += u;
			i += u;
			continue;
		}
		i++;
		if (c == '"')
			k += (size_t)sprintf(o + k, "%s", quote[mode]);
		else if (c == '\\')
			k += (size_t)sprintf(o + k, "\\\\");
		else if (c == '\n')
			k += (size_t)sprintf(o + k, "\\n");
		else if (c == '\r')
			k += (size_t)sprintf(o + k, "\\r");
		else if (c == '\t')
			k += (size_t)sprintf(o + k, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			k += (size_t)sprintf(o + k, "\\u%04x", c);
		else
			o[k++] = (char)c;
	}
	o[k] = '\0';
	return k;
}

#endif
