#!/bin/sh
# bpf_cost.sh - in-kernel cost of the http-tracer probes under HTTP load.
#
# Loads the programs (build/capture_dump -q -o /dev/null, or with
# TRACER=http-tracer the real build/http-tracer -o /dev/null), enables
# kernel.bpf_stats_enabled, runs wrk against a private nginx serving 1 KiB
# responses, and prints for every program: run_cnt, run_time_ns, ns per
# call and calls per request (deltas over the wrk run, read from the
# tracer's own program fds in /proc/PID/fdinfo, so other BPF users on the
# host do not count).  The last lines give the average ns per traced
# syscall (enter + exit) and per request, and wrk's req/s without the
# probes (run first) and with them.  Run as root from the repo root:
#   bench/bpf_cost.sh [SECONDS] [CONNECTIONS]
# Env: BUILD (build), NGX_PORT (18093), TRACER (capture_dump|http-tracer),
# TRACER_ARGS (more arguments of http-tracer, e.g. --config FILE).
set -eu
BUILD=${BUILD:-build}
DUR=${1:-10}
CONNS=${2:-16}
NGX_PORT=${NGX_PORT:-18093}
TRACER=${TRACER:-capture_dump}
WORK=$(mktemp -d /tmp/ht-bpfcost.XXXXXX)
TRACER_PID=
NGX_STARTED=

. "$(dirname "$0")/nginx.sh"
trap bench_cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] || { echo "bpf_cost: run as root" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bpf_cost: wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v nginx >/dev/null || { echo "bpf_cost: nginx is missing: apt-get install nginx-light" >&2; exit 1; }
if [ "$TRACER" = http-tracer ]; then
	make -s "$BUILD/http-tracer" >/dev/null
	set -- "$BUILD/http-tracer" -o /dev/null ${TRACER_ARGS:-}
	READY="^http-tracer: ready:"
else
	make -s "$BUILD/capture_dump" >/dev/null
	set -- "$BUILD/capture_dump" -q -o /dev/null
	READY="^capture_dump: ready"
fi

# ---- nginx: 1 KiB responses, keep-alive (the same private nginx as bench/live.sh)
ngx_start
NGX_STARTED=1

# ---- baseline: the same load without the probes
curl -s -o /dev/null "http://127.0.0.1:$NGX_PORT/bench.html"
wrk -t2 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$NGX_PORT/bench.html" > "$WORK/wrk0.out"
RPS0=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk0.out")

# ---- tracer
bpf_stats_on
"$@" 2>"$WORK/tracer.log" &
TRACER_PID=$!
tracer_wait_ready "$WORK/tracer.log" "$READY" || exit 1

# run_cnt/run_time_ns of every program the tracer holds, by tracepoint
snapshot() {
	python3 "$(dirname "$0")/bpf_progs.py" "$TRACER_PID"
}

curl -s -o /dev/null "http://127.0.0.1:$NGX_PORT/bench.html"
snapshot > "$WORK/before"
wrk -t2 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$NGX_PORT/bench.html" > "$WORK/wrk.out"
snapshot > "$WORK/after"
REQS=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
if grep -q "Non-2xx" "$WORK/wrk.out"; then
	echo "bpf_cost: nginx answered errors:" >&2
	grep "Non-2xx" "$WORK/wrk.out" >&2
	exit 1
fi
RPS=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out")

echo "bpf_cost: wrk -t2 -c$CONNS -d${DUR}s, 1 KiB responses: $RPS0 req/s without probes, $RPS req/s ($REQS requests) with $TRACER loaded and bpf_stats on"
python3 - "$WORK/before" "$WORK/after" "$REQS" <<'PY'
import sys
def load(p):
    out = {}
    for line in open(p):
        name, cnt, ns = line.split()
        out[name] = (int(cnt), int(ns))
    return out
b, a, reqs = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
rows, tc, tn = [], 0, 0
for name in a:
    c = a[name][0] - b.get(name, (0, 0))[0]
    n = a[name][1] - b.get(name, (0, 0))[1]
    rows.append((name, c, n))
    tc += c
    tn += n
print(f"{'program':28s} {'run_cnt':>10s} {'run_time_ns':>13s} {'ns/call':>8s} {'calls/req':>9s}")
for name, c, n in sorted(rows, key=lambda r: -r[2]):
    if not c:
        continue
    print(f"{name:28s} {c:10d} {n:13d} {n / c:8.1f} {c / reqs:9.2f}")
print(f"{'all programs':28s} {tc:10d} {tn:13d} {tn / max(tc, 1):8.1f} {tc / reqs:9.2f}")
# a traced syscall = one enter + one exit invocation
sysc = sum(c for name, c, n in rows if name.startswith("sys_exit_"))
print(f"average per program invocation: {tn / max(tc, 1):.1f} ns; per traced syscall (enter+exit): "
      f"{tn / max(sysc, 1):.1f} ns over {sysc} syscalls; per request: {tn / max(reqs, 1):.1f} ns")
PY
