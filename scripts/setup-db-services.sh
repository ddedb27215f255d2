#!/usr/bin/env bash
# The second-tier data stores of the probe tests (issue 13), next to the machine's own services.
# Idempotent: a run finds what an earlier run made and only starts what is not running; it
# fails loudly (non-zero, a message naming the service) when something cannot be made to work.
# Needs root, openssl, and the machine's PostgreSQL (127.0.0.1:5432), MariaDB and redis-server.
#
# What it sets up (every port outside RabbitMQ's 25000-29999):
#   - a test CA and a server certificate for DNS name `localhost` only (so `127.0.0.1` is a
#     wrong host name for verify-full tests), in $TLS_DIR (ca.pem, server.pem, server.key);
#   - a PostgreSQL streaming replica of 127.0.0.1:5432 on 127.0.0.1:5433, made by pg_basebackup,
#     with ssl=on using that certificate; the primary gets a `host replication` pg_hba entry
#     (then a reload, never a restart);
#   - Redis with TLS only on 127.0.0.1:6380 (`tls-port`, no plain port), password `right`,
#     maxmemory 64mb (so `memory_ratio` has a limit to divide by);
#   - a second MariaDB on 127.0.0.1:3307 with TLS, user `linkpatrol_tls`/'right' REQUIRE SSL.
set -euo pipefail

