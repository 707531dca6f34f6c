# The kernel side alone (bpf/ + src/source/capture.c) through
# tools/capture_check.sh: every syscall family, positions contiguous from 0
# to the CLOSE, caps, a connection older than the tracer, the health-path,
# port and protocol filters, exit without close(2).  run.sh has checked
# root and BPF; the conformance traffic must sit beside the repo.
CONF=$ROOT/../shared/conformance/httpconf.py
if [ ! -f "$CONF" ]; then
	skip "capture_check: $CONF not found (shared/ must sit beside the repo)"
else
	# twice: records read straight into the rings (kernel 6.16+, this
	# one), then every record through the scratch (older kernels)
	for scratch in "" 1; do
		what="kernel capture"
		[ -n "$scratch" ] && what="kernel capture, scratch path only (HT_TEST_SCRATCH_ONLY)"
		if (cd "$ROOT" && BUILD=$BUILD CONF=$CONF HT_TEST_SCRATCH_ONLY=$scratch \
			sh tools/capture_check.sh) > "$TMP/capcheck.out" 2>&1; then
			pass "capture_check: $what: $(tail -1 "$TMP/capcheck.out")"
		else
			cat "$TMP/capcheck.out"
			fail "capture_check: $what: $(tail -1 "$TMP/capcheck.out")"
		fi
	done
fi
