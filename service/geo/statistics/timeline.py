"""Per period: devices added, removed, and on the map at its end, in one district.

Each device's states are replayed from its revisions by the rule of `at=`
(device_states_at in selection.py): the count at the end of every period is what `at=` gives
then, and a device enters or leaves the count when it appears, moves across the border,
changes status or kind, or is deleted.

The replay's changes of state are kept for the districts a timeline was asked of (replay.py,
migration 0028): a timeline adds up their numbers per day or month, corrected by the devices
written since.
"""

from datetime import date

from sqlalchemy import (
    Text,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import INTERVAL, JSON, TIMESTAMP, aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ... import vocabulary as vocab
from ...models import District
from ..sql import sql_string
from .csv import csv_cell
from .density import attribution_array
from .replay import counted, weighted_changes
from .selection import DistrictSelection, StatisticsFilter

TIMELINE_INTERVALS = ("day", "week", "month", "year")
# The kept unit each interval's periods are unions of (UTC, the sessions' time zone).
KEPT_UNITS = {"day": "day", "week": "day", "month": "month", "year": "month"}


def select_timeline(
    code: str,
    interval: str,
    flt: StatisticsFilter,
    devices_credits: list[dict],
    *,
    since: date | None = None,
    as_csv: bool = False,
):
    """Per period since the first change of the count (1900 at the earliest), or from the one
    holding SINCE (series of several districts then line up): devices added, removed, and on
    the map at its end. AS_CSV: one CSV line per period (TIMELINE_CSV_COLUMNS), else JSON."""
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
    start = case((first_change.is_not(None), func.greatest(first_change, earliest)))
    if since is not None:
        start = func.date_trunc(unit, cast(sql_string(since.isoformat()), TIMESTAMP(True)))
    first = select(start).scalar_subquery()
    series = (
        func.generate_series(
            first, func.date_trunc(unit, func.now()), cast(sql_string(f"1 {interval}"), INTERVAL)
        )
        .table_valued("start")
        .render_derived(name="series")
    )
    added = func.coalesce(per_period.c.added, 0)
    removed = func.coalesce(per_period.c.removed, 0)
    # Changes before the first period count in its count.
    before_first = (
        select(func.coalesce(func.sum(per_period.c.added - per_period.c.removed), 0))
        .where(per_period.c.period < first)
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
    selection = DistrictSelection(codes=[code])
    if as_csv:
        return timeline_csv(rows, unit, selection)
    period = func.json_build_object(
        sql_string("start"),
        period_day(rows),
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


# The columns of a timeline as CSV, one line per period: the district's on every line, so that
# the timelines of several districts concatenate into one table.
TIMELINE_CSV_COLUMNS = (
    "district", "name", "level", "interval", "start", "added", "removed", "count",
)  # fmt: skip


def period_day(rows) -> ColumnElement:
    """Every period starts at 00:00 UTC: its day (YYYY-MM-DD) says it, in JSON as in CSV."""
    return func.to_char(
        rows.c.start.op("AT TIME ZONE")(sql_string("UTC")), sql_string("YYYY-MM-DD")
    )


def timeline_csv(rows, unit, selection: DistrictSelection):
    """The header, then a line per period of ROWS (the timeline's subquery), oldest first; NULL
    when no district has the code."""
    text_cells = [
        csv_cell(value, is_text=True)
        for value in (District.code, District.name, District.level, unit)
    ]
    start = period_day(rows)
    line = func.concat(
        func.concat_ws(
            sql_string(","),
            *text_cells,
            csv_cell(start, is_text=True),
            *(csv_cell(rows.c[name], is_text=False) for name in ("added", "removed", "count")),
        ),
        sql_string("\r\n"),
    )
    lines = select(func.string_agg(line, aggregate_order_by(sql_string(""), rows.c.start)))
    header = ",".join(TIMELINE_CSV_COLUMNS) + "\r\n"
    return select(func.concat(sql_string(header), lines.scalar_subquery())).where(
        *selection.clauses()
    )
