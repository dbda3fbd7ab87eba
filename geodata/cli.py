"""`flask geodata ...`: import district files, join populations, fetch catalogue datasets."""

import contextlib
import os
import time
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from service.commands import CommandGroup
from service.db import session
from service.extensions import TRANSIENT_CONFLICTS
from service.geo.statistics.cache import (
    delete_outdated,
    select_data_version,
    select_outdated_requests,
)
from service.geo.statistics.kept import refresh_kept_lines
from service.geo.statistics.replay import refresh_timelines
from service.models import District

from . import catalogue
from .importer import GeodataError, import_districts, import_population, source_options

# How many times an import undone by concurrent writers is tried (run_import), and the pause
# before each new try (times the tries so far).
IMPORT_ATTEMPTS = 3
IMPORT_RETRY_PAUSE_S = 0.5
geodata_cli = CommandGroup(
    "geodata", help="Districts: import files, join populations, fetch sources."
)


def progress_bar(label: str):
    def wrap(items):
        with click.progressbar(items, label=label, show_pos=True) as bar:
            yield from bar

    return wrap


def engine():
    return current_app.extensions["engine"]


def report_import(report) -> None:
    click.echo(f"{report.inserted} districts added, {report.updated} updated in place.")
    for code, earlier in report.taken_over:
        click.echo(
            f"{code} was of the dataset {earlier}: it is this one's now, with its shape, area "
            "and credit"
        )
    for code, reason in report.repaired:
        click.echo(f"repaired invalid geometry of {code} with ST_MakeValid: {reason}")
    for code in report.cut_at_antimeridian:
        click.echo(f"cut {code} at the antimeridian: a ring of it crossed it uncut")
    for reason in report.skipped:
        click.echo(f"skipped {reason}", err=True)


def run_import(path: str, **options) -> None:
    """Import in one transaction; one that writers of the same districts' counts undid at that
    moment (a deadlock, a serialization failure) is run again, up to IMPORT_ATTEMPTS times."""
    for attempt in range(1, IMPORT_ATTEMPTS + 1):
        try:
            with engine().begin() as connection:
                report = import_districts(
                    connection, path, progress=progress_bar("staging features"), **options
                )
            break
        except GeodataError as exc:
            raise click.ClickException(str(exc)) from exc
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) not in TRANSIENT_CONFLICTS:
                raise
            if attempt == IMPORT_ATTEMPTS:
                raise click.ClickException(
                    f"the import met device writes at the same moment {attempt} times and was "
                    "undone each time; nothing was stored: run it again"
                ) from exc
            click.echo(
                f"the import met device writes at the same moment and was undone; "
                f"running it again ({attempt + 1} of {IMPORT_ATTEMPTS})",
                err=True,
            )
            time.sleep(IMPORT_RETRY_PAUSE_S * attempt)  # let the writers it met finish
    report_import(report)


def credit_needs_source(source: str | None, source_flag: str, credits: dict) -> None:
    """A licence or an address (CREDITS, by flag) credits a population source: refused without
    the source's name, which they would be stored for none of, and credited nowhere."""
    given = [flag for flag, value in credits.items() if value is not None]
    if given and source is None:
        raise click.UsageError(
            f"{' and '.join(given)} credit a population source: give {source_flag} too."
        )


@geodata_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--level", required=True, help="country, departement, commune, arrondissement...")
@click.option("--code-field", required=True, help="Field holding the official code (INSEE).")
@click.option("--name-field", required=True, help="Field holding the name.")
@click.option("--population-field", help="Field holding the population, if the file has one.")
@click.option("--population-year", type=int, help="Year of that population count.")
@click.option("--population-source", help="Who published that population (shown as credit).")
@click.option(
    "--population-licence", help="Licence of that population, e.g. 'Licence Ouverte 2.0'."
)
@click.option("--population-url", help="Where that population was published.")
@click.option("--parent", help="Code of the district enclosing all of these.")
@click.option("--parent-field", help="Field holding each feature's parent code, instead.")
@click.option(
    "--attribution",
    help="Credit line served with every statistic on these (default: the credit stored by an "
    "earlier import of the dataset, else its name; --licence and --source-url alike).",
)
@click.option("--licence", help="Licence of the file, e.g. 'ODbL 1.0'.")
@click.option("--source-url", help="Where the file was downloaded from.")
@click.option("--dataset", help="Name of the dataset (default: the file name).")
@click.option("--where", help="OGR SQL filter on the features, e.g. \"commune = '13055'\".")
def import_command(file, dataset, attribution, **options):
    """Load districts from FILE (GeoJSON, GeoPackage, Shapefile...); known codes are updated."""
    credit_needs_source(
        options["population_source"],
        "--population-source",
        {
            "--population-licence": options["population_licence"],
            "--population-url": options["population_url"],
        },
    )
    dataset = dataset or Path(file).stem
    run_import(file, dataset=dataset, attribution=attribution, **options)


