/* pipeline.c - readers' dispatch, shard workers and the writer; see pipeline.h. */
#include "pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include <urcu.h>
#include <urcu/rculfhash.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "buf.h"
#include "config.h"
#include "conn.h"
#include "filter.h"
#include "format.h"
#include "ht_event.h"
#include "meta.h"
#include "metrics.h"
#include "output.h"
#include "red.h"
#include "redact.h"
#include "spsc.h"

#define SHARD_BATCH 256           /* events taken from one ring before the next */
#define SWEEP_INTERVAL_NS 10000000ull /* 10 ms */
#define REORDER_WAIT_NS 100000000ull  /* give up on a reordered gap after 100 ms idle */
#define CLOSE_GRACE_NS 200000000ull   /* wait for in-flight bytes after CLOSE */
#define WRITER_RING 256               /* batches per shard -> writer ring */
#define WRITER_BUDGET (16u << 20)     /* encoded bytes a shard may have queued for the writer */

struct parker {
	int parked __attribute__((aligned(64)));
};

struct shard_conn {
	struct cds_lfht_node node;
	struct shard_conn *lru_prev, *lru_next; /* oldest activity first; graveyard link */
	struct conn c;
};

struct shard {
	struct pipeline *p;
	int idx;
	pthread_t th;
	struct spsc_bytes *in;       /* [n_readers] */
	struct spsc_ptr out;         /* to the writer */
	struct cds_lfht *table;
	struct shard_conn *lru_head, *lru_tail;
	struct shard_conn *graveyard; /* removed from the table, freed after a grace period */
	uint32_t n_graveyard;
	uint64_t n_conns;
	uint64_t mem;                /* buffered bytes of all connections */
	uint64_t next_sweep_ns;
	struct conn_limits lim;
	struct red_table *red;
	struct meta_cache *meta;     /* live mode only */
	struct batch *cur;           /* records encoded, not yet handed to the writer */
	uint64_t inflight_bytes;     /* encoded bytes queued for the writer (shared) */
	struct ht_stats st;
	struct parker pk;            /* the shard sleeps here when idle */
};

/*
 * A batch: up to batchSize records, already encoded by the shard that
 * finished them (encoding is the heaviest per-record step, so it runs on
 * all shards in parallel), written by the writer with one write(2).
 */
struct batch {
	struct ht_buf buf;
	uint32_t n;
	uint64_t first_ns;           /* when its first record was added */
	uint64_t done_ns[];          /* per record: when the shard finished it */
};

/*
 * A data event a reader had to drop (its shard's ring stayed full) becomes a
 * LOSS notice for that shard, queued here and sent ahead of the reader's next
 * event to the shard, so the reassembler sees a hole of known size at once
 * instead of waiting for bytes that will never come.  Notices that do not fit
 * are counted; the shard's reorder timeout covers them.
 */
#define LOSS_PENDING_MAX 1024
struct reader_losses {
	struct ht_loss_ev ev[LOSS_PENDING_MAX];
	int shard[LOSS_PENDING_MAX];
	uint32_t n;
};

