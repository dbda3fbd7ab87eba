"""Read a declared list of surveillance sites (GeoJSON, GeoPackage, Shapefile or CSV) into rows.

Every row is checked before anything is stored; a refused file is reported row by row (the
line of a CSV, the feature's number otherwise) with the reason. See docs/declared.md.
"""

import csv
import datetime as dt
import hashlib
import math
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyogrio.raw
import shapely
from sqlalchemy import Float, Integer, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from service import vocabulary as vocab
from service.geo.declared import imports as sql
from service.geo.declared.matching import DEFAULT_MATCH_DISTANCE_M, MAX_MATCH_DISTANCE_M
from service.models import DeclaredDataset, DeclaredSite, DeclaredVersion

from .importer import BATCH_SIZE, as_code, is_missing, no_field, source_srid

CSV_SUFFIXES = (".csv",)
OGR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")
LONGITUDE_NAMES = ("lon", "lng", "long", "longitude", "x")
LATITUDE_NAMES = ("lat", "latitude", "y")
KIND_SEPARATORS = re.compile(r"[,;|/+]")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%Y/%m/%d")
MAX_REPORTED_PROBLEMS = 200
MAX_DECLARED_COUNT = 10_000


class DeclaredFileError(Exception):
    """The file cannot be imported; PROBLEMS are (line, reason) pairs, row by row."""

    def __init__(self, message: str, problems: list[tuple[int, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class DeclaredFields:
    """Which of the file's fields say what (None: the file has no such field)."""

    id_field: str
    kind_field: str | None = None
    kind: str | None = None  # the kind of every site whose row names none
    count_field: str | None = None
    address_field: str | None = None
    commissioned_field: str | None = None
    lon_field: str | None = None
    lat_field: str | None = None
    wkt_field: str | None = None


@dataclass
class DeclaredRow:
    line: int
    source_id: str
    lon: float
    lat: float
    kinds: list[str]
    compatible_kinds: list[str]
    declared_count: int
    address: str | None
    commissioned: str | None
    commissioned_on: dt.date | None
    attributes: dict = field(default_factory=dict)


@dataclass
class DeclaredFile:
    sha256: str
    rows: list[DeclaredRow]
    unit: str  # what a row's number counts: "line" (CSV) or "feature"


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def declared_kind(word: str) -> str | None:
    return vocab.DECLARED_KIND_WORDS.get(word.strip().lower().replace(" ", "_").replace("-", "_"))


def check_default_kind(kind: str | None) -> str | None:
    if kind is None:
        return None
    known = declared_kind(kind)
    if known is None:
        raise DeclaredFileError(
            f"--kind: unknown kind {kind!r}; known: {', '.join(vocab.KIND_NAMES)}."
        )
    return known


def plain(value):
    """A value of the file as JSON can hold it (GDAL gives numpy scalars, NaN for null, and
    arrays for lists, which stay lists, of one item too)."""
    if isinstance(value, list | tuple) or getattr(value, "ndim", 0) > 0:
        return [plain(item) for item in value]
    if is_missing(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def text_of(value) -> str | None:
    value = plain(value)
    if isinstance(value, list):  # a list of kinds, say: its items as one text
        value = ", ".join(text for text in map(text_of, value) if text is not None)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def parse_date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    for pattern in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return spreadsheet_date(text)


# A date a spreadsheet wrote as its serial number, its column's format lost on the way (259 of
# the 707 sites of the Paris police list, "40917"): days since 1899-12-30, the epoch of Excel's
# serials and LibreOffice's. From 1950 to today only: any other number is no commissioning date.
SPREADSHEET_EPOCH = dt.date(1899, 12, 30)
FIRST_SERIAL_DATE = (dt.date(1950, 1, 1) - SPREADSHEET_EPOCH).days


def spreadsheet_date(text: str) -> dt.date | None:
    today = (dt.date.today() - SPREADSHEET_EPOCH).days
    if not (text.isascii() and text.isdigit() and FIRST_SERIAL_DATE <= int(text) <= today):
        return None
    return SPREADSHEET_EPOCH + dt.timedelta(days=int(text))


class RowReader:
    """Turns one record (field name -> value) and its point into a DeclaredRow, or a reason."""

    def __init__(self, fields: DeclaredFields, names: list[str]):
        self.fields = fields
        self.default_kind = check_default_kind(fields.kind)
        options = {
            "--id-field": fields.id_field,
            "--kind-field": fields.kind_field,
            "--count-field": fields.count_field,
            "--address-field": fields.address_field,
            "--commissioned-field": fields.commissioned_field,
        }
        for option, name in options.items():
            if name is not None and name not in names:
                raise DeclaredFileError(no_field(option, name, names))
        if fields.kind_field is None and self.default_kind is None:
            raise DeclaredFileError("Give --kind-field, or --kind for sites whose row names none.")
        self.seen: dict[str, int] = {}

    def kinds(self, record: dict) -> list[str]:
        text = text_of(record.get(self.fields.kind_field)) if self.fields.kind_field else None
        if text is None:
            if self.default_kind is None:
                raise ValueError("no kind (and no --kind for such rows)")
            return [self.default_kind]
        kinds = []
        for word in filter(None, (w.strip() for w in KIND_SEPARATORS.split(text))):
            kind = declared_kind(word)
            if kind is None:
                raise ValueError(f"unknown kind {word!r}; known: {', '.join(vocab.KIND_NAMES)}")
            if kind not in kinds:
                kinds.append(kind)
        return kinds or [self.default_kind or "camera"]

    def count(self, record: dict) -> int:
        if self.fields.count_field is None:
            return 1
        text = text_of(record.get(self.fields.count_field))
        if text is None:
            return 1
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise ValueError(f"declared count {text!r} is not a number") from None
        if not number.is_integer() or not 1 <= number <= MAX_DECLARED_COUNT:
            raise ValueError(f"declared count {text!r} is not a whole number from 1 to 10000")
        return int(number)

    def source_id(self, line: int, record: dict) -> str:
        source_id = as_code(plain(record.get(self.fields.id_field)))
        if source_id is None:
            raise ValueError(f"no source id in {self.fields.id_field!r}")
        if source_id in self.seen:
            raise ValueError(f"source id {source_id!r} is already on row {self.seen[source_id]}")
        self.seen[source_id] = line
        return source_id

    @staticmethod
    def position(point: tuple[float, float] | None) -> tuple[float, float]:
        if point is None:
            raise ValueError("missing coordinates")
        lon, lat = point
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValueError("coordinates are not numbers")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(
                f"coordinates ({lon}, {lat}) are outside the world (longitude, latitude)"
            )
        return lon, lat

    def row(self, line: int, record: dict, point: tuple[float, float] | None) -> DeclaredRow:
        """The row, or ValueError saying everything that is wrong with it (each field is
        checked, so that one report lists every fault to correct)."""
        faults: list[str] = []

        def checked(read):
            try:
                return read()
            except ValueError as exc:
                faults.append(str(exc))
                return None

        source_id = checked(lambda: self.source_id(line, record))
        position = checked(lambda: self.position(point))
        kinds = checked(lambda: self.kinds(record))
        declared_count = checked(lambda: self.count(record))
        if faults:
            raise ValueError("; ".join(faults))
        lon, lat = position
        compatible = sorted({c for kind in kinds for c in vocab.COMPATIBLE_KINDS[kind]})
        named = {
            self.fields.id_field,
            self.fields.kind_field,
            self.fields.count_field,
            self.fields.address_field,
            self.fields.commissioned_field,
            self.fields.lon_field,
            self.fields.lat_field,
            self.fields.wkt_field,
        }
        commissioned = (
            text_of(record.get(self.fields.commissioned_field))
            if self.fields.commissioned_field
            else None
        )
        return DeclaredRow(
            line=line,
            source_id=source_id,
            lon=lon,
            lat=lat,
            kinds=kinds,
            compatible_kinds=compatible,
            declared_count=declared_count,
            address=(
                text_of(record.get(self.fields.address_field))
                if self.fields.address_field
                else None
            ),
            commissioned=commissioned,
            commissioned_on=parse_date(commissioned),
            # A column only some rows fill is null in the others: such nulls say nothing, and
            # kept, a new column in a later version would mark every site as changed.
            attributes={
                k: value
                for k, v in record.items()
                if k not in named and (value := plain(v)) is not None
            },
        )


def point_of_wkb(wkb) -> tuple[float, float] | None:
    if wkb is None:
        return None
    geometry = shapely.from_wkb(bytes(wkb))
    return point_of(geometry)


def point_of(geometry) -> tuple[float, float] | None:
    if geometry is None or geometry.is_empty:
        return None
    if geometry.geom_type == "MultiPoint" and len(geometry.geoms) == 1:
        geometry = geometry.geoms[0]
    if geometry.geom_type != "Point":
        raise ValueError(f"a {geometry.geom_type} is not a site: give one point per site")
    return geometry.x, geometry.y


def csv_point(record: dict, fields: DeclaredFields) -> tuple[float, float] | None:
    if fields.wkt_field is not None:
        text = text_of(record.get(fields.wkt_field))
        if text is None:
            return None
        try:
            geometry = shapely.from_wkt(text)
        except shapely.errors.GEOSException:
            raise ValueError(f"{fields.wkt_field!r} is not WKT: {text[:80]!r}") from None
        return point_of(geometry)
    lon, lat = text_of(record.get(fields.lon_field)), text_of(record.get(fields.lat_field))
    if lon is None or lat is None:
        return None
    try:
        return float(lon.replace(",", ".")), float(lat.replace(",", "."))
    except ValueError:
        raise ValueError(f"coordinates ({lon!r}, {lat!r}) are not numbers") from None


def csv_fields(fields: DeclaredFields, names: list[str]) -> DeclaredFields:
    """FIELDS with the coordinate columns found (WKT, or longitude and latitude)."""
    if fields.wkt_field is not None:
        if fields.wkt_field not in names:
            raise DeclaredFileError(f"--wkt-field: the CSV has no column {fields.wkt_field!r}.")
        return fields
    lowered = {name.lower(): name for name in names}

    def find(given, guesses, option):
        if given is not None:
            if given not in names:
                raise DeclaredFileError(f"{option}: the CSV has no column {given!r}.")
            return given
        found = next((lowered[g] for g in guesses if g in lowered), None)
        if found is None:
            raise DeclaredFileError(
                f"The CSV has no coordinates: give --lon-field and --lat-field, or --wkt-field; "
                f"its columns are {', '.join(names)}."
            )
        return found

    return DeclaredFields(
        **{
            **fields.__dict__,
            "lon_field": find(fields.lon_field, LONGITUDE_NAMES, "--lon-field"),
            "lat_field": find(fields.lat_field, LATITUDE_NAMES, "--lat-field"),
        }
    )


def read_csv(path: str, fields: DeclaredFields):
    """(line, record, point or ValueError) of each row of a CSV, and the reader."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        sample = handle.read(65536)
        handle.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(handle, dialect=dialect)
        names = list(reader.fieldnames or [])
        if not names:
            raise DeclaredFileError(f"{Path(path).name} holds no site (the CSV has no header).")
        fields = csv_fields(fields, names)
        records = []
        for record in reader:
            try:
                point = csv_point(record, fields)
            except ValueError as exc:
                point = exc
            records.append((reader.line_num, record, point))
    return fields, names, records


def read_ogr(path: str):
    """(feature number, record, point or ValueError) of each feature, the field names, SRID."""
    try:
        meta, _fids, geometries, columns = pyogrio.raw.read(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError, FieldError, ...
        raise DeclaredFileError(f"Cannot read {Path(path).name}: {exc}") from exc
    names = list(meta["fields"])
    srid = source_srid(meta.get("crs"))
    records = []
    for i, wkb in enumerate(geometries):
        record = {name: columns[j][i] for j, name in enumerate(names)}
        try:
            point = point_of_wkb(wkb)
        except ValueError as exc:
            point = exc
        records.append((i + 1, record, point))
    return names, srid, records


def to_wgs84(connection, records: list, srid: int) -> list:
    """The records with their points reprojected from SRID to WGS84, in one statement."""
    indices = [i for i, (_, _, p) in enumerate(records) if isinstance(p, tuple)]
    if srid == 4326 or not indices:
        return records
    xs = [records[i][2][0] for i in indices]
    ys = [records[i][2][1] for i in indices]
    point = func.ST_Transform(
        func.ST_SetSRID(
            func.ST_MakePoint(
                func.unnest(bindparam("xs", xs, type_=ARRAY(Float))),
                func.unnest(bindparam("ys", ys, type_=ARRAY(Float))),
            ),
            bindparam("srid", srid, type_=Integer),
        ),
        4326,
    )
    points = select(point.label("p")).subquery()
    moved = connection.execute(select(func.ST_X(points.c.p), func.ST_Y(points.c.p))).all()
    records = list(records)
    for i, (lon, lat) in zip(indices, moved, strict=True):
        records[i] = (records[i][0], records[i][1], (lon, lat))
    return records


def read_declared_file(connection, path: str, fields: DeclaredFields) -> DeclaredFile:
    """Every row of the file checked, or DeclaredFileError with each refused row and why."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in CSV_SUFFIXES + OGR_SUFFIXES:
        raise DeclaredFileError(
            f"{file.name}: unsupported format {suffix or '(no extension)'}; give a GeoJSON, "
            f"GeoPackage, Shapefile or CSV file."
        )
    if file.stat().st_size == 0:
        raise DeclaredFileError(f"{file.name} is empty.")
    if suffix in CSV_SUFFIXES:
        try:
            fields, names, records = read_csv(path, fields)
        except UnicodeDecodeError as exc:
            raise DeclaredFileError(f"{file.name} is not a UTF-8 CSV file: {exc}") from exc
        unit = "line"
    else:
        names, srid, records = read_ogr(path)
        records = to_wgs84(connection, records, srid)
        unit = "feature"
    if not records:
        raise DeclaredFileError(f"{file.name} holds no site.")
    reader = RowReader(fields, names)
    rows, problems = [], []
    for line, record, point in records:
        try:
            if isinstance(point, ValueError):
                raise point
            rows.append(reader.row(line, record, point))
        except ValueError as exc:
            problems.append((line, str(exc)))
    if problems:
        shown = problems[:MAX_REPORTED_PROBLEMS]
        more = len(problems) - len(shown)
        raise DeclaredFileError(
            f"{file.name}: {len(problems)} of {len(records)} rows refused; nothing was imported"
            + (f" (the first {len(shown)} are listed)" if more else "")
            + ".",
            [(line, f"{unit} {line}: {reason}") for line, reason in shown],
        )
    return DeclaredFile(sha256=file_sha256(path), rows=rows, unit=unit)


@dataclass
class DeclaredImportReport:
    dataset: str
    version: int
    sites: int
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: bool = False


def import_declared(
    connection,
    path: str,
    *,
    name: str,
    publisher: str | None,
    fields: DeclaredFields,
    published_on: dt.date | None = None,
    source_url: str | None = None,
    licence: str | None = None,
    distance_m: float | None = None,
) -> DeclaredImportReport:
    """Store a version of a declared list in the caller's transaction, all or nothing.

    A new version records which source ids it added, removed and changed, and matches only the
    sites it added or changed (all of them when the distance changed). The same file read with
    other options (another --kind, an --address-field forgotten before) is a new version too;
    nothing is stored when neither the file, the sites read, the distance nor the provenance
    changed. A
    provenance not given (--publisher, --licence, --source-url, --published) keeps the stored
    one; a new list needs its publisher, whom its credit names.
    """
    if distance_m is not None and not 0 < distance_m <= MAX_MATCH_DISTANCE_M:
        raise DeclaredFileError(f"--distance: {distance_m} is not in (0, 1000] metres.")
    read = read_declared_file(connection, path, fields)
    existing = connection.execute(
        select(DeclaredDataset).where(DeclaredDataset.name == name).with_for_update()
    ).first()
    if publisher is not None and not publisher.strip():
        raise DeclaredFileError("--publisher is empty: say who published the list.")
    if existing is None and publisher is None:
        raise DeclaredFileError(f"{name} is a new list: --publisher must say who published it.")
    distance = distance_m or (existing.match_distance_m if existing else DEFAULT_MATCH_DISTANCE_M)
    given = {
        "publisher": publisher,
        "published_on": published_on,
        "source_url": source_url,
        "licence": licence,
    }
    provenance = {
        member: value if value is not None or existing is None else getattr(existing, member)
        for member, value in given.items()
    }
    dataset_id = existing.id if existing is not None else uuid.uuid4()
    sql.declared_staging.create(connection)
    for start in range(0, len(read.rows), BATCH_SIZE):
        batch = read.rows[start : start + BATCH_SIZE]
        connection.execute(sql.stage_site(), [row.__dict__ for row in batch])
    changes: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
    for source_id, change in connection.execute(sql.select_diff(dataset_id)):
        changes[change].append(source_id)
    if (
        existing is not None
        and existing.sha256 == read.sha256  # the same bytes: the same lines, the same record
        and not any(changes.values())
        and existing.match_distance_m == distance
        and all(getattr(existing, member) == value for member, value in provenance.items())
    ):
        sql.declared_staging.drop(connection)
        return DeclaredImportReport(name, existing.version, len(read.rows), unchanged=True)
    provenance["sha256"] = read.sha256
    if existing is None:
        version = 1
        connection.execute(
            insert(DeclaredDataset).values(
                id=dataset_id, name=name, version=version, match_distance_m=distance, **provenance
            )
        )
    else:
        version = existing.version + 1
        connection.execute(
            update(DeclaredDataset)
            .where(DeclaredDataset.id == dataset_id)
            .values(
                version=version, match_distance_m=distance, imported_at=func.now(), **provenance
            )
        )
    connection.execute(sql.delete_removed_sites(dataset_id, changes["removed"]))
    connection.execute(sql.update_sites(dataset_id))
    connection.execute(sql.insert_added_sites(dataset_id, changes["added"]))
    rematched = (
        None
        if existing is None or existing.match_distance_m != distance
        else (changes["added"] + changes["changed"])
    )
    if rematched is None or rematched:
        connection.execute(sql.delete_site_matches(dataset_id, rematched))
        connection.execute(sql.match_sites(dataset_id, rematched))
    connection.execute(
        insert(DeclaredVersion).values(
            dataset_id=dataset_id, version=version, sites=len(read.rows), **provenance, **changes
        )
    )
    sql.declared_staging.drop(connection)
    return DeclaredImportReport(name, version, len(read.rows), **changes)


def remove_declared(connection, name: str) -> int:
    """Remove the list NAME, with its sites, their matches and its versions (a cascade, whose
    deletions move the statistics' data version); the number of sites it held."""
    sites = (
        select(func.count(DeclaredSite.id))
        .join(DeclaredDataset, DeclaredDataset.id == DeclaredSite.dataset_id)
        .where(DeclaredDataset.name == name)
    )
    held = connection.execute(sites).scalar_one()
    removed = connection.execute(
        delete(DeclaredDataset).where(DeclaredDataset.name == name).returning(DeclaredDataset.id)
    ).first()
    if removed is None:
        raise DeclaredFileError(f"No declared list is named {name!r}.")
    return held
