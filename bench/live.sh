#!/bin/sh
# live.sh BUILD - wrk -> nginx (1 KiB responses) on loopback, with and without
# the tracer, alternating runs side by side; prints the throughput ratio and
# the share of requests that got their server-role record.  Needs root.
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
set -u
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: live benchmark needs root"; exit 0; }
. "$HERE/nginx.sh"
DUR=${DUR:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
ngx_start || exit 1
NGX_STARTED=1
WORK=$(mktemp -d /tmp/ht-live.XXXXXX)
trap bench_cleanup EXIT INT TERM
URL=http://127.0.0.1:$NGX_PORT/bench.html
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ); wrk -t1 -c$CONNS -d${DUR}s $URL"
wrk -t1 -c"$CONNS" -d2s "$URL" >/dev/null   # warm-up
base_sum=0; with_sum=0; cap_req=0; cap_rec=0
for r in $(seq 1 "$ROUNDS"); do
	b=$(wrk -t1 -c"$CONNS" -d"${DUR}s" "$URL" | awk '/Requests\/sec/ {print $2}')
	OUTF=$(mktemp /tmp/ht-live.XXXXXX.ndjson)
	tracer_start "$OUTF" || exit 1
	wrk -t1 -c"$CONNS" -d"${DUR}s" "$URL" > "$OUTF.wrk"
	sleep 1
	tracer_stop
	TRACER_PID=
	t=$(awk '/Requests\/sec/ {print $2}' "$OUTF.wrk")
	n=$(awk '/requests in/ {print $1}' "$OUTF.wrk")
	# only this nginx's port: the tracer sees every process on the host
	got=$(python3 -c 'import json,sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l) if l.strip() else {}
    n += r.get("role") == "server" and r.get("local_port") == int(sys.argv[2]) and r.get("path") == "/bench.html"
print(n)' "$OUTF" "$NGX_PORT")
	echo "round $r: without $b req/s, with $t req/s, ratio $(echo "$t / $b" | bc -l | cut -c1-5); captured $got of $n server-side"
	base_sum=$(echo "$base_sum + $b" | bc -l); with_sum=$(echo "$with_sum + $t" | bc -l)
	cap_req=$((cap_req + n)); cap_rec=$((cap_rec + got))
	rm -f "$OUTF" "$OUTF.wrk" "$OUTF.log"
done
echo "overall: throughput ratio with/without = $(echo "$with_sum / $base_sum" | bc -l | cut -c1-5), server-role records = $(echo "100 * $cap_rec / $cap_req" | bc -l | cut -c1-7)% of completed requests"
