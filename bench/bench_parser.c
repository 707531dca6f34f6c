/*
 * bench_parser.c - messages/s and MB/s of httpp against Debian's http_parser
 * on the same in-memory corpus, in the same run.
 *
 * The corpus (tools/gen_parser_corpus.py) is split into one request stream
 * and one response stream, each contiguous as the reassembler would hand it
 * over.  Each parser reads both streams; both report every head field and
 * body span to a small consumer (http_parser through its callbacks, httpp
 * through its events), so neither skips work the other does.  Runs of the
 * two parsers alternate; the best and the median of N runs are printed.
 * Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that other
 * load on the machine does not count against whichever parser it hits.
 *
 * The streams sit in 2 MiB-aligned memory with MADV_HUGEPAGE: in the real
 * pipeline the parser reads a small, just-written reassembly buffer, while a
 * 160 MB corpus of mostly untouched body bytes puts every head on a cold 4 KiB
 * page; huge pages take most of that TLB artefact away for both parsers.
 * --no-thp keeps plain malloc memory.
 *
 * usage: bench_parser CORPUS [ITERATIONS] [--no-thp]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include <http_parser.h>

#include "stream/httpp.h"

struct stream {
	uint8_t *buf;
	size_t len, cap;
	uint64_t msgs;
};

struct corpus {
	struct stream req, resp;
};

/* What a consumer keeps of a message; summed so the work is not elided. */
struct sink {
	uint64_t msgs;
	uint64_t headers;
	uint64_t body_bytes;
	uint64_t check;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int stream_add(struct stream *s, const uint8_t *p, size_t n)
{
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 1 << 20;
		uint8_t *nb;

		while (cap < s->len + n)
			cap *= 2;
		nb = realloc(s->buf, cap);
		if (!nb)
			return -ENOMEM;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->msgs++;
	return 0;
}

/* Move a stream into 2 MiB-aligned memory advised for huge pages. */
static int stream_to_thp(struct stream *s)
{
	size_t huge = 2u << 20, sz = (s->len + huge - 1) & ~(huge - 1);
	uint8_t *hb;

	if (!sz)
		return 0;
	hb = aligned_alloc(huge, sz);
	if (!hb)
		return -ENOMEM;
	if (madvise(hb, sz, MADV_HUGEPAGE))
		fprintf(stderr, "bench_parser: madvise(MADV_HUGEPAGE): %s (continuing)\n",
			strerror(errno));
	memcpy(hb, s->buf, s->len);
	free(s->buf);
	s->buf = hb;
	s->cap = sz;
	return 0;
}

/* Parse the "REQ <n>\n<bytes>" / "RESP <n>\n<bytes>" records. */
static int corpus_load(struct corpus *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	char line[64];
	int err = 0;

	if (!f) {
		fprintf(stderr, "bench_parser: cannot open %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		struct stream *s;
		unsigned long n;
		uint8_t *tmp;

		if (sscanf(line, "REQ %lu", &n) == 1) {
			s = &c->req;
		} else if (sscanf(line, "RESP %lu", &n) == 1) {
			s = &c->resp;
		} else {
			fprintf(stderr, "bench_parser: %s: bad record line: %.40s\n", path, line);
			err = -EINVAL;
			goto out;
		}
		tmp = malloc(n ? n : 1);
		if (!tmp) {
			err = -ENOMEM;
			goto out;
		}
		if (fread(tmp, 1, n, f) != n) {
			fprintf(stderr, "bench_parser: %s: truncated record\n", path);
			free(tmp);
			err = -EINVAL;
			goto out;
		}
		err = stream_add(s, tmp, n);
		free(tmp);
		if (err)
			goto out;
	}
out:
	fclose(f);
	return err;
}

/* ---- httpp */

static int run_httpp(const struct stream *s, enum httpp_kind kind, struct sink *k)
{
	static struct httpp p;
	struct httpp_event ev;
	size_t off = 0;

	httpp_init(&p, kind, NULL);
	for (;;) {
		size_t n = httpp_parse(&p, s->buf + off, s->len - off, &ev);

		off += n;
		switch (ev.type) {
		case HTTPP_EV_HEAD:
			k->headers += ev.head->n_headers;
			k->check += ev.head->n_headers ? ev.head->headers[0].value.len : 0;
			k->check += kind == HTTPP_REQUEST ? ev.head->target.len : ev.head->status;
			break;
		case HTTPP_EV_BODY:
			k->body_bytes += ev.len;
			k->check += ev.data[0];
			break;
		case HTTPP_EV_END:
			k->msgs++;
			break;
		case HTTPP_EV_ERROR:
			fprintf(stderr, "bench_parser: httpp error %s at %zu\n",
				httpp_err_name(ev.err), off);
			return -EINVAL;
		case HTTPP_EV_NONE:
			if (n == 0)
				return 0;
			break;
		}
	}
}

/* ---- http_parser */

static int hp_url(http_parser *hp, const char *at, size_t len)
{
	struct sink *k = hp->data;

	k->check += len + (uint8_t)at[0];
	return 0;
}

static int hp_status(http_parser *hp, const char *at, size_t len)
{
	struct sink *k = hp->data;

	k->check += len + hp->status_code;
	return 0;
}

static int hp_field(http_parser *hp, const char *at, size_t len)
{
	struct sink *k = hp->data;

	k->headers++;
	k->check += len + (uint8_t)at[0];
	return 0;
}

static int hp_value(http_parser *hp, const char *at, size_t len)
{
	struct sink *k = hp->data;

	k->check += len;
	return 0;
}

static int hp_body(http_parser *hp, const char *at, size_t len)
{
	struct sink *k = hp->data;

	k->body_bytes += len;
	k->check += (uint8_t)at[0];
	return 0;
}

static int hp_complete(http_parser *hp)
{
	struct sink *k = hp->data;

	k->msgs++;
	return 0;
}

static const http_parser_settings hp_settings = {
	.on_url = hp_url,
	.on_status = hp_status,
	.on_header_field = hp_field,
	.on_header_value = hp_value,
	.on_body = hp_body,
	.on_message_complete = hp_complete,
};

static int run_http_parser(const struct stream *s, enum http_parser_type type, struct sink *k)
{
	http_parser hp;
	size_t n;

	http_parser_init(&hp, type);
	hp.data = k;
	n = http_parser_execute(&hp, &hp_settings, (const char *)s->buf, s->len);
	if (n != s->len || HTTP_PARSER_ERRNO(&hp) != HPE_OK) {
		fprintf(stderr, "bench_parser: http_parser error %s at %zu\n",
			http_errno_name(HTTP_PARSER_ERRNO(&hp)), n);
		return -EINVAL;
	}
	return 0;
}

/* ---- driver */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int one_run(int which, const struct corpus *c, struct sink *k, double *secs)
{
	double t0 = now_s();
	int err;

	memset(k, 0, sizeof(*k));
	if (which == 0) {
		err = run_httpp(&c->req, HTTPP_REQUEST, k);
		if (!err)
			err = run_httpp(&c->resp, HTTPP_RESPONSE, k);
	} else {
		err = run_http_parser(&c->req, HTTP_REQUEST, k);
		if (!err)
			err = run_http_parser(&c->resp, HTTP_RESPONSE, k);
	}
	*secs = now_s() - t0;
	return err;
}

int main(int argc, char **argv)
{
	static const char *const names[2] = { "httpp", "http_parser" };
	struct corpus c = { 0 };
	int iters = argc > 2 ? atoi(argv[2]) : 15;
	bool thp = !(argc > 3 && strcmp(argv[3], "--no-thp") == 0);
	double *t[2], best[2], med[2];
	struct sink k[2];
	uint64_t msgs, bytes;

	if (argc < 2 || iters < 1) {
		fprintf(stderr, "usage: bench_parser CORPUS [ITERATIONS] [--no-thp]\n");
		return 2;
	}
	if (corpus_load(&c, argv[1]))
		return 1;
	if (thp && (stream_to_thp(&c.req) || stream_to_thp(&c.resp)))
		return 1;
	msgs = c.req.msgs + c.resp.msgs;
	bytes = c.req.len + c.resp.len;
	t[0] = calloc((size_t)iters, sizeof(double));
	t[1] = calloc((size_t)iters, sizeof(double));
	if (!t[0] || !t[1])
		return 1;
	for (int i = 0; i < iters; i++) {
		for (int w = 0; w < 2; w++) {
			int which = (i & 1) ? 1 - w : w; /* alternate who goes first */

			if (one_run(which, &c, &k[which], &t[which][i]))
				return 1;
			if (k[which].msgs != msgs) {
				fprintf(stderr, "bench_parser: %s counted %llu messages, corpus has %llu\n",
					names[which], (unsigned long long)k[which].msgs,
					(unsigned long long)msgs);
				return 1;
			}
		}
	}
	if (k[0].body_bytes != k[1].body_bytes || k[0].headers != k[1].headers) {
		fprintf(stderr, "bench_parser: parsers disagree: headers %llu/%llu body %llu/%llu\n",
			(unsigned long long)k[0].headers, (unsigned long long)k[1].headers,
			(unsigned long long)k[0].body_bytes, (unsigned long long)k[1].body_bytes);
		return 1;
	}
	printf("corpus: %llu messages (%llu requests, %llu responses), %.1f MB, %llu headers, "
	       "%.1f MB decoded body; %d runs each, %s memory\n",
	       (unsigned long long)msgs, (unsigned long long)c.req.msgs,
	       (unsigned long long)c.resp.msgs, bytes / 1e6, (unsigned long long)k[0].headers,
	       k[0].body_bytes / 1e6, iters, thp ? "huge-page" : "4 KiB-page");
	for (int w = 0; w < 2; w++) {
		qsort(t[w], (size_t)iters, sizeof(double), cmp_double);
		best[w] = t[w][0];
		med[w] = t[w][iters / 2];
		printf("%-12s best %10.0f msgs/s %8.1f MB/s   median %10.0f msgs/s %8.1f MB/s\n",
		       names[w], msgs / best[w], bytes / best[w] / 1e6, msgs / med[w],
		       bytes / med[w] / 1e6);
	}
	printf("ratio httpp/http_parser: best %.2fx, median %.2fx (messages/s)\n",
	       best[1] / best[0], med[1] / med[0]);
	free(t[0]);
	free(t[1]);
	free(c.req.buf);
	free(c.resp.buf);
	return 0;
}
