"""Offline sync: a client paging through changes while writes go on loses nothing."""

import threading
import uuid

import pytest
from sqlalchemy import text

from service.api.sync.routes import CURSORS
from service.geo.devices.sync import restamp_changes_from_another_history
from tests.helpers import pin


def sync_all(client, cursor=None, limit=7, bbox=None):
    """Page until nothing more comes; return the features seen and the final cursor."""
    seen = []
    while True:
        query = f"/api/v1/sync?limit={limit}" + (f"&since={cursor}" if cursor else "")
        query += f"&bbox={bbox}" if bbox else ""
        body = client.get(query).get_json()
        seen += body["features"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return seen, cursor


def move(client, device_id: str, coordinates: list) -> None:
    etag = client.get(f"/api/v1/devices/{device_id}").headers["ETag"]
    moved = client.patch(
        f"/api/v1/devices/{device_id}",
        json={"geometry": {"type": "Point", "coordinates": coordinates}},
        headers={"If-Match": etag},
    )
    assert moved.status_code == 200, moved.get_json()


def apply(local: dict, features: list) -> None:
    """What an offline app does with a page of changes."""
    for f in features:
        if f["properties"]["deleted_at"]:
            local.pop(f["id"], None)
        else:
            local[f["id"]] = f["properties"]["notes"]


def test_paging_while_writes_continue_loses_nothing(committed, moderator, client):
    devices = [pin(moderator, 2.30 + i * 0.001, 48.85, notes=f"v1-{i}") for i in range(20)]
    local = {}
    body = client.get("/api/v1/sync?limit=6").get_json()
    apply(local, body["features"])
    cursor = body["next_cursor"]
    # Writes land between the client's pages: new pins, edits, and deletions.
    added = [pin(moderator, 2.40 + i * 0.001, 48.85, notes=f"new-{i}") for i in range(5)]
    for device in devices[:3]:
        url = f"/api/v1/devices/{device['id']}"
        moderator.patch(
            url,
            json={"properties": {"notes": "edited"}},
            headers={"If-Match": client.get(url).headers["ETag"]},
        )
    for device in devices[10:13] + added[:1]:
        assert moderator.delete(f"/api/v1/devices/{device['id']}").status_code == 204
    features, cursor = sync_all(client, cursor)
    apply(local, features)

    truth = {
        f["id"]: f["properties"]["notes"]
        for f in client.get("/api/v1/devices?limit=1000").get_json()["features"]
    }
    assert local == truth
    assert len(truth) == 20 + 5 - 4
    tombstones = {f["id"] for f in features if f["properties"]["deleted_at"]}
    assert {d["id"] for d in devices[10:13] + added[:1]} <= tombstones
    # Nothing new: the cursor stays put and the page is empty.
    again = client.get(f"/api/v1/sync?since={cursor}").get_json()
    assert again["features"] == [] and again["next_cursor"] == cursor


def test_a_slow_writer_is_never_skipped(committed, moderator, client, app):
    """A change committed late by an older transaction still reaches clients."""
    first = pin(moderator, 2.30, 48.85, notes="first")
    _, cursor = sync_all(client)
    engine = app.extensions["engine"]
    slow = engine.connect()
    slow_tx = slow.begin()
    slow.execute(text("UPDATE devices SET notes = 'slow' WHERE id = :id"), {"id": first["id"]})
    quick = pin(moderator, 2.31, 48.85, notes="quick")  # commits while the slow one is open
    during, cursor_during = sync_all(client, cursor)
    assert during == []  # held back until the older transaction ends
    slow_tx.commit()
    slow.close()
    after, _ = sync_all(client, cursor_during)
    assert {f["id"]: f["properties"]["notes"] for f in after} == {
        first["id"]: "slow",
        quick["id"]: "quick",
    }


def test_sync_filters_on_bbox_and_hides_pending_pins(committed, moderator, as_user, client):
    paris = pin(moderator, 2.35, 48.85)
    pin(moderator, 4.83, 45.76)
    pin(as_user(), 2.351, 48.851)  # pending: not public
    features, _ = sync_all(client, bbox="2.3,48.8,2.4,48.9")
    assert [f["id"] for f in features] == [paris["id"]]


def test_sync_of_a_box_on_the_antimeridian_holds_the_other_numbers_devices(
    committed, moderator, client
):
    east = pin(moderator, 180.0, 10.0)
    pin(moderator, 179.0, 10.0)
    features, _ = sync_all(client, bbox="-180,9,-179.5,11")
    assert [f["id"] for f in features] == [east["id"]]


def test_concurrent_writers_and_a_syncing_reader(committed, moderator, client):
    """Two threads pin while a third syncs; the reader ends up with every pin."""
    errors = []

    def writer(offset):
        try:
            for i in range(10):
                pin(moderator, 2.0 + offset + i * 0.001, 48.0)
        except AssertionError as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in (0, 1)]
    for thread in threads:
        thread.start()
    seen, cursor = {}, None
    while any(t.is_alive() for t in threads):
        features, cursor = sync_all(client, cursor)
        seen.update({f["id"]: f for f in features})
    for thread in threads:
        thread.join()
    features, _ = sync_all(client, cursor)
    seen.update({f["id"]: f for f in features})
    assert errors == []
    assert len(seen) == 20


