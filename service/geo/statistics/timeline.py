"""Per period: devices added, removed, and on the map at its end, in one district."""

from sqlalchemy import Text, cast, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import INTERVAL, JSON, aggregate_order_by

from ...models import Device, DeviceDistrict, District
from ..sql import sql_string
from .density import attribution_array
from .selection import DistrictSelection, StatisticsFilter, appeared_at, removed_at

TIMELINE_INTERVALS = ("day", "week", "month", "year")


def select_timeline(code: str, interval: str, flt: StatisticsFilter, devices_credits: list[dict]):
    """Per period since the first device: devices added, removed, and on the map at its end."""
    assert interval in TIMELINE_INTERVALS  # bound into the statement as a constant
    # The devices whose position meets the district: its memberships (migration 0013).
    devices = (
        select(appeared_at().label("appeared"), removed_at().label("removed"))
        .select_from(DeviceDistrict)
        .join(Device, Device.id == DeviceDistrict.device_id)
        .where(DeviceDistrict.district_code == code, *flt.history_clauses())
        .cte("lifespans")
    )
    unit = sql_string(interval)
    events = union_all(
        select(
            func.date_trunc(unit, devices.c.appeared).label("period"),
            literal(1).label("added"),
            literal(0).label("removed"),
        ),
        # A removal recorded before the device appeared (bulk rows whose last change predates
        # their observation) takes effect when it appears: never on the map, as at= says.
        select(
            func.date_trunc(unit, func.greatest(devices.c.removed, devices.c.appeared)),
            literal(0),
            literal(1),
        ).where(devices.c.removed.is_not(None)),
    ).cte("events")
    per_period = (
        select(
            events.c.period,
            func.sum(events.c.added).label("added"),
            func.sum(events.c.removed).label("removed"),
        )
        .group_by(events.c.period)
        .cte("per_period")
    )
    first = select(func.min(per_period.c.period)).scalar_subquery()
    series = (
        func.generate_series(
            first, func.date_trunc(unit, func.now()), cast(sql_string(f"1 {interval}"), INTERVAL)
        )
        .table_valued("start")
        .render_derived(name="series")
    )
    added = func.coalesce(per_period.c.added, 0)
    removed = func.coalesce(per_period.c.removed, 0)
    rows = (
        select(
            series.c.start,
            added.label("added"),
            removed.label("removed"),
            func.sum(added - removed).over(order_by=series.c.start).label("count"),
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
