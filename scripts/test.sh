#!/usr/bin/env bash
# The whole test suite: prepares the machine (packages, services, test roles), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/test-env.sh
# The manifests under deploy/, each checked by its own ecosystem's validator (before the tests, so
# the test runner's summary stays the last line).
bash scripts/check-deploy.sh
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --all-targets --no-fail-fast
else
  cargo test --all-targets --no-fail-fast
fi
