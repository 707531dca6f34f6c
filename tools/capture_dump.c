/*
 * capture_dump.c - development tool: loads the probes through capture.c and
 * prints one line per kernel event, then a per-stream summary that checks
 * the positions of every direction of every connection are contiguous.
 *
 *   capture_dump [-o FILE] [-q] [-d SEC] [-r RING_MB] [-C CAP_BYTES]
 *                [-s MS] [-x PORT]... [-H PATH]... [-P PID]... [-p PORT]...
 *
 * -q prints no event lines and keeps no per-stream summary (for
 * benchmarks: a cheap consumer); -s MS sleeps MS between polls
 * (a slow reader, to test ring-full losses); -p shows only connections
 * with that local or remote port (the kernel still captures everything).
 * Stops on SIGINT/SIGTERM or after -d seconds; exits 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "source/capture.h"
#include "config/config.h"
#include "ht_event.h"
#include "ht_limits.h"

#define DUMP_MAX_LIST 64
#define DUMP_MAX_CONNS 65536

struct dump_rec {
	struct ht_conn_id id;
	uint64_t pos;
	uint32_t len, cap;
	uint8_t dir, flags;
};

struct dump_conn {
	struct ht_conn_id id;
	uint16_t lport, rport, family;
	uint8_t role, oflags, closed;
	uint64_t close_pos[2];
	char laddr[INET6_ADDRSTRLEN], raddr[INET6_ADDRSTRLEN];
	char comm[HT_COMM_LEN + 1];
};

static struct {
	FILE *out;
	bool quiet;
	uint16_t show_ports[DUMP_MAX_LIST];
	int n_show;
	struct dump_rec *recs;
	size_t n_recs, cap_recs;
	struct dump_conn *conns;
	size_t n_conns;
	uint64_t by_type[5], bad;
} dump;

static volatile sig_atomic_t dump_stop;

static void dump_on_signal(int sig)
{
	(void)sig;
	dump_stop = 1;
}

static bool dump_same(const struct ht_conn_id *a, const struct ht_conn_id *b)
{
	return a->tgid == b->tgid && a->fd == b->fd && a->gen == b->gen;
}

static struct dump_conn *dump_conn_find(const struct ht_conn_id *id)
{
	for (size_t i = dump.n_conns; i-- > 0;)
		if (dump_same(&dump.conns[i].id, id))
			return &dump.conns[i];
	return NULL;
}

static bool dump_shown(const struct ht_conn_id *id)
{
	struct dump_conn *c;

	if (!dump.n_show)
		return true;
	c = dump_conn_find(id);
	if (!c)
		return false;
	for (int i = 0; i < dump.n_show; i++)
		if (c->lport == dump.show_ports[i] || c->rport == dump.show_ports[i])
			return true;
	return false;
}

static void dump_bytes(const uint8_t *p, uint32_t n)
{
	fputc('"', dump.out);
	for (uint32_t i = 0; i < n && i < 40; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			fputc(p[i], dump.out);
		else if (p[i] == '\r')
			fputs("\\r", dump.out);
		else if (p[i] == '\n')
			fputs("\\n", dump.out);
		else
			fprintf(dump.out, "\\x%02x", p[i]);
	}
	fputc('"', dump.out);
}

static void dump_flags(uint8_t f)
{
	fprintf(dump.out, "%s%s%s%s%s", f ? "" : "-",
		f & HT_DF_SENDFILE ? "S" : "", f & HT_DF_LOSS_BEFORE ? "L" : "",
		f & HT_DF_TRUNCATED ? "T" : "", f & HT_DF_SPLIT ? "P" : "");
}

/* The connection's entry, created if new (records of one connection come
 * from several per-CPU rings, so CLOSE may be read before OPEN). */
static struct dump_conn *dump_conn_get(const struct ht_conn_id *id)
{
	struct dump_conn *c = dump_conn_find(id);

	if (c)
		return c;
	if (dump.n_conns == DUMP_MAX_CONNS)
		return NULL;
	if (!dump.conns) {
		dump.conns = calloc(DUMP_MAX_CONNS, sizeof(*dump.conns));
		if (!dump.conns)
			return NULL;
	}
	c = &dump.conns[dump.n_conns++];
	c->id = *id;
	return c;
}

