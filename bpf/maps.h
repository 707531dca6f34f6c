/* SPDX-License-Identifier: MIT */
/*
 * maps.h - kernel-only limits, kernel-private structs and every BPF map of
 * http-tracer.  Limits shared with user space (map sizes, the health-path
 * key, the capture cap) are in include/ht_limits.h.
 *
 * Included once, by http_tracer.bpf.c, after vmlinux.h and the libbpf
 * headers (or by a plain-C unit test after tests/bpf/bpf_shim.h, which
 * stands in for both).  Each map has one comment saying what it holds.
 * Settings that never change after load are HT_RODATA, `const volatile`
 * (rodata, set by capture.c before load); settings that change on reload
 * live in .bss or in maps.
 */
#ifndef HT_BPF_MAPS_H
#define HT_BPF_MAPS_H

#include "ht_event.h"
#include "ht_kstats.h"
#include "ht_limits.h"
#include "ht_filter.h"

/* ---- limits (override with -D) */
#ifndef HT_MAX_CONNS
#define HT_MAX_CONNS 65536     /* tracked (tgid, fd) connections */
#endif
#ifndef HT_IOV_MAX
#define HT_IOV_MAX 64          /* iovec entries walked per message */
#endif
#ifndef HT_IOV_FAST
#define HT_IOV_FAST 4          /* iovec syscalls this short skip the bpf_loop walk */
#endif
#ifndef HT_MMSG_MAX
#define HT_MMSG_MAX 16         /* messages of send/recvmmsg captured */
#endif
#ifndef HT_MMSG_LEN_MAX
#define HT_MMSG_LEN_MAX 1024   /* messages whose lengths are summed (UIO_MAXIOV) */
#endif
#ifndef HT_CAP_STEPS
#define HT_CAP_STEPS 4096      /* bpf_loop steps of one capture (records + segments) */
#endif
#define HT_PREFIX_MAX 128      /* first bytes kept while the protocol is undecided */
#define HT_METHOD_MAX 8        /* longest method incl. the space ("OPTIONS ") */
_Static_assert(HT_METHOD_MAX + HT_PATH_MAX <= HT_PREFIX_MAX,
	       "a health path up to its end fits in the kept prefix");
#ifndef HT_RESYNC_MAX
#define HT_RESYNC_MAX 64       /* syscalls of a mid-stream connection skipped before
				* it is judged not HTTP */
#endif

#define HT_AF_INET 2
#define HT_AF_INET6 10
#define HT_SOCK_STREAM 1
#define HT_S_IFMT 00170000
#define HT_S_IFSOCK 0140000
#define HT_MSG_PEEK 2
#define HT_MSG_TRUNC 0x20
#define HT_EINPROGRESS 115
#define HT_TCP_CLOSE 7

/* ---- settings */
#ifndef HT_RODATA
#define HT_RODATA const volatile /* the shim of the unit tests makes it writable */
#endif
HT_RODATA __u32 self_tgid = 0;          /* the tracer: always excluded */
HT_RODATA __u32 capture_cap_bytes = HT_CAPTURE_CAP_DEFAULT; /* per-syscall capture cap */
HT_RODATA __u64 wakeup_bytes = 262144;  /* wake the reader above this backlog */
HT_RODATA __u32 tls_enabled = 0;        /* tls.enabled: OpenSSL uprobes loaded */
/* The kernel has the bpf_probe_read_user_dynptr kfunc (6.16+): capture.c
 * sets it from the kernel's BTF; syscalls.h then reads user bytes straight
 * into the ring record (ht_direct), else through the per-CPU scratch. */
HT_RODATA __u32 direct_read = 0;
/* Changed at run time by src/source/kfilter.c through the skeleton: the
 * generation of the filter sets in use and each generation's entry counts
 * (include/ht_filter.h).  Read filter_gen once per decision. */
volatile __u32 filter_gen = 0;
volatile struct ht_filter_n filter_n[2] = {};
/* Set by src/source/tls_attach.c after it attaches to a new library: the
 * bpf_ktime_get_ns() (CLOCK_MONOTONIC) of that attach.  A connection older
 * than it may have moved plaintext the uprobes did not see. */
volatile __u64 tls_attach_ns = 0;

/* ---- structs */

/* Cached filter decision of a connection. */
enum ht_decision {
	HT_DEC_UNDECIDED = 0, /* protocol not known yet: next data decides */
	HT_DEC_PASS = 1,      /* HTTP/1: capture */
	HT_DEC_DROP = 2,      /* dropped: ht_conn.reason says why (enum ht_kstat) */
};

