"""Hostile input: a clear 4xx problem, nothing stored, and text kept harmless in every output."""

import csv
import io
import math
import xml.etree.ElementTree as ET

import orjson
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.districts import district_feature, load, square, write_geojson
from tests.helpers import PROBLEM, feature, pin

SQL = "'; DROP TABLE devices; --"
HTML = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


@pytest.fixture
def client(moderator):
    return moderator


def stored(db, table: str) -> int:
    return db(f"SELECT count(*) FROM {table}").scalar_one()


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("path", ["/api/v1/auth/register", "/api/v1/devices"])
def test_deeply_nested_json_is_a_400(client, db, depth, path):
    body = '{"properties":' + "[" * depth + "]" * depth + "}"
    response = client.post(path, data=body, content_type="application/json")
    # An invalid body, not a body without its members.
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert "Invalid JSON" in response.get_json()["detail"]
    assert stored(db, "devices") == 0 and stored(db, "users") == 1  # the moderator only


@pytest.mark.parametrize("path", ["/api/v1/auth/tokens", "/api/v1/devices"])
def test_a_number_too_long_to_convert_is_a_400(client, db, path):
    """Python refuses to convert integers of more than 4,300 digits: an invalid body."""
    body = '{"properties": {"height": 1' + "0" * 5000 + "}}"
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert "Invalid JSON" in response.get_json()["detail"]
    assert stored(db, "devices") == 0


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/auth/tokens", '{"username": "a", "username": "b", "password": "x"}'),
        (
            "/api/v1/devices",
            '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.3, 48.8]},'
            ' "properties": {"kind": "camera", "kind": "microphone"}}',
        ),
    ],
)
def test_a_member_named_twice_in_one_object_is_a_400(client, db, path, body):
    """Parsers disagree on which of two same-named members counts: the body is refused, not
    stored as one of them."""
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400 and response.mimetype == PROBLEM
    name = "username" if "tokens" in path else "kind"
    assert response.get_json()["detail"] == (
        f'Invalid JSON body: one object names the member "{name}" twice.'
    )
    assert stored(db, "devices") == 0


def test_a_member_named_twice_among_many_is_found_at_once(client):
    """200,000 members (a body of 3 MB), the last one named twice: found in one pass (a search
    of each name among the others would hold the worker for minutes)."""
    members = ",".join(f'"k{i}": 0' for i in range(200_000))
    body = f'{{{members}, "k199999": 1}}'
    response = client.post("/api/v1/auth/tokens", data=body, content_type="application/json")
    assert response.get_json()["detail"] == (
        'Invalid JSON body: one object names the member "k199999" twice.'
    )


@pytest.mark.parametrize(
    "body,detail",
    [
        (b"", "Invalid JSON body: it is empty."),
        (
            b'{"username": "a",\n "password": }',
            "Invalid JSON body: Expecting value at line 2, column 14.",
        ),
        ('{"username": "é"}'.encode("latin-1"), "Invalid JSON body: it is not UTF-8 (byte 14)."),
        (b"[" * 100_000 + b"]" * 100_000, "Invalid JSON body: it nests too deeply."),
        (b"1" * 5000, "Invalid JSON body: it holds a number too long to read."),
        (
            b'{"username": "a',
            "Invalid JSON body: Unterminated string starting at line 1, column 14.",
        ),
    ],
)
def test_an_unreadable_body_is_told_what_is_wrong_with_it(client, body, detail):
    """Not only "invalid": what, and where, so that a client's developer can fix it."""
    response = client.post("/api/v1/auth/tokens", data=body, content_type="application/json")
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert response.get_json()["detail"] == detail


def test_a_nul_deep_in_a_body_names_its_field(client, db):
    body = feature(tags={"a": {"b": ["ok", "bad\x00"]}})
    response = client.post("/api/v1/devices", json=body)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "properties.tags.a.b.1"
    assert stored(db, "devices") == 0


