#!/usr/bin/env bash
# Probe benchmark: N loopback endpoints (../shared/bench/fleet), probed once per round by
# examples/probe_fleet (topology built in code from urls.txt), every classification checked
# against truth.tsv. Prints wall s, CPU s (user+sys) and peak RSS per round and their medians,
# measured by /usr/bin/time -v.
#
# usage: scripts/bench_probe.sh [N=5000] [ROUNDS=5] [CONCURRENCY=256] [PER_HOST=CONCURRENCY]
# env:   SHARED (default: ../shared beside the repository, else /work/shared),
#        FLEET_DIR (default /tmp/bench-fleet-probe), BASE_PORT (default 20000)
# Needs nginx (Debian nginx-light; installed if missing), python3, /usr/bin/time.
#
# Measured here (2 cores, load average 5-7 from other builds, release build, medians of 5):
#   N=5000 concurrency 256: 1.8-2.1 s wall, 0.74-0.95 s CPU, 27 MB peak RSS, 5000/5000 right
#   N=5000 concurrency 64:  2.0 s wall, 0.87 s CPU, 18 MB;  N=1000: 0.50 s wall, 0.15 s CPU, 19 MB
#   lychee (../shared/bench/README.md, not re-run here): 2.69 s wall, 2.07 s CPU, 131 MB at 5000.
#   Wall time is bound by the fleet's own servers on the shared cores (probe_fleet's thread is
#   under 40 % busy); CPU and memory are linkpatrol's own.
set -euo pipefail
N=${1:-5000}
ROUNDS=${2:-5}
CONC=${3:-256}
PER_HOST=${4:-$CONC}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$( [[ -d $ROOT/../shared/bench ]] && echo "$ROOT/../shared" || echo /work/shared )}
export FLEET_DIR=${FLEET_DIR:-/tmp/bench-fleet-probe}
BASE_PORT=${BASE_PORT:-20000}

command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
[[ -x /usr/bin/time ]] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }

(cd "$ROOT" && cargo build --release --example probe_fleet -q)
BIN=$ROOT/target/release/examples/probe_fleet

ulimit -n 131072 2>/dev/null || ulimit -n "$(ulimit -Hn)"
trap '"$SHARED/bench/fleet/stop.sh" >/dev/null 2>&1 || true' EXIT
URLS=$("$SHARED/bench/fleet/start.sh" "$N" "$BASE_PORT")
# The same fleet as a topology file, for `linkpatrol probe -f` once the loader is in.
python3 "$ROOT/scripts/fleet_topology.py" "$URLS" "$FLEET_DIR/topology.yaml" --concurrency "$CONC" --per-host "$PER_HOST"

walls=(); cpus=(); rsss=()
for r in $(seq 1 "$ROUNDS"); do
  log=$(mktemp)
  /usr/bin/time -v "$BIN" "$FLEET_DIR" "$CONC" "$PER_HOST" >"$log.out" 2>"$log" || { cat "$log.out" "$log" >&2; exit 1; }
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
  cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.2f", u+s}' "$log")
  rss=$(awk -F': ' '/Maximum resident/{printf "%.0f", $2/1024}' "$log")
  echo "round $r: wall ${wall}s cpu ${cpu}s rss ${rss}MB | $(tail -n1 "$log.out")"
  walls+=("$wall"); cpus+=("$cpu"); rsss+=("$rss")
  rm -f "$log" "$log.out"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
echo "N=$N rounds=$ROUNDS concurrency=$CONC per_host=$PER_HOST: median wall $(median "${walls[@]}") s, CPU $(median "${cpus[@]}") s, peak RSS $(median "${rsss[@]}") MB"
