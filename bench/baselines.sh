#!/bin/sh
# baselines.sh - http-tracer against what its users compare it with, side by
# side in one run, on the loads of bench/cpu.sh: wrk -> a private nginx
# (1 KiB responses, 200s) on loopback.
#
# Tools (each started fresh per round, output to a file):
#   none        untraced
#   http-tracer default config (bodies kept up to 4096 bytes), NDJSON file
#   bpftrace    bench/baselines.bt: the same syscall tracepoints (write,
#               writev, sendto at entry; read, recvfrom at exit), printing
#               64 payload bytes per call of nginx and wrk (comm filter in
#               the kernel: every other process on the host is skipped)
#   httpry      packet logger on lo, request lines and status codes
#   tshark      lo, capture filter on the port, HTTP requests decoded
# Per round (ROUNDS, tools alternate within each round):
#   fixed:      wrk -t1 -c16 with a 1 ms Lua delay() (~9,000 req/s): the
#               machine's busy time (/proc/stat, all CPUs, jiffies minus
#               idle and iowait) over the run, per completed request; the
#               tool's "added CPU" is that minus the untraced figure
#   saturating: wrk -t1 -c50: requests/s, as a ratio to untraced
#   captured:   requests the tool logged on the server side (http-tracer:
#               server-role records; bpftrace: nginx reads starting "GET ";
#               httpry and tshark: request lines) / requests wrk completed,
#               over both loads
# Prints a table; asserts nothing.  The host is shared: compare the rows of
# one run, not runs.  Needs root and `make bench-deps` (bpftrace, httpry,
# tshark); a missing tool is skipped with the reason.
# Run from the repo root:  bench/baselines.sh [SECONDS]
# Env: BUILD (build), ROUNDS (2), NGX_PORT (18600), TOOLS (the list above).
set -eu
BUILD=${BUILD:-build}
DUR=${1:-6}
ROUNDS=${ROUNDS:-2}
NGX_PORT=${NGX_PORT:-18600}
TOOLS=${TOOLS:-none http-tracer bpftrace httpry tshark}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/ht-baselines.XXXXXX)
TOOL_PID=
NGX_STARTED=

stop_tool() {
	[ -n "$TOOL_PID" ] || return 0
	kill -INT "$TOOL_PID" 2>/dev/null || true
	wait "$TOOL_PID" 2>/dev/null || true
	TOOL_PID=
}
cleanup() {
	stop_tool
	[ -n "$NGX_STARTED" ] && ngx_stop
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] || { echo "baselines: run as root" >&2; exit 1; }
for t in wrk nginx python3; do
	command -v $t >/dev/null || { echo "baselines: $t is missing (make deps)" >&2; exit 1; }
done
tools=
for t in $TOOLS; do
	case $t in
	none | http-tracer) tools="$tools $t" ;;
	*) if command -v "$t" >/dev/null; then
		tools="$tools $t"
	else
		echo "baselines: $t SKIPPED: not installed (make bench-deps)" >&2
	fi ;;
	esac
done
make -s "$BUILD/http-tracer" >/dev/null
. "$HERE/nginx.sh"
ngx_start
NGX_STARTED=1
URL=http://127.0.0.1:$NGX_PORT/bench.html
cat > "$WORK/delay.lua" <<'LUA'
function delay() return 1 end
LUA

# wait_file FILE PATTERN: until the tool's log shows it is capturing
wait_file() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$TOOL_PID" 2>/dev/null; then
			echo "baselines: $tool did not start:" >&2
			cat "$1" >&2
			exit 1
		fi
	done
}

