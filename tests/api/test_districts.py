"""Browsing districts: GeoJSON by level, parent and bbox, with simplified geometry."""

import pytest
from shapely.geometry import shape
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

from service.geo.districts import (
    DEFAULT_TOLERANCE_M,
    district_feature_text,
    district_properties,
    simplified_geojson,
)
from service.geo.statistics.density import DensityQuery
from service.geo.statistics.documents import select_density_geojson
from service.geo.statistics.selection import DistrictSelection, StatisticsFilter
from service.models import District
from tests.districts import district_feature, load, rectangle, write_geojson
from tests.helpers import GEOJSON, PROBLEM


def wiggly(west: float, south: float, size: float, teeth: int = 200) -> list:
    """A square whose south edge has tiny teeth (1 m): simplification removes them."""
    step = size / teeth
    edge = [[west + i * step, south + (0.00001 if i % 2 else 0)] for i in range(teeth + 1)]
    ring = [*edge, [west + size, south + size], [west, south + size], [west, south]]
    return [ring]


@pytest.fixture
def areas(isolated, tmp_path):
    load(
        isolated,
        write_geojson(
            tmp_path / "c.geojson",
            [
                district_feature("C1", wiggly(2.30, 48.80, 0.02)),
            ],
        ),
        level="commune",
        dataset="communes",
        attribution="Communes",
    )
    load(
        isolated,
        write_geojson(
            tmp_path / "q.geojson",
            [
                district_feature("C1-A", wiggly(2.30, 48.80, 0.01)),
                district_feature("C1-B", wiggly(2.31, 48.80, 0.01)),
            ],
        ),
        level="quartier",
        parent="C1",
    )


def get_collection(client, query):
    response = client.get(f"/api/v1/districts?{query}")
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == GEOJSON
    return response.get_json()


def test_filter_by_level_parent_and_bbox(client, areas):
    assert [f["id"] for f in get_collection(client, "level=commune")["features"]] == ["C1"]
    children = get_collection(client, "parent=C1")
    assert [f["id"] for f in children["features"]] == ["C1-A", "C1-B"]
    props = children["features"][0]["properties"]
    assert (props["level"], props["parent_code"], props["dataset"]) == (
        "quartier",
        "C1",
        "test-districts",
    )
    assert props["area_km2"] == pytest.approx(0.8168, rel=0.01)
    east = get_collection(client, "level=quartier&bbox=2.315,48.80,2.33,48.81")
    assert [f["id"] for f in east["features"]] == ["C1-B"]
    assert get_collection(client, "level=quartier&limit=1")["truncated"] is True


def test_a_bbox_keeps_the_districts_whose_boundary_meets_it(client, isolated, tmp_path):
    """Not those whose bounding box alone does: an L-shaped district spans a box its shape
    misses (OGC API Features' bbox requirement, as CQL2's S_INTERSECTS)."""
    l_shape = [[[2.0, 48.0], [2.2, 48.0], [2.2, 48.05], [2.05, 48.05], [2.05, 48.2], [2.0, 48.2],
                [2.0, 48.0]]]  # fmt: skip
    features = [
        district_feature("L", l_shape),
        district_feature("N", rectangle(2.1, 48.1, 2.2, 48.2)),
    ]
    load(isolated, write_geojson(tmp_path / "l.geojson", features), level="commune")
    in_the_notch = "2.1,48.1,2.15,48.15"  # inside L's bounding box, outside L
    on_the_arm = "2.1,48.01,2.15,48.02"
    assert [f["id"] for f in get_collection(client, f"bbox={in_the_notch}")["features"]] == ["N"]
    assert [f["id"] for f in get_collection(client, f"bbox={on_the_arm}")["features"]] == ["L"]
    ogc = client.get(f"/ogc/collections/districts/items?bbox={in_the_notch}").get_json()
    assert [f["id"] for f in ogc["features"]] == ["N"] and ogc["numberMatched"] == 1


