"""Rate limits per account and per anonymous client, in memory and in Redis: 429 + Retry-After."""

import logging
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis

from service import create_app
from service.config import Config
from tests.helpers import PROBLEM, feature

UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def limited_app(database_url):
    """An app with small limits, counted in memory unless REDIS_URL is given, under keys of its
    own; afterwards the shared session goes back to the suite's app."""
    built = []

    def build(**overrides):
        settings = {
            "REDIS_URL": "",
            "RATELIMIT_KEY_PREFIX": f"vigie-test-{uuid.uuid4().hex[:8]}",
            "RATE_LIMIT_AUTH": "3 per minute",
            "RATE_LIMIT_WRITES": "2 per minute",
            "RATE_LIMIT_DEFAULT": "5 per minute",
            **overrides,
        }
        limited = create_app(Config(DATABASE_URL=database_url, TESTING=True, **settings))
        built.append(limited)
        return limited

    yield build
    for limited in built:
        limited.extensions["engine"].dispose()


def login_attempts(client, n, address="192.0.2.10", forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return [
        client.post(
            "/api/v1/auth/tokens",
            json={"username": "nobody", "password": "x" * 12},
            environ_base={"REMOTE_ADDR": address},
            headers=headers,
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


def test_a_token_in_the_request_does_not_open_another_allowance(committed, limited_app, make_user):
    """Logins are counted per address, whatever bearer token they carry: otherwise each
    account's token would give ten more guesses a minute."""
    client = limited_app().test_client()
    assert [r.status_code for r in login_attempts(client, 3)] == [401, 401, 401]
    _, token = make_user("contributor")
    carrying = client.post(
        "/api/v1/auth/tokens",
        json={"username": "nobody", "password": "x" * 12},
        environ_base={"REMOTE_ADDR": "192.0.2.10"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert carrying.status_code == 429


def test_a_forged_forwarded_address_does_not_escape_the_limit(committed, limited_app):
    client = limited_app().test_client()
    statuses = [
        login_attempts(client, 1, forwarded_for=f"198.51.100.{n}")[0].status_code for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(committed, limited_app):
    client = limited_app(TRUSTED_PROXIES=1).test_client()
    proxy = "127.0.0.1"
    first = login_attempts(client, 4, address=proxy, forwarded_for="198.51.100.1")
    assert [r.status_code for r in first] == [401, 401, 401, 429]
    other = login_attempts(client, 1, address=proxy, forwarded_for="198.51.100.2")
    assert other[0].status_code == 401


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


def test_redis_on_this_machine_is_used_by_default(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert Config().REDIS_URL == "redis://127.0.0.1:6379/0"


def test_workers_sharing_redis_count_together_without_storing_addresses(
    committed, limited_app, private_redis
):
    url, _ = private_redis
    first, second = (limited_app(REDIS_URL=url, RATELIMIT_KEY_PREFIX="shared") for _ in "ab")
    responses = login_attempts(first.test_client(), 2) + login_attempts(second.test_client(), 2)
    assert [r.status_code for r in responses] == [401, 401, 401, 429]
    keys = [k.decode() for k in redis.Redis.from_url(url).keys("*")]
    assert keys, "the limiter stored nothing in Redis"
    assert not any("192.0.2.10" in k for k in keys)


@pytest.mark.parametrize("redis_url", ["", UNREACHABLE_REDIS_URL])
def test_without_redis_each_worker_counts_and_says_so_at_start(
    committed, limited_app, caplog, redis_url
):
    with caplog.at_level(logging.WARNING, logger="service.ratelimit"):
        app = limited_app(REDIS_URL=redis_url)
    assert "each worker process on its own" in caplog.text
    assert "127.0.0.1:1" not in caplog.text  # a URL may hold a password: never logged
    responses = login_attempts(app.test_client(), 4)
    assert [r.status_code for r in responses] == [401, 401, 401, 429]


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of this test's own, which the test may stop."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "the private Redis did not start"
            time.sleep(0.05)
    yield url, process
    process.terminate()
    process.wait(timeout=10)


def test_a_redis_that_stops_answering_leaves_limits_in_memory(
    committed, limited_app, private_redis
):
    url, process = private_redis
    client = limited_app(REDIS_URL=url).test_client()
    assert [r.status_code for r in login_attempts(client, 2)] == [401, 401]
    process.terminate()
    process.wait(timeout=10)
    # Answers go on, and limits still apply, counted in this worker's memory.
    assert [r.status_code for r in login_attempts(client, 4)] == [401, 401, 401, 429]
    assert client.get("/api/v1/kinds").status_code == 200
