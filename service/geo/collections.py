"""Feature collections served through OGC API Features: a small registry, one entry per table.

Each entry says how to select the public rows of a table, how PostGIS writes one row as a
GeoJSON Feature, and which properties clients may filter on. The OGC routes are generic over
this registry: serving another table (districts with their statistics, ...) is one more
`OgcCollection(...)` passed to `register`, as districts are.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, func, literal, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from .. import vocabulary as vocab
from ..models import Dataset, DeclaredDataset, DeclaredSite, Device, District
from ..visibility import public_day
from .cql2 import Queryable
from .declared.features import select_declared_credits, site_feature_text
from .declared.matching import SITE_STATUSES, matched_count, site_status
from .devices.features import PUBLIC_FEATURE, PUBLIC_PROPERTIES
from .devices.filter import (
    DeviceFilter,
    device_time,
    within_bboxes,
    within_interval,
)
from .devices.spatial import check_device_position, select_device_page_in_space, spatial_page
from .districts import district_feature_text, population_credits
from .exports import select_district_statistics_rows, select_public_device_rows
from .paging import FeaturePage, select_feature_page
from .sql import meets_bboxes, sql_string
from .statements import BoundStatement
from .statistics.density import district_level_figures_json

Interval = tuple[datetime | None, datetime | None]


def public_rows(
    collection: "OgcCollection", bboxes, interval: Interval | None, conditions
) -> list[ColumnElement]:
    """Default selection: every row, narrowed by boxes, time and conditions."""
    clauses = list(conditions)
    if bboxes:
        meets = within_bboxes if collection.geometry_type == "Point" else meets_bboxes
        clauses.append(meets(collection.geometry, bboxes))
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


def pages_in_key_order(collection: "OgcCollection", page: PageRequest) -> BoundStatement:
    """Default paging: the selected rows in key order; the position is a key value."""
    clauses = collection.clauses(page.bboxes, page.interval, page.conditions)
    statement = select_feature_page(
        collection.key,
        collection.feature(),
        clauses,
        page.limit,
        after=page.after,
        before=page.before,
    )
    return BoundStatement(statement, {})


def key_order_page(row, _page: PageRequest) -> FeaturePage:
    """The page a select_feature_page row holds (the credits are not asked there)."""
    return FeaturePage(row.features, row.returned, row.first_key, row.last_key, row.has_more)


@dataclass(frozen=True)
class Paging:
    """How a collection's pages are chosen and read back."""

    # The statement of a page, its values but `photo_base`.
    select: Callable[["OgcCollection", PageRequest], BoundStatement] = pages_in_key_order
    # The types of a position's parts (service/api/geojson.py, CursorCodec); None: the key's.
    position_types: tuple[type, ...] | None = None
    # Checks a position read from a cursor; ValueError if it cannot be one.
    check_position: Callable[[tuple], None] = lambda _position: None
    # The FeaturePage of the statement's row.
    page_of: Callable[[object, PageRequest], FeaturePage] = key_order_page


@dataclass(frozen=True)
class OgcCollection:
    """A table served as an OGC API Features collection: one entry of the registry."""

    id: str
    title: str
    description: str
    key: ColumnElement  # unique: the featureId
    key_type: type  # of the featureId: uuid.UUID, str... (a ValueError if malformed)
    # One row as GeoJSON Feature text; photo URLs start with the `photo_base` parameter.
    feature: Callable[[], ColumnElement]
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
    # JSON Schemas of every property of a Feature (the queryables' own, unless given here),
    # in the order Features list them: GIS clients take their column types from it.
    properties: tuple[str, ...] = ()
    property_schemas: dict[str, dict] = field(default_factory=dict)
    geometry_type: str = "Point"  # GeoJSON type (or "Geometry" for any)
    # The sources to credit besides the devices' (name, attribution, licence, source_url).
    datasets: Callable[[], Select] | None = None
    # Every public row as plain columns then WKB, for a file download (GeoPackage...);
    # called with the values of the collection's property filters to apply.
    export_rows: Callable[..., Select] | None = None
    # Which of those filters the download takes (the districts' levels).
    download_filters: frozenset[str] = frozenset()

    @property
    def properties_schema(self) -> dict[str, dict]:
        """The JSON Schema of each property of a Feature."""
        return {
            name: self.property_schemas.get(name) or self.queryables[name].json_schema(name)
            for name in self.properties
        }

    @property
    def geometry_schema(self) -> str:
        return f"https://geojson.org/schema/{self.geometry_type}.json"

    def returnables_schema(self) -> dict[str, dict]:
        """Features as OGC API Features Part 5 describes them: id, geometry, then properties."""
        geometry_format = {"Point": "geometry-point", "MultiPolygon": "geometry-multipolygon"}
        return {
            "id": {"title": "id", "type": "string", "x-ogc-role": "id"},
            "geometry": {
                "title": "geometry",
                "format": geometry_format.get(self.geometry_type, "geometry-any"),
                "x-ogc-role": "primary-geometry",
            },
            **self.properties_schema,
        }

    def clauses(self, bboxes=(), interval: Interval | None = None, conditions=()) -> list:
        return self.selection(self, list(bboxes), interval, list(conditions))

    def select_page(self, page: PageRequest) -> BoundStatement:
        return self.paging.select(self, page)

    @property
    def position_types(self) -> tuple[type, ...]:
        return self.paging.position_types or (self.key_type,)

    def select_item(self, key) -> Select:
        """One public row's Feature; parameter `photo_base`."""
        feature = self.feature().label("feature")
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


