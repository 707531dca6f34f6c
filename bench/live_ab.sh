#!/bin/sh
# live_ab.sh OLD_BINARY - saturation throughput of two tracer builds side by
# side: each round runs wrk -> nginx (1 KiB, loopback) untraced, then with
# OLD_BINARY and with $BUILD/http-tracer (the order alternating between
# rounds), and prints each build's requests/s and its ratio to the round's
# untraced run.  Prints numbers; asserts nothing.  Needs root.
# Env: BUILD (build), ROUNDS (4), DUR (8), CONNS (32), NGX_PORT (18089),
# OUT (the tracers' output; default a file in a temporary directory, e.g.
# OUT=/dev/null to leave the file system out), TRACER_ARGS.
set -u
OLD=${1:?usage: bench/live_ab.sh OLD_BINARY}
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-4}
DUR=${DUR:-8}
CONNS=${CONNS:-32}
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "live_ab: run as root" >&2; exit 1; }
. "$HERE/nginx.sh"
ngx_start || exit 1
NGX_STARTED=1
WORK=$(mktemp -d /tmp/ht-live-ab.XXXXXX)
trap bench_cleanup EXIT INT TERM
URL=http://127.0.0.1:$NGX_PORT/bench.html
OUTP=${OUT:-$WORK/out.ndjson}

rate() { wrk -t1 -c"$CONNS" -d"${DUR}s" "$URL" | awk '/Requests\/sec/ {print $2}'; }
# traced BINARY: requests/s with that tracer running
traced() {
	"$1" -o "$OUTP" ${TRACER_ARGS:-} 2>"$WORK/log" &
	TRACER_PID=$!
	tracer_wait_ready "$WORK/log" || exit 1
	r=$(rate)
	kill -INT "$TRACER_PID"; wait "$TRACER_PID"
	TRACER_PID=
	[ "$OUTP" = /dev/null ] || rm -f "$OUTP"
	echo "$r"
}
echo "live_ab: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ); wrk -t1 -c$CONNS -d${DUR}s; old $OLD, new $BUILD/http-tracer; output $OUTP"
rate >/dev/null # warm-up
for r in $(seq "$ROUNDS"); do
	u=$(rate)
	if [ $((r % 2)) -eq 1 ]; then o=$(traced "$OLD"); n=$(traced "$BUILD/http-tracer")
	else n=$(traced "$BUILD/http-tracer"); o=$(traced "$OLD"); fi
	echo "round $r: untraced $u req/s, old $o ($(echo "$o / $u" | bc -l | cut -c1-5)), new $n ($(echo "$n / $u" | bc -l | cut -c1-5))"
done
