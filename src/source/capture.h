/*
 * capture.h - the kernel side: loads bpf/ programs, attaches them to the
 * syscall and sock tracepoints, fills the filter maps from the config, and
 * creates the per-CPU ring buffers (an ARRAY_OF_MAPS of RINGBUF).
 *
 * Readers drain the rings: capture_reader_poll() is called by reader thread
 * `r` of `n_readers` and consumes the rings of CPUs where cpu % n_readers == r,
 * invoking cb for every record (the bytes are valid only during the call).
 *
 * Records (include/ht_event.h) of one connection travel through the ring of
 * whichever CPU ran the syscall, so across rings they arrive in any order:
 * a CLOSE can be read before the OPEN or DATA records of its connection.
 * Order by (conn, dir, pos), never by arrival.  OPEN precedes the first
 * DATA of a connection on the same CPU, but can be lost when a ring is full
 * (counted in ringbuf_full); a connection dropped by a filter after some of
 * its data was sent gets a CLOSE at the first position that is not sent.
 * Kernel counters (capture_read_kstats) count syscalls per filter reason,
 * so "filtered in the kernel" vs "sent" is measurable.
 */
#ifndef HT_CAPTURE_H
#define HT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ht_kstats.h"

struct ht_config;
struct capture;

typedef int (*capture_cb)(void *ctx, const void *rec, size_t len);

struct capture_opts {
	const struct ht_config *cfg;
	uint32_t self_pid;       /* always excluded */
	int n_readers;
	int verbose;
};

/* Checks privileges and features, mounts tracefs if needed, loads, fills
 * maps, attaches.  On failure prints one line saying what is missing and how
 * to fix it, and returns NULL.  For tests only: HT_TEST_MAX_CONNS=N in the
 * environment sizes the kernel's conns map to N entries (2..65536), so
 * that a test can make it evict live connections; HT_TEST_SCRATCH_ONLY set
 * makes every record go through the per-CPU scratch, as on kernels without
 * bpf_probe_read_user_dynptr (bpf/syscalls.h). */
struct capture *capture_open(const struct capture_opts *opts);
/* Reader r: create its epoll over its rings (call once, in the reader thread). */
int capture_reader_init(struct capture *c, int r);
/* Wait up to timeout_ms and consume available records; returns records
 * consumed or -errno. */
int capture_reader_poll(struct capture *c, int r, int timeout_ms, capture_cb cb, void *ctx);
/* Switches the kernel filter maps to cfg's pids, ports and health paths,
 * all or nothing (src/source/kfilter.h): returns 0, or -errno with the
 * reason in err and the kernel still filtering as before.  Main thread. */
int capture_update_filters(struct capture *c, const struct ht_config *cfg, char *err,
			   size_t errlen);
/* Kernel per-reason filter counters and ringbuf loss, summed over CPUs. */
struct capture_counters {
	uint64_t filtered[HT_KS_NR_FILTERS]; /* by enum ht_kstat (names: capture_filter_name) */
	uint64_t ringbuf_full;      /* reserve failures */
	uint64_t events_sent;       /* records submitted */
	uint64_t conns_evicted;     /* live connections the conns LRU evicted */
	uint64_t bytes_captured;    /* payload bytes copied into the rings */
	uint64_t bytes_uncaptured;  /* stream bytes reported by length only */
	uint64_t bytes_lost;        /* stream bytes of records the rings could not take */
	bool tls_enabled;           /* the OpenSSL uprobes are in use (tls.enabled) */
	uint64_t tls_calls;         /* OpenSSL reads/writes that moved bytes */
	uint64_t tls_no_socket;     /* of those, whose socket was not found (bytes unseen) */
	uint64_t tls_libs_attached; /* libssl files traced */
	uint64_t tls_libs_failed;   /* libssl files that could not be (reported once each) */
};
int capture_read_counters(struct capture *c, struct capture_counters *out);
const char *capture_filter_name(int i); /* NULL past the last */
int capture_nr_cpus(const struct capture *c);
/* How performance.ringbufferSize `total` (0: the default) splits over this
 * host's possible CPUs: when a per-CPU bound (HT_RING_CPU_MIN/MAX) changes
 * what the rings take, writes one line saying so into note and returns 1;
 * otherwise returns 0.  capture_open() prints the same line. */
int capture_ring_note(uint64_t total, char *note, size_t note_len);
/* All kernel counters (bpf/ht_kstats.h enum ht_kstat: filter reasons, then
 * passed, no_data, events_sent, bytes_*, ...), summed over CPUs, into
 * out[0..n); returns the number of slots written or -errno. */
int capture_read_kstats(struct capture *c, uint64_t *out, int n);
const char *capture_kstat_name(int i); /* NULL past the last slot */
/* Detaches every probe (idempotent): no record is produced after it returns,
 * so a final drain with capture_reader_poll(..., 0, ...) until it returns 0
 * terminates even on a busy host.  Call it before the readers' last drain. */
void capture_detach(struct capture *c);
void capture_close(struct capture *c);

#endif
