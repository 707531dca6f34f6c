/* gzfile.c - gzip a file in 1 MiB members with libdeflate; see gzfile.h. */
#include "gzfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <libdeflate.h>

#include "base/fdio.h"

struct gzfile {
	struct libdeflate_compressor *c;
	size_t out_cap;
	unsigned char *in, *out;
};

struct gzfile *gzfile_new(int level)
{
	struct gzfile *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->c = libdeflate_alloc_compressor(level);
	if (g->c) {
		g->out_cap = libdeflate_gzip_compress_bound(g->c, GZFILE_MEMBER);
		g->in = malloc(GZFILE_MEMBER);
		g->out = malloc(g->out_cap);
	}
	if (!g->c || !g->in || !g->out) {
		gzfile_free(g);
		return NULL;
	}
	return g;
}

void gzfile_free(struct gzfile *g)
{
	if (!g)
		return;
	if (g->c)
		libdeflate_free_compressor(g->c);
	free(g->in);
	free(g->out);
	free(g);
}

int gzfile_copy(struct gzfile *g, int in, int out)
{
	bool first = true;

	for (;;) {
		ssize_t n = ht_read_full(in, g->in, GZFILE_MEMBER);
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
		if ((size_t)n < GZFILE_MEMBER)
			return 0;
	}
}