@pytest.mark.parametrize("cursor", ["not-a-cursor", "_" * 32])
def test_malformed_cursor_is_400(client, cursor):
    """Nor is a cursor of a negative transaction (all bytes 0xFF) read as "from the start"."""
    response = client.get(f"/api/v1/sync?since={cursor}")
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "since"


def test_after_a_restore_on_another_server_the_feed_starts_again(committed, app, moderator, client):
    """Restored on a server whose transaction counter is behind the one that wrote the rows:
    a cursor of the old server (beyond any id this one gave) is a 400 telling to sync again
    from the start, and the restore stamps the rows anew so that the feed serves them."""
    device = pin(moderator, notes="restored")
    engine = app.extensions["engine"]
    old_server_txid = 10**12
    with engine.begin() as connection:  # what the old server wrote, as restored here
        connection.execute(text("ALTER TABLE devices DISABLE TRIGGER devices_stamp_change"))
        connection.execute(text("UPDATE devices SET change_txid = :t"), {"t": old_server_txid})
        connection.execute(text("ALTER TABLE devices ENABLE TRIGGER devices_stamp_change"))
    assert sync_all(client)[0] == []  # beyond this server's counter: out of the feed
    cursor = CURSORS.encode(old_server_txid, uuid.UUID(device["id"]))
    refused = client.get(f"/api/v1/sync?since={cursor}")
    assert refused.status_code == 400
    assert refused.get_json()["errors"][0]["field"] == "since"
    assert "from the start" in refused.get_json()["detail"]
    with engine.begin() as connection:
        connection.execute(restamp_changes_from_another_history())
    assert [feature["id"] for feature in sync_all(client)[0]] == [device["id"]]


def test_a_pending_pin_deleted_by_its_author_never_reaches_public_sync(committed, as_user, client):
    author = as_user()
    hidden = pin(author, 2.35, 48.85, notes="never public")
    assert author.delete(f"/api/v1/devices/{hidden['id']}").status_code == 204
    public, _ = sync_all(client)
    assert public == []
    own, _ = sync_all(author)
    assert [f["id"] for f in own] == [hidden["id"]]
    assert own[0]["properties"]["deleted_at"]


def decide(moderator, device_id, decision: dict):
    """A moderator's decision on a pin already reviewed: knowingly, naming the version read."""
    url = f"/api/v1/devices/{device_id}"
    etag = moderator.get(url).headers["ETag"]
    return moderator.post(f"{url}/review", json=decision, headers={"If-Match": etag})


def test_a_pin_rejected_after_approval_is_withdrawn_from_phones(committed, moderator, client):
    kept = pin(moderator, 2.35, 48.85, notes="kept")
    withdrawn = pin(moderator, 2.36, 48.85, notes="spam that slipped through")
    local = {}
    features, cursor = sync_all(client)
    apply(local, features)
    assert set(local) == {kept["id"], withdrawn["id"]}

    review = decide(moderator, withdrawn["id"], {"decision": "reject", "reason": "spam"})
    assert review.status_code == 200
    features, cursor = sync_all(client, cursor)
    apply(local, features)
    assert set(local) == {kept["id"]}
    (withdrawal,) = features
    assert withdrawal["id"] == withdrawn["id"] and withdrawal["geometry"] is None
    assert withdrawal["properties"]["withdrawn"] is True
    assert "notes" not in withdrawal["properties"]  # the rejected content is not sent again

    # Approved again: back on the phones in full.
    assert decide(moderator, withdrawn["id"], {"decision": "approve"}).status_code == 200
    features, _ = sync_all(client, cursor)
    apply(local, features)
    assert local == {kept["id"]: "kept", withdrawn["id"]: "spam that slipped through"}


def test_a_rejected_pin_that_was_never_public_stays_out_of_public_sync(
    committed, as_user, moderator, client
):
    author = as_user()
    pending = pin(author, 2.35, 48.85)
    rejected = moderator.post(
        f"/api/v1/devices/{pending['id']}/review", json={"decision": "reject", "reason": "wrong"}
    )
    assert rejected.status_code == 200
    public, _ = sync_all(client)
    assert public == []


