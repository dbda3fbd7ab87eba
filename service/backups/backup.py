"""Create and restore a backup: the database dump and photo files, consistent with each other.

The counts, the list of photo files and the dump all come from one snapshot of the database
(pg_dump --snapshot), so the archive holds exactly the files its photo rows name.
"""

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, inspect

from .. import migrate
from ..geo.devices.sync import restamp_changes_from_another_history
from ..geo.meta import renew_data_lineage
from ..storage import PhotoStorage
from ..storage.base import content_key
from . import database
from .archive import DUMP, BackupArchive, BackupError, Manifest, write_archive


def read_photo_files(storage: PhotoStorage, hashes: list[str]) -> Iterator[tuple[str, bytes]]:
    for sha256 in hashes:
        key = content_key(sha256)
        try:
            yield key, storage.read(key)
        except FileNotFoundError as exc:
            raise BackupError(
                f"the photo store lacks {key}, which a photo names (was it deleted during the "
                f"backup? then run it again)"
            ) from exc


def create_backup(
    engine: Engine, storage: PhotoStorage, path: Path, *, exclude_tokens: bool = False
) -> Manifest:
    """Write a backup of the database at ENGINE's URL and of the photo files to PATH."""
    database_url = engine.url.render_as_string(hide_password=False)
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection,
        tempfile.TemporaryDirectory() as work,
    ):
        revision = database.schema_revision(connection)
        if revision is None:
            raise BackupError("the database has no Vigie schema (flask db upgrade creates it)")
        snapshot = database.export_snapshot(connection)
        manifest = Manifest(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            alembic_revision=revision,
            counts=database.count_rows(connection),
            tokens_excluded=exclude_tokens,
        )
        hashes = database.photo_file_hashes(connection)
        dump = Path(work) / DUMP
        database.dump_database(database_url, dump, snapshot=snapshot, exclude_tokens=exclude_tokens)
        connection.rollback()  # pg_dump is done with the snapshot: release it
        write_archive(path, manifest, dump, read_photo_files(storage, hashes))
    return manifest


def check_restorable(manifest: Manifest) -> None:
    if not migrate.is_known_revision(manifest.alembic_revision):
        raise BackupError(
            f"the backup's schema is at revision {manifest.alembic_revision}, which this version "
            f"of Vigie does not know: restore it with the version that made it, or a newer one"
        )


def restore_backup(
    engine: Engine, storage: PhotoStorage, path: Path, *, force: bool = False
) -> Manifest:
    """Restore the backup at PATH into ENGINE's database and STORAGE.

    Everything is checked first (target empty unless FORCE, manifest, revision, checksums):
    a refused restore changes nothing. Then the photo files are written (content-addressed, so
    harmless if the database restore failed after them), then the dump is restored in one
    transaction, and the restored counts are compared with the manifest's: pg_restore has
    committed by then, so a difference is told as what it is, data restored that the manifest
    does not describe.
    """
    database_url = engine.url.render_as_string(hide_password=False)
    with BackupArchive(path) as archive, tempfile.TemporaryDirectory() as work:
        manifest = archive.manifest
        check_restorable(manifest)
        with engine.connect() as connection:
            occupied = database.tables_holding_rows(connection)
        if occupied and not force:
            raise BackupError(
                f"the database is not empty ({', '.join(occupied)} hold rows): restoring would "
                f"replace its data; pass --force to do so"
            )
        dump = Path(work) / DUMP
        archive.verify(dump)
        for key, data in archive.photos():
            storage.put(key, data, "image/jpeg")
        engine.dispose()  # no pooled connection of ours should hold a lock on a replaced table
        database.restore_database(database_url, dump)
    with engine.begin() as connection:
        # Whatever the counts below say: the data restored is another history, whose data
        # versions count again from the dump's (kept downloads are named by them).
        if inspect(connection).has_table("shared_settings"):  # a backup older has none
            connection.execute(renew_data_lineage())
    with engine.connect() as connection:
        restored = database.count_rows(connection)
    if restored != manifest.counts:
        raise BackupError(
            f"the archive's data is restored, but its rows {restored} differ from what its "
            f"manifest counted {manifest.counts}: the archive was altered, or its backup went "
            "wrong; restore another archive over this one (--force)"
        )
    with engine.begin() as connection:
        connection.execute(restamp_changes_from_another_history())
    return manifest
