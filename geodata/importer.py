"""Read district files (GeoJSON, GeoPackage, Shapefile... through pyogrio/GDAL) into PostGIS."""

import csv
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyogrio.raw
import shapely

from service.geo import districts as sql
from service.models.district import CODE_MAX_CHARS

from .catalogue import Source

BATCH_SIZE = 500


class GeodataError(Exception):
    """The file cannot be imported as asked; the message says which field or option is wrong."""


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    repaired: list[tuple[str, str]] = field(default_factory=list)  # (code, reason)
    cut_at_antimeridian: list[str] = field(default_factory=list)  # codes of rings across it
    skipped: list[str] = field(default_factory=list)  # why features were left out
    # Districts of another dataset that this one now holds: (code, the dataset they were of).
    taken_over: list[tuple[str, str]] = field(default_factory=list)


def source_srid(crs: str | None) -> int:
    """The EPSG code of the file's CRS; files without one are GeoJSON, hence WGS84."""
    if not crs:
        return 4326
    authority, _, code = crs.partition(":")
    if authority.upper() != "EPSG" or not code.isdigit():
        raise GeodataError(
            f"The file's CRS has no EPSG code PostGIS could reproject from: {crs[:200]}"
        )
    return int(code)


def is_missing(value) -> bool:
    """GDAL gives a null number as NaN."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def as_text(value) -> str | None:
    """Text read as a number by GDAL (75101.0) comes back as the text it was."""
    if is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def as_code(value) -> str | None:
    text = (as_text(value) or "").strip()
    return text or None


# What a code may not hold: a list of codes (`codes=a,b`) splits on commas, a path on slashes,
# and control characters are no text a reader can type.
UNREQUESTABLE = re.compile(r"[,/\x00-\x1f\x7f]")


def unusable_code(code: str) -> str | None:
    """Why CODE cannot stand as a district's code (asked in URLs and lists), or None."""
    if len(code) > CODE_MAX_CHARS:
        return f"is longer than {CODE_MAX_CHARS} characters"
    if UNREQUESTABLE.search(code):
        return "holds a comma, a slash or a control character, which requests cannot name"
    return None


# More people than the world holds: a column of another figure, or a unit misread.
MAX_POPULATION = 10_000_000_000


def as_population(value, where: str) -> int | None:
    """VALUE as a number of inhabitants; refused naming WHERE (a feature, a line) it stands."""
    if is_missing(value):
        return None
    value = value.item() if hasattr(value, "item") else value  # numpy's scalars as Python's
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise GeodataError(f"{where}: population {value!r} is not a number.") from exc
    if not number.is_integer():  # inf and nan are not either
        raise GeodataError(f"{where}: population {value!r} is not a whole number of inhabitants.")
    if not 0 <= number <= MAX_POPULATION:
        raise GeodataError(
            f"{where}: population {value!r} is "
            f"{'negative' if number < 0 else 'more than the world holds'}."
        )
    return int(number)


def read_layer(path: str, where: str | None = None):
    """Metadata, WKB geometries and columns (by field name) of a file's first layer."""
    try:
        meta, _fids, geometries, columns = pyogrio.raw.read(path, where=where or None)
    except Exception as exc:  # pyogrio raises its own DataSourceError, FieldError, ...
        raise GeodataError(f"Cannot read {path}: {exc}") from exc
    if geometries is None:  # a table (a CSV...): districts need their boundaries
        raise GeodataError(f"{path} has no geometry: districts are imported from their shapes.")
    if len(geometries) == 0:
        raise GeodataError(f"{path} holds no feature" + (f" where {where}." if where else "."))
    return meta, geometries, dict(zip(meta["fields"], columns, strict=True))


def column(columns: dict, name: str | None, option: str):
    if name is None:
        return None
    if name not in columns:
        raise GeodataError(no_field(option, name, columns))
    return columns[name]


def no_field(option: str, name: str, fields) -> str:
    """Why OPTION's field NAME cannot be read, with the file's FIELDS (none: said so)."""
    told = f"its fields are {', '.join(fields)}" if fields else "it has no fields at all"
    return f"{option}: the file has no field {name!r}; {told}."


