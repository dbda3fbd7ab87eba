"""Per period: devices added, removed, and on the map at its end, in one district.

Each device's states are replayed from its revisions by the rule of `at=`
(device_states_at in selection.py): the count at the end of every period is what `at=` gives
then, and a device enters or leaves the count when it appears, moves across the border,
changes status or kind, or is deleted.

The replay's changes of state are kept for the districts a timeline was asked of (replay.py,
migration 0028): a timeline adds up their numbers per day or month, corrected by the devices
written since.
"""

from sqlalchemy import (
    Text,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import INTERVAL, JSON, aggregate_order_by

from ... import vocabulary as vocab
from ...models import District
from ..sql import sql_string
from .density import attribution_array
from .replay import counted, weighted_changes
from .selection import DistrictSelection, StatisticsFilter

TIMELINE_INTERVALS = ("day", "week", "month", "year")
# The kept unit each interval's periods are unions of (UTC, the sessions' time zone).
KEPT_UNITS = {"day": "day", "week": "day", "month": "month", "year": "month"}


def select_timeline(code: str, interval: str, flt: StatisticsFilter, devices_credits: list[dict]):
    """Per period since the first change of the count (1900 at the earliest): devices added,
    removed, and on the map at its end."""
    assert interval in TIMELINE_INTERVALS  # bound into the statement as a constant
    changes = weighted_changes(code, KEPT_UNITS[interval])

    before, after = counted(changes, "before", flt), counted(changes, "after", flt)
    unit = sql_string(interval)
    changed_in = func.date_trunc(unit, changes.c.at)
    added = func.coalesce(func.sum(changes.c.n).filter(and_(after, ~before)), 0)
    removed = func.coalesce(func.sum(changes.c.n).filter(and_(before, ~after)), 0)
    per_period = (
        select(changed_in.label("period"), added.label("added"), removed.label("removed"))
        .where(before != after)
        .group_by(changed_in)
        # Kept changes less those replayed again may leave nothing in a period.
        .having(or_(added != 0, removed != 0))
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
