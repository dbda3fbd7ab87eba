"""Configuration read from environment variables, with safe defaults for a local run."""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def default_database_url() -> str:
    """Point at the private cluster that `make run` keeps under var/pg (unix socket only)."""
    return f"postgresql+psycopg://vigie@/vigie?host={PROJECT_DIR / 'var' / 'pg' / 'run'}"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Config:
    """Every setting, each overridable by the environment variable of the same name."""

    def __init__(self, **overrides):
        env = os.environ
        self.DATABASE_URL = env.get("DATABASE_URL") or default_database_url()
        self.SECRET_KEY = env.get("SECRET_KEY") or os.urandom(32).hex()
        self.DB_POOL_SIZE = _int("DB_POOL_SIZE", 5)
        # Request bodies larger than this are refused with 413 before being read.
        self.MAX_CONTENT_LENGTH = _int("MAX_JSON_BYTES", 4 * 1024 * 1024)
        self.GEODATA_DIR = env.get("GEODATA_DIR") or str(PROJECT_DIR.parent / "shared" / "data")
        # Cross-origin reads are open to every site by default; list origins to narrow them.
        self.CORS_ORIGINS = env.get("CORS_ORIGINS", "*")
        # Methods other sites may use from a browser (add POST,PATCH,DELETE to let them write).
        self.CORS_METHODS = env.get("CORS_METHODS", "GET,HEAD,OPTIONS")
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
