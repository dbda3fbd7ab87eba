"""The database side of a backup: pg_dump and pg_restore, the counts and checks around them."""

import os
import shutil
import subprocess
from pathlib import Path

from psycopg.conninfo import make_conninfo
from sqlalchemy import (
    Connection,
    column,
    exists,
    func,
    inspect,
    literal,
    select,
    table,
    union,
)
from sqlalchemy.engine import make_url

from ..models import Base, Device, DeviceRevision, Photo, User
from ..models.photo import RENDITIONS

# What the manifest counts, so that a restore can be checked against it.
COUNTED = {"devices": Device, "photos": Photo, "accounts": User, "revisions": DeviceRevision}
# Tables whose rows hold bearer tokens: their hashes, and stored answers to logins sent with an
# Idempotency-Key (which carry the token itself). `--exclude-tokens` leaves their rows out.
TOKEN_TABLES = ("api_tokens", "idempotent_requests")
# Debian installs each PostgreSQL major version's client tools here.
DEBIAN_POSTGRESQL = Path("/usr/lib/postgresql")


class DatabaseToolError(Exception):
    """pg_dump or pg_restore failed, or cannot be found."""


def pg_tool(name: str) -> str:
    """The newest installed build of a PostgreSQL client tool: it reads older servers too."""
    versions = [p for p in DEBIAN_POSTGRESQL.glob(f"*/bin/{name}") if p.parts[-3].isdigit()]
    if versions:
        return str(max(versions, key=lambda p: int(p.parts[-3])))
    found = shutil.which(name)
    if found is None:
        raise DatabaseToolError(
            f"{name} is not installed (Debian: apt-get install postgresql-client)"
        )
    return found


def libpq_target(database_url: str) -> tuple[str, dict]:
    """The libpq connection string of a SQLAlchemy URL, and an environment holding its password.

    The password travels in PGPASSWORD rather than on a command line other users may read.
    """
    url = make_url(database_url)
    settings = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "dbname": url.database,
        **{key: value for key, value in url.query.items() if isinstance(value, str)},
    }
    conninfo = make_conninfo(**{k: str(v) for k, v in settings.items() if v is not None})
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return conninfo, env


def run_tool(name: str, arguments: list[str], env: dict) -> None:
    result = subprocess.run(
        [pg_tool(name), *arguments], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise DatabaseToolError(f"{name} failed: {result.stderr.strip()}")


def dump_database(database_url: str, path: Path, *, snapshot: str, exclude_tokens: bool) -> None:
    """Write a custom-format dump of the database as it was at SNAPSHOT (pg_export_snapshot)."""
    conninfo, env = libpq_target(database_url)
    arguments = [f"--dbname={conninfo}", "--format=custom", f"--snapshot={snapshot}"]
    if exclude_tokens:
        arguments += [f"--exclude-table-data=public.{name}" for name in TOKEN_TABLES]
    run_tool("pg_dump", [*arguments, f"--file={path}"], env)


def restore_database(database_url: str, path: Path) -> None:
    """Replace the objects of the dump in the database, all or nothing (one transaction).

    Ownership and privileges are left out: the restored objects belong to the restoring role.
    """
    conninfo, env = libpq_target(database_url)
    arguments = [
        f"--dbname={conninfo}",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        str(path),
    ]
    run_tool("pg_restore", arguments, env)


def export_snapshot(connection: Connection) -> str:
    """Export the snapshot of CONNECTION's (repeatable read) transaction for pg_dump to share."""
    return connection.execute(select(func.pg_export_snapshot())).scalar_one()


def count_rows(connection: Connection) -> dict[str, int]:
    return {
        name: connection.execute(select(func.count()).select_from(model)).scalar_one()
        for name, model in COUNTED.items()
    }


def schema_revision(connection: Connection) -> str | None:
    """The Alembic revision the database is at (None before any migration)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = table("alembic_version", column("version_num"))
    return connection.execute(select(versions.c.version_num)).scalar_one_or_none()


def photo_file_hashes(connection: Connection) -> list[str]:
    """The SHA-256 of every file a photo row names (each rendition), each once, in order."""
    renditions = union(
        *(select(getattr(Photo, f"{name}_sha256").label("sha256")) for name in RENDITIONS)
    ).subquery()
    return list(connection.execute(select(renditions.c.sha256).order_by("sha256")).scalars())


def tables_holding_rows(connection: Connection) -> list[str]:
    """The project's tables that exist in the database and hold at least one row."""
    existing = set(inspect(connection).get_table_names())
    return [
        model_table.name
        for model_table in Base.metadata.sorted_tables
        if model_table.name in existing
        and connection.execute(select(exists(select(literal(1)).select_from(model_table)))).scalar()
    ]
