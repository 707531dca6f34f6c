#!/bin/sh
# layering_selftest.sh - tools/layering.sh must fail on an upward include and
# on a thread header in the pure stream stage (a copy of src/ with both planted).
set -u
T=$(mktemp -d /tmp/ht-layering.XXXXXX)
trap 'rm -rf "$T"' EXIT
cp -r src "$T/src"
echo '#include "pipeline/pipeline.h"' >> "$T/src/stream/corr.c"
echo '#include <pthread.h>' >> "$T/src/stream/reasm.c"
out=$(tools/layering.sh "$T/src" 2>&1) && { echo "layering self-test: FAIL: the check passed a planted upward include"; exit 1; }
for want in 'includes "pipeline/pipeline.h" (pipeline, rank 4): upward' 'stream/ is pure'; do
	case $out in
	*"$want"*) ;;
	*) echo "layering self-test: FAIL: no report of: $want"; echo "$out"; exit 1 ;;
	esac
done
echo "layering self-test: the check fails on an upward include and on threads in stream/"
