"""Every bad input gets a clear 4xx problem+json naming the field, and stores nothing."""

import gzip
import io
import json

import marshmallow
import pytest

from tests.helpers import PROBLEM, assert_a_problem_of_the_contract, feature, pin


@pytest.fixture
def client(moderator):
    """Device tests act as a moderator, whose pins are published directly."""
    return moderator


@pytest.fixture
def stored(client, db):
    """One device already stored, and a function telling whether storage is as it was."""
    device = pin(client, notes="keep me")

    def unchanged():
        rows = db("SELECT id::text, version, notes FROM devices").all()
        return [tuple(r) for r in rows] == [(device["id"], 1, "keep me")]

    return unchanged


def assert_problem(response, status, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    assert_a_problem_of_the_contract(body)
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, fields
        assert field in body["detail"] or body["errors"][0]["field"] == field
    return body


def with_geometry(geometry):
    body = feature()
    body["geometry"] = geometry
    return body


BAD_FEATURES = {
    "wrong geometry type": (
        with_geometry({"type": "LineString", "coordinates": [[2, 48], [3, 49]]}),
        "geometry.type",
    ),
    "longitude out of range": (feature(190, 48), "geometry.coordinates"),
    "latitude out of range": (feature(2, -91), "geometry.coordinates"),
    "lat/lon swapped beyond range": (feature(48.85, 120.0), "geometry.coordinates"),
    "single coordinate": (
        with_geometry({"type": "Point", "coordinates": [2]}),
        "geometry.coordinates",
    ),
    "coordinates not numbers": (
        with_geometry({"type": "Point", "coordinates": ["a", "b"]}),
        "geometry.coordinates.0",
    ),
    "missing geometry": ({"type": "Feature", "properties": {"kind": "camera"}}, "geometry"),
    "not a Feature": ({**feature(), "type": "FeatureCollection"}, "type"),
    "unknown kind": (feature(kind="drone"), "properties.kind"),
    "missing kind": ({**feature(), "properties": {}}, "properties.kind"),
    "direction 400": (feature(direction=400), "properties.direction"),
    "direction in a list out of range": (feature(direction=[90, -1]), "properties.direction"),
    "direction not a number": (feature(direction="north"), "properties.direction"),
    "fractional direction": (feature(direction=12.5), "properties.direction"),
    "a direction twice": (feature(direction=[90, 180, 90]), "properties.direction"),
    "blank operator": (feature(operator="  "), "properties.operator"),
    "invisible operator": (feature(operator="\u200b\u00a0\ufeff"), "properties.operator"),
    "notes of direction marks": (feature(notes="\u200e\u202e "), "properties.notes"),
    "empty notes": (feature(notes=""), "properties.notes"),
    "angle zero": (feature(angle=0), "properties.angle"),
    "height negative": (feature(height=-2), "properties.height"),
    "unknown camera_type": (feature(camera_type="bullet"), "properties.camera_type"),
    "unknown property": (feature(colour="red"), "properties.colour"),
    "2 MB notes": (feature(notes="x" * 2_000_000), "properties.notes"),
    "too many tags": (feature(tags={f"k{i}": "v" for i in range(51)}), "properties.tags"),
    "tag value too long": (feature(tags={"k": "v" * 256}), "properties.tags.k.value"),
    # Named as the tags, not as "properties.tags..key".
    "tag of no key": (feature(tags={"": "x"}), "properties.tags"),
    "source not a URL": (feature(source="javascript:alert(1)"), "properties.source"),
    "observed_at not a date": (feature(observed_at="yesterday"), "properties.observed_at"),
    "angle as a string": (feature(angle="45"), "properties.angle"),
    "coordinates as strings": (
        {**feature(), "geometry": {"type": "Point", "coordinates": ["2.3", "48"]}},
        "geometry.coordinates.0",
    ),
    "observed_at before year 1 in UTC": (
        feature(observed_at="0001-01-01T00:00:00+05:00"),
        "properties.observed_at",
    ),
    # ISO 8601 forms Python reads but RFC 3339 has not (at= and CQL2 refuse them too).
    **{
        f"observed_at {form}": (feature(observed_at=form), "properties.observed_at")
        for form in ("2026-W49-6", "20261205T000000Z", "20261205", "2026-12-05T10", "2026-339")
    },
    "id not a UUID": ({**feature(), "id": "1; DROP TABLE devices"}, "id"),
    # Foreign members are ignored (RFC 7946, 6.1), but not a field put where it is lost.
    "a property beside properties": ({**feature(), "operator": "Ville"}, "operator"),
    "photo_id for photo_ids": ({**feature(), "photo_id": "a"}, "photo_id"),
    "properties not an object": ({**feature(), "properties": ["camera"]}, "properties"),
}


@pytest.mark.parametrize("body,field", BAD_FEATURES.values(), ids=BAD_FEATURES.keys())
def test_bad_feature_is_422_naming_the_field(client, stored, body, field):
    response = client.post("/api/v1/devices", json=body)
    assert_problem(response, 422, field)
    assert stored()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_coordinates_are_refused(client, stored, literal):
    raw = json.dumps(feature()).replace("2.3522", literal)
    response = client.post("/api/v1/devices", data=raw, content_type="application/json")
    assert_problem(response, 422, "geometry.coordinates.0")
    assert stored()


def test_body_that_is_not_json_is_400(client, stored):
    response = client.post("/api/v1/devices", data="{not json", content_type="application/json")
    assert_problem(response, 400)
    assert stored()


@pytest.mark.parametrize(
    "media_type",
    ["text/plain", "application/vnd.example+json", "application/merge-patch+json"],
)
def test_body_declared_as_another_type_is_415(client, stored, media_type):
    """Only application/json and application/geo+json are read as JSON: Werkzeug would take
    any `+json` type for it."""
    response = client.post("/api/v1/devices", data=json.dumps(feature()), content_type=media_type)
    assert_problem(response, 415, "Content-Type")
    assert stored()


def test_a_json_patch_document_is_415_not_read_as_a_feature(client, db):
    device = pin(client, notes="keep me")
    etag = client.get(f"/api/v1/devices/{device['id']}").headers["ETag"]
    patch = [{"op": "replace", "path": "/properties/notes", "value": "x"}]
    response = client.patch(
        f"/api/v1/devices/{device['id']}",
        data=json.dumps(patch),
        content_type="application/json-patch+json",
        headers={"If-Match": etag},
    )
    assert_problem(response, 415, "Content-Type")
    assert db("SELECT notes FROM devices").scalar_one() == "keep me"


@pytest.mark.parametrize("media_type", ["application/geo+json", "application/json; charset=utf-8"])
def test_json_is_read_under_either_of_its_names(client, media_type):
    response = client.post("/api/v1/devices", data=json.dumps(feature()), content_type=media_type)
    assert response.status_code == 201, response.get_json()


# A chunked body as gunicorn hands it over: no length, a stream that ends with the body.
CHUNKED = {
    "headers": {"Transfer-Encoding": "chunked"},
    "environ_overrides": {"wsgi.input_terminated": True},
}


@pytest.mark.parametrize("chunked", [False, True])
def test_body_over_the_size_limit_is_413(client, stored, chunked):
    """Sent with a Content-Length, or chunked without one (which Werkzeug would cut at the
    limit, leaving JSON that does not parse)."""
    huge = json.dumps(feature(notes="x" * (5 * 1024 * 1024))).encode()
    how = {"input_stream": io.BytesIO(huge), **CHUNKED} if chunked else {"data": huge}
    response = client.post("/api/v1/devices", content_type="application/json", **how)
    body = assert_problem(response, 413)
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    assert body["detail"] == f"The request body is larger than the {limit:,} bytes accepted."
    assert body["max_bytes"] == limit
    assert stored()


def test_a_chunked_body_under_the_limit_is_read_whole(client, as_user):
    body = json.dumps(feature(notes="x" * 4000)).encode()
    response = as_user().post(
        "/api/v1/devices?force=true",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        **CHUNKED,
    )
    assert response.status_code == 201 and response.get_json()["properties"]["notes"] == "x" * 4000


def test_json_that_is_not_an_object_is_422(client, stored):
    response = client.post("/api/v1/devices", json=[1, 2, 3])
    assert_problem(response, 422)
    # The body as a whole (not marshmallow's internal "_schema").
    assert [error["field"] for error in response.get_json()["errors"]] == [None]
    assert stored()


def test_patch_with_bad_values_changes_nothing(client, stored, db):
    device_id = db("SELECT id FROM devices").scalar_one()
    url = f"/api/v1/devices/{device_id}"
    etag = client.get(url).headers["ETag"]
    bad = {"properties": {"notes": "changed", "direction": 400}}
    assert_problem(
        client.patch(url, json=bad, headers={"If-Match": etag}), 422, "properties.direction"
    )
    moved = {"geometry": {"type": "Point", "coordinates": [400, 0]}}
    assert_problem(
        client.patch(url, json=moved, headers={"If-Match": etag}), 422, "geometry.coordinates"
    )
    misplaced = {"notes": "changed", "properties": {"kind": "alpr"}}
    assert_problem(client.patch(url, json=misplaced, headers={"If-Match": etag}), 422, "notes")
    assert stored()


BAD_QUERIES = {
    "unknown parameter": ("colour=red", "colour"),
    "bbox with three numbers": ("bbox=1,2,3", "bbox"),
    "bbox with words": ("bbox=a,b,c,d", "bbox"),
    "bbox out of range": ("bbox=-200,0,10,10", "bbox"),
    "bbox upside down": ("bbox=0,10,10,0", "bbox"),
    "bbox NaN": ("bbox=nan,0,1,1", "bbox"),
    "unknown kind": ("kind=camera,drone", "kind"),
    "unknown status": ("status=sleeping", "status"),
    "updated_since not a date": ("updated_since=last-week", "updated_since"),
    "updated_since a week date": ("updated_since=2026-W49-6", "updated_since"),
    "malformed cursor": ("cursor=%%%%", "cursor"),
    "cursor of the wrong length": ("cursor=YWJj", "cursor"),
    "oversized cursor": ("cursor=" + "A" * 500, "cursor"),
}


@pytest.mark.parametrize("query,field", BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
def test_bad_query_is_400_naming_the_parameter(client, stored, query, field):
    response = client.get(f"/api/v1/devices?{query}")
    assert_problem(response, 400, field)
    assert stored()


def test_a_wrong_value_of_a_list_is_named_by_its_parameter_and_quoted(client):
    """A client matching errors on `kind` finds them there, whichever value was wrong."""
    response = client.get("/api/v1/devices?kind=camera,drone")
    (error,) = assert_problem(response, 400, "kind")["errors"]
    assert error["field"] == "kind" and error["location"] == "query"
    assert error["message"].startswith("'drone': Must be one of: camera,")
    # A value given twice is said once; a long one is cut, and says so.
    twice = client.get("/api/v1/devices?kind=drone,drone")
    assert len(assert_problem(twice, 400, "kind")["errors"]) == 1
    long = client.get("/api/v1/devices?kind=" + "d" * 100)
    assert assert_problem(long, 400, "kind")["errors"][0]["message"].startswith(
        "'" + "d" * 40 + "…': Must be one of"
    )


def test_hostile_strings_are_stored_verbatim(client, db):
    hostile = "'); DROP TABLE devices; -- <script>alert(1)</script> \u202e"
    created = pin(client, operator=hostile, notes=hostile, tags={"note": hostile})
    assert created["properties"]["operator"] == hostile
    assert db("SELECT count(*) FROM devices").scalar_one() == 1


def test_unknown_route_and_method_are_problems(client):
    assert not assert_problem(client.get("/api/v1/nothing-here"), 404).get("errors")
    assert_problem(client.put("/api/v1/devices"), 405)


MALFORMED_PATH_IDS = {
    "device": ("GET", "/api/v1/devices/not-an-id", "device_id"),
    "device's history": ("GET", "/api/v1/devices/12345/history", "device_id"),
    "photo rendition": ("GET", "/api/v1/photos/x1/thumbnail", "photo_id"),
    "token, by its only method": ("DELETE", "/api/v1/auth/tokens/abc", "token_id"),
}


@pytest.mark.parametrize("method,path,field", MALFORMED_PATH_IDS.values(), ids=MALFORMED_PATH_IDS)
def test_an_id_that_is_no_uuid_is_a_404_naming_it(client, method, path, field):
    body = assert_problem(client.open(path, method=method), 404, field)
    assert body["errors"][0]["location"] == "view_args"
    assert "is a UUID" in body["detail"]


def test_a_path_of_no_route_names_no_id(client):
    """Only a path that is a route's but for its id names it."""
    for path in ("/api/v1/devices/not-an-id/nothing", "/api/v1/photos/x1/huge"):
        assert not assert_problem(client.get(path), 404).get("errors")


NUL_INPUTS = {
    "notes": ("POST", "/api/v1/devices", feature(notes="a\x00b"), 422, "properties.notes"),
    "tag key": (
        "POST",
        "/api/v1/devices",
        feature(tags={"a\x00": "b"}),
        422,
        "properties.tags.a\x00",
    ),
    "tag value": ("POST", "/api/v1/devices", feature(tags={"a": "\x00"}), 422, "properties.tags.a"),
    "query value": ("GET", "/api/v1/devices?kind=cam%00era", None, 400, "kind"),
    "ogc property": ("GET", "/ogc/collections/devices/items?operator=a%00b", None, 400, "operator"),
    "path": ("PUT", "/api/v1/users/a%00b/role", {"role": "moderator"}, 400, "username"),
    "district code": ("GET", "/api/v1/districts/a%00b", None, 400, "code"),
}


@pytest.mark.parametrize("method,url,body,status,field", NUL_INPUTS.values(), ids=NUL_INPUTS.keys())
def test_nul_characters_are_refused_not_a_500(client, stored, method, url, body, status, field):
    response = client.open(url, method=method, json=body)
    assert_problem(response, status)
    assert response.get_json()["errors"][0]["field"] == field
    assert stored()


LONE_SURROGATES = {
    "operator": ("/api/v1/devices", feature(operator="x\ud800y"), "properties.operator"),
    "tag value": ("/api/v1/devices", feature(tags={"k": "\udc00"}), "properties.tags.k"),
    "password": (
        "/api/v1/auth/register",
        {"username": "someone", "password": "purple tractor \ud800 sings loudly"},
        "password",
    ),
    "tag key": (
        "/api/v1/devices",
        feature(tags={"a\ud800": "x"}),
        "properties.tags.a\\ud800",  # named as JSON writes it
    ),
    "token name": (
        "/api/v1/auth/tokens",
        {"username": "x", "password": "y", "name": "\ud800"},
        "name",
    ),
}


@pytest.mark.parametrize("url,body,field", LONE_SURROGATES.values(), ids=LONE_SURROGATES.keys())
def test_lone_surrogates_are_refused_not_a_500(client, stored, url, body, field):
    """JSON may write half a surrogate pair ("\\ud800"), which no UTF-8 text can hold."""
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert_problem(response, 422, field)
    assert stored()


def test_the_body_of_a_read_is_left_unread(client):
    """A GET's body means nothing to the service: however unstorable or encoded, it is not
    read."""
    body = json.dumps({"a": "\ud800"})
    response = client.get("/api/v1/kinds", data=body, content_type="application/json")
    assert response.status_code == 200
    encoded = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    response = client.get("/api/v1/kinds", data=gzip.compress(body.encode()), headers=encoded)
    assert response.status_code == 200
    huge = io.BytesIO(json.dumps({"a": "x" * (5 * 1024 * 1024)}).encode())
    response = client.get(
        "/api/v1/kinds", input_stream=huge, content_type="application/json", **CHUNKED
    )
    assert response.status_code == 200 and huge.tell() == 0


@pytest.mark.parametrize(
    "body",
    [
        # A surrogate written raw in "UTF-8" (which has none), and bodies in UTF-16.
        json.dumps(feature(notes="x")).encode().replace(b'"x"', b'"\xed\xa0\x80"'),
        json.dumps(feature(notes="\udc00")).encode("utf-16-le"),
        json.dumps(feature(notes="\u0000")).encode("utf-16-le"),
    ],
    ids=["raw surrogate", "utf-16 surrogate", "utf-16 nul"],
)
def test_a_body_that_is_not_utf8_is_invalid_json(client, stored, body):
    response = client.post("/api/v1/devices", data=body, content_type="application/json")
    assert_problem(response, 400)
    assert "Invalid JSON" in response.get_json()["detail"]
    assert stored()


@pytest.mark.parametrize("body", [b"", b"  \r\n"], ids=["empty", "blank"])
def test_an_empty_body_declared_as_json_is_not_json(client, stored, body):
    response = client.post("/api/v1/devices", data=body, content_type="application/json")
    assert_problem(response, 400)
    assert "Invalid JSON" in response.get_json()["detail"]
    assert stored()


def test_escaped_surrogate_pairs_are_text(client):
    """A pair (how JSON may write an emoji) is one character, stored as it is."""
    body = json.dumps(feature(notes="\U0001f6f0"))
    assert "\\ud83d\\udef0" in body
    response = client.post("/api/v1/devices", data=body, content_type="application/json")
    assert (
        response.status_code == 201 and response.get_json()["properties"]["notes"] == "\U0001f6f0"
    )


def test_a_raw_nul_in_the_query_is_refused_too(client, stored):
    """gunicorn refuses such a request line, but a laxer server may pass it on."""
    response = client.get(
        "/ogc/collections/devices/items", environ_overrides={"QUERY_STRING": "operator=a\x00b"}
    )
    assert_problem(response, 400)
    assert response.get_json()["errors"][0]["field"] == "operator"
    assert stored()


def test_query_schemas_are_made_once_not_for_every_request(client, stored, monkeypatch):
    """Checking a query must not build its schema again (webargs would, copying each field):
    and a schema made once keeps checking each request on its own."""
    made = []
    make = marshmallow.Schema.__init__

    def counted(schema, *args, **kwargs):
        made.append(type(schema).__name__)
        make(schema, *args, **kwargs)

    monkeypatch.setattr(marshmallow.Schema, "__init__", counted)
    assert client.get("/api/v1/devices?kind=camera&limit=5").status_code == 200
    assert_problem(client.get("/api/v1/devices?limit=0"), 400, "limit")
    assert client.get("/api/v1/devices?limit=5").status_code == 200
    assert made == []


@pytest.mark.parametrize("coding", ["gzip", "br", "x-unknown"])
def test_a_compressed_body_is_415_naming_content_encoding(client, stored, coding):
    """Bodies are read as sent: a gzipped one is not "invalid JSON", a plain one labelled br
    is not taken as plain."""
    body = json.dumps(feature()).encode()
    response = client.post(
        "/api/v1/devices",
        data=gzip.compress(body) if coding == "gzip" else body,
        headers={"Content-Encoding": coding, "Content-Type": "application/json"},
    )
    assert_problem(response, 415, "Content-Encoding")
    assert response.get_json()["errors"][0]["location"] == "headers"
    assert response.headers["Accept-Encoding"] == "identity"
    assert stored()


@pytest.mark.parametrize(
    ("tags", "said"),
    [
        ({"camera:type": "dome"}, "The tag 'camera:type' stands for the field camera_type"),
        ({"height": "999"}, "The tag 'height' stands for the field height"),
        ({"survey:date": "3000-01-01"}, "The tag 'survey:date' stands for the field observed_at"),
        ({"surveillance:type": "camera"}, "The tag 'surveillance:type' stands for the field kind"),
    ],
)
def test_a_tag_that_a_field_says_is_refused(client, stored, tags, said):
    """Given as tags, they would be exported to OpenStreetMap over the fields left empty."""
    sent = feature(kind="microphone", tags={"note": "kept", **tags})
    body = assert_problem(client.post("/api/v1/devices", json=sent), 422, "properties.tags")
    assert said in body["detail"]
    assert stored()


def test_a_source_tag_stays_free(client):
    """OSM's `source=survey` is no web address for the field `source`."""
    created = client.post("/api/v1/devices", json=feature(tags={"source": "survey"}))
    assert created.status_code == 201 and created.get_json()["properties"]["tags"] == {
        "source": "survey"
    }


def test_an_imported_tag_of_a_field_may_be_sent_back_unchanged_not_changed(client, db):
    """The OSM import keeps a value it cannot read (`camera:direction=banana`) as a tag: a
    patch of the tags that keeps it passes; one that changes it is refused."""
    device = pin(client)
    db('UPDATE devices SET tags = \'{"camera:direction": "banana"}\'::jsonb')
    url = f"/api/v1/devices/{device['id']}"

    def patched(tags):
        etag = client.get(url).headers["ETag"]
        body = {"properties": {"tags": tags}}
        return client.patch(url, json=body, headers={"If-Match": etag})

    kept = patched({"camera:direction": "banana", "note": "new"})
    assert kept.status_code == 200, kept.get_json()
    assert_problem(patched({"camera:direction": "90", "note": "new"}), 422, "properties.tags")
    assert db("SELECT tags FROM devices").scalar_one() == {
        "camera:direction": "banana",
        "note": "new",
    }


@pytest.mark.parametrize("named", ["00000000-0000-4000-8000-000000000000", "not-a-uuid"])
def test_a_patch_naming_another_device_is_refused(client, db, named):
    """A body's id that is not the URL's tells a client's mix-up of two devices."""
    device = pin(client, notes="keep me")
    url = f"/api/v1/devices/{device['id']}"
    etag = client.get(url).headers["ETag"]
    body = {"id": named, "properties": {"notes": "b"}}
    assert_problem(client.patch(url, json=body, headers={"If-Match": etag}), 422, "id")
    assert db("SELECT notes FROM devices").scalar_one() == "keep me"
    same = client.patch(url, json={**body, "id": device["id"]}, headers={"If-Match": etag})
    assert same.status_code == 200 and same.get_json()["properties"]["notes"] == "b"


UNKNOWN = "0b5a4f1e-6c1d-4c8e-9a57-3f0d2e4b7c11"


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"/api/v1/devices/{UNKNOWN}", "device_id"),
        ("DELETE", f"/api/v1/devices/{UNKNOWN}", "device_id"),
        ("GET", f"/api/v1/devices/{UNKNOWN}/view", "device_id"),
        ("GET", f"/api/v1/devices/{UNKNOWN}/history", "device_id"),
        ("GET", f"/api/v1/declared/devices/{UNKNOWN}", "device_id"),
        ("GET", f"/api/v1/photos/{UNKNOWN}", "photo_id"),
        ("GET", f"/api/v1/photos/{UNKNOWN}/thumbnail", "photo_id"),
        ("DELETE", f"/api/v1/auth/tokens/{UNKNOWN}", "token_id"),
    ],
)
def test_an_unknown_id_is_a_404_naming_it(client, method, path, field):
    """As a 400 does, and as the districts and declared sites did already: a client branches
    on the field, whatever the resource."""
    response = client.open(path, method=method)
    assert response.status_code == 404 and response.mimetype == PROBLEM
    [error] = response.get_json()["errors"]
    assert (error["field"], error["location"]) == (field, "view_args"), error


def test_a_device_with_no_view_cone_is_a_404_naming_it(client):
    microphone = pin(client, kind="microphone")
    response = client.get(f"/api/v1/devices/{microphone['id']}/view")
    assert response.status_code == 404
    assert response.get_json()["errors"][0]["field"] == "device_id"
