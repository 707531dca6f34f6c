/*
 * capture.c - loads bpf/http_tracer.bpf.c, creates the per-CPU ring
 * buffers, fills the filter maps from the config and attaches every probe.
 *
 * Threads: capture_open/update_filters/read_counters/close run on the main
 * (or metrics) thread.  Reader r owns one libbpf ring_buffer manager over the
 * rings of CPUs where cpu % n_readers == r, created by capture_reader_init()
 * in that thread and used only by it, so readers never share a ring or a
 * lock.  The kernel does not wake readers for every record (it batches
 * wakeups above a backlog), so capture_reader_poll() waits at most
 * timeout_ms and then consumes whatever is there.
 */
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.h"
#include "config/config.h"
#include "ht_event.h"
#include "ht_kstats.h"
#include "http_tracer.skel.h"

#define CAPTURE_TRACEFS "/sys/kernel/tracing"
#define CAPTURE_BTF "/sys/kernel/btf/vmlinux"
#define CAPTURE_RING_MIN (1u << 16)       /* bytes per CPU ring, at least */
#define CAPTURE_RING_MAX (1u << 30)       /* bytes per CPU ring, at most */
#define CAPTURE_DEFAULT_RING_TOTAL (256ull << 20)
#define CAPTURE_CAP_MAX (4u << 20)        /* bpf/maps.h HT_MAX_RECORDS * HT_DATA_CHUNK */
#define CAPTURE_PATH_MAX 64               /* bpf/maps.h HT_PATH_MAX */

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

struct capture_reader {
	struct ring_buffer *rb;  /* NULL when this reader has no CPU */
	capture_cb cb;           /* set for the duration of one poll */
	void *ctx;
	int consumed;            /* records handed to cb during this poll */
	int err;                 /* first error returned by cb */
};

struct capture {
	struct http_tracer_bpf *skel;
	int ncpu;                /* possible CPUs: outer map size */
	int *ring_fds;           /* one RINGBUF per CPU */
	uint32_t ring_bytes;     /* size of each */
	struct bpf_link **links;
	int n_links;
	int n_readers;
	struct capture_reader *readers;
	int verbose;
};

static const char *const capture_kstat_names[HT_KS_MAX] = {
	[HT_KS_NOT_SOCKET] = "not_socket",
	[HT_KS_FAMILY] = "family",
	[HT_KS_PID] = "pid",
	[HT_KS_PORT] = "port",
	[HT_KS_PROTOCOL] = "protocol",
	[HT_KS_HEALTH] = "health_path",
	[HT_KS_PASSED] = "passed",
	[HT_KS_NO_DATA] = "no_data",
	[HT_KS_PEEK] = "peek",
	[HT_KS_CONN_GONE] = "conn_gone",
	[HT_KS_EVENTS_SENT] = "events_sent",
	[HT_KS_RINGBUF_FULL] = "ringbuf_full",
	[HT_KS_BYTES_SENT] = "bytes_sent",
	[HT_KS_BYTES_UNCAPTURED] = "bytes_uncaptured",
	[HT_KS_BYTES_LOST] = "bytes_lost",
	[HT_KS_CONNS_OPENED] = "conns_opened",
	[HT_KS_CONNS_CLOSED] = "conns_closed",
	[HT_KS_CONNS_EVICTED] = "conns_evicted",
};

const char *capture_filter_name(int i)
{
	if (i < 0 || i >= HT_KS_NR_FILTERS)
		return NULL;
	return capture_kstat_names[i];
}

const char *capture_kstat_name(int i)
{
	if (i < 0 || i >= HT_KS_MAX)
		return NULL;
	return capture_kstat_names[i];
}

int capture_nr_cpus(const struct capture *c)
{
	return c->ncpu;
}

static int capture_verbose;

static int capture_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && capture_verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && capture_verbose < 1)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ------------------------------------------------------------ preflight */

static bool capture_has_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	uint64_t eff;

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	eff = (uint64_t)data[1].effective << 32 | data[0].effective;
	if (eff & (1ull << CAP_SYS_ADMIN))
		return true;
	return (eff & (1ull << CAP_BPF)) && (eff & (1ull << CAP_PERFMON));
}

static bool capture_tracefs_ready(void)
{
	struct stat st;

	return stat(CAPTURE_TRACEFS "/events", &st) == 0 && S_ISDIR(st.st_mode);
}

/* Checks privileges, BTF and tracefs (mounting it when missing); prints one
 * line naming what is missing and returns -1, or returns 0. */
