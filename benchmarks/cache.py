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

from benchmarks import loadgen
from benchmarks.tiles import (
    THROUGHPUT_ZOOM,
    ZOOMS,
    percentile,
    prepare_database,
    tiles_around_paris,
)
from service.config import PROJECT_DIR
from tests.server import varnish

FLASK = PROJECT_DIR / ".venv" / "bin" / "flask"
RESULTS = PROJECT_DIR / "benchmarks" / "results" / "cache.json"
NODE_WORKERS = 1  # two nodes of one worker each: the machine has two cores
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


def operator_token(url: str, base: str) -> str:
    """A bearer token of an administrator created by the operator's command."""
    name, password = f"bench{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    subprocess.run(
        [FLASK, "--app", "wsgi", "users", "create-admin", name, "--password", password],
        env={**os.environ, "DATABASE_URL": url},
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
    )
    _, body = request(base, "/api/v1/auth/tokens", "POST", {"username": name, "password": password})
    return json.loads(body)["token"]


def write_latencies(base: str, token: str, writes: int) -> dict:
    """Milliseconds of PATCH requests moving one device between two places."""
    auth = {"Authorization": f"Bearer {token}"}
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(PARIS)}}
    headers, created = request(
        base, "/api/v1/devices?force=true", "POST", body | {"properties": {"kind": "camera"}}, auth
    )
    device_id, etag = json.loads(created)["id"], headers["ETag"]
    times = []
    for index in range(writes):
        position = ELSEWHERE if index % 2 == 0 else PARIS
        started = time.perf_counter()
        headers, _ = request(
            base,
            f"/api/v1/devices/{device_id}",
            "PATCH",
            {"geometry": {"type": "Point", "coordinates": list(position)}},
            auth | {"If-Match": etag},
        )
        times.append(1000 * (time.perf_counter() - started))
        etag = headers["ETag"]
    return {"p50_ms": statistics.median(times), "p95_ms": percentile(times, 0.95)}


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
    purging = {"DATABASE_URL": url, **loadgen.UNLIMITED}
    purging["CACHE_PURGE_URL"] = f"http://127.0.0.1:{cache_port}/"
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
        token = operator_token(url, node1)
        report["writes_purging"] = write_latencies(node1, token, args.writes)
    quiet = {"DATABASE_URL": url, **loadgen.UNLIMITED}
    with loadgen.gunicorn("wsgi:app", NODE_WORKERS, quiet) as node:
        report["writes_without_purge"] = write_latencies(node, token, args.writes)
    down = quiet | {"CACHE_PURGE_URL": f"http://127.0.0.1:{loadgen.free_port()}/"}
    with loadgen.gunicorn("wsgi:app", NODE_WORKERS, down) as node:
        report["writes_cache_down"] = write_latencies(node, token, args.writes)

    loadgen.save_results(RESULTS, report)
    print(
        f"| tiles (zooms {', '.join(map(str, ZOOMS))}; z{THROUGHPUT_ZOOM} block included) "
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
    for name in ("writes_without_purge", "writes_purging", "writes_cache_down"):
        row = report[name]
        print(f"| {name} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} |")
    print(f"results written to {RESULTS.relative_to(PROJECT_DIR)}", file=sys.stderr)


if __name__ == "__main__":
    main()
