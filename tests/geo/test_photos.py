"""A device Feature lists its photos from one index-backed correlated subquery."""

import json
import uuid

import pytest

from service.geo.devices.features import select_device_feature
from service.geo.devices.filter import DeviceFilter
from service.geo.devices.spatial import select_device_page_in_space
from tests.helpers import add_photo, as_text, pin


@pytest.fixture
def client(moderator):
    """These tests act as a moderator, whose pins are published directly."""
    return moderator


def feature_of(db, device_id, base="https://maps.example.org/api/v1/photos"):
    statement = select_device_feature().params(
        device_id=uuid.UUID(device_id), photo_base=base + "/"
    )
    return json.loads(db(as_text(statement)).one().feature)


def test_photos_are_listed_in_the_order_they_were_listed_with_absolute_urls(client, db):
    device = pin(client)
    newer = add_photo(db, device["id"], "2026-11-02T00:00:00Z", 300, 200)
    older = add_photo(db, device["id"], "2026-11-01T00:00:00Z")
    photos = feature_of(db, device["id"])["properties"]["photos"]
    assert [p["id"] for p in photos] == [older, newer]
    assert photos[1] == {
        "id": newer,
        "thumbnail": f"https://maps.example.org/api/v1/photos/{newer}/thumbnail",
        "large": f"https://maps.example.org/api/v1/photos/{newer}/large",
        "full": f"https://maps.example.org/api/v1/photos/{newer}/full",
        "width": 300,
        "height": 200,
    }


def test_other_devices_photos_and_uploads_are_not_listed(client, db):
    device, other = pin(client), pin(client, 2.0, 48.0)
    add_photo(db, other["id"], "2026-11-01T00:00:00Z")
    add_photo(db, None, "2026-11-01T00:00:00Z")
    assert feature_of(db, device["id"])["properties"]["photos"] == []


def test_the_listing_reads_photos_through_their_device_index(client, db):
    device = pin(client)
    add_photo(db, device["id"], "2026-11-01T00:00:00Z")
    db("SET LOCAL enable_seqscan = off")
    page = select_device_page_in_space(DeviceFilter(), 100)
    statement = page.statement.params(page.values | {"photo_base": "https://x/"})
    plan = "\n".join(row[0] for row in db("EXPLAIN " + as_text(statement)))
    assert "photos_device_idx" in plan


def flags(db, *device_ids) -> list[bool]:
    return [
        db("SELECT has_photos FROM devices WHERE id = :id", id=device_id).scalar_one()
        for device_id in device_ids
    ]


def test_a_device_knows_whether_it_has_photos_whatever_happens_to_them(client, db):
    first, second = pin(client)["id"], pin(client, 2.0, 48.0)["id"]
    assert flags(db, first, second) == [False, False]
    upload = add_photo(db, None, "2026-11-01T00:00:00Z")
    db("UPDATE photos SET device_id = :device WHERE id = :photo", device=first, photo=upload)
    other = add_photo(db, first, "2026-11-02T00:00:00Z")
    assert flags(db, first, second) == [True, False]
    # A merge moves photos to the device kept.
    db("UPDATE photos SET device_id = :kept WHERE device_id = :gone", kept=second, gone=first)
    assert flags(db, first, second) == [False, True]
    db("DELETE FROM photos WHERE id = :photo", photo=upload)
    assert flags(db, second) == [True]
    db("DELETE FROM photos WHERE id = :photo", photo=other)
    assert flags(db, second) == [False]
    assert feature_of(db, second)["properties"]["photos"] == []


def test_a_new_photo_marks_its_device_changed_for_sync(client, db):
    device = pin(client)["id"]
    # As if pinned long ago: sync orders changes by the writing transaction's id.
    db("ALTER TABLE devices DISABLE TRIGGER devices_stamp_change")
    db("UPDATE devices SET change_txid = 0 WHERE id = :id", id=device)
    db("ALTER TABLE devices ENABLE TRIGGER devices_stamp_change")
    add_photo(db, device, "2026-11-01T00:00:00Z")
    stamp = db("SELECT change_txid FROM devices WHERE id = :id", id=device).scalar_one()
    assert stamp == db("SELECT pg_current_xact_id()::text::bigint").scalar_one()