def test_a_body_that_is_one_string_holding_a_nul_is_named_the_body(client):
    response = client.post("/api/v1/auth/tokens", json="\x00")
    assert response.status_code == 422 and response.mimetype == PROBLEM
    body = response.get_json()
    assert body["errors"][0]["field"] == "body" and body["detail"].startswith("body: ")


@pytest.mark.parametrize("text", ["bell\x07", "form\x0cfeed", "escape\x1b[31m", "not\ufffe"])
def test_text_xml_cannot_carry_is_refused_naming_its_field(client, db, text):
    """The OSM export is XML: a control character stored once would make every page of its
    area unreadable to JOSM. Tabs and line breaks are text."""
    for body, field in (
        (feature(operator=text), "properties.operator"),
        (feature(tags={f"k{text}": "v"}), f"properties.tags.k{text}"),
    ):
        response = client.post("/api/v1/devices", json=body)
        assert response.status_code == 422 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == field
    assert stored(db, "devices") == 0
    text = "Ville\tde Paris\r\nBureau 2"
    assert pin(client, operator=text)["properties"]["operator"] == text
    listing = client.get("/api/v1/devices?f=osm&bbox=2.3,48.8,2.4,48.9")
    assert ET.fromstring(listing.data).find(".//tag[@k='operator']").get("v") == text


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", ["direction", "angle", "height"])
def test_nan_and_infinities_are_refused_naming_their_field(client, db, number, name):
    """Python's JSON reads NaN and Infinity: each number field refuses them, none answers 500."""
    for value in (number, [number]) if name == "direction" else (number,):
        response = client.post("/api/v1/devices", json=feature(**{name: value}))
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["errors"][0]["field"] == f"properties.{name}"
    device = pin(client)
    url = f"/api/v1/devices/{device['id']}"
    etag = client.get(url).headers["ETag"]
    patched = client.patch(url, json={"properties": {name: number}}, headers={"If-Match": etag})
    assert patched.status_code == 422
    assert stored(db, "devices") == 1


def test_integers_past_every_range_are_refused_or_compared(client, db):
    device = pin(client)
    revision = client.post(f"/api/v1/devices/{device['id']}/revert", json={"revision": 2**63})
    assert revision.status_code == 422 and revision.mimetype == PROBLEM
    assert client.get("/api/v1/devices?limit=1" + "0" * 30).status_code == 400
    for collection, name in (("devices", "height"), ("districts", "population")):
        for value in (2**63, -(2**63) - 1, 10**300):
            response = client.get(
                f"/ogc/collections/{collection}/items", query_string={"filter": f"{name} = {value}"}
            )
            assert response.status_code == 200, response.get_json()
            assert response.get_json()["numberReturned"] == 0
        too_large = client.get(
            f"/ogc/collections/{collection}/items", query_string={"filter": f"{name} = {10**400}"}
        )
        assert too_large.status_code == 400 and "too large" in too_large.get_json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/tiles/devices/40/1099511627776/1.mvt",
        "/tiles/devices/14/99999999999999999999/1.mvt",
        "/api/v1/devices?bbox=1e308,0,1e309,1",
        "/api/v1/devices?bbox=-180,-90,180,90&cluster=true&zoom=99",
        "/ogc/collections/devices/items?bbox=0,0,1,1,2,2,3",
        "/api/v1/stats/grid?bbox=-180,-90,180,90&cell=10",
    ],
)
def test_huge_boxes_and_tile_coordinates_are_refused(client, path):
    response = client.get(path)
    assert 400 <= response.status_code < 500 and response.mimetype == PROBLEM


def test_deep_and_long_cql2_is_a_400(client):
    deep = "NOT (" * 3_000 + "height > 1" + ")" * 3_000
    long = " OR ".join(f"height = {n}" for n in range(3_000))
    for text in (deep, long, "height > 1 AND " * 2_000 + "height > 1"):
        response = client.get("/ogc/collections/devices/items", query_string={"filter": text})
        assert response.status_code == 400 and response.mimetype == PROBLEM


