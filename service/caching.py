"""Shared HTTP caches in front of Vigie: what they may keep, for how long, under which
surrogate keys, and the purge that drops those answers when devices change.

A route that answers the same bytes to everyone calls `share(keys)`; delivery.py then writes
`Cache-Control` (`s-maxage`, `stale-while-revalidate`) and `Surrogate-Key`. An answer that
depends on who asks (`per_viewer`: a pending pin is shown to its author) is shared only when
the request carries no credentials, and varies on Authorization; with credentials it is
`private, no-cache`. Every other answer is `no-cache` (`no-store` with credentials).

Surrogate keys name what an answer shows:

- `tile/{z}/{x}/{y}`: devices inside that tile. A listing of a bbox carries the few tiles
  covering the box; a device change purges its tile at every zoom from CACHE_PURGE_MIN_ZOOM
  on, before and after the change.
- `device/{id}` (a device, its photos), `district/{code}` (statistics of a district).
- `devices` (answers over devices anywhere, or over wider areas than a tile of
  CACHE_PURGE_MIN_ZOOM), `districts` (district geometries), `vigie` (every answer: purged by
  bulk writes, and by a write that changes whether OpenStreetMap is credited).

An answer under a key that writes purge is kept CACHE_SHARED_MAX_AGE (a day when purges are
sent). A wide answer, which every write somewhere in a region would purge (the world's tile
at zoom 0, a country's statistics), is not purged: shared caches keep it CACHE_WIDE_MAX_AGE
(a minute), so that it is computed at most once a minute whatever the rate of writes.

When CACHE_PURGE_URL names caches, a change of devices collects the keys they touched while
the transaction flushes (their old places before, their new places after), and after COMMIT
one PURGE request per cache carries them in a `Surrogate-Key` header (docs/deployment.md has
the Varnish configuration). A thread of each process sends them, joining the keys of
concurrent writes into one request; the write's answer waits for it at most
CACHE_PURGE_WAIT_MS, so that its author's next read through the cache shows the change. A
cache that does not answer costs a log line, never a failed write.
"""

import http.client
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import event, inspect

from .config import listed
from .db import read_without_primary, session
from .geo.devices.places import select_device_places
from .geo.keys import covering_tiles, tiles_of_key
from .geo.osm import select_has_openstreetmap_devices
from .geo.tiles import MAX_ZOOM
from .models import Device

log = logging.getLogger(__name__)

EVERYTHING = "vigie"
ALL_DEVICES = "devices"
ALL_DISTRICTS = "districts"
# A listing's bbox is named by at most this many tiles along each side (so at most 9 keys).
AREA_TILES_PER_SIDE = 3
# Keys per PURGE request: Varnish refuses request headers over 8 KB by default.
KEYS_PER_PURGE = 150
PURGE_TIMEOUT_SECONDS = 2.0
PURGED_MAX_AGE = 86400
FAILURE_LOG_SECONDS = 10
# Answers of these statuses may be shared; errors never are.
SHAREABLE_STATUSES = {200, 204, 304, 308}


def tile_key(z: int, x: int, y: int) -> str:
    return f"tile/{z}/{x}/{y}"


def device_key(device_id: uuid.UUID) -> str:
    return f"device/{device_id}"


def district_key(code: str) -> str:
    return f"district/{code}"


def photo_key(photo_id: uuid.UUID) -> str:
    return f"photo/{photo_id}"


def purge_min_zoom() -> int:
    return current_app.config["CACHE_PURGE_MIN_ZOOM"]


def tile_keys(z: int, x: int, y: int) -> list[str]:
    """Keys of one vector tile: its own, or `devices` when it is too wide to be purged."""
    return [tile_key(z, x, y) if z >= purge_min_zoom() else ALL_DEVICES]


def area_keys(bboxes: list) -> list[str]:
    """Keys of an answer about the devices in these boxes (none: the whole world)."""
    tiles = covering_tiles(bboxes, MAX_ZOOM, AREA_TILES_PER_SIDE) if bboxes else []
    if not tiles or tiles[0][0] < purge_min_zoom():
        return [ALL_DEVICES]
    return [tile_key(*tile) for tile in tiles]


def place_keys(tile_key_value: int | None, codes=(), parents=(), min_zoom: int = 0) -> set[str]:
    """Keys of the answers that show a device standing there (tiles from MIN_ZOOM on)."""
    keys = {district_key(code) for code in (*(codes or ()), *(parents or ())) if code}
    if tile_key_value is not None:
        keys.update(
            tile_key(*tile)
            for tile in tiles_of_key(tile_key_value, MAX_ZOOM)
            if tile[0] >= min_zoom
        )
    return keys


@dataclass(frozen=True)
class SharedAnswer:
    keys: tuple[str, ...]
    max_age: int
    per_viewer: bool
    shared_max_age: int | None
    vary: tuple[str, ...]
    exact: bool