@geodata_cli.command("population")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--code-field", required=True, help="Column holding the official code.")
@click.option("--population-field", required=True, help="Column holding the population.")
@click.option("--year", type=int, help="Year of the count.")
@click.option("--source", help="Who published it, e.g. 'INSEE, populations légales 2023'.")
@click.option(
    "--licence", help="Its licence (credited with the source), e.g. 'Licence Ouverte 2.0'."
)
@click.option("--source-url", help="Where it was published (credited with the source).")
def population_command(file, code_field, population_field, year, source, licence, source_url):
    """Join populations from a CSV keyed by official code onto the stored districts."""
    credit_needs_source(source, "--source", {"--licence": licence, "--source-url": source_url})
    try:
        with engine().begin() as connection:
            report = import_population(
                connection,
                file,
                code_field=code_field,
                population_field=population_field,
                year=year,
                source=source,
                licence=licence,
                source_url=source_url,
            )
    except GeodataError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{report.matched} districts got a population; {report.unmatched} rows matched no "
        f"district; {report.summed_parents} parents got the sum of their children; "
        f"{report.without_population} rows without a population were left out."
    )
    if report.kept_parents:
        click.echo(
            f"{len(report.kept_parents)} parents kept a count of their own rather than the sum "
            "of their children in this file, which may not cover them (give them a row to "
            "change it): "
            + ", ".join(f"{code} ({own}, not {total})" for code, own, total in report.kept_parents)
            + "."
        )


@geodata_cli.command("list")
def list_command():
    """List the datasets of the catalogue."""
    for name, fields in catalogue.load_catalogue().items():
        click.echo(f"{name:28} {fields['title']} ({fields['licence']})")


def import_source(source: catalogue.Source, path: str) -> None:
    run_import(path, **source_options(source))


def fetch_and_import(name: str) -> None:
    source = catalogue.remote_source(name)
    click.echo(f"downloading {source.url}")
    path = catalogue.download(source.url)
    try:
        import_source(source, str(path))
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


@geodata_cli.command("fetch")
@click.argument("name")
def fetch_command(name):
    """Download the catalogue dataset NAME from its official source and import it; offline,
    import the copy GEODATA_DIR holds, if any (with the catalogue's fields, as load-default)."""
    try:
        catalogue.entry(name)
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from exc
    try:
        fetch_and_import(name)
    except OSError as exc:
        geodata_dir = current_app.config["GEODATA_DIR"]
        local = catalogue.local_source(name, geodata_dir)
        if local is None:
            raise click.ClickException(
                f"cannot download {name} ({exc}), and GEODATA_DIR ({geodata_dir}) holds no "
                "copy of it; is the machine online? A file of your own can be imported with "
                "`flask geodata import`."
            ) from exc
        click.echo(f"cannot download {name} ({exc}): importing the copy in {local.location}")
        import_source(local, local.location)


@geodata_cli.command("load-default")
def load_default_command():
    """Load the default city's districts once, from GEODATA_DIR or else the network."""
    name = current_app.config["DEFAULT_DISTRICTS"]
    if not name:
        click.echo("DEFAULT_DISTRICTS is empty: no default districts loaded.")
        return
    with engine().connect() as connection:
        loaded = connection.execute(
            select(District.code).where(District.dataset == name).limit(1)
        ).first()
    if loaded:
        click.echo(f"default districts {name} already loaded.")
        return
    geodata_dir = current_app.config["GEODATA_DIR"]
    # Not loaded: said, and the exit status says so to a script (`make run` goes on serving).
    try:
        local = catalogue.local_source(name, geodata_dir)
    except KeyError as exc:
        raise click.ClickException(
            f"default districts NOT loaded: DEFAULT_DISTRICTS names {exc.args[0]}"
        ) from None
    if local is not None:
        click.echo(f"loading default districts {name} from {local.location}")
        import_source(local, local.location)
        return
    try:
        fetch_and_import(name)
    except OSError as exc:
        raise click.ClickException(
            f"default districts {name} NOT loaded: GEODATA_DIR ({geodata_dir}) has no copy and "
            f"the download failed ({exc}). Statistics stay empty until districts are imported "
            f"(flask geodata fetch {name}, or flask geodata import FILE ...)."
        ) from None


@geodata_cli.command("refresh-statistics")
def refresh_statistics_command():
    """Rewrite the kept lines (CSV and JSON) writes marked stale, replay in the kept timelines
    the devices written since, and recompute the cached statistics that predate the last
    change (run it from cron)."""
    rewritten = session.execute(refresh_kept_lines()).scalar_one()
    session.commit()
    click.echo(f"{rewritten} stale kept lines rewritten.")
    try:
        replayed = refresh_timelines(session)
        session.commit()
        click.echo(f"{replayed} marks of devices written replayed in the kept timelines.")
    except DBAPIError as error:  # a district import under way holds what it would write
        session.rollback()
        click.echo(f"kept timelines not refreshed this time: {error.orig}", err=True)
    version = session.execute(select_data_version()).scalar_one()
    requests = session.execute(select_outdated_requests(version)).all()
    session.rollback()
    client = current_app.test_client()
    started, refreshed = time.perf_counter(), 0
    # The service's own requests, not a client's: no rate limit holds the refresh back.
    limiter = current_app.extensions["vigie.limiter"]
    limited, limiter.enabled = limiter.enabled, False
    try:
        for path, media_type in requests:
            # Asked as it was answered: a format chosen by Accept is asked by Accept again.
            accept = {"Accept": media_type} if media_type else {}
            response = client.get(path, headers={"Cache-Control": "no-cache", **accept})
            if response.status_code != 200:
                click.echo(f"{path}: {response.status_code}", err=True)
                continue
            # Computed again: the outdated entry is not refreshed a second time by the next run.
            session.execute(delete_outdated(path, media_type, version))
            session.commit()
            refreshed += 1
    finally:
        limiter.enabled = limited
    failed = f", {len(requests) - refreshed} not (above)" if refreshed < len(requests) else ""
    click.echo(
        f"{refreshed} of {len(requests)} cached statistics refreshed{failed} in "
        f"{time.perf_counter() - started:.1f} s."
    )
