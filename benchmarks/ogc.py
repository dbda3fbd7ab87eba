"""OGC API Features items in pages of 1000: Vigie, pygeoapi and tipg on the same table, one run.

Each server reads the same PostGIS `devices` table through the same unix socket, with as many
worker processes as cores; benchmarks/thin_app.py (the same SQL behind a bare Flask) shows
what the framework around it costs. Servers take turns, for several rounds. pygeoapi and tipg
are installed from PyPI into throwaway virtual environments under var/bench-peers/ on the
first run.

    benchmarks/run.sh ogc [--duration 10] [--rounds 3] [--count 1000000] [--connections 4]
"""

import argparse
import json
import os
import random
import subprocess
import sys
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from benchmarks import loadgen
from benchmarks.devices import random_bboxes
from benchmarks.seed_devices import device_count, seed
from service.config import PROJECT_DIR
from service.geo.devices.features import PUBLIC_PROPERTIES

PEERS_DIR = PROJECT_DIR / "var" / "bench-peers"
PEER_PACKAGES = {
    "pygeoapi": ["pygeoapi==0.21.0", "geoalchemy2", "psycopg2-binary", "gunicorn"],
    "tipg": ["tipg==1.6.1", "uvicorn"],
}
PAGE = 1000
WALKED_PAGES = 100
# The peers take seconds per page when the machine is busy: wait for them rather than count
# their slow pages as errors.
PEER_TIMEOUT = 30
RESULTS = PROJECT_DIR / "benchmarks" / "results" / "ogc.json"

# The peers serve the properties Vigie serves, not every column of the table (internal ones
# such as the stored Feature text would double their pages).
PYGEOAPI_CONFIG = """
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: {page}, max_items: 10000}}
  map: {{url: "https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png", attribution: OSM}}
logging: {{level: ERROR}}
metadata:
  identification:
    {{title: bench, description: bench, keywords: [bench], url: "http://x", terms_of_service: "http://x"}}
  license: {{name: ODbL, url: "http://x"}}
  provider: {{name: bench, url: "http://x"}}
  contact: {{name: bench}}
resources:
  devices:
    type: collection
    title: devices
    description: devices
    keywords: [devices]
    extents:
      spatial: {{bbox: [-180, -90, 180, 90], crs: "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: "{socket_dir}", dbname: {dbname}, user: {user}, search_path: [public]}}
        id_field: id
        table: devices
        geom_field: geom
        properties: [{properties}]
"""


def peer_bindir(name: str) -> Path:
    """The bin folder of a virtual environment holding the peer, made on first use."""
    venv = PEERS_DIR / name
    stamp = venv / ".installed"
    if not stamp.exists():
        print(f"installing {name} from PyPI into {venv.relative_to(PROJECT_DIR)}...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", *PEER_PACKAGES[name]], check=True
        )
        stamp.touch()
    return venv / "bin"