struct pipeline {
	struct pipeline_opts o;
	struct shard *shards;
	struct ht_stats *reader_st;  /* [n_readers] */
	struct reader_losses *losses; /* [n_readers] */
	uint64_t *wake;              /* [n_readers]: shards fed since the last flush */
	struct ht_stats writer_st;
	struct parker writer_pk;
	pthread_t writer_th;
	int stopping;                /* readers are done: drain and exit */
	int shards_done;
	uint64_t written;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t conn_hash(const struct ht_conn_id *id)
{
	return XXH3_64bits(id, sizeof(*id));
}

int pipeline_shard_of(const struct pipeline *p, const void *conn_id)
{
	return (int)(conn_hash(conn_id) % (uint64_t)p->o.n_shards);
}

/* ------------------------------------------------------------- readers */

/* Checked lengths: a record must be as long as its type says. */
static bool event_ok(const void *rec, size_t len)
{
	const struct ht_ev_hdr *h = rec;

	if (len < sizeof(*h))
		return false;
	switch (h->type) {
	case HT_EV_DATA: {
		const struct ht_data_ev *d = rec;

		return len >= sizeof(*d) && d->cap_len <= d->len &&
		       len == sizeof(*d) + d->cap_len;
	}
	case HT_EV_OPEN:
		return len >= sizeof(struct ht_open_ev);
	case HT_EV_CLOSE:
		return len >= sizeof(struct ht_close_ev);
	case HT_EV_LOSS:
		return len >= sizeof(struct ht_loss_ev);
	default:
		return false;
	}
}

/* Idle backoff: spin briefly, then sleep 50 us doubling to 800 us, so an
 * idle pipeline costs ~1,000 wakeups/s per thread.  No sched_yield(): on a
 * loaded node it turns every idle moment into a context switch (measured:
 * a fifth of the tracer's CPU under wrk). */
static void relax(uint32_t *spins)
{
	uint32_t k = ++*spins;

	if (k < 64) {
		__builtin_ia32_pause();
	} else {
		uint32_t shift = (k - 64) / 16;
		struct timespec ts = { 0, 50000L << (shift > 4 ? 4 : shift) };

		nanosleep(&ts, NULL);
	}
}

static void remember_loss(struct pipeline *p, int r, int shard, const struct ht_data_ev *d)
{
	struct reader_losses *l = &p->losses[r];
	struct ht_loss_ev *ev;

	if (l->n == LOSS_PENDING_MAX)
		return; /* the shard's reorder timeout turns the hole into a loss */
	ev = &l->ev[l->n];
	memset(ev, 0, sizeof(*ev));
	ev->hdr.type = HT_EV_LOSS;
	ev->hdr.dir = d->hdr.dir;
	ev->hdr.role = d->hdr.role;
	ev->hdr.cpu = d->hdr.cpu;
	ev->hdr.ts_ns = d->hdr.ts_ns;
	ev->hdr.conn = d->hdr.conn;
	ev->start = d->pos;
	ev->len = d->len;
	l->shard[l->n++] = shard;
}

/* Send the loss notices owed to a shard; false if its ring is still full. */
static bool flush_losses(struct pipeline *p, int r, int shard)
{
	struct reader_losses *l = &p->losses[r];
	struct spsc_bytes *q = &p->shards[shard].in[r];
	uint32_t keep = 0;
	bool ok = true;

	for (uint32_t i = 0; i < l->n; i++) {
		void *slot;

		if (l->shard[i] == shard && ok &&
		    (slot = spsc_bytes_reserve(q, sizeof(l->ev[i])))) {
			memcpy(slot, &l->ev[i], sizeof(l->ev[i]));
			spsc_bytes_commit(q);
			continue;
		}
		if (l->shard[i] == shard)
			ok = false;
		l->ev[keep] = l->ev[i];
		l->shard[keep++] = l->shard[i];
	}
	l->n = keep;
	return ok;
}

/*
 * Parking: an idle consumer (shard, writer) sleeps on a futex instead of
 * polling, and its producers wake it.  The consumer announces itself
 * parked, re-checks its input, then waits (with a timeout, for sweeps and
 * flushes); a producer that commits an entry and sees the flag clears it
 * and wakes the sleeper.  Seq-cst on both sides: either the consumer's
 * re-check sees the entry or the producer sees the flag.
 */
static void unpark(struct parker *pk)
{
	/* order the producer's commit before reading the flag (StoreLoad) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&pk->parked, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&pk->parked, 0, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &pk->parked, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleep up to timeout_ns unless has_work(arg) says there is input. */
static void park(struct parker *pk, uint64_t timeout_ns, bool (*has_work)(void *), void *arg)
{
	struct timespec ts = { (time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull) };

	__atomic_store_n(&pk->parked, 1, __ATOMIC_SEQ_CST);
	if (!has_work(arg))
		syscall(SYS_futex, &pk->parked, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0);
	__atomic_store_n(&pk->parked, 0, __ATOMIC_SEQ_CST);
}

int pipeline_dispatch(struct pipeline *p, int r, const void *rec, size_t len)
{
	struct ht_stats *st = &p->reader_st[r];
	const struct ht_ev_hdr *h = rec;
	struct spsc_bytes *q;
	uint64_t deadline = 0;
	uint32_t spins = 0;
	void *slot;
	int shard;

	HT_INC(st, HT_C_EVENTS_RECEIVED);
	if (!event_ok(rec, len)) {
		HT_INC(st, HT_C_DROP_MALFORMED_EVENT);
		return -1;
	}
	shard = (int)(conn_hash(&h->conn) % (uint64_t)p->o.n_shards);
	q = &p->shards[shard].in[r];
	while ((p->losses[r].n && !flush_losses(p, r, shard)) ||
	       !(slot = spsc_bytes_reserve(q, (uint32_t)len))) {
		if (p->o.queue_wait_us >= 0) {
			uint64_t t = now_ns();

			if (!deadline)
				deadline = t + (uint64_t)p->o.queue_wait_us * 1000;
			else if (t >= deadline) {
				HT_INC(st, HT_C_DROP_QUEUE_FULL);
				if (h->type == HT_EV_DATA) {
					HT_ADD(st, HT_C_BYTES_LOST, ((const struct ht_data_ev *)rec)->len);
					remember_loss(p, r, shard, rec);
				}
				return -1;
			}
		}
		unpark(&p->shards[shard].pk); /* it must drain for us to go on */
		relax(&spins);
	}
	memcpy(slot, rec, len);
	spsc_bytes_commit(q);
	p->wake[r] |= 1ull << shard; /* woken once per burst: pipeline_reader_flush */
	return 0;
}

void pipeline_reader_flush(struct pipeline *p, int r)
{
	uint64_t w = p->wake[r];

	p->wake[r] = 0;
	while (w) {
		int i = __builtin_ctzll(w);

		unpark(&p->shards[i].pk);
		w &= w - 1;
	}
}

struct ht_stats *pipeline_reader_stats(struct pipeline *p, int r)
{
	return &p->reader_st[r];
}

/* -------------------------------------------------------------- shards */

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

static void account_mem(struct shard *s, struct shard_conn *sc)
{
	size_t m = conn_buffered(&sc->c);

	s->mem += m;
	s->mem -= sc->c.mem;
	sc->c.mem = m;
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

static void shard_apply(struct shard *s, const void *rec, uint64_t now)
{
	const struct ht_ev_hdr *h = rec;
	uint64_t hash = conn_hash(&h->conn);
	struct shard_conn *sc = conn_lookup(s, &h->conn, hash);

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
		conn_on_open(&sc->c, rec);
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
	account_mem(s, sc);
	if (s->mem > s->p->o.shard_memory_bytes)
		enforce_budget(s, now);
}

/* Idle expiry, close grace and reorder timeouts, oldest activity first. */
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
			account_mem(s, sc);
		}
		sc = next;
	}
	ht_stat_set(&s->st.c[HT_C_STREAMS_ACTIVE], s->n_conns);
	ht_stat_set(&s->st.c[HT_C_MEM_BYTES], s->mem);
}

