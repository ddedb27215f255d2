#!/usr/bin/env bash
# The picture at scale (issue 15, SPEC §7): `render` of a 20,000-service catalogue (the
# `catalogue` shape of scripts/gen_topology.py, as in scripts/bench_scale.sh) and of one of its
# links, each timed, with the SVG's <text> elements, nodes, edges (dotted ones) and size.
#
#   scripts/bench_render_scale.sh [SERVICES] [LINK]     # default 20000 link-000
#
# Targets: each render under 10 s; under 800 text elements in the overview. Uses
# target/release/linkpatrol when built, else target/debug/linkpatrol (set LINKPATROL to choose);
# every command is bounded by `timeout 120`.
set -euo pipefail
cd "$(dirname "$0")/.."

n="${1:-20000}"
link="${2:-link-000}"
if [[ -n ${LINKPATROL:-} ]]; then bin=$LINKPATROL
elif [[ -x target/release/linkpatrol ]]; then bin=target/release/linkpatrol
else bin=target/debug/linkpatrol; fi
command -v /usr/bin/time >/dev/null || { echo "GNU time is required (apt-get install time)" >&2; exit 1; }
out=target/bench/render-$n
mkdir -p "$out"
topo="target/bench/catalogue-$n.yaml"
[ -s "$topo" ] || python3 scripts/gen_topology.py --shape catalogue --services "$n" --seed 1 > "$topo"
echo "== $bin, catalogue of $n services ($(du -h "$topo" | cut -f1))"

measure() { # measure LABEL DIR ARGS...
    local label="$1" dir="$2"
    shift 2
    rm -rf "$dir"
    timeout 120 /usr/bin/time -f "%e %M" -o "$out/time.txt" \
        "$bin" -q -f "$topo" render -o "$dir" "$@" 2> "$out/stderr" || { cat "$out/stderr" >&2; exit 1; }
    read -r secs kib < "$out/time.txt"
    local texts nodes edges dotted size
    texts=$(grep -c '<text' "$dir/graph.svg" || true)
    nodes=$(grep -c 'class="node' "$dir/graph.svg" || true)
    edges=$(grep -c 'class="edge' "$dir/graph.svg" || true)
    dotted=$(grep -c 'class="edge indirect' "$dir/graph.svg" || true)
    size=$(grep -o -m1 'width="[0-9]*pt" height="[0-9]*pt"' "$dir/graph.svg" | tr -dc '0-9 ' | sed 's/ / x /')
    printf '   %-28s %6.2f s  %5d MiB  %5d <text>  %4d nodes  %4d edges (%d dotted)  %s pt  %s\n' \
        "$label" "$secs" "$((kib / 1024))" "$texts" "$nodes" "$edges" "$dotted" "$size" "$dir/graph.svg"
}

measure "render (overview)" "$out/overview"
measure "render --link $link" "$out/link" --link "$link"
