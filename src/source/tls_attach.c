/*
 * tls_attach.c - OpenSSL library discovery and uprobe attachment; see
 * tls_attach.h.
 *
 * A library is known by the (device, inode) that /proc/PID/maps prints for
 * it, which is the file the kernel's uprobes key on (the real inode under
 * an overlay), so a library already handled costs a scan nothing but
 * reading the maps line.  A new one is attached through
 * /proc/PID/root/PATH: the path as the process sees it, in its own mount
 * namespace.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "tls_attach.h"
#include "links.h"
#include "config/config.h"

const char *const tls_func_names[TLS_NFUNCS] = {
	"SSL_write", "SSL_read", "SSL_write_ex", "SSL_read_ex",
};

struct tls_lib {
	dev_t dev;
	ino_t ino;
};

struct tls_attach {
	struct tls_progs p;
	uint32_t self_pid;
	struct tls_lib *libs;     /* rescan thread (start: main thread) */
	size_t n_libs, cap_libs;
	struct bpf_link **links;
	size_t n_links, cap_links;
	uint64_t attached, failed, scans; /* atomic */
	pthread_t th;
	bool th_started;
	bool stop;                /* under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* ---- maps lines */

static bool tls_is_libssl(const char *base, size_t len)
{
	static const char stem[] = "libssl.so";
	size_t n = sizeof(stem) - 1;

	return len >= n && memcmp(base, stem, n) == 0 && (len == n || base[n] == '.');
}

size_t tls_maps_line_lib(const char *line, char *path, size_t size)
{
	static const char deleted[] = " (deleted)";
	const char *p = line, *base;
	size_t len;

	/* address perms offset dev inode, then the path */
	for (int f = 0; f < 5; f++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return 0;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '/')
		return 0;
	len = strcspn(p, "\n");
	if (len >= sizeof(deleted) - 1 &&
	    memcmp(p + len - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1) == 0)
		return 0;
	for (base = p + len; base > p && base[-1] != '/'; base--)
		;
	if (!tls_is_libssl(base, (size_t)(p + len - base)) || len >= size)
		return 0;
	memcpy(path, p, len);
	path[len] = '\0';
	return len;
}

/* The device and inode fields of a maps line; 0 or -1. */
static int tls_maps_line_id(const char *line, dev_t *dev, ino_t *ino)
{
	unsigned int maj, min;
	unsigned long long i;

	if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &i) != 3)
		return -1;
	*dev = makedev(maj, min);
	*ino = (ino_t)i;
	return 0;
}

/* ---- attaching */

static struct tls_lib *tls_find(struct tls_attach *t, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < t->n_libs; i++)
		if (t->libs[i].dev == dev && t->libs[i].ino == ino)
			return &t->libs[i];
	return NULL;
}

static int tls_keep_link(struct tls_attach *t, struct bpf_link *l)
{
	if (t->n_links == t->cap_links) {
		size_t n = t->cap_links ? 2 * t->cap_links : 32;
		struct bpf_link **v = realloc(t->links, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->links = v;
		t->cap_links = n;
	}
	t->links[t->n_links++] = l;
	return 0;
}

/* Attaches prog to the entry (or the return) of func in path for every
 * process; 0 or -errno. */
static int tls_attach_one(struct tls_attach *t, struct bpf_program *prog, const char *path,
			  const char *func, bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = func, .retprobe = ret);
	struct bpf_link *l = bpf_program__attach_uprobe_opts(prog, -1, path, 0, &o);
	int err;

	if (!l)
		return -errno;
	err = tls_keep_link(t, l);
	if (err)
		bpf_link__destroy(l);
	return err;
}

/* Tells the programs that a library was just attached: connections older
 * than now may have moved plaintext unseen (bpf/conntrack.h). */
static void tls_mark_attach(struct tls_attach *t)
{
	struct timespec ts;

	if (!t->p.attach_ns)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	__atomic_store_n(t->p.attach_ns, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
			 __ATOMIC_RELEASE);
}

/* Attaches the four calls of the library file at path (known as dev, ino
 * from now on, whatever the outcome: reported once).  shown is the path
 * to print. */
