#!/bin/sh
# tls.sh - cost of tracing TLS (OpenSSL uprobes, DESIGN §8) on live traffic.
#
# wrk -> a private nginx over TLS (1 KiB responses, keep-alive) on loopback;
# both ends use OpenSSL 3 (wrk and nginx link libssl.so.3), so both are
# traced.  Four wrk runs of the same load, side by side:
#   off         no tracer
#   tls         the tracer, default config (tls.enabled: true)
#   tls-off     the tracer with tls.enabled: false (the encrypted bytes are
#               dropped in the kernel as not HTTP; no uprobes)
#   off-again   no tracer
#   tls-again   the tracer, default config
# For the traced runs: the tracer threads' on-CPU time and the run time of
# its BPF programs (uprobes and tracepoints apart; kernel.bpf_stats_enabled
# =1), as deltas over the run, per exchange; for every run its requests/s,
# and the ratio to the mean of the two untraced runs.  bpf_stats counts the
# program bodies only, not the uprobe trap and the uretprobe trampoline
# that the kernel adds around them: the throughput ratio includes those.
# The tracer traces only nginx and the measured wrk (filtering.kernel.pids:
# wrk is started behind a FIFO so that its pid is known before the tracer
# loads), so other processes' traffic on a shared machine is dropped in the
# kernel and not counted.  Prints numbers; asserts nothing.
# Run as root from the repo root:  bench/tls.sh [SECONDS] [CONNECTIONS]
# Env: BUILD (build), NGX_PORT (18420; TLS on NGX_PORT + 1).
set -eu
BUILD=${BUILD:-build}
DUR=${1:-10}
CONNS=${2:-16}
NGX_PORT=${NGX_PORT:-18420}
TLS_PORT=$((NGX_PORT + 1))
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/ht-tls.XXXXXX)
TRACER_PID=
NGX_STARTED=

. "$HERE/nginx.sh"
trap bench_cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] || { echo "tls: run as root" >&2; exit 1; }
for t in wrk nginx openssl python3 bpftool; do
	command -v $t >/dev/null || { echo "tls: $t is missing (make deps)" >&2; exit 1; }
done
make -s "$BUILD/http-tracer" >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
	-days 1 -subj /CN=localhost >/dev/null 2>&1
NGX_SERVER_EXTRA="listen 127.0.0.1:$TLS_PORT ssl; ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;"
ngx_start
NGX_STARTED=1
URL=https://127.0.0.1:$TLS_PORT/bench.html
printf 'metrics:\n  listen: 127.0.0.1:18429\n' > "$WORK/on.yaml"
printf 'metrics:\n  listen: 127.0.0.1:18429\ntls:\n  enabled: false\n' > "$WORK/off.yaml"
bpf_stats_on

# snapshot FILE: the tracer's threads (name, on-CPU ns) and BPF programs.
snapshot() {
	python3 - "$TRACER_PID" "$HERE" > "$1" <<'PY'
import os, sys
pid = sys.argv[1]
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        ns = int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
    except OSError:
        continue
    print("thread", tid, 0, ns)
sys.path.insert(0, sys.argv[2])
from bpf_progs import programs
for name, cnt, ns in programs(pid):
    print("bpf", name, cnt, ns)
PY
}

# run LABEL [CONFIG]: one wrk run, traced with CONFIG when given.
run() {
	label=$1
	: > "$WORK/before"; : > "$WORK/after"; : > "$WORK/$label.ndjson"
	rm -f "$WORK/go"; mkfifo "$WORK/go"
	sh -c 'echo $$ > "$1/wrk.pid"; read _ < "$1/go"; shift; exec wrk "$@"' sh "$WORK" \
		-t1 -c"$CONNS" -d"${DUR}s" "$URL" > "$WORK/wrk.out" &
	WRK_SH=$!
	while [ ! -s "$WORK/wrk.pid" ]; do sleep 0.05; done
	if [ -n "${2:-}" ]; then
		pids="--pid $(cat "$WORK/wrk.pid")"
		for p in $(cat "$NGX_DIR/nginx.pid") $(pgrep -P "$(cat "$NGX_DIR/nginx.pid")"); do
			pids="$pids --pid $p"
		done
		"$BUILD/http-tracer" --config "$2" $pids -o "$WORK/$label.ndjson" 2>"$WORK/tracer.log" &
		TRACER_PID=$!
		tracer_wait_ready "$WORK/tracer.log" || exit 1
		snapshot "$WORK/before"
	fi
	echo go > "$WORK/go"
	wait "$WRK_SH"
	rm -f "$WORK/wrk.pid"
	if [ -n "${2:-}" ]; then
		sleep 0.5 # the tracer finishes the last records
		snapshot "$WORK/after"
		kill -INT "$TRACER_PID"; wait "$TRACER_PID" || true
		TRACER_PID=
	fi
	grep -q "Non-2xx" "$WORK/wrk.out" && { echo "tls: nginx answered errors" >&2; exit 1; }
	python3 - "$label" "$WORK/before" "$WORK/after" "$WORK/wrk.out" "$WORK/$label.ndjson" \
		"$WORK/rates" <<'PY'
import re, sys
label, bpath, apath, wpath, opath, rpath = sys.argv[1:7]
def load(p):
    out = {}
    for line in open(p):
        kind, name, cnt, ns = line.split()
        out[(kind, name)] = (int(cnt), int(ns))
    return out
w = open(wpath).read()
reqs = int(re.search(r"(\d+) requests in", w).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", w).group(1))
open(rpath, "a").write(f"{label} {rps}\n")
rates = dict(l.split() for l in open(rpath))
base = [float(v) for k, v in rates.items() if k.startswith("off")]
ratio = f", {rps / (sum(base) / len(base)):.3f} of untraced" if base and not label.startswith("off") else ""
conns = re.search(r"(\d+) connections", w).group(1)
print(f"== {label}: wrk -t1 -c{conns}: {reqs} requests, {rps:.0f} req/s{ratio}")
b, a = load(bpath), load(apath)
if not a:
    sys.exit(0)
tns = sum(ns - b.get(k, (0, 0))[1] for k, (c, ns) in a.items() if k[0] == "thread")
progs = {k[1]: (c - b.get(k, (0, 0))[0], ns - b.get(k, (0, 0))[1]) for k, (c, ns) in a.items() if k[0] == "bpf"}
up = sum(n for name, (c, n) in progs.items() if name.startswith(("up__", "urp__")))
tp = sum(n for name, (c, n) in progs.items() if not name.startswith(("up__", "urp__")))
tls_recs = sum(1 for l in open(opath) if '"tls":true' in l)
print(f"   per exchange: threads {tns / reqs / 1000:.2f} us + BPF uprobes {up / reqs / 1000:.2f} us"
      f" + BPF tracepoints {tp / reqs / 1000:.2f} us = {(tns + up + tp) / reqs / 1000:.2f} us"
      f"  ({tls_recs} tls records in all)")
for name, (c, ns) in sorted(progs.items(), key=lambda t: -t[1][1]):
    if c:
        print(f"   bpf {name:28s} {ns / reqs / 1000:7.2f} us/exchange  {ns / c:6.0f} ns/call  {c / reqs:5.2f} calls/exchange")
PY
}

echo "tls: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), $(openssl version)"
wrk -t1 -c"$CONNS" -d2s "$URL" >/dev/null # warm-up
: > "$WORK/rates"
run off
run tls "$WORK/on.yaml"
run tls-off "$WORK/off.yaml"
run off-again
run tls-again "$WORK/on.yaml"
