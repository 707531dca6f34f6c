// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * http_tracer.bpf.c - the programs only: one per hook, named after it.
 * Maps and limits are in maps.h, filters in filters.h, connection tracking
 * in conntrack.h, the shared enter/exit data path in syscalls.h and the
 * OpenSSL calls in tls.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "maps.h"
#include "filters.h"
#include "conntrack.h"
#include "syscalls.h"
#include "tls.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define ARG(i) (ctx->args[i])

/* ---- data syscalls: exit only, arguments from the saved user registers
 * (a syscall returns with them unchanged; compat syscalls never reach
 * syscall tracepoints) */

#if defined(__TARGET_ARCH_x86)
#define HT_REG0(r) ((r)->di)
#define HT_REG1(r) ((r)->si)
#define HT_REG2(r) ((r)->dx)
#define HT_REG3(r) ((r)->r10)
/* a user function's arguments and return value (uprobes) */
#define HT_UARG0(r) ((r)->di)
#define HT_UARG1(r) ((r)->si)
#define HT_UARG3(r) ((r)->cx)
#define HT_URET(r) ((r)->ax)
#elif defined(__TARGET_ARCH_arm64)
/*
 * The arm64 registers through local CO-RE types ("___ht" is a flavour
 * suffix: libbpf matches them to the running kernel's struct user_pt_regs,
 * which starts struct pt_regs, and struct pt_regs), as libbpf's own
 * bpf_tracing.h does: the offsets come from the kernel's BTF at load time,
 * and the object builds against any vmlinux.h, an x86 one included (make
 * check-arm64).  x0 holds the return value at exit: the first argument is
 * orig_x0.
 */
struct user_pt_regs___ht {
	__u64 regs[31];
} __attribute__((preserve_access_index));
struct pt_regs___ht {
	__u64 orig_x0;
} __attribute__((preserve_access_index));
#define HT_REG0(r) (((struct pt_regs___ht *)(r))->orig_x0)
#define HT_REG1(r) (((struct user_pt_regs___ht *)(r))->regs[1])
#define HT_REG2(r) (((struct user_pt_regs___ht *)(r))->regs[2])
#define HT_REG3(r) (((struct user_pt_regs___ht *)(r))->regs[3])
#define HT_UARG0(r) (((struct user_pt_regs___ht *)(r))->regs[0])
#define HT_UARG1(r) (((struct user_pt_regs___ht *)(r))->regs[1])
#define HT_UARG3(r) (((struct user_pt_regs___ht *)(r))->regs[3])
#define HT_URET(r) (((struct user_pt_regs___ht *)(r))->regs[0])
#else
#error "http-tracer: syscall argument registers of this architecture are not defined"
#endif
#define HT_REG(r, i) HT_REG##i(r)

/* The current thread's saved user registers (trusted BTF pointer). */
static __always_inline struct pt_regs *ht_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

#define HT_DATA_PROBES(name, fd_arg, ptr_arg, cnt_arg, sys, dir)           \
	SEC("tp/syscalls/sys_exit_" #name)                                  \
	int tp__sys_exit_##name(struct trace_event_raw_sys_exit *ctx)       \
	{                                                                   \
		struct pt_regs *r = ht_regs();                              \
                                                                            \
		return ht_exit_data(ctx->ret, (__s32)HT_REG(r, fd_arg),     \
				    HT_REG(r, ptr_arg),                     \
				    (__u32)HT_REG(r, cnt_arg), sys, dir);   \
	}

/* receives with a flags argument: MSG_PEEK does not consume the stream;
 * MSG_TRUNC on TCP consumes it but copies nothing (length only) */
#define HT_RECV_PROBES(name, ptr_arg, cnt_arg, flags_arg, sys)              \
	SEC("tp/syscalls/sys_exit_" #name)                                  \
	int tp__sys_exit_##name(struct trace_event_raw_sys_exit *ctx)       \
	{                                                                   \
		struct pt_regs *r = ht_regs();                              \
		__u64 fl = HT_REG(r, flags_arg);                            \
                                                                            \
		if (fl & HT_MSG_PEEK) {                                     \
			ht_count(HT_KS_PEEK, 1);                            \
			return 0;                                           \
		}                                                           \
		return ht_exit_data(ctx->ret, (__s32)HT_REG(r, 0),          \
				    HT_REG(r, ptr_arg),                     \
				    (__u32)HT_REG(r, cnt_arg),              \
				    sys | (fl & HT_MSG_TRUNC ? HT_SYS_F_DISCARD : 0), \
				    HT_DIR_INGRESS);                        \
	}

HT_DATA_PROBES(write, 0, 1, 2, HT_SYS_FLAT, HT_DIR_EGRESS)
HT_DATA_PROBES(read, 0, 1, 2, HT_SYS_FLAT, HT_DIR_INGRESS)
HT_DATA_PROBES(sendto, 0, 1, 2, HT_SYS_FLAT, HT_DIR_EGRESS)
HT_DATA_PROBES(writev, 0, 1, 2, HT_SYS_IOV, HT_DIR_EGRESS)
HT_DATA_PROBES(readv, 0, 1, 2, HT_SYS_IOV, HT_DIR_INGRESS)
HT_DATA_PROBES(sendmsg, 0, 1, 2, HT_SYS_MSG, HT_DIR_EGRESS)
HT_DATA_PROBES(sendmmsg, 0, 1, 2, HT_SYS_MMSG, HT_DIR_EGRESS)
/* sendfile64(out_fd, in_fd, offset, count): length only */
HT_DATA_PROBES(sendfile64, 0, 2, 3, HT_SYS_SENDFILE, HT_DIR_EGRESS)
HT_RECV_PROBES(recvfrom, 1, 2, 3, HT_SYS_FLAT)
HT_RECV_PROBES(recvmsg, 1, 2, 2, HT_SYS_MSG)
HT_RECV_PROBES(recvmmsg, 1, 2, 3, HT_SYS_MMSG)

/* ---- connection lifecycle */

SEC("tp/syscalls/sys_enter_connect")
int tp__sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	struct ht_args *ap = ht_args_enter();

	if (!ap)
		return 0;
	ap->fd = (__s32)ARG(0);
	ap->sys = HT_SYS_CONNECT;
	return 0;
}

SEC("tp/syscalls/sys_exit_connect")
int tp__sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ht_conn_key key = { .tgid = id >> 32 };
	struct ht_args *ap;
	bool not_sock;

	ap = ht_args_get(false);
	if (!ap || ap->sys != HT_SYS_CONNECT) {
		if (ap)
			ap->sys = 0;
		return 0; /* missed entry */
	}
	key.fd = ap->fd;
	ap->sys = 0;
	if (ctx->ret != 0 && ctx->ret != -HT_EINPROGRESS)
		return 0;
	ht_conn_create(&key, HT_ROLE_CLIENT, 0, &not_sock);
	return 0;
}

