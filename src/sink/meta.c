/* meta.c - container ids and pod UIDs from /proc/PID/cgroup; see meta.h. */
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fdio.h"

#define META_SLOTS 4096 /* power of two; a collision just evicts */
#define META_FILE_MAX 8192 /* bytes of a cgroup or stat file read */

struct meta_slot {
	uint32_t pid;
	bool used;
	uint64_t start_time;   /* from /proc/PID/stat; 0 unknown */
	uint64_t checked_ns;   /* start time last compared */
	uint64_t loaded_ns;    /* cgroup file last read */
	struct meta_info info;
};

struct meta_cache {
	char proc_fmt[128];
	uint64_t reads;
	struct meta_slot slot[META_SLOTS];
};

/* ---- parsing */

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_hex(s[i]))
			return false;
	return true;
}

static bool starts(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && memcmp(s, lit, l) == 0;
}

static bool ends(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && memcmp(s + n - l, lit, l) == 0;
}

/* The 64-hex id a component is or wraps: "<id>", "PREFIX-<id>" or
 * "PREFIX-<id>.scope" (cri-containerd-, crio-, docker-, libpod-); NULL if none. */
static const char *component_id(const char *s, size_t n)
{
	if (ends(s, n, ".scope"))
		n -= strlen(".scope");
	if (n < META_ID_LEN || !all_hex(s + n - META_ID_LEN, META_ID_LEN))
		return NULL;
	if (n > META_ID_LEN && s[n - META_ID_LEN - 1] != '-')
		return NULL; /* a longer run of hex digits, or glued to a name */
	return s + n - META_ID_LEN;
}

