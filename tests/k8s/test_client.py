#!/usr/bin/env python3
"""test_client.py BUILD - the real API client against the fake API server.

A real Kubernetes API server cannot run here (no etcd, no kube-apiserver,
no cluster), so tests/k8s/fake_apiserver.py stands in for it, speaking the
real wire format; the client is the real code (src/sink/k8s_client.c,
libcurl, jansson, the RCU store) inside tests/k8s/k8s_driver.  Covered:
HTTPS with a CA made here by openssl, 401 without the token and recovery
when the token file is rotated, lists of several pages, the node's pods only,
chunked watch streams (ADDED, MODIFIED, DELETED), BOOKMARK, ERROR 410 on a
watch and HTTP 410 (both relist), a watch cut mid-object (resume, no relist),
403 (the log line names the RBAC verb and resource).  Waits poll for a
condition with a generous bound; nothing asserts on time.  Ports 18300-18349.
"""
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get("K8S_FAKE_PORT", "18310"))
WAIT_S = 30
failures = []


def check(cond, what):
    print(("  ok   " if cond else "  FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def make_ca(d):
    """A CA and a server certificate for 127.0.0.1, made by openssl."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=fake-kubernetes-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=kubernetes")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")


class Fake:
    def __init__(self, d, token):
        self.ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
        self.log = open(os.path.join(d, "fake.log"), "w")
        self.p = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fake_apiserver.py"), "--fixture",
             os.path.join(HERE, "fixture.json"), "--port", str(PORT), "--page-size", "2",
             "--cert", os.path.join(d, "server.crt"), "--key", os.path.join(d, "server.key"),
             "--token", token, "--log", os.path.join(d, "fake-requests.log")],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.p.stdout.readline()
        if "listening" not in line:
            raise SystemExit("fake API server did not start: " + line)

    def ctl(self, path, body=None):
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (PORT, path),
                                     data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
            return json.load(r)

    def stop(self):
        self.p.terminate()
        self.p.wait()


class Driver:
    def __init__(self, build, d, token_file):
        self.err = open(os.path.join(d, "driver.err"), "w+")
        self.p = subprocess.Popen(
            [os.path.join(build, "tests/k8s/k8s_driver"), "--api", "https://127.0.0.1:%d" % PORT,
             "--token-file", token_file, "--ca", os.path.join(d, "ca.crt"), "--node", "node-a"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def stats(self):
        return dict(kv.split("=") for kv in self.ask("stats").split()[1:])

    def wait(self, cmd, want, what):
        """Polls cmd until its answer contains want (bounded, not timed)."""
        end = time.monotonic() + WAIT_S
        got = self.ask(cmd)
        while want not in got and time.monotonic() < end:
            time.sleep(0.1)
            got = self.ask(cmd)
        check(want in got, "%s (%s -> %s)" % (what, cmd, got))
        return got

    def wait_stat(self, key, at_least, what):
        end = time.monotonic() + WAIT_S
        v = int(self.stats().get(key, 0))
        while v < at_least and time.monotonic() < end:
            time.sleep(0.1)
            v = int(self.stats().get(key, 0))
        check(v >= at_least, "%s (%s=%d, want >= %d)" % (what, key, v, at_least))

    def log(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def stop(self):
        rc = None
        try:
            self.ask("quit")
            rc = self.p.wait(timeout=WAIT_S)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.p.kill()
        check(rc == 0, "the driver stops cleanly (exit %s, ASan clean)" % rc)


def scenario(fake, drv, token_file, secret):
    # 1. 401 without the right token, then the rotated token file is picked up
    drv.wait_stat("err_401", 1, "401 while the token file holds a wrong token")
    check("401 Unauthorized" in drv.log(), "one clear 401 log line")
    with open(token_file + ".new", "w") as f:
        f.write(secret + "\n")
    os.rename(token_file + ".new", token_file)      # as kubelet rotates projected tokens
    drv.wait("count", "pods=3 services=4 endpointslices=2", "lists complete after the token rotates")
    st = fake.ctl("/fake/stats")["requests"]
    check(st.get("pods list", 0) >= 2, "pods listed in pages of 2 (%s list requests)" % st.get("pods list"))
    check(drv.ask("pod uid-other-1") == "pod uid-other-1 -", "a pod of another node is not listed")
    check(drv.ask("pod uid-web-1") ==
          "pod uid-web-1 web-7d4b9c8f5d-x2k9q shop node-a Deployment web 10.42.1.7 n=1",
          "pod view with its Deployment")
    check(drv.ask("pod uid-db-0").split()[5:7] == ["StatefulSet", "db"], "a StatefulSet pod")
    check(drv.ask("container uid-web-1 " + "0123456789abcdef" * 4) == "app", "container name by id")
    check(drv.ask("peer 10.96.0.20 80") == "peer pod=- ns=shop svc=cart", "Service clusterIP")
    check(drv.ask("peer 10.42.2.9 8080") == "peer pod=cart-5f6d7c8b9a-abcde ns=shop svc=cart",
          "EndpointSlice endpoint of a pod on another node")

    # 2. watch events, in chunks
    with open(os.path.join(HERE, "fixture.json")) as f:
        pod = json.load(f)["pods"][0]
    pod["metadata"].update(name="web-7d4b9c8f5d-new01", uid="uid-web-9")
    pod["status"].update(podIP="10.42.1.20", podIPs=[{"ip": "10.42.1.20"}])
    fake.ctl("/fake/apply", {"kind": "pods", "type": "ADDED", "object": pod})
    drv.wait("pod uid-web-9", "uid-web-9 web-7d4b9c8f5d-new01 ", "a pod that appears through the watch")
    drv.wait("peer 10.42.1.20 8080", "pod=web-7d4b9c8f5d-new01", "its IP is a peer")
    pod["status"].update(podIP="10.42.1.21", podIPs=[{"ip": "10.42.1.21"}])
    fake.ctl("/fake/apply", {"kind": "pods", "type": "MODIFIED", "object": pod})
    drv.wait("peer 10.42.1.21 8080", "pod=web-7d4b9c8f5d-new01", "MODIFIED moves the IP")
    check(drv.ask("peer 10.42.1.20 8080") == "peer -", "the old IP is gone")
    fake.ctl("/fake/apply", {"kind": "pods", "type": "DELETED", "object": pod})
    drv.wait("pod uid-web-9", "pod uid-web-9 -", "DELETED removes the pod")
    other = dict(pod)
    other["metadata"] = dict(pod["metadata"], name="elsewhere", uid="uid-else")
    other["spec"] = dict(pod["spec"], nodeName="node-b")
    fake.ctl("/fake/apply", {"kind": "pods", "type": "ADDED", "object": other})

    # 3. BOOKMARK
    ev = int(drv.stats()["services_events"])
    fake.ctl("/fake/bookmark", {"kind": "services"})
    drv.wait_stat("services_events", ev + 1, "a BOOKMARK is taken")

    # 4. ERROR 410 on the watch -> relist, and the relist drops what went away
    with open(os.path.join(HERE, "fixture.json")) as f:
        svc = json.load(f)["services"][0]
    fake.ctl("/fake/gone", {"kind": "services", "mode": "event"})
    drv.wait_stat("services_relists", 1, "ERROR 410 on a watch makes a relist")
    drv.wait_stat("err_410", 1, "410 counted")
    fake.ctl("/fake/apply", {"kind": "services", "type": "DELETED", "object": svc})
    drv.wait("peer 10.96.0.20 80", "peer -", "a Service deleted after the relist goes away")

    # 5. HTTP 410 for an old resourceVersion -> relist
    fake.ctl("/fake/gone", {"kind": "endpointslices", "mode": "status"})
    drv.wait_stat("endpointslices_relists", 1, "HTTP 410 makes a relist")

    # 6. a watch cut mid-object resumes from the last resourceVersion (no relist)
    relists = int(drv.stats()["pods_relists"])
    restarts = int(drv.stats()["pods_restarts"])
    fake.ctl("/fake/cut", {"kind": "pods"})
    drv.wait_stat("pods_restarts", restarts + 1, "the cut watch restarts")
    pod["metadata"].update(name="after-cut", uid="uid-after-cut")
    fake.ctl("/fake/apply", {"kind": "pods", "type": "ADDED", "object": pod})
    drv.wait("pod uid-after-cut", "uid-after-cut after-cut ", "events after the cut arrive")
    check(int(drv.stats()["pods_relists"]) == relists, "a cut does not relist")
    check(drv.ask("pod uid-else") == "pod uid-else -", "the watch keeps to this node's pods")

    # 7. 403: one line naming the verb and the resource; recovery when allowed
    fake.ctl("/fake/forbid", {"kind": "endpointslices", "verb": "list"})
    fake.ctl("/fake/gone", {"kind": "endpointslices", "mode": "event"})
    drv.wait_stat("err_403", 1, "403 counted")
    log = drv.log()
    check('RBAC does not allow verb "list" on resource "endpointslices"' in log and
          'discovery.k8s.io' in log, "the 403 line names verb, resource and API group")
    time.sleep(1)
    check(drv.log().count("403 Forbidden") == 1, "and it is logged once, not per retry")
    fake.ctl("/fake/forbid", {"kind": "endpointslices", "verb": None})
    drv.wait_stat("endpointslices_relists", 2, "list works again once allowed")
    check(drv.ask("peer 10.42.1.8 8080") == "peer pod=web-7d4b9c8f5d-p8m3z ns=shop svc=web",
          "slices are back")
    check(int(drv.stats()["pods_malformed"]) == 0, "nothing malformed on the real wire format")

    # 8. /metrics shows it all
    m = drv.ask("metrics").split(" | ")
    for want in ['http_tracer_k8s_objects{kind="services"} 3',
                 'http_tracer_k8s_relists_total{kind="services"} 1',
                 'http_tracer_k8s_api_errors_total{code="401"}',
                 'http_tracer_k8s_api_errors_total{code="403"}',
                 'http_tracer_k8s_api_errors_total{code="410"}',
                 'http_tracer_k8s_seconds_since_last_event{kind="pods"}',
                 'http_tracer_k8s_watch_restarts_total{kind="pods"}']:
        check(any(x.startswith(want) for x in m), "metric " + want)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    if not shutil.which("openssl"):
        print("SKIP k8s client: openssl is missing (tools/deps.sh installs it)")
        return 0
    d = tempfile.mkdtemp(prefix="ht-k8s-")
    secret = "tok-%d" % os.getpid()
    token_file = os.path.join(d, "token")
    with open(token_file, "w") as f:
        f.write("wrong-token\n")
    make_ca(d)
    fake = Fake(d, secret)
    drv = Driver(build, d, token_file)
    try:
        scenario(fake, drv, token_file, secret)
    finally:
        drv.stop()
        fake.stop()
    if failures:
        print("k8s client: %d FAILED (logs in %s):" % (len(failures), d))
        for f in failures:
            print("  " + f)
        print(drv.log()[-3000:])
        return 1
    shutil.rmtree(d)
    print("k8s client: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
