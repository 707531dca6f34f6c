# Kubernetes metadata, live (issue 10, DESIGN §7): real processes placed in
# cgroups shaped the way kubelet shapes them, serving HTTP on loopback
# addresses that are their pods' IPs, and the API objects that describe
# them served by tests/k8s/fake_apiserver.py (a real API server needs etcd,
# certificates and a node, which this machine cannot run; the fake speaks
# the same list/watch wire format).  The tracer is told of it with
# kubernetes.apiServer (http://, as for kubectl proxy).
#
#   pod   cgroup (this machine is hybrid: v2 at /sys/fs/cgroup/unified)    IP          owner
#   web   v2, systemd driver, burstable, cri-containerd-<id>.scope         127.0.0.21  Deployment web
#   cart  v1 pids, cgroupfs driver, besteffort, pod<uid>/<id>              127.0.0.22  StatefulSet cart
#   late  v2, systemd driver, guaranteed (no QoS level), crio-<id>.scope   127.0.0.23  DaemonSet agent; only in a watch event after the tracer started
#   quiet v2, cgroupfs driver, burstable                                   127.0.0.24  namespace quiet, excluded
# Services web and cart with one EndpointSlice each (their pod's IP).
#
# Checks: each server's record names its pod, namespace, container,
# workload and node; the host curl's record names the peer pod and Service;
# cart's own client (bound to its pod IP) calling web carries cart as its
# pod and web as its peer, and web's record of it names cart as the peer; a
# request to late before its pod is known goes out without metadata and is
# counted, and once the watch delivers the pod it is enriched; nothing of
# the excluded namespace is written (both ends filtered).  Then, with the API
# server unreachable, a record still goes out at once (container_id, node)
# and is counted; and enabled: true with no API server known exits 2.
e2e_port K8S_API_PORT; e2e_port K8S_PORT; e2e_port K8S_DOWN_PORT
K8S_NODE=node-e2e
K8S_V2=/sys/fs/cgroup/unified
K8S_V1=/sys/fs/cgroup/pids

k8s_hex64() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
k8s_uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
k8s_u() { echo "$1" | tr - _; }

K8S_WHY=""
[ -w "$K8S_V2/cgroup.procs" ] || K8S_WHY="no writable cgroup v2 hierarchy at $K8S_V2"
[ -z "$K8S_WHY" ] && [ ! -w "$K8S_V1/cgroup.procs" ] && K8S_WHY="no writable v1 pids hierarchy at $K8S_V1"
[ -z "$K8S_WHY" ] && ! python3 -c 'import http.server' 2>/dev/null && K8S_WHY="python3 missing"
if [ -n "$K8S_WHY" ]; then
	skip "kubernetes metadata: $K8S_WHY"
