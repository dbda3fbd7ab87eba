"""The committed OpenAPI document is the one the application generates."""

import json

import schemathesis

from service.config import PROJECT_DIR
from tests import images
from tests.helpers import pin

COMMITTED = PROJECT_DIR / "openapi" / "openapi.json"
WRITES = ("post", "put", "patch", "delete")
WAL_POSITION_PARAMETER = {"$ref": "#/components/parameters/Vigie-WAL-Position"}
WAL_POSITION_HEADER = {"$ref": "#/components/headers/Vigie-WAL-Position"}
IDEMPOTENCY_KEY_PARAMETER = {"$ref": "#/components/parameters/Idempotency-Key"}
# Whose answers are never stored, so that they take no Idempotency-Key: a token, a new
# pseudonym under its client's address, a deleted account.
UNKEYED = {
    ("post", "/api/v1/auth/tokens"),
    ("post", "/api/v1/auth/register"),
    ("delete", "/api/v1/me"),
}


def committed_operations():
    """(method, path, operation) of every operation of the committed document."""
    spec = json.loads(COMMITTED.read_text())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                yield method, path, operation


def test_committed_spec_matches_the_application(app):
    generated = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    committed = json.loads(COMMITTED.read_text())
    assert committed == json.loads(json.dumps(generated)), (
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    )


def test_every_operation_has_a_summary_and_error_responses(app):
    for method, path, operation in committed_operations():
        assert operation.get("summary"), f"{method.upper()} {path} has no summary"
        errors = [code for code in operation["responses"] if code.startswith(("4", "5"))]
        assert errors or "default" in operation["responses"], f"{method} {path}: no errors"


