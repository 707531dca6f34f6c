/* test_meta.c - container ids and pod UIDs from the cgroup file shapes of
 * kubelet's two drivers, the three runtimes and cgroup v1/v2; the per-process
 * cache and its pid-reuse check (a fake /proc tree in a temporary folder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sink/meta.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID "5c1e9a3b-7f2d-4c1a-9e8b-0d6f4a2b1c3e"
#define UID_ "5c1e9a3b_7f2d_4c1a_9e8b_0d6f4a2b1c3e"

struct shape {
	const char *label, *text, *want_id, *want_uid;
};

static const struct shape shapes[] = {
	{ "v2 systemd burstable containerd",
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID ".scope\n",
	  ID, UID },
	{ "v2 systemd besteffort cri-o",
	  "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/crio-" ID ".scope\n",
	  ID, UID },
	{ "v2 systemd guaranteed docker (no QoS level)",
	  "0::/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" ID ".scope\n", ID, UID },
	{ "v2 systemd cri-o conmon beside the container",
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/crio-conmon-" ID ".scope\n",
	  ID, UID },
	{ "v1 systemd driver, every hierarchy",
	  "12:pids:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID ".scope\n"
	  "11:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID ".scope\n"
	  "1:name=systemd:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID ".scope\n"
	  "0::/\n",
	  ID, UID },
	{ "v1 cgroupfs besteffort",
	  "3:cpu,cpuacct:/kubepods/besteffort/pod" UID "/" ID "\n", ID, UID },
	{ "v1 cgroupfs burstable",
	  "8:pids:/kubepods/burstable/pod" UID "/" ID "\n", ID, UID },
	{ "v1 cgroupfs guaranteed (no QoS level)",
	  "4:memory:/kubepods/pod" UID "/" ID "\n", ID, UID },
	{ "v2 cgroupfs", "0::/kubepods/besteffort/pod" UID "/" ID "\n", ID, UID },
	{ "hybrid: the pod only in one v1 hierarchy, others at the root",
	  "9:name=systemd:/\n8:pids:/kubepods/besteffort/pod" UID "/" ID "\n0::/\n", ID, UID },
	{ "hybrid: a plain line before the pod's line loses to it",
	  "4:memory:/docker/" ID2 "\n0::/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope\n",
	  ID, UID },
	{ "the pod's own cgroup (no container)",
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice\n", "", UID },
	{ "static pod: its UID is a 32-hex hash",
	  "0::/kubepods/burstable/pod6f0d6a6a5b1e4c0d9f8e7a6b5c4d3e2f/" ID "\n", ID,
	  "6f0d6a6a5b1e4c0d9f8e7a6b5c4d3e2f" },
	{ "kind: the node's container id above the pod is not the container",
	  "0::/docker/" ID2 "/kubepods/besteffort/pod" UID "/" ID "\n", ID, UID },
	{ "seen from another pod's cgroup namespace (systemd)",
	  "0::/../../kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" ID ".scope\n", ID, UID },
	{ "seen from another pod's cgroup namespace (cgroupfs, QoS level visible)",
	  "0::/../../../besteffort/pod" UID "/" ID "\n", ID, UID },
	{ "seen from another pod's cgroup namespace (cgroupfs, guaranteed)",
	  "0::/../../pod" UID "/" ID "\n", ID, UID },
	{ "docker outside kubernetes, v2", "0::/system.slice/docker-" ID ".scope\n", ID, "" },
	{ "docker outside kubernetes, v1", "12:pids:/docker/" ID "\n11:memory:/docker/" ID "\n", ID, "" },
	{ "pod<...> outside kubepods is not a pod", "0::/pod" UID "/" ID "\n", ID, "" },
	{ "a UID with other letters is not one",
	  "0::/kubepods.slice/kubepods-podxyz.slice/cri-containerd-" ID ".scope\n", ID, "" },
	{ "host process", "0::/user.slice/user-0.slice/session-1.scope\n", "", "" },
	{ "init", "0::/init.scope\n", "", "" },
	{ "65 hex digits is not an id", "0::/x-" ID "0.scope\n", "", "" },
	{ "63 hex digits is not an id",
	  "0::/x-123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope\n", "", "" },
	{ "hex glued to a name is not an id", "0::/x" ID ".scope\n", "", "" },
	{ "no colons: not a cgroup line", "/kubepods/pod" UID "/" ID "\n", "", "" },
	{ "no final newline",
	  "0::/kubepods/besteffort/pod" UID "/" ID, ID, UID },
	{ "empty", "", "", "" },
};

static void test_shapes(void **state)
{
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct shape *t = &shapes[i];
		struct meta_info mi;
		bool got;

		memset(&mi, 'x', sizeof(mi));
		print_message("%s\n", t->label);
		got = meta_cgroup_parse(t->text, strlen(t->text), &mi);
		assert_string_equal(mi.container_id, t->want_id);
		assert_string_equal(mi.pod_uid, t->want_uid);
		assert_int_equal(got, *t->want_id || *t->want_uid);
	}
}

/* Every prefix of every shape parses without reading past it (ASan). */
static void test_prefixes(void **state)
{
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		size_t len = strlen(shapes[i].text);

		for (size_t n = 0; n <= len; n++) {
			char *copy = malloc(n ? n : 1);
			struct meta_info mi;

			memcpy(copy, shapes[i].text, n);
			meta_cgroup_parse(copy, n, &mi);
			assert_true(strlen(mi.container_id) == 0 || strlen(mi.container_id) == META_ID_LEN);
			assert_true(strlen(mi.pod_uid) <= META_UID_MAX);
			free(copy);
		}
	}
}

