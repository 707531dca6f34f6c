/*
 * meta.h - container metadata of a process, from /proc/PID/cgroup.
 *
 * The container id is the last run of 64 hex digits in the process's cgroup
 * path, which is where Docker (docker-ID.scope, /docker/ID), containerd
 * (cri-containerd-ID.scope) and CRI-O (crio-ID.scope) put it, under
 * kubepods slices or not, cgroup v1 or v2.  Pod and namespace names need
 * the Kubernetes API and are not looked up here.
 *
 * Each shard owns one cache (no lock): pid -> id, kept for META_TTL_NS so a
 * reused pid is looked up again; a process without a container is cached
 * as "".  Only live mode looks up: replayed pids are not this host's.
 */
#ifndef HT_META_H
#define HT_META_H

#include <stddef.h>
#include <stdint.h>

#define META_ID_LEN 64
#ifndef META_TTL_NS
#define META_TTL_NS (10ull * 1000000000ull)
#endif

/* The container id in a cgroup file's text, copied to out (NUL-terminated);
 * returns its length, 0 if there is none. */
size_t meta_container_id_parse(const char *text, size_t len, char out[META_ID_LEN + 1]);

struct meta_cache;
struct meta_cache *meta_cache_new(void);
void meta_cache_free(struct meta_cache *mc);
/* The container id of pid ("" if none or unknown); valid until the next call. */
const char *meta_container_id(struct meta_cache *mc, uint32_t pid, uint64_t now_ns);

#endif
