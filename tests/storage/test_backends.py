"""Both photo storage backends honour the same contract (S3 against a real S3 server)."""

import hashlib
import urllib.request

import pytest

from service.config import Config
from service.storage import LocalStorage, S3Storage, storage_from_config
from tests.conftest import storage_settings


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path_factory):
    settings = Config(**storage_settings(request.param, tmp_path_factory, request))
    return storage_from_config(settings.as_flask_mapping())


def jpeg_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest() + ".jpg"


DATA = b"\xff\xd8 not really a jpeg, but bytes are bytes \xff\xd9"
KEY = jpeg_key(DATA)


def test_put_read_exists_delete(storage):
    assert not storage.exists(KEY)
    storage.put(KEY, DATA, "image/jpeg")
    assert storage.exists(KEY)
    assert storage.read(KEY) == DATA
    assert list(storage.keys()) == [KEY]
    storage.delete(KEY)
    assert not storage.exists(KEY)
    assert list(storage.keys()) == []


def test_putting_the_same_content_twice_keeps_one_object(storage):
    storage.put(KEY, DATA, "image/jpeg")
    storage.put(KEY, DATA, "image/jpeg")
    assert list(storage.keys()) == [KEY]


def test_reading_an_absent_key_is_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        storage.read(KEY)


def test_deleting_an_absent_key_is_harmless(storage):
    storage.delete(KEY)
    assert list(storage.keys()) == []


@pytest.mark.parametrize(
    "bad_key", ["../../etc/passwd", "photo.jpg", KEY.upper(), KEY + "/x", "/" + KEY, ""]
)
def test_only_content_addresses_are_keys(storage, bad_key):
    with pytest.raises(ValueError):
        storage.put(bad_key, DATA, "image/jpeg")
    with pytest.raises(ValueError):
        storage.read(bad_key)
    assert list(storage.keys()) == []


def test_redirect_urls_serve_the_bytes_when_the_backend_has_them(storage):
    storage.put(KEY, DATA, "image/jpeg")
    url = storage.redirect_url(KEY)
    if isinstance(storage, LocalStorage):
        assert url is None
        return
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == DATA
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["Content-Type"] == "image/jpeg"


def test_local_files_stay_under_the_media_root(tmp_path):
    storage = LocalStorage(tmp_path / "media")
    storage.put(KEY, DATA, "image/jpeg")
    assert (tmp_path / "media" / KEY[:2] / KEY).read_bytes() == DATA
    assert sorted(p.name for p in (tmp_path / "media").rglob("*") if p.is_file()) == [KEY]


def test_s3_bucket_selects_s3_else_the_media_root(tmp_path):
    local = storage_from_config(Config(MEDIA_ROOT=str(tmp_path), S3_BUCKET=None).as_flask_mapping())
    assert isinstance(local, LocalStorage) and local.root == tmp_path
    s3 = storage_from_config(
        Config(S3_BUCKET="photos", S3_ENDPOINT_URL="http://127.0.0.1:9").as_flask_mapping()
    )
    assert isinstance(s3, S3Storage) and s3.bucket == "photos"
    assert s3.presign_seconds == 3600
    streamed = storage_from_config(
        Config(S3_BUCKET="photos", S3_PRESIGNED_URLS=False).as_flask_mapping()
    )
    assert streamed.redirect_url(KEY) is None