static void test_stat_start_time(void **state)
{
	static const char stat[] = "4711 (we(ird) c) S 1 4711 4711 0 -1 4194560 100 0 0 0 "
				   "1 2 0 0 20 0 1 0 987654 1234567 100 18446744073709551615\n";

	assert_int_equal(meta_stat_start_time(stat, strlen(stat)), 987654);
	assert_int_equal(meta_stat_start_time("4711 (x) S 1", 12), 0); /* cut short */
	assert_int_equal(meta_stat_start_time("garbage", 7), 0);
	assert_int_equal(meta_stat_start_time("", 0), 0);
}

/* ---- the cache, on a fake /proc */

static char root[64];

static void put(uint32_t pid, const char *name, const char *text)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u", root, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%u/%s", root, pid, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void put_stat(uint32_t pid, unsigned long long start)
{
	char text[256];

	snprintf(text, sizeof(text), "%u (srv) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 0\n",
		 pid, start);
	put(pid, "stat", text);
}

static void gone(uint32_t pid)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%u/stat", root, pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%u/cgroup", root, pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%u", root, pid);
	rmdir(path);
}

static void test_cache_reuse(void **state)
{
	struct meta_cache *mc;
	char fmt[96];
	uint64_t t = 5;
	const struct meta_info *mi;

	snprintf(root, sizeof(root), "/tmp/ht-meta-test.XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(fmt, sizeof(fmt), "%s/%%u", root);
	mc = meta_cache_new_at(fmt);
	assert_non_null(mc);

	put_stat(100, 1000);
	put(100, "cgroup", "0::/kubepods/besteffort/pod" UID "/" ID "\n");
	mi = meta_lookup(mc, 100, t);
	assert_string_equal(mi->container_id, ID);
	assert_string_equal(mi->pod_uid, UID);
	assert_int_equal(meta_cache_reads(mc), 1);

	/* within the recheck window: no file is read, whatever changed */
	put(100, "cgroup", "0::/user.slice\n");
	mi = meta_lookup(mc, 100, t + META_RECHECK_NS - 1);
	assert_string_equal(mi->pod_uid, UID);
	assert_int_equal(meta_cache_reads(mc), 1);

	/* after it, the same start time: the entry stands (below the TTL) */
	t += META_RECHECK_NS;
	mi = meta_lookup(mc, 100, t);
	assert_string_equal(mi->pod_uid, UID);
	assert_int_equal(meta_cache_reads(mc), 1);

	/* the pid reused: another start time, the cgroup read again */
	put_stat(100, 2000);
	put(100, "cgroup", "0::/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID2 ".scope\n");
	t += META_RECHECK_NS;
	mi = meta_lookup(mc, 100, t);
	assert_string_equal(mi->container_id, ID2);
	assert_int_equal(meta_cache_reads(mc), 2);

	/* the process exits: its late records keep what it was */
	gone(100);
	t += META_RECHECK_NS;
	mi = meta_lookup(mc, 100, t);
	assert_string_equal(mi->container_id, ID2);
	assert_string_equal(mi->pod_uid, UID);

	/* a pid never seen and absent: nothing */
	mi = meta_lookup(mc, 101, t);
	assert_string_equal(mi->container_id, "");
	assert_string_equal(mi->pod_uid, "");

	/* the TTL re-reads even with the same start time (moved cgroup) */
	put_stat(102, 7);
	put(102, "cgroup", "0::/user.slice\n");
	assert_string_equal(meta_lookup(mc, 102, t)->pod_uid, "");
	put(102, "cgroup", "0::/kubepods/pod" UID "/" ID "\n");
	assert_string_equal(meta_lookup(mc, 102, t + META_TTL_NS)->pod_uid, UID);

	meta_cache_free(mc);
	gone(101);
	gone(102);
	rmdir(root);
}

static void test_self(void **state)
{
	struct meta_cache *mc = meta_cache_new();
	const struct meta_info *mi;

	assert_non_null(mc);
	mi = meta_lookup(mc, (uint32_t)getpid(), 1);
	assert_true(strlen(mi->container_id) == 0 || strlen(mi->container_id) == META_ID_LEN);
	assert_string_equal(meta_lookup(mc, 0x7ffffff0u, 1)->container_id, ""); /* no such pid */
	meta_cache_free(mc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_stat_start_time),
		cmocka_unit_test(test_cache_reuse),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
