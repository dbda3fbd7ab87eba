# Shared set-up steps for `make run` and `make test`: a virtual environment, the PostGIS
# Debian package, and private PostgreSQL clusters. Sourced, not executed.
set -euo pipefail

PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$PROJECT_DIR/.venv"
PY="$VENV/bin/python"

say() { printf '\033[1m[vigie]\033[0m %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Create .venv and install the project with pinned versions when pyproject or the lock changed.
ensure_venv() {
    local stamp="$VENV/.installed"
    if [ ! -x "$PY" ]; then
        say "creating the virtual environment in .venv/"
        local failed
        if ! failed=$(python3 -m venv "$VENV" 2>&1); then
            case "$failed" in
                *ensurepip*|*"No module named venv"*)
                    die "python3 -m venv failed: install python3-venv (apt-get install python3-venv)" ;;
                *) die "python3 -m venv failed: $failed" ;;
            esac
        fi
    fi
    if [ ! -f "$stamp" ] || [ "$PROJECT_DIR/pyproject.toml" -nt "$stamp" ] \
        || [ "$PROJECT_DIR/constraints.txt" -nt "$stamp" ]; then
        say "installing Python dependencies (pinned by constraints.txt)"
        "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
        "$PY" -m pip install --quiet --disable-pip-version-check \
            -c "$PROJECT_DIR/constraints.txt" -e "$PROJECT_DIR[test,bench]"
        touch "$stamp"
    fi
}

# The newest PostgreSQL server binaries installed by Debian's packages.
pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# Install the server and PostGIS packages when missing (as root), or say what to install.
ensure_postgis() {
    local bindir version
    bindir=$(pg_bindir || true)
    version=${bindir:+$(basename "$(dirname "$bindir")")}
    if [ -n "$bindir" ] && [ -f "/usr/share/postgresql/$version/extension/postgis.control" ]; then
        return 0
    fi
    local packages
    if [ -n "$bindir" ]; then
        packages="postgresql-$version-postgis-3"
    else
        packages="postgresql postgis"
    fi
    if [ "$(id -u)" -ne 0 ]; then
        die "PostGIS is missing. Install it with: sudo apt-get install -y $packages (or set DATABASE_URL)"
    fi
    say "installing $packages from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt_get update -qq
    apt_get install -y -qq $packages >/dev/null
    if [ -z "$bindir" ]; then
        bindir=$(pg_bindir) || die "no PostgreSQL server binaries after installing $packages"
        version=$(basename "$(dirname "$bindir")")
        [ -f "/usr/share/postgresql/$version/extension/postgis.control" ] \
            || apt_get install -y -qq "postgresql-$version-postgis-3" >/dev/null
    fi
}

# apt-get that waits for another apt to finish instead of failing: up to ten minutes for
# dpkg's lock (DPkg::Lock::Timeout), and as long for the package lists' lock, which that option
# does not cover (an `apt-get update` that finds it held stops at once: retried).
apt_get() {
    local output
    for _ in $(seq 60); do
        if output=$(apt-get -o DPkg::Lock::Timeout=600 "$@" 2>&1); then
            [ -n "$output" ] && printf '%s\n' "$output"
            return 0
        fi
        grep -q "Could not get lock" <<<"$output" || break
        sleep 10
    done
    printf '%s\n' "$output" >&2
    return 1
}

# Install Debian packages that are missing (as root), or say which to install and stop.
ensure_debian_packages() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing Debian packages. Install them with: sudo apt-get install -y ${missing[*]}"
    fi
    say "installing ${missing[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt_get update -qq
    # shellcheck disable=SC2086  # APT_OPTIONS: words on purpose
    apt_get install -y -qq ${APT_OPTIONS:-} "${missing[@]}" >/dev/null
}

# Run a PostgreSQL binary as the cluster owner: initdb and postgres refuse to run as root.
as_cluster_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Let the unprivileged cluster owner reach DIR: its ancestors need the execute bit for others.
grant_traverse() {
    local dir=$1
    [ "$(id -u)" -eq 0 ] || return 0
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    while [ "$dir" != "/" ]; do
        dir=$(dirname "$dir")
        if ! runuser -u postgres -- test -x "$dir"; then
            say "granting the postgres user the right to traverse $dir (chmod o+x)"
            chmod o+x "$dir"
        fi
    done
}

