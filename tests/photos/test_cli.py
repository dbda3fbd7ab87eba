"""`flask photos clean-orphans`: old unattached uploads and photos of deleted devices go."""

import pytest

from service.storage.base import content_key
from tests import images
from tests.helpers import pin
from tests.images import uploaded


def stored_keys(app) -> set[str]:
    return set(app.extensions["photo_storage"].keys())


def clean(app, *args):
    return app.test_cli_runner().invoke(args=["photos", "clean-orphans", *args])


@pytest.fixture
def client(moderator):
    """These tests act as a moderator, whose pins are published directly."""
    return moderator


@pytest.fixture
def photos(app, client, db):
    """An old orphan, a fresh orphan, an old attached photo, an old photo of a deleted device."""
    old_orphan = uploaded(client, images.plain_photo(colour=(1, 1, 1)))
    fresh_orphan = uploaded(client, images.plain_photo(colour=(2, 2, 2)))
    kept_device, gone_device = pin(client), pin(client, 2.0, 48.0)
    attached = uploaded(
        client,
        images.plain_photo(colour=(3, 3, 3)),
        url=f"/api/v1/devices/{kept_device['id']}/photos",
    )
    of_deleted = uploaded(
        client,
        images.plain_photo(colour=(4, 4, 4)),
        url=f"/api/v1/devices/{gone_device['id']}/photos",
    )
    client.delete(f"/api/v1/devices/{gone_device['id']}")
    db(
        "UPDATE photos SET created_at = now() - interval '3 days' WHERE id <> :id",
        id=fresh_orphan["id"],
    )
    db(
        "UPDATE devices SET deleted_at = now() - interval '2 days' WHERE id = :id",
        id=gone_device["id"],
    )
    return {"old": old_orphan, "fresh": fresh_orphan, "attached": attached, "gone": of_deleted}


def remaining(db) -> set[str]:
    return {str(row[0]) for row in db("SELECT id FROM photos")}


def test_removes_old_orphans_and_photos_of_deleted_devices(app, db, photos):
    """Their files too, and only theirs: strays are for --files."""
    stray = content_key("5" * 64)
    app.extensions["photo_storage"].put(stray, b"left by a failed upload", "image/jpeg")
    keys_before = stored_keys(app)
    result = clean(app, "--older-than", "24h")
    assert result.exit_code == 0, result.output
    assert "removed 2 photo(s)" in result.output and "stray" not in result.output
    assert remaining(db) == {photos["fresh"]["id"], photos["attached"]["id"]}
    assert len(keys_before - stored_keys(app)) == 6  # three renditions each
    assert stray in stored_keys(app)
    app.extensions["photo_storage"].delete(stray)


def test_the_default_delay_comes_from_the_configuration(app, db, photos, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_ORPHAN_HOURS", 24 * 4)
    assert clean(app).exit_code == 0
    assert len(remaining(db)) == 4
    monkeypatch.setitem(app.config, "PHOTO_ORPHAN_HOURS", 1)
    assert clean(app).exit_code == 0
    assert len(remaining(db)) == 2


def test_dry_run_only_counts(app, db, photos):
    keys_before = stored_keys(app)
    result = clean(app, "--older-than", "1d", "--dry-run")
    assert result.exit_code == 0 and "would remove 2 photo(s)" in result.output
    assert len(remaining(db)) == 4 and stored_keys(app) == keys_before


@pytest.mark.parametrize("delay", ["soon", "24", "-1h", "3w"])
def test_a_malformed_delay_is_refused(app, db, photos, delay):
    result = clean(app, "--older-than", delay)
    assert result.exit_code == 2 and "is not a delay like 30m, 24h or 7d" in result.output
    assert len(remaining(db)) == 4


def test_a_delay_past_what_a_date_holds_is_refused(app, db, photos):
    result = clean(app, "--older-than", "99999999999h")
    assert result.exit_code == 2 and "longer than a delay can be" in result.output
    assert len(remaining(db)) == 4


def test_no_delay_is_a_delay_of_its_own(app, db, photos, monkeypatch):
    """0m removes every orphan now, rather than falling back to the configured delay."""
    monkeypatch.setitem(app.config, "PHOTO_ORPHAN_HOURS", 24 * 365)
    result = clean(app, "--older-than", "0m", "--dry-run")
    assert result.exit_code == 0 and "would remove 3 photo(s)" in result.output, result.output


def test_files_no_photo_names_are_swept_on_request(app, db, photos):
    """A failed upload can leave its renditions written without a row: --files removes them."""
    storage = app.extensions["photo_storage"]
    stray = content_key("0" * 64)
    storage.put(stray, b"left by an upload whose transaction failed", "image/jpeg")
    named = {
        content_key(sha)
        for row in db("SELECT full_sha256, large_sha256, thumbnail_sha256 FROM photos")
        for sha in row
    }

    result = clean(app, "--older-than", "7d", "--dry-run", "--files")
    assert "would remove" in result.output and stray in stored_keys(app)
    assert clean(app, "--older-than", "7d").exit_code == 0
    assert stray in stored_keys(app)  # not without --files: listing a store can be costly
    result = clean(app, "--older-than", "7d", "--files")
    assert result.exit_code == 0 and "stray file(s)" in result.output
    # Files of earlier tests' rolled-back uploads go too; every file a photo names stays.
    assert stored_keys(app) == named
