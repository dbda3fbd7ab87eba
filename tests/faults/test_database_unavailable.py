"""While the database is away, every answer is a 503 problem+json with Retry-After, never a 500."""

import socket
import threading

import psycopg
import pytest
from psycopg.errors import DeadlockDetected
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from service import create_app
from service.config import Config
from tests.helpers import PROBLEM, feature, new_id


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_without_database(tmp_path_factory):
    url = f"postgresql+psycopg://vigie@127.0.0.1:{closed_port()}/vigie?connect_timeout=2"
    app = create_app(
        Config(
            DATABASE_URL=url,
            TESTING=True,
            MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
            RATELIMIT_ENABLED=False,
        )
    )
    yield app
    app.extensions["engine"].dispose()


# Fixed, so that parallel test workers collect the same test names.
UNKNOWN_DEVICE = "6f1c5d0e-0000-4000-8000-000000000001"
PASSPHRASE = "correct horse battery staple of the night watch"
REQUESTS = [
    ("get", "/api/v1/devices?bbox=2.34,48.85,2.36,48.86", {}),
    ("get", f"/api/v1/devices/{UNKNOWN_DEVICE}", {}),  # the prepared by-id read
    ("get", "/ogc/collections/devices/items?limit=10", {}),
    ("get", "/tiles/devices/14/8298/5637.mvt", {}),
    ("get", "/api/v1/sync", {}),
    ("get", "/api/v1/stats/districts?level=commune", {}),
    ("post", "/api/v1/auth/register", {"json": {"username": "someone", "password": PASSPHRASE}}),
    (
        "post",
        "/api/v1/devices",
        {"json": feature(), "headers": {"Authorization": "Bearer x", "Idempotency-Key": "k"}},
    ),
]


@pytest.mark.parametrize(("method", "path", "options"), REQUESTS)
def test_every_answer_is_a_503_problem_with_retry_after(
    app_without_database, method, path, options
):
    response = getattr(app_without_database.test_client(), method)(path, **options)
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert int(response.headers["Retry-After"]) > 0
    problem = response.get_json()
    assert "unavailable" in problem["detail"]
    # The type of every other 503 (a photo store out of reach, a replica behind...): one
    # meaning, one type for a client to branch on.
    assert problem["type"].endswith("/service-unavailable")


def test_a_request_undone_by_a_deadlock_says_so_and_asks_for_a_retry(database_url, tmp_path):
    app = create_app(Config(DATABASE_URL=database_url, TESTING=True, MEDIA_ROOT=str(tmp_path)))

    @app.route("/deadlocked")
    def deadlocked():
        raise OperationalError("UPDATE devices ...", {}, DeadlockDetected("deadlock detected"))

    response = app.test_client().get("/deadlocked")
    app.extensions["engine"].dispose()
    assert response.status_code == 503 and response.mimetype == PROBLEM
    assert int(response.headers["Retry-After"]) > 0
    assert "another write at the same moment" in response.get_json()["detail"]


def test_a_token_met_by_a_database_gone_away_is_a_503_and_limits_keep_their_storage(
    tmp_path, monkeypatch
):
    """The limiter keys an account's requests by its token, which the database resolves: that
    lookup failing is the request's 503, not taken by the limiter for its counters' storage
    failing (it would then count in memory, and answer a 500)."""
    url = f"postgresql+psycopg://vigie@127.0.0.1:{closed_port()}/vigie?connect_timeout=2"
    app = create_app(
        Config(DATABASE_URL=url, TESTING=True, MEDIA_ROOT=str(tmp_path), RATELIMIT_ENABLED=True)
    )
    limiter = app.extensions["vigie.limiter"]
    for path in ("/api/v1/devices?bbox=2.34,48.85,2.36,48.86", "/api/v1/health"):
        response = app.test_client().get(path, headers={"Authorization": "Bearer some-token"})
        assert response.status_code == 503, response.get_data(as_text=True)
        # The database's hint, not the limiter's window reset.
        assert response.mimetype == PROBLEM and response.headers["Retry-After"] == "2"
    assert limiter._storage_dead is False
    app.extensions["engine"].dispose()


def plain_conninfo(url) -> str:
    """URL (SQLAlchemy's) as psycopg takes it."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_a_lock_held_elsewhere_makes_a_503_not_a_hang(database_url, committed, tmp_path):
    """A migration's ALTER TABLE, a VACUUM FULL or a restore holds a table: a request waits at
    most DB_LOCK_TIMEOUT_MS for it, then asks to retry; it used to wait as long as the lock."""
    app = create_app(
        Config(
            DATABASE_URL=database_url,
            TESTING=True,
            MEDIA_ROOT=str(tmp_path),
            RATELIMIT_ENABLED=False,
            DB_LOCK_TIMEOUT_MS=300,
        )
    )
    holder = psycopg.connect(plain_conninfo(make_url(database_url)))
    holder.execute("LOCK TABLE devices IN ACCESS EXCLUSIVE MODE")
    # Released in any case, so that a request that waits for it ends (a 200: the test fails).
    release = threading.Timer(10, holder.rollback)
    release.start()
    try:
        response = app.test_client().get("/api/v1/devices?bbox=2.34,48.85,2.36,48.86")
    finally:
        release.cancel()
        holder.rollback()
        holder.close()
        app.extensions["engine"].dispose()
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM and int(response.headers["Retry-After"]) > 0


def test_reads_that_find_their_pooled_connections_dead_answer_from_new_ones(
    database_url, committed, tmp_path
):
    """The server restarted, or its backends were terminated (a failover, a reaper of idle
    connections): connections are not pinged before use, so a read meeting a dead one runs
    again on a new one rather than answering a 503 while the database is up."""
    url = make_url(database_url).update_query_dict({"application_name": "vigie-lost-test"})
    app = create_app(
        Config(
            DATABASE_URL=url.render_as_string(hide_password=False),
            TESTING=True,
            MEDIA_ROOT=str(tmp_path),
            RATELIMIT_ENABLED=False,
        )
    )
    client = app.test_client()
    reads = {  # the prepared by-id read on a connection of its own, then the session's
        f"/api/v1/devices/{new_id()}": 404,
        "/api/v1/devices?bbox=2.34,48.85,2.36,48.86": 200,
        "/ogc/collections/devices/items?limit=1": 200,
    }
    try:
        for path, status in reads.items():
            assert client.get(path).status_code == status  # the pool holds their connections
        with psycopg.connect(plain_conninfo(make_url(database_url)), autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'vigie-lost-test'"
            ).fetchone()[0]
        assert ended >= 1
        assert {path: client.get(path).status_code for path in reads} == reads
    finally:
        app.extensions["engine"].dispose()
