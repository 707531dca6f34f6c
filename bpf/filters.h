/* SPDX-License-Identifier: MIT */
/*
 * filters.h - the in-kernel filters, in the order they run:
 *   address family -> pid -> port deny-list   (once, when a connection is created)
 *   protocol inference -> health-check path   (once, on the connection's first bytes)
 * Each drop is counted per reason in `kstats` and cached in the connection,
 * so every later syscall on it costs one map lookup.
 */
#ifndef HT_BPF_FILTERS_H
#define HT_BPF_FILTERS_H

#include "maps.h"

/* Little-endian 8-byte word of up to 8 characters (missing ones are 0). */
#define HT_W(a, b, c, d, e, f, g, h)                                        \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 |   \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)

/* Result of protocol inference on a connection's first bytes. */
enum ht_infer {
	HT_INF_MORE = 0,     /* a prefix of an HTTP/1 start: need more bytes */
	HT_INF_NOT_HTTP,     /* cannot be HTTP/1 */
	HT_INF_REQUEST,      /* starts with a method and a space */
	HT_INF_RESPONSE,     /* starts with "HTTP/1." */
};

/* The generation of the filter sets to use for one decision (read once:
 * a reload may switch it at any time, include/ht_filter.h). */
static __always_inline __u32 ht_filter_gen(void)
{
	return filter_gen & 1;
}

/* Applies the family, pid and port filters to a new connection on sk and
 * fills c's family and ports; returns 0 to keep it or the enum ht_kstat
 * reason to drop it. */
static __always_inline __u8 ht_filter_new_conn(struct sock *sk, __u32 tgid,
					       struct ht_conn *c)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 type = BPF_CORE_READ(sk, sk_type);
	__u32 g = ht_filter_gen();
	struct ht_pid_key pk = { .gen = g, .tgid = tgid };
	struct ht_port_key lk = { .gen = (__u16)g }, rk = { .gen = (__u16)g };

	c->family = family;
	if ((family != HT_AF_INET && family != HT_AF_INET6) || type != HT_SOCK_STREAM)
		return HT_KS_FAMILY;
	if (tgid == self_tgid)
		return HT_KS_PID;
	if (filter_n[g].pids && !bpf_map_lookup_elem(&pid_allow, &pk))
		return HT_KS_PID;
	c->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	c->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	lk.port = c->lport;
	rk.port = c->rport;
	if (filter_n[g].ports && (bpf_map_lookup_elem(&deny_ports, &lk) ||
				  bpf_map_lookup_elem(&deny_ports, &rk)))
		return HT_KS_PORT;
	return 0;
}

/* Classifies the first len bytes of buf (readable for at least 8 bytes);
 * *start is set to the request-target's offset for requests. */
static __always_inline int ht_infer(const __u8 *buf, __u32 len, __u32 *start)
{
	static const __u64 words[] = {
		HT_W('G', 'E', 'T', ' ', 0, 0, 0, 0),
		HT_W('P', 'O', 'S', 'T', ' ', 0, 0, 0),
		HT_W('P', 'U', 'T', ' ', 0, 0, 0, 0),
		HT_W('H', 'E', 'A', 'D', ' ', 0, 0, 0),
		HT_W('D', 'E', 'L', 'E', 'T', 'E', ' ', 0),
		HT_W('P', 'A', 'T', 'C', 'H', ' ', 0, 0),
		HT_W('O', 'P', 'T', 'I', 'O', 'N', 'S', ' '),
		HT_W('C', 'O', 'N', 'N', 'E', 'C', 'T', ' '),
		HT_W('T', 'R', 'A', 'C', 'E', ' ', 0, 0),
		HT_W('H', 'T', 'T', 'P', '/', '1', '.', 0),
	};
	static const __u8 lens[] = { 4, 5, 4, 5, 7, 6, 8, 8, 6, 7 };
	__u64 word = 0, mask;
	bool more = false;
	__u32 i, n;

#pragma unroll
	for (i = 0; i < 8; i++)
		if (i < len)
			word |= (__u64)buf[i] << (8 * i);
#pragma unroll
	for (i = 0; i < sizeof(lens); i++) {
		n = len < lens[i] ? len : lens[i];
		mask = n >= 8 ? ~0ULL : (1ULL << (8 * n)) - 1;
		if ((word ^ words[i]) & mask)
			continue;
		if (len < lens[i]) {
			more = true;
			continue;
		}
		if (i == sizeof(lens) - 1)
			return HT_INF_RESPONSE;
		*start = lens[i];
		return HT_INF_REQUEST;
	}
	return more ? HT_INF_MORE : HT_INF_NOT_HTTP;
}

/* Health-check filter on a request whose target starts at buf[start]
 * (start <= 8, buf readable for HT_PREFIX_MAX bytes): returns 1 when the
 * path (target up to '?' or ' ') is in generation g of health_paths, 0 when
 * not, -1 when the path is not complete within len bytes. */
static __always_inline int ht_health_match(const __u8 *buf, __u32 len, __u32 start, __u32 g)
{
	struct ht_path_key key = { .gen = g };
	__u32 j, idx;
	__u8 ch;

	for (j = 0; j < HT_PATH_MAX; j++) {
		idx = start + j;
		if (idx >= len)
			return -1;
		ch = buf[idx & (HT_PREFIX_MAX - 1)];
		if (ch == ' ' || ch == '?')
			break;
		if (j == HT_PATH_MAX - 1)
			return 0; /* longer than any configured path */
		key.path[j] = ch;
	}
	return bpf_map_lookup_elem(&health_paths, &key) ? 1 : 0;
}

#endif /* HT_BPF_FILTERS_H */
