"""Reads on a real streaming replica: public reads reach it, a contributor reads their own
writes at once even while its replay is paused, and a lagging or stopped replica is skipped
without a failed request."""

import math
import socket
import threading

import pytest

from service.replicas import parse_position
from tests.clusters import start_cluster, stop_cluster
from tests.helpers import feature
from tests.replicas.conftest import contributor, public_device

LON, LAT = 2.3522, 48.8566
WAL = "Vigie-WAL-Position"


def tile_of(lon: float, lat: float, zoom: int) -> str:
    n = 2**zoom
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{zoom}/{x}/{y}"


# Every kind of public read, and how to tell whether its answer shows a device.
PUBLIC_READS = {
    "listing": ("/api/v1/devices?bbox=2.34,48.85,2.36,48.86", lambda r, d: d in r.text),
    "device": ("/api/v1/devices/{id}", lambda r, d: r.status_code == 200),
    "ogc items": (
        "/ogc/collections/devices/items?bbox=2.34,48.85,2.36,48.86",
        lambda r, d: d in r.text,
    ),
    "tile": (f"/tiles/devices/{tile_of(LON, LAT, 14)}.mvt", lambda r, d: len(r.data) > 0),
    "statistics": (
        "/api/v1/stats/grid?bbox=2.34,48.85,2.36,48.86&cell=500",
        lambda r, d: r.get_json()["devices"] > 0,
    ),
    "sync": ("/api/v1/sync", lambda r, d: d in r.text),
}


def shows(client, read: str, device_id: str, **headers) -> bool:
    path, shown = PUBLIC_READS[read]
    response = client.get(path.format(id=device_id), headers=headers)
    assert response.status_code in (200, 204, 404), response.get_data(as_text=True)
    return shown(response, device_id)


@pytest.fixture
def paused(replication):
    replication.catch_up()
    replication.pause()
    yield replication
    replication.resume()


def test_public_reads_reach_the_replica(replicated_app, paused):
    """What the paused replica has not replayed is missing from every public read, and there
    once replayed: each read was served by the replica."""
    app = replicated_app()
    client = app.test_client()
    device_id = public_device(paused, LON, LAT)
    for read in PUBLIC_READS:
        assert not shows(client, read, device_id, **{"Cache-Control": "no-cache"}), read
    paused.resume()
    paused.catch_up()
    for read in PUBLIC_READS:
        assert shows(client, read, device_id, **{"Cache-Control": "no-cache"}), read
    assert app.extensions["replicas"].replicas[0].reads >= 2 * len(PUBLIC_READS)


def test_a_contributor_reads_their_own_write_while_the_replay_is_paused(
    replicated_app, replication
):
    app = replicated_app()
    author = contributor(app)
    replication.catch_up()  # the account and token are on the replica
    replication.pause()
    try:
        created = author.post("/api/v1/devices?force=true", json=feature(LON, LAT))
        assert created.status_code == 201
        position = created.headers[WAL]
        device_id = created.get_json()["id"]
        replayed = replication.replica_sql("SELECT pg_last_wal_replay_lsn()::text")
        assert parse_position(replayed) < parse_position(position)  # not on the replica
        # With the position of the write, or without one (an authenticated read): the primary.
        for headers in ({WAL: position}, {}):
            answer = author.get(f"/api/v1/devices/{device_id}", headers=headers)
            assert answer.status_code == 200, answer.get_json()
            listing = author.get("/api/v1/devices?bbox=2.34,48.85,2.36,48.86", headers=headers)
            assert device_id in listing.get_data(as_text=True)
        edited = author.patch(
            f"/api/v1/devices/{device_id}",
            json={"properties": {"notes": "moved"}},
            headers={"If-Match": answer.headers["ETag"]},
        )
        assert edited.status_code == 200, edited.get_json()
        again = author.get(f"/api/v1/devices/{device_id}", headers={WAL: edited.headers[WAL]})
        assert again.get_json()["properties"]["notes"] == "moved"
    finally:
        replication.resume()
    # Once the replica has replayed the write, a read naming its position goes there.
    replication.catch_up()
    replica = app.extensions["replicas"].replicas[0]
    before = replica.reads
    answer = author.get(f"/api/v1/devices/{device_id}", headers={WAL: edited.headers[WAL]})
    assert answer.get_json()["properties"]["notes"] == "moved"
    assert replica.reads == before + 1


