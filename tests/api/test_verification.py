"""Verification levels computed from sequences of confirmations."""

import uuid

from tests import images
from tests.conftest import TEST_PASSWORD
from tests.helpers import pin
from tests.images import upload, uploaded


def vote(client, device_id, verdict, **said):
    body = {"verdict": verdict, **said}
    return client.post(f"/api/v1/devices/{device_id}/confirmations", json=body)


def level(client, device_id):
    return client.get(f"/api/v1/devices/{device_id}").get_json()["properties"]["verification"]


def test_one_source_is_reported_two_are_confirmed(moderator, as_user, client):
    device = pin(moderator)
    assert level(client, device["id"]) == "reported"
    response = vote(as_user(), device["id"], "still_there")
    assert response.status_code == 201
    assert response.get_json()["verification"] == "confirmed"
    assert response.get_json()["created_at"].endswith("T00:00:00+00:00")  # a day, as every time
    props = client.get(f"/api/v1/devices/{device['id']}").get_json()["properties"]
    assert props["verification"] == "confirmed" and props["last_confirmed_at"]


def test_a_vote_that_changes_the_feature_changes_its_etag(moderator, as_user, client):
    device = pin(moderator)
    url = f"/api/v1/devices/{device['id']}"
    etag = client.get(url).headers["ETag"]
    vote(as_user(), device["id"], "not_found")
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["properties"]["verification"] == "disputed"
    # A vote that changes nothing the Feature shows keeps it.
    vote(as_user(), device["id"], "not_found")
    assert client.get(url, headers={"If-None-Match": changed.headers["ETag"]}).status_code == 304


def test_the_author_confirming_their_own_pin_is_not_independent(moderator, client):
    device = pin(moderator)
    vote(moderator, device["id"], "still_there")
    assert level(client, device["id"]) == "reported"


def test_not_found_disputes_and_three_trusted_remove(moderator, as_user, client):
    device = pin(moderator)
    vote(as_user(), device["id"], "still_there")
    vote(as_user("moderator"), device["id"], "not_found")
    assert level(client, device["id"]) == "disputed"
    vote(as_user("moderator"), device["id"], "not_found")
    assert level(client, device["id"]) == "disputed"
    vote(as_user("moderator"), device["id"], "not_found")
    assert level(client, device["id"]) == "removed"


def test_the_authors_own_sighting_settles_no_one_elses_not_found(moderator, as_user, client):
    """Three trusted contributors found it gone: its author saying it is still there (again
    and again) keeps it on the map no more than it confirms it; another contributor does."""
    author = as_user("moderator")
    device = pin(author)
    for _ in range(2):
        vote(as_user("moderator"), device["id"], "not_found")
    assert vote(author, device["id"], "still_there").status_code == 201
    assert level(client, device["id"]) == "disputed"
    vote(as_user("moderator"), device["id"], "not_found")
    assert level(client, device["id"]) == "removed"
    vote(as_user(), device["id"], "still_there")  # seen by someone else: settled
    assert level(client, device["id"]) == "confirmed"


def test_new_accounts_dispute_but_never_remove(app, moderator, as_user, client, monkeypatch):
    """Three accounts registered a minute ago only dispute a device; votes of contributors
    trusted by their approved pins remove it."""
    monkeypatch.setitem(app.config, "TRUSTED_AFTER_APPROVED_PINS", 1)
    device = pin(moderator)
    for _ in range(4):
        vote(as_user(), device["id"], "not_found")
    assert level(client, device["id"]) == "disputed"
    for _ in range(3):
        voter = as_user()
        approved = pin(voter, 3.0 + len(voter.user.username) / 1e4, 45.0)
        review = f"/api/v1/devices/{approved['id']}/review"
        assert moderator.post(review, json={"decision": "approve"}).status_code == 200
        vote(voter, device["id"], "not_found")
    assert level(client, device["id"]) == "removed"


