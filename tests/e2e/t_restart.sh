# kill -9 and restart (issue 12): a tracer writing -o FILE under load is
# killed with SIGKILL; if it happened to die between lines a partial line is
# appended (so the case is always the same); a new tracer appends to FILE
# under more load and is stopped with SIGINT.  Every line but the one
# fragment must parse as JSON and the repair must be counted in
# http_tracer_output_lines_repaired_total.
e2e_port RS_NGX
e2e_port RS_MET; RS_MET=127.0.0.1:$RS_MET
RS=$TMP/rs
mkdir -p "$RS/ngx/www"
printf 'metrics:\n  listen: %s\n' "$RS_MET" > "$RS/tracer.yaml"
head -c 1024 /dev/zero | tr '\0' 'r' > "$RS/ngx/www/r.html"
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
	skip "restart: nginx or wrk not installed (make deps installs nginx-light and wrk)"
elif ! ngx_private "$RS/ngx" "$RS_NGX" ''; then
	fail "restart: nginx could not start"
elif ! start_tracer "$RS/out.ndjson" "$RS/tracer1.log" --config "$RS/tracer.yaml"; then
	fail "restart: tracer did not start"
	ngx_private_stop "$RS/ngx"
else
	U=http://127.0.0.1:$RS_NGX/r.html
	wrk -t1 -c4 -d3s "$U" > "$RS/wrk1.out" 2>&1 &
	RS_WRK=$!
	sleep 1.5
	kill -9 "$TRACER_PID"; wait "$TRACER_PID" 2>/dev/null
	wait "$RS_WRK"
	RS_FRAG=killed
	if [ ! -s "$RS/out.ndjson" ] || [ "$(tail -c 1 "$RS/out.ndjson" | od -An -c | tr -d ' ')" = '\n' ]; then
		printf '{"time":"2026-12-01T00:00:00Z","role":"ser' >> "$RS/out.ndjson"
		RS_FRAG=appended
	fi
	RS_LINES1=$(wc -l < "$RS/out.ndjson")
	RS_SIZE1=$(wc -c < "$RS/out.ndjson")
	echo "first run: $RS_LINES1 whole lines, partial last line $RS_FRAG"
	if start_tracer "$RS/out.ndjson" "$RS/tracer2.log" --config "$RS/tracer.yaml"; then
		wrk -t1 -c4 -d1s "$U" > "$RS/wrk2.out" 2>&1
		sleep 1
		metrics_scrape "$RS_MET" "$RS/metrics.txt"
		stop_tracer || fail "restart: the restarted tracer did not exit 0 on SIGINT"
		RS_REP=$(metric_sum "$RS/metrics.txt" http_tracer_output_lines_repaired_total)
		echo "http_tracer_output_lines_repaired_total $RS_REP"
		if python3 - "$RS/out.ndjson" "$RS_LINES1" "$RS_SIZE1" <<'PY'; then
import json, sys
path, first, size1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bad = []
data = open(path, "rb").read()
# the fragment stays alone on its line: the restart ended it with a newline
# instead of gluing its first record to it
frag_alone = data[size1:size1 + 1] == b"\n" and data[size1 + 1:size1 + 2] == b"{"
lines = data.split(b"\n")
tail = lines.pop()  # after the last newline: must be empty
for n, l in enumerate(lines, 1):
    try:
        json.loads(l)
    except ValueError:
        bad.append(n)
print(f"{len(lines)} lines, {len(lines) - first} after the restart, unparsable: {bad}, "
      f"fragment alone on its line: {frag_alone}")
ok = bad == [first + 1] and frag_alone and not tail and len(lines) > first + 1
sys.exit(0 if ok else 1)
PY
			pass "restart: after kill -9 every line but the one fragment parses, the fragment alone on its line"
		else
			fail "restart: a line other than the fragment does not parse, or the first new record was glued to the fragment"
		fi
		[ "$RS_REP" = 1 ] && pass "restart: the repair was counted (http_tracer_output_lines_repaired_total 1)" ||
			fail "restart: http_tracer_output_lines_repaired_total is '$RS_REP', want 1"
	else
		fail "restart: the tracer did not start again on the same file"
	fi
	ngx_private_stop "$RS/ngx"
fi