static void shard_limits(struct shard *s)
{
	const struct ht_config *cfg;

	rcu_read_lock();
	cfg = rcu_dereference(ht_config_current);
	/* per direction: holds the reordering between CPU rings of a busy
	 * connection (~20 MB/s x reader lag) and a 64 KiB head; the shard
	 * budget bounds the sum */
	s->lim.reasm.max_bytes = 4u << 20;
	s->lim.reasm.max_segments = 256;
	s->lim.httpp.max_head_bytes = 65536;
	s->lim.httpp.max_value_bytes = cfg ? cfg->max_header_size : 1024;
	s->lim.corr.max_body_bytes = cfg ? cfg->max_body_size : 4096;
	s->lim.corr.max_pending = 1024;
	rcu_read_unlock();
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
	len = b->buf.len; /* once pushed, b belongs to the writer */
	n = b->n;
	/* count the bytes first: the writer subtracts them after the write */
	__atomic_add_fetch(&s->inflight_bytes, len, __ATOMIC_RELEASE);
	while (__atomic_load_n(&s->inflight_bytes, __ATOMIC_ACQUIRE) > WRITER_BUDGET + len ||
	       !spsc_ptr_push(&s->out, b)) {
		if (s->p->o.queue_wait_us >= 0) {
			uint64_t t = now_ns();

			if (!deadline) {
				deadline = t + (uint64_t)s->p->o.queue_wait_us * 1000;
			} else if (t >= deadline) {
				__atomic_sub_fetch(&s->inflight_bytes, len, __ATOMIC_RELEASE);
				HT_ADD(&s->st, HT_C_DROP_WRITER_QUEUE, n);
				ht_buf_free(&b->buf);
				free(b);
				return;
			}
		}
		relax(&spins);
	}
	HT_ADD(&s->st, HT_C_RECORDS_EMITTED, n);
	unpark(&s->p->writer_pk);
}

