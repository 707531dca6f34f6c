#!/bin/sh
# cpu_ab.sh OLD_BINARY [ROUNDS] [SECONDS] - bench/cpu.sh for two tracer
# builds side by side: ROUNDS rounds (default 3), each running cpu.sh once
# with OLD_BINARY and once with $BUILD/http-tracer, the order alternating
# between rounds so that the machine's drift falls on both.  Prints every
# run's figures, then per load the two builds' medians of CPU per exchange
# (threads + BPF), of the threads' ns per record (which stays right when
# other traffic on the host is traced too), of each thread's us per
# exchange and ns per record, with the new/old ratio of each median.
# Prints numbers; asserts nothing.  Needs root.  Env: as bench/cpu.sh (BUILD, NGX_PORT, TRACER_ARGS).
set -eu
OLD=${1:?usage: bench/cpu_ab.sh OLD_BINARY [ROUNDS] [SECONDS]}
ROUNDS=${2:-3}
DUR=${3:-6}
BUILD=${BUILD:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
NEW=$BUILD/http-tracer
LOG=$(mktemp /tmp/ht-cpu-ab.XXXXXX)
trap 'rm -f "$LOG"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "cpu_ab: run as root" >&2; exit 1; }
make -s "$NEW" >/dev/null
one() { # LABEL BINARY: one cpu.sh run, each line prefixed with the label
	TRACER=$2 "$HERE/cpu.sh" "$DUR" 2>&1 | sed "s|^|$1 |"
}
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		one old "$OLD"; one new "$NEW"
	else
		one new "$NEW"; one old "$OLD"
	fi
done | tee "$LOG"
echo "cpu_ab: old $OLD, new $NEW, $ROUNDS rounds of $DUR s, medians:"
python3 - "$LOG" <<'PY'
import re, statistics, sys
runs = {}   # (build, load) -> {metric: [values]}
load = {}
for line in open(sys.argv[1]):
    build, _, rest = line.partition(" ")
    m = re.match(r"== (\w+):", rest)
    if m:
        load[build] = m.group(1)
        continue
    if build not in load:
        continue
    d = runs.setdefault((build, load[build]), {})
    m = re.search(r"per exchange: threads ([\d.]+) us \+ BPF ([\d.]+) us = ([\d.]+) us", rest)
    if m:
        for k, v in zip(("threads us", "BPF us", "total us"), m.groups()):
            d.setdefault(k, []).append(float(v))
    m = re.search(r"threads (\d+) ns/record", rest)
    if m:
        d.setdefault("threads ns/record", []).append(float(m.group(1)))
    m = re.match(r"\s+thread (\S+)\s+([\d.]+) us/exchange", rest)
    if m:
        d.setdefault(m.group(1) + " us", []).append(float(m.group(2)))
    m = re.match(r"\s+thread (\S+)\s.*\s(\d+) ns/record", rest)
    if m:
        d.setdefault(m.group(1) + " ns/record", []).append(float(m.group(2)))
for ld in ("fixed", "saturating"):
    old, new = runs.get(("old", ld), {}), runs.get(("new", ld), {})
    print(f"  {ld}:")
    for k in old:
        if k not in new:
            continue
        a, b = statistics.median(old[k]), statistics.median(new[k])
        print(f"    {k:28s} old {a:9.2f}  new {b:9.2f}  new/old {b / a if a else 0:.2f}")
PY
