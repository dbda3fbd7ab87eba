"""What OGC API Features clients rely on: the API definition, tolerant documents, feature
schemas, CQL2 JSON, CASEI and temporal operators."""

import json
import shutil
import subprocess

import pytest

from tests.districts import district_feature, load, rectangle, write_geojson
from tests.helpers import GEOJSON, PROBLEM, pin

ITEMS = "/ogc/collections/devices/items"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


@pytest.fixture
def client(moderator):
    """These tests pin as a moderator, whose pins are published directly."""
    return moderator


@pytest.fixture
def devices(client):
    return {
        "louvre": pin(client, 2.3376, 48.8606, operator="Ville de Paris", height=4,
                      observed_at="2026-03-01T10:00:00Z")["id"],
        "bercy": pin(client, 2.3826, 48.8400, kind="alpr", operator="RATP",
                     observed_at="2026-05-10T08:30:00Z")["id"],
        "nation": pin(client, 2.3959, 48.8483, kind="microphone", operator="VILLE DE PARIS")["id"],
    }  # fmt: skip


def ids(response) -> set[str]:
    assert response.status_code == 200, response.get_json()
    return {f["id"] for f in response.get_json()["features"]}


def links_by_rel(body) -> dict:
    return {link["rel"]: link for link in body["links"]}


def relative(href: str) -> str:
    return href.removeprefix("http://localhost")


class TestApiDefinition:
    def test_the_landing_page_answers_with_a_trailing_slash(self, client):
        assert client.get("/ogc/").get_json() == client.get("/ogc").get_json()

    def test_a_collection_and_its_items_answer_with_a_trailing_slash(self, client):
        """GDAL asks for `collections/devices/` when given an `OAPIF:` URL ending with one."""
        for url in ("/ogc/collections/devices", "/ogc/collections/devices/items"):
            with_slash, without = client.get(f"{url}/").get_json(), client.get(url).get_json()
            with_slash.pop("links"), without.pop("links")  # self names the URL asked
            assert with_slash == without
        unknown = client.get("/ogc/collections/nothing/items/")
        assert unknown.status_code == 404
        assert unknown.get_json()["errors"][0]["field"] == "collection_id"

    def test_service_desc_is_an_openapi_document_of_the_ogc_paths_alone(self, client):
        service_desc = links_by_rel(client.get("/ogc").get_json())["service-desc"]
        assert service_desc["type"] == OPENAPI
        response = client.get(relative(service_desc["href"]))
        assert response.status_code == 200 and response.mimetype == OPENAPI.split(";")[0]
        assert response.content_type.replace(" ", "").endswith("version=3.0")
        document = response.get_json()
        assert document["servers"] == [{"url": "http://localhost/ogc"}]
        assert "/collections/devices/items" in document["paths"]
        assert "/" in document["paths"] and "/conformance" in document["paths"]
        assert not any(path.startswith(("/ogc", "/api/v1")) for path in document["paths"])

    def test_items_parameters_are_declared_with_their_default_limit(self, client):
        document = client.get("/ogc/api").get_json()
        shared = document["components"]["parameters"]  # headers of every read, by $ref
        parameters = {
            p["name"]: p
            for p in (
                shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                for p in document["paths"]["/collections/devices/items"]["get"]["parameters"]
            )
        }
        assert {"kind", "operator", "filter", "filter-lang", "bbox", "datetime"} <= set(parameters)
        assert "Vigie-WAL-Position" in parameters
        assert parameters["limit"]["schema"]["default"] == 100
        assert parameters["limit"]["schema"]["maximum"] == 10_000  # served as such beyond
        assert "cql2-json" in parameters["filter-lang"]["schema"]["enum"]

    @pytest.mark.parametrize(
        "url",
        ["/ogc", "/ogc/api", "/ogc/conformance", "/ogc/collections", "/ogc/collections/devices"],
    )
    def test_documents_ignore_the_parameters_of_items_but_refuse_others(self, client, url):
        # GDAL repeats the query string of `OAPIF:https://host/ogc?filter=...` everywhere.
        query = {"filter": "kind = 'alpr'", "filter-lang": "cql2-text", "kind": "alpr", "limit": 5}
        assert client.get(url, query_string=query).status_code == 200
        refused = client.get(url, query_string={**query, "colour": "red"})
        assert refused.status_code == 400 and refused.mimetype == PROBLEM

    def test_one_feature_ignores_the_parameters_of_items_but_refuses_others(self, client, devices):
        """GDAL fetches one feature (`-where "id = '...'"`) with its URL's query string too."""
        url = f"{ITEMS}/{devices['louvre']}"
        query = {"filter": "kind = 'alpr'", "filter-lang": "cql-text", "kind": "alpr", "limit": 5}
        response = client.get(url, query_string=query)
        assert response.status_code == 200 and response.get_json()["id"] == devices["louvre"]
        projected = client.get(url, query_string={**query, "crs": f"{EPSG}3857"})
        assert projected.headers["Content-Crs"] == f"<{EPSG}3857>"
        refused = client.get(url, query_string={**query, "colour": "red"})
        assert refused.status_code == 400 and refused.mimetype == PROBLEM


