/* httpp.c - skeleton; the real parser is being written. */
#include <string.h>
#include "httpp.h"

void httpp_init(struct httpp *p, enum httpp_kind kind, const struct httpp_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	if (lim)
		p->lim = *lim;
}

void httpp_init_midstream(struct httpp *p, enum httpp_kind kind, const struct httpp_limits *lim)
{
	httpp_init(p, kind, lim);
}

size_t httpp_parse(struct httpp *p, const uint8_t *buf, size_t len, struct httpp_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	return 0;
}

void httpp_gap(struct httpp *p, uint64_t n, struct httpp_event *ev)
{
	memset(ev, 0, sizeof(*ev));
}

void httpp_finish(struct httpp *p, struct httpp_event *ev)
{
	memset(ev, 0, sizeof(*ev));
}

void httpp_tunnel(struct httpp *p)
{
	p->hold = false;
}

void httpp_resume(struct httpp *p)
{
	p->hold = false;
}

bool httpp_in_message(const struct httpp *p)
{
	return false;
}

const char *httpp_err_name(enum httpp_err err)
{
	return "unknown";
}
