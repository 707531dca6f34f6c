# nginx.sh - start/stop a private nginx on a loopback port (sourced by benches).
# Sets NGX_PORT and NGX_DIR; serves /bench.html (1 KiB).  NGX_SERVER_EXTRA,
# if set, is added to the server block (bench/tls.sh: a TLS listener).
ngx_start() {
	NGX_DIR=$(mktemp -d /tmp/ht-bench-ngx.XXXXXX)
	NGX_PORT=${NGX_PORT:-18089}
	mkdir -p "$NGX_DIR/www" "$NGX_DIR/tmp"
	head -c 1024 /dev/zero | tr '\0' 'a' > "$NGX_DIR/www/bench.html"
	cat > "$NGX_DIR/nginx.conf" <<NGX
user root;
worker_processes 1;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $NGX_DIR/tmp;
	proxy_temp_path $NGX_DIR/tmp;
	fastcgi_temp_path $NGX_DIR/tmp;
	uwsgi_temp_path $NGX_DIR/tmp;
	scgi_temp_path $NGX_DIR/tmp;
	keepalive_requests 1000000;
	server { listen 127.0.0.1:$NGX_PORT; root $NGX_DIR/www; ${NGX_SERVER_EXTRA:-} }
}
NGX
	nginx -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log" && return 0
	echo "nginx.sh: nginx did not start on 127.0.0.1:$NGX_PORT (port in use? set NGX_PORT)" >&2
	cat "$NGX_DIR/error.log" >&2
	return 1
}
ngx_stop() {
	kill "$(cat "$NGX_DIR/nginx.pid")" 2>/dev/null
	sleep 0.3
	rm -rf "$NGX_DIR"
}
# bpf_stats_on: kernel.bpf_stats_enabled=1, the old value kept in OLD_STATS
# for bench_cleanup.
bpf_stats_on() {
	OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -q kernel.bpf_stats_enabled=1
}
# bench_cleanup: the EXIT trap of a bench that runs a tracer against this
# nginx: stops the tracer (TRACER_PID) and nginx (NGX_STARTED), restores
# kernel.bpf_stats_enabled (OLD_STATS) and removes WORK.
bench_cleanup() {
	[ -n "${TRACER_PID:-}" ] && kill -INT "$TRACER_PID" 2>/dev/null && wait "$TRACER_PID" 2>/dev/null
	[ -n "${NGX_STARTED:-}" ] && ngx_stop
	[ -n "${OLD_STATS:-}" ] && sysctl -q kernel.bpf_stats_enabled="$OLD_STATS"
	rm -rf "$WORK"
}
# tracer_wait_ready LOG: until the tracer TRACER_PID logs "ready" (30 s at
# most); prints LOG and fails if it does not or exits first.
tracer_wait_ready() {
	i=0
	while ! grep -q "^http-tracer: ready:" "$1" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$TRACER_PID" 2>/dev/null; then
			cat "$1" >&2
			return 1
		fi
	done
	return 0
}
# tracer_start OUT: the real tracer, records to OUT; waits for "ready".
tracer_start() {
	"$BUILD/http-tracer" -o "$1" ${TRACER_ARGS:-} 2>"$1.log" &
	TRACER_PID=$!
	tracer_wait_ready "$1.log"
}
tracer_stop() {
	kill -INT "$TRACER_PID"; wait "$TRACER_PID"
}
