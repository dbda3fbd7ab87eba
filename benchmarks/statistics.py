"""District statistics with 1,000,000 devices and every French commune, side by side in one run.

Loads (once) the communes and Paris arrondissements from GEODATA_DIR and N synthetic devices
(benchmarks/seed_devices.py), then for each scenario:
- from scratch: the statement that joins devices with the districts' polygons (what every
  uncached answer cost before the counts of migration 0013), or places every device of the
  box in its hexagon (the grid before the counts of migration 0018), timed in PostgreSQL;
- cached: the whole request answered from the statistics cache (X-Cache: hit);
- no cache: the whole request computed now from the counts, by an application whose cache
  is off (STATS_CACHE=false: nothing read, nothing kept);
- after a change: the first request after a device moved (X-Cache: miss, exact).
Then device writes through the API (create, move, delete) with the bookkeeping triggers on
and off, round after round, for what they cost writers (--writes-only: only these).

    benchmarks/run.sh statistics [--count 1000000] [--repeat 5] [--writes 200] [--rounds 3]
                                 [--writes-only]
"""

import argparse
import os
import statistics
import time
import uuid

from sqlalchemy import text

from benchmarks import loadgen
from benchmarks.seed_devices import device_count, seed
from geodata import catalogue
from geodata.importer import import_districts, source_options
from service import create_app
from service.config import PROJECT_DIR, Config
from service.geo.grid import select_grid, utm_srid
from service.geo.statistics.csv import select_density_csv
from service.geo.statistics.density import DensityQuery
from service.geo.statistics.documents import select_density_json
from service.geo.statistics.selection import DistrictSelection, StatisticsFilter

RESULTS = PROJECT_DIR / "benchmarks" / "results" / "statistics.json"
PARIS_BBOX = "2.224,48.815,2.470,48.902"
CREDIT = {"name": "devices", "attribution": "bench", "licence": "ODbL", "source_url": "/"}
PARIS = tuple(float(v) for v in PARIS_BBOX.split(","))


def density_from_scratch(selection: DistrictSelection, fmt: str):
    """The statement an uncached answer ran before migration 0013: devices joined with the
    districts' polygons."""
    query = DensityQuery(selection=selection, filter=StatisticsFilter(), from_scratch=True)
    return select_density_csv(query) if fmt == "csv" else select_density_json(query, [CREDIT])


# (name, URL, the statement computing the same figures from scratch, for comparison)
SCENARIOS = (
    (
        "Paris: 20 arrondissements (JSON)",
        "/api/v1/stats/districts?level=arrondissement&parent=75056",
        lambda: density_from_scratch(
            DistrictSelection(levels=["arrondissement"], parents=["75056"]), "json"
        ),
    ),
    (
        "Bouches-du-Rhone: 119 communes (JSON)",
        "/api/v1/stats/districts?level=commune&parent=13",
        lambda: density_from_scratch(DistrictSelection(levels=["commune"], parents=["13"]), "json"),
    ),
    (
        "Rhone: communes (CSV)",
        "/api/v1/stats/districts?level=commune&parent=69&f=csv",
        lambda: density_from_scratch(DistrictSelection(levels=["commune"], parents=["69"]), "csv"),
    ),
    (
        "France: all communes (CSV)",
        "/api/v1/stats/districts?level=commune&f=csv",
        lambda: density_from_scratch(DistrictSelection(levels=["commune"]), "csv"),
    ),
    # Not among issue 17's scenarios: what researchers also download (no from-scratch figure).
    ("France: all communes (JSON)", "/api/v1/stats/districts?level=commune", None),
    ("France: all communes (GeoJSON)", "/api/v1/stats/districts?level=commune&f=geojson", None),
    (
        "France: all communes, cameras only (CSV)",
        "/api/v1/stats/districts?level=commune&f=csv&kind=camera",
        None,
    ),
    # The map at a date: added up from the kept timelines of the selected districts, which
    # the first request keeps.
    (
        "Paris: 20 arrondissements at a date (JSON)",
        "/api/v1/stats/districts?level=arrondissement&parent=75056&at=2024-06-30",
        None,
    ),
    (
        "Bouches-du-Rhone: 119 communes at a date (JSON)",
        "/api/v1/stats/districts?level=commune&parent=13&at=2024-06-30",
        None,
    ),
    # More districts than a request keeps (MAX_KEPT_PER_REQUEST): every device replayed.
    (
        "France: all communes at a date (CSV)",
        "/api/v1/stats/districts?level=commune&f=csv&at=2024-06-30",
        None,
    ),
    # Each device of Paris replayed through its history once, then the kept changes added up.
    ("Paris: devices by month (timeline)", "/api/v1/stats/timeline?district=75056", None),
    (
        "Paris: devices by day (timeline)",
        "/api/v1/stats/timeline?district=75056&interval=day",
        None,
    ),
    (
        "Paris: 250 m hexagon grid (GeoJSON)",
        f"/api/v1/stats/grid?bbox={PARIS_BBOX}&cell=250",
        # Every device of the box placed in its hexagon (hexagon_cell), as for other sides.
        lambda: select_grid(
            StatisticsFilter(bboxes=[PARIS]), PARIS, 250.0, utm_srid(PARIS), from_scratch=True
        ),
    ),
)
DATASETS = ("france-communes", "paris-arrondissements")
# (table, trigger): what device writes keep at write time, in one trigger per event since
# migration 0021 (district counts, each district's CSV line, tile cells, hexagon counts, the
# statistics' data version), the declared matches (0014) and the marks of the devices kept
# timelines replay again (0028). Write rounds run with all of it and with none.
BOOKKEEPING_TRIGGERS = (
    *(
        ("devices", trigger)
        for trigger in (
            "devices_keep_statistics_insert",
            "devices_keep_statistics_update",
            "devices_keep_statistics_delete",
            "devices_declared_match_insert",
            "devices_declared_match_update",
        )
    ),
    *(
        (table, f"{table}_mark_timelines_{event}")
        for table in ("devices", "device_revisions")
        for event in ("insert", "update", "delete")
    ),
)
BOOKKEEPING_STATES = {"on": BOOKKEEPING_TRIGGERS, "off": ()}


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


