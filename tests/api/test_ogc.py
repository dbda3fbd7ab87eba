"""OGC API Features at /ogc: the documents, the items and their filters, as a client sees them."""

import base64
import json
import re
import uuid
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy.dialects import postgresql

from service.api.ogc import schemas as ogc_schemas
from service.geo.devices.filter import DeviceFilter
from service.geo.devices.spatial import select_device_page_in_space
from service.geo.keys import covering_ranges
from tests.helpers import GEOJSON, PROBLEM, add_photo, as_text, pin, plan_nodes


@pytest.fixture
def client(moderator):
    """These tests pin as a moderator, whose pins are published directly."""
    return moderator


ITEMS = "/ogc/collections/devices/items"
LAT_LON_CRS = "http://www.opengis.net/def/crs/EPSG/0/4326"


def varies_on(response) -> set[str]:
    return {name.strip() for name in response.headers.get("Vary", "").split(",")}


def ids(response) -> set[str]:
    return {f["id"] for f in response.get_json()["features"]}


def intersecting(client, literal: str, crs: str):
    """The devices' page filtered by S_INTERSECTS with LITERAL, in CRS (its path after def/crs/)."""
    return client.get(
        ITEMS,
        query_string={
            "filter": f"S_INTERSECTS(geometry, {literal})",
            "filter-crs": f"http://www.opengis.net/def/crs/{crs}",
        },
    )


def links_by_rel(body) -> dict:
    return {link["rel"]: link for link in body["links"]}


def relative(href: str) -> str:
    return href.removeprefix("http://localhost")


NIL = "00000000-0000-0000-0000-000000000000"


