/*
 * shard.c - one shard worker: its connections in an RCU hash table (liburcu
 * cds_lfht) with an LRU list for idle expiry and a memory budget, the
 * stream stage (stream/conn.h) for each, and finished records filtered,
 * sampled, redacted and encoded into batches for the writer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "config/config.h"
#include "observe/metrics.h"
#include "observe/red.h"
#include "sink/enrich.h"
#include "sink/filter.h"
#include "sink/format.h"
#include "sink/meta.h"
#include "sink/redact.h"
#include "sink/sink.h"

static void lru_unlink(struct shard *s, struct shard_conn *sc)
{
	if (sc->lru_prev)
		sc->lru_prev->lru_next = sc->lru_next;
	else
		s->lru_head = sc->lru_next;
	if (sc->lru_next)
		sc->lru_next->lru_prev = sc->lru_prev;
	else
		s->lru_tail = sc->lru_prev;
	sc->lru_prev = sc->lru_next = NULL;
}

static void lru_push_tail(struct shard *s, struct shard_conn *sc)
{
	sc->lru_prev = s->lru_tail;
	sc->lru_next = NULL;
	if (s->lru_tail)
		s->lru_tail->lru_next = sc;
	else
		s->lru_head = sc;
	s->lru_tail = sc;
}

static void emit_record(void *ctx, struct ht_record *r);

static int match_conn(struct cds_lfht_node *node, const void *key)
{
	const struct shard_conn *sc = caa_container_of(node, struct shard_conn, node);

	return memcmp(&sc->c.id, key, sizeof(sc->c.id)) == 0;
}

static struct shard_conn *conn_lookup(struct shard *s, const struct ht_conn_id *id, uint64_t hash)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(s->table, hash, match_conn, id, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct shard_conn, node) : NULL;
}

/* The emit context of a connection: its shard and its own metadata. */
struct emit_ctx {
	struct shard *s;
	struct conn *c;
};

static struct shard_conn *conn_create(struct shard *s, const struct ht_ev_hdr *h, uint64_t hash)
{
	struct shard_conn *sc = calloc(1, sizeof(*sc));

	if (!sc)
		return NULL;
	conn_init(&sc->c, &h->conn, hash, h->role, emit_record, s, s->p->o.wall_offset_ns, &s->lim);
	cds_lfht_node_init(&sc->node);
	cds_lfht_add(s->table, hash, &sc->node);
	lru_push_tail(s, sc);
	s->n_conns++;
	HT_INC(&s->st, HT_C_CONNS_OPENED);
	return sc;
}

/*
 * Removed connections are freed by their shard after synchronize_rcu(), in
 * batches, outside any read-side section: a thread walking a table under
 * rcu_read_lock() (metrics, a future external sweeper) never sees freed
 * memory, and the memory is freed by the thread that wrote it.
 */
static void reclaim(struct shard *s)
{
	struct shard_conn *sc = s->graveyard;

	if (!sc)
		return;
	synchronize_rcu();
	while (sc) {
		struct shard_conn *next = sc->lru_next;

		free(sc);
		sc = next;
	}
	s->graveyard = NULL;
	s->n_graveyard = 0;
}

static void conn_destroy(struct shard *s, struct shard_conn *sc)
{
	s->mem -= sc->c.mem;
	s->pending -= sc->pending_seen;
	lru_unlink(s, sc);
	cds_lfht_del(s->table, &sc->node);
	conn_free(&sc->c);
	s->n_conns--;
	HT_INC(&s->st, HT_C_CONNS_CLOSED);
	sc->lru_next = s->graveyard;
	s->graveyard = sc;
	s->n_graveyard++;
}

static void conn_finish(struct shard *s, struct shard_conn *sc, uint64_t now)
{
	conn_drain(&sc->c, &s->lim, &s->st, now);
	conn_destroy(s, sc);
}

/* Bring the shard's totals (memory, pending requests, dropped requests) up
 * to date with what the connection holds now. */
static void account_conn(struct shard *s, struct shard_conn *sc)
{
	size_t m = conn_buffered(&sc->c);
	const struct corr *co = &sc->c.corr;

	s->mem += m;
	s->mem -= sc->c.mem;
	sc->c.mem = m;
	s->pending += co->n_pending;
	s->pending -= sc->pending_seen;
	sc->pending_seen = co->n_pending;
	if (co->dropped != sc->dropped_seen) {
		HT_ADD(&s->st, HT_C_DROP_CORR_PENDING, co->dropped - sc->dropped_seen);
		sc->dropped_seen = co->dropped;
	}
}

