"""Who may upload, see, attach and delete photos."""

from tests import images
from tests.helpers import feature, pin
from tests.images import upload, uploaded


def test_uploading_needs_an_account(client, db):
    response = upload(client, images.plain_photo())
    assert response.status_code == 401
    assert db("SELECT count(*) FROM photos").scalar_one() == 0


def test_a_loose_upload_is_seen_only_by_its_uploader_and_moderators(as_user, moderator, client):
    uploader = as_user()
    photo = uploaded(uploader, images.plain_photo())
    url = f"/api/v1/photos/{photo['id']}"
    assert uploader.get(url).status_code == 200
    assert moderator.get(url).status_code == 200
    assert client.get(url).status_code == 404
    assert as_user().get(f"{url}/thumbnail").status_code == 404


def test_photos_of_a_pending_pin_follow_the_pin(as_user, moderator, client):
    author = as_user()
    device = pin(author)
    photo = uploaded(author, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    assert client.get(f"/api/v1/photos/{photo['id']}").status_code == 404
    moderator.post(f"/api/v1/devices/{device['id']}/review", json={"decision": "approve"})
    assert client.get(f"/api/v1/photos/{photo['id']}").status_code == 200


def test_only_your_own_uploads_can_be_attached(as_user, moderator, db):
    photo = uploaded(as_user(), images.plain_photo())
    other = as_user()
    response = other.post(
        "/api/v1/devices?force=true", json={**feature(), "photo_ids": [photo["id"]]}
    )
    # Someone else's upload on no device yet is no photo to others, as GET says: not a 403
    # that would tell it exists.
    assert other.get(f"/api/v1/photos/{photo['id']}").status_code == 404
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "photo_ids"
    assert f"No uploaded photo has the id {photo['id']}" in response.get_json()["detail"]
    assert db("SELECT count(*) FROM devices").scalar_one() == 0
    assert db("SELECT device_id FROM photos").scalar_one() is None
    # A moderator may attach anyone's upload.
    assert (
        moderator.post(
            "/api/v1/devices?force=true", json={**feature(), "photo_ids": [photo["id"]]}
        ).status_code
        == 201
    )


def test_a_photo_hidden_from_a_contributor_is_an_unknown_id_to_attach(as_user, moderator, db):
    """A photo on another contributor's pin awaiting review, or awaiting review itself on a
    public pin: GET says 404 to others, and attaching it says no more than that."""
    author = as_user()
    on_pending_pin = uploaded(
        author, images.plain_photo(), url=f"/api/v1/devices/{pin(author)['id']}/photos"
    )
    on_public_pin = uploaded(
        as_user(), images.plain_photo(), url=f"/api/v1/devices/{pin(moderator)['id']}/photos"
    )
    other = as_user()
    for photo in (on_pending_pin, on_public_pin):
        assert other.get(f"/api/v1/photos/{photo['id']}").status_code == 404
        response = other.post(
            "/api/v1/devices?force=true", json={**feature(2.3, 48.8), "photo_ids": [photo["id"]]}
        )
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["errors"][0]["field"] == "photo_ids"
    assert db("SELECT count(*) FROM devices").scalar_one() == 2


def test_only_the_uploader_or_a_moderator_deletes(as_user, moderator, db):
    device = pin(moderator)
    uploader = as_user("moderator")  # published at once: others see it, and may not delete it
    photo = uploaded(uploader, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    url = f"/api/v1/photos/{photo['id']}"
    assert as_user().delete(url).status_code == 403
    assert db("SELECT count(*) FROM photos").scalar_one() == 1
    assert uploader.delete(url).status_code == 204
    assert db("SELECT count(*) FROM photos").scalar_one() == 0


def test_photos_not_yet_public_are_kept_by_no_cache(as_user, moderator):
    author = as_user()
    device = pin(author)
    photo = uploaded(author, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    url = f"/api/v1/photos/{photo['id']}/thumbnail"
    assert author.get(url).headers["Cache-Control"] == "no-store"  # not even by the browser
    moderator.post(f"/api/v1/devices/{device['id']}/review", json={"decision": "approve"})
    shared = author.get(url)
    assert shared.headers["Cache-Control"] == (
        "public, max-age=86400, s-maxage=60, stale-while-revalidate=60"
    )
    # Purged with its device (deleted, or pending again) by a cache in front.
    assert shared.headers["Surrogate-Key"] == f"vigie photo/{photo['id']} device/{device['id']}"


def test_a_new_contributors_photo_of_a_public_pin_waits_for_a_moderator(as_user, moderator, client):
    """Registering must not be enough to put an image on the map (service/visibility.py)."""
    device = pin(moderator)
    device_url = f"/api/v1/devices/{device['id']}"
    uploader = as_user()
    photo = uploaded(uploader, images.plain_photo(), url=f"{device_url}/photos")
    assert photo["review_status"] == "pending"
    url = f"/api/v1/photos/{photo['id']}"
    assert client.get(url).status_code == 404
    assert as_user().get(f"{url}/thumbnail").status_code == 404
    assert uploader.get(f"{url}/thumbnail").headers["Cache-Control"] == "no-store"
    assert client.get(device_url).get_json()["properties"]["photos"] == []
    queue = moderator.get("/api/v1/moderation/queue").get_json()["photos"]
    assert [(p["id"], p["device_id"], p["kind"]) for p in queue] == [
        (photo["id"], device["id"], "camera")
    ]
    assert moderator.get(queue[0]["thumbnail"].removeprefix("http://localhost")).status_code == 200
    etag = client.get(device_url).headers["ETag"]

    approved = moderator.post(f"{url}/review", json={"decision": "approve"})
    assert approved.status_code == 200 and approved.get_json()["review_status"] == "approved"
    assert client.get(url).status_code == 200
    listed = client.get(device_url)
    assert [p["id"] for p in listed.get_json()["properties"]["photos"]] == [photo["id"]]
    assert listed.headers["ETag"] != etag  # its Feature changed
    assert moderator.get("/api/v1/moderation/queue").get_json()["photos"] == []
    again = moderator.post(f"{url}/review", json={"decision": "approve"})
    assert again.status_code == 409 and again.get_json()["errors"][0]["field"] == "photo_id"


def test_a_rejected_photo_is_deleted_and_only_moderators_decide(as_user, moderator, db):
    device = pin(moderator)
    uploader = as_user()
    photo = uploaded(uploader, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    url = f"/api/v1/photos/{photo['id']}"
    assert uploader.post(f"{url}/review", json={"decision": "approve"}).status_code == 403
    assert moderator.post(f"{url}/review", json={"decision": "maybe"}).status_code == 422
    assert moderator.post(f"{url}/review", json={"decision": "reject"}).status_code == 204
    assert db("SELECT count(*) FROM photos").scalar_one() == 0
    assert uploader.get(url).status_code == 404


def test_a_photo_awaiting_review_changes_nothing_others_can_see(as_user, moderator, client, db):
    """Neither its arrival nor its removal: a reader polling the device (its ETag, the sync
    feed) would learn when a new contributor stood before the camera."""
    device = pin(moderator)
    url = f"/api/v1/devices/{device['id']}"
    # Someone saw it today: the uploader's vote below changes neither its level nor that day.
    assert (
        as_user().post(f"{url}/confirmations", json={"verdict": "still_there"}).status_code == 201
    )

    def seen() -> tuple:
        # Its row itself: any write would move it (and stamp it anew for the sync feed).
        row = db("SELECT ctid::text FROM devices WHERE id = :id", id=device["id"]).scalar()
        response = client.get(url)
        return response.headers["ETag"], response.get_json(), row

    before = seen()
    uploader = as_user()
    photo = uploaded(uploader, images.plain_photo(), url=f"{url}/photos")
    evidence = uploaded(uploader, images.plain_photo(colour="red"))
    vote = {"verdict": "wrong_details", "photo_id": evidence["id"]}
    assert uploader.post(f"{url}/confirmations", json=vote).status_code == 201
    assert uploader.delete(f"/api/v1/photos/{photo['id']}").status_code == 204
    assert seen() == before


def test_a_photo_listed_with_a_vote_changes_the_device_whatever_the_vote(
    as_user, moderator, client
):
    """A trusted contributor's evidence is listed at once: a new ETag (and sync stamp), even
    when the vote changes neither the level nor the day of the last confirmation."""
    device = pin(moderator)
    url = f"/api/v1/devices/{device['id']}"
    uploaded(moderator, images.plain_photo(colour="blue"), url=f"{url}/photos")
    assert (
        as_user().post(f"{url}/confirmations", json={"verdict": "still_there"}).status_code == 201
    )
    etag = client.get(url).headers["ETag"]
    voter = as_user("moderator")
    photo = uploaded(voter, images.plain_photo(colour="red"))
    vote = {"verdict": "still_there", "photo_id": photo["id"]}
    assert voter.post(f"{url}/confirmations", json=vote).status_code == 201
    after = client.get(url)
    assert len(after.get_json()["properties"]["photos"]) == 2
    assert after.headers["ETag"] != etag


def test_a_photo_approved_late_is_listed_after_those_listed_before(as_user, moderator, client):
    """Listed by upload time, it would land among the others by when it was taken."""
    device = pin(moderator)
    url = f"/api/v1/devices/{device['id']}"
    late = uploaded(as_user(), images.plain_photo(colour="red"), url=f"{url}/photos")
    early = uploaded(moderator, images.plain_photo(colour="blue"), url=f"{url}/photos")
    review = {"decision": "approve"}
    assert moderator.post(f"/api/v1/photos/{late['id']}/review", json=review).status_code == 200
    listed = client.get(url).get_json()["properties"]["photos"]
    assert [p["id"] for p in listed] == [early["id"], late["id"]]
