"""Review of pins, trust, duplicates, merges, history and reverts."""

import math
import re
import threading

import pytest

from service.geo.devices.proximity import EARTH_RADIUS_M, area_cells, lock_area_statement
from tests import images
from tests.conftest import TEST_PASSWORD
from tests.helpers import PROBLEM, feature, pin


def north_of(lat: float, metres: float) -> float:
    """The latitude METRES north of LAT, on the sphere PostGIS measures on."""
    return lat + math.degrees(metres / EARTH_RADIUS_M)


def review(moderator, device_id, decision="approve", reason=None):
    body = {"decision": decision} | ({"reason": reason} if reason else {})
    return moderator.post(f"/api/v1/devices/{device_id}/review", json=body)


def unmerge(moderator, duplicate, kept, **json):
    """Undo the merge of DUPLICATE into KEPT (their ids)."""
    body = {"merged_into": kept} | json
    return moderator.post(f"/api/v1/devices/{duplicate}/unmerge", json=body)


def ids(response):
    return [f["id"] for f in response.get_json()["features"]]


class TestReview:
    def test_someone_elses_pending_pin_is_not_told_by_posting_its_id(self, as_user):
        author, other = as_user(), as_user()
        device = pin(author, notes="only the author and moderators see this")
        replay = {**feature(notes="only the author and moderators see this"), "id": device["id"]}
        url = "/api/v1/devices?force=true"
        for body in (replay, {**feature(), "id": device["id"]}):
            response = other.post(url, json=body)
            assert response.status_code == 409 and response.mimetype == PROBLEM
            assert "only the author" not in response.get_data(as_text=True)
            assert "different device" not in response.get_json()["detail"]
        assert author.post(url, json=replay).status_code == 200  # the author's retry still is

    def test_only_its_author_may_send_a_public_pin_again(self, as_user, moderator):
        """Compared with someone else's body, the device would answer whether a guess of what
        the public is not told (the second it was seen) is right."""
        author, other = as_user(), as_user()
        body = feature(observed_at="2026-11-30T09:41:27Z")
        device = pin(author, **body["properties"])
        assert review(moderator, device["id"]).status_code == 200
        replay = {**body, "id": device["id"]}
        url = "/api/v1/devices?force=true"
        for guess in ("2026-11-30T09:41:26Z", "2026-11-30T09:41:27Z"):
            guessed = {**replay, "properties": {**body["properties"], "observed_at": guess}}
            response = other.post(url, json=guessed)
            assert response.status_code == 409, guess
            assert response.get_json()["detail"] == (
                f"The id {device['id']} is taken; pin the device under a new id."
            )
        assert author.post(url, json=replay).status_code == 200
        assert "yours" not in response.get_json()  # someone else is not told whose it is
        # Its author, who corrected it on the phone since its answer was lost, is told to edit it.
        corrected = {**replay, "properties": {**body["properties"], "kind": "sensor"}}
        refused = author.post(url, json=corrected)
        assert refused.status_code == 409 and refused.get_json()["yours"] is True
        assert f"PATCH /api/v1/devices/{device['id']}" in refused.get_json()["detail"]

    def test_a_new_contributors_pin_waits_for_review(self, as_user, client, moderator):
        author = as_user()
        device = pin(author)
        assert device["properties"]["review_status"] == "pending"
        assert ids(client.get("/api/v1/devices")) == []
        assert client.get(f"/api/v1/devices/{device['id']}").status_code == 404
        assert ids(author.get("/api/v1/devices")) == [device["id"]]
        assert moderator.get(f"/api/v1/devices/{device['id']}").status_code == 200

        approved = review(moderator, device["id"])
        assert approved.status_code == 200
        assert approved.get_json()["properties"]["review_status"] == "approved"
        assert ids(client.get("/api/v1/devices")) == [device["id"]]

    def test_rejection_needs_a_reason_shown_to_the_author(self, as_user, client, moderator, db):
        author = as_user()
        device = pin(author)
        assert review(moderator, device["id"], "reject").status_code == 422
        blank = review(moderator, device["id"], "reject", " \u200b ")  # says nothing either
        assert blank.status_code == 422 and blank.get_json()["errors"][0]["field"] == "reason"
        assert "left out" not in blank.get_json()["errors"][0]["message"]  # a reason is not
        assert db("SELECT review_status FROM devices").scalar_one() == "pending"
        response = review(moderator, device["id"], "reject", "This is a speed camera.")
        assert response.status_code == 200
        seen = author.get(f"/api/v1/devices/{device['id']}").get_json()["properties"]
        assert (seen["review_status"], seen["review_reason"]) == (
            "rejected",
            "This is a speed camera.",
        )
        assert client.get(f"/api/v1/devices/{device['id']}").status_code == 404

    def test_the_author_of_a_rejected_pin_is_told_to_pin_it_again(self, as_user, moderator):
        """Not to vote on it: nobody else sees a rejected pin."""
        author = as_user()
        device = pin(author)
        review(moderator, device["id"], "reject", "Blurred photo.")
        url = f"/api/v1/devices/{device['id']}"
        etag = author.get(url).headers["ETag"]
        refused = author.patch(url, json={"properties": {"notes": "x"}}, headers={"If-Match": etag})
        assert refused.status_code == 403
        assert "pin it again" in refused.get_json()["detail"]
        assert "wrong_details" not in refused.get_json()["detail"]

    def test_an_approval_takes_no_reason_which_the_public_feature_would_show(
        self, as_user, client, moderator
    ):
        device = pin(as_user())
        refused = review(moderator, device["id"], "approve", "Fine after all")
        assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "reason"
        etag = review(moderator, device["id"], "reject", "Not there.").headers["ETag"]
        approved = moderator.post(
            f"/api/v1/devices/{device['id']}/review",
            json={"decision": "approve"},
            headers={"If-Match": etag},
        )
        assert approved.status_code == 200
        public = client.get(f"/api/v1/devices/{device['id']}").get_json()["properties"]
        assert public["review_status"] == "approved" and public["review_reason"] is None

    def test_a_pin_already_reviewed_is_a_409_and_keeps_the_first_decision(
        self, as_user, moderator, db
    ):
        """Two moderators working from the same queue: the later decision does not silently
        undo the earlier one."""
        device = pin(as_user())
        assert review(moderator, device["id"]).status_code == 200
        other_moderator = as_user("moderator")
        late = review(other_moderator, device["id"], "reject", "Blurry.")
        assert late.status_code == 409
        assert late.get_json()["errors"][0]["field"] == "device_id"
        assert "approved" in late.get_json()["detail"]
        assert db("SELECT review_status, review_reason FROM devices").one() == ("approved", None)
        # Knowingly (the version read named), a decision taken is changed: a pin withdrawn.
        url = f"/api/v1/devices/{device['id']}"
        stale = {"If-Match": '"stale"'}
        body = {"decision": "reject", "reason": "Blurry."}
        assert other_moderator.post(f"{url}/review", json=body, headers=stale).status_code == 412
        current = {"If-Match": other_moderator.get(url).headers["ETag"]}
        assert other_moderator.post(f"{url}/review", json=body, headers=current).status_code == 200
        assert db("SELECT review_status FROM devices").scalar_one() == "rejected"

    def test_queue_is_oldest_first_with_duplicate_candidates(self, as_user, moderator, db):
        existing = pin(moderator, 2.35, 48.85)
        author = as_user()
        first = pin(author, 2.35, north_of(48.85, 10))
        second = pin(as_user(), 4.83, 45.76)
        db(
            "UPDATE devices SET created_at = now() - interval '1 hour' WHERE id = :id",
            id=first["id"],
        )
        queue = moderator.get("/api/v1/moderation/queue").get_json()["items"]
        assert [item["device"]["id"] for item in queue] == [first["id"], second["id"]]
        assert queue[0]["author"] == author.user.username  # for moderators to weigh it by
        candidates = queue[0]["duplicate_candidates"]
        assert [c["id"] for c in candidates] == [existing["id"]]
        assert candidates[0]["distance_m"] == pytest.approx(10, abs=0.05)
        assert queue[1]["duplicate_candidates"] == []

    def test_contributors_become_trusted_after_enough_approved_pins(
        self, app, as_user, moderator, monkeypatch
    ):
        monkeypatch.setitem(app.config, "TRUSTED_AFTER_APPROVED_PINS", 2)
        author = as_user()
        for i in range(2):
            device = pin(author, 2.35 + i * 0.01, 48.85)
            review(moderator, device["id"])
        assert author.get("/api/v1/me").get_json()["trusted"] is True
        assert pin(author, 2.40, 48.85)["properties"]["review_status"] == "approved"

    def test_a_deleted_pin_no_longer_counts_towards_trust_a_merged_one_does(
        self, app, as_user, moderator, monkeypatch
    ):
        monkeypatch.setitem(app.config, "TRUSTED_AFTER_APPROVED_PINS", 2)
        author = as_user()
        pins = [pin(author, 2.35 + i * 0.01, 48.85) for i in range(2)]
        for device in pins:
            review(moderator, device["id"])
        url = f"/api/v1/devices/{pins[0]['id']}"
        moderator.delete(url, headers={"If-Match": moderator.get(url).headers["ETag"]})
        me = author.get("/api/v1/me").get_json()
        assert (me["approved_pins"], me["trusted"]) == (1, False)
        assert pin(author, 2.40, 48.85)["properties"]["review_status"] == "pending"
        kept = pin(moderator, 2.36, north_of(48.85, 5))
        merged = moderator.post(
            f"/api/v1/devices/{kept['id']}/merge", json={"other": pins[1]["id"]}
        )
        assert merged.status_code == 200
        assert author.get("/api/v1/me").get_json()["approved_pins"] == 1

    def test_new_accounts_pin_only_so_many_devices_an_hour(self, app, as_user, monkeypatch, db):
        monkeypatch.setitem(app.config, "NEW_ACCOUNT_PINS_PER_HOUR", 2)
        author = as_user()
        pin(author, 2.35, 48.85)
        pin(author, 2.36, 48.85)
        response = author.post("/api/v1/devices", json=feature(2.37, 48.85))
        assert response.status_code == 429 and response.mimetype == PROBLEM
        assert 1 <= int(response.headers["Retry-After"]) <= 3600
        assert db("SELECT count(*) FROM devices").scalar_one() == 2

    def test_a_limit_of_no_pins_an_hour_leaves_pinning_to_trusted_contributors(
        self, app, as_user, moderator, monkeypatch, db
    ):
        monkeypatch.setitem(app.config, "NEW_ACCOUNT_PINS_PER_HOUR", 0)
        response = as_user().post("/api/v1/devices", json=feature(2.37, 48.85))
        assert response.status_code == 403 and response.mimetype == PROBLEM
        assert "only trusted contributors" in response.get_json()["detail"]
        assert pin(moderator, 2.37, 48.85)["id"]
        assert db("SELECT count(*) FROM devices").scalar_one() == 1


