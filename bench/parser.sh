#!/bin/sh
# parser.sh - parser throughput: httpp vs Debian's http_parser on one corpus,
# side by side in one run.  Generates build/parser_corpus.bin if missing.
# usage: bench/parser.sh [ITERATIONS [--no-thp]]   (env: BUILD, CORPUS_MESSAGES)
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
corpus=$BUILD/parser_corpus.bin
mkdir -p "$BUILD"
if [ ! -s "$corpus" ]; then
	python3 tools/gen_parser_corpus.py -o "$corpus.tmp" -n "${CORPUS_MESSAGES:-20000}"
	mv "$corpus.tmp" "$corpus"
fi
make --no-print-directory "$BUILD/bench_parser"
exec "$BUILD/bench_parser" "$corpus" "${1:-15}" ${2:+"$2"}
