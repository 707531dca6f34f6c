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
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "capture.h"
#include "links.h"
#include "kfilter.h"
#include "tls_attach.h"
#include "config/config.h"
#include "ht_event.h"
#include "ht_kstats.h"
#include "ht_limits.h"
#include "http_tracer.skel.h"

#define CAPTURE_TRACEFS "/sys/kernel/tracing"
#define CAPTURE_BTF "/sys/kernel/btf/vmlinux"

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
	struct tls_attach *tls;  /* NULL: tls.enabled is off */
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
	[HT_KS_TLS_CALLS] = "tls_calls",
	[HT_KS_TLS_NO_SOCKET] = "tls_no_socket",
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

/* Human form of a power-of-two byte count: 64KiB, 8MiB, 1GiB. */
static const char *capture_show_bytes(uint64_t b, char *buf, size_t len)
{
	if (b >= (1ull << 30) && !(b & ((1ull << 30) - 1)))
		snprintf(buf, len, "%lluGiB", (unsigned long long)(b >> 30));
	else if (b >= (1ull << 20) && !(b & ((1ull << 20) - 1)))
		snprintf(buf, len, "%lluMiB", (unsigned long long)(b >> 20));
	else if (b >= (1ull << 10) && !(b & ((1ull << 10) - 1)))
		snprintf(buf, len, "%lluKiB", (unsigned long long)(b >> 10));
	else
		snprintf(buf, len, "%llu", (unsigned long long)b);
	return buf;
}

/* Per-CPU ring size of `total` bytes over ncpu CPUs: total / ncpu rounded
 * down to a power of two (the kernel's rule for ring buffers), within
 * [max(page size, HT_RING_CPU_MIN), HT_RING_CPU_MAX].  How many CPUs the
 * host has is not the config's to know, so a total that a CPU count pushes
 * past those bounds is not a config error; instead, when a bound applies,
 * one line saying what the rings really take goes to note (if not NULL;
 * "" otherwise). */
static uint32_t capture_ring_size(uint64_t total, int ncpu, char *note, size_t note_len)
{
	uint64_t n = (uint64_t)(ncpu > 0 ? ncpu : 1), per = total / n;
	uint64_t min = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t sz = 1;
	char a[32], b[32], p[32], t[32];

	if (min < HT_RING_CPU_MIN)
		min = HT_RING_CPU_MIN;
	while (sz * 2 <= per && sz < HT_RING_CPU_MAX)
		sz *= 2;
	if (sz < min)
		sz = min;
	if (note && note_len)
		note[0] = '\0';
	if (note && note_len && (per < min || per >= 2 * sz))
		snprintf(note, note_len, "performance.ringbufferSize %s over %d CPUs is %s per CPU, %s the per-CPU %s (%s): each ring is %s, %s in all",
			 capture_show_bytes(total, t, sizeof(t)), (int)n,
			 capture_show_bytes(per, p, sizeof(p)), per < min ? "below" : "above",
			 per < min ? "minimum" : "maximum",
			 per < min ? "HT_RING_CPU_MIN or a page" : "HT_RING_CPU_MAX",
			 capture_show_bytes(sz, a, sizeof(a)), capture_show_bytes(sz * n, b, sizeof(b)));
	return (uint32_t)sz;
}

