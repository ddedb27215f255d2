#!/usr/bin/env bash
# Render benchmark: DOT generation time and Graphviz `dot -Tsvg` layout time for generated
# topologies (default 1,000, 3,000 and 10,000 services), folded as `render` does it, and with
# BENCH_UNFOLDED=1 also unfolded (to show why folding exists). `dot` is killed after
# BENCH_DOT_TIMEOUT seconds (default 120). Needs Graphviz (`apt-get install graphviz`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --example bench_render
exec target/release/examples/bench_render "$@"
