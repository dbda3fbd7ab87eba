"""The districts' downloads: how long the first request after a change waits for its file.

Loads (once) the communes and Paris arrondissements from GEODATA_DIR, then asks
`/ogc/collections/districts/download.gpkg` and `.fgb` through the application (in-process, no
HTTP server): each round empties the folder of kept files first, so that every request writes
its file, as the first one after any change of the map does; then once more, kept.

    benchmarks/run.sh downloads [--rounds 5]
"""

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from service import create_app
from service.config import PROJECT_DIR, Config

from . import loadgen
from .statistics import ensure_districts, timed

RESULTS = PROJECT_DIR / "benchmarks" / "results" / "downloads.json"
FORMATS = ("gpkg", "fgb")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="files written per format")
    args = parser.parse_args()
    kept = Path(tempfile.mkdtemp(prefix="vigie-downloads-"))
    app = create_app(Config(DOWNLOADS_ROOT=str(kept), RATELIMIT_ENABLED=False))
    ensure_districts(app)
    client = app.test_client()
    results = {}
    try:
        for fmt in FORMATS:
            url = f"/ogc/collections/districts/download.{fmt}"
            written = []
            for _ in range(args.rounds):
                shutil.rmtree(kept)
                kept.mkdir()
                elapsed, response = timed(client, url)
                written.append(elapsed)
            elapsed, _ = timed(client, url)
            results[fmt] = {
                "written_ms_median": statistics.median(written),
                "written_ms": written,
                "kept_ms": elapsed,
                "bytes": len(response.get_data()),
            }
            print(
                f"{fmt}: written {statistics.median(written):.0f} ms (median of {args.rounds}), "
                f"kept {elapsed:.0f} ms, {len(response.get_data()):,} bytes",
                flush=True,
            )
    finally:
        shutil.rmtree(kept, ignore_errors=True)
        app.extensions["engine"].dispose()
    loadgen.save_results(RESULTS, {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
