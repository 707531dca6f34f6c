#!/bin/sh
# tsan.sh BUILD - replay a generated corpus through the ThreadSanitizer build
# of the whole binary (2 and 4 workers); any report fails.  Also checks that
# the plain build writes every record it finished (records in = records out).
# tests/tsan.supp silences reports from inside liburcu (not instrumented:
# TSan cannot see its grace-period barriers); races in our code still fail.
BUILD=${1:-build}
set -u
TMP=$(mktemp -d /tmp/ht-tsan.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail=0; pass=0
"$BUILD/gen_corpus" -o "$TMP/c.htr" -n 20000 -c 500 --seed 7 2>"$TMP/gen.log" || { cat "$TMP/gen.log"; exit 1; }
for w in 2 4; do
	if TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(pwd)/tests/tsan.supp" "$BUILD/http-tracer-tsan" replay "$TMP/c.htr" \
		-o "$TMP/out.ndjson" --workers $w > "$TMP/sum.json" 2>"$TMP/tsan.log"; then
		pass=$((pass + 1)); echo "PASS tsan replay workers=$w: $(cat "$TMP/sum.json")"
	else
		fail=$((fail + 1)); echo "FAIL tsan replay workers=$w"; head -60 "$TMP/tsan.log"
	fi
done
rm -f "$TMP/out.ndjson"
"$BUILD/http-tracer" replay "$TMP/c.htr" -o "$TMP/out.ndjson" --workers 2 > "$TMP/sum.json"
lines=$(wc -l < "$TMP/out.ndjson")
emitted=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["transactions"])' "$TMP/sum.json")
if [ "$lines" -eq "$emitted" ] && [ "$lines" -gt 0 ]; then
	pass=$((pass + 1)); echo "PASS drain: $emitted records finished, $lines written"
else
	fail=$((fail + 1)); echo "FAIL drain: $emitted records finished, $lines written"
fi
echo "tsan: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
