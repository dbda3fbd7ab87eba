"""Device counts on a regular hexagonal grid in metres, for heat maps free of borders.

A device belongs to the hexagon that holds it, by hexagon_cell() in PostgreSQL (migration
0018), the one rule whether the counts are read or computed. Every hexagon that meets the bbox
is reported whole, with all its devices, so that its density is its count over its area.
"""

import math
from dataclasses import replace
from decimal import Decimal, localcontext

from sqlalchemy import ARRAY, Integer, Numeric, Select, and_, cast, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ..models import DeviceHexagonCount, GridHexagon
from .sql import METRES_PER_DEGREE, bbox_geometry, comma_joined, geojson_geometry, sql_string
from .statistics.selection import StatisticsFilter

# Hexagon sides whose counts are kept at write time (migration 0018): the grid's default.
KEPT_SIDES_M = (250.0,)
# UTM zones are 6 degrees of longitude wide, from 180 degrees west.
ZONE_WIDTH_DEGREES = 6
# How far from its zone's central meridian a grid may reach: there the projection enlarges
# areas by 15 %; much further, PROJ cannot project a point at all.
MAX_DEGREES_FROM_ZONE = 30
# Polar regions are outside UTM (84°N and 80°S); one bound for both keeps it simple.
MAX_LATITUDE = 80


