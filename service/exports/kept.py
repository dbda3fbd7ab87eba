"""Download files kept on disk while the data they were written from is current: no Flask here.

A download is written once per data version (the statistics' version, which every change of
public data moves) and kept under a name made of its request, that version and a hash of its
bytes. The hash is its ETag: clients then ask for byte ranges of the same file (GDAL's
`/vsicurl/`, and QGIS through it, open a GeoPackage or a FlatGeobuf by its URL that way) and
resume a download cut short (If-Range). Versions are dotted integers, which grow: keeping a
version of a request removes its older ones, never a newer one (kept by a server reading a
more recent replica). A kept file is read without waiting on anything; one request's file is
written by one thread of one worker at a time (a lock file of that request): the others wait
for it, and are served its file, under its ETag.
"""

import contextlib
import fcntl
import hashlib
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# A write left unfinished this long ago was abandoned (its worker killed): its files go.
ABANDONED_AFTER_SECONDS = 24 * 3600
LOCK_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Download:
    """A download's file, open: gone from the folder since, it is still read to its end."""

    file: BinaryIO
    etag: str | None  # None: written for one answer only (the data changed as it was written)


def request_name(request_key: str) -> str:
    """The start of the names of REQUEST_KEY's files (the key may hold any text)."""
    return hashlib.sha256(request_key.encode()).hexdigest()[:32]


def version_stem(request_key: str, version: str) -> str:
    """The start of the names of REQUEST_KEY's files of VERSION: `{request}_{version}_{etag}`."""
    return f"{request_name(request_key)}_{version}_"


def version_order(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def file_digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()[:32]


def find_kept(folder: Path, request_key: str, version: str) -> Download | None:
    stem = version_stem(request_key, version)
    for path in sorted(folder.glob(f"{stem}*")):
        try:
            return Download(path.open("rb"), path.name.removeprefix(stem).partition(".")[0])
        except FileNotFoundError:
            continue  # replaced meanwhile by another worker's copy
    return None


def kept_download(
    folder: Path,
    request_key: str,
    read_version: Callable[[], str],
    suffix: str,
    write: Callable[[Path], None],
    *,
    before_waiting: Callable[[], None],
    wait_seconds: float,
) -> Download:
    """REQUEST_KEY's file at the data version READ_VERSION() reads, written by WRITE(path)
    unless already kept.

    A request that finds the file being written calls BEFORE_WAITING (to hand back what it
    holds, a database connection) and waits for it, at most WAIT_SECONDS (then TimeoutError);
    the version is read again once it is its turn, changes committed meanwhile included. A file
    written while a change was committed (the version read again after) may hold data of a
    later version: it is sent once, not kept, and has no ETag.
    """
    found = find_kept(folder, request_key, read_version())
    if found is not None:
        return found
    writing = folder / ".writing"
    writing.mkdir(parents=True, exist_ok=True)
    with (folder / f".{request_name(request_key)}.lock").open("a") as lock:
        if not locked(lock):
            before_waiting()
            wait_for_lock(lock, wait_seconds)
        version = read_version()
        found = find_kept(folder, request_key, version)
        if found is not None:
            return found  # written meanwhile by the request waited for
        remove_abandoned(writing)
        # Written in a folder of its own, whose files GDAL may add to (journals, indexes).
        own = writing / uuid.uuid4().hex
        own.mkdir()
        path = own / f"download{suffix}"
        try:
            write(path)
            if read_version() != version:
                return Download(path.open("rb"), None)
            etag = file_digest(path)
            kept = folder / f"{version_stem(request_key, version)}{etag}{suffix}"
            path.replace(kept)
            download = Download(kept.open("rb"), etag)
        finally:
            shutil.rmtree(own, ignore_errors=True)
        remove_older(folder, request_key, version)
        return download


def locked(lock) -> bool:
    """Whether the lock file LOCK was free, and is now this request's (released as it closes)."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def wait_for_lock(lock, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not locked(lock):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the download was still being written after {seconds} s")
        time.sleep(LOCK_POLL_SECONDS)


def remove_older(folder: Path, request_key: str, version: str) -> None:
    """Remove REQUEST_KEY's files of versions older than VERSION (a file being sent is read to
    its end all the same); a name of no version, or a file gone already, is left alone."""
    for other in folder.glob(f"{request_name(request_key)}_*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if version_order(other.name.split("_")[1]) < version_order(version):
                other.unlink()


def remove_abandoned(writing: Path) -> None:
    """Remove what writes left in WRITING when their worker was killed mid-way."""
    for folder in writing.iterdir():
        try:
            abandoned = folder.stat().st_mtime < time.time() - ABANDONED_AFTER_SECONDS
        except FileNotFoundError:
            continue  # a write of another request, just finished
        if abandoned:
            shutil.rmtree(folder, ignore_errors=True)
