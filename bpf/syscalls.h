/* SPDX-License-Identifier: MIT */
/*
 * syscalls.h - the data path shared by all syscall probes: enter stores the
 * arguments, exit turns the bytes moved into data records.
 *
 * Only the exit is traced: the syscall's arguments are still in the user
 * registers the kernel saved at entry (struct pt_regs of the task).  Look
 * the (tgid, fd) up in `conns`; on a miss create it if the fd is an inet
 * stream socket (cheap CO-RE walk); a cached drop costs one lookup.  Then
 * reserve the syscall's byte range
 * with one fetch-add on the connection's position (so concurrent writers get
 * disjoint ranges), copy up to capture_cap_bytes into records of at most
 * HT_DATA_CHUNK payload bytes, and report the rest as uncaptured length.
 * A syscall that fits one record on a connection already decided to pass
 * (nearly all of them) is read straight into a ring record reserved at its
 * exact size (ht_direct, kernels with bpf_probe_read_user_dynptr); the rest
 * is built in the per-CPU scratch and copied into the ring.
 */
#ifndef HT_BPF_SYSCALLS_H
#define HT_BPF_SYSCALLS_H

#include "maps.h"
#include "filters.h"
#include "conntrack.h"

/* State of one syscall's capture: a record is filled in the per-CPU scratch
 * from a sequence of user segments (a flat buffer, an iovec array, or the
 * iovec arrays of several messages) and flushed when full or at the end. */
struct ht_cap {
	struct ht_conn_key key;
	__u64 pos;       /* stream position of the record being filled */
	__u64 peer_pos;  /* the other direction's position at this syscall */
	__u64 seg_ptr;   /* user address of the segment's next byte */
	__u64 vec;       /* user iovec array of the current message */
	__u64 mvec;      /* user mmsghdr vector (mmsg only) */
	__u64 ts;        /* bpf_ktime_get_ns() at the exit, before any copy
			  * (rdtsc is ordered: it waits for pending loads) */
	__u32 total;     /* bytes moved by the syscall (all messages) */
	__u32 consumed;  /* bytes accounted for in flushed records */
	__u32 captured;  /* bytes copied so far */
	__u32 cap;       /* capture cap for this syscall */
	__u32 fill;      /* payload bytes in the record being filled */
	__u32 seg_left;  /* bytes left in the current segment */
	__u32 msg_left;  /* bytes left in the current message */
	__u32 iov_idx;
	__u32 iov_cnt;
	__u32 msg_idx;
	__u32 msg_cnt;
	__u32 nrec;      /* records flushed */
	__u8 dir;
	__u8 sys;        /* enum ht_sys */
	__u8 stop;       /* 1: dropped or conn gone, emit nothing more */
	__u8 drop;       /* enum ht_kstat reason when the first bytes dropped it */
	__u32 tid;       /* thread id of the syscall */
};

static const struct ht_pending ht_pending_zero;

#define HT_DECIDE_SKIP 0xff /* ht_decide: skip this syscall, decide later */

/* Appends buf[0..n) to the connection's kept prefix of direction dir
 * (creating it); returns it, or NULL when it cannot be stored or holds the
 * other direction's first bytes. */
static __always_inline struct ht_pending *ht_pending_add(const struct ht_conn_key *key,
							 struct ht_conn *c, __u32 dir,
							 const __u8 *buf, __u32 n)
{
	struct ht_pending *p = NULL;
	__u32 off;

	if (c->flags & HT_CF_PENDING)
		p = bpf_map_lookup_elem(&pending, key);
	if (!p || p->gen != c->gen) {
		if (bpf_map_update_elem(&pending, key, &ht_pending_zero, BPF_ANY))
			return NULL;
		p = bpf_map_lookup_elem(&pending, key);
		if (!p)
			return NULL;
		p->gen = c->gen;
		p->dir = dir;
		__sync_fetch_and_or(&c->flags, HT_CF_PENDING);
	}
	if (p->dir != dir)
		return NULL;
	off = p->len;
	if (off >= HT_PREFIX_MAX)
		return p;
	if (n > HT_PREFIX_MAX - off)
		n = HT_PREFIX_MAX - off;
	HT_MASK(off, HT_PREFIX_MAX - 1);
	HT_MASK(n, 2 * HT_PREFIX_MAX - 1);
	if (n && !bpf_probe_read_kernel(p->buf + off, n, buf))
		p->len = off + n;
	return p;
}

