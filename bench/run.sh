#!/bin/sh
# run.sh BUILD - every benchmark: parser, replay matrix, live overhead, BPF cost.
# Each prints its own numbers; nothing here asserts a time.
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
set -u
for b in parser.sh replay.sh live.sh bpf_cost.sh; do
	if [ -x "$HERE/$b" ]; then
		printf '\n==== bench/%s ====\n' "$b"
		"$HERE/$b" "$BUILD" || echo "bench/$b failed (exit $?)"
	fi
done
