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
		if grep -q "^http-tracer: ready:" "$log" 2>/dev/null; then return 0; fi
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

# e2e_port VAR: set VAR to a loopback TCP port that can be bound now, a new
# one on every call, in 10000..19999.  That span lies below the kernel's
# ephemeral range (net.ipv4.ip_local_port_range, 32768 up here), where no
# client connection can take a port between this check and the test's own
# bind.  (A metrics port picked inside that range failed CI once: the scrape
# read nothing, most likely because a connection held the port.)
# 20000 up to the ephemeral range is left to the port lists of the tests
# (t_reload's 1024 excludePorts), which must never name a test's own port.
E2E_NEXT_PORT=$((10000 + ($$ % 190) * 50))
e2e_port() {
	while :; do
		[ "$E2E_NEXT_PORT" -le 19999 ] || E2E_NEXT_PORT=10000
		p=$E2E_NEXT_PORT; E2E_NEXT_PORT=$((p + 1))
		port_bindable "$p" && break
	done
	eval "$1=$p"
}

# port_bindable PORT: 127.0.0.1:PORT can be bound (SO_REUSEADDR, as the
# servers under test set it).
port_bindable() {
	python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# wait_listen PORT: until a TCP socket listens on PORT (10 s at most), without
# connecting to it (a probe request would be traced).  Servers started in the
# background (python3 -m http.server) can take over a second to listen on a
# loaded machine; a fixed sleep before the first request lost it in CI.
wait_listen() {
	i=0
	while [ -z "$(ss -Hltn "sport = :$1")" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ $i -lt 100 ] || echo "wait_listen: nothing listens on port $1 after 10 s"
}

# wait_lines FILE PATTERN N: until FILE has N lines matching PATTERN (grep's
# basic regex), 10 s at most: a log line, or records the writer has flushed.
wait_lines() {
	i=0
	while n=$(grep -c "$2" "$1" 2>/dev/null); [ "${n:-0}" -lt "$3" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
}

# metrics_scrape ADDR FILE: save one /metrics scrape (empty file on failure).
metrics_scrape() {
	curl -s "http://$1/metrics" > "$2" 2>/dev/null || : > "$2"
}

# metric_sum FILE NAME: the sum of every sample of family NAME (all labels).
metric_sum() {
	awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.0f\n", s }' "$1"
}

# no_lock_fd CMD...: run CMD with the e2e lock's descriptor closed, so that
# a daemon it leaves behind (a test killed half-way) cannot keep holding
# /tmp/ht-e2e.lock for every later run on the host.
no_lock_fd() {
	closes=""
	for f in /proc/$$/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = /tmp/ht-e2e.lock ] && closes="$closes ${f##*/}>&-"
	done
	eval '"$@"' "$closes"
}

# ngx_private DIR PORT SERVER_BODY: a private nginx (one worker running as
# root, so DIR may sit in a private temp dir; sendfile off; root DIR/www) on 127.0.0.1:PORT with SERVER_BODY inside its server block.
# PORT may be ADDR:PORT for another loopback address.
# Returns non-zero, with the reason on stdout, when it cannot start.
ngx_private() {
	d=$1
	case $2 in *:*) ngx_listen=$2 ;; *) ngx_listen=127.0.0.1:$2 ;; esac
	mkdir -p "$d/www" "$d/tmp"
	cat > "$d/nginx.conf" <<NGX
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
daemon on;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile off;
	keepalive_requests 1000000;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	server {
		listen $ngx_listen;
		root $d/www;
		$3
	}
}
NGX
	no_lock_fd nginx -c "$d/nginx.conf" -e "$d/error.log" 2>"$d/start.err" || { cat "$d/start.err"; return 1; }
}
ngx_private_stop() {
	kill "$(cat "$1/nginx.pid" 2>/dev/null)" 2>/dev/null
	sleep 0.3
}

# wrk_lua_targets FILE PREFIX [DELAY_MS]: a wrk script giving every request
# its own target PREFIX<n> (n counts from 1 per wrk thread; use -t1); with
# DELAY_MS each connection pauses that long before each request, which caps
# the rate at connections * 1000 / DELAY_MS requests/s.
wrk_lua_targets() {
	cat > "$1" <<LUA
local n = 0
request = function()
	n = n + 1
	return wrk.format("GET", "$2" .. n)
end
LUA
	[ -z "${3:-}" ] || printf 'delay = function()\n\treturn %s\nend\n' "$3" >> "$1"
}