/* Decides an undecided connection from its first bytes (s->data[0..n)):
 * protocol inference, then the health path of the first request.  Bytes
 * are accumulated per connection while they are only a prefix of an
 * HTTP/1 start (one byte per send is legal); the other direction, if it
 * speaks meanwhile, is judged on its own bytes.  Returns 0 to send the data
 * (decided to pass, or still undecided), else the enum ht_kstat drop reason
 * (cached in c), or HT_DECIDE_SKIP: a connection found mid-stream
 * (HT_CF_INFERRED: it predates the tracer or was evicted) may be in the
 * middle of a message, so bytes that start none skip this syscall only,
 * up to HT_RESYNC_MAX syscalls.  A global function: verified once, not per
 * call site. */
__noinline int ht_decide(const struct ht_conn_key *key, struct ht_conn *c,
			 __u32 dir, struct ht_scratch *s, __u32 n)
{
	struct ht_pending *p = NULL;
	const __u8 *buf, *data;
	__u32 len, start = 0;
	bool other = false;
	__u8 reason = 0;
	__u32 g;
	int r, h;

	if (!key || !c || !s)
		return 0;
	dir &= 1;
	buf = s->data;
	data = buf;
	if (n > HT_DATA_CHUNK)
		n = HT_DATA_CHUNK;
	len = n;

	if (c->flags & HT_CF_PENDING) {
		p = ht_pending_add(key, c, dir, buf, n);
		if (p) {
			data = p->buf;
			len = p->len;
		} else {
			other = true;
		}
	}
	r = ht_infer(data, len, &start);
	if (r == HT_INF_MORE)
		goto undecided;
	if (r == HT_INF_NOT_HTTP) {
		reason = HT_KS_PROTOCOL;
		if ((c->flags & HT_CF_INFERRED) && c->skipped < HT_RESYNC_MAX) {
			c->skipped++;
			goto skip;
		}
		goto decided;
	}
	if (c->role == HT_ROLE_UNKNOWN) {
		/* an outgoing request or an incoming response: we are the client */
		if ((r == HT_INF_REQUEST) == (dir == HT_DIR_EGRESS))
			c->role = HT_ROLE_CLIENT;
		else
			c->role = HT_ROLE_SERVER;
	}
	g = ht_filter_gen();
	if (r == HT_INF_REQUEST && filter_n[g].paths) {
		h = ht_health_match(data, len, start, g);
		if (h < 0 && len < HT_PREFIX_MAX && !other)
			goto undecided;
		if (h > 0)
			reason = HT_KS_HEALTH;
	}
decided:
	if (reason) {
		c->reason = reason;
		c->decision = HT_DEC_DROP;
	} else {
		c->decision = HT_DEC_PASS;
	}
	if (c->flags & HT_CF_PENDING) {
		bpf_map_delete_elem(&pending, key);
		__sync_fetch_and_and(&c->flags, ~HT_CF_PENDING);
	}
	return reason;
undecided:
	/* Sent while undecided: a later drop only stops what follows.  Any
	 * prefix but "H" (HEAD or HTTP/1.) is a request: the role is known. */
	if (c->role == HT_ROLE_UNKNOWN && !other && len && data[0] != 'H')
		c->role = dir == HT_DIR_EGRESS ? HT_ROLE_CLIENT : HT_ROLE_SERVER;
	if (!p && !other)
		ht_pending_add(key, c, dir, buf, n);
	return 0;
skip:
	/* the next syscall is judged on its own bytes */
	if (c->flags & HT_CF_PENDING) {
		bpf_map_delete_elem(&pending, key);
		__sync_fetch_and_and(&c->flags, ~HT_CF_PENDING);
	}
	return HT_DECIDE_SKIP;
}

/* Loss bookkeeping of direction dir (races between CPUs on one connection
 * can at worst report a loss late or twice; positions still show the gap). */
