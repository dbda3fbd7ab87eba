"""`flask osm import FILE`: bring OpenStreetMap surveillance nodes into Vigie."""

from pathlib import Path

import click

from ..commands import CommandGroup
from ..db import session
from .files import OsmFileError
from .importer import import_osm_file

osm_cli = CommandGroup("osm", help="Exchange with OpenStreetMap.")


@osm_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path):
    """Import man_made=surveillance nodes from an Overpass JSON or OSM XML FILE.

    A node imported before (same OSM id) is updated, not duplicated, unless its device was
    edited or deleted in Vigie since. A new node within 2 m of a device of its kind that came
    from no node (a pin exported from Vigie and uploaded) is linked to that device. The data
    stays under the ODbL: credit "(c) OpenStreetMap contributors".
    """
    try:
        counts = import_osm_file(session, file)
    except OsmFileError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from exc
    for name in (
        "created",
        "updated",
        "unchanged",
        "linked to a Vigie device",
        "kept: deleted in Vigie",
        "kept: edited in Vigie",
    ):
        click.echo(f"{name}: {counts.pop(name, 0)}")
    for reason, count in sorted(counts.items()):
        click.echo(f"{reason}: {count}")
