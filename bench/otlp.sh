#!/bin/sh
# otlp.sh [BUILD] [SPANS] [ROUNDS] - spans/s one OTLP exporter sustains and
# its CPU per span (build/otlp_bench, see bench/otlp_bench.c), for the four
# wire choices side by side, alternating, ROUNDS times (default 3) with
# SPANS spans each (default 200000).  The receiver is a private nginx whose
# /v1/traces answers 200 without looking at the body (127.0.0.1:18230), so
# the exporter, not a decoder, is what is measured; nginx runs on the same
# cores, so spans/s is a lower bound.  Nothing here asserts a number.
set -u
BUILD=${1:-build}
SPANS=${2:-200000}
ROUNDS=${3:-3}
PORT=18230
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
make -s -C "$ROOT" BUILD="$BUILD" "$BUILD/otlp_bench" || exit 1
D=$(mktemp -d /tmp/ht-otlp-bench.XXXXXX)
trap 'kill "$(cat "$D/nginx.pid" 2>/dev/null)" 2>/dev/null; rm -rf "$D"' EXIT
mkdir -p "$D/tmp"
cat > "$D/nginx.conf" <<NGX
worker_processes 1;
pid $D/nginx.pid;
error_log $D/error.log;
daemon on;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $D/tmp;
	client_max_body_size 64m;
	client_body_buffer_size 1m;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$PORT;
		location = /v1/traces { return 200; }
	}
}
NGX
nginx -c "$D/nginx.conf" -e "$D/error.log" || { echo "otlp.sh: nginx did not start"; exit 1; }
sleep 0.3
echo "otlp_bench: $SPANS spans per run, $ROUNDS rounds, receiver nginx 'return 200' on 127.0.0.1:$PORT"
for r in $(seq 1 "$ROUNDS"); do
	for m in pb-gzip pb json-gzip json; do
		"$ROOT/$BUILD/otlp_bench" "http://127.0.0.1:$PORT/v1/traces" "$SPANS" "$m" | tee -a "$D/runs.txt"
	done
done
echo
echo "best of $ROUNDS (highest spans/s, lowest CPU per span; export = submit + sender thread):"
awk '{ m = $1; sps = $9; cpu = $13; enc = $11; b = $15
	if (!(m in best) || sps > best[m]) best[m] = sps
	if (!(m in low) || cpu < low[m]) low[m] = cpu
	if (!(m in le) || enc < le[m]) le[m] = enc
	by[m] = b; nd = $21; if (!(0 in lnd) || nd < lnd[0]) lnd[0] = nd }
     END { printf "%-10s %12s %18s %16s %12s\n", "mode", "spans/s", "export cpu ns/span", "encode ns/span", "bytes/span"
	   split("pb-gzip pb json-gzip json", o, " ")
	   for (i = 1; i <= 4; i++) if (o[i] in best)
		printf "%-10s %12.0f %18.0f %16.0f %12.0f\n", o[i], best[o[i]], low[o[i]], le[o[i]], by[o[i]]
	   printf "(the same record as an NDJSON line: %.0f ns)\n", lnd[0] }' "$D/runs.txt"
