"""While the database is away, every answer is a 503 problem+json with Retry-After, never a 500."""

import socket

import pytest
from psycopg.errors import DeadlockDetected
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


PASSPHRASE = "correct horse battery staple of the night watch"
REQUESTS = [
    ("get", "/api/v1/devices?bbox=2.34,48.85,2.36,48.86", {}),
    ("get", f"/api/v1/devices/{new_id()}", {}),  # the prepared by-id read
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
    assert "unavailable" in response.get_json()["detail"]


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