def test_sql_and_html_text_round_trips_unchanged_in_every_output(client):
    device = pin(client, notes=SQL + HTML, operator=HTML)
    read = client.get(f"/api/v1/devices/{device['id']}").get_json()["properties"]
    assert read["notes"] == SQL + HTML and read["operator"] == HTML
    listed = client.get("/api/v1/devices").get_json()["features"][0]["properties"]
    assert listed["notes"] == SQL + HTML
    ogc = client.get("/ogc/collections/devices/items").get_json()["features"][0]
    assert ogc["properties"]["operator"] == HTML
    osm = ET.fromstring(client.get("/api/v1/devices?f=osm").data)  # well-formed XML
    values = {tag.get("v") for tag in osm.iter("tag")}
    assert HTML in values


def test_csv_cells_never_start_a_spreadsheet_formula(client, isolated, tmp_path):
    names = ['=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)", "\tTab", 'Plain, "quoted"']
    load(
        isolated,
        write_geojson(
            tmp_path / "d.geojson",
            [
                district_feature(f"D{n}", square(2.0 + n, 48.0, 0.5), name=name)
                for n, name in enumerate(names)
            ],
        ),
    )
    body = client.get("/api/v1/stats/districts?level=quartier&f=csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    written = [row["name"] for row in sorted(rows, key=lambda row: row["code"])]
    assert written == ["'" + name for name in names[:5]] + [names[5]]


def test_a_filter_too_slow_to_evaluate_is_a_400_that_frees_the_worker(app, client, db, monkeypatch):
    db(
        "INSERT INTO devices (id, geom, kind, review_status) SELECT gen_random_uuid(), "
        "ST_MakePoint(2.3 + i / 1e5, 48.85), 'camera', 'approved' FROM generate_series(1, 3000) i"
    )
    circle = [
        (
            2.31 + 0.01 * math.cos(2 * math.pi * n / 400),
            48.85 + 0.01 * math.sin(2 * math.pi * n / 400),
        )
        for n in range(400)
    ]
    ring = ", ".join(f"{lon} {lat}" for lon, lat in [*circle, circle[0]])
    heavy = f"S_INTERSECTS(geometry, POLYGON(({ring})))"
    monkeypatch.setitem(app.config, "FILTER_TIMEOUT_MS", 1)
    # A page as large as the matches: every device is tested against the polygon (a small
    # page could fill before the 1 ms run out).
    response = client.get(
        "/ogc/collections/devices/items", query_string={"filter": heavy, "limit": 10000}
    )
    assert response.status_code == 400 and response.get_json()["errors"][0]["field"] == "filter"
    assert "too long" in response.get_json()["detail"]
    monkeypatch.setitem(app.config, "FILTER_TIMEOUT_MS", 60_000)
    assert client.get("/ogc/collections/devices/items?limit=1").status_code == 200  # still served


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/devices?kind=",
        "/ogc/collections/devices/items?kind=",
        "/tiles/devices.json?kind=",
        "/api/v1/districts?parent=",
        "/api/v1/stats/districts?level=quartier&status=",
        "/api/v1/stats/compare?codes=",
    ],
)
def test_an_empty_list_parameter_is_refused_rather_than_ignored(client, path):
    """Said once, in the parameter's own words where it has them (compare's codes)."""
    response = client.get(path)
    assert response.status_code == 400 and response.mimetype == PROBLEM
    [error] = response.get_json()["errors"]
    assert error["field"] == path.rsplit("&", 1)[-1].split("?")[-1][:-1]
    assert error["message"].startswith("Give ")


@pytest.mark.parametrize("moment", ["2099-01-01T00:00:00Z", "0024-05-01T00:00:00Z"])
def test_a_device_cannot_have_been_seen_in_the_future_or_centuries_ago(client, db, moment):
    response = client.post("/api/v1/devices", json=feature(observed_at=moment))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "properties.observed_at"
    assert stored(db, "devices") == 0


