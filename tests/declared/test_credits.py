"""Every answer that serves declared sites credits each list it draws from, with the licence
its publisher gave (linked to the licence's text when known, else to the list's source)."""

import pytest

from tests.api.test_credits import licences
from tests.api.test_tiles import tile_of
from tests.districts import district_feature, load, rectangle, write_geojson
from tests.helpers import pin

from . import LAT, LON, load_sites, site, write_sites

ETALAB = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
TEST_LIST = "Test prefecture (Licence Ouverte)"
OTHER_LIST = "Other city (Licence Ouverte 2.0)"


@pytest.fixture
def two_lists(isolated, tmp_path):
    """test-list's licence is unknown to Vigie (its source is linked); other-list's is known."""
    load_sites(isolated, write_sites(tmp_path / "a.geojson", [site("A")]))
    load_sites(
        isolated,
        write_sites(tmp_path / "b.geojson", [site("B", LON + 0.001)]),
        name="other-list",
        publisher="Other city",
        licence="Licence Ouverte 2.0",
    )


def licence_headers(response) -> list[str]:
    """The licences' addresses in the `Link: <...>; rel="license"` headers."""
    links = response.headers.getlist("Link")
    return [v.split(">")[0].lstrip("<") for v in links if v.endswith('rel="license"')]


def test_site_listing_links_and_names_each_list(client, two_lists):
    response = client.get("/api/v1/declared/sites")
    credited = licences(response.get_json())
    assert credited[TEST_LIST] == "https://example.org/list"
    assert credited[OTHER_LIST] == ETALAB
    assert "Vigie contributors (ODbL 1.0)" in credited
    assert "Test prefecture" in response.headers["X-Attribution"]
    assert "Other city" in response.headers["X-Attribution"]
    assert "Licence Ouverte 2.0" in response.headers["X-Licence"]
    assert ETALAB in licence_headers(response)


def test_a_list_filtered_on_is_the_only_list_credited(client, two_lists):
    body = client.get("/api/v1/declared/sites?dataset=other-list").get_json()
    assert OTHER_LIST in licences(body) and TEST_LIST not in licences(body)
    one = client.get("/api/v1/declared/datasets/test-list")
    assert "Test prefecture" in one.headers["X-Attribution"]
    assert "Other city" not in one.headers["X-Attribution"]
    listing = client.get("/api/v1/declared/datasets")
    assert "Other city" in listing.headers["X-Attribution"]
    assert "https://example.org/list" in licence_headers(listing)


def test_one_site_and_one_devices_declaration_credit_their_lists(client, moderator, two_lists):
    """A site alone is its publisher's data too: credited with its own list's licence (and an
    ETag), as the listing is; a device's declaration credits the lists it is checked against."""
    listing = client.get("/api/v1/declared/sites?dataset=other-list").get_json()
    response = client.get(f"/api/v1/declared/sites/{listing['features'][0]['id']}")
    assert response.status_code == 200 and response.headers["ETag"]
    assert "Other city" in response.headers["X-Attribution"]
    assert "Test prefecture" not in response.headers["X-Attribution"]
    assert ETALAB in licence_headers(response)
    device = pin(moderator, LON, LAT)
    declaration = client.get(f"/api/v1/declared/devices/{device['id']}")
    assert declaration.get_json()["declared"] is True
    assert "Test prefecture" in declaration.headers["X-Attribution"]


def test_ogc_collection_and_items_credit_the_lists(client, two_lists):
    collection = client.get("/ogc/collections/declared_sites").get_json()
    assert "Test prefecture (Licence Ouverte)" in collection["attribution"]
    assert "Other city (Licence Ouverte 2.0)" in collection["attribution"]
    assert licences(collection)[OTHER_LIST] == ETALAB
    items = client.get("/ogc/collections/declared_sites/items").get_json()
    assert licences(items)[TEST_LIST] == "https://example.org/list"


def test_declared_tiles_carry_the_credit_headers(client, two_lists):
    x, y = tile_of(LON, LAT, 16)
    response = client.get(f"/tiles/declared/16/{x}/{y}.mvt")
    assert response.status_code == 200
    assert "Test prefecture" in response.headers["X-Attribution"]
    assert ETALAB in licence_headers(response)


def test_declared_statistics_credit_the_lists_beside_the_districts(
    client, two_lists, isolated, tmp_path
):
    load(
        isolated,
        write_geojson(
            tmp_path / "d.geojson",
            [district_feature("W", rectangle(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01))],
        ),
        attribution="Ville de Paris",
    )
    url = "/api/v1/stats/districts?level=quartier&declared=true"
    for fmt in ("json", "geojson"):
        credited = {
            a["attribution"]: a for a in client.get(f"{url}&f={fmt}").get_json()["attribution"]
        }
        assert "Ville de Paris" in credited
        assert credited["Other city"]["licence"] == "Licence Ouverte 2.0"
        assert credited["Test prefecture"]["source_url"] == "https://example.org/list"
    csv = client.get(f"{url}&f=csv")
    assert "Other city" in csv.headers["X-Attribution"]
    assert ETALAB in licence_headers(csv)
    plain = client.get("/api/v1/stats/districts?level=quartier")
    assert "Other city" not in plain.headers["X-Attribution"]