# start_tool NAME OUT: the tool capturing into OUT, ready when it returns
start_tool() {
	case $1 in
	none) ;;
	http-tracer)
		"$BUILD/http-tracer" -o "$2" 2>"$2.log" &
		TOOL_PID=$!
		wait_file "$2.log" ready ;;
	bpftrace)
		bpftrace -o "$2" "$HERE/baselines.bt" 2>"$2.log" &
		TOOL_PID=$!
		wait_file "$2" Attaching ;;
	httpry)
		httpry -i lo -q -o "$2" "tcp port $NGX_PORT" >"$2.log" 2>&1 &
		TOOL_PID=$!
		sleep 1 ;;
	tshark)
		tshark -i lo -f "tcp port $NGX_PORT" -l -Y http.request -T fields \
			-e http.request.uri >"$2" 2>"$2.log" &
		TOOL_PID=$!
		wait_file "$2.log" Capturing ;;
	esac
}

# captured NAME OUT: requests the tool logged on the server side
captured() {
	case $1 in
	none) echo 0 ;;
	http-tracer) grep -c '"role":"server"' "$2" || true ;;
	bpftrace) grep -c '^nginx [0-9]* [0-9]* R GET ' "$2" || true ;;
	httpry) grep -c 'GET' "$2" || true ;;
	tshark) grep -c 'bench.html' "$2" || true ;;
	esac
}

busy() {
	awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# wrk_run ARGS...: prints "requests req/s busy_jiffies"
wrk_run() {
	b0=$(busy)
	wrk "$@" "$URL" > "$WORK/wrk.out"
	sleep 0.5 # the tool finishes what the run gave it
	b1=$(busy)
	if grep -q "Non-2xx" "$WORK/wrk.out"; then
		echo "baselines: nginx answered errors" >&2
		exit 1
	fi
	n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/wrk.out")
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$WORK/wrk.out")
	echo "$n $rps $((b1 - b0))"
}

HZ=$(getconf CLK_TCK)
echo "baselines: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), ${DUR}s per run, $ROUNDS rounds, tools:$tools"
curl -s -o /dev/null "$URL"
wrk -t1 -c16 -d2s "$URL" >/dev/null # warm-up
: > "$WORK/results"
for r in $(seq "$ROUNDS"); do
	for tool in $tools; do
		out=$WORK/$tool.$r.out
		start_tool "$tool" "$out"
		fixed=$(wrk_run -t1 -c16 -d"${DUR}s" -s "$WORK/delay.lua")
		sat=$(wrk_run -t1 -c50 -d"${DUR}s")
		sleep 0.5
		stop_tool
		got=$(captured "$tool" "$out")
		echo "$r $tool $fixed $sat $got" >> "$WORK/results"
		echo "  round $r $tool: fixed $fixed | saturating $sat | captured $got" >&2
		rm -f "$out"
	done
done
python3 - "$WORK/results" "$HZ" <<'PY'
import sys
path, hz = sys.argv[1], int(sys.argv[2])
agg = {}
order = []
for line in open(path):
    r, tool, fn, frps, fj, sn, srps, sj, got = line.split()
    a = agg.setdefault(tool, [0, 0.0, 0, 0, 0.0, 0])
    if tool not in order:
        order.append(tool)
    a[0] += int(fn); a[1] += float(frps); a[2] += int(fj)
    a[3] += int(sn); a[4] += float(srps); a[5] += int(got)
rounds = len([1 for l in open(path) if l.split()[1] == order[0]])
base = agg["none"]
base_us = base[2] / hz * 1e6 / base[0]
base_rps = base[4]
print()
print("| tool | fixed: req/s | fixed: busy us/req | fixed: added us/req | saturating: req/s | throughput ratio | captured |")
print("|---|---:|---:|---:|---:|---:|---:|")
for t in order:
    fn, frps, fj, sn, srps, got = agg[t]
    us = fj / hz * 1e6 / fn
    cap = "-" if t == "none" else f"{got / (fn + sn):.4f}"
    added = "-" if t == "none" else f"{us - base_us:.1f}"
    print(f"| {t} | {frps / rounds:,.0f} | {us:.1f} | {added} | {srps / rounds:,.0f} | {srps / base_rps:.2f} | {cap} |")
PY