static void dump_open(const struct ht_open_ev *ev)
{
	struct dump_conn *c = dump_conn_get(&ev->hdr.conn);
	int af = ev->family == AF_INET6 ? AF_INET6 : AF_INET;

	if (!c)
		return;
	c->lport = ev->lport;
	c->rport = ev->rport;
	c->family = ev->family;
	c->role = ev->hdr.role;
	c->oflags = ev->hdr.flags;
	inet_ntop(af, ev->laddr, c->laddr, sizeof(c->laddr));
	inet_ntop(af, ev->raddr, c->raddr, sizeof(c->raddr));
	memcpy(c->comm, ev->comm, HT_COMM_LEN);
}

static void dump_keep(const struct ht_data_ev *ev)
{
	if (dump.n_recs == dump.cap_recs) {
		size_t n = dump.cap_recs ? dump.cap_recs * 2 : 4096;
		struct dump_rec *r = realloc(dump.recs, n * sizeof(*r));

		if (!r)
			return;
		dump.recs = r;
		dump.cap_recs = n;
	}
	dump.recs[dump.n_recs++] = (struct dump_rec){
		.id = ev->hdr.conn, .pos = ev->pos, .len = ev->len, .cap = ev->cap_len,
		.dir = ev->hdr.dir, .flags = ev->hdr.flags,
	};
}

static int dump_event(void *ctx, const void *rec, size_t len)
{
	const struct ht_ev_hdr *h = rec;
	static const char *const role[] = { "?", "client", "server" };

	(void)ctx;
	if (len < sizeof(*h) || h->type < HT_EV_DATA || h->type > HT_EV_LOSS) {
		dump.bad++;
		return 0;
	}
	dump.by_type[h->type]++;
	if (h->type == HT_EV_OPEN && len >= sizeof(struct ht_open_ev))
		dump_open(rec);
	if (h->type == HT_EV_DATA) {
		const struct ht_data_ev *ev = rec;

		if (len < sizeof(*ev) || ev->cap_len > len - sizeof(*ev) || ev->cap_len > ev->len) {
			dump.bad++;
			return 0;
		}
		if (!dump.quiet)
			dump_keep(ev);
	}
	if (h->type == HT_EV_CLOSE && len >= sizeof(struct ht_close_ev)) {
		const struct ht_close_ev *ev = rec;
		struct dump_conn *c = dump_conn_get(&h->conn);

		if (c) {
			c->closed = 1;
			c->close_pos[0] = ev->pos[0];
			c->close_pos[1] = ev->pos[1];
		}
	}
	if (dump.quiet || !dump_shown(&h->conn))
		return 0;
	fprintf(dump.out, "%" PRIu64 ".%09" PRIu64 " cpu%u %u/%d/%" PRIu64 " %s ",
		(uint64_t)h->ts_ns / 1000000000, (uint64_t)h->ts_ns % 1000000000, h->cpu, h->conn.tgid,
		h->conn.fd, (uint64_t)h->conn.gen, role[h->role < 3 ? h->role : 0]);
	switch (h->type) {
	case HT_EV_DATA: {
		const struct ht_data_ev *ev = rec;

		fprintf(dump.out, "DATA %s pos=%" PRIu64 " len=%u cap=%u sys=%u flags=",
			ev->hdr.dir ? "in " : "out", (uint64_t)ev->pos, ev->len, ev->cap_len, ev->sys_len);
		dump_flags(ev->hdr.flags);
		if (ev->hdr.flags & HT_DF_LOSS_BEFORE)
			fprintf(dump.out, " loss_start=%" PRIu64, (uint64_t)ev->loss_start);
		fprintf(dump.out, " tid=%u comm=%.16s ", ev->tid, ev->comm);
		dump_bytes(ev->data, ev->cap_len);
		break;
	}
	case HT_EV_OPEN: {
		struct dump_conn *c = dump_conn_find(&h->conn);

		if (c)
			fprintf(dump.out, "OPEN %s%s%s %s:%u -> %s:%u comm=%s", c->family == AF_INET6 ? "ipv6" : "ipv4",
				c->oflags & HT_OF_INFERRED ? " inferred" : "",
				c->oflags & HT_OF_RESUMED ? " resumed" : "", c->laddr, c->lport,
				c->raddr, c->rport, c->comm);
		break;
	}
	case HT_EV_CLOSE: {
		const struct ht_close_ev *ev = rec;

		fprintf(dump.out, "CLOSE out=%" PRIu64 " in=%" PRIu64, (uint64_t)ev->pos[0], (uint64_t)ev->pos[1]);
		break;
	}
	default: {
		const struct ht_loss_ev *ev = rec;

		fprintf(dump.out, "LOSS %s start=%" PRIu64 " len=%" PRIu64,
			h->dir ? "in" : "out", (uint64_t)ev->start, (uint64_t)ev->len);
		break;
	}
	}
	fputc('\n', dump.out);
	return 0;
}