else
	K8D=$TMP/k8s
	mkdir -p "$K8D/www"
	echo k8s > "$K8D/www/index.html"
	UID_WEB=$(k8s_uuid); UID_CART=$(k8s_uuid); UID_LATE=$(k8s_uuid); UID_QUIET=$(k8s_uuid)
	CID_WEB=$(k8s_hex64); CID_CART=$(k8s_hex64); CID_LATE=$(k8s_hex64); CID_QUIET=$(k8s_hex64)
	CG_WEB=$K8S_V2/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$(k8s_u "$UID_WEB").slice/cri-containerd-$CID_WEB.scope
	CG_CART=$K8S_V1/kubepods/besteffort/pod$UID_CART/$CID_CART
	CG_LATE=$K8S_V2/kubepods.slice/kubepods-pod$(k8s_u "$UID_LATE").slice/crio-$CID_LATE.scope
	CG_QUIET=$K8S_V2/kubepods/burstable/pod$UID_QUIET/$CID_QUIET
	POD_WEB=web-7d4b9c8f5d-x2k9q
	POD_LATE=agent-h7k2p
	N="node=$K8S_NODE"
	python3 "$ROOT/tests/e2e/k8s_objects.py" fixture "$K8D/fixture.json" \
		"pod:name=$POD_WEB,ns=shop,uid=$UID_WEB,$N,ip=127.0.0.21,cid=$CID_WEB,container=app,owner=ReplicaSet/web-7d4b9c8f5d,hash=7d4b9c8f5d" \
		"pod:name=cart-0,ns=shop,uid=$UID_CART,$N,ip=127.0.0.22,cid=$CID_CART,container=db,owner=StatefulSet/cart" \
		"pod:name=quiet-1,ns=quiet,uid=$UID_QUIET,$N,ip=127.0.0.24,cid=$CID_QUIET,runtime=docker" \
		"pod:name=elsewhere,ns=shop,uid=$(k8s_uuid),node=node-other,ip=10.9.9.9,cid=$(k8s_hex64)" \
		"service:name=web,ns=shop,ip=10.96.0.21,port=80" \
		"service:name=cart,ns=shop,ip=10.96.0.22,port=80" \
		"slice:name=web-abcde,ns=shop,service=web,port=$K8S_PORT,ip=127.0.0.21,pod=$POD_WEB" \
		"slice:name=cart-fghij,ns=shop,service=cart,port=$K8S_PORT,ip=127.0.0.22,pod=cart-0"
	K8S_LATE_BODY=$(python3 "$ROOT/tests/e2e/k8s_objects.py" apply \
		"pod:name=$POD_LATE,ns=late,uid=$UID_LATE,$N,ip=127.0.0.23,cid=$CID_LATE,runtime=cri-o,container=agent,owner=DaemonSet/agent")

	# the pods' processes, each moved into its cgroup before it execs
	K8S_PIDS=""
	k8s_serve() { # CGROUP IP
		mkdir -p "$1" || return 1
		sh -c "echo \$\$ > $1/cgroup.procs && exec python3 -m http.server $K8S_PORT --bind $2 --directory $K8D/www" \
			>"$K8D/srv-$2.log" 2>&1 &
		K8S_PIDS="$K8S_PIDS $!"
	}
	k8s_serve "$CG_WEB" 127.0.0.21 && k8s_serve "$CG_CART" 127.0.0.22 &&
		k8s_serve "$CG_LATE" 127.0.0.23 && k8s_serve "$CG_QUIET" 127.0.0.24 || fail "kubernetes: cannot create the pod cgroups"

	: > "$K8D/api.log"
	python3 "$ROOT/tests/k8s/fake_apiserver.py" --fixture "$K8D/fixture.json" --host 127.0.0.1 \
		--port $K8S_API_PORT >"$K8D/api.log" 2>&1 &
	K8S_API=$!
	K8S_CTL=http://127.0.0.1:$K8S_API_PORT
	cat > "$K8D/k8s.yaml" <<EOF
metrics:
  listen: $E2E_METRICS
filtering:
  kernel:
    excludePorts: [$K8S_API_PORT]   # the tracer's own watches of the fake API
  excludeNamespaces: [quiet]
kubernetes:
  enabled: true
  apiServer: http://127.0.0.1:$K8S_API_PORT
  nodeName: $K8S_NODE