def cursor_of(text: str) -> str:
    """A cursor as the server encodes them, around any text."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def spatial_order(db) -> list[str]:
    """Ids of the live devices in the order pages list them: by tile_key, then id."""
    rows = db("SELECT id FROM devices WHERE deleted_at IS NULL ORDER BY tile_key, id")
    return [str(device_id) for device_id in rows.scalars()]


def count_devices(db) -> int:
    return db("SELECT count(*) FROM devices").scalar_one()


@pytest.fixture
def paris(client):
    """Five devices around Paris, one far away in Lyon, one deleted."""
    devices = {
        "louvre": pin(client, 2.3376, 48.8606, observed_at="2026-03-01T10:00:00Z", height=6),
        "bastille": pin(client, 2.3690, 48.8532, kind="alpr", operator="Ville de Paris"),
        "nation": pin(client, 2.3959, 48.8483, kind="microphone", height=3.5),
        "defense": pin(client, 2.2384, 48.8918, observed_at="2026-05-10T08:30:00Z"),
        "bercy": pin(client, 2.3826, 48.8400, kind="alpr", operator="RATP", height=8),
        "lyon": pin(client, 4.8357, 45.7640, observed_at="2025-12-31T23:00:00Z"),
    }
    gone = pin(client, 2.35, 48.85)
    etag = client.get(f"/api/v1/devices/{gone['id']}").headers["ETag"]
    assert client.delete(f"/api/v1/devices/{gone['id']}", headers={"If-Match": etag}).status_code
    return {name: device["id"] for name, device in devices.items()} | {"deleted": gone["id"]}


class TestDocuments:
    def test_landing_page_links_to_the_api_definition_conformance_and_data(self, client):
        response = client.get("/ogc")
        assert response.status_code == 200 and response.mimetype == "application/json"
        links = links_by_rel(response.get_json())
        assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(links)
        assert links["service-desc"]["type"].startswith("application/vnd.oai.openapi+json")
        assert client.get(relative(links["service-desc"]["href"])).status_code == 200
        assert client.get(relative(links["data"]["href"])).status_code == 200

    def test_conformance_declares_core_geojson_oas30_and_cql2_text(self, client):
        classes = client.get("/ogc/conformance").get_json()["conformsTo"]
        for suffix in ("conf/core", "conf/geojson", "conf/oas30", "conf/cql2-text", "conf/filter"):
            assert any(c.endswith(suffix) for c in classes), suffix

    def test_collection_extent_is_computed_from_live_devices(self, client, paris):
        body = client.get("/ogc/collections/devices").get_json()
        assert body["id"] == "devices" and body["itemType"] == "feature"
        assert body["extent"]["spatial"]["bbox"] == [
            [pytest.approx(2.2384), pytest.approx(45.7640), pytest.approx(4.8357), 48.8918]
        ]
        start, end = body["extent"]["temporal"]["interval"][0]
        # Days, as every time of a device: lyon was observed at 23:00 that day.
        assert start.startswith("2025-12-31T00:00:00") and end > "2026-05-10"
        assert links_by_rel(body)["items"]["type"] == GEOJSON

    def test_collections_lists_devices_and_an_unknown_collection_is_404(self, client):
        listed = client.get("/ogc/collections").get_json()["collections"]
        assert "devices" in {c["id"] for c in listed}
        for path in ("/ogc/collections/nothing", "/ogc/collections/nothing/items"):
            missing = client.get(path)
            assert missing.status_code == 404 and missing.mimetype == PROBLEM, path
            error = missing.get_json()["errors"][0]
            assert (error["field"], error["location"]) == ("collection_id", "view_args"), path

    def test_queryables_are_a_json_schema_of_whitelisted_properties(self, client):
        response = client.get("/ogc/collections/devices/queryables")
        assert response.mimetype == "application/schema+json"
        properties = response.get_json()["properties"]
        assert properties["kind"]["enum"][0] == "camera"
        assert properties["height"]["type"] == "number"
        assert "notes" not in properties and "created_by" not in properties

    @pytest.mark.parametrize("url", ["/ogc", "/ogc/conformance", "/ogc/collections", ITEMS])
    def test_unknown_parameters_are_refused_with_400(self, client, url):
        response = client.get(f"{url}?colour=red")
        assert response.status_code == 400 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == "colour"


class TestItems:
    def test_page_is_geojson_with_counts_and_links(self, client, paris):
        response = client.get(ITEMS)
        assert response.status_code == 200 and response.mimetype == GEOJSON
        body = response.get_json()
        assert body["type"] == "FeatureCollection"
        assert ids(response) == set(paris.values()) - {paris["deleted"]}
        assert body["numberReturned"] == body["numberMatched"] == 6
        links = links_by_rel(body)
        assert links["self"]["type"] == GEOJSON and "next" not in links
        alternate = client.get(relative(links["alternate"]["href"]))
        assert alternate.mimetype == "application/json"
        assert alternate.get_json()["features"] == body["features"]

    def test_coordinates_are_rounded_to_seven_decimals(self, client):
        pin(client, 2.123456789123, 48.987654321987)
        feature = client.get(ITEMS).get_json()["features"][0]
        assert feature["geometry"]["coordinates"] == [2.1234568, 48.9876543]

    def test_bbox_keeps_what_is_inside(self, client, paris):
        response = client.get(f"{ITEMS}?bbox=2.30,48.83,2.40,48.87")
        assert ids(response) == {paris[n] for n in ("louvre", "bastille", "nation", "bercy")}

    def test_property_parameters_filter_on_values(self, client, paris):
        assert ids(client.get(f"{ITEMS}?kind=alpr")) == {paris["bastille"], paris["bercy"]}
        assert ids(client.get(f"{ITEMS}?kind=alpr,microphone&operator=RATP")) == {paris["bercy"]}

    def test_verification_filters_as_a_parameter_and_in_cql2(self, client, db, paris):
        db("UPDATE devices SET verification = 'confirmed' WHERE id = :id", id=paris["nation"])
        assert ids(client.get(f"{ITEMS}?verification=confirmed")) == {paris["nation"]}
        both = client.get(f"{ITEMS}?verification=confirmed,reported&kind=microphone")
        assert ids(both) == {paris["nation"]}
        text = "verification = 'confirmed' OR kind = 'alpr'"
        response = client.get(ITEMS, query_string={"filter": text, "filter-lang": "cql2-text"})
        assert ids(response) == {paris[n] for n in ("nation", "bastille", "bercy")}
        refused = client.get(f"{ITEMS}?verification=certain")
        assert refused.status_code == 400 and refused.mimetype == PROBLEM

    def test_datetime_instant_day_interval_and_open_ends(self, client, paris):
        # Times are days: louvre, observed at 10:00, is known at the start of its day only.
        assert ids(client.get(f"{ITEMS}?datetime=2026-03-01T00:00:00Z")) == {paris["louvre"]}
        assert ids(client.get(f"{ITEMS}?datetime=2026-03-01T10:00:00Z")) == set()
        assert ids(client.get(f"{ITEMS}?datetime=2026-05-10")) == {paris["defense"]}
        assert ids(client.get(f"{ITEMS}?datetime=2026-01-01T00:00:00Z/2026-04-01T00:00:00Z")) == {
            paris["louvre"]
        }
        assert ids(client.get(f"{ITEMS}?datetime=../2026-01-01")) == {paris["lyon"]}
        # The last day there is, which has no day after it.
        assert ids(client.get(f"{ITEMS}?datetime=9999-12-31")) == set()
        assert len(ids(client.get(f"{ITEMS}?datetime=0001-01-01/9999-12-31"))) == 6
        # Devices never observed are known at their last change: just now.
        recent = ids(client.get(f"{ITEMS}?datetime=2026-06-01T00:00:00Z/.."))
        assert {paris["bastille"], paris["nation"], paris["bercy"]} <= recent
        assert paris["louvre"] not in recent

    def test_an_instant_after_year_9999_in_utc_is_a_400_saying_so(self, client):
        response = client.get(f"{ITEMS}?datetime=9999-12-31T23:30:00-01:00")
        assert response.status_code == 400 and response.mimetype == PROBLEM
        body = response.get_json()
        assert body["errors"][0]["field"] == "datetime"
        assert "outside the years 1 to 9999" in body["detail"]

    def test_pages_chain_forward_and_back_with_next_and_prev(self, client, paris, db):
        first = client.get(f"{ITEMS}?limit=4").get_json()
        assert first["numberReturned"] == 4 and "numberMatched" not in first
        assert "prev" not in links_by_rel(first)
        second = client.get(relative(links_by_rel(first)["next"]["href"])).get_json()
        assert second["numberReturned"] == 2 and "numberMatched" not in second
        assert "next" not in links_by_rel(second)
        back = client.get(relative(links_by_rel(second)["prev"]["href"])).get_json()
        assert back["features"] == first["features"]
        assert "prev" not in links_by_rel(back)
        all_ids = [f["id"] for f in first["features"] + second["features"]]
        assert all_ids == spatial_order(db) and len(set(all_ids)) == 6

    def test_the_pages_of_a_json_page_say_they_are_json(self, client, paris):
        """Their URLs keep `f=json`: their links say the type they are served as."""
        first = client.get(f"{ITEMS}?limit=2&f=json")
        assert first.mimetype == "application/json"
        following = links_by_rel(first.get_json())["next"]
        assert following["type"] == "application/json"
        assert client.get(relative(following["href"])).mimetype == "application/json"
        assert links_by_rel(client.get(f"{ITEMS}?limit=2").get_json())["next"]["type"] == GEOJSON

    @pytest.mark.parametrize(
        "accept,query,expected",
        [
            ("application/json", "", "application/json"),
            ("application/geo+json, application/json;q=0.9", "", GEOJSON),
            ("application/json;q=0.5, application/geo+json", "", GEOJSON),
            ("text/html,application/xhtml+xml,*/*;q=0.8", "", GEOJSON),  # a browser
            ("application/json", "f=geojson", GEOJSON),  # f= has the last word
            ("application/geo+json", "f=json", "application/json"),
            ("application/json; charset=utf-8", "", "application/json"),  # parameters aside
        ],
    )
    def test_pages_and_items_are_labelled_as_accept_asks(
        self, client, paris, accept, query, expected
    ):
        """OGC API Features negotiates by Accept as by f=: the same document, labelled as
        the client reads it, and its links say so; caches keep each label apart."""
        page = client.get(f"{ITEMS}?limit=2&{query}", headers={"Accept": accept})
        assert page.status_code == 200 and page.mimetype == expected
        assert "Accept" in varies_on(page)
        assert links_by_rel(page.get_json())["self"]["type"] == expected
        assert links_by_rel(page.get_json())["next"]["type"] == expected
        item = client.get(f"{ITEMS}/{paris['louvre']}?{query}", headers={"Accept": accept})
        assert item.status_code == 200 and item.mimetype == expected
        assert "Accept" in varies_on(item)
        assert links_by_rel(item.get_json())["self"]["type"] == expected

    def test_a_filtered_pages_self_link_is_a_uri(self, client, paris):
        """Werkzeug's URL of the request decodes its query: the quotes, `<>`, spaces and accents
        of a CQL2 filter went into `self` as they are, which no URI holds (`next` had them
        escaped)."""
        query = urlencode({"filter": "\"kind\" <> 'Préfecture'", "limit": 1})
        page = client.get(f"{ITEMS}?{query}")
        assert page.status_code == 200, page.get_json()
        this = links_by_rel(page.get_json())["self"]["href"]
        assert client.get(this).get_json()["features"] == page.get_json()["features"]
        assert re.fullmatch(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", this), this

    def test_an_items_self_link_is_the_url_it_was_read_at(self, client, paris):
        """Its CRS and label kept: following it gives this document, not another one."""
        query = "f=json&crs=http://www.opengis.net/def/crs/EPSG/0/3857"
        item = client.get(f"{ITEMS}/{paris['louvre']}?{query}")
        this = links_by_rel(item.get_json())["self"]
        assert this["href"] == f"http://localhost{ITEMS}/{paris['louvre']}?{query}"
        again = client.get(this["href"])
        assert again.headers["Content-Crs"] == item.headers["Content-Crs"]
        assert again.mimetype == item.mimetype == this["type"] == "application/json"
        assert again.get_json()["geometry"] == item.get_json()["geometry"]

    def test_a_validator_of_one_label_is_not_valid_for_the_other(self, client, paris):
        """The same item labelled GeoJSON or JSON is two answers: a 304 must not tell a
        client of one label that the other's copy is current."""
        url = f"{ITEMS}/{paris['louvre']}"
        geojson = client.get(url, headers={"Accept": GEOJSON})
        json = client.get(url, headers={"Accept": "application/json"})
        assert geojson.headers["ETag"] != json.headers["ETag"]
        crossed = {"Accept": "application/json", "If-None-Match": geojson.headers["ETag"]}
        assert client.get(url, headers=crossed).status_code == 200
        same = {"Accept": "application/json", "If-None-Match": json.headers["ETag"]}
        assert client.get(url, headers=same).status_code == 304

    def test_backward_from_the_last_page_visits_every_page_again(self, client, paris):
        forward = [client.get(f"{ITEMS}?limit=2").get_json()]
        while "next" in links_by_rel(forward[-1]):
            forward.append(
                client.get(relative(links_by_rel(forward[-1])["next"]["href"])).get_json()
            )
        assert [page["numberReturned"] for page in forward] == [2, 2, 2]
        backward = [forward[-1]]
        while "prev" in links_by_rel(backward[-1]):
            backward.append(
                client.get(relative(links_by_rel(backward[-1])["prev"]["href"])).get_json()
            )
        assert [p["features"] for p in reversed(backward)] == [p["features"] for p in forward]

    def test_page_links_keep_the_filters(self, client, paris):
        first = client.get(f"{ITEMS}?limit=1&kind=alpr").get_json()
        second = client.get(relative(links_by_rel(first)["next"]["href"])).get_json()
        assert second["features"][0]["properties"]["kind"] == "alpr"
        assert {first["features"][0]["id"], second["features"][0]["id"]} == {
            paris["bastille"],
            paris["bercy"],
        }

    def test_one_item_by_id_with_links(self, client, paris):
        response = client.get(f"{ITEMS}/{paris['louvre']}")
        assert response.status_code == 200 and response.mimetype == GEOJSON
        body = response.get_json()
        assert body["id"] == paris["louvre"] and body["properties"]["height"] == 6
        assert relative(links_by_rel(body)["collection"]["href"]) == "/ogc/collections/devices"
        # Part 1 asks a feature for alternate links: the same feature under the other label.
        alternate = links_by_rel(body)["alternate"]
        assert alternate["type"] == "application/json"
        assert relative(alternate["href"]) == f"{ITEMS}/{paris['louvre']}?f=json"
        as_json = client.get(relative(alternate["href"]))
        assert as_json.mimetype == "application/json"
        assert links_by_rel(as_json.get_json())["alternate"]["type"] == GEOJSON

    @pytest.mark.parametrize("feature_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
    def test_unknown_item_is_404(self, client, feature_id):
        response = client.get(f"{ITEMS}/{feature_id}")
        assert response.status_code == 404 and response.mimetype == PROBLEM
        error = response.get_json()["errors"][0]  # named as the API definition's path does
        assert (error["field"], error["location"]) == ("feature_id", "view_args")

    def test_deleted_device_is_not_served(self, client, paris):
        assert client.get(f"{ITEMS}/{paris['deleted']}").status_code == 404

    def test_etag_gives_304_when_nothing_changed_and_200_after_a_change(self, client, paris):
        first = client.get(ITEMS)
        etag = first.headers["ETag"]
        again = client.get(ITEMS, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        pin(client, 2.3, 48.8)
        assert client.get(ITEMS, headers={"If-None-Match": etag}).status_code == 200

    def test_a_limit_above_the_maximum_is_served_as_the_maximum(self, client, paris, monkeypatch):
        """OGC API Features' own example: ask for 50,000, get up to 10,000 and a next link. A
        refusal left GDAL with a larger PAGE_SIZE reading nothing."""
        monkeypatch.setattr(ogc_schemas, "MAX_LIMIT", 2)
        body = client.get(f"{ITEMS}?limit=50000").get_json()
        assert body["numberReturned"] == 2 and len(body["features"]) == 2
        assert "next" in links_by_rel(body)

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("limit=0", "limit"),
            ("limit=many", "limit"),
            ("bbox=2,48,3", "bbox"),
            ("bbox=2,49,3,48", "bbox"),
            ("datetime=yesterday", "datetime"),
            ("datetime=../..", "datetime"),
            ("datetime=2026-02-01/2026-01-01", "datetime"),
            ("kind=spaceship", "kind"),
            ("cursor=%%%", "cursor"),
            ("cursor=eHl6", "cursor"),
            # Positions outside the key space: a tile_key too large for PostgreSQL, or negative.
            (f"cursor={cursor_of('a' + '9' * 23 + ':' + NIL)}", "cursor"),
            (f"cursor={cursor_of('a-1:' + NIL)}", "cursor"),
            ("filter-lang=cql-json", "filter-lang"),
            ("filter-crs=EPSG:3857", "filter-crs"),
        ],
    )
    def test_bad_parameters_are_400_naming_the_parameter(self, client, db, paris, query, field):
        before = count_devices(db)
        response = client.get(f"{ITEMS}?{query}")
        assert response.status_code == 400 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"].split(".")[0] == field
        assert count_devices(db) == before


