#!/bin/sh
# capture_check.sh - end-to-end check of the kernel side alone (bpf/ +
# src/capture.c), through build/capture_dump: conformance traffic with
# every syscall family, sendmmsg/recvmmsg/many iovecs/MSG_PEEK, a
# connection older than the tracer, health-path, port and protocol
# filters, a process that exits without close(2), a request line sent one
# byte per send().  Verifies per-direction positions are contiguous from 0
# up to the CLOSE position, lengths past the caps are reported, and
# filtered connections produce nothing.  Run as root from the repo root:
#   tools/capture_check.sh            exit 0 when every check passes
# Env: BUILD (build), KEEP=1 keeps the dump in /tmp.
set -eu
. "$(dirname "$0")/e2e_lock.sh"
BUILD=${BUILD:-build}
CONF=${CONF:-../shared/conformance/httpconf.py}
[ -f "$CONF" ] || CONF=/work/shared/conformance/httpconf.py
WORK=$(mktemp -d /tmp/ht-capcheck.XXXXXX)
DUMP_PID=
PRE_PID=
P_MMSG=19301 P_PRE=19302 P_HEALTH=19303 P_EXIT=19304 P_BYTES=19305 P_EXCL=19306

cleanup() {
	[ -n "$DUMP_PID" ] && kill -INT "$DUMP_PID" 2>/dev/null && wait "$DUMP_PID" 2>/dev/null
	[ -n "$PRE_PID" ] && kill "$PRE_PID" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "capture_check: files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] || { echo "capture_check: run as root" >&2; exit 1; }
make -s "$BUILD/capture_dump" "$BUILD/capture_traffic"
CHK="python3 tools/capture_check.py"

# a connection set up before the probes are attached
$CHK scenario pre $P_PRE "$WORK/attached" &
PRE_PID=$!
sleep 0.5

"$BUILD/capture_dump" -o "$WORK/dump.txt" -C 4194304 -H /healthz -x $P_EXCL 2>"$WORK/dump.err" &
DUMP_PID=$!
i=0
while ! grep -q ready "$WORK/dump.err" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 "$DUMP_PID" 2>/dev/null; then
		cat "$WORK/dump.err" >&2
		exit 1
	fi
done

: > "$WORK/attached" # the pre-existing connection may send now
python3 "$CONF" traffic --expect "$WORK/expect.json"
"$BUILD/capture_traffic" $P_MMSG
$CHK scenario health $P_HEALTH
$CHK scenario exit $P_EXIT
$CHK scenario bytes $P_BYTES
$CHK scenario plain $P_EXCL
wait "$PRE_PID"
PRE_PID=
sleep 0.5
kill -INT "$DUMP_PID"
wait "$DUMP_PID"
DUMP_PID=
$CHK check "$WORK/dump.txt" "$WORK/expect.json" mmsg=$P_MMSG pre=$P_PRE health=$P_HEALTH \
	exit=$P_EXIT bytes=$P_BYTES excluded=$P_EXCL
