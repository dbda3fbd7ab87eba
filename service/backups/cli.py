"""`flask backup create|restore PATH`: the database and the photo store in one archive."""

from pathlib import Path

import click
from flask import current_app

from .. import migrate
from ..commands import CommandGroup
from ..storage import photo_storage
from .archive import BackupError
from .backup import create_backup, restore_backup
from .database import DatabaseToolError

backup_cli = CommandGroup("backup", help="Back up and restore the database and the photo store.")


def describe(manifest) -> str:
    counts = ", ".join(f"{count} {name}" for name, count in manifest.counts.items())
    return f"{counts} (schema revision {manifest.alembic_revision})"


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option(
    "--exclude-tokens",
    is_flag=True,
    help="Leave out bearer tokens (their hashes and stored login answers): users log in again.",
)
def create_command(path, exclude_tokens):
    """Write the database and every photo file to the archive PATH (keep it encrypted)."""
    try:
        manifest = create_backup(
            current_app.extensions["engine"], photo_storage(), path, exclude_tokens=exclude_tokens
        )
    except (BackupError, DatabaseToolError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {path}: {describe(manifest)}")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the data of a database that holds some.")
def restore_command(path, force):
    """Restore the archive PATH into DATABASE_URL's database and the configured photo store."""
    try:
        manifest = restore_backup(
            current_app.extensions["engine"], photo_storage(), path, force=force
        )
    except (BackupError, DatabaseToolError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored the backup of {manifest.created_at}: {describe(manifest)}")
    if manifest.alembic_revision != migrate.head_revision():
        click.echo("the schema is older than this code's: run `flask db upgrade` now")
