/*
 * dispatch.c - the readers' side of the pipeline: each kernel record is
 * validated once (source/event.h), hashed to its shard and copied into that
 * reader x shard SPSC ring; a record that cannot be queued in time becomes
 * a loss notice for its shard.
 */
#include <string.h>

#include "internal.h"
#include "source/event.h"

int pipeline_shard_of(const struct pipeline *p, const void *conn_id)
{
	return (int)(conn_hash(conn_id) % (uint64_t)p->o.n_shards);
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
			HT_INC(&p->reader_st[r], HT_C_LOSS_NOTICES);
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
	if (ht_event_check(rec, len)) {
		HT_INC(st, HT_C_DROP_MALFORMED_EVENT);
		return -1;
	}
	shard = (int)(conn_hash(&h->conn) % (uint64_t)p->o.n_shards);
	q = &p->shards[shard].in[r];
	while ((p->losses[r].n && !flush_losses(p, r, shard)) ||
	       !(slot = spsc_bytes_reserve(q, (uint32_t)len))) {
		if (p->o.queue_wait_us >= 0) {
			uint64_t t = ht_now_ns();

			if (!deadline)
				deadline = t + (uint64_t)p->o.queue_wait_us * 1000;
			else if (t >= deadline) {
				HT_INC(st, HT_C_DROP_QUEUE_FULL);
				if (h->type == HT_EV_DATA) {
					HT_ADD(st, HT_C_BYTES_DROPPED, ((const struct ht_data_ev *)rec)->len);
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

/* Send every loss notice reader r still owes, without waiting; a shard
 * whose ring is full gets its notices with the reader's next flush. */
static void flush_all_losses(struct pipeline *p, int r)
{
	const struct reader_losses *l = &p->losses[r];
	uint64_t owed = 0;

	for (uint32_t i = 0; i < l->n; i++)
		owed |= 1ull << l->shard[i];
	for (int s = 0; owed; s++, owed >>= 1) {
		if (!(owed & 1))
			continue;
		flush_losses(p, r, s);
		p->wake[r] |= 1ull << s;
	}
}

void pipeline_reader_flush(struct pipeline *p, int r)
{
	uint64_t w;

	if (p->losses[r].n)
		flush_all_losses(p, r);
	w = p->wake[r];
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


void dispatch_drain_losses(struct pipeline *p)
{
	for (int r = 0; r < p->o.n_readers; r++) {
		uint32_t spins = 0;

		while (p->losses[r].n) {
			pipeline_reader_flush(p, r);
			relax(&spins);
		}
	}
}
