"""Device counts on a regular hexagonal grid in metres, for heat maps free of borders."""

import math

from sqlalchemy import Float, Select, Text, cast, func, literal, select, true

from .sql import geojson_geometry, sql_string
from .statistics.density import rounded
from .statistics.selection import StatisticsFilter


def utm_srid(bbox: tuple[float, float, float, float]) -> int:
    """The WGS84 UTM zone holding the box's centre: a metric projection where cells are true."""
    min_lon, min_lat, max_lon, max_lat = bbox
    zone = min(60, max(1, int(((min_lon + max_lon) / 2 + 180) // 6) + 1))
    return (32600 if (min_lat + max_lat) / 2 >= 0 else 32700) + zone


def hexagon_area_km2(cell_m: float) -> float:
    """Area of a regular hexagon whose side (and circumradius) is cell_m metres."""
    return 3 * math.sqrt(3) / 2 * cell_m**2 / 1e6


def estimated_cells(bbox, cell_m: float) -> float:
    min_lon, min_lat, max_lon, max_lat = bbox
    metres_per_degree = 111_320
    width = (
        (max_lon - min_lon) * metres_per_degree * math.cos(math.radians((min_lat + max_lat) / 2))
    )
    height = (max_lat - min_lat) * metres_per_degree
    return width * height / 1e6 / hexagon_area_km2(cell_m)


def select_grid(flt: StatisticsFilter, cell_m: float, srid: int) -> Select:
    """A FeatureCollection of the non-empty hexagons, each with its count and density.

    Each device goes to exactly one hexagon (the lowest i, j when it lies on an edge).
    """
    devices = flt.devices()
    projected = func.ST_Transform(devices.c.geom, srid)
    grid = func.ST_HexagonGrid(literal(cell_m), projected).table_valued("i", "j").alias("grid")
    cell = select(grid.c.i, grid.c.j).order_by(grid.c.i, grid.c.j).limit(1).lateral("cell")
    counts = (
        select(cell.c.i, cell.c.j, func.count().label("n"))
        .select_from(devices)
        .join(cell, true())
        .group_by(cell.c.i, cell.c.j)
        .subquery("counts")
    )
    hexagon = func.ST_Transform(
        func.ST_SetSRID(func.ST_Hexagon(literal(cell_m), counts.c.i, counts.c.j), srid), 4326
    )
    properties = func.json_build_object(
        sql_string("i"),
        counts.c.i,
        sql_string("j"),
        counts.c.j,
        sql_string("count"),
        counts.c.n,
        sql_string("per_km2"),
        rounded(cast(counts.c.n, Float) / hexagon_area_km2(cell_m), 4),
    )
    feature = func.concat(
        sql_string('{"type":"Feature","geometry":'),
        geojson_geometry(hexagon),
        sql_string(',"properties":'),
        cast(properties, Text),
        sql_string("}"),
    )
    return select(
        func.coalesce(func.string_agg(feature, sql_string(",")), sql_string("")).label("features"),
        func.count().label("cells"),
        func.coalesce(func.sum(counts.c.n), 0).label("devices"),
    )
