"""View cones: one camera's field of view, and all cones in a bbox, as GeoJSON."""

import math

import pytest
from shapely.geometry import Point, shape

from tests.helpers import GEOJSON, PROBLEM, new_id, pin


@pytest.fixture
def client(moderator):
    """These tests pin as a moderator, whose pins are published directly."""
    return moderator


def cone(client, device_id):
    response = client.get(f"/api/v1/devices/{device_id}/view")
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == GEOJSON
    return response.get_json()


def test_a_fixed_camera_sees_a_sector_around_its_direction(client):
    camera = pin(client, 2.35, 48.85, direction=[90], angle=60, camera_type="fixed")
    feature = cone(client, camera["id"])
    assert feature["id"] == camera["id"]
    props = feature["properties"]
    assert (props["shape"], props["fov"], props["radius_m"]) == ("sector", 60, 30)
    polygon = shape(feature["geometry"])
    assert polygon.bounds[0] == pytest.approx(2.35, abs=1e-7)  # starts at the camera, looks east
    assert polygon.centroid.x > 2.35
    assert abs(polygon.centroid.y - 48.85) < 0.00005


def test_a_dome_or_a_camera_without_direction_sees_a_disc(client):
    dome = pin(client, 2.35, 48.85, direction=[90], angle=60, camera_type="dome")
    blind = pin(client, 2.35, 48.85)
    for device in (dome, blind):
        props = cone(client, device["id"])["properties"]
        assert props["shape"] == "disc" and props["fov"] is None
    disc = shape(cone(client, dome["id"])["geometry"])
    assert disc.contains(Point(2.35, 48.85))
    assert cone(client, dome["id"])["properties"]["radius_m"] == 20


def test_two_directions_make_two_sectors(client):
    camera = pin(client, 2.35, 48.85, direction=[0, 180], angle=40)
    geometry = cone(client, camera["id"])["geometry"]
    assert geometry["type"] == "MultiPolygon" and len(geometry["coordinates"]) == 2


def test_cones_in_a_bbox(client):
    inside = pin(client, 2.35, 48.85, direction=[10], angle=50)
    pin(client, 2.35, 48.85, kind="microphone")
    pin(client, 3.0, 48.0)
    response = client.get("/api/v1/views?bbox=2.3,48.8,2.4,48.9")
    assert response.status_code == 200 and response.mimetype == GEOJSON
    body = response.get_json()
    assert [f["id"] for f in body["features"]] == [inside["id"]]
    assert (body["numberReturned"], body["truncated"]) == (1, False)


def test_radius_follows_configuration(app, client):
    camera = pin(client, 2.35, 48.85, camera_type="panning")
    before = app.config["VIEW_RADII"]
    app.config["VIEW_RADII"] = "panning=80"
    try:
        feature = cone(client, camera["id"])
    finally:
        app.config["VIEW_RADII"] = before
    disc = shape(feature["geometry"])
    metres_per_degree = 111_320 * math.cos(math.radians(48.85))
    assert (disc.bounds[2] - 2.35) * metres_per_degree == pytest.approx(80, rel=0.01)


@pytest.mark.parametrize(
    ("make", "status"),
    [("unknown", 404), ("microphone", 404), ("deleted", 410)],
)
def test_no_cone_for_missing_blind_or_deleted_devices(client, db, make, status):
    device_id = new_id()
    if make == "microphone":
        device_id = pin(client, kind="microphone")["id"]
    if make == "deleted":
        device_id = pin(client)["id"]
        client.delete(f"/api/v1/devices/{device_id}")
    before = db("SELECT count(*), max(version) FROM devices").one()
    response = client.get(f"/api/v1/devices/{device_id}/view")
    assert response.status_code == status and response.mimetype == PROBLEM
    assert db("SELECT count(*), max(version) FROM devices").one() == before


@pytest.mark.parametrize(
    ("query", "field"), [("", "bbox"), ("bbox=2,48,3,49&limit=0", "limit"), ("bbox=x", "bbox")]
)
def test_bad_bulk_queries_are_400(client, query, field):
    response = client.get(f"/api/v1/views?{query}")
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert field in [e["field"] for e in response.get_json()["errors"]]


@pytest.mark.parametrize(("lon", "direction"), [(179.9999, 90), (-179.9999, 270)])
def test_a_cone_across_the_antimeridian_is_cut_there(client, lon, direction):
    """RFC 7946 (3.1.9): one polygon spanning 180 and -180 would be drawn round the world."""
    camera = pin(client, lon, -18, direction=[direction], angle=60, camera_type="fixed")
    geometry = cone(client, camera["id"])["geometry"]
    assert geometry["type"] == "MultiPolygon" and len(geometry["coordinates"]) == 2
    for part in geometry["coordinates"]:
        polygon = shape({"type": "Polygon", "coordinates": part})
        west, _south, east, _north = polygon.bounds
        assert west >= -180 and east <= 180 and east - west < 0.001
    sides = sorted(shape(geometry).geoms, key=lambda part: part.bounds[0])
    assert sides[0].bounds[0] == -180 or sides[0].bounds[2] <= -179.999
    assert sides[1].bounds[2] == 180
    found = client.get("/api/v1/views?bbox=179.99,-18.01,-179.99,-17.99").get_json()
    assert [feature["id"] for feature in found["features"]] == [camera["id"]]
    assert found["features"][0]["geometry"] == geometry


def test_the_cone_of_a_merged_camera_names_the_device_it_was_merged_into(client):
    kept, merged = pin(client, 2.35, 48.85)["id"], pin(client, 2.3501, 48.85)["id"]
    assert client.post(f"/api/v1/devices/{kept}/merge", json={"other": merged}).status_code == 200
    response = client.get(f"/api/v1/devices/{merged}/view")
    assert response.status_code == 410 and response.get_json()["merged_into"] == kept


@pytest.mark.parametrize(
    ("lon", "lat"), [(0.0, 89.99995), (0.0, -89.99995), (0.0, 90), (179.9999, 0), (-180, 0.01)]
)
def test_a_cone_over_a_pole_or_the_antimeridian_breaks_no_listing(client, lon, lat):
    """Sectors projected over a pole or across the antimeridian have longitudes that jump round
    the world: their union still holds, and the camera's cone, and the listings holding it,
    answer (across the antimeridian, as its two sides, with the area of the cone)."""
    camera = pin(client, lon, lat, direction=[0, 180], angle=300, camera_type="fixed")
    geometry = cone(client, camera["id"])["geometry"]
    assert geometry["type"] in ("Polygon", "MultiPolygon")
    if abs(lat) < 1:
        sides = shape(geometry)
        assert sides.is_valid and len(sides.geoms) == 2
        assert sides.bounds[0] >= -180 and sides.bounds[2] <= 180
    near = "179,-1,-179,1" if abs(lat) < 1 else ("-10,89,10,90" if lat > 0 else "-10,-90,10,-89")
    for query in (f"bbox={near}", "bbox=-180,-90,180,90&limit=10000"):
        response = client.get(f"/api/v1/views?{query}")
        assert response.status_code == 200, response.get_json()
        assert camera["id"] in [feature["id"] for feature in response.get_json()["features"]]