class TestDuplicates:
    @pytest.mark.parametrize("metres,expected", [(14.9, 409), (15.1, 201)])
    def test_same_kind_within_the_distance_is_a_409_with_candidates(
        self, moderator, db, metres, expected
    ):
        existing = pin(moderator, 2.35, 48.85)
        response = moderator.post("/api/v1/devices", json=feature(2.35, north_of(48.85, metres)))
        assert response.status_code == expected
        if expected == 409:
            body = response.get_json()
            assert [c["id"] for c in body["candidates"]] == [existing["id"]]
            assert body["candidates"][0]["yours"] is True
            assert body["candidates"][0]["distance_m"] == pytest.approx(metres, abs=0.01)
            assert db("SELECT count(*) FROM devices").scalar_one() == 1

    def test_a_candidate_says_whether_it_is_the_callers_own(self, moderator, as_user):
        theirs = pin(moderator, 2.35, 48.85)
        someone = as_user()
        response = someone.post("/api/v1/devices", json=feature(2.35, north_of(48.85, 3)))
        assert [(c["id"], c["yours"]) for c in response.get_json()["candidates"]] == [
            (theirs["id"], False)
        ]

    def test_force_pins_anyway_and_other_kinds_do_not_count(self, moderator, db):
        pin(moderator, 2.35, 48.85)
        near = feature(2.35, north_of(48.85, 3))
        assert moderator.post("/api/v1/devices?force=true", json=near).status_code == 201
        microphone = feature(2.35, north_of(48.85, 3), kind="microphone")
        assert moderator.post("/api/v1/devices", json=microphone).status_code == 201
        assert db("SELECT count(*) FROM devices").scalar_one() == 3

    def test_a_pin_is_checked_once_the_check_under_way_nearby_is_over(self, committed, moderator):
        """Two pins 5 m apart sent at the same moment were both accepted (each checked before the
        other was stored): a check now waits for the one under way in its area, held here by
        another transaction, and then finds what that one stored."""
        spot, beside = (2.35, 48.85), (2.35, north_of(48.85, 5))
        answers = {}

        def send(name, place, query=""):
            response = moderator.post(f"/api/v1/devices{query}", json=feature(*place))
            answers[name] = (response.status_code, response.get_json())

        with committed.connect() as other:
            other.execute(lock_area_statement(area_cells(*beside, 15)))  # a check under way
            first = threading.Thread(target=send, args=("first", spot))
            first.start()
            first.join(timeout=1)
            assert first.is_alive() and answers == {}  # it waits for that check to end
            send("beside", beside, "?force=true")  # what that check then stores
            assert answers["beside"][0] == 201
            other.rollback()
        first.join(timeout=30)
        status, body = answers["first"]
        assert status == 409, body
        assert [c["id"] for c in body["candidates"]] == [answers["beside"][1]["id"]]

    def test_the_areas_a_check_locks_hold_every_spot_it_counts_as_near(self):
        """Two points within the distance share a cell, on either side of a cell's edge, of the
        antimeridian, at any latitude; the cells come in one order (no two checks deadlock)."""
        for lon, lat in ((2.35, 48.85), (179.99999, 0.0), (-0.005, 60.0), (10.0, 89.0)):
            cells = area_cells(lon, lat, 15)
            assert cells == sorted(cells)
            for bearing in range(0, 360, 15):
                radians = math.radians(bearing)
                north = 14.9 * math.cos(radians) / EARTH_RADIUS_M
                east = 14.9 * math.sin(radians) / EARTH_RADIUS_M / math.cos(math.radians(lat))
                near_lon = (lon + math.degrees(east) + 180) % 360 - 180
                near = area_cells(near_lon, lat + math.degrees(north), 15)
                assert set(cells) & set(near), (lon, lat, bearing)

    def test_duplicates_are_measured_in_metres_not_degrees(self, moderator):
        # 0.0002 degrees of longitude is 14.6 m at 48.85°N but 22 m on the equator.
        pin(moderator, 2.35, 48.85)
        pin(moderator, 10.0, 0.0)
        assert moderator.post("/api/v1/devices", json=feature(2.3502, 48.85)).status_code == 409
        assert moderator.post("/api/v1/devices", json=feature(10.0002, 0.0)).status_code == 201

    def test_duplicates_across_the_antimeridian_are_found(self, moderator):
        existing = pin(moderator, 179.99999, 0.0, kind="microphone")
        response = moderator.post(
            "/api/v1/devices", json=feature(-179.99999, 0.0, kind="microphone")
        )
        assert response.status_code == 409  # 2.2 m apart on the sphere
        assert [c["id"] for c in response.get_json()["candidates"]] == [existing["id"]]

    def test_a_move_or_kind_change_onto_a_device_of_its_kind_is_a_409_unless_forced(
        self, as_user, moderator, db
    ):
        """Pinned elsewhere, then moved onto an existing device: the check a new pin gets."""
        existing = pin(moderator, 2.35, 48.85)
        author = as_user()
        mine = pin(author, 2.36, 48.85, kind="microphone")
        url = f"/api/v1/devices/{mine['id']}"
        place = {"type": "Point", "coordinates": [2.35, north_of(48.85, 5)]}

        def patch(body, query=""):
            etag = author.get(url).headers["ETag"]
            return author.patch(url + query, json=body, headers={"If-Match": etag})

        moved = patch({"geometry": place})  # a microphone there is no duplicate
        assert moved.status_code == 200, moved.get_json()
        retyped = patch({"properties": {"kind": "camera"}})
        assert retyped.status_code == 409 and retyped.mimetype == PROBLEM
        assert [c["id"] for c in retyped.get_json()["candidates"]] == [existing["id"]]
        assert db("SELECT kind FROM devices WHERE id = :i", i=mine["id"]).scalar_one() == (
            "microphone"
        )
        assert patch({"properties": {"kind": "camera"}}, "?force=true").status_code == 200
        # Near it already, accepted: moved a metre, or its notes changed, it is not asked again.
        nudged = {"type": "Point", "coordinates": [2.35, north_of(48.85, 6)]}
        assert (
            patch({"geometry": nudged, "properties": {"notes": "on the pole"}}).status_code == 200
        )
        other = pin(author, 2.37, 48.85)
        onto = {"geometry": {"type": "Point", "coordinates": [2.35, north_of(48.85, 2)]}}
        url = f"/api/v1/devices/{other['id']}"
        refused = patch(onto)
        assert refused.status_code == 409
        assert {c["id"] for c in refused.get_json()["candidates"]} == {existing["id"], mine["id"]}


