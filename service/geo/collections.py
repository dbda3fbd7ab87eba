"""Feature collections served through OGC API Features: a small registry, one entry per table.

Each entry says how to select the public rows of a table, how PostGIS writes one row as a
GeoJSON Feature, and which properties clients may filter on. The OGC routes are generic over
this registry: serving another table (districts with their statistics, ...) is one more
`FeatureCollection(...)` passed to `register`, as districts are.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Numeric, Select, Text, and_, cast, func, literal_column, select
from sqlalchemy.sql.elements import ColumnElement

from .. import vocabulary as vocab
from ..models import Device, District
from .cql2 import Queryable
from .devices import (
    COORDINATE_DECIMALS,
    PHOTO_BASE,
    DeviceFilter,
    FeaturePage,
    device_time,
    public_feature_text,
    select_device_page_in_space,
    select_feature_page,
    spatial_page,
    sql_string,
    within_bboxes,
    within_interval,
)
from .keys import KEY_SPACE

Interval = tuple[datetime | None, datetime | None]


def public_rows(
    collection: "FeatureCollection", bboxes, interval: Interval | None, conditions
) -> list[ColumnElement]:
    """Default selection: every row, narrowed by boxes, time and conditions."""
    clauses = list(conditions)
    if bboxes:
        clauses.append(within_bboxes(collection.geometry, bboxes))
    if interval is not None and collection.temporal is not None:
        clauses += within_interval(collection.temporal, interval)
    return clauses


@dataclass(frozen=True)
class PageRequest:
    """What a client asks of a page: filters, size, and the position to page from."""

    bboxes: list
    interval: Interval | None
    conditions: list
    limit: int
    after: object = None  # a position, as Paging.parse_position returns it
    before: object = None


def pages_in_key_order(collection: "FeatureCollection", page: PageRequest) -> tuple:
    """Default paging: the selected rows in key order; the position is a key value."""
    clauses = collection.clauses(page.bboxes, page.interval, page.conditions)
    statement = select_feature_page(
        collection.key,
        collection.feature(PHOTO_BASE),
        clauses,
        page.limit,
        after=page.after,
        before=page.before,
    )
    return statement, {}


@dataclass(frozen=True)
class Paging:
    """How a collection's pages are chosen and read back."""

    # (statement, parameters but `photo_base`) of a page.
    select: Callable[["FeatureCollection", PageRequest], tuple] = pages_in_key_order
    # The text of a page edge (first_key, last_key) -> a position; ValueError if malformed.
    # None: the collection's parse_key.
    parse_position: Callable[[str], object] | None = None
    # Whether `select` builds each shape of statement once (unless the page has conditions),
    # so that it may be compiled and prepared once.
    by_shape: bool = False
    # The page (features, returned, first_key, last_key, has_more) of the statement's row.
    page_of: Callable[[object, PageRequest], object] = lambda row, _page: row


@dataclass(frozen=True)
class FeatureCollection:
    """A table served as an OGC API Features collection."""

    id: str
    title: str
    description: str
    key: ColumnElement  # unique: the featureId
    parse_key: Callable[[str], object]  # featureId text -> key value; ValueError if malformed
    # One row as GeoJSON Feature text, given where photo URLs start: the `photo_base` parameter.
    feature: Callable[[ColumnElement], ColumnElement]
    geometry: ColumnElement  # EPSG:4326
    temporal: ColumnElement | None  # the instant `datetime=` filters on
    queryables: dict[str, Queryable]
    # Queryables a client may also filter on as plain query parameters (`kind=camera`).
    property_filters: tuple[str, ...] = ()
    # The public rows: override to go through a resource's own filter (tombstones, moderation).
    selection: Callable[..., list[ColumnElement]] = public_rows
    # Rows in key order by default; override for an order an index serves faster.
    paging: Paging = Paging()
    item_type: str = "feature"

    def clauses(self, bboxes=(), interval: Interval | None = None, conditions=()) -> list:
        return self.selection(self, list(bboxes), interval, list(conditions))

    def select_page(self, page: PageRequest) -> tuple[Select, dict]:
        return self.paging.select(self, page)

    def position(self, text: str):
        return (self.paging.parse_position or self.parse_key)(text)

    def select_item(self, key) -> Select:
        """One public row's Feature; parameter `photo_base`."""
        feature = self.feature(PHOTO_BASE).label("feature")
        return select(feature).where(and_(*self.clauses(), self.key == key))

    def select_extent(self) -> Select:
        """Bounding box and time span of the public rows, computed from the data."""
        columns = [
            func.ST_XMin(func.ST_Extent(self.geometry)).label("min_x"),
            func.ST_YMin(func.ST_Extent(self.geometry)).label("min_y"),
            func.ST_XMax(func.ST_Extent(self.geometry)).label("max_x"),
            func.ST_YMax(func.ST_Extent(self.geometry)).label("max_y"),
        ]
        if self.temporal is not None:
            columns += [
                func.min(self.temporal).label("start"),
                func.max(self.temporal).label("end"),
            ]
        return select(*columns).where(*self.clauses())


def device_rows(collection, bboxes, interval, conditions) -> list[ColumnElement]:
    """Public devices only: DeviceFilter leaves out tombstones (and unapproved pins)."""
    return DeviceFilter(bboxes=bboxes, interval=interval, conditions=conditions).clauses()


def device_pages_in_space(collection, page: PageRequest) -> tuple[Select, dict]:
    """Device pages in spatial order, which stop as soon as they are full.

    In id order, a page would first sort every device of its box (select_device_page_in_space).
    """
    flt = DeviceFilter(bboxes=page.bboxes, interval=page.interval, conditions=page.conditions)
    return select_device_page_in_space(flt, page.limit, after=page.after, before=page.before)


