# Live scrape of /metrics (promtool, every family present, counters moving)
# and /health, against the real tracer with real traffic.
e2e_port M_PORT
e2e_port H_PORT; e2e_port H_RAW_PORT
printf 'metrics:\n  listen: 127.0.0.1:%s\n' "$M_PORT" > "$TMP/metrics.yaml"
if start_tracer "$TMP/m.ndjson" "$TMP/m.log" --config "$TMP/metrics.yaml"; then
	mkdir -p "$TMP/www"; echo hello > "$TMP/www/index.html"
	python3 -m http.server "$H_PORT" --bind 127.0.0.1 --directory "$TMP/www" >/dev/null 2>&1 &
	HS=$!
	wait_listen "$H_PORT"
	before=$(curl -s "http://127.0.0.1:$M_PORT/metrics" | awk '/^http_tracer_events_received_total/ {print $2}')
	for i in $(seq 1 20); do curl -s -o /dev/null "http://127.0.0.1:$H_PORT/index.html?m=$i"; done
	sleep 1
	after=$(curl -s "http://127.0.0.1:$M_PORT/metrics" | awk '/^http_tracer_events_received_total/ {print $2}')
	if [ -n "$before" ] && [ -n "$after" ] && awk "BEGIN {exit !($after > $before)}"; then
		pass "metrics: events_received_total moved with traffic ($before -> $after)"
	else
		fail "metrics: events_received_total did not move ($before -> $after)"
	fi
	# Not HTTP: a TCP loopback connection whose first bytes are a TLS
	# ClientHello-like blob.  The kernel's protocol inference drops it; that
	# decision is the one not-HTTP reason, `protocol` (no `not_http`).
	filtered() {
		curl -s "http://127.0.0.1:$M_PORT/metrics" |
			awk -v r="$1" '$1 == "http_tracer_events_filtered_total{reason=\"" r "\"}" {print $2}'
	}
	p_before=$(filtered protocol)
	python3 - "$H_RAW_PORT" <<-'EOF'
	import socket, sys, threading
	port = int(sys.argv[1])
	srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	srv.bind(("127.0.0.1", port)); srv.listen(1)
	def serve():
	    c, _ = srv.accept()
	    while c.recv(4096):
	        c.sendall(b"\x15\x03\x03\x00\x02\x02\x28")
	    c.close()
	t = threading.Thread(target=serve); t.start()
	s = socket.create_connection(("127.0.0.1", port))
	for _ in range(5):
	    s.sendall(b"\x16\x03\x01\x00\x2a\x01\x00\x00\x26\x03\x03" + b"\x00" * 32)
	    s.recv(4096)
	s.close(); t.join(); srv.close()
	EOF
	sleep 0.5
	p_after=$(filtered protocol)
	if [ -n "$p_before" ] && [ -n "$p_after" ] && [ "$p_after" -ge $((p_before + 10)) ]; then
		pass "metrics: not-HTTP bytes on a TCP connection counted as filtered{reason=\"protocol\"} ($p_before -> $p_after)"
	else
		fail "metrics: not-HTTP bytes not counted as filtered{reason=\"protocol\"} ($p_before -> $p_after, want +10)"
	fi
	if curl -s "http://127.0.0.1:$M_PORT/metrics" | grep -q 'reason="not_http"'; then
		fail "metrics: a filtered reason \"not_http\" is exported but nothing produces it"
	else
		pass "metrics: no filtered reason without a producer (not_http)"
	fi
	if sh "$ROOT/tests/observe/metrics_e2e.sh" "http://127.0.0.1:$M_PORT" 20 > "$TMP/me2e.out" 2>&1; then
		pass "metrics: live scrape passes promtool, every family present, /health 200"
	else
		cat "$TMP/me2e.out"; fail "metrics: live scrape checks"
	fi
	# the binary names the commit it was built from (a stale label once
	# survived incremental builds); only in a git checkout
	head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)
	info=$(curl -s "http://127.0.0.1:$M_PORT/metrics" | grep '^http_tracer_build_info{')
	if [ -z "$head" ]; then
		skip "metrics: build_info's commit not checked: $ROOT is not a git checkout"
	elif echo "$info" | grep -q "commit=\"$head\""; then
		pass "metrics: build_info names the commit built ($head)"
	else
		fail "metrics: build_info is '$info', HEAD is $head (make rebuilds metrics.o when HEAD moves)"
	fi
	kill "$HS" 2>/dev/null
	stop_tracer || fail "metrics: tracer did not exit 0"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$M_PORT/health")
	[ "$code" != 200 ] && pass "metrics: /health no longer 200 after exit ($code)" || fail "metrics: /health still 200 after exit"
else
	fail "metrics: tracer did not start"
fi
