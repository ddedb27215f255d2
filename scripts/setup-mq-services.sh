#!/usr/bin/env bash
# Prepares this machine's message brokers for the messaging probe tests (tests/it/messaging.rs).
# Idempotent: safe to run again and again; fails loudly, never skips. Needs root and the brokers
# this machine kind installs (RabbitMQ, Mosquitto, NATS from Debian's packages).
#
# What it sets up:
#   - RabbitMQ on 127.0.0.1:5672 (started if down): user `linkpatrol_pw` with password 'right'
#     and full permissions on vhost `/` (guest/guest is there already);
#   - Mosquitto: the default listener 127.0.0.1:1883 (anonymous) is left alone; a second
#     instance on 127.0.0.1:1884 with `allow_anonymous false` and a password file holding
#     `linkpatrol_pw` / 'right';
#   - NATS: the default server on 127.0.0.1:4222 (no auth, started if down) and a second one on
#     127.0.0.1:4223 that requires user `linkpatrol_pw` with password 'right'.
set -euo pipefail

log() { printf 'setup-mq-services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # name port
    for _ in $(seq 1 120); do
        if port_open "$2"; then return 0; fi
        sleep 0.5
    done
    die "$1 did not start listening on 127.0.0.1:$2"
}

for cmd in rabbitmqctl rabbitmq-server mosquitto mosquitto_passwd nats-server start-stop-daemon; do
    command -v "$cmd" >/dev/null || die "$cmd is missing (this machine kind installs it from Debian's packages)"
done

# --- RabbitMQ -------------------------------------------------------------------------------------
if ! port_open 5672; then
    log "starting rabbitmq"
    rabbitmq-server -detached
    wait_port rabbitmq 5672
fi
rabbitmqctl -q await_startup >/dev/null
if ! rabbitmqctl -q list_users | awk '{print $1}' | grep -qx linkpatrol_pw; then
    log "adding rabbitmq user linkpatrol_pw"
    rabbitmqctl -q add_user linkpatrol_pw right >/dev/null
fi
if ! rabbitmqctl -q authenticate_user linkpatrol_pw right >/dev/null 2>&1; then
    rabbitmqctl -q change_password linkpatrol_pw right >/dev/null
fi
rabbitmqctl -q set_permissions -p / linkpatrol_pw '.*' '.*' '.*' >/dev/null

# --- Mosquitto ------------------------------------------------------------------------------------
if ! port_open 1883; then
    log "starting mosquitto"
    mosquitto -d -c /etc/mosquitto/mosquitto.conf
    wait_port mosquitto 1883
fi
MQ_DIR=/etc/mosquitto/linkpatrol
MQ_CONF=$MQ_DIR/auth.conf
MQ_PASSWD=$MQ_DIR/passwd
mkdir -p "$MQ_DIR" /var/log/mosquitto
if [ ! -s "$MQ_PASSWD" ] || ! grep -q '^linkpatrol_pw:' "$MQ_PASSWD"; then
    log "writing $MQ_PASSWD"
    rm -f "$MQ_PASSWD"
    mosquitto_passwd -c -b "$MQ_PASSWD" linkpatrol_pw right
fi
# Mosquitto 2 drops root for the `mosquitto` user and wants the file private to it.
if id mosquitto >/dev/null 2>&1; then chown mosquitto: "$MQ_PASSWD"; fi
chmod 0600 "$MQ_PASSWD"
cat >"$MQ_CONF.new" <<CONF
# Written by linkpatrol's scripts/setup-mq-services.sh: a password-only listener for the tests.
pid_file /run/mosquitto/linkpatrol-auth.pid
persistence false
log_dest file /var/log/mosquitto/linkpatrol-auth.log
per_listener_settings true
listener 1884 127.0.0.1
allow_anonymous false
password_file $MQ_PASSWD
CONF
mv "$MQ_CONF.new" "$MQ_CONF"
if ! port_open 1884; then
    log "starting mosquitto with passwords on 1884"
    mkdir -p /run/mosquitto
    if id mosquitto >/dev/null 2>&1; then chown mosquitto: /run/mosquitto /var/log/mosquitto; fi
    mosquitto -d -c "$MQ_CONF"
    wait_port "mosquitto (passwords)" 1884
fi

# --- NATS -----------------------------------------------------------------------------------------
if ! port_open 4222; then
    log "starting nats-server on 4222"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_port nats 4222
fi
if ! port_open 4223; then
    log "starting nats-server with a password on 4223"
    # Its own pid file: matched by executable alone, start-stop-daemon would find the 4222
    # server and start nothing.
    start-stop-daemon --start --oknodo --background --make-pidfile \
        --pidfile /run/linkpatrol-nats-auth.pid --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4223 --user linkpatrol_pw --pass right -l /var/log/nats-server-auth.log
    wait_port "nats (password)" 4223
fi

log "ready: rabbitmq 5672 (user linkpatrol_pw), mosquitto 1883 (anonymous) and 1884 (user linkpatrol_pw), nats 4222 (open) and 4223 (user linkpatrol_pw)"
