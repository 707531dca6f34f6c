#!/bin/sh
# deps.sh [bench] - install the Debian packages http-tracer needs, only when
# missing.  Idempotent: checks with dpkg-query first, runs apt-get update at
# most once.  `deps.sh bench` (`make bench-deps`) installs instead the tools
# that only bench/baselines.sh compares against (bpftrace, httpry,
# tshark) and libzstd-dev, a codec bench/codec.sh measures against LZ4:
# `make deps` and `make test` never pull them.
set -eu
PKGS="build-essential pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev liblz4-dev libdeflate-dev
liburcu-dev libjemalloc-dev libxxhash-dev libyaml-dev libcmocka-dev libhttp-parser-dev
hyperfine nginx-light lighttpd wrk curl python3 prometheus yamllint gzip iproute2 bc time python3-yaml
libcurl4-openssl-dev clickhouse-server clickhouse-client libjansson-dev openssl"
# make check-arm64 compiles src/ for arm64: the arm64 headers of glibc, the
# kernel, liburcu, libcurl, liblz4, libdeflate and jansson (Debian multiarch; dpkg
# learns the architecture first).
PKGS_ARM64="libc6-dev:arm64 liburcu-dev:arm64 libcurl4-openssl-dev:arm64 liblz4-dev:arm64 libdeflate-dev:arm64 libjansson-dev:arm64"
[ "$(dpkg --print-architecture)" = arm64 ] || PKGS="$PKGS $PKGS_ARM64"
# The OTLP e2e test's receiver runs on Node.js (tools/otlp/, its npm package
# installed by tools/otlp/npm_deps.sh).  A Node.js that brings its own npm
# (NodeSource's) must not get Debian's npm package, which would replace it.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
PKGS_BENCH="bpftrace httpry tshark libzstd-dev"
[ "${1:-}" = bench ] && PKGS=$PKGS_BENCH
missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run 'sudo make deps' (or install them with apt-get) and try again" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
case "$missing" in
*:arm64*) dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64 ;;
esac
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
# Debian starts services on install; the tests start their own on other ports.
for svc in nginx lighttpd prometheus prometheus-node-exporter clickhouse-server; do
	(systemctl disable --now "$svc" || service "$svc" stop) >/dev/null 2>&1 || true
done
