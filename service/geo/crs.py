"""Coordinate reference systems of OGC API Features Part 2: Features and boxes in other CRSs,
transformed by PostGIS.

Devices and districts are stored in EPSG:4326 and served in CRS84 (longitude, latitude), as
RFC 7946 wants. A client may ask for another CRS of SUPPORTED (`crs=`), and give its bbox in
one (`bbox-crs=`). EPSG:4326 itself is latitude first, as its definition orders the axes.
"""

import math
from dataclasses import dataclass

import numpy
from sqlalchemy import Select, Text, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from .sql import COORDINATE_DECIMALS, sql_string

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


# Longitude, latitude: where geographic coordinates lie.
WORLD = (-180.0, -90.0, 180.0, 90.0)
# Web Mercator's x of the antimeridian and y of 85.06° (its area of use), to the last digit
# PROJ gives: EPSG's bounds, rounded to the centimetre, fall 2.8 mm short of the antimeridian.
EARTH_RADIUS_M = 6378137.0
MERCATOR_HALF_WORLD_M = math.pi * EARTH_RADIUS_M
MERCATOR_MAX_Y_M = EARTH_RADIUS_M * math.log(math.tan(math.pi / 4 + math.radians(85.06) / 2))


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    latitude_first: bool = False
    decimals: int = COORDINATE_DECIMALS  # 7 decimals of a degree: about 1 cm
    # x (east) and y (north) bounds of its area of use (EPSG's), x first whatever the axis
    # order: a literal outside them is refused, not projected into nonsense.
    extent: tuple[float, float, float, float] = WORLD

    @property
    def is_storage(self) -> bool:
        return self.srid == 4326 and not self.latitude_first

    @property
    def step(self) -> float:
        """The step of the coordinates served in this CRS (its last decimal)."""
        return 10.0**-self.decimals

    def onto_edges(self, xy: numpy.ndarray) -> numpy.ndarray:
        """Coordinates (x, y rows) within a step of an edge of the area of use, on that edge:
        a device on the antimeridian is served at x 20037508.34 in Web Mercator, and a box
        to there holds it."""
        west, south, east, north = self.extent
        for edge in ((west, south), (east, north)):
            xy = numpy.where(abs(xy - edge) < self.step, edge, xy)
        return xy

    def part_in_area_of_use(self, bbox: tuple) -> tuple | None:
        """A box of this CRS cut to its area of use (None when it lies wholly outside): past
        it, projected coordinates no longer stand for places (Web Mercator's wrap around the
        antimeridian, Lambert-93's and LV95's diverge), and a box larger than the area found
        fewer devices than the area itself. Boxes in degrees are left as they are."""
        if self.srid == 4326:
            return bbox
        corners = self.onto_edges(numpy.array([bbox[:2], bbox[2:]], dtype=float))
        (x0, y0), (x1, y1) = corners.tolist()
        west, south, east, north = self.extent
        cut = (max(x0, west), max(y0, south), min(x1, east), min(y1, north))
        return None if cut[0] > cut[2] or cut[1] > cut[3] else cut


SUPPORTED = {
    crs.uri: crs
    for crs in (
        Crs(CRS84, 4326),
        Crs(f"{EPSG}4326", 4326, latitude_first=True),
        # Web Mercator, metres
        Crs(
            f"{EPSG}3857",
            3857,
            decimals=2,
            extent=(
                -MERCATOR_HALF_WORLD_M,
                -MERCATOR_MAX_Y_M,
                MERCATOR_HALF_WORLD_M,
                MERCATOR_MAX_Y_M,
            ),
        ),
        # RGF93 / Lambert-93 (France), metres
        Crs(
            f"{EPSG}2154", 2154, decimals=2, extent=(-378305.81, 6093283.21, 1212610.74, 7186901.68)
        ),
        # CH1903+ / LV95 (Switzerland), metres
        Crs(
            f"{EPSG}2056", 2056, decimals=2, extent=(2485071.58, 1075346.31, 2837119.8, 1299941.79)
        ),
    )
}


