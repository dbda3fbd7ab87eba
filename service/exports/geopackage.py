"""Write query results as the layers of one GeoPackage (OGC), through pyogrio: no Flask here.

Field types follow the columns' SQL types: text, real, integer and UTC date-time fields (to the
millisecond, as GeoPackage keeps them), with NULLs kept as NULLs. Rows are read and written in
batches, so memory does not grow with the data. The file is written beside its final name and
renamed at the end, so a reader never sees a half-written export.
"""

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC
from itertools import chain
from pathlib import Path

import numpy as np
import pyogrio.raw
from sqlalchemy import Connection, Select, types

GDAL_UTC = 100  # GDAL's time zone flag of a UTC date-time
BATCH_ROWS = 10_000
# GeoPackage 1.2: what GDAL 3.6 (Debian 12, QGIS 3.22) reads without a warning; the bundled
# GDAL would write 1.4, whose additions none of these layers uses.
CREATION_OPTIONS = {"GPKG": {"VERSION": "1.2"}}


@dataclass
class Layer:
    name: str
    geometry_type: str  # "Point", "MultiPolygon"...
    statement: Select  # its last column is the geometry, as WKB
    metadata: dict[str, str] | None = None


def field_array(values: tuple, sql_type) -> tuple[np.ndarray, np.ndarray | None]:
    """The values as the numpy array pyogrio writes, and a mask of NULLs where numpy has none."""
    if isinstance(sql_type, types.DateTime):
        naive = [v and v.astimezone(UTC).replace(tzinfo=None) for v in values]
        return np.array(naive, dtype="datetime64[ms]"), None
    if isinstance(sql_type, types.Float):
        return np.array([np.nan if v is None else v for v in values], dtype="float64"), None
    if isinstance(sql_type, types.Integer):
        nulls = np.array([v is None for v in values], dtype=bool)
        return np.array([v or 0 for v in values], dtype="int64"), nulls
    return np.array(values, dtype=object), None


def write_rows(path: Path, layer: Layer, rows: list, *, append: bool, driver: str = "GPKG") -> None:
    """Write ROWS of LAYER's statement to the layer (created unless APPEND)."""
    *fields, _geometry = layer.statement.selected_columns
    columns = list(zip(*rows, strict=True)) or [() for _ in layer.statement.selected_columns]
    arrays, masks, time_zones = [], [], {}
    for field, values in zip(fields, columns, strict=False):
        array, mask = field_array(values, field.type)
        arrays.append(array)
        masks.append(mask)
        if array.dtype.kind == "M":
            time_zones[field.name] = np.full(len(array), GDAL_UTC)
    pyogrio.raw.write(
        str(path),
        np.array([bytes(wkb) for wkb in columns[-1]], dtype=object),
        arrays,
        [field.name for field in fields],
        field_mask=masks,
        layer=layer.name,
        driver=driver,
        geometry_type=layer.geometry_type,
        crs="EPSG:4326",
        gdal_tz_offsets=time_zones,
        layer_metadata=layer.metadata,
        append=append,
        dataset_options=CREATION_OPTIONS.get(driver) if not append else None,
    )


def write_geopackage(
    connection: Connection, path: Path, layers: list[Layer], *, batch_rows: int = BATCH_ROWS
) -> dict[str, int]:
    """Write each layer's rows to the GeoPackage PATH (replaced at the end); count the rows."""
    partial = path.with_name(f".partial.{path.name}")  # GDAL wants the .gpkg extension
    partial.unlink(missing_ok=True)
    counts = {}
    try:
        for layer in layers:
            # An option of this statement only: Connection.execution_options() would change
            # the connection itself (a request's session goes on using it).
            result = connection.execute(
                layer.statement, execution_options={"yield_per": batch_rows}
            )
            batches = result.partitions()
            # The first batch, even empty, creates the layer. The very first write creates the
            # file; every later one adds to it (a new layer, or more rows of the current one).
            for index, rows in enumerate(chain([next(batches, [])], batches)):
                write_rows(partial, layer, rows, append=bool(counts) or index > 0)
                counts[layer.name] = counts.get(layer.name, 0) + len(rows)
        stamped_with_the_day(partial)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return counts


# The start of the day in GeoPackage's time format (GDAL writes the instant, to the millisecond).
TODAY = "strftime('%Y-%m-%dT00:00:00.000Z', 'now')"


def stamped_with_the_day(path: Path) -> None:
    """Times others can read are days (docs/security.md), the GeoPackage's own too: when its
    layers changed (`gpkg_contents.last_change`) and its metadata was written. A file written
    on the first request after a change would tell the minute of that change."""
    with closing(sqlite3.connect(path)) as database, database:
        database.execute(f"UPDATE gpkg_contents SET last_change = {TODAY}")
        references = database.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'gpkg_metadata_reference'"
        ).fetchone()
        if references:
            database.execute(f"UPDATE gpkg_metadata_reference SET timestamp = {TODAY}")


def write_flatgeobuf(connection: Connection, path: Path, layer: Layer) -> int:
    """Write LAYER's rows as the FlatGeobuf PATH (with its spatial index); count them.

    A FlatGeobuf is written at once (its index orders the features): every row is read first.
    """
    rows = connection.execute(layer.statement).all()
    partial = path.with_name(f".partial.{path.name}")
    partial.unlink(missing_ok=True)
    try:
        write_rows(partial, layer, rows, append=False, driver="FlatGeobuf")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return len(rows)