static int dump_rec_cmp(const void *a, const void *b)
{
	const struct dump_rec *x = a, *y = b;

	if (x->id.tgid != y->id.tgid)
		return x->id.tgid < y->id.tgid ? -1 : 1;
	if (x->id.fd != y->id.fd)
		return x->id.fd < y->id.fd ? -1 : 1;
	if (x->id.gen != y->id.gen)
		return x->id.gen < y->id.gen ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* One summary line per (connection, direction): records, byte range,
 * captured bytes, and whether positions are contiguous. */
static void dump_summary(void)
{
	size_t i = 0, bad_streams = 0, streams = 0;

	qsort(dump.recs, dump.n_recs, sizeof(*dump.recs), dump_rec_cmp);
	while (i < dump.n_recs) {
		const struct dump_rec *f = &dump.recs[i];
		struct dump_conn *c = dump_conn_find(&f->id);
		uint64_t next = f->pos, captured = 0, trunc = 0, gaps = 0, overlaps = 0;
		size_t n = 0, j = i;
		const char *verdict;

		for (; j < dump.n_recs && dump_same(&dump.recs[j].id, &f->id) &&
		       dump.recs[j].dir == f->dir; j++) {
			const struct dump_rec *r = &dump.recs[j];

			if (r->pos > next)
				gaps++;
			else if (r->pos < next)
				overlaps++;
			next = r->pos + r->len;
			captured += r->cap;
			trunc += r->len - r->cap;
			n++;
		}
		streams++;
		verdict = gaps || overlaps ? "NOT-CONTIGUOUS" : "contiguous";
		if (c && c->closed && c->close_pos[f->dir] != next)
			verdict = "CLOSE-POS-MISMATCH";
		if (f->pos != 0 && !(c && (c->oflags & HT_OF_INFERRED)))
			verdict = "NOT-FROM-ZERO";
		if (strcmp(verdict, "contiguous"))
			bad_streams++;
		if (dump_shown(&f->id))
			fprintf(dump.out, "STREAM %u/%d/%" PRIu64 " %s %s ports %u->%u: %zu records [%" PRIu64 ",%" PRIu64 ") captured=%" PRIu64 " uncaptured=%" PRIu64 " gaps=%" PRIu64 " overlaps=%" PRIu64 " close=%s %s\n",
				f->id.tgid, f->id.fd, (uint64_t)f->id.gen, f->dir ? "in " : "out",
				c ? (c->role == 1 ? "client" : c->role == 2 ? "server" : "?") : "no-open",
				c ? c->lport : 0, c ? c->rport : 0, n, f->pos, next, captured, trunc,
				gaps, overlaps, c && c->closed ? "yes" : "no", verdict);
		i = j;
	}
	fprintf(dump.out, "SUMMARY events data=%" PRIu64 " open=%" PRIu64 " close=%" PRIu64 " loss=%" PRIu64 " malformed=%" PRIu64 " streams=%zu bad_streams=%zu\n",
		dump.by_type[HT_EV_DATA], dump.by_type[HT_EV_OPEN], dump.by_type[HT_EV_CLOSE],
		dump.by_type[HT_EV_LOSS], dump.bad, streams, bad_streams);
}

static void dump_kstats(struct capture *cap)
{
	uint64_t ks[HT_KS_MAX];
	int n = capture_read_kstats(cap, ks, HT_KS_MAX);

	fprintf(dump.out, "KSTATS");
	for (int i = 0; i < n; i++)
		fprintf(dump.out, " %s=%" PRIu64, capture_kstat_name(i), ks[i]);
	fputc('\n', dump.out);
}

static int dump_usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-o FILE] [-q] [-v] [-d SEC] [-r RING_MB] [-C CAP_BYTES] [-s MS] [-x PORT]... [-H PATH]... [-P PID]... [-p PORT]...\n",
		argv0);
	return 2;
}