def in_crs(geom: ColumnElement, crs: Crs) -> ColumnElement:
    """GEOM (EPSG:4326) in CRS, axes in the CRS's order."""
    moved = func.ST_Transform(geom, crs.srid)
    return func.ST_FlipCoordinates(moved) if crs.latitude_first else moved


# A projected literal's edges are straight in its CRS, curves in longitude and latitude: they
# are cut every kilometre (or into at most this many pieces) before they are moved to EPSG:4326,
# so that they follow those curves to well within a metre.
DENSIFIED_STEP_M = 1000.0
MAX_DENSIFIED_PIECES = 50_000


def stored_literal(geojson_text: str, length: float, crs: Crs) -> ColumnElement:
    """A GeoJSON geometry given in CRS, x first (flipped already if the CRS is latitude first),
    of LENGTH (its lines' or its rings', in the CRS's units), as the EPSG:4326 geometries are
    stored."""
    geom = func.ST_SetSRID(func.ST_GeomFromGeoJSON(bindparam(None, geojson_text)), crs.srid)
    if crs.srid == 4326:
        return geom
    step = max(DENSIFIED_STEP_M, length / MAX_DENSIFIED_PIECES)
    return func.ST_Transform(func.ST_Segmentize(geom, step), 4326)


def box_in_crs(bbox: tuple[float, float, float, float], crs: Crs) -> ColumnElement:
    """The box (min, min, max, max in the CRS's axis order) as a polygon of that CRS's SRID,
    x first as PostGIS wants."""
    a, b, c, d = (bindparam(None, value) for value in bbox)
    if crs.latitude_first:
        a, b, c, d = b, a, d, c
    return func.ST_MakeEnvelope(a, b, c, d, crs.srid)


def select_storage_box(bbox, crs: Crs) -> Select:
    """The smallest EPSG:4326 box around BBOX of CRS (its edges densified, as they bend)."""
    box = box_in_crs(bbox, crs)
    width, height = func.ST_XMax(box) - func.ST_XMin(box), func.ST_YMax(box) - func.ST_YMin(box)
    step = func.greatest(width, height, 1e-9)  # a box may be a point
    bent = func.ST_Transform(func.ST_Segmentize(box, step / 64), 4326)
    return select(
        func.ST_XMin(bent).label("west"),
        func.ST_YMin(bent).label("south"),
        func.ST_XMax(bent).label("east"),
        func.ST_YMax(bent).label("north"),
    )


def within_box_in_crs(geom: ColumnElement, bbox, crs: Crs) -> ColumnElement:
    """Whether GEOM (EPSG:4326) meets BBOX given in CRS, tested in that CRS."""
    return func.ST_Intersects(func.ST_Transform(geom, crs.srid), box_in_crs(bbox, crs))


def select_features_in_crs(features: str, crs: Crs) -> Select:
    """FEATURES (Feature texts joined by commas, in CRS84) with their geometries in CRS.

    Each Feature is rebuilt from its members in their order (json keeps it, jsonb would not).
    """
    array = sql_string("[") + bindparam("features", features, type_=Text) + sql_string("]")
    elements = (
        func.json_array_elements(cast(array, JSON))
        .table_valued("value", with_ordinality="ord")
        .render_derived("f")
    )
    feature = elements.c.value
    # Options 0: no "crs" member inside each geometry (RFC 7946 has none; Content-Crs says it).
    geometry = func.ST_AsGeoJSON(
        in_crs(func.ST_GeomFromGeoJSON(feature.op("->>")("geometry")), crs), crs.decimals, 0
    )
    rebuilt = func.concat(
        sql_string('{"type":"Feature","id":'),
        cast(feature.op("->")("id"), Text),
        sql_string(',"geometry":'),
        func.coalesce(geometry, sql_string("null")),
        sql_string(',"properties":'),
        cast(feature.op("->")("properties"), Text),
        sql_string("}"),
    )
    joined = func.string_agg(rebuilt, aggregate_order_by(sql_string(","), elements.c.ord))
    return select(func.coalesce(joined, sql_string(""))).select_from(elements)
