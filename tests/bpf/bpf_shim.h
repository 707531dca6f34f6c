/*
 * bpf_shim.h - what bpf/maps.h and bpf/filters.h take from vmlinux.h and
 * the libbpf headers, for compiling their pure helpers as plain C in a unit
 * test.  Include it before any bpf/ header.
 *
 * Maps become ordinary (unused) globals of the same anonymous struct types;
 * the helpers they call (bpf_map_lookup_elem, ...) are only declared here
 * and defined by the test, which fakes the maps it needs.  CO-RE reads are
 * plain member accesses on a minimal struct sock.  HT_RODATA drops `const`
 * so that a test can set self_tgid.  Only what the headers use is here: a
 * new use of a BPF builtin in them fails to compile the test, on purpose.
 */
#ifndef HT_BPF_SHIM_H
#define HT_BPF_SHIM_H

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __BPF__
#error "bpf_shim.h is for plain C builds of bpf/ headers"
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define SEC(name)
/* libbpf's map definition macros (bpf_helpers.h): types carry the values */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name
#define __array(name, val) __typeof__(val) *name[]
#define HT_RODATA volatile

/* struct sock as far as the filters read it (BPF_CORE_READ below) */
struct sock {
	struct {
		__u16 skc_family;
		__u16 skc_num;     /* local port, host order */
		__be16 skc_dport;  /* remote port, network order */
	} __sk_common;
	__u16 sk_type;
};
#define BPF_CORE_READ(src, field) ((src)->field)
#define bpf_ntohs(x) ntohs(x)

/* helpers, defined by the test */
void *bpf_map_lookup_elem(void *map, const void *key);
void *bpf_task_storage_get(void *map, void *task, void *value, __u64 flags);
void *bpf_get_current_task_btf(void);
__u32 bpf_get_smp_processor_id(void);
__u64 bpf_get_current_pid_tgid(void); /* declared only: no test reaches a caller */

#endif /* HT_BPF_SHIM_H */
