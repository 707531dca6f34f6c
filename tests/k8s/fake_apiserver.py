#!/usr/bin/env python3
"""fake_apiserver.py - a stand-in for the Kubernetes API server, for tests.

A real API server (etcd, kube-apiserver, certificates, a node) cannot run
on this machine, so the tests talk to this one.  It speaks the real wire
format for what http-tracer uses: the three collections

    GET /api/v1/pods[?fieldSelector=spec.nodeName=NODE]
    GET /api/v1/services
    GET /apis/discovery.k8s.io/v1/endpointslices

as list pages (limit, continue, metadata.resourceVersion) and as watches
(watch=1, resourceVersion, allowWatchBookmarks, timeoutSeconds): a chunked
HTTP/1.1 stream of newline-delimited {"type","object"} events, each line
cut into several chunks.  Bearer-token auth gives 401 with a Status body,
HTTPS with a certificate the test makes (openssl), 410 Gone for a watch or
a continue token older than the last compaction (as an ERROR event on a
watch, as the real server does, or as an HTTP status), 403 per kind and verb.

Usage (Python 3 standard library only):

    fake_apiserver.py --fixture F.json [--port 18300] [--host 127.0.0.1]
                      [--cert server.crt --key server.key] [--token T]
                      [--page-size 2] [--bookmark-seconds 0]
                      [--port-file PATH] [--log PATH]

The fixture is {"pods": [...], "services": [...], "endpointslices": [...]}
of objects as `kubectl get -o json` prints them (resourceVersion is set by
the server).  It prints "fake-apiserver listening on PORT" when ready
(--port 0 picks a free port; --port-file gets the number).

Control, on the same port, no auth, JSON bodies (kind is "pods",
"services" or "endpointslices"):

    POST /fake/apply    {"kind", "type": "ADDED|MODIFIED|DELETED", "object"}
                        change the state; every open watch of kind gets the event
    POST /fake/bookmark {"kind"?}   a BOOKMARK on open watches (all kinds if none)
    POST /fake/gone     {"kind", "mode": "event"|"status"}  compact kind's history
                        (one revision passes, everything before it is gone):
                        open watches get ERROR 410 ("event") or are closed, and
                        a watch or continue token from before gets 410 (an ERROR
                        event or, with "status", an HTTP 410 response)
    POST /fake/cut      {"kind"}    open watches of kind are cut mid-object
    POST /fake/token    {"token"}   the token required from now on (null: none)
    POST /fake/forbid   {"kind", "verb": "list"|"watch"|null}  403 for that verb
    GET  /fake/stats    {"requests": {"pods list": n, ...}, "watches_open": {...}}
"""
import argparse
import base64
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATHS = {
    "/api/v1/pods": ("pods", "Pod", "PodList", "v1"),
    "/api/v1/services": ("services", "Service", "ServiceList", "v1"),
    "/apis/discovery.k8s.io/v1/endpointslices":
        ("endpointslices", "EndpointSlice", "EndpointSliceList", "discovery.k8s.io/v1"),
}
KINDS = [v[0] for v in PATHS.values()]
KIND_INFO = {v[0]: v for v in PATHS.values()}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def obj_key(obj):
    md = obj.get("metadata", {})
    return md.get("namespace", "") + "/" + md.get("name", "")


class State:
    """Objects, their history (for watches) and the knobs, under one lock."""

    def __init__(self, fixture, token, page_size):
        self.lock = threading.Condition()
        self.rv = 1000
        self.objects = {k: {} for k in KINDS}
        self.history = {k: [] for k in KINDS}   # (rv, type, obj)
        self.compacted = {k: 0 for k in KINDS}  # watches from rv < this get 410
        self.gone_mode = {k: "event" for k in KINDS}
        self.epoch = {k: 0 for k in KINDS}      # bumped by /fake/gone
        self.cuts = {k: 0 for k in KINDS}       # bumped by /fake/cut
        self.bookmarks = {k: 0 for k in KINDS}
        self.forbid = {}
        self.token = token
        self.page_size = page_size
        self.requests = {}
        self.snapshots = []                     # the keys of each paged list
        self.watches_open = {k: 0 for k in KINDS}
        for kind in KINDS:
            for obj in fixture.get(kind, []):
                self.apply(kind, "ADDED", obj)

    def count(self, what):
        self.requests[what] = self.requests.get(what, 0) + 1

    def apply(self, kind, typ, obj):
        with self.lock:
            self.rv += 1
            obj = json.loads(json.dumps(obj))
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            key = obj_key(obj)
            if typ == "DELETED":
                self.objects[kind].pop(key, None)
            else:
                self.objects[kind][key] = obj
            self.history[kind].append((self.rv, typ, obj))
            self.lock.notify_all()
            return self.rv


