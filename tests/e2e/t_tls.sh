# TLS (issue 15, DESIGN §8): the plaintext of OpenSSL connections through
# the uprobes on SSL_read/SSL_write and their _ex forms, with certificates
# made here.  nginx (started before the tracer) serves TLS and plain HTTP,
# driven by curl: keep-alive requests, a POST with a body, a 404, a 100 KB
# response.  Python's ssl server (tests/e2e/tls_server.py: SSL_read_ex and
# SSL_write_ex) twice, each on its own copy of libssl (another inode):
# one started before the tracer (found by the scan at start), one started
# after it inside its own mount namespace, its copy on a tmpfs that only
# that namespace sees (found by the rescan, through /proc/PID/root).  Every
# exchange gives one server and one client record with tls:true, the plain
# one none; so does a request on a TLS connection opened (and used once)
# before the tracer started, found mid-stream (of the request before it,
# only the client's record and the server's answer as no_request: the
# server was inside SSL_read when the uprobes were attached);
# nothing else comes from those ports (the encrypted bytes give
# no records).  A file named libssl.so.9 without OpenSSL's symbols (a copy
# of libz), given in tls.libraries and mapped by two processes, is reported
# once and counted as failed.
e2e_port P_TLS; e2e_port P_PLAIN; e2e_port P_PY1; e2e_port P_PY2
D=$TMP/tls
mkdir -p "$D/lib1" "$D/ns"
PY=/usr/bin/python3
SYS_SSL=""
[ -x "$PY" ] && SYS_SSL=$(ldd "$($PY -c 'import _ssl; print(_ssl.__file__)' 2>/dev/null)" 2>/dev/null |
	awk '/libssl\.so/ { print $3; exit }')
why=""
for cmd in openssl nginx curl unshare; do
	command -v $cmd >/dev/null || why="$why $cmd"
done
[ -n "$SYS_SSL" ] || why="$why $PY-with-a-dynamic-libssl"
if [ -n "$why" ]; then
	fail "tls: missing:$why (make deps installs them)"
elif ! openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/key.pem" -out "$D/cert.pem" \
		-days 1 -subj /CN=localhost >"$D/openssl.log" 2>&1; then
	fail "tls: openssl req -x509 failed: $(cat "$D/openssl.log")"
