/* SPDX-License-Identifier: MIT */
/*
 * ht_kstats.h - slot indexes of the kernel's per-CPU counters (map `kstats`).
 *
 * Plain C, shared by bpf/ and src/capture.c.  Every syscall on a file
 * descriptor that reaches a data probe is counted exactly once, so
 *   socket syscalls = FAMILY + PID + PORT + PROTOCOL + HEALTH
 *                   + PASSED + NO_DATA + PEEK
 * and "filtered in the kernel" vs "sent" can be stated with numbers.
 * NOT_SOCKET counts syscalls on files and pipes, which are not sockets at all.
 * An OpenSSL read or write (TLS_CALLS) whose socket was found is counted in
 * these slots too, as one more data call on its plaintext connection.
 * PID also counts every data syscall of the tracer itself (checked first,
 * before the fd is even looked at, so its own output writes cost nothing).
 * The filter slots count syscalls, not connections: a connection dropped
 * once is counted again, one lookup each, for every later syscall on it.
 * Slot counts are derived from this enum everywhere (capture.h, metrics.c,
 * capture_dump): add a slot here and its name in capture.c, nothing else.
 */
#ifndef HT_KSTATS_H
#define HT_KSTATS_H

enum ht_kstat {
	/* filter reasons, in the order the filters run (capture_filter_name) */
	HT_KS_NOT_SOCKET = 0, /* fd is a file, pipe, ...: skipped before any filter */
	HT_KS_FAMILY,         /* socket is not AF_INET/AF_INET6 SOCK_STREAM */
	HT_KS_PID,            /* tracer's own tgid, or not in the pid allow-list */
	HT_KS_PORT,           /* local or remote port in the deny-list */
	HT_KS_PROTOCOL,       /* first bytes are not HTTP/1 (of a connection found
			       * mid-stream: each syscall skipped, see ht_decide) */
	HT_KS_HEALTH,         /* first request's path is a health-check path */
	HT_KS_NR_FILTERS,     /* number of filter slots above */

	HT_KS_PASSED = HT_KS_NR_FILTERS, /* socket syscalls whose data was sent */
	HT_KS_NO_DATA,        /* socket syscalls that moved no bytes (ret <= 0) */
	HT_KS_PEEK,           /* MSG_PEEK receives: not consumed, not counted */
	HT_KS_CONN_GONE,      /* unused since data syscalls are traced at exit only */
	HT_KS_EVENTS_SENT,    /* ring records submitted (data, open, close) */
	HT_KS_RINGBUF_FULL,   /* ring records lost: output failed */
	HT_KS_BYTES_SENT,     /* payload bytes copied into the rings */
	HT_KS_BYTES_UNCAPTURED, /* bytes reported by length only (cap, iovec bound) */
	HT_KS_BYTES_LOST,     /* stream bytes of records that could not be output */
	HT_KS_CONNS_OPENED,   /* HT_EV_OPEN records submitted */
	HT_KS_CONNS_CLOSED,   /* HT_EV_CLOSE records submitted */
	HT_KS_CONNS_EVICTED,  /* live connections found again after the conns LRU
			       * evicted them (re-created, OPEN flagged HT_OF_RESUMED) */
	HT_KS_TLS_CALLS,      /* OpenSSL read/write calls that returned bytes (each
			       * then counted like a syscall, on the plaintext connection) */
	HT_KS_TLS_NO_SOCKET,  /* such calls whose socket could not be found: no
			       * syscall inside and no earlier one of that SSL object */
	HT_KS_MAX
};

#endif /* HT_KSTATS_H */
