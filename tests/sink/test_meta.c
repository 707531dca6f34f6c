/* test_meta.c - container ids from real cgroup file shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sink/meta.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect(const char *label, const char *text, const char *want)
{
	char out[META_ID_LEN + 1];
	size_t n = meta_container_id_parse(text, strlen(text), out);

	print_message("%s\n", label);
	assert_int_equal(n, strlen(want));
	assert_string_equal(out, want);
}

static void test_shapes(void **state)
{
	expect("cgroup v2 containerd under kubepods",
	       "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5c1e_9a.slice/cri-containerd-" ID ".scope\n", ID);
	expect("cgroup v2 cri-o", "0::/kubepods.slice/kubepods-besteffort.slice/crio-" ID ".scope\n", ID);
	expect("cgroup v2 docker", "0::/system.slice/docker-" ID ".scope\n", ID);
	expect("cgroup v1 docker", "12:pids:/docker/" ID "\n11:memory:/docker/" ID "\n", ID);
	expect("cgroup v1 kubepods cgroupfs driver", "3:cpu:/kubepods/burstable/pod1234/" ID "\n", ID);
	expect("host process", "0::/user.slice/user-0.slice/session-1.scope\n", "");
	expect("init", "0::/init.scope\n", "");
	expect("65 hex digits is not an id", "0::/x-" ID "0.scope\n", "");
	expect("63 hex digits is not an id", "0::/x-" "123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" ".scope\n", "");
	expect("empty", "", "");
}

static void test_cache_and_self(void **state)
{
	struct meta_cache *mc = meta_cache_new();
	const char *id;

	assert_non_null(mc);
	id = meta_container_id(mc, (uint32_t)getpid(), 1);
	assert_non_null(id); /* "" on a host, an id inside a container */
	assert_true(strlen(id) == 0 || strlen(id) == META_ID_LEN);
	assert_string_equal(meta_container_id(mc, 0x7ffffff0u, 1), ""); /* no such pid */
	meta_cache_free(mc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_cache_and_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
