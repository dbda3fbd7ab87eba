"""The public Feature a trigger stores on every change equals the one built from the columns."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.geo.devices.features import (
    PUBLIC_FEATURE,
    PUBLIC_PROPERTIES,
    device_feature_text,
)
from service.models import Device
from tests.helpers import add_photo, as_text, pin

BASE = "https://maps.example.org/api/v1/photos"


def stored_and_built(db, device_id):
    statement = (
        select(
            PUBLIC_FEATURE.label("stored"),
            device_feature_text(PUBLIC_PROPERTIES).label("built"),
        )
        .where(Device.id == device_id)
        .params(photo_base=BASE + "/")
    )
    return db(as_text(statement)).one()


@pytest.fixture
def device(moderator):
    """A pin with every property set, published at once (a moderator's)."""
    return pin(
        moderator,
        2.3522,
        48.8566,
        camera_type="dome",
        mount="pole",
        direction=[90, 270],
        angle=60,
        height=4.5,
        zone="traffic",
        surveillance="public",
        operator="Préfecture de police",
        operator_type="public",
        status="active",
        observed_at="2026-11-01T10:20:30.123456+01:00",
        accuracy_m=3.5,
        notes='Quote " backslash \\ and newline\n',
        source="https://example.org/records/1",
        tags={"camera:lens": "wide", "check_date": "2026-11-01"},
    )


def test_stored_feature_equals_the_built_one_after_each_kind_of_change(
    device, moderator, as_user, db
):
    add_photo(db, device["id"], "2026-11-02T00:00:00Z")
    assert len(set(stored_and_built(db, device["id"]))) == 1

    etag = moderator.get(f"/api/v1/devices/{device['id']}").headers["ETag"]
    moderator.patch(
        f"/api/v1/devices/{device['id']}",
        json={"properties": {"notes": "changed", "direction": [10]}},
        headers={"If-Match": etag},
    )
    as_user().post(f"/api/v1/devices/{device['id']}/confirmations", json={"verdict": "still_there"})
    db("UPDATE devices SET geom = ST_SetSRID(ST_MakePoint(-0.5, 44.8), 4326)")
    stored, built = stored_and_built(db, device["id"])
    assert stored == built
    assert '"notes":"changed"' in stored and '"coordinates":[-0.5,44.8]' in stored


def test_stored_timestamps_are_utc_whatever_the_writers_time_zone(device, db):
    db("SET LOCAL timezone = 'Pacific/Auckland'")
    db("UPDATE devices SET observed_at = '2026-06-01T20:00:00Z'")  # 2 June in Auckland
    head = db(as_text(select(Device.feature_head))).scalar_one()
    assert '"observed_at":"2026-06-01T00:00:00+00:00"' in head  # its UTC day


def test_stored_numbers_do_not_depend_on_the_writers_float_settings(device, db):
    db("SET LOCAL extra_float_digits = 0")
    db("UPDATE devices SET height = 0.1::float8 + 0.2::float8")
    db("RESET extra_float_digits")
    stored, built = stored_and_built(db, device["id"])
    assert stored == built and '"height":0.30000000000000004' in stored


def test_a_row_written_without_its_feature_is_refused(device, db):
    """Were the trigger ever bypassed, the write fails rather than serving a broken Feature."""
    db("ALTER TABLE devices DISABLE TRIGGER devices_write_feature")
    with pytest.raises(IntegrityError):
        db("UPDATE devices SET feature_head = NULL")
