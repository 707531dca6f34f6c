# 200 KB responses at the default settings (issue 12): wrk -c4 for 3 s on a
# private nginx (sendfile off, so the body is captured), each connection
# pausing 2 ms before each request: at most 2000 req/s (400 MB/s of bodies,
# captured twice: nginx's writes and wrk's reads; BB_DELAY_MS= (empty)
# removes the cap, for trying it by hand).  Nothing may be lost: every
# completed request has its server-role and client-role record with the
# whole body size, every http_tracer_events_dropped_total reason is zero,
# and no record is flagged gap.
e2e_port BB_NGX
e2e_port BB_MET; BB_MET=127.0.0.1:$BB_MET
BB=$TMP/bb
mkdir -p "$BB/ngx/www"
printf 'metrics:\n  listen: %s\n' "$BB_MET" > "$BB/tracer.yaml"
head -c 204800 /dev/zero | tr '\0' 'b' > "$BB/ngx/www/big"
wrk_lua_targets "$BB/big.lua" "/big?i=" "${BB_DELAY_MS-2}"
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
	skip "bigbody: nginx or wrk not installed (make deps installs nginx-light and wrk)"
elif ! ngx_private "$BB/ngx" "$BB_NGX" 'add_header X-Target $request_uri always;'; then
	fail "bigbody: nginx could not start"
elif ! start_tracer "$BB/out.ndjson" "$BB/tracer.log" --config "$BB/tracer.yaml"; then
	fail "bigbody: tracer did not start"
	ngx_private_stop "$BB/ngx"
else
	wrk -t1 -c4 -d3s -s "$BB/big.lua" "http://127.0.0.1:$BB_NGX" > "$BB/wrk.out" 2>&1
	sleep 2
	metrics_scrape "$BB_MET" "$BB/metrics.txt"
	stop_tracer || fail "bigbody: tracer did not exit 0 on SIGINT"
	ngx_private_stop "$BB/ngx"
	BB_N=$(awk '/requests in/ {print $1}' "$BB/wrk.out")
	BB_RPS=$(awk '/Requests\/sec/ {print $2}' "$BB/wrk.out")
	BB_DROP=$(metric_sum "$BB/metrics.txt" http_tracer_events_dropped_total)
	BB_LOST=$(metric_sum "$BB/metrics.txt" http_tracer_bytes_lost_total)
	echo "wrk: ${BB_N:-0} requests completed (${BB_RPS:-?} req/s); tracer: events dropped $BB_DROP, bytes lost $BB_LOST"
	grep -E '^http_tracer_events_dropped_total' "$BB/metrics.txt" | grep -v ' 0$'
	if [ -s "$BB/metrics.txt" ] && [ "$BB_DROP" -eq 0 ]; then
		pass "bigbody: no event dropped at the default settings"
	else
		fail "bigbody: $BB_DROP events dropped at the default settings (or no metrics scrape)"
	fi
	if python3 - "$BB/out.ndjson" "$BB_NGX" "${BB_N:-0}" <<'PY'; then
import json, sys
path, port, wrk_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
count = {"server": 0, "client": 0}
gap = wrong = 0
for line in open(path):
    if not line.strip():
        continue
    r = json.loads(line)
    if port not in (r.get("local_port"), r.get("remote_port")) or r["role"] not in count:
        continue
    flags = r.get("flags", [])
    gap += "gap" in flags
    echo = r.get("resp_headers", {}).get("x-target")
    wrong += bool(echo and r.get("target") and echo != r["target"])
    if r.get("status") == 200 and r.get("resp_body_size") == 204800 and echo == r.get("target"):
        count[r["role"]] += 1
print(f"records: {count['server']} server-role, {count['client']} client-role complete; gap {gap}, wrong {wrong}")
bad = 0
if wrk_n <= 0:
    print("FAIL wrk completed no request"); bad += 1
for role, n in count.items():
    if n < wrk_n:
        print(f"FAIL {role}: {wrk_n - n} of {wrk_n} completed requests have no complete record"); bad += 1
if gap or wrong:
    print(f"FAIL {gap} records flagged gap, {wrong} wrong"); bad += 1
sys.exit(1 if bad else 0)
PY
		pass "bigbody: every 200 KB exchange has its server and client record, none flagged gap"
	else
		fail "bigbody: 200 KB exchanges lost or flagged at the default settings"
	fi
fi
