"""Pin, read, change and remove devices: the contract a map client sees."""

import base64
import uuid

import pytest

from service.api.devices.routes import CURSORS
from tests.helpers import GEOJSON, PROBLEM, feature, new_id, pin


@pytest.fixture
def client(moderator):
    """Device tests act as a moderator, whose pins are published directly."""
    return moderator


def walk(client, url) -> tuple[list[str], int]:
    """The ids of every page from URL on, following next links, and how many pages."""
    seen, pages = [], 0
    while url:
        body = client.get(url).get_json()
        seen += [f["id"] for f in body["features"]]
        assert body["numberReturned"] == len(body["features"])
        pages += 1
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return seen, pages


def spatial_order(db) -> list[str]:
    """Ids of the live devices in the listing's order: by tile_key, then id."""
    rows = db("SELECT id FROM devices WHERE deleted_at IS NULL ORDER BY tile_key, id")
    return [str(device_id) for device_id in rows.scalars()]


def count_devices(db, live_only=False):
    where = " WHERE deleted_at IS NULL" if live_only else ""
    return db(f"SELECT count(*) FROM devices{where}").scalar_one()


class TestCreate:
    def test_pin_returns_the_stored_feature_with_location_and_etag(self, client, db):
        response = client.post(
            "/api/v1/devices",
            json=feature(
                2.2945,
                48.8584,
                direction=[90, 270],
                camera_type="dome",
                mount="pole",
                angle=120,
                height=4.5,
                zone="town",
                surveillance="public",
                operator="Préfecture de police",
                operator_type="public",
                observed_at="2026-11-01T10:00:00Z",
                accuracy_m=6,
                notes="Two lenses",
                source="https://example.org/arrete",
                tags={"camera:lens": "wide", "note:fr": "angle de rue"},
            ),
        )
        assert response.status_code == 201
        assert response.mimetype == GEOJSON
        body = response.get_json()
        assert body["type"] == "Feature"
        assert body["geometry"] == {"type": "Point", "coordinates": [2.2945, 48.8584]}
        props = body["properties"]
        assert props["direction"] == [90, 270]
        assert props["operator"] == "Préfecture de police"
        assert props["observed_at"] == "2026-11-01T00:00:00+00:00"  # a day, to others too
        assert props["tags"] == {"camera:lens": "wide", "note:fr": "angle de rue"}
        assert response.headers["Location"].endswith(f"/api/v1/devices/{body['id']}")
        assert response.headers["ETag"]
        stored = db(
            "SELECT kind, ST_X(geom), ST_Y(geom), direction FROM devices WHERE id = :id",
            id=body["id"],
        ).one()
        assert tuple(stored) == ("camera", 2.2945, 48.8584, [90, 270])

    def test_a_single_direction_is_read_as_a_list(self, client):
        assert pin(client, direction=45)["properties"]["direction"] == [45]

    def test_an_altitude_is_accepted_and_not_kept(self, client, db):
        """RFC 7946 lets a position carry an altitude (a phone's GPS adds one): not the
        device's `height` above ground, so it is not kept as one either."""
        sent = feature(2.2945, 48.8584)
        sent["geometry"]["coordinates"].append(35.5)
        response = client.post("/api/v1/devices", json=sent)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["geometry"]["coordinates"] == [2.2945, 48.8584]
        assert response.get_json()["properties"].get("height") is None
        assert db("SELECT ST_NDims(geom) FROM devices").scalar_one() == 2

    def test_defaults_fill_status_operator_type_and_tags(self, client):
        props = pin(client)["properties"]
        assert (props["status"], props["operator_type"], props["tags"]) == ("active", "unknown", {})

    def test_client_uuid_is_kept_and_a_replay_returns_the_same_device(self, client, db):
        device_id = new_id()
        body = feature(device_id=device_id, direction=10)
        first = client.post("/api/v1/devices", json=body)
        again = client.post("/api/v1/devices", json=body)
        assert first.status_code == 201 and again.status_code == 200
        assert first.get_json()["id"] == device_id == again.get_json()["id"]
        assert again.headers["ETag"] == first.headers["ETag"]
        assert count_devices(db) == 1

    @pytest.mark.parametrize(
        "made",
        [
            uuid.uuid1,
            lambda: uuid.UUID(int=0),
            lambda: uuid.UUID(new_id()[:14] + "7" + new_id()[15:]),
        ],
    )
    def test_an_id_that_is_not_a_random_uuid_is_refused(self, client, db, made):
        """The id is public: a version 1 carries the time and the network address of the
        phone that made it, a version 7 the time."""
        response = client.post("/api/v1/devices", json=feature(device_id=str(made())))
        assert response.status_code == 422 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == "id"
        assert "random UUID" in response.get_json()["errors"][0]["message"]
        assert count_devices(db) == 0

    def test_same_uuid_with_other_content_is_a_conflict(self, client, db):
        device_id = new_id()
        client.post("/api/v1/devices", json=feature(device_id=device_id))
        response = client.post("/api/v1/devices", json=feature(device_id=device_id, kind="alpr"))
        assert response.status_code == 409
        assert response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == "id"
        assert db("SELECT kind FROM devices").scalar_one() == "camera"

    def test_same_uuid_at_another_place_is_a_conflict(self, client):
        device_id = new_id()
        client.post("/api/v1/devices", json=feature(device_id=device_id))
        moved = feature(2.0, 48.0, device_id=device_id)
        assert client.post("/api/v1/devices", json=moved).status_code == 409

    def test_reusing_a_deleted_uuid_is_a_conflict(self, client):
        created = pin(client)
        client.delete(f"/api/v1/devices/{created['id']}")
        again = client.post("/api/v1/devices", json=feature(device_id=created["id"]))
        assert again.status_code == 409