static void tls_attach_lib(struct tls_attach *t, const char *path, const char *shown,
			   dev_t dev, ino_t ino)
{
	size_t first = t->n_links;
	int got = 0, err = 0;

	if (access(path, R_OK))
		return; /* the process is gone: the next scan finds the file again */

	if (t->n_libs == t->cap_libs) {
		size_t n = t->cap_libs ? 2 * t->cap_libs : 8;
		struct tls_lib *v = realloc(t->libs, n * sizeof(*v));

		if (!v) {
			fprintf(stderr, "http-tracer: tls: out of memory, %s not traced\n", shown);
			return;
		}
		t->libs = v;
		t->cap_libs = n;
	}
	t->libs[t->n_libs++] = (struct tls_lib){ .dev = dev, .ino = ino };
	for (int i = 0; i < TLS_NFUNCS; i++) {
		int e = tls_attach_one(t, t->p.enter[i], path, tls_func_names[i], false);

		e = e ?: tls_attach_one(t, t->p.ret, path, tls_func_names[i], true);
		if (e) {
			err = err ?: e;
			continue;
		}
		got |= 1 << i;
	}
	if ((got & 3) != 3) {
		/* a half-traced library would feed one direction only */
		fprintf(stderr, "http-tracer: tls: %s: cannot attach to SSL_read and SSL_write (%s): its TLS traffic is not traced (statically linked or stripped OpenSSL?)\n",
			shown, err == -ENOENT ? "symbols not found" : strerror(-err));
		while (t->n_links > first)
			bpf_link__destroy(t->links[--t->n_links]);
		__atomic_add_fetch(&t->failed, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(&t->attached, 1, __ATOMIC_RELAXED);
	tls_mark_attach(t);
	fprintf(stderr, "http-tracer: tls: attached to %s (device %u:%u inode %llu)%s\n", shown,
		major(dev), minor(dev), (unsigned long long)ino,
		got == 0xf ? "" : ", without SSL_read_ex/SSL_write_ex (OpenSSL before 1.1.1)");
}

/* A path of tls.libraries, attached by hand. */
static void tls_attach_path(struct tls_attach *t, const char *path)
{
	struct stat st;

	if (stat(path, &st)) {
		fprintf(stderr, "http-tracer: tls: tls.libraries: %s: %s: not traced\n", path,
			strerror(errno));
		__atomic_add_fetch(&t->failed, 1, __ATOMIC_RELAXED);
		return;
	}
	if (!tls_find(t, st.st_dev, st.st_ino))
		tls_attach_lib(t, path, path, st.st_dev, st.st_ino);
}

/* ---- scanning /proc */

static void tls_scan_pid(struct tls_attach *t, const char *pid)
{
	char fn[64], path[4096], full[4200], *line = NULL;
	size_t cap = 0;
	dev_t dev;
	ino_t ino;
	FILE *f;

	snprintf(fn, sizeof(fn), "/proc/%s/maps", pid);
	f = fopen(fn, "re");
	if (!f)
		return; /* exited, or a kernel thread */
	while (getline(&line, &cap, f) > 0) {
		if (!strstr(line, "libssl.so") || !tls_maps_line_lib(line, path, sizeof(path)) ||
		    tls_maps_line_id(line, &dev, &ino) || tls_find(t, dev, ino))
			continue;
		snprintf(full, sizeof(full), "/proc/%s/root%s", pid, path);
		tls_attach_lib(t, full, path, dev, ino);
	}
	free(line);
	fclose(f);
}

static void tls_scan(struct tls_attach *t)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char self[16];

	if (!d) {
		fprintf(stderr, "http-tracer: tls: cannot list /proc: %s\n", strerror(errno));
		return;
	}
	snprintf(self, sizeof(self), "%u", t->self_pid);
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]) || !strcmp(e->d_name, self))
			continue;
		tls_scan_pid(t, e->d_name);
	}
	closedir(d);
	__atomic_add_fetch(&t->scans, 1, __ATOMIC_RELAXED);
}

static void *tls_thread(void *arg)
{
	struct tls_attach *t = arg;
	struct timespec ts;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += TLS_RESCAN_MS / 1000;
		ts.tv_nsec += (TLS_RESCAN_MS % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->cond, &t->lock, &ts);
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->lock);
		tls_scan(t);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* ---- start and stop */

struct tls_attach *tls_attach_start(const struct tls_progs *p, const struct ht_config *cfg,
				    uint32_t self_pid)
{
	struct tls_attach *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;

	if (!t) {
		fprintf(stderr, "http-tracer: tls: out of memory\n");
		return NULL;
	}
	t->p = *p;
	t->self_pid = self_pid;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (size_t i = 0; cfg && i < cfg->tls_libraries.n; i++)
		tls_attach_path(t, cfg->tls_libraries.v[i]);
	tls_scan(t);
	if (pthread_create(&t->th, NULL, tls_thread, t)) {
		fprintf(stderr, "http-tracer: tls: cannot start the library rescan thread\n");
		tls_attach_stop(t);
		return NULL;
	}
	t->th_started = true;
	pthread_setname_np(t->th, "tls-scan");
	return t;
}

void tls_attach_stop(struct tls_attach *t)
{
	if (!t)
		return;
	if (t->th_started) {
		pthread_mutex_lock(&t->lock);
		t->stop = true;
		pthread_cond_signal(&t->cond);
		pthread_mutex_unlock(&t->lock);
		pthread_join(t->th, NULL);
	}
	links_destroy(t->links, t->n_links);
	free(t->links);
	free(t->libs);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void tls_attach_counts(struct tls_attach *t, struct tls_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (!t)
		return;
	out->attached = __atomic_load_n(&t->attached, __ATOMIC_RELAXED);
	out->failed = __atomic_load_n(&t->failed, __ATOMIC_RELAXED);
	out->scans = __atomic_load_n(&t->scans, __ATOMIC_RELAXED);
}
