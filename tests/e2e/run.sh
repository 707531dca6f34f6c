#!/bin/sh
# run.sh BUILD - end-to-end tests: the real tracer, real BPF programs on this
# kernel, real traffic (the shared conformance suite, nginx driven by curl and
# wrk).  They need root and BPF; without them they say SKIPPED and why.
BUILD=${1:-build}
. "$(dirname "$0")/../../tools/e2e_lock.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export BUILD ROOT
. "$HERE/lib.sh"

banner() { printf '\n==== %s ====\n' "$*"; }

# Checks that need neither root nor BPF.
banner "deploy manifests"
if sh "$ROOT/tests/deploy_lint.sh" "$BUILD"; then pass "deploy: manifests lint and the ConfigMap config loads"; else fail "deploy: manifest checks"; fi

why=""
[ "$(id -u)" -eq 0 ] || why="not running as root (run: sudo make test)"
[ -z "$why" ] && [ ! -r /sys/kernel/btf/vmlinux ] && why="no kernel BTF at /sys/kernel/btf/vmlinux"
[ -z "$why" ] && ! bpftool prog list >/dev/null 2>&1 && why="the bpf() syscall is not permitted here"
if [ -n "$why" ]; then
	banner "END-TO-END TESTS SKIPPED"
	echo "SKIPPED: end-to-end tests need root and BPF: $why"
	echo "SKIPPED: e2e: $E2E_PASS passed, $E2E_FAIL failed; every test that needs root and BPF skipped"
	[ "$E2E_FAIL" -eq 0 ]; exit $?
fi

TMP=$(mktemp -d /tmp/ht-e2e.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export TMP
# Our own metrics port, so a tracer already running on this host (on the
# default 127.0.0.1:9090) never answers for the one under test.
e2e_port E2E_METRICS_PORT; E2E_METRICS=127.0.0.1:$E2E_METRICS_PORT
printf 'metrics:\n  listen: %s\n' "$E2E_METRICS" > "$TMP/e2e.yaml"
export E2E_METRICS

for t in "$HERE"/t_*.sh; do
	banner "$(basename "$t")"
	. "$t"
done

banner "end-to-end summary"
echo "e2e: $E2E_PASS passed, $E2E_FAIL failed, $E2E_SKIP skipped"
[ "$E2E_FAIL" -eq 0 ]
