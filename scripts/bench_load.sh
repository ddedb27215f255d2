#!/usr/bin/env bash
# Load+validate benchmark (SPEC targets: 100k services < 2 s and < 1 GiB; bundled file < 20 ms).
#
#   scripts/bench_load.sh [SERVICES]      # default 100000
#
# Builds the release binary, generates a deterministic topology into target/bench/, then measures
# `linkpatrol -f FILE validate` wall time and peak RSS with GNU time, and the bundled topology with
# hyperfine (or a plain loop when hyperfine cannot be installed). Wall time depends on what else
# the machine runs; CPU time is printed too. Plain files are read by the fast path on one thread
# (src/topology/fast.rs); validation of large files uses every core.
set -euo pipefail
cd "$(dirname "$0")/.."

services="${1:-100000}"
bin=target/release/linkpatrol
out=target/bench
file="$out/topology-$services.yaml"

need() { # need COMMAND PACKAGE: install PACKAGE with apt when COMMAND is missing (best effort)
    command -v "$1" >/dev/null 2>&1 && return 0
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2"; }) >/dev/null 2>&1 || true
    fi
    command -v "$1" >/dev/null 2>&1
}

need /usr/bin/time time || { echo "GNU time is required (apt-get install time)" >&2; exit 1; }
cargo build --release --quiet
mkdir -p "$out"
python3 scripts/gen_topology.py --services "$services" --seed 1 > "$file"
echo "== generated: $file ($(du -h "$file" | cut -f1), $(grep -c '' "$file") lines)"
"$bin" -f "$file" validate | sed 's/^/   /'

echo "== $services services: linkpatrol -f $file validate (3 runs)"
for run in 1 2 3; do
    /usr/bin/time -f "%e %M %U %S" -o "$out/time.txt" "$bin" -f "$file" -q validate
    read -r secs kib user sys < "$out/time.txt"
    printf '   run %d: %6.2f s wall (%.2f s user + %.2f s sys CPU), %4d MiB peak RSS\n' \
        "$run" "$secs" "$user" "$sys" "$((kib / 1024))"
done

echo "== bundled topology.yaml: linkpatrol validate"
if need hyperfine hyperfine; then
    hyperfine --warmup 5 --runs 100 -N --style basic "$bin -f topology.yaml -q validate" 2>&1 | sed 's/^/   /'
else
    start=$(date +%s%N)
    for _ in $(seq 100); do "$bin" -f topology.yaml -q validate; done
    end=$(date +%s%N)
    echo "   mean of 100 runs: $(( (end - start) / 100000 / 1000 )).$(( (end - start) / 100000 % 1000 )) ms"
fi
