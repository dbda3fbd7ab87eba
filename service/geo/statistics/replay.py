"""Each device's states replayed from its revisions, by the rule of `at=` (device_states_at in
selection.py), and their changes kept per district (migration 0028).

A device's changes of state in a district (the state before and after, as a filter reads it,
and when) are kept for the districts a timeline was asked of, with their numbers per day and
month. Writers mark the devices they write; refresh_timelines replays the marked ones, and a
reader corrects the kept numbers by the devices still marked, replayed for it
(weighted_changes): exact whatever the marks.
"""

from collections.abc import Sequence
from types import SimpleNamespace

from sqlalchemy import (
    DateTime,
    Select,
    and_,
    any_,
    case,
    cast,
    column,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from ...models import (
    Device,
    DeviceDistrict,
    DeviceRevision,
    District,
    DistrictCsvLine,
    timeline_changes,
    timeline_device_changes,
    timeline_device_marks,
    timeline_districts,
)
from ...models.district import TIMELINE_STATE_FIELDS
from ...visibility import is_public_revision
from ..devices.filter import DeviceFilter
from ..sql import sql_string
from .selection import (
    appeared_at,
    moved_device_ids,
    revision_snapshot_at,
    snapshot_position,
    snapshot_state,
    state_found_by,
    status_dated_at,
    status_without_history,
)

# Marked devices beyond which a refresh forgets the kept timelines (after a bulk load, say)
# rather than replaying each device: the next request of a district replays it whole.
MAX_REPLAYED_MARKS = 50_000
# The most districts, and devices in them, a request of `at=` keeps the timelines of (each
# district's devices replayed once; Paris's 285,705 take about five seconds): larger
# selections are replayed whole until their districts are kept otherwise.
MAX_KEPT_PER_REQUEST = 200
MAX_KEPT_DEVICES_PER_REQUEST = 500_000
REFRESH_LOCK = literal_column("'timeline_districts'::regclass::oid::bigint")
FIRST_DAY = cast(sql_string("0001-01-01 00:00:00+00"), DateTime(timezone=True))
# How long a refresh waits for a row another transaction holds (a district import).
REFRESH_LOCK_TIMEOUT = "500ms"


def candidate_columns(code):
    """What a replay reads of a device (Device in the FROM clause) for district CODE."""
    return (
        code.label("code"),
        Device.id,
        appeared_at().label("appeared"),
        Device.kind,
        Device.status,
        Device.operator_type,
        Device.verification,
        status_dated_at().label("status_dated_at"),
    )


def district_candidates(code: str):
    """The devices that may ever have stood in district CODE, with candidate_columns and
    MOVED: those standing in it now (its memberships, migration 0013) and those that ever
    moved (few), whose every recorded position is tested against the district."""
    moved = moved_device_ids()
    columns = (*candidate_columns(literal(code)), Device.id.in_(moved).label("moved"))
    district = select(District.geom).where(District.code == code).scalar_subquery()
    members = select(DeviceDistrict.device_id).where(DeviceDistrict.district_code == code)
    in_its_box = Device.geom.op("&&")(district)  # members' pages only, through the GiST index
    return (
        union_all(
            select(*columns).where(
                *DeviceFilter().clauses(),
                in_its_box,
                or_(Device.id.in_(members), Device.id.in_(moved)),
            ),
            select(*columns).where(*DeviceFilter().clauses(), ~in_its_box, Device.id.in_(moved)),
        )
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )


def kept_device_candidates(devices, name: str = "candidates"):
    """The devices of DEVICES (a subquery of ids) in every kept district they may ever have
    stood in (a row per district and device, as district_candidates): the kept districts they
    are members of, and for those that moved, those any of their recorded positions meets."""
    kept = select(timeline_districts.c.code)
    devices = by_id(devices)
    members = select(DeviceDistrict.district_code.label("code"), DeviceDistrict.device_id).where(
        DeviceDistrict.device_id == any_(devices), DeviceDistrict.district_code.in_(kept)
    )
    revision = DeviceRevision
    moved = moved_device_ids().where(revision.device_id == any_(devices))
    revisions = (
        select(revision.device_id, revision.snapshot, state_found_by(revision).label("found"))
        .where(revision.device_id.in_(moved), is_public_revision(revision))
        .subquery("moved_revisions")
    )
    recorded = union_all(
        *[
            select(revisions.c.device_id, snapshot_position(revisions.c[name]).label("geom"))
            for name in ("snapshot", "found")
        ]
    ).subquery("recorded")
    where_they_were = (
        select(District.code, recorded.c.device_id)
        .join(recorded, func.ST_Intersects(District.geom, recorded.c.geom))
        .where(District.code.in_(kept))
    )
    pairs = union(members, where_they_were).subquery("pairs")
    return (
        select(
            *candidate_columns(pairs.c.code),
            Device.id.in_(select(moved.subquery().c.device_id)).label("moved"),
        )
        .join(pairs, pairs.c.device_id == Device.id)
        .where(*DeviceFilter().clauses())
        .cte(name)
        .prefix_with("MATERIALIZED")
    )


def device_states(candidates):
    """Every state of the CANDIDATES (district_candidates' rows) in their district: (code,
    device_id, start, seq, and the TIMELINE_STATE_FIELDS, null while the device is not in the
    district or deleted), a state holding from START until the next one (SEQ orders those of
    one instant)."""
    revision = DeviceRevision
    c = candidates.c
    order = (revision.created_at, revision.id)
    history = (
        select(
            c.code,
            revision.device_id,
            revision.created_at,
            revision.id,
            revision.snapshot,
            state_found_by(revision).label("found"),
            revision.found_changed_at,
            # The state at an instant is the latest revision made by then (device_states_at):
            # a revision dated before a later-made one never takes effect.
            func.max(revision.id)
            .over(partition_by=(c.code, revision.device_id), order_by=order)
            .label("latest"),
            func.min(revision.id).over(partition_by=(c.code, revision.device_id)).label("first"),
        )
        .join(candidates, c.id == revision.device_id)
        .where(is_public_revision(revision))
        .cte(f"{candidates.name}_history")
    )
    district = select(District.geom).where(District.code == c.code).scalar_subquery()

    def from_snapshot(snapshot, start, seq, observed: bool = False):
        """The state SNAPSHOT records from START; OBSERVED: before the first revision."""
        then = snapshot_state(snapshot, observed)
        # A device that never moved stands where it stood (it is a member): its position is
        # tested only if it moved. (Nothing changes the position of a device with revisions
        # without one: an import of OpenStreetMap nodes leaves edited devices alone.)
        there = and_(~then["deleted"], or_(~c.moved, func.ST_Intersects(district, then["geom"])))
        fields = {**then, "verification": c.verification}
        return select(
            c.code,
            c.id.label("device_id"),
            func.greatest(start, c.appeared).label("start"),
            seq.label("seq"),
            *[case((there, fields[name])).label(name) for name in TIMELINE_STATE_FIELDS],
        ).join(history, and_(history.c.device_id == c.id, history.c.code == c.code))

    def from_columns(start, seq, status):
        return select(
            c.code,
            c.id,
            func.greatest(start, c.appeared),
            literal(seq),
            c.kind,
            status,
            c.operator_type,
            c.verification,
        )

    without_history = ~exists().where(revision.device_id == c.id, is_public_revision(revision))
    return union_all(
        # Each revision from when it was made...
        from_snapshot(history.c.snapshot, history.c.created_at, history.c.id).where(
            history.c.id == history.c.latest
        ),
        # ...and, from its appearance to its first revision, the state that one found, still
        # there (observed_then)...
        from_snapshot(history.c.found, c.appeared, literal(-1), observed=True).where(
            history.c.id == history.c.first
        ),
        # ...as it was, for a row loaded in bulk, from its last change before that revision.
        from_snapshot(history.c.found, history.c.found_changed_at, literal(0)).where(
            history.c.id == history.c.first, history.c.found_changed_at < history.c.created_at
        ),
        # Without history (loaded in bulk): its columns from its appearance...
        from_columns(
            c.appeared, 0, status_without_history(c.appeared, c.status, c.status_dated_at)
        ).where(without_history),
        # ...and a removal from when its status was set (status_without_history's rule).
        from_columns(c.status_dated_at, 1, c.status).where(without_history, c.status == "removed"),
    ).subquery("states")


def state_changes(candidates):
    """The changes of state of the CANDIDATES in their district: (code, device_id, at, the
    state before and after), from none (not yet there) to their first state, in the columns
    of timeline_device_changes."""
    states = device_states(candidates)
    # Of the states of one instant, the last holds.
    instant = select(
        states,
        func.row_number()
        .over(
            partition_by=(states.c.code, states.c.device_id, states.c.start),
            order_by=states.c.seq.desc(),
        )
        .label("nth"),
    ).subquery("instants")
    device = (instant.c.code, instant.c.device_id)
    after = [instant.c[name] for name in TIMELINE_STATE_FIELDS]
    before = [
        func.lag(field).over(partition_by=device, order_by=instant.c.start) for field in after
    ]
    lagged = (
        select(
            instant.c.code,
            instant.c.device_id,
            # Kept numbers are counted per period, which -infinity has not: kept as the first
            # representable day (before 1900, as replayed). +infinity is never reached by a
            # date, nor counted in any period, kept or replayed.
            func.greatest(instant.c.start, FIRST_DAY).label("at"),
            *[
                value.label(f"before_{name}")
                for name, value in zip(TIMELINE_STATE_FIELDS, before, strict=True)
            ],
            *[
                value.label(f"after_{name}")
                for name, value in zip(TIMELINE_STATE_FIELDS, after, strict=True)
            ],
        )
        .where(instant.c.nth == 1)
        .subquery("lagged")
    )
    sides = [
        tuple_(*[lagged.c[f"{side}_{name}"] for name in TIMELINE_STATE_FIELDS])
        for side in ("before", "after")
    ]
    return select(lagged).where(sides[0].is_distinct_from(sides[1]))


def by_id(ids: Select) -> ColumnElement:
    """IDS (a subquery of device ids) as an array: rows are then read through the index on
    their device, one id at a time, however many the planner guesses (it cannot tell how many
    marks there are, nor how many kept changes a district has)."""
    return func.array(ids.scalar_subquery())


def change_columns(table) -> list:
    return [
        table.c[f"{side}_{name}"] for side in ("before", "after") for name in TIMELINE_STATE_FIELDS
    ]


def corrected_by_marks(codes: Select, until=None) -> tuple[list[Select], object]:
    """What corrects the changes kept for the districts of CODES (all kept) into the present
    ones: less the kept changes of the devices marked since, plus those devices' changes
    replayed now (rows code, at, the state before and after, n), until UNTIL if given. Also
    the replayed changes themselves (a CTE)."""
    marked = select(timeline_device_marks.c.device_id)
    replayed = state_changes(kept_device_candidates(marked, name="marked_candidates")).subquery()
    replayed = select(replayed).where(replayed.c.code.in_(codes)).cte("replayed_marked")
    kept = timeline_device_changes

    def up_to(at) -> list:
        return [at <= until] if until is not None else []

    return [
        select(kept.c.code, kept.c.at, *change_columns(kept), literal(-1).label("n")).where(
            kept.c.code.in_(codes), kept.c.device_id == any_(by_id(marked)), *up_to(kept.c.at)
        ),
        select(replayed.c.code, replayed.c.at, *change_columns(replayed), literal(1)).where(
            *up_to(replayed.c.at)
        ),
    ], replayed


def weighted_changes(code: str, unit: str):
    """The changes of state of district CODE's devices (code, at, the state before and after,
    and how many devices made it, N): when its timeline is kept, the kept numbers per UNIT
    (the period they start as AT) corrected by the devices marked since; otherwise every
    device replayed now."""
    codes = select(timeline_districts.c.code).where(timeline_districts.c.code == code)
    kept = exists(codes)
    numbers = timeline_changes
    corrections, _replayed = corrected_by_marks(codes)
    replayed = state_changes(district_candidates(code)).subquery()
    return union_all(
        select(
            numbers.c.code, numbers.c.period.label("at"), *change_columns(numbers), numbers.c.n
        ).where(numbers.c.code == code, numbers.c.unit == unit, kept),
        *[correction.where(kept) for correction in corrections],
        select(replayed.c.code, replayed.c.at, *change_columns(replayed), literal(1)).where(~kept),
    ).subquery("changes")


def counted(changes, side: str, flt) -> ColumnElement:
    """Whether FLT counts the state on SIDE ("before" or "after") of CHANGES' rows. The status
    filter is never empty (PRESENT_STATUSES by default), so that a side with no state (null
    fields) is never counted; nor is a state missing a field."""
    fields = {name: changes.c[f"{side}_{name}"] for name in TIMELINE_STATE_FIELDS}
    return func.coalesce(and_(*flt.count_clauses(SimpleNamespace(c=fields))), false())


def select_devices_to_keep(codes: Sequence[str]) -> Select:
    """How many public devices the districts of CODES whose timelines are not kept hold (their
    kept CSV lines' counts): what keeping them would replay."""
    line = DistrictCsvLine.__table__
    return select(func.coalesce(func.sum(line.c.count), 0)).where(
        line.c.code.in_(codes), line.c.code.not_in(select(timeline_districts.c.code))
    )


def all_kept(codes: Select) -> ColumnElement:
    """Whether the timeline of each district of CODES is kept."""
    return ~exists(codes.where(District.code.not_in(select(timeline_districts.c.code))))


def kept_hits_at(codes: Select, flt) -> Select:
    """The hits of `at=` (code, kind, status, verification, n), from the changes kept for the
    districts of CODES (all kept: all_kept): each device counted at FLT.at in each district it
    stood in then, by the state it had, less those a selected district of its level with a
    smaller code also held (the border rule).

    The kept numbers add up whole months, then days, then the changes of FLT.at's day until
    it, corrected by the devices marked since (corrected_by_marks), as a timeline's are.
    """
    at = instant_of(flt)
    month, day = func.date_trunc(sql_string("month"), at), func.date_trunc(sql_string("day"), at)
    numbers, device_changes = timeline_changes, timeline_device_changes
    corrections, replayed = corrected_by_marks(codes, until=at)

    def kept_numbers(unit: str, *periods):
        return select(
            numbers.c.code, numbers.c.period, *change_columns(numbers), numbers.c.n
        ).where(numbers.c.code.in_(codes), numbers.c.unit == unit, *periods)

    weighted = union_all(
        kept_numbers("month", numbers.c.period < month),
        kept_numbers("day", numbers.c.period >= month, numbers.c.period < day),
        select(
            device_changes.c.code, device_changes.c.at, *change_columns(device_changes), literal(1)
        ).where(
            device_changes.c.code.in_(codes), device_changes.c.at >= day, device_changes.c.at <= at
        ),
        *corrections,
    ).subquery("weighted")

    def hits(side: str, sign: int):
        return select(
            weighted.c.code, *hit_fields(weighted, side), (sign * weighted.c.n).label("n")
        ).where(counted(weighted, side, flt))

    return union_all(hits("after", 1), hits("before", -1), border_hits_at(codes, flt, replayed))


def instant_of(flt) -> ColumnElement:
    """FLT.at, typed in the statement (the periods' bounds are computed from it)."""
    return cast(literal(flt.at), DateTime(timezone=True))


def hit_fields(changes, side: str) -> list:
    """The fields of a hit (kind, status, verification) on SIDE of CHANGES' rows."""
    return [changes.c[f"{side}_{name}"].label(name) for name in ("kind", "status", "verification")]


def border_hits_at(codes: Select, flt, replayed) -> Select:
    """The border rule at FLT.at, as hits to add to kept_hits_at's: -1 for each device counted
    in a selected district that a selected district of the same level with a smaller code also
    held then. Only devices on a border now (memberships) or that ever moved can be."""
    at, device_changes = instant_of(flt), timeline_device_changes
    on_a_border = select(DeviceDistrict.device_id).where(
        ~DeviceDistrict.interior, DeviceDistrict.district_code.in_(codes)
    )
    candidates = union(on_a_border, moved_device_ids())
    marked = select(timeline_device_marks.c.device_id)
    names = ("code", "device_id", "at", *[f"after_{name}" for name in TIMELINE_STATE_FIELDS])
    effective = union_all(
        select(*[device_changes.c[name] for name in names]).where(
            device_changes.c.code.in_(codes),
            device_changes.c.device_id.in_(candidates),
            device_changes.c.device_id.not_in(marked),
            device_changes.c.at <= at,
        ),
        select(*[replayed.c[name] for name in names]).where(
            replayed.c.device_id.in_(candidates), replayed.c.at <= at
        ),
    ).subquery("effective")
    latest = func.row_number().over(
        partition_by=(effective.c.code, effective.c.device_id), order_by=effective.c.at.desc()
    )
    ranked = (
        select(effective, latest.label("nth"), District.level)
        .join(District, District.code == effective.c.code)
        .subquery("ranked")
    )
    # The state then: its last change until AT; held when the device stood in the district
    # (a state's verification is never null).
    then = (
        select(ranked)
        .where(ranked.c.nth == 1, ranked.c.after_verification.is_not(None))
        .cte("held_then")
    )
    smaller = then.alias("smaller")
    held_by_a_smaller_one = exists().where(
        smaller.c.device_id == then.c.device_id,
        smaller.c.code < then.c.code,
        smaller.c.level == then.c.level,
    )
    return select(then.c.code, *hit_fields(then, "after"), literal(-1).label("n")).where(
        counted(then, "after", flt), ~interior_then(then, at), held_by_a_smaller_one
    )


def interior_then(held, at) -> ColumnElement:
    """Whether the interior of HELD's district held its device at AT (districts of one level
    may overlap: a device inside one counts there, whatever the others): its membership's for
    a device that never moved, its position then for one that did."""
    moved = moved_device_ids()
    revision = revision_snapshot_at(at)
    position_then = (
        select(snapshot_position(revision.c.snapshot))
        .select_from(Device)
        .join(revision, true())
        .where(Device.id == held.c.device_id)
        .scalar_subquery()
    )
    district = select(District.geom).where(District.code == held.c.code).scalar_subquery()
    member_inside = exists().where(
        DeviceDistrict.device_id == held.c.device_id,
        DeviceDistrict.district_code == held.c.code,
        DeviceDistrict.interior,
    )
    return case(
        (held.c.device_id.in_(moved), func.ST_Contains(district, position_then)),
        else_=member_inside,
    )


def kept_changes_of(candidates):
    """The INSERT of the CANDIDATES' changes into timeline_device_changes, as a CTE of the
    (code, at) it wrote."""
    changes = timeline_device_changes
    columns = ["code", "device_id", "at", *[c.name for c in change_columns(changes)]]
    return (
        insert(changes)
        .from_select(columns, state_changes(candidates))
        .returning(changes.c.code, changes.c.at)
        .cte("fresh")
    )


def refresh_timelines(writer, codes: Sequence[str] = ()) -> int:
    """On the primary (WRITER, a session whose transaction the caller commits): replay in
    every kept district the devices marked since, and keep the timelines of CODES not kept
    yet. Skipped while another refresh runs (readers are exact anyway). Returns how many marks
    it took.

    Marks are taken and devices replayed in one statement (one snapshot): a mark committed
    after it stays for the next refresh.
    """
    if not writer.execute(select(func.pg_try_advisory_xact_lock(REFRESH_LOCK))).scalar_one():
        return 0
    marks = writer.execute(select(func.count()).select_from(timeline_device_marks)).scalar_one()
    existing = select(District.code).where(District.code.in_(codes))
    new = writer.execute(
        existing.where(District.code.not_in(select(timeline_districts.c.code)))
    ).scalars()
    new = sorted(new)
    if not marks and not new:
        return 0
    # A district import under way holds rows this refresh would write beside or wait for
    # (its polygons, the kept districts it forgets): the refresh gives up rather than wait,
    # and readers replay the marked devices themselves meanwhile.
    writer.execute(select(func.set_config("lock_timeout", REFRESH_LOCK_TIMEOUT, True)))
    forgotten = 0
    if marks > MAX_REPLAYED_MARKS:  # forgotten, and CODES kept again from what is there now
        writer.execute(delete(timeline_districts))
        forgotten = writer.execute(delete(timeline_device_marks)).rowcount
        new, marks = sorted(writer.execute(existing).scalars()), 0
        if not new:
            return forgotten
    writer.execute(text(TOUCHED_TABLE))
    if marks:
        replay_marked_devices(writer)
    for code in new:
        keep_district(writer, code)
    writer.execute(text(RECOUNT_TOUCHED))
    return marks + forgotten


# Where a refresh notes the instants of the changes it deleted and wrote.
TOUCHED = table("timeline_touched", column("code"), column("at"))


def replay_marked_devices(writer) -> None:
    """Take the marks and replay their devices in every kept district, in one statement."""
    marks, changes = timeline_device_marks, timeline_device_changes
    taken = delete(marks).returning(marks.c.device_id).cte("taken")
    stale = select(taken.c.device_id).distinct()
    gone = (
        delete(changes)
        .where(changes.c.device_id.in_(stale))
        .returning(changes.c.code, changes.c.at)
        .cte("gone")
    )
    fresh = kept_changes_of(kept_device_candidates(stale))
    both = union(select(gone.c.code, gone.c.at), select(fresh.c.code, fresh.c.at))
    writer.execute(insert(TOUCHED).from_select(["code", "at"], both))


def keep_district(writer, code: str) -> None:
    """Keep district CODE's timeline (if it exists): every device that may have stood in it
    replayed.

    The district's row is locked first (shared): an import that reshapes it and forgets its
    kept timeline then waits for this one, or this one (after REFRESH_LOCK_TIMEOUT at most)
    reads the new polygon and memberships, never the old ones after the forgetting.
    """
    writer.execute(select(District.code).where(District.code == code).with_for_update(read=True))
    # Left by a refresh that wrote beside a forgetting of this district it could not see yet
    # (the changes name their district without a foreign key: migration 0028).
    for kept in (timeline_device_changes, timeline_changes):
        writer.execute(delete(kept).where(kept.c.code == code))
    registered = writer.execute(
        insert(timeline_districts)
        .from_select(["code"], select(District.code).where(District.code == code))
        .returning(timeline_districts.c.code)
    ).first()
    if registered is not None:
        fresh = kept_changes_of(district_candidates(code))
        writer.execute(
            insert(TOUCHED).from_select(["code", "at"], select(fresh.c.code, fresh.c.at))
        )


# The instants whose numbers a refresh counts again, per district.
TOUCHED_TABLE = (
    "CREATE TEMPORARY TABLE timeline_touched (code varchar(32), at timestamptz) ON COMMIT DROP"
)
_STATES = ", ".join(
    f"{side}_{name}" for side in ("before", "after") for name in TIMELINE_STATE_FIELDS
)
# Count again, per day and month, the changes of the periods a refresh touched, each period's
# read through the index on code and instant (OFFSET 0: the planner, which cannot tell how few
# periods the instants make, would otherwise join every kept change of their districts). The
# instants are analyzed first, so that a few touched periods replace their kept numbers
# through the index too.
RECOUNT_TOUCHED = f"""
ANALYZE timeline_touched;
WITH touched AS MATERIALIZED (
    SELECT DISTINCT code, unit, date_trunc(unit, at) AS period
    FROM timeline_touched, (VALUES ('day'), ('month')) AS units (unit)
),
cleared AS (
    DELETE FROM timeline_changes c USING touched t
    WHERE c.code = t.code AND c.unit = t.unit AND c.period = t.period
)
INSERT INTO timeline_changes (code, unit, period, {_STATES}, n)
SELECT t.code, t.unit, t.period, {_STATES}, count(*)
FROM touched t CROSS JOIN LATERAL (
    SELECT {_STATES} FROM timeline_device_changes d
    WHERE d.code = t.code AND d.at >= t.period AND d.at < t.period + ('1 ' || t.unit)::interval
    OFFSET 0
) d
GROUP BY t.code, t.unit, t.period, {_STATES};
DROP TABLE timeline_touched;
"""
