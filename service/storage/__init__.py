"""Where processed photos are kept: one interface, a local-filesystem and an S3 backend.

Keys are content addresses (the SHA-256 of the bytes), so writing the same key twice writes the
same bytes and a stored object never changes.
"""

from flask import current_app

from .base import PhotoStorage
from .local import LocalStorage
from .s3 import S3Storage


def storage_from_config(config) -> PhotoStorage:
    """The S3 backend when S3_BUCKET is set, else the local folder MEDIA_ROOT."""
    if config.get("S3_BUCKET"):
        return S3Storage(
            bucket=config["S3_BUCKET"],
            endpoint_url=config.get("S3_ENDPOINT_URL"),
            region=config.get("S3_REGION"),
            presign_seconds=config["S3_PRESIGN_SECONDS"] if config["S3_PRESIGNED_URLS"] else 0,
        )
    return LocalStorage(config["MEDIA_ROOT"])


def init_app(app) -> None:
    app.extensions["photo_storage"] = storage_from_config(app.config)


def photo_storage() -> PhotoStorage:
    return current_app.extensions["photo_storage"]


__all__ = ["LocalStorage", "PhotoStorage", "S3Storage", "photo_storage", "storage_from_config"]
