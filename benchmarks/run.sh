#!/usr/bin/env bash
# One command for a benchmark: a private PostGIS under var/bench-pg, migrated, then the script.
#   benchmarks/run.sh NAME [options]   (NAME: devices, ogc, tiles, statistics or photos)
source "$(dirname "$0")/../scripts/lib.sh"

name=${1:?which benchmark: devices, ogc, tiles, statistics or photos}
shift
ensure_venv
ensure_debian_packages wrk
if [ -z "${DATABASE_URL:-}" ]; then
    ensure_postgis
    start_cluster "$PROJECT_DIR/var/bench-pg"
    export DATABASE_URL=$(cluster_url "$PROJECT_DIR/var/bench-pg")
fi
cd "$PROJECT_DIR"
"$VENV/bin/flask" --app wsgi db upgrade >/dev/null 2>&1
"$VENV/bin/python" -m "benchmarks.$name" "$@"