static __always_inline void ht_loss_mark(struct ht_conn *c, __u8 dir, __u64 pos)
{
	__u64 bit = dir ? HT_CF_LOSS_IN : HT_CF_LOSS_EG;

	if (c->flags & bit)
		return;
	c->loss_start[dir & 1] = pos;
	__sync_fetch_and_or(&c->flags, bit);
}

/* Fills the data record ev of connection c: len stream bytes from st->pos,
 * of which fill captured and tail (the rest) not.  Takes a pending loss
 * report of the direction (HT_DF_LOSS_BEFORE). */
static __always_inline void ht_fill_data(struct ht_data_ev *ev, const struct ht_cap *st,
					 struct ht_conn *c, __u32 len, __u32 fill, __u32 tail)
{
	__u8 dir = st->dir & 1, flags = 0;
	__u64 bit = dir ? HT_CF_LOSS_IN : HT_CF_LOSS_EG;

	ht_fill_hdr(&ev->hdr, HT_EV_DATA, &st->key, c, st->ts);
	ev->hdr.dir = dir;
	if (st->sys == HT_SYS_SENDFILE)
		flags |= HT_DF_SENDFILE;
	else if (st->sys == HT_SYS_DISCARD)
		flags |= HT_DF_DISCARDED;
	else if (tail)
		flags |= HT_DF_TRUNCATED;
	if (st->nrec || st->consumed + len < st->total)
		flags |= HT_DF_SPLIT;
	if (c->flags & HT_CF_INFERRED)
		flags |= HT_DF_MIDSTREAM;
	if (st->key.fd & HT_FD_TLS)
		flags |= HT_DF_TLS;
	ev->loss_start = 0;
	if ((c->flags & bit) && (__sync_fetch_and_and(&c->flags, ~bit) & bit)) {
		flags |= HT_DF_LOSS_BEFORE;
		ev->loss_start = c->loss_start[dir];
	}
	ev->hdr.flags = flags;
	ev->pos = st->pos;
	ev->peer_pos = st->peer_pos;
	ev->len = len;
	ev->cap_len = fill;
	ev->sys_len = st->total;
	ev->tid = st->tid;
	ht_comm(ev->comm);
}

/* Flushes the record being filled, with `tail` further stream bytes that
 * were not captured, for connection c (NULL: looked up by st->key); returns
 * 0, or -1 when the capture must stop.  Global: verified once although
 * called from several places. */
__noinline int ht_flush_conn(struct ht_cap *st, struct ht_conn *c, __u32 tail)
{
	__u32 fill, len;
	struct ht_scratch *s;
	struct ht_data_ev *ev;
	__u8 dir, reason;

	if (!st)
		return -1;
	fill = st->fill;
	dir = st->dir & 1;
	s = ht_scratch_get();
	if (!c)
		c = bpf_map_lookup_elem(&conns, &st->key);
	if (!s || !c)
		goto stop;
	if (fill > HT_DATA_CHUNK)
		fill = HT_DATA_CHUNK;
	HT_MASK(fill, 2 * HT_DATA_CHUNK - 1);
	len = fill + tail;
	if (!len)
		return 0;
	if (st->nrec == 0 && c->decision == HT_DEC_UNDECIDED && st->sys != HT_SYS_SENDFILE &&
	    st->sys != HT_SYS_DISCARD) {
		reason = ht_decide(&st->key, c, dir, s, fill);
		if (reason == HT_DECIDE_SKIP) {
			/* not sent: the next record of dir reports the hole */
			st->drop = HT_KS_PROTOCOL;
			ht_loss_mark(c, dir, st->pos);
			goto stop;
		}
		if (reason) {
			st->drop = reason;
			ht_close_dropped(&st->key, c, dir, st->pos);
			goto stop;
		}
	}
	if (c->decision == HT_DEC_DROP) {
		st->drop = c->reason;
		goto stop;
	}
	if (!(c->flags & HT_CF_OPEN_SENT))
		ht_emit_open(&st->key, c, &s->open);

	ev = &s->ev;
	ht_fill_data(ev, st, c, len, fill, tail);
	if (ht_output(ev, sizeof(*ev) + fill) == 0) {
		ht_count(HT_KS_BYTES_SENT, fill);
		if (tail)
			ht_count(HT_KS_BYTES_UNCAPTURED, tail);
	} else {
		/* keep an earlier loss this record was to report */
		ht_loss_mark(c, dir, ev->hdr.flags & HT_DF_LOSS_BEFORE ? ev->loss_start : st->pos);
		ht_count(HT_KS_BYTES_LOST, len);
	}
	st->pos += len;
	st->consumed += len;
	st->fill = 0;
	st->nrec++;
	return 0;
stop:
	st->stop = 1;
	return -1;
}

