/*
 * test_capture.c - what src/source/capture.c states without loading BPF:
 * every kernel counter slot of include/ht_kstats.h has a name, the filter
 * slots are exactly the first HT_KS_NR_FILTERS of them, and the counters
 * handed to metrics have room for every filter slot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ht_kstats.h"
#include "source/capture.h"

static void test_every_slot_named(void **state)
{
	for (int i = 0; i < HT_KS_MAX; i++) {
		const char *nm = capture_kstat_name(i);

		if (!nm || !*nm)
			fail_msg("kernel counter slot %d (include/ht_kstats.h) has no name in capture.c", i);
		for (int j = 0; j < i; j++)
			if (strcmp(nm, capture_kstat_name(j)) == 0)
				fail_msg("slots %d and %d are both named %s", j, i, nm);
	}
	assert_null(capture_kstat_name(HT_KS_MAX));
	assert_null(capture_kstat_name(-1));
	assert_string_equal(capture_kstat_name(HT_KS_CONNS_EVICTED), "conns_evicted");
	assert_string_equal(capture_kstat_name(HT_KS_PROTOCOL), "protocol");
}

static void test_filter_slots(void **state)
{
	struct capture_counters kc;

	for (int i = 0; i < HT_KS_NR_FILTERS; i++)
		assert_string_equal(capture_filter_name(i), capture_kstat_name(i));
	assert_null(capture_filter_name(HT_KS_NR_FILTERS));
	assert_int_equal(sizeof(kc.filtered) / sizeof(kc.filtered[0]), HT_KS_NR_FILTERS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_slot_named),
		cmocka_unit_test(test_filter_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