class TestCql2Filter:
    def cql(self, client, text):
        return client.get(ITEMS, query_string={"filter": text, "filter-lang": "cql2-text"})

    def test_comparison_and_logical_operators(self, client, paris):
        assert ids(self.cql(client, "kind = 'alpr' AND height > 5")) == {paris["bercy"]}
        assert ids(self.cql(client, "height < 4 OR operator = 'RATP'")) == {
            paris["nation"],
            paris["bercy"],
        }
        assert ids(self.cql(client, "NOT (kind = 'camera') AND operator IS NULL")) == {
            paris["nation"]
        }

    def test_not_goes_before_any_condition(self, client, paris):
        """CQL2's booleanFactor: NOT before a condition in parentheses, another NOT, TRUE."""
        everyone = set(paris.values()) - {paris["deleted"]}
        alpr_over_five = {paris["bercy"]}
        # bastille, an ALPR of no height, is neither (unknown, as in SQL).
        assert ids(self.cql(client, "NOT (kind = 'alpr' AND height > 5)")) == (
            everyone - alpr_over_five - {paris["bastille"]}
        )
        assert ids(self.cql(client, "NOT (NOT (kind = 'alpr' AND height > 5))")) == alpr_over_five
        assert ids(self.cql(client, "NOT NOT ((kind = 'alpr' AND height > 5))")) == alpr_over_five
        assert ids(self.cql(client, "NOT TRUE")) == set()
        # NOT binds before AND.
        assert ids(self.cql(client, "NOT kind = 'camera' AND operator IS NULL")) == {
            paris["nation"]
        }

    def test_in_between_like_and_null(self, client, paris):
        assert ids(self.cql(client, "kind IN ('alpr', 'microphone')")) == {
            paris["bastille"],
            paris["nation"],
            paris["bercy"],
        }
        assert ids(self.cql(client, "height BETWEEN 3 AND 6")) == {paris["louvre"], paris["nation"]}
        assert ids(self.cql(client, "operator LIKE 'Ville%'")) == {paris["bastille"]}
        assert paris["louvre"] in ids(self.cql(client, "operator IS NULL"))

    @pytest.mark.parametrize("language", ["cql2-text", "cql-text"])
    @pytest.mark.parametrize(
        ("operator", "literal"),
        [
            ("Kennedy's Irish Pub", "'Kennedy''s Irish Pub'"),
            ("Kennedy's Irish Pub", r"'Kennedy\'s Irish Pub'"),
            ("'", "''''"),
            ("a''b", "'a''''b'"),
            ('Le "Central"', "'Le \"Central\"'"),
            ("100% (sûr), T_AFTER it", "'100% (sûr), T_AFTER it'"),
            ("d'INTERVAL('..', '..')", "'d''INTERVAL(''..'', ''..'')'"),
        ],
    )
    def test_quotes_inside_strings(self, client, paris, language, operator, literal):
        """A quote inside a CQL2 string is written twice (or after a backslash), as GDAL writes
        `-where "operator = 'O''Brien'"`; the string after it is a string of its own."""
        device = pin(client, 2.35, 48.86, operator=operator)["id"]
        text = f"operator = {literal} OR operator = '' OR operator LIKE 'x''%'"
        response = client.get(ITEMS, query_string={"filter": text, "filter-lang": language})
        assert ids(response) == {device}

    @pytest.mark.parametrize(
        ("text", "language"),
        [
            (r"operator LIKE '%\'", "cql2-text"),
            (r"operator LIKE 'Ville\'", "cql2-text"),
            (r'{"op": "like", "args": [{"property": "operator"}, "%\\"]}', "cql2-json"),
            (r'{"op": "like", "args": [{"property": "operator"}, "\\\\\\"]}', "cql2-json"),
        ],
    )
    def test_a_like_pattern_ending_in_a_lone_backslash_is_400(self, client, paris, text, language):
        """The backslash escapes the character after it: at the end there is none, which
        PostgreSQL would only find out on meeting a row."""
        response = client.get(ITEMS, query_string={"filter": text, "filter-lang": language})
        assert response.status_code == 400 and response.mimetype == PROBLEM
        body = response.get_json()
        assert body["errors"][0]["field"] == "filter" and "backslash" in body["detail"]

    def test_a_like_pattern_matches_an_escaped_backslash(self, client, paris):
        device = pin(client, 2.35, 48.86, operator="C:\\")["id"]
        assert ids(self.cql(client, r"operator LIKE 'C:\\'")) == {device}

    def test_timestamps_compare_with_timestamp_literals(self, client, paris):
        text = "observed_at >= TIMESTAMP('2026-04-01T00:00:00Z')"
        assert ids(self.cql(client, text)) == {paris["defense"]}

    def test_rfc_3339_lowercase_t_and_z_are_read_everywhere(self, client, paris):
        """RFC 3339 allows them; pygeofilter's grammar and Python's parser read capitals."""
        lower = "2026-04-01t00:00:00z"
        assert ids(self.cql(client, f"observed_at >= TIMESTAMP('{lower}')")) == {paris["defense"]}
        interval = f"T_INTERSECTS(observed_at, INTERVAL('{lower}', '..'))"
        assert ids(self.cql(client, interval)) == {paris["defense"]}
        # A string that looks like one is left as written.
        assert ids(self.cql(client, f"operator = 'TIMESTAMP(''{lower}'')'")) == set()
        for url, name in ((ITEMS, "datetime"), ("/api/v1/devices", "updated_since")):
            read = client.get(url, query_string={name: lower})
            assert read.status_code == 200, read.get_json()
            assert ids(read) == ids(client.get(url, query_string={name: lower.upper()}))

    @pytest.mark.parametrize("day", ["'2026-03-01T'", "'2026-03-01'"])
    def test_cql_text_reads_a_day_as_gdal_3_6_writes_it(self, client, paris, day):
        """GDAL 3.6 sends `-where "observed_at >= '2026-03-01'"` as `'2026-03-01T'`."""
        text = f"observed_at >= {day} AND observed_at < '2026-04-01T00:00:00Z'"
        response = client.get(ITEMS, query_string={"filter": text, "filter-lang": "cql-text"})
        assert ids(response) == {paris["louvre"]}

    def test_cql_text_reads_ilike_as_ogr_writes_it(self, client, paris):
        """OGR sends `-where "operator ILIKE 'ville%'"` as it is: CASEI on both sides in CQL2,
        NOT ILIKE too, and the word left alone inside a string. Standard CQL2 has no ILIKE."""
        other = pin(client, 2.35, 48.86, operator="x ILIKE 'VILLE%'")["id"]

        def cql_text(text):
            response = client.get(ITEMS, query_string={"filter": text, "filter-lang": "cql-text"})
            assert response.status_code == 200, response.get_json()
            return ids(response)

        assert cql_text("operator ILIKE 'VILLE%'") == {paris["bastille"]}
        assert cql_text("\"operator\" ilike '%de paris'") == {paris["bastille"]}
        assert paris["bastille"] not in cql_text("operator NOT ILIKE 'ville%'")
        assert cql_text("operator = 'x ILIKE ''VILLE%''' AND operator ILIKE 'X%'") == {other}
        standard = client.get(ITEMS, query_string={"filter": "operator ILIKE 'VILLE%'"})
        assert standard.status_code == 400

    def test_s_intersects_with_a_polygon_and_a_bbox(self, client, paris):
        polygon = "POLYGON((2.33 48.85, 2.38 48.85, 2.38 48.87, 2.33 48.87, 2.33 48.85))"
        assert ids(self.cql(client, f"S_INTERSECTS(geometry, {polygon})")) == {
            paris["louvre"],
            paris["bastille"],
        }
        text = "S_INTERSECTS(geometry, BBOX(4, 45, 5, 46)) OR kind = 'microphone'"
        assert ids(self.cql(client, text)) == {paris["lyon"], paris["nation"]}
        # Keywords are case-insensitive, WKT's too; a string holding one is left as written.
        lower = f"s_intersects(geometry, {polygon.lower()}) or operator = 'polygon(1 2)'"
        assert ids(self.cql(client, lower)) == {paris["louvre"], paris["bastille"]}

    def test_boolean_literals_are_conditions(self, client, paris):
        """CQL2's booleanLiteral is a condition of its own: `TRUE` keeps every feature."""
        everything = ids(client.get(ITEMS))
        assert ids(self.cql(client, "true")) == everything
        assert ids(self.cql(client, "FALSE")) == set()
        assert ids(self.cql(client, "TRUE AND kind = 'alpr'")) == {
            paris["bastille"],
            paris["bercy"],
        }
        for literal, expected in (("true", everything), ("false", set())):
            query = {"filter": literal, "filter-lang": "cql2-json"}
            assert ids(client.get(ITEMS, query_string=query)) == expected

    @pytest.mark.parametrize(
        ("crs", "polygon", "box"),
        [
            ("EPSG/0/4326",  # latitude first
             "POLYGON((48.85 2.33, 48.85 2.38, 48.87 2.38, 48.87 2.33, 48.85 2.33))",
             "BBOX(45, 4, 46, 5)"),
            ("EPSG/0/3857",
             "POLYGON((259374 6249448, 264941 6249448, 264941 6252832, 259374 6252832, "
             "259374 6249448))",
             "BBOX(445278, 5621521, 556597, 5780349)"),
            ("EPSG/0/2154",
             "POLYGON((650834 6861285, 654521 6861285, 654521 6863539, 650834 6863539, "
             "650834 6861285))",
             "BBOX(777391, 6433918, 857582, 6546434)"),
        ],
    )  # fmt: skip
    def test_geometry_literals_in_the_filter_crs(self, client, paris, crs, polygon, box):
        """The same places as test_s_intersects_with_a_polygon_and_a_bbox, in other CRSs."""
        uri = f"http://www.opengis.net/def/crs/{crs}"

        def found(text):
            return ids(client.get(ITEMS, query_string={"filter": text, "filter-crs": uri}))

        assert found(f"S_INTERSECTS(geometry, {polygon})") == {paris["louvre"], paris["bastille"]}
        assert found(f"S_INTERSECTS(geometry, {box}) OR kind = 'microphone'") == {
            paris["lyon"],
            paris["nation"],
        }

    def test_a_projected_box_keeps_its_straight_edges(self, client, paris):
        """A Lambert-93 box's edges are straight in Lambert-93, curves in longitude and latitude:
        a device 1 km inside its north edge is found by the filter as by bbox-crs."""
        inside = pin(client, 3.0, 50.98686)["id"]  # (700000, 7099000) in Lambert-93
        lambert = "http://www.opengis.net/def/crs/EPSG/0/2154"
        box = "200000,6200000,1100000,7100000"
        by_bbox = client.get(ITEMS, query_string={"bbox": box, "bbox-crs": lambert})
        by_filter = client.get(
            ITEMS,
            query_string={"filter": f"S_INTERSECTS(geometry, BBOX({box}))", "filter-crs": lambert},
        )
        assert inside in ids(by_bbox) and ids(by_filter) == ids(by_bbox)

    @pytest.mark.parametrize(
        ("crs", "box"),
        [
            ("OGC/1.3/CRS84", "BBOX(170, -10, -170, 10)"),
            ("EPSG/0/4326", "BBOX(-10, 170, 10, -170)"),
        ],
    )
    def test_a_bbox_across_the_antimeridian(self, client, paris, crs, box):
        """West of its east edge, a BBOX crosses the antimeridian, as bbox= does: it holds the
        Pacific, not the rest of the world."""
        pacific = {pin(client, lon, 0.5)["id"] for lon in (175.0, -175.0)}
        uri = f"http://www.opengis.net/def/crs/{crs}"
        found = client.get(
            ITEMS, query_string={"filter": f"S_INTERSECTS(geometry, {box})", "filter-crs": uri}
        )
        assert ids(found) == pacific

    def test_a_literal_with_heights_in_latitude_first_order(self, client, paris):
        uri = "http://www.opengis.net/def/crs/EPSG/0/4326"
        ring = "48.85 2.33 1, 48.85 2.38 1, 48.87 2.38 1, 48.87 2.33 1, 48.85 2.33 1"
        text = f"S_INTERSECTS(geometry, POLYGON(({ring})))"
        found = client.get(ITEMS, query_string={"filter": text, "filter-crs": uri})
        assert ids(found) == {paris["louvre"], paris["bastille"]}

    @pytest.mark.parametrize(
        ("crs", "literal"),
        [
            ("EPSG/0/4326", "POINT(148.85 2.35)"),  # a latitude of 148
            ("EPSG/0/3857", "POINT(1e9 0)"),
            ("EPSG/0/2154", "POINT(-5e6 6.8e6)"),  # far out of France
            ("OGC/1.3/CRS84", "POINT(500 2)"),
        ],
    )
    def test_literals_outside_the_filter_crs_are_400_naming_the_filter(
        self, client, paris, crs, literal
    ):
        response = intersecting(client, literal, crs)
        assert response.status_code == 400 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == "filter"

    @pytest.mark.parametrize(
        ("crs", "box"),
        [
            ("OGC/1.3/CRS84", "BBOX(2.33, 48.87, 2.38, 48.85)"),
            ("EPSG/0/4326", "BBOX(48.87, 2.33, 48.85, 2.38)"),
            ("EPSG/0/3857", "BBOX(264941, 6249448, 259374, 6252832)"),
            ("EPSG/0/3857", "BBOX(259374, 6252832, 264941, 6249448)"),
            ("EPSG/0/2154", "BBOX(650834, 6863539, 654521, 6861285)"),
        ],
    )
    def test_a_bbox_with_a_minimum_past_its_maximum_is_400(self, client, paris, crs, box):
        """As bbox= refuses it: only a longitude may run west past east (the antimeridian)."""
        response = intersecting(client, box, crs)
        assert response.status_code == 400 and response.mimetype == PROBLEM
        body = response.get_json()
        assert body["errors"][0]["field"] == "filter" and "must not exceed" in body["detail"]

    def test_filter_combines_with_bbox_and_paging(self, client, paris):
        response = client.get(
            ITEMS, query_string={"filter": "kind = 'alpr'", "bbox": "2.37,48.83,2.40,48.85"}
        )
        assert ids(response) == {paris["bercy"]}

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("colour = 'red'", "Unknown property"),
            ("created_by IS NULL", "Unknown property"),
            ("height > 'tall'", "same type"),
            ("observed_at > '2026-01-01'", "TIMESTAMP"),
            ("kind = ", "not valid CQL2"),
            ("kind = 'camera'; DROP TABLE devices", "not valid CQL2"),
            ("height", "not valid CQL2"),
            ("geometry = 3", "same type"),
            ("S_INTERSECTS(height, POINT(1 2))", "same type"),
            ("S_INTERSECTS(height, 3)", "two geometries"),
            ("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "invalid"),
            ("S_INTERSECTS(geometry, LINESTRING(2 48))", "malformed"),
            ("S_INTERSECTS(geometry, POINT(500 2))", "CRS84"),
            ("height + 1 > 3", "not supported"),
            ("T_CONTAINS(observed_at, TIMESTAMP('2026-01-01T00:00:00Z'))", "cannot hold"),
            ("UPPER(operator) = 'X'", "not supported"),
            ("kind LIKE 5", "LIKE"),
            ("height > 1e400", "past the range"),  # read as infinity, matching nothing
            ("height < -1e400", "past the range"),
            ("BBOX(geometry, 2.3, 48.8, 2.4, 48.9)", "S_INTERSECTS(geometry, BBOX(2.3, 48.8,"),
        ],
    )
    def test_bad_filters_are_400_naming_the_filter(self, client, db, paris, text, message):
        before = count_devices(db)
        response = self.cql(client, text)
        assert response.status_code == 400, response.get_json()
        assert response.mimetype == PROBLEM
        body = response.get_json()
        assert body["errors"][0]["field"] == "filter"
        assert message in body["detail"]
        assert count_devices(db) == before

    @pytest.mark.parametrize(
        ("collection", "node"),
        [
            ("devices", {"op": "=", "args": [{"property": "operator"}, "a\u0000b"]}),
            ("devices", {"op": "like", "args": [{"property": "operator"}, "a\u0000%"]}),
            ("devices", {"op": "in", "args": [{"property": "kind"}, ["camera", "\u0000"]]}),
            ("districts", {"op": "=", "args": [{"property": "name"}, "a\u0000"]}),
        ],
    )
    def test_a_nul_escaped_in_a_cql2_json_string_is_a_400(self, client, collection, node):
        """JSON writes a NUL as \\u0000, which the query string's own check cannot see."""
        response = client.get(
            f"/ogc/collections/{collection}/items",
            query_string={"filter": json.dumps(node), "filter-lang": "cql2-json"},
        )
        assert response.status_code == 400 and response.mimetype == PROBLEM
        body = response.get_json()
        assert body["errors"][0]["field"] == "filter" and "NUL" in body["detail"]

    def test_a_json_geometry_of_no_known_type_is_a_400(self, client):
        node = {"op": "s_intersects", "args": [{"property": "geometry"}]}
        node["args"].append({"type": "Foo", "coordinates": [1, 2]})
        response = client.get(
            ITEMS, query_string={"filter": json.dumps(node), "filter-lang": "cql2-json"}
        )
        assert response.status_code == 400 and response.mimetype == PROBLEM
        body = response.get_json()
        assert body["errors"][0]["field"] == "filter" and "malformed" in body["detail"]

    def test_filters_given_twice_must_both_hold_in_one_language(self, client, paris):
        """As GDAL sends an `OAPIF:` URL's filter and its own -where; the next link keeps both."""
        both = [("filter", "kind = 'alpr'"), ("filter", "height > 3")]
        assert ids(client.get(f"{ITEMS}?{urlencode(both)}")) == {paris["bercy"]}
        alpr = [both[0], ("filter", "height IS NULL OR height > 7"), ("limit", "1")]
        paged = client.get(f"{ITEMS}?{urlencode(alpr)}")
        assert ids(paged) in ({paris["bastille"]}, {paris["bercy"]})
        next_link = links_by_rel(paged.get_json())["next"]["href"]
        assert next_link.count("filter=") == 2
        assert ids(paged) | ids(client.get(next_link)) == {paris["bastille"], paris["bercy"]}
        mixed = [("filter", "kind = 'alpr'"), ("filter-lang", "cql2-text")]
        mixed += [("filter", '{"op": "=", "args": [{"property": "height"}, 6]}')]
        mixed += [("filter-lang", "cql2-json")]
        refused = client.get(f"{ITEMS}?{urlencode(mixed)}")
        assert refused.status_code == 400
        assert refused.get_json()["errors"][0]["field"] == "filter-lang"
        broken = [("filter", "kind = 'alpr'"), ("filter", "height >")]
        refused = client.get(f"{ITEMS}?{urlencode(broken)}")
        assert refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == "filter"

    def test_oversized_filters_are_refused(self, client):
        response = self.cql(client, "kind = 'camera'" + " OR kind = 'alpr'" * 2000)
        assert response.status_code == 400 and "limited" in response.get_json()["detail"]


