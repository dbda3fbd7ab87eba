"""Issue-18 benchmark: declared versus observed, with 1,000,000 devices (docs/declared.md).

In one run, on the synthetic devices of benchmarks/seed_devices.py:
1. matching: 10,000 then 100,000 declared sites (placed near random devices, so that they are
   distributed as the map is) matched with the devices by the import's statement; the time of
   the matching statement alone, median of REPEAT runs, and the ratio;
2. statistics: Paris's 20 arrondissements with the Paris police's 707 declared sites, plain and
   with declared=true, computed afresh (cache emptied) through the application;
3. writes: devices moved through PATCH /api/v1/devices/{id} (the application's write path, a
   moderator's token) near the Paris sites, in rounds with the trigger that keeps the matches
   current enabled, then disabled; and the same as bare SQL UPDATEs, the harshest measure.

    benchmarks/run.sh declared [--count 1000000] [--repeat 3] [--writes 300] [--rounds 4]
"""

import argparse
import os
import statistics
import time

from sqlalchemy import text

from benchmarks import loadgen
from benchmarks.seed_devices import device_count, seed
from benchmarks.statistics import ensure_districts
from geodata.declared import DeclaredFields, import_declared
from service import create_app
from service.config import PROJECT_DIR, Config
from service.geo.declared import imports

RESULTS = PROJECT_DIR / "benchmarks" / "results" / "declared.json"
PARIS_LIST = "paris-cameras-videoprotection-pp-2019.geojson"
PARIS_URL = "/api/v1/stats/districts?level=arrondissement&parent=75056"
TRIGGERS = ("devices_declared_match_insert", "devices_declared_match_update")
SYNTHETIC = "benchmark-synthetic"

PLACE_SITES = """
INSERT INTO declared_sites (id, dataset_id, source_id, geom, kinds, compatible_kinds,
                            declared_count, attributes, line)
SELECT gen_random_uuid(), :dataset, 's' || n,
       ST_SetSRID(ST_MakePoint(ST_X(geom) + (random() - 0.5) * 0.001,
                               ST_Y(geom) + (random() - 0.5) * 0.0007), 4326),
       ARRAY['camera'], ARRAY['alpr', 'camera', 'facial_recognition'],
       1 + floor(random() * 3)::int, '{}'::jsonb, n
FROM (SELECT geom, row_number() OVER () AS n
      FROM devices TABLESAMPLE BERNOULLI(:percent) REPEATABLE (42)) AS sampled
"""


def run_sql(engine, sql: str, **params):
    with engine.begin() as connection:
        return connection.execute(text(sql), params)


def synthetic_dataset(engine, count: int):
    """A dataset of COUNT sites near random devices, without matches; returns its id."""
    run_sql(engine, "DELETE FROM declared_datasets WHERE name = :n", n=SYNTHETIC)
    dataset = run_sql(
        engine,
        "INSERT INTO declared_datasets (id, name, publisher, sha256, version, match_distance_m) "
        "VALUES (gen_random_uuid(), :n, 'benchmark', repeat('0', 64), 1, 50) RETURNING id",
        n=SYNTHETIC,
    ).scalar_one()
    devices = run_sql(engine, "SELECT count(*) FROM devices").scalar_one()
    placed = run_sql(engine, PLACE_SITES, dataset=dataset, percent=100 * count / devices).rowcount
    run_sql(engine, "ANALYZE declared_sites")
    return dataset, placed


def time_matching(engine, dataset, repeat: int) -> dict:
    """The import's matching statement over every site of DATASET, REPEAT times."""
    seconds, matches = [], 0
    for _ in range(repeat):
        with engine.begin() as connection:
            connection.execute(imports.delete_site_matches(dataset, None))
        with engine.begin() as connection:
            started = time.perf_counter()
            connection.execute(imports.match_sites(dataset, None))
            seconds.append(time.perf_counter() - started)
            matches = connection.execute(
                text(
                    "SELECT count(*) FROM declared_matches m JOIN declared_sites s ON "
                    "s.id = m.site_id WHERE s.dataset_id = :d"
                ),
                {"d": dataset},
            ).scalar_one()
    return {"seconds": round(statistics.median(seconds), 3), "all": seconds, "matches": matches}


def import_paris(app, engine) -> None:
    with engine.begin() as connection:
        import_declared(
            connection,
            os.path.join(app.config["GEODATA_DIR"], PARIS_LIST),
            name="paris-pp-2019",
            publisher="Préfecture de Police de Paris",
            fields=DeclaredFields(id_field="numero", kind="camera"),
        )


def cold_ms(app, url: str, repeat: int) -> float:
    client = app.test_client()
    engine = app.extensions["engine"]
    elapsed = []
    for _ in range(repeat):
        run_sql(engine, "DELETE FROM statistics_cache")
        started = time.perf_counter()
        response = client.get(url)
        elapsed.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return round(statistics.median(elapsed), 1)