def test_spec_and_docs_are_served(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    assert spec.get_json()["info"]["title"] == "Vigie"
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"/api/docs/assets/swagger-ui-bundle.js" in docs.data
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000


def test_every_read_accepts_a_wal_position_and_documents_its_400():
    for method, path, operation in committed_operations():
        if method == "get":
            assert WAL_POSITION_PARAMETER in operation["parameters"], f"GET {path}"
            assert "400" in operation["responses"], f"GET {path}"


def test_every_write_answers_its_wal_position_and_takes_an_idempotency_key():
    writes = [(m, p, o) for m, p, o in committed_operations() if m in WRITES]
    assert len(writes) > 10
    for method, path, operation in writes:
        where = f"{method.upper()} {path}"
        successes = [r for code, r in operation["responses"].items() if code.startswith("2")]
        assert successes, where
        for response in successes:
            assert response["headers"]["Vigie-WAL-Position"] == WAL_POSITION_HEADER, where
        keyed = IDEMPOTENCY_KEY_PARAMETER in operation.get("parameters", [])
        assert keyed == ((method, path) not in UNKEYED), where
        if keyed:
            assert {"409", "422"} <= operation["responses"].keys(), where
            assert all("Idempotent-Replayed" in r["headers"] for r in successes), where


def test_every_operation_documents_the_refusals_any_request_may_meet():
    """The default rate limit counts every route: 429, with when to come back and the limit
    that refused; a request line or a header may be too long for the server (414, 431,
    tests/test_server.py);
    a body may be no JSON, or too large."""
    refusal = json.loads(COMMITTED.read_text())["components"]["responses"]["TOO_MANY_REQUESTS"]
    assert set(refusal["headers"]) == {
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    }
    for method, path, operation in committed_operations():
        where = f"{method.upper()} {path}"
        assert {"414", "429", "431"} <= operation["responses"].keys(), where
        own = operation["responses"]["429"]
        assert "$ref" in own or set(own["headers"]) == set(refusal["headers"]), where
        if "requestBody" in operation:
            assert {"400", "413"} <= operation["responses"].keys(), where


def test_conditional_requests_are_in_the_document():
    """A client generated from the document must be able to send If-Match where the API asks
    for it (428, 412), and to read the ETags and 304s it answers."""
    operations = {(m, p): o for m, p, o in committed_operations()}
    if_match = {
        ("patch", "/api/v1/devices/{device_id}"): True,
        ("delete", "/api/v1/devices/{device_id}"): False,
        ("post", "/api/v1/devices/{device_id}/review"): False,
        ("post", "/api/v1/devices/{device_id}/photos"): False,
    }
    for (method, path), required in if_match.items():
        header = [p for p in operations[method, path]["parameters"] if p.get("name") == "If-Match"]
        assert len(header) == 1 and header[0]["required"] is required, (method, path)
    for path in (
        "/api/v1/devices/{device_id}",
        "/api/v1/stats/districts",
        "/api/v1/stats/compare",
        "/api/v1/stats/grid",
        "/api/v1/stats/timeline",
        "/ogc/collections/{collection_id}/items/{feature_id}",
    ):
        responses = operations["get", path]["responses"]
        assert "304" in responses and "ETag" in responses["200"]["headers"], path
    assert (
        "ETag" in operations["patch", "/api/v1/devices/{device_id}"]["responses"]["200"]["headers"]
    )
    statistics = operations["get", "/api/v1/stats/districts"]["responses"]["200"]["headers"]
    assert {"X-Attribution", "X-Licence", "X-Cache", "X-Statistics-Computed-At"} <= set(statistics)


def test_a_download_documents_its_query_and_the_headers_of_ranges():
    """Its f= and level= (which a generated client and the contract test send) beside Range
    and the preconditions it honours, and the answers they lead to."""
    [(_method, _path, operation)] = [
        (m, p, o)
        for m, p, o in committed_operations()
        if (m, p) == ("get", "/ogc/collections/{collection_id}/download")
    ]
    names = {p.get("name") for p in operation["parameters"]}
    assert {"f", "level", "Range", "If-Range", "If-None-Match", "If-Match"} <= names
    assert {"200", "206", "304", "412", "416"} <= set(operation["responses"])


def test_answers_the_contract_test_seldom_meets_follow_the_document(moderator, client):
    """Answers schemathesis rarely generates (a dense clustered listing, queryables, a tile,
    an image, a refused query) validated against the committed document."""
    schema = schemathesis.openapi.from_path(COMMITTED)
    for n in range(3):  # two devices a few metres apart cluster; the third stands alone
        pin(moderator, 2.35 + n * n * 0.00002, 48.85, kind="camera" if n else "microphone")
    pin(moderator, 2.45, 48.9)
    photo = images.uploaded(moderator, images.plain_photo())
    listing = client.get("/api/v1/devices?cluster=true&zoom=12&bbox=2.2,48.8,2.5,48.95")
    assert any(f["properties"].get("cluster") for f in listing.get_json()["features"])
    answers = {
        ("/api/v1/devices", "GET"): listing,
        ("/ogc/collections/{collection_id}/queryables", "GET"): client.get(
            "/ogc/collections/devices/queryables"
        ),
        ("/tiles/devices/{z}/{x}/{y}.mvt", "GET"): client.get("/tiles/devices/14/8298/5637.mvt"),
        ("/api/v1/photos/{photo_id}/{rendition}", "GET"): moderator.get(
            f"/api/v1/photos/{photo['id']}/thumbnail"  # a loose upload: its uploader's
        ),
        ("/api/v1/stats/grid", "GET"): client.get("/api/v1/stats/grid?bbox=2,48,3&cell=250"),
    }
    for (path, method), response in answers.items():
        assert response.status_code in (200, 400), (path, response.status_code)
        schema[path][method].validate_response(response)
    assert answers[("/api/v1/stats/grid", "GET")].status_code == 400


def test_the_tags_limit_is_published_as_a_count_of_members():
    """maxLength bounds a string: generated clients and validators would never apply it to an
    object."""
    schemas = json.loads(COMMITTED.read_text())["components"]["schemas"]
    for name in ("DeviceProperties", "DevicePropertiesPatch", "DevicePropertiesOut"):
        tags = schemas[name]["properties"]["tags"]
        assert tags["maxProperties"] == 50 and "maxLength" not in tags, name


def test_a_feature_body_may_be_declared_as_geojson_or_json():
    """The service reads both; a generated client may send either."""
    spec = json.loads(COMMITTED.read_text())
    for method in ("post", "patch"):
        path = "/api/v1/devices" if method == "post" else "/api/v1/devices/{device_id}"
        content = spec["paths"][path][method]["requestBody"]["content"]
        assert set(content) == {"application/json", "application/geo+json"}, method
        assert content["application/json"] == content["application/geo+json"]


def test_the_idempotency_key_is_published_without_commas():
    """A key with a comma is refused (a header sent twice arrives joined by commas): the
    document says so, so that a client built from it never sends one."""
    for method, path, operation in committed_operations():
        for parameter in operation.get("parameters", []):
            if parameter.get("name") == "Idempotency-Key":
                assert parameter["schema"]["pattern"] == "^[^,]+$", (method, path)
