#!/usr/bin/env bash
# Same-run comparison on one fleet of 5,000 loopback endpoints: linkpatrol (examples/probe_fleet)
# and lychee with the flags of shared/bench/README.md, 3 rounds each, alternating.
# usage: LYCHEE=/path/to/lychee scripts/bench_probe_vs_lychee.sh   (cargo install lychee --locked)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
S=${SHARED:-$ROOT/../shared}/bench/fleet
LYCHEE=${LYCHEE:-lychee}
export FLEET_DIR=/tmp/bench-fleet-same
ulimit -n 131072 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(cd "$ROOT" && cargo build --release --example probe_fleet -q) || exit 1
BIN=$ROOT/target/release/examples/probe_fleet
trap '"$S/stop.sh" >/dev/null 2>&1' EXIT
URLS=$("$S/start.sh" 5000 20000) || exit 1
for _ in 1 2 3; do
  /usr/bin/time -f "linkpatrol wall %e cpu %U+%S rss %MKB" "$BIN" "$FLEET_DIR" 256 256 2>&1 >/tmp/lp.out | tail -1
  tail -1 /tmp/lp.out
  /usr/bin/time -f "lychee wall %e cpu %U+%S rss %MKB" "$LYCHEE" --no-progress --max-concurrency 64 \
    --host-concurrency 64 --host-request-interval 0ms --max-retries 0 --timeout 2 "$URLS" >/tmp/ly.out 2>/tmp/ly.err
  tail -1 /tmp/ly.err
  grep -E "Total" /tmp/ly.out | head -1
done
