# Config reload on SIGHUP against the live tracer: a good config takes effect
# (a new excludePaths entry stops records for that path), a bad one is
# refused, counted, and the old config stays.  Also: DESIGN §4's config,
# as written, runs the tracer (output redirected with -o).
e2e_port RL_PORT
e2e_port RL_M
mkdir -p "$TMP/rl"; echo r > "$TMP/rl/a.html"; echo r > "$TMP/rl/b.html"
cat > "$TMP/rl.yaml" <<YAML
filtering:
  excludePaths: ["^/nothing$"]
metrics:
  listen: 127.0.0.1:$RL_M
YAML
if start_tracer "$TMP/rl.ndjson" "$TMP/rl.log" --config "$TMP/rl.yaml"; then
	python3 -m http.server "$RL_PORT" --bind 127.0.0.1 --directory "$TMP/rl" >/dev/null 2>&1 &
	HS=$!
	wait_listen "$RL_PORT"
	U=http://127.0.0.1:$RL_PORT
	curl -s -o /dev/null "$U/a.html?phase=1"
	# filters apply when a record is finished: let phase 1 finish under the
	# old config before the new one is installed
	wait_lines "$TMP/rl.ndjson" 'a.html?phase=1' 2
	sed -i 's|\^/nothing\$|^/a\\\\.html$|' "$TMP/rl.yaml"
	kill -HUP "$TRACER_PID"; wait_lines "$TMP/rl.log" "config reloaded" 1
	curl -s -o /dev/null "$U/a.html?phase=2"; curl -s -o /dev/null "$U/b.html?phase=2"
	printf 'performance:\n  workerThreadz: 3\n' > "$TMP/rl.yaml"
	kill -HUP "$TRACER_PID"; wait_lines "$TMP/rl.log" "reload failed" 1
	curl -s -o /dev/null "$U/a.html?phase=3"
	reloads=$(curl -s "http://127.0.0.1:$RL_M/metrics" | grep '^http_tracer_config_reloads_total')
	kill "$HS"; sleep 0.5
	stop_tracer || fail "reload: tracer did not exit 0"
	n1=$(grep -c 'a.html?phase=1' "$TMP/rl.ndjson"); n2a=$(grep -c 'a.html?phase=2' "$TMP/rl.ndjson")
	n2b=$(grep -c 'b.html?phase=2' "$TMP/rl.ndjson"); n3=$(grep -c 'a.html?phase=3' "$TMP/rl.ndjson")
	if [ "$n1" -eq 2 ] && [ "$n2a" -eq 0 ] && [ "$n2b" -eq 2 ] && [ "$n3" -eq 0 ]; then
		pass "reload: excludePaths took effect on SIGHUP; a bad file kept the old config"
	else
		fail "reload: records before/after: a1=$n1 a2=$n2a b2=$n2b a3=$n3 (want 2 0 2 0)"
	fi
	if echo "$reloads" | grep -q 'result="success"} 1' && echo "$reloads" | grep -q 'result="failure"} 1' &&
	   grep -q "reload failed.*workerThreadz" "$TMP/rl.log"; then
		pass "reload: counted (1 success, 1 failure) and the failure logged with its reason"
	else
		echo "$reloads"; tail -3 "$TMP/rl.log"; fail "reload: counters or log line"
	fi
else
	fail "reload: tracer did not start"
fi
DESIGN_CFG=$ROOT/tests/data/design.yaml
# (its metrics.listen is the default 127.0.0.1:9090: if that port is taken,
# the tracer says so and runs without metrics, which is what is tested here)
if start_tracer "$TMP/design.ndjson" "$TMP/design.log" --config "$DESIGN_CFG" -o "$TMP/design.ndjson"; then
	stop_tracer && pass "DESIGN §4's config, as written, runs the tracer" || fail "design config: exit status"
else
	fail "design config: tracer did not start with $DESIGN_CFG"
fi

