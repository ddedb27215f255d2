#!/usr/bin/env bash
# Installs and starts everything the test suite needs, idempotently, and fails loudly if it cannot.
# Sourced by scripts/test.sh; safe to run on its own (`bash scripts/test-env.sh`).
set -euo pipefail

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages ---------------------------------------------------------------------------
need=()
command -v dot >/dev/null || need+=(graphviz)
command -v chromium >/dev/null || need+=(chromium)
[[ -x /usr/lib/nagios/plugins/check_tcp ]] || need+=(monitoring-plugins-basic)
command -v psql >/dev/null || need+=(postgresql-client)
command -v mysql >/dev/null || need+=(mariadb-client)
command -v redis-cli >/dev/null || need+=(redis-tools)
if ((${#need[@]})); then
  echo "test-env: installing ${need[*]}" >&2
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- local services ------------------------------------------------------------------------------
wait_for() { # name, check command...
  local name=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "test-env: $name does not answer on loopback; the tests need it" >&2
  return 1
}

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "test-env: starting PostgreSQL" >&2
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
fi
wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432

if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  echo "test-env: starting Redis" >&2
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
wait_for Redis sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG'

if ! mysql -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; then
  echo "test-env: starting MariaDB" >&2
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
wait_for MariaDB mysql -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1'

# --- roles with passwords, for the tests of a refused password ----------------------------------
# PostgreSQL trusts every loopback login as set up; a refused password needs its own role and an
# scram-sha-256 rule placed before the trust rules.
psql -h 127.0.0.1 -U postgres -d test -qtA -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET password_encryption = 'scram-sha-256';
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'linkpatrol_pw') THEN
    CREATE ROLE linkpatrol_pw LOGIN PASSWORD 'right';
  ELSE
    ALTER ROLE linkpatrol_pw PASSWORD 'right';
  END IF;
END $$;
SQL
hba=$(psql -h 127.0.0.1 -U postgres -d test -qtA -c 'SHOW hba_file')
rule='host all linkpatrol_pw 127.0.0.1/32 scram-sha-256'
if ! as_root grep -qxF "$rule" "$hba"; then
  echo "test-env: adding the scram-sha-256 rule for linkpatrol_pw to $hba" >&2
  tmp=$(mktemp)
  { echo "$rule"; as_root cat "$hba"; } >"$tmp"
  as_root cp "$tmp" "$hba"; rm -f "$tmp"
  as_root grep -qxF "$rule" "$hba" || { echo "test-env: could not edit $hba" >&2; exit 1; }
  psql -h 127.0.0.1 -U postgres -d test -qtA -c 'SELECT pg_reload_conf()' >/dev/null
fi
if PGPASSWORD=wrong psql -h 127.0.0.1 -U linkpatrol_pw -d test -qtA -c 'SELECT 1' >/dev/null 2>&1; then
  echo "test-env: PostgreSQL accepts a wrong password for linkpatrol_pw; the hba rule is not in force" >&2
  exit 1
fi

mysql -h 127.0.0.1 -P 3306 -u root <<'SQL'
CREATE USER IF NOT EXISTS 'linkpatrol_pw'@'%' IDENTIFIED BY 'right';
CREATE USER IF NOT EXISTS 'linkpatrol_pw'@'localhost' IDENTIFIED BY 'right';
ALTER USER 'linkpatrol_pw'@'%' IDENTIFIED BY 'right';
ALTER USER 'linkpatrol_pw'@'localhost' IDENTIFIED BY 'right';
GRANT SELECT ON test.* TO 'linkpatrol_pw'@'%';
GRANT SELECT ON test.* TO 'linkpatrol_pw'@'localhost';
SQL
echo "test-env: packages installed; PostgreSQL, MariaDB and Redis answer on 127.0.0.1" >&2