/* Over budget: finish the least recently active connections. */
static void enforce_budget(struct shard *s, uint64_t now)
{
	while (s->mem > s->p->o.shard_memory_bytes && s->lru_head) {
		struct shard_conn *sc = s->lru_head;

		HT_INC(&s->st, HT_C_DROP_MEMORY_BUDGET);
		conn_finish(s, sc, now);
	}
}

static void shard_sweep(struct shard *s, uint64_t now, bool all);

/* event_clock: the connection clock is the largest event time seen, and the
 * sweep runs when it has moved SWEEP_INTERVAL_NS on (before the event that
 * moved it), so where timeouts fall depends only on the events. */
static uint64_t event_tick(struct shard *s, uint64_t ts_ns)
{
	if (ts_ns <= s->ev_now)
		return s->ev_now;
	s->ev_now = ts_ns;
	if (!s->next_ev_sweep) {
		s->next_ev_sweep = ts_ns + SWEEP_INTERVAL_NS;
	} else if (ts_ns >= s->next_ev_sweep) {
		shard_sweep(s, ts_ns, false);
		s->next_ev_sweep = ts_ns + SWEEP_INTERVAL_NS;
	}
	return ts_ns;
}

static void shard_apply(struct shard *s, const void *rec, uint64_t now)
{
	const struct ht_ev_hdr *h = rec;
	uint64_t hash = conn_hash(&h->conn);
	struct shard_conn *sc;

	if (s->p->o.event_clock)
		now = event_tick(s, h->ts_ns);
	sc = conn_lookup(s, &h->conn, hash);

	HT_INC(&s->st, HT_C_EVENTS_PROCESSED);
	if (!sc) {
		if (h->type == HT_EV_CLOSE || h->type == HT_EV_LOSS)
			return; /* nothing known about it: nothing to finish */
		sc = conn_create(s, h, hash);
		if (!sc) {
			HT_INC(&s->st, HT_C_DROP_MEMORY_BUDGET);
			return;
		}
	}
	sc->c.last_active_ns = now;
	if (sc != s->lru_tail) {
		lru_unlink(s, sc);
		lru_push_tail(s, sc);
	}
	switch (h->type) {
	case HT_EV_OPEN:
		conn_on_open(&sc->c, rec, &s->lim);
		break;
	case HT_EV_DATA:
		conn_on_data(&sc->c, rec, &s->lim, &s->st);
		break;
	case HT_EV_LOSS:
		conn_on_loss(&sc->c, rec, &s->lim, &s->st);
		break;
	case HT_EV_CLOSE:
		conn_on_close(&sc->c, rec, &s->lim, &s->st);
		break;
	}
	/* A gap that an active connection has waited on too long is lost. */
	if (conn_has_waits(&sc->c)) {
		if (!sc->c.wait_since_ns)
			sc->c.wait_since_ns = now;
		else if (now - sc->c.wait_since_ns >= REORDER_WAIT_NS) {
			conn_skip_waits(&sc->c, &s->lim, &s->st);
			sc->c.wait_since_ns = conn_has_waits(&sc->c) ? now : 0;
		}
	} else {
		sc->c.wait_since_ns = 0;
	}
	/* CLOSE came first and the last bytes (or the OPEN with the addresses)
	 * just arrived through another ring: finish now. */
	if (sc->c.closing && sc->c.have_open && conn_close_ready(&sc->c)) {
		conn_finish(s, sc, now);
		return;
	}
	account_conn(s, sc);
	if (s->mem > s->p->o.shard_memory_bytes)
		enforce_budget(s, now);
}

/* Idle expiry, close grace and reorder timeouts, oldest activity first, at
 * connection time now (the wall clock, or the events' in event_clock mode;
 * s->now_ns stays the wall clock for the batches). */