static __always_inline int ht_flush(struct ht_cap *st, __u32 tail)
{
	return ht_flush_conn(st, NULL, tail);
}

/* Bytes of the syscall not yet in a flushed or filling record. */
static __always_inline __u32 ht_rest(const struct ht_cap *st)
{
	__u32 done = st->consumed + st->fill;

	return st->total > done ? st->total - done : 0;
}

/* Loads the next segment: the next iovec of the message, else the next
 * message (mmsg); returns 1 when the capture is over. */
static __always_inline long ht_next_seg(struct ht_cap *st)
{
	struct iovec iov;
	struct mmsghdr mh;

	if (st->msg_left == 0) {
		if (st->sys != HT_SYS_MMSG || st->msg_idx >= st->msg_cnt ||
		    st->msg_idx >= HT_MMSG_MAX)
			goto finish;
		if (bpf_probe_read_user(&mh, sizeof(mh),
					(void *)(st->mvec + st->msg_idx * sizeof(mh))))
			goto finish;
		st->msg_idx++;
		st->msg_left = mh.msg_len;
		if (st->msg_left > ht_rest(st))
			st->msg_left = ht_rest(st);
		st->vec = (__u64)mh.msg_hdr.msg_iov;
		st->iov_cnt = mh.msg_hdr.msg_iovlen > HT_IOV_MAX ? HT_IOV_MAX + 1 :
			      (__u32)mh.msg_hdr.msg_iovlen;
		st->iov_idx = 0;
		return 0;
	}
	if (st->iov_idx >= st->iov_cnt || st->iov_idx >= HT_IOV_MAX)
		goto uncaptured_msg;
	if (bpf_probe_read_user(&iov, sizeof(iov),
				(void *)(st->vec + st->iov_idx * sizeof(iov))))
		goto uncaptured_msg;
	st->iov_idx++;
	st->seg_ptr = (__u64)iov.iov_base;
	st->seg_left = iov.iov_len < st->msg_left ? iov.iov_len : st->msg_left;
	return 0;
uncaptured_msg:
	/* iovecs past the walk bound: the message's rest is length only */
	st->seg_left = 0;
	if (ht_flush(st, st->msg_left))
		return 1;
	st->msg_left = 0;
	return 0;
finish:
	ht_flush(st, ht_rest(st));
	return 1;
}

/* One bpf_loop step: load a segment, or copy a piece of it into the record. */
static long ht_cap_step(__u32 i, void *ctx)
{
	struct ht_cap *st = ctx;
	struct ht_scratch *s;
	__u32 n, off;

	if (st->stop)
		return 1;
	if (st->seg_left == 0)
		return ht_next_seg(st);
	if (st->captured >= st->cap) {
		ht_flush(st, ht_rest(st));
		return 1;
	}
	n = st->seg_left;
	if (n > HT_DATA_CHUNK - st->fill)
		n = HT_DATA_CHUNK - st->fill;
	if (n > st->cap - st->captured)
		n = st->cap - st->captured;
	s = ht_scratch_get();
	if (!s)
		return 1;
	off = st->fill;
	HT_MASK(off, HT_DATA_CHUNK - 1);
	HT_MASK(n, 2 * HT_DATA_CHUNK - 1);
	if (bpf_probe_read_user(s->data + off, n, (void *)st->seg_ptr)) {
		/* unreadable user page: these bytes end the record as length only */
		if (ht_flush(st, n))
			return 1;
	} else {
		st->fill += n;
		st->captured += n;
	}
	st->seg_ptr += n;
	st->seg_left -= n;
	st->msg_left -= n;
	if (st->fill >= HT_DATA_CHUNK && ht_flush(st, 0))
		return 1;
	return 0;
}