def seed_grid(db, west, south, east, north, steps=16) -> None:
    """Public devices on a steps x steps grid over the box, and on and beside its edges."""
    db(
        "INSERT INTO devices (id, geom, kind, review_status) "
        "SELECT gen_random_uuid(), ST_SetSRID(ST_MakePoint(x, y), 4326), 'camera', 'approved' "
        "FROM generate_series(0, :n - 1) i, generate_series(0, :n - 1) j, "
        "LATERAL (SELECT :w + (:e - :w) * i / (:n - 1.0) AS x, "
        "                :s + (:no - :s) * j / (:n - 1.0) AS y) p",
        n=steps,
        w=west,
        s=south,
        e=east,
        no=north,
    )


def box_ids_in_spatial_order(db, *boxes, also="true") -> list[str]:
    """The devices whose coordinates lie in the boxes, edges included (and ALSO), in the order
    pages list them."""
    tests = " OR ".join(
        f"(ST_X(geom) BETWEEN :w{i} AND :e{i} AND ST_Y(geom) BETWEEN :s{i} AND :n{i})"
        for i in range(len(boxes))
    )
    values = {
        f"{edge}{i}": v for i, box in enumerate(boxes) for edge, v in zip("wsen", box, strict=True)
    }
    rows = db(
        f"SELECT id FROM devices WHERE deleted_at IS NULL AND review_status = 'approved' "
        f"AND ({tests}) AND {also} ORDER BY tile_key, id",
        **values,
    )
    return [str(device_id) for device_id in rows.scalars()]


