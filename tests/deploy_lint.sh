#!/bin/sh
# deploy_lint.sh [BUILD_DIR] - check the Kubernetes manifests in deploy/:
#  1. yamllint --strict with deploy/.yamllint;
#  2. the ConfigMap's embedded config loads: build/http-tracer --check-config;
#  3. the security invariants the manifests promise still hold
#     (not privileged, only the intended capabilities (SYS_PTRACE exactly
#     when tls.enabled), probes on /health, metrics reachable by the
#     kubelet, read-only host mounts, RBAC of exactly get/list/watch on
#     pods, services and endpointslices, NODE_NAME from spec.nodeName, the
#     kubernetes: block).
# Exits 0 when everything passes; prints one line per failure otherwise.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/http-tracer
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

bad() { echo "deploy_lint: FAIL: $*"; fail=1; }
ok() { echo "deploy_lint: ok: $*"; }

# 1. yamllint
if ! command -v yamllint >/dev/null 2>&1; then
	bad "yamllint not installed (apt-get install yamllint)"
elif yamllint --strict -c deploy/.yamllint deploy/*.yaml; then
	ok "yamllint --strict deploy/*.yaml"
else
	bad "yamllint reported problems (above)"
fi

# 2 + 3 need a YAML parser: python3 with PyYAML (python3-yaml).
python3 - "$tmp" <<'PYEOF' || fail=1
import sys, yaml

tmp = sys.argv[1]
failed = False

def bad(msg):
    global failed
    print("deploy_lint: FAIL: " + msg)
    failed = True

def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]

cm = [d for d in load("deploy/configmap.yaml") if d.get("kind") == "ConfigMap"]
if len(cm) != 1 or "config.yaml" not in cm[0].get("data", {}):
    bad("deploy/configmap.yaml: expected one ConfigMap with data.config.yaml")
    sys.exit(1)
text = cm[0]["data"]["config.yaml"]
with open(tmp + "/config.yaml", "w") as f:
    f.write(text)
conf = yaml.safe_load(text)
listen = conf.get("metrics", {}).get("listen", "")
if not listen.startswith("0.0.0.0:"):
    bad("metrics.listen is %r: the kubelet probes the pod IP, use 0.0.0.0:PORT" % listen)
port = int(listen.rsplit(":", 1)[-1]) if ":" in listen else -1

ds = [d for d in load("deploy/daemonset.yaml") if d.get("kind") == "DaemonSet"]
if len(ds) != 1:
    bad("deploy/daemonset.yaml: expected one DaemonSet")
    sys.exit(1)
spec = ds[0]["spec"]["template"]["spec"]
if not spec.get("hostPID"):
    bad("hostPID must be true (kernel PIDs are host PIDs)")
if spec.get("hostNetwork"):
    bad("hostNetwork must be false")
if not any(t.get("operator") == "Exists" and "key" not in t for t in spec.get("tolerations", [])):
    bad("tolerations must let the DaemonSet run on every node")
(c,) = spec["containers"]
sc = c.get("securityContext", {})
if sc.get("privileged"):
    bad("container must not be privileged")
if not sc.get("readOnlyRootFilesystem"):
    bad("readOnlyRootFilesystem must be true")
if sc.get("allowPrivilegeEscalation") is not False:
    bad("allowPrivilegeEscalation must be false")
caps = sc.get("capabilities", {})
if caps.get("drop") != ["ALL"]:
    bad("capabilities.drop must be [ALL]")
allowed = {"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE"}
added = set(caps.get("add", []))
if not {"BPF", "PERFMON"} <= added or added - allowed:
    bad("capabilities.add is %s, expected a subset of %s with BPF and PERFMON"
        % (sorted(added), sorted(allowed)))
# tls.enabled (the default) reads other processes' /proc/<pid>/maps and
# /proc/<pid>/root: SYS_PTRACE, and only with it
tls_on = (conf.get("tls") or {}).get("enabled", True) is not False
if tls_on != ("SYS_PTRACE" in added):
    bad("capabilities.add %s SYS_PTRACE while the ConfigMap's tls.enabled is %s: "
        "it is needed exactly when TLS libraries are discovered" %
        ("lacks" if tls_on else "has", str(tls_on).lower()))
if sc.get("seccompProfile", {}).get("type") not in ("RuntimeDefault", "Unconfined", "Localhost"):
    bad("seccompProfile.type must be set")
ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
for probe in ("livenessProbe", "readinessProbe"):
    g = c.get(probe, {}).get("httpGet", {})
    p = g.get("port")
    p = ports.get(p, p)
    if g.get("path") != "/health" or p != port:
        bad("%s must GET /health on the metrics port %d (has %s:%s)" % (probe, port, g.get("path"), p))
for r in ("requests", "limits"):
    if not {"cpu", "memory"} <= set(c.get("resources", {}).get(r, {})):
        bad("resources.%s must set cpu and memory" % r)
vols = {v["name"]: v for v in spec.get("volumes", [])}
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
for path in ("/sys/kernel/btf", "/sys/kernel/tracing"):
    m = mounts.get(path)
    if not m or not m.get("readOnly") or vols.get(m["name"], {}).get("hostPath", {}).get("path") != path:
        bad("%s must be a read-only hostPath mount" % path)
for path, m in mounts.items():
    hp = vols.get(m["name"], {}).get("hostPath")
    if hp and not m.get("readOnly") and hp["path"] != "/var/log/http-tracer":
        bad("writable hostPath %s: only /var/log/http-tracer may be writable" % hp["path"])
out = conf.get("output", {}).get("path", "")
if out != "-" and not out.startswith("/var/log/http-tracer/"):
    bad("output.path %s is not on the writable log mount" % out)
cfgm = [m for m in mounts.values() if vols.get(m["name"], {}).get("configMap", {}).get("name")
        == cm[0]["metadata"]["name"]]
args = c.get("args", []) + c.get("command", [])
if not cfgm or "--config" not in args:
    bad("the ConfigMap must be mounted and passed with --config")

# Kubernetes metadata (DESIGN §7): the block is there and on, the node
# name comes from the downward API, the token is mounted.
k8s = conf.get("kubernetes")
if not isinstance(k8s, dict) or str(k8s.get("enabled", "auto")).lower() in ("false", "no", "off"):
    bad("the ConfigMap's config must hold a kubernetes: block that is not disabled")
env = {e.get("name"): e for e in c.get("env", [])}
ref = env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
if ref != "spec.nodeName":
    bad("the container must get NODE_NAME from fieldRef spec.nodeName (has %r)" % ref)
if spec.get("automountServiceAccountToken") is False:
    bad("automountServiceAccountToken must not be false: the API client needs the token")

rb = {d["kind"]: d for d in load("deploy/rbac.yaml")}
for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
    if kind not in rb:
        bad("deploy/rbac.yaml: no %s" % kind)
if "ClusterRole" in rb:
    # exactly get/list/watch on these three, nothing more, nothing missing
    want = {("", "pods"), ("", "services"), ("discovery.k8s.io", "endpointslices")}
    got = set()
    for rule in rb["ClusterRole"].get("rules", []):
        if set(rule.get("verbs", [])) != {"get", "list", "watch"} or \
           rule.get("resourceNames") or rule.get("nonResourceURLs"):
            bad("ClusterRole rules must grant exactly get, list, watch: %s" % rule)
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                got.add((g, r))
    if got != want:
        bad("ClusterRole must cover exactly %s, has %s" % (sorted(want), sorted(got)))
    binding = rb.get("ClusterRoleBinding", {})
    if binding.get("roleRef", {}).get("name") != rb["ClusterRole"]["metadata"]["name"]:
        bad("the ClusterRoleBinding must bind the ClusterRole")
if "ServiceAccount" in rb and spec.get("serviceAccountName") != rb["ServiceAccount"]["metadata"]["name"]:
    bad("the DaemonSet must use the ServiceAccount of deploy/rbac.yaml")
if not failed:
    print("deploy_lint: ok: manifest invariants (privilege, capabilities, probes, mounts, RBAC, kubernetes block, NODE_NAME)")
sys.exit(1 if failed else 0)
PYEOF

# 2. the embedded config loads
if [ ! -s "$tmp/config.yaml" ]; then
	bad "could not extract the ConfigMap's config.yaml"
elif [ ! -x "$BIN" ]; then
	bad "$BIN not built: run make first"
elif "$BIN" --config "$tmp/config.yaml" --check-config; then
	ok "$BIN --check-config accepts the ConfigMap's config.yaml"
else
	bad "$BIN --check-config rejected the ConfigMap's config.yaml"
fi

[ "$fail" -eq 0 ] && echo "deploy_lint: all checks passed"
exit "$fail"
