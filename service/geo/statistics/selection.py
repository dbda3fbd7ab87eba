"""Which devices count in a statistic, and which districts it is about."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Float,
    Select,
    SmallInteger,
    Text,
    and_,
    case,
    cast,
    column,
    func,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from ...models import Device, DeviceRevision, District
from ..devices.filter import DeviceFilter, within_bboxes
from ..districts import district_clauses
from ..sql import sql_string

# A device is on the map now when its status says it is there.
PRESENT_STATUSES = ("active", "unknown")


def appeared_at() -> ColumnElement:
    """When a device came onto the map: its first observation, else when it was pinned.

    With an edit history, this and removed_at() become lookups into it; nothing else changes.
    """
    return func.coalesce(Device.observed_at, Device.created_at)


def still_there(status) -> ColumnElement:
    """The status of a device before the revision that pinned it: observed, so there, even
    when it was pinned as removed."""
    return case((status == "removed", "active"), else_=status)


def snapshot_position(snapshot) -> ColumnElement:
    """The point a revision's snapshot records (GeoJSON coordinates, lon then lat)."""
    lon_lat = [cast(snapshot["geometry"][i].astext, Float) for i in (0, 1)]
    return func.ST_SetSRID(func.ST_MakePoint(*lon_lat), 4326)


# The columns of a device a statistic reads, now or as it stood at a date.
STATE_COLUMNS = ("id", "geom", "kind", "status", "operator_type", "verification")
# And those of its view cone (service/geo/view_cones.py), read for the watched area.
VIEW_COLUMNS = ("camera_type", "direction", "angle")


def state_found_by(revision) -> ColumnElement:
    """The state REVISION (a row of device_revisions) found: its snapshot with each changed
    field as it was before. A creation found nothing: the state the device was pinned in is its
    snapshot; an edit of a row loaded in bulk (no earlier revision) found the row's columns."""
    change = (
        func.jsonb_each(revision.changes)
        .table_valued(column("key", Text), column("value", JSONB))
        .render_derived()
    )
    before = select(func.jsonb_object_agg(change.c.key, change.c.value[0])).scalar_subquery()
    return case(
        (revision.action == "create", revision.snapshot),
        else_=revision.snapshot.op("||")(func.coalesce(before, cast(sql_string("{}"), JSONB))),
    )


def revision_snapshot_at(at: datetime):
    """A LATERAL subquery: the device's state as its edit history gives it at AT (the snapshot
    of its last revision until then, else the state its first one found)."""
    until_then = DeviceRevision.created_at <= at
    return (
        select(
            case((until_then, DeviceRevision.snapshot), else_=state_found_by(DeviceRevision)).label(
                "snapshot"
            ),
            until_then.label("until_then"),
        )
        .where(DeviceRevision.device_id == Device.id)
        .order_by(
            until_then.desc(),
            case((until_then, DeviceRevision.id), else_=-DeviceRevision.id).desc(),
        )
        .limit(1)
        .lateral("revision")
    )


def moved_device_ids() -> Select:
    """The devices that ever moved after they were pinned (few): the only ones that may have
    stood elsewhere at a past date."""
    return select(DeviceRevision.device_id).where(
        DeviceRevision.action != "create", DeviceRevision.changes.has_key("geometry")
    )


