#!/bin/sh
# clickhouse.sh BUILD - records/s one ClickHouse sink sustains into a local
# clickhouse-server (Debian's 18.16, started privately on ports 18120-18122),
# and the CPU per record of the writer, the sender and the server.
#
# A generated corpus (tools/gen_corpus, N transactions, default 200,000) is
# replayed four ways, side by side in one run:
#   file        NDJSON file only (the baseline)
#   file+ch     the file and the ClickHouse sink
#   ch          the sink alone (output.path "")
#   ch-plain    the sink alone with compression: none
# Replay loses nothing: a sink that cannot keep up slows the replay down, so
# with the sink on, records / wall time is the rate the sink sustains (every
# record is counted in ClickHouse afterwards).  Thread CPU comes from
# /proc/PID/task/*/stat sampled every 100 ms (the last sample before a thread
# exits: up to 100 ms of a thread's CPU can be missed); the server's from
# its /proc/PID/stat before and after.  Nothing here asserts a time.
BUILD=${1:-build}
set -eu
N=${N:-200000}
CORPUS=${CORPUS:-$BUILD/corpus-ch-$N.htr}
PORT=${PORT:-18120}
make -s "$BUILD/gen_corpus" "$BUILD/http-tracer" >/dev/null
command -v clickhouse-server >/dev/null || { echo "SKIPPED: clickhouse-server not installed (make deps)"; exit 0; }
[ -f "$CORPUS" ] || "$BUILD/gen_corpus" -o "$CORPUS" -n "$N" -c $((N / 100)) -q >/dev/null
D=$(mktemp -d /tmp/ht-bench-ch.XXXXXX)
CH_PID=""
cleanup() {
	[ -z "$CH_PID" ] || { kill "$CH_PID" 2>/dev/null; wait "$CH_PID" 2>/dev/null || true; }
	rm -rf "$D"
}
trap cleanup EXIT INT TERM
mkdir -p "$D/data" "$D/log"
sed -e "s#<http_port>8123</http_port>#<http_port>$PORT</http_port>#" \
    -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$((PORT + 1))</tcp_port>#" \
    -e "s#<interserver_http_port>9009</interserver_http_port>#<interserver_http_port>$((PORT + 2))</interserver_http_port>#" \
    -e "s#/var/lib/clickhouse/#$D/data/#g" -e "s#/var/log/clickhouse-server/#$D/log/#g" \
    -e "s#<listen_host>::1</listen_host>##" /etc/clickhouse-server/config.xml > "$D/config.xml"
cp /etc/clickhouse-server/users.xml "$D/users.xml"
clickhouse-server --config-file="$D/config.xml" > "$D/log/stdout" 2>&1 &
CH_PID=$!
URL=http://127.0.0.1:$PORT
i=0
until [ "$(curl -s --max-time 1 "$URL/?query=SELECT%201")" = 1 ]; do
	i=$((i + 1)); [ $i -lt 300 ] || { echo "clickhouse-server did not start"; exit 1; }
	sleep 0.1
done
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "corpus: $CORPUS ($N transactions); clickhouse-server $(curl -s "$URL/?query=SELECT%20version()")"
for mode in file file+ch ch ch-plain; do
	case $mode in
	file) printf 'output:\n  path: %s/out.ndjson\n' "$D" ;;
	file+ch) printf 'output:\n  path: %s/out.ndjson\n  clickhouse: {url: "%s", table: ev, createTable: true}\n' "$D" "$URL" ;;
	ch) printf 'output:\n  path: ""\n  clickhouse: {url: "%s", table: ev, createTable: true}\n' "$URL" ;;
	ch-plain) printf 'output:\n  path: ""\n  clickhouse: {url: "%s", table: ev, createTable: true, compression: none}\n' "$URL" ;;
	esac > "$D/$mode.yaml"
done
python3 - "$BUILD/http-tracer" "$CORPUS" "$D" "$URL" "$CH_PID" <<'PY'
import os, subprocess, sys, time, urllib.request
tracer, corpus, d, url, ch_pid = sys.argv[1:6]
hz = os.sysconf("SC_CLK_TCK")

def q(sql):
    return urllib.request.urlopen(url + "/", sql.encode()).read().decode().strip()

def cpu_of(stat):
    f = stat[stat.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / hz   # utime + stime

def run(mode):
    if os.path.exists(d + "/out.ndjson"):
        os.unlink(d + "/out.ndjson")
    if mode != "file":
        q("DROP TABLE IF EXISTS default.ev")
    ch0 = cpu_of(open(f"/proc/{ch_pid}/stat").read())
    t0 = time.monotonic()
    p = subprocess.Popen([tracer, "replay", corpus, "--config", f"{d}/{mode}.yaml"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    threads = {}
    while p.poll() is None:
        for tid in os.listdir(f"/proc/{p.pid}/task"):
            try:
                comm = open(f"/proc/{p.pid}/task/{tid}/comm").read().strip()
                threads[tid] = (comm, cpu_of(open(f"/proc/{p.pid}/task/{tid}/stat").read()))
            except OSError:
                pass
        time.sleep(0.1)
    wall = time.monotonic() - t0
    out = p.stdout.read().decode()
    ch_cpu = cpu_of(open(f"/proc/{ch_pid}/stat").read()) - ch0
    by = {}
    for comm, c in threads.values():
        by[comm] = by.get(comm, 0) + c
    n = int(out.split('"transactions":')[1].split(",")[0])
    rows = int(q("SELECT count() FROM default.ev")) if mode != "file" else None
    return dict(mode=mode, wall=wall, n=n, rows=rows, by=by, ch=ch_cpu if mode != "file" else 0.0)

res = [run(m) for m in ("file", "file+ch", "ch", "ch-plain")]
us = lambda s, n: f"{s / n * 1e6:.1f}"
print("| run | records | rows in ClickHouse | wall s | records/s | writer us/rec | sender us/rec | shards us/rec | clickhouse-server us/rec |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in res:
    b, n = r["by"], r["n"]
    print(f"| {r['mode']} | {n} | {r['rows'] if r['rows'] is not None else '-'} | {r['wall']:.2f} | "
          f"{n / r['wall']:,.0f} | {us(b.get('ht-writer', 0), n)} | {us(b.get('ht-sender', 0), n)} | "
          f"{us(b.get('ht-shard', 0), n)} | {us(r['ch'], n)} |")
base = res[0]["n"] / res[0]["wall"]
for r in res[1:]:
    print(f"{r['mode']}: {r['n'] / r['wall'] / base:.2f}x the file-only replay rate; "
          f"{'all' if r['rows'] == r['n'] else 'NOT all'} records in ClickHouse ({r['rows']})")
PY