else
	head -c 1024 /dev/zero | tr '\0' 't' > "$D/ngx.www.index"
	TLS_NGX_ERR=$(ngx_private "$D/ngx" "$P_PLAIN" "
		listen 127.0.0.1:$P_TLS ssl;
		ssl_certificate $D/cert.pem;
		ssl_certificate_key $D/key.pem;
		location = /missing { return 404; }
		location = /post { return 201 ok; }")
	cp "$D/ngx.www.index" "$D/ngx/www/index.html"
	head -c 102400 /dev/zero | tr '\0' 'B' > "$D/ngx/www/big.bin"
	cp "$SYS_SSL" "$D/lib1/"
	LD_LIBRARY_PATH=$D/lib1 no_lock_fd exec "$PY" "$ROOT/tests/e2e/tls_server.py" "$P_PY1" \
		"$D/cert.pem" "$D/key.pem" "$D/py1.ready" 2>"$D/py1.err" &
	PY1=$!
	i=0; while [ ! -e "$D/py1.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	# a keep-alive TLS connection older than the tracer: one request now,
	# two more once $D/old.go exists
	cat > "$D/old_client.py" <<'OLD'
import os, socket, ssl, sys, time
port, go = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
def get(target):
    c.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode())
    buf = b""
    while b"\r\n\r\n" not in buf or len(buf.split(b"\r\n\r\n", 1)[1]) < 100:
        buf += c.recv(65536)
get("/old?i=1")
for _ in range(300):
    if os.path.exists(go):
        break
    time.sleep(0.1)
get("/old?i=2")
get("/old?i=3")
c.close()
OLD
	no_lock_fd exec "$PY" "$D/old_client.py" "$P_PY1" "$D/old.go" 2>"$D/old.err" &
	OLD=$!
	mkdir -p "$D/fake"
	cp "$(ldd "$(command -v curl)" | awk '/libz\.so/ { print $3; exit }')" "$D/fake/libssl.so.9"
	FAKES=""
	for n in 1 2; do
		no_lock_fd exec "$PY" -c "import ctypes, time; ctypes.CDLL('$D/fake/libssl.so.9'); time.sleep(120)" &
		FAKES="$FAKES $!"
	done
	cat "$TMP/e2e.yaml" > "$D/tracer.yaml"
	printf 'tls:\n  libraries: ["%s", "%s"]\n' "$D/fake/libssl.so.9" "$D/lib1/libssl.so.3" >> "$D/tracer.yaml"
	if [ -n "$TLS_NGX_ERR" ]; then
		fail "tls: nginx with ssl did not start: $TLS_NGX_ERR"
	elif ! grep -q "$D/lib1/libssl" "/proc/$PY1/maps" 2>/dev/null; then
		fail "tls: the Python server does not map the copy $D/lib1 of libssl: $(cat "$D/py1.err")"
	elif start_tracer "$TMP/tls.ndjson" "$TMP/tls.log" --config "$D/tracer.yaml"; then
		# started after the tracer, in a mount namespace of its own
		no_lock_fd exec unshare -m --propagation private sh -c "mount -t tmpfs tmpfs '$D/ns' &&
			cp '$SYS_SSL' '$D/ns/' && LD_LIBRARY_PATH='$D/ns' exec '$PY' \
			'$ROOT/tests/e2e/tls_server.py' $P_PY2 '$D/cert.pem' '$D/key.pem' '$D/py2.ready'" \
			2>"$D/py2.err" &
		PY2=$!
		wait_lines "$TMP/tls.log" "attached to $D/ns/libssl" 1
		[ -e "$D/ns/libssl.so.3" ] && echo "tls: note: the namespace's tmpfs is visible outside it"
		touch "$D/old.go"
		wait "$OLD" || echo "tls: the old connection's client failed: $(cat "$D/old.err")"
		U=https://127.0.0.1:$P_TLS
		curl -sk "$U/index.html?k=1" "$U/index.html?k=2" "$U/index.html?k=3" >/dev/null
		curl -sk -X POST --data 'a=1&b=2' "$U/post?i=post" >/dev/null
		curl -sk "$U/missing?i=404" >/dev/null
		curl -sk "$U/big.bin?i=big" >/dev/null
		curl -s "http://127.0.0.1:$P_PLAIN/index.html?plain=1" >/dev/null
		for p in $P_PY1 $P_PY2; do
			V=https://127.0.0.1:$p
			curl -sk "$V/split?p=$p" "$V/chunked?p=$p" >/dev/null
			curl -sk "$V/ka?i=1" "$V/ka?i=2" "$V/ka?i=3" "$V/ka?i=4" "$V/ka?i=5" >/dev/null
		done
		sleep 1
		metrics_scrape "$E2E_METRICS" "$D/metrics"
		grep -E '^http_tracer_tls_' "$D/metrics"
		stop_tracer || fail "tls: tracer did not exit 0 on SIGINT"
		kill "$PY2" 2>/dev/null
		grep "tls:" "$TMP/tls.log"
		TLS_FAKE_MSGS=$(grep -c "fake/libssl.so.9: cannot attach to SSL_read and SSL_write" "$TMP/tls.log")
		if python3 - "$TMP/tls.ndjson" "$D/metrics" $P_TLS $P_PLAIN $P_PY1 $P_PY2 "$TLS_FAKE_MSGS" <<'PY'; then
import json, sys
path, mpath = sys.argv[1], sys.argv[2]
p_tls, p_plain, p_py1, p_py2, fake_msgs = map(int, sys.argv[3:8])
recs = [json.loads(l) for l in open(path) if l.strip()]
def on(r, p): return p in (r.get("local_port"), r.get("remote_port"))
bad = 0
# (port, target) -> (method, status, resp_body_size, req_body_size, server comm, tls)
want = {}
for k in (1, 2, 3):
    want[(p_tls, f"/index.html?k={k}")] = ("GET", 200, 1024, 0, "nginx", True)
want[(p_tls, "/post?i=post")] = ("POST", 201, 2, 7, "nginx", True)
want[(p_tls, "/missing?i=404")] = ("GET", 404, None, 0, "nginx", True)
want[(p_tls, "/big.bin?i=big")] = ("GET", 200, 102400, 0, "nginx", True)
want[(p_plain, "/index.html?plain=1")] = ("GET", 200, 1024, 0, "nginx", False)
for p in (p_py1, p_py2):
    want[(p, f"/split?p={p}")] = ("GET", 200, 5, 0, "python3", True)
    want[(p, f"/chunked?p={p}")] = ("GET", 200, 19, 0, "python3", True)
    for i in range(1, 6):
        want[(p, f"/ka?i={i}")] = ("GET", 200, 100, 0, "python3", True)
# the connection older than the tracer: its server was already blocked in
# SSL_read when the uprobes were attached, so that call (the request of
# /old?i=2) is not seen; the client's calls all came after
want[(p_py1, "/old?i=2")] = ("GET", 200, 100, 0, "python3", True, ("client",))
want[(p_py1, "/old?i=3")] = ("GET", 200, 100, 0, "python3", True)
nrec = 0
for (port, target), (method, status, size, qsize, scomm, tls, *only) in want.items():
    for role, comm in (("server", scomm), ("client", "python3" if "/old" in target else "curl")):
        if only and role not in only[0]:
            continue
        nrec += 1
        got = [r for r in recs if on(r, port) and r.get("target") == target and r.get("role") == role]
        if len(got) != 1:
            print(f"FAIL :{port} {target} [{role}]: {len(got)} records, want 1"); bad += 1; continue
        r, errs = got[0], []
        if r["method"] != method: errs.append(f"method {r['method']}")
        if r["status"] != status: errs.append(f"status {r['status']}")
        if size is not None and r["resp_body_size"] != size: errs.append(f"resp_body_size {r['resp_body_size']}")
        if r["req_body_size"] != qsize: errs.append(f"req_body_size {r['req_body_size']}")
        if not r.get("comm", "").startswith(comm): errs.append(f"comm {r.get('comm')}")
        if (role == "server") != (r["local_port"] == port): errs.append("ports")
        if tls and r.get("tls") is not True: errs.append(f"tls {r.get('tls')!r}, want true")
        if not tls and "tls" in r: errs.append(f"tls {r.get('tls')!r}, want absent")
        if [f for f in r.get("flags", []) if f != "resp_body_truncated"]: errs.append(f"flags {r['flags']}")
        if errs:
            print(f"FAIL :{port} {target} [{role}]: " + ", ".join(errs)); bad += 1
# ... and its response is a server record flagged gap and no_request
orphans = [r for r in recs if r["role"] == "server" and r.get("local_port") == p_py1
           and r.get("flags") == ["gap", "no_request"] and r.get("status") == 200 and r.get("tls") is True]
if len(orphans) != 1:
    print(f"FAIL {len(orphans)} no_request records for the unseen /old?i=2 request, want 1"); bad += 1
nrec += 1
ports = (p_tls, p_plain, p_py1, p_py2)
mine = [r for r in recs if any(on(r, p) for p in ports)]
if len(mine) != nrec:
    print(f"FAIL {len(mine)} records on the test's ports, want {nrec} (stray records, e.g. from encrypted bytes)")
    for r in mine:
        if (r.get("local_port") if r["role"] == "server" else r.get("remote_port"), r.get("target")) not in want and r not in orphans:
            print("  stray:", {k: r.get(k) for k in ("role", "comm", "method", "target", "status", "tls", "flags")})
    bad += 1
m = {l.split()[0]: float(l.split()[1]) for l in open(mpath) if l.startswith("http_tracer_tls_")}
att = m.get('http_tracer_tls_libraries{state="attached"}', 0)
if att < 3:
    print(f"FAIL {att:.0f} libraries attached, want at least 3 (the system's and two copies)"); bad += 1
failed = m.get('http_tracer_tls_libraries{state="failed"}', 0)
if failed != 1 or fake_msgs != 1:
    print(f"FAIL the library without symbols: {failed:.0f} failed, reported {fake_msgs} times; want 1 and once"); bad += 1
print(f"tls: {len(mine)} records on the test's ports, {att:.0f} libraries attached, {failed:.0f} failed")
sys.exit(1 if bad else 0)
PY
			pass "tls: nginx+curl (keep-alive, POST, 404, 100 KB), Python ssl (_ex calls: split head, chunked, keep-alive) before the tracer and after it in another mount namespace on copies of libssl: one server and one client record each, tls:true; a keep-alive TLS connection older than the tracer; plain HTTP without tls; no stray records; a libssl without symbols reported once"
		else
			fail "tls: records do not match the TLS traffic"
		fi
	else
		fail "tls: tracer did not start"
	fi
	kill "$PY1" $FAKES 2>/dev/null
	ngx_private_stop "$D/ngx"
fi