# The server builds pages of devices of hundreds of KB; by default glibc would hand that memory
# back to the kernel after each query and fault it in again on the next (about 650 page faults
# per OGC page, a fifth of the server's CPU: docs/performance.md). It keeps up to 256 MB
# instead. Empty: the server gets the environment's own GLIBC_TUNABLES, if any.
PG_GLIBC_TUNABLES=${PG_GLIBC_TUNABLES-glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456}

# A folder for a cluster in DATA, owned by the cluster's owner, which may reach it.
cluster_folder() {
    local data=$1
    mkdir -p "$data"
    grant_traverse "$data"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
    chmod 700 "$data"
}

# Start the server of the cluster in DATA, unless it runs, listening only on DATA/run.
start_server() {
    local data=$1 bindir
    bindir=$(pg_bindir) || die "no PostgreSQL server binaries found"
    if ! as_cluster_owner "$bindir/pg_ctl" -D "$data/pgdata" status >/dev/null 2>&1; then
        as_cluster_owner env ${PG_GLIBC_TUNABLES:+"GLIBC_TUNABLES=$PG_GLIBC_TUNABLES"} \
            "$bindir/pg_ctl" -D "$data/pgdata" -w -s -l "$data/postgres.log" \
            -o "-c listen_addresses='' -c unix_socket_directories='$data/run' -c fsync=${PG_FSYNC:-on} -c shared_buffers=${PG_SHARED_BUFFERS:-128MB}" start \
            || die "the private cluster did not start; see $data/postgres.log"
    fi
}

# Initialise (once) and start a cluster in DATA listening only on a unix socket in DATA/run.
# Prints nothing; the database URL is built by cluster_url.
start_cluster() {
    local data=$1 bindir
    bindir=$(pg_bindir) || die "no PostgreSQL server binaries found"
    cluster_folder "$data"
    if [ ! -f "$data/pgdata/PG_VERSION" ]; then
        say "initialising a private PostgreSQL cluster in ${data#"$PROJECT_DIR"/}"
        as_cluster_owner "$bindir/initdb" -D "$data/pgdata" -U vigie --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        as_cluster_owner mkdir -p "$data/run"
    fi
    start_server "$data"
    as_cluster_owner "$bindir/psql" -h "$data/run" -U vigie -d postgres -qtAc \
        "SELECT 1 FROM pg_database WHERE datname = 'vigie'" | grep -q 1 \
        || as_cluster_owner "$bindir/createdb" -h "$data/run" -U vigie vigie
    as_cluster_owner env PGOPTIONS="-c client_min_messages=warning" \
        "$bindir/psql" -h "$data/run" -U vigie -d vigie -qc \
        "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
}

# Make (once) and start a streaming replica of the cluster in PRIMARY, in DATA: a base backup
# through a replication slot of its own (pg_basebackup -C -S), with the standby settings that
# pg_basebackup -R writes; it serves reads (hot_standby, on by default) on a socket in DATA/run.
start_replica() {
    local primary=$1 data=$2 bindir slot
    bindir=$(pg_bindir) || die "no PostgreSQL server binaries found"
    cluster_folder "$data"
    if [ ! -f "$data/pgdata/PG_VERSION" ]; then
        slot=$(basename "$data" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_\n' '_')
        say "copying the cluster in ${primary#"$PROJECT_DIR"/} to a replica (pg_basebackup)"
        as_cluster_owner "$bindir/pg_basebackup" -h "$primary/run" -U vigie -D "$data/pgdata" \
            -R -X stream -c fast -C -S "replica_$slot" \
            || die "pg_basebackup of ${primary} failed"
        as_cluster_owner mkdir -p "$data/run"
    fi
    start_server "$data"
}

stop_cluster() {
    local data=$1 bindir
    bindir=$(pg_bindir) || return 0
    as_cluster_owner "$bindir/pg_ctl" -D "$data/pgdata" -w -s -m fast stop >/dev/null 2>&1 || true
}

cluster_url() {
    echo "postgresql+psycopg://vigie@/vigie?host=$1/run"
}

# Build the web map (web/dist) with npm and esbuild when its sources changed since the last build.
ensure_web_bundle() {
    local web="$PROJECT_DIR/web" stamp="$PROJECT_DIR/web/dist/index.html"
    if [ -f "$stamp" ] && [ -z "$(find "$web/src" "$web/package-lock.json" "$web/build.mjs" -newer "$stamp" -print -quit)" ]; then
        return 0
    fi
    command -v npm >/dev/null || ensure_debian_packages nodejs npm
    say "building the web map (npm ci, esbuild) into web/dist/"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm run --silent build >/dev/null) \
        || die "building the web map failed (cd web && npm ci && npm run build)"
}