/* Sums msg_len of the first msg_cnt messages (bpf_loop callback). */
static long ht_mmsg_len_step(__u32 i, void *ctx)
{
	struct ht_cap *st = ctx;
	__u32 len = 0;

	if (i >= st->msg_cnt)
		return 1;
	if (bpf_probe_read_user(&len, sizeof(len),
				(void *)(st->mvec + i * sizeof(struct mmsghdr) +
					 offsetof(struct mmsghdr, msg_len))))
		return 1;
	st->total = st->total + len < st->total ? ~0U : st->total + len;
	return 0;
}

/* Reads the first cnt (1..HT_IOV_FAST) entries of a user iovec array in one
 * copy (constant sizes for the verifier); returns 0 or -1. */
static __always_inline int ht_iov_read(struct iovec *iov, __u32 cnt, __u64 vec)
{
	switch (cnt) {
	case 1:
		return bpf_probe_read_user(iov, 1 * sizeof(*iov), (void *)vec) ? -1 : 0;
	case 2:
		return bpf_probe_read_user(iov, 2 * sizeof(*iov), (void *)vec) ? -1 : 0;
	case 3:
		return bpf_probe_read_user(iov, 3 * sizeof(*iov), (void *)vec) ? -1 : 0;
	case 4:
		return bpf_probe_read_user(iov, 4 * sizeof(*iov), (void *)vec) ? -1 : 0;
	}
	return -1;
}

/* Fast path of a small iovec syscall (at most HT_IOV_FAST segments, one
 * record): no bpf_loop, one copy of the iovec array; a segment that cannot
 * be read ends the capture and the rest is reported as uncaptured length. */
static __always_inline void ht_iov_fast(struct ht_cap *st, struct ht_conn *c)
{
	struct ht_scratch *s = ht_scratch_get();
	__u32 off = 0, left = st->total, n, i;
	struct iovec iov[HT_IOV_FAST];

	if (!s)
		return;
	if (ht_iov_read(iov, st->iov_cnt, st->vec))
		goto flush;
#pragma unroll
	for (i = 0; i < HT_IOV_FAST; i++) {
		if (i >= st->iov_cnt || !left)
			break;
		n = iov[i].iov_len < left ? iov[i].iov_len : left;
		HT_MASK(off, HT_DATA_CHUNK - 1);
		HT_MASK(n, 2 * HT_DATA_CHUNK - 1);
		if (bpf_probe_read_user(s->data + off, n, iov[i].iov_base))
			break;
		off += n;
		left -= n;
	}
flush:
	st->fill = off;
	ht_flush_conn(st, c, st->total - off);
}

/* Reads size user bytes at unsafe_ptr into the dynptr at off (kernel 6.16+;
 * weak: resolved to nothing on older kernels, where direct_read stays 0 and
 * the verifier drops the calls as dead code). */
extern int bpf_probe_read_user_dynptr(struct bpf_dynptr *dptr, __u64 off, __u64 size,
				      const void *unsafe_ptr__ign) __ksym __weak;

/* The whole syscall of st (st->total bytes, at most HT_DATA_CHUNK and the
 * capture cap, on a connection decided to pass whose OPEN is out) as one
 * record reserved in this CPU's ring at its exact size, the nseg user
 * segments of seg read straight into it: no copy through the scratch.
 * Returns 0 when done (sent, or lost to a full ring: counted), -1 when a
 * user page could not be read: nothing was sent, the caller takes the
 * scratch path (which reports the unreadable bytes by length). */