/* accept/accept4: the new fd is the return value, nothing to keep from enter */
static __always_inline int ht_accepted(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ht_conn_key key = { .tgid = id >> 32, .fd = (__s32)ret };
	bool not_sock;

	if (ret < 0 || key.tgid == self_tgid)
		return 0;
	ht_conn_create(&key, HT_ROLE_SERVER, 0, &not_sock);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int tp__sys_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return ht_accepted(ctx->ret);
}

SEC("tp/syscalls/sys_exit_accept4")
int tp__sys_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return ht_accepted(ctx->ret);
}

/* close(2): ended at enter, before the fd number can be reused by another
 * thread's accept/connect (which would create the next generation). */
SEC("tp/syscalls/sys_enter_close")
int tp__sys_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ht_conn_key key = { .tgid = id >> 32, .fd = (__s32)ARG(0) };
	struct ht_conn *c;

	c = bpf_map_lookup_elem(&conns, &key);
	if (c)
		ht_conn_end(&key, c);
	ht_tls_conn_end(key.tgid, key.fd, 0);
	return 0;
}

/* A TCP socket reached CLOSE without close(2) on its fd: the process exited
 * (or the fd was closed by dup2/exec); end the connection it belonged to.
 * A socket that still has its file (RST, or TIME_WAIT after shutdown while
 * the process still reads what is buffered) is left to close(2). */
SEC("tp/sock/inet_sock_set_state")
int tp__inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct ht_sk_owner owner, *op;
	__u64 sk = (__u64)ctx->skaddr;
	struct ht_conn *c;

	if (ctx->newstate != HT_TCP_CLOSE || ctx->protocol != IPPROTO_TCP)
		return 0;
	op = bpf_map_lookup_elem(&sk_conns, &sk);
	if (!op)
		return 0;
	if (BPF_CORE_READ((struct sock *)sk, sk_socket))
		return 0;
	owner = *op;
	bpf_map_delete_elem(&sk_conns, &sk);
	c = bpf_map_lookup_elem(&conns, &owner.key);
	if (c && c->gen == owner.gen && c->sk == sk) {
		ht_conn_end(&owner.key, c);
		ht_tls_conn_end(owner.key.tgid, owner.key.fd, sk);
	}
	return 0;
}

/* ---- OpenSSL (bpf/tls.h): attached per library file by
 * src/source/tls_attach.c, never by capture.c's tracepoint loop; one return
 * program for the four */

SEC("uprobe")
int up__ssl_write(struct pt_regs *ctx)
{
	return ht_tls_enter(HT_TLS_WRITE, HT_UARG0(ctx), HT_UARG1(ctx), 0);
}

SEC("uprobe")
int up__ssl_read(struct pt_regs *ctx)
{
	return ht_tls_enter(HT_TLS_READ, HT_UARG0(ctx), HT_UARG1(ctx), 0);
}

SEC("uprobe")
int up__ssl_write_ex(struct pt_regs *ctx)
{
	return ht_tls_enter(HT_TLS_WRITE_EX, HT_UARG0(ctx), HT_UARG1(ctx), HT_UARG3(ctx));
}

SEC("uprobe")
int up__ssl_read_ex(struct pt_regs *ctx)
{
	return ht_tls_enter(HT_TLS_READ_EX, HT_UARG0(ctx), HT_UARG1(ctx), HT_UARG3(ctx));
}

SEC("uretprobe")
int urp__ssl_ret(struct pt_regs *ctx)
{
	return ht_tls_exit((long)HT_URET(ctx));
}
