#!/bin/sh
# run.sh BUILD - every benchmark: parser, Kubernetes metadata per record,
# replay matrix, live overhead, BPF cost, CPU per exchange, baselines, replay
# of recorded traffic, record-file codecs.
# Each prints its own numbers; nothing here asserts a time.
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
export BUILD
set -u
banner() { printf '\n==== %s ====\n' "$*"; }
banner "bench/parser.sh: httpp vs http_parser 2.9"
"$HERE/parser.sh" 15 || echo "bench/parser.sh failed"
banner "bench/bench_record: CPU per record of build, redaction, NDJSON encoding"
make --no-print-directory "$BUILD/bench_record" && "$BUILD/bench_record" 300 || echo "bench_record failed"
banner "bench/bench_enrich: Kubernetes metadata per record"
make --no-print-directory "$BUILD/bench_enrich" && "$BUILD/bench_enrich" || echo "bench_enrich failed"
banner "bench/replay.sh: workerThreads x batchSize"
"$HERE/replay.sh" "$BUILD" || echo "bench/replay.sh failed"
if [ "$(id -u)" -ne 0 ]; then
	banner "live benchmarks SKIPPED: they need root (BPF)"
	exit 0
fi
banner "bench/live.sh: wrk -> nginx with and without the tracer"
"$HERE/live.sh" "$BUILD" || echo "bench/live.sh failed"
banner "bench/filter_mix.sh: share of events stopped in the kernel"
"$HERE/filter_mix.sh" "$BUILD" || echo "bench/filter_mix.sh failed"
banner "bench/bpf_cost.sh: per-program cost under wrk"
TRACER=http-tracer "$HERE/bpf_cost.sh" 10 32 || echo "bench/bpf_cost.sh failed"
banner "bench/cpu.sh: CPU per exchange (threads + BPF) at a fixed load and at saturation"
"$HERE/cpu.sh" 10 || echo "bench/cpu.sh failed"
banner "bench/otlp.sh: spans/s and CPU per span of one OTLP exporter"
"$HERE/otlp.sh" "$BUILD" || echo "bench/otlp.sh failed"
banner "bench/baselines.sh: untraced, http-tracer, bpftrace, httpry, tshark side by side"
"$HERE/baselines.sh" 8 || echo "bench/baselines.sh failed"
banner "bench/replay_nginx.sh: replay of a recorded wrk -> nginx run, workerThreads 2"
"$HERE/replay_nginx.sh" || echo "bench/replay_nginx.sh failed"
banner "bench/codec.sh: record-file codecs on recorded traffic"
"$HERE/codec.sh" || echo "bench/codec.sh failed (make bench-deps?)"
