#!/bin/sh
# output_fulldisk.sh - the output module on a really full disk (root only).
#
# Mounts a 1 MiB tmpfs and runs build/tests/sink/output_fulldisk_driver on it:
# it fills the disk, checks that failed batches are dropped and counted,
# that no partial line is ever left, that writes recover once space is
# freed, and that rotation + gzip on a full disk leave no .tmp file.  Then
# every line of every output file (gzip'd or not) must parse with Python's
# json module and every .gz must pass gzip -t.
# Usage: tests/sink/output_fulldisk.sh [BUILD_DIR]
# Prints SKIPPED (exit 0) when it cannot run, else PASS (exit 0) or FAIL (exit 1).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}

if [ "$(id -u)" -ne 0 ]; then
	echo "output_fulldisk: SKIPPED: needs root to mount a small tmpfs (run as root)"
	exit 0
fi
if ! make -s BUILD="$BUILD" "$BUILD/tests/sink/output_fulldisk_driver" >/dev/null; then
	echo "output_fulldisk: FAIL: cannot build $BUILD/tests/sink/output_fulldisk_driver"
	exit 1
fi
mnt=$(mktemp -d /tmp/ht_fulldisk.XXXXXX) || exit 1
if ! err=$(mount -t tmpfs -o size=1m,mode=0755 ht_fulldisk "$mnt" 2>&1); then
	echo "output_fulldisk: SKIPPED: cannot mount a tmpfs: $err"
	rmdir "$mnt"
	exit 0
fi
trap 'umount "$mnt" 2>/dev/null; rmdir "$mnt" 2>/dev/null' EXIT
trap 'exit 1' INT TERM

status=0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$BUILD/tests/sink/output_fulldisk_driver" "$mnt" || status=1

for f in "$mnt"/out/* "$mnt"/del/* "$mnt"/rot/*; do
	[ -e "$f" ] || continue
	case "$f" in
	*.gz)
		if ! gzip -t "$f"; then
			echo "output_fulldisk: FAIL: gzip -t $f"
			status=1
		fi
		;;
	esac
done
if ! python3 - "$mnt" <<'PY'
import gzip, json, os, sys
n = 0
for sub in ("out", "del", "rot"):
    d = os.path.join(sys.argv[1], sub)
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        data = gzip.open(p).read() if name.endswith(".gz") else open(p, "rb").read()
        assert not data or data.endswith(b"\n"), "partial last line in " + p
        for line in data.split(b"\n")[:-1]:
            json.loads(line)
            n += 1
print("output_fulldisk: %d lines parsed as JSON" % n)
PY
then
	echo "output_fulldisk: FAIL: a line does not parse as JSON"
	status=1
fi
if [ "$status" -eq 0 ]; then
	echo "output_fulldisk: PASS"
else
	echo "output_fulldisk: FAIL"
fi
exit "$status"
