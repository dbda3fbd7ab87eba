"""Statements that build device GeoJSON inside PostGIS and hand back ready-made text."""

import functools
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, Text, and_, cast, func, literal_column, or_, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ..models import Device

COORDINATE_DECIMALS = 7  # about 1 cm: more digits only add bytes (RFC 7946 section 11.2)

# Properties served for every device, in this order; the column of the same name holds each.
PUBLIC_PROPERTIES = (
    "kind",
    "camera_type",
    "mount",
    "direction",
    "angle",
    "height",
    "zone",
    "surveillance",
    "operator",
    "operator_type",
    "status",
    "observed_at",
    "accuracy_m",
    "notes",
    "source",
    "tags",
    "review_status",
    "created_at",
    "updated_at",
)


def sql_string(value: str) -> ColumnElement:
    """A constant string written into the statement (never user input)."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def device_properties_json() -> ColumnElement:
    """The public properties of the row at hand as one JSON object, in PUBLIC_PROPERTIES order.

    row_to_json of a correlated row is cheaper than json_build_object and writes no spaces.
    """
    row = select(*(getattr(Device, name) for name in PUBLIC_PROPERTIES)).correlate(Device)
    return (
        select(func.row_to_json(literal_column("p")))
        .select_from(row.subquery("p"))
        .scalar_subquery()
    )


@functools.cache  # an immutable expression: built once, reused by every statement
def device_feature_text() -> ColumnElement:
    """One RFC 7946 Feature as JSON text, assembled by PostgreSQL."""
    return func.concat(
        sql_string('{"type":"Feature","id":"'),
        cast(Device.id, Text),
        sql_string('","geometry":'),
        func.ST_AsGeoJSON(Device.geom, COORDINATE_DECIMALS),
        sql_string(',"properties":'),
        cast(device_properties_json(), Text),
        sql_string("}"),
    )


def device_time() -> ColumnElement:
    """The instant a device is known at: when it was observed, else when it last changed."""
    return func.coalesce(Device.observed_at, Device.updated_at)


def within_bboxes(geometry: ColumnElement, bboxes) -> ColumnElement:
    """Whether the geometry's box meets any of the boxes (uses the GiST index)."""
    return or_(*(geometry.op("&&")(func.ST_MakeEnvelope(*bbox, 4326)) for bbox in bboxes))


def within_interval(instant: ColumnElement, interval) -> list[ColumnElement]:
    """Clauses keeping instants inside a closed interval; None leaves that end open."""
    start, end = interval
    clauses = []
    if start is not None:
        clauses.append(instant >= start)
    if end is not None:
        clauses.append(instant <= end)
    return clauses


@dataclass
class DeviceFilter:
    """What a client may filter devices on; empty means no filter."""

    bboxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    operator_types: list[str] = field(default_factory=list)
    updated_since: datetime | None = None
    # Closed interval on device_time(); either end may be None (open).
    interval: tuple[datetime | None, datetime | None] | None = None
    # Further conditions already built on whitelisted columns (property filters, CQL2).
    conditions: list[ColumnElement] = field(default_factory=list)

    def clauses(self) -> list[ColumnElement]:
        clauses = [Device.deleted_at.is_(None)]
        if self.bboxes:
            clauses.append(within_bboxes(Device.geom, self.bboxes))
        for column, values in (
            (Device.kind, self.kinds),
            (Device.status, self.statuses),
            (Device.operator_type, self.operator_types),
        ):
            if values:
                clauses.append(column.in_(values))
        if self.updated_since is not None:
            clauses.append(Device.updated_at > self.updated_since)
        if self.interval is not None:
            clauses += within_interval(device_time(), self.interval)
        return clauses + self.conditions


def select_device_feature(device_id: uuid.UUID) -> Select:
    """The Feature text of one device, with what a client needs for caching and tombstones."""
    return select(device_feature_text().label("feature"), Device.version, Device.deleted_at).where(
        Device.id == device_id
    )


def select_device_page(flt: DeviceFilter, limit: int, after: uuid.UUID | None) -> Select:
    """One page of devices as Feature texts in id order, plus the key to continue from."""
    return select_feature_page(Device.id, device_feature_text(), flt.clauses(), limit, after=after)


def select_feature_page(
    key: ColumnElement, feature: ColumnElement, clauses, limit: int, *, after=None, before=None
) -> Select:
    """One page of any table's Feature texts in key order, joined by commas.

    Pages forward from `after`, or backward from `before`. Fetches limit + 1 rows so that
    whether more lie beyond costs no COUNT(*). Returns features, returned, first_key,
    last_key and has_more (more rows beyond, in the paging direction).
    """
    if before is not None:
        keyset, order = key < before, key.desc()
    else:
        keyset, order = (key > after if after is not None else true()), key
    page = (
        select(key.label("key"), feature.label("feature"))
        .where(and_(*clauses, keyset))
        .order_by(order)
        .limit(limit + 1)
        .subquery("page")
    )
    paging_order = page.c.key.desc() if before is not None else page.c.key
    numbered = select(
        page.c.key,
        page.c.feature,
        func.row_number().over(order_by=paging_order).label("n"),
        func.lead(page.c.key).over(order_by=paging_order).label("following"),
    ).subquery("numbered")
    in_page = numbered.c.n <= limit
    # The page's edges in paging order: its first row, and its last (no row follows in it).
    near = and_(in_page, numbered.c.n == 1)
    far = and_(in_page, or_(numbered.c.n == limit, numbered.c.following.is_(None)))
    near_key, far_key = (
        func.array_agg(cast(numbered.c.key, Text)).filter(edge)[1] for edge in (near, far)
    )
    first_key, last_key = (far_key, near_key) if before is not None else (near_key, far_key)
    return select(
        func.coalesce(
            func.string_agg(
                numbered.c.feature, aggregate_order_by(sql_string(","), numbered.c.key)
            ).filter(in_page),
            sql_string(""),
        ).label("features"),
        func.count().filter(in_page).label("returned"),
        first_key.label("first_key"),
        last_key.label("last_key"),
        (func.count() > limit).label("has_more"),
    )


def count_devices(flt: DeviceFilter) -> Select:
    return select(func.count()).select_from(Device).where(and_(*flt.clauses()))