def share(
    keys,
    *,
    max_age: int = 60,
    per_viewer: bool = False,
    shared_max_age: int | None = None,
    vary: tuple[str, ...] = (),
    exact: bool = False,
) -> None:
    """Let shared caches keep this request's answer under KEYS (see the module's docstring).

    MAX_AGE is for browsers, which no purge reaches; shared caches keep the answer
    CACHE_SHARED_MAX_AGE or CACHE_WIDE_MAX_AGE, at most SHARED_MAX_AGE when given. VARY names
    the request headers the answer was chosen by (`Accept` where the format is negotiated).
    EXACT: no cache may give the answer once a change committed (statistics): browsers ask
    again each time (max-age=0, a 304 when nothing changed), nothing serves it stale, and
    shared caches keep it only while purges follow every change that alters it.
    """
    if exact:
        max_age = 0
    g.shared_answer = SharedAnswer(
        (EVERYTHING, *keys), max_age, per_viewer, shared_max_age, vary, exact
    )


def shared_cache_control(shared: SharedAnswer, config) -> str:
    # tile/, device/, district/...: purged when they change, unless a replica answered while
    # the primary was down, which no purge may follow.
    purged = any(key.partition("/")[1] for key in shared.keys) and not read_without_primary()
    if not purged:
        shared_max_age = config["CACHE_WIDE_MAX_AGE"]
    elif config["CACHE_SHARED_MAX_AGE"] is not None:
        shared_max_age = config["CACHE_SHARED_MAX_AGE"]
    else:  # a day when purges keep caches current, else no longer than wide answers
        shared_max_age = PURGED_MAX_AGE if purger() is not None else config["CACHE_WIDE_MAX_AGE"]
    if shared.shared_max_age is not None:
        shared_max_age = min(shared_max_age, shared.shared_max_age)
    if shared.exact and not (purged and purger() is not None):
        shared_max_age = 0  # no purge would follow a change
    control = ["public", f"max-age={shared.max_age}", f"s-maxage={shared_max_age}"]
    if not shared.exact:
        control.append(f"stale-while-revalidate={config['CACHE_STALE_SECONDS']}")
    return ", ".join(control)


def cache_headers(response):
    """Cache-Control, Vary and Surrogate-Key of every answer (an after-request hook)."""
    shared = g.get("shared_answer")
    credentials = "Authorization" in request.headers
    if shared is not None and response.status_code in SHAREABLE_STATUSES:
        for header in shared.vary:
            response.headers.add("Vary", header)
        if shared.per_viewer:
            response.headers.add("Vary", "Authorization")
        if shared.per_viewer and credentials:
            response.headers["Cache-Control"] = "private, no-cache"
        else:
            response.headers["Cache-Control"] = shared_cache_control(shared, current_app.config)
            response.headers["Surrogate-Key"] = " ".join(dict.fromkeys(shared.keys))
    elif "Cache-Control" not in response.headers or response.status_code >= 400:
        response.headers["Cache-Control"] = "no-store" if credentials else "no-cache"
    return response


# Purging.


class Purger:
    """Sends PURGE requests naming surrogate keys to every cache, from a thread of its own.

    Keys submitted while a request is under way are joined into the next one. `submit` returns
    an event set once the keys were sent (or could not be).
    """

    def __init__(self, urls: list[str], timeout: float = PURGE_TIMEOUT_SECONDS):
        self.urls = urls
        self.timeout = timeout
        self._condition = threading.Condition()
        self._keys: set[str] = set()
        self._waiting: list[threading.Event] = []
        self._thread: threading.Thread | None = None
        self.sent = 0  # PURGE requests answered with a success, for tests and logs
        self.failed = 0
        self._last_report = -FAILURE_LOG_SECONDS
        self._unreported = 0

    def submit(self, keys) -> threading.Event:
        done = threading.Event()
        with self._condition:
            self._keys.update(keys)
            self._waiting.append(done)
            if self._thread is None or not self._thread.is_alive():
                # Started on first use: a thread started before gunicorn forks would not exist
                # in the workers.
                self._thread = threading.Thread(target=self._run, name="cache-purge", daemon=True)
                self._thread.start()
            self._condition.notify()
        return done

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._keys:
                    self._condition.wait()
                keys, self._keys = sorted(self._keys), set()
                waiting, self._waiting = self._waiting, []
            try:
                for url in self.urls:
                    for start in range(0, len(keys), KEYS_PER_PURGE):
                        self.purge(url, keys[start : start + KEYS_PER_PURGE])
            finally:
                for done in waiting:
                    done.set()

    def purge(self, url: str, keys: list[str]) -> bool:
        """One PURGE request; False (and a log line) when the cache did not take it."""
        parts = urlsplit(url)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        started = time.monotonic()
        try:
            connection = connection_class(parts.netloc, timeout=self.timeout)
            try:
                connection.request(
                    "PURGE", parts.path or "/", headers={"Surrogate-Key": " ".join(keys)}
                )
                status = connection.getresponse().status
            finally:
                connection.close()
        except OSError as exc:
            return self.report_failure(
                f"cache purge of {len(keys)} keys at {parts.netloc} failed: {exc}"
            )
        if status >= 300:
            return self.report_failure(
                f"cache purge of {len(keys)} keys at {parts.netloc} answered {status}"
            )
        self.sent += 1
        log.debug(
            "purged %d keys at %s in %.1f ms", len(keys), url, 1e3 * (time.monotonic() - started)
        )
        return True

    def report_failure(self, message: str) -> bool:
        """Log a failed purge; while a cache stays down, one line every FAILURE_LOG_SECONDS."""
        self.failed += 1
        now = time.monotonic()
        if now - self._last_report >= FAILURE_LOG_SECONDS:
            unreported, self._unreported, self._last_report = self._unreported, 0, now
            more = f" ({unreported} more failed purges not logged)" if unreported else ""
            log.warning("%s%s", message, more)
        else:
            self._unreported += 1
        return False


