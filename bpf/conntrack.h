/* SPDX-License-Identifier: MIT */
/*
 * conntrack.h - from a file descriptor to its socket, connection creation,
 * ring output, and the HT_EV_OPEN / HT_EV_CLOSE records.
 *
 * A connection is (tgid, fd) in `conns`, created by connect/accept exits or,
 * for connections that predate the tracer, by the first data syscall on the
 * fd.  Its generation is the creation time; close(2) (or the socket's TCP
 * close, for processes that exit without close) ends it.
 */
#ifndef HT_BPF_CONNTRACK_H
#define HT_BPF_CONNTRACK_H

#include "maps.h"
#include "filters.h"

/* Returns the socket behind fd of the current task, NULL when fd is not a
 * socket (file, pipe, closed).  task->files->fdt is walked with BTF loads
 * (no helper calls: this runs for every file and pipe I/O too), the rest
 * with CO-RE reads. */
static __always_inline struct sock *ht_fd_sock(__s32 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt;
	struct file *file = NULL;
	struct socket *sock;
	umode_t mode;

	if (fd < 0)
		return NULL;
	fdt = task->files->fdt;
	if ((unsigned int)fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), fdt->fd + fd) || !file)
		return NULL;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & HT_S_IFMT) != HT_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

/* Copies the current thread's comm into dst (16 bytes, 8-aligned): two
 * loads from task->comm instead of the bpf_get_current_comm() call. */
static __always_inline void ht_comm(char *dst)
{
	struct task_struct *task = bpf_get_current_task_btf();

	((__u64 *)dst)[0] = *(const __u64 *)&task->comm[0];
	((__u64 *)dst)[1] = *(const __u64 *)&task->comm[8];
}

/* This CPU's ring buffer (NULL only if capture.c did not fill its slot). */
static __always_inline void *ht_ring(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&rings, &cpu);
}

/* Submit flags of a record of size bytes on ring.  Batch wakeups: the
 * reader polls with a short timeout anyway, so wake it only when this
 * record takes the backlog over wakeup_bytes.  Not on every record above
 * it: each wakeup is an irq_work self-IPI (a VM exit under KVM), paid by
 * every syscall while the reader lags. */
static __always_inline __u64 ht_wake_flags(void *ring, __u32 size)
{
	__u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);

	if (avail < wakeup_bytes && avail + size + 8 >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Outputs one ring record on this CPU's ring; returns 0 or -1 (counted). */
static __always_inline int ht_output(void *rec, __u32 size)
{
	void *ring = ht_ring();

	if (!ring)
		goto lost;
	if (bpf_ringbuf_output(ring, rec, size, ht_wake_flags(ring, size)))
		goto lost;
	ht_count(HT_KS_EVENTS_SENT, 1);
	return 0;
lost:
	ht_count(HT_KS_RINGBUF_FULL, 1);
	return -1;
}

/* Fills a record header stamped ts_ns (bpf_ktime_get_ns()). */
static __always_inline void ht_fill_hdr(struct ht_ev_hdr *h, __u8 type,
					const struct ht_conn_key *key,
					const struct ht_conn *c, __u64 ts_ns)
{
	h->type = type;
	h->role = c->role;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = ts_ns;
	h->conn.tgid = key->tgid;
	h->conn.fd = key->fd;
	h->conn.gen = c->gen;
}

/* Reads family, ports and (when addrs) addresses of sk into ev. */
static __always_inline void ht_sock_addrs(struct sock *sk, struct ht_open_ev *ev)
{
	ev->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	ev->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (ev->family == HT_AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)ev->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)ev->raddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)ev->laddr, sk,
				   __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)ev->raddr, sk,
				   __sk_common.skc_v6_daddr);
	}
}

/* Emits HT_EV_OPEN once per connection (the first CPU to claim the flag
 * wins; on a failed output the claim is released so a later event retries). */