def devices_near_paris_sites(engine, count: int) -> list[str]:
    """Devices within 50 m of a Paris site: each move forgets and finds matches."""
    return [
        str(row[0])
        for row in run_sql(
            engine,
            """
            SELECT DISTINCT m.device_id FROM declared_matches m
            JOIN declared_sites s ON s.id = m.site_id
            JOIN declared_datasets d ON d.id = s.dataset_id AND d.name = 'paris-pp-2019'
            LIMIT :count
            """,
            count=count,
        )
    ]


def set_triggers(engine, enabled: bool) -> None:
    for trigger in TRIGGERS:
        state = "ENABLE" if enabled else "DISABLE"
        run_sql(engine, f"ALTER TABLE devices {state} TRIGGER {trigger}")


def api_writes_per_second(client, devices: list[str]) -> float:
    """Move each device a few metres and back through the API; writes per second."""
    elapsed = 0.0
    for device in devices:
        read = client.get(f"/api/v1/devices/{device}")
        lon, lat = read.get_json()["geometry"]["coordinates"]
        body = {"geometry": {"type": "Point", "coordinates": [lon, lat + 0.00003]}}
        started = time.perf_counter()
        response = client.patch(  # forced: the write is measured, not the duplicate check
            f"/api/v1/devices/{device}?force=true",
            json=body,
            headers={"If-Match": read.headers["ETag"]},
        )
        elapsed += time.perf_counter() - started
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return len(devices) / elapsed


def sql_writes_per_second(engine, devices: list[str]) -> float:
    started = time.perf_counter()
    for device in devices:
        run_sql(
            engine,
            "UPDATE devices SET geom = ST_Translate(geom, 0, 0.00003) WHERE id = :id",
            id=device,
        )
    return len(devices) / (time.perf_counter() - started)


def write_rounds(app, engine, writes: int, rounds: int) -> dict:
    client = loadgen.moderator_client(app)
    devices = devices_near_paris_sites(engine, writes)
    figures = {"api": {"on": [], "off": []}, "sql": {"on": [], "off": []}}
    for _ in range(rounds):
        for enabled in (True, False):
            set_triggers(engine, enabled)
            key = "on" if enabled else "off"
            figures["api"][key].append(api_writes_per_second(client, devices))
            figures["sql"][key].append(sql_writes_per_second(engine, devices))
    set_triggers(engine, True)
    summary = {"devices": len(devices)}
    for path, by_state in figures.items():
        on, off = (statistics.median(by_state[k]) for k in ("on", "off"))
        summary[path] = {
            "with_trigger_per_s": round(on, 1),
            "without_per_s": round(off, 1),
            "cost_share": round(1 - on / off, 3),
            "rounds": by_state,
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    app = create_app(Config(STATS_CACHE=False, RATELIMIT_ENABLED=False))
    engine = app.extensions["engine"]
    ensure_districts(app)
    url = os.environ["DATABASE_URL"]
    if device_count(url) != args.count:
        print(f"seeding {args.count} devices")
        seed(url, args.count)
    run_sql(engine, "DELETE FROM declared_datasets")
    results = {"devices": args.count, "load_average_before": os.getloadavg()}

    matching = {}
    for sites in (10_000, 100_000):
        dataset, placed = synthetic_dataset(engine, sites)
        matching[sites] = {"placed": placed, **time_matching(engine, dataset, args.repeat)}
        print(f"matching {sites} sites: {matching[sites]}")
    # Per site, as the sample holds about (not exactly) the number of sites asked for.
    large, small = matching[100_000], matching[10_000]
    ratio = (large["seconds"] / large["placed"]) / (small["seconds"] / small["placed"]) * 10
    results["matching"] = {"sites": matching, "ratio_100k_to_10k": round(ratio, 2)}
    print(f"matching 100,000 / 10,000 sites: {ratio:.2f}x")
    run_sql(engine, "DELETE FROM declared_datasets")

    import_paris(app, engine)
    plain = cold_ms(app, PARIS_URL, args.repeat)
    declared = cold_ms(app, PARIS_URL + "&declared=true", args.repeat)
    results["statistics"] = {
        "plain_ms": plain,
        "declared_ms": declared,
        "ratio": round(declared / plain, 2),
    }
    print(f"Paris statistics: plain {plain} ms, declared {declared} ms ({declared / plain:.2f}x)")

    results["writes"] = write_rounds(app, engine, args.writes, args.rounds)
    print(f"writes: {results['writes']}")
    results["load_average_after"] = os.getloadavg()
    loadgen.save_results(RESULTS, results)


if __name__ == "__main__":
    main()
