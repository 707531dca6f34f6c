/*
 * gz.h - gzip with libdeflate: rotated output files, and the request
 * bodies of the ClickHouse and OTLP sinks.
 *
 * libdeflate compresses a whole buffer in one call.  At level 1 it takes a
 * quarter to a half of the CPU of zlib's streaming deflate at level 1 or 6
 * for a ratio between the two, at level 6 0.6-0.7x of zlib's level 6 for
 * the same ratio (bench/bench_gzip.c, PERFORMANCE.md "Rotated output").
 *
 * A file is read in steps of GZ_MEMBER bytes and each step becomes one
 * gzip member: RFC 1952 allows a file of several, and gzip, zcat, zlib's
 * gzread and Python's gzip read them as one stream; restarting every MiB
 * costs about 2% of the ratio.  A buffer becomes one member.
 */
#ifndef HT_GZ_H
#define HT_GZ_H

#include <stddef.h>

#include "base/buf.h"

#define GZ_MEMBER (1u << 20)
/* Request bodies (ClickHouse, OTLP) go out at once: speed over size. */
#define GZ_LEVEL_BODY 1

struct gz;

/* A compressor at libdeflate's level 0..12; NULL when out of memory (or a bad level). */
struct gz *gz_new(int level);
void gz_free(struct gz *g);

/* out := the gzip of pieces p[0..k) joined, as one member; 0 or -ENOMEM. */
int gz_pieces(struct gz *g, const void *const *p, const size_t *n, int k, struct ht_buf *out);

/* gzip everything readable from fd in into fd out (at least one member,
 * also for an empty input); 0 or -errno. */
int gz_file(struct gz *g, int in, int out);

#endif
