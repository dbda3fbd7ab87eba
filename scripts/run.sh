#!/usr/bin/env bash
# `make run`: set everything up, then serve the API with gunicorn until Ctrl-C.
source "$(dirname "$0")/lib.sh"

ensure_venv
ensure_web_bundle
STARTED_CLUSTER=""
if [ -z "${DATABASE_URL:-}" ]; then
    ensure_postgis
    CLUSTER_DIR="$PROJECT_DIR/var/pg"
    if ! as_cluster_owner "$(pg_bindir)/pg_ctl" -D "$CLUSTER_DIR/pgdata" status >/dev/null 2>&1; then
        STARTED_CLUSTER=1
    fi
    start_cluster "$CLUSTER_DIR"
    export DATABASE_URL=$(cluster_url "$CLUSTER_DIR")
fi

cleanup() {
    # Ignore further signals (make forwards its own SIGTERM too) and errors: the cluster we
    # started must be stopped whatever happens in between.
    trap '' INT TERM
    trap - EXIT
    set +e
    if [ -n "${GUNICORN_PID:-}" ]; then
        kill -TERM "$GUNICORN_PID" 2>/dev/null
        wait "$GUNICORN_PID" 2>/dev/null
    fi
    if [ -n "$STARTED_CLUSTER" ]; then
        say "stopping the private PostgreSQL cluster"
        stop_cluster "$CLUSTER_DIR"
    fi
}
trap cleanup INT TERM EXIT

cd "$PROJECT_DIR"
say "applying database migrations"
"$VENV/bin/flask" --app wsgi db upgrade
say "loading the default districts (DEFAULT_DISTRICTS) for statistics"
"$VENV/bin/flask" --app wsgi geodata load-default \
    || say "warning: the default districts could not be loaded; statistics stay empty until districts are imported"

PORT=${PORT:-5000}
say "serving the API on http://127.0.0.1:$PORT (docs at /api/docs); Ctrl-C stops it"
export PORT
# In a session of its own: Ctrl-C reaches this script, whose trap stops gunicorn gracefully,
# rather than every worker at once besides (a worker signalled twice could hang until killed).
setsid "$VENV/bin/gunicorn" --config gunicorn.conf.py wsgi:app &
GUNICORN_PID=$!
wait "$GUNICORN_PID"