static __always_inline void ht_emit_open(const struct ht_conn_key *key, struct ht_conn *c,
					struct ht_open_ev *ev)
{
	if (__sync_fetch_and_or(&c->flags, HT_CF_OPEN_SENT) & HT_CF_OPEN_SENT)
		return;
	__builtin_memset(ev, 0, sizeof(*ev));
	ht_fill_hdr(&ev->hdr, HT_EV_OPEN, key, c, bpf_ktime_get_ns());
	if (c->flags & HT_CF_INFERRED)
		ev->hdr.flags = HT_OF_INFERRED;
	if (c->flags & HT_CF_RESUMED)
		ev->hdr.flags |= HT_OF_RESUMED;
	if (key->fd & HT_FD_TLS)
		ev->hdr.flags |= HT_OF_TLS;
	ht_sock_addrs((struct sock *)c->sk, ev);
	ev->tid = (__u32)bpf_get_current_pid_tgid();
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	if (ht_output(ev, sizeof(*ev))) {
		__sync_fetch_and_and(&c->flags, ~HT_CF_OPEN_SENT);
		return;
	}
	ht_count(HT_KS_CONNS_OPENED, 1);
}

/* Emits HT_EV_LOSS for a loss of direction dir that no later data record
 * reported (the connection is ending). */
static __always_inline void ht_emit_loss(const struct ht_conn_key *key, struct ht_conn *c,
					 __u8 dir)
{
	struct ht_loss_ev ev = {};

	ht_fill_hdr(&ev.hdr, HT_EV_LOSS, key, c, bpf_ktime_get_ns());
	ev.hdr.dir = dir;
	ev.start = c->loss_start[dir & 1];
	ev.len = c->pos[dir & 1] - ev.start;
	ht_output(&ev, sizeof(ev));
}

/* Emits HT_EV_CLOSE with positions pos_eg/pos_in and counts it. */
static __always_inline void ht_emit_close(const struct ht_conn_key *key, struct ht_conn *c,
					  __u64 pos_eg, __u64 pos_in)
{
	struct ht_close_ev ev = {};

	ht_fill_hdr(&ev.hdr, HT_EV_CLOSE, key, c, bpf_ktime_get_ns());
	ev.pos[HT_DIR_EGRESS] = pos_eg;
	ev.pos[HT_DIR_INGRESS] = pos_in;
	if (!ht_output(&ev, sizeof(ev)))
		ht_count(HT_KS_CONNS_CLOSED, 1);
}

/* A connection whose data user space already has was dropped by a later
 * filter (a health path completed by its third send, say): close it for
 * user space at pos, the first byte of direction dir it will not get. */
static __always_inline void ht_close_dropped(const struct ht_conn_key *key, struct ht_conn *c,
					     __u8 dir, __u64 pos)
{
	if (!(__sync_fetch_and_and(&c->flags, ~HT_CF_OPEN_SENT) & HT_CF_OPEN_SENT))
		return;
	if (dir == HT_DIR_EGRESS)
		ht_emit_close(key, c, pos, c->pos[HT_DIR_INGRESS]);
	else
		ht_emit_close(key, c, c->pos[HT_DIR_EGRESS], pos);
}

/* Ends a connection: pending losses and HT_EV_CLOSE with the final
 * positions if user space knows it, then deletes it and its socket and
 * prefix entries. */
static __always_inline void ht_conn_end(const struct ht_conn_key *key, struct ht_conn *c)
{
	__u64 sk = c->sk;
	__u64 flags = c->flags;

	if (flags & HT_CF_OPEN_SENT) {
		if (flags & HT_CF_LOSS_EG)
			ht_emit_loss(key, c, HT_DIR_EGRESS);
		if (flags & HT_CF_LOSS_IN)
			ht_emit_loss(key, c, HT_DIR_INGRESS);
		ht_emit_close(key, c, c->pos[HT_DIR_EGRESS], c->pos[HT_DIR_INGRESS]);
	}
	if (flags & HT_CF_SK_OWNED) /* also when a later filter dropped it */
		bpf_map_delete_elem(&sk_conns, &sk);
	if (flags & HT_CF_PENDING)
		bpf_map_delete_elem(&pending, key);
	bpf_map_delete_elem(&conns, key);
}

/* True when sk was traced under key and its conns entry is gone: the LRU
 * evicted it (close and the socket's TCP close delete both entries, and
 * sk_conns is no LRU).  Then the bytes of this syscall are not its first. */
