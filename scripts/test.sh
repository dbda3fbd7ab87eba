#!/usr/bin/env bash
# `make test`: lint, then the whole suite against a throwaway PostGIS cluster (or DATABASE_URL).
source "$(dirname "$0")/lib.sh"

# Debian packages the tests drive (real clients and tools, not mocks).
# gdal-bin: GDAL's OAPIF driver reads /ogc; chromium: the web map's browser test;
# redis-server: private Redis servers of the rate-limit tests, stopped to test an outage;
# postgresql-client: pg_dump and pg_restore of the backups, whatever server DATABASE_URL names;
# varnish, varnish-modules (xkey): the HTTP cache in front of two app nodes;
# nginx: the reverse proxy of docs/security.md, in front of gunicorn;
# curl: a download resumed as docs/clients.md says.
TEST_DEBIAN_PACKAGES=(gdal-bin chromium redis-server postgresql-client varnish varnish-modules nginx curl)

ensure_venv
ensure_web_bundle
[ ${#TEST_DEBIAN_PACKAGES[@]} -eq 0 ] || ensure_debian_packages "${TEST_DEBIAN_PACKAGES[@]}"
# QGIS's Python API (tests/api/test_qgis_client.py), without the desktop it recommends.
APT_OPTIONS=--no-install-recommends ensure_debian_packages python3-qgis
cd "$PROJECT_DIR"
say "ruff: lint and format check"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .

# Test processes: one per core, at most 4 (TEST_WORKERS sets it, up to 16; 1 runs the suite in
# one process). Each has a cluster of its own: the sync feed follows the server's transaction
# ids, so on a shared server one process's open transactions would hold back another's feed.
# With DATABASE_URL set, the suite therefore runs in one process; so it does when the
# arguments need one (a debugger, -p no:xdist). The processes are TEST_WORKERS', not -n's.
one_process_asked() {
    local arg
    for arg in "$@"; do
        case "$arg" in
            -n|-n*|--numprocesses*)
                die "make test starts a cluster per test process: set TEST_WORKERS=N rather than pass -n" ;;
            --pdb|--trace|no:xdist|-pno:xdist) return 0 ;;
        esac
    done
    return 1
}
WORKERS=1
if [ -z "${DATABASE_URL:-}" ]; then
    ensure_postgis
    cores=$(nproc)
    WORKERS=${TEST_WORKERS:-$((cores < 4 ? cores : 4))}
    [[ "$WORKERS" =~ ^([1-9]|1[0-6])$ ]] || die "TEST_WORKERS must be a whole number from 1 to 16: '$WORKERS'"
    if one_process_asked "$@"; then
        WORKERS=1
    fi
    CLUSTERS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vigie-test-pg.XXXXXX")
    trap 'for cluster in "$CLUSTERS_DIR"/*/; do stop_cluster "$cluster"; done; rm -rf "$CLUSTERS_DIR"' EXIT
    urls=() clusters=()
    for ((worker = 0; worker < WORKERS; worker++)); do
        PG_FSYNC=off start_cluster "$CLUSTERS_DIR/$worker"
        urls+=("$(cluster_url "$CLUSTERS_DIR/$worker")")
        clusters+=("$CLUSTERS_DIR/$worker")
    done
    # Each test process takes the line of its number (tests/conftest.py).
    export DATABASE_URL=${urls[0]}
    VIGIE_TEST_DATABASE_URLS=$(printf '%s\n' "${urls[@]}")
    export VIGIE_TEST_DATABASE_URLS
    # The clusters have the project's server settings: tests check them.
    if [ -n "$PG_GLIBC_TUNABLES" ]; then
        export VIGIE_TEST_CLUSTER=${clusters[0]}
        VIGIE_TEST_CLUSTERS=$(printf '%s\n' "${clusters[@]}")
        export VIGIE_TEST_CLUSTERS
    fi
fi

say "running the test suite against a real PostGIS ($WORKERS process(es))"
if [ "$WORKERS" -gt 1 ]; then
    "$VENV/bin/python" -m pytest -n "$WORKERS" --dist worksteal "$@"
else
    "$VENV/bin/python" -m pytest "$@"
fi
