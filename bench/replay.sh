#!/bin/sh
# replay.sh BUILD - the sharded pipeline end to end, from a replay file to an
# NDJSON file: hyperfine over workerThreads {1,2,4} x batchSize {1,10,100,1000},
# then peak RSS with workerThreads 2.  Corpus: tools/gen_corpus defaults
# (>= 1,000,000 transactions over >= 10,000 connections), generated once.
BUILD=${1:-build}
set -eu
CORPUS=${CORPUS:-$BUILD/corpus.htr}
OUT=${OUT:-/tmp/ht-replay-bench.ndjson}
RUNS=${RUNS:-2}
make -s "$BUILD/gen_corpus" "$BUILD/http-tracer" >/dev/null
if [ ! -f "$CORPUS" ]; then
	echo "generating $CORPUS ..."
	"$BUILD/gen_corpus" -o "$CORPUS"
fi
ls -l "$CORPUS"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(date -u +%Y-%m-%d)"
"$BUILD/http-tracer" replay "$CORPUS" -o "$OUT" --workers 2 --batch-size 100
# the output is opened for appending: start each run from an empty file
hyperfine --runs "$RUNS" --prepare "rm -f $OUT" --export-markdown /tmp/ht-replay-bench.md \
	-L w 1,2,4 -L b 1,10,100,1000 \
	"$BUILD/http-tracer replay $CORPUS -o $OUT --workers {w} --batch-size {b}"
cat /tmp/ht-replay-bench.md
for w in 1 2 4; do
	printf 'workers=%s: ' "$w"
	rm -f "$OUT"
	/usr/bin/time -f 'peak_rss_kb=%M' "$BUILD/http-tracer" replay "$CORPUS" -o "$OUT" --workers $w --batch-size 100 2>&1 | tr '\n' ' '
	echo
done
rm -f "$OUT"