class TestMergeHistoryRevert:
    def test_merge_moves_votes_and_leaves_a_redirect(self, moderator, as_user, client, db):
        keep = pin(moderator, 2.35, 48.85)
        duplicate = pin(moderator, 2.35, north_of(48.85, 5))
        voter = as_user()
        voter.post(
            f"/api/v1/devices/{duplicate['id']}/confirmations", json={"verdict": "still_there"}
        )
        response = moderator.post(
            f"/api/v1/devices/{keep['id']}/merge", json={"other": duplicate["id"]}
        )
        assert response.status_code == 200
        assert response.get_json()["properties"]["verification"] == "confirmed"
        assert db("SELECT device_id::text FROM confirmations").scalar_one() == keep["id"]
        redirect = client.get(f"/api/v1/devices/{duplicate['id']}")
        assert redirect.status_code == 308
        assert redirect.headers["Location"].endswith(f"/api/v1/devices/{keep['id']}")
        assert redirect.data == b"" and "html" not in redirect.headers.get("Content-Type", "")
        assert ids(client.get("/api/v1/devices")) == [keep["id"]]

    def test_a_merge_keeps_what_the_duplicate_confirmed(self, moderator, as_user, client):
        """Its author saw the device too; its confirmation stands."""
        carol, dave = as_user(), as_user()
        for author in (carol, dave):
            author.post("/api/v1/devices?force=true", json=feature(2.35, north_of(48.85, 3)))
        kept, duplicate = (
            moderator.get("/api/v1/moderation/queue").get_json()["items"][i]["device"]["id"]
            for i in (0, 1)
        )
        for device_id in (kept, duplicate):
            review(moderator, device_id)
        merged = moderator.post(f"/api/v1/devices/{kept}/merge", json={"other": duplicate})
        assert merged.get_json()["properties"]["verification"] == "confirmed"
        # A duplicate confirmed by its approval with a photo, of one author: that carries over.
        x = pin(dave, 2.36, 48.85)
        y = pin(dave, 2.36, north_of(48.85, 3))
        images.uploaded(dave, images.plain_photo(), url=f"/api/v1/devices/{y['id']}/photos")
        levels = [
            review(moderator, d["id"]).get_json()["properties"]["verification"] for d in (x, y)
        ]
        assert levels == ["reported", "confirmed"]
        merged = moderator.post(f"/api/v1/devices/{x['id']}/merge", json={"other": y["id"]})
        assert merged.get_json()["properties"]["verification"] == "confirmed"

    def test_photos_of_a_pin_merged_into_a_public_one_wait_for_review(
        self, moderator, as_user, client
    ):
        """A rejected pin (its photo showed a passer-by's face) merged into the public device
        it duplicated: its photo does not show until a moderator approves it."""
        keep = pin(moderator, 2.35, 48.85)
        author = as_user()
        rejected = pin(author, 2.35, north_of(48.85, 5))
        url = f"/api/v1/devices/{rejected['id']}/photos"
        photo = images.uploaded(author, images.plain_photo(), url=url)
        assert review(moderator, rejected["id"], "reject", "a face").status_code == 200
        merged = moderator.post(
            f"/api/v1/devices/{keep['id']}/merge", json={"other": rejected["id"]}
        )
        assert merged.status_code == 200
        assert merged.get_json()["properties"]["photos"] == []
        assert client.get(f"/api/v1/photos/{photo['id']}/thumbnail").status_code == 404
        queue = moderator.get("/api/v1/moderation/queue").get_json()["photos"]
        assert [(p["id"], p["device_id"]) for p in queue] == [(photo["id"], keep["id"])]
        assert queue[0]["uploaded_by"] == author.user.username
        assert queue[0]["coordinates"] == pytest.approx([2.35, 48.85])
        approved = moderator.post(
            f"/api/v1/photos/{photo['id']}/review", json={"decision": "approve"}
        )
        assert approved.status_code == 200
        listed = client.get(f"/api/v1/devices/{keep['id']}").get_json()["properties"]["photos"]
        assert [p["id"] for p in listed] == [photo["id"]]

    @pytest.mark.parametrize(
        ("kind", "metres", "words"),
        [("microphone", 5, "is a microphone 5 m"), ("camera", 2000, "camera 2,000 m")],
    )
    def test_a_merge_of_two_kinds_or_of_far_apart_devices_needs_force(
        self, moderator, as_user, client, db, kind, metres, words
    ):
        """A merge cannot be undone: a mistyped id is refused, and nothing moves."""
        keep = pin(moderator, 2.35, 48.85)
        other = pin(moderator, 2.35, north_of(48.85, metres), kind=kind)
        as_user().post(
            f"/api/v1/devices/{other['id']}/confirmations", json={"verdict": "still_there"}
        )
        url = f"/api/v1/devices/{keep['id']}/merge"
        refused = moderator.post(url, json={"other": other["id"]})
        assert refused.status_code == 409 and refused.mimetype == PROBLEM
        body = refused.get_json()
        assert body["errors"][0]["field"] == "other" and words in body["detail"]
        assert "force=true" in body["detail"]
        assert client.get(f"/api/v1/devices/{other['id']}").status_code == 200
        assert db("SELECT device_id::text FROM confirmations").scalar_one() == other["id"]
        forced = moderator.post(f"{url}?force=true", json={"other": other["id"]})
        assert forced.status_code == 200
        assert client.get(f"/api/v1/devices/{other['id']}").status_code == 308

    def test_a_public_device_merges_into_no_pin_awaiting_review_or_rejected(
        self, moderator, as_user, client, db
    ):
        """It would leave the map, its redirect naming a pin nobody else may see."""
        public = pin(moderator, 2.35, 48.85)
        pending = pin(as_user(), 2.35, north_of(48.85, 5))
        for force in ("", "?force=true"):
            refused = moderator.post(
                f"/api/v1/devices/{pending['id']}/merge{force}", json={"other": public["id"]}
            )
            assert refused.status_code == 409
            assert refused.get_json()["errors"][0]["field"] == "other"
            assert f"/api/v1/devices/{public['id']}/merge" in refused.get_json()["detail"]
        assert client.get(f"/api/v1/devices/{public['id']}").status_code == 200
        assert db("SELECT count(*) FROM devices WHERE deleted_at IS NULL").scalar_one() == 2
        merged = moderator.post(
            f"/api/v1/devices/{public['id']}/merge", json={"other": pending["id"]}
        )
        assert merged.status_code == 200

    def test_a_merge_or_revert_with_a_stale_etag_is_a_412_and_changes_nothing(self, moderator, db):
        """Another moderator's edit since the device was read is not overwritten unseen."""
        keep = pin(moderator, 2.35, 48.85, notes="first")
        duplicate = pin(moderator, 2.35, north_of(48.85, 5))
        url = f"/api/v1/devices/{keep['id']}"
        stale = moderator.get(url).headers["ETag"]
        moderator.patch(url, json={"properties": {"notes": "Mairie"}}, headers={"If-Match": stale})
        create = moderator.get(f"{url}/history").get_json()["revisions"][0]["id"]
        revert = moderator.post(
            f"{url}/revert", json={"revision": create}, headers={"If-Match": stale}
        )
        merge = moderator.post(
            f"{url}/merge", json={"other": duplicate["id"]}, headers={"If-Match": stale}
        )
        assert (revert.status_code, merge.status_code) == (412, 412)
        assert db("SELECT notes FROM devices WHERE notes IS NOT NULL").scalar_one() == "Mairie"
        assert db("SELECT count(*) FROM devices WHERE deleted_at IS NULL").scalar_one() == 2
        fresh = moderator.get(url).headers["ETag"]
        merged = moderator.post(
            f"{url}/merge", json={"other": duplicate["id"]}, headers={"If-Match": fresh}
        )
        assert merged.status_code == 200 and merged.headers["ETag"] != fresh

    def test_merging_a_device_into_itself_is_refused(self, moderator):
        device = pin(moderator)
        response = moderator.post(
            f"/api/v1/devices/{device['id']}/merge", json={"other": device["id"]}
        )
        assert response.status_code == 409

    def test_merging_a_device_gone_names_the_one_in_the_body(self, moderator):
        keep, gone = pin(moderator), pin(moderator, 2.36, 48.86)
        url = f"/api/v1/devices/{gone['id']}"
        moderator.delete(url, headers={"If-Match": moderator.get(url).headers["ETag"]})
        for target, other, field in ((keep, gone, "other"), (gone, keep, "device_id")):
            response = moderator.post(
                f"/api/v1/devices/{target['id']}/merge", json={"other": other["id"]}
            )
            assert response.status_code == 410 and response.mimetype == PROBLEM
            assert response.get_json().get("errors", [{}])[0].get("field") == field

    def test_a_wrong_merge_is_undone_with_the_votes_and_photos_it_moved(
        self, moderator, as_user, client, db
    ):
        keep = pin(moderator, 2.35, 48.85)
        duplicate = pin(moderator, 2.35, north_of(48.85, 5), observed_at="2026-01-10T09:00:00Z")
        seen, absent = as_user(), as_user()
        seen.post(
            f"/api/v1/devices/{duplicate['id']}/confirmations", json={"verdict": "still_there"}
        )
        url = f"/api/v1/devices/{duplicate['id']}/photos"
        photo = images.uploaded(moderator, images.plain_photo(), url=url)
        merged = moderator.post(
            f"/api/v1/devices/{keep['id']}/merge", json={"other": duplicate["id"]}
        ).get_json()["properties"]
        assert (merged["verification"], merged["observed_at"]) == (
            "confirmed",
            "2026-01-10T00:00:00+00:00",
        )
        # A vote on the device kept, after the merge, stays with it.
        absent.post(f"/api/v1/devices/{keep['id']}/confirmations", json={"verdict": "not_found"})
        history = moderator.get(f"/api/v1/devices/{keep['id']}/history").get_json()["revisions"]
        assert [(r["action"], r.get("other")) for r in history[-1:]] == [("merge", duplicate["id"])]

        undone = unmerge(moderator, duplicate["id"], keep["id"])
        assert undone.status_code == 200 and undone.headers["ETag"]
        back = undone.get_json()
        assert back["id"] == duplicate["id"]
        assert back["properties"]["verification"] == "confirmed"  # its voter's sighting
        assert [p["id"] for p in back["properties"]["photos"]] == [photo["id"]]
        kept = client.get(f"/api/v1/devices/{keep['id']}").get_json()["properties"]
        assert (kept["verification"], kept["observed_at"], kept["photos"]) == ("disputed", None, [])
        votes = db("SELECT verdict, device_id::text FROM confirmations ORDER BY verdict").all()
        assert [tuple(v) for v in votes] == [
            ("not_found", keep["id"]),
            ("still_there", duplicate["id"]),
        ]
        assert client.get(f"/api/v1/devices/{duplicate['id']}").status_code == 200
        assert sorted(ids(client.get("/api/v1/devices"))) == sorted([keep["id"], duplicate["id"]])

        for device_id, other in ((keep["id"], duplicate["id"]), (duplicate["id"], keep["id"])):
            last = moderator.get(f"/api/v1/devices/{device_id}/history").get_json()["revisions"][-1]
            assert (last["action"], last["other"]) == ("unmerge", other)
        public = client.get(f"/api/v1/devices/{keep['id']}/history").get_json()["revisions"]
        assert all("other" not in r and "id" not in r for r in public)
        again = unmerge(moderator, duplicate["id"], keep["id"])
        assert again.status_code == 409 and again.mimetype == PROBLEM
        assert again.get_json()["errors"][0]["field"] == "merged_into"
        assert "it is not merged into another" in again.get_json()["detail"]

    def test_phones_that_synced_the_tombstone_get_the_device_back(
        self, committed, moderator, client
    ):
        keep, duplicate = pin(moderator), pin(moderator, 2.3522, north_of(48.8566, 5))
        moderator.post(f"/api/v1/devices/{keep['id']}/merge", json={"other": duplicate["id"]})
        cursor = client.get("/api/v1/sync").get_json()["next_cursor"]
        assert unmerge(moderator, duplicate["id"], keep["id"]).status_code == 200
        synced = client.get(f"/api/v1/sync?since={cursor}").get_json()["features"]
        assert {f["id"]: f["properties"]["deleted_at"] for f in synced} == {
            keep["id"]: None,
            duplicate["id"]: None,
        }

    def test_only_moderators_undo_a_merge_of_a_device_that_exists(self, moderator, as_user):
        keep, duplicate = pin(moderator), pin(moderator, 2.3522, north_of(48.8566, 5))
        moderator.post(f"/api/v1/devices/{keep['id']}/merge", json={"other": duplicate["id"]})
        assert unmerge(as_user(), duplicate["id"], keep["id"]).status_code == 403
        unknown = unmerge(moderator, "00000000-0000-4000-8000-000000000000", keep["id"])
        assert unknown.status_code == 404 and unknown.mimetype == PROBLEM
        url = f"/api/v1/devices/{duplicate['id']}/unmerge"
        for body in (None, {}, {"merged_into": keep["id"], "x": 1}):
            assert moderator.post(url, json=body).status_code in (415, 422), body
        assert unmerge(moderator, duplicate["id"], keep["id"]).status_code == 200

    def test_merges_one_into_another_are_undone_last_first(self, moderator, as_user, client, db):
        """A into B, then B into C: A's vote followed B, so B comes back first, with it."""
        a, b, c = (pin(moderator, 2.35, north_of(48.85, metres)) for metres in (0, 3, 6))
        as_user().post(f"/api/v1/devices/{a['id']}/confirmations", json={"verdict": "still_there"})
        for kept, other in ((b, a), (c, b)):
            moderator.post(f"/api/v1/devices/{kept['id']}/merge", json={"other": other["id"]})
        refused = unmerge(moderator, a["id"], b["id"])
        assert refused.status_code == 409
        assert f"/api/v1/devices/{b['id']}/unmerge" in refused.get_json()["detail"]
        assert client.get(f"/api/v1/devices/{a['id']}").status_code == 308
        assert unmerge(moderator, b["id"], c["id"]).status_code == 200
        assert db("SELECT device_id::text FROM confirmations").scalar_one() == b["id"]
        assert unmerge(moderator, a["id"], b["id"]).status_code == 200
        assert db("SELECT device_id::text FROM confirmations").scalar_one() == a["id"]
        assert sorted(ids(client.get("/api/v1/devices"))) == sorted(d["id"] for d in (a, b, c))

    def test_a_rejected_pins_photos_go_back_to_it_out_of_the_photo_queue(
        self, moderator, as_user, client
    ):
        keep = pin(moderator, 2.35, 48.85)
        author = as_user()
        rejected = pin(author, 2.35, north_of(48.85, 5))
        url = f"/api/v1/devices/{rejected['id']}/photos"
        photo = images.uploaded(author, images.plain_photo(), url=url)
        review(moderator, rejected["id"], "reject", "a face")
        moderator.post(f"/api/v1/devices/{keep['id']}/merge", json={"other": rejected["id"]})
        assert moderator.get("/api/v1/moderation/queue").get_json()["photos"]
        assert unmerge(moderator, rejected["id"], keep["id"]).status_code == 200
        assert moderator.get("/api/v1/moderation/queue").get_json()["photos"] == []
        own = author.get(f"/api/v1/devices/{rejected['id']}").get_json()["properties"]
        assert (own["review_status"], [p["id"] for p in own["photos"]]) == (
            "rejected",
            [photo["id"]],
        )
        assert client.get(f"/api/v1/devices/{rejected['id']}").status_code == 404
        assert client.get(f"/api/v1/photos/{photo['id']}/thumbnail").status_code == 404

    def test_a_stale_request_undoes_no_other_merge(self, moderator):
        """Read before another moderator undid the merge and merged the pin elsewhere."""
        keep, other = pin(moderator), pin(moderator, 2.3522, north_of(48.8566, 8))
        duplicate = pin(moderator, 2.3522, north_of(48.8566, 4))
        moderator.post(f"/api/v1/devices/{keep['id']}/merge", json={"other": duplicate["id"]})
        assert unmerge(moderator, duplicate["id"], keep["id"]).status_code == 200
        moderator.post(f"/api/v1/devices/{other['id']}/merge", json={"other": duplicate["id"]})
        stale = unmerge(moderator, duplicate["id"], keep["id"])
        assert stale.status_code == 409 and stale.get_json()["errors"][0]["field"] == "merged_into"
        assert f"it is merged into {other['id']}" in stale.get_json()["detail"]

    def test_undoing_merges_in_any_order_leaves_the_device_kept_its_own(
        self, moderator, as_user, client
    ):
        """C, seen in October, took A's August and then B's June; undone A first, then B, C is
        as it was pinned: seen in October, of one source."""
        c = pin(moderator, 2.35, 48.85, observed_at="2025-10-01T00:00:00Z")
        a = pin(moderator, 2.35, north_of(48.85, 3), observed_at="2025-08-01T00:00:00Z")
        b = pin(moderator, 2.35, north_of(48.85, 6), observed_at="2025-06-01T00:00:00Z")
        as_user().post(f"/api/v1/devices/{a['id']}/confirmations", json={"verdict": "still_there"})
        for duplicate in (a, b):
            moderator.post(f"/api/v1/devices/{c['id']}/merge", json={"other": duplicate["id"]})

        def seen():
            props = client.get(f"/api/v1/devices/{c['id']}").get_json()["properties"]
            return props["observed_at"][:10], props["verification"]

        assert seen() == ("2025-06-01", "confirmed")
        assert unmerge(moderator, a["id"], c["id"]).status_code == 200
        assert seen() == ("2025-06-01", "reported")
        assert unmerge(moderator, b["id"], c["id"]).status_code == 200
        assert seen() == ("2025-10-01", "reported")
        # A revert to C's merge (its state then) takes no sighting of a pin no longer merged.
        history = moderator.get(f"/api/v1/devices/{c['id']}/history").get_json()["revisions"]
        merge = next(r["id"] for r in history if r["action"] == "merge")
        reverted = moderator.post(f"/api/v1/devices/{c['id']}/revert", json={"revision": merge})
        assert reverted.get_json()["properties"]["observed_at"][:10] == "2025-10-01"

    def test_an_approval_with_a_photo_since_the_merge_stays_after_its_undoing(
        self, moderator, as_user
    ):
        author = as_user()
        kept, duplicate = pin(author, 2.35, 48.85), pin(author, 2.35, north_of(48.85, 4))
        images.uploaded(author, images.plain_photo(), url=f"/api/v1/devices/{kept['id']}/photos")
        moderator.post(f"/api/v1/devices/{kept['id']}/merge", json={"other": duplicate["id"]})
        approved = review(moderator, kept["id"]).get_json()["properties"]
        assert approved["verification"] == "confirmed"
        assert unmerge(moderator, duplicate["id"], kept["id"]).status_code == 200
        level = moderator.get(f"/api/v1/devices/{kept['id']}").get_json()["properties"]
        assert level["verification"] == "confirmed"

    def test_a_photo_waiting_for_review_before_the_merge_waits_after_its_undoing(
        self, moderator, as_user, client
    ):
        """A new contributor's evidence on a public pin, which a moderator then rejected,
        merged and gave back: approved again, the pin does not publish the photo unseen."""
        kept, duplicate = pin(moderator, 2.35, 48.85), pin(moderator, 2.35, north_of(48.85, 4))
        voter = as_user()
        photo = images.uploaded(voter, images.plain_photo())
        vote = {"verdict": "still_there", "photo_id": photo["id"]}
        url = f"/api/v1/devices/{duplicate['id']}"
        assert voter.post(f"{url}/confirmations", json=vote).status_code == 201

        def decide(decision, **reason):  # a decision taken already: changed knowingly
            etag = {"If-Match": moderator.get(url).headers["ETag"]}
            body = {"decision": decision, **reason}
            assert moderator.post(f"{url}/review", json=body, headers=etag).status_code == 200

        decide("reject", reason="blurry")
        moderator.post(f"/api/v1/devices/{kept['id']}/merge", json={"other": duplicate["id"]})
        assert unmerge(moderator, duplicate["id"], kept["id"]).status_code == 200
        decide("approve")
        assert client.get(f"/api/v1/photos/{photo['id']}/thumbnail").status_code == 404
        queue = moderator.get("/api/v1/moderation/queue").get_json()["photos"]
        assert [p["id"] for p in queue] == [photo["id"]]

    def test_the_public_history_tells_no_merge_of_a_pin_others_may_not_see(
        self, moderator, as_user, client
    ):
        kept = pin(moderator, 2.35, 48.85)
        hidden = pin(as_user(), 2.35, north_of(48.85, 4))
        moderator.post(f"/api/v1/devices/{kept['id']}/merge", json={"other": hidden["id"]})
        assert unmerge(moderator, hidden["id"], kept["id"]).status_code == 200
        public = client.get(f"/api/v1/devices/{kept['id']}/history").get_json()["revisions"]
        assert [r["action"] for r in public] == ["create"]

    def test_an_undoing_takes_back_only_the_confirmation_the_merge_gave(self, moderator, as_user):
        """Confirmed by the duplicate's author seeing it too: taken back, though a photo came
        since its approval. Confirmed before (approved with a photo, deleted since): kept."""
        alice, bob = as_user(), as_user()
        for approved_with_photo in (False, True):
            kept = pin(alice, 2.35, 48.85 + approved_with_photo * 0.01)
            url = f"/api/v1/devices/{kept['id']}"
            photo = None
            if approved_with_photo:
                photo = images.uploaded(alice, images.plain_photo(), url=f"{url}/photos")
            review(moderator, kept["id"])
            if approved_with_photo:
                assert moderator.delete(f"/api/v1/photos/{photo['id']}").status_code == 204
            else:
                images.uploaded(moderator, images.plain_photo(), url=f"{url}/photos")
            level = moderator.get(url).get_json()["properties"]["verification"]
            assert level == ("confirmed" if approved_with_photo else "reported")
            duplicate = pin(bob, 2.35, north_of(48.85 + approved_with_photo * 0.01, 4))
            review(moderator, duplicate["id"])
            merged = moderator.post(f"{url}/merge", json={"other": duplicate["id"]})
            assert merged.get_json()["properties"]["verification"] == "confirmed"
            assert unmerge(moderator, duplicate["id"], kept["id"]).status_code == 200
            assert moderator.get(url).get_json()["properties"]["verification"] == level

    def test_a_device_loaded_in_bulk_gets_its_own_first_observation_back(self, moderator, db):
        """Loaded with no revision (an OpenStreetMap import), merged into, then given back."""
        db(
            "INSERT INTO devices (id, geom, kind, observed_at, review_status) VALUES "
            "('00000000-0000-4000-8000-0000000000b1', ST_SetSRID(ST_MakePoint(2.35, 48.85), "
            "4326), 'camera', '2020-05-01', 'approved')"
        )
        kept = "00000000-0000-4000-8000-0000000000b1"
        duplicate = pin(moderator, 2.35, north_of(48.85, 4), observed_at="2019-03-01T00:00:00Z")
        merged = moderator.post(f"/api/v1/devices/{kept}/merge", json={"other": duplicate["id"]})
        assert merged.get_json()["properties"]["observed_at"][:10] == "2019-03-01"
        undone = unmerge(moderator, duplicate["id"], kept)
        assert undone.status_code == 200
        again = moderator.get(f"/api/v1/devices/{kept}").get_json()["properties"]
        assert again["observed_at"][:10] == "2020-05-01"

    def test_its_author_is_told_of_no_merge_of_a_pin_they_may_not_see(self, moderator, as_user):
        alice = as_user()
        kept = pin(alice, 2.35, 48.85)
        review(moderator, kept["id"])
        hidden = pin(as_user(), 2.35, north_of(48.85, 4))
        moderator.post(f"/api/v1/devices/{kept['id']}/merge", json={"other": hidden["id"]})
        assert unmerge(moderator, hidden["id"], kept["id"]).status_code == 200
        history = alice.get(f"/api/v1/devices/{kept['id']}/history").get_json()["revisions"]
        assert [r["action"] for r in history] == ["create", "review"]

    def test_an_undoing_checks_the_kept_devices_etag_when_sent(self, moderator, db):
        keep, duplicate = pin(moderator), pin(moderator, 2.3522, north_of(48.8566, 5))
        moderator.post(f"/api/v1/devices/{keep['id']}/merge", json={"other": duplicate["id"]})
        url = f"/api/v1/devices/{duplicate['id']}/unmerge"
        body = {"merged_into": keep["id"]}
        stale = moderator.post(url, json=body, headers={"If-Match": '"stale"'})
        assert stale.status_code == 412
        assert db("SELECT merged_into::text FROM devices WHERE merged_into IS NOT NULL").all()
        etag = moderator.get(f"/api/v1/devices/{keep['id']}").headers["ETag"]
        assert moderator.post(url, json=body, headers={"If-Match": etag}).status_code == 200
        # A merge whose record was lost is refused, not a 500.
        moderator.post(f"/api/v1/devices/{keep['id']}/merge", json={"other": duplicate["id"]})
        db("UPDATE device_revisions SET undoing = '{}' WHERE action = 'merge'")
        assert moderator.post(url, json=body).status_code == 409

    def test_a_merge_made_before_merges_were_recorded_is_not_undone(self, moderator, client, db):
        keep, duplicate = pin(moderator), pin(moderator, 2.3522, north_of(48.8566, 5))
        moderator.post(f"/api/v1/devices/{keep['id']}/merge", json={"other": duplicate["id"]})
        db("UPDATE device_revisions SET undoing = NULL, other_device_id = NULL")
        refused = unmerge(moderator, duplicate["id"], keep["id"])
        assert refused.status_code == 409 and "cannot be undone" in refused.get_json()["detail"]
        assert client.get(f"/api/v1/devices/{duplicate['id']}").status_code == 308

    def test_what_the_author_changed_before_approval_stays_out_of_the_public_history(
        self, as_user, moderator, client
    ):
        author = as_user()
        draft = pin(author, 2.2745, 48.8484, notes="seen from my window at 12 rue X")
        url = f"/api/v1/devices/{draft['id']}"
        etag = author.get(url).headers["ETag"]
        moved = {"type": "Point", "coordinates": [2.276, 48.849]}
        changed = author.patch(
            url, json={"geometry": moved, "properties": {"notes": None}}, headers={"If-Match": etag}
        )
        assert changed.status_code == 200, changed.get_json()
        review(moderator, draft["id"])
        public = client.get(f"{url}/history")
        assert public.status_code == 200
        assert [r["action"] for r in public.get_json()["revisions"]] == ["review"]
        assert b"12 rue X" not in public.data and b"2.2745" not in public.data
        own = author.get(f"{url}/history").get_json()["revisions"]
        assert [r["action"] for r in own] == ["create", "update", "review"]
        assert len(moderator.get(f"{url}/history").get_json()["revisions"]) == 3
        later = moderator.patch(
            url,
            json={"properties": {"height": 4}},
            headers={"If-Match": client.get(url).headers["ETag"]},
        )
        assert later.status_code == 200
        actions = [r["action"] for r in client.get(f"{url}/history").get_json()["revisions"]]
        assert actions == ["review", "update"]
        # Its author gone, the pin has no author: still not anyone's to read in full.
        assert author.delete("/api/v1/me", json={"password": TEST_PASSWORD}).status_code == 204
        gone = client.get(f"{url}/history")
        assert [r["action"] for r in gone.get_json()["revisions"]] == ["review", "update"]
        assert b"12 rue X" not in gone.data

    def test_the_etag_tells_nobody_how_often_a_pin_changed_before_approval(
        self, as_user, moderator, client, db
    ):
        author = as_user()
        quiet, busy = pin(author, 2.2745, 48.8484), pin(author, 2.2845, 48.8484)
        url = f"/api/v1/devices/{busy['id']}"
        for notes in ("first draft", "second draft"):
            etag = author.get(url).headers["ETag"]
            edit = {"properties": {"notes": notes}}
            assert author.patch(url, json=edit, headers={"If-Match": etag}).status_code == 200
        for device in (quiet, busy):
            assert review(moderator, device["id"]).status_code == 200
            tag = client.get(f"/api/v1/devices/{device['id']}").headers["ETag"]
            version = db("SELECT version FROM devices WHERE id = :id", id=device["id"])
            assert re.fullmatch(r'"[0-9a-f]{32}"', tag), tag
            assert f".{version.scalar_one()}" not in tag and device["id"][:8] not in tag

    def test_a_rejection_its_reason_and_edits_while_rejected_stay_out_of_the_public_history(
        self, as_user, moderator, client
    ):
        author = as_user()
        device = pin(author, 2.2745, 48.8484, notes="as first published")
        url = f"/api/v1/devices/{device['id']}"
        assert review(moderator, device["id"]).status_code == 200

        def decide(decision, reason=None):
            body = {"decision": decision} | ({"reason": reason} if reason else {})
            etag = moderator.get(url).headers["ETag"]
            answer = moderator.post(f"{url}/review", json=body, headers={"If-Match": etag})
            assert answer.status_code == 200, answer.get_json()

        decide("reject", "the photo shows its author's face, who lives at 3 rue X")
        for lon, notes in ((2.2801, "an edit while rejected"), (2.2760, "as published again")):
            moved = {"type": "Point", "coordinates": [lon, 48.849]}
            edit = {"geometry": moved, "properties": {"notes": notes}}
            etag = moderator.get(url).headers["ETag"]
            assert moderator.patch(url, json=edit, headers={"If-Match": etag}).status_code == 200
        decide("approve")

        public = client.get(f"{url}/history")
        assert public.status_code == 200
        revisions = public.get_json()["revisions"]
        assert [r["action"] for r in revisions] == ["review", "review"]
        # The second public state, told against the first: where it went, not the way there.
        assert revisions[1]["changes"] == {
            "geometry": [[2.2745, 48.8484], [2.276, 48.849]],
            "notes": ["as first published", "as published again"],
        }
        for secret in (b"rue X", b"rejected", b"while rejected", b"2.2801"):
            assert secret not in public.data
        # Its author and the moderators read it all.
        for reader in (author, moderator):
            whole = reader.get(f"{url}/history")
            assert len(whole.get_json()["revisions"]) == 6
            assert b"rue X" in whole.data

    def test_history_lists_every_change_and_revert_restores(self, moderator, client):
        device = pin(moderator, notes="first", direction=10)
        url = f"/api/v1/devices/{device['id']}"
        etag = client.get(url).headers["ETag"]
        etag = moderator.patch(
            url, json={"properties": {"notes": "second"}}, headers={"If-Match": etag}
        ).headers["ETag"]
        moderator.patch(
            url,
            json={
                "properties": {"notes": "vandalised", "direction": 200},
                "geometry": {"type": "Point", "coordinates": [0, 0]},
            },
            headers={"If-Match": etag},
        )
        history = moderator.get(f"{url}/history").get_json()["revisions"]
        assert [r["action"] for r in history] == ["create", "update", "update"]
        # Its ids count every change of every device: others would read a clock in them.
        assert all("id" not in r for r in client.get(f"{url}/history").get_json()["revisions"])
        assert history[1]["changes"] == {"notes": ["first", "second"]}
        assert history[2]["changes"]["direction"] == [[10], [200]]
        assert history[2]["author"] == moderator.user.username

        reverted = moderator.post(f"{url}/revert", json={"revision": history[1]["id"]})
        assert reverted.status_code == 200
        restored = reverted.get_json()
        assert restored["properties"]["notes"] == "second"
        assert restored["properties"]["direction"] == [10]
        assert restored["geometry"]["coordinates"] == device["geometry"]["coordinates"]
        actions = [r["action"] for r in client.get(f"{url}/history").get_json()["revisions"]]
        assert actions[-1] == "revert"

    def test_history_gives_positions_to_7_decimals_as_the_device_itself(self, moderator):
        """A revision keeps the position as it was sent; read, it is given as every GeoJSON
        of the API gives it."""
        device = pin(moderator)
        url = f"/api/v1/devices/{device['id']}"
        moved = moderator.patch(
            url,
            json={"geometry": {"type": "Point", "coordinates": [2.329965588686571, 48.868514169]}},
            headers={"If-Match": moderator.get(url).headers["ETag"]},
        )
        assert moved.status_code == 200, moved.get_json()
        [*_, move] = moderator.get(f"{url}/history").get_json()["revisions"]
        assert move["changes"]["geometry"] == [
            device["geometry"]["coordinates"],
            moved.get_json()["geometry"]["coordinates"],
        ]
        assert moved.get_json()["geometry"]["coordinates"] == [2.3299656, 48.8685142]

    def test_public_history_names_only_the_readers_own_revisions(self, moderator, as_user, client):
        """Pseudonyms across every public history would draw each contributor's walks and name
        the moderators: others read what changed and when, not who; the author reads their
        own name, moderators every name."""
        trusted = as_user("moderator")
        device = pin(trusted, notes="first")
        url = f"/api/v1/devices/{device['id']}"
        etag = client.get(url).headers["ETag"]
        moderator.patch(url, json={"properties": {"notes": "second"}}, headers={"If-Match": etag})
        voter = as_user()

        def authors(reader):
            history = reader.get(f"{url}/history")
            assert history.status_code == 200
            return [r["author"] for r in history.get_json()["revisions"]]

        assert authors(client) == authors(voter) == [None, None]
        assert authors(trusted) == [trusted.user.username, moderator.user.username]
        names = (trusted.user.username, moderator.user.username)
        assert not any(name.encode() in client.get(f"{url}/history").data for name in names)

    def test_revert_to_another_devices_revision_is_404(self, moderator, client):
        first, second = pin(moderator), pin(moderator, 3.0, 45.0)
        history = moderator.get(f"/api/v1/devices/{second['id']}/history").get_json()
        revision = history["revisions"][0]
        response = moderator.post(
            f"/api/v1/devices/{first['id']}/revert", json={"revision": revision["id"]}
        )
        assert response.status_code == 404
