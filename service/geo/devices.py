"""Statements that build device GeoJSON inside PostGIS and hand back ready-made text."""

import functools
import math
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    Numeric,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import UUID, aggregate_order_by
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from ..models import Device
from .keys import covering_ranges
from .photos import PHOTO_PATH, device_photos_json

COORDINATE_DECIMALS = 7  # about 1 cm: more digits only add bytes (RFC 7946 section 11.2)
EARTH_RADIUS_M = 6371008.8  # the sphere PostGIS measures geography on when use_spheroid=false

# Properties served for every device, in this order; the column of the same name holds each.
PUBLIC_PROPERTIES = (
    "kind", "camera_type", "mount", "direction", "angle", "height", "zone", "surveillance",
    "operator", "operator_type", "status", "observed_at", "accuracy_m", "notes", "source",
    "tags", "review_status", "review_reason", "verification", "last_confirmed_at",
    "created_at", "updated_at",
)  # fmt: skip
# Sync clients also learn about tombstones.
SYNC_PROPERTIES = (*PUBLIC_PROPERTIES, "deleted_at", "merged_into")


def sql_string(value: str) -> ColumnElement:
    """A constant string written into the statement (never user input)."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def device_properties_json(names, photo_urls_base: str) -> ColumnElement:
    """The properties NAMES of the row at hand, then its photos, as one JSON object.

    row_to_json of a correlated row is cheaper than json_build_object and writes no spaces.
    """
    row = select(
        *(getattr(Device, name) for name in names),
        device_photos_json(photo_urls_base).label("photos"),
    ).correlate(Device)
    return (
        select(func.row_to_json(literal_column("p")))
        .select_from(row.subquery("p"))
        .scalar_subquery()
    )


def device_feature_text(names, photo_urls_base: str = PHOTO_PATH) -> ColumnElement:
    """One RFC 7946 Feature with the properties NAMES, as JSON text built by PostgreSQL.

    Photo URLs start with photo_urls_base (the API's absolute URL when a request gives one).
    Public Features are read from what the trigger stored instead (public_feature_text).
    """
    return func.concat(
        sql_string('{"type":"Feature","id":"'),
        cast(Device.id, Text),
        sql_string('","geometry":'),
        func.ST_AsGeoJSON(Device.geom, COORDINATE_DECIMALS),
        sql_string(',"properties":'),
        cast(device_properties_json(names, photo_urls_base), Text),
        sql_string("}"),
    )


def public_feature_text(photo_urls_base: str | ColumnElement = PHOTO_PATH) -> ColumnElement:
    """A device's public Feature (PUBLIC_PROPERTIES, then its photos) as JSON text.

    The trigger of migration 0008 keeps the Feature up to its last property in feature_head
    on every change; only the photos, one index probe, are added here.
    """
    return stored_feature_text(Device, photo_urls_base)


NO_PHOTOS = sql_string(',"photos":[]}}')


def stored_feature_text(row, photo_urls_base) -> ColumnElement:
    """A stored Feature head closed with the photos of its device.

    ROW has the columns feature_head, id and has_photos (Device, or a subquery of them).
    Photos are looked up only for devices that have some (migration 0011).
    """
    with_photos = func.concat(
        row.feature_head,
        sql_string(',"photos":'),
        device_photos_json(photo_urls_base, row.id),
        sql_string("}}"),
    )
    # Most devices have none: one plain text concatenation then.
    return case((row.has_photos, with_photos), else_=row.feature_head + NO_PHOTOS)


# The photo URL base as a parameter (its value ends with "/"), so that the Feature expression
# below is built once: building it costs more than running a by-id query.
PHOTO_BASE = bindparam("photo_base", type_=Text)


@functools.cache
def bound_feature_text() -> ColumnElement:
    """public_feature_text whose photo URLs start with the `photo_base` parameter."""
    return public_feature_text(PHOTO_BASE)


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


def visible_to(viewer_id: uuid.UUID | ColumnElement | None) -> ColumnElement:
    """Approved pins are public; pending and rejected ones only reach their author.

    The constant is written into the statement so that partial indexes on approved pins apply.
    """
    approved = Device.review_status == sql_string("approved")
    return or_(approved, Device.created_by == viewer_id) if viewer_id is not None else approved


# Filters keeping devices whose column holds one of the chosen values: the parameter's name,
# the DeviceFilter field of the values, the column.
LIST_FILTERS = (
    ("filter_kinds", "kinds", Device.kind),
    ("filter_statuses", "statuses", Device.status),
    ("filter_operator_types", "operator_types", Device.operator_type),
    ("filter_verifications", "verifications", Device.verification),
)


@dataclass
class DeviceFilter:
    """What a client may filter devices on; empty means no filter.

    Every public selection of devices goes through `clauses()`: it leaves out tombstones and
    pins that are not approved (except the viewer's own). Its values travel in named
    parameters (`values()`), so that a statement built for one filter serves every filter of
    the same shape (see `select_device_page`).
    """

    bboxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    operator_types: list[str] = field(default_factory=list)
    verifications: list[str] = field(default_factory=list)
    updated_since: datetime | None = None
    viewer_id: uuid.UUID | None = None
    # Closed interval on device_time(); either end may be None (open).
    interval: tuple[datetime | None, datetime | None] | None = None
    # Further conditions already built on whitelisted columns (property filters, CQL2).
    conditions: list[ColumnElement] = field(default_factory=list)

    def values(self) -> dict:
        """The values of the filter's parameters by name, without building any SQL.

        Each parameter is named after what it filters and is present only when that filter
        is, so the set of names is the shape of the statements built for it.
        """
        values: dict = {}
        if self.viewer_id is not None:
            values["filter_viewer"] = self.viewer_id
        for i, bbox in enumerate(self.bboxes):
            values |= dict(zip(box_parameter_names(i), bbox, strict=True))
        for name, attribute, _column in LIST_FILTERS:
            if chosen := getattr(self, attribute):
                values[name] = list(chosen)
        if self.updated_since is not None:
            values["filter_updated_since"] = self.updated_since
        if self.interval is not None:
            start, end = self.interval
            if start is not None:
                values["filter_start"] = start
            if end is not None:
                values["filter_end"] = end
        return values

    def clauses(self) -> list[ColumnElement]:
        """The filter as SQL, whose values travel in the named parameters of values()."""
        values = self.values()
        instant = DateTime(timezone=True)

        def parameter(name: str, type_) -> BindParameter | None:
            return bindparam(name, values[name], type_=type_) if name in values else None

        clauses = [
            Device.deleted_at.is_(None),
            visible_to(parameter("filter_viewer", UUID(as_uuid=True))),
        ]
        if self.bboxes:
            clauses.append(self.box_test(values))
        for name, _attribute, column in LIST_FILTERS:
            if name in values:
                clauses.append(column == any_(parameter(name, ARRAY(Text))))
        if "filter_updated_since" in values:
            clauses.append(Device.updated_at > parameter("filter_updated_since", instant))
        if self.interval is not None:
            interval = (parameter("filter_start", instant), parameter("filter_end", instant))
            clauses += within_interval(device_time(), interval)
        return clauses + self.conditions

    def box_test(self, values: dict) -> ColumnElement:
        """Whether a device lies in one of the boxes, whose edges are parameters of VALUES."""
        return within_bboxes(
            Device.geom,
            [
                [bindparam(name, values[name], type_=Float) for name in box_parameter_names(i)]
                for i in range(len(self.bboxes))
            ],
        )


def box_parameter_names(i: int) -> tuple[str, ...]:
    return tuple(f"filter_bbox{i}_{edge}" for edge in ("west", "south", "east", "north"))


@functools.cache
def select_device_feature() -> Select:
    """The Feature text of one device, with what a client needs for caching and tombstones.

    Parameters: `device_id`, and `photo_base`. Built once.
    """
    device_id = bindparam("device_id", type_=UUID(as_uuid=True))
    return select(
        bound_feature_text().label("feature"),
        Device.version,
        Device.deleted_at,
        Device.merged_into,
        Device.review_status,
        Device.created_by,
    ).where(Device.id == device_id)


def select_user_device_features(user_id: uuid.UUID) -> Select:
    """Every pin a user created, deleted ones included, for their data export."""
    return (
        select(device_feature_text(SYNC_PROPERTIES))
        .where(Device.created_by == user_id)
        .order_by(Device.created_at)
    )


# Page statements by shape: the names of their parameters (a cursor adds `page_after`).
_page_statements: dict[tuple, Select] = {}
PAGE_LIMIT = bindparam("page_limit", type_=Integer)
PAGE_AFTER = bindparam("page_after", type_=UUID(as_uuid=True))


def statement_of_shape(cache: dict, shape, flt: DeviceFilter, build) -> Select:
    """The statement for a shape of filter, built by BUILD() once.

    Building a statement costs more than running it on a small page; only a filter with
    `conditions` (arbitrary expressions) has no shape to reuse.
    """
    if flt.conditions:
        return build()
    statement = cache.get(shape)
    if statement is None:
        statement = cache[shape] = build()
    return statement


def select_device_page(
    flt: DeviceFilter, limit: int, after: uuid.UUID | None
) -> tuple[Select, dict]:
    """One page of devices as Feature texts in id order, plus the key to continue from.

    Returns the statement and its parameters but `photo_base`.
    """
    values = flt.values() | {"page_limit": limit}
    if after is not None:
        values["page_after"] = after
    statement = statement_of_shape(
        _page_statements,
        frozenset(values),
        flt,
        lambda: select_feature_page(
            Device.id,
            bound_feature_text(),
            flt.clauses(),
            PAGE_LIMIT,
            after=PAGE_AFTER if after is not None else None,
        ),
    )
    return statement, values


def select_feature_page(
    keys, feature: ColumnElement, clauses, limit: int, *, after=None, before=None
) -> Select:
    """One page of any table's Feature texts in key order, joined by commas.

    KEYS is a column, or a tuple of columns unique together, that orders the rows; AFTER and
    BEFORE are key values (tuples for several columns). Pages forward from `after`, or backward
    from `before`. Fetches limit + 1 rows so that whether more lie beyond costs no COUNT(*).
    Returns features, returned, first_key, last_key (key values as text, joined by ':' for
    several columns) and has_more (more rows beyond, in the paging direction).
    """
    keys = keys if isinstance(keys, tuple) else (keys,)
    backward = before is not None
    beyond, order = keyset(keys, after, before)
    page = (
        select(*(k.label(f"key{i}") for i, k in enumerate(keys)))
        .where(and_(*clauses, beyond))
        .order_by(*order)
        .limit(limit + 1)
        .subquery("page")
    )
    sort = [page.c[f"key{i}"] for i in range(len(keys))]
    # Each row's Feature is looked up by its key once the page is chosen: a dense box then
    # sorts thousands of narrow keys, not thousands of whole rows.
    page_feature = (
        select(feature).where(*(k == c for k, c in zip(keys, sort, strict=True))).scalar_subquery()
    )
    paging_order = [c.desc() for c in sort] if backward else sort
    key_text = func.concat_ws(sql_string(":"), *(cast(c, Text) for c in sort))
    numbered = select(
        key_text.label("key"),
        page_feature.label("feature"),
        func.row_number().over(order_by=paging_order).label("n"),
        func.lead(key_text).over(order_by=paging_order).label("following"),
    ).subquery("numbered")
    in_page = numbered.c.n <= limit
    # The page's edges in paging order: its first row, and its last (no row follows in it).
    near = and_(in_page, numbered.c.n == 1)
    far = and_(in_page, or_(numbered.c.n == limit, numbered.c.following.is_(None)))
    near_key, far_key = (func.array_agg(numbered.c.key).filter(edge)[1] for edge in (near, far))
    first_key, last_key = (far_key, near_key) if backward else (near_key, far_key)
    return select(
        func.coalesce(
            func.string_agg(
                numbered.c.feature,
                aggregate_order_by(
                    sql_string(","), numbered.c.n.desc() if backward else numbered.c.n
                ),
            ).filter(in_page),
            sql_string(""),
        ).label("features"),
        func.count().filter(in_page).label("returned"),
        first_key.label("first_key"),
        last_key.label("last_key"),
        (func.count() > limit).label("has_more"),
    )


def keyset(keys: tuple, after, before) -> tuple[ColumnElement, list]:
    """The rows beyond a cursor in the paging direction, and that direction's order."""
    position = tuple_(*keys) if len(keys) > 1 else keys[0]

    def bound(value):
        if isinstance(value, ColumnElement):  # a parameter
            return value
        values = value if isinstance(value, tuple) else (value,)
        bounds = [literal(v, k.type) for v, k in zip(values, keys, strict=True)]
        return tuple_(*bounds) if len(bounds) > 1 else bounds[0]

    if before is not None:
        return position < bound(before), [k.desc() for k in keys]
    return (position > bound(after) if after is not None else true()), list(keys)


# Spatial pages by shape (see select_device_page_in_space).
_spatial_page_statements: dict[tuple, Select] = {}
# The ranges travel as array literals (text): one string for the driver to send, where a
# list of 46 numbers cost more to adapt than the rest of the request's parameters.
RANGE_LOWS = cast(bindparam("range_lows", type_=Text), ARRAY(BigInteger))
RANGE_HIGHS = cast(bindparam("range_highs", type_=Text), ARRAY(BigInteger))
RANGE_INSIDE = cast(bindparam("range_inside", type_=Text), ARRAY(Boolean))
PAGE_POSITION = tuple_(
    bindparam("page_tile_key", type_=BigInteger), bindparam("page_id", type_=UUID(as_uuid=True))
)


def select_device_page_in_space(
    flt: DeviceFilter,
    limit: int,
    *,
    after: tuple[int, uuid.UUID] | None = None,
    before: tuple[int, uuid.UUID] | None = None,
) -> tuple[Select, dict]:
    """One page of devices as Feature texts in spatial order (tile_key, then id).

    The filter's boxes become ranges of tile_key (covering_ranges), read one after the other
    through devices_tile_key_idx in key order: PostgreSQL stops as soon as the page is full,
    so a page costs about the same in a box of a hundred devices or of a hundred thousand, and
    page 100 of a walk what page 1 does. Only ranges across a box's edge test the devices
    against the box; as PostgreSQL cannot tell which, it expects most devices of a range to
    be kept and reads the range in order rather than gather and sort all of it.

    AFTER and BEFORE are (tile_key, id) positions. Returns the statement and its parameters but
    `photo_base`; statements are built once per shape of filter (unless it has `conditions`).
    Its row becomes a FeaturePage through spatial_page.
    """
    position = after or before
    ranges = covering_ranges(flt.bboxes)
    if after is not None:
        ranges = [r for r in ranges if r.high > after[0]]
    elif before is not None:
        ranges = [r for r in reversed(ranges) if r.low <= before[0]]
    values = flt.values() | {
        "range_lows": array_literal(r.low for r in ranges),
        "range_highs": array_literal(r.high for r in ranges),
        "range_inside": array_literal("t" if r.inside else "f" for r in ranges),
        "page_limit": limit,
    }
    if position is not None:
        values |= {"page_tile_key": position[0], "page_id": position[1]}

    def build() -> Select:
        box_test = flt.box_test(values) if flt.bboxes else None
        clauses = replace(flt, bboxes=[]).clauses()
        return _device_page_in_space(clauses, box_test, after, before)

    shape = (frozenset(values), before is not None)
    return statement_of_shape(_spatial_page_statements, shape, flt, build), values


def array_literal(values) -> str:
    """A PostgreSQL array of numbers or booleans as text."""
    return "{" + ",".join(map(str, values)) + "}"


def _device_page_in_space(clauses, box_test, after, before) -> Select:
    ranges = (
        func.unnest(RANGE_LOWS, RANGE_HIGHS, RANGE_INSIDE)
        .table_valued("low", "high", "inside", with_ordinality="range")
        .render_derived(name="ranges")
    )
    beyond, order = keyset(
        (Device.tile_key, Device.id),
        PAGE_POSITION if after is not None else None,
        PAGE_POSITION if before is not None else None,
    )
    in_range = [Device.tile_key >= ranges.c.low, Device.tile_key < ranges.c.high, beyond]
    if box_test is not None:
        in_range.append(or_(ranges.c.inside, box_test))
    # Within a range, the devices in key order up to a full page. The Feature's head is read
    # from the row the scan visits anyway; photos are added once the page is chosen.
    scan = (
        select(Device.tile_key, Device.id, Device.feature_head, Device.has_photos)
        .where(*clauses, *in_range)
        .order_by(*order)
        .limit(PAGE_LIMIT + 1)
        .lateral("in_range")
    )
    # The page is the ranges' rows one range after the other. PostgreSQL reads the ranges in
    # their numbered order (WITH ORDINALITY is known to be sorted), and the nested loop that a
    # lateral join must be yields each range's rows as its scan does, in key order: ordering
    # by range alone costs no sort, where ordering by (range, tile_key, id) too would copy
    # every Feature into one. This is how the executor works, not what SQL promises: a test
    # checks the plan, and the walks of tests/api/test_ogc.py the order.
    page = (
        select(scan)
        .select_from(ranges)
        .join(scan, true())
        .order_by(ranges.c.range)
        .limit(PAGE_LIMIT + 1)
        .subquery("page")
    )
    # A plain aggregate reads the page in the order the page subquery yields it: no sorting
    # of a thousand Features again (backward pages are put back in key order), no numbering.
    # The row fetched to tell that more lie beyond is dropped by spatial_page.
    feature = stored_feature_text(page.c, PHOTO_BASE)
    separator = sql_string(",")
    if before is not None:
        separator = aggregate_order_by(separator, page.c.tile_key, page.c.id)
    tile_keys = func.array_agg(page.c.tile_key)
    fetched = func.count()
    return select(
        func.coalesce(func.string_agg(feature, separator), sql_string("")).label("features"),
        fetched.label("fetched"),
        tile_keys[1].label("near_tile_key"),
        tile_keys[func.least(fetched, PAGE_LIMIT)].label("far_tile_key"),
    )


FEATURE_START = '{"type":"Feature","id":"'  # how every stored Feature begins (migration 0008)


@dataclass(frozen=True)
class FeaturePage:
    """A page of Features joined by commas, its size, edges and whether more lie beyond.

    What select_feature_page's statements return as a row; edges are key values as text.
    """

    features: str
    returned: int
    first_key: str | None
    last_key: str | None
    has_more: bool


def spatial_page(row, limit: int, *, backward: bool) -> FeaturePage:
    """The page a select_device_page_in_space row holds, without its extra row.

    The edges' ids are read from the Features themselves: each begins with FEATURE_START and
    its id, and that opening cannot occur inside another Feature: property values are
    strings (whose quotes JSON escapes), numbers, flat arrays, and `tags`, a jsonb object
    whose text has a space after every colon.
    """
    features = row.features
    has_more = row.fetched > limit
    if has_more:  # drop the extra row: the last in paging order
        if backward:
            features = features[features.index("," + FEATURE_START) + 1 :]
        else:
            features = features[: features.rindex("," + FEATURE_START)]
    if not features:
        return FeaturePage("", 0, None, None, False)
    id_at = len(FEATURE_START)
    last_at = features.rindex(FEATURE_START) + id_at
    first_id, last_id = features[id_at : id_at + 36], features[last_at : last_at + 36]
    low, high = row.near_tile_key, row.far_tile_key
    if backward:
        low, high = high, low
    return FeaturePage(
        features, min(row.fetched, limit), f"{low}:{first_id}", f"{high}:{last_id}", has_more
    )


def count_devices(flt: DeviceFilter) -> Select:
    return select(func.count()).select_from(Device).where(and_(*flt.clauses()))


def select_device_changes(
    after: tuple[int, uuid.UUID], bboxes, viewer_id, limit: int, photo_urls_base: str = PHOTO_PATH
) -> Select:
    """Devices created, changed or deleted after the cursor, in commit-safe order.

    Rows are ordered by the id of the transaction that last wrote them. Only transactions older
    than every one still running are served, so a slow writer can never commit "behind" a
    cursor that a client already holds: a change shows up late, never lost.
    """
    oldest_running = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
    # Tombstones too, but only of pins the caller could see: a pending pin deleted by its
    # author was never public and must not surface here. A pin that was public once and is no
    # longer (rejected on a second review) comes as a withdrawal, without its content, and
    # whatever the box: it may have been moved since phones got it, and its position is not
    # public any more.
    visible = visible_to(viewer_id)
    shown = and_(visible, within_bboxes(Device.geom, bboxes)) if bboxes else visible
    # IS NOT TRUE: for a pin without an author, `visible` is NULL rather than false.
    withdrawn = and_(visible.is_not(true()), Device.published_at.is_not(None))
    clauses = [Device.change_txid < oldest_running, or_(shown, withdrawn)]
    feature = case(
        (visible, device_feature_text(SYNC_PROPERTIES, photo_urls_base)), else_=withdrawal_text()
    )
    return select_feature_page(
        (Device.change_txid, Device.id), feature, clauses, limit, after=after
    )


def withdrawal_text() -> ColumnElement:
    """A tombstone for a pin no longer public: no position, no content, when it was withdrawn."""
    return func.concat(
        sql_string('{"type":"Feature","id":"'),
        cast(Device.id, Text),
        sql_string('","geometry":null,"properties":{"deleted_at":'),
        cast(func.to_json(Device.updated_at), Text),
        sql_string(',"merged_into":null,"withdrawn":true}}'),
    )


def point_expression(lon: float, lat: float) -> ColumnElement:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


def near_clause(geom, point, distance_m: float) -> ColumnElement:
    """Within DISTANCE_M metres of POINT on the sphere.

    The bounding-box test (metres turned into degrees at the point's latitude) lets the GiST
    index do the work; ST_DWithin on geography then measures exactly.
    """
    degrees = math.degrees(distance_m / EARTH_RADIUS_M) / func.greatest(
        0.01, func.cos(func.radians(func.ST_Y(point)))
    )
    return and_(
        geom.op("&&")(func.ST_Expand(point, degrees)),
        func.ST_DWithin(func.geography(geom), func.geography(point), distance_m, False),
    )


def distance_to(point) -> ColumnElement:
    return func.ST_Distance(func.geography(Device.geom), func.geography(point), False)


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
    exclude: uuid.UUID | None = None,
    photo_urls_base: str = PHOTO_PATH,
) -> Select:
    """Possible duplicates of a new pin (other than itself), nearest first, with their photos."""
    point = point_expression(lon, lat)
    return (
        select(
            Device.id,
            Device.kind,
            Device.review_status,
            func.round(cast(distance_to(point), Numeric), 2).label("distance_m"),
            device_photos_json(photo_urls_base).label("photos"),
        )
        .where(*candidate_clauses(kind, point, distance_m, exclude))
        .order_by(distance_to(point))
    )


def select_moderation_queue(
    limit: int, distance_m: float, photo_urls_base: str = PHOTO_PATH
) -> Select:
    """Pending pins, oldest first, each with its duplicate candidates, as one JSON text."""
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
                            device_photos_json(photo_urls_base),
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
    feature = (
        select(public_feature_text(photo_urls_base))
        .where(Device.id == pending.id)
        .scalar_subquery()
    )
    items = (
        select(
            func.json_build_object(
                sql_string("device"),
                cast(feature, JSON),
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
            ),
            Text,
        )
    )
