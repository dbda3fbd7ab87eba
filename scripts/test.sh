#!/usr/bin/env bash
# `make test`: lint, then the whole suite against a throwaway PostGIS cluster (or DATABASE_URL).
source "$(dirname "$0")/lib.sh"

# Debian packages the tests drive (real clients and tools, not mocks).
# gdal-bin: GDAL's OAPIF driver reads /ogc; chromium: the web map's browser test;
# redis-server: private Redis servers of the rate-limit tests, stopped to test an outage;
# postgresql-client: pg_dump and pg_restore of the backups, whatever server DATABASE_URL names;
# varnish, varnish-modules (xkey): the HTTP cache in front of two app nodes;
# nginx: the reverse proxy of docs/security.md, in front of gunicorn.
TEST_DEBIAN_PACKAGES=(gdal-bin chromium redis-server postgresql-client varnish varnish-modules nginx)

ensure_venv
ensure_web_bundle
[ ${#TEST_DEBIAN_PACKAGES[@]} -eq 0 ] || ensure_debian_packages "${TEST_DEBIAN_PACKAGES[@]}"
# QGIS's Python API (tests/api/test_qgis_client.py), without the desktop it recommends.
APT_OPTIONS=--no-install-recommends ensure_debian_packages python3-qgis
cd "$PROJECT_DIR"
say "ruff: lint and format check"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .

if [ -z "${DATABASE_URL:-}" ]; then
    ensure_postgis
    CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vigie-test-pg.XXXXXX")
    trap 'stop_cluster "$CLUSTER_DIR"; rm -rf "$CLUSTER_DIR"' EXIT
    PG_FSYNC=off start_cluster "$CLUSTER_DIR"
    export DATABASE_URL=$(cluster_url "$CLUSTER_DIR")
    # The cluster has the project's server settings: tests check them.
    [ -z "$PG_GLIBC_TUNABLES" ] || export VIGIE_TEST_CLUSTER=$CLUSTER_DIR
fi

say "running the test suite against a real PostGIS"
"$VENV/bin/python" -m pytest "$@"
