#!/usr/bin/env bash
# The layout of docs/deployment.md on one machine, without containers: a PostgreSQL primary and
# a streaming replica of it (pg_basebackup -R), Redis, an S3-compatible store (moto's server),
# two app nodes (gunicorn) and Varnish in front of them.
#
#   scripts/deployment.sh start    set up what is missing, start everything, print the URLs
#   scripts/deployment.sh stop     stop everything it started
#   scripts/deployment.sh status   what answers
#
# DEPLOY_DIR (default var/deployment) holds the clusters, the logs and the pid files.
# Ports: CACHE_PORT (6081), NODE_PORTS ("5001 5002"), REDIS_PORT (6390), S3_PORT (9090).
source "$(dirname "$0")/lib.sh"

DEPLOY_DIR=${DEPLOY_DIR:-$PROJECT_DIR/var/deployment}
CACHE_PORT=${CACHE_PORT:-6081}
NODE_PORTS=${NODE_PORTS:-5001 5002}
REDIS_PORT=${REDIS_PORT:-6390}
S3_PORT=${S3_PORT:-9090}
S3_BUCKET=${S3_BUCKET:-vigie-photos}
PRIMARY=$DEPLOY_DIR/primary
# moto's store takes any credentials; a real store's come from the environment.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-vigie} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-vigie-secret}
REPLICA=$DEPLOY_DIR/replica

wait_for_port() {
    local port=$1 what=$2 tries=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        tries=$((tries + 1))
        [ $tries -lt 300 ] || die "$what did not open port $port; see the logs in $DEPLOY_DIR"
        sleep 0.1
    done
}

