#!/usr/bin/env bash
# Installs and starts everything the test suite needs, idempotently, and fails loudly if it cannot.
# Sourced by scripts/test.sh; safe to run on its own (`bash scripts/test-env.sh`).
set -euo pipefail

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages ---------------------------------------------------------------------------
need=()
command -v dot >/dev/null || need+=(graphviz)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)   # the browser test (tests/it/browser.rs)
[[ -x /usr/lib/nagios/plugins/check_tcp ]] || need+=(monitoring-plugins-basic)
command -v pg_isready >/dev/null || need+=(postgresql-client)
command -v psql >/dev/null || need+=(postgresql-client)
command -v mysql >/dev/null || need+=(mariadb-client)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v promtool >/dev/null || need+=(prometheus)   # `promtool check metrics` on metrics.prom
if ((${#need[@]})); then
  echo "test-env: installing ${need[*]}" >&2
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- local services and the password roles -------------------------------------------------------
bash "$(dirname "$0")/setup-test-services.sh"
bash "$(dirname "$0")/setup-mq-services.sh"
# The PostgreSQL replica (5433), Redis with TLS (6380) and MariaDB with TLS (3307) of issue 13.
bash "$(dirname "$0")/setup-db-services.sh"

# Fail loudly rather than let a test pass for the wrong reason.
redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG || { echo "test-env: Redis does not answer" >&2; exit 1; }
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "test-env: PostgreSQL does not answer" >&2; exit 1; }
mysql -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' test >/dev/null || { echo "test-env: MariaDB does not answer" >&2; exit 1; }
if PGPASSWORD=wrong psql -h 127.0.0.1 -U linkpatrol_pw -d test -qtA -c 'SELECT 1' >/dev/null 2>&1; then
  echo "test-env: PostgreSQL accepts a wrong password for linkpatrol_pw; the scram-sha-256 rule is not in force" >&2
  exit 1
fi
command -v dot >/dev/null || { echo "test-env: Graphviz dot is missing" >&2; exit 1; }
command -v chromium >/dev/null || { echo "test-env: chromium is missing" >&2; exit 1; }
command -v chromedriver >/dev/null || { echo "test-env: chromedriver (chromium-driver) is missing" >&2; exit 1; }
command -v promtool >/dev/null || { echo "test-env: promtool (Debian's prometheus) is missing" >&2; exit 1; }
echo "test-env: packages installed; PostgreSQL (5432, replica 5433), MariaDB (3306, TLS 3307) and Redis (6379, TLS 6380) answer on 127.0.0.1" >&2