static __always_inline bool ht_was_evicted(const struct ht_conn_key *key, struct sock *sk)
{
	__u64 skp = (__u64)sk;
	struct ht_sk_owner *op = bpf_map_lookup_elem(&sk_conns, &skp);

	return op && op->key.tgid == key->tgid && op->key.fd == key->fd;
}

/* Creates (or replaces: a new generation) the connection of key, applying
 * the family, pid and port filters; returns it, or NULL when fd is not a
 * socket (*not_sock set) or the map update failed.  An inferred creation
 * (a data syscall missed) of a connection that was traced is a resumption
 * after an eviction: flagged and counted.  A TLS plaintext key (fd with
 * HT_FD_TLS) is checked on the socket of its fd, and leaves sk_conns to the
 * encrypted connection of the same fd. */
static __always_inline struct ht_conn *ht_conn_create(const struct ht_conn_key *key,
						      __u8 role, __u32 flags,
						      bool *not_sock)
{
	struct ht_conn c = {};
	struct ht_sk_owner owner = {};
	struct sock *sk;
	__u8 reason;

	*not_sock = false;
	sk = ht_fd_sock(key->fd & ~HT_FD_TLS);
	if (!sk) {
		*not_sock = true;
		return NULL;
	}
	if ((flags & HT_CF_INFERRED) && ht_was_evicted(key, sk)) {
		flags |= HT_CF_RESUMED;
		ht_count(HT_KS_CONNS_EVICTED, 1);
	}
	c.gen = bpf_ktime_get_ns();
	c.sk = (__u64)sk;
	c.role = role;
	c.flags = flags;
	reason = ht_filter_new_conn(sk, key->tgid, &c);
	if (reason) {
		c.decision = HT_DEC_DROP;
		c.reason = reason;
	} else if (!(key->fd & HT_FD_TLS)) {
		c.flags |= HT_CF_SK_OWNED; /* the encrypted side owns the socket */
	}
	if (bpf_map_update_elem(&conns, key, &c, BPF_ANY))
		return NULL;
	if (c.flags & HT_CF_SK_OWNED) {
		owner.key = *key;
		owner.gen = c.gen;
		bpf_map_update_elem(&sk_conns, &c.sk, &owner, BPF_ANY);
	}
	return bpf_map_lookup_elem(&conns, key);
}

/* Creates the plaintext connection of TLS key (fd with HT_FD_TLS): the role
 * the encrypted connection of the same socket knows (accept, connect), and
 * found mid-stream when that one was (or is unknown), or when it is older
 * than the last library attach (its first plaintext may have gone by
 * unseen), or when flags says so (HT_CF_INFERRED | HT_CF_RESUMED: its SSL
 * object moved bytes on this socket before, the LRU evicted it). */
static __always_inline struct ht_conn *ht_tls_conn_create(const struct ht_conn_key *key,
							  __u32 flags, bool *not_sock)
{
	struct ht_conn_key enc = { .tgid = key->tgid, .fd = key->fd & ~HT_FD_TLS };
	struct ht_conn *e = bpf_map_lookup_elem(&conns, &enc);
	__u8 role = HT_ROLE_UNKNOWN;

	if (e) {
		role = e->role;
		flags |= e->flags & HT_CF_INFERRED;
		if (e->gen < tls_attach_ns)
			flags |= HT_CF_INFERRED;
	} else {
		flags |= HT_CF_INFERRED;
	}
	return ht_conn_create(key, role, flags, not_sock);
}

/* Ends the TLS plaintext connection of socket fd, if there is one (and
 * it is on socket sk, when sk is not 0). */
static __always_inline void ht_tls_conn_end(__u32 tgid, __s32 fd, __u64 sk)
{
	struct ht_conn_key key = { .tgid = tgid, .fd = fd | HT_FD_TLS };
	struct ht_conn *c;

	if (!tls_enabled || fd < 0)
		return;
	c = bpf_map_lookup_elem(&conns, &key);
	if (c && (!sk || c->sk == sk))
		ht_conn_end(&key, c);
}

#endif /* HT_BPF_CONNTRACK_H */