static int capture_preflight(void)
{
	struct stat st;

	if (!capture_has_caps()) {
		fprintf(stderr, "http-tracer: not enough privilege to load eBPF programs: run as root (sudo) or grant CAP_BPF and CAP_PERFMON (setcap cap_bpf,cap_perfmon+ep)\n");
		return -1;
	}
	if (stat(CAPTURE_BTF, &st)) {
		fprintf(stderr, "http-tracer: kernel BTF is missing (%s: %s): use a kernel built with CONFIG_DEBUG_INFO_BTF=y\n",
			CAPTURE_BTF, strerror(errno));
		return -1;
	}
	if (!capture_tracefs_ready()) {
		if (mount("tracefs", CAPTURE_TRACEFS, "tracefs", 0, NULL) && errno != EBUSY) {
			fprintf(stderr, "http-tracer: tracefs is not mounted and mounting it failed (%s): run 'mount -t tracefs tracefs %s' as root, or give the tracer CAP_SYS_ADMIN\n",
				strerror(errno), CAPTURE_TRACEFS);
			return -1;
		}
		if (!capture_tracefs_ready()) {
			fprintf(stderr, "http-tracer: tracefs mounted at %s has no events directory: the kernel lacks CONFIG_FTRACE\n",
				CAPTURE_TRACEFS);
			return -1;
		}
	}
	if (stat(CAPTURE_TRACEFS "/events/syscalls", &st)) {
		fprintf(stderr, "http-tracer: syscall tracepoints are missing (%s/events/syscalls): use a kernel built with CONFIG_FTRACE_SYSCALLS=y\n",
			CAPTURE_TRACEFS);
		return -1;
	}
	return 0;
}

static void capture_bump_memlock(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	/* Only needed on kernels without memcg accounting of BPF memory. */
	if (setrlimit(RLIMIT_MEMLOCK, &rl) && capture_verbose > 1)
		fprintf(stderr, "http-tracer: cannot raise RLIMIT_MEMLOCK: %s\n", strerror(errno));
}

/* ------------------------------------------------------------ rings */

/* Per-CPU ring size: total / ncpu rounded down to a power of two, clamped
 * to [max(page size, CAPTURE_RING_MIN), CAPTURE_RING_MAX]. */
static uint32_t capture_ring_size(uint64_t total, int ncpu)
{
	uint64_t per = total / (uint64_t)(ncpu > 0 ? ncpu : 1);
	uint64_t min = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t sz = 1;

	if (min < CAPTURE_RING_MIN)
		min = CAPTURE_RING_MIN;
	while (sz * 2 <= per && sz < CAPTURE_RING_MAX)
		sz *= 2;
	if (sz < min)
		sz = min;
	return (uint32_t)sz;
}

/* Creates one RINGBUF per CPU (before load: ring 0 is also the template
 * of the outer map's inner maps, which must all have the same size). */
static int capture_create_rings(struct capture *c)
{
	c->ring_fds = calloc((size_t)c->ncpu, sizeof(*c->ring_fds));
	if (!c->ring_fds)
		return -ENOMEM;
	for (int i = 0; i < c->ncpu; i++)
		c->ring_fds[i] = -1;
	for (int cpu = 0; cpu < c->ncpu; cpu++) {
		int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ht_ring", 0, 0, c->ring_bytes, NULL);

		if (fd < 0) {
			fprintf(stderr, "http-tracer: cannot create the %u-byte ring buffer of CPU %d: %s (lower performance.ringbufferSize)\n",
				c->ring_bytes, cpu, strerror(-fd));
			return fd;
		}
		c->ring_fds[cpu] = fd;
	}
	return 0;
}

