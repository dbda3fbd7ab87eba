"""`flask declared ...`: import official lists of surveillance sites (docs/declared.md)."""

import click
from flask import current_app

from service.commands import CommandGroup

from .declared import DeclaredFields, DeclaredFileError, import_declared, remove_declared
from .importer import GeodataError

declared_cli = CommandGroup(
    "declared", help="Declared lists of surveillance sites versus observed."
)


@declared_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="Name of the dataset; a new file of it is a version.")
@click.option(
    "--publisher", help="Who published the list (needed for a new list; kept if not given again)."
)
@click.option(
    "--published-on", type=click.DateTime(formats=["%Y-%m-%d"]), help="Date of publication."
)
@click.option("--source-url", help="Where the list was published.")
@click.option("--licence", help="Licence of the list, e.g. 'ODbL 1.0'.")
@click.option("--id-field", required=True, help="Field holding the publisher's id of a site.")
@click.option("--kind-field", help="Field holding the kinds (camera, alpr...; ',' between).")
@click.option("--kind", help="Kind of the sites whose row names none (e.g. camera).")
@click.option("--count-field", help="Field holding the number of devices declared at the site.")
@click.option("--address-field", help="Field holding the address text.")
@click.option("--commissioned-field", help="Field holding the date of commissioning.")
@click.option("--lon-field", help="CSV: column of the longitude (WGS84).")
@click.option("--lat-field", help="CSV: column of the latitude (WGS84).")
@click.option("--wkt-field", help="CSV: column of the point as WKT, instead.")
@click.option(
    "--distance",
    type=float,
    help="A site matches devices within this many metres (default 50, or the dataset's).",
)
def import_command(file, name, publisher, published_on, source_url, licence, distance, **fields):
    """Import a declared list from FILE (GeoJSON, GeoPackage, Shapefile, CSV), all or nothing."""
    try:
        with current_app.extensions["engine"].begin() as connection:
            report = import_declared(
                connection,
                file,
                name=name,
                publisher=publisher,
                published_on=published_on.date() if published_on else None,
                source_url=source_url,
                licence=licence,
                distance_m=distance,
                fields=DeclaredFields(**fields),
            )
    except DeclaredFileError as exc:
        for _line, problem in exc.problems:
            click.echo(problem, err=True)
        raise click.ClickException(str(exc)) from exc
    except GeodataError as exc:  # the file's CRS, read as for districts
        raise click.ClickException(str(exc)) from exc
    if report.unchanged:
        click.echo(
            f"{report.dataset}: the same sites, distance and provenance as version "
            f"{report.version}; nothing changed."
        )
        return
    click.echo(
        f"{report.dataset} version {report.version}: {report.sites} sites; "
        f"{len(report.added)} added, {len(report.removed)} removed, {len(report.changed)} changed."
    )


@declared_cli.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Remove without asking first.")
def remove_command(name, yes):
    """Remove the declared list NAME: its sites, their matches and its versions. Statistics
    stop counting it at once; import it again to bring it back."""
    if not yes:
        click.confirm(f"Remove the declared list {name!r} and every site of it?", abort=True)
    try:
        with current_app.extensions["engine"].begin() as connection:
            held = remove_declared(connection, name)
    except DeclaredFileError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{name}: removed, with its {held} sites.")