def test_a_withdrawal_reaches_phones_of_any_box_and_as_any_caller(
    committed, moderator, as_user, client
):
    """Moved after its rejection, a pin must still leave the phones of the area they saw it in;
    and a pin without an author (imported) is withdrawn from signed-in callers too."""
    withdrawn = pin(moderator, 2.35, 48.85, notes="x")
    imported = pin(moderator, 2.36, 48.85, notes="y")
    signed_in = as_user()
    paris = "2.3,48.8,2.4,48.9"
    _, public_cursor = sync_all(client, bbox=paris)
    _, own_cursor = sync_all(signed_in, bbox=paris)
    rejected = decide(moderator, withdrawn["id"], {"decision": "reject", "reason": "spam"})
    assert rejected.status_code == 200
    url = f"/api/v1/devices/{withdrawn['id']}"
    moved = moderator.patch(
        url,
        json={"geometry": {"type": "Point", "coordinates": [5.37, 43.29]}},
        headers={"If-Match": moderator.get(url).headers["ETag"]},
    )
    assert moved.status_code == 200
    committed.dispose()  # the authorless pin: as an import would leave it
    with committed.begin() as connection:
        connection.execute(
            text("UPDATE devices SET created_by = NULL, review_status = 'rejected' WHERE id = :id"),
            {"id": imported["id"]},
        )
    for caller, cursor in ((client, public_cursor), (signed_in, own_cursor)):
        features, _ = sync_all(caller, cursor, bbox=paris)
        assert {f["id"] for f in features if f["properties"].get("withdrawn")} == {
            withdrawn["id"],
            imported["id"],
        }


def test_a_device_moved_out_of_the_box_reaches_the_phones_of_that_box(committed, moderator, client):
    """A phone that synced an area holds the device at its old place until it learns where
    it went."""
    moving = pin(moderator, 2.35, 48.85)
    pin(moderator, 2.36, 48.86)
    box = "2.3,48.8,2.4,48.9"
    _, cursor = sync_all(client, bbox=box)
    move(moderator, moving["id"], [5.0, 45.0])
    features, _ = sync_all(client, cursor, bbox=box)
    assert [(f["id"], f["geometry"]["coordinates"]) for f in features] == [
        (moving["id"], [5.0, 45.0])
    ]
    # Another area that never held it is not told.
    far, _ = sync_all(client, bbox="4.0,44.0,4.5,44.5")
    assert far == []


def test_a_pending_pin_moved_out_of_the_box_reaches_the_phones_that_saw_it_there(
    committed, as_user, moderator, client
):
    """Its author's phone and a moderator's held it at its first place, which was theirs to
    see: they learn where it went. Once approved, the other phones of that box are not told
    (its place while it awaited review stays private)."""
    author = as_user()
    moving = pin(author, 2.35, 48.85)
    assert moving["properties"]["review_status"] == "pending"
    box = "2.3,48.8,2.4,48.9"
    phones = {"author": author, "moderator": moderator, "anyone": client, "another": as_user()}
    cursors = {name: sync_all(phone, bbox=box)[1] for name, phone in phones.items()}
    move(author, moving["id"], [5.0, 45.0])
    for name in ("author", "moderator"):
        features, _ = sync_all(phones[name], cursors[name], bbox=box)
        assert [(f["id"], f["geometry"]["coordinates"]) for f in features] == [
            (moving["id"], [5.0, 45.0])
        ], name
    approved = moderator.post(
        f"/api/v1/devices/{moving['id']}/review", json={"decision": "approve"}
    )
    assert approved.status_code == 200, approved.get_json()
    for name in ("anyone", "another"):  # an account of its own is told no more
        assert sync_all(phones[name], cursors[name], bbox=box)[0] == [], name
    assert [f["id"] for f in sync_all(client, cursors["anyone"])[0]] == [moving["id"]]


def test_a_listing_cursor_is_told_apart_from_a_restore(committed, moderator, client):
    pin(moderator, 2.35, 48.85)
    pin(moderator, 2.36, 48.86)
    page = client.get("/api/v1/devices?bbox=2.3,48.8,2.4,48.9&limit=1").get_json()
    listing_cursor = next(link for link in page["links"] if link["rel"] == "next")["href"]
    since = listing_cursor.rpartition("cursor=")[2]
    refused = client.get(f"/api/v1/sync?since={since}")
    assert refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == "since"
    assert "not one this server issued" in refused.get_json()["detail"]  # not a restore's
    # And the other way round: a sync cursor is no position of the listing's spatial order.
    _, sync_cursor = sync_all(client)
    listed = client.get(f"/api/v1/devices?bbox=2.3,48.8,2.4,48.9&cursor={sync_cursor}")
    assert listed.status_code == 400 and listed.get_json()["errors"][0]["field"] == "cursor"
