"""Upload, read, attach and delete photos: the contract a phone app sees, on both backends."""

import contextlib
import hashlib
import io
import os
import tempfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from service import create_app
from service.api.photos import routes as photo_routes
from service.config import Config
from service.errors import ServiceUnavailable
from service.storage import S3Storage
from tests import images
from tests.conftest import storage_settings
from tests.helpers import GEOJSON, PROBLEM, assert_a_problem_of_the_contract, feature, new_id, pin
from tests.images import fetch, upload, uploaded
from tests.photos.test_processing import assert_no_metadata


@pytest.fixture(scope="module", params=["local", "s3"])
def app(request, database_url, tmp_path_factory):
    """The application on each storage backend (S3: a real S3 server on loopback)."""
    settings = storage_settings(request.param, tmp_path_factory, request)
    app = create_app(
        Config(DATABASE_URL=database_url, TESTING=True, RATELIMIT_ENABLED=False, **settings)
    )
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def client(moderator):
    """Photos are sent by an account; a moderator's pins are published directly."""
    return moderator


@pytest.fixture
def stored_keys(app):
    def keys():
        return set(app.extensions["photo_storage"].keys())

    return keys


def count_photos(db) -> int:
    return db("SELECT count(*) FROM photos").scalar_one()


class TestUpload:
    @pytest.mark.parametrize("fmt", images.FORMATS)
    def test_served_images_carry_no_metadata_and_stand_upright(self, client, fmt):
        body = uploaded(
            client,
            images.leaky_photo(fmt),
            filename=f"IMG_0001.{images.EXTENSIONS[fmt]}",
            mimetype=images.MEDIA_TYPES[fmt],
        )
        assert (body["width"], body["height"]) == (200, 600)
        for rendition in ("full", "large", "thumbnail"):
            _, data = fetch(client, body[rendition])
            assert_no_metadata(data)

    def test_response_suggests_the_originals_gps_and_time(self, client, db):
        response = upload(client, images.leaky_photo("HEIF"), filename="IMG_0002.HEIC")
        assert response.status_code == 201
        body = response.get_json()
        assert response.headers["Location"].endswith(f"/api/v1/photos/{body['id']}")
        assert body["device_id"] is None
        location = body["suggested_location"]
        assert location["type"] == "Point"
        assert location["coordinates"] == pytest.approx([images.LON_DEG, images.LAT_DEG], abs=1e-6)
        assert body["accuracy_m"] == images.ACCURACY_M
        assert body["taken_at"].startswith(images.TAKEN_UTC)
        # The suggestion is returned, never kept.
        row = db("SELECT * FROM photos WHERE id = :id", id=body["id"]).mappings().one()
        assert set(row) == {
            "id",
            "device_id",
            "uploaded_by",
            "full_sha256",
            "large_sha256",
            "thumbnail_sha256",
            "width",
            "height",
            "created_at",
            "review_status",
            "listed_at",
        }

    def test_a_photo_without_gps_suggests_nothing(self, client):
        body = uploaded(client, images.plain_photo())
        assert (body["suggested_location"], body["accuracy_m"], body["taken_at"]) == (None,) * 3

    def test_the_original_is_not_stored_only_three_renditions(self, client, stored_keys, db):
        before = stored_keys()
        original = images.leaky_photo("JPEG", size=(900, 300))
        body = uploaded(client, original)
        added = stored_keys() - before
        hashes = db(
            "SELECT full_sha256, large_sha256, thumbnail_sha256 FROM photos WHERE id = :id",
            id=body["id"],
        ).one()
        assert added == {f"{sha}.jpg" for sha in hashes}
        assert hashlib.sha256(original).hexdigest() + ".jpg" not in stored_keys()

    def test_the_client_filename_is_never_a_path(self, client, stored_keys, app):
        before = stored_keys()
        uploaded(client, images.plain_photo(colour=(1, 2, 3)), filename="../../../etc/cron.d/x")
        added = stored_keys() - before
        assert len(added) == 3
        assert all(len(key) == 68 and key.endswith(".jpg") for key in added)
        if app.config.get("MEDIA_ROOT") and not app.config.get("S3_BUCKET"):
            root = Path(app.config["MEDIA_ROOT"])
            assert not (root.parent / "etc").exists()

    def test_the_same_image_from_two_contributors_is_stored_once(
        self, client, as_user, stored_keys, db
    ):
        data = images.plain_photo(colour=(200, 100, 50))
        first = uploaded(client, data)
        keys_after_first = stored_keys()
        second = uploaded(as_user(), data)
        assert first["id"] != second["id"]
        assert stored_keys() == keys_after_first
        assert db("SELECT count(DISTINCT full_sha256) FROM photos").scalar_one() == 1

    def test_an_upload_sent_again_gives_the_photo_not_yet_attached(self, client, db):
        """A retry whose answer was lost, or a double tap, makes no second, orphan photo."""
        data = images.plain_photo(colour=(10, 200, 50))
        first = images.upload(client, data)
        again = images.upload(client, data)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.get_json()["id"] == first.get_json()["id"]
        assert count_photos(db) == 1
        attach = feature() | {"photo_ids": [first.get_json()["id"]]}
        assert client.post("/api/v1/devices", json=attach).status_code == 201
        # Once attached, the same image is another photo.
        assert images.upload(client, data).status_code == 201
        assert count_photos(db) == 2

    def test_the_same_image_sent_twice_at_once_is_one_photo(
        self, app, committed, as_user, monkeypatch
    ):
        """A retry sent while the first upload still runs: the second waits for the first and
        gets its photo, rather than both finding none and saving two orphans."""
        token = as_user().environ_base["HTTP_AUTHORIZATION"]
        both_saving = threading.Barrier(2)
        save_photo = photo_routes.save_photo

        def save_once_both_are_here(*args, **kwargs):
            with contextlib.suppress(threading.BrokenBarrierError):
                both_saving.wait(timeout=3)  # both get here when nothing makes one wait
            return save_photo(*args, **kwargs)

        monkeypatch.setattr(photo_routes, "save_photo", save_once_both_are_here)
        data = images.plain_photo(colour=(30, 60, 90))
        statuses = []

        def send():
            client = app.test_client()
            client.environ_base["HTTP_AUTHORIZATION"] = token
            statuses.append(upload(client, data).status_code)

        senders = [threading.Thread(target=send) for _ in range(2)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=60)
        assert sorted(statuses) == [200, 201]
        with committed.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM photos")).scalar_one() == 1


