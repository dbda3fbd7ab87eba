"""Rate limits per account and per anonymous client, in memory and in Redis: 429 + Retry-After."""

import json
import logging
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis
from flask_limiter import RequestLimit
from sqlalchemy import text

from service import create_app, ratelimit, web
from service.api.accounts import routes as account_routes
from service.config import Config
from service.db import session
from tests import images
from tests.conftest import TEST_PASSWORD
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
    assert refused.get_json()["detail"].startswith(
        "Too many logins, registrations and password changes from this address (at most 3 per"
    )
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


def test_wrong_passwords_are_limited_per_account_from_any_address(
    committed, limited_app, make_user
):
    """A guesser with many addresses gets RATE_LIMIT_LOGIN_FAILURES wrong passwords per
    account, whatever its case; a right password is not counted, and other accounts, or names
    nobody holds, are counted apart (no answer tells which names exist)."""
    client = limited_app(RATE_LIMIT_LOGIN_FAILURES="3 per hour").test_client()
    make_user("contributor", "target")

    def login(name, password, n):
        return client.post(
            "/api/v1/auth/tokens",
            json={"username": name, "password": password},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
        )

    assert login("target", TEST_PASSWORD, 0).status_code == 201
    statuses = [login(name, "x" * 12, n).status_code for n, name in enumerate(
        ("target", "TARGET", "Target", "target"), start=1)]  # fmt: skip
    assert statuses == [401, 401, 401, 429]
    refused = login("target", TEST_PASSWORD, 9)  # right, but too late: not even checked
    assert refused.status_code == 429 and refused.mimetype == PROBLEM
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.get_json()["detail"].startswith("Too many wrong passwords for this account")
    assert login("someone-else", "x" * 12, 10).status_code == 401
    assert [login("nobody-holds-it", "x" * 12, n).status_code for n in range(11, 15)] == [
        401, 401, 401, 429]  # fmt: skip


def test_one_ipv6_subscriber_gets_one_allowance(committed, limited_app):
    """The addresses of one /64 (one subscriber) share their allowance; another /64 has its
    own, and an IPv4 client of a dual-stack socket counts as its IPv4 address."""
    client = limited_app().test_client()
    statuses = [login_attempts(client, 1, address=f"2001:db8:1:2::{n:x}")[0].status_code
                for n in range(4)]  # fmt: skip
    assert statuses == [401, 401, 401, 429]
    assert login_attempts(client, 1, address="2001:db8:1:3::1")[0].status_code == 401
    assert [r.status_code for r in login_attempts(client, 3, address="192.0.2.20")] == [401] * 3
    assert login_attempts(client, 1, address="::ffff:192.0.2.20")[0].status_code == 429


def test_refusals_are_not_logged_with_their_key(committed, limited_app, caplog):
    """The limiter's key of an anonymous client is a keyed hash of its address, reversible
    with the server's own key: a log would keep it long after the counters expire."""
    caplog.set_level(logging.DEBUG)
    client = limited_app().test_client()
    assert login_attempts(client, 4)[-1].status_code == 429
    assert "anon:" not in caplog.text and "exceeded" not in caplog.text


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


def test_the_write_limit_counts_every_write_route_together(committed, limited_app, make_user):
    """One ceiling per account, not one per route: a dozen write routes would give a dozen."""
    client = limited_app().test_client()
    _, token = make_user("moderator")
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    created = client.post("/api/v1/devices?force=true", json=feature(2.3, 48.8))
    assert created.status_code == 201
    device = f"/api/v1/devices/{created.get_json()['id']}"
    vote = client.post(f"{device}/confirmations", json={"verdict": "still_there"})
    assert vote.status_code == 201, vote.get_json()
    refused = client.delete(device, headers={"If-Match": client.get(device).headers["ETag"]})
    assert refused.status_code == 429 and refused.mimetype == PROBLEM


