"""The contract every photo storage backend honours (both run the same test suite)."""

import errno
import functools
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator

from ..errors import InsufficientStorage, ServiceUnavailable

log = logging.getLogger(__name__)
# How long a client should wait before trying a store that failed again; one that refuses
# writes (read-only, or not the service's to write) waits for its operators.
STORE_RETRY_AFTER_SECONDS = 5
REFUSED_RETRY_AFTER_SECONDS = 600
REFUSED_WRITES = (errno.EACCES, errno.EPERM, errno.EROFS)

# Stored objects never change (their name is their hash): caches may keep them for a year.
IMMUTABLE_MAX_AGE = 31536000
IMMUTABLE_CACHE = f"public, max-age={IMMUTABLE_MAX_AGE}, immutable"
# A key is a lowercase SHA-256 in hex plus an extension: never a client-supplied name.
KEY_PATTERN = re.compile(r"^[0-9a-f]{64}\.jpg$")


def content_key(sha256: str) -> str:
    """The key of a JPEG whose bytes hash to sha256."""
    return check_key(f"{sha256}.jpg")


def check_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"not a content address: {key!r}")
    return key


def store_failures(method):
    """Turn a store's failure into a 507 (it is full) or a 503 (it is unreachable) problem.

    The request's transaction then rolls back: no photo row names a file that was not stored,
    and a file is only ever stored whole (each backend writes atomically).
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except FileNotFoundError:
            raise
        except self.failures as exc:
            if self.is_full(exc):
                log.error("the photo store is full: %s", exc)
                raise InsufficientStorage(
                    "The photo store is full; the photo was not kept. Try again later."
                ) from exc
            if isinstance(exc, OSError) and exc.errno in REFUSED_WRITES:
                # Not a moment's outage: retrying soon would change nothing.
                log.error("the photo store refuses writes (fix its permissions): %s", exc)
                raise ServiceUnavailable(
                    "The photo store refuses to keep files, a fault of this server that its "
                    "operators must fix; the photo was not kept. Try again later.",
                    headers={"Retry-After": str(REFUSED_RETRY_AFTER_SECONDS)},
                ) from exc
            log.error("the photo store failed: %s", exc)
            raise ServiceUnavailable(
                "The photo store is unavailable for a moment; retry shortly.",
                headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)},
            ) from exc

    return wrapper


class PhotoStorage(ABC):
    """A flat store of immutable objects named by their content address."""

    # What the store's client raises when the store fails (see store_failures).
    failures: tuple[type[Exception], ...] = (OSError,)

    def is_full(self, error: Exception) -> bool:
        """Whether FAILURE means no room is left (rather than a store out of reach)."""
        return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)

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
