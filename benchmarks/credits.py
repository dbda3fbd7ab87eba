"""What crediting OpenStreetMap costs a device listing: the probe `device_credits()` runs
(does any public device come from OSM?) next to the page statement it accompanies.

Both statements run inside PostgreSQL (pgbench, no HTTP), on the table of `seed_devices`
with OSM ids given to every OSM_EVERY-th device (or to none). The probe's share of a page's
database time is what the listing pays for the credit.

    benchmarks/run.sh credits [--count 1000000] [--duration 15]
"""

import argparse
import os

from sqlalchemy import create_engine, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from service.config import PROJECT_DIR
from service.geo.osm import select_has_openstreetmap_devices

from . import loadgen
from .devices import pgbench_page_script
from .seed_devices import device_count, seed

RESULTS = PROJECT_DIR / "benchmarks" / "results" / "credits.json"


def probe_script() -> str:
    statement = select_has_openstreetmap_devices()
    sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return " ".join(str(sql).split()) + ";\n"


def set_osm_ids(database_url: str, every: int | None) -> None:
    """OSM ids on every EVERY-th device (None: on no device)."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE devices DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE devices SET osm_id = NULL WHERE osm_id IS NOT NULL"))
        if every:
            conn.execute(
                text(
                    "UPDATE devices SET osm_id = n FROM (SELECT id, row_number() OVER () AS n "
                    "FROM devices) AS numbered WHERE numbered.id = devices.id AND n % :every = 0"
                ),
                {"every": every},
            )
        conn.execute(text("ALTER TABLE devices ENABLE TRIGGER USER"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE devices"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--count", type=int, default=1_000_000, help="devices in the table")
    parser.add_argument("--osm-every", type=int, default=20, help="one OSM device in N")
    args = parser.parse_args()
    database_url = os.environ["DATABASE_URL"]
    libpq_url = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    workers = os.cpu_count() or 2
    if device_count(database_url) != args.count:
        print(f"loading {args.count} devices...", flush=True)
        print(f"loaded in {seed(database_url, args.count):.0f} s", flush=True)
    results = {}
    for label, every in (
        ("no OSM device", None),
        (f"1 in {args.osm_every} from OSM", args.osm_every),
    ):
        set_osm_ids(database_url, every)
        print(f"measuring with {label}...", flush=True)
        results[label] = {
            "probe": loadgen.pgbench(libpq_url, probe_script(), args.duration, workers),
            "page of 1000": loadgen.pgbench(
                libpq_url, pgbench_page_script(1000), args.duration, workers
            ),
        }
    set_osm_ids(database_url, None)
    loadgen.save_results(RESULTS, {"args": vars(args), "workers": workers, "results": results})
    for label, measured in results.items():
        probe, page = measured["probe"]["p50_ms"], measured["page of 1000"]["p50_ms"]
        print(
            f"{label}: probe p50 {probe:.3f} ms ({measured['probe']['rps']:.0f}/s), "
            f"page p50 {page:.2f} ms ({measured['page of 1000']['rps']:.0f}/s): "
            f"the probe adds {100 * probe / page:.1f} %"
        )


if __name__ == "__main__":
    main()