static void shard_sweep(struct shard *s, uint64_t now, bool all)
{
	uint64_t idle_ns = (uint64_t)s->p->o.idle_timeout_ms * 1000000ull;
	struct shard_conn *sc = s->lru_head;

	while (sc) {
		struct shard_conn *next = sc->lru_next;
		uint64_t quiet = now - sc->c.last_active_ns;

		if (all || quiet >= idle_ns) {
			if (!all)
				HT_INC(&s->st, HT_C_CONNS_EXPIRED);
			conn_finish(s, sc, now);
		} else if (quiet < REORDER_WAIT_NS && quiet < CLOSE_GRACE_NS) {
			break; /* everything after this one is more recent */
		} else if (sc->c.closing && (conn_close_ready(&sc->c) || quiet >= CLOSE_GRACE_NS)) {
			conn_finish(s, sc, now);
		} else if (quiet >= REORDER_WAIT_NS && conn_has_waits(&sc->c)) {
			conn_skip_waits(&sc->c, &s->lim, &s->st);
			account_conn(s, sc);
		}
		sc = next;
	}
	ht_stat_set(&s->st.c[HT_C_STREAMS_ACTIVE], s->n_conns);
	ht_stat_set(&s->st.c[HT_C_MEM_BYTES], s->mem);
	ht_stat_set(&s->st.c[HT_C_CORR_PENDING], s->pending);
}

static void shard_limits(struct shard *s)
{
	const struct ht_config *cfg;

	rcu_read_lock();
	cfg = rcu_dereference(ht_config_current);
	/* per direction: holds the reordering between CPU rings of a busy
	 * connection (~20 MB/s x reader lag) and a 64 KiB head; the shard
	 * budget bounds the sum.  One out-of-order segment per KiB of it, so
	 * that the byte cap binds, not the count: with 256, a few ms of a
	 * busy connection's small events behind a hole (1 KiB responses)
	 * were evicted (conn_buffer) with the buffer 6% full. */
	s->lim.reasm.max_bytes = 4u << 20;
	s->lim.reasm.max_segments = s->lim.reasm.max_bytes / 1024;
	s->lim.httpp.max_head_bytes = 65536;
	s->lim.httpp.max_value_bytes = cfg ? cfg->max_header_size : 1024;
	s->lim.corr.max_body_bytes = cfg ? cfg->max_body_size : 4096;
	s->lim.corr.max_pending = 1024;
	rcu_read_unlock();
}

/*
 * A gathering writer (see writer.c) sleeps until its oldest batch is due,
 * so a push wakes it only when it needs to know: the first batch after a
 * write (it sets the due time), the one that makes a write's worth, or a
 * ring a quarter full.  Any other writer is woken by every push.
 */
static void wake_writer(struct shard *s, size_t bytes)
{
	struct pipeline *p = s->p;
	uint64_t old;

	if (!p->writer_coalesce) {
		unpark(&p->writer_pk);
		return;
	}
	old = __atomic_fetch_add(&p->writer_pending, bytes, __ATOMIC_ACQ_REL);
	if (!old || (old < WRITER_COALESCE && old + bytes >= WRITER_COALESCE) ||
	    spsc_ptr_used(&s->out) >= WRITER_RING / 4)
		unpark(&p->writer_pk);
}

/* Hand the current batch to the writer: waits (bounded in live mode) for
 * ring space and for the shard's byte budget; a batch that cannot go is
 * dropped and its records counted. */
static void push_batch(struct shard *s)
{
	struct batch *b = s->cur;
	uint64_t deadline = 0;
	uint32_t spins = 0;
	size_t len;
	uint32_t n;

	if (!b)
		return;
	s->cur = NULL;
	len = batch_bytes(b, s->p->o.n_sinks); /* once pushed, b belongs to the writer */
	n = b->n;
	if (n >= (s->p->o.batch_size ? s->p->o.batch_size : 1))
		s->batch_hint = len + len / 8; /* a full batch: the next one is about as big */
	/* count the bytes first: the writer subtracts them after the write */
	__atomic_add_fetch(&s->inflight_bytes, len, __ATOMIC_RELEASE);
	while (__atomic_load_n(&s->inflight_bytes, __ATOMIC_ACQUIRE) > WRITER_BUDGET + len ||
	       !spsc_ptr_push(&s->out, b)) {
		if (s->p->o.queue_wait_us >= 0) {
			uint64_t t = ht_now_ns();

			if (!deadline) {
				deadline = t + (uint64_t)s->p->o.queue_wait_us * 1000;
			} else if (t >= deadline) {
				__atomic_sub_fetch(&s->inflight_bytes, len, __ATOMIC_RELEASE);
				HT_ADD(&s->st, HT_C_DROP_WRITER_QUEUE, n);
				batch_free(s->p, b);
				return;
			}
		}
		relax(&spins);
	}
	HT_ADD(&s->st, HT_C_RECORDS_EMITTED, n);
	wake_writer(s, len);
}

