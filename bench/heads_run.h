/*
 * heads_run.h - the parse loop of bench_heads.c, included once per parser
 * build under test: define HEADS_RUN to the function's name first.  The
 * loop reports every head field and body span to a small sum, like
 * bench_parser.c's consumer, so that no work is elided.
 */
#include <stddef.h>
#include <stdint.h>

#include "stream/httpp.h"

/* Parse buf[0..len) of kind (0 request, 1 response); returns messages or -1. */
static long HEADS_RUN(const uint8_t *buf, size_t len, int kind, uint64_t *sum)
{
	static struct httpp p;
	struct httpp_event ev;
	size_t off = 0;
	long msgs = 0;

	httpp_init(&p, kind ? HTTPP_RESPONSE : HTTPP_REQUEST, NULL);
	for (;;) {
		size_t n = httpp_parse(&p, buf + off, len - off, &ev);

		off += n;
		switch (ev.type) {
		case HTTPP_EV_HEAD:
			*sum += ev.head->n_headers + ev.head->head_len;
			if (ev.head->n_headers)
				*sum += ev.head->headers[ev.head->n_headers - 1].value.len;
			break;
		case HTTPP_EV_BODY:
			*sum += ev.len + ev.data[0];
			break;
		case HTTPP_EV_END:
			msgs++;
			break;
		case HTTPP_EV_ERROR:
			return -1;
		case HTTPP_EV_NONE:
			if (n == 0)
				return msgs;
			break;
		}
	}
}
