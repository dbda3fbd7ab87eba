"""Issue-2 benchmark: the device listing and by-id read, against two ceilings, in one run.

For each scenario it measures, side by side on the same PostGIS table:
- vigie: the real application under gunicorn (as many workers as cores);
- thin-flask: benchmarks/thin_app.py, a minimal Flask app running the same SQL;
- raw-sql: the same statement run by pgbench inside PostgreSQL (no HTTP at all).

They take turns, round after round: a machine whose speed drifts weighs on all of them alike,
and each round gives Vigie's share of the thin ceiling.

    benchmarks/run.sh devices [--duration 15] [--rounds 3] [--count 1000000] [--connections 4]
"""

import argparse
import os
import random
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from benchmarks import loadgen
from benchmarks.seed_devices import device_count, seed
from service.config import PROJECT_DIR
from service.geo.devices.features import select_device_feature
from service.geo.devices.filter import DeviceFilter
from service.geo.devices.spatial import select_device_page_in_space

PARIS_CENTRE = (2.3488, 48.8534)
BOX_DEGREES = (0.0136, 0.0090)  # about 1 km x 1 km at Paris' latitude
PHOTO_BASE = "/api/v1/photos/"
RESULTS = PROJECT_DIR / "benchmarks" / "results" / "devices.json"


def random_bboxes(count: int, rng: random.Random) -> list[tuple[float, ...]]:
    """1 km² boxes whose centres lie within about 1.5 km of central Paris."""
    boxes = []
    for _ in range(count):
        lon = PARIS_CENTRE[0] + rng.uniform(-0.02, 0.02)
        lat = PARIS_CENTRE[1] + rng.uniform(-0.013, 0.013)
        boxes.append(
            (
                round(lon - BOX_DEGREES[0] / 2, 6),
                round(lat - BOX_DEGREES[1] / 2, 6),
                round(lon + BOX_DEGREES[0] / 2, 6),
                round(lat + BOX_DEGREES[1] / 2, 6),
            )
        )
    return boxes


def pgbench_page_scripts(boxes, limit: int) -> list[str]:
    """The listing statement of each box, its values written in (the key ranges it reads
    depend on the box, so one script with variables could not stand for them)."""
    scripts = []
    for bbox in boxes:
        page = select_device_page_in_space(DeviceFilter(bboxes=[bbox]), limit)
        stmt = page.statement.params(page.values | {"photo_base": PHOTO_BASE})
        dialect = postgresql.dialect()
        sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        scripts.append(" ".join(sql.split()) + ";\n")
    return scripts


def pgbench_by_id_script() -> str:
    sentinel = uuid.UUID(int=1)
    stmt = select_device_feature().params(device_id=sentinel, photo_base=PHOTO_BASE)
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    sql = sql.replace(f"'{sentinel}'", "(SELECT id FROM bench_ids WHERE n = :n)")
    return "\\set n random(1, 1000)\n" + " ".join(sql.split()) + ";\n"


def prepare_ids(database_url: str, rng_seed: int) -> list[str]:
    """1000 random device ids, also stored in bench_ids for pgbench."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": rng_seed / 100})
        ids = [
            str(r[0])
            for r in conn.execute(
                text("SELECT id FROM devices TABLESAMPLE SYSTEM (1) ORDER BY random() LIMIT 1000")
            )
        ]
        conn.execute(text("DROP TABLE IF EXISTS bench_ids"))
        conn.execute(text("CREATE TABLE bench_ids (n int PRIMARY KEY, id uuid NOT NULL)"))
        conn.execute(
            text("INSERT INTO bench_ids VALUES (:n, :id)"),
            [{"n": i + 1, "id": v} for i, v in enumerate(ids)],
        )
    engine.dispose()
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each target")
    parser.add_argument("--count", type=int, default=1_000_000, help="devices in the table")
    parser.add_argument("--connections", type=int, default=4, help="concurrent HTTP clients")
    args = parser.parse_args()
    database_url = os.environ["DATABASE_URL"]
    libpq_url = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    workers = os.cpu_count() or 2

    if device_count(database_url) != args.count:
        print(f"loading {args.count} devices...", flush=True)
        print(f"loaded in {seed(database_url, args.count):.0f} s", flush=True)
    rng = random.Random(7)
    boxes = random_bboxes(200, rng)
    ids = prepare_ids(database_url, 7)

    def listing(prefix, limit):
        return [f"{prefix}?bbox={','.join(map(str, b))}&limit={limit}" for b in boxes]

    scenarios = {
        "bbox limit=1000": (lambda p: listing(p, 1000), pgbench_page_scripts(boxes[:20], 1000)),
        "bbox limit=10000": (lambda p: listing(p, 10000), pgbench_page_scripts(boxes[:20], 10000)),
        "by id": (lambda p: [f"{p}/{i}" for i in ids], pgbench_by_id_script()),
    }
    rounds: list[dict] = []
    with (
        loadgen.gunicorn("wsgi:app", workers, loadgen.UNLIMITED) as vigie,
        loadgen.gunicorn("benchmarks.thin_app:app", workers) as thin,
    ):
        for number in range(1, args.rounds + 1):
            measured = {}
            for name, (paths, sql) in scenarios.items():
                print(f"round {number}: {name}...", flush=True)
                measured[name] = {
                    "vigie": loadgen.wrk(
                        vigie, paths("/api/v1/devices"), args.duration, args.connections
                    ),
                    "thin-flask": loadgen.wrk(
                        thin, paths("/devices"), args.duration, args.connections
                    ),
                    "raw-sql": loadgen.pgbench(libpq_url, sql, args.duration, workers),
                }
            rounds.append(measured)
    results = loadgen.summarize(rounds)
    loadgen.save_results(
        RESULTS, {"args": vars(args), "workers": workers, "results": results, "rounds": rounds}
    )
    print(report(results))


def report(results: dict) -> str:
    lines = [
        "| scenario | target | req/s | p50 ms | p95 ms | errors "
        "| vigie / thin-flask (means; per round) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, targets in results.items():
        thin = targets["thin-flask"]
        per_round = ", ".join(f"{ratio:.0%}" for ratio in thin["vigie_ratios"])
        ratio = f"{targets['vigie']['rps'] / thin['rps']:.0%}; {per_round}"
        for target, r in targets.items():
            shown = ratio if target == "vigie" else ""
            lines.append(
                f"| {name} | {target} | {r['rps']:.1f} | {r['p50_ms']:.1f} | "
                f"{r['p95_ms']:.1f} | {r['errors']} | {shown} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
