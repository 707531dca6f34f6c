# The kernel side alone (bpf/ + src/source/capture.c) through
# tools/capture_check.sh: every syscall family, positions contiguous from 0
# to the CLOSE, caps, a connection older than the tracer, the health-path,
# port and protocol filters, exit without close(2).  run.sh has checked
# root and BPF; the conformance traffic must sit beside the repo.
CONF=$ROOT/../shared/conformance/httpconf.py
if [ ! -f "$CONF" ]; then
	skip "capture_check: $CONF not found (shared/ must sit beside the repo)"
elif (cd "$ROOT" && BUILD=$BUILD CONF=$CONF sh tools/capture_check.sh) > "$TMP/capcheck.out" 2>&1; then
	pass "capture_check: kernel capture: $(tail -1 "$TMP/capcheck.out")"
else
	cat "$TMP/capcheck.out"
	fail "capture_check: kernel capture: $(tail -1 "$TMP/capcheck.out")"
fi
