#!/bin/sh
# npm_deps.sh BUILD - install the OTLP test receiver's npm package
# (@opentelemetry/otlp-transformer, pinned in tools/otlp/package.json) into
# BUILD/npm, once.  0.57.2 is the last release that ships the protobufjs
# classes generated from the OTLP .proto files (build/src/generated/root.js,
# with ExportTraceServiceRequest.decode); the 0.2xx releases replaced them
# by a hand-written serializer without a request decoder.
# A registry that cannot be reached is not an error here: the e2e test
# says SKIPPED with the reason.
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
DEST=$BUILD/npm
ROOT_JS=$DEST/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js
if [ -f "$ROOT_JS" ] && cmp -s "$HERE/package.json" "$DEST/package.json"; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "deps: npm not found: the OTLP e2e test will be SKIPPED (make deps installs nodejs and npm as root)" >&2
	exit 0
fi
mkdir -p "$DEST"
cp "$HERE/package.json" "$DEST/package.json"
echo "deps: npm install @opentelemetry/otlp-transformer into $DEST" >&2
if ! (cd "$DEST" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >npm.log 2>&1); then
	echo "deps: npm install failed (registry unreachable?): the OTLP e2e test will be SKIPPED; see $DEST/npm.log" >&2
	rm -f "$DEST/package.json"
	exit 0
fi
[ -f "$ROOT_JS" ] || echo "deps: $ROOT_JS missing after npm install: the OTLP e2e test will be SKIPPED" >&2
exit 0
