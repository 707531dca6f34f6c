# record -o FILE on the live kernel, then replay FILE: the same exchanges come out.
# record's arguments first: an option other than -o is no output file (record
# --pid 1 took the pid for one and recorded into a file named "-"), and
# neither is -o - (standard output).
R_BIN=$(cd "$(dirname "$BUILD/http-tracer")" && pwd)/http-tracer
mkdir -p "$TMP/rargs"
for r_args in "--pid 1" "-o -"; do
	# shellcheck disable=SC2086
	(cd "$TMP/rargs" && "$R_BIN" record $r_args --duration 1 >/dev/null 2>"$TMP/rargs.err")
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q -- '-o FILE' "$TMP/rargs.err" && [ ! -e "$TMP/rargs/-" ]; then
		pass "record $r_args: exit 2, $(cat "$TMP/rargs.err"), no file named -"
	else
		fail "record $r_args: exit $rc, $(cat "$TMP/rargs.err"), files: $(ls -A "$TMP/rargs")"
	fi
	rm -f "$TMP/rargs/-"
done
e2e_port R_PORT
mkdir -p "$TMP/rwww"; echo rec > "$TMP/rwww/index.html"
"$BUILD/http-tracer" record --config "$TMP/e2e.yaml" -o "$TMP/rec.htr" 2>"$TMP/rec.log" &
RP=$!
i=0; while ! grep -q "^http-tracer: ready:" "$TMP/rec.log" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
python3 -m http.server "$R_PORT" --bind 127.0.0.1 --directory "$TMP/rwww" >/dev/null 2>&1 &
HS=$!
wait_listen "$R_PORT"
for i in $(seq 1 15); do curl -s -o /dev/null "http://127.0.0.1:$R_PORT/index.html?rec=$i"; done
kill "$HS"
sleep 0.5
kill -INT "$RP"; wait "$RP"; rc=$?
[ "$rc" -eq 0 ] && pass "record: exited 0 on SIGINT" || fail "record: exit status $rc"
if "$BUILD/http-tracer" replay "$TMP/rec.htr" -o "$TMP/rec.ndjson" > "$TMP/rec.sum"; then
	n=$(grep -c '"target":"/index.html?rec=' "$TMP/rec.ndjson")
	[ "$n" -eq 30 ] && pass "record/replay: 15 exchanges x 2 roles replayed ($(cat "$TMP/rec.sum"))" ||
		fail "record/replay: $n records for 15 exchanges, want 30"
else
	fail "record/replay: replay failed"
fi
# a truncated recording: every record before the cut, then an error naming the offset
size=$(stat -c %s "$TMP/rec.htr")
head -c $((size - 7)) "$TMP/rec.htr" > "$TMP/cut.htr"
"$BUILD/http-tracer" replay "$TMP/cut.htr" -o "$TMP/cut.ndjson" > /dev/null 2> "$TMP/cut.err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q offset "$TMP/cut.err"; then
	pass "replay of a truncated file: exit 1, $(cat "$TMP/cut.err")"
else
	fail "replay of a truncated file: exit $rc, $(cat "$TMP/cut.err")"
fi