int capture_ring_note(uint64_t total, char *note, size_t note_len)
{
	int ncpu = libbpf_num_possible_cpus();

	if (note && note_len)
		note[0] = '\0';
	if (ncpu <= 0)
		return 0;
	capture_ring_size(total ? total : HT_RINGBUF_DEFAULT, ncpu, note, note_len);
	return note && note_len && note[0];
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

		int err = bpf_map_update_elem(outer, &key, &c->ring_fds[cpu], BPF_ANY);

		if (err) { /* libbpf returns -errno */
			fprintf(stderr, "http-tracer: cannot install the ring buffer of CPU %d: %s\n",
				cpu, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ filters */

/* The filter maps for kfilter.c (src/source/kfilter.h): the skeleton's maps
 * and .bss; ctx is the struct capture. */
static struct bpf_map *capture_filter_map(struct capture *c, enum kfilter_set set)
{
	switch (set) {
	case KF_PIDS: return c->skel->maps.pid_allow;
	case KF_PORTS: return c->skel->maps.deny_ports;
	default: return c->skel->maps.health_paths;
	}
}

static uint32_t capture_kf_active(void *ctx)
{
	struct capture *c = ctx;

	return __atomic_load_n(&c->skel->bss->filter_gen, __ATOMIC_ACQUIRE);
}

static int capture_kf_each_key(void *ctx, enum kfilter_set set,
			       int (*fn)(void *arg, const union kfilter_key *key), void *arg)
{
	int fd = bpf_map__fd(capture_filter_map(ctx, set));
	union kfilter_key cur, next;
	int rc;

	memset(&cur, 0, sizeof(cur));
	memset(&next, 0, sizeof(next));
	for (const void *prev = NULL; !bpf_map_get_next_key(fd, prev, &next); prev = &cur) {
		cur = next;
		rc = fn(arg, &cur);
		if (rc)
			return rc;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int capture_kf_del(void *ctx, enum kfilter_set set, const union kfilter_key *key)
{
	return bpf_map_delete_elem(bpf_map__fd(capture_filter_map(ctx, set)), key) ? -errno : 0;
}

static int capture_kf_add(void *ctx, enum kfilter_set set, const union kfilter_key *key)
{
	uint8_t one = 1;

	return bpf_map_update_elem(bpf_map__fd(capture_filter_map(ctx, set)), key, &one,
				   BPF_ANY) ? -errno : 0;
}

/* The counts go in first; the one store of filter_gen then makes the new
 * sets and their counts visible together (programs read filter_gen first). */
static int capture_kf_commit(void *ctx, uint32_t gen, const struct ht_filter_n *n)
{
	struct capture *c = ctx;
	struct ht_filter_n *dst = &c->skel->bss->filter_n[gen & 1];

	__atomic_store_n(&dst->pids, n->pids, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->ports, n->ports, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->paths, n->paths, __ATOMIC_RELAXED);
	__atomic_store_n(&c->skel->bss->filter_gen, gen & 1, __ATOMIC_RELEASE);
	return 0;
}

static const struct kfilter_ops capture_kf_ops = {
	.active = capture_kf_active,
	.each_key = capture_kf_each_key,
	.del = capture_kf_del,
	.add = capture_kf_add,
	.commit = capture_kf_commit,
};

int capture_update_filters(struct capture *c, const struct ht_config *cfg, char *err,
			   size_t errlen)
{
	/* Connections keep the decision they already have: a change applies
	 * to connections created after it. */
	return kfilter_switch(&capture_kf_ops, c, cfg, err, errlen);
}

/* ------------------------------------------------------------ attach */

/* The OpenSSL programs (bpf/tls.h): attached by tls_attach.c per library. */
static bool capture_is_uprobe(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	return sec && (!strncmp(sec, "uprobe", 6) || !strncmp(sec, "uretprobe", 9));
}

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
		struct bpf_link *l;
		const char *sec = bpf_program__section_name(prog);

		if (capture_is_uprobe(prog))
			continue;
		l = bpf_program__attach(prog);
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

/* True when the running kernel's BTF has the kfunc name (a newer kernel's
 * faster path; bpf/ declares it weak and checks the flag set from this). */
static bool capture_kernel_has(const char *name)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool has;

	if (!vmlinux || libbpf_get_error(vmlinux))
		return false;
	has = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	return has;
}

/* Sets the load-time settings; the config has range-checked them, so a
 * value out of range (a hand-built config) is refused, never adjusted. */
static int capture_set_rodata(struct capture *c, const struct capture_opts *o)
{
	const struct ht_config *cfg = o->cfg;
	uint32_t cap = cfg ? cfg->capture_cap_bytes : HT_CAPTURE_CAP_DEFAULT;

	if (cap < HT_CAPTURE_CAP_MIN || cap > HT_CAPTURE_CAP_MAX) {
		fprintf(stderr, "http-tracer: capture cap of %u bytes per syscall is outside %u..%u (HT_CAPTURE_CAP_MIN..HT_CAPTURE_CAP_MAX)\n",
			cap, HT_CAPTURE_CAP_MIN, HT_CAPTURE_CAP_MAX);
		return -EINVAL;
	}
	c->skel->rodata->self_tgid = o->self_pid ? o->self_pid : (uint32_t)getpid();
	c->skel->rodata->capture_cap_bytes = cap;
	/* wake the reader early when a ring is an eighth full */
	c->skel->rodata->wakeup_bytes = c->ring_bytes / 8;
	c->skel->rodata->tls_enabled = cfg ? cfg->tls_enabled : true;
	c->skel->rodata->direct_read = capture_kernel_has("bpf_probe_read_user_dynptr");
	/* test-only knob: the scratch path of kernels before 6.16, here */
	if (c->skel->rodata->direct_read && getenv("HT_TEST_SCRATCH_ONLY") &&
	    *getenv("HT_TEST_SCRATCH_ONLY")) {
		c->skel->rodata->direct_read = 0;
		fprintf(stderr, "http-tracer: test knob HT_TEST_SCRATCH_ONLY: every record goes through the scratch\n");
	}
	return 0;
}

/* tls.enabled off: the OpenSSL programs are not even loaded. */
static void capture_tls_autoload(struct capture *c)
{
	struct bpf_program *prog;

	if (c->skel->rodata->tls_enabled)
		return;
	bpf_object__for_each_program(prog, c->skel->obj)
		if (capture_is_uprobe(prog))
			bpf_program__set_autoload(prog, false);
}

/* tls.enabled: attach to the OpenSSL libraries (src/source/tls_attach.h). */
static int capture_tls_start(struct capture *c, const struct capture_opts *o)
{
	struct tls_progs p = {
		.enter = { c->skel->progs.up__ssl_write, c->skel->progs.up__ssl_read,
			   c->skel->progs.up__ssl_write_ex, c->skel->progs.up__ssl_read_ex },
		.ret = c->skel->progs.urp__ssl_ret,
		.attach_ns = (volatile uint64_t *)&c->skel->bss->tls_attach_ns,
	};

	if (!c->skel->rodata->tls_enabled)
		return 0;
	c->tls = tls_attach_start(&p, o->cfg, c->skel->rodata->self_tgid);
	return c->tls ? 0 : -1;
}

/* The filter maps of the BPF object against include/ht_limits.h (two
 * generations each, include/ht_filter.h): they differ only when HT_DEFS
 * was not given to both compilers. */
static int capture_check_maps(struct capture *c)
{
	const struct {
		const struct bpf_map *map;
		uint32_t entries, key_size;
		const char *limit;
	} want[] = {
		{ c->skel->maps.pid_allow, 2 * HT_PIDS_MAX, sizeof(struct ht_pid_key), "HT_PIDS_MAX" },
		{ c->skel->maps.deny_ports, 2 * HT_PORTS_MAX, sizeof(struct ht_port_key),
		  "HT_PORTS_MAX" },
		{ c->skel->maps.health_paths, 2 * HT_HEALTH_PATHS_MAX, sizeof(struct ht_path_key),
		  "HT_HEALTH_PATHS_MAX, HT_PATH_MAX" },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (bpf_map__max_entries(want[i].map) == want[i].entries &&
		    bpf_map__key_size(want[i].map) == want[i].key_size)
			continue;
		fprintf(stderr, "http-tracer: the BPF map %s holds %u keys of %u bytes, the loader expects %u of %u: built with different %s (give the same HT_DEFS to both compilers)\n",
			bpf_map__name(want[i].map), bpf_map__max_entries(want[i].map),
			bpf_map__key_size(want[i].map), want[i].entries, want[i].key_size,
			want[i].limit);
		return -EINVAL;
	}
	return 0;
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
	uint64_t total = cfg && cfg->ringbuffer_bytes ? cfg->ringbuffer_bytes : HT_RINGBUF_DEFAULT;
	struct capture *c;
	char note[512];
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
	if (total < HT_RINGBUF_MIN || total > HT_RINGBUF_MAX) {
		fprintf(stderr, "http-tracer: ring buffer total of %llu bytes is outside %llu..%llu (HT_RINGBUF_MIN..HT_RINGBUF_MAX)\n",
			(unsigned long long)total, (unsigned long long)HT_RINGBUF_MIN,
			(unsigned long long)HT_RINGBUF_MAX);
		goto err_free;
	}
	c->ring_bytes = capture_ring_size(total, c->ncpu, note, sizeof(note));
	if (note[0])
		fprintf(stderr, "http-tracer: note: %s\n", note);

	c->skel = http_tracer_bpf__open();
	if (!c->skel) {
		fprintf(stderr, "http-tracer: cannot open the embedded BPF object: %s\n", strerror(errno));
		goto err_free;
	}
	if (capture_set_rodata(c, opts) || capture_check_maps(c))
		goto err_free;
	capture_tls_autoload(c);
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
	if (capture_update_filters(c, cfg, note, sizeof(note))) {
		fprintf(stderr, "http-tracer: cannot fill the kernel filter maps: %s\n", note);
		goto err_free;
	}
	if (capture_attach(c) || capture_tls_start(c, opts))
		goto err_free;
	if (c->verbose)
		fprintf(stderr, "http-tracer: %d programs attached, %d rings of %u bytes, capture cap %u bytes, %s\n",
			c->n_links, c->ncpu, c->ring_bytes, c->skel->rodata->capture_cap_bytes,
			c->skel->rodata->direct_read ? "user bytes read straight into the rings" :
						       "user bytes copied through the scratch");
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
	tls_attach_stop(c->tls);
	c->tls = NULL;
	links_destroy(c->links, (size_t)c->n_links);
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
	struct tls_counts tc;
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
	out->bytes_captured = ks[HT_KS_BYTES_SENT];
	out->bytes_uncaptured = ks[HT_KS_BYTES_UNCAPTURED];
	out->bytes_lost = ks[HT_KS_BYTES_LOST];
	out->tls_calls = ks[HT_KS_TLS_CALLS];
	out->tls_no_socket = ks[HT_KS_TLS_NO_SOCKET];
	out->tls_enabled = c->skel->rodata->tls_enabled != 0;
	tls_attach_counts(c->tls, &tc);
	out->tls_libs_attached = tc.attached;
	out->tls_libs_failed = tc.failed;
	return 0;
}