start_replica() {
    local bindir
    bindir=$(pg_bindir)
    if [ ! -f "$REPLICA/pgdata/standby.signal" ]; then
        say "copying the primary into a streaming replica (pg_basebackup -R)"
        mkdir -p "$REPLICA"
        [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$REPLICA"
        chmod 700 "$REPLICA"
        as_cluster_owner mkdir -p "$REPLICA/run"
        as_cluster_owner "$bindir/pg_basebackup" -h "$PRIMARY/run" -U vigie \
            -D "$REPLICA/pgdata" -R -X stream --checkpoint=fast
    fi
    if ! as_cluster_owner "$bindir/pg_ctl" -D "$REPLICA/pgdata" status >/dev/null 2>&1; then
        as_cluster_owner "$bindir/pg_ctl" -D "$REPLICA/pgdata" -w -s -l "$REPLICA/postgres.log" \
            -o "-c listen_addresses='' -c unix_socket_directories='$REPLICA/run' -c hot_standby=on" \
            start || die "the replica did not start; see $REPLICA/postgres.log"
    fi
}

start_s3() {
    [ -f "$DEPLOY_DIR/s3.pid" ] && kill -0 "$(cat "$DEPLOY_DIR/s3.pid")" 2>/dev/null && return 0
    say "starting an S3-compatible store on 127.0.0.1:$S3_PORT (moto's server)"
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$DEPLOY_DIR/s3.log" 2>&1 &
    echo $! >"$DEPLOY_DIR/s3.pid"
    wait_for_port "$S3_PORT" "the S3 store"
    "$PY" -c "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1').create_bucket(Bucket=sys.argv[2])" \
        "http://127.0.0.1:$S3_PORT" "$S3_BUCKET"
}

start_redis() {
    [ -f "$DEPLOY_DIR/redis.pid" ] && kill -0 "$(cat "$DEPLOY_DIR/redis.pid")" 2>/dev/null && return 0
    say "starting Redis on 127.0.0.1:$REDIS_PORT"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --daemonize yes --pidfile "$DEPLOY_DIR/redis.pid" --logfile "$DEPLOY_DIR/redis.log"
    wait_for_port "$REDIS_PORT" "Redis"
}

# What every app node shares: one database, one Redis, one store, one key, one cache.
node_environment() {
    [ -f "$DEPLOY_DIR/secret_key" ] || (umask 077 && "$PY" -c "import secrets; print(secrets.token_hex(32))" >"$DEPLOY_DIR/secret_key")
    export DATABASE_URL=$(cluster_url "$PRIMARY")
    export DATABASE_REPLICA_URLS=$(cluster_url "$REPLICA")
    export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
    export S3_BUCKET S3_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" S3_REGION=us-east-1
    export SECRET_KEY=$(cat "$DEPLOY_DIR/secret_key")
    export CACHE_PURGE_URL="http://127.0.0.1:$CACHE_PORT/"
    export TRUSTED_PROXIES=1
    export DEFAULT_DISTRICTS=${DEFAULT_DISTRICTS-paris-arrondissements}
}

start_nodes() {
    local port
    for port in $NODE_PORTS; do
        [ -f "$DEPLOY_DIR/node-$port.pid" ] && kill -0 "$(cat "$DEPLOY_DIR/node-$port.pid")" 2>/dev/null && continue
        say "starting an app node on 127.0.0.1:$port"
        (cd "$PROJECT_DIR" && PORT=$port "$VENV/bin/gunicorn" --config gunicorn.conf.py \
            --daemon --pid "$DEPLOY_DIR/node-$port.pid" \
            --error-logfile "$DEPLOY_DIR/node-$port.log" --access-logfile "$DEPLOY_DIR/node-$port.log" wsgi:app)
    done
    for port in $NODE_PORTS; do wait_for_port "$port" "the app node"; done
}

start_varnish() {
    [ -f "$DEPLOY_DIR/varnish.pid" ] && kill -0 "$(cat "$DEPLOY_DIR/varnish.pid")" 2>/dev/null && return 0
    local backends=() port
    for port in $NODE_PORTS; do backends+=(--backend "127.0.0.1:$port"); done
    "$VENV/bin/flask" --app wsgi cache vcl "${backends[@]}" >"$DEPLOY_DIR/vigie.vcl"
    chmod 644 "$DEPLOY_DIR/vigie.vcl"
    say "starting Varnish on 127.0.0.1:$CACHE_PORT in front of the app nodes"
    # As root, varnishd runs its worker as its own user; elsewhere as the caller.
    varnishd -a "127.0.0.1:$CACHE_PORT" -f "$DEPLOY_DIR/vigie.vcl" -n "$DEPLOY_DIR/varnish" \
        -s malloc,"${VARNISH_MEMORY:-256m}" -P "$DEPLOY_DIR/varnish.pid" \
        || die "varnishd did not start"
    wait_for_port "$CACHE_PORT" "Varnish"
}

start() {
    ensure_venv
    ensure_web_bundle
    ensure_postgis
    ensure_debian_packages varnish varnish-modules redis-server
    mkdir -p "$DEPLOY_DIR"
    grant_traverse "$DEPLOY_DIR/x"
    start_cluster "$PRIMARY"
    start_replica
    start_redis
    start_s3
    node_environment
    cd "$PROJECT_DIR"
    say "applying database migrations on the primary"
    "$VENV/bin/flask" --app wsgi db upgrade
    [ -z "$DEFAULT_DISTRICTS" ] || "$VENV/bin/flask" --app wsgi geodata load-default \
        || say "warning: the default districts could not be loaded"
    start_nodes
    start_varnish
    say "Vigie answers on http://127.0.0.1:$CACHE_PORT (Varnish), nodes on ports $NODE_PORTS"
    say "primary: $DATABASE_URL"
    say "replica: $DATABASE_REPLICA_URLS"
}

stop_pid() {
    local file=$DEPLOY_DIR/$1.pid pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$file"
}

stop() {
    local port
    stop_pid varnish
    for port in $NODE_PORTS; do stop_pid "node-$port"; done
    stop_pid s3
    stop_pid redis
    stop_cluster "$REPLICA"
    stop_cluster "$PRIMARY"
    say "stopped (data kept in $DEPLOY_DIR)"
}

status() {
    local port
    for port in $CACHE_PORT $NODE_PORTS; do
        if "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" \
            "http://127.0.0.1:$port/api/v1/health" 2>/dev/null; then
            echo "127.0.0.1:$port answers"
        else
            echo "127.0.0.1:$port does not answer"
        fi
    done
    as_cluster_owner "$(pg_bindir)/psql" -h "$PRIMARY/run" -U vigie -d vigie -qtAc \
        "SELECT 'replica ' || application_name || ': ' || state || ', ' || coalesce(replay_lag::text, 'no lag') FROM pg_stat_replication"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: scripts/deployment.sh start|stop|status" ;;
esac
