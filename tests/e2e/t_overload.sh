# Overload at small scale (issue 12): the smallest ring buffer and one shard
# under wrk, where nginx echoes every request's own target in X-Target, so a
# record pairing a request with another request's response is visible.
# Asserts, whatever share of the traffic the machine's speed lets the tracer
# keep: no wrong record (target != X-Target), every record right or flagged,
# and no more requests missing or flagged than the tracer counted losses.
e2e_port OV_NGX
e2e_port OV_MET; OV_MET=127.0.0.1:$OV_MET
OV=$TMP/ov
mkdir -p "$OV/ngx/www"
# Short body excerpts keep the output (and this test) small; the capture in
# the kernel, where the overload happens, is the same.
cat > "$OV/tracer.yaml" <<YAML
performance:
  ringbufferSize: 1
  workerThreads: 1
filtering:
  dataLimits:
    maxBodySize: 16
metrics:
  listen: $OV_MET
YAML
head -c 1024 /dev/zero | tr '\0' 's' > "$OV/ngx/www/small"
head -c 204800 /dev/zero | tr '\0' 'b' > "$OV/ngx/www/big"
wrk_lua_targets "$OV/small.lua" "/small?i="
wrk_lua_targets "$OV/big.lua" "/big?i="
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
	skip "overload: nginx or wrk not installed (make deps installs nginx-light and wrk)"
elif ! ngx_private "$OV/ngx" "$OV_NGX" 'add_header X-Target $request_uri always;'; then
	fail "overload: nginx could not start"
elif ! start_tracer "$OV/out.ndjson" "$OV/tracer.log" --config "$OV/tracer.yaml"; then
	fail "overload: tracer did not start"
	ngx_private_stop "$OV/ngx"
else
	U=http://127.0.0.1:$OV_NGX
	wrk -t1 -c32 -d3s -s "$OV/small.lua" "$U" > "$OV/wrk_small.out" 2>&1 &
	W1=$!
	wrk -t1 -c4 -d3s -s "$OV/big.lua" "$U" > "$OV/wrk_big.out" 2>&1
	wait "$W1"
	sleep 2
	metrics_scrape "$OV_MET" "$OV/metrics.txt"
	stop_tracer || fail "overload: tracer did not exit 0 on SIGINT"
	ngx_private_stop "$OV/ngx"
	OV_N=$(( $(awk '/requests in/ {print $1}' "$OV/wrk_small.out") + $(awk '/requests in/ {print $1}' "$OV/wrk_big.out") ))
	# every counted loss, each in a unit of which a request that did not
	# come out right owns at least one (see below)
	OV_DROP=$(( $(metric_sum "$OV/metrics.txt" http_tracer_events_dropped_total) + \
		$(metric_sum "$OV/metrics.txt" http_tracer_kernel_connections_evicted_total) ))
	OV_LOST=$(metric_sum "$OV/metrics.txt" http_tracer_bytes_lost_total)
	echo "wrk: $OV_N requests completed; tracer: events dropped (and connections evicted) $OV_DROP, bytes lost $OV_LOST"
	grep -E '^http_tracer_events_dropped_total' "$OV/metrics.txt" | grep -v ' 0$'
	if python3 - "$OV/out.ndjson" "$OV_NGX" "$OV_N" "$OV_DROP" <<'PY'; then
import json, sys
path, port, wrk_n, dropped = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
loss_flags = {"gap", "incomplete", "no_request"}
st = {role: dict(records=0, flagged=0, wrong=0, unflagged=0, right=0, examples=[]) for role in ("server", "client")}
for line in open(path):
    if not line.strip():
        continue
    r = json.loads(line)
    if port not in (r.get("local_port"), r.get("remote_port")) or r["role"] not in st:
        continue
    s = st[r["role"]]
    s["records"] += 1
    flagged = bool(loss_flags & set(r.get("flags", [])))
    echo = r.get("resp_headers", {}).get("x-target")
    right = r.get("status") == 200 and bool(r.get("target")) and echo == r["target"]
    wrong = bool(r.get("target") and echo and echo != r["target"])
    s["flagged"] += flagged
    s["right"] += right
    s["wrong"] += wrong
    s["unflagged"] += not right and not flagged
    if (wrong or not (right or flagged)) and len(s["examples"]) < 3:
        s["examples"].append(f"target {r.get('target')} x-target {echo} status {r.get('status')} flags {r.get('flags')}")
bad, not_right = 0, 0
for role, s in st.items():
    print(f"{role}: records {s['records']}, right (200, own X-Target) {s['right']}, flagged {s['flagged']}, "
          f"wrong {s['wrong']}, neither right nor flagged {s['unflagged']}")
    for e in s["examples"]:
        print("  " + e)
    if s["wrong"]:
        print(f"FAIL {role}: {s['wrong']} records pair a request with another request's response"); bad += 1
    if s["unflagged"]:
        print(f"FAIL {role}: {s['unflagged']} records are neither right nor flagged gap/incomplete/no_request"); bad += 1
    if not s["right"]:
        print(f"FAIL {role}: no right record at all"); bad += 1
    not_right += max(0, wrk_n - s["right"])
# A completed request that has no right record in a role had at least one
# of its own syscalls in that role (nginx's read or writes, wrk's write or
# reads: one request at a time per keep-alive connection, so no syscall is
# shared by two requests) lost, and the tracer counts each such loss at
# least once: a ring reserve that failed, an event dropped in user space,
# an evicted byte or connection, a record dropped.  So however fast the
# machine is, the two roles' missing and flagged requests add up to at most
# the counted losses, plus one request in flight per connection (36) per
# role when wrk stopped.  (The one loss not counted per event is a hole the
# reorder wait gives up on, for bytes still on their way: in the runs seen,
# the requests not right stayed under a quarter of the counted losses.)
bound = dropped + 2 * 36
print(f"requests not right, both roles: {not_right} of {2 * wrk_n}; counted losses allow {bound}")
if not_right > bound:
    print(f"FAIL: {not_right - bound} requests not right beyond the counted losses"); bad += 1
sys.exit(1 if bad else 0)
PY
		pass "overload: no record pairs a request with another's response; flagged/missing ones only with counted losses"
	else
		fail "overload: records wrong or losses uncounted"
	fi
fi