@contextmanager
def pygeoapi_server(database_url: str, workers: int, tmp: Path):
    bindir = peer_bindir("pygeoapi")
    url = make_url(database_url)
    port = loadgen.free_port()
    config = tmp / "pygeoapi.yml"
    config.write_text(
        PYGEOAPI_CONFIG.format(
            port=port,
            page=PAGE,
            socket_dir=url.query["host"],
            dbname=url.database,
            user=url.username,
            properties=", ".join(PUBLIC_PROPERTIES),
        )
    )
    openapi = tmp / "pygeoapi-openapi.yml"
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run(
        [str(bindir / "pygeoapi"), "openapi", "generate", str(config), "--output-file", openapi],
        check=True,
        env={**os.environ, **env},
        capture_output=True,
    )
    command = [
        str(bindir / "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "pygeoapi.flask_app:APP",
    ]
    with loadgen.serve(command, port, env) as base:
        yield base


@contextmanager
def tipg_server(database_url: str, workers: int):
    bindir = peer_bindir("tipg")
    url = make_url(database_url)
    # asyncpg reads a unix-socket folder from a percent-encoded host.
    host = urllib.parse.quote(url.query["host"], safe="")
    port = loadgen.free_port()
    env = {
        "DATABASE_URL": f"postgresql://{url.username}@{host}/{url.database}",
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.devices"]',
        "TIPG_DB_DATETIME_EXTENT": "false",
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
        "TIPG_TABLE_CONFIG__public_devices__properties": json.dumps(list(PUBLIC_PROPERTIES)),
    }
    command = [
        str(bindir / "uvicorn"),
        "tipg.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    with loadgen.serve(command, port, env) as base:
        yield base


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=120) as response:
        return json.load(response)


def walk(base: str, first: str, pages: int) -> list[str]:
    """Paths of the first PAGES pages, following each `next` link as a client does."""
    paths, url = [], base + first
    while url and len(paths) < pages:
        paths.append(url.removeprefix(base))
        body = get_json(url)
        assert len(body["features"]) == PAGE, (url, len(body["features"]))
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return paths


def check_page(base: str, path: str) -> None:
    """A sanity check before timing: the server answers a full page of Features."""
    body = get_json(base + path)
    assert body["type"] == "FeatureCollection" and len(body["features"]) == PAGE, base + path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each server")
    parser.add_argument("--count", type=int, default=1_000_000, help="devices in the table")
    parser.add_argument("--connections", type=int, default=4, help="concurrent HTTP clients")
    args = parser.parse_args()
    database_url = os.environ["DATABASE_URL"]
    workers = os.cpu_count() or 2
    if device_count(database_url) != args.count:
        print(f"loading {args.count} devices...", flush=True)
        print(f"loaded in {seed(database_url, args.count):.0f} s", flush=True)
    boxes = [",".join(map(str, box)) for box in random_bboxes(200, random.Random(11))]
    collections = {
        "vigie": "/ogc/collections/devices/items",
        "pygeoapi": "/collections/devices/items",
        "tipg": "/collections/public.devices/items",
    }
    # pygeoapi answers HTML to clients that do not ask for JSON.
    suffix = {"vigie": "", "pygeoapi": "&f=json", "tipg": "&f=geojson"}
    bbox_scenario, walk_scenario = "bbox page of 1000 (1 km2, central Paris)", "walk 100 pages"
    tmp = PEERS_DIR / "run"
    tmp.mkdir(parents=True, exist_ok=True)
    with (
        loadgen.gunicorn("wsgi:app", workers, loadgen.UNLIMITED) as vigie,
        loadgen.gunicorn("benchmarks.thin_app:app", workers) as thin,
        pygeoapi_server(database_url, workers, tmp) as pygeoapi,
        tipg_server(database_url, workers) as tipg,
    ):
        jobs = []  # (scenario, server, base URL, paths)
        for name, base in {"vigie": vigie, "pygeoapi": pygeoapi, "tipg": tipg}.items():
            items = collections[name]
            bbox_paths = [f"{items}?bbox={box}&limit={PAGE}{suffix[name]}" for box in boxes]
            check_page(base, bbox_paths[0])
            walked = walk(base, f"{items}?limit={PAGE}{suffix[name]}", WALKED_PAGES)
            jobs += [(bbox_scenario, name, base, bbox_paths), (walk_scenario, name, base, walked)]
        # Vigie's page statement behind a bare Flask: what the framework around it costs.
        thin_paths = [f"/ogc-items?bbox={box}&limit={PAGE}" for box in boxes]
        check_page(thin, thin_paths[0])
        jobs.append((bbox_scenario, "thin-flask", thin, thin_paths))
        # Servers take turns, round after round: a machine whose speed drifts (a shared
        # virtual machine) then weighs on all of them alike, and each round gives a ratio.
        rounds: list[dict] = []
        for number in range(1, args.rounds + 1):
            measured: dict = {bbox_scenario: {}, walk_scenario: {}}
            for scenario, name, base, paths in jobs:
                print(f"round {number}: {name}, {scenario}...", flush=True)
                measured[scenario][name] = loadgen.wrk(
                    base, paths, args.duration, args.connections, timeout=PEER_TIMEOUT
                )
            rounds.append(measured)
    results = loadgen.summarize(rounds)
    loadgen.save_results(
        RESULTS, {"args": vars(args), "workers": workers, "results": results, "rounds": rounds}
    )
    print(report(results))


def report(results: dict) -> str:
    lines = [
        "| scenario | server | pages/s | p50 ms | p95 ms | KB/page | errors "
        "| vigie / server (mean; per round) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario, servers in results.items():
        for name, r in servers.items():
            shown = ""
            if name in ("pygeoapi", "tipg"):
                per_round = ", ".join(f"{ratio:.1f}" for ratio in r["vigie_ratios"])
                shown = f"{servers['vigie']['rps'] / r['rps']:.1f}x; {per_round}"
            lines.append(
                f"| {scenario} | {name} | {r['rps']:.1f} | {r['p50_ms']:.1f} | "
                f"{r['p95_ms']:.1f} | {r['bytes_per_request'] / 1024:.0f} | {r['errors']} | "
                f"{shown} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
