#!/usr/bin/env python3
"""k8s_objects.py - Kubernetes objects for tests/e2e/t_k8s.sh, in the shape
`kubectl get -o json` prints them, for tests/k8s/fake_apiserver.py.

    k8s_objects.py fixture OUT SPEC...   write {"pods", "services", "endpointslices"}
    k8s_objects.py apply SPEC            print one POST /fake/apply body (ADDED)

A SPEC is KIND:key=value,key=value:
    pod:name=,ns=,uid=,node=,ip=,cid=,runtime=containerd|cri-o|docker,
        container=,owner=Kind/Name[,hash=pod-template-hash]
    service:name=,ns=,ip=,port=
    slice:name=,ns=,service=,port=,ip=,pod=    (one endpoint: ip, targetRef pod)
"""
import json
import sys


def parse(spec):
    kind, _, rest = spec.partition(":")
    kv = dict(p.split("=", 1) for p in rest.split(",") if p)
    return kind, kv


def pod(kv):
    md = {"name": kv["name"], "namespace": kv["ns"], "uid": kv["uid"],
          "creationTimestamp": "2026-12-01T12:00:00Z", "labels": {"app": kv["name"]}}
    if "owner" in kv:
        okind, oname = kv["owner"].split("/", 1)
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": okind, "name": oname,
                                  "uid": "owner-" + kv["uid"], "controller": True,
                                  "blockOwnerDeletion": True}]
    if "hash" in kv:
        md["labels"]["pod-template-hash"] = kv["hash"]
    cname = kv.get("container", "app")
    return {
        "kind": "Pod", "apiVersion": "v1", "metadata": md,
        "spec": {"nodeName": kv["node"], "containers": [{"name": cname, "image": "python:3"}]},
        "status": {
            "phase": "Running", "podIP": kv["ip"], "podIPs": [{"ip": kv["ip"]}],
            "containerStatuses": [{"name": cname, "ready": True, "restartCount": 0,
                                   "containerID": "%s://%s" % (kv.get("runtime", "containerd"), kv["cid"])}],
        },
    }


def service(kv):
    return {
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": kv["name"], "namespace": kv["ns"], "uid": "svc-" + kv["name"]},
        "spec": {"type": "ClusterIP", "clusterIP": kv["ip"], "clusterIPs": [kv["ip"]],
                 "ports": [{"port": int(kv["port"]), "protocol": "TCP"}],
                 "selector": {"app": kv["name"]}},
    }


def endpointslice(kv):
    return {
        "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"name": kv["name"], "namespace": kv["ns"], "uid": "slice-" + kv["name"],
                     "labels": {"kubernetes.io/service-name": kv["service"]}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [kv["ip"]], "conditions": {"ready": True},
                       "targetRef": {"kind": "Pod", "name": kv["pod"], "namespace": kv["ns"]}}],
        "ports": [{"name": "http", "port": int(kv["port"]), "protocol": "TCP"}],
    }


MAKE = {"pod": ("pods", pod), "service": ("services", service), "slice": ("endpointslices", endpointslice)}


def main(argv):
    if len(argv) >= 3 and argv[1] == "fixture":
        out = {"pods": [], "services": [], "endpointslices": []}
        for spec in argv[3:]:
            kind, kv = parse(spec)
            coll, make = MAKE[kind]
            out[coll].append(make(kv))
        with open(argv[2], "w") as f:
            json.dump(out, f, indent=1)
        return 0
    if len(argv) == 3 and argv[1] == "apply":
        kind, kv = parse(argv[2])
        coll, make = MAKE[kind]
        print(json.dumps({"kind": coll, "type": "ADDED", "object": make(kv)}))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
