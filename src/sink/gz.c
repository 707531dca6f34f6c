/* gz.c - gzip with libdeflate; see gz.h. */
#include "gz.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>

#include "base/fdio.h"

struct gz {
	struct libdeflate_compressor *c;
	struct ht_buf join;        /* gz_pieces: the pieces, when more than one */
	unsigned char *in, *out;   /* gz_file: one member's input and output */
	size_t out_cap;
};

struct gz *gz_new(int level)
{
	struct gz *g = calloc(1, sizeof(*g));

	if (g && !(g->c = libdeflate_alloc_compressor(level))) {
		free(g);
		g = NULL;
	}
	return g;
}

void gz_free(struct gz *g)
{
	if (!g)
		return;
	libdeflate_free_compressor(g->c);
	free(g->join.p);
	free(g->in);
	free(g->out);
	free(g);
}

/* out := one gzip member of p[0..n); 0 or -ENOMEM. */
static int member(struct gz *g, const void *p, size_t n, struct ht_buf *out)
{
	size_t bound = libdeflate_gzip_compress_bound(g->c, n);

	out->len = 0;
	if (ht_buf_reserve(out, bound))
		return -ENOMEM;
	out->len = libdeflate_gzip_compress(g->c, p, n, out->p, out->cap);
	return out->len ? 0 : -ENOMEM; /* 0 only when the room is short */
}

int gz_pieces(struct gz *g, const void *const *p, const size_t *n, int k, struct ht_buf *out)
{
	if (k == 1)
		return member(g, p[0], n[0], out);
	g->join.len = 0;
	for (int i = 0; i < k; i++)
		if (ht_buf_put(&g->join, p[i], n[i]))
			return -ENOMEM;
	return member(g, g->join.p, g->join.len, out);
}

int gz_file(struct gz *g, int in, int out)
{
	bool first = true;

	if (!g->in) {
		g->out_cap = libdeflate_gzip_compress_bound(g->c, GZ_MEMBER);
		g->in = malloc(GZ_MEMBER);
		g->out = malloc(g->out_cap);
		if (!g->in || !g->out) {
			free(g->in);
			free(g->out);
			g->in = g->out = NULL;
			return -ENOMEM;
		}
	}
	for (;;) {
		ssize_t n = ht_read_full(in, g->in, GZ_MEMBER);
		size_t z;
		int rc;

		if (n < 0)
			return (int)n;
		if (n == 0 && !first)
			return 0;
		first = false;
		z = libdeflate_gzip_compress(g->c, g->in, (size_t)n, g->out, g->out_cap);
		if (z == 0) /* cannot happen with the bound's room */
			return -EIO;
		rc = ht_write_all(out, g->out, z);
		if (rc)
			return rc;
		if ((size_t)n < GZ_MEMBER)
			return 0;
	}
}