def device_states_at(at: datetime, near: Select | None = None, view: bool = False):
    """The public devices that had appeared by AT, each with its position, kind, status and
    operator type at AT (from its revisions), and with VIEW its camera type, directions and
    angle then; devices without history (loaded in bulk) keep their columns, except that a
    device marked removed after AT was still there.

    NEAR: ids of the devices whose position now is in the area at hand (read through the
    spatial index); the devices that ever moved are added to them, and only those are replayed.
    Visibility and deletion are today's: a deleted pin never counts (see docs/statistics.md).
    """
    revision = revision_snapshot_at(at)
    snapshot = revision.c.snapshot
    known = snapshot.is_not(None)

    def then(name: str, now):
        return case((known, snapshot[name].astext), else_=now)

    geometry = case((known, snapshot_position(snapshot)), else_=Device.geom)
    # A device observed by AT but marked removed only later (by its first revision, or in
    # bulk without history) was still there.
    status_without_history = case(
        (and_(Device.status == "removed", Device.updated_at > at), "active"),
        else_=Device.status,
    )
    status_from_history = case(
        (revision.c.until_then, snapshot["status"].astext),
        else_=still_there(snapshot["status"].astext),
    )
    # A JSON array of integers ("[90, 270]") read as a PostgreSQL array ("{90, 270}").
    directions = func.translate(snapshot["direction"].astext, "[]", "{}")
    view_columns = [
        then("camera_type", Device.camera_type).label("camera_type"),
        case((known, cast(directions, ARRAY(SmallInteger))), else_=Device.direction).label(
            "direction"
        ),
        case((known, cast(snapshot["angle"].astext, Float)), else_=Device.angle).label("angle"),
    ]
    return (
        select(
            Device.id,
            geometry.label("geom"),
            then("kind", Device.kind).label("kind"),
            case((known, status_from_history), else_=status_without_history).label("status"),
            then("operator_type", Device.operator_type).label("operator_type"),
            Device.verification,
            *(view_columns if view else []),
        )
        .select_from(Device)
        .outerjoin(revision, true())
        .where(
            *DeviceFilter().clauses(),
            appeared_at() <= at,
            or_(~known, snapshot["deleted_at"].astext.is_(None)),
            *([Device.id.in_(union(near, moved_device_ids()))] if near is not None else []),
        )
        .subquery("states")
    )


@dataclass
class StatisticsFilter:
    """Which devices count; `at` replays the map as it stood on that date."""

    kinds: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    operator_types: list[str] = field(default_factory=list)
    verifications: list[str] = field(default_factory=list)
    at: datetime | None = None
    bboxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    def device_filter(self) -> DeviceFilter:
        return DeviceFilter(
            bboxes=self.bboxes,
            kinds=self.kinds,
            statuses=self.statuses,
            operator_types=self.operator_types,
            verifications=self.verifications,
        )

    def clauses(self) -> list[ColumnElement]:
        """The filter on the devices table as it is now (`at` is read by devices())."""
        clauses = self.device_filter().clauses()
        if not self.statuses:
            clauses.append(Device.status.in_(PRESENT_STATUSES))
        return clauses

    def devices(
        self, near: Select | None = None, name: str = "counted_devices", view: bool = False
    ):
        """The devices this filter counts, as a subquery with STATE_COLUMNS (and VIEW_COLUMNS
        with VIEW): the devices table now, or each device as it stood at `at`.

        NEAR, when given, selects the ids of the devices standing now in the area the caller
        reads (see device_states_at); by default, those in the filter's bbox if it has one.
        NAME: the subquery's, unique within a statement.
        """
        if self.at is None:
            names = STATE_COLUMNS + (VIEW_COLUMNS if view else ())
            columns = [getattr(Device, name) for name in names]
            return select(*columns).where(*self.clauses()).subquery(name)
        if near is None and self.bboxes:
            near = select(Device.id).where(within_bboxes(Device.geom, self.bboxes))
        states = device_states_at(self.at, near, view)
        clauses = self.count_clauses(states)
        if self.bboxes:
            clauses.append(within_bboxes(states.c.geom, self.bboxes))
        # Materialized: joined with districts, each polygon then meets every replayed position
        # in turn, prepared once by GEOS, instead of a position meeting every polygon.
        return select(states).where(*clauses).cte(name).prefix_with("MATERIALIZED")

    def answered_by_counts(self) -> bool:
        """Whether the district counts kept at write time answer this filter (the map now,
        without a bbox); otherwise devices are joined with the districts' polygons."""
        return self.at is None and not self.bboxes

    def count_clauses(self, counts) -> list[ColumnElement]:
        """The filter on the columns of the counts table COUNTS (which holds public devices
        only): the same choice as clauses() for the map now."""
        chosen = {
            "kind": self.kinds,
            "status": self.statuses or list(PRESENT_STATUSES),
            "operator_type": self.operator_types,
            "verification": self.verifications,
        }
        return [counts.c[name].in_(values) for name, values in chosen.items() if values]


@dataclass
class DistrictSelection:
    levels: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def clauses(self, table=District) -> list[ColumnElement]:
        return district_clauses(self.levels, self.parents, self.codes, table=table)
