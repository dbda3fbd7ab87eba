"""Statements of the statistics cache: bodies keyed by request, tagged with the data version.

The data version is a sequence moved by a trigger on every change to devices or districts, so a
cached body is exact while the version it names is current.
"""

from sqlalchemy import Select, column, func, literal_column, select, table
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ...models import StatisticsCache

DATA_VERSION = table("statistics_data_version", column("last_value"))
# Entries nobody asked for since this long are dropped when another one is written.
KEEP = "1 day"


def select_data_version() -> Select:
    return select(DATA_VERSION.c.last_value)


def select_cached(key: str, data_version: int) -> Select:
    """The cached body, whether it is exact, and its age in seconds."""
    return select(
        StatisticsCache.body,
        StatisticsCache.computed_at,
        (StatisticsCache.data_version == data_version).label("exact"),
        func.extract("epoch", func.now() - StatisticsCache.computed_at).label("age_seconds"),
    ).where(StatisticsCache.key == key)


def store_cached(key: str, request: str, body: str, data_version: int):
    statement = pg_insert(StatisticsCache).values(
        key=key, request=request, body=body, data_version=data_version, computed_at=func.now()
    )
    return statement.on_conflict_do_update(
        index_elements=[StatisticsCache.key],
        set_={
            "body": statement.excluded.body,
            "data_version": statement.excluded.data_version,
            "computed_at": statement.excluded.computed_at,
        },
    ).returning(StatisticsCache.computed_at)


def delete_old_entries():
    return StatisticsCache.__table__.delete().where(
        StatisticsCache.computed_at < func.now() - literal_column(f"interval '{KEEP}'")
    )


def select_outdated_requests(data_version: int) -> Select:
    """The requests whose cached figures predate the last change, oldest first."""
    return (
        select(StatisticsCache.request)
        .where(StatisticsCache.data_version != data_version)
        .order_by(StatisticsCache.computed_at)
    )
