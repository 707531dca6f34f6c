#!/bin/sh
# run.sh BUILD SECONDS NAME... - replay each target's regression inputs
# (tests/fuzz/regress/NAME/, every one must pass), then fuzz it for SECONDS
# from its seed corpus (tests/fuzz/corpus/NAME/).  New corpus entries go to
# BUILD/fuzz/scratch/NAME (never the repository), crashes to
# BUILD/fuzz/crashes/NAME-*.  Fails on the first target that fails.
# With FUZZ_RUNS=N (the smoke run of `make test`) each target instead runs N
# inputs with a fixed seed (FUZZ_SEED, default 1) from the seed corpus alone:
# the same inputs on every machine, so CI cannot turn red by chance; `make
# fuzz` is the open-ended search.
set -u
build=$1; secs=$2; shift 2
mkdir -p "$build/fuzz/crashes"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for name in "$@"; do
	bin=$build/fuzz/fuzz_$name
	regress=tests/fuzz/regress/$name
	scratch=$build/fuzz/scratch/$name
	mkdir -p "$scratch"
	if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
		echo "==> fuzz $name: replaying $(ls "$regress" | wc -l) regression inputs"
		"$bin" -runs=1 "$regress"/* >"$build/fuzz/$name.regress.log" 2>&1 || {
			tail -40 "$build/fuzz/$name.regress.log"
			echo "fuzz $name: a regression input fails (log: $build/fuzz/$name.regress.log)"
			exit 1
		}
	fi
	if [ -n "${FUZZ_RUNS:-}" ]; then
		budget="-runs=$FUZZ_RUNS -seed=${FUZZ_SEED:-1}"
		scratch=$build/fuzz/smoke/$name
		rm -rf "$scratch"
		mkdir -p "$scratch"
		echo "==> fuzz $name: $FUZZ_RUNS runs, seed ${FUZZ_SEED:-1}, from tests/fuzz/corpus/$name"
	else
		budget="-max_total_time=$secs"
		echo "==> fuzz $name: ${secs}s from tests/fuzz/corpus/$name"
	fi
	# shellcheck disable=SC2086 # budget is two options
	"$bin" $budget -timeout=10 -rss_limit_mb=1024 -max_len=4096 \
		-artifact_prefix="$build/fuzz/crashes/$name-" \
		"$scratch" "tests/fuzz/corpus/$name" >"$build/fuzz/$name.log" 2>&1 || {
		tail -40 "$build/fuzz/$name.log"
		echo "fuzz $name: FAILED (crash in $build/fuzz/crashes/, log: $build/fuzz/$name.log)"
		exit 1
	}
	grep -E '^(#[0-9]+[[:space:]]+DONE|Done)' "$build/fuzz/$name.log" | tail -1
done
echo "fuzz: $# targets passed"
