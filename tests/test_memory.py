"""Processes keep freed memory for their next responses (service/memory.py, scripts/lib.sh)."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import PROJECT_DIR, env_int
from service.memory import keep_freed_memory, post_fork, whole_number

# Run in a fresh process: how glibc treats a size depends on what the process freed before.
PAGES_SERVED = """
import resource
from service import create_app
from service.memory import post_fork

post_fork(None, None)  # as gunicorn does in each worker

client = create_app().test_client()
PAGE = "/ogc/collections/devices/items?limit=1000"

def faults_per_page(pages=10):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(pages):
        # Counted, not parsed: parsing would keep the heap busy and hide what serving costs.
        assert client.get(PAGE).data.count(b'{"type":"Feature",') == 1000
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / pages

faults_per_page()  # the heap grows once
print(faults_per_page())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_an_app_process_reuses_the_memory_of_one_page_for_the_next(database_url, committed):
    """With glibc's defaults, each page of a thousand devices faulted in ~600 fresh pages."""
    with committed.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO devices (id, geom, kind, review_status) "
            "SELECT gen_random_uuid(), ST_MakePoint(2.35 + i / 1e5, 48.85), 'camera', 'approved' "
            "FROM generate_series(1, 1000) i"
        )
    environment = os.environ | {"DATABASE_URL": database_url, "RATELIMIT_ENABLED": "false"}
    environment.pop("KEEP_FREED_MEMORY_MB", None)  # the default
    faults = run_python(PAGES_SERVED, environment).stdout
    assert float(faults) < 20


def test_zero_asks_nothing_of_the_c_library():
    assert keep_freed_memory(0) is False


def backend_faults(connection) -> int:
    pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


@pytest.mark.skipif(
    not os.environ.get("VIGIE_TEST_CLUSTER"),
    reason="the suite runs against a server it did not start (DATABASE_URL was given) or "
    "without the project's server settings (PG_GLIBC_TUNABLES empty)",
)
def test_the_cluster_the_scripts_start_reuses_memory_between_large_results(app):
    """Without the server's malloc settings each 650 KB result faulted in about 650 pages."""
    page = "SELECT string_agg(repeat('x', 650), ',') FROM generate_series(1, 1000)"
    with app.extensions["engine"].connect() as connection:
        connection.exec_driver_sql(page).scalar()  # the backend's heap grows once
        before = backend_faults(connection)
        for _ in range(20):
            connection.exec_driver_sql(page).scalar()
        assert (backend_faults(connection) - before) / 20 < 200


def test_gunicorn_workers_apply_the_setting_and_importing_the_app_does_not(monkeypatch):
    from service import create_app, memory
    from service.config import PROJECT_DIR as project

    settings = {}
    exec((project / "gunicorn.conf.py").read_text(), settings)
    assert settings["post_fork"] is memory.post_fork
    calls, arenas = [], []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda mb: calls.append(mb) or True)
    monkeypatch.setattr(memory, "share_malloc_arenas", lambda n: arenas.append(n) or True)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    create_app()
    assert calls == [] and arenas == []
    monkeypatch.setenv("KEEP_FREED_MEMORY_MB", "64")
    memory.post_fork(None, None)
    assert calls == [64] and arenas == [1]


# Threads that allocate at the same time, then glibc's own account of its arenas (on stderr).
# The module is loaded alone: the application's imports start threads of their own (OpenBLAS).
ARENAS_OF_THREADS = """
import ctypes, importlib.util, threading

spec = importlib.util.spec_from_file_location("memory", "service/memory.py")
memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(memory)
post_fork = memory.post_fork

post_fork(None, None)  # as gunicorn does in each worker, before its threads start
ready = threading.Barrier(4)

def allocate():
    ready.wait()
    blocks = [bytearray(4096) for _ in range(1000)]
    ready.wait()

threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL(None).malloc_stats()
"""


def malloc_arenas(arena_max: str | None) -> int:
    environment = dict(os.environ)
    environment.pop("MALLOC_ARENA_MAX", None)
    if arena_max is not None:
        environment["MALLOC_ARENA_MAX"] = arena_max
    stats = run_python(ARENAS_OF_THREADS, environment).stderr
    return stats.count("Arena ")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")
def test_a_worker_s_threads_share_one_malloc_arena_unless_told_otherwise():
    """An arena per thread kept a photo's freed bitmaps once in each (docs/performance.md)."""
    assert malloc_arenas(None) == 1
    assert malloc_arenas("2") == 2
    assert malloc_arenas("0") > 2  # glibc's default: an arena for each thread that allocates


# How much of a photo-sized block the process keeps once it is freed.
PHOTO_BLOCK_KEPT = """
import importlib.util

spec = importlib.util.spec_from_file_location("memory", "service/memory.py")
memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(memory)
memory.post_fork(None, None)

def resident_kb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4

before = resident_kb()
bitmap = bytearray(b"x") * (2016 * 1512 * 3)  # a 12 MP photo's full rendition, written
held = resident_kb() - before
del bitmap
print(held, resident_kb() - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_a_photo_s_bitmap_is_given_back_to_the_kernel_when_freed():
    """Kept, a photo's 9 MB stayed in the arena of the thread that had processed it."""
    environment = dict(os.environ)
    environment.pop("KEEP_FREED_MEMORY_MB", None)
    held, kept = map(
        int,
        run_python(PHOTO_BLOCK_KEPT, environment).stdout.split(),
    )
    assert held > 8 * 1024 and kept < 1024


def run_python(code: str, environment: dict) -> subprocess.CompletedProcess:
    """CODE run by a fresh interpreter in the project, with ENVIRONMENT."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd=PROJECT_DIR,
    )


def test_a_worker_setting_that_is_not_a_number_stops_it_naming_the_setting(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "one")
    with pytest.raises(SystemExit, match="MALLOC_ARENA_MAX must be a whole number, not 'one'"):
        post_fork(None, None)  # before any allocator setting is applied
    monkeypatch.setenv("KEEP_FREED_MEMORY_MB", " ")
    assert whole_number("KEEP_FREED_MEMORY_MB", 64) == 64  # empty: the default
    monkeypatch.setenv("STATS_WATCHED_TIMEOUT_MS", "20s")
    with pytest.raises(SystemExit, match="STATS_WATCHED_TIMEOUT_MS must be a whole number"):
        env_int("STATS_WATCHED_TIMEOUT_MS", 20_000)  # the application's settings alike