/* ht_conn.flags (updated with atomic or/and: CPUs race on them) */
#define HT_CF_OPEN_SENT  0x01 /* HT_EV_OPEN is in a ring */
#define HT_CF_INFERRED   0x02 /* predates the tracer: role from first data */
#define HT_CF_LOSS_EG    0x04 /* loss_start[HT_DIR_EGRESS] is pending */
#define HT_CF_LOSS_IN    0x08 /* loss_start[HT_DIR_INGRESS] is pending */
#define HT_CF_PENDING    0x10 /* first bytes kept in `pending` */
#define HT_CF_RESUMED    0x20 /* with INFERRED: re-created after an eviction */
#define HT_CF_SK_OWNED   0x40 /* an sk_conns entry names it (passed the creation filters) */

struct ht_conn_key {
	__u32 tgid;
	__s32 fd;
};

struct ht_conn {
	__u64 gen;            /* ns at creation: identifies this use of the fd */
	__u64 pos[2];         /* stream bytes seen, per enum ht_dir (fetch-add) */
	__u64 loss_start[2];  /* first lost position, valid with HT_CF_LOSS_* */
	__u64 sk;             /* struct sock * (for addresses and sk_conns) */
	__u64 flags;          /* HT_CF_* (64-bit: BPF atomics without alu32) */
	__u16 lport, rport;   /* host byte order */
	__u16 family;         /* AF_INET or AF_INET6 */
	__u8 role;            /* enum ht_role */
	__u8 decision;        /* enum ht_decision */
	__u8 reason;          /* enum ht_kstat when decision is DROP */
	__u8 skipped;         /* INFERRED: syscalls skipped as not a message start */
	__u8 pad[6];
};

/* Kind of a data syscall (how its arguments describe the bytes moved). */
enum ht_sys {
	HT_SYS_FLAT = 1,  /* read, write, recvfrom, sendto: (buf, len) */
	HT_SYS_IOV,       /* readv, writev: (iov, iovcnt) */
	HT_SYS_MSG,       /* recvmsg, sendmsg: (msghdr) */
	HT_SYS_MMSG,      /* recvmmsg, sendmmsg: (mmsghdr vec, vlen) */
	HT_SYS_SENDFILE,  /* sendfile64: length only */
	HT_SYS_CONNECT,   /* connect: fd only */
	HT_SYS_DISCARD,   /* a receive that moved bytes without filling the
			   * buffer (TCP MSG_TRUNC): length only */
};

/* Or'ed into the sys argument of ht_exit_data by receives with MSG_TRUNC. */
#define HT_SYS_F_DISCARD 0x80

/* What connect(2)'s enter leaves for its exit (the data syscalls need
 * nothing: their exits read the arguments from the saved user registers),
 * and what an OpenSSL call's uprobe leaves for its uretprobe (bpf/tls.h):
 * the data syscall exits that run inside the call store its socket here. */
struct ht_args {
	__s32 fd;
	__u8 sys;        /* HT_SYS_CONNECT while connect is in flight; 0: none */
	__u8 tls_op;     /* enum ht_tls_op while an SSL call is in flight; 0: none */
	__u8 pad[2];
	__u64 tls_ssl;   /* the call's SSL * */
	__u64 tls_buf;   /* its plaintext buffer */
	__u64 tls_outp;  /* _ex calls: the size_t * that receives the count */
	__u64 tls_gen;   /* gen of the socket's connection, with tls_fd */
	__s32 tls_fd;    /* socket a syscall inside the call used; -1: none yet */
	__u32 pad2;
};

/* OpenSSL calls traced (ht_args.tls_op). */
enum ht_tls_op {
	HT_TLS_WRITE = 1, /* SSL_write(ssl, buf, num): returns bytes > 0 */
	HT_TLS_READ,      /* SSL_read(ssl, buf, num): returns bytes > 0 */
	HT_TLS_WRITE_EX,  /* SSL_write_ex(ssl, buf, num, *written): returns 1 */
	HT_TLS_READ_EX,   /* SSL_read_ex(ssl, buf, num, *readbytes): returns 1 */
};

/* ssl_fds key and value: the socket an SSL object used last. */
struct ht_ssl_key {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;       /* SSL * in that process */
};
struct ht_ssl_sock {
	__s32 fd;
	__u32 pad;
	__u64 gen;       /* ht_conn.gen of (tgid, fd) then: fd reuse check */
};

/* Per-CPU scratch: one data record under construction.  data is three
 * chunks so that copies at "offset & (CHUNK-1)" of "size & (2*CHUNK-1)"
 * bytes provably fit (the verifier sees the masks, not the logic). */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
struct ht_scratch {
	struct ht_open_ev open; /* HT_EV_OPEN under construction (off the stack) */
	struct ht_data_ev ev;   /* ev.data[] is data[] below */
	__u8 data[3 * HT_DATA_CHUNK];
};
#pragma clang diagnostic pop

