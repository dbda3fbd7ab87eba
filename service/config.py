"""Configuration read from environment variables, with safe defaults for a local run."""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def default_database_url() -> str:
    """Point at the private cluster that `make run` keeps under var/pg (unix socket only)."""
    return f"postgresql+psycopg://vigie@/vigie?host={PROJECT_DIR / 'var' / 'pg' / 'run'}"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


class Config:
    """Every setting, each overridable by the environment variable of the same name."""

    def __init__(self, **overrides):
        env = os.environ
        self.DATABASE_URL = env.get("DATABASE_URL") or default_database_url()
        self.SECRET_KEY = env.get("SECRET_KEY") or os.urandom(32).hex()
        self.DB_POOL_SIZE = _int("DB_POOL_SIZE", 5)
        # Request bodies larger than this are refused with 413 before being read.
        self.MAX_CONTENT_LENGTH = _int("MAX_JSON_BYTES", 4 * 1024 * 1024)
        # Photos: the largest upload accepted, and the largest decoded image (decompression bombs).
        self.PHOTO_MAX_BYTES = _int("PHOTO_MAX_BYTES", 25 * 1024 * 1024)
        self.PHOTO_MAX_PIXELS = _int("PHOTO_MAX_PIXELS", 64_000_000)
        # Uploads never attached to a device are removed by `flask photos clean-orphans`.
        self.PHOTO_ORPHAN_HOURS = _int("PHOTO_ORPHAN_HOURS", 24)
        # Where processed photos live: the local MEDIA_ROOT, or an S3 bucket when S3_BUCKET is set.
        self.MEDIA_ROOT = env.get("MEDIA_ROOT") or str(PROJECT_DIR / "var" / "media")
        self.S3_BUCKET = env.get("S3_BUCKET") or None
        self.S3_ENDPOINT_URL = env.get("S3_ENDPOINT_URL") or None
        self.S3_REGION = env.get("S3_REGION") or None
        self.S3_PRESIGNED_URLS = _bool("S3_PRESIGNED_URLS", True)
        self.S3_PRESIGN_SECONDS = _int("S3_PRESIGN_SECONDS", 3600)
        self.GEODATA_DIR = env.get("GEODATA_DIR") or str(PROJECT_DIR.parent / "shared" / "data")
        self.API_TITLE = "Vigie"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "/docs"
        self.OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"
        self.__dict__.update(overrides)

    def as_flask_mapping(self) -> dict:
        return dict(self.__dict__)