def utm_srid(bbox: tuple[float, float, float, float]) -> int:
    """The WGS84 UTM zone holding the box's centre: a metric projection where cells are true.

    The same rule as utm_srid(lon, lat) in PostgreSQL, which files each device's counts.
    """
    min_lon, min_lat, max_lon, max_lat = bbox
    zone = min(60, max(1, int(((min_lon + max_lon) / 2 + 180) // ZONE_WIDTH_DEGREES) + 1))
    return (32600 if (min_lat + max_lat) / 2 >= 0 else 32700) + zone


def hexagon_area_km2(cell_m: float) -> float:
    """Area of a regular hexagon whose side (and circumradius) is cell_m metres."""
    return 3 * math.sqrt(3) / 2 * cell_m**2 / 1e6


def hexagons_per_km2(cell_m: float) -> Decimal:
    """How many hexagons of side CELL_M make a km², to 40 digits: a count times this, rounded,
    is its density without a division or a float per hexagon."""
    with localcontext(prec=40):
        side_km = Decimal(cell_m) / 1000
        return 2 / (3 * Decimal(3).sqrt() * side_km**2)


def density_decimals(cell_m: float) -> int:
    """Decimal places of a hexagon's density: 4, or more where one device's would not show
    three significant digits (one device in a 100 km hexagon is 0.0000385 a km², not 0)."""
    return max(4, 2 - hexagons_per_km2(cell_m).adjusted())


def estimated_cells(bbox, cell_m: float) -> float:
    min_lon, min_lat, max_lon, max_lat = bbox
    width = (
        (max_lon - min_lon) * METRES_PER_DEGREE * math.cos(math.radians((min_lat + max_lat) / 2))
    )
    height = (max_lat - min_lat) * METRES_PER_DEGREE
    return width * height / 1e6 / hexagon_area_km2(cell_m)


def reach(bbox, cell_m: float) -> tuple[float, float, float, float]:
    """The bbox grown by twice a hexagon's width: every device of a hexagon that meets the
    bbox lies inside (twice, for the scale error of a projection away from its zone).

    Longitudes may pass ±180 and latitudes ±90: unsuitable_bbox() refuses such grids.
    """
    min_lon, min_lat, max_lon, max_lat = bbox
    margin_lat = 4 * cell_m / METRES_PER_DEGREE
    widest = min(max(abs(min_lat), abs(max_lat)) + margin_lat, MAX_LATITUDE)
    margin_lon = margin_lat / math.cos(math.radians(widest))
    return (min_lon - margin_lon, min_lat - margin_lat, max_lon + margin_lon, max_lat + margin_lat)


def unsuitable_bbox(bbox, cell_m: float) -> str | None:
    """Why hexagons of CELL_M over this bbox cannot be drawn true in its UTM zone, if so."""
    west, south, east, north = reach(bbox, cell_m)
    if bbox[0] > bbox[2]:  # a box across the antimeridian, or longitudes written the wrong way
        return (
            f"minLon {bbox[0]:g} is greater than maxLon {bbox[2]:g}, which would cross the "
            "antimeridian, and the grid does not: give the western longitude first."
        )
    if west < -180 or east > 180:
        return (
            f"The grid does not cross the antimeridian: hexagons of {cell_m:g} m that meet this "
            "bbox would. Keep the bbox off the antimeridian by four hexagons or more."
        )
    if south < -MAX_LATITUDE or north > MAX_LATITUDE:
        return f"The grid is drawn in UTM zones, true only between {MAX_LATITUDE}°S and N."
    central_meridian = -183 + ZONE_WIDTH_DEGREES * (utm_srid(bbox) % 100)
    if max(central_meridian - west, east - central_meridian) > MAX_DEGREES_FROM_ZONE:
        return (
            "The grid is drawn in the UTM zone of the bbox's centre: give a bbox within "
            f"{MAX_DEGREES_FROM_ZONE}° of longitude of its centre's zone."
        )
    return None


def within_zone(bbox, srid: int) -> bool:
    """Whether the whole box lies in the UTM zone SRID (its band and hemisphere): then the
    counts filed under that zone hold every device in it."""
    min_lon, min_lat, max_lon, max_lat = bbox
    zone, north = srid % 100, srid < 32700
    west = -180 + (zone - 1) * ZONE_WIDTH_DEGREES
    in_band = west <= min_lon and max_lon < west + ZONE_WIDTH_DEGREES
    return in_band and (min_lat >= 0 if north else max_lat < 0)


def counts_answer(flt: StatisticsFilter, bbox, cell_m: float, srid: int) -> bool:
    """Whether the kept counts answer this grid: a kept side, the map now, one UTM zone."""
    return cell_m in KEPT_SIDES_M and flt.at is None and within_zone(reach(bbox, cell_m), srid)


def kept_hexagons(flt: StatisticsFilter, bbox, cell_m: float, srid: int):
    """(i, j, n, geom, geometry_json) of the hexagons in reach of the bbox, summed from
    device_hexagon_counts, with their polygons and GeoJSON from grid_hexagons."""
    counts = DeviceHexagonCount.__table__
    box = func.ST_Transform(func.ST_Segmentize(func.ST_MakeEnvelope(*bbox, 4326), 0.01), srid)
    column_m, row_m = 1.5 * cell_m, math.sqrt(3) * cell_m
    box_ranges = select(
        cast(func.floor(func.ST_XMin(box) / column_m - 1), Integer).label("min_i"),
        cast(func.ceil(func.ST_XMax(box) / column_m + 1), Integer).label("max_i"),
        cast(func.floor(func.ST_YMin(box) / row_m - 1), Integer).label("min_j"),
        cast(func.ceil(func.ST_YMax(box) / row_m + 1), Integer).label("max_j"),
    ).subquery("box_ranges")

    def in_box(table) -> list:
        """The rows of TABLE for this side, zone and the box's range (index order: i, j)."""
        return [
            table.c.side_m == int(cell_m),
            table.c.srid == srid,
            table.c.i.between(box_ranges.c.min_i, box_ranges.c.max_i),
            table.c.j.between(box_ranges.c.min_j, box_ranges.c.max_j),
        ]

    summed = (
        select(counts.c.i, counts.c.j, func.sum(counts.c.n).label("n"))
        .join(box_ranges, and_(*in_box(counts)))
        .where(*flt.count_clauses(counts))
        .group_by(counts.c.i, counts.c.j)
        .subquery("counts")
    )
    # Both read in (i, j) order over the same range: a merge join, not a probe per hexagon.
    hexagons = GridHexagon.__table__
    return (
        select(summed.c.i, summed.c.j, summed.c.n, hexagons.c.geom, hexagons.c.geometry_json)
        .join(box_ranges, and_(*in_box(hexagons)))
        .join(summed, and_(hexagons.c.i == summed.c.i, hexagons.c.j == summed.c.j))
        .subquery("hexagons")
    )


def placed_hexagons(flt: StatisticsFilter, bbox, cell_m: float, srid: int):
    """(i, j, n, geom, geometry_json) of the hexagons of the devices in reach of the bbox,
    each device placed now (any side, any date, any zone)."""
    devices = replace(flt, bboxes=[reach(bbox, cell_m)]).devices()
    # Materialized: hexagon_cell's expression reads x and y many times, not the projection.
    points = (
        select(
            func.ST_X(func.ST_Transform(devices.c.geom, srid)).label("x"),
            func.ST_Y(func.ST_Transform(devices.c.geom, srid)).label("y"),
        )
        .cte("points")
        .prefix_with("MATERIALIZED")
    )
    cell = func.hexagon_cell(points.c.x, points.c.y, literal(cell_m), type_=ARRAY(Integer))
    placed = select(cell.label("cell")).subquery("placed")
    i, j = placed.c.cell[1], placed.c.cell[2]
    counts = select(i.label("i"), j.label("j"), func.count().label("n")).group_by(i, j).subquery()
    polygon = func.ST_SetSRID(func.ST_Hexagon(literal(cell_m), counts.c.i, counts.c.j), srid)
    # Materialized: each polygon is projected once, for the bbox test and the answer.
    hexagons = (
        select(counts, func.ST_Transform(polygon, 4326).label("geom"))
        .cte("placed_hexagons")
        .prefix_with("MATERIALIZED")
    )
    return select(hexagons, geojson_geometry(hexagons.c.geom).label("geometry_json")).subquery()


def select_grid(
    flt: StatisticsFilter, bbox, cell_m: float, srid: int, from_scratch: bool = False
) -> Select:
    """A FeatureCollection's features and its number of devices: the non-empty hexagons that
    meet the bbox, each with its count and density.

    FROM_SCRATCH places every device instead of reading the kept counts (for comparisons).
    """
    read_counts = not from_scratch and counts_answer(flt, bbox, cell_m, srid)
    hexagons = (kept_hexagons if read_counts else placed_hexagons)(flt, bbox, cell_m, srid)
    # The count times an exact decimal: half the cost of rounding a float quotient, which
    # PostgreSQL turns into numeric through its text.
    per_km2 = func.round(
        hexagons.c.n * literal(hexagons_per_km2(cell_m), Numeric), density_decimals(cell_m)
    )
    properties = func.concat(
        *(sql_string('{"i":'), hexagons.c.i, sql_string(',"j":'), hexagons.c.j),
        *(sql_string(',"count":'), hexagons.c.n, sql_string(',"per_km2":'), per_km2),
        sql_string("}"),
    )
    feature = func.concat(
        sql_string('{"type":"Feature","geometry":'),
        hexagons.c.geometry_json,
        sql_string(',"properties":'),
        properties,
        sql_string("}"),
    )
    return select(
        comma_joined(feature, hexagons.c.i, hexagons.c.j).label("features"),
        func.coalesce(func.sum(hexagons.c.n), 0).label("devices"),
    ).where(meets_box(hexagons.c.geom, bbox))


def meets_box(polygon: ColumnElement, bbox) -> ColumnElement:
    """Whether the hexagon POLYGON meets the bbox. A hexagon whose bounding box lies inside
    the bbox's is decided from its header; only those along the edges are tested whole. Both
    boxes are rounded outwards to floats, by under 2 m: no hexagon (17 m wide at least) fits
    in between."""
    box = bbox_geometry(bbox)
    return or_(polygon.op("@")(box), func.ST_Intersects(polygon, box))
