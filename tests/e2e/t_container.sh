# Container metadata: a server process placed in a cgroup named the way
# Docker names its containers (pids hierarchy, /docker/<64 hex>) gets that id
# as container_id in its records; the host's curl gets none.  Uses the real
# cgroup filesystem; skipped where no writable pids hierarchy exists.  (The
# id is read from /proc/PID/cgroup when the record is finished, so a client
# that has already exited by then has none: servers are the case that
# matters in a pod.)
CT_ID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | cut -c1-64)
CG=""
for base in /sys/fs/cgroup/pids /sys/fs/cgroup; do
	if [ -w "$base/cgroup.procs" ] && mkdir -p "$base/docker/$CT_ID" 2>/dev/null &&
	   [ -e "$base/docker/$CT_ID/cgroup.procs" ]; then
		CG=$base/docker/$CT_ID
		break
	fi
done
if [ -z "$CG" ]; then
	skip "container metadata: no writable cgroup hierarchy to place a process in"
else
	e2e_port C_PORT
	mkdir -p "$TMP/cwww"; echo c > "$TMP/cwww/index.html"
	if start_tracer "$TMP/ct.ndjson" "$TMP/ct.log" --config "$TMP/e2e.yaml"; then
		sh -c "echo \$\$ > $CG/cgroup.procs && exec python3 -m http.server $C_PORT --bind 127.0.0.1 --directory $TMP/cwww" >/dev/null 2>&1 &
		HS=$!
		wait_listen "$C_PORT"
		curl -s -o /dev/null "http://127.0.0.1:$C_PORT/index.html?ct=1"
		sleep 0.5
		kill "$HS"
		stop_tracer || fail "container metadata: tracer exit status"
		cli=$(grep '"target":"/index.html?ct=1"' "$TMP/ct.ndjson" | grep '"role":"client"')
		srv=$(grep '"target":"/index.html?ct=1"' "$TMP/ct.ndjson" | grep '"role":"server"')
		if echo "$srv" | grep -q "\"container_id\":\"$CT_ID\"" && [ -n "$cli" ] && ! echo "$cli" | grep -q container_id; then
			pass "container metadata: the containerised server carries its container_id, the host client none"
		else
			echo "client: $cli"; echo "server: $srv"; fail "container metadata"
		fi
	else
		fail "container metadata: tracer did not start"
	fi
	sleep 0.3
	rmdir "$CG" 2>/dev/null; rmdir "$(dirname "$CG")" 2>/dev/null
fi
