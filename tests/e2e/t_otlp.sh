# OTLP traces (issue 14): live traffic through the tracer to a receiver that
# decodes every request with OpenTelemetry's own generated classes
# (tools/otlp/receiver.js, @opentelemetry/otlp-transformer from npm).
#   protobuf run: one span per record with the right kind, times, name,
#     attributes, status and resource; the request with a traceparent is in
#     that trace under that parent, a malformed one is ignored and counted;
#     the receiver answers 503 (Retry-After: 1) three times, then 200:
#     nothing lost; it answers 400 once: that batch is counted as rejected,
#     sent once, never retried, and logged with the receiver's message;
#     a partial success is counted.
#   json run: the same check on http/json without compression.
# The receiver's port is in excludePorts, so the export itself gives no span.
# The test's traffic runs between 127.0.0.3 (curl) and 127.0.0.2 (nginx) and
# excludeIPs drops 127.0.0.1 and ::1, so that whatever else runs on this
# shared host over loopback stays out of the counts.
OT=$TMP/otlp
e2e_port OT_NGX; e2e_port OT_RCV; e2e_port OT_MET; OT_MET=127.0.0.1:$OT_MET
OT_TRACE=4bf92f3577b34da6a3ce929d0e0e4736
OT_PARENT=00f067aa0ba902b7
OT_MODS=$BUILD/npm/node_modules
mkdir -p "$OT/ngx/www/api/users" "$OT/rcv"
for i in 1 2 3 4 5 6 7 8; do echo "user $i" > "$OT/ngx/www/api/users/$i"; done

# ot_wait_sent N: until the shards have finished N more records than at the
# last call and the OTLP sink has sent or dropped every finished record (at
# most 20 s); prints the numbers.
OT_EM=0
ot_wait_sent() {
	i=0
	while [ $i -lt 200 ]; do
		metrics_scrape "$OT_MET" "$OT/m.txt"
		em=$(metric_sum "$OT/m.txt" http_tracer_records_emitted_total)
		done_n=$(awk '$1 ~ /^http_tracer_sink_records_(sent|dropped)_total\{sink="otlp"/ { s += $NF } END { printf "%.0f", s }' "$OT/m.txt")
		[ "$em" -ge $((OT_EM + $1)) ] && [ "$done_n" -ge "$em" ] && break
		sleep 0.1; i=$((i + 1))
	done
	OT_EM=$em
	echo "otlp: $em records finished, $done_n sent or dropped by the OTLP sink"
}

# ot_status_count S: how many times the receiver answered S (from stats.json).
ot_status_count() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["byStatus"].get(sys.argv[2], 0))' "$OT/stats.json" "$1"
}

ot_metric() { awk -v k="$1" 'index($0, k " ") == 1 { print $NF }' "$OT/m.txt"; }

# ot_run NAME PROTOCOL COMPRESSION: one tracer run; sets OT_OK=1 if it ran.
ot_run() {
	name=$1
	OT_EM=0
	mkdir -p "$OT/rcv/$name"
	cat > "$OT/$name.yaml" <<YAML
metrics:
  listen: $OT_MET
filtering:
  kernel:
    excludePorts: [$OT_RCV]
  excludeIPs: [127.0.0.1, "::1"]
performance:
  flushIntervalMs: 50
output:
  otlp:
    endpoint: http://127.0.0.1:$OT_RCV
    protocol: $2
    compression: $3
YAML
	OTLP_NODE_MODULES=$OT_MODS no_lock_fd exec node "$ROOT/tools/otlp/receiver.js" "$OT_RCV" "$OT/rcv/$name" > "$OT/rcv.log" 2>&1 &
	OT_RCV_PID=$!
	i=0
	# up to 30 s: node loading the generated classes is slow on a loaded host
	while [ $i -lt 300 ] && ! grep -q listening "$OT/rcv.log" && kill -0 "$OT_RCV_PID" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	if ! grep -q listening "$OT/rcv.log"; then
		fail "otlp $name: the receiver did not start: $(cat "$OT/rcv.log")"
		kill "$OT_RCV_PID" 2>/dev/null; wait "$OT_RCV_PID" 2>/dev/null
		return 1
	fi
	if ! start_tracer "$OT/$name.ndjson" "$OT/$name.log" --config "$OT/$name.yaml"; then
		fail "otlp $name: tracer did not start"
		kill "$OT_RCV_PID"; wait "$OT_RCV_PID" 2>/dev/null
		return 1
	fi
	U=http://127.0.0.2:$OT_NGX
	for i in 1 2 3 4 5; do curl -s --interface 127.0.0.3 -o /dev/null "$U/api/users/$i?q=$i"; done
	curl -s --interface 127.0.0.3 -o /dev/null -H "traceparent: 00-$OT_TRACE-$OT_PARENT-01" "$U/api/users/6?tp=1"
	curl -s --interface 127.0.0.3 -o /dev/null -H "traceparent: 00-$OT_TRACE-$OT_PARENT" "$U/api/users/7?tp=bad"
	curl -s --interface 127.0.0.3 -o /dev/null "$U/missing?i=404"
	curl -s --interface 127.0.0.3 -o /dev/null "$U/fail?i=503"
	curl -s --interface 127.0.0.3 -o /dev/null -X POST --data 'a=1&b=2' "$U/api/users/8?i=post"
	ot_wait_sent 20
	return 0
}

