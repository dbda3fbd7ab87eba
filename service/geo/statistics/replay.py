"""Each device's states replayed from its revisions, by the rule of `at=` (device_states_at in
selection.py), and their changes kept per district (migration 0028).

A device's changes of state in a district (the state before and after, as a filter reads it,
and when) are kept for the districts a timeline was asked of, with their numbers per day and
month. Writers mark the devices they write; refresh_timelines replays the marked ones, and a
reader corrects the kept numbers by the devices still marked, replayed for it
(weighted_changes): exact whatever the marks.
"""

from sqlalchemy import (
    and_,
    case,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    tuple_,
    union,
    union_all,
)

from ...models import (
    Device,
    DeviceDistrict,
    DeviceRevision,
    District,
    timeline_changes,
    timeline_device_changes,
    timeline_device_marks,
    timeline_districts,
)
from ...models.district import TIMELINE_STATE_FIELDS
from ..devices.filter import DeviceFilter
from .selection import (
    appeared_at,
    moved_device_ids,
    snapshot_position,
    snapshot_state,
    state_found_by,
    status_without_history,
)

# Marked devices beyond which a refresh forgets the kept timelines (after a bulk load, say)
# rather than replaying each device: the next request of a district replays it whole.
MAX_REPLAYED_MARKS = 50_000
REFRESH_LOCK = literal_column("'timeline_districts'::regclass::oid::bigint")


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
        Device.updated_at,
    )


def district_candidates(code: str, only=None, name: str = "candidates"):
    """The devices that may ever have stood in district CODE, with candidate_columns and
    MOVED: those standing in it now (its memberships, migration 0013) and those that ever
    moved (few), whose every recorded position is tested against the district.

    ONLY: a subquery of a few device ids (the marked ones), to which they are restricted:
    then read by id, each membership looked up, rather than the district's devices.
    """
    moved = moved_device_ids()
    if only is not None:
        moved = moved.where(DeviceRevision.device_id.in_(only))
    columns = (*candidate_columns(literal(code)), Device.id.in_(moved).label("moved"))
    if only is not None:
        member = exists().where(
            DeviceDistrict.device_id == Device.id, DeviceDistrict.district_code == code
        )
        chosen = select(*columns).where(
            *DeviceFilter().clauses(), Device.id.in_(only), or_(member, Device.id.in_(moved))
        )
        return chosen.cte(name).prefix_with("MATERIALIZED")
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
        .cte(name)
        .prefix_with("MATERIALIZED")
    )


def kept_device_candidates(devices):
    """The devices of DEVICES (a subquery of ids) in every kept district they may ever have
    stood in (a row per district and device, as district_candidates): the kept districts they
    are members of, and for those that moved, those any of their recorded positions meets."""
    kept = select(timeline_districts.c.code)
    members = select(DeviceDistrict.district_code.label("code"), DeviceDistrict.device_id).where(
        DeviceDistrict.device_id.in_(devices), DeviceDistrict.district_code.in_(kept)
    )
    revision = DeviceRevision
    moved = moved_device_ids().where(revision.device_id.in_(devices))
    revisions = (
        select(revision.device_id, revision.snapshot, state_found_by(revision).label("found"))
        .where(revision.device_id.in_(moved))
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
        .cte("candidates")
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
            # The state at an instant is the latest revision made by then (device_states_at):
            # a revision dated before a later-made one never takes effect.
            func.max(revision.id)
            .over(partition_by=(c.code, revision.device_id), order_by=order)
            .label("latest"),
            func.min(revision.id).over(partition_by=(c.code, revision.device_id)).label("first"),
        )
        .join(candidates, c.id == revision.device_id)
        .cte(f"{candidates.name}_history")
    )
    district = select(District.geom).where(District.code == c.code).scalar_subquery()

    def from_snapshot(snapshot, start, seq, observed: bool = False):
        """The state SNAPSHOT records from START; OBSERVED: before the first revision."""
        then = snapshot_state(snapshot, observed)
        # A device that never moved stands where it stood (it is a member): its position is
        # tested only if it moved. (A position changed without a revision, by an import of
        # OpenStreetMap nodes over edited devices, is then read from the columns, where at=
        # reads the snapshot's.)
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

    without_history = ~exists().where(revision.device_id == c.id)
    return union_all(
        # Each revision from when it was made...
        from_snapshot(history.c.snapshot, history.c.created_at, history.c.id).where(
            history.c.id == history.c.latest
        ),
        # ...and, from its appearance to its first revision, the state that one found.
        from_snapshot(history.c.found, c.appeared, literal(0), observed=True).where(
            history.c.id == history.c.first
        ),
        # Without history (loaded in bulk): its columns from its appearance...
        from_columns(
            c.appeared, 0, status_without_history(c.appeared, c.status, c.updated_at)
        ).where(without_history),
        # ...and a removal from its last change (status_without_history's rule).
        from_columns(c.updated_at, 1, c.status).where(without_history, c.status == "removed"),
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
            instant.c.start.label("at"),
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


def change_columns(table) -> list:
    return [
        table.c[f"{side}_{name}"] for side in ("before", "after") for name in TIMELINE_STATE_FIELDS
    ]


def weighted_changes(code: str, unit: str):
    """The changes of state of district CODE's devices (at, the state before and after, and
    how many devices made it, N): when its timeline is kept, the kept numbers per UNIT (the
    period they start as AT), less the kept changes of the devices marked since, plus those
    devices' changes replayed now; otherwise every device replayed now."""
    kept = exists().where(timeline_districts.c.code == code)
    marked = select(timeline_device_marks.c.device_id)
    numbers, device_changes = timeline_changes, timeline_device_changes

    def replayed(candidates, condition):
        changes = state_changes(candidates).subquery()
        return select(changes.c.at, *change_columns(changes), literal(1)).where(condition)

    return union_all(
        select(numbers.c.period.label("at"), *change_columns(numbers), numbers.c.n).where(
            numbers.c.code == code, numbers.c.unit == unit, kept
        ),
        select(device_changes.c.at, *change_columns(device_changes), literal(-1)).where(
            device_changes.c.code == code, device_changes.c.device_id.in_(marked), kept
        ),
        replayed(district_candidates(code, only=marked, name="marked_candidates"), kept),
        replayed(district_candidates(code), ~kept),
    ).subquery("changes")


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


def refresh_timelines(writer, code: str | None = None) -> int:
    """On the primary (WRITER, a session whose transaction the caller commits): replay in
    every kept district the devices marked since, and with CODE keep that district's timeline
    if it is not kept yet. Skipped while another refresh runs (readers are exact anyway).
    Returns how many marks it took.

    Marks are taken and devices replayed in one statement (one snapshot): a mark committed
    after it stays for the next refresh.
    """
    if not writer.execute(select(func.pg_try_advisory_xact_lock(REFRESH_LOCK))).scalar_one():
        return 0
    marks = writer.execute(select(func.count()).select_from(timeline_device_marks)).scalar_one()
    new = (
        code is not None
        and not writer.execute(
            select(exists().where(timeline_districts.c.code == code))
        ).scalar_one()
    )
    if not marks and not new:
        return 0
    forgotten = 0
    if marks > MAX_REPLAYED_MARKS:  # forgotten, and CODE kept again from what is there now
        writer.execute(delete(timeline_districts))
        forgotten = writer.execute(delete(timeline_device_marks)).rowcount
        new, marks = code is not None, 0
        if not new:
            return forgotten
    writer.execute(text(TOUCHED_TABLE))
    if marks:
        replay_marked_devices(writer)
    if new:
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
    replayed."""
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