class TestRead:
    def test_get_returns_feature_and_etag(self, client):
        created = pin(client, kind="microphone")
        response = client.get(f"/api/v1/devices/{created['id']}")
        assert response.status_code == 200
        assert response.mimetype == GEOJSON
        assert response.get_json() == created

    def test_if_none_match_gives_304(self, client):
        created = pin(client)
        etag = client.get(f"/api/v1/devices/{created['id']}").headers["ETag"]
        response = client.get(f"/api/v1/devices/{created['id']}", headers={"If-None-Match": etag})
        assert response.status_code == 304
        assert response.data == b""

    def test_unknown_id_is_404_problem(self, client):
        response = client.get(f"/api/v1/devices/{uuid.uuid4()}")
        assert response.status_code == 404
        assert response.mimetype == PROBLEM
        assert response.get_json()["status"] == 404

    def test_malformed_id_is_404(self, client):
        assert client.get("/api/v1/devices/not-a-uuid").status_code == 404


class TestPatch:
    def test_patch_changes_only_given_fields_and_bumps_etag(self, client, db):
        created = pin(client, kind="camera", direction=[90], notes="old")
        url = f"/api/v1/devices/{created['id']}"
        etag = client.get(url).headers["ETag"]
        response = client.patch(
            url, json={"properties": {"direction": 180, "notes": None}}, headers={"If-Match": etag}
        )
        assert response.status_code == 200
        props = response.get_json()["properties"]
        assert props["direction"] == [180]
        assert props["notes"] is None
        assert props["kind"] == "camera"
        assert response.headers["ETag"] != etag
        assert props["updated_at"] >= created["properties"]["updated_at"]
        assert db("SELECT version FROM devices").scalar_one() == 2

    def test_patch_moves_the_device(self, client, db):
        created = pin(client)
        url = f"/api/v1/devices/{created['id']}"
        etag = client.get(url).headers["ETag"]
        moved = {"geometry": {"type": "Point", "coordinates": [4.8357, 45.764]}}
        assert client.patch(url, json=moved, headers={"If-Match": etag}).status_code == 200
        assert tuple(db("SELECT ST_X(geom), ST_Y(geom) FROM devices").one()) == (4.8357, 45.764)

    def test_patch_without_if_match_is_428_and_changes_nothing(self, client, db):
        created = pin(client)
        response = client.patch(
            f"/api/v1/devices/{created['id']}", json={"properties": {"kind": "alpr"}}
        )
        assert response.status_code == 428
        assert response.get_json()["errors"][0]["field"] == "If-Match"
        assert db("SELECT kind FROM devices").scalar_one() == "camera"

    def test_patch_with_if_match_any_version_is_428_and_changes_nothing(self, client, db):
        """`If-Match: *` names no version: a stale client would overwrite unseen changes."""
        url = f"/api/v1/devices/{pin(client)['id']}"
        edit = {"properties": {"kind": "alpr"}}
        response = client.patch(url, json=edit, headers={"If-Match": "*"})
        assert response.status_code == 428 and "names no version" in response.get_json()["detail"]
        assert response.get_json()["errors"][0]["field"] == "If-Match"
        assert db("SELECT kind FROM devices").scalar_one() == "camera"

    def test_patch_with_stale_etag_is_412_and_changes_nothing(self, client, db):
        created = pin(client)
        url = f"/api/v1/devices/{created['id']}"
        stale = client.get(url).headers["ETag"]
        client.patch(url, json={"properties": {"notes": "first"}}, headers={"If-Match": stale})
        response = client.patch(
            url, json={"properties": {"notes": "second"}}, headers={"If-Match": stale}
        )
        assert response.status_code == 412
        assert response.headers["ETag"] != stale
        assert db("SELECT notes FROM devices").scalar_one() == "first"

    def test_the_current_etag_sent_weak_is_412_saying_so(self, client, db):
        """If-Match compares strongly: W/ on the version read is refused, and the reason is
        said (not "changed since", which would send the client to read it again in vain)."""
        url = f"/api/v1/devices/{pin(client)['id']}"
        etag = client.get(url).headers["ETag"]
        response = client.patch(
            url, json={"properties": {"notes": "x"}}, headers={"If-Match": f"W/{etag}"}
        )
        assert response.status_code == 412
        assert response.get_json()["detail"].startswith("A weak ETag (W/) never matches If-Match")
        assert response.get_json()["errors"][0]["field"] == "If-Match"
        assert db("SELECT notes FROM devices").scalar_one() is None

    def test_empty_patch_is_422(self, client):
        created = pin(client)
        url = f"/api/v1/devices/{created['id']}"
        etag = client.get(url).headers["ETag"]
        assert client.patch(url, json={}, headers={"If-Match": etag}).status_code == 422

    def test_patch_cannot_clear_the_kind(self, client, db):
        created = pin(client)
        url = f"/api/v1/devices/{created['id']}"
        etag = client.get(url).headers["ETag"]
        response = client.patch(
            url, json={"properties": {"kind": None}}, headers={"If-Match": etag}
        )
        assert response.status_code == 422
        assert response.get_json()["errors"][0]["field"] == "properties.kind"
        assert db("SELECT kind FROM devices").scalar_one() == "camera"