def device_page_of(row, page: PageRequest) -> FeaturePage:
    return spatial_page(row, page.limit, backward=page.before is not None)


def device_position(text: str) -> tuple[int, uuid.UUID]:
    """A page edge of devices, `tile_key:id`."""
    tile_key, _, device_id = text.partition(":")
    if not 0 <= int(tile_key) < KEY_SPACE:
        raise ValueError(f"no tile_key is {tile_key}")
    return int(tile_key), uuid.UUID(device_id)


def enum_queryable(column, values, description: str) -> Queryable:
    return Queryable(column, "string", tuple(values), description)


DEVICES = FeatureCollection(
    id="devices",
    title="Surveillance devices",
    description="Cameras, licence-plate readers, microphones and other surveillance devices "
    "pinned by contributors. Their time is when they were observed, else when last changed.",
    key=Device.id,
    parse_key=uuid.UUID,
    feature=public_feature_text,
    geometry=Device.geom,
    temporal=device_time(),
    selection=device_rows,
    paging=Paging(
        select=device_pages_in_space,
        parse_position=device_position,
        by_shape=True,
        page_of=device_page_of,
    ),
    queryables={
        "geometry": Queryable(Device.geom, "geometry", description="Position (CRS84)"),
        "kind": enum_queryable(Device.kind, vocab.KIND_NAMES, "What the device does"),
        "camera_type": enum_queryable(Device.camera_type, vocab.CAMERA_TYPES, "Camera shape"),
        "mount": enum_queryable(Device.mount, vocab.MOUNTS, "What it is mounted on"),
        "zone": enum_queryable(Device.zone, vocab.ZONES, "What it watches"),
        "surveillance": enum_queryable(
            Device.surveillance, vocab.SURVEILLANCE_AREAS, "Public, outdoor or indoor area"
        ),
        "operator_type": enum_queryable(
            Device.operator_type, vocab.OPERATOR_TYPES, "Public or private operator"
        ),
        "status": enum_queryable(Device.status, vocab.STATUSES, "Lifecycle status"),
        "operator": Queryable(Device.operator, "string", description="Who operates it"),
        "angle": Queryable(Device.angle, "number", description="Field of view in degrees"),
        "height": Queryable(Device.height, "number", description="Height in metres"),
        "accuracy_m": Queryable(Device.accuracy_m, "number", description="GPS accuracy (m)"),
        "observed_at": Queryable(Device.observed_at, "datetime", description="When seen"),
        "created_at": Queryable(Device.created_at, "datetime", description="When pinned"),
        "updated_at": Queryable(Device.updated_at, "datetime", description="Last change"),
    },
    property_filters=(
        "kind",
        "camera_type",
        "mount",
        "zone",
        "surveillance",
        "operator_type",
        "status",
        "operator",
    ),
)


def district_statistics_json() -> ColumnElement:
    """A district's fields and its public devices: count, per km², per 100,000 inhabitants."""
    devices = (
        select(func.count())
        .select_from(Device)
        .where(*DeviceFilter().clauses(), func.ST_Intersects(District.geom, Device.geom))
        .correlate(District)
        .scalar_subquery()
    )
    counted = (
        select(
            District.code,
            District.name,
            District.level,
            District.parent_code,
            District.population,
            District.population_year,
            District.area_km2,
            devices.label("devices"),
        )
        .correlate(District)
        .subquery("counted")
    )
    row = select(
        counted,
        func.round(
            cast(counted.c.devices / func.nullif(counted.c.area_km2, 0.0), Numeric), 3
        ).label("devices_per_km2"),
        func.round(
            cast(counted.c.devices * 100_000.0 / func.nullif(counted.c.population, 0), Numeric), 2
        ).label("devices_per_100k_inhabitants"),
    ).subquery("p")
    return select(func.row_to_json(literal_column("p"))).select_from(row).scalar_subquery()


def district_feature_text(_photo_base=None) -> ColumnElement:
    return func.concat(
        sql_string('{"type":"Feature","id":'),
        func.to_json(District.code),
        sql_string(',"geometry":'),
        func.ST_AsGeoJSON(District.geom, COORDINATE_DECIMALS),
        sql_string(',"properties":'),
        cast(district_statistics_json(), Text),
        sql_string("}"),
    )


DISTRICTS = FeatureCollection(
    id="districts",
    title="Districts and their surveillance statistics",
    description="Administrative districts (communes, arrondissements...) with the number of "
    "public devices inside, per km² and per 100,000 inhabitants.",
    key=District.code,
    parse_key=str,
    feature=district_feature_text,
    geometry=District.geom,
    temporal=None,
    queryables={
        "geometry": Queryable(District.geom, "geometry", description="Boundary (CRS84)"),
        "code": Queryable(District.code, "string", description="Official code (INSEE...)"),
        "name": Queryable(District.name, "string", description="Name"),
        "level": Queryable(District.level, "string", description="commune, arrondissement..."),
        "parent_code": Queryable(District.parent_code, "string", description="Parent's code"),
        "population": Queryable(District.population, "integer", description="Inhabitants"),
        "area_km2": Queryable(District.area_km2, "number", description="Geodesic area (km²)"),
    },
    property_filters=("code", "level", "parent_code", "name"),
)

COLLECTIONS: dict[str, FeatureCollection] = {}


def register(collection: FeatureCollection) -> FeatureCollection:
    COLLECTIONS[collection.id] = collection
    return collection


register(DEVICES)
register(DISTRICTS)
