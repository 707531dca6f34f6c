#!/bin/sh
# layering.sh - the stages of src/ depend only on the stages below them.
#
# Ranks, lowest first (a stage may include its own headers, include/ (the
# kernel ABI) and stages of a strictly lower rank):
#   0 base       buffers, rings, stats, records, addresses, parking, routes
#   1 stream     reassembler, HTTP/1 parser, correlator, connection engine
#   1 config     YAML config
#   2 source     kernel capture, record file, the event validator
#   2 sink       filters, redaction, metadata, encoders, output
#   3 observe    metrics server, RED
#   4 pipeline   dispatch, shards, writer
#   5 src/main.c
# stream/ is pure: no threads, no I/O headers.  Fails naming each upward
# include.  Usage: tools/layering.sh [SRC_DIR]
SRC=${1:-src}
rank() {
	case $1 in
	base) echo 0 ;; stream|config) echo 1 ;; source|sink) echo 2 ;;
	observe) echo 3 ;; pipeline) echo 4 ;; main) echo 5 ;; *) echo "" ;;
	esac
}
bad=0
for f in "$SRC"/*/*.[ch] "$SRC"/main.c; do
	[ -f "$f" ] || continue
	rel=${f#"$SRC"/}
	case $rel in */*) own=${rel%%/*} ;; *) own=main ;; esac
	r_own=$(rank "$own")
	if [ -z "$r_own" ]; then
		echo "layering: $f: folder '$own' has no rank in tools/layering.sh"; bad=1; continue
	fi
	# quoted includes: "stage/x.h" (another stage) or "x.h" (own folder or include/)
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		case $inc in
		*/*)
			st=${inc%%/*}; r=$(rank "$st")
			if [ -z "$r" ]; then
				echo "layering: $f includes \"$inc\": unknown stage '$st'"; bad=1
			elif [ "$st" != "$own" ] && [ "$r" -ge "$r_own" ]; then
				echo "layering: $f ($own, rank $r_own) includes \"$inc\" ($st, rank $r): upward or sideways"; bad=1
			fi ;;
		*)
			if [ ! -f "$(dirname "$f")/$inc" ] && [ ! -f include/"$inc" ] && [ "$inc" != http_tracer.skel.h ]; then
				echo "layering: $f includes \"$inc\": not in its folder nor include/ (name the stage: \"stage/$inc\")"; bad=1
			fi ;;
		esac
	done
	if [ "$own" = stream ] && grep -Eq '#[[:space:]]*include[[:space:]]*<(pthread|urcu[^>]*|unistd|stdio|fcntl|sys/[a-z]+)\.h>' "$f"; then
		echo "layering: $f: stream/ is pure (no threads, no I/O) but includes $(grep -Eo '<(pthread|urcu[^>]*|unistd|stdio|fcntl|sys/[a-z]+)\.h>' "$f" | head -1)"; bad=1
	fi
done
[ "$bad" -eq 0 ] && echo "layering: every include in $SRC/ points down the stages"
exit "$bad"