def test_time_alone_settles_a_dispute(app, moderator, as_user, client, db):
    """A level is recomputed when a vote comes; `flask community expire-disputes` (daily)
    settles the disputes whose votes are all older than 90 days."""
    old, recent = pin(moderator), pin(moderator, 2.36, 48.86)
    for device in (old, recent):
        vote(as_user(), device["id"], "not_found")
    db(
        "UPDATE confirmations SET created_at = now() - interval '91 days' WHERE device_id = :id",
        id=old["id"],
    )
    result = app.test_cli_runner().invoke(args=["community", "expire-disputes"])
    assert result.exit_code == 0 and "1 disputes settled" in result.output
    assert level(client, old["id"]) == "reported"
    assert level(client, recent["id"]) == "disputed"


def test_a_later_sighting_settles_a_dispute(moderator, as_user, client, db):
    device = pin(moderator)
    vote(as_user(), device["id"], "not_found")
    db("UPDATE confirmations SET created_at = now() - interval '2 days'")
    later = vote(as_user(), device["id"], "wrong_details", comment="a dome, not a fixed camera")
    assert later.get_json()["verification"] == "confirmed"


def test_wrong_details_that_say_nothing_of_what_is_wrong_are_refused(moderator, as_user, db):
    """They would tell moderators nothing, yet count as a sighting: a comment, or a photo,
    says what is wrong."""
    device = pin(moderator)
    voter = as_user()
    refused = vote(voter, device["id"], "wrong_details")
    assert refused.status_code == 422
    [error] = refused.get_json()["errors"]
    assert error["field"] == "comment" and "what is wrong" in error["message"]
    assert db("SELECT count(*) FROM confirmations").scalar() == 0
    assert db("SELECT verification FROM devices").scalar() == "reported"
    assert (
        vote(voter, device["id"], "wrong_details", comment="it films the bus stop").status_code
        == 201
    )


def test_one_vote_per_user_per_device_every_30_days(moderator, as_user, db):
    device = pin(moderator)
    voter = as_user()
    assert vote(voter, device["id"], "still_there").status_code == 201
    again = vote(voter, device["id"], "not_found")
    assert again.status_code == 409
    assert again.get_json()["errors"][0]["field"] == "verdict"
    # The days, for a client to say them in its own language.
    first, then = db(
        "SELECT to_char(created_at, 'YYYY-MM-DD'), to_char(created_at + interval '30 days',"
        " 'YYYY-MM-DD') FROM confirmations"
    ).one()
    assert again.get_json()["voted_on"] == first
    assert again.get_json()["vote_again_on"] == then
    assert db("SELECT count(*) FROM confirmations").scalar_one() == 1
    db("UPDATE confirmations SET created_at = now() - interval '31 days'")
    assert vote(voter, device["id"], "not_found").status_code == 201


