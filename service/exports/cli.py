"""`flask export geopackage PATH`: the public devices and the districts in one GeoPackage."""

from pathlib import Path

import click
from flask import current_app

from ..api.credits import credit_lines, openstreetmap_credits
from ..commands import CommandGroup
from ..geo.exports import select_district_rows, select_public_device_rows
from .geopackage import Layer, write_geopackage

export_cli = CommandGroup("export", help="Files of the public data.")


def export_layers() -> list[Layer]:
    """The public devices (credited as the configuration says, and OpenStreetMap's
    contributors when some came from it, as the API's downloads are) and the districts."""
    config = current_app.config
    ours = {"attribution": config["DEVICES_ATTRIBUTION"], "licence": config["DEVICES_LICENCE"]}
    credit = credit_lines([ours, *openstreetmap_credits()])
    return [
        Layer("devices", "Point", select_public_device_rows(), credit),
        Layer("districts", "MultiPolygon", select_district_rows()),
    ]


@export_cli.command("geopackage")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def geopackage_command(path):
    """Write the public devices and the districts as two layers of the GeoPackage PATH."""
    if not path.parent.is_dir():
        raise click.BadParameter(f"the folder {path.parent} does not exist", param_hint="PATH")
    with current_app.extensions["engine"].connect() as connection:
        counts = write_geopackage(connection, path, export_layers())
    click.echo(f"{counts['devices']} devices and {counts['districts']} districts written to {path}")