static __always_inline int ht_direct(struct ht_cap *st, struct ht_conn *c,
				     const struct iovec *seg, __u32 nseg)
{
	__u32 size = sizeof(struct ht_data_ev) + st->total, off = 0, left = st->total, n, i;
	struct ht_data_ev *ev;
	struct bpf_dynptr dp;
	void *ring = ht_ring();

	if (!ring) {
		ht_count(HT_KS_RINGBUF_FULL, 1);
		goto lost;
	}
	if (bpf_ringbuf_reserve_dynptr(ring, size, 0, &dp)) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		ht_count(HT_KS_RINGBUF_FULL, 1);
		goto lost;
	}
#pragma unroll
	for (i = 0; i < HT_IOV_FAST; i++) {
		if (i >= nseg || !left)
			break;
		n = seg[i].iov_len < left ? seg[i].iov_len : left;
		if (bpf_probe_read_user_dynptr(&dp, sizeof(*ev) + off, n, seg[i].iov_base))
			goto unreadable;
		off += n;
		left -= n;
	}
	if (left)
		goto unreadable;
	ev = bpf_dynptr_data(&dp, 0, sizeof(*ev));
	if (!ev)
		goto unreadable;
	ht_fill_data(ev, st, c, st->total, st->total, 0);
	bpf_ringbuf_submit_dynptr(&dp, ht_wake_flags(ring, size));
	ht_count(HT_KS_EVENTS_SENT, 1);
	ht_count(HT_KS_BYTES_SENT, st->total);
	return 0;
unreadable:
	bpf_ringbuf_discard_dynptr(&dp, BPF_RB_NO_WAKEUP);
	return -1;
lost:
	ht_loss_mark(c, st->dir & 1, st->pos);
	ht_count(HT_KS_BYTES_LOST, st->total);
	return 0;
}

/* A data syscall on socket fd (of connection c) ran inside an OpenSSL
 * call of this thread: that call's socket (bpf/tls.h).  Only for
 * connections that are not HTTP in the clear, so plain HTTP never pays. */
static __always_inline void ht_tls_note_sock(__s32 fd, const struct ht_conn *c)
{
	struct ht_args *ap;

	if (!tls_enabled || (fd & HT_FD_TLS) || c->decision == HT_DEC_PASS)
		return;
	ap = ht_args_get(false);
	if (ap && ap->tls_op) {
		ap->tls_fd = fd;
		ap->tls_gen = c->gen;
	}
}

/* A data syscall of kind sys on fd that returned ret, with its arguments
 * (ptr, cnt) as the exit finds them in the thread's saved user registers
 * (or an OpenSSL call's plaintext: fd with HT_FD_TLS, sys HT_SYS_FLAT):
 * filter by the cached decision (or create the connection), then capture.
 * Returns 0.  No enter program: one program run and one conns lookup per
 * syscall, nothing stored between enter and exit. */
