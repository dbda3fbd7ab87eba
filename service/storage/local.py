"""Photos as files under MEDIA_ROOT, two hex digits of fan-out so no folder grows too big."""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .base import PhotoStorage, check_key, store_failures


class UnusableStore(OSError):
    """A folder for photos that cannot be made: a store failure (503), not a missing photo."""


class LocalStorage(PhotoStorage):
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)[:2] / key

    @store_failures
    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path_of(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except FileNotFoundError as missing:  # no photo missing: MEDIA_ROOT cannot be made
            raise UnusableStore(f"{self.root} cannot hold files: {missing.strerror}") from missing
        # Write beside the target then rename: readers never see a half-written file.
        fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(partial, 0o644)
            os.replace(partial, path)
        except BaseException:
            os.unlink(partial)
            raise

    @store_failures
    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    @store_failures
    def read(self, key: str) -> bytes:
        return self.path_of(key).read_bytes()

    @store_failures
    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        if self.root.is_dir():
            for path in sorted(self.root.glob("??/*")):
                if not path.name.startswith("."):
                    yield path.name