def timed(client, url: str, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    response = client.get(url, **kwargs)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return elapsed * 1000, response


def move_a_device(engine) -> None:
    """A change to the map: a device moves by a few metres."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE devices SET geom = ST_Translate(geom, 0.0001, 0) "
                "WHERE id = (SELECT id FROM devices LIMIT 1)"
            )
        )


def from_scratch_ms(engine, statement) -> float:
    with engine.connect() as connection:
        started = time.perf_counter()
        connection.execute(statement).one()
        return (time.perf_counter() - started) * 1000


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def measure(app, uncached_app, url: str, repeat: int, scratch=None) -> dict:
    client, uncached = app.test_client(), uncached_app.test_client()
    engine = app.extensions["engine"]
    cached, computed, after_change, scratch_ms, size = [], [], [], [], 0
    first_ms, _response = timed(client, url)  # fills the cache (and keeps a timeline)
    for _ in range(repeat):
        elapsed, response = timed(uncached, url)
        assert response.headers["X-Cache"] == "miss"
        computed.append(elapsed)
        size = len(response.data)
        for _ in range(3):
            elapsed, response = timed(client, url)
            assert response.headers["X-Cache"] == "hit"
            cached.append(elapsed)
        move_a_device(engine)
        elapsed, response = timed(client, url)
        assert response.headers["X-Cache"] == "miss"
        after_change.append(elapsed)
        if scratch is not None:
            scratch_ms.append(from_scratch_ms(engine, scratch()))
    figures = {
        "cached_ms": median(cached),
        "no_cache_ms": median(computed),
        "no_cache_max_ms": round(max(computed), 1),
        "after_change_ms": median(after_change),
        "ratio": round(median(computed) / median(cached), 2),
        "bytes": size,
        "first_request_ms": round(first_ms, 1),
    }
    if scratch_ms:
        figures["from_scratch_ms"] = median(scratch_ms)
    return figures


def write_round(client, writes: int) -> float:
    """Writes per second: WRITES devices created in central Paris, each moved, then deleted."""
    started = time.perf_counter()
    urls = []
    for i in range(writes):
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [2.30 + i * 1e-4, 48.85 + i * 5e-5]},
            "properties": {"kind": "camera"},
        }
        response = client.post("/api/v1/devices?force=true", json=feature)
        assert response.status_code == 201, response.get_data(as_text=True)[:300]
        urls.append((f"/api/v1/devices/{response.get_json()['id']}", response.headers["ETag"]))
    for i, (url, etag) in enumerate(urls):
        moved = {"geometry": {"type": "Point", "coordinates": [2.35 - i * 1e-4, 48.86]}}
        # Forced, as the pins were: the moves are measured, not the duplicate check.
        response = client.patch(f"{url}?force=true", json=moved, headers={"If-Match": etag})
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        response = client.delete(url, headers={"If-Match": response.headers["ETag"]})
        assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
    return 3 * writes / (time.perf_counter() - started)


def set_bookkeeping(engine, enabled: tuple) -> None:
    """Enable the ENABLED bookkeeping triggers, disable the others."""
    with engine.begin() as connection:
        for table, trigger in BOOKKEEPING_TRIGGERS:
            action = "ENABLE" if (table, trigger) in enabled else "DISABLE"
            connection.execute(text(f"ALTER TABLE {table} {action} TRIGGER {trigger}"))


SQL_WRITES = (
    "INSERT INTO devices (id, geom, kind) VALUES (:id, ST_SetSRID(ST_MakePoint(:lon, 48.85), "
    "4326), 'camera')",
    "UPDATE devices SET geom = ST_SetSRID(ST_MakePoint(:lon, 48.86), 4326) WHERE id = :id",
    "UPDATE devices SET status = 'removed' WHERE id = :id",
    "DELETE FROM devices WHERE id = :id",
)


def sql_write_round(engine, writes: int) -> float:
    """Milliseconds per statement: WRITES devices inserted, moved, re-statused and deleted in
    central Paris, one transaction each (without waiting for the disk: the CPU cost only)."""
    started = time.perf_counter()
    with engine.connect() as connection:
        connection.execute(text("SET synchronous_commit = off"))
        connection.commit()
        for i in range(writes):
            values = {"id": uuid.uuid4(), "lon": 2.30 + i * 1e-4}
            for statement in SQL_WRITES:
                connection.execute(text(statement), values)
                connection.commit()
    return (time.perf_counter() - started) * 1000 / (writes * len(SQL_WRITES))


def measure_writes(app, writes: int, rounds: int) -> dict:
    """Rounds alternate between the BOOKKEEPING_STATES; each round's devices are erased in the
    same state, so the counts stay exact."""
    engine = app.extensions["engine"]
    client = loadgen.moderator_client(app)
    rates = {state: [] for state in BOOKKEEPING_STATES}
    statement_ms = {state: [] for state in BOOKKEEPING_STATES}
    try:
        for _ in range(rounds):
            for state, enabled in BOOKKEEPING_STATES.items():
                set_bookkeeping(engine, enabled)
                rates[state].append(write_round(client, writes))
                statement_ms[state].append(sql_write_round(engine, writes))
                with engine.begin() as connection:
                    connection.execute(text("DELETE FROM devices WHERE deleted_at IS NOT NULL"))
    finally:
        set_bookkeeping(engine, BOOKKEEPING_TRIGGERS)
    per_s = {state: statistics.median(found) for state, found in rates.items()}
    return {
        "writes_per_round": 3 * writes,
        **{f"{state}_per_s": round(rate, 1) for state, rate in per_s.items()},
        **{f"rounds_{state}": [round(r, 1) for r in found] for state, found in rates.items()},
        "cost_percent": round((1 - per_s["on"] / per_s["off"]) * 100, 1),
        **{
            f"statement_ms_{state}": round(statistics.median(found), 3)
            for state, found in statement_ms.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writes-only", action="store_true")
    parser.add_argument("--only", help="run the scenarios whose name holds this text")
    args = parser.parse_args()
    app = create_app(Config(RATELIMIT_ENABLED=False))
    uncached_app = create_app(Config(RATELIMIT_ENABLED=False, STATS_CACHE=False))
    ensure_districts(app)
    url = os.environ["DATABASE_URL"]
    if device_count(url) != args.count:
        print(f"seeding {args.count} devices")
        seed(url, args.count)
    results = {"devices": args.count, "load_average_before": os.getloadavg(), "scenarios": {}}
    if not args.writes_only:
        print(
            "| Scenario | from scratch (before) | cached | no cache | no cache / cached | "
            "first after a change | size |\n|---|---|---|---|---|---|---|"
        )
        for name, path, scratch in SCENARIOS:
            if args.only and args.only not in name:
                continue
            figures = measure(app, uncached_app, path, args.repeat, scratch)
            results["scenarios"][name] = {"url": path, **figures}
            before = f"{figures['from_scratch_ms']} ms" if "from_scratch_ms" in figures else "-"
            print(
                f"| {name} | {before} | {figures['cached_ms']} ms | {figures['no_cache_ms']} ms | "
                f"{figures['ratio']} | {figures['after_change_ms']} ms | "
                f"{figures['bytes'] / 1e6:.2f} MB |"
            )
    results["writes"] = measure_writes(app, args.writes, args.rounds)
    print(f"device writes: {results['writes']}")
    results["load_average_after"] = os.getloadavg()
    loadgen.save_results(RESULTS, results)
    print(
        f"load average before/after: {results['load_average_before']} / "
        f"{results['load_average_after']}; results in {RESULTS.relative_to(PROJECT_DIR)}"
    )


if __name__ == "__main__":
    main()
