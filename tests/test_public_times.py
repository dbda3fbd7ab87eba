"""Times others read are days (service/visibility.py): a contributor standing before a camera
is filmed by it, so no answer may tell the moment they pinned, edited, confirmed or photographed
a device. Every read of tests/test_visibility.py is tried on a public pin whose every stored time
has a time of day, and each answer is searched for it.
"""

import pytest

from tests import images
from tests.districts import district_feature, load, rectangle, write_geojson
from tests.helpers import feature, new_id
from tests.test_visibility import BOX, LAT, LON, READS

OBSERVED = "2026-06-01T10:31:07Z"


@pytest.fixture
def public_pin(app, as_user, moderator, isolated, db, tmp_path):
    """An approved camera with a photo, edited and confirmed by others, inside a district.

    Everything happens in one transaction: every time the server stamps is now(), whose time
    of day the answers must not show (nor OBSERVED's).
    """
    load(
        isolated,
        write_geojson(
            tmp_path / "d.geojson", [district_feature("P", rectangle(2.34, 48.85, 2.36, 48.86))]
        ),
        level="quartier",
    )
    author = as_user("contributor")
    photo = images.uploaded(author, images.plain_photo())
    device_id = new_id()
    body = feature(LON, LAT, device_id=device_id, observed_at=OBSERVED) | {
        "photo_ids": [photo["id"]]
    }
    assert author.post("/api/v1/devices", json=body).status_code == 201
    url = f"/api/v1/devices/{device_id}"
    review = {"decision": "approve"}
    assert moderator.post(f"{url}/review", json=review).status_code == 200
    editor = as_user("moderator")  # new contributors edit only their own pins
    etag = editor.get(url).headers["ETag"]
    edit = {"properties": {"operator": "Ville"}}
    assert editor.patch(url, json=edit, headers={"If-Match": etag}).status_code == 200
    vote = as_user("contributor").post(f"{url}/confirmations", json={"verdict": "still_there"})
    assert vote.status_code == 201
    now = db("SELECT to_char(now() AT TIME ZONE 'UTC', 'HH24:MI:SS.MS')").scalar_one()
    assert now[:8] != "00:00:00", "a test run at midnight sharp cannot tell days from instants"
    return {"id": device_id, "photo": photo["id"], "now": now, "vote": vote}


SHOWN = {
    **READS,
    "sync": lambda p: "/api/v1/sync?limit=1000",
    "listing updated since": lambda p: f"/api/v1/devices?bbox={BOX}&updated_since=2026-01-01",
}


@pytest.mark.parametrize("endpoint", SHOWN)
def test_no_answer_tells_the_time_of_day(app, public_pin, endpoint):
    response = app.test_client().get(SHOWN[endpoint](public_pin))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    now = public_pin["now"]
    # The second of the request, which wrote the download files too (a GeoPackage stamps its
    # layers with the day they were written, not GDAL's instant).
    marks = ("10:31:07", now[:8])
    for time_of_day in marks:  # in text, files, tiles and images alike
        assert time_of_day.encode() not in response.data, (endpoint, time_of_day)


def test_the_device_gives_days_and_the_database_keeps_the_instants(app, public_pin, db):
    props = app.test_client().get(f"/api/v1/devices/{public_pin['id']}").get_json()["properties"]
    assert props["observed_at"] == "2026-06-01T00:00:00+00:00"
    for name in ("created_at", "updated_at", "last_confirmed_at"):
        assert props[name].endswith("T00:00:00+00:00"), name
    stored = db("SELECT observed_at FROM devices WHERE id = :id", id=public_pin["id"]).scalar()
    assert stored.isoformat() == "2026-06-01T10:31:07+00:00"  # for the rules that need it
    history = app.test_client().get(f"/api/v1/devices/{public_pin['id']}/history").get_json()
    assert {r["created_at"][10:] for r in history["revisions"]} == {"T00:00:00+00:00"}
    assert public_pin["vote"].get_json()["last_confirmed_at"].endswith("T00:00:00+00:00")


def test_filters_cannot_find_the_instant(app, public_pin):
    """Bisecting a filter's instant would tell the time a device changed to the second."""
    client = app.test_client()

    def listed(query: str) -> bool:
        features = client.get(f"/ogc/collections/devices/items?bbox={BOX}&{query}").get_json()
        return public_pin["id"] in {f["id"] for f in features["features"]}

    assert listed("datetime=2026-06-01")
    assert listed("datetime=2026-06-01T00:00:00Z")
    assert not listed("datetime=2026-06-01T10:31:07Z")
    assert not listed("filter=observed_at > TIMESTAMP('2026-06-01T10:31:06Z')")
    assert listed("filter=observed_at >= TIMESTAMP('2026-06-01T00:00:00Z')")
    # A device changed today is listed as changed since any instant of today, even a later one.
    last_second = "T23:59:59Z"
    day = client.get(f"/api/v1/devices/{public_pin['id']}").get_json()["properties"]
    since = day["updated_at"][:10] + last_second
    listing = client.get(f"/api/v1/devices?bbox={BOX}&updated_since={since}").get_json()
    assert public_pin["id"] in {f["id"] for f in listing["features"]}


def test_the_map_at_an_instant_is_the_map_at_the_end_of_its_day(app, public_pin):
    def count(at: str) -> int:
        body = app.test_client().get(f"/api/v1/stats/districts?level=quartier&at={at}").get_json()
        return body["districts"][0]["count"]

    # Observed at 10:31:07: a second before counts it as the end of that day does.
    assert count("2026-06-01T10:31:06Z") == count("2026-06-01") == 1
    assert count("2026-05-31T23:59:59Z") == 0


def test_a_deleted_device_answers_the_day_it_was_deleted(app, public_pin, moderator, as_user):
    url = f"/api/v1/devices/{public_pin['id']}"
    assert moderator.delete(url).status_code == 204
    client = app.test_client()
    for response in (
        client.get(url),
        client.get(f"{url}/view"),
        as_user().post(f"{url}/confirmations", json={"verdict": "still_there"}),
    ):
        assert response.status_code == 410
        assert response.get_json()["deleted_at"].endswith("T00:00:00+00:00")
        assert public_pin["now"][:8].encode() not in response.data
