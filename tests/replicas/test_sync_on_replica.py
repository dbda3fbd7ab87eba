"""The sync feed read from a streaming replica while writers commit on the primary: nothing
skipped, nothing repeated, whichever server answers each page."""

import random
import threading
import uuid

from sqlalchemy import text

from tests.clusters import start_cluster, stop_cluster
from tests.replicas.conftest import public_device

WRITERS = 3
TRANSACTIONS_PER_WRITER = 40
PAGE = 7


def write(replication, seed: int, failures: list) -> None:
    """One writer's transactions: pins, edits and deletions of its own devices, each held open
    a random while, so that transactions commit in another order than they began."""
    rng = random.Random(seed)
    versions: dict[str, int] = {}
    try:
        for _ in range(TRANSACTIONS_PER_WRITER):
            with replication.primary.begin() as connection:
                connection.execute(text("SELECT pg_current_xact_id()"))  # its id, taken now
                live = [d for d, v in versions.items() if v > 0]
                choice = rng.random()
                if not live or choice < 0.4:
                    device_id, version = str(uuid.uuid4()), 1
                    connection.execute(
                        text(
                            "INSERT INTO devices (id, geom, kind, review_status, notes) VALUES "
                            "(:id, ST_SetSRID(ST_MakePoint(:lon, 48.85), 4326), 'camera', "
                            "'approved', :notes)"
                        ),
                        {"id": device_id, "lon": 2.3 + rng.random() / 10, "notes": f"v{version}"},
                    )
                elif choice < 0.9:
                    device_id = rng.choice(live)
                    version = versions[device_id] + 1
                    connection.execute(
                        text("UPDATE devices SET notes = :notes WHERE id = :id"),
                        {"id": device_id, "notes": f"v{version}"},
                    )
                else:
                    device_id, version = rng.choice(live), 0
                    connection.execute(
                        text("UPDATE devices SET deleted_at = now() WHERE id = :id"),
                        {"id": device_id},
                    )
                threading.Event().wait(rng.random() / 50)
            versions[device_id] = version
    except BaseException as error:  # reported by the test, not lost in the thread
        failures.append(repr(error))


def test_the_sync_feed_read_from_a_replica_misses_nothing(replicated_app, replication):
    app = replicated_app()
    public_device(replication, 2.3, 48.85, notes="v1")  # one before the reader starts
    client = app.test_client()
    local: dict[str, str] = {}
    received: list[tuple[str, str | None]] = []
    cursor = None
    failures: list[str] = []
    writers = [
        threading.Thread(target=write, args=(replication, seed, failures))
        for seed in range(WRITERS)
    ]

    def read_page(on_primary: bool) -> bool:
        nonlocal cursor
        headers = {}
        if on_primary:  # a position past the replica's: the primary answers this page
            position = replication.primary_sql("SELECT pg_current_wal_insert_lsn()::text")
            headers["Vigie-WAL-Position"] = position
        query = f"/api/v1/sync?limit={PAGE}" + (f"&since={cursor}" if cursor else "")
        response = client.get(query, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        for f in body["features"]:
            deleted = f["properties"]["deleted_at"]
            received.append((f["id"], None if deleted else f["properties"]["notes"]))
            if deleted:
                local.pop(f["id"], None)
            else:
                local[f["id"]] = f["properties"]["notes"]
        cursor = body["next_cursor"]
        return body["has_more"]

    for thread in writers:
        thread.start()
    pages = 0
    while any(thread.is_alive() for thread in writers):
        read_page(on_primary=pages % 4 == 3)
        pages += 1
    for thread in writers:
        thread.join()
    assert not failures, failures
    replication.catch_up()
    while read_page(on_primary=False):
        pass

    with replication.primary.connect() as connection:
        stored = dict(
            connection.execute(
                text("SELECT id::text, notes FROM devices WHERE deleted_at IS NULL")
            ).all()
        )
    assert local == stored  # no change skipped
    # None repeated: each version of a device came once, in the order it was written.
    assert len(received) == len(set(received))
    for device_id in {d for d, _ in received}:
        versions = [v for d, v in received if d == device_id]
        numbers = [int(v[1:]) for v in versions if v is not None]
        assert numbers == sorted(numbers), (device_id, versions)
    replica = app.extensions["replicas"].replicas[0]
    assert replica.reads >= pages // 2, (replica.reads, pages)
    assert len(stored) > WRITERS  # the writers did write


def test_a_cursor_a_replica_has_not_reached_is_answered_by_the_primary(replicated_app, replication):
    """A cursor issued by the primary (a page read with the client's position) and shown next
    to a replica whose replay is behind it: the replica took it for one beyond the feed (of
    another history) and answered a 400 asking to sync from the start. The primary answers
    that page; with the primary down, the replica answers an empty page keeping the cursor."""
    app = replicated_app()
    client = app.test_client()
    replication.catch_up()
    replication.pause()
    try:
        # Two transactions the replica has not replayed: the cursor's is beyond its next one.
        public_device(replication, 2.29, 48.85, notes="v0")
        device_id = public_device(replication, 2.3, 48.85, notes="v1")
        position = replication.primary_sql("SELECT pg_current_wal_insert_lsn()::text")
        first = client.get("/api/v1/sync?limit=100", headers={"Vigie-WAL-Position": position})
        assert device_id in first.get_data(as_text=True)  # the primary's page
        public_device(replication, 2.31, 48.85, notes="v2")  # beyond the replica, and the cursor
        cursor = first.get_json()["next_cursor"]
        second = client.get(f"/api/v1/sync?limit=100&since={cursor}")  # the replica's turn
        assert second.status_code == 200, second.get_json()
        assert [f["properties"]["notes"] for f in second.get_json()["features"]] == ["v2"]
        stop_cluster(replication.primary_dir)
        try:
            alone = client.get(f"/api/v1/sync?limit=100&since={cursor}")
            assert alone.status_code == 200, alone.get_json()
            assert alone.get_json()["features"] == []
            assert alone.get_json()["next_cursor"] == cursor
        finally:
            start_cluster(replication.primary_dir)
    finally:
        replication.resume()
