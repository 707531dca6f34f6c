# lib.sh - helpers for the end-to-end tests (sourced).
# Starts the real tracer on the real kernel and waits for its "ready" line.

E2E_PASS=0
E2E_FAIL=0
E2E_SKIP=0

pass() { E2E_PASS=$((E2E_PASS + 1)); echo "PASS $*"; }
fail() { E2E_FAIL=$((E2E_FAIL + 1)); echo "FAIL $*"; }
skip() { E2E_SKIP=$((E2E_SKIP + 1)); echo "SKIPPED $*"; }

# start_tracer OUT LOG [args...]: run build/http-tracer in the background.
start_tracer() {
	out=$1; log=$2; shift 2
	"$BUILD/http-tracer" -o "$out" "$@" 2>"$log" &
	TRACER_PID=$!
	i=0
	while [ $i -lt 300 ]; do
		if grep -q ready "$log" 2>/dev/null; then return 0; fi
		if ! kill -0 "$TRACER_PID" 2>/dev/null; then
			echo "tracer exited early:"; cat "$log"; return 1
		fi
		sleep 0.1; i=$((i + 1))
	done
	echo "tracer not ready after 30 s:"; cat "$log"
	kill "$TRACER_PID" 2>/dev/null
	return 1
}

# stop_tracer: SIGINT, require exit 0 within 5 s; sets STOP_MS.
stop_tracer() {
	t0=$(date +%s%N)
	kill -INT "$TRACER_PID"
	i=0
	while kill -0 "$TRACER_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	if kill -0 "$TRACER_PID" 2>/dev/null; then
		kill -9 "$TRACER_PID"; wait "$TRACER_PID" 2>/dev/null
		STOP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
		return 1
	fi
	wait "$TRACER_PID"; rc=$?
	STOP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
	return $rc
}
