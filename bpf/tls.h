/* SPDX-License-Identifier: MIT */
/*
 * tls.h - the plaintext of OpenSSL connections: uprobes on SSL_write,
 * SSL_write_ex, SSL_read and SSL_read_ex (attached by src/source/tls_attach.c).
 *
 * The entry remembers, in the thread's task storage (struct ht_args), the
 * call, its SSL *, its buffer and for the _ex calls the size_t * that gets
 * the count.  A data syscall exit that runs on the thread meanwhile stores
 * its socket there (ht_tls_note_sock, syscalls.h).  The return takes the
 * byte count and feeds the buffer to the same data path as a syscall
 * (ht_exit_data) on the connection (tgid, fd | HT_FD_TLS): its own
 * positions and decision, the socket's addresses and filters, records
 * flagged HT_DF_TLS.  The encrypted bytes stay on (tgid, fd), dropped there
 * as not HTTP.  A read answered from OpenSSL's buffer makes no syscall: the
 * socket the SSL object used last (ssl_fds) stands in, if its connection is
 * still the same generation; otherwise the call is counted in
 * HT_KS_TLS_NO_SOCKET and its bytes are not seen.
 */
#ifndef HT_BPF_TLS_H
#define HT_BPF_TLS_H

#include "maps.h"
#include "conntrack.h"
#include "syscalls.h"

/* Entry of an OpenSSL call op(ssl, buf, num[, outp]). */
static __always_inline int ht_tls_enter(__u8 op, __u64 ssl, __u64 buf, __u64 outp)
{
	struct ht_args *ap = ht_args_enter();

	if (!ap)
		return 0;
	ap->tls_op = op;
	ap->tls_ssl = ssl;
	ap->tls_buf = buf;
	ap->tls_outp = outp;
	ap->tls_fd = -1;
	ap->tls_gen = 0;
	return 0;
}

/* Bytes the call of op moved, from its return value rc. */
static __always_inline __u64 ht_tls_count(__u8 op, long rc, __u64 outp)
{
	__u64 n = 0;

	if (op == HT_TLS_WRITE || op == HT_TLS_READ)
		return (int)rc > 0 ? (__u64)(int)rc : 0;
	if ((int)rc != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)outp))
		return 0;
	return n;
}

/* The socket of the call: the one a syscall inside it used (remembered for
 * the SSL object), else the SSL object's last one while its connection
 * lives.  Returns the fd, or -1 (counted); *seen tells whether the SSL
 * object already used that socket (then the plaintext connection exists
 * unless the LRU evicted it). */
static __always_inline __s32 ht_tls_sock(__u32 tgid, const struct ht_args *ap, bool *seen)
{
	struct ht_ssl_key k = { .tgid = tgid, .ssl = ap->tls_ssl };
	struct ht_ssl_sock v = { .fd = ap->tls_fd, .gen = ap->tls_gen }, *vp;
	struct ht_conn_key ck = { .tgid = tgid };
	struct ht_conn *c;

	vp = bpf_map_lookup_elem(&ssl_fds, &k);
	*seen = false;
	if (v.fd >= 0) {
		if (!vp || vp->fd != v.fd || vp->gen != v.gen)
			bpf_map_update_elem(&ssl_fds, &k, &v, BPF_ANY);
		else
			*seen = true;
		return v.fd;
	}
	if (vp) {
		ck.fd = vp->fd;
		c = bpf_map_lookup_elem(&conns, &ck);
		if (c && c->gen == vp->gen) {
			*seen = true;
			return vp->fd;
		}
	}
	ht_count(HT_KS_TLS_NO_SOCKET, 1);
	return -1;
}

/* Return of the call the entry remembered, with return value rc. */
static __always_inline int ht_tls_exit(long rc)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ht_args *ap = ht_args_get(false);
	struct ht_conn_key key;
	bool seen, not_sock;
	__u64 n, buf;
	__s32 fd;
	__u8 op;

	if (!ap || !ap->tls_op)
		return 0;
	op = ap->tls_op;
	ap->tls_op = 0;
	n = ht_tls_count(op, rc, ap->tls_outp);
	if (!n)
		return 0; /* nothing moved: want-read/write, error, close_notify */
	ht_count(HT_KS_TLS_CALLS, 1);
	buf = ap->tls_buf;
	fd = ht_tls_sock((__u32)(id >> 32), ap, &seen);
	if (fd < 0)
		return 0;
	key.tgid = id >> 32;
	key.fd = fd | HT_FD_TLS;
	if (seen && !bpf_map_lookup_elem(&conns, &key) &&
	    ht_tls_conn_create(&key, HT_CF_INFERRED | HT_CF_RESUMED, &not_sock))
		ht_count(HT_KS_CONNS_EVICTED, 1); /* mid-stream: bytes came before */
	if (n > 0x7fffffff)
		n = 0x7fffffff;
	return ht_exit_data((long)n, fd | HT_FD_TLS, buf, 0, HT_SYS_FLAT,
			    op == HT_TLS_WRITE || op == HT_TLS_WRITE_EX ? HT_DIR_EGRESS :
									  HT_DIR_INGRESS);
}

#endif /* HT_BPF_TLS_H */
