"""Keep freed memory in the process for the next response instead of returning it at once.

A page of a thousand devices is a string of about 630 KB, built, encoded and sent on every
request. glibc's malloc gives the top of its heap back to the kernel as soon as that much is
free, and serves such sizes from fresh mappings: each request then faults in hundreds of new
pages, a quarter of a worker's CPU (docs/performance.md). With these two settings the memory is
kept and reused; a worker holds at most what its largest response needed.
"""

import ctypes

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
# glibc refuses an mmap threshold above half its heap size (32 MiB on 64-bit systems).
LARGEST_HEAP_ALLOCATION = 32 * 1024 * 1024


def keep_freed_memory(keep_mb: int) -> bool:
    """Let the heap keep up to KEEP_MB of free memory at its top (0: glibc's defaults).

    Allocations up to 32 MiB then come from the heap rather than from their own mapping.
    Returns whether the C library took the settings (False on a libc other than glibc).
    """
    if keep_mb <= 0:
        return False
    libc = ctypes.CDLL(None)  # the symbols the process already has, the C library among them
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(
        mallopt(M_TRIM_THRESHOLD, keep_mb * 1024 * 1024)
        and mallopt(M_MMAP_THRESHOLD, LARGEST_HEAP_ALLOCATION)
    )
