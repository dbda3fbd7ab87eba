"""/api/v1/declared and the OGC collection of declared sites, as a client reads them."""

import mapbox_vector_tile
import schemathesis

from tests.api.test_tiles import MVT, tile_of
from tests.helpers import GEOJSON, PROBLEM
from tests.test_openapi import COMMITTED

from . import LAT, LON, METRE_LAT, add_device, load_sites, site, write_sites


def test_datasets_give_provenance_versions_and_figures(client, db, isolated, tmp_path):
    assert client.get("/api/v1/declared/datasets").get_json() == []
    load_sites(
        isolated, write_sites(tmp_path / "v1.geojson", [site("A"), site("B", n=2)]), count_field="n"
    )
    load_sites(
        isolated,
        write_sites(tmp_path / "v2.geojson", [site("A"), site("C", LON + 0.01, n=2)]),
        count_field="n",
    )
    add_device(db, lat=LAT + 10 * METRE_LAT)
    listing = client.get("/api/v1/declared/datasets")
    (listed,) = listing.get_json()
    one = client.get("/api/v1/declared/datasets/test-list")
    for answer in (listing, one):  # written as every other answer, not as PostgreSQL's json
        assert b" : " not in answer.data and b"\n" not in answer.data
    assert one.status_code == 200 and one.get_json() == listed
    assert (listed["name"], listed["publisher"], listed["version"]) == (
        "test-list",
        "Test prefecture",
        2,
    )
    assert listed["figures"] == {
        "sites": 2,
        "declared_devices": 3,
        "matched": 1,
        "verified": 1,
        "partially_verified": 0,
        "unverified": 1,
    }
    assert [(v["version"], v["added"], v["removed"], v["changed"]) for v in listed["versions"]] == [
        (1, ["A", "B"], [], []),
        (2, ["C"], ["B"], []),
    ]
    assert len(listed["versions"][1]["sha256"]) == 64
    missing = client.get("/api/v1/declared/datasets/nope")
    assert (missing.status_code, missing.mimetype) == (404, PROBLEM)


def test_sites_are_geojson_pages_filtered_by_status_dataset_and_box(client, db, isolated, tmp_path):
    sites = [site(f"S{i}", LON + i * 0.001) for i in range(5)]
    load_sites(isolated, write_sites(tmp_path / "l.geojson", sites))
    device = add_device(db, LON + 0.002, LAT)
    first = client.get("/api/v1/declared/sites?limit=3")
    assert first.mimetype == GEOJSON
    body = first.get_json()
    assert body["numberReturned"] == 3
    after = next(link for link in body["links"] if link["rel"] == "next")["href"]
    rest = client.get(after).get_json()
    ids = [f["id"] for f in body["features"] + rest["features"]]
    assert len(set(ids)) == 5 and rest["numberReturned"] == 2
    verified = client.get("/api/v1/declared/sites?status=verified").get_json()["features"]
    assert [(f["properties"]["source_id"], f["properties"]["devices"]) for f in verified] == [
        ("S2", [device])
    ]
    unverified = client.get("/api/v1/declared/sites?status=unverified&dataset=test-list")
    assert unverified.get_json()["numberReturned"] == 4
    box = f"{LON - 0.0005},{LAT - 0.0005},{LON + 0.0005},{LAT + 0.0005}"
    boxed = client.get(f"/api/v1/declared/sites?bbox={box}").get_json()["features"]
    assert [f["properties"]["source_id"] for f in boxed] == ["S0"]
    assert client.get("/api/v1/declared/sites?dataset=other").status_code == 404
    one = client.get(f"/api/v1/declared/sites/{verified[0]['id']}")
    assert one.status_code == 200 and one.get_json()["properties"]["status"] == "verified"


def test_bad_requests_are_problems(client):
    for url in (
        "/api/v1/declared/sites?status=lost",
        "/api/v1/declared/sites?limit=0",
        "/api/v1/declared/sites?cursor=%21%21",
        "/api/v1/declared/sites?bbox=1,2,3",
        "/api/v1/declared/sites?colour=red",
        "/tiles/declared/14/8298/5636.mvt?kind=drone",
        "/tiles/declared/14/8298/5636.mvt?foo=1",
    ):
        response = client.get(url)
        assert (response.status_code, response.mimetype) == (400, PROBLEM), url
    unknown = client.get("/api/v1/declared/sites?dataset=nosuch")
    assert (unknown.status_code, unknown.mimetype) == (404, PROBLEM)
    assert unknown.get_json()["errors"][0]["field"] == "dataset"
    for url in (
        "/api/v1/declared/sites/5b1d0a8e-0000-4000-8000-000000000000",
        "/api/v1/declared/devices/5b1d0a8e-0000-4000-8000-000000000000",
    ):
        response = client.get(url)
        assert (response.status_code, response.mimetype) == (404, PROBLEM), url


