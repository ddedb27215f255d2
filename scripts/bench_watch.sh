#!/usr/bin/env bash
# Soak benchmark of `linkpatrol watch`: CYCLES inspections (default 1000) at a 50 ms interval
# against a loopback fleet (a Python HTTP server on 127.0.0.1; SERVICES services of two
# instances each, default 20), with an alerts: section whose webhook receiver is the same
# server. Prints resident memory (VmRSS) and open file descriptors of the watch process, read
# from /proc, after the first inspection and every so often until the last; they should stay
# flat. Bounded: stops after CYCLES inspections or MAX_SECONDS (default 900), whichever comes
# first, and only ever talks to 127.0.0.1.
#
# usage: scripts/bench_watch.sh [CYCLES] [SERVICES]
#   BIN=path/to/linkpatrol (default: target/release/linkpatrol, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-1000}
services=${2:-20}
max_seconds=${MAX_SECONDS:-900}
bin=${BIN:-target/release/linkpatrol}
[[ -x $bin ]] || cargo build --release --quiet --bin linkpatrol

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The fleet: 200 for GET /health, 200 with {"ok":true} for POST /hook (a webhook receiver).
cat >"$work/fleet.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.reply(b'{"status":"ok"}')
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply(b'{"ok":true}')
    def log_message(self, *a):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 512  # the default 5 drops SYNs when 40 probes connect at once
    daemon_threads = True
s = Server(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
python3 "$work/fleet.py" >"$work/port" &
pids+=($!)
for _ in $(seq 50); do [[ -s $work/port ]] && break; sleep 0.1; done
port=$(head -1 "$work/port")

{
  echo "version: 1"
  echo "name: soak"
  echo "defaults: { timeout: 2s, retries: 0, slow: 1s }"
  echo "links:"
  echo "  front: { entry: svc-0 }"
  echo "alerts:"
  echo "  receivers:"
  echo "    hook: { type: webhook, url: \"http://127.0.0.1:$port/hook\" }"
  echo "services:"
  for i in $(seq 0 $((services - 1))); do
    echo "  svc-$i:"
    echo "    probe: { http: { url: \"http://{address}/health\", expect: { status: 200 } } }"
    echo "    min_healthy: 1"
    echo "    instances: [{ name: a, address: \"127.0.0.1:$port\" }, { name: b, address: \"127.0.0.1:$port\" }]"
    if ((i + 1 < services)); then echo "    depends_on: { svc-$((i + 1)): strong }"; fi
  done
} >"$work/t.yaml"

listen_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" -f "$work/t.yaml" watch --interval 50ms --listen "127.0.0.1:$listen_port" -o "$work/out" \
  2>"$work/watch.log" &
watch_pid=$!
pids+=("$watch_pid")

metric() { curl -fsS "http://127.0.0.1:$listen_port/metrics" 2>/dev/null | awk -v m="$1" '$1 == m { print $2 }'; }
done_runs() { metric 'linkpatrol_watch_inspections_total{result="ok"}'; }
sample() {
  local runs rss fds
  runs=$(done_runs)
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$watch_pid/status")
  # Five readings 20 ms apart, min-max: probe connections in flight come and go.
  fds=$(for _ in 1 2 3 4 5; do find "/proc/$watch_pid/fd" -mindepth 1 -maxdepth 1 | wc -l; sleep 0.02; done |
    sort -n | sed -n '1p;$p' | paste -sd-)
  printf '%-8s %-12s %-8s %s\n' "${runs:-0}" "$rss" "$fds" "$(date -u +%T)"
}

start=$(date +%s)
printf '%-8s %-12s %-8s %s\n' runs "VmRSS(kB)" "fds" time
marks=(1 10 100 250 500 750 "$cycles")
for m in "${marks[@]}"; do
  ((m > cycles)) && continue
  while :; do
    n=$(done_runs || true)
    [[ -n $n ]] && ((${n%.*} >= m)) && break
    if (($(date +%s) - start > max_seconds)); then
      echo "bench_watch: stopped after ${max_seconds}s at ${n:-0} inspections" >&2
      break 2
    fi
    kill -0 "$watch_pid" 2>/dev/null || { echo "bench_watch: watch died" >&2; tail "$work/watch.log" >&2; exit 1; }
    sleep 0.05
  done
  sample
done
elapsed=$(($(date +%s) - start))
overruns=$(metric linkpatrol_watch_overruns_total)
failed=$(metric 'linkpatrol_watch_inspections_total{result="failed"}')
cpu=$(metric process_cpu_seconds_total)
kill -TERM "$watch_pid"
wait "$watch_pid" && rc=0 || rc=$?
echo "elapsed ${elapsed}s; overruns ${overruns}; failed ${failed}; CPU ${cpu}s; exit ${rc} after SIGTERM"
echo "history: $(du -h "$work/out/history.sqlite" | cut -f1); run folders kept: $(find "$work/out/runs" -mindepth 1 -maxdepth 1 | wc -l)"