ot_finish() {
	name=$1
	ot_wait_sent "$2"
	metrics_scrape "$OT_MET" "$OT/m.txt"
	stop_tracer || fail "otlp $name: tracer did not exit 0 on SIGINT"
	curl -s "http://127.0.0.1:$OT_RCV/stats" > "$OT/stats.json"
	kill "$OT_RCV_PID"; wait "$OT_RCV_PID" 2>/dev/null
	echo "receiver: $(cat "$OT/stats.json")"
	grep -E '^http_tracer_(sink_[a-z_]*_total\{sink="otlp"|otlp_)' "$OT/m.txt" | grep -v ' 0$'
}

ot_check_spans() {
	name=$1; rej=$2; proto=$3
	if python3 "$ROOT/tests/e2e/otlp_check.py" "$OT/$name.ndjson" "$OT/rcv/$name/spans.ndjson" \
		"$OT_NGX" "$OT_TRACE" "$OT_PARENT" "$rej" $proto; then
		pass "otlp $name: one span per record, kind, times, name, attributes, status, resource and the traceparent join as decoded by @opentelemetry/otlp-transformer"
	else
		fail "otlp $name: spans do not match the records"
	fi
}

if ! command -v node >/dev/null; then
	skip "otlp: node not installed (make deps installs nodejs and npm)"
elif [ ! -f "$OT_MODS/@opentelemetry/otlp-transformer/build/src/generated/root.js" ]; then
	skip "otlp: @opentelemetry/otlp-transformer not installed in $OT_MODS (make deps runs tools/otlp/npm_deps.sh; npm registry unreachable?)"
elif ! command -v nginx >/dev/null; then
	skip "otlp: nginx not installed (make deps installs nginx-light)"
elif ! ngx_private "$OT/ngx" "127.0.0.2:$OT_NGX" 'location = /missing { return 404; } location = /fail { return 503; }'; then
	fail "otlp: nginx could not start"
else
	# ---- http/protobuf, gzip
	if ot_run pb http/protobuf gzip; then
		[ "$(ot_metric 'http_tracer_otlp_traceparent_total{result="malformed"}')" -ge 1 ] &&
			[ "$(ot_metric 'http_tracer_otlp_traceparent_total{result="joined"}')" -ge 2 ] &&
			pass "otlp: traceparent joined and malformed counted" ||
			fail "otlp: traceparent counters: $(grep otlp_traceparent "$OT/m.txt" | grep -v '^#')"
		# 503 three times, then 200: nothing lost, retried
		curl -s -o /dev/null "http://127.0.0.1:$OT_RCV/control?status=503&count=3&retryAfter=1"
		for i in 1 2 3; do curl -s --interface 127.0.0.3 -o /dev/null "$U/api/users/$i?phase=503"; done
		ot_wait_sent 6
		curl -s "http://127.0.0.1:$OT_RCV/stats" > "$OT/stats.json"
		r503=$(ot_status_count 503)
		retries=$(ot_metric 'http_tracer_sink_retries_total{sink="otlp"}')
		if [ "$r503" -eq 3 ] && [ "${retries:-0}" -ge 3 ] &&
			[ "$(metric_sum "$OT/m.txt" http_tracer_sink_records_dropped_total)" -eq 0 ]; then
			pass "otlp: 3 answers 503 (Retry-After: 1) retried, then sent: nothing dropped"
		else
			fail "otlp: 503 phase: receiver answered 503 $r503 times, sink retries ${retries:-?}, dropped $(metric_sum "$OT/m.txt" http_tracer_sink_records_dropped_total)"
		fi
		# 400 once: rejected, counted, logged, not retried (the receiver sees
		# one request; queued batches may have been merged into it)
		curl -s -o /dev/null "http://127.0.0.1:$OT_RCV/control?status=400&count=1"
		curl -s --interface 127.0.0.3 -o /dev/null "$U/api/users/1?phase=400"
		ot_wait_sent 2
		# a partial success on the next batch
		curl -s -o /dev/null "http://127.0.0.1:$OT_RCV/control?partial=2"
		curl -s --interface 127.0.0.3 -o /dev/null "$U/api/users/2?phase=partial"
		ot_finish pb 2
		rej=$(ot_metric 'http_tracer_sink_records_dropped_total{sink="otlp",reason="rejected"}')
		r400=$(ot_status_count 400)
		if [ "${rej:-0}" -ge 1 ] && [ "$r400" -eq 1 ] && grep -q 'test receiver answers 400' "$OT/pb.log" &&
			[ "$(ot_metric 'http_tracer_sink_batches_dropped_total{sink="otlp",reason="rejected"}')" -ge 1 ]; then
			pass "otlp: an answer 400 rejects one batch ($rej records), counted, logged with the receiver's message, not retried"
		else
			fail "otlp: 400 phase: rejected records ${rej:-?}, receiver answered 400 $r400 times; log: $(grep -i otlp "$OT/pb.log" | head -3)"
		fi
		[ "$(ot_metric http_tracer_otlp_spans_rejected_total)" = 2 ] &&
			pass "otlp: partial success rejected_spans counted" ||
			fail "otlp: partial success: http_tracer_otlp_spans_rejected_total = $(ot_metric http_tracer_otlp_spans_rejected_total), want 2"
		ot_check_spans pb "${rej:-0}"
	fi
	# ---- http/json, no compression
	if ot_run json http/json none; then
		ot_finish json 0
		ot_check_spans json 0 json
		grep -q '"encoding":""' "$OT/rcv/json/requests.ndjson" && ! grep -q '"encoding":"gzip"' "$OT/rcv/json/requests.ndjson" &&
			pass "otlp json: compression none sends plain bodies" ||
			fail "otlp json: request encodings: $(head -3 "$OT/rcv/json/requests.ndjson")"
	fi
	ngx_private_stop "$OT/ngx"
fi