@pytest.mark.parametrize(
    "write",
    [
        ("delete", "/api/v1/auth/tokens", {}),
        ("delete", f"/api/v1/auth/tokens/{uuid.UUID(int=7)}", {}),
        ("delete", "/api/v1/me", {}),
        ("put", "/api/v1/users/nobody/role", {"json": {"role": "moderator"}}),
    ],
    ids=["sign out everywhere", "revoke a token", "delete the account", "grant a role"],
)
def test_account_writes_count_against_the_write_limit_too(committed, limited_app, make_user, write):
    client = limited_app(RATE_LIMIT_WRITES="1 per minute").test_client()
    _, token = make_user("admin")
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert client.post("/api/v1/devices?force=true", json=feature(2.3, 48.8)).status_code == 201
    method, url, body = write
    assert getattr(client, method)(url, **body).status_code == 429


def test_logins_registrations_and_password_changes_share_one_limit(
    committed, limited_app, make_user
):
    client = limited_app().test_client()
    address = {"REMOTE_ADDR": "192.0.2.30"}
    assert [r.status_code for r in login_attempts(client, 2, address="192.0.2.30")] == [401, 401]
    registered = client.post(
        "/api/v1/auth/register",
        json={"username": f"new_{uuid.uuid4().hex[:8]}", "password": TEST_PASSWORD},
        environ_base=address,
    )
    assert registered.status_code == 201, registered.get_json()
    assert login_attempts(client, 1, address="192.0.2.30")[0].status_code == 429
    _, token = make_user("contributor")
    change = client.put(
        "/api/v1/me/password",
        json={"current_password": "wrong" * 3, "new_password": TEST_PASSWORD + "!"},
        headers={"Authorization": f"Bearer {token}"},
        environ_base=address,
    )
    assert change.status_code == 429


def test_wrong_current_passwords_count_against_the_account(committed, limited_app, make_user):
    """A stolen token guessing its account's password from many addresses is stopped like a
    login: the same wrong passwords per account, logins and password changes together."""
    client = limited_app(RATE_LIMIT_LOGIN_FAILURES="3 per hour").test_client()
    user, token = make_user("contributor")

    def change(current, n):
        return client.put(
            "/api/v1/me/password",
            json={"current_password": current, "new_password": TEST_PASSWORD + "!"},
            headers={"Authorization": f"Bearer {token}"},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
        ).status_code

    assert [change("wrong" * 3, n) for n in range(2)] == [422, 422]
    login = client.post(
        "/api/v1/auth/tokens",
        json={"username": user.username, "password": "x" * 12},
        environ_base={"REMOTE_ADDR": "203.0.113.50"},
    )
    assert login.status_code == 401
    assert change(TEST_PASSWORD, 9) == 429  # right, but too late: not even checked


