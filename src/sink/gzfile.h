/*
 * gzfile.h - gzip one file into another, for rotated output files.
 *
 * The input is read in steps of GZFILE_MEMBER bytes and each step becomes
 * one gzip member (RFC 1952 allows a file of several; gzip, zcat, zlib's
 * gzread and the usual log shippers read them as one stream), compressed
 * by libdeflate in one call.  At level 6 libdeflate takes 0.6-0.7x the
 * CPU of zlib's streaming deflate for the same ratio, at level 1 a quarter
 * to a half of it (bench/bench_gzip.c, PERFORMANCE.md "Rotated output");
 * restarting every MiB costs about 2% of the ratio.
 */
#ifndef HT_GZFILE_H
#define HT_GZFILE_H

#define GZFILE_MEMBER (1u << 20)
#define GZFILE_LEVEL_MIN 1
/* libdeflate goes to 12, but 10-12 cost 30x level 6 for 10% smaller files */
#define GZFILE_LEVEL_MAX 9

struct gzfile;

/* A compressor with its buffers (about 2 MiB); NULL when out of memory. */
struct gzfile *gzfile_new(int level);
void gzfile_free(struct gzfile *g);

/* gzip everything readable from fd in into fd out (at least one member,
 * also for an empty input); 0 or -errno. */
int gzfile_copy(struct gzfile *g, int in, int out);

#endif
