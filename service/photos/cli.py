"""`flask photos clean-orphans`: remove uploads never attached to a device (run it from cron)."""

import re
from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from sqlalchemy import func, select

from ..commands import CommandGroup
from ..db import session
from ..storage import photo_storage
from .library import delete_photos, select_orphans, stray_files

photos_cli = CommandGroup("photos", help="Photo storage upkeep.")

UNITS = {"m": "minutes", "h": "hours", "d": "days"}
BATCH = 500


class Duration(click.ParamType):
    """A delay such as 30m, 24h or 7d."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", str(value))
        if not match:
            self.fail(f"{value!r} is not a delay like 30m, 24h or 7d", param, ctx)
        try:
            return timedelta(**{UNITS[match[2]]: int(match[1])})
        except OverflowError:
            self.fail(f"{value!r} is longer than a delay can be", param, ctx)


@photos_cli.command("clean-orphans")
@click.option(
    "--older-than",
    type=Duration(),
    default=None,
    help="Age past which an unattached upload is removed (default: PHOTO_ORPHAN_HOURS).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@click.option(
    "--files",
    is_flag=True,
    help="Also remove stored files no photo names (left by failed uploads; lists the whole store).",
)
def clean_orphans(older_than, dry_run, files):
    """Remove uploads never attached to a device, and photos of devices deleted, after a delay."""
    default = timedelta(hours=current_app.config["PHOTO_ORPHAN_HOURS"])
    delay = default if older_than is None else older_than  # 0m is a delay too: none
    cutoff = datetime.now(UTC) - delay
    storage = photo_storage()
    if dry_run:
        orphans = select_orphans(cutoff).subquery()
        count = session.execute(select(func.count()).select_from(orphans)).scalar_one()
        click.echo(f"would remove {count} photo(s) older than {delay}")
        if files:
            click.echo(f"would remove {sum(1 for _ in stray_files(storage))} stray file(s)")
        return
    removed = 0
    while orphans := (
        session.execute(select_orphans(cutoff).limit(BATCH).with_for_update(skip_locked=True))
        .scalars()
        .all()
    ):
        delete_photos(storage, orphans)  # commits
        removed += len(orphans)
    click.echo(f"removed {removed} photo(s) older than {delay}")
    if files:
        strays = 0
        for key in stray_files(storage):
            storage.delete(key)
            strays += 1
        click.echo(f"removed {strays} stray file(s)")
