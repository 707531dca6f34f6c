#!/bin/sh
# run-unit.sh - run every cmocka test binary given; print a closing total.
# Each binary is built with ASan+UBSan; any sanitizer report fails it.
pass=0; fail=0; failed=""
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "$@"; do
	echo "==> $t"
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $t"; fi
done
echo "unit test binaries: $pass passed, $fail failed"
[ -n "$failed" ] && echo "failed:$failed"
[ "$fail" -eq 0 ]
