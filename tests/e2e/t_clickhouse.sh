# The ClickHouse sink against a real clickhouse-server (Debian's 18.16),
# started privately on free ports (e2e_port) with its data in $TMP/ch:
#   live     nginx + curl/wrk traffic: ClickHouse holds exactly the records
#            of the NDJSON file of the same run, columns right;
#   outage   server SIGSTOPped, then killed and restarted while traffic
#            flows: every record is in ClickHouse or counted as dropped;
#   spool    server down when the tracer stops: the queue goes to spoolDir,
#            and the next tracer (server back) sends it;
#   cluster  a Distributed table over test_shard_localhost gets the records;
#   refused  a wrong password, a missing table, a column of the wrong type
#            (HTTP 500, "Code: 27"): one error line each, the rejected
#            metric, and the file output goes on.
e2e_port CH_HTTP; e2e_port CH_TCP; e2e_port CH_IS; e2e_port CH_NGX
CH_DIR=$TMP/ch
CH_URL=http://127.0.0.1:$CH_HTTP
CH_PID=""

# ch_q SQL: run SQL as the default user; the answer on stdout.
ch_q() {
	curl -sS --max-time 20 "$CH_URL/" --data-binary "$1"
}

# ch_config: a config.xml and users.xml of our own (ports, paths, the test
# cluster on our tcp port, a user tracer with password s3cret).
ch_config() {
	mkdir -p "$CH_DIR/data" "$CH_DIR/log"
	sed -e "s#<http_port>8123</http_port>#<http_port>$CH_HTTP</http_port>#" \
	    -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$CH_TCP</tcp_port>#" \
	    -e "s#<interserver_http_port>9009</interserver_http_port>#<interserver_http_port>$CH_IS</interserver_http_port>#" \
	    -e "s#<port>9000</port>#<port>$CH_TCP</port>#g" \
	    -e "s#/var/lib/clickhouse/#$CH_DIR/data/#g" \
	    -e "s#/var/log/clickhouse-server/#$CH_DIR/log/#g" \
	    -e "s#<listen_host>::1</listen_host>##" \
	    /etc/clickhouse-server/config.xml > "$CH_DIR/config.xml"
	sed -e 's#^    </users>#        <tracer><password>s3cret</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></tracer>\n    </users>#' \
	    /etc/clickhouse-server/users.xml > "$CH_DIR/users.xml"
}

# ch_start: start the server (data kept across restarts); 0 once it answers.
ch_start() {
	# exec: $! is the server itself (SIGSTOP and SIGKILL reach it)
	no_lock_fd exec clickhouse-server --config-file="$CH_DIR/config.xml" \
		>"$CH_DIR/log/stdout" 2>&1 &
	CH_PID=$!
	i=0
	while [ $i -lt 300 ]; do
		[ "$(curl -s --max-time 1 "$CH_URL/?query=SELECT%201" 2>/dev/null)" = 1 ] && return 0
		kill -0 "$CH_PID" 2>/dev/null || break
		sleep 0.1; i=$((i + 1))
	done
	echo "clickhouse-server did not answer on $CH_URL:"; tail -5 "$CH_DIR/log/stdout"
	return 1
}

ch_kill() {
	[ -n "$CH_PID" ] || return 0
	kill -CONT "$CH_PID" 2>/dev/null
	kill -9 "$CH_PID" 2>/dev/null
	wait "$CH_PID" 2>/dev/null
	CH_PID=""
}

# ch_tracer_cfg FILE TABLE [extra clickhouse keys...]: a tracer config that
# traces only our nginx (server-role records: the machine is shared, and
# other traffic could outrun an 18.16 server on two busy CPUs).
ch_tracer_cfg() {
	f=$1; tbl=$2; shift 2
	{
		printf 'metrics:\n  listen: %s\n' "$E2E_METRICS"
		printf 'filtering:\n  kernel:\n    pids: [%s]\n' "$CH_NGX_PIDS"
		printf 'performance:\n  flushIntervalMs: 100\n'
		printf 'output:\n  clickhouse:\n    url: %s\n    table: %s\n' "$CH_URL" "$tbl"
		for kv in "$@"; do printf '    %s\n' "$kv"; done
	} > "$f"
}

