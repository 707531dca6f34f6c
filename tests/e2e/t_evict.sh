# Evictions from the kernel's conns map: HT_TEST_MAX_CONNS (a test-only
# knob, src/source/capture.h) shrinks it to 16 entries and 48 keep-alive
# connections run three rounds of requests, every connection's request
# sent before any response is read.  The eviction counter must move, and
# the records of evicted connections must be flagged gap (a response whose
# request was seen under the evicted generation), never paired wrong.  Then
# one connection is evicted in the middle of a response body: the kernel
# must skip the rest of that body (not HTTP, but mid-stream) and trace the
# next exchange, not drop the connection as not HTTP.
e2e_port EV_PORT
e2e_port EV_MID
if HT_TEST_MAX_CONNS=16 start_tracer "$TMP/ev.ndjson" "$TMP/ev.log" --config "$TMP/e2e.yaml"; then
	if python3 "$ROOT/tests/e2e/evict.py" traffic "$EV_PORT" 48 3 > "$TMP/ev.out" 2>&1; then
		pass "evict: 48 connections x 3 rounds through a 16-entry conns map"
	else
		cat "$TMP/ev.out"; fail "evict: traffic failed"
	fi
	if python3 "$ROOT/tests/e2e/evict.py" midbody "$EV_MID" 40 > "$TMP/evm.out" 2>&1; then
		pass "evict: a connection evicted in the middle of a response body, 40 others"
	else
		cat "$TMP/evm.out"; fail "evict: mid-body traffic failed"
	fi
	sleep 1
	evicted=$(curl -s "http://$E2E_METRICS/metrics" |
		awk '$1 == "http_tracer_kernel_connections_evicted_total" {print $2}')
	if [ -n "$evicted" ] && [ "$evicted" -gt 0 ]; then
		pass "evict: http_tracer_kernel_connections_evicted_total moved ($evicted)"
	else
		fail "evict: http_tracer_kernel_connections_evicted_total is '${evicted}', want > 0"
	fi
	stop_tracer || fail "evict: tracer did not exit 0"
	if python3 "$ROOT/tests/e2e/evict.py" check "$TMP/ev.ndjson" "$EV_PORT" "$EV_MID" > "$TMP/evc.out" 2>&1; then
		pass "evict: $(tail -1 "$TMP/evc.out")"
	else
		cat "$TMP/evc.out"; fail "evict: $(tail -1 "$TMP/evc.out")"
	fi
else
	fail "evict: tracer did not start with HT_TEST_MAX_CONNS=16"
fi
