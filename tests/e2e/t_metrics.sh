# Live scrape of /metrics (promtool, every family present, counters moving)
# and /health, against the real tracer with real traffic.
M_PORT=$((40000 + $$ % 10000))
H_PORT=$((M_PORT + 1))
printf 'metrics:\n  listen: 127.0.0.1:%s\n' "$M_PORT" > "$TMP/metrics.yaml"
if start_tracer "$TMP/m.ndjson" "$TMP/m.log" --config "$TMP/metrics.yaml"; then
	mkdir -p "$TMP/www"; echo hello > "$TMP/www/index.html"
	python3 -m http.server "$H_PORT" --bind 127.0.0.1 --directory "$TMP/www" >/dev/null 2>&1 &
	HS=$!
	sleep 0.5
	before=$(curl -s "http://127.0.0.1:$M_PORT/metrics" | awk '/^http_tracer_events_received_total/ {print $2}')
	for i in $(seq 1 20); do curl -s -o /dev/null "http://127.0.0.1:$H_PORT/index.html?m=$i"; done
	sleep 1
	after=$(curl -s "http://127.0.0.1:$M_PORT/metrics" | awk '/^http_tracer_events_received_total/ {print $2}')
	if [ -n "$before" ] && [ -n "$after" ] && awk "BEGIN {exit !($after > $before)}"; then
		pass "metrics: events_received_total moved with traffic ($before -> $after)"
	else
		fail "metrics: events_received_total did not move ($before -> $after)"
	fi
	if sh "$ROOT/tests/observe/metrics_e2e.sh" "http://127.0.0.1:$M_PORT" 20 > "$TMP/me2e.out" 2>&1; then
		pass "metrics: live scrape passes promtool, every family present, /health 200"
	else
		cat "$TMP/me2e.out"; fail "metrics: live scrape checks"
	fi
	kill "$HS" 2>/dev/null
	stop_tracer || fail "metrics: tracer did not exit 0"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$M_PORT/health")
	[ "$code" != 200 ] && pass "metrics: /health no longer 200 after exit ($code)" || fail "metrics: /health still 200 after exit"
else
	fail "metrics: tracer did not start"
fi
