"""Who may see a pending pin (service/visibility.py), through every endpoint that can reveal one.

When a new endpoint can reveal a device, add it to READS below (the sync feed, which serves
committed changes only, has its own test at the end).
"""

from datetime import UTC, datetime

import pytest

from service.geo.keys import KEY_ZOOM, mercator_pixel
from service.visibility import ANONYMOUS, Viewer, may_see, may_see_upload
from tests import images
from tests.declared import load_sites, site, write_sites
from tests.districts import district_feature, load, rectangle, write_geojson
from tests.helpers import feature, new_id, pin

LON, LAT = 2.3522, 48.8566
BOX = "2.34,48.85,2.36,48.86"


def tile_at(z: int) -> str:
    x, y = mercator_pixel(LON, LAT)
    shift = KEY_ZOOM - z
    return f"/tiles/devices/{z}/{x >> shift}/{y >> shift}.mvt"


@pytest.fixture
def pending(app, as_user, isolated, tmp_path):
    """A pending camera with a photo, pinned by a new contributor, inside a district."""
    load(
        isolated,
        write_geojson(
            tmp_path / "d.geojson", [district_feature("P", rectangle(2.34, 48.85, 2.36, 48.86))]
        ),
        level="quartier",
    )
    # A declared site right there: a public answer about it must not name the pending pin.
    load_sites(isolated, write_sites(tmp_path / "declared.geojson", [site("D", LON, LAT)]))
    author = as_user("contributor")
    photo = images.uploaded(author, images.plain_photo())
    device_id = new_id()
    body = feature(LON, LAT, device_id=device_id, notes="a secret pin") | {
        "photo_ids": [photo["id"]]
    }
    created = author.post("/api/v1/devices", json=body)
    assert created.status_code == 201
    assert created.get_json()["properties"]["review_status"] == "pending"
    return {"id": device_id, "photo": photo["id"], "author": author}


# What a reader is answered for each endpoint, given the pin: (path, how to tell it shows).
READS = {
    "by id": lambda p: f"/api/v1/devices/{p['id']}",
    "history": lambda p: f"/api/v1/devices/{p['id']}/history",
    "view cone": lambda p: f"/api/v1/devices/{p['id']}/view",
    "photo": lambda p: f"/api/v1/photos/{p['photo']}",
    "photo image": lambda p: f"/api/v1/photos/{p['photo']}/thumbnail",
    "listing": lambda p: f"/api/v1/devices?bbox={BOX}",
    "clusters": lambda p: f"/api/v1/devices?bbox={BOX}&cluster=true&zoom=15",
    "OSM export": lambda p: f"/api/v1/devices?bbox={BOX}&f=osm",
    "view cones": lambda p: f"/api/v1/views?bbox={BOX}",
    "OGC items": lambda p: f"/ogc/collections/devices/items?bbox={BOX}",
    "OGC item": lambda p: f"/ogc/collections/devices/items/{p['id']}",
    "tile": lambda p: tile_at(15),
    "tile detail": lambda p: tile_at(20),
    "statistics": lambda p: "/api/v1/stats/districts?level=quartier",
    "statistics CSV": lambda p: "/api/v1/stats/districts?level=quartier&f=csv",
    "grid": lambda p: f"/api/v1/stats/grid?bbox={BOX}&cell=500",
    "grid of kept counts": lambda p: f"/api/v1/stats/grid?bbox={BOX}&cell=250",
    "timeline": lambda p: "/api/v1/stats/timeline?district=P&interval=year",
    # From this year on: a line even with no change (its count the 8th column, as above).
    "timeline CSV": lambda p: (
        f"/api/v1/stats/timeline?district=P&interval=year&f=csv&since={datetime.now(UTC).date()}"
    ),
    "OGC districts": lambda p: "/ogc/collections/districts/items",
    "declared sites": lambda p: f"/api/v1/declared/sites?bbox={BOX}",
    "OGC declared sites": lambda p: f"/ogc/collections/declared_sites/items?bbox={BOX}",
    "declared device": lambda p: f"/api/v1/declared/devices/{p['id']}",
    "declared statistics": lambda p: "/api/v1/stats/districts?level=quartier&declared=true",
    "GeoPackage download": lambda p: "/ogc/collections/devices/download",
    "FlatGeobuf download": lambda p: "/ogc/collections/devices/download?f=fgb",
    "GeoPackage download named by its extension": lambda p: (
        "/ogc/collections/devices/download.gpkg"
    ),
    "FlatGeobuf download named by its extension": lambda p: "/ogc/collections/devices/download.fgb",
}
# Files read as bytes: the pin would show as its id or notes, stored as text inside.
BINARY_FILES = ("application/geopackage+sqlite3", "application/flatgeobuf")