class TestServing:
    def test_images_have_a_strong_etag_and_are_revalidated_daily(self, app, client, monkeypatch):
        """Not cached for a year as immutable: a photo deleted, or whose pin went back to
        review, stops showing from browsers' caches within PHOTO_MAX_AGE."""
        storage = app.extensions["photo_storage"]
        if isinstance(storage, S3Storage):  # without presigned URLs the API streams the object
            monkeypatch.setattr(storage, "presign_seconds", 0)
        device = pin(client)  # a photo of a public pin: shared caches may keep it
        body = uploaded(
            client,
            images.plain_photo(colour=(9, 99, 199)),
            url=f"/api/v1/devices/{device['id']}/photos",
        )
        response = client.get(body["thumbnail"])
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        assert response.headers["ETag"] == f'"{hashlib.sha256(response.data).hexdigest()}"'
        assert response.headers["Cache-Control"] == (
            "public, max-age=86400, s-maxage=60, stale-while-revalidate=60"
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        monkeypatch.setitem(app.config, "PHOTO_MAX_AGE", 600)
        assert client.get(body["large"]).headers["Cache-Control"].startswith("public, max-age=600,")
        again = client.get(body["thumbnail"], headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == response.headers["ETag"]
        # If-None-Match compares weakly (RFC 9110): a cache may send the tag as weak.
        weak = {"If-None-Match": "W/" + response.headers["ETag"]}
        assert client.get(body["thumbnail"], headers=weak).status_code == 304

    def test_a_file_missing_from_the_store_is_a_404_not_a_500(self, app, client, monkeypatch):
        """A node whose store lacks the file (a store of its own, a restore without photos)."""
        storage = app.extensions["photo_storage"]
        if isinstance(storage, S3Storage):
            monkeypatch.setattr(storage, "presign_seconds", 0)
        body = uploaded(client, images.plain_photo(colour=(5, 95, 195)))

        def missing(key):
            raise FileNotFoundError(key)

        monkeypatch.setattr(storage, "read", missing)
        response = client.get(body["large"])
        assert_refused(response, 404, "rendition")
        assert "missing from the photo store" in response.get_json()["detail"]

    def test_s3_serves_through_short_lived_presigned_redirects(self, app, client):
        body = uploaded(client, images.plain_photo(colour=(19, 99, 199)))
        response, data = fetch(client, body["full"])
        if not isinstance(app.extensions["photo_storage"], S3Storage):
            assert response.status_code == 200  # the local backend always streams
            return
        assert response.status_code == 302
        assert response.headers["Location"].startswith(app.config["S3_ENDPOINT_URL"])
        assert "X-Amz-Signature=" in response.headers["Location"]
        # Not public yet (on no device): the redirect is kept nowhere either.
        assert response.headers["Cache-Control"] == "no-store"
        assert data[:2] == b"\xff\xd8"

    def test_metadata(self, client):
        body = uploaded(client, images.plain_photo(size=(400, 300)))
        response = client.get(f"/api/v1/photos/{body['id']}")
        assert response.status_code == 200
        meta = response.get_json()
        assert {k: meta[k] for k in ("id", "device_id", "width", "height")} == {
            "id": body["id"],
            "device_id": None,
            "width": 400,
            "height": 300,
        }
        assert meta["full"].endswith(f"/api/v1/photos/{body['id']}/full")
        assert meta["thumbnail"].startswith("http://localhost/")

    @pytest.mark.parametrize("path", ["", "/full", "/thumbnail"])
    def test_unknown_photo_is_404(self, client, path):
        response = client.get(f"/api/v1/photos/{new_id()}{path}")
        assert response.status_code == 404 and response.mimetype == PROBLEM

    def test_unknown_rendition_is_404(self, client):
        body = uploaded(client, images.plain_photo())
        assert client.get(f"/api/v1/photos/{body['id']}/original").status_code == 404


def assert_refused(response, status: int, field: str):
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["status"] == status
    assert problem["errors"][0]["field"] == field
    assert_a_problem_of_the_contract(problem)


@pytest.fixture
def spy_tempdir(monkeypatch, tmp_path):
    """Route every temporary file of the request into an empty folder we can inspect."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))

    def leaked():
        open_fds = [
            os.readlink(f"/proc/self/fd/{fd}")
            for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")
        ]
        return list(folder.iterdir()) + [p for p in open_fds if p.startswith(str(folder))]

    return leaked


class TestRefusals:
    """Each refusal: the right status and field, nothing stored, no temporary file left."""

    CASES = {
        "not-an-image": (b"just some text pretending" * 100, "photo.jpg", "image/jpeg", 415),
        "svg": (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
            "photo.svg",
            "image/svg+xml",
            415,
        ),
        "gif": (images.animated("GIF"), "photo.gif", "image/gif", 415),
        "truncated-jpeg": (
            images.plain_photo("JPEG", size=(800, 600))[:1500],
            "photo.jpg",
            "image/jpeg",
            422,
        ),
        "corrupt-png": (
            images.plain_photo("PNG")[:60] + b"\x00" * 200,
            "photo.png",
            "image/png",
            422,
        ),
        "truncated-heic": (
            images.leaky_photo("HEIF")[:1200],
            "IMG.HEIC",
            "image/heic",
            422,
        ),
        "decompression-bomb": (
            images.png_claiming(100_000, 100_000),
            "bomb.png",
            "image/png",
            422,
        ),
        "over-pixel-limit": (images.png_claiming(9_000, 9_000), "big.png", "image/png", 422),
        "animated-webp": (images.animated("WEBP"), "anim.webp", "image/webp", 422),
        "animated-png": (images.animated("PNG"), "anim.png", "image/png", 422),
        "empty": (b"", "photo.jpg", "image/jpeg", 422),
    }

    @pytest.mark.parametrize("case", CASES)
    def test_refused_upload(self, client, db, stored_keys, spy_tempdir, case):
        data, filename, mimetype, status = self.CASES[case]
        before = stored_keys()
        response = upload(client, data, filename=filename, mimetype=mimetype)
        assert_refused(response, status, "file")
        assert response.get_json()["errors"][0]["location"] == "files"
        assert stored_keys() == before
        assert count_photos(db) == 0
        assert spy_tempdir() == []

    def test_over_the_size_limit_is_413(
        self, client, app, db, stored_keys, spy_tempdir, monkeypatch
    ):
        monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 100_000)
        before = stored_keys()
        big = images.plain_photo("PNG", size=(1200, 1200)) + os.urandom(200_000)
        response = upload(client, big)
        assert_refused(response, 413, "file")
        assert response.get_json()["max_bytes"] == 100_000
        # With an Idempotency-Key (the web app always sends one) the key's fingerprint reads
        # the body first: the refusal states the photo's limit all the same.
        keyed = upload(client, big, headers={"Idempotency-Key": "over-the-limit"})
        assert_refused(keyed, 413, "file")
        assert keyed.get_json()["max_bytes"] == 100_000
        assert "100,000 bytes" in keyed.get_json()["detail"]
        assert stored_keys() == before and count_photos(db) == 0
        assert spy_tempdir() == []

    def test_a_file_just_over_the_limit_within_the_multipart_allowance_is_413(
        self, client, app, db, monkeypatch
    ):
        data = images.plain_photo("PNG", size=(300, 300))
        monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", len(data) - 1)
        assert_refused(upload(client, data), 413, "file")
        assert count_photos(db) == 0

    def test_the_json_limit_does_not_apply_to_photos(self, client, app, monkeypatch):
        monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
        uploaded(client, images.plain_photo("PNG", size=(300, 300)))

    def test_no_file_part_is_422(self, client, db):
        response = client.post(
            "/api/v1/photos", data={"photo": "nope"}, content_type="multipart/form-data"
        )
        assert_refused(response, 422, "file")
        assert count_photos(db) == 0

    @pytest.mark.parametrize("size", [1000, 700_000])
    @pytest.mark.parametrize("key", [None, "a-part-without-filename"])
    def test_an_image_part_without_a_filename_is_told_how_to_send_it(self, client, db, size, key):
        """Multipart reads a part without a filename as text: small, it was "missing"; past
        Werkzeug's 500 KB for a text field, "larger than 25 MB". Either way the 422 says how,
        under an Idempotency-Key too, whose fingerprint reads the form before the view (the
        app always sends one)."""
        image = images.plain_photo() + bytes(size)  # bytes after the image: as large as asked
        body = (
            b'--XyZ\r\nContent-Disposition: form-data; name="file"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n" + image + b"\r\n--XyZ--\r\n"
        )
        response = client.post(
            "/api/v1/photos",
            data=body,
            content_type="multipart/form-data; boundary=XyZ",
            headers={"Idempotency-Key": key} if key else {},
        )
        assert_refused(response, 422, "file")
        assert "filename" in response.get_json()["detail"]
        assert count_photos(db) == 0

    def test_thousands_of_parts_are_422_not_a_photo_too_large(self, client, db):
        parts = {f"p{n}": "x" for n in range(2000)}
        response = client.post("/api/v1/photos", data=parts, content_type="multipart/form-data")
        assert_refused(response, 422, "file")
        assert "too large" not in response.get_json()["detail"]
        assert count_photos(db) == 0

    def test_an_unknown_part_beside_the_file_is_422(self, client, db):
        response = client.post(
            "/api/v1/photos",
            data={"file": (io.BytesIO(images.plain_photo()), "p.jpg"), "caption": "x"},
            content_type="multipart/form-data",
        )
        assert_refused(response, 422, "caption")
        assert response.get_json()["errors"][0]["location"] == "form"
        assert count_photos(db) == 0

    def test_two_file_parts_are_422_not_one_kept_silently(self, client, db):
        photos = [
            (io.BytesIO(images.plain_photo(colour=c)), "p.jpg") for c in ((1, 2, 3), (4, 5, 6))
        ]
        response = client.post(
            "/api/v1/photos", data={"file": photos}, content_type="multipart/form-data"
        )
        assert_refused(response, 422, "file")
        assert count_photos(db) == 0

    def test_a_body_cut_before_its_closing_boundary_is_400_not_a_missing_file(self, client, db):
        _, whole = encode_multipart(
            {"file": FileStorage(io.BytesIO(images.plain_photo()), "p.jpg")}, boundary="cut-here"
        )
        for body in (whole[: len(whole) // 2], b"not multipart at all"):
            response = client.post(
                "/api/v1/photos", data=body, content_type="multipart/form-data; boundary=cut-here"
            )
            assert_refused(response, 400, "body")
            assert "closing boundary" in response.get_json()["detail"]
        assert count_photos(db) == 0

    def test_a_multipart_type_without_its_boundary_is_400(self, client, db):
        response = client.post(
            "/api/v1/photos", data=b"--x\r\n", content_type="multipart/form-data"
        )
        assert_refused(response, 400, "Content-Type")
        assert count_photos(db) == 0

    def test_a_raw_image_body_is_415(self, client, db):
        response = client.post(
            "/api/v1/photos", data=images.plain_photo(), content_type="image/jpeg"
        )
        assert_refused(response, 415, "Content-Type")
        assert count_photos(db) == 0


def test_photos_take_turns_to_be_decoded(app, client, db, stored_keys, monkeypatch):
    """A worker decodes PHOTO_DECODES_PER_WORKER photos at once (one by default): a few KB of
    HEIC may decode into hundreds of MB. The next one waits its turn, and past
    PHOTO_DECODE_WAIT_SECONDS gets a 503 to retry, with nothing stored."""
    turns = threading.BoundedSemaphore(1)
    monkeypatch.setitem(app.extensions, "vigie.photo_decodes", turns)
    monkeypatch.setitem(app.config, "PHOTO_DECODE_WAIT_SECONDS", 0.3)
    before = stored_keys()
    turns.acquire()  # another request's photo is being decoded
    refused = upload(client, images.plain_photo())
    assert_refused(refused, 503, "file")
    assert int(refused.headers["Retry-After"]) > 0
    assert count_photos(db) == 0 and stored_keys() == before
    threading.Timer(0.05, turns.release).start()  # that one ends while this one waits
    assert upload(client, images.plain_photo()).status_code == 201
    assert turns.acquire(blocking=False)  # and its turn was given back


def test_an_account_keeps_few_uploads_attached_to_no_device(app, client, db, monkeypatch):
    """Each loose upload takes disk until attached (or swept a day later): beyond
    PHOTO_LOOSE_MAX of them, a 429 asks to attach or delete them, and nothing is stored."""
    monkeypatch.setitem(app.config, "PHOTO_LOOSE_MAX", 2)
    first, _second = (
        uploaded(client, images.plain_photo(colour=(n, n, n)))["id"] for n in (10, 20)
    )
    refused = upload(client, images.plain_photo(colour=(30, 30, 30)))
    assert_refused(refused, 429, "file")
    assert count_photos(db) == 2
    attached = client.post("/api/v1/devices", json=feature(2.35, 48.85) | {"photo_ids": [first]})
    assert attached.status_code == 201  # one attached: room for another
    assert upload(client, images.plain_photo(colour=(30, 30, 30))).status_code == 201


def device_etag(client, url: str) -> str:
    return client.get(url).headers["ETag"]


class TestDevices:
    def test_a_device_created_with_a_photo_lists_it(self, client, db):
        photo = uploaded(client, images.leaky_photo("JPEG"))
        lon, lat = photo["suggested_location"]["coordinates"]
        body = feature(lon, lat) | {"photo_ids": [photo["id"]]}
        response = client.post("/api/v1/devices", json=body)
        assert response.status_code == 201, response.get_json()
        device = response.get_json()
        assert device["properties"]["photos"] == [
            {
                "id": photo["id"],
                "thumbnail": photo["thumbnail"],
                "large": photo["large"],
                "full": photo["full"],
                "width": 200,
                "height": 600,
            }
        ]
        stored = db("SELECT device_id FROM photos WHERE id = :id", id=photo["id"]).scalar_one()
        assert str(stored) == device["id"]
        listing = client.get("/api/v1/devices").get_json()
        assert listing["features"][0]["properties"]["photos"][0]["id"] == photo["id"]
        assert client.get(f"/api/v1/photos/{photo['id']}").get_json()["device_id"] == device["id"]

    def test_devices_without_photos_list_an_empty_array(self, client):
        assert pin(client)["properties"]["photos"] == []

    def test_a_replayed_creation_with_the_same_photos_is_safe(self, client):
        photo = uploaded(client, images.plain_photo())
        body = feature(device_id=new_id()) | {"photo_ids": [photo["id"]]}
        assert client.post("/api/v1/devices", json=body).status_code == 201
        assert client.post("/api/v1/devices", json=body).status_code == 200

    def test_an_unknown_photo_id_is_422_and_no_device_is_made(self, client, db):
        response = client.post("/api/v1/devices", json=feature() | {"photo_ids": [new_id()]})
        assert_refused(response, 422, "photo_ids")
        assert db("SELECT count(*) FROM devices").scalar_one() == 0

    def test_a_malformed_photo_id_is_422(self, client, db):
        response = client.post("/api/v1/devices", json=feature() | {"photo_ids": ["../x"]})
        assert response.status_code == 422
        assert response.get_json()["errors"][0]["field"] == "photo_ids.0"
        assert db("SELECT count(*) FROM devices").scalar_one() == 0

    def test_a_photo_of_another_device_is_a_conflict(self, client, db):
        photo = uploaded(client, images.plain_photo())
        first = client.post("/api/v1/devices", json=feature() | {"photo_ids": [photo["id"]]})
        assert first.status_code == 201
        second = client.post("/api/v1/devices", json=feature(2.0) | {"photo_ids": [photo["id"]]})
        assert_refused(second, 409, "photo_ids")
        assert db("SELECT count(*) FROM devices").scalar_one() == 1

    def test_patch_attaches_photos_and_changes_the_etag(self, client):
        device = pin(client)
        url = f"/api/v1/devices/{device['id']}"
        etag = client.get(url).headers["ETag"]
        photo = uploaded(client, images.plain_photo())
        response = client.patch(url, json={"photo_ids": [photo["id"]]}, headers={"If-Match": etag})
        assert response.status_code == 200, response.get_json()
        assert response.headers["ETag"] != etag
        assert [p["id"] for p in response.get_json()["properties"]["photos"]] == [photo["id"]]

    def test_patch_with_a_photo_of_another_device_changes_nothing(self, client, db):
        photo = uploaded(client, images.plain_photo())
        owner = client.post("/api/v1/devices", json=feature() | {"photo_ids": [photo["id"]]})
        other = pin(client, 2.0, 48.0)
        url = f"/api/v1/devices/{other['id']}"
        etag = device_etag(client, url)
        response = client.patch(
            url,
            json={"properties": {"notes": "mine now"}, "photo_ids": [photo["id"]]},
            headers={"If-Match": etag},
        )
        assert_refused(response, 409, "photo_ids")
        assert device_etag(client, url) == etag
        assert client.get(url).get_json()["properties"]["notes"] is None
        stored = db("SELECT device_id FROM photos WHERE id = :id", id=photo["id"]).scalar_one()
        assert str(stored) == owner.get_json()["id"]

    def test_upload_onto_a_device(self, client, db):
        device = pin(client)
        url = f"/api/v1/devices/{device['id']}"
        etag = client.get(url).headers["ETag"]
        response = upload(client, images.leaky_photo("WEBP"), url=f"{url}/photos")
        assert response.status_code == 201
        photo = response.get_json()
        assert photo["device_id"] == device["id"]
        assert photo["suggested_location"]["type"] == "Point"
        after = client.get(url)
        assert after.headers["ETag"] != etag
        assert [p["id"] for p in after.get_json()["properties"]["photos"]] == [photo["id"]]

    def test_upload_onto_a_device_honours_if_match(self, client, db, stored_keys, monkeypatch):
        """A stale If-Match is refused before the photo is decoded (a worker's CPU for
        nothing), and checked again once decoded, the device locked."""
        device = pin(client)
        url = f"/api/v1/devices/{device['id']}"
        client.patch(
            url,
            json={"properties": {"notes": "moved"}},
            headers={"If-Match": device_etag(client, url)},
        )
        before = stored_keys()
        stale = f'"{device["id"].replace("-", "")}.1"'

        def decoded(*_args, **_kwargs):
            raise AssertionError("decoded before the If-Match was checked")

        monkeypatch.setattr("service.api.photos.routes.process_photo", decoded)
        response = upload(
            client, images.plain_photo(), url=f"{url}/photos", headers={"If-Match": stale}
        )
        assert_refused(response, 412, "If-Match")
        assert count_photos(db) == 0 and stored_keys() == before

    def test_upload_onto_an_unknown_or_deleted_device(self, client, db, stored_keys):
        before = stored_keys()
        unknown = upload(client, images.plain_photo(), url=f"/api/v1/devices/{new_id()}/photos")
        assert unknown.status_code == 404
        device = pin(client)
        client.delete(f"/api/v1/devices/{device['id']}")
        gone = upload(client, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
        assert gone.status_code == 410
        assert count_photos(db) == 0 and stored_keys() == before

    def test_photos_of_a_deleted_device_are_served_to_their_sender_only(self, app, client, as_user):
        """Gone for everyone else, a moderator included; its sender still sees it, kept by no
        cache, to decide whether to delete it (the app lists it among their photos)."""
        device = pin(client)
        photo = upload(
            client, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos"
        ).get_json()
        assert fetch(client, photo["full"])[0].status_code in (200, 302)
        assert client.delete(f"/api/v1/devices/{device['id']}").status_code == 204
        urls = (f"/api/v1/photos/{photo['id']}", photo["full"], photo["thumbnail"])
        for other in (app.test_client(), as_user(), as_user("moderator")):
            for url in urls:
                response = other.get(url)
                assert response.status_code == 410 and response.mimetype == PROBLEM
            # A validator tells them nothing either: a 410, not a 304.
            again = other.get(photo["thumbnail"], headers={"If-None-Match": "*"})
            assert again.status_code == 410
        metadata = client.get(urls[0])
        assert metadata.get_json()["id"] == photo["id"]
        assert "public" not in metadata.headers.get("Cache-Control", "")
        for url in urls[1:]:
            response, data = fetch(client, url)
            assert response.status_code in (200, 302) and data[:2] == b"\xff\xd8"
            assert response.headers["Cache-Control"] == "no-store"


class TestDelete:
    def test_a_withdrawn_pins_photo_is_still_its_senders_to_delete(self, as_user, db, stored_keys):
        """Nothing brings a withdrawn pin back: its photo (a face caught by mistake) is still
        its sender's to take back, rows and files, not a 410 for ever."""
        author, other = as_user(), as_user()
        before = stored_keys()
        device = pin(author)
        url = f"/api/v1/devices/{device['id']}/photos"
        # A colour of its own: files no other test's photo shares.
        photo = upload(author, images.plain_photo(colour=(13, 57, 91)), url=url).get_json()
        assert author.delete(f"/api/v1/devices/{device['id']}").status_code == 204
        assert other.delete(f"/api/v1/photos/{photo['id']}").status_code == 404
        assert author.delete(f"/api/v1/photos/{photo['id']}").status_code == 204
        assert count_photos(db) == 0 and stored_keys() == before

    def test_a_photo_of_a_pin_a_moderator_withdrew_is_still_its_senders_to_delete(
        self, as_user, moderator, db, stored_keys
    ):
        """Approved, then rejected on a second look (withdrawn): the pin is no longer its
        photo's sender's to see, and the photo (a face caught by mistake) was a 404 to them."""
        sender = as_user()
        before = stored_keys()
        device = pin(moderator)
        url = f"/api/v1/devices/{device['id']}/photos"
        photo = upload(sender, images.plain_photo(colour=(14, 58, 92)), url=url).get_json()
        review = f"/api/v1/photos/{photo['id']}/review"
        assert moderator.post(review, json={"decision": "approve"}).status_code == 200
        withdraw = {"decision": "reject", "reason": "It shows a face."}
        etag = moderator.get(f"/api/v1/devices/{device['id']}").headers["ETag"]
        rejected = moderator.post(
            f"/api/v1/devices/{device['id']}/review", json=withdraw, headers={"If-Match": etag}
        )
        assert rejected.status_code == 200, rejected.get_json()
        assert sender.get(f"/api/v1/devices/{device['id']}").status_code == 404
        assert sender.get(f"/api/v1/photos/{photo['id']}").status_code == 200
        assert sender.delete(f"/api/v1/photos/{photo['id']}").status_code == 204
        assert count_photos(db) == 0 and stored_keys() == before

    def test_delete_removes_the_photo_and_its_files(self, client, db, stored_keys):
        before = stored_keys()
        photo = uploaded(client, images.plain_photo(colour=(77, 66, 55)))
        assert len(stored_keys() - before) == 3
        response = client.delete(f"/api/v1/photos/{photo['id']}")
        assert response.status_code == 204
        assert stored_keys() == before
        assert count_photos(db) == 0
        assert client.get(f"/api/v1/photos/{photo['id']}").status_code == 404
        assert client.delete(f"/api/v1/photos/{photo['id']}").status_code == 404

    def test_a_store_failing_to_remove_files_leaves_every_photo_whole(
        self, app, client, db, stored_keys, monkeypatch
    ):
        """Files go once the rows' deletion is committed: a store failing meanwhile leaves
        strays for clean-orphans, never a photo whose row stays and whose files are gone."""
        before = stored_keys()
        kept = uploaded(client, images.plain_photo(colour=(70, 60, 50)))
        photo = uploaded(client, images.plain_photo(colour=(71, 61, 51)))
        storage = app.extensions["photo_storage"]
        removed = []

        def delete_one_then_fail(key):
            if removed:
                raise ServiceUnavailable("the store is away")
            removed.append(key)
            real_delete(key)

        real_delete = storage.delete
        monkeypatch.setattr(storage, "delete", delete_one_then_fail)
        assert client.delete(f"/api/v1/photos/{photo['id']}").status_code == 204
        assert client.get(f"/api/v1/photos/{photo['id']}").status_code == 404
        assert len(stored_keys() - before) == 5  # the kept photo's 3, 2 strays of the other
        for rendition in ("thumbnail", "large", "full"):
            assert fetch(client, kept[rendition])[0].status_code in (200, 302)

    def test_files_shared_with_another_photo_stay_until_the_last_goes(
        self, client, as_user, stored_keys
    ):
        before = stored_keys()
        data = images.plain_photo(colour=(11, 22, 33))
        first, second = uploaded(client, data), uploaded(as_user(), data)
        client.delete(f"/api/v1/photos/{first['id']}")
        assert len(stored_keys() - before) == 3
        _, served = fetch(client, second["full"])
        assert served[:2] == b"\xff\xd8"
        client.delete(f"/api/v1/photos/{second['id']}")
        assert stored_keys() == before

    def test_deleting_a_devices_photo_changes_the_device(self, client):
        device = pin(client)
        url = f"/api/v1/devices/{device['id']}"
        photo = upload(client, images.plain_photo(), url=f"{url}/photos").get_json()
        etag = client.get(url).headers["ETag"]
        assert client.delete(f"/api/v1/photos/{photo['id']}").status_code == 204
        after = client.get(url)
        assert after.headers["ETag"] != etag
        assert after.get_json()["properties"]["photos"] == []
        assert after.mimetype == GEOJSON