class TestCameraType:
    """A camera type belongs to the kinds that film (camera, ALPR, facial recognition)."""

    def test_a_pin_of_another_kind_with_a_camera_type_is_422_and_stores_nothing(self, client, db):
        response = client.post(
            "/api/v1/devices", json=feature(kind="microphone", camera_type="dome")
        )
        assert response.status_code == 422
        assert response.get_json()["errors"][0]["field"] == "properties.camera_type"
        assert "A microphone has no camera type" in response.get_json()["detail"]
        assert db("SELECT count(*) FROM devices").scalar_one() == 0
        assert pin(client, kind="alpr", camera_type="dome")["properties"]["camera_type"] == "dome"

    def test_an_edit_giving_a_camera_type_to_another_kind_is_422(self, client, db):
        url = f"/api/v1/devices/{pin(client, kind='camera', camera_type='dome')['id']}"
        etag = client.get(url).headers["ETag"]
        both = {"properties": {"kind": "sensor", "camera_type": "fixed"}}
        response = client.patch(url, json=both, headers={"If-Match": etag})
        assert response.status_code == 422
        assert response.get_json()["errors"][0]["field"] == "properties.camera_type"
        microphone = pin(client, 2.36, 48.86, kind="microphone")
        url = f"/api/v1/devices/{microphone['id']}"
        alone = {"properties": {"camera_type": "fixed"}}
        response = client.patch(
            url, json=alone, headers={"If-Match": client.get(url).headers["ETag"]}
        )
        assert response.status_code == 422
        assert response.get_json()["errors"][0]["field"] == "properties.camera_type"
        assert db("SELECT array_agg(camera_type ORDER BY kind) FROM devices").scalar_one() == [
            "dome",
            None,
        ]

    def test_a_device_changed_to_a_kind_that_does_not_film_drops_its_camera_type(self, client):
        url = f"/api/v1/devices/{pin(client, kind='camera', camera_type='dome')['id']}"
        etag = client.get(url).headers["ETag"]
        response = client.patch(
            url, json={"properties": {"kind": "microphone"}}, headers={"If-Match": etag}
        )
        assert response.status_code == 200
        assert response.get_json()["properties"]["camera_type"] is None
        update = client.get(f"{url}/history").get_json()["revisions"][-1]
        assert update["action"] == "update" and update["changes"]["camera_type"] == ["dome", None]


