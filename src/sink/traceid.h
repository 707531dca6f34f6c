/*
 * traceid.h - W3C trace context in and random trace/span ids out.
 *
 * traceparent (https://www.w3.org/TR/trace-context/ §3.2) is
 * "VV-TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT-PPPPPPPPPPPPPPPP-FF": lower-case hex,
 * version VV not "ff", trace id T (16 bytes) and parent id P (8 bytes) not
 * all zero.  Version 00 is exactly 55 characters; a later version may go on
 * after a '-' (parsed as 00, as the spec asks).  Anything else, including
 * two traceparent headers joined with ", ", is malformed.
 *
 * Random ids come from a xoshiro256** generator per thread (each shard
 * encodes on its own thread), seeded from getrandom(2): a few ns per id, no
 * lock, no system call after the first.
 */
#ifndef HT_TRACEID_H
#define HT_TRACEID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACEPARENT_LEN 55

struct trace_parent {
	uint8_t trace_id[16];
	uint8_t span_id[8];    /* the parent's span id */
	uint8_t flags;         /* trace-flags: bit 0 sampled */
};

/* 0 and *out filled, or -EINVAL (out unspecified). */
int traceparent_parse(const char *s, size_t n, struct trace_parent *out);
/* n random bytes, never all zero (n >= 1). */
void traceid_random(uint8_t *p, size_t n);
/* Lower-case hex of p[0..n) at out (2n bytes, no NUL). */
void traceid_hex(const uint8_t *p, size_t n, char *out);

#endif
