"""Vector tiles over central Paris with 1,000,000 devices: Vigie against tipg, in one run.

Loads the synthetic devices (benchmarks/seed_devices.py) into a `vigie_bench` database (plus a
non-partial GiST index that tipg can use), serves it with Vigie (gunicorn) and with tipg
(uvicorn, installed from PyPI into a throwaway virtual environment under var/), then for each
server and zoom (10, 14, 17) times every tile of a 3x3 block around the centre of Paris, one
request at a time, and measures throughput at zoom 14 with concurrent clients for a bounded
time. Prints a Markdown table; also writes JSON to benchmarks/results/.

    benchmarks/run.sh tiles [--count 1000000] [--rounds 10] [--seconds 10]

(run.sh starts a private PostGIS under var/bench-pg; the script alone uses DATABASE_URL's.)
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.seed_devices import device_count, seed
from service import migrate
from service.config import PROJECT_DIR

PARIS = (2.3488, 48.8534)  # the centre of the Paris cluster of seed_devices
ZOOMS = (10, 14, 17)
THROUGHPUT_ZOOM = 14
CLIENTS = 4
WORKERS = 2
BENCH_DB = "vigie_bench"
TIPG_VENV = PROJECT_DIR / "var" / "benchmarks" / "tipg-venv"
RESULTS = PROJECT_DIR / "benchmarks" / "results"
PEER_INDEX = "CREATE INDEX IF NOT EXISTS devices_geom_any_idx ON devices USING gist (geom)"


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tiles_around_paris(z):
    """The tile holding the centre of Paris and its eight neighbours."""
    x, y = tile_of(*PARIS, z)
    return [(z, x + dx, y + dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


def server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("set DATABASE_URL, or run `benchmarks/run.sh tiles` (a private PostGIS)")
    return url


def prepare_database(count: int) -> str:
    """The benchmark database, migrated and holding COUNT devices (loaded only when needed)."""
    base = make_url(server_url())
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": BENCH_DB}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    url = base.set(database=BENCH_DB).render_as_string(hide_password=False)
    migrate.upgrade(url)
    if device_count(url) != count:
        print(f"loading {count} devices...", file=sys.stderr)
        seed(url, count)
    # Vigie's GiST index is partial (live devices only), which tipg's queries cannot use:
    # give tipg a plain one so that it is measured at its best, not on sequential scans.
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(PEER_INDEX))
        conn.execute(text("ANALYZE devices"))
    engine.dispose()
    return url


def asyncpg_url(url: str) -> str:
    """The same database as a postgresql:// URL that tipg accepts (a socket folder as host)."""
    parsed = make_url(url)
    socket_dir = parsed.query.get("host")
    host = quote(socket_dir, safe="") if socket_dir else f"{parsed.host}:{parsed.port or 5432}"
    password = f":{quote(parsed.password, safe='')}" if parsed.password else ""
    return f"postgresql://{parsed.username}{password}@{host}/{parsed.database}"


def ensure_tipg() -> Path:
    python = TIPG_VENV / "bin" / "python"
    if not python.exists():
        print("installing tipg into a throwaway virtual environment...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "tipg", "uvicorn"], check=True
        )
    return TIPG_VENV / "bin"


def start(command, env, port, ready_path):
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=30):
                return process
        except OSError:  # not listening yet, or still booting its workers
            time.sleep(0.5)
    process.terminate()
    process.wait(timeout=30)
    raise RuntimeError(f"{command[0]} did not answer on port {port}")


def fetch(url: str) -> tuple[float, int]:
    """Seconds and body bytes of one uncompressed, uncached request."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        size = len(response.read())
    return time.perf_counter() - started, size


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def latencies(tile_url, rounds: int) -> dict:
    results = {}
    for z in ZOOMS:
        tiles = tiles_around_paris(z)
        for tile in tiles:  # warm the caches once
            fetch(tile_url(*tile))
        times, sizes = [], []
        for _ in range(rounds):
            for tile in tiles:
                seconds, size = fetch(tile_url(*tile))
                times.append(seconds * 1000)
                sizes.append(size)
        results[z] = {
            "p50_ms": statistics.median(times),
            "p95_ms": percentile(times, 0.95),
            "mean_kb": statistics.mean(sizes) / 1024,
            "max_kb": max(sizes) / 1024,
            "requests": len(times),
        }
    return results


def throughput(tile_url, seconds: float) -> float:
    """Tiles per second at THROUGHPUT_ZOOM with CLIENTS concurrent clients for SECONDS."""
    tiles = tiles_around_paris(THROUGHPUT_ZOOM)
    done = [0] * CLIENTS
    stop = time.monotonic() + seconds

    def client(index):
        i = index
        while time.monotonic() < stop:
            fetch(tile_url(*tiles[i % len(tiles)]))
            done[index] += 1
            i += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=10, help="passes over each 3x3 block")
    parser.add_argument("--seconds", type=float, default=10, help="of the throughput test")
    parser.add_argument("--vigie-port", type=int, default=5081)
    parser.add_argument("--tipg-port", type=int, default=5082)
    args = parser.parse_args()

    url = prepare_database(args.count)
    tipg_bin = ensure_tipg()
    vigie_port, tipg_port = args.vigie_port, args.tipg_port
    servers = {
        "Vigie": (
            [
                str(PROJECT_DIR / ".venv" / "bin" / "gunicorn"),
                "--bind",
                f"127.0.0.1:{vigie_port}",
                "--workers",
                str(WORKERS),
                "wsgi:app",
            ],
            {"DATABASE_URL": url},
            vigie_port,
            "/api/v1/health",
            lambda z, x, y: f"http://127.0.0.1:{vigie_port}/tiles/devices/{z}/{x}/{y}.mvt",
        ),
        "tipg": (
            [
                str(tipg_bin / "uvicorn"),
                "tipg.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(tipg_port),
                "--workers",
                str(WORKERS),
                "--no-access-log",
            ],
            {"DATABASE_URL": asyncpg_url(url), "TIPG_DB_TABLES": '["public.devices"]'},
            tipg_port,
            "/collections",
            lambda z, x, y: (
                f"http://127.0.0.1:{tipg_port}/collections/public.devices/tiles/"
                f"WebMercatorQuad/{z}/{x}/{y}"
            ),
        ),
    }
    report = {"count": args.count, "rounds": args.rounds, "clients": CLIENTS, "servers": {}}
    for name, (command, env, port, ready, tile_url) in servers.items():
        process = start(command, env, port, ready)
        try:
            print(f"measuring {name}...", file=sys.stderr)
            report["servers"][name] = {
                "latency": latencies(tile_url, args.rounds),
                "throughput_z14": throughput(tile_url, args.seconds),
            }
        finally:
            process.terminate()
            process.wait(timeout=30)

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"tiles-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"| server | zoom | p50 ms | p95 ms | mean KB | max KB | tiles/s at z{THROUGHPUT_ZOOM} |")
    print("|---|---|---|---|---|---|---|")
    for name, result in report["servers"].items():
        for z, row in result["latency"].items():
            print(
                f"| {name} | {z} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
                f"{row['mean_kb']:.1f} | {row['max_kb']:.1f} | "
                f"{result['throughput_z14']:.1f} |"
            )
    print(f"results written to {out.relative_to(PROJECT_DIR)}", file=sys.stderr)


if __name__ == "__main__":
    main()