/* Puts the rings into the outer map `rings` (after load). */
static int capture_install_rings(struct capture *c)
{
	int outer = bpf_map__fd(c->skel->maps.rings);

	for (int cpu = 0; cpu < c->ncpu; cpu++) {
		uint32_t key = (uint32_t)cpu;

		if (bpf_map_update_elem(outer, &key, &c->ring_fds[cpu], BPF_ANY)) {
			int err = -errno;

			fprintf(stderr, "http-tracer: cannot install the ring buffer of CPU %d: %s\n",
				cpu, strerror(errno));
			return err;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ filters */

static bool capture_key_in(const unsigned char *keys, size_t n, size_t ks, const void *k)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(keys + i * ks, k, ks))
			return true;
	return false;
}

/* Makes hash map fd hold exactly keys[0..n) (ks bytes each, value 1):
 * inserts first, then deletes the stale keys, so a key present in both the
 * old and the new set is never missing.  Returns 0 or -errno. */
static int capture_map_sync(int fd, const unsigned char *keys, size_t n, size_t ks)
{
	unsigned char cur[CAPTURE_PATH_MAX], next[CAPTURE_PATH_MAX];
	unsigned char *stale = NULL, *tmp;
	size_t n_stale = 0, cap_stale = 0;
	uint8_t one = 1;
	int err = 0;

	if (ks > sizeof(cur))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, keys + i * ks, &one, BPF_ANY))
			return -errno;
	for (const void *prev = NULL; bpf_map_get_next_key(fd, prev, next) == 0; prev = cur) {
		memcpy(cur, next, ks);
		if (capture_key_in(keys, n, ks, cur))
			continue;
		if (n_stale == cap_stale) {
			cap_stale = cap_stale ? cap_stale * 2 : 16;
			tmp = realloc(stale, cap_stale * ks);
			if (!tmp) {
				err = -ENOMEM;
				goto out_free;
			}
			stale = tmp;
		}
		memcpy(stale + n_stale++ * ks, cur, ks);
	}
	for (size_t i = 0; i < n_stale; i++)
		if (bpf_map_delete_elem(fd, stale + i * ks) && errno != ENOENT) {
			err = -errno;
			break;
		}
out_free:
	free(stale);
	return err;
}

/* Health-check path keys (NUL-padded, CAPTURE_PATH_MAX bytes) of cfg. */
static unsigned char *capture_health_keys(const struct ht_config *cfg, size_t *n)
{
	unsigned char *keys = calloc(cfg->health_paths.n + 1, CAPTURE_PATH_MAX);

	*n = 0;
	if (!keys)
		return NULL;
	for (size_t i = 0; i < cfg->health_paths.n; i++) {
		const char *p = cfg->health_paths.v[i];
		size_t len = p ? strlen(p) : 0;

		if (!len || len >= CAPTURE_PATH_MAX) {
			/* the kernel compares at most 63 bytes: longer paths never match */
			fprintf(stderr, "http-tracer: healthCheckPaths entry '%s' ignored by the kernel filter: longer than %d bytes or empty\n",
				p ? p : "", CAPTURE_PATH_MAX - 1);
			continue;
		}
		memcpy(keys + *n * CAPTURE_PATH_MAX, p, len);
		(*n)++;
	}
	return keys;
}

/* Syncs one filter map and its "enabled" count in .bss: the count is
 * lowered to 0 before entries go away and raised after they are in. */
static int capture_filter_sync(struct bpf_map *map, volatile __u32 *count,
			       const unsigned char *keys, size_t n, size_t ks)
{
	int err;

	if (!n)
		__atomic_store_n(count, 0, __ATOMIC_RELEASE);
	err = capture_map_sync(bpf_map__fd(map), keys, n, ks);
	if (err) {
		fprintf(stderr, "http-tracer: cannot update the kernel filter map %s: %s\n",
			bpf_map__name(map), strerror(-err));
		return err;
	}
	__atomic_store_n(count, (__u32)n, __ATOMIC_RELEASE);
	return 0;
}

int capture_update_filters(struct capture *c, const struct ht_config *cfg)
{
	static const struct ht_config none;
	struct http_tracer_bpf__bss *bss = c->skel->bss;
	unsigned char *health;
	size_t n_health;
	int err;

	/* Connections keep the decision they already have: a change applies
	 * to connections created after it. */
	if (!cfg)
		cfg = &none;
	err = capture_filter_sync(c->skel->maps.deny_ports, &bss->deny_ports_n,
				  (const unsigned char *)cfg->exclude_ports, cfg->n_exclude_ports,
				  sizeof(*cfg->exclude_ports));
	err = err ?: capture_filter_sync(c->skel->maps.pid_allow, &bss->pid_allow_on,
					 (const unsigned char *)cfg->pids, cfg->n_pids,
					 sizeof(*cfg->pids));
	if (err)
		return err;
	health = capture_health_keys(cfg, &n_health);
	if (!health)
		return -ENOMEM;
	err = capture_filter_sync(c->skel->maps.health_paths, &bss->health_paths_n,
				  health, n_health, CAPTURE_PATH_MAX);
	free(health);
	return err;
}

/* ------------------------------------------------------------ attach */

static int capture_attach(struct capture *c)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, c->skel->obj)
		n++;
	c->links = calloc((size_t)n, sizeof(*c->links));
	if (!c->links)
		return -ENOMEM;
	bpf_object__for_each_program(prog, c->skel->obj) {
		struct bpf_link *l = bpf_program__attach(prog);
		const char *sec = bpf_program__section_name(prog);

		if (!l) {
			int err = -errno;

			fprintf(stderr, "http-tracer: cannot attach %s to tracepoint %s: %s (is tracefs mounted and the tracepoint present in %s/events?)\n",
				bpf_program__name(prog), sec ? sec : "?", strerror(-err), CAPTURE_TRACEFS);
			return err;
		}
		c->links[c->n_links++] = l;
	}
	return 0;
}

