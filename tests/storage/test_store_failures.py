"""A photo store that is full or out of reach: a clear 507 or 503, nothing half stored."""

import errno
import socket

import boto3
import pytest

from service import create_app
from service.config import Config
from service.errors import ServiceUnavailable
from service.storage import local
from service.storage.s3 import S3Storage
from tests import images
from tests.helpers import PROBLEM


def count_photos(db) -> int:
    return db("SELECT count(*) FROM photos").scalar_one()


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (errno.ENOSPC, 507),
        (errno.EDQUOT, 507),
        (errno.EIO, 503),
        (errno.EACCES, 503),
        (errno.EROFS, 503),
    ],
)
def test_a_failing_disk_refuses_the_upload_and_keeps_nothing(
    app, moderator, db, monkeypatch, failure, status
):
    store = app.extensions["photo_storage"]
    before = set(store.keys())

    def fail(*_args, **_kwargs):
        raise OSError(failure, "the disk failed")

    monkeypatch.setattr(local.tempfile, "mkstemp", fail)
    photo = images.plain_photo(colour=(failure, status % 256, 3))  # an image not stored yet
    response = images.upload(moderator, photo)
    assert response.status_code == status and response.mimetype == PROBLEM
    if status == 503:
        # A store that refuses writes waits for its operators, and says so.
        refused = failure in (errno.EACCES, errno.EROFS)
        assert int(response.headers["Retry-After"]) == (600 if refused else 5)
        assert ("operators must fix" in response.get_json()["detail"]) is refused
    assert count_photos(db) == 0
    assert set(store.keys()) == before
    monkeypatch.undo()
    assert images.upload(moderator, photo).status_code == 201  # the store is back


def upload_to_a_store_that_fails(database_url, make_user, **store) -> None:
    """An upload to an app whose photo store (STORE settings) cannot keep it: a 503."""
    app = create_app(
        Config(DATABASE_URL=database_url, TESTING=True, RATELIMIT_ENABLED=False, **store)
    )
    _user, token = make_user("moderator")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = images.upload(client, images.plain_photo())
    assert response.status_code == 503 and response.mimetype == PROBLEM
    assert "photo store" in response.get_json()["detail"]
    app.extensions["engine"].dispose()


def test_an_object_store_out_of_reach_is_a_503(database_url, make_user):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    upload_to_a_store_that_fails(
        database_url,
        make_user,
        S3_BUCKET="vigie-photos",
        S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        S3_REGION="us-east-1",
    )


def test_a_photo_folder_that_cannot_be_made_is_a_503(database_url, make_user):
    """MEDIA_ROOT where no folder can be made (here under /proc): not a 500."""
    upload_to_a_store_that_fails(database_url, make_user, MEDIA_ROOT="/proc/vigie-media")


def test_an_object_store_without_credentials_cannot_sign_a_link_a_503(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to look for
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # credentials another test resolved
    store = S3Storage("vigie-photos", region="us-east-1", presign_seconds=60)
    with pytest.raises(ServiceUnavailable, match="photo store"):
        store.redirect_url("0" * 64 + ".jpg")
