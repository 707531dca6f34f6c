#!/usr/bin/env python3
"""bpf_progs.py PID - run_cnt and run_time_ns of every BPF program the
process PID holds, one line each: "NAME RUN_CNT RUN_TIME_NS", NAME being the
tracepoint the program is attached to (from the link fds of /proc/PID/fdinfo),
or for a program with no tracepoint link (the OpenSSL uprobes) its own name
(bpftool).  Counts move only with kernel.bpf_stats_enabled=1.  Used by
bench/bpf_cost.sh, bench/cpu.sh and bench/tls.sh."""
import json
import os
import subprocess
import sys


def prog_name(prog_id):
    try:
        out = subprocess.run(["bpftool", "-j", "prog", "show", "id", prog_id],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)["name"]
    except (OSError, subprocess.CalledProcessError, ValueError, KeyError):
        return "prog" + prog_id


def programs(pid):
    d = f"/proc/{pid}/fdinfo"
    progs, tps = {}, {}
    for fd in os.listdir(d):
        try:
            kv = dict(l.split(":", 1) for l in open(f"{d}/{fd}") if ":" in l)
        except OSError:
            continue
        kv = {k.strip(): v.strip() for k, v in kv.items()}
        if "prog_id" not in kv:
            continue
        if "tp_name" in kv:
            tps[kv["prog_id"]] = kv["tp_name"]
        elif "run_cnt" in kv:
            progs[kv["prog_id"]] = (int(kv["run_cnt"]), int(kv["run_time_ns"]))
    return [(tps[p] if p in tps else prog_name(p), cnt, ns) for p, (cnt, ns) in progs.items()]


if __name__ == "__main__":
    for name, cnt, ns in programs(sys.argv[1]):
        print(name, cnt, ns)
