#!/usr/bin/env bash
# inspect benchmark: `linkpatrol inspect` on N loopback endpoints (../shared/bench/fleet), ROUNDS
# runs into one output directory, each measured by /usr/bin/time -v (wall s, peak RSS), plus the
# history's growth per run and the size of one run folder; then examples/bench_history: the
# 24 h / 7 d query time on a history of HRUNS runs of 100 probes (target: under 100 ms).
#
# usage: scripts/bench_inspect.sh [N=5000] [ROUNDS=5] [HRUNS=10000]
# env:   SHARED (default: ../shared beside the repository, else /work/shared),
#        FLEET_DIR (default /tmp/bench-fleet-inspect), BASE_PORT (default 20000; 25000–29999 holds RabbitMQ's distribution port 25672 here),
#        HISTORY_DIR (default /dev/shm/lp-bench-history: filled on tmpfs, see bench_history.rs),
#        PROFILE (default release; `dev` measures the debug build, whose dependencies are opt-level 1)
# Needs nginx (Debian nginx-light; installed if missing), python3, /usr/bin/time.
#
# The topology: one service per endpoint, grouped into N/100 core links; each link's entry
# depends on the other 99 services of its group (4 in 5 strong, the rest weak with a timeout).
set -euo pipefail
N=${1:-5000}
ROUNDS=${2:-5}
HRUNS=${3:-10000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$( [[ -d $ROOT/../shared/bench ]] && echo "$ROOT/../shared" || echo /work/shared )}
export FLEET_DIR=${FLEET_DIR:-/tmp/bench-fleet-inspect}
BASE_PORT=${BASE_PORT:-20000}
HISTORY_DIR=${HISTORY_DIR:-/dev/shm/lp-bench-history}

command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
[[ -x /usr/bin/time ]] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }

PROFILE=${PROFILE:-release}
(cd "$ROOT" && cargo build --profile "$PROFILE" --bin linkpatrol --example bench_history -q)
OUTDIR=$ROOT/target/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")
BIN=$OUTDIR/linkpatrol

ulimit -n 131072 2>/dev/null || ulimit -n "$(ulimit -Hn)"
trap '"$SHARED/bench/fleet/stop.sh" >/dev/null 2>&1 || true; rm -rf "$HISTORY_DIR"' EXIT
URLS=$("$SHARED/bench/fleet/start.sh" "$N" "$BASE_PORT")
TOPO=$FLEET_DIR/inspect-topology.yaml
python3 - "$URLS" "$TOPO" <<'EOF'
import sys
urls = [l.strip() for l in open(sys.argv[1]) if l.strip()]
out = ["version: 1", "name: bench-inspect",
       "defaults: { timeout: 2s, retries: 0, slow: 10s, concurrency: 256, per_host: 256 }",
       "inspect: { keep_runs: 3 }", "links:"]
group = 100
for g in range(0, len(urls), group):
    out.append(f"  link-{g // group:03d}: {{ entry: ep-{g:05d} }}")
out.append("services:")
for i, url in enumerate(urls):
    out.append(f"  ep-{i:05d}:")
    out.append(f"    probe: {{ http: {{ url: \"{url}\" }} }}")
    if i % group == 0:
        deps = []
        for j in range(i + 1, min(i + group, len(urls))):
            deps.append(f"ep-{j:05d}: strong" if j % 5 else f"ep-{j:05d}: {{ strength: weak, timeout: 1s }}")
        out.append("    depends_on: { " + ", ".join(deps) + " }")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
EOF

OUT=$FLEET_DIR/output
rm -rf "$OUT"
db_bytes() {  # the history's size with its WAL folded in
  python3 -c "import sqlite3,os,sys; p=sys.argv[1]; c=sqlite3.connect(p); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close(); print(os.path.getsize(p))" "$OUT/history.sqlite"
}
walls=(); rsss=(); sizes=()
for r in $(seq 1 "$ROUNDS"); do
  log=$(mktemp)
  code=0
  /usr/bin/time -v "$BIN" -q -f "$TOPO" inspect -o "$OUT" 2>"$log" || code=$?
  if (( code > 1 )); then cat "$log" >&2; exit 1; fi
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
  rss=$(awk -F': ' '/Maximum resident/{printf "%.0f", $2/1024}' "$log")
  size=$(db_bytes)
  echo "round $r: exit $code, wall ${wall}s, peak RSS ${rss}MB, history $((size / 1024)) KB"
  walls+=("$wall"); rsss+=("$rss"); sizes+=("$size")
  rm -f "$log"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
growth=$(( (sizes[ROUNDS - 1] - sizes[0]) / (ROUNDS > 1 ? ROUNDS - 1 : 1) / 1024 ))
folder=$(du -sk "$OUT/latest/" | cut -f1)
echo "inspect ($PROFILE build) N=$N rounds=$ROUNDS: median wall $(median "${walls[@]}") s, peak RSS $(median "${rsss[@]}") MB, history +${growth} KB a run, run folder ${folder} KB"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('last run: links', len(r['links']), 'services', len(r['services']), 'root causes', len(r['root_causes'] or []), 'duration', r['run']['duration_seconds'], 's')" "$OUT/latest/report.json"

"$OUTDIR/examples/bench_history" "$HISTORY_DIR" "$HRUNS"
