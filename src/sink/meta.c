/* meta.c - container ids from /proc/PID/cgroup; see meta.h. */
#include "meta.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define META_SLOTS 4096 /* power of two; a collision just evicts */

struct meta_slot {
	uint32_t pid;
	uint64_t expires_ns;
	char id[META_ID_LEN + 1];
};

struct meta_cache {
	struct meta_slot slot[META_SLOTS];
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

size_t meta_container_id_parse(const char *text, size_t len, char out[META_ID_LEN + 1])
{
	size_t run = 0, best_end = 0;

	for (size_t i = 0; i < len; i++) {
		run = is_hex(text[i]) ? run + 1 : 0;
		/* exactly 64: longer hex runs are not container ids */
		if (run == META_ID_LEN && (i + 1 == len || !is_hex(text[i + 1])))
			best_end = i + 1;
	}
	out[0] = '\0';
	if (!best_end)
		return 0;
	memcpy(out, text + best_end - META_ID_LEN, META_ID_LEN);
	out[META_ID_LEN] = '\0';
	return META_ID_LEN;
}

struct meta_cache *meta_cache_new(void)
{
	return calloc(1, sizeof(struct meta_cache));
}

void meta_cache_free(struct meta_cache *mc)
{
	free(mc);
}

static void lookup(uint32_t pid, char out[META_ID_LEN + 1])
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* the process is gone: no metadata */
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0)
		meta_container_id_parse(buf, (size_t)n, out);
}

const char *meta_container_id(struct meta_cache *mc, uint32_t pid, uint64_t now_ns)
{
	struct meta_slot *s = &mc->slot[(pid * 2654435761u) & (META_SLOTS - 1)];

	if (s->pid != pid || now_ns >= s->expires_ns) {
		lookup(pid, s->id);
		s->pid = pid;
		s->expires_ns = now_ns + META_TTL_NS;
	}
	return s->id;
}