def test_problems_about_a_header_say_it_is_one(client):
    response = client.post("/api/v1/devices", json=feature(), headers={"Idempotency-Key": ""})
    assert response.get_json()["errors"][0] == {
        "field": "Idempotency-Key",
        "location": "headers",
        "message": "An Idempotency-Key has 1 to 255 characters.",
    }


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/stats/districts?level=commune&parent=13&parent=69", "parent"),
        ("/api/v1/devices?limit=5&limit=500", "limit"),
        ("/api/v1/stats/grid?bbox=2.29,48.79,2.33,48.82&cell=250&cell=100", "cell"),
        # The OGC API's items take bbox more than once (all hold, as GDAL sends them).
        ("/api/v1/devices?bbox=2,48,3,49&bbox=0,0,1,1", "bbox"),
        ("/ogc/collections/devices/items?limit=5&limit=50", "limit"),
    ],
)
def test_a_parameter_given_twice_is_refused_not_read_as_its_first_value(client, url, field):
    response = client.get(url)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    (error,) = response.get_json()["errors"]
    assert (error["field"], error["location"]) == (field, "query")
    assert "more than once" in error["message"]


@pytest.mark.parametrize(
    "host",
    [
        "a@evil.example",
        "evil.example/../x",
        '"><script>',
        "a b",
        "x:y",
        "a\\b",
        # No DNS name: Werkzeug routed them nowhere, a 400 that named nothing.
        f"{'a' * 64}.com",
        f"{'a' * 64}.com:8000",
        ".".join(["a" * 63] * 4) + ".com",
        # Two Host headers, as a WSGI server that joins repeated headers passes them on.
        "vigie.example.org,evil.example",
    ],
)
def test_a_host_header_that_is_no_host_name_is_a_400(client, host):
    """Links are written under the Host: `a@evil.example` made them `http:///api/v1/...`."""
    response = client.get("/api/v1/devices?limit=1", headers={"Host": host})
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert response.get_json()["errors"][0] == {
        "field": "Host",
        "location": "headers",
        "message": response.get_json()["detail"],
    }


@pytest.mark.parametrize(
    "host",
    [
        "vigie.example.org",
        "vigie.example.org.:8443",
        "[2001:db8::1]:5000",
        "192.0.2.1",
        f"{'a' * 63}.example.org",
    ],
)
def test_host_names_and_addresses_are_served(client, host):
    response = client.get("/api/v1/devices?limit=1", headers={"Host": host})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["links"][0]["href"].startswith(f"http://{host}/api/v1/devices")


def without_host(app, protocol: str):
    """The answer to a GET of the listing sent in PROTOCOL with no Host header (a test client
    always sends one)."""
    environ = EnvironBuilder(path="/api/v1/devices", query_string="limit=1").get_environ()
    del environ["HTTP_HOST"]
    environ["SERVER_PROTOCOL"] = protocol
    body, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), orjson.loads(b"".join(body))


def test_an_http_1_1_request_without_host_is_a_400_naming_it(app):
    """RFC 9112, 3.2: links were written under the address the server listens on."""
    status, problem = without_host(app, "HTTP/1.1")
    assert status == 400
    assert problem["errors"][0]["field"] == "Host" and "Host header" in problem["detail"]


def test_an_http_1_0_request_without_host_gets_links_under_the_servers_name(app):
    status, page = without_host(app, "HTTP/1.0")
    assert status == 200
    assert page["links"][0]["href"].startswith("http://localhost/api/v1/devices")


def test_a_container_name_is_served_as_before(client):
    """Health checks and proxies may pass on a container's name (`vigie_api:8000`), which
    Werkzeug does not read as a host name: answered, not refused."""
    response = client.get("/api/v1/health", headers={"Host": "vigie_api:8000"})
    assert response.status_code == 200, response.get_json()