class TestParameters:
    def test_bbox_of_six_numbers_ignores_heights(self, client, devices):
        four = ids(client.get(f"{ITEMS}?bbox=2.33,48.85,2.39,48.87"))
        assert four == {devices["louvre"]}
        assert ids(client.get(f"{ITEMS}?bbox=2.33,48.85,-10,2.39,48.87,100")) == four

    @pytest.mark.parametrize(
        "bbox", ["2.33,48.85,0,2.39,48.87", "2.33,48.85,100,2.39,48.87,0", "1,2,x,3,4,5"]
    )
    def test_malformed_bbox_with_heights_is_400(self, client, db, bbox):
        response = client.get(f"{ITEMS}?bbox={bbox}")
        assert response.status_code == 400 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == "bbox"


def cql(client, text, language="cql2-text"):
    return client.get(ITEMS, query_string={"filter": text, "filter-lang": language})


class TestCql2:
    @pytest.mark.parametrize("language", ["cql2-text", "cql-text"])
    @pytest.mark.parametrize("space", ["\n", "\r\n", "\t", " \n  ", "\v", "\u00a0", "\u3000"])
    def test_line_breaks_separate_words_as_spaces_do(self, client, devices, language, space):
        """A filter written on several lines (read from a file: `curl --data-urlencode
        filter@file`, with its last line's end), or with Unicode's spaces (a no-break space a
        word processor put): CQL2's whitespace, not an error."""
        text = f"kind = 'alpr'{space}AND{space}height IS NULL{space}"
        one_line = cql(client, "kind = 'alpr' AND height IS NULL", language)
        response = cql(client, text, language)
        assert response.status_code == 200, response.get_json()
        assert ids(response) == ids(one_line) and ids(response)

    def test_cql2_json_comparisons_logic_and_bbox_in_standard_order(self, client, devices):
        text = {
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "kind"}, "alpr"]},
                {"op": "s_intersects", "args": [{"property": "geometry"},
                                                {"bbox": [2.37, 48.83, 2.39, 48.85]}]},
            ],
        }  # fmt: skip
        assert ids(cql(client, json.dumps(text), "cql2-json")) == {devices["bercy"]}
        between = {"op": "between", "args": [{"property": "height"}, 3, 5]}
        assert ids(cql(client, json.dumps(between), "cql2-json")) == {devices["louvre"]}

    def test_casei_compares_without_case(self, client, devices):
        text = "CASEI(operator) = CASEI('ville de paris')"
        assert ids(cql(client, text)) == {devices["louvre"], devices["nation"]}
        assert ids(cql(client, "CASEI(operator) LIKE CASEI('VILLE%')")) == {
            devices["louvre"],
            devices["nation"],
        }
        casei = {"op": "=", "args": [{"op": "casei", "args": [{"property": "operator"}]},
                                     {"op": "casei", "args": ["ratp"]}]}  # fmt: skip
        assert ids(cql(client, json.dumps(casei), "cql2-json")) == {devices["bercy"]}

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("T_AFTER(observed_at, TIMESTAMP('2026-04-01T00:00:00Z'))", {"bercy"}),
            ("T_BEFORE(observed_at, DATE('2026-04-01'))", {"louvre"}),
            ("T_DURING(observed_at, INTERVAL('2026-02-01', '2026-04-01'))", {"louvre"}),
            ("T_INTERSECTS(observed_at, INTERVAL('2026-05-10', '..'))", {"bercy"}),
            # As docs/ogc.md says: T_DURING is strict, and a time is the start of its day, so
            # the first day is out; a DATE end is its whole day, so the last is in.
            ("T_DURING(observed_at, INTERVAL('2026-03-01', '2026-05-10'))", {"bercy"}),
            ("T_INTERSECTS(observed_at, INTERVAL('2026-03-01', '2026-05-10'))",
             {"louvre", "bercy"}),
            # Times are days: bercy was observed at 08:30, which nobody else may learn.
            ("T_EQUALS(observed_at, TIMESTAMP('2026-05-10T00:00:00Z'))", {"bercy"}),
            ("T_EQUALS(observed_at, TIMESTAMP('2026-05-10T08:30:00Z'))", set()),
            ("T_AFTER(observed_at, TIMESTAMP('2026-05-10T08:29:59Z'))", set()),
            ("T_DISJOINT(observed_at, INTERVAL('..', '2026-04-01'))", {"bercy"}),
            ("NOT T_AFTER(observed_at, TIMESTAMP('2026-04-01T00:00:00Z')) AND kind = 'camera'",
             {"louvre"}),
        ],
    )  # fmt: skip
    def test_temporal_functions(self, client, devices, text, expected):
        assert ids(cql(client, text)) == {devices[name] for name in expected}

    @pytest.mark.parametrize(
        ("interval", "expected"),
        [
            (["2026-05-01", "2026-06-01"], {"bercy"}),
            (["2026-05-09", ".."], {"bercy"}),  # open ends, as in CQL2 text
            (["..", "2026-04-01"], {"louvre"}),
            # Fractions and offsets: louvre's day begins half a second too early.
            (["2026-03-01T00:00:00.5Z", "2026-05-12T01:00:00+02:00"], {"bercy"}),
        ],
    )
    def test_temporal_functions_in_cql2_json(self, client, devices, interval, expected):
        text = {"op": "t_during", "args": [{"property": "observed_at"}, {"interval": interval}]}
        assert ids(cql(client, json.dumps(text), "cql2-json")) == {devices[n] for n in expected}

    @pytest.mark.parametrize(
        ("text", "language", "message"),
        [
            ("S_INTERSECTS(geometry, ENVELOPE(2.33 2.39 48.87 48.85))", "cql2-text", "BBOX"),
            # Written as BBOX is, with commas: the parser stops before reading ENVELOPE.
            ("S_INTERSECTS(geometry, ENVELOPE(2.25, 48.81, 2.42, 48.9))", "cql2-text", "BBOX("),
            ("T_AFTER(observed_at)", "cql2-text", "two arguments"),
            ("T_AFTER(height, TIMESTAMP('2026-01-01T00:00:00Z'))", "cql2-text", "time property"),
            ("T_AFTER(observed_at, 3)", "cql2-text", "TIMESTAMP"),
            ("T_OVERLAPS(observed_at, INTERVAL('2026-01-01', '..'))", "cql2-text", "instant"),
            ("CASEI(height) = CASEI('x')", "cql2-text", "CASEI"),
            ("{", "cql2-json", "not valid CQL2 JSON"),
            ('{"op": "=", "args": [{"property": "colour"}, 1]}', "cql2-json", "Unknown property"),
            ('{"op": "frobnicate", "args": []}', "cql2-json", "not valid CQL2 JSON"),
            ("[" * 5000 + "]" * 5000, "cql2-json", "CQL2 JSON"),
            ('{"op": "in", "args": [{"property": "kind"}, "alpr"]}', "cql2-json", "a list"),
            (
                '{"op": "=", "args": [{"property": ["kind"]}, "x"]}',
                "cql2-json",
                "a property is named by a string",
            ),
            (
                '{"op": "=", "args": [{"property": "kind"}, "a", "b"]}',
                "cql2-json",
                '"=" takes two arguments, not 3',
            ),
            ('{"op": "and", "args": []}', "cql2-json", '"and" takes two arguments or more'),
            ('{"op": "not", "args": {"op": "isNull"}}', "cql2-json", "as a list"),
            (
                '{"op": "between", "args": [{"property": "height"}, 1]}',
                "cql2-json",
                "three arguments",
            ),
            ('{"op": ["="], "args": []}', "cql2-json", 'unknown operator ["="]'),
            ('{"op": "=", "args": [{"property": "kind"}, null]}', "cql2-json", "isNull"),
            (
                '{"op": "t_after", "args": [{"property": "observed_at"}, {"timestamp": 5}]}',
                "cql2-json",
                "wrong type",
            ),
            (
                '{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[2,49,3,48]}]}',
                "cql2-json",
                "minimum latitude",
            ),
            (
                '{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[2,48,3]}]}',
                "cql2-json",
                "or six with heights, not 3 numbers",
            ),
            (
                '{"op":"s_intersects","args":[{"property":"geometry"},'
                '{"type":"Point","coordinates":[2.3]}]}',
                "cql2-json",
                "positions are two numbers each",
            ),
            ("observed_at = TIMESTAMP('0001-01-01T00:00:00+05:00')", "cql2-text", "years 1"),
            # Impossible dates, which a guessing reader took for others (16 March, January).
            ("observed_at < TIMESTAMP('2020-16-03T00:00:00Z')", "cql2-text", "RFC 3339"),
            ("T_BEFORE(observed_at, TIMESTAMP('2019-13-01T00:00:00Z'))", "cql-text", "RFC 3339"),
            ("T_DURING(observed_at, INTERVAL('2020-01-01', '2020-13-01'))", "cql2-text", "date"),
            (
                '{"op": "<", "args": [{"property": "observed_at"}, '
                '{"timestamp": "2020-16-03T00:00:00Z"}]}',
                "cql2-json",
                "'2020-16-03T00:00:00Z' is not an RFC 3339 timestamp",
            ),
            (
                '{"op": "t_during", "args": [{"property": "observed_at"}, '
                '{"interval": ["2020-01-01", "2020-02-30"]}]}',
                "cql2-json",
                "'2020-02-30' is not an RFC 3339 date",
            ),
            # Read by a guessing reader as now, 30 November, 14 March.
            *(
                (
                    '{"op": ">", "args": [{"property": "observed_at"}, '
                    f'{{"timestamp": "{odd}"}}]}}',
                    "cql2-json",
                    f"'{odd}' is not an RFC 3339 timestamp",
                )
                for odd in ("20260401T000000Z", "2026-04-01T00:00:00,5Z", "2026-W14-3")
            ),
            ("observed_at > TIMESTAMP('20260401T000000Z')", "cql2-text", "RFC 3339"),
            # A character no token starts with, named whole (a control character quoted as
            # it was cut the message short).
            (
                "kind = 'alpr'\x01AND height IS NULL",
                "cql2-text",
                "unexpected character '\\x01' at line 1, column 14.",
            ),
            ("observed_at > DATE('20200101')", "cql2-text", "'20200101' is not an RFC 3339 date"),
            (
                '{"op": ">", "args": [{"property": "observed_at"}, {"date": "20200230"}]}',
                "cql2-json",
                "'20200230' is not an RFC 3339 date",
            ),
        ],
    )
    def test_bad_filters_are_400(self, client, db, devices, text, language, message):
        before = db("SELECT count(*), max(updated_at) FROM devices").one()
        response = cql(client, text, language)
        assert response.status_code == 400 and response.mimetype == PROBLEM
        body = response.get_json()
        assert body["errors"][0]["field"] == "filter" and message in body["detail"], body
        assert db("SELECT count(*), max(updated_at) FROM devices").one() == before


