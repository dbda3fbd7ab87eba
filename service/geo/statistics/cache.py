"""Statements of the statistics cache: bodies keyed by request, tagged with the data version.

The data version (migration 0013) is read from `statistics_changes`, a row per writing
statement on devices or districts, written in the writer's transaction: it moves exactly when a
change commits. A body is served only while the version it was computed at is current.
"""

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ...models import StatisticsCache

# Entries nobody asked for since this long are dropped when another one is written.
KEEP = "1 day"


def select_data_version() -> Select:
    return select(func.statistics_data_version())


def fold_changes() -> Select:
    """Move the visible change rows into the one counter row, keeping the version."""
    return select(func.fold_statistics_changes())


def select_cached(key: str, data_version: str) -> Select:
    """The cached body computed at DATA_VERSION, if any."""
    return select(StatisticsCache.body, StatisticsCache.computed_at).where(
        StatisticsCache.key == key, StatisticsCache.data_version == data_version
    )


def store_cached(key: str, request: str, media_type: str, body: str, data_version: str):
    statement = pg_insert(StatisticsCache).values(
        key=key,
        request=request,
        media_type=media_type,
        body=body,
        data_version=data_version,
        computed_at=func.now(),
    )
    return statement.on_conflict_do_update(
        index_elements=[StatisticsCache.key],
        set_={
            "media_type": statement.excluded.media_type,
            "body": statement.excluded.body,
            "data_version": statement.excluded.data_version,
            "computed_at": statement.excluded.computed_at,
        },
    ).returning(StatisticsCache.computed_at)


def delete_old_entries():
    return StatisticsCache.__table__.delete().where(
        StatisticsCache.computed_at < func.now() - literal_column(f"interval '{KEEP}'")
    )


def delete_beyond(max_entries: int):
    """The entries older than the MAX_ENTRIES newest: every query string a client sends is a
    key of its own, and the table must not grow with them."""
    newest = (
        select(StatisticsCache.key).order_by(StatisticsCache.computed_at.desc()).limit(max_entries)
    )
    return StatisticsCache.__table__.delete().where(StatisticsCache.key.not_in(newest))


def delete_outdated(request: str, media_type: str | None, data_version: str):
    """The entries of REQUEST, answered as MEDIA_TYPE, that predate DATA_VERSION: once it is
    computed again, they are what no request reads (kept under a key of before, or of another
    day)."""
    return StatisticsCache.__table__.delete().where(
        StatisticsCache.request == request,
        StatisticsCache.media_type.is_not_distinct_from(media_type),
        StatisticsCache.data_version != data_version,
    )


def select_outdated_requests(data_version: str) -> Select:
    """The requests whose cached figures predate the last change, with the media type each was
    answered as, oldest first."""
    return (
        select(StatisticsCache.request, StatisticsCache.media_type)
        .where(StatisticsCache.data_version != data_version)
        .order_by(StatisticsCache.computed_at)
    )
