"""Keep freed memory in the process for the next response instead of returning it at once.

A page of a thousand devices is a string of about 630 KB, built, encoded and sent on every
request. glibc's malloc gives the top of its heap back to the kernel as soon as that much is
free, and serves such sizes from fresh mappings: each request then faulted in about 600 new
pages, half of a worker's CPU (docs/performance.md). With these two settings the memory is
kept and reused; a worker holds at most what its largest response needed.

A worker's threads also share one malloc arena (MALLOC_ARENA_MAX, default 1) rather than each
getting its own. An arena keeps its freed memory for the threads that use it; gthread serves each
request on any of its threads, so each arena that had once processed a photo kept that photo's
30 MB of bitmaps, and a worker's peak grew with every thread that had handled one
(docs/performance.md, "Photos through libvips"). With one arena the next photo reuses the memory
the previous one freed. (The master process may have made a second arena before forking: numpy's
OpenBLAS starts a thread when the application is imported. The worker's threads then take turns
on those two.)

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
# glibc refuses an mmap threshold above half its heap size (32 MiB on 64-bit systems).
LARGEST_HEAP_ALLOCATION = 32 * 1024 * 1024
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

    Allocations up to 32 MiB then come from the heap rather than from their own mapping.
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


def keep_freed_memory_as_configured() -> bool:
    """keep_freed_memory with KEEP_FREED_MEMORY_MB (default DEFAULT_KEEP_MB)."""
    return keep_freed_memory(int(os.environ.get("KEEP_FREED_MEMORY_MB") or DEFAULT_KEEP_MB))


def share_malloc_arenas(arenas: int) -> bool:
    """Let the process' threads share at most ARENAS malloc arenas (0: glibc's default, eight
    per core). Takes effect for the threads that allocate afterwards: call it before starting
    them. Returns whether the C library took the setting."""
    mallopt = c_library_mallopt() if arenas > 0 else None
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, arenas))


def post_fork(_server, _worker) -> None:
    """gunicorn's hook, run in each new worker before its threads start: one malloc arena
    (MALLOC_ARENA_MAX) that keeps freed memory for the next responses."""
    share_malloc_arenas(int(os.environ.get("MALLOC_ARENA_MAX") or DEFAULT_ARENAS))
    keep_freed_memory_as_configured()
