"""otlp_check.py RECORDS SPANS NGX_PORT TRACE_ID PARENT_ID REJECTED [json]

Checks the spans a receiver decoded with OpenTelemetry's classes
(tools/otlp/receiver.js) against the records the same tracer wrote to its
file: one span per record (REJECTED records, refused by the receiver, have
none), with the kind, times, name, attributes, status and resource that
DESIGN §10 asks for; the request sent with a traceparent is in that trace
with that parent.  Prints one line per problem; exit 1 if any."""
import collections
import json
import sys

recs_path, spans_path, port, want_trace, want_parent, rejected = sys.argv[1:7]
port, rejected = int(port), int(rejected)
want_ctype = "application/json" if len(sys.argv) > 7 and sys.argv[7] == "json" else "application/x-protobuf"
recs = [json.loads(l) for l in open(recs_path) if l.strip()]
spans = [json.loads(l) for l in open(spans_path) if l.strip()]
bad = []
KIND = {"server": 2, "client": 3}


def key(start, kind, path):
    return (str(start), kind, path or "")


by_key = collections.defaultdict(list)
for s in spans:
    by_key[key(s["start"], s["kind"], s["attributes"].get("url.path"))].append(s)
missing = 0
mine = 0
for r in recs:
    k = key(r["time_unix_nano"], KIND.get(r["role"], 0), r["path"])
    got = by_key.get(k, [])
    if not got:
        missing += 1
        continue
    if len(got) > 1:
        bad.append(f"{len(got)} spans for one record {k}")
    s = got.pop()
    if s["end"] != str(r["time_unix_nano"] + r["latency_ns"]):
        bad.append(f"end {s['end']} != start + latency of {r['target']}")
    if s["ctype"] != want_ctype:
        bad.append(f"content type {s['ctype']}, want {want_ctype}")
    if s["scope"] != "http-tracer":
        bad.append(f"scope {s['scope']}")
    if port not in (r["local_port"], r["remote_port"]):
        continue
    mine += 1
    a, res = s["attributes"], s["resource"]
    server = r["role"] == "server"
    checks = {
        "http.request.method": r["method"],
        "url.path": r["path"],
        "http.response.status_code": str(r["status"]),
        "server.port": str(port),
        "network.peer.address": r["remote_addr"],
        "network.peer.port": str(r["remote_port"]),
        "network.protocol.version": r["version"],
        "user_agent.original": r["req_headers"].get("user-agent"),
        "http.request.body.size": str(r["req_body_size"]),
        "http.response.body.size": str(r["resp_body_size"]),
    }
    if "?" in r["target"]:
        checks["url.query"] = r["target"].split("?", 1)[1]
    if server:
        checks["client.address"] = r["remote_addr"]
        checks["client.port"] = str(r["remote_port"])
    for name, want in checks.items():
        if a.get(name) != want:
            bad.append(f"{r['role']} {r['target']}: {name} = {a.get(name)!r}, want {want!r}")
    if r["path"].startswith("/api/users/"):
        if a.get("http.route") != "/api/users/{id}" or s["name"] != f"{r['method']} /api/users/{{id}}":
            bad.append(f"{r['target']}: route {a.get('http.route')!r}, name {s['name']!r}")
    err = r["status"] >= 500 or (not server and r["status"] >= 400)
    if (s["status"] == 2) != err or (a.get("error.type") == str(r["status"])) != err:
        bad.append(f"{r['role']} {r['target']} {r['status']}: span status {s['status']}, error.type {a.get('error.type')!r}")
    if res.get("service.name") != r["comm"] or res.get("process.executable.name") != r["comm"] \
            or res.get("process.pid") != str(r["pid"]) or not res.get("host.name"):
        bad.append(f"{r['target']}: resource {res}")
    if r["flags"] and a.get("http_tracer.flags") != r["flags"]:
        bad.append(f"{r['target']}: http_tracer.flags {a.get('http_tracer.flags')} != {r['flags']}")
    tp = r["req_headers"].get("traceparent", "")
    if tp == f"00-{want_trace}-{want_parent}-01":
        if s["traceId"] != want_trace or s["parentSpanId"] != want_parent:
            bad.append(f"traceparent request: trace {s['traceId']} parent {s['parentSpanId']}")
    elif tp:
        if s["traceId"] == want_trace or s["parentSpanId"]:
            bad.append(f"malformed traceparent {tp!r} was joined: {s['traceId']} {s['parentSpanId']}")
    elif s["parentSpanId"] or len(s["traceId"]) != 32 or s["traceId"] == "0" * 32:
        bad.append(f"{r['target']}: trace id {s['traceId']!r}, parent {s['parentSpanId']!r} without a traceparent")
extra = sum(len(v) for v in by_key.values())
print(f"otlp_check: {len(recs)} records, {len(spans)} spans, {mine} on port {port}, "
      f"{missing} records without a span (receiver rejected {rejected}), {extra} spans without a record")
if missing != rejected:
    bad.append(f"{missing} records have no span, but the receiver rejected {rejected}")
if extra:
    bad.append(f"{extra} spans match no record")
if mine == 0:
    bad.append("no span of the test traffic")
for b in bad[:20]:
    print("otlp_check:", b)
sys.exit(1 if bad else 0)
