/* SPDX-License-Identifier: MIT */
/*
 * ht_filter.h - keys of the kernel filter maps (pid_allow, deny_ports,
 * health_paths) and their two generations; shared by bpf/ and
 * src/source/kfilter.c.
 *
 * Each map holds two filter sets side by side, told apart by the key's
 * `gen` (0 or 1).  The programs read `filter_gen` (.bss) once per decision
 * and use only keys of that generation, with filter_n[gen] saying how many
 * entries each of its sets has (0: that filter is off).  A reload writes
 * the new config's sets under the other generation, which no program
 * reads, and then switches filter_gen with one store: the kernel goes from
 * the old filters to the new ones at once, and a failure before the switch
 * leaves the old ones as they were.  So each map holds twice its
 * include/ht_limits.h limit.
 */
#ifndef HT_FILTER_H
#define HT_FILTER_H

#ifndef __BPF__
#include <linux/types.h>
#endif
#include "ht_limits.h"

/* pid_allow key: a tgid allowed in generation gen. */
struct ht_pid_key {
	__u32 gen;
	__u32 tgid;
};

/* deny_ports key: a port (host byte order) denied in generation gen. */
struct ht_port_key {
	__u16 gen;
	__u16 port;
};

/* health_paths key: a health-check path of generation gen, NUL padded. */
struct ht_path_key {
	__u32 gen;
	char path[HT_PATH_MAX];
};

/* Entries of one generation's sets (.bss filter_n[gen]). */
struct ht_filter_n {
	__u32 pids;   /* in pid_allow; 0: every process is traced */
	__u32 ports;  /* in deny_ports; 0: no port is denied */
	__u32 paths;  /* in health_paths; 0: no health-check filter */
	__u32 pad;
};

_Static_assert(sizeof(struct ht_pid_key) == 8, "ht_pid_key has no padding");
_Static_assert(sizeof(struct ht_port_key) == 4, "ht_port_key has no padding");
_Static_assert(sizeof(struct ht_path_key) == 4 + HT_PATH_MAX,
	       "ht_path_key has no padding: HT_PATH_MAX is a multiple of 4");

#endif /* HT_FILTER_H */
