#!/usr/bin/env bash
# Large-topology benchmark (issue 11, README "At scale"): on both shapes of gen_topology.py
# (`catalogue`, the exported service catalogue of the issue, and the lighter default `layered`),
#
#   - 100,000 services: `validate` and `analyze --format json` (without -q, so warnings are
#     rendered): wall, CPU, peak RSS, lines and KB of stderr, MB of JSON;
#   - 10,000 services: `analyze --depth 2 --format json`;
#   - the 100,000-service catalogue as exporters write it (needs PyYAML): JSON on one line, and
#     PyYAML's block style with a `---` and a tab in a comment; the report must be the same;
#   - the catalogue with operations: every fifth service's dependencies moved into an operation
#     of it (SPOF paths then pass operation nodes).
#
#   scripts/bench_scale.sh [RUNS]        # default 1 run per command
#
# Targets: < 2 s wall and < 1 GiB peak, < 50 lines of stderr, < 50 MB of JSON at 100,000;
# depth 2 < 5 s at 10,000. Uses target/release/linkpatrol (built when missing; set LINKPATROL to
# use another binary). Every command is bounded by `timeout 120`. Wall time depends on what else
# the machine runs; CPU time (user + sys) is printed beside it.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-1}"
bin="${LINKPATROL:-target/release/linkpatrol}"
out=target/bench
command -v /usr/bin/time >/dev/null || { echo "GNU time is required (apt-get install time)" >&2; exit 1; }
[ -x "$bin" ] || cargo build --release --quiet --bin linkpatrol
mkdir -p "$out"

measure() { # measure LABEL FILE ARGS...: run, print one line of figures
    local label="$1" file="$2"
    shift 2
    for _ in $(seq "$runs"); do
        local rc=0
        timeout 120 /usr/bin/time -f "%e %M %U %S" -o "$out/time.txt" \
            "$bin" -f "$file" "$@" > "$out/stdout" 2> "$out/stderr" || rc=$?
        read -r secs kib user sys < "$out/time.txt"
        printf '   %-34s %6.2f s wall %5.2f s CPU %5d MiB  stderr %3d lines %5.1f KB  stdout %5.1f MB  exit %d\n' \
            "$label" "$secs" "$(echo "$user + $sys" | bc)" "$((kib / 1024))" \
            "$(grep -c '' "$out/stderr")" "$(echo "scale=1; $(stat -c %s "$out/stderr") / 1000" | bc)" \
            "$(echo "scale=1; $(stat -c %s "$out/stdout") / 1000000" | bc)" "$rc"
    done
}

for shape in catalogue layered; do
    big="$out/$shape-100000.yaml"
    small="$out/$shape-10000.yaml"
    [ -s "$big" ] || python3 scripts/gen_topology.py --shape "$shape" --services 100000 --seed 1 > "$big"
    [ -s "$small" ] || python3 scripts/gen_topology.py --shape "$shape" --services 10000 --seed 1 > "$small"
    echo "== $shape ($(du -h "$big" | cut -f1) at 100,000 services)"
    measure "validate (100,000)" "$big" validate
    measure "analyze --format json (100,000)" "$big" analyze --format json
    measure "analyze --depth 2 (10,000)" "$small" analyze --depth 2 --format json
done

# The catalogue as an export writes it: the same topology, so the same report, as fast.
if python3 -c 'import yaml' 2>/dev/null; then
    src="$out/catalogue-100000.yaml"
    for fmt in json pyyaml; do
        file="$out/catalogue-100000.$fmt"
        [ -s "$file" ] || python3 - "$src" "$fmt" > "$file" <<'PY'
import json, sys, yaml
data = yaml.load(open(sys.argv[1]), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
if sys.argv[2] == "json":
    json.dump(data, sys.stdout)
else:
    sys.stdout.write("# exported\tby a tool\n")
    yaml.dump(data, sys.stdout, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
              sort_keys=False, explicit_start=True)
PY
        echo "== catalogue as $fmt ($(du -h "$file" | cut -f1))"
        measure "validate (100,000)" "$file" validate
        measure "analyze --format json (100,000)" "$file" analyze --format json
        "$bin" -f "$src" analyze --format json 2>/dev/null | cmp -s - "$out/stdout" \
            || { echo "   the report differs from the YAML file's" >&2; exit 1; }
    done
else
    echo "== (PyYAML missing: the JSON and PyYAML-style catalogue are not measured)"
fi

# With operations: every fifth service's `depends_on` becomes its operation `op`'s.
ops="$out/catalogue-100000-operations.yaml"
[ -s "$ops" ] || python3 - "$out/catalogue-100000.yaml" > "$ops" <<'PY'
import re, sys
n, moving = 0, False
for line in open(sys.argv[1]).read().split("\n"):
    if re.match(r"^  s\d+:", line):
        n, moving = n + 1, False
    elif line == "    depends_on:" and n % 5 == 0:
        print("    operations:\n      op:\n        depends_on:")
        moving = True
        continue
    elif moving and line.startswith("      "):
        line = "    " + line
    else:
        moving = False
    print(line)
PY
echo "== catalogue with operations ($(grep -c '^    operations:' "$ops") services with one)"
measure "analyze --format json (100,000)" "$ops" analyze --format json
