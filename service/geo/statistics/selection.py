"""Which devices count in a statistic, and which districts it is about."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    ARRAY,
    Float,
    Select,
    SmallInteger,
    Text,
    and_,
    any_,
    case,
    cast,
    column,
    false,
    func,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from ...models import Device, DeviceRevision, District
from ...visibility import is_public_revision
from ..devices.filter import DeviceFilter, within_bboxes
from ..districts import district_clauses
from ..sql import sql_string

# A device is on the map now when its status says it is there.
PRESENT_STATUSES = ("active", "unknown")


def appeared_at() -> ColumnElement:
    """When a device came onto the map: its first observation, else when it was pinned. An
    observation dated at most a day after its pin (a phone's clock ahead, a local date past
    midnight: the drift the API accepts) counts from the pin, which was on the map meanwhile,
    as the statistics of now count it."""
    observed, pinned = Device.observed_at, Device.created_at
    ahead = and_(observed > pinned, observed <= pinned + timedelta(days=1))
    return case((ahead, pinned), else_=func.coalesce(observed, pinned))


def select_appearances(*device_ids) -> Select:
    """(id, appeared_at) of these devices."""
    return select(Device.id, appeared_at()).where(Device.id.in_(device_ids))


def still_there(status) -> ColumnElement:
    """The status of a device observed but not yet marked removed: before its first revision
    (pinned as removed, it was seen there), or a row loaded in bulk before its last change."""
    return case((status == "removed", "active"), else_=status)


def json_point(coordinates) -> ColumnElement:
    """The point of GeoJSON coordinates (a JSON array: lon, then lat), as revisions keep it."""
    lon_lat = [cast(coordinates[i].astext, Float) for i in (0, 1)]
    return func.ST_SetSRID(func.ST_MakePoint(*lon_lat), 4326)


def snapshot_position(snapshot) -> ColumnElement:
    """The point a revision's snapshot records."""
    return json_point(snapshot["geometry"])


def snapshot_state(snapshot, observed) -> dict[str, ColumnElement]:
    """What a statistic reads of the state SNAPSHOT records: position, kind, status, operator
    type, and whether it is a deleted pin's. OBSERVED (a bool, or an SQL one): the state before
    the first revision, so still there (still_there)."""
    status = snapshot["status"].astext
    if not isinstance(observed, bool):
        status = case((observed, still_there(status)), else_=status)
    elif observed:
        status = still_there(status)
    return {
        "geom": snapshot_position(snapshot),
        "kind": snapshot["kind"].astext,
        "status": status,
        "operator_type": snapshot["operator_type"].astext,
        "deleted": snapshot["deleted_at"].astext.is_not(None),
    }


def observed_then(found_changed_at, at) -> ColumnElement:
    """Whether a device stood at AT, before its first revision, as observed (still_there):
    unless that revision is the first edit of a row loaded in bulk, which keeps when its status
    was set (FOUND_CHANGED_AT, migration 0031), by AT already (status_without_history's rule,
    kept past the edit)."""
    return ~func.coalesce(found_changed_at <= at, false())


def status_dated_at() -> ColumnElement:
    """When the status of a device without history (loaded in bulk) was set, at the latest: its
    last change, before the service's own changes (votes, photos) if any (migration 0031)."""
    return func.coalesce(Device.bulk_changed_at, Device.updated_at)


def status_without_history(at, status=Device.status, dated_at=None):
    """The status at AT of a device without history (loaded in bulk): one marked removed was
    still there before its status was set (status_dated_at), the latest moment the removal can
    have been made."""
    dated_at = status_dated_at() if dated_at is None else dated_at
    return case((dated_at > at, still_there(status)), else_=status)


# The columns of a device a statistic reads, now or as it stood at a date.
STATE_COLUMNS = ("id", "geom", "kind", "status", "operator_type", "verification")
# And those of its view cone (service/geo/view_cones.py), read for the watched area.
VIEW_COLUMNS = ("camera_type", "direction", "angle")


def state_found_by(revision) -> ColumnElement:
    """The state REVISION (a row of device_revisions) found: its snapshot with each changed
    field as it was before. A creation found nothing: the state the device was pinned in is its
    snapshot; an edit of a row loaded in bulk (no earlier revision) found the row's columns. A
    publication (review_status changed) found nothing public either: before it, the device
    counts as published, never as drafted (is_public_revision)."""
    change = (
        func.jsonb_each(revision.changes)
        .table_valued(column("key", Text), column("value", JSONB))
        .render_derived()
    )
    before = select(func.jsonb_object_agg(change.c.key, change.c.value[0])).scalar_subquery()
    return case(
        (
            or_(revision.action == "create", revision.changes.has_key("review_status")),
            revision.snapshot,
        ),
        else_=revision.snapshot.op("||")(func.coalesce(before, cast(sql_string("{}"), JSONB))),
    )


