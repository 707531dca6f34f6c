#!/bin/sh
# baselines.sh - http-tracer against what its users compare it with, side by
# side in one run, on the loads of bench/cpu.sh: wrk -> a private nginx
# (1 KiB responses, 200s) on loopback.
#
# Tools (each started fresh for every wrk run, output to a file, limited to
# this benchmark's nginx and wrk so that other work on a shared host is
# neither traced nor counted):
#   none        untraced
#   http-tracer default config (bodies kept up to 4096 bytes) plus
#               filtering.kernel.pids = the nginx worker and wrk; NDJSON file
#   bpftrace    bench/baselines.bt: the same syscall tracepoints (write,
#               writev, sendto at entry; read, recvfrom at exit), printing
#               64 payload bytes per call of the same two pids
#   httpry      packet logger on lo (capture filter: the port), request
#               lines and status codes
#   tshark      lo, capture filter on the port, HTTP requests decoded
# Loads, per round (ROUNDS; the tools alternate within each round):
#   fixed:      wrk -t1 -c16 with a 1 ms Lua delay() (~9,000 req/s)
#   saturating: wrk -t1 -c50
# Figures:
#   CPU us/req, fixed load: CPU time of a cpuacct cgroup holding nginx, wrk
#               and the tool with its children (tshark's dumpcap), over the
#               run plus 0.5 s, per completed request; "added" is that minus
#               the untraced figure.  It holds the BPF programs and the
#               kernel's loopback work done in their syscalls; not kernel
#               threads (writeback of the tools' files).
#   busy us/req, fixed load: the machine's busy time (/proc/stat, all CPUs,
#               jiffies minus idle and iowait) per request, as the issue
#               measured it; meaningless when other work fills the idle
#               time (the table says how busy the CPUs were untraced)
#   throughput ratio: saturating requests/s / untraced requests/s
#   captured:   requests the tool logged on the server side (http-tracer:
#               server-role records; bpftrace: nginx reads starting "GET ";
#               httpry and tshark: request lines) / requests wrk completed,
#               both loads (requests in flight at wrk's end count as
#               captured but not completed: a share can pass 1 slightly)
# Prints a table; asserts nothing.  Needs root, cgroup v1 cpuacct and `make
# bench-deps` (bpftrace, httpry, tshark); a missing tool is skipped, saying so.
# Run from the repo root:  bench/baselines.sh [SECONDS]
# Env: BUILD (build), ROUNDS (2), NGX_PORT (18600), TOOLS (the list above).
set -eu
BUILD=${BUILD:-build}
DUR=${1:-8}
ROUNDS=${ROUNDS:-2}
NGX_PORT=${NGX_PORT:-18600}
TOOLS=${TOOLS:-none http-tracer bpftrace httpry tshark}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/ht-baselines.XXXXXX)
CG=/sys/fs/cgroup/cpuacct/ht-baselines-$$
TOOL_PID=
WRK_PID=
NGX_STARTED=

stop_tool() {
	[ -n "$TOOL_PID" ] || return 0
	kill -INT "$TOOL_PID" 2>/dev/null || true
	wait "$TOOL_PID" 2>/dev/null || true
	TOOL_PID=
}
cleanup() {
	[ -n "$WRK_PID" ] && kill -KILL "$WRK_PID" 2>/dev/null
	stop_tool
	[ -n "$NGX_STARTED" ] && ngx_stop
	if [ -d "$CG" ]; then
		for p in $(cat "$CG/cgroup.procs"); do
			echo "$p" > /sys/fs/cgroup/cpuacct/cgroup.procs 2>/dev/null || true
		done
		rmdir "$CG"
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] || { echo "baselines: run as root" >&2; exit 1; }
for t in wrk nginx python3; do
	command -v $t >/dev/null || { echo "baselines: $t is missing (make deps)" >&2; exit 1; }
done
[ -d /sys/fs/cgroup/cpuacct ] || { echo "baselines: needs the cgroup v1 cpuacct hierarchy" >&2; exit 1; }
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
mkdir "$CG"
. "$HERE/nginx.sh"
ngx_start
NGX_STARTED=1
NGX_MASTER=$(cat "$NGX_DIR/nginx.pid")
NGX_WORKER=$(pgrep -P "$NGX_MASTER" | head -1)
for p in $NGX_MASTER $NGX_WORKER; do echo "$p" > "$CG/cgroup.procs"; done
URL=http://127.0.0.1:$NGX_PORT/bench.html
cat > "$WORK/delay.lua" <<'LUA'
function delay() return 1 end
LUA

# wait_for FILE PATTERN: until the tool's output shows it is capturing
wait_for() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$TOOL_PID" 2>/dev/null; then
			echo "baselines: $tool did not start:" >&2
			cat "$1" "$1.log" >&2 2>/dev/null
			exit 1
		fi
	done
}

# in_cg CMD... &: CMD inside the cgroup (its children follow); the
# function's subshell execs, so $! is CMD's pid.  Only in the background.
in_cg() {
	exec sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@"
}