def test_reads_have_a_default_limit(committed, limited_app):
    client = limited_app().test_client()
    responses = [client.get("/api/v1/kinds") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    # A problem of the one type of every rate limit's refusal, which names the limit.
    refusal = responses[-1].get_json()
    assert refusal["type"].endswith("/too-many-requests")
    assert refusal["detail"] == (
        "Too many requests to this route (at most 5 per 1 minute): try again after Retry-After"
        " seconds."
    )
    # What is left is told on every answer; "retry after" only on the refusal.
    assert responses[0].headers["X-RateLimit-Remaining"] == "4"
    assert "Retry-After" not in responses[0].headers
    assert int(responses[-1].headers["Retry-After"]) > 0


def test_a_refusal_says_to_wait_until_its_window_ends_not_less(committed, limited_app):
    """The limiter truncates the time left (0 within a window's last second): a client obeying
    it would be refused again. Refused again and again until its window ends, a client is
    told each time to wait at least what is left of it, and 1 second at least."""
    client = limited_app(RATE_LIMIT_DEFAULT="1 per 2 second").test_client()
    assert client.get("/api/v1/kinds").status_code == 200
    refusals = 0
    while True:
        refused = client.get("/api/v1/kinds")
        if refused.status_code != 429:
            break  # a new window
        refusals += 1
        wait = int(refused.headers["Retry-After"])
        assert wait >= 1 and wait >= int(refused.headers["X-RateLimit-Reset"]) - time.time()
        time.sleep(0.05)
    assert refusals >= 5


def test_health_probes_are_not_counted(committed, limited_app):
    """A cache or load balancer probes each node every few seconds from one address: counted,
    the probes would spend that address's reads, and past a tight limit mark every node sick."""
    client = limited_app().test_client()
    assert [client.get("/api/v1/health").status_code for _ in range(8)] == [200] * 8
    assert client.get("/api/v1/kinds").headers["X-RateLimit-Remaining"] == "4"


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


def test_a_refusal_by_the_new_accounts_pin_limit_describes_that_limit(
    committed, limited_app, make_user
):
    """A contributor refused for pinning too much in an hour is told of that limit, not of the
    write limit it is still within (which the limiter would describe)."""
    client = limited_app(
        RATE_LIMIT_WRITES="50 per minute", NEW_ACCOUNT_PINS_PER_HOUR=1
    ).test_client()
    _, token = make_user("contributor")
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    accepted = client.post("/api/v1/devices", json=feature(2.3, 48.8))
    assert accepted.status_code == 201
    # Of the limits it counted against (the default one, 4 left; the writes, 49), the one
    # that refuses the next pin.
    assert (accepted.headers["X-RateLimit-Limit"], accepted.headers["X-RateLimit-Remaining"]) == (
        "1",
        "0",
    )
    refused = client.post("/api/v1/devices", json=feature(2.4, 48.8))
    assert refused.status_code == 429
    assert refused.headers.getlist("X-RateLimit-Limit") == ["1"]
    assert refused.headers.getlist("X-RateLimit-Remaining") == ["0"]
    wait = int(refused.headers["Retry-After"])
    assert 3590 <= wait <= 3600
    assert abs(int(refused.headers["X-RateLimit-Reset"]) - (time.time() + wait)) <= 2


def test_a_503_keeps_its_own_retry_after_or_none_not_the_limiters(
    committed, limited_app, monkeypatch, tmp_path
):
    """A web map not built is no matter of waiting: the limiter's window is no advice there."""
    monkeypatch.setattr(web, "WEB_DIST", tmp_path)
    response = limited_app().test_client().get("/")
    assert response.status_code == 503 and response.mimetype == PROBLEM
    assert "Retry-After" not in response.headers
    assert response.headers["X-RateLimit-Remaining"] == "4"


def test_a_client_over_its_limit_is_refused_before_its_body_is_read(committed, limited_app):
    client = limited_app(RATE_LIMIT_DEFAULT="1 per minute").test_client()
    body = json.dumps({"username": "\ud800", "password": "x" * 12})
    statuses = [
        client.post("/api/v1/auth/tokens", data=body, content_type="application/json").status_code
        for _ in range(2)
    ]
    assert statuses == [422, 429]


def test_answers_describe_the_limit_with_the_fewest_requests_left(committed, limited_app):
    """A login counts against the address's limit (3 a minute here) and, when wrong, the
    account's (20 an hour): its answer tells the one nearest to refusing, not the last checked."""
    client = limited_app().test_client()
    answers = login_attempts(client, 3)
    assert [r.status_code for r in answers] == [401] * 3
    assert [r.headers["X-RateLimit-Limit"] for r in answers] == ["3"] * 3
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    assert login_attempts(client, 1)[0].status_code == 429


def test_reads_stay_limited_on_a_route_once_it_was_written(committed, limited_app, make_user):
    """The default limit counts a route's reads after a write went through it too."""
    client = limited_app(RATE_LIMIT_WRITES="50 per minute").test_client()
    _, token = make_user("moderator")
    created = client.post(
        "/api/v1/devices", json=feature(2.3, 48.8), headers={"Authorization": f"Bearer {token}"}
    )
    assert created.status_code == 201
    reads = [client.get("/api/v1/devices?limit=1").status_code for _ in range(6)]
    assert reads == [200] * 5 + [429]


def test_a_refusal_for_loose_photos_says_no_wait_frees_it(committed, limited_app, make_user):
    """Too many photos attached to no device: a limit of its own, which no wait frees (no
    Retry-After), not the limiter's window."""
    client = limited_app(RATE_LIMIT_WRITES="50 per minute", PHOTO_LOOSE_MAX=1).test_client()
    _, token = make_user("contributor")
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert images.upload(client, images.plain_photo()).status_code == 201
    refused = images.upload(client, images.plain_photo(colour=(1, 2, 3)))
    assert refused.status_code == 429
    assert refused.headers.getlist("X-RateLimit-Limit") == ["1"]
    assert refused.headers.getlist("X-RateLimit-Remaining") == ["0"]
    assert "Retry-After" not in refused.headers and "X-RateLimit-Reset" not in refused.headers


def test_counters_unreadable_after_the_check_cost_no_answer(committed, limited_app, monkeypatch):
    """The counters' storage failing once the request was let through (Redis going away while
    the answer tells what is left of the address's limit): the answer goes out, described as
    the limiter describes it, rather than as a 500."""
    window = RequestLimit.window.fget

    def unreadable_for_addresses(limit):
        if "/auth/" in limit.key:
            raise redis.exceptions.ConnectionError("Redis went away")
        return window(limit)

    monkeypatch.setattr(RequestLimit, "window", property(unreadable_for_addresses))
    answers = login_attempts(limited_app().test_client(), 2)
    assert [r.status_code for r in answers] == [401, 401]
    assert answers[0].headers["X-RateLimit-Limit"] == "20"  # the wrong passwords', as before


def test_redis_stopping_while_a_wrong_password_is_counted_costs_no_answer(
    committed, limited_app, private_redis, monkeypatch
):
    """Redis goes away between the check of a login and the count of its wrong password (made
    once the answer is ready): the client still gets its 401, not a 500."""
    url, process = private_redis
    client = limited_app(REDIS_URL=url).test_client()

    def redis_goes_away():
        process.terminate()
        process.wait(timeout=10)
        ratelimit.count_wrong_password()

    monkeypatch.setattr(account_routes, "count_wrong_password", redis_goes_away)
    assert [r.status_code for r in login_attempts(client, 1)] == [401]
    assert [r.status_code for r in login_attempts(client, 1)] == [401]  # counted in memory


def test_the_statistics_refresh_is_no_client_of_the_rate_limit(committed, limited_app):
    """Run from cron through the app itself, it recomputes every outdated answer, however many
    there are under one route's limit (1 a minute here), and counts only those it did."""
    limited = limited_app(RATE_LIMIT_DEFAULT="1 per minute")
    paths = [f"/api/v1/stats/grid?bbox=2.3,48.8,2.31,48.81&cell={cell}" for cell in (100, 200)]
    with limited.app_context():
        for path in paths:
            session.execute(
                text(
                    "INSERT INTO statistics_cache (key, request, body, data_version) "
                    "VALUES (:key, :request, '{}', 'before')"
                ),
                {"key": path, "request": path},
            )
        session.commit()
    result = limited.test_cli_runner().invoke(args=["geodata", "refresh-statistics"])
    assert "2 of 2 cached statistics refreshed" in result.output, result.output
    assert "429" not in result.output


def test_requests_for_downloads_count_apart_from_the_default_limit(
    committed, limited_app, tmp_path
):
    """GDAL's /vsicurl/ reads a GeoPackage by many byte ranges: every request for a download,
    each range, an ignored one or the whole file alike, counts against a limit of its own,
    which its answers describe."""
    client = limited_app(
        RATE_LIMIT_DOWNLOADS="8 per minute", DOWNLOADS_ROOT=str(tmp_path)
    ).test_client()
    url = "/ogc/collections/devices/download"
    asked = [{"Range": f"bytes={n}-{n}"} for n in range(5)] + [{"Range": "x"}, {}, {}, {}]
    answers = [client.get(url, headers=headers) for headers in asked]
    assert [a.status_code for a in answers] == [206] * 5 + [200] * 3 + [429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[4:8]] == ["3", "2", "1", "0"]
    assert answers[-1].headers["X-RateLimit-Limit"] == "8"