static __always_inline int ht_exit_data(long ret, __s32 fd, __u64 ptr, __u32 cnt,
					__u8 sys, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	bool discard = sys & HT_SYS_F_DISCARD;
	struct ht_cap st = {};
	struct ht_scratch *s;
	struct ht_conn *c;
	struct user_msghdr mh;
	bool not_sock;
	__u32 n;

	sys &= (__u8)~HT_SYS_F_DISCARD;
	st.key.tgid = id >> 32;
	st.key.fd = fd;
	if (st.key.tgid == self_tgid) {
		/* cheapest check first: the tracer's own output writes */
		ht_count(HT_KS_PID, 1);
		return 0;
	}
	c = bpf_map_lookup_elem(&conns, &st.key);
	if (!c) {
		if (fd & HT_FD_TLS)
			c = ht_tls_conn_create(&st.key, 0, &not_sock);
		else
			c = ht_conn_create(&st.key, HT_ROLE_UNKNOWN, HT_CF_INFERRED, &not_sock);
		if (!c) {
			if (not_sock)
				ht_count(HT_KS_NOT_SOCKET, 1);
			return 0;
		}
	}
	ht_tls_note_sock(fd, c);
	if (c->decision == HT_DEC_DROP) {
		ht_count(c->reason, 1);
		return 0;
	}
	if (ret <= 0) {
		ht_count(HT_KS_NO_DATA, 1);
		return 0;
	}
	st.tid = (__u32)id;
	st.ts = bpf_ktime_get_ns();
	st.dir = dir & 1;
	st.sys = sys;
	st.cap = capture_cap_bytes;
	/* never true: the config refuses a larger captureCap and capture.c
	 * sets no other; kept so the record count stays provably bounded */
	if (st.cap > HT_CAPTURE_CAP_MAX)
		st.cap = HT_CAPTURE_CAP_MAX;
	st.total = ret > 0x7fffffff ? 0x7fffffff : (__u32)ret;

	switch (sys) {
	case HT_SYS_FLAT:
		st.seg_ptr = ptr;
		st.seg_left = st.total;
		st.msg_left = st.total;
		break;
	case HT_SYS_IOV:
		st.vec = ptr;
		st.iov_cnt = cnt;
		st.msg_left = st.total;
		break;
	case HT_SYS_MSG:
		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)ptr))
			break; /* all uncaptured */
		st.vec = (__u64)mh.msg_iov;
		st.iov_cnt = mh.msg_iovlen > HT_IOV_MAX ? HT_IOV_MAX + 1 : (__u32)mh.msg_iovlen;
		st.msg_left = st.total;
		break;
	case HT_SYS_MMSG:
		/* ret is a message count: the byte total is the sum of msg_len */
		st.mvec = ptr;
		st.msg_cnt = (__u32)st.total;
		st.total = 0;
		bpf_loop(HT_MMSG_LEN_MAX, ht_mmsg_len_step, &st, 0);
		if (!st.total) {
			ht_count(HT_KS_NO_DATA, 1);
			return 0;
		}
		break;
	default: /* sendfile: length only */
		break;
	}
	if (discard)
		st.sys = sys = HT_SYS_DISCARD; /* the buffer holds nothing of it */
	st.pos = __sync_fetch_and_add(&c->pos[dir & 1], st.total);
	/* what the process had moved the other way when it made this call:
	 * anchors a response to the requests read before it (user space) */
	st.peer_pos = c->pos[(dir & 1) ^ 1];

	if (direct_read && c->decision == HT_DEC_PASS && (c->flags & HT_CF_OPEN_SENT) &&
	    st.total <= HT_DATA_CHUNK && st.total <= st.cap) {
		/* the common case: one record, straight into the ring */
		struct iovec seg[HT_IOV_FAST] = {};
		__u32 nseg = 0;

		if (sys == HT_SYS_FLAT) {
			seg[0].iov_base = (void *)ptr;
			seg[0].iov_len = st.total;
			nseg = 1;
		} else if ((sys == HT_SYS_IOV || sys == HT_SYS_MSG) && st.iov_cnt - 1 < HT_IOV_FAST &&
			   !ht_iov_read(seg, st.iov_cnt, st.vec)) {
			nseg = st.iov_cnt;
		}
		if (nseg && !ht_direct(&st, c, seg, nseg))
			goto done;
	}
	if (sys == HT_SYS_FLAT && st.total <= HT_DATA_CHUNK && st.total <= st.cap) {
		/* fast path: one record straight from the user buffer */
		s = ht_scratch_get();
		if (!s)
			return 0;
		n = st.total;
		HT_MASK(n, 2 * HT_DATA_CHUNK - 1);
		if (!bpf_probe_read_user(s->data, n, (void *)ptr))
			st.fill = n;
		ht_flush_conn(&st, c, st.total - st.fill);
	} else if ((sys == HT_SYS_IOV || sys == HT_SYS_MSG) && st.iov_cnt - 1 < HT_IOV_FAST &&
		   st.total <= HT_DATA_CHUNK && st.total <= st.cap) {
		ht_iov_fast(&st, c);
	} else if (sys == HT_SYS_SENDFILE || sys == HT_SYS_DISCARD) {
		ht_flush_conn(&st, c, st.total);
	} else {
		bpf_loop(HT_CAP_STEPS, ht_cap_step, &st, 0);
		if (!st.stop && ht_rest(&st))
			ht_flush(&st, ht_rest(&st)); /* step bound hit */
	}
done:
	ht_count(st.drop ? st.drop : HT_KS_PASSED, 1);
	return 0;
}

#endif /* HT_BPF_SYSCALLS_H */
