"""The contributor app's first view against the read-only map it replaced, in one run.

Builds the old map from git history (`git show REF:web/...`, bundled with the same esbuild into
a temporary folder) and serves both from one Vigie process over the same database of synthetic
devices (benchmarks/seed_devices.py): the app as Vigie serves it at /, the old map's files in
its place on a second port. Then, in Debian's Chromium under Chrome's "Fast 3G" profile
(562.5 ms latency, 180 KB/s down, 84.375 KB/s up) and a 4x CPU slowdown, times each page from
navigation until the map shows devices (markers or clusters), and counts the bytes that crossed
the network by then (compressed, as sent). A repeat visit follows in the same browser profile:
the old map from the HTTP cache, the app from its service worker. Prints a Markdown table; also
writes benchmarks/results/webapp.json.

    DATABASE_URL=... .venv/bin/python -m benchmarks.webapp [--rounds 3] [--count 100000]

(`benchmarks/run.sh webapp` starts a private PostGIS under var/bench-pg first.)
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.serving import make_server

from benchmarks.seed_devices import device_count, seed
from service import create_app, migrate
from service.config import PROJECT_DIR, Config
from tests.basemaps import write_pmtiles
from tests.test_web import CHROMIUM, CHROMIUM_ARGS

BENCH_DB = "vigie_bench_web"
RESULTS = PROJECT_DIR / "benchmarks" / "results" / "webapp.json"
OLD_MAP_FILES = (
    "web/build.mjs",
    "web/package.json",
    "web/src/index.html",
    "web/src/map.js",
    "web/src/map.css",
)
PLACE = "#16/48.8566/2.3522"
DEVICES_SHOWN = ".leaflet-marker-icon .pin, .leaflet-marker-icon .cluster"
FAST_3G = {
    "offline": False,
    "latency": 562.5,
    "downloadThroughput": 180 * 1024,
    "uploadThroughput": 84.375 * 1024,
}
CPU_SLOWDOWN = 4
# Resource types (CDP) that are the page's code rather than its data (devices, basemap).
CODE = {"Document", "Script", "Stylesheet", "Manifest"}
PHONE = {"viewport": {"width": 390, "height": 800}, "is_mobile": True, "has_touch": True}


def prepare_database(count: int) -> str:
    base = make_url(os.environ.get("DATABASE_URL") or sys.exit("set DATABASE_URL"))
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": BENCH_DB}
        ).first():
            conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    url = base.set(database=BENCH_DB).render_as_string(hide_password=False)
    migrate.upgrade(url)
    if device_count(url) != count:
        seed(url, count)
    return url


def build_old_map(ref: str, folder: Path) -> Path:
    """The read-only map as REF had it, bundled by its own build script."""
    for name in OLD_MAP_FILES:
        source = subprocess.run(
            ["git", "show", f"{ref}:{name}"], cwd=PROJECT_DIR, check=True, capture_output=True
        ).stdout
        target = folder / Path(name).relative_to("web")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source)
    # Its dependencies (leaflet, esbuild) are the app's too.
    (folder / "node_modules").symlink_to(PROJECT_DIR / "web" / "node_modules")
    subprocess.run(["node", "build.mjs"], cwd=folder, check=True, capture_output=True)
    return folder / "dist"


def basemap_archive(folder: Path) -> str:
    """A PMTiles basemap of Paris's arrondissements (a rectangle without the data folder)."""
    boundaries = Path(Config().GEODATA_DIR) / "paris-arrondissements.geojson"
    if boundaries.is_file():
        geometries = [f["geometry"] for f in json.loads(boundaries.read_text())["features"]]
    else:
        geometries = [
            {
                "type": "Polygon",
                "coordinates": [
                    [[2.22, 48.81], [2.47, 48.81], [2.47, 48.91], [2.22, 48.91], [2.22, 48.81]]
                ],
            }
        ]
    return write_pmtiles(folder / "paris.pmtiles", geometries, min_zoom=10, max_zoom=16)


def serve(wsgi_app) -> tuple[str, object]:
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def old_map_app(vigie, dist: Path):
    """Vigie's API, with the old map's page and bundles where the app's are."""
    files = SharedDataMiddleware(vigie.wsgi_app, {"/map": str(dist)})

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/":
            environ["PATH_INFO"] = "/map/index.html"
        return files(environ, start_response)

    return app


def visit(context, url: str) -> dict:
    """Seconds until the map shows devices, and the bytes received by then (compressed)."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", FAST_3G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    received = {"bytes": 0, "code": 0, "requests": 0}
    kinds = {}
    cdp.on(
        "Network.responseReceived", lambda event: kinds.update({event["requestId"]: event["type"]})
    )

    def finished(event):
        received["bytes"] += event["encodedDataLength"]
        received["requests"] += 1
        if kinds.get(event["requestId"]) in CODE:
            received["code"] += event["encodedDataLength"]

    cdp.on("Network.loadingFinished", finished)
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(DEVICES_SHOWN, timeout=120_000)
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "kb": received["bytes"] / 1024,
        "code_kb": received["code"] / 1024,
        "requests": received["requests"],
    }
    page.close()
    return result


def wait_for_service_worker(context, url: str) -> None:
    page = context.new_page()
    page.goto(url)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.close()


def measure(browser, url: str, rounds: int, service_worker: bool) -> dict:
    first, repeat = [], []
    for _ in range(rounds):
        context = browser.new_context(**PHONE)
        first.append(visit(context, url))
        if service_worker:
            wait_for_service_worker(context, url)
        repeat.append(visit(context, url))
        context.close()

    def median(runs, key):
        return statistics.median(run[key] for run in runs)

    return {
        visit_kind: {key: median(runs, key) for key in ("seconds", "kb", "code_kb", "requests")}
        for visit_kind, runs in (("first", first), ("repeat", repeat))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--old-ref", default="main", help="git revision of the old map")
    args = parser.parse_args()
    url = prepare_database(args.count)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "old").mkdir()
        old_dist = build_old_map(args.old_ref, folder / "old")
        vigie = create_app(
            Config(
                DATABASE_URL=url, RATELIMIT_ENABLED=False, BASEMAP_PMTILES=basemap_archive(folder)
            )
        )
        app_url, app_server = serve(vigie)
        old_url, old_server = serve(old_map_app(vigie, old_dist))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            results = {
                "old map": measure(browser, f"{old_url}/{PLACE}", args.rounds, False),
                "contributor app": measure(browser, f"{app_url}/{PLACE}", args.rounds, True),
            }
            browser.close()
        app_server.shutdown()
        old_server.shutdown()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"Fast 3G, CPU x{CPU_SLOWDOWN}, {args.count} devices, median of {args.rounds} rounds\n")
    print("| page | visit | devices shown after | KB received | of which code | requests |")
    print("|---|---|---|---|---|---|")
    for page, visits in results.items():
        for kind, figures in visits.items():
            print(
                f"| {page} | {kind} | {figures['seconds']:.2f} s | {figures['kb']:.0f} | "
                f"{figures['code_kb']:.0f} | {figures['requests']:.0f} |"
            )


if __name__ == "__main__":
    main()
