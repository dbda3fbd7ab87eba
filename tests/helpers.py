"""Builders shared by the tests."""

import uuid

GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"


def feature(lon=2.3522, lat=48.8566, *, device_id=None, **properties):
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"kind": "camera", **properties},
    }
    if device_id is not None:
        body["id"] = str(device_id)
    return body


def pin(client, lon=2.3522, lat=48.8566, **properties):
    """Create a device and return its Feature, failing loudly if creation did not succeed."""
    response = client.post("/api/v1/devices", json=feature(lon, lat, **properties))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_id() -> str:
    return str(uuid.uuid4())