def walk(client, url) -> list[dict]:
    pages = [client.get(url).get_json()]
    while "next" in links_by_rel(pages[-1]):
        pages.append(client.get(relative(links_by_rel(pages[-1])["next"]["href"])).get_json())
    return pages


def walk_back(client, last_page) -> list[dict]:
    pages = [last_page]
    while "prev" in links_by_rel(pages[-1]):
        pages.append(client.get(relative(links_by_rel(pages[-1])["prev"]["href"])).get_json())
    return pages[::-1]


def page_ids(pages) -> list[str]:
    return [f["id"] for page in pages for f in page["features"]]


class TestSpatialPages:
    """Pages follow tile_key ranges across a box; they keep exactly what PostGIS's box test does."""

    BOX = (2.3312, 48.8461, 2.3664, 48.8607)

    def test_walking_a_box_forward_and_back_lists_each_device_once_in_key_order(self, client, db):
        west, south, east, north = self.BOX
        # A grid twice the box: inside, outside, and exactly on its edges.
        seed_grid(db, west - 0.0352, south - 0.0146, east + 0.0352, north + 0.0146, steps=31)
        expected = box_ids_in_spatial_order(db, self.BOX)
        assert 60 < len(expected) < 31 * 31
        forward = walk(client, f"{ITEMS}?bbox={west},{south},{east},{north}&limit=7")
        assert page_ids(forward) == expected
        assert all(page["numberReturned"] == 7 for page in forward[:-1])
        backward = walk_back(client, forward[-1])
        assert [p["features"] for p in backward] == [p["features"] for p in forward]

    @pytest.mark.parametrize(
        "box", [BOX, (150.0001, 59.99, 150.0271, 60.01), (90.0, 0.0, 90.02, 0.01)]
    )
    def test_devices_on_the_edges_are_kept_and_those_a_hair_beside_are_not(self, client, db, box):
        """PostGIS's box test (`&&`) rounds boxes to float4: at longitude 90, it kept devices
        1e-5 degrees (a metre) out, which a client saw outside the box it asked for. The
        devices' coordinates decide, as in CQL2's S_INTERSECTS.

        90 and 0 are tile edges at every zoom: the ranges must reach beyond them.
        """
        west, south, east, north = box
        middle_lon, middle_lat = (west + east) / 2, (south + north) / 2
        for offset in (0, 1e-7, 3e-7, 1e-6, 3e-6, 6e-6, 1.2e-5, 3e-5):
            for lon, lat in [
                (west - offset, middle_lat), (east + offset, middle_lat),
                (middle_lon, south - offset), (middle_lon, north + offset),
                (west + offset, middle_lat), (middle_lon, north - offset),
                (west - offset, south - offset), (east + offset, north + offset),
            ]:  # fmt: skip
                db(
                    "INSERT INTO devices (id, geom, kind, review_status) VALUES (gen_random_uuid(),"
                    " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 'camera', 'approved')",
                    lon=lon,
                    lat=lat,
                )
        expected = box_ids_in_spatial_order(db, box)
        assert len(expected) == 8 + 2 * 7  # all 8 on the edges, 2 inside for each offset
        bbox = f"bbox={west},{south},{east},{north}"
        assert page_ids(walk(client, f"{ITEMS}?{bbox}")) == expected
        assert page_ids(walk(client, f"/api/v1/devices?{bbox}&limit=5")) == expected
        cql2 = f"filter=S_INTERSECTS(geometry,BBOX({west},{south},{east},{north}))"
        assert page_ids(walk(client, f"{ITEMS}?{cql2}")) == expected

    def test_a_box_across_the_antimeridian_pages_through_both_sides(self, client, db):
        seed_grid(db, 179.6, -0.4, 180.0, 0.4, steps=8)
        seed_grid(db, -180.0, -0.4, -179.6, 0.4, steps=8)
        expected = box_ids_in_spatial_order(db, (179.8, -0.2, 180, 0.2), (-180, -0.2, -179.8, 0.2))
        assert len(expected) > 8
        forward = walk(client, f"{ITEMS}?bbox=179.8,-0.2,-179.8,0.2&limit=3")
        assert page_ids(forward) == expected

    def test_boxes_given_twice_keep_what_lies_in_both(self, client, db):
        """As GDAL sends an `OAPIF:` URL's bbox and its -spat: the next links keep both."""
        west, south, east, north = self.BOX
        seed_grid(db, west, south, east, north, steps=12)
        middle = (west + east) / 2
        expected = box_ids_in_spatial_order(db, (middle, south, east, north))
        assert 20 < len(expected) < 12 * 12
        both = f"bbox={west},{south},{east},{north}&bbox={middle},{south - 1},{east + 1},{north}"
        assert page_ids(walk(client, f"{ITEMS}?{both}&limit=9")) == expected
        apart = f"bbox={west},{south},{middle - 0.001},{north}&bbox={middle},{south},{east},{north}"
        response = client.get(f"{ITEMS}?{apart}")
        assert response.status_code == 200 and response.get_json()["features"] == []
        broken = client.get(f"{ITEMS}?bbox={west},{south},{east},{north}&bbox=1,2,3")
        assert broken.status_code == 400 and broken.get_json()["errors"][0]["field"] == "bbox"

    def test_boxes_given_twice_across_the_antimeridian_and_in_another_crs(self, client, db):
        seed_grid(db, 179.6, -0.4, 180.0, 0.4, steps=8)
        seed_grid(db, -180.0, -0.4, -179.6, 0.4, steps=8)
        # The meridian at -180 holds the devices stored at 180 as well.
        east_side = box_ids_in_spatial_order(db, (-180, -0.2, -179.8, 0.2), (180, -0.2, 180, 0.2))
        both = "bbox=179.8,-0.2,-179.8,0.2&bbox=-180,-1,-179,1"
        assert page_ids(walk(client, f"{ITEMS}?{both}&limit=5")) == east_side
        # EPSG:4326 is latitude first: the same boxes, axes swapped, on the same meridian.
        swapped = "bbox=-0.2,179.8,0.2,180&bbox=-1,179.7,1,180&bbox-crs=" + quote(LAT_LON_CRS)
        west_side = box_ids_in_spatial_order(db, (179.8, -0.2, 180, 0.2), (-180, -0.2, -180, 0.2))
        assert page_ids(walk(client, f"{ITEMS}?{swapped}&limit=5")) == west_side

    def test_filters_apply_inside_every_range(self, client, db):
        west, south, east, north = self.BOX
        seed_grid(db, west, south, east, north, steps=12)
        db("UPDATE devices SET kind = 'alpr' WHERE tile_key % 3 = 0")
        db("UPDATE devices SET review_status = 'pending' WHERE tile_key % 5 = 0")
        expected = box_ids_in_spatial_order(db, self.BOX, also="kind = 'alpr'")
        assert 10 < len(expected) < 12 * 12 / 3
        url = f"{ITEMS}?bbox={west},{south},{east},{north}&kind=alpr&limit=5"
        assert page_ids(walk(client, url)) == expected
        cql = "filter=height IS NULL AND kind = 'alpr'"
        assert page_ids(walk(client, f"{url}&{cql}")) == expected

    def test_properties_that_look_like_a_feature_do_not_confuse_the_page_edges(self, client, db):
        west, south, east, north = self.BOX
        seed_grid(db, west, south, east, north, steps=4)
        lookalike = ',{"type":"Feature","id":"00000000-0000-0000-0000-000000000000"}'
        # tags is the one object among the properties: a Feature's opening, as tags.
        tags = '{"x": "{", "type": "Feature", "id": "00000000-0000-0000-0000-000000000000"}'
        db("UPDATE devices SET notes = :notes, tags = :tags", notes=lookalike, tags=tags)
        expected = box_ids_in_spatial_order(db, self.BOX)
        forward = walk(client, f"{ITEMS}?bbox={west},{south},{east},{north}&limit=3")
        assert page_ids(forward) == expected
        assert forward[0]["features"][0]["properties"]["notes"] == lookalike
        assert [p["features"] for p in walk_back(client, forward[-1])] == [
            p["features"] for p in forward
        ]

    @pytest.mark.parametrize("plan", ["custom", "generic"])
    @pytest.mark.parametrize("direction", ["after", "before"])
    def test_a_page_is_read_range_after_range_without_sorting_it(
        self, app, isolated, db, direction, plan
    ):
        """The page keeps its ranges' key order only while PostgreSQL reads them in turn; a
        sort of the page would also copy every Feature once more. Prepared, the statement
        soon runs with a generic plan: that one too."""
        seed_grid(db, *self.BOX, steps=8)
        # The plan follows these rows, not statistics left by earlier tests (rolled back too).
        db("ANALYZE devices")
        # A few dozen rows in pages that earlier tests' commits left behind (as many as
        # autovacuum has not yet cleared) can make a bitmap scan and a sort of each range look
        # cheaper, a plan a table of real size never gets: the shape checked is the index's.
        db("SET LOCAL enable_bitmapscan = off")
        # A position before every range of the box (after) or beyond them all (before).
        ranges = covering_ranges([self.BOX])
        key = ranges[0].low if direction == "after" else ranges[-1].high
        page = select_device_page_in_space(
            DeviceFilter(bboxes=[self.BOX]), 7, **{direction: (key, uuid.UUID(int=0))}
        )
        statement, values = page.statement, dict(page.values)
        assert values["range_lows"].count(",") + 1 == len(ranges) > 1
        values |= {"photo_base": "https://x/"}
        if plan == "custom":
            top = db("EXPLAIN (FORMAT JSON) " + as_text(statement.params(values))).scalar()
        else:
            compiled = statement.compile(dialect=postgresql.psycopg.dialect())
            names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", str(compiled))))
            sql = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m[1]) + 1}", str(compiled))
            isolated.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            isolated.exec_driver_sql(f"PREPARE spatial_page AS {sql}")
            arguments = compiled.params | values
            literals = ", ".join("'" + str(arguments[n]).replace("'", "''") + "'" for n in names)
            explain = f"EXPLAIN (FORMAT JSON) EXECUTE spatial_page({literals})"
            try:
                top = isolated.exec_driver_sql(explain).scalar()
            finally:
                isolated.exec_driver_sql("DEALLOCATE spatial_page")
        # The page: the first Limit under the aggregate (PostgreSQL 16 and later may sort
        # above it for the backward pages' string_agg(... ORDER BY), as 15 does inside it).
        page = next(node for node in plan_nodes(top[0]["Plan"]) if node["Node Type"] == "Limit")
        kinds = [node["Node Type"] for node in plan_nodes(page)]
        assert kinds[:2] == ["Limit", "Nested Loop"]
        assert "Function Scan" in kinds and "Index Scan" in kinds
        assert not {"Sort", "Incremental Sort"} & set(kinds)


def test_items_and_an_item_list_photos_with_absolute_urls(client, db):
    device = pin(client)["id"]
    photo = add_photo(db, device, "2026-11-01T00:00:00Z")
    thumbnail = f"http://localhost/api/v1/photos/{photo}/thumbnail"
    listed = client.get(ITEMS).get_json()["features"][0]["properties"]["photos"]
    alone = client.get(f"{ITEMS}/{device}").get_json()["properties"]["photos"]
    assert [p["thumbnail"] for p in listed] == [p["thumbnail"] for p in alone] == [thumbnail]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/ogc/collections/devices/items?filter=kind%20%3D", "filter"),
        ("/ogc/collections/devices/items?cursor=garbage", "cursor"),
        ("/api/v1/devices?cursor=garbage", "cursor"),
    ],
)
def test_a_query_value_of_the_wrong_shape_is_invalid_input(client, url, field):
    """As the README sorts refusals: a filter that does not parse, a cursor that is none, are
    values of the wrong shape (invalid-input), like any other parameter webargs refuses."""
    response = client.get(url)
    assert response.status_code == 400
    problem = response.get_json()
    assert problem["type"].endswith("/invalid-input") and problem["errors"][0]["field"] == field
