#!/bin/sh
# replay_nginx.sh - replay speed on recorded live traffic (issue 13 target):
# `http-tracer record` during a wrk -> nginx run (1 KiB responses, loopback,
# both ends traced), then `http-tracer replay` of that file with
# workerThreads 2 (batchSize 100) into an NDJSON file, under hyperfine.
# With OLD=path/to/older/http-tracer both builds replay side by side, the
# older one OLD_FILE (default: the same file; for a build that cannot read
# this build's format, the same recording in its format: bench_codec
# rewrites a file in this build's format, see bench/codec.sh).
# Prints numbers; asserts nothing.
# Run as root from the repo root:  bench/replay_nginx.sh [SECONDS]
# Env: BUILD (build), NGX_PORT (18610), RUNS (5), REC_FILE (build/nginx.htr:
# reused when present; delete it to record again), OLD, OLD_FILE.
set -eu
BUILD=${BUILD:-build}
DUR=${1:-5}
NGX_PORT=${NGX_PORT:-18610}
RUNS=${RUNS:-5}
REC_FILE=${REC_FILE:-$BUILD/nginx.htr}
OUT=${OUT:-/tmp/ht-replay-nginx.ndjson}
HERE=$(cd "$(dirname "$0")" && pwd)
NGX_STARTED=
TRACER_PID=
cleanup() {
	[ -n "$TRACER_PID" ] && kill -INT "$TRACER_PID" 2>/dev/null && wait "$TRACER_PID" 2>/dev/null
	[ -n "$NGX_STARTED" ] && ngx_stop
	rm -f "$OUT"
}
trap cleanup EXIT INT TERM
make -s "$BUILD/http-tracer" >/dev/null
NEW=$BUILD/http-tracer
OLD_FILE=${OLD_FILE:-$REC_FILE}
if [ ! -s "$REC_FILE" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "replay_nginx: recording needs root" >&2; exit 1; }
	. "$HERE/nginx.sh"
	ngx_start
	NGX_STARTED=1
	URL=http://127.0.0.1:$NGX_PORT/bench.html
	curl -s -o /dev/null "$URL"
	"$NEW" record -o "$REC_FILE" 2>"$REC_FILE.log" &
	TRACER_PID=$!
	tracer_wait_ready "$REC_FILE.log"
	wrk -t1 -c50 -d"${DUR}s" "$URL"
	kill -INT "$TRACER_PID"; wait "$TRACER_PID" || true
	TRACER_PID=
	ngx_stop
	NGX_STARTED=
fi
ls -l "$REC_FILE"
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
set -- "$NEW replay $REC_FILE -o $OUT --workers 2 --batch-size 100"
[ -n "${OLD:-}" ] && set -- "$@" "$OLD replay $OLD_FILE -o $OUT --workers 2 --batch-size 100"
for cmd in "$@"; do
	rm -f "$OUT"
	echo "$cmd: $($cmd)"
done
hyperfine --runs "$RUNS" --warmup 1 --prepare "rm -f $OUT" "$@"
