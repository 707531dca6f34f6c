/*
 * meta.h - the container and pod of a process, from /proc/PID/cgroup.
 *
 * Each line of a cgroup file is "ID:CONTROLLERS:PATH" (v1, one per
 * hierarchy) or "0::PATH" (v2).  In a path, kubelet's two cgroup drivers
 * leave (DESIGN §7):
 *   systemd   /kubepods.slice/kubepods-burstable.slice/
 *             kubepods-burstable-pod<UID, '-' written '_'>.slice/
 *             cri-containerd-<64 hex>.scope   (also crio-, docker-)
 *   cgroupfs  /kubepods/besteffort/pod<UID>/<64 hex>
 * and guaranteed pods have no QoS level (kubepods-pod<UID>.slice,
 * /kubepods/pod<UID>/).  Read from inside a container with its own cgroup
 * namespace (the DaemonSet), another container's path is relative to ours
 * and may start with "/../..": the components below are the same.  The container id is the last component that is,
 * or wraps (PREFIX-<id>.scope), exactly 64 hex digits, which is also where
 * Docker and containerd put it outside Kubernetes; the pod UID is the
 * component that names the pod.  A line naming a pod wins over one that
 * does not (a v1 hierarchy the kubelet does not manage may still say
 * "/"), and among equals the first line wins.
 *
 * Each shard owns one cache (no lock), direct-mapped by pid.  An entry is
 * trusted for META_RECHECK_NS; after that the process start time in
 * /proc/PID/stat is compared with the one cached: another start time means
 * the pid was reused and the cgroup file is read again; so is it every
 * META_TTL_NS (a process moved to another cgroup).  A process that has
 * exited keeps its entry (its late records are still its own) until the
 * slot is taken or its pid reappears.  Only live mode looks up: replayed
 * pids are not this host's.
 */
#ifndef HT_META_H
#define HT_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define META_ID_LEN 64      /* container id: hex digits */
#define META_UID_MAX 64     /* pod UID: a 36-byte UUID, or a static pod's hash */
#ifndef META_RECHECK_NS
#define META_RECHECK_NS (1ull * 1000000000ull)
#endif
#ifndef META_TTL_NS
#define META_TTL_NS (10ull * 1000000000ull)
#endif

struct meta_info {
	char container_id[META_ID_LEN + 1]; /* "" if none */
	char pod_uid[META_UID_MAX + 1];     /* "" if none; '-' separated as the API writes it */
};

/* The container id and pod UID in a cgroup file's text (NUL-terminated
 * strings in *out, "" where absent); returns true if a container id or a
 * pod UID was found. */
bool meta_cgroup_parse(const char *text, size_t len, struct meta_info *out);

/* The start time (clock ticks since boot, field 22) in a /proc/PID/stat
 * text; 0 if it cannot be read (comm may hold spaces and parentheses). */
uint64_t meta_stat_start_time(const char *text, size_t len);

struct meta_cache;
struct meta_cache *meta_cache_new(void);
/* The same, reading FMT (printf with one %u for the pid: "/proc/%u") in
 * place of /proc, for tests. */
struct meta_cache *meta_cache_new_at(const char *proc_fmt);
void meta_cache_free(struct meta_cache *mc);
/* What is known of pid (fields "" if nothing); valid until the next call. */
const struct meta_info *meta_lookup(struct meta_cache *mc, uint32_t pid, uint64_t now_ns);

/* Lookups that read the files (tests, and how the cache is doing). */
uint64_t meta_cache_reads(const struct meta_cache *mc);

#endif
