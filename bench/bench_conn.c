/*
 * bench_conn.c - CPU per record of a shard's work on recorded traffic, in
 * one thread, without the pipeline: the events of a record file (the
 * first MAX_EVENTS of them) are read into memory once, then each pass
 * runs them through fresh connections (conn_on_open/data/loss/close,
 * conn_drain at close) and every emitted record through the default
 * redaction and the NDJSON encoder, freed as a shard does.  Prints the
 * minimum over the passes of thread CPU time per record (the machine is
 * shared; noise only adds).  Each event is copied into a scratch slot
 * before it is applied, as a shard reads it from its ring, and the slot
 * is overwritten by the next one.  Prints numbers, asserts nothing.
 * Build against another tree's libht.a to compare (the sources use only
 * what both have):
 *   make build/bench_conn && build/bench_conn FILE.htr [PASSES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "base/buf.h"
#include "base/record.h"
#include "base/stats.h"
#include "config/config.h"
#include "ht_event.h"
#include "sink/format.h"
#include "sink/redact.h"
#include "source/rfile.h"
#include "stream/conn.h"

#define MAX_EVENTS 400000
#define TABLE (1u << 16) /* open addressing, power of two */

struct slot {
	struct ht_conn_id id;
	struct conn *c;
};

static struct slot table[TABLE];
static struct conn_limits lim;
static struct ht_stats st;
static const struct ht_config *cfg;
static struct ht_buf out;
static uint64_t records, out_bytes;

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* What a shard does with a finished record (no filters configured). */
static void emit(void *ctx, struct ht_record *r)
{
	(void)ctx;
	ht_redact(cfg, r);
	format_record(HT_FMT_NDJSON, r, &out);
	ht_record_free(r);
	records++;
	if (out.len > (1u << 20)) { /* a batch went to the writer */
		out_bytes += out.len;
		out.len = 0;
	}
}

static struct slot *lookup(const struct ht_conn_id *id, uint64_t hash)
{
	for (uint32_t i = (uint32_t)hash & (TABLE - 1);; i = (i + 1) & (TABLE - 1)) {
		struct slot *s = &table[i];

		if (!s->c || !memcmp(&s->id, id, sizeof(*id)))
			return s;
	}
}

static void finish(struct slot *s)
{
	conn_drain(s->c, &lim, &st, 0);
	conn_free(s->c);
	free(s->c);
	s->c = NULL;
	/* backward-shift deletion keeps the probe chains whole */
	for (uint32_t i = (uint32_t)(s - table), j = i;;) {
		uint32_t k;

		j = (j + 1) & (TABLE - 1);
		if (!table[j].c)
			break;
		k = (uint32_t)XXH3_64bits(&table[j].id, sizeof(table[j].id)) & (TABLE - 1);
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			table[i] = table[j];
			table[j].c = NULL;
			i = j;
		}
	}
}

static void apply(const void *rec)
{
	const struct ht_ev_hdr *h = rec;
	uint64_t hash = XXH3_64bits(&h->conn, sizeof(h->conn));
	struct slot *s = lookup(&h->conn, hash);

	if (!s->c) {
		if (h->type == HT_EV_CLOSE || h->type == HT_EV_LOSS)
			return;
		s->c = malloc(sizeof(*s->c));
		s->id = h->conn;
		conn_init(s->c, &h->conn, hash, h->role, emit, NULL, 0, &lim);
	}
	switch (h->type) {
	case HT_EV_OPEN:
		conn_on_open(s->c, rec, &lim);
		break;
	case HT_EV_DATA:
		conn_on_data(s->c, rec, &lim, &st);
		break;
	case HT_EV_LOSS:
		conn_on_loss(s->c, rec, &lim, &st);
		break;
	case HT_EV_CLOSE:
		if (conn_on_close(s->c, rec, &lim, &st) && s->c->have_open)
			finish(s);
		break;
	}
}

int main(int argc, char **argv)
{
	int passes = argc > 2 ? atoi(argv[2]) : 10;
	static uint8_t scratch[sizeof(struct ht_data_ev) + HT_DATA_CHUNK + 64];
	char err[256];
	struct rfile_reader *rd;
	uint8_t *evs;
	uint32_t *lens;
	size_t n = 0, cap = 256u << 20, used = 0;
	const uint8_t *blk, *cur;
	size_t blen;
	uint32_t cnt;
	double best = 1e9;

	if (argc < 2 || passes < 1) {
		fprintf(stderr, "usage: bench_conn FILE.htr [PASSES]\n");
		return 2;
	}
	rd = rfile_reader_open(argv[1], err, sizeof(err));
	cfg = ht_config_defaults();
	evs = malloc(cap);
	lens = malloc(MAX_EVENTS * sizeof(*lens));
	if (!rd || !cfg || !evs || !lens) {
		fprintf(stderr, "bench_conn: %s\n", rd ? "out of memory" : err);
		return 1;
	}
	while (n < MAX_EVENTS && rfile_reader_next_block(rd, &blk, &blen, &cnt) == 1) {
		const void *rec;
		uint32_t len;

		cur = blk;
		while (n < MAX_EVENTS && rfile_next_record(&cur, blk + blen, &rec, &len)) {
			size_t step = (len + 7) & ~7u;

			if (used + step > cap || len > sizeof(scratch))
				break;
			memcpy(evs + used, rec, len);
			lens[n++] = len;
			used += step;
		}
	}
	rfile_reader_close(rd);
	lim.reasm.max_bytes = 4u << 20;
	lim.reasm.max_segments = lim.reasm.max_bytes / 1024;
	lim.httpp.max_head_bytes = 65536;
	lim.httpp.max_value_bytes = cfg->max_header_size;
	lim.corr.max_body_bytes = cfg->max_body_size;
	lim.corr.max_pending = 1024;
	for (int p = 0; p < passes; p++) {
		size_t off = 0;
		double t;

		records = out_bytes = 0;
		out.len = 0;
		t = cpu_now();
		for (size_t i = 0; i < n; i++) {
			memcpy(scratch, evs + off, lens[i]); /* as from a shard's ring */
			apply(scratch);
			off += (lens[i] + 7) & ~7u;
		}
		for (uint32_t i = 0; i < TABLE; i++)
			while (table[i].c)
				finish(&table[i]);
		t = cpu_now() - t;
		out_bytes += out.len;
		if (t < best)
			best = t;
	}
	printf("bench_conn: %zu events, %llu records, %.0f bytes of NDJSON per record; "
	       "ns/record (min of %d passes): %.0f\n", n, (unsigned long long)records,
	       records ? (double)out_bytes / (double)records : 0.0, passes,
	       records ? best / (double)records * 1e9 : 0.0);
	ht_buf_free(&out);
	free(evs);
	free(lens);
	return 0;
}