def test_the_ogc_collection_serves_sites_by_status(client, db, isolated, tmp_path):
    load_sites(isolated, write_sites(tmp_path / "l.geojson", [site("A"), site("B", LON + 0.01)]))
    add_device(db, LON + 0.01, LAT)
    items = client.get("/ogc/collections/declared_sites/items?status=unverified").get_json()
    assert [f["properties"]["source_id"] for f in items["features"]] == ["A"]
    cql = client.get("/ogc/collections/declared_sites/items?filter=status='verified'").get_json()
    assert [f["properties"]["source_id"] for f in cql["features"]] == ["B"]
    item = client.get(f"/ogc/collections/declared_sites/items/{items['features'][0]['id']}")
    assert item.status_code == 200 and item.get_json()["properties"]["source_id"] == "A"
    # One list at a time, by its name.
    load_sites(isolated, write_sites(tmp_path / "o.geojson", [site("C")]), name="other-list")
    other = client.get("/ogc/collections/declared_sites/items?dataset=other-list").get_json()
    assert [f["properties"]["source_id"] for f in other["features"]] == ["C"]
    cql = client.get("/ogc/collections/declared_sites/items?filter=dataset='test-list'").get_json()
    assert sorted(f["properties"]["source_id"] for f in cql["features"]) == ["A", "B"]


def test_a_vector_tile_layer_gives_sites_and_their_status(client, db, isolated, tmp_path):
    load_sites(isolated, write_sites(tmp_path / "l.geojson", [site("A"), site("B", LON + 0.001)]))
    device = add_device(db, LON + 0.001, LAT)
    x, y = tile_of(LON, LAT, 15)
    response = client.get(f"/tiles/declared/15/{x}/{y}.mvt")
    assert response.status_code == 200 and response.mimetype == MVT
    layers = mapbox_vector_tile.decode(response.data)
    features = sorted(layers["declared"]["features"], key=lambda f: f["properties"]["source_id"])
    assert [
        (f["properties"]["source_id"], f["properties"]["status"], f["properties"]["matched"])
        for f in features
    ] == [("A", "unverified", 0), ("B", "verified", 1)]
    assert device.encode() not in response.data  # statuses, not who was found
    again = client.get(
        f"/tiles/declared/15/{x}/{y}.mvt", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    assert client.get(f"/tiles/declared/15/{x + 100}/{y}.mvt").status_code == 204
    assert client.get("/tiles/declared/3/9/0.mvt").status_code == 404


def test_the_ogc_schemas_describe_every_site_property_as_the_document_says(
    client, db, isolated, tmp_path
):
    """QGIS and GDAL build a layer's fields from the feature schema: a site's properties are
    each described with their type; the schema documents (JSON when asked so) follow the
    committed OpenAPI document."""
    load_sites(isolated, write_sites(tmp_path / "l.geojson", [site("A", address="1 rue X")]))
    add_device(db)
    base = "/ogc/collections/declared_sites"
    [feature] = client.get(f"{base}/items").get_json()["features"]
    schema = client.get(f"{base}/feature-schema").get_json()
    described = schema["properties"]["properties"]["properties"]
    assert list(described) == list(feature["properties"])
    returnables = client.get(f"{base}/schema").get_json()["properties"]
    types = {"string": str, "integer": int, "number": (int, float), "array": list, "object": dict}
    for name, value in feature["properties"].items():
        assert returnables[name] == described[name]
        if value is not None:
            assert isinstance(value, types[described[name]["type"]]), name
    document = schemathesis.openapi.from_path(COMMITTED)
    for path in ("feature-schema", "schema", "queryables"):
        for query in ("", "?f=json"):
            response = client.get(f"{base}/{path}{query}")
            assert response.status_code == 200
            document[f"/ogc/collections/{{collection_id}}/{path}"]["GET"].validate_response(
                response
            )
