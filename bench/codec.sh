#!/bin/sh
# codec.sh - record-file codec candidates (zlib deflate -1, zstd -1/-3, LZ4)
# and checksums (crc32, XXH3) on the raw blocks of real record files:
# a recording of wrk -> nginx (bench/replay_nginx.sh makes it) and a
# tools/gen_corpus file (mixed sizes, 100 B-1 MiB bodies).  Prints ratio and
# MB/s per codec (bench/bench_codec.c); asserts nothing.
# Needs libzstd-dev (make bench-deps).  Run from the repo root:
#   bench/codec.sh [ROUNDS]
set -eu
BUILD=${BUILD:-build}
ROUNDS=${1:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
REC_FILE=${REC_FILE:-$BUILD/nginx.htr}
GEN_FILE=${GEN_FILE:-$BUILD/codec-gen.htr}
make -s "$BUILD/bench_codec" "$BUILD/gen_corpus" >/dev/null
[ -s "$REC_FILE" ] || RUNS=1 BUILD=$BUILD "$HERE/replay_nginx.sh" >/dev/null
[ -s "$GEN_FILE" ] || "$BUILD/gen_corpus" -q -o "$GEN_FILE" -n 100000 -c 2000 >/dev/null
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
for f in "$REC_FILE" "$GEN_FILE"; do
	"$BUILD/bench_codec" "$f" "$ROUNDS"
	echo
done