@pytest.fixture
def districts(isolated, tmp_path, client):
    load(
        isolated,
        write_geojson(
            tmp_path / "q.geojson",
            [district_feature("W", rectangle(2.30, 48.80, 2.31, 48.81), population=20_000)],
        ),
        level="quartier",
        population_field="population",
    )
    pin(client, 2.305, 48.805)


JSON_TYPES = {
    "string": str, "number": (int, float), "integer": int, "array": list, "object": dict,
}  # fmt: skip


class TestFeatureSchemas:
    @pytest.mark.parametrize("collection", ["devices", "districts"])
    def test_every_served_property_is_described_with_its_type(
        self, client, devices, districts, collection
    ):
        base = f"/ogc/collections/{collection}"
        links = links_by_rel(client.get(base).get_json())
        assert relative(links["describedBy"]["href"]) == f"{base}/feature-schema"
        schema = client.get(f"{base}/feature-schema").get_json()
        described = schema["properties"]["properties"]["properties"]
        returnables = client.get(f"{base}/schema").get_json()["properties"]
        assert returnables["geometry"]["x-ogc-role"] == "primary-geometry"
        features = client.get(f"{base}/items").get_json()["features"]
        assert features
        for feature in features:
            assert list(feature["properties"]) == list(described), list(feature["properties"])
            for name, value in feature["properties"].items():
                assert returnables[name] == described[name]
                if value is not None:
                    assert isinstance(value, JSON_TYPES[described[name]["type"]]), name

    @pytest.mark.parametrize("document", ["queryables", "schema", "feature-schema"])
    def test_schemas_are_json_for_clients_that_ask_for_json(self, client, document):
        url = f"/ogc/collections/devices/{document}"
        assert client.get(url).mimetype == "application/schema+json"
        asked = client.get(url, headers={"Accept": "application/geo+json, application/json"})
        assert asked.mimetype == "application/json"
        # Chosen by Accept: a cache must keep one answer per Accept.
        assert "Accept" in {name.strip() for name in asked.headers["Vary"].split(",")}
        # GDAL repeats its URL's query string (`OAPIF:https://host/ogc?f=geojson`) on every
        # request: an f naming another format leaves the schema's label to Accept.
        gdal = {"Accept": "application/geo+json, application/json"}
        assert client.get(f"{url}?f=geojson", headers=gdal).mimetype == "application/json"
        assert client.get(f"{url}?f=json").mimetype == "application/json"
        assert client.get("/ogc/collections/nothing/schema").status_code == 404
        assert client.get(f"{ITEMS}?limit=1").mimetype == GEOJSON


EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


def gdal_transform(lon: float, lat: float, code: str) -> list[float]:
    """LON, LAT in EPSG:CODE, as GDAL's gdaltransform (PROJ) computes them."""
    tool = shutil.which("gdaltransform")
    assert tool, "gdaltransform is missing: install Debian's gdal-bin (make test does it as root)"
    result = subprocess.run(
        [tool, "-s_srs", "EPSG:4326", "-t_srs", f"EPSG:{code}"],
        input=f"{lon} {lat}\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [float(v) for v in result.stdout.split()[:2]]


class TestCrs:
    def test_collections_list_their_crs(self, client):
        body = client.get("/ogc/collections/devices").get_json()
        assert body["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        assert {f"{EPSG}{code}" for code in (4326, 3857, 2154, 2056)} <= set(body["crs"])

    @pytest.mark.parametrize("code", ["4326", "3857", "2154"])
    def test_items_in_another_crs(self, client, devices, code):
        # EPSG:4326 is latitude first, as its definition orders the axes; the others are
        # compared with GDAL's own transformation (PROJ).
        expected = [48.8606, 2.3376] if code == "4326" else gdal_transform(2.3376, 48.8606, code)
        response = client.get(f"{ITEMS}?crs={EPSG}{code}&kind=camera")
        assert response.headers["Content-Crs"] == f"<{EPSG}{code}>"
        (feature,) = response.get_json()["features"]
        assert feature["id"] == devices["louvre"]
        assert feature["geometry"]["coordinates"] == pytest.approx(expected, abs=0.02)
        assert set(feature["geometry"]) == {"type", "coordinates"}  # the CRS is in the header
        assert feature["properties"]["operator"] == "Ville de Paris"
        one = client.get(f"{ITEMS}/{devices['louvre']}?crs={EPSG}{code}").get_json()
        assert one["geometry"] == feature["geometry"] and one["links"]

    def test_bbox_in_another_crs(self, client, devices):
        # Around the Louvre in Lambert-93, in EPSG:4326 (latitude first), in Web Mercator.
        for bbox, crs in [
            ("651000,6862000,652000,6863000", "2154"),
            ("48.85,2.33,48.87,2.34", "4326"),
            ("259000,6250000,261000,6252000", "3857"),
        ]:
            response = client.get(f"{ITEMS}?bbox={bbox}&bbox-crs={EPSG}{crs}")
            assert ids(response) == {devices["louvre"]}, crs

    def test_a_latitude_first_box_crosses_the_antimeridian_as_a_crs84_one(self, client, devices):
        """Part 1 lets a CRS84 bbox cross ±180 (minLon > maxLon); the same box in EPSG:4326,
        latitude first, as OpenLayers sends it in that CRS, finds the same devices."""
        fiji = {pin(client, lon, -17.0)["id"] for lon in (179.5, -179.5)}
        pin(client, 0.0, -17.0)
        assert ids(client.get(f"{ITEMS}?bbox=179,-18,-179,-16")) == fiji
        assert ids(client.get(f"{ITEMS}?bbox=-18,179,-16,-179&bbox-crs={EPSG}4326")) == fiji

    def test_a_box_past_its_crs_area_finds_what_the_area_holds(self, client, devices):
        """A larger box never finds fewer devices: projected boxes are cut to their CRS's area
        of use (past it, Web Mercator wraps round and Lambert-93 diverges)."""
        edge = pin(client, -179.99999, 0.0)["id"]
        every = set(devices.values()) | {edge}
        for bbox, crs in [
            ("-20037508.3,-1000,0,1000", "3857"),
            ("-20037508.35,-1000,0,1000", "3857"),
            ("-25000000,-10000000,25000000,10000000", "3857"),
        ]:
            found = ids(client.get(f"{ITEMS}?bbox={bbox}&bbox-crs={EPSG}{crs}"))
            assert edge in found, bbox
        world = ids(client.get(f"{ITEMS}?bbox=-25000000,-30000000,25000000,30000000"
                               f"&bbox-crs={EPSG}3857"))  # fmt: skip
        assert world == every
        france = ids(client.get(f"{ITEMS}?bbox=100000,6000000,1300000,7200000&bbox-crs={EPSG}2154"))
        for larger in ("-10000000,-10000000,100000000,100000000", "-1e30,-1e30,1e30,1e30"):
            response = client.get(f"{ITEMS}?bbox={larger}&bbox-crs={EPSG}2154")
            assert ids(response) == france == set(devices.values()), larger

    @pytest.mark.parametrize(
        "edge",
        [
            "20037508.342789244",  # PROJ's x of 180°
            "20037508.34",  # EPSG's bound, which is also how a device at 180° is served
            "20037508.3428",  # a hair past it
        ],
    )
    def test_the_whole_web_mercator_world_holds_the_antimeridian(self, client, edge):
        on_it = {pin(client, lon, 10.0)["id"] for lon in (-180.0, 180.0)}
        world = f"-{edge},-20048966.1,{edge},20048966.1"
        found = ids(client.get(f"{ITEMS}?bbox={world}&bbox-crs={EPSG}3857"))
        assert found == on_it
        text = f"S_INTERSECTS(geometry, BBOX({world}))"
        found = ids(client.get(ITEMS, query_string={"filter": text, "filter-crs": f"{EPSG}3857"}))
        assert found == on_it

    def test_swiss_coordinates_of_a_swiss_device(self, client):
        bern = pin(client, 7.4474, 46.9480)["id"]
        response = client.get(f"{ITEMS}?crs={EPSG}2056&bbox=2600000,1199000,2601000,1200500"
                              f"&bbox-crs={EPSG}2056")  # fmt: skip
        (feature,) = response.get_json()["features"]
        assert feature["id"] == bern
        assert feature["geometry"]["coordinates"] == pytest.approx(
            gdal_transform(7.4474, 46.9480, "2056"), abs=0.02
        )

    @pytest.mark.parametrize(
        "query",
        [
            f"crs={EPSG}27700",
            "bbox-crs=EPSG:2154",
            f"bbox=652000,6862000,651000,6863000&bbox-crs={EPSG}2154",
            f"bbox=91,2,92,3&bbox-crs={EPSG}4326",  # latitude first: 91 is out of range
            f"bbox=0,0,1000,1000&bbox-crs={EPSG}2056",  # wholly outside LV95's area of use
            "bbox=651000,6862000,652000,6863000",  # metres without bbox-crs
        ],
    )
    def test_unknown_crs_or_box_out_of_its_crs_is_400(self, client, query):
        response = client.get(f"{ITEMS}?{query}")
        assert response.status_code == 400 and response.mimetype == PROBLEM
