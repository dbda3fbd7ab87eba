"""Every GeoJSON answer of the API passes an RFC 7946 check (tests/rfc7946.py): positions,
closed rings and the right-hand rule, whatever the winding of the stored polygons."""

import pytest

from tests.declared import load_sites, site, write_sites
from tests.districts import district_feature, load, write_geojson
from tests.helpers import pin
from tests.rfc7946 import rfc7946_problems

# Stored clockwise, with a counterclockwise hole: every answer must turn both around.
CLOCKWISE = [
    [[2.30, 48.80], [2.30, 48.82], [2.32, 48.82], [2.32, 48.80], [2.30, 48.80]],
    [[2.305, 48.805], [2.315, 48.805], [2.315, 48.815], [2.305, 48.815], [2.305, 48.805]],
]
BBOX = "2.29,48.79,2.33,48.83"


@pytest.fixture
def client(moderator):
    return moderator


@pytest.fixture
def mapped(client, isolated, tmp_path):
    load(
        isolated,
        write_geojson(tmp_path / "q.geojson", [district_feature("CW", CLOCKWISE, population=900)]),
        level="quartier",
        population_field="population",
    )
    camera = pin(client, 2.301, 48.801, direction=[0, 135], angle=60)
    pin(client, 2.319, 48.819, kind="alpr")
    pin(client, 2.3191, 48.8191, kind="alpr")
    load_sites(isolated, write_sites(tmp_path / "list.geojson", [site("S1", 2.3012, 48.8012)]))
    return camera["id"]


def test_the_check_sees_a_clockwise_exterior_ring():
    polygon = {"type": "Polygon", "coordinates": CLOCKWISE}
    feature = {"type": "Feature", "properties": {}, "geometry": polygon}
    assert [p.split(": ")[1] for p in rfc7946_problems(feature)] == [
        "exterior ring is clockwise (section 3.1.6)",
        "hole 1 is counterclockwise (section 3.1.6)",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/devices",
        f"/api/v1/devices?cluster=true&zoom=12&bbox={BBOX}",
        "/api/v1/devices/{camera}",
        "/api/v1/devices/{camera}/view",
        f"/api/v1/views?bbox={BBOX}",
        "/api/v1/districts?level=quartier",
        "/api/v1/districts/CW",
        "/api/v1/stats/districts?level=quartier&f=geojson",
        "/api/v1/stats/compare?codes=CW&f=geojson",
        f"/api/v1/stats/grid?bbox={BBOX}&cell=500",
        "/ogc/collections/devices/items",
        "/ogc/collections/devices/items/{camera}",
        "/ogc/collections/districts/items",
        "/ogc/collections/districts/items/CW",
        "/api/v1/declared/sites",
        "/ogc/collections/declared_sites/items",
    ],
)
def test_every_geojson_answer_follows_rfc_7946(client, mapped, url):
    response = client.get(url.format(camera=mapped))
    assert response.status_code == 200, response.get_json()
    document = response.get_json()
    assert rfc7946_problems(document, url) == []
    polygons = [f for f in document.get("features", [document]) if "Polygon" in str(f)]
    if "district" in url or "view" in url or "grid" in url:
        assert polygons, "the check must see polygons here"