def reveals(response, pin: dict) -> bool:
    """Whether an answer shows the pin: its id, its photo, its notes, or a count of one."""
    if response.status_code in (204, 401, 403, 404):
        return False
    assert response.status_code == 200, (response.request.path, response.get_data(as_text=True))
    if response.mimetype == "application/vnd.mapbox-vector-tile":
        return len(response.data) > 0
    if response.mimetype in BINARY_FILES:
        marks = (pin["id"], pin["photo"], "a secret pin")
        return any(mark.encode() in response.data for mark in marks)
    text = response.get_data(as_text=True)
    if pin["id"] in text or pin["photo"] in text or "a secret pin" in text:
        return True
    if response.mimetype == "application/vnd.openstreetmap.data+xml":  # ids of its own
        return "<node" in text
    if response.mimetype == "text/csv":  # one district or period: its count, the 8th column
        return text.splitlines()[1].split(",")[7] != "0"
    return any(mark in text.replace(" ", "") for mark in ('"count":1', '"devices":1'))


@pytest.mark.parametrize("endpoint", READS)
def test_anonymous_readers_never_see_a_pending_pin(app, pending, endpoint):
    response = app.test_client().get(READS[endpoint](pending))
    assert not reveals(response, pending), endpoint


@pytest.mark.parametrize("endpoint", READS)
def test_other_contributors_never_see_a_pending_pin(as_user, pending, endpoint):
    response = as_user("contributor").get(READS[endpoint](pending))
    assert not reveals(response, pending), endpoint


# Endpoints that show a pin to whoever may see it (its author, moderators); the others are
# public answers, shared by caches, that show public pins only whoever asks.
PERSONAL = ("by id", "history", "view cone", "photo", "listing", "clusters", "declared device")


@pytest.mark.parametrize("endpoint", PERSONAL)
def test_the_author_and_moderators_see_it(as_user, pending, endpoint):
    for reader in (pending["author"], as_user("moderator")):
        response = reader.get(READS[endpoint](pending))
        assert reveals(response, pending), endpoint


@pytest.mark.parametrize("endpoint", sorted(set(READS) - set(PERSONAL) - {"photo image"}))
def test_public_answers_are_the_same_for_the_author(pending, endpoint):
    response = pending["author"].get(READS[endpoint](pending))
    assert not reveals(response, pending), endpoint


def test_a_pin_beside_it_is_not_told_of_it(as_user, pending, moderator, db):
    """The duplicate check offers only pins the caller may see: another contributor's pin
    nearby is saved (both then await review), and the 409 of its author lists it."""
    response = as_user("contributor").post("/api/v1/devices", json=feature(LON, LAT + 1e-5))
    assert response.status_code == 201, response.get_json()
    assert pending["id"] not in response.get_data(as_text=True)
    mine = pending["author"].post("/api/v1/devices", json=feature(LON, LAT + 1e-5))
    assert mine.status_code == 409
    assert pending["id"] in {c["id"] for c in mine.get_json()["candidates"]}
    queue = moderator.get("/api/v1/moderation/queue").get_json()["items"]
    assert any(item["duplicate_candidates"] for item in queue)  # moderators see both


def test_the_rule_in_python_and_in_sql_agree(app, pending, db, isolated, as_user):
    from sqlalchemy import select

    from service.models import Device
    from service.visibility import visible_clause

    moderator = as_user("moderator").user
    stranger = as_user("contributor").user
    author = pending["author"].user
    viewers = [ANONYMOUS, Viewer.of(stranger), Viewer.of(author), Viewer.of(moderator)]
    for viewer in viewers:
        row = db(
            "SELECT review_status, created_by FROM devices WHERE id = :id", id=pending["id"]
        ).one()
        in_python = may_see(row.review_status, row.created_by, viewer)
        statement = select(Device.id).where(Device.id == pending["id"], visible_clause(viewer))
        in_sql = isolated.execute(statement).first() is not None
        assert in_python == in_sql == (viewer in viewers[2:]), viewer
    assert may_see_upload(author.id, Viewer.of(author))
    assert may_see_upload(author.id, Viewer.of(moderator))
    assert not may_see_upload(author.id, Viewer.of(stranger))
    assert not may_see_upload(author.id, ANONYMOUS)


def test_the_sync_feed_follows_the_same_rule(committed, app, as_user):
    author = as_user("contributor")
    photo = images.uploaded(author, images.plain_photo())
    device_id = new_id()
    body = feature(LON, LAT, device_id=device_id) | {"photo_ids": [photo["id"]]}
    assert author.post("/api/v1/devices", json=body).status_code == 201

    def synced(reader) -> set:
        features = reader.get("/api/v1/sync?limit=100").get_json()["features"]
        return {f["id"] for f in features}

    assert device_id not in synced(app.test_client())
    assert device_id not in synced(as_user("contributor"))
    assert device_id in synced(author)
    moderator_copy = as_user("moderator").get("/api/v1/sync?limit=100").get_json()
    (mine,) = [f for f in moderator_copy["features"] if f["id"] == device_id]
    assert mine["properties"]["photos"][0]["full"].startswith("http://localhost/api/v1/photos/")


def test_a_photos_sender_is_not_told_where_a_pin_they_no_longer_see_stands(as_user, moderator, db):
    """A photo added to a public device that has gone back to review since (another's pin
    awaiting it again): the sender's export keeps the photo, not where that pin is."""
    sender = as_user("contributor")
    device = pin(moderator, LON, LAT, kind="alpr")
    images.uploaded(sender, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    db("UPDATE devices SET review_status = 'pending' WHERE id = :id", id=device["id"])
    [photo] = sender.get("/api/v1/me/export").get_json()["photos"]
    assert photo["pin"] is None