def test_a_bbox_on_the_antimeridian_keeps_a_district_touching_it_at_a_vertex(
    client, isolated, tmp_path
):
    """-180 and 180 are one meridian: a box with its west edge at -180 meets a boundary whose
    corner lies on 180, in the REST listing as in the OGC API."""
    touching = [[[179.5, 9.0], [180.0, 10.5], [179.5, 12.0], [179.5, 9.0]]]
    features = [
        district_feature("T", touching),
        district_feature("W", rectangle(-179.4, 10, -179.2, 11)),
    ]
    load(isolated, write_geojson(tmp_path / "edge.geojson", features), level="commune")
    box = "-180,10,-179.5,11"
    assert [f["id"] for f in get_collection(client, f"bbox={box}")["features"]] == ["T"]
    ogc = client.get(f"/ogc/collections/districts/items?bbox={box}").get_json()
    assert [f["id"] for f in ogc["features"]] == ["T"]


def test_pages_follow_their_next_links_in_code_order(client, areas):
    page = get_collection(client, "level=quartier&limit=1")
    seen = []
    while True:
        seen += [f["id"] for f in page["features"]]
        links = {link["rel"]: link["href"] for link in page["links"]}
        assert links["self"].startswith("http://localhost/api/v1/districts?")
        if "next" not in links:
            break
        assert page["truncated"] is True and "level=quartier" in links["next"]
        page = get_collection(client, links["next"].split("?", 1)[1])
    assert seen == ["C1-A", "C1-B"] and page["truncated"] is False
    everything = get_collection(client, "limit=5")
    assert [f["id"] for f in everything["features"]] == ["C1", "C1-A", "C1-B"]
    assert [link["rel"] for link in everything["links"]] == ["self"]


def test_districts_are_served_with_the_credit_of_their_source_only(client, isolated, tmp_path):
    """Boundaries under the ODbL ask for their credit wherever they are served: a page, and a
    district, name their dataset's source and licence (a `license` link, the credit headers),
    not those of districts they do not hold."""
    for code, level, source, licence in (
        ("P", "commune", "Ville de Paris", "ODbL 1.0"),
        ("L", "department", "IGN", "Licence Ouverte 2.0"),
    ):
        path = write_geojson(
            tmp_path / f"{code}.geojson", [district_feature(code, rectangle(2, 48, 3, 49))]
        )
        load(isolated, path, level=level, dataset=code, attribution=source, licence=licence)
    response = client.get("/api/v1/districts?level=commune")
    assert response.status_code == 200
    licences = [link for link in response.get_json()["links"] if link["rel"] == "license"]
    assert licences == [
        {
            "href": "https://opendatacommons.org/licenses/odbl/1-0/",
            "rel": "license",
            "type": "text/html",
            "title": "Ville de Paris (ODbL 1.0)",
        }
    ]
    assert response.headers["X-Attribution"] == "Ville de Paris"
    assert response.headers["X-Licence"] == "ODbL 1.0"
    one = client.get("/api/v1/districts/L")
    assert (
        one.headers["X-Attribution"] == "IGN" and one.headers["X-Licence"] == "Licence Ouverte 2.0"
    )
    assert (
        one.headers["Link"]
        == '<https://www.etalab.gouv.fr/licence-ouverte-open-licence/>; rel="license"'
    )
    # Pages in code order credit their own districts: L's first, then P's after the cursor.
    first = client.get("/api/v1/districts?limit=1").get_json()
    credited = [link["title"] for link in first["links"] if link["rel"] == "license"]
    assert credited == ["IGN (Licence Ouverte 2.0)"]
    [after] = [link["href"] for link in first["links"] if link["rel"] == "next"]
    second = client.get(after.removeprefix("http://localhost")).get_json()
    credited = [link["title"] for link in second["links"] if link["rel"] == "license"]
    assert [f["id"] for f in second["features"]] == ["P"]
    assert credited == ["Ville de Paris (ODbL 1.0)"]


def test_tolerance_in_metres_simplifies_the_geometry(client, areas):
    def vertices(tolerance):
        feature = client.get(f"/api/v1/districts/C1-A?tolerance={tolerance}").get_json()
        assert feature["geometry"]["type"] == "MultiPolygon"
        return sum(len(polygon.exterior.coords) for polygon in shape(feature["geometry"]).geoms)

    exact, simplified = vertices(0), vertices(5)
    assert exact > 200 and simplified <= 10


