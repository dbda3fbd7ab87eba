"""Tiles from Varnish in front of two app nodes against tiles from a node, in one run; and what
the purge after each write costs the writer.

Loads the synthetic devices (benchmarks/seed_devices.py) into the `vigie_bench` database of
benchmarks/tiles.py, serves it with two app nodes (gunicorn) sending their purges to a Varnish
in front of them (the VCL of `flask cache vcl`), then:

1. tiles: wrk requests the 3x3 blocks of tiles around the centre of Paris at zooms 10, 14 and 17
   (27 tiles, round-robin) for a bounded time, first straight from one node (every tile
   computed), then through Varnish (every tile kept after the first request);
2. writes: moves one device back and forth (PATCH, one request at a time) through a node that
   purges the cache, through a node without a purge hook, and through one whose cache does
   not answer.

Prints Markdown tables; also writes benchmarks/results/cache.json.

    benchmarks/run.sh cache [--count 1000000] [--seconds 10] [--writes 200]
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks import loadgen
from benchmarks.tiles import (
    ZOOMS,
    percentile,
    prepare_database,
    tiles_around_paris,
)
from service.config import PROJECT_DIR
from tests.server import varnish

FLASK = PROJECT_DIR / ".venv" / "bin" / "flask"
RESULTS = PROJECT_DIR / "benchmarks" / "results" / "cache.json"
NODE_WORKERS = 2  # as benchmarks/tiles.py: a node alone uses both cores of the machine
ROUNDS = 4  # write variants take turns, so that a busy moment does not weigh on one alone
CONNECTIONS = 8
PARIS = (2.3488, 48.8534)
ELSEWHERE = (2.3720, 48.8600)


def request(base: str, path: str, method="GET", body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **(headers or {})}
    with urllib.request.urlopen(
        urllib.request.Request(base + path, data, headers, method=method), timeout=60
    ) as response:
        return response.headers, response.read()


def operator_token(url: str, base: str) -> tuple[str, str]:
    """(name, bearer token) of an administrator created by the operator's command."""
    name, password = f"bench{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    subprocess.run(
        [FLASK, "--app", "wsgi", "users", "create-admin", name, "--password", password],
        env={**os.environ, "DATABASE_URL": url},
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
    )
    _, body = request(base, "/api/v1/auth/tokens", "POST", {"username": name, "password": password})
    return name, json.loads(body)["token"]


def remove_operator(url: str, name: str) -> None:
    """Take the benchmark's account and devices away: the next run finds the table as seeded."""
    engine = create_engine(url)
    with engine.begin() as connection:
        found = {"name": name}
        connection.execute(
            text(
                "DELETE FROM devices "
                "WHERE created_by = (SELECT id FROM users WHERE username = :name)"
            ),
            found,
        )
        connection.execute(text("DELETE FROM users WHERE username = :name"), found)
    engine.dispose()


class Mover:
    """Moves one device of its own back and forth (PATCH), through one node."""

    def __init__(self, base: str, token: str):
        self.base, self.auth, self.times = base, {"Authorization": f"Bearer {token}"}, []
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(PARIS)},
            "properties": {"kind": "camera"},
        }
        headers, body = request(base, "/api/v1/devices?force=true", "POST", feature, self.auth)
        self.device_id, self.etag = json.loads(body)["id"], headers["ETag"]

    def move(self, writes: int) -> None:
        for index in range(writes):
            position = ELSEWHERE if index % 2 == 0 else PARIS
            started = time.perf_counter()
            headers, _ = request(
                self.base,
                # Forced, as the pin was: moved among others, not asked about duplicates.
                f"/api/v1/devices/{self.device_id}?force=true",
                "PATCH",
                {"geometry": {"type": "Point", "coordinates": list(position)}},
                self.auth | {"If-Match": self.etag},
            )
            self.times.append(1000 * (time.perf_counter() - started))
            self.etag = headers["ETag"]

    def figures(self) -> dict:
        return {
            "p50_ms": statistics.median(self.times),
            "p95_ms": percentile(self.times, 0.95),
            "writes": len(self.times),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10, help="of each wrk run")
    parser.add_argument("--writes", type=int, default=200, help="PATCH requests per variant")
    args = parser.parse_args()

    url = prepare_database(args.count)
    paths = [
        f"/tiles/devices/{z}/{x}/{y}.mvt" for zoom in ZOOMS for z, x, y in tiles_around_paris(zoom)
    ]
    cache_port = loadgen.free_port()
    quiet = {"DATABASE_URL": url, **loadgen.UNLIMITED}
    purging = quiet | {"CACHE_PURGE_URL": f"http://127.0.0.1:{cache_port}/"}
    down = quiet | {"CACHE_PURGE_URL": f"http://127.0.0.1:{loadgen.free_port()}/"}
    report = {"count": args.count, "tiles": len(paths), "connections": CONNECTIONS}
    with (
        tempfile.TemporaryDirectory() as tmp,
        loadgen.gunicorn("wsgi:app", NODE_WORKERS, purging) as node1,
        loadgen.gunicorn("wsgi:app", NODE_WORKERS, purging) as node2,
        varnish(Path(tmp), cache_port, [node1[len("http://") :], node2[len("http://") :]]),
    ):
        cache = f"http://127.0.0.1:{cache_port}"
        print("tiles from a node, then from the cache...", file=sys.stderr)
        report["uncached"] = loadgen.wrk(node1, paths, args.seconds, CONNECTIONS)
        report["cached"] = loadgen.wrk(cache, paths, args.seconds, CONNECTIONS)
        print("writes...", file=sys.stderr)
        name, token = operator_token(url, node1)
        with (
            loadgen.gunicorn("wsgi:app", NODE_WORKERS, quiet) as without,
            loadgen.gunicorn("wsgi:app", NODE_WORKERS, down) as unreachable,
        ):
            movers = {
                "writes_without_purge": Mover(without, token),
                "writes_purging": Mover(node1, token),
                "writes_cache_down": Mover(unreachable, token),
            }
            for _ in range(ROUNDS):
                for mover in movers.values():
                    mover.move(args.writes // ROUNDS)
        report |= {variant: mover.figures() for variant, mover in movers.items()}
    remove_operator(url, name)

    loadgen.save_results(RESULTS, report)
    print(
        f"| tiles (zooms {', '.join(map(str, ZOOMS))}, 3x3 each) "
        "| tiles/s | p50 ms | p95 ms | errors |"
    )
    print("|---|---|---|---|---|")
    for name in ("uncached", "cached"):
        row = report[name]
        print(
            f"| {name} | {row['rps']:.0f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
            f"{row['errors']} |"
        )
    print("\n| PATCH of a device | p50 ms | p95 ms |\n|---|---|---|")
    for name in movers:
        row = report[name]
        print(f"| {name} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} |")
    print(f"results written to {RESULTS.relative_to(PROJECT_DIR)}", file=sys.stderr)


if __name__ == "__main__":
    main()
