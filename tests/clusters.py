"""Private PostgreSQL clusters for the tests that stop, restart or replicate one.

Each function runs the scripts/lib.sh function of the same purpose, as `make run` and
`make test` do (as the `postgres` user when run as root).
"""

import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from service.config import PROJECT_DIR


@contextmanager
def cluster_folder(prefix: str):
    """A new folder for private clusters, removed afterwards.

    Not under pytest's own temporary folder: another pytest run of the same user on the machine
    takes back the rights on it that the cluster's owner needs (when the tests run as root).
    """
    folder = Path(tempfile.mkdtemp(prefix=f"vigie-{prefix}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def lib(function: str, *arguments) -> str:
    """Run a scripts/lib.sh function with ARGUMENTS (fsync off: throwaway data); its output."""
    script = f'source scripts/lib.sh; PG_FSYNC=off {function} "$@"'
    done = subprocess.run(
        ["bash", "-c", script, function, *map(str, arguments)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"{function} failed: {done.stderr}")
    return done.stdout.strip()


def start_cluster(directory) -> str:
    """Start (creating it once) a private cluster in DIRECTORY; its database URL."""
    lib("start_cluster", directory)
    return lib("cluster_url", directory)


def start_replica(primary, directory) -> str:
    """Start (copying it once) a streaming replica of PRIMARY in DIRECTORY; its database URL."""
    lib("start_replica", primary, directory)
    return lib("cluster_url", directory)


def stop_cluster(directory) -> None:
    lib("stop_cluster", directory)