static void add_to_batch(struct shard *s, struct ht_record *r, uint64_t now)
{
	uint32_t cap = s->p->o.batch_size ? s->p->o.batch_size : 1;
	struct batch *b = s->cur;

	if (!b) {
		b = malloc(sizeof(*b) + cap * sizeof(b->done_ns[0]));
		if (!b) {
			HT_INC(&s->st, HT_C_DROP_WRITER_QUEUE);
			return;
		}
		memset(b, 0, sizeof(*b));
		b->first_ns = now;
		s->cur = b;
	}
	if (format_record(s->p->o.format, r, &b->buf)) {
		HT_INC(&s->st, HT_C_DROP_WRITER_QUEUE); /* out of memory */
		return;
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

	if (s->meta && r->pid && !r->container_id.len) {
		const char *id = meta_container_id(s->meta, r->pid, now_ns());

		if (*id)
			ht_record_set(r, &r->container_id, id, strlen(id));
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
	r->done_mono_ns = now_ns();
	add_to_batch(s, r, r->done_mono_ns);
	ht_record_free(r);
}

static uint32_t shard_poll(struct shard *s, uint64_t now)
{
	uint32_t got = 0;

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

static void *shard_main(void *arg)
{
	struct shard *s = arg;
	uint32_t spins = 0;
	uint64_t flush_ns = (uint64_t)s->p->o.flush_interval_ms * 1000000ull;
	int hb = metrics_thread_register("shard", s->idx);

	rcu_register_thread();
	for (;;) {
		uint64_t now = now_ns();
		int stopping = __atomic_load_n(&s->p->stopping, __ATOMIC_ACQUIRE);
		uint32_t got;

		rcu_read_lock();
		got = shard_poll(s, now);
		if (now >= s->next_sweep_ns) {
			shard_limits(s);
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
		if (++spins < 64)
			__builtin_ia32_pause();
		else
			park(&s->pk, SWEEP_INTERVAL_NS, shard_has_input, s);
	}
	rcu_read_lock();
	shard_sweep(s, now_ns(), true);
	rcu_read_unlock();
	push_batch(s);
	reclaim(s);
	metrics_thread_unregister(hb);
	rcu_unregister_thread();
	return NULL;
}

/* -------------------------------------------------------------- writer */

/* Write one batch with one write(2), then account and free it. */
static void write_batch(struct pipeline *p, struct shard *s, struct batch *b)
{
	uint64_t t;

	if (output_write_batch(p->o.out, b->buf.p, b->buf.len, b->n) == 0)
		p->written += b->n;
	t = now_ns();
	for (uint32_t i = 0; i < b->n; i++)
		ht_stats_observe_latency(&p->writer_st, t > b->done_ns[i] ? t - b->done_ns[i] : 0);
	__atomic_sub_fetch(&s->inflight_bytes, b->buf.len, __ATOMIC_RELEASE);
	ht_buf_free(&b->buf);
	free(b);
}

static bool writer_has_input(void *arg)
{
	struct pipeline *p = arg;

	for (int i = 0; i < p->o.n_shards; i++)
		if (spsc_ptr_used(&p->shards[i].out))
			return true;
	return __atomic_load_n(&p->shards_done, __ATOMIC_ACQUIRE);
}

static void *writer_main(void *arg)
{
	struct pipeline *p = arg;
	uint32_t spins = 0;
	int hb = metrics_thread_register("writer", 0);

	for (;;) {
		bool all_done = __atomic_load_n(&p->shards_done, __ATOMIC_ACQUIRE);
		uint32_t got = 0;

		for (int i = 0; i < p->o.n_shards; i++) {
			struct batch *b;

			while ((b = spsc_ptr_pop(&p->shards[i].out))) {
				write_batch(p, &p->shards[i], b);
				got++;
			}
		}
		metrics_thread_alive(hb);
		if (got) {
			spins = 0;
			continue;
		}
		if (all_done)
			break; /* shards finished before this pass: nothing more will come */
		if (++spins < 64)
			__builtin_ia32_pause();
		else
			park(&p->writer_pk, 100000000ull, writer_has_input, p); /* 100 ms: heartbeat */
	}
	metrics_thread_unregister(hb);
	return NULL;
}

/* ----------------------------------------------------------- lifecycle */

static void pin_to_cpu(pthread_t th, int cpu)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n <= 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu % n, &set);
	pthread_setaffinity_np(th, sizeof(set), &set);
}

static int shard_setup(struct pipeline *p, struct shard *s, int idx)
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

struct pipeline *pipeline_start(const struct pipeline_opts *o, char *err, size_t errlen)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	int i;

	if (!p)
		goto err_nomem;
	p->o = *o;
	if (p->o.n_readers < 1)
		p->o.n_readers = 1;
	if (p->o.n_shards < 1)
		p->o.n_shards = 1;
	if (p->o.n_shards > 64)
		p->o.n_shards = 64; /* the wake mask is 64 bits */
	if (!p->o.queue_bytes || (p->o.queue_bytes & (p->o.queue_bytes - 1)))
		p->o.queue_bytes = 4u << 20;
	p->shards = calloc((size_t)p->o.n_shards, sizeof(*p->shards));
	p->reader_st = aligned_alloc(64, sizeof(*p->reader_st) * (size_t)p->o.n_readers);
	p->losses = calloc((size_t)p->o.n_readers, sizeof(*p->losses));
	p->wake = calloc((size_t)p->o.n_readers, sizeof(*p->wake));
	if (!p->shards || !p->reader_st || !p->losses || !p->wake)
		goto err_nomem;
	memset(p->reader_st, 0, sizeof(*p->reader_st) * (size_t)p->o.n_readers);
	for (i = 0; i < p->o.n_readers; i++)
		ht_stats_register(&p->reader_st[i], "reader", i);
	ht_stats_register(&p->writer_st, "writer", 0);
	for (i = 0; i < p->o.n_shards; i++)
		if (shard_setup(p, &p->shards[i], i))
			goto err_nomem;
	for (i = 0; i < p->o.n_shards; i++) {
		if (pthread_create(&p->shards[i].th, NULL, shard_main, &p->shards[i])) {
			snprintf(err, errlen, "cannot start shard thread %d: %s", i, strerror(errno));
			return NULL; /* process exits on this error */
		}
		pthread_setname_np(p->shards[i].th, "ht-shard");
		if (p->o.pin_cpus)
			pin_to_cpu(p->shards[i].th, i);
	}
	if (pthread_create(&p->writer_th, NULL, writer_main, p)) {
		snprintf(err, errlen, "cannot start the writer thread: %s", strerror(errno));
		return NULL;
	}
	pthread_setname_np(p->writer_th, "ht-writer");
	return p;

err_nomem:
	snprintf(err, errlen, "out of memory setting up the pipeline");
	return NULL;
}

uint64_t pipeline_stop(struct pipeline *p)
{
	__atomic_store_n(&p->stopping, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < p->o.n_shards; i++) {
		unpark(&p->shards[i].pk);
		pthread_join(p->shards[i].th, NULL);
	}
	__atomic_store_n(&p->shards_done, 1, __ATOMIC_SEQ_CST);
	unpark(&p->writer_pk);
	pthread_join(p->writer_th, NULL);
	return p->written;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->o.n_shards; i++) {
		struct shard *s = &p->shards[i];

		for (int r = 0; s->in && r < p->o.n_readers; r++)
			spsc_bytes_free(&s->in[r]);
		free(s->in);
		spsc_ptr_free(&s->out);
		meta_cache_free(s->meta);
		if (s->table)
			cds_lfht_destroy(s->table, NULL);
	}
	/* stats blocks stay registered for the process lifetime: leak by design */
}

uint64_t pipeline_records_emitted(struct pipeline *p)
{
	uint64_t n = 0;

	for (int i = 0; i < p->o.n_shards; i++)
		n += ht_stat_get(&p->shards[i].st.c[HT_C_RECORDS_EMITTED]);
	return n;
}

uint64_t pipeline_events(struct pipeline *p)
{
	uint64_t n = 0;

	for (int r = 0; r < p->o.n_readers; r++)
		n += ht_stat_get(&p->reader_st[r].c[HT_C_EVENTS_RECEIVED]);
	return n;
}
