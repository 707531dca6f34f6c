# Real nginx (Debian's nginx-light) on a loopback port, driven by curl and wrk:
# every request gets one server-role and one client-role record with the
# right method, path, status and sizes.
e2e_port NGX_PORT
mkdir -p "$TMP/ngx/www" "$TMP/ngx/tmp"
chmod 755 "$TMP" "$TMP/ngx" "$TMP/ngx/www"   # nginx workers run as www-data
head -c 1024 /dev/zero | tr '\0' 'a' > "$TMP/ngx/www/index.html"
head -c 102400 /dev/zero | tr '\0' 'b' > "$TMP/ngx/www/big.bin"
head -c 1024 /dev/zero | tr '\0' 'w' > "$TMP/ngx/www/wrk.html"
cat > "$TMP/ngx/nginx.conf" <<NGX
worker_processes 1;
pid $TMP/ngx/nginx.pid;
error_log $TMP/ngx/error.log;
daemon on;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $TMP/ngx/tmp;
	proxy_temp_path $TMP/ngx/tmp;
	fastcgi_temp_path $TMP/ngx/tmp;
	uwsgi_temp_path $TMP/ngx/tmp;
	scgi_temp_path $TMP/ngx/tmp;
	server {
		listen 127.0.0.1:$NGX_PORT;
		root $TMP/ngx/www;
		location = /missing { return 404; }
	}
}
NGX
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
	fail "nginx: nginx or wrk not installed (make deps installs nginx-light and wrk)"
elif ! nginx -c "$TMP/ngx/nginx.conf" -e "$TMP/ngx/error.log" 2>"$TMP/ngx/start.err"; then
	fail "nginx: could not start: $(cat "$TMP/ngx/start.err")"
else
	if start_tracer "$TMP/ngx.ndjson" "$TMP/ngx.log" --config "$TMP/e2e.yaml"; then
		U=http://127.0.0.1:$NGX_PORT
		for i in $(seq 1 10); do curl -s -o /dev/null "$U/index.html?i=$i"; done
		curl -s -o /dev/null "$U/big.bin?i=big"
		curl -s -I -o /dev/null "$U/index.html?i=head"
		curl -s -o /dev/null "$U/missing?i=404"
		curl -s -o /dev/null -X POST --data 'a=1&b=2' "$U/index.html?i=post"
		wrk -t1 -c4 -d3s "$U/wrk.html" > "$TMP/wrk.out" 2>&1
		cat "$TMP/wrk.out"
		sleep 1
		echo "tracer's own loss accounting:"
		curl -s "http://$E2E_METRICS/metrics" | grep -E '^http_tracer_(events_dropped_total|bytes_lost_total|parse_errors_total)' | grep -v ' 0$'
		stop_tracer || fail "nginx: tracer did not exit 0 on SIGINT"
		WRK_N=$(awk '/requests in/ {print $1}' "$TMP/wrk.out")
		if python3 - "$TMP/ngx.ndjson" "$NGX_PORT" "${WRK_N:-0}" <<'PY'; then
import json, sys
path, port, wrk_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
recs = [json.loads(l) for l in open(path) if l.strip()]
mine = [r for r in recs if port in (r.get("local_port"), r.get("remote_port"))]
want = {f"/index.html?i={i}": ("GET", 200, 1024) for i in range(1, 11)}
want["/big.bin?i=big"] = ("GET", 200, 102400)
want["/index.html?i=head"] = ("HEAD", 200, 0)
want["/missing?i=404"] = ("GET", 404, None)
want["/index.html?i=post"] = ("POST", 405, None)
bad = 0
for target, (method, status, size) in want.items():
    for role, comm in (("server", "nginx"), ("client", "curl")):
        got = [r for r in mine if r.get("target") == target and r.get("role") == role]
        if len(got) != 1:
            print(f"FAIL {target} [{role}]: {len(got)} records, want 1"); bad += 1; continue
        r = got[0]
        errs = []
        if r["method"] != method: errs.append(f"method {r['method']}")
        if r["status"] != status: errs.append(f"status {r['status']}")
        if size is not None and r["resp_body_size"] != size: errs.append(f"resp_body_size {r['resp_body_size']}")
        if not r.get("comm", "").startswith(comm): errs.append(f"comm {r.get('comm')}")
        if role == "server" and r["local_port"] != port: errs.append("local_port")
        if role == "client" and r["remote_port"] != port: errs.append("remote_port")
        if r.get("req_body_size") != (7 if method == "POST" else 0): errs.append(f"req_body_size {r.get('req_body_size')}")
        if errs:
            print(f"FAIL {target} [{role}]: " + ", ".join(errs)); bad += 1
srv = sum(1 for r in mine if r.get("path") == "/wrk.html" and r["role"] == "server" and r["status"] == 200 and r["resp_body_size"] == 1024)
cli = sum(1 for r in mine if r.get("path") == "/wrk.html" and r["role"] == "client" and r["status"] == 200 and r["resp_body_size"] == 1024)
print(f"wrk: {wrk_n} requests completed, {srv} server-role records, {cli} client-role records")
if wrk_n <= 0 or srv < wrk_n or cli < wrk_n or srv > wrk_n + 8 or cli > wrk_n + 8:
    print("FAIL wrk: every completed request needs one server and one client record"); bad += 1
# wrk stops with up to one request in flight per connection: those may be
# recorded as incomplete; anything else flagged is a failure.
inflight = [r for r in mine if r.get("path") == "/wrk.html" and r.get("flags") == ["incomplete"]]
flagged = [r for r in mine if [f for f in r.get("flags", []) if f != "resp_body_truncated"]
           and not (r.get("path") == "/wrk.html" and r.get("flags") == ["incomplete"])]
if len(inflight) > 8:
    print(f"FAIL {len(inflight)} incomplete wrk records, at most 8 can be in flight"); bad += 1
if flagged:
    print(f"FAIL {len(flagged)} records carry flags, e.g. {flagged[0].get('flags')}"); bad += 1
sys.exit(1 if bad else 0)
PY
			pass "nginx: curl and wrk requests each have one server and one client record"
		else
			fail "nginx: records do not match the traffic"
		fi
	else
		fail "nginx: tracer did not start"
	fi
	kill "$(cat "$TMP/ngx/nginx.pid")" 2>/dev/null
fi
