#!/bin/sh
# tsan.sh BUILD - replay a generated corpus through the ThreadSanitizer build
# of the whole binary (2 and 4 workers); any report fails.  Every replay, and
# one of the plain build, must write exactly the records the generator says
# the corpus holds ("expected_records": one per request/response exchange it
# generated), so a record lost anywhere in the pipeline fails the run; the
# tracer's own counts are not trusted for that.
# tests/tsan.supp silences reports from inside liburcu (not instrumented:
# TSan cannot see its grace-period barriers); races in our code still fail.
BUILD=${1:-build}
set -u
TMP=$(mktemp -d /tmp/ht-tsan.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail=0; pass=0
"$BUILD/gen_corpus" -o "$TMP/c.htr" -n 20000 -c 500 --seed 7 -q 2>"$TMP/gen.log" || { cat "$TMP/gen.log"; exit 1; }
expected=$(tail -n 1 "$TMP/gen.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["expected_records"])') ||
	{ echo "FAIL: no expected_records in the generator's summary:"; cat "$TMP/gen.log"; exit 1; }
[ "$expected" -gt 0 ] || { echo "FAIL: the generator expects $expected records"; exit 1; }

# count NAME: the last replay wrote every generated record, no more, no less
count() {
	lines=$(wc -l < "$TMP/out.ndjson")
	if [ "$lines" -eq "$expected" ]; then
		pass=$((pass + 1)); echo "PASS $1: $lines records written, $expected generated"
	else
		fail=$((fail + 1)); echo "FAIL $1: $lines records written, $expected generated ($(cat "$TMP/sum.json"))"
	fi
}

for w in 2 4; do
	rm -f "$TMP/out.ndjson"
	if TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(pwd)/tests/tsan.supp" "$BUILD/http-tracer-tsan" replay "$TMP/c.htr" \
		-o "$TMP/out.ndjson" --workers $w > "$TMP/sum.json" 2>"$TMP/tsan.log"; then
		pass=$((pass + 1)); echo "PASS tsan replay workers=$w: $(cat "$TMP/sum.json")"
		count "tsan replay workers=$w count"
	else
		fail=$((fail + 1)); echo "FAIL tsan replay workers=$w"; head -60 "$TMP/tsan.log"
	fi
done
rm -f "$TMP/out.ndjson"
if "$BUILD/http-tracer" replay "$TMP/c.htr" -o "$TMP/out.ndjson" --workers 2 > "$TMP/sum.json"; then
	count "drain"
else
	fail=$((fail + 1)); echo "FAIL drain: replay exited $?"
fi
echo "tsan: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
