"""Read throughput with the primary alone against the primary plus a streaming replica.

    benchmarks/run.sh replicas [--duration 8] [--rounds 3] [--count 1000000]

run.sh starts the benchmarks' cluster (var/bench-pg) and a streaming replica of it
(var/bench-replica, pg_basebackup). Two gunicorn servers with the same settings serve the same
table: one reads the primary only, the other sends its public reads to the replica
(DATABASE_REPLICA_URLS). Each scenario is measured on one, then the other, round after round,
so that a machine whose speed drifts weighs on both alike. Figures: docs/performance.md.
"""

import argparse
import os
import statistics
import time

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from benchmarks import loadgen
from benchmarks.seed_devices import device_count, seed
from benchmarks.versions import scenarios
from service.config import PROJECT_DIR

RESULTS = PROJECT_DIR / "benchmarks" / "results" / "replicas.json"
CATCH_UP_S = 600


def wait_for_replica(primary_url: str, replica_url: str) -> None:
    """Until the replica has replayed everything the primary has flushed (the seed)."""
    primary = create_engine(primary_url, poolclass=NullPool)
    replica = create_engine(replica_url, poolclass=NullPool)
    with primary.connect() as connection:
        target = connection.execute(text("SELECT pg_current_wal_flush_lsn()::text")).scalar()
    deadline = time.monotonic() + CATCH_UP_S
    while True:
        with replica.connect() as connection:
            replayed = connection.execute(
                text("SELECT pg_last_wal_replay_lsn() >= CAST(:target AS pg_lsn)"),
                {"target": target},
            ).scalar()
        if replayed:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the replica did not catch up with the primary")
        time.sleep(0.5)
    primary.dispose()
    replica.dispose()


def transactions(url: str) -> int:
    """Transactions the server has run on the database so far (its own statistics)."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        count = connection.execute(
            text(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
        ).scalar()
    engine.dispose()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each setup")
    parser.add_argument("--count", type=int, default=1_000_000, help="devices in the table")
    parser.add_argument("--connections", type=int, default=4, help="concurrent HTTP clients")
    args = parser.parse_args()
    database_url, replica_url = os.environ["DATABASE_URL"], os.environ["BENCH_REPLICA_URL"]
    if device_count(database_url) != args.count:
        print(f"loading {args.count} devices...", flush=True)
        print(f"loaded in {seed(database_url, args.count):.0f} s", flush=True)
    wait_for_replica(database_url, replica_url)
    workers = os.cpu_count() or 2
    paths = scenarios(database_url)
    setups = ("primary", "primary + replica")
    measured: dict = {name: {setup: [] for setup in setups} for name in paths}
    alone = {**loadgen.UNLIMITED, "DATABASE_REPLICA_URLS": ""}
    replicated = {**loadgen.UNLIMITED, "DATABASE_REPLICA_URLS": replica_url}
    before = {url: transactions(url) for url in (database_url, replica_url)}
    with (
        loadgen.gunicorn("wsgi:app", workers, alone) as primary_only,
        loadgen.gunicorn("wsgi:app", workers, replicated) as with_replica,
    ):
        for number in range(1, args.rounds + 1):
            for name, scenario_paths in paths.items():
                for setup, url in zip(setups, (primary_only, with_replica), strict=True):
                    print(f"round {number}: {setup}, {name}...", flush=True)
                    result = loadgen.wrk(url, scenario_paths, args.duration, args.connections)
                    assert result["errors"] == 0, (setup, name, result)
                    measured[name][setup].append(result)
    time.sleep(2)  # each server's statistics are flushed within a second of a transaction
    served = {url: transactions(url) - before[url] for url in (database_url, replica_url)}
    print(
        f"\ntransactions run during the measurements: {served[database_url]} by the primary, "
        f"{served[replica_url]} by the replica"
    )
    summary = {}
    print("\n| scenario | primary req/s | primary + replica req/s | ratio (rounds) |")
    print("|---|---:|---:|---|")
    for name, results in measured.items():
        rps = {setup: [r["rps"] for r in results[setup]] for setup in setups}
        ratios = [b / a for a, b in zip(rps[setups[0]], rps[setups[1]], strict=True)]
        summary[name] = {setup: statistics.median(rps[setup]) for setup in setups}
        summary[name]["ratios"] = ratios
        print(
            f"| {name} | {summary[name][setups[0]]:.1f} | {summary[name][setups[1]]:.1f} | "
            f"{statistics.median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)}) |"
        )
    loadgen.save_results(
        RESULTS,
        {"args": vars(args), "summary": summary, "runs": measured, "transactions": served},
    )


if __name__ == "__main__":
    main()
