/*
 * pb.h - the protobuf wire format, written and read by hand.
 *
 * The OTLP sink sends a fixed subset of one schema, so instead of a
 * generated library this is the wire format itself (varint, fixed64,
 * fixed32, length-delimited): a few hundred lines, no allocation beyond
 * the output buffer, no schema at run time.  A nested message is written
 * in place: pb_begin_n() keeps room for its length (1 byte, or what the
 * caller expects it to need), pb_end() writes the length and moves the
 * body only when the guess was wrong.  The many small KeyValues of OTLP
 * attributes are written in one pass instead, their lengths computed
 * first (pb_kv_string, pb_kv_int).  Every length is the minimal varint.
 *
 * Writer errors are sticky: after an allocation failure every call does
 * nothing and w->err stays -ENOMEM, so an encoder checks once at the end
 * and puts the buffer back to where it started.
 *
 * The reader walks one message's fields (responses of the receiver, and the
 * unit tests' decoding of our own bytes); it never reads past its end.
 */
#ifndef HT_PB_H
#define HT_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>

#include "base/buf.h"

enum pb_wire { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

struct pbw {
	struct ht_buf *b;
	int err;               /* 0 or -ENOMEM, sticky */
	uint8_t lenb[64];      /* per open message (by depth): bytes kept for its length */
	int depth;
};

/* Room for n more bytes; false (and w->err set) when out of memory. */
static inline bool pb_room(struct pbw *w, size_t n)
{
	if (w->err)
		return false;
	if (w->b->len + n > w->b->cap && ht_buf_reserve(w->b, n)) {
		w->err = -ENOMEM;
		return false;
	}
	return true;
}

/* Bytes of v as a varint (1..10). */
static inline size_t pb_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline size_t pb_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline void pb_varint(struct pbw *w, uint64_t v)
{
	if (pb_room(w, 10))
		w->b->len += pb_put_varint((uint8_t *)w->b->p + w->b->len, v);
}

static inline void pb_tag(struct pbw *w, uint32_t field, enum pb_wire t)
{
	pb_varint(w, (uint64_t)field << 3 | t);
}

/* A varint field (uint32/64, int64 as two's complement, enum, bool). */
static inline void pb_uint(struct pbw *w, uint32_t field, uint64_t v)
{
	pb_tag(w, field, PB_VARINT);
	pb_varint(w, v);
}

void pb_fixed64(struct pbw *w, uint32_t field, uint64_t v);
void pb_fixed32(struct pbw *w, uint32_t field, uint32_t v);
/* A bytes field, copied as is. */
void pb_bytes(struct pbw *w, uint32_t field, const void *p, size_t n);
/* A string field: valid UTF-8 is copied, each byte of an invalid sequence
 * becomes U+FFFD (proto3 strings must be UTF-8; receivers reject others). */
void pb_string(struct pbw *w, uint32_t field, const void *p, size_t n);
/* A KeyValue (OTLP common.v1) as field `field`, in one pass with its
 * lengths computed first: key (ASCII, copied as is) and an AnyValue with
 * string_value (as pb_string) or int_value. */
void pb_kv_string(struct pbw *w, uint32_t field, const char *key, size_t klen, const void *v,
		  size_t vlen);
void pb_kv_int(struct pbw *w, uint32_t field, const char *key, size_t klen, uint64_t v);
/* Nested message: returns the mark that pb_end() takes.  len_bytes (1..5)
 * is the room kept for its length: the size it will likely need (a body of
 * 128..16383 bytes takes 2); pb_end moves the body only when it was wrong. */
size_t pb_begin_n(struct pbw *w, uint32_t field, int len_bytes);
static inline size_t pb_begin(struct pbw *w, uint32_t field)
{
	return pb_begin_n(w, field, 1);
}
void pb_end(struct pbw *w, size_t mark);

/* Reader over p[0..n). */
struct pbr {
	const uint8_t *p, *end;
};

struct pb_field {
	uint32_t num;
	enum pb_wire wire;
	uint64_t v;            /* PB_VARINT, PB_I64, PB_I32 */
	const uint8_t *p;      /* PB_LEN: the bytes */
	size_t n;
};

/* Next field: 1 and *f filled, 0 at the end, -EINVAL on malformed input
 * (truncated, bad wire type, field 0, length past the end). */
int pb_next(struct pbr *r, struct pb_field *f);

#endif