# Kernel filters at their limits (include/ht_limits.h), switched on SIGHUP:
# the maps hold the old and the new config side by side, the switch takes
# effect, and a config past a limit is refused at its line:column with the
# kernel still filtering as before.
e2e_port KL_PORT; e2e_port KL_M
# kl_yaml FILE FIRST COUNT [PORT]: excludePorts FIRST..FIRST+COUNT-1 (and PORT);
# the lists lie in 20001..23025, above every e2e_port and below the ephemeral
# ports (a client's local port in a list would deny its connection too)
kl_yaml() {
	python3 - "$@" <<'PY'
import os, sys
f, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ports = list(range(first, first + n)) + [int(p) for p in sys.argv[4:]]
with open(f, "w") as o:
    o.write("filtering:\n  kernel:\n    excludePorts:\n")
    o.writelines("      - %d\n" % p for p in ports)
    o.write("metrics:\n  listen: 127.0.0.1:%s\n" % os.environ["KL_M"])
PY
}
export KL_M
kl_yaml "$TMP/kl.yaml" 20001 1023 "$KL_PORT"          # 1024 ports, ours among them
mkdir -p "$TMP/kl"; echo k > "$TMP/kl/a.html"
if "$BUILD/http-tracer" --check-config --config "$TMP/kl.yaml" >/dev/null &&
   start_tracer "$TMP/kl.ndjson" "$TMP/kl.log" --config "$TMP/kl.yaml"; then
	python3 -m http.server "$KL_PORT" --bind 127.0.0.1 --directory "$TMP/kl" >/dev/null 2>&1 &
	HS=$!
	wait_listen "$KL_PORT"
	U=http://127.0.0.1:$KL_PORT
	curl -s -o /dev/null "$U/a.html?phase=1"           # denied in the kernel
	kl_yaml "$TMP/kl.yaml" 21001 1024                  # 1024 other ports: ours allowed
	kill -HUP "$TRACER_PID"; wait_lines "$TMP/kl.log" "config reloaded" 1
	curl -s -o /dev/null "$U/a.html?phase=2"
	kl_yaml "$TMP/kl.yaml" 22001 1025                  # one past the limit
	kill -HUP "$TRACER_PID"; wait_lines "$TMP/kl.log" "reload failed" 1
	curl -s -o /dev/null "$U/a.html?phase=3"           # still the second config
	reloads=$(curl -s "http://127.0.0.1:$KL_M/metrics" | grep '^http_tracer_config_reloads_total')
	kill "$HS"; sleep 0.5
	stop_tracer || fail "kernel limits: tracer did not exit 0"
	n1=$(grep -c 'a.html?phase=1' "$TMP/kl.ndjson"); n2=$(grep -c 'a.html?phase=2' "$TMP/kl.ndjson")
	n3=$(grep -c 'a.html?phase=3' "$TMP/kl.ndjson")
	if [ "$n1" -eq 0 ] && [ "$n2" -eq 2 ] && [ "$n3" -eq 2 ]; then
		pass "kernel limits: 1024 denied ports switched on SIGHUP; a config past the limit kept the old filters"
	else
		fail "kernel limits: records per phase: $n1 $n2 $n3 (want 0 2 2)"
	fi
	if echo "$reloads" | grep -q 'result="success"} 1' && echo "$reloads" | grep -q 'result="failure"} 1' &&
	   grep -q "reload failed.*kl.yaml:1028:9: error: too many entries in filtering.kernel.excludePorts: at most 1024 (HT_PORTS_MAX" "$TMP/kl.log"; then
		pass "kernel limits: the refused reload is counted and names the limit at its line:column"
	else
		echo "scrape: ${reloads:-nothing}"; grep -m2 "metrics" "$TMP/kl.log"; tail -3 "$TMP/kl.log"
		fail "kernel limits: counters or log line"
	fi
else
	fail "kernel limits: a config of 1024 excludePorts did not start the tracer"
fi
