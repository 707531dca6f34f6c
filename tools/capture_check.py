#!/usr/bin/env python3
"""Kernel-capture checks for tools/capture_check.sh (standard library only).

  capture_check.py scenario MODE PORT [ARG]
      loopback traffic for one scenario:
        pre     connect, wait until the file ARG exists (the caller starts
                the tracer meanwhile, then creates it), exchange
        health  three connections: /healthz, /healthz?x=1, /healthzz
        exit    the client process exits without close(2)
        bytes   request sent one byte per send(): "GET /healthz ..."
        plain   one exchange (used on an excluded port)
  capture_check.py check DUMP EXPECT_JSON key=PORT...
      checks a capture_dump output against the conformance expectations
      and the scenarios (keys: mmsg pre health exit bytes excluded);
      prints one line per failed check and 'N passed, M failed'.
"""
import json
import os
import re
import socket
import sys
import threading
import time

RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def scenario(mode, port, arg):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(4)

    def serve():
        c, _ = srv.accept()
        c.recv(4096)
        c.sendall(RESP)
        time.sleep(0.2)
        c.close()

    def client(req, exit_child=False):
        t = threading.Thread(target=serve)
        t.start()
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        s.recv(4096)
        s.close()
        t.join()

    if mode == "pre":
        s = socket.create_connection(("127.0.0.1", port))
        c, _ = srv.accept()
        # arg: a file that appears once the probes are attached (a loaded
        # machine may take seconds to load them); give up after a minute
        for _ in range(600):
            if os.path.exists(arg):
                break
            time.sleep(0.1)
        s.sendall(b"GET /pre HTTP/1.1\r\nHost: x\r\n\r\n")
        c.recv(4096)
        c.sendall(RESP)
        s.recv(4096)
        s.close()
        c.close()
    elif mode == "health":
        for path in (b"/healthz", b"/healthz?x=1", b"/healthzz"):
            client(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    elif mode == "exit":
        t = threading.Thread(target=serve)
        t.start()
        pid = os.fork()
        if pid == 0:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /exit HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(4096)
            os._exit(0)          # no close(2): the kernel closes the fd
        os.waitpid(pid, 0)
        t.join()
    elif mode == "bytes":
        t = threading.Thread(target=serve)
        t.start()
        s = socket.create_connection(("127.0.0.1", port))
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n":
            s.send(bytes([b]))
            time.sleep(0.002)
        s.recv(4096)
        s.close()
        t.join()
    elif mode == "plain":
        client(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
    else:
        raise SystemExit(f"unknown scenario {mode}")
    srv.close()


STREAM = re.compile(r"STREAM (\d+)/(-?\d+)/(\d+) (in |out) (\S+) ports (\d+)->(\d+): (\d+) records "
                    r"\[(\d+),(\d+)\) captured=(\d+) uncaptured=(\d+) gaps=(\d+) overlaps=(\d+) "
                    r"close=(\S+) (\S+)")
OPEN = re.compile(r" (\d+)/(-?\d+)/(\d+) (\S+) OPEN (ipv4|ipv6)( inferred)?( resumed)? ")


def load(dump):
    streams, opens, kstats = [], {}, {}
    for line in open(dump, errors="replace"):
        m = STREAM.match(line)
        if m:
            g = m.groups()
            streams.append({"conn": g[0:3], "dir": g[3].strip(), "role": g[4], "lport": int(g[5]),
                            "rport": int(g[6]), "n": int(g[7]), "start": int(g[8]), "end": int(g[9]),
                            "cap": int(g[10]), "unc": int(g[11]), "closed": g[14] == "yes",
                            "verdict": g[15]})
            continue
        m = OPEN.search(line)
        if m:
            opens[m.groups()[0:3]] = {"role": m.group(4), "inferred": bool(m.group(6)),
                                      "resumed": bool(m.group(7))}
        if line.startswith("KSTATS"):
            kstats = {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    return streams, opens, kstats


def check(dump, expect_path, keys):
    streams, opens, kstats = load(dump)
    expect = json.load(open(expect_path))
    fails, passed = [], 0

    def ok(cond, what):
        nonlocal passed
        if cond:
            passed += 1
        else:
            fails.append(what)

    def of_port(port):
        return [s for s in streams if (s["lport"] if s["role"] == "server" else s["rport"]) == port]

    ports = {}
    for t in expect["transactions"]:
        ports[t["case"]] = t["server_port"]
    for case, port in sorted(ports.items()):
        ss = of_port(port)
        ok(len(ss) % 4 == 0 and ss, f"{case}: {len(ss)} streams (want 4 per connection)")
        for s in ss:
            label = f"{case} {s['role']} {s['dir']}"
            ok(s["verdict"] == "contiguous", f"{label}: {s['verdict']}")
            ok(s["start"] == 0, f"{label}: starts at {s['start']}")
            ok(s["closed"], f"{label}: no CLOSE")
            if case == "sendfile_body" and s["role"] == "server" and s["dir"] == "out":
                ok(s["unc"] == 300000, f"{label}: {s['unc']} uncaptured (want the 300000 sendfile bytes)")
            else:
                ok(s["unc"] == 0, f"{label}: {s['unc']} bytes uncaptured")
    for port in expect["silent_ports"]:
        ok(not of_port(port), f"not_http (port {port}): {len(of_port(port))} streams, want none")

    if "mmsg" in keys:
        ss = {(s["role"], s["dir"]): s for s in of_port(keys["mmsg"])}
        co, so = ss.get(("client", "out")), ss.get(("server", "out"))
        ok(co and co["end"] == 139 and co["unc"] == 36 and co["n"] == 2,
           f"sendmmsg: client out {co} (want [0,139) in 2 records, 36 bytes past the iovec bound)")
        ok(so and so["end"] == 109 and so["unc"] == 7,
           f"writev 71 iovecs: server out {so} (want 109 bytes, 7 past the iovec bound)")
        ok(all(ss.get(k) and ss[k]["unc"] == 0 for k in (("client", "in"), ("server", "in"))),
           "recvmmsg/recv: inbound streams incomplete")
        ok(all(s["verdict"] == "contiguous" and s["closed"] for s in ss.values()), "mmsg: streams not contiguous/closed")
        ok(kstats.get("peek", 0) >= 1, "MSG_PEEK receive not counted (kstat peek)")
    if "pre" in keys:
        ss = of_port(keys["pre"])
        ok(len(ss) == 4, f"pre-existing connection: {len(ss)} streams, want 4")
        for s in ss:
            o = opens.get(s["conn"], {})
            ok(o.get("inferred"), f"pre-existing {s['role']} {s['dir']}: OPEN not flagged inferred")
            ok(not o.get("resumed"), f"pre-existing {s['role']} {s['dir']}: OPEN flagged resumed (never traced)")
        ok(sorted({s["role"] for s in ss}) == ["client", "server"], "pre-existing: roles not inferred")
    if "health" in keys:
        ss = of_port(keys["health"])
        ok(len(ss) == 4, f"health paths: {len(ss)} streams, want 4 (only /healthzz)")
        ok(kstats.get("health_path", 0) > 0, "health_path filter never counted")
    if "exit" in keys:
        ss = of_port(keys["exit"])
        ok(len(ss) == 4 and all(s["closed"] for s in ss), "exit without close(2): a stream has no CLOSE")
    if "bytes" in keys:
        ss = {(s["role"], s["dir"]): s for s in of_port(keys["bytes"])}
        co = ss.get(("client", "out"))
        ok(co and co["n"] == 12 and co["verdict"] == "contiguous" and co["closed"],
           f"one byte per send, health path completed by the 13th: client out {co}")
        ok(("server", "out") in ss, "undecided server: its response was not sent")
    if "excluded" in keys:
        ok(not of_port(keys["excluded"]), "excluded port produced streams")
        ok(kstats.get("port", 0) > 0, "port filter never counted")
    ok(kstats.get("protocol", 0) > 0, "protocol filter never counted")
    ok(not any(o["resumed"] for o in opens.values()), "an OPEN flagged resumed without evictions")
    ok(kstats.get("ringbuf_full", 1) == 0, f"ring buffer losses: {kstats.get('ringbuf_full')}")
    for f in fails:
        print(f"FAIL {f}")
    print(f"{passed} passed, {len(fails)} failed")
    return 1 if fails else 0


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "scenario":
        scenario(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "0")
        return 0
    if len(sys.argv) >= 4 and sys.argv[1] == "check":
        keys = dict((k, int(v)) for k, v in (a.split("=") for a in sys.argv[4:]))
        return check(sys.argv[2], sys.argv[3], keys)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
