"""Every answer that carries device data credits its sources with their licences: Vigie's
contributors, and OpenStreetMap's contributors (ODbL) once devices were imported from it."""

import pytest

from geodata import catalogue
from service.api.credits import licence_url
from tests.districts import district_feature, load, rectangle, write_geojson
from tests.helpers import pin

ODBL = "https://opendatacommons.org/licenses/odbl/1-0/"
OSM = "OpenStreetMap contributors"


@pytest.fixture
def client(moderator):
    return moderator


@pytest.fixture
def imported(db):
    """A device imported from OpenStreetMap, as `flask osm import` stores it."""
    db(
        "INSERT INTO devices (id, geom, kind, osm_id, osm_version) VALUES "
        "(gen_random_uuid(), ST_SetSRID(ST_MakePoint(2.305, 48.805), 4326), 'camera', 42, 3)"
    )


@pytest.fixture
def districts(isolated, tmp_path):
    load(
        isolated,
        write_geojson(
            tmp_path / "q.geojson",
            [district_feature("W", rectangle(2.30, 48.80, 2.31, 48.81), population=100)],
        ),
        level="quartier",
        population_field="population",
        attribution="Ville de Paris",
        licence="ODbL",
    )


def licences(body) -> dict[str, str]:
    return {link["title"]: link["href"] for link in body["links"] if link["rel"] == "license"}


def test_without_imported_devices_only_contributors_are_credited(client):
    pin(client, 2.305, 48.805)
    tilejson = client.get("/tiles/devices.json").get_json()
    assert "Vigie contributors" in tilejson["attribution"] and OSM not in tilejson["attribution"]
    assert licences(client.get("/api/v1/devices").get_json()) == {
        "Vigie contributors (ODbL 1.0)": ODBL
    }


def test_tilejson_credits_openstreetmap_with_links(client, imported):
    attribution = client.get("/tiles/devices.json").get_json()["attribution"]
    assert '<a href="https://www.openstreetmap.org/copyright">© OpenStreetMap contributors</a>' in (
        attribution
    )
    assert f'(<a href="{ODBL}">ODbL 1.0</a>)' in attribution


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/devices",
        "/api/v1/devices?cluster=true&zoom=10&bbox=2.2,48.7,2.4,48.9",
        "/ogc/collections/devices",
        "/ogc/collections/devices/items",
        "/api/v1/views?bbox=2.2,48.7,2.4,48.9",  # cones drawn from the devices' data
        "/api/v1/sync",  # what phones keep of them
    ],
)
def test_listings_and_collections_link_every_licence(client, imported, url):
    body = client.get(url).get_json()
    assert licences(body) == {
        "Vigie contributors (ODbL 1.0)": ODBL,
        "© OpenStreetMap contributors (ODbL 1.0)": ODBL,
    }


def test_a_cameras_cone_names_its_sources_in_headers(client, imported, db):
    camera = db("SELECT id FROM devices WHERE osm_id = 42").scalar_one()
    response = client.get(f"/api/v1/devices/{camera}/view")
    assert response.status_code == 200
    assert OSM in response.headers["X-Attribution"]
    assert f'<{ODBL}>; rel="license"' in response.headers.getlist("Link")


class NoSecondStatement:
    def one_or_none(self, **_):
        raise AssertionError("the credit was asked in a statement of its own")


def test_a_device_read_alone_names_its_own_sources(client, imported, db, monkeypatch):
    """One from OpenStreetMap credits its contributors, as the listings holding it do, told
    by its row (no statement of its own); one pinned here is Vigie's, as the API says."""
    monkeypatch.setattr("service.api.credits.HAS_OPENSTREETMAP_DEVICES", NoSecondStatement())
    from_osm = db("SELECT id FROM devices WHERE osm_id = 42").scalar_one()
    pinned = pin(client)["id"]
    osm = client.get(f"/api/v1/devices/{from_osm}")
    assert osm.status_code == 200
    assert osm.headers["X-Attribution"] == "Vigie contributors; (c) OpenStreetMap contributors"
    assert osm.headers["X-Licence"] == "ODbL 1.0"
    assert osm.headers.getlist("Link") == [f'<{ODBL}>; rel="license"']
    assert "X-Attribution" not in client.get(f"/api/v1/devices/{pinned}").headers


