# Rotation as the DaemonSet runs it (deploy/configmap.yaml turns it on):
# real nginx traffic through the tracer into 2500 KB files.  After SIGINT
# every rotated file is a complete gzip (gzip -t; of several members, one
# per MiB), none is left uncompressed or half-written, and the
# rotated files read oldest first and then the current file hold every
# completed request's server-role record exactly once.
e2e_port RT_NGX
e2e_port RT_MET; RT_MET=127.0.0.1:$RT_MET
RT=$TMP/rot
mkdir -p "$RT/out"
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
	fail "rotation: nginx or wrk not installed (make deps)"
elif ! why=$(ngx_private "$RT/ngx" "$RT_NGX" ""); then
	fail "rotation: nginx did not start: $why"
else
	# text that compresses like real pages, not a run of one byte
	python3 -c "
import random
random.seed(7)
w = ['alpha', 'beta', 'gamma', 'delta', 'items', 'price', 'user', 'order', 'id', 'ok']
print(' '.join(random.choice(w) + str(random.randrange(1000)) for _ in range(300)))
" > "$RT/ngx/www/page.html"
	cat > "$RT/rot.yaml" <<YAML
output:
  rotation: {enabled: true, maxSize: 2500KB, maxFiles: 1000, compressionLevel: 1}
metrics:
  listen: $RT_MET
YAML
	wrk_lua_targets "$RT/rot.lua" "/page.html?i=" 2
	if start_tracer "$RT/out/traces.log" "$RT/tracer.log" --config "$RT/rot.yaml"; then
		wrk -t1 -c4 -d3s -s "$RT/rot.lua" "http://127.0.0.1:$RT_NGX/" > "$RT/wrk.out" 2>&1
		sleep 1
		metrics_scrape "$RT_MET" "$RT/metrics"
		if stop_tracer; then pass "rotation: tracer exited 0 in $STOP_MS ms"; else fail "rotation: tracer did not exit 0 on SIGINT"; fi
		RT_N=$(awk '/requests in/ {print $1}' "$RT/wrk.out")
		RT_DROP=$(metric_sum "$RT/metrics" http_tracer_events_dropped_total)
		echo "rotation: wrk completed ${RT_N:-?} requests; events dropped ${RT_DROP:-?}; files: $(ls "$RT/out" | wc -l)"
		if python3 - "$RT/out" "$RT_NGX" "${RT_N:-0}" <<'PY'; then
import gzip, json, os, re, subprocess, sys
d, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = os.listdir(d)
gz = sorted((int(m.group(1)) for m in (re.fullmatch(r"traces\.log\.(\d+)\.gz", x) for x in names) if m))
other = [x for x in names if x != "traces.log" and not re.fullmatch(r"traces\.log\.\d+\.gz", x)]
bad = []
if len(gz) < 3:
    bad.append(f"only {len(gz)} rotated .gz files")
if gz != list(range(1, len(gz) + 1)):
    bad.append(f"rotated indexes not 1..{len(gz)}")
if other:
    bad.append(f"left over: {other[:5]}")
members = 0
for k in gz:
    p = f"{d}/traces.log.{k}.gz"
    if subprocess.run(["gzip", "-t", p]).returncode != 0:
        bad.append(f"{p} fails gzip -t")
    # member headers (a compressed byte run can look like one: at worst an overcount)
    members += open(p, "rb").read().count(b"\x1f\x8b\x08")
if gz and members <= len(gz):
    bad.append(f"{members} gzip members in {len(gz)} files: files of 2.5 MB need several")
seen, lines, broken = {}, 0, 0
for k in list(reversed(gz)) + [0]:
    p = f"{d}/traces.log" if k == 0 else f"{d}/traces.log.{k}.gz"
    data = open(p, "rb").read() if k == 0 else gzip.open(p).read()
    for line in data.splitlines():
        lines += 1
        try:
            r = json.loads(line)
        except ValueError:
            broken += 1
            continue
        if r.get("role") == "server" and r.get("local_port") == port and r.get("path") == "/page.html":
            i = int(r["target"].split("=")[1])
            seen[i] = seen.get(i, 0) + 1
# wrk sends the targets of its counter in order, each once (its first call,
# i=1, only tests the script), so the targets seen must be one run of
# consecutive numbers, at least as many as wrk completed.
lo, hi = (min(seen), max(seen)) if seen else (0, -1)
missing = [i for i in range(lo, hi + 1) if i not in seen]
dup = [i for i, c in seen.items() if c > 1]
print(f"rotation: {len(gz)} rotated files ({members} gzip members), {lines} records, "
      f"server records for targets {lo}..{hi}")
if n <= 0 or lo > 2 or missing or len(seen) < n:
    bad.append(f"server records for {len(seen)} of {n} completed requests, "
               f"from i={lo}, {len(missing)} holes (first {missing[:5]})")
if dup:
    bad.append(f"{len(dup)} requests with more than one server record ({dup[:5]})")
if broken:
    bad.append(f"{broken} lines are not JSON records")
for b in bad:
    print("rotation:", b)
sys.exit(1 if bad else 0)
PY
			pass "rotation: every rotated file is gzip, every request's server record exactly once"
		else
			fail "rotation: rotated output is incomplete or wrong (above)"
		fi
	else
		fail "rotation: tracer did not start"
	fi
	ngx_private_stop "$RT/ngx"
fi