def staged_rows(path, *, where, code_field, name_field, population_field, parent, parent_field):
    meta, geometries, columns = read_layer(path, where)
    srid = source_srid(meta.get("crs"))
    codes = column(columns, code_field, "--code-field")
    names = column(columns, name_field, "--name-field")
    populations = column(columns, population_field, "--population-field")
    parents = column(columns, parent_field, "--parent-field")
    # Read once, all together: heights dropped (the districts' column is flat, as the map
    # they draw), and each shape's validity, to skip what PostGIS would stop the import on.
    shapes = shapely.force_2d(shapely.from_wkb(geometries, on_invalid="ignore"))
    reasons = shapely.is_valid_reason(shapes)
    flat = shapely.to_wkb(shapes)
    rows, skipped, seen = [], [], set()
    for i, wkb in enumerate(geometries):
        code = as_code(codes[i])
        if code is None or wkb is None:
            skipped.append(f"feature {i}: no {'code' if code is None else 'geometry'}")
            continue
        unusable = unusable_code(code)
        if unusable:
            skipped.append(f"feature {i}: code {code!r} {unusable}")
            continue
        if code in seen:
            skipped.append(f"feature {i}: code {code} appears twice; the first one was kept")
            continue
        if flat[i] is None:
            skipped.append(f"feature {i} (code {code}): its geometry cannot be read")
            continue
        if reasons[i].startswith("Too few points"):  # which PostGIS would not even read
            skipped.append(f"feature {i} (code {code}): a ring of its shape has under 4 points")
            continue
        seen.add(code)
        population = populations[i] if populations is not None else None
        rows.append(
            {
                "code": code,
                "name": as_text(names[i]) or code,
                "parent_code": as_code(parents[i]) if parents is not None else parent,
                "population": as_population(population, f"feature {i} (code {code})"),
                "wkb": flat[i],
                "srid": srid,
            }
        )
    return rows, skipped


