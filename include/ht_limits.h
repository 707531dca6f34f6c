/* SPDX-License-Identifier: MIT */
/*
 * ht_limits.h - every limit and default that the kernel side (bpf/), the
 * config (src/config/config.c) and the loader (src/source/capture.c) share.
 *
 * One place, so that the config accepts exactly what the kernel can hold:
 * the BPF maps are sized from these numbers, the config refuses a value
 * past them with FILE:LINE:COL (so --check-config and live mode agree), and
 * the loader never clamps or drops what the config accepted.
 *
 * Plain preprocessor constants, read by clang -target bpf and by gcc.  Each
 * can be overridden at build time, as Katran and Cilium do:
 *   make HT_DEFS='-DHT_PORTS_MAX=4096'
 * The Makefile passes HT_DEFS to both compilers; capture_open() refuses a
 * BPF object whose filter maps disagree with the loader's constants.
 */
#ifndef HT_LIMITS_H
#define HT_LIMITS_H

#include "ht_event.h" /* HT_DATA_CHUNK */

/* ---- kernel filters (filtering.kernel.*) */
#ifndef HT_PIDS_MAX
#define HT_PIDS_MAX 1024           /* most filtering.kernel.pids: entries of map pid_allow */
#endif
#ifndef HT_PORTS_MAX
#define HT_PORTS_MAX 1024          /* most filtering.kernel.excludePorts: entries of map deny_ports */
#endif
#ifndef HT_HEALTH_PATHS_MAX
#define HT_HEALTH_PATHS_MAX 256    /* most filtering.kernel.healthCheckPaths: entries of map health_paths */
#endif
#ifndef HT_PATH_MAX
#define HT_PATH_MAX 64             /* bytes of the kernel's health-check path key, NUL padded */
#endif
/* Longest healthCheckPaths entry, in bytes: the key keeps a NUL. */
#define HT_HEALTH_PATH_LEN_MAX (HT_PATH_MAX - 1)

/* ---- capture (performance.captureCap) */
#ifndef HT_MAX_RECORDS
#define HT_MAX_RECORDS 256         /* most data records one syscall is split into */
#endif
/* Largest performance.captureCap: HT_MAX_RECORDS records of HT_DATA_CHUNK (4 MiB). */
#define HT_CAPTURE_CAP_MAX (HT_MAX_RECORDS * HT_DATA_CHUNK)
#ifndef HT_CAPTURE_CAP_MIN
#define HT_CAPTURE_CAP_MIN 64      /* smallest performance.captureCap, bytes */
#endif
#ifndef HT_CAPTURE_CAP_DEFAULT
#define HT_CAPTURE_CAP_DEFAULT (256u << 10) /* performance.captureCap default (256 KiB) */
#endif

/* ---- ring buffers (performance.ringbufferSize: all CPUs together) */
#ifndef HT_RINGBUF_DEFAULT
#define HT_RINGBUF_DEFAULT (64ull << 20) /* performance.ringbufferSize default (64 MiB) */
#endif
#ifndef HT_RINGBUF_MIN
#define HT_RINGBUF_MIN (1ull << 20)      /* smallest performance.ringbufferSize (1 MiB) */
#endif
#ifndef HT_RINGBUF_MAX
#define HT_RINGBUF_MAX (64ull << 30)     /* largest performance.ringbufferSize (64 GiB) */
#endif
#ifndef HT_RING_CPU_MIN
#define HT_RING_CPU_MIN (1u << 16)       /* one CPU's ring, at least (power of two, >= a page) */
#endif
#ifndef HT_RING_CPU_MAX
#define HT_RING_CPU_MAX (1u << 30)       /* one CPU's ring, at most (power of two) */
#endif

_Static_assert(HT_CAPTURE_CAP_MIN <= HT_CAPTURE_CAP_DEFAULT &&
	       HT_CAPTURE_CAP_DEFAULT <= HT_CAPTURE_CAP_MAX, "captureCap default in range");
_Static_assert(HT_RINGBUF_MIN <= HT_RINGBUF_DEFAULT && HT_RINGBUF_DEFAULT <= HT_RINGBUF_MAX,
	       "ringbufferSize default in range");
_Static_assert((HT_RING_CPU_MIN & (HT_RING_CPU_MIN - 1)) == 0 &&
	       (HT_RING_CPU_MAX & (HT_RING_CPU_MAX - 1)) == 0 && HT_RING_CPU_MIN <= HT_RING_CPU_MAX,
	       "per-CPU ring bounds are powers of two");
_Static_assert(HT_RING_CPU_MIN >= 2 * (HT_DATA_CHUNK + 128), "a ring holds two full data records");
_Static_assert(HT_PATH_MAX >= 2, "a health path key holds a byte and its NUL");

#endif /* HT_LIMITS_H */
