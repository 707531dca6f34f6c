/* pb.c - protobuf wire format writer and reader; see pb.h. */
#include "pb.h"

#include <errno.h>
#include <string.h>

static void put_le(struct pbw *w, uint64_t v, int n)
{
	if (!pb_room(w, (size_t)n))
		return;
	for (int i = 0; i < n; i++)
		w->b->p[w->b->len++] = (char)(v >> (8 * i));
}

void pb_fixed64(struct pbw *w, uint32_t field, uint64_t v)
{
	pb_tag(w, field, PB_I64);
	put_le(w, v, 8);
}

void pb_fixed32(struct pbw *w, uint32_t field, uint32_t v)
{
	pb_tag(w, field, PB_I32);
	put_le(w, v, 4);
}

void pb_bytes(struct pbw *w, uint32_t field, const void *p, size_t n)
{
	pb_tag(w, field, PB_LEN);
	pb_varint(w, n);
	if (n && pb_room(w, n)) {
		memcpy(w->b->p + w->b->len, p, n);
		w->b->len += n;
	}
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
	uint32_t c;
	size_t k;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((k == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (k == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return k;
}

/* Bytes of p[0..n) once every invalid byte is U+FFFD (3 bytes); *valid
 * says whether it was all valid already. */
static size_t utf8_clean_len(const uint8_t *p, size_t n, bool *valid)
{
	size_t i = 0, out = 0;

	*valid = true;
	while (i < n) {
		size_t k = utf8_seq(p + i, n - i);

		if (k) {
			i += k;
			out += k;
		} else {
			i++;
			out += 3;
			*valid = false;
		}
	}
	return out;
}

/* True if s[0..n) is all ASCII (the common case: checked a word at a time). */
static bool all_ascii(const uint8_t *s, size_t n)
{
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= s[i];
	return !(acc & 0x8080808080808080ull);
}

/* Bytes s[0..n) will take as a proto3 string (U+FFFD for bad bytes). */
static size_t string_len(const uint8_t *s, size_t n, bool *valid)
{
	if (all_ascii(s, n)) {
		*valid = true;
		return n;
	}
	return utf8_clean_len(s, n, valid);
}

/* Write s[0..n) as len bytes of valid UTF-8 (room already made). */
static void put_string(struct pbw *w, const uint8_t *s, size_t n, size_t len, bool valid)
{
	char *o = w->b->p + w->b->len;
	size_t i = 0;

	if (valid) {
		memcpy(o, s, n);
		w->b->len += n;
		return;
	}
	while (i < n) {
		size_t k = utf8_seq(s + i, n - i);

		if (k) {
			memcpy(o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	w->b->len += len;
}

void pb_string(struct pbw *w, uint32_t field, const void *p, size_t n)
{
	bool valid;
	size_t len = string_len(p, n, &valid);

	pb_tag(w, field, PB_LEN);
	pb_varint(w, len);
	if (pb_room(w, len))
		put_string(w, p, n, len, valid);
}

/* Tag and length of a LEN field at o; returns the bytes written. */
static size_t put_len_head(uint8_t *o, uint32_t field, size_t len)
{
	size_t k = pb_put_varint(o, (uint64_t)field << 3 | PB_LEN);

	return k + pb_put_varint(o + k, len);
}

static size_t len_field(uint32_t field, size_t len)
{
	return pb_varint_len((uint64_t)field << 3 | PB_LEN) + pb_varint_len(len) + len;
}

/* KeyValue { 1: key, 2: AnyValue { member: body } } head, body_len known:
 * writes everything up to the member's body; returns 0 or -1. */
static int kv_head(struct pbw *w, uint32_t field, const char *key, size_t klen,
		   uint32_t member, enum pb_wire mw, size_t body_len, size_t extra)
{
	size_t any = (mw == PB_LEN ? len_field(member, body_len) :
		      pb_varint_len((uint64_t)member << 3 | mw) + body_len);
	size_t kv = len_field(1, klen) + len_field(2, any);
	uint8_t *o;

	if (!pb_room(w, len_field(field, kv) + extra))
		return -1;
	o = (uint8_t *)w->b->p + w->b->len;
	o += put_len_head(o, field, kv);
	o += put_len_head(o, 1, klen);
	memcpy(o, key, klen);
	o += klen;
	o += put_len_head(o, 2, any);
	if (mw == PB_LEN)
		o += put_len_head(o, member, body_len);
	else
		o += pb_put_varint(o, (uint64_t)member << 3 | mw);
	w->b->len = (size_t)((char *)o - w->b->p);
	return 0;
}

void pb_kv_string(struct pbw *w, uint32_t field, const char *key, size_t klen, const void *v,
		  size_t vlen)
{
	bool valid;
	size_t len = string_len(v, vlen, &valid);

	if (!kv_head(w, field, key, klen, 1, PB_LEN, len, len))
		put_string(w, v, vlen, len, valid);
}

void pb_kv_int(struct pbw *w, uint32_t field, const char *key, size_t klen, uint64_t v)
{
	if (!kv_head(w, field, key, klen, 3, PB_VARINT, pb_varint_len(v), 10))
		w->b->len += pb_put_varint((uint8_t *)w->b->p + w->b->len, v);
}

size_t pb_begin_n(struct pbw *w, uint32_t field, int len_bytes)
{
	int d = w->depth++;

	if (d >= (int)sizeof(w->lenb))
		len_bytes = 1; /* deeper than we remember: pb_end assumes 1 */
	else
		w->lenb[d] = (uint8_t)len_bytes;
	pb_tag(w, field, PB_LEN);
	if (!pb_room(w, (size_t)len_bytes))
		return 0;
	memset(w->b->p + w->b->len, 0, (size_t)len_bytes);
	w->b->len += (size_t)len_bytes;
	return w->b->len; /* the body starts here; its length bytes are just before */
}

void pb_end(struct pbw *w, size_t mark)
{
	size_t len, k, kept;
	uint8_t tmp[10];
	int d = --w->depth;

	if (w->err)
		return;
	kept = d >= 0 && d < (int)sizeof(w->lenb) ? w->lenb[d] : 1;
	len = w->b->len - mark;
	k = pb_put_varint(tmp, len);
	if (k != kept) {
		if (k > kept && !pb_room(w, k - kept))
			return;
		memmove(w->b->p + mark + k - kept, w->b->p + mark, len);
		w->b->len = w->b->len + k - kept;
	}
	memcpy(w->b->p + mark - kept, tmp, k);
}

static int get_varint(struct pbr *r, uint64_t *v)
{
	uint64_t x = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t c;

		if (r->p >= r->end)
			return -EINVAL;
		c = *r->p++;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -EINVAL;
}

static int get_le(struct pbr *r, int n, uint64_t *v)
{
	if (r->end - r->p < n)
		return -EINVAL;
	*v = 0;
	for (int i = 0; i < n; i++)
		*v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return 0;
}

int pb_next(struct pbr *r, struct pb_field *f)
{
	uint64_t tag;

	if (r->p >= r->end)
		return 0;
	if (get_varint(r, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	f->num = (uint32_t)(tag >> 3);
	f->wire = (enum pb_wire)(tag & 7);
	switch (f->wire) {
	case PB_VARINT:
		return get_varint(r, &f->v) ? -EINVAL : 1;
	case PB_I64:
		return get_le(r, 8, &f->v) ? -EINVAL : 1;
	case PB_I32:
		return get_le(r, 4, &f->v) ? -EINVAL : 1;
	case PB_LEN:
		if (get_varint(r, &f->v) || f->v > (uint64_t)(r->end - r->p))
			return -EINVAL;
		f->p = r->p;
		f->n = (size_t)f->v;
		r->p += f->n;
		return 1;
	}
	return -EINVAL;
}