int main(int argc, char **argv)
{
	static uint16_t xports[DUMP_MAX_LIST];
	static uint32_t pids[DUMP_MAX_LIST];
	static char *health[DUMP_MAX_LIST];
	struct ht_config cfg = {
		.ringbuffer_bytes = HT_RINGBUF_DEFAULT,
		.capture_cap_bytes = HT_CAPTURE_CAP_DEFAULT,
		.exclude_ports = xports,
		.pids = pids,
		.health_paths = { .v = health },
	};
	struct capture_opts co = { .cfg = &cfg, .self_pid = (uint32_t)getpid(), .n_readers = 1 };
	struct capture *cap;
	double duration = 0;
	long slow_ms = 0;
	struct timespec t0, now;
	int opt;

	dump.out = stdout;
	while ((opt = getopt(argc, argv, "o:qvd:r:C:x:H:P:p:s:")) != -1) {
		switch (opt) {
		case 'o':
			dump.out = fopen(optarg, "w");
			if (!dump.out) {
				fprintf(stderr, "capture_dump: cannot open %s: %s\n", optarg, strerror(errno));
				return 1;
			}
			break;
		case 'q': dump.quiet = true; break;
		case 's': slow_ms = atol(optarg); break;
		case 'v': co.verbose++; break;
		case 'd': duration = atof(optarg); break;
		case 'r': cfg.ringbuffer_bytes = strtoull(optarg, NULL, 10) << 20; break;
		case 'C': cfg.capture_cap_bytes = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'x':
			if (cfg.n_exclude_ports < DUMP_MAX_LIST)
				xports[cfg.n_exclude_ports++] = (uint16_t)atoi(optarg);
			break;
		case 'H':
			if (cfg.health_paths.n < DUMP_MAX_LIST)
				health[cfg.health_paths.n++] = optarg;
			break;
		case 'P':
			if (cfg.n_pids < DUMP_MAX_LIST)
				pids[cfg.n_pids++] = (uint32_t)atoi(optarg);
			break;
		case 'p':
			if (dump.n_show < DUMP_MAX_LIST)
				dump.show_ports[dump.n_show++] = (uint16_t)atoi(optarg);
			break;
		default:
			return dump_usage(argv[0]);
		}
	}
	signal(SIGINT, dump_on_signal);
	signal(SIGTERM, dump_on_signal);
	cap = capture_open(&co);
	if (!cap)
		return 1;
	if (capture_reader_init(cap, 0)) {
		fprintf(stderr, "capture_dump: cannot watch the ring buffers\n");
		capture_close(cap);
		return 1;
	}
	fprintf(stderr, "capture_dump: ready on %d CPUs\n", capture_nr_cpus(cap));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!dump_stop) {
		int rc = capture_reader_poll(cap, 0, 20, dump_event, NULL);

		if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "capture_dump: poll: %s\n", strerror(-rc));
			break;
		}
		if (slow_ms > 0) {
			/* simulate a slow reader: lets the rings fill (loss tests) */
			struct timespec ts = { slow_ms / 1000, (slow_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (duration > 0 && (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= duration)
			break;
	}
	capture_detach(cap); /* nothing new: the drain below ends */
	while (capture_reader_poll(cap, 0, 0, dump_event, NULL) > 0)
		;
	dump_summary();
	dump_kstats(cap);
	capture_close(cap);
	if (dump.out != stdout)
		fclose(dump.out);
	free(dump.recs);
	free(dump.conns);
	return 0;
}