def batches(rows: list, size: int = BATCH_SIZE) -> Iterable[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def import_districts(
    connection,
    path: str,
    *,
    level: str,
    code_field: str,
    name_field: str,
    dataset: str,
    attribution: str | None,
    licence: str | None = None,
    source_url: str | None = None,
    where: str | None = None,
    parent: str | None = None,
    parent_field: str | None = None,
    population_field: str | None = None,
    population_year: int | None = None,
    population_source: str | None = None,
    population_licence: str | None = None,
    population_url: str | None = None,
    progress: Callable[[Iterable], Iterable] = lambda items: items,
) -> ImportReport:
    """Load one file's features as districts of one level, in the caller's transaction."""
    rows, skipped = staged_rows(
        path,
        where=where,
        code_field=code_field,
        name_field=name_field,
        population_field=population_field,
        parent=parent,
        parent_field=parent_field,
    )
    if not rows:
        raise GeodataError(f"{path} has no feature with a code and a geometry to import.")
    sql.district_staging.create(connection)
    statement = sql.stage_district()
    for batch in progress(list(batches(rows))):
        connection.execute(statement, batch)
    report = ImportReport(skipped=skipped)
    cut = connection.execute(sql.cut_staged_across_the_antimeridian()).scalars()
    report.cut_at_antimeridian = sorted(cut)
    report.repaired = [tuple(row) for row in connection.execute(sql.select_invalid_staged())]
    without_area = sorted(connection.execute(sql.drop_staged_without_area()).scalars())
    outside = sorted(connection.execute(sql.drop_staged_outside_the_world()).scalars())
    if len(without_area) + len(outside) == len(rows):
        raise GeodataError(f"{path} has no feature whose shape has an area on Earth.")
    for code in without_area:
        report.skipped.append(f"district {code}: its shape has no area (not a polygon)")
    for code in outside:
        report.skipped.append(
            f"district {code}: its shape lies outside longitudes -180..180 and latitudes "
            "-90..90 (a CRS the file does not say, or misread?)"
        )
    connection.execute(sql.upsert_dataset(dataset, attribution, licence, source_url))
    taken = connection.execute(sql.select_staged_of_other_datasets(dataset))
    report.taken_over = [tuple(row) for row in taken]
    merged = connection.execute(
        sql.merge_staged_districts(level, dataset, population_year, population_source)
    ).all()
    credit_population_source(connection, population_source, population_licence, population_url)
    report.inserted = sum(1 for row in merged if row.inserted)
    report.updated = len(merged) - report.inserted
    sql.district_staging.drop(connection)
    return report


def credit_population_source(connection, name, licence, source_url) -> None:
    """Record the licence and address of the population source NAME, where an import gives
    them (one not given keeps what an earlier import said)."""
    if name is not None and (licence is not None or source_url is not None):
        connection.execute(sql.upsert_population_source(name, licence, source_url))


def source_options(source: Source) -> dict:
    """The import_districts() options that a catalogue entry spells out."""
    return {
        "level": source.level,
        "code_field": source.code_field,
        "name_field": source.name_field,
        "dataset": source.name,
        "attribution": source.attribution,
        "licence": source.licence,
        "source_url": source.url,
        "where": source.where,
        "parent": source.parent,
        "parent_field": source.parent_field,
        "population_field": source.population_field,
        "population_year": source.population_year,
        "population_source": source.population_source,
        "population_licence": source.population_licence,
        "population_url": source.population_url,
    }


@dataclass
class PopulationReport:
    matched: int
    unmatched: int
    summed_parents: int
    without_population: int = 0  # rows whose population cell is empty: left out
    # Parents keeping a count of their own rather than their children's sum: (code, own, sum).
    kept_parents: list = field(default_factory=list)


def import_population(
    connection,
    path: str,
    *,
    code_field: str,
    population_field: str,
    year,
    source,
    licence: str | None = None,
    source_url: str | None = None,
) -> PopulationReport:
    """Join populations from a CSV keyed by the official code onto the stored districts."""
    try:
        read = read_population_csv(path, code_field, population_field)
    except UnicodeDecodeError as exc:
        raise GeodataError(f"{path} is not a UTF-8 CSV file: {exc}") from exc
    # Every row is staged: one with an empty cell is still the district's own row (its parent
    # is not summed from its children), but gives no population (the stored one stays).
    sql.population_staging.create(connection)
    staged = [{"code": code, "population": population} for code, population in read.items()]
    for batch in batches(staged, 5000):
        connection.execute(sql.stage_population(), batch)
    matched = connection.execute(sql.join_staged_population(year, source)).all()
    kept = connection.execute(sql.select_parents_keeping_their_count(year, source)).all()
    summed = connection.execute(sql.sum_population_into_parents(year, source)).all()
    sql.population_staging.drop(connection)
    credit_population_source(connection, source, licence, source_url)
    given = sum(population is not None for population in read.values())
    return PopulationReport(
        len(matched), given - len(matched), len(summed), len(read) - given, [tuple(k) for k in kept]
    )


def read_population_csv(path: str, code_field: str, population_field: str) -> dict:
    """Population by code from the CSV at PATH (None where the cell is empty)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:  # one column, an empty file, rows of unequal lengths: commas
            dialect = csv.excel
        reader = csv.DictReader(handle, dialect=dialect)
        options = (("--code-field", code_field), ("--population-field", population_field))
        for option, name in options:
            if name not in (reader.fieldnames or []):
                raise GeodataError(
                    f"{option}: the CSV has no column {name!r}; "
                    f"its columns are {', '.join(reader.fieldnames or [])}."
                )
        populations, lines = {}, {}
        for row in reader:
            code = (row[code_field] or "").strip()  # None: a row shorter than the header
            if not code:
                continue
            line = reader.line_num
            if code in lines:
                raise GeodataError(
                    f"line {line}: code {code} is on line {lines[code]} already; "
                    "one population a district (nothing was changed)."
                )
            lines[code] = line
            populations[code] = as_population(row[population_field], f"line {line} ({code})")
        return populations
