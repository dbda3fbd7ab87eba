"""Builders shared by the tests."""

import functools
import json
import uuid

import jsonschema
from sqlalchemy.dialects import postgresql

from service.config import PROJECT_DIR

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


def as_draft4(schema):
    """An OpenAPI 3.0 schema as JSON Schema draft 4 reads it: `nullable` as a type of null."""
    if isinstance(schema, list):
        return [as_draft4(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {name: as_draft4(value) for name, value in schema.items() if name != "nullable"}
    if schema.get("nullable") and "type" in schema:
        converted["type"] = [schema["type"], "null"]
    return converted


@functools.cache
def problem_validator() -> jsonschema.Draft4Validator:
    spec = json.loads((PROJECT_DIR / "openapi" / "openapi.json").read_text())
    schema = {"$ref": "#/components/schemas/Problem", "components": spec["components"]}
    return jsonschema.Draft4Validator(as_draft4(schema))


def assert_a_problem_of_the_contract(body: dict) -> None:
    """BODY as the committed spec's Problem describes it, which names every member it may
    hold: a client generated from the spec fails on a member it does not name."""
    errors = sorted(problem_validator().iter_errors(body), key=str)
    assert not errors, [error.message for error in errors]
