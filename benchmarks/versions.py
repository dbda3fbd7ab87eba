"""The same requests against two versions of Vigie, taking turns: what a change costs or saves.

    benchmarks/run.sh versions --base REV [--duration 8] [--rounds 3] [--count N] [--only TEXT]

REV is checked out into var/bench-base (a git worktree, refreshed on each run). Both versions are
served by gunicorn with the same settings, on the same table of the benchmarks' cluster, and each
scenario is measured on one, then the other, round after round: a machine whose speed drifts
weighs on both alike. The scenarios are those of docs/performance.md: listing pages of 1000 and
10000 in 1 km² boxes, reads by id, OGC API pages of 1000, and vector tiles at zoom 14.
"""

import argparse
import os
import random
import statistics
import subprocess

from benchmarks import loadgen
from benchmarks.devices import random_bboxes
from benchmarks.seed_devices import device_count, seed
from service.config import PROJECT_DIR
from service.geo.keys import KEY_ZOOM, mercator_pixel

BASE_TREE = PROJECT_DIR / "var" / "bench-base"
RESULTS = PROJECT_DIR / "benchmarks" / "results" / "versions.json"


def check_out(revision: str) -> str:
    """REV checked out in BASE_TREE; returns its commit."""
    subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "worktree", "remove", "--force", str(BASE_TREE)],
        capture_output=True,
    )
    subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "worktree", "add", "--detach", str(BASE_TREE), revision],
        check=True,
        capture_output=True,
    )
    return subprocess.run(
        ["git", "-C", str(BASE_TREE), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def device_ids(database_url: str, count: int) -> list[str]:
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    out = subprocess.run(
        ["psql", url, "-qtAc", f"SELECT id FROM devices TABLESAMPLE SYSTEM (1) LIMIT {count}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


def tiles_around_paris(zoom: int) -> list[str]:
    x, y = mercator_pixel(2.3488, 48.8534)
    shift = KEY_ZOOM - zoom
    return [
        f"/tiles/devices/{zoom}/{(x >> shift) + dx}/{(y >> shift) + dy}.mvt"
        for dx in range(-2, 3)
        for dy in range(-2, 3)
    ]


def scenarios(database_url: str) -> dict[str, list[str]]:
    boxes = [",".join(map(str, box)) for box in random_bboxes(200, random.Random(7))]
    return {
        "listing, limit=1000": [f"/api/v1/devices?bbox={b}&limit=1000" for b in boxes],
        "listing, limit=10000": [f"/api/v1/devices?bbox={b}&limit=10000" for b in boxes],
        "by id": [f"/api/v1/devices/{i}" for i in device_ids(database_url, 1000)],
        "OGC page of 1000": [f"/ogc/collections/devices/items?bbox={b}&limit=1000" for b in boxes],
        "tile z14": tiles_around_paris(14),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the version to compare with (a git rev)")
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each version")
    parser.add_argument("--count", type=int, default=1_000_000, help="devices in the table")
    parser.add_argument("--connections", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument(
        "--only", help="only the scenarios whose name holds this text (e.g. 'limit=1000')"
    )
    args = parser.parse_args()
    database_url = os.environ["DATABASE_URL"]
    if device_count(database_url) != args.count:
        print(f"loading {args.count} devices...", flush=True)
        print(f"loaded in {seed(database_url, args.count):.0f} s", flush=True)
    base_commit = check_out(args.base)
    workers = os.cpu_count() or 2
    paths = {
        name: scenario
        for name, scenario in scenarios(database_url).items()
        if args.only is None or args.only in name
    }
    measured: dict = {name: {"base": [], "this": []} for name in paths}
    with (
        loadgen.gunicorn("wsgi:app", workers, loadgen.UNLIMITED, directory=BASE_TREE) as base,
        loadgen.gunicorn("wsgi:app", workers, loadgen.UNLIMITED) as this,
    ):
        for number in range(1, args.rounds + 1):
            for name, scenario_paths in paths.items():
                for version, url in (("base", base), ("this", this)):
                    print(f"round {number}: {version}, {name}...", flush=True)
                    result = loadgen.wrk(url, scenario_paths, args.duration, args.connections)
                    assert result["errors"] == 0, (version, name, result)
                    measured[name][version].append(result)
    summary = {}
    print(f"\n| scenario | {base_commit} req/s | this req/s | this / base (rounds) |")
    print("|---|---:|---:|---|")
    for name, versions in measured.items():
        rps = {v: [r["rps"] for r in results] for v, results in versions.items()}
        ratios = [this / base for base, this in zip(rps["base"], rps["this"], strict=True)]
        summary[name] = {
            "base_rps": statistics.median(rps["base"]),
            "this_rps": statistics.median(rps["this"]),
            "ratios": ratios,
        }
        print(
            f"| {name} | {summary[name]['base_rps']:.1f} | {summary[name]['this_rps']:.1f} | "
            f"{statistics.median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)}) |"
        )
    loadgen.save_results(
        RESULTS, {"args": vars(args), "base": base_commit, "summary": summary, "runs": measured}
    )


if __name__ == "__main__":
    main()