EOF
	wait_lines "$K8D/api.log" listening 1
	for a in 21 22 23 24; do # the servers are up
		i=0
		while ! curl -s -o /dev/null "http://127.0.0.$a:$K8S_PORT/" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	done
	if start_tracer "$K8D/out.ndjson" "$K8D/tracer.log" --config "$K8D/k8s.yaml"; then
		# listed and watching all three kinds: the fixture is in the store
		i=0
		until curl -s "$K8S_CTL/fake/stats" | python3 -c 'import json,sys; w=json.load(sys.stdin)["watches_open"]; sys.exit(0 if all(w[k] > 0 for k in ("pods","services","endpointslices")) else 1)' 2>/dev/null ||
		      [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
		U=http://127.0.0.
		curl -s -o /dev/null "${U}21:$K8S_PORT/index.html?k8s=web"
		curl -s -o /dev/null "${U}22:$K8S_PORT/index.html?k8s=cart"
		curl -s -o /dev/null "${U}24:$K8S_PORT/index.html?k8s=quiet"
		curl -s -o /dev/null "${U}23:$K8S_PORT/index.html?k8s=late-early"
		# cart's own client, from its pod IP, to web; alive until its record is out
		sh -c "echo \$\$ > $CG_CART/cgroup.procs && exec python3 -c '
import http.client, time
c = http.client.HTTPConnection(\"127.0.0.21\", $K8S_PORT, source_address=(\"127.0.0.22\", 0))
c.request(\"GET\", \"/index.html?k8s=cart-to-web\"); c.getresponse().read(); c.close()
time.sleep(1.5)'" >"$K8D/client.log" 2>&1
		# the late pod arrives by the watch; its requests are enriched from then on
		curl -s -o /dev/null -X POST -d "$K8S_LATE_BODY" "$K8S_CTL/fake/apply"
		i=0
		while [ $i -lt 50 ]; do
			i=$((i + 1))
			curl -s -o /dev/null "${U}23:$K8S_PORT/index.html?k8s=late-$i"
			sleep 0.3
			grep '"target":"/index.html?k8s=late-' "$K8D/out.ndjson" | grep '"role":"server"' |
				grep -q "\"pod\":\"$POD_LATE\"" && break
		done
		sleep 0.5
		metrics_scrape "$E2E_METRICS" "$K8D/metrics.txt"
		stop_tracer || fail "kubernetes: tracer exit status"
		python3 - "$K8D/out.ndjson" "$K8D/metrics.txt" "$K8S_NODE" "$POD_WEB" "$CID_WEB" "$CID_CART" \
			"$POD_LATE" "$CID_LATE" <<'PY'
import json, sys
out, metrics, node, pod_web, cid_web, cid_cart, pod_late, cid_late = sys.argv[1:9]
recs = [json.loads(l) for l in open(out)]
bad = []

def one(target, role):
    rs = [r for r in recs if r.get("target") == "/index.html?k8s=" + target and r["role"] == role]
    if len(rs) != 1:
        bad.append("%s %s: %d records" % (target, role, len(rs)))
        return {}
    return rs[0]

def want(r, label, **kv):
    for k, v in kv.items():
        if r.get(k) != v:
            bad.append("%s: %s is %r, want %r" % (label, k, r.get(k), v))

K8S = ("pod", "namespace", "container", "workload_kind", "workload")
web = one("web", "server")
want(web, "web server", node=node, pod=pod_web, namespace="shop", container="app",
     workload_kind="Deployment", workload="web", container_id=cid_web)
cli = one("web", "client")
want(cli, "curl to web", node=node, remote_pod=pod_web, remote_namespace="shop", remote_service="web",
     pod=None, container_id=None)
cart = one("cart", "server")
want(cart, "cart server", node=node, pod="cart-0", namespace="shop", container="db",
     workload_kind="StatefulSet", workload="cart", container_id=cid_cart)
c2w = one("cart-to-web", "client")
want(c2w, "cart's client", pod="cart-0", namespace="shop", container_id=cid_cart,
     remote_pod=pod_web, remote_namespace="shop", remote_service="web")
w4c = one("cart-to-web", "server")
want(w4c, "web serving cart", pod=pod_web, remote_pod="cart-0", remote_namespace="shop",
     remote_service="cart")
early = one("late-early", "server")
want(early, "late before its pod is known", container_id=cid_late, node=node,
     **{k: None for k in K8S})
late = [r for r in recs if r.get("target", "").startswith("/index.html?k8s=late-")
        and r["target"] != "/index.html?k8s=late-early" and r["role"] == "server" and r.get("pod")]
if not late:
    bad.append("no record of the late pod carries its pod after the watch event")
else:
    want(late[0], "late after the watch", pod=pod_late, namespace="late", container="agent",
         workload_kind="DaemonSet", workload="agent", container_id=cid_late, node=node)
quiet = [r for r in recs if "k8s=quiet" in r.get("target", "")]
if quiet:
    bad.append("%d records of the excluded namespace quiet were written" % len(quiet))

m = {}
for line in open(metrics):
    if line.startswith("#") or not line.strip():
        continue
    name, val = line.rsplit(" ", 1)
    m[name] = float(val)
nometa = m.get("http_tracer_k8s_records_without_metadata_total", 0)
ns = m.get('http_tracer_events_filtered_total{reason="namespace"}', 0)
if nometa < 1:
    bad.append("http_tracer_k8s_records_without_metadata_total is %g, want >= 1" % nometa)
if ns < 2:
    bad.append('events_filtered_total{reason="namespace"} is %g, want >= 2 (server and client)' % ns)
for b in bad:
    print("t_k8s: " + b)
sys.exit(1 if bad else 0)
PY
		if [ $? -eq 0 ]; then
			pass "kubernetes: pod, namespace, container, workload and node of 3 cgroup shapes; peer pod and Service; a pod added by the watch; excluded namespace; records without metadata counted"
		else
			fail "kubernetes metadata (tracer log: $(tr '\n' ' ' < "$K8D/tracer.log" | cut -c1-400))"
		fi
	else
		fail "kubernetes: tracer did not start"
	fi
	# the API server unreachable: records are not held back, they go out
	# with what is known locally and are counted
	sed "s|apiServer: .*|apiServer: http://127.0.0.1:$K8S_DOWN_PORT|" "$K8D/k8s.yaml" > "$K8D/down.yaml"
	if start_tracer "$K8D/down.ndjson" "$K8D/down.log" --config "$K8D/down.yaml"; then
		curl -s -o /dev/null "http://127.0.0.21:$K8S_PORT/index.html?k8s=api-down"
		sleep 0.5
		metrics_scrape "$E2E_METRICS" "$K8D/down.metrics"
		stop_tracer || fail "kubernetes, API down: tracer exit status"
		srv=$(grep '"target":"/index.html?k8s=api-down"' "$K8D/down.ndjson" | grep '"role":"server"')
		n=$(metric_sum "$K8D/down.metrics" http_tracer_k8s_records_without_metadata_total)
		if echo "$srv" | grep -q "\"container_id\":\"$CID_WEB\"" && echo "$srv" | grep -q "\"node\":\"$K8S_NODE\"" &&
		   ! echo "$srv" | grep -q '"pod"' && [ "${n:-0}" -ge 1 ]; then
			pass "kubernetes: API server down: the record goes out at once with container_id and node, counted without metadata"
		else
			echo "server: $srv"; echo "without metadata: $n"; fail "kubernetes: API server down"
		fi
	else
		fail "kubernetes, API down: tracer did not start"
	fi
	# enabled: true with no API server to talk to is a config error
	printf 'metrics:\n  listen: %s\nkubernetes:\n  enabled: true\n' "$E2E_METRICS" > "$K8D/noapi.yaml"
	env -u KUBERNETES_SERVICE_HOST "$BUILD/http-tracer" --config "$K8D/noapi.yaml" -o /dev/null \
		--duration 5 2>"$K8D/noapi.log"
	rc=$?
	if [ $rc -eq 2 ] && grep -q "kubernetes.enabled is true but no API server is known" "$K8D/noapi.log"; then
		pass "kubernetes: enabled: true without an API server exits 2 naming the keys to set"
	else
		fail "kubernetes: enabled: true without an API server: exit $rc, $(cat "$K8D/noapi.log")"
	fi
	kill $K8S_PIDS "$K8S_API" 2>/dev/null
	wait $K8S_PIDS "$K8S_API" 2>/dev/null
	for cg in "$CG_WEB" "$CG_CART" "$CG_LATE" "$CG_QUIET"; do # leaf first, up to the kubepods root
		d=$cg
		while [ "$d" != "$K8S_V2" ] && [ "$d" != "$K8S_V1" ] && rmdir "$d" 2>/dev/null; do d=$(dirname "$d"); done
	done
fi