/* A pod UID: hex digits and separators ('-', or '_' in systemd slices). */
static bool uid_ok(const char *s, size_t n)
{
	if (!n || n > META_UID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_hex(s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* The pod UID a component names, given whether a kubepods component came
 * before it (cgroupfs: "pod<UID>"); systemd: "kubepods[-QOS]-pod<UID>.slice". */
static bool component_uid(const char *s, size_t n, bool under_kubepods, const char **uid,
			  size_t *uid_len)
{
	if (starts(s, n, "kubepods") && ends(s, n, ".slice")) {
		const char *end = s + n - strlen(".slice"), *p = NULL;

		for (const char *q = s; q + 4 <= end; q++)
			if (memcmp(q, "-pod", 4) == 0)
				p = q + 4; /* the last "-pod" */
		if (p && uid_ok(p, (size_t)(end - p))) {
			*uid = p;
			*uid_len = (size_t)(end - p);
			return true;
		}
		return false;
	}
	if (under_kubepods && starts(s, n, "pod") && uid_ok(s + 3, n - 3)) {
		*uid = s + 3;
		*uid_len = n - 3;
		return true;
	}
	return false;
}

/* A component a cgroupfs pod<UID> sits under: kubepods, its QoS levels, or
 * ".." (seen from a container with its own cgroup namespace, the path of
 * another container is relative to ours: /../../besteffort/pod<UID>/<id>). */
static bool kube_parent(const char *s, size_t n)
{
	static const char *const names[] = { "kubepods", "besteffort", "burstable", "..", NULL };

	for (int i = 0; names[i]; i++)
		if (n == strlen(names[i]) && memcmp(s, names[i], n) == 0)
			return true;
	return starts(s, n, "kubepods.");
}

/* One cgroup path: fills what it finds; returns 2 with a pod, 1 with an id only, 0. */
static int parse_path(const char *p, size_t len, struct meta_info *out)
{
	const char *end = p + len, *id = NULL, *uid = NULL;
	bool kube = false;
	size_t uid_len = 0;

	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
		const char *cid = component_id(p, n);

		if (cid)
			id = cid; /* the innermost (kind, nested runtimes) */
		else if (component_uid(p, n, kube, &uid, &uid_len))
			id = NULL; /* an id above the pod is the node's own container */
		if (kube_parent(p, n))
			kube = true;
		p += n + 1;
	}
	out->container_id[0] = out->pod_uid[0] = '\0';
	if (id) {
		memcpy(out->container_id, id, META_ID_LEN);
		out->container_id[META_ID_LEN] = '\0';
	}
	for (size_t i = 0; uid && i < uid_len; i++)
		out->pod_uid[i] = uid[i] == '_' ? '-' : uid[i];
	out->pod_uid[uid ? uid_len : 0] = '\0';
	return uid ? 2 : id ? 1 : 0;
}

bool meta_cgroup_parse(const char *text, size_t len, struct meta_info *out)
{
	const char *p = text, *end = text + len;
	int best = 0;

	out->container_id[0] = out->pod_uid[0] = '\0';
	while (p < end && best < 2) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(eol - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		struct meta_info line;
		int got;

		if (c2) {
			got = parse_path(c2 + 1, (size_t)(eol - c2 - 1), &line);
			if (got > best) {
				*out = line;
				best = got;
			}
		}
		p = eol + 1;
	}
	return best > 0;
}

uint64_t meta_stat_start_time(const char *text, size_t len)
{
	const char *p = NULL, *end = text + len;
	uint64_t v = 0;
	int field = 2; /* the field ending at the last ')' is comm, field 2 */

	for (const char *q = text; q < end; q++)
		if (*q == ')')
			p = q + 1;
	if (!p)
		return 0;
	while (p < end && field < 22) {
		if (*p++ == ' ')
			field++;
	}
	if (field != 22)
		return 0;
	while (p < end && *p >= '0' && *p <= '9' && v < UINT64_MAX / 10)
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

/* ---- the cache */

struct meta_cache *meta_cache_new_at(const char *proc_fmt)
{
	struct meta_cache *mc = calloc(1, sizeof(*mc));

	if (mc)
		snprintf(mc->proc_fmt, sizeof(mc->proc_fmt), "%s", proc_fmt);
	return mc;
}

struct meta_cache *meta_cache_new(void)
{
	return meta_cache_new_at("/proc/%u");
}

void meta_cache_free(struct meta_cache *mc)
{
	free(mc);
}

uint64_t meta_cache_reads(const struct meta_cache *mc)
{
	return mc->reads;
}

/* Read /proc/PID/NAME into buf (NUL-terminated); bytes read, -1 if absent. */
static ssize_t read_proc(struct meta_cache *mc, uint32_t pid, const char *name, char *buf,
			 size_t size)
{
	char path[192];
	ssize_t got;
	int fd, o;

	o = snprintf(path, sizeof(path), mc->proc_fmt, pid);
	if (o < 0 || (size_t)o >= sizeof(path) - 16)
		return -1;
	snprintf(path + o, sizeof(path) - (size_t)o, "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1; /* the process is gone */
	got = ht_read_full(fd, buf, size - 1);
	close(fd);
	if (got < 0)
		return -1;
	buf[got] = '\0';
	return got;
}

static uint64_t start_time_of(struct meta_cache *mc, uint32_t pid)
{
	char buf[1024];
	ssize_t n = read_proc(mc, pid, "stat", buf, sizeof(buf));

	return n > 0 ? meta_stat_start_time(buf, (size_t)n) : 0;
}

static void load(struct meta_cache *mc, struct meta_slot *s, uint32_t pid, uint64_t start,
		 uint64_t now_ns)
{
	char buf[META_FILE_MAX];
	ssize_t n = read_proc(mc, pid, "cgroup", buf, sizeof(buf));

	mc->reads++;
	s->used = true;
	s->pid = pid;
	s->start_time = start;
	s->checked_ns = s->loaded_ns = now_ns;
	if (n <= 0 || !meta_cgroup_parse(buf, (size_t)n, &s->info))
		s->info.container_id[0] = s->info.pod_uid[0] = '\0';
}

const struct meta_info *meta_lookup(struct meta_cache *mc, uint32_t pid, uint64_t now_ns)
{
	struct meta_slot *s = &mc->slot[(pid * 2654435761u) & (META_SLOTS - 1)];
	uint64_t start;

	if (!s->used || s->pid != pid) {
		load(mc, s, pid, start_time_of(mc, pid), now_ns);
		return &s->info;
	}
	if (now_ns - s->checked_ns < META_RECHECK_NS)
		return &s->info;
	start = start_time_of(mc, pid);
	s->checked_ns = now_ns;
	if (!start)
		return &s->info; /* exited: what it was is still what it was */
	if (start != s->start_time || now_ns - s->loaded_ns >= META_TTL_NS)
		load(mc, s, pid, start, now_ns);
	return &s->info;
}
