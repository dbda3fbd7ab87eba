"""The contract every photo storage backend honours (both run the same test suite)."""

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator

# Stored objects never change (their name is their hash): caches may keep them for a year.
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
# A key is a lowercase SHA-256 in hex plus an extension: never a client-supplied name.
KEY_PATTERN = re.compile(r"^[0-9a-f]{64}\.jpg$")


def content_key(sha256: str) -> str:
    """The key of a JPEG whose bytes hash to sha256."""
    return check_key(f"{sha256}.jpg")


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise ValueError(f"not a content address: {key!r}")
    return key


class PhotoStorage(ABC):
    """A flat store of immutable objects named by their content address."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store data under key; storing an existing key again is harmless."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def read(self, key: str) -> bytes:
        """The stored bytes; FileNotFoundError when the key is absent."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove key; removing an absent key is harmless."""

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Every stored key (for audits and tests; not on any request path)."""

    def redirect_url(self, key: str) -> str | None:
        """A URL the client may fetch the bytes from directly, or None to serve them here."""
        return None