def test_kept_boundary_is_the_default_simplification(client, db, areas, isolated, tmp_path):
    """Each boundary kept as GeoJSON at the default tolerance (migration 0022) is the text the
    application computes at that tolerance, and follows a re-import that moves it."""
    kept_equals_computed = text(
        "SELECT bool_and(districts.boundary_geojson = computed.geojson), count(*) "
        "FROM districts JOIN (" + computed_boundaries() + ") AS computed USING (code)"
    )
    assert isolated.execute(kept_equals_computed).one() == (True, 3)
    load(
        isolated,
        write_geojson(
            tmp_path / "moved.geojson", [district_feature("C1-A", wiggly(2.5, 48.9, 0.01))]
        ),
        level="quartier",
        parent="C1",
    )
    assert isolated.execute(kept_equals_computed).one() == (True, 3)
    feature = client.get("/api/v1/districts/C1-A").get_json()
    assert shape(feature["geometry"]).bounds[0] == pytest.approx(2.5)
    assert len(shape(feature["geometry"]).geoms[0].exterior.coords) <= 10


def computed_boundaries() -> str:
    """The boundaries as the application simplifies them at DEFAULT_TOLERANCE_M, as SQL."""
    statement = select(
        District.code, simplified_geojson(District.geom, DEFAULT_TOLERANCE_M).label("geojson")
    )
    return str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


def test_default_tolerance_reads_the_kept_boundary():
    """GeoJSON answers at the default tolerance read the kept text, not simplify again."""
    for feature in (
        district_feature_text(district_properties(), DEFAULT_TOLERANCE_M),
        select_density_geojson(
            DensityQuery(DistrictSelection(levels=["commune"]), StatisticsFilter()),
            [],
            DEFAULT_TOLERANCE_M,
        ),
    ):
        sql = str(feature.compile(dialect=postgresql.dialect()))
        assert "boundary_geojson" in sql and "ST_SimplifyPreserveTopology" not in sql
    other = str(district_feature_text(district_properties(), 25.0).compile())
    assert "boundary_geojson" not in other and "ST_SimplifyPreserveTopology" in other


def test_one_district_and_unknown_code(client, areas):
    response = client.get("/api/v1/districts/C1")
    assert (
        response.status_code == 200 and response.get_json()["properties"]["name"] == "District C1"
    )
    missing = client.get("/api/v1/districts/NOPE")
    assert missing.status_code == 404 and missing.mimetype == PROBLEM


@pytest.mark.parametrize(
    ("query", "field", "detail"),
    [
        ("level=nope", "level", "No district has the level nope."),
        ("level=nope&bbox=2.30,48.80,2.33,48.81", "level", "No district has the level nope."),
        ("parent=NOPE,NIX", "parent", "No district has the code NOPE, NIX."),
        ("level=commune&parent=NOPE", "parent", "No district has the code NOPE."),
    ],
)
def test_a_level_or_parent_no_district_has_is_a_404_naming_it(client, areas, query, field, detail):
    """As the statistics and downloads answer: a typo is not read as "no districts here"."""
    response = client.get(f"/api/v1/districts?{query}")
    assert response.status_code == 404 and response.mimetype == PROBLEM
    body = response.get_json()
    assert body["detail"] == detail and body["errors"][0]["field"] == field


def test_a_level_and_parent_or_a_box_that_hold_no_district_are_an_empty_page(client, areas):
    for query in ("level=commune&parent=C1", "level=quartier&bbox=2.40,48.80,2.41,48.81"):
        assert get_collection(client, query)["features"] == [], query


def test_a_parent_known_only_as_the_parent_of_districts_lists_them(client, isolated, tmp_path):
    """Arrondissements imported without their commune: the commune's code is no district of
    its own, but is their parent, and lists them."""
    load(
        isolated,
        write_geojson(tmp_path / "a.geojson", [district_feature("A1", wiggly(2.30, 48.80, 0.01))]),
        level="arrondissement",
        parent="COMMUNE",
    )
    assert [f["id"] for f in get_collection(client, "parent=COMMUNE")["features"]] == ["A1"]
    empty = get_collection(client, "parent=COMMUNE&bbox=2.40,48.80,2.41,48.81")
    assert empty["features"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("tolerance=-3", "tolerance"),
        ("bbox=1,2,3", "bbox"),
        ("limit=0", "limit"),
        ("color=red", "color"),
    ],
)
def test_bad_queries_are_400(client, db, areas, query, field):
    before = db("SELECT count(*) FROM districts").scalar_one()
    response = client.get(f"/api/v1/districts?{query}")
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert db("SELECT count(*) FROM districts").scalar_one() == before