def matches(obj, selector):
    """fieldSelector=spec.nodeName=NODE, the only selector the tracer sends."""
    if not selector:
        return True
    for term in selector.split(","):
        field, _, want = term.partition("=")
        if field == "spec.nodeName" and obj.get("spec", {}).get("nodeName") != want:
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver/1"

    def log_message(self, fmt, *args):
        if self.server.logf:
            self.server.logf.write("%s %s\n" % (self.address_string(), fmt % args))
            self.server.logf.flush()

    # ---- plumbing
    def send_json(self, code, body, extra=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def send_event(self, typ, obj):
        line = json.dumps({"type": typ, "object": obj}).encode() + b"\n"
        # several chunks per line, cut at places that move with the line's length
        cuts = sorted({len(line) // 3, (len(line) * 2) // 3 + len(line) % 7})
        prev = 0
        for c in cuts + [len(line)]:
            if c > prev:
                self.chunk(line[prev:c])
                prev = c

    # ---- requests
    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return self.send_json(400, {"error": "bad json"})
        path = self.path
        kind = body.get("kind")
        if kind is not None and kind not in KINDS:
            return self.send_json(400, {"error": "unknown kind %r" % kind})
        with st.lock:
            if path == "/fake/apply":
                rv = st.apply(kind, body.get("type", "ADDED"), body["object"])
                return self.send_json(200, {"resourceVersion": str(rv)})
            if path == "/fake/bookmark":
                for k in [kind] if kind else KINDS:
                    st.bookmarks[k] += 1
            elif path == "/fake/gone":
                st.rv += 1              # a revision passes, the history before it is gone
                st.compacted[kind] = st.rv
                st.gone_mode[kind] = body.get("mode", "event")
                st.epoch[kind] += 1
            elif path == "/fake/cut":
                st.cuts[kind] += 1
            elif path == "/fake/token":
                st.token = body.get("token")
            elif path == "/fake/forbid":
                st.forbid[kind] = body.get("verb")
            else:
                return self.send_json(404, {"error": "no such control"})
            st.lock.notify_all()
        self.send_json(200, {"ok": True})

    def do_GET(self):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/fake/stats":
            with st.lock:
                return self.send_json(200, {"requests": st.requests,
                                            "watches_open": st.watches_open,
                                            "resourceVersion": str(st.rv)})
        if url.path not in PATHS:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        kind = PATHS[url.path][0]
        q = dict(urllib.parse.parse_qsl(url.query))
        watch = q.get("watch") in ("1", "true")
        verb = "watch" if watch else "list"
        with st.lock:
            st.count("%s %s" % (kind, verb))
            token = st.token
            forbidden = st.forbid.get(kind) == verb
        if token is not None and self.headers.get("Authorization") != "Bearer " + token:
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        if forbidden:
            group = PATHS[url.path][3].rpartition("/")[0]
            return self.send_json(403, status(403, "Forbidden",
                                  '%s is forbidden: User "system:serviceaccount:x:y" cannot %s resource "%s" '
                                  'in API group "%s" at the cluster scope' % (kind, verb, kind, group)))
        if watch:
            return self.watch(kind, q)
        return self.list(kind, q)

    def list(self, kind, q):
        st = self.server.state
        _, _, list_kind, api = KIND_INFO[kind]
        limit = int(q.get("limit") or 0) or 1 << 30
        limit = min(limit, st.page_size or limit)
        with st.lock:
            if q.get("continue"):
                tok = json.loads(base64.urlsafe_b64decode(q["continue"] + "=="))
                if tok["rv"] < st.compacted[kind] or not 0 <= tok["snap"] < len(st.snapshots):
                    return self.send_json(410, status(410, "Expired",
                                          "The provided continue parameter is too old to display a consistent list result."))
                rv, start, snap = tok["rv"], tok["start"], tok["snap"]
                items = st.snapshots[snap]
            else:
                rv, start = st.rv, 0
                items = sorted(k for k, o in st.objects[kind].items()
                               if matches(o, q.get("fieldSelector")))
                snap = len(st.snapshots)
                st.snapshots.append(items)
            page = items[start:start + limit]
            # a real server serves continued pages from the list's snapshot;
            # objects deleted since are left out here, which a client copes with
            objs = [st.objects[kind][k] for k in page if k in st.objects[kind]]
        md = {"resourceVersion": str(rv)}
        if start + limit < len(items):
            md["continue"] = base64.urlsafe_b64encode(json.dumps(
                {"rv": rv, "start": start + limit, "snap": snap}).encode()).decode().rstrip("=")
            md["remainingItemCount"] = len(items) - start - limit
        self.send_json(200, {"kind": list_kind, "apiVersion": api, "metadata": md, "items": objs})

    def watch(self, kind, q):
        st = self.server.state
        from_rv = int(q.get("resourceVersion") or 0)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        deadline = time.monotonic() + float(q.get("timeoutSeconds") or 1800)
        selector = q.get("fieldSelector")
        with st.lock:
            too_old = from_rv and from_rv < st.compacted[kind]
            mode = st.gone_mode[kind]
            epoch, cuts, bms = st.epoch[kind], st.cuts[kind], st.bookmarks[kind]
        if too_old and mode == "status":
            return self.send_json(410, status(410, "Expired", "too old resource version: %d" % from_rv))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if too_old:
            self.send_event("ERROR", status(410, "Expired", "too old resource version: %d (%d)" % (from_rv, st.rv)))
            return self.chunk(b"")
        with st.lock:
            st.watches_open[kind] += 1
        try:
            self.watch_loop(kind, from_rv, bookmarks, deadline, selector, epoch, cuts, bms)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        finally:
            with st.lock:
                st.watches_open[kind] -= 1

    def watch_loop(self, kind, rv, bookmarks, deadline, selector, epoch, cuts, bms):
        st = self.server.state
        every = self.server.bookmark_seconds
        next_bm = time.monotonic() + every if every else None
        while True:
            with st.lock:
                evs = [e for e in st.history[kind] if e[0] > rv]
                if not evs and st.epoch[kind] == epoch and st.cuts[kind] == cuts \
                        and st.bookmarks[kind] == bms:
                    st.lock.wait(0.2)
                    evs = [e for e in st.history[kind] if e[0] > rv]
                gone = st.epoch[kind] != epoch
                cut = st.cuts[kind] != cuts
                bm = st.bookmarks[kind] != bms
                bms = st.bookmarks[kind]
                cur = st.rv
            for erv, typ, obj in evs:
                rv = erv
                if matches(obj, selector):
                    self.send_event(typ, obj)
            if gone:   # "status": closed, the client comes back and gets HTTP 410
                if st.gone_mode[kind] == "event":
                    self.send_event("ERROR", status(410, "Expired",
                                                    "too old resource version: %d (%d)" % (rv, cur)))
                return self.chunk(b"")
            if cut:   # half an object, then the connection drops (no last chunk)
                self.chunk(b'{"type":"MODIFIED","object":{"kind":')
                self.close_connection = True
                return
            now = time.monotonic()
            if bookmarks and (bm or (next_bm and now >= next_bm)):
                self.send_event("BOOKMARK", {"kind": KIND_INFO[kind][1], "apiVersion": KIND_INFO[kind][3],
                                             "metadata": {"resourceVersion": str(max(rv, cur))}})
                rv = max(rv, cur)
                next_bm = now + every if every else None
            if now >= deadline:
                return self.chunk(b"")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18300)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--token")
    ap.add_argument("--page-size", type=int, default=0)
    ap.add_argument("--bookmark-seconds", type=float, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    a = ap.parse_args()
    with open(a.fixture) as f:
        fixture = json.load(f)
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    srv.daemon_threads = True
    srv.state = State(fixture, a.token, a.page_size)
    srv.bookmark_seconds = a.bookmark_seconds
    srv.logf = open(a.log, "a") if a.log else None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(a.port_file + ".tmp", a.port_file)
    print("fake-apiserver listening on %d" % port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