/* A new empty batch: the header, cap done_ns slots, then the sinks' parts. */
static struct batch *batch_new(const struct pipeline *p, uint32_t cap, uint64_t now)
{
	size_t head = sizeof(struct batch) + cap * sizeof(uint64_t);
	size_t sinks = (size_t)p->o.n_sinks * sizeof(struct batch_sink);
	struct batch *b;

	head = (head + 7) & ~(size_t)7;
	b = malloc(head + sinks);
	if (!b)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->sink = (struct batch_sink *)((char *)b + head);
	memset(b->sink, 0, sinks);
	b->first_ns = now;
	return b;
}

/* The record in the file's format (if there is a file) and in every sink's. */
static void add_to_batch(struct shard *s, struct ht_record *r, uint64_t now)
{
	const struct pipeline *p = s->p;
	uint32_t cap = p->o.batch_size ? p->o.batch_size : 1;
	struct batch *b = s->cur;

	if (!b) {
		b = batch_new(p, cap, now);
		if (!b) {
			HT_INC(&s->st, HT_C_DROP_WRITER_QUEUE);
			return;
		}
		s->cur = b;
		/* one allocation of the usual size instead of doubling from 4 KiB
		 * (each doubling copies what the batch holds so far) */
		if (s->batch_hint)
			ht_buf_reserve(&b->buf, s->batch_hint);
	}
	if (p->o.out && format_record(p->o.format, r, &b->buf)) {
		HT_INC(&s->st, HT_C_DROP_WRITER_QUEUE); /* out of memory */
		return;
	}
	for (int i = 0; i < p->o.n_sinks; i++) {
		const struct sink *k = &p->o.sinks[i];

		if (k->ops->encode(k->ctx, r, &b->sink[i].buf))
			HT_INC(&s->st, HT_C_DROP_SINK_ENCODE);
		else
			b->sink[i].n++;
	}
	b->done_ns[b->n++] = now;
	if (b->n >= cap)
		push_batch(s);
}

/* A finished record: user-space filters, sampling, redaction, then out. */
static void emit_record(void *ctx, struct ht_record *r)
{
	struct shard *s = ctx;
	const struct ht_config *cfg = rcu_dereference(ht_config_current);
	enum ht_counter reason;

	if (s->meta) { /* live mode: this host's processes (inside rcu_read_lock) */
		const struct meta_info *mi = r->pid ? meta_lookup(s->meta, r->pid, s->now_ns) : NULL;

		if (enrich_record(r, mi, s->p->o.k8s, s->p->o.node_name) == ENRICH_POD_UNKNOWN)
			HT_INC(&s->st, HT_C_K8S_NO_METADATA); /* out without it, never held back */
	}
	if (s->red)
		red_observe(s->red, r);
	if (cfg && ht_filter_should_drop(cfg, r, &reason)) {
		HT_INC(&s->st, reason);
		ht_record_free(r);
		return;
	}
	if (cfg)
		ht_redact(cfg, r);
	r->done_mono_ns = s->now_ns;
	add_to_batch(s, r, r->done_mono_ns);
	ht_record_free(r);
}

static uint32_t shard_poll(struct shard *s, uint64_t now)
{
	uint32_t got = 0;

	s->now_ns = now;
	for (int r = 0; r < s->p->o.n_readers; r++) {
		struct spsc_bytes *q = &s->in[r];
		uint32_t len;
		void *rec;

		for (int i = 0; i < SHARD_BATCH && (rec = spsc_bytes_peek(q, &len)); i++) {
			shard_apply(s, rec, now);
			spsc_bytes_release(q, len);
			got++;
		}
	}
	return got;
}

static uint64_t queue_depth(struct shard *s)
{
	uint64_t d = 0;

	for (int r = 0; r < s->p->o.n_readers; r++)
		d += spsc_bytes_used(&s->in[r]);
	return d;
}

static bool shard_has_input(void *arg)
{
	struct shard *s = arg;

	for (int r = 0; r < s->p->o.n_readers; r++)
		if (spsc_bytes_used(&s->in[r]))
			return true;
	return __atomic_load_n(&s->p->stopping, __ATOMIC_ACQUIRE);
}

