"""GET /api/v1/devices?f=osm: devices as OSM XML that JOSM opens as new nodes."""

import xml.etree.ElementTree as ET

import pytest

from service.osm.tags import device_columns
from tests.helpers import PROBLEM, pin


@pytest.fixture
def client(moderator):
    """These tests pin as a moderator, whose pins are published directly."""
    return moderator


OSM_XML = "application/vnd.openstreetmap.data+xml"


def nodes(response) -> list[dict]:
    root = ET.fromstring(response.data)
    assert root.tag == "osm" and root.get("version") == "0.6"
    return [
        {
            "id": int(node.get("id")),
            "lon": float(node.get("lon")),
            "lat": float(node.get("lat")),
            "tags": {tag.get("k"): tag.get("v") for tag in node.iter("tag")},
        }
        for node in root.iter("node")
    ]


def test_devices_are_exported_with_osm_tags_and_negative_ids(client, app):
    pin(
        client,
        2.29451234567,
        48.8584,
        kind="alpr",
        direction=[90, 270],
        camera_type="fixed",
        height=4.5,
        operator="Ville de Paris",
        operator_type="public",
        tags={"name": "Pont d'Iéna"},
    )
    pin(client, 2.35, 48.85, kind="microphone", notes="private note")
    response = client.get("/api/v1/devices?f=osm")
    assert response.status_code == 200 and response.mimetype == OSM_XML
    assert "vigie-devices.osm" in response.headers["Content-Disposition"]
    # Credited, in the headers and on the root as OpenStreetMap's API credits its own data.
    credit = app.config["DEVICES_ATTRIBUTION"]
    assert response.headers["X-Attribution"] == credit
    assert 'rel="license"' in response.headers["Link"]
    root = ET.fromstring(response.data)
    assert root.get("copyright").startswith(credit)
    assert root.get("license").startswith("https://")
    exported = sorted(nodes(response), key=lambda n: n["lon"])
    assert all(n["id"] < 0 for n in exported) and exported[0]["id"] != exported[1]["id"]
    assert exported[0]["lon"] == 2.2945123
    assert exported[0]["tags"] == {
        "man_made": "surveillance",
        "surveillance:type": "ALPR",
        "camera:direction": "90;270",
        "camera:type": "fixed",
        "height": "4.5",
        "operator": "Ville de Paris",
        "operator:type": "public",
        "name": "Pont d'Iéna",
    }
    assert exported[1]["tags"] == {"man_made": "surveillance", "surveillance:type": "microphone"}
    # What is exported reads back as the same device.
    assert device_columns(exported[0]["tags"])["direction"] == [90, 270]


def test_source_and_observation_date_are_exported(client):
    source = "https://opendata.example/cameras.csv"
    pin(client, 2.35, 48.85, source=source, observed_at="2026-03-02T17:45:00+01:00")
    (node,) = nodes(client.get("/api/v1/devices?f=osm"))
    assert node["tags"]["source"] == source
    assert node["tags"]["survey:date"] == "2026-03-02"
    assert device_columns(node["tags"])["source"] == source


def test_bbox_and_filters_apply_and_imported_nodes_are_left_out(client, db):
    pin(client, 2.35, 48.85)
    pin(client, 4.83, 45.76)
    pin(client, 2.36, 48.86, kind="alpr")
    db(
        "INSERT INTO devices (id, geom, kind, osm_id, osm_version) "
        "VALUES (gen_random_uuid(), ST_SetSRID(ST_MakePoint(2.34, 48.85), 4326), 'camera', 9, 1)"
    )
    response = client.get("/api/v1/devices?f=osm&bbox=2.3,48.8,2.4,48.9&kind=camera")
    exported = nodes(response)
    assert [(n["lon"], n["lat"]) for n in exported] == [(2.35, 48.85)]
    bounds = ET.fromstring(response.data).find("bounds")
    assert (bounds.get("minlon"), bounds.get("maxlat")) == ("2.3", "48.9")


def test_only_devices_standing_there_now_are_exported(client, db):
    """A node says a device exists: removed and planned ones are left out, and those the
    community found gone, whatever the filters ask (an empty file when they ask only for
    those)."""
    pin(client, 2.35, 48.85)
    pin(client, 2.351, 48.85, status="unknown")
    pin(client, 2.352, 48.85, status="removed")
    pin(client, 2.353, 48.85, status="planned")
    gone = pin(client, 2.354, 48.85)  # found gone by the community
    db("UPDATE devices SET verification = 'removed' WHERE id = :id", id=gone["id"])
    export = "/api/v1/devices?f=osm&bbox=2.3,48.8,2.4,48.9"
    assert [n["lon"] for n in nodes(client.get(export))] == [2.35, 2.351]
    assert [n["lon"] for n in nodes(client.get(f"{export}&status=removed,unknown"))] == [2.351]
    assert nodes(client.get(f"{export}&status=removed,planned")) == []
    assert nodes(client.get(f"{export}&verification=removed")) == []


def test_a_box_across_the_antimeridian_is_exported_with_bounds_josm_reads(client):
    """OSM's bounds have no way round the antimeridian: min above max would be an empty or
    broken area. They span every longitude instead, and both sides' nodes are exported."""
    pin(client, 179.5, -16.8)
    pin(client, -179.5, -16.8)
    response = client.get("/api/v1/devices?f=osm&bbox=179,-17,-179,-16")
    assert sorted(n["lon"] for n in nodes(response)) == [-179.5, 179.5]
    bounds = ET.fromstring(response.data).find("bounds")
    assert (bounds.get("minlon"), bounds.get("maxlon")) == ("-180.0", "180.0")
    assert (bounds.get("minlat"), bounds.get("maxlat")) == ("-17.0", "-16.0")


def test_pages_are_linked_and_cached(client):
    for n in range(3):
        pin(client, 2.3 + n / 100, 48.85)
    first = client.get("/api/v1/devices?f=osm&limit=2")
    assert len(nodes(first)) == 2
    next_url = first.headers["Link"].split(">")[0].lstrip("<").removeprefix("http://localhost")
    rest = client.get(next_url)
    assert len(nodes(rest)) == 1
    assert not [link for link in rest.headers.getlist("Link") if 'rel="next"' in link]
    seen = {(n["lon"], n["lat"]) for n in nodes(first) + nodes(rest)}
    assert len(seen) == 3
    # Files of several pages open together: no node id is used twice, and a device keeps its.
    node_ids = [n["id"] for n in nodes(first) + nodes(rest)]
    assert len(set(node_ids)) == 3 and all(int(i) < 0 for i in node_ids)
    assert [n["id"] for n in nodes(client.get("/api/v1/devices?f=osm"))] == node_ids
    again = client.get(
        "/api/v1/devices?f=osm&limit=2", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_an_unknown_format_is_400(client):
    response = client.get("/api/v1/devices?f=kml")
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["field"] == "f"
