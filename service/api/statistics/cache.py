"""The statistics cache as the routes use it: exact, young enough, stale-while-refreshing, or
computed now (see docs/statistics.md, "Freshness")."""

import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime

import orjson
from flask import current_app, request

from ...db import primary_writes, session
from ...geo.statistics.cache import (
    delete_old_entries,
    select_cached,
    select_data_version,
    store_cached,
)

log = logging.getLogger(__name__)
# Keys being recomputed by this process, so that a burst of readers starts one refresh.
_refreshing: set[str] = set()
_refreshing_lock = threading.Lock()


def store(key: str, path: str, body: str, version: int) -> datetime:
    """Keep a body on the primary (the version is that of the data it was computed from, on
    whichever server the request read)."""
    with primary_writes() as writer:
        writer.execute(delete_old_entries())
        computed_at = writer.execute(store_cached(key, path, body, version)).scalar_one()
        writer.commit()
    return computed_at


def refresh(app, key: str, path: str, version: int, compute: Callable[[], str]) -> None:
    """Recompute one body and store it; runs in a thread with its own session."""
    try:
        with app.app_context():
            store(key, path, compute(), version)
    except Exception:
        log.exception("refreshing cached statistics for %s failed", path)
    finally:
        session.remove()
        with _refreshing_lock:
            _refreshing.discard(key)


def refreshes_running() -> bool:
    with _refreshing_lock:
        return bool(_refreshing)


def refresh_later(key: str, path: str, version: int, compute: Callable[[], str]):
    """Start refreshing a key in the background (once per process); returns the thread."""
    with _refreshing_lock:
        if key in _refreshing:
            return None
        _refreshing.add(key)
    app = current_app._get_current_object()
    thread = threading.Thread(target=refresh, args=(app, key, path, version, compute), daemon=True)
    thread.start()
    return thread


def cached(fmt: str, compute: Callable[[], str]) -> tuple[str, datetime, str]:
    """The body for this request and how it was obtained (hit, stale or miss).

    - hit: cached, and exact (no change since) or younger than STATS_MAX_AGE_SECONDS;
    - stale: cached and outdated but younger than STATS_STALE_SECONDS: served at once while a
      background thread computes the new figures for the next reader
      (STATS_REFRESH_IN_BACKGROUND=false computes them before answering, still with the old body);
    - miss: computed now. `Cache-Control: no-cache` always computes.
    """
    config = current_app.config
    arguments = sorted(request.args.items(multi=True))
    key = hashlib.sha256(orjson.dumps([request.path, fmt, arguments])).hexdigest()
    version = session.execute(select_data_version()).scalar_one()
    row = (
        None
        if request.cache_control.no_cache
        else session.execute(select_cached(key, version)).first()
    )
    if row is not None:
        if row.exact or row.age_seconds < config["STATS_MAX_AGE_SECONDS"]:
            return row.body, row.computed_at, "hit"
        if row.age_seconds < config["STATS_STALE_SECONDS"]:
            if config["STATS_REFRESH_IN_BACKGROUND"]:
                refresh_later(key, request.full_path, version, compute)
            else:
                store(key, request.full_path, compute(), version)
            return row.body, row.computed_at, "stale"
    body = compute()
    return body, store(key, request.full_path, body, version), "miss"
