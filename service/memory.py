"""Keep freed memory in the process for the next response instead of returning it at once.

A page of a thousand devices is a string of about 630 KB, built, encoded and sent on every
request. glibc's malloc gives the top of its heap back to the kernel as soon as that much is
free, and serves such sizes from fresh mappings: each request then faulted in about 600 new
pages, half of a worker's CPU (docs/performance.md). With these two settings the memory is
kept and reused; a worker holds at most what its largest response needed.

Blocks of 8 MiB and more still get mappings of their own, given back when freed: the largest
page of devices (10,000, about 6.3 MB) stays under that size, while a photo's bitmaps (9 MB for
a 12 MP photo's full rendition) are above it. Kept, they stayed in whichever malloc arena the
thread that processed the photo had used, a photo's worth in each. For the same reason a
worker's threads share one arena (MALLOC_ARENA_MAX, default 1) instead of having up to eight
per core: gthread serves each request on any of its threads, and the peak memory of a worker
grew with each arena that had once processed a photo (docs/performance.md, "Photos through
libvips"). An arena left by a thread that the application's imports started and ended in the
master process is still taken by the worker's threads, so they take turns on two arenas.

Applied by gunicorn's post_fork hook, in each worker only (gunicorn.conf.py, and the benchmarks'
servers through `--config python:service.memory`), not by every process that imports the app.
"""

import ctypes
import logging
import os

DEFAULT_KEEP_MB = 256
M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
DEFAULT_ARENAS = 1
# Above a page of 10,000 devices (6.3 MB), below a 12 MP photo's bitmaps (9 MB): see above.
LARGEST_HEAP_ALLOCATION = 8 * 1024 * 1024
LARGEST_KEEP_MB = 2047  # mallopt takes a C int

log = logging.getLogger(__name__)


def c_library_mallopt():
    """glibc's mallopt, or None under a C library that has none."""
    try:
        # The symbols the process already has, the C library's among them.
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except (OSError, TypeError):
        mallopt = None
    if mallopt is None:
        log.info("no glibc mallopt here: memory is managed by the C library's defaults")
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def keep_freed_memory(keep_mb: int) -> bool:
    """Let the heap keep up to KEEP_MB of free memory at its top (0: leave the C library be).

    Allocations under 8 MiB then come from the heap rather than from their own mapping.
    Returns whether the C library took the settings (not on a C library other than glibc).
    """
    mallopt = c_library_mallopt() if keep_mb > 0 else None
    if mallopt is None:
        return False
    # The mmap threshold first: either setting turns glibc's own adjustment of both off.
    return bool(
        mallopt(M_MMAP_THRESHOLD, LARGEST_HEAP_ALLOCATION)
        and mallopt(M_TRIM_THRESHOLD, min(keep_mb, LARGEST_KEEP_MB) * 1024 * 1024)
    )


def whole_number(name: str, default: int) -> int:
    """The environment variable NAME as a number, else DEFAULT, refused by name: config.env_int
    again, as this module imports nothing of the package (tests/test_memory.py measures the
    allocator in processes that load it alone)."""
    value = os.environ.get(name, "").strip() or str(default)
    if not value.lstrip("-").isdigit():
        raise SystemExit(f"{name} must be a whole number, not {value!r}")
    return int(value)


def share_malloc_arenas(arenas: int) -> bool:
    """Let the process' threads share at most ARENAS malloc arenas (0: glibc's default, eight
    per core). Takes effect for the threads that allocate afterwards: call it before starting
    them. Returns whether the C library took the setting."""
    mallopt = c_library_mallopt() if arenas > 0 else None
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, arenas))


def memory_settings() -> tuple[int, int]:
    """(MALLOC_ARENA_MAX, KEEP_FREED_MEMORY_MB). gunicorn.conf.py reads them in the master
    too: a worker that stopped on a wrong one would be started again and again."""
    return (
        whole_number("MALLOC_ARENA_MAX", DEFAULT_ARENAS),
        whole_number("KEEP_FREED_MEMORY_MB", DEFAULT_KEEP_MB),
    )


def post_fork(_server, _worker) -> None:
    """gunicorn's hook, run in each new worker before its threads start: one malloc arena
    (MALLOC_ARENA_MAX) that keeps freed memory for the next responses."""
    arenas, keep_mb = memory_settings()
    share_malloc_arenas(arenas)
    keep_freed_memory(keep_mb)
