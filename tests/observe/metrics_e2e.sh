#!/bin/sh
# metrics_e2e.sh URL [MIN_REQUESTS] - check the /metrics and /health
# endpoints of a running http-tracer.
#
# URL is the tracer's metrics address, e.g. http://127.0.0.1:9090 (a
# trailing /metrics is accepted).  Checks: GET /metrics is 200 with the
# Prometheus text format 0.0.4 content type and passes `promtool check
# metrics`; every documented metric family is present; GET /health is 200
# "ok"; POST is refused with 405.  With MIN_REQUESTS, the sum of
# http_tracer_requests_total must be at least that (traffic was counted).
# Exits 0 when everything passes; prints one line per failure otherwise.
set -u
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 URL [MIN_REQUESTS]" >&2
	exit 2
fi
base=${1%/}
base=${base%/metrics}
min=${2:-}
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

bad() { echo "metrics_e2e: FAIL: $*"; fail=1; }
ok() { echo "metrics_e2e: ok: $*"; }
for tool in curl promtool; do
	command -v "$tool" >/dev/null 2>&1 || { echo "metrics_e2e: $tool not installed" >&2; exit 2; }
done

# GET /metrics
code=$(curl -sS --max-time 10 -o "$tmp/body" -D "$tmp/head" -w '%{http_code}' "$base/metrics") ||
	{ echo "metrics_e2e: FAIL: cannot reach $base/metrics"; exit 1; }
if [ "$code" = 200 ]; then ok "GET /metrics -> 200"; else bad "GET /metrics -> $code"; fi
if grep -qi '^content-type: text/plain; version=0.0.4' "$tmp/head"; then
	ok "content type text/plain; version=0.0.4"
else
	bad "content type: $(grep -i '^content-type:' "$tmp/head" | tr -d '\r')"
fi
if promtool check metrics <"$tmp/body" >"$tmp/lint" 2>&1; then
	ok "promtool check metrics"
else
	bad "promtool check metrics: $(tr '\n' ' ' <"$tmp/lint")"
fi
for fam in \
	http_tracer_events_received_total:counter \
	http_tracer_events_filtered_total:counter \
	http_tracer_events_processed_total:counter \
	http_tracer_events_dropped_total:counter \
	http_tracer_processing_latency_seconds:histogram \
	http_tracer_streams_active:gauge \
	http_tracer_correlator_pending:gauge \
	http_tracer_records_written_total:counter \
	http_tracer_bytes_lost_total:counter \
	http_tracer_parse_errors_total:counter \
	http_tracer_config_reloads_total:counter \
	http_tracer_shard_queue_depth:gauge \
	http_tracer_build_info:gauge \
	http_tracer_requests_total:counter \
	http_tracer_request_duration_seconds:histogram \
	process_resident_memory_bytes:gauge \
	process_cpu_seconds_total:counter; do
	name=${fam%%:*}
	type=${fam##*:}
	grep -qx "# TYPE $name $type" "$tmp/body" || bad "no '# TYPE $name $type'"
done
for reason in ringbuf_full queue_full memory_budget conn_buffer writer_queue output_error malformed_event; do
	grep -q "^http_tracer_events_dropped_total{reason=\"$reason\"} " "$tmp/body" ||
		bad "no dropped reason $reason"
done
grep -q '^http_tracer_shard_queue_depth{shard="0"} ' "$tmp/body" || bad "no queue depth for shard 0"
grep -q '^http_tracer_build_info{version="[^"]*",commit="[^"]*"} 1$' "$tmp/body" || bad "no build_info sample"
if [ -n "$min" ]; then
	total=$(awk '/^http_tracer_requests_total\{/ { s += $NF } END { printf "%d", s }' "$tmp/body")
	if [ "$total" -ge "$min" ]; then
		ok "http_tracer_requests_total sums to $total (>= $min)"
	else
		bad "http_tracer_requests_total sums to $total, expected >= $min"
	fi
fi
[ "$fail" -eq 0 ] && ok "all metric families present"

# GET /health
code=$(curl -sS --max-time 10 -o "$tmp/health" -w '%{http_code}' "$base/health") || code=000
if [ "$code" = 200 ] && grep -qx ok "$tmp/health"; then
	ok "GET /health -> 200 ok"
else
	bad "GET /health -> $code: $(head -c 200 "$tmp/health" 2>/dev/null)"
fi

# Only GET is served
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X POST --data x "$base/metrics") || code=000
if [ "$code" = 405 ]; then ok "POST /metrics -> 405"; else bad "POST /metrics -> $code"; fi

[ "$fail" -eq 0 ] && echo "metrics_e2e: all checks passed"
exit "$fail"
