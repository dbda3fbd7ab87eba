"""Per period: devices added, removed, and on the map at its end, in one district.

Each device's states are replayed from its revisions by the rule of `at=`
(device_states_at in selection.py): the count at the end of every period is what `at=` gives
then, and a device enters or leaves the count when it appears, moves across the border,
changes status or kind, or is deleted.
"""

from sqlalchemy import (
    Text,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import INTERVAL, JSON, aggregate_order_by

from ... import vocabulary as vocab
from ...models import Device, DeviceDistrict, DeviceRevision, District
from ..devices.filter import DeviceFilter
from ..sql import sql_string
from .density import attribution_array
from .selection import (
    DistrictSelection,
    StatisticsFilter,
    appeared_at,
    moved_device_ids,
    snapshot_state,
    state_found_by,
    status_without_history,
)

TIMELINE_INTERVALS = ("day", "week", "month", "year")


def device_states(code: str, flt: StatisticsFilter):
    """Every state of the devices that ever stood in the district: (device_id, start, seq,
    counted), a state holding from START until the next one (SEQ orders those of one instant)
    and COUNTED when it is in the district and FLT chooses it.

    Candidates: the devices standing in the district now (its memberships, migration 0013) and
    those that ever moved (few), whose every recorded position is tested against the district.
    """
    moved = moved_device_ids()
    district = select(District.geom).where(District.code == code).scalar_subquery()
    members = select(DeviceDistrict.device_id).where(DeviceDistrict.district_code == code)
    in_its_box = Device.geom.op("&&")(district)  # members' pages only, through the GiST index
    columns = (
        Device.id,
        appeared_at().label("appeared"),
        Device.kind,
        Device.status,
        Device.operator_type,
        Device.verification,
        Device.updated_at,
        Device.id.in_(moved).label("moved"),
    )
    candidates = (
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
    revision = DeviceRevision
    order = (revision.created_at, revision.id)
    history = (
        select(
            revision.device_id,
            revision.created_at,
            revision.id,
            revision.snapshot,
            state_found_by(revision).label("found"),
            # The state at an instant is the latest revision made by then (device_states_at):
            # a revision dated before a later-made one never takes effect.
            func.max(revision.id)
            .over(partition_by=revision.device_id, order_by=order)
            .label("latest"),
            func.min(revision.id).over(partition_by=revision.device_id).label("first"),
        )
        .join(candidates, candidates.c.id == revision.device_id)
        .cte("history")
    )
    c = candidates.c

    def from_snapshot(snapshot, start, seq, observed: bool = False):
        """The state SNAPSHOT records from START; OBSERVED: before the first revision."""
        then = snapshot_state(snapshot, observed)
        return select(
            c.id.label("device_id"),
            func.greatest(start, c.appeared).label("start"),
            seq.label("seq"),
            # A device that never moved stands where it stood (it is a member): its position
            # is tested only if it moved. (A position changed without a revision, by an import
            # of OpenStreetMap nodes over edited devices, is then read from the columns,
            # where at= reads the snapshot's.)
            and_(~then["deleted"], or_(~c.moved, func.ST_Intersects(district, then["geom"]))).label(
                "kept"
            ),
            then["kind"].label("kind"),
            then["status"].label("status"),
            then["operator_type"].label("operator_type"),
            c.verification,
        ).join(history, history.c.device_id == c.id)

    def from_columns(start, seq, status):
        return select(
            c.id,
            func.greatest(start, c.appeared),
            literal(seq),
            true(),
            c.kind,
            status,
            c.operator_type,
            c.verification,
        )

    without_history = ~exists().where(revision.device_id == c.id)
    states = union_all(
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
    # A field missing from a snapshot leaves the state uncounted rather than unknown.
    counted = func.coalesce(and_(states.c.kept, *flt.count_clauses(states)), false())
    return select(
        states.c.device_id, states.c.start, states.c.seq, counted.label("counted")
    ).subquery("counted_states")


def select_timeline(code: str, interval: str, flt: StatisticsFilter, devices_credits: list[dict]):
    """Per period since the first change of the count (1900 at the earliest): devices added,
    removed, and on the map at its end."""
    assert interval in TIMELINE_INTERVALS  # bound into the statement as a constant
    states = device_states(code, flt)
    # Of the states of one instant, the last holds.
    instant = select(
        states,
        func.row_number()
        .over(partition_by=(states.c.device_id, states.c.start), order_by=states.c.seq.desc())
        .label("nth"),
    ).subquery("instants")
    changes = (
        select(
            instant.c.start,
            instant.c.counted,
            func.lag(instant.c.counted, 1, false())
            .over(partition_by=instant.c.device_id, order_by=instant.c.start)
            .label("before"),
        )
        .where(instant.c.nth == 1)
        .subquery("changes")
    )
    unit = sql_string(interval)
    changed_in = func.date_trunc(unit, changes.c.start)
    per_period = (
        select(
            changed_in.label("period"),
            func.count().filter(changes.c.counted).label("added"),
            func.count().filter(~changes.c.counted).label("removed"),
        )
        .where(changes.c.counted != changes.c.before)
        .group_by(changed_in)
        .cte("per_period")
    )
    # Periods from EARLIEST_SIGHTING_YEAR at the earliest (a device loaded in bulk with a date
    # in the year 1 would make a timeline by day of 740,000 periods); changes before count in
    # the first period's count.
    earliest = func.date_trunc(
        unit, func.make_timestamptz(vocab.EARLIEST_SIGHTING_YEAR, 1, 1, 0, 0, 0, sql_string("UTC"))
    )
    first_change = func.min(per_period.c.period)  # NULL without any: no period at all
    first = select(
        case((first_change.is_not(None), func.greatest(first_change, earliest)))
    ).scalar_subquery()
    series = (
        func.generate_series(
            first, func.date_trunc(unit, func.now()), cast(sql_string(f"1 {interval}"), INTERVAL)
        )
        .table_valued("start")
        .render_derived(name="series")
    )
    added = func.coalesce(per_period.c.added, 0)
    removed = func.coalesce(per_period.c.removed, 0)
    before_first = (
        select(func.coalesce(func.sum(per_period.c.added - per_period.c.removed), 0))
        .where(per_period.c.period < earliest)
        .scalar_subquery()
    )
    rows = (
        select(
            series.c.start,
            added.label("added"),
            removed.label("removed"),
            (func.sum(added - removed).over(order_by=series.c.start) + before_first).label("count"),
        )
        .select_from(series.outerjoin(per_period, per_period.c.period == series.c.start))
        .subquery("rows")
    )
    period = func.json_build_object(
        sql_string("start"),
        rows.c.start,
        sql_string("added"),
        rows.c.added,
        sql_string("removed"),
        rows.c.removed,
        sql_string("count"),
        rows.c.count,
    )
    periods = select(
        func.coalesce(
            func.json_agg(aggregate_order_by(period, rows.c.start)), cast(sql_string("[]"), JSON())
        )
    ).scalar_subquery()
    selection = DistrictSelection(codes=[code])
    sel = select(District.dataset, District.population_source).where(District.code == code).cte()
    return select(
        cast(
            func.json_build_object(
                sql_string("district"),
                District.code,
                sql_string("name"),
                District.name,
                sql_string("level"),
                District.level,
                sql_string("interval"),
                unit,
                sql_string("periods"),
                periods,
                sql_string("attribution"),
                attribution_array(sel, devices_credits),
            ),
            Text,
        )
    ).where(*selection.clauses())
