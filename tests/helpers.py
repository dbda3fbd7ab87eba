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


def pin(client, lon=2.3522, lat=48.8566, *, force=True, **properties):
    """Create a device and return its Feature, failing loudly if creation did not succeed.

    `force` skips the duplicate check, so that tests may pin several devices at one place.
    """
    url = "/api/v1/devices?force=true" if force else "/api/v1/devices"
    response = client.post(url, json=feature(lon, lat, **properties))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_id() -> str:
    return str(uuid.uuid4())
