"""Devices near a point: duplicate candidates of a new pin, and the moderation queue."""

import math
import uuid

from sqlalchemy import (
    ARRAY,
    JSON,
    Integer,
    Numeric,
    Select,
    Text,
    and_,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ...models import Device, User
from ...visibility import Viewer, visible_clause
from ..photos import device_photos_json, pending_photos_json
from ..sql import sql_string
from .features import PHOTO_BASE, PUBLIC_FEATURE

EARTH_RADIUS_M = 6371008.8  # the sphere PostGIS measures geography on when use_spheroid=false


def point_expression(lon: float, lat: float) -> ColumnElement:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


def near_clause(geom, point, distance_m: float) -> ColumnElement:
    """Within DISTANCE_M metres of POINT on the sphere.

    The bounding-box test (metres turned into degrees at the point's latitude) lets the GiST
    index do the work; ST_DWithin on geography then measures exactly. Near the antimeridian
    the box also stands on the other side (a point at 179.99999° is 2 m from one at
    -179.99999°).
    """
    degrees = math.degrees(distance_m / EARTH_RADIUS_M) / func.greatest(
        0.01, func.cos(func.radians(func.ST_Y(point)))
    )
    boxes = [
        geom.op("&&")(func.ST_Expand(func.ST_Translate(point, shift, 0), degrees))
        for shift in (0, 360, -360)
    ]
    return and_(
        or_(*boxes),
        func.ST_DWithin(func.geography(geom), func.geography(point), distance_m, False),
    )


# Cells of the grid whose advisory locks serialise duplicate checks: a cell is 0.01° a side
# (about 1 km), a pin's check locks every cell within DUPLICATE_DISTANCE_M of it.
AREA_CELL_DEGREES = 0.01


def area_cells(lon: float, lat: float, distance_m: float) -> list[tuple[int, int]]:
    """The grid cells (column, row) within DISTANCE_M of (LON, LAT), sorted: every check takes
    its locks in one order, so that no two wait for each other. Two points DISTANCE_M apart
    share a cell, as each one's cells include the other's own."""
    margin = 1.01 * math.degrees(distance_m / EARTH_RADIUS_M)
    lon_margin = min(180, margin / max(0.01, math.cos(math.radians(lat))))
    columns = round(360 / AREA_CELL_DEGREES)  # the antimeridian's two sides are one area

    def steps(low: float, high: float, origin: int) -> range:
        return range(
            math.floor((low + origin) / AREA_CELL_DEGREES),
            math.floor((high + origin) / AREA_CELL_DEGREES) + 1,
        )

    return sorted(
        {
            (column % columns, row)
            for column in steps(lon - lon_margin, lon + lon_margin, 180)
            for row in steps(lat - margin, lat + margin, 90)
        }
    )


def lock_area_statement(cells: list[tuple[int, int]]) -> Select:
    """Take, until the transaction ends, the advisory lock of each of CELLS in their order
    (the two-key locks: no lock of a single key, as other checks take, is one of them)."""
    columns, rows = zip(*cells, strict=True)
    cell = (
        func.unnest(cast(list(columns), ARRAY(Integer)), cast(list(rows), ARRAY(Integer)))
        .table_valued("column_index", "row_index")
        .render_derived()
    )
    return select(func.pg_advisory_xact_lock(cell.c.column_index, cell.c.row_index))


def distance_to(point) -> ColumnElement:
    return func.ST_Distance(func.geography(Device.geom), func.geography(point), False)


def select_distance_m(first: uuid.UUID, second: uuid.UUID) -> Select:
    """The distance between two devices, in metres on the sphere."""
    other = aliased(Device, name="other")
    return (
        select(func.ST_Distance(func.geography(Device.geom), func.geography(other.geom), False))
        .where(Device.id == first)
        .join(other, other.id == second)
    )


def candidate_clauses(of_kind, point, distance_m: float, exclude=None) -> list[ColumnElement]:
    """Live, non-rejected devices of the same kind within DISTANCE_M metres."""
    clauses = [
        Device.deleted_at.is_(None),
        Device.review_status != "rejected",
        Device.kind == of_kind,
        near_clause(Device.geom, point, distance_m),
    ]
    return [*clauses, Device.id != exclude] if exclude is not None else clauses


def select_duplicate_candidates(
    kind: str,
    lon: float,
    lat: float,
    distance_m: float,
    viewer: Viewer,
    exclude: uuid.UUID | None = None,
) -> Select:
    """Possible duplicates of a new pin (other than itself) that VIEWER may see, nearest first,
    with their photos: another contributor's pending pin is neither revealed nor offered to
    confirm (service/visibility.py); moderators merge such pins from their queue.

    Parameter `photo_base`.
    """
    point = point_expression(lon, lat)
    yours = Device.created_by == viewer.id if viewer.id is not None else false()
    return (
        select(
            Device.id,
            Device.kind,
            Device.review_status,
            func.round(cast(distance_to(point), Numeric), 2).label("distance_m"),
            device_photos_json(PHOTO_BASE).label("photos"),
            func.coalesce(yours, false()).label("yours"),
        )
        .where(*candidate_clauses(kind, point, distance_m, exclude), visible_clause(viewer))
        .order_by(distance_to(point))
    )


def select_moderation_queue(limit: int, distance_m: float) -> Select:
    """Pending pins, oldest first, each with its duplicate candidates, and the photos awaiting
    review, as one JSON text.

    Parameter `photo_base`.
    """
    pending = aliased(Device, name="pending")
    distance = distance_to(pending.geom)
    candidate_json = (
        select(
            func.coalesce(
                func.json_agg(
                    aggregate_order_by(
                        func.json_build_object(
                            sql_string("id"),
                            Device.id,
                            sql_string("kind"),
                            Device.kind,
                            sql_string("review_status"),
                            Device.review_status,
                            sql_string("distance_m"),
                            func.round(cast(distance, Numeric), 2),
                            sql_string("photos"),
                            device_photos_json(PHOTO_BASE),
                        ),
                        distance,
                    )
                ),
                literal_column("'[]'::json"),
            )
        )
        .where(*candidate_clauses(pending.kind, pending.geom, distance_m, exclude=pending.id))
        .correlate(pending)
        .scalar_subquery()
    )
    feature = select(PUBLIC_FEATURE).where(Device.id == pending.id).scalar_subquery()
    author = select(User.username).where(User.id == pending.created_by).scalar_subquery()
    items = (
        select(
            func.json_build_object(
                sql_string("device"),
                cast(feature, JSON),
                sql_string("author"),
                author,
                sql_string("duplicate_candidates"),
                candidate_json,
            ).label("item"),
            pending.created_at,
            pending.id,
        )
        .where(pending.review_status == "pending", pending.deleted_at.is_(None))
        .order_by(pending.created_at, pending.id)
        .limit(limit)
        .subquery("items")
    )
    return select(
        cast(
            func.json_build_object(
                sql_string("items"),
                func.coalesce(
                    func.json_agg(aggregate_order_by(items.c.item, items.c.created_at, items.c.id)),
                    literal_column("'[]'::json"),
                ),
                sql_string("photos"),
                pending_photos_json(PHOTO_BASE, limit),
            ),
            Text,
        )
    )