def device_pages_in_space(collection, page: PageRequest) -> BoundStatement:
    """Device pages in spatial order, which stop as soon as they are full.

    In id order, a page would first sort every device of its box (select_device_page_in_space).
    """
    flt = DeviceFilter(bboxes=page.bboxes, interval=page.interval, conditions=page.conditions)
    return select_device_page_in_space(flt, page.limit, after=page.after, before=page.before)


def device_page_of(row, page: PageRequest) -> FeaturePage:
    return spatial_page(row, page.limit, backward=page.before is not None)


def enum_queryable(column, values, description: str) -> Queryable:
    return Queryable(column, "string", tuple(values), description)


def typed(type_: str, description: str, **more) -> dict:
    return {"type": type_, "description": description, **more}


DEVICE_PROPERTY_SCHEMAS = {
    "direction": typed(
        "array", "Viewing directions in degrees from north", items={"type": "integer"}
    ),
    "notes": typed("string", "Contributor's notes"),
    "source": typed("string", "Where the information comes from"),
    "tags": typed("object", "Other OpenStreetMap-style tags"),
    "review_status": typed("string", "Moderation state", enum=list(vocab.REVIEW_STATUSES)),
    "review_reason": typed("string", "Why a moderator refused or asked for changes"),
    "last_confirmed_at": typed("string", "Day of the last confirmation", format="date-time"),
    "photos": typed("array", "Photos, in the order they were listed", items={"type": "object"}),
    # A whole number, typed "number": GDAL reads every schema "integer" as 32 bits and
    # clamps node ids past 2**31 (most of them) to 2147483647; as a real it keeps them exact.
    "osm_id": typed("number", "OpenStreetMap node it was imported from or linked to, else null"),
}


DEVICES = OgcCollection(
    id="devices",
    title="Surveillance devices",
    description="Cameras, licence-plate readers, microphones and other surveillance devices "
    "pinned by contributors. Their time is when they were observed, else when last changed.",
    key=Device.id,
    key_type=uuid.UUID,
    feature=lambda: PUBLIC_FEATURE,
    geometry=Device.geom,
    temporal=device_time(),
    selection=device_rows,
    paging=Paging(
        select=device_pages_in_space,
        position_types=(int, uuid.UUID),
        check_position=check_device_position,
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
        "verification": enum_queryable(
            Device.verification, vocab.VERIFICATION_LEVELS, "How many contributors confirmed it"
        ),
        "operator": Queryable(Device.operator, "string", description="Who operates it"),
        "angle": Queryable(Device.angle, "number", description="Field of view in degrees"),
        "height": Queryable(Device.height, "number", description="Height in metres"),
        "accuracy_m": Queryable(Device.accuracy_m, "number", description="GPS accuracy (m)"),
        # Times are days, as the Features give them (service/visibility.py).
        "observed_at": Queryable(
            public_day(Device.observed_at), "datetime", description="Day seen"
        ),
        "created_at": Queryable(
            public_day(Device.created_at), "datetime", description="Day pinned"
        ),
        "updated_at": Queryable(
            public_day(Device.updated_at), "datetime", description="Day of the last change"
        ),
    },
    property_filters=(
        "kind",
        "camera_type",
        "mount",
        "zone",
        "surveillance",
        "operator_type",
        "status",
        "verification",
        "operator",
    ),
    properties=(*PUBLIC_PROPERTIES, "photos"),
    property_schemas=DEVICE_PROPERTY_SCHEMAS,
    export_rows=lambda **_filters: select_public_device_rows(),
)


def counts_schema(description: str, values) -> dict:
    members = {value: {"type": "integer"} for value in values}
    return typed("object", description, properties=members)


def select_population_sources() -> Select:
    """The distinct sources of the districts' populations, each found by a probe of
    `districts_population_source_idx` (a loose index scan: a few sources among thousands of
    districts, read by every page of the collection)."""
    source = District.population_source
    found = select(func.min(source).label("source")).cte("sources", recursive=True)
    following = select(func.min(source)).where(source > found.c.source).scalar_subquery()
    found = found.union_all(select(following).where(found.c.source.is_not(None)))
    return select(found.c.source).where(found.c.source.is_not(None))


