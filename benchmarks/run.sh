#!/usr/bin/env bash
# One command for a benchmark: a private PostGIS under var/bench-pg, migrated, then the script.
#   benchmarks/run.sh NAME [options]
#   (NAME: devices, ogc, tiles, statistics, declared, downloads, photos, webapp, versions or
#   replicas)
source "$(dirname "$0")/../scripts/lib.sh"

name=${1:?which benchmark: devices, ogc, tiles, statistics, declared, downloads, photos, webapp, versions or replicas}
shift
ensure_venv
ensure_debian_packages wrk
if [ -z "${DATABASE_URL:-}" ]; then
    # A server tuned as for production (PostgreSQL's default of 128 MB is for tiny machines):
    # the million devices and their indexes stay in its buffers. Applies when it starts.
    export PG_SHARED_BUFFERS=${PG_SHARED_BUFFERS:-2GB}
    ensure_postgis
    start_cluster "$PROJECT_DIR/var/bench-pg"
    export DATABASE_URL=$(cluster_url "$PROJECT_DIR/var/bench-pg")
    own_cluster=1
fi
cd "$PROJECT_DIR"
"$VENV/bin/flask" --app wsgi db upgrade >/dev/null 2>&1
if [ "$name" = replicas ]; then
    # A streaming replica of the benchmarks' cluster, made once (docs/replicas.md).
    [ -n "${own_cluster:-}" ] \
        || die "the replicas benchmark replicates var/bench-pg: leave DATABASE_URL unset"
    start_replica "$PROJECT_DIR/var/bench-pg" "$PROJECT_DIR/var/bench-replica"
    export BENCH_REPLICA_URL=$(cluster_url "$PROJECT_DIR/var/bench-replica")
fi
"$VENV/bin/python" -m "benchmarks.$name" "$@"