/* ------------------------------------------------------------ open/close */

static void capture_set_rodata(struct capture *c, const struct capture_opts *o)
{
	const struct ht_config *cfg = o->cfg;
	uint32_t cap = cfg ? cfg->capture_cap_bytes : 256u << 10;

	if (cap > CAPTURE_CAP_MAX) {
		fprintf(stderr, "http-tracer: capture cap %u bytes per syscall lowered to the kernel limit %u\n",
			cap, CAPTURE_CAP_MAX);
		cap = CAPTURE_CAP_MAX;
	}
	c->skel->rodata->self_tgid = o->self_pid ? o->self_pid : (uint32_t)getpid();
	c->skel->rodata->capture_cap_bytes = cap;
	/* wake the reader early when a ring is an eighth full */
	c->skel->rodata->wakeup_bytes = c->ring_bytes / 8;
}

/* Test-only knob: HT_TEST_MAX_CONNS=N (2..65536) shrinks the conns map so
 * that a test can make the LRU evict live connections.  Not a setting. */
static int capture_test_max_conns(struct capture *c)
{
	const char *v = getenv("HT_TEST_MAX_CONNS");
	char *end;
	unsigned long n;
	int err;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < 2 || n > 65536) {
		fprintf(stderr, "http-tracer: HT_TEST_MAX_CONNS=%s: want a number of entries in 2..65536\n", v);
		return -1;
	}
	err = bpf_map__set_max_entries(c->skel->maps.conns, (uint32_t)n);
	if (err) {
		fprintf(stderr, "http-tracer: HT_TEST_MAX_CONNS: cannot size the conns map: %s\n",
			strerror(-err));
		return -1;
	}
	fprintf(stderr, "http-tracer: test knob HT_TEST_MAX_CONNS: conns map holds %lu entries\n", n);
	return 0;
}

struct capture *capture_open(const struct capture_opts *opts)
{
	const struct ht_config *cfg = opts->cfg;
	uint64_t total = cfg && cfg->ringbuffer_bytes ? cfg->ringbuffer_bytes : CAPTURE_DEFAULT_RING_TOTAL;
	struct capture *c;
	int err;

	capture_verbose = opts->verbose;
	libbpf_set_print(capture_libbpf_print);
	if (capture_preflight())
		return NULL;
	capture_bump_memlock();

	c = calloc(1, sizeof(*c));
	if (!c)
		goto err_oom;
	c->verbose = opts->verbose;
	c->n_readers = opts->n_readers > 0 ? opts->n_readers : 1;
	c->readers = calloc((size_t)c->n_readers, sizeof(*c->readers));
	if (!c->readers)
		goto err_oom;
	c->ncpu = libbpf_num_possible_cpus();
	if (c->ncpu <= 0) {
		fprintf(stderr, "http-tracer: cannot read the possible CPUs (/sys/devices/system/cpu/possible): %s\n",
			strerror(-c->ncpu));
		goto err_free;
	}
	c->ring_bytes = capture_ring_size(total, c->ncpu);

	c->skel = http_tracer_bpf__open();
	if (!c->skel) {
		fprintf(stderr, "http-tracer: cannot open the embedded BPF object: %s\n", strerror(errno));
		goto err_free;
	}
	capture_set_rodata(c, opts);
	if (capture_create_rings(c))
		goto err_free;
	/* libbpf 1.1 cannot resize an inner map template: give it ring 0 */
	err = bpf_map__set_max_entries(c->skel->maps.rings, (uint32_t)c->ncpu);
	err = err ?: bpf_map__set_max_entries(c->skel->maps.scratch, (uint32_t)c->ncpu);
	err = err ?: bpf_map__set_inner_map_fd(c->skel->maps.rings, c->ring_fds[0]);
	if (err) {
		fprintf(stderr, "http-tracer: cannot size the ring buffers: %s\n", strerror(-err));
		goto err_free;
	}
	if (capture_test_max_conns(c))
		goto err_free;
	err = http_tracer_bpf__load(c->skel);
	if (err) {
		fprintf(stderr, "http-tracer: the kernel rejected the BPF programs (%s): the verifier log is above; the kernel needs BTF, ring buffers (5.8+), bpf_loop (5.17+)\n",
			strerror(-err));
		goto err_free;
	}
	if (capture_install_rings(c))
		goto err_free;
	if (capture_update_filters(c, cfg))
		goto err_free;
	if (capture_attach(c))
		goto err_free;
	if (c->verbose)
		fprintf(stderr, "http-tracer: %d programs attached, %d rings of %u bytes, capture cap %u bytes\n",
			c->n_links, c->ncpu, c->ring_bytes, c->skel->rodata->capture_cap_bytes);
	return c;

err_oom:
	fprintf(stderr, "http-tracer: out of memory while loading the probes\n");
err_free:
	capture_close(c);
	return NULL;
}

