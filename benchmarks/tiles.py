"""Vector tiles over central Paris with 1,000,000 devices: Vigie against tipg, in one run.

Loads the synthetic devices (benchmarks/seed_devices.py) into a `vigie_bench` database (plus a
non-partial GiST index that tipg can use), serves it with Vigie (gunicorn, rate limits off)
and with tipg (uvicorn, installed from PyPI into a throwaway virtual environment under
var/bench-peers/), then for each server and zoom (10, 14, 17) times every tile of a 3x3 block
around the centre of Paris, one request at a time, and measures throughput at zoom 14 with
concurrent clients for a bounded time. Prints a Markdown table; also writes
benchmarks/results/tiles.json.

    benchmarks/run.sh tiles [--count 1000000] [--rounds 10] [--seconds 10]

(run.sh starts a private PostGIS under var/bench-pg; the script alone uses DATABASE_URL's.)
"""

import argparse
import math
import os
import statistics
import sys
import threading
import time
import urllib.request

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks import loadgen
from benchmarks.ogc import tipg_server
from benchmarks.seed_devices import device_count, seed
from service import migrate
from service.config import PROJECT_DIR

PARIS = (2.3488, 48.8534)  # the centre of the Paris cluster of seed_devices
ZOOMS = (10, 14, 17)
THROUGHPUT_ZOOM = 14
CLIENTS = 4
WORKERS = 2
BENCH_DB = "vigie_bench"
RESULTS = PROJECT_DIR / "benchmarks" / "results" / "tiles.json"
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
        # Index-only scans need the visibility map current (a migration may have rewritten rows).
        conn.execute(text("VACUUM ANALYZE devices"))
    engine.dispose()
    return url


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
    args = parser.parse_args()

    url = prepare_database(args.count)
    report = {"count": args.count, "rounds": args.rounds, "clients": CLIENTS, "servers": {}}
    servers = {
        "Vigie": (
            lambda: loadgen.gunicorn(
                "wsgi:app", WORKERS, {"DATABASE_URL": url, **loadgen.UNLIMITED}
            ),
            "/tiles/devices/{z}/{x}/{y}.mvt",
        ),
        "tipg": (
            lambda: tipg_server(url, WORKERS),
            "/collections/public.devices/tiles/WebMercatorQuad/{z}/{x}/{y}",
        ),
    }
    for name, (server, path) in servers.items():
        with server() as base:
            print(f"measuring {name}...", file=sys.stderr)

            def tile_url(z, x, y, base=base, path=path):
                return base + path.format(z=z, x=x, y=y)

            report["servers"][name] = {
                "latency": latencies(tile_url, args.rounds),
                "throughput_z14": throughput(tile_url, args.seconds),
            }

    loadgen.save_results(RESULTS, report)
    print(f"| server | zoom | p50 ms | p95 ms | mean KB | max KB | tiles/s at z{THROUGHPUT_ZOOM} |")
    print("|---|---|---|---|---|---|---|")
    for name, result in report["servers"].items():
        for z, row in result["latency"].items():
            print(
                f"| {name} | {z} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
                f"{row['mean_kb']:.1f} | {row['max_kb']:.1f} | "
                f"{result['throughput_z14']:.1f} |"
            )
    print(f"results written to {RESULTS.relative_to(PROJECT_DIR)}", file=sys.stderr)


if __name__ == "__main__":
    main()
