/* SPDX-License-Identifier: MIT */
/*
 * ht_event.h - the kernel/user ABI of http-tracer.
 *
 * This is the one place where the records that bpf/ writes into the per-CPU
 * ring buffers (and that the record/replay file stores verbatim) are defined.
 * Only fixed-width types; every struct is a multiple of 8 bytes and its size
 * is asserted below, so that clang -target bpf and gcc agree on the layout.
 *
 * Every ring record starts with struct ht_ev_hdr.  Its `type` says which of
 * the structs below follows.  Data events carry their payload right after the
 * fixed part (ht_data_ev.data), cap_len bytes of it.
 */
#ifndef HT_EVENT_H
#define HT_EVENT_H

#ifdef __BPF__
/* vmlinux.h already defined __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define HT_COMM_LEN 16
/* Largest payload carried by one data record; a larger syscall is split. */
#ifndef HT_DATA_CHUNK
#define HT_DATA_CHUNK 16384
#endif

enum ht_ev_type {
	HT_EV_DATA = 1,  /* bytes moved by one syscall (or part of one) */
	HT_EV_OPEN = 2,  /* a connection became known: role and addresses */
	HT_EV_CLOSE = 3, /* the connection's fd was closed */
	HT_EV_LOSS = 4,  /* bytes in [start, start+len) of one direction are gone */
};

enum ht_dir {
	HT_DIR_EGRESS = 0,  /* written by the process (write, send*, sendfile) */
	HT_DIR_INGRESS = 1, /* read by the process (read, recv*) */
};

enum ht_role {
	HT_ROLE_UNKNOWN = 0,
	HT_ROLE_CLIENT = 1, /* the process called connect() */
	HT_ROLE_SERVER = 2, /* the process called accept()/accept4() */
};

/* ht_data_ev.flags */
#define HT_DF_SENDFILE    0x01 /* sendfile: length only, never payload */
#define HT_DF_LOSS_BEFORE 0x02 /* [loss_start, pos) of this direction was lost */
#define HT_DF_TRUNCATED   0x04 /* capture cap or iovec bound hit: [pos+cap_len, pos+len) not captured */
#define HT_DF_SPLIT       0x08 /* one of several records of the same syscall */
#define HT_DF_DISCARDED   0x10 /* a receive that discarded bytes unread (TCP MSG_TRUNC): length only */
#define HT_DF_MIDSTREAM   0x20 /* the connection is HT_OF_INFERRED: said on every
				* record, which may overtake the OPEN via another ring */
#define HT_DF_TLS         0x40 /* plaintext read inside a TLS library (conn.fd has HT_FD_TLS) */

/* ht_open_ev.flags */
#define HT_OF_INFERRED    0x01 /* no accept/connect seen (it predates the tracer,
				* the fd came by fork/dup/SCM_RIGHTS, or see
				* RESUMED): role inferred from the first data,
				* bytes may have come before */
#define HT_OF_RESUMED     0x02 /* with INFERRED: the socket was traced under this
				* (tgid, fd) and the kernel's connection table
				* (LRU) evicted it: bytes came before, under an
				* earlier generation */
#define HT_OF_TLS         0x04 /* the plaintext of a TLS connection (HT_FD_TLS) */

/* ht_conn_id.fd of the plaintext side of a TLS socket: the socket's fd with
 * this bit set (fds stay below fs.nr_open's ceiling of 2^30), so that it is
 * a connection of its own, apart from the encrypted bytes of the same fd. */
#define HT_FD_TLS 0x40000000

/* Identity of one connection: fd reuse changes gen. 16 bytes. */
struct ht_conn_id {
	__u32 tgid; /* process id (thread group) that owns the fd */
	__s32 fd;   /* file descriptor number in that process */
	__u64 gen;  /* generation: monotonic ns when the tracer first saw this fd open */
};

/* Common prefix of every ring record. 32 bytes. */
struct ht_ev_hdr {
	__u8 type;              /* enum ht_ev_type */
	__u8 flags;             /* HT_DF_* for data, HT_OF_* for open, 0 otherwise */
	__u8 dir;               /* enum ht_dir (data and loss events) */
	__u8 role;              /* enum ht_role as the kernel knows it */
	__u32 cpu;              /* CPU whose ring carried the record */
	__u64 ts_ns;            /* bpf_ktime_get_ns() at the syscall's exit */
	struct ht_conn_id conn; /* which connection */
};

/* HT_EV_DATA: 88 bytes + cap_len payload bytes. */
struct ht_data_ev {
	struct ht_ev_hdr hdr;
	__u64 pos;        /* stream position of this record's first byte in hdr.dir */
	__u64 loss_start; /* with HT_DF_LOSS_BEFORE: first lost position (< pos) */
	__u64 peer_pos;   /* the other direction's position when the syscall
			   * ran: bytes the process had read (for a write) or
			   * written (for a read) on this connection by then */
	__u32 len;        /* bytes of the stream this record covers (>= cap_len) */
	__u32 cap_len;    /* bytes of payload that follow the fixed part */
	__u32 sys_len;    /* the syscall's full return value (all records of it) */
	__u32 tid;        /* thread id */
	char comm[HT_COMM_LEN]; /* task comm of the thread */
	__u8 data[];      /* cap_len bytes of payload */
};

/* HT_EV_OPEN: addresses in network byte order; IPv4 in the first 4 bytes. */
struct ht_open_ev {
	struct ht_ev_hdr hdr;
	__u8 laddr[16];   /* local address */
	__u8 raddr[16];   /* remote address */
	__u16 lport;      /* local port, host byte order */
	__u16 rport;      /* remote port, host byte order */
	__u16 family;     /* AF_INET (2) or AF_INET6 (10) */
	__u16 pad0;       /* zero */
	__u32 tid;        /* thread that accepted/connected (or first used) it */
	__u32 pad1;       /* zero */
	char comm[HT_COMM_LEN]; /* task comm */
};

/* HT_EV_CLOSE: final positions so that close-delimited bodies end exactly. */
struct ht_close_ev {
	struct ht_ev_hdr hdr;
	__u64 pos[2];     /* bytes seen per direction, indexed by enum ht_dir */
};

/* HT_EV_LOSS: a range of one direction that will never arrive. */
struct ht_loss_ev {
	struct ht_ev_hdr hdr;
	__u64 start;      /* first lost stream position */
	__u64 len;        /* number of lost bytes */
};

#define HT_STATIC_ASSERT(c, m) _Static_assert(c, m)
HT_STATIC_ASSERT(sizeof(struct ht_conn_id) == 16, "ht_conn_id is 16 bytes");
HT_STATIC_ASSERT(sizeof(struct ht_ev_hdr) == 32, "ht_ev_hdr is 32 bytes");
HT_STATIC_ASSERT(sizeof(struct ht_data_ev) == 88, "ht_data_ev fixed part is 88 bytes");
HT_STATIC_ASSERT(sizeof(struct ht_open_ev) == 96, "ht_open_ev is 96 bytes");
HT_STATIC_ASSERT(sizeof(struct ht_close_ev) == 48, "ht_close_ev is 48 bytes");
HT_STATIC_ASSERT(sizeof(struct ht_loss_ev) == 48, "ht_loss_ev is 48 bytes");
HT_STATIC_ASSERT(__builtin_offsetof(struct ht_data_ev, data) % 8 == 0, "payload 8-aligned");

#endif /* HT_EVENT_H */