log() { printf 'setup-db-services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

TLS_DIR=/var/lib/linkpatrol-test/tls
PG_REPLICA=/var/lib/postgresql/linkpatrol-replica
PG_REPLICA_PORT=5433
REDIS_TLS_PORT=6380
MARIA_TLS_DIR=/var/lib/linkpatrol-test/mariadb-tls
MARIA_TLS_PORT=3307
MARIA_TLS_SOCK=/run/mysqld/linkpatrol-tls.sock

wait_for() { # name command...
    local name=$1; shift
    for _ in $(seq 1 60); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    die "$name did not come up"
}

# --- certificates ---------------------------------------------------------------------------------
mkdir -p "$TLS_DIR"
if ! openssl verify -CAfile "$TLS_DIR/ca.pem" "$TLS_DIR/server.pem" >/dev/null 2>&1 \
    || ! openssl x509 -in "$TLS_DIR/server.pem" -noout -checkend 86400 >/dev/null 2>&1; then
    log "generating the test CA and a certificate for localhost in $TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=linkpatrol test CA" \
        -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$TLS_DIR/ext.cnf"
    openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" \
        -CAcreateserial -days 3650 -extfile "$TLS_DIR/ext.cnf" -out "$TLS_DIR/server.pem" 2>/dev/null
    # A new certificate: servers started with the old one must pick it up.
    rm -f "$PG_REPLICA/server.key"
fi
chmod 0644 "$TLS_DIR/ca.pem" "$TLS_DIR/server.pem"
chmod 0640 "$TLS_DIR/server.key"
chgrp mysql "$TLS_DIR/server.key" 2>/dev/null || true
chmod 0755 "$TLS_DIR" "$(dirname "$TLS_DIR")"

# --- PostgreSQL streaming replica -----------------------------------------------------------------
PGVER=$(ls /etc/postgresql | sort -V | tail -n1)
PGBIN=/usr/lib/postgresql/$PGVER/bin
HBA=/etc/postgresql/$PGVER/main/pg_hba.conf
as_pg() { runuser -u postgres -- "$@"; }
PSQL=(psql -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -qAt -d postgres)
REPL_LINE='host replication all 127.0.0.1/32 trust'
if ! grep -qxF "$REPL_LINE" "$HBA"; then
    log "adding '$REPL_LINE' to $HBA"
    echo "$REPL_LINE" >>"$HBA"
    "${PSQL[@]}" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
fi
[ "$("${PSQL[@]}" -c 'SHOW wal_level')" != minimal ] || die "the primary has wal_level=minimal; a replica needs replica"

replica_q() { psql -h 127.0.0.1 -p "$PG_REPLICA_PORT" -U postgres -qAt -d postgres -c "$1" 2>/dev/null; }
replica_streaming() { [ "$(replica_q "SELECT status FROM pg_stat_wal_receiver")" = streaming ]; }

write_replica_conf() {
    cat >"$PG_REPLICA/postgresql.conf" <<CONF
# Written by scripts/setup-db-services.sh: a hot standby of 127.0.0.1:5432.
port = $PG_REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/var/run/postgresql'
hba_file = '$PG_REPLICA/pg_hba.conf'
ident_file = '$PG_REPLICA/pg_ident.conf'
hot_standby = on
ssl = on
ssl_cert_file = '$PG_REPLICA/server.crt'
ssl_key_file = '$PG_REPLICA/server.key'
shared_buffers = 16MB
logging_collector = off
CONF
    cat >"$PG_REPLICA/pg_hba.conf" <<'HBA'
local all all trust
host all linkpatrol_pw 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
HBA
    : >"$PG_REPLICA/pg_ident.conf"
    install -o postgres -g postgres -m 0644 "$TLS_DIR/server.pem" "$PG_REPLICA/server.crt"
    install -o postgres -g postgres -m 0600 "$TLS_DIR/server.key" "$PG_REPLICA/server.key"
    chown postgres:postgres "$PG_REPLICA/postgresql.conf" "$PG_REPLICA/pg_hba.conf" "$PG_REPLICA/pg_ident.conf"
}

start_replica() {
    as_pg "$PGBIN/pg_ctl" -D "$PG_REPLICA" -l "$PG_REPLICA.log" -w -t 30 start >/dev/null
}

if ! replica_streaming; then
    if [ -f "$PG_REPLICA/standby.signal" ]; then
        log "starting the PostgreSQL replica on $PG_REPLICA_PORT"
        as_pg "$PGBIN/pg_ctl" -D "$PG_REPLICA" -m fast stop >/dev/null 2>&1 || true
        write_replica_conf
        start_replica || log "the replica did not start; see $PG_REPLICA.log"
        for _ in $(seq 1 20); do replica_streaming && break; sleep 0.5; done
    fi
    if ! replica_streaming; then
        log "making a new PostgreSQL replica with pg_basebackup into $PG_REPLICA"
        as_pg "$PGBIN/pg_ctl" -D "$PG_REPLICA" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PG_REPLICA"
        as_pg pg_basebackup -h 127.0.0.1 -p 5432 -U postgres -D "$PG_REPLICA" -R -X stream -c fast \
            || die "pg_basebackup from 127.0.0.1:5432 failed"
        write_replica_conf
        start_replica || die "the PostgreSQL replica did not start; see $PG_REPLICA.log"
        wait_for "the PostgreSQL replica's WAL receiver" replica_streaming
    fi
elif [ ! -f "$PG_REPLICA/server.key" ]; then
    # The certificate was regenerated above: install it and reload (ssl files reload).
    write_replica_conf
    replica_q "SELECT pg_reload_conf()" >/dev/null
fi
[ "$(replica_q 'SELECT pg_is_in_recovery()')" = t ] || die "127.0.0.1:$PG_REPLICA_PORT is not in recovery"
[ "$(replica_q 'SHOW ssl')" = on ] || die "the replica on $PG_REPLICA_PORT has ssl off"

# --- Redis with TLS -------------------------------------------------------------------------------
redis_tls() {
    redis-cli --tls --cacert "$TLS_DIR/ca.pem" --sni localhost -h 127.0.0.1 -p "$REDIS_TLS_PORT" \
        --no-auth-warning -a right "$@"
}
if ! redis_tls ping 2>/dev/null | grep -q PONG; then
    log "starting redis with TLS on $REDIS_TLS_PORT"
    mkdir -p /var/lib/redis-tls /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 0 --tls-port "$REDIS_TLS_PORT" \
        --tls-cert-file "$TLS_DIR/server.pem" --tls-key-file "$TLS_DIR/server.key" \
        --tls-ca-cert-file "$TLS_DIR/ca.pem" --tls-auth-clients no \
        --requirepass right --maxmemory 64mb --save "" --appendonly no \
        --dir /var/lib/redis-tls --pidfile /var/run/redis-tls.pid --logfile /var/log/redis/tls.log
    wait_for "redis with TLS on $REDIS_TLS_PORT" sh -c "redis-cli --tls --cacert $TLS_DIR/ca.pem --sni localhost -h 127.0.0.1 -p $REDIS_TLS_PORT --no-auth-warning -a right ping | grep -q PONG"
fi
[ "$(redis_tls config get maxmemory | tail -n1)" = 67108864 ] || redis_tls config set maxmemory 64mb >/dev/null

# --- MariaDB with TLS -----------------------------------------------------------------------------
maria_tls() { mysql --protocol=socket -S "$MARIA_TLS_SOCK" -uroot "$@"; }
if ! maria_tls -e 'SELECT 1' >/dev/null 2>&1; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    if [ ! -d "$MARIA_TLS_DIR/mysql" ]; then
        log "creating a MariaDB data directory in $MARIA_TLS_DIR"
        rm -rf "$MARIA_TLS_DIR"
        mkdir -p "$MARIA_TLS_DIR" && chown mysql:mysql "$MARIA_TLS_DIR"
        mariadb-install-db --no-defaults --user=mysql --datadir="$MARIA_TLS_DIR" \
            --auth-root-authentication-method=socket --skip-test-db >/dev/null \
            || die "mariadb-install-db failed"
    fi
    log "starting MariaDB with TLS on $MARIA_TLS_PORT"
    start-stop-daemon --start --oknodo --background --pidfile "$MARIA_TLS_DIR/mariadbd.pid" \
        --exec /usr/sbin/mariadbd -- --no-defaults --user=mysql --datadir="$MARIA_TLS_DIR" \
        --port="$MARIA_TLS_PORT" --bind-address=127.0.0.1 --socket="$MARIA_TLS_SOCK" \
        --pid-file="$MARIA_TLS_DIR/mariadbd.pid" --log-error="$MARIA_TLS_DIR/error.log" \
        --skip-log-bin --innodb-buffer-pool-size=16M \
        --ssl-ca="$TLS_DIR/ca.pem" --ssl-cert="$TLS_DIR/server.pem" --ssl-key="$TLS_DIR/server.key"
    wait_for "MariaDB with TLS on $MARIA_TLS_PORT" maria_tls -e 'SELECT 1'
fi
maria_tls <<'SQL'
CREATE DATABASE IF NOT EXISTS test;
CREATE USER IF NOT EXISTS 'linkpatrol_tls'@'%' IDENTIFIED BY 'right' REQUIRE SSL;
ALTER USER 'linkpatrol_tls'@'%' IDENTIFIED BY 'right' REQUIRE SSL;
GRANT SELECT ON test.* TO 'linkpatrol_tls'@'%';
FLUSH PRIVILEGES;
SQL
[ "$(maria_tls -N -e "SHOW VARIABLES LIKE 'have_ssl'" | cut -f2)" = YES ] \
    || die "MariaDB on $MARIA_TLS_PORT has no TLS (have_ssl is not YES); see $MARIA_TLS_DIR/error.log"

log "ready: postgresql replica 5433 (TLS), redis TLS 6380, mariadb TLS 3307; CA $TLS_DIR/ca.pem"
