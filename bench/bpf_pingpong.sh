#!/bin/sh
# bpf_pingpong.sh - ns per call of the four data probes of an exchange
# (write, read, writev, recvfrom), side by side for several tracer builds.
#
# For each round and each TRACER given (a capture_dump or http-tracer
# binary; default build/capture_dump), loads it, runs build/pingpong (one
# thread making the syscalls of wrk -> nginx 1 KiB on one loopback
# connection, as fast as it can) for SECONDS, and prints each probe's
# ns/call (bpf_stats deltas from the tracer's own program fds) and the BPF
# ns per exchange.  Hot caches: the cold-cache cost under a paced load is
# bench/cpu.sh's.  The host's other syscalls count too; calls/exchange
# (in parentheses) shows how much.  Prints numbers, asserts nothing.
# Run as root from the repo root:
#   bench/bpf_pingpong.sh [ROUNDS] [SECONDS] [TRACER...]
# Env: BUILD (build), PP_PORT (18095).
set -eu
BUILD=${BUILD:-build}
ROUNDS=${1:-3}
DUR=${2:-3}
[ $# -ge 2 ] && shift 2 || shift $#
[ $# -gt 0 ] || set -- "$BUILD/capture_dump"
PP_PORT=${PP_PORT:-18095}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/ht-pingpong.XXXXXX)
TRACER_PID=

. "$HERE/nginx.sh"
trap bench_cleanup EXIT INT TERM
[ "$(id -u)" -eq 0 ] || { echo "bpf_pingpong: run as root" >&2; exit 1; }
make -s "$BUILD/pingpong" "$BUILD/capture_dump" >/dev/null
bpf_stats_on

for r in $(seq "$ROUNDS"); do
	for t in "$@"; do
		case "$t" in
		*http-tracer*) "$t" -o /dev/null 2>"$WORK/tracer.log" & ;;
		*) "$t" -q -o /dev/null 2>"$WORK/tracer.log" & ;;
		esac
		TRACER_PID=$!
		tracer_wait_ready "$WORK/tracer.log" "^[a-z_-]*: ready" || exit 1
		python3 "$HERE/bpf_progs.py" "$TRACER_PID" > "$WORK/before"
		N=$("$BUILD/pingpong" "$PP_PORT" "$DUR")
		python3 "$HERE/bpf_progs.py" "$TRACER_PID" > "$WORK/after"
		kill -INT "$TRACER_PID"; wait "$TRACER_PID" || true
		TRACER_PID=
		python3 - "$t" "$WORK/before" "$WORK/after" "$N" "$DUR" <<'PY'
import sys
t, bp, ap, n, dur = sys.argv[1:]
n = int(n)
def load(p):
    return {l.split()[0]: (int(l.split()[1]), int(l.split()[2])) for l in open(p)}
b, a = load(bp), load(ap)
out, tot, bad = [], 0, False
for p in ("sys_exit_write", "sys_exit_read", "sys_exit_writev", "sys_exit_recvfrom"):
    c = a.get(p, (0, 0))[0] - b.get(p, (0, 0))[0]
    ns = a.get(p, (0, 0))[1] - b.get(p, (0, 0))[1]
    out.append(f"{p[9:]} {ns / max(c, 1):4.0f} ({c / max(n, 1):.2f})")
    tot += ns
    bad = bad or c < n / 2
print(f"{t}: {n / int(dur):7.0f} exch/s  " + "  ".join(out) +
      f"  | BPF {tot / max(n, 1):5.0f} ns/exchange" +
      ("  INVALID: a probe ran for fewer than half the exchanges" if bad else ""), flush=True)
PY
	done
done
