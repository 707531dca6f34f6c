#!/bin/bash
# replay_ab.sh PAIRS OLD NEW [FILE] - CPU of two tracer builds replaying the
# same record file, side by side: PAIRS pairs in ABBA order (so that the
# machine's drift between runs falls on both), each run `replay FILE -o
# /dev/null --workers 1 --batch-size 100`, its user+sys CPU from
# /usr/bin/time.  Prints both lists, the NEW/OLD ratio of each pair sorted,
# and their median.  FILE defaults to build/nginx.htr
# (bench/replay_nginx.sh records one).  Prints numbers; asserts nothing.
set -eu
N=$1; A=$2; B=$3; F=${4:-build/nginx.htr}
T=$(mktemp /tmp/replay_ab.XXXXXX)
trap 'rm -f "$T" "$T.pairs" "$T.ratios"' EXIT
run() {
	/usr/bin/time -f "%U %S" -o "$T" "$1" replay "$F" -o /dev/null --workers 1 \
		--batch-size 100 >/dev/null 2>&1
	read -r u s < "$T"
	echo "$u + $s" | bc
}
for i in $(seq "$N"); do
	if [ $((i % 2)) = 1 ]; then a=$(run "$A"); b=$(run "$B"); else b=$(run "$B"); a=$(run "$A"); fi
	echo "$a $b"
done > "$T.pairs"
echo "old CPU s: $(cut -d' ' -f1 "$T.pairs" | tr '\n' ' ')"
echo "new CPU s: $(cut -d' ' -f2 "$T.pairs" | tr '\n' ' ')"
awk '{ printf "%.3f\n", $2 / $1 }' "$T.pairs" | sort -n > "$T.ratios"
echo "new/old sorted: $(tr '\n' ' ' < "$T.ratios")"
awk '{ r[NR] = $1 } END { printf "median new/old %.3f\n", NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }' "$T.ratios"
