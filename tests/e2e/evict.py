#!/usr/bin/env python3
"""Evictions from the kernel's conns map (tests/e2e/t_evict.sh).

  evict.py traffic PORT CONNS ROUNDS
      CONNS keep-alive connections to a local server; each round sends one
      request on every connection, then reads every response, so that a
      connection's kernel entry is evicted between its request and its
      response.  The response body is the request path.
  evict.py midbody PORT OTHERS
      one connection evicted in the middle of a response body: half the
      body, then OTHERS fresh connections (their entries push it out of
      the map), then the rest of the body, then one more exchange (/m2).
  evict.py check NDJSON PORT [MIDPORT]
      records of PORT: no response paired with another request's path;
      every no_request record is flagged gap; at least one record is gap.
      With MIDPORT: /m2 is recorded, paired right, by both ends.
"""
import json
import socket
import sys
import threading


def serve(conn):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            data = conn.recv(4096)
            if not data:
                conn.close()
                return
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        path = head.split(b" ")[1]
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(path), path))


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, body = buf.split(b"\r\n\r\n", 1)
    n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    while len(body) < n:
        body += s.recv(4096)
    return body


def traffic(port, conns, rounds):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(conns)
    threads = []
    clients = []
    for _ in range(conns):
        clients.append(socket.create_connection(("127.0.0.1", port)))
        c, _ = srv.accept()
        t = threading.Thread(target=serve, args=(c,))
        t.start()
        threads.append(t)
    for r in range(rounds):
        for i, s in enumerate(clients):
            s.sendall(b"GET /c%d/r%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i, r))
        for i, s in enumerate(clients):
            body = read_response(s)
            assert body == b"/c%d/r%d" % (i, r), body
    for s in clients:
        s.close()
    for t in threads:
        t.join()
    srv.close()


def exchange(c, s, path):
    c.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
    s.recv(4096)
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(path), path))
    assert read_response(c) == path


def read_exactly(c, n):
    buf = b""
    while len(buf) < n:
        buf += c.recv(n - len(buf))
    return buf


def midbody(port, others):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(others + 1)
    a = socket.create_connection(("127.0.0.1", port))
    a_s, _ = srv.accept()
    a.sendall(b"GET /m1 HTTP/1.1\r\nHost: x\r\n\r\n")
    a_s.recv(4096)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n"
    a_s.sendall(head + b"x" * 10000)
    read_exactly(a, len(head) + 10000)
    keep = []
    for i in range(others):
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = srv.accept()
        exchange(c, s, b"/o%d" % i)
        keep += [c, s]
    a_s.sendall(b"y" * 10000)      # its entry is gone: a new generation
    read_exactly(a, 10000)
    exchange(a, a_s, b"/m2")
    for c in keep + [a, a_s, srv]:
        c.close()


def check_mid(recs, fails):
    for role in ("server", "client"):
        got = [r for r in recs if r.get("role") == role and r.get("path") == "/m2"]
        if not got or got[0].get("resp_body") != "/m2" or got[0].get("status") != 200:
            fails.append(f"midbody: no {role} record of /m2 paired with its response: {got}")


def load(path, port):
    recs = []
    for line in open(path):
        r = json.loads(line)
        mine = r.get("local_port") if r.get("role") == "server" else r.get("remote_port")
        if mine == port:
            recs.append(r)
    return recs


def check(path, port, midport=None):
    fails, recs = [], load(path, port)
    if midport:
        check_mid(load(path, midport), fails)
    gap = [r for r in recs if "gap" in r.get("flags", [])]
    paired = [r for r in recs if r.get("path") and r.get("status")]
    for r in paired:
        if r.get("resp_body") != r["path"]:
            fails.append(f"mis-paired: request {r['path']} got the response {r.get('resp_body')!r}")
    for r in recs:
        if "no_request" in r.get("flags", []) and "gap" not in r["flags"]:
            fails.append(f"no_request without gap: {r.get('role')} {r.get('resp_body')!r} {r['flags']}")
    if not gap:
        fails.append("no record flagged gap: no eviction between a request and its response")
    if not paired:
        fails.append("no paired record at all")
    for f in fails[:10]:
        print(f"FAIL {f}")
    print(f"{len(recs)} records, {len(paired)} paired, {len(gap)} gap, {len(fails)} failures")
    return 1 if fails else 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "traffic":
        traffic(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "midbody":
        midbody(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    if len(sys.argv) in (4, 5) and sys.argv[1] == "check":
        return check(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) == 5 else None)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
