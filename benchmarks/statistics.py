"""Issue-5 benchmark: district statistics with 1,000,000 devices and every French commune.

Loads (once) the communes and Paris arrondissements from GEODATA_DIR and N synthetic devices
(benchmarks/seed_devices.py), then times whole requests through the application (validation,
cache lookup, SQL, response) for each scenario:
- cold: the statistics cache emptied first, so the figures are computed from the devices;
- warm: the same request again, served from the cache while no device changed;
- after a change: the first request after a device changed, answered with the previous figures
  (X-Cache: stale) while a background thread computes the new ones.

    benchmarks/run.sh statistics [--count 1000000] [--repeat 3]
"""

import argparse
import os
import statistics
import time

from sqlalchemy import text

from benchmarks import loadgen
from benchmarks.seed_devices import device_count, seed
from geodata import catalogue
from geodata.importer import import_districts, source_options
from service import create_app
from service.api.statistics.cache import refreshes_running
from service.config import PROJECT_DIR, Config

RESULTS = PROJECT_DIR / "benchmarks" / "results" / "statistics.json"
PARIS_BBOX = "2.224,48.815,2.470,48.902"
SCENARIOS = (
    (
        "Paris: 20 arrondissements (JSON)",
        "/api/v1/stats/districts?level=arrondissement&parent=75056",
    ),
    ("Bouches-du-Rhone: 119 communes (JSON)", "/api/v1/stats/districts?level=commune&parent=13"),
    ("Rhone: communes (CSV)", "/api/v1/stats/districts?level=commune&parent=69&f=csv"),
    ("France: all communes (CSV)", "/api/v1/stats/districts?level=commune&f=csv"),
    ("Paris: 250 m hexagon grid (GeoJSON)", f"/api/v1/stats/grid?bbox={PARIS_BBOX}&cell=250"),
)
DATASETS = ("france-communes", "paris-arrondissements")


def ensure_districts(app) -> None:
    engine = app.extensions["engine"]
    for name in DATASETS:
        with engine.connect() as connection:
            loaded = connection.execute(
                text("SELECT 1 FROM districts WHERE dataset = :n LIMIT 1"), {"n": name}
            ).first()
        if loaded:
            continue
        source = catalogue.local_source(name, app.config["GEODATA_DIR"])
        if source is None:
            raise SystemExit(f"{name} is not in GEODATA_DIR ({app.config['GEODATA_DIR']})")
        print(f"importing {name}")
        with engine.begin() as connection:
            import_districts(connection, source.location, **source_options(source))
    with engine.begin() as connection:
        connection.execute(text("ANALYZE districts"))


def timed(client, url: str) -> tuple[float, object]:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return elapsed * 1000, response


def touch_a_device(engine) -> None:
    """A change to the map: every cached figure becomes outdated."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE devices SET updated_at = now() WHERE id = (SELECT id FROM devices LIMIT 1)"
            )
        )


def wait_for_refreshes(timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while refreshes_running() and time.monotonic() < deadline:
        time.sleep(0.05)


def measure(app, url: str, repeat: int) -> dict:
    """Cold (cache emptied), warm (cached), and stale (just after a change to the map: the
    previous figures while the new ones are computed in the background)."""
    client = app.test_client()
    engine = app.extensions["engine"]
    cold, warm, stale, size = [], [], [], 0
    for _ in range(repeat):
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM statistics_cache"))
        elapsed, response = timed(client, url)
        cold.append(elapsed)
        size = len(response.data)
        for _ in range(3):
            elapsed, response = timed(client, url)
            assert response.headers["X-Cache"] == "hit"
            warm.append(elapsed)
        touch_a_device(engine)
        elapsed, response = timed(client, url)
        assert response.headers["X-Cache"] == "stale"
        stale.append(elapsed)
        wait_for_refreshes()
    return {
        "cold_ms": round(statistics.median(cold)),
        "cold_max_ms": round(max(cold)),
        "warm_ms": round(statistics.median(warm), 1),
        "stale_ms": round(statistics.median(stale), 1),
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    app = create_app(Config(STATS_MAX_AGE_SECONDS=0))
    ensure_districts(app)
    url = os.environ["DATABASE_URL"]
    if device_count(url) != args.count:
        print(f"seeding {args.count} devices")
        seed(url, args.count)
    results = {"devices": args.count, "load_average_before": os.getloadavg(), "scenarios": {}}
    print(
        "| Scenario | cold median (max) | warm median | after a change | size |\n"
        "|---|---|---|---|---|"
    )
    for name, path in SCENARIOS:
        figures = measure(app, path, args.repeat)
        results["scenarios"][name] = {"url": path, **figures}
        print(
            f"| {name} | {figures['cold_ms']} ms ({figures['cold_max_ms']} ms) | "
            f"{figures['warm_ms']} ms | {figures['stale_ms']} ms | "
            f"{figures['bytes'] / 1e6:.2f} MB |"
        )
    results["load_average_after"] = os.getloadavg()
    loadgen.save_results(RESULTS, results)
    print(
        f"load average before/after: {results['load_average_before']} / "
        f"{results['load_average_after']}; results in {RESULTS.relative_to(PROJECT_DIR)}"
    )


if __name__ == "__main__":
    main()
