#!/bin/sh
# cpu.sh - CPU per HTTP exchange of http-tracer on live traffic.
#
# wrk -> a private nginx (1 KiB responses, 200s) on loopback, both ends
# traced, default config unless TRACER_ARGS says otherwise.  Two loads:
#   fixed:      wrk -t1 -c16 with a 1 ms Lua delay() between requests
#               (about 9,000 req/s on a 2-core machine: a node's real load)
#   saturating: wrk -t1 -c50, as fast as it goes
# For each: the tracer threads' on-CPU time (/proc/PID/task/*/schedstat,
# first field, ns) and the run time of the tracer's own BPF programs
# (/proc/PID/fdinfo run_time_ns, kernel.bpf_stats_enabled=1), as deltas over
# the wrk run, divided by the requests wrk completed (and by the records
# written, which stays right when other traffic on the host is traced too);
# with a breakdown per thread name (with its runs on a CPU per exchange: schedstat's third
# field, so wakeups show) and per program.  Prints numbers; asserts nothing.
# Run as root from the repo root:  bench/cpu.sh [SECONDS]
# Env: BUILD (build), NGX_PORT (18095), TRACER_ARGS (e.g. --config FILE),
# TRACER (a tracer binary to measure instead of $BUILD/http-tracer, e.g. an
# older build, to compare side by side).
set -eu
BUILD=${BUILD:-build}
DUR=${1:-10}
NGX_PORT=${NGX_PORT:-18095}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/ht-cpu.XXXXXX)
TRACER_PID=
NGX_STARTED=

. "$HERE/nginx.sh"
trap bench_cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] || { echo "cpu: run as root" >&2; exit 1; }
for t in wrk nginx python3; do
	command -v $t >/dev/null || { echo "cpu: $t is missing (make deps)" >&2; exit 1; }
done
if [ -z "${TRACER:-}" ]; then
	make -s "$BUILD/http-tracer" >/dev/null
	TRACER=$BUILD/http-tracer
fi
ngx_start
NGX_STARTED=1
URL=http://127.0.0.1:$NGX_PORT/bench.html
cat > "$WORK/delay.lua" <<'LUA'
function delay() return 1 end
LUA

bpf_stats_on
"$TRACER" -o "$WORK/out.ndjson" ${TRACER_ARGS:-} 2>"$WORK/tracer.log" &
TRACER_PID=$!
tracer_wait_ready "$WORK/tracer.log" || exit 1

# One line per thread (name, on-CPU ns) and per BPF program (tp name,
# run_cnt, run_time_ns) of the tracer.
snapshot() {
	python3 - "$TRACER_PID" "$HERE" <<'PY'
import os, sys
pid = sys.argv[1]
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
        st = open(f"/proc/{pid}/task/{tid}/schedstat").read().split()
    except OSError:
        continue
    print("thread", f"{name}/{tid}", st[2], st[0])
sys.path.insert(0, sys.argv[2])
from bpf_progs import programs
for name, cnt, ns in programs(pid):
    print("bpf", name, cnt, ns)
PY
}

# run LABEL WRK-ARGS...: one measured wrk run; prints the breakdown.
run() {
	label=$1
	shift
	curl -s -o /dev/null "$URL"
	sleep 0.5
	lines0=$(wc -l < "$WORK/out.ndjson")
	snapshot > "$WORK/before"
	wrk "$@" "$URL" > "$WORK/wrk.out"
	sleep 0.5 # the tracer finishes the last records
	snapshot > "$WORK/after"
	sleep 0.3 # the writer's last gathered batches (at most flushIntervalMs)
	lines=$(( $(wc -l < "$WORK/out.ndjson") - lines0 ))
	# with output.rotation, records also went into rotated files: not counted
	ls "$WORK"/out.ndjson.* >/dev/null 2>&1 && lines=-1
	if grep -q "Non-2xx" "$WORK/wrk.out"; then
		echo "cpu: nginx answered errors" >&2
		exit 1
	fi
	python3 - "$label" "$WORK/before" "$WORK/after" "$WORK/wrk.out" "$*" "$lines" <<'PY'
import re, sys
label, bpath, apath, wpath, args, lines = sys.argv[1:7]
lines = int(lines)
def load(p):
    out = {}
    for line in open(p):
        kind, name, cnt, ns = line.split()
        out[(kind, name)] = (int(cnt), int(ns))
    return out
b, a = load(bpath), load(apath)
w = open(wpath).read()
reqs = int(re.search(r"(\d+) requests in", w).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", w).group(1))
threads, slices, progs = {}, {}, {}
for (kind, name), (cnt, ns) in a.items():
    c0, n0 = b.get((kind, name), (0, 0))
    if kind == "thread":
        base = name.split("/")[0]
        threads[base] = threads.get(base, 0) + ns - n0
        slices[base] = slices.get(base, 0) + cnt - c0
    else:
        progs[name] = (cnt - c0, ns - n0)
tns = sum(threads.values())
bns = sum(n for c, n in progs.values())
print(f"== {label}: wrk {args}: {reqs} requests, {rps:.0f} req/s")
print(f"   per exchange: threads {tns / reqs / 1000:.2f} us + BPF {bns / reqs / 1000:.2f} us"
      f" = {(tns + bns) / reqs / 1000:.2f} us")
# records written over the run: 2 per exchange unless other traffic on
# the host was traced too (then per record is the figure that compares)
def per_record(ns):
    return f"{ns / lines:6.0f}" if lines > 0 else "     -"
if lines >= 0:
    print(f"   records {lines} ({lines / reqs:.2f} per exchange): threads {per_record(tns)} ns/record")
else:
    print("   records: not counted (the output rotated during the run)")
for name, ns in sorted(threads.items(), key=lambda t: -t[1]):
    if ns:
        print(f"   thread {name:14s} {ns / reqs / 1000:7.2f} us/exchange  {slices[name] / reqs:5.2f} runs/exchange"
              f"  {per_record(ns)} ns/record")
for name, (c, ns) in sorted(progs.items(), key=lambda t: -t[1][1]):
    if c:
        print(f"   bpf {name:24s} {ns / reqs / 1000:7.2f} us/exchange  {ns / c:6.0f} ns/call  {c / reqs:5.2f} calls/exchange")
PY
}

echo "cpu: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), tracer $TRACER, TRACER_ARGS='${TRACER_ARGS:-}'"
wrk -t1 -c16 -d2s "$URL" >/dev/null # warm-up
run fixed -t1 -c16 -d"${DUR}s" -s "$WORK/delay.lua"
run saturating -t1 -c50 -d"${DUR}s"