def test_a_position_older_than_the_token_still_authenticates(replicated_app, replication):
    """A client that sends an old position with a newer token is read on the primary (the
    rate limiter, which looks the account up first, included)."""
    app = replicated_app(RATELIMIT_ENABLED=True, REDIS_URL="", RATELIMIT_KEY_PREFIX="replicas")
    replication.catch_up()
    old = app.test_client().post("/api/v1/auth/register", json={"username": "early_bird",
        "password": "correct horse battery staple of the night watch"})  # fmt: skip
    replication.catch_up()
    replication.pause()
    try:
        author = contributor(app)  # its token is not on the paused replica
        answer = author.get("/api/v1/me", headers={WAL: old.headers[WAL]})
        assert answer.status_code == 200, answer.get_json()
    finally:
        replication.resume()


def test_a_lagging_replica_is_skipped(replicated_app, paused):
    app = replicated_app(REPLICA_MAX_LAG_SECONDS=0.0)  # any lag at all is too much
    client = app.test_client()
    device_id = public_device(paused, LON, LAT)
    assert shows(client, "device", device_id)
    assert shows(client, "sync", device_id)
    replica = app.extensions["replicas"].replicas[0]
    assert replica.lag_seconds > 0 and replica.reads == 0


def test_while_the_primary_is_down_the_replica_serves_public_reads(replicated_app, replication):
    """The map stays readable when the primary stops: every public read goes to the replica,
    however far behind (no lag can be measured then), showing what it has replayed; a write
    is a 503 problem. Reads go back to the primary once it answers."""
    # Any measured lag is too much; purges are sent (to a closed port), so shared caches may
    # keep answers for a day, except those a replica gives without the primary.
    app = replicated_app(REPLICA_MAX_LAG_SECONDS=0.0, CACHE_PURGE_URL="http://127.0.0.1:9/")
    client, writer = app.test_client(), contributor(app)
    wide = f"s-maxage={app.config['CACHE_WIDE_MAX_AGE']},"
    replayed = public_device(replication, LON, LAT)
    replication.catch_up()
    replication.pause()
    try:
        missing = public_device(replication, LON + 0.001, LAT)
        assert shows(client, "listing", missing)  # the lagging replica is skipped
        assert (
            "s-maxage=86400," in client.get(f"/api/v1/devices/{missing}").headers["Cache-Control"]
        )
        stop_cluster(replication.primary_dir)
        try:
            for read in PUBLIC_READS:
                assert shows(client, read, replayed, **{"Cache-Control": "no-cache"}), read
            assert wide in client.get(f"/api/v1/devices/{replayed}").headers["Cache-Control"]
            assert not shows(client, "device", missing)
            written = writer.post("/api/v1/devices", json=feature(LON, LAT))
            assert written.status_code == 503 and written.headers["Retry-After"]
        finally:
            start_cluster(replication.primary_dir)
        assert shows(client, "listing", missing)  # the primary again
    finally:
        replication.resume()


def test_the_first_read_after_the_primary_stops_is_answered(replicated_app, replication):
    """A public read that meets the primary stopped checks at once and moves to the replica,
    without waiting for the next check (an hour away here)."""
    app = replicated_app(REPLICA_MAX_LAG_SECONDS=0.0, REPLICA_CHECK_SECONDS=3600.0)
    client = app.test_client()
    replayed = public_device(replication, LON, LAT)
    replication.catch_up()
    replication.pause()
    try:
        missing = public_device(replication, LON + 0.001, LAT)
        assert shows(client, "listing", missing)  # checked now: the lagging replica is skipped
        stop_cluster(replication.primary_dir)
        try:
            assert shows(client, "device", replayed)
            assert not shows(client, "device", missing)
        finally:
            start_cluster(replication.primary_dir)
    finally:
        replication.resume()


