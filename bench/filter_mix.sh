#!/bin/sh
# filter_mix.sh BUILD - share of syscall events the in-kernel filters stop,
# under a mixed load: file reads (tar, cat), a binary TCP protocol (an echo
# loop on loopback), and 200 HTTP requests (curl -> python http.server).
# Prints the tracer's per-reason filter counters and the events that reached
# user space.  Needs root.
BUILD=${1:-build}
set -u
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: filter_mix needs root"; exit 0; }
W=$(mktemp -d /tmp/ht-mix.XXXXXX)
printf 'metrics:\n  listen: 127.0.0.1:19191\n' > "$W/c.yaml"
"$BUILD/http-tracer" --config "$W/c.yaml" -o "$W/out.ndjson" 2>"$W/log" &
TP=$!
i=0; while ! grep -q '^http-tracer: ready:' "$W/log" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
python3 -m http.server 18555 --bind 127.0.0.1 --directory "$W" >/dev/null 2>&1 &
HS=$!
python3 - <<'PY' &
import socket, threading, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 18556)); srv.listen(4)
def serve():
    c, _ = srv.accept()
    while True:
        d = c.recv(4096)
        if not d:
            break
        c.sendall(d)
threading.Thread(target=serve, daemon=True).start()
cl = socket.create_connection(("127.0.0.1", 18556))
t = time.time()
while time.time() - t < 8:
    cl.sendall(b"\x00\x01binary-protocol-frame" * 10)
    cl.recv(4096)
PY
EP=$!
sleep 0.5
for i in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:18555/?m=$i"; done
tar cf /dev/null /usr/share/doc /usr/include 2>/dev/null
wait $EP
sleep 1
curl -s http://127.0.0.1:19191/metrics > "$W/m"
kill "$HS"; kill -INT "$TP"; wait "$TP"
grep -E '^http_tracer_(events_filtered_total|kernel_events_submitted_total)' "$W/m" | grep -v ' 0$'
awk '/^http_tracer_events_filtered_total\{reason="(not_socket|family|pid|port|protocol|health_path)"\}/ {f += $2}
     /^http_tracer_kernel_events_submitted_total/ {s = $2}
     END {printf "in-kernel: %d syscall events filtered, %d sent to user space: %.2f%% stopped in the kernel\n", f, s, 100 * f / (f + s)}' "$W/m"
echo "HTTP records: $(grep -c '"target":"/?m=' "$W/out.ndjson") (200 requests x 2 roles expected)"
rm -rf "$W"