# ch_stop_tracer: SIGINT and up to 20 s (a sink drains up to 5 s, then spools).
ch_stop_tracer() {
	kill -INT "$TRACER_PID"
	i=0
	while kill -0 "$TRACER_PID" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$TRACER_PID" 2>/dev/null; then kill -9 "$TRACER_PID"; wait "$TRACER_PID"; return 1; fi
	wait "$TRACER_PID"
}

# ch_wait_idle: until the sink's queue and spool are empty (up to 30 s).
ch_wait_idle() {
	i=0
	while [ $i -lt 300 ]; do
		metrics_scrape "$E2E_METRICS" "$TMP/ch.prom"
		q=$(metric_sum "$TMP/ch.prom" http_tracer_sink_queue_batches)
		s=$(metric_sum "$TMP/ch.prom" http_tracer_sink_spool_batches)
		[ -s "$TMP/ch.prom" ] && [ "$q" = 0 ] && [ "$s" = 0 ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# ch_keys TABLE FILE: the key of every row of TABLE, one a line.
ch_keys() {
	ch_q "SELECT time_unix_nano, role, pid, tid, local_port, remote_port, target FROM default.$1 FORMAT TSV" > "$2"
}

# ch_compare NDJSON KEYS DROPPED [PORT]: every record of NDJSON (with PORT:
# only those to or from PORT) is a row of KEYS, or one of DROPPED; no row is
# unknown to the file.  Prints the counts (rows sent twice, after a reply
# lost in an outage, are shown: delivery is at least once).
ch_compare() {
	python3 - "$1" "$2" "$3" "${4:-0}" <<'PY'
import json, sys
nd, keys, dropped, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def mine(k):
    return port == "0" or port in (k[4], k[5])
want = {}
for l in open(nd):
    if l.strip():
        r = json.loads(l)
        k = (str(r["time_unix_nano"]), r["role"], str(r["pid"]), str(r["tid"]),
             str(r["local_port"]), str(r["remote_port"]), r["target"])
        if mine(k):
            want[k] = want.get(k, 0) + 1
# TSV escapes backslashes and tabs; the targets compared have neither
rows = [tuple(l.rstrip("\n").split("\t")) for l in open(keys) if l.strip()]
got = {}
for k in rows:
    if mine(k):
        got[k] = got.get(k, 0) + 1
missing = sum(max(0, n - got.get(k, 0)) for k, n in want.items())
unknown = sum(n for k, n in got.items() if k not in want)
twice = sum(max(0, n - want[k]) for k, n in got.items() if k in want)
print(f"records{' of port ' + port if port != '0' else ''}: {sum(want.values())} in the file, "
      f"{sum(got.values())} rows in ClickHouse, {missing} missing, {dropped} counted as dropped, "
      f"{unknown} rows not in the file, {twice} rows sent twice")
sys.exit(0 if missing <= dropped and unknown == 0 else 1)
PY
}

# ch_traffic SECONDS TAG: curl + wrk traffic against the private nginx.
ch_traffic() {
	for i in $(seq 1 10); do curl -s -o /dev/null "http://127.0.0.1:$CH_NGX/index.html?$2=$i"; done
	wrk_lua_targets "$TMP/ch_wrk.lua" "/index.html?$2=w" 20
	wrk -t1 -c2 -d"$1"s -s "$TMP/ch_wrk.lua" "http://127.0.0.1:$CH_NGX" > "$TMP/ch_wrk.out" 2>&1
}

# ch_roundtrip NAME TAG TABLE SECONDS WHAT [clickhouse keys...]: a tracer
# whose sink inserts into TABLE, SECONDS of traffic tagged TAG (its files
# are $TMP/ch_TAG.*), then every record of its NDJSON file must be a row of
# TABLE and no row unknown to the file: "clickhouse NAME: WHAT".  Returns
# non-zero only when the tracer did not start.
ch_roundtrip() {
	rt_name=$1; rt_tag=$2; rt_tbl=$3; rt_secs=$4; rt_what=$5; shift 5
	rm -f "$TMP/ch_$rt_tag.ndjson"
	ch_tracer_cfg "$TMP/ch_$rt_tag.yaml" "$rt_tbl" "$@"
	start_tracer "$TMP/ch_$rt_tag.ndjson" "$TMP/ch_$rt_tag.log" --config "$TMP/ch_$rt_tag.yaml" || { fail "clickhouse $rt_name: tracer did not start"; return 1; }
	ch_traffic "$rt_secs" "$rt_tag"
	sleep 0.5
	ch_stop_tracer || fail "clickhouse $rt_name: tracer did not exit 0 on SIGINT"
	ch_keys "$rt_tbl" "$TMP/ch_$rt_tag.keys"
	if ch_compare "$TMP/ch_$rt_tag.ndjson" "$TMP/ch_$rt_tag.keys" 0 && [ -s "$TMP/ch_$rt_tag.keys" ]; then
		pass "clickhouse $rt_name: $rt_what"
	else
		fail "clickhouse $rt_name: ClickHouse and the NDJSON file differ"; tail -5 "$TMP/ch_$rt_tag.log"
	fi
}

ch_live() {
	ch_roundtrip live a ev_live 2 "the rows in ClickHouse are the records of the NDJSON file" \
		"createTable: true" "user: tracer" "passwordFile: $TMP/ch.pw" || return
	# columns: one known server-side request, compared field by field with its NDJSON record
	ch_q "SELECT time, time_unix_nano, role, method, target, path, status, resp_body_size, local_port, comm, version, req_header_names, req_header_values, resp_header_names, flags, node FROM default.ev_live WHERE target = '/index.html?a=3' AND role = 'server' FORMAT JSONEachRow" > "$TMP/ch_a.row"
	if python3 - "$TMP/ch_a.ndjson" "$TMP/ch_a.row" "$CH_NGX" <<'PY'; then
import datetime, json, socket, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
r = [x for x in recs if x["target"] == "/index.html?a=3" and x["role"] == "server"]
if len(rows) != 1 or len(r) != 1:
    print(f"{len(rows)} rows, {len(r)} records for /index.html?a=3 [server]"); sys.exit(1)
row, r = rows[0], r[0]
bad = []
def eq(name, got, want):
    if got != want: bad.append(f"{name}: {got!r} != {want!r}")
eq("time_unix_nano", int(row["time_unix_nano"]), r["time_unix_nano"])
t = datetime.datetime.strptime(row["time"], "%Y-%m-%d %H:%M:%S")
eq("time (UTC seconds)", int(t.replace(tzinfo=datetime.timezone.utc).timestamp()), r["time_unix_nano"] // 10**9)
for k in ("role", "method", "target", "path", "status", "resp_body_size", "local_port", "comm", "version", "flags"):
    eq(k, row[k] if not isinstance(r[k], int) else int(row[k]), r[k])
eq("local_port is nginx's", r["local_port"], int(sys.argv[3]))
eq("req headers", dict(zip(row["req_header_names"], row["req_header_values"])), r["req_headers"])
eq("resp header names", row["resp_header_names"], list(r["resp_headers"].keys()))
eq("node", row["node"], socket.gethostname())
print("columns: " + ("; ".join(bad) if bad else "every compared column matches"))
sys.exit(1 if bad else 0)
PY
		pass "clickhouse live: columns (time, ns, role, method, target, status, sizes, ports, headers as two arrays, flags, node) match the NDJSON record"
	else
		fail "clickhouse live: a row's columns differ from its NDJSON record"
	fi
}

# compression: none: the inserts go as plain JSONEachRow (a body and its
# Content-Encoding that disagree would be refused by the server).
ch_plain() {
	ch_roundtrip plain p ev_plain 1 \
		"with compression: none the rows in ClickHouse are the records of the NDJSON file" \
		"createTable: true" "compression: none"
}

# The server stops (SIGSTOP) and dies (SIGKILL) mid-traffic, then comes
# back; then it dies again and the tracer stops with a queue: the next
# tracer sends the spool.
ch_outage() {
	rm -f "$TMP/ch_b.ndjson"
	rm -rf "$TMP/ch_spool"
	ch_tracer_cfg "$TMP/ch_b.yaml" ev_outage "createTable: true" "spoolDir: $TMP/ch_spool" "spoolMaxSize: 64MiB"
	start_tracer "$TMP/ch_b.ndjson" "$TMP/ch_b.log" --config "$TMP/ch_b.yaml" || { fail "clickhouse outage: tracer did not start"; return; }
	ch_traffic 6 b &
	tp=$!
	sleep 1.5; kill -STOP "$CH_PID"
	sleep 2; kill -9 "$CH_PID"; wait "$CH_PID" 2>/dev/null
	sleep 1; ch_start || { fail "clickhouse outage: server did not restart"; kill "$tp"; ch_stop_tracer; return; }
	wait "$tp"
	# the file first, then an empty queue: every record of the copy was
	# submitted (right after its write) before the queue was seen empty
	sleep 0.5
	cp "$TMP/ch_b.ndjson" "$TMP/ch_b.snap"
	sleep 0.2
	if ch_wait_idle; then
		dropped=$(metric_sum "$TMP/ch.prom" http_tracer_sink_records_dropped_total)
		retries=$(metric_sum "$TMP/ch.prom" http_tracer_sink_retries_total)
		echo "sink after the outage: retries=$retries dropped=$dropped"
		ch_keys ev_outage "$TMP/ch_b.keys"
		if [ "$retries" -gt 0 ] && ch_compare "$TMP/ch_b.snap" "$TMP/ch_b.keys" "$dropped" "$CH_NGX"; then
			pass "clickhouse outage: after SIGSTOP, SIGKILL and restart every record is in ClickHouse or counted as dropped"
		else
			fail "clickhouse outage: records lost (or no retry seen: retries=$retries)"
		fi
	else
		fail "clickhouse outage: the sink's queue did not drain after the restart"
	fi
	# down again: the tracer stops with batches queued -> they go to the spool
	ch_kill
	ch_traffic 1 c
	sleep 0.5
	ch_stop_tracer || fail "clickhouse spool: tracer did not exit 0 (drain, then spool)"
	nspool=$(ls "$TMP/ch_spool" | grep -c '\.batch$')
	if [ "$nspool" -gt 0 ] && grep -q "left in the spool" "$TMP/ch_b.log" && ! ls "$TMP/ch_spool" | grep -q '\.tmp$'; then
		pass "clickhouse spool: $nspool batches spooled at exit while the server was down (whole files, no .tmp)"
	else
		fail "clickhouse spool: nothing spooled at exit ($nspool files)"; tail -3 "$TMP/ch_b.log"
	fi
	ch_start || { fail "clickhouse spool: server did not restart"; return; }
	start_tracer "$TMP/ch_b.ndjson" "$TMP/ch_b2.log" --config "$TMP/ch_b.yaml" || { fail "clickhouse spool: second tracer did not start"; return; }
	if ch_wait_idle; then
		replayed=$(metric_sum "$TMP/ch.prom" http_tracer_sink_batches_replayed_total)
		ch_stop_tracer || fail "clickhouse spool: second tracer did not exit 0"
		ch_keys ev_outage "$TMP/ch_b.keys"
		if [ "$replayed" -ge "$nspool" ] && [ -z "$(ls "$TMP/ch_spool")" ] &&
		   ch_compare "$TMP/ch_b.ndjson" "$TMP/ch_b.keys" "$dropped"; then
			pass "clickhouse spool: the restarted tracer sent the $replayed spooled batches; every record of both runs is in ClickHouse or counted"
		else
			fail "clickhouse spool: replayed=$replayed of $nspool, or records missing"
		fi
	else
		ch_stop_tracer
		fail "clickhouse spool: the spool was not sent by the restarted tracer"
	fi
}

ch_cluster() {
	ch_q "CREATE TABLE default.ev_local AS default.ev_live" &&
	ch_q "CREATE TABLE default.ev_dist AS default.ev_local ENGINE = Distributed(test_shard_localhost, default, ev_local, rand())" ||
		{ fail "clickhouse cluster: cannot create the Distributed table"; return; }
	rm -f "$TMP/ch_d.ndjson"
	ch_tracer_cfg "$TMP/ch_d.yaml" ev_dist
	start_tracer "$TMP/ch_d.ndjson" "$TMP/ch_d.log" --config "$TMP/ch_d.yaml" || { fail "clickhouse cluster: tracer did not start"; return; }
	for i in $(seq 1 20); do curl -s -o /dev/null "http://127.0.0.1:$CH_NGX/index.html?d=$i"; done
	sleep 0.5
	ch_stop_tracer || fail "clickhouse cluster: tracer did not exit 0"
	want=$(grep -c . "$TMP/ch_d.ndjson")
	i=0 # the Distributed engine forwards to the shard in the background
	while [ $i -lt 100 ] && [ "$(ch_q 'SELECT count() FROM default.ev_local')" != "$want" ]; do sleep 0.1; i=$((i + 1)); done
	ch_keys ev_local "$TMP/ch_d.keys"
	if [ "$want" -gt 0 ] && ch_compare "$TMP/ch_d.ndjson" "$TMP/ch_d.keys" 0; then
		pass "clickhouse cluster: a Distributed table over test_shard_localhost received all $want records"
	else
		fail "clickhouse cluster: the shard's table does not hold the records"
	fi
}

# ch_refused NAME TABLE EXPECT [keys...]: ClickHouse refuses every insert.
ch_refused() {
	name=$1; tbl=$2; expect=$3; shift 3
	rm -f "$TMP/ch_e.ndjson"
	ch_tracer_cfg "$TMP/ch_e.yaml" "$tbl" "$@"
	start_tracer "$TMP/ch_e.ndjson" "$TMP/ch_e.log" --config "$TMP/ch_e.yaml" || { fail "clickhouse $name: tracer did not start"; return; }
	for i in $(seq 1 3); do
		curl -s -o /dev/null "http://127.0.0.1:$CH_NGX/index.html?e=$i"
		sleep 0.4 # > flushIntervalMs: a batch (an insert) each
	done
	sleep 0.5
	metrics_scrape "$E2E_METRICS" "$TMP/ch.prom"
	rejected=$(awk '/^http_tracer_sink_batches_dropped_total\{.*reason="rejected"/ { s += $NF } END { print s + 0 }' "$TMP/ch.prom")
	ch_stop_tracer || fail "clickhouse $name: tracer did not exit 0"
	lines=$(grep -c 'rejected, not retried' "$TMP/ch_e.log")
	recs=$(grep -c '"target":"/index.html?e=' "$TMP/ch_e.ndjson")
	if [ "$lines" = 1 ] && grep 'rejected, not retried' "$TMP/ch_e.log" | grep -q "$expect" &&
	   [ "$rejected" -ge 2 ] && [ "$recs" -ge 3 ]; then
		pass "clickhouse $name: one error line ($(grep -o "$expect" "$TMP/ch_e.log" | head -1)), $rejected batches counted as rejected, the file got its $recs records"
	else
		fail "clickhouse $name: lines=$lines rejected=$rejected file records=$recs"; cat "$TMP/ch_e.log"
	fi
}

if ! command -v clickhouse-server >/dev/null || ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
	skip "clickhouse: clickhouse-server, nginx or wrk not installed (make deps installs them)"
elif ! ch_config || ! ch_start; then
	fail "clickhouse: cannot start a private clickhouse-server"
	ch_kill
elif ! ngx_private "$TMP/ch_ngx" "$CH_NGX" "location / { }"; then
	fail "clickhouse: cannot start nginx"
	ch_kill
else
	CH_NGX_PIDS=$(pgrep -d, -P "$(cat "$TMP/ch_ngx/nginx.pid")")
	CH_NGX_PIDS="$(cat "$TMP/ch_ngx/nginx.pid")${CH_NGX_PIDS:+,$CH_NGX_PIDS}"
	head -c 1024 /dev/zero | tr '\0' 'a' > "$TMP/ch_ngx/www/index.html"
	printf 's3cret\n' > "$TMP/ch.pw"
	printf 'wrong\n' > "$TMP/ch_bad.pw"
	ch_live
	ch_plain
	ch_outage
	ch_cluster
	ch_refused "bad password" ev_live "Wrong password" "user: tracer" "passwordFile: $TMP/ch_bad.pw"
	ch_refused "missing table" ev_nosuch "Code: 60"
	# a schema error comes back as HTTP 500 with Code: 27: refused all the same
	ch_q "CREATE TABLE default.ev_bad (time DateTime, comm UInt8) ENGINE = MergeTree() PARTITION BY toDate(time) ORDER BY time" &&
		ch_refused "schema mismatch" ev_bad "Code: 27"
	ngx_private_stop "$TMP/ch_ngx"
	ch_kill
fi