def test_a_primary_that_never_answers_holds_no_read(replicated_app, replication):
    """A primary that accepts connections and says nothing (a frozen host, a partition) is
    given up after a few seconds: public reads then go to the replica."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        port = silent.getsockname()[1]
        app = replicated_app(DATABASE_URL=f"postgresql+psycopg://vigie@127.0.0.1:{port}/vigie")
        device_id = public_device(replication, LON, LAT)
        replication.catch_up()
        answers = []
        reader = threading.Thread(
            target=lambda: answers.append(shows(app.test_client(), "device", device_id)),
            daemon=True,  # were the read held, the test fails rather than waits
        )
        reader.start()
        reader.join(timeout=30)
        assert answers == [True]
    finally:
        silent.close()


def test_a_malformed_position_is_a_400_problem(replicated_app):
    client = replicated_app().test_client()
    response = client.get("/api/v1/devices?bbox=2.34,48.85,2.36,48.86", headers={WAL: "nowhere"})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0] == {
        "field": WAL,
        "location": "headers",
        "message": response.get_json()["detail"],
    }


@pytest.mark.parametrize("check_seconds", [3600.0, 0.0], ids=["unchecked", "checked"])
def test_a_stopped_replica_costs_no_failed_request(replicated_app, replication, check_seconds):
    """Readers in threads keep reading while the replica stops: every answer is a 200.

    Unchecked: the router learns of the stop from a failed read, run again on the primary;
    checked: the check before a read finds it down."""
    app = replicated_app(
        REPLICA_CHECK_SECONDS=check_seconds,
        RATELIMIT_ENABLED=True,
        REDIS_URL="",
        RATE_LIMIT_DEFAULT="1000000 per minute",
    )
    device_id = public_device(replication, LON, LAT)
    author = contributor(app)  # reads with its position: its account is read on the replica
    replication.catch_up()
    replica = app.extensions["replicas"].replicas[0]
    statuses, failures, stop = [], [], threading.Event()

    def reader(client, headers):
        try:
            while not stop.is_set():
                for read in PUBLIC_READS:
                    path, _ = PUBLIC_READS[read]
                    answer = client.get(path.format(id=device_id), headers=headers)
                    statuses.append(answer.status_code)
        except BaseException as error:  # reported by the test, not lost in the thread
            failures.append(repr(error))

    readers = [(author, {WAL: author.position})] + [(app.test_client(), {}) for _ in range(2)]
    threads = [threading.Thread(target=reader, args=r) for r in readers]
    for thread in threads:
        thread.start()
    try:
        while replica.reads < 20 and not failures:
            threading.Event().wait(0.01)
        replication.stop_replica()
        served_before = len(statuses)
        while len(statuses) < served_before + 30 and not failures:
            threading.Event().wait(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        replication.start_replica()
    assert not failures, failures
    assert set(statuses) == {200}
    assert replica.failures >= 1
    # Back: reads reach it again once a check finds it well.
    replication.catch_up()
    app.extensions["replicas"].checked_at = -math.inf
    before = replica.reads
    assert shows(app.test_client(), "device", device_id)
    assert replica.reads == before + 1


def test_admins_see_how_each_replica_is(replicated_app, replication):
    app = replicated_app()
    admin = contributor(app)
    replication.primary_sql(
        "UPDATE users SET role = 'admin' WHERE username = :name", name=admin.username
    )
    replication.catch_up()
    assert "replicas" not in app.test_client().get("/api/v1/health").get_json()
    (replica,) = admin.get("/api/v1/health").get_json()["replicas"]
    assert replica["usable"] is True and replica["failures"] == 0
    assert parse_position(replica["replayed"]) >= parse_position(admin.position)
    assert replica["name"].endswith("/vigie")
