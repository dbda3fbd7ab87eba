"""The statistics cache as the routes use it: a body is served only while no change committed
since it was computed (see docs/statistics.md, "Freshness")."""

import hashlib
import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from flask import current_app, request
from sqlalchemy.exc import DBAPIError

from ...db import primary_writes, session
from ...geo.statistics.cache import (
    delete_beyond,
    delete_old_entries,
    fold_changes,
    select_cached,
    select_data_version,
    store_cached,
)
from ...geo.statistics.kept import refresh_kept_lines
from ...geo.statistics.replay import refresh_timelines
from .schemas import MEDIA_TYPES

log = logging.getLogger(__name__)
# Parameters applied to a body after the cache (`bom`): one body serves them all.
AFTER_CACHE = frozenset({"bom"})
# Bodies this process stored (store: when to trim the table).
STORES = itertools.count(1)


def written_on_primary(statements, what: str):
    """Run STATEMENTS (a session -> result) on the primary for a read, and commit: its
    result, or None when the primary refuses (read-only, unreachable while a replica answers,
    in the middle of a deploy): such a write is what a read may go without, not the answer."""
    with primary_writes() as writer:
        try:
            result = statements(writer)
            writer.commit()
            return result
        except DBAPIError as error:
            writer.rollback()
            log.warning("%s: %s", what, error.orig)
            return None


def store(key: str, path: str, media_type: str, body: str, version: str) -> datetime:
    """Keep a body on the primary (the version is that of the data it was computed from, on
    whichever server the request read); the time it was kept, or now if it was not.

    Every tenth of STATS_CACHE_MAX_ENTRIES stores, a process trims the table to that many
    entries: a sort of the table amortised, which bounds it to about the maximum and a tenth
    of it per process."""
    max_entries = current_app.config["STATS_CACHE_MAX_ENTRIES"]

    def keep(writer) -> datetime:
        writer.execute(delete_old_entries())
        writer.execute(fold_changes())
        kept_at = writer.execute(store_cached(key, path, media_type, body, version)).scalar_one()
        if next(STORES) % max(1, max_entries // 10) == 0:
            writer.execute(delete_beyond(max_entries))
        return kept_at

    return written_on_primary(keep, "statistics answer not cached") or datetime.now(UTC)


def refresh_stale_lines() -> None:
    """Rewrite, on the primary, the kept lines (CSV and JSON) that writes marked stale: the
    answer then reads them instead of computing them, and so do the next ones. Where the
    primary cannot be written, the answer computes those lines itself: exact either way."""
    written_on_primary(
        lambda writer: writer.execute(refresh_kept_lines()), "kept lines not refreshed"
    )


def refresh_timelines_of(codes: list[str]) -> None:
    """Keep the timelines of districts CODES not kept yet, and replay, on the primary, the
    devices written since in every kept timeline: the answer then adds up kept numbers.
    Where the primary cannot be written, the answer replays those devices itself."""
    written_on_primary(lambda writer: refresh_timelines(writer, codes), "timelines not refreshed")


def data_version() -> str:
    return session.execute(select_data_version()).scalar_one()


def cached(fmt: str, compute: Callable[[], str], today: bool = False) -> tuple[str, datetime, str]:
    """The body for this request and how it was obtained: `hit` (cached, and no change
    committed since) or `miss` (computed now; `Cache-Control: no-cache` always computes, and
    STATS_CACHE=false neither reads nor keeps anything). TODAY: the body also depends on the
    date (UTC, the sessions' time zone), which is then part of the key. The body's media type
    is kept with it, for a refresh to ask it again (FMT may come from Accept).

    A computed body is stored only when the data version is the same before and after it:
    committed changes only add up, so the body then saw exactly the changes of that version.
    """
    if not current_app.config["STATS_CACHE"]:
        return compute(), datetime.now(UTC), "miss"
    arguments = sorted(
        (name, value) for name, value in request.args.items(multi=True) if name not in AFTER_CACHE
    )
    day = datetime.now(UTC).date().isoformat() if today else None
    # Answers link to this server (attribution URLs): one asked under another Host is another.
    where = [request.host_url, request.path]
    key = hashlib.sha256(orjson.dumps([*where, fmt, arguments, day])).hexdigest()
    version = data_version()
    if not request.cache_control.no_cache:
        row = session.execute(select_cached(key, version)).first()
        if row is not None:
            return row.body, row.computed_at, "hit"
    body = compute()
    if data_version() != version:  # a change committed meanwhile: answer, do not keep
        return body, datetime.now(UTC), "miss"
    return body, store(key, request.url, MEDIA_TYPES[fmt], body, version), "miss"