def test_an_ogc_feature_links_the_licences_of_its_collection(client, imported, db):
    """Read alone, as its pages link them (it linked only itself and its collection)."""
    camera = db("SELECT id FROM devices WHERE osm_id = 42").scalar_one()
    body = client.get(f"/ogc/collections/devices/items/{camera}").get_json()
    assert licences(body) == {
        "Vigie contributors (ODbL 1.0)": ODBL,
        "© OpenStreetMap contributors (ODbL 1.0)": ODBL,
    }


@pytest.mark.parametrize("with_import", [False, True])
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/devices",
        "/api/v1/devices?bbox=10,10,10.1,10.1",  # an empty page owes the credit too
        "/ogc/collections/devices/items",
    ],
)
def test_pages_learn_the_credit_from_their_own_statement(client, db, monkeypatch, url, with_import):
    """A page of devices asks in its own statement whether OpenStreetMap is to be credited:
    a second statement cost every page a second wait on the database."""
    pin(client, 2.306, 48.806)
    if with_import:
        db(
            "INSERT INTO devices (id, geom, kind, osm_id) VALUES "
            "(gen_random_uuid(), ST_SetSRID(ST_MakePoint(2.305, 48.805), 4326), 'camera', 7)"
        )
    monkeypatch.setattr("service.api.credits.HAS_OPENSTREETMAP_DEVICES", NoSecondStatement())
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    credited = licences(response.get_json())
    assert ("© OpenStreetMap contributors (ODbL 1.0)" in credited) is with_import
    assert "Vigie contributors (ODbL 1.0)" in credited


def test_collections_name_their_sources(client, imported, districts, db):
    # Populations taken from another file, as `flask geodata population --source` records.
    db("UPDATE districts SET population_source = 'INSEE, populations légales 2023'")
    devices = client.get("/ogc/collections/devices").get_json()
    assert devices["attribution"] == (
        "Vigie contributors (ODbL 1.0); © OpenStreetMap contributors (ODbL 1.0)"
    )
    districts = client.get("/ogc/collections/districts").get_json()
    assert "Ville de Paris (ODbL)" in districts["attribution"]
    assert licences(districts)["Ville de Paris (ODbL)"] == ODBL
    # The source of the populations the collection gives, credited as the statistics do.
    statistics = client.get("/api/v1/stats/districts?level=quartier").get_json()["attribution"]
    [population] = [
        credit["attribution"] for credit in statistics if credit["name"] == "population"
    ]
    assert population == "INSEE, populations légales 2023"
    assert population in districts["attribution"].split("; ")


@pytest.mark.parametrize("fmt", ["csv", "json", "geojson"])
def test_statistics_credit_openstreetmap_in_headers_and_body(client, imported, districts, fmt):
    response = client.get(f"/api/v1/stats/districts?level=quartier&f={fmt}")
    assert response.status_code == 200
    assert "(c) OpenStreetMap contributors" in response.headers["X-Attribution"]
    assert f'<{ODBL}>; rel="license"' in response.headers.getlist("Link")
    if fmt != "csv":
        names = [credit["name"] for credit in response.get_json()["attribution"]]
        assert names[-2:] == ["devices", "openstreetmap"]


def test_imported_devices_give_their_openstreetmap_node(client, imported):
    pinned = pin(client, 2.306, 48.806)
    assert pinned["properties"]["osm_id"] is None
    features = client.get("/ogc/collections/devices/items").get_json()["features"]
    assert sorted(f["properties"]["osm_id"] or 0 for f in features) == [0, 42]
    listed = client.get("/api/v1/devices").get_json()["features"]
    assert {f["properties"]["osm_id"] for f in listed} == {None, 42}


def test_every_licence_of_the_catalogue_links_its_text_not_the_data(client):
    """A link rel="license" to a data download would tell nobody the terms."""
    for name, fields in catalogue.load_catalogue().items():
        assert licence_url({"licence": fields["licence"]}), name
