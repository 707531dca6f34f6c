# Shared conformance suite: every syscall family and framing, both roles.
CONF=$ROOT/../shared/conformance/httpconf.py
if [ ! -f "$CONF" ]; then
	skip "conformance: $CONF not found (shared/ must sit beside the repo)"
else
	if start_tracer "$TMP/conf.ndjson" "$TMP/conf.log" --config "$TMP/e2e.yaml"; then
		python3 "$CONF" traffic --expect "$TMP/E.json" > "$TMP/traffic.out" 2>&1
		cat "$TMP/traffic.out"
		sleep 1
		if stop_tracer; then
			pass "conformance: tracer exited 0 on SIGINT in ${STOP_MS} ms"
		else
			fail "conformance: tracer did not exit 0 within 5 s of SIGINT (${STOP_MS} ms)"
			tail -5 "$TMP/conf.log"
		fi
		[ "$STOP_MS" -le 5000 ] && pass "shutdown within 5 s" || fail "shutdown took ${STOP_MS} ms"
		if python3 "$CONF" check --expect "$TMP/E.json" --records "$TMP/conf.ndjson" > "$TMP/check.out" 2>&1; then
			pass "conformance: $(tail -1 "$TMP/check.out")"
		else
			cat "$TMP/check.out"
			fail "conformance: $(tail -1 "$TMP/check.out")"
		fi
	else
		fail "conformance: tracer did not start"
	fi
fi