def select_district_datasets() -> Select:
    """The datasets the districts came from, then the sources of their populations, to credit
    them (as the statistics do: service/geo/statistics/density.py, attribution_array)."""
    datasets = select(
        Dataset.name, Dataset.attribution, Dataset.licence, Dataset.source_url, literal(1)
    )
    credited = population_credits(select_population_sources().subquery())
    populations = select(
        sql_string("population"),
        credited.c.source,
        credited.c.licence,
        credited.c.source_url,
        literal(2),
    )
    credits = union_all(datasets, populations).subquery()
    name, attribution, licence, source_url, part = credits.c
    return select(
        name.label("name"),
        attribution.label("attribution"),
        licence.label("licence"),
        source_url.label("source_url"),
    ).order_by(part, name, attribution)


DISTRICT_PROPERTY_SCHEMAS = {
    "population_year": typed("integer", "Year of the population figure"),
    "count": typed("integer", "Public devices inside"),
    "per_km2": typed("number", "Devices per km²"),
    "per_10k_inhabitants": typed("number", "Devices per 10,000 inhabitants"),
    "inhabitants_per_device": typed("number", "Inhabitants per device"),
    "counts_by_kind": counts_schema("Devices by kind", vocab.KIND_NAMES),
    "counts_by_status": counts_schema("Devices by status", vocab.STATUSES),
    "counts_by_verification": counts_schema(
        "Devices by verification level", vocab.VERIFICATION_LEVELS
    ),
}
DISTRICT_PROPERTIES = (
    "code", "name", "level", "parent_code", "population_year", "area_km2", "population",
    "count", "per_km2", "per_10k_inhabitants", "inhabitants_per_device", "counts_by_kind",
    "counts_by_status", "counts_by_verification",
)  # fmt: skip

DISTRICTS = OgcCollection(
    id="districts",
    title="Districts and their surveillance statistics",
    description="Administrative districts (communes, arrondissements...) with the public "
    "devices on the map inside, by kind, status and verification, per km² and per 10,000 "
    "inhabitants: the figures of /api/v1/stats/districts for the districts of their level.",
    key=District.code,
    key_type=str,
    feature=lambda: district_feature_text(district_level_figures_json()),
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
    properties=DISTRICT_PROPERTIES,
    property_schemas=DISTRICT_PROPERTY_SCHEMAS,
    geometry_type="MultiPolygon",
    datasets=select_district_datasets,
    export_rows=lambda level=(), **_filters: select_district_statistics_rows(level),
    download_filters=frozenset({"level"}),
)

# Declared versus observed (service/geo/declared/, docs/declared.md): the members of
# site_properties, in its order.
SITE_PROPERTY_SCHEMAS = {
    "kinds": typed("array", "Kinds the list declares there", items={"type": "string"}),
    "commissioned": typed("string", "Commissioning date as published"),
    "commissioned_on": typed("string", "Commissioning day, when the list gave one", format="date"),
    "matched": typed("integer", "Observed devices that match it (at most declared_count)"),
    "devices": typed(
        "array", "Ids of the observed devices matched", items={"type": "string", "format": "uuid"}
    ),
    "match_distance_m": typed("number", "Distance within which a device matches (m)"),
    "attributes": typed("object", "The list's other fields, as published"),
}
SITE_PROPERTIES = (
    "dataset", "source_id", "kinds", "declared_count", "address", "commissioned",
    "commissioned_on", "status", "matched", "devices", "match_distance_m", "attributes",
)  # fmt: skip

DECLARED_SITES = OgcCollection(
    id="declared_sites",
    title="Declared surveillance sites and whether they were found",
    description="Sites of the camera lists published by authorities, each with its status "
    "(verified, partially_verified, unverified) and the ids of the observed devices within "
    "its dataset's distance: the unverified ones are places to go and check.",
    key=DeclaredSite.id,
    key_type=uuid.UUID,
    feature=site_feature_text,
    geometry=DeclaredSite.geom,
    temporal=None,
    queryables={
        "geometry": Queryable(DeclaredSite.geom, "geometry", description="Position (CRS84)"),
        "source_id": Queryable(DeclaredSite.source_id, "string", description="Publisher's id"),
        "status": enum_queryable(
            site_status(matched_count(), DeclaredSite.declared_count),
            SITE_STATUSES,
            "Whether the declared devices were found",
        ),
        "declared_count": Queryable(
            DeclaredSite.declared_count, "integer", description="Devices declared there"
        ),
        "address": Queryable(DeclaredSite.address, "string", description="As published"),
        "dataset": Queryable(
            select(DeclaredDataset.name)
            .where(DeclaredDataset.id == DeclaredSite.dataset_id)
            .scalar_subquery(),
            "string",
            description="The declared list's name (GET /api/v1/declared/datasets)",
        ),
    },
    property_filters=("status", "source_id", "dataset"),
    properties=SITE_PROPERTIES,
    property_schemas=SITE_PROPERTY_SCHEMAS,
    datasets=select_declared_credits,
)

COLLECTIONS: dict[str, OgcCollection] = {}


def register(collection: OgcCollection) -> OgcCollection:
    COLLECTIONS[collection.id] = collection
    return collection


register(DEVICES)
register(DISTRICTS)
register(DECLARED_SITES)