def purger() -> Purger | None:
    """This app's purger, or None when no CACHE_PURGE_URL is set."""
    return current_app.extensions.get("cache_purger") if has_app_context() else None


def changed_devices(*collections) -> list[uuid.UUID]:
    return [
        obj.id
        for collection in collections
        for obj in collection
        if isinstance(obj, Device) and obj.id is not None
    ]


def collect_places(db_session, ids: list[uuid.UUID]) -> None:
    """Add the keys of where these devices stand now (in this transaction) to the session's."""
    if not ids:
        return
    rows = db_session.connection().execute(select_device_places(), {"ids": ids}).all()
    keys = db_session.info.setdefault("cache_keys", set())
    keys.update(device_key(device_id) for device_id in ids)
    for row in rows:
        keys |= place_keys(row.tile_key, row.codes, row.parents, purge_min_zoom())


def moved_devices(dirty) -> list[Device]:
    """Devices whose position this flush changes (the others stay where the flush reads them)."""
    return [
        obj
        for obj in dirty
        if isinstance(obj, Device) and inspect(obj).attrs.geom.history.has_changes()
    ]


def from_openstreetmap(devices) -> bool:
    return any(isinstance(obj, Device) and obj.osm_id is not None for obj in devices)


def has_openstreetmap_devices(db_session) -> bool:
    return db_session.connection().execute(select_has_openstreetmap_devices()).scalar_one()


@event.listens_for(session, "before_flush")
def collect_old_places(db_session, _context, _instances) -> None:
    if purger() is not None:
        collect_places(
            db_session, changed_devices(moved_devices(db_session.dirty), db_session.deleted)
        )
        written = (*db_session.new, *db_session.dirty, *db_session.deleted)
        if from_openstreetmap(written):  # the last (or first) one public may change
            db_session.info["openstreetmap_credit"] = has_openstreetmap_devices(db_session)


@event.listens_for(session, "after_flush")
def collect_new_places(db_session, _context) -> None:
    if purger() is not None:
        collect_places(db_session, changed_devices(db_session.new, db_session.dirty))
        credited = db_session.info.pop("openstreetmap_credit", None)
        if credited is not None and credited != has_openstreetmap_devices(db_session):
            # OpenStreetMap's credit comes and goes on every answer over devices, wherever
            # they stand (service/api/credits.py): their keys name places, not it.
            db_session.info.setdefault("cache_keys", set()).add(EVERYTHING)


@event.listens_for(session, "do_orm_execute")
def collect_bulk_changes(state) -> None:
    """A statement that writes devices in bulk (`flask osm import`) purges every answer."""
    writes = state.is_insert or state.is_update or state.is_delete
    if writes and purger() is not None and Device in (m.class_ for m in state.all_mappers):
        state.session.info.setdefault("cache_keys", set()).add(EVERYTHING)


@event.listens_for(session, "after_commit")
def purge_after_commit(db_session) -> None:
    keys = db_session.info.pop("cache_keys", None)
    current = purger()
    if keys and current is not None:
        done = current.submit(keys)
        if has_request_context():
            g.setdefault("cache_purges", []).append(done)
        else:  # a command: its process may end before the purge thread has sent it
            done.wait(current_app.config["CACHE_PURGE_WAIT_MS"] / 1000)


@event.listens_for(session, "after_rollback")
def forget_keys(db_session) -> None:
    db_session.info.pop("cache_keys", None)


def wait_for_purges(response):
    """Let a write answer once its purge is sent, for at most CACHE_PURGE_WAIT_MS."""
    waiting = g.pop("cache_purges", None)
    if waiting:
        deadline = time.monotonic() + current_app.config["CACHE_PURGE_WAIT_MS"] / 1000
        for done in waiting:
            done.wait(max(0.0, deadline - time.monotonic()))
    return response


def init_app(app) -> None:
    urls = listed(app.config["CACHE_PURGE_URL"])
    if urls:
        app.extensions["cache_purger"] = Purger(urls)
        app.after_request(wait_for_purges)
