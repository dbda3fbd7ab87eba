"""The backup archive: an uncompressed tar of a manifest, the database dump and the photo files.

    manifest.json        format, version, creation time, Alembic revision, counts, SHA-256s
    database.dump        pg_dump's custom format (already compressed)
    photos/<key>         each photo file, named by its storage key (its own SHA-256 + .jpg)

The manifest is written last (it holds every other file's hash) and read first. Reading
checks everything before anything is restored: unknown or missing files, checksums, format.
"""

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..storage.base import check_key

FORMAT = "vigie-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
PHOTOS = "photos/"
CHUNK = 1 << 20
# What each field of a manifest read from an archive must be before it is trusted.
FIELD_TYPES = {
    "created_at": str,
    "alembic_revision": str,
    "counts": dict,
    "tokens_excluded": bool,
    "files": dict,
}


class BackupError(Exception):
    """The archive cannot be written or is not one this version can restore."""


@dataclass
class Manifest:
    created_at: str
    alembic_revision: str
    counts: dict[str, int]
    tokens_excluded: bool
    # SHA-256 (hex) of every other file of the archive, by its name in the archive.
    files: dict[str, str] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def photo_keys(self) -> list[str]:
        return [name.removeprefix(PHOTOS) for name in self.files if name.startswith(PHOTOS)]

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Manifest":
        try:
            fields = json.loads(data)
        except ValueError as exc:
            raise BackupError(f"the manifest is not JSON ({exc})") from exc
        if not isinstance(fields, dict) or fields.get("format") != FORMAT:
            raise BackupError("the manifest is not that of a Vigie backup")
        version = fields.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BackupError(
                f"this backup has format version {version}; this version of Vigie reads "
                f"version {FORMAT_VERSION} at most: restore it with a newer Vigie"
            )
        try:
            manifest = cls(**fields)
        except TypeError as exc:
            raise BackupError(f"the manifest is incomplete or has unknown fields ({exc})") from exc
        wrong = [n for n, kind in FIELD_TYPES.items() if not isinstance(getattr(manifest, n), kind)]
        if wrong:
            raise BackupError(f"the manifest's {', '.join(wrong)}: wrong type")
        manifest.check_files()
        return manifest

    def check_files(self) -> None:
        if DUMP not in self.files:
            raise BackupError(f"the manifest lists no {DUMP}")
        for name in self.files:
            if name == DUMP:
                continue
            key = name.removeprefix(PHOTOS)
            try:
                check_key(key)
            except ValueError as exc:
                raise BackupError(f"the manifest lists an unexpected file {name!r}") from exc
            if not name.startswith(PHOTOS) or self.files[name] != key.removesuffix(".jpg"):
                raise BackupError(f"the manifest's checksum of {name} is not its content address")


def sha256_of_stream(source: BinaryIO, copy_to: BinaryIO | None = None) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return digest.hexdigest()


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def write_archive(
    path: Path, manifest: Manifest, dump: Path, photos: Iterable[tuple[str, bytes]]
) -> None:
    """Write the archive at PATH: the dump, the photos (key, bytes), then the manifest.

    It is written beside PATH and renamed at the end: a failed backup leaves no archive.
    """
    if path.exists():
        raise BackupError(f"{path} exists already: choose another name")
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)  # left by a backup that was killed
    try:
        # Readable by its owner from its first byte: it holds password hashes and emails.
        handle = os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        with handle, tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
            with dump.open("rb") as source:
                manifest.files[DUMP] = sha256_of_stream(source)
            tar.add(dump, arcname=DUMP)
            for key, data in photos:
                manifest.files[PHOTOS + key] = hashlib.sha256(data).hexdigest()
                add_bytes(tar, PHOTOS + key, data)
            add_bytes(tar, MANIFEST, manifest.to_bytes())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class BackupArchive:
    """A backup archive opened for reading; `verify()` before restoring anything from it."""

    def __init__(self, path: Path):
        try:
            self.tar = tarfile.open(path, "r:")  # noqa: SIM115 (closed by __exit__ or below)
        except (OSError, tarfile.TarError) as exc:
            raise BackupError(f"{path} is not a readable backup archive ({exc})") from exc
        try:
            self.members = {member.name: member for member in self.tar.getmembers()}
            if MANIFEST not in self.members:
                raise BackupError(f"{path} holds no {MANIFEST}: it is not a Vigie backup")
            self.manifest = Manifest.from_bytes(self.read(MANIFEST))
        except (OSError, tarfile.TarError) as exc:
            self.tar.close()
            raise BackupError(f"{path} is not a readable backup archive ({exc})") from exc
        except BackupError:
            self.tar.close()
            raise

    def __enter__(self) -> "BackupArchive":
        return self

    def __exit__(self, *exc) -> None:
        self.tar.close()

    def open_member(self, name: str) -> BinaryIO:
        member = self.members.get(name)
        stream = self.tar.extractfile(member) if member is not None else None
        if stream is None:
            raise BackupError(f"the archive lacks {name}, which its manifest lists")
        return stream

    def read(self, name: str) -> bytes:
        with self.open_member(name) as stream:
            return stream.read()

    def check(self, name: str, sha256: str) -> None:
        if sha256 != self.manifest.files[name]:
            raise BackupError(f"{name} is corrupted: its SHA-256 differs from the manifest's")

    def verify(self, dump_copy: Path) -> None:
        """Check that the archive holds exactly the manifest's files, intact; copy the dump out."""
        unlisted = sorted(set(self.members) - set(self.manifest.files) - {MANIFEST})
        if unlisted:
            raise BackupError(f"the archive holds files its manifest does not list: {unlisted}")
        with self.open_member(DUMP) as source, dump_copy.open("wb") as copy:
            self.check(DUMP, sha256_of_stream(source, copy))
        for key in self.manifest.photo_keys():
            with self.open_member(PHOTOS + key) as source:
                self.check(PHOTOS + key, sha256_of_stream(source))

    def photos(self) -> Iterator[tuple[str, bytes]]:
        """Each photo file as (key, bytes), checked again as it is read."""
        for key in self.manifest.photo_keys():
            data = self.read(PHOTOS + key)
            self.check(PHOTOS + key, hashlib.sha256(data).hexdigest())
            yield key, data
