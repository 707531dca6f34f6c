# e2e_lock.sh - sourced first by the scripts that load BPF programs and
# drive live traffic (tests/e2e/run.sh, tools/capture_check.sh): one such run
# at a time on a host, since every tracer sees every process's traffic and
# two runs would count each other's requests.  Re-executes the sourcing
# script under flock /tmp/ht-e2e.lock, unless this run already holds the
# lock (HT_E2E_LOCKED, or an ancestor ran `flock /tmp/ht-e2e.lock ...`).
ht_lock_held_above() {
	for holder in $(lslocks -n -r -o PID,PATH 2>/dev/null | awk '$2 == "/tmp/ht-e2e.lock" { print $1 }'); do
		p=$$
		while [ -n "$p" ] && [ "$p" -gt 1 ]; do
			[ "$p" = "$holder" ] && return 0
			p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		done
	done
	return 1
}
if [ -z "${HT_E2E_LOCKED:-}" ] && command -v flock >/dev/null && ! ht_lock_held_above; then
	HT_E2E_LOCKED=1 exec flock /tmp/ht-e2e.lock "$0" "$@"
fi