# start_tool NAME OUT: the tool capturing the nginx worker and WRK_PID
# into OUT; ready when it returns
start_tool() {
	case $1 in
	none) ;;
	http-tracer)
		printf 'filtering:\n  kernel:\n    pids: [%s, %s]\n' "$NGX_WORKER" "$WRK_PID" > "$2.yaml"
		in_cg "$BUILD/http-tracer" --config "$2.yaml" -o "$2" >"$2.log" 2>&1 &
		TOOL_PID=$!
		wait_for "$2.log" ready ;;
	bpftrace)
		in_cg bpftrace -o "$2" "$HERE/baselines.bt" "$NGX_WORKER" "$WRK_PID" >"$2.log" 2>&1 &
		TOOL_PID=$!
		wait_for "$2" Attaching ;;
	httpry)
		in_cg httpry -i lo -q -o "$2" "tcp port $NGX_PORT" >"$2.log" 2>&1 &
		TOOL_PID=$!
		sleep 1 ;;
	tshark)
		in_cg tshark -i lo -f "tcp port $NGX_PORT" -l -Y http.request -T fields \
			-e http.request.uri >"$2" 2>"$2.log" &
		TOOL_PID=$!
		wait_for "$2.log" Capturing ;;
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

# busy and total jiffies of all CPUs
busy() {
	awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

# run TOOL ARGS...: one wrk run with TOOL capturing it; prints "requests
# req/s cgroup_ns busy_jiffies all_jiffies captured"
run() {
	tool=$1
	shift
	out=$WORK/$tool.out
	# wrk waits stopped inside the cgroup so that its pid is known first
	in_cg sh -c 'kill -STOP $$; exec wrk "$@"' wrk "$@" "$URL" > "$WORK/wrk.out" &
	WRK_PID=$!
	i=0
	while [ "$(awk '{ print $3 }' "/proc/$WRK_PID/stat")" != T ]; do
		sleep 0.05; i=$((i + 1))
		[ $i -lt 200 ] || { echo "baselines: wrk did not start" >&2; exit 1; }
	done
	start_tool "$tool" "$out"
	set -- $(busy)
	b0=$1 a0=$2 c0=$(cat "$CG/cpuacct.usage")
	kill -CONT "$WRK_PID"
	wait "$WRK_PID"
	WRK_PID=
	sleep 0.5 # the tool finishes what the run gave it
	set -- $(busy)
	b1=$1 a1=$2 c1=$(cat "$CG/cpuacct.usage")
	stop_tool
	if grep -q "Non-2xx" "$WORK/wrk.out"; then
		echo "baselines: nginx answered errors" >&2
		exit 1
	fi
	n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/wrk.out")
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$WORK/wrk.out")
	echo "$n $rps $((c1 - c0)) $((b1 - b0)) $((a1 - a0)) $(captured "$tool" "$out")"
	rm -f "$out" "$out.log" "$out.yaml"
}

HZ=$(getconf CLK_TCK)
echo "baselines: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), ${DUR}s per run, $ROUNDS rounds, tools:$tools"
curl -s -o /dev/null "$URL"
wrk -t1 -c16 -d2s "$URL" >/dev/null # warm-up
: > "$WORK/results"
for r in $(seq "$ROUNDS"); do
	for tool in $tools; do
		fixed=$(run "$tool" -t1 -c16 -d"${DUR}s" -s "$WORK/delay.lua")
		sat=$(run "$tool" -t1 -c50 -d"${DUR}s")
		echo "$r $tool $fixed $sat" >> "$WORK/results"
		echo "  round $r $tool: fixed $fixed | saturating $sat" >&2
	done
done
python3 - "$WORK/results" "$HZ" <<'PY'
import sys
path, hz = sys.argv[1], int(sys.argv[2])
agg, order = {}, []
for line in open(path):
    f = line.split()
    tool, v = f[1], [float(x) for x in f[2:]]
    # fixed: n rps cg_ns busy all got | saturating: n rps cg_ns busy all got
    if tool not in order:
        order.append(tool)
    a = agg.setdefault(tool, [0.0] * len(v))
    for i, x in enumerate(v):
        a[i] += x
rounds = sum(1 for l in open(path) if l.split()[1] == order[0])
base = agg.get("none")
if not base:
    sys.exit("baselines: no untraced runs to compare with")
cpu = lambda a: a[2] / 1e3 / a[0]
busy = lambda a: a[3] / hz * 1e6 / a[0]
print()
print("| tool | fixed: req/s | CPU us/req (cgroup) | added | busy us/req (/proc/stat) | added | saturating: req/s | throughput ratio | captured |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for t in order:
    a = agg[t]
    add = lambda f: "-" if t == "none" else f"{f(a) - f(base):+.1f}"
    cap = "-" if t == "none" else f"{(a[5] + a[11]) / (a[0] + a[6]):.4f}"
    print(f"| {t} | {a[1] / rounds:,.0f} | {cpu(a):.1f} | {add(cpu)} | {busy(a):.1f} | {add(busy)}"
          f" | {a[7] / rounds:,.0f} | {a[7] / base[7]:.2f} | {cap} |")
load = base[3] / base[4]
print(f"\nuntraced, fixed load: the CPUs were {100 * load:.0f}% busy"
      + (" (other work on the host: the /proc/stat columns are not the tools' cost)" if load > 0.9 else ""))
PY