def test_moderator_approval_with_a_photo_confirms(as_user, moderator, client):
    author = as_user()
    device = pin(author)
    upload(author, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    moderator.post(f"/api/v1/devices/{device['id']}/review", json={"decision": "approve"})
    assert level(client, device["id"]) == "confirmed"


def test_a_vote_may_carry_a_photo_as_evidence(moderator, as_user, client):
    """A new contributor's photo waits for a moderator before it is listed with the device
    (tests/api/test_photo_access.py); a moderator's is listed at once."""
    device = pin(moderator)
    listed = lambda: [  # noqa: E731
        p["id"]
        for p in client.get(f"/api/v1/devices/{device['id']}").get_json()["properties"]["photos"]
    ]
    for voter, approved in ((as_user(), False), (as_user("moderator"), True)):
        photo = uploaded(voter, images.plain_photo(colour=(1, 2, 3) if approved else "red"))
        response = voter.post(
            f"/api/v1/devices/{device['id']}/confirmations",
            json={"verdict": "still_there", "photo_id": photo["id"]},
        )
        assert response.status_code == 201
        assert (photo["id"] in listed()) is approved
        status = voter.get(f"/api/v1/photos/{photo['id']}").get_json()["review_status"]
        assert status == ("approved" if approved else "pending")


def test_a_blank_comment_is_refused_and_no_vote_is_counted(moderator, as_user, db):
    device = pin(moderator)
    for comment in ("   ", "\u200b\u2060"):
        response = as_user().post(
            f"/api/v1/devices/{device['id']}/confirmations",
            json={"verdict": "not_found", "comment": comment},
        )
        assert response.status_code == 422
        assert response.get_json()["errors"][0]["field"] == "comment"
    assert db("SELECT count(*) FROM confirmations").scalar_one() == 0


def test_someone_elses_upload_cannot_be_used_as_evidence(moderator, as_user, db):
    device = pin(moderator)
    photo = uploaded(as_user(), images.plain_photo())
    response = as_user().post(
        f"/api/v1/devices/{device['id']}/confirmations",
        json={"verdict": "still_there", "photo_id": photo["id"]},
    )
    # Refused as an id unknown to this voter is: not a 403 that would tell it exists.
    assert response.status_code == 422
    error = response.get_json()["errors"][0]  # the member the vote gave, not the edits' name
    assert (error["field"], error["location"]) == ("photo_id", "json")
    assert db("SELECT count(*) FROM confirmations").scalar_one() == 0
    assert db("SELECT device_id FROM photos").scalar_one() is None
    unknown_id = str(uuid.uuid4())
    unknown = as_user().post(
        f"/api/v1/devices/{device['id']}/confirmations",
        json={"verdict": "still_there", "photo_id": unknown_id},
    )
    assert unknown.status_code == 422 and unknown.get_json()["errors"][0]["field"] == "photo_id"
    said = response.get_json()["detail"].replace(photo["id"], "ID")
    assert said == unknown.get_json()["detail"].replace(unknown_id, "ID")


def test_listing_filters_on_verification(moderator, as_user, client):
    confirmed = pin(moderator, 2.35, 48.85)
    reported = pin(moderator, 2.36, 48.85)
    vote(as_user(), confirmed["id"], "still_there")
    body = client.get("/api/v1/devices?verification=confirmed").get_json()
    assert [f["id"] for f in body["features"]] == [confirmed["id"]]
    body = client.get("/api/v1/devices?verification=reported").get_json()
    assert [f["id"] for f in body["features"]] == [reported["id"]]


def test_bad_votes_are_refused(moderator, as_user, client, db):
    device = pin(moderator)
    voter = as_user()
    assert vote(voter, device["id"], "maybe").status_code == 422
    assert (
        client.post(
            f"/api/v1/devices/{device['id']}/confirmations", json={"verdict": "still_there"}
        ).status_code
        == 401
    )
    assert db("SELECT count(*) FROM confirmations").scalar_one() == 0


def delete_account(client):
    assert client.delete("/api/v1/me", json={"password": TEST_PASSWORD}).status_code == 204


def test_votes_of_deleted_accounts_each_count_and_never_as_the_authors(moderator, as_user, client):
    """Their votes stay, under no account: a sighting by someone else still settles earlier
    "gone" votes once both its voter and the pin's author deleted their accounts."""
    author = as_user("moderator")
    device = pin(author)
    for _ in range(3):
        vote(as_user("moderator"), device["id"], "not_found")
    assert level(client, device["id"]) == "removed"
    seer = as_user()
    vote(seer, device["id"], "still_there")
    assert level(client, device["id"]) == "confirmed"
    delete_account(seer)
    assert level(client, device["id"]) == "confirmed"  # the sighting stays someone else's
    vote(as_user(), device["id"], "not_found")
    assert level(client, device["id"]) == "disputed"  # not removed by one untrusted vote


def test_a_deleted_voters_gone_vote_weighs_as_an_untrusted_one_at_once(moderator, as_user, client):
    """Its level follows the votes as stored when the account goes, not whether a later
    vote happens to recompute it: a deleted account is no trusted one any more."""
    device = pin(moderator)
    voters = [as_user("moderator") for _ in range(3)]
    for voter in voters:
        vote(voter, device["id"], "not_found")
    assert level(client, device["id"]) == "removed"
    delete_account(voters[0])
    assert level(client, device["id"]) == "disputed"
    vote(as_user("moderator"), device["id"], "not_found")  # a third trusted "gone" again
    assert level(client, device["id"]) == "removed"