/* First bytes of a connection whose protocol is still undecided. */
struct ht_pending {
	__u64 gen;        /* ht_conn.gen it belongs to (fd reuse check) */
	__u32 len;        /* bytes in buf */
	__u32 dir;        /* enum ht_dir of the bytes kept */
	__u8 buf[3 * HT_PREFIX_MAX]; /* slack for masked, bounded appends */
};

/* sk_conns value: which (tgid, fd, gen) a socket belongs to. */
struct ht_sk_owner {
	struct ht_conn_key key;
	__u64 gen;
};

/* ---- maps */

/* Inner map template of `rings`: one ring buffer per CPU, sized by user space. */
struct ht_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, HT_RING_CPU_MIN);
};

/* Per-CPU ring buffers, indexed by bpf_get_smp_processor_id(); filled by capture.c. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct ht_ring);
} rings SEC(".maps");

/* Tracked connections, (tgid, fd) -> state and cached filter decision; LRU
 * so it never fills.  An eviction has no callback: the next syscall on the
 * fd misses and re-creates the entry (HT_CF_RESUMED, HT_KS_CONNS_EVICTED).
 * max_entries can be lowered before load for tests (HT_TEST_MAX_CONNS). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HT_MAX_CONNS);
	__type(key, struct ht_conn_key);
	__type(value, struct ht_conn);
} conns SEC(".maps");

/* connect(2) arguments from enter to exit, in the thread's task-local
 * storage (no hashing, no element allocation or free per syscall): enter
 * sets ht_args.sys, the exit clears it.  Freed with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ht_args);
} args SEC(".maps");

/* Socket -> owning connection, so that a TCP close without close(2) (exit)
 * ends it; also the witness of conns evictions (ht_was_evicted), so not an
 * LRU itself: entries go at close and at the socket's TCP close, and a full
 * map only leaves new connections unwitnessed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HT_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct ht_sk_owner);
} sk_conns SEC(".maps");

/* SSL object -> the socket it last read or wrote through, for an SSL_read
 * answered from OpenSSL's buffer with no syscall inside (bpf/tls.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HT_MAX_CONNS);
	__type(key, struct ht_ssl_key);
	__type(value, struct ht_ssl_sock);
} ssl_fds SEC(".maps");

/* First bytes of connections whose protocol needs more data to decide. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ht_conn_key);
	__type(value, struct ht_pending);
} pending SEC(".maps");

/* Record under construction (header + payload), one slot per CPU indexed by
 * bpf_get_smp_processor_id() (a PERCPU_ARRAY value cannot exceed 32 KiB);
 * max_entries is set to the number of possible CPUs by capture.c. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ht_scratch);
} scratch SEC(".maps");

/* Per-CPU counters, slots named by enum ht_kstat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HT_KS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} kstats SEC(".maps");

/* Allowed tgids (config pids), two generations; consulted only when
 * filter_n[gen].pids. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * HT_PIDS_MAX);
	__type(key, struct ht_pid_key);
	__type(value, __u8);
} pid_allow SEC(".maps");

/* Denied ports, local or remote (config excludePorts), host byte order,
 * two generations. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * HT_PORTS_MAX);
	__type(key, struct ht_port_key);
	__type(value, __u8);
} deny_ports SEC(".maps");

/* Health-check paths (config healthCheckPaths), NUL-padded keys, two
 * generations. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * HT_HEALTH_PATHS_MAX);
	__type(key, struct ht_path_key);
	__type(value, __u8);
} health_paths SEC(".maps");

/* Forces `v &= mask` into the program: the verifier needs to see the bound
 * that the compiler would otherwise prove redundant and drop. */
#define HT_MASK(v, mask) asm volatile("%[x] &= %[m]" : [x] "+r"(v) : [m] "i"(mask))

/* The current thread's enter-to-exit slot (created when create). */
static __always_inline struct ht_args *ht_args_get(bool create)
{
	return bpf_task_storage_get(&args, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* The slot an enter program fills for its exit (created if need be); NULL
 * for the tracer's own threads, which are never traced, or when it cannot
 * be created. */
static __always_inline struct ht_args *ht_args_enter(void)
{
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return NULL;
	return ht_args_get(true);
}

/* This CPU's scratch record. */
static __always_inline struct ht_scratch *ht_scratch_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&scratch, &cpu);
}

/* Adds n to counter slot `slot` of this CPU.  Two programs never run nested
 * on one CPU (bpf_prog_active), so a plain add is enough. */
static __always_inline void ht_count(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&kstats, &slot);

	if (v)
		*v += n;
}

#endif /* HT_BPF_MAPS_H */
