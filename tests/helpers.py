"""Builders shared by the tests."""

import uuid

from sqlalchemy.dialects import postgresql

GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"
SHA = "ab" * 32  # a content address for photo rows that tests write directly


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


def add_photo(db, device_id, created_at, width=640, height=480) -> str:
    """An approved photo, uploaded (and listed with its device, if any) at CREATED_AT."""
    photo_id = str(uuid.uuid4())
    db(
        "INSERT INTO photos (id, device_id, full_sha256, large_sha256, thumbnail_sha256,"
        " width, height, created_at, listed_at)"
        " VALUES (:id, :device, :sha, :sha, :sha, :w, :h, :at,"
        " CASE WHEN CAST(:device AS uuid) IS NOT NULL THEN CAST(:at AS timestamptz) END)",
        id=photo_id,
        device=device_id,
        sha=SHA,
        w=width,
        h=height,
        at=created_at,
    )
    return photo_id


def as_text(statement) -> str:
    """The statement as SQL text for the test's connection (values inlined, colons escaped)."""
    sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return str(sql).replace(":", r"\:")


def plan_nodes(node: dict):
    """A node of an EXPLAIN (FORMAT JSON) plan and all the nodes below it, depth first."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)
