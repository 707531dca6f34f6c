# MSG_TRUNC drain (issue 12): lighttpd answers a request whose Content-Length
# is over server.max-request-size with 413, shuts down its side and drains
# what the client still sends with recvfrom(fd, buf, 16384, MSG_TRUNC |
# MSG_DONTWAIT): the kernel discards those bytes and fills nothing in buf.
# The client (python) sends the head, waits for the 413, then sends the body,
# so the body reaches lighttpd only through the drain.  The server-role
# record's req_body must hold only bytes the client sent (a prefix of the
# body, or empty), never NULs or lighttpd's stack memory.
e2e_port MT_PORT
MT=$TMP/mt
mkdir -p "$MT/www"
echo hello > "$MT/www/index.html"
cat > "$MT/lighttpd.conf" <<CONF
server.document-root = "$MT/www"
server.port = $MT_PORT
server.bind = "127.0.0.1"
server.errorlog = "$MT/error.log"
server.max-request-size = 1
index-file.names = ( "index.html" )
CONF
if ! command -v lighttpd >/dev/null; then
	skip "msgtrunc: lighttpd not installed (make deps installs it)"
elif ! start_tracer "$MT/out.ndjson" "$MT/tracer.log" --config "$TMP/e2e.yaml"; then
	fail "msgtrunc: tracer did not start"
else
	no_lock_fd exec lighttpd -D -f "$MT/lighttpd.conf" 2>"$MT/start.err" &
	MT_PID=$!
	wait_listen "$MT_PORT"
	python3 - "$MT_PORT" > "$MT/client.out" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
body = b"".join(b"%05d-body-bytes-sent;" % k for k in range(1000))  # 21000 bytes
for n in range(3):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /index.html?mt=%d HTTP/1.1\r\nHost: mt\r\nContent-Type: text/plain\r\n"
              b"Content-Length: %d\r\n\r\n" % (n, len(body)))
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(4096)
        if not chunk:
            break
        resp += chunk
    time.sleep(0.1)
    try:
        s.sendall(body)  # lighttpd discards it: recvfrom(..., MSG_TRUNC)
        time.sleep(0.2)
    except OSError:
        pass
    s.close()
    print(resp.split(b"\r\n", 1)[0].decode())
PY
	sleep 1
	kill "$MT_PID" 2>/dev/null; wait "$MT_PID" 2>/dev/null
	stop_tracer || fail "msgtrunc: tracer did not exit 0 on SIGINT"
	cat "$MT/client.out"
	if python3 - "$MT/out.ndjson" "$MT_PORT" <<'PY'; then
import json, sys
path, port = sys.argv[1], int(sys.argv[2])
body = "".join("%05d-body-bytes-sent;" % k for k in range(1000))
recs = [json.loads(l) for l in open(path) if l.strip()]
mine = [r for r in recs if r.get("role") == "server" and r.get("local_port") == port
        and r.get("target", "").startswith("/index.html?mt=")]
bad = 0
if len(mine) != 3:
    print(f"FAIL {len(mine)} server-role records for the 3 drained POSTs"); bad += 1
for r in mine:
    got = r.get("req_body", "")
    print(f"{r['target']}: status {r.get('status')}, req_body {len(got)} chars, "
          f"req_body_size {r.get('req_body_size')}, flags {r.get('flags')}")
    if "\u0000" in got:
        print(f"FAIL {r['target']}: req_body holds NUL bytes"); bad += 1
    elif not body.startswith(got):
        print(f"FAIL {r['target']}: req_body is not a prefix of the body sent: {got[:60]!r}"); bad += 1
    if not r.get("req_body_size"):
        print(f"FAIL {r['target']}: no body byte seen, the drain was not exercised"); bad += 1
    if r.get("status") != 413:
        print(f"FAIL {r['target']}: status {r.get('status')}, want 413"); bad += 1
sys.exit(1 if bad else 0)
PY
		pass "msgtrunc: lighttpd's MSG_TRUNC drain leaves req_body empty or the real body prefix"
	else
		fail "msgtrunc: req_body holds bytes the client never sent"
	fi
fi