class TestDelete:
    def test_delete_leaves_a_tombstone(self, client, db):
        created = pin(client)
        url = f"/api/v1/devices/{created['id']}"
        deleted = client.delete(url)
        assert deleted.status_code == 204 and "Content-Type" not in deleted.headers
        gone = client.get(url)
        assert gone.status_code == 410
        assert gone.get_json()["deleted_at"]
        assert db("SELECT deleted_at IS NOT NULL FROM devices").scalar_one() is True
        listing = client.get("/api/v1/devices").get_json()
        assert listing["features"] == []

    def test_delete_twice_is_harmless(self, client):
        created = pin(client)
        url = f"/api/v1/devices/{created['id']}"
        client.delete(url)
        assert client.delete(url).status_code == 204

    def test_delete_with_stale_if_match_is_412(self, client, db):
        created = pin(client)
        url = f"/api/v1/devices/{created['id']}"
        response = client.delete(url, headers={"If-Match": '"stale.0"'})
        assert response.status_code == 412
        assert count_devices(db, live_only=True) == 1

    def test_patch_of_a_deleted_device_is_410(self, client):
        created = pin(client)
        url = f"/api/v1/devices/{created['id']}"
        client.delete(url)
        response = client.patch(url, json={"properties": {"notes": "x"}}, headers={"If-Match": "*"})
        assert response.status_code == 410

    def test_delete_unknown_is_404(self, client):
        assert client.delete(f"/api/v1/devices/{uuid.uuid4()}").status_code == 404


