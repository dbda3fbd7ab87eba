"""The districts collection of /ogc: boundaries with their device statistics as properties."""

import pytest

from tests.districts import district_feature, load, rectangle, write_geojson
from tests.helpers import GEOJSON, PROBLEM, pin

ITEMS = "/ogc/collections/districts/items"


@pytest.fixture
def client(moderator):
    """A moderator: the pins of these tests are approved at once, hence public."""
    return moderator


@pytest.fixture
def districts(isolated, tmp_path, client):
    """Two 0.01° squares side by side; three devices in the west one, one in the east one, one
    on their shared border (it counts once, in the district of the smaller code: E)."""
    load(
        isolated,
        write_geojson(
            tmp_path / "q.geojson",
            [
                district_feature("W", rectangle(2.30, 48.80, 2.31, 48.81), population=20_000),
                district_feature("E", rectangle(2.31, 48.80, 2.32, 48.81)),
            ],
        ),
        level="quartier",
        parent="C1",
        population_field="population",
    )
    for lon in (2.301, 2.302, 2.303):
        pin(client, lon, 48.805)
    pin(client, 2.315, 48.805, kind="alpr")
    pin(client, 2.31, 48.807, kind="microphone")  # on the border shared by E and W
    pin(client, 2.302, 48.806, status="removed")  # not on the map any more
    gone = pin(client, 2.304, 48.805)
    etag = client.get(f"/api/v1/devices/{gone['id']}").headers["ETag"]
    client.delete(f"/api/v1/devices/{gone['id']}", headers={"If-Match": etag})


def by_code(response) -> dict:
    return {f["id"]: f for f in response.get_json()["features"]}


def test_districts_are_a_second_collection_with_an_extent(client, districts):
    ids = [c["id"] for c in client.get("/ogc/collections").get_json()["collections"]]
    assert ids == ["devices", "districts", "declared_sites"]
    body = client.get("/ogc/collections/districts").get_json()
    assert body["extent"]["spatial"]["bbox"] == [
        [pytest.approx(2.30), pytest.approx(48.80), pytest.approx(2.32), pytest.approx(48.81)]
    ]


def test_items_carry_device_statistics(client, districts):
    response = client.get(ITEMS)
    assert response.status_code == 200 and response.mimetype == GEOJSON
    features = by_code(response)
    west, east = features["W"]["properties"], features["E"]["properties"]
    # Deleted and removed devices are not counted; the border device counts once, in E.
    assert (west["count"], east["count"]) == (3, 2)
    assert east["counts_by_kind"]["microphone"] == 1 and west["counts_by_kind"]["camera"] == 3
    area = west["area_km2"]
    assert 0.8 < area < 0.9  # 0.01° x 0.01° at 48.8° N
    assert west["per_km2"] == pytest.approx(3 / area, abs=0.001)
    assert west["per_10k_inhabitants"] == 1.5
    assert east["per_10k_inhabitants"] is None  # no population known
    assert features["W"]["geometry"]["type"] == "MultiPolygon"


def test_items_give_the_figures_of_the_statistics_api(client, districts):
    """One builder, one border rule: the OGC collection and /api/v1/stats agree."""
    ogc = by_code(client.get(ITEMS))
    statistics = client.get("/api/v1/stats/districts?level=quartier").get_json()["districts"]
    for figures in statistics:
        served = ogc[figures["code"]]["properties"]
        for name, value in figures.items():
            if name not in ("rank", "watched_area_km2", "watched_share"):
                assert served[name] == value, name


def test_filters_paging_and_single_items(client, districts):
    assert list(by_code(client.get(f"{ITEMS}?code=E"))) == ["E"]
    cql = client.get(ITEMS, query_string={"filter": "population > 1000"})
    assert list(by_code(cql)) == ["W"]
    first = client.get(f"{ITEMS}?limit=1").get_json()
    next_link = next(link for link in first["links"] if link["rel"] == "next")
    second = client.get(next_link["href"].removeprefix("http://localhost")).get_json()
    assert [f["id"] for f in first["features"] + second["features"]] == ["E", "W"]
    one = client.get(f"{ITEMS}/W")
    assert one.status_code == 200 and one.get_json()["properties"]["count"] == 3
    missing = client.get(f"{ITEMS}/nowhere")
    assert missing.status_code == 404 and missing.mimetype == PROBLEM


def test_unknown_properties_are_refused(client, districts):
    response = client.get(ITEMS, query_string={"filter": "count > 2"})
    assert response.status_code == 400
    assert "Unknown property" in response.get_json()["detail"]
    assert client.get(f"{ITEMS}?kind=camera").status_code == 400


def test_a_like_pattern_ending_in_a_lone_backslash_is_400(client, districts):
    response = client.get(ITEMS, query_string={"filter": "name LIKE '%\\'"})
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["field"] == "filter"


@pytest.mark.parametrize("datetime", ["2020-01-01", "2020-01-01/2021-01-01"])
def test_a_time_is_refused_where_figures_are_those_of_now(client, districts, datetime):
    """Ignored, it would give today's figures under that date's name."""
    response = client.get(ITEMS, query_string={"datetime": datetime})
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["field"] == "datetime"
    assert "stats/districts?at=" in response.get_json()["detail"]


def test_pages_credit_the_populations_source(client, isolated, tmp_path):
    """A population's source has no licence to link: the page names it in its attribution,
    as the collection does, with every other source."""
    load(
        isolated,
        write_geojson(
            tmp_path / "p.geojson",
            [district_feature("P", rectangle(2.30, 48.80, 2.31, 48.81), population=1_000)],
        ),
        population_field="population",
        population_source="INSEE test",
    )
    for media_type in (GEOJSON, "application/json"):
        page = client.get(ITEMS, headers={"Accept": media_type}).get_json()
        assert "Test districts" in page["attribution"]
        assert "INSEE test" in page["attribution"]
        assert "Vigie contributors" in page["attribution"]
    collection = client.get("/ogc/collections/districts").get_json()
    assert page["attribution"] == collection["attribution"]


@pytest.mark.parametrize("cursor", ["AAAA", "AAAAAAAAAAAAAAAAAAAAAA"])
def test_a_cursor_whose_code_holds_a_nul_is_a_400(client, districts, cursor):
    """A code of ours never holds one, and PostgreSQL's text cannot: refused as not ours."""
    response = client.get(ITEMS, query_string={"cursor": cursor})
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["field"] == "cursor"


def test_two_datasets_of_one_source_are_credited_once(client, isolated, tmp_path):
    """Communes and départements of one source (IGN's): named twice, with two links to one
    licence, before."""
    for code, level in (("C", "commune"), ("D", "department")):
        load(
            isolated,
            write_geojson(
                tmp_path / f"{code}.geojson", [district_feature(code, rectangle(2, 48, 3, 49))]
            ),
            level=level,
            dataset=code,
            attribution="IGN",
            licence="Licence Ouverte 2.0",
        )
    page = client.get(ITEMS).get_json()
    assert page["attribution"].count("IGN") == 1
    assert [link["title"] for link in page["links"] if link["rel"] == "license"].count(
        "IGN (Licence Ouverte 2.0)"
    ) == 1