void capture_detach(struct capture *c)
{
	if (!c)
		return;
	for (int i = c->n_links - 1; i >= 0; i--)
		bpf_link__destroy(c->links[i]);
	c->n_links = 0;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	capture_detach(c);
	free(c->links);
	for (int r = 0; c->readers && r < c->n_readers; r++)
		ring_buffer__free(c->readers[r].rb);
	free(c->readers);
	for (int i = 0; c->ring_fds && i < c->ncpu; i++)
		if (c->ring_fds[i] >= 0)
			close(c->ring_fds[i]);
	free(c->ring_fds);
	http_tracer_bpf__destroy(c->skel);
	free(c);
}

/* ------------------------------------------------------------ readers */

static int capture_sample(void *ctx, void *data, size_t size)
{
	struct capture_reader *rd = ctx;
	int rc;

	rd->consumed++;
	rc = rd->cb ? rd->cb(rd->ctx, data, size) : 0;
	if (rc && !rd->err)
		rd->err = rc;
	return rc;
}

int capture_reader_init(struct capture *c, int r)
{
	struct capture_reader *rd;

	if (r < 0 || r >= c->n_readers)
		return -EINVAL;
	rd = &c->readers[r];
	if (rd->rb)
		return 0;
	for (int cpu = r; cpu < c->ncpu; cpu += c->n_readers) {
		int err;

		if (!rd->rb) {
			rd->rb = ring_buffer__new(c->ring_fds[cpu], capture_sample, rd, NULL);
			if (!rd->rb)
				return -errno;
			continue;
		}
		err = ring_buffer__add(rd->rb, c->ring_fds[cpu], capture_sample, rd);
		if (err)
			return err;
	}
	return 0;
}

int capture_reader_poll(struct capture *c, int r, int timeout_ms, capture_cb cb, void *ctx)
{
	struct capture_reader *rd;
	int err;

	if (r < 0 || r >= c->n_readers)
		return -EINVAL;
	rd = &c->readers[r];
	if (!rd->rb) {
		/* more readers than CPUs: nothing to read, just pace the caller */
		if (timeout_ms > 0) {
			struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
		return 0;
	}
	rd->cb = cb;
	rd->ctx = ctx;
	rd->consumed = 0;
	rd->err = 0;
	err = ring_buffer__poll(rd->rb, timeout_ms);
	/* wakeups are batched: drain what arrived without one */
	if (err >= 0 || err == -EINTR)
		err = ring_buffer__consume(rd->rb);
	rd->cb = NULL;
	if (rd->err)
		return rd->err < 0 ? rd->err : -EIO;
	if (err < 0 && err != -EINTR)
		return err;
	return rd->consumed;
}

/* ------------------------------------------------------------ counters */

int capture_read_kstats(struct capture *c, uint64_t *out, int n)
{
	int fd = bpf_map__fd(c->skel->maps.kstats);
	uint64_t *vals;

	if (n > HT_KS_MAX)
		n = HT_KS_MAX;
	vals = calloc((size_t)c->ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		uint32_t key = (uint32_t)i;

		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &key, vals)) {
			int err = -errno;

			free(vals);
			return err;
		}
		for (int cpu = 0; cpu < c->ncpu; cpu++)
			out[i] += vals[cpu];
	}
	free(vals);
	return n;
}

int capture_read_counters(struct capture *c, struct capture_counters *out)
{
	uint64_t ks[HT_KS_MAX];
	int n;

	memset(out, 0, sizeof(*out));
	n = capture_read_kstats(c, ks, HT_KS_MAX);
	if (n < 0)
		return n;
	for (int i = 0; i < HT_KS_NR_FILTERS; i++)
		out->filtered[i] = ks[i];
	out->ringbuf_full = ks[HT_KS_RINGBUF_FULL];
	out->events_sent = ks[HT_KS_EVENTS_SENT];
	out->conns_evicted = ks[HT_KS_CONNS_EVICTED];
	return 0;
}