def revision_snapshot_at(at: datetime):
    """A LATERAL subquery: the device's state as its public edit history gives it at AT (the
    snapshot of its last public revision until then, else the state its first one found)."""
    until_then = DeviceRevision.created_at <= at
    return (
        select(
            case((until_then, DeviceRevision.snapshot), else_=state_found_by(DeviceRevision)).label(
                "snapshot"
            ),
            until_then.label("until_then"),
            DeviceRevision.found_changed_at,
        )
        .where(DeviceRevision.device_id == Device.id, is_public_revision(DeviceRevision))
        .order_by(
            until_then.desc(),
            case((until_then, DeviceRevision.id), else_=-DeviceRevision.id).desc(),
        )
        .limit(1)
        .lateral("revision")
    )


def moved_after_pinned(revision=DeviceRevision) -> ColumnElement:
    """Whether REVISION (a row of device_revisions) moved its device after it was pinned, in
    public or not. Written as the partial index of moves says (device_revisions_moves_idx),
    with constants rather than parameters, so that PostgreSQL may read that index whatever
    plan it keeps."""
    return and_(
        revision.action != sql_string("create"), revision.changes.has_key(sql_string("geometry"))
    )


def is_a_move(revision=DeviceRevision) -> ColumnElement:
    """Whether REVISION moved its device after it was pinned, in public (a draft's moves are
    not replayed)."""
    return and_(moved_after_pinned(revision), is_public_revision(revision))


def moved_device_ids() -> Select:
    """The devices that ever moved after they were pinned (few): the only ones that may have
    stood elsewhere at a past date."""
    return select(DeviceRevision.device_id).where(is_a_move())


def nearby_or_moved(near: Select, box: ColumnElement | None) -> ColumnElement:
    """The devices of NEAR (ids) and those that ever moved. With BOX (a geometry around NEAR),
    the devices table is read through its spatial index and the moved ones by id (a bitmap of
    both), rather than by the ids of NEAR one at a time: a city holds hundreds of thousands,
    and the planner, which cannot tell how many, may choose either."""
    if box is None:
        return Device.id.in_(union(near, moved_device_ids()))
    moved = func.array(moved_device_ids().scalar_subquery())
    return or_(and_(Device.geom.op("&&")(box), Device.id.in_(near)), Device.id == any_(moved))


def device_states_at(
    at: datetime,
    near: Select | None = None,
    view: bool = False,
    box: ColumnElement | None = None,
):
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

    observed = and_(~revision.c.until_then, observed_then(revision.c.found_changed_at, at))
    then = snapshot_state(snapshot, observed)

    def known_or(name: str, now):
        return case((known, then[name]), else_=now)

    # A JSON array of integers ("[90, 270]") read as a PostgreSQL array ("{90, 270}").
    directions = func.translate(snapshot["direction"].astext, "[]", "{}")
    view_columns = [
        case((known, snapshot["camera_type"].astext), else_=Device.camera_type).label(
            "camera_type"
        ),
        case((known, cast(directions, ARRAY(SmallInteger))), else_=Device.direction).label(
            "direction"
        ),
        case((known, cast(snapshot["angle"].astext, Float)), else_=Device.angle).label("angle"),
    ]
    return (
        select(
            Device.id,
            known_or("geom", Device.geom).label("geom"),
            known_or("kind", Device.kind).label("kind"),
            known_or("status", status_without_history(at)).label("status"),
            known_or("operator_type", Device.operator_type).label("operator_type"),
            Device.verification,
            *(view_columns if view else []),
        )
        .select_from(Device)
        .outerjoin(revision, true())
        .where(
            *DeviceFilter().clauses(),
            appeared_at() <= at,
            or_(~known, ~then["deleted"]),
            *([nearby_or_moved(near, box)] if near is not None else []),
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
        self,
        near: Select | None = None,
        name: str = "counted_devices",
        view: bool = False,
        box: ColumnElement | None = None,
    ):
        """The devices this filter counts, as a subquery with STATE_COLUMNS (and VIEW_COLUMNS
        with VIEW): the devices table now, or each device as it stood at `at`.

        NEAR, when given, selects the ids of the devices standing now in the area the caller
        reads, and BOX a geometry holding them (see device_states_at); by default, those in the
        filter's bbox if it has one.
        NAME: the subquery's, unique within a statement.
        """
        if self.at is None:
            names = STATE_COLUMNS + (VIEW_COLUMNS if view else ())
            columns = [getattr(Device, name) for name in names]
            return select(*columns).where(*self.clauses()).subquery(name)
        if near is None and self.bboxes:
            near = select(Device.id).where(within_bboxes(Device.geom, self.bboxes))
        states = device_states_at(self.at, near, view, box)
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