/* After a busy pass: a short spin for more input, looking only at the
 * rings (no clock, no sweep), before the shard parks. */
static bool spin_for_input(struct shard *s)
{
	for (int i = 0; i < 64; i++) {
		if (shard_has_input(s))
			return true;
		cpu_relax();
	}
	return false;
}

void *shard_main(void *arg)
{
	struct shard *s = arg;
	uint32_t spins = 0;
	uint64_t flush_ns = (uint64_t)s->p->o.flush_interval_ms * 1000000ull;
	int hb = metrics_thread_register("shard", s->idx);

	rcu_register_thread();
	for (;;) {
		uint64_t now = ht_now_ns();
		int stopping = __atomic_load_n(&s->p->stopping, __ATOMIC_ACQUIRE);
		uint32_t got;

		rcu_read_lock();
		got = shard_poll(s, now);
		if (now >= s->next_sweep_ns) {
			shard_limits(s);
			if (!s->p->o.event_clock)
				shard_sweep(s, now, false);
			ht_stat_set(&s->st.c[HT_C_QUEUE_DEPTH], queue_depth(s));
			metrics_thread_alive(hb);
			s->next_sweep_ns = now + SWEEP_INTERVAL_NS;
		}
		rcu_read_unlock();
		if (s->cur && now - s->cur->first_ns >= flush_ns)
			push_batch(s); /* a quiet node still sees its records promptly */
		if (s->n_graveyard >= 4096 || (s->graveyard && !got))
			reclaim(s);
		if (got) {
			spins = 0;
			continue;
		}
		if (stopping)
			break; /* readers are done and our rings are empty */
		if (!spins++ && spin_for_input(s))
			continue; /* busy a moment ago: more may follow at once */
		park(&s->pk, SWEEP_INTERVAL_NS, shard_has_input, s);
	}
	rcu_read_lock();
	s->now_ns = ht_now_ns();
	shard_sweep(s, s->p->o.event_clock ? s->ev_now : s->now_ns, true);
	rcu_read_unlock();
	push_batch(s);
	reclaim(s);
	metrics_thread_unregister(hb);
	rcu_unregister_thread();
	return NULL;
}


int shard_setup(struct pipeline *p, struct shard *s, int idx)
{
	s->p = p;
	s->idx = idx;
	s->in = calloc((size_t)p->o.n_readers, sizeof(*s->in));
	if (!s->in)
		return -ENOMEM;
	for (int r = 0; r < p->o.n_readers; r++)
		if (spsc_bytes_init(&s->in[r], p->o.queue_bytes))
			return -ENOMEM;
	if (spsc_ptr_init(&s->out, WRITER_RING))
		return -ENOMEM;
	s->table = cds_lfht_new(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!s->table)
		return -ENOMEM;
	if (p->o.lookup_metadata)
		s->meta = meta_cache_new(); /* none (NULL) only costs the metadata */
	s->red = red_table_new(100);
	if (s->red)
		red_register(s->red);
	shard_limits(s);
	ht_stats_register(&s->st, "shard", idx);
	return 0;
}


/*
 * After pipeline_stop, or for a shard whose thread never ran (pipeline_start
 * failed): shard_main has finished every connection and reclaimed them, and
 * the writer has emptied the shard's ring, so the table is empty; a batch
 * still in the ring or half built is freed here.  The caller must be
 * registered with liburcu (red_table_free waits for a grace period).
 */
void shard_teardown(struct shard *s)
{
	struct batch *b;

	if (!s->p)
		return; /* shard_setup never ran on it */
	ht_stats_unregister(&s->st);
	red_table_free(s->red); /* unregisters first: no scrape can see it after */
	s->red = NULL;
	meta_cache_free(s->meta);
	s->meta = NULL;
	if (s->cur)
		batch_free(s->p, s->cur);
	s->cur = NULL;
	if (s->out.slots)
		while ((b = spsc_ptr_pop(&s->out)))
			batch_free(s->p, b);
	spsc_ptr_free(&s->out);
	for (int r = 0; s->in && r < s->p->o.n_readers; r++)
		spsc_bytes_free(&s->in[r]);
	free(s->in);
	s->in = NULL;
	if (s->table)
		cds_lfht_destroy(s->table, NULL); /* empty: shard_main finished every connection */
	s->table = NULL;
}
