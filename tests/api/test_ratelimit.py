"""Rate limits per account and per anonymous client, in memory and in Redis: 429 + Retry-After."""

import uuid

import pytest
import redis

from service import create_app
from service.config import Config
from tests.helpers import PROBLEM, feature

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def limited_app(database_url):
    """An app with small limits; afterwards the shared session goes back to the suite's app."""
    built = []

    def build(**overrides):
        limited = create_app(
            Config(
                DATABASE_URL=database_url,
                TESTING=True,
                RATE_LIMIT_AUTH="3 per minute",
                RATE_LIMIT_WRITES="2 per minute",
                RATE_LIMIT_DEFAULT="5 per minute",
                **overrides,
            )
        )
        built.append(limited)
        return limited

    yield build
    for limited in built:
        limited.extensions["engine"].dispose()


def login_attempts(client, n, address="192.0.2.10"):
    return [
        client.post(
            "/api/v1/auth/tokens",
            json={"username": "nobody", "password": "x" * 12},
            environ_base={"REMOTE_ADDR": address},
        )
        for _ in range(n)
    ]


def test_logins_are_limited_per_anonymous_client(committed, limited_app):
    client = limited_app().test_client()
    responses = login_attempts(client, 4)
    assert [r.status_code for r in responses] == [401, 401, 401, 429]
    refused = responses[-1]
    assert refused.mimetype == PROBLEM
    assert int(refused.headers["Retry-After"]) > 0
    # Another client is not affected.
    assert login_attempts(client, 1, address="192.0.2.11")[0].status_code == 401


def test_writes_are_limited_per_account(committed, limited_app, make_user):
    app = limited_app()
    _, token = make_user("moderator")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    statuses = [
        client.post("/api/v1/devices?force=true", json=feature(2.3 + i / 100, 48.8)).status_code
        for i in range(3)
    ]
    assert statuses == [201, 201, 429]
    _, other_token = make_user("moderator")
    other = client.post(
        "/api/v1/devices?force=true",
        json=feature(3.0, 45.0),
        headers={"Authorization": f"Bearer {other_token}"},
    )
    assert other.status_code == 201


def test_reads_have_a_default_limit(committed, limited_app):
    client = limited_app().test_client()
    responses = [client.get("/api/v1/kinds") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    # What is left is told on every answer; "retry after" only on the refusal.
    assert responses[0].headers["X-RateLimit-Remaining"] == "4"
    assert "Retry-After" not in responses[0].headers
    assert int(responses[-1].headers["Retry-After"]) > 0


def test_limits_are_shared_through_redis_without_storing_addresses(committed, limited_app):
    store = redis.Redis.from_url(REDIS_URL)
    try:
        store.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379: the Redis storage was NOT tested")
    prefix = f"vigie-test-{uuid.uuid4().hex[:8]}"
    first, second = (
        limited_app(REDIS_URL=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix) for _ in range(2)
    )
    # Two workers sharing one Redis count the same client together.
    responses = login_attempts(first.test_client(), 2) + login_attempts(second.test_client(), 2)
    assert [r.status_code for r in responses] == [401, 401, 401, 429]
    keys = [k.decode() for k in store.keys(f"*{prefix}*")]
    assert keys, "the limiter stored nothing in Redis"
    assert not any("192.0.2.10" in k for k in keys)
    for key in keys:
        store.delete(key)