class TestListing:
    def test_statements_reused_across_callers_keep_each_callers_view(self, as_user, app):
        """A listing statement is built once per shape of filter and reused: the values of one
        caller (their id, their box) must never serve another."""
        anonymous = app.test_client()
        author_a, author_b, publisher = as_user(), as_user(), as_user("moderator")
        public = pin(publisher, 2.35, 48.85)
        pending_a, pending_b = pin(author_a, 2.351, 48.85), pin(author_b, 2.352, 48.85)

        def seen(caller, query):
            body = caller.get("/api/v1/devices?limit=100" + query).get_json()
            return {f["id"] for f in body["features"]}

        for query in ("", "&bbox=2,48,3,49", "&kind=camera&bbox=2,48,3,49"):
            assert seen(author_a, query) == {public["id"], pending_a["id"]}
            assert seen(author_b, query) == {public["id"], pending_b["id"]}
            assert seen(anonymous, query) == {public["id"]}
            assert seen(author_a, query) == {public["id"], pending_a["id"]}
        assert seen(anonymous, "&bbox=4,45,5,46") == set()  # another box, the same shape

    def test_bbox_returns_only_devices_inside(self, client):
        inside = pin(client, 2.35, 48.85)
        pin(client, 4.83, 45.76)  # Lyon
        response = client.get("/api/v1/devices?bbox=2.3,48.8,2.4,48.9")
        assert response.status_code == 200
        assert response.mimetype == GEOJSON
        body = response.get_json()
        assert body["type"] == "FeatureCollection"
        assert [f["id"] for f in body["features"]] == [inside["id"]]
        assert body["numberReturned"] == 1
        assert "numberMatched" not in body

    def test_filters_on_kind_status_and_operator_type(self, client):
        camera = pin(client, kind="camera", operator_type="public")
        alpr = pin(client, kind="alpr", status="planned")
        pin(client, kind="microphone")

        def ids(query):
            return {f["id"] for f in client.get(f"/api/v1/devices?{query}").get_json()["features"]}

        assert ids("kind=camera,alpr") == {camera["id"], alpr["id"]}
        assert ids("status=planned") == {alpr["id"]}
        assert ids("operator_type=public") == {camera["id"]}

    def test_updated_since(self, client, db):
        old = pin(client)
        db("UPDATE devices SET updated_at = '2020-01-01T00:00:00Z' WHERE id = :id", id=old["id"])
        recent = pin(client)
        body = client.get("/api/v1/devices?updated_since=2025-01-01T00:00:00Z").get_json()
        assert [f["id"] for f in body["features"]] == [recent["id"]]

    def test_pages_follow_next_links_without_gaps_or_repeats_in_spatial_order(self, client, db):
        created = {pin(client, 2.35 + i * 1e-4, 48.85 + (i % 4) * 1e-3)["id"] for i in range(23)}
        seen, pages = walk(client, "/api/v1/devices?bbox=2.3,48.8,2.4,48.9&limit=5")
        assert pages == 5
        assert len(seen) == len(set(seen)) == 23
        assert set(seen) == created
        assert seen == spatial_order(db)
        assert seen != sorted(seen)  # the positions were chosen so that id order differs

    def test_the_listing_pages_as_the_ogc_api_does(self, client, db):
        for i in range(40):
            pin(client, 2.2 + (i * 7 % 40) * 5e-3, 48.8 + (i * 13 % 40) * 3e-3)
        box = "bbox=2.25,48.82,2.37,48.9&limit=7"
        listed, _pages = walk(client, f"/api/v1/devices?{box}")
        ogc, _pages = walk(client, f"/ogc/collections/devices/items?{box}")
        assert listed == ogc
        everything, _pages = walk(client, "/api/v1/devices?limit=6")
        assert everything == spatial_order(db)

    def test_pages_keep_their_filters_and_each_callers_view(self, client, as_user, app):
        contributor = as_user("contributor")
        for i in range(6):
            pin(client, 2.35 + i * 1e-3, 48.85, kind="camera" if i % 2 else "alpr")
        pending = pin(contributor, 2.36, 48.86, kind="camera")
        query = "/api/v1/devices?kind=camera&limit=2"
        assert len(walk(client, query)[0]) == 4  # the moderator sees the pending pin
        assert pending["id"] in walk(contributor, query)[0]
        anonymous, _pages = walk(app.test_client(), query)
        assert len(anonymous) == 3 and pending["id"] not in anonymous

    @pytest.mark.parametrize("position", [(-1, uuid.UUID(int=0)), (4**30, uuid.UUID(int=0))])
    def test_a_cursor_outside_the_key_space_is_400(self, client, position):
        cursor = CURSORS.encode(*position)
        response = client.get(f"/api/v1/devices?cursor={cursor}")
        assert response.status_code == 400
        assert response.get_json()["errors"][0]["field"] == "cursor"

    def test_a_cursor_of_the_former_id_order_is_400(self, client):
        cursor = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        response = client.get(f"/api/v1/devices?cursor={cursor}")
        assert response.status_code == 400
        assert "restart from the first page" in response.get_json()["detail"]

    def test_number_matched_only_when_asked(self, client):
        for i in range(3):
            pin(client, 2.35 + i * 1e-4, 48.85)
        body = client.get("/api/v1/devices?limit=2&count=true").get_json()
        assert body["numberMatched"] == 3
        assert body["numberReturned"] == 2

    def test_bbox_across_the_antimeridian(self, client):
        fiji = pin(client, 179.5, -17.0)
        samoa = pin(client, -179.5, -17.0)
        pin(client, 0.0, -17.0)
        body = client.get("/api/v1/devices?bbox=179,-18,-179,-16").get_json()
        assert {f["id"] for f in body["features"]} == {fiji["id"], samoa["id"]}

    @pytest.mark.parametrize("listing", ["/api/v1/devices", "/ogc/collections/devices/items"])
    def test_a_box_edge_on_the_antimeridian_holds_devices_stored_at_either_number(
        self, client, listing
    ):
        """-180 and 180 are one meridian (RFC 7946): a map clamped to -180 still shows the
        device a client stored at 180, and the other way round; a box from -180 to 180 lists
        each once."""
        east = pin(client, 180.0, 10.0)
        west = pin(client, -180.0, 20.0)
        pin(client, 179.0, 10.0)

        def listed(bbox):
            body = client.get(f"{listing}?bbox={bbox}").get_json()
            return [f["id"] for f in body["features"]]

        assert listed("-180,9,-179.5,11") == [east["id"]]
        assert listed("179.5,19,180,21") == [west["id"]]
        assert sorted(listed("-180,9,180,21")) == sorted(
            [east["id"], west["id"], listed("178.9,9,179.1,11")[0]]
        )

    def test_empty_result_is_a_valid_collection(self, client):
        body = client.get("/api/v1/devices?bbox=0,0,0.001,0.001").get_json()
        assert body["features"] == [] and body["numberReturned"] == 0
        assert [link["rel"] for link in body["links"]] == ["self", "license"]

    def test_coordinates_are_rounded_to_seven_decimals(self, client):
        created = pin(client, 2.123456789123, 48.987654321987)
        assert created["geometry"]["coordinates"] == [2.1234568, 48.9876543]

    @pytest.mark.parametrize("limit", ["0", "10001", "-1", "abc"])
    def test_limit_out_of_range_is_400(self, client, limit):
        response = client.get(f"/api/v1/devices?limit={limit}")
        assert response.status_code == 400
        assert response.get_json()["errors"][0]["field"] == "limit"


def test_a_geometry_may_carry_a_bbox_and_foreign_members(client):
    """RFC 7946 lets any GeoJSON object carry a bbox (section 5) and foreign members (6.1):
    a geometry written by a GIS library is taken, the extras left out."""
    body = feature(2.35, 48.85)
    body["geometry"] |= {"bbox": [2.35, 48.85, 2.35, 48.85], "crs_note": "WGS84"}
    response = client.post("/api/v1/devices", json=body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["geometry"] == {"type": "Point", "coordinates": [2.35, 48.85]}
