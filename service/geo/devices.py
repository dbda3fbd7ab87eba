"""Statements that build device GeoJSON inside PostGIS and hand back ready-made text."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, Text, and_, cast, func, literal_column, or_, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ..models import Device
from .photos import PHOTO_PATH, device_photos_json

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


def device_properties_json(photo_urls_base: str) -> ColumnElement:
    pairs = []
    for name in PUBLIC_PROPERTIES:
        pairs += [sql_string(name), getattr(Device, name)]
    pairs += [sql_string("photos"), device_photos_json(photo_urls_base)]
    return func.json_build_object(*pairs)


def device_feature_text(photo_urls_base: str = PHOTO_PATH) -> ColumnElement:
    """One RFC 7946 Feature as JSON text, assembled by PostgreSQL.

    Photo URLs start with photo_urls_base (the API's absolute URL when a request gives one).
    """
    return func.concat(
        sql_string('{"type":"Feature","id":"'),
        cast(Device.id, Text),
        sql_string('","geometry":'),
        func.ST_AsGeoJSON(Device.geom, COORDINATE_DECIMALS),
        sql_string(',"properties":'),
        cast(device_properties_json(photo_urls_base), Text),
        sql_string("}"),
    )


@dataclass
class DeviceFilter:
    """What a client may filter devices on; empty means no filter."""

    bboxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    operator_types: list[str] = field(default_factory=list)
    updated_since: datetime | None = None

    def clauses(self) -> list[ColumnElement]:
        clauses = [Device.deleted_at.is_(None)]
        if self.bboxes:
            clauses.append(
                or_(
                    *(
                        Device.geom.op("&&")(func.ST_MakeEnvelope(*bbox, 4326))
                        for bbox in self.bboxes
                    )
                )
            )
        for column, values in (
            (Device.kind, self.kinds),
            (Device.status, self.statuses),
            (Device.operator_type, self.operator_types),
        ):
            if values:
                clauses.append(column.in_(values))
        if self.updated_since is not None:
            clauses.append(Device.updated_at > self.updated_since)
        return clauses


def select_device_feature(device_id: uuid.UUID, photo_urls_base: str = PHOTO_PATH) -> Select:
    """The Feature text of one device, with what a client needs for caching and tombstones."""
    return select(
        device_feature_text(photo_urls_base).label("feature"), Device.version, Device.deleted_at
    ).where(Device.id == device_id)


def select_device_page(
    flt: DeviceFilter, limit: int, after: uuid.UUID | None, photo_urls_base: str = PHOTO_PATH
) -> Select:
    """One page of a FeatureCollection in id order, plus the key to continue from.

    Fetches limit + 1 rows so that the presence of a next page costs no COUNT(*).
    """
    keyset = Device.id > after if after else true()
    page = (
        select(Device.id, device_feature_text(photo_urls_base).label("feature"))
        .where(and_(*flt.clauses(), keyset))
        .order_by(Device.id)
        .limit(limit + 1)
        .subquery("page")
    )
    numbered = select(
        page.c.id, page.c.feature, func.row_number().over(order_by=page.c.id).label("n")
    ).subquery("numbered")
    in_page = numbered.c.n <= limit
    return select(
        func.coalesce(
            func.string_agg(
                numbered.c.feature, aggregate_order_by(sql_string(","), numbered.c.n)
            ).filter(in_page),
            sql_string(""),
        ).label("features"),
        func.count().filter(in_page).label("returned"),
        func.max(cast(numbered.c.id, Text)).filter(in_page).label("last_id"),
        (func.count() > limit).label("has_more"),
    )


def count_devices(flt: DeviceFilter) -> Select:
    return select(func.count()).select_from(Device).where(and_(*flt.clauses()))
