#!/usr/bin/env bash
# Prepares this machine's real services for the probe tests (tests/it/probe.rs). Idempotent:
# safe to run again and again. Needs root, Debian's apt, and the services this machine kind
# starts (PostgreSQL on 127.0.0.1:5432 with trust auth, MariaDB on 127.0.0.1:3306 with root and
# an empty password, Redis on 127.0.0.1:6379). Starts any of them that is not running.
#
# What it sets up:
#   - Debian's monitoring-plugins-basic (/usr/lib/nagios/plugins/check_tcp) for the exec probe;
#   - PostgreSQL role `linkpatrol_pw` with password 'right', and a pg_hba.conf line that makes
#     it use scram-sha-256 over 127.0.0.1 (placed before the trust lines), then a reload;
#   - MariaDB user `linkpatrol_pw` identified by 'right' (hosts %, localhost, 127.0.0.1);
#   - database `test` in both.
set -euo pipefail

log() { printf 'setup-test-services: %s\n' "$*" >&2; }

# --- Nagios plugins -----------------------------------------------------------------------------
if [ ! -x /usr/lib/nagios/plugins/check_tcp ]; then
    log "installing monitoring-plugins-basic"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq monitoring-plugins-basic >/dev/null
fi

# --- wait helper ----------------------------------------------------------------------------------
wait_for() { # name command...
    local name=$1; shift
    for _ in $(seq 1 60); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    log "$name did not come up"; return 1
}

# --- Redis ----------------------------------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

# --- PostgreSQL -----------------------------------------------------------------------------------
PGVER=$(ls /etc/postgresql | sort -V | tail -n1)
HBA=/etc/postgresql/$PGVER/main/pg_hba.conf
if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    log "starting postgresql $PGVER"
    pg_ctlcluster --skip-systemctl-redirect "$PGVER" main start
    wait_for postgresql pg_isready -h 127.0.0.1 -p 5432
fi
PSQL=(psql -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -qAt)
"${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
    || "${PSQL[@]}" -d postgres -c "CREATE DATABASE test"
"${PSQL[@]}" -d postgres <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'linkpatrol_pw') THEN
    CREATE ROLE linkpatrol_pw WITH LOGIN PASSWORD 'right';
  ELSE
    ALTER ROLE linkpatrol_pw WITH LOGIN PASSWORD 'right';
  END IF;
END $$;
SQL
HBA_LINE='host all linkpatrol_pw 127.0.0.1/32 scram-sha-256'
if ! grep -qxF "$HBA_LINE" "$HBA"; then
    log "adding '$HBA_LINE' to $HBA"
    # Before every other rule: pg_hba.conf is first-match.
    first=$(grep -nE '^[[:space:]]*(local|host|hostssl|hostnossl|hostgssenc|hostnogssenc)[[:space:]]' "$HBA" | head -n1 | cut -d: -f1)
    if [ -n "$first" ]; then
        sed -i "${first}i $HBA_LINE" "$HBA"
    else
        echo "$HBA_LINE" >>"$HBA"
    fi
    "${PSQL[@]}" -d postgres -c "SELECT pg_reload_conf()" >/dev/null
fi

# --- MariaDB --------------------------------------------------------------------------------------
if ! mysqladmin -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1; then
    log "starting mariadb"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for mariadb mysqladmin -h 127.0.0.1 -P 3306 -uroot ping
fi
mysql -h 127.0.0.1 -P 3306 -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS test;
CREATE USER IF NOT EXISTS 'linkpatrol_pw'@'%' IDENTIFIED BY 'right';
CREATE USER IF NOT EXISTS 'linkpatrol_pw'@'localhost' IDENTIFIED BY 'right';
CREATE USER IF NOT EXISTS 'linkpatrol_pw'@'127.0.0.1' IDENTIFIED BY 'right';
ALTER USER 'linkpatrol_pw'@'%' IDENTIFIED BY 'right';
ALTER USER 'linkpatrol_pw'@'localhost' IDENTIFIED BY 'right';
ALTER USER 'linkpatrol_pw'@'127.0.0.1' IDENTIFIED BY 'right';
GRANT USAGE ON *.* TO 'linkpatrol_pw'@'%';
FLUSH PRIVILEGES;
SQL

log "ready: redis 6379, postgresql 5432 (role linkpatrol_pw), mariadb 3306 (user linkpatrol_pw), nagios plugins"
